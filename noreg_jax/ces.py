"""The one CES routine of the model (docs/model.md "One year's equilibrium"), used for every nest, CET included.

Calibrated share form: with benchmark value shares ``theta_k`` (summing to one along the last axis)
and prices normalised by their benchmark values (``p_k / p̄_k``), the unit cost of the aggregate is

    c = (Σ_k θ_k p_k^(1-σ))^(1/(1-σ)),                        (1 at the benchmark)

and the demand for input k per unit of the aggregate (relative to its benchmark) is (c / p_k)^σ.
The cost is evaluated as exp(K(ρ)/ρ) with ρ = 1 - σ and K(ρ) = log Σ θ_k exp(ρ log p_k), the
cumulant-generating function of log-prices under θ. Near ρ = 0 (Cobb–Douglas) a third-order series
of K(ρ)/ρ replaces the division, so the value and its derivatives in σ are smooth through σ = 1;
σ = 0 gives Leontief, and σ < 0 gives a CET revenue function (σ = -η).
"""

import jax.numpy as jnp

_SERIES_THRESHOLD = 1e-4


def value_shares(parts):
    """Benchmark value shares θ_k = v_k / Σ_k v_k along the last axis; an all-zero row gets zero shares."""
    total = parts.sum(axis=-1, keepdims=True)
    return jnp.where(total > 0, parts / jnp.where(total > 0, total, 1.0), 0.0)


def ces_log_unit_cost(log_prices, shares, sigma):
    """Log unit cost of a CES aggregate (1 at the benchmark).

    log_prices: log of normalised prices p_k/p̄_k, shape (..., K); shares: benchmark value shares θ_k,
    shape (..., K), Σ_k θ_k = 1; sigma: elasticity of substitution, shape (...) (negative for CET).
    Returns log c, shape (...).
    """
    log_prices, shares = jnp.broadcast_arrays(log_prices, shares)
    sigma = jnp.asarray(sigma, dtype=log_prices.dtype)
    rho = 1.0 - sigma
    # zero shares contribute nothing; keep their log-price finite so that no 0*inf appears
    lp = jnp.where(shares > 0, log_prices, 0.0)
    mean = jnp.sum(shares * lp, axis=-1)
    dev = lp - mean[..., None]
    var = jnp.sum(shares * dev**2, axis=-1)
    third = jnp.sum(shares * dev**3, axis=-1)
    small = jnp.abs(rho) < _SERIES_THRESHOLD
    safe_rho = jnp.where(small, _SERIES_THRESHOLD, rho)
    # K(ρ)/ρ = mean + log Σ θ exp(ρ·dev) / ρ, with log1p/expm1 for accuracy at small ρ
    exact = mean + jnp.log1p(jnp.sum(shares * jnp.expm1(safe_rho[..., None] * dev), axis=-1)) / safe_rho
    series = mean + rho * var / 2.0 + rho**2 * third / 6.0
    return jnp.where(small, series, exact)


def ces_unit_cost(log_prices, shares, sigma):
    """Unit cost c of a CES aggregate (see :func:`ces_log_unit_cost`)."""
    return jnp.exp(ces_log_unit_cost(log_prices, shares, sigma))


def ces_demand_index(log_unit_cost, log_prices, sigma):
    """Conditional input demand per unit of aggregate, relative to the benchmark: (c / p_k)^σ.

    The demand for input k is x̄_k · (Q / Q̄) · ces_demand_index(...)_k.
    """
    sigma = jnp.asarray(sigma)
    return jnp.exp(sigma[..., None] * (log_unit_cost[..., None] - log_prices))
