"""Numbers that describe explanations: how concentrated one is, how much two agree, and whether a change is real.

Every metric takes plain score vectors (one score per feature), so it works on any method's output.

NaN policy: a metric that is undefined for its input (a constant vector for a rank correlation, all-zero scores
for Gini or entropy, a one-word tweet, k covering every feature for top-k overlap) returns ``float("nan")`` and
emits an `UndefinedMetricWarning` whose message says why. It never raises for such inputs and never returns a
silent 0. Tables built from many examples (`explanation_summary`, `compare_explanations`) catch these warnings
and put the reasons in a ``nan_reason`` column instead, so a notebook is not flooded. Wrong *usage* (vectors of
different lengths, mismatched texts) still raises `ValueError`.

Conventions: top-k sets rank features by |score| (the seed's "most important tokens"), ties broken by position;
correlations use the signed scores; Gini and entropy use |score|.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "word_importance", "explanation_costs",
    "UndefinedMetricWarning", "gini", "normalized_entropy", "top_k_overlap", "jaccard_top_k", "cosine", "spearman",
    "kendall", "paired_comparison", "explanation_summary", "compare_explanations", "ExplanationComparison",
    "agreement_matrix", "styled_table",
]


class UndefinedMetricWarning(RuntimeWarning):
    """A metric is undefined for this input; the value is NaN and the message says why."""


def undefined(reason: str, stacklevel: int = 3) -> float:
    """Warn with `reason` (an `UndefinedMetricWarning`) and return NaN: the one way metrics report 'undefined'."""
    warnings.warn(reason, UndefinedMetricWarning, stacklevel=stacklevel)
    return float("nan")


class collect_reasons:
    """Context manager that records `UndefinedMetricWarning` messages instead of showing them.

    >>> with collect_reasons() as reasons:
    ...     value = gini([0, 0])
    >>> reasons
    ['gini: all scores are zero, so there is no importance to distribute']
    """

    def __enter__(self) -> list[str]:
        self._ctx = warnings.catch_warnings(record=True)
        self._records = self._ctx.__enter__()
        warnings.simplefilter("always", UndefinedMetricWarning)
        self.reasons: list[str] = []
        return self.reasons

    def __exit__(self, *exc):
        records = list(self._records)
        self._ctx.__exit__(*exc)
        for r in records:
            if issubclass(r.category, UndefinedMetricWarning):
                msg = str(r.message)
                if msg not in self.reasons:
                    self.reasons.append(msg)
            else:  # other warnings pass through untouched
                warnings.warn_explicit(r.message, r.category, r.filename, r.lineno)
        return False


def _vector(scores, name: str = "scores") -> np.ndarray:
    a = np.asarray(scores, dtype=float).reshape(-1)
    return a


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a, b = _vector(a), _vector(b)
    if a.shape != b.shape:
        raise ValueError(f"Score vectors must have the same length (one score per feature); got {len(a)} and {len(b)}.")
    return a, b


def _check_finite(name: str, *arrays) -> str | None:
    for a in arrays:
        if not np.all(np.isfinite(a)):
            return f"{name}: scores contain NaN or infinity"
    return None


# ---- one explanation ---------------------------------------------------------------------------------------------
def gini(scores, corrected: bool = False) -> float:
    """Gini sparsity of |scores|: 0 when every feature matters equally, near 1 when one feature takes it all.

    Standard formula on the ascending |a|: G = 2·Σ i·a_(i) / (n·Σ a) − (n + 1)/n, i = 1..n. Its maximum (one
    non-zero feature) is 1 − 1/n, e.g. gini([1, 0, 0, 0]) = 0.75. With `corrected=True` G is multiplied by
    n/(n − 1) so that maximum is exactly 1 whatever the tweet length (gini([1, 0, 0, 0], corrected=True) = 1.0);
    use it to compare tweets of different lengths. Undefined (NaN) for fewer than two features or all-zero scores.
    """
    a = np.abs(_vector(scores))
    if (bad := _check_finite("gini", a)):
        return undefined(bad)
    n = a.size
    if n < 2:
        return undefined(f"gini: needs at least two features, got {n} (a one-word tweet has no spread to measure)")
    total = a.sum()
    if total == 0:
        return undefined("gini: all scores are zero, so there is no importance to distribute")
    a = np.sort(a)
    g = 2.0 * np.sum(np.arange(1, n + 1) * a) / (n * total) - (n + 1) / n
    if corrected:
        g *= n / (n - 1)
    return float(g)


def normalized_entropy(scores) -> float:
    """Entropy of p = |a| / Σ|a| divided by log(n): 1 for uniform importance, 0 when one feature has it all.

    Undefined (NaN) for fewer than two features (log 1 = 0) or all-zero scores.
    """
    a = np.abs(_vector(scores))
    if (bad := _check_finite("normalized_entropy", a)):
        return undefined(bad)
    n = a.size
    if n < 2:
        return undefined(f"normalized_entropy: needs at least two features, got {n} (log(1) = 0)")
    total = a.sum()
    if total == 0:
        return undefined("normalized_entropy: all scores are zero, so there is no distribution of importance")
    p = a / total
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum() / math.log(n)) + 0.0  # + 0.0 turns -0.0 into 0.0


def _top_k_sets(a: np.ndarray, b: np.ndarray, k: int, name: str):
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}.")
    if (bad := _check_finite(name, a, b)):
        return None, undefined(bad, stacklevel=4)
    n = a.size
    if n == 0:
        return None, undefined(f"{name}: no features", stacklevel=4)
    if k >= n:
        return None, undefined(f"{name}: k={k} covers all {n} features, so every feature is in both top-k sets and "
                               "the overlap is trivially 1", stacklevel=4)
    top = lambda v: set(np.argsort(-np.abs(v), kind="stable")[:k].tolist())  # noqa: E731
    return (top(a), top(b)), None


def top_k_overlap(a, b, k: int = 5) -> float:
    """|top-k(a) ∩ top-k(b)| / k, features ranked by |score| (ties broken by position).

    k is clipped to the number of features n; when k ≥ n both sets hold every feature and the overlap is
    trivially 1, so NaN is returned with that reason. Two random rankings overlap by k/n on average.
    """
    a, b = _pair(a, b)
    sets, nan = _top_k_sets(a, b, k, "top_k_overlap")
    if sets is None:
        return nan
    return len(sets[0] & sets[1]) / k


def jaccard_top_k(a, b, k: int = 5) -> float:
    """|top-k(a) ∩ top-k(b)| / |top-k(a) ∪ top-k(b)| (by |score|); NaN when k ≥ n as in `top_k_overlap`."""
    a, b = _pair(a, b)
    sets, nan = _top_k_sets(a, b, k, "jaccard_top_k")
    if sets is None:
        return nan
    return len(sets[0] & sets[1]) / len(sets[0] | sets[1])


def cosine(a, b) -> float:
    """Cosine similarity of two signed score vectors; NaN when either is all zeros."""
    a, b = _pair(a, b)
    if (bad := _check_finite("cosine", a, b)):
        return undefined(bad)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        return undefined("cosine: a score vector is all zeros (no direction)")
    return float(np.clip(a @ b / (na * nb), -1.0, 1.0))


def _rank_corr(a, b, name: str, fn) -> float:
    a, b = _pair(a, b)
    if (bad := _check_finite(name, a, b)):
        return undefined(bad, stacklevel=4)
    if a.size < 2:
        return undefined(f"{name}: needs at least two features, got {a.size} (a one-word tweet has no ranking)",
                         stacklevel=4)
    if np.all(a == a[0]) or np.all(b == b[0]):
        return undefined(f"{name}: a score vector is constant, so it has no ranking to correlate", stacklevel=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(fn(a, b).statistic)
    if not np.isfinite(value):
        return undefined(f"{name}: scipy returned {value}", stacklevel=4)
    return value


def spearman(a, b) -> float:
    """Spearman rank correlation of the signed scores (scipy.stats.spearmanr); NaN for constant or one-word input."""
    from scipy.stats import spearmanr

    return _rank_corr(a, b, "spearman", spearmanr)


def kendall(a, b) -> float:
    """Kendall's tau-b of the signed scores (scipy.stats.kendalltau); NaN for constant or one-word input."""
    from scipy.stats import kendalltau

    return _rank_corr(a, b, "kendall", kendalltau)


