"""How the cost grows with the number of regions: one table, a fitted exponent and a PNG.

    python benchmarks/bench_scale.py [--regions 2,5,11,22,44,88] [--linear dense,krylov] [--repeats 3] [--no-grad]
                                     [--out DIR]

Divisions: 2 = two_regions.csv, 5 = landsdeler.csv, 11 = the counties, 22 / 44 / 88 = every county split into
2 / 4 / 8 equal parts (``noreg_jax.data.split_mapping``: SYNTHETIC scaled copies, until sub-county data exist).
Each size and solver (``SolverOptions.linear``: the dense quasi-Newton, or the matrix-free Newton–Krylov with its
region-block preconditioner) runs in a process of its own, so its peak memory (``ru_maxrss``) is its own. Per row:

- unknowns of one year's system and the fraction of nonzeros of its Jacobian at the benchmark;
- compile time and median run time of one cold year (±10 % price start, ``noreg_jax.checks.perturbed_start``)
  and of the 2018–2050 reference path, with the Jacobians (dense LU factorisations, or block preconditioners
  built) and the Jacobian–vector products (krylov) each needs;
- scipy on the same jitted residual and the same stop (max|F| <= the JAX solver's tolerance, checked at every
  residual evaluation): ``root(method='hybr')`` (MINPACK, finite-difference Jacobian) up to 2,000 unknowns,
  ``root(method='krylov')`` beyond (a dense Jacobian would not fit the time); the ratio scipy / JAX;
- reverse-mode gradient of Trøndelag's 2050 population (or its region's) w.r.t. the whole model, and its
  ratio to a forward path (``--no-grad`` skips it).

The exponent k of time ∝ regions^k is a least-squares fit on log–log over the sizes measured. Timings are wall
clock on whatever machine runs the script; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DIVISIONS = {2: "two_regions.csv", 5: "landsdeler.csv", 11: None}
HYBR_LIMIT = 2000  # unknowns up to which scipy's hybr (dense finite-difference Jacobian) is run
DENSE_LIMIT = 4000  # unknowns up to which a dense Jacobian is formed for its density


def _economy(n_regions: int):
    from noreg_jax.data import aggregate_regions, load_benchmark, split_mapping
    from noreg_jax.parameters import DEFAULT_PARAMETER_DIR, Economy, load_economy, load_parameters

    if n_regions in DIVISIONS:
        return load_economy(regions=DIVISIONS[n_regions])
    if n_regions % 11:
        raise SystemExit(f"--regions: {n_regions} is not 2, 5 or a multiple of 11")
    b = load_benchmark()
    b = aggregate_regions(b, split_mapping(b.sets, {r: n_regions // 11 for r in b.sets.regions}))
    return Economy(b, load_parameters(b, DEFAULT_PARAMETER_DIR))


def _median(fn, repeats):
    import jax

    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = jax.block_until_ready(fn())
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


class _Reached(Exception):
    pass


def _scipy(residual, economy, x_start, tol, repeats):
    """Seconds for scipy to reach max|F| <= tol from x_start (None if it stops short), method, evaluations."""
    import jax.numpy as jnp
    import numpy as np
    import scipy.optimize

    x0 = np.asarray(x_start)
    method = "hybr" if x0.size <= HYBR_LIMIT else "krylov"
    options = {"xtol": 1e-14} if method == "hybr" else {"maxiter": 200, "fatol": tol}
    times, calls, reached = [], 0, False
    for _ in range(max(1, min(repeats, 2))):
        calls = 0

        def f(z):
            nonlocal calls
            calls += 1
            out = np.asarray(residual(jnp.asarray(z), economy))
            if np.all(np.isfinite(out)) and np.max(np.abs(out)) <= tol:
                raise _Reached
            return out

        t = time.perf_counter()
        try:
            scipy.optimize.root(f, x0, method=method, options=options)
            reached = False
        except _Reached:
            reached = True
        except (ValueError, np.linalg.LinAlgError):
            reached = False
        times.append(time.perf_counter() - t)
    return (statistics.median(times) if reached else None), method, calls


def measure(n_regions: int, repeats: int, grad: bool, linear: str = "dense") -> dict:
    """Every figure of one size and one solver (``SolverOptions.linear``), run in a process of its own."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import noreg_jax  # noqa: F401  (float64)
    from noreg_jax.checks import perturbed_start
    from noreg_jax.drivers import reference_model
    from noreg_jax.dynamics import require_path_converged, simulate
    from noreg_jax.equilibrium import benchmark_point, n_unknowns, residual, solve_equilibrium
    from noreg_jax.solver import SolverOptions, resolve_options

    economy = _economy(n_regions)
    b, s = economy.benchmark, economy.benchmark.sets
    # the krylov solver's dense rescue compiles a jacfwd Jacobian whose buffers (≈ 41 GB at 88 regions) the program
    # holds even when it never runs: the solver's own limit (DENSE_RESCUE_UNKNOWNS) turns it off
    options = resolve_options(SolverOptions(linear=linear), n_unknowns(b))
    row = {"regions": s.n_regions, "solver": linear, "unknowns": n_unknowns(b), "dense_rescue": options.dense_rescue}
    x_bench = benchmark_point(b)
    x_start = perturbed_start(economy, size=0.10, seed=0)
    residual_jit = jax.jit(residual)
    if row["unknowns"] <= DENSE_LIMIT:
        jac = np.asarray(jax.jit(jax.jacfwd(residual))(x_bench, economy))
        row["jacobian_density"] = float(np.count_nonzero(jac) / jac.size)
        del jac
    else:
        row["jacobian_density"] = float("nan")

    t = time.perf_counter()
    solve = jax.jit(lambda e, x: solve_equilibrium(e, x, options)).lower(economy, x_start).compile()
    row["compile_year_s"] = time.perf_counter() - t
    row["year_s"], (_, status) = _median(lambda: solve(economy, x_start), repeats)
    # dense: the Jacobian at the start, then refreshes; krylov: block preconditioners built (none before the loop)
    row["year_jacobians"] = int(status.jacobians) + (linear == "dense")
    row["year_matvecs"] = int(status.matvecs)
    row["year_converged"] = bool(status.converged)

    jax.block_until_ready(residual_jit(x_bench, economy))
    row["residual_ms"] = 1e3 * _median(lambda: residual_jit(x_start, economy), 20)[0]
    scipy_s, method, calls = _scipy(residual_jit, economy, x_start, SolverOptions().tol, repeats)
    row["scipy_method"], row["scipy_evaluations"] = method, calls
    row["scipy_year_s"] = scipy_s if scipy_s is not None else float("nan")
    row["scipy_ratio"] = scipy_s / row["year_s"] if scipy_s is not None else float("nan")

    model = reference_model(economy)
    path = jax.jit(lambda m: simulate(m, options))
    t = time.perf_counter()
    compiled_path = path.lower(model).compile()
    row["compile_path_s"] = time.perf_counter() - t
    row["path_s"], result = _median(lambda: compiled_path(model), repeats)
    require_path_converged(result, model)
    row["path_jacobians"] = int(np.asarray(result.jacobians).sum()) + (linear == "dense")  # + the one at the start
    row["path_matvecs"] = int(np.asarray(result.matvecs).sum())

    if grad:
        tro = next(k for k, name in enumerate(s.region_names) if "Trøndelag" in name)

        def outcome(m):
            return simulate(m, options).outcomes["population"][-1, tro].sum()

        t = time.perf_counter()
        gradient = jax.jit(jax.grad(outcome)).lower(model).compile()
        row["compile_gradient_s"] = time.perf_counter() - t
        row["gradient_s"], g = _median(lambda: gradient(model), repeats)
        row["gradient_ratio"] = row["gradient_s"] / row["path_s"]
        row["gradient_finite"] = all(bool(jnp.all(jnp.isfinite(a))) for a in jax.tree_util.tree_leaves(g))
    row["peak_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def fitted_exponent(sizes, times) -> float:
    """k of time ∝ regions^k, least squares on log–log (NaN with fewer than two finite points)."""
    import numpy as np

    pts = [(np.log(n), np.log(t)) for n, t in zip(sizes, times) if t and np.isfinite(t) and t > 0]
    if len(pts) < 2:
        return float("nan")
    x, y = map(np.array, zip(*pts))
    return float(np.polyfit(x, y, 1)[0])


COLUMNS = [("regions", "regions"), ("solver", "solver"), ("unknowns", "unknowns"), ("jacobian_density", "J density"),
           ("residual_ms", "F ms"), ("compile_year_s", "compile year s"), ("year_s", "year s"),
           ("year_jacobians", "year J"), ("year_matvecs", "year Jv"),
           ("scipy_method", "scipy"), ("scipy_year_s", "scipy year s"), ("scipy_ratio", "scipy/JAX"),
           ("compile_path_s", "compile path s"), ("path_s", "path s"), ("path_jacobians", "path J"),
           ("path_matvecs", "path Jv"),
           ("gradient_s", "gradient s"), ("gradient_ratio", "grad/path"), ("peak_memory_mb", "peak MB")]


def _cell(v) -> str:
    if isinstance(v, float):
        return "—" if v != v else (f"{v:.3g}" if abs(v) >= 0.01 else f"{v:.2e}")
    return "—" if v is None else str(v)


def format_table(rows: list[dict]) -> str:
    cells = [[_cell(r.get(k)) for k, _ in COLUMNS] for r in rows]
    heads = [h for _, h in COLUMNS]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(heads, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(c, widths)) for c in cells]
    return "\n".join(lines)


