"""Print the textbook models' published results beside NOREG-JAX's (``python benchmarks/textbook_models.py``).

Stylized Johansen (GEMPACK manual ch. 3) and the MPSGE two-by-two economy (Markusen, M1_MPS), solved
with the default solver tolerance (1e-10) and a tight one (1e-14).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import noreg_jax  # noqa: E402,F401
from noreg_jax.solver import SolverOptions  # noqa: E402
from noreg_jax.textbook import solve_stylized_johansen, solve_two_by_two  # noqa: E402


def main():
    rows = []
    for tol in (1e-10, 1e-14):
        options = SolverOptions(tol=tol)
        sj = solve_stylized_johansen(0.10, options=options)
        rows += [
            ("SJ  Y %", 5.88528, float(sj["household_income_pct"]), tol),
            ("SJ  XH(2) %", 6.8993, float(sj["household_demand_pct"][1]), tol),
            ("SJ  PC(2) %", -0.9486, float(sj["price_pct"][1]), tol),
        ]
        cd = solve_two_by_two(77.0, options=options)
        ces = solve_two_by_two(77.0, sigma_x=0.5, sigma_y=0.6, options=options)
        rows += [
            ("2x2 CD  X", 1.0488088481701514, float(cd["X"]), tol),
            ("2x2 CD  PL", 0.95346258924559202, float(cd["PL"]), tol),
            ("2x2 CES X", 1.0505065382343373, float(ces["X"]), tol),
            ("2x2 CES PL", 0.9131639599518202, float(ces["PL"]), tol),
        ]
    print(f"{'result':<12} {'solver tol':>10} {'published':>22} {'NOREG-JAX':>22} {'rel. diff':>10}")
    for name, published, ours, tol in rows:
        print(f"{name:<12} {tol:>10.0e} {published:>22.17g} {ours:>22.17g} {abs(ours / published - 1):>10.2e}")


if __name__ == "__main__":
    main()
