"""The lesson 08 widget: pick a test tweet, see the training tweets that pushed its prediction up and down."""
from __future__ import annotations

import html

import ipywidgets as W
from IPython.display import HTML, display

from .tracin import InfluenceScores

__all__ = ["InfluenceExplorer", "influence_explorer"]


class InfluenceExplorer:
    """A dropdown of test tweets and a slider for k; `run()` shows the k proponents and opponents with text and label.

    Args:
        scores: an `InfluenceScores` (from `tracin` or `grad_cosine`).
        k: how many proponents and opponents to show.
    """

    def __init__(self, scores: InfluenceScores, k: int = 3):
        if not isinstance(scores, InfluenceScores):
            raise TypeError("influence_explorer needs InfluenceScores from tracin(...) or grad_cosine(...).")
        self.scores = scores
        options = [(f"{i}: [{lab}] {text[:70]}", i)
                   for i, (text, lab) in enumerate(zip(scores.test_texts, scores.test_labels))]
        self.tweet = W.Dropdown(options=options, value=0, description="test tweet",
                                layout=W.Layout(width="95%"))
        self.k = W.IntSlider(value=k, min=1, max=max(1, min(10, len(scores.train_texts))), description="k")
        self.output = W.Output()
        self.tweet.observe(lambda _: self.run(), names="value")
        self.k.observe(lambda _: self.run(), names="value")
        self.widget = W.VBox([self.tweet, self.k, self.output])
        self.last_html = ""

    def render(self) -> str:
        """The HTML of the current selection: the test tweet, then the proponents and opponents tables."""
        i, k, s = self.tweet.value, self.k.value, self.scores
        parts = [f"<p><b>Test tweet</b> (label traced: <b>{html.escape(s.test_labels[i])}</b>): "
                 f"{html.escape(s.test_texts[i])}</p><p><small>{html.escape(s.method)} over checkpoints "
                 f"{s.info.get('checkpoints')}</small></p>"]
        for role, idx in (("Proponents (training on them lowered this tweet's loss)", s.proponents(i, k)),
                          ("Opponents (training on them raised it)", s.opponents(i, k))):
            rows = "".join(f"<tr><td>{s.scores[i, j]:+.3g}</td><td>{html.escape(s.train_labels[j])}</td>"
                           f"<td style='text-align:left'>{html.escape(s.train_texts[j])}</td></tr>" for j in idx)
            parts.append(f"<p><b>{role}</b></p><table><tr><th>score</th><th>label</th><th>training tweet</th></tr>"
                         f"{rows}</table>")
        return "".join(parts)

    def run(self) -> None:
        """Redraw the tables for the selected tweet (errors become a one-line message)."""
        self.output.clear_output()
        try:
            self.last_html = self.render()
            self.output.append_display_data(HTML(self.last_html))
        except Exception as exc:  # a live demo keeps going
            self.last_html = f"<p style='color:#b00020'><b>{type(exc).__name__}:</b> {html.escape(str(exc))}</p>"
            self.output.append_display_data(HTML(self.last_html))

    def _ipython_display_(self):
        display(self.widget)


def influence_explorer(scores: InfluenceScores, k: int = 3) -> InfluenceExplorer:
    """The lesson 08 widget for these scores, showing the first test tweet (display it as the cell's last line)."""
    explorer = InfluenceExplorer(scores, k)
    explorer.run()
    return explorer
