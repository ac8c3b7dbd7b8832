"""Widgets driven headless: set values, click, and read what the output area shows."""
import pytest

from interp_kit import compare_methods, explorer, fine_tune_control, load_tweets


def _shown(widget_output) -> str:
    """Everything the Output area holds, as text/HTML."""
    parts = []
    for out in widget_output.outputs:
        data = out.get("data", {})
        parts.append(data.get("text/html", "") or data.get("text/plain", "") or out.get("text", ""))
    return "\n".join(parts)


@pytest.fixture
def ui(clf):
    """A fresh explorer for each test: tests change its controls, so none depends on another's changes."""
    return explorer(clf, text="what a lovely sunny morning", method="feature_ablation", budget=50)


def test_explain_button_shows_prediction_heatmap_and_cost(ui):
    ui.button.click()
    html = _shown(ui.output)
    assert ui.last is not None and ui.last.method == "feature_ablation"
    assert f"predicts <b>{ui.last.prediction}</b>" in html
    assert "evaluations" in html and "lovely" in html and "title=" in html  # heatmap with hover scores
    assert not ui.button.disabled and ui.button.description == "Explain"


def test_changing_method_target_and_text_changes_the_result(ui, clf):
    ui.text.value = "my phone died and the bus was late"
    ui.method.value = "saliency"
    ui.target.value = "positive"
    ui.button.click()
    assert ui.budget.disabled  # saliency has no budget
    assert ui.last.method == "saliency" and ui.last.target == "positive" and "phone" in ui.last.features
    assert "phone" in _shown(ui.output)


def test_bad_input_shows_a_message_not_a_traceback(ui):
    ui.text.value = "   "
    ui.button.click()
    html = _shown(ui.output)
    assert "ValueError" in html and "empty" in html and "Traceback" not in html
    assert not ui.button.disabled  # the widget stays usable


def test_fine_tuned_toggle_only_when_given(clf):
    assert explorer(clf).model.options == ("zero-shot",)


def test_method_comparison_shows_one_heatmap_per_method(clf):
    cmp = compare_methods(clf, text="loving the new album", methods=("feature_ablation", "saliency"), budget=20)
    cmp.button.click()
    assert [a.method for a in cmp.last] == ["feature_ablation", "saliency"]
    assert _shown(cmp.output).count("album") >= 2


@pytest.mark.slow
def test_fine_tune_control_trains_and_reports(model_and_tokenizer):
    from interp_kit import ZeroShotClassifier, load_model

    model, tok = load_model("offline")  # its own copy: fine-tuning adds LoRA layers to the model object
    base = ZeroShotClassifier(model, tok)
    train, evals = load_tweets("tweets", split="train", n=16, seed=0), load_tweets("tweets", split="test", n=8, seed=0)
    ctl = fine_tune_control(base, train, evals, n_train=8, epochs=1, rank=4)
    ctl.button.click()
    html = _shown(ctl.output)
    assert ctl.result is not None and "fine-tuned" in html and "accuracy" in html
