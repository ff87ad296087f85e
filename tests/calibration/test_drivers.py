"""The shipped reference-path drivers (noreg_jax/data/reference, docs/drivers.md) and their rebuild.

Reads only the shipped files in noreg_jax/data, calibration/sources and the builder (never ../shared).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from calibration import build_drivers  # noqa: E402

DATA = REPO / "noreg_jax" / "data"
REFERENCE = DATA / "reference"
BENCH = DATA / "benchmark_2018"
YEARS = list(range(2018, 2051))
FILES = {
    "population.csv": ["region", "year", "population", "source"],
    "education_shares.csv": ["year", "education", "share", "source"],
    "participation.csv": ["year", "participation_rate", "participation_index", "source"],
    "productivity.csv": ["sector", "tfp_growth", "source"],
    "petroleum.csv": ["year", "capital_index", "source"],
    "scalars.csv": ["item", "value", "source"],
    "migration.csv": ["education", "beta", "source"],
}


def read(name: str, folder: Path = REFERENCE) -> pd.DataFrame:
    return pd.read_csv(folder / name, keep_default_na=False)


@pytest.fixture(scope="module")
def codes() -> dict[str, list[str]]:
    return {"regions": list(read("regions.csv", BENCH)["code"]), "sectors": list(read("sectors.csv", BENCH)["code"]),
            "education": list(read("education.csv", BENCH)["code"])}


@pytest.mark.parametrize("name", sorted(FILES))
def test_columns_and_sources(name):
    frame = read(name)
    assert list(frame.columns) == FILES[name]
    assert (frame["source"].str.len() > 0).all(), f"{name}: a row has no source"


def test_years_complete(codes):
    pop = read("population.csv")
    expected = {(r, y) for r in codes["regions"] for y in YEARS}
    assert set(zip(pop["region"], pop["year"])) == expected and len(pop) == len(expected)
    shares = read("education_shares.csv")
    expected = {(y, e) for y in YEARS for e in codes["education"]}
    assert set(zip(shares["year"], shares["education"])) == expected and len(shares) == len(expected)
    for name in ("participation.csv", "petroleum.csv"):
        assert list(read(name)["year"]) == YEARS, name
    assert list(read("productivity.csv")["sector"]) == codes["sectors"]
    assert list(read("migration.csv")["education"]) == codes["education"]


def test_population_2018_equals_benchmark():
    pop = read("population.csv").set_index(["region", "year"])["population"]
    bench = read("households.csv", BENCH).groupby("region", sort=False)["population"].sum()
    for region, value in bench.items():
        assert pop[(region, 2018)] == pytest.approx(value, rel=1e-6), region


def test_population_actuals_and_2050_projection():
    pop = read("population.csv").set_index(["region", "year"])["population"]
    names = read("regions.csv", BENCH).set_index("name")["code"]
    actual = read("county_population_2018-2023_2020borders.csv", REPO / "calibration" / "sources")
    for _, row in actual.iterrows():
        for year in range(2018, 2024):
            assert pop[(names[row["county"]], year)] == pytest.approx(row[f"pop_{year}"] / 1000.0, rel=1e-12)
    numbers = read("regions.csv", BENCH).astype({"county_number": str})
    projection = pd.read_csv(build_drivers.FILE_PROJECTION, dtype={"county_number": str})
    code = dict(zip(numbers["county_number"].str.zfill(2), numbers["code"]))
    for _, row in projection.iterrows():
        assert pop[(code[row["county_number"]], 2050)] == pytest.approx(row["pop_2050_MMMM"] / 1000.0, rel=1e-12)
    assert pop.xs(2050, level="year").sum() == pytest.approx(6028.830, rel=1e-12)


def test_population_constant_growth_after_2023(codes):
    pop = read("population.csv").set_index(["region", "year"])["population"]
    for r in codes["regions"]:
        growth = [pop[(r, y + 1)] / pop[(r, y)] for y in range(2023, 2050)]
        assert max(growth) - min(growth) < 1e-7, r


def test_education_shares(codes):
    shares = read("education_shares.csv").pivot(index="year", columns="education", values="share")
    assert (shares > 0).all().all()
    assert (shares.sum(axis=1) - 1.0).abs().max() < 1e-9
    bench = read("households.csv", BENCH).groupby("education")["population"].sum()
    for e in codes["education"]:
        assert shares.loc[2018, e] == pytest.approx(bench[e] / bench.sum(), abs=1e-11), e
    higher = shares["bach"] + shares["mast"]
    assert higher[2040] / higher[2018] == pytest.approx(53 / 39, rel=1e-10)
    step = (higher[2040] - higher[2018]) / 22
    assert higher[2050] - higher[2040] == pytest.approx(0.5 * step * 10, rel=1e-9)
    assert (shares["voc"] - shares.loc[2018, "voc"]).abs().max() < 1e-12
    ratio = shares["bach"] / shares["mast"]
    assert (ratio - ratio[2018]).abs().max() < 1e-9
    assert higher.diff().dropna().gt(0).all()


def test_participation():
    part = read("participation.csv").set_index("year")
    assert part.loc[2018, "participation_index"] == 1.0
    assert part.loc[2050, "participation_index"] == pytest.approx(71.2 / 70.0, rel=1e-11)
    assert part.loc[2050, "participation_rate"] == pytest.approx(0.712, abs=1e-12)
    assert (part["participation_index"] - part["participation_rate"] / 0.70).abs().max() < 1e-11


def test_productivity_petroleum_scalars_migration():
    tfp = read("productivity.csv").set_index("sector")["tfp_growth"]
    assert tfp["PETRO"] == 0.0
    assert all(tfp[s] == 0.003 for s in ("PADM", "EDU", "HEALTH"))
    assert (tfp.drop(["PETRO", "PADM", "EDU", "HEALTH"]) == 0.010).all()
    petro = read("petroleum.csv").set_index("year")["capital_index"]
    assert (petro.loc[2018:2025] == 1.0).all()
    assert petro[2050] == pytest.approx(0.5, abs=1e-12)
    decline = [petro[y + 1] / petro[y] for y in range(2025, 2050)]
    assert max(decline) - min(decline) < 1e-11 and decline[0] == pytest.approx(0.5 ** (1 / 25), rel=1e-11)
    scalars = read("scalars.csv").set_index("item")["value"]
    assert dict(scalars) == {"public_consumption_growth": 0.014, "energy_efficiency_growth": 0.010,
                             "depreciation": 0.06, "investment_allocation_elasticity": 2.0,
                             "power_capacity_growth": 0.008, "petroleum_cash_flow_2018": 250000.0,
                             "voc_bach_gap_closed_by_2050": 0.5, "world_demand_growth": 0.015}
    beta = read("migration.csv").set_index("education")["beta"]
    assert list(beta) == sorted(beta, reverse=True) and beta["low"] > beta["mast"]
    assert math.isclose(beta.mean(), 0.0105, rel_tol=1e-12)


def test_rebuild_is_byte_identical(tmp_path):
    written = build_drivers.main(tmp_path, verbose=False)
    assert sorted(p.name for p in written) == sorted(FILES)
    for path in written:
        assert path.read_bytes() == (REFERENCE / path.name).read_bytes(), path.name


def test_benchmark_mismatch_is_an_error():
    inp = build_drivers.load_inputs()
    bench = {r: dict(v) for r, v in inp.benchmark_population.items()}
    bench["OSL"]["low"] *= 1.001
    broken = build_drivers.Inputs(**{**inp.__dict__, "benchmark_population": bench})
    with pytest.raises(build_drivers.DriversError, match="OSL"):
        build_drivers.population_path(broken)
