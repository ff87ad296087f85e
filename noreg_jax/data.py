"""The benchmark data set (a balanced 2018 SAM by county, industry and education) and its I/O.

This is the edge of the package: it reads the shipped CSV files (schema: docs/data_schema.md), checks
them, and returns a :class:`Benchmark`, a pytree of plain arrays with the set labels as static data.
Every problem in a file raises :class:`DataError` naming the file, the field and the value.
"""

from __future__ import annotations

import json
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pandas as pd

DEFAULT_DATA_DIR = Path(__file__).parent / "data" / "benchmark_2018"
MAPPINGS_DIR = Path(__file__).parent / "data" / "mappings"
MUNICIPALITIES = Path(__file__).parent / "data" / "zones" / "municipalities.csv"
MUNICIPAL_COMMUTING = Path(__file__).parent / "data" / "zones" / "commuting.csv"
#: Optional sub-county tables (``calibration.build_zones --employment/--education``; docs/model.md, Regional
#: divisions): employed persons by municipality and industry group (workplace), persons by municipality and
#: education group (residence), and the groups of the model's sectors and education groups in them.
ZONE_EMPLOYMENT = Path(__file__).parent / "data" / "zones" / "employment_by_industry.csv"
ZONE_EDUCATION = Path(__file__).parent / "data" / "zones" / "education_by_municipality.csv"
ZONE_GROUPS = Path(__file__).parent / "data" / "zones" / "groups.csv"
#: Weight of the part's share of all jobs (residents) in its share of each sector (education group) when a
#: sub-county table divides its county: 1 % keeps every sector active in every part (ASSUMED).
ZONE_FLOOR = 0.01
TRANSPORT = "TRANS"


class DataError(ValueError):
    """A data file is malformed, unbalanced or inconsistent. The message names file, field and value."""


@dataclass(frozen=True)
class Sets:
    """Labels of the model's dimensions, in the fixed order (region, sector, education)."""

    regions: tuple[str, ...]
    region_names: tuple[str, ...]
    sectors: tuple[str, ...]
    sector_names: tuple[str, ...]
    education: tuple[str, ...]
    energy: tuple[bool, ...]
    public: tuple[bool, ...]
    goods: tuple[bool, ...]
    members: tuple[tuple[str, ...], ...] = ()  # counties of each region (empty: each region is a county)
    member_shares: tuple[tuple[float, ...], ...] = ()  # each member county's residents in the region (empty: 1)
    education_names: tuple[str, ...] = ()  # names of the education groups (education.csv 'name'), in order

    def counties_of(self, n: int) -> tuple[str, ...]:
        """County codes that make up region n (itself, unless the data were aggregated or split)."""
        return self.members[n] if self.members else (self.regions[n],)

    def county_shares_of(self, n: int) -> tuple[float, ...]:
        """The share of each county of :meth:`counties_of` whose residents live in region n (1 unless it was split):
        the share of the county's population path the region gets (its production share may differ: a division by
        municipality divides production by jobs; docs/model.md, Regional divisions)."""
        return self.member_shares[n] if self.member_shares else (1.0,) * len(self.counties_of(n))

    def regions_of_counties(self, codes) -> tuple[str, ...]:
        """The model regions that make up exactly the counties or regions ``codes`` (in the order named).

        A model region is kept; counties are replaced by the regions holding them, which must hold nothing else
        (OSL, VIK -> OSVI in two_regions; TRO -> TRO1, TRO2 when Trøndelag was split in two). Raises
        DataError when the counties are part of a region, or a code is neither a region nor a county."""
        out = []
        counties = [c for c in codes if c not in self.regions]
        for code in codes:
            if code in self.regions:
                out.append(code)
                continue
            holders = [n for n in range(self.n_regions) if code in self.counties_of(n)]
            if not holders:
                raise DataError(f"region {code!r} is neither a region nor a county of this model; "
                                f"regions: {', '.join(self.regions)}")
            for n in holders:
                extra = [c for c in self.counties_of(n) if c not in counties]
                if extra:
                    raise DataError(f"county {code!r} lies in region {self.regions[n]!r} "
                                    f"({' + '.join(self.counties_of(n))}) of this division; name all of its "
                                    f"counties or the region")
                out.append(self.regions[n])
        return tuple(dict.fromkeys(out))

    def region_of(self, code: str) -> str:
        """The region that is, or holds, the region or county ``code`` (e.g. TRO -> REST in two_regions)."""
        if code in self.regions:
            return code
        holders = [self.regions[n] for n in range(self.n_regions) if code in self.counties_of(n)]
        if len(holders) > 1:
            raise DataError(f"county {code!r} is split into the regions {', '.join(holders)} of this division; "
                            "name one of them")
        if holders:
            return holders[0]
        raise DataError(f"region {code!r} is neither a region nor a county of this model; "
                        f"regions: {', '.join(self.regions)}")

    @property
    def n_regions(self) -> int:
        return len(self.regions)

    @property
    def n_sectors(self) -> int:
        return len(self.sectors)

    @property
    def n_education(self) -> int:
        return len(self.education)

    @property
    def transport(self) -> int:
        return self.sectors.index(TRANSPORT)

    def region(self, code: str) -> int:
        return _index(self.regions, code, "region")

    def sector(self, code: str) -> int:
        return _index(self.sectors, code, "sector")

    def educ(self, code: str) -> int:
        return _index(self.education, code, "education")


def _index(labels, code, what):
    try:
        return labels.index(code)
    except ValueError:
        raise KeyError(f"unknown {what} {code!r}; known: {', '.join(labels)}") from None


class Shelf(eqx.Module):
    """The continental shelf, a region without households (docs/model.md, "The continental shelf").

    Its accounts are national [j], [i, j], [j, e]; it is tied to the counties by ``host`` (the share of its
    workers who live in, and of its purchases made in, each county) and ``deliveries`` (its domestic sales by
    destination, which reach users beside imports, at world prices). NOK million, persons in thousands.
    """

    output: jnp.ndarray  # [j] gross output at basic prices (extraction in PETRO, pipeline transport in TRANS)
    exports: jnp.ndarray  # [j]
    capital: jnp.ndarray  # [j] gross operating surplus (the resource rent)
    production_tax: jnp.ndarray  # [j]
    intermediate_tax: jnp.ndarray  # [j]
    intermediate: jnp.ndarray  # [i, j] Armington composite i bought in the host counties
    compensation: jnp.ndarray  # [j, e]
    persons: jnp.ndarray  # [j, e] employed persons, thousand
    host: jnp.ndarray  # [r] sums to 1
    deliveries: jnp.ndarray  # [r, i] domestic sales by destination region


