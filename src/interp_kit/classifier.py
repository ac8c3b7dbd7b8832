"""Classify tweets by the next-token scores of single-token label words after an instruction prompt.

The classifier owns the words (tokenizer, template, label names); the scoring engine (`interp_kit.engine`) owns
every forward pass. The same classifier class serves the zero-shot model and, with its LoRA adapter on, the
fine-tuned one (`interp_kit.training.FineTunedClassifier`).
"""
from __future__ import annotations

import numpy as np
import torch

from .engine import (QUANTITIES, LabelWordError, PromptLayout, PromptTemplate, ScoringEngine, SharedKV,
                     TweetTokens, control_token_ids, encode_plain_text, has_adapter, label_quantity, tokenize_tweet)
from .models import model_id

__all__ = ["LabelWordClassifier", "ZeroShotClassifier", "load_classifier", "PromptTemplate", "TweetTokens", "LabelWordError",
           "QUANTITIES", "control_token_ids", "encode_plain_text"]


class LabelWordClassifier:
    """Classify texts by comparing the next-token scores of single-token label words.

    Args:
        model, tokenizer: from `load_model`.
        label_names: the classes, e.g. ("negative", "positive").
        label_words: the word scored for each class (defaults to the names); each must be one token.
        template: the prompt; the same one is used for training and for scoring.
        adapter: which LoRA adapter runs. None keeps every LoRA layer off (the zero-shot classifier: it scores the
            untouched base model even after fine-tuning added layers to the same model object); a name turns on
            exactly that adapter; True runs the model's adapters as they are set. Default: True for a model that
            carries LoRA layers (a loaded PeftModel), None otherwise.
        max_tweet_tokens: longer tweets are truncated, with a warning.
        use_adapter: the earlier releases' switch (True: adapters as set, False: off); prefer `adapter`.
    """

    def __init__(self, model, tokenizer, label_names=("negative", "positive"), label_words=None,
                 template: PromptTemplate | None = None, adapter: str | bool | None = "auto",
                 max_tweet_tokens: int = 256, use_adapter: bool | None = None):
        if use_adapter is not None:
            adapter = True if use_adapter else None
        if adapter == "auto":
            adapter = True if has_adapter(model) else None
        self.model = model
        self.tokenizer = tokenizer
        self.label_names = tuple(label_names)
        self.label_words = tuple(label_words) if label_words is not None else self.label_names
        self.template = template or PromptTemplate()
        self.max_tweet_tokens = max_tweet_tokens
        self.layout = PromptLayout.build(tokenizer, self.label_names, self.label_words, self.template)
        # the prompt's text before and after the tweet (the layout holds their tokens)
        self.prompt_prefix, self.prompt_suffix, _ = self.template.pieces(tokenizer, self.label_names)
        self.engine = ScoringEngine(model, self.layout, adapter=adapter)

    # ---- prompt pieces ---------------------------------------------------------------------------------------
    @property
    def prefix_ids(self) -> list[int]:
        return list(self.layout.prefix_ids)

    @property
    def suffix_ids(self) -> list[int]:
        return list(self.layout.suffix_ids)

    @property
    def label_token_ids(self) -> tuple[int, ...]:
        return self.layout.label_token_ids

    @property
    def answer_lead(self) -> str:
        return self.layout.answer_lead

    @property
    def use_adapter(self) -> bool:
        """Whether this classifier runs a LoRA adapter (the fine-tuned model) rather than the base model."""
        return self.engine.adapter is not None and has_adapter(self.model)

    @property
    def template_is_chat(self) -> bool:
        return self.template.is_chat(self.tokenizer)

    @property
    def base_model_id(self) -> str:
        return model_id(self.model)

    @property
    def device(self) -> torch.device:
        return self.engine.device

    @property
    def use_prefix_cache(self) -> bool:
        """Encode the prompt prefix once and reuse its keys/values (False: full prompts, no cache)."""
        return self.engine.use_prefix_cache

    @use_prefix_cache.setter
    def use_prefix_cache(self, value: bool) -> None:
        self.engine.use_prefix_cache = bool(value)

    def tokenize_tweet(self, text: str) -> TweetTokens:
        """The tweet's words (whitespace-separated, with spans in the original text) and tokens, as plain text.

        The model sees the words joined by single spaces after one leading space, exactly as they sit in the
        prompt; deleting a word deletes its tokens. Raises on empty text; truncates very long text with a warning.
        """
        return tokenize_tweet(self.tokenizer, text, self.max_tweet_tokens)

    def prompt_ids(self, text_or_tokens) -> list[int]:
        """The full prompt's token ids for a tweet (prefix + tweet tokens + suffix)."""
        tt = text_or_tokens if isinstance(text_or_tokens, TweetTokens) else self.tokenize_tweet(text_or_tokens)
        return self.layout.prompt_ids(tt.token_ids)

    def training_example(self, text: str, label: str) -> tuple[list[int], list[int]]:
        """(input_ids, labels) for fine-tuning: the prompt plus the label token; loss only on that token."""
        return self.layout.training_example(self.tokenize_tweet(text).token_ids, self.label_index(label))

    def label_index(self, label: str) -> int:
        if label not in self.label_names:
            raise ValueError(f"Unknown label '{label}'; this classifier knows {list(self.label_names)}.")
        return self.label_names.index(label)

    # ---- scores ----------------------------------------------------------------------------------------------
    def model_context(self):
        """Run the model with this classifier's adapter setting (LoRA off for zero-shot)."""
        return self.engine.model_context()

    def prefix_kv(self) -> SharedKV:
        """The prompt prefix's keys/values, reused while the model is unchanged (see `ScoringEngine.prefix_kv`)."""
        return self.engine.prefix_kv()

    def clear_prefix_cache(self) -> None:
        """Forget the cached prompt prefix (it is re-encoded on the next call)."""
        self.engine.clear_prefix_cache()

    def label_logits_from_ids(self, sequences: list[list[int]], with_log_z: bool = False):
        """Label-word logits at the last real position of whole token sequences (one batch, left padded, no cache)."""
        return self.engine.full_prompt_logits(sequences, with_log_z=with_log_z)

    def _texts(self, texts) -> list[list[int]]:
        texts = [texts] if isinstance(texts, str) else list(getattr(texts, "texts", texts))
        return [list(self.tokenize_tweet(t).token_ids) for t in texts]

    def label_logits(self, texts, batch_size: int = 16, progress: bool | None = None) -> np.ndarray:
        """Raw label-word logits, shape (n_texts, n_labels)."""
        return self.engine.label_logits(self._texts(texts), batch_size, progress, "scoring").numpy()

    def predict_proba(self, texts, batch_size: int = 16, progress: bool | None = None) -> np.ndarray:
        """Probabilities over the labels (softmax of the label-word logits), shape (n_texts, n_labels)."""
        logits = self.engine.label_logits(self._texts(texts), batch_size, progress, "classifying")
        return torch.softmax(logits, dim=-1).numpy()

    def predict(self, texts, batch_size: int = 16, progress: bool | None = None) -> list[str]:
        """The most likely label name for each text."""
        proba = self.predict_proba(texts, batch_size, progress)
        return [self.label_names[i] for i in proba.argmax(-1)]

    def score(self, label_logits: torch.Tensor, target: int, quantity: str = "log_odds",
              log_z: torch.Tensor | None = None) -> torch.Tensor:
        """Turn label logits into the explained quantity for label index `target` (see QUANTITIES)."""
        return label_quantity(label_logits, target, quantity, log_z)

    def __repr__(self) -> str:
        kind = f"fine-tuned (LoRA {self.engine.adapter!r})" if self.use_adapter else "zero-shot"
        return (f"{type(self).__name__}({kind}, model={self.base_model_id!r}, labels={list(self.label_names)}, "
                f"label tokens={list(self.label_token_ids)})")


def load_classifier(model: str = "offline", runtime=None, label_space="binary", **kwargs) -> LabelWordClassifier:
    """Load a model (preset, hub id or path) and wrap it in a label-word classifier: one call for a lesson or script.

    Args:
        model: as for `load_model` (e.g. `cfg.model` from `lesson_config`).
        runtime: from `setup` (default: a fresh one).
        label_space: "binary", "three" or label names (see `load_tweets`).
        **kwargs: passed to `LabelWordClassifier` (label_words, template, ...).
    """
    from .data import resolve_label_space
    from .models import load_model

    loaded, tokenizer = load_model(model, runtime)
    return LabelWordClassifier(loaded, tokenizer, resolve_label_space(label_space), **kwargs)


#: The name of earlier releases, kept as an alias for one release.
ZeroShotClassifier = LabelWordClassifier


class PrefixCache:
    """Prefix-cached continuation scores of a classifier (kept for the equivalence tests; use the engine)."""

    def __init__(self, classifier: LabelWordClassifier):
        self.engine = classifier.engine

    def label_logits(self, continuations: list[list[int]], with_log_z: bool = False):
        return self.engine.continuation_logits(continuations, with_log_z=with_log_z)
