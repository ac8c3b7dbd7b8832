"""Measuring classifiers and explanations: classification metrics, explanation statistics and agreement,
faithfulness (does the model depend on what the explanation says?) and plausibility (does it match the human
rationale?)."""
from .classification import classification_metrics, evaluate
from .faithfulness import (Curve, comprehensiveness, deletion_curve, faithfulness_report, faithfulness_scores,
                           faithfulness_table, insertion_curve, loo_effects, loo_rank_correlation)
from .plausibility import (auprc, iou_at_k, plausibility_report, plausibility_table, rationale_mask, rationale_span,
                           token_f1_at_k)
from .statistics import (ExplanationComparison, UndefinedMetricWarning, agreement_matrix, compare_explanations, cosine,
                         explanation_summary, explanation_costs, word_importance, gini, jaccard_top_k, kendall, normalized_entropy, paired_comparison,
                         spearman, styled_table, top_k_overlap)
from .faithfulness import sufficiency

__all__ = ["classification_metrics", "evaluate", "Curve", "comprehensiveness", "sufficiency", "deletion_curve",
           "insertion_curve", "loo_effects", "loo_rank_correlation", "faithfulness_scores", "faithfulness_table",
           "faithfulness_report", "rationale_span", "rationale_mask", "auprc", "token_f1_at_k", "iou_at_k",
           "plausibility_table", "plausibility_report", "UndefinedMetricWarning", "gini", "normalized_entropy",
           "top_k_overlap", "jaccard_top_k", "cosine", "spearman", "kendall", "paired_comparison",
           "explanation_summary", "compare_explanations", "ExplanationComparison", "agreement_matrix",
           "styled_table", "explanation_costs", "word_importance"]
