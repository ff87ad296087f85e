"""One year's equilibrium: the square system F(x; economy) = 0 assembled from the blocks.

Unknowns x (all in logs, 0 at the benchmark):
    log_p_domestic[r, j]   producer price of the domestic good
    log_activity[r, j]     net output
    log_rental[r, j]       rental rate of the sector-specific capital
    log_wage[r, e]         wage of each education group in each region
    log_transfer_scale     government closure scalar
Equations (same order and shapes):
    zero_profit[r, j]      unit cost = unit revenue net of production tax
    domestic_market[r, j]  CET supply to the domestic market = shipments demanded by all regions
    capital_market[r, j]   capital demand = capital stock
    labour_market[r, e]    labour demand = labour supplied by the residents who commute to r
    government_budget      revenue = spending (relative to benchmark revenue)
Export prices p_X[r, j] are not unknowns: each clears its export market given p_D and V, solved inside F
(:func:`noreg_jax.blocks.trade.log_export_price`).
The continental shelf (:mod:`noreg_jax.blocks.shelf`) adds no unknowns: its volume is exogenous, its
inputs are bought at the counties' prices and its rent is the residual.
The numeraire is the exchange rate (``Parameters.exchange_rate``). Walras' law makes the foreign
balance (imports − exports = foreign savings) redundant: it is not in F and is checked separately by
:func:`walras_residual`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from noreg_jax.blocks import government, households, production, shelf, trade
from noreg_jax.data import Benchmark
from noreg_jax.parameters import Economy, benchmark_tax_rates
from noreg_jax.solver import SolverOptions, resolve_options, solve

UNKNOWNS = ("log_p_domestic", "log_activity", "log_rental", "log_wage", "log_transfer_scale")
EQUATIONS = ("zero_profit", "domestic_market", "capital_market", "labour_market", "government_budget")


def block_shapes(b: Benchmark):
    R, J, E = b.sets.n_regions, b.sets.n_sectors, b.sets.n_education
    return ((R, J), (R, J), (R, J), (R, E), ())


def n_unknowns(b: Benchmark) -> int:
    return sum(int(np.prod(s)) for s in block_shapes(b))


def region_partition(b: Benchmark) -> tuple:
    """The region of each unknown (−1 for the economy-wide transfer scale): the blocks of the krylov solver's
    preconditioner (docs/model.md, "Solver")."""
    parts = [np.repeat(np.arange(shape[0]), int(np.prod(shape[1:]))) if shape else np.full(1, -1)
             for shape in block_shapes(b)]
    return tuple(int(i) for i in np.concatenate(parts))


def with_partition(options: SolverOptions, b: Benchmark) -> SolverOptions:
    """``options`` for this benchmark's system: the region partition filled in where the krylov solver may need
    it and none is given, and the automatic choices made (``solver.resolve_options``)."""
    if options.linear in ("auto", "krylov") and not options.partition:
        options = options._replace(partition=region_partition(b))
    return resolve_options(options, n_unknowns(b))


def unpack(x, b: Benchmark) -> dict:
    out, k = {}, 0
    for name, shape in zip(UNKNOWNS, block_shapes(b)):
        n = int(np.prod(shape))
        out[name] = x[k:k + n].reshape(shape)
        k += n
    return out


def pack(parts: dict) -> jnp.ndarray:
    return jnp.concatenate([jnp.ravel(parts[n]) for n in UNKNOWNS])


class State(NamedTuple):
    """Every price and quantity of one year's equilibrium, in benchmark units (prices 1 in 2018)."""

    p_domestic: jnp.ndarray  # [r, j]
    activity: jnp.ndarray  # [r, j] net output (domestic deliveries + exports), volume
    rental: jnp.ndarray  # [r, j]
    wage: jnp.ndarray  # [r, e] per benchmark unit of labour, at the workplace
    transfer_scale: jnp.ndarray
    armington_price: jnp.ndarray  # [r, i]
    unit_revenue: jnp.ndarray  # [r, j]
    unit_cost: jnp.ndarray  # [r, j]
    capital_demand: jnp.ndarray  # [r, j]
    labour_demand: jnp.ndarray  # [r, j, e] in benchmark wage-bill units
    intermediate: jnp.ndarray  # [r, i, j]
    domestic_supply: jnp.ndarray  # [r, j]
    exports: jnp.ndarray  # [r, j] volume (CET supply = world demand)
    export_price: jnp.ndarray  # [r, j] p_X, NOK per benchmark unit
    imports: jnp.ndarray  # [r, i]
    shipments: jnp.ndarray  # [s, r, i]
    margins: jnp.ndarray  # [s, r, i]
    composite_use: jnp.ndarray  # [r, i]
    households: households.HouseholdAccounts
    public: government.PublicAccounts
    shelf: shelf.ShelfAccounts
    national_capital_income: jnp.ndarray
    cpi: jnp.ndarray  # national
    regional_cpi: jnp.ndarray  # [r]
    value_added: jnp.ndarray  # [r, j] nominal, at basic prices
    residuals: dict


