"""The parameter pytree: every elasticity, tax rate, productivity shifter and endowment in one place.

Together with the benchmark flows (:class:`noreg_jax.data.Benchmark`, which carry the calibrated
shares) this is everything an equilibrium depends on, so ``jax.grad`` with respect to an
:class:`Economy` gives derivatives with respect to any of them. Defaults are read from
``noreg_jax/data/parameters/`` (sources cited there) and from the benchmark itself.
"""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from noreg_jax.data import Benchmark, DataError, _codes, _numeric, _read_csv

DEFAULT_PARAMETER_DIR = Path(__file__).parent / "data" / "parameters"

PRODUCTION_ELASTICITIES = ("sigma_top", "sigma_kle", "sigma_kl", "sigma_labour", "sigma_nontertiary",
                           "sigma_tertiary", "sigma_energy", "sigma_materials")
TRADE_ELASTICITIES = ("sigma_armington", "sigma_domestic", "eta_export", "export_demand_elasticity")
#: elasticities that must be > 0, with the reason: 0 is allowed (Leontief) everywhere else
STRICTLY_POSITIVE = {
    "sigma_labour": "with fixed labour supplies a Leontief labour nest has no equilibrium (the wage of the group "
                    "in excess would fall to zero)",
    "sigma_nontertiary": "with fixed labour supplies a Leontief labour nest has no equilibrium",
    "sigma_tertiary": "with fixed labour supplies a Leontief labour nest has no equilibrium",
    "export_demand_elasticity": "0 would make export prices infinite",
}


class Parameters(eqx.Module):
    """Exogenous parameters of one year's equilibrium (shapes: R regions, J sectors, E education groups).

    Elasticities are per sector/good (J,). Endowments are in benchmark units: labour in thousand
    persons, capital in NOK million of 2018 rental value; demands in NOK million at 2018 prices.
    """

    # production (docs/model.md "One year's equilibrium", Koesler–Schymura nesting)
    sigma_top: jnp.ndarray  # (J,) KLE vs materials
    sigma_kle: jnp.ndarray  # (J,) KL vs energy
    sigma_kl: jnp.ndarray  # (J,) capital vs labour
    sigma_labour: jnp.ndarray  # (J,) σT: non-tertiary (low, voc) vs tertiary (bach, mast) labour
    sigma_nontertiary: jnp.ndarray  # (J,) σN: low vs voc
    sigma_tertiary: jnp.ndarray  # (J,) σH: bach vs mast
    sigma_energy: jnp.ndarray  # (J,) between energy goods
    sigma_materials: jnp.ndarray  # (J,) between non-energy goods
    # trade
    sigma_armington: jnp.ndarray  # (J,) domestic bundle vs imports
    sigma_domestic: jnp.ndarray  # (J,) between origin counties
    eta_export: jnp.ndarray  # (J,) CET domestic market vs exports
    export_demand_elasticity: jnp.ndarray  # (J,) ε: world demand for a region's export variety, > 0
    # households (LES)
    income_elasticity: jnp.ndarray  # (J,)
    frisch: jnp.ndarray  # scalar (negative)
    # productivity (1 at the benchmark)
    tfp: jnp.ndarray  # (R, J) Hicks-neutral
    energy_efficiency: jnp.ndarray  # (R, J)
    labour_productivity: jnp.ndarray  # (R, E) labour-augmenting
    # endowments and exogenous demands
    labour_supply: jnp.ndarray  # (R, E) thousand employed persons
    population: jnp.ndarray  # (R, E) thousand persons
    capital_stock: jnp.ndarray  # (R, J)
    government_demand: jnp.ndarray  # (R, J) real government purchases
    inventories: jnp.ndarray  # (R, J) real changes in inventories
    government_savings: jnp.ndarray  # scalar, real (in units of the investment good)
    foreign_savings: jnp.ndarray  # scalar, in foreign currency
    # taxes (rates; benchmark values by default)
    production_tax_rate: jnp.ndarray  # (R, J) on net output value
    intermediate_tax_rate: jnp.ndarray  # (R, J) on intermediate purchases
    income_tax_rate: jnp.ndarray  # (R, E) on wage income
    # world prices and the numeraire
    exchange_rate: jnp.ndarray  # scalar, NOK per unit of foreign currency: the numeraire
    world_price_exports: jnp.ndarray  # (J,) world price of competing exports (the demand curve's reference)
    export_demand: jnp.ndarray  # (R, J) D: world demand for each region's export variety, 1 at the benchmark
    world_price_imports: jnp.ndarray  # (J,)
    # the continental shelf
    shelf_activity: jnp.ndarray  # scalar: the shelf's volume (extraction and pipelines) relative to 2018


