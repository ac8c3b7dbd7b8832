"""What every attribution method shares: the features of a tweet, a batched scorer of masks, the result."""
from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch

from ..classifier import QUANTITIES, SharedKV, TweetTokens, ZeroShotClassifier

__all__ = ["Attribution", "MaskScorer"]


@dataclass
class Attribution:
    """Scores for the features (words or tokens) of one tweet, explaining one label's score.

    `value_full` is the explained quantity with every feature present and `value_empty` with every feature
    absent; efficient methods (SHAP, KernelShap, exact Shapley) have scores summing to their difference.
    """

    text: str
    features: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]  # character span of each feature in `text`
    scores: np.ndarray
    target: str
    quantity: str
    value_full: float
    value_empty: float
    prediction: str
    probabilities: dict[str, float]
    method: str
    granularity: str = "word"
    n_evaluations: int = 0
    seconds: float = 0.0
    model: str = ""
    extras: dict = field(default_factory=dict)

    def top_k(self, k: int = 5, by: str = "abs") -> list[tuple[str, float]]:
        """The k features with the largest |score| ("abs") or score ("positive")."""
        key = np.abs(self.scores) if by == "abs" else self.scores
        return [(self.features[i], float(self.scores[i])) for i in np.argsort(-key, kind="stable")[:k]]

    def to_dict(self) -> dict:
        """A JSON-ready record (used for the *_shap.json outputs)."""
        return {"text": self.text, "features": list(self.features), "spans": [list(s) for s in self.spans],
                "scores": [float(x) for x in self.scores], "target": self.target, "quantity": self.quantity,
                "value_full": self.value_full, "value_empty": self.value_empty, "prediction": self.prediction,
                "probabilities": self.probabilities, "method": self.method, "granularity": self.granularity,
                "n_evaluations": self.n_evaluations, "seconds": self.seconds, "model": self.model,
                "extras": self.extras}

    def __repr__(self) -> str:
        top = ", ".join(f"{w}={s:+.2f}" for w, s in self.top_k(3))
        return (f"Attribution({self.method}, target={self.target!r}, pred={self.prediction!r}, "
                f"{len(self.features)} {self.granularity}s, top: {top}, {self.n_evaluations} evals, {self.seconds:.2f}s)")


