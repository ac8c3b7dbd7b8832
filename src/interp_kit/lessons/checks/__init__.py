"""Exercise checks in the style of ARENA: the student writes a small function, a check runs it beside the
library's own implementation on real tweets, and prints that it passed or says where it first differs.

Each lesson's checks live in their own module here (`lesson01.py`, ...) and register with `@exercise`; every
module in this package is imported, so a new lesson's checks need no list kept by hand.
    >>> from interp_kit.checks import check_label_score
    >>> check_label_score(my_label_score, clf)      # prints "✓ check_label_score passed ..." or raises CheckFailed
"""
from __future__ import annotations

import importlib
import pkgutil

from ._core import CheckFailed, EXERCISES, Exercise, assert_matches, exercise, list_exercises, passed

__all__ = ["CheckFailed", "Exercise", "EXERCISES", "exercise", "list_exercises", "assert_matches", "passed"]

for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        _module = importlib.import_module(f"{__name__}.{_info.name}")
        for _name in getattr(_module, "__all__", []):
            globals()[_name] = getattr(_module, _name)
            __all__.append(_name)
