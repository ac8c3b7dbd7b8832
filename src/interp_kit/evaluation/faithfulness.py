"""Faithfulness: does removing the words an explanation ranks highest really change the model's score?

In the manner of ERASER (DeYoung et al., 2020) and ferret (Attanasio et al., 2023), with the explained quantity
of the attribution itself (the target label's log-odds by default) in place of a probability:

- comprehensiveness = f(full) − f(text without its top-k% features), averaged over removal fractions (AOPC).
  **Higher is better**: the words the explanation ranks highest carry the prediction.
- sufficiency = f(full) − f(only the top-k% features), averaged likewise. **Lower is better**: those words alone
  nearly reproduce the score.
- deletion curve: remove features one at a time in order of decreasing score, from f(full) down to f(empty);
  its area (x = fraction removed in [0, 1]) is **lower is better**. The insertion curve adds them to the empty
  text, from f(empty) up to f(full); its area is **higher is better**.
- LOO rank correlation: Spearman between the scores and each feature's leave-one-out effect f(full) − f(without
  it). **Higher is better**.

"Top" means the largest *signed* score, i.e. the features pushing hardest toward the explained target. k is
ceil(fraction · n), at least one feature. Each text is scored with one `MaskScorer` and all of its masks (every
fraction, both curves, leave-one-out, every method and the random baseline) go to the model in one batched call.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..attribution.core import Attribution, MaskScorer, by_method
from ..attribution.perturbation import score_masks
from .statistics import collect_reasons, spearman

__all__ = [
    "DEFAULT_FRACTIONS", "FAITHFULNESS_COLUMNS", "Curve", "feature_order", "comprehensiveness", "sufficiency",
    "deletion_curve", "insertion_curve", "curve_auc", "loo_effects", "loo_rank_correlation", "faithfulness_scores",
    "faithfulness_table", "faithfulness_report", "summarize_by_method", "random_attribution",
]

DEFAULT_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5)
#: report columns; the arrow says which direction is better (`styled_table` colours by it).
FAITHFULNESS_COLUMNS = {"comprehensiveness": "comprehensiveness ↑", "sufficiency": "sufficiency ↓",
                        "deletion_auc": "deletion AUC ↓", "insertion_auc": "insertion AUC ↑",
                        "loo_spearman": "LOO Spearman ↑"}


@dataclass
class Curve:
    """A deletion or insertion curve: x = fraction of features removed/inserted (0..1), y = the explained quantity."""

    kind: str
    x: np.ndarray
    y: np.ndarray
    auc: float
    order: np.ndarray  # feature indices in the order they were removed/inserted

    def __repr__(self) -> str:
        return f"Curve({self.kind}, {len(self.x) - 1} steps, {self.y[0]:+.3f} -> {self.y[-1]:+.3f}, AUC={self.auc:.3f})"


def feature_order(scores) -> np.ndarray:
    """Feature indices by decreasing signed score (ties keep their order in the text)."""
    return np.argsort(-np.asarray(scores, float), kind="stable")


def curve_auc(x, y) -> float:
    """Trapezoidal area under y(x) (what np.trapezoid / np.trapz compute)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


def _ks(n: int, fractions: Sequence[float]) -> list[int]:
    ks = []
    for q in fractions:
        if not 0 < q <= 1:
            raise ValueError(f"Removal fractions must be in (0, 1], got {q}.")
        ks.append(min(n, max(1, math.ceil(q * n - 1e-9))))  # - 1e-9: 0.3 * 10 is 3.0000000000000004
    return ks


def _removed_top(order: np.ndarray, n: int, k: int) -> np.ndarray:
    m = np.ones(n, bool)
    m[order[:k]] = False
    return m


def _check(scorer: MaskScorer, scores) -> np.ndarray:
    s = np.asarray(scores, float).reshape(-1)
    if s.size != scorer.n_features:
        raise ValueError(f"{s.size} scores for {scorer.n_features} features; the attribution and the scorer must "
                         "use the same text and granularity.")
    return s


def _score_masks(scorer: MaskScorer, masks) -> np.ndarray:
    """Scores of mask rows (shape (m, n_features)), batched by the scorer."""
    return score_masks(scorer, np.asarray(masks, bool).reshape(-1, scorer.n_features))


class _Plan:
    """Masks needed by several metrics for one text, collected first and scored together."""

    def __init__(self, n: int):
        self.n, self.masks = n, []

    def add(self, rows) -> slice:
        rows = np.asarray(rows, bool).reshape(-1, self.n)
        start = sum(len(m) for m in self.masks)
        self.masks.append(rows)
        return slice(start, start + len(rows))

    def run(self, scorer: MaskScorer) -> np.ndarray:
        return _score_masks(scorer, np.concatenate(self.masks) if self.masks else np.zeros((0, self.n), bool))


