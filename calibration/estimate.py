"""Parameter estimation through the equilibrium path (README "Sensitivity and estimation"): fit elasticities (e.g.
migration β_e,
σ_labour) so that named path outcomes or scenario effects match observed values, by gradient-based
optimisation through the implicitly differentiated paths; uncertainty by the Laplace approximation.

The problem. Parameters θ_i (any entry of :data:`sensitivity.gradients.PARAMETERS`, one by index or all sectors
tied) are optimised in a transformed space z_i = T(θ_i) (``log`` for positive parameters, ``none``), within
bounds. Each target k is an outcome spec of :mod:`sensitivity.outcomes` (optionally divided by a second one,
``per``), measured as a level of the reference path, or as the effect of a scenario (scenario minus reference)
in units or in percent, with an observed value y_k and a standard deviation s_k (``fit = false``: computed and
reported beside the fit, but not in the objective: a check). The objective is

    S(z) = ½ Σ_k r_k²,   r_k = (m_k(θ(z)) − y_k) / s_k,

i.e. minus the log-likelihood of independent normal measurement errors (a flat prior in z).

The optimisers: ``gauss_newton`` (Levenberg–Marquardt on r: steps −(JᵀJ + λ·diag JᵀJ)⁻¹ Jᵀr, λ adapted),
``adam`` and ``lbfgs`` (optax; L-BFGS with a backtracking line search on S). J = dr/dz comes from one forward-mode
pass through every path (:func:`sensitivity.gradients.path_jvp`: implicit differentiation year by year), so a
step costs one path Jacobian, whatever the number of targets. Trial points are evaluated by the same pass, so an
accepted trial brings its own Jacobian (no second evaluation at the new point) and a problem compiles one program
(on two regions: one 60-70 s compilation instead of two).

Uncertainty: at the optimum ẑ the Gauss–Newton curvature gives cov(z) = (JᵀJ)⁻¹ (weights already in r); the
standard errors of θ follow by the delta method (se_θ = |dθ/dz|·se_z), intervals and draws from N(ẑ, cov(z))
mapped back through T⁻¹ (log-normal for ``log``). :func:`to_inference_data` hands the draws to arviz.

Outcome specs may name counties (e.g. ``employment:OSL:VIK:2050``): on an aggregated model a set of counties
that make up whole model regions is translated to those regions (OSL + VIK -> OSVI in ``trondelag_rest.csv``),
and the translation is recorded; counties that split a region are an error.

Configuration: a TOML file, see ``calibration/configs/*.toml`` and :func:`load_config`.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from noreg_jax.config_files import field_error, finite_number, read_toml
from noreg_jax.dynamics import PathModel
from noreg_jax.output_files import atomic_output, output_directory, save_figure, write_table
from noreg_jax.solver import SolverOptions
from sensitivity import gradients as G
from sensitivity.outcomes import OutcomeError, parse_outcome, translate_counties

TRANSFORMS = ("log", "none")
METHODS = ("gauss_newton", "adam", "lbfgs")
MEASURES = ("level", "effect", "percent_effect")
CONFIG_DIR = Path(__file__).parent / "configs"


class EstimationError(ValueError):
    """A malformed estimation config; the message names the file, the field and the value."""


def _err(path, field_name, value, why) -> EstimationError:
    return field_error(EstimationError, path, field_name, value, why)


# ---------------------------------------------------------------------------------------------
# the configuration (file level)


@dataclass(frozen=True)
class ParameterSpec:
    """One estimated parameter: ``field`` (a name of PARAMETERS) and ``code`` (sector/education, None: tied)."""

    name: str  # as written: "migration_beta.low", "sigma_labour"
    field: str
    code: str | None
    lower: float
    upper: float
    transform: str
    initial: float | None  # None: the model's value


@dataclass(frozen=True)
class TargetSpec:
    """One target moment: outcome (÷ per) of the reference path or a scenario effect; observed value and sd."""

    name: str
    outcome: str
    per: str | None
    scenario: Path | None
    measure: str
    observed: float | None  # None: simulated (synthetic configs)
    sd: float | None
    relative_sd: float | None  # sd = relative_sd · |observed| when sd is not given
    fit: bool = True  # False: computed and reported with the fit, but not in the objective (a check)


@dataclass(frozen=True)
class OptimiserSpec:
    method: str = "gauss_newton"
    max_iter: int = 20
    tolerance: float = 1e-6  # on the relative decrease of the objective and on the step in z
    learning_rate: float = 0.05  # adam
    max_step: float = 1.0  # largest change of one z_i in one iteration (log units for ``log``: a factor e)
    draws: int = 2000  # from the Laplace approximation (0: none)
    seed: int = 0


@dataclass(frozen=True)
class SyntheticSpec:
    """Parameter recovery: observed values are simulated at ``truth`` (+ normal noise with the targets' sd)."""

    truth: dict
    seed: int = 0
    noise: bool = True


@dataclass(frozen=True)
class EstimationConfig:
    path: Path
    name: str
    description: str
    regions: str | None  # default aggregation (a mapping file), None: the 11 counties
    parameters: tuple
    targets: tuple
    optimiser: OptimiserSpec
    synthetic: SyntheticSpec | None
    solver_tol: float = SolverOptions().tol


def _number(path, name, raw, positive=False):
    return finite_number(EstimationError, path, name, raw, positive)


def _table(path, name, raw, allowed):
    if not isinstance(raw, dict):
        raise _err(path, name, raw, "must be a table")
    for key in raw:
        if key not in allowed:
            raise _err(path, f"{name}.{key}" if name else key, raw[key],
                       f"is not a known field; expected one of {sorted(allowed)}")
    return raw


def _parameter(path, k, raw) -> ParameterSpec:
    where = f"parameters[{k}]"
    _table(path, where, raw, {"name", "initial", "lower", "upper", "transform"})
    name = raw.get("name")
    if not isinstance(name, str):
        raise _err(path, f"{where}.name", name, "must be a string such as 'migration_beta.low' or 'sigma_labour'")
    fld, _, code = name.partition(".")
    if fld not in G.PARAMETERS:
        raise _err(path, f"{where}.name", name, f"names an unknown parameter; known: {', '.join(G.PARAMETERS)}")
    if code and G.PARAMETERS[fld][1] is None:
        raise _err(path, f"{where}.name", name, f"{fld} is a scalar and takes no index")
    transform = raw.get("transform", "none")
    if transform not in TRANSFORMS:
        raise _err(path, f"{where}.transform", transform, f"must be one of {', '.join(TRANSFORMS)}")
    lower = _number(path, f"{where}.lower", raw["lower"]) if "lower" in raw else \
        (0.0 if transform == "log" else -math.inf)
    upper = _number(path, f"{where}.upper", raw["upper"]) if "upper" in raw else math.inf
    if not lower < upper:
        raise _err(path, f"{where}.lower", lower, f"must be below upper = {upper!r} (bounds inverted)")
    if transform == "log" and lower < 0:
        raise _err(path, f"{where}.lower", lower, "must be >= 0 with transform 'log'")
    initial = raw.get("initial")
    if initial is not None:
        initial = _number(path, f"{where}.initial", initial)
        _check_inside(path, f"{where}.initial", initial, lower, upper, transform)
    return ParameterSpec(name, fld, code or None, lower, upper, transform, initial)


def _check_inside(path, name, value, lower, upper, transform):
    inside = lower < value < upper if transform == "log" else lower <= value <= upper
    if not inside:
        raise _err(path, name, value, f"is outside the bounds [{lower!r}, {upper!r}]"
                   + (" (a log-transformed value must lie strictly inside)" if transform == "log" else ""))


def _target(path, k, raw, synthetic: bool) -> TargetSpec:
    where = f"targets[{k}]"
    _table(path, where, raw, {"name", "outcome", "per", "scenario", "measure", "observed", "sd", "relative_sd",
                              "fit"})
    outcome = raw.get("outcome")
    if not isinstance(outcome, str):
        raise _err(path, f"{where}.outcome", outcome, "must be an outcome spec such as 'population:TRO:2050'")
    per = raw.get("per")
    if per is not None and not isinstance(per, str):
        raise _err(path, f"{where}.per", per, "must be an outcome spec")
    scenario = raw.get("scenario")
    if scenario is not None:
        if not isinstance(scenario, str):
            raise _err(path, f"{where}.scenario", scenario, "must be the path of a scenario TOML file")
        resolved = (path.parent / scenario).resolve()
        if not resolved.is_file():
            raise _err(path, f"{where}.scenario", scenario, f"names no file ({resolved})")
        scenario = resolved
    measure = raw.get("measure", "effect" if scenario is not None else "level")
    if measure not in MEASURES:
        raise _err(path, f"{where}.measure", measure, f"must be one of {', '.join(MEASURES)}")
    if measure != "level" and scenario is None:
        raise _err(path, f"{where}.measure", measure, "needs a scenario (an effect is scenario minus reference)")
    observed = raw.get("observed")
    if observed is None and not synthetic:
        raise _err(path, f"{where}.observed", observed, "is required (unless the config has a [synthetic] table)")
    if observed is not None:
        observed = _number(path, f"{where}.observed", observed)
    sd = _number(path, f"{where}.sd", raw["sd"], positive=True) if "sd" in raw else None
    rel = _number(path, f"{where}.relative_sd", raw["relative_sd"], positive=True) if "relative_sd" in raw else None
    if (sd is None) == (rel is None):
        raise _err(path, f"{where}.sd", raw.get("sd"), "give exactly one of sd and relative_sd (> 0)")
    fit = raw.get("fit", True)
    if not isinstance(fit, bool):
        raise _err(path, f"{where}.fit", fit, "must be true or false")
    name = raw.get("name", outcome + (f" per {per}" if per else "") + (f" [{scenario.stem}]" if scenario else ""))
    return TargetSpec(str(name), outcome, per, scenario, measure, observed, sd, rel, fit)


def load_config(path: Path | str, text: str | None = None) -> EstimationConfig:
    """Read and validate an estimation config (TOML). Checks needing the model come in :func:`prepare`."""
    path = Path(path)
    data = read_toml(EstimationError, path, text)
    _table(path, "", data, {"name", "description", "regions", "solver", "optimiser", "synthetic", "parameters",
                            "targets"})
    name = data.get("name", path.stem)
    description = data.get("description", "")
    regions = data.get("regions")
    if regions is not None and not isinstance(regions, str):
        raise _err(path, "regions", regions, "must be the name of a mapping file, e.g. 'trondelag_rest.csv'")
    solver = _table(path, "solver", data.get("solver", {}), {"tol"})
    solver_tol = _number(path, "solver.tol", solver.get("tol", SolverOptions().tol), positive=True)
    raw_opt = _table(path, "optimiser", data.get("optimiser", {}), set(OptimiserSpec.__dataclass_fields__))
    method = raw_opt.get("method", OptimiserSpec.method)
    if method not in METHODS:
        raise _err(path, "optimiser.method", method, f"must be one of {', '.join(METHODS)}")
    ints = {}
    for key, minimum in (("max_iter", 1), ("draws", 0), ("seed", 0)):
        v = raw_opt.get(key, getattr(OptimiserSpec, key))
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise _err(path, f"optimiser.{key}", v, f"must be an integer >= {minimum}")
        ints[key] = v
    optimiser = OptimiserSpec(method=method, **ints,
                              tolerance=_number(path, "optimiser.tolerance",
                                                raw_opt.get("tolerance", OptimiserSpec.tolerance), positive=True),
                              learning_rate=_number(path, "optimiser.learning_rate",
                                                    raw_opt.get("learning_rate", OptimiserSpec.learning_rate),
                                                    positive=True),
                              max_step=_number(path, "optimiser.max_step",
                                               raw_opt.get("max_step", OptimiserSpec.max_step), positive=True))
    raw_params = data.get("parameters")
    if not isinstance(raw_params, list) or not raw_params:
        raise _err(path, "parameters", raw_params, "must be a non-empty array of tables ([[parameters]])")
    parameters = tuple(_parameter(path, k, raw) for k, raw in enumerate(raw_params))
    seen = {}
    for k, p in enumerate(parameters):
        clash = [q for q in seen.values() if q.field == p.field and (q.code == p.code or q.code is None
                                                                     or p.code is None)]
        if clash:
            raise _err(path, f"parameters[{k}].name", p.name, f"overlaps '{clash[0].name}' (each entry once; a "
                       "tied parameter cannot be combined with entries of the same field)")
        seen[k] = p
    synthetic = None
    if "synthetic" in data:
        raw_syn = _table(path, "synthetic", data["synthetic"], {"truth", "seed", "noise"})
        truth = _table(path, "synthetic.truth", raw_syn.get("truth", {}), {p.name for p in parameters})
        missing = [p.name for p in parameters if p.name not in truth]
        if missing:
            raise _err(path, "synthetic.truth", truth, f"lacks the parameter(s) {missing}")
        for p in parameters:
            v = _number(path, f"synthetic.truth.{p.name}", truth[p.name])
            _check_inside(path, f"synthetic.truth.{p.name}", v, p.lower, p.upper, p.transform)
        seed = raw_syn.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise _err(path, "synthetic.seed", seed, "must be an integer >= 0")
        noise = raw_syn.get("noise", True)
        if not isinstance(noise, bool):
            raise _err(path, "synthetic.noise", noise, "must be true or false")
        synthetic = SyntheticSpec({p.name: float(truth[p.name]) for p in parameters}, seed, noise)
    raw_targets = data.get("targets")
    if not isinstance(raw_targets, list) or not raw_targets:
        raise _err(path, "targets", raw_targets, "must be a non-empty array of tables ([[targets]])")
    targets = tuple(_target(path, k, raw, synthetic is not None) for k, raw in enumerate(raw_targets))
    if not any(t.fit for t in targets):
        raise _err(path, "targets", [t.name for t in targets], "has no target with fit = true")
    return EstimationConfig(path, str(name), str(description), regions, parameters, targets, optimiser, synthetic,
                            solver_tol)


# ---------------------------------------------------------------------------------------------
# the problem bound to a model


@dataclass
class Problem:
    """A config bound to a model: resolved parameters, parsed outcomes and scenarios, observed values."""

    config: EstimationConfig
    model: PathModel
    specs: tuple  # ParameterSpec
    index: tuple  # int or None per parameter (entry of its field)
    initial: np.ndarray  # θ at the start
    lower_z: np.ndarray
    upper_z: np.ndarray
    scenarios: tuple  # parsed scenarios (distinct files), batch index k+1
    targets: tuple  # (TargetSpec, outcome, per outcome or None, scenario batch index or None, spec used)
    observed: np.ndarray
    sd: np.ndarray
    options: SolverOptions
    theta0: dict = field(repr=False)

    @property
    def names(self):
        return [p.name for p in self.specs]

    # θ <-> z
    def to_z(self, theta):
        theta = np.asarray(theta, dtype=float)
        return np.array([math.log(v) if p.transform == "log" else v for p, v in zip(self.specs, theta)])

    def _is_log(self):
        return np.array([p.transform == "log" for p in self.specs])

    def to_theta(self, z):
        """θ of z (works on a batch of z along the first axes too)."""
        z = np.asarray(z, dtype=float)
        with np.errstate(over="ignore"):
            return np.where(self._is_log(), np.exp(z), z)

    def dtheta_dz(self, z):
        return np.where(self._is_log(), self.to_theta(z), 1.0)

    def at_bound(self, z, gradient=None):
        """Parameters at a bound (with ``gradient``: only those the gradient pushes further out)."""
        z = np.asarray(z, dtype=float)
        low = z <= self.lower_z + 1e-12 * np.maximum(1.0, np.abs(z))
        high = z >= self.upper_z - 1e-12 * np.maximum(1.0, np.abs(z))
        if gradient is None:
            return low | high
        return (low & (gradient > 0)) | (high & (gradient < 0))

    def clip(self, z):
        return np.clip(z, self.lower_z, self.upper_z)

    def parameters(self, z):
        """The full parameter pytree at z (a JAX function of z: the estimated entries replaced)."""
        theta = dict(self.theta0)
        for p, k, zi in zip(self.specs, self.index, [z[i] for i in range(len(self.specs))]):
            value = jnp.exp(zi) if p.transform == "log" else zi
            old = theta[p.field]
            theta[p.field] = jnp.full_like(old, value) if k is None else old.at[k].set(value)
        return theta

    def moments(self, observed):
        """Model moments m_k of (batched) path results, a JAX function."""
        batched = bool(self.scenarios)
        out = []
        for spec, outcome, per, k, _ in self.targets:
            def g(index):
                v = outcome(G.result_of(observed, index), self.model)
                return v / per(G.result_of(observed, index), self.model) if per is not None else v
            ref = 0 if batched else None
            if spec.measure == "level":
                out.append(g(k if k is not None else ref))
            elif spec.measure == "effect":
                out.append(g(k) - g(0))
            else:
                out.append(100.0 * (g(k) / g(0) - 1.0))
        return jnp.stack(out)

    # evaluations: every one is the same compiled program (the paths and their forward-mode derivative), so a
    # problem compiles once; the derivative costs little beyond the path (each year reuses its Newton LU).
    def evaluate(self, z, require_converged: bool = False):
        """(every target's model moment m, dm/dz) at z by one forward-mode pass through the paths; None if a path
        does not converge (with ``require_converged``: :class:`PathNotConverged` naming the years instead)."""
        z = jnp.asarray(z, dtype=float)
        p = len(self.specs)
        tangents = jax.vmap(lambda e: jax.jvp(self.parameters, (z,), (e,))[1])(jnp.eye(p))
        observed, status, d_observed = G.path_jvp(self.parameters(z), tangents, self.model, self.scenarios,
                                                  options=self.options)
        if require_converged:
            G.require_converged(status, self.model.drivers.years)
        elif not np.asarray(status[0]).all():
            return None
        m, dm = jax.vmap(lambda t: jax.jvp(self.moments, (observed,), (t,)), out_axes=(None, 0))(d_observed)
        return np.asarray(m), np.asarray(dm).T  # (n_targets,), (n_targets, p)

    def simulate(self, z):
        """Every target's model moment at z; None if a path does not converge."""
        evaluated = self.evaluate(z)
        return None if evaluated is None else evaluated[0]

    @property
    def fitted(self):
        """Targets in the objective (fit = true)."""
        return np.array([t[0].fit for t in self.targets])

    def residuals_and_jacobian(self, z, require_converged: bool = True):
        """(r, J = dr/dz, all moments m): the weighted residuals of the fitted targets and their Jacobian; None if
        a path does not converge and ``require_converged`` is false."""
        evaluated = self.evaluate(z, require_converged)
        if evaluated is None:
            return None
        m, dm = evaluated
        keep = self.fitted
        return ((m - self.observed) / self.sd)[keep], (dm / self.sd[:, None])[keep], m

    def residuals(self, z):
        """Weighted residuals r of the fitted targets at z; None if a path does not converge."""
        evaluated = self.residuals_and_jacobian(z, require_converged=False)
        return None if evaluated is None else evaluated[0]


def _resolve_index(config, k, spec: ParameterSpec, model):
    s = model.economy.benchmark.sets
    dim = G.PARAMETERS[spec.field][1]
    if spec.code is None:
        return None
    labels = list(s.sectors) if dim == "sector" else list(s.education)
    if spec.code not in labels:
        raise _err(config.path, f"parameters[{k}].name", spec.name,
                   f"names an unknown {dim} {spec.code!r}; known: {', '.join(labels)}")
    return labels.index(spec.code)


def prepare(config: EstimationConfig, model: PathModel, progress=None) -> Problem:
    """Bind a config to a model: check parameter indices, initial values, outcomes; parse the scenarios;
    simulate the observed values of a synthetic config."""
    from noreg_jax.scenarios import parse_scenario

    theta0 = G.elasticity_parameters(model)
    index = tuple(_resolve_index(config, k, p, model) for k, p in enumerate(config.parameters))
    initial = []
    for k, (p, i) in enumerate(zip(config.parameters, index)):
        if p.initial is not None:
            initial.append(p.initial)
            continue
        values = np.ravel(np.asarray(theta0[p.field]))
        value = float(values[i]) if i is not None else float(values.mean())
        if i is None and not np.allclose(values, value):
            raise _err(config.path, f"parameters[{k}].initial", None, f"is needed: the model's {p.field} differs "
                       f"across entries ({values.min():g}..{values.max():g}), so a tied start is not defined")
        _check_inside(config.path, f"parameters[{k}].initial (the model's value)", value, p.lower, p.upper,
                      p.transform)
        initial.append(value)
    scenario_files = list(dict.fromkeys(t.scenario for t in config.targets if t.scenario is not None))
    scenarios = tuple(parse_scenario(f, model) for f in scenario_files)
    targets = []
    for k, t in enumerate(config.targets):
        parsed = []
        for fld, spec in (("outcome", t.outcome), ("per", t.per)):
            if spec is None:
                parsed.append(None)
                continue
            try:
                used = translate_counties(spec, model)
                parsed.append((parse_outcome(used, model), used))
            except OutcomeError as exc:
                raise _err(config.path, f"targets[{k}].{fld}", spec, f"is not an outcome of this model: {exc}") \
                    from None
        k_scen = scenario_files.index(t.scenario) + 1 if t.scenario is not None else None
        used = parsed[0][1] + (f" per {parsed[1][1]}" if parsed[1] else "")
        targets.append((t, parsed[0][0], parsed[1][0] if parsed[1] else None, k_scen, used))
    transform = lambda p, v: (math.log(v) if v > 0 else -math.inf) if p.transform == "log" else v
    problem = Problem(config, model, config.parameters, index, np.array(initial),
                      np.array([transform(p, p.lower) for p in config.parameters]),
                      np.array([transform(p, p.upper) for p in config.parameters]),
                      scenarios, tuple(targets), np.zeros(len(targets)), np.ones(len(targets)),
                      SolverOptions(tol=config.solver_tol), theta0)
    if config.synthetic is None:
        problem.observed = np.array([t.observed for t in config.targets])
    else:
        truth = np.array([config.synthetic.truth[p.name] for p in config.parameters])
        m = problem.simulate(problem.to_z(truth))
        if m is None:
            raise RuntimeError(f"{config.path}: the paths at the synthetic truth do not converge")
        problem.observed = m.copy()
        if progress:
            progress(f"synthetic targets simulated at the truth {dict(zip(problem.names, truth))}")
    problem.sd = np.array([t.sd if t.sd is not None else t.relative_sd * abs(y)
                           for t, y in zip(config.targets, problem.observed)])
    if np.any(problem.sd <= 0):
        bad = int(np.argmin(problem.sd))
        raise _err(config.path, f"targets[{bad}].relative_sd", config.targets[bad].relative_sd,
                   "gives sd = 0 (observed value 0); give sd instead")
    if config.synthetic is not None and config.synthetic.noise:
        rng = np.random.default_rng(config.synthetic.seed)
        problem.observed = problem.observed + problem.sd * rng.standard_normal(len(targets))
    return problem


# ---------------------------------------------------------------------------------------------
# optimisers


@dataclass
class _Trace:
    rows: list = field(default_factory=list)
    progress: object = None

    def add(self, problem, it, z, objective, seconds, **extra):
        theta = problem.to_theta(z)
        row = {"iteration": it, "objective": objective, "seconds": seconds, **extra,
               **dict(zip(problem.names, theta))}
        self.rows.append(row)
        if self.progress:
            params = ", ".join(f"{n}={v:.6g}" for n, v in zip(problem.names, theta))
            more = "".join(f" {k}={v:.3g}" for k, v in extra.items() if isinstance(v, float))
            self.progress(f"iteration {it:3d}  objective {objective:.6g}  ({seconds:.1f} s){more}  {params}")


def _cap(step, max_step):
    """The step shortened (same direction) so that max |step_i| <= max_step."""
    size = float(np.max(np.abs(step)))
    return step * (max_step / size) if size > max_step else step


def _converged(f_old, f_new, step, tol):
    return (f_old - f_new) <= tol * max(f_old, 1e-300) or float(np.max(np.abs(step))) <= tol


def _gauss_newton(problem, z, opt, trace):
    """Levenberg–Marquardt on the weighted residuals (Marquardt's diagonal scaling), each component of a step
    clipped to ±max_step (a box trust region: a weakly identified parameter cannot shrink the steps of the
    others, as scaling the whole step would)."""
    lam, t0 = 1e-3, time.perf_counter()
    r, J, _ = problem.residuals_and_jacobian(z)
    f = 0.5 * float(r @ r)
    trace.add(problem, 0, z, f, time.perf_counter() - t0, damping=lam)
    converged, message = False, f"stopped after max_iter = {opt.max_iter} iterations"
    for it in range(1, opt.max_iter + 1):
        t0 = time.perf_counter()
        A, g = J.T @ J, J.T @ r
        D = np.maximum(np.diag(A), 1e-12 * max(float(np.max(np.diag(A))), 1e-300))
        free = ~problem.at_bound(z, g)  # a parameter held at its bound by the gradient does not move
        accepted = False
        for _ in range(12):
            step = np.zeros_like(z)
            if free.any():
                Af = A[np.ix_(free, free)] + lam * np.diag(D[free])
                step[free] = np.clip(np.linalg.solve(Af, -g[free]), -opt.max_step, opt.max_step)
            z_new = problem.clip(z + step)
            trial = problem.residuals_and_jacobian(z_new, require_converged=False)
            f_new = math.inf if trial is None else 0.5 * float(trial[0] @ trial[0])
            if f_new < f:
                accepted = True
                lam = max(lam / 10.0, 1e-10)
                break
            lam *= 10.0
        if not accepted:
            converged = float(np.max(np.abs(g))) <= math.sqrt(opt.tolerance) * max(1.0, f)
            message = "no step decreases the objective" + (" (at a stationary point)" if converged else "")
            break
        done = _converged(f, f_new, z_new - z, opt.tolerance)
        z, f = z_new, f_new
        r, J, _ = trial  # the accepted trial's Jacobian: no second evaluation at the new point
        trace.add(problem, it, z, f, time.perf_counter() - t0, damping=lam)
        if done:
            converged, message = True, "relative decrease of the objective or step below tolerance"
            break
    return z, r, J, converged, message


def _first_order(problem, z, opt, trace):
    """adam or L-BFGS (optax) on S(z) = ½‖r‖², gradient Jᵀr; L-BFGS with a backtracking line search."""
    import optax

    t0 = time.perf_counter()
    if opt.method == "adam":
        tx = optax.adam(opt.learning_rate)
    else:
        tx = optax.scale_by_lbfgs()
    state = tx.init(jnp.asarray(z))
    r, J, _ = problem.residuals_and_jacobian(z)
    f = 0.5 * float(r @ r)
    trace.add(problem, 0, z, f, time.perf_counter() - t0)
    converged, message = False, f"stopped after max_iter = {opt.max_iter} iterations"
    for it in range(1, opt.max_iter + 1):
        t0 = time.perf_counter()
        g = J.T @ r
        updates, state = tx.update(jnp.asarray(g), state, jnp.asarray(z))
        direction = np.asarray(updates)
        if opt.method == "adam":
            z_new = problem.clip(z + _cap(direction, opt.max_step))
            trial = problem.residuals_and_jacobian(z_new, require_converged=False)
            if trial is None:
                message = "a path did not converge at the next point"
                break
        else:
            direction = -direction  # scale_by_lbfgs gives H·g: step against it
            if g @ direction >= 0:
                direction = -g
            direction = _cap(direction, opt.max_step)
            alpha, trial = 1.0, None
            for _ in range(20):
                z_new = problem.clip(z + alpha * direction)
                trial = problem.residuals_and_jacobian(z_new, require_converged=False)
                if trial is not None and 0.5 * float(trial[0] @ trial[0]) <= f + 1e-4 * alpha * float(g @ direction):
                    break
                alpha, trial = alpha / 2.0, None
            if trial is None:
                converged = float(np.max(np.abs(g))) <= math.sqrt(opt.tolerance) * max(1.0, f)
                message = "the line search found no decrease" + (" (at a stationary point)" if converged else "")
                break
        f_new = 0.5 * float(trial[0] @ trial[0])
        done = opt.method == "lbfgs" and _converged(f, f_new, z_new - z, opt.tolerance) or \
            opt.method == "adam" and abs(f - f_new) <= opt.tolerance * max(f, 1e-300)
        z, f = z_new, f_new
        r, J, _ = trial
        trace.add(problem, it, z, f, time.perf_counter() - t0)
        if done:
            converged, message = True, "relative change of the objective or step below tolerance"
            break
    return z, r, J, converged, message


# ---------------------------------------------------------------------------------------------
# the result


@dataclass
class EstimationResult:
    """Estimates, their Laplace uncertainty, the fit of every target and the optimiser's history."""

    config: EstimationConfig
    names: list
    initial: np.ndarray
    estimates: np.ndarray
    z: np.ndarray
    standard_errors: np.ndarray  # of θ (delta method)
    covariance: np.ndarray  # of θ (delta method)
    covariance_z: np.ndarray  # in the transformed space (JᵀJ)⁻¹
    correlation: pd.DataFrame
    fit: pd.DataFrame
    history: pd.DataFrame
    draws: pd.DataFrame | None
    objective: float
    converged: bool
    message: str
    condition_number: float  # of JᵀJ: large means weakly identified
    seconds: float  # total, compilation included
    seconds_per_step: float  # mean of the iterations after the first evaluation
    truth: dict | None = None
    translations: dict = field(default_factory=dict)  # target -> outcome spec used on this model

    def table(self) -> pd.DataFrame:
        """parameter, initial, estimate, std_error, 95 % interval (Laplace, mapped back), truth, at_bound."""
        se_z = np.sqrt(np.diag(self.covariance_z))
        rows = []
        for k, (name, p) in enumerate(zip(self.names, self.config.parameters)):
            lo_z, hi_z = self.z[k] - 1.959964 * se_z[k], self.z[k] + 1.959964 * se_z[k]
            back = (lambda v: float(np.exp(v)) if np.isfinite(v) else math.nan) if p.transform == "log" else \
                (lambda v: v)
            at_bound = bool(np.isclose(self.estimates[k], p.lower, rtol=1e-9, atol=0) or
                            np.isclose(self.estimates[k], p.upper, rtol=1e-9, atol=0))
            rows.append({"parameter": name, "initial": self.initial[k], "estimate": self.estimates[k],
                         "std_error": self.standard_errors[k], "ci95_low": back(lo_z), "ci95_high": back(hi_z),
                         "transform": p.transform, "at_bound": at_bound,
                         **({"truth": self.truth[name]} if self.truth else {})})
        return pd.DataFrame(rows)


def laplace(problem: Problem, z, J, draws: int = 0, seed: int = 0):
    """cov(z) = (JᵀJ)⁻¹, cov(θ) and se(θ) by the delta method, draws of θ from N(ẑ, cov z) mapped back.

    Over the parameters inside their bounds only: one at a bound is not at an interior optimum, so the
    Laplace approximation says nothing about it; it gets no standard error (NaN) and is held at the bound
    in the draws. A singular JᵀJ (a parameter combination the targets do not determine) gives an infinite
    condition number and a pseudo-inverse.
    """
    p = len(z)
    free = ~problem.at_bound(z)
    cov_z = np.full((p, p), np.nan)
    condition = math.nan
    if free.any():
        A = (J.T @ J)[np.ix_(free, free)]
        eig = np.linalg.eigvalsh(A)
        condition = float(eig[-1] / eig[0]) if eig[0] > 0 else math.inf
        cov_z[np.ix_(free, free)] = np.linalg.inv(A) if eig[0] > 1e-12 * max(eig[-1], 1e-300) \
            else np.linalg.pinv(A)
    d = problem.dtheta_dz(z)
    cov = cov_z * np.outer(d, d)  # D cov_z D elementwise (a matrix product would spread NaN rows)
    se = np.sqrt(np.diag(cov))
    sd_z = np.sqrt(np.diag(cov_z))
    corr = cov_z / np.outer(sd_z, sd_z)
    sample = None
    if draws:
        rng = np.random.default_rng(seed)
        zs = np.tile(z, (draws, 1))
        if free.any():
            zs[:, free] = rng.multivariate_normal(z[free], cov_z[np.ix_(free, free)], size=draws, method="eigh")
        sample = problem.to_theta(zs)
    return cov_z, cov, se, corr, sample, condition


def estimate(config: EstimationConfig | Path | str, model: PathModel | None = None, progress=None,
             **overrides) -> EstimationResult:
    """Fit the config's parameters to its targets (see the module docstring).

    ``model``: the path model (default: the reference model on ``config.regions``). ``progress``: called with a
    line of text per iteration. ``overrides``: optimiser fields to replace (max_iter, method, draws, ...).
    """
    from dataclasses import replace

    from noreg_jax.drivers import reference_model

    start = time.perf_counter()
    if not isinstance(config, EstimationConfig):
        config = load_config(config)
    if overrides:
        config = replace(config, optimiser=replace(config.optimiser, **overrides))
    if model is None:
        model = reference_model(regions=config.regions)
    problem = prepare(config, model, progress)
    opt = config.optimiser
    trace = _Trace(progress=progress)
    z0 = problem.to_z(problem.initial)
    run = _gauss_newton if opt.method == "gauss_newton" else _first_order
    z, r, J, converged, message = run(problem, z0, opt, trace)
    cov_z, cov, se, corr, sample, condition = laplace(problem, z, J, opt.draws, opt.seed)
    names = problem.names
    theta = problem.to_theta(z)
    moments = problem.simulate(z)  # every target, those with fit = false included
    fit = pd.DataFrame({"target": [t[0].name for t in problem.targets],
                        "outcome": [t[4] for t in problem.targets],
                        "measure": [t[0].measure for t in problem.targets],
                        "observed": problem.observed, "sd": problem.sd, "fitted": moments,
                        "residual": (moments - problem.observed) / problem.sd, "in_objective": problem.fitted})
    history = pd.DataFrame(trace.rows)
    steps = history["seconds"].iloc[1:]
    return EstimationResult(
        config=config, names=names, initial=problem.initial, estimates=theta, z=z, standard_errors=se,
        covariance=cov, covariance_z=cov_z, correlation=pd.DataFrame(corr, index=names, columns=names), fit=fit,
        history=history, draws=None if sample is None else pd.DataFrame(sample, columns=names),
        objective=0.5 * float(r @ r), converged=converged, message=message, condition_number=condition,
        seconds=time.perf_counter() - start, seconds_per_step=float(steps.mean()) if len(steps) else math.nan,
        truth=dict(config.synthetic.truth) if config.synthetic else None,
        translations={t[0].name: t[4] for t in problem.targets})


# ---------------------------------------------------------------------------------------------
# arviz and files


def to_inference_data(result: EstimationResult):
    """An arviz DataTree: posterior = the Laplace draws (one chain), observed_data = the targets."""
    import arviz as az

    if result.draws is None:
        raise ValueError("the estimation kept no draws (optimiser.draws = 0)")
    posterior = {name: result.draws[name].to_numpy()[None, :] for name in result.names}
    observed = {"targets": result.fit["observed"].to_numpy(), "fitted": result.fit["fitted"].to_numpy(),
                "sd": result.fit["sd"].to_numpy()}
    return az.from_dict({"posterior": posterior, "observed_data": observed},
                        dims={"targets": ["target"], "fitted": ["target"], "sd": ["target"]},
                        coords={"target": result.fit["target"].tolist()},
                        attrs={"/": {"config": str(result.config.path), "method": result.config.optimiser.method,
                                     "approximation": "Laplace (Gauss-Newton curvature at the optimum)"}})


def summary(result: EstimationResult, prob: float = 0.95) -> pd.DataFrame:
    """arviz summary statistics of the draws (mean, sd, equal-tailed interval) plus the HDI at ``prob``."""
    import arviz as az

    dt = to_inference_data(result)
    table = az.summary(dt, kind="stats", ci_prob=prob, round_to="none")
    hdi = az.hdi(dt, prob=prob)
    table[f"hdi{int(round(prob * 100))}_lb"] = [float(hdi[n].sel(ci_bound="lower")) for n in table.index]
    table[f"hdi{int(round(prob * 100))}_ub"] = [float(hdi[n].sel(ci_bound="upper")) for n in table.index]
    return table


def pair_plot(result: EstimationResult, path=None):
    """arviz pair plot of the draws of the parameters inside their bounds (saved to ``path`` if given); returns
    the arviz plot object, or None when every parameter is at a bound."""
    import arviz as az

    varying = [n for n in result.names if np.nanstd(result.draws[n].to_numpy()) > 0]  # not held at a bound
    if not varying:
        return None
    pc = az.plot_pair(to_inference_data(result), var_names=varying, backend="matplotlib", marginal=True)
    if path is not None:
        save_figure(pc, path)
    return pc


def format_result(result: EstimationResult) -> str:
    """Estimates with standard errors, the correlation matrix and the fit, as text."""
    lines = [f"{result.config.name}: {result.config.optimiser.method}, {len(result.history) - 1} iteration(s), "
             f"objective {result.objective:.6g}, {'converged' if result.converged else 'NOT converged'} "
             f"({result.message}); {result.seconds:.1f} s in all, {result.seconds_per_step:.1f} s per step",
             result.table().to_string(index=False, float_format=lambda v: f"{v:.5g}"),
             "correlation (Laplace):", result.correlation.to_string(float_format=lambda v: f"{v:.3f}"),
             f"condition number of JᵀJ: {result.condition_number:.3g}",
             "fit:", result.fit.to_string(index=False, float_format=lambda v: f"{v:.5g}")]
    return "\n".join(lines)


def write_results(result: EstimationResult, out: Path | str) -> list[Path]:
    """estimates.csv, history.csv, fit.csv, correlation.csv, draws.nc, summary.csv, pair.png in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    out = output_directory(out)
    files = [out / "estimates.csv", out / "history.csv", out / "fit.csv", out / "correlation.csv"]
    tables = [(result.table(), False), (result.history, False), (result.fit, False), (result.correlation, True)]
    for path, (table, index) in zip(files, tables):
        write_table(table, path, index=index)
    if result.draws is not None:
        with atomic_output(out / "draws.nc") as tmp:
            to_inference_data(result).to_netcdf(tmp, engine="h5netcdf")
        write_table(summary(result), out / "summary.csv", index=True)
        files += [out / "draws.nc", out / "summary.csv"]
        if pair_plot(result, out / "pair.png") is not None:
            files.append(out / "pair.png")
    return files


def cmd_estimate(args) -> int:
    config = load_config(args.config)
    regions = getattr(args, "regions", None) or config.regions
    from noreg_jax.cli import model_from_args

    model = model_from_args(args, regions)
    overrides = {k: v for k, v in (("max_iter", args.max_iter), ("method", args.method), ("draws", args.draws))
                 if v is not None}
    print(f"estimating {', '.join(p.name for p in config.parameters)} from {len(config.targets)} target(s) "
          f"({config.path.name}, {'11 counties' if regions is None else regions})", flush=True)
    result = estimate(config, model, progress=lambda line: print(line, flush=True), **overrides)
    print(format_result(result))
    for f in write_results(result, args.out):
        print(f"wrote {f}")
    return 0 if result.converged else 4


def register_cli(top_level_subparsers) -> None:
    """Add ``noreg estimate CONFIG --out DIR`` to the top-level sub-commands."""
    p = top_level_subparsers.add_parser("estimate", help="fit parameters to target outcomes (TOML config)",
                                        description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="estimation config (TOML), e.g. calibration/configs/recovery.toml")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--regions", default=argparse.SUPPRESS,
                   help="aggregate counties by a mapping CSV (default: the config's 'regions')")
    p.add_argument("--method", choices=METHODS, default=None, help="override the config's optimiser")
    p.add_argument("--max-iter", type=int, default=None, help="override the config's max_iter")
    p.add_argument("--draws", type=int, default=None, help="override the number of Laplace draws")
    p.set_defaults(func=cmd_estimate)
