"""The `interp-kit` command: the seed's experiment (zero-shot, optional LoRA fine-tuning, SHAP) end to end."""
from __future__ import annotations

import argparse
import platform
import sys
import time

__all__ = ["main", "build_parser", "run"]

DEFAULT_DATA = "tweets"  # the real tweets shipped with the kit: train from tweets-train, evaluate on tweets-test


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="interp-kit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="zero-shot metrics (+ --finetune, + --run-shap) written to --output-dir")
    run_p.add_argument("--model-name", default="offline",
                       help="preset (offline, smollm2-360m, qwen2.5-0.5b, llama-3.2-1b), hub id or local path")
    run_p.add_argument("--data", default=None,
                       help="tweets (default: real tweets shipped with the kit, train/test splits), hub "
                            "(mteb/tweet_sentiment_extraction), a shipped sample name (tweets-train, tweets-test, "
                            "offline) or a local CSV (Kaggle or mteb format) split into train and eval")
    run_p.add_argument("--eval-data", default=None, help="a separate CSV for evaluation (e.g. Kaggle test.csv)")
    run_p.add_argument("--train-split", default="train", help="split for training (--data tweets or hub)")
    run_p.add_argument("--eval-split", default="test", help="split for evaluation (--data tweets or hub)")
    run_p.add_argument("--text-field", default="text", help="text column name")
    run_p.add_argument("--label-field", default=None, help="label column (default: sentiment, label_text or label)")
    run_p.add_argument("--label-space", nargs="+", default=["binary"],
                       help="binary (negative/positive), three, or label names/mteb ids such as 0 2")
    run_p.add_argument("--train-subset", type=int, default=200, help="training examples (seeded, stratified)")
    run_p.add_argument("--eval-subset", type=int, default=200, help="evaluation examples (seeded, stratified)")
    run_p.add_argument("--batch-size", type=int, default=16)
    run_p.add_argument("--seed", type=int, default=0)
    run_p.add_argument("--output-dir", default="outputs/tweet_sentiment_extraction")
    run_p.add_argument("--huggingface-token", default=None,
                       help="token for gated models (else $HF_TOKEN or Colab secrets); never printed or saved")
    q = run_p.add_mutually_exclusive_group()
    q.add_argument("--load-in-4bit", dest="load_in_4bit", action="store_true", default=None,
                   help="4-bit NF4 (needs a CUDA GPU); default: on when CUDA is present")
    q.add_argument("--no-load-in-4bit", dest="load_in_4bit", action="store_false")
    run_p.add_argument("--finetune", action="store_true", help="LoRA fine-tune on the training subset and compare")
    run_p.add_argument("--epochs", type=int, default=1)
    run_p.add_argument("--lora-r", type=int, default=8)
    run_p.add_argument("--learning-rate", type=float, default=3e-4)
    s = run_p.add_mutually_exclusive_group()
    s.add_argument("--run-shap", dest="run_shap", action="store_true", default=False,
                   help="SHAP explanations, explanation metrics, faithfulness and plausibility")
    s.add_argument("--no-run-shap", dest="run_shap", action="store_false")
    run_p.add_argument("--shap-subset", type=int, default=20, help="tweets explained with SHAP")
    run_p.add_argument("--shap-budget", type=int, default=200, help="SHAP max_evals per tweet")
    sub.add_parser("presets", help="list the model presets")
    sub.add_parser("methods", help="list the attribution methods")
    return parser


