"""What the lessons share: configuration per profile, the setup cell, widgets, exercise checks, live pitfalls."""
from .config import KIT_REF, KIT_REPO, LESSONS, SETUP_CELL, LessonConfig, colab_url, lesson_config
from .checks import CheckFailed, exercise, list_exercises
from .demos import (baseline_embedding, by_magnitude, gradient_baselines, misclassified, owen_vs_shapley,
                    zeroing_vs_input_x_gradient)
from .pitfalls import (Pitfall, answer_cue_pitfall, class_mean_pitfall, label_token_pitfall, right_padding_pitfall,
                       wrong_model_pitfall)
from .widgets import metrics_panel
from ..training.cache import adapter_cache_dir, cached_fine_tune

#: Names lessons 01-05 use beyond those the top-level package lists itself; `interp_kit` re-exports them.
LESSON_API = ["misclassified", "baseline_embedding", "gradient_baselines", "owen_vs_shapley",
              "zeroing_vs_input_x_gradient", "by_magnitude", "Pitfall", "right_padding_pitfall", "label_token_pitfall",
              "class_mean_pitfall", "wrong_model_pitfall", "answer_cue_pitfall", "metrics_panel", "cached_fine_tune",
              "adapter_cache_dir"]

__all__ = ["LESSONS", "SETUP_CELL", "KIT_REPO", "KIT_REF", "LessonConfig", "lesson_config", "colab_url",
           "CheckFailed", "exercise", "list_exercises", *LESSON_API]
