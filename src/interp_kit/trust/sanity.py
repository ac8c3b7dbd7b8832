"""Sanity checks for explanations (Adebayo et al. 2018, "Sanity checks for saliency maps", NeurIPS).

An explanation that stays the same when the model no longer knows anything cannot be explaining the model. Three
randomisations, each on a copy (the user's model is never modified):

* **Cascading model randomisation**: re-initialise the weights from the top down, the output head first, then the
  decoder layers in blocks, then the input embeddings, and explain again after each step.
* **Adapter randomisation**: re-draw the fine-tuned LoRA adapter's A and B matrices (at the trained matrices' own
  scale, so B is not zero and the adapter still changes the model).
* **Data randomisation**: fine-tune the same way on the same tweets with their labels shuffled.

After each step, each tweet's new scores are compared with the original ones by Spearman rank correlation of the
signed scores and of their absolute values (the paper's two similarity measures). A method *fails* a test when its
explanations stay similar (either correlation, averaged over tweets, at or above a threshold) after that
randomisation: it then shows something other than what the model learned.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from ..attribution import explain
from ..engine import decoder_layers, lora_layers
from ..evaluation.statistics import collect_reasons, spearman
from ._common import classifier_on

__all__ = ["DEFAULT_SANITY_METHODS", "RandomizationStep", "SanityResult", "cascade_steps", "randomize_",
           "randomize_adapter_", "randomized_classifier", "shuffled_label_classifier", "randomization_sweep",
           "rank_similarity", "plot_sanity_checks"]

#: Methods compared by default: perturbation (SHAP, occlusion) and gradient (IG, input x gradient, saliency).
DEFAULT_SANITY_METHODS = ("shap", "feature_ablation", "integrated_gradients", "input_x_gradient", "saliency")


@dataclass(frozen=True)
class RandomizationStep:
    """One randomisation: its name, its kind ("cascade", "adapter" or "data") and the modules it re-initialises
    (qualified names in the model; cascade steps add to the steps before them)."""

    name: str
    kind: str
    modules: tuple[str, ...] = ()


def _names(model) -> dict[int, str]:
    return {id(m): n for n, m in model.named_modules()}


def _base(model):
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def cascade_steps(model, n_steps: int | None = 4, embeddings: bool = True) -> list[RandomizationStep]:
    """The cascading randomisation of `model` from the top down: head, decoder layers in blocks, embeddings.

    Args:
        model: the classifier's model (plain or PeftModel).
        n_steps: the decoder layers are randomised in this many blocks of (about) equal size, top block first;
            None gives one step per layer, as in the paper.
        embeddings: end with the input embeddings (the last thing the model knows: which token is which).
    """
    names = _names(model)
    base = _base(model)
    head = [base.get_output_embeddings()]
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else getattr(base, "model", None)
    if getattr(decoder, "norm", None) is not None:
        head.append(decoder.norm)
    layers = list(decoder_layers(model))
    n = len(layers)
    blocks = n if n_steps is None else max(1, min(int(n_steps), n))
    bounds = np.linspace(n, 0, blocks + 1).round().astype(int)  # top down
    steps = [RandomizationStep("head", "cascade", tuple(names[id(m)] for m in head if m is not None))]
    for hi, lo in zip(bounds[:-1], bounds[1:]):
        label = f"layer {lo}" if hi - lo == 1 else f"layers {hi - 1}–{lo}"
        steps.append(RandomizationStep(label, "cascade", tuple(names[id(layers[i])] for i in range(hi - 1, lo - 1, -1))))
    if embeddings:
        steps.append(RandomizationStep("embeddings", "cascade", (names[id(base.get_input_embeddings())],)))
    return steps


def _check_full_precision(model) -> None:
    if any(type(m).__name__ in ("Linear4bit", "Linear8bitLt") for m in model.modules()):
        raise ValueError("Randomisation re-draws weights, which needs a full-precision model; this one is loaded in "
                         "4/8-bit. Load it with load_model(..., load_in_4bit=False) (the offline model, "
                         "qwen2.5-0.5b and Llama 3.2 1B fit a free T4 in 16-bit).")


def _untie_head(model) -> None:
    """Give the output head its own weight when it shares it with the input embeddings (SmolLM2, Qwen2.5 do), so
    randomising the head leaves the embeddings alone."""
    base = _base(model)
    out, inp = base.get_output_embeddings(), base.get_input_embeddings()
    if out is not None and out.weight is inp.weight:
        out.weight = torch.nn.Parameter(out.weight.detach().clone(), requires_grad=out.weight.requires_grad)


@torch.no_grad()
def randomize_(model, step: RandomizationStep, seed: int = 0, std: float | None = None):
    """Re-initialise, in place, the modules of one cascade step (use it on a copy: `randomized_classifier`).

    Matrices are drawn from N(0, std²) with std = the model's `initializer_range` (0.02 for Llama-style models),
    norm weights are set to 1 and biases to 0: the weights of a freshly initialised model. LoRA matrices inside a
    randomised layer are re-drawn too.
    """
    _check_full_precision(model)
    config = getattr(_base(model), "config", None)
    std = float(std if std is not None else getattr(config, "initializer_range", 0.02))
    names = _names(model)
    base = _base(model)
    if {names.get(id(base.get_output_embeddings())), names.get(id(base.get_input_embeddings()))} & set(step.modules):
        _untie_head(model)  # randomising one of two tied matrices must not randomise the other
    generator = torch.Generator().manual_seed(seed)
    for name in step.modules:
        for pname, p in model.get_submodule(name).named_parameters():
            if p.ndim >= 2:
                p.copy_((torch.randn(p.shape, generator=generator) * std).to(p.dtype))
            elif pname.endswith("bias"):
                p.zero_()
            else:  # RMSNorm / LayerNorm weights
                p.fill_(1.0)
    return model


@torch.no_grad()
def randomize_adapter_(model, adapter_name: str | None = None, seed: int = 0):
    """Re-draw a LoRA adapter's A and B matrices in place, each from N(0, s²) with s its own trained std.

    peft's initialisations keep B = 0 (the adapter then does nothing) or depend on the base weights; a random adapter
    at the trained adapter's scale perturbs the model as much as training did, with none of what it learned.

    Args:
        adapter_name: which adapter (default: every adapter active in the LoRA layers).
    """
    layers = lora_layers(model)
    if not layers:
        raise ValueError("This model has no LoRA adapter to randomise; fine-tune it first (fine_tune) or use the "
                         "cascading randomisation.")
    generator = torch.Generator().manual_seed(seed)
    changed = 0
    for layer in layers:
        names = [adapter_name] if adapter_name else list(layer.active_adapters)
        for part in (layer.lora_A, layer.lora_B):
            for name in names:
                if name in part:
                    w = part[name].weight
                    s = float(w.detach().float().std()) or 0.02
                    w.copy_((torch.randn(w.shape, generator=generator) * s).to(w.dtype))
                    changed += 1
    if not changed:
        raise ValueError(f"No LoRA layer holds an adapter named {adapter_name!r}.")
    return model


def randomized_classifier(classifier, steps=(), adapter: bool = False, seed: int = 0):
    """A copy of `classifier` on a deep copy of its model with `steps` (cascade steps) randomised and, with
    `adapter`, its LoRA adapter re-drawn. The classifier passed in is left exactly as it was."""
    if steps:  # re-drawing base weights needs full precision; re-drawing the adapter alone works on 4-bit too
        _check_full_precision(classifier.model)
    clone = classifier_on(classifier)
    for i, step in enumerate(steps):
        randomize_(clone.model, step, seed=seed + i)
    if adapter:
        name = classifier.engine.adapter if isinstance(classifier.engine.adapter, str) else None
        randomize_adapter_(clone.model, name, seed=seed)
    clone.clear_prefix_cache()
    return clone


def shuffled_label_classifier(classifier, tweets, seed: int = 0, progress: bool = False, **fine_tune_kwargs):
    """Data randomisation: fine-tune a copy of the base model on `tweets` with their labels shuffled.

    The labels are permuted (class counts kept) with `numpy.random.default_rng(seed)`. A fine-tuned classifier's own
    training settings (epochs, lr, batch size, LoRA rank...) are reused unless given in `fine_tune_kwargs`, so the
    only difference from the real model is the labels. The user's model is not touched (a deep copy is trained).
    """
    from ..training import fine_tune

    if len(tweets) < 2:
        raise ValueError("Shuffling labels needs at least two tweets.")
    model = copy.deepcopy(classifier.model)
    if hasattr(model, "unload"):  # a PeftModel (fine-tuned, or the base of a fine-tune): train from its bare base
        model = model.unload()
    copy_clf = classifier_on(classifier, model=model, adapter=None)  # fine_tune adds a fresh adapter to the copy
    settings = {k: v for k, v in getattr(classifier, "training_settings", {}).items()
                if k in ("epochs", "lr", "batch_size", "grad_accum", "r", "alpha", "dropout", "target_modules",
                         "max_steps", "weight_decay", "max_grad_norm", "schedule")}
    settings.update(fine_tune_kwargs)
    rng = np.random.default_rng(seed)
    shuffled = replace(tweets, labels=[tweets.labels[i] for i in rng.permutation(len(tweets))])
    return fine_tune(copy_clf, shuffled, seed=seed, progress=progress, **settings).classifier


def rank_similarity(a, b) -> tuple[float, float]:
    """(Spearman of the signed scores, Spearman of the absolute scores) between two explanations of one tweet.

    The paper's two measures: the signed one sees a sign flip as a change, the absolute one asks only whether the
    same words matter. NaN (with a reason) for a one-word tweet or constant scores.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    return spearman(a, b), spearman(np.abs(a), np.abs(b))


