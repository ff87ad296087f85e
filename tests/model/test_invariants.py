"""Economic invariants of one year's equilibrium (docs/model.md "One year's equilibrium"): replication, homogeneity,
Walras' law,
robustness to a large shock, and an honest report of a solve that fails.

Run on the smallest aggregation of the counties (``two_regions.csv``) and on the full 11-county data, the
two ends of every division the model can be given (``landsdeler.csv`` in between was dropped: the same
assertions, and its compilation cost about 30 s of the CI's 20-minute budget). ``jax.jit(solve_equilibrium)`` is always called with default options and an explicit
start, as :func:`noreg_jax.checks.run_checks` calls it first, so each data set compiles once (and the
CLI tests that follow reuse the compilation).
"""

from __future__ import annotations

import functools
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.blocks.households import labour_at_workplace
from noreg_jax.checks import perturbed_start
from noreg_jax.equilibrium import (
    NotConverged,
    benchmark_point,
    evaluate,
    pack,
    require_converged,
    residual,
    solve_equilibrium,
    unpack,
    walras_residual,
)
from noreg_jax.parameters import PRODUCTION_ELASTICITIES, TRADE_ELASTICITIES, load_economy
from noreg_jax.solver import SolverOptions

TOL = 1e-8  # on the invariants (the solver's own tolerance is 1e-10 on max|F|)
AGGREGATIONS = {"two_regions": "two_regions.csv", "counties": None}

solve = jax.jit(solve_equilibrium)  # always (economy, x0): one trace per data set


@pytest.fixture(scope="module", params=list(AGGREGATIONS), ids=list(AGGREGATIONS))
def economy(request):
    return load_economy(regions=AGGREGATIONS[request.param])


@pytest.fixture(scope="module")
def counties():
    return load_economy()


def _with(economy, field, value):
    """The economy with ``params.<field>`` replaced."""
    return eqx.tree_at(lambda e: getattr(e.params, field), economy, value)


def _solve(economy, x0=None):
    """Solve and require convergence; without x0 from the benchmark point at the economy's numeraire."""
    if x0 is None:
        x0 = benchmark_point(economy.benchmark, economy.params.exchange_rate)
    x, status = solve(economy, x0)
    require_converged(x, status, economy)
    return x, status


def _leaves(state):
    """Every array of a State (nested accounts included), as numpy."""
    return [np.asarray(a) for a in jax.tree_util.tree_leaves(state)]


# ----------------------------------------------------------------------------------------------
# replication


def test_benchmark_point_solves_without_iterating(economy):
    x_bench = benchmark_point(economy.benchmark)
    f = np.asarray(residual(x_bench, economy))
    assert np.all(np.isfinite(f))
    assert np.max(np.abs(f)) <= 1e-9
    x, status = solve(economy, x_bench)
    assert bool(status.converged)
    assert int(status.iterations) == 0
    assert int(status.jacobians) == 0
    np.testing.assert_array_equal(np.asarray(x), np.asarray(x_bench))


