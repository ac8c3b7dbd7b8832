"""What the lessons share: configuration per profile, the setup cell, widgets and exercise checks."""
from .config import KIT_REF, KIT_REPO, LESSONS, SETUP_CELL, LessonConfig, colab_url, lesson_config
from .checks import CheckFailed, exercise, list_exercises

__all__ = ["LESSONS", "SETUP_CELL", "KIT_REPO", "KIT_REF", "LessonConfig", "lesson_config", "colab_url",
           "CheckFailed", "exercise", "list_exercises"]
