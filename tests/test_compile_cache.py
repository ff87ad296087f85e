"""The persistent compilation cache of the command line (noreg_jax/compile_cache.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from noreg_jax.compile_cache import cache_directory, enable


@pytest.mark.parametrize("environ, expected", [
    ({"HOME": "/h"}, Path("/h/.cache/noreg-jax/xla")),
    ({"XDG_CACHE_HOME": "/x"}, Path("/x/noreg-jax/xla")),
    ({"NOREG_JAX_CACHE_DIR": "/n", "XDG_CACHE_HOME": "/x"}, Path("/n")),
    ({"NOREG_JAX_CACHE_DIR": "/n", "NOREG_JAX_COMPILE_CACHE": "0"}, None),
    ({"NOREG_JAX_COMPILE_CACHE": "off"}, None),
    ({"NOREG_JAX_CACHE_DIR": "/n", "JAX_COMPILATION_CACHE_DIR": "/j"}, None),  # JAX's own setting is in charge
])
def test_cache_directory(environ, expected, monkeypatch):
    if "HOME" in environ:
        monkeypatch.setenv("HOME", environ["HOME"])
    assert cache_directory(environ) == expected


def test_a_folder_that_cannot_be_made_leaves_the_cache_off_with_a_warning(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.warns(UserWarning, match="compilation cache off: cannot create"):
        assert enable(blocker / "xla") is None


def _noreg(args, cache: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env |= {"NOREG_JAX_CACHE_DIR": str(cache), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
    done = subprocess.run([sys.executable, "-m", "noreg_jax.cli", "--regions", "two_regions.csv", *args], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


def test_the_cli_writes_compiled_programs_to_the_cache(tmp_path):
    _noreg(["check"], tmp_path / "on")
    assert any((tmp_path / "on").iterdir())


def test_the_cli_leaves_the_cache_off_when_told(monkeypatch, capsys):
    """``--no-compile-cache`` skips :func:`enable` (which the test above shows writing the cache); checked in
    process instead of by a second compiling subprocess."""
    import noreg_jax.compile_cache as compile_cache
    from noreg_jax.cli import main

    calls = []
    monkeypatch.setattr(compile_cache, "enable", lambda *a, **k: calls.append(a))
    assert main(["--no-compile-cache", "info"]) == 0 and calls == []
    assert main(["info"]) == 0 and len(calls) == 1
