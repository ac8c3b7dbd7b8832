"""LoRA fine-tuning on the classifier's own prompt, saved adapters, and the zero-shot vs fine-tuned comparison.

Three rules keep the comparison honest:

* The supervised token is the scored token. Training examples come from `ZeroShotClassifier.training_example`
  (prompt + label token, loss only on that token), so the model learns exactly the next-token score that
  `predict_proba` reads. (The seed trained on one token and scored another.)
* Training sees the same positions and context as scoring. The prompt prefix shared by every example (chat
  template and instruction) runs once per batch and its key/value cache is repeated for each row; the rest is
  padded per batch to the longest tweet (never to 512). `label_loss` (and training where a cache cannot be
  shared, e.g. with gradient checkpointing under 4-bit) uses the scorer's own layout instead: left padding with
  position ids from the mask, as in `ZeroShotClassifier.label_logits_from_ids`.
* The zero-shot model stays untouched. `get_peft_model` injects LoRA layers into the shared model object in
  place; the zero-shot classifier turns them all off when it runs, and each fine-tuned classifier turns on only
  its own adapter. Fine-tuning twice, or loading a saved adapter next to a trained one, adds another adapter
  under a new name instead of overwriting the first.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .classifier import PromptTemplate, ZeroShotClassifier, _has_adapter, _lora_layers
from .data import LABEL_SPACES
from .io import atomic_dir, atomic_write_json, save_figure, to_jsonable

__all__ = ["FineTuneResult", "FineTunedClassifier", "AdapterMismatchError", "fine_tune", "label_loss",
           "save_adapter", "load_adapter", "run_finetune_stage", "plot_loss_curve", "default_target_modules",
           "ADAPTER_METADATA"]

#: The metadata file `save_adapter` writes beside peft's adapter files.
ADAPTER_METADATA = "interp_kit_adapter.json"
_FORMAT = 1

# LoRA on all attention projections: for classification this adapts better than peft's q/v-only defaults.
_ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
_TARGETS = {
    **{t: _ATTENTION for t in ("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma",
                               "gemma2", "gemma3", "gemma3_text", "olmo", "olmo2", "granite", "smollm3", "cohere")},
    "phi3": ("qkv_proj", "o_proj"),
    "phi": ("q_proj", "k_proj", "v_proj", "dense"),
    "gpt2": ("c_attn", "c_proj"),
    "gpt_neox": ("query_key_value", "dense"),
    "falcon": ("query_key_value", "dense"),
}
# peft warns when a model already carrying LoRA layers gets another adapter; here that is the design.
_MULTI_ADAPTER_WARNINGS = (r".*modify a model with PEFT for a second time.*", r".*Already found a `peft_config`.*",
                           r".*is_gradient_checkpointing.*")


class AdapterMismatchError(ValueError):
    """A saved adapter does not fit the classifier (another base model, other label words or label tokens)."""


def default_target_modules(model) -> list[str] | None:
    """The modules LoRA adapts for this architecture (attention projections), or None for peft's own defaults."""
    config = getattr(_base_of(model), "config", None)
    targets = _TARGETS.get(getattr(config, "model_type", None))
    return list(targets) if targets else None


# ---- the fine-tuned classifier ----------------------------------------------------------------------------------
class FineTunedClassifier(ZeroShotClassifier):
    """A ZeroShotClassifier over a PeftModel that runs with its own LoRA adapter on, and every other one off.

    It shares tokenizer, prompt template and label words with the zero-shot classifier it came from, so both
    score the same token after the same prompt; only the adapter differs.
    """

    def __init__(self, peft_model, tokenizer, label_names, label_words=None, template: PromptTemplate | None = None,
                 *, adapter_name: str, training_settings: dict | None = None, max_tweet_tokens: int = 256):
        super().__init__(peft_model, tokenizer, label_names, label_words, template, use_adapter=True,
                         max_tweet_tokens=max_tweet_tokens)
        self.adapter_name = adapter_name
        self.training_settings = dict(training_settings or {})

    def model_context(self):
        return _only_adapter(self.model, self.adapter_name)

    def __repr__(self) -> str:
        return (f"FineTunedClassifier(LoRA adapter {self.adapter_name!r}, model={self.base_model_id!r}, "
                f"labels={list(self.label_names)}, label tokens={list(self.label_token_ids)})")


