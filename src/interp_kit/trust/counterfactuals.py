"""Counterfactual explanations: the smallest change to a tweet that changes the model's label.

"The smallest change to the world that can be made to obtain a desirable outcome" (Wachter, Mittelstadt & Russell
2018, "Counterfactual explanations without opening the black box"). Here the change is deleting words, and the
counterfactual is the smallest set of deleted words that flips the predicted label. It is found three ways:

* **exhaustive**: every set of 1 word, then of 2 words, ... until one flips: the true minimum (tweets of up to 12
  words: 2^12 = 4096 masked tweets at most);
* **guided by an attribution method**: delete the words in the order the method ranks them (highest score toward
  the predicted label first) until the label flips — the deletion curve of faithfulness metrics (Samek et al.
  2017; DeYoung et al. 2020), read at the point where it crosses the decision boundary;
* **random order**: the same with a random order, the baseline every method must beat.

A faithful method finds a flip more often and with fewer deletions. The flip is decided by the label margin
(logit of the original label minus the largest other label's, `label_margin`): the label has flipped once it is
negative. Every counterfactual found on masks is then *verified*: the edited tweet is scored afresh as a tweet.

Word *substitutions* proposed by the model itself (its next-token distribution at the word's position, or the
answer to an instruction on instruct models) give a counterfactual a reader can believe; proposals are filtered
for fluency by the model's own likelihood of the edited tweet (as MiCE, Ross et al. 2021, and Polyjuice, Wu et al.
2021, filter theirs).
"""
from __future__ import annotations

import html
import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..attribution import MaskScorer, explain
from ..engine import token_words
from ..evaluation.faithfulness import feature_order
from ._common import check_words, label_margin, mask_label_logits

__all__ = ["NoCounterfactualError", "Counterfactual", "find_counterfactual", "counterfactual_table",
           "counterfactual_report", "Substitution", "propose_substitutions", "substitution_counterfactual",
           "COUNTERFACTUAL_SEARCHES", "MAX_EXHAUSTIVE_WORDS"]

#: Searches that are not attribution methods; any name from `list_methods()` is a guided search.
COUNTERFACTUAL_SEARCHES = ("exhaustive", "random")
#: Exhaustive search scores up to 2^n masked tweets: n is capped here.
MAX_EXHAUSTIVE_WORDS = 12


class NoCounterfactualError(ValueError):
    """No allowed deletion set flips the label (the message says how close the search came)."""


@dataclass
class Counterfactual:
    """The words to delete from a tweet to change the model's label, and what the model says then.

    Attributes:
        deleted: indices of the deleted words (in `words`); empty when no flip was found.
        label, new_label: the model's label for the tweet and for the edited tweet.
        margin_before, margin_after: logit(label) − the largest other logit, before and after the deletions
            (< 0 after means the label flipped).
        rescored_margin: margin_after measured afresh on `edited_text` as a tweet (`classifier.label_logits`);
            `verified` says the two agree on whether the label flipped.
        n_evaluations: masked tweets scored, plus the attribution's own evaluations for a guided search.
        sequential_evaluations: what a search that scores one candidate at a time would need to stop here.
    """

    text: str
    words: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    deleted: tuple[int, ...]
    search: str
    label: str
    new_label: str
    margin_before: float
    margin_after: float
    flipped: bool
    n_evaluations: int
    sequential_evaluations: int
    seconds: float
    rescored_margin: float = float("nan")
    verified: bool = False
    extras: dict = field(default_factory=dict)

    @property
    def edit_size(self) -> int:
        """The number of deleted words."""
        return len(self.deleted)

    @property
    def edited_text(self) -> str:
        """The tweet without the deleted words (words joined by single spaces, as the model sees them)."""
        gone = set(self.deleted)
        return " ".join(w for i, w in enumerate(self.words) if i not in gone)

    def to_html(self) -> str:
        """The tweet before (deleted words struck through) and after, with label and margin."""
        gone = set(self.deleted)
        before = " ".join(f"<del style='color:#b00020'>{html.escape(w)}</del>" if i in gone else html.escape(w)
                          for i, w in enumerate(self.words))
        status = (f"flips <b>{self.label}</b> → <b>{self.new_label}</b> by deleting {self.edit_size} word(s)"
                  if self.flipped else f"no flip found ({self.label} kept)")
        return (f"<div style='font-family:sans-serif;margin:4px 0'><small>{html.escape(self.search)}: {status}; "
                f"{self.n_evaluations} evaluations</small><br>"
                f"before: {before} &nbsp;<small>[{self.label}, margin {self.margin_before:+.2f}]</small><br>"
                f"after: {html.escape(self.edited_text) or '<i>(empty)</i>'} &nbsp;<small>[{self.new_label}, margin "
                f"{self.margin_after:+.2f}; rescored {self.rescored_margin:+.2f}]</small></div>")

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        words = [self.words[i] for i in self.deleted]
        return (f"Counterfactual({self.search}: delete {words} -> {self.new_label!r} (was {self.label!r}), margin "
                f"{self.margin_before:+.2f} -> {self.margin_after:+.2f}, {self.n_evaluations} evaluations)")


