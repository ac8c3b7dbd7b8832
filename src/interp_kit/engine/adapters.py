"""The adapter switch: which LoRA adapter (if any) is on while the engine runs the model."""
from __future__ import annotations

from contextlib import contextmanager, nullcontext

__all__ = ["lora_layers", "has_adapter", "adapter_flags", "adapters_disabled", "only_adapter", "adapter_context"]


def lora_layers(model) -> list:
    """The model's LoRA (peft tuner) layers; none for a plain model or without peft."""
    try:
        from peft.tuners.tuners_utils import BaseTunerLayer
    except ImportError:
        return []
    return [m for m in model.modules() if isinstance(m, BaseTunerLayer)]


def has_adapter(model) -> bool:
    """Whether the model carries LoRA layers (whatever their state)."""
    return bool(lora_layers(model))


def adapter_flags(model) -> tuple:
    """Which adapters each LoRA layer has active and whether it is disabled or merged (empty for a plain model)."""
    return tuple((tuple(m.active_adapters), m.disable_adapters, m.merged) for m in lora_layers(model))


@contextmanager
def adapters_disabled(model):
    """Turn every LoRA layer off for the duration (what PeftModel.disable_adapter does, for any wrapper)."""
    layers = lora_layers(model)
    before = [m._disable_adapters for m in layers]
    for m in layers:
        m._disable_adapters = True
    try:
        yield
    finally:
        for m, flag in zip(layers, before):
            m._disable_adapters = flag


@contextmanager
def only_adapter(model, adapter_name: str):
    """Run with `adapter_name` active in every LoRA layer (layers without it run their base weights)."""
    layers = lora_layers(model)
    before = [(m._active_adapter, m._disable_adapters) for m in layers]
    for m in layers:
        # peft's own set_adapter would also flip requires_grad; only the routing is changed here
        m._active_adapter, m._disable_adapters = [adapter_name], False
    try:
        yield
    finally:
        for m, (active, disabled) in zip(layers, before):
            m._active_adapter, m._disable_adapters = active, disabled


def adapter_context(model, adapter: str | bool | None):
    """The switch for one run: `adapter=None` scores the untouched base model (every LoRA layer off), a name turns on
    exactly that adapter, True runs the adapters as they are set. A plain model runs as it is."""
    if adapter is True or not has_adapter(model):
        return nullcontext()
    return adapters_disabled(model) if adapter is None else only_adapter(model, adapter)