class MaskScorer:
    """Score a tweet with some of its features absent, many masks per forward pass.

    Each mask row keeps (1) or removes (0) a feature. "Absent" means the feature's tokens are deleted
    (absent="delete", the default) or replaced by a baseline token (absent="baseline", e.g. the pad token), which
    keeps positions fixed.

    Speed: a masked prompt shares the full prompt's tokens up to its first absent token (the instruction and the
    words before it), so only the rest is computed. The first forward pass runs the instruction and the whole
    tweet once, and every masked prompt reads their keys/values up to its own shared length and continues at its
    own positions; later passes reuse those keys/values from the cache. On a CPU the masked prompts are packed
    one after another into a single sequence (an attention mask keeps each one to its shared part and itself), so
    no padding is computed and a text often needs one forward pass; for Llama-style models attention then runs
    per prompt (`_packed_attention`) rather than over the whole packed square. On a GPU they are padded batches.
    Values equal a plain forward within ~2e-5.

    Args:
        classifier: the zero-shot or fine-tuned classifier whose score is explained.
        text: the tweet. Only its words are features: instruction, template and answer cue stay fixed.
        target: label name to explain (default: the predicted label).
        quantity: one of QUANTITIES (default log-odds of the target under the label-restricted softmax).
        granularity: "word" or "token".
        batch_size: most masked prompts per forward pass.
        pack_tokens: most tokens per packed forward pass; 0 gives padded batches instead. Default: 1024 on CPU
            (where a padding token costs as much as a real one), 0 on GPU.
    """

    def __init__(self, classifier: ZeroShotClassifier, text: str, target: str | None = None,
                 quantity: str = "log_odds", granularity: str = "word", absent: str = "delete",
                 baseline_token_id: int | None = None, batch_size: int = 64, pack_tokens: int | None = None):
        if quantity not in QUANTITIES:
            raise ValueError(f"Unknown quantity '{quantity}'; choose from {QUANTITIES}.")
        if granularity not in ("word", "token"):
            raise ValueError("granularity must be 'word' or 'token'.")
        if absent not in ("delete", "baseline"):
            raise ValueError("absent must be 'delete' or 'baseline'.")
        if target is not None:
            classifier.label_index(target)  # an unknown label fails here, before any model work
        self.clf = classifier
        self.tweet: TweetTokens = classifier.tokenize_tweet(text)
        self.granularity, self.quantity, self.absent = granularity, quantity, absent
        self.baseline_token_id = baseline_token_id if baseline_token_id is not None else classifier.tokenizer.pad_token_id
        self.batch_size = batch_size
        self.pack_tokens = pack_tokens if pack_tokens is not None else (1024 if classifier.device.type == "cpu" else 0)
        self.n_evaluations = 0
        self._target = target
        self._kv: SharedKV | None = None  # keys/values of the instruction and the whole tweet (the shared part)
        self._full = self._empty = None  # (label logits, log Z) with every feature present / absent
        tt = self.tweet
        if granularity == "word":
            self.features = tt.words
            self.spans = tt.word_spans
            self.token_feature = _token_words(classifier.tokenizer, tt)
        else:
            self.features = tuple(classifier.tokenizer.decode([t]) for t in tt.token_ids)
            self.spans = tt.token_spans
            self.token_feature = np.arange(len(tt.token_ids))

    # ---- the prompt with every feature present / absent: scored alongside the first masks asked for ------------
    def _ends(self):
        if self._full is None or self._empty is None:
            self._label_logits(np.zeros((0, self.n_features), bool))
        return self._full, self._empty

    @property
    def probabilities(self) -> np.ndarray:
        """Label probabilities of the whole tweet."""
        return torch.softmax(self._ends()[0][0][0], -1).numpy()

    @property
    def prediction(self) -> str:
        return self.clf.label_names[int(self.probabilities.argmax())]

    @property
    def target(self) -> str:
        """The label explained (the prediction unless one was given)."""
        return self._target if self._target is not None else self.prediction

    @property
    def target_index(self) -> int:
        return self.clf.label_index(self.target)

    @property
    def value_full(self) -> float:
        """The explained quantity with every feature present."""
        logits, log_z = self._ends()[0]
        return float(self.clf.score(logits, self.target_index, self.quantity, log_z)[0])

    @property
    def value_empty(self) -> float:
        """The explained quantity with every feature absent."""
        logits, log_z = self._ends()[1]
        return float(self.clf.score(logits, self.target_index, self.quantity, log_z)[0])

    @property
    def n_features(self) -> int:
        return len(self.features)

    def continuation(self, mask_row) -> list[int]:
        """Tweet tokens (+ suffix) with the features where mask_row is 0 deleted or replaced."""
        keep = np.asarray(mask_row, bool)[self.token_feature]
        ids = np.asarray(self.tweet.token_ids)
        if self.absent == "delete":
            tweet = ids[keep].tolist()
        else:
            tweet = np.where(keep, ids, self.baseline_token_id).tolist()
        return tweet + list(self.clf.suffix_ids)

    def _rows(self, masks):
        """(shared, new tokens) per mask: tokens shared with the full prompt's tweet, and the ones to compute."""
        keep_tokens = masks[:, self.token_feature]
        rows = []
        for m, kt in zip(masks, keep_tokens):
            cont = self.continuation(m)
            first_absent = int(np.argmin(kt)) if not kt.all() else len(kt)
            shared = min(first_absent, len(cont) - 1)  # at least one token to compute (the score is read there)
            rows.append((shared, cont[shared:]))
        return rows

    def _run(self, ids, mask, positions, cache, keep, **extra):
        """One forward pass with logits at the `keep` positions (sorted)."""
        clf, dev = self.clf, self.clf.device
        with clf.model_context():
            return clf.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=positions.to(dev),
                             past_key_values=cache, use_cache=True, logits_to_keep=keep.to(dev), **extra)

    def _cache(self, n: int, shared: int):
        """Keys/values of the instruction and the first `shared` tweet tokens for n rows (the first pass: the
        instruction only, and the whole tweet is computed alongside the masked prompts)."""
        if self._kv is None:
            return self.clf.prefix_kv().batch(n)
        return self._kv.batch(n, len(self.clf.prefix_ids) + shared)

    def _keep_source(self, out):
        if self._kv is None:  # the instruction and the whole tweet: what every later masked prompt can share
            self._kv = SharedKV(out.past_key_values, len(self.clf.prefix_ids) + len(self.tweet.token_ids))

    @torch.inference_mode()
    def _forward_packed(self, rows):
        """Masked prompts packed one after another into one sequence (the first pass also runs the tweet)."""
        clf, p = self.clf, len(self.clf.prefix_ids)
        source = list(self.tweet.token_ids) if self._kv is None else []
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
        # the exact mask of the packed square: what sdpa/eager attention uses, and the fallback of _packed_attention
        if getattr(clf.model.config, "_attn_implementation", None) == "sdpa":
            mask = allowed[None, None]  # sdpa takes boolean masks (faster than additive ones)
        else:
            dtype = clf.model.get_input_embeddings().weight.dtype  # the attention's dtype (also for 4-bit models)
            mask = torch.zeros(1, 1, *allowed.shape, dtype=dtype).masked_fill_(~allowed, torch.finfo(dtype).min)
        cache = self._cache(1, shared)  # (may encode the instruction: before the attention is switched)
        extra, context = {}, nullcontext()
        if _plain_attention(clf.model.config):  # attention per segment instead of over the whole packed square
            extra = {"packed_segments": _segment_tables(segments, p, c, clf.device)}
            context = _attention_implementation(clf.model.config, _PACKED_ATTENTION)
        with context:
            out = self._run(ids, mask, positions, cache, last, **extra)
        self._keep_source(out)
        logits = out.logits[0].float()
        return logits[:, list(clf.label_token_ids)], torch.logsumexp(logits, dim=-1)

    @torch.inference_mode()
    def _forward_padded(self, rows):
        """Masked prompts as one right-padded batch after the cached source (the first call encodes it)."""
        clf, p = self.clf, len(self.clf.prefix_ids)
        if self._kv is None:
            tweet = torch.tensor([self.tweet.token_ids])
            out = self._run(tweet, torch.ones(1, p + tweet.shape[1], dtype=torch.long),
                            p + torch.arange(tweet.shape[1])[None], self._cache(1, 0), torch.tensor([0]))
            self._keep_source(out)
        n = len(rows)
        s = max(sh for sh, _ in rows)
        width = max(len(new) for _, new in rows)
        ids = torch.full((n, width), clf.tokenizer.pad_token_id, dtype=torch.long)
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
        dev = clf.device
        logits = logits[torch.arange(n, device=dev), torch.searchsorted(keep, last).to(dev)].float()
        return logits[:, list(clf.label_token_ids)], torch.logsumexp(logits, dim=-1)

    def _label_logits(self, masks, with_log_z: bool = False):
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        n_asked = len(masks)
        # the prompts with every feature present and absent ride along with the first masks asked for
        ends = [np.ones((1, self.n_features), bool)] if self._full is None else []
        ends += [np.zeros((1, self.n_features), bool)] if self._empty is None else []
        masks = np.vstack([masks] + ends)
        masks, inverse = np.unique(masks, axis=0, return_inverse=True)  # each distinct mask is scored once
        inverse = torch.as_tensor(np.asarray(inverse).reshape(-1))
        rows = self._rows(masks)
        order = np.argsort([len(new) for _, new in rows], kind="stable")  # similar widths together
        out = torch.empty(len(masks), len(self.clf.label_token_ids))
        log_z = torch.empty(len(masks))
        forward = self._forward_packed if self.pack_tokens else self._forward_padded
        for idx in self._batches([len(rows[i][1]) for i in order], order):
            lg, z = forward([rows[i] for i in idx])
            out[torch.as_tensor(idx)] = lg.cpu()
            log_z[torch.as_tensor(idx)] = z.cpu()
        self.n_evaluations += len(masks)
        out, log_z = out[inverse], log_z[inverse]
        if self._full is None:
            self._full = (out[n_asked:n_asked + 1], log_z[n_asked:n_asked + 1])
        if self._empty is None:
            self._empty = (out[-1:], log_z[-1:])
        out, log_z = out[:n_asked], log_z[:n_asked]
        return (out, log_z) if with_log_z else out

    def _batches(self, lengths, order):
        """Split rows (sorted by the tokens they compute) into forward passes of at most batch_size rows and,
        when packing, at most pack_tokens tokens (the first pass also carries the source)."""
        budget = self.pack_tokens - (len(self.tweet.token_ids) if self._kv is None else 0)
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

    def __call__(self, masks, target: str | None = None) -> np.ndarray:
        """The explained quantity for each mask row (shape (m, n_features), 1 = present)."""
        logits, log_z = self._label_logits(masks, with_log_z=True)
        t = self.target_index if target is None else self.clf.label_index(target)
        return self.clf.score(logits, t, self.quantity, log_z).cpu().numpy()

    def torch_forward(self, masks: torch.Tensor) -> torch.Tensor:
        """A batched forward function for captum: float masks (batch, n_features) -> scores (batch,)."""
        return torch.as_tensor(self(masks.detach().cpu().numpy() > 0.5), dtype=torch.float32)

    def result(self, scores, method: str, seconds: float, extras: dict | None = None) -> Attribution:
        """Package scores from any method as an Attribution of this tweet."""
        return Attribution(text=self.tweet.text, features=tuple(self.features), spans=tuple(self.spans),
                           scores=np.asarray(scores, dtype=float).reshape(-1), target=self.target,
                           quantity=self.quantity, value_full=self.value_full, value_empty=self.value_empty,
                           prediction=self.prediction,
                           probabilities={n: float(p) for n, p in zip(self.clf.label_names, self.probabilities)},
                           method=method, granularity=self.granularity, n_evaluations=self.n_evaluations,
                           seconds=seconds, model=self.clf.base_model_id + (" + LoRA" if self.clf.use_adapter else ""),
                           extras=extras or {})


