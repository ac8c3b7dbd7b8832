"""Attention from the answer position to the tweet: raw weights per layer and head, attention rollout, and both as
explanation methods that every metric of the kit applies to.

The label is read at the prompt's last position (the answer position), so the attention *that* position pays to
the tweet's tokens is the attention-based explanation of the label. Token weights are summed over each word's
tokens, exactly as attribution scores are (`MaskScorer.to_features`), so the same faithfulness, plausibility and
agreement code runs on them. Attention weights are non-negative and do not depend on which label is explained:
compare their rankings with |attribution| (how much a word matters) rather than the signed score (which way).

* Raw attention (Bahdanau et al. 2015): the softmax weights of one layer and head, or their mean.
* Attention rollout (Abnar & Zuidema 2020, Quantifying attention flow in transformers): the residual connection
  is added as an identity, Â_l = ½ mean_heads(A_l) + ½ I (rows renormalised), and the layers are multiplied,
  R = Â_L ⋯ Â_1; the answer row of R says how much of each input token reaches the answer through all layers.
* "Attention is not explanation" (Jain & Wallace 2019): attention rankings often disagree with leave-one-out and
  gradient importance; `attention_agreement` measures Kendall τ against any attribution method.

Attention weights need eager attention (fused kernels never materialise them): `HookPoints.run(attentions=True)`
switches it for the one forward pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..attribution.registry import AttributionMethod, register_method
from ._common import InternalsError, check_head, check_layer, mean_ci

__all__ = ["AnswerAttention", "answer_attention", "rollout", "AttentionMethod", "AttentionRolloutMethod",
           "attention_agreement", "summarize_agreement"]


def rollout(attentions: np.ndarray, residual: float = 0.5) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema 2020) of one prompt: R_l = Â_l R_{l-1}, for every layer.

    Args:
        attentions: (layers, heads, width, width) attention weights of one prompt (rows sum to 1).
        residual: weight of the identity standing for the residual connection (the paper's ½).
    Returns:
        (layers, width, width): R_l, the rollout through layers 0 .. l; each row sums to 1.
    """
    a = np.asarray(attentions, float).mean(axis=1)  # heads averaged, as in the paper
    eye = np.eye(a.shape[-1])
    out = np.empty_like(a)
    r = eye
    for layer in range(a.shape[0]):
        step = (1 - residual) * a[layer] + residual * eye
        step /= step.sum(axis=-1, keepdims=True)
        r = step @ r
        out[layer] = r
    return out


@dataclass
class AnswerAttention:
    """The attention the answer position pays to every prompt position, per layer and head, for one tweet.

    Attributes:
        weights: (layers, heads, width) answer-row attention weights over the whole prompt (each row sums to 1).
        rollout: (layers, width) answer row of the attention rollout through layers 0 .. l.
        tokens: the prompt's tokens as text (width of them).
        tweet: slice of the tweet's tokens in the prompt.
        token_word: the word each tweet token belongs to (for word-level sums).
        words: the tweet's words.
    """

    text: str
    weights: np.ndarray
    rollout: np.ndarray
    tokens: tuple[str, ...]
    tweet: slice
    token_word: np.ndarray
    words: tuple[str, ...]

    @property
    def n_layers(self) -> int:
        return self.weights.shape[0]

    @property
    def n_heads(self) -> int:
        return self.weights.shape[1]

    def select(self, layer="last", head="mean") -> np.ndarray:
        """Answer-row weights over the whole prompt (width,) of one layer (or "mean" over layers, "last") and one
        head (or "mean" over heads)."""
        w = self.weights
        if isinstance(layer, str):
            if layer not in ("last", "mean"):
                raise InternalsError(f"layer must be an integer, 'last' or 'mean', got {layer!r}.")
            w = w[-1] if layer == "last" else w.mean(axis=0)
        else:
            w = w[check_layer(layer, self.n_layers)]
        if isinstance(head, str):
            if head != "mean":
                raise InternalsError(f"head must be an integer or 'mean', got {head!r}.")
            return w.mean(axis=0)
        return w[check_head(head, self.n_heads)]

    def tweet_tokens(self, layer="last", head="mean") -> np.ndarray:
        """Weights on the tweet's tokens (n_tweet_tokens,)."""
        return self.select(layer, head)[self.tweet]

    def word_scores(self, layer="last", head="mean", method: str = "attention") -> np.ndarray:
        """Per word: the sum of its tokens' weights (method "attention") or rollout ("attention_rollout")."""
        if method == "attention_rollout":
            row = self.rollout[-1 if layer in ("last", "mean") else check_layer(layer, self.n_layers)][self.tweet]
        else:
            row = self.tweet_tokens(layer, head)
        out = np.zeros(len(self.words))
        np.add.at(out, self.token_word, row)
        return out

    def shares(self, layer="last", head="mean") -> dict[str, float]:
        """Where the answer position's attention goes: the first token (the usual attention sink), the rest of the
        instruction, the tweet, and the answer cue after it. Sums to 1."""
        row = self.select(layer, head)
        return {"first token": float(row[0]), "rest of the instruction": float(row[1:self.tweet.start].sum()),
                "tweet": float(row[self.tweet].sum()), "answer cue": float(row[self.tweet.stop:].sum())}

    def share_table(self) -> pd.DataFrame:
        """`shares` for every layer (heads averaged): the attention sink in numbers."""
        return pd.DataFrame([self.shares(layer, "mean") for layer in range(self.n_layers)],
                            index=pd.RangeIndex(self.n_layers, name="layer"))