def test_benchmark_state_reproduces_the_sam(economy):
    b = economy.benchmark
    state = evaluate(benchmark_point(b), economy)
    for price in (state.p_domestic, state.rental, state.wage, state.armington_price, state.cpi):
        np.testing.assert_allclose(price, 1.0, rtol=1e-12)
    np.testing.assert_allclose(state.exports, b.exports, rtol=1e-12)
    np.testing.assert_allclose(state.imports, b.imports, rtol=1e-12)
    np.testing.assert_allclose(state.shipments, b.trade, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(state.households.consumption, b.consumption, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(state.labour_demand, b.compensation, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(state.value_added.sum(), (b.compensation.sum() + b.capital.sum()
                                                         + b.production_tax.sum()), rtol=1e-12)


def test_solve_from_perturbed_prices_returns_the_benchmark(economy):
    x_bench = benchmark_point(economy.benchmark)
    x0 = perturbed_start(economy, size=0.10)
    assert float(jnp.max(jnp.abs(x0 - x_bench))) > 0.05  # the start really is ±10 % off
    x, status = _solve(economy, x0)
    assert int(status.iterations) > 0
    assert float(status.max_residual) <= 1e-10
    assert float(jnp.max(jnp.abs(x - x_bench))) <= TOL


# ----------------------------------------------------------------------------------------------
# homogeneity and Walras' law at shocked equilibria


def _real_shock(economy):
    """+5 % labour in the first region and +3 % TFP in construction in the last: prices move."""
    s, p = economy.benchmark.sets, economy.params
    shocked = _with(economy, "labour_supply", p.labour_supply.at[0].multiply(1.05))
    return _with(shocked, "tfp", p.tfp.at[-1, s.sector("CONS")].multiply(1.03))


@pytest.fixture(scope="module")
def numeraire_pair(economy):
    """The shocked equilibrium at exchange rate 1 and 2 (each solved from its own benchmark point)."""
    shocked = _real_shock(economy)
    doubled = _with(shocked, "exchange_rate", 2.0 * shocked.params.exchange_rate)
    x1, _ = _solve(shocked)
    x2, _ = _solve(doubled)
    return (shocked, x1, evaluate(x1, shocked)), (doubled, x2, evaluate(x2, doubled))


def test_shock_moves_the_equilibrium(economy, numeraire_pair):
    (_, x1, _), _ = numeraire_pair
    assert float(jnp.max(jnp.abs(x1 - benchmark_point(economy.benchmark)))) > 1e-3


NOMINAL = ("p_domestic", "export_price", "rental", "wage", "armington_price", "unit_cost", "unit_revenue", "value_added", "cpi",
           "regional_cpi", "national_capital_income", "households.wage_income", "households.capital_income",
           "households.transfers", "households.disposable", "households.savings", "public.revenue",
           "public.spending", "public.investment_value")
REAL = ("activity", "capital_demand", "labour_demand", "intermediate", "domestic_supply", "exports", "imports",
        "shipments", "margins", "composite_use", "transfer_scale", "households.consumption", "public.investment")


def _get(state, path):
    return np.asarray(functools.reduce(getattr, path.split("."), state))


def test_homogeneity_nominal_values_double(numeraire_pair):
    (shocked, x1, a), (_, x2, b) = numeraire_pair
    for name in NOMINAL:
        np.testing.assert_allclose(_get(b, name), 2.0 * _get(a, name), rtol=TOL, atol=0, err_msg=name)
    # in the unknowns: every log price moves by log 2, quantities and the closure scalar not at all
    p1, p2 = unpack(x1, shocked.benchmark), unpack(x2, shocked.benchmark)
    for name in ("log_p_domestic", "log_rental", "log_wage"):
        np.testing.assert_allclose(p2[name] - p1[name], np.log(2.0), rtol=0, atol=TOL, err_msg=name)
    for name in ("log_activity", "log_transfer_scale"):
        np.testing.assert_allclose(p2[name], p1[name], rtol=0, atol=TOL, err_msg=name)


def test_homogeneity_real_values_unchanged(numeraire_pair):
    (_, _, a), (_, _, b) = numeraire_pair
    for name in REAL:
        np.testing.assert_allclose(_get(b, name), _get(a, name), rtol=TOL, atol=0, err_msg=name)


SHOCKS = {
    "labour supply +5 % in region 0": lambda e: _with(e, "labour_supply", e.params.labour_supply.at[0].multiply(1.05)),
    "foreign savings +20 %": lambda e: _with(e, "foreign_savings", 1.2 * e.params.foreign_savings),
    "world import prices +10 %": lambda e: _with(e, "world_price_imports", 1.1 * e.params.world_price_imports),
    "government demand +10 %": lambda e: _with(e, "government_demand", 1.1 * e.params.government_demand),
    "income tax +2 points": lambda e: _with(e, "income_tax_rate", e.params.income_tax_rate + 0.02),
    "world demand for exports +10 %": lambda e: _with(e, "export_demand", 1.1 * e.params.export_demand),
}


@pytest.mark.parametrize("shock", list(SHOCKS))
def test_walras_law_holds_at_shocked_solutions(economy, shock):
    shocked = SHOCKS[shock](economy)
    x, _ = _solve(shocked)
    assert float(jnp.max(jnp.abs(x - benchmark_point(economy.benchmark)))) > 1e-4  # a real shock
    assert abs(float(walras_residual(evaluate(x, shocked), shocked))) <= TOL


def test_walras_law_holds_with_doubled_numeraire(numeraire_pair):
    for econ, _, state in numeraire_pair:
        assert abs(float(walras_residual(state, econ))) <= TOL


def test_walras_residual_is_not_zero_off_equilibrium(economy):
    """The check has teeth: away from a solution the dropped equation does not hold by itself."""
    x0 = perturbed_start(economy, size=0.10)
    assert abs(float(walras_residual(evaluate(x0, economy), economy))) > 1e-6
    assert abs(float(walras_residual(evaluate(benchmark_point(economy.benchmark), economy), economy))) <= 1e-12


# ----------------------------------------------------------------------------------------------
# a large shock on the full data


def test_large_shock_with_doubled_elasticities_converges(counties):
    s, p = counties.benchmark.sets, counties.params
    tro = s.region("TRO")
    shocked = _with(counties, "labour_supply", p.labour_supply.at[tro].multiply(1.20))
    for name in PRODUCTION_ELASTICITIES + TRADE_ELASTICITIES:
        shocked = _with(shocked, name, 2.0 * getattr(p, name))
    x, status = solve(shocked, benchmark_point(shocked.benchmark))
    require_converged(x, status, shocked, "+20 % labour in Trøndelag, elasticities x2")
    assert bool(jnp.all(jnp.isfinite(x)))
    state = evaluate(x, shocked)
    for leaf in _leaves(state):
        assert np.all(np.isfinite(leaf))
    assert np.all(np.asarray(state.activity) > 0) and np.all(np.asarray(state.wage) > 0)
    assert abs(float(walras_residual(state, shocked))) <= TOL
    # the labour market of Trøndelag absorbs the 20 % more residents who work there (the shelf's hires from there
    # are fixed; a few commute out) ...
    base = evaluate(benchmark_point(counties.benchmark), counties)
    hired = lambda st: st.labour_demand[tro].sum(axis=0) + st.shelf.labour[tro]
    supplied = lambda e: labour_at_workplace(e.benchmark, e.params)[tro]
    np.testing.assert_allclose(hired(state) / hired(base), supplied(shocked) / supplied(counties), rtol=1e-9)
    assert np.all(supplied(shocked) / supplied(counties) > 1.19)
    np.testing.assert_allclose(state.shelf.labour, base.shelf.labour, rtol=1e-12)
    # ... at lower real wages there than elsewhere, and Trøndelag produces more
    real_wage = np.asarray(state.wage) / float(state.cpi)
    assert np.all(real_wage[tro] < np.delete(real_wage, tro, axis=0).min(axis=0))
    assert float(state.value_added[tro].sum()) > float(base.value_added[tro].sum())


# ----------------------------------------------------------------------------------------------
# a solve that cannot converge is reported, not hidden


def test_failed_solve_is_reported_with_equation_names():
    economy = load_economy(regions="two_regions.csv")
    b = economy.benchmark
    parts = unpack(benchmark_point(b), b)
    parts["log_activity"] = parts["log_activity"] + 2.0  # every sector at 7.4 x its size: far off
    x0 = pack(parts)
    x, status = jax.jit(solve_equilibrium, static_argnames="options")(economy, x0, options=SolverOptions(max_iter=1))
    assert not bool(status.converged)
    assert int(status.iterations) == 1
    assert float(status.max_residual) > 1e-3
    with pytest.raises(NotConverged) as info:
        require_converged(x, status, economy)
    message = str(info.value)
    assert "did not converge" in message and "largest residuals" in message
    listed = message.split("largest residuals: ")[1].split("; ")
    # the first named residual is the largest of all
    assert abs(float(listed[0].split(" = ")[1])) == pytest.approx(float(status.max_residual), rel=5e-3), message  # printed to 3 digits
    assert len(listed) == 5
    for item in listed:
        assert re.fullmatch(r"(zero_profit|domestic_market|capital_market|labour_market)\[\w+, \w+\] = \S+"
                            r"|government_budget = \S+", item), item
    # a converged solve passes through require_converged unchanged
    x_ok, status_ok = solve(economy, x0)
    assert require_converged(x_ok, status_ok, economy) is x_ok