@dataclass
class SanityResult:
    """What `randomization_sweep` measured: one row per (step, method, tweet) in `table`, the explanations kept.

    Attributes:
        table: columns step, kind, step_index, method, text, spearman, spearman_abs, same_prediction, nan_reason.
        steps: the randomisation steps in order (the original model is step 0, "original").
        explanations: {(step name, method): [Explanation per tweet]}, the original model's under "original".
        accuracy: {step name: share of tweets whose predicted label is still the original model's}.
    """

    table: pd.DataFrame
    steps: list[RandomizationStep]
    methods: tuple[str, ...]
    explanations: dict = field(default_factory=dict, repr=False)
    accuracy: dict = field(default_factory=dict)

    def similarity(self) -> pd.DataFrame:
        """Mean rank correlations per step (rows) and method (columns, signed and absolute)."""
        order = {s.name: i for i, s in enumerate(self.steps)}
        out = self.table.groupby(["step", "method"], sort=False)[["spearman", "spearman_abs"]].mean().unstack("method")
        return out.loc[sorted(out.index, key=order.get)]

    def summary(self, threshold: float = 0.5) -> pd.DataFrame:
        """Which methods pass: per method, the mean similarity after each test and whether it fell below `threshold`.

        Tests: the full cascade (the last cascade step), the randomised adapter and the shuffled labels, where run.
        A method passes a test when both mean rank correlations (signed and absolute) are below `threshold`;
        `passes` is True only when it passes every test run.
        """
        tests = []
        cascade = [s for s in self.steps if s.kind == "cascade"]
        if cascade:
            tests.append(("full cascade", cascade[-1].name))
        tests += [(s.name, s.name) for s in self.steps if s.kind in ("adapter", "data")]
        rows = []
        for method in self.methods:
            row = {"method": method}
            ok = []
            for label, step in tests:
                part = self.table[(self.table.step == step) & (self.table.method == method)]
                signed, absolute = part.spearman.mean(), part.spearman_abs.mean()
                row[f"{label}: ρ"] = signed
                row[f"{label}: ρ|·|"] = absolute
                passed = bool(np.nanmax([signed, absolute]) < threshold) if not (math.isnan(signed) and
                                                                                  math.isnan(absolute)) else False
                row[f"{label}: passes"] = passed
                ok.append(passed)
            row["passes"] = all(ok) if ok else False
            rows.append(row)
        return pd.DataFrame(rows).set_index("method")

    def plot(self, ax=None):
        """Adebayo et al.'s Fig. 2: similarity to the original explanation after each step (see `plot_sanity_checks`)."""
        return plot_sanity_checks(self, ax=ax)


