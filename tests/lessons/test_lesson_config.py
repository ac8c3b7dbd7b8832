"""lesson_config picks an instruction-tuned model for the lessons on every kind of hardware."""
import pytest
import torch


def _runtime(device: str):
    from interp_kit import Runtime

    return Runtime(device=torch.device(device), dtype=torch.float32, load_in_4bit=device == "cuda", seed=0,
                   in_colab=False, in_ci=False, accelerator=device)


@pytest.mark.parametrize("device, token, expected", [
    ("cuda", "hf_" + "x" * 34, "llama-3.2-1b-instruct"),  # GPU with a token: the instruct Llama, not the base
    ("cuda", None, "qwen2.5-0.5b"),
    ("cpu", None, "offline"),
])
def test_lessons_use_instruct_models(monkeypatch, device, token, expected):
    from interp_kit import PRESETS, lesson_config

    monkeypatch.delenv("INTERP_KIT_MODEL", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    if token:
        monkeypatch.setenv("HF_TOKEN", token)
    cfg = lesson_config(_runtime(device), profile="gpu" if device == "cuda" else "cpu")
    assert cfg.model == expected
    assert "instruct" in PRESETS[cfg.model].source.lower()
