"""Perturbation methods: score the tweet with words removed, many masks per forward pass.

Every method here sees the model only through `MaskScorer`: a 0/1 mask over the tweet's features goes in, the
explained quantity comes out; the instruction's and the tweet's keys/values are computed once and reused.

Captum's algorithms are run in two passes ("plan, then score"): the first pass runs the algorithm with a forward
function that only records which masks it asks for; those masks are de-duplicated and scored together (packed
into few forward passes); the second pass replays the algorithm with the same random seed and
answers every request from that table. The values are exactly captum's (same seed, same masks, same arithmetic);
only the model calls are batched. Captum's `LLMAttribution` instead runs one masked prompt per forward pass.
"""
from __future__ import annotations

import math
import re

import numpy as np
import torch

from .core import MaskScorer

__all__ = ["score_masks", "run_captum_planned", "shap_partition", "captum_feature_ablation",
           "captum_shapley_value_sampling", "captum_kernel_shap", "captum_lime", "exact_shapley",
           "all_subset_masks", "shapley_from_subsets"]

_BIG_BATCH = 4096  # masks handed to captum / shap per call; MaskScorer splits them into model batches


def score_masks(scorer: MaskScorer, masks) -> np.ndarray:
    """The explained quantity for each mask row (rows may repeat; the scorer scores each distinct one once)."""
    masks = np.atleast_2d(np.asarray(masks, dtype=bool))
    if len(masks) == 0:
        return np.zeros(0)
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


def captum_feature_ablation(scorer: MaskScorer, budget=None, seed: int = 0, **options):
    """Occlusion of one feature at a time: score(all) - score(all but i). Budget unused (n + 1 evaluations)."""
    from captum.attr import FeatureAblation

    x, base, fmask = _captum_inputs(scorer.n_features)
    scores, asked = run_captum_planned(
        scorer, lambda f: FeatureAblation(f).attribute(x, baselines=base, feature_mask=fmask,
                                                       perturbations_per_eval=_BIG_BATCH), seed)
    return scores, {"requested_evaluations": asked}


def captum_shapley_value_sampling(scorer: MaskScorer, budget=None, seed: int = 0, **options):
    """Shapley values estimated from `budget` random feature orderings (captum's ShapleyValueSampling)."""
    from captum.attr import ShapleyValueSampling

    x, base, fmask = _captum_inputs(scorer.n_features)
    n_samples = int(budget)
    scores, asked = run_captum_planned(
        scorer, lambda f: ShapleyValueSampling(f).attribute(x, baselines=base, feature_mask=fmask,
                                                            n_samples=n_samples,
                                                            perturbations_per_eval=_BIG_BATCH), seed)
    return scores, {"n_samples": n_samples, "requested_evaluations": asked}


def captum_kernel_shap(scorer: MaskScorer, budget=None, seed: int = 0, **options):
    """KernelSHAP: a weighted linear fit over `budget` random coalitions (captum's KernelShap)."""
    from captum.attr import KernelShap

    n_samples = int(budget)
    if scorer.n_features == 1:  # captum cannot sample coalitions of one feature; its Shapley value is exact here
        return np.array([scorer.value_full - scorer.value_empty]), {
            "n_samples": n_samples, "requested_evaluations": 0,
            "note": "one feature: its Shapley value is f(all) - f(none)"}
    x, base, fmask = _captum_inputs(scorer.n_features)
    scores, asked = run_captum_planned(
        scorer, lambda f: KernelShap(f).attribute(x, baselines=base, feature_mask=fmask, n_samples=n_samples,
                                                  perturbations_per_eval=_BIG_BATCH), seed)
    return scores, {"n_samples": n_samples, "requested_evaluations": asked}


def captum_lime(scorer: MaskScorer, budget=None, seed: int = 0, kernel_width: float = 0.25, alpha: float = 0.01,
                **options):
    """LIME: a sparse linear surrogate fitted to `budget` random coalitions, weighted by closeness to the tweet.

    Closeness is LIME's text kernel: exp(-d^2 / (2 w^2)) with d the cosine distance between the coalition and
    the full tweet and w = 0.25 (`kernel_width`); the surrogate is a Lasso (captum's default, `alpha`).
    """
    from captum._utils.models.linear_model import SkLearnLasso
    from captum.attr import Lime
    from captum.attr._core.lime import get_exp_kernel_similarity_function

    x, base, fmask = _captum_inputs(scorer.n_features)
    n_samples = int(budget)

    def run(f):
        lime = Lime(f, interpretable_model=SkLearnLasso(alpha=alpha),
                    similarity_func=get_exp_kernel_similarity_function("cosine", kernel_width))
        return lime.attribute(x, baselines=base, feature_mask=fmask, n_samples=n_samples,
                              perturbations_per_eval=_BIG_BATCH)

    scores, asked = run_captum_planned(scorer, run, seed)
    return scores, {"n_samples": n_samples, "requested_evaluations": asked, "kernel_width": kernel_width,
                    "alpha": alpha}


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


def exact_shapley(scorer: MaskScorer, budget=None, seed: int = 0, max_features: int = 14, **options):
    """Exact Shapley values by enumerating all 2**n coalitions (the ground truth the samplers estimate)."""
    n = scorer.n_features
    if n > max_features:
        raise ValueError(f"exact_shapley needs 2**{n} = {2 ** n} evaluations for {n} features; it is limited to "
                         f"{max_features} features. Use 'shapley_value_sampling' or 'shap' for longer texts.")
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


def shap_partition(scorer: MaskScorer, budget=None, seed: int = 0, shap_batch_size: int | str = 512, **options):
    """SHAP's Partition explainer over the tweet's features with a text masker (budget = max_evals).

    Partition SHAP recursively splits the text along a hierarchy of word groups and computes Owen values; its
    scores always sum to f(all present) - f(all absent). `shap_batch_size` is how many masked texts shap hands to the
    model function at once ("auto" is shap's text-masker default, 5).
    """
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
