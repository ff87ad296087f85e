"""Exact decomposition of a scenario's effect on one outcome into the contributions of its parts
(docs/model.md "Decomposition of a scenario's effect").

The scenario moves some inputs of the path model (drivers, parameters) from their reference values m₀ to
m₁ = m₀ + Δ. Along the straight line m(α) = m₀ + αΔ, α ∈ [0, 1], the outcome's change is

    y(m₁) − y(m₀) = Σᵢ Δᵢ ∫₀¹ ∂y/∂mᵢ (m(α)) dα        (fundamental theorem of calculus; Aumann–Shapley)

so the contribution of input entry i is cᵢ = Δᵢ ∫₀¹ ∂y/∂mᵢ dα. The integral is taken by Gauss–Legendre
quadrature on ``nodes`` points; each point is one reverse-mode gradient through the whole path (implicit
differentiation through every year), all points solved as one batch (``lax.map``). The two end points are
solved in the same batch, so the nonlinear total y(m₁) − y(m₀) is known and the quadrature error
|Σᵢ cᵢ − total| is reported with every decomposition, never assumed.

The contributions are then grouped (they add up whatever the grouping):

    shock   each shock of the scenario file; a shock that moves persons (``transfer_from``) is split into the
            group that gains and the group that loses (scenario 1: "voc" in, "low" out)
    input   each driver or parameter and its sector or education code (e.g. "workers voc", "workers low")
    region  each region (entries without a region: "national")
    year    each year (entries without a year: "all years")

A different path from m₀ to m₁ would split interactions differently; the straight line in the inputs' own
units is the one stated here. The contributions of a nonlinear model are not the effects of each part run alone
(those do not add up to the total).
"""

from __future__ import annotations

import argparse
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax import lax

from noreg_jax.dynamics import PathModel, PathNotConverged, PathResult, failure_description, simulate
from noreg_jax.output_files import output_directory, write_table
from noreg_jax.scenarios import DRIVERS, Scenario, apply_scenario, parse_scenario
from noreg_jax.solver import SolverOptions
from sensitivity.outcomes import Outcome, parse_outcome

GROUPINGS = ("shock", "input", "region", "year")
DEFAULT_NODES = 4
# model leaves a scenario can move: name -> dimensions of the array (after the path's year axis where it has one)
DRIVER_DIMS = {**{name: ("year", *dims) for name, dims in DRIVERS.items() if name != "workers"},
               "worker_shift": ("year", *DRIVERS["workers"]),  # the leaf the "workers" driver moves
               "government_savings": ("year",), "foreign_savings": ("year",),
               "exogenous_capital": ("region", "sector")}
INPUT_NAMES = {"worker_shift": "workers"}  # the scenario files' name of a driver leaf


class DecompositionError(ValueError):
    """A decomposition that cannot be made as asked (no input moved, an unknown grouping)."""


# ---------------------------------------------------------------------------------------------
# which leaves the scenario moves, and the batched gradients along the line


def _leaves_with_names(model: PathModel):
    flat, _ = jax.tree_util.tree_flatten_with_path(model)
    names = [str(getattr(path[-1], "name", path[-1])) for path, _ in flat]
    return names, [leaf for _, leaf in flat]


def moved_leaves(reference: PathModel, scenario: PathModel) -> tuple[int, ...]:
    """Indices (in ``tree_flatten`` order) of the float leaves that differ between the two models."""
    _, a = _leaves_with_names(reference)
    _, b = _leaves_with_names(scenario)
    return tuple(i for i, (x, y) in enumerate(zip(a, b))
                 if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact) and not np.array_equal(np.asarray(x),
                                                                                                np.asarray(y)))


