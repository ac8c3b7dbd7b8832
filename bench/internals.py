"""Benchmark and replicate the internals (lesson 06) on the offline model and real tweets.

* patching: the full layer × position sweep (resid_pre, attn_out, mlp_out) of one minimal pair, batched
  (`patch_sweep`: many patches per forward pass, grouped by position so the corrupted run's keys/values before the
  patched position are reused), against one forward pass per patch: (a) the whole prompt, as a plain hooked loop
  would run it, and (b) the cached-prefix continuation, batch 1 (isolates the batching). The per-patch loops run on a
  seeded sample of the patches (--naive-sample) and are extrapolated to the full sweep; values are compared on
  that sample (margin and normalised recovery).
* probes: tokens/s of collecting every layer's answer-position residual (`residual_stream`, one hooked forward per
  batch) against the plain batched forward of the same tweets (`engine.label_logits`, no hooks): same computed
  tokens, so the ratio is the hooks' overhead.
* --nnsight: the same answer-position readout of every layer through nnsight 0.8.1 (`LanguageModel(model,
  tokenizer=tok)`, `pip install nnsight==0.8.1`) against the engine's plain forward hooks, on the same left-padded
  whole prompts and batches (values compared), and against the kit's path (prompt prefix cached): why the kit
  reads activations with plain hooks.
* --float64 SAMPLE: the sweep against one whole prompt per patch again on a float64 copy of the model, values only:
  what is left of the float32 difference once rounding is gone.
* --replication N: "Attention is not explanation" (Jain & Wallace 2019) on N real test tweets: Kendall τ of
  attention / rollout vs leave-one-out and SHAP, and faithfulness of every ranking against random.
* --curves: logit lens and probe accuracy per layer, zero-shot vs fine-tuned (LoRA on --n-train train tweets),
  on --n-curve test tweets.

Usage: python bench/internals.py [--threads 2] [--naive-sample 120] [--nnsight] [--replication 100] [--curves]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import torch

PAIR = ("I love this movie", "I hate this movie")


def bench_patching(clf, sample: int, seed: int = 0) -> dict:
    from interp_kit import Patching, patch_sweep

    t0 = time.perf_counter()
    result = patch_sweep(clf, *PAIR, progress=False)
    batched_s = time.perf_counter() - t0
    setup = Patching(clf, *PAIR)
    hooks = setup.hooks
    jobs = [(k, li, p) for k in result.margins for li in range(len(result.layers)) for p in range(len(result.tokens))]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(jobs), size=min(sample, len(jobs)), replace=False)
    acts = setup.clean_acts(sorted({f"{k}.{result.layers[li]}" for k, li, _ in jobs}))
    whole_clean = hooks.run([setup.clean_ids], read=sorted(acts))
    p0 = len(clf.prefix_ids)

    def whole(kind, layer, pos):  # one forward of the whole prompt per patch: the plain hooked loop
        name = f"{kind}.{layer}"
        src = whole_clean.acts[name]

        def write(act, positions):
            act = act.clone()
            act[:, p0 + pos] = src[:, p0 + pos].to(act.dtype)
            return act
        return float(_margin(hooks.run([setup.corrupt_ids], write={name: write}).label_logits, setup.target))

    t0 = time.perf_counter()
    whole_vals = np.array([whole(*_job(jobs[j], result)) for j in pick])
    whole_s = (time.perf_counter() - t0) / len(pick) * len(jobs)
    t0 = time.perf_counter()
    cached_vals = np.array([setup.margins([[(f"{jobs[j][0]}.{result.layers[jobs[j][1]]}", [jobs[j][2]])]])[0]
                            for j in pick])
    cached_s = (time.perf_counter() - t0) / len(pick) * len(jobs)
    batched_vals = np.array([result.margins[jobs[j][0]][jobs[j][1], jobs[j][2]] for j in pick])
    return {"patches": len(jobs), "forward passes (batched)": result.forward_passes,
            "batched s": batched_s, "one whole prompt per patch s (extrapolated)": whole_s,
            "one cached-prefix run per patch s (extrapolated)": cached_s,
            "speed-up vs whole prompt per patch": whole_s / batched_s,
            "speed-up vs cached prefix per patch": cached_s / batched_s,
            "max |margin diff| vs whole": float(np.abs(batched_vals - whole_vals).max()),
            "max |margin diff| vs cached": float(np.abs(batched_vals - cached_vals).max()),
            "max |recovery diff| vs whole": float(np.abs(setup.recovery(batched_vals) - setup.recovery(whole_vals)).max()),
            "sampled patches": len(pick)}


def _job(job, result):
    kind, li, pos = job
    return kind, result.layers[li], pos


def _margin(label_logits, target):
    from interp_kit.internals import label_margin

    return label_margin(label_logits, target)[0]


def bench_probes(clf, n: int, batch_size: int = 16, repeats: int = 2) -> dict:
    from interp_kit import load_tweets, residual_stream

    tweets = load_tweets("tweets", split="train", label_space="binary", n=n, seed=2)
    ids = [list(clf.tokenize_tweet(t).token_ids) for t in tweets.texts]
    tokens = sum(len(t) + len(clf.suffix_ids) for t in ids)  # computed tokens after the cached prefix (both paths)
    residual_stream(clf, tweets.texts[:batch_size], batch_size=batch_size, progress=False)  # warm-up
    best = {"plain": np.inf, "probe": np.inf}
    for _ in range(repeats):
        t0 = time.perf_counter()
        clf.engine.label_logits(ids, batch_size=batch_size, progress=False)
        best["plain"] = min(best["plain"], time.perf_counter() - t0)
        t0 = time.perf_counter()
        residual_stream(clf, tweets.texts, batch_size=batch_size, progress=False)
        best["probe"] = min(best["probe"], time.perf_counter() - t0)
    return {"tweets": n, "computed tokens": tokens, "plain forward tok/s": tokens / best["plain"],
            "residual stream (31 points) tok/s": tokens / best["probe"], "ratio": best["plain"] / best["probe"]}


def bench_nnsight(clf, n: int, batch_size: int = 16, repeats: int = 2) -> dict:
    from nnsight import LanguageModel

    from interp_kit import load_tweets, residual_stream
    from interp_kit.internals.residual import residual_points

    tweets = load_tweets("tweets", split="train", label_space="binary", n=n, seed=2)
    ids = [list(clf.tokenize_tweet(t).token_ids) for t in tweets.texts]
    order = np.argsort([len(t) for t in ids], kind="stable")
    batches = [[ids[i] for i in order[s:s + batch_size]] for s in range(0, n, batch_size)]
    hooks = clf.engine.hooks()
    points = residual_points(hooks.n_layers)
    lm = LanguageModel(clf.model, tokenizer=clf.tokenizer)
    layers = lm.model.layers

    def with_hooks():
        traces = [hooks.run(b, read=points, answer_only=True) for b in batches]  # the same left-padded whole prompts
        return [torch.stack([t.acts[p] for p in points], 1) for t in traces]

    def with_nnsight():
        out = []
        for b in batches:
            input_ids, mask, pos, _ = hooks.batch(b)  # the same left-padded whole prompts
            saved = []
            with torch.no_grad(), lm.trace(input_ids=input_ids, attention_mask=mask, position_ids=pos):
                saved.append(lm.model.embed_tokens.output[:, -1].save())
                for layer in layers:
                    saved.append(layer.output[:, -1].save())
            out.append(torch.stack([torch.as_tensor(t) for t in saved], 1))
        return out

    tokens = sum(len(hooks.batch(b)[0].flatten()) for b in batches)  # padded whole-prompt tokens (both paths)
    best = {"hooks": np.inf, "nnsight": np.inf, "kit": np.inf}
    for _ in range(repeats):
        t0 = time.perf_counter(); a = with_hooks(); best["hooks"] = min(best["hooks"], time.perf_counter() - t0)
        t0 = time.perf_counter(); b = with_nnsight(); best["nnsight"] = min(best["nnsight"], time.perf_counter() - t0)
        t0 = time.perf_counter(); residual_stream(clf, tweets.texts, batch_size=batch_size, progress=False)
        best["kit"] = min(best["kit"], time.perf_counter() - t0)
    diff = max(float((x - y).abs().max()) for x, y in zip(a, b))
    scale = max(float(x.abs().max()) for x in a)
    return {"tweets": n, "readouts per tweet": len(points), "whole-prompt tokens (padded)": tokens,
            "plain hooks s": best["hooks"], "nnsight s": best["nnsight"],
            "kit residual_stream (prefix cached) s": best["kit"],
            "nnsight / plain hooks time": best["nnsight"] / best["hooks"],
            "max |diff| nnsight vs hooks": diff, "largest |activation|": scale}


def replication(clf, n: int, shap_budget: int | None) -> None:
    from interp_kit import attention_vs_attribution, load_tweets

    tweets = load_tweets("tweets", split="test", label_space="binary", n=3 * n, seed=7)
    texts = [t for t in tweets.texts if len(t.split()) >= 3][:n]
    t0 = time.perf_counter()
    study = attention_vs_attribution(clf, texts, references=("feature_ablation", "shap"), budget=shap_budget,
                                     progress=True)
    print(f"\n## Attention is not explanation (Jain & Wallace 2019): {len(texts)} real test tweets, zero-shot, "
          f"{time.perf_counter() - t0:.0f}s, shap max_evals {shap_budget or 'default'}")
    print("Kendall tau per tweet, mean [95% CI]; tau_abs compares with |attribution|:")
    print(study.summary.round(3).to_string())
    print("\nFaithfulness of each ranking (mean over tweets), random included:")
    print(study.faithfulness.round(3).to_string())


def curves(runtime, n_train: int, n_curve: int, layer_step: int) -> None:
    from interp_kit import (ZeroShotClassifier, compare_lens, compare_probes, fine_tune, load_model, load_tweets,
                            logit_lens, probe_layers, residual_stream)

    model, tok = load_model("offline", runtime)
    zs = ZeroShotClassifier(model, tok, ("negative", "positive"))
    train = load_tweets("tweets", split="train", label_space="binary", n=n_train, seed=1)
    test = load_tweets("tweets", split="test", label_space="binary", n=n_curve, seed=4)
    t0 = time.perf_counter()
    ft = fine_tune(zs, train, epochs=1, lr=5e-4, seed=0, progress=False).classifier
    print(f"\n## Curves: fine-tuned on {n_train} train tweets in {time.perf_counter() - t0:.0f}s; "
          f"{n_curve} test tweets (gold targets)")
    lenses, probes = {}, {}
    for name, c in (("zero-shot", zs), ("fine-tuned", ft)):
        stream = residual_stream(c, test)
        lenses[name] = logit_lens(c, stream, targets=test.labels)
        probes[name] = probe_layers(c, stream, labels=test.labels, cv=5)
        acc = float((lenses[name].margins[:, -1] > 0).mean())
        print(f"{name}: accuracy {acc:.3f}")
    keep = lambda t: t.iloc[[i for i in range(len(t)) if i % layer_step == 0 or i == len(t) - 1]]  # noqa: E731
    print("\nLogit lens: margin of the gold label per layer, mean [95% CI]:")
    print(keep(compare_lens(lenses)).round(2).to_string())
    print("\nProbes (5-fold CV accuracy): sentiment vs control task (Hewitt & Liang), selectivity:")
    print(keep(compare_probes(probes)).round(3).to_string())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--naive-sample", type=int, default=120)
    parser.add_argument("--probe-tweets", type=int, default=96)
    parser.add_argument("--replication", type=int, default=0, help="tweets for the Jain & Wallace table (0: skip)")
    parser.add_argument("--shap-budget", type=int, default=None, help="shap max_evals in the replication")
    parser.add_argument("--curves", action="store_true")
    parser.add_argument("--n-train", type=int, default=400)
    parser.add_argument("--n-curve", type=int, default=200)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--float64", type=int, default=0, metavar="SAMPLE",
                        help="also compare the sweep with one whole prompt per patch on a float64 copy of the model, "
                             "on SAMPLE patches: float32 rounding gone, only the algorithm can differ")
    parser.add_argument("--nnsight", action="store_true", help="compare with nnsight 0.8.1 (pip install nnsight==0.8.1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from interp_kit import ZeroShotClassifier, load_model, setup

    runtime = setup(seed=0, verbose=False)
    model, tok = load_model("offline", runtime)
    clf = ZeroShotClassifier(model, tok, ("negative", "positive"))
    pd.set_option("display.width", 200)
    if not args.skip_speed:
        print(f"torch threads: {torch.get_num_threads()}")
        print("\n## Activation patching: full layer x position sweep of", PAIR)
        for k, v in bench_patching(clf, args.naive_sample).items():
            print(f"  {k}: {v:.3g}" if isinstance(v, float) else f"  {k}: {v}")
        print("\n## Probe activations: every layer's answer-position residual vs a plain batched forward")
        for k, v in bench_probes(clf, args.probe_tweets).items():
            print(f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}")
    if args.float64:
        import copy

        clf64 = copy.deepcopy(clf)
        clf64.model.double()
        print(f"\n## Patching values on a float64 copy ({args.float64} sampled patches; timings not comparable)")
        for k, v in bench_patching(clf64, args.float64).items():
            if "diff" in k or k == "sampled patches":
                print(f"  {k}: {v:.3g}" if isinstance(v, float) else f"  {k}: {v}")
        del clf64
    if args.nnsight:
        print("\n## Reading every layer's answer-position residual: nnsight 0.8.1 vs the engine's plain hooks")
        for k, v in bench_nnsight(clf, args.probe_tweets).items():
            print(f"  {k}: {v:.4g}" if isinstance(v, float) else f"  {k}: {v}")
    if args.replication:
        replication(clf, args.replication, args.shap_budget)
    if args.curves:
        curves(runtime, args.n_train, args.n_curve, layer_step=3)


if __name__ == "__main__":
    main()
