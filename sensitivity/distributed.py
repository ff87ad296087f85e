"""A sweep on a Dask distributed cluster: the chunks of :mod:`sensitivity.sweep` as tasks.

Why Dask (``dask[distributed]``) rather than Ray: the sweep is a bag of independent, coarse tasks (one
chunk = seconds to minutes of solving) whose results are small arrays, so all it needs is "run this
importable function on a worker, give me the result" — ``Client.submit`` and ``as_completed``. Dask
distributed is pure Python (wheels on PyPI, no separate object store or daemons), starts a local cluster
bound to 127.0.0.1 inside a test, and reaches HPC batch systems (SLURM, PBS: the usual setting for a
long Sobol sweep) through ``dask-jobqueue`` with the same client code. Ray would add a heavier runtime
(its own object store and raylet processes) for features the sweep does not use (actors, shared memory
for large objects).

Design:

- the worker function :func:`evaluate_chunk_task` lives in this importable module, and a task carries
  only an :class:`~sensitivity.sweep.EvaluatorSpec` (a factory name and JSON arguments, e.g. the path of a
  config) and the rows of its chunk. Each worker process builds the evaluator and compiles its chunk
  function once (:func:`sensitivity.sweep.build_evaluator` and the chunk-function cache) and reuses them
  for every later task: no recompilation per task (a closure shipped with each task would be a new
  function to JAX every time);
- the client alone writes the sweep directory (manifest, chunk files) as results come back, so the
  checkpointing, resume and failure records are exactly those of the local sweep: a distributed sweep
  can be resumed locally and vice versa, with identical results (same chunks, same compiled code, same
  inputs);
- the workers share the machine's files (a config path must be readable by them): a local cluster, or a
  cluster on a shared file system.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from sensitivity.sweep import (
    BUILDS,
    EvaluatorSpec,
    build_evaluator,
    chunk_rows,
    evaluate_chunk,
    load_sweep,
    open_sweep,
    pending_chunks,
    read_draws,
    sweep_lock,
    write_chunk,
)


def evaluate_chunk_task(spec: EvaluatorSpec, draws: np.ndarray, chunk_size: int, vmap_width: int = 1) -> dict:
    """The worker function: evaluate one chunk of draws with the evaluator of ``spec`` (built once per
    process). Returns the chunk's result arrays plus the worker's pid and build counters."""
    evaluator = build_evaluator(spec)
    result = evaluate_chunk(evaluator, draws, chunk_size, vmap_width)
    result["worker_pid"] = np.int64(os.getpid())
    result["evaluator_builds"] = np.int64(BUILDS["evaluators"])
    result["chunk_function_builds"] = np.int64(BUILDS["chunk_functions"])
    return result


def local_client(n_workers: int = 2, threads_per_worker: int = 1, **kwargs):
    """A Dask client of its own local cluster of worker processes, all bound to 127.0.0.1 (scheduler,
    workers and the scheduler's HTTP routes); ``client.close()`` shuts the cluster down too. The workers get
    this project on their PYTHONPATH, so that they import :func:`evaluate_chunk_task` even when the project
    is not installed. A script that starts one must guard its entry point (``if __name__ == "__main__":``):
    the worker processes are spawned and import the main module."""
    from dask.distributed import Client

    root = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    env = {"PYTHONPATH": path, **kwargs.pop("env", {})}
    # the scheduler's HTTP routes start even without a dashboard: keep them on loopback, on a free port
    return Client(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True, host="127.0.0.1",
                  dashboard_address="127.0.0.1:0", env=env, **kwargs)


def run_sweep_distributed(draws, spec: EvaluatorSpec, directory, client, *, chunk_size: int = 8,
                          vmap_width: int = 1, parameter_names=None, max_chunks: int | None = None,
                          callback=None, extra: dict | None = None, worker_log: list | None = None):
    """:func:`sensitivity.sweep.run_sweep` with the pending chunks as Dask tasks on ``client``.

    Results are written by this process as they arrive (any order); ``max_chunks`` submits at most that
    many. ``worker_log`` (a list) receives (chunk, worker pid, evaluator builds, chunk-function builds).
    Holds :func:`sensitivity.sweep.sweep_lock` throughout.
    """
    from dask.distributed import as_completed

    evaluator = build_evaluator(spec)  # the labels and key for the manifest; compiles nothing
    with sweep_lock(directory):
        manifest = open_sweep(directory, draws, evaluator, chunk_size, parameter_names, extra)
        draws = read_draws(Path(directory), manifest)
        todo = pending_chunks(directory, manifest)
        if max_chunks is not None:
            todo = todo[:max_chunks]
        futures = {client.submit(evaluate_chunk_task, spec, draws[chunk_rows(manifest, i)], manifest["chunk_size"],
                                 vmap_width, pure=False): i
                   for i in todo}
        for future in as_completed(futures):
            i = futures[future]
            result = future.result()
            meta = {k: result.pop(k) for k in ("worker_pid", "evaluator_builds", "chunk_function_builds")}
            write_chunk(directory, i, result, manifest)
            if worker_log is not None:
                worker_log.append((i, int(meta["worker_pid"]), int(meta["evaluator_builds"]),
                                   int(meta["chunk_function_builds"])))
            if callback is not None:
                callback(i, result)
        return load_sweep(directory)
