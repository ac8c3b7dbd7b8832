"""LoRA fine-tuning on the real offline model: the trained token is the scored token, the zero-shot model stays
untouched, training lowers the loss, and adapters round-trip (and refuse a mismatched classifier)."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from interp_kit import AdapterMismatchError, Tweets, ZeroShotClassifier, fine_tune, label_loss, load_adapter, \
    load_model, load_tweets, save_adapter
from interp_kit.pipeline import run_finetune_stage
from interp_kit.training import ADAPTER_METADATA

pytestmark = pytest.mark.slow

PROBE = ["what a lovely morning, thanks everyone!", "ugh my phone broke again", "ok", "so tired of this rain"]


@pytest.fixture(scope="module")
def base(runtime):
    """A model of this module's own: get_peft_model adds LoRA layers to the model object in place."""
    return load_model("offline", runtime)


@pytest.fixture(scope="module")
def zs(base):
    model, tokenizer = base
    return ZeroShotClassifier(model, tokenizer, ("negative", "positive"))


@pytest.fixture(scope="module")
def train16(kaggle_train_csv):
    return load_tweets(str(kaggle_train_csv), "train", label_space="binary", n=16, seed=0)


@pytest.fixture(scope="module")
def trained(zs, train16):
    """One small fine-tuning run shared by the tests, with the zero-shot numbers taken before it."""
    before = {"probe": torch.from_numpy(zs.label_logits(PROBE)), "loss": label_loss(zs, train16)}
    result = fine_tune(zs, train16, epochs=2, lr=1e-3, batch_size=8, seed=0, progress=False)
    after = {"probe": torch.from_numpy(result.classifier.label_logits(PROBE)),
             "loss": label_loss(result.classifier, train16)}
    return {"result": result, "before": before, "after": after}


# ---- the supervised token is the scored token ------------------------------------------------------------------
@pytest.mark.parametrize("labels", [("negative", "positive"), ("negative", "neutral", "positive")])
def test_supervised_token_is_scored_token(zs, labels):
    clf = ZeroShotClassifier(zs.model, zs.tokenizer, labels)  # scoring only: the model is not changed
    for text in ["I love it", "  the bus   comes at 8 ", "worst. day. ever :("]:
        for k, label in enumerate(labels):
            ids, sup = clf.training_example(text, label)
            assert len(ids) == len(sup)
            supervised = [i for i, t in enumerate(sup) if t != -100]
            assert supervised == [len(ids) - 1]  # exactly one token, the last
            assert sup[-1] == ids[-1] == clf.label_token_ids[k]  # the token predict_proba reads for this label
            assert ids[:-1] == clf.prompt_ids(text)  # after exactly the prompt that is scored
            # ... and it is what the tokenizer makes of the whole prompt string with the label word appended
            words = " " + " ".join(text.split())
            full = clf.prompt_prefix + words + clf.prompt_suffix + clf.answer_lead + clf.label_words[k]
            assert clf.tokenizer(full, add_special_tokens=False)["input_ids"] == ids


def test_loss_is_cross_entropy_of_the_scored_label_token(zs):
    """fine_tune's first recorded loss (LoRA starts as the identity) equals a hand computation on one example."""
    text, label = "my flight got cancelled again", "negative"
    ids, sup = zs.training_example(text, label)
    with torch.inference_mode():
        logits = zs.model(input_ids=torch.tensor([zs.prompt_ids(text)])).logits[0, -1].float()
        hf_loss = zs.model(input_ids=torch.tensor([ids]), labels=torch.tensor([sup])).loss
    target = zs.label_token_ids[zs.label_index(label)]
    hand = float(-torch.log_softmax(logits, -1)[target])
    # the scored label logits are these same logits at the label tokens
    torch.testing.assert_close(zs.label_logits_from_ids([zs.prompt_ids(text)])[0],
                               logits[list(zs.label_token_ids)], rtol=1e-4, atol=1e-4)
    one = Tweets([text], [label], ("negative", "positive"))
    assert label_loss(zs, one) == pytest.approx(hand, abs=1e-4)
    assert float(hf_loss) == pytest.approx(hand, abs=1e-4)  # the standard causal-LM shift agrees
    result = fine_tune(zs, one, epochs=1, batch_size=1, max_steps=1, dropout=0.0, progress=False)
    assert result.losses[0] == pytest.approx(hand, abs=1e-4)


# ---- the zero-shot model stays untouched ---------------------------------------------------------------------
def test_zero_shot_scores_identical_after_fine_tuning(zs, trained):
    now = torch.from_numpy(zs.label_logits(PROBE))
    assert torch.equal(now, trained["before"]["probe"])  # bit for bit
    assert not zs.use_adapter
    assert (trained["after"]["probe"] - trained["before"]["probe"]).abs().max() > 1e-2  # the adapter did change


