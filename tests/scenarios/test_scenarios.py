"""Scenarios (docs/model.md "Scenarios"): scenario files as data, what they do to the drivers, the signs the article
reports, batched runs, the validation of malformed files, the cached reference path, and derivatives
in the size of a shock.

Everything runs on the three-region aggregation ``trondelag_rest.csv`` (OSVI, REST, TRO). Three
compilations in all: ``runs._simulate`` (the reference path, the cache and the scenarios one by one),
``runs._simulate_batch`` (the two article scenarios as one batch) and one ``jax.value_and_grad`` of
mainland GDP in the shock size under :data:`TIGHT`, whose values at shifted shock sizes give the finite
differences. The batch is kept to two paths: under ``vmap`` the solver's data-dependent branches
(Jacobian refresh, Levenberg–Marquardt) are evaluated in every iteration, so each path of a batch
takes tens of seconds where an unbatched path takes about one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.cli import main
from noreg_jax.drivers import reference_model
from noreg_jax.dynamics import simulate
from noreg_jax.results import PETROLEUM, mainland, scenario_headline
from noreg_jax.runs import cached_reference, fingerprint, run_reference, run_scenarios, scenario_models
from noreg_jax.scenarios import (
    DRIVERS,
    Scenario,
    ScenarioError,
    apply_scenario,
    parse_scenario,
    scale_shocks,
)
from noreg_jax.solver import SolverOptions

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_DIR = ROOT / "scenarios"
AGGREGATION = "trondelag_rest.csv"
S1, S2 = "trondelag_vocational", "further_education"
HALF = f"{S1}_x0.5"
TIGHT = SolverOptions(tol=1e-12)
FD_STEP = 1e-3  # relative step of the central difference in the shock size
FD_RTOL = 1e-5
# Batched vs one by one: each path stops at max|F| <= 1e-10 (the default tolerance) and vmap's kernels
# round differently, so the two are two points within the solver's tolerance of the same root; they
# differ by up to ~2e-10 relative (rental rates, migration), never more than BATCH_TOL.
BATCH_TOL = 1e-9


def _rel(a, b):
    """max |a − b| / max |b| (relative to the size of the reference array)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _assert_same_path(a, b, tol, what=""):
    """Every outcome of two results datasets agrees to ``tol`` (relative to its size; the solver's
    diagnostics are not outcomes)."""
    variables = [v for v in b.data_vars if "units" in b[v].attrs]
    assert "migration" in variables and "gross_product" in variables
    for var in variables:
        assert _rel(a[var], b[var]) <= tol, f"{what}: {var} differs by {_rel(a[var], b[var]):.2e}"


# ---------------------------------------------------------------------------------------------
# fixtures: the model, the article's scenarios, the reference path and the scenario paths


@pytest.fixture(scope="module")
def model():
    return reference_model(regions=AGGREGATION)


@pytest.fixture(scope="module")
def sets(model):
    return model.economy.benchmark.sets


@pytest.fixture(scope="module")
def scenarios(model):
    """The article's two scenarios as shipped, and scenario 1 at half its size."""
    s1 = parse_scenario(SCENARIO_DIR / f"{S1}.toml", model)
    s2 = parse_scenario(SCENARIO_DIR / f"{S2}.toml", model)
    half = scale_shocks(s1, 0.5)
    half = Scenario(HALF, half.description, half.shocks, half.overrides)
    return {S1: s1, S2: s2, HALF: half}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def reference(model, cache_dir):
    """The reference path, solved (the cache is empty) and cached."""
    ds, reused = cached_reference(model, cache_dir)
    assert not reused
    return ds


@pytest.fixture(scope="module")
def batch(model, scenarios):
    """The article's two scenarios solved as one batch (one ``run_scenarios`` call)."""
    out = run_scenarios(model, [scenarios[S1], scenarios[S2]])
    return {ds.attrs["name"]: ds for ds in out}


@pytest.fixture(scope="module")
def one_by_one(model, scenarios):
    """The two scenarios and scenario 1 at half its size, each solved alone (the unbatched path, as the
    reference is: no new compilation)."""
    return {name: run_reference(apply_scenario(model, sc)) for name, sc in scenarios.items()}


