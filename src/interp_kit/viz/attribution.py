"""Attribution pictures: a word heatmap (HTML and PNG), a bar chart, and a grid of methods on one text.

Colours are signed and symmetric around zero: red pushes toward the explained target, blue away from it,
white is no effect. The HTML uses inline styles only (no scripts, no stylesheets), so it renders the same in
Jupyter, Colab and exported notebooks; hover a word to read its score.
"""
from __future__ import annotations

import html
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import colors as mcolors

from ..attribution.core import Attribution

__all__ = ["heatmap_html", "show_heatmap", "plot_heatmap", "plot_bars", "method_grid_html", "plot_method_grid",
           "ATTRIBUTION_CMAP"]

#: Diverging palette: blue (against the target) - white (0) - red (for the target).
ATTRIBUTION_CMAP = "RdBu_r"


def _scale(scores, vmax: float | None) -> float:
    m = float(np.max(np.abs(scores))) if len(scores) else 0.0
    return vmax if vmax else (m if m > 0 else 1.0)


def _rgba(value: float, vmax: float):
    """Colour of a score on the symmetric palette (value/vmax clipped to [-1, 1])."""
    cmap = plt.get_cmap(ATTRIBUTION_CMAP)
    return cmap(0.5 + 0.5 * float(np.clip(value / vmax, -1, 1)))


def _text_colour(rgba) -> str:
    r, g, b = rgba[:3]
    return "#ffffff" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "#111111"


def _header(a: Attribution) -> str:
    p = a.probabilities.get(a.prediction, float("nan"))
    return (f"{a.method} · explains {a.quantity} of '{a.target}' · predicted '{a.prediction}' (p={p:.2f}) · "
            f"{a.n_evaluations} evals, {a.seconds:.2f}s")


def _segments(a: Attribution):
    """(text, feature index or None) pieces covering the whole text in order."""
    out, pos = [], 0
    order = np.argsort([s for s, _ in a.spans], kind="stable")
    for i in order:
        s, e = a.spans[i]
        if s < pos:  # overlapping spans (should not happen): skip the overlap
            s = pos
        if s > pos:
            out.append((a.text[pos:s], None))
        if e > s:
            out.append((a.text[s:e], int(i)))
        pos = max(pos, e)
    if pos < len(a.text):
        out.append((a.text[pos:], None))
    return out


def _legend_html(vmax: float) -> str:
    stops = ", ".join(mcolors.to_hex(_rgba(v, 1.0)) for v in np.linspace(-1, 1, 9))
    return (f'<span style="display:inline-block;vertical-align:middle;width:120px;height:10px;'
            f'background:linear-gradient(to right, {stops});border:1px solid #ccc;margin:0 6px"></span>')


def heatmap_html(attribution: Attribution, vmax: float | None = None, header: bool = True) -> str:
    """The tweet with each feature's background coloured by its signed score; the score shows on hover.

    Args:
        vmax: the score mapped to full colour (default: the largest |score| of this attribution).
        header: a line naming the method, target, prediction and cost above the text.
    """
    a = attribution
    vmax = _scale(a.scores, vmax)
    parts = []
    for piece, i in _segments(a):
        if i is None:
            parts.append(html.escape(piece))
            continue
        rgba = _rgba(a.scores[i], vmax)
        tip = html.escape(f"{a.features[i]}: {a.scores[i]:+.4f}", quote=True)
        parts.append(f'<span title="{tip}" style="background-color:{mcolors.to_hex(rgba)};'
                     f'color:{_text_colour(rgba)};padding:1px 2px;border-radius:3px">{html.escape(piece)}</span>')
    body = (f'<div style="font-family:sans-serif;font-size:15px;line-height:1.9;white-space:pre-wrap;'
            f'color:#111111;background:#ffffff;padding:4px 6px">{"".join(parts)}</div>')
    if not header:
        return body
    head = (f'<div style="font-family:sans-serif;font-size:12px;color:#555555;background:#ffffff;padding:2px 6px">'
            f'{html.escape(_header(a))} · against {_legend_html(vmax)} for (±{vmax:.3g})</div>')
    return f'<div style="border:1px solid #dddddd;border-radius:4px;margin:4px 0">{head}{body}</div>'


