"""The model's own explanations: ask it which words made it answer, and test the answer.

A model can say why it answered, after the answer (post hoc) or before it (chain of thought, Wei et al. 2022). Its
words can be "plausible but incorrect": natural-language explanations need not reflect the computation (Camburu
et al. 2018, e-SNLI; Jacovi & Goldberg 2020, "Towards faithfully interpretable NLP systems"; Turpin et al. 2023,
"Language models don't always say what they think"; Lanham et al. 2023, "Measuring faithfulness in chain-of-thought
reasoning"). The kit parses the tweet words the model names and scores them like any explanation:

* **faithfulness**: delete the named words and measure the drop of the label margin, against deleting as many
  top-SHAP words and as many random words (the erasure test of DeYoung et al. 2020; Madsen et al. 2024, "Are
  self-explanations from large language models faithful?");
* **plausibility**: token F1 between the named words and the human rationale (Kaggle's `selected_text`);
* **chain of thought**: does reasoning first change the label the classifier's scoring gives?

Prompts are the model's chat template with the tweet spliced in as token ids (`classifier.tokenize_tweet`), never
as text inside the prompt; decoding is greedy, so the same model gives the same explanation every time.
"""
from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..attribution import MaskScorer, explain
from ..engine import control_token_ids
from ..evaluation.faithfulness import feature_order
from ..evaluation.plausibility import token_f1_at_k
from ..evaluation.statistics import collect_reasons
from ._common import label_margin, mask_label_logits

__all__ = ["SELF_EXPLANATION_MODES", "SelfExplanation", "chat_prompt_ids", "generate_ids", "parse_named_words",
           "self_explain", "self_explanation_table", "self_explanation_report"]

SELF_EXPLANATION_MODES = ("post_hoc", "chain_of_thought")
_SLOT = "\x00{}\x00"
#: Words that name the task, not the tweet: an unquoted answer mentioning them has not named a tweet word.
_TASK_WORDS = frozenset({"tweet", "tweets", "word", "words", "sentiment", "answer", "label", "classify", "because",
                         "shows", "show", "made", "make", "makes"})


def chat_prompt_ids(classifier, messages: list[dict], inserts: dict[str, list[int]], prefill: str = "") -> list[int]:
    """Token ids of a chat prompt whose messages hold `{name}` slots filled with token ids, never with text.

    The template (chat markers, instructions, `prefill` opening the assistant's answer) is tokenized around the
    slots; each slot's ids (e.g. `classifier.tokenize_tweet(text).token_ids`) are spliced in as they are, so tweet
    text can never become prompt structure.

    Args:
        messages: chat messages; contents may contain `{tweet}`-style slots named in `inserts`.
        inserts: slot name -> token ids.
        prefill: text that opens the assistant's answer (e.g. "The words are:").
    """
    tok = classifier.tokenizer
    if not getattr(tok, "chat_template", None):
        raise ValueError("Self-explanations need an instruct (chat) model: this tokenizer has no chat template. "
                         "Use the offline model (SmolLM2-135M-Instruct) or an instruct preset such as qwen2.5-0.5b.")
    filled = []
    for m in messages:
        content = m["content"]
        for name in inserts:
            content = content.replace("{" + name + "}", _SLOT.format(name))
        filled.append({**m, "content": content})
    text = tok.apply_chat_template(filled, tokenize=False, add_generation_prompt=True) + prefill
    pieces = re.split("(\x00[^\x00]+\x00)", text)
    ids: list[int] = []
    for piece in pieces:
        if piece.startswith("\x00") and piece.endswith("\x00") and piece[1:-1] in inserts:
            ids += list(inserts[piece[1:-1]])
        elif piece:
            ids += tok(piece, add_special_tokens=False)["input_ids"]
    return ids


@torch.inference_mode()
def generate_ids(classifier, prompt_ids: list[int], max_new_tokens: int = 32) -> list[int]:
    """Greedy continuation of `prompt_ids` by the classifier's model (its adapter setting on), up to the end of turn.

    Greedy decoding makes the explanation reproducible. The ids returned stop before the first control token.
    """
    from transformers import GenerationConfig

    model = classifier.model
    eos = getattr(model.generation_config, "eos_token_id", None) or classifier.tokenizer.eos_token_id
    config = GenerationConfig(max_new_tokens=int(max_new_tokens), do_sample=False, eos_token_id=eos,
                              pad_token_id=classifier.layout.pad_token_id)
    ids = torch.tensor([prompt_ids], device=classifier.device)
    with classifier.model_context():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config)
    new = out[0, ids.shape[1]:].tolist()
    control = control_token_ids(classifier.tokenizer)
    cut = next((i for i, t in enumerate(new) if t in control), len(new))
    return new[:cut]


