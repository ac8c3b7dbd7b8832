"""Pictures of explanation quality: method agreement, deletion/insertion curves, the per-word summary."""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..evaluation.faithfulness import Curve

__all__ = ["plot_agreement", "plot_curves", "plot_shap_summary"]


def plot_agreement(matrix: pd.DataFrame, title: str | None = None, ax=None):
    """Heatmap of an `agreement_matrix` with the values written in; returns the matplotlib Figure.

    Correlations use a diverging map on [−1, 1]; top-k overlap a sequential map on [0, 1].
    """

    metric = matrix.attrs.get("metric", "agreement")
    overlap = "overlap" in str(metric)
    vmin, cmap = (0.0, "viridis") if overlap else (-1.0, "RdBu_r")
    n = len(matrix)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.9 * n + 2.4, 0.8 * n + 1.6))
    values = matrix.to_numpy(float)
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=1.0)
    for i in range(n):
        for j in range(matrix.shape[1]):
            v = values[i, j]
            text = "–" if not np.isfinite(v) else f"{v:.2f}"
            dark = np.isfinite(v) and (abs(v) > 0.6 if not overlap else v < 0.5)
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if dark else "black")
    ax.set_xticks(range(matrix.shape[1]), matrix.columns, rotation=35, ha="right")
    ax.set_yticks(range(n), matrix.index)
    ax.set_title(title or f"Agreement between methods ({metric}, mean over texts)", fontsize=10)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.figure.tight_layout()
    return ax.figure


def plot_curves(curves: Mapping[str, "Curve"], title: str | None = None, ax=None):
    """Deletion or insertion curves of several methods on one text, AUC in the legend; returns the Figure."""

    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 3.4))
    kinds = {c.kind for c in curves.values()}
    for name, c in curves.items():
        style = dict(color="grey", ls="--") if name == "random" else {}
        ax.plot(c.x, c.y, marker="o", ms=3, label=f"{name} (AUC {c.auc:.2f})", **style)
    kind = kinds.pop() if len(kinds) == 1 else "deletion/insertion"
    ax.set_xlabel(f"fraction of words {'removed' if kind == 'deletion' else 'inserted'}")
    ax.set_ylabel("explained quantity")
    better = {"deletion": "lower AUC is better", "insertion": "higher AUC is better"}.get(kind, "")
    ax.set_title(title or f"{kind.capitalize()} curves ({better})", fontsize=10)
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def plot_shap_summary(attributions, title: str, top: int = 12):
    """One panel per explained label: the words that most raise or lower that label's score, on average."""
    from ..evaluation.statistics import word_importance

    table = word_importance(attributions)
    labels = sorted(table)
    fig, axes = plt.subplots(1, len(labels), figsize=(4.2 * len(labels), 0.32 * top + 1.4), squeeze=False)
    for ax, label in zip(axes[0], labels):
        rows = table[label][:top][::-1]
        vals = [r[1] for r in rows]
        ax.barh([f"{r[0]} (×{r[2]})" for r in rows], vals, color=["#c0392b" if v < 0 else "#2e86c1" for v in vals])
        ax.axvline(0, color="grey", lw=0.7)
        ax.set_title(f"toward '{label}'", fontsize=10)
        ax.set_xlabel("mean attribution (log-odds)")
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
