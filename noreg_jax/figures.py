"""The article's figures for a reference path (Fig. 1, 3, 4, 5) from a results dataset.

Each figure is a PNG; figures by county are drawn both as a bar chart and as a county map (when the
regions are the 11 counties).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

from noreg_jax import plotting  # noqa: E402
from noreg_jax.results import annual_growth, mainland  # noqa: E402

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


def fastest_growing_industries(ds: xr.Dataset, region: str, n: int = 4) -> pd.DataFrame:
    """Gross product (NOK million, 2018 prices) in the first and last year of the n fastest-growing industries."""
    gp = ds.gross_product.sel(region=region)
    first, last = int(ds.year[0]), int(ds.year[-1])
    growth = (gp.sel(year=last) / gp.sel(year=first)).to_pandas().sort_values(ascending=False)
    top = list(growth.index[:n])
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
        plotting.grouped_bars(fastest_growing_industries(ds, r), ax=ax,
                              title=f"{r}: fastest-growing industries (Fig. 4)", ylabel="NOK million, 2018 prices")
    paths.append(plotting.save(fig, out / "fig4_fastest_growing_industries.png"))
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
