"""Scalar outcomes of a path, named by a short spec, e.g.

    "population:TRO:2050"            Trøndelag population in 2050 (thousand, all education groups)
    "employment:OSL:2050"            Oslo employment in 2050 (thousand persons)
    "real_wage:TRO:voc:2050"         real wage of vocational workers in Trøndelag in 2050
    "gross_product_mainland:ALL:2050"  mainland gross product, all regions, 2050
    "migration:TRO:voc:2050"         cumulative net endogenous in-migration 2018–2050 (thousand)

Grammar: ``variable:CODE[:CODE...]:YEAR`` where each CODE is a region, a sector or an education group
(or ALL for all regions); dimensions not named are summed (averaged for wages and prices, weighted
by population for real wages). A scenario effect is the same outcome of a scenario path minus the
reference path (:func:`scenario_effect`). Every outcome is a pure function of a
:class:`noreg_jax.dynamics.PathResult`, so it can be differentiated, vmapped and jitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

from noreg_jax.dynamics import PathModel, PathResult

PETROLEUM = "PETRO"
# variable -> (key in PathResult.outcomes or "migration", dims after year, how dims are combined)
VARIABLES = {
    "population": ("population", ("region", "education"), "sum"),
    "labour_force": ("labour_force", ("region", "education"), "sum"),
    "employment": ("employment", ("region", "sector", "education"), "sum"),
    "gross_product": ("gross_product", ("region", "sector"), "sum"),
    "gross_product_mainland": ("gross_product", ("region", "sector"), "sum"),
    "gross_product_nominal": ("gross_product_nominal", ("region", "sector"), "sum"),
    "real_wage": ("real_wage", ("region", "education"), "population_mean"),
    "wage": ("wage", ("region", "education"), "population_mean"),
    "capital": ("capital", ("region", "sector"), "sum"),
    "exports": ("exports", ("region", "sector"), "sum"),
    "imports": ("imports", ("region", "sector"), "sum"),
    "migration": ("migration", ("region", "education"), "cumulative"),
}


class OutcomeError(ValueError):
    """An outcome spec that names an unknown variable, code or year."""


def translate_counties(spec: str, model: PathModel) -> str:
    """The spec with county codes replaced by the model regions that make them up (OSL:VIK -> OSVI on
    two_regions; TRO -> TRO1:TRO2 where Trøndelag was split); other codes are kept for :func:`parse_outcome`.

    Raises OutcomeError when the counties named make up only part of a model region."""
    from noreg_jax.data import DataError

    s = model.economy.benchmark.sets
    parts = spec.split(":")
    if len(parts) < 3:
        return spec
    other = set(s.sectors) | set(s.education) | {"ALL"}
    counties = {c for n in range(s.n_regions) for c in s.counties_of(n)}
    is_place = [code in s.regions or (code in counties and code not in other) for code in parts[1:-1]]
    try:
        regions = s.regions_of_counties([c for c, place in zip(parts[1:-1], is_place) if place])
    except DataError as exc:
        raise OutcomeError(f"outcome {spec!r}: {exc}; it cannot be expressed on this division") from None
    out, placed = [], False
    for code, place in zip(parts[1:-1], is_place):
        if place:
            if not placed:  # the regions once, where the first of them was named
                out.extend(regions)
                placed = True
        else:
            out.append(code)
    return ":".join([parts[0], *out, parts[-1]])


@dataclass(frozen=True)
class Outcome:
    """A scalar outcome of a path (see the module docstring)."""

    spec: str
    variable: str
    selection: tuple  # per dim of the variable: tuple of indices or None (all)
    year_index: int

    def __call__(self, result: PathResult, model: PathModel):
        key, dims, how = VARIABLES[self.variable]
        data = result.migration if key == "migration" else result.outcomes[key]
        if how == "cumulative":
            data = jnp.sum(data[: self.year_index], axis=0)  # flows decided before the year
        else:
            data = data[self.year_index]
        weights = None
        if how == "population_mean":
            weights = result.outcomes["population"][self.year_index]
        if self.variable == "gross_product_mainland":
            sectors = model.economy.benchmark.sets.sectors
            mask = jnp.asarray([c != PETROLEUM for c in sectors], dtype=data.dtype)
            data = data * mask
        for axis, sel in reversed(list(enumerate(self.selection))):
            if sel is not None:
                idx = jnp.asarray(sel)
                data = jnp.take(data, idx, axis=axis)
                if weights is not None and axis < weights.ndim:
                    weights = jnp.take(weights, idx, axis=axis)
        if weights is not None:
            return jnp.sum(data * weights) / jnp.sum(weights)
        return jnp.sum(data)


def parse_outcome(spec: str, model: PathModel) -> Outcome:
    """Parse an outcome spec against the model's labels, county codes translated to the division's regions
    (:func:`translate_counties`); raises :class:`OutcomeError` naming the bad part."""
    spec = translate_counties(spec, model)
    parts = spec.split(":")
    if len(parts) < 2:
        raise OutcomeError(f"outcome {spec!r}: expected 'variable:CODE...:YEAR', e.g. 'population:TRO:2050'")
    variable, codes, year = parts[0], parts[1:-1], parts[-1]
    if variable not in VARIABLES:
        raise OutcomeError(f"outcome {spec!r}: unknown variable {variable!r}; known: {', '.join(VARIABLES)}")
    years = model.drivers.years
    try:
        year_index = years.index(int(year))
    except ValueError:
        raise OutcomeError(f"outcome {spec!r}: year {year!r} is not in {years[0]}–{years[-1]}") from None
    if VARIABLES[variable][2] == "cumulative":
        year_index += 1  # migration decided up to and including the year
    s = model.economy.benchmark.sets
    labels = {"region": s.regions, "sector": s.sectors, "education": s.education}
    dims = VARIABLES[variable][1]
    chosen = {d: [] for d in dims}
    for code in codes:
        if code == "ALL":
            continue
        for d in dims:
            if code in labels[d]:
                chosen[d].append(labels[d].index(code))
                break
        else:
            raise OutcomeError(f"outcome {spec!r}: {code!r} is not a {' / '.join(dims)} code of this model")
    selection = tuple(tuple(chosen[d]) if chosen[d] else None for d in dims)
    return Outcome(spec, variable, selection, year_index)


def scenario_effect(outcome: Outcome, reference: PathResult, scenario: PathResult, model: PathModel):
    """The outcome of the scenario path minus that of the reference path."""
    return outcome(scenario, model) - outcome(reference, model)
