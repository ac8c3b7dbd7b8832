"""What every attribution method shares: the features of a tweet, a batched scorer of masks, the result."""
from __future__ import annotations

import time
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

    Speed: one forward pass over the full prompt keeps its KV cache. A masked prompt
    shares the full prompt's tokens up to its first absent token (the instruction prefix and the words before
    it), so only the rest is computed, many rows per forward pass: each row reads the cached keys/values of its
    own shared length (the slots beyond it are masked out) and continues at its own positions. Rows are sorted by
    how many tokens they compute and batched so that little padding is computed (`pad_slack`, on CPU). Values equal
    a plain forward within ~2e-5.

    Args:
        classifier: the zero-shot or fine-tuned classifier whose score is explained.
        text: the tweet. Only its words are features: instruction, template and answer cue stay fixed.
        target: label name to explain (default: the predicted label).
        quantity: one of QUANTITIES (default log-odds of the target under the label-restricted softmax).
        granularity: "word" or "token".
        batch_size: most masked prompts per forward pass.
        pad_slack: close a batch before its padding exceeds this fraction of its real tokens (default: 0.5 on
            CPU, where padding costs as much as real tokens but each forward pass also costs ~65 ms; none on GPU).
    """

    def __init__(self, classifier: ZeroShotClassifier, text: str, target: str | None = None,
                 quantity: str = "log_odds", granularity: str = "word", absent: str = "delete",
                 baseline_token_id: int | None = None, batch_size: int = 64, pad_slack: float | None = None):
        if quantity not in QUANTITIES:
            raise ValueError(f"Unknown quantity '{quantity}'; choose from {QUANTITIES}.")
        if granularity not in ("word", "token"):
            raise ValueError("granularity must be 'word' or 'token'.")
        if absent not in ("delete", "baseline"):
            raise ValueError("absent must be 'delete' or 'baseline'.")
        self.clf = classifier
        self.tweet: TweetTokens = classifier.tokenize_tweet(text)
        self.granularity, self.quantity, self.absent = granularity, quantity, absent
        self.baseline_token_id = baseline_token_id if baseline_token_id is not None else classifier.tokenizer.pad_token_id
        self.batch_size, self.pad_slack = batch_size, pad_slack
        self.n_evaluations = 0
        self._kv: SharedKV | None = None  # the full prompt's keys/values, up to the end of the tweet
        tt = self.tweet
        if granularity == "word":
            self.features = tt.words
            self.spans = tt.word_spans
            self.token_feature = _token_words(classifier.tokenizer, tt)
        else:
            self.features = tuple(classifier.tokenizer.decode([t]) for t in tt.token_ids)
            self.spans = tt.token_spans
            self.token_feature = np.arange(len(tt.token_ids))
        # all features present: the forward pass that fills the KV cache
        logits, log_z = self._encode_full()
        self.probabilities = torch.softmax(logits[0], -1).cpu().numpy()
        self.prediction = classifier.label_names[int(self.probabilities.argmax())]
        self.target = target if target is not None else self.prediction
        self.target_index = classifier.label_index(self.target)
        self.value_full = float(classifier.score(logits, self.target_index, quantity, log_z)[0])
        self._empty = None  # (label logits, log Z) with every feature absent: scored with the first batch of masks

    @property
    def value_empty(self) -> float:
        """The explained quantity with every feature absent (scored alongside the first masks asked for)."""
        if self._empty is None:
            self._label_logits(np.zeros((0, self.n_features), bool))  # no masks: just the all-absent row
        logits, log_z = self._empty
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

    @torch.inference_mode()
    def _encode_full(self):
        """Forward the full prompt once; keep its keys/values, which every masked prompt then reuses."""
        clf = self.clf
        ids = torch.tensor([list(clf.prefix_ids) + self.continuation(np.ones(self.n_features, bool))],
                           device=clf.device)
        with clf.model_context():
            out = clf.model(input_ids=ids, use_cache=True, logits_to_keep=1)
        n_shared = len(clf.prefix_ids) + len(self.tweet.token_ids)  # the prefix and the tweet: what masks can share
        self._kv = SharedKV(out.past_key_values, n_shared)
        self.n_evaluations += 1
        logits = out.logits[:, -1].float()
        return logits[:, list(clf.label_token_ids)], torch.logsumexp(logits, dim=-1)

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

    @torch.inference_mode()
    def _forward_rows(self, rows):
        clf = self.clf
        n, p = len(rows), len(clf.prefix_ids)
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
        cache = self._kv.batch(n, p + s)
        dev = clf.device
        with clf.model_context():
            logits = clf.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), position_ids=positions.to(dev),
                               past_key_values=cache, use_cache=True, logits_to_keep=keep.to(dev)).logits
        logits = logits[torch.arange(n, device=dev), torch.searchsorted(keep, last).to(dev)].float()
        return logits[:, list(clf.label_token_ids)], torch.logsumexp(logits, dim=-1)

    def _label_logits(self, masks, with_log_z: bool = False):
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        add_empty = self._empty is None  # score the all-absent prompt in the same forward passes as these masks
        if add_empty:
            masks = np.vstack([masks, np.zeros((1, self.n_features), bool)])
        masks, inverse = np.unique(masks, axis=0, return_inverse=True)  # each distinct mask is scored once
        inverse = torch.as_tensor(np.asarray(inverse).reshape(-1))
        rows = self._rows(masks)
        order = np.argsort([len(new) for _, new in rows], kind="stable")  # similar widths together
        out = torch.empty(len(masks), len(self.clf.label_token_ids))
        log_z = torch.empty(len(masks))
        for idx in self._batches([len(rows[i][1]) for i in order], order):
            lg, z = self._forward_rows([rows[i] for i in idx])
            out[torch.as_tensor(idx)] = lg.cpu()
            log_z[torch.as_tensor(idx)] = z.cpu()
        self.n_evaluations += len(masks)
        out, log_z = out[inverse], log_z[inverse]
        if add_empty:
            self._empty = (out[-1:], log_z[-1:])
            out, log_z = out[:-1], log_z[:-1]
        return (out, log_z) if with_log_z else out

    def _batches(self, lengths, order):
        """Split rows (sorted by the tokens they compute) into batches of at most batch_size rows.

        On a CPU a padding token costs as much as a real one, while a smaller batch costs little, so a batch is
        also closed before padding would exceed `pad_slack` of its real tokens; GPUs take full batches.
        """
        slack = self.pad_slack if self.pad_slack is not None else (0.5 if self.clf.device.type == "cpu" else None)
        batches, current, real = [], [], 0
        for length, i in zip(lengths, order):
            too_padded = slack is not None and current and length * (len(current) + 1) > (1 + slack) * (real + length)
            if current and (len(current) == self.batch_size or too_padded):
                batches.append(current)
                current, real = [], 0
            current.append(i)
            real += length
        if current:
            batches.append(current)
        return batches

    def __call__(self, masks, target: str | None = None) -> np.ndarray:
        """The explained quantity for each mask row (shape (m, n_features), 1 = present)."""
        t = self.target_index if target is None else self.clf.label_index(target)
        if self.quantity == "log_prob":
            logits, log_z = self._label_logits(masks, with_log_z=True)
            return self.clf.score(logits, t, "log_prob", log_z).cpu().numpy()
        return self.clf.score(self._label_logits(masks), t, self.quantity).cpu().numpy()

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
