"""Matrix balancing for the benchmark build: RAS (biproportional scaling / iterative proportional fitting).

Used for the split of employment by education (docs/data.md step 6) and for the
doubly constrained gravity model of interregional shipments (docs/data.md step 9).
"""

from __future__ import annotations

import numpy as np


class BalanceError(RuntimeError):
    """RAS could not meet its margins: inconsistent totals, an empty row/column, or no convergence."""


def ras(
    seed: np.ndarray,
    row_targets: np.ndarray,
    col_targets: np.ndarray,
    *,
    tol: float = 1e-13,
    max_iter: int = 20_000,
    name: str = "matrix",
) -> np.ndarray:
    """Scale a nonnegative `seed` (rows x cols) to row sums `row_targets` and column sums `col_targets`.

    Returns x = diag(r) · seed · diag(c). Every target must be > 0 and the two totals must agree to
    1e-9 (relative). The last step of each iteration scales rows, so row sums are exact to rounding;
    iteration stops when every column sum is within `tol` (relative) of its target.
    """
    seed = np.asarray(seed, dtype=float)
    row_targets = np.asarray(row_targets, dtype=float)
    col_targets = np.asarray(col_targets, dtype=float)
    if seed.shape != (row_targets.size, col_targets.size):
        raise BalanceError(f"{name}: seed shape {seed.shape} does not match margins "
                           f"({row_targets.size}, {col_targets.size})")
    if np.any(seed < 0) or not np.all(np.isfinite(seed)):
        raise BalanceError(f"{name}: seed must be finite and nonnegative")
    if np.any(row_targets <= 0) or np.any(col_targets <= 0):
        raise BalanceError(f"{name}: all margins must be > 0 (min row {row_targets.min()!r}, "
                           f"min col {col_targets.min()!r})")
    total_rows, total_cols = row_targets.sum(), col_targets.sum()
    if abs(total_rows - total_cols) > 1e-9 * max(total_rows, total_cols):
        raise BalanceError(f"{name}: row total {total_rows!r} != column total {total_cols!r}")
    if np.any(seed.sum(axis=1) <= 0) or np.any(seed.sum(axis=0) <= 0):
        raise BalanceError(f"{name}: the seed has an empty row or column")

    x = seed.copy()
    for _ in range(max_iter):
        x *= (col_targets / x.sum(axis=0))[None, :]
        x *= (row_targets / x.sum(axis=1))[:, None]
        gap = np.max(np.abs(x.sum(axis=0) - col_targets) / col_targets)
        if gap <= tol:
            return x
    raise BalanceError(f"{name}: RAS did not converge in {max_iter} iterations (column gap {gap:.3e})")
