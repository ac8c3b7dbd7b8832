"""Saving a LoRA adapter with the metadata that makes reloading it safe, and loading it back."""
from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import asdict
from pathlib import Path

from ..data import LABEL_SPACES
from ..engine import PromptTemplate
from ..io import atomic_dir, atomic_write_json, to_jsonable
from .classifier import AdapterMismatchError, FineTunedClassifier
from .lora import base_of, grad_flags_kept, new_adapter_name, quiet_peft

__all__ = ["save_adapter", "load_adapter", "ADAPTER_METADATA", "ADAPTER_CHECKPOINTS"]

#: The metadata file `save_adapter` writes beside peft's adapter files.
ADAPTER_METADATA = "interp_kit_adapter.json"
#: The adapter's weights at each kept checkpoint (`fine_tune(checkpoints=k)`), for TracIn after a reload.
ADAPTER_CHECKPOINTS = "interp_kit_checkpoints.safetensors"
_NAME_SLOT = ".{adapter}."
_FORMAT = 1


def _label_space(label_names) -> str | None:
    return next((k for k, v in LABEL_SPACES.items() if tuple(v) == tuple(label_names)), None)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("interp_kit", "torch", "transformers", "peft"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def _summary_metrics(metrics: dict | None) -> dict | None:
    """Metrics without the per-example lists (predictions, probabilities), which belong in the results files."""
    if metrics is None:
        return None
    return to_jsonable({k: v for k, v in metrics.items() if k not in {"predictions", "probabilities"}})


def save_adapter(result_or_classifier, path: str | Path, metrics: dict | None = None) -> Path:
    """Save the LoRA adapter (peft format) and `interp_kit_adapter.json` into `path`, atomically.

    The metadata records the base model id, prompt template, label words and their token ids, label space,
    training settings, metrics and library versions, so `load_adapter` can refuse a mismatched classifier.
    The checkpoints kept by `fine_tune(..., checkpoints=k)` go beside them (`interp_kit_checkpoints.safetensors`),
    so influence (TracIn) still works after `load_adapter`.
    The folder is written under a temporary name and renamed into place: an interrupted save leaves nothing.
    """
    clf = getattr(result_or_classifier, "classifier", result_or_classifier)
    checkpoints = list(getattr(result_or_classifier, "checkpoints", None) or [])
    if not isinstance(clf, FineTunedClassifier):
        raise TypeError("save_adapter needs a FineTuneResult or a fine-tuned classifier (from fine_tune or "
                        f"load_adapter), got {type(result_or_classifier).__name__}.")
    path = Path(path)
    meta = {
        "format": _FORMAT,
        "base_model_id": clf.base_model_id,
        "template": asdict(clf.template),
        "prompt_prefix": clf.prompt_prefix,
        "prompt_suffix": clf.prompt_suffix,
        "label_names": list(clf.label_names),
        "label_words": list(clf.label_words),
        "label_token_ids": list(clf.label_token_ids),
        "label_tokens": [clf.tokenizer.decode([t]) for t in clf.label_token_ids],
        "label_space": _label_space(clf.label_names),
        "max_tweet_tokens": clf.max_tweet_tokens,
        "training": clf.training_settings,
        "metrics": _summary_metrics(metrics),
        "versions": _versions(),
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "checkpoints": [{"step": int(c["step"]), "lr": float(c["lr"])} for c in checkpoints],
    }
    with atomic_dir(path) as tmp:
        clf.model.save_pretrained(str(tmp), selected_adapters=[clf.adapter_name])
        nested = tmp / clf.adapter_name  # peft puts any adapter not named "default" in a subfolder
        if nested.is_dir():
            for item in nested.iterdir():
                os.replace(item, tmp / item.name)
            nested.rmdir()
        if checkpoints:
            from safetensors.torch import save_file

            slot = f".{clf.adapter_name}."
            save_file({f"{i}/{k.replace(slot, _NAME_SLOT)}": v.contiguous() for i, c in enumerate(checkpoints)
                       for k, v in c["state"].items()}, str(tmp / ADAPTER_CHECKPOINTS))
        atomic_write_json(tmp / ADAPTER_METADATA, meta)
    return path


def _load_checkpoints(path: Path, meta: dict, adapter_name: str) -> list[dict]:
    """The saved checkpoints, their weight names moved to the adapter name they were loaded under."""
    kept = meta.get("checkpoints") or []
    if not kept:
        return []
    from safetensors.torch import load_file

    if not (path / ADAPTER_CHECKPOINTS).exists():
        raise FileNotFoundError(f"'{path}' lists {len(kept)} checkpoints but has no {ADAPTER_CHECKPOINTS}; "
                                "save the fine-tune result again with save_adapter.")
    tensors = load_file(str(path / ADAPTER_CHECKPOINTS))
    states = [{} for _ in kept]
    for key, value in tensors.items():
        i, _, name = key.partition("/")
        states[int(i)][name.replace(_NAME_SLOT, f".{adapter_name}.")] = value
    return [{"step": c["step"], "lr": c["lr"], "state": st} for c, st in zip(kept, states)]


def _mismatch(what: str, saved, current, path: Path, advice: str) -> AdapterMismatchError:
    return AdapterMismatchError(f"The adapter in '{path}' was trained with {what} {saved!r}, but this classifier "
                                f"has {what} {current!r}. {advice}")


def load_adapter(classifier, path: str | Path) -> FineTunedClassifier:
    """Load an adapter saved by `save_adapter` onto the classifier's base model; return the fine-tuned classifier.

    The base model id, label names, label words and label token ids must match the classifier's (else
    `AdapterMismatchError`). The fine-tuned classifier uses the prompt template the adapter was trained with.
    The given classifier keeps scoring the base model.
    """
    from peft import PeftModel

    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"No adapter folder at '{path}'.")
    meta_path = path / ADAPTER_METADATA
    if not meta_path.exists():
        found = sorted(p.name for p in path.iterdir())
        raise FileNotFoundError(f"'{path}' has no {ADAPTER_METADATA}, so its base model and label words cannot be "
                                f"checked (found: {found}). Save adapters with interp_kit.save_adapter.")
    meta = json.loads(meta_path.read_text())
    if meta.get("format", 0) > _FORMAT:
        raise ValueError(f"'{path}' was saved by a newer interp_kit (format {meta.get('format')}); upgrade interp_kit.")
    current = classifier.base_model_id
    if meta.get("base_model_id") != current:
        raise _mismatch("base model", meta.get("base_model_id"), current, path,
                        f"Load the adapter onto a classifier over load_model({meta.get('base_model_id')!r}).")
    for what, attr in (("label names", "label_names"), ("label words", "label_words"),
                       ("label token ids", "label_token_ids")):
        saved, mine = tuple(meta.get(attr) or ()), tuple(getattr(classifier, attr))
        if saved != mine:
            raise _mismatch(what, list(saved), list(mine), path,
                            "Build the classifier with the label names and label words the adapter was trained on.")
    template = PromptTemplate(**meta["template"]) if meta.get("template") else classifier.template
    if template != classifier.template:
        warnings.warn(f"The adapter in '{path}' was trained with another prompt template than this classifier's; "
                      "the fine-tuned classifier uses the adapter's own template.", stacklevel=2)
    base = base_of(classifier.model)
    name = new_adapter_name(base)
    with grad_flags_kept(base), quiet_peft():
        peft_model = PeftModel.from_pretrained(base, str(path), adapter_name=name, is_trainable=False)
    peft_model.eval()
    for pname, p in peft_model.named_parameters():
        if "lora_" in pname:
            p.requires_grad_(False)
    fine_tuned = FineTunedClassifier(peft_model, classifier.tokenizer, classifier.label_names, classifier.label_words,
                                     template, adapter_name=name, training_settings=meta.get("training"),
                                     max_tweet_tokens=meta.get("max_tweet_tokens", classifier.max_tweet_tokens))
    if fine_tuned.label_token_ids != tuple(meta["label_token_ids"]):
        raise _mismatch("label token ids", meta["label_token_ids"], list(fine_tuned.label_token_ids), path,
                        "The tokenizer differs from the one the adapter was trained with.")
    fine_tuned.checkpoints = _load_checkpoints(path, meta, name)
    return fine_tuned