def _deletion_masks(n: int, sets) -> np.ndarray:
    masks = np.ones((len(sets), n), bool)
    for row, gone in zip(masks, sets):
        row[list(gone)] = False
    return masks


def _max_deletions(n: int, max_deletions: int | None) -> int:
    return n - 1 if max_deletions is None else max(0, min(int(max_deletions), n - 1))


def find_counterfactual(classifier, text: str, search: str = "exhaustive", max_deletions: int | None = None,
                        budget: int | None = None, seed: int = 0, attribution=None, must_flip: bool = True,
                        max_words: int = MAX_EXHAUSTIVE_WORDS, **explain_options) -> Counterfactual:
    """The smallest set of word deletions (that the search finds) that changes the classifier's label.

    Args:
        classifier: a zero-shot or fine-tuned classifier.
        text: the tweet (at least two words: at least one word always stays).
        search: "exhaustive" (the true minimum: every set of k words for k = 1, 2, ...), "random" (delete in a
            random order) or an attribution method (`list_methods()`): delete in the order of its scores toward the
            predicted label.
        max_deletions: the largest edit allowed (default: all words but one).
        budget, seed, **explain_options: for the attribution method (and the random order's seed).
        attribution: an `Explanation` of this tweet to guide the search, instead of computing one.
        must_flip: raise `NoCounterfactualError` when nothing flips (False returns a result with flipped=False).
        max_words: the longest tweet exhaustive search accepts.
    """
    from ..attribution import get_method

    words = check_words(classifier, text, 2, "a counterfactual by deletion")
    if search not in COUNTERFACTUAL_SEARCHES:
        get_method(search)  # an unknown name lists the methods here, before any model work
    n = len(words)
    if search == "exhaustive" and n > max_words:
        raise ValueError(f"Exhaustive search over {n} words would score up to 2^{n} = {2 ** n} masked tweets "
                         f"(limit: {max_words} words). Use an attribution-guided search (search='shap') or raise "
                         "max_words.")
    start = time.perf_counter()
    scorer = MaskScorer(classifier, text)
    full = mask_label_logits(scorer, np.ones((1, n), bool))[0]
    label_index = int(np.argmax(full))
    label = classifier.label_names[label_index]
    margin_before = float(label_margin(full, label_index)[0])
    limit = _max_deletions(n, max_deletions)
    extra_evals, sequential, extras = 0, 0, {}
    best_set, best_logits = (), full

    if search == "exhaustive":
        for k in range(1, limit + 1):
            sets = list(itertools.combinations(range(n), k))
            logits = mask_label_logits(scorer, _deletion_masks(n, sets))
            margins = label_margin(logits, label_index)
            sequential += len(sets)
            best = int(np.argmin(margins))
            if margins[best] < 0:
                best_set, best_logits = sets[best], logits[best]
                extras["minimal_sets"] = [list(s) for s, m in zip(sets, margins) if m < 0]
                break
            if k == limit:
                best_set, best_logits = sets[best], logits[best]  # closest approach, for the message
    else:
        if search == "random":
            order = np.random.default_rng(seed).permutation(n)
        else:
            if attribution is None:
                attribution = explain(classifier, text, method=search, target=label, budget=budget, seed=seed,
                                      **explain_options)
            elif attribution.target != label or len(attribution.features) != n:
                raise ValueError(f"The attribution explains {attribution.target!r} over {len(attribution.features)} "
                                 f"features; the search needs one of the predicted label {label!r} over the tweet's "
                                 f"{n} words.")
            order = feature_order(attribution.scores)  # highest score toward the label first
            extra_evals = int(attribution.n_evaluations)
            extras["attribution_seconds"] = attribution.seconds
        extras["order"] = [int(i) for i in order]
        sets = [tuple(int(i) for i in order[:k]) for k in range(1, limit + 1)]
        if sets:
            logits = mask_label_logits(scorer, _deletion_masks(n, sets))  # every prefix in one batched call
            margins = label_margin(logits, label_index)
            flips = np.flatnonzero(margins < 0)
            pick = int(flips[0]) if len(flips) else int(np.argmin(margins))
            best_set, best_logits = sets[pick], logits[pick]
            sequential = pick + 1 if len(flips) else len(sets)
    margin_after = float(label_margin(best_logits, label_index)[0])
    flipped = margin_after < 0
    result = Counterfactual(
        text=text, words=tuple(words), spans=tuple(scorer.spans), deleted=tuple(sorted(best_set)) if flipped else (),
        search=search, label=label, new_label=classifier.label_names[int(np.argmax(best_logits))] if flipped else label,
        margin_before=margin_before, margin_after=margin_after if flipped else margin_before, flipped=flipped,
        n_evaluations=scorer.n_evaluations + extra_evals, sequential_evaluations=sequential + extra_evals,
        seconds=time.perf_counter() - start, extras=extras)
    if not flipped:
        result.extras["closest_margin"] = margin_after
        result.extras["closest_deletion"] = list(best_set)
        if must_flip:
            raise NoCounterfactualError(
                f"No deletion of up to {limit} of the {n} words flips {label!r} with search={search!r}: the "
                f"smallest margin reached is {margin_after:+.2f} (it must fall below 0). Allow more deletions "
                "(max_deletions), try search='exhaustive', or pass must_flip=False to get the closest attempt.")
        result.verified = True
        result.rescored_margin = margin_before
        return result
    rescored = classifier.label_logits([result.edited_text])[0]
    result.rescored_margin = float(label_margin(rescored, label_index)[0])
    result.verified = (result.rescored_margin < 0) == flipped
    return result


