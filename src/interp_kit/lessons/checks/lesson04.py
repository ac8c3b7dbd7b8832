"""Lesson 04 exercises: occlusion (leave one word out), and integrated gradients as a Riemann sum."""
from __future__ import annotations

import torch

from ._core import CheckFailed, assert_matches, exercise, passed
from ._data import check_tweets, reference_scores, value_function

__all__ = ["check_occlusion", "check_riemann_ig"]


@exercise("04", "occlusion(value, n): f(all words) - f(all words but word i), for each word")
def check_occlusion(occlusion, clf) -> bool:
    """Compare `occlusion(value, n)` with the kit's `feature_ablation` on two real tweets.

    Catches: the sign flipped (f(without i) - f(all)), keeping only word i instead of removing it, and removing
    words cumulatively (word i and every word before it).
    """
    from ...attribution import MaskScorer

    for text, _ in check_tweets(2, min_words=4, max_words=8, offset=2):
        scorer = MaskScorer(clf, text)
        got = occlusion(value_function(scorer), scorer.n_features)
        want = reference_scores(clf, text, "feature_ablation")
        assert_matches(got, want, f"occlusion scores of {text!r}", atol=1e-3, rtol=1e-3, names=list(scorer.features),
                       hint="score_i = value(all True) - value(all True except position i).")
    return passed("check_occlusion", "your occlusion scores equal the kit's feature_ablation on 2 real tweets")


def riemann_ig_reference(f, x: torch.Tensor, baseline: torch.Tensor, n_steps: int) -> torch.Tensor:
    """Integrated gradients per token, midpoint Riemann sum (captum's method="riemann_middle")."""
    from captum.attr import IntegratedGradients

    with torch.enable_grad():
        attr = IntegratedGradients(f).attribute(x, baselines=baseline, n_steps=n_steps, method="riemann_middle")
    return attr[0].sum(-1).detach()


@exercise("04", "riemann_ig(f, x, baseline, n_steps): integrated gradients per token with the midpoint rule")
def check_riemann_ig(riemann_ig, clf, n_steps: int = 4) -> bool:
    """Compare `riemann_ig(f, x, baseline, n_steps)` with captum's IntegratedGradients (midpoint Riemann sum).

    f maps tweet-token embeddings (1, T, d) to the explained quantity (1,); x and baseline are (1, T, d). The
    answer is one score per token (T,). Catches: the gradients not multiplied by (x - baseline), the sum of the
    gradients not divided by n_steps (missing normalisation), and the gradient taken at x only (input × gradient).
    """
    from ...attribution import MaskScorer

    text = check_tweets(1, min_words=3, max_words=4, offset=1)[0][0]
    f = MaskScorer(clf, text).embedding_forward()
    x, baseline = f.tweet_embeds.detach(), f.baseline_embeds.detach()
    got = riemann_ig(f, x.clone(), baseline.clone(), n_steps)
    want = riemann_ig_reference(f, x, baseline, n_steps)
    got = torch.as_tensor(got).detach().reshape(-1) if torch.is_tensor(got) else torch.tensor(got).reshape(-1)
    if got.numel() == x.shape[1] * x.shape[2]:
        raise CheckFailed("You returned one number per embedding dimension; sum over the embedding dimension to get "
                          "one score per token.")
    tokens = [clf.tokenizer.decode([t]) for t in clf.tokenize_tweet(text).token_ids]
    assert_matches(got, want, f"integrated gradients of {text!r} ({n_steps} steps)", atol=2e-3, rtol=2e-3,
                   names=tokens, hint="alpha_k = (k + 0.5) / n_steps; IG = (x - baseline) * mean_k grad f(baseline "
                                      "+ alpha_k (x - baseline)), summed over the embedding dimension.")
    completeness = float(got.sum()) - float(f(x).detach()[0] - f(baseline).detach()[0])
    return passed("check_riemann_ig", f"your IG equals captum's on a real tweet (sum - (f(x) - f(baseline)) = "
                                      f"{completeness:+.3f}, the convergence delta)")