def show_heatmap(attributions, vmax: float | None = None):
    """Display one attribution (or a list) as HTML heatmaps in Jupyter/Colab; returns the IPython HTML object."""
    from IPython.display import HTML, display

    items = [attributions] if isinstance(attributions, Attribution) else list(attributions)
    obj = HTML("".join(heatmap_html(a, vmax) for a in items))
    display(obj)
    return obj


def plot_heatmap(attribution: Attribution, vmax: float | None = None, width: float = 8.0, fontsize: int = 13,
                 title: bool = True):
    """The HTML heatmap drawn with matplotlib (words wrapped into lines), to save as PNG for a README."""
    a = attribution
    vmax = _scale(a.scores, vmax)
    words = [(a.features[i], a.scores[i]) for i in np.argsort([s for s, _ in a.spans], kind="stable")]
    fig = plt.figure(figsize=(width, 1.0))
    renderer = fig.canvas.get_renderer()
    dpi = fig.dpi
    pad_px, gap_px = 4, 10
    line_px = fontsize * dpi / 72 * 2.0
    max_px = width * dpi - 2 * pad_px
    # lay the words out in lines by measuring each rendered word
    placed, x, line = [], 0.0, 0
    for word, score in words:
        t = fig.text(0, 0, word, fontsize=fontsize)
        w = t.get_window_extent(renderer).width + 2 * pad_px
        t.remove()
        if x > 0 and x + w > max_px:
            x, line = 0.0, line + 1
        placed.append((word, score, x, line))
        x += w + gap_px
    n_lines = line + 1
    head_px = line_px * (1.2 if title else 0.3)
    height_px = head_px + n_lines * line_px + line_px * 0.9
    fig.set_size_inches(width, height_px / dpi)
    H = height_px
    for word, score, x, ln in placed:
        rgba = _rgba(score, vmax)
        y = H - head_px - (ln + 0.5) * line_px
        fig.text((x + pad_px + pad_px) / (width * dpi), y / H, word, fontsize=fontsize, va="center", ha="left",
                 color=_text_colour(rgba), bbox=dict(boxstyle="round,pad=0.25", facecolor=rgba, edgecolor="none"))
    if title:
        fig.text(pad_px / (width * dpi), 1 - 0.45 * line_px / H, _header(a), fontsize=max(fontsize - 4, 7),
                 color="#555555", va="center")
    # colour bar at the bottom
    cax = fig.add_axes([0.55, 0.12 * line_px / H, 0.4, 0.22 * line_px / H])
    norm = mcolors.Normalize(-vmax, vmax)
    cb = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=ATTRIBUTION_CMAP), cax=cax, orientation="horizontal")
    cb.ax.tick_params(labelsize=7)
    cb.set_ticks([-vmax, 0, vmax])
    cb.ax.set_xticklabels([f"−{vmax:.2g} against", "0", f"+{vmax:.2g} for '{a.target}'"])
    return fig


def plot_bars(attribution: Attribution, top: int | None = None, ax=None):
    """Horizontal bars of the feature scores in text order (or the `top` largest |scores|), red = for the target."""
    a = attribution
    idx = np.arange(len(a.features))
    if top is not None and top < len(idx):
        idx = np.sort(np.argsort(-np.abs(a.scores), kind="stable")[:top])
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.32 * len(idx) + 1.3))
    vmax = _scale(a.scores, None)
    vals = a.scores[idx]
    ax.barh(np.arange(len(idx)), vals, color=[_rgba(v, vmax) for v in vals], edgecolor="#555555", linewidth=0.5)
    ax.set_yticks(np.arange(len(idx)), [a.features[i] for i in idx])
    ax.invert_yaxis()
    ax.axvline(0, color="#333333", linewidth=0.8)
    ax.set_xlabel(f"attribution to {a.quantity} of '{a.target}'")
    p = a.probabilities.get(a.prediction, float("nan"))
    ax.set_title(f"{a.method}: predicted '{a.prediction}' (p={p:.2f})\n"
                 f"f(all) {a.value_full:+.2f}, f(none) {a.value_empty:+.2f}, sum of scores {a.scores.sum():+.2f}",
                 fontsize=10)
    ax.figure.tight_layout()
    return ax.figure


