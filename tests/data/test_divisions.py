"""Divisions built from municipalities (noreg_jax.data.read_municipality_division; docs/model.md, Regional divisions).

A division file puts each of the 356 municipalities of 2020 in one region; each county is divided among its
regions by employed persons by workplace (SSB 11618). Tested: the county division is today's benchmark, the
shipped divisions keep county totals exactly, a small mixed division replicates and runs a path whose
migration sums to zero, and every bad file is refused with the file, field and value.
"""

from __future__ import annotations

import re

import jax
import numpy as np
import pandas as pd
import pytest

from noreg_jax.blocks.households import commuting_shares
from noreg_jax.data import (MAPPINGS_DIR, Benchmark, DataError, accounting_gaps, aggregate_regions, load_benchmark,
                            load_municipalities, read_division)
from noreg_jax.drivers import reference_model
from noreg_jax.dynamics import require_path_converged, simulate
from noreg_jax.equilibrium import benchmark_point, residual
from noreg_jax.parameters import load_economy


@pytest.fixture(scope="module")
def benchmark():
    return load_benchmark()


@pytest.fixture(scope="module")
def municipalities():
    return load_municipalities()


def _fields(b):
    return {f: np.asarray(getattr(b, f)) for f in Benchmark.__dataclass_fields__ if f not in ("sets", "shelf")}


def _write(tmp_path, table: pd.DataFrame, name="division.csv"):
    path = tmp_path / name
    table.to_csv(path, index=False)
    return path


def _mixed(municipalities) -> pd.DataFrame:
    """Trondheim, the rest of Trøndelag, Oslo + Viken, the rest of the country: four regions, two of them parts."""
    m = municipalities
    region = np.where(m["economic_region"] == "ER50003", "TRH",
                      np.where(m["county"] == "TRO", "TRO_REST", np.where(m["county"].isin(["OSL", "VIK"]),
                                                                          "OSVI", "REST")))
    return pd.DataFrame({"municipality": m["municipality"], "region": region})


def test_the_county_division_is_the_benchmark(benchmark):
    by_county = aggregate_regions(benchmark, "counties_by_municipality.csv")
    assert by_county.sets.regions == benchmark.sets.regions
    assert by_county.sets.region_names == benchmark.sets.region_names
    for name, value in _fields(benchmark).items():
        if name == "distance":  # the trade-weighted mean of one distance: (d·w)/w
            np.testing.assert_allclose(_fields(by_county)[name], value, rtol=1e-14, err_msg=name)
        else:
            np.testing.assert_array_equal(_fields(by_county)[name], value, err_msg=name)


@pytest.mark.parametrize("file, n_regions", [("economic_regions.csv", 85), ("trondelag_economic_regions.csv", 19)])
def test_shipped_divisions_keep_every_county_total(file, n_regions, benchmark, municipalities):
    divided = aggregate_regions(benchmark, file)
    s = divided.sets
    assert s.n_regions == n_regions and len(set(s.region_names)) == n_regions
    assert max(float(np.abs(g).max()) for g in accounting_gaps(divided).values()) < 1e-7
    back = aggregate_regions(divided, {g: s.counties_of(n)[0] for n, g in enumerate(s.regions)})
    assert back.sets.regions == benchmark.sets.regions
    for name, value in _fields(benchmark).items():
        np.testing.assert_allclose(_fields(back)[name], value, rtol=1e-12, atol=1e-9, err_msg=name)
    # a part's production is its municipalities' share of the county's jobs, its households their share of the
    # county's residents 15-74 (SSB 11618), which is also the part's share in the county's population driver
    trh = "ER50003" if "ER50003" in s.regions else None
    if trh:
        m, n, tro = municipalities, s.region(trh), benchmark.sets.region("TRO")
        in_trh, in_tro = m["economic_region"] == "ER50003", m["county"] == "TRO"
        jobs = m.loc[in_trh, "employed_workplace"].sum() / m.loc[in_tro, "employed_workplace"].sum()
        residents = m.loc[in_trh, "population_15_74"].sum() / m.loc[in_tro, "population_15_74"].sum()
        np.testing.assert_allclose(np.asarray(divided.output)[n], jobs * np.asarray(benchmark.output)[tro], rtol=1e-13)
        np.testing.assert_allclose(np.asarray(divided.population)[n], residents * np.asarray(benchmark.population)[tro],
                                   rtol=1e-13)
        assert s.county_shares_of(n) == pytest.approx((residents,), rel=1e-13)
        assert s.region_names[n] == "Trondheim"
        assert jobs > 1.1 * residents  # Trondheim is a workplace for its neighbours


