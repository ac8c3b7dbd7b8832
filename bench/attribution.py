"""Benchmark the attribution engine against captum's LLMAttribution and shap's default batching.

Everything is measured side by side in one run, on the offline model and real tweets from test.csv:

* FeatureAblation and ShapleyValueSampling (n_samples=20, same seed): seconds per explanation of captum's
  LLMAttribution (one prompt per forward pass) and of `explain` (masks batched, prompt prefix cached), and the
  largest absolute difference of the attributions (quantity log_prob, the predicted label's token).
* Throughput: our engine's computed tokens/s against a plain batched forward (full prompts, left padded, no
  cache) over the same masked sequences; "computed" counts the real (non-pad) tokens each one runs through the
  model. The effective rate (full-prompt tokens represented per second) shows what the prefix cache saves.
* SHAP Partition: seconds per explanation with shap's default text-masker batch size (5) and with ours (512),
  and the largest difference.

Usage: python bench/attribution.py [--n-texts 20] [--svs-captum-texts 5] [--csv PATH]
"""
from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CSV = "tweets-test"  # the shipped real-tweet sample; pass the full Kaggle test.csv with --csv


def run_llm_attribution(clf, algorithm, text, target, seed, **kwargs):
    """captum's LLMAttribution on the same token sequences as ours (checked first); (scores, seconds)."""
    from interp_kit.attribution.reference import llm_attribution

    scores, _, seconds = llm_attribution(clf, algorithm, text, target, seed=seed, **kwargs)
    return scores, seconds


