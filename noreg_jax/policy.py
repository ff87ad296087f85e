"""Optimal allocation of an education policy through the equilibrium paths (docs/model.md "Policy optimisation").

A policy file (``policies/*.toml``) names

- the **instruments**: one shock template (a scenario file's shock fields) repeated ``per`` region, or per region
  and education group; the decision variable of instrument i is its shock value xᵢ ≥ 0 (e.g. % per year);
- the **bounds** 0 ≤ xᵢ ≤ ``upper`` (the instrument template's field): without them a linear budget and returns
  that compound (a growth rate kept for years) put everything in the smallest group at an absurd rate;
- the **budget**: Σᵢ cᵢ xᵢ = B, with cᵢ the cost of one unit of instrument i. ``cost = "workers"``: the employed
  persons of the instrument's group and region in its first year × its number of years / 100 (thousand), i.e.
  the workers reached by 1 %/yr (residents for drivers of people, jobs by workplace for drivers of production), to first order (compounding adds ≈ 5 % over 11 years); ``cost = "uniform"``: 1;
- the **objective**: Σₖ wₖ · outcomeₖ of the policy's path, maximised: named :mod:`sensitivity.outcomes` specs,
  or ``gdp_per_capita_dispersion:YEAR`` (coefficient of variation of the regions' mainland gross product per
  person); with ``[optimiser] robust_draws = N`` the mean of the objective over N parameter draws (the robust
  policy; scrambled Sobol' draws of ``sensitivity/data/uncertainty.csv``, ``seed``).

The feasible set is a capped simplex in the budget shares yᵢ = cᵢxᵢ/B (Σ y = 1, 0 ≤ yᵢ ≤ upper·cᵢ/B), and the
optimiser is projected gradient ascent on y with a backtracking step (:func:`projected_gradient`); every gradient
is one reverse-mode pass through the implicit-differentiated path. The budget's shadow price is
λ = ∂f/∂B at fixed shares = (∇ₓf · x)/B (the value of a proportional increase of every instrument; at an optimum
without binding bounds every instrument in use has ∂f/∂xᵢ / cᵢ = λ).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from noreg_jax.config_files import field_error, finite_number, read_toml
from noreg_jax.dynamics import PathModel, PathNotConverged, simulate
from noreg_jax.scenarios import (DRIVERS, Scenario, ScenarioError, apply_scenario, employed_persons,
                                 scenario_from_table, with_shock_values)
from noreg_jax.solver import SolverOptions

COSTS = ("workers", "uniform")
SAME_VALUE = "same value in every instrument"  # the first allocation compared, and the optimiser's start


DISPERSION = "gdp_per_capita_dispersion"  # an objective term besides the outcome specs


@dataclass(frozen=True)
class GdpPerCapitaDispersion:
    """Coefficient of variation across regions of mainland gross product per person in one year (an objective
    term ``gdp_per_capita_dispersion:YEAR``; give it a negative weight to reduce regional inequality)."""

    year_index: int

    def __call__(self, result, model: PathModel):
        sectors = model.economy.benchmark.sets.sectors
        mainland = jnp.asarray([c != "PETRO" for c in sectors], dtype=float)
        gp = jnp.sum(result.outcomes["gross_product"][self.year_index] * mainland, axis=1)
        per_person = gp / jnp.sum(result.outcomes["population"][self.year_index], axis=1)
        return jnp.std(per_person) / jnp.mean(per_person)


class PolicyError(ValueError):
    """A malformed policy file; the message names the file, the field and the value."""


def _err(path, field, value, why):
    return field_error(PolicyError, path, field, value, why)


# ---------------------------------------------------------------------------------------------
# the problem


@dataclass(frozen=True)
class Problem:
    """A parsed policy file: the instruments as one scenario (one shock each), costs, budget, objective."""

    name: str
    description: str
    scenario: Scenario  # one shock per instrument; its values are the decision variables
    labels: tuple  # instrument labels, e.g. ("TRO",) or ("TRO voc",)
    costs: np.ndarray  # (n,) cost of one unit of each instrument
    budget: float
    upper: float  # bound on every instrument's value
    outcomes: tuple  # sensitivity.outcomes.Outcome
    weights: tuple
    compare: tuple  # ((label, shares (n,)), ...): allocations reported beside the optimum
    iterations: int
    tolerance: float
    robust_draws: int = 0  # > 0: maximise the mean objective over this many parameter draws
    seed: int = 0

    def values(self, shares) -> np.ndarray:
        """Shock values x = B·y / c for budget shares y."""
        return self.budget * np.asarray(shares, dtype=float) / self.costs


#: Drivers that act on a region's residents (their cost counts employed residents); the others act on its
#: workplaces (labour productivity, TFP, …: their cost counts the jobs there).
RESIDENT_DRIVERS = ("population", "workers", "participation")


def _instrument_costs(model: PathModel, scenario: Scenario, rule: str) -> np.ndarray:
    if rule == "uniform":
        return np.ones(len(scenario.shocks))
    residents = np.asarray(employed_persons(model.drivers))  # (T, R, E) thousand, by residence
    b = model.economy.benchmark
    commuters = np.asarray(b.commuting_persons / b.labour_force[:, None, :])  # [r, w, e] per employed resident
    jobs = np.einsum("rwe,tre->twe", commuters, residents)  # by workplace (docs/model.md, Commuting)
    costs = []
    for shock in scenario.shocks:
        window = np.asarray(shock.window) > 0
        first = int(np.argmax(window))
        sel = np.asarray(shock.selection)
        # drivers of people count the region's residents; drivers of production its jobs
        employed = residents if shock.driver in RESIDENT_DRIVERS else jobs
        if DRIVERS[shock.driver][1] == "sector":  # workers of every group in the selected regions
            workers = float((employed[first] * sel.any(axis=1)[:, None]).sum())
        else:
            workers = float((employed[first] * sel).sum())
        costs.append(workers * window.sum() / 100.0)
    return np.asarray(costs)


def parse_policy(path: Path | str, model: PathModel, text: str | None = None) -> Problem:
    """Read and validate a policy file against the model (see the module docstring for the fields)."""
    from sensitivity.outcomes import OutcomeError, parse_outcome

    path = Path(path)
    data = read_toml(PolicyError, path, text)
    known = {"name", "description", "instrument", "budget", "objective", "compare", "optimiser"}
    for key in data:
        if key not in known:
            raise _err(path, key, data[key], f"is not a policy field; expected one of {sorted(known)}")
    for key in ("instrument", "budget", "objective"):
        if key not in data:
            raise _err(path, key, None, "is required")
    s = model.economy.benchmark.sets
    raw = data["instrument"]
    if not isinstance(raw, dict):
        raise _err(path, "instrument", raw, "must be a table")
    raw = dict(raw)
    per = raw.pop("per", ["region"])
    upper = finite_number(PolicyError, path, "instrument.upper", raw.pop("upper", None), positive=True)
    if per not in (["region"], ["region", "education"], ["region", "sector"]):
        raise _err(path, "instrument.per", per, 'must be ["region"], ["region", "education"] or ["region", "sector"]')
    driver = raw.get("driver")
    second_dim = DRIVERS.get(driver, (None, None))[1]
    if len(per) == 2 and per[1] != second_dim:
        raise _err(path, "instrument.per", per, f"driver {driver!r} is by {second_dim}, not {per[1]}")
    regions = raw.pop("region", list(s.regions))
    regions = [regions] if isinstance(regions, str) else regions
    if not isinstance(regions, list) or not regions:
        raise _err(path, "instrument.region", regions, "must be a region code or a non-empty list of codes")
    second_key = second_dim if second_dim == "sector" else "education"
    seconds = raw.get(second_key)
    labels, shocks = [], []
    if len(per) == 2:
        raw.pop(second_key, None)
        all_codes = s.sectors if second_key == "sector" else s.education
        seconds = [seconds] if isinstance(seconds, str) else (seconds if seconds is not None else list(all_codes))
        for r in regions:
            for c in seconds:
                labels.append(f"{r} {c}")
                shocks.append({**raw, "region": r, second_key: c, "value": 0.0})
    else:
        for r in regions:
            labels.append(str(r))
            shocks.append({**raw, "region": r, "value": 0.0})
    try:
        scenario = scenario_from_table(path, {"name": data.get("name", path.stem), "description": data.get("description", ""),
                                    "shocks": shocks}, model, path.stem, "instrument.")
    except ScenarioError as exc:  # the n-th copy of the template: report the template's field
        raise PolicyError(re.sub(r"instrument\.shocks\[\d+\]\.", "instrument.", str(exc))) from None
    budget = data["budget"]
    if not isinstance(budget, dict):
        raise _err(path, "budget", budget, "must be a table")
    for key in budget:
        if key not in ("total", "cost"):
            raise _err(path, f"budget.{key}", budget[key], "is not a budget field; expected total, cost")
    total = finite_number(PolicyError, path, "budget.total", budget.get("total"), positive=True)
    rule = budget.get("cost", "workers")
    if rule not in COSTS:
        raise _err(path, "budget.cost", rule, f"must be one of {', '.join(COSTS)}")
    costs = _instrument_costs(model, scenario, rule)
    if not (costs > 0).all():
        bad = [lab for lab, c in zip(labels, costs) if not c > 0]
        raise _err(path, "budget.cost", rule, f"gives no positive cost for instrument(s) {', '.join(bad)}")
    objective = data["objective"]
    if not isinstance(objective, list) or not objective:
        raise _err(path, "objective", objective, "must be a non-empty array of tables ([[objective]])")
    outcomes, weights = [], []
    for n, term in enumerate(objective):
        where = f"objective[{n}]"
        if not isinstance(term, dict) or set(term) - {"outcome", "weight"} or "outcome" not in term:
            raise _err(path, where, term, "must be a table with 'outcome' and an optional 'weight'")
        if str(term["outcome"]).startswith(DISPERSION + ":"):
            year = str(term["outcome"]).split(":", 1)[1]
            years = model.drivers.years
            if not year.isdigit() or int(year) not in years:
                raise _err(path, f"{where}.outcome", term["outcome"], f"needs a year in {years[0]}–{years[-1]}, "
                           f"e.g. {DISPERSION}:2050")
            outcomes.append(GdpPerCapitaDispersion(years.index(int(year))))
            weights.append(finite_number(PolicyError, path, f"{where}.weight", term.get("weight", 1.0)))
            continue
        try:
            outcomes.append(parse_outcome(str(term["outcome"]), model))
        except OutcomeError as exc:
            raise _err(path, f"{where}.outcome", term["outcome"], f"is not an outcome of this model ({exc})") from None
        weights.append(finite_number(PolicyError, path, f"{where}.weight", term.get("weight", 1.0)))
    if upper * costs.sum() < total:
        raise _err(path, "instrument.upper", upper, f"is too low: every instrument at it costs {upper * costs.sum():.4g}, "
                   f"less than the budget {total:g}")
    compare = [(SAME_VALUE, costs / costs.sum())]
    raw_compare = data.get("compare", {})
    if not isinstance(raw_compare, dict):
        raise _err(path, "compare", raw_compare, "must be a table of named allocations (label = [instrument, ...])")
    for label, chosen in raw_compare.items():
        chosen = [chosen] if isinstance(chosen, str) else chosen
        if not isinstance(chosen, list) or not chosen or any(c not in labels for c in chosen):
            raise _err(path, f"compare.{label}", chosen, f"must list instruments among {', '.join(labels)}")
        listed = np.array([lab in chosen for lab in labels])
        value = total / (costs * listed).sum()  # the same value in each listed instrument
        if value > upper:
            raise _err(path, f"compare.{label}", chosen, f"needs the value {value:.4g} in each, above "
                       f"instrument.upper = {upper:g}")
        compare.append((label, costs * listed / (costs * listed).sum()))
    opt = data.get("optimiser", {})
    if not isinstance(opt, dict) or set(opt) - {"iterations", "tolerance", "robust_draws", "seed"}:
        raise _err(path, "optimiser", opt, "must be a table of iterations, tolerance, robust_draws, seed")
    robust = opt.get("robust_draws", 0)
    if isinstance(robust, bool) or not isinstance(robust, int) or robust < 0 or robust == 1:
        raise _err(path, "optimiser.robust_draws", robust, "must be 0 (none) or a whole number of draws >= 2")
    seed = opt.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise _err(path, "optimiser.seed", seed, "must be a whole number")
    iterations = opt.get("iterations", 25)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise _err(path, "optimiser.iterations", iterations, "must be a positive integer")
    tolerance = finite_number(PolicyError, path, "optimiser.tolerance", opt.get("tolerance", 1e-4), positive=True)
    return Problem(scenario.name, scenario.description, scenario, tuple(labels), costs, total, upper, tuple(outcomes),
                   tuple(weights), tuple(compare), iterations, tolerance, robust, seed)


# ---------------------------------------------------------------------------------------------
# the objective through the path, and the optimiser


def _objective_and_gradient(values, model: PathModel, scenario: Scenario, outcomes: tuple, weights: tuple,
                            options: SolverOptions = SolverOptions()):
    """(f(x), ∇ₓf, converged) for shock values x: f = Σ wₖ outcomeₖ of the policy's path."""
    def f(x):
        m = apply_scenario(model, with_shock_values(scenario, x))
        result = simulate(m, options)
        return sum(w * o(result, m) for w, o in zip(weights, outcomes)), jnp.all(result.converged)

    (value, converged), grad = jax.value_and_grad(f, has_aux=True)(values)
    return value, grad, converged


