"""Lesson 03 exercises: the explained quantity (log-odds of the target label), and exact Shapley values."""
from __future__ import annotations

import numpy as np
import torch

from ._core import assert_matches, exercise, passed
from ._data import check_tweets, reference_scores, value_function

__all__ = ["check_log_odds", "check_exact_shapley"]


@exercise("03", "log_odds(label_logits, target): log p(target) - log(1 - p(target)) under the label-word softmax")
def check_log_odds(log_odds, clf) -> bool:
    """Compare `log_odds(label_logits, target)` with the kit's explained quantity on the label logits of real
    tweets (two labels) and of a three-label example.

    Catches: log p(target) alone (no 1 - p), the odds without the log, a softmax over all labels forgotten (raw
    logits), and "1 - p" taken as another label's probability, which is wrong with three labels.
    """
    from ...engine.scoring import label_quantity

    rows = [clf.label_logits([t])[0] for t, _ in check_tweets(2, offset=9)]
    rows.append(np.array([1.5, -0.3, 0.8]))  # three labels: 1 - p(target) is the sum of the other two
    for logits in rows:
        for target in range(len(logits)):
            got = log_odds(np.asarray(logits, dtype=float), target)
            want = float(label_quantity(torch.as_tensor(logits, dtype=torch.float64)[None], target, "log_odds")[0])
            assert_matches(float(got), want, f"log-odds of label {target} for label logits {np.round(logits, 3)}",
                           atol=1e-4, rtol=1e-4, hint="p = softmax(label_logits); log_odds = log p[target] - "
                                                      "log(1 - p[target]) (1 - p sums EVERY other label).")
    return passed("check_log_odds", "your log-odds equal the kit's on 2 real tweets and a three-label example")


@exercise("03", "exact_shapley(value, n): Shapley values of n words by enumerating every coalition")
def check_exact_shapley(exact_shapley, clf) -> bool:
    """Compare `exact_shapley(value, n)` with the kit's `exact_shapley` method on two real three-word tweets.

    `value(mask)` returns the explained quantity (log-odds of the predicted label) with the words where mask is
    False deleted. Catches: a plain average of marginal contributions (no Shapley weights), the weight
    |S|!(n-|S|)!/n! (n - |S| instead of n - |S| - 1: the weights no longer sum to 1), the marginal taken the wrong
    way round (f(S) - f(S ∪ {i})).
    """
    from ...attribution import MaskScorer

    for text, _ in check_tweets(2, min_words=3, max_words=3, offset=0):
        scorer = MaskScorer(clf, text)
        got = exact_shapley(value_function(scorer), scorer.n_features)
        want = reference_scores(clf, text, "exact_shapley")
        assert_matches(got, want, f"Shapley values of {text!r}", atol=1e-3, rtol=1e-3, names=list(scorer.features),
                       hint="phi_i = sum over S without i of |S|! (n-|S|-1)! / n! * (value(S + i) - value(S)); "
                            "check that your values sum to value(all) - value(none).")
    return passed("check_exact_shapley", "your Shapley values equal the kit's exact_shapley on 2 real tweets")
