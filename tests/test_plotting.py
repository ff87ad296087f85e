"""The county outlines and the figure functions of noreg_jax.plotting (fast; Agg backend, PNGs in tmp_path)."""

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from noreg_jax import plotting  # noqa: E402

COUNTIES = {"OSL": "03", "VIK": "30", "INN": "34", "VTE": "38", "AGD": "42", "ROG": "11",
            "VES": "46", "MRO": "15", "TRO": "50", "NOR": "18", "TFI": "54"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _written(path) -> bool:
    return path.is_file() and path.stat().st_size > 0 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_counties_geojson_has_the_eleven_counties_and_is_small():
    path = plotting.COUNTIES_GEOJSON
    assert path.stat().st_size < 200_000
    data = json.loads(path.read_text(encoding="utf-8"))
    assert "25833" in data["crs"]["properties"]["name"]
    props = {f["properties"]["code"]: f["properties"] for f in data["features"]}
    assert {code: p["county_number"] for code, p in props.items()} == COUNTIES
    assert all(p["name"] for p in props.values())
    for feature in data["features"]:
        assert feature["geometry"]["type"] == "MultiPolygon"
        assert feature["geometry"]["coordinates"]


def test_county_map_writes_png(tmp_path):
    values = pd.Series(np.linspace(-1.0, 2.0, len(COUNTIES)), index=list(COUNTIES))
    ax = plotting.county_map(values, title="employment, % deviation", label="%", diverging=True, labels=True)
    out = plotting.save(ax.figure, tmp_path / "maps" / "county_map.png")
    assert _written(out)


def test_county_map_missing_regions_are_allowed(tmp_path):
    values = pd.Series({"OSL": 1.0, "TFI": -0.5, "VES": np.nan})
    ax = plotting.county_map(values)
    assert _written(plotting.save(ax, tmp_path / "partial.png"))


def test_county_map_unknown_region_raises_naming_it():
    values = pd.Series({"OSL": 1.0, "XYZ": 2.0})
    with pytest.raises(KeyError, match="XYZ"):
        plotting.county_map(values)


def test_bar_by_region_writes_png(tmp_path):
    values = pd.Series(np.linspace(-0.5, 1.5, len(COUNTIES)), index=list(COUNTIES))
    ax = plotting.bar_by_region(values, title="GRP", ylabel="% deviation")
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == list(values.sort_values(ascending=False).index)
    assert _written(plotting.save(ax.figure, tmp_path / "bars.png"))


def test_grouped_bars_writes_png(tmp_path):
    df = pd.DataFrame({"2018": [3.0, 1.0, 2.0], "2050": [2.5, 1.5, 2.2]}, index=["AGRI", "MANUF", "SERV"])
    ax = plotting.grouped_bars(df, title="employment shares", ylabel="%")
    assert len(ax.patches) == df.size
    assert _written(plotting.save(ax.figure, tmp_path / "grouped.png"))


def test_line_paths_writes_png(tmp_path):
    years = pd.Index(range(2018, 2051), name="year")
    df = pd.DataFrame({"OSL": np.linspace(0, 1, len(years)), "TFI": np.linspace(0, -1, len(years))}, index=years)
    ax = plotting.line_paths(df, title="population", ylabel="% deviation")
    assert len(ax.lines) == 2
    assert _written(plotting.save(ax.figure, tmp_path / "paths.png"))


def _trondelag_division():
    table = pd.read_csv(plotting.MUNICIPALITIES_GEOJSON.parents[1] / "mappings" / "trondelag_economic_regions.csv",
                        dtype=str)
    return dict(zip(table["municipality"], table["region"]))


def test_region_map_colours_each_municipality_by_its_region_and_borders_only_between_regions(tmp_path):
    regions_of = _trondelag_division()
    regions = sorted(set(regions_of.values()))
    values = pd.Series(np.linspace(-2.0, 3.0, len(regions)), index=regions)
    ax = plotting.region_map(values, regions_of, title="population, % deviation", label="%")
    assert _written(plotting.save(ax.figure, tmp_path / "region_map.png"))
    fill, borders = ax.collections[0], ax.collections[1]
    codes = [code for code, _, _ in plotting._municipalities()]
    assert len(codes) == 354 and len(fill.get_paths()) == len(codes)  # Kvitsøy and Træna are not in the outlines
    np.testing.assert_array_equal(fill.get_array(), [values[regions_of[c]] for c in codes])  # the region's value
    assert fill.norm.vmin == -fill.norm.vmax  # both signs: a scale centred on 0
    # a border segment is shared by municipalities of two regions; none runs between two of one region
    owners = {}
    for code, _, segments in plotting._municipalities():
        for seg in segments:
            owners.setdefault(seg, set()).add(regions_of[code])
    drawn = {tuple(sorted(map(tuple, seg))) for seg in borders.get_segments()}
    assert drawn and all(len(owners[seg]) == 2 for seg in drawn)
    assert len(ax.child_axes) == 1  # the capital-area inset
    with pytest.raises(KeyError, match="XYZ"):
        plotting.region_map(pd.Series({"XYZ": 1.0}), regions_of)


def test_the_reference_figures_of_a_division_include_its_maps(tmp_path):
    import xarray as xr

    from noreg_jax.figures import reference_figures

    regions_of = _trondelag_division()
    regions = list(dict.fromkeys(regions_of.values()))
    years, education = [2018, 2050], ["low", "voc", "bach", "mast"]
    rng = np.random.default_rng(0)
    shape = (len(years), len(regions), len(education))
    ds = xr.Dataset(
        {"population": (("year", "region", "education"), rng.uniform(1, 2, shape)),
         "migration": (("year", "region", "education"), rng.normal(size=shape)),
         "gross_product": (("year", "region", "sector"), rng.uniform(1, 2, (2, len(regions), 2)))},
        coords={"year": years, "region": regions, "education": education, "sector": ["PETRO", "TRADE"]})
    written = {p.name for p in reference_figures(ds, tmp_path, regions_of)}
    assert {"fig1_population_growth_map.png", "fig3_gdp_per_capita_growth_map.png"} <= written


def test_figures_are_written_in_every_format_asked_for(tmp_path):
    values = pd.Series({"OSL": 1.0, "TRO": -0.5})
    try:
        plotting.output(("png", "pdf", "svg"), dpi=300)
        first = plotting.save(plotting.bar_by_region(values), tmp_path / "bars.png")
    finally:
        plotting.output()  # the defaults again: png at 120 dpi
    assert first == tmp_path / "bars.png" and _written(first)
    assert (tmp_path / "bars.pdf").read_bytes()[:5] == b"%PDF-" and b"<svg" in (tmp_path / "bars.svg").read_bytes()
    from PIL import Image

    assert round(Image.open(first).info["dpi"][0]) == 300
    for formats, dpi in ((("jpg",), 120), ((), 120), (("png",), 10)):
        with pytest.raises(ValueError, match="format|dpi"):
            plotting.output(formats, dpi)
    assert plotting.FORMATS == ("png",) and plotting.DPI == 120


@pytest.mark.parametrize("argv, words", [(["--format", "png,jpg"], "formats are a comma-separated list"),
                                         (["--dpi", "20"], "50-1200 dpi"), (["--dpi", "x"], "not a whole number")])
def test_bad_figure_options_are_refused_with_the_reason(argv, words, capsys):
    from noreg_jax.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["run", "reference", "--out", "unused", *argv])
    assert stop.value.code == 2 and words in capsys.readouterr().err
