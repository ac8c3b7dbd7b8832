"""Lesson 07's widget: type a tweet, see its counterfactual and the model's own explanation beside SHAP."""
from __future__ import annotations

import html

import ipywidgets as W
import numpy as np
from IPython.display import HTML

from ..lessons.widgets import DEFAULT_TWEET, _Busy, _error

__all__ = ["TrustExplorer", "trust_explorer"]


class TrustExplorer:
    """One tweet, three views: SHAP's heatmap, the smallest deletion that flips the label (exhaustive for short
    tweets, else guided by SHAP) and the words the model names when asked why (post hoc), with each deletion's
    margin drop.

    Args:
        classifier: the classifier to explain (an instruct model: it is also asked for its own explanation).
        budget: SHAP's max_evals.
        max_new_tokens: the longest self-explanation generated.
    """

    def __init__(self, classifier, text: str = DEFAULT_TWEET, budget: int = 100, max_new_tokens: int = 24):
        self.classifier, self.max_new_tokens = classifier, max_new_tokens
        self.text = W.Textarea(value=text, description="Tweet", layout=W.Layout(width="95%", height="60px"))
        self.budget = W.IntSlider(value=budget, min=10, max=1000, step=10, description="SHAP budget")
        self.search = W.Dropdown(options=["auto", "exhaustive", "shap", "feature_ablation", "random"], value="auto",
                                 description="Search", tooltip="auto: exhaustive up to 10 words, else SHAP-guided")
        self.button = W.Button(description="Explain", button_style="primary", icon="balance-scale")
        self.status = W.HTML()
        self.output = W.Output(layout=W.Layout(border="1px solid #ddd", min_height="80px"))
        self.last: dict | None = None
        self.button.on_click(lambda _: self.run())
        self.widget = W.VBox([self.text, W.HBox([self.search, self.budget]), W.HBox([self.button, self.status]),
                              self.output])

    def run(self):
        """Explain the current tweet (what the button does); returns {"shap", "counterfactual", "self"}."""
        from ..attribution import MaskScorer, explain
        from ..viz import heatmap_html
        from ._common import check_words, label_margin, mask_label_logits
        from .counterfactuals import find_counterfactual
        from .self_explain import self_explain

        self.output.outputs = ()
        with _Busy(self.button, self.status, "explaining…"):
            try:
                text = self.text.value
                words = check_words(self.classifier, text, 2, "this widget (a counterfactual by deletion)")
                shap = explain(self.classifier, text, method="shap", budget=self.budget.value)
                search = self.search.value if self.search.value != "auto" else \
                    ("exhaustive" if len(words) <= 10 else "shap")
                cf = find_counterfactual(self.classifier, text, search=search, must_flip=False,
                                         attribution=shap if search == "shap" else None)
                own = self_explain(self.classifier, text, mode="post_hoc", max_new_tokens=self.max_new_tokens,
                                   prediction=shap.prediction)
                scorer = MaskScorer(self.classifier, text)
                k = len(own.named)
                drops = {}
                if 0 < k < len(words):
                    top = np.argsort(-shap.scores, kind="stable")[:k]
                    masks = np.ones((3, len(words)), bool)
                    masks[1, list(own.named)] = False
                    masks[2, top] = False
                    m = label_margin(mask_label_logits(scorer, masks), self.classifier.label_index(shap.prediction))
                    drops = {"the model's words": m[0] - m[1], f"top-{k} SHAP words": m[0] - m[2]}
            except Exception as exc:  # shown to the student, not raised into the notebook
                _error(self.output, exc)
                return None
        self.last = {"shap": shap, "counterfactual": cf, "self": own, "drops": drops}
        self.output.append_display_data(HTML("<h4 style='margin:4px 0'>SHAP</h4>" + heatmap_html(shap)))
        self.output.append_display_data(HTML("<h4 style='margin:4px 0'>Counterfactual</h4>" + cf.to_html()))
        drop_text = ", ".join(f"{name}: {d:+.2f}" for name, d in drops.items()) or \
            "the model named no usable word, so there is nothing to delete"
        self.output.append_display_data(HTML(
            "<h4 style='margin:4px 0'>The model's own explanation</h4>" + own.to_html() +
            f"<p><small>margin drop when deleted — {html.escape(drop_text)}</small></p>"))
        return self.last

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def trust_explorer(classifier, **kwargs) -> TrustExplorer:
    """The lesson 07 widget (display it as the cell's last line)."""
    return TrustExplorer(classifier, **kwargs)
