"""Build the municipality table and the shipped divisions built from municipalities (docs/model.md, Regional
divisions).

Run from the repository root:

    python -m calibration.build_zones

Reads only ``calibration/sources/zones/`` (SSB Klass 131/108 of 1 January 2020 and SSB 11618 for 2020, both in
the municipality codes of 2020, which have the borders of the model's 11 counties) and
``calibration/mappings/regions.csv``; writes

- ``noreg_jax/data/zones/municipalities.csv``: one row per municipality: code, name, model county, economic
  region (code and name), employed persons by workplace and by residence, population 15-74 (SSB 11618, 2020);
- ``noreg_jax/data/zones/commuting.csv``: employed persons by municipality of residence and of work (SSB 03321,
  2020, the nonzero cells), for commuting between the regions of a division;
- ``noreg_jax/data/geo/municipalities.geojson``: the municipality outlines (from ``calibration/sources/geo/``, the
  reduced copy the county outlines are built from) with their codes as strings, for maps of any division;
- ``noreg_jax/data/zones/groups.csv``, ``employment_by_industry.csv``, ``education_by_municipality.csv``: the
  sub-county tables that divide a county by data (docs/model.md, Regional divisions): employed persons by
  workplace municipality and SN2007 group (SSB 07984), persons 16+ by residence municipality and level (SSB 09429),
  for 2020; by default from the Telemark tables (17 municipalities of Vestfold og Telemark), or from SSB
  JSON-stat2 files given as ``--employment FILE --education FILE`` (the whole country, if they hold it);
- ``noreg_jax/data/mappings/counties_by_municipality.csv``, ``economic_regions.csv`` and
  ``trondelag_economic_regions.csv``: divisions (``municipality,region,region_name``) for ``noreg --regions``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

CALIBRATION_DIR = Path(__file__).resolve().parent
SOURCES = CALIBRATION_DIR / "sources" / "zones"
KLASS = SOURCES / "kommune_to_economic_region_2020.csv"
EMPLOYMENT = SOURCES / "ssb11618_kommune_pop_employment_2020.csv"
COMMUTING = SOURCES / "ssb03321_commuting_kommune_2020.csv"
REGIONS = CALIBRATION_DIR / "mappings" / "regions.csv"
PACKAGE_DATA = CALIBRATION_DIR.parent / "noreg_jax" / "data"
OUT_MUNICIPALITIES = PACKAGE_DATA / "zones" / "municipalities.csv"
OUT_COMMUTING = PACKAGE_DATA / "zones" / "commuting.csv"
OUTLINES = CALIBRATION_DIR / "sources" / "geo" / "kommuner_simp_20_reduced.geojson"
OUT_OUTLINES = PACKAGE_DATA / "geo" / "municipalities.geojson"
OUT_DIVISIONS = PACKAGE_DATA / "mappings"
TELEMARK_EMPLOYMENT = SOURCES / "telemark_kommune_x_industry17_employment_workplace_2016-2025.csv"
TELEMARK_EDUCATION = SOURCES / "telemark_kommune_education_09429_2018-2020.csv"
OUT_GROUPS = PACKAGE_DATA / "zones" / "groups.csv"
OUT_EMPLOYMENT = PACKAGE_DATA / "zones" / "employment_by_industry.csv"
OUT_EDUCATION = PACKAGE_DATA / "zones" / "education_by_municipality.csv"
ZONE_YEAR = 2020
#: SN2007 groups of SSB 07984 (code, label in the Telemark table) and the model sectors in each.
INDUSTRY_GROUPS = {
    "01-03": ("Jordbruk, skogbruk og fiske", ["AGRI", "FISH"]),
    "05-09": ("Bergverksdrift og utvinning", ["PETRO"]),
    "10-33": ("Industri", ["FOOD", "WOOD", "CHEM", "METAL", "MACH", "OMAN"]),
    "35-39": ("Elektrisitet, vann og renovasjon", ["POWER", "WATER"]),
    "41-43": ("Bygge- og anleggsvirksomhet", ["CONS"]),
    "45-47": ("Varehandel, reparasjon av motorvogner", ["TRADE"]),
    "49-53": ("Transport og lagring", ["TRANS"]),
    "55-56": ("Overnattings- og serveringsvirksomhet", ["TOUR"]),
    "58-63": ("Informasjon og kommunikasjon", ["ICT"]),
    "64-66": ("Finansiering og forsikring", ["FIN"]),
    "68-75": ("Teknisk tjenesteyting, eiendomsdrift", ["REAL", "KNOW"]),
    "77-82": ("Forretningsmessig tjenesteyting", ["BUSS"]),
    "84": ("Off.adm., forsvar, sosialforsikring", ["PADM"]),
    "85": ("Undervisning", ["EDU"]),
    "86-88": ("Helse- og sosialtjenester", ["HEALTH"]),
    "90-99": ("Personlig tjenesteyting", ["OSERV"]),
}
#: Levels of SSB 09429 (code, label) and the model's education groups: 09429 does not split upper secondary into
#: general and vocational, so low and voc share one group (their split within it is the county's).
EDUCATION_GROUPS = {
    "01+02a+11": (["01", "02a", "11"], ["Grunnskolenivå", "Videregående skolenivå", "Fagskolenivå"], ["low", "voc"]),
    "03a": (["03a"], ["Universitets- og høgskolenivå, kort"], ["bach"]),
    "04a": (["04a"], ["Universitets- og høgskolenivå, lang"], ["mast"]),
}
#: Economic-region codes get this prefix, so that no reader takes them for numbers (SSB's 03001 is Oslo).
ECONOMIC_REGION_PREFIX = "ER"


def municipalities() -> pd.DataFrame:
    klass = pd.read_csv(KLASS, dtype=str)
    employment = pd.read_csv(EMPLOYMENT, dtype={"Region": str})
    counties = pd.read_csv(REGIONS, dtype=str)
    county_of_number = dict(zip(counties["county_number"], counties["code"]))
    unknown = sorted(set(klass["fylke_no"]) - set(county_of_number))
    if unknown:
        raise SystemExit(f"{KLASS}: county numbers {unknown} are not in {REGIONS}")
    if set(klass["kommune_no"]) != set(employment["Region"]) or klass["kommune_no"].duplicated().any():
        raise SystemExit(f"{KLASS} and {EMPLOYMENT} do not list the same municipalities once each")
    if not all(er.startswith(f) for er, f in zip(klass["economic_region_no"], klass["fylke_no"])):
        raise SystemExit(f"{KLASS}: an economic region crosses a county border")
    table = klass.merge(employment, left_on="kommune_no", right_on="Region")
    out = pd.DataFrame({
        "municipality": table["kommune_no"],
        "name": table["kommune_name"],
        "county": table["fylke_no"].map(county_of_number),
        "economic_region": ECONOMIC_REGION_PREFIX + table["economic_region_no"],
        "economic_region_name": table["economic_region_name"],
        "employed_workplace": table["SysselArbsted"].round().astype(int),
        "employed_residence": table["SysselBosted"].round().astype(int),
        "population_15_74": table["BefolkningBosted"].round().astype(int),
    })
    return out.sort_values("municipality").reset_index(drop=True)


def commuting(m: pd.DataFrame) -> pd.DataFrame:
    """SSB 03321 between the municipalities of ``m``: residence, workplace, employed persons (nonzero cells).

    Its workplace sums are SSB 11618's employed persons by workplace, to the person (checked); its residence sums
    are 96-100 % of those by residence (residents working abroad or at an unknown place are not in it)."""
    flows = pd.read_csv(COMMUTING, dtype={"residence_kommune": str, "work_kommune": str})
    flows = flows.rename(columns={"residence_kommune": "residence", "work_kommune": "workplace"})
    unknown = sorted((set(flows["residence"]) | set(flows["workplace"])) - set(m["municipality"]))
    if unknown:
        raise SystemExit(f"{COMMUTING}: municipalities {unknown[:5]} are not those of {KLASS}")
    if (flows["employed_persons"] <= 0).any() or flows.duplicated(["residence", "workplace"]).any():
        raise SystemExit(f"{COMMUTING}: a flow is not positive or is listed twice")
    at_work = flows.groupby("workplace")["employed_persons"].sum().reindex(m["municipality"], fill_value=0)
    if not (at_work.to_numpy() == m["employed_workplace"].to_numpy()).all():
        raise SystemExit(f"{COMMUTING}: employed persons by workplace differ from {EMPLOYMENT}")
    return flows.sort_values(["residence", "workplace"]).reset_index(drop=True)


def municipality_outlines(m: pd.DataFrame) -> dict:
    """The municipality outlines of ``OUTLINES`` (EPSG:25833, metres, borders noded on a 10 m grid) with properties
    ``code`` (four digits, a string) and ``name``; every feature must be a municipality of ``m`` (two small island
    municipalities, Kvitsøy and Træna, are not in the source and are not drawn)."""
    source = json.loads(OUTLINES.read_text(encoding="utf-8"))
    known = set(m["municipality"])
    features = []
    for feature in source["features"]:
        code = f"{int(feature['properties']['kommunenummer']):04d}"
        if code not in known:
            raise SystemExit(f"{OUTLINES}: municipality {code} is not one of {KLASS}")
        features.append({"type": "Feature", "properties": {"code": code, "name": feature["properties"]["navn"]},
                         "geometry": feature["geometry"]})
    features.sort(key=lambda f: f["properties"]["code"])
    return {"type": "FeatureCollection", "crs": source["crs"], "features": features}


def zone_groups() -> pd.DataFrame:
    rows = [("sector", code, g) for g, (_, codes) in INDUSTRY_GROUPS.items() for code in codes]
    rows += [("education", code, g) for g, (_, _, codes) in EDUCATION_GROUPS.items() for code in codes]
    return pd.DataFrame(rows, columns=["kind", "code", "group"])


def _municipality_codes(m: pd.DataFrame, names: pd.Series, where: Path) -> pd.Series:
    """Codes of the Telemark table's municipality names (2020 names; '(2020-2023)' suffixes dropped)."""
    clean = names.str.replace(r" \(.*\)$", "", regex=True)
    code_of = dict(zip(m.loc[m["county"] == "VTE", "name"], m.loc[m["county"] == "VTE", "municipality"]))
    unknown = sorted(set(clean) - set(code_of))
    if unknown:
        raise SystemExit(f"{where}: municipalities {unknown} are not municipalities of Vestfold og Telemark in 2020")
    return clean.map(code_of)


