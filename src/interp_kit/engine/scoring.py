"""The one engine for "the label logits after a prompt": every forward pass of the kit goes through here.

A `ScoringEngine` holds a model, the prompt layout (prefix, suffix and label token ids) and the adapter switch. It
scores tweets (prefix encoded once and cached), masked copies of one tweet (packed into one sequence on CPU,
padded batches on GPU), the tweet's embeddings with gradients (gradient attribution), training batches (the
label-token loss), and full prompts with named hook points for reading and writing activations (the internals).
It takes token ids, never text, and knows nothing of classifiers, methods or metrics.
"""
from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .adapters import adapter_context
from .cache import SharedKV, model_state
from .packed import PACKED_ATTENTION, attention_implementation, plain_attention, segment_tables
from .prompt import PromptLayout

__all__ = ["ScoringEngine", "MaskedPrompts", "EmbeddingForward", "QUANTITIES", "label_quantity"]

#: What a score can mean. log_odds (default): log p(target) - log(1 - p(target)) under the softmax restricted
#: to the label words; probability: that restricted p(target); logit: the raw label logit; log_prob: the log
#: probability of the label token under the full-vocabulary softmax (what captum's LLMAttribution explains).
QUANTITIES = ("log_odds", "probability", "logit", "log_prob")


def label_quantity(label_logits: torch.Tensor, target: int, quantity: str = "log_odds",
                   log_z: torch.Tensor | None = None) -> torch.Tensor:
    """Turn label logits (batch, n_labels) into the explained quantity for label index `target` (see QUANTITIES)."""
    if quantity == "logit":
        return label_logits[:, target]
    if quantity == "log_prob":
        if log_z is None:
            raise ValueError("quantity='log_prob' needs the full-vocabulary log-normaliser (with_log_z=True).")
        return label_logits[:, target] - log_z
    logp = torch.log_softmax(label_logits.float(), dim=-1)
    if quantity == "probability":
        return logp[:, target].exp()
    if quantity == "log_odds":
        others = torch.cat([logp[:, :target], logp[:, target + 1:]], dim=-1)
        return logp[:, target] - torch.logsumexp(others, dim=-1)
    raise ValueError(f"Unknown quantity '{quantity}'; choose from {QUANTITIES}.")


