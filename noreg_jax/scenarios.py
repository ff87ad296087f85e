"""Policy scenarios as data: TOML files of shocks to the exogenous drivers, plus parameter overrides.

A scenario file::

    name = "trondelag_vocational"
    description = "..."

    [[shocks]]
    driver = "population"          # one of DRIVERS
    region = "TRO"                 # a code or a list of codes; omitted = all
    education = "voc"              # for drivers by education; omitted = all
    years = [2025, 2035]           # first and last year (inclusive), within 2018–2050
    mode = "growth"                # growth: % per year, compounding, kept after the last year
                                   # percent: % deviation in the years only; level: the value itself
    value = 1.0
    transfer_from = "low"          # population or workers: the added persons leave this group (same region)

    [parameters]                   # optional overrides of the parameter pytree
    sigma_labour = 2.0             # every entry
    sigma_armington = { CHEM = 3.0 }   # by sector

The shocked drivers are a pure JAX function of the reference drivers and each shock's ``value``, so
results are differentiable in the shock sizes and scenarios batch with ``vmap``.
"""

from __future__ import annotations

import difflib
import warnings
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noreg_jax.config_files import field_error, finite_number, read_toml
from noreg_jax.data import DataError
from noreg_jax.dynamics import FIRST_YEAR, LAST_YEAR, PathModel
from noreg_jax.parameters import PRODUCTION_ELASTICITIES, STRICTLY_POSITIVE, TRADE_ELASTICITIES

# driver name -> its dimensions after year
DRIVERS = {
    "population": ("region", "education"),
    "workers": ("region", "education"),  # employed persons: population × participation + worker_shift
    "participation": ("region", "education"),
    "labour_productivity": ("region", "education"),
    "tfp": ("region", "sector"),
    "energy_efficiency": ("region", "sector"),
    "government_demand": ("region", "sector"),
    "capital_index": ("region", "sector"),
    "export_demand": ("region", "sector"),  # world demand for each region's export variety
}
MODES = ("growth", "percent", "level")
SET_KEY = "scenario"  # a scenario set: [[scenario]] tables
SECTOR_PARAMETERS = PRODUCTION_ELASTICITIES + TRADE_ELASTICITIES + ("income_elasticity",)
SCALAR_PARAMETERS = ("frisch",)
DYNAMIC_PARAMETERS = ("depreciation", "investment_elasticity", "migration_beta")


class ScenarioError(ValueError):
    """A malformed scenario file; the message names the file, the field and the value."""


class Shock(eqx.Module):
    """One shock: a selection (region × sector/education mask, years) of one driver, and its size."""

    driver: str = eqx.field(static=True)
    mode: str = eqx.field(static=True)
    transfer_from: int | None = eqx.field(static=True)
    selection: jnp.ndarray  # (R, X) 1 where shocked
    window: jnp.ndarray  # (T,) 1 in the shocked years
    value: jnp.ndarray  # scalar: % per year, %, or level


class Scenario(eqx.Module):
    name: str = eqx.field(static=True)
    description: str = eqx.field(static=True)
    shocks: tuple
    overrides: tuple = eqx.field(static=True)  # ((field, sector or None, value), ...)


def _err(path, field, value, why):
    return field_error(ScenarioError, path, field, value, why)


def _unknown_code(code, labels, what, sets=None) -> str:
    """Why ``code`` is not one of ``labels``: a county inside a region of this division, or a near miss."""
    if sets is not None and what == "region":
        holders = [sets.regions[n] for n in range(sets.n_regions) if code in sets.counties_of(n)]
        if holders:
            if len(holders) == 1:
                return f"is a county that lies in the region {holders[0]} of this division; name that region instead"
            return (f"is a county split among the regions {', '.join(holders)} of this division; name them instead "
                    "(a growth or percent shock may name a county whose parts hold nothing else; a level would be "
                    "given to every part)")
    close = difflib.get_close_matches(code, labels, n=3, cutoff=0.5) or \
        [c for c in labels if c.lower() == str(code).lower()]
    hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
    return f"names an unknown {what}{hint}; known: {', '.join(labels)}"