@dataclass
class FineTuneResult:
    """What `fine_tune` returns: the fine-tuned classifier and how the training went."""

    classifier: FineTunedClassifier
    losses: list[float]  # mean label-token loss of each optimizer step
    seconds: float
    examples_per_second: float
    peak_memory_mb: float | None  # CUDA: peak allocated during training; CPU: the process's peak RSS
    settings: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        first, last = (f"{self.losses[0]:.3f}", f"{self.losses[-1]:.3f}") if self.losses else ("-", "-")
        return (f"FineTuneResult({len(self.losses)} steps, loss {first} -> {last}, {self.seconds:.1f}s, "
                f"{self.examples_per_second:.1f} examples/s, adapter {self.classifier.adapter_name!r})")


# ---- batches and the loss -----------------------------------------------------------------------------------------
def _collate(examples: list[tuple[list[int], list[int]]], pad_id: int, device) -> dict:
    """Left pad (input_ids, labels) pairs to the batch's longest, with position ids from the mask (as in scoring)."""
    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full_like(input_ids, -100)
    mask = torch.zeros_like(input_ids)
    for i, (ids, lab) in enumerate(examples):
        input_ids[i, width - len(ids):] = torch.tensor(ids)
        labels[i, width - len(lab):] = torch.tensor(lab)
        mask[i, width - len(ids):] = 1
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    return {k: v.to(device) for k, v in
            dict(input_ids=input_ids, attention_mask=mask, position_ids=position_ids, labels=labels).items()}


def _loss(model, batch: dict) -> torch.Tensor:
    """Causal-LM cross-entropy (logits at t predict token t+1), mean over the tokens whose label is not -100.

    Only the logits from the column before the first supervised one are computed (`logits_to_keep`): with left
    padding that is the last prompt position, so the whole-vocabulary logits are never built for every token.
    """
    labels = batch["labels"]
    columns = (labels != -100).any(0).nonzero()
    if len(columns) == 0 or int(columns[0]) == 0:
        raise ValueError("A training batch needs a supervised token after at least one prompt token.")
    first = int(columns[0])
    keep = labels.shape[1] - first + 1
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                   position_ids=batch["position_ids"], logits_to_keep=keep, use_cache=False).logits
    shifted = logits[:, :-1, :].float()
    return F.cross_entropy(shifted.reshape(-1, shifted.shape[-1]), labels[:, first:].reshape(-1), ignore_index=-100)


class _NoSharedPrefix(Exception):
    """The model's cache cannot be repeated per row; train with the full prompt in every row instead."""


