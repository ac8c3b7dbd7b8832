"""Bad input and interruptions: clear errors, documented handling, nothing half-written, no secrets."""
import json
import re
from pathlib import Path

import pytest

from interp_kit import atomic_dir, atomic_write_json

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
    for path in ROOT.rglob("*"):
        if path.is_file() and ".git" not in path.parts and path.suffix in {".py", ".ipynb", ".md", ".json", ".txt",
                                                                           ".yml", ".toml", ".csv", ".sh"}:
            assert not TOKEN_PATTERN.search(path.read_text(errors="ignore")), f"token-like string in {path}"