def counterfactual_table(classifier, texts, searches=("exhaustive", "shap", "feature_ablation",
                                                      "integrated_gradients", "random"),
                         max_deletions: int | None = None, budget: int | None = None, budgets: dict | None = None,
                         random_repeats: int = 3, seed: int = 0, max_words: int = MAX_EXHAUSTIVE_WORDS,
                         progress: bool | None = None) -> pd.DataFrame:
    """Counterfactuals of every tweet by every search: one row per (tweet, search) — per repeat for "random".

    Columns: text, n_words, search, label, flipped, edit_size (NaN when nothing flipped), margin_before,
    margin_after, rescored_margin, verified, n_evaluations, sequential_evaluations, seconds, note. Exhaustive
    search skips tweets longer than `max_words` (a note says so).
    """
    texts = list(getattr(texts, "texts", texts))
    budgets = dict(budgets or {})
    rows = []
    jobs = [(t, s, r) for t in texts for s in searches for r in (range(random_repeats) if s == "random" else [0])]
    for text, search, repeat in tqdm(jobs, desc="counterfactuals", unit="search",
                                     disable=not (progress if progress is not None else len(jobs) > 10)):
        row = {"text": text, "n_words": len(classifier.tokenize_tweet(text).words), "search": search,
               "repeat": repeat}  # the words the search deletes (the kit's word split, not str.split)
        if search == "exhaustive" and row["n_words"] > max_words:
            rows.append({**row, "flipped": np.nan, "edit_size": np.nan,
                         "note": f"skipped: more than {max_words} words"})
            continue
        cf = find_counterfactual(classifier, text, search=search, max_deletions=max_deletions,
                                 budget=budgets.get(search, budget), seed=seed + repeat, must_flip=False,
                                 max_words=max_words)
        rows.append({**row, "label": cf.label, "flipped": cf.flipped,
                     "edit_size": cf.edit_size if cf.flipped else np.nan, "margin_before": cf.margin_before,
                     "margin_after": cf.margin_after if cf.flipped else cf.extras.get("closest_margin"),
                     "rescored_margin": cf.rescored_margin, "verified": cf.verified,
                     "n_evaluations": cf.n_evaluations, "sequential_evaluations": cf.sequential_evaluations,
                     "seconds": cf.seconds, "deleted": " ".join(cf.words[i] for i in cf.deleted), "note": ""})
    return pd.DataFrame(rows)