@partial(jax.jit, static_argnames=("outcome", "moved", "options"))
def line_gradients(alphas, reference: PathModel, deltas, outcome: Outcome, moved: tuple, options: SolverOptions):
    """At each α of ``alphas``: (y(m₀ + αΔ), ∂y/∂m at that point for each moved leaf, (converged (T,), max|F| (T,),
    flat index of the largest |F| (T,))).

    ``deltas`` are Δ for the leaves ``moved`` (indices of ``tree_flatten(reference)``). The points are solved one
    after the other by ``lax.map`` (on the CPU far faster than ``vmap``; see :mod:`sensitivity.sweep`)."""
    leaves, treedef = jax.tree_util.tree_flatten(reference)

    def one(alpha):
        def y(values):
            new = list(leaves)
            for i, v in zip(moved, values):
                new[i] = v
            model = jax.tree_util.tree_unflatten(treedef, new)
            result = simulate(model, options)
            return outcome(result, model), (result.converged, result.max_residual, result.worst_equation)

        start = [leaves[i] + alpha * d for i, d in zip(moved, deltas)]
        (value, status), grads = jax.value_and_grad(y, has_aux=True)(start)
        return value, grads, status

    return lax.map(one, alphas)


def gauss_legendre(n: int):
    """Nodes and weights of the n-point Gauss–Legendre rule on [0, 1] (exact for polynomials of degree 2n − 1)."""
    t, w = np.polynomial.legendre.leggauss(n)
    return (t + 1.0) / 2.0, w / 2.0


# ---------------------------------------------------------------------------------------------
# labels of the entries


def _entry_table(names, leaves, moved, deltas, contributions, model: PathModel) -> pd.DataFrame:
    """One row per moved entry: input, year, region, code, delta, contribution."""
    s = model.economy.benchmark.sets
    years = model.drivers.years
    labels = {"year": list(years), "region": list(s.regions), "sector": list(s.sectors),
              "education": list(s.education)}
    from sensitivity.gradients import PARAMETERS

    rows = []
    for i, delta, contrib in zip(moved, deltas, contributions):
        name = names[i]
        delta, contrib = np.asarray(delta), np.asarray(contrib)
        if name in DRIVER_DIMS:
            dims = DRIVER_DIMS[name]
        elif name in PARAMETERS and PARAMETERS[name][1] is not None:
            dims = (PARAMETERS[name][1],)
        else:
            dims = tuple(f"index{k}" for k in range(delta.ndim))
        for idx in zip(*np.nonzero(delta)) if delta.ndim else [()]:
            if not delta.ndim and delta == 0:
                continue
            where = {d: (labels[d][k] if d in labels else k) for d, k in zip(dims, idx)}
            code = where.get("education", where.get("sector", ""))
            rows.append({"input": INPUT_NAMES.get(name, name), "leaf": name, "year": where.get("year", ""),
                         "region": where.get("region", ""), "code": code, "delta": float(delta[idx]),
                         "contribution": float(contrib[idx])})
    return pd.DataFrame(rows, columns=["input", "leaf", "year", "region", "code", "delta", "contribution"])


def _shock_labels(entries: pd.DataFrame, model: PathModel, scenario: Scenario) -> pd.Series:
    """The shock that moved each entry (applied alone, it moves that entry); several: "joint: a + b"."""
    from sensitivity.gradients import shock_label

    names, base = _leaves_with_names(model)
    owners = [[] for _ in range(len(entries))]
    key = list(zip(entries["leaf"], entries["year"], entries["region"], entries["code"]))
    for k, shock in enumerate(scenario.shocks):
        alone = apply_scenario(model, Scenario(scenario.name, scenario.description, (shock,), ()))
        one = _leaves_with_names(alone)[1]
        moved = moved_leaves(model, alone)
        deltas = [np.asarray(one[i]) - np.asarray(base[i]) for i in moved]
        touched = _entry_table(names, base, moved, deltas, deltas, model)
        hit = set(zip(touched["leaf"], touched["year"], touched["region"], touched["code"]))
        label = shock_label(model, scenario, k)
        for row, kk in enumerate(key):
            if kk in hit:
                part = f" ({kk[3]} {'+' if entries['delta'].iloc[row] > 0 else '−'})" \
                    if shock.transfer_from is not None else ""
                owners[row].append(label + part)
    for row, (leaf, *_rest) in enumerate(key):
        if not owners[row]:  # a parameter override of the scenario file
            owners[row].append(f"parameter {leaf}")
    return pd.Series([o[0] if len(o) == 1 else "joint: " + " + ".join(o) for o in owners], index=entries.index)


# ---------------------------------------------------------------------------------------------
# the user-facing functions


