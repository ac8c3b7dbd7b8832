"""Named hook points: read and write activations per layer, addressed by prompt part, on the engine's prompts.

Points (l = 0 .. n_layers - 1):
* `resid_pre.l`  - the residual stream entering decoder layer l (`resid_pre.0` is the token embeddings);
* `attn_out.l`   - what layer l's attention adds to the residual stream;
* `mlp_out.l`    - what layer l's MLP adds;
* `resid_post.l` - the residual stream leaving layer l (= resid_pre.l + attn_out.l + mlp_out.l).

Prompt parts are `prefix`, `tweet`, `suffix` and `answer` (the last position, where the label is read). Prompts run
whole and left padded, so every part of every row is computed; `PromptPositions` maps parts to padded columns.
Plain torch forward hooks on the decoder layers, their attention and their MLP: they work the same on a plain
model, a PeftModel (LoRA on or off by the engine's adapter switch) and a 4-bit model.
"""
from __future__ import annotations

import re
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Callable

import torch

from .prompt import PROMPT_PARTS

__all__ = ["HookPoints", "PromptPositions", "Trace", "decoder_layers", "HOOK_KINDS"]

HOOK_KINDS = ("resid_pre", "attn_out", "mlp_out", "resid_post")


def decoder_layers(model) -> torch.nn.ModuleList:
    """The decoder layers of a causal LM (through PeftModel and other wrappers)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = base.get_decoder() if hasattr(base, "get_decoder") else getattr(base, "model", base)
    layers = getattr(inner, "layers", None) or getattr(inner, "h", None)
    if layers is None:
        raise TypeError(f"Cannot find the decoder layers of {type(base).__name__}; hook points need a model with "
                        "`model.layers` (Llama, Qwen, Mistral and most decoder-only models).")
    return layers


@dataclass(frozen=True)
class PromptPositions:
    """Where each prompt part sits in a left-padded batch: row r's part occupies columns `slices[r][part]`."""

    slices: tuple[dict[str, slice], ...]
    width: int

    def columns(self, part: str) -> list[torch.Tensor]:
        """For each row, the padded column indices of `part`."""
        if part not in PROMPT_PARTS:
            raise ValueError(f"Unknown prompt part '{part}'; choose from {PROMPT_PARTS}.")
        return [torch.arange(s[part].start, s[part].stop) for s in self.slices]

    def answer(self) -> torch.Tensor:
        """The answer column of each row (the last position)."""
        return torch.tensor([s["answer"].start for s in self.slices])


@dataclass
class Trace:
    """Activations read during one run: `acts[name]` is (batch, width, d) on the CPU, plus the label logits."""

    acts: dict[str, torch.Tensor]
    positions: PromptPositions
    label_logits: torch.Tensor
    attentions: tuple | None = None

    def at(self, name: str, part: str = "answer"):
        """The activations of `name` at a prompt part: (batch, d) for "answer", else one (length, d) per row."""
        act = self.acts[name]
        if part == "answer":
            return act[torch.arange(act.shape[0]), self.positions.answer()]
        return [act[r, cols] for r, cols in enumerate(self.positions.columns(part))]