objective_and_gradient = jax.jit(_objective_and_gradient, static_argnames=("outcomes", "weights", "options"))


@partial(jax.jit, static_argnames=("outcomes", "weights", "options"))
def expected_objective_and_gradient(values, models: PathModel, scenario: Scenario, outcomes: tuple, weights: tuple,
                                    options: SolverOptions = SolverOptions()):
    """The mean over a stacked batch of path models (parameter draws) of :func:`objective_and_gradient`:
    (mean f, mean ∇ₓf, every path converged); the draws are solved one after the other (``lax.map``)."""
    def one(model):
        return _objective_and_gradient(values, model, scenario, outcomes, weights, options)

    value, grad, converged = jax.lax.map(one, models)
    return jnp.mean(value), jnp.mean(grad, axis=0), jnp.all(converged)


def project_simplex(v, cap=None) -> np.ndarray:
    """The Euclidean projection of v onto {0 ≤ y ≤ cap, Σ y = 1} (cap = ∞ without caps; Σ cap ≥ 1 assumed):
    y = clip(v − τ, 0, cap) with τ found by bisection (Σ is monotone in τ)."""
    v = np.asarray(v, dtype=float)
    cap = np.full_like(v, np.inf) if cap is None else np.asarray(cap, dtype=float)
    lo, hi = float(v.min() - 1.0), float(v.max())
    for _ in range(200):
        tau = 0.5 * (lo + hi)
        if np.clip(v - tau, 0.0, cap).sum() > 1.0:
            lo = tau
        else:
            hi = tau
    y = np.clip(v - 0.5 * (lo + hi), 0.0, cap)
    return y / y.sum()


