"""Pitfalls the lessons run live: the wrong way and the right way on the same tweets, numbers side by side.

Each function returns a `Pitfall`: a title, a table with a "wrong" and a "right" side, and one line saying what
the numbers show. The numbers are computed, never typed in.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .checks.lesson01 import left_pad_reference

__all__ = ["Pitfall", "right_padding_pitfall", "label_token_pitfall", "class_mean_pitfall", "wrong_model_pitfall",
           "answer_cue_pitfall", "next_token_logits"]


@dataclass
class Pitfall:
    """A pitfall run live: what goes wrong, the table of wrong vs right numbers, and what they show."""

    title: str
    table: pd.DataFrame
    verdict: str

    def _repr_html_(self) -> str:
        return (f"<h4>Pitfall: {html.escape(self.title)}</h4>{self.table.to_html(float_format=lambda v: f'{v:.3f}')}"
                f"<p>{html.escape(self.verdict)}</p>")

    def __repr__(self) -> str:
        return f"Pitfall: {self.title}\n{self.table.round(3).to_string()}\n{self.verdict}"


def _pad(sequences, pad_id: int, side: str):
    if side == "left":
        return left_pad_reference(sequences, pad_id)
    width = max(len(s) for s in sequences)
    ids = torch.tensor([list(s) + [pad_id] * (width - len(s)) for s in sequences])
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in sequences])
    return ids, mask


def next_token_logits(clf, texts, token_ids, side: str = "left", batch_size: int = 16,
                      log_probs: bool = False) -> np.ndarray:
    """Logits of `token_ids` as the next token after each tweet's prompt, read at the batch's LAST column.

    With side="left" (and position ids from the mask) that column is every prompt's last token: the right way.
    With side="right" it is a pad token for every prompt shorter than the longest: the pitfall.
    `log_probs=True` returns log-probabilities over the whole vocabulary instead of logits.
    """
    out = []
    for start in range(0, len(texts), batch_size):
        seqs = [clf.prompt_ids(t) for t in texts[start:start + batch_size]]
        ids, mask = _pad(seqs, clf.tokenizer.pad_token_id, side)
        kwargs = {"position_ids": (mask.cumsum(-1) - 1).clamp(min=0).to(clf.device)} if side == "left" else {}
        with torch.inference_mode(), clf.model_context():
            logits = clf.model(input_ids=ids.to(clf.device), attention_mask=mask.to(clf.device), logits_to_keep=1,
                               **kwargs).logits  # only the last column's logits: the LM head is most of the cost
        last = logits[:, -1, :].float()
        if log_probs:
            last = torch.log_softmax(last, -1)
        out.append(last[:, list(token_ids)].cpu().numpy())
    return np.concatenate(out)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def right_padding_pitfall(clf, texts) -> Pitfall:
    """Score a batch padded on the right and read at the last column, against left padding and one at a time."""
    texts = list(getattr(texts, "texts", texts))
    ids = list(clf.label_token_ids)
    pos = clf.label_names.index("positive") if "positive" in clf.label_names else -1
    alone = np.stack([_softmax(next_token_logits(clf, [t], ids))[0] for t in texts])
    right = _softmax(next_token_logits(clf, texts, ids, side="right", batch_size=len(texts)))
    left = _softmax(next_token_logits(clf, texts, ids, side="left", batch_size=len(texts)))
    longest = max(len(clf.prompt_ids(t)) for t in texts)
    table = pd.DataFrame({"tweet": [t[:40] for t in texts],
                          "pad tokens": [longest - len(clf.prompt_ids(t)) for t in texts],
                          f"p({clf.label_names[pos]}) one at a time": alone[:, pos],
                          f"wrong: right-padded batch": right[:, pos],
                          f"right: left-padded batch": left[:, pos]})
    changed = int((right.argmax(1) != alone.argmax(1)).sum())
    verdict = (f"Right padding changed {changed} of {len(texts)} predictions (largest probability gap "
               f"{np.abs(right - alone).max():.3f}); left padding matches one-at-a-time scores to "
               f"{np.abs(left - alone).max():.1e}. Only the longest tweet has no pad at the last column.")
    return Pitfall("right padding read at pad positions", table, verdict)


def label_token_pitfall(zero_shot, fine_tuned, tweets) -> Pitfall:
    """Both models read at the trained label tokens (" positive") and at look-alikes ("positive", no space).

    Shows accuracy and the mean log-probability (whole vocabulary) of the gold label's token: fine-tuning moves
    the trained token's probability; the look-alike's moves only as a side effect.
    """
    from ..evaluation import classification_metrics

    tok = zero_shot.tokenizer
    trained = list(zero_shot.label_token_ids)
    other = [tok.encode(w.strip(), add_special_tokens=False)[0] for w in zero_shot.label_words]
    gold = np.asarray(tweets.label_ids)
    n = len(trained)
    rows, gold_logp = {}, {}
    for name, clf in (("zero-shot", zero_shot), ("fine-tuned", fine_tuned)):
        logp = next_token_logits(clf, tweets.texts, trained + other, log_probs=True)  # one pass per model
        for what, cols in (("wrong: scored token differs", logp[:, n:]), ("right: the trained token", logp[:, :n])):
            m = classification_metrics(gold, cols.argmax(1), zero_shot.label_names)
            gold_logp[(what, name)] = float(cols[np.arange(len(gold)), gold].mean())
            rows[(what, name)] = {"tokens": " / ".join(repr(tok.decode([t])) for t in (other if "wrong" in what
                                                                                        else trained)),
                                  "accuracy": m["accuracy"], "MCC": m["mcc"],
                                  "mean log p(gold token)": gold_logp[(what, name)]}
    table = pd.DataFrame(rows).T
    shift = {w: gold_logp[(w, "fine-tuned")] - gold_logp[(w, "zero-shot")]
             for w in ("wrong: scored token differs", "right: the trained token")}
    acc = table["accuracy"]
    verdict = (f"Fine-tuning changed the mean log-probability of the gold label's token by "
               f"{shift['right: the trained token']:+.3f} at the trained tokens and by "
               f"{shift['wrong: scored token differs']:+.3f} at the look-alikes. Read at the look-alikes, the "
               f"fine-tuned model's accuracy is {acc[('wrong: scored token differs', 'fine-tuned')]:.3f}; at the "
               f"trained tokens {acc[('right: the trained token', 'fine-tuned')]:.3f}.")
    return Pitfall("a label token that differs between training and scoring", table, verdict)


def class_mean_pitfall(clf, text: str, method: str = "shap", budget: int | None = None) -> Pitfall:
    """Explain each label of one tweet and average them: the mean cancels to zero (two labels, log-odds)."""
    from ..attribution import explain

    per_label = {lab: explain(clf, text, method=method, budget=budget, target=lab) for lab in clf.label_names}
    first = next(iter(per_label.values()))
    table = pd.DataFrame({f"explain {lab}": e.scores for lab, e in per_label.items()}, index=list(first.features))
    table["wrong: mean over labels"] = table.mean(axis=1)
    pred = first.prediction
    table[f"right: explain one label ({pred})"] = per_label[pred].scores
    verdict = (f"The class mean is at most {np.abs(table['wrong: mean over labels']).max():.1e} in size: it explains "
               f"nothing. One label's scores range up to {np.abs(per_label[pred].scores).max():.3f}.")
    return Pitfall("the class-mean of SHAP values", table, verdict)


def wrong_model_pitfall(zero_shot, fine_tuned, text: str, method: str = "shap", budget: int | None = None,
                        target: str | None = None) -> Pitfall:
    """The same tweet and label explained on the fine-tuned model (by mistake) and on the zero-shot model."""
    from ..attribution import explain
    from ..evaluation import spearman

    target = target or zero_shot.predict([text])[0]
    right = explain(zero_shot, text, method=method, budget=budget, target=target)
    wrong = explain(fine_tuned, text, method=method, budget=budget, target=target)
    table = pd.DataFrame({"wrong: fine-tuned model": wrong.scores, "right: zero-shot model": right.scores},
                         index=list(right.features))
    table.loc["p(target)"] = [wrong.probabilities[target], right.probabilities[target]]
    verdict = (f"Explaining {target!r}: Spearman between the two explanations {spearman(wrong.scores, right.scores):.2f}; "
               f"top word {right.top_k(1)[0][0]!r} (zero-shot) vs {wrong.top_k(1)[0][0]!r} (fine-tuned). A study of "
               "the zero-shot model must score with the adapter OFF (the zero-shot classifier does this).")
    return Pitfall("explaining the fine-tuned model when the zero-shot model was meant", table, verdict)


def answer_cue_pitfall(model, tokenizer, tweets, label_names=("negative", "positive")) -> Pitfall:
    """Accuracy with the answer cue ("Sentiment:") removed from the prompt, against the kit's prompt."""
    from ..classifier import LabelWordClassifier, PromptTemplate
    from ..evaluation import evaluate

    rows = {}
    for what, template in (("wrong: no answer cue", PromptTemplate(chat_answer_cue="", plain_answer_cue="")),
                           ("right: answer opens with 'Sentiment:'", PromptTemplate())):
        clf = LabelWordClassifier(model, tokenizer, label_names, template=template, adapter=None)
        m = evaluate(clf, tweets, progress=False)
        rows[what] = {"prompt ends with": repr(clf.prompt_suffix[-24:]), "accuracy": m["accuracy"], "MCC": m["mcc"],
                      f"share predicted {label_names[-1]}": float(np.mean([p == label_names[-1]
                                                                            for p in m["predictions"]]))}
    table = pd.DataFrame(rows).T
    verdict = (f"On {len(tweets)} test tweets: accuracy {table.iloc[0]['accuracy']:.3f} without the cue vs "
               f"{table.iloc[1]['accuracy']:.3f} with it.")
    return Pitfall("the answer cue missing from the prompt", table, verdict)