def counterfactual_report(table: pd.DataFrame) -> pd.DataFrame:
    """Per search: flip rate ↑, mean edit size ↓ (over flips), how often it found the exhaustive minimum ↑, the
    mean words above that minimum ↓ (tweets where both flipped) and its cost (evaluations, seconds).

    Flip rates compare searches on the tweets where exhaustive search ran (and on all tweets without it).
    """
    t = table[table["note"].fillna("") == ""].copy() if "note" in table else table.copy()
    t["flipped"] = t["flipped"].astype(float)
    best = t[t.search == "exhaustive"].set_index("text")["edit_size"] if (t.search == "exhaustive").any() else None
    rows = []
    for search, part in t.groupby("search", sort=False):
        row = {"search": search, "flip rate ↑": part.flipped.mean(), "edit size ↓": part.edit_size.mean(),
               "n_tweets": part.text.nunique()}
        if best is not None:
            ref = part.text.map(best)
            both = part.flipped.astype(bool) & ref.notna()
            row["minimal ↑"] = float((part.edit_size[both] == ref[both]).mean()) if both.any() else np.nan
            row["excess words ↓"] = float((part.edit_size[both] - ref[both]).mean()) if both.any() else np.nan
        row["evaluations"] = part.n_evaluations.mean()
        row["sequential evaluations"] = part.sequential_evaluations.mean()
        row["seconds"] = part.seconds.mean()
        row["verified"] = part.verified.mean()
        rows.append(row)
    order = {"exhaustive": 0, "random": 2}
    return pd.DataFrame(rows).sort_values("search", key=lambda s: s.map(lambda x: order.get(x, 1)),
                        kind="stable").set_index("search")


# ---- substitutions proposed by the model -----------------------------------------------------------------------
@dataclass
class Substitution:
    """One word replaced by a word the model proposed, with its fluency and the classifier's verdict."""

    text: str
    position: int
    original: str
    replacement: str
    edited_text: str
    proposal_logprob: float  # log-probability of the replacement token where the model proposed it
    fluency: float  # mean log-probability per token of the edited tweet (its own context: the prompt before it)
    fluency_drop: float  # the original tweet's fluency minus this one's (small = as natural as the original)
    fluent: bool
    label: str  # the original tweet's label
    new_label: str
    margin_before: float
    margin_after: float

    @property
    def flipped(self) -> bool:
        return self.margin_after < 0

    def to_html(self) -> str:
        words = self.text.split()
        before = " ".join(f"<b style='color:#b00020'>{html.escape(w)}</b>" if i == self.position else html.escape(w)
                          for i, w in enumerate(words))
        after = " ".join(f"<b style='color:#1a7f37'>{html.escape(self.replacement)}</b>" if i == self.position
                         else html.escape(w) for i, w in enumerate(words))
        return (f"<div style='font-family:sans-serif;margin:4px 0'>before: {before} &nbsp;<small>[{self.label}, "
                f"margin {self.margin_before:+.2f}]</small><br>after: {after} &nbsp;<small>[{self.new_label}, margin "
                f"{self.margin_after:+.2f}; fluency drop {self.fluency_drop:+.2f} nats/token]</small></div>")

    def _repr_html_(self) -> str:
        return self.to_html()


