"""Do explanations explain? Tests that tell which explanations to trust (lesson 07).

* `sanity`: Adebayo et al.'s sanity checks — cascading model randomisation, adapter randomisation, shuffled labels;
  a method whose explanations stay the same when the model knows nothing fails.
* `counterfactuals`: the smallest set of deleted words that flips the label (exhaustive, attribution-guided, random),
  and word substitutions the model proposes, filtered for fluency.
* `contrastive`: "why positive rather than neutral" (a margin between two labels) beside "why positive".
* `self_explain`: the model's own explanations (post hoc and chain of thought), parsed and scored for faithfulness
  against SHAP and random words, and for plausibility against human rationales.
* `widgets`: a tweet's counterfactual and the model's own explanation beside SHAP.
"""
from ._common import label_margin
from .contrastive import CONTRAST_QUANTITY, ContrastScorer, contrast_pair, contrast_table, explain_contrast
from .counterfactuals import (COUNTERFACTUAL_SEARCHES, MAX_EXHAUSTIVE_WORDS, Counterfactual, NoCounterfactualError,
                              Substitution, counterfactual_report, counterfactual_table, find_counterfactual,
                              propose_substitutions, substitution_counterfactual)
from .sanity import (DEFAULT_SANITY_METHODS, RandomizationStep, SanityResult, cascade_steps, plot_sanity_checks,
                     randomization_sweep, randomize_, randomize_adapter_, randomized_classifier, rank_similarity,
                     shuffled_label_classifier)
from .self_explain import (SELF_EXPLANATION_MODES, SelfExplanation, chat_prompt_ids, generate_ids, parse_named_words,
                           self_explain, self_explanation_report, self_explanation_table)
from .widgets import TrustExplorer, trust_explorer

__all__ = [
    "label_margin",
    # sanity checks
    "DEFAULT_SANITY_METHODS", "RandomizationStep", "SanityResult", "cascade_steps", "randomize_", "randomize_adapter_",
    "randomized_classifier", "shuffled_label_classifier", "randomization_sweep", "rank_similarity",
    "plot_sanity_checks",
    # counterfactuals
    "COUNTERFACTUAL_SEARCHES", "MAX_EXHAUSTIVE_WORDS", "NoCounterfactualError", "Counterfactual", "find_counterfactual",
    "counterfactual_table", "counterfactual_report", "Substitution", "propose_substitutions",
    "substitution_counterfactual",
    # contrast
    "CONTRAST_QUANTITY", "ContrastScorer", "explain_contrast", "contrast_pair", "contrast_table",
    # the model's own explanations
    "SELF_EXPLANATION_MODES", "SelfExplanation", "chat_prompt_ids", "generate_ids", "parse_named_words",
    "self_explain", "self_explanation_table", "self_explanation_report",
    # widget
    "TrustExplorer", "trust_explorer",
]
