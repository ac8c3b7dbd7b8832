"""The attribution methods by name (inseq's registry) behind one `attribute()` contract (captum's).

A method is a class with a name, a family, what its budget means, what it costs and one `attribute` method;
`@register_method` adds it and `explain(clf, text, method=name)` finds it. Adding a method is adding one class.
"""
from __future__ import annotations

import numpy as np

__all__ = ["AttributionMethod", "METHODS", "list_methods", "get_method", "register_method", "method_table"]


class AttributionMethod:
    """One attribution method. Subclasses set the class attributes and implement `attribute`.

    Attributes:
        name: the registry key, e.g. "shap".
        family: "perturbation" (scores masked texts), "gradient" (differentiates through the embeddings) or
            "internals" (reads the model's activations, e.g. attention).
        description: one line for `list_methods()`.
        citation: the paper the method comes from.
        budget_name: what `budget` means for this method (max_evals, n_samples, n_steps), or None.
        default_budget: the budget used when none is given.
        efficient: scores sum to f(all present) - f(all absent) (exactly or up to sampling/fit error).
        absent: what "absent" means by default ("delete" the tokens or put the "baseline" token in their place).
        absent_options: the meanings of "absent" the method supports.
    """

    name: str = ""
    family: str = "perturbation"
    description: str = ""
    citation: str = ""
    budget_name: str | None = None
    default_budget: int | None = None
    efficient: bool = False
    absent: str = "delete"
    absent_options: tuple[str, ...] = ("delete", "baseline")

    def cost(self, n_features: int, budget: int | None) -> int:
        """Model evaluations (forward passes over one sequence) before de-duplication."""
        return n_features + 1

    def estimate_cost(self, n_features: int, budget: int | None = None) -> int:
        """Model evaluations for a text of `n_features` features (each gradient step counts forward + backward)."""
        return int(self.cost(n_features, self.resolve_budget(budget)))

    def resolve_budget(self, budget: int | None) -> int | None:
        """The budget to run with: the given one for methods that take a budget, else the default (or None)."""
        return int(budget) if budget is not None and self.budget_name is not None else self.default_budget

    def check_absent(self, absent: str) -> str:
        """The meaning of "absent" to use, with a clear error for one this method cannot take."""
        absent = absent or self.absent
        if absent not in self.absent_options:
            if self.family == "gradient":
                raise ValueError(f"'{self.name}' is a gradient method: it cannot delete tokens, it compares the "
                                 "tweet's embeddings with the baseline token's embedding. Use absent='baseline' "
                                 "(or leave it None).")
            raise ValueError(f"'{self.name}' cannot use absent='{absent}': it supports {self.absent_options}.")
        return absent

    def attribute(self, scorer, budget: int | None = None, seed: int = 0, **options) -> tuple[np.ndarray, dict]:
        """Scores per feature of `scorer`'s tweet for its target, and a dict of method details."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.description

    def __repr__(self) -> str:
        return f"<{type(self).__name__} '{self.name}' ({self.family})>"


METHODS: dict[str, AttributionMethod] = {}


def register_method(method):
    """Add (or replace) a method in the registry; usable as a class decorator. Returns what it was given."""
    instance = method() if isinstance(method, type) else method
    if not instance.name:
        raise ValueError("An attribution method needs a name.")
    METHODS[instance.name] = instance
    return method


def list_methods(family: str | None = None) -> dict[str, str]:
    """Method name -> one-line description (family, what it computes, what its budget means)."""
    return {name: f"[{m.family}] {m.description}" for name, m in METHODS.items()
            if family is None or m.family == family}


def method_table(n_features: int, budgets: dict | None = None):
    """A DataFrame of the registered methods: family, what the budget means, the budget, and the model evaluations
    each would need for a text of `n_features` features (`budgets`: method name -> budget; default budgets else)."""
    import pandas as pd

    budgets = budgets or {}
    return pd.DataFrame([{"method": name, "family": m.family, "budget means": m.budget_name,
                          "budget": m.resolve_budget(budgets.get(name)),
                          "evaluations": m.estimate_cost(n_features, budgets.get(name)), "paper": m.citation}
                         for name, m in METHODS.items()]).set_index("method")


def get_method(name: str) -> AttributionMethod:
    """The registered method called `name`; an unknown name lists the available ones."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_") if isinstance(name, str) else name
    if key not in METHODS:
        raise ValueError(f"Unknown attribution method '{name}'. Available: {', '.join(METHODS)} "
                         "(see interp_kit.list_methods()).")
    return METHODS[key]


from . import perturbation, gradient  # noqa: E402,F401,I001  (the built-in methods register themselves, in this order)
