"""Uncertainty as data and the checkpointed sweep (sensitivity/uncertainty.py, sensitivity/sweep.py).

The mechanics (chunks, resume, failures, devices) are tested on the Ishigami evaluator, which compiles in
a second; the model evaluator is tested once on the three-region aggregation (trondelag_rest.csv) against
paths solved directly. Chunks of 2 draws throughout, so that test_sobol.py's command-line test reuses the
compiled chunk function in the same process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import noreg_jax  # noqa: F401  (float64)
from sensitivity.sobol import ISHIGAMI_PROBLEM, ishigami_evaluator, load_config, sample
from sensitivity.sweep import (
    BUILDS,
    SweepError,
    build_evaluator,
    chunk_path,
    load_sweep,
    run_sweep,
)
from sensitivity.uncertainty import DEFAULT_UNCERTAINTY, UncertaintyError, load_uncertainty

ROOT = Path(__file__).resolve().parents[2]
CI_CONFIG = ROOT / "sensitivity" / "configs" / "ci_small.toml"
MODEL_CHUNK = 2  # the chunk size of every model sweep in the tests (one compilation, shared with test_sobol)


def _ishigami_draws(n=32, seed=5):
    return sample(ISHIGAMI_PROBLEM, 16, seed=seed)[:n]


def _same(a, b):
    """Bit-for-bit equality of two sweeps' results (NaN == NaN)."""
    np.testing.assert_array_equal(a.outcomes, b.outcomes)
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.converged, b.converged)
    np.testing.assert_array_equal(a.max_residual, b.max_residual)
    np.testing.assert_array_equal(a.draws, b.draws)


# ---------------------------------------------------------------------------------------------
# uncertainty as data


def test_shipped_uncertainty_file():
    u = load_uncertainty()
    assert u.names == ("sigma_top", "sigma_kle", "sigma_kl", "sigma_labour", "sigma_nontertiary", "sigma_tertiary",
                       "sigma_armington", "sigma_domestic", "export_demand_elasticity", "beta_low", "beta_voc",
                       "beta_bach", "beta_mast")
    assert list(dict.fromkeys(u.groups)) == ["klem", "education", "armington", "migration"]
    problem = u.problem(groups=True)
    assert problem["num_vars"] == 13 and len(problem["groups"]) == 13
    for f, bounds, dist in zip(u.factors, problem["bounds"], problem["dists"]):
        assert bounds[0] >= 0.0 and f.source
        assert dist == ("truncnorm" if f.group == "klem" else "unif")
    # the draws SALib makes from it are all >= 0 and have the assumed spread
    draws = sample(problem, 64, seed=3)
    assert (draws >= 0).all()
    klem = draws[:, 0]
    assert 0.2 < klem.std() < 0.4 and abs(klem.mean() - 1) < 0.1


def test_apply_scales_the_central_values():
    from noreg_jax.drivers import reference_model

    model = reference_model(regions="trondelag_rest.csv")
    u = load_uncertainty()
    same = u.apply(model, u.central())
    for a, b in zip(jax.tree_util.tree_leaves(model), jax.tree_util.tree_leaves(same)):
        np.testing.assert_array_equal(a, b)
    x = u.central().copy()
    x[u.names.index("sigma_kl")] = 2.0
    x[u.names.index("beta_voc")] = 0.5
    moved = u.apply(model, jnp.asarray(x))
    np.testing.assert_allclose(moved.economy.params.sigma_kl, 2.0 * model.economy.params.sigma_kl)
    np.testing.assert_allclose(moved.economy.params.sigma_kle, model.economy.params.sigma_kle)
    beta, beta0 = np.asarray(moved.dynamics.migration_beta), np.asarray(model.dynamics.migration_beta)
    np.testing.assert_allclose(beta, beta0 * np.array([1.0, 0.5, 1.0, 1.0]))
    table = u.table(model)
    assert table.loc[table.factor == "beta_voc", "central"].item() == "0.012"


