"""Accounting invariants of the shipped 2018 benchmark (docs/data_schema.md identities 1-10) and its rebuild.

Reads only the shipped files in noreg_jax/data and the builder in calibration/ (never ../shared).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATA = REPO / "noreg_jax" / "data"
BENCH = DATA / "benchmark_2018"
PARAMS = DATA / "parameters"
TOL = 1e-9
SIOT = {"value_added": 3161544.0, "compensation": 1638831.0, "output": 5898745.0}

SCHEMA_COLUMNS = {
    "regions.csv": ["code", "name", "county_number"],
    "sectors.csv": ["code", "name", "energy", "public", "goods", "a64"],
    "education.csv": ["code", "name"],
    "sector_accounts.csv": ["region", "sector", "capital", "production_tax", "intermediate_tax", "delivery_margin",
                            "exports", "output"],
    "labour.csv": ["region", "sector", "education", "compensation", "persons"],
    "intermediate.csv": ["region", "good", "sector", "value"],
    "final_demand.csv": ["region", "good", "government", "investment", "inventories"],
    "household_consumption.csv": ["region", "education", "good", "value"],
    "households.csv": ["region", "education", "population", "labour_force", "wage_income", "capital_income",
                       "transfers", "income_tax", "savings"],
    "imports.csv": ["region", "good", "value"],
    "commuting.csv": ["residence", "workplace", "education", "value", "persons"],
    "trade.csv": ["origin", "destination", "good", "value", "margin"],
    "distance.csv": ["origin", "destination", "km"],
    "national.csv": ["item", "value"],
    "shelf_accounts.csv": ["sector", "capital", "production_tax", "intermediate_tax", "exports", "output"],
    "shelf_labour.csv": ["sector", "education", "compensation", "persons"],
    "shelf_intermediate.csv": ["good", "sector", "value"],
    "shelf_regions.csv": ["region", "host_share"],
    "shelf_deliveries.csv": ["region", "good", "value"],
}
PARAMETER_COLUMNS = {
    "production_elasticities.csv": ["sector", "sigma_top", "sigma_kle", "sigma_kl", "sigma_labour",
                                    "sigma_nontertiary", "sigma_tertiary", "sigma_energy", "sigma_materials",
                                    "source"],
    "trade_elasticities.csv": ["good", "sigma_armington", "sigma_domestic", "eta_export", "export_demand_elasticity",
                               "source"],
    "household_parameters.csv": ["good", "income_elasticity", "source"],
    "household_scalars.csv": ["item", "value", "source"],
}


def read(name: str, folder: Path = BENCH) -> pd.DataFrame:
    return pd.read_csv(folder / name, keep_default_na=False, dtype={"county_number": str})


@pytest.fixture(scope="module")
def data() -> dict:
    """The shipped benchmark as dense arrays in the fixed order region, sector/good, education."""
    regions = list(read("regions.csv")["code"])
    sectors = list(read("sectors.csv")["code"])
    education = list(read("education.csv")["code"])
    rix = {c: k for k, c in enumerate(regions)}
    jix = {c: k for k, c in enumerate(sectors)}
    eix = {c: k for k, c in enumerate(education)}

    def dense(frame: pd.DataFrame, keys: list[tuple[str, dict]], column: str) -> np.ndarray:
        out = np.zeros(tuple(len(index) for _, index in keys))
        positions = tuple(frame[key].map(index).to_numpy() for key, index in keys)
        np.add.at(out, positions, frame[column].to_numpy(dtype=float))
        return out

    acc = read("sector_accounts.csv")
    lab = read("labour.csv")
    fd = read("final_demand.csv")
    hh = read("households.csv")
    trade = read("trade.csv")
    d = {
        "regions": regions, "sectors": sectors, "education": education,
        "intermediate": dense(read("intermediate.csv"), [("region", rix), ("good", jix), ("sector", jix)], "value"),
        "consumption": dense(read("household_consumption.csv"), [("region", rix), ("education", eix), ("good", jix)],
                             "value"),
        "imports": dense(read("imports.csv"), [("region", rix), ("good", jix)], "value"),
        "value": dense(trade, [("origin", rix), ("destination", rix), ("good", jix)], "value"),
        "margin": dense(trade, [("origin", rix), ("destination", rix), ("good", jix)], "margin"),
        "compensation": dense(lab, [("region", rix), ("sector", jix), ("education", eix)], "compensation"),
        "persons": dense(lab, [("region", rix), ("sector", jix), ("education", eix)], "persons"),
        "commuting": dense(read("commuting.csv"), [("residence", rix), ("workplace", rix), ("education", eix)],
                           "value"),
        "commuting_persons": dense(read("commuting.csv"), [("residence", rix), ("workplace", rix),
                                                           ("education", eix)], "persons"),
        "national": dict(zip(read("national.csv")["item"], read("national.csv")["value"].astype(float))),
        "km": dense(read("distance.csv"), [("origin", rix), ("destination", rix)], "km"),
    }
    for column in ("capital", "production_tax", "intermediate_tax", "delivery_margin", "exports", "output"):
        d[column] = dense(acc, [("region", rix), ("sector", jix)], column)
    for column in ("government", "investment", "inventories"):
        d[column] = dense(fd, [("region", rix), ("good", jix)], column)
    for column in ("population", "labour_force", "wage_income", "capital_income", "transfers", "income_tax",
                   "savings"):
        d[column] = dense(hh, [("region", rix), ("education", eix)], column)
    d["transport"] = np.array([code == "TRANS" for code in sectors], dtype=float)
    shelf = read("shelf_accounts.csv")
    shelf_labour = read("shelf_labour.csv")
    d["shelf"] = {column: dense(shelf, [("sector", jix)], column)
                  for column in ("capital", "production_tax", "intermediate_tax", "exports", "output")}
    d["shelf"].update(
        intermediate=dense(read("shelf_intermediate.csv"), [("good", jix), ("sector", jix)], "value"),
        compensation=dense(shelf_labour, [("sector", jix), ("education", eix)], "compensation"),
        persons=dense(shelf_labour, [("sector", jix), ("education", eix)], "persons"),
        host=dense(read("shelf_regions.csv"), [("region", rix)], "host_share"),
        deliveries=dense(read("shelf_deliveries.csv"), [("region", rix), ("good", jix)], "value"))
    return d


def assert_identity(lhs, rhs, scale, what: str) -> None:
    lhs, rhs = np.asarray(lhs, dtype=float), np.asarray(rhs, dtype=float)
    relative = np.abs(lhs - rhs) / np.maximum(np.abs(np.asarray(scale, dtype=float)), 1e-300)
    assert np.all(np.isfinite(relative)), what
    assert relative.max() <= TOL, f"{what}: max relative gap {relative.max():.3e}"


# ---------------------------------------------------------------------------------------------------------
# Files and schema
# ---------------------------------------------------------------------------------------------------------
def test_files_follow_schema_columns():
    for name, columns in SCHEMA_COLUMNS.items():
        assert list(read(name).columns) == columns, name
    for name, columns in PARAMETER_COLUMNS.items():
        assert list(read(name, PARAMS).columns) == columns, name


def test_sets_sizes_and_order(data):
    assert data["regions"] == ["OSL", "VIK", "INN", "VTE", "AGD", "ROG", "VES", "MRO", "TRO", "NOR", "TFI"]
    assert len(data["sectors"]) == 24
    assert data["education"] == ["low", "voc", "bach", "mast"]
    sectors = read("sectors.csv")
    assert sorted(int(a) for cell in sectors["a64"] for a in str(cell).split(";")) == list(range(65))
    assert set(sectors.loc[sectors["public"] == 1, "code"]) == {"PADM", "EDU", "HEALTH"}
    assert set(sectors.loc[sectors["energy"] == 1, "code"]) == {"POWER", "CHEM"}


def test_no_missing_values():
    for folder, names in ((BENCH, SCHEMA_COLUMNS), (PARAMS, PARAMETER_COLUMNS)):
        for name in names:
            frame = pd.read_csv(folder / name)
            assert not frame.isna().any().any(), name


def test_metadata():
    meta = json.loads((BENCH / "metadata.json").read_text(encoding="utf-8"))
    assert meta["base_year"] == 2018
    assert meta["build_command"] == "python -m calibration.build_benchmark"
    assert meta["sources"] and all(s["sha256"] and s["origin"] for s in meta["sources"])


# ---------------------------------------------------------------------------------------------------------
# Identities 1-10 (docs/data_schema.md)
# ---------------------------------------------------------------------------------------------------------
def test_identity_1_output_equals_costs(data):
    terms = [data["intermediate"].sum(axis=1), data["intermediate_tax"], data["compensation"].sum(axis=2),
             data["capital"], data["production_tax"], data["delivery_margin"]]
    assert_identity(data["output"], sum(terms), sum(np.abs(t) for t in terms), "identity 1")


def test_identity_1s_2s_continental_shelf(data):
    sh = data["shelf"]
    costs = [sh["intermediate"].sum(axis=0), sh["intermediate_tax"], sh["compensation"].sum(axis=1), sh["capital"],
             sh["production_tax"]]
    assert_identity(sh["output"], sum(costs), sum(np.abs(t) for t in costs), "identity 1s")
    assert_identity(sh["output"], sh["deliveries"].sum(axis=0) + sh["exports"], sh["output"], "identity 2s")
    assert_identity(sh["host"].sum(), 1.0, 1.0, "shelf host shares")
    # SSB 11713 2018, national minus the counties: oil and gas 545,185 + pipelines 17,714 of gross product
    value_added = sh["compensation"].sum() + sh["capital"].sum() + sh["production_tax"].sum()
    assert_identity(value_added, 545185.0 + 17714.0, 562899.0, "shelf gross product")
    active = {data["sectors"][j] for j in np.flatnonzero(sh["output"] > 0)}
    assert active == {"PETRO", "TRANS"}


def test_identity_2_output_equals_sales(data):
    terms = [data["value"].sum(axis=1), data["delivery_margin"], data["exports"]]
    assert_identity(data["output"], sum(terms), data["output"], "identity 2")


def test_identity_3_delivery_margin(data):
    assert_identity(data["delivery_margin"], data["margin"].sum(axis=1), data["output"], "identity 3")
    sectors = read("sectors.csv")
    services = (sectors["goods"] == 0).to_numpy()
    assert np.all(data["margin"][:, :, services] == 0)


def test_identity_4_armington_composite(data):
    # Buyers pay delivered value (trade.value + trade.margin): see docs/data.md, "Identity 4".
    sh = data["shelf"]
    supply = data["value"].sum(axis=0) + data["margin"].sum(axis=0) + data["imports"] + sh["deliveries"]
    terms = [data["intermediate"].sum(axis=2), sh["host"][:, None] * sh["intermediate"].sum(axis=1)[None, :],
             data["consumption"].sum(axis=1), data["government"],
             data["investment"], data["inventories"],
             data["transport"][None, :] * data["delivery_margin"].sum(axis=1)[:, None]]
    assert_identity(supply, sum(terms), sum(np.abs(t) for t in terms), "identity 4")


def test_identity_5_households(data):
    sh = data["shelf"]
    host = sh["host"][:, None]
    pay = data["compensation"].sum(axis=1) + host * sh["compensation"].sum(axis=0)  # by workplace
    jobs = data["persons"].sum(axis=1) + host * sh["persons"].sum(axis=0)
    assert_identity(data["wage_income"], data["commuting"].sum(axis=1), data["wage_income"], "identity 5a")
    assert_identity(pay, data["commuting"].sum(axis=0), pay, "identity 5c: pay by workplace")
    income = data["wage_income"] + data["capital_income"] + data["transfers"]
    spending = data["income_tax"] + data["consumption"].sum(axis=2) + data["savings"]
    assert_identity(income, spending, income, "identity 5b")
    assert_identity(data["labour_force"], data["commuting_persons"].sum(axis=1), data["labour_force"], "labour_force")
    assert_identity(jobs, data["commuting_persons"].sum(axis=0), jobs, "jobs by workplace = residents commuting in")
    assert_identity(jobs.sum(), data["labour_force"].sum(), jobs.sum(), "national jobs = labour force")


def test_commuting_follows_ssb_03321(data):
    """Oslo's jobs exceed its employed residents (in-commuting from Viken), Viken's fall short; wage incomes are
    by residence, so Oslo's households earn less than Oslo's wage bill."""
    regions = list(data["regions"])
    jobs = data["commuting_persons"].sum(axis=(0, 2))
    residents = data["commuting_persons"].sum(axis=(1, 2))
    ratio = dict(zip(regions, jobs / residents))
    assert 1.25 < ratio["OSL"] < 1.35 and 0.83 < ratio["VIK"] < 0.9, ratio
    osl, vik = regions.index("OSL"), regions.index("VIK")
    assert data["commuting_persons"][vik, osl].sum() > 0.15 * jobs[osl]  # Viken residents hold > 15 % of Oslo's jobs
    # every group commutes in the same proportions (03321 has no education)
    shares = data["commuting"] / data["commuting"].sum(axis=0, keepdims=True)
    np.testing.assert_allclose(shares, shares[:, :, :1].repeat(shares.shape[2], axis=2), rtol=1e-12)


def test_identity_6_capital_income(data):
    n = data["national"]
    rhs = data["capital_income"].sum() + n["government_capital_income"] + n["retained_earnings"]
    capital = data["capital"].sum() + data["shelf"]["capital"].sum()
    assert_identity(capital, rhs, capital, "identity 6")


def test_identity_7_government(data):
    n = data["national"]
    sh = data["shelf"]
    revenue = [data["production_tax"].sum(), data["intermediate_tax"].sum(), data["income_tax"].sum(),
               n["government_capital_income"], sh["production_tax"].sum(), sh["intermediate_tax"].sum()]
    spending = data["government"].sum() + data["transfers"].sum() + n["government_savings"]
    assert_identity(sum(revenue), spending, sum(abs(x) for x in revenue), "identity 7")


def test_identity_8_savings_investment(data):
    n = data["national"]
    saving = [data["savings"].sum(), n["government_savings"], n["retained_earnings"], n["foreign_savings"]]
    investment = data["investment"].sum() + data["inventories"].sum()
    assert_identity(sum(saving), investment, sum(abs(x) for x in saving), "identity 8")


def test_identity_9_foreign_savings(data):
    rhs = data["imports"].sum() - data["exports"].sum() - data["shelf"]["exports"].sum()
    assert_identity(data["national"]["foreign_savings"], rhs, data["imports"].sum(), "identity 9")


def test_identity_10_national_totals(data):
    sh = data["shelf"]
    value_added = data["compensation"].sum() + data["capital"].sum() + data["production_tax"].sum() \
        + sh["compensation"].sum() + sh["capital"].sum() + sh["production_tax"].sum()
    compensation = data["compensation"].sum() + sh["compensation"].sum()
    assert_identity(value_added, SIOT["value_added"], SIOT["value_added"], "identity 10 value added")
    assert_identity(compensation, SIOT["compensation"], SIOT["compensation"], "identity 10 compensation")
    assert_identity(data["output"].sum() + sh["output"].sum(), SIOT["output"], SIOT["output"], "identity 10 output")


def test_other_national_totals(data):
    n = data["national"]
    assert n["retained_earnings"] == 619678.0
    sh = data["shelf"]
    assert abs(data["capital"].sum() + sh["capital"].sum() - 1547305.0) <= TOL * 1547305.0
    assert abs(data["consumption"].sum() - 1306106.0) <= TOL * 1306106.0  # households + NPISH, SIOT 2018
    exports = data["exports"].sum() + sh["exports"].sum()
    assert abs(exports - 1332771.004) <= TOL * 1332771.004
    assert abs(data["population"].sum() - 5295.619) <= TOL * 5295.619  # 07459, 1 Jan 2018, thousand


# ---------------------------------------------------------------------------------------------------------
# Positivity (interior benchmark)
# ---------------------------------------------------------------------------------------------------------
def test_strict_positivity(data):
    use = (data["intermediate"].sum(axis=2) + data["consumption"].sum(axis=1) + data["government"]
           + data["investment"] + data["inventories"])
    strictly_positive = {
        "output": data["output"], "capital": data["capital"], "compensation": data["compensation"],
        "persons": data["persons"], "domestic deliveries": data["output"] - data["exports"],
        "composite use": use, "trade value": data["value"], "population": data["population"],
        "household consumption": data["consumption"].sum(axis=2), "savings": data["savings"],
        "income tax": data["income_tax"], "distance": data["km"],
    }
    for name, values in strictly_positive.items():
        assert np.all(values > 0), name
    for name in ("intermediate", "margin", "consumption", "imports", "government", "investment", "exports"):
        assert np.all(data[name] >= 0), name


def test_labour_force_below_population(data):
    assert np.all(data["labour_force"] < data["population"])


# ---------------------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------------------
def test_parameters(data):
    production = read("production_elasticities.csv", PARAMS)
    trade = read("trade_elasticities.csv", PARAMS)
    household = read("household_parameters.csv", PARAMS)
    scalars = dict(zip(read("household_scalars.csv", PARAMS)["item"],
                       read("household_scalars.csv", PARAMS)["value"].astype(float)))
    assert list(production["sector"]) == data["sectors"] == list(trade["good"]) == list(household["good"])
    for frame in (production, trade, household):
        assert (frame["source"].str.len() > 0).all()
    sigmas = production[["sigma_top", "sigma_kle", "sigma_kl", "sigma_labour", "sigma_nontertiary", "sigma_tertiary",
                         "sigma_energy", "sigma_materials"]]
    assert (sigmas >= 0).all().all() and (sigmas < 5).all().all()  # the REMES cap of 5.00 is replaced
    # labour nest (docs/model.md "One year's equilibrium"): each pair closer substitutes than non-tertiary vs tertiary
    assert (production["sigma_nontertiary"] > production["sigma_labour"]).all()
    assert (production["sigma_tertiary"] > production["sigma_labour"]).all()
    assert (trade["sigma_armington"] > 0).all() and (trade["eta_export"] > 0).all()
    assert (trade["export_demand_elasticity"] > 0).all()
    public = trade["good"].isin(["PADM", "EDU", "HEALTH"])
    assert (trade.loc[~public, "sigma_domestic"] > trade.loc[~public, "sigma_armington"]).all()
    budget = data["consumption"].sum(axis=(0, 1))
    engel = (budget / budget.sum() * household["income_elasticity"].to_numpy()).sum()
    assert abs(engel - 1.0) < 1e-12
    assert scalars == {"frisch": -2.0, "saving_rate": 0.07}
    savings_rate = data["savings"] / (data["savings"] + data["consumption"].sum(axis=2))
    assert np.allclose(savings_rate, scalars["saving_rate"], rtol=1e-9, atol=0)


def test_national_earnings_ratios_match_the_earnings_statistics():
    """National earnings per employed person (counties and shelf) relative to low = calibration/mappings/education.csv
    (SSB)."""
    labour = read("labour.csv")
    by_group = pd.concat([labour, read("shelf_labour.csv")]).groupby("education")[["compensation", "persons"]].sum()
    per_person = by_group["compensation"] / by_group["persons"]
    targets = pd.read_csv(Path(__file__).resolve().parents[2] / "calibration" / "mappings" / "education.csv")
    for code, ratio in zip(targets["code"], targets["relative_wage"]):
        assert per_person[code] / per_person["low"] == pytest.approx(ratio, rel=1e-10), code
    assert per_person["low"] < per_person["voc"] < per_person["bach"] < per_person["mast"]


# ---------------------------------------------------------------------------------------------------------
# Reproducibility
# ---------------------------------------------------------------------------------------------------------
def test_rebuild_is_byte_identical(tmp_path):
    from calibration.build_benchmark import main

    written = main(tmp_path, verbose=False)
    rebuilt = sorted(p.relative_to(tmp_path) for p in written)
    assert {p.name for p in rebuilt} >= set(SCHEMA_COLUMNS) | set(PARAMETER_COLUMNS) | {"metadata.json"}
    for relative in rebuilt:
        assert (tmp_path / relative).read_bytes() == (DATA / relative).read_bytes(), str(relative)


def test_verify_names_identity_region_sector_and_gap():
    from calibration.build_benchmark import BenchmarkError, build, verify

    bench = build()
    bench.output[5, 3] += 1.0  # ROG, FOOD
    with pytest.raises(BenchmarkError, match=r"identity 1 .*fails at \[ROG, FOOD\].*gap="):
        verify(bench)
