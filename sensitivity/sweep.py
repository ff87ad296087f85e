"""Batched, chunked, checkpointed evaluation of parameter draws (README "Sensitivity and estimation").

A *sweep* evaluates an :class:`Evaluator` — a pure JAX function of one draw (a vector of d uncertain
factors) returning a vector of K named scalar outcomes and the solve status of each of its P paths — on
every row of a draw matrix (N × d):

- the rows are cut into chunks of ``chunk_size`` (fixed by the manifest, so a chunk always holds the same
  rows); one compiled function evaluates a chunk, the same code on CPU and GPU;
- a chunk is split across all local JAX devices (``jax.shard_map`` over a one-axis mesh ``draws``); on each
  device its rows run through ``lax.map`` with ``batch_size = vmap_width``: ``vmap_width = 1`` solves the
  draws one after the other, a larger width solves that many side by side with ``vmap``. Choose it per
  machine (``benchmarks/bench_sweep.py``). On the CPU, 1 is fastest by far (two_regions: 31 paths/s
  against 0.4 at width 8): the solver's rare branches stay lazy under ``vmap`` (``solver._when``), but
  XLA:CPU's batched LU is slow (8 LU factorisations of 153 × 153: 45 ms batched against 0.22 ms each
  alone, measured 2026-11-27; the rest of the gap is not profiled). On a GPU a wider batch should pay
  (unmeasured: no GPU was lent);
- after every chunk its results and the status of every draw are written to ``chunk_NNNNN.npz``
  (atomically: a temporary file, then ``os.replace``), beside ``manifest.json`` and ``draws.npy``. A sweep
  that was killed resumes where it stopped: finished chunks are read, not recomputed; a half-written
  chunk never exists; a chunk file that cannot be read back, or whose arrays no longer match the SHA-256
  digest written into it, is recomputed (with a warning); ``draws.npy`` must match the manifest's
  ``draws_sha256`` and an unreadable manifest is a named error, so a changed checkpoint is never trusted. Since every chunk holds the
  same rows and runs the same compiled function, a resumed sweep gives bit-for-bit the results of an
  uninterrupted one (on the same platform and number of devices; resumed elsewhere, a chunk is compiled
  for another layout and its results agree to the solver's tolerance, about 1e-10);
- one sweep writes into a folder at a time: ``sweep.lock`` (the writer's pid, host and start) is created
  exclusively when a sweep starts and removed when it stops; a second sweep into the same folder is refused
  while the writer lives, and a lock left by a process that is gone (same host) is taken over with a warning;
- a draw whose paths do not all converge (or whose outcomes are not finite) is kept: its row of
  ``draws.npy``, its status and the max |residual| of each path are on disk and in
  :meth:`SweepResult.failures`; its outcomes are NaN. What an analysis does with it is the analysis'
  business (:mod:`sensitivity.sobol` drops whole Saltelli blocks, and says how many).

The model evaluator (:func:`model_evaluator`) applies a draw to the reference model
(:meth:`sensitivity.uncertainty.Uncertainty.apply`), then each scenario to that model
(:func:`noreg_jax.scenarios.apply_scenario`), solves the reference and every scenario path and returns
the headline outcomes (:class:`Headline`): levels of a path, or scenario − reference differences / percent
changes, of outcomes named as in :mod:`sensitivity.outcomes`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from jax import lax
from jax.sharding import AxisType, PartitionSpec

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.data import DataError
from noreg_jax.dynamics import PathModel, simulate
from noreg_jax.equilibrium import equation_label, n_unknowns
from noreg_jax.output_files import atomic_output
from noreg_jax.scenarios import Scenario, apply_scenario, stack
from noreg_jax.solver import SolverOptions
from sensitivity.outcomes import OutcomeError, parse_outcome, translate_counties

MANIFEST = "manifest.json"
DRAWS = "draws.npy"
FORMAT = 2  # 2: chunks hold each failed path's first failed year and worst equation
STATUS = {-1: "not computed", 0: "ok", 1: "not converged", 2: "non-finite outcome"}
MEASURES = ("level", "difference", "percent")


class SweepError(DataError):
    """A sweep directory that does not match the sweep asked for, or a malformed headline outcome."""


# ---------------------------------------------------------------------------------------------
# evaluators


class DrawOutput(NamedTuple):
    """What an evaluator returns for one draw (leading chunk axis added by the sweep)."""

    outcomes: jnp.ndarray  # (K,) named scalar outcomes
    converged: jnp.ndarray  # (P,) bool: every year of each path converged
    max_residual: jnp.ndarray  # (P,) largest final max|F| over the years of each path (inf if not finite)
    # optional (None: not known, e.g. an evaluator that solves no equilibrium):
    failed_year: jnp.ndarray | None = None  # (P,) int: index of each path's first failed year, −1 if it converged
    equation: jnp.ndarray | None = None  # (P,) int: flat index of the largest residual then (Evaluator.equation_names)


@dataclass(frozen=True, eq=False)
class Evaluator:
    """A pure JAX function of one draw (d,) -> :class:`DrawOutput`, with the labels of its outputs.

    ``key`` identifies everything the results depend on (model data, scenarios, outcomes, solver options);
    a sweep directory records it and refuses to resume under another key.
    """

    key: str
    outcome_names: tuple[str, ...]
    path_labels: tuple[str, ...]
    evaluate_draw: Callable
    units: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    years: tuple[int, ...] = ()  # the years of each path (failures name the first failed one)
    equation_names: tuple[str, ...] = ()  # names of the equations, by flat index (failures name the worst one)


@dataclass(frozen=True)
class EvaluatorSpec:
    """A picklable recipe for an evaluator: ``factory`` ("module:function") called with ``kwargs``.

    Workers of a distributed sweep (and repeated runs in one process) rebuild the evaluator from its spec
    once and reuse it and its compiled chunk function (:func:`build_evaluator`).
    """

    factory: str
    kwargs_json: str = "{}"

    @classmethod
    def of(cls, factory: str, **kwargs) -> "EvaluatorSpec":
        return cls(factory, json.dumps(kwargs, sort_keys=True))

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.factory}|{self.kwargs_json}".encode()).hexdigest()[:16]


_EVALUATORS: dict[EvaluatorSpec, Evaluator] = {}
BUILDS = {"evaluators": 0, "chunk_functions": 0}  # counters, read by the tests (no recompilation per task)


def build_evaluator(spec: EvaluatorSpec) -> Evaluator:
    """The evaluator of ``spec``, built once per process."""
    if spec not in _EVALUATORS:
        module, _, name = spec.factory.partition(":")
        factory = getattr(importlib.import_module(module), name)
        _EVALUATORS[spec] = factory(**json.loads(spec.kwargs_json))
        BUILDS["evaluators"] += 1
    return _EVALUATORS[spec]


@dataclass(frozen=True)
class Headline:
    """A headline outcome: an outcome spec (optionally per another spec) on a path, or its scenario effect.

    measure: ``level`` (the value on ``scenario``'s path, or the reference's when ``scenario`` is
    ``"reference"``), ``difference`` (scenario − reference, in the spec's unit) or ``percent``
    (100·(scenario / reference − 1)). ``per`` divides the spec by another, e.g. gross product per person.
    """

    name: str
    spec: str
    scenario: str = "reference"
    measure: str = "level"
    per: str | None = None
    unit: str = ""
    label: str = ""


def model_evaluator(model: PathModel, uncertainty, scenarios: list[Scenario], headlines: list[Headline],
                    options: SolverOptions = SolverOptions(), path_vmap: bool = False) -> Evaluator:
    """An evaluator of the headline outcomes of the reference path and of each scenario for one draw.

    Paths: the reference (the draw applied to ``model``) and each scenario applied to that model. They are
    solved one after the other (``lax.map``), or side by side with ``path_vmap``. A scenario's parameter
    overrides apply after the draw, so they win over it.
    """
    from noreg_jax.runs import fingerprint

    labels = ("reference", *(sc.name for sc in scenarios))
    if len(set(labels)) != len(labels):
        raise SweepError(f"scenario names must be distinct and not 'reference': {labels}")
    specs: list[str] = []
    plan = []
    for h in headlines:
        if h.measure not in MEASURES:
            raise SweepError(f"headline {h.name!r}: field 'measure' must be one of {MEASURES}, found {h.measure!r}")
        if h.scenario not in labels:
            raise SweepError(f"headline {h.name!r}: field 'scenario' names {h.scenario!r}; the paths are {labels}")
        if h.measure != "level" and h.scenario == "reference":
            raise SweepError(f"headline {h.name!r}: measure {h.measure!r} needs a scenario, not the reference")
        ids = []
        for spec in (h.spec, h.per):
            if spec is None:
                ids.append(None)
                continue
            try:
                spec = translate_counties(spec, model)
            except OutcomeError as exc:
                raise SweepError(f"headline {h.name!r}: {exc}") from None
            if spec not in specs:
                specs.append(spec)
            ids.append(specs.index(spec))
        plan.append((labels.index(h.scenario), h.measure, ids[0], ids[1]))
    try:
        outcomes = [parse_outcome(spec, model) for spec in specs]
    except OutcomeError as exc:
        raise SweepError(str(exc)) from None
    masks = uncertainty.masks(model)

    def path_values(m: PathModel):
        r = simulate(m, options)
        values = jnp.stack([o(r, model) for o in outcomes])
        residual = jnp.max(r.max_residual)
        year_ok = r.converged & jnp.isfinite(r.max_residual)
        converged = jnp.all(year_ok)
        first = jnp.where(converged, -1, jnp.argmax(~year_ok))
        equation = jnp.where(converged, -1, r.worst_equation[jnp.maximum(first, 0)])
        return values, converged, jnp.where(jnp.isfinite(residual), residual, jnp.inf), first, equation

    def evaluate_draw(draw):
        base = uncertainty.apply(model, draw, masks)
        paths = stack([base, *(apply_scenario(base, sc) for sc in scenarios)])
        if path_vmap:
            values, converged, residual, first, equation = jax.vmap(path_values)(paths)
        else:
            values, converged, residual, first, equation = lax.map(path_values, paths)
        out = []
        for p, measure, num, den in plan:
            v = values[:, num] if den is None else values[:, num] / values[:, den]
            if measure == "level":
                out.append(v[p])
            elif measure == "difference":
                out.append(v[p] - v[0])
            else:
                out.append(100.0 * (v[p] / v[0] - 1.0))
        return DrawOutput(jnp.stack(out), converged, residual, first, equation)

    h = hashlib.sha256(f"format {FORMAT}".encode())
    h.update(fingerprint(model).encode())
    for sc in scenarios:
        h.update(fingerprint(apply_scenario(model, sc)).encode())
    h.update(repr([(f.name, f.parameter, f.applies_to) for f in uncertainty.factors]).encode())
    h.update(repr(headlines).encode() + repr(specs).encode() + repr(options).encode() + repr(path_vmap).encode())
    b = model.economy.benchmark
    return Evaluator(h.hexdigest()[:16], tuple(x.name for x in headlines), labels, evaluate_draw,
                     units=tuple(x.unit for x in headlines), labels=tuple(x.label or x.name for x in headlines),
                     years=tuple(int(y) for y in model.drivers.years),
                     equation_names=tuple(equation_label(b, i) for i in range(n_unknowns(b))))


# ---------------------------------------------------------------------------------------------
# the compiled chunk function

_CHUNK_FUNCTIONS: dict = {}


def chunk_function(evaluator: Evaluator, chunk_size: int, vmap_width: int = 1, devices=None):
    """The jitted function (chunk_size, d) -> :class:`DrawOutput` with a leading chunk axis.

    The chunk is sharded over ``devices`` (default: all local devices; ``chunk_size`` must be a multiple
    of their number); on each, ``lax.map`` runs its rows ``vmap_width`` at a time. Cached per evaluator.
    """
    devices = tuple(devices or jax.local_devices())
    if chunk_size % len(devices):
        raise ValueError(f"chunk_size {chunk_size} is not a multiple of the {len(devices)} devices")
    cache_key = (evaluator.key, id(evaluator.evaluate_draw), chunk_size, vmap_width, tuple(d.id for d in devices))
    if cache_key not in _CHUNK_FUNCTIONS:
        per_device = chunk_size // len(devices)
        width = None if vmap_width <= 1 else min(vmap_width, per_device)

        def local(draws):
            return lax.map(evaluator.evaluate_draw, draws, batch_size=width)

        mesh = jax.make_mesh((len(devices),), ("draws",), axis_types=(AxisType.Auto,), devices=devices)
        spec = PartitionSpec("draws")
        fn = jax.jit(jax.shard_map(local, mesh=mesh, in_specs=spec, out_specs=spec, check_vma=False))
        _CHUNK_FUNCTIONS[cache_key] = (fn, evaluator)  # the evaluator is kept alive with its function
        BUILDS["chunk_functions"] += 1
    return _CHUNK_FUNCTIONS[cache_key][0]


def evaluate_chunk(evaluator: Evaluator, draws: np.ndarray, chunk_size: int, vmap_width: int = 1,
                   devices=None) -> dict:
    """Evaluate up to ``chunk_size`` draws (padded to the chunk size by repeating the last row; the padding
    is dropped). Returns host arrays: outcomes, converged, max_residual, ok, status, seconds."""
    draws = np.asarray(draws, dtype=np.float64)
    n = draws.shape[0]
    padded = np.concatenate([draws, np.repeat(draws[-1:], chunk_size - n, axis=0)]) if n < chunk_size else draws
    fn = chunk_function(evaluator, chunk_size, vmap_width, devices)
    start = time.perf_counter()
    out = jax.block_until_ready(fn(jnp.asarray(padded)))
    seconds = time.perf_counter() - start
    outcomes = np.asarray(out.outcomes)[:n]
    converged = np.asarray(out.converged)[:n].astype(bool)
    residual = np.asarray(out.max_residual)[:n]
    unknown = np.full(converged.shape, -1, dtype=np.int32)
    failed_year = unknown if out.failed_year is None else np.asarray(out.failed_year, dtype=np.int32)[:n]
    equation = unknown if out.equation is None else np.asarray(out.equation, dtype=np.int32)[:n]
    finite = np.isfinite(outcomes).all(axis=1)
    all_converged = converged.all(axis=1)
    status = np.where(~all_converged, 1, np.where(~finite, 2, 0)).astype(np.int8)
    ok = status == 0
    outcomes = np.where(ok[:, None], outcomes, np.nan)
    return {"outcomes": outcomes, "converged": converged, "max_residual": residual, "failed_year": failed_year,
            "equation": equation, "ok": ok, "status": status, "seconds": np.float64(seconds)}


# ---------------------------------------------------------------------------------------------
# the sweep directory


@dataclass
class SweepResult:
    """Every draw of a sweep with its outcomes and status (rows not yet computed: status -1)."""

    directory: Path
    draws: np.ndarray  # (N, d)
    outcomes: np.ndarray  # (N, K), NaN where not ok
    status: np.ndarray  # (N,) int: see STATUS
    converged: np.ndarray  # (N, P) bool
    max_residual: np.ndarray  # (N, P)
    failed_year: np.ndarray  # (N, P) int: index of the first failed year of each path, −1 if none
    equation: np.ndarray  # (N, P) int: flat index of the largest residual in that year, −1 if none
    manifest: dict = field(repr=False)
    seconds: float = 0.0  # compute time of the chunks on disk

    @property
    def ok(self) -> np.ndarray:
        return self.status == 0

    @property
    def done(self) -> np.ndarray:
        return self.status >= 0

    @property
    def complete(self) -> bool:
        return bool(self.done.all())

    @property
    def outcome_names(self) -> tuple[str, ...]:
        return tuple(self.manifest["outcome_names"])

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return tuple(self.manifest["parameter_names"])

    @property
    def path_labels(self) -> tuple[str, ...]:
        return tuple(self.manifest["path_labels"])

    @property
    def n_failed(self) -> int:
        return int((self.done & ~self.ok).sum())

    def frame(self) -> pd.DataFrame:
        """One row per draw: parameters, outcomes, status."""
        df = pd.DataFrame(self.draws, columns=list(self.parameter_names))
        for k, name in enumerate(self.outcome_names):
            df[name] = self.outcomes[:, k]
        df["status"] = [STATUS[int(s)] for s in self.status]
        df.index.name = "draw"
        return df

    def failures(self) -> pd.DataFrame:
        """The draws that were computed but failed: parameters, status, and per path converged, max|F|, the first
        failed year and the equation with the largest residual in it (empty where the path converged)."""
        bad = np.flatnonzero(self.done & ~self.ok)
        df = pd.DataFrame(self.draws[bad], columns=list(self.parameter_names), index=pd.Index(bad, name="draw"))
        df["status"] = [STATUS[int(s)] for s in self.status[bad]]
        years, names = self.manifest.get("years", []), self.manifest.get("equation_names", [])
        for p, label in enumerate(self.path_labels):
            df[f"converged[{label}]"] = self.converged[bad, p]
            df[f"max_residual[{label}]"] = self.max_residual[bad, p]
            df[f"first_failed_year[{label}]"] = [years[k] if 0 <= k < len(years) else ""
                                                 for k in self.failed_year[bad, p]]
            df[f"equation[{label}]"] = [names[k] if 0 <= k < len(names) else "" for k in self.equation[bad, p]]
        return df


def _atomic_write(path: Path, write):
    """``write(binary file)`` to ``path`` atomically (:func:`noreg_jax.output_files.atomic_output`)."""
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        write(fh)


def _draws_hash(draws: np.ndarray) -> str:
    a = np.ascontiguousarray(draws, dtype=np.float64)
    return hashlib.sha256(str(a.shape).encode() + a.tobytes()).hexdigest()[:16]


def _arrays_digest(arrays: dict) -> str:
    """SHA-256 over a chunk's arrays (names, dtypes, shapes and bytes), stored in the chunk as ``digest``."""
    h = hashlib.sha256()
    for key in sorted(k for k in arrays if k != "digest"):
        a = np.ascontiguousarray(arrays[key])
        h.update(key.encode() + str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return h.hexdigest()


def _read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SweepError(f"{path}: not a readable sweep manifest ({exc}); it may be truncated: delete the sweep "
                         "folder or use another") from None
    if not isinstance(manifest, dict):
        raise SweepError(f"{path}: not a sweep manifest (a JSON object); delete the sweep folder or use another")
    return manifest


def read_draws(directory: Path, manifest: dict) -> np.ndarray:
    """draws.npy, checked against the digest in the manifest (a replaced or damaged file is refused)."""
    path = Path(directory) / DRAWS
    try:
        draws = np.load(path)
    except (OSError, ValueError) as exc:
        raise SweepError(f"{path}: cannot be read ({exc}); delete the sweep folder or use another") from None
    if _draws_hash(draws) != manifest.get("draws_sha256"):
        raise SweepError(f"{path}: its values do not match field 'draws_sha256' of {Path(directory) / MANIFEST} "
                         f"({_draws_hash(draws)} against {manifest.get('draws_sha256')!r}): the draws were changed "
                         "after the sweep began; delete the sweep folder or use another")
    return draws


def chunk_path(directory: Path, index: int) -> Path:
    return Path(directory) / f"chunk_{index:05d}.npz"


def open_sweep(directory, draws, evaluator: Evaluator, chunk_size: int, parameter_names=None,
               extra: dict | None = None) -> dict:
    """Create the sweep directory (manifest + draws), or check that an existing one is the same sweep."""
    directory = Path(directory)
    draws = np.asarray(draws, dtype=np.float64)
    if draws.ndim != 2:
        raise SweepError(f"draws must be a matrix (N x d), found shape {draws.shape}")
    names = list(parameter_names or [f"x{k}" for k in range(draws.shape[1])])
    manifest = {"format": FORMAT, "evaluator": evaluator.key, "n_draws": int(draws.shape[0]),
                "n_parameters": int(draws.shape[1]), "chunk_size": int(chunk_size),
                "n_chunks": int(-(-draws.shape[0] // chunk_size)), "draws_sha256": _draws_hash(draws),
                "parameter_names": names, "outcome_names": list(evaluator.outcome_names),
                "units": list(evaluator.units), "labels": list(evaluator.labels),
                "path_labels": list(evaluator.path_labels), "years": list(evaluator.years),
                "equation_names": list(evaluator.equation_names), **(extra or {})}
    path = directory / MANIFEST
    if path.exists():
        old = _read_manifest(path)
        for key in ("format", "evaluator", "n_draws", "chunk_size", "draws_sha256", "outcome_names", "path_labels"):
            if old.get(key) != manifest[key]:
                raise SweepError(f"{path}: field '{key}' is {old.get(key)!r}, this sweep has {manifest[key]!r}; "
                                 "it is another sweep: use another directory (or delete this one)")
        return old
    directory.mkdir(parents=True, exist_ok=True)
    _atomic_write(directory / DRAWS, lambda fh: np.save(fh, draws))
    _atomic_write(path, lambda fh: fh.write(json.dumps(manifest, indent=1).encode()))
    return manifest


def read_chunk(directory, index: int, manifest: dict) -> dict | None:
    """The results of chunk ``index``, or None when it is missing or unreadable (then it is recomputed)."""
    path = chunk_path(directory, index)
    if not path.exists():
        return None
    start = index * manifest["chunk_size"]
    stop = min(start + manifest["chunk_size"], manifest["n_draws"])
    try:
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
        ok = (data["index"].tolist() == list(range(start, stop))
              and data["outcomes"].shape == (stop - start, len(manifest["outcome_names"]))
              and {"failed_year", "equation"} <= set(data))
        intact = "digest" in data and str(data["digest"]) == _arrays_digest(data)
    except Exception:  # truncated or corrupt file
        ok = intact = False
    if not ok:
        warnings.warn(f"{path}: unreadable or not chunk {index} of this sweep; it will be recomputed", stacklevel=2)
        return None
    if not intact:
        warnings.warn(f"{path}: its content does not match the digest written with it (changed after it was "
                      "written); it will be recomputed", stacklevel=2)
        return None
    return data


def write_chunk(directory, index: int, result: dict, manifest: dict):
    start = index * manifest["chunk_size"]
    stop = min(start + manifest["chunk_size"], manifest["n_draws"])
    arrays = {"index": np.arange(start, stop), **{k: np.asarray(v) for k, v in result.items()}}
    arrays["digest"] = np.asarray(_arrays_digest(arrays))
    _atomic_write(chunk_path(directory, index), lambda fh: np.savez(fh, **arrays))


def pending_chunks(directory, manifest: dict) -> list[int]:
    return [i for i in range(manifest["n_chunks"]) if read_chunk(directory, i, manifest) is None]


def chunk_rows(manifest: dict, index: int) -> slice:
    start = index * manifest["chunk_size"]
    return slice(start, min(start + manifest["chunk_size"], manifest["n_draws"]))


def load_sweep(directory) -> SweepResult:
    """Everything on disk of a sweep (finished or not)."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not path.exists():
        raise SweepError(f"{path}: no sweep here (manifest missing)")
    manifest = _read_manifest(path)
    draws = read_draws(directory, manifest)
    n, k, p = manifest["n_draws"], len(manifest["outcome_names"]), len(manifest["path_labels"])
    outcomes = np.full((n, k), np.nan)
    status = np.full(n, -1, dtype=np.int8)
    converged = np.zeros((n, p), dtype=bool)
    residual = np.full((n, p), np.nan)
    failed_year = np.full((n, p), -1, dtype=np.int32)
    equation = np.full((n, p), -1, dtype=np.int32)
    seconds = 0.0
    for i in range(manifest["n_chunks"]):
        data = read_chunk(directory, i, manifest)
        if data is None:
            continue
        rows = chunk_rows(manifest, i)
        outcomes[rows], status[rows] = data["outcomes"], data["status"]
        converged[rows], residual[rows] = data["converged"], data["max_residual"]
        failed_year[rows], equation[rows] = data["failed_year"], data["equation"]
        seconds += float(data["seconds"])
    return SweepResult(directory, draws, outcomes, status, converged, residual, failed_year, equation, manifest,
                       seconds)


LOCK = "sweep.lock"
_HELD: set[str] = set()  # lock files held by this process (a nested acquisition is a no-op)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


@contextlib.contextmanager
def sweep_lock(directory):
    """Hold ``directory/sweep.lock`` while a sweep writes there (module docstring); SweepError if another
    process holds it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK
    key = str(path.resolve())
    if key in _HELD:
        yield
        return
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                holder = json.loads(path.read_text(encoding="utf-8"))
                pid, host = int(holder["pid"]), str(holder["host"])
            except (OSError, ValueError, KeyError, TypeError):
                raise SweepError(f"{path}: a lock file that cannot be read; another sweep may be writing into "
                                 f"{directory}. Delete the lock if no sweep runs there.") from None
            if host == me["host"] and not _process_alive(pid):
                warnings.warn(f"{path}: taking over the lock of process {pid}, which is gone (a sweep that was "
                              "killed); its finished chunks are kept", stacklevel=3)
                path.unlink(missing_ok=True)
                continue
            raise SweepError(f"{path}: another sweep (process {pid} on {host}, since {holder.get('started')}) is "
                             f"writing into {directory}; wait for it to finish, or choose another folder") from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(me, f)
        break
    else:  # the stale lock was taken over, but another sweep created one first
        raise SweepError(f"{path}: another sweep took the lock of {directory} first; choose another folder")
    _HELD.add(key)
    try:
        yield
    finally:
        _HELD.discard(key)
        path.unlink(missing_ok=True)


def run_sweep(draws, evaluator: Evaluator, directory, *, chunk_size: int = 8, vmap_width: int = 1,
              devices=None, parameter_names=None, max_chunks: int | None = None, callback=None,
              extra: dict | None = None) -> SweepResult:
    """Evaluate every draw, chunk by chunk, writing each chunk to ``directory``; resumes a stopped sweep.

    ``max_chunks``: compute at most this many chunks in this call (then return; call again to go on).
    ``callback(index, result_dict)`` is called after each chunk is written (e.g. to move a progress bar);
    an exception it raises stops the sweep with every finished chunk on disk.
    Returns :func:`load_sweep` of the directory (check ``.complete``). Holds :func:`sweep_lock` throughout.
    """
    with sweep_lock(directory):
        manifest = open_sweep(directory, draws, evaluator, chunk_size, parameter_names, extra)
        draws = read_draws(Path(directory), manifest)
        done = 0
        for i in pending_chunks(directory, manifest):
            if max_chunks is not None and done >= max_chunks:
                break
            result = evaluate_chunk(evaluator, draws[chunk_rows(manifest, i)], manifest["chunk_size"], vmap_width,
                                    devices)
            write_chunk(directory, i, result, manifest)
            done += 1
            if callback is not None:
                callback(i, result)
        return load_sweep(directory)
