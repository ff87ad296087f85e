"""The device check: batched sweep throughput by vmap width, and one year's solve, on whatever device JAX sees.

    python benchmarks/bench_device.py [--widths 1,16,256,1024] [--aggregations two_regions,counties] [--budget 270]
                                      [--linear dense|krylov]

Run by ``benchmarks/device_check.sh`` on a lent GPU (and usable on the CPU with small widths). For each
aggregation: the compile and median time of one cold year (±10 % price start), then for each width w a sweep of
w distinct draws of the shipped uncertainty (reference path only) with ``vmap_width = w`` (all w paths side by
side under ``vmap``), compiled by a first call and timed by a second (``bench_sweep.bench``): paths per second
after compilation. Rows are printed as they are measured; once ``--budget`` seconds have passed the remaining
rows are skipped and named, so a check that runs out of time still reports what it measured.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import jax

from bench_sweep import AGGREGATIONS, bench  # benchmarks/ is the script's folder, on sys.path
from report import load_average, table

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.checks import perturbed_start
from noreg_jax.equilibrium import n_unknowns, solve_equilibrium
from noreg_jax.parameters import load_economy
from noreg_jax.solver import SolverOptions
from sensitivity.sobol import config_uncertainty, load_config, sample

ROOT = Path(__file__).resolve().parents[1]


def one_year(name: str, repeats: int = 5, linear: str = "dense") -> dict:
    economy = load_economy(regions=AGGREGATIONS[name])
    x0 = perturbed_start(economy, size=0.10, seed=0)
    options = SolverOptions(linear=linear)
    t = time.perf_counter()
    solve = jax.jit(lambda e, x: solve_equilibrium(e, x, options)).lower(economy, x0).compile()
    compile_s = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        _, status = jax.block_until_ready(solve(economy, x0))
        times.append(time.perf_counter() - t)
    return {"aggregation": name, "solver": linear, "unknowns": n_unknowns(economy.benchmark), "compile_s": compile_s,
            "year_ms": 1e3 * statistics.median(times), "converged": bool(status.converged)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="1,16,256,1024", help="comma-separated vmap widths")
    parser.add_argument("--aggregations", default="two_regions,counties", help=f"from {', '.join(AGGREGATIONS)}")
    parser.add_argument("--budget", type=float, default=270.0, help="seconds after which rows are skipped")
    parser.add_argument("--linear", default="dense", choices=("dense", "krylov"),
                        help="the solver's linear algebra (SolverOptions.linear)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    widths = [int(w) for w in args.widths.split(",")]
    names = args.aggregations.split(",")
    unknown = [n for n in names if n not in AGGREGATIONS]
    if unknown:
        parser.error(f"--aggregations: unknown {unknown}; known: {', '.join(AGGREGATIONS)}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; jax {jax.__version__}; "
          f"devices: {', '.join(f'{d.platform}:{d.device_kind}' for d in jax.devices())}; "
          f"python {platform.python_version()}; {load_average()}", flush=True)
    cfg = load_config(ROOT / "sensitivity" / "configs" / "full.toml")
    problem = config_uncertainty(cfg).problem(cfg.groups)
    base = 16  # Saltelli base samples (a power of two); the design has base x (groups + 2) rows
    factors = len(set(problem.get("groups", problem["names"])))
    while base * (factors + 2) < max(widths) + 1:
        base *= 2
    pool = sample(problem, base, seed=1)[1:1 + max(widths)]  # distinct draws, not the central one
    years, sweeps, skipped = [], [], []
    for name in names:
        if time.perf_counter() - start > args.budget:
            skipped.append(f"{name}: one year and every width")
            continue
        years.append(one_year(name, linear=args.linear))
        print(table(years[-1:], list(years[-1])), flush=True)
        for w in widths:
            if time.perf_counter() - start > args.budget:
                skipped.append(f"{name}: width {w}")
                continue
            row = bench(name, AGGREGATIONS[name], w, w, pool, cfg, args.linear)
            sweeps.append(row)
            print(table(sweeps[-1:], list(sweeps[-1])), flush=True)
    print(f"\none year's equilibrium, cold (±10 % prices), median of 5 after compilation")
    print(table(years, ["aggregation", "solver", "unknowns", "compile_s", "year_ms", "converged"]) if years else "  none")
    print("\nsweep of the reference path, vmap_width = batch = w (second call, after compilation)")
    print(table(sweeps, ["aggregation", "solver", "vmap_width", "compile_s", "run_s", "paths_per_s", "failed"])
          if sweeps else "  none")
    if skipped:
        print(f"\nskipped (budget of {args.budget:.0f} s spent): {'; '.join(skipped)}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s; {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
