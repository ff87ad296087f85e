# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The reference path 2018–2050
#
# NOREG-JAX's reference path (MODEL.md §7): one equilibrium per year from 2018 to 2050, linked by capital
# accumulation and migration, driven by SSB's population projection and Perspektivmeldingen 2021's
# productivity growth (docs/drivers.md). This notebook
#
# 1. loads the 2018 benchmark and checks the economic invariants of one year's equilibrium (what `noreg check`
#    runs: replication, homogeneity, Walras' law);
# 2. solves the whole path as one jitted function (`jax.jit(simulate)`) and labels it as an xarray Dataset;
# 3. draws the article's reference-path figures (Fig. 1, 3, 4, 5) and compares the model's headline numbers
#    with those the article publishes.
#
# By default it runs on the 11 counties (a few minutes, mostly compilation). With the environment variable
# `NOREG_NOTEBOOK_REGIONS` set to a mapping file in `noreg_jax/data/mappings/` (say `two_regions.csv`) it runs
# on that aggregation of the counties instead; CI does so to execute every cell quickly. The numbers of an
# aggregation are not the article's county figures.

# %%
import os
import time

import jax
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from noreg_jax import plotting
from noreg_jax.checks import run_checks
from noreg_jax.compile_cache import enable as enable_compile_cache
from noreg_jax.drivers import reference_model
from noreg_jax.dynamics import require_path_converged, simulate
from noreg_jax.figures import COUNTIES, largest_growing_industries
from noreg_jax.parameters import load_economy
from noreg_jax.results import format_summary, headline, to_dataset

enable_compile_cache()  # compiled programs are kept for the next run (noreg_jax/compile_cache.py)

REGIONS = os.environ.get("NOREG_NOTEBOOK_REGIONS") or None  # a mapping file, e.g. "two_regions.csv"; None: 11 counties

economy = load_economy(regions=REGIONS)
sets = economy.benchmark.sets
print(f"{sets.n_regions} regions ({', '.join(sets.regions)}) x {sets.n_sectors} industries "
      f"x {sets.n_education} education groups ({', '.join(sets.education)})"
      + (f", aggregated by {REGIONS}" if REGIONS else ""))

# The model region that holds each county (the county itself unless the data were aggregated).
region_of = {county: sets.regions[n] for n in range(sets.n_regions) for county in sets.counties_of(n)}

# %% [markdown]
# ## Invariants of one year's equilibrium
#
# The benchmark must solve the equilibrium system without iterating, a solve from prices moved by ±10 % must
# return to it, doubling the numeraire must double every nominal value and leave every quantity unchanged, and
# the dropped equation (the foreign balance) must hold at the solution. The notebook stops here if one fails.

# %%
checks = pd.DataFrame([(c.name, c.value, c.tolerance, c.passed) for c in run_checks(economy)],
                      columns=["check", "value", "tolerance", "passed"])
width = checks["check"].str.len().max()
print(checks.to_string(index=False, justify="left", formatters={
    "check": f"{{:<{width}}}".format, "value": "{:.2e}".format, "tolerance": "{:.0e}".format}))
if not checks["passed"].all():
    raise RuntimeError(f"invariant check(s) failed: {list(checks.loc[~checks['passed'], 'check'])}")
print("all checks passed")

# %% [markdown]
# ## The path
#
# `simulate` solves the years in turn inside one `lax.scan`, each year warm-started from the last; under
# `jax.jit` the whole path compiles once. A year that does not converge is flagged, not hidden:
# `require_path_converged` raises, naming it.

# %%
model = reference_model(economy)
start = time.perf_counter()
result = jax.block_until_ready(jax.jit(simulate)(model))
elapsed = time.perf_counter() - start
require_path_converged(result, model)
print(f"{len(model.drivers.years)} years ({model.drivers.years[0]}–{model.drivers.years[-1]}) solved in "
      f"{elapsed:.1f} s, compilation included; Newton iterations per year: at most {int(result.iterations.max())}, "
      f"largest final max|F| {float(result.max_residual.max()):.1e}")

ds = to_dataset(model, result, "reference")
print(format_summary(ds))

# %%
ds

# %% [markdown]
# ## The article's figures
#
# Bars are sorted from the largest value; when the regions are the 11 counties a county map is drawn beside
# them.

# %%
h = headline(ds)
first, last = int(ds.year[0]), int(ds.year[-1])
# the regions of the article's Fig. 4 and 5: those holding Oslo and Trøndelag
focus = list(dict.fromkeys(region_of[c] for c in ("OSL", "TRO")))


