"""Widgets for lesson 06: pick a layer and head to see where the answer position looks; type a minimal pair and
patch it.

Each is a class holding its controls (tests set values and call `.run()`); errors show as a one-line message.
"""
from __future__ import annotations

import html

import ipywidgets as W
from IPython.display import HTML

__all__ = ["AttentionViewer", "PatchingPanel", "attention_viewer", "patching_panel"]


def _error(output: W.Output, exc: Exception) -> None:
    output.append_display_data(HTML(f"<p style='color:#b00020'><b>{type(exc).__name__}:</b> "
                                    f"{html.escape(str(exc))}</p>"))


class AttentionViewer:
    """A tweet, a layer and a head: the answer position's attention on the tweet's words, and where the rest goes."""

    def __init__(self, classifier, text: str = "I love this movie, the ending was great"):
        self.clf = classifier
        n_layers = classifier.engine.hooks().n_layers
        n_heads = classifier.model.config.num_attention_heads
        self.text = W.Text(value=text, description="Tweet", layout=W.Layout(width="95%"))
        self.layer = W.Dropdown(options=["last", "mean"] + list(range(n_layers)), value="last", description="Layer")
        self.head = W.Dropdown(options=["mean"] + list(range(n_heads)), value="mean", description="Head")
        self.method = W.ToggleButtons(options=["attention", "attention_rollout"], description="Method")
        self.button = W.Button(description="Show", button_style="primary")
        self.output = W.Output(layout=W.Layout(border="1px solid #ddd", min_height="60px"))
        self.last = None
        self.button.on_click(lambda _: self.run())
        self.widget = W.VBox([self.text, W.HBox([self.layer, self.head]), self.method, self.button, self.output])

    def run(self):
        """Explain the tweet with the chosen attention method, layer and head (what the button does)."""
        from ..attribution import explain
        from ..viz import heatmap_html

        self.output.outputs = ()
        try:
            opts = {"layer": self.layer.value}
            if self.method.value == "attention":
                opts["head"] = self.head.value
            exp = explain(self.clf, self.text.value, method=self.method.value, **opts)
        except Exception as exc:  # shown to the student, not raised into the notebook
            _error(self.output, exc)
            return None
        self.last = exp
        self.output.append_display_data(HTML(heatmap_html(exp)))
        self.output.append_display_data(HTML(
            f"<p>Of the answer position's attention, <b>{exp.extras['sink_share']:.0%}</b> goes to the first token "
            f"and <b>{exp.extras['tweet_share']:.0%}</b> to the tweet.</p>"))
        return exp

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class PatchingPanel:
    """Two text boxes (clean, corrupted): the layer × position patching sweep and its best patches."""

    def __init__(self, classifier, clean: str = "I love this movie", corrupt: str = "I hate this movie",
                 layer_step: int = 1):
        self.clf = classifier
        self.clean = W.Text(value=clean, description="Clean")
        self.corrupt = W.Text(value=corrupt, description="Corrupted",
                              placeholder="same number of tokens; empty = noise corruption")
        self.kinds = W.SelectMultiple(options=["resid_pre", "attn_out", "mlp_out"], value=["resid_pre"],
                                      description="Patch")
        self.layer_step = W.BoundedIntText(value=layer_step, min=1, max=30, description="Every nth layer")
        self.button = W.Button(description="Patch", button_style="primary")
        self.output = W.Output(layout=W.Layout(border="1px solid #ddd", min_height="60px"))
        self.last = None
        self.button.on_click(lambda _: self.run())
        self.widget = W.VBox([W.HBox([self.clean, self.corrupt]), W.HBox([self.kinds, self.layer_step]),
                              self.button, self.output])

    def run(self):
        """Run the sweep for the current pair (what the button does)."""
        import matplotlib.pyplot as plt

        from .patching import patch_sweep

        self.output.outputs = ()
        try:
            n_layers = self.clf.engine.hooks().n_layers
            corrupt = self.corrupt.value.strip() or None
            result = patch_sweep(self.clf, self.clean.value, corrupt, kinds=tuple(self.kinds.value),
                                 layers=list(range(0, n_layers, self.layer_step.value)), progress=False)
        except Exception as exc:
            _error(self.output, exc)
            return None
        self.last = result
        fig = result.plot()
        self.output.append_display_data(fig)
        plt.close(fig)
        self.output.append_display_data(HTML(result.top(5).to_html(float_format="%.2f", index=False)))
        return result

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


def attention_viewer(classifier, **kwargs) -> AttentionViewer:
    """The lesson 06 attention widget, a layer and head selector (display it as the cell's last line)."""
    return AttentionViewer(classifier, **kwargs)


def patching_panel(classifier, **kwargs) -> PatchingPanel:
    """The lesson 06 patching widget, two text boxes (display it as the cell's last line)."""
    return PatchingPanel(classifier, **kwargs)