class Benchmark(eqx.Module):
    """The balanced benchmark flows, NOK million at 2018 prices (persons in thousands).

    Index names: r, s = region (s origin), j = producing sector, i = good, e = education group.
    """

    sets: Sets = eqx.field(static=True)
    output: jnp.ndarray  # [r, j] gross output at basic prices incl. delivery margins
    capital: jnp.ndarray  # [r, j] gross operating surplus
    production_tax: jnp.ndarray  # [r, j] other net taxes on production
    intermediate_tax: jnp.ndarray  # [r, j] product taxes on intermediate purchases
    delivery_margin: jnp.ndarray  # [r, j] transport bought to deliver to domestic customers
    exports: jnp.ndarray  # [r, j] exports abroad
    compensation: jnp.ndarray  # [r, j, e]
    persons: jnp.ndarray  # [r, j, e] employed persons, thousand
    intermediate: jnp.ndarray  # [r, i, j] Armington composite i used by sector j
    government: jnp.ndarray  # [r, i]
    investment: jnp.ndarray  # [r, i]
    inventories: jnp.ndarray  # [r, i] (may be negative)
    consumption: jnp.ndarray  # [r, e, i] household consumption
    population: jnp.ndarray  # [r, e] thousand persons
    labour_force: jnp.ndarray  # [r, e] thousand employed persons living in r
    wage_income: jnp.ndarray  # [r, e] pay of the residents of r, wherever they work
    commuting: jnp.ndarray  # [r, w, e] pay of the residents of r who work in w (Σ_w = wage_income)
    commuting_persons: jnp.ndarray  # [r, w, e] thousand employed persons living in r and working in w
    capital_income: jnp.ndarray  # [r, e]
    transfers: jnp.ndarray  # [r, e]
    income_tax: jnp.ndarray  # [r, e]
    savings: jnp.ndarray  # [r, e]
    imports: jnp.ndarray  # [r, i]
    trade: jnp.ndarray  # [s, r, i] shipments at the producer's price (excl. delivery margin)
    margin: jnp.ndarray  # [s, r, i] delivery margin of those shipments
    distance: jnp.ndarray  # [s, r] km
    government_capital_income: jnp.ndarray  # scalar
    retained_earnings: jnp.ndarray  # scalar
    government_savings: jnp.ndarray  # scalar
    foreign_savings: jnp.ndarray  # scalar
    shelf: Shelf


# ----------------------------------------------------------------------------------------------
# reading


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"{path}: file is missing")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # pandas parser errors
        raise DataError(f"{path}: cannot be parsed as CSV ({exc})") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(f"{path}: field(s) {missing} missing; found columns {list(df.columns)}")
    return df


def _numeric(df: pd.DataFrame, path: Path, field: str, allow_negative: bool = False) -> np.ndarray:
    raw = df[field]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        k = int(np.argmax(bad))
        raise DataError(f"{path}: field '{field}' has a non-numeric or NaN value {raw.iloc[k]!r} (row {k + 2})")
    if not allow_negative and (values < 0).any():
        k = int(np.argmin(values))
        raise DataError(f"{path}: field '{field}' has a negative value {values[k]!r} (row {k + 2})")
    return values


def _codes(df: pd.DataFrame, path: Path, field: str, labels: tuple[str, ...], what: str) -> np.ndarray:
    lookup = {c: n for n, c in enumerate(labels)}
    out = np.empty(len(df), dtype=int)
    for k, code in enumerate(df[field]):
        if code not in lookup:
            raise DataError(f"{path}: field '{field}' has an unknown {what} {code!r} (row {k + 2})")
        out[k] = lookup[code]
    return out


def _flag(df, path, field):
    values = _numeric(df, path, field)
    if not np.isin(values, (0.0, 1.0)).all():
        raise DataError(f"{path}: field '{field}' must be 0 or 1, found {values[~np.isin(values, (0, 1))][0]!r}")
    return tuple(bool(v) for v in values)


def _table(path: Path, keys: list[tuple[str, tuple[str, ...], str]], fields: list[str], shape, allow_negative=()):
    """Read a tidy table into dense arrays of ``shape`` (missing rows are zero)."""
    df = _read_csv(path, [k for k, _, _ in keys] + fields)
    idx = tuple(_codes(df, path, k, labels, what) for k, labels, what in keys)
    flat = np.ravel_multi_index(idx, shape) if idx else np.zeros(0, int)
    if len(np.unique(flat)) != len(flat):
        dup = pd.Series(flat).duplicated()
        k = int(np.argmax(dup.to_numpy()))
        raise DataError(f"{path}: duplicate key {tuple(df.iloc[k][[k_ for k_, _, _ in keys]])} (row {k + 2})")
    out = {}
    for field in fields:
        arr = np.zeros(shape)
        arr[idx] = _numeric(df, path, field, allow_negative=field in allow_negative)
        out[field] = arr
    return out


def load_sets(data_dir: Path | str = DEFAULT_DATA_DIR) -> Sets:
    data_dir = Path(data_dir)
    reg = _read_csv(data_dir / "regions.csv", ["code", "name"])
    sec = _read_csv(data_dir / "sectors.csv", ["code", "name", "energy", "public", "goods"])
    edu = _read_csv(data_dir / "education.csv", ["code", "name"])
    for df, name in ((reg, "regions.csv"), (sec, "sectors.csv"), (edu, "education.csv")):
        dup = df["code"].duplicated()
        if dup.any():
            raise DataError(f"{data_dir / name}: field 'code' has a duplicate value {df['code'][dup].iloc[0]!r}")
    sp = data_dir / "sectors.csv"
    sets = Sets(
        regions=tuple(reg["code"]),
        region_names=tuple(reg["name"]),
        sectors=tuple(sec["code"]),
        sector_names=tuple(sec["name"]),
        education=tuple(edu["code"]),
        energy=_flag(sec, sp, "energy"),
        public=_flag(sec, sp, "public"),
        goods=_flag(sec, sp, "goods"),
        education_names=tuple(edu["name"]),
    )
    if TRANSPORT not in sets.sectors:
        raise DataError(f"{sp}: field 'code' must contain the transport sector {TRANSPORT!r}")
    return sets


def load_benchmark(data_dir: Path | str = DEFAULT_DATA_DIR, check: bool = True, tol: float = 1e-7) -> Benchmark:
    """Read and check the benchmark SAM in ``data_dir`` (docs/data_schema.md).

    ``tol`` is the relative tolerance of the accounting identities (the shipped data hold them to 1e-9).
    """
    d = Path(data_dir)
    sets = load_sets(d)
    R, J, E = sets.n_regions, sets.n_sectors, sets.n_education
    reg = ("region", sets.regions, "region")
    sec = ("sector", sets.sectors, "sector")
    good = ("good", sets.sectors, "good")
    edu = ("education", sets.education, "education group")

    sa = _table(
        d / "sector_accounts.csv",
        [reg, sec],
        ["capital", "production_tax", "intermediate_tax", "delivery_margin", "exports", "output"],
        (R, J),
        allow_negative=("production_tax", "intermediate_tax"),
    )
    lab = _table(d / "labour.csv", [reg, sec, edu], ["compensation", "persons"], (R, J, E))
    inter = _table(d / "intermediate.csv", [reg, good, sec], ["value"], (R, J, J))
    fd = _table(d / "final_demand.csv", [reg, good], ["government", "investment", "inventories"], (R, J),
                allow_negative=("inventories",))
    hc = _table(d / "household_consumption.csv", [reg, edu, good], ["value"], (R, E, J))
    hh = _table(
        d / "households.csv",
        [reg, edu],
        ["population", "labour_force", "wage_income", "capital_income", "transfers", "income_tax", "savings"],
        (R, E),
        allow_negative=("savings",),
    )
    imp = _table(d / "imports.csv", [reg, good], ["value"], (R, J))
    com = _table(d / "commuting.csv", [("residence", sets.regions, "region"), ("workplace", sets.regions, "region"),
                                        edu], ["value", "persons"], (R, R, E))
    origin = ("origin", sets.regions, "region")
    dest = ("destination", sets.regions, "region")
    tr = _table(d / "trade.csv", [origin, dest, good], ["value", "margin"], (R, R, J))
    dist = _table(d / "distance.csv", [origin, dest], ["km"], (R, R))
    nat_path = d / "national.csv"
    nat_df = _read_csv(nat_path, ["item", "value"])
    nat_vals = dict(zip(nat_df["item"], _numeric(nat_df, nat_path, "value", allow_negative=True)))
    items = ["government_capital_income", "retained_earnings", "government_savings", "foreign_savings"]
    for item in items:
        if item not in nat_vals:
            raise DataError(f"{nat_path}: field 'item' lacks the row {item!r}")
    shelf = _read_shelf(d, sets, reg, sec, good, edu)
    bench = Benchmark(
        sets=sets,
        output=sa["output"], capital=sa["capital"], production_tax=sa["production_tax"],
        intermediate_tax=sa["intermediate_tax"], delivery_margin=sa["delivery_margin"], exports=sa["exports"],
        compensation=lab["compensation"], persons=lab["persons"], intermediate=inter["value"],
        government=fd["government"], investment=fd["investment"], inventories=fd["inventories"],
        consumption=hc["value"], population=hh["population"], labour_force=hh["labour_force"],
        wage_income=hh["wage_income"], capital_income=hh["capital_income"], transfers=hh["transfers"],
        income_tax=hh["income_tax"], savings=hh["savings"], commuting=com["value"],
        commuting_persons=com["persons"], imports=imp["value"], trade=tr["value"],
        margin=tr["margin"], distance=dist["km"],
        **{k: np.asarray(nat_vals[k]) for k in items}, shelf=shelf,
    )
    if check:
        check_benchmark(bench, d, tol)
    return jax_arrays(bench)


