"""Education-biased technical change (calibration/education_bias.py): the target path, the fixed point
through equilibrium paths, and the shipped driver file (which must be current for the shipped model)."""

from __future__ import annotations

import numpy as np
import pytest

import noreg_jax  # noqa: F401  (float64)
from calibration.education_bias import _simulate, calibrate, national_premia, target_premia
from noreg_jax.drivers import REFERENCE_DIR, reference_model, scalars
from noreg_jax.dynamics import require_path_converged
from noreg_jax.outcomes import wage_per_person

EDUCATION = ("low", "voc", "bach", "mast")
YEARS = tuple(range(2018, 2051))


def test_target_path_keeps_tertiary_premia_and_closes_the_voc_bach_gap():
    base = np.array([1.0, 1.1, 1.4, 1.7])
    t = target_premia(base, EDUCATION, YEARS, 0.5)
    np.testing.assert_allclose(t[0], base, rtol=1e-15)
    np.testing.assert_allclose(t[:, 2:], np.tile(base[2:], (len(YEARS), 1)), rtol=1e-15)
    ratio = t[:, 1] / t[:, 2]
    assert ratio[-1] == pytest.approx(1.1 / 1.4 + 0.5 * (1 - 1.1 / 1.4), rel=1e-14)
    np.testing.assert_allclose(np.diff(ratio), np.diff(ratio)[0], rtol=1e-10)  # linear in the year
    assert (t[:, 1] < t[:, 2]).all()  # voc approaches bach from below


def _premia(model):
    result = require_path_converged(_simulate(model), model)
    return result, national_premia(result.outcomes, wage_per_person(model.economy))


def test_calibration_reaches_the_targets_on_an_aggregation():
    model = reference_model(regions="trondelag_rest.csv")
    index, targets, history = calibrate(model, 0.5, tol=1e-7)
    assert history[-1] < 1e-7 and history[0] > 1e-3  # it had work to do and did it
    from calibration.education_bias import _with_labour_productivity

    calibrated = _with_labour_productivity(model, np.log(index))
    result, premia = _premia(calibrated)
    np.testing.assert_allclose(premia, targets, rtol=1e-6)
    # the bias is neutral for aggregate productivity: wage-bill-weighted yearly increments of log A are 0
    wpp = np.asarray(wage_per_person(model.economy))
    bill = (np.asarray(result.outcomes["residence_wage"]) * wpp[None]
            * np.asarray(result.outcomes["labour_force"])).sum(1)
    shares = bill / bill.sum(axis=1, keepdims=True)
    increments = np.diff(np.log(index), axis=0, prepend=0.0)
    assert np.abs((increments * shares).sum(axis=1)).max() < 1e-5
    # tertiary groups need rising relative productivity as their share rises
    assert index[-1, 2] / index[-1, 0] > 1.5 and index[-1, 3] / index[-1, 0] > 1.5


def test_the_shipped_bias_is_current_premia_stay_ordered_and_no_industry_explodes():
    """The shipped labour_productivity.csv reproduces its targets on the shipped model (re-run
    ``python -m calibration.education_bias`` after a change), no county inverts a premium, and on the same
    reference path no industry's national real gross product grows more than ×3 by 2050 (3.5 %/yr; before
    finite export demand basic metals grew ×12.9) and none but petroleum shrinks."""
    model = reference_model()
    result, premia = _premia(model)
    b = model.economy.benchmark
    wpp = np.asarray(wage_per_person(model.economy))
    base = (wpp * np.asarray(b.labour_force)).sum(0) / np.asarray(b.labour_force).sum(0)
    targets = target_premia(base / base[0], tuple(b.sets.education), model.drivers.years,
                            scalars(REFERENCE_DIR)["voc_bach_gap_closed_by_2050"])
    np.testing.assert_allclose(premia, targets, rtol=1e-5)
    per_person = np.asarray(result.outcomes["residence_wage"]) * wpp[None]  # [t, r, e] of the residents
    assert (np.diff(per_person, axis=2) > 0).all(), "an education premium inverts in some county and year"
    national = np.asarray(result.outcomes["gross_product"]).sum(axis=1)  # [t, j]
    growth = dict(zip(b.sets.sectors, national[-1] / national[0]))
    assert max(growth.values()) < 3.0, growth
    assert all(g > 1.0 for code, g in growth.items() if code != "PETRO"), growth
