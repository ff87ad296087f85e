"""Divisions that split regions into parts (noreg_jax.data.aggregate_regions with shares, split_mapping).

A split part is a scaled copy of its region (docs/model.md, Regional divisions): aggregating the parts back
gives the benchmark exactly, and without migration the split path is the unsplit path, to solver tolerance.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from noreg_jax.data import (Benchmark, DataError, accounting_gaps, aggregate_regions, load_benchmark,
                            split_mapping)
from noreg_jax.drivers import reference_model
from noreg_jax.dynamics import require_path_converged, simulate
from noreg_jax.parameters import DEFAULT_PARAMETER_DIR, Economy, load_economy, load_parameters


@pytest.fixture(scope="module")
def two_and_four():
    two = aggregate_regions(load_benchmark(), "two_regions.csv")
    four = aggregate_regions(two, split_mapping(two.sets, {"OSVI": 2, "REST": 2}))
    return two, four


def _fields(b):
    out = {f: np.asarray(getattr(b, f)) for f in Benchmark.__dataclass_fields__ if f not in ("sets", "shelf")}
    out.update({f"shelf.{f}": np.asarray(getattr(b.shelf, f)) for f in type(b.shelf).__dataclass_fields__})
    return out


def test_parts_aggregate_back_to_the_benchmark_exactly(two_and_four):
    two, four = two_and_four
    assert four.sets.regions == ("OSVI1", "OSVI2", "REST1", "REST2")
    assert four.sets.county_shares_of(0) == (0.5, 0.5)
    back = aggregate_regions(four, {"OSVI1": "OSVI", "OSVI2": "OSVI", "REST1": "REST", "REST2": "REST"})
    assert back.sets.members == two.sets.members and back.sets.member_shares == ()
    for name, value in _fields(two).items():
        np.testing.assert_allclose(_fields(back)[name], value, rtol=1e-13, atol=1e-9, err_msg=name)
    assert max(float(np.abs(g).max()) for g in accounting_gaps(four).values()) < 1e-7
    assert len(set(four.sets.region_names)) == 4  # parts have names of their own


def test_without_migration_the_split_path_is_the_unsplit_path(two_and_four):
    paths = {}
    for b in two_and_four:
        model = reference_model(Economy(b, load_parameters(b, DEFAULT_PARAMETER_DIR)))
        model = eqx.tree_at(lambda m: m.dynamics.migration_beta, model, jnp.zeros_like(model.dynamics.migration_beta))
        paths[b.sets.n_regions] = require_path_converged(jax.jit(simulate)(model), model).outcomes
    for key in ("population", "gross_product", "employment", "capital"):
        two, four = np.asarray(paths[2][key]), np.asarray(paths[4][key])
        np.testing.assert_allclose(four[:, [0, 2]] + four[:, [1, 3]], two, rtol=1e-8, atol=1e-8, err_msg=key)
    np.testing.assert_allclose(np.asarray(paths[4]["wage"])[:, [1, 3]], np.asarray(paths[2]["wage"]), rtol=1e-8)


def test_a_mapping_file_with_shares_splits_a_county_and_its_drivers(tmp_path):
    sets = load_benchmark().sets
    rows = ["region,group,share"] + [f"{r},{r},1" for r in sets.regions if r != "TRO"]
    rows += ["TRO,TRO_A,0.3", "TRO,TRO_B,0.7"]
    path = tmp_path / "tro_split.csv"
    path.write_text("\n".join(rows) + "\n")
    economy = load_economy(regions=path)
    s = economy.benchmark.sets
    assert {"TRO_A", "TRO_B"} <= set(s.regions) and "TRO" not in s.regions
    whole = reference_model()
    split = reference_model(economy)
    tro = np.asarray(whole.drivers.population)[:, whole.economy.benchmark.sets.region("TRO")].sum(axis=-1)
    part = np.asarray(split.drivers.population)[:, s.region("TRO_A")].sum(axis=-1)
    np.testing.assert_allclose(part, 0.3 * tro, rtol=1e-10)
    with pytest.raises(DataError, match="county 'TRO' is split into the regions TRO_A, TRO_B"):
        s.region_of("TRO")
    assert s.regions_of_counties(["TRO", "OSL"]) == ("TRO_A", "TRO_B", "OSL")


@pytest.mark.parametrize("rows, message", [
    (["TRO,TRO_A,0.3", "TRO,TRO_B,0.6"], "field 'share' of region 'TRO' sums to"),
    (["TRO,TRO_A,0", "TRO,TRO_B,1"], "field 'share' must be > 0, found '0' for region 'TRO'"),
    (["TRO,TRO_A,0.5", "TRO,TRO_A,0.5"], "field 'region' has a duplicate value region 'TRO' in group 'TRO_A'"),
    (["TRO,TRO_A,half", "TRO,TRO_B,0.5"], "field 'share'"),
])
def test_bad_shares_name_the_file_field_and_value(rows, message, tmp_path):
    sets = load_benchmark().sets
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(["region,group,share"] + [f"{r},{r},1" for r in sets.regions if r != "TRO"] + rows))
    with pytest.raises(DataError, match=message) as info:
        load_economy(regions=path)
    assert str(path) in str(info.value)


def test_split_mapping_refuses_zero_parts():
    with pytest.raises(DataError, match="number of parts must be at least 1, found 0"):
        split_mapping(load_benchmark().sets, {"TRO": 0})
