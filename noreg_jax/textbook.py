"""Two published textbook CGE models, declared with the model's own CES routine and solver.

- the Stylized Johansen model (Dixon, Parmenter, Sutton & Vincent 1992; GEMPACK manual, ch. 3);
- the two-good, two-factor, one-consumer economy of the MPSGE tutorial (Markusen, ``M1_MPS``).

They validate the building blocks (:mod:`noreg_jax.ces`, :mod:`noreg_jax.solver`) against published
numbers. Both are declared the MPSGE way, as an :class:`Economy`: a list of commodities (goods,
factors, welfare), activities that each produce one commodity from one CES nest of inputs, and one
consumer who owns the endowments and spends the whole income on one commodity (welfare, produced by
a utility activity). The equilibrium conditions follow from the declaration; there is one residual,
:func:`equilibrium_residual`, and each model is a declaration handed to it as ``args``.

Unknowns ``x`` (all logs, all 0 at the benchmark), in this order:
``log A[activity]`` (activity level, benchmark 1), ``log p[commodity]`` (price relative to the
benchmark price 1), ``log M/M̄`` (consumer income relative to the benchmark).

Equations (all relative, so that the solver's tolerance means the same thing in every row):

- zero profit, activity s:      log c_s(p) − log p_out(s) = 0,
  with c_s the CES unit cost of :func:`noreg_jax.ces.ces_log_unit_cost`;
- market clearing, commodity c: log supply_c − log demand_c = 0, where
  supply_c = Σ_s [out(s) = c] Ȳ_s A_s + e_c and
  demand_c = Σ_s X̄_sc A_s (c_s / p_c)^σ_s + [c = welfare] M / p_c;
  the numeraire's market row is replaced by log p_num − log p̄_num = 0 (Walras' law makes it redundant);
- income: log M/M̄ − log(Σ_c e_c p_c / Σ_c ē_c) = 0.
"""

from typing import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from noreg_jax.ces import ces_demand_index, ces_log_unit_cost
from noreg_jax.solver import SolverOptions, solve


class Economy(eqx.Module):
    """A declared one-consumer economy with single-nest CES activities (values at benchmark prices 1).

    Array leaves are differentiable parameters; names and indices are static.
    """

    commodities: tuple[str, ...] = eqx.field(static=True)
    activities: tuple[str, ...] = eqx.field(static=True)
    produces: tuple[int, ...] = eqx.field(static=True)  # commodity index made by each activity
    welfare: int = eqx.field(static=True)  # commodity index the consumer buys
    numeraire: int = eqx.field(static=True)  # commodity index whose price is fixed
    benchmark_inputs: Float[Array, "activity commodity"]  # input values X̄_sc
    benchmark_endowment: Float[Array, " commodity"]  # ē_c
    endowment: Float[Array, " commodity"]  # e_c, the endowment of the experiment
    sigma: Float[Array, " activity"]  # elasticity of substitution of each activity's nest
    numeraire_price: Float[Array, ""]  # p̄_num, relative to its benchmark

    @property
    def benchmark_output(self) -> Float[Array, " activity"]:
        """Ȳ_s = Σ_c X̄_sc (zero profit at benchmark prices)."""
        return jnp.sum(self.benchmark_inputs, axis=-1)

    @property
    def benchmark_income(self) -> Float[Array, ""]:
        """M̄ = Σ_c ē_c."""
        return jnp.sum(self.benchmark_endowment)

    @property
    def n_unknowns(self) -> int:
        return len(self.activities) + len(self.commodities) + 1


