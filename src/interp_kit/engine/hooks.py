"""Named hook points: read and write activations per layer, addressed by prompt part, on the engine's prompts.

Points (l = 0 .. n_layers - 1):
* `resid_pre.l`  - the residual stream entering decoder layer l (`resid_pre.0` is the token embeddings);
* `attn_out.l`   - what layer l's attention adds to the residual stream;
* `mlp_out.l`    - what layer l's MLP adds;
* `resid_post.l` - the residual stream leaving layer l (= resid_pre.l + attn_out.l + mlp_out.l).

Prompt parts are `prefix`, `tweet`, `suffix` and `answer` (the last position, where the label is read). By default
prompts run whole and left padded, so every part of every row is computed; `PromptPositions` maps parts to padded
columns. With `share_prefix=True` the instruction's keys/values come from the engine's prefix cache and only the
tweet and suffix are computed (right padded): the prefix is the same in every prompt, so whatever is read or written
after it is unchanged, at a third of the cost on the kit's prompts (patching sweeps and probes use this).
Plain torch forward hooks on the decoder layers, their attention and their MLP: they work the same on a plain
model, a PeftModel (LoRA on or off by the engine's adapter switch) and a 4-bit model. (nnsight is an optional
alternative; it is not installed with the kit and was not measured: plain hooks need no tracing step.)
`past=` continues a kept cache (`return_cache=True`) after some of the tweet's tokens: activation patching runs
only the positions from the patched one on.
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
    """Where each prompt part sits in a padded batch: row r's part occupies columns `slices[r][part]`.

    `prefix_cached` marks a run whose prefix came from the cache (`share_prefix=True`): its columns hold the tweet and
    the suffix only, and the prefix has no columns.
    """

    slices: tuple[dict[str, slice], ...]
    width: int
    prefix_cached: bool = False

    def columns(self, part: str) -> list[torch.Tensor]:
        """For each row, the padded column indices of `part`."""
        if part not in PROMPT_PARTS:
            raise ValueError(f"Unknown prompt part '{part}'; choose from {PROMPT_PARTS}.")
        if part == "prefix" and self.prefix_cached:
            raise ValueError("This run took the prompt prefix from the cache, so it has no prefix activations; run "
                             "with share_prefix=False to read or write the prefix.")
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
    answer_only: bool = False  # acts hold the answer position only: (batch, d)
    cache: object = None  # the run's keys/values (a SharedKV), with return_cache=True

    def at(self, name: str, part: str = "answer"):
        """The activations of `name` at a prompt part: (batch, d) for "answer", else one (length, d) per row."""
        act = self.acts[name]
        if self.answer_only:
            if part != "answer":
                raise ValueError("This run stored the answer position only (answer_only=True); run without it to "
                                 f"read the '{part}' part.")
            return act
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

    def continuation_batch(self, tweets: list[list[int]], past_length: int | None = None):
        """Right-padded tweet + suffix rows after cached keys/values: ids, attention mask (cached part included),
        position ids, positions (columns of the computed continuation only).

        Args:
            past_length: positions already in the cache (default: the prompt prefix); with more, the first
                `past_length - len(prefix)` continuation tokens of every row are taken as cached too.
        """
        layout = self.engine.layout
        p = len(layout.prefix_ids) if past_length is None else int(past_length)
        q = p - len(layout.prefix_ids)
        continuations = [(list(t) + list(layout.suffix_ids))[q:] for t in tweets]
        if q < 0 or any(not c for c in continuations):
            raise ValueError(f"The cache holds {p} positions, but a prompt has no tokens after them to compute.")
        width = max(len(c) for c in continuations)
        ids = torch.full((len(tweets), width), layout.pad_token_id, dtype=torch.long)
        mask = torch.zeros(len(tweets), p + width, dtype=torch.long)
        mask[:, :p] = 1
        slices = []
        for i, (c, t) in enumerate(zip(continuations, tweets)):
            ids[i, :len(c)] = torch.tensor(c)
            mask[i, p:p + len(c)] = 1
            slices.append({k: slice(max(v.start - p, 0), max(v.stop - p, 0)) for k, v in layout.parts(len(t)).items()})
        positions = (p + torch.arange(width)).unsqueeze(0).expand(len(tweets), -1)
        return ids, mask, positions, PromptPositions(tuple(slices), width, prefix_cached=True)

    @contextmanager
    def hooked(self, read=(), write: dict[str, Callable] | None = None, store: dict | None = None,
               positions: PromptPositions | None = None, answer_only: bool = False):
        """Install hooks for the duration: `read` points are stored (detached, on CPU) in `store`; each `write`
        function gets (activation (batch, width, d), positions) and returns the activation to use instead.
        `answer_only` stores each read point at the answer position only, (batch, d)."""
        store = {} if store is None else store
        handles = []
        points = {name: self._parse(name) for name in list(read) + list(write or {})}
        rows = answers = None
        if answer_only:
            if positions is None:
                raise ValueError("answer_only needs the batch's positions.")
            rows, answers = torch.arange(len(positions.slices)), positions.answer()

        def keep(act):
            if answer_only:
                act = act[rows.to(act.device), answers.to(act.device)]
            out = act.detach().float().cpu()
            # a copy, so that a later write (in place, in this or a later layer) cannot change what was read
            return out.clone() if out.data_ptr() == act.data_ptr() else out

        def make(name, kind):
            def hook(module, args, kwargs, output):
                if kind == "resid_pre":
                    return None
                act = output[0] if isinstance(output, tuple) else output
                if write and name in write:
                    act = write[name](act, positions)
                if name in read:
                    store[name] = keep(act)
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
                    store[name] = keep(hidden)
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
            attentions: bool = False, grad: bool = False, share_prefix: bool = False,
            answer_only: bool = False, past=None, return_cache: bool = False) -> Trace:
        """Run prompts with hooks: read and/or write activations, return them with the label logits.

        Args:
            tweets: tweet token id lists (`classifier.tokenize_tweet(text).token_ids`).
            read: hook point names to store.
            write: hook point name -> f(activation, positions) -> new activation (patching, ablation, steering).
            attentions: also return each layer's attention weights (batch, heads, width, width); runs eager
                attention for this call, since fused kernels do not expose the weights.
            grad: keep gradients (for attribution patching); default runs under no_grad.
            share_prefix: take the prompt prefix's keys/values from the engine's cache and compute only the tweet and
                the suffix (right padded); the prefix then cannot be read or written.
            past: with share_prefix, a `SharedKV` of the prefix plus the first few continuation tokens (e.g. a
                corrupted run's `Trace.cache` cropped by `SharedKV.batch(n, length)`'s length): only the tokens after
                it are computed, and columns count from there. Activation patching uses it: a patch at position p
                leaves every position before p unchanged.
            return_cache: keep the run's keys/values (`Trace.cache`, a `SharedKV`; share_prefix only).
            answer_only: store each read point at the answer position only, (batch, d): what probes and the logit
                lens need, without copying whole sequences (off the GPU).
        """
        if not tweets:
            raise ValueError("No prompts to run: give at least one tweet.")
        if (past is not None or return_cache) and not share_prefix:
            raise ValueError("past= and return_cache= continue or keep the cached prompt: use share_prefix=True.")
        if share_prefix and (attentions or grad):
            raise ValueError("share_prefix=True runs the tweet after the cached prefix; attention weights and "
                             "gradients need whole prompts (share_prefix=False).")
        eng = self.engine
        for name in list(read) + list(write or {}):
            self._parse(name)  # a bad name fails before any model work
        dev = eng.device
        if share_prefix:
            kv = eng.prefix_kv() if past is None else past
            ids, mask, pos, positions = self.continuation_batch(tweets, None if past is None else kv.length)
            last = torch.tensor([s["answer"].start for s in positions.slices])
            keep = torch.unique(last)
            extra = {"cache": kv.batch(len(tweets)), "use_cache": True, "logits_to_keep": keep.to(dev)}
        else:
            ids, mask, pos, positions = self.batch(tweets)
            extra = {"use_cache": False, "logits_to_keep": 1, "output_attentions": attentions}
        store: dict = {}
        config = eng.model.config
        stack = ExitStack()
        if attentions:
            stack.enter_context(_eager_attention(config))
        with stack, (torch.enable_grad() if grad else torch.no_grad()), eng.model_context(), \
                self.hooked(read, write, store, positions, answer_only):
            out = eng.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=pos.to(dev), **extra)
        if share_prefix:
            logits = out.logits[torch.arange(len(tweets), device=dev), torch.searchsorted(keep, last).to(dev)].float()
        else:
            logits = out.logits[:, -1, :].float()
        label_logits = logits[:, list(eng.layout.label_token_ids)]
        atts = tuple(a.detach().float().cpu() for a in out.attentions) if attentions else None
        trace = Trace(store, positions, label_logits if grad else label_logits.cpu(), atts, answer_only)
        if return_cache:
            from .cache import SharedKV

            trace.cache = SharedKV(out.cache)
        return trace

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
            if type(head) is torch.nn.Linear:  # only the label words' rows of the head (not the whole vocabulary)
                bias = head.bias[rows] if head.bias is not None else None
                return torch.nn.functional.linear(normed, head.weight[rows], bias).float().cpu()
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
