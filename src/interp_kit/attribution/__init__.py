"""Attributions of a label's score to the tweet's words: SHAP and Captum behind one `explain` call.

`explain(classifier, text, method=...)` runs any method of the registry (`list_methods()`); every method implements
one `attribute(scorer, budget, seed, **options)` contract. Perturbation methods score masked tweets in batches on
the scoring engine; gradient methods differentiate the explained quantity with respect to the tweet's embeddings.
"""
from .core import Attribution, Explanation, MaskScorer, TweetFeatures
from .explain import explain, explain_many
from .perturbation import all_subset_masks, score_masks, shapley_from_subsets
from .registry import METHODS, AttributionMethod, get_method, list_methods, method_table, register_method

__all__ = ["Explanation", "Attribution", "MaskScorer", "TweetFeatures", "explain", "explain_many", "list_methods",
           "get_method", "register_method", "AttributionMethod", "METHODS", "method_table", "score_masks", "all_subset_masks",
           "shapley_from_subsets"]
