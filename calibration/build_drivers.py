"""Build the exogenous drivers of the 2018–2050 reference path (docs/drivers.md) from `calibration/sources`
and the shipped 2018 benchmark.

Run from the repository root:

    python -m calibration.build_drivers            # writes noreg_jax/data/reference/*.csv
    python -m calibration.build_drivers --out DIR  # writes DIR/reference/*.csv

Reads only `calibration/sources/county_population_2018-2023_2020borders.csv` (SSB 07459),
`calibration/sources/SSB_regional_population_projection_2022_MMMM_by_county.csv` (SSB 2022 edition),
`calibration/sources/reference_path_parameters.csv` (every number of the reference path, with its status and
source) and `noreg_jax/data/benchmark_2018/{regions,sectors,education,households}.csv`.

The build is deterministic: plain Python floats (no array reductions), every float written with a fixed
number of decimals per column, so a rebuild is byte-identical. Before writing it checks that the 2018
population equals the benchmark, that the projection's 2022 column equals the 07459 actuals, that every
region/education/year is present and that the education shares are positive and sum to 1; a failure raises
`DriversError` naming the file, field and value. Method and assumptions: docs/drivers.md.
"""

from __future__ import annotations

import argparse
import csv
import math
from dataclasses import dataclass
from pathlib import Path

CALIBRATION_DIR = Path(__file__).resolve().parent
REPO_DIR = CALIBRATION_DIR.parent
SOURCES_DIR = CALIBRATION_DIR / "sources"
BENCHMARK_DIR = REPO_DIR / "noreg_jax" / "data" / "benchmark_2018"
DEFAULT_OUT = REPO_DIR / "noreg_jax" / "data"
REFERENCE_SUBDIR = "reference"

FILE_POPULATION = SOURCES_DIR / "county_population_2018-2023_2020borders.csv"
FILE_PROJECTION = SOURCES_DIR / "SSB_regional_population_projection_2022_MMMM_by_county.csv"
FILE_PARAMETERS = SOURCES_DIR / "reference_path_parameters.csv"

FIRST_YEAR, LAST_YEAR = 2018, 2050
YEARS = tuple(range(FIRST_YEAR, LAST_YEAR + 1))
LAST_ACTUAL_YEAR = 2023  # last 07459 year in the sources
PROJECTION_BASE_YEAR = 2022  # base year of SSB's 2022-edition regional projection
HIGHER_EDUCATION_YEAR = 2040  # year of the article's 53 % higher-education share
PETROLEUM_SECTOR = "PETRO"
HIGHER_EDUCATION = ("bach", "mast")
VOCATIONAL = "voc"
LOW = "low"
#: relative tolerance of "2018 population = benchmark Σ_e households.population" (both are SSB 07459 counts)
POPULATION_TOLERANCE = 1e-6

#: decimals written per value column (fixed format: the files are byte-identical on rebuild)
DECIMALS = {"population": 6, "share": 12, "participation_rate": 12, "participation_index": 12,
            "capital_index": 12, "tfp_growth": 6, "value": 6, "beta": 6}

SOURCE_POP_ACTUAL = "SSB 07459 population 1 January (2020 county borders)"
SOURCE_POP_2018 = SOURCE_POP_ACTUAL + "; equals benchmark households.csv"
SOURCE_POP_INTERPOLATED = ("SYNTHESISED: constant yearly growth from the 2023 actual (SSB 07459) to the 2050 "
                           "projection (SSB 2022 edition MMMM)")
SOURCE_POP_PROJECTION = "SSB regional population projections 2022 edition main alternative MMMM (1 January 2050)"
SOURCE_EDU_2018 = "benchmark households.csv national shares (SSB 09429 2020 shares x SSB 07459 2018)"
SOURCE_EDU_TO_2040 = ("ASSUMED: higher education (bach+mast) x53/39 linear 2018-2040 (Rosnes et al. 2023 after "
                      "Perspektivmeldingen 2021); voc constant; low residual")
SOURCE_EDU_AFTER_2040 = ("ASSUMED: higher education continues at half its 2018-2040 yearly increment; voc "
                         "constant; low residual")
SOURCE_PARTICIPATION = ("Rosnes et al. 2023 after Perspektivmeldingen 2021: about 70 % rising to just over 71 % "
                        "by 2050; ASSUMED linear 70.0 -> 71.2 %")
