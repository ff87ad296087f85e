"""The CES routine: Cobb–Douglas and Leontief limits, smoothness in sigma, CET use."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import noreg_jax  # noqa: F401
from noreg_jax.ces import ces_demand_index, ces_log_unit_cost, ces_unit_cost

SHARES = jnp.array([0.2, 0.5, 0.3])
PRICES = jnp.array([1.3, 0.8, 1.1])


def test_benchmark_cost_is_one():
    for s in [0.0, 0.5, 1.0, 2.0, -2.0]:
        assert float(ces_unit_cost(jnp.zeros(3), SHARES, s)) == pytest.approx(1.0, abs=1e-15)


def test_cobb_douglas_limit_exact():
    cd = jnp.exp(jnp.sum(SHARES * jnp.log(PRICES)))
    assert float(ces_unit_cost(jnp.log(PRICES), SHARES, 1.0)) == pytest.approx(float(cd), rel=1e-14)
    for eps in [1e-3, 1e-5, 1e-7]:
        c = ces_unit_cost(jnp.log(PRICES), SHARES, 1.0 + eps)
        assert float(c) == pytest.approx(float(cd), rel=10 * eps)


def test_leontief():
    c = ces_unit_cost(jnp.log(PRICES), SHARES, 0.0)
    assert float(c) == pytest.approx(float(jnp.sum(SHARES * PRICES)), rel=1e-14)
    d = ces_demand_index(jnp.log(c), jnp.log(PRICES), jnp.asarray(0.0))
    np.testing.assert_allclose(d, 1.0)


def test_general_sigma_against_textbook_formula():
    s = 0.6
    c = (jnp.sum(SHARES * PRICES ** (1 - s))) ** (1 / (1 - s))
    assert float(ces_unit_cost(jnp.log(PRICES), SHARES, s)) == pytest.approx(float(c), rel=1e-14)


def test_derivative_in_sigma_is_smooth_through_one():
    f = lambda s: ces_log_unit_cost(jnp.log(PRICES), SHARES, s)
    g = jax.grad(f)
    lp = jnp.log(PRICES)
    var = jnp.sum(SHARES * (lp - jnp.sum(SHARES * lp)) ** 2)
    # d log c / d sigma at sigma=1 is -var/2 (cumulant expansion)
    assert float(g(1.0)) == pytest.approx(float(-var / 2), rel=1e-8)
    for s in [1.0 - 2e-4, 1.0 - 5e-5, 1.0 + 5e-5, 1.0 + 2e-4]:
        fd = (f(s + 1e-6) - f(s - 1e-6)) / 2e-6
        assert float(g(s)) == pytest.approx(float(fd), rel=1e-5)


def test_shepard_lemma():
    # cost share of input k = d log c / d log p_k = theta_k (c/p_k)^(sigma-1) ... equals share * demand * p / c
    s = 0.7
    lp = jnp.log(PRICES)
    grad = jax.grad(lambda l: ces_log_unit_cost(l, SHARES, s))(lp)
    logc = ces_log_unit_cost(lp, SHARES, s)
    demand = ces_demand_index(logc, lp, jnp.asarray(s))
    np.testing.assert_allclose(grad, SHARES * demand * PRICES / jnp.exp(logc), rtol=1e-13)


def test_cet_as_negative_sigma():
    # revenue function with transformation elasticity eta: (Σ θ p^(1+η))^(1/(1+η)); supply ∝ (p/R)^η
    eta = 2.0
    r = jnp.sum(SHARES * PRICES ** (1 + eta)) ** (1 / (1 + eta))
    logr = ces_log_unit_cost(jnp.log(PRICES), SHARES, -eta)
    assert float(jnp.exp(logr)) == pytest.approx(float(r), rel=1e-14)
    supply = ces_demand_index(logr, jnp.log(PRICES), jnp.asarray(-eta))
    np.testing.assert_allclose(supply, (PRICES / r) ** eta, rtol=1e-13)


def test_zero_share_is_ignored():
    c1 = ces_unit_cost(jnp.log(jnp.array([1.3, 0.8, 1e300])), jnp.array([0.4, 0.6, 0.0]), 0.5)
    c2 = ces_unit_cost(jnp.log(jnp.array([1.3, 0.8])), jnp.array([0.4, 0.6]), 0.5)
    assert float(c1) == pytest.approx(float(c2), rel=1e-14)
