"""Education-biased technical change on the reference path, calibrated by the model itself (docs/model.md,
"Education-biased technical change").

The higher-education share rises from 35 % to 51 % of the population by 2050 while the low-educated share
halves. With fixed shares in the labour nest the scarce low-educated would become the best paid by the
2040s. Labour-augmenting productivity A_L[e, t] (national, the same in every region) is therefore chosen so
that the *national* average wage per employed person relative to the low-educated follows a stated target
path (:func:`target_premia`):

* bach/low and mast/low stay at their 2018 values (ASSUMED: no trend in the tertiary premium is asserted);
* voc/low rises so that the voc/bach ratio closes ``voc_bach_gap_closed_by_2050`` of its gap to 1 by 2050,
  linearly (the article: "the vocational wage approaches the bachelor wage").

A_L is normalised year by year so that Σ_e s_e,t Δlog A_L[e, t] = 0, s_e,t the national wage-bill shares of
year t on the path (a Divisia index of the bias is flat): the bias moves relative wages, not aggregate
productivity, which the TFP path sets (Perspektivmeldingen's 1 %/yr already includes all sources).

Method: a damped fixed point through full equilibrium paths (every year's equilibrium, migration and
capital accumulation included): log A_e ← log A_e + κ (log target_e − log achieved_e) for e ≠ low, then
normalised. With σ > 1 a higher A_e raises group e's wage; κ = 1.5 ≈ 1 / (1 − 1/σ_N) makes the step on the
non-tertiary pair nearly exact and halves the error of the tertiary aggregate each iteration.

Run ``python -m calibration.education_bias`` to rewrite ``noreg_jax/data/reference/labour_productivity.csv``
after any change to the model, the benchmark or the other drivers.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import equinox as eqx
import jax
import numpy as np

from noreg_jax.dynamics import PathModel, simulate, require_path_converged
from noreg_jax.output_files import atomic_output

OUT_FILE = Path(__file__).resolve().parent.parent / "noreg_jax" / "data" / "reference" / "labour_productivity.csv"
SOURCE = ("CALIBRATED by python -m calibration.education_bias: national labour-augmenting productivity that keeps "
          "bach/low and mast/low earnings per person at 2018 and lets voc/bach close part of its gap "
          "(docs/model.md)")

_simulate = jax.jit(simulate)


class CalibrationError(RuntimeError):
    """The fixed point did not reach the target premia."""


def national_premia(outcomes: dict, wage_per_person) -> np.ndarray:
    """National average nominal wage per employed person relative to the first group [t, e].

    ``outcomes`` are a path's year outcomes (``residence_wage`` [t, r, e], ``labour_force`` [t, r, e]);
    ``wage_per_person`` [r, e] the benchmark wage bill per person.
    """
    wage = np.asarray(outcomes["residence_wage"]) * np.asarray(wage_per_person)[None]
    workers = np.asarray(outcomes["labour_force"])
    mean = (wage * workers).sum(axis=1) / workers.sum(axis=1)
    return mean / mean[:, :1]


def target_premia(base: np.ndarray, education: tuple, years: tuple, gap_closed_by_2050: float) -> np.ndarray:
    """Target national premia [t, e] (relative to ``education[0]``) from the 2018 premia ``base`` [e]."""
    v, b = education.index("voc"), education.index("bach")
    out = np.tile(np.asarray(base, dtype=float), (len(years), 1))
    ratio0 = base[v] / base[b]
    progress = (np.asarray(years) - years[0]) / (years[-1] - years[0])
    out[:, v] = base[b] * (ratio0 + (1.0 - ratio0) * gap_closed_by_2050 * progress)
    return out


def _with_labour_productivity(model: PathModel, log_index: np.ndarray) -> PathModel:
    T, R = len(model.drivers.years), model.economy.benchmark.sets.n_regions
    full = np.broadcast_to(np.exp(log_index)[:, None, :], (T, R, log_index.shape[1]))
    return eqx.tree_at(lambda m: m.drivers.labour_productivity, model, jax.numpy.asarray(full))


def calibrate(model: PathModel, gap_closed_by_2050: float, step: float = 1.5, tol: float = 1e-6,
              max_iter: int = 60, verbose: bool = False):
    """Labour productivity index [t, e] (national) that makes the path's premia hit the targets.

    Returns (index, targets, history) where history lists the max |log error| per iteration.
    """
    b = model.economy.benchmark
    s = b.sets
    wpp = np.asarray(b.wage_income / b.labour_force)
    base = (wpp * np.asarray(b.labour_force)).sum(0) / np.asarray(b.labour_force).sum(0)
    targets = target_premia(base / base[0], tuple(s.education), tuple(model.drivers.years), gap_closed_by_2050)
    log_a = np.zeros((len(model.drivers.years), s.n_education))
    history = []
    for it in range(max_iter):
        m = _with_labour_productivity(model, log_a)
        result = require_path_converged(_simulate(m), m)
        error = np.log(targets) - np.log(national_premia(result.outcomes, wpp))
        bill = (np.asarray(result.outcomes["residence_wage"]) * wpp[None]
                * np.asarray(result.outcomes["labour_force"])).sum(1)
        shares = bill / bill.sum(axis=1, keepdims=True)  # [t, e] national wage-bill shares on the path
        history.append(float(np.abs(error).max()))
        if verbose:
            print(f"  iteration {it}: max |log premium error| {history[-1]:.2e}", flush=True)
        if history[-1] < tol:
            return np.exp(log_a), targets, history
        log_a[:, 1:] += step * error[:, 1:]
        increments = np.diff(log_a, axis=0, prepend=0.0)
        log_a = np.cumsum(increments - (increments * shares).sum(axis=1, keepdims=True), axis=0)
    raise CalibrationError(f"education-biased technical change: premia not within {tol:g} of the targets after "
                           f"{max_iter} paths (max |log error| {history[-1]:.3g}; history {history[-5:]})")


def write(index: np.ndarray, education, years, out: Path = OUT_FILE) -> Path:
    """Write ``labour_productivity.csv`` atomically (temporary file in the same folder, then rename)."""
    out = Path(out)
    with atomic_output(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["year", "education", "index", "source"])
        for t, y in enumerate(years):
            for e, code in enumerate(education):
                w.writerow([y, code, f"{index[t, e]:.12f}", SOURCE])
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(OUT_FILE), help="output CSV (default: the shipped driver file)")
    args = parser.parse_args(argv)
    from noreg_jax.drivers import REFERENCE_DIR, reference_model, scalars

    model = reference_model()
    gap = scalars(REFERENCE_DIR)["voc_bach_gap_closed_by_2050"]
    index, targets, history = calibrate(model, gap, verbose=True)
    s = model.economy.benchmark.sets
    path = write(index, s.education, model.drivers.years, Path(args.out))
    print(f"wrote {path} after {len(history)} paths; 2050 index "
          + ", ".join(f"{e} {v:.4f}" for e, v in zip(s.education, index[-1]))
          + "; 2050 target premia " + ", ".join(f"{e} {v:.3f}" for e, v in zip(s.education, targets[-1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
