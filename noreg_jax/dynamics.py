"""The dynamic-recursive path 2018–2050 (docs/model.md "The path 2018–2050"): one equilibrium per year, linked by
capital accumulation and migration, as one differentiable function (``lax.scan``).

Year t, given the state (capital stocks, cumulative migration) and the drivers of year t:
1. population[r, e] = exogenous reference population (drivers) + cumulative endogenous migration
   + worker shift (persons moved by a scenario who are all employed); labour supply = (reference population
   + migration) × participation + worker shift;
2. solve the year's equilibrium, warm-started from last year's solution and its Jacobian factors;
3. capital: K[t+1] = (1 − δ) K[t] + κ·I_real[t]·ω[r, j], with ω ∝ K[r, j]·rental[r, j]^ε (new
   investment flows to high returns; ε = investment_elasticity) over the sectors with endogenous
   capital; κ = δ ΣK̄ / Ī makes the benchmark a steady state. Sectors flagged exogenous (petroleum)
   follow the driver ``capital_index`` instead;
4. migration (Skjerpen et al.): MIG[r, e]/POP[r, e] = β_e·z[r, e], z = (log W − log W̄) − (the same at
   the benchmark), W the real wage per person (regional CPI), W̄ the population-weighted average of
   the other regions; flows are re-centred to sum to zero nationally for each e and enter next year's
   population.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from noreg_jax.equilibrium import (benchmark_point, equation_label, evaluate, largest_residual_index, residual,
                                   with_partition)
from noreg_jax.outcomes import real_wage, wage_per_person, year_outcomes
from noreg_jax.parameters import Economy
from noreg_jax.solver import SolverOptions, initial_factors, solve

FIRST_YEAR, LAST_YEAR = 2018, 2050


class DynamicParameters(eqx.Module):
    """Parameters of the links between years."""

    depreciation: jnp.ndarray  # δ, per year
    investment_elasticity: jnp.ndarray  # ε, allocation of new investment by relative rental rates
    migration_beta: jnp.ndarray  # (E,) β_e


class Drivers(eqx.Module):
    """Exogenous paths, indexed by year first: shapes (T, R, J), (T, R, E) or (T,)."""

    years: tuple[int, ...] = eqx.field(static=True)
    population: jnp.ndarray  # (T, R, E) reference population before endogenous migration, thousand
    participation: jnp.ndarray  # (T, R, E) labour force / population
    worker_shift: jnp.ndarray  # (T, R, E) persons added who are all employed (scenario 1 moves workers), thousand
    tfp: jnp.ndarray  # (T, R, J)
    energy_efficiency: jnp.ndarray  # (T, R, J)
    labour_productivity: jnp.ndarray  # (T, R, E)
    government_demand: jnp.ndarray  # (T, R, J)
    capital_index: jnp.ndarray  # (T, R, J) capital relative to 2018, used where exogenous_capital = 1
    government_savings: jnp.ndarray  # (T,) real government savings
    foreign_savings: jnp.ndarray  # (T,) foreign savings in foreign currency
    export_demand: jnp.ndarray  # (T, R, J) world demand for each region's export variety, 2018 = 1
    shelf_activity: jnp.ndarray  # (T,) the continental shelf's volume, 2018 = 1
    exogenous_capital: jnp.ndarray  # (R, J) 1 where capital is exogenous (petroleum), else 0


class PathModel(eqx.Module):
    """Everything a 2018–2050 path depends on, as one pytree (differentiate with respect to any leaf)."""

    economy: Economy
    drivers: Drivers
    dynamics: DynamicParameters


def constant_drivers(economy: Economy, years=range(FIRST_YEAR, LAST_YEAR + 1)) -> Drivers:
    """Every driver held at its benchmark value: the path must stay at the benchmark."""
    b, p = economy.benchmark, economy.params
    years = tuple(years)
    T = len(years)
    rep = lambda a: jnp.broadcast_to(a, (T, *jnp.shape(a)))
    return Drivers(years=years, population=rep(p.population), participation=rep(p.labour_supply / p.population),
                   worker_shift=jnp.zeros((T, *p.population.shape)),
                   tfp=rep(p.tfp), energy_efficiency=rep(p.energy_efficiency),
                   labour_productivity=rep(p.labour_productivity), government_demand=rep(p.government_demand),
                   capital_index=jnp.ones((T, *b.capital.shape)), government_savings=rep(p.government_savings),
                   foreign_savings=rep(p.foreign_savings), export_demand=rep(p.export_demand),
                   shelf_activity=rep(p.shelf_activity), exogenous_capital=jnp.zeros(b.capital.shape))


class PathState(NamedTuple):
    x: jnp.ndarray
    factors: tuple
    capital: jnp.ndarray  # (R, J) endogenous capital stock
    migration: jnp.ndarray  # (R, E) cumulative net in-migration, thousand
    ok: jnp.ndarray  # bool: every year so far converged (later years are skipped once one fails)
    x_before: jnp.ndarray | None = None  # the solution of the year before x's (x itself in the first year)


def year_economy(model: PathModel, t_drivers, state: PathState) -> Economy:
    """The parameters of year t: drivers of year t and the state carried from the year before."""
    d, e = t_drivers, model.economy
    resident = d["population"] + state.migration
    population = resident + d["worker_shift"]
    capital = jnp.where(model.drivers.exogenous_capital > 0, e.benchmark.capital * d["capital_index"], state.capital)
    params = eqx.tree_at(
        lambda p: (p.population, p.labour_supply, p.tfp, p.energy_efficiency, p.labour_productivity,
                   p.government_demand, p.capital_stock, p.government_savings, p.foreign_savings, p.export_demand,
                   p.shelf_activity),
        e.params,
        (population, resident * d["participation"] + d["worker_shift"], d["tfp"], d["energy_efficiency"], d["labour_productivity"],
         d["government_demand"], capital, d["government_savings"], d["foreign_savings"], d["export_demand"],
         d["shelf_activity"]))
    return Economy(e.benchmark, params)


def _log_relative_real_wage(real, population):
    """log W[r, e] − log W̄[r, e], W̄ the population-weighted mean real wage of the other regions."""
    total = jnp.sum(population * real, axis=0, keepdims=True)
    weight = jnp.sum(population, axis=0, keepdims=True)
    others = (total - population * real) / (weight - population)
    return jnp.log(real) - jnp.log(others)


def migration_flows(model: PathModel, economy_t: Economy, state_t):
    """Net in-migration [r, e] (thousand persons, summing to zero over r) decided in year t."""
    b = model.economy.benchmark
    pop = economy_t.params.population
    z = _log_relative_real_wage(real_wage(state_t, economy_t), pop) \
        - _log_relative_real_wage(wage_per_person(model.economy), b.population)
    raw = model.dynamics.migration_beta * z * pop
    return raw - pop * jnp.sum(raw, axis=0) / jnp.sum(pop, axis=0)


def next_capital(model: PathModel, economy_t: Economy, state_t, capital):
    """Capital stocks of the next year (endogenous sectors)."""
    b = model.economy.benchmark
    dyn = model.dynamics
    endogenous = 1.0 - model.drivers.exogenous_capital
    from noreg_jax.blocks.government import log_investment_price

    price_investment = jnp.exp(log_investment_price(b, jnp.log(state_t.armington_price)))
    real_investment = state_t.public.investment_value / price_investment
    kappa = dyn.depreciation * jnp.sum(endogenous * b.capital) / b.investment.sum()
    attractiveness = endogenous * capital * state_t.rental ** dyn.investment_elasticity
    allocation = attractiveness / jnp.sum(attractiveness)
    return (1.0 - dyn.depreciation) * capital + kappa * real_investment * allocation


class PathResult(NamedTuple):
    outcomes: dict  # name -> array (T, ...)
    migration: jnp.ndarray  # (T, R, E) net in-migration decided in each year (enters next year)
    converged: jnp.ndarray  # (T,) bool: this year and every year before it converged
    iterations: jnp.ndarray  # (T,)
    jacobians: jnp.ndarray  # (T,)
    max_residual: jnp.ndarray  # (T,)
    worst_equation: jnp.ndarray  # (T,) flat index of the largest |residual| (equilibrium.equation_label names it)
    matvecs: jnp.ndarray | None = None  # (T,) Jacobian–vector products of the Newton steps (krylov mode)


def yearly_drivers(dr: Drivers) -> dict:
    """The drivers indexed by year (the ``xs`` of the path's ``lax.scan``); index [t] for one year's."""
    return {"population": dr.population, "participation": dr.participation, "worker_shift": dr.worker_shift,
            "tfp": dr.tfp, "energy_efficiency": dr.energy_efficiency, "labour_productivity": dr.labour_productivity,
            "government_demand": dr.government_demand, "capital_index": dr.capital_index,
            "government_savings": dr.government_savings, "foreign_savings": dr.foreign_savings,
            "export_demand": dr.export_demand, "shelf_activity": dr.shelf_activity, "year": jnp.asarray(dr.years)}


def simulate(model: PathModel, options: SolverOptions = SolverOptions(), progress=None) -> PathResult:
    """Solve every year of the path in turn (``lax.scan``); differentiable in ``model``.

    A year that does not converge is flagged in ``converged``; the years after it are not solved
    (no iterations; their outcomes are those of the failed point, flagged not converged), so a
    failed draw in a batch costs no more than the years up to its failure. A caller must check
    ``result.converged.all()`` (see :func:`require_path_converged`).
    ``progress``: optional host callback called with each finished year (e.g. to move a progress bar).
    """
    e = model.economy
    options = with_partition(options, e.benchmark)
    x0 = benchmark_point(e.benchmark, e.params.exchange_rate)
    factors0 = initial_factors(x0.shape[0], options, x0.dtype)
    init = PathState(x0, factors0, e.params.capital_stock, jnp.zeros_like(e.params.population), jnp.asarray(True),
                     x0)
    per_year = yearly_drivers(model.drivers)

    def step(carry: PathState, t_drivers):
        economy_t = year_economy(model, t_drivers, carry)
        # the start: last year's solution extrapolated along its change from the year before (a secant
        # predictor; the path is smooth, so this saves about a Newton step a year, docs/model.md "Solver")
        start = 2.0 * carry.x - carry.x_before
        x, status, factors = solve(residual, start, economy_t, options, factors=carry.factors,
                                   return_factors=True, attempt=carry.ok)
        state_t = evaluate(x, economy_t)
        flows = migration_flows(model, economy_t, state_t)
        capital = next_capital(model, economy_t, state_t, carry.capital)
        out = (year_outcomes(state_t, economy_t), flows, status.converged, status.iterations, status.jacobians,
               status.max_residual, largest_residual_index(state_t), status.matvecs)
        if progress is not None:
            jax.debug.callback(progress, t_drivers["year"], ordered=True)
        return PathState(x, factors, capital, carry.migration + flows, status.converged, carry.x), out

    # conv is already cumulative: a year after a failed one is not attempted, so it is not converged
    _, (outcomes, flows, conv, its, jacs, maxres, worst, matvecs) = lax.scan(step, init, per_year)
    return PathResult(outcomes, flows, conv, its, jacs, maxres, worst, matvecs)


class PathNotConverged(RuntimeError):
    """Some year of a path did not converge."""


def failure_description(result: PathResult, years, benchmark) -> str | None:
    """None if every year converged, else the failed years and the first failed year's largest residual by
    equation, e.g. 'year(s) [2030, …, 2050]; in 2030 the max |residual| is nan, in zero_profit[TRO, AGRI] (later
    years are not attempted)'."""
    import numpy as np

    conv = np.asarray(result.converged)
    if conv.all():
        return None
    bad = [int(y) for y, c in zip(years, conv) if not c]
    first = int(np.argmax(~conv))
    text = f"year(s) {bad}; in {bad[0]} the max |residual| is {float(np.asarray(result.max_residual)[first]):.3g}"
    if result.worst_equation is not None:
        text += f", in {equation_label(benchmark, int(np.asarray(result.worst_equation)[first]))}"
    return text + " (later years are not attempted)"


def require_path_converged(result: PathResult, model: PathModel) -> PathResult:
    """Raise :class:`PathNotConverged` naming the failed years and the equation with the largest residual in
    the first of them (:func:`failure_description`) unless every year converged; else return ``result``."""
    what = failure_description(result, model.drivers.years, model.economy.benchmark)
    if what is not None:
        raise PathNotConverged(f"the path did not converge in {what}; the results from those years on are not an "
                               "equilibrium")
    return result
