"""The `interp-kit` command's stages: zero-shot evaluation, fine-tuning, explanations, and the files they write."""
from .cli import build_parser, main, run
from .explanations import run_explanation_stage, word_importance
from .finetune_stage import run_finetune_stage

__all__ = ["main", "build_parser", "run", "run_explanation_stage", "run_finetune_stage", "word_importance"]
