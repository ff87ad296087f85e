"""Bad input files give a DataError that names the file, the field and the value (and the CLI exits 2).

Each test copies the shipped benchmark (or parameter) directory to ``tmp_path``, spoils one thing, and
loads it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import noreg_jax  # noqa: F401
from noreg_jax.cli import main
from noreg_jax.data import DEFAULT_DATA_DIR, DataError, aggregate_regions, load_benchmark
from noreg_jax.parameters import DEFAULT_PARAMETER_DIR, load_economy, load_parameters

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "benchmark"
    shutil.copytree(DEFAULT_DATA_DIR, d)
    return d


@pytest.fixture
def param_dir(tmp_path):
    d = tmp_path / "parameters"
    shutil.copytree(DEFAULT_PARAMETER_DIR, d)
    return d


@pytest.fixture(scope="module")
def benchmark():
    return load_benchmark()


def _edit(path: Path, row: int, field: str, value: str) -> str:
    """Set ``field`` of data row ``row`` (0-based) to the text ``value``; return the old text."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    old = df.loc[row, field]
    df.loc[row, field] = value
    df.to_csv(path, index=False)
    return old


def _scale(path: Path, row: int, field: str, factor: float) -> None:
    """Multiply the number in ``field`` of data row ``row`` (0-based) by ``factor``."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[row, field] = repr(float(df.loc[row, field]) * factor)
    df.to_csv(path, index=False)


def _raises(load, *fragments):
    with pytest.raises(DataError) as info:
        load()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# ----------------------------------------------------------------------------------------------
# the benchmark files


def test_the_shipped_copy_loads(data_dir):
    load_benchmark(data_dir)  # the copy itself is fine: every failure below is the edit's


def test_unbalanced_sam(data_dir):
    _scale(data_dir / "sector_accounts.csv", 0, "output", 1.01)  # OSL, AGRI output +1 %
    message = _raises(lambda: load_benchmark(data_dir), str(data_dir), "unbalanced data",
                      "'sector costs = output'", "region OSL", "sector AGRI")
    assert "relative gap 0.0099" in message  # the relative gap 1 - 1/1.01


def test_unbalanced_sam_names_file_field_and_value(data_dir):
    _scale(data_dir / "sector_accounts.csv", 0, "output", 1.01)
    _raises(lambda: load_benchmark(data_dir), "sector_accounts.csv", "output", "94.5")


def test_unbalanced_sam_within_tolerance_loads(data_dir):
    _scale(data_dir / "sector_accounts.csv", 0, "output", 1 + 1e-10)
    load_benchmark(data_dir)


def test_garbage_csv(data_dir):
    path = data_dir / "intermediate.csv"
    path.write_bytes(b'region,good,sector,value\nOSL,AGRI,AGRI,1.0,2,3\n"unterminated\n\x00\x01\x02')
    _raises(lambda: load_benchmark(data_dir), str(path), "cannot be parsed as CSV")


def test_missing_column(data_dir):
    path = data_dir / "labour.csv"
    pd.read_csv(path).drop(columns=["persons"]).to_csv(path, index=False)
    _raises(lambda: load_benchmark(data_dir), str(path), "'persons'", "missing")


def test_missing_file(data_dir):
    (data_dir / "imports.csv").unlink()
    _raises(lambda: load_benchmark(data_dir), str(data_dir / "imports.csv"), "missing")


def test_negative_flow(data_dir):
    path = data_dir / "labour.csv"
    _edit(path, 3, "compensation", "-5.5")
    _raises(lambda: load_benchmark(data_dir), str(path), "'compensation'", "negative", "-5.5", "row 5")


@pytest.mark.parametrize("text", ["nan", "NaN", "", "inf", "12,5", "abc"])
def test_nan_or_non_numeric(data_dir, text):
    path = data_dir / "households.csv"
    _edit(path, 2, "transfers", text)
    _raises(lambda: load_benchmark(data_dir), str(path), "'transfers'", repr(text), "row 4")


def test_unknown_region_in_data_file(data_dir):
    path = data_dir / "labour.csv"
    _edit(path, 0, "region", "XYZ")
    _raises(lambda: load_benchmark(data_dir), str(path), "'region'", "unknown region", "'XYZ'", "row 2")


def test_commuting_that_does_not_add_up_to_wage_income(data_dir):
    path = data_dir / "commuting.csv"
    _edit(path, 5, "value", "1234.5")
    _raises(lambda: load_benchmark(data_dir), str(path.parent), "'wage_income'", "pay by workplace of the residents")


def test_unknown_origin_in_trade(data_dir):
    path = data_dir / "trade.csv"
    _edit(path, 7, "origin", "STAVANGER")
    _raises(lambda: load_benchmark(data_dir), str(path), "'origin'", "'STAVANGER'")


def test_duplicate_key(data_dir):
    path = data_dir / "imports.csv"
    first = _edit(path, 0, "good", "AGRI")
    _edit(path, 1, "good", first)
    _raises(lambda: load_benchmark(data_dir), str(path), "duplicate key", "('OSL', 'AGRI')")


def test_inactive_sector(data_dir):
    """All sectors must be active: a zero capital stock is caught even when the SAM still balances."""
    path = data_dir / "sector_accounts.csv"
    df = pd.read_csv(path)
    capital = df.loc[0, "capital"]
    df.loc[0, "capital"] = 0.0
    df.loc[0, "production_tax"] += capital  # keeps costs = output
    df.to_csv(path, index=False)
    with pytest.raises(DataError) as info:
        load_benchmark(data_dir, tol=1.0)  # only the activity check can fail
    assert "sector_accounts.csv:capital" in str(info.value)
    assert "region OSL, sector AGRI" in str(info.value)


# ----------------------------------------------------------------------------------------------
# mapping tables


def test_unknown_region_in_mapping(tmp_path, benchmark):
    path = tmp_path / "mapping.csv"
    rows = [f"{r},{'A' if k < 5 else 'B'}" for k, r in enumerate(benchmark.sets.regions)]
    rows[3] = "VESTFOLD,A"
    path.write_text("region,group\n" + "\n".join(rows) + "\n")
    _raises(lambda: aggregate_regions(benchmark, path), str(path), "'region'", "unknown region", "'VESTFOLD'")
    _raises(lambda: load_economy(regions=path), str(path), "'VESTFOLD'")


def test_mapping_lacking_a_region(tmp_path, benchmark):
    path = tmp_path / "mapping.csv"
    path.write_text("region,group\n" + "\n".join(f"{r},A" for r in benchmark.sets.regions[:-1]) + "\n")
    _raises(lambda: aggregate_regions(benchmark, path), str(path), "'region'", benchmark.sets.regions[-1])


def test_mapping_with_an_empty_group_name(tmp_path, benchmark):
    path = tmp_path / "mapping.csv"
    rows = [f"{r},{'A' if k < 5 else 'B'}" for k, r in enumerate(benchmark.sets.regions)]
    rows[2] = f"{benchmark.sets.regions[2]}, "
    path.write_text("region,group\n" + "\n".join(rows) + "\n")
    _raises(lambda: aggregate_regions(benchmark, path), str(path), "'group'", "empty", repr(benchmark.sets.regions[2]),
            "row 4")


def test_mapping_of_every_region_into_one_group(tmp_path, benchmark):
    path = tmp_path / "mapping.csv"
    path.write_text("region,group\n" + "\n".join(f"{r},NORWAY" for r in benchmark.sets.regions) + "\n")
    _raises(lambda: aggregate_regions(benchmark, path), str(path), "'group'", "'NORWAY'", "at least two regions")


def test_mapping_missing_column(tmp_path, benchmark):
    path = tmp_path / "mapping.csv"
    path.write_text("county,group\n" + "\n".join(f"{r},A" for r in benchmark.sets.regions) + "\n")
    _raises(lambda: aggregate_regions(benchmark, path), str(path), "'region'", "missing")


# ----------------------------------------------------------------------------------------------
# parameter files


def test_negative_elasticity(param_dir, benchmark):
    path = param_dir / "production_elasticities.csv"
    _edit(path, 6, "sigma_kl", "-0.4")
    _raises(lambda: load_parameters(benchmark, param_dir), str(path), "'sigma_kl'", "negative", "-0.4", "row 8")


@pytest.mark.parametrize("file, field", [("production_elasticities.csv", "sigma_labour"),
                                         ("trade_elasticities.csv", "export_demand_elasticity")])
def test_an_elasticity_that_must_be_positive_is_zero(param_dir, benchmark, file, field):
    path = param_dir / file
    _edit(path, 3, field, "0")
    _raises(lambda: load_parameters(benchmark, param_dir), str(path), f"'{field}'", "must be > 0", "0.0")


def test_nan_trade_elasticity(param_dir, benchmark):
    path = param_dir / "trade_elasticities.csv"
    _edit(path, 2, "sigma_armington", "NaN")
    _raises(lambda: load_parameters(benchmark, param_dir), str(path), "'sigma_armington'", "'NaN'")


def test_elasticity_file_lacking_a_sector(param_dir, benchmark):
    path = param_dir / "production_elasticities.csv"
    df = pd.read_csv(path)
    df[df["sector"] != "HEALTH"].to_csv(path, index=False)
    _raises(lambda: load_parameters(benchmark, param_dir), str(path), "'sector'", "HEALTH")


def test_unknown_sector_in_elasticity_file(param_dir, benchmark):
    path = param_dir / "production_elasticities.csv"
    _edit(path, 0, "sector", "FARMING")
    _raises(lambda: load_parameters(benchmark, param_dir), str(path), "'sector'", "'FARMING'")


def test_duplicate_sector_in_elasticity_file(param_dir, benchmark):
    path = param_dir / "production_elasticities.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    extra = df.iloc[[0]].copy()
    extra["sigma_kl"] = "9.99"
    pd.concat([df, extra]).to_csv(path, index=False)
    _raises(lambda: load_parameters(benchmark, param_dir), str(path), "'sector'", "'AGRI'")


@pytest.mark.parametrize("frisch", ["-1.0", "-0.5", "0.0", "2.0"])
def test_frisch_not_below_minus_one(param_dir, benchmark, frisch):
    path = param_dir / "household_scalars.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df.loc[df["item"] == "frisch", "value"] = frisch
    df.to_csv(path, index=False)
    _raises(lambda: load_parameters(benchmark, param_dir), str(path), "'frisch'", "< -1", repr(float(frisch)))


def test_frisch_row_missing(param_dir, benchmark):
    path = param_dir / "household_scalars.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df[df["item"] != "frisch"].to_csv(path, index=False)
    _raises(lambda: load_parameters(benchmark, param_dir), str(path), "'frisch'")


# ----------------------------------------------------------------------------------------------
# the command line


def test_cli_check_reports_data_error_with_status_2(data_dir, capsys):
    path = data_dir / "labour.csv"
    _edit(path, 3, "compensation", "-5.5")
    assert main(["--data", str(data_dir), "check"]) == 2
    err = capsys.readouterr().err
    assert re.match(r"noreg: (data|input) error: ", err), err
    assert str(path) in err and "'compensation'" in err and "-5.5" in err


def test_cli_process_exits_with_status_2(data_dir):
    path = data_dir / "households.csv"
    _edit(path, 0, "population", "nan")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-m", "noreg_jax.cli", "--data", str(data_dir), "check"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert re.match(r"noreg: (data|input) error: ", proc.stderr), proc.stderr
    assert str(path) in proc.stderr and "'population'" in proc.stderr and "'nan'" in proc.stderr
    assert proc.stdout == ""


def test_cli_bad_parameter_dir_exits_with_status_2(param_dir, capsys):
    _edit(param_dir / "production_elasticities.csv", 0, "sigma_top", "-1")
    assert main(["--parameters", str(param_dir), "--regions", "two_regions.csv", "info"]) == 2
    assert "'sigma_top'" in capsys.readouterr().err


def test_corrupt_metadata_is_a_named_error(tmp_path):
    from noreg_jax.data import metadata

    (tmp_path / "metadata.json").write_text('{"base_year": 2018,')
    _raises(lambda: metadata(tmp_path), str(tmp_path / "metadata.json"), "not valid JSON")