def _read_shelf(d: Path, sets: Sets, reg, sec, good, edu) -> Shelf:
    """The continental shelf's five files (docs/data_schema.md)."""
    J, E, R = sets.n_sectors, sets.n_education, sets.n_regions
    acc = _table(d / "shelf_accounts.csv", [sec],
                 ["capital", "production_tax", "intermediate_tax", "exports", "output"], (J,),
                 allow_negative=("production_tax", "intermediate_tax"))
    lab = _table(d / "shelf_labour.csv", [sec, edu], ["compensation", "persons"], (J, E))
    inter = _table(d / "shelf_intermediate.csv", [good, sec], ["value"], (J, J))
    host = _table(d / "shelf_regions.csv", [reg], ["host_share"], (R,))["host_share"]
    if abs(host.sum() - 1.0) > 1e-9:
        raise DataError(f"{d / 'shelf_regions.csv'}: field 'host_share' sums to {host.sum()!r}, not 1")
    deliveries = _table(d / "shelf_deliveries.csv", [reg, good], ["value"], (R, J))["value"]
    return Shelf(output=acc["output"], exports=acc["exports"], capital=acc["capital"],
                 production_tax=acc["production_tax"], intermediate_tax=acc["intermediate_tax"],
                 intermediate=inter["value"], compensation=lab["compensation"], persons=lab["persons"],
                 host=host, deliveries=deliveries)


def jax_arrays(bench: Benchmark) -> Benchmark:
    """The same benchmark with every array as a float64 jax array."""
    import jax

    return jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype=jnp.float64), bench)


# ----------------------------------------------------------------------------------------------
# checks


def accounting_identities(b: Benchmark) -> dict[str, tuple]:
    """The SAM identities (docs/data_schema.md) as name -> (file, field, left side, right side, size)."""
    t = b.sets.transport
    val = lambda a: np.asarray(a, dtype=float)
    sh = b.shelf
    host = val(sh.host)[:, None]
    shelf_output = val(sh.output)
    shelf_inputs = val(sh.intermediate).sum(axis=0) + val(sh.intermediate_tax) + val(sh.compensation).sum(axis=1) \
        + val(sh.capital) + val(sh.production_tax)
    shelf_sales = val(sh.deliveries).sum(axis=0) + val(sh.exports)
    comp = val(b.compensation).sum(axis=2)
    inputs = val(b.intermediate).sum(axis=1) + val(b.intermediate_tax) + comp + val(b.capital) \
        + val(b.production_tax) + val(b.delivery_margin)
    output = val(b.output)
    deliveries = val(b.trade).sum(axis=1) + val(b.delivery_margin) + val(b.exports)
    supply = (val(b.trade) + val(b.margin)).sum(axis=0) + val(b.imports) + val(sh.deliveries)
    use = val(b.intermediate).sum(axis=2) + host * val(sh.intermediate).sum(axis=1)[None, :] \
        + val(b.consumption).sum(axis=1) + val(b.government) + val(b.investment) + val(b.inventories)
    use[:, t] += val(b.delivery_margin).sum(axis=1)
    hh_in = val(b.wage_income) + val(b.capital_income) + val(b.transfers)
    hh_out = val(b.income_tax) + val(b.consumption).sum(axis=2) + val(b.savings)
    gov_in = val(b.production_tax).sum() + val(b.intermediate_tax).sum() + val(b.income_tax).sum() \
        + float(b.government_capital_income) + val(sh.production_tax).sum() + val(sh.intermediate_tax).sum()
    gov_out = val(b.government).sum() + val(b.transfers).sum() + float(b.government_savings)
    capital = val(b.capital).sum() + val(sh.capital).sum()
    cap_out = val(b.capital_income).sum() + float(b.government_capital_income) + float(b.retained_earnings)
    sav = val(b.savings).sum() + float(b.government_savings) + float(b.retained_earnings) + float(b.foreign_savings)
    inv = val(b.investment).sum() + val(b.inventories).sum()
    imports = val(b.imports).sum()
    exports = val(b.exports).sum() + val(sh.exports).sum()
    hosted_wages = host * val(sh.compensation).sum(axis=0)[None, :]
    hosted_persons = host * val(sh.persons).sum(axis=0)[None, :]
    return {
        "sector costs = output": ("sector_accounts.csv", "output", output, inputs, output),
        "sector deliveries + exports = output": ("sector_accounts.csv", "output", output, deliveries, output),
        "shelf costs = output": ("shelf_accounts.csv", "output", shelf_output, shelf_inputs,
                                 np.maximum(shelf_output, 1.0)),
        "shelf deliveries + exports = output": ("shelf_accounts.csv", "output", shelf_output, shelf_sales,
                                                np.maximum(shelf_output, 1.0)),
        "delivery margin = sum of shipment margins": ("sector_accounts.csv", "delivery_margin",
                                                      val(b.delivery_margin), val(b.margin).sum(axis=1),
                                                      np.maximum(output, 1.0)),
        "composite supply = use": ("imports.csv / trade.csv", "value", supply, use, np.maximum(use, 1.0)),
        "household wages = pay by workplace of the residents": ("households.csv", "wage_income",
                                                                val(b.wage_income), val(b.commuting).sum(axis=1),
                                                                val(b.wage_income)),
        "household employed = residents by workplace": ("households.csv", "labour_force", val(b.labour_force),
                                                        val(b.commuting_persons).sum(axis=1), val(b.labour_force)),
        "household (workplace) compensation = pay of the commuters in": (
            "commuting.csv", "value (sum over residences)", val(b.commuting).sum(axis=0),
            val(b.compensation).sum(axis=1) + hosted_wages, val(b.compensation).sum(axis=1) + hosted_wages),
        "household (workplace) jobs = employed residents commuting in": (
            "commuting.csv", "persons (sum over residences)", val(b.commuting_persons).sum(axis=0),
            val(b.persons).sum(axis=1) + hosted_persons, val(b.persons).sum(axis=1) + hosted_persons),
        "household income = spending": ("households.csv", "income (wage + capital + transfers)", hh_in, hh_out,
                                        hh_in),
        "capital income distributed": ("sector_accounts.csv", "capital (total)", capital, cap_out, capital),
        "government budget": ("national.csv", "government revenue", gov_in, gov_out, gov_in),
        "savings = investment": ("national.csv", "savings (total)", sav, inv, inv),
        "foreign balance": ("national.csv", "foreign_savings", float(b.foreign_savings),
                            imports - exports, imports),
    }


def accounting_gaps(b: Benchmark) -> dict[str, np.ndarray]:
    """Gaps of the SAM identities, each relative to the size of its account."""
    return {name: np.abs(lhs - rhs) / np.maximum(np.abs(size), 1e-300)
            for name, (_, _, lhs, rhs, size) in accounting_identities(b).items()}


