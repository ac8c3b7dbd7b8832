"""The attribution methods by name: what each one is, what it costs, and how to run it.

Adding a method is adding one `AttributionMethod` to `METHODS`; `explain(clf, text, method=name)` finds it here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import gradient, perturbation

__all__ = ["AttributionMethod", "METHODS", "list_methods", "get_method", "register_method"]


@dataclass(frozen=True)
class AttributionMethod:
    """One attribution method.

    Args:
        name: the registry key, e.g. "shap".
        family: "perturbation" (scores masked texts) or "gradient" (differentiates through the embeddings).
        description: one line for `list_methods()`.
        run: (scorer, budget, seed, **options) -> (scores per feature, extras dict).
        budget_name: what `budget` means for this method (max_evals, n_samples, n_steps), or None.
        default_budget: the budget used when none is given.
        cost: (n_features, budget) -> model evaluations (forward passes over one sequence), before de-duplication.
        efficient: scores sum to f(all present) - f(all absent) (exactly or up to sampling/fit error).
        absent: what "absent" means by default ("delete" the tokens or put the "baseline" token in their place).
    """

    name: str
    family: str
    description: str
    run: Callable
    budget_name: str | None
    default_budget: int | None
    cost: Callable[[int, int | None], int]
    efficient: bool = False
    absent: str = "delete"

    def estimate_cost(self, n_features: int, budget: int | None = None) -> int:
        """Model evaluations for a text of `n_features` features (each gradient step counts forward + backward)."""
        return int(self.cost(n_features, budget if budget is not None else self.default_budget))

    def __str__(self) -> str:
        return self.description


def _shap_cost(n, budget):
    # Partition evaluates about 4 masks per split of its word hierarchy (n - 1 splits) plus the two ends
    return min(int(budget), 4 * max(n - 1, 0) + 2)


METHODS: dict[str, AttributionMethod] = {}


def register_method(method: AttributionMethod) -> AttributionMethod:
    """Add (or replace) a method in the registry."""
    METHODS[method.name] = method
    return method


for _m in [
    AttributionMethod("shap", "perturbation",
                      "SHAP Partition explainer with a text masker: Owen values over a hierarchy of word groups "
                      "(efficient; budget = max_evals)",
                      perturbation.shap_partition, "max_evals", 500, _shap_cost, efficient=True),
    AttributionMethod("feature_ablation", "perturbation",
                      "Captum FeatureAblation: f(all) - f(all but one word), one occlusion per word (n + 1 evals)",
                      perturbation.captum_feature_ablation, None, None, lambda n, b: n + 1),
    AttributionMethod("shapley_value_sampling", "perturbation",
                      "Captum ShapleyValueSampling: average marginal effect over random word orderings "
                      "(efficient; budget = n_samples orderings, n per ordering)",
                      perturbation.captum_shapley_value_sampling, "n_samples", 25, lambda n, b: b * n + 1,
                      efficient=True),
    AttributionMethod("kernel_shap", "perturbation",
                      "Captum KernelShap: Shapley-kernel weighted linear fit on random coalitions "
                      "(efficient up to the fit; budget = n_samples)",
                      perturbation.captum_kernel_shap, "n_samples", 200, lambda n, b: b, efficient=True),
    AttributionMethod("lime", "perturbation",
                      "Captum Lime: sparse linear surrogate on random coalitions near the tweet (budget = n_samples)",
                      perturbation.captum_lime, "n_samples", 200, lambda n, b: b),
    AttributionMethod("exact_shapley", "perturbation",
                      "Exact Shapley values by enumerating all 2^n coalitions (ground truth; short texts only)",
                      perturbation.exact_shapley, None, None, lambda n, b: 2 ** n, efficient=True),
    AttributionMethod("integrated_gradients", "gradient",
                      "Captum IntegratedGradients on the tweet's token embeddings from the baseline-token "
                      "embedding (completeness up to the convergence delta; budget = n_steps)",
                      gradient.integrated_gradients, "n_steps", 32, lambda n, b: b, efficient=True,
                      absent="baseline"),
    AttributionMethod("saliency", "gradient",
                      "Captum Saliency: L2 norm of the gradient at each token embedding (unsigned; 1 forward+backward)",
                      gradient.saliency, None, None, lambda n, b: 1, absent="baseline"),
    AttributionMethod("input_x_gradient", "gradient",
                      "Captum InputXGradient: embedding x gradient summed over the embedding (1 forward+backward)",
                      gradient.input_x_gradient, None, None, lambda n, b: 1, absent="baseline"),
]:
    register_method(_m)


def list_methods() -> dict[str, str]:
    """Method name -> one-line description (family, what it computes, what its budget means)."""
    return {name: f"[{m.family}] {m.description}" for name, m in METHODS.items()}


def get_method(name: str) -> AttributionMethod:
    """The registered method called `name`; an unknown name lists the available ones."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_") if isinstance(name, str) else name
    if key not in METHODS:
        raise ValueError(f"Unknown attribution method '{name}'. Available: {', '.join(METHODS)} "
                         "(see interp_kit.list_methods()).")
    return METHODS[key]
