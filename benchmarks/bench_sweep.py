"""Benchmark of the parameter sweep (sensitivity/sweep.py): paths per second by chunk size and the time of
a full Sobol sweep.

    PYTHONPATH=. python benchmarks/bench_sweep.py [--aggregations two_regions counties] [--batches 1 8 64]
                                                  [--vmap] [--config sensitivity/configs/full.toml]

For each aggregation and chunk size B ("batch": the draws one compiled call evaluates) it runs a sweep of
the reference path only (one path per draw) over B distinct draws of the shipped uncertainty
(sensitivity/data/uncertainty.csv, a Saltelli design), twice: the first call compiles, the second is
timed. Rows: compile seconds, run seconds of the compiled chunk call and paths per second after
compilation, and the same for the whole ``run_sweep`` call (wall: checkpoint files, fsync, reading back). The default is
``vmap_width = 1`` (``lax.map``: the draws of a chunk one after the other); ``--vmap`` adds rows with
``vmap_width = B`` (all draws of the chunk side by side under ``vmap``) for B ≤ 8 — very slow to compile
and to run on the CPU, since under ``vmap`` the solver's ``lax.cond`` branches (Jacobian refresh,
Levenberg–Marquardt) run on every iteration.

Then the time of the Sobol sweep of ``--config`` (default full.toml: its draws × paths) is estimated from
the measured paths per second of the matching aggregation and the largest batch, plus one compilation.
Timings are wall-clock on a machine whose load is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import jax

from report import load_average, table  # benchmarks/report.py (the script's folder is on sys.path)

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.drivers import reference_model
from noreg_jax.solver import SolverOptions
from sensitivity.sobol import block_size, config_uncertainty, load_config, sample
from sensitivity.sweep import Headline, model_evaluator, run_sweep

AGGREGATIONS = {"counties": None, "two_regions": "two_regions.csv", "trondelag_rest": "trondelag_rest.csv"}
ROOT = Path(__file__).resolve().parents[1]


def bench(name, regions, batch, vmap_width, draws_pool, cfg, linear: str = "dense"):
    """Paths/s of a sweep of ``batch`` draws, ``vmap_width`` side by side, with the solver ``linear``."""
    model = reference_model(regions=regions)
    u = config_uncertainty(cfg)
    ev = model_evaluator(model, u, [], [Headline("gdp", "gross_product_mainland:ALL:2050")],
                         options=SolverOptions(linear=linear))
    draws = draws_pool[:batch]
    with tempfile.TemporaryDirectory() as tmp:
        first = run_sweep(draws, ev, Path(tmp) / "a", chunk_size=batch, vmap_width=vmap_width)
        start = time.perf_counter()
        second = run_sweep(draws, ev, Path(tmp) / "b", chunk_size=batch, vmap_width=vmap_width)
        run_s = time.perf_counter() - start
    compute_s = second.seconds  # the compiled chunk call alone
    return {"aggregation": name, "solver": linear, "batch": batch, "vmap_width": vmap_width, "compile_s": first.seconds - compute_s,
            "run_s": compute_s, "paths_per_s": batch / compute_s, "wall_s": run_s, "wall_paths_per_s": batch / run_s,
            "failed": second.n_failed}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--aggregations", nargs="+", default=["two_regions", "counties"], choices=list(AGGREGATIONS))
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8, 64])
    parser.add_argument("--vmap", action="store_true", help="also time vmap_width = batch for batches <= 8")
    parser.add_argument("--config", default=str(ROOT / "sensitivity" / "configs" / "full.toml"),
                        help="the Sobol config whose sweep time is estimated")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    problem = config_uncertainty(cfg).problem(cfg.groups)
    pool = sample(problem, 64, seed=1)[1: 1 + max(args.batches)]  # distinct draws, not the central one
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} cores; "
          f"jax {jax.__version__} on {jax.devices()[0].platform} ({jax.device_count()} device(s)); "
          f"python {platform.python_version()}")
    print(f"before: {load_average()}", flush=True)
    rows = []
    for name in args.aggregations:
        for batch in args.batches:
            rows.append(bench(name, AGGREGATIONS[name], batch, 1, pool, cfg))
            print(table(rows[-1:], list(rows[-1])), flush=True)
            if args.vmap and 1 < batch <= 8:
                rows.append(bench(name, AGGREGATIONS[name], batch, batch, pool, cfg))
                print(table(rows[-1:], list(rows[-1])), flush=True)
    print("\nreference path 2018–2050 per draw; run = second call (after compilation)")
    print(table(rows, ["aggregation", "batch", "vmap_width", "compile_s", "run_s", "paths_per_s", "wall_s",
                        "wall_paths_per_s", "failed"]))
    want = "counties" if cfg.regions is None else next((k for k, v in AGGREGATIONS.items() if v == cfg.regions), None)
    measured = [r for r in rows if r["aggregation"] == want and r["vmap_width"] == 1]
    if measured:
        best = max(measured, key=lambda r: r["batch"])
        n_draws = cfg.base_samples * block_size(problem, cfg.second_order)
        n_paths = n_draws * (1 + len(cfg.scenarios))
        seconds = n_paths / best["paths_per_s"] + best["compile_s"]
        print(f"\n{Path(args.config).name}: {n_draws} draws x {1 + len(cfg.scenarios)} paths = {n_paths} paths; "
              f"at {best['paths_per_s']:.2f} paths/s (batch {best['batch']}) + compilation: about "
              f"{seconds / 3600:.2f} h ({seconds / 60:.0f} min) on this machine, one process")
    print(f"\nafter: {load_average()}")


if __name__ == "__main__":
    main()
