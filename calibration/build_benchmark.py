"""Build the NOREG-JAX 2018 benchmark data set (docs/data.md) from `calibration/sources` and `calibration/mappings`.

Run from the repository root:

    python -m calibration.build_benchmark            # writes noreg_jax/data/{benchmark_2018,parameters}
    python -m calibration.build_benchmark --out DIR  # writes DIR/{benchmark_2018,parameters}

The build is deterministic (no BLAS products, no clocks, fixed float formatting with `repr`), so a rebuild is
byte-identical. Every identity of docs/data_schema.md is verified to 1e-9 (relative) before anything is
written; a failure raises `BenchmarkError` naming the identity, region, sector and gap. The method and every
assumption are documented step by step in docs/data.md (the step numbers below refer to it).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.balance import ras

CALIBRATION_DIR = Path(__file__).resolve().parent
SOURCES_DIR = CALIBRATION_DIR / "sources"
MAPPINGS_DIR = CALIBRATION_DIR / "mappings"
DEFAULT_OUT = CALIBRATION_DIR.parent / "noreg_jax" / "data"
BENCHMARK_SUBDIR = "benchmark_2018"
PARAMETER_SUBDIR = "parameters"

BASE_YEAR = 2018
VERSION = "1.0.0"
TOLERANCE = 1e-9
#: SSB SIOT 2018 national totals (NOK million) that the regional data must add up to (schema identity 10).
SIOT_TOTALS = {"value_added": 3161544.0, "compensation": 1638831.0, "output": 5898745.0}
TRANSPORT = "TRANS"

SIOT_DIR = SOURCES_DIR / "ssb_siot_2018"
FILE_11713 = SOURCES_DIR / "SSB_11713_2018_BRP_employment_by_2020county_x_industry.csv"
FILE_09429 = SOURCES_DIR / "SSB_09429_education_level_2020_by_county.csv"
FILE_POPULATION = SOURCES_DIR / "county_population_2018-2023_2020borders.csv"
FILE_03321 = SOURCES_DIR / "zones" / "ssb03321_commuting_kommune_2020.csv"
FILE_ELAS = SOURCES_DIR / "remes_pattern" / "TestElasNo__ELAS.csv"
FILE_ELASP = SOURCES_DIR / "remes_pattern" / "TestElasNo__ELASp.csv"

# SIOT final-demand columns (prefixes of the column labels in Y_domestic.csv / Y_import.csv).
FD_HOUSEHOLDS = ("Final consumption expenditure by households", "Final consumption expenditure by non-profit")
FD_GOVERNMENT = ("Final consumption expenditure by government",)
FD_INVESTMENT = ("Gross fixed capital formation",)
FD_INVENTORIES = ("Changes in valuables", "Changes in inventories")
FD_EXPORTS = ("Exports fob",)


class BenchmarkError(ValueError):
    """A benchmark identity or positivity requirement failed (the message names identity, cell and gap)."""


# ----------------------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------------------
def read_rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    """All rows of a UTF-8 CSV file as dictionaries."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def read_labelled_matrix(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """A CSV whose first column holds row labels: (row labels, column labels, float matrix)."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        labels, values = [], []
        for row in reader:
            labels.append(row[0])
            values.append([float(v) for v in row[1:]])
    return labels, header[1:], np.array(values, dtype=float)


def split_codes(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


@dataclass(frozen=True)
class Sets:
    """Regions, sectors (= goods) and education groups, in the fixed order of the mapping files."""

    regions: list[str]
    region_names: list[str]
    county_numbers: list[str]
    sectors: list[str]
    sector_names: list[str]
    energy: np.ndarray
    public: np.ndarray
    goods: np.ndarray
    a64: list[list[int]]
    sector_lines: list[list[str]]
    education: list[str]
    education_names: list[str]
    relative_wage: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.regions), len(self.sectors), len(self.education)


def load_sets() -> Sets:
    """Read regions, sectors and education groups from calibration/mappings."""
    regions = read_rows(MAPPINGS_DIR / "regions.csv")
    sectors = read_rows(MAPPINGS_DIR / "sectors.csv")
    education = read_rows(MAPPINGS_DIR / "education.csv")
    return Sets(
        regions=[r["code"] for r in regions],
        region_names=[r["name"] for r in regions],
        county_numbers=[r["county_number"] for r in regions],
        sectors=[s["code"] for s in sectors],
        sector_names=[s["name"] for s in sectors],
        energy=np.array([int(s["energy"]) for s in sectors]),
        public=np.array([int(s["public"]) for s in sectors]),
        goods=np.array([int(s["goods"]) for s in sectors]),
        a64=[[int(a) for a in split_codes(s["a64"])] for s in sectors],
        sector_lines=[split_codes(s["regional_line"]) for s in sectors],
        education=[e["code"] for e in education],
        education_names=[e["name"] for e in education],
        relative_wage=np.array([float(e["relative_wage"]) for e in education]),
    )


#: goods sold at world prices whatever Norway supplies (crude oil and natural gas): a very large export demand elasticity
WORLD_PRICE_TAKERS = ("PETRO",)


def load_assumptions() -> dict[str, float]:
    """Scalar assumptions (ASSUMED / SYNTHESISED / SOURCE) from calibration/mappings/assumptions.csv."""
    return {row["item"]: float(row["value"]) for row in read_rows(MAPPINGS_DIR / "assumptions.csv")}


# ----------------------------------------------------------------------------------------------------------
# Step 1-2: national SIOT 2018 aggregated to 24 x 24, rounding gaps removed
# ----------------------------------------------------------------------------------------------------------
def _columns(header: list[str], prefixes: tuple[str, ...]) -> list[int]:
    found = [k for k, name in enumerate(header) if name.startswith(prefixes)]
    if not found:
        raise BenchmarkError(f"SIOT final demand: no column starting with {prefixes} in {header}")
    return found


def national_table(sets: Sets) -> dict[str, np.ndarray]:
    """National 2018 accounts by the 24 sectors (NOK million, basic prices), composite (domestic + imported) use.

    Implements docs/data.md steps 1-2. Rounding gaps of the published table (output minus domestic use of a
    product) are absorbed in changes in inventories, the statistical residual of the national accounts.
    """
    _, _, z_dom = read_labelled_matrix(SIOT_DIR / "Z_domestic.csv")
    _, _, z_imp = read_labelled_matrix(SIOT_DIR / "Z_import.csv")
    _, y_header, y_dom = read_labelled_matrix(SIOT_DIR / "Y_domestic.csv")
    _, y_header_imp, y_imp = read_labelled_matrix(SIOT_DIR / "Y_import.csv")
    va_labels, _, va = read_labelled_matrix(SIOT_DIR / "value_added_detailed.csv")
    if y_header != y_header_imp:
        raise BenchmarkError("SIOT: Y_domestic and Y_import have different columns")
    n64 = z_dom.shape[0]

    assigned = sorted(a for rows in sets.a64 for a in rows)
    if assigned != list(range(n64)):
        raise BenchmarkError(f"mappings/sectors.csv: the a64 lists must cover rows 0..{n64 - 1} exactly once")

    def va_row(label: str) -> np.ndarray:
        return va[va_labels.index(label)]

    def agg_vector(v: np.ndarray) -> np.ndarray:
        return np.array([v[rows].sum() for rows in sets.a64])

    def agg_matrix(m: np.ndarray) -> np.ndarray:
        return np.array([[m[np.ix_(ri, rj)].sum() for rj in sets.a64] for ri in sets.a64])

    def fd(y: np.ndarray, prefixes: tuple[str, ...]) -> np.ndarray:
        return agg_vector(y[:, _columns(y_header, prefixes)].sum(axis=1))

    output = agg_vector(va_row("Output at basic prices"))
    exports = fd(y_dom, FD_EXPORTS)
    inventories_dom = fd(y_dom, FD_INVENTORIES)
    domestic_use = agg_vector(z_dom.sum(axis=1) + y_dom.sum(axis=1))
    rounding_gap = output - domestic_use
    imports_fd = fd(y_imp, FD_HOUSEHOLDS + FD_GOVERNMENT + FD_INVESTMENT + FD_INVENTORIES)

    table = {
        "output": output,
        "intermediate": agg_matrix(z_dom) + agg_matrix(z_imp),
        "intermediate_tax": agg_vector(va_row("Taxes less subsidies on products")),
        "compensation": agg_vector(va_row("Compensation of employees")),
        "production_tax": agg_vector(va_row("Other net taxes on production")),
        "capital": agg_vector(va_row("Operating surplus, gross")),
        "value_added": agg_vector(va_row("Value added at basic prices")),
        "households": fd(y_dom, FD_HOUSEHOLDS) + fd(y_imp, FD_HOUSEHOLDS),
        "government": fd(y_dom, FD_GOVERNMENT) + fd(y_imp, FD_GOVERNMENT),
        "investment": fd(y_dom, FD_INVESTMENT) + fd(y_imp, FD_INVESTMENT),
        "inventories": inventories_dom + fd(y_imp, FD_INVENTORIES) + rounding_gap,
        "exports": exports,
        "imports": agg_vector(z_imp.sum(axis=1)) + imports_fd,
        "reexports": fd(y_imp, FD_EXPORTS),
        "rounding_gap": rounding_gap,
        "consumption_of_fixed_capital": np.array(va_row("Consumption of fixed capital").sum()),
    }
    _check_national(table, sets)
    return table


