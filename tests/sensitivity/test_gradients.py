"""Path gradients (sensitivity/gradients.py, README "Sensitivity and estimation"): one reverse-mode pass gives the
derivative of a
2050 outcome with respect to every elasticity, the migration β_e, the capital parameters and the shock sizes;
each checked against central finite differences. Plus the labelled, sorted table and the CLI.

Everything runs on ``trondelag_rest.csv`` (OSVI, TRO, REST) with a tight solver tolerance (1e-12). The central
differences use relative steps of 1e-4: their error is the solver's noise in the outcome divided by the step
(with steps of 1e-5 it was 1.6e-8 absolute, 1.2e-5 relative for the 1.3e-3 derivative in σD of TRADE: measured,
just above the 1e-5 tolerance) plus a truncation error that grows with the step squared and is smaller still.
Four compilations (the forward paths and their reverse pass, with and without a scenario) dominate the run
time; the CLI test reuses them.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.drivers import reference_model
from noreg_jax.scenarios import parse_scenario
from noreg_jax.solver import SolverOptions
from sensitivity import gradients as G
from sensitivity.outcomes import parse_outcome

AGGREGATION = "trondelag_rest.csv"
SCENARIO = "scenarios/trondelag_vocational.toml"
TIGHT = SolverOptions(tol=1e-12)
FD_STEP = 1e-4  # relative (absolute where the parameter is 0)
FD_RTOL = 1e-5


@pytest.fixture(scope="module")
def model():
    return reference_model(regions=AGGREGATION)


@pytest.fixture(scope="module")
def scenario(model):
    from pathlib import Path

    return parse_scenario(Path(__file__).resolve().parents[2] / SCENARIO, model)


def _central_difference(model, scenarios, spec, name, label):
    """Central difference of the outcome (or scenario-1 effect) in one scalar entry of the parameter pytree."""
    theta = G.elasticity_parameters(model, scenarios)
    labels = G.parameter_labels(model, scenarios)
    k = labels[name].index(label)
    outcome = parse_outcome(spec, model)
    base = theta[name][0] if name == G.SHOCK_VALUE else theta[name]
    flat = np.ravel(np.asarray(base))
    h = FD_STEP * abs(flat[k]) if flat[k] != 0 else FD_STEP
    values = []
    for sign in (1.0, -1.0):
        moved = np.asarray(base, dtype=float).copy().reshape(-1)
        moved[k] += sign * h
        moved = moved.reshape(np.shape(base))
        th = dict(theta)
        th[name] = (moved,) if name == G.SHOCK_VALUE else moved
        observed, status = G.forward(th, model, scenarios, options=TIGHT)
        G.require_converged(status, model.drivers.years)
        values.append(float(G.outcome_value(outcome, observed, model, 1 if scenarios else None)))
    return (values[0] - values[1]) / (2.0 * h)


def _row(df, name, label):
    rows = df[(df["parameter"] == name) & (df["label"] == label)]
    assert len(rows) == 1, (name, label)
    return rows.iloc[0]


# ---------------------------------------------------------------------------------------------
# reference-path outcomes


@pytest.fixture(scope="module")
def population_tro(model):
    return G.path_gradients(model, "population:TRO:2050", options=TIGHT)


@pytest.mark.parametrize("name, label", [("migration_beta", "voc"), ("migration_beta", "mast"),
                                         ("sigma_labour", "HEALTH"), ("frisch", ""), ("depreciation", ""),
                                         ("investment_elasticity", ""), ("sigma_domestic", "TRADE")])
def test_reference_outcome_matches_finite_differences(model, population_tro, name, label):
    analytic = _row(population_tro, name, label)["derivative"]
    numeric = _central_difference(model, (), "population:TRO:2050", name, label)
    assert abs(numeric) > 1e-4, (name, label, numeric)  # a real response, not noise
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL)


def test_a_second_outcome_without_recompiling(model):
    """Real wage of vocational workers in TRO, 2050: a population-weighted mean (nonlinear outcome)."""
    df = G.path_gradients(model, "real_wage:TRO:voc:2050", options=TIGHT)
    for name, label in [("sigma_labour", "HEALTH"), ("migration_beta", "voc"), ("sigma_kl", "TRADE")]:
        numeric = _central_difference(model, (), "real_wage:TRO:voc:2050", name, label)
        np.testing.assert_allclose(_row(df, name, label)["derivative"], numeric, rtol=FD_RTOL)


def test_leontief_nest_has_a_derivative_but_no_elasticity(model, population_tro):
    """σ_materials = 0 (Leontief) by default: d y/dσ exists (σ < 0 is smooth CET), d log y/d log σ does not."""
    rows = population_tro[population_tro["parameter"] == "sigma_materials"]
    assert len(rows) == 24 and (rows["value"] == 0.0).all()
    assert rows["elasticity"].isna().all() and np.isfinite(rows["derivative"]).all()
    largest = rows.loc[rows["derivative"].abs().idxmax()]
    numeric = _central_difference(model, (), "population:TRO:2050", "sigma_materials", largest["label"])
    np.testing.assert_allclose(largest["derivative"], numeric, rtol=FD_RTOL)


def test_table_is_labelled_and_sorted(model, population_tro):
    df = population_tro
    assert list(df.columns) == G.COLUMNS
    s = model.economy.benchmark.sets
    n = 13 * s.n_sectors + 1 + s.n_education + 2  # 13 per-sector parameters, frisch, β_e, δ, ε
    assert len(df) == n
    assert set(df.loc[df["parameter"] == "sigma_kl", "label"]) == set(s.sectors)
    assert set(df.loc[df["parameter"] == "migration_beta", "label"]) == set(s.education)
    assert (df.loc[df["parameter"] == "frisch", "label"] == "").all()
    e = df["elasticity"].to_numpy()
    defined = ~np.isnan(e)
    assert defined.sum() == n - 24 - 1  # σ_materials (24) and σ_kl of WATER are 0
    assert not defined[defined.sum():].any(), "NaN elasticities come last"
    assert np.all(np.diff(np.abs(e[defined])) <= 0), "sorted by |elasticity|"
    # elasticity = derivative · value / outcome
    value = df.attrs["outcome_value"]
    np.testing.assert_allclose(e[defined], (df["derivative"] * df["value"] / value).to_numpy()[defined])
    assert df.attrs["outcome"] == "population:TRO:2050" and df.attrs["kind"] == "reference path"


# ---------------------------------------------------------------------------------------------
# a scenario effect: vocational migration out of Trøndelag in scenario 1


@pytest.fixture(scope="module")
def voc_effect(model, scenario):
    return G.path_gradients(model, "migration:TRO:voc:2050", scenario, options=TIGHT)


@pytest.mark.parametrize("name, label", [("migration_beta", "voc"), ("migration_beta", "low"),
                                         ("shock_value", None), ("sigma_labour", "HEALTH")])
def test_scenario_effect_matches_finite_differences(model, scenario, voc_effect, name, label):
    if label is None:
        label = G.parameter_labels(model, (scenario,))[name][0]
    analytic = _row(voc_effect, name, label)["derivative"]
    numeric = _central_difference(model, (scenario,), "migration:TRO:voc:2050", name, label)
    assert abs(numeric) > 1e-3, (name, label, numeric)
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL)


def test_scenario_effect_is_labelled(model, scenario, voc_effect):
    df = voc_effect
    assert df.attrs["kind"] == "scenario effect" and df.attrs["scenario"] == "trondelag_vocational"
    assert df.attrs["outcome_value"] < 0  # vocational workers move out of Trøndelag
    shock = df[df["parameter"] == "shock_value"]
    assert len(shock) == 1
    assert shock["label"].iloc[0] == "trondelag_vocational[0] workers TRO voc 2025-2035 growth"
    assert shock["value"].iloc[0] == 1.0
    # the effect is roughly proportional to the shock: elasticity near 1
    assert 0.5 < shock["elasticity"].iloc[0] < 1.5


# ---------------------------------------------------------------------------------------------
# figure and command line


def test_cli_writes_csv_and_figure(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="noreg")
    parser.add_argument("--regions", default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    sensitivity = sub.add_parser("sensitivity").add_subparsers(dest="what", required=True)
    G.register_cli(sensitivity)
    # --regions before the sub-command is kept (the sub-command's own --regions is optional)
    args = parser.parse_args(["--regions", AGGREGATION, "sensitivity", "gradients", "--outcome",
                              "population:TRO:2050", "--out", str(tmp_path), "--tol", "1e-12", "--top", "8"])
    assert args.regions == AGGREGATION
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "top 10 of 319 parameters by |elasticity|:" in out
    assert (tmp_path / "gradients.png").stat().st_size > 1000
    df = pd.read_csv(tmp_path / "gradients.csv", keep_default_na=False, na_values=[""])
    assert list(df.columns) == G.COLUMNS and len(df) == 319
    top = out.split("by |elasticity|:")[1].splitlines()[2]  # header, then the first row
    assert top.split()[0] == df["parameter"].iloc[0]
    again = parser.parse_args(["sensitivity", "gradients", "--outcome", "x", "--out", "y", "--regions", "z.csv"])
    assert again.regions == "z.csv"
