"""Trade: CET exports, Armington imports, and shipments between counties with delivery margins.

- Exports (docs/model.md, "Exports"): net output V splits by a CET (elasticity η) between the domestic
  market, at price p_D[r, j], and exports at p_X[r, j]. Unit revenue R = (θ_D p_D^(1+η) + θ_X p_X^(1+η))^(1/(1+η));
  supplies V·(p/R)^η. Each region's export variety meets a finite world demand
  X = X̄·D·(p_X / e·pw_X)^(−ε) (ε = ``export_demand_elasticity``, D = ``export_demand``), so p_X clears the
  export market of each (r, j) given p_D and V; ε → ∞ is the small open economy at fixed world prices.
- Imports: the use of good i in region r is a CES (σA) of a domestic bundle and supplies from outside the
  counties at e·pw_M[i]: imports and the continental shelf's deliveries (crude, gas, pipeline services),
  which are sold at world prices (:mod:`noreg_jax.blocks.shelf`); foreign imports are the rest.
- Domestic bundle: a CES (σD) over origin counties s at the delivered price
  p_D[s, i] + τ[s, r, i]·p_A[s, transport], where τ = margin/value (goods only): the producer's
  region supplies the transport service of the delivery.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from noreg_jax.ces import ces_demand_index, ces_log_unit_cost, value_shares
from noreg_jax.data import Benchmark
from noreg_jax.parameters import Parameters


def net_output(b: Benchmark):
    """Benchmark net output V[r, j] = domestic deliveries at producer prices + exports."""
    return b.trade.sum(axis=1) + b.exports


def margin_rate(b: Benchmark):
    """τ[s, r, i] = delivery margin per unit of shipment value."""
    return jnp.where(b.trade > 0, b.margin / jnp.where(b.trade > 0, b.trade, 1.0), 0.0)


def log_world_export_price(p: Parameters):
    """log e·pw_X[j]: the world price of competing exports in NOK, the reference of the export demand curve."""
    return jnp.log(p.exchange_rate * p.world_price_exports)


def log_import_price(p: Parameters):
    return jnp.log(p.exchange_rate * p.world_price_imports)


def cet_shares(b: Benchmark):
    """Benchmark revenue shares (domestic, exports) [r, j, 2] of net output."""
    return value_shares(jnp.stack([b.trade.sum(axis=1), b.exports], -1))


def cet_revenue(b: Benchmark, p: Parameters, log_p_domestic, log_p_export):
    """Log unit revenue R[r, j] of net output and the CET supply indices (domestic, exports) [r, j, 2]."""
    shares = cet_shares(b)
    log_prices = jnp.stack([log_p_domestic, log_p_export], -1)
    log_r = ces_log_unit_cost(log_prices, shares, -p.eta_export)
    return log_r, ces_demand_index(log_r, log_prices, -p.eta_export)


EXPORT_PRICE_ITERATIONS = 6


def export_market_residual(b: Benchmark, p: Parameters, log_p_domestic, log_activity, log_p_export):
    """(h, ∂h/∂u) of the export market in u = log p_X (see :func:`log_export_price`); h = 0 at its equilibrium."""
    log_r, index = cet_revenue(b, p, log_p_domestic, log_p_export)
    export_share = index[..., 1] * jnp.exp(log_p_export - log_r) * cet_shares(b)[..., 1]  # s_X = θ_X (p_X/R)^(1+η)
    kappa = 1.0 / p.export_demand_elasticity
    h = (log_p_export - log_world_export_price(p)) \
        + kappa * (log_activity - jnp.log(p.export_demand) + p.eta_export * (log_p_export - log_r))
    return h, 1.0 + kappa * p.eta_export * (1.0 - export_share)


def log_export_price(b: Benchmark, p: Parameters, log_p_domestic, log_activity):
    """log p_X[r, j] clearing each export market: CET supply = world demand, given p_D and net output V.

    In logs, with u = log p_X, w = log e·pw_X and κ = 1/ε:
        h(u) = (u − w) + κ·[log V − log D + η·(u − log R(u))] = 0,
    h' = 1 + κη(1 − s_X) ∈ [1, 1 + κη] and h is concave (log R is convex in u), so Newton from u = w lands left
    of the root after at most one step and then rises to it monotonically, quadratically; six steps reach
    rounding error for any shock the model meets (tested). The iterations run on constants (no tangents flow
    through them); the last step is taken again at the converged point with the iterate held constant, so
    derivatives are those of the exact root (implicit function theorem), −h_θ / h_u.
    """
    fixed = jax.lax.stop_gradient((p, log_p_domestic, log_activity))

    def newton_step(_, u):
        h, slope = export_market_residual(b, fixed[0], fixed[1], fixed[2], u)
        return u - h / slope

    start = jnp.broadcast_to(log_world_export_price(fixed[0]), log_p_domestic.shape)
    u = jax.lax.fori_loop(0, EXPORT_PRICE_ITERATIONS, newton_step, start)
    h, slope = export_market_residual(b, p, log_p_domestic, log_activity, u)
    return u - h / jax.lax.stop_gradient(slope)


def outside_supply(b: Benchmark):
    """Benchmark supply from outside the counties [r, i]: imports + the shelf's deliveries, at world prices."""
    return b.imports + b.shelf.deliveries