def _commuting_between(municipalities, regions: dict[str, str]) -> pd.DataFrame:
    """SSB 03321 (the shipped municipal table) summed to the regions of a division: persons [residence, workplace]."""
    from noreg_jax.data import load_municipal_commuting

    flows = load_municipal_commuting(municipalities)
    flows = flows.assign(residence=flows["residence"].map(regions), workplace=flows["workplace"].map(regions))
    return flows.pivot_table(index="residence", columns="workplace", values="employed_persons", aggfunc="sum",
                             fill_value=0.0)


def test_a_mixed_division_replicates_and_its_migration_sums_to_zero(tmp_path, municipalities):
    path = _write(tmp_path, _mixed(municipalities))
    economy = load_economy(regions=path)
    s = economy.benchmark.sets
    assert set(s.regions) == {"TRH", "TRO_REST", "OSVI", "REST"}
    assert s.counties_of(s.region("OSVI")) == ("OSL", "VIK") and s.county_shares_of(s.region("OSVI")) == (1.0, 1.0)
    assert s.regions_of_counties(["TRO"]) == ("TRH", "TRO_REST")
    f = residual(benchmark_point(economy.benchmark), economy)  # replication: the benchmark solves every equation
    assert float(np.abs(np.asarray(f)).max()) < 1e-9
    model = reference_model(economy)
    path_result = require_path_converged(jax.jit(simulate)(model), model)
    migration = np.asarray(path_result.migration)  # (T, R, E), thousand persons
    np.testing.assert_allclose(migration.sum(axis=1), 0.0, atol=1e-9)
    assert np.abs(migration).max() > 1e-3  # the regions differ, so people do move
    # commuting: the labour hired at each workplace = the labour of the residents commuting in, every region, group
    # and year, in benchmark wage-bill units (in persons only approximately once counties are merged: OSVI's
    # jobs held by the rest of the country are a different mix of Oslo and Viken jobs than OSVI's own)
    b, out = economy.benchmark, path_result.outcomes
    labour_force = np.asarray(out["labour_force"])
    jobs = np.asarray(out["employment"]).sum(axis=2) + np.asarray(out["shelf_workers"])
    pay_per_job = np.asarray(b.commuting.sum(axis=0) / b.commuting_persons.sum(axis=0))
    labour_in = np.einsum("rwe,tre->twe", np.asarray(commuting_shares(b)),
                          labour_force * np.asarray(b.wage_income / b.labour_force))
    np.testing.assert_allclose(jobs * pay_per_job, labour_in, rtol=1e-8)
    # who holds the jobs of each part of Trøndelag is SSB 03321's answer for its municipalities, in every group
    # (for OSVI and REST, merged counties, the mix of counties behind each group's jobs weights it differently)
    division = _mixed(municipalities)
    observed = _commuting_between(municipalities, dict(zip(division["municipality"], division["region"])))
    observed = observed.loc[list(s.regions), list(s.regions)].to_numpy()
    persons = np.asarray(b.commuting_persons)
    # the article's figures are by county: the results merge the parts back (noreg compare article on divisions)
    from noreg_jax.results import merge_parts, to_dataset

    ds = to_dataset(model, path_result)
    from noreg_jax.results import capital_is_whole, capital_regions

    assert capital_regions(ds) == ["OSVI"] and capital_is_whole(ds)
    merged = merge_parts(ds, s)
    assert set(merged.region.values) == {"OSVI", "REST", "TRO"}
    parts = ["TRH", "TRO_REST"]
    np.testing.assert_allclose(merged.population.sel(region="TRO"), ds.population.sel(region=parts).sum("region"))
    weight = ds.labour_force.sel(region=parts)
    np.testing.assert_allclose(merged.real_wage.sel(region="TRO"),
                               (ds.real_wage.sel(region=parts) * weight).sum("region") / weight.sum("region"))
    assert "output_price" not in merged and str(merged.region_name.sel(region="TRO").values) == "Trøndelag"
    trh, tro_rest = s.region("TRH"), s.region("TRO_REST")
    for e in range(s.n_education):
        for w in (trh, tro_rest):
            np.testing.assert_allclose(persons[:, w, e] / persons[:, w, e].sum(), observed[:, w] / observed[:, w].sum(),
                                       rtol=1e-10)
    assert persons[tro_rest, trh].sum() > 0.1 * persons[:, trh].sum()  # a fifth of Trondheim's jobs: from Trøndelag
    assert np.asarray(b.labour_force)[trh].sum() < persons[:, trh].sum()  # fewer employed residents than jobs