class ScoringEngine:
    """Label logits of prompts `prefix + tweet + suffix` on one model, with one adapter setting.

    Args:
        model: a causal LM (plain, PeftModel or 4-bit).
        layout: the prompt's token pieces and label tokens (`PromptLayout.build`).
        adapter: None scores the untouched base model (LoRA layers off); an adapter name turns on exactly that one;
            True runs the model's adapters as they are set.
    """

    def __init__(self, model, layout: PromptLayout, adapter: str | bool | None = None):
        self.model, self.layout, self.adapter = model, layout, adapter
        self.use_prefix_cache = True  # False: every prompt runs whole (a reference path for tests)
        self._prefix: tuple | None = None  # (the model state it was encoded with, SharedKV)

    # ---- basics --------------------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def n_labels(self) -> int:
        return len(self.layout.label_token_ids)

    def model_context(self):
        """The adapter switch for the duration of a forward pass."""
        return adapter_context(self.model, self.adapter)

    def _read(self, logits: torch.Tensor, with_log_z: bool):
        logits = logits.float()
        label_logits = logits[:, list(self.layout.label_token_ids)]
        return (label_logits, torch.logsumexp(logits, dim=-1)) if with_log_z else label_logits

    # ---- the prefix cache ----------------------------------------------------------------------------------------
    def prefix_kv(self) -> SharedKV:
        """The prompt prefix's keys/values, encoded once and reused while the model is unchanged (`model_state`).

        The prefix is the same for every tweet, so encoding it once saves ~15% of an explanation on CPU. The tensors
        are made outside inference mode and without gradients, so gradient methods can use them too.
        """
        state = model_state(self.model, self.adapter)
        if self._prefix is None or self._prefix[0] != state:
            with torch.inference_mode(False), torch.no_grad(), self.model_context():
                out = self.model(input_ids=torch.tensor([self.layout.prefix_ids], device=self.device), use_cache=True,
                                 logits_to_keep=1)
            self._prefix = (state, SharedKV(out.cache))
        return self._prefix[1]

    def clear_prefix_cache(self) -> None:
        """Forget the cached prefix (re-encoded on the next call); needed after writes through `param.data`."""
        self._prefix = None

    # ---- tweets ----------------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def full_prompt_logits(self, sequences: list[list[int]], with_log_z: bool = False):
        """Label logits at the last real position of whole token sequences, one left-padded batch, no cache.

        Left padding shifts real tokens right: position ids count from each row's first real token.
        """
        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), self.layout.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, s in enumerate(sequences):
            ids[i, width - len(s):] = torch.tensor(s)
            mask[i, width - len(s):] = 1
        position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
        dev = self.device
        with self.model_context():
            logits = self.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=position_ids.to(dev),
                                logits_to_keep=1, use_cache=False).logits[:, -1, :]
        return self._read(logits, with_log_z)

    @torch.inference_mode()
    def continuation_logits(self, continuations: list[list[int]], with_log_z: bool = False):
        """Label logits of prefix + each continuation (tweet + suffix): the cached prefix, right-padded rows.

        Causal attention never lets a real token see the padding after it, and each row is read at its own last
        real position; logits are computed only at the positions that are read.
        """
        kv, p = self.prefix_kv(), len(self.layout.prefix_ids)
        n, width = len(continuations), max(len(c) for c in continuations)
        ids = torch.full((n, width), self.layout.pad_token_id, dtype=torch.long)
        mask = torch.zeros(n, p + width, dtype=torch.long)
        mask[:, :p] = 1
        last = torch.tensor([len(c) - 1 for c in continuations])
        for i, c in enumerate(continuations):
            ids[i, :len(c)] = torch.tensor(c)
            mask[i, p:p + len(c)] = 1
        keep = torch.unique(last)
        dev = self.device
        positions = (p + torch.arange(width)).unsqueeze(0).expand(n, -1)
        with self.model_context():
            logits = self.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=positions.to(dev),
                                cache=kv.batch(n), use_cache=True, logits_to_keep=keep.to(dev)).logits
        logits = logits[torch.arange(n, device=dev), torch.searchsorted(keep, last).to(dev)]
        return self._read(logits, with_log_z)

    def label_logits(self, tweets: list[list[int]], batch_size: int = 16, progress: bool | None = None,
                     desc: str = "scoring", with_log_z: bool = False):
        """Label logits (n, n_labels) of many tweets (token id lists), batched by length with a progress bar."""
        continuations = [list(t) + list(self.layout.suffix_ids) for t in tweets]
        order = np.argsort([len(c) for c in continuations], kind="stable")
        out = torch.empty(len(tweets), self.n_labels)
        log_z = torch.empty(len(tweets))
        show = progress if progress is not None else len(tweets) > 4 * batch_size
        for start in tqdm(range(0, len(tweets), batch_size), desc=desc, disable=not show, unit="batch"):
            idx = torch.as_tensor(order[start:start + batch_size])
            batch = [continuations[i] for i in idx]
            if self.use_prefix_cache:
                lg, z = self.continuation_logits(batch, with_log_z=True)
            else:
                lg, z = self.full_prompt_logits([list(self.layout.prefix_ids) + c for c in batch], with_log_z=True)
            out[idx], log_z[idx] = lg.cpu(), z.cpu()
        return (out, log_z) if with_log_z else out

    # ---- masked copies of one tweet ------------------------------------------------------------------------------
    def masked(self, tweet_ids, batch_size: int = 64, pack_tokens: int | None = None) -> "MaskedPrompts":
        """A scorer of masked copies of one tweet (see `MaskedPrompts`)."""
        return MaskedPrompts(self, tweet_ids, batch_size=batch_size, pack_tokens=pack_tokens)

    # ---- gradients -----------------------------------------------------------------------------------------------
    def embedding_forward(self, tweet_ids, target: int, quantity: str = "log_odds",
                          baseline_token_id: int | None = None) -> "EmbeddingForward":
        """A differentiable f(tweet token embeddings) -> explained quantity (see `EmbeddingForward`)."""
        return EmbeddingForward(self, tweet_ids, target, quantity, baseline_token_id)

    # ---- training --------------------------------------------------------------------------------------------------
    def label_loss(self, examples: list[tuple[list[int], int]], share_prefix: bool = True) -> torch.Tensor:
        """Cross-entropy of the label token after each prompt (the fine-tuning loss), differentiable.

        Args:
            examples: (tweet token ids, label index) pairs.
            share_prefix: run the prompt prefix once per batch, with gradients, and repeat its keys/values for each
                row (the prefix is about half the tokens); False runs whole left-padded prompts (needed where the
                cache cannot be repeated, e.g. gradient checkpointing on 4-bit models).
        """
        targets = torch.tensor([self.layout.label_token_ids[i] for _, i in examples], device=self.device)
        logits = self._answer_logits([t for t, _ in examples], share_prefix)
        return F.cross_entropy(logits.float(), targets)

    def _answer_logits(self, tweets: list[list[int]], share_prefix: bool) -> torch.Tensor:
        """Full-vocabulary logits at each prompt's answer position, with gradients (for training and influence)."""
        layout, dev = self.layout, self.device
        continuations = [list(t) + list(layout.suffix_ids) for t in tweets]
        n, p = len(continuations), len(layout.prefix_ids)
        with self.model_context():
            if share_prefix and p:
                width = max(len(c) for c in continuations)
                ids = torch.full((n, width), layout.pad_token_id, dtype=torch.long)
                mask = torch.zeros(n, p + width, dtype=torch.long)
                mask[:, :p] = 1
                for i, c in enumerate(continuations):
                    ids[i, :len(c)] = torch.tensor(c)
                    mask[i, p:p + len(c)] = 1
                last = torch.tensor([len(c) - 1 for c in continuations])
                keep = torch.unique(last)
                cache = self.model(input_ids=torch.tensor([list(layout.prefix_ids)], device=dev), use_cache=True).cache
                cache.batch_repeat_interleave(n)
                positions = (p + torch.arange(width)).unsqueeze(0).expand(n, -1)
                logits = self.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=positions.to(dev),
                                    cache=cache, use_cache=True, logits_to_keep=keep.to(dev)).logits
                return logits[torch.arange(n, device=dev), torch.searchsorted(keep, last).to(dev)]
            sequences = [list(layout.prefix_ids) + c for c in continuations]
            width = max(len(s) for s in sequences)
            ids = torch.full((n, width), layout.pad_token_id, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for i, s in enumerate(sequences):
                ids[i, width - len(s):] = torch.tensor(s)
                mask[i, width - len(s):] = 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            return self.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=positions.to(dev),
                              logits_to_keep=1, use_cache=False).logits[:, -1, :]

    # ---- hook points ---------------------------------------------------------------------------------------------
    def hooks(self):
        """Named hook points for reading and writing activations on full prompts (see `HookPoints`)."""
        from .hooks import HookPoints

        return HookPoints(self)