def _word_token_start(classifier, text: str, position: int) -> tuple[list[int], int]:
    """The tweet's token ids and the index of the first token of word `position` (a leading space token counts
    with the word after it, as in deletions)."""
    tweet = classifier.tokenize_tweet(text)
    owner = token_words(classifier.tokenizer, tweet)
    hits = np.flatnonzero(owner == position)
    if not len(hits):
        raise ValueError(f"Word {position} of the tweet has no tokens (was the tweet truncated?).")
    return list(tweet.token_ids), int(hits[0])


@torch.inference_mode()
def _next_token_logprobs(classifier, ids: list[int]) -> torch.Tensor:
    """The model's next-token log-probabilities after `ids` (its language-model head, the classifier's adapter)."""
    with classifier.model_context():
        logits = classifier.model(input_ids=torch.tensor([ids], device=classifier.device), use_cache=False,
                                  logits_to_keep=1).logits[0, -1].float()
    return torch.log_softmax(logits, -1).cpu()


@torch.inference_mode()
def _fluency(classifier, texts: list[str]) -> np.ndarray:
    """Mean log-probability per token of each tweet after the prompt's prefix, under the model's own LM head."""
    prefix = list(classifier.prefix_ids)
    seqs = [prefix + list(classifier.tokenize_tweet(t).token_ids) for t in texts]
    width = max(len(s) for s in seqs)
    pad = classifier.layout.pad_token_id
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, s in enumerate(seqs):
        ids[i, :len(s)], mask[i, :len(s)] = torch.tensor(s), 1
    dev = classifier.device
    with classifier.model_context():
        logits = classifier.model(input_ids=ids.to(dev), attention_mask=mask.to(dev), use_cache=False).logits
    logp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, ids[:, 1:].to(dev).unsqueeze(-1))[..., 0].cpu()
    out = []
    for i, s in enumerate(seqs):
        out.append(float(logp[i, len(prefix) - 1:len(s) - 1].mean()))
    return np.array(out)


def _is_word_token(piece: str, min_letters: int) -> bool:
    return piece.startswith(" ") and piece[1:].isalpha() and len(piece) - 1 >= min_letters


