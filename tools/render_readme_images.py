"""Render the README's pictures with the kit itself (offline model, real tweets shipped with the kit).

    python tools/render_readme_images.py            # writes docs/images/*.png

Every picture here is what a lesson shows: a word heatmap, one tweet across methods, the agreement of methods
over several tweets and the zero-shot confusion matrix.
"""
from __future__ import annotations

from pathlib import Path

from interp_kit import (ZeroShotClassifier, agreement_matrix, evaluate, explain, explain_many, load_model,
                        load_tweets, plot_agreement, plot_confusion_matrix, plot_heatmap, plot_method_grid, setup)
from interp_kit.io import save_figure

OUT = Path(__file__).resolve().parents[1] / "docs" / "images"
TWEET = "Back is SORE... should not have done that jump last night"  # a real tweet from data/tweets_test.csv
METHODS = {"shap": 300, "feature_ablation": None, "shapley_value_sampling": 20, "kernel_shap": 100, "lime": 100,
           "integrated_gradients": 32, "saliency": None, "input_x_gradient": None}


def main() -> None:
    runtime = setup(seed=0)
    model, tokenizer = load_model("offline", runtime)
    clf = ZeroShotClassifier(model, tokenizer, ("negative", "positive"))
    OUT.mkdir(parents=True, exist_ok=True)

    shap_attr = explain(clf, TWEET, method="shap", budget=METHODS["shap"])
    save_figure(plot_heatmap(shap_attr, width=7.5), OUT / "heatmap.png")

    per_method = [explain(clf, TWEET, method=m, budget=b, target=shap_attr.target) for m, b in METHODS.items()]
    save_figure(plot_method_grid(per_method), OUT / "method_grid.png")

    tweets = load_tweets("tweets", split="test", label_space="binary", n=12, seed=0).texts
    by_method = {m: explain_many(clf, tweets, method=m, budget=b) for m, b in METHODS.items()}
    save_figure(plot_agreement(agreement_matrix(by_method, "spearman")), OUT / "agreement.png")

    metrics = evaluate(clf, load_tweets("tweets", split="test", label_space="binary"))
    save_figure(plot_confusion_matrix(metrics, title=f"Zero-shot, {metrics['n']} real test tweets"),
                OUT / "confusion_matrix.png")
    print("wrote", ", ".join(sorted(p.name for p in OUT.glob("*.png"))), "to", OUT)


if __name__ == "__main__":
    main()
