"""Exact gradients of a scalar outcome of the 2018–2050 path with respect to every elasticity-type
parameter and every shock size (README "Sensitivity and estimation"), by implicit differentiation through every year.

The differentiated parameters form one pytree (a dict, :func:`elasticity_parameters`):

    sigma_top, sigma_kle, sigma_kl, sigma_labour,     (J,)  production nests, by sector
    sigma_nontertiary, sigma_tertiary,                      (labour nest: σT, σN, σH)
    sigma_energy, sigma_materials
    sigma_armington, sigma_domestic, eta_export,
    export_demand_elasticity                          (J,)  trade, by good
    income_elasticity                                 (J,)  households (LES), by good
    frisch                                            ()    households (LES)
    migration_beta                                    (E,)  migration β_e, by education group
    investment_elasticity, depreciation               ()    capital accumulation
    shock_value                                       tuple of (n_shocks,), one per scenario: Shock.value

:func:`path_gradients` returns d outcome / d θ for every scalar entry θ of that pytree in one reverse-mode
pass, and the elasticity d log outcome / d log θ = (d outcome / d θ)·θ / outcome. Where θ = 0 (σ_materials
and σ_kl of WATER are 0, Leontief, by default) the elasticity is undefined: the derivative is reported and the
elasticity is NaN. With a scenario the outcome is the scenario effect (scenario path minus reference path,
both computed inside the differentiated function from the same θ), and the scenario's shock sizes are among
the parameters.

How it is computed: the paths are a function of θ only (:func:`paths`: the reference path and, batched
with ``lax.map``, each scenario's path); the outcome is a cheap function of their results. The jitted
pieces (:func:`forward`, :func:`path_vjp`, :func:`path_jvp`) take the outcome's cotangent (or the parameter
tangents) as data, so they compile once per model and scenario structure, whatever the outcome.
A gradient is one forward pass (to find the outcome's cotangent) and one forward-and-reverse pass.
"""

from __future__ import annotations

import argparse
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax import lax

from noreg_jax.dynamics import PathModel, PathResult, simulate
from noreg_jax.parameters import PRODUCTION_ELASTICITIES, TRADE_ELASTICITIES
from noreg_jax.scenarios import Scenario, apply_scenario, parse_scenario, stack, with_shock_values
from noreg_jax.output_files import output_directory, write_table
from noreg_jax.solver import SolverOptions
from sensitivity.outcomes import Outcome, parse_outcome

# name -> (where it lives, the dimension that labels its entries)
SECTOR_PARAMETERS = PRODUCTION_ELASTICITIES + TRADE_ELASTICITIES + ("income_elasticity",)
PARAMETERS = {
    **{name: ("economy", "sector") for name in SECTOR_PARAMETERS},
    "frisch": ("economy", None),
    "migration_beta": ("dynamics", "education"),
    "investment_elasticity": ("dynamics", None),
    "depreciation": ("dynamics", None),
}
SHOCK_VALUE = "shock_value"
COLUMNS = ["parameter", "label", "value", "derivative", "elasticity"]


# ---------------------------------------------------------------------------------------------
# the parameter pytree and the paths as a function of it


def elasticity_parameters(model: PathModel, scenarios=()) -> dict:
    """The differentiated parameters of ``model`` (and the shock sizes of ``scenarios``) as a dict pytree."""
    p, d = model.economy.params, model.dynamics
    theta = {name: jnp.asarray(getattr(p if where == "economy" else d, name)) for name, (where, _) in
             PARAMETERS.items()}
    if scenarios:
        theta[SHOCK_VALUE] = tuple(shock_values(sc) for sc in scenarios)
    return theta


def shock_values(scenario: Scenario) -> jnp.ndarray:
    """The sizes of a scenario's shocks, (n_shocks,)."""
    if not scenario.shocks:
        return jnp.zeros(0)
    return jnp.stack([jnp.asarray(sh.value, dtype=float) for sh in scenario.shocks])