def declare(
    commodities: tuple[str, ...],
    activities: Mapping[str, tuple[str, Mapping[str, float], float]],
    endowment: Mapping[str, float],
    welfare: str,
    numeraire: str,
    endowment_change: Mapping[str, float] | None = None,
    numeraire_price=1.0,
) -> Economy:
    """Build an :class:`Economy` from names: ``activities[name] = (output, {input: value}, sigma)``.

    ``endowment`` holds benchmark values; ``endowment_change`` the experiment's endowments (defaults
    to the benchmark). Values and sigmas may be traced JAX scalars (for grad/vmap).
    """
    index = {name: k for k, name in enumerate(commodities)}
    inputs = jnp.stack(
        [jnp.stack([jnp.asarray(spec[1].get(c, 0.0), dtype=float) for c in commodities]) for spec in activities.values()]
    )
    bench = jnp.stack([jnp.asarray(endowment.get(c, 0.0), dtype=float) for c in commodities])
    current = dict(endowment) if endowment_change is None else {**endowment, **endowment_change}
    now = jnp.stack([jnp.asarray(current.get(c, 0.0), dtype=float) for c in commodities])
    return Economy(
        commodities=tuple(commodities),
        activities=tuple(activities),
        produces=tuple(index[spec[0]] for spec in activities.values()),
        welfare=index[welfare],
        numeraire=index[numeraire],
        benchmark_inputs=inputs,
        benchmark_endowment=bench,
        endowment=now,
        sigma=jnp.stack([jnp.asarray(spec[2], dtype=float) for spec in activities.values()]),
        numeraire_price=jnp.asarray(numeraire_price, dtype=float),
    )


def _split(x, economy: Economy):
    n_a, n_c = len(economy.activities), len(economy.commodities)
    return x[:n_a], x[n_a : n_a + n_c], x[n_a + n_c]


def equilibrium_quantities(x, economy: Economy) -> dict:
    """Levels implied by the unknowns: unit costs, input demands, supply and demand of each commodity."""
    log_activity, log_price, log_income = _split(x, economy)
    n_a, n_c = len(economy.activities), len(economy.commodities)
    shares = economy.benchmark_inputs / economy.benchmark_output[:, None]
    log_prices_by_activity = jnp.broadcast_to(log_price, (n_a, n_c))
    log_cost = ces_log_unit_cost(log_prices_by_activity, shares, economy.sigma)
    activity = jnp.exp(log_activity)
    input_demand = (
        economy.benchmark_inputs * activity[:, None] * ces_demand_index(log_cost, log_prices_by_activity, economy.sigma)
    )
    makes = jax.nn.one_hot(jnp.asarray(economy.produces), n_c, dtype=x.dtype)  # (activity, commodity)
    income = economy.benchmark_income * jnp.exp(log_income)
    final_demand = jax.nn.one_hot(economy.welfare, n_c, dtype=x.dtype) * income * jnp.exp(-log_price)
    supply = (makes * (economy.benchmark_output * activity)[:, None]).sum(axis=0) + economy.endowment
    demand = input_demand.sum(axis=0) + final_demand
    return dict(
        log_cost=log_cost,
        input_demand=input_demand,
        final_demand=final_demand,
        supply=supply,
        demand=demand,
        income=income,
        activity=activity,
        price=jnp.exp(log_price),
        makes=makes,
    )


def equilibrium_residual(x: Float[Array, " unknown"], economy: Economy) -> Float[Array, " unknown"]:
    """Zero profit, market clearing (numeraire row replaced) and income, all in logs; see module doc."""
    q = equilibrium_quantities(x, economy)
    _, log_price, log_income = _split(x, economy)
    zero_profit = q["log_cost"] - q["makes"] @ log_price
    market = jnp.log(q["supply"]) - jnp.log(q["demand"])
    market = market.at[economy.numeraire].set(log_price[economy.numeraire] - jnp.log(economy.numeraire_price))
    income = log_income - jnp.log(jnp.sum(economy.endowment * q["price"]) / economy.benchmark_income)
    return jnp.concatenate([zero_profit, market, income[None]])


def solve_economy(economy: Economy, options: SolverOptions = SolverOptions()):
    """Solve the declared economy from the benchmark. Returns (x, status, quantities)."""
    x, status = solve(equilibrium_residual, jnp.zeros(economy.n_unknowns), economy, options)
    return x, status, equilibrium_quantities(x, economy)


# --------------------------------------------------------------------------------------------------
# Stylized Johansen (GEMPACK manual ch. 3, table 3.1 SAM; Dixon et al. 1992)

SJ_COMMODITIES = ("good_1", "good_2", "labour", "capital", "welfare")


