"""Attribution pictures: HTML heatmap (inline styles, hover scores, escaping), PNG-able figures, method grid."""
from __future__ import annotations

import re

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from interp_kit import Attribution, heatmap_html, method_grid_html, plot_bars, plot_heatmap, plot_method_grid  # noqa: E402
from interp_kit.io import save_figure  # noqa: E402


def _attribution(text="so <happy> & excited  today!!", scores=None, method="shap", model="offline"):
    ms = list(re.finditer(r"\S+", text))
    scores = np.array(scores if scores is not None else np.linspace(-1, 2, len(ms)), float)
    return Attribution(text=text, features=tuple(m.group() for m in ms), spans=tuple((m.start(), m.end()) for m in ms),
                       scores=scores, target="positive", quantity="log_odds", value_full=1.0, value_empty=-0.5,
                       prediction="positive", probabilities={"negative": 0.3, "positive": 0.7}, method=method,
                       n_evaluations=12, seconds=0.5, model=model)


def test_heatmap_html_is_inline_escaped_and_symmetric():
    a = _attribution(scores=[-2.0, 0.0, 0.5, 2.0, 1.0])
    out = heatmap_html(a)
    assert "<script" not in out and "<style" not in out and "class=" not in out  # inline styles only
    assert "&lt;happy&gt;" in out and "&amp;" in out and "<happy>" not in out
    assert out.count('title="') == len(a.features)
    assert 'title="so: -2.0000"' in out and 'title="today!!: +1.0000"' in out
    assert "shap" in out and "positive" in out and "12 evals" in out
    colours = re.findall(r"background-color:(#[0-9a-f]{6})", out)
    assert len(colours) == 5
    assert colours[1] == "#f7f6f6"  # zero is the palette's midpoint (near white)
    # equal magnitude, opposite sign -> mirrored colours (red vs blue) at the ends of the palette
    assert colours[0] != colours[3] and colours[0] == "#053061" and colours[3] == "#67001f"
    # the text between features (the double space) is kept
    assert "</span>  <span" in out


def test_figures_save_as_png(tmp_path):
    a = _attribution()
    for name, fig in [("heat", plot_heatmap(a)), ("bars", plot_bars(a)),
                      ("grid", plot_method_grid([a, _attribution(method="lime"), _attribution(model="x + LoRA")]))]:
        path = save_figure(fig, tmp_path / f"{name}.png")
        assert path.stat().st_size > 1000


def test_method_grid_checks_rows():
    a, b = _attribution(), _attribution(text="another tweet entirely")
    with pytest.raises(ValueError, match="same text"):
        plot_method_grid([a, b])
    html = method_grid_html([a, _attribution(method="saliency", scores=[0, 1, 2, 3, 4])], labels=["one", "two"])
    assert "one" in html and "two" in html and html.count("<tr>") == 2
    with pytest.raises(ValueError, match="labels"):
        method_grid_html([a], labels=["x", "y"])