def _norm(word: str) -> str:
    word = word.lower().replace("`", "'").replace("’", "'").replace("‘", "'")
    return word.strip(".,!?;:\"'()[]{}*#@-_~…“”")


_QUOTED = re.compile(r'"([^"\n]+)"|“([^”\n]+)”|(?<![\w`])\'([^\'\n]+)\'(?!\w)|‘([^’\n]+)’|\*\*([^*\n]+)\*\*')


def parse_named_words(generation: str, words, max_words: int | None = None, exclude=()) -> list[int]:
    """The indices of the tweet's words that a model's explanation names, in the order it names them.

    Quoted words and phrases ("love", 'so happy', “great”, **great**) are taken when there are any; otherwise any
    word of the answer that is a word of the tweet, except stop words (scikit-learn's English list), words about
    the task ("tweet", "sentiment"...) and `exclude` (e.g. the label names). Matching ignores case and surrounding
    punctuation (and reads the Kaggle backtick as an apostrophe); every occurrence of a named word in the tweet
    counts.

    Args:
        generation: the model's answer.
        words: the tweet's words (`classifier.tokenize_tweet(text).words`).
        max_words: keep the first this many distinct words named (None: all).
        exclude: more words an unquoted answer does not name (label names).
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    tweet = [_norm(w) for w in words]
    quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(generation)]
    if quoted:
        candidates = [_norm(w) for phrase in quoted for w in phrase.split()]
    else:
        skip = ENGLISH_STOP_WORDS | _TASK_WORDS | {_norm(w) for w in exclude}
        candidates = [c for c in (_norm(w) for w in generation.split()) if c and c not in skip]
    named: list[str] = []
    for c in candidates:
        if c and c in tweet and c not in named:
            named.append(c)
    if max_words is not None:
        named = named[:max_words]
    order = {w: i for i, w in enumerate(named)}
    return sorted((i for i, w in enumerate(tweet) if w in order), key=lambda i: (order[tweet[i]], i))


@dataclass
class SelfExplanation:
    """The model's own explanation of its label for one tweet.

    Attributes:
        mode: "post_hoc" (asked after its answer) or "chain_of_thought" (asked to name the words before answering).
        prediction: the classifier's label for the tweet (its usual prompt, no explanation asked).
        generation: what the model wrote.
        named: indices of the tweet words it named (`parse_named_words`), in the order named.
        label_after: chain of thought: the classifier's label scored right after the model's reasoning (the answer
            cue appended); post hoc: the prediction it was asked to explain.
        written_label: a label name the model wrote itself after "Sentiment", if any.
    """

    text: str
    words: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    mode: str
    prediction: str
    generation: str
    named: tuple[int, ...]
    label_after: str
    written_label: str | None
    n_new_tokens: int
    seconds: float
    extras: dict = field(default_factory=dict)

    @property
    def named_words(self) -> list[str]:
        return [self.words[i] for i in self.named]

    @property
    def label_changed(self) -> bool:
        """Chain of thought: whether reasoning first changed the label."""
        return self.label_after != self.prediction

    def to_html(self) -> str:
        named = set(self.named)
        tweet = " ".join(f"<mark>{html.escape(w)}</mark>" if i in named else html.escape(w)
                         for i, w in enumerate(self.words))
        change = (f"; label after reasoning: <b>{self.label_after}</b>" + (" (changed)" if self.label_changed else "")
                  if self.mode == "chain_of_thought" else "")
        return (f"<div style='font-family:sans-serif;margin:4px 0'><small>{self.mode.replace('_', ' ')}: predicted "
                f"<b>{self.prediction}</b>{change}</small><br>model: <i>{html.escape(self.generation.strip())}</i><br>"
                f"named: {tweet}</div>")

    def _repr_html_(self) -> str:
        return self.to_html()


def _reasoning_cut(tokenizer, ids: list[int]) -> tuple[list[int], str | None]:
    """Ids of the reasoning before the model writes its own answer ("Sentiment ..."), and the label text it wrote."""
    text = tokenizer.decode(ids)
    m = re.search(r"sentiment", text, flags=re.IGNORECASE)
    if m is None:
        return ids, None
    written = re.match(r"sentiment\W*(\w+)", text[m.start():], flags=re.IGNORECASE)
    cut = max((j for j in range(len(ids) + 1) if len(tokenizer.decode(ids[:j])) <= m.start()), default=0)
    return ids[:cut], written.group(1).lower() if written else None


def self_explain(classifier, text: str, mode: str = "post_hoc", max_new_tokens: int = 24, max_words: int = 3,
                 prediction: str | None = None) -> SelfExplanation:
    """Ask the classifier's model which words of the tweet made it answer, and parse the words it names.

    Post hoc: the conversation holds the classifier's question, the model's answer ("Sentiment: <label>", its own
    prediction) and then "Which words of the tweet made you answer <label>?"; the answer opens with "The words
    are:". Chain of thought: the question asks it to name the words first, then answer; after its reasoning the
    classifier's answer cue is appended and the label is scored from the label-word logits as usual.

    Args:
        mode: "post_hoc" or "chain_of_thought".
        max_new_tokens: the longest explanation generated (greedy).
        max_words: the question asks for up to this many words; the parser keeps the first this many it names.
        prediction: the classifier's label for the tweet, when already known.
    """
    if mode not in SELF_EXPLANATION_MODES:
        raise ValueError(f"Unknown mode '{mode}'; choose from {SELF_EXPLANATION_MODES}.")
    start = time.perf_counter()
    tweet = classifier.tokenize_tweet(text)
    prediction = prediction or classifier.predict([text])[0]
    labels = " or ".join(classifier.label_names)
    question = classifier.template.instruction.replace("{labels}", labels)
    if "{tweet}" not in question:
        raise ValueError("The classifier's instruction has no {tweet} slot.")
    inserts = {"tweet": list(tweet.token_ids)}
    if mode == "post_hoc":
        messages = [{"role": "user", "content": question},
                    {"role": "assistant", "content": f"{classifier.template.chat_answer_cue} {prediction}".strip()},
                    {"role": "user", "content": f"Which words of the tweet made you answer {prediction}? Name up to "
                                                f"{max_words} words from the tweet."}]
        prefill = "The words are:"
    else:
        messages = [{"role": "user", "content": question + "\nFirst name the words of the tweet that show its "
                                                           "sentiment, then answer."}]
        prefill = "Words:"
    prompt = chat_prompt_ids(classifier, messages, inserts, prefill=prefill)
    new = generate_ids(classifier, prompt, max_new_tokens)
    generation = classifier.tokenizer.decode(new)
    written = None
    label_after = prediction
    reasoning_text = generation
    if mode == "chain_of_thought":
        reasoning, written = _reasoning_cut(classifier.tokenizer, new)
        reasoning_text = classifier.tokenizer.decode(reasoning)
        cue = classifier.tokenizer("\n" + classifier.template.chat_answer_cue, add_special_tokens=False)["input_ids"]
        logits = classifier.label_logits_from_ids([prompt + reasoning + cue])[0]
        label_after = classifier.label_names[int(torch.argmax(logits))]
        if written not in classifier.label_names:
            written = None
    named = parse_named_words(reasoning_text, tweet.words, max_words=max_words, exclude=classifier.label_names)
    return SelfExplanation(text=text, words=tweet.words, spans=tweet.word_spans, mode=mode, prediction=prediction,
                           generation=generation, named=tuple(named), label_after=label_after, written_label=written,
                           n_new_tokens=len(new), seconds=time.perf_counter() - start,
                           extras={"prompt_tokens": len(prompt), "prefill": prefill, "reasoning": reasoning_text})


def _indicator(scorer, indices, method: str):
    scores = np.zeros(scorer.n_features)
    scores[list(indices)] = 1.0
    return scorer.result(scores, method, 0.0)


def self_explanation_table(classifier, tweets, modes=SELF_EXPLANATION_MODES, method: str = "shap",
                           budget: int | None = None, n_random: int = 20, max_new_tokens: int = 24,
                           max_words: int = 3, seed: int = 0, progress: bool | None = None) -> pd.DataFrame:
    """Faithfulness and plausibility of the model's own explanations, beside SHAP's and random words.

    For each tweet and mode, with k = the number of tweet words the model named (0 < k < n words): delete those
    words, the k words with the highest `method` score toward the predicted label, and k random words
    (`n_random` draws, averaged), and record each deletion's margin drop (margin = logit(label) − largest other
    logit) and whether the label flips; score each word set against the human rationale by token F1. All masks of
    a tweet go to the model in one batched call.

    Args:
        tweets: a `Tweets` set (its `rationales` give plausibility) or a list of strings.
    Returns one row per (tweet, mode, source) with source in {"self", method, "random"}: k, margin_drop,
    flipped, token_f1 (NaN without a usable rationale), plus the generation and the chain-of-thought label.
    """
    texts = list(getattr(tweets, "texts", tweets))
    rationales = list(getattr(tweets, "rationales", [None] * len(texts)))
    rng = np.random.default_rng(seed)
    rows = []
    jobs = [(t, r) for t, r in zip(texts, rationales)]
    for text, rationale in tqdm(jobs, desc="self-explanations", unit="tweet",
                                disable=not (progress if progress is not None else len(jobs) > 3)):
        prediction = classifier.predict([text])[0]
        target = classifier.label_index(prediction)
        scorer = MaskScorer(classifier, text, target=prediction)
        n = scorer.n_features
        shap = None
        for mode in modes:
            se = self_explain(classifier, text, mode=mode, max_new_tokens=max_new_tokens, max_words=max_words,
                              prediction=prediction)
            base = {"text": text, "mode": mode, "prediction": prediction, "label_after": se.label_after,
                    "label_changed": se.label_changed, "written_label": se.written_label,
                    "generation": se.generation, "named": " ".join(se.named_words), "n_words": n}
            k = len(set(se.named))
            if k == 0 or k >= n:
                rows.append({**base, "source": "self", "k": k, "margin_drop": np.nan, "flipped": np.nan,
                             "token_f1": np.nan, "note": "named no tweet word" if k == 0 else "named every word"})
                continue
            if shap is None:
                shap = explain(classifier, text, method=method, target=prediction, budget=budget, seed=seed)
            sets = {"self": sorted(set(se.named)), method: sorted(int(i) for i in feature_order(shap.scores)[:k])}
            randoms = [sorted(rng.choice(n, size=k, replace=False).tolist()) for _ in range(n_random)]
            masks = np.ones((2 + n_random, n), bool)
            for row, gone in zip(masks, [sets["self"], sets[method], *randoms]):
                row[gone] = False
            logits = mask_label_logits(scorer, np.vstack([np.ones((1, n), bool), masks]))
            margins = label_margin(logits, target)
            drops, flips = margins[0] - margins[1:], margins[1:] < 0
            with collect_reasons() as reasons:
                f1 = {name: token_f1_at_k(_indicator(scorer, idx, name), rationale, k=k) if rationale else np.nan
                      for name, idx in sets.items()}
                f1s = [token_f1_at_k(_indicator(scorer, idx, "random"), rationale, k=k) for idx in randoms] \
                    if rationale and not reasons else []
                f1s = [f for f in f1s if not np.isnan(f)]
                f1_random = float(np.mean(f1s)) if f1s else np.nan
            note = "; ".join(dict.fromkeys(reasons))
            rows.append({**base, "source": "self", "k": k, "margin_drop": drops[0], "flipped": bool(flips[0]),
                         "token_f1": f1["self"], "note": note})
            rows.append({**base, "source": method, "k": k, "margin_drop": drops[1], "flipped": bool(flips[1]),
                         "token_f1": f1[method], "note": note})
            rows.append({**base, "source": "random", "k": k, "margin_drop": float(drops[2:].mean()),
                         "flipped": float(flips[2:].mean()), "token_f1": f1_random, "note": note})
    return pd.DataFrame(rows)


def self_explanation_report(table: pd.DataFrame) -> pd.DataFrame:
    """Per mode and source: mean margin drop ↑, flip rate ↑, token F1 with the rationale ↑ (tweets where the model
    named at least one word), how often it named none, and how often the chain of thought changed the label."""
    rows = []
    for (mode, source), part in table.groupby(["mode", "source"], sort=False):
        named = part[part.margin_drop.notna()]
        rows.append({"mode": mode, "source": source, "margin drop ↑": named.margin_drop.mean(),
                     "flip rate ↑": named.flipped.astype(float).mean(), "token F1 ↑": named.token_f1.mean(),
                     "mean k": named.k.mean(), "n_tweets": part.text.nunique(),
                     "named nothing usable": int((part.margin_drop.isna()).sum()) if source == "self" else np.nan,
                     "label changed by CoT": float(part.drop_duplicates("text").label_changed.mean())
                     if mode == "chain_of_thought" and source == "self" else np.nan})
    return pd.DataFrame(rows).set_index(["mode", "source"])
