"""Small measurements the lessons show: misclassified tweets, gradient baselines, Owen vs Shapley values,
input × gradient against the zeroing it approximates, and magnitude rankings for unsigned methods."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import torch

__all__ = ["misclassified", "baseline_embedding", "gradient_baselines", "owen_vs_shapley", "zeroing_vs_input_x_gradient",
           "by_magnitude"]


def misclassified(tweets, metrics: dict, n: int | None = None) -> pd.DataFrame:
    """The tweets `evaluate` got wrong: text, gold label, prediction and its probability, most confident first."""
    proba = np.asarray(metrics["probabilities"])
    rows = [{"tweet": t, "gold": g, "predicted": p, "p(predicted)": float(proba[i].max())}
            for i, (t, g, p) in enumerate(zip(tweets.texts, tweets.labels, metrics["predictions"])) if g != p]
    df = pd.DataFrame(rows, columns=["tweet", "gold", "predicted", "p(predicted)"])
    return df.sort_values("p(predicted)", ascending=False).head(n).reset_index(drop=True)


def baseline_embedding(clf, baseline) -> tuple[str, torch.Tensor]:
    """(description, embedding vector) of a gradient baseline: "pad", "unk", "eos", "zero" or a one-token word."""
    embed = clf.model.get_input_embeddings()
    tok = clf.tokenizer
    if baseline == "zero":
        return "the zero vector", torch.zeros(embed.weight.shape[1])
    named = {"pad": tok.pad_token_id, "unk": tok.unk_token_id, "eos": tok.eos_token_id}
    if baseline in named:
        if named[baseline] is None:
            raise ValueError(f"This tokenizer has no {baseline} token; try 'pad', 'zero' or a word such as ' the'.")
        token_id = named[baseline]
    else:
        ids = tok.encode(str(baseline), add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(f"A baseline word must be one token; {baseline!r} is {len(ids)} tokens "
                             f"{[tok.decode([i]) for i in ids]}. Try it with a leading space, e.g. ' the'.")
        token_id = ids[0]
    with torch.no_grad():
        return f"{baseline} = token {tok.decode([token_id])!r}", embed.weight[token_id].detach().float().clone()


def gradient_baselines(clf, text: str, baselines=("pad", "unk", " the", "zero"), n_steps: int = 32,
                       target: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Integrated gradients of one tweet from several baselines, plus input × gradient.

    Why: IG explains f(tweet) - f(baseline); each baseline asks another question. Input × gradient is the
    first-order estimate of replacing every embedding by the zero vector, so it sits beside the zero baseline.
    Returns (word scores per baseline, a summary with f(baseline), the sum of scores and the convergence delta).
    """
    from captum.attr import IntegratedGradients

    from ..attribution import MaskScorer, explain

    scorer = MaskScorer(clf, text, target=target, absent="baseline")
    f = scorer.embedding_forward()
    scores, summary = {}, []
    for b in baselines:
        name, vector = baseline_embedding(clf, b)
        base = vector.to(f.tweet_embeds).expand_as(f.tweet_embeds).clone()
        with torch.enable_grad():
            attr, delta = IntegratedGradients(f).attribute(f.tweet_embeds, baselines=base, n_steps=n_steps,
                                                           return_convergence_delta=True, internal_batch_size=32)
        scores[f"IG from {name}"] = scorer.to_features(attr[0].sum(-1).detach().double().numpy())
        with torch.no_grad():
            f_base = float(f(base)[0])
        summary.append({"baseline": name, "f(tweet)": scorer.value_full, "f(baseline)": f_base,
                        "sum of scores": float(scores[f"IG from {name}"].sum()), "convergence delta": float(delta[0])})
    ixg = explain(clf, text, method="input_x_gradient", target=scorer.target)
    scores["input × gradient"] = ixg.scores
    return pd.DataFrame(scores, index=list(scorer.features)), pd.DataFrame(summary).set_index("baseline")


def owen_vs_shapley(clf, texts, budget: int | None = None, target=None) -> pd.DataFrame:
    """Partition SHAP (Owen values) against exact Shapley values, tweet by tweet (short tweets: 2^n evaluations).

    Returns per tweet the number of words, the largest |difference| as a share of the largest |Shapley value|,
    and the Spearman correlation of the two rankings.
    """
    from ..attribution import explain
    from ..evaluation import spearman

    rows = []
    for text in list(getattr(texts, "texts", texts)):
        exact = explain(clf, text, method="exact_shapley", target=target)
        owen = explain(clf, text, method="shap", budget=budget, target=exact.target)
        gap = np.abs(owen.scores - exact.scores).max() / max(np.abs(exact.scores).max(), 1e-12)
        rows.append({"tweet": text, "words": len(exact.features), "max |Owen - Shapley| / max |Shapley|": gap,
                     "Spearman": spearman(owen.scores, exact.scores), "SHAP evaluations": owen.n_evaluations,
                     "exact evaluations": exact.n_evaluations})
    return pd.DataFrame(rows)


def zeroing_vs_input_x_gradient(clf, texts, target=None) -> pd.DataFrame:
    """What input × gradient estimates (zeroing a word's embeddings) against what it gives, and against deletion.

    For each word: the real effect f(x) - f(x with the word's token embeddings set to zero), the input × gradient
    score (its first-order Taylor estimate) and the occlusion score (the word deleted). Returns per tweet the
    Spearman correlations between the three.
    """
    from ..attribution import MaskScorer, explain
    from ..evaluation import spearman

    rows = []
    for text in list(getattr(texts, "texts", texts)):
        scorer = MaskScorer(clf, text, target=target, absent="baseline")
        f = scorer.embedding_forward()
        x = f.tweet_embeds
        zeroed = []
        for i in range(scorer.n_features):
            z = x.clone()
            z[0, torch.as_tensor(scorer.token_feature) == i] = 0.0
            zeroed.append(z)
        with torch.no_grad():
            effects = float(f(x)[0]) - f(torch.cat(zeroed)).double().numpy()
        ixg = explain(clf, text, method="input_x_gradient", target=scorer.target).scores
        occ = explain(clf, text, method="feature_ablation", target=scorer.target).scores
        rows.append({"tweet": text[:50], "words": scorer.n_features,
                     "Spearman(input×gradient, zeroing effect)": spearman(ixg, effects),
                     "Spearman(zeroing effect, deletion effect)": spearman(effects, occ),
                     "Spearman(input×gradient, deletion effect)": spearman(ixg, occ)})
    return pd.DataFrame(rows)


def by_magnitude(explanations) -> list:
    """Copies ranked by |score| (method renamed "name |·|"), to compare an unsigned method like with like."""
    return [replace(e, scores=np.abs(np.asarray(e.scores, float)), method=f"{e.method} |·|") for e in explanations]