SOURCE_PETROLEUM_FLAT = "ASSUMED: PETRO capital at its 2018 level through 2025"
SOURCE_PETROLEUM_DECLINE = ("ASSUMED: constant-rate decline to 0.5 in 2050 (Perspektivmeldingen 2021, Meld. St. 14 "
                            "(2020-2021): petroleum production and investment fall from the mid-2020s)")


class DriversError(ValueError):
    """An input file or a check of the reference-path drivers failed (the message names file, field and value)."""


# ----------------------------------------------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------------------------------------------
def read_rows(path: Path) -> list[dict[str, str]]:
    """All rows of a UTF-8 CSV file as dictionaries."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _number(path: Path, field: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError as error:
        raise DriversError(f"{path.name}: field {field!r} is not a number: {text!r}") from error
    if not math.isfinite(value):
        raise DriversError(f"{path.name}: field {field!r} is not finite: {text!r}")
    return value


@dataclass(frozen=True)
class Parameter:
    """One row of reference_path_parameters.csv."""

    value: float
    status: str
    source: str

    @property
    def citation(self) -> str:
        return f"{self.status}: {self.source}"


@dataclass(frozen=True)
class Inputs:
    """Everything the drivers are built from, in the benchmark's fixed order (region, sector, education)."""

    regions: tuple[str, ...]
    sectors: tuple[str, ...]
    public: tuple[bool, ...]
    education: tuple[str, ...]
    benchmark_population: dict[str, dict[str, float]]  # region -> education -> thousand persons (2018)
    actual_population: dict[str, dict[int, float]]  # region -> year -> persons (07459, 2018..2023)
    projection_2050: dict[str, float]  # region -> persons (SSB 2022 edition MMMM)
    parameters: dict[str, Parameter]

    def parameter(self, item: str) -> float:
        if item not in self.parameters:
            raise DriversError(f"{FILE_PARAMETERS.name}: item {item!r} is missing")
        return self.parameters[item].value


def load_inputs(benchmark_dir: Path = BENCHMARK_DIR, sources_dir: Path = SOURCES_DIR) -> Inputs:
    """Read the sources and the shipped benchmark; match counties by name and county number."""
    regions = read_rows(benchmark_dir / "regions.csv")
    codes = tuple(r["code"] for r in regions)
    code_by_name = {r["name"]: r["code"] for r in regions}
    code_by_number = {r["county_number"]: r["code"] for r in regions}
    sectors = read_rows(benchmark_dir / "sectors.csv")
    education = tuple(e["code"] for e in read_rows(benchmark_dir / "education.csv"))

    households_path = benchmark_dir / "households.csv"
    bench: dict[str, dict[str, float]] = {r: {} for r in codes}
    for row in read_rows(households_path):
        if row["region"] not in bench or row["education"] not in education:
            raise DriversError(f"{households_path.name}: unknown region/education {row['region']!r}/{row['education']!r}")
        bench[row["region"]][row["education"]] = _number(households_path, "population", row["population"])
    for r in codes:
        if set(bench[r]) != set(education):
            raise DriversError(f"{households_path.name}: region {r!r} lacks education groups "
                               f"{sorted(set(education) - set(bench[r]))}")

    population_path = sources_dir / FILE_POPULATION.name
    actual: dict[str, dict[int, float]] = {}
    for row in read_rows(population_path):
        if row["county"] not in code_by_name:
            raise DriversError(f"{population_path.name}: field 'county' has unknown county {row['County']!r}")
        actual[code_by_name[row["county"]]] = {
            year: _number(population_path, f"pop_{year}", row[f"pop_{year}"])
            for year in range(FIRST_YEAR, LAST_ACTUAL_YEAR + 1)}

    projection_path = sources_dir / FILE_PROJECTION.name
    projection_2050: dict[str, float] = {}
    projection_2022: dict[str, float] = {}
    for row in read_rows(projection_path):
        code = code_by_number.get(row["county_number"])
        if code is None or code_by_name.get(row["county"]) != code:
            raise DriversError(f"{projection_path.name}: county {row['county_number']!r} {row['county']!r} does not "
                               "match regions.csv")
        projection_2022[code] = _number(projection_path, "pop_2022", row["pop_2022"])
        projection_2050[code] = _number(projection_path, "pop_2050_MMMM", row["pop_2050_MMMM"])
        change = _number(projection_path, "change_persons", row["change_persons"])
        if projection_2050[code] - projection_2022[code] != change:
            raise DriversError(f"{projection_path.name}: {code}: pop_2050_MMMM - pop_2022 = "
                               f"{projection_2050[code] - projection_2022[code]:.0f} but change_persons = {change:.0f}")

    for name, table in (("county population", actual), ("projection", projection_2050)):
        if set(table) != set(codes):
            raise DriversError(f"{name}: counties {sorted(set(codes) ^ set(table))} do not match regions.csv")
    for r in codes:  # the projection starts from the same 07459 count (1 January 2022)
        if projection_2022[r] != actual[r][PROJECTION_BASE_YEAR]:
            raise DriversError(f"{projection_path.name}: {r}: pop_2022 = {projection_2022[r]:.0f} differs from "
                               f"SSB 07459 {actual[r][PROJECTION_BASE_YEAR]:.0f}")

    parameters_path = sources_dir / FILE_PARAMETERS.name
    parameters = {row["item"]: Parameter(_number(parameters_path, row["item"], row["value"]), row["status"],
                                         row["source"]) for row in read_rows(parameters_path)}
    return Inputs(regions=codes, sectors=tuple(s["code"] for s in sectors),
                  public=tuple(s["public"] == "1" for s in sectors), education=education,
                  benchmark_population=bench, actual_population=actual, projection_2050=projection_2050,
                  parameters=parameters)


