"""Real tweets for the checks: a few test tweets, seeded, so a check always sees the same examples."""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=None)
def _test_tweets():
    from ...data import load_tweets

    return load_tweets("tweets", split="test", label_space="binary")


def check_tweets(n: int = 3, min_words: int = 2, max_words: int = 30, offset: int = 0) -> list[tuple[str, str]]:
    """n real (text, gold label) test tweets of min_words..max_words words, the same ones every time."""
    data = _test_tweets()
    picked = [(t, lab) for t, lab in zip(data.texts, data.labels) if min_words <= len(t.split()) <= max_words]
    if len(picked) < offset + n:
        raise RuntimeError("Not enough real tweets of that length to run the check.")
    return picked[offset:offset + n]


def value_function(scorer):
    """value(mask) -> the explained quantity with the words where mask is False absent (one mask, 1-D)."""
    import numpy as np

    seen: dict[bytes, float] = {}  # a coalition asked for twice is scored once

    def value(mask) -> float:
        mask = np.asarray(mask, dtype=bool).reshape(1, -1)
        if mask.shape[1] != scorer.n_features:
            raise ValueError(f"value() takes a mask of {scorer.n_features} booleans (one per word), "
                             f"got {mask.shape[1]}.")
        key = mask.tobytes()
        if key not in seen:
            seen[key] = float(scorer(mask)[0])
        return seen[key]

    return value


_REFERENCE: dict = {}


def reference_scores(clf, text: str, method: str):
    """The kit's explanation scores of `text` (cached per classifier object, so repeated checks stay fast)."""
    from ...attribution import explain

    key = (id(clf), text, method)
    if key not in _REFERENCE:
        _REFERENCE[key] = (clf, explain(clf, text, method=method).scores)  # clf kept so its id is not reused
    return _REFERENCE[key][1]
