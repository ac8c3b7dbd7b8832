"""The metrics widget of lesson 05, driven headless, and the demo profile."""
import dataclasses

import pytest

from interp_kit import lesson_config, load_tweets, metrics_panel


def _shown(output) -> str:
    return "\n".join(o.get("data", {}).get("text/html", "") for o in output.outputs)


def test_metrics_panel_measures_signed_and_magnitude(clf):
    pool = load_tweets("tweets", split="train", label_space="binary")
    tweets = pool.take([i for i, t in enumerate(pool.texts) if 4 <= len(t.split()) <= 6][:2])  # short: fast
    panel = metrics_panel(clf, tweets, methods=("feature_ablation", "saliency"), n=2, budget=20)
    table = panel.run()
    assert {"feature_ablation", "saliency", "random"} <= set(table.index)
    assert "random" in _shown(panel.output) and "signed" in _shown(panel.output)
    panel.ranking.value = "|score|"
    table = panel.run()
    assert "saliency |·|" in table.index
    panel.methods.value = ()
    assert panel.run() is None and "Pick at least one method" in _shown(panel.output)


def test_demo_profile_and_frozen_config():
    cfg = lesson_config(profile="demo")
    assert cfg.profile == "demo" and cfg.n_eval <= lesson_config(profile="cpu").n_eval
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.budget = 10
    assert dataclasses.replace(cfg, budget=10).budget == 10  # how the lessons' forms change a size