# ---- attention for packed masked prompts -------------------------------------------------------------------------
_PACKED_ATTENTION = "interp_kit_packed"


def _plain_attention(config) -> bool:
    """Models whose attention is plain softmax attention (no sliding window, soft-capping or sinks), where
    `_packed_attention` computes exactly what sdpa with the packed mask does."""
    if config.model_type == "qwen2":
        return not getattr(config, "use_sliding_window", False)
    return config.model_type == "llama"


def _segment_tables(segments, p: int, c: int, device):
    """Index tables for `_packed_attention`: per segment, its query positions in the pass and its key slots (the
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


def _packed_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, packed_segments=None,
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
def _attention_implementation(config, name: str):
    """Run the model with another registered attention function for the duration (restored afterwards)."""
    from transformers import AttentionInterface

    AttentionInterface.register(name, _packed_attention)  # idempotent: a name in transformers' registry
    before = config._attn_implementation
    config._attn_implementation = name
    try:
        yield
    finally:
        config._attn_implementation = before


def _token_words(tokenizer, tweet: TweetTokens) -> np.ndarray:
    """The word each token belongs to, with a whitespace-only token given to the word that follows it.

    Some tokenizers split " 3" into " " and "3" (SmolLM2 does for digits); the space belongs with the word after
    it, so that deleting a word gives the same tokens as deleting it from the text (what captum's
    TextTemplateInput renders). `TweetTokens.token_word` assigns such a space to the word before it.
    """
    owner = np.array(tweet.token_word)
    for k in range(len(owner) - 2, -1, -1):
        if tokenizer.decode([tweet.token_ids[k]]).strip() == "":
            owner[k] = owner[k + 1]
    return owner


def timer():
    """perf_counter start; pair with `time.perf_counter() - start`."""
    return time.perf_counter()