def plot(rows: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5.0), layout="constrained")
    solvers = list(dict.fromkeys(r.get("solver", "dense") for r in rows))
    for linear, style in zip(solvers, ("o-", "s--")):
        mine = [r for r in rows if r.get("solver", "dense") == linear]
        sizes = [r["regions"] for r in mine]
        series = (("year_s", "one year (cold)"), ("path_s", "path 2018–2050"), ("gradient_s", "path gradient"))
        if linear == solvers[0]:
            series += (("scipy_year_s", "scipy, one year"),)
        for key, label in series:
            ys = [r.get(key, float("nan")) for r in mine]
            if any(y == y for y in ys):
                name = label if key.startswith("scipy") else f"{linear}: {label}"
                ax.loglog(sizes, ys, style, label=f"{name} (k = {fitted_exponent(sizes, ys):.2f})")
    ax.set_xlabel("regions")
    ax.set_ylabel("seconds (after compilation)")
    ax.set_title("NOREG-JAX: cost against the number of regions")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    path = out / "bench_scale.png"
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=150)
    os.replace(tmp, path)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", default="2,5,11,22", help="comma-separated sizes (2, 5 or multiples of 11)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (median)")
    parser.add_argument("--no-grad", action="store_true", help="skip the path gradient")
    parser.add_argument("--out", default="results/bench_scale", help="folder of the PNG and the rows (JSON)")
    parser.add_argument("--linear", default="dense,krylov",
                        help="comma-separated solvers (SolverOptions.linear): dense, krylov")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)  # internal: one size, JSON out
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(measure(args.one, args.repeats, not args.no_grad, args.linear)))
        return 0
    sizes = [int(v) for v in args.regions.split(",")]
    try:
        load = "load average %.2f %.2f %.2f (1, 5, 15 min)" % os.getloadavg()
    except OSError:
        load = "load average unavailable"
    print(f"{os.cpu_count()} cores, {load} at start")
    solvers = [v.strip() for v in args.linear.split(",")]
    unknown = [v for v in solvers if v not in ("dense", "krylov")]
    if unknown:
        parser.error(f"--linear: {unknown[0]!r} is not a solver (dense, krylov)")
    rows, failed = [], []
    for n in sizes:
        for linear in solvers:
            cmd = [sys.executable, __file__, "--one", str(n), "--repeats", str(args.repeats), "--linear", linear]
            cmd += ["--no-grad"] if args.no_grad else []
            t = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{n} regions, {linear} solver, failed after {time.perf_counter() - t:.0f} s:\n"
                      f"{done.stderr[-2000:]}", file=sys.stderr)
                failed.append(f"{n} regions ({linear})")
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"  {n} regions, {linear} solver, measured in {time.perf_counter() - t:.0f} s", flush=True)
    print()
    print(format_table(rows))
    print()
    for linear in solvers:
        mine = [r for r in rows if r["solver"] == linear]
        sizes = [r["regions"] for r in mine]
        for key, label in (("year_s", "one cold year"), ("path_s", "path"), ("gradient_s", "path gradient"),
                           ("compile_path_s", "path compile"), ("peak_memory_mb", "peak memory")):
            k = fitted_exponent(sizes, [r.get(key) for r in mine])
            print(f"fitted exponent, {linear} solver, {label}: ∝ regions^{k:.2f}")
    try:
        print("load average %.2f %.2f %.2f at the end" % os.getloadavg())
    except OSError:
        pass
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "bench_scale.json.tmp"
    tmp.write_text(json.dumps(rows, indent=1))
    os.replace(tmp, out / "bench_scale.json")
    print(f"written: {plot(rows, out)}, {out / 'bench_scale.json'}")
    if failed:
        print(f"failed (not in the table; their errors are above): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