def _plan_scores(plan: _Plan, s: np.ndarray, fractions, with_loo: bool) -> dict:
    n = plan.n
    order = feature_order(s)
    ks = _ks(n, fractions)
    steps = np.arange(n + 1)
    return {"order": order,
            "comp": plan.add([_removed_top(order, n, k) for k in ks]),
            "suff": plan.add([~_removed_top(order, n, k) for k in ks]),
            "deletion": plan.add([_removed_top(order, n, k) for k in steps]),
            "insertion": plan.add([~_removed_top(order, n, k) for k in steps]),
            "loo": plan.add(~np.eye(n, dtype=bool)) if with_loo else None}


def _finish(values: np.ndarray, slots: dict, scorer: MaskScorer, s: np.ndarray, loo: np.ndarray | None) -> dict:
    f_full = scorer.value_full
    x = np.arange(len(values[slots["deletion"]])) / scorer.n_features
    dele, ins = values[slots["deletion"]], values[slots["insertion"]]
    out = {"comprehensiveness": float(np.mean(f_full - values[slots["comp"]])),
           "sufficiency": float(np.mean(f_full - values[slots["suff"]])),
           "deletion": Curve("deletion", x, dele, curve_auc(x, dele), slots["order"]),
           "insertion": Curve("insertion", x, ins, curve_auc(x, ins), slots["order"])}
    out["deletion_auc"], out["insertion_auc"] = out["deletion"].auc, out["insertion"].auc
    if loo is not None:
        out["loo_spearman"] = spearman(s, loo)
    return out


def faithfulness_scores(scorer: MaskScorer, scores, fractions: Sequence[float] = DEFAULT_FRACTIONS,
                        loo: bool = True) -> dict:
    """Every faithfulness metric of one explanation from a single batched model call.

    Returns comprehensiveness (↑), sufficiency (↓), deletion/insertion `Curve`s and their AUCs (↓/↑), and with
    `loo` the leave-one-out effects and their Spearman correlation with the scores (↑).
    """
    s = _check(scorer, scores)
    plan = _Plan(scorer.n_features)
    slots = _plan_scores(plan, s, fractions, with_loo=loo)
    values = plan.run(scorer)
    effects = scorer.value_full - values[slots["loo"]] if loo else None
    out = _finish(values, slots, scorer, s, effects)
    if loo:
        out["loo_effects"] = effects
    return out


