"""Gradient methods on the input embeddings of the tweet's tokens.

Only the tweet's token embeddings are inputs: the prompt prefix is encoded once (KV cache, no gradient) and the
suffix embeddings are constant context, so the instruction is never attributed. The model runs on
`inputs_embeds` taken from `model.get_input_embeddings()` with `requires_grad` on those embeddings only (never on
weights), which works the same for a plain model, a PeftModel (LoRA on or off as the classifier says) and 4-bit
bitsandbytes models on a GPU.

From embedding-space attributions (one vector per token) to one number per token:

* IntegratedGradients: sum over the embedding dimension of (x - x') * mean gradient along the path (signed).
  Its completeness axiom makes the token scores sum to f(x) - f(x'); the gap is the convergence delta.
* InputXGradient: sum over the embedding dimension of x * gradient (signed).
* Saliency: the L2 norm of the gradient of the token's embedding (unsigned: how sensitive, not which way).

Word scores are the sums of their tokens' scores. The baseline x' of IntegratedGradients is the embedding of
the baseline token (the pad token by default, the same token `absent="baseline"` inserts in perturbation
methods), kept at every tweet position, so f(x') is exactly `MaskScorer(..., absent="baseline").value_empty`.
"""
from __future__ import annotations

import numpy as np
import torch

from .core import MaskScorer

__all__ = ["EmbeddingForward", "integrated_gradients", "saliency", "input_x_gradient"]


class EmbeddingForward(torch.nn.Module):
    """f(tweet token embeddings) -> explained quantity, differentiable, with the prompt prefix cached.

    Called with float32 embeddings of shape (batch, n_tweet_tokens, d); returns a (batch,) tensor.
    """

    def __init__(self, scorer: MaskScorer):
        super().__init__()
        clf = scorer.clf
        self.clf, self.scorer = clf, scorer
        self.target_index, self.quantity = scorer.target_index, scorer.quantity
        model = clf.model
        self.embed = model.get_input_embeddings()
        self.dtype = self.embed.weight.dtype
        dev = clf.device
        tweet_ids = torch.tensor(scorer.tweet.token_ids, device=dev)
        with torch.no_grad():
            self.tweet_embeds = self.embed(tweet_ids).float().unsqueeze(0)
            self.suffix_embeds = self.embed(torch.tensor(clf.suffix_ids, device=dev)).unsqueeze(0)
            base = self.embed(torch.tensor([scorer.baseline_token_id], device=dev)).float()
            self.baseline_embeds = base.expand_as(self.tweet_embeds[0]).unsqueeze(0).clone()
        self.kv = clf.prefix_kv()  # made under no_grad, so usable inside an autograd graph
        self.prefix_length = len(clf.prefix_ids)
        self.n_forward = 0

    def forward(self, tweet_embeds: torch.Tensor) -> torch.Tensor:
        clf = self.clf
        b = tweet_embeds.shape[0]
        x = torch.cat([tweet_embeds.to(self.dtype), self.suffix_embeds.expand(b, -1, -1)], dim=1)
        width = x.shape[1]
        cache = self.kv.batch(b)  # the prefix, shared by all rows
        dev = x.device
        mask = torch.ones(b, self.prefix_length + width, dtype=torch.long, device=dev)
        positions = (self.prefix_length + torch.arange(width, device=dev)).unsqueeze(0).expand(b, -1)
        with clf.model_context():
            logits = clf.model(inputs_embeds=x, attention_mask=mask, position_ids=positions, past_key_values=cache,
                               use_cache=True, logits_to_keep=1).logits[:, -1, :].float()
        self.n_forward += b
        label_logits = logits[:, list(clf.label_token_ids)]
        log_z = torch.logsumexp(logits, dim=-1) if self.quantity == "log_prob" else None
        return clf.score(label_logits, self.target_index, self.quantity, log_z)


def _to_features(scorer: MaskScorer, token_scores: np.ndarray) -> np.ndarray:
    """Token scores -> feature scores (a word's score is the sum of its tokens')."""
    out = np.zeros(scorer.n_features)
    np.add.at(out, scorer.token_feature, token_scores)
    return out


def integrated_gradients(scorer: MaskScorer, budget=None, seed: int = 0, internal_batch_size: int = 32,
                         method: str = "gausslegendre", **options):
    """Integrated gradients from the baseline-token embeddings to the tweet's embeddings (budget = n_steps)."""
    from captum.attr import IntegratedGradients

    f = EmbeddingForward(scorer)
    with torch.enable_grad():
        attr, delta = IntegratedGradients(f).attribute(
            f.tweet_embeds, baselines=f.baseline_embeds, n_steps=int(budget), method=method,
            internal_batch_size=internal_batch_size, return_convergence_delta=True)
    token_scores = attr[0].sum(-1).detach().cpu().double().numpy()
    return _to_features(scorer, token_scores), {
        "n_steps": int(budget), "convergence_delta": float(delta.reshape(-1)[0]),
        "baseline_token": scorer.clf.tokenizer.decode([scorer.baseline_token_id]),
        "requested_evaluations": f.n_forward, "backward_passes": f.n_forward}


def saliency(scorer: MaskScorer, budget=None, seed: int = 0, **options):
    """The L2 norm of the gradient at each token's embedding (one forward and one backward pass)."""
    from captum.attr import Saliency

    f = EmbeddingForward(scorer)
    with torch.enable_grad():
        grad = Saliency(f).attribute(f.tweet_embeds.clone().requires_grad_(True), abs=False)
    token_scores = grad[0].norm(dim=-1).detach().cpu().double().numpy()
    return _to_features(scorer, token_scores), {"aggregation": "L2 norm of the gradient", "requested_evaluations": 1,
                                                "backward_passes": 1}


def input_x_gradient(scorer: MaskScorer, budget=None, seed: int = 0, **options):
    """Embedding times gradient, summed over the embedding dimension (one forward and one backward pass)."""
    from captum.attr import InputXGradient

    f = EmbeddingForward(scorer)
    with torch.enable_grad():
        attr = InputXGradient(f).attribute(f.tweet_embeds.clone().requires_grad_(True))
    token_scores = attr[0].sum(-1).detach().cpu().double().numpy()
    return _to_features(scorer, token_scores), {"aggregation": "sum over the embedding of x * gradient",
                                                "requested_evaluations": 1, "backward_passes": 1}
