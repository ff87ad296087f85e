"""Labelled results of a path: an ``xarray.Dataset`` with dimensions year, region, sector, education.

The one results format of the project: the reference path and every scenario are written and read
as this dataset (NetCDF), with tidy CSV summaries beside it. Units are in each variable's attributes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from noreg_jax.dynamics import PathModel, PathResult
from noreg_jax.output_files import atomic_output, output_directory, write_table

PETROLEUM = "PETRO"

_VARIABLES = {
    # name: (dims, units, description)
    "population": (("year", "region", "education"), "thousand persons", "population, 1 January"),
    "labour_force": (("year", "region", "education"), "thousand persons", "employed persons living in the region"),
    "employment": (("year", "region", "sector", "education"), "thousand persons", "employed persons"),
    "wage": (("year", "region", "education"), "index, 2018 = 1", "nominal wage per unit of labour at the workplace"),
    "residence_wage": (("year", "region", "education"), "index, 2018 = 1",
                       "nominal wage of the residents, averaged over the regions they commute to"),
    "real_wage": (("year", "region", "education"), "NOK 1000 per person, 2018 prices",
                  "wage per employed person deflated by the regional CPI"),
    "gross_product": (("year", "region", "sector"), "NOK million, 2018 prices", "gross product (value added)"),
    "gross_product_nominal": (("year", "region", "sector"), "NOK million, current prices", "value added"),
    "output_price": (("year", "region", "sector"), "index, 2018 = 1", "producer price of the domestic good"),
    "armington_price": (("year", "region", "sector"), "index, 2018 = 1", "purchase price of the composite good"),
    "capital": (("year", "region", "sector"), "NOK million of 2018 rental value", "capital stock"),
    "rental_rate": (("year", "region", "sector"), "index, 2018 = 1", "rental rate of capital"),
    "regional_cpi": (("year", "region"), "index, 2018 = 1", "consumer price index"),
    "exports": (("year", "region", "sector"), "NOK million, 2018 prices", "exports abroad"),
    "imports": (("year", "region", "sector"), "NOK million, 2018 prices", "imports from abroad"),
    "consumption": (("year", "region", "education"), "NOK million, 2018 prices", "household consumption"),
    "shelf_gross_product": (("year",), "NOK million, 2018 prices",
                            "gross product of the continental shelf (extraction and pipelines; in no county)"),
    "shelf_gross_product_nominal": (("year",), "NOK million, current prices", "value added of the continental shelf"),
    "shelf_workers": (("year", "region", "education"), "thousand persons",
                      "persons employed on the continental shelf, by host county"),
}


MIGRATION_UNITS = "thousand persons"


def units(var: str) -> str:
    """The units of a path variable of the result dataset (those of ``_VARIABLES`` and ``migration``)."""
    return MIGRATION_UNITS if var == "migration" else _VARIABLES[var][1]


def to_dataset(model: PathModel, result: PathResult, name: str = "reference") -> xr.Dataset:
    """Label a :class:`PathResult` (unbatched) as an xarray Dataset."""
    s = model.economy.benchmark.sets
    coords = {"year": np.asarray(model.drivers.years), "region": list(s.regions), "sector": list(s.sectors),
              "education": list(s.education)}
    data = {}
    for var, (dims, units, desc) in _VARIABLES.items():
        data[var] = xr.Variable(dims, np.asarray(result.outcomes[var]), {"units": units, "description": desc})
    data["migration"] = xr.Variable(("year", "region", "education"), np.asarray(result.migration),
                                    {"units": MIGRATION_UNITS,
                                     "description": "net endogenous in-migration decided in the year "
                                                    "(enters the next year's population); sums to zero over regions"})
    data["converged"] = xr.Variable(("year",), np.asarray(result.converged))
    data["iterations"] = xr.Variable(("year",), np.asarray(result.iterations))
    data["max_residual"] = xr.Variable(("year",), np.asarray(result.max_residual))
    ds = xr.Dataset(data, coords=coords)
    ds = ds.assign_coords(region_name=("region", list(s.region_names)), sector_name=("sector", list(s.sector_names)),
                          education_name=("education", list(s.education_names)),
                          region_counties=("region", ["+".join(s.counties_of(n)) for n in range(s.n_regions)]))
    ds.attrs.update({"name": name, "model": "NOREG-JAX", "base_year": 2018,
                     "numeraire": "exchange rate (world prices = 1)"})
    return ds


CAPITAL_COUNTIES = ("OSL", "VIK")  # the article's 'Oslo-området'


def capital_regions(ds: xr.Dataset) -> list[str]:
    """The regions of the dataset that lie in Oslo + Viken (by the ``region_counties`` coordinate: OSL and VIK on
    the counties, OSVI on two_regions, Oslo and Viken's economic regions on economic_regions.csv)."""
    if "region_counties" not in ds.coords:  # results written before the coordinate existed
        return [r for r in ("OSL", "VIK", "OSVI") if r in ds.region.values]
    return [str(r) for r, c in zip(ds.region.values, ds.region_counties.values)
            if set(str(c).split("+")) <= set(CAPITAL_COUNTIES)]


def capital_is_whole(ds: xr.Dataset) -> bool:
    """Whether :func:`capital_regions` make up the whole of Oslo + Viken (not on landsdeler, where Oslo and Viken
    lie in a region with other counties)."""
    regions = capital_regions(ds)
    if "region_counties" not in ds.coords:
        return set(regions) in ({"OSL", "VIK"}, {"OSVI"})
    counties = {c for r in regions for c in str(ds.region_counties.sel(region=r).values).split("+")}
    return counties == set(CAPITAL_COUNTIES)


def capital_label(regions: list[str]) -> str:
    """How the summaries name the capital regions: their codes, or 'Oslo + Viken' when there are many."""
    return " + ".join(regions) if len(regions) <= 3 else "Oslo + Viken"


def mainland(ds: xr.Dataset, var: str = "gross_product") -> xr.DataArray:
    """A sector variable summed over the mainland industries (all but petroleum)."""
    return ds[var].where(ds.sector != PETROLEUM).sum("sector")


def annual_growth(series: xr.DataArray, start=None, end=None) -> xr.DataArray:
    """Average annual growth rate between two years (default: first and last)."""
    years = series.year.values
    a, b = start or int(years[0]), end or int(years[-1])
    return (series.sel(year=b) / series.sel(year=a)) ** (1.0 / (b - a)) - 1.0


def industry_growth(ds: xr.Dataset, region: str) -> pd.Series:
    """Change in gross product by sector in one region, first to last year (NOK million, 2018 prices),
    largest first: the article's "industries with the largest growth" (Fig. 4 shows their levels in both
    years; docs/model.md, Outputs)."""
    gp = ds.gross_product.sel(region=region)
    change = gp.isel(year=-1) - gp.isel(year=0)
    return change.to_pandas().sort_values(ascending=False)


def headline(ds: xr.Dataset) -> dict:
    """The figures the article reports for the reference path (docs/model.md "The path 2018–2050")."""
    pop = ds.population.sum("education")
    gdp_mainland = mainland(ds)
    per_capita = gdp_mainland.sum("region") / pop.sum("region")
    by_county = annual_growth(gdp_mainland)
    per_capita_county = annual_growth(gdp_mainland / pop)
    cumulative = ds.migration.sum("year")
    wage_pp = ds.real_wage
    return {
        "mainland_gdp_per_capita_growth": float(annual_growth(per_capita)),
        "mainland_gdp_growth": float(annual_growth(gdp_mainland.sum("region"))),
        "gross_product_growth_by_region": by_county.to_pandas(),
        "gdp_per_capita_growth_by_region": per_capita_county.to_pandas(),
        "population_growth_by_region": annual_growth(pop).to_pandas(),
        "cumulative_migration": cumulative.to_pandas(),
        "voc_bach_real_wage_ratio": (wage_pp.sel(education="voc") / wage_pp.sel(education="bach"))
        .mean("region").to_pandas(),
    }


#: Variables of a results dataset that add up over regions, and the weights of those that are averages.
ADDITIVE = ("population", "labour_force", "employment", "gross_product", "gross_product_nominal", "capital",
            "exports", "imports", "consumption", "shelf_workers", "migration")
AVERAGED = {"wage": lambda ds: ds.employment.sum("sector"), "residence_wage": lambda ds: ds.labour_force,
            "real_wage": lambda ds: ds.labour_force, "rental_rate": lambda ds: ds.capital,
            "regional_cpi": lambda ds: ds.consumption.sum("education")}


def merge_parts(ds: xr.Dataset, sets) -> xr.Dataset:
    """The results with the parts of each county that a division splits merged back into the county (code and name
    of the county): additive variables summed, wages, rental rates and the CPI averaged with their weights
    (:data:`AVERAGED`); other variables with a region dimension (output and Armington prices, whose weights the
    dataset lacks) are dropped rather than approximated. Regions that are whole counties or unions of them stay."""
    from noreg_jax.data import load_sets

    counties = load_sets()
    target = []
    for n, code in enumerate(sets.regions):
        members, shares = sets.counties_of(n), sets.county_shares_of(n)
        target.append(members[0] if len(members) == 1 and shares[0] < 1.0 else code)
    if target == list(sets.regions):
        return ds
    group = xr.DataArray(target, dims="region", coords={"region": ds.region.values})
    order = list(dict.fromkeys(target))
    out = {}
    for name, var in ds.data_vars.items():
        if "region" not in var.dims:
            out[name] = var
        elif name in ADDITIVE:
            out[name] = var.groupby(group).sum().rename(group="region").sel(region=order)
        elif name in AVERAGED:
            weight = AVERAGED[name](ds)
            merged = (var * weight).groupby(group).sum() / weight.groupby(group).sum()
            out[name] = merged.rename(group="region").sel(region=order).assign_attrs(var.attrs)
    merged = xr.Dataset(out, attrs=ds.attrs)
    names = {c: n for c, n in zip(counties.regions, counties.region_names)} | dict(zip(sets.regions,
                                                                                     sets.region_names))
    counties_of = dict(zip(sets.regions, ("+".join(sets.counties_of(n)) for n in range(sets.n_regions))))
    merged = merged.assign_coords(region_name=("region", [names[c] for c in order]),
                                  region_counties=("region", [counties_of.get(c, c) for c in order]))
    for name in ADDITIVE:
        if name in merged:
            merged[name].attrs = ds[name].attrs
    return merged


def save(ds: xr.Dataset, out: Path | str) -> Path:
    """Write ``<name>.nc`` and tidy CSV summaries into ``out``, each file atomically; returns the NetCDF path."""
    out = output_directory(out)
    name = ds.attrs.get("name", "results")
    path = out / f"{name}.nc"
    with atomic_output(path) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    from noreg_jax.manifest import note_dataset

    note_dataset(ds)
    summaries = {
        "population_by_region": ds.population.sum("education"),
        "employment_by_region": ds.employment.sum(("sector", "education")),
        "gross_product_by_region": ds.gross_product.sum("sector"),
        "mainland_gross_product_by_region": mainland(ds),
        "gross_product_by_region_sector": ds.gross_product,
        "real_wage": ds.real_wage,
        "migration": ds.migration,
    }
    for key, da in summaries.items():
        table = da.rename(key.split("_by_")[0]).to_dataframe().reset_index().drop(
            columns=[c for c in ("region_name", "sector_name") if c in da.coords], errors="ignore")
        write_table(table, out / f"{name}_{key}.csv")
    return path


def load(path: Path | str) -> xr.Dataset:
    """Read a results dataset written by :func:`save`: a ``.nc`` file, or a folder holding exactly one (a folder
    with several, e.g. a scenario run's reference and scenarios, is refused with their names: pass the file)."""
    path = Path(path)
    if path.is_dir():
        found = sorted(path.glob("*.nc"))
        if not found:
            raise FileNotFoundError(f"{path}: no results (*.nc) in this directory")
        if len(found) > 1:
            raise ValueError(f"{path}: {len(found)} results in this directory ({', '.join(p.name for p in found)}); "
                             "pass the file to load")
        path = found[0]
    return xr.load_dataset(path, engine="h5netcdf")


def format_summary(ds: xr.Dataset) -> str:
    """A short text summary of a reference path."""
    h = headline(ds)
    lines = [f"mainland GDP per capita growth {100 * h['mainland_gdp_per_capita_growth']:.2f} %/yr "
             f"(mainland GDP {100 * h['mainland_gdp_growth']:.2f} %/yr)",
             "mainland gross product growth by region, %/yr:"]
    g = h["gross_product_growth_by_region"].sort_values(ascending=False)
    lines += [f"  {r:4s} {100 * v:5.2f}" for r, v in g.items()]
    cum = h["cumulative_migration"]
    lines.append("cumulative net in-migration (thousand persons) by education:")
    lines.append("        " + "  ".join(f"{e:>6s}" for e in cum.columns))
    for r in [r for r in ("OSL", "TRO") if r in cum.index] or list(cum.index[:2]):
        lines.append(f"  {r:4s}  " + "  ".join(f"{v:6.2f}" for v in cum.loc[r]))
    ratio = h["voc_bach_real_wage_ratio"]
    lines.append(f"real wage voc/bach (mean over regions): {ratio.iloc[0]:.3f} ({ratio.index[0]}) -> "
                 f"{ratio.iloc[-1]:.3f} ({ratio.index[-1]})")
    return "\n".join(lines)


_LEVEL_VARIABLES = tuple(_VARIABLES) + ("migration",)


def compare(scenario: xr.Dataset, reference: xr.Dataset) -> xr.Dataset:
    """Scenario minus reference for every variable, absolute and in % (dimension ``measure``)."""
    out = {}
    for var in _LEVEL_VARIABLES:
        absolute = scenario[var] - reference[var]
        percent = 100.0 * (scenario[var] / reference[var] - 1.0)
        if var == "migration":
            percent = xr.full_like(absolute, np.nan)  # flows around zero: % is meaningless
        da = xr.concat([absolute, percent], dim=pd.Index(["absolute", "percent"], name="measure"))
        da.attrs = dict(scenario[var].attrs, note="absolute: same units as the level; percent: % of reference")
        out[var] = da
    ds = xr.Dataset(out)
    ds.attrs.update(scenario.attrs, compared_with=reference.attrs.get("name", "reference"))
    return ds


def require_region(ds: xr.Dataset, region: str) -> None:
    """Raise ValueError unless ``region`` is a region of the results (see ``Sets.region_of`` for counties)."""
    if region not in ds.region.values:
        raise ValueError(f"region {region!r} is not a region of these results "
                         f"({', '.join(map(str, ds.region.values))})")


def scenario_headline(reference: xr.Dataset, scenario: xr.Dataset, region: str = "TRO") -> dict:
    """The figures the article reports for its scenarios (docs/model.md "Scenarios"), as deviations from the
    reference."""
    last = int(scenario.year[-1])
    require_region(scenario, region)
    pop = lambda ds: ds.population.sum("education")
    emp = lambda ds: ds.employment.sum(("sector", "education"))
    gp = lambda ds: ds.gross_product.sum("sector")
    capital = capital_regions(scenario)
    dev_gp = 100 * (scenario.gross_product / reference.gross_product - 1).sel(region=region, year=last)
    return {
        "region": region,
        "migration_by_education": 1000 * (scenario.migration - reference.migration).sel(region=region)
        .sum("year").to_pandas(),  # persons (workers and their dependants), cumulative 2018–2050
        # workers: a migrating household of group e has labour_force / population workers per person
        "migrating_workers_by_education": 1000 * (
            scenario.migration * scenario.labour_force / scenario.population
            - reference.migration * reference.labour_force / reference.population).sel(region=region)
        .sum("year").to_pandas(),
        "employment_pct": float(100 * (emp(scenario) / emp(reference) - 1).sel(region=region, year=last)),
        "population_pct": float(100 * (pop(scenario) / pop(reference) - 1).sel(region=region, year=last)),
        "real_wage_pct": (100 * (scenario.real_wage / reference.real_wage - 1)).sel(region=region, year=last)
        .to_pandas(),
        "gross_product_per_person_pct": float(100 * ((gp(scenario) / pop(scenario)) / (gp(reference) / pop(reference))
                                                     - 1).sel(region=region, year=last)),
        "industries_pct": dev_gp.to_pandas().sort_values(ascending=False),
        "mainland_gdp_pct": float(100 * (mainland(scenario).sum("region") / mainland(reference).sum("region") - 1)
                                  .sel(year=last)),
        # NaN where Oslo and Viken are not whole regions of the division (landsdeler): no such figure there
        "capital_region_employment_persons": float(1000 * (emp(scenario) - emp(reference)).sel(
            region=capital, year=last).sum()) if capital_is_whole(scenario) else float("nan"),
        "capital_regions": capital,
        "year": last,
    }


def format_scenario_summary(reference: xr.Dataset, scenario: xr.Dataset, region: str = "TRO") -> str:
    h = scenario_headline(reference, scenario, region)
    r, y = h["region"], h["year"]
    mig = ", ".join(f"{e} {v:+,.0f} ({w:+,.0f} workers)" for (e, v), w in
                    zip(h["migration_by_education"].items(), h["migrating_workers_by_education"].values))
    wages = ", ".join(f"{e} {v:+.2f} %" for e, v in h["real_wage_pct"].items())
    ind = h["industries_pct"]
    return "\n".join([
        f"scenario {scenario.attrs.get('name')}: deviations from the reference",
        f"  net in-migration to {r}, persons, cumulative: {mig}",
        f"  {r} in {y}: employment {h['employment_pct']:+.3f} %, population {h['population_pct']:+.3f} %, "
        f"gross product per person {h['gross_product_per_person_pct']:+.3f} %",
        f"  real wages in {r}, {y}: {wages}",
        f"  industries in {r}, {y}: largest {', '.join(f'{k} {v:+.2f} %' for k, v in ind.head(3).items())}; "
        f"smallest {', '.join(f'{k} {v:+.2f} %' for k, v in ind.tail(3).items())}",
        f"  mainland GDP {y}: {h['mainland_gdp_pct']:+.3f} %; "
        + (f"employment in {capital_label(h['capital_regions'])}: {h['capital_region_employment_persons']:+,.0f} persons"
           if np.isfinite(h["capital_region_employment_persons"])
           else "employment in Oslo + Viken: n/a (not whole regions of this division)"),
    ])


def headline_numbers(reference: xr.Dataset, scenario: xr.Dataset, region: str = "TRO") -> pd.Series:
    """The scalar figures of :func:`scenario_headline` as one labelled Series (migration in workers)."""
    h = scenario_headline(reference, scenario, region)
    numbers = {f"net in-migration of {e} workers to {region}, cumulative": v
               for e, v in h["migrating_workers_by_education"].items()}
    numbers.update({f"employment in {region} {h['year']}, %": h["employment_pct"],
                    f"population of {region} {h['year']}, %": h["population_pct"],
                    f"gross product per person in {region} {h['year']}, %": h["gross_product_per_person_pct"],
                    f"mainland GDP {h['year']}, %": h["mainland_gdp_pct"],
                    f"employment in {capital_label(h['capital_regions'])} {h['year']}, persons":
                        h["capital_region_employment_persons"]})
    return pd.Series(numbers, dtype=float)


def headline_intervals(reference: xr.Dataset, scenario: xr.Dataset, references: list, scenarios: list,
                       region: str = "TRO", interval: float = 0.9) -> pd.DataFrame:
    """:func:`headline_numbers` of the central paths beside their ``interval`` over the parameter draws
    (``references[k]``, ``scenarios[k]``: draw k): columns central, low, high, draws."""
    central = headline_numbers(reference, scenario, region)
    per_draw = np.stack([headline_numbers(r, s, region).to_numpy() for r, s in zip(references, scenarios)])
    q = (1.0 - interval) / 2.0
    low, high = np.quantile(per_draw, [q, 1.0 - q], axis=0)
    return pd.DataFrame({"central": central, "low": low, "high": high, "draws": len(per_draw)},
                        index=central.index).rename_axis("figure")