def stylized_johansen(labour_change=0.0, capital_change=0.0, numeraire_price=1.0) -> Economy:
    """The Stylized Johansen economy; ``*_change`` are relative changes of the factor endowments.

    Cobb–Douglas in all inputs (intermediates included) and Cobb–Douglas utility; good 1 numeraire.
    """
    return declare(
        SJ_COMMODITIES,
        {
            "sector_1": ("good_1", {"good_1": 4.0, "good_2": 2.0, "labour": 1.0, "capital": 1.0}, 1.0),
            "sector_2": ("good_2", {"good_1": 2.0, "good_2": 6.0, "labour": 3.0, "capital": 1.0}, 1.0),
            "household": ("welfare", {"good_1": 2.0, "good_2": 4.0}, 1.0),
        },
        endowment={"labour": 4.0, "capital": 2.0},
        endowment_change={"labour": 4.0 * (1.0 + labour_change), "capital": 2.0 * (1.0 + capital_change)},
        welfare="welfare",
        numeraire="good_1",
        numeraire_price=numeraire_price,
    )


def solve_stylized_johansen(
    labour_change=0.10, capital_change=0.0, numeraire_price=1.0, options: SolverOptions = SolverOptions()
) -> dict:
    """Levels (exact nonlinear) solution of Stylized Johansen; results in % change from the benchmark.

    Returns ``household_income_pct`` (Y), ``household_demand_pct[good]`` (XH), ``price_pct[good]``
    (PC), ``output_pct[good]`` (Z), ``factor_price_pct[labour, capital]`` (PF), plus ``x`` and ``status``.
    """
    economy = stylized_johansen(labour_change, capital_change, numeraire_price)
    x, status, q = solve_economy(economy, options)
    pct = lambda ratio: 100.0 * (ratio - 1.0)
    household = economy.activities.index("household")
    bench_household = economy.benchmark_inputs[household, :2]
    return dict(
        household_income_pct=pct(q["income"] / economy.benchmark_income),
        household_demand_pct=pct(q["input_demand"][household, :2] / bench_household),
        price_pct=pct(q["price"][:2]),
        output_pct=pct(q["activity"][:2]),
        factor_price_pct=pct(q["price"][2:4]),
        x=x,
        status=status,
    )


# --------------------------------------------------------------------------------------------------
# MPSGE tutorial two-by-two economy (Markusen, M1_MPS)

TWO_BY_TWO_COMMODITIES = ("X", "Y", "labour", "capital", "welfare")


def two_by_two(labour=70.0, capital=80.0, sigma_x=1.0, sigma_y=1.0, sigma_w=1.0, numeraire_price=1.0) -> Economy:
    """X = CES(L 50, K 50) -> 100; Y = CES(L 20, K 30) -> 50; W = CES(X 100, Y 50) -> 150; PX numeraire."""
    return declare(
        TWO_BY_TWO_COMMODITIES,
        {
            "X": ("X", {"labour": 50.0, "capital": 50.0}, sigma_x),
            "Y": ("Y", {"labour": 20.0, "capital": 30.0}, sigma_y),
            "W": ("welfare", {"X": 100.0, "Y": 50.0}, sigma_w),
        },
        endowment={"labour": 70.0, "capital": 80.0},
        endowment_change={"labour": labour, "capital": capital},
        welfare="welfare",
        numeraire="X",
        numeraire_price=numeraire_price,
    )


def solve_two_by_two(
    labour=70.0,
    capital=80.0,
    sigma_x=1.0,
    sigma_y=1.0,
    sigma_w=1.0,
    numeraire_price=1.0,
    options: SolverOptions = SolverOptions(),
) -> dict:
    """Solve the MPSGE two-by-two economy. Returns activity levels X, Y, W, prices PX, PY, PW, PL, PK
    (MPSGE's names, benchmark 1), consumer income CONS (benchmark 150), plus ``x`` and ``status``."""
    economy = two_by_two(labour, capital, sigma_x, sigma_y, sigma_w, numeraire_price)
    x, status, q = solve_economy(economy, options)
    a, p = q["activity"], q["price"]
    return dict(
        X=a[0], Y=a[1], W=a[2], PX=p[0], PY=p[1], PL=p[2], PK=p[3], PW=p[4], CONS=q["income"], x=x, status=status
    )