def _bad(municipalities, change):
    table = _mixed(municipalities)
    return change(table.copy())


@pytest.mark.parametrize("change, field, words", [
    (lambda t: t.iloc[1:], "'municipality'", ["lacks 1 of the 356", "'0301'"]),
    (lambda t: pd.concat([t, t.iloc[[5]]]), "'municipality'", ["twice (row 358)"]),
    (lambda t: t.assign(municipality=t["municipality"].where(t.index != 3, "9999")), "'municipality'",
     ["unknown municipality '9999' (row 5)"]),
    (lambda t: t.assign(municipality=t["municipality"].where(t.index != 0, "301")), "'municipality'",
     ["unknown municipality '301'", "four digits"]),
    (lambda t: t.assign(region=t["region"].where(t.index != 2, "")), "'region'", ["empty", "row 4"]),
    (lambda t: t.assign(region="NORWAY"), "'region'", ["'NORWAY'", "at least two regions"]),
    (lambda t: t.assign(region_name=np.where(t.index == 7, "Trondheim", t["region"])), "'region_name'",
     ["one name a region"]),
    (lambda t: t.assign(region=t["region"].replace("TRH", "TRO")), "'region'",
     ["county code 'TRO'", "choose another code"]),
])
def test_bad_division_files_name_the_file_field_and_value(change, field, words, tmp_path, benchmark, municipalities):
    path = _write(tmp_path, _bad(municipalities, change))
    with pytest.raises(DataError) as info:
        aggregate_regions(benchmark, path)
    message = str(info.value)
    for part in (str(path), field, *words):
        assert part in message, (part, message)


def test_a_division_by_municipality_needs_the_county_benchmark(tmp_path, benchmark, municipalities):
    two = aggregate_regions(benchmark, "two_regions.csv")
    path = _write(tmp_path, _mixed(municipalities))
    with pytest.raises(DataError, match="divides the 11 counties; this benchmark's regions are OSVI, REST"):
        aggregate_regions(two, path)


def test_every_shipped_mapping_file_reads(benchmark):
    for f in sorted(MAPPINGS_DIR.glob("*.csv")):
        mapping, names = read_division(f, benchmark.sets)
        assert set(mapping) == set(benchmark.sets.regions), f
        for parts in mapping.values():
            assert sum(parts.values()) == pytest.approx(1.0, abs=1e-12), f


def test_a_rate_shock_on_a_split_county_is_given_to_each_part_and_a_level_shock_is_refused(tmp_path):
    from noreg_jax.article import SCENARIOS_DIR
    from noreg_jax.scenarios import ScenarioError, parse_scenario

    model = reference_model(load_economy(regions="trondelag_economic_regions.csv"))
    s = model.economy.benchmark.sets
    parts = [n for n, r in enumerate(s.regions) if s.counties_of(n) == ("TRO",)]
    assert len(parts) == 9
    [shock] = parse_scenario(SCENARIOS_DIR / "trondelag_vocational.toml", model).shocks
    selected = np.flatnonzero(np.asarray(shock.selection).any(axis=1))
    assert selected.tolist() == sorted(parts)
    [only] = parse_scenario(SCENARIOS_DIR / "trondheim_vocational.toml", model).shocks
    assert np.flatnonzero(np.asarray(only.selection).any(axis=1)).tolist() == [s.region("ER50003")]
    level = tmp_path / "level.toml"
    level.write_text('name = "x"\n[[shocks]]\ndriver = "workers"\nregion = "TRO"\neducation = "voc"\n'
                     'years = [2025, 2035]\nmode = "level"\nvalue = 1.0\n')
    with pytest.raises(ScenarioError, match="a level would be given to every part") as info:
        parse_scenario(level, model)
    assert str(level) in str(info.value) and "'TRO'" in str(info.value)