def _check_national(t: dict[str, np.ndarray], sets: Sets) -> None:
    """The aggregated national table must balance and match the published SIOT totals."""
    costs = (t["intermediate"].sum(axis=0) + t["intermediate_tax"] + t["compensation"] + t["production_tax"]
             + t["capital"])
    _require_close("national SIOT column (output = costs)", t["output"], costs, t["output"], [sets.sectors])
    use = t["intermediate"].sum(axis=1) + t["households"] + t["government"] + t["investment"] + t["inventories"]
    supply = t["output"] - t["exports"] + t["imports"]
    _require_close("national SIOT row (supply = use)", supply, use, supply, [sets.sectors])
    value_added = t["compensation"] + t["production_tax"] + t["capital"]
    _require_close("national value added", value_added, t["value_added"], t["value_added"], [sets.sectors])
    for name, total in (("value_added", value_added.sum()), ("compensation", t["compensation"].sum()),
                        ("output", t["output"].sum())):
        if abs(total - SIOT_TOTALS[name]) > TOLERANCE * SIOT_TOTALS[name]:
            raise BenchmarkError(f"identity 10: national {name} {total!r} != SIOT {SIOT_TOTALS[name]!r}")
    bad = [s for s, k in zip(sets.sectors, t["capital"]) if k <= 0]
    if bad:
        raise BenchmarkError(f"national gross operating surplus <= 0 for {bad}: needs an explicit treatment")
    bad = [s for s, x, o in zip(sets.sectors, t["exports"], t["output"]) if x >= o]
    if bad:
        raise BenchmarkError(f"national exports >= output for {bad}: no domestic deliveries")


# ----------------------------------------------------------------------------------------------------------
# Step 3-5: regional shares, production accounts, compensation
# ----------------------------------------------------------------------------------------------------------
@dataclass
class RegionalSources:
    """Regional source data: 11713 lines x counties, population, education composition."""

    line_codes: list[str]
    line_sectors: list[list[str]]
    line_key: list[int]
    line_shelf: np.ndarray  # [line] bool: the line's national-minus-counties remainder is the continental shelf
    gross_product: np.ndarray  # [line, region], NOK million
    gross_product_national: np.ndarray  # [line]
    employed: np.ndarray  # [line, region], thousand persons
    employed_national: np.ndarray  # [line]
    population: np.ndarray  # [region], persons 1 Jan 2018
    education_share: np.ndarray  # [region, education]


def load_regional_sources(sets: Sets) -> RegionalSources:
    """Read 11713 (2018), 07459 population (2018) and 09429 education (2020) for the 11 counties."""
    lines = read_rows(MAPPINGS_DIR / "regional_lines.csv")
    codes = [row["line_code"] for row in lines]
    for sector, sector_lines in zip(sets.sectors, sets.sector_lines):
        mapped = [row["line_code"] for row in lines if sector in split_codes(row["sectors"])]
        if sorted(mapped) != sorted(sector_lines):
            raise BenchmarkError(f"mappings: sectors.csv regional_line {sector_lines} of {sector} does not match "
                                 f"regional_lines.csv {mapped}")

    rows_11713 = read_rows(FILE_11713)
    by_key = {(row["naering"], row["measure"]): row for row in rows_11713}
    known = {row["line"] for row in lines} | {"Totalt for næringer", "(of which) Statsforvaltning",
                                               "(of which) Kommuneforvaltning"}
    unmapped = sorted({row["naering"] for row in rows_11713} - known)
    if unmapped:
        raise BenchmarkError(f"11713 lines not in mappings/regional_lines.csv: {unmapped}")

    def table(measure: str) -> tuple[np.ndarray, np.ndarray]:
        county = np.array([[float(by_key[(row["line"], measure)][name]) for name in sets.region_names]
                           for row in lines])
        national = np.array([float(by_key[(row["line"], measure)]["Hele landet"]) for row in lines])
        return county, national

    gross_product, gross_product_national = table("BRP_mill_NOK")
    employed, employed_national = table("employed_1000")

    population_rows = {row["county"]: row for row in read_rows(FILE_POPULATION)}
    population = np.array([float(population_rows[name]["pop_2018"]) for name in sets.region_names])

    weights: dict[str, list[tuple[str, float]]] = {}
    for row in read_rows(MAPPINGS_DIR / "education_levels.csv"):
        if row["education"]:
            weights.setdefault(row["ssb_level"], []).append((row["education"], float(row["weight"])))
    counts = np.zeros((len(sets.regions), len(sets.education)))
    number_to_region = {number: k for k, number in enumerate(sets.county_numbers)}
    for row in read_rows(FILE_09429, delimiter=";"):
        number = row["Fylke"].split(" ", 1)[0]
        if number not in number_to_region or row["Utdanningsnivå"] not in weights:
            continue
        for education, weight in weights[row["Utdanningsnivå"]]:
            counts[number_to_region[number], sets.education.index(education)] += weight * float(row["Antall"])
    if np.any(counts.sum(axis=1) <= 0):
        raise BenchmarkError("09429: a county has no education data")
    return RegionalSources(
        line_codes=codes,
        line_sectors=[split_codes(row["sectors"]) for row in lines],
        line_key=[codes.index(row["remainder_key"]) for row in lines],
        line_shelf=np.array([_yes_no(row, "continental_shelf") for row in lines]),
        gross_product=gross_product,
        gross_product_national=gross_product_national,
        employed=employed,
        employed_national=employed_national,
        population=population,
        education_share=counts / counts.sum(axis=1, keepdims=True),
    )


def _yes_no(row: dict[str, str], field: str) -> bool:
    value = row.get(field, "")
    if value not in ("yes", "no"):
        raise BenchmarkError(f"mappings/regional_lines.csv: field '{field}' must be yes or no, found {value!r} "
                             f"(line {row.get('line_code')!r})")
    return value == "yes"


def allocate_remainder(county: np.ndarray, national: np.ndarray, key: np.ndarray, key_line: list[int],
                       what: str, line_codes: list[str], shelf: np.ndarray) -> np.ndarray:
    """Add each line's national-minus-counties remainder to the counties, except on the shelf lines.

    The remainder of line L (suppressed cells, rounding) is spread by the county distribution of
    `key[key_line[L]]` (onshore employment); where that key is all zero, by the line's own county values.
    On the lines with `shelf[L]` the remainder is the continental shelf, a region of its own, and the
    counties keep their values. Returns a [line, region] array.
    """
    result = county.copy()
    for line in range(county.shape[0]):
        if shelf[line]:
            continue
        remainder = national[line] - county[line].sum()
        weights = key[key_line[line]]
        if weights.sum() <= 0:
            weights = county[line]
        if weights.sum() <= 0:
            if abs(remainder) > 0:
                raise BenchmarkError(f"11713 {what} line {line_codes[line]}: remainder {remainder!r} has no key")
            continue
        result[line] = county[line] + remainder * weights / weights.sum()
        if np.any(result[line] < 0):
            raise BenchmarkError(f"11713 {what} line {line_codes[line]}: remainder makes a county negative")
    return result


