"""Production: nested CES KLEM technology of each sector in each region (docs/model.md "One year's equilibrium").

    Y  = A · CES_σtop(KLE, M)                     A = tfp[r, j]
    KLE = CES_σkle(KL, E_eff),  E_eff = A_E · E   A_E = energy_efficiency[r, j]
    KL = CES_σkl(K, L)
    L  = CES_σT(N, H)                             σT = sigma_labour (non-tertiary vs tertiary)
    N  = CES_σN(A_L,e · L_e, e ∈ {low, voc})      σN = sigma_nontertiary
    H  = CES_σH(A_L,e · L_e, e ∈ {bach, mast})    σH = sigma_tertiary;  A_L = labour_productivity[r, e]
    E  = CES_σE(energy goods),  M = CES_σM(other goods)

Inputs of goods are Armington composites bought at p_A[r, i]·(1 + t_int[r, j]). Quantities are in
benchmark value units (NOK million of 2018), so every benchmark price is 1. Output here is the
producer's net output V = domestic deliveries + exports (output at basic prices minus delivery margins).
"""

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from noreg_jax.ces import ces_demand_index, ces_log_unit_cost, value_shares
from noreg_jax.data import Benchmark
from noreg_jax.parameters import Parameters, benchmark_tax_rates


TERTIARY = ("bach", "mast")  # the education groups of the tertiary labour aggregate H (docs/model.md)


def tertiary_mask(b: Benchmark) -> np.ndarray:
    """Boolean (E,): True for the tertiary groups; both aggregates must be non-empty."""
    mask = np.array([e in TERTIARY for e in b.sets.education])
    if mask.all() or not mask.any():
        raise ValueError(f"education groups {b.sets.education}: the labour nest needs tertiary groups {TERTIARY} "
                         "and at least one non-tertiary group")
    return mask


class Technology(NamedTuple):
    """Benchmark input values of every nest, per (region, sector) [NOK million]."""

    capital: jnp.ndarray  # [r, j]
    labour: jnp.ndarray  # [r, j, e]
    energy_goods: jnp.ndarray  # [r, j, energy goods] incl. intermediate taxes
    material_goods: jnp.ndarray  # [r, j, other goods] incl. intermediate taxes
    energy_index: np.ndarray  # indices of energy goods
    material_index: np.ndarray


def technology(b: Benchmark) -> Technology:
    energy = np.flatnonzero(np.asarray(b.sets.energy))
    material = np.flatnonzero(~np.asarray(b.sets.energy))
    gross = jnp.swapaxes(b.intermediate, 1, 2)  # [r, j, i]
    value = gross.sum(axis=-1, keepdims=True)
    tax_factor = 1.0 + jnp.where(value > 0, b.intermediate_tax[..., None] / jnp.where(value > 0, value, 1.0), 0.0)
    gross = gross * tax_factor
    return Technology(b.capital, b.compensation, gross[..., energy], gross[..., material], energy, material)


class NestPrices(NamedTuple):
    """Log unit costs of every nest (normalised, 0 at the benchmark) [r, j]."""

    labour: jnp.ndarray
    labour_groups: jnp.ndarray  # [r, j, 2] log unit costs of the non-tertiary and tertiary aggregates (N, H)
    kl: jnp.ndarray
    energy: jnp.ndarray  # per effective unit of energy (after energy efficiency)
    kle: jnp.ndarray
    materials: jnp.ndarray
    unit_cost: jnp.ndarray  # per unit of output, after TFP
    goods: jnp.ndarray  # [r, j, i] log purchase price of each good incl. tax change


def nest_prices(b: Benchmark, p: Parameters, log_wage, log_rental, log_armington_price) -> NestPrices:
    """Unit costs bottom-up. log_wage [r, e], log_rental [r, j], log_armington_price [r, i]."""
    tech = technology(b)
    _, t_int0, _ = benchmark_tax_rates(b)
    log_tax = jnp.log1p(p.intermediate_tax_rate) - jnp.log1p(t_int0)  # [r, j]
    log_goods = log_armington_price[:, None, :] + log_tax[..., None]  # [r, j, i]
    log_eff_wage = (log_wage - jnp.log(p.labour_productivity))[:, None, :]  # [r, 1, e]
    pl, nh = _labour_nest_prices(b, p, tech, log_eff_wage)
    kl = ces_log_unit_cost(jnp.stack([log_rental, pl], -1), value_shares(_kl_values(tech)), p.sigma_kl)
    pe = ces_log_unit_cost(log_goods[..., tech.energy_index], value_shares(tech.energy_goods), p.sigma_energy) \
        - jnp.log(p.energy_efficiency)
    kle = ces_log_unit_cost(jnp.stack([kl, pe], -1), value_shares(_kle_values(tech)), p.sigma_kle)
    pm = ces_log_unit_cost(log_goods[..., tech.material_index], value_shares(tech.material_goods), p.sigma_materials)
    top = ces_log_unit_cost(jnp.stack([kle, pm], -1), value_shares(_top_values(tech)), p.sigma_top)
    return NestPrices(pl, nh, kl, pe, kle, pm, top - jnp.log(p.tfp), log_goods)


