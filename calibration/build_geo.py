"""Build the county outlines for choropleth maps (`noreg_jax/data/geo/counties.geojson`) from municipality borders.

A one-off builder, separate from the benchmark build. Run from the repository root:

    python -m calibration.build_geo                         # sources/geo/kommuner_simp_20_reduced.geojson -> counties
    python -m calibration.build_geo --reduce-source ORIG    # remake the shipped reduced copy from the original file

Steps: read the 2020 municipalities (EPSG:25833, metres); county = first two digits of the *zero-padded*
`kommunenummer` (the source stores it as an integer, so Oslo's 0301 reads 301 and would otherwise fall into
Viken, 30); node all borders so that neighbours share identical vertices; dissolve into the 11 counties of
`calibration/mappings/regions.csv`; simplify the counties together (coverage simplification: shared borders stay
shared, no gaps or overlaps); drop islands under `MIN_ISLAND_KM2`; round to a 100 m grid; orient rings as RFC 7946
asks (exterior counter-clockwise, holes clockwise); check the areas against `county_centres.csv`; write compact
GeoJSON. Needs shapely >= 2.1 (GEOS >= 3.12) at build time only; the package reads the output with `json`.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.ops import polylabel

CALIBRATION_DIR = Path(__file__).resolve().parent
SOURCE = CALIBRATION_DIR / "sources" / "geo" / "kommuner_simp_20_reduced.geojson"
REGIONS = CALIBRATION_DIR / "mappings" / "regions.csv"
COUNTY_CENTRES = CALIBRATION_DIR / "mappings" / "county_centres.csv"
OUT = CALIBRATION_DIR.parent / "noreg_jax" / "data" / "geo" / "counties.geojson"

CRS = "urn:ogc:def:crs:EPSG::25833"
#: Coverage-simplification tolerance (m; about the square root of the largest triangle area removed).
COUNTY_TOLERANCE = 1500.0
#: Output grid (m).
COUNTY_GRID = 100.0
#: Islands smaller than this (after simplification) are dropped from the county outlines.
MIN_ISLAND_KM2 = 2.0
#: The reduced source copy: tolerance (m) and grid (m).
REDUCE_TOLERANCE = 1000.0
REDUCE_GRID = 10.0
#: Largest accepted relative gap between the outline area and `county_centres.csv` area_km2 (SSB land + fresh
#: water; the outlines are generalised: the largest gap is Nordland, -1.4%).
AREA_RTOL = 0.03
MAX_BYTES = 150_000


class GeoError(ValueError):
    """A geometry or mapping problem; the message names the file, field and value."""


def _polygons(geom) -> list[Polygon]:
    """The polygons of any (multi)polygon or collection; other parts (lines, points) are dropped."""
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    return [p for part in getattr(geom, "geoms", []) for p in _polygons(part)]


def _multipolygon(geom) -> MultiPolygon:
    return MultiPolygon(_polygons(geom))


def read_features(path: Path) -> list[tuple[dict, MultiPolygon]]:
    """The (properties, valid multipolygon) of every feature of a GeoJSON file in EPSG:25833."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    crs = data.get("crs", {}).get("properties", {}).get("name", "")
    if "25833" not in crs:
        raise GeoError(f"{path}: field crs: expected EPSG:25833, got {crs!r}")
    return [(f["properties"], _multipolygon(shapely.make_valid(shape(f["geometry"])))) for f in data["features"]]


def county_number(kommunenummer, path: Path | str = "source") -> str:
    """The two-digit 2020 county number of a municipality number given as int or string (301 -> '03')."""
    text = str(kommunenummer).strip()
    if not text.isdigit() or len(text) > 4:
        raise GeoError(f"{path}: field kommunenummer: not a municipality number: {kommunenummer!r}")
    return text.zfill(4)[:2]


def make_coverage(geoms: list) -> list[MultiPolygon]:
    """Edge-match polygons: node all borders, give each face to the polygon that contains it (first wins).

    Faces inside no polygon (gaps) are dropped; faces inside several (overlap slivers) go to the first.
    """
    lines = shapely.unary_union([g.boundary for g in geoms])
    faces = _polygons(shapely.polygonize(list(getattr(lines, "geoms", [lines]))))
    tree = shapely.STRtree(geoms)
    owned: dict[int, list[Polygon]] = defaultdict(list)
    for face in faces:
        hits = tree.query(face.point_on_surface(), predicate="within")
        if len(hits):
            owned[int(min(hits))].append(face)
    return [_multipolygon(shapely.unary_union(owned[i])) for i in range(len(geoms))]


def simplify(geoms: list, tolerance: float, grid: float, min_area: float = 0.0) -> list[MultiPolygon]:
    """Simplify an edge-matched coverage together, drop parts under min_area (m2), snap to grid (m), orient."""
    simplified = shapely.coverage_simplify(list(geoms), tolerance)
    out = []
    for geom in simplified:
        geom = shapely.set_precision(geom, grid)
        parts = [p for p in _polygons(shapely.make_valid(geom)) if p.area >= min_area]
        out.append(shapely.orient_polygons(MultiPolygon(parts)))
    return out


