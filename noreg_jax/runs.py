"""High-level runs shared by the CLI and the notebooks: the reference path (cached on disk by a
fingerprint of everything it depends on) and batches of scenarios solved as one compiled computation (vmap on accelerators, lax.map on CPU)."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import jax
import numpy as np

from noreg_jax import __version__
from noreg_jax.dynamics import PathModel, PathNotConverged, require_path_converged, simulate
from noreg_jax.equilibrium import equation_label
from noreg_jax.output_files import atomic_output
from noreg_jax.results import load, save, to_dataset
from noreg_jax.scenarios import Scenario, apply_scenario, parse_scenarios, scale_shocks, stack, unstack

_simulate = jax.jit(simulate)


def _batch_simulate(models):
    """Solve a stacked batch of paths in one compiled computation.

    On an accelerator the batch is a ``vmap``. On the CPU it is a ``lax.map`` (the same compiled path
    applied to each member in turn): ``vmap`` was measured ~75× slower per path on 2 CPU cores (XLA:CPU's
    batched LU is slow; see :mod:`sensitivity.sweep`); ``lax.map`` gives bit-identical results.
    """
    if jax.default_backend() == "cpu":
        return jax.lax.map(simulate, models)
    return jax.vmap(simulate)(models)


_simulate_batch = jax.jit(_batch_simulate)


def _source_digest() -> bytes:
    """A hash of the package's own code: a cached result computed by other code (a change between releases,
    an edited checkout) is not reused."""
    h = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return h.digest()


def fingerprint(model: PathModel) -> str:
    """A hash of every leaf and label of the model, the package version and its source code."""
    h = hashlib.sha256(__version__.encode())
    h.update(_source_digest())
    leaves, treedef = jax.tree_util.tree_flatten(model)
    h.update(str(treedef).encode())
    for leaf in leaves:
        a = np.ascontiguousarray(np.asarray(leaf))
        h.update(str(a.shape).encode() + str(a.dtype).encode() + a.tobytes())
    return h.hexdigest()[:16]


def run_reference(model: PathModel, progress=None):
    """Solve and label the reference path; raises if a year does not converge."""
    fn = _simulate if progress is None else jax.jit(lambda m: simulate(m, progress=progress))
    result = require_path_converged(fn(model), model)
    return to_dataset(model, result, "reference")


def cached_reference(model: PathModel, cache_dir: Path | str | None):
    """The reference path, reused from ``cache_dir`` when its inputs are unchanged. Returns (ds, reused)."""
    if cache_dir is None:
        return run_reference(model), False
    path = Path(cache_dir) / f"reference_{fingerprint(model)}.nc"
    digest_file = path.with_suffix(".sha256")
    if path.exists():
        problem = None
        if not digest_file.exists() or digest_file.read_text().strip() != _file_digest(path):
            problem = "its content does not match the digest written with it (truncated or changed)"
        else:
            try:
                return load(path), True
            except (OSError, ValueError) as exc:
                problem = f"it cannot be read ({exc})"
        warnings.warn(f"cached reference {path} is not used: {problem}; solving the reference path again",
                      stacklevel=2)
    ds = run_reference(model)
    save(ds, path.parent)
    os.replace(path.parent / "reference.nc", path)
    with atomic_output(digest_file) as tmp:
        tmp.write_text(_file_digest(path) + "\n")
    return ds, False


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def scenario_models(model: PathModel, scenarios: list[Scenario], scales=(1.0,)):
    """(label, model) for every scenario at every shock scale."""
    out = []
    for sc in scenarios:
        for f in scales:
            label = sc.name if len(scales) == 1 else f"{sc.name}_x{f:g}"
            out.append((label, apply_scenario(model, scale_shocks(sc, f) if f != 1.0 else sc)))
    return out


def solve_scenarios(model: PathModel, scenarios: list[Scenario], scales=(1.0,)):
    """Solve every scenario (× scale) as one batched computation (see :func:`_batch_simulate`).

    Returns (datasets of the scenarios whose every year converged, failures): a failure is
    ``{"scenario", "first_failed_year", "failed_years", "max_residual"}``; nothing is dropped in silence."""
    labelled = scenario_models(model, scenarios, scales)
    batch = _simulate_batch(stack([m for _, m in labelled]))
    results = unstack(batch, len(labelled))
    out, failures = [], []
    for (label, m), r in zip(labelled, results):
        conv = np.asarray(r.converged)
        if conv.all():
            out.append(to_dataset(m, r, label))
            continue
        years = [int(y) for y, c in zip(m.drivers.years, conv) if not c]
        first = int(np.argmax(~conv))
        failures.append({"scenario": label, "first_failed_year": years[0], "failed_years": len(years),
                         "max_residual": float(np.asarray(r.max_residual)[first]),
                         "equation": equation_label(m.economy.benchmark, int(np.asarray(r.worst_equation)[first]))})
    return out, failures


def describe_failures(failures: list[dict]) -> str:
    return "; ".join(f"scenario {f['scenario']}: did not converge from {f['first_failed_year']} on "
                     f"({f['failed_years']} year(s); in {f['first_failed_year']} max |residual| "
                     f"{f['max_residual']:.3g} in {f['equation']})" for f in failures)


def run_scenarios(model: PathModel, scenarios: list, scales=(1.0,)):
    """:func:`solve_scenarios`, raising :class:`PathNotConverged` naming every scenario that failed.

    ``scenarios``: :class:`Scenario` objects or paths of scenario files (a file may hold several scenarios)."""
    scenarios = [s for item in scenarios
                 for s in ([item] if isinstance(item, Scenario) else parse_scenarios(item, model))]
    if not scenarios:
        raise ValueError("run_scenarios: no scenarios given")
    out, failures = solve_scenarios(model, scenarios, scales)
    if failures:
        raise PathNotConverged(describe_failures(failures) + "; the results from those years on are not an "
                               "equilibrium")
    return out


def parameter_draws(n: int, uncertainty, seed: int = 0) -> np.ndarray:
    """(n, d) factor values: a scrambled Sobol' sequence (scipy.stats.qmc, ``seed``) mapped through each factor's
    quantile function (the factors of a :class:`sensitivity.uncertainty.Uncertainty`)."""
    from scipy.stats import qmc

    if n < 2:
        raise ValueError(f"parameter draws: at least 2 are needed (got {n})")
    unit = qmc.Sobol(d=len(uncertainty.factors), scramble=True, seed=seed).random(n)
    return np.column_stack([f.ppf(unit[:, k]) for k, f in enumerate(uncertainty.factors)])


def scenario_draws(model: PathModel, scenarios: list[Scenario], n: int, uncertainty=None, seed: int = 0):
    """The reference and every scenario under ``n`` quasi-random draws of the parameter uncertainty, one batch.

    Draws: :func:`parameter_draws` of ``sensitivity/data/uncertainty.csv`` unless ``uncertainty`` is given.
    Returns (draws (n, d) factor values, [reference dataset per kept draw], {scenario name: [dataset per kept draw]}, failures); a
    draw is kept only when every one of its paths converged, and each dropped draw is a failure
    ``{"draw", "path", "first_failed_year", "max_residual"}`` — never silently dropped."""
    from sensitivity.uncertainty import load_uncertainty

    u = uncertainty if uncertainty is not None else load_uncertainty()
    draws = parameter_draws(n, u, seed)
    masks = u.masks(model)
    labelled = []
    for k in range(n):
        base = u.apply(model, draws[k], masks)
        labelled.append((k, "reference", base))
        labelled += [(k, sc.name, apply_scenario(base, sc)) for sc in scenarios]
    results = unstack(_simulate_batch(stack([m for _, _, m in labelled])), len(labelled))
    failed, failures = set(), []
    for (k, label, m), r in zip(labelled, results):
        conv = np.asarray(r.converged)
        if not conv.all():
            failed.add(k)
            failures.append({"draw": k, "path": label, "first_failed_year": int(m.drivers.years[int(np.argmin(conv))]),
                             "max_residual": float(np.asarray(r.max_residual)[~conv].max())})
    references, by_scenario = [], {sc.name: [] for sc in scenarios}
    for (k, label, m), r in zip(labelled, results):
        if k in failed:
            continue
        ds = to_dataset(m, r, label)
        (references if label == "reference" else by_scenario[label]).append(ds)
    return draws, references, by_scenario, failures
