"""Classification metrics by hand, and the interp-kit command end to end on the offline model."""
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from interp_kit import classification_metrics


def test_classification_metrics_by_hand():
    m = classification_metrics([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], ["negative", "positive"])
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["confusion_matrix"] == [[1, 1], [1, 2]]
    assert m["per_class"]["positive"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["negative"]["recall"] == pytest.approx(1 / 2)
    mcc = (1 * 2 - 1 * 1) / np.sqrt(2 * 3 * 2 * 3)  # (tp*tn - fp*fn)/sqrt(...)
    assert m["mcc"] == pytest.approx(mcc)


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "interp_kit", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


@pytest.mark.slow
def test_run_writes_zero_shot_results(tmp_path, kaggle_test_csv):
    secret = "hf_" + "s" * 34
    out = tmp_path / "out"
    r = _cli("run", "--data", str(kaggle_test_csv), "--eval-subset", "40", "--output-dir", str(out),
             "--huggingface-token", secret)
    assert r.returncode == 0, r.stderr[-2000:]
    metrics = json.loads((out / "zero_shot_metrics.json").read_text())
    assert metrics["n"] == 40 and 0 <= metrics["accuracy"] <= 1 and len(metrics["predictions"]) == 40
    assert (out / "zero_shot_confusion_matrix.png").stat().st_size > 1000
    assert "huggingface_token" not in json.loads((out / "run_settings.json").read_text())["settings"]
    for f in out.rglob("*"):  # nothing secret in any output, and nothing half-written
        assert not f.name.endswith(".tmp")
        if f.is_file() and f.suffix in {".json", ".txt", ".csv"}:
            assert secret not in f.read_text()
    assert secret not in r.stdout + r.stderr


def test_missing_column_fails_early_with_the_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"tweet": ["hi"], "sentiment": ["positive"]}).to_csv(bad, index=False)
    r = _cli("run", "--data", str(bad), "--output-dir", str(tmp_path / "o"))
    assert r.returncode == 2 and "columns found" in r.stderr and "Traceback" not in r.stderr


def test_unwritable_output_dir_fails_before_any_work(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = _cli("run", "--output-dir", str(blocker / "out"))
    assert r.returncode == 2 and "Cannot write to output folder" in r.stderr


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the no-GPU error")
def test_4bit_flag_without_gpu_is_a_clear_error(tmp_path):
    r = _cli("run", "--load-in-4bit", "--output-dir", str(tmp_path / "o"))
    assert r.returncode == 2 and "needs a CUDA GPU" in r.stderr


@pytest.mark.slow
def test_full_run_writes_every_seed_artifact(tmp_path):
    out = tmp_path / "full"
    r = _cli("run", "--finetune", "--run-shap", "--train-subset", "8", "--eval-subset", "8", "--shap-subset", "2",
             "--shap-budget", "20", "--output-dir", str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    for name in ["zero_shot_metrics.json", "fine_tuned_metrics.json", "metrics_comparison.png", "zero_shot_shap.json",
                 "fine_tuned_shap.json", "zero_shot_shap_summary.png", "fine_tuned_shap_summary.png",
                 "interpretability_metrics.json", "lora_adapter/interp_kit_adapter.json", "run_settings.json"]:
        assert (out / name).exists(), name
    report = json.loads((out / "interpretability_metrics.json").read_text())
    assert {"zero_shot", "fine_tuned"} <= set(report["faithfulness"]) and "zero_shot_vs_fine_tuned" in report
    shap = json.loads((out / "zero_shot_shap.json").read_text())["explanations"]
    for e in shap:  # SHAP is efficient: the scores add up to f(all words) - f(no words)
        assert abs(sum(e["scores"]) - (e["value_full"] - e["value_empty"])) < 1e-3
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


@pytest.mark.slow
def test_interrupted_run_leaves_only_complete_files(tmp_path):
    """Ctrl-C while fine-tuning: the zero-shot files are whole, nothing is half-written, exit code 130."""
    import signal
    import threading
    import time

    out = tmp_path / "out"
    # A shell's background job inherits SIGINT ignored; the child restores the default handler, so the test does
    # not depend on how pytest was launched.
    proc = subprocess.Popen([sys.executable, "-m", "interp_kit", "run", "--finetune", "--train-subset", "64",
                             "--eval-subset", "16", "--output-dir", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    err_lines, training = [], threading.Event()

    def read_stderr():  # the fine-tuning bar's first step says training is under way (no fixed sleep)
        for line in iter(proc.stderr.readline, ""):
            err_lines.append(line)
            if "fine-tuning" in line and "step" in line:
                training.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    deadline = time.time() + 300
    while not training.is_set() and proc.poll() is None and time.time() < deadline:
        training.wait(0.2)
    assert proc.poll() is None and training.is_set(), "the run ended before fine-tuning could be interrupted"
    assert (out / "zero_shot_metrics.json").exists()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    reader.join(timeout=10)
    err = "".join(err_lines)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, err[-1500:]
    names = sorted(p.name for p in out.iterdir())
    assert "zero_shot_metrics.json" in names and "run_settings.json" not in names, names
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")], names  # no temporary leftovers
    for f in out.glob("*.json"):
        json.loads(f.read_text())  # every JSON there parses: written whole
