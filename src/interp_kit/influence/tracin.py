"""Influence of training tweets on a prediction: TracIn over fine-tuning checkpoints, and gradient cosine.

TracIn (Pruthi et al. 2020, "Estimating Training Data Influence by Tracing Gradient Descent", NeurIPS) scores a
training tweet z for a test tweet z' by sum over checkpoints of lr_i * grad L(z, w_i) . grad L(z', w_i): how much
the gradient steps on z lowered the loss on z'. Positive = proponent (training on it helped the prediction),
negative = opponent. Self-influence (z' = z) is large for tweets the model found hard to fit, such as mislabelled
ones (Pruthi et al. 2020, section 4). Gradient cosine normalises each gradient first, so tweets with large
gradients (high loss) stop dominating every ranking (the normalised variant discussed by Barshan et al. 2020,
"RelatIF", AISTATS). Influence functions (Koh & Liang 2017, ICML) are the Hessian-based ancestor; TracIn avoids
the Hessian.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from .gradients import InfluenceError, _classifier, adapter_parameters, per_example_grads, training_examples

__all__ = ["InfluenceScores", "checkpoints_of", "checkpoint_grads", "gradient_memory_check", "tracin_from_grads",
           "tracin", "grad_cosine", "self_influence", "compare_estimators"]

ESTIMATORS = ("tracin", "cosine")


def checkpoints_of(result, checkpoints=None) -> list[dict]:
    """The checkpoints to trace: given ones, else `result.checkpoints` (from `fine_tune(..., checkpoints=k)`)."""
    clf = _classifier(result)
    adapter_parameters(clf)  # a zero-shot model fails here, with what to do
    cps = list(checkpoints if checkpoints is not None else getattr(result, "checkpoints", None) or [])
    if not cps:
        raise InfluenceError("No checkpoints: TracIn sums over the adapter's weights saved during fine-tuning. "
                             "Fine-tune with checkpoints: result = fine_tune(clf, train, checkpoints=2), or load an "
                             "adapter saved (save_adapter) from such a result.")
    for c in cps:
        if not {"state", "lr"} <= set(c):
            raise InfluenceError("A checkpoint must be a dict with 'state' (adapter weights) and 'lr'.")
    return cps


@dataclass
class InfluenceScores:
    """Influence of each training tweet (columns) on each test tweet (rows), with the tweets to show them.

    `scores[i, j] > 0`: training tweet j is a proponent of test tweet i's gold (or given) label.
    """

    scores: np.ndarray  # (n_test, n_train)
    method: str
    train_texts: list[str]
    train_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]
    info: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"InfluenceScores({self.method}: {len(self.test_texts)} test x {len(self.train_texts)} train tweets)"

    def _row(self, test: int) -> np.ndarray:
        if not 0 <= test < len(self.test_texts):
            raise IndexError(f"test tweet {test} is out of range (0 .. {len(self.test_texts) - 1}).")
        return self.scores[test]

    def proponents(self, test: int, k: int = 5) -> list[int]:
        """Indices of the k training tweets with the largest positive influence on test tweet `test`."""
        return [int(j) for j in np.argsort(-self._row(test), kind="stable")[:k]]

    def opponents(self, test: int, k: int = 5) -> list[int]:
        """Indices of the k training tweets with the most negative influence on test tweet `test`."""
        return [int(j) for j in np.argsort(self._row(test), kind="stable")[:k]]

    def table(self, test: int, k: int = 5) -> pd.DataFrame:
        """Proponents then opponents of one test tweet: role, score, training label and text."""
        row = self._row(test)
        rows = [("proponent", j) for j in self.proponents(test, k)] + [("opponent", j) for j in self.opponents(test, k)]
        return pd.DataFrame([{"role": role, "train index": j, "score": float(row[j]), "label": self.train_labels[j],
                              "text": self.train_texts[j]} for role, j in rows])


def checkpoint_grads(result, tweets, checkpoints=None, chunk_size: int = 16, progress: bool = False,
                     max_bytes: int | None = None) -> list:
    """Per-example gradients (n, n_weights) of `tweets` at each checkpoint, batched (`per_example_grads`).

    They are all kept in memory (n_tweets x n_checkpoints x n_weights floats), so a request that would not fit in
    `max_bytes` (by default the memory available now) fails at once, with what to do.
    """
    cps = checkpoints_of(result, checkpoints)
    training_examples(result, tweets)
    gradient_memory_check(result, len(tweets.texts), len(cps), max_bytes)
    return [per_example_grads(result, tweets, state=c["state"], chunk_size=chunk_size, progress=progress) for c in cps]


def available_memory() -> int | None:
    """Bytes of memory available to this process now (psutil, else sysconf), or None where neither says."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None


def gradient_memory_check(result, n_tweets: int, n_checkpoints: int, max_bytes: int | None = None) -> int:
    """The bytes `checkpoint_grads` will keep (float32); an InfluenceError when that exceeds `max_bytes`."""
    n_weights = sum(p.numel() for p in adapter_parameters(_classifier(result)).values())
    need = n_tweets * n_checkpoints * n_weights * 4
    limit = max_bytes if max_bytes is not None else available_memory()
    if limit is not None and need > limit:
        raise InfluenceError(
            f"Keeping the gradients of {n_tweets} tweets at {n_checkpoints} checkpoints needs {need / 2**30:.2f} GiB "
            f"({n_weights:,} adapter weights each, float32), more than the {limit / 2**30:.2f} GiB available. Trace "
            f"fewer tweets, or fewer checkpoints (checkpoints=result.checkpoints[::2], or fine_tune(..., "
            f"checkpoints=k) with a larger k); tracin() without train_grads keeps one checkpoint at a time.")
    return need


