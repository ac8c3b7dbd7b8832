"""DataInf: an influence function for LoRA adapters in closed form (Kwon, Wu, Wu, Zou 2024, ICLR).

An influence function (Koh & Liang 2017) scores training tweet k for test tweet t by grad L_t^T H^-1 grad L_k, with H
the Hessian of the training loss. DataInf takes H per weight matrix l as the damped Gauss-Newton matrix
(1/n) sum_i (g_il g_il^T + lambda_l I), swaps the inverse and the mean, and inverts each rank-one term exactly
(Sherman-Morrison):

    v^T H_l^-1 g_kl  ~=  1/(n lambda_l) sum_i [ v.g_kl - (v.g_il)(g_il.g_kl) / (lambda_l + |g_il|^2) ]

with lambda_l = damping * mean_i |g_il|^2 / d_l (the paper's 0.1 * (n d_l)^-1 sum_i |g_il|^2). Everything is
dot products of per-example gradients, so it costs one gradient per tweet at the final weights and no checkpoints.
"""
from __future__ import annotations

import numpy as np
import torch

from .gradients import InfluenceError, _classifier, adapter_parameters, per_example_grads, training_examples
from .tracin import InfluenceScores

__all__ = ["datainf", "datainf_from_grads", "weight_blocks"]


def weight_blocks(classifier) -> list[tuple[int, int]]:
    """Column ranges of each LoRA weight matrix in `per_example_grads`' rows (DataInf's 'layers')."""
    blocks, start = [], 0
    for p in adapter_parameters(_classifier(classifier)).values():
        blocks.append((start, start + p.numel()))
        start += p.numel()
    return blocks


def datainf_from_grads(train_grads: torch.Tensor, test_grads: torch.Tensor, blocks: list[tuple[int, int]],
                       damping: float = 0.1) -> np.ndarray:
    """DataInf scores (n_test, n_train) from per-example gradients at the final weights, summed over weight blocks.

    Sign as TracIn's: positive = proponent (up-weighting the training tweet lowers the test tweet's loss); the
    paper's influence is the negative of this.
    """
    if not damping > 0:
        raise InfluenceError(f"damping must be > 0 (DataInf's lambda is damping x the mean squared gradient); got "
                             f"{damping}.")
    if train_grads.ndim != 2 or test_grads.ndim != 2 or train_grads.shape[1] != test_grads.shape[1]:
        raise InfluenceError(f"Gradients must be (n, n_weights) matrices of the same width; got "
                             f"{tuple(train_grads.shape)} and {tuple(test_grads.shape)}.")
    if len(train_grads) == 0:
        raise InfluenceError("No training gradients: pass a non-empty training set.")
    n = train_grads.shape[0]
    out = torch.zeros(test_grads.shape[0], n, dtype=torch.float64)
    for start, stop in blocks:
        g, v = train_grads[:, start:stop].double(), test_grads[:, start:stop].double()
        sq = (g * g).sum(1)
        lam = damping * float(sq.mean()) / (stop - start)
        if lam == 0:  # a weight matrix with zero gradient everywhere contributes nothing
            continue
        vg = v @ g.T  # (n_test, n_train): v . g_k
        out += (n * vg - (vg / (lam + sq)) @ (g @ g.T)) / (n * lam)
    return out.numpy()


def datainf(result, train, test, damping: float = 0.1, chunk_size: int = 16, progress: bool = False,
            train_grads: torch.Tensor | None = None) -> InfluenceScores:
    """DataInf influence (Kwon et al. 2024) of each training tweet on each test tweet's label loss, at the fine-tuned
    adapter's final weights (no checkpoints needed).

    Args:
        result: a FineTuneResult or fine-tuned classifier.
        train: the tweets the adapter was trained on (their labels as trained).
        test: the tweets to explain; their labels are the labels whose loss is traced.
        damping: lambda_l = damping x the mean squared gradient entry of weight matrix l (the paper's 0.1).
        train_grads: the training tweets' `per_example_grads` at the final weights, when already computed.
    """
    clf = _classifier(result)
    blocks = weight_blocks(clf)  # a zero-shot model fails here, with what to do
    training_examples(clf, train), training_examples(clf, test)  # clear errors before any model work
    g_train = train_grads if train_grads is not None else per_example_grads(clf, train, chunk_size=chunk_size,
                                                                            progress=progress)
    g_test = per_example_grads(clf, test, chunk_size=chunk_size, progress=progress)
    scores = datainf_from_grads(g_train, g_test, blocks, damping)
    return InfluenceScores(scores, "datainf", list(train.texts), list(train.labels), list(test.texts),
                           list(test.labels), info={"damping": damping, "weights": "final", "blocks": len(blocks)})
