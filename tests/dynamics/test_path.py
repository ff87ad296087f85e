"""The dynamic-recursive path 2018–2050 (docs/model.md "The path 2018–2050"): steady state, accounting identities of
the path, migration, the exogenous petroleum capital, gradients through the whole path, and an honest
report of a year that fails.

Everything runs on the three-region aggregation ``trondelag_rest.csv`` (OSVI, REST, TRO). The path is
jitted once (``options`` static, always :data:`TIGHT`) and reused by every test and by the finite
differences; the gradient is one more compilation.
"""

from __future__ import annotations

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.drivers import PETROLEUM, reference_model
from noreg_jax.dynamics import (
    PathNotConverged,
    constant_drivers,
    require_path_converged,
    simulate,
)
from noreg_jax.blocks.households import commuting_shares
from noreg_jax.parameters import load_economy
from noreg_jax.solver import SolverOptions

AGGREGATION = "trondelag_rest.csv"
REGION = "TRO"  # the region whose 2050 outcomes are differentiated
SECTOR = "KNOW"  # the sector whose σ's are differentiated (and whose TRO employment is an outcome)
TIGHT = SolverOptions(tol=1e-13)
TOL = 1e-8  # on identities and on the steady state
FD_STEP = 1e-4  # relative step of the central differences
FD_RTOL = 1e-5

_simulate = jax.jit(simulate, static_argnames="options")


def _run(model):
    return _simulate(model, options=TIGHT)


