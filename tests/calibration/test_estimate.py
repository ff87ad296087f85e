"""Parameter estimation through the path (calibration/estimate.py, README "Sensitivity and estimation"): recovery of
known parameters
within two standard errors, the objective's gradient against finite differences, the optimisers, arviz output,
the CLI, and a named error for each kind of bad config.

Everything runs on ``two_regions.csv`` with the shipped ``recovery.toml`` (reference path only: one path per
evaluation). One compilation (the path and its forward-mode derivative for three parameters, every evaluation of
the estimator) dominates the run time; every test after the first reuses it.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

import noreg_jax  # noqa: F401  (float64)
from calibration.estimate import (
    CONFIG_DIR,
    EstimationError,
    estimate,
    load_config,
    pair_plot,
    prepare,
    register_cli,
    summary,
    to_inference_data,
)
from noreg_jax.drivers import reference_model

AGGREGATION = "two_regions.csv"
RECOVERY = CONFIG_DIR / "recovery.toml"


@pytest.fixture(scope="module")
def model():
    return reference_model(regions=AGGREGATION)


@pytest.fixture(scope="module")
def recovered(model):
    return estimate(RECOVERY, model, draws=400)


# ---------------------------------------------------------------------------------------------
# recovery and the gradient


def test_recovery_within_two_standard_errors(recovered):
    r = recovered
    assert r.converged, r.message
    table = r.table()
    assert list(table["parameter"]) == ["migration_beta.low", "migration_beta.voc", "sigma_labour"]
    for _, row in table.iterrows():
        assert np.isfinite(row["std_error"]) and row["std_error"] > 0
        assert abs(row["estimate"] - row["truth"]) <= 2.0 * row["std_error"], row.to_dict()
        assert row["ci95_low"] < row["truth"] < row["ci95_high"]
        assert abs(row["estimate"] - row["initial"]) > 2.0 * row["std_error"]  # it really moved
    assert r.history["objective"].iloc[-1] < 1e-2 * r.history["objective"].iloc[0]
    assert np.all(np.diff(r.history["objective"].to_numpy()) <= 0)  # Levenberg–Marquardt never goes up
    # Laplace: a proper correlation matrix; the delta method on the log scale: se_θ = θ·se_z
    corr = r.correlation.to_numpy()
    np.testing.assert_allclose(np.diag(corr), 1.0)
    assert np.all(np.linalg.eigvalsh(corr) > 0)
    np.testing.assert_allclose(r.standard_errors, r.estimates * np.sqrt(np.diag(r.covariance_z)), rtol=1e-12)
    assert r.translations["low-educated moving into Oslo + Viken by 2030, thousand"] == "migration:OSVI:low:2030"


def test_objective_gradient_matches_finite_differences(model):
    problem = prepare(load_config(RECOVERY), model)
    z = 0.5 * (problem.to_z(problem.initial) + problem.to_z([0.014, 0.012, 1.5]))
    r, J, _ = problem.residuals_and_jacobian(z)
    gradient = J.T @ r  # of S(z) = ½‖r‖²
    h = 1e-5
    for i in range(len(z)):
        e = np.zeros_like(z)
        e[i] = h
        up, down = problem.residuals(z + e), problem.residuals(z - e)
        numeric = (0.5 * up @ up - 0.5 * down @ down) / (2 * h)
        assert abs(numeric) > 1.0
        np.testing.assert_allclose(gradient[i], numeric, rtol=1e-5)
        # and every residual's derivative, column i of J
        np.testing.assert_allclose(J[:, i], (up - down) / (2 * h), rtol=1e-5, atol=1e-6 * np.abs(J).max())


@pytest.mark.parametrize("method", ["adam", "lbfgs"])
def test_first_order_optimisers_decrease_the_objective(model, method):
    r = estimate(RECOVERY, model, method=method, max_iter=2, draws=0, learning_rate=0.1)
    objective = r.history["objective"].to_numpy()
    assert len(objective) == 3 and objective[-1] < objective[0]
    assert r.draws is None and np.all(np.isfinite(r.standard_errors))


# ---------------------------------------------------------------------------------------------
# arviz and the command line


def test_inference_data_summary_and_pair_plot(recovered, tmp_path):
    dt = to_inference_data(recovered)
    posterior = dt["posterior"]
    assert set(posterior.data_vars) == set(recovered.names)
    assert posterior.sizes["chain"] == 1 and posterior.sizes["draw"] == 400
    table = summary(recovered)
    assert list(table.index) == recovered.names
    for name, row in table.iterrows():
        k = recovered.names.index(name)
        assert row["hdi95_lb"] < recovered.estimates[k] < row["hdi95_ub"]
        assert math.isclose(row["sd"], recovered.standard_errors[k], rel_tol=0.2)
    pair_plot(recovered, tmp_path / "pair.png")
    assert (tmp_path / "pair.png").stat().st_size > 1000


def test_cli_writes_its_files(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="noreg")
    parser.add_argument("--regions", default=None)
    register_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["--regions", AGGREGATION, "estimate", str(RECOVERY), "--out", str(tmp_path),
                              "--max-iter", "2", "--draws", "200"])
    assert args.func(args) in (0, 4)  # 4: not converged within 2 iterations
    out = capsys.readouterr().out
    assert "iteration   1  objective" in out and "correlation (Laplace):" in out
    for name in ("estimates.csv", "history.csv", "fit.csv", "correlation.csv", "draws.nc", "summary.csv",
                 "pair.png"):
        assert (tmp_path / name).stat().st_size > 0, name


# ---------------------------------------------------------------------------------------------
# bad configs: each names the file, the field and the value


GOOD = """
[[parameters]]
name = "migration_beta.low"
lower = 1e-5
upper = 1.0
transform = "log"