def _shared_prefix_loss(model, prefix_ids: list[int], examples, pad_id: int, device) -> torch.Tensor:
    """The same loss as `_loss` with the prompt prefix run once per batch instead of once per example.

    Every example starts with the classifier's fixed prefix (chat template and instruction, about half the
    tokens). It is encoded once, with gradients, and its key/value cache is repeated for each row; the rest
    (tweet, suffix, label token) follows at positions prefix_len, prefix_len + 1, ... and is right padded, so
    every real token sees exactly the positions and context it has when scored.
    """
    n_prefix = len(prefix_ids)
    rest = []
    for ids, lab in examples:
        if list(ids[:n_prefix]) != list(prefix_ids):
            raise ValueError("A training example does not start with the classifier's prompt prefix.")
        rest.append((ids[n_prefix:], lab[n_prefix:]))
    n, width = len(rest), max(len(ids) for ids, _ in rest)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    labels = torch.full_like(input_ids, -100)
    mask = torch.zeros(n, n_prefix + width, dtype=torch.long)
    mask[:, :n_prefix] = 1
    for i, (ids, lab) in enumerate(rest):
        input_ids[i, :len(ids)] = torch.tensor(ids)
        labels[i, :len(lab)] = torch.tensor(lab)
        mask[i, n_prefix:n_prefix + len(ids)] = 1
    rows, cols = (labels != -100).nonzero(as_tuple=True)
    if len(cols) == 0 or int(cols.min()) == 0:
        raise ValueError("A training example needs its supervised token after the tweet.")
    keep = torch.unique(cols - 1)  # logits only where a supervised token is predicted
    cache = model(input_ids=torch.tensor([list(prefix_ids)], device=device), use_cache=True).past_key_values
    if not hasattr(cache, "batch_repeat_interleave"):
        raise _NoSharedPrefix(type(cache).__name__)
    cache.batch_repeat_interleave(n)
    position_ids = (n_prefix + torch.arange(width)).unsqueeze(0).expand(n, -1)
    logits = model(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                   position_ids=position_ids.to(device), past_key_values=cache, use_cache=True,
                   logits_to_keep=keep.to(device)).logits
    picked = logits[rows.to(device), torch.searchsorted(keep, cols - 1).to(device)].float()
    return F.cross_entropy(picked, labels[rows, cols].to(device))


def _examples(classifier: ZeroShotClassifier, tweets) -> list[tuple[list[int], list[int]]]:
    if tuple(tweets.label_names) != tuple(classifier.label_names):
        raise ValueError(f"Data labels {tuple(tweets.label_names)} differ from the classifier's "
                         f"{classifier.label_names}; load the tweets with the classifier's label space.")
    if len(tweets.texts) == 0:
        raise ValueError("No tweets to train on.")
    return [classifier.training_example(t, lab) for t, lab in zip(tweets.texts, tweets.labels)]


def label_loss(classifier: ZeroShotClassifier, tweets, batch_size: int = 16) -> float:
    """Mean label-token cross-entropy of `classifier` on `tweets`: the quantity `fine_tune` minimises."""
    examples = _examples(classifier, tweets)
    total = 0.0
    with torch.inference_mode(), classifier.model_context():
        for start in range(0, len(examples), batch_size):
            chunk = examples[start:start + batch_size]
            batch = _collate(chunk, classifier.tokenizer.pad_token_id, classifier.device)
            total += float(_loss(classifier.model, batch)) * len(chunk)
    return total / len(examples)


# ---- adapters in a shared model ----------------------------------------------------------------------------------
def _base_of(model):
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


@contextmanager
def _only_adapter(model, adapter_name: str):
    """Run with `adapter_name` active in every LoRA layer (layers without it run their base weights)."""
    layers = _lora_layers(model)
    before = [(m._active_adapter, m._disable_adapters) for m in layers]
    for m in layers:
        # peft's own set_adapter would also flip requires_grad; only the routing is changed here
        m._active_adapter, m._disable_adapters = [adapter_name], False
    try:
        yield
    finally:
        for m, (active, disabled) in zip(layers, before):
            m._active_adapter, m._disable_adapters = active, disabled


def _new_adapter_name(base) -> str:
    taken = set(getattr(base, "peft_config", {}) or {})
    for layer in _lora_layers(base):
        taken.update(getattr(layer, "lora_A", {}).keys())
    i = 1
    while f"interp_kit_{i}" in taken:
        i += 1
    return f"interp_kit_{i}"


@contextmanager
def _quiet_peft():
    with warnings.catch_warnings():
        for pattern in _MULTI_ADAPTER_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        yield


