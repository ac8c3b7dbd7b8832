"""The 4-bit path on the real offline model, quantized to NF4 by bitsandbytes on the CPU.

The kit's `setup()` offers 4-bit only on CUDA (that is where it pays off), but bitsandbytes also quantizes on the
CPU, so the code a CUDA 4-bit run takes — loading with a BitsAndBytesConfig, the engine's hook points on Linear4bit
layers, LoRA fine-tuning through `prepare_model_for_kbit_training`, per-example adapter gradients — runs here.
Only the CUDA kernels themselves are not exercised.
"""
import copy

import numpy as np
import pytest
import torch

from interp_kit import (LabelWordClassifier, Patching, answer_attention, fine_tune, load_model, load_tweets,
                        per_example_grads, randomization_sweep, randomized_classifier, residual_stream)
from interp_kit.runtime import Runtime
from interp_kit.training.lora import is_4bit

bnb = pytest.importorskip("bitsandbytes", reason="needs bitsandbytes (pip install bitsandbytes)")
PAIR = ("I love this movie", "I hate this movie")


@pytest.fixture(scope="module")
def clf4():
    runtime = Runtime(device=torch.device("cpu"), dtype=torch.float32, load_in_4bit=True, seed=0, in_colab=False,
                      in_ci=False, accelerator="CPU")
    model, tokenizer = load_model("offline", runtime)
    return LabelWordClassifier(model, tokenizer, ("negative", "positive"))


def own_ids(clf, texts):
    return [list(clf.tokenize_tweet(t).token_ids) for t in texts]


def test_the_model_is_really_4bit(clf4, clf):
    assert is_4bit(clf4.model)
    assert sum(type(m).__name__ == "Linear4bit" for m in clf4.model.modules()) == 7 * clf4.engine.hooks().n_layers
    texts = ["what a lovely day", "worst service ever, never again"]
    full, nf4 = clf.engine.label_logits(own_ids(clf, texts)), clf4.engine.label_logits(own_ids(clf4, texts))
    assert torch.isfinite(nf4).all() and (full - nf4).abs().max() > 1e-3  # quantization changed the numbers


def test_internals_on_a_4bit_model(clf4):
    texts = ["what a lovely day", "worst service ever, never again"]
    ref = clf4.engine.label_logits(own_ids(clf4, texts))
    stream = residual_stream(clf4, texts)
    np.testing.assert_allclose(clf4.engine.hooks().unembed(stream.acts[:, -1]).numpy(), ref.numpy(), atol=1e-4)
    np.testing.assert_allclose(answer_attention(clf4, texts[0]).weights.sum(-1), 1.0, atol=1e-5)
    setup = Patching(clf4, *PAIR)
    everything = list(range(setup.width))
    assert setup.margins([[("resid_pre.6", everything)]])[0] == pytest.approx(setup.clean_margin, abs=1e-4)
    assert setup.margins([[("mlp_out.6", [])]])[0] == pytest.approx(setup.corrupt_margin, abs=1e-5)


def test_lora_on_a_4bit_model_trains_and_leaves_the_zero_shot_scores(clf4):
    texts = ["what a lovely day", "worst service ever, never again"]
    before = clf4.engine.label_logits(own_ids(clf4, texts))
    train = load_tweets("tweets", split="train", label_space="binary", n=16, seed=5)
    result = fine_tune(clf4, train, max_steps=2, batch_size=8, lr=1e-3, checkpoints=1, progress=False)
    tuned = result.classifier
    assert result.settings["load_in_4bit"] and is_4bit(tuned.model) and len(result.losses) == 2
    assert np.isfinite(result.losses).all()
    assert (tuned.engine.label_logits(own_ids(tuned, texts)) - before).abs().max() > 1e-4  # the adapter acts
    # kbit preparation (fp32 upcasts, gradient checkpointing) is undone: the base model scores exactly as before
    torch.testing.assert_close(clf4.engine.label_logits(own_ids(clf4, texts)), before, atol=0, rtol=0)
    assert not tuned.model.get_base_model().is_activation_checkpointing
    # sanity checks: re-drawing base weights needs full precision, refused before any explanation is computed;
    # re-drawing the adapter alone works on the 4-bit base
    with pytest.raises(ValueError, match="full-precision model.*load_in_4bit=False"):
        randomization_sweep(tuned, texts, methods=("feature_ablation",), n_steps=2, progress=False)
    redrawn = randomized_classifier(tuned, adapter=True)
    after = redrawn.engine.label_logits(own_ids(redrawn, texts))
    assert torch.isfinite(after).all()
    assert (after - tuned.engine.label_logits(own_ids(tuned, texts))).abs().max() > 1e-4
    # per-example adapter gradients through the 4-bit layers: the same as through their dequantized weights (a
    # layer that drops its input gradient would change every layer's gradient below it)
    tweets = train.take(range(3))
    plain = copy.deepcopy(tuned)
    dequantize_4bit_layers(plain.model)
    looped = per_example_grads(tuned, tweets, method="loop")
    assert looped.abs().max() > 1e-3
    assert (looped - per_example_grads(plain, tweets, method="loop")).abs().max() <= 1e-5
    # the batched path equals the loop: one tweet per chunk exactly, in float32; larger chunks round differently in
    # float32 (as in tests/influence), and bitsandbytes has no float64 kernels, so they are compared on the
    # dequantized copy in float64 (inside the same peft 4-bit LoRA layers): only the algorithm can differ there
    one = per_example_grads(tuned, tweets.take([0]), method="hooks", chunk_size=1)
    assert torch.equal(one, looped[:1])
    plain.model.double()
    hooked64, looped64 = per_example_grads(plain, tweets, chunk_size=3), per_example_grads(plain, tweets, method="loop")
    assert (hooked64 - looped64).abs().max() <= 1e-5

def dequantize_4bit_layers(model):
    """Replace every Linear4bit by a plain Linear holding its dequantized weight (for a float64 reference)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, bnb.nn.Linear4bit):
                plain = torch.nn.Linear(child.in_features, child.out_features, bias=child.bias is not None)
                plain.weight.data = bnb.functional.dequantize_4bit(child.weight.data, child.weight.quant_state)
                if child.bias is not None:
                    plain.bias.data = child.bias.data.clone()
                setattr(parent, name, plain)
