"""The fine-tuned classifier: the label-word classifier over a PeftModel with its own LoRA adapter on."""
from __future__ import annotations

from ..classifier import LabelWordClassifier
from ..engine import PromptTemplate

__all__ = ["FineTunedClassifier", "AdapterMismatchError"]


class AdapterMismatchError(ValueError):
    """A saved adapter does not fit the classifier (another base model, other label words or label tokens)."""


class FineTunedClassifier(LabelWordClassifier):
    """A label-word classifier over a PeftModel that runs with its own LoRA adapter on, and every other one off.

    It shares tokenizer, prompt template and label words with the zero-shot classifier it came from, so both
    score the same token after the same prompt; only the adapter differs.
    """

    def __init__(self, peft_model, tokenizer, label_names, label_words=None, template: PromptTemplate | None = None,
                 *, adapter_name: str, training_settings: dict | None = None, max_tweet_tokens: int = 256):
        super().__init__(peft_model, tokenizer, label_names, label_words, template, adapter=adapter_name,
                         max_tweet_tokens=max_tweet_tokens)
        self.adapter_name = adapter_name
        self.training_settings = dict(training_settings or {})
        #: adapter weights kept during fine-tuning ({"step", "lr", "state"}); filled by `load_adapter`
        self.checkpoints: list[dict] = []

    def __repr__(self) -> str:
        return (f"FineTunedClassifier(LoRA adapter {self.adapter_name!r}, model={self.base_model_id!r}, "
                f"labels={list(self.label_names)}, label tokens={list(self.label_token_ids)})")


