"""The model against the article's figures (noreg_jax/article.py) and ``noreg compare article``.

No path is solved: the three paths are small synthetic results datasets (years 2018 and 2050, the real
region, sector and education codes) built so that every published figure has a known value, and the
CLI test replaces the function that runs the paths.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import noreg_jax.cli as cli
from noreg_jax.article import (CHECKS, NOT_IN_DIVISION, compare, format_table, load_published,
                               model_figures)
from noreg_jax.data import DataError, metadata

META = metadata()
REGIONS, SECTORS, EDUCATION = META["regions"], META["sectors"], META["education"]
YEARS = [2018, 2050]
SPAN = YEARS[1] - YEARS[0]
GROWTH = {"OSL": 0.014, "VIK": 0.013, "ROG": 0.011, "VES": 0.011, "TRO": 0.011}  # others 0.008 a year
SECTOR_FACTOR = {"KNOW": 1.3, "FIN": 1.2, "HEALTH": 1.1, "AGRI": 0.4}  # mean 1 over the mainland sectors


def _reference() -> xr.Dataset:
    """Constant population; mainland gross product of region r grows by GROWTH[r] a year; Oslo gains
    bach + mast and loses low and voc; the voc/bach real wage rises from 0.8 to 0.9."""
    growth = np.array([GROWTH.get(r, 0.008) for r in REGIONS])
    factor = np.array([SECTOR_FACTOR.get(i, 1.0) for i in SECTORS])
    gp = np.ones((2, len(REGIONS), len(SECTORS)))
    gp[1] = (1 + growth)[:, None] ** SPAN * factor[None, :]
    gp[:, :, SECTORS.index("PETRO")] = [[5.0], [0.5]]
    real_wage = np.ones((2, len(REGIONS), len(EDUCATION)))
    real_wage[:, :, EDUCATION.index("voc")] = [[0.8], [0.9]]
    migration = np.zeros((2, len(REGIONS), len(EDUCATION)))
    migration[0, REGIONS.index("OSL")] = [-2.0, -1.0, 1.5, 0.5]  # low, voc, bach, mast (thousand)
    dims = {"population": ("year", "region", "education"), "labour_force": ("year", "region", "education"),
            "real_wage": ("year", "region", "education"),
            "migration": ("year", "region", "education"), "employment": ("year", "region", "sector", "education"),
            "gross_product": ("year", "region", "sector")}
    # everyone works (labour force = population), so migrating workers = migrating persons
    data = {"population": np.ones((2, len(REGIONS), len(EDUCATION))),
            "labour_force": np.ones((2, len(REGIONS), len(EDUCATION))), "real_wage": real_wage,
            "migration": migration, "employment": np.ones((2, len(REGIONS), len(SECTORS), len(EDUCATION))),
            "gross_product": gp}
    coords = {"year": YEARS, "region": REGIONS, "sector": SECTORS, "education": EDUCATION}
    return xr.Dataset({k: (dims[k], v) for k, v in data.items()}, coords=coords, attrs={"name": "reference"})


def _scenario1(reference: xr.Dataset, voc_migration: float = -1.0) -> xr.Dataset:
    """Trøndelag: voc -1000, low +900, bach -100 migrants; employment +0.1 %, population unchanged;
    voc wage -1 %, low +1 %; gross product +0.65 % (chemicals +3.65 %, metals +2.65 %, tourism -4.35 %)."""
    ds = reference.copy(deep=True)
    tro, last = dict(region="TRO"), dict(year=2050)
    ds["migration"].loc[dict(year=2018, **tro)] += np.array([0.9, voc_migration, -0.1, 0.0])
    ds["employment"].loc[dict(**last, **tro)] *= 1.001
    ds["real_wage"].loc[dict(**last, **tro)] *= np.array([1.01, 0.99, 1.0, 1.0])
    bump = pd.Series({"CHEM": 0.03, "METAL": 0.02, "TOUR": -0.05}).reindex(SECTORS, fill_value=0.0).values
    gp = ds["gross_product"].loc[dict(**last, **tro)]
    ds["gross_product"].loc[dict(**last, **tro)] = gp * 1.0065 + bump * float(gp.sel(sector="CHEM"))  # same base
    ds.attrs["name"] = "trondelag_vocational"
    return ds


def _scenario2(reference: xr.Dataset) -> xr.Dataset:
    """Gross product +2 % everywhere in 2050; 320 more employed in Oslo."""
    ds = reference.copy(deep=True)
    ds["gross_product"].loc[dict(year=2050)] *= 1.02
    ds["employment"].loc[dict(year=2050, region="OSL", sector="KNOW", education="bach")] += 0.32
    ds.attrs["name"] = "further_education"
    return ds


@pytest.fixture(scope="module")
def paths():
    reference = _reference()
    return reference, _scenario1(reference), _scenario2(reference)


def _by_id(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("id")


def test_published_csv_parses_and_every_id_is_computed(paths):
    published = load_published()
    assert list(published.columns) == ["id", "description", "article_value", "unit", "check", "source"]
    assert set(published["check"]) == set(CHECKS)
    assert (published["source"].str.len() > 0).all()
    assert set(published["id"]) == set(model_figures(*paths))
    slower = {i.removeprefix("ref_below_average_") for i in published["id"] if i.startswith("ref_below_average_")}
    assert slower == {"INN", "VTE", "AGD", "MRO", "NOR", "TFI"}  # Viken is in 'Oslo-området', not 'the other counties'


def test_model_figures_have_the_known_values(paths):
    f = model_figures(*paths)
    national = 100 * (np.mean([(1 + GROWTH.get(r, 0.008)) ** SPAN for r in REGIONS]) ** (1 / SPAN) - 1)
    assert f["ref_gdp_per_capita_growth"] == pytest.approx(national)
    assert f["ref_growth_OSL"] == pytest.approx(1.4)
    assert f["ref_growth_ROG"] == pytest.approx(1.1)
    assert f["ref_below_average_INN"] == pytest.approx(0.8 - national)
    assert f["ref_fastest_OSL"] == 1
    assert f["ref_migration_OSL_higher"] == pytest.approx(2.0)
    assert (f["ref_migration_OSL_low"], f["ref_migration_OSL_voc"]) == (-2.0, -1.0)
    assert f["ref_wage_ratio_change"] == pytest.approx(0.1)
    assert f["ref_wage_ratio_2050"] == pytest.approx(-0.1)
    ranks = ("ref_industry_rank_OSL_KNOW", "ref_industry_rank_OSL_FIN", "ref_industry_rank_TRO_HEALTH")
    assert [f[k] for k in ranks] == [1, 2, 3]
    assert f["s1_migration_voc"] == pytest.approx(-1000)
    assert f["s1_migration_low"] == pytest.approx(900)
    assert f["s1_migration_bach"] == pytest.approx(-100)
    assert f["s1_employment"] == pytest.approx(0.1)
    assert f["s1_population"] == pytest.approx(0.0)
    assert (f["s1_real_wage_voc"], f["s1_real_wage_low"]) == (pytest.approx(-1.0), pytest.approx(1.0))
    assert f["s1_gross_product_per_person"] == pytest.approx(0.65)
    assert (f["s1_industry_rank_CHEM"], f["s1_industry_rank_METAL"]) == (1, 2)
    assert f["s1_industry_TOUR"] == pytest.approx(-4.35)
    assert f["s2_mainland_gdp"] == pytest.approx(2.0)
    assert f["s2_employment_OSL_VIK"] == pytest.approx(320)


def test_industries_rank_by_the_change_in_gross_product_not_its_rate(paths):
    """A small industry that grows ×5 (Oslo's basic metals in the model) is not among the largest growers."""
    reference = paths[0].copy(deep=True)
    tiny = dict(region="OSL", sector="AGRI")
    reference["gross_product"].loc[dict(year=2018, **tiny)] = 0.01
    reference["gross_product"].loc[dict(year=2050, **tiny)] = 0.05
    f = model_figures(reference, *paths[1:])
    assert (f["ref_industry_rank_OSL_KNOW"], f["ref_industry_rank_OSL_FIN"]) == (1, 2)
    factor = reference.gross_product.sel(region="OSL").isel(year=-1) / reference.gross_product.sel(region="OSL").isel(year=0)
    assert factor.sel(sector="AGRI") > factor.sel(sector="KNOW")  # by growth rate AGRI would be first


def test_article_like_paths_pass_every_check(paths):
    table = compare(load_published(), model_figures(*paths))
    assert table["sign_ok"].isin([True, None]).all() and table["sign_ok"].eq(True).sum() == 32
    assert table["magnitude_ok"].eq(True).sum() == 12  # 10 value + 2 near_zero checks
    assert table["magnitude_ok"].isin([True, None]).all()
    assert (table["note"] == "").all()


@pytest.mark.parametrize("check, article, model, sign_ok, magnitude_ok", [
    ("value", 0.65, 0.4, True, True),
    ("value", 0.65, 0.3, True, False),  # more than a factor 2 below
    ("value", 0.65, 1.3, True, True),  # exactly a factor 2
    ("value", 0.65, 1.31, True, False),
    ("value", 1000, -1000, False, True),  # right size, wrong sign
    ("sign", 1, 0.2, True, None),
    ("sign", -1, 0.2, False, None),
    ("near_zero", 0.25, -0.2, None, True),
    ("near_zero", 0.25, 0.3, None, False),
    ("rank_first", 1, 1, True, None),
    ("rank_first", 1, 2, False, None),
    ("among_top", 4, 4, True, None),
    ("among_top", 4, 5, False, None),
])
def test_each_check_passes_and_fails(check, article, model, sign_ok, magnitude_ok):
    published = pd.DataFrame([{"id": "x", "description": "d", "article_value": article, "unit": "u", "check": check,
                               "source": "s"}])
    row = compare(published, {"x": model}).iloc[0]
    assert row["model_value"] == model
    assert row["sign_ok"] is sign_ok and row["magnitude_ok"] is magnitude_ok


def test_a_wrong_sign_is_reported(paths):
    reference, _, s2 = paths
    table = _by_id(compare(load_published(), model_figures(reference, _scenario1(reference, +1.0), s2)))
    assert table.loc["s1_migration_voc", "model_value"] == pytest.approx(1000)
    assert table.loc["s1_migration_voc", "sign_ok"] is False
    assert table.loc["s1_migration_voc", "magnitude_ok"] is True
    assert table["sign_ok"].eq(False).sum() == 1
    text = format_table(table.reset_index())
    assert "DIFFERS" in text and "signs (or rankings) match: 31 of 32" in text


def test_a_region_outside_the_division_is_na_not_a_failure(paths):
    keep = [r for r in REGIONS if r not in ("OSL", "TRO")]
    reference, _, s2 = (ds.sel(region=keep) for ds in paths)
    table = _by_id(compare(load_published(), model_figures(reference, None, s2)))
    na = table[table["note"] == NOT_IN_DIVISION]
    expected = {i for i in table.index if "OSL" in i or "TRO" in i or i.startswith("s1_")}
    assert set(na.index) == expected
    assert na["model_value"].isna().all() and na["sign_ok"].isna().all() and na["magnitude_ok"].isna().all()
    assert table.loc["ref_growth_ROG", "sign_ok"] is True
    assert table.loc["s2_mainland_gdp", "magnitude_ok"] is True
    text = format_table(table.reset_index())
    assert f"{len(expected)} figure(s) {NOT_IN_DIVISION}, not counted" in text


def test_markdown_table_has_a_row_per_figure(paths):
    table = compare(load_published(), model_figures(*paths))
    lines = format_table(table, markdown=True).splitlines()
    assert lines[0] == "| figure | article | model | unit | sign | magnitude |"
    rows = [line for line in lines[2:] if line.startswith("| ")]
    assert len(rows) == len(table) and all(row.count("|") == 7 for row in rows)  # no stray pipes
    assert "| Scenario 1: Trøndelag, gross product per person 2050 | +0.65 | +0.65 | % | ok | ok |" in rows


def test_a_bad_published_file_names_the_file_and_field(tmp_path):
    path = tmp_path / "published.csv"
    path.write_text("id,description,article_value,unit,check,source\nx,d,0.5,%,sign,s\n")
    with pytest.raises(DataError, match=r"published\.csv: row 2 \(x\): article_value '0\.5' does not suit"):
        load_published(path)
    path.write_text("id,description,article_value,unit,check,source\nx,d,1,%,bigger,s\n")
    with pytest.raises(DataError, match="check 'bigger' is not one of"):
        load_published(path)


@pytest.mark.parametrize("voc_migration, without, status", [(-1.0, (), 0), (+1.0, (), 1), (-1.0, ("OSL", "VIK"), 0)],
                         ids=["signs_match", "sign_differs", "no_oslo"])
def test_cli_exit_status_and_csv(paths, voc_migration, without, status, tmp_path, monkeypatch, capsys):
    keep = [r for r in REGIONS if r not in without]
    reference, _, s2 = (ds.sel(region=keep) for ds in paths)
    seen = {}

    def fake_paths(args, model):
        seen.update(regions=args.regions, cache=args.cache, no_cache=args.no_cache)
        return reference, _scenario1(reference, voc_migration), s2

    monkeypatch.setattr(cli, "model_from_args", lambda args, regions=None: None)  # no model needed: paths are given
    monkeypatch.setattr(cli, "_article_paths", fake_paths)
    out = tmp_path / "compare"
    argv = ["--regions", "x.csv", "compare", "article", "--out", str(out), "--no-cache", "--markdown"]
    assert cli.main(argv) == status
    assert seen == {"regions": "x.csv", "cache": "results/cache", "no_cache": True}
    printed = capsys.readouterr().out
    assert printed.startswith("| figure | article |")
    assert (NOT_IN_DIVISION in printed) == bool(without)
    written = pd.read_csv(out / "article_comparison.csv")
    assert list(written["id"]) == list(load_published()["id"])
    assert {"model_value", "sign_ok", "magnitude_ok", "note"} <= set(written.columns)
    assert sorted(p.name for p in out.iterdir()) == ["article_comparison.csv", "run.json"]  # no temporary file left