def _check_same_text(attributions: Sequence[Attribution]):
    if not attributions:
        raise ValueError("No attributions to compare.")
    first = attributions[0]
    for a in attributions[1:]:
        if tuple(a.features) != tuple(first.features):
            raise ValueError("A method grid needs the same text and granularity in every row; "
                             f"got {len(a.features)} features ({a.method}) vs {len(first.features)} ({first.method}).")


def _row_labels(attributions, labels):
    if labels is not None:
        if len(labels) != len(attributions):
            raise ValueError(f"{len(labels)} labels for {len(attributions)} rows.")
        return list(labels)
    return [a.method + (" (LoRA)" if "LoRA" in a.model else "") for a in attributions]


def method_grid_html(attributions: Sequence[Attribution], labels: Sequence[str] | None = None) -> str:
    """One text across methods as HTML: a row per method, scores normalised per row by its largest |score|."""
    _check_same_text(attributions)
    rows = []
    for label, a in zip(_row_labels(attributions, labels), attributions):
        rows.append(f'<tr><td style="padding:2px 8px;font-family:monospace;font-size:12px;color:#333333;'
                    f'white-space:nowrap;text-align:right">{html.escape(label)}</td>'
                    f'<td style="padding:0">{heatmap_html(a, header=False)}</td></tr>')
    a = attributions[0]
    cap = html.escape(f"target '{a.target}' · predicted '{a.prediction}' · each row scaled to its own largest |score|")
    return (f'<table style="border-collapse:collapse;background:#ffffff"><caption style="font-family:sans-serif;'
            f'font-size:12px;color:#555555;text-align:left">{cap}</caption>{"".join(rows)}</table>')


def plot_method_grid(attributions: Sequence[Attribution], labels: Sequence[str] | None = None, ax=None,
                     annotate: bool = True):
    """One text across methods: rows = methods, columns = words, colour = score / max |score| of the row.

    Normalising per row compares where each method puts its weight, not the methods' units (gradients and
    log-odds differences are on different scales). Unsigned methods (saliency) only use the red half.
    """
    _check_same_text(attributions)
    labels = _row_labels(attributions, labels)
    words = list(attributions[0].features)
    grid = np.array([a.scores / _scale(a.scores, None) for a in attributions])
    if ax is None:
        _, ax = plt.subplots(figsize=(0.62 * len(words) + 2.6, 0.45 * len(attributions) + 1.6))
    ax.imshow(grid, cmap=ATTRIBUTION_CMAP, vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(len(words)), words, rotation=45, ha="right", fontsize=9)
    ax.set_yticks(range(len(labels)), labels, fontsize=9)
    ax.set_xticks(np.arange(-0.5, len(words)), minor=True)
    ax.set_yticks(np.arange(-0.5, len(labels)), minor=True)
    ax.grid(which="minor", color="#ffffff", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    if annotate:
        for r in range(grid.shape[0]):
            for c in range(grid.shape[1]):
                ax.text(c, r, f"{grid[r, c]:+.1f}".replace("+0.0", "0").replace("-0.0", "0"), ha="center",
                        va="center", fontsize=7, color=_text_colour(_rgba(grid[r, c], 1.0)))
    a = attributions[0]
    ax.set_title(f"target '{a.target}' (predicted '{a.prediction}'); each row scaled to its largest |score|",
                 fontsize=10)
    ax.figure.tight_layout()
    return ax.figure
