"""Faithfulness and plausibility of every method (and a random baseline), zero-shot vs fine-tuned, on real tweets.

Fine-tunes the offline model on real binary tweets from train.csv, then explains other (held-out) non-neutral
train.csv tweets (their gold label; test.csv has no rationales) with each method for both models, and prints the
mean faithfulness (ERASER-style comprehensiveness/sufficiency AOPC, deletion/insertion AUC, LOO Spearman) and plausibility against Kaggle's
human `selected_text` rationales (AUPRC, token-F1@k, IOU@k).

    python bench/explanations.py [--n 50] [--methods shap feature_ablation ...]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from interp_kit import (ZeroShotClassifier, explain_many, faithfulness_report, fine_tune, load_model, load_tweets,
                        plausibility_report, setup)

TRAIN = "tweets-train"  # shipped real tweets with human rationales
METHODS = ["shap", "feature_ablation", "shapley_value_sampling", "kernel_shap", "lime", "integrated_gradients",
           "saliency", "input_x_gradient"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50, help="real tweets explained")
    ap.add_argument("--n-train", type=int, default=200)
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--budget", type=int, default=100, help="evaluations for shap, kernel_shap and lime")
    ap.add_argument("--svs-samples", type=int, default=5, help="orderings for shapley_value_sampling")
    ap.add_argument("--ig-steps", type=int, default=16, help="integration steps for integrated_gradients")
    ap.add_argument("--max-words", type=int, default=20, help="skip longer tweets (keeps the run short)")
    args = ap.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    rt = setup(seed=0)
    model, tok = load_model("offline", rt)
    zero_shot = ZeroShotClassifier(model, tok)
    train = load_tweets(TRAIN, label_space="binary", n=args.n_train, seed=0)
    # test.csv has no rationales: explain other train.csv tweets, never the ones fine-tuned on
    pool = load_tweets(TRAIN, label_space="binary", n=4 * args.n + args.n_train, seed=1)
    seen = set(train.ids)
    keep = [i for i, (t, tid) in enumerate(zip(pool.texts, pool.ids))
            if tid not in seen and len(t.split()) <= args.max_words][:args.n]
    assert len(keep) == args.n, f"only {len(keep)} held-out tweets of at most {args.max_words} words"
    tweets = pool.take(keep)
    t0 = time.perf_counter()
    fine_tuned = fine_tune(zero_shot, train, epochs=2, lr=3e-4, progress=False).classifier
    print(f"fine-tuned on {len(train)} real tweets in {time.perf_counter() - t0:.0f}s")
    for name, clf in [("zero-shot", zero_shot), ("fine-tuned", fine_tuned)]:
        attrs, cost = [], {}
        for method in args.methods:
            t0 = time.perf_counter()
            budget = {"feature_ablation": None, "saliency": None, "input_x_gradient": None,
                      "shapley_value_sampling": args.svs_samples, "integrated_gradients": args.ig_steps}.get(
                          method, args.budget)
            attrs += explain_many(clf, tweets.texts, method=method, target=tweets.labels, budget=budget)
            cost[method] = (time.perf_counter() - t0) / len(tweets)
        faith = faithfulness_report(clf, attrs)
        plaus = plausibility_report(attrs, tweets.rationales * len(args.methods), labels=tweets.labels * len(args.methods))
        table = faith.drop(columns=[c for c in ("quantity",) if c in faith]).join(
            plaus.drop(columns=[c for c in plaus.columns if c in faith.columns]), how="left")
        table["s/text"] = pd.Series(cost)
        print(f"\n{name}: {len(tweets)} real binary tweets of at most {args.max_words} words (gold label explained); "
              f"budgets: {args.budget} evaluations (shap, kernel_shap, lime), {args.svs_samples} orderings "
              f"(shapley_value_sampling), {args.ig_steps} steps (integrated_gradients)")
        print(table.round(3).to_string())


if __name__ == "__main__":
    main()