def _codes(path, field, raw, labels, what, sets=None):
    if raw is None:
        return list(range(len(labels)))
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(c, str) for c in items):
        raise _err(path, field, raw, f"must be a {what} code or a list of codes")
    if not items:
        raise _err(path, field, raw, f"selects no {what}: name at least one, or leave the field out for all")
    out = []
    for c in items:
        if c not in labels:
            raise _err(path, field, c, _unknown_code(c, labels, what, sets))
        out.append(labels.index(c))
    return out


def _split_counties(raw, sets):
    """A shock's region codes with each county that this division splits into parts (regions holding that county
    alone) replaced by its parts: for a rate (growth, percent) the same rate in every part is the county's rate.
    A level would be given to every part, so a level shock must name the parts (:func:`_unknown_code` says so)."""
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(c, str) for c in items):
        return raw  # _codes names the problem
    out = []
    for code in items:
        try:
            parts = sets.regions_of_counties([code])
        except DataError:  # not a county, or one that shares a region with others: _codes says which
            parts = ()
        out += list(parts) if len(parts) > 1 else [code]
    return out if isinstance(raw, list) or len(out) > 1 else raw


def _number(path, field, raw):
    return finite_number(ScenarioError, path, field, raw)


def parse_scenario(path: Path | str, model: PathModel, text: str | None = None) -> Scenario:
    """Read and validate a scenario file against the model's regions, sectors, education groups and years."""
    path = Path(path)
    data = read_toml(ScenarioError, path, text)
    if SET_KEY in data:
        raise _err(path, SET_KEY, f"{len(data[SET_KEY])} scenarios" if isinstance(data[SET_KEY], list) else
                   data[SET_KEY], "makes this a scenario set: read it with parse_scenarios")
    return scenario_from_table(path, data, model, path.stem)


def parse_scenarios(path: Path | str, model: PathModel, text: str | None = None) -> list[Scenario]:
    """The scenarios of a file: one for a scenario file, several for a scenario set (``[[scenario]]`` tables,
    each a scenario file's fields; names must differ). Errors name the file and e.g. ``scenario[2].shocks[0]``."""
    path = Path(path)
    data = read_toml(ScenarioError, path, text)
    if SET_KEY not in data:
        return [scenario_from_table(path, data, model, path.stem)]
    for key in data:
        if key not in ("name", "description", SET_KEY):
            raise _err(path, key, data[key], f"is not a scenario-set field; expected name, description, {SET_KEY}")
    tables = data[SET_KEY]
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise _err(path, SET_KEY, tables, "must be a non-empty array of tables ([[scenario]])")
    out, seen = [], {}
    for n, table in enumerate(tables):
        where = f"{SET_KEY}[{n}]."
        if "name" not in table:
            raise _err(path, f"{where}name", None, "is required in a scenario set")
        sc = scenario_from_table(path, table, model, None, where)
        if sc.name in seen:
            raise _err(path, f"{where}name", sc.name, f"repeats the name of {SET_KEY}[{seen[sc.name]}]")
        seen[sc.name] = n
        out.append(sc)
    return out


