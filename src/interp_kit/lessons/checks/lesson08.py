"""Lesson 08 exercises: TracIn from per-checkpoint gradients, and precision at k of a mislabel ranking."""
from __future__ import annotations

import numpy as np

from ._core import CheckFailed, assert_matches, exercise, passed

__all__ = ["check_tracin", "check_precision_at_k"]


@exercise("08", "TracIn scores from per-checkpoint gradients and learning rates (Pruthi et al. 2020)")
def check_tracin(my_tracin, result, train, test) -> bool:
    """Run `my_tracin(train_grads, test_grads, lrs)` on real tweets' gradients and compare with `tracin_from_grads`.

    train_grads / test_grads: one (n, n_weights) tensor per checkpoint; lrs: one learning rate per checkpoint;
    the answer is (n_test, n_train).
    """
    from ...influence.tracin import checkpoint_grads, checkpoints_of, tracin_from_grads

    cps = checkpoints_of(result)
    g_train, g_test = checkpoint_grads(result, train), checkpoint_grads(result, test)
    lrs = [float(c["lr"]) for c in cps]
    want = tracin_from_grads(g_train, g_test, lrs)
    got = my_tracin([g.clone() for g in g_train], [g.clone() for g in g_test], list(lrs))
    scale = float(np.abs(want).max())
    assert_matches(got, want, "the TracIn scores (test tweets x training tweets)", atol=1e-4 * scale, rtol=1e-4,
                   hint="sum over checkpoints of lr_i * (test gradients @ training gradients^T); every checkpoint "
                        "counts, each weighted by its own learning rate.")
    return passed("check_tracin", f"{want.shape[0]} x {want.shape[1]} scores over {len(cps)} checkpoints match")


@exercise("08", "precision at k of a ranking of training tweets that should put flipped labels first")
def check_precision_at_k(my_precision_at_k) -> bool:
    """Run `my_precision_at_k(scores, flipped, k)` on rankings of 40 tweets (4 flipped) and compare with
    `mislabel_detection`; k differs from the number flipped, so precision and recall differ."""
    from ...influence import mislabel_detection

    rng = np.random.default_rng(8)
    for trial in range(3):
        flipped = np.zeros(40, dtype=bool)
        flipped[rng.choice(40, 4, replace=False)] = True
        scores = rng.normal(size=40) + 1.5 * flipped
        for k in (2, 6, 10):
            want = mislabel_detection(scores, flipped, k=k)[f"precision@{k}"]
            got = my_precision_at_k(scores.copy(), flipped.copy(), k)
            if got is None:
                raise CheckFailed("my_precision_at_k returned None; return the fraction of flipped tweets in "
                                  "the top k.")
            assert_matches(float(got), want, f"precision@{k} (ranking {trial + 1})", atol=1e-9,
                           hint="rank by score, highest first; precision = flipped among the top k, divided by k.")
    return passed("check_precision_at_k", "9 rankings match")
