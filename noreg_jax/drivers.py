"""The exogenous drivers of the reference path (docs/model.md "The path 2018–2050"), read from ``data/reference/``
(sources and assumptions: docs/drivers.md). I/O at the edge: returns a :class:`noreg_jax.dynamics.Drivers`
pytree and the :class:`noreg_jax.dynamics.DynamicParameters`.

Population by region × education in year t: the benchmark matrix scaled by iterative proportional
fitting to the year's county totals (SSB 07459 / the 2022 projection) and national education shares.

Savings follow petroleum revenue and the fiscal rule (docs/model.md, "Savings"): the state's petroleum
cash flow (``petroleum_cash_flow_2018``) is saved in the Government Pension Fund and scales with petroleum
activity (the PETRO capital index); the rest of government savings grows with public consumption
(1.4 %/yr). The current-account surplus (negative foreign savings) is the petroleum surplus and scales with
petroleum activity as well.

Power supply (POWER) has exogenous capital growing at ``power_capacity_growth``: hydro and wind capacity are
limited by resources and licensing. Power-intensive industry (METAL) invests like any other industry; it
meets the power limit through the price of power and a finite world demand for its exports (docs/model.md).

World demand for every region's export variety grows at ``world_demand_growth`` (trading partners' growth), so an
industry whose supply outgrows it sells at falling export prices (docs/model.md, "Exports").

TFP: the reference path's growth rates (1.0 %/yr private mainland, 0.3 %/yr public services) are read
as value-added productivity, as in Perspektivmeldingen; the model's TFP is Hicks-neutral on gross
output, so each sector's gross-output rate is the value-added rate times its value-added share of net
output (g_Y = g_VA · VA/V). Applying 1 %/yr to gross output would double the value-added rate.
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np

from noreg_jax.data import DataError, _codes, _numeric, _read_csv
from noreg_jax.dynamics import FIRST_YEAR, LAST_YEAR, DynamicParameters, Drivers
from noreg_jax.parameters import Economy

REFERENCE_DIR = Path(__file__).parent / "data" / "reference"
PETROLEUM = "PETRO"
POWER = "POWER"
#: sectors whose capital follows the power capacity path (docs/model.md)
POWER_CAPACITY_SECTORS = (POWER,)


def _by_year(path: Path, df, years):
    yrs = _numeric(df, path, "year").astype(int)
    missing = sorted(set(years) - set(yrs))
    if missing:
        raise DataError(f"{path}: field 'year' lacks the year(s) {missing}")
    return yrs


def _fit(seed, row_totals, col_totals, iterations=200):
    """Iterative proportional fitting of a positive matrix to row and column totals."""
    m = seed.copy()
    for _ in range(iterations):
        m *= (row_totals / m.sum(axis=1))[:, None]
        m *= (col_totals / m.sum(axis=0))[None, :]
        if np.abs(m.sum(axis=1) / row_totals - 1).max() < 1e-14:
            break
    return m


def reference_population(economy: Economy, data_dir: Path, years) -> np.ndarray:
    """Population [t, r, e], thousand persons, before endogenous migration."""
    b = economy.benchmark
    s = b.sets
    path = data_dir / "population.csv"
    df = _read_csv(path, ["region", "year", "population"])
    yrs = _by_year(path, df, years)
    counties = sorted({c for n in range(s.n_regions) for c in s.counties_of(n)})
    county_index = _codes(df, path, "region", tuple(counties), "county")
    values = _numeric(df, path, "population")
    by_county = {}
    for c, y, v in zip(county_index, yrs, values):
        by_county[(counties[c], y)] = v
    spath = data_dir / "education_shares.csv"
    sdf = _read_csv(spath, ["year", "education", "share"])
    syrs = _by_year(spath, sdf, years)
    e_index = _codes(sdf, spath, "education", s.education, "education group")
    shares = np.zeros((len(years), s.n_education))
    year_pos = {y: k for k, y in enumerate(years)}
    for y, e, v in zip(syrs, e_index, _numeric(sdf, spath, "share")):
        if y in year_pos:
            shares[year_pos[y], e] = v
    seed = np.asarray(b.population, dtype=float)
    out = np.zeros((len(years), s.n_regions, s.n_education))
    for k, y in enumerate(years):
        try:
            totals = np.array([sum(f * by_county[(c, y)] for c, f in zip(s.counties_of(n), s.county_shares_of(n)))
                               for n in range(s.n_regions)])
        except KeyError as exc:
            raise DataError(f"{path}: field 'population' lacks county {exc.args[0][0]} in year {y}") from None
        out[k] = _fit(seed, totals, totals.sum() * shares[k] / shares[k].sum())
    return out


def scalars(data_dir: Path) -> dict:
    """The items of ``scalars.csv`` (growth rates, elasticities, amounts) by name."""
    path = data_dir / "scalars.csv"
    df = _read_csv(path, ["item", "value"])
    vals = dict(zip(df["item"], _numeric(df, path, "value", allow_negative=True)))
    for item in ("public_consumption_growth", "energy_efficiency_growth", "depreciation",
                 "investment_allocation_elasticity", "power_capacity_growth", "petroleum_cash_flow_2018",
                 "voc_bach_gap_closed_by_2050", "world_demand_growth"):
        if item not in vals:
            raise DataError(f"{path}: field 'item' lacks the row {item!r}")
    return vals


def labour_productivity_index(economy: Economy, data_dir: Path, years) -> np.ndarray:
    """National education-biased labour productivity [t, e] (calibration/education_bias.py)."""
    s = economy.benchmark.sets
    path = data_dir / "labour_productivity.csv"
    df = _read_csv(path, ["year", "education", "index"])
    yrs = _by_year(path, df, years)
    e_index = _codes(df, path, "education", s.education, "education group")
    values = _numeric(df, path, "index")
    if not (values > 0).all():
        raise DataError(f"{path}: field 'index' must be > 0, found {values[~(values > 0)][0]!r}")
    out = np.full((len(years), s.n_education), np.nan)
    pos = {y: k for k, y in enumerate(years)}
    for y, e, v in zip(yrs, e_index, values):
        if y in pos:
            out[pos[y], e] = v
    if np.isnan(out).any():
        t, e = np.argwhere(np.isnan(out))[0]
        raise DataError(f"{path}: field 'index' lacks education {s.education[e]!r} in year {years[t]}")
    return out


def reference_drivers(economy: Economy, data_dir: Path | str = REFERENCE_DIR,
                      years=range(FIRST_YEAR, LAST_YEAR + 1)) -> Drivers:
    """The reference path's drivers for ``economy`` (any aggregation of the counties)."""
    d = Path(data_dir)
    b = economy.benchmark
    s = b.sets
    years = tuple(years)
    T = len(years)
    t = np.arange(T)[:, None, None]
    sc = scalars(d)
    ppath = d / "productivity.csv"
    pdf = _read_csv(ppath, ["sector", "tfp_growth"])
    growth = np.zeros(s.n_sectors)
    growth[_codes(pdf, ppath, "sector", s.sectors, "sector")] = _numeric(pdf, ppath, "tfp_growth",
                                                                          allow_negative=True)
    part_path = d / "participation.csv"
    part = _read_csv(part_path, ["year", "participation_index"])
    part_years = _by_year(part_path, part, years)
    part_index = dict(zip(part_years, _numeric(part, part_path, "participation_index")))
    pet_path = d / "petroleum.csv"
    pet = _read_csv(pet_path, ["year", "capital_index"])
    pet_index = dict(zip(_by_year(pet_path, pet, years), _numeric(pet, pet_path, "capital_index")))
    p = economy.params
    va_share = np.asarray((b.compensation.sum(axis=2) + b.capital + b.production_tax)
                          / (b.trade.sum(axis=1) + b.exports))
    gross_growth = growth[None, :] * va_share  # [r, j]
    base_participation = np.asarray(b.labour_force / b.population)
    participation = base_participation[None] * np.array([part_index[y] for y in years])[:, None, None]
    capital_index = np.ones((T, s.n_regions, s.n_sectors))
    exogenous = np.zeros((s.n_regions, s.n_sectors))
    petroleum = np.array([pet_index[y] for y in years])
    if PETROLEUM in s.sectors:
        capital_index[:, :, s.sector(PETROLEUM)] = petroleum[:, None]
        exogenous[:, s.sector(PETROLEUM)] = 1.0
    for code in POWER_CAPACITY_SECTORS:
        if code in s.sectors:
            capital_index[:, :, s.sector(code)] = ((1.0 + sc["power_capacity_growth"]) ** np.arange(T))[:, None]
            exogenous[:, s.sector(code)] = 1.0
    public_growth = (1.0 + sc["public_consumption_growth"]) ** np.arange(T)
    cash_flow = sc["petroleum_cash_flow_2018"]
    return Drivers(
        years=years,
        population=jnp.asarray(reference_population(economy, d, years)),
        participation=jnp.asarray(participation),
        worker_shift=jnp.zeros((T, s.n_regions, s.n_education)),
        tfp=jnp.asarray(np.asarray(p.tfp)[None] * (1.0 + gross_growth)[None] ** t),
        energy_efficiency=jnp.asarray(np.asarray(p.energy_efficiency)[None]
                                      * (1.0 + sc["energy_efficiency_growth"]) ** t),
        labour_productivity=jnp.asarray(np.asarray(p.labour_productivity)[None]
                                        * labour_productivity_index(economy, d, years)[:, None, :]),
        government_demand=jnp.asarray(np.asarray(p.government_demand)[None]
                                      * (1.0 + sc["public_consumption_growth"]) ** t),
        capital_index=jnp.asarray(capital_index),
        government_savings=jnp.asarray((float(p.government_savings) - cash_flow) * public_growth
                                       + cash_flow * petroleum),
        foreign_savings=jnp.asarray(float(p.foreign_savings) * petroleum),
        export_demand=jnp.asarray(np.asarray(p.export_demand)[None] * (1.0 + sc["world_demand_growth"]) ** t),
        shelf_activity=jnp.asarray(float(p.shelf_activity) * petroleum),
        exogenous_capital=jnp.asarray(exogenous),
    )