class Decomposition:
    """A decomposed scenario effect: the entries, the total, the quadrature error; :meth:`by` groups them."""

    def __init__(self, entries: pd.DataFrame, total: float, reference_value: float, outcome: str, scenario: str,
                 nodes: int):
        self.entries, self.total, self.reference_value = entries, total, reference_value
        self.outcome, self.scenario, self.nodes = outcome, scenario, nodes

    @property
    def sum(self) -> float:
        return float(self.entries["contribution"].sum())

    @property
    def quadrature_error(self) -> float:
        """|Σ contributions − total| / |total| (absolute where the total is 0)."""
        gap = abs(self.sum - self.total)
        return gap / abs(self.total) if self.total != 0 else gap

    def by(self, grouping: str) -> pd.DataFrame:
        """Contributions summed by ``grouping`` (one of :data:`GROUPINGS`), largest |contribution| first."""
        if grouping not in GROUPINGS:
            raise DecompositionError(f"--by {grouping!r}: expected one of {', '.join(GROUPINGS)}")
        e = self.entries
        if grouping == "input":
            key = (e["input"] + " " + e["code"].astype(str)).str.strip()
        elif grouping == "region":
            key = e["region"].replace("", "national")
        elif grouping == "year":
            key = e["year"].replace("", "all years").astype(str)
        else:
            key = e["shock"]
        df = e.groupby(key.rename(grouping), sort=False)["contribution"].sum().reset_index()
        df["share_of_total"] = df["contribution"] / self.total if self.total != 0 else np.nan
        if grouping != "year":
            df = df.sort_values("contribution", key=np.abs, ascending=False, kind="stable")
        return df.reset_index(drop=True)


def decompose(model: PathModel, scenario, outcome_spec: str, nodes: int = DEFAULT_NODES,
              options: SolverOptions = SolverOptions()) -> Decomposition:
    """Decompose the effect of ``scenario`` (a :class:`Scenario` or a TOML file) on one outcome (a
    :mod:`sensitivity.outcomes` spec; county codes are translated to this division's regions).

    Raises PathNotConverged (naming α and the years) if a path on the line fails, DecompositionError if the
    scenario moves nothing."""
    if nodes < 1:
        raise DecompositionError(f"nodes must be at least 1 (got {nodes})")
    if not isinstance(scenario, Scenario):
        scenario = parse_scenario(scenario, model)
    outcome = parse_outcome(outcome_spec, model)
    shocked = apply_scenario(model, scenario)
    moved = moved_leaves(model, shocked)
    if not moved:
        raise DecompositionError(f"scenario {scenario.name!r} moves no input of the model: nothing to decompose")
    names, base = _leaves_with_names(model)
    after = _leaves_with_names(shocked)[1]
    deltas = [jnp.asarray(after[i]) - jnp.asarray(base[i]) for i in moved]
    t, w = gauss_legendre(nodes)
    alphas = jnp.asarray(np.concatenate([[0.0, 1.0], t]))
    values, grads, status = line_gradients(alphas, model, deltas, outcome, moved, options)
    for a, ok, res, worst in zip(np.asarray(alphas), *map(np.asarray, status)):
        what = failure_description(PathResult(None, None, ok, None, None, res, worst), model.drivers.years,
                                   model.economy.benchmark)
        if what is not None:
            raise PathNotConverged(f"decomposition of {scenario.name}: the path at α = {a:.4f} on the line from the "
                                   f"reference to the scenario did not converge in {what}")
    weights = jnp.asarray(w)
    contributions = [np.asarray(d) * np.asarray(jnp.tensordot(weights, g[2:], axes=1)) for d, g in zip(deltas, grads)]
    entries = _entry_table(names, base, moved, [np.asarray(d) for d in deltas], contributions, model)
    entries["shock"] = _shock_labels(entries, model, scenario)
    values = np.asarray(values)
    return Decomposition(entries, float(values[1] - values[0]), float(values[0]), outcome_spec, scenario.name, nodes)


# ---------------------------------------------------------------------------------------------
# edges: figure and command line


