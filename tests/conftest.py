"""Test-session hygiene: each test module compiles its own paths (different aggregations, shapes and
options), and XLA keeps every executable alive for the whole session. Clearing JAX's caches after each
module keeps the memory of a full run bounded (a full CI run aborted inside an XLA compile near the end
of the suite once the executables of ~20 modules were held at the same time)."""

import gc

import jax
import pytest


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_executables():
    yield
    jax.clear_caches()
    gc.collect()
