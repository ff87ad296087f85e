"""The article's figures for a reference path (Fig. 1, 3, 4, 5) from a results dataset.

Each figure is a PNG; figures by county are drawn both as a bar chart and as a county map (when the
regions are the 11 counties). Importing this module leaves matplotlib's backend alone (a notebook keeps
its inline figures); the CLI chooses Agg before it draws.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr

from noreg_jax import plotting
from noreg_jax.results import annual_growth, industry_growth, mainland, require_region

COUNTIES = 11


def _by_region_figure(values: pd.Series, title: str, label: str, out: Path, stem: str) -> list[Path]:
    paths = []
    fig, ax = plt.subplots(figsize=(7, 4))
    plotting.bar_by_region(values, ax=ax, title=title, ylabel=label)
    paths.append(plotting.save(fig, out / f"{stem}.png"))
    plt.close(fig)
    if len(values) == COUNTIES:
        fig, ax = plt.subplots(figsize=(6, 7))
        plotting.county_map(values, ax=ax, title=title, label=label)
        paths.append(plotting.save(fig, out / f"{stem}_map.png"))
        plt.close(fig)
    return paths


def largest_growing_industries(ds: xr.Dataset, region: str, n: int = 4) -> pd.DataFrame:
    """Gross product (NOK million, 2018 prices) in the first and last year of the n industries whose gross
    product grows most (``results.industry_growth``)."""
    gp = ds.gross_product.sel(region=region)
    first, last = int(ds.year[0]), int(ds.year[-1])
    top = list(industry_growth(ds, region).index[:n])
    return pd.DataFrame({str(first): gp.sel(year=first, sector=top).to_pandas(),
                         str(last): gp.sel(year=last, sector=top).to_pandas()})


def reference_figures(ds: xr.Dataset, out: Path | str) -> list[Path]:
    """Write the reference-path figures into ``out``; returns their paths."""
    out = Path(out)
    pop = ds.population.sum("education")
    first, last = int(ds.year[0]), int(ds.year[-1])
    paths = []
    growth = 100 * (pop.sel(year=last) / pop.sel(year=first) - 1)
    paths += _by_region_figure(growth.to_pandas(), f"Population growth {first}–{last} (Fig. 1)", "%", out,
                               "fig1_population_growth")
    per_capita = 100 * annual_growth(mainland(ds) / pop)
    paths += _by_region_figure(per_capita.to_pandas(), f"Mainland gross product per capita {first}–{last} (Fig. 3)",
                               "% per year", out, "fig3_gdp_per_capita_growth")
    regions = [r for r in ("OSL", "TRO") if r in ds.region.values] or list(ds.region.values[:2])
    fig, axes = plt.subplots(1, len(regions), figsize=(6 * len(regions), 4))
    for ax, r in zip(np.atleast_1d(axes).ravel(), regions):
        plotting.grouped_bars(largest_growing_industries(ds, r), ax=ax,
                              title=f"{r}: industries with the largest growth (Fig. 4)",
                              ylabel="NOK million, 2018 prices")
    paths.append(plotting.save(fig, out / "fig4_largest_growing_industries.png"))
    plt.close(fig)
    cum = ds.migration.cumsum("year").sel(region=regions)
    fig, axes = plt.subplots(1, len(regions), figsize=(6 * len(regions), 4))
    for ax, r in zip(np.atleast_1d(axes).ravel(), regions):
        plotting.line_paths(cum.sel(region=r).to_pandas(), ax=ax,
                            title=f"{r}: cumulative net in-migration by education (Fig. 5)",
                            ylabel="thousand persons")
    paths.append(plotting.save(fig, out / "fig5_cumulative_migration.png"))
    plt.close(fig)
    return paths


def scenario_figures(reference: xr.Dataset, scenario: xr.Dataset, out: Path | str, region: str = "TRO") -> list[Path]:
    """The article's scenario figures (Fig. 6–8) for ``region``, plus mainland GDP and Oslo + Viken
    employment, as deviations of ``scenario`` from ``reference``."""
    out = Path(out)
    name = scenario.attrs.get("name", "scenario")
    require_region(scenario, region)
    paths = []
    cum = (scenario.migration - reference.migration).cumsum("year").sel(region=region)
    fig, ax = plt.subplots(figsize=(7, 4))
    plotting.line_paths(cum.to_pandas(), ax=ax, title=f"{name}: net in-migration to {region} vs reference (Fig. 6)",
                        ylabel="thousand persons, cumulative")
    paths.append(plotting.save(fig, out / f"{name}_fig6_migration_{region}.png"))
    plt.close(fig)
    wage = 100 * (scenario.real_wage / reference.real_wage - 1).sel(region=region)
    fig, ax = plt.subplots(figsize=(7, 4))
    plotting.line_paths(wage.to_pandas(), ax=ax, title=f"{name}: real wages in {region} vs reference (Fig. 7)",
                        ylabel="% deviation")
    paths.append(plotting.save(fig, out / f"{name}_fig7_wages_{region}.png"))
    plt.close(fig)
    last = int(scenario.year[-1])
    gp = 100 * (scenario.gross_product / reference.gross_product - 1).sel(region=region, year=last)
    fig, ax = plt.subplots(figsize=(9, 4))
    plotting.bar_by_region(gp.to_pandas().sort_values(), ax=ax,
                           title=f"{name}: gross product by industry in {region}, {last} (Fig. 8)",
                           ylabel="% deviation")
    paths.append(plotting.save(fig, out / f"{name}_fig8_industries_{region}.png"))
    plt.close(fig)
    gdp = 100 * (mainland(scenario).sum("region") / mainland(reference).sum("region") - 1)
    capital_regions = [r for r in ("OSL", "VIK", "OSVI") if r in scenario.region.values]
    emp = 1000 * (scenario.employment - reference.employment).sum(("sector", "education")).sel(
        region=capital_regions).sum("region")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    plotting.line_paths(gdp.to_pandas().rename("mainland GDP").to_frame(), ax=axes[0],
                        title=f"{name}: mainland GDP vs reference", ylabel="% deviation")
    plotting.line_paths(emp.to_pandas().rename("+".join(capital_regions)).to_frame(), ax=axes[1],
                        title=f"{name}: employment in {' + '.join(capital_regions)} vs reference",
                        ylabel="persons")
    paths.append(plotting.save(fig, out / f"{name}_mainland_gdp_and_capital_employment.png"))
    plt.close(fig)
    return paths
