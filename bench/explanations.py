"""Faithfulness and plausibility of every method (and a random baseline), zero-shot vs fine-tuned, on real tweets.

Fine-tunes the offline model on real binary tweets from train.csv, then explains the same non-neutral real
tweets (their gold label) with each method for both models, and prints the mean faithfulness (ERASER-style
comprehensiveness/sufficiency AOPC, deletion/insertion AUC, LOO Spearman) and plausibility against Kaggle's
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

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tweet_sentiment_extraction"
CHEAP = ["shap", "feature_ablation", "kernel_shap", "lime", "integrated_gradients", "saliency", "input_x_gradient"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50, help="real tweets explained")
    ap.add_argument("--n-train", type=int, default=200)
    ap.add_argument("--methods", nargs="+", default=CHEAP)
    ap.add_argument("--budget", type=int, default=100, help="budget of the methods that take one")
    ap.add_argument("--max-words", type=int, default=20, help="skip longer tweets (keeps the run short)")
    args = ap.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 20)
    rt = setup(seed=0)
    model, tok = load_model("offline", rt)
    zero_shot = ZeroShotClassifier(model, tok)
    train = load_tweets(str(DATA / "train.csv"), label_space="binary", n=args.n_train, seed=0)
    pool = load_tweets(str(DATA / "test.csv"), label_space="binary", n=4 * args.n, seed=1)
    keep = [i for i, t in enumerate(pool.texts) if len(t.split()) <= args.max_words][:args.n]
    tweets = pool.take(keep)
    t0 = time.perf_counter()
    fine_tuned = fine_tune(zero_shot, train, epochs=2, lr=3e-4, progress=False).classifier
    print(f"fine-tuned on {len(train)} real tweets in {time.perf_counter() - t0:.0f}s")
    for name, clf in [("zero-shot", zero_shot), ("fine-tuned", fine_tuned)]:
        attrs, cost = [], {}
        for method in args.methods:
            t0 = time.perf_counter()
            budget = None if method in {"feature_ablation", "saliency", "input_x_gradient"} else args.budget
            attrs += explain_many(clf, tweets.texts, method=method, target=tweets.labels, budget=budget)
            cost[method] = (time.perf_counter() - t0) / len(tweets)
        faith = faithfulness_report(clf, attrs)
        plaus = plausibility_report(attrs, tweets.rationales * len(args.methods), labels=tweets.labels * len(args.methods))
        table = faith.drop(columns=[c for c in ("quantity",) if c in faith]).join(
            plaus.drop(columns=[c for c in plaus.columns if c in faith.columns]), how="left")
        table["s/text"] = pd.Series(cost)
        print(f"\n{name}: {len(tweets)} real binary tweets (gold label explained), budget {args.budget}")
        print(table.round(3).to_string())


if __name__ == "__main__":
    main()
