"""Lesson demos: misclassified tweets, gradient baselines, Owen vs Shapley, zeroing, magnitude ranking, cache."""
import numpy as np
import pytest
import torch

from interp_kit import (by_magnitude, cached_fine_tune, evaluate, explain, gradient_baselines, load_tweets,
                        misclassified, owen_vs_shapley, zeroing_vs_input_x_gradient)
from interp_kit.lessons import baseline_embedding


def test_misclassified_lists_exactly_the_errors(clf):
    data = load_tweets("tweets", split="test", label_space="binary", n=16, seed=0)
    m = evaluate(clf, data, progress=False)
    wrong = misclassified(data, m)
    assert len(wrong) == sum(g != p for g, p in zip(data.labels, m["predictions"]))
    assert (wrong["gold"] != wrong["predicted"]).all()
    assert list(wrong["p(predicted)"]) == sorted(wrong["p(predicted)"], reverse=True)


def test_gradient_baselines_pad_equals_kit_ig_and_baselines_differ(clf):
    text = "my flight got cancelled again"
    scores, summary = gradient_baselines(clf, text, ("pad", "unk", " the", "zero"), n_steps=8)
    kit = explain(clf, text, method="integrated_gradients", budget=8)
    np.testing.assert_allclose(scores.iloc[:, 0], kit.scores, atol=1e-3)  # the pad baseline IS the kit's default
    assert summary["f(baseline)"].nunique() == 4  # four different questions
    assert not np.allclose(scores.iloc[:, 0], scores.iloc[:, 3], atol=1e-2)
    np.testing.assert_allclose(scores["input × gradient"], explain(clf, text, method="input_x_gradient").scores)
    unk = explain(clf, text, method="integrated_gradients", budget=8, baseline_token_id=clf.tokenizer.unk_token_id)
    np.testing.assert_allclose(scores.iloc[:, 1], unk.scores, atol=1e-3)


def test_baseline_embedding_errors_and_zero(clf):
    name, v = baseline_embedding(clf, "zero")
    assert torch.count_nonzero(v) == 0
    with pytest.raises(ValueError, match="one token"):
        baseline_embedding(clf, "unbelievably wonderful")


def test_owen_vs_shapley_matches_the_two_methods(clf):
    text = "miss you captain"
    row = owen_vs_shapley(clf, [text], budget=24).iloc[0]
    exact = explain(clf, text, method="exact_shapley").scores
    owen = explain(clf, text, method="shap", budget=24).scores
    assert row["max |Owen - Shapley| / max |Shapley|"] == pytest.approx(
        np.abs(owen - exact).max() / np.abs(exact).max(), rel=1e-6)
    assert row["words"] == 3 and row["exact evaluations"] <= 8


def test_zeroing_effects_are_real_forward_passes(clf):
    df = zeroing_vs_input_x_gradient(clf, ["St joe is dirty."])
    assert df.shape[0] == 1 and df["words"].iloc[0] == 4
    assert df.iloc[0, 2:].between(-1, 1).all()


def test_by_magnitude_ranks_by_absolute_value(clf):
    a = explain(clf, "my flight got cancelled again", method="feature_ablation")
    (b,) = by_magnitude([a])
    np.testing.assert_allclose(b.scores, np.abs(a.scores))
    assert b.method == "feature_ablation |·|" and a.method == "feature_ablation"


def test_adapter_cache_trains_once_and_keys_on_settings(fresh_clf, tmp_path):
    train = load_tweets("tweets", split="train", label_space="binary", n=8, seed=5)
    kw = dict(cache_dir=tmp_path, epochs=1, lr=1e-3, batch_size=8, r=4, seed=0, progress=False)
    first = cached_fine_tune(fresh_clf, train, **kw)
    again = cached_fine_tune(fresh_clf, train, **kw)
    assert first.settings["cache"] == "miss" and again.settings["cache"] == "hit"
    assert again.losses == pytest.approx(first.losses)
    texts = ["what a lovely day", "worst service ever"]
    np.testing.assert_allclose(again.classifier.label_logits(texts), first.classifier.label_logits(texts), atol=1e-5)
    other = cached_fine_tune(fresh_clf, train, **{**kw, "r": 2, "max_steps": 1})  # another setting: another adapter
    assert other.settings["cache"] == "miss" and other.settings["cache_path"] != first.settings["cache_path"]
    assert len(list(tmp_path.iterdir())) == 2