class MaskedPrompts:
    """Label logits of one tweet with some of its tokens absent, many masked prompts per forward pass.

    Each row is (shared, new): the first `shared` tweet tokens are the original's, `new` are the tokens after them
    (the rest of the masked tweet and the suffix). Only `new` is computed: a masked prompt shares the full prompt's
    keys/values up to its first change. The first forward pass runs the instruction's continuation with the whole
    tweet once, and every masked prompt reads its keys/values up to its own shared length and continues at its own
    positions; later passes reuse those keys/values from the cache.

    On a CPU the rows are packed one after another into a single sequence (an attention mask keeps each one to its
    shared part and itself), so no padding is computed; for Llama-style models the attention then runs per prompt
    (`packed_attention`). On a GPU they are padded batches. Values equal a plain forward within ~2e-5.

    Args:
        batch_size: most masked prompts per forward pass.
        pack_tokens: most tokens per packed forward pass; 0 gives padded batches. Default: 1024 on CPU (where a
            padding token costs as much as a real one), 0 on GPU.
    """

    def __init__(self, engine: ScoringEngine, tweet_ids, batch_size: int = 64, pack_tokens: int | None = None):
        self.engine, self.tweet_ids = engine, list(tweet_ids)
        self.batch_size = batch_size
        self.pack_tokens = pack_tokens if pack_tokens is not None else (1024 if engine.device.type == "cpu" else 0)
        self._kv: SharedKV | None = None  # keys/values of the instruction and the whole tweet (the shared part)
        self.n_forward_passes = 0

    def label_logits(self, rows: list[tuple[int, list[int]]]):
        """(label logits (n, n_labels), log Z (n,)) for each (shared, new) row, in the given order."""
        order = np.argsort([len(new) for _, new in rows], kind="stable")  # similar widths together
        out = torch.empty(len(rows), self.engine.n_labels)
        log_z = torch.empty(len(rows))
        forward = self._forward_packed if self.pack_tokens else self._forward_padded
        for idx in self._batches([len(rows[i][1]) for i in order], order):
            lg, z = forward([rows[i] for i in idx])
            out[torch.as_tensor(idx)], log_z[torch.as_tensor(idx)] = lg.cpu(), z.cpu()
            self.n_forward_passes += 1
        return out, log_z

    def _batches(self, lengths, order):
        """Split rows (sorted by the tokens they compute) into forward passes of at most batch_size rows and,
        when packing, at most pack_tokens tokens (the first pass also carries the whole tweet)."""
        budget = self.pack_tokens - (len(self.tweet_ids) if self._kv is None else 0)
        batches, current, tokens = [], [], 0
        for length, i in zip(lengths, order):
            full = len(current) == self.batch_size or (self.pack_tokens and tokens + length > budget)
            if current and full:
                batches.append(current)
                current, tokens, budget = [], 0, self.pack_tokens
            current.append(i)
            tokens += length
        if current:
            batches.append(current)
        return batches

    def _run(self, ids, mask, positions, cache, keep, **extra):
        """One forward pass with logits at the `keep` positions (sorted)."""
        eng, dev = self.engine, self.engine.device
        with eng.model_context():
            return eng.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=positions.to(dev),
                             cache=cache, use_cache=True, logits_to_keep=keep.to(dev), **extra)

    def _cache(self, n: int, shared: int):
        """Keys/values of the instruction and the first `shared` tweet tokens for n rows (in the first pass: the
        instruction only; the whole tweet is computed alongside the masked prompts)."""
        if self._kv is None:
            return self.engine.prefix_kv().batch(n)
        return self._kv.batch(n, len(self.engine.layout.prefix_ids) + shared)

    def _keep_source(self, out):
        if self._kv is None:
            self._kv = SharedKV(out.cache, len(self.engine.layout.prefix_ids) + len(self.tweet_ids))

    def _read(self, logits):
        return self.engine._read(logits, with_log_z=True)

    @torch.inference_mode()
    def _forward_packed(self, rows):
        """Masked prompts packed one after another into one sequence (the first pass also runs the tweet)."""
        eng, p = self.engine, len(self.engine.layout.prefix_ids)
        model = eng.model
        source = list(self.tweet_ids) if self._kv is None else []
        shared = len(source) if source else max(sh for sh, _ in rows)
        c = p + (0 if source else shared)  # cached keys before this pass's tokens
        # segments: (tweet tokens shared, offset in the pass, length); the source shares only the instruction
        segments, o = ([(0, 0, len(source))] if source else []), len(source)
        for sh, new in rows:
            segments.append((sh, o, len(new)))
            o += len(new)
        length = o
        ids = torch.tensor([source + [t for _, new in rows for t in new]])
        positions = torch.empty(1, length, dtype=torch.long)
        allowed = torch.zeros(length, c + length, dtype=torch.bool)
        allowed[:, :p] = True  # the instruction
        for sh, o, n in segments:
            positions[0, o:o + n] = p + sh + torch.arange(n)
            allowed[o:o + n, p:p + sh] = True  # the tweet tokens it shares (cached, or this pass's source)
            allowed[o:o + n, c + o:c + o + n] = torch.ones(n, n, dtype=torch.bool).tril()
        last = torch.tensor([o + n - 1 for _, o, n in segments[1 if source else 0:]])
        # The exact mask of the packed square is kept beside the segment tables: sdpa and eager attention use it,
        # and it is packed_attention's fallback.
        if getattr(model.config, "_attn_implementation", None) == "sdpa":
            mask = allowed[None, None]  # sdpa takes boolean masks (faster than additive ones)
        else:
            dtype = model.get_input_embeddings().weight.dtype  # the attention's dtype (also for 4-bit models)
            mask = torch.zeros(1, 1, *allowed.shape, dtype=dtype).masked_fill_(~allowed, torch.finfo(dtype).min)
        cache = self._cache(1, shared)  # (may encode the instruction: before the attention is switched)
        extra, context = {}, nullcontext()
        if plain_attention(model.config):  # attention per segment instead of over the whole packed square
            extra = {"packed_segments": segment_tables(segments, p, c, eng.device)}
            context = attention_implementation(model.config, PACKED_ATTENTION)
        with context:
            out = self._run(ids, mask, positions, cache, last, **extra)
        self._keep_source(out)
        return self._read(out.logits[0])

    @torch.inference_mode()
    def _forward_padded(self, rows):
        """Masked prompts as one right-padded batch after the cached source (the first call encodes it)."""
        eng, p = self.engine, len(self.engine.layout.prefix_ids)
        if self._kv is None:
            tweet = torch.tensor([self.tweet_ids])
            out = self._run(tweet, torch.ones(1, p + tweet.shape[1], dtype=torch.long),
                            p + torch.arange(tweet.shape[1])[None], self._cache(1, 0), torch.tensor([0]))
            self._keep_source(out)
        n = len(rows)
        s = max(sh for sh, _ in rows)
        width = max(len(new) for _, new in rows)
        ids = torch.full((n, width), eng.layout.pad_token_id, dtype=torch.long)
        mask = torch.zeros(n, p + s + width, dtype=torch.long)
        mask[:, :p] = 1
        positions = torch.empty(n, width, dtype=torch.long)
        for i, (sh, new) in enumerate(rows):
            ids[i, :len(new)] = torch.tensor(new)
            mask[i, p:p + sh] = 1  # the shared tweet tokens; cached slots sh..s belong to other rows
            mask[i, p + s:p + s + len(new)] = 1
            positions[i] = p + sh + torch.arange(width)
        last = torch.tensor([len(new) - 1 for _, new in rows])
        keep = torch.unique(last)  # compute logits only at the positions that are read
        logits = self._run(ids, mask, positions, self._cache(n, s), keep).logits
        dev = eng.device
        return self._read(logits[torch.arange(n, device=dev), torch.searchsorted(keep, last).to(dev)])