class Economy(eqx.Module):
    """Everything one equilibrium depends on: benchmark flows (shares) and parameters."""

    benchmark: Benchmark
    params: Parameters


def benchmark_tax_rates(b: Benchmark):
    """Benchmark tax rates implied by the SAM: production, intermediate-purchase and income tax."""
    net_output = b.output - b.delivery_margin
    production = b.production_tax / net_output
    intermediate_value = b.intermediate.sum(axis=1)
    intermediate = jnp.where(intermediate_value > 0, b.intermediate_tax / jnp.where(intermediate_value > 0,
                                                                                  intermediate_value, 1.0), 0.0)
    income = b.income_tax / b.wage_income
    return production, intermediate, income


def _per_sector(path: Path, columns, sectors, key: str):
    df = _read_csv(path, [key, *columns])
    idx = _codes(df, path, key, sectors, "sector")
    dup = df[key].duplicated()
    if dup.any():
        raise DataError(f"{path}: field '{key}' has a duplicate value {df[key][dup].iloc[0]!r}")
    missing = sorted(set(sectors) - set(df[key]))
    if missing:
        raise DataError(f"{path}: field '{key}' lacks the sector(s) {missing}")
    out = {}
    for c in columns:
        vals = np.zeros(len(sectors))
        vals[idx] = _numeric(df, path, c)  # raises on NaN and on negative values
        out[c] = jnp.asarray(vals)
    return out


def load_parameters(b: Benchmark, param_dir: Path | str = DEFAULT_PARAMETER_DIR) -> Parameters:
    """Default parameters: elasticities from ``param_dir`` (cited there), the rest from the benchmark."""
    d = Path(param_dir)
    sectors = b.sets.sectors
    prod = _per_sector(d / "production_elasticities.csv", PRODUCTION_ELASTICITIES, sectors, "sector")
    trade = _per_sector(d / "trade_elasticities.csv", TRADE_ELASTICITIES, sectors, "good")
    for file, table in (("production_elasticities.csv", prod), ("trade_elasticities.csv", trade)):
        for name in STRICTLY_POSITIVE.keys() & table.keys():
            values = np.asarray(table[name])
            if not (values > 0).all():
                k = int(np.argmin(values))
                raise DataError(f"{d / file}: field '{name}' must be > 0 ({STRICTLY_POSITIVE[name]}), found "
                                f"{float(values[k])!r} for {sectors[k]!r}")
    hh = _per_sector(d / "household_parameters.csv", ("income_elasticity",), sectors, "good")
    sc_path = d / "household_scalars.csv"
    sc = _read_csv(sc_path, ["item", "value"])
    scalars = dict(zip(sc["item"], _numeric(sc, sc_path, "value", allow_negative=True)))
    if "frisch" not in scalars:
        raise DataError(f"{sc_path}: field 'item' lacks the row 'frisch'")
    if not scalars["frisch"] < -1.0:
        raise DataError(f"{sc_path}: field 'frisch' must be < -1 (LES), found {scalars['frisch']!r}")
    R, J, E = b.sets.n_regions, b.sets.n_sectors, b.sets.n_education
    t_prod, t_int, t_inc = benchmark_tax_rates(b)
    return Parameters(
        **prod, **trade, **hh,
        frisch=jnp.asarray(scalars["frisch"]),
        tfp=jnp.ones((R, J)), energy_efficiency=jnp.ones((R, J)), labour_productivity=jnp.ones((R, E)),
        labour_supply=b.labour_force, population=b.population, capital_stock=b.capital,
        government_demand=b.government, inventories=b.inventories,
        government_savings=b.government_savings, foreign_savings=b.foreign_savings,
        production_tax_rate=t_prod, intermediate_tax_rate=t_int, income_tax_rate=t_inc,
        exchange_rate=jnp.asarray(1.0), world_price_exports=jnp.ones(J), world_price_imports=jnp.ones(J),
        export_demand=jnp.ones((R, J)), shelf_activity=jnp.asarray(1.0),
    )


def load_economy(data_dir=None, param_dir=None, regions=None) -> Economy:
    """Benchmark + default parameters, optionally on another division of the regions (a mapping file or dict:
    counties aggregated, or split by shares; ``noreg_jax.data.aggregate_regions``)."""
    from noreg_jax.data import DEFAULT_DATA_DIR, aggregate_regions, load_benchmark

    b = load_benchmark(data_dir or DEFAULT_DATA_DIR)
    if regions is not None:
        b = aggregate_regions(b, regions)
    return Economy(b, load_parameters(b, param_dir or DEFAULT_PARAMETER_DIR))
