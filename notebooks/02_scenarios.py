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
# # The article's two scenarios
#
# Each scenario of the article (MODEL.md §8) is a file in `scenarios/`: a path for one exogenous driver by
# region, education group and year. This notebook
#
# 1. solves the reference path 2018–2050 (as in `01_reference_path.py`);
# 2. reads the two scenario files, applies them to the reference drivers and solves both scenario paths as
#    one batch (`run_scenarios`: the paths are stacked and solved by one compiled call, `vmap` on a GPU and
#    `lax.map` on the CPU);
# 3. prints each scenario's deviations from the reference and draws the article's scenario figures
#    (Fig. 6–8 for Trøndelag; mainland GDP and employment in Oslo + Viken);
# 4. prints the model's numbers beside those the article publishes.
#
# - **Scenario 1** (`trondelag_vocational.toml`): the number of vocational workers in Trøndelag rises by
#   1 % a year in 2025–2035, taken one for one from the low-educated workers (no exogenous migration).
# - **Scenario 2** (`further_education.toml`): labour productivity of the bachelor group rises 0.5 % a year in
#   2025–2035 in every county.
#
# By default it runs on the 11 counties. With `NOREG_NOTEBOOK_REGIONS` naming a mapping file in
# `noreg_jax/data/mappings/` it runs on that aggregation; `trondelag_rest.csv` (Oslo + Viken, Trøndelag, the
# rest) is the smallest on which scenario 1 keeps its meaning. On an aggregation that merges Trøndelag with
# other counties, a county code in a scenario file stands for the region that holds it, so scenario 1 then
# shocks that whole region.

# %%
import os
import re
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import noreg_jax
from noreg_jax import plotting
from noreg_jax.compile_cache import enable as enable_compile_cache
from noreg_jax.data import DataError
from noreg_jax.drivers import reference_model
from noreg_jax.results import compare, format_scenario_summary, mainland, scenario_headline
from noreg_jax.runs import run_reference, run_scenarios
from noreg_jax.scenarios import DRIVERS, apply_scenario, parse_scenario

enable_compile_cache()  # compiled programs are kept for the next run (noreg_jax/compile_cache.py)

REGIONS = os.environ.get("NOREG_NOTEBOOK_REGIONS") or None  # e.g. "trondelag_rest.csv"; None: the 11 counties
SCENARIO_DIR = Path(noreg_jax.__file__).resolve().parents[1] / "scenarios"
SCENARIO_FILES = ["trondelag_vocational.toml", "further_education.toml"]

model = reference_model(regions=REGIONS)
sets = model.economy.benchmark.sets
print(f"{sets.n_regions} regions ({', '.join(sets.regions)}) x {sets.n_sectors} industries "
      f"x {sets.n_education} education groups" + (f", aggregated by {REGIONS}" if REGIONS else ""))

# The model region that holds each county (the county itself unless the data were aggregated).
focus = sets.region_of("TRO")  # the region of the article's Fig. 6–8
capital_regions = list(dict.fromkeys(sets.region_of(c) for c in ("OSL", "VIK")))  # Oslo + Viken

# %% [markdown]
# ## The reference path
#
# One jitted `simulate` of the 33 years; `run_reference` raises, naming the year, if a year does not converge.

# %%
start = time.perf_counter()
reference = run_reference(model)
print(f"reference path {model.drivers.years[0]}–{model.drivers.years[-1]} solved in "
      f"{time.perf_counter() - start:.1f} s, compilation included")

# %% [markdown]
# ## The scenario files
#
# `parse_scenario` checks each file against the model's regions, industries, education groups and years; a
# malformed file stops here with an error naming the file, the field and the value.


# %%
def read_scenario(path: Path):
    """Parse a scenario file for this model; on an aggregation, a county code in `region = ...` stands for the
    region that holds the county."""
    text = path.read_text()
    changed = {}

    def held_by(code: re.Match) -> str:
        try:
            region = sets.region_of(code[1])
        except DataError:  # not a region or county code: left for parse_scenario to report
            region = code[1]
        if region != code[1]:
            changed[code[1]] = region
        return f'"{region}"'

    translated = re.sub(r"^\s*region\s*=.*$", lambda line: re.sub(r'"(\w+)"', held_by, line[0]), text, flags=re.M)
    if changed:
        print(f"{path.name}: on {REGIONS}, " + ", ".join(f"{c} stands for {r}" for c, r in changed.items()))
    return parse_scenario(path, model, text=translated)