def _is_4bit(model) -> bool:
    base = _base_of(model)
    if getattr(base, "is_loaded_in_4bit", False):
        return True
    qc = getattr(getattr(base, "config", None), "quantization_config", None)
    if qc is not None and (getattr(qc, "load_in_4bit", False) or (isinstance(qc, dict) and qc.get("load_in_4bit"))):
        return True
    return any(type(m).__name__ == "Linear4bit" for m in base.modules())


@contextmanager
def _grad_flags_kept(base):
    """Put back the base weights' requires_grad flags, which peft clears when it wraps the model.

    The flag is not cosmetic: PyTorch's matmul folds a 3-d input differently when the weight requires grad, so
    a frozen lm_head gives label logits that differ in the last bits. Restoring it keeps zero-shot scores exact.
    """
    flags = [(p, p.requires_grad) for p in base.parameters()]
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


@contextmanager
def _kbit_training(base):
    """`prepare_model_for_kbit_training` for the duration of training, then undo what touches the base model.

    It upcasts the non-quantized weights (norms, embeddings) to fp32 and turns on gradient checkpointing; both
    are put back afterwards (fp16/bf16 -> fp32 -> back is exact), so the zero-shot scores stay bit-identical.
    """
    from peft import prepare_model_for_kbit_training

    dtypes = [(p, p.dtype) for p in base.parameters()]
    prepare_model_for_kbit_training(base, use_gradient_checkpointing=True,
                                    gradient_checkpointing_kwargs={"use_reentrant": False})
    try:
        yield
    finally:
        for p, dtype in dtypes:
            if p.dtype != dtype:
                p.data = p.data.to(dtype)
        if getattr(base, "is_gradient_checkpointing", False):
            base.gradient_checkpointing_disable()
        try:
            base.disable_input_require_grads()
        except Exception:  # nothing registered (older transformers or reentrant=False path)
            pass


def _precision(device: torch.device, base_dtype: torch.dtype):
    """(autocast dtype or None, GradScaler or None, description). bf16 where supported, fp16 + scaler on T4-class."""
    if device.type != "cuda":
        return None, None, f"{str(base_dtype).replace('torch.', '')} (no autocast on {device.type})"
    if torch.cuda.is_bf16_supported() and base_dtype != torch.float16:
        return torch.bfloat16, None, "bf16 autocast"
    return torch.float16, torch.amp.GradScaler("cuda"), "fp16 autocast + GradScaler"


def _compute_dtype(base, kbit: bool) -> torch.dtype:
    """The dtype the model computes in: the 4-bit layers' compute dtype, else the weights' dtype."""
    if kbit:
        qc = getattr(base.config, "quantization_config", None)
        compute = qc.get("bnb_4bit_compute_dtype") if isinstance(qc, dict) else \
            getattr(qc, "bnb_4bit_compute_dtype", None)
        if isinstance(compute, str):
            compute = getattr(torch, compute.replace("torch.", ""), None)
        return compute if isinstance(compute, torch.dtype) else torch.float16
    return next(base.parameters()).dtype


def _peak_memory_mb(device: torch.device) -> float | None:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource
    except ImportError:  # Windows
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB on Linux


