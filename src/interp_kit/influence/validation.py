"""Validating influence the papers' way: find flipped labels by self-influence (Pruthi et al. 2020; Koh & Liang
2017, section 5.4), scored with scikit-learn's AUROC and precision at k."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .gradients import InfluenceError

__all__ = ["flip_labels", "mislabel_detection"]


def flip_labels(tweets, fraction: float = 0.1, seed: int = 0):
    """A copy of `tweets` with `fraction` of the labels changed to another label; returns (tweets, flipped mask)."""
    n = len(tweets.texts)
    if n == 0:
        raise InfluenceError("The training set is empty: nothing to flip.")
    if not 0 < fraction < 1:
        raise InfluenceError("fraction must be between 0 and 1 (e.g. 0.1 for 10%).")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(n, size=max(1, round(fraction * n)), replace=False)
    labels = list(tweets.labels)
    names = list(tweets.label_names)
    for i in chosen:
        others = [lab for lab in names if lab != labels[i]]
        labels[i] = others[int(rng.integers(len(others)))]
    flipped = np.zeros(n, dtype=bool)
    flipped[chosen] = True
    return replace(tweets, labels=labels), flipped


def mislabel_detection(scores, flipped, k: int | None = None, seed: int = 0) -> dict:
    """How well a ranking (high score first) finds the flipped tweets: AUROC and precision@k (k = number flipped),
    with random ranking's expected values (AUROC 0.5, precision = the flipped fraction) for comparison."""
    from sklearn.metrics import roc_auc_score

    scores, flipped = np.asarray(scores, dtype=float), np.asarray(flipped, dtype=bool)
    if scores.shape != flipped.shape:
        raise InfluenceError(f"{scores.shape[0]} scores but {flipped.shape[0]} flip flags: give one per "
                             "training tweet.")
    if flipped.all() or not flipped.any():
        raise InfluenceError("Need both flipped and clean tweets to measure detection.")
    k = int(k or flipped.sum())
    top = np.argsort(-scores, kind="stable")[:k]
    return {"auroc": float(roc_auc_score(flipped, scores)), f"precision@{k}": float(flipped[top].mean()),
            "random auroc": 0.5, f"random precision@{k}": float(flipped.mean()), "k": k}
