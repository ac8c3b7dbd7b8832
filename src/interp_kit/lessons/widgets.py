"""Widgets for the lessons: explore one tweet, compare methods, fine-tune with a few sliders.

Each widget is a small class holding its controls (so tests can set values and click) and shows its results
in an Output area. Errors become a one-line message there, never a traceback, so a live demo keeps going.
"""
from __future__ import annotations

import html
import time

import ipywidgets as W
from IPython.display import HTML

from ..attribution.registry import get_method

__all__ = ["Explorer", "MethodComparison", "FineTuneControl", "MetricsPanel", "explorer", "compare_methods",
           "fine_tune_control", "metrics_panel"]

DEFAULT_TWEET = "just got the tickets for tonight, can't wait!! but the weather looks awful"


def _error(output: W.Output, exc: Exception) -> None:
    output.append_display_data(HTML(f"<p style='color:#b00020'><b>{type(exc).__name__}:</b> "
                                    f"{html.escape(str(exc))}</p>"))


class _Busy:
    """Disable a button and show a status while a long action runs."""

    def __init__(self, button: W.Button, status: W.HTML, message: str):
        self.button, self.status, self.message = button, status, message

    def __enter__(self):
        self.label = self.button.description
        self.button.disabled, self.button.description = True, "working…"
        self.status.value = f"<i>{html.escape(self.message)}</i>"
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.button.disabled, self.button.description = False, self.label
        self.status.value = f"<small>{time.perf_counter() - self.start:.1f}s</small>"
        return False


