"""Notebook 04_estimation runs top to bottom: the check of tests/test_notebooks.py, in a file of its own so that
pytest-xdist (--dist loadfile) runs it beside the other notebooks instead of after them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_notebook_checks", Path(__file__).with_name("test_notebooks.py"))
_checks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_checks)


NOTEBOOK = "04_estimation"


def test_notebook_04_estimation_runs(tmp_path):
    _checks.run_notebook(_checks.ROOT / "notebooks" / f"{NOTEBOOK}.py", tmp_path)
