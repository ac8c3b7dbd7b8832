"""Pictures: confusion matrices and metric comparisons (attribution pictures live beside them)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_confusion_matrix", "plot_metrics_comparison"]


def plot_confusion_matrix(metrics: dict, title: str = "Confusion matrix", ax=None):
    """Counts with row-normalised colour (rows = gold labels), from `classification_metrics` output."""
    cm = np.asarray(metrics["confusion_matrix"])
    labels = metrics["labels"]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.4 * len(labels) + 1.6, 1.2 * len(labels) + 1.2))
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{cm[i, j]}\n{norm[i, j]:.0%}", ha="center", va="center",
                    color="white" if norm[i, j] > 0.6 else "black", fontsize=9)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(f"{title}\nacc {metrics['accuracy']:.3f} · MCC {metrics['mcc']:.3f}", fontsize=10)
    return ax.figure


def plot_metrics_comparison(results: dict[str, dict], title: str = "Zero-shot vs fine-tuned"):
    """Grouped bars of accuracy, macro-F1, MCC and per-class F1 for each named result (e.g. zero-shot, fine-tuned)."""
    names = list(results)
    first = results[names[0]]
    keys = ["accuracy", "macro F1", "MCC"] + [f"F1 {c}" for c in first["labels"]]

    def values(m):
        return [m["accuracy"], m["macro"]["f1"], m["mcc"]] + [m["per_class"][c]["f1"] for c in first["labels"]]

    fig, ax = plt.subplots(figsize=(1.1 * len(keys) + 2, 3.6))
    width = 0.8 / len(names)
    x = np.arange(len(keys))
    for k, name in enumerate(names):
        bars = ax.bar(x + (k - (len(names) - 1) / 2) * width, values(results[name]), width, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=7)
    ax.set_xticks(x, keys, rotation=20)
    ax.set_ylim(min(0, min(min(values(m)) for m in results.values())) - 0.05, 1.08)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig
