"""The CLI's fine-tuning stage: train, evaluate, save the adapter and the comparison with zero-shot."""
from __future__ import annotations

from pathlib import Path

from ..io import atomic_write_json, save_figure
from ..training import fine_tune, save_adapter

__all__ = ["run_finetune_stage"]


def run_finetune_stage(classifier, train_tweets, eval_tweets, output_dir: str | Path,
                       zero_shot_metrics: dict | None, **settings) -> dict:
    """Fine-tune, evaluate on `eval_tweets`, and write the fine-tuning results into `output_dir`.

    Writes `lora_adapter/` (with metadata), `fine_tuned_metrics.json` (metrics, training settings, losses,
    time) and `metrics_comparison.png` (zero-shot vs fine-tuned), each atomically. `settings` go to `fine_tune`.
    Returns {"classifier", "metrics", "result"}.
    """
    import matplotlib.pyplot as plt

    from ..evaluation import evaluate
    from ..viz import plot_metrics_comparison

    output_dir = Path(output_dir)
    result = fine_tune(classifier, train_tweets, **settings)
    metrics = evaluate(result.classifier, eval_tweets, progress=settings.get("progress"))
    training = dict(settings=result.settings, losses=result.losses, seconds=result.seconds,
                    examples_per_second=result.examples_per_second, peak_memory_mb=result.peak_memory_mb)
    save_adapter(result, output_dir / "lora_adapter", metrics=metrics)
    atomic_write_json(output_dir / "fine_tuned_metrics.json", {**metrics, "training": training})
    if zero_shot_metrics is not None:
        fig = plot_metrics_comparison({"zero-shot": zero_shot_metrics, "fine-tuned": metrics})
        save_figure(fig, output_dir / "metrics_comparison.png")
        plt.close(fig)
    return {"classifier": result.classifier, "metrics": metrics, "result": result}