def dynamic_parameters(economy: Economy, data_dir: Path | str = REFERENCE_DIR) -> DynamicParameters:
    """Depreciation, investment allocation elasticity and migration β_e (docs/drivers.md)."""
    d = Path(data_dir)
    sc = scalars(d)
    path = d / "migration.csv"
    df = _read_csv(path, ["education", "beta"])
    s = economy.benchmark.sets
    beta = np.zeros(s.n_education)
    idx = _codes(df, path, "education", s.education, "education group")
    beta[idx] = _numeric(df, path, "beta")
    missing = sorted(set(s.education) - set(df["education"]))
    if missing:
        raise DataError(f"{path}: field 'education' lacks {missing}")
    if not 0.0 < sc["depreciation"] < 1.0:
        raise DataError(f"{d / 'scalars.csv'}: field 'depreciation' must be in (0, 1), found {sc['depreciation']!r}")
    return DynamicParameters(depreciation=jnp.asarray(sc["depreciation"]),
                             investment_elasticity=jnp.asarray(sc["investment_allocation_elasticity"]),
                             migration_beta=jnp.asarray(beta))


def reference_model(economy: Economy | None = None, regions=None, data_dir: Path | str = REFERENCE_DIR):
    """The reference path model: economy (default: shipped data), reference drivers and dynamics."""
    from noreg_jax.dynamics import PathModel
    from noreg_jax.parameters import load_economy

    economy = economy or load_economy(regions=regions)
    return PathModel(economy, reference_drivers(economy, data_dir), dynamic_parameters(economy, data_dir))
