"""JAX's persistent compilation cache for the command line and the notebooks.

Compiling a path takes 15–50 s on two cores (the solver, a 33-year scan, its derivative passes) and running it
about a second, so a second ``noreg run`` would spend most of its time compiling the same programs again. With
the cache on, XLA executables that took at least a second to compile are written to a folder and read back by
the next run with the same program, JAX version and machine (JAX keys every entry by all three).

Folder: ``$NOREG_JAX_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/noreg-jax/xla`` (default ``~/.cache/noreg-jax/xla``).
Off: ``noreg --no-compile-cache ...`` or ``NOREG_JAX_COMPILE_CACHE=0``. A folder already chosen by the caller
through JAX's own ``JAX_COMPILATION_CACHE_DIR`` (the test suite does) is left as it is. Deleting the folder is
always safe: it only costs the next run its compile time.
"""

from __future__ import annotations

import os
from pathlib import Path

OFF_VALUES = ("0", "false", "no", "off")


def cache_directory(environ=os.environ) -> Path | None:
    """The folder the cache should use, or None when it is turned off or JAX's own setting is in charge."""
    if environ.get("NOREG_JAX_COMPILE_CACHE", "1").strip().lower() in OFF_VALUES:
        return None
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return None
    if environ.get("NOREG_JAX_CACHE_DIR"):
        return Path(environ["NOREG_JAX_CACHE_DIR"]).expanduser()
    base = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return base / "noreg-jax" / "xla"


def enable(directory: Path | str | None = None) -> Path | None:
    """Turn the persistent compilation cache on (in ``directory`` or :func:`cache_directory`); returns the folder.

    Call before the first compilation. A folder that cannot be created leaves the cache off with a warning:
    the run itself does not depend on it.
    """
    import warnings

    import jax

    folder = Path(directory) if directory is not None else cache_directory()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        warnings.warn(f"compilation cache off: cannot create {folder} ({exc.strerror})", stacklevel=2)
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    return folder
