"""The public API of ``noreg_jax`` (the example in its __init__, run as written)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import noreg_jax as nj

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_name_resolves_and_none_is_imported_before_use():
    import subprocess
    import sys

    for name in nj.__all__:
        assert getattr(nj, name) is not None, name
    assert set(nj.__all__) <= set(dir(nj))
    with pytest.raises(AttributeError, match="no attribute 'run_everything'"):
        nj.run_everything  # noqa: B018
    # importing the package does not import the model (the API is loaded on first use)
    code = "import sys, noreg_jax; print(any(m.startswith('noreg_jax.') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_the_documented_example_runs(tmp_path, monkeypatch):
    source = Path(nj.__file__).read_text(encoding="utf-8")
    lines = [m.group(1) for m in re.finditer(r"^#     (.*)$", source, re.M)]
    assert len(lines) >= 6, lines
    monkeypatch.chdir(tmp_path)
    os.symlink(ROOT / "scenarios", tmp_path / "scenarios")
    namespace = {"nj": nj}
    exec("\n".join(lines), namespace)  # the example as the docstring shows it
    reference, scenario, change, again = (namespace[k] for k in ("reference", "scenario", "change", "again"))
    assert reference.attrs["name"] == "reference" and scenario.attrs["name"] == "trondelag_vocational"
    assert bool(reference.converged.all()) and bool(scenario.converged.all())
    assert list(change.measure.values) == ["absolute", "percent"]
    np.testing.assert_allclose(change.population.sel(measure="absolute").values,
                               (scenario.population - reference.population).values)
    np.testing.assert_array_equal(again.gross_product.values, reference.gross_product.values)
    # a folder holding several results is refused by load, with their names
    nj.save(scenario, "results/api")
    with pytest.raises(ValueError, match=r"2 results in this directory \(reference.nc, trondelag_vocational.nc\)"):
        nj.load("results/api")