def randomization_sweep(classifier, texts, methods=DEFAULT_SANITY_METHODS, n_steps: int | None = 4,
                        budget: int | None = None, budgets: dict | None = None, randomize_adapter: bool | None = None,
                        shuffled=None, embeddings: bool = True, seed: int = 0,
                        progress: bool | None = None) -> SanityResult:
    """Explain `texts` with each method on the model, then again after each randomisation, and compare.

    Each tweet's explained label is fixed to the original model's prediction, so every step explains the same
    quantity. The cascade runs on one deep copy whose weights are re-initialised a block at a time (cumulatively,
    as in the paper); the adapter randomisation on another copy; the data randomisation uses the classifier given
    as `shuffled` (from `shuffled_label_classifier`). The classifier passed in is never modified.

    Args:
        classifier: a zero-shot or fine-tuned classifier (full precision).
        texts: tweets (strings or a `Tweets` set).
        methods: attribution methods (`list_methods()`).
        n_steps: blocks of decoder layers in the cascade (None: one per layer); 0 skips the cascade.
        budget, budgets: one budget for every method, or {method: budget}.
        randomize_adapter: re-draw the LoRA adapter as its own test (default: when the classifier runs one).
        shuffled: the classifier fine-tuned on shuffled labels (data randomisation), or None to skip that test.
        embeddings: end the cascade with the input embeddings.
        seed: seeds the re-initialisations and the sampling methods.
    """
    texts = list(getattr(texts, "texts", texts))
    if not texts:
        raise ValueError("No tweets to explain.")
    methods = tuple(methods)
    budgets = dict(budgets or {})
    if randomize_adapter is None:
        randomize_adapter = bool(classifier.use_adapter)
    if randomize_adapter and not classifier.use_adapter:
        raise ValueError("randomize_adapter=True needs a fine-tuned classifier (one with a LoRA adapter on).")
    targets = classifier.predict(texts)
    original_pred = list(targets)
    steps: list[RandomizationStep] = [RandomizationStep("original", "original")]
    cascade = cascade_steps(classifier.model, n_steps, embeddings) if n_steps != 0 else []
    steps += cascade
    if cascade:  # before any explanation is computed
        _check_full_precision(classifier.model)
    if shuffled is not None and tuple(shuffled.label_names) != tuple(classifier.label_names):
        raise ValueError("The shuffled-label classifier has other labels than the classifier.")
    if randomize_adapter:
        steps.append(RandomizationStep("LoRA adapter", "adapter"))
    if shuffled is not None:
        steps.append(RandomizationStep("shuffled labels", "data"))
    n_runs = len(steps) * len(methods) * len(texts)
    bar = tqdm(total=n_runs, desc="sanity checks", unit="explanation",
               disable=not (progress if progress is not None else True))

    explanations: dict = {}
    accuracy: dict = {}

    def run(step: RandomizationStep, clf):
        pred = clf.predict(texts)
        accuracy[step.name] = float(np.mean([a == b for a, b in zip(pred, original_pred)]))
        for method in methods:
            explanations[(step.name, method)] = [
                explain(clf, t, method=method, target=tg, budget=budgets.get(method, budget), seed=seed)
                for t, tg in zip(texts, targets)]
            bar.update(len(texts))

    try:
        run(steps[0], classifier)
        if cascade:
            clone = classifier_on(classifier)
            for i, step in enumerate(cascade):
                randomize_(clone.model, step, seed=seed + i)
                clone.clear_prefix_cache()
                run(step, clone)
            del clone
        if randomize_adapter:
            run(next(s for s in steps if s.kind == "adapter"), randomized_classifier(classifier, adapter=True,
                                                                                   seed=seed))
        if shuffled is not None:
            run(steps[-1], shuffled)
    finally:
        bar.close()

    rows = []
    for step_index, step in enumerate(steps):
        for method in methods:
            for text, before, after in zip(texts, explanations[("original", method)],
                                           explanations[(step.name, method)]):
                with collect_reasons() as reasons:
                    signed, absolute = rank_similarity(before.scores, after.scores)
                rows.append({"step": step.name, "kind": step.kind, "step_index": step_index, "method": method,
                             "text": text, "spearman": signed, "spearman_abs": absolute,
                             "same_prediction": after.prediction == before.prediction,
                             "nan_reason": "; ".join(reasons)})
    return SanityResult(pd.DataFrame(rows), steps, methods, explanations, accuracy)


