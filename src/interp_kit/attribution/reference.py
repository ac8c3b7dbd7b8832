"""Captum's `LLMAttribution` on exactly our prompts: the reference that tests and benchmarks compare with.

Both must see the same token sequences before values are compared, so `llm_attribution` first renders captum's
`TextTemplateInput` for the whole tweet, the empty tweet and every one-word deletion, tokenizes them as
`LLMAttribution` does (`tokenizer.encode`), and checks them against the scorer's sequences.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from .core import MaskScorer

__all__ = ["captum_template_input", "assert_same_sequences", "llm_attribution"]


def captum_template_input(clf, words):
    """The prompt as captum's TextTemplateInput: prefix + one slot per word + suffix; an absent word is ""."""
    from captum.attr import TextTemplateInput

    esc = lambda s: s.replace("{", "{{").replace("}", "}}")  # noqa: E731  (str.format template)
    template = esc(clf.prompt_prefix) + "{}" * len(words) + esc(clf.prompt_suffix)
    return TextTemplateInput(template, values=[" " + w for w in words], baselines=[""] * len(words))


def assert_same_sequences(clf, scorer: MaskScorer, inp) -> None:
    """Captum's rendered prompts, tokenized as LLMAttribution does, equal our sequences (else AssertionError)."""
    n = scorer.n_features
    masks = [np.ones(n, bool), np.zeros(n, bool)] + [~np.eye(n, dtype=bool)[i] for i in range(n)]
    for mask in masks:
        rendered = inp.to_model_input(torch.from_numpy(mask.astype(float)[None]))
        ours = list(clf.prefix_ids) + scorer.continuation(mask)
        if clf.tokenizer.encode(rendered) != ours:
            raise AssertionError(f"captum and interp_kit would score different token sequences for mask {mask}")


def llm_attribution(clf, algorithm, text: str, target: str | None = None, seed: int | None = None, **kwargs):
    """Run captum's `LLMAttribution(algorithm)` on the tweet's words, explaining log p(target label token).

    Returns (scores per word, the MaskScorer with the same features, seconds). `seed` seeds torch's global
    generator, from which captum draws its samples.
    """
    from captum.attr import LLMAttribution

    scorer = MaskScorer(clf, text, target=target, quantity="log_prob")
    inp = captum_template_input(clf, list(scorer.features))
    assert_same_sequences(clf, scorer, inp)  # first: both explain exactly the same token sequences
    token = torch.tensor([clf.label_token_ids[clf.label_index(scorer.target)]])
    llm = LLMAttribution(algorithm(clf.model), clf.tokenizer)
    if seed is not None:
        torch.manual_seed(seed)
    start = time.perf_counter()
    with clf.model_context():
        result = llm.attribute(inp, target=token, **kwargs)
    return result.seq_attr.detach().cpu().numpy(), scorer, time.perf_counter() - start
