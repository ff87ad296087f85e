"""The run manifest ``run.json``, written last into the output folder of every ``noreg`` command (I/O at the edge).

It records what produced the folder's files: the command line, the package version and git revision, the
SHA-256 of every input (data, parameter and driver files, mapping, scenario and config files; TOML files are
also echoed in full), the solver status of every path saved (per scenario and year), the SHA-256 of every
file the run wrote, the outcome (completed, failed with its exit status and message, or interrupted) and the
wall time. ``noreg verify DIR`` checks a folder against its manifest; :func:`verify` is the same in Python.

One run is recorded at a time (:func:`begin` … :func:`finish`); writers of path datasets call
:func:`note_dataset` and readers of inputs the command line does not name call :func:`note_input`; both do
nothing when no run is being recorded (library use).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

MANIFEST = "run.json"
FORMAT = 1


@dataclass
class RunRecord:
    command: list[str]
    started: float
    started_wall: str
    inputs: dict[str, str] = field(default_factory=dict)  # path -> sha256
    configs: dict[str, str] = field(default_factory=dict)  # TOML path -> text
    paths: list[dict] = field(default_factory=list)  # solver status of every saved path


_ACTIVE: RunRecord | None = None


def sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _files(path: Path):
    if path.is_file():
        yield path
    elif path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and not p.name.startswith("."):
                yield p


def _add_inputs(record: RunRecord, inputs) -> None:
    for item in inputs:
        for f in _files(Path(item)):
            key = str(f)
            if key not in record.inputs:
                record.inputs[key] = sha256_file(f)
                if f.suffix == ".toml":
                    record.configs[key] = f.read_text(encoding="utf-8", errors="replace")


def begin(command: list[str], inputs: list[Path | str]) -> RunRecord:
    """Start recording a run: fingerprint every input file (folders: every file in them)."""
    global _ACTIVE
    record = RunRecord(list(command), time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    _add_inputs(record, inputs)
    _ACTIVE = record
    return record


def note_input(path: Path | str) -> None:
    """Fingerprint one more input file as it is read (one the command line does not name, e.g. the parameter
    uncertainty table), in the run being recorded, if any."""
    if _ACTIVE is not None:
        _add_inputs(_ACTIVE, [path])


def note_dataset(ds) -> None:
    """Record the solver status per year of a path dataset (variables ``converged``, ``iterations``,
    ``max_residual``) in the run being recorded, if any."""
    if _ACTIVE is None or "converged" not in ds:
        return
    name = str(ds.attrs.get("name", ""))
    _ACTIVE.paths = [p for p in _ACTIVE.paths if p["name"] != name]  # saved again: the last copy counts
    _ACTIVE.paths.append({
        "name": name,
        "years": [int(y) for y in ds["year"].values],
        "converged": [bool(c) for c in ds["converged"].values],
        "iterations": [int(i) for i in ds["iterations"].values],
        "max_residual": [float(r) for r in ds["max_residual"].values],
    })


def _git_revision() -> str | None:
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+uncommitted changes" if dirty.stdout.strip() else "")


def _version() -> str:
    from noreg_jax import __version__

    return __version__


def finish(out: Path | str, outcome: str, exit_status: int, message: str = "") -> Path | None:
    """Write ``out/run.json`` (atomically) for the run being recorded and stop recording. The outputs listed are
    the files under ``out`` written since the run began. Returns the manifest's path (None if ``out`` is no folder)."""
    global _ACTIVE
    record, _ACTIVE = _ACTIVE, None
    out = Path(out)
    if record is None or not out.is_dir():
        return None
    from noreg_jax.output_files import atomic_output

    started_epoch = time.time() - (time.perf_counter() - record.started)
    outputs = {str(f.relative_to(out)): sha256_file(f) for f in _files(out)
               if f.name != MANIFEST and f.stat().st_mtime >= started_epoch - 1.0}
    import jax

    manifest = {
        "format": FORMAT,
        "command": record.command,
        "outcome": outcome,
        "exit_status": exit_status,
        "message": message,
        "started": record.started_wall,
        "wall_time_s": round(time.perf_counter() - record.started, 3),
        "package_version": _version(),
        "git_revision": _git_revision(),
        "python": sys.version.split()[0],
        "jax": jax.__version__,
        "platform": platform.platform(),
        "inputs": record.inputs,
        "configs": record.configs,
        "paths": record.paths,
        "outputs": outputs,
    }
    path = out / MANIFEST
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


class ManifestError(ValueError):
    """A folder's run.json is missing, unreadable or does not match the folder."""


def verify(out: Path | str) -> dict:
    """Check ``out`` against its run.json: every listed output present with its hash, the run completed and every
    path converged. Returns the manifest; raises :class:`ManifestError` listing every problem."""
    out = Path(out)
    path = out / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{path}: no run manifest (the folder was not written by a completed noreg run)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: cannot be read ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("outputs"), dict):
        raise ManifestError(f"{path}: not a run manifest (no 'outputs' table)")
    problems = []
    if manifest.get("outcome") != "completed":
        problems.append(f"the run did not complete: {manifest.get('outcome')} (exit status "
                        f"{manifest.get('exit_status')}) {manifest.get('message', '')}".rstrip())
    for name, digest in manifest["outputs"].items():
        f = out / name
        if not f.is_file():
            problems.append(f"{f}: listed in the manifest but missing")
        elif sha256_file(f) != digest:
            problems.append(f"{f}: changed since the run wrote it (SHA-256 differs)")
    for p in manifest.get("paths", []):
        bad = [y for y, c in zip(p.get("years", []), p.get("converged", [])) if not c]
        if bad:
            problems.append(f"path {p.get('name')!r} did not converge in year(s) {bad}")
    if problems:
        raise ManifestError(f"{path}: " + "; ".join(problems))
    return manifest


def input_paths(args) -> list[Path]:
    """The input files and folders a parsed ``noreg`` command line names or implies: the data, parameter and
    driver folders (given or shipped), the division's mapping file, and every argument that is a file."""
    from noreg_jax.data import DEFAULT_DATA_DIR, MAPPINGS_DIR
    from noreg_jax.drivers import REFERENCE_DIR
    from noreg_jax.parameters import DEFAULT_PARAMETER_DIR

    paths = [Path(getattr(args, "data", None) or DEFAULT_DATA_DIR),
             Path(getattr(args, "parameters", None) or DEFAULT_PARAMETER_DIR), REFERENCE_DIR]
    for name, value in sorted(vars(args).items()):
        if name in ("out", "cache", "func", "data", "parameters") or value is None:
            continue
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, (str, os.PathLike)):
                p = Path(v)
                if p.is_file():
                    paths.append(p)
                elif name == "regions" and (MAPPINGS_DIR / p).is_file():
                    paths.append(MAPPINGS_DIR / p)
    return paths