def with_parameters(model: PathModel, theta: dict) -> PathModel:
    """The model with the entries of ``theta`` (any subset of :data:`PARAMETERS`) in place of its own."""
    economy = [n for n in theta if n in PARAMETERS and PARAMETERS[n][0] == "economy"]
    dynamics = [n for n in theta if n in PARAMETERS and PARAMETERS[n][0] == "dynamics"]
    if economy:
        model = eqx.tree_at(lambda m: tuple(getattr(m.economy.params, n) for n in economy), model,
                            tuple(jnp.asarray(theta[n], dtype=float) for n in economy))
    if dynamics:
        model = eqx.tree_at(lambda m: tuple(getattr(m.dynamics, n) for n in dynamics), model,
                            tuple(jnp.asarray(theta[n], dtype=float) for n in dynamics))
    return model


def paths(theta: dict, model: PathModel, scenarios=(), options: SolverOptions = SolverOptions()) -> PathResult:
    """The reference path of ``model`` with parameters ``theta`` and, with scenarios, every scenario's path.

    Without scenarios: one :class:`PathResult`. With scenarios: a batched PathResult, index 0 the reference
    path and k the k-th scenario, solved one after the other by ``lax.map`` (``vmap`` is far slower on the CPU:
    see :mod:`sensitivity.sweep`). The scenarios' shock sizes are ``theta["shock_value"]``.
    """
    base = with_parameters(model, theta)
    run = partial(simulate, options=options)
    if not scenarios:
        return run(base)
    values = theta.get(SHOCK_VALUE, tuple(shock_values(sc) for sc in scenarios))
    models = [base] + [apply_scenario(base, with_shock_values(sc, v)) for sc, v in zip(scenarios, values)]
    return lax.map(run, stack(models))


def _observed(result: PathResult):
    """The differentiable part of a path result: (outcomes dict, migration flows)."""
    return result.outcomes, result.migration


def _status(result: PathResult):
    return result.converged, result.max_residual


@partial(jax.jit, static_argnames="options")
def forward(theta, model, scenarios=(), options: SolverOptions = SolverOptions()):
    """Jitted :func:`paths`: ((outcomes, migration), (converged, max_residual))."""
    result = paths(theta, model, scenarios, options)
    return _observed(result), _status(result)


@partial(jax.jit, static_argnames="options")
def path_vjp(theta, model, scenarios, cotangent, options: SolverOptions = SolverOptions()):
    """Reverse mode: (observed, status, cotangent·d observed / d θ) for a cotangent of (outcomes, migration)."""
    observed, pullback, status = jax.vjp(lambda th: (lambda r: (_observed(r), _status(r)))(
        paths(th, model, scenarios, options)), theta, has_aux=True)
    return observed, status, pullback(cotangent)[0]


@partial(jax.jit, static_argnames="options")
def path_jvp(theta, tangents, model, scenarios=(), options: SolverOptions = SolverOptions()):
    """Forward mode for a batch of tangents of θ (leading axis k): (observed, status, d observed / d θ · t_k)."""
    def f(th):
        r = paths(th, model, scenarios, options)
        return _observed(r), _status(r)

    def one(t):
        return jax.jvp(f, (theta,), (t,), has_aux=True)

    observed, directional, status = jax.vmap(one, out_axes=(None, 0, None))(tangents)
    return observed, status, directional


def require_converged(status, years, what: str = "path") -> None:
    """Raise :class:`noreg_jax.dynamics.PathNotConverged` naming the failed years (batched or not)."""
    from noreg_jax.dynamics import PathNotConverged

    converged, max_residual = (np.asarray(a) for a in status)
    converged = converged.reshape(-1, len(years))
    max_residual = max_residual.reshape(-1, len(years))
    for k, row in enumerate(converged):
        if not row.all():
            bad = [int(y) for y, c in zip(years, row) if not c]
            name = what if converged.shape[0] == 1 else ("reference path" if k == 0 else f"scenario path {k}")
            raise PathNotConverged(f"the {name} did not converge in year(s) {bad} (max |residual| "
                                   f"{max_residual[k][~row].max():.3g}); its derivatives are not meaningful")


# ---------------------------------------------------------------------------------------------
# outcomes of (batched) results


def result_of(observed, index: int | None = None) -> PathResult:
    """A PathResult view of ``observed`` (the ``index``-th path of a batch), enough for :class:`Outcome`."""
    outcomes, migration = observed
    if index is not None:
        outcomes = {k: v[index] for k, v in outcomes.items()}
        migration = migration[index]
    return PathResult(outcomes, migration, None, None, None, None, None)