@pytest.mark.parametrize("row, field", [
    ("x,g,sigma_kl,ALL,unif,-0.5,1.5,,s", "lower"),
    ("x,g,sigma_kl,ALL,unif,1.5,0.5,,s", "upper"),
    ("x,g,sigma_nonsense,ALL,unif,0.5,1.5,,s", "parameter"),
    ("x,g,sigma_kl,ALL,gamma,0.5,1.5,,s", "distribution"),
    ("x,g,sigma_kl,ALL,truncnorm,0,2,,s", "sd"),
    ("x,g,sigma_kl,ALL,unif,abc,1.5,,s", "lower"),
])
def test_bad_uncertainty_rows_are_named(tmp_path, row, field):
    path = tmp_path / "u.csv"
    path.write_text(DEFAULT_UNCERTAINTY.read_text().splitlines()[0] + "\n" + row + "\n")
    with pytest.raises(UncertaintyError, match=rf"u\.csv: field '{field}'"):
        load_uncertainty(path)


def test_unknown_code_is_named_against_the_model(tmp_path):
    from noreg_jax.drivers import reference_model

    path = tmp_path / "u.csv"
    path.write_text(DEFAULT_UNCERTAINTY.read_text().splitlines()[0] + "\nx,g,migration_beta,phd,unif,0.5,1.5,,s\n")
    with pytest.raises(UncertaintyError, match="field 'applies_to' of 'x' names an unknown education group 'phd'"):
        load_uncertainty(path).masks(reference_model(regions="two_regions.csv"))


# ---------------------------------------------------------------------------------------------
# checkpoints and resume (Ishigami)


def test_resume_after_max_chunks_and_after_an_exception_is_bit_for_bit(tmp_path):
    ev = ishigami_evaluator()
    draws = _ishigami_draws(40)
    full = run_sweep(draws, ev, tmp_path / "full", chunk_size=8)
    assert full.complete and full.ok.all() and full.manifest["n_chunks"] == 5

    part = run_sweep(draws, ev, tmp_path / "stopped", chunk_size=8, max_chunks=2)
    assert not part.complete and int(part.done.sum()) == 16
    assert sorted(p.name for p in (tmp_path / "stopped").glob("chunk_*.npz")) == ["chunk_00000.npz",
                                                                                "chunk_00001.npz"]
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "stopped").glob("chunk_*.npz")}

    class Killed(Exception):
        pass

    seen = []

    def kill_after_one(i, result):
        seen.append(i)
        raise Killed

    with pytest.raises(Killed):
        run_sweep(draws, ev, tmp_path / "stopped", chunk_size=8, callback=kill_after_one)
    assert seen == [2]  # chunks 0 and 1 were not recomputed
    resumed = run_sweep(draws, ev, tmp_path / "stopped", chunk_size=8, callback=lambda i, r: seen.append(i))
    assert seen == [2, 3, 4]
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "stopped").glob("chunk_*.npz")
            if p.name in before} == before  # finished chunks untouched
    assert resumed.complete
    _same(full, resumed)


def test_a_corrupt_chunk_is_recomputed_and_another_sweep_is_refused(tmp_path):
    ev = ishigami_evaluator()
    draws = _ishigami_draws(24)
    full = run_sweep(draws, ev, tmp_path, chunk_size=8)
    chunk_path(tmp_path, 1).write_bytes(b"truncated")  # a kill in the middle of a write cannot do this (atomic
    # replace), but a damaged disk can
    with pytest.warns(UserWarning, match="chunk_00001.npz: unreadable"):
        again = run_sweep(draws, ev, tmp_path, chunk_size=8)
    _same(full, again)
    with pytest.raises(SweepError, match="field 'draws_sha256'"):
        run_sweep(draws * 0.5, ev, tmp_path, chunk_size=8)
    with pytest.raises(SweepError, match="field 'chunk_size'"):
        run_sweep(draws, ev, tmp_path, chunk_size=4)
    with pytest.raises(SweepError, match="field 'evaluator'"):
        run_sweep(draws, ishigami_evaluator(b=0.2), tmp_path, chunk_size=8)


