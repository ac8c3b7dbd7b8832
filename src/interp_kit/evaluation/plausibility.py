"""Plausibility: do the words an explanation ranks highest match the words a person marked as the reason?

The human rationale is a substring of the tweet (Kaggle's ``selected_text``, or the offline sample's
``selected_text``). It is located in the text (first occurrence, case-sensitive, then case-insensitive, then
ignoring differences in whitespace) and turned into a binary mask over the attribution's features: a feature is
"in the rationale" when its character span overlaps the rationale's span. Then, with the attribution's signed
scores toward its target (the label it explains):

- AUPRC: average precision of the scores at finding rationale features (sklearn). Random scores get about the
  fraction of features in the rationale.
- token F1@k and IOU@k: the top-k features (largest signed score; k = number of rationale features by default)
  against the rationale features.

All three are **higher is better**. Plausibility is not faithfulness: a model may rely on other words than a
person would, and then a faithful explanation is *less* plausible. Kaggle's neutral rationales are usually the
whole tweet, which makes every metric degenerate; such cases are NaN with a reason, and the reports leave neutral
examples out by default.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..attribution.core import Attribution, by_method
from .statistics import collect_reasons, undefined
from .faithfulness import random_attribution, summarize_by_method

__all__ = ["PLAUSIBILITY_COLUMNS", "rationale_span", "rationale_mask", "auprc", "token_f1_at_k", "iou_at_k",
           "plausibility_scores", "plausibility_table", "plausibility_report"]

PLAUSIBILITY_COLUMNS = {"auprc": "AUPRC ↑", "token_f1": "token F1@k ↑", "iou": "IOU@k ↑"}


def rationale_span(text: str, rationale) -> tuple[int, int] | None:
    """Character span (start, end) of the rationale in `text`, or None (with an `UndefinedMetricWarning`).

    `rationale` is a string (first occurrence; case-sensitive, then case-insensitive, then with any run of
    whitespace matching any other) or already a (start, end) span.
    """
    if rationale is None or (isinstance(rationale, float) and rationale != rationale):
        undefined("rationale: none given for this text", stacklevel=3)
        return None
    if isinstance(rationale, (tuple, list)) and len(rationale) == 2:
        start, end = int(rationale[0]), int(rationale[1])
        if not 0 <= start < end <= len(text):
            undefined(f"rationale: span {rationale} is outside the text (length {len(text)})", stacklevel=3)
            return None
        return start, end
    rationale = str(rationale)
    if not rationale.strip():
        undefined("rationale: empty string", stacklevel=3)
        return None
    i = text.find(rationale)
    if i >= 0:
        return i, i + len(rationale)
    m = re.search(re.escape(rationale), text, flags=re.IGNORECASE)
    if m is None:
        pattern = r"\s+".join(re.escape(w) for w in rationale.split())
        m = re.search(pattern, text, flags=re.IGNORECASE)
    if m is None:
        undefined(f"rationale: {rationale[:40]!r} is not found in the text", stacklevel=3)
        return None
    return m.start(), m.end()


def rationale_mask(attribution: Attribution, rationale) -> np.ndarray | None:
    """Boolean mask over the attribution's features: True where the feature's span overlaps the rationale."""
    span = rationale_span(attribution.text, rationale)
    if span is None:
        return None
    s, e = span
    return np.array([fs < e and fe > s for fs, fe in attribution.spans], dtype=bool)


def _mask_or_reason(attribution: Attribution, rationale) -> np.ndarray | None:
    mask = rationale_mask(attribution, rationale)
    if mask is None:
        return None
    if not mask.any():
        undefined("rationale: it overlaps no feature", stacklevel=4)
        return None
    if mask.all():
        undefined("rationale: it covers every feature (e.g. a Kaggle neutral tweet), so any ranking matches it",
                  stacklevel=4)
        return None
    return mask


def _top_k(attribution: Attribution, mask: np.ndarray, k: int | None) -> tuple[set, set]:
    scores = np.asarray(attribution.scores, float)
    k = int(mask.sum()) if k is None else int(k)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    top = set(np.argsort(-scores, kind="stable")[:min(k, len(scores))].tolist())
    return top, set(np.flatnonzero(mask).tolist())


def auprc(attribution: Attribution, rationale) -> float:
    """Average precision (sklearn) of the signed scores at ranking rationale features first. Higher is better."""
    from sklearn.metrics import average_precision_score

    mask = _mask_or_reason(attribution, rationale)
    if mask is None:
        return float("nan")
    scores = np.asarray(attribution.scores, float)
    if not np.all(np.isfinite(scores)):
        return undefined("auprc: scores contain NaN or infinity")
    return float(average_precision_score(mask.astype(int), scores))


def token_f1_at_k(attribution: Attribution, rationale, k: int | None = None) -> float:
    """F1 between the top-k features (signed score) and the rationale's features; k defaults to their number,
    which makes precision = recall = F1. Higher is better."""
    mask = _mask_or_reason(attribution, rationale)
    if mask is None:
        return float("nan")
    top, gold = _top_k(attribution, mask, k)
    hit = len(top & gold)
    if hit == 0:
        return 0.0
    p, r = hit / len(top), hit / len(gold)
    return 2 * p * r / (p + r)


def iou_at_k(attribution: Attribution, rationale, k: int | None = None) -> float:
    """|top-k ∩ rationale| / |top-k ∪ rationale| over features (k as in `token_f1_at_k`). Higher is better."""
    mask = _mask_or_reason(attribution, rationale)
    if mask is None:
        return float("nan")
    top, gold = _top_k(attribution, mask, k)
    return len(top & gold) / len(top | gold)


def plausibility_scores(attribution: Attribution, rationale, k: int | None = None) -> dict:
    """AUPRC, token F1@k and IOU@k of one explanation (NaN with one warning when the rationale is unusable)."""
    with collect_reasons() as reasons:
        mask = _mask_or_reason(attribution, rationale)
    if mask is None:
        undefined(reasons[0] if reasons else "rationale: unusable", stacklevel=2)
        return {"auprc": float("nan"), "token_f1": float("nan"), "iou": float("nan"), "n_rationale": 0}
    return {"auprc": auprc(attribution, rationale), "token_f1": token_f1_at_k(attribution, rationale, k),
            "iou": iou_at_k(attribution, rationale, k), "n_rationale": int(mask.sum())}


def _triples(attributions, rationales, labels):
    if isinstance(attributions, Mapping):  # the same rationales and labels for each method's explanations
        return [t for name, attrs in attributions.items() for t in _triples(by_method({name: attrs}), rationales,
                                                                            labels)]
    attrs = by_method(attributions)
    rationales = list(rationales)
    labels = [None] * len(attrs) if labels is None else list(labels)
    if not len(attrs) == len(rationales) == len(labels):
        raise ValueError(f"Need one rationale (and label) per explanation: {len(attrs)} explanations, "
                         f"{len(rationales)} rationales, {len(labels)} labels.")
    return list(zip(attrs, rationales, labels))


def plausibility_table(attributions, rationales: Sequence, labels: Sequence | None = None,
                       exclude_labels: Sequence[str] = ("neutral",), include_random: bool = True, seed: int = 0,
                       k: int | None = None) -> pd.DataFrame:
    """Plausibility of each explanation (one row per text and method), with a seeded random baseline per text.

    Args:
        attributions: a list of `Attribution`s or a dict method -> list; `rationales` (and `labels`) align with
            each list (e.g. ``tweets.rationales``).
        labels: the gold label of each text (e.g. ``tweets.labels``); by default each attribution's target.
        exclude_labels: texts with these labels are left out (Kaggle's neutral rationales are the whole tweet).
            Pass () to keep everything.
        include_random: add a "random" row per text (standard-normal scores, ``numpy.random.default_rng(seed)``).
    """
    rows, seen, rng = [], {}, np.random.default_rng(seed)
    excluded = set(exclude_labels or ())
    for attr, rationale, label in _triples(attributions, rationales, labels):
        label = attr.target if label is None else label
        if label in excluded:
            continue
        members = [attr]
        key = (attr.text, tuple(attr.features), attr.target)
        if include_random and key not in seen:
            seen[key] = True
            members.append(random_attribution(attr, rng))
        for m in members:
            with collect_reasons() as reasons:
                res = plausibility_scores(m, rationale, k)
            rows.append({"text": m.text, "method": m.method, "target": m.target, "label": label,
                         "n_features": len(m.features), "n_rationale": res["n_rationale"],
                         **{PLAUSIBILITY_COLUMNS[c]: res[c] for c in PLAUSIBILITY_COLUMNS},
                         "nan_reason": "; ".join(reasons)})
    columns = ["text", "method", "target", "label", "n_features", "n_rationale", *PLAUSIBILITY_COLUMNS.values(),
               "nan_reason"]
    return pd.DataFrame(rows, columns=columns)


def plausibility_report(attributions, rationales: Sequence, labels: Sequence | None = None,
                        exclude_labels: Sequence[str] = ("neutral",), include_random: bool = True, seed: int = 0,
                        k: int | None = None) -> pd.DataFrame:
    """Mean plausibility per method (AUPRC ↑, token F1@k ↑, IOU@k ↑) with a "random" baseline row.

    ``n_texts`` counts the texts with a usable rationale, ``n_undefined`` those left out (no rationale, or one
    covering every word). Arguments as in `plausibility_table`, which gives the per-text values.
    """
    table = plausibility_table(attributions, rationales, labels=labels, exclude_labels=exclude_labels,
                               include_random=include_random, seed=seed, k=k)
    cols = list(PLAUSIBILITY_COLUMNS.values())
    if table.empty or table[cols[0]].isna().all():
        warnings.warn("plausibility_report: no text has a usable rationale", stacklevel=2)
    out = summarize_by_method(table, cols).drop(columns="quantity", errors="ignore")
    if not table.empty:
        grouped = table.groupby("method", sort=False)[cols[0]]
        out["n_texts"] = grouped.count().reindex(out.index)
        out["n_undefined"] = grouped.apply(lambda v: int(v.isna().sum())).reindex(out.index)
    return out
