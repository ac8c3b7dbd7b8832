"""The explanation stage of `interp-kit run --run-shap`: SHAP for both models, then every explanation metric.

Both models explain the same texts and the same target (the gold label), so their attributions measure the same
quantity and can be compared example by example. Summaries are per label: averaging attributions across labels
cancels them (the seed's bug).
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from .attribution import explain_many
from .explanation_metrics import compare_explanations, explanation_summary
from .faithfulness import faithfulness_report
from .io import atomic_write_json, atomic_write_text, save_figure
from .plausibility import plausibility_report

__all__ = ["run_explanation_stage", "plot_shap_summary", "word_importance"]


def word_importance(attributions, min_count: int = 1) -> dict[str, list[tuple[str, float, int]]]:
    """Per explained label: (word, mean score toward that label, count), lowercased words, largest |mean| first."""
    by_label: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for attr in attributions:
        for word, score in zip(attr.features, attr.scores):
            key = word.lower().strip(".,!?;:\"'()")
            if key:
                by_label[attr.target][key].append(float(score))
    out = {}
    for label, words in by_label.items():
        rows = [(w, float(np.mean(v)), len(v)) for w, v in words.items() if len(v) >= min_count]
        out[label] = sorted(rows, key=lambda r: -abs(r[1]))
    return out


def plot_shap_summary(attributions, title: str, top: int = 12):
    """One panel per explained label: the words that most raise or lower that label's score, on average."""
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


def run_explanation_stage(zero_shot, fine_tuned, evals, output_dir, n: int = 20, budget: int = 200,
                          seed: int = 0, method: str = "shap") -> dict:
    """Explain `n` eval tweets with both models, write the seed's SHAP artifacts and the explanation metrics."""
    out = Path(output_dir)
    subset = evals.subset(n, seed=seed)
    models = {"zero_shot": zero_shot}
    if fine_tuned is not None:
        models["fine_tuned"] = fine_tuned
    attributions, faithfulness, plausibility, summaries = {}, {}, {}, {}
    for name, clf in models.items():
        attrs = explain_many(clf, subset.texts, method=method, target=subset.labels, budget=budget, seed=seed)
        attributions[name] = attrs
        atomic_write_json(out / f"{name}_shap.json", {
            "method": method, "budget": budget, "target": "gold label", "quantity": attrs[0].quantity,
            "model": attrs[0].model, "ids": subset.ids, "explanations": [a.to_dict() for a in attrs]})
        pretty = name.replace("_", "-")
        save_figure(plot_shap_summary(attrs, f"{pretty}: which words move each label ({method}, {len(attrs)} tweets)"),
                    out / f"{name}_shap_summary.png")
        plt.close("all")
        faithfulness[name] = faithfulness_report(clf, attrs, seed=seed, progress=False)
        plausibility[name] = plausibility_report(attrs, subset.rationales, labels=subset.labels, seed=seed)
        summaries[name] = explanation_summary(attrs)
    report = {
        "method": method, "budget": budget, "n_texts": len(subset), "target": "gold label",
        "summary": {name: {"mean_abs": float(s["mean_abs"].mean()), "gini": float(s["gini"].mean()),
                           "entropy": float(s["entropy"].mean())} for name, s in summaries.items()},
        "per_example": {name: s.to_dict(orient="records") for name, s in summaries.items()},
        "faithfulness": {name: df.reset_index().to_dict(orient="records") for name, df in faithfulness.items()},
        "plausibility": {name: df.reset_index().to_dict(orient="records") for name, df in plausibility.items()},
        "word_importance": {name: {lab: rows[:20] for lab, rows in word_importance(a).items()}
                            for name, a in attributions.items()},
    }
    if fine_tuned is not None:
        report["zero_shot_vs_fine_tuned"] = compare_explanations(attributions["zero_shot"], attributions["fine_tuned"],
                                                                 seed=seed).to_dict()
    atomic_write_json(out / "interpretability_metrics.json", report)
    for name in models:
        atomic_write_text(out / f"{name}_faithfulness.csv", faithfulness[name].to_csv())
        atomic_write_text(out / f"{name}_plausibility.csv", plausibility[name].to_csv())
    return report["summary"]
