"""The scoring engine: the prompt layout, the adapter switch, the prefix cache, batching and hook points.

Everything that runs the model on the kit's prompts (classification, attribution, fine-tuning, internals) goes
through `ScoringEngine`; it takes token ids and a model, and depends on nothing else in the kit.
"""
from .adapters import adapter_context, adapter_flags, adapters_disabled, has_adapter, lora_layers, only_adapter
from .cache import SharedKV, model_state
from .hooks import HOOK_KINDS, HookPoints, PromptPositions, Trace, decoder_layers
from .prompt import (PROMPT_PARTS, LabelWordError, PromptLayout, PromptTemplate, TweetTokens, control_token_ids,
                     encode_plain_text, label_token_ids, token_words, tokenize_tweet)
from .scoring import QUANTITIES, EmbeddingForward, MaskedPrompts, ScoringEngine, label_quantity

__all__ = ["ScoringEngine", "MaskedPrompts", "EmbeddingForward", "QUANTITIES", "label_quantity", "PromptLayout",
           "PromptTemplate", "TweetTokens", "LabelWordError", "tokenize_tweet", "encode_plain_text",
           "control_token_ids", "label_token_ids", "token_words", "PROMPT_PARTS", "SharedKV", "model_state",
           "HookPoints", "PromptPositions", "Trace", "HOOK_KINDS", "decoder_layers", "lora_layers", "has_adapter",
           "adapter_flags", "adapters_disabled", "only_adapter", "adapter_context"]
