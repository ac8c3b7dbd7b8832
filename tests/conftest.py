"""Shared fixtures: the real offline model (loaded once per session) and real data paths."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("INTERP_KIT_SHARED_DATA", REPO.parent / "shared" / "data" / "tweet_sentiment_extraction"))


@pytest.fixture(scope="session")
def runtime():
    from interp_kit import setup

    return setup(seed=0, verbose=False)


@pytest.fixture(scope="session")
def model_and_tokenizer(runtime):
    from interp_kit import load_model

    return load_model("offline", runtime)


@pytest.fixture(scope="session")
def clf(model_and_tokenizer):
    """The zero-shot binary classifier on the offline model (never fine-tuned in place by tests)."""
    from interp_kit import ZeroShotClassifier

    model, tokenizer = model_and_tokenizer
    return ZeroShotClassifier(model, tokenizer, ("negative", "positive"))


@pytest.fixture(scope="session")
def kaggle_test_csv():
    path = SHARED_DATA / "test.csv"
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set INTERP_KIT_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def kaggle_train_csv():
    path = SHARED_DATA / "train.csv"
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set INTERP_KIT_SHARED_DATA)")
    return path


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
