"""Sobol indices (sensitivity/sobol.py) and arviz summaries (sensitivity/summaries.py).

The pipeline — SALib problem, Saltelli sampling on a Sobol' sequence, checkpointed sweep, analysis with
failed blocks dropped — is checked on the Ishigami function, whose indices are known in closed form
(S1 ≈ 0.314, 0.442, 0; ST ≈ 0.558, 0.442, 0.244), through exactly the code the model uses
(:func:`sensitivity.sobol.run_design`). The command line runs once on the model (ci_small.toml with
N = 2, chunks of 2 draws: seconds after the chunk function is compiled, which test_sweep.py shares).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import noreg_jax  # noqa: F401  (float64)
from sensitivity.sobol import (
    ISHIGAMI_PROBLEM,
    ConfigError,
    analyze,
    block_size,
    complete_blocks,
    design_rows,
    ishigami_evaluator,
    ishigami_indices,
    load_config,
    register_cli,
    run_design,
)
from sensitivity.sweep import DrawOutput, Evaluator, run_sweep

ROOT = Path(__file__).resolve().parents[2]
CI_CONFIG = ROOT / "sensitivity" / "configs" / "ci_small.toml"
FULL_CONFIG = ROOT / "sensitivity" / "configs" / "full.toml"
MODEL_CHUNK = 2  # as in test_sweep.py


def test_ishigami_indices_through_the_pipeline(tmp_path):
    sweep, ind = run_design(ISHIGAMI_PROBLEM, ishigami_evaluator(), tmp_path, base_samples=2048, chunk_size=2048,
                            seed=11, resamples=200)
    assert sweep.complete and ind.n_blocks_used == 2048 and not ind.notes
    exact = ishigami_indices()
    got = ind.table("ishigami")
    print("\nIshigami, N = 2048 (computed | exact):")
    for f in exact.index:
        print(f"  {f}: S1 {got.S1[f]:.3f} ± {got.S1_conf[f]:.3f} | {exact.S1[f]:.3f}   "
              f"ST {got.ST[f]:.3f} ± {got.ST_conf[f]:.3f} | {exact.ST[f]:.3f}")
    np.testing.assert_allclose(got.S1, exact.S1, atol=0.04)
    np.testing.assert_allclose(got.ST, exact.ST, atol=0.04)
    # the bootstrap intervals are of a sensible size and cover the truth (with a little slack)
    assert (got.S1_conf < 0.08).all() and (got.ST_conf < 0.08).all()
    assert (np.abs(got.S1 - exact.S1) < 1.5 * got.S1_conf + 0.01).all()
    assert (np.abs(got.ST - exact.ST) < 1.5 * got.ST_conf + 0.01).all()
    saved = pd.read_csv(tmp_path / "sobol_indices.csv")
    assert list(saved.columns[:6]) == ["outcome", "factor", "S1", "S1_conf", "ST", "ST_conf"]
    # the same seed gives the same design and the same indices (a resumed analysis equals a fresh one)
    again = run_design(ISHIGAMI_PROBLEM, ishigami_evaluator(), tmp_path, base_samples=2048, chunk_size=2048,
                       seed=11, resamples=200)[1]
    pd.testing.assert_frame_equal(again.first_total, ind.first_total)


def test_ishigami_second_order_and_groups(tmp_path):
    _, ind = run_design(ISHIGAMI_PROBLEM, ishigami_evaluator(), tmp_path / "s2", base_samples=1024,
                        chunk_size=1024, second_order=True, seed=3)
    s2 = ind.second.set_index(["factor_i", "factor_j"]).S2
    exact = ishigami_indices()
    assert s2[("x1", "x3")] == pytest.approx(exact.ST.x1 - exact.S1.x1, abs=0.08)  # the only interaction
    assert abs(s2[("x1", "x2")]) < 0.08 and abs(s2[("x2", "x3")]) < 0.08
    grouped = {**ISHIGAMI_PROBLEM, "groups": ["x1_x2", "x1_x2", "x3"]}
    _, ind = run_design(grouped, ishigami_evaluator(), tmp_path / "groups", base_samples=1024, chunk_size=1024,
                        seed=3)
    t = ind.table("ishigami")
    assert list(t.index) == ["x1_x2", "x3"]
    assert t.S1["x1_x2"] == pytest.approx(exact.S1.x1 + exact.S1.x2, abs=0.05)
    assert t.ST["x3"] == pytest.approx(exact.ST.x3, abs=0.05)


def test_failed_draws_drop_whole_blocks(tmp_path):
    from SALib.analyze import sobol as sobol_analyze

    problem = ISHIGAMI_PROBLEM
    sweep, ind = run_design(problem, ishigami_evaluator(fail_above=2.8), tmp_path, base_samples=256,
                            chunk_size=256, seed=7)
    step = block_size(problem, False)
    blocks = complete_blocks(sweep.ok, problem, False)
    assert sweep.n_failed > 0 and 0 < blocks.sum() < blocks.size
    assert ind.n_blocks_used == blocks.sum() and ind.n_failed_draws == sweep.n_failed
    assert any("blocks dropped" in n for n in ind.notes)
    # the indices are SALib's on the complete blocks, computed by hand
    rows = (np.flatnonzero(blocks)[:, None] * step + np.arange(step)).ravel()
    ref = sobol_analyze.analyze(problem, sweep.outcomes[rows, 0], calc_second_order=False, seed=7)
    np.testing.assert_allclose(ind.table("ishigami").S1, ref["S1"])
    assert np.isfinite(ind.first_total[["S1", "ST", "S1_conf", "ST_conf"]].to_numpy()).all()
    failures = pd.read_csv(tmp_path / "failures.csv")
    assert len(failures) == sweep.n_failed and (failures.x1 > 2.8).all()
    # only the A and B rows of complete blocks go to the summaries
    ab = design_rows(sweep.status.size, problem, False, blocks)
    assert ab.size == 2 * blocks.sum() and sweep.ok[ab].all()


def test_constant_outcome_gets_nan_indices_with_a_note(tmp_path):
    import jax.numpy as jnp

    ev = Evaluator("const", ("constant", "x1"), ("p",),
                   lambda x: DrawOutput(jnp.stack([jnp.asarray(1.0), x[0]]), jnp.ones(1, bool), jnp.zeros(1)))
    _, ind = run_design(ISHIGAMI_PROBLEM, ev, tmp_path, base_samples=64, chunk_size=64)
    assert ind.table("constant").S1.isna().all()
    assert ind.table("x1").S1.x1 == pytest.approx(1.0, abs=0.05)
    assert any("constant over the draws" in n for n in ind.notes)


def test_unfinished_sweep_is_not_analysed(tmp_path):
    from sensitivity.sobol import sample
    from sensitivity.sweep import SweepError

    draws = sample(ISHIGAMI_PROBLEM, 16)
    sweep = run_sweep(draws, ishigami_evaluator(), tmp_path, chunk_size=16, max_chunks=1)
    with pytest.raises(SweepError, match="not finished"):
        analyze(ISHIGAMI_PROBLEM, sweep)


def test_summaries_are_an_arviz_datatree(tmp_path):
    import xarray as xr

    from sensitivity import summaries

    sweep, _ = run_design(ISHIGAMI_PROBLEM, ishigami_evaluator(), tmp_path, base_samples=256, chunk_size=256)
    rows = design_rows(sweep.status.size, ISHIGAMI_PROBLEM, False)
    tree = summaries.outcome_tree(sweep, rows, units={"ishigami": "1"})
    assert isinstance(tree, xr.DataTree)
    assert tree[summaries.GROUP]["ishigami"].shape == (1, 512)
    assert set(tree["prior"].data_vars) == {"x1", "x2", "x3"}
    table = summaries.summary_table(tree)
    y = sweep.outcomes[rows, 0]
    assert table.loc["ishigami", "mean"] == pytest.approx(y.mean())
    h = summaries.hdi(tree)
    assert h.loc["ishigami", "lower"] < np.median(y) < h.loc["ishigami", "upper"]
    assert ((y >= h.loc["ishigami", "lower"]) & (y <= h.loc["ishigami", "upper"])).mean() == pytest.approx(0.9,
                                                                                                            abs=0.01)
    files = summaries.plot_outcomes(tree, tmp_path)
    assert all(f.exists() and f.stat().st_size > 1000 for f in files)


# ---------------------------------------------------------------------------------------------
# configs and the command line


def test_shipped_configs_load():
    ci, full = load_config(CI_CONFIG), load_config(FULL_CONFIG)
    assert ci.regions == "trondelag_rest.csv" and full.regions is None
    assert ci.base_samples * (4 + 2) >= 200  # "a few hundred draws"
    assert [h.name for h in ci.headlines] == [h.name for h in full.headlines]
    assert all(Path(p).exists() for p in ci.scenarios + full.scenarios)


@pytest.mark.parametrize("edit, message", [
    (("base_samples = 64", "base_samples = 48"), "field 'sobol.base_samples' must be a power of 2"),
    (("name = \"ci_small\"", "name = \"x\"\ncolour = 1"), "field 'colour' is not a config field"),
    (("further_education.toml", "nowhere.toml"), "field 'scenarios' names a file"),
    (("chunk_size = 16", "chunk_size = \"big\""), "field 'chunk_size' must be int"),
    (("base_samples = 64", "base_sample = 64"), r"field 'sobol.base_sample' is not a sobol setting \(value 64\)"),
    (("chunk_size = 16", "chunksize = 16"), r"field 'sweep.chunksize' is not a sweep setting \(value 16\)"),
])
def test_bad_config_is_named(tmp_path, edit, message):
    text = CI_CONFIG.read_text().replace("../../scenarios/", f"{ROOT / 'scenarios'}/").replace(*edit)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def _cli(argv):
    parser = argparse.ArgumentParser(prog="noreg sensitivity")
    register_cli(parser.add_subparsers(dest="what", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_runs_the_ci_config_small_and_resumes(tmp_path, capsys):
    out = tmp_path / "sobol"
    argv = ["sobol", str(CI_CONFIG), "--out", str(out), "--base-samples", "2", "--chunk-size", str(MODEL_CHUNK),
            "--quiet"]
    assert _cli([*argv, "--max-chunks", "2"]) == 0
    text = capsys.readouterr().out
    assert "draws solved: 4 of 12" in text and "run the same command again to resume" in text
    assert not (out / "sobol_indices.csv").exists()
    assert _cli(argv) == 0
    text = capsys.readouterr().out
    assert "draws solved: 12 of 12, failed: 0" in text
    for name in ("sobol_indices.csv", "sobol_indices.png", "outcomes_summary.csv", "outcomes_density.png",
                 "report.json"):
        assert (out / name).exists(), name
    indices = pd.read_csv(out / "sobol_indices.csv")
    assert set(indices.factor) == {"klem", "education", "armington", "migration"}
    assert len(indices) == 6 * 4 and np.isfinite(indices.ST).all()
    summary = pd.read_csv(out / "outcomes_summary.csv", index_col=0)
    assert summary.loc["s2_mainland_gdp", "mean"] > 0 and summary.loc["s1_tro_voc_migration", "mean"] < 0
    assert json.loads((out / "report.json").read_text())["failed_draws"] == 0


def test_an_output_that_is_a_file_is_refused_before_any_draw(tmp_path, capsys):
    from noreg_jax.cli import main

    taken = tmp_path / "sobol.txt"
    taken.write_text("x")
    assert main(["sensitivity", "sobol", str(CI_CONFIG), "--out", str(taken)]) == 2
    assert f"{taken}: the output location is a file, not a folder" in capsys.readouterr().err