def test_a_path_that_cannot_name_a_file_is_a_data_error(benchmark):
    with pytest.raises(DataError, match="file is missing"):
        aggregate_regions(benchmark, "two\x00regions.csv")


def test_a_commuting_table_that_disagrees_with_the_jobs_is_refused(tmp_path, monkeypatch, benchmark, municipalities):
    import noreg_jax.data as data

    flows = pd.read_csv(data.MUNICIPAL_COMMUTING, dtype=str)
    flows.loc[0, "employed_persons"] = str(int(flows.loc[0, "employed_persons"]) + 100)
    bad = tmp_path / "commuting.csv"
    flows.to_csv(bad, index=False)
    monkeypatch.setattr(data, "MUNICIPAL_COMMUTING", bad)
    with pytest.raises(DataError, match=r"commuting.csv: field 'employed_persons' sums to .* for the workplace "
                                        f"'{flows.loc[0, 'workplace']}'"):
        aggregate_regions(benchmark, "trondelag_economic_regions.csv")


def test_more_vocational_residents_of_trondheim_lower_the_wage_of_its_commuters(tmp_path, municipalities):
    # the channel by which a programme in Trondheim reaches the rest of Trøndelag (README, Regions below the county):
    # a fifth of Trondheim's jobs are held by commuters from the rest of the county, who earn Trondheim's wage
    import equinox as eqx

    from noreg_jax.blocks.households import residence_wage
    from noreg_jax.equilibrium import evaluate, require_converged, solve_equilibrium

    economy = load_economy(regions=_write(tmp_path, _mixed(municipalities)))
    b, s = economy.benchmark, economy.benchmark.sets
    trh, tro_rest, rest, voc = s.region("TRH"), s.region("TRO_REST"), s.region("REST"), s.educ("voc")
    supply = economy.params.labour_supply.at[trh, voc].multiply(1.05)
    shocked = eqx.tree_at(lambda e: e.params.labour_supply, economy, supply)
    x, status = jax.jit(solve_equilibrium)(shocked, benchmark_point(b))
    require_converged(x, status, shocked)
    fall = 1.0 - np.asarray(residence_wage(b, evaluate(x, shocked).wage))[:, voc]
    # measured: 2.6 % in Trondheim, 0.7 % for the rest of Trøndelag's residents, 0.03 % in the rest of the country
    assert fall[trh] > 2 * fall[tro_rest] > 20 * fall[rest] > 0.0


def _jsonstat(dimensions: list[tuple[str, list[str], list[str]]], values, label: str) -> dict:
    """A JSON-stat 2.0 dataset in SSB's PxWebApi layout (dimension id, codes, labels), values row-major."""
    return {"version": "2.0", "class": "dataset", "label": label,
            "source": "Test fixture written by tests/data/test_divisions.py, not an SSB download: the numbers are "
                      "invented",
            "id": [d for d, _, _ in dimensions], "size": [len(c) for _, c, _ in dimensions],
            "role": {"time": ["Tid"], "geo": ["Region"]},
            "dimension": {d: {"label": d, "category": {"index": {c: k for k, c in enumerate(codes)},
                                                       "label": dict(zip(codes, labels))}}
                          for d, codes, labels in dimensions},
            "value": [float(v) for v in np.ravel(values)]}


