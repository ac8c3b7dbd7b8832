"""Benchmark and measure the trust tests of lesson 07 on the offline model and real held-out train tweets.

* Counterfactual search cost: forward passes (scored masked tweets, the attribution's own included) and seconds of
  the attribution-guided searches and random order against exhaustive search, with flip rate, edit size and how
  often each search found the exhaustive minimum (tweets of 4 to 12 words).
* The randomisation sweep: the kit's cascade (one model copy re-initialised cumulatively, every explanation's
  masks batched) against re-building a randomised copy for every step (`randomized_classifier`), in seconds,
  with the largest difference of the scores (the same seeds give the same weights); then the sanity table.
* The model's own explanations: margin drop, flip rate and token F1 of the words the model names (post hoc and
  chain of thought) against as many top-SHAP words and random words.

Usage: python bench/trust.py [--n-tweets 20] [--n-sanity 6] [--n-self 20] [--budget 100] [--skip ...]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)


def tweets_for(n: int, seed: int = 0, max_words: int = 12, three: bool = False):
    """Held-out real train tweets of 4..max_words words (the same split as lessons 05 and 07)."""
    from interp_kit import load_tweets

    pool = load_tweets("tweets", split="train", label_space="three" if three else "binary")
    _, held_out = pool.split(200, seed=0)
    short = held_out.take([i for i, t in enumerate(held_out.texts) if 4 <= len(t.split()) <= max_words])
    return short.subset(n, seed=seed)


def bench_counterfactuals(clf, tweets, budget: int):
    from interp_kit import counterfactual_report, counterfactual_table

    searches = ["exhaustive", "shap", "feature_ablation", "integrated_gradients", "input_x_gradient", "random"]
    table = counterfactual_table(clf, tweets, searches=searches, budget=budget, budgets={"integrated_gradients": 16},
                                 random_repeats=3, progress=True)
    report = counterfactual_report(table)
    print(f"\n## Counterfactual search ({len(tweets)} real tweets of 4-12 words, zero-shot offline model)")
    print(report.round(3).to_string())
    ratio = report["evaluations"] / report.loc["exhaustive", "evaluations"]
    print("\nforward passes relative to exhaustive search:", ratio.round(2).to_dict())
    print("all flips verified by rescoring the edited text:", bool(table.verified.fillna(True).all()))
    return table, report


def bench_sweep(clf, tweets, budget: int, methods):
    from interp_kit import cascade_steps, explain, randomization_sweep, randomized_classifier

    texts = tweets.texts
    start = time.perf_counter()
    result = randomization_sweep(clf, texts, methods=methods, n_steps=4, budget=budget,
                                 budgets={"integrated_gradients": 16}, progress=True)
    kit_s = time.perf_counter() - start
    # the naive alternative: a fresh randomised copy per step, each re-drawing every step up to it
    steps = cascade_steps(clf.model, 4)
    start = time.perf_counter()
    worst = 0.0
    targets = clf.predict(texts)
    for i, step in enumerate(steps):
        copy_clf = randomized_classifier(clf, steps[:i + 1])
        for method in methods:
            b = budget if method != "integrated_gradients" else 16
            for j, (text, target) in enumerate(zip(texts, targets)):
                e = explain(copy_clf, text, method=method, target=target, budget=b, seed=0)
                kit = result.explanations[(step.name, method)][j]
                worst = max(worst, float(np.max(np.abs(e.scores - kit.scores))))
        del copy_clf
    naive_s = time.perf_counter() - start + sum(
        e.seconds for m in methods for e in result.explanations[("original", m)])
    n_expl = len(result.table)
    print(f"\n## Randomisation sweep ({len(texts)} tweets x {len(methods)} methods x {len(result.steps)} steps)")
    print(f"kit (one copy, cumulative, batched masks): {kit_s:.1f} s ({kit_s / n_expl:.3f} s per explanation)")
    print(f"a fresh randomised copy per step:           {naive_s:.1f} s; largest score difference {worst:.2e}")
    print("\nmean rank similarity to the original explanation (signed, absolute):")
    print(result.similarity().round(2).to_string())
    print("\nsanity table (threshold 0.5; passes = below it after the full cascade):")
    print(result.summary(0.5).round(2).to_string())
    print("\nshare of tweets whose label the randomised model keeps:", {k: round(v, 2) for k, v in
                                                                      result.accuracy.items()})
    return result


def bench_self(clf, tweets, budget: int):
    from interp_kit import self_explanation_report, self_explanation_table

    table = self_explanation_table(clf, tweets, method="shap", budget=budget, n_random=20, progress=True)
    report = self_explanation_report(table)
    print(f"\n## The model's own explanations ({len(tweets)} real tweets with human rationales)")
    print(report.round(3).to_string())
    return table, report


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-tweets", type=int, default=20, help="tweets for the counterfactual searches")
    parser.add_argument("--n-sanity", type=int, default=6, help="tweets for the randomisation sweep")
    parser.add_argument("--n-self", type=int, default=20, help="tweets for the self-explanations")
    parser.add_argument("--budget", type=int, default=100, help="SHAP max_evals (and other sampling budgets)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["counterfactuals", "sweep", "self"])
    args = parser.parse_args()

    from interp_kit import ZeroShotClassifier, load_model, setup

    runtime = setup(seed=0, verbose=False)
    model, tokenizer = load_model("offline", runtime)
    clf = ZeroShotClassifier(model, tokenizer, ("negative", "positive"))
    if "counterfactuals" not in args.skip:
        bench_counterfactuals(clf, tweets_for(args.n_tweets, seed=1), args.budget)
    if "sweep" not in args.skip:
        bench_sweep(clf, tweets_for(args.n_sanity, seed=2), args.budget,
                    ("shap", "feature_ablation", "integrated_gradients", "input_x_gradient", "saliency"))
    if "self" not in args.skip:
        bench_self(clf, tweets_for(args.n_self, seed=3, max_words=30), args.budget)


if __name__ == "__main__":
    main()