class EmbeddingForward(torch.nn.Module):
    """f(tweet token embeddings) -> explained quantity, differentiable, with the prompt prefix cached.

    Only the tweet's token embeddings are inputs: the prefix is encoded once (no gradient) and the suffix embeddings
    are constant context, so the instruction is never attributed. Gradients flow to these embeddings only (never to
    weights), the same for a plain model, a PeftModel and a 4-bit model on a GPU. Called with float32 embeddings
    (batch, n_tweet_tokens, d); returns (batch,). `n_forward` counts the rows run (each with a backward pass).
    """

    def __init__(self, engine: ScoringEngine, tweet_ids, target: int, quantity: str = "log_odds",
                 baseline_token_id: int | None = None):
        super().__init__()
        self.engine, self.target, self.quantity = engine, target, quantity
        self.embed = engine.model.get_input_embeddings()
        self.dtype = self.embed.weight.dtype
        dev = engine.device
        baseline = engine.layout.pad_token_id if baseline_token_id is None else baseline_token_id
        with torch.no_grad():
            self.tweet_embeds = self.embed(torch.tensor(list(tweet_ids), device=dev)).float().unsqueeze(0)
            self.suffix_embeds = self.embed(torch.tensor(list(engine.layout.suffix_ids), device=dev)).unsqueeze(0)
            base = self.embed(torch.tensor([baseline], device=dev)).float()
            self.baseline_embeds = base.expand_as(self.tweet_embeds[0]).unsqueeze(0).clone()
        self.kv = engine.prefix_kv()  # made under no_grad, so usable inside an autograd graph
        self.prefix_length = len(engine.layout.prefix_ids)
        self.n_forward = 0

    def forward(self, tweet_embeds: torch.Tensor) -> torch.Tensor:
        eng = self.engine
        b = tweet_embeds.shape[0]
        x = torch.cat([tweet_embeds.to(self.dtype), self.suffix_embeds.expand(b, -1, -1)], dim=1)
        width, dev = x.shape[1], x.device
        mask = torch.ones(b, self.prefix_length + width, dtype=torch.long, device=dev)
        positions = (self.prefix_length + torch.arange(width, device=dev)).unsqueeze(0).expand(b, -1)
        with eng.model_context():
            logits = eng.model(inputs_embeds=x, attention_mask=mask, position_ids=positions, cache=self.kv.batch(b),
                               use_cache=True, logits_to_keep=1).logits[:, -1, :]
        self.n_forward += b
        label_logits, log_z = eng._read(logits, with_log_z=True)
        return label_quantity(label_logits, self.target, self.quantity, log_z)
