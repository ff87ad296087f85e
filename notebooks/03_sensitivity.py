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
# # Global sensitivity: Sobol indices of the scenario effects
#
# How much of the uncertainty in the article's headline results comes from which elasticities (MODEL.md §10)?
# This notebook
#
# 1. reads the parameter uncertainty as data (`sensitivity/data/uncertainty.csv`): the Koesler–Schymura KLEM
#    elasticities, the Armington elasticities, the substitution elasticity between education groups and the
#    migration elasticities β_e, each as a multiplicative factor on the values the model uses, in four groups;
# 2. draws a Saltelli design on a Sobol' sequence (SALib) and evaluates, for every draw, the reference path
#    and the two scenarios of the article as a checkpointed sweep (`sensitivity/sweep.py`);
# 3. estimates first- and total-order Sobol indices with bootstrap intervals, per group of parameters;
# 4. summarises the distribution of each scenario effect with arviz (HDIs, densities, forest plots).
#
# It runs `sensitivity/configs/ci_small.toml` with a smaller design (N = 16 base rows: 96 draws × 3 paths),
# enough to show every step; the indices of so small a design have wide intervals. For the real analysis run
# `noreg sensitivity sobol sensitivity/configs/ci_small.toml` (N = 64) or `full.toml` (11 counties).
#
# The scenario of Trøndelag needs Trøndelag as a region of its own. The notebook runs on the aggregation in
# `NOREG_NOTEBOOK_REGIONS` when that has one, and otherwise (e.g. `two_regions.csv`) on `trondelag_rest.csv`,
# the smallest that does; with no aggregation set it runs on the 11 counties (several minutes).
# Gradients of the same outcomes are in another notebook.

# %%
import dataclasses
import os
import tempfile
import time
from pathlib import Path

import arviz as az
import matplotlib.pyplot as plt

from noreg_jax.compile_cache import enable as enable_compile_cache
from noreg_jax.drivers import reference_model
from noreg_jax.parameters import load_economy
from sensitivity import summaries
from sensitivity.sobol import (
    CONFIG_DIR,
    analyze,
    complete_blocks,
    config_uncertainty,
    design_rows,
    format_indices,
    load_config,
    plot_indices,
    sample,
)
from sensitivity.sweep import build_evaluator, run_sweep

enable_compile_cache()  # compiled programs are kept for the next run (noreg_jax/compile_cache.py)

REGIONS = os.environ.get("NOREG_NOTEBOOK_REGIONS") or None  # a mapping file, e.g. "two_regions.csv"; None: 11 counties
if REGIONS is not None and "TRO" not in load_economy(regions=REGIONS).benchmark.sets.regions:
    print(f"{REGIONS} has no region for Trøndelag alone: using trondelag_rest.csv")
    REGIONS = "trondelag_rest.csv"
BASE_SAMPLES = 16

config = load_config(CONFIG_DIR / "ci_small.toml").with_overrides(base_samples=BASE_SAMPLES)
config = dataclasses.replace(config, regions=REGIONS)  # None: the 11 counties
model = reference_model(regions=REGIONS)
sets = model.economy.benchmark.sets
print(f"{sets.n_regions} regions ({', '.join(sets.regions)}) x {sets.n_sectors} industries "
      f"x {sets.n_education} education groups" + (f", aggregated by {REGIONS}" if REGIONS else ""))

# %% [markdown]
# ## The uncertainty
#
# One row per factor. A factor multiplies the central values of its parameter (for all sectors at once: the
# sectors' errors are tied, which keeps the design small and is the cautious choice for aggregate outcomes).
# The Koesler–Schymura estimates come without standard errors in the sources we have, so a relative standard
# error of 30 % is assumed (normal, truncated at 0 and 2 × central); the others are ±50 % uniform.

# %%
uncertainty = config_uncertainty(config)
print(uncertainty.table(model).to_string(index=False))
problem = uncertainty.problem(groups=config.groups)

# %% [markdown]
# ## The design and the sweep
#
# Saltelli's scheme needs N·(G + 2) runs for first- and total-order indices of G groups. Each run solves the
# reference path and the two scenarios (2018–2050); the sweep is compiled once and written to disk chunk by
# chunk, so a stopped sweep resumes where it stopped. A draw that fails to solve is kept with its status;
# the analysis then drops its whole Saltelli block.