# ----------------------------------------------------------------------------------------------------------
# The drivers
# ----------------------------------------------------------------------------------------------------------
def population_path(inp: Inputs) -> dict[str, dict[int, float]]:
    """Population by county and year, thousand persons (all ages), 1 January.

    2018–2023: SSB 07459; 2024–2049: constant yearly growth g_r = (P_2050 / P_2023)^(1/27); 2050: the SSB
    2022-edition MMMM projection."""
    span = LAST_YEAR - LAST_ACTUAL_YEAR
    path: dict[str, dict[int, float]] = {}
    for r in inp.regions:
        start, end = inp.actual_population[r][LAST_ACTUAL_YEAR], inp.projection_2050[r]
        series = {}
        for year in YEARS:
            if year <= LAST_ACTUAL_YEAR:
                persons = inp.actual_population[r][year]
            elif year == LAST_YEAR:
                persons = end
            else:
                persons = start * math.pow(end / start, (year - LAST_ACTUAL_YEAR) / span)
            series[year] = persons / 1000.0
        path[r] = series
        bench = math.fsum(inp.benchmark_population[r].values())
        if abs(series[FIRST_YEAR] / bench - 1.0) > POPULATION_TOLERANCE:
            raise DriversError(f"households.csv: {r}: benchmark population {bench!r} differs from SSB 07459 2018 "
                               f"{series[FIRST_YEAR]!r} (relative {series[FIRST_YEAR] / bench - 1.0:.3e})")
    return path


def benchmark_education_shares(inp: Inputs) -> dict[str, float]:
    """National 2018 population shares by education group in the benchmark (households.csv)."""
    totals = {e: math.fsum(inp.benchmark_population[r][e] for r in inp.regions) for e in inp.education}
    total = math.fsum(totals.values())
    return {e: totals[e] / total for e in inp.education}


def higher_education_share(year: int, base: float, relative_2040: float, increment_after: float) -> float:
    """Share with higher education: linear from `base` (2018) to `base · relative_2040` (2040), then
    `increment_after` times the same yearly increment."""
    step = base * (relative_2040 - 1.0) / (HIGHER_EDUCATION_YEAR - FIRST_YEAR)
    if year <= HIGHER_EDUCATION_YEAR:
        return base + step * (year - FIRST_YEAR)
    return base * relative_2040 + increment_after * step * (year - HIGHER_EDUCATION_YEAR)