def plot_decomposition(table: pd.DataFrame, d: Decomposition, path=None, top: int = 15, ax=None):
    """Horizontal bars of the ``top`` largest contributions (the rest summed) and the total; saved to ``path``."""
    import matplotlib.pyplot as plt

    from noreg_jax import plotting

    grouping = table.columns[0]
    rows = table.head(top)
    labels, values = list(rows[grouping].astype(str)), list(rows["contribution"])
    if len(table) > top:
        labels.append(f"{len(table) - top} others")
        values.append(float(table["contribution"].iloc[top:].sum()))
    labels.append("total (nonlinear)")
    values.append(d.total)
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, max(2.5, 0.32 * len(labels) + 1.4)), layout="constrained")
    colours = [plotting.NEGATIVE_COLOUR if v < 0 else plotting.BAR_COLOUR for v in values]
    colours[-1] = "0.35"
    ax.barh(labels[::-1], values[::-1], color=colours[::-1])
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.grid(axis="x", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlabel(f"contribution to the effect on {d.outcome}")
    ax.set_title(f"{d.scenario}: effect on {d.outcome} by {grouping}\n(contributions add to the total; quadrature "
                 f"error {d.quadrature_error:.1e} relative, {d.nodes} Gauss–Legendre points)", fontsize=9)
    if path is not None:
        plotting.save(ax, path)
    return ax


def cmd_decompose(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from noreg_jax.cli import model_from_args

    groupings = [g.strip() for g in args.by.split(",")]
    for g in groupings:
        if g not in GROUPINGS:
            raise DecompositionError(f"--by {g!r}: expected one or more of {', '.join(GROUPINGS)} (comma-separated)")
    model = model_from_args(args)
    out = output_directory(args.out)  # checked before the paths are differentiated
    print(f"decomposing the effect of {args.scenario} on {args.outcome} ({args.nodes} Gauss–Legendre points and "
          "the two end points, one batch) ...", flush=True)
    d = decompose(model, args.scenario, args.outcome, args.nodes, SolverOptions(tol=args.tol))
    write_table(d.entries, out / "decomposition_entries.csv", digits=12, zero_below=None)  # they add up: keep digits
    print(f"reference {args.outcome} = {d.reference_value:.6g}; scenario effect (nonlinear total) = {d.total:.6g}; "
          f"sum of contributions = {d.sum:.6g}; quadrature error {d.quadrature_error:.2e} relative")
    if d.quadrature_error > args.max_error:
        print(f"noreg: warning: the quadrature error {d.quadrature_error:.2e} exceeds {args.max_error:g}; "
              "rerun with more --nodes", flush=True)
    for g in groupings:
        table = d.by(g)
        write_table(table, out / f"decomposition_by_{g}.csv", digits=12, zero_below=None)
        plot_decomposition(table, d, out / f"decomposition_by_{g}.png", top=args.top)
        print(f"\nby {g}:")
        print(table.head(args.top).to_string(index=False, formatters={"contribution": "{:.6g}".format,
                                                                      "share_of_total": "{:.1%}".format}))
    print(f"\nresults: {out}")
    return 0 if d.quadrature_error <= args.max_error else 4


def register_cli(subparsers) -> None:
    """Add ``decompose`` to the sub-commands of ``noreg``."""
    p = subparsers.add_parser("decompose", help="split a scenario's effect on one outcome into exact contributions "
                                                "by shock, input, region or year",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("scenario", help="scenario TOML file (see scenarios/)")
    p.add_argument("--outcome", required=True, help="outcome spec, e.g. migration:TRO:2050 (sensitivity/outcomes.py)")
    p.add_argument("--by", default="shock,input,region,year",
                   help=f"groupings, comma-separated, of {', '.join(GROUPINGS)} (default: all)")
    p.add_argument("--nodes", type=int, default=DEFAULT_NODES,
                   help=f"Gauss–Legendre points on the line (default {DEFAULT_NODES})")
    p.add_argument("--max-error", type=float, default=1e-6,
                   help="largest accepted relative quadrature error; above it the run warns and exits 4 "
                        "(default 1e-6)")
    p.add_argument("--regions", default=argparse.SUPPRESS, help="aggregate counties by a mapping CSV")
    p.add_argument("--out", required=True, help="output directory (decomposition_*.csv and .png)")
    p.add_argument("--top", type=int, default=15, help="bars in each figure (default 15)")
    p.add_argument("--tol", type=float, default=SolverOptions().tol, help="solver tolerance on max|residual|")
    p.set_defaults(func=cmd_decompose)
