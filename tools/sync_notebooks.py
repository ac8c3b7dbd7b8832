"""Keep lessons consistent: write the shared setup cell into every notebooks/*.py, then pair each with its .ipynb.

Usage: python tools/sync_notebooks.py          (rewrites setup cells and regenerates .ipynb without outputs)
       python tools/sync_notebooks.py --check  (exit 1 when a notebook's setup cell or pair is out of date)
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from interp_kit.lessons import SETUP_CELL, colab_url  # noqa: E402

MARK = "# %% tags=[\"setup\"]"
#: Notebook metadata that makes Colab open a lesson on a (free T4) GPU runtime.
COLAB_METADATA = {"accelerator": "GPU", "colab": {"gpuType": "T4", "provenance": []}}
BADGE = "[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def render(py: Path) -> str:
    """The .py text with the canonical setup cell and Colab badge."""
    text = py.read_text()
    block = re.compile(re.escape(MARK) + r"\n.*?(?=\n# %%)", re.S)
    if not block.search(text):
        raise SystemExit(f"{py}: no setup cell; start the first code cell with the line {MARK}")
    text = block.sub(lambda _: MARK + "\n" + SETUP_CELL + "\n", text, count=1)
    badge = BADGE.format(url=colab_url(py.stem))
    text = re.sub(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)", lambda _: badge, text, count=1)
    return text


def ipynb_text(py_text: str) -> str:
    nb = jupytext.reads(py_text, fmt="py:percent")
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"  # stable ids: re-syncing an unchanged lesson changes nothing
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3", "language": "python"})
    nb.metadata.update(COLAB_METADATA)  # Colab opens the lesson on a GPU runtime
    return jupytext.writes(nb, fmt="ipynb")


def _cells(ipynb: str) -> list:
    """What a pair must agree on: each cell's type and source, and the Colab runtime (ids may differ)."""
    nb = jupytext.reads(ipynb, fmt="ipynb")
    return [(c.cell_type, c.source) for c in nb.cells] + [{k: nb.metadata.get(k) for k in COLAB_METADATA}]


def main(check: bool) -> int:
    stale = []
    for py in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):  # lessons, not conftest.py
        want_py = render(py)
        want_nb = ipynb_text(want_py)
        nb_path = py.with_suffix(".ipynb")
        if check:
            if want_py != py.read_text() or not nb_path.exists() or \
                    _cells(nb_path.read_text()) != _cells(want_nb):
                stale.append(py.name)
        else:
            py.write_text(want_py)
            nb_path.write_text(want_nb)
    if stale:
        print("out of date (run python tools/sync_notebooks.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main("--check" in sys.argv))