# %%
draws = sample(problem, config.base_samples, config.second_order, config.seed)
evaluator = build_evaluator(config.spec())
print(f"{len(problem['names'])} factors in {len(set(problem['groups']))} groups; N = {config.base_samples}: "
      f"{draws.shape[0]} draws x {len(evaluator.path_labels)} paths ({', '.join(evaluator.path_labels)})")
directory = Path(tempfile.mkdtemp(prefix="noreg_sobol_")) / "sweep"
start = time.perf_counter()
sweep = run_sweep(draws, evaluator, directory, chunk_size=config.chunk_size, vmap_width=config.vmap_width,
                  parameter_names=problem["names"])
elapsed = time.perf_counter() - start
print(f"draws solved: {int(sweep.ok.sum())} of {sweep.status.size} in {elapsed:.0f} s (compilation included); "
      f"failed: {sweep.n_failed}")

# %% [markdown]
# ## Sobol indices
#
# S1 (first order) is the share of an outcome's variance explained by a group alone; ST (total order) adds
# its interactions with the others. A group with ST ≈ 0 could be fixed at its central value without changing
# the spread of that outcome.

# %%
indices = analyze(problem, sweep, config.second_order, config.resamples, config.conf_level, config.seed)
labels = dict(zip(evaluator.outcome_names, evaluator.labels))
print(f"Sobol indices ({indices.n_blocks_used} of {indices.n_blocks} blocks, "
      f"{int(100 * config.conf_level)} % bootstrap intervals)")
print(format_indices(indices, labels))
plot_indices(indices, labels=labels, conf_level=config.conf_level)
plt.show()

# %%
main = indices.first_total.loc[indices.first_total.groupby("outcome").ST.idxmax(), ["outcome", "factor", "ST"]]
print("largest total-order index per outcome:")
for _, row in main.iterrows():
    print(f"  {labels[row.outcome]}: {row.factor} (ST {row.ST:.2f})")

# %% [markdown]
# ## The distribution of the scenario effects (arviz)
#
# The A and B rows of the design are independent draws from the parameter distribution; their outcomes, as
# an arviz `DataTree` (group `prior_predictive`: model outputs under the prior uncertainty of the parameters),
# give the spread of each effect: mean, standard deviation and a 90 % highest-density interval.

# %%
rows = design_rows(sweep.status.size, problem, config.second_order,
                   complete_blocks(sweep.ok, problem, config.second_order))
tree = summaries.outcome_tree(sweep, rows, units=dict(zip(evaluator.outcome_names, evaluator.units)), labels=labels)
table = summaries.summary_table(tree)
print("scenario effects over the parameter uncertainty, 90 % HDI:")
print(table.to_string(float_format=lambda v: f"{v:.4g}"))
tree

# %%
effects = [n for n in evaluator.outcome_names if not n.startswith("ref_")]
az.plot_dist(tree, group=summaries.GROUP, var_names=effects, backend="matplotlib", kind="kde", ci_kind="hdi",
             ci_prob=0.9, point_estimate="mean")
plt.show()

# %%
percent = [n for n, u in zip(evaluator.outcome_names, evaluator.units) if u == "%"]
az.plot_forest(tree, group=summaries.GROUP, var_names=percent, backend="matplotlib", combined=True, ci_kind="hdi",
               ci_probs=(0.5, 0.9), point_estimate="mean")
plt.show()

# %% [markdown]
# ## Reading the results
#
# In the full CI design (`noreg sensitivity sobol sensitivity/configs/ci_small.toml`, N = 64, three regions),
# with these assumptions: the substitution elasticity between education groups
# drives most of the spread of every effect (it sets how much the wages of vocational and low-educated
# workers move when their numbers change), the migration elasticities share the variance of the migration
# effects of scenario 1, and the KLEM elasticities matter for employment in Oslo + Viken and for mainland GDP
# in scenario 2. The Armington elasticities hardly matter for these outcomes. Whether the signs of the
# effects are robust is read from the HDIs: an interval that excludes 0 means the sign holds across the
# parameter uncertainty.

# %%
for name in effects:
    lo, hi = table.loc[name, "hdi90_lb"], table.loc[name, "hdi90_ub"]
    verdict = "sign robust" if lo * hi > 0 else "sign uncertain"
    print(f"{labels[name]}: 90 % HDI [{lo:.3g}, {hi:.3g}] {table.loc[name, 'unit']} -> {verdict}")
