"""Shared fixtures: the real offline model (loaded once per session) and real data paths."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def runtime():
    from interp_kit import setup

    return setup(seed=0, verbose=False)


_SHARED: dict = {}  # the session's shared model, once a test has asked for it


@pytest.fixture(scope="session")
def model_and_tokenizer(runtime):
    from interp_kit import load_model

    _SHARED["model"], tokenizer = load_model("offline", runtime)
    return _SHARED["model"], tokenizer


@pytest.fixture(scope="module")
def fresh_clf(model_and_tokenizer):
    """A zero-shot classifier on the module's own copy of the model, for tests that fine-tune.

    `fine_tune` injects LoRA layers into the model it is given; on the shared model that would change every later
    test's zero-shot model, so the results would depend on the order the tests run in.
    """
    import copy

    from interp_kit import ZeroShotClassifier

    model, tokenizer = model_and_tokenizer
    return ZeroShotClassifier(copy.deepcopy(model), tokenizer, ("negative", "positive"))


@pytest.fixture(scope="module", autouse=True)
def shared_model_stays_zero_shot():
    """Fail the module that left LoRA layers in the shared model (use `fresh_clf` to fine-tune)."""
    yield
    if "model" in _SHARED:
        from interp_kit.engine.adapters import has_adapter

        assert not has_adapter(_SHARED["model"]), \
            "this module fine-tuned the shared model in place: give its fine-tuning tests the `fresh_clf` fixture"


@pytest.fixture(scope="session")
def clf(model_and_tokenizer):
    """The zero-shot binary classifier on the offline model (never fine-tuned in place by tests)."""
    from interp_kit import ZeroShotClassifier

    model, tokenizer = model_and_tokenizer
    return ZeroShotClassifier(model, tokenizer, ("negative", "positive"))


@pytest.fixture(scope="session")
def kaggle_test_csv():
    """The shipped sample of Kaggle's test.csv (real tweets, in the repository: never skipped)."""
    from interp_kit.data import sample_path

    return sample_path("tweets-test")


@pytest.fixture(scope="session")
def kaggle_train_csv():
    """The shipped sample of Kaggle's train.csv, with the human `selected_text` rationales."""
    from interp_kit.data import sample_path

    return sample_path("tweets-train")


class _DeprecationLog:
    """Collects the deprecation notices transformers logs (not warns) when it is called the old way."""

    def __init__(self):
        import logging

        self.records = []
        self.handler = logging.Handler(level=logging.WARNING)
        self.handler.emit = lambda record: self.records.append(record.getMessage()) \
            if "deprecated" in record.getMessage().lower() else None


@pytest.fixture(autouse=True)
def no_deprecated_transformers_calls():
    """Fail a test whose calls make transformers log a deprecation (its warnings are errors via pyproject)."""
    import logging

    log = _DeprecationLog()
    logger = logging.getLogger("transformers")
    logger.addHandler(log.handler)
    try:
        yield
    finally:
        logger.removeHandler(log.handler)
    if log.records:
        pytest.fail(f"the kit called transformers in a deprecated way: {log.records}")


# Skips the suite may have anywhere: a test that needs the Hugging Face hub or a CUDA GPU (or one that checks the
# error raised without them). With INTERP_KIT_STRICT_SKIPS=1 (set by .ci/run) any other skip fails the run.
ALLOWED_SKIP_WORDS = ("hugging face hub", "gpu", "cuda")
_unexpected_skips: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = str(report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr)
        if not any(word in reason.lower() for word in ALLOWED_SKIP_WORDS):
            _unexpected_skips.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("INTERP_KIT_STRICT_SKIPS") == "1" and _unexpected_skips:
        print("\nSkipped for a reason other than the hub or a GPU (INTERP_KIT_STRICT_SKIPS=1 fails the run):\n  "
              + "\n  ".join(_unexpected_skips))
        session.exitstatus = 1