def plot_sanity_checks(result: SanityResult, ax=None):
    """Similarity to the original explanation after each randomisation step, one line per method.

    Two panels like Adebayo et al. (2018), Fig. 2: Spearman rank correlation of the signed scores and of their
    absolute values, averaged over tweets; the x axis goes from the original model through the cascade (head
    first) to the adapter and data randomisations. Lines that stay high mark methods that fail the check.
    """
    import matplotlib.pyplot as plt

    sim = result.similarity()
    names = list(sim.index)
    if ax is None:
        fig, axes = plt.subplots(1, 2, figsize=(max(8, 1.1 * len(names) + 4), 3.8), sharey=True)
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    x = np.arange(len(names))
    cascade_end = max([i for i, n in enumerate(names) if n == "original" or
                       any(s.name == n and s.kind == "cascade" for s in result.steps)] or [0])
    for panel, (column, title) in zip(axes, [("spearman", "rank correlation (signed)"),
                                             ("spearman_abs", "rank correlation (absolute)")]):
        for method in result.methods:
            y = sim[(column, method)].to_numpy(float)
            line, = panel.plot(x[:cascade_end + 1], y[:cascade_end + 1], marker="o", label=method)
            if len(x) > cascade_end + 1:
                panel.plot(x[cascade_end + 1:], y[cascade_end + 1:], marker="s", linestyle="none",
                           color=line.get_color())
        panel.axhline(0, color="grey", linewidth=0.8)
        if cascade_end + 1 < len(x):
            panel.axvline(cascade_end + 0.5, color="grey", linestyle=":", linewidth=0.8)
        panel.set_xticks(x)
        panel.set_xticklabels(names, rotation=40, ha="right")
        panel.set_ylim(-1.05, 1.05)
        panel.set_title(title)
    axes[0].set_ylabel("similarity to the original explanation")
    axes[-1].legend(fontsize=8, loc="lower left")
    fig.suptitle("Sanity checks (Adebayo et al. 2018): cascading randomisation, top layers first")
    fig.tight_layout()
    return fig