def propose_substitutions(classifier, text: str, position: int, k: int = 10, source: str = "next_token",
                          target: str | None = None, max_fluency_drop: float = 1.0, min_letters: int = 2,
                          search_top: int = 500) -> list[Substitution]:
    """Words the model itself proposes for word `position` of the tweet, each scored for fluency and label.

    Args:
        source: "next_token" (the model's next-token distribution at the word's position, in the tweet as it sits
            in the classifier's prompt) or "instruct" (instruct models: the first token of its answer to "give one
            word to use instead of <word> that makes the tweet <target>"; the tweet and the word are spliced in
            as token ids, never as prompt text).
        k: proposals kept (single-token whole words other than the original, most probable first).
        target: the label the "instruct" prompt asks for (default: the most likely other label).
        max_fluency_drop: a proposal is fluent when the edited tweet's mean log-probability per token is at most
            this much below the original's (nats per token).
        search_top: how many of the most probable tokens are screened for whole words.
    Returns the proposals, most probable first (`Substitution.fluent` marks those that pass the filter).
    """
    words = check_words(classifier, text, 1, "a substitution")
    if not 0 <= position < len(words):
        raise ValueError(f"position {position} is outside the tweet's {len(words)} words (0 to {len(words) - 1}).")
    if source not in ("next_token", "instruct"):
        raise ValueError(f"Unknown source '{source}'; use 'next_token' or 'instruct'.")
    before = classifier.label_logits([text])[0]
    label_index = int(np.argmax(before))
    tweet_ids, first = _word_token_start(classifier, text, position)
    if source == "next_token":
        logprobs = _next_token_logprobs(classifier, list(classifier.prefix_ids) + tweet_ids[:first])
    else:
        from .self_explain import chat_prompt_ids

        foil = target or classifier.label_names[int(np.argsort(-before)[1])]
        classifier.label_index(foil)
        word_ids = [t for t, w in zip(tweet_ids, token_words(classifier.tokenizer, classifier.tokenize_tweet(text)))
                    if w == position]
        ids = chat_prompt_ids(classifier, [{"role": "user", "content":
                                            "Tweet:{tweet}\nGive one word to use instead of{word} that makes the "
                                            f"tweet {foil}. Answer with the word only."}],
                              {"tweet": tweet_ids, "word": word_ids}, prefill="Word:")
        logprobs = _next_token_logprobs(classifier, ids)
    original = words[position].lower().strip(".,!?;:'\"`")
    proposals = []
    for tid in torch.argsort(logprobs, descending=True)[:search_top].tolist():
        piece = classifier.tokenizer.decode([tid])
        if _is_word_token(piece, min_letters) and piece[1:].lower() != original:
            proposals.append((piece[1:], float(logprobs[tid])))
        if len(proposals) == k:
            break
    if not proposals:
        return []
    edited = [" ".join(words[:position] + (w,) + words[position + 1:]) for w, _ in proposals]
    fluency = _fluency(classifier, [" ".join(words)] + edited)
    after = classifier.label_logits(edited)
    margins = label_margin(after, label_index)
    margin_before = float(label_margin(before, label_index)[0])
    label = classifier.label_names[label_index]
    return [Substitution(text=text, position=position, original=words[position], replacement=w, edited_text=e,
                         proposal_logprob=lp, fluency=float(f), fluency_drop=float(fluency[0] - f),
                         fluent=bool(fluency[0] - f <= max_fluency_drop), label=label,
                         new_label=classifier.label_names[int(np.argmax(a))], margin_before=margin_before,
                         margin_after=float(m))
            for (w, lp), e, f, a, m in zip(proposals, edited, fluency[1:], after, margins)]


def substitution_counterfactual(classifier, text: str, method: str = "shap", top_words: int = 3, k: int = 10,
                                source: str = "next_token", budget: int | None = None, seed: int = 0,
                                max_fluency_drop: float = 1.0) -> tuple[Substitution | None, pd.DataFrame]:
    """Replace one of the words an attribution method ranks highest with a fluent word the model proposes.

    Tries the `top_words` words with the highest score toward the predicted label, `k` proposals each, and returns
    (the fluent substitution with the lowest margin — a counterfactual when that margin is below 0 — or None when
    no proposal is fluent, a table of every proposal).
    """
    words = check_words(classifier, text, 1, "a substitution")
    attribution = explain(classifier, text, method=method, budget=budget, seed=seed)
    positions = [int(i) for i in feature_order(attribution.scores)[:min(top_words, len(words))]]
    subs = [s for p in positions for s in propose_substitutions(classifier, text, p, k=k, source=source,
                                                                max_fluency_drop=max_fluency_drop)]
    table = pd.DataFrame([{"position": s.position, "word": s.original, "replacement": s.replacement,
                           "proposal log p": s.proposal_logprob, "fluency drop": s.fluency_drop, "fluent": s.fluent,
                           "label": s.new_label, "margin": s.margin_after, "flips": s.flipped} for s in subs])
    fluent = [s for s in subs if s.fluent]
    best = min(fluent, key=lambda s: s.margin_after) if fluent else None
    return best, table
