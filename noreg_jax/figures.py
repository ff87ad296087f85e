"""The article's figures for a reference path (Fig. 1, 3, 4, 5) from a results dataset.

Each figure is a PNG; figures by region are drawn both as a bar chart and as a map (when the regions are the 11
counties, or a division built from municipalities). Importing this module leaves matplotlib's backend alone (a notebook keeps
its inline figures); the CLI chooses Agg before it draws.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from noreg_jax import plotting
from noreg_jax.results import annual_growth, capital_regions, industry_growth, mainland, require_region

COUNTIES = 11  # regions of the county model (notebook 01 draws its county maps beside the bars)

def _by_region_figure(values: pd.Series, title: str, label: str, out: Path, stem: str,
                      regions_of: dict[str, str] | None = None, names: dict[str, str] | None = None) -> list[Path]:
    """Bars (labelled by ``names``: region code -> name) and, for the counties or a municipal division, a map."""
    paths = []
    fig, ax = plt.subplots(figsize=(max(7, 0.16 * len(values)), 4.5), layout="constrained")
    plotting.bar_by_region(values.rename(index=names or {}), ax=ax, title=title, ylabel=label)
    paths.append(plotting.save(fig, out / f"{stem}.png"))
    plt.close(fig)
    if regions_of is None:  # the 11 counties are a division by municipality too
        from noreg_jax.data import load_municipalities

        municipalities = load_municipalities()
        if set(values.index) == set(municipalities["county"]):
            regions_of = dict(zip(municipalities["municipality"], municipalities["county"]))
    if regions_of is not None:
        fig, ax = plt.subplots(figsize=(6, 7), layout="constrained")
        plotting.region_map(values, regions_of, ax=ax, title=title, label=label)
        paths.append(plotting.save(fig, out / f"{stem}_map.png"))
        plt.close(fig)
    return paths


def _names(ds: xr.Dataset, dim: str) -> dict[str, str]:
    """Code -> name of a dimension from the dataset's ``<dim>_name`` coordinate (codes where it has none)."""
    coord = f"{dim}_name"
    if coord not in ds.coords:
        return {}
    return {str(code): str(name) for code, name in zip(ds[dim].values, ds[coord].values)}


def largest_growing_industries(ds: xr.Dataset, region: str, n: int = 4) -> pd.DataFrame:
    """Gross product (NOK million, 2018 prices) in the first and last year of the n industries whose gross
    product grows most (``results.industry_growth``)."""
    gp = ds.gross_product.sel(region=region)
    first, last = int(ds.year[0]), int(ds.year[-1])
    top = list(industry_growth(ds, region).index[:n])
    return pd.DataFrame({str(first): gp.sel(year=first, sector=top).to_pandas(),
                         str(last): gp.sel(year=last, sector=top).to_pandas()})


def reference_figures(ds: xr.Dataset, out: Path | str, regions_of: dict[str, str] | None = None) -> list[Path]:
    """Write the reference-path figures into ``out``; returns their paths. Maps: of the 11 counties, or of any
    division built from municipalities given ``regions_of`` (municipality code -> region code)."""
    out = Path(out)
    pop = ds.population.sum("education")
    first, last = int(ds.year[0]), int(ds.year[-1])
    names = _names(ds, "region")
    paths = []
    growth = 100 * (pop.sel(year=last) / pop.sel(year=first) - 1)
    paths += _by_region_figure(growth.to_pandas(), f"Population growth {first}–{last} (Fig. 1)", "%", out,
                               "fig1_population_growth", regions_of, names)
    per_capita = 100 * annual_growth(mainland(ds) / pop)
    paths += _by_region_figure(per_capita.to_pandas(), f"Mainland gross product per capita {first}–{last} (Fig. 3)",
                               "% per year", out, "fig3_gdp_per_capita_growth", regions_of, names)
    regions = [r for r in ("OSL", "TRO") if r in ds.region.values] or list(ds.region.values[:2])
    sectors = _names(ds, "sector")
    fig, axes = plt.subplots(1, len(regions), figsize=(6 * len(regions), 4.5), layout="constrained", sharey=True)
    for ax, r in zip(np.atleast_1d(axes).ravel(), regions):
        top = largest_growing_industries(ds, r)
        plotting.grouped_bars(top.rename(index=lambda i: textwrap.fill(sectors.get(i, i), 18)), ax=ax,
                              title=f"{names.get(r, r)}: industries with the largest growth (Fig. 4)",
                              ylabel="NOK million, 2018 prices")
    paths.append(plotting.save(fig, out / "fig4_largest_growing_industries.png"))
    plt.close(fig)
    cum = ds.migration.cumsum("year").sel(region=regions)
    education = _names(ds, "education")
    fig, axes = plt.subplots(1, len(regions), figsize=(6 * len(regions), 4.5), layout="constrained", sharey=True)
    for ax, r in zip(np.atleast_1d(axes).ravel(), regions):
        plotting.line_paths(cum.sel(region=r).to_pandas().rename(columns=lambda e: education.get(e, e)),
                            ax=ax, title=f"{names.get(r, r)}: cumulative net in-migration by education (Fig. 5)",
                            ylabel="thousand persons")
    paths.append(plotting.save(fig, out / "fig5_cumulative_migration.png"))
    plt.close(fig)
    return paths