# ---- fine-tuning ---------------------------------------------------------------------------------------------------
def fine_tune(classifier: ZeroShotClassifier, tweets, *, epochs: int = 1, lr: float = 2e-4, batch_size: int = 8,
              grad_accum: int = 1, r: int = 8, alpha: int = 16, dropout: float = 0.05,
              target_modules: list[str] | None = None, seed: int = 0, progress: bool = True,
              max_steps: int | None = None, weight_decay: float = 0.0, max_grad_norm: float | None = 1.0,
              schedule: str = "linear") -> FineTuneResult:
    """Train a LoRA adapter so the classifier's label token gets the gold label; return the fine-tuned classifier.

    The zero-shot `classifier` keeps scoring the untouched base model: its model object gains LoRA layers, which
    it turns off whenever it runs.

    Args:
        classifier: the zero-shot classifier; its prompt, label words and tokenizer are reused unchanged.
        tweets: a `Tweets` set with the classifier's label names.
        epochs, lr, batch_size, grad_accum: optimisation (AdamW over the adapter's weights; an optimizer step
            every `grad_accum` batches, so the effective batch is batch_size * grad_accum).
        r, alpha, dropout, target_modules: the LoRA adapter; target_modules defaults to the attention
            projections of the architecture (`default_target_modules`), else peft's defaults.
        seed: seeds the adapter's initialisation, dropout and the shuffling.
        progress: show a progress bar with the running loss.
        max_steps: stop after this many optimizer steps (e.g. for a quick check).
        schedule: "linear" (decay to 0 over the run) or "constant" learning rate.
    """
    from peft import LoraConfig, PeftModel, get_peft_model

    if isinstance(classifier, FineTunedClassifier) or (classifier.use_adapter and _has_adapter(classifier.model)):
        raise ValueError("This classifier is already fine-tuned; pass the zero-shot classifier "
                         "(fine_tune always trains a fresh adapter on the base model).")
    if schedule not in {"linear", "constant"}:
        raise ValueError(f"Unknown schedule '{schedule}'; use 'linear' or 'constant'.")
    if epochs < 1 or batch_size < 1 or grad_accum < 1:
        raise ValueError("epochs, batch_size and grad_accum must be at least 1.")
    examples = _examples(classifier, tweets)
    base = _base_of(classifier.model)
    device = classifier.device
    kbit = _is_4bit(base)
    targets = list(target_modules) if target_modules is not None else default_target_modules(base)
    name = _new_adapter_name(base)
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=targets, bias="none",
                        task_type="CAUSAL_LM")

    # the optimizer steps: seeded shuffles, batch_size examples per batch, grad_accum batches per step
    generator = torch.Generator().manual_seed(seed)
    batches = [order[i:i + batch_size].tolist() for _ in range(epochs)
               for order in [torch.randperm(len(examples), generator=generator)]
               for i in range(0, len(examples), batch_size)]
    steps = [batches[i:i + grad_accum] for i in range(0, len(batches), grad_accum)]
    if max_steps is not None:
        steps = steps[:max_steps]

    torch.manual_seed(seed)  # the adapter's initialisation and dropout
    if device.type == "cuda":
        torch.cuda.manual_seed_all(seed)
        torch.cuda.reset_peak_memory_stats(device)
    losses: list[float] = []
    was_training = base.training
    with _grad_flags_kept(base), (_kbit_training(base) if kbit else nullcontext()):
        with _quiet_peft():
            if isinstance(classifier.model, PeftModel):
                peft_model = classifier.model
                peft_model.add_adapter(name, config)
            else:
                try:
                    peft_model = get_peft_model(base, config, adapter_name=name)
                except ValueError as exc:
                    if target_modules is None and "target_modules" in str(exc):
                        raise ValueError(f"peft has no default LoRA target modules for this architecture "
                                         f"('{getattr(base.config, 'model_type', '?')}'); pass target_modules=[...] "
                                         "(the attention projection layers' names).") from exc
                    raise
        params = []
        for pname, p in peft_model.named_parameters():
            p.requires_grad_(f".{name}." in pname and "lora_" in pname)
            if p.requires_grad:
                params.append(p)
        if not params:
            raise RuntimeError(f"LoRA found no trainable weights for target modules {targets}.")
        optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
        total = len(steps)
        lr_lambda = (lambda s: max(0.0, 1.0 - s / total)) if schedule == "linear" else (lambda s: 1.0)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
        amp_dtype, scaler, precision = _precision(device, _compute_dtype(base, kbit))
        pad_id = classifier.tokenizer.pad_token_id
        # gradient checkpointing (the 4-bit path) turns the cache off, so there every batch runs the whole prompt
        share_prefix = not kbit and len(classifier.prefix_ids) > 0

        def batch_loss(idx):
            nonlocal share_prefix
            chunk = [examples[i] for i in idx]
            if share_prefix:
                try:
                    return _shared_prefix_loss(peft_model, classifier.prefix_ids, chunk, pad_id, device)
                except _NoSharedPrefix:
                    share_prefix = False
            return _loss(peft_model, _collate(chunk, pad_id, device))

        bar = tqdm(total=total, desc="fine-tuning", unit="step", disable=not progress)
        seen = 0
        t0 = time.perf_counter()
        try:
            peft_model.train()
            with torch.enable_grad(), _only_adapter(peft_model, name):
                for step in steps:
                    n_step = sum(len(b) for b in step)
                    step_loss = 0.0
                    for idx in step:
                        with (torch.autocast(device.type, dtype=amp_dtype) if amp_dtype else nullcontext()):
                            loss = batch_loss(idx)
                        # weight each batch by its share of the step's examples: a short last batch counts less
                        weighted = loss * (len(idx) / n_step)
                        (scaler.scale(weighted) if scaler else weighted).backward()
                        step_loss += float(loss.detach()) * len(idx) / n_step
                    if scaler:
                        scaler.unscale_(optimizer)
                    if max_grad_norm:
                        torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
                    if scaler:
                        scaler.step(optimizer)
                        scaler.update()
                    else:
                        optimizer.step()
                    optimizer.zero_grad(set_to_none=True)
                    scheduler.step()
                    if not math.isfinite(step_loss):
                        raise FloatingPointError(f"The loss became {step_loss} at step {len(losses) + 1}; "
                                                 "try a lower lr.")
                    losses.append(step_loss)
                    seen += n_step
                    bar.update(1)
                    bar.set_postfix(loss=f"{sum(losses[-10:]) / len(losses[-10:]):.4f}")
        finally:
            bar.close()
            peft_model.train(was_training)
            base.train(was_training)
            for p in params:
                p.requires_grad_(False)
                p.grad = None
    seconds = time.perf_counter() - t0
    settings = dict(epochs=epochs, lr=lr, batch_size=batch_size, grad_accum=grad_accum, r=r, alpha=alpha,
                    dropout=dropout, target_modules=targets, seed=seed, max_steps=max_steps,
                    weight_decay=weight_decay, max_grad_norm=max_grad_norm, schedule=schedule, steps=len(losses),
                    shared_prefix=share_prefix, n_train=len(examples), label_names=list(classifier.label_names),
                    precision=precision, load_in_4bit=kbit, device=device.type,
                    base_model_id=classifier.base_model_id, adapter_name=name)
    fine_tuned = FineTunedClassifier(peft_model, classifier.tokenizer, classifier.label_names, classifier.label_words,
                                     classifier.template, adapter_name=name, training_settings=settings,
                                     max_tweet_tokens=classifier.max_tweet_tokens)
    # same tokenizer, template and label words: the scored token is the trained token
    assert fine_tuned.label_token_ids == classifier.label_token_ids and fine_tuned.prefix_ids == classifier.prefix_ids
    return FineTuneResult(classifier=fine_tuned, losses=losses, seconds=seconds,
                          examples_per_second=seen / seconds if seconds > 0 else float("nan"),
                          peak_memory_mb=_peak_memory_mb(device), settings=settings)


