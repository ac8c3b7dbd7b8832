"""What every attribution method shares: the tweet's features, a batched scorer of masks, the result.

`TweetFeatures` is the tweet's feature view (words or tokens, their spans, what a mask leaves of the tweet); the
scoring engine (`interp_kit.engine`) runs the model; `MaskScorer` joins the two for one tweet, one target and one
explained quantity; `Explanation` is what a method returns.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..engine import QUANTITIES, TweetTokens, label_quantity, token_words

__all__ = ["Explanation", "Attribution", "TweetFeatures", "MaskScorer", "by_method"]


@dataclass
class Explanation:
    """An explanation: scores for the features (words or tokens) of one tweet, explaining one label's score.

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
        return (f"Explanation({self.method}, target={self.target!r}, pred={self.prediction!r}, "
                f"{len(self.features)} {self.granularity}s, top: {top}, {self.n_evaluations} evals, {self.seconds:.2f}s)")


#: The name of earlier releases (captum calls its method base class `Attribution`); kept for one release.
Attribution = Explanation


def by_method(explanations) -> list[Explanation]:
    """A flat list of explanations from one, a list, or {method name: list}; the dict's names become the methods."""
    from dataclasses import replace

    if isinstance(explanations, Explanation):
        return [explanations]
    if isinstance(explanations, dict) or hasattr(explanations, "items"):
        return [a if a.method == name else replace(a, method=name) for name, attrs in explanations.items()
                for a in attrs]
    return list(explanations)


@dataclass(frozen=True)
class TweetFeatures:
    """The features of one tweet and what a 0/1 mask over them leaves of its tokens.

    Args:
        tweet: the tweet's words and tokens (`classifier.tokenize_tweet`).
        granularity: "word" (a word's tokens together; a whitespace-only token belongs to the word after it) or
            "token".
        absent: a missing feature's tokens are deleted ("delete") or replaced by `baseline_token_id` ("baseline",
            which keeps positions fixed).
    """

    tweet: TweetTokens
    features: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    token_feature: np.ndarray  # the feature each token belongs to
    granularity: str
    absent: str
    baseline_token_id: int

    @classmethod
    def of(cls, tokenizer, tweet: TweetTokens, granularity: str = "word", absent: str = "delete",
           baseline_token_id: int | None = None) -> "TweetFeatures":
        if granularity not in ("word", "token"):
            raise ValueError("granularity must be 'word' or 'token'.")
        if absent not in ("delete", "baseline"):
            raise ValueError("absent must be 'delete' or 'baseline'.")
        baseline = baseline_token_id if baseline_token_id is not None else tokenizer.pad_token_id
        if granularity == "word":
            return cls(tweet, tweet.words, tweet.word_spans, token_words(tokenizer, tweet), granularity, absent,
                       int(baseline))
        return cls(tweet, tuple(tokenizer.decode([t]) for t in tweet.token_ids), tweet.token_spans,
                   np.arange(len(tweet.token_ids)), granularity, absent, int(baseline))

    @property
    def n_features(self) -> int:
        return len(self.features)

    def tweet_ids(self, mask_row) -> list[int]:
        """The tweet's tokens with the features where mask_row is 0 deleted or replaced by the baseline token."""
        keep = np.asarray(mask_row, bool)[self.token_feature]
        ids = np.asarray(self.tweet.token_ids)
        return ids[keep].tolist() if self.absent == "delete" else np.where(keep, ids, self.baseline_token_id).tolist()

    def rows(self, masks, suffix_ids) -> list[tuple[int, list[int]]]:
        """(tweet tokens shared with the whole tweet, tokens to compute) per mask: what the engine scores."""
        keep_tokens = np.asarray(masks, bool)[:, self.token_feature]
        rows = []
        for m, kt in zip(masks, keep_tokens):
            cont = self.tweet_ids(m) + list(suffix_ids)
            first_absent = int(np.argmin(kt)) if not kt.all() else len(kt)
            shared = min(first_absent, len(cont) - 1)  # at least one token to compute (the score is read there)
            rows.append((shared, cont[shared:]))
        return rows