def answer_attention(classifier, text: str, token_ids=None) -> AnswerAttention:
    """Attention weights from the answer position of `text`'s prompt, per layer and head, and their rollout.

    One forward pass of the whole prompt with eager attention (hook points, `attentions=True`).

    Args:
        classifier: a label-word classifier (zero-shot or fine-tuned: the engine runs its adapter setting).
        text: the tweet.
        token_ids: the tweet's tokens if already known (default: `classifier.tokenize_tweet(text)`).
    """
    from ..engine import token_words

    tweet = classifier.tokenize_tweet(text)
    ids = list(tweet.token_ids) if token_ids is None else list(token_ids)
    hooks = classifier.engine.hooks()
    trace = hooks.run([ids], attentions=True)
    full = np.stack([a[0].numpy() for a in trace.attentions]).astype(float)  # (layers, heads, width, width)
    part = trace.positions.slices[0]
    prompt = classifier.layout.prompt_ids(ids)
    return AnswerAttention(text=text, weights=full[:, :, -1, :], rollout=rollout(full)[:, -1, :],
                           tokens=tuple(classifier.tokenizer.decode([t]) for t in prompt),
                           tweet=part["tweet"], token_word=token_words(classifier.tokenizer, tweet),
                           words=tuple(tweet.words))


class _AttentionBase(AttributionMethod):
    family, absent_options = "internals", ("delete", "baseline")

    def cost(self, n_features, budget):
        return 1

    def _attention(self, scorer) -> AnswerAttention:
        att = answer_attention(scorer.clf, scorer.tweet.text, token_ids=scorer.tweet.token_ids)
        scorer.n_evaluations += 1
        return att


@register_method
class AttentionMethod(_AttentionBase):
    """The answer position's attention to each word (one layer, or the mean over layers; one head or the mean)."""

    name = "attention"
    description = ("Attention weights from the answer position to the tweet's tokens (last layer, heads averaged; "
                   "options layer=, head=), summed per word. Unsigned, the same for every target")
    citation = ("Bahdanau, Cho & Bengio 2015, Neural machine translation by jointly learning to align and translate; "
                "Jain & Wallace 2019, Attention is not explanation")

    def attribute(self, scorer, budget=None, seed: int = 0, layer="last", head="mean", **options):
        att = self._attention(scorer)
        token_scores = att.tweet_tokens(layer, head)
        return scorer.to_features(token_scores), {
            "layer": layer, "head": head, "unsigned": True, "target_independent": True,
            "sink_share": att.shares(layer, head)["first token"], "tweet_share": float(token_scores.sum())}


