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
# # Estimating parameters through the path
#
# Every 2018–2050 path of NOREG-JAX is a differentiable function of its parameters (implicit differentiation
# through every year's equilibrium), so parameters can be fitted to observed outcomes by gradient-based
# optimisation (MODEL.md §10). `calibration/estimate.py` does this from a TOML config: the parameters to fit
# (with bounds and a log transform for positive ones), the target outcomes or scenario effects with an observed
# value and a standard deviation, and the optimiser (Levenberg–Marquardt by default; adam or L-BFGS from optax).
# Uncertainty comes from the Laplace approximation: the Gauss–Newton curvature at the optimum, mapped back to
# the parameters by the delta method, and draws from it that arviz summarises.
#
# Two applications, both shipped in `calibration/configs/`:
#
# 1. `recovery.toml` — a check of the estimator: targets simulated at known values of β_low, β_voc and σ_labour,
#    with noise, estimated back from a different start;
# 2. `article_match.toml` — the four migration elasticities β_e fitted so that the article's two scenarios
#    reproduce its published migration figures (MODEL.md §8).
#
# By default the notebook runs on the 11 counties (the article fit then takes a long time: each optimiser step
# differentiates three full paths). With `NOREG_NOTEBOOK_REGIONS` set to a mapping file it runs on that
# aggregation instead, with few iterations of the article fit; that fit needs Trøndelag as a region of its own,
# so an aggregation without it is replaced by `trondelag_rest.csv` (Oslo + Viken, Trøndelag, the rest) for it.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from calibration.estimate import CONFIG_DIR, estimate, format_result, pair_plot, summary
from noreg_jax.compile_cache import enable as enable_compile_cache
from noreg_jax.drivers import reference_model

enable_compile_cache()  # compiled programs are kept for the next run (noreg_jax/compile_cache.py)

REGIONS = os.environ.get("NOREG_NOTEBOOK_REGIONS") or None  # a mapping file, e.g. "two_regions.csv"; None: 11 counties
SMALL = REGIONS is not None

recovery_model = reference_model(regions=REGIONS)
print(f"recovery on {', '.join(recovery_model.economy.benchmark.sets.regions)}"
      + (f" (aggregated by {REGIONS})" if SMALL else " (11 counties)"))

# %% [markdown]
# ## 1. Parameter recovery
#
# The targets are the cumulative net in-migration of low-educated and vocational workers to Oslo + Viken by
# 2030 and by 2050, and the vocational/bachelor real wage ratio there in 2050, on the reference path. The
# time profile of migration identifies β (with a large β migration closes the wage gap early and then stops;
# its 2050 level alone would not tell β apart), the wage ratio identifies σ_labour. The "observed" values are
# simulated at β_low = 0.014, β_voc = 0.012, σ_labour = 1.5 plus noise; the fit starts from 0.03, 0.005, 3.

# %%
recovery = estimate(CONFIG_DIR / "recovery.toml", recovery_model, progress=print)
print(format_result(recovery))
table = recovery.table()
inside = (table["estimate"] - table["truth"]).abs() <= 2 * table["std_error"]
print(f"{int(inside.sum())} of {len(table)} estimates within 2 standard errors of the truth")

# %% [markdown]
# The arviz summary of the Laplace draws (mean, sd, 95 % equal-tailed and highest-density intervals) and
# their pair plot:

# %%
print(summary(recovery).to_string(float_format=lambda v: f"{v:.5g}"))
pair_plot(recovery)
plt.show()

# %%
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.semilogy(recovery.history["iteration"], recovery.history["objective"], marker="o")
ax.set_xlabel("iteration")
ax.set_ylabel("objective ½Σ r²")
ax.set_title("Recovery: Levenberg–Marquardt")
plt.show()

# %% [markdown]
# ## 2. Matching the article's scenario results
#
# Fitted targets (standard deviations in `article_match.toml`): scenario 1 moves about 1,000 vocational workers out
# of Trøndelag and about as many low-educated in; scenario 2 puts about 320 more employed in Oslo + Viken.
# Reported as checks but not fitted (`fit = false`, column `in_objective`): Trøndelag's gross product per person
# (per inhabitant) up about 0.65 % in scenario 1 and mainland GDP up about 2 % in scenario 2. They hardly depend
# on β_e and are governed by σ_labour, which is held at the model's value: fitted as well, it runs to its upper
# bound and takes every β_e to its lower bound (see the config's description). The config names counties; on an
# aggregation they are translated to whole regions (OSL + VIK -> OSVI), printed in the fit's `outcome` column.

# %%
article_regions = REGIONS
if SMALL:
    from noreg_jax.parameters import load_economy

    if "TRO" not in load_economy(regions=REGIONS).benchmark.sets.regions:
        article_regions = "trondelag_rest.csv"
article_model = reference_model(regions=article_regions)
print(f"article fit on {', '.join(article_model.economy.benchmark.sets.regions)}"
      + (f" (aggregated by {article_regions})" if article_regions else " (11 counties)"))
article = estimate(CONFIG_DIR / "article_match.toml", article_model, progress=print,
                   **({"max_iter": 2} if SMALL else {}))
print(format_result(article))

# %% [markdown]
# Are the fitted migration elasticities plausible? The article (after Skjerpen et al. 2023) puts them around
# 0.01: a 10 % higher real wage raises in-migration by 0.1 %, lowest for the most educated.

# %%
betas = article.table().set_index("parameter").filter(like="migration_beta", axis=0)
for name, row in betas.iterrows():
    print(f"{name}: {row['estimate']:.4g} (se {row['std_error']:.2g}), {row['estimate'] / 0.01:.2g} times 0.01")
print("migration elasticities around 0.01:",
      "yes" if ((betas["estimate"] > 0.003) & (betas["estimate"] < 0.03)).all() else "no")
print(summary(article).to_string(float_format=lambda v: f"{v:.5g}"))
pair_plot(article)
plt.show()

# %%
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
fit = article.fit
positions = np.arange(len(fit))
ax.errorbar(positions, fit["observed"], yerr=2 * fit["sd"], fmt="o", label="article ± 2 sd")
ax.plot(positions, fit["fitted"], "s", label="model at the estimates")
ax.set_xticks(positions, [t.split(":")[0] + ":" + t.split(":")[1][:28] for t in fit["target"]], rotation=20,
              ha="right", fontsize=7)
ax.axhline(0.0, color="grey", linewidth=0.8)
ax.legend(frameon=False)
ax.set_title("Article targets and the fitted model")
plt.show()