def education_share_path(inp: Inputs) -> dict[int, dict[str, float]]:
    """National population shares by education group and year (sum 1): bach + mast follow the article's
    relative rise, split in their 2018 proportion; voc constant; low the residual."""
    base = benchmark_education_shares(inp)
    for e in (*HIGHER_EDUCATION, VOCATIONAL, LOW):
        if e not in base:
            raise DriversError(f"education.csv: education group {e!r} is missing")
    higher_2018 = math.fsum(base[e] for e in HIGHER_EDUCATION)
    relative_2040 = inp.parameter("higher_education_share_2040") / inp.parameter("higher_education_share_2018")
    increment_after = inp.parameter("higher_education_increment_after_2040")
    path = {}
    for year in YEARS:
        higher = higher_education_share(year, higher_2018, relative_2040, increment_after)
        shares = {e: base[e] for e in inp.education}
        for e in HIGHER_EDUCATION:
            shares[e] = round(higher * base[e] / higher_2018, DECIMALS["share"])
        shares[VOCATIONAL] = round(base[VOCATIONAL], DECIMALS["share"])
        shares[LOW] = 1.0 - math.fsum(shares[e] for e in inp.education if e != LOW)
        for e, value in shares.items():
            if not value > 0.0:
                raise DriversError(f"education_shares: share of {e!r} in {year} is {value!r} (must be > 0)")
        path[year] = shares
    return path


def participation_path(inp: Inputs) -> dict[int, tuple[float, float]]:
    """(participation rate, index relative to 2018) by year: linear in the rate from 2018 to 2050."""
    first, last = inp.parameter("participation_rate_2018"), inp.parameter("participation_rate_2050")
    path = {}
    for year in YEARS:
        rate = first + (last - first) * (year - FIRST_YEAR) / (LAST_YEAR - FIRST_YEAR)
        path[year] = (rate, rate / first)
    return path


def tfp_growth_by_sector(inp: Inputs) -> list[tuple[str, float, str]]:
    """(sector, TFP growth per year, source): private mainland, public services (sectors.csv `public`), PETRO."""
    if PETROLEUM_SECTOR not in inp.sectors:
        raise DriversError(f"sectors.csv: sector {PETROLEUM_SECTOR!r} is missing")
    rows = []
    for sector, public in zip(inp.sectors, inp.public):
        item = ("tfp_growth_petroleum" if sector == PETROLEUM_SECTOR else
                "tfp_growth_public" if public else "tfp_growth_private")
        inp.parameter(item)
        rows.append((sector, inp.parameters[item].value, inp.parameters[item].citation))
    return rows


def petroleum_capital_path(inp: Inputs) -> dict[int, float]:
    """PETRO capital stock relative to 2018: 1 through the flat year, then a constant rate to the 2050 index."""
    flat_until = int(inp.parameter("petroleum_capital_flat_until"))
    target = inp.parameter("petroleum_capital_index_2050")
    if not (FIRST_YEAR <= flat_until < LAST_YEAR and target > 0.0):
        raise DriversError(f"{FILE_PARAMETERS.name}: petroleum_capital_flat_until = {flat_until}, "
                           f"petroleum_capital_index_2050 = {target} are not usable")
    return {year: 1.0 if year <= flat_until else
            (target if year == LAST_YEAR else math.pow(target, (year - flat_until) / (LAST_YEAR - flat_until)))
            for year in YEARS}


SCALAR_ITEMS = ("public_consumption_growth", "energy_efficiency_growth", "depreciation",
                "investment_allocation_elasticity", "power_capacity_growth", "petroleum_cash_flow_2018",
                "voc_bach_gap_closed_by_2050", "world_demand_growth")