def by_region(values: pd.Series, title: str, label: str):
    """Sorted bars of one value per region, with a county map beside them when the regions are the counties."""
    maps = len(values) == COUNTIES
    fig, axes = plt.subplots(1, 2 if maps else 1, figsize=(13 if maps else 7, 5), layout="constrained",
                             width_ratios=[3, 2] if maps else None)
    axes = np.atleast_1d(axes)
    plotting.bar_by_region(values, ax=axes[0], title=title, ylabel=label)
    if maps:
        plotting.county_map(values, ax=axes[1], label=label)
    plt.show()


# %%
population = ds.population.sum("education")
population_growth = 100 * (population.sel(year=last) / population.sel(year=first) - 1)
by_region(population_growth.to_pandas(), f"Population growth {first}–{last} (Fig. 1)", "%")

# %%
by_region(100 * h["gdp_per_capita_growth_by_region"],
          f"Mainland gross product per capita, growth {first}–{last} (Fig. 3)", "% per year")

# %%
fig, axes = plt.subplots(1, len(focus), figsize=(6 * len(focus), 4), layout="constrained")
for ax, region in zip(np.atleast_1d(axes), focus):
    industries = largest_growing_industries(ds, region)
    print(f"{region}: industries with the largest growth, gross product (NOK million, 2018 prices)")
    print(industries.round(0).to_string(), end="\n\n")
    plotting.grouped_bars(industries, ax=ax, title=f"{region}: industries with the largest growth (Fig. 4)",
                          ylabel="NOK million, 2018 prices")
plt.show()

# %%
cumulative_migration = ds.migration.cumsum("year")
fig, axes = plt.subplots(1, len(focus), figsize=(6 * len(focus), 4), layout="constrained")
for ax, region in zip(np.atleast_1d(axes), focus):
    plotting.line_paths(cumulative_migration.sel(region=region).to_pandas(), ax=ax,
                        title=f"{region}: cumulative net in-migration by education (Fig. 5)",
                        ylabel="thousand persons")
plt.show()

# %%
ratio = h["voc_bach_real_wage_ratio"]
ratio.index.name = "year"
ax = plotting.line_paths(ratio.to_frame("vocational / bachelor"),
                         title="Real wage per person, vocational relative to bachelor (mean over regions)",
                         ylabel="ratio")
ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
plt.show()

# %% [markdown]
# ## Against the article
#
# What the article (Vennemo et al., *Samfunnsøkonomen* 2023/4) reports for its reference path:
#
# - mainland GDP per capita grows by about 1.1 % a year;
# - Oslo grows fastest, about 1.4 % a year per capita; Rogaland, Vestland and Trøndelag are near the average;
# - migration takes the highly educated (bachelor, master) towards Oslo, while people with low and vocational
#   education move out;
# - the vocational wage approaches the bachelor wage.
#
# The cell below prints the model's counterparts, computed from the path above. On an aggregation of the
# counties, a county stands for the region that holds it.

# %%
ARTICLE_GDP_PER_CAPITA_GROWTH = 1.1  # % per year, mainland
ARTICLE_OSLO_GROWTH = 1.4  # % per year, per capita


def named(county: str) -> str:
    region = region_of[county]
    return county if region == county else f"{region} (holds {county})"


per_capita = 100 * h["gdp_per_capita_growth_by_region"]
national = 100 * h["mainland_gdp_per_capita_growth"]
oslo = region_of["OSL"]
rows = [
    ("mainland GDP per capita growth, %/yr", f"≈ {ARTICLE_GDP_PER_CAPITA_GROWTH:.1f}", f"{national:.2f}"),
    (f"{named('OSL')} per capita growth, %/yr", f"≈ {ARTICLE_OSLO_GROWTH:.1f}, fastest",
     f"{per_capita[oslo]:.2f}, rank {int(per_capita.rank(ascending=False)[oslo])} of {len(per_capita)}"),
]
for county in ("ROG", "VES", "TRO"):
    region = region_of[county]
    rows.append((f"{named(county)} per capita growth, %/yr", "near the average",
                 f"{per_capita[region]:.2f} ({per_capita[region] - national:+.2f} vs mainland)"))
migration = h["cumulative_migration"].loc[oslo]
for group in migration.index:
    expected = "in" if group in ("bach", "mast") else "out"
    rows.append((f"{named('OSL')} net in-migration {first}–{last}, {group}, thousand", expected,
                 f"{migration[group]:+.1f}"))
rows.append(("real wage voc/bach, mean over regions", "approaching 1",
             f"{ratio.iloc[0]:.3f} ({ratio.index[0]}) -> {ratio.iloc[-1]:.3f} ({ratio.index[-1]})"))
comparison = pd.DataFrame(rows, columns=["quantity", "article", "model"])
print(comparison.to_string(index=False))