class MaskScorer:
    """Score one tweet with some of its features absent: masks in, the explained quantity out, batched.

    The scoring runs on the classifier's engine (`ScoringEngine.masked`: masked prompts share the full prompt's
    keys/values up to their first change, packed into one sequence on CPU, padded batches on GPU). Every mask is
    de-duplicated, and the prompts with every feature present and absent ride along with the first masks scored.

    Args:
        classifier: the zero-shot or fine-tuned classifier whose score is explained.
        text: the tweet. Only its words are features: instruction, template and answer cue stay fixed.
        target: label name to explain (default: the predicted label).
        quantity: one of QUANTITIES (default log-odds of the target under the label-restricted softmax).
        granularity, absent, baseline_token_id: the feature view (`TweetFeatures`).
        batch_size, pack_tokens: batching of masked prompts (`MaskedPrompts`).
    """

    def __init__(self, classifier, text: str, target: str | None = None, quantity: str = "log_odds",
                 granularity: str = "word", absent: str = "delete", baseline_token_id: int | None = None,
                 batch_size: int = 64, pack_tokens: int | None = None):
        if quantity not in QUANTITIES:
            raise ValueError(f"Unknown quantity '{quantity}'; choose from {QUANTITIES}.")
        if target is not None:
            classifier.label_index(target)  # an unknown label fails here, before any model work
        self.clf, self.quantity = classifier, quantity
        self.view = TweetFeatures.of(classifier.tokenizer, classifier.tokenize_tweet(text), granularity, absent,
                                     baseline_token_id)
        self.prompts = classifier.engine.masked(self.view.tweet.token_ids, batch_size=batch_size,
                                                pack_tokens=pack_tokens)
        self.n_evaluations = 0
        self._target = target
        self._full = self._empty = None  # (label logits, log Z) with every feature present / absent

    # ---- the feature view ------------------------------------------------------------------------------------
    tweet = property(lambda self: self.view.tweet)
    features = property(lambda self: self.view.features)
    spans = property(lambda self: self.view.spans)
    token_feature = property(lambda self: self.view.token_feature)
    granularity = property(lambda self: self.view.granularity)
    absent = property(lambda self: self.view.absent)
    baseline_token_id = property(lambda self: self.view.baseline_token_id)
    n_features = property(lambda self: self.view.n_features)

    def continuation(self, mask_row) -> list[int]:
        """Tweet tokens (+ suffix) with the features where mask_row is 0 deleted or replaced."""
        return self.view.tweet_ids(mask_row) + list(self.clf.suffix_ids)

    # ---- the prompt with every feature present / absent -------------------------------------------------------
    def _ends(self):
        """(full, empty) label logits and log Z; scored with the first masks, or on their own when asked first."""
        if self._full is None or self._empty is None:
            ones, zeros = np.ones(self.n_features, bool), np.zeros(self.n_features, bool)
            logits, log_z = self.clf.engine.label_logits([self.view.tweet_ids(ones), self.view.tweet_ids(zeros)],
                                                         with_log_z=True)
            self.n_evaluations += 2
            self._full, self._empty = (logits[:1], log_z[:1]), (logits[1:], log_z[1:])
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
        return float(label_quantity(logits, self.target_index, self.quantity, log_z)[0])

    @property
    def value_empty(self) -> float:
        """The explained quantity with every feature absent."""
        logits, log_z = self._ends()[1]
        return float(label_quantity(logits, self.target_index, self.quantity, log_z)[0])

    # ---- masks -----------------------------------------------------------------------------------------------
    def _label_logits(self, masks, with_log_z: bool = False):
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        n_asked = len(masks)
        # the prompts with every feature present and absent ride along with the first masks asked for
        ends = [np.ones((1, self.n_features), bool)] if self._full is None else []
        ends += [np.zeros((1, self.n_features), bool)] if self._empty is None else []
        masks = np.vstack([masks] + ends)
        masks, inverse = np.unique(masks, axis=0, return_inverse=True)  # each distinct mask is scored once
        inverse = torch.as_tensor(np.asarray(inverse).reshape(-1))
        out, log_z = self.prompts.label_logits(self.view.rows(masks, self.clf.suffix_ids))
        self.n_evaluations += len(masks)
        out, log_z = out[inverse], log_z[inverse]
        if self._full is None:
            self._full = (out[n_asked:n_asked + 1], log_z[n_asked:n_asked + 1])
        if self._empty is None:
            self._empty = (out[-1:], log_z[-1:])
        out, log_z = out[:n_asked], log_z[:n_asked]
        # rows with every feature present or absent take the scorer's own values, so curves end exactly there
        asked = masks[np.asarray(inverse[:n_asked])]
        for rows, (lg, z) in ((asked.all(1), self._full), (~asked.any(1), self._empty)):
            if rows.any():
                out[torch.as_tensor(rows)], log_z[torch.as_tensor(rows)] = lg[0], z[0]
        return (out, log_z) if with_log_z else out

    def __call__(self, masks, target: str | None = None) -> np.ndarray:
        """The explained quantity for each mask row (shape (m, n_features), 1 = present); rows may repeat."""
        masks = np.atleast_2d(np.asarray(masks, dtype=bool))
        if masks.shape[0] == 0:
            return np.zeros(0)
        logits, log_z = self._label_logits(masks, with_log_z=True)
        t = self.target_index if target is None else self.clf.label_index(target)
        return label_quantity(logits, t, self.quantity, log_z).cpu().double().numpy()

    def torch_forward(self, masks: torch.Tensor) -> torch.Tensor:
        """A batched forward function for captum: float masks (batch, n_features) -> scores (batch,)."""
        return torch.as_tensor(self(masks.detach().cpu().numpy() > 0.5), dtype=torch.float64)

    def embedding_forward(self):
        """The differentiable f(tweet token embeddings) of this tweet, target and quantity (gradient methods)."""
        return self.clf.engine.embedding_forward(self.tweet.token_ids, self.target_index, self.quantity,
                                                 self.baseline_token_id)

    def to_features(self, token_scores) -> np.ndarray:
        """Token scores -> feature scores (a word's score is the sum of its tokens')."""
        out = np.zeros(self.n_features)
        np.add.at(out, self.token_feature, np.asarray(token_scores, float))
        return out

    def result(self, scores, method: str, seconds: float, extras: dict | None = None) -> Explanation:
        """Package scores from any method as an Explanation of this tweet."""
        return Explanation(text=self.tweet.text, features=tuple(self.features), spans=tuple(self.spans),
                           scores=np.asarray(scores, dtype=float).reshape(-1), target=self.target,
                           quantity=self.quantity, value_full=self.value_full, value_empty=self.value_empty,
                           prediction=self.prediction,
                           probabilities={n: float(p) for n, p in zip(self.clf.label_names, self.probabilities)},
                           method=method, granularity=self.granularity, n_evaluations=self.n_evaluations,
                           seconds=seconds, model=self.clf.base_model_id + (" + LoRA" if self.clf.use_adapter else ""),
                           extras=extras or {})