def scenario_from_table(path: Path, data: dict, model: PathModel, default_name, prefix: str = "") -> Scenario:
    """One scenario from its TOML table; ``prefix`` is where it sits in the file (fields are reported with it)."""
    known = {"name", "description", "shocks", "parameters"}
    for key in data:
        if key not in known:
            raise _err(path, prefix + key, data[key], f"is not a scenario field; expected one of {sorted(known)}")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise _err(path, prefix + "name", name, "must be a string of letters, digits, '_' or '-'")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise _err(path, prefix + "description", description, "must be a string")
    s = model.economy.benchmark.sets
    years = model.drivers.years
    raw_shocks = data.get("shocks", [])
    if not isinstance(raw_shocks, list):
        raise _err(path, prefix + "shocks", raw_shocks, "must be an array of tables ([[shocks]])")
    shocks = []
    for n, raw in enumerate(raw_shocks):
        where = f"{prefix}shocks[{n}]"
        if not isinstance(raw, dict):
            raise _err(path, where, raw, "must be a table")
        allowed = {"driver", "region", "sector", "education", "years", "mode", "value", "transfer_from"}
        for key in raw:
            if key not in allowed:
                raise _err(path, f"{where}.{key}", raw[key], f"is not a shock field; expected one of {sorted(allowed)}")
        driver = raw.get("driver")
        if not isinstance(driver, str) or driver not in DRIVERS:
            raise _err(path, f"{where}.driver", driver, f"is not a driver; known: {', '.join(DRIVERS)}")
        dims = DRIVERS[driver]
        mode = raw.get("mode", "growth")
        if not isinstance(mode, str) or mode not in MODES:
            raise _err(path, f"{where}.mode", mode, f"must be one of {', '.join(MODES)}")
        region_codes = _split_counties(raw.get("region"), s) if mode in ("growth", "percent") else raw.get("region")
        regions = _codes(path, f"{where}.region", region_codes, s.regions, "region", s)
        if dims[1] == "sector":
            if "education" in raw:
                raise _err(path, f"{where}.education", raw["education"], f"does not apply to driver {driver!r}")
            second = _codes(path, f"{where}.sector", raw.get("sector"), s.sectors, "sector")
        else:
            if "sector" in raw:
                raise _err(path, f"{where}.sector", raw["sector"], f"does not apply to driver {driver!r}")
            second = _codes(path, f"{where}.education", raw.get("education"), s.education, "education group")
        yrs = raw.get("years")
        if not (isinstance(yrs, list) and len(yrs) == 2 and all(isinstance(y, int) and not isinstance(y, bool)
                                                               for y in yrs)):
            raise _err(path, f"{where}.years", yrs, "must be [first, last], two integer years")
        if not (FIRST_YEAR <= yrs[0] <= yrs[1] <= LAST_YEAR):
            raise _err(path, f"{where}.years", yrs, f"must satisfy {FIRST_YEAR} <= first <= last <= {LAST_YEAR}")
        value = _number(path, f"{where}.value", raw.get("value"))
        transfer = raw.get("transfer_from")
        transfer_idx = None
        if transfer is not None:
            if driver not in ("population", "workers"):
                raise _err(path, f"{where}.transfer_from", transfer, "applies to the population and workers drivers only")
            transfer_idx = _codes(path, f"{where}.transfer_from", transfer, s.education, "education group")
            if len(transfer_idx) != 1 or transfer_idx[0] in second:
                raise _err(path, f"{where}.transfer_from", transfer,
                           "must be one education group that is not itself shocked")
            transfer_idx = transfer_idx[0]
        sel = np.zeros((s.n_regions, len(s.sectors) if dims[1] == "sector" else s.n_education))
        sel[np.ix_(regions, second)] = 1.0
        window = np.array([1.0 if yrs[0] <= y <= yrs[1] else 0.0 for y in years])
        shocks.append(Shock(driver, mode, transfer_idx, jnp.asarray(sel), jnp.asarray(window), jnp.asarray(value)))
    overrides = _parse_overrides(path, data.get("parameters", {}), s, prefix)
    if not shocks and not overrides:
        warnings.warn(f"{path}: {prefix.rstrip('.') + ': ' if prefix else ''}the scenario has no shocks and no parameter overrides: it is the reference path",
                      stacklevel=2)
    return Scenario(name, description, tuple(shocks), overrides)


def _parse_overrides(path, raw, s, prefix=""):
    if not isinstance(raw, dict):
        raise _err(path, prefix + "parameters", raw, "must be a table")
    out = []
    for key, val in raw.items():
        field = f"{prefix}parameters.{key}"
        if key in SECTOR_PARAMETERS:
            if isinstance(val, dict):
                for sector, v in val.items():
                    idx = _codes(path, f"{field}.{sector}", sector, s.sectors, "sector")[0]
                    out.append((key, idx, _elasticity(path, f"{field}.{sector}", v, key)))
            else:
                out.append((key, None, _elasticity(path, field, val, key)))
        elif key in SCALAR_PARAMETERS:
            v = _number(path, field, val)
            if key == "frisch" and not v < -1.0:
                raise _err(path, field, val, "must be < -1")
            out.append((key, None, v))
        elif key in DYNAMIC_PARAMETERS:
            if key == "migration_beta" and isinstance(val, dict):
                for e, v in val.items():
                    idx = _codes(path, f"{field}.{e}", e, s.education, "education group")[0]
                    out.append((key, idx, _elasticity(path, f"{field}.{e}", v, key)))
            else:
                out.append((key, None, _elasticity(path, field, val, key)))
        else:
            known = SECTOR_PARAMETERS + SCALAR_PARAMETERS + DYNAMIC_PARAMETERS
            raise _err(path, field, val, f"is not a parameter that can be overridden; known: {', '.join(known)}")
    return tuple(out)