@dataclass
class Optimum:
    shares: np.ndarray
    value: float
    gradient: np.ndarray  # ∂f/∂y at the optimum
    history: list  # one dict per iteration
    converged: bool


def projected_gradient(value_and_grad, y0, iterations: int = 25, tolerance: float = 1e-4,
                       first_step: float = 0.25, progress=None, cap=None) -> Optimum:
    """Maximise f over the simplex {0 ≤ y ≤ cap, Σ y = 1} from y0 by projected gradient ascent with backtracking.

    ``value_and_grad(y) -> (f, ∂f/∂y, ok)``; a point where ``ok`` is false (a path that did not converge) is
    rejected like a point that does not improve f. The trial step t is sized so that the largest share moves
    by at most ``first_step`` on the first try (then by the last accepted length, doubled), halved up to 12
    times until f rises by the Armijo condition; stops when the accepted move is below ``tolerance`` (max
    share change) or after ``iterations``. The history records f, the move, the step and the trials."""
    y = project_simplex(y0, cap)
    f, g, ok = value_and_grad(y)
    if not ok:
        raise PathNotConverged("the path of the starting allocation (the same value in every instrument) did not "
                               "converge")
    history, reach, converged = [], first_step, False
    for it in range(iterations):
        direction = project_simplex(y + g / max(np.abs(g).max(), 1e-300), cap) - y  # a feasible ascent direction
        size = np.abs(direction).max()
        if size < tolerance:
            converged = True
            break
        t, trials, accepted = min(1.0, 2.0 * reach / size), 0, False
        while trials < 12:
            trials += 1
            trial = project_simplex(y + t * direction, cap)
            f_new, g_new, ok_new = value_and_grad(trial)
            if ok_new and np.isfinite(f_new) and f_new >= f + 1e-4 * t * float(g @ direction):
                accepted = True
                break
            t *= 0.5
        move = np.abs(trial - y).max() if accepted else 0.0
        history.append({"iteration": it + 1, "objective": float(f_new if accepted else f), "move": float(move),
                        "step": float(t), "trials": trials})
        if progress is not None:
            progress(history[-1])
        if not accepted:  # no step length improves f: reported as not converged
            break
        y, f, g, reach = trial, float(f_new), np.asarray(g_new), max(move, 1e-6)
        if move < tolerance:
            converged = True
            break
    return Optimum(y, float(f), np.asarray(g), history, converged)