def evaluate(x, economy: Economy) -> State:
    """All prices, quantities and equation residuals at the point x."""
    b, p = economy.benchmark, economy.params
    v = unpack(x, b)
    lp, ly, lr, lw, lt = (v[n] for n in UNKNOWNS)
    activity, rental, wage = jnp.exp(ly), jnp.exp(lr), jnp.exp(lw)
    # prices
    arm = trade.armington_prices(b, p, lp)
    pa = jnp.exp(arm.composite)
    nest = production.nest_prices(b, p, lw, lr, arm.composite)
    log_px = trade.log_export_price(b, p, lp, ly)  # each region's export market cleared given p_D and V
    log_rev, cet_idx = trade.cet_revenue(b, p, lp, log_px)
    # production and factor demands
    demand = production.input_demands(b, p, nest, lw, lr, activity)
    v0 = trade.net_output(b)
    t_prod0, _, _ = benchmark_tax_rates(b)
    revenue_value = jnp.exp(log_rev) * v0 * activity
    dom_supply = b.trade.sum(axis=1) * activity * cet_idx[..., 0]
    exports = b.exports * activity * cet_idx[..., 1]
    # the continental shelf, and incomes
    offshore = shelf.shelf_accounts(b, p, wage, pa)
    capital_income = jnp.sum(rental * p.capital_stock) + offshore.rent
    cpi, regional_cpi = households.consumer_price_index(b, pa)
    hh = households.household_accounts(b, p, wage, capital_income, jnp.exp(lt), cpi, pa)
    production_tax = jnp.sum(p.production_tax_rate * revenue_value) + offshore.production_tax
    intermediate_tax = jnp.sum(p.intermediate_tax_rate * jnp.einsum("ri,rij->rj", pa, demand.intermediate)) \
        + offshore.intermediate_tax
    pub = government.public_accounts(
        b, p, production_tax=production_tax, intermediate_tax=intermediate_tax, income_tax=hh.income_tax.sum(),
        national_capital_income=capital_income, transfers=hh.transfers.sum(), household_savings=hh.savings.sum(),
        armington_price=pa, log_armington_price=arm.composite)
    # the composite market: demand for goods, split into imports and shipments
    use = demand.intermediate.sum(axis=2) + offshore.purchases + hh.consumption.sum(axis=1) + p.government_demand \
        + pub.investment + p.inventories
    # delivery margins depend on shipments, which depend on use: transport carries no margin itself and
    # margins are bought in the origin region, so one pass with the goods' shipments suffices
    flows0 = trade.armington_demands(b, p, arm, use, offshore.deliveries)
    use = use.at[:, b.sets.transport].add(flows0.margins.sum(axis=(1, 2)))
    flows = trade.armington_demands(b, p, arm, use, offshore.deliveries)
    wage_bill = jnp.einsum("rje,re->rj", demand.labour, wage)  # labour is in benchmark wage-bill units
    value_added = wage_bill + rental * demand.capital + p.production_tax_rate * revenue_value
    residuals = {
        "zero_profit": nest.unit_cost - (jnp.log1p(-p.production_tax_rate) - jnp.log1p(-t_prod0) + log_rev),
        "domestic_market": jnp.log(dom_supply) - jnp.log(flows.shipments.sum(axis=1)),
        "capital_market": jnp.log(demand.capital) - jnp.log(p.capital_stock),
        "labour_market": jnp.log(demand.labour.sum(axis=1) + offshore.labour)
                         - jnp.log(households.labour_at_workplace(b, p)),
        "government_budget": (pub.revenue - pub.spending) / (b.income_tax.sum() + b.government_capital_income),
    }
    return State(jnp.exp(lp), activity, rental, wage, jnp.exp(lt), pa, jnp.exp(log_rev), jnp.exp(nest.unit_cost),
                 demand.capital, demand.labour, demand.intermediate, dom_supply, exports, jnp.exp(log_px), flows.imports,
                 flows.shipments, flows.margins, use, hh, pub, offshore, capital_income, cpi, regional_cpi,
                 value_added, residuals)


