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
The differentiable forward is the engine's (`ScoringEngine.embedding_forward`).
"""
from __future__ import annotations

import torch

from .registry import AttributionMethod, register_method

__all__ = ["IntegratedGradients", "Saliency", "InputXGradient"]


class _GradientMethod(AttributionMethod):
    family, absent, absent_options = "gradient", "baseline", ("baseline",)

    def cost(self, n_features, budget):
        return 1

    def _run(self, scorer, attribute):
        """Run a captum gradient method on the tweet's embeddings; count the rows run (each forward + backward)."""
        f = scorer.embedding_forward()
        with torch.enable_grad():
            out = attribute(f)
        scorer.n_evaluations += f.n_forward
        return f, out


@register_method
class IntegratedGradients(_GradientMethod):
    """Integrated gradients from the baseline-token embeddings to the tweet's embeddings (budget = n_steps)."""

    name, efficient = "integrated_gradients", True
    description = ("Captum IntegratedGradients on the tweet's token embeddings from the baseline-token embedding "
                   "(completeness up to the convergence delta; budget = n_steps)")
    citation = "Sundararajan, Taly & Yan 2017, Axiomatic attribution for deep networks"
    budget_name, default_budget = "n_steps", 32

    def cost(self, n_features, budget):
        return budget

    def attribute(self, scorer, budget=None, seed: int = 0, internal_batch_size: int = 32,
                  method: str = "gausslegendre", **options):
        from captum.attr import IntegratedGradients as CaptumIG

        f, (attr, delta) = self._run(scorer, lambda f: CaptumIG(f).attribute(
            f.tweet_embeds, baselines=f.baseline_embeds, n_steps=int(budget), method=method,
            internal_batch_size=internal_batch_size, return_convergence_delta=True))
        token_scores = attr[0].sum(-1).detach().cpu().double().numpy()
        return scorer.to_features(token_scores), {
            "n_steps": int(budget), "convergence_delta": float(delta.reshape(-1)[0]),
            "baseline_token": scorer.clf.tokenizer.decode([scorer.baseline_token_id]),
            "requested_evaluations": f.n_forward, "backward_passes": f.n_forward}


@register_method
class Saliency(_GradientMethod):
    """The L2 norm of the gradient at each token's embedding (one forward and one backward pass). Unsigned."""

    name = "saliency"
    description = "Captum Saliency: L2 norm of the gradient at each token embedding (unsigned; 1 forward+backward)"
    citation = "Simonyan, Vedaldi & Zisserman 2014, Deep inside convolutional networks"

    def attribute(self, scorer, budget=None, seed: int = 0, **options):
        from captum.attr import Saliency as CaptumSaliency

        _, grad = self._run(scorer, lambda f: CaptumSaliency(f).attribute(
            f.tweet_embeds.clone().requires_grad_(True), abs=False))
        token_scores = grad[0].norm(dim=-1).detach().cpu().double().numpy()
        return scorer.to_features(token_scores), {"aggregation": "L2 norm of the gradient", "unsigned": True,
                                                  "requested_evaluations": 1, "backward_passes": 1}


@register_method
class InputXGradient(_GradientMethod):
    """Embedding times gradient, summed over the embedding dimension (one forward and one backward pass).

    A first-order estimate of how the score changes when the token's embedding is replaced by the zero vector
    (not by deleting the token).
    """

    name = "input_x_gradient"
    description = "Captum InputXGradient: embedding x gradient summed over the embedding (1 forward+backward)"
    citation = "Shrikumar et al. 2016, Not just a black box: learning important features through propagating " \
               "activation differences"

    def attribute(self, scorer, budget=None, seed: int = 0, **options):
        from captum.attr import InputXGradient as CaptumInputXGradient

        _, attr = self._run(scorer, lambda f: CaptumInputXGradient(f).attribute(
            f.tweet_embeds.clone().requires_grad_(True)))
        token_scores = attr[0].sum(-1).detach().cpu().double().numpy()
        return scorer.to_features(token_scores), {"aggregation": "sum over the embedding of x * gradient",
                                                  "requested_evaluations": 1, "backward_passes": 1}
