"""Public shortcut to the exercise checks: `from interp_kit.checks import check_label_score`."""
from .lessons.checks import *  # noqa: F401,F403
from .lessons.checks import __all__  # noqa: F401