def test_sub_county_tables_from_jsonstat2_divide_a_county_by_data(tmp_path, monkeypatch, benchmark, municipalities):
    # SSB 07984 and 09429 as a user would download them (JSON-stat2), for every municipality of Rogaland: the
    # builder turns them into the zone tables, and the 85 economic regions then divide Rogaland by them
    import json

    import noreg_jax.data as data
    from calibration import build_zones

    m = municipalities
    rog = list(m.loc[m["county"] == "ROG", "municipality"])
    rng = np.random.default_rng(7)
    industries = list(build_zones.INDUSTRY_GROUPS)
    employed = rng.integers(0, 3000, size=(len(rog), len(industries), 1)).astype(float)
    employed[0, industries.index("05-09")] = 0.0  # one municipality without mining or oil
    employment = _jsonstat([("Region", [f"K-{c}" for c in rog], rog), ("NACE2007", industries, industries),
                            ("ContentsCode", ["SysselEtterArbste"], ["Employed persons"]), ("Tid", ["2020"], ["2020"])],
                           employed, "07984: Employed persons by place of work, industry (SN2007)")
    levels = ["01", "02a", "11", "03a", "04a", "09a"]
    persons = rng.integers(10, 5000, size=(len(rog), len(levels), 1, 1))
    education = _jsonstat([("Region", rog, rog), ("Nivaa", levels, levels), ("Kjonn", ["0"], ["Both sexes"]),
                           ("ContentsCode", ["Personer"], ["Persons"]), ("Tid", ["2020"], ["2020"])],
                          persons, "09429: Persons 16 years and older, by level of education")
    files = {}
    for name, table in (("employment", employment), ("education", education)):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(json.dumps(table))
    emp_table, edu_table = build_zones.jsonstat_tables(m, files["employment"], files["education"])
    assert set(emp_table["municipality"]) == set(rog) and set(emp_table["group"]) == set(industries)
    assert set(edu_table["group"]) == {"01+02a+11", "03a", "04a"}  # 09a (no education given) left out
    paths = {"ZONE_EMPLOYMENT": tmp_path / "employment.csv", "ZONE_EDUCATION": tmp_path / "education.csv"}
    emp_table.to_csv(paths["ZONE_EMPLOYMENT"], index=False)
    edu_table.to_csv(paths["ZONE_EDUCATION"], index=False)
    groups = tmp_path / "groups.csv"
    build_zones.zone_groups().to_csv(groups, index=False)
    for name, path in (*paths.items(), ("ZONE_GROUPS", groups)):
        monkeypatch.setattr(data, name, path)

    parts = data.municipal_parts("economic_regions.csv", benchmark.sets, benchmark)
    assert parts.from_data == {"sector": ["ROG"], "education": ["ROG"]}
    divided = aggregate_regions(benchmark, "economic_regions.csv")  # check_benchmark inside: balanced, all active
    s, c = divided.sets, benchmark.sets.region("ROG")
    region_of = dict(zip(m["municipality"], m["economic_region"]))
    # each municipality keeps the table's mix at its SSB 11618 size (jobs; residents 15-74)
    size = m.set_index("municipality").loc[rog]
    employed = employed * (size["employed_workplace"].to_numpy() / employed.sum(axis=(1, 2)))[:, None, None]
    counted = persons[:, :5].sum(axis=(1, 2, 3))  # 09a (no education given) is not counted
    persons = persons * (size["population_15_74"].to_numpy() / counted)[:, None, None, None]
    for region in sorted({region_of[code] for code in rog}):
        n, mine = s.region(region), [k for k, code in enumerate(rog) if region_of[code] == region]
        jobs = m.loc[m["economic_region"] == region, "employed_workplace"].sum() / \
            m.loc[m["county"] == "ROG", "employed_workplace"].sum()
        residents = m.loc[m["economic_region"] == region, "population_15_74"].sum() / \
            m.loc[m["county"] == "ROG", "population_15_74"].sum()
        for sector, group in (("HEALTH", "86-88"), ("METAL", "10-33"), ("PETRO", "05-09")):
            g = industries.index(group)
            expected = (1 - data.ZONE_FLOOR) * employed[mine, g].sum() / employed[:, g].sum() + data.ZONE_FLOOR * jobs
            j = s.sector(sector)
            np.testing.assert_allclose(np.asarray(divided.output)[n, j] / np.asarray(benchmark.output)[c, j],
                                       expected, rtol=1e-12, err_msg=f"{region} {sector}")
        bach = levels.index("03a")
        expected = (1 - data.ZONE_FLOOR) * persons[mine, bach].sum() / persons[:, bach].sum() + data.ZONE_FLOOR * residents
        e = s.educ("bach")
        np.testing.assert_allclose(np.asarray(divided.population)[n, e] / np.asarray(benchmark.population)[c, e],
                                   expected, rtol=1e-12, err_msg=region)
        # the employed residents of each group follow the education table too (the commuting fit's rows)
        np.testing.assert_allclose(np.asarray(divided.labour_force)[n, e] / np.asarray(benchmark.labour_force)[c, e],
                                   expected, rtol=1e-9, err_msg=region)
    back = aggregate_regions(divided, {g: s.counties_of(n)[0] for n, g in enumerate(s.regions)})
    for name, value in _fields(benchmark).items():
        np.testing.assert_allclose(_fields(back)[name], value, rtol=1e-10, atol=1e-9, err_msg=name)


