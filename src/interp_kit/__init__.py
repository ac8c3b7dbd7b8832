"""interp_kit: explain why a language model labels a tweet the way it does.

Notebooks and scripts import only the names below: `from interp_kit import setup, load_model, ...`.
"""
from .runtime import Runtime, setup, seed_everything, resolve_hf_token
from .models import PRESETS, OFFLINE_PRESET, load_model, list_presets, ModelLoadError
from .data import Tweets, LABEL_SPACES, load_tweets, DataError
from .classifier import PromptTemplate, ZeroShotClassifier, TweetTokens, LabelWordError, PrefixCache, QUANTITIES
from .metrics import classification_metrics, evaluate
from .plots import plot_confusion_matrix, plot_metrics_comparison
from .io import atomic_write_json, atomic_dir, save_figure
from .attribution import Attribution, MaskScorer
from .explanation_metrics import (UndefinedMetricWarning, gini, normalized_entropy, top_k_overlap, jaccard_top_k, cosine,
                                  spearman, kendall, paired_comparison, explanation_summary, compare_explanations,
                                  ExplanationComparison, agreement_matrix, plot_agreement, styled_table)
from .faithfulness import (Curve, comprehensiveness, sufficiency, deletion_curve, insertion_curve, loo_effects,
                           loo_rank_correlation, faithfulness_scores, faithfulness_table, faithfulness_report, plot_curves)
from .plausibility import (rationale_span, rationale_mask, auprc, token_f1_at_k, iou_at_k, plausibility_table,
                           plausibility_report)
from .finetune import (FineTuneResult, FineTunedClassifier, AdapterMismatchError, fine_tune, label_loss, save_adapter,
                       load_adapter, run_finetune_stage, plot_loss_curve)
from .attribution import explain, explain_many, list_methods, get_method, AttributionMethod
from .viz import heatmap_html, show_heatmap, plot_heatmap, plot_bars, method_grid_html, plot_method_grid
from .lessons import LESSONS, lesson_config, LessonConfig
from .widgets import explorer, compare_methods, fine_tune_control, Explorer, MethodComparison, FineTuneControl

__version__ = "0.1.0"

__all__ = [
    "Runtime", "setup", "seed_everything", "resolve_hf_token",
    "PRESETS", "OFFLINE_PRESET", "load_model", "list_presets", "ModelLoadError",
    "Tweets", "LABEL_SPACES", "load_tweets", "DataError",
    "PromptTemplate", "ZeroShotClassifier", "TweetTokens", "LabelWordError", "PrefixCache", "QUANTITIES",
    "classification_metrics", "evaluate", "plot_confusion_matrix", "plot_metrics_comparison",
    "atomic_write_json", "atomic_dir", "save_figure",
    "Attribution", "MaskScorer",
    "explain", "explain_many", "list_methods", "get_method", "AttributionMethod",
    "heatmap_html", "show_heatmap", "plot_heatmap", "plot_bars", "method_grid_html", "plot_method_grid",
    "LESSONS", "lesson_config", "LessonConfig",
    "FineTuneResult", "FineTunedClassifier", "AdapterMismatchError", "fine_tune", "label_loss", "save_adapter",
    "load_adapter", "run_finetune_stage", "plot_loss_curve",
    "explorer", "compare_methods", "fine_tune_control", "Explorer", "MethodComparison", "FineTuneControl",
    # fine-tuning (finetune.py), explain/list_methods (attribution), explanation metrics, widgets: added below
    "UndefinedMetricWarning", "gini", "normalized_entropy", "top_k_overlap", "jaccard_top_k", "cosine", "spearman",
    "kendall", "paired_comparison", "explanation_summary", "compare_explanations", "ExplanationComparison",
    "agreement_matrix", "plot_agreement", "styled_table",
    "Curve", "comprehensiveness", "sufficiency", "deletion_curve", "insertion_curve", "loo_effects",
    "loo_rank_correlation", "faithfulness_scores", "faithfulness_table", "faithfulness_report", "plot_curves",
    "rationale_span", "rationale_mask", "auprc", "token_f1_at_k", "iou_at_k", "plausibility_table",
    "plausibility_report",
]
