"""Runtime setup and model loading on the real offline model."""
import time
import warnings

import pytest
import torch

from interp_kit import ModelLoadError, load_model, setup
from interp_kit.runtime import hub_reachable, resolve_hf_token


def test_cpu_runtime_uses_full_precision(runtime, capsys):
    rt = setup(seed=3)
    line = capsys.readouterr().out.splitlines()[0]
    assert rt.device.type == ("cuda" if torch.cuda.is_available() else rt.device.type)
    if rt.device.type == "cpu":
        assert rt.dtype == torch.float32 and not rt.load_in_4bit and rt.quantization_config() is None
    assert "seed=3" in line and "dtype=" in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_4bit_without_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError, match="needs a CUDA GPU.*--no-load-in-4bit"):
        setup(load_in_4bit=True, verbose=False)


def test_seeding_repeats_random_draws():
    setup(seed=7, verbose=False)
    a = torch.rand(3)
    setup(seed=7, verbose=False)
    assert torch.equal(a, torch.rand(3))


def test_token_comes_from_argument_or_env_and_is_never_printed(monkeypatch, capsys):
    secret = "hf_" + "x" * 30
    monkeypatch.setenv("HF_TOKEN", secret)
    assert resolve_hf_token() == secret
    assert resolve_hf_token("hf_other") == "hf_other"
    setup(verbose=True)
    assert secret not in capsys.readouterr().out


def test_offline_model_is_ready_for_scoring(model_and_tokenizer):
    model, tok = model_and_tokenizer
    assert not model.training
    assert tok.padding_side == "left" and tok.pad_token == "<|im_end|>"
    assert tok("hi")["input_ids"][0] != tok.bos_token_id  # SmolLM2 adds no BOS
    assert model.interp_kit_model_id == "offline"


def test_offline_copy_is_made_once_then_reused(runtime, model_and_tokenizer, tmp_path, monkeypatch):
    """In an empty cache the GGUF is converted into an fp32 copy (nothing half-written beside it); a second load
    reuses that copy untouched, and its weights are the session model's."""
    from interp_kit import models

    monkeypatch.setenv("INTERP_KIT_CACHE", str(tmp_path))
    copy = models._offline_fp32_copy()
    assert copy.parent == tmp_path and (copy / "config.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == [copy.name]  # no temporary folders left
    stamps = {p.name: p.stat().st_mtime_ns for p in copy.iterdir()}
    model, _ = load_model("offline", runtime)
    assert {p.name: p.stat().st_mtime_ns for p in copy.iterdir()} == stamps  # reused, not converted again
    shared = dict(model_and_tokenizer[0].named_parameters())
    assert all(torch.equal(p, shared[n]) for n, p in model.named_parameters())


def test_unreachable_hub_names_the_offline_preset(runtime):
    if hub_reachable():
        pytest.skip("the Hugging Face hub is reachable here; this checks the offline error")
    t0 = time.perf_counter()
    with pytest.raises(ModelLoadError, match="offline"):
        load_model("HuggingFaceTB/SmolLM2-360M-Instruct", runtime)
    assert time.perf_counter() - t0 < 15  # one quick check, not minutes of retries


def test_gated_preset_without_token_falls_back_with_a_message(runtime, monkeypatch):
    """The gated preset warns and falls back; the hub is made unreachable so the fallback is never downloaded."""
    from interp_kit import models

    monkeypatch.setattr(models, "hub_reachable", lambda *a, **k: False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ModelLoadError, match="offline"):  # the open fallback needs the hub too
            load_model("llama-3.2-1b", runtime)
    assert any("gated" in str(w.message) and "qwen2.5-0.5b" in str(w.message) for w in caught)


@pytest.mark.network
def test_hub_model_loads_when_online(runtime):
    if not hub_reachable():
        pytest.skip("needs the Hugging Face hub, which cannot be reached from here")
    model, tok = load_model("smollm2-360m", runtime)
    assert tok.padding_side == "left"


def test_colab_without_gpu_gets_advice(monkeypatch, capsys):
    import sys
    import types

    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    rt = setup(seed=0, device="cpu")
    assert rt.in_colab and "Change runtime type > T4 GPU" in capsys.readouterr().out
