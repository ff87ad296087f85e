"""Test-session hygiene.

1. Each test module compiles its own paths (different aggregations, shapes and options), and XLA keeps every
   executable alive for the whole session; they are released after each module. Why: one full CI run on
   2026-12-02 aborted inside an XLA compile near the end of the suite (cause not established); the next run,
   with this fixture, passed with a peak RSS of 3.6 GB, so memory alone is not a proven cause.
2. Compilation dominates the suite's time, and many modules (and the notebook and CLI subprocesses) compile
   the same programs again. JAX's persistent compilation cache, in a directory of this session's own (or the
   one named by ``JAX_COMPILATION_CACHE_DIR`` when the caller set it), lets each program that takes over a second to compile (JAX's default threshold) compile once per run;
   subprocesses inherit it through the environment. Measured: notebook 01 alone, 45 s cold, 20 s from the cache.
3. The tests check results, not speed, and most of their time is XLA compiling programs that then run for
   seconds: unless the caller says otherwise, XLA's optimisation passes are off (``JAX_DISABLE_MOST_OPTIMIZATIONS``,
   JAX's switch for this) and its compiler effort is lowest (``JAX_OPTIMIZATION_LEVEL=O0``). Measured:
   tests/dynamics/test_path.py 116 s -> 85 s -> 62 s. Results agree to rounding; the benchmarks (benchmarks/)
   and every user run keep the optimised code.
"""

import gc
import os
import shutil
import tempfile

_OWN_CACHE = None
if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    _OWN_CACHE = tempfile.mkdtemp(prefix="noreg-jax-compile-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_CACHE
os.environ.setdefault("JAX_DISABLE_MOST_OPTIMIZATIONS", "1")
os.environ.setdefault("JAX_OPTIMIZATION_LEVEL", "O0")

import jax  # noqa: E402  (after the cache directory is set: jax reads it at import)
import pytest  # noqa: E402


def pytest_unconfigure(config):
    if _OWN_CACHE is not None:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_executables():
    yield
    jax.clear_caches()
    gc.collect()