def outcome_value(outcome: Outcome, observed, model: PathModel, scenario_index: int | None = None):
    """The outcome of the reference path, or (``scenario_index`` k ≥ 1) the scenario-k effect."""
    if scenario_index is None:
        return outcome(result_of(observed), model)
    return outcome(result_of(observed, scenario_index), model) - outcome(result_of(observed, 0), model)


# ---------------------------------------------------------------------------------------------
# labels


def parameter_labels(model: PathModel, scenarios=()) -> dict:
    """Label of every scalar entry of :func:`elasticity_parameters`: name -> list of labels (flattened order)."""
    s = model.economy.benchmark.sets
    dims = {"sector": list(s.sectors), "education": list(s.education), None: [""]}
    labels = {name: dims[dim] for name, (_, dim) in PARAMETERS.items()}
    if scenarios:
        labels[SHOCK_VALUE] = [shock_label(model, sc, k) for sc in scenarios for k in range(len(sc.shocks))]
    return labels


def shock_label(model: PathModel, scenario: Scenario, k: int) -> str:
    """E.g. ``trondelag_vocational[0] workers TRO voc 2025-2035 growth``."""
    from noreg_jax.scenarios import DRIVERS

    s = model.economy.benchmark.sets
    sh = scenario.shocks[k]
    sel = np.asarray(sh.selection) > 0
    second = list(s.sectors) if DRIVERS[sh.driver][1] == "sector" else list(s.education)
    regions = [c for c, on in zip(s.regions, sel.any(axis=1)) if on]
    others = [c for c, on in zip(second, sel.any(axis=0)) if on]
    years = [y for y, w in zip(model.drivers.years, np.asarray(sh.window)) if w > 0]
    where = lambda codes, all_codes: "ALL" if len(codes) == len(all_codes) else "+".join(codes)
    span = f"{years[0]}-{years[-1]}" if years else "no years"
    return (f"{scenario.name}[{k}] {sh.driver} {where(regions, s.regions)} {where(others, second)} {span} "
            f"{sh.mode}")


def _flatten(theta: dict, labels: dict):
    rows = []
    for name in list(PARAMETERS) + ([SHOCK_VALUE] if SHOCK_VALUE in theta else []):
        value = theta[name]
        flat = np.concatenate([np.ravel(np.asarray(v)) for v in value]) if name == SHOCK_VALUE \
            else np.ravel(np.asarray(value))
        names = labels[name] if len(labels[name]) == flat.size else [""] * flat.size
        rows.extend((name, lab, float(v)) for lab, v in zip(names, flat))
    return rows


def gradient_table(theta: dict, grads: dict, labels: dict, outcome: float) -> pd.DataFrame:
    """One row per scalar parameter: value, derivative and elasticity; sorted by |elasticity|, NaN last."""
    values = _flatten(theta, labels)
    derivs = _flatten(grads, labels)
    df = pd.DataFrame([(n, lab, v, d) for (n, lab, v), (_, _, d) in zip(values, derivs)],
                      columns=COLUMNS[:4])
    defined = (df["value"] != 0.0) & (outcome != 0.0) & np.isfinite(outcome)
    df["elasticity"] = np.where(defined, df["derivative"] * df["value"] / (outcome if outcome != 0 else 1.0),
                                np.nan)
    df = df.sort_values("elasticity", key=np.abs, ascending=False, na_position="last", kind="stable")
    return df.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# the user-facing function


def path_gradients(model: PathModel, outcome_spec: str, scenario=None,
                   options: SolverOptions = SolverOptions()) -> pd.DataFrame:
    """d outcome / d θ and d log outcome / d log θ for every elasticity-type parameter θ (and shock size).

    ``outcome_spec``: a :mod:`sensitivity.outcomes` spec, e.g. ``"population:TRO:2050"``. ``scenario``: a
    :class:`Scenario` or the path of a scenario TOML file; then the outcome is the scenario effect (scenario
    path minus reference path) and the scenario's shock sizes are differentiated too.
    Returns a DataFrame with columns parameter, label (sector code, education group, shock, or "" for a
    scalar), value, derivative, elasticity, sorted by |elasticity| (NaN last: parameter or outcome 0);
    ``df.attrs`` holds the outcome spec and value. Raises PathNotConverged if a year of a path fails.
    """
    if scenario is not None and not isinstance(scenario, Scenario):
        scenario = parse_scenario(scenario, model)
    scenarios = (scenario,) if scenario is not None else ()
    outcome = parse_outcome(outcome_spec, model)
    theta = elasticity_parameters(model, scenarios)
    index = 1 if scenarios else None
    observed, status = forward(theta, model, scenarios, options=options)
    require_converged(status, model.drivers.years)
    value, cotangent = jax.value_and_grad(lambda o: outcome_value(outcome, o, model, index))(observed)
    _, status, grads = path_vjp(theta, model, scenarios, cotangent, options=options)
    require_converged(status, model.drivers.years)
    df = gradient_table(theta, grads, parameter_labels(model, scenarios), float(value))
    df.attrs.update({"outcome": outcome_spec, "outcome_value": float(value),
                     "scenario": scenario.name if scenario is not None else "",
                     "kind": "scenario effect" if scenarios else "reference path"})
    return df


