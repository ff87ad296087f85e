"""Decomposition of a scenario effect (sensitivity/decomposition.py, docs/model.md "Decomposition of a scenario's
effect"): the contributions add up to the nonlinear total computed by two independent forward paths; a shock that
comes after the outcome's year contributes nothing; a shock that moves persons is split into the group that gains
and the group that loses; every grouping adds to the same total; the CLI writes the tables and figures.

One decomposition on ``trondelag_rest.csv`` (OSVI, TRO, REST) with a two-shock scenario; the CLI test asks the same
question, so it reuses the compiled gradient batch.
"""

from __future__ import annotations

import jax
import numpy as np
import pandas as pd
import pytest

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.cli import main
from noreg_jax.drivers import reference_model
from noreg_jax.dynamics import simulate
from noreg_jax.scenarios import apply_scenario, parse_scenario
from sensitivity.decomposition import GROUPINGS, DecompositionError, decompose
from sensitivity.outcomes import parse_outcome

AGGREGATION = "trondelag_rest.csv"
OUTCOME = "population:TRO:2040"
SCENARIO = """name = "two_parts"
description = "scenario 1's vocational programme, plus a TFP rise in the rest of the country after 2040"

[[shocks]]
driver = "workers"
region = "TRO"
education = "voc"
years = [2025, 2035]
mode = "growth"
value = 1.0
transfer_from = "low"

[[shocks]]
driver = "tfp"
region = "REST"
years = [2044, 2050]
mode = "growth"
value = 2.0
"""


@pytest.fixture(scope="module")
def model():
    return reference_model(regions=AGGREGATION)


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("decomposition") / "two_parts.toml"
    path.write_text(SCENARIO)
    return path


@pytest.fixture(scope="module")
def decomposition(model, scenario_file):
    return decompose(model, scenario_file, OUTCOME)


def test_contributions_add_up_to_the_nonlinear_total_of_two_forward_paths(model, scenario_file, decomposition):
    scenario = parse_scenario(scenario_file, model)
    outcome = parse_outcome(OUTCOME, model)
    run = jax.jit(simulate)
    shocked = apply_scenario(model, scenario)
    total = float(outcome(run(shocked), shocked) - outcome(run(model), model))
    assert abs(total) > 1e-3  # thousand persons: the programme moves people
    np.testing.assert_allclose(decomposition.total, total, rtol=1e-8)
    assert decomposition.quadrature_error < 1e-6
    np.testing.assert_allclose(decomposition.sum, total, rtol=1e-6)


def test_a_shock_after_the_outcome_year_contributes_nothing(decomposition):
    e = decomposition.entries
    late = e[e["input"] == "tfp"]
    assert len(late) > 0 and set(late["year"]) == set(range(2044, 2051))
    assert np.abs(late["contribution"]).max() == 0.0  # no foresight: 2044–2050 TFP cannot move 2040 population
    by_year = decomposition.by("year").set_index("year")["contribution"]
    assert np.abs(by_year.loc[[y for y in by_year.index if int(y) > 2040]]).max() == 0.0


def test_a_transfer_is_split_into_the_group_that_gains_and_the_group_that_loses(decomposition):
    by_shock = decomposition.by("shock").set_index("shock")["contribution"]
    gains = [k for k in by_shock.index if k.endswith("(voc +)")]
    loses = [k for k in by_shock.index if k.endswith("(low −)")]
    assert len(gains) == 1 and len(loses) == 1
    assert "workers TRO voc 2025-2035 growth" in gains[0]
    e = decomposition.entries
    assert (e.loc[e["code"] == "voc", "delta"] > 0).all() and (e.loc[e["code"] == "low", "delta"] < 0).all()
    # each part alone is far larger than the effect of both: the two nearly cancel in the population
    assert abs(by_shock[gains[0]]) > abs(decomposition.total) and abs(by_shock[loses[0]]) > abs(decomposition.total)


@pytest.mark.parametrize("grouping", GROUPINGS)
def test_every_grouping_adds_to_the_same_total(decomposition, grouping):
    table = decomposition.by(grouping)
    np.testing.assert_allclose(table["contribution"].sum(), decomposition.sum, rtol=1e-12, atol=1e-15)
    assert table[grouping].is_unique


def test_unknown_grouping_and_an_empty_scenario_are_refused(model, decomposition, tmp_path):
    with pytest.raises(DecompositionError, match="--by 'sector'"):
        decomposition.by("sector")
    empty = tmp_path / "empty.toml"
    empty.write_text('name = "nothing"\nshocks = []\n')
    with pytest.warns(UserWarning), pytest.raises(DecompositionError, match="moves no input"):
        decompose(model, empty, OUTCOME)


def test_cli_writes_tables_and_figures(scenario_file, decomposition, tmp_path, capsys):
    out = tmp_path / "dec"
    argv = ["--regions", AGGREGATION, "decompose", str(scenario_file), "--outcome", OUTCOME, "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "quadrature error" in printed
    for g in GROUPINGS:
        table = pd.read_csv(out / f"decomposition_by_{g}.csv")
        np.testing.assert_allclose(table["contribution"].sum(), decomposition.sum, rtol=1e-9)
        assert (out / f"decomposition_by_{g}.png").stat().st_size > 0
    entries = pd.read_csv(out / "decomposition_entries.csv")
    assert len(entries) == len(decomposition.entries)
    assert main(argv[:-2] + ["--by", "sector", "--out", str(out)]) == 2
    assert "--by 'sector'" in capsys.readouterr().err


def test_a_point_that_does_not_converge_is_named_by_year_and_equation(model, scenario_file, monkeypatch):
    """The failure report of a point on the line (its solve replaced by one whose 2030 fails in labour_market[TRO,
    voc], so no new compilation): α, the failed years and the equation with the largest residual."""
    import jax.numpy as jnp

    import sensitivity.decomposition as decomposition
    from noreg_jax.equilibrium import block_shapes

    b = model.economy.benchmark
    years = list(model.drivers.years)
    T, s = len(years), b.sets
    offset = sum(int(np.prod(shape)) for shape in block_shapes(b)[:3])
    worst = offset + s.region("TRO") * s.n_education + list(s.education).index("voc")

    def failing(alphas, reference, deltas, outcome, moved, options):
        n = alphas.shape[0]
        converged = np.ones((n, T), bool)
        converged[2, years.index(2030):] = False
        return (jnp.zeros(n), [jnp.zeros((n, *jnp.shape(d))) for d in deltas],
                (converged, np.full((n, T), 1e-3), np.full((n, T), worst)))

    monkeypatch.setattr(decomposition, "line_gradients", failing)
    with pytest.raises(decomposition.PathNotConverged, match=r"α = .*did not converge in year\(s\) \[2030, .*2050\];"
                       r" in 2030 the max \|residual\| is 0.001, in labour_market\[TRO, voc\]"):
        decompose(model, scenario_file, OUTCOME)