def optimise(model: PathModel, problem: Problem, options: SolverOptions = SolverOptions(), progress=None):
    """Optimise the allocation of the budget. Returns (Optimum, table of the optimum and the compared
    allocations, shadow price of the budget)."""
    import pandas as pd

    costs = jnp.asarray(problem.costs)
    if problem.robust_draws:
        from noreg_jax.runs import parameter_draws
        from noreg_jax.scenarios import stack
        from sensitivity.uncertainty import load_uncertainty

        u = load_uncertainty()
        masks = u.masks(model)
        models = stack([u.apply(model, d, masks) for d in parameter_draws(problem.robust_draws, u, problem.seed)])
        evaluate = lambda x: expected_objective_and_gradient(x, models, problem.scenario, problem.outcomes,
                                                             problem.weights, options)
    else:
        evaluate = lambda x: objective_and_gradient(x, model, problem.scenario, problem.outcomes, problem.weights,
                                                    options)

    def in_shares(y):
        value, grad_x, ok = evaluate(problem.budget * jnp.asarray(y) / costs)
        return float(value), np.asarray(grad_x) * problem.budget / problem.costs, bool(ok)

    start = problem.compare[0][1]
    cap = problem.upper * problem.costs / problem.budget  # x ≤ upper in shares
    best = projected_gradient(in_shares, start, problem.iterations, problem.tolerance, progress=progress, cap=cap)
    zero, _, zero_ok = evaluate(jnp.zeros(len(problem.labels)))
    if not zero_ok:
        raise PathNotConverged("the reference path (every instrument at 0) did not converge")
    rows = []
    for label, shares in (("optimum", best.shares), *problem.compare):
        value = best.value if label == "optimum" else in_shares(shares)[0]
        rows.append({"allocation": label, "objective": value, "effect": value - float(zero),
                     **{lab: float(s) for lab, s in zip(problem.labels, shares)}})
    table = pd.DataFrame(rows)
    # λ = ∂f/∂B at fixed shares = Σ ∂f/∂xᵢ · xᵢ / B = Σ (∂f/∂yᵢ) yᵢ / B
    shadow = float(best.gradient @ best.shares / problem.budget)
    return best, table, shadow