[[targets]]
outcome = "migration:OSL:VIK:low:2050"
observed = -3.0
sd = 0.2
"""


def _replace(text, old, new):
    assert old in text
    return text.replace(old, new)


BAD = {
    "unknown parameter": (lambda t: _replace(t, '"migration_beta.low"', '"migration_betta.low"'),
                          "parameters[0].name", "'migration_betta.low'", "unknown parameter"),
    "unknown education group": (lambda t: _replace(t, '"migration_beta.low"', '"migration_beta.phd"'),
                                "parameters[0].name", "'migration_beta.phd'", "unknown education"),
    "unknown outcome": (lambda t: _replace(t, '"migration:OSL:VIK:low:2050"', '"migraton:OSL:VIK:low:2050"'),
                        "targets[0].outcome", "'migraton:OSL:VIK:low:2050'", "unknown variable"),
    "county splitting a region": (lambda t: _replace(t, "OSL:VIK:", "OSL:"), "targets[0].outcome",
                                  "'migration:OSL:low:2050'", "cannot be expressed"),
    "bounds inverted": (lambda t: _replace(t, "lower = 1e-5\nupper = 1.0", "lower = 0.5\nupper = 0.1"),
                        "parameters[0].lower", "0.5", "bounds inverted"),
    "initial outside bounds": (lambda t: _replace(t, "upper = 1.0", "upper = 1.0\ninitial = 2.0"),
                               "parameters[0].initial", "2.0", "outside the bounds"),
    "model value outside bounds": (lambda t: _replace(t, "lower = 1e-5", "lower = 0.02"),
                                   "parameters[0].initial (the model's value)", "0.014", "outside the bounds"),
    "missing observed value": (lambda t: _replace(t, "observed = -3.0\n", ""), "targets[0].observed", "None",
                               "is required"),
    "scenario file not found": (lambda t: _replace(t, "observed = -3.0", 'observed = -3.0\nscenario = "no.toml"'),
                                "targets[0].scenario", "'no.toml'", "names no file"),
    "effect without a scenario": (lambda t: _replace(t, "observed = -3.0", 'observed = -3.0\nmeasure = "effect"'),
                                  "targets[0].measure", "'effect'", "needs a scenario"),
}


def test_the_good_config_is_accepted(model, tmp_path):
    problem = prepare(load_config(tmp_path / "good.toml", text=GOOD), model)
    assert problem.names == ["migration_beta.low"] and problem.initial[0] == pytest.approx(0.014)


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_config_names_file_field_and_value(model, tmp_path, case):
    edit, field, value, why = BAD[case]
    path = tmp_path / "bad.toml"
    with pytest.raises(EstimationError) as info:
        prepare(load_config(path, text=edit(GOOD)), model)  # fails before any path is solved
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert f"field '{field}'" in message and value in message and why in message, message
