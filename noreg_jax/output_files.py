"""Writing results safely (I/O at the edge): every output file appears whole or not at all, and an output folder
is checked before any work is done, so a long solve is never lost to a bad ``--out``."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from noreg_jax.data import DataError


class OutputError(DataError):
    """An output location that cannot be written; the message names it."""


def output_directory(out: Path | str) -> Path:
    """``out`` as a folder that exists and can be written (created if needed), or :class:`OutputError`."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: the output location is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{out}: the output folder cannot be created ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"{out}: the output folder is not writable")
    return out


@contextmanager
def atomic_output(path: Path | str):
    """Yield a temporary path beside ``path``; when the block ends without error it is synced to disk and renamed
    to ``path`` (atomic on one file system), otherwise removed. Readers never see a half-written file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_figure(figure, path: Path | str, **kwargs) -> Path:
    """Write a figure atomically (:func:`atomic_output`): ``figure`` is anything with ``savefig(file, **kwargs)``
    (a matplotlib Figure, an arviz PlotCollection); the format is the file's suffix (``.png``). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format=path.suffix.lstrip(".") or "png", **kwargs)
    return path


def write_table(table, path: Path | str, index: bool = False, digits: int = 10,
                zero_below: float | None = 1e-12) -> Path:
    """Write a pandas table as CSV atomically (:func:`atomic_output`), its numbers as a reader wants them: at most
    ``digits`` significant digits (673.4689999999957 is written 673.469), and an entry smaller than ``zero_below``
    times its column's largest magnitude (rounding noise such as −1.9e-15 beside values of order 1) written as 0
    (``None``: never, for columns whose entries are of unrelated scales, such as derivatives)."""
    import numpy as np

    table = table.copy()
    for column in table.columns:
        values = table[column]
        if zero_below is not None and values.dtype.kind == "f":
            finite = np.abs(values.to_numpy()[np.isfinite(values.to_numpy())])
            scale = finite.max() if finite.size else 0.0
            table[column] = values.where(~(values.abs() < zero_below * scale), 0.0)
    path = Path(path)
    with atomic_output(path) as tmp:
        table.to_csv(tmp, index=index, float_format=f"%.{digits}g")
    return path
