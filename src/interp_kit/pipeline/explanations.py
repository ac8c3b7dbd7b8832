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

from ..attribution import explain_many
from ..evaluation.statistics import compare_explanations, explanation_summary, word_importance
from ..evaluation.faithfulness import faithfulness_report
from ..io import atomic_write_json, atomic_write_text, save_figure
from ..evaluation.plausibility import plausibility_report
from ..viz.evaluation import plot_shap_summary

__all__ = ["run_explanation_stage"]


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
