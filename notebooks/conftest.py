"""nbval over the lessons: the tiny 'ci' profile unless a profile is chosen, and a secret scan of every output.

Without a real token (and without a GPU, where a token would pick a gated model) the kernel gets a token-shaped
fake HF_TOKEN, so the scan proves the lessons never echo the token they were given.
"""
import json
import os

import pytest

os.environ.setdefault("INTERP_KIT_PROFILE", "ci")
if not os.environ.get("HF_TOKEN"):
    import torch

    if not torch.cuda.is_available():
        os.environ["HF_TOKEN"] = "hf_" + "NotARealTokenNbvalSecretScan0123456789"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """After each executed notebook cell, fail it if any output holds something that looks like a token."""
    yield
    outputs = getattr(item, "test_outputs", None)
    if outputs:
        from interp_kit.runtime import find_secrets

        found = find_secrets(json.dumps(outputs, default=str), extra=(os.environ.get("HF_TOKEN", ""),))
        if found:
            pytest.fail(f"cell output contains token-like text {found}: never print or display a token")


_notebook_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Add up each lesson's cell times (every phase) for the summary below."""
    if report.nodeid.endswith(".ipynb") or ".ipynb::" in report.nodeid:
        name = report.nodeid.split("::")[0].rsplit("/", 1)[-1]
        _notebook_seconds[name] = _notebook_seconds.get(name, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if _notebook_seconds:
        terminalreporter.write_sep("-", "lesson run times under nbval (kernel start included)")
        for name, seconds in sorted(_notebook_seconds.items()):
            terminalreporter.write_line(f"{name:45s} {seconds:7.1f} s")