def test_edited_checkpoints_are_never_trusted(tmp_path):
    ev = ishigami_evaluator()
    draws = _ishigami_draws(24)
    full = run_sweep(draws, ev, tmp_path, chunk_size=8)
    # a chunk whose outcomes were edited (a valid file of the right shape): recomputed, same indices as before
    with np.load(chunk_path(tmp_path, 2)) as z:
        edited = {k: z[k] for k in z.files}
    edited["outcomes"] = edited["outcomes"] + 1.0
    np.savez(chunk_path(tmp_path, 2), **edited)
    with pytest.warns(UserWarning, match="chunk_00002.npz: its content does not match the digest"):
        again = run_sweep(draws, ev, tmp_path, chunk_size=8)
    _same(full, again)
    # draws.npy replaced by other values of the same shape: refused, by the manifest's digest
    np.save(tmp_path / "draws.npy", draws[::-1].copy())
    with pytest.raises(SweepError, match="draws.npy: its values do not match field 'draws_sha256'"):
        run_sweep(draws, ev, tmp_path, chunk_size=8)
    with pytest.raises(SweepError, match="draws were changed after the sweep began"):
        load_sweep(tmp_path)
    # a truncated manifest: a named error, not a traceback
    manifest = tmp_path / "manifest.json"
    manifest.write_text(manifest.read_text()[:40])
    with pytest.raises(SweepError, match="manifest.json: not a readable sweep manifest"):
        run_sweep(draws, ev, tmp_path, chunk_size=8)


def test_failed_draws_are_recorded_never_dropped(tmp_path):
    ev = ishigami_evaluator(fail_above=2.0)  # x1 > 2 "does not converge"
    draws = _ishigami_draws(32)
    sweep = run_sweep(draws, ev, tmp_path, chunk_size=8, parameter_names=["x1", "x2", "x3"])
    bad = draws[:, 0] > 2.0
    assert bad.any() and sweep.n_failed == int(bad.sum())
    np.testing.assert_array_equal(sweep.ok, ~bad)
    assert np.isnan(sweep.outcomes[bad]).all() and np.isfinite(sweep.outcomes[~bad]).all()
    failures = sweep.failures()
    assert list(failures.index) == list(np.flatnonzero(bad))
    np.testing.assert_array_equal(failures[["x1", "x2", "x3"]].to_numpy(), draws[bad])
    assert set(failures.status) == {"not converged"} and (~failures["converged[ishigami]"]).all()
    # and it is all on disk
    again = load_sweep(tmp_path)
    _same(sweep, again)
    assert json.loads((tmp_path / "manifest.json").read_text())["parameter_names"] == ["x1", "x2", "x3"]


def test_vmap_width_gives_the_same_results(tmp_path):
    ev = ishigami_evaluator()
    draws = _ishigami_draws(16)
    one = run_sweep(draws, ev, tmp_path / "a", chunk_size=8, vmap_width=1)
    wide = run_sweep(draws, ev, tmp_path / "b", chunk_size=8, vmap_width=8)
    np.testing.assert_allclose(one.outcomes, wide.outcomes, rtol=1e-14)


SHARDED = r"""
import json, sys
import jax, numpy as np
from sensitivity.sobol import ishigami_evaluator
from sensitivity.sweep import chunk_function, run_sweep
draws = np.load(sys.argv[1])
sweep = run_sweep(draws, ishigami_evaluator(), sys.argv[2], chunk_size=8)
fn = chunk_function(ishigami_evaluator(), 8)
out = fn(jax.numpy.asarray(draws[:8]))
print(json.dumps({"devices": jax.device_count(),
                  "shards": len(out.outcomes.sharding.device_set),
                  "ok": bool(sweep.ok.all())}))
"""