def throughput(clf, texts, n_samples, seed, batch_size):
    """Computed tokens/s of MaskScorer and of a plain batched forward over the same ShapleyValueSampling masks."""
    from captum.attr import ShapleyValueSampling

    from interp_kit.attribution import MaskScorer
    from interp_kit.attribution import score_masks

    ours_s = plain_s = 0.0
    ours_tok = plain_tok = 0
    for text in texts:
        scorer = MaskScorer(clf, text, batch_size=batch_size)
        x = torch.ones(1, scorer.n_features)
        recorded = []

        def record(m):  # collect the masks ShapleyValueSampling asks for with this seed (no model call)
            recorded.append(m.numpy() > 0.5)
            return torch.zeros(m.shape[0])

        torch.manual_seed(seed)
        ShapleyValueSampling(record).attribute(x, baselines=torch.zeros_like(x), n_samples=n_samples,
                                               feature_mask=torch.arange(scorer.n_features)[None],
                                               perturbations_per_eval=4096)
        masks = np.unique(np.concatenate(recorded), axis=0)
        conts = [scorer.continuation(m) for m in masks]
        start = time.perf_counter()
        score_masks(scorer, masks)
        ours_s += time.perf_counter() - start
        ours_tok += sum(len(c) for c in conts)
        full = [list(clf.prefix_ids) + c for c in conts]
        order = np.argsort([len(s) for s in full], kind="stable")
        start = time.perf_counter()
        for i in range(0, len(full), batch_size):
            clf.label_logits_from_ids([full[j] for j in order[i:i + batch_size]], with_log_z=True)
        plain_s += time.perf_counter() - start
        plain_tok += sum(len(s) for s in full)
    return {"ours_tok_s": ours_tok / ours_s, "plain_tok_s": plain_tok / plain_s,
            "ours_effective_tok_s": plain_tok / ours_s, "n_sequences_tokens": (ours_tok, plain_tok)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-texts", type=int, default=20)
    parser.add_argument("--svs-captum-texts", type=int, default=None,
                        help="texts for captum's (slow) ShapleyValueSampling; default: all")
    parser.add_argument("--throughput-texts", type=int, default=None, help="texts for the tokens/s figures; default: all")
    parser.add_argument("--n-samples", type=int, default=20)
    parser.add_argument("--shap-evals", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--csv", default=str(DEFAULT_CSV))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="offline")
    parser.add_argument("--parts", nargs="+", default=["fa", "svs", "throughput", "shap"],
                        choices=["fa", "svs", "throughput", "shap"], help="which comparisons to run")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    from captum.attr import FeatureAblation, ShapleyValueSampling

    from interp_kit import ZeroShotClassifier, load_model, load_tweets, setup
    from interp_kit.attribution import explain

    runtime = setup(seed=args.seed, verbose=False)
    model, tokenizer = load_model(args.model, runtime)
    clf = ZeroShotClassifier(model, tokenizer, ("negative", "positive"))
    texts = load_tweets(args.csv, label_space="binary", n=args.n_texts, seed=args.seed).texts
    preds = clf.predict(texts)
    n_words = [len(t.split()) for t in texts]
    print(f"load average at the start: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} cores")
    print(f"{len(texts)} tweets from {args.csv}: {np.mean(n_words):.1f} words on average "
          f"(min {min(n_words)}, max {max(n_words)}); torch threads {torch.get_num_threads()}; {runtime.device}")
    explain(clf, texts[0], method="feature_ablation")  # warm-up
    rows = []

    def compare(name, algorithm, method, subset, budget=None, **captum_kwargs):
        t_theirs, t_ours, diff = [], [], 0.0
        for text, pred in zip(texts[:subset], preds[:subset]):
            theirs, sec = run_llm_attribution(clf, algorithm, text, pred, args.seed, **captum_kwargs)
            t_theirs.append(sec)
            ours = explain(clf, text, method=method, target=pred, quantity="log_prob", budget=budget, seed=args.seed,
                           batch_size=args.batch_size)
            t_ours.append(ours.seconds)
            diff = max(diff, float(np.abs(ours.scores - theirs).max()))
        print(f"  {name}: {np.mean(t_theirs):.2f}s vs {np.mean(t_ours):.2f}s per text, max |diff| {diff:.1e}")
        rows.append((name, subset, np.mean(t_theirs), np.mean(t_ours), diff))

    if "fa" in args.parts:
        print("FeatureAblation ...")
        compare("FeatureAblation", FeatureAblation, "feature_ablation", len(texts))
    if "svs" in args.parts:
        svs_n = args.svs_captum_texts or len(texts)
        print(f"ShapleyValueSampling (n_samples={args.n_samples}) ...")
        compare(f"ShapleyValueSampling n={args.n_samples}", ShapleyValueSampling, "shapley_value_sampling", svs_n,
                budget=args.n_samples, n_samples=args.n_samples)

    tp = None
    if "throughput" in args.parts:
        print("throughput ...")
        tp = throughput(clf, texts[:args.throughput_texts or len(texts)], args.n_samples, args.seed, args.batch_size)
        print(f"  plain {tp['plain_tok_s']:.0f} tok/s, ours {tp['ours_tok_s']:.0f} tok/s computed, "
              f"{tp['ours_effective_tok_s']:.0f} tok/s effective")

    t_default, t_ours, shap_diff, shap_diff_full, n_full = [], [], 0.0, 0.0, 0
    if "shap" in args.parts:
        print("SHAP ...")
    for text, pred in zip(texts, preds) if "shap" in args.parts else []:
        a = explain(clf, text, method="shap", target=pred, budget=args.shap_evals, shap_batch_size="auto",
                    batch_size=args.batch_size)
        b = explain(clf, text, method="shap", target=pred, budget=args.shap_evals, batch_size=args.batch_size)
        t_default.append(a.seconds)
        t_ours.append(b.seconds)
        d = float(np.abs(a.scores - b.scores).max())
        shap_diff = max(shap_diff, d)
        # Partition expands its word hierarchy batch by batch until max_evals: with the whole hierarchy expanded
        # the batch size cannot matter, otherwise the two runs stop at different nodes (both exact in sum)
        if max(a.extras["requested_evaluations"], b.extras["requested_evaluations"]) < args.shap_evals:
            shap_diff_full, n_full = max(shap_diff_full, d), n_full + 1

    if t_default:
        print(f"  shap: {np.mean(t_default):.2f}s vs {np.mean(t_ours):.2f}s, max |diff| {shap_diff:.1e}; on the "
              f"{n_full} tweets whose word hierarchy is fully expanded within max_evals: {shap_diff_full:.1e}")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} cores")
    print()
    print("| comparison | texts | baseline s/text | ours s/text | speed-up | max abs diff |")
    print("|---|---|---|---|---|---|")
    for name, n, theirs, ours, diff in rows:
        print(f"| {name}: LLMAttribution vs explain | {n} | {theirs:.2f} | {ours:.2f} | {theirs / ours:.1f}x | "
              f"{diff:.1e} |")
    if t_default:
        print(f"| SHAP Partition max_evals={args.shap_evals}: batch 5 (shap default) vs 512 | {len(texts)} | "
              f"{np.mean(t_default):.2f} | {np.mean(t_ours):.2f} | {np.mean(t_default) / np.mean(t_ours):.1f}x | "
              f"{shap_diff:.1e} |")
    if tp is None:
        return 0
    print()
    print(f"| throughput (ShapleyValueSampling masks, batch {args.batch_size}) | tokens/s |")
    print("|---|---|")
    print(f"| plain batched forward, full prompts, no cache (computed tokens) | {tp['plain_tok_s']:.0f} |")
    print(f"| our engine, prefix cached (computed tokens) | {tp['ours_tok_s']:.0f} "
          f"({tp['ours_tok_s'] / tp['plain_tok_s']:.0%} of plain) |")
    print(f"| our engine, full-prompt tokens represented per second | {tp['ours_effective_tok_s']:.0f} "
          f"({tp['ours_effective_tok_s'] / tp['plain_tok_s']:.1f}x plain) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