def check_benchmark(b: Benchmark, where: Path | str = "benchmark", tol: float = 1e-7) -> None:
    """Raise :class:`DataError` if the SAM is unbalanced or lacks what the model needs (interior solution)."""
    s = b.sets
    for name, (file, field, lhs, rhs, size) in accounting_identities(b).items():
        gap = np.atleast_1d(np.abs(lhs - rhs) / np.maximum(np.abs(size), 1e-300))
        if gap.max() > tol:
            k = np.unravel_index(int(np.argmax(gap)), np.shape(gap))
            left, right = np.atleast_1d(lhs)[k], np.atleast_1d(rhs)[k]
            raise DataError(f"{where}/{file}: unbalanced data: field '{field}' = {left:.10g} but the identity "
                            f"'{name}' needs {right:.10g} at {_label(s, name, k)} (relative gap {gap.max():.3g}; "
                            f"tolerance {tol:g})")
    positive = {
        "sector_accounts.csv:output": b.output,
        "sector_accounts.csv:capital": b.capital,
        "labour.csv:compensation (sum over education)": np.asarray(b.compensation).sum(axis=2),
        "households.csv:population": b.population,
        "households.csv:labour_force": b.labour_force,
        "households.csv:wage_income": b.wage_income,
    }
    for name, arr in positive.items():
        arr = np.asarray(arr)
        if (arr <= 0).any():
            k = np.unravel_index(int(np.argmin(arr)), arr.shape)
            raise DataError(f"{where}/{name}: every entry must be > 0 (all sectors active), found {arr[k]!r} at "
                            f"{_coords(s, k)}")
    dom = np.asarray(b.trade).sum(axis=1)
    if (dom <= 0).any():
        k = np.unravel_index(int(np.argmin(dom)), dom.shape)
        raise DataError(f"{where}/trade.csv: field 'value': sector {s.sectors[k[1]]} in {s.regions[k[0]]} "
                        f"delivers nothing to the domestic market (value {dom[k]!r}); the model needs > 0")
    nong = ~np.asarray(s.goods)
    if np.asarray(b.margin)[:, :, nong].any():
        raise DataError(f"{where}/trade.csv: field 'margin' must be 0 for services (only goods carry margins)")


def _coords(s: Sets, k):
    if len(k) == 2:
        return f"(region {s.regions[k[0]]}, sector {s.sectors[k[1]]})" if len(s.sectors) > 0 else str(k)
    return str(k)


def _label(s: Sets, name, k):
    if len(k) == 1 and name.startswith("shelf"):
        return f"sector {s.sectors[k[0]]}"
    if len(k) == 2 and name.startswith(("sector", "composite")):
        return f"region {s.regions[k[0]]}, {'sector' if name.startswith('sector') else 'good'} {s.sectors[k[1]]}"
    if len(k) == 2 and name.startswith("household (workplace)"):
        return f"workplace {s.regions[k[0]]}, education {s.education[k[1]]}"
    if len(k) == 2 and name.startswith("household"):
        return f"region {s.regions[k[0]]}, education {s.education[k[1]]}"
    return "national total" if len(k) <= 1 else str(k)


# ----------------------------------------------------------------------------------------------
# aggregation


def read_region_mapping(path: Path | str, sets: Sets) -> dict[str, dict[str, float]]:
    """Read a division of the regions (columns ``region``, ``group``, optional ``share``): region -> {group: share}.

    Without ``share`` every region lies in one group (an aggregation, e.g. landsdeler). With it a region may be
    split among several groups, its rows' shares (> 0) summing to 1 (``noreg_jax/data/mappings/README.md``)."""
    path = _resolve_mapping_path(path)
    df = _read_csv(path, ["region", "group"])
    _codes(df, path, "region", sets.regions, "region")
    missing = sorted(set(sets.regions) - set(df["region"]))
    if missing:
        raise DataError(f"{path}: field 'region' lacks the region(s) {missing}")
    has_share = "share" in df.columns
    pairs = df["region"] + "\0" + df["group"]
    repeated = (pairs if has_share else df["region"]).duplicated()
    if repeated.any():
        k = int(np.argmax(repeated.to_numpy()))
        what = f"region {df['region'].iloc[k]!r} in group {df['group'].iloc[k]!r}" if has_share else repr(df['region'].iloc[k])
        raise DataError(f"{path}: field 'region' has a duplicate value {what} (row {k + 2})")
    blank = df["group"].str.strip() == ""
    if blank.any():
        k = int(np.argmax(blank.to_numpy()))
        raise DataError(f"{path}: field 'group' is empty for region {df['region'].iloc[k]!r} (row {k + 2})")
    if df["group"].nunique() < 2:
        raise DataError(f"{path}: field 'group' has one value {df['group'].iloc[0]!r} for every region; a division "
                        "needs at least two regions (migration compares each region with the others)")
    shares = _numeric(df, path, "share") if has_share else np.ones(len(df))
    if not (shares > 0).all():
        k = int(np.argmax(~(shares > 0)))
        raise DataError(f"{path}: field 'share' must be > 0, found {df['share'].iloc[k]!r} for region "
                        f"{df['region'].iloc[k]!r} (row {k + 2})")
    out: dict[str, dict[str, float]] = {}
    for r, g, v in zip(df["region"], df["group"], shares):
        out.setdefault(r, {})[g] = float(v)
    for r, parts in out.items():
        if abs(sum(parts.values()) - 1.0) > 1e-9:
            raise DataError(f"{path}: field 'share' of region {r!r} sums to {sum(parts.values())!r}, not 1")
    return out


def _resolve_mapping_path(path: Path | str) -> Path:
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = MAPPINGS_DIR / path
    return path


def is_municipality_division(path: Path | str) -> bool:
    """Whether a mapping file is a division built from municipalities (it has a ``municipality`` column)."""
    path = _resolve_mapping_path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            header = fh.readline()
    except (OSError, UnicodeDecodeError, ValueError):  # ValueError: a NUL in the path (found by the fuzzer)
        return False  # read_region_mapping names the problem
    return "municipality" in [c.strip() for c in header.split(",")]


def load_municipalities() -> pd.DataFrame:
    """The municipalities of 1 January 2020 (``noreg_jax/data/zones/municipalities.csv``, README there): code,
    name, model county, economic region, employed persons by workplace and residence (SSB 11618, 2020)."""
    df = _read_csv(MUNICIPALITIES, ["municipality", "county", "employed_workplace", "population_15_74"])
    for field in ("employed_workplace", "population_15_74"):
        df[field] = _numeric(df, MUNICIPALITIES, field)
    return df


def load_municipal_commuting(known: pd.DataFrame) -> pd.DataFrame:
    """Employed persons by municipality of residence and of work (``noreg_jax/data/zones/commuting.csv``, SSB 03321,
    2020): columns residence, workplace, employed_persons; its workplace sums are ``employed_workplace``."""
    df = _read_csv(MUNICIPAL_COMMUTING, ["residence", "workplace", "employed_persons"])
    df["employed_persons"] = _numeric(df, MUNICIPAL_COMMUTING, "employed_persons")
    for field in ("residence", "workplace"):
        unknown = ~df[field].isin(known["municipality"])
        if unknown.any():
            k = int(np.argmax(unknown.to_numpy()))
            raise DataError(f"{MUNICIPAL_COMMUTING}: field {field!r} has an unknown municipality "
                            f"{df[field].iloc[k]!r} (row {k + 2})")
    at_work = df.groupby("workplace")["employed_persons"].sum().reindex(known["municipality"], fill_value=0.0)
    gap = np.abs(at_work.to_numpy() - known["employed_workplace"].to_numpy())
    if gap.max() > 0.5:
        k = int(np.argmax(gap))
        raise DataError(f"{MUNICIPAL_COMMUTING}: field 'employed_persons' sums to {at_work.iloc[k]:g} for the "
                        f"workplace {known['municipality'].iloc[k]!r}, but {MUNICIPALITIES.name} has "
                        f"{known['employed_workplace'].iloc[k]:g} employed there")
    return df