def _load_data(args, names):
    from ..data import load_tweets

    source = args.data or DEFAULT_DATA
    train_source = source
    if args.eval_data:
        eval_source = args.eval_data
    else:
        eval_source = source
    kw = dict(label_space=names, text_column=args.text_field, label_column=args.label_field, seed=args.seed)
    if source in ("tweets", "hub") and not args.eval_data:
        if args.train_split == args.eval_split:
            raise SystemExit("--train-split and --eval-split must differ, so training and evaluation tweets are disjoint.")
        train = load_tweets(source, split=args.train_split, n=args.train_subset, **kw)
        evals = load_tweets(source, split=args.eval_split, n=args.eval_subset, **kw)
        return train, evals
    if eval_source != train_source:
        return (load_tweets(train_source, n=args.train_subset, **kw),
                load_tweets(eval_source, n=args.eval_subset, **kw))
    # one file: a seeded stratified split into disjoint train and eval parts (zero-shot only on a small file:
    # evaluate on all of it)
    pool = load_tweets(source, **kw)
    n_eval = min(args.eval_subset, len(pool) // 2) if args.finetune else args.eval_subset
    train, evals = pool.split(n_eval, seed=args.seed)
    return train.subset(args.train_subset, seed=args.seed), evals


def run(args) -> dict:
    """Run the experiment; every file is written atomically into args.output_dir."""
    import torch

    from .. import __version__
    from ..classifier import LabelWordClassifier
    from ..data import resolve_label_space
    from ..io import atomic_write_json, check_writable, save_figure
    from ..evaluation import evaluate
    from ..models import load_model
    from ..viz import plot_confusion_matrix
    from ..runtime import setup

    t_start = time.perf_counter()
    out = check_writable(args.output_dir)  # fail before any model work
    names = resolve_label_space(args.label_space if len(args.label_space) > 1 else args.label_space[0])
    runtime = setup(seed=args.seed, load_in_4bit=args.load_in_4bit)
    train, evals = _load_data(args, names)
    print(f"interp_kit: train {train}; eval {evals}")
    model, tokenizer = load_model(args.model_name, runtime, token=args.huggingface_token)
    zero_shot = LabelWordClassifier(model, tokenizer, names)
    zs_metrics = evaluate(zero_shot, evals, batch_size=args.batch_size, progress=True)
    zs_metrics.update(model=zero_shot.base_model_id, label_tokens=list(zero_shot.label_token_ids),
                      eval_ids=evals.ids)
    atomic_write_json(out / "zero_shot_metrics.json", zs_metrics)
    fig = plot_confusion_matrix(zs_metrics, title=f"Zero-shot · {zero_shot.base_model_id}")
    save_figure(fig, out / "zero_shot_confusion_matrix.png")
    print(f"zero-shot: accuracy {zs_metrics['accuracy']:.3f}, macro-F1 {zs_metrics['macro']['f1']:.3f}, "
          f"MCC {zs_metrics['mcc']:.3f} on {len(evals)} tweets")
    summary = {"zero_shot": {k: zs_metrics[k] for k in ("accuracy", "mcc")}}
    fine_tuned = None
    if args.finetune:
        from .finetune_stage import run_finetune_stage

        stage = run_finetune_stage(zero_shot, train, evals, out, zs_metrics, epochs=args.epochs, r=args.lora_r,
                                   lr=args.learning_rate, batch_size=8, seed=args.seed)
        fine_tuned = stage["classifier"]
        summary["fine_tuned"] = {k: stage["metrics"][k] for k in ("accuracy", "mcc")}
    if args.run_shap:
        from .explanations import run_explanation_stage

        summary["explanations"] = run_explanation_stage(zero_shot, fine_tuned, evals, out, n=args.shap_subset,
                                                        budget=args.shap_budget, seed=args.seed)
    settings = {k: v for k, v in vars(args).items() if k not in {"huggingface_token", "func"}}
    versions = {"interp_kit": __version__, "python": platform.python_version(), "torch": torch.__version__}
    for lib in ("transformers", "peft", "shap", "captum", "sklearn", "numpy", "bitsandbytes"):
        try:
            versions[lib] = __import__(lib).__version__
        except Exception:
            pass
    atomic_write_json(out / "run_settings.json", {
        "settings": settings, "versions": versions, "runtime": runtime.summary(),
        "prompt_prefix": zero_shot.prompt_prefix, "prompt_suffix": zero_shot.prompt_suffix,
        "label_words": list(zero_shot.label_words), "seconds": time.perf_counter() - t_start, "summary": summary})
    print(f"interp_kit: wrote results to {out} in {time.perf_counter() - t_start:.0f}s")
    return summary


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "presets":
        from ..models import list_presets

        for name, desc in list_presets().items():
            print(f"{name:24s} {desc}")
        return 0
    if args.command == "methods":
        from ..attribution import list_methods

        for name, desc in list_methods().items():
            print(f"{name:24s} {desc}")
        return 0
    try:
        run(args)
    except (ValueError, RuntimeError, PermissionError, FileNotFoundError) as exc:
        # clear one-line errors for bad input; tracebacks are for bugs
        msg = str(exc)
        if args.huggingface_token:
            msg = msg.replace(args.huggingface_token, "***")
        print(f"interp-kit: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"interp-kit: interrupted; the files already in {args.output_dir} are complete (each is written "
              "whole or not at all); run_settings.json is written last, so its absence marks an unfinished run.",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
