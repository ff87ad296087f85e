"""arviz summaries of the outcome draws of a sweep (README "Sensitivity and estimation"): HDIs, a summary table,
densities and
forest plots of the scenario effects.

The draws of each headline outcome become an arviz 1.x :class:`xarray.DataTree` (``arviz.from_dict``):
group ``prior_predictive`` holds the outcomes — they are draws of model outputs under the *prior*
uncertainty of the parameters, not conditioned on data — and group ``prior`` the factors that produced
them, each with dims (chain, draw) and one chain. For a Saltelli design pass only the A and B rows of the
complete blocks (:func:`sensitivity.sobol.design_rows`): those are independent draws from the joint
distribution, while the A_B rows mix them. Failed draws are never in the tree (their count is in its
attributes).
"""

from __future__ import annotations

from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

from noreg_jax.output_files import save_figure

GROUP = "prior_predictive"
CI_PROB = 0.9


def outcome_tree(sweep, rows=None, units: dict | None = None, labels: dict | None = None):
    """The draws of every outcome (and the factors) of the ok rows among ``rows`` (default: all)."""
    rows = np.arange(sweep.status.size) if rows is None else np.asarray(rows)
    used = rows[sweep.ok[rows]]
    outcomes = {name: sweep.outcomes[used, k][None, :] for k, name in enumerate(sweep.outcome_names)}
    factors = {name: sweep.draws[used, k][None, :] for k, name in enumerate(sweep.parameter_names)}
    attrs = {"draws_used": int(used.size), "draws_failed": int((~sweep.ok[rows] & sweep.done[rows]).sum()),
             "source": str(sweep.directory)}
    tree = az.from_dict({GROUP: outcomes, "prior": factors})
    tree.attrs.update(attrs)
    for name in sweep.outcome_names:
        tree[GROUP][name].attrs.update(units=(units or {}).get(name, ""), long_name=(labels or {}).get(name, name))
    return tree


def hdi(tree, prob: float = CI_PROB) -> pd.DataFrame:
    """Highest-density interval of every outcome: columns lower, upper."""
    h = az.hdi(tree, prob=prob, group=GROUP)
    ds = h.to_dataset() if hasattr(h, "to_dataset") else h
    return pd.DataFrame({v: ds[v].values for v in ds.data_vars}, index=["lower", "upper"]).T


def summary_table(tree, prob: float = CI_PROB) -> pd.DataFrame:
    """Mean, sd, HDI (``prob``), median and the number of draws of every outcome, with its unit."""
    table = az.summary(tree, group=GROUP, kind="stats", ci_prob=prob, ci_kind="hdi", round_to="none")
    ds = tree[GROUP]
    table["median"] = [float(np.median(ds[v].values)) for v in table.index]
    table["draws"] = tree.attrs.get("draws_used", ds.sizes["draw"])
    table["unit"] = [ds[v].attrs.get("units", "") for v in table.index]
    table.index.name = "outcome"
    return table


def _save(pc, path):
    if hasattr(pc, "savefig"):
        save_figure(pc, path, dpi=100)
    import matplotlib.pyplot as plt

    plt.close("all")
    return Path(path)


def plot_densities(tree, path, var_names=None, prob: float = CI_PROB):
    """Density of each outcome with its HDI and mean (one panel per outcome)."""
    pc = az.plot_dist(tree, group=GROUP, var_names=var_names, backend="matplotlib", kind="kde", ci_kind="hdi",
                      ci_prob=prob, point_estimate="mean")
    return _save(pc, path)


def plot_forest(tree, path, var_names=None, prob: float = CI_PROB):
    """Forest plot (mean and HDI) of outcomes that share a unit."""
    pc = az.plot_forest(tree, group=GROUP, var_names=var_names, backend="matplotlib", combined=True,
                        ci_kind="hdi", ci_probs=(0.5, prob), point_estimate="mean")
    return _save(pc, path)


def plot_outcomes(tree, out) -> list[Path]:
    """Densities of all outcomes and one forest plot per unit: outcomes_density.png, outcomes_forest_*.png."""
    out = Path(out)
    files = [plot_densities(tree, out / "outcomes_density.png")]
    by_unit: dict[str, list[str]] = {}
    for name, var in tree[GROUP].data_vars.items():
        by_unit.setdefault(var.attrs.get("units", ""), []).append(name)
    for k, (unit, names) in enumerate(by_unit.items()):
        slug = "".join(c if c.isalnum() else "_" for c in unit.replace("%", "percent")).strip("_") or f"unit{k}"
        files.append(plot_forest(tree, out / f"outcomes_forest_{slug}.png", var_names=names))
    return files