@register_method
class AttentionRolloutMethod(_AttentionBase):
    """Attention rollout through every layer, answer position to each word."""

    name = "attention_rollout"
    description = ("Attention rollout (heads averaged, ½ identity for the residual, layers multiplied) from the "
                   "answer position to the tweet's tokens, summed per word. Unsigned, the same for every target")
    citation = "Abnar & Zuidema 2020, Quantifying attention flow in transformers"

    def attribute(self, scorer, budget=None, seed: int = 0, layer="last", **options):
        att = self._attention(scorer)
        index = -1 if layer in ("last", "mean") else check_layer(layer, att.n_layers)
        token_scores = att.rollout[index][att.tweet]
        return scorer.to_features(token_scores), {
            "layer": layer, "unsigned": True, "target_independent": True, "residual": 0.5,
            "sink_share": float(att.rollout[index][0]), "tweet_share": float(token_scores.sum())}


def attention_agreement(explanations_by_method, attention_methods=("attention", "attention_rollout"),
                        references=None) -> pd.DataFrame:
    """Per tweet, Kendall τ between each attention ranking and each reference method's |score| and signed score.

    The "Attention is not explanation" test (Jain & Wallace 2019): if attention explained the prediction, its
    ranking of the words would agree with leave-one-out (`feature_ablation`) and with SHAP. Attention is unsigned,
    so the main comparison is with |score| (how much a word matters, either way); the signed comparison asks
    whether attention ranks the words that push towards the label first.

    Args:
        explanations_by_method: method name -> explanations of the same tweets in the same order (`explain_many`).
        attention_methods: the keys holding attention explanations.
        references: the keys to compare with (default: every other key).
    Returns:
        One row per (tweet, attention method, reference): tau_abs, p_abs, tau_signed, p_signed, n_words.
        Tweets of one word have no ranking and are left out.
    """
    from scipy.stats import kendalltau

    names = list(explanations_by_method)
    missing = [m for m in attention_methods if m not in explanations_by_method]
    if missing:
        raise InternalsError(f"No explanations for {missing}; give explain_many(..., method=name) results for them.")
    refs = [m for m in names if m not in attention_methods] if references is None else list(references)
    lists = {m: list(explanations_by_method[m]) for m in list(attention_methods) + refs}
    n = {m: len(v) for m, v in lists.items()}
    if len(set(n.values())) > 1:
        raise InternalsError(f"Every method needs explanations of the same tweets; counts differ: {n}.")
    rows = []
    for att_name in attention_methods:
        for ref in refs:
            for a, b in zip(lists[att_name], lists[ref]):
                if a.text != b.text or tuple(a.features) != tuple(b.features):
                    raise InternalsError(f"{att_name} and {ref} explain different texts or features "
                                         f"({a.text[:40]!r} vs {b.text[:40]!r}).")
                if len(a.features) < 2:
                    continue
                t_abs, p_abs = kendalltau(a.scores, np.abs(b.scores))
                t_sig, p_sig = kendalltau(a.scores, b.scores)
                rows.append({"text": a.text, "attention": att_name, "reference": ref, "tau_abs": t_abs,
                             "p_abs": p_abs, "tau_signed": t_sig, "p_signed": p_sig, "n_words": len(a.features)})
    return pd.DataFrame(rows)


def summarize_agreement(table: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Mean Kendall τ with a t-interval per (attention, reference), and the share of tweets where τ(|score|) is
    significant at p < 0.05."""
    out = []
    for (att, ref), g in table.groupby(["attention", "reference"], sort=False):
        row = {"attention": att, "reference": ref, "n_tweets": len(g)}
        for col in ("tau_abs", "tau_signed"):
            v = g[col].dropna().to_numpy()
            m, lo, hi = mean_ci(v, confidence) if len(v) else (np.nan, np.nan, np.nan)
            row[f"{col} mean"], row[f"{col} CI"] = float(m), f"[{float(lo):.3f}, {float(hi):.3f}]"
        row["share p<0.05 (abs)"] = float((g["p_abs"] < 0.05).mean())
        out.append(row)
    return pd.DataFrame(out).set_index(["attention", "reference"])
