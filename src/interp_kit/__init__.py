"""interp_kit: explain why a language model labels a tweet the way it does.

Notebooks and scripts import the public names below: `from interp_kit import setup, load_model, ...`. Each wing
(`engine`, `attribution`, `training`, `evaluation`, `viz`, `pipeline`, `lessons`) has its own `__all__` for the rest.
"""
from .runtime import Runtime, setup, seed_everything, resolve_hf_token
from .models import PRESETS, OFFLINE_PRESET, load_model, list_presets, ModelLoadError
from .data import Tweets, LABEL_SPACES, load_tweets, DataError
from .classifier import LabelWordClassifier, ZeroShotClassifier, PromptTemplate, LabelWordError, QUANTITIES, load_classifier
from .io import save_figure
from .attribution import (Explanation, Attribution, explain, explain_many, list_methods, get_method, register_method,
                          AttributionMethod, method_table)
from .training import (FineTuneResult, FineTunedClassifier, AdapterMismatchError, fine_tune, label_loss, save_adapter,
                       load_adapter)
from .evaluation import (classification_metrics, evaluate, UndefinedMetricWarning, gini, normalized_entropy,
                         top_k_overlap, jaccard_top_k, cosine, spearman, kendall, paired_comparison,
                         explanation_summary, explanation_costs, word_importance, compare_explanations,
                         ExplanationComparison, agreement_matrix,
                         styled_table, Curve, comprehensiveness, sufficiency, deletion_curve, insertion_curve,
                         loo_effects, loo_rank_correlation, faithfulness_scores, faithfulness_table,
                         faithfulness_report, rationale_span, rationale_mask, auprc, token_f1_at_k, iou_at_k,
                         plausibility_table, plausibility_report)
from .viz import (heatmap_html, show_heatmap, plot_heatmap, plot_bars, method_grid_html, plot_method_grid,
                  plot_confusion_matrix, plot_metrics_comparison, plot_agreement, plot_curves, plot_loss_curve)
from .lessons import LESSONS, lesson_config, LessonConfig, CheckFailed, list_exercises
from .lessons.widgets import explorer, compare_methods, fine_tune_control
from . import lessons as _lessons  # lessons 01-05: pitfalls, demos, the adapter cache (lessons.LESSON_API)
_LESSON_API = _lessons.LESSON_API
globals().update({_n: getattr(_lessons, _n) for _n in _LESSON_API})

__version__ = "0.2.0"

__all__ = [
    # set-up, models, data
    "Runtime", "setup", "seed_everything", "resolve_hf_token",
    "PRESETS", "OFFLINE_PRESET", "load_model", "list_presets", "ModelLoadError",
    "Tweets", "LABEL_SPACES", "load_tweets", "DataError",
    # classifying
    "LabelWordClassifier", "ZeroShotClassifier", "load_classifier", "PromptTemplate", "LabelWordError", "QUANTITIES",
    # explaining
    "Explanation", "Attribution", "explain", "explain_many", "list_methods", "get_method", "register_method",
    "AttributionMethod", "method_table",
    # fine-tuning
    "FineTuneResult", "FineTunedClassifier", "AdapterMismatchError", "fine_tune", "label_loss", "save_adapter",
    "load_adapter",
    # measuring
    "classification_metrics", "evaluate", "UndefinedMetricWarning", "gini", "normalized_entropy", "top_k_overlap",
    "jaccard_top_k", "cosine", "spearman", "kendall", "paired_comparison", "explanation_summary",
    "explanation_costs", "word_importance", "compare_explanations", "ExplanationComparison", "agreement_matrix", "styled_table", "Curve", "comprehensiveness",
    "sufficiency", "deletion_curve", "insertion_curve", "loo_effects", "loo_rank_correlation", "faithfulness_scores",
    "faithfulness_table", "faithfulness_report", "rationale_span", "rationale_mask", "auprc", "token_f1_at_k",
    "iou_at_k", "plausibility_table", "plausibility_report",
    # pictures
    "heatmap_html", "show_heatmap", "plot_heatmap", "plot_bars", "method_grid_html", "plot_method_grid",
    "plot_confusion_matrix", "plot_metrics_comparison", "plot_agreement", "plot_curves", "plot_loss_curve",
    "save_figure",
    # lessons
    "LESSONS", "lesson_config", "LessonConfig", "CheckFailed", "list_exercises", "explorer", "compare_methods",
    "fine_tune_control", *_LESSON_API,
]

# Lessons 06-08: each of these wings lists its public names in its own `__all__`; they are public here too.
from . import internals as _internals, trust as _trust, influence as _influence  # noqa: E402

for _wing in (_internals, _trust, _influence):
    globals().update({_name: getattr(_wing, _name) for _name in _wing.__all__})
    __all__ += list(_wing.__all__)
del _wing
