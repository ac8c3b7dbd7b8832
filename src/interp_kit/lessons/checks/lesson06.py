"""Lesson 06 exercises: the logit lens at one layer, and one activation patch."""
from __future__ import annotations

import torch

from ._core import CheckFailed, assert_matches, exercise, passed
from ._data import check_tweets

__all__ = ["check_logit_lens", "check_patch"]

#: (clean, corrupted) minimal pairs of equal token length for the patching check
PATCH_PAIRS = (("I love this movie", "I hate this movie"),
               ("what a great day at the beach", "what a awful day at the beach"))


def _as_vector(value, what: str) -> torch.Tensor:
    t = value.detach().cpu().double() if torch.is_tensor(value) else torch.tensor(value, dtype=torch.float64)
    t = t.reshape(-1)
    if t.numel() != 2:
        raise CheckFailed(f"{what}: return the label logits, one number per label (2 here), not {t.numel()} numbers.")
    return t


@exercise("06", "lens(clf, text, layer): the label logits read from layer `layer`'s output at the answer position")
def check_logit_lens(lens, clf, layers=(8, 20)) -> bool:
    """Compare `lens(clf, text, layer)` with the kit's `logit_lens` on two real tweets at two layers.

    Catches: skipping the final norm (the LM head on the raw residual), reading the layer's input (`resid_pre`)
    instead of its output, and reading the last tweet token instead of the answer position.
    """
    from ...internals.residual import residual_stream

    tweets = [t for t, _ in check_tweets(2, min_words=4, max_words=12, offset=3)]
    stream = residual_stream(clf, tweets, progress=False)
    hooks = clf.engine.hooks()
    for layer in layers:
        want_all = hooks.unembed(stream.acts[:, layer + 1])
        for text, want in zip(tweets, want_all):
            got = _as_vector(lens(clf, text, layer), f"layer {layer}")
            assert_matches(got, want.double(), f"label logits at layer {layer} of {text!r}", atol=2e-3, rtol=1e-3,
                           names=list(clf.label_names),
                           hint="read f'resid_post.{layer}' at the answer position (trace.at(point)), then "
                                "hooks.unembed(...) (final norm, then the LM head's label rows).")
    return passed("check_logit_lens", f"your logit lens equals the kit's at layers {list(layers)} on 2 real tweets")


@exercise("06", "patch(clf, clean, corrupt, layer, position): the corrupted run's label logits with resid_pre.layer "
                "at tweet token `position` taken from the clean run")
def check_patch(patch, clf, layers=(0, 6, 15)) -> bool:
    """Compare `patch(clf, clean, corrupt, layer, position)` with the kit's `Patching` on two minimal pairs.

    Catches: the position counted in the whole prompt instead of the tweet (patching the instruction changes
    nothing), patching every position (the clean run), and patching the layer's output instead of its input.
    """
    from ...internals.patching import Patching

    for clean, corrupt in PATCH_PAIRS:
        setup = Patching(clf, clean, corrupt)
        differ = next(i for i, (a, b) in enumerate(zip(setup.clean_ids, setup.corrupt_ids)) if a != b)
        cases = [(layers[0], differ), (layers[1], differ), (layers[2], len(setup.clean_ids) - 1)]
        for layer, position in cases:
            want = setup.label_logits([[(f"resid_pre.{layer}", [position])]], start=position)[0].double()
            got = _as_vector(patch(clf, clean, corrupt, layer, position), f"layer {layer}, position {position}")
            assert_matches(got, want, f"patched label logits ({clean!r} -> {corrupt!r}, resid_pre.{layer}, tweet "
                                      f"token {position})", atol=2e-3, rtol=1e-3, names=list(clf.label_names),
                           hint="the tweet's token `position` sits at column trace.positions.slices[0]['tweet']"
                                ".start + position; replace only that column of f'resid_pre.{layer}'.")
    return passed("check_patch", f"your patch equals the kit's on {len(PATCH_PAIRS)} minimal pairs at "
                                 f"3 (layer, position) each")
