"""Economic invariants of one year's equilibrium, as functions the CLI and the tests share.

- replication: the benchmark solves F = 0 without iterating, and a solve from prices perturbed by
  ±10 % returns to it;
- homogeneity of degree zero: doubling the numeraire (exchange rate) doubles every nominal value and
  leaves every quantity unchanged;
- Walras' law: the dropped equation (the foreign balance) holds at the solution.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noreg_jax.equilibrium import benchmark_point, evaluate, residual, solve_equilibrium, unpack, walras_residual
from noreg_jax.parameters import Economy


class CheckResult(NamedTuple):
    name: str
    value: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.value) and self.value <= self.tolerance)


def perturbed_start(economy: Economy, size: float = 0.10, seed: int = 0):
    """Benchmark point with every price (not quantity) moved by a random factor in [1-size, 1+size]."""
    x0 = benchmark_point(economy.benchmark)
    parts = unpack(x0, economy.benchmark)
    key = jax.random.PRNGKey(seed)
    n = x0.shape[0]
    shock = jnp.log1p(jax.random.uniform(key, (n,), minval=-size, maxval=size))
    # perturb prices only: p_domestic, rental, wage (quantities stay at the benchmark)
    mask = jnp.concatenate([jnp.ones(parts["log_p_domestic"].size), jnp.zeros(parts["log_activity"].size),
                            jnp.ones(parts["log_rental"].size), jnp.ones(parts["log_wage"].size), jnp.zeros(1)])
    return x0 + mask * shock


def run_checks(economy: Economy) -> list[CheckResult]:
    """Replication, homogeneity and Walras' law on ``economy``; each with its tolerance."""
    x_bench = benchmark_point(economy.benchmark)
    results = [CheckResult("benchmark residual, no iteration (max |F|)",
                           float(jnp.max(jnp.abs(residual(x_bench, economy)))), 1e-9)]
    x_star, status = jax.jit(solve_equilibrium)(economy, perturbed_start(economy))
    dev = float(jnp.max(jnp.abs(x_star - x_bench))) if bool(status.converged) else float("inf")
    results.append(CheckResult("solve from prices ±10 % returns the benchmark (max |Δ log|)", dev, 1e-8))
    # homogeneity: a shocked equilibrium, then the same with the numeraire doubled
    p = economy.params
    shocked = eqx.tree_at(lambda e: e.params.labour_supply, economy, p.labour_supply * 1.05)
    # the starting points are passed explicitly (as in the solve above) so that all three solves share one compilation
    x1, s1 = jax.jit(solve_equilibrium)(shocked, benchmark_point(shocked.benchmark, shocked.params.exchange_rate))
    doubled = eqx.tree_at(lambda e: e.params.exchange_rate, shocked, 2.0 * p.exchange_rate)
    x2, s2 = jax.jit(solve_equilibrium)(doubled, benchmark_point(doubled.benchmark, doubled.params.exchange_rate))
    if bool(s1.converged) and bool(s2.converged):
        a, b = evaluate(x1, shocked), evaluate(x2, doubled)
        nominal = max(float(jnp.max(jnp.abs(b.armington_price / a.armington_price - 2.0))),
                      float(jnp.max(jnp.abs(b.wage / a.wage - 2.0))),
                      float(jnp.max(jnp.abs(b.households.disposable / a.households.disposable - 2.0))))
        real = max(float(jnp.max(jnp.abs(b.activity / a.activity - 1.0))),
                   float(jnp.max(jnp.abs(b.households.consumption / a.households.consumption - 1.0))),
                   float(jnp.max(jnp.abs(b.imports / a.imports - 1.0))))
        walras = max(abs(float(walras_residual(a, shocked))), abs(float(walras_residual(b, doubled))))
    else:
        nominal = real = walras = float("inf")
    results += [
        CheckResult("homogeneity: numeraire x2 doubles nominal values (max rel. error)", nominal / 2.0, 1e-8),
        CheckResult("homogeneity: numeraire x2 leaves quantities (max rel. change)", real, 1e-8),
        CheckResult("Walras' law: dropped foreign balance at the solutions", walras, 1e-8),
    ]
    return results
