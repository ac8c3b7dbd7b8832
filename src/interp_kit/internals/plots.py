"""Plots of the internals: curves over layers, layer × position heatmaps, attention per layer and head."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_layer_curves", "plot_layer_position", "plot_patching", "plot_probe_curves", "plot_attention_heads"]


def plot_layer_curves(summaries: dict, column: str, ylabel: str, ax=None):
    """One line per model: `column` over layers, with its [low, high] band when the table has one."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2))
    for name, table in summaries.items():
        x = np.arange(len(table))
        ax.plot(x, table[column].to_numpy(), marker=".", label=name)
        if "low" in table and "high" in table:
            ax.fill_between(x, table["low"].to_numpy(), table["high"].to_numpy(), alpha=0.2)
        ax.set_xticks(x[::max(1, len(x) // 16)], list(table.index)[::max(1, len(x) // 16)])
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("layer (emb = token embeddings)")
    ax.set_ylabel(ylabel)
    ax.legend()
    return ax.figure


def plot_probe_curves(results: dict, ax=None):
    """Probe accuracy (task, solid) and control accuracy (dashed) per layer for each model."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2))
    for name, res in results.items():
        t = res.table
        x = np.arange(len(t))
        line, = ax.plot(x, t["task acc"], marker=".", label=f"{name}: sentiment")
        if "control acc" in t:
            ax.plot(x, t["control acc"], ls="--", color=line.get_color(), label=f"{name}: control task")
        ax.set_xticks(x[::max(1, len(x) // 16)], list(t.index)[::max(1, len(x) // 16)])
        ax.axhline(t["majority"].iloc[0], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("layer (emb = token embeddings)")
    ax.set_ylabel("cross-validated accuracy")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    return ax.figure


def plot_layer_position(values: np.ndarray, tokens, title: str, ax=None, center: float | None = None,
                        layer_labels=None, cmap: str = "RdBu_r"):
    """A (layers, positions) heatmap with tokens on the x axis."""
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5, 0.55 * len(tokens) + 2), 4.5))
    vmax = float(np.nanmax(np.abs(values - (center or 0)))) or 1.0
    lo, hi = ((center - vmax, center + vmax) if center is not None else (None, None))
    im = ax.imshow(values, aspect="auto", origin="lower", cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
    ax.set_xticks(range(len(tokens)), [repr(t)[1:-1] for t in tokens], rotation=60, ha="right", fontsize=8)
    if layer_labels is not None:
        step = max(1, len(layer_labels) // 12)
        ax.set_yticks(range(0, len(layer_labels), step), list(layer_labels)[::step])
    ax.set_ylabel("layer")
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(im, ax=ax, fraction=0.03)
    ax.figure.tight_layout()
    return ax.figure


def plot_patching(result, kinds=None):
    """One heatmap per patched kind: normalised recovery of the clean margin per layer and position."""
    kinds = list(result.recovery) if kinds is None else list(kinds)
    fig, axes = plt.subplots(1, len(kinds), figsize=(max(6, 0.45 * len(result.tokens) + 2) * len(kinds) * 0.8, 4.5),
                             squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        r = result.recovery[kind]
        vmax = max(1.0, float(np.nanmax(np.abs(r))))
        im = ax.imshow(r, aspect="auto", origin="lower", cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                       interpolation="nearest")
        ax.set_xticks(range(len(result.tokens)), [repr(t)[1:-1] for t in result.tokens], rotation=60, ha="right",
                      fontsize=8)
        step = max(1, len(result.layers) // 10)
        ax.set_yticks(range(0, len(result.layers), step), result.layers[::step])
        ax.set_title(f"patch {kind}", fontsize=10)
        ax.set_ylabel("layer")
    fig.colorbar(im, ax=axes[0].tolist(), fraction=0.03, label="recovery")
    fig.suptitle(f"clean {result.clean!r} → corrupted {result.corrupt!r}: margin of '{result.target}' "
                 f"{result.clean_margin:.2f} vs {result.corrupt_margin:.2f}", fontsize=10)
    return fig


def plot_attention_heads(att, layer, ax=None):
    """One layer's heads: each head's answer-row weight on the first token, the instruction, the tweet, the cue."""
    import pandas as pd

    rows = [att.shares(layer, h) for h in range(att.n_heads)]
    table = pd.DataFrame(rows, index=pd.RangeIndex(att.n_heads, name="head"))
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    table.plot.bar(stacked=True, ax=ax, width=0.85)
    ax.set_ylabel("answer position's attention")
    ax.set_title(f"layer {layer}: where each head looks from the answer position", fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    return ax.figure