def test_chunks_are_sharded_across_two_host_devices(tmp_path):
    draws = _ishigami_draws(24)
    np.save(tmp_path / "draws.npy", draws)
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    proc = subprocess.run([sys.executable, "-c", SHARDED, str(tmp_path / "draws.npy"), str(tmp_path / "two")],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report == {"devices": 2, "shards": 2, "ok": True}
    one = run_sweep(draws, ishigami_evaluator(), tmp_path / "one", chunk_size=8)
    np.testing.assert_allclose(load_sweep(tmp_path / "two").outcomes, one.outcomes, rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# the model evaluator


@pytest.fixture(scope="module")
def ci_evaluator():
    return build_evaluator(load_config(CI_CONFIG).spec())


def test_model_sweep_matches_direct_paths_and_resumes(ci_evaluator, tmp_path):
    from jax import lax

    from noreg_jax.drivers import reference_model
    from noreg_jax.dynamics import simulate
    from noreg_jax.scenarios import apply_scenario, parse_scenario, stack
    from noreg_jax.solver import SolverOptions
    from sensitivity.outcomes import parse_outcome

    ev = ci_evaluator
    cfg = load_config(CI_CONFIG)
    u = load_uncertainty()
    assert ev.path_labels == ("reference", "trondelag_vocational", "further_education")
    x = u.central().copy()
    x[u.names.index("sigma_armington")] = 1.3
    x[u.names.index("beta_voc")] = 0.7
    draws = np.stack([u.central(), x, x * 0.9])
    builds = BUILDS["chunk_functions"]
    stopped = run_sweep(draws, ev, tmp_path, chunk_size=MODEL_CHUNK, max_chunks=1)
    assert int(stopped.done.sum()) == 2
    sweep = run_sweep(draws, ev, tmp_path, chunk_size=MODEL_CHUNK)
    assert BUILDS["chunk_functions"] <= builds + 1  # one compilation for both calls
    assert sweep.complete and sweep.ok.all(), sweep.failures()
    assert (sweep.max_residual < 1e-9).all()

    # the same outcomes from the paths solved directly, for the second draw
    model = reference_model(regions="trondelag_rest.csv")
    base = u.apply(model, jnp.asarray(x))
    scenarios = [parse_scenario(p, model) for p in cfg.scenarios]
    paths = stack([base, *(apply_scenario(base, sc) for sc in scenarios)])
    options = SolverOptions(max_iter=cfg.solver_max_iter)
    results = jax.jit(lambda ms: lax.map(lambda m: simulate(m, options), ms))(paths)
    value = lambda spec, p: float(parse_outcome(spec, model)(jax.tree_util.tree_map(lambda a: a[p], results),
                                                             model))
    expected = {
        "s1_tro_voc_migration": value("migration:TRO:voc:2050", 1) - value("migration:TRO:voc:2050", 0),
        "s1_tro_low_migration": value("migration:TRO:low:2050", 1) - value("migration:TRO:low:2050", 0),
        "s1_tro_gp_per_person": 100 * ((value("gross_product_mainland:TRO:2050", 1) / value("population:TRO:2050", 1))
                                       / (value("gross_product_mainland:TRO:2050", 0)
                                          / value("population:TRO:2050", 0)) - 1),
        "s2_mainland_gdp": 100 * (value("gross_product_mainland:ALL:2050", 2)
                                  / value("gross_product_mainland:ALL:2050", 0) - 1),
        "s2_osvi_employment": 100 * (value("employment:OSVI:2050", 2) / value("employment:OSVI:2050", 0) - 1),
        "ref_tro_gp_per_person": value("gross_product_mainland:TRO:2050", 0) / value("population:TRO:2050", 0),
    }
    got = dict(zip(sweep.outcome_names, sweep.outcomes[1]))
    for name, v in expected.items():
        assert got[name] == pytest.approx(v, rel=1e-9, abs=1e-9), name
    # the article's signs: vocational workers leave Trøndelag in scenario 1, GDP rises in scenario 2
    assert got["s1_tro_voc_migration"] < 0 and got["s2_mainland_gdp"] > 0
    # a different draw moves the outcomes; the central draw is the model as shipped
    assert not np.allclose(sweep.outcomes[0], sweep.outcomes[1])
    # a draw that cannot be solved is kept and named: first failed year and equation of each path
    broken = u.central().copy()
    broken[u.names.index("sigma_armington")] = np.nan
    failed = run_sweep(np.stack([u.central(), broken]), ev, tmp_path / "failed", chunk_size=MODEL_CHUNK)
    assert BUILDS["chunk_functions"] <= builds + 1  # still the same compiled chunk function
    failures = failed.failures()
    assert list(failures.index) == [1] and failures["status"].iloc[0] == "not converged"
    for label in ev.path_labels:
        assert failures[f"first_failed_year[{label}]"].iloc[0] == 2018, label
        assert re.fullmatch(r"(zero_profit|domestic_market|capital_market|labour_market)\[\w+, \w+\]"
                            r"|government_budget", failures[f"equation[{label}]"].iloc[0]), label
    assert (failed.failed_year[0] == -1).all() and (failed.equation[0] == -1).all()


def test_county_codes_map_to_the_aggregated_region():
    from noreg_jax.data import split_mapping
    from noreg_jax.drivers import reference_model
    from noreg_jax.parameters import load_economy
    from sensitivity.outcomes import OutcomeError, translate_counties

    model = reference_model(regions="trondelag_rest.csv")
    assert translate_counties("employment:OSL:VIK:2050", model) == "employment:OSVI:2050"
    assert translate_counties("employment:TRO:voc:2050", model) == "employment:TRO:voc:2050"
    with pytest.raises(OutcomeError, match="county 'OSL' lies in region 'OSVI'"):
        translate_counties("employment:OSL:2050", model)
    economy = load_economy()
    split = reference_model(load_economy(regions=split_mapping(economy.benchmark.sets, {"TRO": 2})))
    assert translate_counties("employment:TRO:voc:2050", split) == "employment:TRO1:TRO2:voc:2050"
    assert translate_counties("employment:TRO1:2050", split) == "employment:TRO1:2050"


def test_a_second_sweep_into_a_folder_in_use_is_refused_and_a_dead_writers_lock_is_taken_over(tmp_path):
    import json
    import os
    import socket
    import subprocess
    import sys

    ev = ishigami_evaluator()
    draws = _ishigami_draws(16)
    lock = tmp_path / "sweep.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lock.write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(), "started": "now"}))
        with pytest.raises(SweepError, match=rf"sweep.lock: another sweep \(process {holder.pid} on "):
            run_sweep(draws, ev, tmp_path, chunk_size=8)
        assert not list(tmp_path.glob("chunk_*.npz")) and lock.exists()  # nothing written, the lock kept
    finally:
        holder.kill()
        holder.wait()
    with pytest.warns(UserWarning, match=rf"taking over the lock of process {holder.pid}, which is gone"):
        done = run_sweep(draws, ev, tmp_path, chunk_size=8)
    assert done.complete and not lock.exists()  # released when the sweep stops
    lock.write_text("{not json")
    with pytest.raises(SweepError, match="a lock file that cannot be read"):
        run_sweep(draws, ev, tmp_path, chunk_size=8)
    # a sweep holds the lock while it runs: its own callback sees it, with its pid
    lock.unlink()
    seen = []
    run_sweep(draws, ev, tmp_path / "fresh", chunk_size=8,
              callback=lambda i, r: seen.append(json.loads((tmp_path / "fresh" / "sweep.lock").read_text())["pid"]))
    assert seen == [os.getpid()] * 2 and not (tmp_path / "fresh" / "sweep.lock").exists()
