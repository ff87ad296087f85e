"""Benchmark of path gradients (sensitivity/gradients.py): one forward path against the full gradient of one
2050 outcome with respect to every elasticity-type parameter (and shock size), after compilation.

    PYTHONPATH=. python benchmarks/bench_gradients.py [--repeats 3] [--aggregations two_regions counties]
                                                      [--scenario scenarios/further_education.toml]

Rows, per aggregation: compile time of the forward path and of its reverse pass, the forward run time
(median of ``--repeats``), the reverse pass alone (``path_vjp``: forward + backward, given the outcome's
cotangent), the full gradient as :func:`~sensitivity.gradients.path_gradients` computes it (a forward path for
the cotangent, then the reverse pass), and their ratios to one forward path. With ``--scenario`` the outcome is
the scenario effect (two paths in each call). Timings are wall-clock; the machine's load is printed before and
after, since other processes sharing the cores slow every figure down.

Where the time goes: the forward path reuses Jacobian factors across iterations and years (a handful of LU
factorisations for 33 years). Each year's derivative pass through ``solver.solve`` solves Jᵀλ = ḡ by GMRES
preconditioned with that year's final quasi-Newton inverse (a few vector–Jacobian products), so the reverse
pass costs about as much as the forward path; the dense Jacobian is built only where GMRES falls short.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import jax

from report import load_average, table  # benchmarks/report.py (the script's folder is on sys.path)

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.drivers import reference_model
from noreg_jax.equilibrium import n_unknowns
from noreg_jax.scenarios import parse_scenario
from noreg_jax.solver import SolverOptions
from sensitivity import gradients as G
from sensitivity.outcomes import parse_outcome

AGGREGATIONS = {"counties": None, "two_regions": "two_regions.csv", "trondelag_rest": "trondelag_rest.csv",
                "landsdeler": "landsdeler.csv"}
OUTCOME = {"counties": "population:TRO:2050", "trondelag_rest": "population:TRO:2050",
           "two_regions": "population:REST:2050", "landsdeler": "population:TROL:2050"}


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args, **kwargs))
    return time.perf_counter() - start, out


def _median(fn, repeats, *args, **kwargs):
    return statistics.median(_timed(fn, *args, **kwargs)[0] for _ in range(repeats))


def bench(name, regions, repeats, scenario_file, options):
    model = reference_model(regions=regions)
    scenarios = (parse_scenario(scenario_file, model),) if scenario_file else ()
    spec = OUTCOME[name]
    outcome = parse_outcome(spec, model)
    theta = G.elasticity_parameters(model, scenarios)
    index = 1 if scenarios else None
    first_fwd, (observed, status) = _timed(G.forward, theta, model, scenarios, options=options)
    G.require_converged(status, model.drivers.years)
    fwd = _median(G.forward, repeats, theta, model, scenarios, options=options)
    cotangent = jax.grad(lambda o: G.outcome_value(outcome, o, model, index))(observed)
    first_vjp, _ = _timed(G.path_vjp, theta, model, scenarios, cotangent, options=options)
    vjp = _median(G.path_vjp, repeats, theta, model, scenarios, cotangent, options=options)
    full = _median(G.path_gradients, repeats, model, spec, scenarios[0] if scenarios else None, options=options)
    return {"aggregation": name, "unknowns": n_unknowns(model.economy.benchmark),
            "outcome": spec + (" (effect)" if scenarios else ""), "parameters": sum(
                int(x.size) for x in jax.tree_util.tree_leaves(theta)),
            "fwd_compile_s": first_fwd - fwd, "vjp_compile_s": first_vjp - vjp, "forward_s": fwd,
            "reverse_s": vjp, "gradient_s": full, "reverse/forward": vjp / fwd, "gradient/forward": full / fwd}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--aggregations", nargs="+", default=["two_regions", "counties"], choices=AGGREGATIONS)
    parser.add_argument("--scenario", default=None, help="differentiate this scenario's effect instead")
    parser.add_argument("--tol", type=float, default=SolverOptions().tol)
    args = parser.parse_args(argv)
    print(f"jax {jax.__version__} on {jax.default_backend()}, {os.cpu_count()} cores; {load_average()}")
    rows = [bench(name, AGGREGATIONS[name], args.repeats, args.scenario, SolverOptions(tol=args.tol))
            for name in args.aggregations]
    print(table(rows, list(rows[0])))
    print(load_average())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
