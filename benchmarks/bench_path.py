"""Benchmark of the 2018–2050 reference path (docs/model.md "The path 2018–2050"): compile and run time, solver
work per year, and the cost of a reverse-mode gradient through the whole path.

    PYTHONPATH=. python benchmarks/bench_path.py [--repeats 5] [--aggregations counties two_regions landsdeler]
                                                 [--no-grad]

For each aggregation of the counties it prints one row of the path table: compile time (first call
minus a run), run time after compilation (median of ``--repeats``), quasi-Newton iterations per year
(min/mean/max over the years after 2018), Jacobian evaluations (LU factorisations) per path
(including the one at the benchmark that starts the path), and paths per second. The gradient table
times ``jax.grad`` of one 2050 outcome (the population of Trøndelag, or of the region that contains
it) with respect to the whole :class:`~noreg_jax.dynamics.PathModel`, after compilation, and its ratio
to one forward path. Timings are wall-clock; the machine's load is printed before and after, since
other processes sharing the cores slow every figure down.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax
import numpy as np

from report import load_average, table  # benchmarks/report.py (the script's folder is on sys.path)

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.drivers import reference_model
from noreg_jax.dynamics import require_path_converged, simulate
from noreg_jax.equilibrium import n_unknowns
from noreg_jax.parameters import load_economy

AGGREGATIONS = {"counties": None, "two_regions": "two_regions.csv", "landsdeler": "landsdeler.csv",
                "trondelag_rest": "trondelag_rest.csv"}
TRONDELAG = ("TRO", "TROL", "REST")  # the region holding Trøndelag, by aggregation


def _timed(fn, *args):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return time.perf_counter() - start, out


def _median_time(fn, args, repeats):
    return statistics.median(_timed(fn, *args)[0] for _ in range(repeats))


def bench_path(name, regions, repeats, grad):
    model = reference_model(load_economy(regions=regions))
    s = model.economy.benchmark.sets
    forward = jax.jit(simulate)
    first, result = _timed(forward, model)
    require_path_converged(result, model)
    run = _median_time(forward, (model,), repeats)
    its = np.asarray(result.iterations)[1:]  # 2018 is the benchmark: no iterations
    row = {"aggregation": name, "shape": f"{s.n_regions}x{s.n_sectors}x{s.n_education}",
           "unknowns": n_unknowns(model.economy.benchmark), "years": len(model.drivers.years),
           "compile_s": first - run, "run_s": run, "it_min": int(its.min()), "it_mean": float(its.mean()),
           "it_max": int(its.max()), "jacobians": int(np.asarray(result.jacobians).sum()) + 1,
           "paths_per_s": 1.0 / run}
    if not grad:
        return row, None
    region = next(r for r in TRONDELAG if r in s.regions)
    r = s.region(region)
    outcome = lambda m: simulate(m).outcomes["population"][-1, r].sum()
    gradient = jax.jit(jax.grad(outcome))
    gfirst, g = _timed(gradient, model)
    finite = all(bool(np.isfinite(np.asarray(leaf)).all()) for leaf in jax.tree_util.tree_leaves(g))
    grun = _median_time(gradient, (model,), repeats)
    grow = {"aggregation": name, "outcome": f"population[{region}, 2050]", "compile_s": gfirst - grun,
            "run_s": grun, "ratio": grun / run, "finite": finite,
            "d/d beta": " ".join(f"{v:.3g}" for v in np.asarray(g.dynamics.migration_beta))}
    return row, grow


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs after compilation (median; at least 3)")
    parser.add_argument("--aggregations", nargs="+", default=["counties", "two_regions", "landsdeler"],
                        choices=list(AGGREGATIONS))
    parser.add_argument("--no-grad", action="store_true", help="skip the gradient timings")
    args = parser.parse_args(argv)
    repeats = max(3, args.repeats)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores; "
          f"jax {jax.__version__} on {jax.devices()[0].platform}; python {platform.python_version()}")
    print(f"before: {load_average()}")
    rows, grows = [], []
    for name in args.aggregations:
        row, grow = bench_path(name, AGGREGATIONS[name], repeats, not args.no_grad)
        rows.append(row)
        if grow:
            grows.append(grow)
    print(f"\nreference path {rows[0]['years']} years, default SolverOptions; run = median of {repeats}")
    print(table(rows, ["aggregation", "shape", "unknowns", "compile_s", "run_s", "it_min", "it_mean", "it_max",
                        "jacobians", "paths_per_s"]))
    if grows:
        print("\njax.grad of one 2050 outcome w.r.t. the whole PathModel (run = median after compilation; "
              "ratio = gradient / forward path)")
        print(table(grows, ["aggregation", "outcome", "compile_s", "run_s", "ratio", "finite", "d/d beta"]))
    print(f"\nafter: {load_average()}")


if __name__ == "__main__":
    main()