def residual(x, economy: Economy):
    """F(x; economy), the stacked equations in the order of ``EQUATIONS``."""
    r = evaluate(x, economy).residuals
    return jnp.concatenate([jnp.ravel(r[n]) for n in EQUATIONS])


def walras_residual(state: State, economy: Economy):
    """The dropped equation: (imports − exports − e·foreign savings) / imports at the solution."""
    p = economy.params
    m = jnp.sum(jnp.exp(trade.log_import_price(p)) * state.imports)
    x = jnp.sum(state.export_price * state.exports) + state.shelf.exports_value
    return (m - x - p.exchange_rate * p.foreign_savings) / m


def benchmark_point(b: Benchmark, exchange_rate=1.0):
    """x at benchmark prices, scaled to a numeraire value: every price equals the exchange rate."""
    shapes = block_shapes(b)
    lx = jnp.log(exchange_rate)
    parts = {
        "log_p_domestic": jnp.full(shapes[0], lx), "log_activity": jnp.zeros(shapes[1]),
        "log_rental": jnp.full(shapes[2], lx), "log_wage": jnp.full(shapes[3], lx),
        "log_transfer_scale": jnp.zeros(()),
    }
    return pack(parts)


def solve_equilibrium(economy: Economy, x0=None, options: SolverOptions = SolverOptions()):
    """Solve one year's equilibrium. Returns (x*, SolveStatus); differentiable in ``economy``."""
    if x0 is None:
        x0 = benchmark_point(economy.benchmark, economy.params.exchange_rate)
    return solve(residual, x0, economy, with_partition(options, economy.benchmark))


def _equation_labels(s):
    return {"zero_profit": (s.regions, s.sectors), "domestic_market": (s.regions, s.sectors),
            "capital_market": (s.regions, s.sectors), "labour_market": (s.regions, s.education),
            "government_budget": ()}


def largest_residual_index(state: State):
    """Flat index (in the order of :func:`residual`) of the largest |residual|, a NaN counting as largest."""
    f = jnp.concatenate([jnp.ravel(state.residuals[n]) for n in EQUATIONS])
    return jnp.argmax(jnp.where(jnp.isfinite(f), jnp.abs(f), jnp.inf))


def equation_label(b: Benchmark, index: int) -> str:
    """The equation at a flat index of F, e.g. 'labour_market[TRO, voc]'."""
    labels, k = _equation_labels(b.sets), int(index)
    for name, shape in zip(EQUATIONS, block_shapes(b)):
        n = int(np.prod(shape))
        if k < n:
            idx = np.unravel_index(k, shape) if shape else ()
            lab = ", ".join(dim[i] for dim, i in zip(labels[name], idx))
            return f"{name}[{lab}]" if lab else name
        k -= n
    raise IndexError(f"equation index {index} is beyond the {n_unknowns(b)} equations")


def largest_residuals(x, economy: Economy, k: int = 5) -> list[tuple[str, float]]:
    """The k largest |residuals| with their equation name and labels, e.g. ('labour_market[TRO, voc]', 0.3)."""
    s = economy.benchmark.sets
    res = jax.device_get(evaluate(x, economy).residuals)
    labels = _equation_labels(s)
    rows = []
    for name in EQUATIONS:
        arr = np.atleast_1d(np.asarray(res[name], dtype=float))
        mag = np.where(np.isfinite(arr), np.abs(arr), np.inf)
        for flat in np.argsort(-mag.ravel())[:k]:
            idx = np.unravel_index(flat, np.shape(res[name])) if np.ndim(res[name]) else ()
            lab = ", ".join(dim[i] for dim, i in zip(labels[name], idx))
            rows.append((f"{name}[{lab}]" if lab else name, float(arr.ravel()[flat])))
    rows.sort(key=lambda t: -abs(t[1]) if np.isfinite(t[1]) else -np.inf)
    return rows[:k]


class NotConverged(RuntimeError):
    """A solve did not converge; the message lists the largest residuals by equation name."""


def require_converged(x, status, economy: Economy, what: str = "equilibrium"):
    """Raise :class:`NotConverged` naming the largest residuals unless ``status.converged``."""
    if not bool(status.converged):
        worst = "; ".join(f"{n} = {v:.3g}" for n, v in largest_residuals(x, economy))
        raise NotConverged(f"{what} did not converge after {int(status.iterations)} iterations "
                           f"(max |residual| {float(status.max_residual):.3g}); largest residuals: {worst}")
    return x