def format_result(problem: Problem, best: Optimum, table, shadow: float) -> str:
    robust = f", mean over {problem.robust_draws} parameter draws" if problem.robust_draws else ""
    lines = [f"policy {problem.name}: {len(problem.labels)} instruments, budget {problem.budget:g}{robust}, "
             f"{'converged' if best.converged else 'NOT converged'} after {len(best.history)} iteration(s)"]
    shown = table.set_index("allocation")
    uniform = shown["effect"].loc[SAME_VALUE]
    for label, row in shown.iterrows():
        extra = "" if label == SAME_VALUE else f" ({row['effect'] - uniform:+.4g} vs the same value everywhere)"
        top = sorted(((row[lab], lab) for lab in problem.labels), reverse=True)[:4]
        lines.append(f"  {label:32s} objective effect {row['effect']:+.6g}{extra}; largest shares: "
                     + ", ".join(f"{lab} {s:.0%}" for s, lab in top if s > 0.005))
    lines.append(f"  (effect: objective minus its value with every instrument at 0, the reference path)")
    lines.append(f"  shadow price of the budget: {shadow:.4g} objective units per budget unit")
    return "\n".join(lines)


def cmd_optimise(args) -> int:
    import pandas as pd

    from noreg_jax.cli import model_from_args
    from noreg_jax.output_files import output_directory, write_table

    model = model_from_args(args)
    problem = parse_policy(args.config, model)
    out = output_directory(args.out)
    print(f"optimising {problem.name}: {len(problem.labels)} instruments, at most {problem.iterations} iterations "
          "(each a gradient through the whole path) ...", flush=True)
    best, table, shadow = optimise(model, problem, SolverOptions(tol=args.tol), progress=lambda h: print(
        f"  iteration {h['iteration']}: objective {h['objective']:.8g}, move {h['move']:.3g}, "
        f"{h['trials']} trial(s)", flush=True))
    write_table(table, out / "allocations.csv", digits=8)
    write_table(pd.DataFrame(best.history), out / "history.csv", digits=8)
    print(format_result(problem, best, table, shadow))
    print(f"results: {out / 'allocations.csv'}, {out / 'history.csv'}")
    return 0 if best.converged else 4


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("optimise", help="the allocation of an education budget that maximises an objective "
                                               "(projected gradient through the equilibrium paths)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="policy TOML file (see policies/)")
    p.add_argument("--out", default="results/optimise", help="output directory (allocations.csv, history.csv)")
    p.add_argument("--tol", type=float, default=SolverOptions().tol, help="solver tolerance on max|residual|")
    p.set_defaults(func=cmd_optimise)

