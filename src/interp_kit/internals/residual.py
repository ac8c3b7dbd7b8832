"""The residual stream at the answer position, every layer at once: what the logit lens and the probes read.

One batched forward pass per batch of tweets reads every layer (hook points `resid_pre.0`, the token embeddings,
and `resid_post.l` for each layer), storing the answer position only. The instruction's keys/values come from the
engine's prefix cache (`share_prefix=True`), so only the tweet and the answer cue are computed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from ._common import texts_of, tweet_ids

__all__ = ["ResidualStream", "residual_points", "point_labels", "residual_stream"]


def residual_points(n_layers: int) -> list[str]:
    """The readout points, bottom to top: the embeddings (`resid_pre.0`), then each layer's output."""
    return ["resid_pre.0"] + [f"resid_post.{layer}" for layer in range(n_layers)]


def point_labels(n_layers: int) -> list[str]:
    """Short names of the readout points for tables and plots: "emb", "0", "1", ..."""
    return ["emb"] + [str(layer) for layer in range(n_layers)]


@dataclass
class ResidualStream:
    """Answer-position residual vectors of many tweets at every readout point.

    Attributes:
        acts: (n_tweets, n_layers + 1, d) float32 on the CPU; [:, 0] are the embeddings, [:, l + 1] layer l's output.
        label_logits: (n_tweets, n_labels), the classifier's own label logits from the same pass.
        points: the hook point of each readout (`residual_points`).
    """

    texts: list[str]
    acts: torch.Tensor
    label_logits: torch.Tensor
    points: list[str]
    label_names: tuple[str, ...]

    @property
    def n_layers(self) -> int:
        return len(self.points) - 1

    def __repr__(self) -> str:
        n, k, d = self.acts.shape
        return f"ResidualStream({n} tweets, {k} readouts (embeddings + {k - 1} layers), d={d})"


def residual_stream(classifier, tweets, batch_size: int = 16, progress: bool | None = None) -> ResidualStream:
    """Read the answer-position residual stream of every layer for each tweet, one forward pass per batch.

    Args:
        classifier: a label-word classifier (zero-shot, or fine-tuned with its adapter on).
        tweets: texts or a `Tweets` set.
        batch_size: tweets per forward pass (batches are sorted by length, so little padding is computed).
        progress: show a progress bar (default: more than four batches).
    """
    texts = texts_of(tweets)
    if not texts:
        raise ValueError("No tweets given: pass at least one text.")
    ids = [tweet_ids(classifier, t) for t in texts]
    hooks = classifier.engine.hooks()
    points = residual_points(hooks.n_layers)
    order = np.argsort([len(t) for t in ids], kind="stable")
    acts, logits = None, torch.empty(len(texts), len(classifier.label_names))
    show = progress if progress is not None else len(texts) > 4 * batch_size
    for start in tqdm(range(0, len(texts), batch_size), desc="residual stream", disable=not show, unit="batch"):
        idx = order[start:start + batch_size]
        trace = hooks.run([ids[i] for i in idx], read=points, share_prefix=True, answer_only=True)
        batch = torch.stack([trace.acts[p] for p in points], dim=1)  # (b, points, d)
        if acts is None:
            acts = torch.empty(len(texts), len(points), batch.shape[-1])
        acts[torch.as_tensor(idx)] = batch
        logits[torch.as_tensor(idx)] = trace.label_logits
    return ResidualStream(texts, acts, logits, points, tuple(classifier.label_names))
