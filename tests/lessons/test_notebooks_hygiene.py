"""Notebooks are jupytext pairs, carry no outputs, open with the shared setup cell and match the lesson list."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from interp_kit.lessons import LESSONS, SETUP_CELL

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_every_lesson_has_a_notebook_and_every_notebook_is_a_lesson():
    assert {p.stem for p in NOTEBOOKS} == {stem for stem, _, _ in LESSONS}


def test_pairs_are_in_sync():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "sync_notebooks.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_no_outputs_and_opens_with_setup(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    assert "".join(code[0]["source"]) == SETUP_CELL
    assert "colab.research.google.com" in "".join(nb["cells"][0]["source"])
    assert nb["metadata"].get("accelerator") == "GPU" and nb["metadata"]["colab"]["gpuType"] == "T4"  # Colab: GPU
    for cell in code:  # lessons use the public API only
        assert "interp_kit._" not in "".join(cell["source"])


def test_readme_links_every_lesson_to_colab_and_its_pictures_exist():
    import re

    from interp_kit.lessons import colab_url

    readme = (ROOT / "README.md").read_text()
    for stem, _, _ in LESSONS:
        assert f"(notebooks/{stem}.ipynb)" in readme and colab_url(stem) in readme, stem
    pictures = re.findall(r"!\[[^\]]*\]\((docs/[^)]+)\)", readme)
    assert pictures and all((ROOT / p).is_file() for p in pictures), pictures
