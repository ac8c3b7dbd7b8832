"""Linear probes (Alain & Bengio 2016) on the answer-position residual stream, with a control task (Hewitt & Liang
2019, Designing and interpreting probes with control tasks).

Per layer, a logistic-regression probe (scikit-learn, standardised inputs, stratified k-fold cross-validation)
predicts the sentiment label from the residual vector at the answer position. The control task gives each tweet the
random label of its first word's type (the same word always gets the same label, as Hewitt & Liang give each word
type a random tag): a probe that reaches high accuracy on it shows what the probe can learn by itself from surface
identity. Selectivity = task accuracy − control accuracy. A high probe accuracy says the information can be read
out linearly, not that the model uses it (compare the logit lens and activation patching).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._common import InternalsError, check_layer
from .residual import ResidualStream, point_labels, residual_stream

__all__ = ["ProbeResult", "probe_layers", "control_labels", "compare_probes"]


def control_labels(texts, n_classes: int, seed: int = 0, class_weights=None) -> np.ndarray:
    """Hewitt & Liang's control task for tweets: each first-word type (lowercased, punctuation stripped) gets a random
    class, drawn with `class_weights` (default uniform); every tweet takes its first word's class."""
    rng = np.random.default_rng(seed)
    types = []
    for t in texts:
        words = t.split()
        w = re.sub(r"\W+", "", words[0].lower()) if words else ""
        types.append(w or (words[0].lower() if words else ""))
    vocab = sorted(set(types))
    p = None if class_weights is None else np.asarray(class_weights, float) / np.sum(class_weights)
    table = dict(zip(vocab, rng.choice(n_classes, size=len(vocab), p=p)))
    return np.array([table[w] for w in types])


@dataclass
class ProbeResult:
    """Cross-validated probe accuracy per layer on the task and on the control task.

    Attributes:
        table: one row per readout layer ("emb", "0", ...): task accuracy (mean and std over folds), control
            accuracy, selectivity, train accuracies, and the majority-class rate.
    """

    table: pd.DataFrame
    n_tweets: int
    cv: int
    name: str = ""

    def best_layer(self) -> str:
        return str(self.table["task acc"].idxmax())

    def plot(self, ax=None):
        from .plots import plot_probe_curves

        return plot_probe_curves({self.name or "model": self}, ax=ax)


def _folds(y: np.ndarray, cv: int) -> int:
    smallest = np.bincount(y).min() if len(np.unique(y)) > 1 else 0
    return int(min(cv, smallest))


def probe_layers(classifier, tweets, labels=None, layers=None, cv: int = 5, control: bool = True, C: float = 0.1,
                 seed: int = 0, batch_size: int = 16, progress: bool | None = None, name: str = "") -> ProbeResult:
    """Train a cross-validated logistic-regression probe per layer on the answer-position residual stream.

    Args:
        classifier: a label-word classifier (zero-shot, or fine-tuned with its adapter on).
        tweets: a `Tweets` set (its labels are used), texts with `labels`, or a `ResidualStream` with `labels`.
        labels: label names (or indices) per tweet; default `tweets.labels`.
        layers: readout layers to probe (ints, -1 the last; "emb" for the embeddings); default every one.
        cv: folds of the stratified cross-validation (fewer when a class is that rare).
        control: also probe the control task (first-word-type random labels) and report selectivity.
        C: inverse L2 strength of the logistic regression (strong regularisation suits n_tweets < d).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from tqdm.auto import tqdm

    if labels is None:
        labels = getattr(tweets, "labels", None)
        if labels is None:
            raise InternalsError("Probes need the label of each tweet: pass a Tweets set or labels=[...].")
    stream = tweets if isinstance(tweets, ResidualStream) else residual_stream(classifier, tweets, batch_size, progress)
    labels = list(labels)
    if len(labels) != len(stream.texts):
        raise InternalsError(f"{len(labels)} labels for {len(stream.texts)} tweets.")
    y = np.array([classifier.label_index(l) if isinstance(l, str) else int(l) for l in labels])
    folds = _folds(y, cv)
    if folds < 2:
        raise InternalsError(f"Each label needs at least 2 tweets for cross-validation (counts: {np.bincount(y)}); "
                             "probe more tweets.")
    names = point_labels(stream.n_layers)
    if layers is None:
        idx = list(range(len(names)))
    else:
        idx = [0 if l == "emb" else check_layer(l, stream.n_layers) + 1 for l in layers]
    y_control = control_labels(stream.texts, len(classifier.label_names), seed, np.bincount(y)) if control else None
    c_folds = _folds(y_control, cv) if control else 0
    X_all = stream.acts.numpy()
    rows = []
    for k in tqdm(idx, desc="probes", disable=not (progress if progress is not None else len(idx) > 8), unit="layer"):
        X = X_all[:, k, :]
        row = {"layer": names[k]}
        for task, target, nf in (("task", y, folds), ("control", y_control, c_folds)):
            if target is None:
                continue
            if nf < 2:
                row.update({f"{task} acc": np.nan, f"{task} acc std": np.nan, f"{task} train acc": np.nan})
                continue
            probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
            res = cross_validate(probe, X, target, cv=StratifiedKFold(nf, shuffle=True, random_state=seed),
                                 return_train_score=True)
            row.update({f"{task} acc": res["test_score"].mean(), f"{task} acc std": res["test_score"].std(),
                        f"{task} train acc": res["train_score"].mean()})
        if control:
            row["selectivity"] = row["task acc"] - row["control acc"]
        row["majority"] = np.bincount(y).max() / len(y)
        rows.append(row)
    return ProbeResult(pd.DataFrame(rows).set_index("layer"), len(y), folds, name)


def compare_probes(results: dict) -> pd.DataFrame:
    """Task accuracy, control accuracy and selectivity per layer, side by side (e.g. zero-shot vs fine-tuned)."""
    cols = [c for c in ("task acc", "control acc", "selectivity") if c in next(iter(results.values())).table]
    return pd.concat({name: r.table[cols] for name, r in results.items()}, axis=1)
