"""Bad input and interruptions: clear errors, documented handling, nothing half-written, no secrets."""
import json
import os
import re
from pathlib import Path

import pytest

from interp_kit.io import atomic_dir, atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{30,}")


class Unserializable:
    pass


def test_interrupted_json_write_leaves_nothing(tmp_path):
    target = tmp_path / "zero_shot_metrics.json"
    with pytest.raises(TypeError):
        atomic_write_json(target, {"accuracy": 0.9, "bad": Unserializable()})
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_interrupted_json_rewrite_keeps_the_old_file(tmp_path):
    target = tmp_path / "m.json"
    atomic_write_json(target, {"accuracy": 0.5})
    with pytest.raises(KeyboardInterrupt):
        with atomic_dir(tmp_path / "adapter") as tmp:
            (tmp / "weights.bin").write_bytes(b"123")
            raise KeyboardInterrupt  # Ctrl-C midway
    assert json.loads(target.read_text()) == {"accuracy": 0.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


def test_atomic_dir_replaces_an_old_folder_whole(tmp_path):
    with atomic_dir(tmp_path / "a") as tmp:
        (tmp / "one").write_text("1")
    with atomic_dir(tmp_path / "a") as tmp:
        (tmp / "two").write_text("2")
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["two"]
    assert [p.name for p in tmp_path.iterdir()] == ["a"]


def test_nan_is_written_as_null(tmp_path):
    atomic_write_json(tmp_path / "x.json", {"spearman": float("nan")})
    assert json.loads((tmp_path / "x.json").read_text()) == {"spearman": None}


def test_no_token_in_committed_files():
    """Nothing that looks like a Hugging Face token in the repository's text files (notebooks included)."""
    import subprocess

    # the files git would commit (tracked, and untracked ones it does not ignore): never .venv or caches
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    paths = [ROOT / p for p in listed]
    assert any(p.suffix == ".ipynb" for p in paths)
    for path in paths:
        if path.is_file() and path.suffix in {".py", ".ipynb", ".md", ".json", ".txt", ".yml", ".toml", ".csv",
                                              ".sh"}:
            assert not TOKEN_PATTERN.search(path.read_text(errors="ignore")), f"token-like string in {path}"


def test_find_secrets_redacts_what_it_finds():
    from interp_kit.runtime import find_secrets

    token = "hf_" + "Ab1" * 12
    assert find_secrets(f"loaded with {token}!") == ["hf_Ab…"]
    assert find_secrets("my-own-secret here", extra=("my-own-secret",)) == ["my-ow…"]
    assert find_secrets("hf_short and hf_ mentions are fine", extra=("",)) == []


@pytest.mark.slow
def test_notebook_outputs_are_scanned_for_tokens(tmp_path):
    """nbval runs the lessons with notebooks/conftest.py, which fails any cell whose output shows a token."""
    import shutil
    import subprocess
    import sys

    import nbformat

    shutil.copy(ROOT / "notebooks" / "conftest.py", tmp_path / "conftest.py")
    for name, source in [("leaky", "import os\nprint('token:', os.environ['HF_TOKEN'])"),
                         ("clean", "import os\nprint('token set:', bool(os.environ.get('HF_TOKEN')))")]:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")}
    r = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
                        "leaky.ipynb", "clean.ipynb"], cwd=tmp_path, capture_output=True, text=True, env=env,
                       timeout=300)
    assert "1 failed, 1 passed" in r.stdout, r.stdout[-2000:]
    assert "leaky.ipynb" in r.stdout and "token-like text ['hf_No…']" in r.stdout
    assert "NotARealToken" not in r.stdout  # the report itself leaks nothing


def test_results_get_the_usual_file_mode(tmp_path):
    """Temporary files are owner-only; the renamed results must be readable like any file the user writes."""
    umask = os.umask(0o022)
    try:
        f = atomic_write_json(tmp_path / "m.json", {"a": 1})
        with atomic_dir(tmp_path / "adapter") as d:
            (d / "w.bin").write_bytes(b"1")
    finally:
        os.umask(umask)
    assert f.stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "adapter").stat().st_mode & 0o777 == 0o755
