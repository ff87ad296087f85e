"""Every notebook in notebooks/ (jupytext percent-format scripts, ``# %%`` cells) runs top to bottom.

Each ``notebooks/*.py`` is found automatically and executed as a script in a fresh Python process, in an
empty working directory, on a small aggregation of the counties (``NOREG_NOTEBOOK_REGIONS``), with the Agg
backend. ``plt.show()`` is replaced by a function that renders every open figure to a PNG, so each figure a
notebook shows is really drawn. A notebook passes when the process exits with status 0 within
``TIMEOUT_S`` and its printed output holds the lines listed for it in ``EXPECTED`` (none by default).
A second, fast test checks that jupytext reads each file as a notebook with code and markdown cells.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
REGIONS = "two_regions.csv"  # the smallest aggregation: Oslo + Viken vs the rest
TIMEOUT_S = 600  # per notebook, compilation included: a guard against hangs (notebook 03 took 115 s idle, > 300 s
#                   on a loaded machine), not a performance test
# notebooks run by a test file of their own, so that the slowest ones land on different pytest-xdist workers
# (--dist loadfile sends each file to one worker)
RUN_ELSEWHERE = {"04_estimation": "calibration/test_notebook_estimation.py"}

# Lines a notebook's printed output must contain, by file stem; add an entry with each new notebook.
EXPECTED = {
    "01_reference_path": [
        "aggregated by two_regions.csv",
        "all checks passed",
        "years (2018–2050) solved in",
        "mainland GDP per capita growth",
        "industries with the largest growth",
        "mainland GDP per capita growth, %/yr",
        "real wage voc/bach",
    ],
    "02_scenarios": [
        "persons moved from low to vocational education in",
        "2 scenario paths (trondelag_vocational, further_education) solved as one batch",
        "scenario trondelag_vocational: deviations from the reference",
        "scenario further_education: deviations from the reference",
        "The article's scenarios vs this model",
        "vocational net out-migration from",
        "mainland GDP, %",
    ],
    "03_sensitivity": [
        "has no region for Trøndelag alone: using trondelag_rest.csv",
        "factors in 4 groups; N = 16: 96 draws x 3 paths",
        "draws solved:",
        "Sobol indices (",
        "largest total-order index per outcome:",
        "scenario effects over the parameter uncertainty, 90 % HDI:",
        "S1: Trøndelag net in-migration, vocational, 2018–2050: 90 % HDI",
    ],
    "04_estimation": [
        "recovery on OSVI, REST (aggregated by two_regions.csv)",
        "of 3 estimates within 2 standard errors of the truth",
        "article fit on OSVI, REST, TRO (aggregated by trondelag_rest.csv)",
        "correlation (Laplace):",
        "migration elasticities around 0.01:",
    ],
}
MIN_FIGURES = {"01_reference_path": 5, "02_scenarios": 4, "03_sensitivity": 3, "04_estimation": 4}
# Notebooks run with XLA's optimisations on although the rest of the suite turns them off (tests/conftest.py):
# these run more than they compile. Measured 2026-12-03 (2 cores, idle): notebook 03 (288 paths) 76 s with the
# suite's settings, 51 s optimised; notebook 04 (compilation-bound) 116 s and 112 s, so it keeps the suite's.
OPTIMISED = {"03_sensitivity"}
SUITE_SETTINGS = ("JAX_DISABLE_MOST_OPTIMIZATIONS", "JAX_OPTIMIZATION_LEVEL")

# Runs the notebook given as argv[1] as __main__; plt.show() saves each open figure as figure_NN.png in the
# working directory and closes it.
RUNNER = """
import runpy, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

saved = []

def show(*args, **kwargs):
    for number in plt.get_fignums():
        figure = plt.figure(number)
        figure.savefig(f"figure_{len(saved):02d}.png", dpi=60)
        saved.append(number)
        plt.close(figure)

plt.show = show
runpy.run_path(sys.argv[1], run_name="__main__")
show()
print(f"[notebook runner] {len(saved)} figure(s) rendered")
"""


def test_notebooks_found():
    assert NOTEBOOKS, "no notebooks/*.py"


def test_notebooks_run_elsewhere_have_their_test_file():
    for stem, file in RUN_ELSEWHERE.items():
        assert (ROOT / "notebooks" / f"{stem}.py").exists(), stem
        assert f'"{stem}"' in (ROOT / "tests" / file).read_text(encoding="utf-8"), file


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.stem not in RUN_ELSEWHERE],
                         ids=[p.stem for p in NOTEBOOKS if p.stem not in RUN_ELSEWHERE])
def test_notebook_runs(path: Path, tmp_path: Path):
    run_notebook(path, tmp_path)


def run_notebook(path: Path, tmp_path: Path):
    """Run one notebook in a fresh process in ``tmp_path``; fail with its output unless it passes (module doc)."""
    env = {**os.environ, "MPLBACKEND": "Agg", "NOREG_NOTEBOOK_REGIONS": REGIONS,
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    if path.stem in OPTIMISED:
        for name in SUITE_SETTINGS:
            env.pop(name, None)
    try:
        proc = subprocess.run([sys.executable, "-c", RUNNER, str(path)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        pytest.fail(f"{path.name} did not finish within {TIMEOUT_S} s; its output so far:\n{out[-3000:]}")
    assert proc.returncode == 0, (f"{path.name} failed (exit status {proc.returncode}):\n"
                                  f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    missing = [line for line in EXPECTED.get(path.stem, []) if line not in proc.stdout]
    assert not missing, f"{path.name}: output lacks {missing}:\n{proc.stdout[-3000:]}"
    figures = sorted(tmp_path.glob("figure_*.png"))
    assert len(figures) >= MIN_FIGURES.get(path.stem, 0), f"{path.name}: only {len(figures)} figure(s) rendered"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_converts(path: Path):
    jupytext = pytest.importorskip("jupytext")
    nbformat = pytest.importorskip("nbformat")
    notebook = jupytext.read(path)
    nbformat.validate(notebook)
    kinds = {cell.cell_type for cell in notebook.cells}
    assert {"code", "markdown"} <= kinds, f"{path.name}: cells of kinds {kinds}; expected code and markdown"
    assert notebook.cells[0].cell_type == "markdown", f"{path.name}: should open with a markdown cell (its title)"
    # a round trip through .ipynb gives back the same cells
    again = jupytext.reads(jupytext.writes(notebook, fmt="ipynb"), fmt="ipynb")
    assert [c.source for c in again.cells] == [c.source for c in notebook.cells]
