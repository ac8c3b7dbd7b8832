"""The machinery every exercise check shares: a registry, a comparison that explains itself, pass/fail."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["CheckFailed", "Exercise", "EXERCISES", "exercise", "list_exercises", "assert_matches", "passed"]


class CheckFailed(AssertionError):
    """The student's function differs from the library's; the message says where, in words, and hints why."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: the lesson it belongs to, what the student writes, and the check that verifies it."""

    lesson: str  # "01" ... "08"
    name: str  # the check function's name, e.g. "check_label_score"
    task: str  # one line: what the student's function must do
    check: Callable


#: check name -> Exercise, filled by `@exercise` in each lesson's module.
EXERCISES: dict[str, Exercise] = {}


def exercise(lesson: str, task: str):
    """Register a check function as the exercise of `lesson` whose student function does `task`."""

    def register(check: Callable) -> Callable:
        EXERCISES[check.__name__] = Exercise(lesson, check.__name__, task, check)
        return check

    return register


def list_exercises(lesson: str | None = None) -> dict[str, str]:
    """Check name -> "lesson NN: task", for one lesson or all."""
    return {name: f"lesson {e.lesson}: {e.task}" for name, e in sorted(EXERCISES.items(), key=lambda kv: kv[1].lesson)
            if lesson is None or e.lesson == str(lesson).zfill(2)}


def _as_array(value):
    try:
        import torch

        if isinstance(value, torch.Tensor):
            return value.detach().cpu().double().numpy()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return np.asarray(value, dtype=float)


def assert_matches(got, want, what: str, atol: float = 1e-4, rtol: float = 1e-4, names=None, hint: str = "") -> None:
    """Raise CheckFailed unless `got` equals `want` (numbers, arrays, tensors; strings and lists of strings exactly).

    Args:
        what: what is being compared, in the student's words ("the label score of 'I love it'").
        names: labels of the entries (e.g. the tweet's words), to say which entry differs first.
        hint: a likely cause, added to the message.
    """
    tail = f"\n  Hint: {hint}" if hint else ""
    if isinstance(want, str) or (isinstance(want, (list, tuple)) and want and isinstance(want[0], str)):
        if list(np.atleast_1d(got)) != list(np.atleast_1d(want)):
            raise CheckFailed(f"{what}: expected {want!r}, got {got!r}.{tail}")
        return
    try:
        g = _as_array(got)
    except (TypeError, ValueError) as exc:
        raise CheckFailed(f"{what}: expected numbers, got {type(got).__name__} ({exc}).{tail}") from None
    w = _as_array(want)
    if g.shape != w.shape:
        raise CheckFailed(f"{what}: expected shape {w.shape}, got shape {g.shape}.{tail}")
    if np.isnan(g).any() and not np.isnan(w).any():
        raise CheckFailed(f"{what}: your result contains NaN.{tail}")
    close = np.isclose(g, w, atol=atol, rtol=rtol, equal_nan=True)
    if not close.all():
        i = np.unravel_index(int(np.argmin(close)), close.shape) if g.ndim else ()
        where = ""
        if g.ndim:
            flat = int(np.ravel_multi_index(i, g.shape))
            label = names[flat] if names is not None and flat < len(names) else None
            where = f" at {label!r}" if label is not None else f" at index {tuple(int(x) for x in i)}"
        raise CheckFailed(f"{what}{where}: expected {float(w[i]):.6g}, got {float(g[i]):.6g} "
                          f"(tolerance {atol:g} + {rtol:g}·|expected|).{tail}")


def passed(name: str, detail: str) -> bool:
    """Print the success line of a check and return True."""
    print(f"✓ {name} passed: {detail}")
    return True
