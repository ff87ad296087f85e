"""The sweep on a local Dask cluster of 2 worker processes bound to 127.0.0.1 (sensitivity/distributed.py).

Small and quick: the Ishigami evaluator (compiles in a second per worker). Checks that the distributed
sweep writes the same results as the local one, that it resumes (and can be finished locally), that
failed draws are recorded, and that each worker builds its evaluator and compiles its chunk function once
however many tasks it runs.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed (pip install 'dask[distributed]')")

from sensitivity.distributed import local_client, run_sweep_distributed  # noqa: E402
from sensitivity.sobol import ISHIGAMI_PROBLEM, sample  # noqa: E402
from sensitivity.sweep import EvaluatorSpec, build_evaluator, run_sweep  # noqa: E402

SPEC = EvaluatorSpec.of("sensitivity.sobol:ishigami_evaluator", fail_above=2.5)
CHUNK = 8


@pytest.fixture(scope="module")
def client():
    c = local_client(2)
    yield c
    c.close()


def test_dask_sweep_equals_local_and_resumes(client, tmp_path):
    draws = sample(ISHIGAMI_PROBLEM, 16, seed=4)[:64]  # 8 chunks
    local = run_sweep(draws, build_evaluator(SPEC), tmp_path / "local", chunk_size=CHUNK)

    log = []
    part = run_sweep_distributed(draws, SPEC, tmp_path / "dask", client, chunk_size=CHUNK, max_chunks=3,
                                 worker_log=log)
    assert int(part.done.sum()) == 3 * CHUNK and not part.complete
    done = run_sweep_distributed(draws, SPEC, tmp_path / "dask", client, chunk_size=CHUNK, worker_log=log)
    assert done.complete
    assert sorted(i for i, *_ in log) == list(range(8))  # every chunk once, none recomputed on resume
    np.testing.assert_array_equal(done.outcomes, local.outcomes)
    np.testing.assert_array_equal(done.status, local.status)
    assert done.n_failed == local.n_failed > 0  # failed draws recorded, as locally

    # each worker process built the evaluator and compiled the chunk function once, however many tasks it ran
    pids = {pid for _, pid, _, _ in log}
    assert 1 <= len(pids) <= 2 and max(sum(p == pid for _, p, _, _ in log) for pid in pids) >= 4
    for pid in pids:
        mine = [(ev, fn) for _, p, ev, fn in log if p == pid]
        assert {ev for ev, _ in mine} == {1} and {fn for _, fn in mine} == {1}, mine


def test_a_dask_sweep_can_be_finished_locally(client, tmp_path):
    draws = sample(ISHIGAMI_PROBLEM, 16, seed=9)[:32]
    run_sweep_distributed(draws, SPEC, tmp_path, client, chunk_size=CHUNK, max_chunks=2)
    seen = []
    finished = run_sweep(draws, build_evaluator(SPEC), tmp_path, chunk_size=CHUNK,
                         callback=lambda i, r: seen.append(i))
    assert finished.complete and len(seen) == 2
    fresh = run_sweep(draws, build_evaluator(SPEC), tmp_path / "fresh", chunk_size=CHUNK)
    np.testing.assert_array_equal(finished.outcomes, fresh.outcomes)


def test_the_cli_runs_a_model_sweep_on_an_existing_cluster(client, tmp_path, capsys):
    """`noreg sensitivity sobol CONFIG --dask-scheduler ADDRESS`: the chunks of the small model config run on
    the cluster's workers and the sweep is written (and would resume) like a local one."""
    from noreg_jax.cli import main
    from sensitivity.sobol import CONFIG_DIR
    from sensitivity.sweep import load_sweep

    argv = ["sensitivity", "sobol", str(CONFIG_DIR / "ci_small.toml"), "--out", str(tmp_path),
            "--dask-scheduler", client.scheduler.address, "--chunk-size", "4", "--max-chunks", "1",
            "--no-figures", "--quiet"]
    assert main(argv) == 0
    assert "resume" in capsys.readouterr().out
    sweep = load_sweep(tmp_path / "sweep")
    assert int(sweep.done.sum()) == 4 and not sweep.complete and sweep.n_failed == 0
    assert np.isfinite(sweep.outcomes[sweep.done]).all()