def _labour_groups(b: Benchmark, p: Parameters):
    """((education indices, σ) of N, (education indices, σ) of H)."""
    tert = tertiary_mask(b)
    return (np.flatnonzero(~tert), p.sigma_nontertiary), (np.flatnonzero(tert), p.sigma_tertiary)


def _labour_nest_prices(b: Benchmark, p: Parameters, tech: Technology, log_eff_wage):
    """(log unit cost of L, log unit costs of (N, H) stacked on the last axis), each 0 at the benchmark."""
    groups = _labour_groups(b, p)
    nh = jnp.stack([ces_log_unit_cost(log_eff_wage[..., idx], value_shares(tech.labour[..., idx]), sigma)
                    for idx, sigma in groups], -1)
    values = jnp.stack([tech.labour[..., idx].sum(-1) for idx, _ in groups], -1)
    return ces_log_unit_cost(nh, value_shares(values), p.sigma_labour), nh


def _kl_values(t: Technology):
    return jnp.stack([t.capital, t.labour.sum(-1)], -1)


def _kle_values(t: Technology):
    return jnp.stack([t.capital + t.labour.sum(-1), t.energy_goods.sum(-1)], -1)


def _top_values(t: Technology):
    return jnp.stack([_kle_values(t).sum(-1), t.material_goods.sum(-1)], -1)


class InputDemands(NamedTuple):
    capital: jnp.ndarray  # [r, j] in benchmark rental-value units
    labour: jnp.ndarray  # [r, j, e] physical labour, in benchmark wage-bill units
    intermediate: jnp.ndarray  # [r, i, j] Armington goods (basic-price value units)


def input_demands(b: Benchmark, p: Parameters, prices: NestPrices, log_wage, log_rental, activity) -> InputDemands:
    """Conditional input demands top-down, for net output ``activity`` [r, j] (1 at the benchmark)."""
    tech = technology(b)
    top_cost = prices.unit_cost + jnp.log(p.tfp)  # cost of the CES aggregate before TFP
    q = activity / p.tfp
    top = q[..., None] * ces_demand_index(top_cost, jnp.stack([prices.kle, prices.materials], -1), p.sigma_top)
    kle_q, m_q = top[..., 0], top[..., 1]
    kle = kle_q[..., None] * ces_demand_index(prices.kle, jnp.stack([prices.kl, prices.energy], -1), p.sigma_kle)
    kl_q, e_eff_q = kle[..., 0], kle[..., 1]
    kl = kl_q[..., None] * ces_demand_index(prices.kl, jnp.stack([log_rental, prices.labour], -1), p.sigma_kl)
    k_q, l_q = kl[..., 0], kl[..., 1]
    log_eff_wage = (log_wage - jnp.log(p.labour_productivity))[:, None, :]
    nh = prices.labour_groups
    nh_q = l_q[..., None] * ces_demand_index(prices.labour, nh, p.sigma_labour)  # (N, H) quantity indices
    labour_eff = jnp.zeros_like(tech.labour)
    for k, (idx, sigma) in enumerate(_labour_groups(b, p)):
        within = ces_demand_index(nh[..., k], log_eff_wage[..., idx], sigma)
        labour_eff = labour_eff.at[..., idx].set(nh_q[..., k:k + 1] * within * tech.labour[..., idx])
    labour = labour_eff / p.labour_productivity[:, None, :]
    e_phys_q = e_eff_q / p.energy_efficiency
    log_pe_phys = prices.energy + jnp.log(p.energy_efficiency)
    g = prices.goods
    energy = e_phys_q[..., None] * ces_demand_index(log_pe_phys, g[..., tech.energy_index], p.sigma_energy)
    material = m_q[..., None] * ces_demand_index(prices.materials, g[..., tech.material_index], p.sigma_materials)
    rji = jnp.swapaxes(b.intermediate, 1, 2)  # benchmark basic-price quantities [r, j, i]
    inter = jnp.zeros_like(rji)
    inter = inter.at[..., tech.energy_index].set(energy * rji[..., tech.energy_index])
    inter = inter.at[..., tech.material_index].set(material * rji[..., tech.material_index])
    return InputDemands(k_q * tech.capital, labour, jnp.swapaxes(inter, 1, 2))
