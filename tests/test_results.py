"""Labelled results of a path (noreg_jax/results.py) and the ``noreg run reference`` command.

The path is the reference path on ``trondelag_rest.csv`` solved with ``SolverOptions(tol=1e-12)``:
the same computation as tests/dynamics/test_path.py, so when both files run in one session the path
compiles once. The command runs on ``two_regions.csv`` (its own compilation).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.cli import main
from noreg_jax.drivers import reference_model
from noreg_jax.dynamics import simulate
from noreg_jax.parameters import load_economy
from noreg_jax.results import _VARIABLES, format_summary, headline, load, save, to_dataset
from noreg_jax.solver import SolverOptions

AGGREGATION = "trondelag_rest.csv"
TIGHT = SolverOptions(tol=1e-12)
DIMS = ("year", "region", "sector", "education")
SUMMARIES = ("population_by_region", "employment_by_region", "gross_product_by_region",
             "mainland_gross_product_by_region", "gross_product_by_region_sector", "real_wage", "migration")
FIGURES = ("fig1_population_growth.png", "fig3_gdp_per_capita_growth.png", "fig4_largest_growing_industries.png",
           "fig5_cumulative_migration.png")


@pytest.fixture(scope="module")
def model():
    return reference_model(load_economy(regions=AGGREGATION))


@pytest.fixture(scope="module")
def dataset(model):
    result = jax.jit(simulate, static_argnames="options")(model, options=TIGHT)
    assert np.asarray(result.converged).all()
    return to_dataset(model, result, "reference")


@pytest.fixture(scope="module")
def saved(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    return out, save(dataset, out)


def test_dataset_is_labelled(model, dataset):
    s = model.economy.benchmark.sets
    assert list(dataset.year.values) == list(model.drivers.years)
    assert list(dataset.region.values) == list(s.regions)
    assert list(dataset.sector.values) == list(s.sectors)
    assert list(dataset.education.values) == list(s.education)
    # names beside the codes, from the data's regions.csv, sectors.csv and education.csv
    assert dataset.region_name.sel(region="TRO").item() == "Trøndelag"
    assert dataset.education_name.sel(education="voc").item().startswith("Vocational")
    assert list(dataset.sector_name.values) == list(s.sector_names)
    for var, (dims, _, _) in _VARIABLES.items():
        assert dataset[var].dims == dims, var
        assert set(dims) <= set(DIMS)
    assert dataset.migration.dims == ("year", "region", "education")
    assert dataset.attrs["name"] == "reference"


def test_save_load_round_trip(dataset, saved):
    out, path = saved
    assert path == out / "reference.nc" and path.exists()
    for loaded in (load(path), load(out)):  # a file, or the directory holding it
        assert set(loaded.data_vars) == set(dataset.data_vars)
        for dim in DIMS:
            np.testing.assert_array_equal(loaded[dim].values, dataset[dim].values)
        for var in dataset.data_vars:
            assert loaded[var].dims == dataset[var].dims, var
            np.testing.assert_array_equal(loaded[var].values, dataset[var].values, err_msg=var)
        for var in [*_VARIABLES, "migration"]:
            assert loaded[var].attrs.get("units"), f"{var} has no units"
            assert loaded[var].attrs["units"] == dataset[var].attrs["units"]
        assert loaded.attrs["name"] == "reference" and loaded.attrs["base_year"] == 2018
        assert loaded.converged.values.all()


def test_csv_summaries(dataset, saved):
    out, _ = saved
    for key in SUMMARIES:
        path = out / f"reference_{key}.csv"
        assert path.exists(), path
        frame = pd.read_csv(path)
        assert "year" in frame.columns and len(frame) > 0, key
        assert frame.select_dtypes("number").notna().all().all(), key
    population = pd.read_csv(out / "reference_population_by_region.csv").set_index(["year", "region"])["population"]
    expected = dataset.population.sum("education").to_series()
    # written with 10 significant digits (output_files.write_table): equal to the data within 5e-10 relative
    np.testing.assert_allclose(population.loc[expected.index].values, expected.values, rtol=5e-10)
    migration = pd.read_csv(out / "reference_migration.csv")
    assert set(migration.columns) >= {"year", "region", "education", "migration"}


def test_headline_figures_are_finite(dataset):
    h = headline(dataset)
    for key, value in h.items():
        values = np.asarray(value, dtype=float)
        assert values.size > 0 and np.isfinite(values).all(), key
    assert set(h["gross_product_growth_by_region"].index) == set(dataset.region.values)
    assert math.isclose(h["cumulative_migration"].to_numpy().sum(axis=0).max(), 0.0, abs_tol=1e-9)
    assert -0.05 < h["mainland_gdp_per_capita_growth"] < 0.05  # a growth rate, per year


def test_format_summary_mentions_the_regions(dataset):
    text = format_summary(dataset)
    for region in dataset.region.values:
        assert str(region) in text
    assert "GDP per capita" in text


def test_run_reference_command(tmp_path, capsys):
    out = tmp_path / "tmp"
    assert main(["--regions", "two_regions.csv", "run", "reference", "--out", str(out), "--quiet"]) == 0
    assert (out / "reference.nc").exists()
    for name in FIGURES:
        assert (out / name).exists() and (out / name).stat().st_size > 0, name
    ds = xr.load_dataset(out / "reference.nc", engine="h5netcdf")
    assert list(ds.region.values) == ["OSVI", "REST"]
    assert ds.converged.values.all()
    printed = capsys.readouterr().out
    assert "results:" in printed and "OSVI" in printed and "REST" in printed
    # the run manifest, written last: inputs, path status, outputs with their hashes
    manifest = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert manifest["outcome"] == "completed" and manifest["exit_status"] == 0
    assert manifest["command"][1:4] == ["--regions", "two_regions.csv", "run"]
    inputs = {Path(p).name for p in manifest["inputs"]}
    assert {"sector_accounts.csv", "shelf_accounts.csv", "production_elasticities.csv", "petroleum.csv",
            "two_regions.csv"} <= inputs
    (path,) = manifest["paths"]
    assert path["name"] == "reference" and all(path["converged"]) and len(path["years"]) == 33
    assert set(manifest["outputs"]) >= {"reference.nc", *FIGURES}
    assert main(["verify", str(out)]) == 0
    # a changed file, a missing file: verify names them
    (out / "reference_migration.csv").write_text("edited\n")
    (out / FIGURES[0]).unlink()
    capsys.readouterr()
    assert main(["verify", str(out)]) == 1
    err = capsys.readouterr().err
    assert "reference_migration.csv: changed since the run wrote it" in err and f"{FIGURES[0]}: listed in the manifest but missing" in err


def test_a_failed_or_absent_run_does_not_verify(tmp_path, capsys):
    from noreg_jax import manifest
    from noreg_jax.cli import main

    assert main(["verify", str(tmp_path)]) == 1
    assert "no run manifest" in capsys.readouterr().err
    manifest.begin(["noreg", "test"], [])
    (tmp_path / "half.csv").write_text("a\n")
    manifest.finish(tmp_path, "failed", 3, "the path did not converge in year(s) [2031]")
    with pytest.raises(manifest.ManifestError, match=r"did not complete: failed \(exit status 3\) the path did not "
                                                      r"converge in year\(s\) \[2031\]"):
        manifest.verify(tmp_path)
    (tmp_path / "run.json").write_text("{truncated")
    with pytest.raises(manifest.ManifestError, match="cannot be read"):
        manifest.verify(tmp_path)


def test_an_interrupted_run_is_recorded_as_interrupted(tmp_path, monkeypatch):
    import noreg_jax.cli as cli
    from noreg_jax import manifest

    def interrupted(args):
        (Path(args.out) / "partial.csv").write_text("a\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "cmd_run_reference", interrupted)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(KeyboardInterrupt):
        cli.main(["run", "reference", "--out", str(out)])
    recorded = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert recorded["outcome"] == "interrupted" and "partial.csv" in recorded["outputs"]
    with pytest.raises(manifest.ManifestError, match="did not complete: interrupted"):
        manifest.verify(out)


def test_a_county_inside_an_aggregated_region_is_found_and_a_stranger_is_named():
    from noreg_jax.data import DataError
    from noreg_jax.parameters import load_economy

    sets = load_economy(regions="two_regions.csv").benchmark.sets
    assert sets.region_of("TRO") == "REST" and sets.region_of("OSL") == "OSVI" and sets.region_of("REST") == "REST"
    with pytest.raises(DataError, match=r"'XYZ'.*regions: OSVI, REST"):
        sets.region_of("XYZ")


def test_an_output_location_that_is_a_file_is_refused_before_solving(tmp_path, capsys):
    from noreg_jax.cli import main

    taken = tmp_path / "results.txt"
    taken.write_text("not a folder")
    assert main(["--regions", "two_regions.csv", "run", "reference", "--out", str(taken), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{taken}: the output location is a file, not a folder" in err, err
    assert taken.read_text() == "not a folder"


def test_atomic_output_leaves_nothing_behind_on_failure(tmp_path):
    from noreg_jax.output_files import atomic_output

    target = tmp_path / "table.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]
    with atomic_output(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_figures_are_written_atomically_in_the_format_of_their_suffix(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from noreg_jax.output_files import save_figure

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    png = save_figure(fig, tmp_path / "sub" / "a.png", dpi=50)
    pdf = save_figure(fig, tmp_path / "a.pdf")
    plt.close(fig)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.pdf", "a.png", "sub"]  # no temporary file left

    class Broken:
        def savefig(self, file, **kwargs):
            Path(file).write_bytes(b"half a figure")
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        save_figure(Broken(), tmp_path / "b.png")
    assert not (tmp_path / "b.png").exists() and sorted(p.name for p in tmp_path.rglob("*")) == ["a.pdf", "a.png", "sub"]


def test_tables_are_written_without_float_noise(tmp_path, saved):
    from noreg_jax.output_files import write_table

    table = pd.DataFrame({"value": [673.4689999999957, -1.9e-15, 2.5], "code": ["a", "b", "c"],
                          "derivative": [1.0, 3e-14, -2e-13]})
    text = write_table(table, tmp_path / "t.csv").read_text(encoding="utf-8")
    assert text.splitlines() == ["value,code,derivative", "673.469,a,1", "0,b,0", "2.5,c,0"]
    text = write_table(table, tmp_path / "t.csv", zero_below=None).read_text(encoding="utf-8")
    assert text.splitlines()[1:] == ["673.469,a,1", "-1.9e-15,b,3e-14", "2.5,c,-2e-13"]
    # the summaries of a saved path: no number printed with more than 10 significant digits
    out, _ = saved

    def significant_digits(token: str) -> int:
        mantissa = re.split(r"[eE]", token.lstrip("+-"))[0].replace(".", "").lstrip("0")
        return len(mantissa.rstrip("0")) if "." in token else len(mantissa)

    csvs = sorted(out.glob("*.csv"))
    assert csvs
    for csv in csvs:
        numbers = re.findall(r"(?<![\w.])[-+]?\d+\.?\d*(?:[eE][-+]?\d+)?", csv.read_text(encoding="utf-8"))
        assert numbers, csv.name
        worst = max(numbers, key=significant_digits)
        assert significant_digits(worst) <= 10, (csv.name, worst)


def test_the_capital_regions_are_found_by_their_counties_on_any_division():
    import xarray as xr

    from noreg_jax.results import capital_is_whole, capital_label, capital_regions

    def ds(codes, counties):
        return xr.Dataset(coords={"region": codes, "region_counties": ("region", counties)})
    economic = ds(["ER03001", "ER30001", "ER30002", "ER50003"], ["OSL", "VIK", "VIK", "TRO"])
    assert capital_regions(economic) == ["ER03001", "ER30001", "ER30002"] and capital_is_whole(economic)
    landsdeler = ds(["OST", "TRO"], ["OSL+VIK+INN+VTE", "TRO"])
    assert capital_regions(landsdeler) == [] and not capital_is_whole(landsdeler)
    assert capital_is_whole(ds(["OSVI", "REST"], ["OSL+VIK", "ROG+TRO"]))
    assert not capital_is_whole(ds(["OSL", "REST"], ["OSL", "VIK+TRO"]))  # Viken is not wholly in the capital regions
    assert capital_label(["OSL", "VIK"]) == "OSL + VIK" and capital_label(["a", "b", "c", "d"]) == "Oslo + Viken"


def test_no_capital_area_figure_where_oslo_and_viken_are_not_whole_regions():
    import xarray as xr

    from noreg_jax.results import format_scenario_summary, scenario_headline

    years, regions, education, sectors = [2018, 2050], ["OST", "TRO"], ["low", "voc", "bach", "mast"], ["PETRO", "TRADE"]
    ones = lambda *shape: np.ones(shape)
    ds = xr.Dataset({"population": (("year", "region", "education"), ones(2, 2, 4)),
                     "labour_force": (("year", "region", "education"), ones(2, 2, 4)),
                     "migration": (("year", "region", "education"), ones(2, 2, 4)),
                     "real_wage": (("year", "region", "education"), ones(2, 2, 4)),
                     "employment": (("year", "region", "sector", "education"), ones(2, 2, 2, 4)),
                     "gross_product": (("year", "region", "sector"), ones(2, 2, 2))},
                    coords={"year": years, "region": regions, "education": education, "sector": sectors,
                            "region_counties": ("region", ["OSL+VIK+INN+VTE", "TRO"])}, attrs={"name": "s"})
    h = scenario_headline(ds, ds, "TRO")
    assert np.isnan(h["capital_region_employment_persons"])  # not 0: there is no such figure on this division
    assert "Oslo + Viken: n/a" in format_scenario_summary(ds, ds, "TRO")
