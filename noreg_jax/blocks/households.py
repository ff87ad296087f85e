"""Households: four representative households (region × education), Stone–Geary / LES demand.

Income (docs/model.md "One year's equilibrium"): after-tax wages earned at the workplaces the residents commute to
(docs/model.md "Commuting") + a fixed share of national capital income + transfers
(a benchmark amount per person, scaled by the government's closure scalar and the national CPI).
A fixed share of disposable income is saved; the rest buys goods per capita by the linear expenditure
system  p_i c_i = p_i γ_i + β_i (x − Σ_k p_k γ_k), x = expenditure per person.
Calibration: β_i ∝ η_i w_i (income elasticities η, budget shares w), Σβ = 1, and the Frisch
parameter φ = -x/(x - Σ p γ) gives γ_i = c̄_i + β_i x̄ / φ (φ < 0).
"""

from typing import NamedTuple

import jax.numpy as jnp

from noreg_jax.data import Benchmark
from noreg_jax.parameters import Parameters


def les_parameters(b: Benchmark, p: Parameters):
    """Marginal budget shares β[r, e, i] and per-capita subsistence γ[r, e, i] (benchmark quantities)."""
    per_capita = b.consumption / b.population[..., None]
    spend = per_capita.sum(-1, keepdims=True)
    w = per_capita / spend
    raw = p.income_elasticity * w
    beta = raw / raw.sum(-1, keepdims=True)
    gamma = per_capita + beta * spend / p.frisch
    return beta, gamma


def saving_rate(b: Benchmark):
    """Benchmark share of disposable income saved, [r, e]."""
    disposable = b.wage_income + b.capital_income + b.transfers - b.income_tax
    return b.savings / disposable


def capital_income_shares(b: Benchmark):
    """Shares of national capital income: per household [r, e], government, retained earnings."""
    total = b.capital.sum() + b.shelf.capital.sum()  # counties and the continental shelf
    return b.capital_income / total, b.government_capital_income / total, b.retained_earnings / total


def consumer_price_index(b: Benchmark, armington_price):
    """National Laspeyres CPI (benchmark household weights) and regional CPIs [r]."""
    weights = b.consumption.sum(axis=1)  # [r, i]
    national = jnp.sum(weights * armington_price) / weights.sum()
    regional = jnp.sum(weights * armington_price, -1) / weights.sum(-1)
    return national, regional


def commuting_shares(b: Benchmark):
    """θ[r, w, e]: the share of the labour of the residents (r, e) that works in region w (benchmark flows,
    fixed; Σ_w θ = 1)."""
    return b.commuting / b.commuting.sum(axis=1, keepdims=True)


def residence_wage(b: Benchmark, wage):
    """ω[r, e] = Σ_w θ[r, w, e] · wage[w, e]: the wage index of the residents (1 at the benchmark)."""
    return jnp.einsum("rwe,we->re", commuting_shares(b), wage)


def labour_at_workplace(b: Benchmark, p: Parameters):
    """Labour supplied to each workplace [w, e], benchmark wage-bill units: Σ_r θ[r, w, e] · L[r, e] · w̄[r, e],
    L the residents' employed persons (``labour_supply``) and w̄ their benchmark wage bill per person."""
    return jnp.einsum("rwe,re->we", commuting_shares(b), p.labour_supply * b.wage_income / b.labour_force)


class HouseholdAccounts(NamedTuple):
    wage_income: jnp.ndarray  # [r, e]
    capital_income: jnp.ndarray  # [r, e]
    transfers: jnp.ndarray  # [r, e]
    income_tax: jnp.ndarray  # [r, e]
    disposable: jnp.ndarray  # [r, e]
    savings: jnp.ndarray  # [r, e]
    consumption: jnp.ndarray  # [r, e, i] quantities


def household_accounts(b: Benchmark, p: Parameters, wage, national_capital_income, transfer_scale,
                       cpi, armington_price) -> HouseholdAccounts:
    """Incomes and LES demands given the workplace wage [w, e] (1 at benchmark) and prices."""
    wage_per_person = b.wage_income / b.labour_force
    wages = residence_wage(b, wage) * p.labour_supply * wage_per_person
    share_h, _, _ = capital_income_shares(b)
    capital = share_h * national_capital_income
    transfers = transfer_scale * cpi * b.transfers * p.population / b.population
    tax = p.income_tax_rate * wages
    disposable = wages + capital + transfers - tax
    savings = saving_rate(b) * disposable
    expenditure = (disposable - savings) / p.population  # per person
    beta, gamma = les_parameters(b, p)
    price = armington_price[:, None, :]
    supernumerary = expenditure - jnp.sum(price * gamma, -1)
    per_capita = gamma + beta * supernumerary[..., None] / price
    return HouseholdAccounts(wages, capital, transfers, tax, disposable, savings,
                             per_capita * p.population[..., None])
