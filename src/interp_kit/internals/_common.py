"""What the internals share: the label margin, tweet token ids from the classifier, checked layers and heads."""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["InternalsError", "margin", "tweet_ids", "check_layer", "check_head", "texts_of", "mean_ci"]


class InternalsError(ValueError):
    """A request the internals cannot serve (a layer or head out of range, an unusable pair of texts); the message
    says what to change."""


def margin(label_logits: torch.Tensor, target: int) -> torch.Tensor:
    """logit(target) − the largest other label logit, per row (n, n_labels) -> (n,).

    With two labels this is the log-odds of `target` under the label-restricted softmax (the quantity the kit
    explains by default); with more it is the distance to the nearest rival label.
    """
    logits = label_logits.float()
    others = torch.cat([logits[..., :target], logits[..., target + 1:]], dim=-1)
    return logits[..., target] - others.max(dim=-1).values


def tweet_ids(classifier, text: str) -> list[int]:
    """The tweet's token ids exactly as the classifier tokenizes it (plain text, never prompt structure)."""
    return list(classifier.tokenize_tweet(text).token_ids)  # raises the kit's clear error on empty text


def texts_of(tweets) -> list[str]:
    """A list of strings from one string, a list or a `Tweets` set."""
    if isinstance(tweets, str):
        return [tweets]
    return list(getattr(tweets, "texts", tweets))


def check_layer(layer: int, n_layers: int, what: str = "layer") -> int:
    """`layer` as an index in 0 .. n_layers - 1 (negative counts from the end); a clear error when out of range."""
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise InternalsError(f"The {what} must be an integer, got {layer!r}.")
    if not -n_layers <= int(layer) < n_layers:
        raise InternalsError(f"{what.capitalize()} {layer} is out of range: this model has {n_layers} layers "
                             f"(0 .. {n_layers - 1}, or -1 for the last).")
    return int(layer) % n_layers


def check_head(head: int, n_heads: int) -> int:
    """`head` as an index in 0 .. n_heads - 1; a clear error when out of range."""
    if isinstance(head, bool) or not isinstance(head, (int, np.integer)):
        raise InternalsError(f"The head must be an integer or 'mean', got {head!r}.")
    if not 0 <= int(head) < n_heads:
        raise InternalsError(f"Head {head} is out of range: each layer of this model has {n_heads} attention heads "
                             f"(0 .. {n_heads - 1}); use head='mean' for their average.")
    return int(head)


def mean_ci(values, confidence: float = 0.95, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and Student-t confidence interval (low, high) along `axis` (scipy.stats.t)."""
    from scipy import stats

    v = np.asarray(values, float)
    n = v.shape[axis]
    mean = v.mean(axis=axis)
    if n < 2:
        return mean, mean.copy(), mean.copy()
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * v.std(axis=axis, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half
