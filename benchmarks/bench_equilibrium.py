"""Time one year's equilibrium: compile, solve, implicit gradient, and scipy's MINPACK hybrd on the same
residual (``python benchmarks/bench_equilibrium.py [--runs N] [--quick]``).

Prints one table for the full model (11 counties x 24 industries x 4 education groups) and one for the
two_regions and landsdeler aggregations. Every time is wall clock after compilation (except the compile
time itself), the median of ``--runs`` runs. The scipy column solves the same ±10 % price perturbation
(``noreg_jax.checks.perturbed_start``, seed 0) with ``scipy.optimize.root(method='hybr')``, its own
finite-difference Jacobian, and the same jitted residual function converted to numpy. hybrd stops on
a relative step size (``xtol``), not on max|F|, so two scipy rows are given: (a) the loosest ``xtol``
of a ladder that reaches max|F| <= 1e-10 (the JAX solver's tolerance; found first, untimed), with the
max|F| it actually achieves: as the solution here is x* = 0 (log prices and quantities at the
benchmark), a relative step test is hard to meet and hybrd usually runs on to ~1e-15; (b) the same
run stopped as soon as a residual evaluation returns max|F| <= 1e-10, which matches the JAX stopping
rule exactly. The ratio scipy / JAX uses (b).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.optimize  # noqa: E402

import noreg_jax  # noqa: E402
from noreg_jax.checks import perturbed_start  # noqa: E402
from noreg_jax.equilibrium import benchmark_point, evaluate, n_unknowns, residual, solve_equilibrium  # noqa: E402
from noreg_jax.parameters import Economy, load_economy  # noqa: E402
from noreg_jax.solver import SolverOptions  # noqa: E402

TARGET = SolverOptions().tol  # max|F| both solvers must reach
SCIPY_XTOLS = (1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 1e-12, 1e-14)  # tried in turn, loosest first


class _Reached(Exception):
    """Raised by the residual wrapper when max|F| <= TARGET: stops hybrd at the JAX tolerance."""


def _median_time(fn, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        out = jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _region_of_trondelag(sets):
    """The region that contains Trøndelag (itself, or the group it was aggregated into)."""
    return next(k for k, name in enumerate(sets.region_names) if "Trøndelag" in name)


def bench(regions, runs):
    economy = load_economy(regions=regions)
    b = economy.benchmark
    s = b.sets
    row = {"unknowns": n_unknowns(b), "dims": f"{s.n_regions} x {s.n_sectors} x {s.n_education}"}
    x_bench = benchmark_point(b)
    x_start = perturbed_start(economy, size=0.10, seed=0)

    # compile (trace + lower + XLA) once; the same executable serves both starts
    t = time.perf_counter()
    solve = jax.jit(solve_equilibrium).lower(economy, x_start).compile()
    row["compile solve [s]"] = time.perf_counter() - t

    row["solve from benchmark [s]"], (_, st0) = _median_time(lambda: solve(economy, x_bench), runs)
    row["  iterations / Jacobians (benchmark)"] = f"{int(st0.iterations)} / {int(st0.jacobians)}"
    row["solve from ±10 % prices [s]"], (x, st) = _median_time(lambda: solve(economy, x_start), runs)
    row["  iterations / Jacobians / LM steps"] = f"{int(st.iterations)} / {int(st.jacobians)} / {int(st.lm_steps)}"
    row["  converged, max|F|"] = f"{bool(st.converged)}, {float(st.max_residual):.1e}"
    row["  max|x - benchmark|"] = f"{float(jnp.max(jnp.abs(x - x_bench))):.1e}"

    # gradient of one outcome w.r.t. the whole Parameters pytree (implicit differentiation)
    tro = _region_of_trondelag(s)

    def gross_product_trondelag(params):
        econ = Economy(b, params)
        x, _ = solve_equilibrium(econ, x_bench)
        return evaluate(x, econ).value_added[tro].sum()

    t = time.perf_counter()
    grad = jax.jit(jax.grad(gross_product_trondelag)).lower(economy.params).compile()
    row["compile gradient [s]"] = time.perf_counter() - t
    row["gradient w.r.t. all parameters [s]"], g = _median_time(lambda: grad(economy.params), runs)
    leaves = jax.tree_util.tree_leaves(g)
    row["  parameters (scalars), all finite"] = (f"{sum(np.size(a) for a in leaves)}, "
                                                 f"{all(bool(jnp.all(jnp.isfinite(a))) for a in leaves)}")

    # scipy hybrd on the same jitted residual, converted to numpy
    residual_jit = jax.jit(residual)
    jax.block_until_ready(residual_jit(x_bench, economy))

    def f_numpy(z):
        return np.asarray(residual_jit(jnp.asarray(z), economy))

    row["one residual evaluation [ms]"] = 1e3 * _median_time(lambda: residual_jit(x_start, economy), 20)[0]
    x0 = np.asarray(x_start)
    hybr = lambda f, xtol: scipy.optimize.root(f, x0, method="hybr", options={"xtol": xtol})
    for xtol in SCIPY_XTOLS:  # untimed: find the loosest xtol that reaches the target
        if np.max(np.abs(f_numpy(hybr(f_numpy, xtol).x))) <= TARGET:
            break
    scipy_runs = runs if n_unknowns(b) < 500 else max(1, min(runs, 3))
    times, sol = [], None
    for _ in range(scipy_runs):
        t = time.perf_counter()
        sol = hybr(f_numpy, xtol)
        times.append(time.perf_counter() - t)
    row["(a) scipy hybr, own stop [s]"] = statistics.median(times)
    row["  xtol, residual evaluations (nfev)"] = f"{xtol:.0e}, {sol.nfev}"
    row["  achieved max|F|, max|x - benchmark|"] = (f"{float(np.max(np.abs(f_numpy(sol.x)))):.1e}, "
                                                    f"{float(np.max(np.abs(sol.x - np.asarray(x_bench)))):.1e}")
    row["  success (status)"] = f"{sol.success} ({sol.status})"
    MESSAGES[sol.status] = sol.message.strip()

    def f_stop(z):
        f = f_numpy(z)
        calls[0] += 1
        if np.all(np.isfinite(f)) and np.max(np.abs(f)) <= TARGET:
            found.append((z.copy(), f))
            raise _Reached
        return f

    times = []
    for _ in range(scipy_runs):
        calls, found = [0], []
        t = time.perf_counter()
        try:
            hybr(f_stop, xtol)
        except _Reached:
            pass
        times.append(time.perf_counter() - t)
    row["(b) scipy hybr, stop at max|F| <= tol [s]"] = statistics.median(times)
    if found:
        z, f = found[0]
        row["  residual evaluations, achieved max|F|"] = f"{calls[0]}, {float(np.max(np.abs(f))):.1e}"
    else:
        row["  residual evaluations, achieved max|F|"] = f"{calls[0]}, not reached"
    row["ratio scipy (b) / JAX, ±10 % solve"] = row["(b) scipy hybr, stop at max|F| <= tol [s]"] \
        / row["solve from ±10 % prices [s]"]
    row["  scipy runs timed"] = scipy_runs
    return row


MESSAGES = {}  # scipy status code -> message


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.3g}" if v >= 0.01 else f"{v:.2e}"
    return str(v)


def print_table(title, columns):
    names = list(next(iter(columns.values())))
    w0 = max(len(n) for n in names)
    widths = {c: max(len(c), *(len(_fmt(col[n])) for n in names)) for c, col in columns.items()}
    print(title)
    print("  " + "metric".ljust(w0) + "  " + "  ".join(c.rjust(widths[c]) for c in columns))
    for n in names:
        print("  " + n.ljust(w0) + "  " + "  ".join(_fmt(col[n]).rjust(widths[c]) for c, col in columns.items()))
    print()


def machine():
    import equinox

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return [
        f"machine: {platform.machine()} {platform.processor() or ''}".rstrip() + f", {cores} cores usable "
        f"(os.cpu_count {os.cpu_count()}), load average at start {load[0]:.2f}",
        f"device: {jax.devices()[0].device_kind} ({jax.default_backend()})",
        f"python {platform.python_version()}, jax {jax.__version__}, jaxlib {jax.lib.__version__}, "
        f"equinox {equinox.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"noreg_jax {noreg_jax.__version__}",
        f"JAX solver: SolverOptions() (tol {TARGET:g} on max|F|), timed runs after compilation, median",
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per entry (median)")
    parser.add_argument("--quick", action="store_true", help="only the aggregations (skip the full model)")
    args = parser.parse_args(argv)
    for line in machine():
        print(line)
    print()
    if not args.quick:
        print_table("One year's equilibrium, full model (11 counties x 24 industries x 4 education groups)",
                    {"11 counties": bench(None, args.runs)})
    print_table("Aggregations", {"two_regions": bench("two_regions.csv", args.runs),
                                 "landsdeler": bench("landsdeler.csv", args.runs)})
    for status, message in sorted(MESSAGES.items()):
        print(f"scipy status {status}: {message}")


if __name__ == "__main__":
    main()
