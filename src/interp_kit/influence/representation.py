"""Nearest training examples in the classifier's representation: the hidden state at the answer position.

Example-based explanation (Molnar, "Interpretable Machine Learning", ch. "Example-based explanations"): show the
training tweets the model represents most like the test tweet. The representation is the residual stream at the
position where the label word is read, after a chosen layer, read through the engine's hook points.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from .gradients import InfluenceError, _classifier, training_examples

__all__ = ["answer_states", "NearestExamples", "nearest_examples", "knn_accuracy"]


def answer_states(classifier, tweets, layer: int = -1, batch_size: int = 16) -> np.ndarray:
    """The residual stream leaving `layer` at the answer position, one row per tweet: (n, d_model).

    Read by the internals' `residual_stream` (one hooked forward per length-sorted batch, prefix cached)."""
    from ..internals._common import check_layer
    from ..internals.residual import residual_stream

    clf = _classifier(classifier)
    if hasattr(tweets, "labels"):
        training_examples(clf, tweets)  # the same checks as for gradients: non-empty, the classifier's label space
    texts = list(getattr(tweets, "texts", tweets))
    if not texts:
        raise InfluenceError("No tweets given.")
    index = check_layer(layer, clf.engine.hooks().n_layers) + 1  # readout 0 is the embeddings
    return residual_stream(clf, texts, batch_size=batch_size, progress=False).acts[:, index].numpy()


@dataclass
class NearestExamples:
    """The k most similar training tweets (cosine of answer states) for each query tweet."""

    indices: np.ndarray  # (n_query, k)
    similarities: np.ndarray  # (n_query, k)
    train_texts: list[str]
    train_labels: list[str]
    query_texts: list[str]
    layer: int

    def table(self, query: int) -> pd.DataFrame:
        """The neighbours of one query tweet: rank, similarity, label and text."""
        return pd.DataFrame([{"rank": r + 1, "similarity": float(s), "label": self.train_labels[j],
                              "text": self.train_texts[j]}
                             for r, (j, s) in enumerate(zip(self.indices[query], self.similarities[query]))])

    def vote(self) -> list[str]:
        """The majority label among each query's neighbours (ties: the nearest neighbour's label)."""
        out = []
        for row in self.indices:
            labels = [self.train_labels[j] for j in row]
            counts = {lab: labels.count(lab) for lab in labels}
            best = max(counts.values())
            out.append(next(lab for lab in labels if counts[lab] == best))
        return out


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)
    b = b / np.linalg.norm(b, axis=1, keepdims=True).clip(1e-12)
    return a @ b.T


def nearest_examples(classifier, train, queries, layer: int = -1, k: int = 5, train_states=None) -> NearestExamples:
    """The k training tweets whose answer states (after `layer`) are most cosine-similar to each query tweet's.

    Args:
        classifier: the zero-shot or the fine-tuned classifier (each has its own representation).
        train: the training tweets (a Tweets set).
        queries: the tweets to explain (a Tweets set or a list of texts).
        train_states: precomputed `answer_states(classifier, train, layer)`, to reuse across calls.
    """
    if len(train.texts) == 0:
        raise InfluenceError("The training set is empty: give at least one training tweet.")
    if k < 1:
        raise InfluenceError("k must be at least 1.")
    k = min(k, len(train.texts))
    a = answer_states(classifier, train, layer) if train_states is None else train_states
    q = answer_states(classifier, queries, layer)
    sim = _cosine(q, a)
    idx = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    texts = list(getattr(queries, "texts", queries))
    return NearestExamples(idx, np.take_along_axis(sim, idx, 1), list(train.texts), list(train.labels), texts, layer)


def knn_accuracy(classifier, train, test, layer: int = -1, k: int = 5) -> float:
    """Accuracy of a k-nearest-neighbour vote over the training tweets' gold labels at the answer state of `layer`:
    a check that the representation carries the label (a probe with no parameters)."""
    near = nearest_examples(classifier, train, test, layer=layer, k=k)
    return float(np.mean([p == g for p, g in zip(near.vote(), test.labels)]))