def test_the_shipped_telemark_tables_divide_vestfold_og_telemark(benchmark, municipalities):
    from noreg_jax.data import ZONE_FLOOR, municipal_parts

    parts = municipal_parts("economic_regions.csv", benchmark.sets, benchmark)
    assert parts.from_data == {"sector": ["VTE"], "education": ["VTE"]}  # the rest of the country: SYNTHESISED
    divided = aggregate_regions(benchmark, "economic_regions.csv")
    s, c = divided.sets, benchmark.sets.region("VTE")
    share = lambda field, n, j: np.asarray(getattr(divided, field))[n, j] / np.asarray(getattr(benchmark, field))[c, j]
    # Vest-Telemark (ER38006) has no mining or oil jobs in the table: only the 1 % floor of its jobs share is left
    m = municipalities
    jobs = m.loc[m["economic_region"] == "ER38006", "employed_workplace"].sum() / \
        m.loc[m["county"] == "VTE", "employed_workplace"].sum()
    n = s.region("ER38006")
    np.testing.assert_allclose(share("output", n, s.sector("PETRO")), ZONE_FLOOR * jobs, rtol=1e-12)
    # sectors of one SN2007 group (manufacturing) keep the county's mix within the group in every part
    for n in range(s.n_regions):
        if "VTE" in s.counties_of(n):
            np.testing.assert_allclose(share("output", n, s.sector("CHEM")), share("output", n, s.sector("FOOD")),
                                       rtol=1e-12)


@pytest.mark.parametrize("row, words", [("9999,01-03,5", "field 'municipality' has '9999'"),
                                        ("3806,01-99,5", "field 'group' has '01-99'"),
                                        ("3806,01-03,-5", "employed")])
def test_a_bad_sub_county_table_names_its_file_field_and_value(tmp_path, monkeypatch, benchmark, row, words):
    import noreg_jax.data as data

    bad = tmp_path / "employment_by_industry.csv"
    bad.write_text(data.ZONE_EMPLOYMENT.read_text(encoding="utf-8") + row + "\n", encoding="utf-8")
    monkeypatch.setattr(data, "ZONE_EMPLOYMENT", bad)
    with pytest.raises(DataError, match=re.escape(str(bad)) + ".*" + re.escape(words)):
        aggregate_regions(benchmark, "economic_regions.csv")


def test_the_shipped_sub_county_tables_are_the_builders_output(municipalities):
    import noreg_jax.data as data
    from calibration import build_zones

    m = build_zones.municipalities()
    employment, education = build_zones.telemark_tables(m)
    for built, shipped in ((employment, data.ZONE_EMPLOYMENT), (education, data.ZONE_EDUCATION),
                           (build_zones.zone_groups(), data.ZONE_GROUPS)):
        pd.testing.assert_frame_equal(built.reset_index(drop=True),
                                      pd.read_csv(shipped, dtype={"municipality": str}), check_dtype=False)
    names = set(m.set_index("municipality").loc[sorted(set(employment["municipality"])), "name"])
    assert {"Skien", "Porsgrunn", "Vinje"} <= names
    assert len(set(employment["municipality"])) == 17 and set(employment["municipality"]) <= set(
        municipalities.loc[municipalities["county"] == "VTE", "municipality"])


def test_an_outcome_named_by_its_county_is_the_sum_of_the_countys_parts(tmp_path, municipalities):
    # every command that reads outcomes (gradients, sobol, estimate, decompose, optimise) parses them this way
    from sensitivity.outcomes import OutcomeError, parse_outcome

    model = reference_model(load_economy(regions=_write(tmp_path, _mixed(municipalities))))
    s = model.economy.benchmark.sets
    outcome = parse_outcome("population:TRO:voc:2050", model)
    assert sorted(s.regions[k] for k in outcome.selection[0]) == ["TRH", "TRO_REST"]
    assert parse_outcome("population:TRH:2050", model).selection[0] == (s.region("TRH"),)
    with pytest.raises(OutcomeError, match="OSL"):  # Oslo is only part of OSVI
        parse_outcome("population:OSL:2050", model)
