"""Reader of JSON-stat 2.0 datasets as written by SSB's PxWebApi (``outputFormat=json-stat2``).

JSON-stat 2.0 (https://json-stat.org/format/): a dataset is a cube with dimensions ``id`` of sizes
``size``; ``value`` lists the cells in row-major order (the last dimension varies fastest), either
as an array or as a sparse object ``{"position": value}``; ``status`` (string, array or sparse
object) carries symbols per cell; each dimension's ``category.index`` (array of codes, or object
code -> position) fixes the order of its categories and ``category.label`` maps codes to labels.

The result is tidy: one row per cell, one column per dimension holding category *codes* (strings),
a ``<dimension>_label`` column beside each, a float ``value`` column (NaN for null values and for
cells whose status is a missing-value symbol, see :data:`MISSING_STATUS`) and a ``status`` column
(missing where no symbol is given). Dataset metadata (label, source, updated, role, note) go to
``DataFrame.attrs``. Malformed input raises ValueError naming the file, the field and the value.
"""

import json
import math
import os
from typing import Any, Mapping

import numpy as np
import pandas as pd

#: SSB status symbols that mean "no number here": not applicable, not available, not yet available,
#: confidential. SSB's "-" (nil) and flags such as "*" (preliminary) keep the value as given.
MISSING_STATUS = frozenset({".", "..", "...", ":"})


def _fail(name: str, field: str, value: Any, problem: str):
    shown = repr(value)
    if len(shown) > 120:
        shown = shown[:117] + "..."
    raise ValueError(f"{name}: field '{field}' = {shown}: {problem}")


