"""Influence on the LoRA classifier: batched vs looped per-example gradients, mislabel detection, retraining.

1. Per-example gradients of the label loss w.r.t. the adapter: batched (hooks; torch.func vmap) vs the Python loop.
2. Flip a fraction of the training labels, fine-tune with checkpoints, rank training tweets by TracIn
   self-influence (Pruthi et al. 2020): AUROC and precision@k vs random and vs the loss.
3. For a few test tweets, remove the top-k proponents (of the predicted label) by TracIn and by DataInf (Kwon et al.
   2024), retrain with the same seed, and compare the drop in the test tweet's log-odds with removing k random
   tweets.

    python bench/influence.py                      # CPU, offline model, 64 training tweets
    python bench/influence.py --skip-retrain       # parts 1 and 2 only
    python bench/influence.py --grads-only         # part 1 only
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from dataclasses import replace

import numpy as np
import torch

from interp_kit import (ZeroShotClassifier, checkpoint_grads, compare_estimators, datainf, fine_tune, flip_labels,
                        load_model, load_tweets, mislabel_detection, per_example_grads, self_influence, setup,
                        tracin)


def log_odds(clf, texts, labels):
    lg = clf.label_logits(texts)
    logp = torch.log_softmax(torch.as_tensor(np.asarray(lg), dtype=torch.float64), -1)
    idx = [clf.label_index(lab) for lab in labels]
    own = logp[torch.arange(len(idx)), idx]
    return (own - torch.log1p(-own.exp())).numpy()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-train", type=int, default=64)
    ap.add_argument("--n-grad", type=int, default=16, help="tweets timed in part 1")
    ap.add_argument("--flip", type=float, default=0.1)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--every", type=int, default=4, help="checkpoint every this many optimizer steps")
    ap.add_argument("--n-test", type=int, default=3)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-retrain", action="store_true")
    ap.add_argument("--grads-only", action="store_true", help="part 1 only")
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args()

    runtime = setup(seed=args.seed, verbose=False)
    model, tokenizer = load_model("offline", runtime)
    clf = ZeroShotClassifier(model, tokenizer, ("negative", "positive"))
    train = load_tweets("tweets", split="train", n=args.n_train, seed=args.seed)
    noisy, flipped = flip_labels(train, args.flip, seed=args.seed)
    ft_args = dict(epochs=args.epochs, batch_size=8, lr=1e-3, seed=args.seed, progress=False)
    result = fine_tune(clf, noisy, checkpoints=args.every, **ft_args)
    out = {"threads": torch.get_num_threads(), "n_train": args.n_train, "flipped": int(flipped.sum()),
           "checkpoints": [c["step"] for c in result.checkpoints]}

    # 1. batched (hooks, vmap) vs loop, the same tweets and checkpoint
    few = noisy.take(range(args.n_grad))
    per_example_grads(result, few.take([0, 1]))  # warm-up
    grads, secs = {}, {}
    for method, chunk in [("hooks", 16), ("vmap", 4), ("loop", 1)]:
        t0 = time.perf_counter()
        grads[method] = per_example_grads(result, few, method=method, chunk_size=chunk)
        secs[method] = time.perf_counter() - t0
    out["grads"] = {"n": args.n_grad, "seconds": secs,
                    "ratio_vs_loop": {m: secs["loop"] / secs[m] for m in ("hooks", "vmap")},
                    "max_abs_diff_vs_loop": {m: float((grads[m] - grads["loop"]).abs().max())
                                             for m in ("hooks", "vmap")},
                    "max_abs_grad": float(grads["loop"].abs().max())}
    print(f"per-example grads ({args.n_grad} tweets, {grads['loop'].shape[1]:,} weights, {out['threads']} threads, "
          f"max |grad| {out['grads']['max_abs_grad']:.2f}):")
    for m in ("hooks", "vmap", "loop"):
        extra = "" if m == "loop" else (f", {out['grads']['ratio_vs_loop'][m]:.2f}x the loop, max |diff| "
                                         f"{out['grads']['max_abs_diff_vs_loop'][m]:.1e}")
        print(f"  {m:6s} {secs[m]:6.1f}s{extra}")
    c64 = copy.deepcopy(result.classifier)
    c64.model.double()
    sub = few.take(range(min(4, args.n_grad)))
    d64 = (per_example_grads(c64, sub, method="hooks") - per_example_grads(c64, sub, method="loop")).abs().max()
    del c64
    out["grads"]["hooks_vs_loop_float64"] = float(d64)
    print(f"  hooks vs loop on a float64 copy ({len(sub.texts)} tweets): max |diff| {float(d64):.1e}")

    if args.grads_only:
        return _write(out, args.json)

    # 2. mislabel detection
    g_train = checkpoint_grads(result, noisy)
    si = self_influence(result, noisy, train_grads=g_train)
    proba = result.classifier.predict_proba(noisy.texts)
    loss = -np.log(proba[np.arange(len(noisy.texts)), noisy.label_ids])
    out["mislabel"] = {"self_influence": mislabel_detection(si, flipped), "loss": mislabel_detection(loss, flipped)}
    print("mislabel detection:", json.dumps(out["mislabel"]))

    # 3. retraining without the top-k proponents (TracIn, DataInf) vs k random tweets
    if not args.skip_retrain:
        test = load_tweets("tweets", split="test", n=args.n_test, seed=args.seed)
        said = replace(test, labels=result.classifier.predict(test.texts))
        scores = tracin(result, noisy, said, train_grads=g_train)
        # DataInf (Kwon et al. 2024) at the final weights: the last checkpoint is the final adapter
        closed_form = datainf(result, noisy, said, train_grads=g_train[-1])
        agreement = compare_estimators(scores, closed_form, k=args.k)
        out["tracin_vs_datainf"] = agreement.drop(columns="test tweet").to_dict("list")
        print(f"TracIn vs DataInf per test tweet: Spearman {agreement['spearman'].round(2).tolist()}, "
              f"top-{args.k} overlap {agreement[f'top-{args.k} overlap'].round(2).tolist()}")
        base = log_odds(result.classifier, said.texts, said.labels)
        rng = np.random.default_rng(args.seed)
        rows = []
        kinds = ("TracIn top-k proponents", "k random", "DataInf top-k proponents")
        for i in range(len(said.texts)):
            for kind, drop in ((kinds[0], scores.proponents(i, args.k)),
                               (kinds[1], list(rng.choice(len(noisy.texts), args.k, replace=False))),
                               (kinds[2], closed_form.proponents(i, args.k))):
                keep = [j for j in range(len(noisy.texts)) if j not in set(drop)]
                re = fine_tune(clf, noisy.take(keep), **ft_args).classifier
                after = float(log_odds(re, [said.texts[i]], [said.labels[i]])[0])
                rows.append({"test": i, "removed": kind, "log_odds_before": float(base[i]), "after": after,
                             "drop": float(base[i]) - after})
                print(rows[-1])
        out["retrain"] = rows
        for kind in kinds:
            print(f"mean log-odds drop, {kind}: {np.mean([r['drop'] for r in rows if r['removed'] == kind]):.3f}")
    return _write(out, args.json)


def _write(out: dict, path: str | None) -> int:
    if path:
        with open(path, "w") as f:
            json.dump(out, f, indent=1, default=float)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
