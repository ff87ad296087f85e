"""The continental shelf: a region without households (docs/model.md, "The continental shelf").

Extraction (PETRO) and pipeline transport (TRANS) on the shelf produce an exogenous volume
Y_j = a · Ȳ_j, a = ``shelf_activity`` (the petroleum path, docs/model.md "The path 2018–2050"), with fixed input
coefficients:
labour of each education group hired in the host counties (``host[r]``, where the shelf's workers live)
at their wages, and Armington goods bought in the host counties at p_A[r, i] plus the benchmark tax rate
on purchases. Output sells at world prices: exports at e·pw_X[j], domestic deliveries (to users in every
county, beside imports) at e·pw_M[j]. The operating surplus, the resource rent, is what is left:

    rent = e·a·Σ_j (pw_X,j X̄_j + pw_M,j D̄_j) − Σ_r,e w[r, e]·L[r, e] − purchases − taxes,

and is paid into national capital income. No county's accounts hold the shelf, so county figures are
mainland by construction.
"""

from typing import NamedTuple

import jax.numpy as jnp

from noreg_jax.data import Benchmark
from noreg_jax.parameters import Parameters


class ShelfAccounts(NamedTuple):
    """The shelf's flows in one year (NOK million; quantities in benchmark value units)."""

    labour: jnp.ndarray  # [r, e] labour hired in host county r, benchmark wage-bill units
    purchases: jnp.ndarray  # [r, i] Armington goods bought in host county r
    deliveries: jnp.ndarray  # [r, i] domestic sales by destination region
    exports_value: jnp.ndarray  # scalar, NOK million
    revenue: jnp.ndarray  # scalar
    wage_bill: jnp.ndarray  # scalar
    intermediate_tax: jnp.ndarray  # scalar
    production_tax: jnp.ndarray  # scalar
    rent: jnp.ndarray  # scalar: operating surplus
    value_added: jnp.ndarray  # scalar, nominal (wages + rent + production tax)
    real_gross_product: jnp.ndarray  # scalar, NOK million at 2018 prices


def _rate(tax, base):
    return jnp.where(base > 0, tax / jnp.where(base > 0, base, 1.0), 0.0)


def shelf_accounts(b: Benchmark, p: Parameters, wage, armington_price) -> ShelfAccounts:
    """The shelf's accounts given county wages [r, e] and Armington prices [r, i] (1 at the benchmark)."""
    sh, a, e = b.shelf, p.shelf_activity, p.exchange_rate
    labour = a * sh.host[:, None] * sh.compensation.sum(axis=0)[None, :]
    purchases = a * sh.host[:, None] * sh.intermediate.sum(axis=1)[None, :]
    deliveries = a * sh.deliveries
    exports_value = a * e * p.world_price_exports * sh.exports  # [j]
    sales_value = exports_value + a * e * p.world_price_imports * sh.deliveries.sum(axis=0)  # [j]
    host_price = jnp.sum(sh.host[:, None] * armington_price, axis=0)  # [i] price of the shelf's purchases
    purchase_value = a * jnp.einsum("i,ij->j", host_price, sh.intermediate)  # [j]
    intermediate_tax = jnp.sum(_rate(sh.intermediate_tax, sh.intermediate.sum(axis=0)) * purchase_value)
    production_tax = jnp.sum(_rate(sh.production_tax, sh.output) * sales_value)
    wage_bill = jnp.sum(wage * labour)
    revenue = jnp.sum(sales_value)
    rent = revenue - wage_bill - jnp.sum(purchase_value) - intermediate_tax - production_tax
    real = a * jnp.sum(sh.compensation.sum(axis=1) + sh.capital + sh.production_tax)
    return ShelfAccounts(labour, purchases, deliveries, jnp.sum(exports_value), revenue, wage_bill,
                         intermediate_tax, production_tax, rent, wage_bill + rent + production_tax, real)