def read_municipality_division(path: Path | str, sets: Sets) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Read a division built from municipalities (columns ``municipality``, ``region``, optional ``region_name``).

    Every municipality of 2020 lies in exactly one region. Returns (county -> {region: share}, region -> name):
    a county's share in a region is the region's part of the county's employed persons by workplace (SSB 11618,
    2020): production is divided by jobs, households by residence and commuting by SSB 03321
    (:func:`municipal_parts`; docs/model.md, Regional divisions); county and national totals are kept exactly."""
    df, names, known = _read_municipal_assignment(path, sets)
    county_of = dict(zip(known["municipality"], known["county"]))
    jobs = dict(zip(known["municipality"], known["employed_workplace"]))
    weight: dict[str, dict[str, float]] = {c: {} for c in sets.regions}
    for m, g in zip(df["municipality"], df["region"]):
        parts = weight[county_of[m]]
        parts[g] = parts.get(g, 0.0) + float(jobs[m])
    mapping = {}
    for c, parts in weight.items():
        total = sum(parts.values())
        mapping[c] = {g: v / total for g, v in sorted(parts.items())}
    counties = tuple(dict.fromkeys(known["county"]))
    for g in dict.fromkeys(df["region"]):
        whole = [c for c, parts in mapping.items() if parts.get(g) == 1.0]
        if g in counties and whole != [g]:
            raise DataError(f"{_resolve_mapping_path(path)}: field 'region' uses the county code {g!r} for a region "
                            "that is not the whole of that county and nothing else; a scenario naming "
                            f"{g!r} would mean the county: choose another code")
    return mapping, names


def _read_municipal_assignment(path: Path | str, sets: Sets) -> tuple[pd.DataFrame, dict[str, str], pd.DataFrame]:
    """The validated rows (municipality, region) of a division file, its region names and the municipality table."""
    path = _resolve_mapping_path(path)
    df = _read_csv(path, ["municipality", "region"])
    known = load_municipalities()
    counties = tuple(dict.fromkeys(known["county"]))
    if sets.members or set(sets.regions) != set(counties):
        raise DataError(f"{path}: a division by municipality divides the 11 counties; this benchmark's regions are "
                        f"{', '.join(sets.regions)}")
    county_of = dict(zip(known["municipality"], known["county"]))
    for k, code in enumerate(df["municipality"]):
        if code not in county_of:
            hint = " (codes have four digits, e.g. '0301' for Oslo)" if code.isdigit() and len(code) < 4 else ""
            raise DataError(f"{path}: field 'municipality' has an unknown municipality {code!r} (row {k + 2}); "
                            f"the codes are those of 1 January 2020{hint}")
    repeated = df["municipality"].duplicated()
    if repeated.any():
        k = int(np.argmax(repeated.to_numpy()))
        raise DataError(f"{path}: field 'municipality' has {df['municipality'].iloc[k]!r} twice (row {k + 2})")
    present = set(df["municipality"])
    missing = [m for m in known["municipality"] if m not in present]
    if missing:
        raise DataError(f"{path}: field 'municipality' lacks {len(missing)} of the 356 municipalities, e.g. "
                        f"{missing[:5]} (every municipality must lie in one region)")
    blank = df["region"].str.strip() == ""
    if blank.any():
        k = int(np.argmax(blank.to_numpy()))
        raise DataError(f"{path}: field 'region' is empty for municipality {df['municipality'].iloc[k]!r} "
                        f"(row {k + 2})")
    if df["region"].nunique() < 2:
        raise DataError(f"{path}: field 'region' has one value {df['region'].iloc[0]!r} for every municipality; a "
                        "division needs at least two regions (migration compares each region with the others)")
    names: dict[str, str] = {}
    if "region_name" in df.columns:
        for k, (g, name) in enumerate(zip(df["region"], df["region_name"])):
            if names.setdefault(g, name) != name:
                raise DataError(f"{path}: field 'region_name' of region {g!r} is {names[g]!r} and {name!r} "
                                f"(row {k + 2}); one name a region")
    return df, names, known


def municipality_regions(path: Path | str, sets: Sets) -> dict[str, str] | None:
    """Municipality code -> region code of a division built from municipalities (for maps), None for other
    mapping files."""
    if not is_municipality_division(path):
        return None
    df, _, _ = _read_municipal_assignment(path, sets)
    return dict(zip(df["municipality"], df["region"]))


@dataclass(frozen=True)
class MunicipalParts:
    """A division by municipality cut at the county borders: each *cell* is the part of one county in one region.

    ``cells``: (county, region) in order; ``jobs``, ``population``: the cell's share of its county's employed
    persons by workplace and of its residents 15-74 (SSB 11618, 2020); ``flows``: employed persons living in cell a
    and working in cell b (SSB 03321, 2020)."""

    cells: tuple[tuple[str, str], ...]
    jobs: np.ndarray
    population: np.ndarray
    flows: np.ndarray
    sectors: np.ndarray | None = None  # [cell, j] the cell's share of its county's sector j (None: ``jobs``)
    educations: np.ndarray | None = None  # [cell, e] its share of the county's residents of group e (None: population)
    from_data: dict = dataclasses.field(default_factory=dict)  # kind -> counties split by a sub-county table (others SYNTHESISED)


def _zone_table(path: Path, kind: str, value: str, groups: dict[str, str], known: pd.DataFrame) -> pd.DataFrame | None:
    """An optional sub-county table (municipality, group, value): None when absent; checked against the municipalities
    of 2020 and the groups of ``groups.csv``."""
    if not path.exists():
        return None
    df = _read_csv(path, ["municipality", "group", value])
    df[value] = _numeric(df, path, value)
    for field, allowed in (("municipality", set(known["municipality"])), ("group", set(groups.values()))):
        bad = ~df[field].isin(allowed)
        if bad.any():
            k = int(np.argmax(bad.to_numpy()))
            raise DataError(f"{path}: field {field!r} has {df[field].iloc[k]!r} (row {k + 2}), not one of the "
                            f"{'municipalities of 2020' if field == 'municipality' else kind + ' groups of ' + ZONE_GROUPS.name}")
    if df.duplicated(["municipality", "group"]).any():
        k = int(np.argmax(df.duplicated(["municipality", "group"]).to_numpy()))
        raise DataError(f"{path}: municipality {df['municipality'].iloc[k]!r} and group {df['group'].iloc[k]!r} "
                        f"appear twice (row {k + 2})")
    return df


def _zone_groups(sets: Sets) -> dict[str, dict[str, str]]:
    """kind ('sector', 'education') -> {model code: group} from ``groups.csv`` (every model code in one group)."""
    df = _read_csv(ZONE_GROUPS, ["kind", "code", "group"])
    out = {}
    for kind, codes in (("sector", sets.sectors), ("education", sets.education)):
        rows = df[df["kind"] == kind]
        mapping = dict(zip(rows["code"], rows["group"]))
        missing = [c for c in codes if c not in mapping]
        if missing or set(mapping) - set(codes):
            raise DataError(f"{ZONE_GROUPS}: field 'code' of kind {kind!r} must list every model code once: "
                            f"missing {missing}, unknown {sorted(set(mapping) - set(codes))}")
        out[kind] = mapping
    return out


def _shares_from_table(table: pd.DataFrame, value: str, size: str, cell_of: dict, cells: tuple, known: pd.DataFrame,
                       county_mix: np.ndarray, groups: list[str], sets: Sets) -> tuple[np.ndarray, list[str]]:
    """[cell, group] shares of each county's total of a group from a sub-county table, and the counties it covers.

    Each listed municipality keeps the table's mix at its own size in SSB 11618 (``size``). A county whose every
    municipality is in the table is divided by the table alone. In a county it covers in part,
    the municipalities outside it get the county's estimated remainder: the county's total of each group (its
    benchmark mix ``county_mix[c, group]`` times its municipalities' ``size``, SSB 11618) less the table's values,
    spread over them by ``size`` (SYNTHESISED). A county it does not cover is divided by ``size`` alone."""
    index = {c: k for k, c in enumerate(cells)}
    g_index = {g: k for k, g in enumerate(groups)}
    data = np.zeros((len(known), len(groups)))
    row = {m: k for k, m in enumerate(known["municipality"])}
    for m, g, v in zip(table["municipality"], table["group"], table[value]):
        data[row[m], g_index[g]] = v
    covered = np.zeros(len(known), dtype=bool)
    covered[[row[m] for m in set(table["municipality"])]] = True
    weight = known[size].to_numpy(dtype=float)
    # the table gives each municipality's mix; its size is SSB 11618's (jobs, or residents 15-74), the basis of the
    # municipalities outside the table (09429 counts persons 16+ of every age)
    listed = data[covered].sum(axis=1)
    if (listed <= 0).any():
        m = known["municipality"].to_numpy()[covered][int(np.argmin(listed))]
        raise DataError(f"{table.attrs.get('path', 'sub-county table')}: municipality {m!r} has no {value} in any group")
    data[covered] *= (weight[covered] / listed)[:, None]
    county = known["county"].map(sets.regions.index).to_numpy()
    by_group = np.zeros((len(cells), len(groups)))
    used = []
    for c in range(sets.n_regions):
        here = county == c
        if not covered[here].any():
            by_group_c = weight[here, None] * np.ones(len(groups))[None]
        else:
            used.append(sets.regions[c])
            rest = here & ~covered
            by_group_c = data[here].copy()
            if rest.any():
                estimate = county_mix[c] * weight[here].sum()
                remainder = np.maximum(estimate - data[here & covered].sum(axis=0), 0.0)
                if remainder.sum() <= 0:
                    raise DataError(f"{table.attrs.get('path', 'sub-county table')}: the municipalities it lists in "
                                    f"{sets.regions[c]} hold the whole county; list all of them or fewer")
                remainder *= weight[rest].sum() / remainder.sum()
                by_group_c[~covered[here]] = weight[rest, None] / weight[rest].sum() * remainder[None]
        for k, m in enumerate(known["municipality"][here]):
            by_group[index[cell_of[m]]] += by_group_c[k]
    cell_county = np.array([sets.regions.index(c) for c, _ in cells])
    totals = np.zeros((sets.n_regions, len(groups)))
    np.add.at(totals, cell_county, by_group)
    if (totals <= 0).any():
        c, g = np.argwhere(totals <= 0)[0]
        raise DataError(f"sub-county table: group {groups[g]!r} has no {value.replace('_', ' ')} in county "
                        f"{sets.regions[c]}")
    return by_group / totals[cell_county], used


def municipal_parts(path: Path | str, sets: Sets, b: Benchmark | None = None) -> MunicipalParts:
    """The cells of a division by municipality (:class:`MunicipalParts`; docs/model.md, Regional divisions); with the
    county benchmark ``b`` and the optional sub-county tables, each cell's share of every sector and education group."""
    df, _, known = _read_municipal_assignment(path, sets)
    table = known.set_index("municipality")
    cell_of = {m: (table.at[m, "county"], g) for m, g in zip(df["municipality"], df["region"])}
    cells = tuple(sorted(set(cell_of.values()), key=lambda cg: (sets.regions.index(cg[0]), cg[1])))
    index = {c: k for k, c in enumerate(cells)}
    jobs, population = np.zeros(len(cells)), np.zeros(len(cells))
    for m, cell in cell_of.items():
        jobs[index[cell]] += table.at[m, "employed_workplace"]
        population[index[cell]] += table.at[m, "population_15_74"]
    county = np.array([sets.regions.index(c) for c, _ in cells])
    for share in (jobs, population):
        totals = np.bincount(county, weights=share, minlength=sets.n_regions)
        share /= totals[county]
    flows = np.zeros((len(cells), len(cells)))
    commuting = load_municipal_commuting(known)
    np.add.at(flows, (commuting["residence"].map(lambda m: index[cell_of[m]]).to_numpy(),
                      commuting["workplace"].map(lambda m: index[cell_of[m]]).to_numpy()),
              commuting["employed_persons"].to_numpy())
    sectors = educations = None
    from_data = {}
    if b is not None and (ZONE_EMPLOYMENT.exists() or ZONE_EDUCATION.exists()):
        groups = _zone_groups(sets)
        persons = np.asarray(b.persons, dtype=float)
        for kind, path_k, value, size, codes in (
                ("sector", ZONE_EMPLOYMENT, "employed", "employed_workplace", sets.sectors),
                ("education", ZONE_EDUCATION, "persons", "population_15_74", sets.education)):
            table = _zone_table(path_k, kind, value, groups[kind], known)
            if table is None:
                continue
            table.attrs["path"] = str(path_k)
            names = list(dict.fromkeys(groups[kind][c] for c in codes))
            member = np.array([[float(groups[kind][c] == g) for g in names] for c in codes])  # [code, group]
            mix = (persons.sum(axis=2) if kind == "sector" else np.asarray(b.population, dtype=float)) @ member
            shares, used = _shares_from_table(table, value, size, cell_of, cells, known, mix / mix.sum(axis=1,
                                              keepdims=True), names, sets)
            from_data[kind] = used
            # a part with none of a group in the table keeps a little of it (the model needs every sector and group
            # active in every region): each share is blended with the part's share of all jobs / residents
            blended = (1.0 - ZONE_FLOOR) * (shares @ member.T) \
                + ZONE_FLOOR * (jobs if kind == "sector" else population)[:, None]
            if kind == "sector":
                sectors = blended
            else:
                educations = blended
    return MunicipalParts(cells, jobs, population, flows, sectors, educations, from_data)




def split_mapping(sets: Sets, parts: dict[str, int]) -> dict[str, dict[str, float]]:
    """A division that splits region r into ``parts[r]`` equal parts (``r1``, ``r2``, …) and keeps the others.

    For scaling studies before sub-county data exist: each part is a scaled copy of its county (SYNTHETIC)."""
    out = {}
    for r in sets.regions:
        k = int(parts.get(r, 1))
        if k < 1:
            raise DataError(f"split of region {r!r}: the number of parts must be at least 1, found {k}")
        out[r] = {r: 1.0} if k == 1 else {f"{r}{i + 1}": 1.0 / k for i in range(k)}
    return out


def read_division(path: Path | str, sets: Sets) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Either kind of mapping file: (region -> {group: share}, group -> name); names only where the file has them
    (a division by municipality, :func:`read_municipality_division`; else :func:`read_region_mapping`)."""
    if is_municipality_division(path):
        return read_municipality_division(path, sets)
    return read_region_mapping(path, sets), {}


def aggregate_regions(b: Benchmark, mapping: dict | Path | str) -> Benchmark:
    """The benchmark on another division of its regions: groups of regions summed (e.g. landsdeler; flows within a
    group become own-region), and regions split into shares (each part a scaled copy of every flow of its region;
    flows between the parts of one region are shares of its own-region flows, at its own distance; its residents
    who work in it keep working in their own part). A division by municipality (:func:`is_municipality_division`)
    divides each county by data instead (:func:`divide_by_municipalities`).

    ``mapping``: a mapping file (:func:`read_region_mapping`) or a dict region -> group or region -> {group: share}.
    Groups are named by a division file's ``region_name``, else after their counties.
    Aggregating a split back gives the original benchmark exactly."""
    if not isinstance(mapping, dict):
        if is_municipality_division(mapping):
            return divide_by_municipalities(b, mapping)
        mapping = read_region_mapping(mapping, b.sets)
    mapping = {r: ({g: 1.0} if isinstance(g, str) else dict(g)) for r, g in mapping.items()}
    s = b.sets
    groups = tuple(dict.fromkeys(g for r in s.regions for g in mapping[r]))
    A = np.zeros((len(groups), s.n_regions))
    for n, r in enumerate(s.regions):
        for g, share in mapping[r].items():
            A[groups.index(g), n] = share
    return _regroup(b, groups, A, A, {})


def divide_by_municipalities(b: Benchmark, path: Path | str) -> Benchmark:
    """The county benchmark on a division built from municipalities (docs/model.md, Regional divisions).

    Each county is cut into cells (its part in each region, :func:`municipal_parts`): production by the cell's share
    of the county's jobs in each sector (from a sub-county employment table where one covers the county, else its
    share of all jobs, SSB 11618), public demand and investment by its share of all jobs; population and transfers
    by its share of the county's residents in each education group (a sub-county education table, else its residents
    15-74); commuting between cells from SSB 03321 (:func:`_cell_commuting`), which sets where each cell's employed
    residents work and so its wage income and labour force; household capital income follows wage income, and tax,
    consumption and saving follow income, as the county benchmark is built. The cells are then merged into the
    division's regions."""
    s = b.sets
    mapping, names = read_municipality_division(path, s)  # validates the file (and its use of county codes)
    if all(len(parts) == 1 for parts in mapping.values()):  # counties kept whole or merged: nothing to divide
        groups = tuple(dict.fromkeys(g for c in s.regions for g in mapping[c]))
        whole = np.array([[float(g in mapping[c]) for c in s.regions] for g in groups])
        return _regroup(b, groups, whole, whole, names)
    parts = municipal_parts(path, s, b)
    county = np.array([s.region(c) for c, _ in parts.cells])
    n = np.arange(len(county))

    def in_county(shares):  # [cell] or [cell, x] -> [cell, county(, x)]
        out = np.zeros((len(county), s.n_regions) + np.shape(shares)[1:])
        out[n, county] = shares
        return out
    A, P = in_county(parts.jobs), in_county(parts.population)
    sectors = None if parts.sectors is None else in_county(parts.sectors)
    educations = None if parts.educations is None else in_county(parts.educations)
    cell_codes = tuple(f"{g}@{c}" for c, g in parts.cells)
    commuting = _cell_commuting(b, A, sectors, parts.population, educations, parts.from_data.get("education", ()),
                                parts.flows, county)
    cells = _regroup(b, cell_codes, A, P, {}, commuting=commuting, sectors=sectors, educations=educations)
    groups = tuple(dict.fromkeys(g for _, g in parts.cells))
    merge = np.zeros((len(groups), len(parts.cells)))
    merge[[groups.index(g) for _, g in parts.cells], n] = 1.0
    divided = _regroup(cells, groups, merge, merge, names)
    check_benchmark(divided, _resolve_mapping_path(path))  # balanced, every sector active in every region
    return divided


