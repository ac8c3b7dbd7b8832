"""Lesson 05 exercises: the Gini sparsity of an explanation, and comprehensiveness at k words."""
from __future__ import annotations

import numpy as np

from ._core import assert_matches, exercise, passed
from ._data import check_tweets, reference_scores, value_function

__all__ = ["check_gini", "check_comprehensiveness"]


@exercise("05", "gini(scores): Gini sparsity of |scores| (0 = spread evenly, 1 - 1/n = one word takes all)")
def check_gini(gini_fn, clf=None) -> bool:
    """Compare `gini_fn(scores)` with the kit's `gini` on handmade vectors and, given `clf`, real explanations.

    Catches: signed scores used without the absolute value, values not sorted ascending, and a missing
    normalisation (by n and by the total).
    """
    from ...evaluation import gini

    vectors = [np.array([1.0, 0, 0, 0]), np.array([0.2, -0.5, 0.1, 0.9, -0.3]), np.array([3.0, 1.0, 2.0])]
    if clf is not None:
        vectors += [reference_scores(clf, t, "feature_ablation") for t, _ in check_tweets(2, offset=4)]
    for v in vectors:
        assert_matches(float(gini_fn(v)), gini(v), f"gini of {np.round(v, 3).tolist()}", atol=1e-6, rtol=1e-6,
                       hint="a = sorted |scores| ascending, i = 1..n: G = 2 * sum(i * a_i) / (n * sum(a)) - (n+1)/n.")
    return passed("check_gini", f"your Gini equals the kit's on {len(vectors)} score vectors")


@exercise("05", "comprehensiveness(value, scores, k): f(all) - f(all but the k top-scored words)")
def check_comprehensiveness(comprehensiveness_fn, clf) -> bool:
    """Compare `comprehensiveness_fn(value, scores, k)` with the kit's `comprehensiveness` at k/n, on real tweets.

    Catches: removing the k LOWEST-scored words, ranking by |score| instead of the signed score (the kit ranks by
    the push toward the target), and keeping the top k instead of removing them (that is sufficiency).
    """
    from ...attribution import MaskScorer
    from ...evaluation import comprehensiveness

    for text, _ in check_tweets(2, min_words=5, max_words=14, offset=5):
        scorer = MaskScorer(clf, text)
        scores = reference_scores(clf, text, "feature_ablation")
        for s, k in ((scores, 1), (scores, 2), (-scores, 2)):  # -scores: an anti-explanation, top = most negative
            got = comprehensiveness_fn(value_function(scorer), s, k)
            want = comprehensiveness(scorer, s, fractions=(k / scorer.n_features,))
            assert_matches(float(got), want, f"comprehensiveness of {text!r} at k={k}", atol=1e-3, rtol=1e-3,
                           hint="remove the k words with the LARGEST signed scores (np.argsort(-scores)[:k]) and "
                                "return value(all) - value(the rest).")
    return passed("check_comprehensiveness", "your comprehensiveness equals the kit's on 2 real tweets (k = 1, 2, and reversed scores)")
