"""Perturbation methods: score the tweet with words removed, many masks per forward pass.

Every method here sees the model only through `MaskScorer`: a 0/1 mask over the tweet's features goes in, the
explained quantity comes out, many masks per forward pass. Captum's and shap's own algorithms run unchanged on that
batched forward function (captum's `LLMAttribution` instead runs one masked prompt per forward pass).

Where captum calls the forward function several times (FeatureAblation: the unperturbed input first, then the
ablations; ShapleyValueSampling: once per sampled ordering), each call would be a forward pass of its own. There the
algorithm runs twice ("plan, then score", `run_captum_planned`): the first run only records the masks it asks for,
they are scored together, and the second run replays the algorithm from the same seed, answering from that table.
KernelShap and Lime ask for all their coalitions in one call, so they get the forward function directly.
"""
from __future__ import annotations

import math
import re

import numpy as np
import torch

from .core import MaskScorer
from .registry import AttributionMethod, register_method

__all__ = ["score_masks", "run_captum_planned", "all_subset_masks", "shapley_from_subsets", "SHAPPartition",
           "FeatureAblation", "ShapleyValueSampling", "KernelShap", "Lime", "ExactShapley"]

_BIG_BATCH = 4096  # masks handed to captum / shap per call; MaskScorer splits them into model batches


def score_masks(scorer: MaskScorer, masks) -> np.ndarray:
    """The explained quantity for each mask row (rows may repeat; the scorer scores each distinct one once)."""
    return np.asarray(scorer(masks), dtype=float)


def run_captum_planned(scorer: MaskScorer, attribute, seed: int):
    """Run `attribute(forward_func)` (a captum call) with all of its model calls batched through `scorer`.

    Pass 1 records the masks the algorithm asks for (the forward returns zeros), they are scored together,
    and pass 2 replays the algorithm from the same seed, answering from the table. Returns (attributions,
    number of masks the algorithm asked for). A mask missing from the table (an algorithm whose sampling
    depended on the model's outputs) is scored on the spot, so the result is always right.
    """
    requested = []

    def record(x: torch.Tensor) -> torch.Tensor:
        requested.append(x.detach().cpu().numpy() > 0.5)
        return torch.zeros(x.shape[0])

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        attribute(record)
    masks = np.concatenate(requested) if requested else np.zeros((0, scorer.n_features), bool)
    table = {}
    if len(masks):
        uniq = np.unique(masks, axis=0)
        table = {row.tobytes(): v for row, v in zip(uniq, score_masks(scorer, uniq))}

    def lookup(x: torch.Tensor) -> torch.Tensor:
        rows = x.detach().cpu().numpy() > 0.5
        missing = [r for r in rows if r.tobytes() not in table]
        if missing:
            for r, v in zip(missing, score_masks(scorer, np.array(missing))):
                table[r.tobytes()] = v
        return torch.tensor([table[r.tobytes()] for r in rows], dtype=torch.float64)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        attributions = attribute(lookup)
    return attributions.detach().cpu().double().numpy().reshape(-1), len(masks)


def _captum_inputs(n: int):
    ones = torch.ones(1, n, dtype=torch.float64)
    return ones, torch.zeros_like(ones), torch.arange(n).unsqueeze(0)


