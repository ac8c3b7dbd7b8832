"""Attributions of a label's score to the tweet's words: SHAP and Captum behind one `explain` call."""
from .core import Attribution, MaskScorer

__all__ = ["Attribution", "MaskScorer"]
