"""Article-style figures: county choropleth, sorted bars by region, grouped bars, paths over years.

The edge of the package: matplotlib only (any backend, Agg included; nothing here calls ``show``), no model
code. Every function takes labelled pandas data in the units the caller wants printed (say % deviation from the
reference, NOK million, thousand persons), draws on ``ax`` (a new figure when None) and returns the Axes.
County outlines: ``data/geo/counties.geojson`` (EPSG:25833, metres; built by ``calibration/build_geo.py``);
municipality outlines, for maps of any division built from municipalities: ``data/geo/municipalities.geojson``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib import patheffects
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PatchCollection
from matplotlib.colors import Normalize
from matplotlib.ticker import FuncFormatter
from matplotlib.patches import PathPatch
from matplotlib.path import Path as MplPath

COUNTIES_GEOJSON = Path(__file__).parent / "data" / "geo" / "counties.geojson"
MUNICIPALITIES_GEOJSON = Path(__file__).parent / "data" / "geo" / "municipalities.geojson"
#: The capital area drawn enlarged in an inset of :func:`region_map` (EPSG:25833, metres: x0, x1, y0, y1).
CAPITAL_AREA = (225_000.0, 295_000.0, 6_610_000.0, 6_680_000.0)
MISSING_COLOUR = "lightgrey"
EDGE_COLOUR = "white"
BAR_COLOUR = "#1f4e79"
NEGATIVE_COLOUR = "#b2182b"


def _rings(geometry) -> list[np.ndarray]:
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return [(k, np.asarray(ring, dtype=float)) for polygon in polygons for k, ring in enumerate(polygon)]


def _compound_path(rings) -> MplPath:
    vertices, codes = [], []
    for k, ring in rings:
        # Nonzero fill: exterior counter-clockwise, holes clockwise.
        x, y = ring[:, 0], ring[:, 1]
        if (np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]) > 0) != (k == 0):
            ring = ring[::-1]
        vertices.append(ring)
        codes.append([MplPath.MOVETO] + [MplPath.LINETO] * (len(ring) - 2) + [MplPath.CLOSEPOLY])
    return MplPath(np.concatenate(vertices), np.concatenate(codes))


@lru_cache(maxsize=1)
def _municipalities() -> tuple[tuple[str, MplPath, tuple], ...]:
    """(code, compound path, border segments) of each municipality outline (metres); a segment is a pair of
    vertices, sorted, so that the border two neighbours share is the same segment on both sides."""
    data = json.loads(MUNICIPALITIES_GEOJSON.read_text(encoding="utf-8"))
    out = []
    for feature in data["features"]:
        rings = _rings(feature["geometry"])
        segments = tuple(tuple(sorted((tuple(a), tuple(b)))) for _, ring in rings for a, b in zip(ring[:-1], ring[1:]))
        out.append((feature["properties"]["code"], _compound_path(rings), segments))
    return tuple(out)


def region_map(values: pd.Series, regions_of: dict[str, str], ax=None, title=None, label=None, cmap=None,
               inset: bool = True):
    """Choropleth of one value per region of a division built from municipalities (Series indexed by region code,
    any unit): each municipality takes its region's colour (``regions_of``: municipality code -> region code),
    borders are drawn between regions only. Values of both signs get a diverging scale centred on 0; the colour
    limits are the 2nd and 98th percentiles (the colour bar's arrows mark values beyond them), so one region
    does not flatten the rest (percentiles over the regions). ``inset`` draws the capital area enlarged."""
    unknown = sorted(set(values.index) - set(regions_of.values()))
    if unknown:
        raise KeyError(f"region_map: region code(s) {unknown} are not regions of the division")
    ax = _axes(ax, (6.0, 6.5))
    shapes = _municipalities()
    data = np.array([values.get(regions_of.get(code), np.nan) for code, _, _ in shapes], dtype=float)
    finite = values.to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]  # limits over the regions, not their municipalities
    low, high = (np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0))
    if low < 0 < high:
        bound = max(-low, high)
        low, high = -bound, bound
    norm = Normalize(low, high if high > low else low + 1.0)
    colormap = plt.get_cmap(cmap or ("RdBu_r" if low < 0 < high else "viridis")).with_extremes(bad=MISSING_COLOUR)
    owner: dict[tuple, set] = {}
    for (code, _, segments) in shapes:
        for seg in segments:
            owner.setdefault(seg, set()).add(regions_of.get(code))
    borders = [seg for seg, held in owner.items() if len(held) > 1]
    extend = {(False, False): "neither", (True, False): "min", (False, True): "max", (True, True): "both"}[
        (bool((finite < norm.vmin).any()), bool((finite > norm.vmax).any()))]

    def draw(axes, width):
        fill = PatchCollection([PathPatch(path) for _, path, _ in shapes], cmap=colormap, norm=norm, linewidth=0.3)
        fill.set_array(np.ma.masked_invalid(data))
        fill.set_edgecolor("face")  # no seams between the municipalities of one region
        axes.add_collection(fill)
        axes.add_collection(LineCollection(borders, colors=EDGE_COLOUR, linewidths=width))
        axes.set_aspect("equal")
        axes.set_xticks([])
        axes.set_yticks([])
        return fill

    fill = draw(ax, 0.5)
    ax.autoscale_view()
    ax.set_axis_off()
    if inset:
        x0, x1, y0, y1 = CAPITAL_AREA
        zoom = ax.inset_axes([0.62, 0.02, 0.36, 0.36])
        draw(zoom, 0.8)
        zoom.set_xlim(x0, x1)
        zoom.set_ylim(y0, y1)
        zoom.set_title("Oslo area", fontsize=7)
    ax.figure.colorbar(fill, ax=ax, label=label, shrink=0.6, extend=extend)
    if title:
        ax.set_title(title)
    return ax


@lru_cache(maxsize=1)
def _counties() -> tuple[tuple[str, str, MplPath, tuple[float, float]], ...]:
    """(code, name, compound path, label point) of each county in counties.geojson, in file order (metres)."""
    data = json.loads(COUNTIES_GEOJSON.read_text(encoding="utf-8"))
    counties = []
    for feature in data["features"]:
        props, geometry = feature["properties"], feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        vertices, codes = [], []
        for polygon in polygons:
            for k, ring in enumerate(polygon):
                ring = np.asarray(ring, dtype=float)
                # Nonzero fill: exterior counter-clockwise, holes clockwise (so Oslo is a hole in Viken).
                x, y = ring[:, 0], ring[:, 1]
                ccw = np.sum(x[:-1] * y[1:] - x[1:] * y[:-1]) > 0
                if ccw != (k == 0):
                    ring = ring[::-1]
                vertices.append(ring)
                codes.append([MplPath.MOVETO] + [MplPath.LINETO] * (len(ring) - 2) + [MplPath.CLOSEPOLY])
        path = MplPath(np.concatenate(vertices), np.concatenate(codes))
        label = props.get("label_point") or path.vertices.mean(axis=0)
        counties.append((props["code"], props["name"], path, (float(label[0]), float(label[1]))))
    return tuple(counties)


def _axes(ax, figsize):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def county_map(values: pd.Series, ax=None, title=None, cmap=None, label=None, diverging: bool = False,
               labels: bool = False):
    """Choropleth of one value per county (Series indexed by region code, any unit; NaN/absent drawn grey)."""
    known = [code for code, *_ in _counties()]
    unknown = [code for code in values.index if code not in known]
    if unknown:
        raise KeyError(f"county_map: unknown region code(s) {unknown}; known: {known}")
    ax = _axes(ax, (6.0, 6.5))
    data = np.array([values.get(code, np.nan) for code in known], dtype=float)
    finite = data[np.isfinite(data)]
    if diverging:
        bound = float(np.max(np.abs(finite))) if finite.size else 0.0
        bound = bound if bound > 0 else 1.0
        norm = Normalize(-bound, bound)
    else:
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        norm = Normalize(low, high if high > low else low + 1.0)
    colormap = plt.get_cmap(cmap or ("RdBu_r" if diverging else "viridis")).with_extremes(bad=MISSING_COLOUR)
    patches = [PathPatch(path) for _, _, path, _ in _counties()]
    collection = PatchCollection(patches, cmap=colormap, norm=norm, edgecolor=EDGE_COLOUR, linewidth=0.5)
    collection.set_array(np.ma.masked_invalid(data))
    ax.add_collection(collection)
    if labels:
        for (code, _, _, (x, y)), value in zip(_counties(), data):
            text = code if np.isnan(value) else f"{code}\n{value:.3g}"
            ax.annotate(text, (x, y), ha="center", va="center", fontsize=7,
                        path_effects=[patheffects.withStroke(linewidth=2, foreground="white")])
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.figure.colorbar(collection, ax=ax, label=label, shrink=0.6)
    if title:
        ax.set_title(title)
    return ax


def bar_by_region(values: pd.Series, ax=None, title=None, ylabel=None, errors=None):
    """Bars of one value per region, sorted from largest to smallest (any unit; negative bars in red);
    ``errors`` = (low, high) Series with the same index draws an interval on each bar."""
    ax = _axes(ax, (7.0, 4.0))
    ordered = values.sort_values(ascending=False)
    colours = [NEGATIVE_COLOUR if v < 0 else BAR_COLOUR for v in ordered.to_numpy()]
    yerr = None
    if errors is not None:
        low, high = (e.reindex(ordered.index).to_numpy(dtype=float) for e in errors)
        v = ordered.to_numpy(dtype=float)
        yerr = np.vstack([np.maximum(v - low, 0.0), np.maximum(high - v, 0.0)])
    ax.bar([str(i) for i in ordered.index], ordered.to_numpy(dtype=float), color=colours, yerr=yerr,
           error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "0.25"})
    ax.axhline(0.0, color="black", linewidth=0.8)
    _finish(ax, title, ylabel, len(ordered))
    return ax


def grouped_bars(df: pd.DataFrame, ax=None, title=None, ylabel=None):
    """Side-by-side bars: rows are categories (industries, education groups), columns are series (any unit)."""
    ax = _axes(ax, (min(12.0, max(6.0, 2.0 + 0.4 * len(df.index))), 4.0))
    n = max(1, len(df.columns))
    width = 0.8 / n
    positions = np.arange(len(df.index))
    for k, column in enumerate(df.columns):
        ax.bar(positions + (k - (n - 1) / 2) * width, df[column].to_numpy(dtype=float), width, label=str(column))
    ax.set_xticks(positions, [str(i) for i in df.index])
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.legend(frameon=False)
    _finish(ax, title, ylabel, len(df.index))
    return ax


def line_paths(df: pd.DataFrame, ax=None, title=None, ylabel=None, band=None):
    """One line per column over the index (years), e.g. a scenario's deviation from the reference path;
    ``band`` = (low, high) DataFrames like ``df`` shades an interval around each line in its colour."""
    ax = _axes(ax, (7.0, 4.0))
    for column in df.columns:
        line, = ax.plot(df.index.to_numpy(), df[column].to_numpy(dtype=float), label=str(column))
        if band is not None:
            ax.fill_between(df.index.to_numpy(), band[0][column].to_numpy(dtype=float),
                            band[1][column].to_numpy(dtype=float), color=line.get_color(), alpha=0.2, linewidth=0)
    if len(df.columns) > 1:
        ax.legend(frameon=False)
    ax.set_xlabel(df.index.name or "year")
    _finish(ax, title, ylabel, 0)
    return ax


def _finish(ax, title, ylabel, n_categories: int) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
    if n_categories > 8:
        ax.tick_params(axis="x", labelrotation=60)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right")
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)


#: File formats and resolution of :func:`save`; ``noreg run … --format png,pdf --dpi 300`` sets them (:func:`output`).
FORMATS: tuple[str, ...] = ("png",)
DPI = 120
KNOWN_FORMATS = ("png", "pdf", "svg")


def output(formats: tuple[str, ...] = ("png",), dpi: int = 120) -> None:
    """Set the formats (png, pdf, svg; the first is the one :func:`save` returns) and dpi of every saved figure."""
    global FORMATS, DPI
    unknown = [f for f in formats if f not in KNOWN_FORMATS]
    if unknown or not formats:
        raise ValueError(f"figure format(s) {unknown or list(formats)} unknown; choose from {', '.join(KNOWN_FORMATS)}")
    if not 50 <= dpi <= 1200:
        raise ValueError(f"figure resolution {dpi} dpi is outside 50-1200")
    FORMATS, DPI = tuple(dict.fromkeys(formats)), int(dpi)


def _thousands(value: float, _position=None) -> str:
    """Tick labels with thousands separators (12,000) and no float noise (0.30000000000000004 -> 0.3)."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.4g}"


def save(fig, path) -> Path:
    """Write a figure (or the figure of an Axes) to ``path`` in every format of :func:`output` (``path`` with each
    suffix; png at 120 dpi by default), creating parent folders; return the path of the first format."""
    from noreg_jax.output_files import save_figure

    if isinstance(fig, Axes):
        fig = fig.figure
    path = Path(path)
    written = [save_figure(fig, path.with_suffix(f".{fmt}"), dpi=DPI) for fmt in FORMATS]
    return written[0]
