"""Contrastive explanations: "why positive rather than neutral?" beside "why positive?".

People ask for contrastive explanations — why P rather than Q (Lipton 1990; Miller 2019, "Explanation in
artificial intelligence: insights from the social sciences"). For a classifier the contrast is the margin between
two labels, logit(P) − logit(Q) = log p(P) − log p(Q): what the words do to the choice between those two labels
only (Jacovi et al. 2021, "Contrastive explanations for model interpretability"; Yin & Neubig 2022, "Interpreting
language models with contrastive explanations"). "Why P" alone explains P's log-odds against all other labels at
once. With three labels the two can differ: a word can push towards positive and away from negative while doing
nothing between positive and neutral.

Any registered attribution method explains the contrast: perturbation methods score the margin of masked tweets,
gradient methods differentiate it. Efficient methods (SHAP, exact Shapley) keep efficiency: the scores sum to
contrast(tweet) − contrast(empty tweet). Shapley values are linear in the explained quantity, so the exact Shapley
values of the contrast are those of logit(P) minus those of logit(Q).
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch

from ..attribution import MaskScorer, explain, get_method
from ..evaluation.statistics import collect_reasons, spearman

__all__ = ["CONTRAST_QUANTITY", "ContrastScorer", "explain_contrast", "contrast_pair", "contrast_table"]

#: The `quantity` recorded on contrastive explanations: logit(target) − logit(foil).
CONTRAST_QUANTITY = "contrast"


class _Difference(torch.nn.Module):
    """f(x) − g(x) of two embedding forwards of the same tweet (for gradient methods)."""

    def __init__(self, f, g):
        super().__init__()
        self.f, self.g = f, g
        self.tweet_embeds, self.baseline_embeds = f.tweet_embeds, f.baseline_embeds

    @property
    def n_forward(self) -> int:
        return self.f.n_forward + self.g.n_forward

    def forward(self, x):
        return self.f(x) - self.g(x)


class ContrastScorer(MaskScorer):
    """A `MaskScorer` whose explained quantity is logit(target) − logit(foil): "why target rather than foil".

    Args:
        classifier, text: as for `MaskScorer`.
        target: the label explained (default: the prediction).
        foil: the label it is contrasted with (default: the most likely other label); must differ from the target.
        **kwargs: granularity, absent, baseline_token_id, batch_size, pack_tokens.
    """

    def __init__(self, classifier, text: str, target: str | None = None, foil: str | None = None, **kwargs):
        super().__init__(classifier, text, target=target, quantity="logit", **kwargs)
        if foil is None:
            order = np.argsort(-self.probabilities)
            foil = classifier.label_names[int(next(i for i in order if i != self.target_index))]
        if foil == self.target:
            raise ValueError(f"The contrast label (foil) must differ from the target: both are {foil!r}. Ask 'why "
                             f"{self.target} rather than X' with X one of "
                             f"{[n for n in classifier.label_names if n != self.target]}.")
        self.foil_index = classifier.label_index(foil)
        self.foil = foil
        self.quantity = CONTRAST_QUANTITY

    def _contrast(self, logits: torch.Tensor) -> np.ndarray:
        return (logits[:, self.target_index] - logits[:, self.foil_index]).cpu().double().numpy()

    def __call__(self, masks, target: str | None = None) -> np.ndarray:
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        if masks.shape[0] == 0:
            return np.zeros(0)
        return self._contrast(self._label_logits(masks))

    @property
    def value_full(self) -> float:
        return float(self._contrast(self._ends()[0][0])[0])

    @property
    def value_empty(self) -> float:
        return float(self._contrast(self._ends()[1][0])[0])

    def embedding_forward(self):
        engine = self.clf.engine
        ids = self.tweet.token_ids
        return _Difference(engine.embedding_forward(ids, self.target_index, "logit", self.baseline_token_id),
                           engine.embedding_forward(ids, self.foil_index, "logit", self.baseline_token_id))


def explain_contrast(classifier, text: str, target: str | None = None, foil: str | None = None,
                     method: str = "shap", budget: int | None = None, granularity: str = "word",
                     absent: str | None = None, seed: int = 0, **options):
    """Attribute logit(target) − logit(foil) to the tweet's words: "why target rather than foil".

    Like `explain` (same methods, budgets and options); the `Explanation` has quantity "contrast" and
    `extras["foil"]`. Efficient methods satisfy sum(scores) = value_full − value_empty (`extras["efficiency_gap"]`).

    Args:
        target: the label explained (default: the prediction).
        foil: the label it is contrasted with (default: the most likely other label). Must differ from target.
    """
    m = get_method(method)
    absent = m.check_absent(absent)
    budget = m.resolve_budget(budget)
    start = time.perf_counter()
    scorer = ContrastScorer(classifier, text, target=target, foil=foil, granularity=granularity, absent=absent)
    scores, details = m.attribute(scorer, budget=budget, seed=seed, **options)
    value_full, value_empty = scorer.value_full, scorer.value_empty
    extras = {"family": m.family, "absent": absent, "seed": seed, "budget_name": m.budget_name, "budget": budget,
              "citation": m.citation, "foil": scorer.foil,
              "contrast": f"logit({scorer.target}) − logit({scorer.foil})", **details}
    if m.efficient:
        extras["efficiency_gap"] = float(np.sum(scores) - (value_full - value_empty))
    return scorer.result(scores, m.name, time.perf_counter() - start, extras)


def contrast_pair(classifier, text: str, target: str | None = None, foil: str | None = None, method: str = "shap",
                  budget: int | None = None, seed: int = 0, **options):
    """("why target": its log-odds against every other label, "why target rather than foil"), one method."""
    plain = explain(classifier, text, method=method, target=target, budget=budget, seed=seed, **options)
    contrast = explain_contrast(classifier, text, target=plain.target, foil=foil, method=method, budget=budget,
                                seed=seed, **options)
    return plain, contrast


def contrast_table(plain, contrast) -> pd.DataFrame:
    """Word by word: the score for "why target", for "why target rather than foil", and where the sign changes;
    the attrs hold their Spearman correlation and both efficiency sums."""
    if plain.features != contrast.features:
        raise ValueError("The two explanations must be of the same tweet and granularity.")
    foil = contrast.extras.get("foil", "foil")
    df = pd.DataFrame({"word": plain.features, f"why {plain.target}": plain.scores,
                       f"why {plain.target} rather than {foil}": contrast.scores})
    df["sign changes"] = np.sign(df.iloc[:, 1]) != np.sign(df.iloc[:, 2])
    with collect_reasons():
        df.attrs["spearman"] = spearman(plain.scores, contrast.scores)
    df.attrs["sums"] = {"plain": (float(np.sum(plain.scores)), plain.value_full - plain.value_empty),
                        "contrast": (float(np.sum(contrast.scores)), contrast.value_full - contrast.value_empty)}
    return df
