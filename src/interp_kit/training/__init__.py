"""Training: LoRA fine-tuning on the classifier's own prompt, the fine-tuned classifier, saved adapters.

Three rules keep the comparison honest:

* The supervised token is the scored token. Training examples come from `LabelWordClassifier.training_example`
  (prompt + label token, loss only on that token), so the model learns exactly the next-token score that
  `predict_proba` reads. (The seed trained on one token and scored another.)
* Training sees the same positions and context as scoring. The prompt prefix shared by every example (chat
  template and instruction) runs once per batch and its key/value cache is repeated for each row; the rest is
  padded per batch to the longest tweet (never to 512). `label_loss` (and training where a cache cannot be
  shared, e.g. with gradient checkpointing under 4-bit) uses the scorer's own layout instead: left padding with
  position ids from the mask, as in `ScoringEngine.full_prompt_logits`.
* The zero-shot model stays untouched. `get_peft_model` injects LoRA layers into the shared model object in
  place; the zero-shot classifier turns them all off when it runs, and each fine-tuned classifier turns on only
  its own adapter. Fine-tuning twice, or loading a saved adapter next to a trained one, adds another adapter
  under a new name instead of overwriting the first.
"""
from .adapters import ADAPTER_METADATA, load_adapter, save_adapter
from .classifier import AdapterMismatchError, FineTunedClassifier
from .lora import default_target_modules
from .loop import FineTuneResult, fine_tune, label_loss

__all__ = ["FineTuneResult", "FineTunedClassifier", "AdapterMismatchError", "fine_tune", "label_loss",
           "save_adapter", "load_adapter", "default_target_modules", "ADAPTER_METADATA"]
