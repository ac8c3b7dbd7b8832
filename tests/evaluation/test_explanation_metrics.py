"""Explanation metrics on hand-computed cases (no model needed)."""
from __future__ import annotations

import json
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from interp_kit import Attribution
from interp_kit.viz import plot_agreement
from interp_kit.evaluation.statistics import (
    UndefinedMetricWarning, agreement_matrix, compare_explanations, cosine, explanation_summary, gini, jaccard_top_k,
    kendall, normalized_entropy, paired_comparison, spearman, styled_table, top_k_overlap,
)


def make_attr(text, scores, method="m", target="positive"):
    spans = tuple((m.start(), m.end()) for m in re.finditer(r"\S+", text))
    return Attribution(text=text, features=tuple(text[a:b] for a, b in spans), spans=spans,
                       scores=np.asarray(scores, float), target=target, quantity="log_odds", value_full=1.0,
                       value_empty=0.0, prediction=target, probabilities={}, method=method)


# ---- sparsity and entropy ----------------------------------------------------------------------------------------
def test_gini_hand_computed():
    assert gini([1, 0, 0, 0]) == pytest.approx(0.75)  # n-normalised: max is 1 - 1/n
    assert gini([1, 0, 0, 0], corrected=True) == pytest.approx(1.0)  # × n/(n-1)
    assert gini([1, 1, 1, 1]) == pytest.approx(0.0)
    # sorted [1,2,3,4]: 2·(1+4+9+16)/(4·10) − 5/4 = 0.25 (= Σ|xi−xj| / (2 n² mean) = 20/80)
    assert gini([4, 1, 3, 2]) == pytest.approx(0.25)
    assert gini([-4, 1, -3, 2]) == pytest.approx(0.25)  # uses |a|


def test_entropy_hand_computed():
    assert normalized_entropy([0.2, 0.2, 0.2, 0.2]) == pytest.approx(1.0)
    assert normalized_entropy([-3, 0, 0]) == 0.0
    assert normalized_entropy([1, 1, 0, 0]) == pytest.approx(math.log(2) / math.log(4))  # = 0.5
    assert normalized_entropy([2, -1, 1]) == pytest.approx(1.5 * math.log(2) / math.log(3))


@pytest.mark.parametrize("fn,args,reason", [
    (gini, ([0, 0, 0],), "all scores are zero"),
    (gini, ([2.0],), "at least two features"),
    (normalized_entropy, ([0.0, 0.0],), "all scores are zero"),
    (normalized_entropy, ([5.0],), "at least two features"),
    (gini, ([1.0, np.nan],), "NaN"),
    (cosine, ([0, 0, 0], [1, 2, 3]), "all zeros"),
    (spearman, ([1, 1, 1], [1, 2, 3]), "constant"),
    (kendall, ([1, 2, 3], [2, 2, 2]), "constant"),
    (spearman, ([1.0], [2.0]), "at least two features"),
    (top_k_overlap, ([1, 2, 3], [3, 2, 1], 5), "trivially 1"),
    (top_k_overlap, ([1, 2, 3], [3, 2, 1], 3), "trivially 1"),
    (jaccard_top_k, ([1, 2], [2, 1], 2), "trivially 1"),
])
def test_undefined_cases_warn_with_reason_and_return_nan(fn, args, reason):
    with pytest.warns(UndefinedMetricWarning, match=reason):
        value = fn(*args)
    assert isinstance(value, float) and math.isnan(value)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="same length"):
        cosine([1, 2], [1, 2, 3])