def _seeded(seed: int, run):
    """Run a sampling algorithm from `seed` without touching the global random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return run()


def _one_feature(scorer: MaskScorer, details: dict):
    """With one feature its Shapley value is exactly f(all) - f(none) (samplers and shap's clustering cannot run)."""
    return np.array([scorer.value_full - scorer.value_empty]), {
        **details, "requested_evaluations": 0, "note": "one feature: its Shapley value is f(all) - f(none)"}


@register_method
class SHAPPartition(AttributionMethod):
    """SHAP's Partition explainer over the tweet's features with a text masker (budget = max_evals).

    Partition SHAP recursively splits the text along a hierarchy of word groups and computes Owen values (Shapley
    values of a game with that coalition structure, not the Shapley values themselves); its scores always sum to
    f(all present) - f(all absent). `shap_batch_size` is how many masked texts shap hands to the model function at
    once ("auto" is shap's text-masker default, 5).
    """

    name, family, efficient = "shap", "perturbation", True
    description = ("SHAP Partition explainer with a text masker: Owen values over a hierarchy of word groups "
                   "(efficient; budget = max_evals)")
    citation = "Lundberg & Lee 2017; Owen 1977, Values of games with a priori unions (Partition explainer)"
    budget_name, default_budget = "max_evals", 500

    def cost(self, n_features, budget):
        # Partition evaluates about 4 masks per split of its word hierarchy (n - 1 splits) plus the two ends
        return min(int(budget), 4 * max(n_features - 1, 0) + 2)

    def attribute(self, scorer, budget=None, seed: int = 0, shap_batch_size: int | str = 512, **options):
        import shap

        if scorer.n_features == 1:  # shap's text masker cannot cluster one token; one player gets the whole gain
            return np.array([scorer.value_full - scorer.value_empty]), {
                "max_evals": int(budget), "requested_evaluations": 0, "shap_batch_size": shap_batch_size,
                "shap_base_value": scorer.value_empty, "note": "one feature: its Shapley value is f(all) - f(none)"}
        tok = _FeatureTokenizer(scorer.tweet.text, scorer.spans)
        masker = shap.maskers.Text(tok, mask_token=_FeatureTokenizer.MASK, collapse_mask_token=False,
                                   output_type="token_ids")
        asked = [0]

        def model(ids):
            masks = np.asarray(ids).reshape(len(ids), -1) != 0
            asked[0] += len(masks)
            return score_masks(scorer, masks)

        explainer = shap.explainers.Partition(model, masker)
        explanation = explainer([scorer.tweet.text], max_evals=int(budget), batch_size=shap_batch_size, silent=True)
        scores = np.asarray(explanation.values[0], float).reshape(-1)
        if scores.shape[0] != scorer.n_features:
            raise RuntimeError(f"shap returned {scores.shape[0]} values for {scorer.n_features} features.")
        return scores, {"max_evals": int(budget), "requested_evaluations": asked[0], "shap_batch_size": shap_batch_size,
                        "shap_base_value": float(np.asarray(explanation.base_values).reshape(-1)[0])}


@register_method
class FeatureAblation(AttributionMethod):
    """Occlusion of one feature at a time: f(all) - f(all but i). No budget (n + 1 evaluations)."""

    name, family = "feature_ablation", "perturbation"
    description = "Captum FeatureAblation: f(all) - f(all but one word), one occlusion per word (n + 1 evals)"
    citation = "Zeiler & Fergus 2014, Visualizing and understanding convolutional networks (occlusion)"

    def attribute(self, scorer, budget=None, seed: int = 0, **options):
        from captum.attr import FeatureAblation as CaptumFeatureAblation

        x, base, fmask = _captum_inputs(scorer.n_features)
        scores, asked = run_captum_planned(  # captum asks for the whole tweet first, then the ablations
            scorer, lambda f: CaptumFeatureAblation(f).attribute(x, baselines=base, feature_mask=fmask,
                                                                 perturbations_per_eval=_BIG_BATCH), seed)
        return scores, {"requested_evaluations": asked}


@register_method
class ShapleyValueSampling(AttributionMethod):
    """Shapley values estimated from `budget` random feature orderings (captum's ShapleyValueSampling)."""

    name, family, efficient = "shapley_value_sampling", "perturbation", True
    description = ("Captum ShapleyValueSampling: average marginal effect over random word orderings "
                   "(efficient; budget = n_samples orderings, n per ordering)")
    citation = "Castro, Gómez & Tejada 2009, Polynomial calculation of the Shapley value based on sampling"
    budget_name, default_budget = "n_samples", 25

    def cost(self, n_features, budget):
        return budget * n_features + 1

    def attribute(self, scorer, budget=None, seed: int = 0, **options):
        from captum.attr import ShapleyValueSampling as CaptumSVS

        x, base, fmask = _captum_inputs(scorer.n_features)
        n_samples = int(budget)
        scores, asked = run_captum_planned(  # captum calls the forward once per ordering
            scorer, lambda f: CaptumSVS(f).attribute(x, baselines=base, feature_mask=fmask, n_samples=n_samples,
                                                     perturbations_per_eval=_BIG_BATCH), seed)
        return scores, {"n_samples": n_samples, "requested_evaluations": asked}


@register_method
class KernelShap(AttributionMethod):
    """KernelSHAP: a Shapley-kernel weighted linear fit over `budget` random coalitions (captum's KernelShap)."""

    name, family, efficient = "kernel_shap", "perturbation", True
    description = ("Captum KernelShap: Shapley-kernel weighted linear fit on random coalitions "
                   "(efficient up to the fit; budget = n_samples)")
    citation = "Lundberg & Lee 2017, A unified approach to interpreting model predictions"
    budget_name, default_budget = "n_samples", 200

    def cost(self, n_features, budget):
        return budget

    def attribute(self, scorer, budget=None, seed: int = 0, **options):
        from captum.attr import KernelShap as CaptumKernelShap

        n_samples = int(budget)
        if scorer.n_features == 1:  # captum cannot sample coalitions of one feature
            return _one_feature(scorer, {"n_samples": n_samples})
        x, base, fmask = _captum_inputs(scorer.n_features)
        asked = [0]

        def forward(masks):  # all coalitions arrive in one call
            asked[0] += masks.shape[0]
            return scorer.torch_forward(masks)

        attr = _seeded(seed, lambda: CaptumKernelShap(forward).attribute(
            x, baselines=base, feature_mask=fmask, n_samples=n_samples, perturbations_per_eval=_BIG_BATCH))
        return attr.detach().double().numpy().reshape(-1), {"n_samples": n_samples, "requested_evaluations": asked[0]}


@register_method
class Lime(AttributionMethod):
    """LIME: a sparse linear surrogate fitted to `budget` random coalitions, weighted by closeness to the tweet.

    Closeness is LIME's text kernel: exp(-d^2 / (2 w^2)) with d the cosine distance between the coalition and the
    full tweet and w = 0.25 (`kernel_width`); the surrogate is a Lasso (captum's default, `alpha`).
    """

    name, family = "lime", "perturbation"
    description = "Captum Lime: sparse linear surrogate on random coalitions near the tweet (budget = n_samples)"
    citation = "Ribeiro, Singh & Guestrin 2016, \"Why should I trust you?\" Explaining the predictions of any classifier"
    budget_name, default_budget = "n_samples", 200

    def cost(self, n_features, budget):
        return budget

    def attribute(self, scorer, budget=None, seed: int = 0, kernel_width: float = 0.25, alpha: float = 0.01,
                  **options):
        from captum._utils.models.linear_model import SkLearnLasso
        from captum.attr import Lime as CaptumLime
        from captum.attr._core.lime import get_exp_kernel_similarity_function

        x, base, fmask = _captum_inputs(scorer.n_features)
        n_samples = int(budget)
        asked = [0]

        def forward(masks):  # all coalitions arrive in one call
            asked[0] += masks.shape[0]
            return scorer.torch_forward(masks)

        lime = CaptumLime(forward, interpretable_model=SkLearnLasso(alpha=alpha),
                          similarity_func=get_exp_kernel_similarity_function("cosine", kernel_width))
        attr = _seeded(seed, lambda: lime.attribute(x, baselines=base, feature_mask=fmask, n_samples=n_samples,
                                                    perturbations_per_eval=_BIG_BATCH))
        return attr.detach().double().numpy().reshape(-1), {
            "n_samples": n_samples, "requested_evaluations": asked[0], "kernel_width": kernel_width, "alpha": alpha}


# ---- exact Shapley values ----------------------------------------------------------------------------------------
def all_subset_masks(n: int) -> np.ndarray:
    """Every coalition of n features as a (2**n, n) bool array; row k keeps feature i when bit i of k is set."""
    k = np.arange(2 ** n)
    return ((k[:, None] >> np.arange(n)) & 1).astype(bool)


def shapley_from_subsets(values: np.ndarray, n: int) -> np.ndarray:
    """Exact Shapley values from the value of every coalition (ordered as `all_subset_masks(n)`)."""
    values = np.asarray(values, float)
    k = np.arange(2 ** n)
    size = np.array([bin(i).count("1") for i in k])
    weight = np.array([math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) if s < n else 0.0
                       for s in range(n + 1)])
    phi = np.zeros(n)
    for i in range(n):
        without = k[(k >> i) & 1 == 0]
        phi[i] = np.sum(weight[size[without]] * (values[without | (1 << i)] - values[without]))
    return phi