class HookPoints:
    """Read and write the activations of an engine's model at named points (see the module docstring)."""

    def __init__(self, engine):
        self.engine = engine
        self.layers = decoder_layers(engine.model)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def names(self) -> list[str]:
        """Every hook point, layer by layer."""
        return [f"{kind}.{layer}" for layer in range(self.n_layers) for kind in HOOK_KINDS]

    def _parse(self, name: str) -> tuple[str, int]:
        m = re.fullmatch(r"(\w+)\.(-?\d+)", name)
        if not m or m.group(1) not in HOOK_KINDS:
            raise ValueError(f"Unknown hook point '{name}'; points are {', '.join(HOOK_KINDS)} followed by .layer "
                             f"(e.g. 'resid_post.3').")
        layer = int(m.group(2))
        if not -self.n_layers <= layer < self.n_layers:
            raise ValueError(f"Layer {layer} is out of range: this model has {self.n_layers} layers "
                             f"(0 .. {self.n_layers - 1}).")
        return m.group(1), layer % self.n_layers

    def _module(self, kind: str, layer: int):
        block = self.layers[layer]
        if kind == "attn_out":
            return block.self_attn
        if kind == "mlp_out":
            return block.mlp
        return block

    def batch(self, tweets: list[list[int]]):
        """Left-padded whole prompts for `tweets` (token id lists): ids, attention mask, position ids, positions."""
        layout = self.engine.layout
        sequences = [layout.prompt_ids(t) for t in tweets]
        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), layout.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        slices = []
        for i, (s, t) in enumerate(zip(sequences, tweets)):
            pad = width - len(s)
            ids[i, pad:] = torch.tensor(s)
            mask[i, pad:] = 1
            slices.append({k: slice(v.start + pad, v.stop + pad) for k, v in layout.parts(len(t)).items()})
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return ids, mask, positions, PromptPositions(tuple(slices), width)

    @contextmanager
    def hooked(self, read=(), write: dict[str, Callable] | None = None, store: dict | None = None,
               positions: PromptPositions | None = None):
        """Install hooks for the duration: `read` points are stored (detached, on CPU) in `store`; each `write`
        function gets (activation (batch, width, d), positions) and returns the activation to use instead."""
        store = {} if store is None else store
        handles = []
        points = {name: self._parse(name) for name in list(read) + list(write or {})}

        def make(name, kind):
            def hook(module, args, kwargs, output):
                if kind == "resid_pre":
                    return None
                act = output[0] if isinstance(output, tuple) else output
                if write and name in write:
                    act = write[name](act, positions)
                if name in read:
                    store[name] = act.detach().float().cpu()
                if write and name in write:
                    return (act,) + tuple(output[1:]) if isinstance(output, tuple) else act
                return None
            return hook

        def make_pre(name):
            def hook(module, args, kwargs):
                hidden = args[0] if args else kwargs["hidden_states"]
                if write and name in write:
                    hidden = write[name](hidden, positions)
                if name in read:
                    store[name] = hidden.detach().float().cpu()
                if write and name in write:
                    if args:
                        return (hidden,) + tuple(args[1:]), kwargs
                    return args, {**kwargs, "hidden_states": hidden}
                return None
            return hook

        try:
            for name, (kind, layer) in points.items():
                module = self._module(kind, layer)
                if kind == "resid_pre":
                    handles.append(module.register_forward_pre_hook(make_pre(name), with_kwargs=True))
                else:
                    handles.append(module.register_forward_hook(make(name, kind), with_kwargs=True))
            yield store
        finally:
            for h in handles:
                h.remove()

    def run(self, tweets: list[list[int]], read=(), write: dict[str, Callable] | None = None,
            attentions: bool = False, grad: bool = False) -> Trace:
        """Run whole prompts with hooks: read and/or write activations, return them with the label logits.

        Args:
            tweets: tweet token id lists (`classifier.tokenize_tweet(text).token_ids`).
            read: hook point names to store.
            write: hook point name -> f(activation, positions) -> new activation (patching, ablation, steering).
            attentions: also return each layer's attention weights (batch, heads, width, width); runs eager
                attention for this call, since fused kernels do not expose the weights.
            grad: keep gradients (for attribution patching); default runs under no_grad.
        """
        if not tweets:
            raise ValueError("No prompts to run: give at least one tweet.")
        eng = self.engine
        ids, mask, pos, positions = self.batch(tweets)
        dev = eng.device
        store: dict = {}
        config = eng.model.config
        stack = ExitStack()
        if attentions:
            stack.enter_context(_eager_attention(config))
        with stack, (torch.enable_grad() if grad else torch.no_grad()), eng.model_context(), \
                self.hooked(read, write, store, positions):
            out = eng.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev),
                            use_cache=False, logits_to_keep=1, output_attentions=attentions)
        logits = out.logits[:, -1, :].float()
        label_logits = logits[:, list(eng.layout.label_token_ids)]
        atts = tuple(a.detach().float().cpu() for a in out.attentions) if attentions else None
        return Trace(store, positions, label_logits if grad else label_logits.cpu(), atts)

    def unembed(self, residual: torch.Tensor) -> torch.Tensor:
        """Label logits read from a residual stream vector through the final norm and the LM head (logit lens)."""
        base = self.engine.model.get_base_model() if hasattr(self.engine.model, "get_base_model") \
            else self.engine.model
        inner = base.get_decoder() if hasattr(base, "get_decoder") else base.model
        head = base.get_output_embeddings()
        rows = list(self.engine.layout.label_token_ids)
        dev = self.engine.device
        with torch.no_grad(), self.engine.model_context():
            normed = inner.norm(residual.to(dev, dtype=head.weight.dtype if head.weight.is_floating_point()
                                            else torch.float32))
            return head(normed)[..., rows].float().cpu()


@contextmanager
def _eager_attention(config):
    """Eager attention for the duration, so the attention weights are returned."""
    before = config._attn_implementation
    config._attn_implementation = "eager"
    try:
        yield
    finally:
        config._attn_implementation = before