class Explorer:
    """Type a tweet, pick model, method, budget and target, click Explain: prediction, heatmap and cost.

    Args:
        zero_shot: the zero-shot classifier.
        fine_tuned: the fine-tuned classifier, or None (the toggle then offers zero-shot only).
    """

    def __init__(self, zero_shot, fine_tuned=None, text: str = DEFAULT_TWEET, method: str = "shap",
                 budget: int = 100):
        from ..attribution import list_methods

        self.classifiers = {"zero-shot": zero_shot}
        if fine_tuned is not None:
            self.classifiers["fine-tuned"] = fine_tuned
        self.text = W.Textarea(value=text, description="Tweet", layout=W.Layout(width="95%", height="60px"))
        self.model = W.ToggleButtons(options=list(self.classifiers), description="Model")
        self.method = W.Dropdown(options=list(list_methods()), value=method, description="Method")
        self.budget = W.IntSlider(value=budget, min=10, max=1000, step=10, description="Budget",
                                  tooltip="SHAP max evaluations, samples for sampling methods, steps for IG")
        self.target = W.Dropdown(options=[("predicted", None)] + [(n, n) for n in zero_shot.label_names],
                                 description="Target")
        self.button = W.Button(description="Explain", button_style="primary", icon="search")
        self.status = W.HTML()
        self.output = W.Output(layout=W.Layout(border="1px solid #ddd", min_height="80px"))
        self.last = None
        self.button.on_click(lambda _: self.run())
        self.method.observe(self._method_changed, names="value")
        self._method_changed()
        self.widget = W.VBox([self.text, W.HBox([self.model, self.target]), W.HBox([self.method, self.budget]),
                              W.HBox([self.button, self.status]), self.output])

    def _method_changed(self, _=None):
        self.budget.disabled = get_method(self.method.value).budget_name is None  # e.g. saliency: no budget

    def run(self):
        """Explain the current text with the current settings (what the button does)."""
        from ..attribution import explain
        from ..viz import heatmap_html

        self.output.outputs = ()
        with _Busy(self.button, self.status, f"explaining with {self.method.value}…"):
            try:
                clf = self.classifiers[self.model.value]
                attr = explain(clf, self.text.value, method=self.method.value, target=self.target.value,
                               budget=self.budget.value)  # methods without a budget ignore it
            except Exception as exc:  # shown to the student, not raised into the notebook
                _error(self.output, exc)
                return None
        self.last = attr
        probs = ", ".join(f"{k} {v:.2f}" for k, v in attr.probabilities.items())
        self.output.append_display_data(HTML(
            f"<p><b>{self.model.value}</b> predicts <b>{attr.prediction}</b> ({probs}); explaining "
            f"<b>{attr.target}</b> ({attr.quantity}) with {attr.method}: {attr.n_evaluations} evaluations, "
            f"{attr.seconds:.1f}s</p>"))
        self.output.append_display_data(HTML(heatmap_html(attr)))
        return attr

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class MethodComparison:
    """One tweet explained by several methods, shown as aligned heatmaps with their costs."""

    def __init__(self, classifier, text: str = DEFAULT_TWEET,
                 methods=("shap", "feature_ablation", "integrated_gradients", "saliency"), budget: int = 100):
        from ..attribution import list_methods

        self.classifier = classifier
        self.text = W.Textarea(value=text, description="Tweet", layout=W.Layout(width="95%", height="60px"))
        self.methods = W.SelectMultiple(options=list(list_methods()), value=tuple(methods), description="Methods",
                                        rows=6)
        self.budget = W.IntSlider(value=budget, min=10, max=1000, step=10, description="Budget")
        self.button = W.Button(description="Compare", button_style="primary", icon="columns")
        self.status = W.HTML()
        self.output = W.Output()
        self.last = []
        self.button.on_click(lambda _: self.run())
        self.widget = W.VBox([self.text, W.HBox([self.methods, self.budget]), W.HBox([self.button, self.status]),
                              self.output])

    def run(self):
        from ..attribution import explain
        from ..viz import heatmap_html

        self.output.outputs = ()
        results = []
        with _Busy(self.button, self.status, "comparing methods…"):
            for name in self.methods.value:
                try:
                    results.append(explain(self.classifier, self.text.value, method=name,
                                           budget=self.budget.value))
                except Exception as exc:
                    _error(self.output, exc)
        for attr in results:
            self.output.append_display_data(HTML(heatmap_html(attr)))
        self.last = results
        return results

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class FineTuneControl:
    """Fine-tune with a few sliders (subset size, epochs, LoRA rank) and see before/after metrics."""

    def __init__(self, classifier, train, evals, n_train: int = 64, epochs: int = 1, rank: int = 8):
        self.classifier, self.train, self.evals = classifier, train, evals
        self.n_train = W.IntSlider(value=min(n_train, len(train)), min=min(8, len(train)), max=len(train), step=8,
                                   description="Examples")
        self.epochs = W.IntSlider(value=epochs, min=1, max=5, description="Epochs")
        self.rank = W.Dropdown(options=[2, 4, 8, 16, 32], value=rank, description="LoRA rank")
        self.button = W.Button(description="Fine-tune", button_style="warning", icon="graduation-cap")
        self.status = W.HTML()
        self.output = W.Output()
        self.result = None
        self.button.on_click(lambda _: self.run())
        self.widget = W.VBox([W.HBox([self.n_train, self.epochs, self.rank]), W.HBox([self.button, self.status]),
                              self.output])

    def run(self):
        from ..training import fine_tune
        from ..evaluation import evaluate

        self.output.outputs = ()
        with _Busy(self.button, self.status, "fine-tuning…"):
            try:
                before = evaluate(self.classifier, self.evals, progress=False)
                result = fine_tune(self.classifier, self.train.subset(self.n_train.value, seed=0),
                                   epochs=self.epochs.value, r=self.rank.value)
                after = evaluate(result.classifier, self.evals, progress=False)
            except Exception as exc:
                _error(self.output, exc)
                return None
        self.result = result
        rows = "".join(f"<tr><td>{k}</td><td>{before[k]:.3f}</td><td>{after[k]:.3f}</td></tr>"
                       for k in ("accuracy", "mcc"))
        self.output.append_display_data(HTML(
            f"<p>trained on {self.n_train.value} tweets × {self.epochs.value} epoch(s), rank {self.rank.value}, "
            f"in {result.seconds:.0f}s</p><table><tr><th></th><th>zero-shot</th><th>fine-tuned</th></tr>{rows}</table>"))
        return result

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class MetricsPanel:
    """Pick methods, tweets and a ranking (signed or |score|), click Measure: faithfulness beside a random baseline.

    Args:
        classifier: the classifier whose explanations are measured.
        tweets: a `Tweets` set; the first `n` are explained (their gold labels are the targets).
    """

    def __init__(self, classifier, tweets, methods=("shap", "feature_ablation", "saliency", "input_x_gradient"),
                 n: int = 4, budget: int = 100):
        from ..attribution import list_methods

        self.classifier, self.tweets = classifier, tweets
        self.methods = W.SelectMultiple(options=list(list_methods()), value=tuple(methods), description="Methods",
                                        rows=6)
        self.n = W.IntSlider(value=min(n, len(tweets)), min=1, max=max(1, min(50, len(tweets))), description="Tweets")
        self.budget = W.IntSlider(value=budget, min=10, max=1000, step=10, description="Budget")
        self.ranking = W.ToggleButtons(options=["signed", "|score|"], description="Rank by",
                                       tooltips=["push toward the target (the kit's default)",
                                                 "magnitude: the same footing for unsigned methods (saliency)"])
        self.button = W.Button(description="Measure", button_style="primary", icon="table")
        self.status = W.HTML()
        self.output = W.Output()
        self.last = None
        self.button.on_click(lambda _: self.run())
        self.widget = W.VBox([W.HBox([self.methods, W.VBox([self.n, self.budget, self.ranking])]),
                              W.HBox([self.button, self.status]), self.output])

    def run(self):
        """Explain the tweets with each method and show the faithfulness table (what the button does)."""
        from ..attribution import explain_many
        from ..evaluation import faithfulness_report
        from .demos import by_magnitude

        self.output.outputs = ()
        part = self.tweets.take(list(range(self.n.value)))
        with _Busy(self.button, self.status, "explaining and measuring…"):
            try:
                if not self.methods.value:
                    raise ValueError("Pick at least one method.")
                attrs = [a for m in self.methods.value for a in
                         explain_many(self.classifier, part.texts, method=m, target=part.labels,
                                      budget=self.budget.value, progress=False)]
                if self.ranking.value == "|score|":
                    attrs = by_magnitude(attrs)
                table = faithfulness_report(self.classifier, attrs, progress=False)
            except Exception as exc:
                _error(self.output, exc)
                return None
        self.last = table
        self.output.append_display_data(HTML(f"<p>{self.n.value} tweets, ranked by {self.ranking.value} score; "
                                              "compare each row with <b>random</b>.</p>" + table.round(3).to_html()))
        return table

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def explorer(zero_shot, fine_tuned=None, **kwargs) -> Explorer:
    """The explorer widget (display it as the cell's last line)."""
    return Explorer(zero_shot, fine_tuned, **kwargs)


def compare_methods(classifier, text: str = DEFAULT_TWEET, **kwargs) -> MethodComparison:
    """The side-by-side method comparison widget."""
    return MethodComparison(classifier, text, **kwargs)


def fine_tune_control(classifier, train, evals, **kwargs) -> FineTuneControl:
    """The fine-tuning control widget for lesson 02."""
    return FineTuneControl(classifier, train, evals, **kwargs)


def metrics_panel(classifier, tweets, **kwargs) -> MetricsPanel:
    """The faithfulness widget for lesson 05."""
    return MetricsPanel(classifier, tweets, **kwargs)