# ---------------------------------------------------------------------------------------------
# a scenario without shocks is the reference


def test_a_scenario_without_shocks_is_the_reference(model, reference, tmp_path):
    path = tmp_path / "nothing.toml"
    path.write_text('name = "nothing"\ndescription = "no shocks, no overrides"\n')
    with pytest.warns(UserWarning, match="no shocks and no parameter overrides"):
        scenario = parse_scenario(path, model)
    assert scenario.shocks == () and scenario.overrides == ()
    shocked = apply_scenario(model, scenario)
    for name in [n for n in DRIVERS if n != "workers"] + ["worker_shift"]:
        assert np.array_equal(getattr(shocked.drivers, name), getattr(model.drivers, name)), name
    assert fingerprint(shocked) == fingerprint(model)  # every leaf and label of the model is the same
    _assert_same_path(run_reference(shocked), reference, 1e-12, "no shocks vs reference")


# ---------------------------------------------------------------------------------------------
# scenario 1 moves workers from low to vocational education in Trøndelag, and creates none


def test_scenario_1_moves_the_stated_workers(model, sets, scenarios):
    """1 %/yr of Trøndelag's vocational *employed* (≈ 7,800 by 2035 in the article), from the low-educated."""
    shocked = apply_scenario(model, scenarios[S1]).drivers
    d = model.drivers
    employed = np.asarray(d.population * d.participation + d.worker_shift)
    shift = np.asarray(shocked.worker_shift)
    years = np.asarray(d.years)
    tro, low, voc = sets.region("TRO"), sets.education.index("low"), sets.education.index("voc")
    k = np.clip(years - 2024, 0, 11)  # shocked years so far: 0 before 2025, 11 from 2035 on
    moved = employed[:, tro, voc] * (1.01 ** k - 1.0)  # thousand workers
    assert np.all(moved[years < 2025] == 0.0) and np.all(moved[years >= 2025] > 0.0)
    assert 6.0 < moved[years == 2035][0] < 11.0  # thousand workers: the article's order (≈ 7.8)
    np.testing.assert_allclose(shift[:, tro, voc], moved, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(shift[:, tro, low], -moved, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(shift.sum(axis=2), 0.0, atol=1e-12)  # no person is created
    untouched = np.ones(shift.shape, dtype=bool)
    untouched[:, tro, [low, voc]] = False
    assert np.all(shift[untouched] == 0.0)
    for name in [n for n in DRIVERS if n != "workers"]:
        assert np.array_equal(getattr(shocked, name), getattr(d, name)), name


def test_a_worker_shift_moves_labour_supply_one_for_one(model, sets, scenarios):
    """In the year's economy the moved persons are all employed: labour supply and population shift alike."""
    from noreg_jax.dynamics import PathState, year_economy, yearly_drivers

    shocked = apply_scenario(model, scenarios[S1])
    t = list(model.drivers.years).index(2035)
    zero = jnp.zeros_like(model.economy.params.population)
    state = PathState(None, None, model.economy.params.capital_stock, zero, jnp.asarray(True))

    def economy_of(m):
        d = {n: v[t] for n, v in yearly_drivers(m.drivers).items()}
        return year_economy(m, d, state).params

    before, after = economy_of(model), economy_of(shocked)
    shift = np.asarray(shocked.drivers.worker_shift[t])
    np.testing.assert_allclose(np.asarray(after.labour_supply - before.labour_supply), shift, atol=1e-12)
    np.testing.assert_allclose(np.asarray(after.population - before.population), shift, atol=1e-12)


def test_a_scaled_scenario_scales_the_shock_value(model, sets, scenarios):
    """Half the value is 0.5 %/yr compounding (not half the workers); ``scenario_models`` labels each scale."""
    labelled = dict(scenario_models(model, [scenarios[S1]], scales=(1.0, 0.5)))
    assert set(labelled) == {f"{S1}_x1", f"{S1}_x0.5"}
    d = model.drivers
    years = np.asarray(d.years)
    tro, voc = sets.region("TRO"), sets.education.index("voc")
    before = np.asarray(d.population * d.participation)[:, tro, voc]
    for label, rate in ((f"{S1}_x1", 1.01), (f"{S1}_x0.5", 1.005)):
        shift = np.asarray(labelled[label].drivers.worker_shift)[:, tro, voc]
        np.testing.assert_allclose(shift, before * (rate ** np.clip(years - 2024, 0, 11) - 1.0),
                                   rtol=1e-12, atol=1e-12, err_msg=label)


# ---------------------------------------------------------------------------------------------
# the signs the article reports


def test_scenario_1_signs(reference, batch):
    h = scenario_headline(reference, batch[S1], "TRO")
    assert h["region"] == "TRO" and h["year"] == 2050
    migration = h["migration_by_education"]  # persons, cumulative net in-migration vs reference
    assert migration["voc"] < 0.0, migration  # vocational workers move out of Trøndelag
    assert migration["low"] > 0.0, migration  # low-educated workers move in
    wage = h["real_wage_pct"]  # % vs reference, Trøndelag, 2050
    assert wage["voc"] < 0.0, wage
    assert wage["low"] > 0.0, wage
    # the article: more output per person from the same people (+0.65 %), employment almost unchanged
    assert h["gross_product_per_person_pct"] > 0.0, h["gross_product_per_person_pct"]
    assert abs(h["employment_pct"]) < 0.25, h["employment_pct"]
    workers = h["migrating_workers_by_education"]
    assert workers["voc"] < 0.0 < workers["low"], workers
    assert h["industries_pct"]["TOUR"] < 0.0  # tourism (low-educated intensive) shrinks


def test_half_of_scenario_1_moves_fewer(reference, one_by_one):
    full = scenario_headline(reference, one_by_one[S1], "TRO")
    half = scenario_headline(reference, one_by_one[HALF], "TRO")
    for e in ("low", "voc"):
        assert 0.0 < half["migration_by_education"][e] / full["migration_by_education"][e] < 1.0, e
        assert 0.0 < half["real_wage_pct"][e] / full["real_wage_pct"][e] < 1.0, e


def test_scenario_2_raises_mainland_gdp(reference, batch):
    h = scenario_headline(reference, batch[S2])
    assert h["mainland_gdp_pct"] > 0.0
    gdp = mainland(batch[S2]).sum("region") / mainland(reference).sum("region") - 1.0
    assert np.max(np.abs(gdp.sel(year=slice(None, 2024)).values)) < 1e-12  # nothing happens before 2025
    assert np.all(gdp.sel(year=slice(2025, None)).values > 0.0)


# ---------------------------------------------------------------------------------------------
# a batch is the scenarios run one by one


def test_batched_run_equals_one_by_one(batch, one_by_one):
    assert list(batch) == [S1, S2]
    for name, ds in batch.items():
        assert bool(ds.converged.all()), name
        _assert_same_path(ds, one_by_one[name], BATCH_TOL, name)
    # the members are not mixed up: each scenario's path is its own
    assert _rel(batch[S1].population, batch[S2].population) > 1e-4
    assert _rel(batch[S1].wage, batch[S2].wage) > 1e-4


# ---------------------------------------------------------------------------------------------
# malformed scenario files: the error names the file, the field and the value

_GOOD = """name = "bad"
description = "scenario 1, broken in one place"

[[shocks]]
driver = "population"
region = "TRO"
education = "voc"
years = [2025, 2035]
mode = "growth"
value = 1.0
transfer_from = "low"
"""
_GOOD_TFP = _GOOD.replace('driver = "population"', 'driver = "tfp"').replace('education = "voc"', 'sector = "CHEM"') \
    .replace('transfer_from = "low"\n', "")

# id: (file text, field, value as the message shows it)
MALFORMED = {
    "unknown driver": (_GOOD.replace('"population"', '"wages"'), "shocks[0].driver", "'wages'"),
    # found by the fuzzer (tests/scenarios/test_parser_fuzz.py) on 2026-12-03: a list was looked up in a dict
    "driver an array": (_GOOD.replace('"population"', '[]'), "shocks[0].driver", "[]"),
    "mode a table": (_GOOD.replace('"growth"', '{ a = 1 }'), "shocks[0].mode", "{'a': 1}"),
    "unknown region": (_GOOD.replace('"TRO"', '"TRONDHEIM"'), "shocks[0].region", "'TRONDHEIM'"),
    "unknown sector": (_GOOD_TFP.replace('"CHEM"', '"STEEL"'), "shocks[0].sector", "'STEEL'"),
    "unknown education group": (_GOOD.replace('"voc"', '"phd"'), "shocks[0].education", "'phd'"),
    "year after 2050": (_GOOD.replace("[2025, 2035]", "[2025, 2060]"), "shocks[0].years", "[2025, 2060]"),
    "year before 2018": (_GOOD.replace("[2025, 2035]", "[2010, 2035]"), "shocks[0].years", "[2010, 2035]"),
    "years reversed": (_GOOD.replace("[2025, 2035]", "[2035, 2025]"), "shocks[0].years", "[2035, 2025]"),
    "value a string": (_GOOD.replace("value = 1.0", 'value = "1.0"'), "shocks[0].value", "'1.0'"),
    "unknown mode": (_GOOD.replace('"growth"', '"exponential"'), "shocks[0].mode", "'exponential'"),
    "transfer_from on a non-population driver": (_GOOD.replace('"population"', '"participation"'),
                                                 "shocks[0].transfer_from", "'low'"),
    "unknown top-level field": ('author = "someone"\n' + _GOOD, "author", "'someone'"),
    "unknown parameter override": (_GOOD + "\n[parameters]\nsigma_everything = 2.0\n",
                                   "parameters.sigma_everything", "2.0"),
    "negative elasticity override": (_GOOD + "\n[parameters]\nsigma_labour = -0.5\n", "parameters.sigma_labour",
                                     "-0.5"),
    "negative elasticity override by sector": (_GOOD + "\n[parameters]\nsigma_armington = { CHEM = -2.0 }\n",
                                               "parameters.sigma_armington.CHEM", "-2.0"),
    "empty region list": (_GOOD.replace('region = "TRO"', "region = []"), "shocks[0].region", "[]"),
    "Leontief labour nest": (_GOOD + "\n[parameters]\nsigma_labour = 0\n", "parameters.sigma_labour", "0"),
    "zero export demand elasticity": (_GOOD + "\n[parameters]\nexport_demand_elasticity = 0.0\n",
                                      "parameters.export_demand_elasticity", "0.0"),
}


def _write(tmp_path, text, stem="bad"):
    path = tmp_path / f"{stem}.toml"
    path.write_text(text)
    return path


def test_the_malformed_cases_start_from_a_valid_file(model, tmp_path):
    for text in (_GOOD, _GOOD_TFP):
        assert len(parse_scenario(_write(tmp_path, text, "good"), model).shocks) == 1


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_scenario_names_file_field_and_value(model, tmp_path, case):
    text, field, value = MALFORMED[case]
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(path, model)
    message = str(info.value)
    assert str(path) in message, message
    assert f"field '{field}'" in message, message
    assert f"(value {value})" in message, message


def test_an_unknown_code_suggests_the_near_miss_and_a_county_names_its_region(model, tmp_path):
    with pytest.raises(ScenarioError, match=r"names an unknown region \(did you mean 'TRO'\?\)"):
        parse_scenario(_write(tmp_path, _GOOD.replace('"TRO"', '"TRONDHEIM"')), model)
    with pytest.raises(ScenarioError, match=r"region' is a county that lies in the region OSVI of this division; "
                                            r"name that region instead \(value 'OSL'\)"):
        parse_scenario(_write(tmp_path, _GOOD.replace('"TRO"', '"OSL"')), model)  # AGGREGATION: OSL + VIK = OSVI


def test_a_scenario_without_shocks_or_overrides_is_reported(model, tmp_path):
    with pytest.warns(UserWarning, match="no shocks and no parameter overrides: it is the reference path"):
        parse_scenario(_write(tmp_path, 'name = "empty"\nshocks = []\n', "empty"), model)


def test_a_folder_or_latin1_file_as_a_scenario_is_a_named_error(model, tmp_path):
    with pytest.raises(ScenarioError, match="is a folder, not a TOML file"):
        parse_scenario(tmp_path, model)
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('name = "tr\u00f8ndelag"\n'.encode("latin-1"))
    with pytest.raises(ScenarioError, match=r"latin1.toml: not UTF-8 text"):
        parse_scenario(latin1, model)


def test_invalid_toml_names_the_file_and_the_line(model, tmp_path):
    path = _write(tmp_path, _GOOD.replace("value = 1.0", "value = = 1.0"))
    with pytest.raises(ScenarioError, match="not valid TOML") as info:
        parse_scenario(path, model)
    message = str(info.value)
    assert str(path) in message and "line 10" in message, message


def test_two_scenarios_with_one_name_are_refused_before_solving(tmp_path, capsys):
    first, second = _write(tmp_path, _GOOD, "first"), _write(tmp_path, _GOOD, "second")  # both name = "bad"
    argv = ["--regions", AGGREGATION, "run", "scenario", str(first), str(second), "--out", str(tmp_path / "out"),
            "--cache", str(tmp_path / "cache"), "--no-figures"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{second}: field 'name' repeats the name of {first} (value 'bad')" in err, err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


_DIVERGING = """name = "diverging"
description = "TFP of every industry in Trøndelag falls to a millionth in 2030: no equilibrium is reached"

[[shocks]]
driver = "tfp"
region = "TRO"
years = [2030, 2030]
mode = "level"
value = 1e-6
"""


def test_a_scenario_that_does_not_converge_is_named_and_the_others_are_kept(tmp_path, capsys):
    good = _write(tmp_path, _GOOD.replace('name = "bad"', 'name = "good"'), "good")
    bad = _write(tmp_path, _DIVERGING, "diverging")
    argv = ["--regions", AGGREGATION, "run", "scenario", str(good), str(bad), "--out", str(tmp_path / "out"),
            "--cache", str(tmp_path / "cache"), "--no-figures"]
    assert main(argv) == 3
    err = capsys.readouterr().err
    assert "scenario diverging: did not converge from 2030 on" in err, err
    failures = pd.read_csv(tmp_path / "out" / "failures.csv")
    assert list(failures["scenario"]) == ["diverging"] and int(failures["first_failed_year"][0]) == 2030
    # the failure names the equation with the largest residual in its first failed year, in the message and file
    assert re.fullmatch(r"(zero_profit|domestic_market|capital_market|labour_market)\[\w+, \w+\]|government_budget",
                        failures["equation"][0]), failures["equation"][0]
    assert f"in 2030 max |residual|" in err and failures["equation"][0] in err, err
    assert (tmp_path / "out" / "good.nc").exists() and not (tmp_path / "out" / "diverging.nc").exists()
    # the run manifest records the failure and the converged path; the folder does not verify as complete
    manifest = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert manifest["outcome"] == "completed with failures" and manifest["exit_status"] == 3
    assert {p["name"] for p in manifest["paths"]} == {"reference", "good"} and "failures.csv" in manifest["outputs"]


def test_the_command_reports_a_malformed_scenario(tmp_path, capsys):
    text, field, value = MALFORMED["unknown region"]
    path = _write(tmp_path, text, "BAD")
    argv = ["--regions", AGGREGATION, "run", "scenario", str(path), "--out", str(tmp_path / "out"),
            "--cache", str(tmp_path / "cache"), "--no-figures"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"noreg: input error: {path}: field '{field}'"), err
    assert f"(value {value})" in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()  # nothing was solved


# ---------------------------------------------------------------------------------------------
# the cached reference path


def test_the_cached_reference_is_reused(model, cache_dir, reference):
    again, reused = cached_reference(model, cache_dir)
    assert reused
    assert (cache_dir / f"reference_{fingerprint(model)}.nc").exists()
    _assert_same_path(again, reference, 0.0, "cached vs solved")


def test_a_damaged_cached_reference_is_solved_again_and_replaced(model, cache_dir, reference, tmp_path):
    import shutil

    cache = tmp_path / "cache"
    shutil.copytree(cache_dir, cache)
    cached = cache / f"reference_{fingerprint(model)}.nc"
    content = cached.read_bytes()
    cached.write_bytes(content[: len(content) // 2])  # a truncated file (a full disk, a killed copy)
    with pytest.warns(UserWarning, match="is not used: its content does not match the digest"):
        again, reused = cached_reference(model, cache)
    assert not reused
    _assert_same_path(again, reference, 0.0, "re-solved vs solved")
    assert cached.read_bytes() != content[: len(content) // 2]
    _, reused = cached_reference(model, cache)  # the replacement is trusted again
    assert reused


def test_a_changed_parameter_changes_the_fingerprint(model, tmp_path):
    p = model.economy.params
    changed = eqx.tree_at(lambda m: m.economy.params.sigma_labour, model, p.sigma_labour.at[0].multiply(1.01))
    assert fingerprint(changed) != fingerprint(model)
    beta = eqx.tree_at(lambda m: m.dynamics.migration_beta, model, model.dynamics.migration_beta * 1.01)
    assert fingerprint(beta) != fingerprint(model)
    override = parse_scenario(_write(tmp_path, 'name = "sigma"\n[parameters]\nsigma_labour = 2.0\n', "sigma"), model)
    assert fingerprint(apply_scenario(model, override)) != fingerprint(model)
    assert fingerprint(model) == fingerprint(reference_model(regions=AGGREGATION))  # a fresh load: the same


def test_changed_code_changes_the_fingerprint(model, monkeypatch):
    """A cached reference computed by other code (an edited checkout, another release) is not reused."""
    import noreg_jax.runs as runs

    before = fingerprint(model)
    monkeypatch.setattr(runs, "_source_digest", lambda: b"other code")
    assert fingerprint(model) != before


# ---------------------------------------------------------------------------------------------
# the derivative of mainland GDP in the size of scenario 2's shock


@pytest.fixture(scope="module")
def gdp_and_slope(sets, scenarios):
    """(mainland GDP 2050 and every-year convergence, d GDP/d value) as a function of scenario 2's value."""
    scenario = scenarios[S2]
    is_mainland = jnp.asarray([s != PETROLEUM for s in sets.sectors], dtype=float)

    def mainland_gdp_2050(value, model):
        shocked = apply_scenario(model, eqx.tree_at(lambda s: s.shocks[0].value, scenario, value))
        result = simulate(shocked, TIGHT)
        return jnp.sum(result.outcomes["gross_product"][-1] * is_mainland), jnp.all(result.converged)

    return jax.jit(jax.value_and_grad(mainland_gdp_2050, has_aux=True))


def test_gdp_derivative_in_the_shock_size_matches_finite_differences(model, scenarios, gdp_and_slope, batch):
    value = float(scenarios[S2].shocks[0].value)
    assert value == 0.5
    (gdp, converged), slope = gdp_and_slope(jnp.asarray(value), model)
    assert bool(converged)
    # the function differentiated is the mainland GDP the results report
    assert float(gdp) == pytest.approx(float(mainland(batch[S2]).sum("region").sel(year=2050)), rel=1e-9)
    h = FD_STEP * value
    values = []
    for v in (value + h, value - h):
        (g, ok), _ = gdp_and_slope(jnp.asarray(v), model)
        assert bool(ok)
        values.append(float(g))
    numeric = (values[0] - values[1]) / (2.0 * h)
    assert float(slope) > 0.0
    np.testing.assert_allclose(float(slope), numeric, rtol=FD_RTOL)


@pytest.mark.parametrize("text", ["1,,2", "abc", "nan", "0.5,inf"])
def test_a_bad_scale_is_refused_by_the_parser(text, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "scenario", "scenarios/trondelag_vocational.toml", "--scale", text])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --scale:" in err and repr(text) in err, err


def test_scales_are_parsed_to_finite_numbers():
    from noreg_jax.cli import shock_scales

    assert shock_scales("0.5,1,2") == (0.5, 1.0, 2.0)
