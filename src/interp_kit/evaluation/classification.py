"""Classification metrics through scikit-learn: accuracy, precision/recall/F1, MCC, confusion matrix."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, matthews_corrcoef, precision_recall_fscore_support

__all__ = ["classification_metrics", "evaluate"]


def classification_metrics(y_true, y_pred, label_names, proba=None) -> dict:
    """Accuracy, per-class and macro precision/recall/F1, MCC and the confusion matrix (rows = gold).

    MCC stays informative under class imbalance: +1 perfect, 0 no better than chance, -1 always wrong.
    """
    label_names = list(label_names)
    labels = list(range(len(label_names)))
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    mp, mr, mf, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    out = {
        "n": int(len(y_true)),
        "labels": label_names,
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "mcc": float(matthews_corrcoef(y_true, y_pred)),
        "macro": {"precision": float(mp), "recall": float(mr), "f1": float(mf)},
        "per_class": {name: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                      for i, name in enumerate(label_names)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
    if proba is not None:
        proba = np.asarray(proba)
        out["mean_probabilities"] = {name: float(proba[:, i].mean()) for i, name in enumerate(label_names)}
        out["mean_confidence"] = float(proba.max(1).mean())
    return out


def evaluate(classifier, tweets, batch_size: int = 16, progress: bool | None = None) -> dict:
    """Classify `tweets` (a Tweets set) and return `classification_metrics` plus the predictions."""
    if tuple(tweets.label_names) != tuple(classifier.label_names):
        raise ValueError(f"Data labels {tweets.label_names} differ from the classifier's {classifier.label_names}.")
    proba = classifier.predict_proba(tweets.texts, batch_size=batch_size, progress=progress)
    result = classification_metrics(tweets.label_ids, proba.argmax(1), classifier.label_names, proba)
    result["predictions"] = [classifier.label_names[i] for i in proba.argmax(1)]
    result["probabilities"] = proba.round(6).tolist()
    return result
