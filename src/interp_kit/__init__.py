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
from .lessons import LESSONS, lesson_config, LessonConfig

__version__ = "0.1.0"

__all__ = [
    "Runtime", "setup", "seed_everything", "resolve_hf_token",
    "PRESETS", "OFFLINE_PRESET", "load_model", "list_presets", "ModelLoadError",
    "Tweets", "LABEL_SPACES", "load_tweets", "DataError",
    "PromptTemplate", "ZeroShotClassifier", "TweetTokens", "LabelWordError", "PrefixCache", "QUANTITIES",
    "classification_metrics", "evaluate", "plot_confusion_matrix", "plot_metrics_comparison",
    "atomic_write_json", "atomic_dir", "save_figure",
    "Attribution", "MaskScorer",
    "LESSONS", "lesson_config", "LessonConfig",
    # fine-tuning (finetune.py), explain/list_methods (attribution), explanation metrics, widgets: added below
]
