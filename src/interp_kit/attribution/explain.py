"""One entry point for every attribution method: `explain(classifier, text, method=...)`."""
from __future__ import annotations

import time

import numpy as np
from tqdm.auto import tqdm

from .core import Explanation, MaskScorer
from .registry import get_method

__all__ = ["explain", "explain_many"]


def explain(classifier, text: str, method: str = "shap", target: str | None = None, budget: int | None = None,
            granularity: str = "word", quantity: str = "log_odds", absent: str | None = None, seed: int = 0,
            batch_size: int = 64, baseline_token_id: int | None = None, pack_tokens: int | None = None,
            **options) -> Explanation:
    """Attribute one label's score to the tweet's words (or tokens) with a registered method.

    Only the tweet is explained: the instruction, chat template and answer cue are fixed context. One label is
    explained at a time; never average attributions over labels (with two labels the log-odds attributions of
    the two targets are exact negatives, so their mean is zero).

    Args:
        classifier: a label-word classifier (zero-shot, or fine-tuned with its LoRA adapter on).
        text: the tweet.
        method: a name from `list_methods()` ("shap", "feature_ablation", "shapley_value_sampling", "kernel_shap",
            "lime", "exact_shapley", "integrated_gradients", "saliency", "input_x_gradient", ...).
        target: the label to explain (default: the predicted label).
        budget: the method's budget (shap: max_evals; sampling methods: n_samples; integrated gradients:
            n_steps); None uses the method's default. Methods without a budget ignore it, so one budget can be
            passed to every method.
        granularity: "word" (default) or "token".
        quantity: what is explained (see `QUANTITIES`): "log_odds" (default: log p(target) - log(1 - p(target))
            under the softmax restricted to the label words), "probability", "logit" or "log_prob".
        absent: what a missing feature becomes: "delete" (its tokens are removed; default for perturbation
            methods) or "baseline" (each token is replaced by the baseline token, the pad token by default;
            the only choice for gradient methods, whose baseline is that token's embedding).
        seed: seeds the sampling methods (the global random state is left as it was).
        batch_size, pack_tokens: batching of masked texts (see `MaskedPrompts`).
        baseline_token_id: the token used by absent="baseline" (default: the tokenizer's pad token).
        **options: passed to the method (e.g. internal_batch_size for integrated gradients, shap_batch_size for shap).
    Returns:
        An `Explanation`: features with spans in `text`, one score each, the values with all features present and
        absent, the prediction, and the cost (model evaluations, seconds) plus method details in `extras`.
    """
    m = get_method(method)
    absent = m.check_absent(absent)
    budget = m.resolve_budget(budget)
    start = time.perf_counter()
    scorer = MaskScorer(classifier, text, target=target, quantity=quantity, granularity=granularity, absent=absent,
                        baseline_token_id=baseline_token_id, batch_size=batch_size, pack_tokens=pack_tokens)
    scores, details = m.attribute(scorer, budget=budget, seed=seed, **options)
    value_full, value_empty = scorer.value_full, scorer.value_empty  # part of the cost when a method did not ask
    seconds = time.perf_counter() - start
    extras = {"family": m.family, "absent": absent, "seed": seed, "budget_name": m.budget_name, "budget": budget,
              "citation": m.citation, **details}
    if absent == "baseline":
        extras["baseline_token_id"] = int(scorer.baseline_token_id)
    if m.efficient:
        extras["efficiency_gap"] = float(np.sum(scores) - (value_full - value_empty))
    return scorer.result(scores, m.name, seconds, extras)


def explain_many(classifier, texts, method: str = "shap", target=None, progress: bool | None = None,
                 **kwargs) -> list[Explanation]:
    """`explain` for each text, with a progress bar.

    Args:
        texts: a list of strings or a `Tweets` set.
        target: None (each text's predicted label), one label name for all, or one label per text (e.g. the gold
            labels, `tweets.labels`).
        progress: show the bar (default: when there is more than one text).
        **kwargs: as for `explain` (method options included).
    """
    texts = list(getattr(texts, "texts", texts))
    if target is None or isinstance(target, str):
        targets = [target] * len(texts)
    else:
        targets = list(target)
        if len(targets) != len(texts):
            raise ValueError(f"{len(targets)} targets for {len(texts)} texts.")
    show = progress if progress is not None else len(texts) > 1
    return [explain(classifier, t, method=method, target=tg, **kwargs)
            for t, tg in tqdm(list(zip(texts, targets)), desc=f"explain ({method})", disable=not show, unit="text")]