class ArmingtonPrices(NamedTuple):
    delivered: jnp.ndarray  # [s, r, i] log delivered price (normalised)
    domestic_bundle: jnp.ndarray  # [r, i] log price of the domestic bundle
    composite: jnp.ndarray  # [r, i] log Armington price p_A


def _composite(b, p, log_delivered):
    """Bundle and composite prices from delivered prices [s, r, i]."""
    dom_values = jnp.moveaxis(b.trade + b.margin, 0, -1)  # [r, i, s]
    log_db = ces_log_unit_cost(jnp.moveaxis(log_delivered, 0, -1), value_shares(dom_values), p.sigma_domestic)
    arm_values = jnp.stack([dom_values.sum(-1), outside_supply(b)], -1)
    log_pm = jnp.broadcast_to(log_import_price(p), log_db.shape)
    log_pa = ces_log_unit_cost(jnp.stack([log_db, log_pm], -1), value_shares(arm_values), p.sigma_armington)
    return log_db, log_pa


def armington_prices(b: Benchmark, p: Parameters, log_p_domestic) -> ArmingtonPrices:
    """Delivered, bundle and composite prices. Transport carries no margin itself, so its composite
    price is found first and then prices the margins of the goods."""
    t = b.sets.transport
    log_plain = jnp.broadcast_to(log_p_domestic[:, None, :], b.trade.shape)
    _, log_pa0 = _composite(b, p, log_plain)
    p_transport = jnp.exp(log_pa0[:, t])  # [s]
    tau = margin_rate(b)
    delivered = (jnp.exp(log_p_domestic)[:, None, :] + tau * p_transport[:, None, None]) / (1.0 + tau)
    log_delivered = jnp.log(delivered)
    log_db, log_pa = _composite(b, p, log_delivered)
    return ArmingtonPrices(log_delivered, log_db, log_pa)


class TradeFlows(NamedTuple):
    imports: jnp.ndarray  # [r, i] foreign imports (outside supply less the shelf's deliveries), quantity
    shipments: jnp.ndarray  # [s, r, i] quantity at producer prices (benchmark value units)
    margins: jnp.ndarray  # [s, r, i] transport services for the deliveries


def armington_demands(b: Benchmark, p: Parameters, prices: ArmingtonPrices, composite_use,
                      shelf_deliveries) -> TradeFlows:
    """Split the composite use [r, i] (1 unit = 1 NOK million at benchmark prices) into foreign imports and
    shipments from every origin; ``shelf_deliveries`` [r, i] (quantities) meet part of the outside demand
    (a negative import is the shelf's surplus sold abroad at the import price)."""
    dom_values = (b.trade + b.margin).sum(axis=0)  # [r, i]
    total = dom_values + outside_supply(b)
    scale = composite_use / total
    log_pm = jnp.broadcast_to(log_import_price(p), prices.composite.shape)
    idx = ces_demand_index(prices.composite, jnp.stack([prices.domestic_bundle, log_pm], -1), p.sigma_armington)
    bundle_index = scale * idx[..., 0]  # relative to the benchmark bundle
    imports = outside_supply(b) * scale * idx[..., 1] - shelf_deliveries
    origin_idx = ces_demand_index(prices.domestic_bundle, jnp.moveaxis(prices.delivered, 0, -1), p.sigma_domestic)
    shipment_index = jnp.moveaxis(bundle_index[..., None] * origin_idx, -1, 0)  # [s, r, i]
    return TradeFlows(imports, b.trade * shipment_index, b.margin * shipment_index)
