"""Uncertainty on the scenario figures (``noreg run scenario --uncertainty N``; runs.scenario_draws,
figures.scenario_bands, results.headline_intervals): N quasi-random draws of the shipped parameter uncertainty,
the reference and the scenario solved under each as one batch, 90 % bands on Fig. 6–8 and the headline table.

On ``trondelag_rest.csv`` (OSVI, TRO, REST) with scenario 1 and 4 draws: the draws respect the factors' bounds,
each draw's path is the model with that draw applied (checked by solving one draw alone), the bands are the
quantiles of the per-draw figures, and the CLI writes the interval table and figures and refuses bad options.
"""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.cli import main
from noreg_jax.drivers import reference_model
from noreg_jax.dynamics import simulate
from noreg_jax.figures import scenario_bands, scenario_figure_data
from noreg_jax.results import headline_intervals, to_dataset
from noreg_jax.runs import run_reference, scenario_draws
from noreg_jax.scenarios import apply_scenario, parse_scenario
from sensitivity.uncertainty import load_uncertainty

AGGREGATION = "trondelag_rest.csv"
SCENARIO = "scenarios/trondelag_vocational.toml"
N = 4


@pytest.fixture(scope="module")
def model():
    return reference_model(regions=AGGREGATION)


@pytest.fixture(scope="module")
def solved(model):
    scenario = parse_scenario(SCENARIO, model)
    return scenario, scenario_draws(model, [scenario], N, seed=3)


def test_draws_respect_the_bounds_and_each_path_is_its_draw(model, solved):
    scenario, (draws, references, by_scenario, failures) = solved
    u = load_uncertainty()
    assert draws.shape == (N, len(u.factors)) and failures == []
    assert len(references) == len(by_scenario[scenario.name]) == N
    for k, f in enumerate(u.factors):
        assert (draws[:, k] >= f.lower).all() and (draws[:, k] <= f.upper).all()
        assert len(set(draws[:, k])) == N  # quasi-random: no two draws alike
    k = 2
    alone = apply_scenario(u.apply(model, draws[k]), scenario)
    ds = to_dataset(alone, jax.jit(simulate)(alone), scenario.name)
    np.testing.assert_allclose(ds.gross_product.values, by_scenario[scenario.name][k].gross_product.values,
                               rtol=1e-8)


def test_bands_are_the_quantiles_of_the_draws(solved):
    scenario, (_, references, by_scenario, _) = solved
    runs = by_scenario[scenario.name]
    bands = scenario_bands(references, runs, "TRO")
    assert bands["draws"] == N and bands["interval"] == 0.9
    per_draw = np.stack([scenario_figure_data(r, s, "TRO")["fig6"].to_numpy() for r, s in zip(references, runs)])
    low, high = bands["fig6"]
    np.testing.assert_allclose(low.to_numpy(), np.quantile(per_draw, 0.05, axis=0))
    np.testing.assert_allclose(high.to_numpy(), np.quantile(per_draw, 0.95, axis=0))
    for key in ("fig6", "fig7", "fig8", "gdp", "capital_employment"):
        assert (bands[key][0].to_numpy() <= bands[key][1].to_numpy() + 1e-15).all()
    # the parameters matter: the 2050 low-educated in-migration differs across draws
    assert high["low"].iloc[-1] - low["low"].iloc[-1] > 0.05 * abs(high["low"].iloc[-1])


def test_headline_intervals(model, solved):
    scenario, (_, references, by_scenario, _) = solved
    reference = run_reference(model)
    central = [to_dataset(m, jax.jit(simulate)(m), scenario.name) for m in [apply_scenario(model, scenario)]][0]
    table = headline_intervals(reference, central, references, by_scenario[scenario.name], "TRO")
    assert list(table.columns) == ["central", "low", "high", "draws"]
    assert (table["low"] <= table["high"]).all() and (table["draws"] == N).all()
    assert table.loc["net in-migration of low workers to TRO, cumulative", "low"] > 0  # sign robust to the draws


def _manifest_inputs(out):
    return json.loads((out / "run.json").read_text(encoding="utf-8"))["inputs"]


def test_cli_writes_intervals_and_refuses_bad_options(tmp_path, capsys):
    out = tmp_path / "unc"
    base = ["--regions", AGGREGATION, "run", "scenario", SCENARIO, "--out", str(out), "--no-cache"]
    assert main(base + ["--uncertainty", str(N)]) == 0
    assert "90 % intervals over 4 parameter draws" in capsys.readouterr().out
    table = pd.read_csv(out / "trondelag_vocational_uncertainty.csv", index_col=0)
    assert len(table) == 9 and (table["low"] <= table["high"]).all()
    assert (out / "trondelag_vocational_fig8_industries_TRO.png").stat().st_size > 0
    # the run manifest fingerprints the uncertainty table the draws came from, which no argument names
    assert "uncertainty.csv" in {Path(p).name for p in _manifest_inputs(out)}
    assert main(base) == 0  # a run without bands into the same folder leaves no interval table of the old one
    assert not (out / "trondelag_vocational_uncertainty.csv").exists()
    assert "uncertainty.csv" not in {Path(p).name for p in _manifest_inputs(out)}
    with pytest.raises(SystemExit) as exc:
        main(base + ["--uncertainty", "1"])
    assert exc.value.code == 2 and "at least 2 draws" in capsys.readouterr().err
    assert main(base + ["--uncertainty", str(N), "--scale", "0.5,1"]) == 2
    assert "--uncertainty cannot be combined with --scale" in capsys.readouterr().err
