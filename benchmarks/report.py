"""Shared printing helpers of the benchmark scripts: the machine's load and a right-aligned table."""

from __future__ import annotations

import os


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other processes on the cores slow every timing down)."""
    try:
        return "load average %.2f %.2f %.2f (1, 5, 15 min)" % os.getloadavg()
    except OSError:
        return "load average unavailable"


def fmt(value) -> str:
    """A table cell: floats with 3 decimals, anything else as ``str``."""
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def table(rows: list[dict], columns: list[str]) -> str:
    """The rows (dicts) as a text table of ``columns``, right-aligned under their headers."""
    cells = [[fmt(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[k]) for row in cells)) for k, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)