@register_method
class ExactShapley(AttributionMethod):
    """Exact Shapley values by enumerating all 2**n coalitions (the ground truth the samplers estimate)."""

    name, family, efficient = "exact_shapley", "perturbation", True
    description = "Exact Shapley values by enumerating all 2^n coalitions (ground truth; short texts only)"
    citation = "Shapley 1953, A value for n-person games"

    def cost(self, n_features, budget):
        return 2 ** n_features

    def attribute(self, scorer, budget=None, seed: int = 0, max_features: int = 14, **options):
        n = scorer.n_features
        if n > max_features:
            raise ValueError(f"exact_shapley needs 2**{n} = {2 ** n} evaluations for {n} features; it is limited "
                             f"to {max_features} features. Use 'shapley_value_sampling' or 'shap' for longer texts.")
        values = score_masks(scorer, all_subset_masks(n))
        return shapley_from_subsets(values, n), {"requested_evaluations": 2 ** n}


# ---- SHAP's Partition explainer with a text masker ------------------------------------------------------------------
class _FeatureTokenizer:
    """A tokenizer-like callable for `shap.maskers.Text`: the tweet's features (words or tokens) with offsets.

    Feature i gets the id i + 1; the mask token gets id 0, so each masked row that shap hands to the model is
    an array of ids where 0 marks an absent feature (exact, whatever the words look like).
    """

    MASK = "\x00"

    def __init__(self, text: str, spans):
        self.text, self.spans = text, list(spans)

    def __call__(self, s, return_offsets_mapping: bool = False, **kwargs):
        if s == self.MASK:
            ids, offsets = [0], [(0, 1)]
        elif s == self.text:
            ids, offsets = list(range(1, len(self.spans) + 1)), self.spans
        elif not s:
            ids, offsets = [], []
        else:  # shap only tokenizes the explained text, the mask token and ""; anything else is split on spaces
            found = [(m.start(), m.end()) for m in re.finditer(r"\S+", s)]
            ids, offsets = list(range(1, len(found) + 1)), found
        out = {"input_ids": ids}
        if return_offsets_mapping:
            out["offset_mapping"] = list(offsets)
        return out
