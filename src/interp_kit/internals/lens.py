"""The logit lens (nostalgebraist 2020): read the label margin from every layer's residual stream.

Each layer's answer-position residual vector goes through the model's own final norm and LM head (the label rows
only), as if the model stopped there. At the last layer this is exactly the classifier's label logits; earlier
layers show where in depth the label becomes readable. Zero-shot and fine-tuned models are compared on the same
tweets (mean margin with a Student-t interval per layer).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ._common import InternalsError, margin, mean_ci, tweet_ids
from .residual import ResidualStream, point_labels, residual_points, residual_stream

__all__ = ["LogitLens", "PositionLens", "logit_lens", "logit_lens_positions", "compare_lens", "resolve_targets"]


def resolve_targets(classifier, targets, label_logits: torch.Tensor) -> np.ndarray:
    """Label indices: None -> each tweet's prediction; one label name -> that label for all; a list -> per tweet."""
    n = label_logits.shape[0]
    if targets is None:
        return label_logits.argmax(-1).numpy()
    if isinstance(targets, str):
        return np.full(n, classifier.label_index(targets))
    targets = list(targets)
    if len(targets) != n:
        raise InternalsError(f"{len(targets)} targets for {n} tweets; give one label per tweet, one label name, or None.")
    return np.array([classifier.label_index(t) for t in targets])


@dataclass
class LogitLens:
    """The label margin read at every layer for many tweets.

    Attributes:
        margins: (n_tweets, n_layers + 1): logit(target) − the largest other label logit, read through the final norm
            and LM head from the embeddings (column 0) and each layer's output; the last column is the model's own.
        targets: the label index each margin is for.
    """

    texts: list[str]
    margins: np.ndarray
    targets: np.ndarray
    label_names: tuple[str, ...]
    name: str = ""

    @property
    def layers(self) -> list[str]:
        return point_labels(self.margins.shape[1] - 1)

    def summary(self, confidence: float = 0.95) -> pd.DataFrame:
        """Per readout: mean margin with a t-interval, and the share of tweets where the target label leads."""
        m, lo, hi = mean_ci(self.margins, confidence)
        return pd.DataFrame({"mean margin": m, "low": lo, "high": hi, "share > 0": (self.margins > 0).mean(0)},
                            index=pd.Index(self.layers, name="layer"))

    def plot(self, ax=None, label: str | None = None):
        """Mean margin per layer with its interval band."""
        from .plots import plot_layer_curves

        return plot_layer_curves({label or self.name or "model": self.summary()}, "mean margin",
                                 "label margin (logit lens)", ax=ax)


def logit_lens(classifier, tweets, targets=None, batch_size: int = 16, progress: bool | None = None,
               name: str = "") -> LogitLens:
    """The label margin read through the final norm and LM head from every layer, for each tweet.

    One batched forward pass per batch reads every layer (`residual_stream`).

    Args:
        classifier: a label-word classifier (zero-shot, or fine-tuned: its adapter is on).
        tweets: texts, a `Tweets` set, or a `ResidualStream` already read from this classifier.
        targets: the label each margin is for: None (each tweet's prediction), one label name, or one per tweet
            (e.g. the gold labels `tweets.labels`, to compare models on the same footing).
    """
    stream = tweets if isinstance(tweets, ResidualStream) else residual_stream(classifier, tweets, batch_size, progress)
    hooks = classifier.engine.hooks()
    n, k, d = stream.acts.shape
    logits = hooks.unembed(stream.acts.reshape(n * k, d)).reshape(n, k, -1)
    t = resolve_targets(classifier, targets, stream.label_logits)
    margins = torch.stack([margin(logits[i], int(t[i])) for i in range(n)]).numpy()
    return LogitLens(stream.texts, margins, t, tuple(classifier.label_names), name)


def compare_lens(lenses: dict, confidence: float = 0.95) -> pd.DataFrame:
    """Side-by-side mean margins with intervals per layer, e.g. {"zero-shot": lens0, "fine-tuned": lens1}."""
    parts = {name: lens.summary(confidence)[["mean margin", "low", "high"]] for name, lens in lenses.items()}
    return pd.concat(parts, axis=1)


@dataclass
class PositionLens:
    """The logit lens of one tweet at every position after the cached instruction (tweet and answer cue).

    Attributes:
        margins: (n_layers + 1, n_positions) margin of `target` read at each layer and position.
        tokens: the token at each position; the last one is the answer position.
    """

    text: str
    margins: np.ndarray
    tokens: list[str]
    n_tweet_tokens: int
    target: str

    def table(self) -> pd.DataFrame:
        cols = [f"{i}:{t!r}" for i, t in enumerate(self.tokens)]
        return pd.DataFrame(self.margins, index=pd.Index(point_labels(self.margins.shape[0] - 1), name="layer"),
                            columns=cols)

    def plot(self, ax=None):
        from .plots import plot_layer_position

        return plot_layer_position(self.margins, self.tokens, f"margin of '{self.target}' (logit lens)", ax=ax,
                                   center=0.0)


def logit_lens_positions(classifier, text: str, target: str | None = None) -> PositionLens:
    """The logit lens at every tweet and answer-cue position of one tweet (one forward pass).

    Reading the label rows at an earlier position asks "if the answer came right here, which label would win".
    """
    ids = tweet_ids(classifier, text)
    hooks = classifier.engine.hooks()
    points = residual_points(hooks.n_layers)
    trace = hooks.run([ids], read=points, share_prefix=True)
    acts = torch.stack([trace.acts[p][0] for p in points])  # (points, width, d)
    k, w, d = acts.shape
    logits = hooks.unembed(acts.reshape(k * w, d)).reshape(k, w, -1)
    t = int(trace.label_logits[0].argmax()) if target is None else classifier.label_index(target)
    margins = margin(logits, t).numpy()
    cont = ids + list(classifier.suffix_ids)
    tokens = [classifier.tokenizer.decode([i]) for i in cont]
    return PositionLens(text, margins, tokens, len(ids), classifier.label_names[t])