scenarios = [read_scenario(SCENARIO_DIR / name) for name in SCENARIO_FILES]
for scenario in scenarios:
    print(f"\n{scenario.name}: {' '.join(scenario.description.split())}")
    for shock in scenario.shocks:
        years = np.asarray(model.drivers.years)[np.asarray(shock.window) > 0]
        regions = [sets.regions[r] for r in np.flatnonzero(np.asarray(shock.selection).any(axis=1))]
        labels = sets.sectors if DRIVERS[shock.driver][1] == "sector" else sets.education
        groups = [labels[x] for x in np.flatnonzero(np.asarray(shock.selection).any(axis=0))]
        size = {"growth": f"{float(shock.value):+g} % a year", "percent": f"{float(shock.value):+g} %",
                "level": f"set to {float(shock.value):g}"}[shock.mode]
        moved = f", taken from {sets.education[shock.transfer_from]}" if shock.transfer_from is not None else ""
        print(f"  {shock.driver} {size} in {years[0]}–{years[-1]}: {', '.join(regions)} x {', '.join(groups)}{moved}")

# %% [markdown]
# Scenario 1 in persons: the shock moves this many people from low to vocational education in Trøndelag
# (the drivers, before endogenous migration responds). The article speaks of about 700 a year, about 7,800 in
# all: 1 % a year of the *employed* with vocational education; the model's population driver holds everyone.

# %%
r, voc = sets.region(focus), sets.education.index("voc")
added = 1000 * (apply_scenario(model, scenarios[0]).drivers.population - model.drivers.population)[:, r]
moved_by_year = pd.Series(np.asarray(added[:, voc]), index=pd.Index(model.drivers.years, name="year"))
assert np.allclose(np.asarray(added.sum(axis=1)), 0.0, atol=1e-6)  # moved between groups, none created
print(f"persons moved from low to vocational education in {focus}: "
      f"{moved_by_year[2025]:,.0f} in 2025, {moved_by_year[2035]:,.0f} by 2035, {moved_by_year[2050]:,.0f} by 2050")

# %% [markdown]
# ## Both scenarios as one batch
#
# `run_scenarios` applies each scenario to the reference model, stacks the models into one pytree and solves all
# paths with one `jax.jit(jax.vmap(simulate))`; every path is checked year by year for convergence.

# %%
start = time.perf_counter()
results = {ds.attrs["name"]: ds for ds in run_scenarios(model, scenarios)}
print(f"{len(results)} scenario paths ({', '.join(results)}) solved as one batch in "
      f"{time.perf_counter() - start:.1f} s, compilation included")
s1, s2 = (results[scenario.name] for scenario in scenarios)
for ds in (s1, s2):
    print()
    print(format_scenario_summary(reference, ds, region=focus))

# %% [markdown]
# ## The article's figures
#
# Deviations from the reference path (`deviation`: scenario − reference, absolute and in %).

# %%
deviations = {name: compare(ds, reference) for name, ds in results.items()}
last = int(reference.year[-1])


def panels(title_of, frame_of, ylabel):
    """One panel per scenario."""
    fig, axes = plt.subplots(1, len(deviations), figsize=(6.5 * len(deviations), 4), layout="constrained")
    for ax, (name, dev) in zip(np.atleast_1d(axes), deviations.items()):
        plotting.line_paths(frame_of(dev), ax=ax, title=title_of(name), ylabel=ylabel)
        ax.axhline(0.0, color="grey", linewidth=0.8, linestyle="--")
    plt.show()


panels(lambda name: f"{name}: net in-migration to {focus} vs reference (Fig. 6)",
       lambda dev: 1000 * dev.migration.sel(measure="absolute", region=focus).cumsum("year").to_pandas(),
       "persons, cumulative")

# %%
panels(lambda name: f"{name}: real wage in {focus} vs reference (Fig. 7)",
       lambda dev: dev.real_wage.sel(measure="percent", region=focus).to_pandas(), "% deviation")

# %%
fig, axes = plt.subplots(1, len(deviations), figsize=(9 * len(deviations), 4), layout="constrained")
for ax, (name, dev) in zip(np.atleast_1d(axes), deviations.items()):
    plotting.bar_by_region(dev.gross_product.sel(measure="percent", region=focus, year=last).to_pandas(), ax=ax,
                           title=f"{name}: gross product by industry in {focus}, {last} (Fig. 8)",
                           ylabel="% deviation")
plt.show()

# %%
gdp = pd.DataFrame({name: 100 * (mainland(ds).sum("region") / mainland(reference).sum("region") - 1).to_pandas()
                    for name, ds in results.items()})
employed = pd.DataFrame({name: 1000 * dev.employment.sel(measure="absolute", region=capital_regions)
                         .sum(("region", "sector", "education")).to_pandas() for name, dev in deviations.items()})
fig, axes = plt.subplots(1, 2, figsize=(13, 4), layout="constrained")
plotting.line_paths(gdp, ax=axes[0], title="Mainland GDP vs reference", ylabel="% deviation")
plotting.line_paths(employed, ax=axes[1], title=f"Employment in {' + '.join(capital_regions)} vs reference",
                    ylabel="persons")
for ax in axes:
    ax.axhline(0.0, color="grey", linewidth=0.8, linestyle="--")
plt.show()

