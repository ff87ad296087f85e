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
- ``noreg_jax/data/mappings/counties_by_municipality.csv``, ``economic_regions.csv`` and
  ``trondelag_economic_regions.csv``: divisions (``municipality,region,region_name``) for ``noreg --regions``.
"""

from __future__ import annotations

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


def main() -> None:
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
    for name, table in divisions(m).items():
        path = OUT_DIVISIONS / f"{name}.csv"
        table.to_csv(path, index=False, lineterminator="\n")
        print(f"{path}: {table['region'].nunique()} regions")


if __name__ == "__main__":
    main()
