"""Notebook 04_estimation runs top to bottom: the check of tests/test_notebooks.py, in a file of its own so that
pytest-xdist (--dist loadfile) runs it beside the other notebooks instead of after them, and in this folder, which
is collected early: the suite's slowest file (167 s in CI on 2026-12-03) then starts first instead of running
alone at the end."""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_notebook_checks", Path(__file__).parents[1] / "test_notebooks.py")
_checks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_checks)


NOTEBOOK = "04_estimation"


def test_notebook_04_estimation_runs(tmp_path):
    _checks.run_notebook(_checks.ROOT / "notebooks" / f"{NOTEBOOK}.py", tmp_path)