# ---- saving and loading adapters -------------------------------------------------------------------------------------
def _label_space(label_names) -> str | None:
    return next((k for k, v in LABEL_SPACES.items() if tuple(v) == tuple(label_names)), None)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("interp_kit", "torch", "transformers", "peft"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _summary_metrics(metrics: dict | None) -> dict | None:
    """Metrics without the per-example lists (predictions, probabilities), which belong in the results files."""
    if metrics is None:
        return None
    return to_jsonable({k: v for k, v in metrics.items() if k not in {"predictions", "probabilities"}})


def save_adapter(result_or_classifier, path: str | Path, metrics: dict | None = None) -> Path:
    """Save the LoRA adapter (peft format) and `interp_kit_adapter.json` into `path`, atomically.

    The metadata records the base model id, prompt template, label words and their token ids, label space,
    training settings, metrics and library versions, so `load_adapter` can refuse a mismatched classifier.
    The folder is written under a temporary name and renamed into place: an interrupted save leaves nothing.
    """
    clf = getattr(result_or_classifier, "classifier", result_or_classifier)
    if not isinstance(clf, FineTunedClassifier):
        raise TypeError("save_adapter needs a FineTuneResult or a fine-tuned classifier (from fine_tune or "
                        f"load_adapter), got {type(result_or_classifier).__name__}.")
    path = Path(path)
    meta = {
        "format": _FORMAT,
        "base_model_id": clf.base_model_id,
        "template": asdict(clf.template),
        "prompt_prefix": clf.prompt_prefix,
        "prompt_suffix": clf.prompt_suffix,
        "label_names": list(clf.label_names),
        "label_words": list(clf.label_words),
        "label_token_ids": list(clf.label_token_ids),
        "label_tokens": [clf.tokenizer.decode([t]) for t in clf.label_token_ids],
        "label_space": _label_space(clf.label_names),
        "max_tweet_tokens": clf.max_tweet_tokens,
        "training": clf.training_settings,
        "metrics": _summary_metrics(metrics),
        "versions": _versions(),
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    with atomic_dir(path) as tmp:
        clf.model.save_pretrained(str(tmp), selected_adapters=[clf.adapter_name])
        nested = tmp / clf.adapter_name  # peft puts any adapter not named "default" in a subfolder
        if nested.is_dir():
            for item in nested.iterdir():
                os.replace(item, tmp / item.name)
            nested.rmdir()
        atomic_write_json(tmp / ADAPTER_METADATA, meta)
    return path


def _mismatch(what: str, saved, current, path: Path, advice: str) -> AdapterMismatchError:
    return AdapterMismatchError(f"The adapter in '{path}' was trained with {what} {saved!r}, but this classifier "
                                f"has {what} {current!r}. {advice}")


def load_adapter(classifier: ZeroShotClassifier, path: str | Path) -> FineTunedClassifier:
    """Load an adapter saved by `save_adapter` onto the classifier's base model; return the fine-tuned classifier.

    The base model id, label names, label words and label token ids must match the classifier's (else
    `AdapterMismatchError`). The fine-tuned classifier uses the prompt template the adapter was trained with.
    The given classifier keeps scoring the base model.
    """
    from peft import PeftModel

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"No adapter folder at '{path}'.")
    meta_path = path / ADAPTER_METADATA
    if not meta_path.exists():
        found = sorted(p.name for p in path.iterdir())
        raise FileNotFoundError(f"'{path}' has no {ADAPTER_METADATA}, so its base model and label words cannot be "
                                f"checked (found: {found}). Save adapters with interp_kit.save_adapter.")
    meta = json.loads(meta_path.read_text())
    if meta.get("format", 0) > _FORMAT:
        raise ValueError(f"'{path}' was saved by a newer interp_kit (format {meta.get('format')}); upgrade interp_kit.")
    current = classifier.base_model_id
    if meta.get("base_model_id") != current:
        raise _mismatch("base model", meta.get("base_model_id"), current, path,
                        f"Load the adapter onto a classifier over load_model({meta.get('base_model_id')!r}).")
    for what, attr in (("label names", "label_names"), ("label words", "label_words"),
                       ("label token ids", "label_token_ids")):
        saved, mine = tuple(meta.get(attr) or ()), tuple(getattr(classifier, attr))
        if saved != mine:
            raise _mismatch(what, list(saved), list(mine), path,
                            "Build the classifier with the label names and label words the adapter was trained on.")
    template = PromptTemplate(**meta["template"]) if meta.get("template") else classifier.template
    if template != classifier.template:
        warnings.warn(f"The adapter in '{path}' was trained with another prompt template than this classifier's; "
                      "the fine-tuned classifier uses the adapter's own template.", stacklevel=2)
    base = _base_of(classifier.model)
    name = _new_adapter_name(base)
    with _grad_flags_kept(base), _quiet_peft():
        peft_model = PeftModel.from_pretrained(base, str(path), adapter_name=name, is_trainable=False)
    peft_model.eval()
    for pname, p in peft_model.named_parameters():
        if "lora_" in pname:
            p.requires_grad_(False)
    fine_tuned = FineTunedClassifier(peft_model, classifier.tokenizer, classifier.label_names, classifier.label_words,
                                     template, adapter_name=name, training_settings=meta.get("training"),
                                     max_tweet_tokens=meta.get("max_tweet_tokens", classifier.max_tweet_tokens))
    if fine_tuned.label_token_ids != tuple(meta["label_token_ids"]):
        raise _mismatch("label token ids", meta["label_token_ids"], list(fine_tuned.label_token_ids), path,
                        "The tokenizer differs from the one the adapter was trained with.")
    return fine_tuned


# ---- pictures and the CLI stage -------------------------------------------------------------------------------
def plot_loss_curve(result: FineTuneResult, ax=None, window: int = 10):
    """The label-token loss of each optimizer step, with a running mean over `window` steps."""
    from . import plots  # noqa: F401  (picks a headless backend when there is no display)
    import matplotlib.pyplot as plt

    losses = list(result.losses)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.2))
    steps = range(1, len(losses) + 1)
    ax.plot(steps, losses, color="tab:blue", alpha=0.35, lw=1, label="loss per step")
    if losses:
        w = max(1, min(window, len(losses)))
        running = [sum(losses[max(0, i - w + 1):i + 1]) / len(losses[max(0, i - w + 1):i + 1])
                   for i in range(len(losses))]
        ax.plot(steps, running, color="tab:blue", lw=2, label=f"running mean ({w} steps)")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy on the label token")
    s = result.settings
    ax.set_title(f"LoRA fine-tuning: {s.get('n_train', '?')} tweets, {s.get('epochs', '?')} epoch(s), "
                 f"lr {s.get('lr', '?')}", fontsize=10)
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def run_finetune_stage(classifier: ZeroShotClassifier, train_tweets, eval_tweets, output_dir: str | Path,
                       zero_shot_metrics: dict | None, **settings) -> dict:
    """Fine-tune, evaluate on `eval_tweets`, and write the fine-tuning results into `output_dir`.

    Writes `lora_adapter/` (with metadata), `fine_tuned_metrics.json` (metrics, training settings, losses,
    time) and `metrics_comparison.png` (zero-shot vs fine-tuned), each atomically. `settings` go to `fine_tune`.
    Returns {"classifier", "metrics", "result"}.
    """
    import matplotlib.pyplot as plt

    from .metrics import evaluate
    from .plots import plot_metrics_comparison

    output_dir = Path(output_dir)
    result = fine_tune(classifier, train_tweets, **settings)
    metrics = evaluate(result.classifier, eval_tweets, progress=settings.get("progress"))
    training = dict(settings=result.settings, losses=result.losses, seconds=result.seconds,
                    examples_per_second=result.examples_per_second, peak_memory_mb=result.peak_memory_mb)
    save_adapter(result, output_dir / "lora_adapter", metrics=metrics)
    atomic_write_json(output_dir / "fine_tuned_metrics.json", {**metrics, "training": training})
    if zero_shot_metrics is not None:
        fig = plot_metrics_comparison({"zero-shot": zero_shot_metrics, "fine-tuned": metrics})
        save_figure(fig, output_dir / "metrics_comparison.png")
        plt.close(fig)
    return {"classifier": result.classifier, "metrics": metrics, "result": result}
