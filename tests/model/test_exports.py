"""The export market of each region's variety (blocks/trade.py, docs/model.md "Exports"): the export price solved
inside the residual clears CET supply against world demand, its derivatives are those of the exact root, the
fixed-world-price limit, and the direction of the response to world demand and to supply."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.blocks import trade
from noreg_jax.parameters import load_economy


@pytest.fixture(scope="module")
def economy():
    return load_economy(regions="trondelag_rest.csv")


def _point(economy, seed, size):
    """Random log domestic prices and log net output, ±size around the benchmark."""
    shape = economy.benchmark.exports.shape
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    return size * jax.random.uniform(k1, shape, minval=-1, maxval=1), size * jax.random.uniform(k2, shape, minval=-1, maxval=1)


def _supply_and_demand(economy, lp, ly, lpx):
    """log CET export supply and log world demand per (r, j), relative to the benchmark exports."""
    b, p = economy.benchmark, economy.params
    _, index = trade.cet_revenue(b, p, lp, lpx)
    supply = ly + jnp.log(index[..., 1])
    demand = jnp.log(p.export_demand) - p.export_demand_elasticity * (lpx - trade.log_world_export_price(p))
    return supply, demand


@pytest.mark.parametrize("size", [0.05, 0.5, 1.5])
def test_export_price_clears_every_export_market(economy, size):
    b, p = economy.benchmark, economy.params
    for seed in range(3):
        lp, ly = _point(economy, seed, size)
        lpx = trade.log_export_price(b, p, lp, ly)
        supply, demand = _supply_and_demand(economy, lp, ly, lpx)
        has_exports = np.asarray(b.exports) > 0
        np.testing.assert_allclose(np.asarray(supply)[has_exports], np.asarray(demand)[has_exports], rtol=0, atol=1e-12)
        assert float(jnp.max(jnp.abs(trade.export_market_residual(b, p, lp, ly, lpx)[0]))) < 1e-13


def test_benchmark_export_price_is_the_world_price(economy):
    b, p = economy.benchmark, economy.params
    zero = jnp.zeros_like(b.exports)
    np.testing.assert_allclose(trade.log_export_price(b, p, zero, zero), 0.0, atol=1e-15)


def test_derivatives_are_those_of_the_exact_root(economy):
    """d log p_X against central finite differences, in p_D, V and ε (the implicit-function-theorem step)."""
    b, p = economy.benchmark, economy.params
    lp, ly = _point(economy, 7, 0.3)
    f = lambda lp_, ly_, eps: trade.log_export_price(b, eqx.tree_at(lambda q: q.export_demand_elasticity, p, eps), lp_, ly_)
    eps0 = p.export_demand_elasticity
    directions = _point(economy, 8, 1.0)
    d_eps = jnp.linspace(0.5, 1.5, eps0.shape[0])
    _, tangent = jax.jvp(f, (lp, ly, eps0), (directions[0], directions[1], d_eps))
    h = 1e-6
    numeric = (f(lp + h * directions[0], ly + h * directions[1], eps0 + h * d_eps)
               - f(lp - h * directions[0], ly - h * directions[1], eps0 - h * d_eps)) / (2 * h)
    np.testing.assert_allclose(tangent, numeric, rtol=1e-6, atol=1e-9)
    assert float(jnp.max(jnp.abs(tangent))) > 1e-3  # a real derivative
    # reverse mode agrees with forward mode
    grad = jax.grad(lambda lp_: jnp.sum(f(lp_, ly, eps0) * directions[0]))(lp)
    jac = jax.jacfwd(lambda lp_: f(lp_, ly, eps0))(lp)
    np.testing.assert_allclose(grad, jnp.einsum("rj,rjsk->sk", directions[0], jac), rtol=1e-10, atol=1e-12)


def test_large_elasticity_gives_the_fixed_world_price(economy):
    b, p = economy.benchmark, economy.params
    lp, ly = _point(economy, 3, 0.5)
    big = eqx.tree_at(lambda q: q.export_demand_elasticity, p, jnp.full_like(p.export_demand_elasticity, 1e9))
    np.testing.assert_allclose(trade.log_export_price(b, big, lp, ly), 0.0, atol=1e-8)


def test_export_price_rises_with_world_demand_and_falls_with_supply(economy):
    b, p = economy.benchmark, economy.params
    zero = jnp.zeros_like(b.exports)
    more_demand = eqx.tree_at(lambda q: q.export_demand, p, 1.1 * p.export_demand)
    has_exports = np.asarray(b.exports) > 0
    up = np.asarray(trade.log_export_price(b, more_demand, zero, zero))
    down = np.asarray(trade.log_export_price(b, p, zero, zero + 0.1))
    assert (up[has_exports] > 0).all() and (down[has_exports] < 0).all()
    # no more than the demand shift itself: 0 < Δlog p_X <= log 1.1 / ε
    eps = np.broadcast_to(np.asarray(p.export_demand_elasticity), up.shape)
    assert (up[has_exports] <= np.log(1.1) / eps[has_exports] + 1e-15).all()