def telemark_tables(m: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sub-county tables from the Telemark county's SSB extracts (2020): employment by SN2007 group and
    workplace (07984-type) and persons 16+ by level and residence (09429)."""
    emp = pd.read_csv(TELEMARK_EMPLOYMENT)
    emp = emp[(emp["år"] == ZONE_YEAR) & (emp["næring (SN2007)"] != "Uoppgitt")]
    group_of = {label: g for g, (label, _) in INDUSTRY_GROUPS.items()}
    employment = pd.DataFrame({"municipality": _municipality_codes(m, emp["region"], TELEMARK_EMPLOYMENT),
                               "group": emp["næring (SN2007)"].map(group_of), "employed": emp["value"]})
    edu = pd.read_csv(TELEMARK_EDUCATION)
    edu = edu[(edu["År"] == ZONE_YEAR) & (edu["Kjønn"] == "Begge kjønn") & (edu["Variabel"] == "Personer 16 år og over")
              & ~edu["Kommune"].str.contains(r"\(-2019\)|\(1[0-9]{3}-2019\)", regex=True)]
    level_of = {label: g for g, (_, labels, _) in EDUCATION_GROUPS.items() for label in labels}
    edu = edu[edu["Utdanningsnivå"].isin(level_of)]
    education = pd.DataFrame({"municipality": _municipality_codes(m, edu["Kommune"], TELEMARK_EDUCATION),
                              "group": edu["Utdanningsnivå"].map(level_of), "persons": edu["Verdi"]})
    return _tidy(employment, "employed", TELEMARK_EMPLOYMENT), _tidy(education, "persons", TELEMARK_EDUCATION)


def _tidy(df: pd.DataFrame, value: str, where) -> pd.DataFrame:
    if df["group"].isna().any() or df[value].isna().any():
        raise SystemExit(f"{where}: a row has no group or no value: {df[df.isna().any(axis=1)].head(3).to_dict('records')}")
    out = df.groupby(["municipality", "group"], as_index=False)[value].sum()
    return out.sort_values(["municipality", "group"]).reset_index(drop=True)


def _jsonstat_frame(path: Path, m: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """A JSON-stat2 table of SSB (07984 or 09429) as rows with a 4-digit municipality code and the year ZONE_YEAR;
    returns the frame and the name of its region dimension."""
    from calibration.jsonstat import read_jsonstat2

    try:
        df = read_jsonstat2(path)
    except (OSError, ValueError) as exc:
        raise SystemExit(str(exc)) from None
    dims = [c for c in df.columns if c not in ("value", "status") and not c.endswith("_label")]
    region = next((d for d in dims if df[d].astype(str).str.replace("K-", "").str.fullmatch(r"\d{4}").all()), None)
    time = next((d for d in dims if d.lower() in ("tid", "time", "year")), None)
    if region is None or time is None:
        raise SystemExit(f"{path}: needs a dimension of four-digit municipality codes and a time dimension (Tid); "
                         f"found {dims}")
    df = df[df[time].astype(str) == str(ZONE_YEAR)].copy()
    if df.empty:
        raise SystemExit(f"{path}: no values for {ZONE_YEAR}, the year of the municipality division")
    df["municipality"] = df[region].astype(str).str.replace("K-", "")
    unknown = sorted(set(df["municipality"]) - set(m["municipality"]))
    if unknown:
        raise SystemExit(f"{path}: municipalities {unknown[:5]} are not those of 1 January 2020")
    contents = next((d for d in dims if d.lower().startswith("contents")), None)
    if contents is not None:  # persons, not percentages
        keep = ~df[f"{contents}_label"].astype(str).str.contains("prosent|percent|%", case=False)
        df = df[keep]
    return df, region


def jsonstat_tables(m: pd.DataFrame, employment: Path | None, education: Path | None):
    """The sub-county tables from SSB JSON-stat2 files: 07984 (employed by workplace, dimension of SN2007 group
    codes such as '01-03') and 09429 (persons 16+ by level, codes '01', '02a', '11', '03a', '04a'; both sexes)."""
    out = []
    if employment is not None:
        df, _ = _jsonstat_frame(employment, m)
        dim = next((d for d in df.columns if not d.endswith("_label") and set(df[d].astype(str)) & set(INDUSTRY_GROUPS)),
                   None)
        if dim is None:
            raise SystemExit(f"{employment}: no dimension with the SN2007 group codes {sorted(INDUSTRY_GROUPS)}")
        df = df[df[dim].isin(INDUSTRY_GROUPS)]
        out.append(_tidy(pd.DataFrame({"municipality": df["municipality"], "group": df[dim], "employed": df["value"]}),
                         "employed", employment))
    else:
        out.append(None)
    if education is not None:
        df, _ = _jsonstat_frame(education, m)
        level_of = {code: g for g, (codes, _, _) in EDUCATION_GROUPS.items() for code in codes}
        dim = next((d for d in df.columns if not d.endswith("_label") and set(df[d].astype(str)) & set(level_of)), None)
        if dim is None:
            raise SystemExit(f"{education}: no dimension with the 09429 level codes {sorted(level_of)}")
        sex = next((d for d in df.columns if d.lower().startswith(("kjonn", "kjønn", "sex"))), None)
        if sex is not None:
            df = df[df[sex].astype(str) == "0"] if (df[sex].astype(str) == "0").any() else df
        df = df[df[dim].isin(level_of)]
        out.append(_tidy(pd.DataFrame({"municipality": df["municipality"], "group": df[dim].map(level_of),
                                       "persons": df["value"]}), "persons", education))
    else:
        out.append(None)
    return tuple(out)


def divisions(m: pd.DataFrame) -> dict[str, pd.DataFrame]:
    county_names = pd.read_csv(REGIONS, dtype=str).set_index("code")["name"]
    by_county = pd.DataFrame({"municipality": m["municipality"], "region": m["county"],
                              "region_name": m["county"].map(county_names)})
    economic = pd.DataFrame({"municipality": m["municipality"], "region": m["economic_region"],
                             "region_name": m["economic_region_name"]})
    in_trondelag = m["county"] == "TRO"
    trondelag = by_county.copy()
    trondelag.loc[in_trondelag, ["region", "region_name"]] = economic.loc[in_trondelag, ["region", "region_name"]]
    return {"counties_by_municipality": by_county, "economic_regions": economic,
            "trondelag_economic_regions": trondelag}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m calibration.build_zones", description=__doc__.split("\n")[0])
    parser.add_argument("--employment", type=Path, help="SSB 07984 as JSON-stat2: employed persons by workplace "
                        "municipality and SN2007 group (replaces the Telemark table)")
    parser.add_argument("--education", type=Path, help="SSB 09429 as JSON-stat2: persons 16+ by municipality and "
                        "level (replaces the Telemark table)")
    args = parser.parse_args(argv)
    m = municipalities()
    OUT_MUNICIPALITIES.parent.mkdir(parents=True, exist_ok=True)
    m.to_csv(OUT_MUNICIPALITIES, index=False, lineterminator="\n")
    print(f"{OUT_MUNICIPALITIES}: {len(m)} municipalities, {m['economic_region'].nunique()} economic regions, "
          f"{m['employed_workplace'].sum():,} employed by workplace")
    flows = commuting(m)
    flows.to_csv(OUT_COMMUTING, index=False, lineterminator="\n")
    print(f"{OUT_COMMUTING}: {len(flows)} flows, {flows['employed_persons'].sum():,} employed persons")
    outlines = municipality_outlines(m)
    OUT_OUTLINES.write_text(json.dumps(outlines, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    missing = sorted(set(m["municipality"]) - {f["properties"]["code"] for f in outlines["features"]})
    print(f"{OUT_OUTLINES}: {len(outlines['features'])} municipality outlines (not drawn: {missing})")
    employment, education = telemark_tables(m)
    if args.employment or args.education:
        given = jsonstat_tables(m, args.employment, args.education)
        employment = given[0] if given[0] is not None else employment
        education = given[1] if given[1] is not None else education
    zone_groups().to_csv(OUT_GROUPS, index=False, lineterminator="\n")
    for table, path, what in ((employment, OUT_EMPLOYMENT, "employed"), (education, OUT_EDUCATION, "persons")):
        table.to_csv(path, index=False, lineterminator="\n")
        print(f"{path}: {table['municipality'].nunique()} municipalities, {table[what].sum():,.0f} {what}")
    for name, table in divisions(m).items():
        path = OUT_DIVISIONS / f"{name}.csv"
        table.to_csv(path, index=False, lineterminator="\n")
        print(f"{path}: {table['region'].nunique()} regions")


if __name__ == "__main__":
    main()
