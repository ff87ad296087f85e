"""The ``noreg`` command line: ``check`` runs the invariants and prints a table, ``info`` the data set's
dimensions and national totals (SIOT 2018: output 5,898,745; value added 3,161,544; compensation
1,638,831 NOK million)."""

from __future__ import annotations

import re

import pytest

import noreg_jax  # noqa: F401
from noreg_jax.cli import build_parser, main

CHECKS = ("benchmark residual", "solve from prices", "numeraire x2 doubles", "numeraire x2 leaves",
          "Walras' law")


def _table_rows(out: str):
    """The rows of the check table: (name, value, tolerance, result)."""
    rows = []
    for line in out.splitlines():
        m = re.match(r"^(.*\S)\s+(\S+)\s+(\d\.?\d*e[-+]\d+)\s+(ok|FAILED)$", line)
        if m:
            rows.append((m.group(1), float(m.group(2)), float(m.group(3)), m.group(4)))
    return rows


@pytest.mark.parametrize("regions", ["two_regions.csv", None], ids=["two_regions", "counties"])
def test_check_passes_and_prints_a_table(regions, capsys):
    argv = (["--regions", regions] if regions else []) + ["check"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    n = 2 if regions else 11
    assert f"NOREG-JAX check: {n} regions x 24 sectors x 4 education groups" in out
    assert re.search(r"^check\s+value\s+tolerance\s+result$", out, re.M)
    rows = _table_rows(out)
    assert len(rows) == len(CHECKS)
    for (name, value, tolerance, result), expected in zip(rows, CHECKS):
        assert expected in name
        assert result == "ok"
        assert value <= tolerance
    assert "FAILED" not in out
    assert out.rstrip().endswith("all checks passed")


def _totals(out: str) -> dict[str, float]:
    totals = {}
    for line in out.splitlines():
        m = re.match(r"^\s+(\S.*?)\s{2,}([\d,]+\.\d)$", line)
        if m:
            totals[m.group(1)] = float(m.group(2).replace(",", ""))
    return totals


def test_info_prints_dimensions_and_national_totals(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "base year 2018" in out
    assert "regions (11): OSL, VIK, INN, VTE, AGD, ROG, VES, MRO, TRO, NOR, TFI" in out
    assert re.search(r"^sectors \(24\): AGRI, FISH, PETRO, .*, HEALTH$", out, re.M)
    assert "education groups (4): low, voc, bach, mast" in out
    assert "unknowns of one year's equilibrium: 837" in out  # 3 x 11 x 24 + 11 x 4 + 1
    totals = _totals(out)
    assert totals["output"] == 5_898_745.0
    assert totals["value added"] == 3_161_544.0
    assert totals["compensation of employees"] == 1_638_831.0
    assert "output                              5,898,745.0" in out  # printed with thousands separators
    assert totals["continental shelf: gross product"] == 562_899.0  # SSB 11713: oil and gas 545,185 + pipelines 17,714
    assert totals["population (thousand)"] > 5000  # Norway 2018: 5.3 million
    assert len(totals) == 11


def test_info_on_an_aggregation_keeps_the_totals(capsys):
    assert main(["--regions", "landsdeler.csv", "info"]) == 0
    out = capsys.readouterr().out
    assert "regions (5): OSTL, AGRO, VEST, TROL, NORD" in out
    assert "unknowns of one year's equilibrium: 381" in out
    totals = _totals(out)
    assert totals["output"] == 5_898_745.0
    assert totals["value added"] == 3_161_544.0
    assert totals["compensation of employees"] == 1_638_831.0


@pytest.mark.parametrize("what, expected", [
    ("regions", r"^TRO\s+Trøndelag\s+TRO$"), ("sectors", r"^PETRO\s+Petroleum extraction.*goods$"),
    ("education", r"^voc\s+Vocational upper secondary"), ("drivers", r"^workers\s+region x education$"),
    ("outcomes", r"^real_wage\s+region x education\s+population_mean\s+NOK 1000 per person"),
    ("parameters", r"^shelf_activity\s+scalar$"), ("divisions", r"^landsdeler\s+5\s+landsdeler.csv$")])
def test_list(what, expected, capsys):
    assert main(["list", what]) == 0
    assert re.search(expected, capsys.readouterr().out, re.M)


def test_list_follows_the_division(capsys):
    assert main(["--regions", "two_regions.csv", "list", "regions"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^OSVI\s+Oslo \+ Viken\s+OSL\+VIK$", out, re.M), out


def test_version(capsys):
    from noreg_jax import __version__

    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"noreg-jax {__version__}"


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([])
    assert info.value.code == 2


def test_unknown_outcome_is_an_input_error_not_a_traceback(tmp_path, capsys):
    argv = ["--regions", "two_regions.csv", "sensitivity", "gradients", "--outcome", "happiness:REST:2050",
            "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "noreg: input error" in err and "unknown variable 'happiness'" in err


def test_bad_estimation_config_is_an_input_error_not_a_traceback(tmp_path, capsys):
    config = tmp_path / "broken.toml"
    config.write_text("this is = = not toml\n")
    assert main(["estimate", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "noreg: input error" in err and str(config) in err and "not valid TOML" in err


@pytest.mark.parametrize("command", [["run", "reference"], ["run", "scenario", "scenarios/trondelag_vocational.toml"],
                                     ["compare", "article"],
                                     ["sensitivity", "gradients", "--outcome", "population:TRO:2050"],
                                     ["estimate", "calibration/configs/recovery.toml"]])
@pytest.mark.parametrize("option", ["--data", "--parameters"])
def test_data_and_parameter_directories_are_honoured(command, option, tmp_path, capsys):
    """``--data`` / ``--parameters`` name the inputs of every command that builds a model: an empty directory
    is an input error naming it (before, ``run`` solved the shipped data without a word)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = [option, str(empty), *command, "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("noreg: input error: ") and str(empty) in err and "missing" in err, err
    assert not (tmp_path / "out").exists()


def test_sobol_refuses_data_directories(tmp_path, capsys):
    argv = ["--data", str(tmp_path), "sensitivity", "sobol", "sensitivity/configs/ci_small.toml", "--out",
            str(tmp_path / "out")]
    assert main(argv) == 2
    assert "runs on the shipped data and parameters only" in capsys.readouterr().err
