"""Reading the project's TOML input files (scenarios, Sobol and estimation configs) with errors that name the
file, the field and the value. Each kind of file raises its own exception class (a ``ValueError``)."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path


def field_error(error: type[Exception], path, field: str, value, why: str) -> Exception:
    """``error("<path>: field '<field>' <why> (value <value>)")``."""
    return error(f"{path}: field '{field}' {why} (value {value!r})")


def read_toml(error: type[Exception], path: Path | str, text: str | None = None) -> dict:
    """The TOML file at ``path`` (or ``text``, reported as coming from ``path``) as a dict."""
    path = Path(path)
    try:
        return tomllib.loads(text if text is not None else path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not a TOML file") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8") from None
    except PermissionError:
        raise error(f"{path}: cannot be read (permission denied)") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML ({exc})") from None


def finite_number(error: type[Exception], path, field: str, raw, positive: bool = False) -> float:
    """``raw`` as a float: a finite int or float (not a bool, not a string), > 0 if ``positive``."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise field_error(error, path, field, raw, "must be a finite number")
    if positive and not raw > 0:
        raise field_error(error, path, field, raw, "must be > 0")
    return float(raw)
