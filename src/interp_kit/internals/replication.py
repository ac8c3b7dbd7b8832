"""'Attention is not explanation' (Jain & Wallace 2019) on real tweets: does attention rank the words as the
attribution methods do, and is it as faithful?

Two measurements, both through the kit's registered methods and metrics:
* agreement: per tweet, Kendall τ between the attention ranking and leave-one-out (`feature_ablation`) and SHAP
  (`attention_agreement`, mean τ with a t-interval per pair);
* faithfulness: comprehensiveness, sufficiency, deletion/insertion AUC and LOO Spearman of every method's ranking,
  against a random ranking (`faithfulness_report`).
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ._common import InternalsError, texts_of
from .attention import attention_agreement, summarize_agreement

__all__ = ["AttentionStudy", "attention_vs_attribution"]


@dataclass
class AttentionStudy:
    """The replication's results.

    Attributes:
        explanations: method -> explanations of the same tweets (in order).
        agreement: one row per (tweet, attention method, reference) with Kendall τ and p-values.
        summary: mean τ per (attention method, reference) with intervals (`summarize_agreement`).
        faithfulness: mean faithfulness per method, "random" included (`faithfulness_report`), or None.
    """

    explanations: dict
    agreement: pd.DataFrame
    summary: pd.DataFrame
    faithfulness: pd.DataFrame | None

    def table(self) -> pd.DataFrame:
        """The summary with each method's faithfulness (comprehensiveness and LOO Spearman) beside it."""
        out = self.summary.reset_index()
        if self.faithfulness is not None:
            cols = [c for c in self.faithfulness.columns if c.startswith(("comprehensiveness", "LOO", "sufficiency"))]
            out = out.merge(self.faithfulness[cols], left_on="attention", right_index=True, how="left")
        return out.set_index(["attention", "reference"])


def attention_vs_attribution(classifier, tweets, references=("feature_ablation", "shap"),
                             attention=("attention", "attention_rollout"), budget: int | None = None,
                             faithfulness: bool = True, seed: int = 0, progress: bool | None = None,
                             **explain_options) -> AttentionStudy:
    """Replicate Jain & Wallace 2019 on `tweets`: attention vs attribution rankings, and faithfulness vs random.

    Args:
        classifier: a label-word classifier (zero-shot or fine-tuned).
        tweets: texts or a `Tweets` set (the paper's test used hundreds; use at least 100 for the report).
        references: attribution methods to compare with (leave-one-out = "feature_ablation", "shap", ...).
        attention: the attention methods ("attention" = last layer, heads averaged; "attention_rollout").
        budget: the references' budget (None: each method's default).
        faithfulness: also compute `faithfulness_report` for every method and a random ranking.
        **explain_options: passed to `explain_many` (e.g. target=tweets.labels).
    """
    from ..attribution import explain_many
    from ..evaluation import faithfulness_report

    texts = texts_of(tweets)
    if len(texts) < 2:
        raise InternalsError("Compare rankings over several tweets (the replication uses at least 100).")
    overlap = set(references) & set(attention)
    if overlap:
        raise InternalsError(f"{sorted(overlap)} are both attention and reference methods.")
    explanations = {}
    for method in list(attention) + list(references):
        explanations[method] = explain_many(classifier, texts, method=method, budget=budget, seed=seed,
                                            progress=progress, **explain_options)
    agreement = attention_agreement(explanations, attention_methods=tuple(attention), references=list(references))
    faith = None
    if faithfulness:
        faith = faithfulness_report(classifier, explanations, include_random=True, seed=seed, progress=progress)
    return AttentionStudy(explanations, agreement, summarize_agreement(agreement), faith)
