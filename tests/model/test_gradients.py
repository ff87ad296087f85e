"""Implicit derivatives of equilibrium outcomes agree with central finite differences, in reverse and
forward mode and under ``vmap`` (two-region aggregation, for speed).

The derivatives are taken at a shocked equilibrium (+10 % labour in REST, +5 % TFP in ICT in OSVI):
at the benchmark itself every price is 1 and, in calibrated share form, no outcome depends on an
elasticity, so those derivatives would be exactly zero and test nothing.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.blocks.households import labour_at_workplace
from noreg_jax.equilibrium import benchmark_point, evaluate, solve_equilibrium
from noreg_jax.parameters import Economy, load_economy
from noreg_jax.solver import SolverOptions

TIGHT = SolverOptions(tol=1e-13)
RTOL = 1e-5  # implicit derivative vs central difference
FD_STEP = 1e-5  # relative step of the central differences

ECONOMY = load_economy(regions="two_regions.csv")
SETS = ECONOMY.benchmark.sets
REST, OSVI = SETS.region("REST"), SETS.region("OSVI")

# (field of Parameters, index): one entry of each kind
PARAMETERS = (
    ("sigma_kl", (SETS.sector("MACH"),)),
    ("sigma_armington", (SETS.sector("FOOD"),)),
    ("tfp", (REST, SETS.sector("METAL"))),
    ("labour_productivity", (OSVI, SETS.educ("bach"))),
)
OUTCOMES = (
    "employment in REST, MACH (sum over education of labour_demand)",
    "employment in REST, FOOD",
    "wage[REST, mast]",
    "wage[OSVI, bach]",
    "gross product of OSVI (sum of value_added)",
    "gross product of REST",
    "imports (national total, volume)",
)
EMPLOYMENT = len(OUTCOMES)  # one more row: total employment of REST, fixed by labour supply


def _shocked_params():
    p = ECONOMY.params
    p = eqx.tree_at(lambda q: q.labour_supply, p, p.labour_supply.at[REST].multiply(1.10))
    return eqx.tree_at(lambda q: q.tfp, p, p.tfp.at[OSVI, SETS.sector("ICT")].multiply(1.05))


BASE = _shocked_params()
THETA0 = jnp.array([float(getattr(BASE, field)[index]) for field, index in PARAMETERS])
X_BENCH = benchmark_point(ECONOMY.benchmark)


def _outcomes(theta):
    """(y, (y, converged)) at parameters ``theta``: y = the OUTCOMES and, last, REST's employment."""
    p = BASE
    for k, (field, index) in enumerate(PARAMETERS):
        p = eqx.tree_at(lambda q: getattr(q, field), p, getattr(p, field).at[index].set(theta[k]))
    economy = Economy(ECONOMY.benchmark, p)
    x, status = solve_equilibrium(economy, X_BENCH, TIGHT)
    s = evaluate(x, economy)
    out = jnp.stack([
        s.labour_demand[REST, SETS.sector("MACH")].sum(),
        s.labour_demand[REST, SETS.sector("FOOD")].sum(),
        s.wage[REST, SETS.educ("mast")],
        s.wage[OSVI, SETS.educ("bach")],
        s.value_added[OSVI].sum(),
        s.value_added[REST].sum(),
        s.imports.sum(),
        s.labour_demand[REST].sum() + s.shelf.labour[REST].sum(),  # = labour supply: fixed (full employment)
    ])
    return out, (out, status.converged)


# two compiled functions: values come as aux of the Jacobian, so finite differences reuse it
jacobian_reverse = jax.jit(jax.jacrev(_outcomes, has_aux=True))
jacobian_forward_batch = jax.jit(jax.vmap(jax.jacfwd(_outcomes, has_aux=True)))


def _values(theta):
    _, (out, converged) = jacobian_reverse(theta)
    assert bool(converged)
    return np.asarray(out)


@pytest.fixture(scope="module")
def implicit():
    jac, (out, converged) = jacobian_reverse(THETA0)
    assert bool(converged)
    return np.asarray(jac), np.asarray(out)


@pytest.fixture(scope="module")
def finite_differences():
    fd = np.zeros((len(OUTCOMES) + 1, len(PARAMETERS)))
    for k in range(len(PARAMETERS)):
        h = FD_STEP * max(abs(float(THETA0[k])), 1.0)
        fd[:, k] = (_values(THETA0.at[k].add(h)) - _values(THETA0.at[k].add(-h))) / (2.0 * h)
    return fd


def test_derivatives_are_not_trivially_zero(implicit, finite_differences):
    jac, out = implicit
    elasticity = np.abs(finite_differences * np.asarray(THETA0)[None, :] / out[:, None])[:EMPLOYMENT]
    assert elasticity.min() > 1e-5, elasticity  # every pair of outcome and parameter matters


def test_reverse_mode_matches_central_differences(implicit, finite_differences):
    jac, fd = implicit[0][:EMPLOYMENT], finite_differences[:EMPLOYMENT]
    rel = np.abs(jac - fd) / np.abs(fd)
    worst = np.unravel_index(np.argmax(rel), rel.shape)
    assert rel.max() <= RTOL, (f"d {OUTCOMES[worst[0]]} / d {PARAMETERS[worst[1]]}: implicit {jac[worst]:.10g}, "
                               f"finite difference {fd[worst]:.10g}")


def test_vmap_forward_mode_equals_loop_of_reverse_mode(implicit):
    thetas = jnp.stack([THETA0, THETA0 * 1.05, THETA0 * 0.95])
    batch, (out, converged) = jacobian_forward_batch(thetas)
    assert bool(jnp.all(converged))
    assert np.ptp(np.asarray(out)[:, 2]) > 1e-3  # the three equilibria differ
    for b in range(3):
        jac = implicit[0] if b == 0 else np.asarray(jacobian_reverse(thetas[b])[0])
        np.testing.assert_allclose(batch[b][:EMPLOYMENT], jac[:EMPLOYMENT], rtol=1e-9, atol=0,
                                   err_msg=f"batch member {b}")


def test_regional_employment_is_fixed_by_labour_supply(implicit):
    """Full employment: total employment of a region depends on none of these parameters."""
    jac, out = implicit
    employment = float(jnp.sum(labour_at_workplace(ECONOMY.benchmark, BASE)[REST]))
    np.testing.assert_allclose(out[EMPLOYMENT], employment, rtol=1e-12)
    scaled = np.abs(jac[EMPLOYMENT]) * np.maximum(np.abs(np.asarray(THETA0)), 1.0) / employment
    assert np.all(scaled <= 1e-12), scaled