def scenario_figure_data(reference: xr.Dataset, scenario: xr.Dataset, region: str = "TRO") -> dict:
    """The quantities of the scenario figures, as deviations of ``scenario`` from ``reference``:
    fig6 cumulative net in-migration to ``region`` (year × education, thousand persons), fig7 real wages in
    ``region`` (year × education, %), fig8 gross product by industry in ``region`` in the last year (%),
    gdp mainland GDP (by year, %), capital_employment employment in Oslo + Viken (by year, persons)."""
    require_region(scenario, region)
    last = int(scenario.year[-1])
    capital = capital_regions(scenario)
    return {
        "fig6": (scenario.migration - reference.migration).cumsum("year").sel(region=region).to_pandas(),
        "fig7": (100 * (scenario.real_wage / reference.real_wage - 1)).sel(region=region).to_pandas(),
        "fig8": (100 * (scenario.gross_product / reference.gross_product - 1)).sel(region=region, year=last)
        .to_pandas(),
        "gdp": (100 * (mainland(scenario).sum("region") / mainland(reference).sum("region") - 1)).to_pandas()
        .rename("mainland GDP"),
        "capital_employment": (1000 * (scenario.employment - reference.employment).sum(("sector", "education"))
                               .sel(region=capital).sum("region")).to_pandas()
        .rename("+".join(capital) if len(capital) <= 3 else "Oslo + Viken"),
    }


def scenario_bands(references: list, scenarios: list, region: str = "TRO", interval: float = 0.9) -> dict:
    """(low, high) quantiles over draws of every quantity of :func:`scenario_figure_data`: ``references[k]`` and
    ``scenarios[k]`` are the paths of draw k. The band is the central ``interval`` (0.9: 5 % to 95 %)."""
    per_draw = [scenario_figure_data(r, s, region) for r, s in zip(references, scenarios)]
    q = (1.0 - interval) / 2.0
    bands = {}
    for key in per_draw[0]:
        stacked = np.stack([d[key].to_numpy(dtype=float) for d in per_draw])
        low, high = np.quantile(stacked, [q, 1.0 - q], axis=0)
        like = per_draw[0][key]
        wrap = (lambda a: pd.DataFrame(a, index=like.index, columns=like.columns)) if isinstance(like, pd.DataFrame) \
            else (lambda a: pd.Series(a, index=like.index, name=like.name))
        bands[key] = (wrap(low), wrap(high))
    bands["interval"], bands["draws"] = interval, len(per_draw)
    return bands


def scenario_figures(reference: xr.Dataset, scenario: xr.Dataset, out: Path | str, region: str = "TRO",
                     bands: dict | None = None) -> list[Path]:
    """The article's scenario figures (Fig. 6–8) for ``region``, plus mainland GDP and Oslo + Viken
    employment, as deviations of ``scenario`` from ``reference``; with ``bands`` (:func:`scenario_bands`) each
    figure shows the band over the parameter draws (shaded, or as error bars)."""
    out = Path(out)
    name = scenario.attrs.get("name", "scenario")
    data = scenario_figure_data(reference, scenario, region)
    band = (lambda key: bands[key]) if bands else (lambda key: None)
    note = f" (band: {bands['interval']:.0%} of {bands['draws']} parameter draws)" if bands else ""
    paths = []
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    plotting.line_paths(data["fig6"], ax=ax, title=f"{name}: net in-migration to {region} vs reference (Fig. 6)",
                        ylabel="thousand persons, cumulative", band=band("fig6"))
    ax.set_xlabel("year" + note)
    paths.append(plotting.save(fig, out / f"{name}_fig6_migration_{region}.png"))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    plotting.line_paths(data["fig7"], ax=ax, title=f"{name}: real wages in {region} vs reference (Fig. 7)",
                        ylabel="% deviation", band=band("fig7"))
    ax.set_xlabel("year" + note)
    paths.append(plotting.save(fig, out / f"{name}_fig7_wages_{region}.png"))
    plt.close(fig)
    last = int(scenario.year[-1])
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    plotting.bar_by_region(data["fig8"], ax=ax, title=f"{name}: gross product by industry in {region}, {last} (Fig. 8)",
                           ylabel="% deviation" + note, errors=band("fig8"))
    paths.append(plotting.save(fig, out / f"{name}_fig8_industries_{region}.png"))
    plt.close(fig)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
    plotting.line_paths(data["gdp"].to_frame(), ax=axes[0], title=f"{name}: mainland GDP vs reference",
                        ylabel="% deviation", band=tuple(b.to_frame() for b in band("gdp")) if bands else None)
    capital = data["capital_employment"].name
    plotting.line_paths(data["capital_employment"].to_frame(), ax=axes[1],
                        title=f"{name}: employment in {capital.replace('+', ' + ')} vs reference", ylabel="persons",
                        band=tuple(b.to_frame() for b in band("capital_employment")) if bands else None)
    for a in axes:
        a.set_xlabel("year" + note)
    paths.append(plotting.save(fig, out / f"{name}_mainland_gdp_and_capital_employment.png"))
    plt.close(fig)
    return paths