def _ring(coords) -> list[list[int]]:
    return [[int(round(x)), int(round(y))] for x, y in coords]


def _coordinates(geom: MultiPolygon) -> list:
    return [[_ring(p.exterior.coords)] + [_ring(r.coords) for r in p.interiors] for p in geom.geoms]


def _dump(collection: dict) -> str:
    return json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n"


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_regions(path: Path = REGIONS) -> list[dict]:
    """Rows code, name, county_number of the model's 11 counties."""
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def build_counties(source: Path = SOURCE, out: Path = OUT) -> dict:
    """Dissolve the municipalities of `source` into counties and write `out`; return the written collection."""
    regions = read_regions()
    by_number = {r["county_number"]: r for r in regions}
    members: dict[str, list] = defaultdict(list)
    for props, geom in read_features(source):
        number = county_number(props.get("kommunenummer"), source)
        if number not in by_number:
            raise GeoError(f"{source}: field kommunenummer: {props.get('kommunenummer')!r} is in county {number}, "
                           f"not one of {sorted(by_number)} of {REGIONS.name}")
        members[number].append(geom)
    missing = sorted(set(by_number) - set(members))
    if missing:
        raise GeoError(f"{source}: field kommunenummer: no municipality of county {missing}")
    numbers = [r["county_number"] for r in regions]
    counties = [shapely.unary_union(members[n]) for n in numbers]
    counties = simplify(make_coverage(counties), COUNTY_TOLERANCE, COUNTY_GRID, MIN_ISLAND_KM2 * 1e6)

    with open(COUNTY_CENTRES, encoding="utf-8", newline="") as f:
        official_km2 = {row["region"]: float(row["area_km2"]) for row in csv.DictReader(f)}
    features = []
    for region, geom in zip(regions, counties):
        km2 = geom.area / 1e6
        expected = official_km2[region["code"]]
        if abs(km2 / expected - 1) > AREA_RTOL:
            raise GeoError(f"{out}: county {region['code']}: area {km2:.0f} km2 is not within {AREA_RTOL:.0%} "
                           f"of {expected:.0f} km2 ({COUNTY_CENTRES.name})")
        largest = max(geom.geoms, key=lambda p: p.area)
        label = polylabel(largest, tolerance=COUNTY_GRID)
        features.append({
            "type": "Feature",
            "properties": {"code": region["code"], "name": region["name"], "county_number": region["county_number"],
                           "label_point": [int(round(label.x, -2)), int(round(label.y, -2))]},
            "geometry": {"type": "MultiPolygon", "coordinates": _coordinates(geom)},
        })
    collection = {
        "type": "FeatureCollection",
        "name": "noreg_jax_counties_2020",
        "crs": {"type": "name", "properties": {"name": CRS}},
        "features": features,
    }
    text = _dump(collection)
    if len(text.encode()) > MAX_BYTES:
        raise GeoError(f"{out}: {len(text.encode())} bytes, more than {MAX_BYTES}; raise COUNTY_TOLERANCE")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return collection


def reduce_source(original: Path, out: Path = SOURCE) -> None:
    """Write the shipped reduced copy of the ReadyMaps municipality file (edge-matched, simplified, 10 m grid)."""
    features = read_features(original)
    geoms = simplify(make_coverage([g for _, g in features]), REDUCE_TOLERANCE, REDUCE_GRID)
    collection = {
        "type": "FeatureCollection",
        "name": "kommuner_simp_20_reduced",
        "crs": {"type": "name", "properties": {"name": CRS}},
        "features": [
            {"type": "Feature", "properties": {"kommunenummer": props["kommunenummer"], "navn": props["navn"]},
             "geometry": {"type": "MultiPolygon", "coordinates": _coordinates(geom)}}
            for (props, _), geom in zip(features, geoms)
        ],
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(_dump(collection), encoding="utf-8")
    print(f"{original} (sha256 {_sha256(original)}) -> {out} ({out.stat().st_size} bytes, sha256 {_sha256(out)})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="municipality GeoJSON (EPSG:25833)")
    parser.add_argument("--out", type=Path, default=OUT, help="county GeoJSON to write")
    parser.add_argument("--reduce-source", type=Path, metavar="ORIGINAL",
                        help="instead: write the reduced copy of ORIGINAL (kommuner_simp_20.geojson) to --source")
    args = parser.parse_args(argv)
    if args.reduce_source:
        reduce_source(args.reduce_source, args.source)
        return
    collection = build_counties(args.source, args.out)
    print(f"{args.source} (sha256 {_sha256(args.source)}) -> {args.out} ({args.out.stat().st_size} bytes, "
          f"{len(collection['features'])} counties, GEOS {shapely.geos_version_string})")


if __name__ == "__main__":
    main()