# %% [markdown]
# ## Against the article
#
# What the article (Vennemo et al., *Samfunnsøkonomen* 2023/4) reports for its scenarios, as deviations from
# the reference path in the long run:
#
# - scenario 1: about 7,800 more with vocational education in Trøndelag (about 700 a year); about 1,000
#   vocational workers move out of Trøndelag and about as many low-educated move in; Trøndelag's employment and
#   population are almost unchanged; the relative vocational wage falls and the low-educated wage rises; gross
#   product per person in Trøndelag rises about 0.65 %; chemicals and power-intensive industry grow most,
#   tourism shrinks;
# - scenario 2: mainland GDP up about 2 %; about 320 more employed in Oslo and Viken.
#
# The cell below prints the model's counterparts, computed from the paths above (the last year, cumulative
# migration over the whole path). On an aggregation, a county stands for the region that holds it.

# %%
ARTICLE_S1_PERSONS_SHIFTED = 7_800  # more with vocational education in Trøndelag after 11 years
ARTICLE_S1_VOCATIONAL_OUT = 1_000  # persons moving out of Trøndelag
ARTICLE_S1_LOW_IN = 1_000  # persons moving in
ARTICLE_S1_GROSS_PRODUCT_PER_PERSON = 0.65  # %, Trøndelag, long run
ARTICLE_S2_MAINLAND_GDP = 2.0  # %, long run
ARTICLE_S2_CAPITAL_EMPLOYMENT = 320  # persons, Oslo + Viken

h1 = scenario_headline(reference, s1, region=focus)
h2 = scenario_headline(reference, s2, region=focus)
where = focus if focus == "TRO" else f"{focus} (holds TRO)"
industries = h1["industries_pct"]  # % in the last year, largest first
rank = {code: int(np.flatnonzero(industries.index == code)[0]) + 1 for code in industries.index}
relative_wage = ((1 + h1["real_wage_pct"]["voc"] / 100) / (1 + h1["real_wage_pct"]["low"] / 100) - 1) * 100
rows = [
    ("S1", f"vocational persons added in {where} by 2035 (shock)", f"≈ {ARTICLE_S1_PERSONS_SHIFTED:,}",
     f"{moved_by_year[2035]:,.0f}"),
    ("S1", f"vocational net out-migration from {where}, persons", f"≈ {ARTICLE_S1_VOCATIONAL_OUT:,}",
     f"{-h1['migration_by_education']['voc']:,.0f}"),
    ("S1", f"low-educated net in-migration to {where}, persons", f"≈ {ARTICLE_S1_LOW_IN:,}",
     f"{h1['migration_by_education']['low']:,.0f}"),
    ("S1", f"employment in {where}, %", "almost unchanged", f"{h1['employment_pct']:+.3f}"),
    ("S1", f"population in {where}, %", "almost unchanged", f"{h1['population_pct']:+.3f}"),
    ("S1", f"vocational real wage relative to low-educated in {where}, %", "falls", f"{relative_wage:+.2f}"),
    ("S1", f"vocational real wage in {where}, %", "falls", f"{h1['real_wage_pct']['voc']:+.2f}"),
    ("S1", f"low-educated real wage in {where}, %", "rises", f"{h1['real_wage_pct']['low']:+.2f}"),
    ("S1", f"gross product per person in {where}, %", f"≈ +{ARTICLE_S1_GROSS_PRODUCT_PER_PERSON:.2f}",
     f"{h1['gross_product_per_person_pct']:+.2f}"),
    ("S1", f"fastest-growing industries in {where}, %", "chemicals, power-intensive",
     ", ".join(f"{code} {v:+.2f}" for code, v in industries.head(3).items())),
    ("S1", f"chemicals (CHEM), power-intensive (METAL) in {where}: % (rank of {len(industries)})",
     "grow most", ", ".join(f"{code} {industries[code]:+.2f} ({rank[code]})" for code in ("CHEM", "METAL"))),
    ("S1", f"tourism (TOUR) in {where}, % (rank of {len(industries)})", "shrinks",
     f"{industries['TOUR']:+.2f} ({rank['TOUR']})"),
    ("S2", "mainland GDP, %", f"≈ +{ARTICLE_S2_MAINLAND_GDP:.0f}", f"{h2['mainland_gdp_pct']:+.2f}"),
    ("S2", f"employment in {' + '.join(h2['capital_regions'])}, persons", f"≈ +{ARTICLE_S2_CAPITAL_EMPLOYMENT}",
     f"{h2['capital_region_employment_persons']:+,.0f}"),
]
comparison = pd.DataFrame(rows, columns=["scenario", "quantity", "article", "model"])
left = {column: f"{{:<{comparison[column].str.len().max()}}}".format for column in comparison.columns}
print(f"The article's scenarios vs this model, deviations from the reference path in {h1['year']}:")
print(comparison.to_string(index=False, justify="left", formatters=left))