# ---------------------------------------------------------------------------------------------
# edges: figure and command line


def plot_gradients(df: pd.DataFrame, path=None, top: int = 20, ax=None):
    """Horizontal bars of the ``top`` largest |elasticities| (parameter[label]); saved to ``path`` if given."""
    import matplotlib.pyplot as plt

    from noreg_jax import plotting

    rows = df.dropna(subset=["elasticity"]).head(top).iloc[::-1]
    names = [f"{p}[{lab}]" if lab else p for p, lab in zip(rows["parameter"], rows["label"])]
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, max(2.5, 0.3 * len(rows) + 1.2)), layout="constrained")
    values = rows["elasticity"].to_numpy(dtype=float)
    ax.barh(names, values, color=[plotting.NEGATIVE_COLOUR if v < 0 else plotting.BAR_COLOUR for v in values])
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.grid(axis="x", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_xlabel("elasticity d log outcome / d log parameter")
    what = df.attrs.get("outcome", "outcome")
    if df.attrs.get("scenario"):
        what = f"{df.attrs['scenario']} effect on {what}"
    ax.set_title(f"Largest elasticities of {what}", fontsize=10)
    if path is not None:
        plotting.save(ax, path)
    return ax


def format_top(df: pd.DataFrame, n: int = 10) -> str:
    """The ``n`` largest elasticities as a text table."""
    head = df.head(n)
    return head.to_string(index=False, formatters={"value": "{:.4g}".format, "derivative": "{:.4g}".format,
                                                   "elasticity": "{:.4g}".format})


def cmd_gradients(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from noreg_jax.cli import model_from_args

    model = model_from_args(args)
    out = output_directory(args.out)  # checked before the paths are differentiated
    options = SolverOptions(tol=args.tol)
    print(f"differentiating {args.outcome}" + (f" (effect of {args.scenario})" if args.scenario else "")
          + f" with respect to every elasticity{' and shock size' if args.scenario else ''} ...", flush=True)
    df = path_gradients(model, args.outcome, args.scenario, options)
    write_table(df, out / "gradients.csv", zero_below=None)
    plot_gradients(df, out / "gradients.png", top=args.top)
    print(f"{df.attrs['kind']} {args.outcome} = {df.attrs['outcome_value']:.6g}")
    print(f"top 10 of {len(df)} parameters by |elasticity|:")
    print(format_top(df, 10))
    print(f"results: {out / 'gradients.csv'}, {out / 'gradients.png'}")
    return 0


def register_cli(sensitivity_subparsers) -> None:
    """Add ``gradients`` to the sub-commands of ``noreg sensitivity`` (the sub-parsers object given)."""
    p = sensitivity_subparsers.add_parser(
        "gradients", help="exact gradients and elasticities of one path outcome w.r.t. every elasticity",
        description=__doc__.split("\n\n")[0])
    p.add_argument("--outcome", required=True, help="outcome spec, e.g. population:TRO:2050 (sensitivity/outcomes.py)")
    p.add_argument("--scenario", default=None, help="scenario TOML file: differentiate its effect instead")
    # SUPPRESS: a --regions given before the sub-command (noreg --regions X ...) is kept when this one is absent
    p.add_argument("--regions", default=argparse.SUPPRESS, help="aggregate counties by a mapping CSV")
    p.add_argument("--out", required=True, help="output directory (gradients.csv, gradients.png)")
    p.add_argument("--top", type=int, default=20, help="bars in the figure (default 20)")
    p.add_argument("--tol", type=float, default=SolverOptions().tol, help="solver tolerance on max|residual|")
    p.set_defaults(func=cmd_gradients)

