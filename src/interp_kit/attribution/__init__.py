"""Attributions of a label's score to the tweet's words: SHAP and Captum behind one `explain` call.

`explain(classifier, text, method=...)` runs any method of the registry (`list_methods()`); perturbation methods
score masked tweets in batches with the prompt prefix cached (`MaskScorer`), gradient methods differentiate the
explained quantity with respect to the tweet's token embeddings.
"""
from .core import Attribution, MaskScorer
from .explain import explain, explain_many
from .perturbation import all_subset_masks, score_masks, shapley_from_subsets
from .registry import METHODS, AttributionMethod, get_method, list_methods, register_method

__all__ = ["Attribution", "MaskScorer", "explain", "explain_many", "list_methods", "get_method", "register_method",
           "AttributionMethod", "METHODS", "score_masks", "all_subset_masks", "shapley_from_subsets"]