def floored_shares(values: np.ndarray, population_share: np.ndarray, floor_factor: float) -> tuple[np.ndarray, int]:
    """County shares [region, sector] of `values`, floored at floor_factor x population share, renormalised."""
    raw = values / values.sum(axis=0, keepdims=True)
    floor = floor_factor * population_share[:, None]
    floored = np.maximum(raw, floor)
    return floored / floored.sum(axis=0, keepdims=True), int(np.sum(raw < floor))


def bounded_labour_shares(compensation_target: np.ndarray, factor_income: np.ndarray, national: np.ndarray,
                          bound: float, band_share: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Compensation [region, sector] close to `compensation_target` with columns summing to `national`.

    County labour shares of factor income are kept in [bound x national share, 1 - bound x (1 - national
    share)] so that both compensation and capital stay strictly positive; cells inside the band are scaled
    proportionally (bounded proportional fitting). Returns (compensation, number of cells at a bound).
    ``band_share``: the national share that sets the band (default: national / column sums of factor_income).
    """
    national_share = national / factor_income.sum(axis=0) if band_share is None else band_share
    low, high = bound * national_share, 1.0 - bound * (1.0 - national_share)
    empty = factor_income <= 0  # cells without value added (the shelf outside its sectors) pay nothing
    share = np.clip(compensation_target / np.where(empty, 1.0, factor_income), low, high)
    free = (share > low) & (share < high) & ~empty
    for _ in range(1000):
        fixed_pay = np.where(free, 0.0, share * factor_income).sum(axis=0)
        free_pay = np.where(free, share * factor_income, 0.0).sum(axis=0)
        if np.any(free_pay <= 0):
            raise BenchmarkError("compensation by county: every cell of a sector hit a labour-share bound")
        scaled = np.where(free, share * ((national - fixed_pay) / free_pay)[None, :], share)
        clipped = np.clip(scaled, low, high)
        newly_fixed = free & (clipped != scaled)
        share = clipped
        if not newly_fixed.any():
            break
        free = free & ~newly_fixed
    else:
        raise BenchmarkError("compensation by county: bounded proportional fitting did not converge")
    return share * factor_income, int((~free & ~empty).sum())


def regional_production(sets: Sets, nat: dict[str, np.ndarray], src: RegionalSources,
                        assume: dict[str, float], log: dict) -> dict[str, np.ndarray]:
    """Regional production accounts by (region, sector): docs/data.md steps 3-5."""
    n_regions, n_sectors, _ = sets.shape
    population_share = src.population / src.population.sum()

    shelf_line = src.line_shelf
    brp = allocate_remainder(src.gross_product, src.gross_product_national, src.employed, src.line_key,
                             "gross product", src.line_codes, shelf_line)
    employed = allocate_remainder(src.employed, src.employed_national, src.employed, src.line_key,
                                  "employment", src.line_codes, shelf_line)
    # the continental shelf: the national-minus-counties remainder of its lines, as one more row
    brp = np.hstack([brp, np.where(shelf_line, src.gross_product_national - src.gross_product.sum(axis=1), 0.0)[:, None]])
    employed = np.hstack([employed, np.where(shelf_line, src.employed_national - src.employed.sum(axis=1),
                                             0.0)[:, None]])
    if np.any(brp[:, -1] < 0) or np.any(employed[:, -1] < 0):
        raise BenchmarkError("11713: a continental-shelf line has counties summing to more than the nation")

    line_of_sector = [[k for k, sectors in enumerate(src.line_sectors) if code in sectors] for code in sets.sectors]
    value_added_by_line = np.zeros((n_regions + 1, n_sectors))
    persons_raw = np.zeros((n_regions + 1, n_sectors))
    for j, lines in enumerate(line_of_sector):
        for line in lines:
            members = [sets.sectors.index(code) for code in src.line_sectors[line]]
            weight = nat["compensation"][j] / nat["compensation"][members].sum()
            value_added_by_line[:, j] += brp[line]
            persons_raw[:, j] += employed[line] * weight
    with_shelf = np.append(population_share, 0.0)  # the shelf has no population: no floor
    va_share, n_va_floor = floored_shares(value_added_by_line, with_shelf, assume["share_floor_factor"])
    employment_share, n_emp_floor = floored_shares(persons_raw, with_shelf, assume["share_floor_factor"])
    persons = employment_share * persons_raw.sum(axis=0)[None, :]

    factor_income = va_share * (nat["compensation"] + nat["capital"])[None, :]
    # the shelf is the residual claimant of its sectors' pay (ASSUMED): each county's labour share is the
    # national pay per person times its employment, kept within the labour-share band of the whole sector
    # (the onshore gross product of oil and gas cannot carry national pay per person); the shelf gets the rest
    shelf_sector = va_share[-1] > 0
    band_share = nat["compensation"] / factor_income.sum(axis=0)
    bound = assume["labour_share_bound"]
    county_share = np.clip(nat["compensation"][None, :] * employment_share[:-1] / factor_income[:-1],
                           bound * band_share, 1.0 - bound * (1.0 - band_share))
    shelf_compensation = np.where(shelf_sector, nat["compensation"] - (county_share * factor_income[:-1]).sum(axis=0),
                                  0.0)
    compensation, n_bound = bounded_labour_shares(nat["compensation"][None, :] * employment_share[:-1],
                                                  factor_income[:-1], nat["compensation"] - shelf_compensation,
                                                  bound, band_share)
    shelf_capital = factor_income[-1] - shelf_compensation
    active = va_share[-1] > 0
    if np.any(shelf_capital[active] <= 0) or np.any((employment_share[-1] > 0) & ~active):
        raise BenchmarkError("continental shelf: its pay leaves no operating surplus, or it employs persons in a "
                             "sector without value added")
    host_lines = sorted({src.line_key[k] for k in np.flatnonzero(shelf_line)})
    host = src.employed[host_lines].sum(axis=0)  # onshore employment of the shelf's lines (ASSUMED key)
    shelf_va = va_share[-1]
    log.update(floored_value_added_cells=n_va_floor, floored_employment_cells=n_emp_floor,
               labour_share_bound_cells=n_bound, shelf_gross_product=float(brp[:, -1].sum()),
               shelf_employed=float(employed[:, -1].sum()))
    va_share = va_share[:-1]
    shelf = {
        "host": host / host.sum(),
        "persons": persons[-1],
        "output": shelf_va * nat["output"],
        "intermediate": shelf_va[None, :] * nat["intermediate"],
        "intermediate_tax": shelf_va * nat["intermediate_tax"],
        "production_tax": shelf_va * nat["production_tax"],
        "compensation": shelf_compensation,
        "capital": np.where(active, shelf_capital, 0.0),
        "exports": shelf_va * nat["exports"],
    }
    persons = persons[:-1]
    return {
        "shelf": shelf,
        "persons": persons,
        "output": va_share * nat["output"][None, :],
        "intermediate": va_share[:, None, :] * nat["intermediate"][None, :, :],
        "intermediate_tax": va_share * nat["intermediate_tax"][None, :],
        "production_tax": va_share * nat["production_tax"][None, :],
        "compensation": compensation,
        "capital": factor_income[:-1] - compensation,
        "exports": va_share * nat["exports"][None, :],
    }


# ----------------------------------------------------------------------------------------------------------
# Step 6: labour by education
# ----------------------------------------------------------------------------------------------------------
def labour_by_education(sets: Sets, prod: dict[str, np.ndarray], src: RegionalSources) -> tuple[np.ndarray, np.ndarray]:
    """Persons and compensation by (region, sector, education): RAS of the national profile to county margins.

    The continental shelf's workers (``prod["shelf"]``, updated in place with ``persons_by_education`` and
    ``compensation_by_education`` [j, e]) have the national profile of their sector (ASSUMED); the national
    earnings ratios are met by counties and shelf together."""
    profile_rows = {row["sector"]: row for row in read_rows(MAPPINGS_DIR / "education_profile.csv")}
    profile = np.array([[float(profile_rows[s][e]) for e in sets.education] for s in sets.sectors])
    persons = np.zeros(sets.shape)
    for r, region in enumerate(sets.regions):
        row_targets = prod["persons"][r]
        col_targets = src.education_share[r] * row_targets.sum()
        persons[r] = ras(profile, row_targets, col_targets, name=f"labour by education, {region}")
    shelf = prod["shelf"]
    shelf_persons = shelf["persons"][:, None] * profile / profile.sum(axis=1, keepdims=True)
    all_persons = np.concatenate([persons, shelf_persons[None]], axis=0)
    all_compensation = np.concatenate([prod["compensation"], shelf["compensation"][None]], axis=0)
    compensation = compensation_by_education(all_compensation, all_persons, sets.relative_wage)
    shelf["persons_by_education"], shelf["compensation_by_education"] = shelf_persons, compensation[-1]
    return persons, compensation[:-1]


def compensation_by_education(sector_compensation, persons, national_ratio, iterations=200):
    """Split each (region, sector)'s compensation over education groups so that the *national* average
    earnings per person relative to the first group equal ``national_ratio`` (SSB earnings statistics,
    calibration/mappings/education.csv). Within a sector group e earns persons × ω_e; the within-sector
    ratios ω solve the fixed point ω ← ω · target / achieved (sector mix makes them differ from the
    national ratios: the highly educated work in high-wage industries)."""
    omega = np.array(national_ratio, dtype=float)
    for _ in range(iterations):
        wage_bill = persons * omega[None, None, :]
        total = wage_bill.sum(axis=2, keepdims=True)
        compensation = sector_compensation[:, :, None] * wage_bill / np.where(total > 0, total, 1.0)
        per_person = compensation.sum(axis=(0, 1)) / persons.sum(axis=(0, 1))
        achieved = per_person / per_person[0]
        if np.abs(achieved / national_ratio - 1).max() < 1e-13:
            return compensation
        omega = omega * national_ratio / achieved
    raise BenchmarkError(f"education.csv relative_wage: no within-sector wage ratios reproduce {national_ratio}")


# ----------------------------------------------------------------------------------------------------------
# Step 7-8: households, government, final demand, imports
# ----------------------------------------------------------------------------------------------------------
def commuting_origins(sets: Sets) -> np.ndarray:
    """φ[r, w]: the share of the persons employed in county w who live in county r; each column sums to 1.

    SSB 03321, employed persons 15-74 by municipality of residence and of work, 4th quarter 2020, in the
    municipalities of 2020 (whose first two digits are the county of 2020, the model's borders; docs/data.md).
    The table has no education: every group commutes alike (ASSUMED)."""
    rows = read_rows(FILE_03321)
    index = {number: k for k, number in enumerate(sets.county_numbers)}
    flows = np.zeros((len(sets.regions), len(sets.regions)))
    for n, row in enumerate(rows):
        try:
            r, w = index[row["residence_kommune"][:2]], index[row["work_kommune"][:2]]
            persons = float(row["employed_persons"])
        except (KeyError, ValueError) as exc:
            raise BenchmarkError(f"{FILE_03321}: row {n + 2} {row} is not a flow between municipalities of the "
                                 f"model's counties ({exc!r})") from None
        flows[r, w] += persons
    if np.any(flows.sum(axis=0) <= 0):
        raise BenchmarkError(f"{FILE_03321}: no employed persons work in {sets.regions[int(np.argmin(flows.sum(0)))]}")
    return flows / flows.sum(axis=0, keepdims=True)


def households_and_final_demand(sets: Sets, nat: dict[str, np.ndarray], prod: dict[str, np.ndarray],
                                persons: np.ndarray, compensation: np.ndarray, src: RegionalSources,
                                assume: dict[str, float], log: dict) -> dict[str, np.ndarray]:
    """Household accounts (region, education), final demand and imports by (region, good)."""
    population = src.population[:, None] * src.education_share / 1000.0
    population_share = src.population / src.population.sum()
    shelf = prod["shelf"]
    host = shelf["host"][:, None]  # the shelf's workers live, and its purchases are made, in the host counties
    workplace_pay = compensation.sum(axis=1) + host * shelf["compensation_by_education"].sum(axis=0)[None, :]
    workplace_persons = persons.sum(axis=1) + host * shelf["persons_by_education"].sum(axis=0)[None, :]
    origins = commuting_origins(sets)[:, :, None]  # [residence, workplace, 1]
    commuting = origins * workplace_pay[None]  # [residence, workplace, e] wage bill
    commuting_persons = origins * workplace_persons[None]
    wage_income, labour_force = commuting.sum(axis=1), commuting_persons.sum(axis=1)  # by residence
    capital_total = prod["capital"].sum() + shelf["capital"].sum()
    capital_income = assume["household_capital_income_share"] * capital_total * wage_income / wage_income.sum()
    transfers = assume["transfers"] * population / population.sum()

    saving_rate = assume["saving_rate"]
    consumption_total = nat["households"].sum()
    disposable_total = consumption_total / (1.0 - saving_rate)
    tax_rate = (wage_income.sum() + capital_income.sum() + transfers.sum() - disposable_total) / wage_income.sum()
    income_tax = tax_rate * wage_income
    disposable = wage_income + capital_income + transfers - income_tax
    consumption = (1.0 - saving_rate) * disposable
    budget_share = nat["households"] / consumption_total
    household_consumption = consumption[:, :, None] * budget_share[None, None, :]
    savings = wage_income + capital_income + transfers - income_tax - household_consumption.sum(axis=2)
    log.update(income_tax_rate=tax_rate, disposable_income=float(disposable.sum()))

    capital_share = (prod["capital"].sum(axis=1) + shelf["host"] * shelf["capital"].sum()) / capital_total
    government = population_share[:, None] * nat["government"][None, :]
    investment = capital_share[:, None] * nat["investment"][None, :]
    inventories = capital_share[:, None] * nat["inventories"][None, :]
    composite_use = (prod["intermediate"].sum(axis=2) + host * shelf["intermediate"].sum(axis=1)[None, :]
                     + household_consumption.sum(axis=1) + government + investment + inventories)
    if np.any(composite_use <= 0):
        r, i = np.argwhere(composite_use <= 0)[0]
        raise BenchmarkError(f"composite use <= 0 at region {sets.regions[r]} good {sets.sectors[i]}: "
                             f"{composite_use[r, i]!r}")
    use_share = composite_use / composite_use.sum(axis=0, keepdims=True)
    imports = nat["imports"][None, :] * use_share
    # the shelf's domestic deliveries (crude and gas, pipeline services) reach users like imports (ASSUMED)
    shelf_deliveries = (shelf["output"] - shelf["exports"])[None, :] * use_share
    return {
        "shelf_deliveries": shelf_deliveries,
        "commuting": commuting,
        "commuting_persons": commuting_persons,
        "population": population,
        "labour_force": labour_force,
        "wage_income": wage_income,
        "capital_income": capital_income,
        "transfers": transfers,
        "income_tax": income_tax,
        "savings": savings,
        "household_consumption": household_consumption,
        "government": government,
        "investment": investment,
        "inventories": inventories,
        "composite_use": composite_use,
        "imports": imports,
    }


# ----------------------------------------------------------------------------------------------------------
# Step 9: distances, gravity shipments, delivery margins
# ----------------------------------------------------------------------------------------------------------
def distances(sets: Sets, assume: dict[str, float]) -> np.ndarray:
    """Road-distance proxy km[origin, destination] between county centres (rounded to 0.1 km)."""
    rows = {row["region"]: row for row in read_rows(MAPPINGS_DIR / "county_centres.csv")}
    n = len(sets.regions)
    km = np.zeros((n, n))
    for a, ra in enumerate(sets.regions):
        lat_a, lon_a = math.radians(float(rows[ra]["lat"])), math.radians(float(rows[ra]["lon"]))
        for b, rb in enumerate(sets.regions):
            if a == b:
                value = assume["internal_distance_factor"] * math.sqrt(float(rows[ra]["area_km2"]) / math.pi)
            else:
                lat_b, lon_b = math.radians(float(rows[rb]["lat"])), math.radians(float(rows[rb]["lon"]))
                h = (math.sin((lat_b - lat_a) / 2) ** 2
                     + math.cos(lat_a) * math.cos(lat_b) * math.sin((lon_b - lon_a) / 2) ** 2)
                value = assume["road_factor"] * 2.0 * 6371.0 * math.asin(math.sqrt(h))
            km[a, b] = round(value, 1)
    return km


def _scaled_margin(shipments: np.ndarray, tau: np.ndarray, cap: float) -> tuple[np.ndarray, bool]:
    """Margins X·kτ/(1+kτ) of one producer, with k = 1 unless their sum would exceed `cap` (then bisection)."""
    margin = shipments * tau / (1.0 + tau)
    if margin.sum() <= cap:
        return margin, False
    low, high = 0.0, 1.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if (shipments * mid * tau / (1.0 + mid * tau)).sum() > cap:
            high = mid
        else:
            low = mid
    return shipments * low * tau / (1.0 + low * tau), True


def interregional_trade(sets: Sets, prod: dict[str, np.ndarray], fd: dict[str, np.ndarray], km: np.ndarray,
                        assume: dict[str, float], log: dict) -> tuple[np.ndarray, np.ndarray]:
    """Shipments at delivered value (doubly constrained gravity, RAS) split into value and delivery margin."""
    n_regions, n_sectors, _ = sets.shape
    supply = prod["output"] - prod["exports"]
    demand = fd["composite_use"] - fd["imports"] - fd["shelf_deliveries"]
    for name, values in (("domestic deliveries (output - exports)", supply),
                         ("domestic demand (use - imports)", demand)):
        if np.any(values <= 0):
            r, i = np.argwhere(values <= 0)[0]
            raise BenchmarkError(f"{name} <= 0 at region {sets.regions[r]} sector {sets.sectors[i]}")
    transport = sets.sectors.index(TRANSPORT)
    delivered = np.zeros((n_regions, n_regions, n_sectors))
    margin = np.zeros_like(delivered)
    capped = []
    for i, good in enumerate(sets.sectors):
        if sets.public[i]:
            delta = assume["gravity_delta_public"]
        elif sets.goods[i]:
            delta = assume["gravity_delta_goods"]
        else:
            delta = assume["gravity_delta_services"]
        seed = np.array([[math.exp(-delta * km[s, r] / 100.0) for r in range(n_regions)] for s in range(n_regions)])
        delivered[:, :, i] = ras(seed, supply[:, i], demand[:, i], tol=1e-14, name=f"gravity shipments of {good}")
        if not sets.goods[i]:
            continue
        tau = assume["margin_rate_per_100km"] * km / 100.0
        for s in range(n_regions):
            cap = assume["margin_cap_share"] * prod["intermediate"][s, transport, i]
            margin[s, :, i], was_capped = _scaled_margin(delivered[s, :, i], tau[s], cap)
            if was_capped:
                capped.append(f"{sets.regions[s]}:{good}")
    log.update(margin_capped=capped)
    return delivered - margin, margin


# ----------------------------------------------------------------------------------------------------------
# Assembly and verification
# ----------------------------------------------------------------------------------------------------------
@dataclass
class Benchmark:
    """The balanced benchmark (arrays in the fixed dimension order region, sector/good, education)."""

    sets: Sets
    output: np.ndarray
    capital: np.ndarray
    production_tax: np.ndarray
    intermediate_tax: np.ndarray
    delivery_margin: np.ndarray
    exports: np.ndarray
    compensation: np.ndarray  # [r, j, e]
    persons: np.ndarray  # [r, j, e]
    intermediate: np.ndarray  # [r, i, j]
    government: np.ndarray
    investment: np.ndarray
    inventories: np.ndarray
    household_consumption: np.ndarray  # [r, e, i]
    households: dict[str, np.ndarray]  # each [r, e]
    commuting: np.ndarray  # [residence, workplace, e] wage bill, NOK million
    commuting_persons: np.ndarray  # [residence, workplace, e] thousand employed persons
    imports: np.ndarray
    trade_value: np.ndarray  # [origin, destination, good]
    trade_margin: np.ndarray
    km: np.ndarray
    national: dict[str, float]
    shelf: dict[str, np.ndarray]  # the continental shelf: see shelf_accounts()
    log: dict = field(default_factory=dict)


def shelf_accounts(prod: dict, fd: dict) -> dict[str, np.ndarray]:
    """The continental shelf's accounts: host [r] (share of its workers and purchases from each county),
    output, exports, capital, production_tax, intermediate_tax [j], intermediate [i, j], compensation and
    persons [j, e], deliveries [r, i] (its domestic sales by destination)."""
    s = prod["shelf"]
    return {"host": s["host"], "output": s["output"], "exports": s["exports"], "capital": s["capital"],
            "production_tax": s["production_tax"], "intermediate_tax": s["intermediate_tax"],
            "intermediate": s["intermediate"], "compensation": s["compensation_by_education"],
            "persons": s["persons_by_education"], "deliveries": fd["shelf_deliveries"]}


def build(verbose: bool = False) -> Benchmark:
    """Run docs/data.md steps 1-10 and return the verified benchmark."""
    sets = load_sets()
    assume = load_assumptions()
    log: dict = {}
    nat = national_table(sets)
    log.update(rounding_gap_max=float(np.abs(nat["rounding_gap"]).max()),
               rounding_gap_total=float(nat["rounding_gap"].sum()))
    src = load_regional_sources(sets)
    prod = regional_production(sets, nat, src, assume, log)
    persons, compensation = labour_by_education(sets, prod, src)
    fd = households_and_final_demand(sets, nat, prod, persons, compensation, src, assume, log)
    km = distances(sets, assume)
    trade_value, trade_margin = interregional_trade(sets, prod, fd, km, assume, log)

    delivery_margin = trade_margin.sum(axis=1)
    intermediate = prod["intermediate"].copy()
    intermediate[:, sets.sectors.index(TRANSPORT), :] -= delivery_margin

    households = {k: fd[k] for k in ("population", "labour_force", "wage_income", "capital_income", "transfers",
                                     "income_tax", "savings")}
    retained_earnings = assume["retained_earnings"]
    if abs(retained_earnings - float(nat["consumption_of_fixed_capital"])) > 1e-6:
        raise BenchmarkError("assumptions.csv retained_earnings differs from SIOT consumption of fixed capital")
    shelf = shelf_accounts(prod, fd)
    government_capital_income = (prod["capital"].sum() + shelf["capital"].sum() - households["capital_income"].sum()
                                 - retained_earnings)
    government_savings = (prod["production_tax"].sum() + prod["intermediate_tax"].sum()
                          + shelf["production_tax"].sum() + shelf["intermediate_tax"].sum()
                          + households["income_tax"].sum() + government_capital_income
                          - fd["government"].sum() - households["transfers"].sum())
    national = {
        "government_capital_income": float(government_capital_income),
        "retained_earnings": float(retained_earnings),
        "government_savings": float(government_savings),
        "foreign_savings": float(fd["imports"].sum() - prod["exports"].sum() - shelf["exports"].sum()),
    }
    bench = Benchmark(
        sets=sets, output=prod["output"], capital=prod["capital"], production_tax=prod["production_tax"],
        intermediate_tax=prod["intermediate_tax"], delivery_margin=delivery_margin, exports=prod["exports"],
        compensation=compensation, persons=persons, intermediate=intermediate, government=fd["government"],
        investment=fd["investment"], inventories=fd["inventories"],
        household_consumption=fd["household_consumption"], households=households, imports=fd["imports"],
        commuting=fd["commuting"], commuting_persons=fd["commuting_persons"],
        trade_value=trade_value, trade_margin=trade_margin, km=km, national=national, shelf=shelf, log=log,
    )
    log["residuals"] = verify(bench)
    check_positivity(bench)
    if verbose:
        report(bench)
    return bench


def _require_close(identity: str, lhs: np.ndarray, rhs: np.ndarray, scale: np.ndarray,
                   labels: list[list[str]]) -> float:
    """Raise BenchmarkError unless |lhs - rhs| <= TOLERANCE * scale everywhere; return the max relative gap."""
    lhs, rhs = np.asarray(lhs, dtype=float), np.asarray(rhs, dtype=float)
    scale = np.maximum(np.abs(np.asarray(scale, dtype=float)), 1e-300)
    relative = np.abs(lhs - rhs) / scale
    if not np.all(np.isfinite(relative)):
        raise BenchmarkError(f"{identity}: non-finite values")
    worst = float(relative.max()) if relative.size else 0.0
    if worst > TOLERANCE:
        index = np.unravel_index(int(np.argmax(relative)), relative.shape)
        where = ", ".join(f"{names[k]}" for names, k in zip(labels, index))
        raise BenchmarkError(f"{identity} fails at [{where}]: lhs={float(lhs[index])!r} rhs={float(rhs[index])!r} "
                             f"gap={float(lhs[index] - rhs[index])!r} (relative {relative[index]:.3e} > {TOLERANCE})")
    return worst


def identity_terms(b: Benchmark) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, list[list[str]]]]:
    """(lhs, rhs, scale, labels) of every identity of docs/data_schema.md (identity 4 with delivered value)."""
    s = b.sets
    h = b.households
    regions_sectors = [s.regions, s.sectors]
    regions_education = [s.regions, s.education]
    costs = (b.intermediate.sum(axis=1), b.intermediate_tax, b.compensation.sum(axis=2), b.capital,
             b.production_tax, b.delivery_margin)
    sales = (b.trade_value.sum(axis=1), b.delivery_margin, b.exports)
    transport = np.array([code == TRANSPORT for code in s.sectors], dtype=float)
    sh = b.shelf
    supply = (b.trade_value.sum(axis=0), b.trade_margin.sum(axis=0), b.imports, sh["deliveries"])
    use = (b.intermediate.sum(axis=2), sh["host"][:, None] * sh["intermediate"].sum(axis=1)[None, :],
           b.household_consumption.sum(axis=1), b.government, b.investment,
           b.inventories, transport[None, :] * b.delivery_margin.sum(axis=1)[:, None])
    shelf_costs = (sh["intermediate"].sum(axis=0), sh["intermediate_tax"], sh["compensation"].sum(axis=1),
                   sh["capital"], sh["production_tax"])
    shelf_sales = (sh["deliveries"].sum(axis=0), sh["exports"])
    hosted_wages = sh["host"][:, None] * sh["compensation"].sum(axis=0)[None, :]
    workplace_pay = b.compensation.sum(axis=1) + hosted_wages
    workplace_persons = b.persons.sum(axis=1) + sh["host"][:, None] * sh["persons"].sum(axis=0)[None, :]
    capital = b.capital.sum() + sh["capital"].sum()
    consumption = b.household_consumption.sum(axis=2)
    income = (h["wage_income"], h["capital_income"], h["transfers"])
    spending = (h["income_tax"], consumption, h["savings"])
    n = b.national
    gov_in = (b.production_tax.sum(), b.intermediate_tax.sum(), sh["production_tax"].sum(), sh["intermediate_tax"].sum(),
              h["income_tax"].sum(), n["government_capital_income"])
    gov_out = (b.government.sum(), h["transfers"].sum(), n["government_savings"])
    saving = (h["savings"].sum(), n["government_savings"], n["retained_earnings"], n["foreign_savings"])
    invest = (b.investment.sum(), b.inventories.sum())
    value_added = (b.compensation.sum() + b.capital.sum() + b.production_tax.sum() + sh["compensation"].sum()
                   + sh["capital"].sum() + sh["production_tax"].sum())
    exports = b.exports.sum() + sh["exports"].sum()

    def abs_sum(terms):
        return sum(np.abs(t) for t in terms)

    scalar = [["national"]]
    return {
        "identity 1 (output = costs)": (b.output, sum(costs), abs_sum(costs), regions_sectors),
        "identity 2 (output = deliveries + margin + exports)": (b.output, sum(sales), abs_sum(sales), regions_sectors),
        "identity 3 (delivery_margin = sum of trade.margin)": (b.delivery_margin, b.trade_margin.sum(axis=1),
                                                                b.output, regions_sectors),
        "identity 4 (Armington composite: supply = use)": (sum(supply), sum(use), abs_sum(use), regions_sectors),
        "identity 1s (shelf output = costs)": (sh["output"], sum(shelf_costs), abs_sum(shelf_costs), [s.sectors]),
        "identity 2s (shelf output = deliveries + exports)": (sh["output"], sum(shelf_sales), abs_sum(shelf_sales),
                                                              [s.sectors]),
        "identity 5a (wage_income = pay of the residents by workplace)": (h["wage_income"], b.commuting.sum(axis=1),
                                                                          h["wage_income"], regions_education),
        "identity 5c (compensation + hosted shelf pay = pay by residence)": (
            workplace_pay, b.commuting.sum(axis=0), workplace_pay, regions_education),
        "identity 5d (labour_force = residents employed by workplace)": (
            h["labour_force"], b.commuting_persons.sum(axis=1), h["labour_force"], regions_education),
        "identity 5e (persons + hosted shelf persons = employed by residence)": (
            workplace_persons, b.commuting_persons.sum(axis=0), workplace_persons, regions_education),
        "identity 5b (household income = spending)": (sum(income), sum(spending), abs_sum(income), regions_education),
        "identity 6 (capital income)": (np.array([capital]),
                                        np.array([h["capital_income"].sum() + n["government_capital_income"]
                                                  + n["retained_earnings"]]),
                                        np.array([capital]), scalar),
        "identity 7 (government budget)": (np.array([sum(gov_in)]), np.array([sum(gov_out)]),
                                           np.array([sum(abs(x) for x in gov_in)]), scalar),
        "identity 8 (savings = investment)": (np.array([sum(saving)]), np.array([sum(invest)]),
                                              np.array([sum(abs(x) for x in saving)]), scalar),
        "identity 9 (foreign savings)": (np.array([n["foreign_savings"]]),
                                         np.array([b.imports.sum() - exports]),
                                         np.array([b.imports.sum()]), scalar),
        "identity 10 (national value added)": (np.array([value_added]), np.array([SIOT_TOTALS["value_added"]]),
                                               np.array([SIOT_TOTALS["value_added"]]), scalar),
        "identity 10 (national compensation)": (np.array([b.compensation.sum() + sh["compensation"].sum()]),
                                                np.array([SIOT_TOTALS["compensation"]]),
                                                np.array([SIOT_TOTALS["compensation"]]), scalar),
        "identity 10 (national output)": (np.array([b.output.sum() + sh["output"].sum()]),
                                          np.array([SIOT_TOTALS["output"]]),
                                          np.array([SIOT_TOTALS["output"]]), scalar),
    }


def verify(b: Benchmark) -> dict[str, float]:
    """Check every identity to TOLERANCE (relative); return the largest relative gap of each."""
    return {name: _require_close(name, *terms) for name, terms in identity_terms(b).items()}


def check_positivity(b: Benchmark) -> None:
    """Strict positivity wherever the model needs an interior solution; finite values everywhere."""
    s = b.sets
    checks = [
        ("output", b.output, [s.regions, s.sectors]),
        ("capital", b.capital, [s.regions, s.sectors]),
        ("compensation", b.compensation, [s.regions, s.sectors, s.education]),
        ("persons", b.persons, [s.regions, s.sectors, s.education]),
        ("domestic deliveries (output - exports)", b.output - b.exports, [s.regions, s.sectors]),
        ("composite use", b.intermediate.sum(axis=2) + b.household_consumption.sum(axis=1) + b.government
         + b.investment + b.inventories, [s.regions, s.sectors]),
        ("trade value", b.trade_value, [s.regions, s.regions, s.sectors]),
        ("household population", b.households["population"], [s.regions, s.education]),
        ("household consumption", b.household_consumption.sum(axis=2), [s.regions, s.education]),
        ("household savings", b.households["savings"], [s.regions, s.education]),
    ]
    for name, values, labels in checks:
        if not np.all(np.isfinite(values)):
            raise BenchmarkError(f"positivity: {name} has non-finite values")
        if np.any(values <= 0):
            index = tuple(np.argwhere(values <= 0)[0])
            where = ", ".join(names[k] for names, k in zip(labels, index))
            raise BenchmarkError(f"positivity: {name} <= 0 at [{where}]: {float(values[index])!r}")
    for name, values in (("intermediate", b.intermediate), ("trade margin", b.trade_margin),
                         ("household consumption by good", b.household_consumption),
                         *((f"shelf {k}", v) for k, v in b.shelf.items() if not k.endswith("_tax"))):
        if np.any(values < 0) or not np.all(np.isfinite(values)):
            raise BenchmarkError(f"positivity: {name} has negative or non-finite values")


def report(b: Benchmark) -> None:
    """Print key totals, the measured identity residuals and the diagnostics of the build."""
    log = b.log
    print("NOREG-JAX benchmark 2018")
    value_added = b.compensation.sum() + b.capital.sum() + b.production_tax.sum()
    print(f"  output {b.output.sum():,.3f}  value added {value_added:,.3f}"
          f"  compensation {b.compensation.sum():,.3f}  capital {b.capital.sum():,.3f}")
    print(f"  exports {b.exports.sum():,.3f}  imports {b.imports.sum():,.3f}"
          f"  delivery margins {b.delivery_margin.sum():,.3f}"
          f"  interregional shipments {b.trade_value.sum() - np.trace(b.trade_value).sum():,.3f}")
    print(f"  persons {b.persons.sum():,.3f} thousand  population {b.households['population'].sum():,.3f} thousand")
    sh = b.shelf
    print(f"  continental shelf: gross product {log['shelf_gross_product']:,.3f} (11713), output "
          f"{sh['output'].sum():,.3f}, exports {sh['exports'].sum():,.3f}, domestic deliveries "
          f"{sh['deliveries'].sum():,.3f}, {sh['persons'].sum():,.3f} thousand employed")
    print(f"  income tax rate {log['income_tax_rate']:.6f}  national: " +
          ", ".join(f"{k} {v:,.3f}" for k, v in b.national.items()))
    print(f"  SIOT rounding gaps absorbed in inventories: max {log['rounding_gap_max']:.3f}, "
          f"total {log['rounding_gap_total']:.3f}")
    print(f"  floored shares: value added {log['floored_value_added_cells']} cells, employment "
          f"{log['floored_employment_cells']} cells; labour-share bound active in "
          f"{log['labour_share_bound_cells']} cells")
    print(f"  delivery margins capped for {len(log['margin_capped'])} producers: {', '.join(log['margin_capped'])}")
    print("  largest relative identity gaps:")
    for name, gap in log["residuals"].items():
        print(f"    {gap:.2e}  {name}")


# ----------------------------------------------------------------------------------------------------------
# Parameters
# ----------------------------------------------------------------------------------------------------------
def _remes(path: Path) -> dict[tuple[str, str], float]:
    return {(row["uni_0"], row["uni_1"]): float(row["value"]) for row in read_rows(path)}


def parameters(sets: Sets, household_budget_share: np.ndarray, assume: dict[str, float]) -> dict[str, list[list]]:
    """Rows of the parameter files (production, trade, household) with a `source` column each."""
    elas, elasp = _remes(FILE_ELAS), _remes(FILE_ELASP)
    mapping = {row["sector"]: row for row in read_rows(MAPPINGS_DIR / "elasticity_map.csv")}
    production, trade = [], []
    for k, code in enumerate(sets.sectors):
        remes_sector, remes_commodity = mapping[code]["remes_sector"], mapping[code]["remes_commodity"]
        kl_source = f"KL {remes_sector}"
        sigma_kl = elas.get((remes_sector, "KL"))
        if sigma_kl is None:
            sigma_kl, kl_source = 0.0, f"KL {remes_sector} absent in TestElasNo (REMES GAMS default 0)"
        elif sigma_kl == assume["remes_kl_cap"]:
            sigma_kl = assume["remes_kl_cap_replacement"]
            kl_source = f"KL {remes_sector} capped 5.00 replaced by 1.0 as in the REMES code"
        production.append([
            code, elas[(remes_sector, "KLEM")], elas[(remes_sector, "KLE")], sigma_kl,
            assume["sigma_labour"], assume["sigma_nontertiary"], assume["sigma_tertiary"], assume["sigma_energy"],
            assume["sigma_materials"],
            f"Koesler & Schymura via REMES TestElasNo ELAS {remes_sector} (KLEM, KLE; {kl_source}); "
            "labour nest from the skill-substitution literature (docs/model.md); sigma_energy, sigma_materials ASSUMED",
        ])
        armington = elasp[(remes_commodity, "ps1")]
        if sets.public[k]:
            domestic, domestic_source = assume["sigma_domestic_public"], "ASSUMED 0.5 for public services"
        else:
            domestic = assume["sigma_domestic_factor"] * armington
            domestic_source = "2 x sigma_armington (GTAP ESUBM-type)"
        if code in WORLD_PRICE_TAKERS:
            export_demand, export_source = assume["export_demand_price_taker"], "ASSUMED world price taker"
        else:
            export_demand = assume["export_demand_factor"] * armington
            export_source = "2 x sigma_armington (GTAP ESUBM-type: the world's choice between sources)"
        trade.append([
            code, armington, domestic, assume["eta_export"], export_demand,
            f"GTAP ESUBD-type ps1 via REMES TestElasNo ELASp {remes_commodity}; sigma_domestic {domestic_source}; "
            f"eta_export REMES pst; export_demand_elasticity {export_source}",
        ])

    raw = {row["good"]: (float(row["income_elasticity"]), row["note"])
           for row in read_rows(MAPPINGS_DIR / "income_elasticities.csv")}
    raw_values = np.array([raw[code][0] for code in sets.sectors])
    engel = 1.0 / float((household_budget_share * raw_values).sum())
    household = [[code, float(raw_values[k]) * engel,
                  f"ASSUMED {float(raw_values[k])} ({raw[code][1]}) scaled by {engel:.6f} so that the budget-share "
                  "weighted mean is 1 (Engel aggregation, SIOT 2018 household budget shares)"]
                 for k, code in enumerate(sets.sectors)]
    scalars = [["frisch", assume["frisch"], "ASSUMED (typical LES value)"],
               ["saving_rate", assume["saving_rate"], "ASSUMED (household saving rate out of disposable income)"]]
    return {"production_elasticities": production, "trade_elasticities": trade,
            "household_parameters": household, "household_scalars": scalars}


# ----------------------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------------------
def format_value(value) -> str:
    """Fixed formatting: strings as is, integers as integers, floats as the shortest round-trip repr."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    if not math.isfinite(value):
        raise BenchmarkError(f"refusing to write non-finite value {value!r}")
    return repr(value + 0.0) if value != 0 else "0.0"


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([format_value(v) for v in row])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def metadata(b: Benchmark) -> dict:
    """Contents of metadata.json (deterministic: no clock, no absolute paths)."""
    s = b.sets
    manifest = read_rows(SOURCES_DIR / "sources.csv")
    sources = []
    for row in manifest:
        entry = dict(row)
        entry["sha256"] = _sha256(SOURCES_DIR / row["file"])
        sources.append(entry)
    assumptions = [{k: row[k] for k in ("item", "value", "status", "note")}
                   for row in read_rows(MAPPINGS_DIR / "assumptions.csv")]
    return {
        "name": "NOREG-JAX benchmark data set",
        "version": VERSION,
        "base_year": BASE_YEAR,
        "units": {"values": "NOK million, current 2018 basic prices", "persons": "thousand persons",
                  "population": "thousand persons (all ages)", "distance": "km"},
        "benchmark_prices": 1.0,
        "dimension_order": ["region", "sector/good", "education", "year"],
        "regions": s.regions,
        "sectors": s.sectors,
        "education": s.education,
        "schema": "docs/data_schema.md",
        "method": "docs/data.md",
        "build_command": "python -m calibration.build_benchmark",
        "identity_tolerance": TOLERANCE,
        "identity_4_note": ("trade.value excludes the delivery margin; the destination composite is supplied at "
                            "delivered value, i.e. sum over origins of (trade.value + trade.margin) + imports = use "
                            "(see docs/data.md, 'Identity 4')"),
        "siot_totals": SIOT_TOTALS,
        "sources": sources,
        "assumptions": assumptions,
    }


def write(b: Benchmark, out_root: Path) -> list[Path]:
    """Write benchmark_2018/*.csv, metadata.json and parameters/*.csv under `out_root`; return the paths."""
    s = b.sets
    bench_dir, param_dir = out_root / BENCHMARK_SUBDIR, out_root / PARAMETER_SUBDIR
    bench_dir.mkdir(parents=True, exist_ok=True)
    param_dir.mkdir(parents=True, exist_ok=True)
    R, J, E = s.shape
    h = b.households
    files: dict[str, tuple[list[str], list[list]]] = {
        "regions.csv": (["code", "name", "county_number"],
                        [[s.regions[r], s.region_names[r], s.county_numbers[r]] for r in range(R)]),
        "sectors.csv": (["code", "name", "energy", "public", "goods", "a64"],
                        [[s.sectors[j], s.sector_names[j], s.energy[j], s.public[j], s.goods[j],
                          ";".join(str(a) for a in s.a64[j])] for j in range(J)]),
        "education.csv": (["code", "name"], [[s.education[e], s.education_names[e]] for e in range(E)]),
        "sector_accounts.csv": (
            ["region", "sector", "capital", "production_tax", "intermediate_tax", "delivery_margin", "exports",
             "output"],
            [[s.regions[r], s.sectors[j], b.capital[r, j], b.production_tax[r, j], b.intermediate_tax[r, j],
              b.delivery_margin[r, j], b.exports[r, j], b.output[r, j]] for r in range(R) for j in range(J)]),
        "labour.csv": (["region", "sector", "education", "compensation", "persons"],
                       [[s.regions[r], s.sectors[j], s.education[e], b.compensation[r, j, e], b.persons[r, j, e]]
                        for r in range(R) for j in range(J) for e in range(E)]),
        "intermediate.csv": (["region", "good", "sector", "value"],
                             [[s.regions[r], s.sectors[i], s.sectors[j], b.intermediate[r, i, j]]
                              for r in range(R) for i in range(J) for j in range(J) if b.intermediate[r, i, j] != 0]),
        "final_demand.csv": (["region", "good", "government", "investment", "inventories"],
                             [[s.regions[r], s.sectors[i], b.government[r, i], b.investment[r, i], b.inventories[r, i]]
                              for r in range(R) for i in range(J)]),
        "household_consumption.csv": (["region", "education", "good", "value"],
                                      [[s.regions[r], s.education[e], s.sectors[i], b.household_consumption[r, e, i]]
                                       for r in range(R) for e in range(E) for i in range(J)]),
        "households.csv": (["region", "education", "population", "labour_force", "wage_income", "capital_income",
                            "transfers", "income_tax", "savings"],
                           [[s.regions[r], s.education[e], h["population"][r, e], h["labour_force"][r, e],
                             h["wage_income"][r, e], h["capital_income"][r, e], h["transfers"][r, e],
                             h["income_tax"][r, e], h["savings"][r, e]] for r in range(R) for e in range(E)]),
        "commuting.csv": (["residence", "workplace", "education", "value", "persons"],
                          [[s.regions[r], s.regions[w], s.education[e], b.commuting[r, w, e],
                            b.commuting_persons[r, w, e]] for r in range(R) for w in range(R) for e in range(E)]),
        "imports.csv": (["region", "good", "value"],
                        [[s.regions[r], s.sectors[i], b.imports[r, i]] for r in range(R) for i in range(J)]),
        "trade.csv": (["origin", "destination", "good", "value", "margin"],
                      [[s.regions[o], s.regions[d], s.sectors[i], b.trade_value[o, d, i], b.trade_margin[o, d, i]]
                       for o in range(R) for d in range(R) for i in range(J)]),
        "distance.csv": (["origin", "destination", "km"],
                         [[s.regions[o], s.regions[d], b.km[o, d]] for o in range(R) for d in range(R)]),
        "national.csv": (["item", "value"], [[k, v] for k, v in b.national.items()]),
        "shelf_accounts.csv": (["sector", "capital", "production_tax", "intermediate_tax", "exports", "output"],
                               [[s.sectors[j], b.shelf["capital"][j], b.shelf["production_tax"][j],
                                 b.shelf["intermediate_tax"][j], b.shelf["exports"][j], b.shelf["output"][j]]
                                for j in range(J)]),
        "shelf_labour.csv": (["sector", "education", "compensation", "persons"],
                             [[s.sectors[j], s.education[e], b.shelf["compensation"][j, e], b.shelf["persons"][j, e]]
                              for j in range(J) for e in range(E)]),
        "shelf_intermediate.csv": (["good", "sector", "value"],
                                   [[s.sectors[i], s.sectors[j], b.shelf["intermediate"][i, j]]
                                    for i in range(J) for j in range(J) if b.shelf["intermediate"][i, j] != 0]),
        "shelf_regions.csv": (["region", "host_share"], [[s.regions[r], b.shelf["host"][r]] for r in range(R)]),
        "shelf_deliveries.csv": (["region", "good", "value"],
                                 [[s.regions[r], s.sectors[i], b.shelf["deliveries"][r, i]]
                                  for r in range(R) for i in range(J)]),
    }
    written = []
    for name, (header, rows) in files.items():
        write_csv(bench_dir / name, header, rows)
        written.append(bench_dir / name)
    meta_path = bench_dir / "metadata.json"
    meta_path.write_text(json.dumps(metadata(b), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written.append(meta_path)

    consumption = b.household_consumption.sum(axis=(0, 1))
    params = parameters(s, consumption / consumption.sum(), load_assumptions())
    headers = {
        "production_elasticities": ["sector", "sigma_top", "sigma_kle", "sigma_kl", "sigma_labour", "sigma_nontertiary",
                                    "sigma_tertiary", "sigma_energy", "sigma_materials", "source"],
        "trade_elasticities": ["good", "sigma_armington", "sigma_domestic", "eta_export", "export_demand_elasticity",
                               "source"],
        "household_parameters": ["good", "income_elasticity", "source"],
        "household_scalars": ["item", "value", "source"],
    }
    for name, header in headers.items():
        write_csv(param_dir / f"{name}.csv", header, params[name])
        written.append(param_dir / f"{name}.csv")
    return written


def main(out_root: Path | str | None = None, verbose: bool = True) -> list[Path]:
    """Build, verify and write the benchmark under `out_root` (default noreg_jax/data)."""
    bench = build(verbose=verbose)
    written = write(bench, Path(out_root) if out_root is not None else DEFAULT_OUT)
    if verbose:
        print(f"  wrote {len(written)} files under {Path(out_root) if out_root is not None else DEFAULT_OUT}")
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output root (default noreg_jax/data)")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    arguments = parser.parse_args()
    main(arguments.out, verbose=not arguments.quiet)