def comprehensiveness(scorer: MaskScorer, scores, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> float:
    """AOPC of f(full) − f(without the top-k% features) over `fractions`. Higher is better.

    k = ceil(fraction · n), at least 1; top = largest signed score. All masks are scored in one call.
    """
    s = _check(scorer, scores)
    order = feature_order(s)
    masks = [_removed_top(order, s.size, k) for k in _ks(s.size, fractions)]
    return float(np.mean(scorer.value_full - _score_masks(scorer, masks)))


def sufficiency(scorer: MaskScorer, scores, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> float:
    """AOPC of f(full) − f(only the top-k% features) over `fractions`. Lower is better (can be negative).

    k = ceil(fraction · n), at least 1; top = largest signed score. All masks are scored in one call.
    """
    s = _check(scorer, scores)
    order = feature_order(s)
    masks = [~_removed_top(order, s.size, k) for k in _ks(s.size, fractions)]
    return float(np.mean(scorer.value_full - _score_masks(scorer, masks)))


def deletion_curve(scorer: MaskScorer, scores) -> Curve:
    """Remove features one per step by decreasing score: y[0] = f(full), y[-1] = f(empty). Lower AUC is better."""
    s = _check(scorer, scores)
    order, n = feature_order(s), s.size
    y = _score_masks(scorer, [_removed_top(order, n, k) for k in range(n + 1)])
    x = np.arange(n + 1) / n
    return Curve("deletion", x, y, curve_auc(x, y), order)


def insertion_curve(scorer: MaskScorer, scores) -> Curve:
    """Insert features into the empty text one per step by decreasing score: y[0] = f(empty), y[-1] = f(full).
    Higher AUC is better."""
    s = _check(scorer, scores)
    order, n = feature_order(s), s.size
    y = _score_masks(scorer, [~_removed_top(order, n, k) for k in range(n + 1)])
    x = np.arange(n + 1) / n
    return Curve("insertion", x, y, curve_auc(x, y), order)


def loo_effects(scorer: MaskScorer) -> np.ndarray:
    """Leave-one-out effect of each feature: f(full) − f(text without that feature), one batched call."""
    return scorer.value_full - _score_masks(scorer, ~np.eye(scorer.n_features, dtype=bool))


def loo_rank_correlation(scorer: MaskScorer, scores) -> float:
    """Spearman correlation between the scores and the leave-one-out effects. Higher is better; NaN (with a
    warning) for a one-word tweet or constant scores."""
    s = _check(scorer, scores)
    return spearman(s, loo_effects(scorer))


def random_attribution(attribution: Attribution, rng: np.random.Generator) -> Attribution:
    """The same explanation with standard-normal scores: the "random" baseline every report carries."""
    return replace(attribution, scores=rng.standard_normal(len(attribution.features)), method="random",
                   n_evaluations=0, seconds=0.0, extras={})





def _group_key(a: Attribution) -> tuple:
    return (a.text, a.target, a.quantity, a.granularity, a.extras.get("absent", "delete"))


def faithfulness_table(classifier, attributions, include_random: bool = True, seed: int = 0,
                       fractions: Sequence[float] = DEFAULT_FRACTIONS, loo: bool = True,
                       progress: bool | None = None) -> pd.DataFrame:
    """Faithfulness of each explanation (one row per text and method), the random baseline included.

    Args:
        classifier: the classifier the attributions explain (zero-shot or fine-tuned).
        attributions: a list of `Attribution`s (any methods, any texts) or a dict method -> list.
        include_random: add a "random" row per text: standard-normal scores from `numpy.random.default_rng(seed)`.
        fractions: removal fractions for comprehensiveness and sufficiency (AOPC).
        loo: also compute the Spearman correlation with leave-one-out effects.
    Each text is scored with a `MaskScorer` using the attribution's own target, quantity, granularity and
    notion of absence (``extras["absent"]``, default "delete"); all masks of a text go in one batched call.
    """
    from tqdm.auto import tqdm

    attrs = by_method(attributions)
    groups: dict[tuple, list[Attribution]] = {}
    for a in attrs:
        groups.setdefault(_group_key(a), []).append(a)
    rng = np.random.default_rng(seed)
    rows = []
    show = progress if progress is not None else len(groups) > 20
    for key, members in tqdm(groups.items(), desc="faithfulness", disable=not show, unit="text"):
        text, target, quantity, granularity, absent = key
        scorer = MaskScorer(classifier, text, target=target, quantity=quantity, granularity=granularity,
                            absent=absent)
        if tuple(scorer.features) != tuple(members[0].features):
            raise ValueError(f"The scorer's features differ from the attribution's for {text[:40]!r}; was it made "
                             "with another tokenizer or granularity?")
        if abs(scorer.value_full - members[0].value_full) > 1e-3 * max(1.0, abs(scorer.value_full)):
            warnings.warn(f"f(full) is {scorer.value_full:.4f} here but {members[0].value_full:.4f} in the attribution "
                          f"of {text[:40]!r}: were the attributions made with another classifier?", stacklevel=2)
        if include_random:
            members = members + [random_attribution(members[0], rng)]
        plan = _Plan(scorer.n_features)
        loo_slot = plan.add(~np.eye(scorer.n_features, dtype=bool)) if loo else None
        slots = [_plan_scores(plan, np.asarray(m.scores, float), fractions, with_loo=False) for m in members]
        values = plan.run(scorer)
        effects = scorer.value_full - values[loo_slot] if loo else None
        for m, sl in zip(members, slots):
            with collect_reasons() as reasons:
                res = _finish(values, sl, scorer, np.asarray(m.scores, float), effects)
            rows.append({"text": text, "method": m.method, "target": target, "quantity": quantity,
                         "n_features": scorer.n_features, "value_full": scorer.value_full,
                         "value_empty": scorer.value_empty,
                         **{FAITHFULNESS_COLUMNS[c]: res.get(c, float("nan")) for c in FAITHFULNESS_COLUMNS},
                         "nan_reason": "; ".join(reasons)})
    return pd.DataFrame(rows)


def faithfulness_report(classifier, attributions, include_random: bool = True, seed: int = 0,
                        fractions: Sequence[float] = DEFAULT_FRACTIONS, loo: bool = True,
                        progress: bool | None = None) -> pd.DataFrame:
    """Mean faithfulness per method over texts, with a seeded "random" baseline row.

    Columns: comprehensiveness ↑, sufficiency ↓ (AOPC over `fractions`), deletion AUC ↓, insertion AUC ↑,
    LOO Spearman ↑ (arrows: the better direction), n_texts, quantity. A method is only useful where it beats
    "random". Per-text values: `faithfulness_table` (same arguments). NaN values (e.g. LOO Spearman of a
    one-word tweet) are left out of the means.
    """
    table = faithfulness_table(classifier, attributions, include_random=include_random, seed=seed,
                               fractions=fractions, loo=loo, progress=progress)
    return summarize_by_method(table, list(FAITHFULNESS_COLUMNS.values()) if loo else
                               [v for k, v in FAITHFULNESS_COLUMNS.items() if k != "loo_spearman"])


def summarize_by_method(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Mean of `columns` per method (NaN-aware), with n_texts; "random" sorted last."""
    if table.empty:
        return pd.DataFrame(columns=["method", *columns, "n_texts"]).set_index("method")
    grouped = table.groupby("method", sort=False)
    out = grouped[columns].mean()
    out["n_texts"] = grouped["text"].nunique()
    if "quantity" in table:
        out["quantity"] = grouped["quantity"].agg(lambda q: "/".join(sorted(set(q))))
    order = [m for m in out.index if m != "random"] + [m for m in out.index if m == "random"]
    return out.loc[order]


