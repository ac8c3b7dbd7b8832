"""An on-disk cache of fine-tuned adapters: train once, reuse in every later lesson (and every re-run).

The key is a hash of everything that decides the adapter: the base model, the prompt template, the label words and
their token ids, the training tweets (texts and labels) and the training settings, plus the kit's version. Any
change trains a new adapter; the same call finds the saved one and loads it in seconds.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

from ..io import atomic_write_json
from .adapters import load_adapter, save_adapter
from .loop import FineTuneResult, fine_tune

__all__ = ["cached_fine_tune", "adapter_cache_key", "adapter_cache_dir"]

_TRAINING_LOG = "training_log.json"


def adapter_cache_dir() -> Path:
    """Where cached adapters live: $INTERP_KIT_CACHE/adapters, else ~/.cache/interp_kit/adapters."""
    root = os.environ.get("INTERP_KIT_CACHE") or Path.home() / ".cache" / "interp_kit"
    return Path(root) / "adapters"


def adapter_cache_key(classifier, tweets, settings: dict) -> str:
    """A short hash of the base model, prompt, label tokens, training tweets and settings."""
    from .. import __version__

    blob = json.dumps({"model": classifier.base_model_id, "template": asdict(classifier.template),
                       "label_names": list(classifier.label_names), "label_words": list(classifier.label_words),
                       "label_token_ids": list(classifier.label_token_ids),
                       "max_tweet_tokens": classifier.max_tweet_tokens,
                       "data": [list(tweets.texts), list(tweets.labels)],
                       "settings": {k: settings[k] for k in sorted(settings)}, "kit": __version__},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cached_fine_tune(classifier, tweets, cache_dir: str | Path | None = None, refresh: bool = False,
                     **settings) -> FineTuneResult:
    """`fine_tune(classifier, tweets, **settings)`, or the adapter an identical earlier call saved.

    Why: lessons 02, 04 and 05 use the same fine-tuned model; training it once keeps the later lessons fast.

    Args:
        classifier: the zero-shot classifier (as for `fine_tune`).
        tweets: the training tweets; their texts and labels are part of the key.
        cache_dir: the cache folder (default `adapter_cache_dir()`).
        refresh: train again and overwrite the cached adapter.
        **settings: passed to `fine_tune` (epochs, lr, batch_size, r, seed, ...); all are part of the key.
    Returns:
        A `FineTuneResult`; `settings["cache"]` says "hit" (loaded) or "miss" (trained and saved) and where.
        A loaded result carries the losses and timings recorded when it was trained.
    """
    key_settings = {k: v for k, v in settings.items() if k != "progress"}
    folder = Path(cache_dir or adapter_cache_dir()) / f"{classifier.base_model_id.replace('/', '--')}-" \
                                                      f"{adapter_cache_key(classifier, tweets, key_settings)}"
    log = folder / _TRAINING_LOG
    if folder.is_dir() and log.exists() and not refresh:
        fine_tuned = load_adapter(classifier, folder)
        saved = json.loads(log.read_text())
        return FineTuneResult(fine_tuned, saved["losses"], saved["seconds"], saved["examples_per_second"],
                              saved.get("peak_memory_mb"), {**saved.get("settings", {}), "cache": "hit",
                                                            "cache_path": str(folder)})
    result = fine_tune(classifier, tweets, **settings)
    if folder.exists():  # refresh, or a folder left without its log: replace it
        import shutil

        shutil.rmtree(folder)
    save_adapter(result, folder)
    atomic_write_json(log, {"losses": list(map(float, result.losses)), "seconds": result.seconds,
                            "examples_per_second": result.examples_per_second,
                            "peak_memory_mb": result.peak_memory_mb, "settings": result.settings})
    result.settings = {**result.settings, "cache": "miss", "cache_path": str(folder)}
    return result