def _load(source) -> tuple[dict, str]:
    if isinstance(source, Mapping):
        return dict(source), "<in-memory JSON-stat dataset>"
    name = os.fspath(source)
    try:
        with open(name, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise ValueError(f"{name}: not valid JSON ({err})") from err
    if not isinstance(data, dict):
        _fail(name, "<root>", type(data).__name__, "a JSON-stat dataset is a JSON object")
    return data, name


def _categories(name: str, dim_id: str, dim: Any, size: int) -> tuple[list[str], list[str]]:
    """Category codes in cube order and their labels for one dimension."""
    where = f"dimension.{dim_id}"
    if not isinstance(dim, Mapping):
        _fail(name, where, dim, "a dimension must be an object")
    category = dim.get("category")
    if not isinstance(category, Mapping):
        _fail(name, f"{where}.category", category, "every dimension needs a 'category' object")
    index = category.get("index")
    labels = category.get("label")
    if labels is not None and not isinstance(labels, Mapping):
        _fail(name, f"{where}.category.label", labels, "must be an object code -> label")
    if index is None:
        # allowed only for a single-category dimension: the code is the one key of 'label'
        if labels is None or len(labels) != 1:
            _fail(name, f"{where}.category.index", index, "missing (allowed only with exactly one category in 'label')")
        codes = [str(next(iter(labels)))]
    elif isinstance(index, list):
        codes = [str(c) for c in index]
    elif isinstance(index, Mapping):
        positions = list(index.values())
        if sorted(positions) != list(range(len(index))) or not all(type(p) is int for p in positions):
            _fail(name, f"{where}.category.index", dict(index), "positions must be the integers 0..n-1, each once")
        codes = [None] * len(index)
        for code, pos in index.items():
            codes[pos] = str(code)
    else:
        _fail(name, f"{where}.category.index", index, "must be an array of codes or an object code -> position")
    if len(set(codes)) != len(codes):
        _fail(name, f"{where}.category.index", codes, "category codes must be unique")
    if len(codes) != size:
        _fail(name, f"size[{dim_id}]", size, f"dimension '{dim_id}' has {len(codes)} categories")
    labels = dict(labels or {})
    unknown = sorted(set(labels) - set(codes))
    if unknown:
        _fail(name, f"{where}.category.label", unknown, "labels for codes that are not in category.index")
    return codes, [str(labels.get(c, c)) for c in codes]


def _cells(name: str, field: str, raw: Any, n: int, default, allow_scalar: bool) -> list:
    """Dense list of n cells from an array, a sparse object {"position": x} or (status) a string."""
    if raw is None:
        return [default] * n
    if allow_scalar and isinstance(raw, str):
        return [raw] * n
    if isinstance(raw, list):
        if len(raw) == n:
            return list(raw)
        if allow_scalar and len(raw) == 1:
            return raw * n
        _fail(name, field, f"array of {len(raw)} entries", f"expected {n} (the product of 'size')")
    if isinstance(raw, Mapping):
        cells = [default] * n
        for key, item in raw.items():
            try:
                pos = int(key)
            except (TypeError, ValueError):
                pos = -1
            if str(pos) != str(key) or not 0 <= pos < n:
                _fail(name, f"{field}[{key!r}]", item, f"sparse key is not a position 0..{n - 1}")
            cells[pos] = item
        return cells
    _fail(name, field, raw, "must be an array or an object {position: value}")


def _number(name: str, pos: int, item: Any) -> float:
    if item is None:
        return math.nan
    if isinstance(item, bool) or not isinstance(item, (int, float)):
        _fail(name, f"value[{pos}]", item, "values must be numbers or null")
    return float(item)


def read_jsonstat2(source: str | os.PathLike | Mapping) -> pd.DataFrame:
    """Read a JSON-stat 2.0 dataset (a file path or an already parsed dict) into a tidy DataFrame.

    Columns: ``<dim>`` (category code) and ``<dim>_label`` for each dimension in ``id`` order, then
    ``value`` (float, NaN where missing) and ``status`` (symbol, missing where none is given). Rows in cube order
    (row-major, last dimension fastest).
    """
    data, name = _load(source)
    if data.get("class") != "dataset":
        _fail(name, "class", data.get("class"), "expected 'dataset'")
    version = data.get("version")
    if not isinstance(version, str) or not version.startswith("2."):
        _fail(name, "version", version, "expected a JSON-stat 2.x version string such as '2.0'")
    dimension = data.get("dimension")
    if not isinstance(dimension, Mapping):
        _fail(name, "dimension", dimension, "a dataset needs a 'dimension' object")
    ids, sizes = data.get("id"), data.get("size")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(set(ids)) != len(ids):
        _fail(name, "id", ids, "must be an array of unique dimension names")
    if not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes):
        _fail(name, "size", sizes, "must be an array of non-negative integers")
    if len(ids) != len(sizes):
        _fail(name, "size", sizes, f"has {len(sizes)} entries but 'id' names {len(ids)} dimensions")
    for dim_id in ids:
        if dim_id in ("value", "status") or dim_id.endswith("_label"):
            _fail(name, "id", dim_id, "this dimension name would clash with an output column")
        if dim_id not in dimension:
            _fail(name, f"dimension.{dim_id}", None, "dimension named in 'id' is missing from 'dimension'")
    categories = [_categories(name, d, dimension[d], s) for d, s in zip(ids, sizes)]

    n = math.prod(sizes)
    if "value" not in data:
        _fail(name, "value", None, "a dataset needs a 'value' array or object")
    values = _cells(name, "value", data["value"], n, None, allow_scalar=False)
    numbers = np.array([_number(name, k, v) for k, v in enumerate(values)], dtype=float)
    status = _cells(name, "status", data.get("status"), n, None, allow_scalar=True)
    for k, s in enumerate(status):
        if s is not None and not isinstance(s, str):
            _fail(name, f"status[{k}]", s, "status symbols must be strings")
    status = [s or None for s in status]  # "" means no symbol
    missing = np.array([s in MISSING_STATUS for s in status], dtype=bool)
    numbers[missing] = np.nan

    positions = np.unravel_index(np.arange(n), sizes) if ids else ()
    columns: dict[str, Any] = {}
    for dim_id, (codes, labels), pos in zip(ids, categories, positions):
        columns[dim_id] = np.asarray(codes, dtype=object)[pos]
        columns[f"{dim_id}_label"] = np.asarray(labels, dtype=object)[pos]
    columns["value"] = numbers
    columns["status"] = np.asarray(status, dtype=object)
    frame = pd.DataFrame(columns)
    frame.attrs = {key: data[key] for key in ("label", "source", "updated", "role", "note") if key in data}
    return frame