# ---- paired statistics -------------------------------------------------------------------------------------------
def paired_comparison(x, y, n_boot: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Compare two paired samples (e.g. a per-tweet statistic for zero-shot x and fine-tuned y).

    The difference is d = y − x ("how much y changes it"). Pairs where either value is NaN are dropped and
    counted in ``n_dropped``.

    Returns a dict: ``n`` (pairs used), ``n_dropped``, ``mean_x``, ``mean_y``, ``mean_diff`` (mean of d),
    ``cohens_dz`` (mean(d) / sd(d), sd with ddof=1: the effect size for paired samples), ``wilcoxon_p``
    (two-sided Wilcoxon signed-rank test of d, scipy; zero differences dropped), ``ci_low``/``ci_high``
    (percentile bootstrap CI of mean(d): ``n_boot`` resamples of the pairs with ``numpy.random.default_rng(seed)``),
    ``confidence`` and ``nan_reasons`` (why any entry is NaN; empty when none is).
    """
    x, y = _pair(x, y)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    d = y - x
    n = int(d.size)
    out = {"n": n, "n_dropped": int((~keep).sum()), "mean_x": float("nan"), "mean_y": float("nan"),
           "mean_diff": float("nan"), "cohens_dz": float("nan"), "wilcoxon_p": float("nan"),
           "ci_low": float("nan"), "ci_high": float("nan"), "confidence": confidence, "nan_reasons": []}
    reasons = out["nan_reasons"]

    def nan(reason):
        reasons.append(reason)
        return float("nan")

    if n == 0:
        nan("paired_comparison: no complete pairs")
        warnings.warn("; ".join(reasons), UndefinedMetricWarning, stacklevel=2)
        return out
    out.update(mean_x=float(x.mean()), mean_y=float(y.mean()), mean_diff=float(d.mean()))
    if n < 2:
        out["cohens_dz"] = nan("cohens_dz: needs at least two pairs")
    elif np.std(d, ddof=1) == 0:
        out["cohens_dz"] = nan("cohens_dz: every pair has the same difference (sd = 0)")
    else:
        out["cohens_dz"] = float(d.mean() / np.std(d, ddof=1))
    if np.all(d == 0):
        out["wilcoxon_p"] = nan("wilcoxon_p: every difference is zero")
    else:
        from scipy.stats import wilcoxon

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                p = float(wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
                out["wilcoxon_p"] = p if np.isfinite(p) else nan("wilcoxon_p: scipy returned NaN")
            except ValueError as exc:
                out["wilcoxon_p"] = nan(f"wilcoxon_p: {exc}")
    if n < 2:
        out["ci_low"] = out["ci_high"] = nan("bootstrap CI: needs at least two pairs")
    else:
        rng = np.random.default_rng(seed)
        means = d[rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
        alpha = (1 - confidence) / 2
        lo, hi = np.quantile(means, [alpha, 1 - alpha])
        out["ci_low"], out["ci_high"] = float(lo), float(hi)
    if reasons:
        warnings.warn("; ".join(reasons), UndefinedMetricWarning, stacklevel=2)
    return out


# ---- many explanations -------------------------------------------------------------------------------------------
def _top_features(attr, k: int) -> str:
    return ", ".join(f"{w} ({s:+.3g})" for w, s in attr.top_k(k))


def explanation_summary(attributions, top: int = 5) -> pd.DataFrame:
    """One row per explanation: mean |score|, Gini, normalised entropy and the top features by |score|.

    Columns: text, method, target, prediction, n_features, mean_abs, sum_abs, gini, entropy, top_features,
    nan_reason (why gini/entropy are NaN, e.g. a one-word tweet).
    """
    rows = []
    for attr in attributions:
        s = np.asarray(attr.scores, float)
        with collect_reasons() as reasons:
            g, h = gini(s), normalized_entropy(s)
        rows.append({"text": attr.text, "method": attr.method, "target": attr.target, "prediction": attr.prediction,
                     "n_features": len(s), "mean_abs": float(np.abs(s).mean()) if s.size else float("nan"),
                     "sum_abs": float(np.abs(s).sum()), "gini": g, "entropy": h,
                     "top_features": _top_features(attr, top), "nan_reason": "; ".join(reasons)})
    return pd.DataFrame(rows)


#: per-example agreement metrics computed by `compare_explanations`.
_AGREEMENT = ("cosine", "spearman", "kendall")


@dataclass
class ExplanationComparison:
    """Two sets of explanations of the same texts compared (e.g. zero-shot vs fine-tuned).

    ``per_example``: one row per text. ``agreement``: mean (NaN-aware) and count of each per-example agreement
    metric. ``paired``: `paired_comparison` of each per-example statistic (mean |score|, Gini, entropy) between
    the two sides. ``to_dict()`` gives the content of the seed's ``interpretability_metrics.json``.
    """

    names: tuple[str, str]
    per_example: pd.DataFrame
    agreement: dict
    paired: dict
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        from ..io import to_jsonable

        return to_jsonable({"names": list(self.names), "n_examples": len(self.per_example),
                            "summary": self.summary, "agreement": self.agreement, "paired": self.paired,
                            "per_example": self.per_example.to_dict(orient="records")})

    def __repr__(self) -> str:
        a, b = self.names
        parts = [f"{m}={v['mean']:.3f}" for m, v in self.agreement.items() if v["mean"] == v["mean"]]
        d = self.paired.get("mean_abs", {})
        return (f"ExplanationComparison({a} vs {b}, {len(self.per_example)} texts; agreement: {', '.join(parts)}; "
                f"mean |a| {d.get('mean_x', float('nan')):.3g} -> {d.get('mean_y', float('nan')):.3g}, "
                f"d_z={d.get('cohens_dz', float('nan')):.2f})")


def compare_explanations(attrs_a, attrs_b, names: tuple[str, str] = ("zero_shot", "fine_tuned"),
                         ks: Sequence[int] = (5, 10), n_boot: int = 2000, seed: int = 0) -> ExplanationComparison:
    """Compare explanations of the same texts from two models or methods, example by example.

    Per example: cosine, Spearman and Kendall of the signed scores, top-k overlap for each k in `ks` (with the
    chance level k/n beside it), mean |score| of each side and their delta (b − a), Gini and entropy of each
    side. Then each per-example statistic is compared as paired samples (`paired_comparison`: Cohen's d_z,
    Wilcoxon p, bootstrap CI). The two lists must explain the same texts in the same order. When the feature
    lists differ (e.g. token granularity with different tokenizers) the vector metrics are NaN with a reason.
    Note: if the two sides explain different targets (their predictions differ), signs can flip; see
    ``same_target``. Scores of two models are on the quantity's scale (log-odds by default), so mean |score|
    compares how strongly each model's words move its own log-odds.
    """
    attrs_a, attrs_b = list(attrs_a), list(attrs_b)
    if len(attrs_a) != len(attrs_b):
        raise ValueError(f"Need explanations of the same texts: got {len(attrs_a)} and {len(attrs_b)}.")
    na, nb = names
    rows = []
    for i, (a, b) in enumerate(zip(attrs_a, attrs_b)):
        if a.text != b.text:
            raise ValueError(f"Example {i}: texts differ ({a.text[:40]!r} vs {b.text[:40]!r}); pass explanations of "
                             "the same texts in the same order.")
        sa, sb = np.asarray(a.scores, float), np.asarray(b.scores, float)
        row = {"text": a.text, "n_features": len(sa), f"target_{na}": a.target, f"target_{nb}": b.target,
               "same_target": a.target == b.target}
        with collect_reasons() as reasons:
            if tuple(a.features) == tuple(b.features):
                row.update(cosine=cosine(sa, sb), spearman=spearman(sa, sb), kendall=kendall(sa, sb))
                for k in ks:
                    row[f"top{k}_overlap"] = top_k_overlap(sa, sb, k)
                    row[f"top{k}_chance"] = k / len(sa) if len(sa) > k else float("nan")  # random rankings
                    row[f"top{k}_jaccard"] = jaccard_top_k(sa, sb, k)
            else:
                reasons.append("the two explanations have different features, so they cannot be compared "
                               "feature by feature")
                row.update({m: float("nan") for m in _AGREEMENT})
                for k in ks:
                    row.update({f"top{k}_overlap": float("nan"), f"top{k}_chance": float("nan"),
                                f"top{k}_jaccard": float("nan")})
            for side, s in ((na, sa), (nb, sb)):
                row[f"mean_abs_{side}"] = float(np.abs(s).mean()) if s.size else float("nan")
                row[f"gini_{side}"] = gini(s)
                row[f"entropy_{side}"] = normalized_entropy(s)
        row["mean_importance_delta"] = row[f"mean_abs_{nb}"] - row[f"mean_abs_{na}"]
        row["nan_reason"] = "; ".join(reasons)
        rows.append(row)
    df = pd.DataFrame(rows)
    agree_cols = list(_AGREEMENT) + [f"top{k}_{w}" for k in ks for w in ("overlap", "chance", "jaccard")]
    agreement = {c: {"mean": _nanmean(df[c]) if len(df) else float("nan"),
                     "n": int(df[c].notna().sum()) if len(df) else 0} for c in agree_cols}
    paired, summary = {}, {}
    for stat in ("mean_abs", "gini", "entropy"):
        x = df[f"{stat}_{na}"].to_numpy(float) if len(df) else np.array([])
        y = df[f"{stat}_{nb}"].to_numpy(float) if len(df) else np.array([])
        with collect_reasons():
            paired[stat] = paired_comparison(x, y, n_boot=n_boot, seed=seed)
        summary[stat] = {na: paired[stat]["mean_x"], nb: paired[stat]["mean_y"]}
    return ExplanationComparison(names=(na, nb), per_example=df, agreement=agreement, paired=paired, summary=summary)


def _nanmean(values) -> float:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


# ---- agreement across methods ------------------------------------------------------------------------------------
def agreement_matrix(attributions_by_method: Mapping[str, Sequence], metric: str = "spearman",
                     k: int = 5) -> pd.DataFrame:
    """Methods × methods mean agreement over texts (NaN-aware: undefined pairs are left out of the mean).

    Args:
        attributions_by_method: method name -> explanations of the same texts in the same order.
        metric: "spearman", "kendall", "cosine" (signed scores) or "top_k" (`top_k_overlap` with `k`).
    The matrix's ``attrs["n"]`` holds, per pair, how many texts had a defined value.
    """
    fns = {"spearman": spearman, "kendall": kendall, "cosine": cosine,
           "top_k": lambda a, b: top_k_overlap(a, b, k)}
    if metric not in fns:
        raise ValueError(f"Unknown metric '{metric}'; choose from {sorted(fns)}.")
    methods = list(attributions_by_method)
    lists = [list(attributions_by_method[m]) for m in methods]
    if len({len(lst) for lst in lists}) > 1:
        raise ValueError("Every method needs explanations of the same texts: list lengths differ "
                         f"{ {m: len(lst) for m, lst in zip(methods, lists)} }.")
    for lst in lists[1:]:
        for a, b in zip(lists[0], lst):
            if a.text != b.text:
                raise ValueError(f"Texts differ across methods ({a.text[:40]!r} vs {b.text[:40]!r}).")
    m = len(methods)
    values = np.full((m, m), np.nan)
    counts = np.zeros((m, m), dtype=int)
    with collect_reasons():
        for i in range(m):
            for j in range(i, m):
                vals = [fns[metric](a.scores, b.scores) if tuple(a.features) == tuple(b.features) else np.nan
                        for a, b in zip(lists[i], lists[j])]
                v = np.asarray(vals, float)
                ok = np.isfinite(v)
                counts[i, j] = counts[j, i] = int(ok.sum())
                values[i, j] = values[j, i] = float(v[ok].mean()) if ok.any() else np.nan
    df = pd.DataFrame(values, index=methods, columns=methods)
    df.attrs["metric"] = metric if metric != "top_k" else f"top-{k} overlap"
    df.attrs["n"] = pd.DataFrame(counts, index=methods, columns=methods)
    return df


def styled_table(df: pd.DataFrame, higher_is_better: Mapping[str, bool] | None = None, precision: int = 3,
                 cmap: str = "RdYlGn"):
    """A pandas Styler with each numeric column colour-graded on its own scale: green = better.

    The direction of each column comes from `higher_is_better`, else from a trailing "↑" / "↓" in its name (as in
    `faithfulness_report` and `plausibility_report`); columns with neither (counts, …) are left uncoloured.
    Needs jinja2 (pandas' Styler).
    """
    higher_is_better = dict(higher_is_better or {})
    styler = df.style.format(precision=precision, na_rep="–")
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            continue
        name = str(col).strip()
        up = higher_is_better.get(col, True if name.endswith("↑") else False if name.endswith("↓") else None)
        if up is None or df[col].notna().sum() < 2:
            continue
        styler = styler.background_gradient(cmap=cmap if up else f"{cmap}_r", subset=[col], axis=0)
    return styler


def word_importance(attributions, min_count: int = 1) -> dict[str, list[tuple[str, float, int]]]:
    """Per explained label: (word, mean score toward that label, count), lowercased words, largest |mean| first.

    Grouped by the label each explanation explains: averaging over explanations of different labels would cancel
    (with two labels, the log-odds scores for one are the negatives of the other's).
    """
    from collections import defaultdict

    by_label: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for attr in attributions:
        for word, score in zip(attr.features, attr.scores):
            key = word.lower().strip(".,!?;:\"'()")
            if key:
                by_label[attr.target][key].append(float(score))
    out = {}
    for label, words in by_label.items():
        rows = [(w, float(np.mean(v)), len(v)) for w, v in words.items() if len(v) >= min_count]
        out[label] = sorted(rows, key=lambda r: -abs(r[1]))
    return out


def explanation_costs(explanations) -> pd.DataFrame:
    """One row per explanation: model evaluations, seconds, the sum of scores beside f(all) - f(none) (efficiency),
    and integrated gradients' convergence delta where there is one."""
    return pd.DataFrame([{"method": e.method, "evaluations": e.n_evaluations, "seconds": round(e.seconds, 2),
                          "sum of scores": round(float(np.sum(e.scores)), 3),
                          "f(all) - f(none)": round(e.value_full - e.value_empty, 3),
                          "IG delta": e.extras.get("convergence_delta")} for e in explanations]).set_index("method")