def _fit_margins(seed: np.ndarray, margins: list, what: str, tol: float = 1e-13, max_iter: int = 1000) -> np.ndarray:
    """Iterative proportional fitting of ``seed`` [a, b, e] to margins: each a pair (labels [a, b] of ints, target
    [n, e]); a NaN target leaves its group free. Raises DataError naming ``what`` when it does not converge."""
    x = seed.copy()
    E = x.shape[2]
    worst = np.inf
    for _ in range(max_iter):
        worst = 0.0
        for labels, target in margins:
            flat = labels.ravel()
            sums = np.stack([np.bincount(flat, weights=x[:, :, e].ravel(), minlength=len(target)) for e in range(E)],
                            axis=1)
            fixed = np.isfinite(target)
            gap = np.abs(sums - np.where(fixed, target, sums)) / np.maximum(np.abs(np.where(fixed, target, 1.0)), 1e-300)
            worst = max(worst, float(gap.max()))
            factor = np.where(fixed & (sums > 0), np.where(fixed, target, 0.0) / np.where(sums > 0, sums, 1.0),
                              np.where(fixed, 0.0, 1.0))
            x *= factor[labels]
        if worst < tol:
            return x
    raise DataError(f"{what}: the commuting between municipalities cannot be fitted to the benchmark's commuting "
                    f"between counties, the parts' jobs and their residents (largest gap {worst:.3g} after "
                    f"{max_iter} steps)")