def _elasticity(path, field, value, key):
    v = _number(path, field, value)
    if v < 0:
        raise _err(path, field, value, f"{key} must be >= 0")
    if v == 0 and key in STRICTLY_POSITIVE:
        raise _err(path, field, value, f"{key} must be > 0 ({STRICTLY_POSITIVE[key]})")
    return v


def employed_persons(drivers):
    """Employed persons (T, R, E), thousand: population × participation + worker_shift (the driver "workers")."""
    return drivers.population * drivers.participation + drivers.worker_shift


def shocked_drivers(drivers, scenario: Scenario):
    """The drivers with every shock of ``scenario`` applied (pure JAX in the shock values)."""
    employed = employed_persons(drivers)
    values = {name: employed if name == "workers" else getattr(drivers, name) for name in DRIVERS}
    for shock in scenario.shocks:
        base = values[shock.driver]  # (T, R, X)
        sel = shock.selection[None]
        w = shock.window[:, None, None]
        if shock.mode == "growth":
            k = jnp.cumsum(shock.window)[:, None, None]  # shocked years so far; kept after the window
            new = base * (1.0 + sel * ((1.0 + shock.value / 100.0) ** k - 1.0))
        elif shock.mode == "percent":
            new = base * (1.0 + sel * w * shock.value / 100.0)
        else:
            new = base * (1.0 - sel * w) + sel * w * shock.value
        if shock.transfer_from is not None:
            moved = jnp.sum(new - base, axis=2)  # (T, R) persons added to the shocked groups
            new = new.at[:, :, shock.transfer_from].add(-moved)
        values[shock.driver] = new
    # a shift of employed persons (driver "workers") adds persons who all work: worker_shift
    values["worker_shift"] = drivers.worker_shift + values.pop("workers") - employed
    names = tuple(values)
    return eqx.tree_at(lambda d: tuple(getattr(d, n) for n in names), drivers, tuple(values[n] for n in names))


def with_overrides(model: PathModel, scenario: Scenario) -> PathModel:
    """The model with the scenario's parameter overrides applied."""
    for key, idx, value in scenario.overrides:
        if key in DYNAMIC_PARAMETERS:
            where = lambda m, k=key: getattr(m.dynamics, k)
        else:
            where = lambda m, k=key: getattr(m.economy.params, k)
        old = where(model)
        new = jnp.full_like(old, value) if idx is None else old.at[idx].set(value)
        model = eqx.tree_at(where, model, new)
    return model


def apply_scenario(model: PathModel, scenario: Scenario) -> PathModel:
    """The path model of a scenario: shocked drivers and overridden parameters."""
    model = with_overrides(model, scenario)
    return eqx.tree_at(lambda m: m.drivers, model, shocked_drivers(model.drivers, scenario))


def with_shock_values(scenario: Scenario, values) -> Scenario:
    """The scenario with its shock sizes replaced by ``values`` (n_shocks,)."""
    if not scenario.shocks:
        return scenario
    return eqx.tree_at(lambda s: tuple(sh.value for sh in s.shocks), scenario,
                       tuple(values[k] for k in range(len(scenario.shocks))))


def scale_shocks(scenario: Scenario, factor) -> Scenario:
    """The same scenario with every shock value multiplied by ``factor``."""
    return eqx.tree_at(lambda s: tuple(sh.value for sh in s.shocks), scenario,
                       tuple(sh.value * factor for sh in scenario.shocks))


def stack(models):
    """Stack path models of identical structure into one batched pytree (for ``vmap``)."""
    return jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *models)


def unstack(tree, n: int):
    return [jax.tree_util.tree_map(lambda x: x[k], tree) for k in range(n)]
