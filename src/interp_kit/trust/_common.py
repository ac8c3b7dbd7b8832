"""What the trust modules share: the margin of a label, label logits of masked tweets, copies of a classifier."""
from __future__ import annotations

import copy

import numpy as np
import torch

__all__ = ["label_margin", "mask_label_logits", "classifier_on", "check_words"]


def label_margin(label_logits, label_index: int) -> np.ndarray:
    """logit(label) − the largest other label's logit, per row: > 0 while `label` is predicted, < 0 once it flips.

    Under the softmax restricted to the label words this is log p(label) − max log p(other): with two labels it is
    the log-odds the kit explains by default; with three it is the distance to the nearest rival, which the log-odds
    are not (p = 0.45 can still be the top label).

    Args:
        label_logits: (n, n_labels) or (n_labels,) label-word logits (numpy or torch).
        label_index: the label whose margin is measured.
    """
    logits = label_logits.detach().cpu().double().numpy() if isinstance(label_logits, torch.Tensor) else \
        np.asarray(label_logits, float)
    logits = np.atleast_2d(logits)
    others = np.delete(logits, label_index, axis=1)
    return logits[:, label_index] - others.max(axis=1)


def mask_label_logits(scorer, masks) -> np.ndarray:
    """Label logits (m, n_labels) of the scorer's tweet with the words where a mask row is 0 deleted.

    One batched call of the kit's masked scorer (`MaskScorer`: de-duplicated masks, packed or padded batches, the
    full prompt's keys/values shared); it counts the evaluations in `scorer.n_evaluations`. Counterfactual search
    needs every label's logit of a mask (to see the argmax move), not one explained quantity, and this is the one
    place the trust package reads them.
    """
    masks = np.atleast_2d(np.asarray(masks, dtype=bool))
    if masks.shape[0] == 0:
        return np.zeros((0, len(scorer.clf.label_names)))
    return scorer._label_logits(masks).double().numpy()


_SAME = object()


def classifier_on(classifier, model=None, adapter=_SAME, label_names=None):
    """A classifier like `classifier` (tokenizer, prompt, label words, adapter setting) on `model`, by default a
    deep copy of its model: randomising or training the copy never touches the user's model.

    Args:
        adapter: another adapter setting (None: the base model with every LoRA layer off).
        label_names: other labels (label words = names), e.g. the three-class labels on the same model.
    """
    from ..classifier import LabelWordClassifier

    model = copy.deepcopy(classifier.model) if model is None else model
    names, words = (classifier.label_names, classifier.label_words) if label_names is None else (label_names, None)
    return LabelWordClassifier(model, classifier.tokenizer, names, words, classifier.template,
                               adapter=classifier.engine.adapter if adapter is _SAME else adapter,
                               max_tweet_tokens=classifier.max_tweet_tokens)


def check_words(classifier, text: str, at_least: int = 2, what: str = "this"):
    """The tweet's words, with a clear error when it has fewer than `at_least` (e.g. a one-word tweet)."""
    words = classifier.tokenize_tweet(text).words
    if len(words) < at_least:
        raise ValueError(f"'{text}' has {len(words)} word(s); {what} needs a tweet of at least {at_least} words "
                         "(deleting a one-word tweet's only word leaves nothing to classify).")
    return words