# ----------------------------------------------------------------------------------------------------------
# Tables and writing
# ----------------------------------------------------------------------------------------------------------
def build(inp: Inputs | None = None) -> dict[str, tuple[list[str], list[list]]]:
    """All reference-path tables: file name -> (header, rows), rows in the fixed order."""
    inp = inp if inp is not None else load_inputs()
    population = population_path(inp)
    shares = education_share_path(inp)
    participation = participation_path(inp)
    petroleum = petroleum_capital_path(inp)
    flat_until = int(inp.parameter("petroleum_capital_flat_until"))

    def population_source(year: int) -> str:
        return (SOURCE_POP_2018 if year == FIRST_YEAR else SOURCE_POP_ACTUAL if year <= LAST_ACTUAL_YEAR else
                SOURCE_POP_PROJECTION if year == LAST_YEAR else SOURCE_POP_INTERPOLATED)

    def education_source(year: int) -> str:
        return (SOURCE_EDU_2018 if year == FIRST_YEAR else SOURCE_EDU_TO_2040 if year <= HIGHER_EDUCATION_YEAR
                else SOURCE_EDU_AFTER_2040)

    migration = []
    for e in inp.education:
        item = f"migration_beta_{e}"
        inp.parameter(item)
        migration.append([e, inp.parameters[item].value, inp.parameters[item].citation])
    for item in SCALAR_ITEMS:
        inp.parameter(item)

    tables = {
        "population.csv": (["region", "year", "population", "source"],
                           [[r, year, population[r][year], population_source(year)]
                            for r in inp.regions for year in YEARS]),
        "education_shares.csv": (["year", "education", "share", "source"],
                                 [[year, e, shares[year][e], education_source(year)]
                                  for year in YEARS for e in inp.education]),
        "participation.csv": (["year", "participation_rate", "participation_index", "source"],
                              [[year, *participation[year], SOURCE_PARTICIPATION] for year in YEARS]),
        "productivity.csv": (["sector", "tfp_growth", "source"], [list(row) for row in tfp_growth_by_sector(inp)]),
        "petroleum.csv": (["year", "capital_index", "source"],
                          [[year, petroleum[year], SOURCE_PETROLEUM_FLAT if year <= flat_until else
                            SOURCE_PETROLEUM_DECLINE] for year in YEARS]),
        "scalars.csv": (["item", "value", "source"],
                        [[item, inp.parameters[item].value, inp.parameters[item].citation] for item in SCALAR_ITEMS]),
        "migration.csv": (["education", "beta", "source"], migration),
    }
    return tables


def format_value(column: str, value) -> str:
    """Fixed-format text of one cell: floats with DECIMALS[column] decimals, everything else as str."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise DriversError(f"refusing to write non-finite {column} = {value!r}")
        return f"{value + 0.0:.{DECIMALS[column]}f}"  # + 0.0 turns -0.0 into 0.0
    return str(value)


def write(tables: dict[str, tuple[list[str], list[list]]], out_root: Path) -> list[Path]:
    """Write the tables under `out_root`/reference; return the paths."""
    folder = out_root / REFERENCE_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (header, rows) in tables.items():
        path = folder / name
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            for row in rows:
                writer.writerow([format_value(column, value) for column, value in zip(header, row)])
        written.append(path)
    return written


def summary(inp: Inputs) -> str:
    """Key numbers of the drivers, for the console."""
    population = population_path(inp)
    shares = education_share_path(inp)
    span = LAST_YEAR - LAST_ACTUAL_YEAR
    lines = ["county  2018 (thousand)  2023   2050   growth 2024-2050 %/yr"]
    for r in inp.regions:
        p = population[r]
        growth = math.pow(p[LAST_YEAR] / p[LAST_ACTUAL_YEAR], 1.0 / span) - 1.0
        lines.append(f"{r:6s}  {p[FIRST_YEAR]:9.3f}  {p[LAST_ACTUAL_YEAR]:9.3f}  {p[LAST_YEAR]:9.3f}  "
                     f"{100 * growth:6.3f}")
    total = {year: math.fsum(population[r][year] for r in inp.regions) for year in (FIRST_YEAR, LAST_ACTUAL_YEAR,
                                                                                     LAST_YEAR)}
    lines.append(f"Norway  {total[FIRST_YEAR]:9.3f}  {total[LAST_ACTUAL_YEAR]:9.3f}  {total[LAST_YEAR]:9.3f}")
    for year in (FIRST_YEAR, HIGHER_EDUCATION_YEAR, LAST_YEAR):
        s = shares[year]
        lines.append(f"education shares {year}: " + ", ".join(f"{e} {s[e]:.4f}" for e in inp.education)
                     + f"; higher {math.fsum(s[e] for e in HIGHER_EDUCATION):.4f}")
    return "\n".join(lines)


def main(out_root: Path | str | None = None, verbose: bool = True) -> list[Path]:
    """Build, check and write the reference-path drivers under `out_root`/reference (default noreg_jax/data)."""
    inp = load_inputs()
    written = write(build(inp), Path(out_root) if out_root is not None else DEFAULT_OUT)
    if verbose:
        print(summary(inp))
        print(f"  wrote {len(written)} files under {written[0].parent}")
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output root (default noreg_jax/data)")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    arguments = parser.parse_args()
    main(arguments.out, verbose=not arguments.quiet)
