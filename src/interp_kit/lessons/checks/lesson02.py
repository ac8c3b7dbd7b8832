"""Lesson 02 exercises: build a fine-tuning example, and compute the label-token loss of one tweet."""
from __future__ import annotations

import numpy as np

from ._core import CheckFailed, assert_matches, exercise, passed
from ._data import check_tweets

__all__ = ["check_training_example", "check_label_token_loss"]


@exercise("02", "training_example(clf, text, label): (input_ids, labels) with the loss on the label token only")
def check_training_example(training_example, clf) -> bool:
    """Compare `training_example(clf, text, label)` with `clf.training_example` on three real test tweets.

    Catches: a label word without its leading space ("positive" is not the scored " positive"), labels that copy
    the input ids (loss on the whole prompt), the label token put one position too early.
    """
    for text, label in check_tweets(3, offset=3):
        got = training_example(clf, text, label)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailed("training_example must return two lists: (input_ids, labels).")
        ids, labels = (list(map(int, np.asarray(x).reshape(-1))) for x in got)
        want_ids, want_labels = clf.training_example(text, label)
        scored = clf.label_token_ids[clf.label_index(label)]
        if len(ids) == len(want_ids) and ids[-1] != scored:
            raise CheckFailed(f"The last input token is {clf.tokenizer.decode([ids[-1]])!r}, but the classifier "
                              f"scores {clf.tokenizer.decode([scored])!r} for {label!r}.\n  Hint: use "
                              "clf.label_token_ids[clf.label_index(label)] (the label word with its leading space).")
        assert_matches(ids, want_ids, f"input_ids of {text[:40]!r}", atol=0, rtol=0,
                       hint="input_ids = clf.prompt_ids(text) + [the label token].")
        supervised = [i for i, v in enumerate(labels) if v != -100]
        if len(supervised) > 1:
            raise CheckFailed(f"{len(supervised)} positions carry a loss; only the label token should (every other "
                              "position gets -100, which the loss ignores).")
        assert_matches(labels, want_labels, f"labels of {text[:40]!r}", atol=0, rtol=0,
                       hint="labels = [-100] * len(prompt) + [label token]: the model shifts labels by one itself, "
                            "so the label sits at the same position as the label token in input_ids.")
    return passed("check_training_example", "your examples equal clf.training_example on 3 real tweets")


def _reference_loss(clf, text: str, label: str) -> float:
    tweet_ids = list(clf.tokenize_tweet(text).token_ids)
    import torch

    with torch.inference_mode():
        return float(clf.engine.label_loss([(tweet_ids, clf.label_index(label))], share_prefix=False))


@exercise("02", "label_token_loss(clf, text, label): cross-entropy of the gold label token after the prompt")
def check_label_token_loss(label_token_loss, clf) -> bool:
    """Compare `label_token_loss(clf, text, label)` with the loss `fine_tune` minimises, on three real tweets.

    Catches: a softmax over the label words only (the loss normalises over the whole vocabulary), reading the
    logits one position too late (at the label token of the training example), returning p instead of -log p.
    """
    for text, label in check_tweets(3, offset=6):
        got = label_token_loss(clf, text, label)
        want = _reference_loss(clf, text, label)
        assert_matches(float(got), want, f"the label-token loss of {text[:40]!r} (gold {label!r})", atol=1e-3,
                       rtol=1e-3, hint="-log_softmax over the WHOLE vocabulary of the logits at the last prompt "
                                       "position, taken at the gold label's token id.")
    return passed("check_label_token_loss", "your loss equals the fine-tuning loss on 3 real tweets")