def test_training_reduces_the_loss(trained):
    result = trained["result"]
    assert len(result.losses) == 4 and all(np.isfinite(result.losses))
    assert trained["after"]["loss"] < 0.7 * trained["before"]["loss"]
    assert result.losses[-1] < result.losses[0]
    assert result.seconds > 0 and result.examples_per_second > 0
    s = result.settings
    assert s["n_train"] == 16 and s["steps"] == 4 and s["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]


def test_fine_tuned_classifier_shares_prompt_and_labels(zs, trained):
    ft = trained["result"].classifier
    assert ft.label_token_ids == zs.label_token_ids and ft.prefix_ids == zs.prefix_ids
    assert ft.suffix_ids == zs.suffix_ids and ft.template == zs.template and ft.base_model_id == "offline"
    with pytest.raises(ValueError, match="already fine-tuned"):
        fine_tune(ft, load_tweets("tweets", n=4), progress=False)


def test_training_data_must_match_the_labels(zs):
    three = load_tweets("tweets", label_space="three", n=6)
    with pytest.raises(ValueError, match="label"):
        fine_tune(zs, three, progress=False)


# ---- adapters ----------------------------------------------------------------------------------------------------
def test_adapter_round_trip(zs, trained, tmp_path):
    result = trained["result"]
    path = save_adapter(result, tmp_path / "adapter", metrics={"accuracy": 0.5, "predictions": ["x"]})
    names = sorted(p.name for p in path.iterdir())
    assert {"adapter_config.json", "adapter_model.safetensors", ADAPTER_METADATA} <= set(names)
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]  # no temporary folders left
    meta = json.loads((path / ADAPTER_METADATA).read_text())
    assert meta["base_model_id"] == "offline" and meta["label_words"] == ["negative", "positive"]
    assert meta["label_token_ids"] == list(zs.label_token_ids) and meta["label_space"] == "binary"
    assert meta["training"]["lr"] == 1e-3 and meta["metrics"] == {"accuracy": 0.5}
    assert meta["template"]["instruction"] == zs.template.instruction and meta["versions"]["peft"]

    loaded = load_adapter(zs, path)
    assert loaded.adapter_name != result.classifier.adapter_name  # a second adapter, the first is kept
    assert torch.equal(torch.from_numpy(loaded.label_logits(PROBE)), trained["after"]["probe"])
    # neither the first adapter nor the zero-shot model changed
    assert torch.equal(torch.from_numpy(result.classifier.label_logits(PROBE)), trained["after"]["probe"])
    assert torch.equal(torch.from_numpy(zs.label_logits(PROBE)), trained["before"]["probe"])


def test_adapter_mismatch_is_a_clear_error(zs, trained, runtime, tmp_path):
    path = save_adapter(trained["result"], tmp_path / "adapter")
    other_words = ZeroShotClassifier(zs.model, zs.tokenizer, ("negative", "positive"), label_words=("bad", "good"))
    with pytest.raises(AdapterMismatchError, match=r"label words \['negative', 'positive'\].*\['bad', 'good'\]"):
        load_adapter(other_words, path)
    three = ZeroShotClassifier(zs.model, zs.tokenizer, ("negative", "neutral", "positive"))
    with pytest.raises(AdapterMismatchError, match="label names"):
        load_adapter(three, path)

    # another base model: the same weights loaded under another id
    other_model, other_tok = load_model("offline", runtime)
    other_model.interp_kit_model_id = "someone/other-model"
    with pytest.raises(AdapterMismatchError, match="'offline'.*'someone/other-model'"):
        load_adapter(ZeroShotClassifier(other_model, other_tok), path)
    # ... or a copied adapter whose metadata names another base
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    meta = json.loads((copy / ADAPTER_METADATA).read_text())
    meta["base_model_id"] = "meta-llama/Llama-3.2-1B"
    (copy / ADAPTER_METADATA).write_text(json.dumps(meta))
    with pytest.raises(AdapterMismatchError, match="meta-llama/Llama-3.2-1B.*'offline'"):
        load_adapter(zs, copy)

    (copy / ADAPTER_METADATA).unlink()
    with pytest.raises(FileNotFoundError, match=ADAPTER_METADATA):
        load_adapter(zs, copy)


def test_interrupted_save_leaves_nothing(trained, tmp_path, monkeypatch):
    import interp_kit.training.adapters as ft

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("interrupted while writing the metadata")

    monkeypatch.setattr(ft, "atomic_write_json", crash)  # peft's files are written, then the save dies
    with pytest.raises(KeyboardInterrupt):
        save_adapter(trained["result"], tmp_path / "adapter")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()

    # an existing adapter survives an interrupted overwrite untouched
    path = save_adapter(trained["result"], tmp_path / "adapter")
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    monkeypatch.setattr(ft, "atomic_write_json", crash)
    with pytest.raises(KeyboardInterrupt):
        save_adapter(trained["result"], path)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]


# ---- the CLI stage -----------------------------------------------------------------------------------------------
def test_run_finetune_stage_writes_results(zs, train16, tmp_path):
    from interp_kit import evaluate

    eval_tweets = load_tweets("tweets", split="test", label_space="binary", n=6, seed=1)
    zero_shot = evaluate(zs, eval_tweets)
    out = run_finetune_stage(zs, train16.subset(4, seed=0), eval_tweets, tmp_path, zero_shot,
                             max_steps=1, batch_size=4, progress=False)
    assert {p.name for p in tmp_path.iterdir()} == {"fine_tuned_metrics.json", "metrics_comparison.png", "lora_adapter"}
    saved = json.loads((tmp_path / "fine_tuned_metrics.json").read_text())
    assert saved["accuracy"] == out["metrics"]["accuracy"] and saved["n"] == 6
    assert len(saved["training"]["losses"]) == 1 and saved["training"]["settings"]["max_steps"] == 1
    assert saved["training"]["seconds"] > 0
    assert (tmp_path / "lora_adapter" / ADAPTER_METADATA).exists()
    assert out["classifier"].use_adapter and out["result"].losses == saved["training"]["losses"]
