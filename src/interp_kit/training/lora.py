"""peft plumbing for LoRA on a shared model: target modules, adapter names, 4-bit preparation, precision."""
from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager

import torch

from ..engine import lora_layers

__all__ = ["default_target_modules", "base_of", "new_adapter_name", "quiet_peft", "is_4bit", "grad_flags_kept",
           "kbit_training", "precision", "compute_dtype", "peak_memory_mb"]

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


def default_target_modules(model) -> list[str] | None:
    """The modules LoRA adapts for this architecture (attention projections), or None for peft's own defaults."""
    config = getattr(base_of(model), "config", None)
    targets = _TARGETS.get(getattr(config, "model_type", None))
    return list(targets) if targets else None


def base_of(model):
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def new_adapter_name(base) -> str:
    taken = set(getattr(base, "peft_config", {}) or {})
    for layer in lora_layers(base):
        taken.update(getattr(layer, "lora_A", {}).keys())
    i = 1
    while f"interp_kit_{i}" in taken:
        i += 1
    return f"interp_kit_{i}"


@contextmanager
def quiet_peft():
    with warnings.catch_warnings():
        for pattern in _MULTI_ADAPTER_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        yield


def is_4bit(model) -> bool:
    base = base_of(model)
    if getattr(base, "is_loaded_in_4bit", False):
        return True
    qc = getattr(getattr(base, "config", None), "quantization_config", None)
    if qc is not None and (getattr(qc, "load_in_4bit", False) or (isinstance(qc, dict) and qc.get("load_in_4bit"))):
        return True
    return any(type(m).__name__ == "Linear4bit" for m in base.modules())


@contextmanager
def grad_flags_kept(base):
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
def kbit_training(base):
    """`prepare_model_for_kbit_training` for the duration of training, then undo what touches the base model.

    It upcasts the non-quantized weights (norms, embeddings) to fp32 and turns on gradient checkpointing; both
    are put back afterwards (fp16/bf16 -> fp32 -> back is exact), so the zero-shot scores stay bit-identical.
    """
    from peft import prepare_model_for_kbit_training

    dtypes = [(p, p.dtype) for p in base.parameters()]
    # peft would enable checkpointing through transformers' deprecated gradient_checkpointing_enable; with
    # use_reentrant=False that is all it does, so it is done here through the current name (older: the old one).
    prepare_model_for_kbit_training(base, use_gradient_checkpointing=False)
    enable = getattr(base, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    try:
        yield
    finally:
        for p, dtype in dtypes:
            if p.dtype != dtype:
                p.data = p.data.to(dtype)
        if getattr(base, "activation_checkpointing_disable", None) is not None:
            base.activation_checkpointing_disable()
        else:
            base.gradient_checkpointing_disable()
        try:
            base.disable_input_require_grads()
        except Exception:  # nothing registered (older transformers or reentrant=False path)
            pass


def precision(device: torch.device, base_dtype: torch.dtype):
    """(autocast dtype or None, GradScaler or None, description). bf16 where supported, fp16 + scaler on T4-class."""
    if device.type != "cuda":
        return None, None, f"{str(base_dtype).replace('torch.', '')} (no autocast on {device.type})"
    if torch.cuda.is_bf16_supported() and base_dtype != torch.float16:
        return torch.bfloat16, None, "bf16 autocast"
    return torch.float16, torch.amp.GradScaler("cuda"), "fp16 autocast + GradScaler"


def compute_dtype(base, kbit: bool) -> torch.dtype:
    """The dtype the model computes in: the 4-bit layers' compute dtype, else the weights' dtype."""
    if kbit:
        qc = getattr(base.config, "quantization_config", None)
        compute = qc.get("bnb_4bit_compute_dtype") if isinstance(qc, dict) else \
            getattr(qc, "bnb_4bit_compute_dtype", None)
        if isinstance(compute, str):
            compute = getattr(torch, compute.replace("torch.", ""), None)
        return compute if isinstance(compute, torch.dtype) else torch.float16
    return next(base.parameters()).dtype


def peak_memory_mb(device: torch.device) -> float | None:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource
    except ImportError:  # Windows
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB on Linux