# ---- agreement between two explanations --------------------------------------------------------------------------
def test_top_k_overlap_and_jaccard_hand_computed():
    a, b = [3, -5, 1, 0.5, 0], [-4, 2, 3, 0, 0.1]
    # by |score|: top2(a) = {1, 0}, top2(b) = {0, 2}: one shared
    assert top_k_overlap(a, b, 2) == pytest.approx(0.5)
    assert jaccard_top_k(a, b, 2) == pytest.approx(1 / 3)
    # top3(a) = {1, 0, 2}, top3(b) = {0, 2, 1}
    assert top_k_overlap(a, b, 3) == pytest.approx(1.0)
    assert top_k_overlap([6, 5, 4, 3, 2, 1], [1, 2, 3, 4, 5, 6], 3) == 0.0
    assert jaccard_top_k([6, 5, 4, 3, 2, 1], [1, 2, 3, 4, 5, 6], 3) == 0.0
    assert top_k_overlap([1, 1, 1, 1], [1, 1, 1, 1], 2) == 1.0  # ties broken by position, the same way twice


def test_cosine_hand_computed():
    assert cosine([1, 0], [0, 1]) == pytest.approx(0.0)
    assert cosine([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert cosine([1, 2, 3], [-1, -2, -3]) == pytest.approx(-1.0)
    assert cosine([1, 0], [1, 1]) == pytest.approx(1 / math.sqrt(2))


def test_rank_correlations_hand_computed():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 45]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # rank differences [0, 1, 1, 0]: 1 − 6·2 / (4·15) = 0.8
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    # 6 pairs, one discordant: (5 − 1) / 6
    assert kendall([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(2 / 3)


# ---- paired statistics -------------------------------------------------------------------------------------------
def test_paired_comparison_hand_computed():
    x, y = [1, 2, 3, 4], [2, 4, 3, 7]  # d = y − x = [1, 2, 0, 3]
    r = paired_comparison(x, y, n_boot=2000, seed=0)
    assert r["n"] == 4 and r["n_dropped"] == 0
    assert (r["mean_x"], r["mean_y"], r["mean_diff"]) == pytest.approx((2.5, 4.0, 1.5))
    assert r["cohens_dz"] == pytest.approx(1.5 / math.sqrt(5 / 3))  # sd(d, ddof=1) = sqrt(5/3)
    assert r["wilcoxon_p"] == pytest.approx(0.25)  # zero dropped; 3 positive ranks: exact p = 2 / 2**3
    assert 0 <= r["ci_low"] <= 1.5 <= r["ci_high"] <= 3
    assert r["nan_reasons"] == []
    assert paired_comparison(x, y, seed=0) == r  # seeded bootstrap is reproducible


def test_paired_comparison_drops_nan_pairs_and_explains_nan():
    with pytest.warns(UndefinedMetricWarning, match="sd = 0"):
        r = paired_comparison([1, np.nan, 3, 5], [2, 1, np.nan, 6])
    assert r["n"] == 2 and r["n_dropped"] == 2
    assert r["mean_diff"] == pytest.approx(1.0)
    assert math.isnan(r["cohens_dz"]) and "sd = 0" in " ".join(r["nan_reasons"])
    with pytest.warns(UndefinedMetricWarning, match="no complete pairs"):
        empty = paired_comparison([np.nan], [1.0])
    assert empty["n"] == 0 and math.isnan(empty["mean_diff"])
    with pytest.warns(UndefinedMetricWarning, match="every difference is zero"):
        same = paired_comparison([1, 2, 3], [1, 2, 3])
    assert math.isnan(same["wilcoxon_p"]) and same["mean_diff"] == 0.0


# ---- many explanations -------------------------------------------------------------------------------------------
def test_explanation_summary_columns_and_values():
    attrs = [make_attr("so happy today", [2, 0, 0]), make_attr("great", [1.5])]
    df = explanation_summary(attrs, top=2)
    assert list(df["n_features"]) == [3, 1]
    assert df.loc[0, "mean_abs"] == pytest.approx(2 / 3)
    assert df.loc[0, "gini"] == pytest.approx(2 / 3)  # one non-zero of three: 1 − 1/3
    assert df.loc[0, "top_features"].startswith("so (+2)")
    assert math.isnan(df.loc[1, "gini"]) and "at least two features" in df.loc[1, "nan_reason"]


def test_compare_explanations_per_example_and_paired():
    texts = ["a b c d e f", "g h i j k l", "m n o p q r"]
    za = [[6, 5, 4, 3, 2, 1], [1, 2, 3, 4, 5, 6], [1, 0, 0, 0, 0, 0]]
    fa = [[12, 10, 8, 6, 4, 2], [6, 5, 4, 3, 2, 1], [2, 2, 2, 2, 2, 2]]
    zs = [make_attr(t, s) for t, s in zip(texts, za)]
    ft = [make_attr(t, s) for t, s in zip(texts, fa)]
    cmp = compare_explanations(zs, ft)
    df = cmp.per_example
    assert df["cosine"].tolist()[:2] == pytest.approx([1.0, cosine(za[1], fa[1])])
    assert df["spearman"].tolist()[:2] == pytest.approx([1.0, -1.0])
    # text 2: top5 by |score| = {1..5} vs {0..4}: four shared
    assert df["top5_overlap"].tolist() == pytest.approx([1.0, 0.8, top_k_overlap(za[2], fa[2], 5)])
    assert df["top5_chance"].tolist() == pytest.approx([5 / 6] * 3)
    assert df["top10_overlap"].isna().all()  # six words: k = 10 covers all of them
    assert "trivially 1" in df.loc[0, "nan_reason"]
    deltas = [np.mean(np.abs(f)) - np.mean(np.abs(z)) for z, f in zip(za, fa)]
    assert df["mean_importance_delta"].tolist() == pytest.approx(deltas)
    p = cmp.paired["mean_abs"]
    assert p["mean_diff"] == pytest.approx(np.mean(deltas))
    assert p["cohens_dz"] == pytest.approx(np.mean(deltas) / np.std(deltas, ddof=1))
    assert cmp.agreement["spearman"]["n"] == 2  # third text: constant vectors
    json.dumps(cmp.to_dict(), allow_nan=False)  # the interpretability_metrics.json content
    with pytest.raises(ValueError, match="texts differ"):
        compare_explanations(zs, ft[::-1])


def test_agreement_matrix_nan_aware_and_plot():
    texts = ["a b c d", "e f g h"]
    by_method = {
        "m1": [make_attr(texts[0], [1, 2, 3, 4]), make_attr(texts[1], [4, 3, 2, 1])],
        "m2": [make_attr(texts[0], [1, 2, 4, 3]), make_attr(texts[1], [1, 2, 3, 4])],
        "flat": [make_attr(texts[0], [1, 1, 1, 1]), make_attr(texts[1], [4, 3, 2, 0])],
    }
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        m = agreement_matrix(by_method, "spearman")
    assert not [r for r in rec if r.category is UndefinedMetricWarning]  # collected, not shown per text
    assert m.loc["m1", "m2"] == pytest.approx((0.8 + -1.0) / 2)
    assert m.loc["m1", "flat"] == pytest.approx(1.0)  # text 1 is constant for "flat": left out, not 0
    assert m.attrs["n"].loc["m1", "flat"] == 1
    assert np.allclose(m.to_numpy(), m.to_numpy().T, equal_nan=True)
    assert m.loc["m1", "m1"] == pytest.approx(1.0)
    top = agreement_matrix(by_method, "top_k", k=2)
    assert top.loc["m1", "m2"] == pytest.approx((1.0 + 0.0) / 2)
    fig = plot_agreement(m)
    assert fig.axes and fig.axes[0].get_title().startswith("Agreement")


def test_styled_table_colours_by_direction():
    df = pd.DataFrame({"comprehensiveness ↑": [0.1, 0.9], "sufficiency ↓": [0.1, 0.9], "n_texts": [5, 5]},
                      index=["a", "b"])
    styler = styled_table(df)
    html = styler.to_html()
    assert "background-color" in html
    ctx = styler._compute().ctx
    best_up, best_down = ctx[(1, 0)], ctx[(0, 1)]  # highest ↑ and lowest ↓ get the same (green) colour
    assert best_up == best_down
    assert (0, 2) not in ctx  # counts are not graded