def _cell_commuting(b: Benchmark, A: np.ndarray, sectors, residents: np.ndarray, educations, education_counties,
                    flows: np.ndarray, county: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Commuting between cells [a, b, e] (persons, pay) fitted to SSB 03321 between the cells' municipalities.

    Persons: the seed flows[a, b] (the same for every group: 03321 has no education) is fitted so that every county
    pair keeps the benchmark's flow, every workplace cell holds its jobs of each group (its sectors' jobs) and, where
    an education table covers the county, every residence cell its share of the county's employed residents of each
    group. Pay: persons × the county flow's pay per person, fitted to the county flows' pay and each cell's wage bill
    (its sectors' pay). With 03321's own county shares and no sub-county tables the fit is exact at the first step."""
    persons, pay = np.asarray(b.commuting_persons), np.asarray(b.commuting)  # [c, d, e]
    R, C, E = persons.shape[0], len(county), persons.shape[2]
    sh = b.shelf
    host = np.asarray(sh.host, dtype=float)
    hosted_persons = host[:, None] * np.asarray(sh.persons, dtype=float).sum(axis=0)[None]
    hosted_pay = host[:, None] * np.asarray(sh.compensation, dtype=float).sum(axis=0)[None]
    if sectors is None:
        jobs = A.sum(axis=1)[:, None] * persons.sum(axis=0)[county]
        wage_bill = A.sum(axis=1)[:, None] * pay.sum(axis=0)[county]
    else:
        a_total = A.sum(axis=1)[:, None]
        jobs = np.einsum("crj,rje->ce", sectors, np.asarray(b.persons)) + a_total * hosted_persons[county]
        wage_bill = np.einsum("crj,rje->ce", sectors, np.asarray(b.compensation)) + a_total * hosted_pay[county]
    block = (county[:, None] * R + county[None, :])  # [a, b]: the county pair
    cols = np.broadcast_to(np.arange(C)[None, :], (C, C))
    rows = np.broadcast_to(np.arange(C)[:, None], (C, C))
    seed = np.repeat(flows[:, :, None], E, axis=2).astype(float)
    empty = np.bincount(block.ravel(), weights=flows.ravel(), minlength=R * R)[block] <= 0  # no 03321 flow
    seed[empty] = (residents[:, None] * A.sum(axis=1)[None, :])[empty][:, None]
    margins = [(block, persons.reshape(R * R, E)), (cols, jobs)]
    if educations is not None:  # cells of the counties an education table covers: their employed residents
        target = educations.sum(axis=1) * np.asarray(b.labour_force)[county]  # [a, e]
        target[~np.isin(county, [b.sets.region(c) for c in education_counties])] = np.nan
        margins.append((rows, target))
    X = _fit_margins(seed, margins, str(MUNICIPAL_COMMUTING))
    rate = np.divide(pay, persons, out=np.zeros_like(pay), where=persons > 0)  # pay per person of the county flow
    value = X * rate.reshape(R * R, E)[block]
    if sectors is not None:
        value = _fit_margins(value, [(block, pay.reshape(R * R, E)), (cols, wage_bill)], str(MUNICIPAL_COMMUTING))
    return X, value


#: Benchmark fields by (region, sector): divided by each part's share of the region's sector.
BY_SECTOR = ("output", "capital", "production_tax", "intermediate_tax", "delivery_margin", "exports", "compensation",
             "persons")


def _fields_by_residence(b: Benchmark, A: np.ndarray, P: np.ndarray, sectors, educations, fields: dict,
                         commuting_from_data: bool) -> np.ndarray:
    """Fill ``fields`` with the production fields by sector shares, the household fields by residence (wage
    income and labour force from the commuting already in ``fields``; capital income following wage income,
    spending following income) and purchases by composite use; returns the shelf's deliveries by region."""
    s = b.sets
    val = lambda x: np.asarray(x, dtype=float)
    wage, cap, transfers = val(b.wage_income), val(b.capital_income), val(b.transfers)
    Aj = np.repeat(A[:, :, None], s.n_sectors, axis=2) if sectors is None else sectors  # [g, r, j]
    Pe = np.repeat(P[:, :, None], s.n_education, axis=2) if educations is None else educations  # [g, r, e]
    persons, pay = fields["commuting_persons"], fields["commuting"]
    if not commuting_from_data:  # commuting kept within a split region's parts: wage income by the jobs share
        wage_share = np.repeat(A[:, :, None], s.n_education, axis=2)  # [g, r, e]
    else:
        wage_share = (A > 0)[:, :, None] * pay.sum(axis=1)[:, None, :] / wage[None]
    income = wage + cap + transfers
    spending = (wage_share * (wage + cap)[None] + Pe * transfers[None]) / income[None]  # [g, r, e]
    sh = b.shelf
    use = val(b.intermediate).sum(axis=2) + val(sh.host)[:, None] * val(sh.intermediate).sum(axis=1)[None, :] \
        + val(b.consumption).sum(axis=1) + val(b.government) + val(b.investment) + val(b.inventories)
    use[:, s.transport] += val(b.delivery_margin).sum(axis=1)
    regional = val(b.government) + val(b.investment) + val(b.inventories) \
        + val(sh.host)[:, None] * val(sh.intermediate).sum(axis=1)[None, :]  # [r, i]: with the jobs
    own_use = np.einsum("grj,rij->gri", Aj, val(b.intermediate)) + A[:, :, None] * regional[None] \
        + np.einsum("gre,rei->gri", spending, val(b.consumption))
    own_use[:, :, s.transport] += np.einsum("grj,rj->gr", Aj, val(b.delivery_margin))
    destination = np.where(np.abs(use)[None] > 0, own_use / np.where(use == 0, 1.0, use)[None], A[:, :, None])
    to = lambda x: np.einsum("gri,ri->gi", destination, val(x))  # [g, i]: region g's part of r's purchases
    shipments = lambda x: np.einsum("gsi,hri,sri->ghi", Aj, destination, val(x), optimize=True)
    fields.update({f: np.einsum("grj,rj...->gj...", Aj, val(getattr(b, f))) for f in BY_SECTOR})
    fields.update(
        intermediate=np.einsum("grj,rij->gij", Aj, val(b.intermediate)),
        population=np.einsum("gre,re->ge", Pe, val(b.population)), transfers=np.einsum("gre,re->ge", Pe, transfers),
        labour_force=persons.sum(axis=1), wage_income=pay.sum(axis=1),
        capital_income=np.einsum("gre,re->ge", wage_share, cap),
        consumption=np.einsum("gre,rei->gei", spending, val(b.consumption)),
        income_tax=np.einsum("gre,re->ge", spending, val(b.income_tax)),
        savings=np.einsum("gre,re->ge", spending, val(b.savings)),
        imports=to(b.imports), trade=shipments(b.trade), margin=shipments(b.margin))
    return to(sh.deliveries)


def _regroup(b: Benchmark, groups: tuple[str, ...], A: np.ndarray, P: np.ndarray, names: dict[str, str],
             commuting: tuple[np.ndarray, np.ndarray] | None = None, sectors: np.ndarray | None = None,
             educations: np.ndarray | None = None) -> Benchmark:
    """The benchmark on new regions: A[g, r] the share of region r's jobs in g (its public demand, investment and
    the shelf's host share follow it), ``sectors`` [g, r, j] of its sector j (default A), P[g, r] of its residents
    and ``educations`` [g, r, e] of its residents of group e (default P); ``commuting`` (persons, pay [g, h, e]) when
    it comes from data (else a split region's own commuting stays within each of its parts). Household capital
    income follows wage income and household spending follows income; each region's imports and purchases from
    other regions follow its composite use."""
    s = b.sets
    val = lambda x: np.asarray(x, dtype=float)
    agg1 = lambda x: np.tensordot(A, val(x), axes=(1, 0))
    agg2 = lambda x: np.einsum("gs,hr,sr...->gh...", A, A, val(x), optimize=True)

    def commuters(x):  # [r, w, e]: a split region's own commuting stays within each of its parts
        x = val(x)
        own = np.einsum("rr...->r...", x)
        out = agg2(x - np.einsum("rs,r...->rs...", np.eye(len(own)), own))
        idx = np.arange(len(groups))
        out[idx, idx] += agg1(own)
        return out

    sh = b.shelf
    members, shares, region_names = [], [], []
    for gi in range(len(groups)):
        cols = [n for n in range(s.n_regions) if A[gi, n] > 0]
        counties: dict[str, float] = {}
        for n in cols:
            for c, f in zip(s.counties_of(n), s.county_shares_of(n)):
                counties[c] = counties.get(c, 0.0) + P[gi, n] * f
        members.append(tuple(counties))
        shares.append(tuple(1.0 if abs(f - 1.0) < 1e-12 else float(f) for f in counties.values()))
        region_names.append(names.get(groups[gi]) or " + ".join(
            s.region_names[n] if A[gi, n] == 1.0 else f"{s.region_names[n]} ({100 * A[gi, n]:.4g} %)" for n in cols))
    region_names = [f"{n} [{g}]" if region_names.count(n) > 1 else n for n, g in zip(region_names, groups)]
    split = any(f != 1.0 for fs in shares for f in fs)
    sets = Sets(groups, tuple(region_names), s.sectors, s.sector_names, s.education, s.energy, s.public, s.goods,
                tuple(members), tuple(shares) if split else (), education_names=s.education_names)
    scalars = ["government_capital_income", "retained_earnings", "government_savings", "foreign_savings"]
    weights = val(b.trade).sum(axis=2) + 1e-12
    fields = {"distance": agg2(val(b.distance) * weights) / agg2(weights),
              "commuting": commuters(b.commuting) if commuting is None else commuting[1],
              "commuting_persons": commuters(b.commuting_persons) if commuting is None else commuting[0]}
    fields.update({f: agg1(getattr(b, f)) for f in ("government", "investment", "inventories")})
    if commuting is None and P is A and sectors is None and educations is None:
        # households follow jobs: the same shares for every field (bit for bit the plain sums)
        fields.update({f: agg1(getattr(b, f)) for f in (*BY_SECTOR, "intermediate", "population", "transfers",
                                                         "labour_force", "wage_income", "capital_income",
                                                         "consumption", "income_tax", "savings", "imports")})
        fields.update(trade=agg2(b.trade), margin=agg2(b.margin))
        deliveries = agg1(sh.deliveries)
    else:
        deliveries = _fields_by_residence(b, A, P, sectors, educations, fields, commuting is not None)
    unknown = set(Benchmark.__dataclass_fields__) - set(fields) - set(scalars) - {"sets", "shelf"}
    assert not unknown, f"aggregate_regions does not know how to divide {sorted(unknown)}"
    shelf = eqx.tree_at(lambda x: (x.host, x.deliveries), sh, (agg1(sh.host), deliveries))
    return jax_arrays(Benchmark(sets=sets, **fields, **{k: np.asarray(getattr(b, k)) for k in scalars}, shelf=shelf))


def metadata(data_dir: Path | str = DEFAULT_DATA_DIR) -> dict:
    p = Path(data_dir) / "metadata.json"
    if not p.exists():
        return {}
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: not valid JSON ({exc})") from None