def _rel(a, b):
    """max |a − b| / max |b| (relative to the size of the reference array)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# ---------------------------------------------------------------------------------------------
# fixtures: the economy, the reference model, and the paths (each computed once per module)


@pytest.fixture(scope="module")
def economy():
    return load_economy(regions=AGGREGATION)


@pytest.fixture(scope="module")
def model(economy):
    return reference_model(economy)


@pytest.fixture(scope="module")
def reference(model):
    return _run(model)


@pytest.fixture(scope="module")
def steady(economy, model):
    constant = eqx.tree_at(lambda m: m.drivers, model, constant_drivers(economy))
    return constant, _run(constant)


# ---------------------------------------------------------------------------------------------
# the benchmark is a steady state


def test_constant_drivers_stay_at_the_benchmark(economy, steady):
    constant, result = steady
    b = economy.benchmark
    T = len(constant.drivers.years)
    assert np.asarray(result.converged).all()
    out = {k: np.asarray(v) for k, v in result.outcomes.items()}
    value_added = b.compensation.sum(axis=2) + b.capital + b.production_tax
    employment = b.compensation * (b.commuting_persons.sum(axis=0) / b.commuting.sum(axis=0))[:, None, :]
    expected = {"gross_product": value_added, "gross_product_nominal": value_added, "employment": employment,
                "capital": b.capital, "population": b.population, "labour_force": b.labour_force}
    for name, bench in expected.items():
        bench = np.broadcast_to(np.asarray(bench), (T, *np.shape(bench)))
        assert _rel(out[name], bench) < TOL, name
    for name in ("wage", "output_price", "armington_price", "rental_rate", "regional_cpi"):
        np.testing.assert_allclose(out[name], 1.0, rtol=0, atol=TOL, err_msg=name)
    pop = float(np.sum(b.population))
    assert np.max(np.abs(np.asarray(result.migration))) < 1e-10 * pop


# ---------------------------------------------------------------------------------------------
# the reference path


def test_every_reference_year_converges(model, reference):
    assert np.asarray(reference.converged).all(), np.asarray(model.drivers.years)[~np.asarray(reference.converged)]
    assert np.max(np.asarray(reference.max_residual)) <= TIGHT.tol
    require_path_converged(reference, model)  # does not raise


def test_the_reference_path_moves(economy, reference):
    """Not a steady state: mainland gross product grows and migration is not zero."""
    gp = np.asarray(reference.outcomes["gross_product"]).sum(axis=(1, 2))
    assert gp[-1] > 1.2 * gp[0]
    assert np.max(np.abs(np.asarray(reference.migration))) > 1e-3  # thousand persons in some year


def test_migration_sums_to_zero_nationally(reference):
    flows = np.asarray(reference.migration)  # (T, R, E)
    population = np.asarray(reference.outcomes["population"]).sum(axis=(1, 2))  # (T,)
    national = np.abs(flows.sum(axis=1))  # (T, E)
    assert np.all(national <= 1e-10 * population[:, None])


def test_no_migration_without_a_wage_response(model):
    still = eqx.tree_at(lambda m: m.dynamics.migration_beta, model, jnp.zeros_like(model.dynamics.migration_beta))
    result = _run(still)
    assert np.asarray(result.converged).all()
    assert np.all(np.asarray(result.migration) == 0.0)
    np.testing.assert_allclose(result.outcomes["population"], model.drivers.population, rtol=1e-14, atol=0)


def test_population_and_employment_identities(model, reference):
    d, out = model.drivers, reference.outcomes
    population = np.asarray(out["population"])
    flows = np.asarray(reference.migration)
    earlier = np.concatenate([np.zeros_like(flows[:1]), np.cumsum(flows, axis=0)[:-1]])  # Σ_{s<t} MIG[s]
    assert _rel(population, np.asarray(d.population) + earlier) < 1e-12
    labour_force = np.asarray(out["labour_force"])
    assert _rel(labour_force, population * np.asarray(d.participation)) < 1e-12
    # full employment with commuting: the labour hired at each workplace (sectors + the shelf) = the labour of the
    # residents of every region commuting in, in the benchmark's shares (wage-bill units: the regions merge
    # counties, so persons add up only approximately; exact on the counties, tests/model/test_commuting.py)
    b = model.economy.benchmark
    labour_in = np.einsum("rwe,tre->twe", np.asarray(commuting_shares(b)),
                          labour_force * np.asarray(b.wage_income / b.labour_force))
    jobs = np.asarray(out["employment"]).sum(axis=2) + np.asarray(out["shelf_workers"])
    assert _rel(jobs * np.asarray(b.commuting.sum(axis=0) / b.commuting_persons.sum(axis=0)), labour_in) < TOL
    assert _rel(jobs.sum(axis=1), labour_force.sum(axis=1)) < 1e-4
    # national population follows the drivers (migration only redistributes)
    assert _rel(population.sum(axis=1), np.asarray(d.population).sum(axis=1)) < 1e-12


def test_petroleum_capital_follows_its_driver(economy, model, reference):
    j = economy.benchmark.sets.sector(PETROLEUM)
    capital = np.asarray(reference.outcomes["capital"])[:, :, j]
    expected = np.asarray(model.drivers.capital_index)[:, :, j] * np.asarray(economy.benchmark.capital)[None, :, j]
    assert _rel(capital, expected) < 1e-14
    assert np.asarray(model.drivers.capital_index)[-1, 0, j] < 0.99  # the driver really declines


def test_endogenous_capital_accumulates(economy, reference):
    """Capital of the other sectors moves with investment (it is not held at the benchmark)."""
    j = economy.benchmark.sets.sector(PETROLEUM)
    capital = np.delete(np.asarray(reference.outcomes["capital"]), j, axis=2)
    np.testing.assert_allclose(capital[0], np.delete(np.asarray(economy.benchmark.capital), j, axis=1), rtol=1e-14)
    assert np.all(capital > 0)
    assert capital[-1].sum() > capital[0].sum()


# ---------------------------------------------------------------------------------------------
# gradients of 2050 outcomes through the whole path


def _theta(model, j):
    """The differentiated parameters: migration β_e (E,), σ_labour[j] and σ_armington[j]."""
    p = model.economy.params
    return (model.dynamics.migration_beta, p.sigma_labour[j], p.sigma_armington[j])


def _with_theta(model, theta, j):
    beta, sigma_labour, sigma_armington = theta
    p = model.economy.params
    return eqx.tree_at(
        lambda m: (m.dynamics.migration_beta, m.economy.params.sigma_labour, m.economy.params.sigma_armington),
        model, (beta, p.sigma_labour.at[j].set(sigma_labour), p.sigma_armington.at[j].set(sigma_armington)))


def _outcomes_2050(result, r, j):
    """Population of region r, its employment, and its employment in sector j, in 2050 (thousand)."""
    out = result.outcomes
    return jnp.stack([out["population"][-1, r].sum(), out["employment"][-1, r].sum(),
                      out["employment"][-1, r, j].sum()])


@pytest.fixture(scope="module")
def gradients(economy, model):
    s = economy.benchmark.sets
    r, j = s.region(REGION), s.sector(SECTOR)

    def f(theta, model):
        return _outcomes_2050(simulate(_with_theta(model, theta, j), TIGHT), r, j)

    theta = _theta(model, j)
    return r, j, theta, jax.jit(jax.jacrev(f))(theta, model)


def _central_difference(model, theta, r, j, which, k=None):
    leaves = list(theta)
    base = leaves[which]
    h = FD_STEP * float(base if k is None else base[k])
    values = []
    for sign in (1.0, -1.0):
        leaves[which] = base + sign * h if k is None else base.at[k].add(sign * h)
        result = _run(_with_theta(model, tuple(leaves), j))
        assert np.asarray(result.converged).all()
        values.append(np.asarray(_outcomes_2050(result, r, j)))
    return (values[0] - values[1]) / (2.0 * h)


@pytest.mark.parametrize("e", range(4))
def test_gradient_wrt_migration_beta_matches_finite_differences(model, gradients, e):
    r, j, theta, jac = gradients
    analytic = np.asarray(jac[0])[:, e]  # d(pop, employment, employment in j)/dβ_e
    numeric = _central_difference(model, theta, r, j, 0, e)
    # population and employment of the region respond clearly to every β_e
    assert np.all(np.abs(numeric[:2]) > 1.0), numeric
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL)


@pytest.mark.parametrize("which", [1, 2], ids=["sigma_labour", "sigma_armington"])
def test_gradient_wrt_an_elasticity_matches_finite_differences(model, gradients, which):
    r, j, theta, jac = gradients
    analytic = np.asarray(jac[which])
    numeric = _central_difference(model, theta, r, j, which)
    # the sector's employment in the region responds clearly to its own σ's; population only via migration
    assert abs(numeric[2]) > 1e-2, numeric
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL)


# ---------------------------------------------------------------------------------------------
# the matrix-free Newton–Krylov solver (SolverOptions(linear="krylov")) gives the same path and gradients

KRYLOV = TIGHT._replace(linear="krylov", dense_rescue=False)  # the rescue is tested in tests/solver (and doubles compile)


def test_krylov_path_and_its_gradient_equal_the_dense_ones(model, reference, gradients):
    r, j, theta, jac = gradients
    result = _simulate(model, options=KRYLOV)
    assert np.asarray(result.converged).all() and np.max(np.asarray(result.max_residual)) <= KRYLOV.tol
    for name in ("gross_product", "employment", "population", "wage", "capital"):
        assert _rel(result.outcomes[name], reference.outcomes[name]) < 1e-10, name
    # the block preconditioner of 2018 serves most years: far fewer builds than years
    assert int(np.asarray(result.jacobians).sum()) < len(model.drivers.years) // 2
    jac_krylov = jax.jit(jax.jacrev(lambda t, m: _outcomes_2050(simulate(_with_theta(m, t, j), KRYLOV), r, j)))(
        theta, model)
    for dense_leaf, krylov_leaf in zip(jac, jac_krylov):
        np.testing.assert_allclose(np.asarray(krylov_leaf), np.asarray(dense_leaf), rtol=1e-8, atol=1e-10)


# ---------------------------------------------------------------------------------------------
# a year that fails is reported, by year


def test_a_failed_year_is_named(model):
    years = model.drivers.years
    k = years.index(2030)
    broken = eqx.tree_at(lambda m: m.drivers.tfp, model, model.drivers.tfp.at[k].set(jnp.nan))
    result = _run(broken)
    converged = np.asarray(result.converged)
    assert converged[:k].all() and not converged[k]
    # the message names the failed years and the equation with the largest residual in the first of them
    with pytest.raises(PathNotConverged, match=r"2030") as info:
        require_path_converged(result, broken)
    assert "2029" not in str(info.value)
    assert re.search(r"in 2030 the max \|residual\| is \S+, in (zero_profit|domestic_market|capital_market)"
                     r"\[\w+, \w+\]", str(info.value)), str(info.value)
    # the years after the failed one are not solved (a failed draw in a sweep costs only its years so far)
    iterations = np.asarray(result.iterations)
    assert iterations[k] > 0 and (iterations[k + 1:] == 0).all()
    assert not converged[k + 1:].any()
