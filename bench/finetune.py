"""Zero-shot vs LoRA fine-tuned, the same model on the same real tweets: accuracy, MCC, training cost.

Fine-tunes the offline model (SmolLM2-135M-Instruct, CPU) on a seeded stratified subset of the Kaggle train.csv
and evaluates both classifiers on a seeded stratified subset of test.csv.

    python bench/finetune.py                       # binary: 400 train tweets, 500 test tweets
    python bench/finetune.py --label-space three   # where zero-shot is weak
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import torch

from interp_kit import ZeroShotClassifier, evaluate, fine_tune, load_model, load_tweets, setup
from interp_kit.data import resolve_label_space



def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-csv", default="tweets-train", help="shipped sample name or a Kaggle CSV path")
    ap.add_argument("--test-csv", default="tweets-test", help="shipped sample name or a Kaggle CSV path")
    ap.add_argument("--label-space", default="binary")
    ap.add_argument("--n-train", type=int, default=400)
    ap.add_argument("--n-eval", type=int, default=500)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--r", type=int, default=8)
    ap.add_argument("--alpha", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, help="torch CPU threads (1 is faster when other jobs share the cores)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    runtime = setup(seed=args.seed)
    model, tokenizer = load_model("offline", runtime)
    names = resolve_label_space(args.label_space)
    clf = ZeroShotClassifier(model, tokenizer, names)
    train = load_tweets(args.train_csv, label_space=names, n=args.n_train, seed=args.seed)
    evals = load_tweets(args.test_csv, label_space=names, n=args.n_eval, seed=args.seed)
    print(f"train: {train}\neval:  {evals}\ntorch threads: {torch.get_num_threads()}", flush=True)

    t0 = time.perf_counter()
    zero_shot = evaluate(clf, evals, progress=False)
    t_zs = time.perf_counter() - t0
    print(f"zero-shot evaluated in {t_zs:.0f}s: acc {zero_shot['accuracy']:.3f} MCC {zero_shot['mcc']:.3f}", flush=True)

    result = fine_tune(clf, train, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, r=args.r,
                       alpha=args.alpha, seed=args.seed, progress=True)
    t0 = time.perf_counter()
    tuned = evaluate(result.classifier, evals, progress=False)
    t_ft = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rows = [("zero-shot", zero_shot), ("fine-tuned", tuned)]
    print(f"\n{args.label_space}: fine-tuned on {len(train)} tweets ({args.epochs} epoch(s), lr {args.lr}, "
          f"batch {args.batch_size}, r {args.r}), evaluated on {len(evals)} test tweets")
    print(f"{'':<12}{'accuracy':>10}{'macro-F1':>10}{'MCC':>8}")
    for name, m in rows:
        print(f"{name:<12}{m['accuracy']:>10.3f}{m['macro']['f1']:>10.3f}{m['mcc']:>8.3f}")
    losses = result.losses
    print(f"training: {result.seconds:.0f}s, {len(losses)} steps, {result.examples_per_second:.2f} examples/s, "
          f"loss {sum(losses[:5]) / len(losses[:5]):.3f} (first 5 steps) -> {sum(losses[-5:]) / len(losses[-5:]):.3f} "
          f"(last 5)")
    print(f"evaluation: zero-shot {t_zs:.0f}s, fine-tuned {t_ft:.0f}s for {len(evals)} tweets")
    print(f"peak memory (max RSS of the process): {peak_mb:.0f} MiB")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "label_space": args.label_space, "n_train": len(train), "n_eval": len(evals), "settings": result.settings,
            "zero_shot": {k: zero_shot[k] for k in ("accuracy", "mcc", "macro")},
            "fine_tuned": {k: tuned[k] for k in ("accuracy", "mcc", "macro")},
            "train_seconds": result.seconds, "examples_per_second": result.examples_per_second,
            "losses": losses, "peak_rss_mb": peak_mb, "eval_seconds": {"zero_shot": t_zs, "fine_tuned": t_ft},
        }, indent=2))
    return 0 if tuned["mcc"] > zero_shot["mcc"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
