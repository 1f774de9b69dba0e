"""notebooks/evaluation.ipynb runs from top to bottom on a small sample."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_evaluation_notebook_executes() -> None:
    nb = nbformat.read(ROOT / "notebooks" / "evaluation.ipynb", as_version=4)
    os.environ.setdefault("NOTEBOOK_SAMPLE", "1200")
    os.environ.setdefault("NOTEBOOK_EPOCHS", "5")
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(
        str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", "")) for o in outputs
    )
    assert "hybrid" in text and "conditional_logit" in text