def tracin_from_grads(train_grads: list, test_grads: list, lrs: list, normalise: bool = False) -> np.ndarray:
    """TracIn-CP from per-checkpoint gradients: sum_i lr_i * G_test_i @ G_train_i^T, (n_test, n_train) (Pruthi et
    al. 2020, eq. 3). `normalise=True`: the mean over checkpoints of the cosines instead (no learning rates)."""
    if not (len(train_grads) == len(test_grads) == len(lrs)) or not lrs:
        raise InfluenceError("Give one training gradient matrix, one test gradient matrix and one learning rate per "
                             "checkpoint (at least one checkpoint).")
    total = np.zeros((test_grads[0].shape[0], train_grads[0].shape[0]))
    for lr, a, b in zip(lrs, test_grads, train_grads):
        if normalise:
            a, b = torch.nn.functional.normalize(a, dim=1), torch.nn.functional.normalize(b, dim=1)
        total += (1.0 if normalise else float(lr)) * (a.double() @ b.double().T).numpy()
    return total / len(lrs) if normalise else total


def _scores(result, train, test, checkpoints, normalise: bool, chunk_size: int, progress: bool,
            train_grads=None) -> np.ndarray:
    cps = checkpoints_of(result, checkpoints)
    training_examples(result, train), training_examples(result, test)  # clear errors before any model work
    lrs = [c["lr"] for c in cps]
    if train_grads is not None:
        return tracin_from_grads(train_grads, checkpoint_grads(result, test, cps, chunk_size, progress), lrs,
                                 normalise)
    # one checkpoint's gradients in memory at a time: the same sum, in the same order
    total = np.zeros((len(test.texts), len(train.texts)))
    for c in cps:
        grads = [checkpoint_grads(result, tweets, [c], chunk_size, progress)[0] for tweets in (train, test)]
        total += tracin_from_grads(grads[:1], grads[1:], [c["lr"]], normalise)
    return total / len(cps) if normalise else total


def _wrap(scores, method, train, test, cps) -> InfluenceScores:
    return InfluenceScores(scores, method, list(train.texts), list(train.labels), list(test.texts), list(test.labels),
                           info={"checkpoints": [int(c.get("step", i)) for i, c in enumerate(cps)],
                                 "lrs": [float(c["lr"]) for c in cps]})


def tracin(result, train, test, checkpoints=None, chunk_size: int = 16, progress: bool = False,
           train_grads: list | None = None) -> InfluenceScores:
    """TracIn-CP influence (Pruthi et al. 2020) of each training tweet on each test tweet's label loss.

    Args:
        result: the FineTuneResult of `fine_tune(..., checkpoints=k)` (holds the classifier and checkpoints).
        train: the tweets the adapter was trained on (their labels as trained, flipped ones included).
        test: the tweets whose predictions are explained; their labels are the labels whose loss is traced (use
            the model's predictions as labels to explain what it said).
        checkpoints: override `result.checkpoints` (e.g. only the last one, to see how much the choice matters).
        train_grads: the training tweets' `checkpoint_grads`, when already computed (they are the costly part).
    """
    cps = checkpoints_of(result, checkpoints)
    scores = _scores(result, train, test, cps, False, chunk_size, progress, train_grads)
    return _wrap(scores, "tracin", train, test, cps)


def grad_cosine(result, train, test, checkpoints=None, chunk_size: int = 16, progress: bool = False,
                train_grads: list | None = None) -> InfluenceScores:
    """Mean over checkpoints of the cosine between training and test gradients (a normalised TracIn; Barshan et
    al. 2020): ranks training tweets by direction alone, so high-loss tweets do not dominate every list."""
    cps = checkpoints_of(result, checkpoints)
    scores = _scores(result, train, test, cps, True, chunk_size, progress, train_grads)
    return _wrap(scores, "cosine", train, test, cps)


def self_influence(result, train, checkpoints=None, chunk_size: int = 16, progress: bool = False,
                   train_grads: list | None = None) -> np.ndarray:
    """TracIn self-influence sum_i lr_i |grad L(z, w_i)|^2 of each training tweet (Pruthi et al. 2020, section 4):
    high for tweets the model fits only reluctantly, e.g. mislabelled ones."""
    cps = checkpoints_of(result, checkpoints)
    training_examples(result, train)
    out = np.zeros(len(train.texts))
    for i, c in enumerate(cps):  # without train_grads, one checkpoint's gradients in memory at a time
        g = train_grads[i] if train_grads is not None else checkpoint_grads(result, train, [c], chunk_size,
                                                                            progress)[0]
        out += float(c["lr"]) * (g.double() ** 2).sum(1).numpy()
    return out


def compare_estimators(a: InfluenceScores, b: InfluenceScores, k: int = 5) -> pd.DataFrame:
    """Per test tweet: Spearman correlation of two estimators' scores over the training tweets and the overlap of
    their top-k proponents (scipy's spearmanr)."""
    from scipy.stats import spearmanr

    if a.scores.shape != b.scores.shape:
        raise InfluenceError(f"The two score tables differ in shape {a.scores.shape} vs {b.scores.shape}; compute "
                             "both on the same training and test tweets.")
    rows = []
    for i in range(a.scores.shape[0]):
        overlap = len(set(a.proponents(i, k)) & set(b.proponents(i, k))) / k
        rows.append({"test tweet": a.test_texts[i], "spearman": float(spearmanr(a.scores[i], b.scores[i])[0]),
                     f"top-{k} overlap": overlap})
    return pd.DataFrame(rows)
