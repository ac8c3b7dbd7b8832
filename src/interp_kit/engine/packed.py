"""Attention for many masked prompts packed into one sequence (the CPU path of the engine).

On a CPU a padding token costs as much as a real one, so masked prompts are packed one after another into a single
sequence; a block mask keeps each one to the instruction, its shared tweet tokens and itself. For plain-attention
models the attention is then computed per prompt (gathering each prompt's queries and keys) instead of over the
whole packed square, through transformers' public `AttentionInterface`.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

__all__ = ["PACKED_ATTENTION", "plain_attention", "segment_tables", "packed_attention", "attention_implementation"]

PACKED_ATTENTION = "interp_kit_packed"


def plain_attention(config) -> bool:
    """Models whose attention is plain softmax attention (no sliding window, soft-capping or sinks), where
    `packed_attention` computes exactly what sdpa with the packed mask does."""
    if config.model_type == "qwen2":
        return not getattr(config, "use_sliding_window", False)
    return config.model_type == "llama"


def segment_tables(segments, p: int, c: int, device):
    """Index tables for `packed_attention`: per segment, its query positions in the pass and its key slots (the
    instruction, the shared tweet tokens, then itself), a causal mask over them, and which query slots are real."""
    n_max = max(n for _, _, n in segments)
    kv_max = max(p + sh + n for sh, _, n in segments)
    q_idx = torch.zeros(len(segments), n_max, dtype=torch.long)
    k_idx = torch.zeros(len(segments), kv_max, dtype=torch.long)
    mask = torch.zeros(len(segments), 1, n_max, kv_max, dtype=torch.bool)
    mask[:, :, :, 0] = True  # padded query slots attend somewhere (their output is dropped), never to nothing
    valid = torch.zeros(len(segments), n_max, dtype=torch.bool)
    for i, (sh, o, n) in enumerate(segments):
        q_idx[i, :n] = o + torch.arange(n)
        valid[i, :n] = True
        k_idx[i, :p + sh] = torch.arange(p + sh)  # the instruction and the shared tweet tokens
        k_idx[i, p + sh:p + sh + n] = c + o + torch.arange(n)  # itself, in this pass
        mask[i, 0, :n, :p + sh] = True
        mask[i, 0, :n, p + sh:p + sh + n] = torch.ones(n, n, dtype=torch.bool).tril()
    return tuple(t.to(device) for t in (q_idx, k_idx, mask, valid))


def packed_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, packed_segments=None,
                      **kwargs):
    """Attention of masked prompts packed into one sequence, computed per prompt (padded to the longest).

    The packed sequence's block mask lets each prompt see only the instruction, its shared tweet tokens and
    itself, so most of the length x length score matrix sdpa would compute is masked out (~30% of a CPU forward
    for ShapleyValueSampling). Gathering each prompt's own queries and keys computes only what is used: the same
    attention, a fraction of the work. Without segment tables it is plain sdpa with the given mask.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if packed_segments is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout,
                                      **kwargs)
    q_idx, k_idx, mask, valid = packed_segments
    q = query[0][:, q_idx].transpose(0, 1)  # (segments, heads, queries, head dim)
    k = key[0][:, k_idx].transpose(0, 1)  # (segments, kv heads, keys, head dim)
    v = value[0][:, k_idx].transpose(0, 1)
    if k.shape[1] != q.shape[1]:  # grouped-query attention: each kv head serves several query heads
        k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
        v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scaling)
    return out.transpose(1, 2)[valid].unsqueeze(0), None  # (1, packed length, heads, head dim)


@contextmanager
def attention_implementation(config, name: str):
    """Run the model with another registered attention function for the duration (restored afterwards)."""
    from transformers import AttentionInterface

    AttentionInterface.register(name, packed_attention)  # idempotent: a name in transformers' registry
    before = config._attn_implementation
    config._attn_implementation = name
    try:
        yield
    finally:
        config._attn_implementation = before

