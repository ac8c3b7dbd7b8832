"""Lesson 01 exercises: score the label tokens of one prompt, and left-pad a batch of prompts."""
from __future__ import annotations

import numpy as np
import torch

from ._core import CheckFailed, assert_matches, exercise, passed
from ._data import check_tweets

__all__ = ["check_label_score", "check_left_pad", "left_pad_reference"]


@exercise("01", "label_score(clf, text): the label words' logits at the next-token position of one prompt")
def check_label_score(label_score, clf) -> bool:
    """Compare `label_score(clf, text)` with `clf.label_logits([text])[0]` on three real test tweets.

    Catches: reading the logits one position too early, scoring the label word without its leading space,
    returning probabilities over the whole vocabulary instead of logits.
    """
    for text, _ in check_tweets(3):
        got = label_score(clf, text)
        want = clf.label_logits([text])[0]
        assert_matches(got, want, f"the label logits of {text!r}", atol=1e-3, rtol=1e-4, names=list(clf.label_names),
                       hint="run the model on clf.prompt_ids(text) (under clf.model_context()) and read the logits "
                            "at the LAST position (-1), at the token ids clf.label_token_ids (' positive' has a "
                            "leading space), as raw logits (no softmax).")
    return passed("check_label_score", "your label logits match the classifier's on 3 real tweets")


def left_pad_reference(sequences, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask) with every row padded on the LEFT to the longest sequence."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for i, s in enumerate(sequences):
        if len(s):
            ids[i, width - len(s):] = torch.tensor(list(s), dtype=torch.long)
            mask[i, width - len(s):] = 1
    return ids, mask


def _batched_label_logits(clf, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Label logits read at the last column, position ids counted from each row's first real token."""
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode(), clf.model_context():
        logits = clf.model(input_ids=ids.to(clf.device), attention_mask=mask.to(clf.device),
                           position_ids=positions.to(clf.device), logits_to_keep=1).logits[:, -1, :]
    return logits[:, list(clf.label_token_ids)].float().cpu()


@exercise("01", "left_pad(sequences, pad_id): pad token-id lists on the left, with an attention mask")
def check_left_pad(left_pad, clf) -> bool:
    """Compare `left_pad(sequences, pad_id)` with left padding on the prompts of three real tweets of different
    lengths, then score the batch and compare with one-at-a-time scores.

    Catches: right padding (the last column is then a pad token for every row but the longest), a mask that marks
    pads as real (or all ones), pads that are not the pad id.
    """
    texts = [t for t, _ in check_tweets(3, min_words=3, max_words=25)]
    seqs = [clf.prompt_ids(t) for t in texts]
    if len({len(s) for s in seqs}) == 1:  # pragma: no cover - the chosen tweets differ in length
        raise RuntimeError("the check needs prompts of different lengths")
    pad = clf.tokenizer.pad_token_id
    got = left_pad(seqs, pad)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailed("left_pad must return two things: (input_ids, attention_mask).")
    ids, mask = (torch.as_tensor(np.asarray(x)).long() for x in got)
    want_ids, want_mask = left_pad_reference(seqs, pad)
    shortest = int(np.argmin([len(s) for s in seqs]))
    if ids.shape == want_ids.shape and ids[shortest, -1].item() == pad and seqs[shortest][-1] != pad:
        raise CheckFailed("The last column of the shortest prompt is a pad token: that is RIGHT padding. The score "
                          "is read at the last position, so every row must end with its own last real token.\n"
                          "  Hint: put the pad tokens before the sequence: [pad] * (width - len(s)) + s.")
    assert_matches(ids, want_ids, "input_ids", atol=0, rtol=0,
                   hint="each row is [pad_id] * (width - len(row)) + row, width = the longest row's length.")
    assert_matches(mask, want_mask, "attention_mask", atol=0, rtol=0,
                   hint="the mask is 0 on the pad positions and 1 on the real tokens.")
    batched = _batched_label_logits(clf, ids, mask)
    one_by_one = torch.as_tensor(clf.label_logits(texts))
    assert_matches(batched, one_by_one, "the label logits of the padded batch", atol=2e-3, rtol=1e-3)
    return passed("check_left_pad", f"a batch of {len(seqs)} real prompts ({min(map(len, seqs))}-"
                                    f"{max(map(len, seqs))} tokens) scores the same as one at a time")
