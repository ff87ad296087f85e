"""Parameter uncertainty as data (README "Sensitivity and estimation"): which parameters are uncertain, how, and why.

``sensitivity/data/uncertainty.csv`` has one row per uncertain factor, the unit of a Sobol analysis::

    name,group,parameter,applies_to,distribution,lower,upper,sd,source
    sigma_kl,klem,sigma_kl,ALL,truncnorm,0.0,2.0,0.3,"Koesler & Schymura ..."
    beta_voc,migration,migration_beta,voc,unif,0.5,1.5,,"..."

Each factor is a **multiplier** of the central values the model already uses (so the central draw, all
factors 1, is the model as shipped): the entries of ``parameter`` named by ``applies_to`` (``ALL``, or
sector / education codes joined by ``+``) become ``central × factor``. One factor applied to every sector
*ties* the sectors: their errors move together. That keeps the dimension of the analysis small (13 factors,
4 groups instead of 24 × 6 + 4 elasticities) and is the conservative choice for aggregate outcomes: errors
that are independent across sectors would partly average out. Split a row into several (``applies_to``
lists of sectors) to free them.

Distributions of the factor: ``unif`` on [lower, upper]; ``truncnorm``: normal with mean 1 and standard
deviation ``sd`` truncated to [lower, upper]. Every bound must be ≥ 0, so every drawn elasticity is ≥ 0.
``group`` names the SALib group of the factor (indices may be reported per group).

Assumptions of the shipped file (its ``source`` column says the same for each row):

- Koesler–Schymura KLEM elasticities (σ_top, σ_kle, σ_kl): the shipped sources carry the point estimates
  only (docs/data.md: "no standard errors"), so a relative standard error of 30 % is ASSUMED, truncated at
  0 (Leontief) and at 2 × central;
- Armington elasticities (σ_armington, σ_domestic): GTAP-style ±50 % uniform;
- σ between education groups: ±50 % uniform around 1.5 (estimates range about 1.4–2);
- migration β_e, one factor per education group: ±50 % uniform.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats

from noreg_jax.data import DataError, _read_csv
from noreg_jax.dynamics import PathModel
from noreg_jax.scenarios import SECTOR_PARAMETERS

DEFAULT_UNCERTAINTY = Path(__file__).parent / "data" / "uncertainty.csv"
COLUMNS = ["name", "group", "parameter", "applies_to", "distribution", "lower", "upper", "sd", "source"]
DISTRIBUTIONS = ("unif", "truncnorm")
DYNAMIC_BY_EDUCATION = ("migration_beta",)
DYNAMIC_SCALARS = ("investment_elasticity",)
PARAMETERS = SECTOR_PARAMETERS + DYNAMIC_BY_EDUCATION + DYNAMIC_SCALARS


class UncertaintyError(DataError):
    """A malformed uncertainty file, or one that does not fit the model; names file, field and value."""


@dataclass(frozen=True)
class Factor:
    """One uncertain multiplicative factor (a row of the uncertainty file)."""

    name: str
    group: str
    parameter: str  # a field of Parameters (per sector) or DynamicParameters
    applies_to: tuple[str, ...]  # codes, or ("ALL",)
    distribution: str  # "unif" | "truncnorm"
    lower: float
    upper: float
    sd: float | None
    source: str

    def salib_bounds(self) -> list[float]:
        """SALib's ``bounds`` entry: [lower, upper] (unif) or [lower, upper, mean, sd] (truncnorm)."""
        if self.distribution == "unif":
            return [self.lower, self.upper]
        return [self.lower, self.upper, 1.0, self.sd]

    def ppf(self, q):
        """Quantiles of the factor (for tables and checks)."""
        q = np.asarray(q, dtype=float)
        if self.distribution == "unif":
            return self.lower + q * (self.upper - self.lower)
        a, b = (self.lower - 1.0) / self.sd, (self.upper - 1.0) / self.sd
        return stats.truncnorm.ppf(q, a, b, loc=1.0, scale=self.sd)


@dataclass(frozen=True)
class Uncertainty:
    """The uncertain factors, in the order of the columns of a draw matrix."""

    factors: tuple[Factor, ...]
    path: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.factors)

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(f.group for f in self.factors)

    def problem(self, groups: bool = True) -> dict:
        """The SALib problem: names, bounds, dists, and (``groups``) the groups of the factors."""
        problem = {"num_vars": len(self.factors), "names": list(self.names),
                   "bounds": [f.salib_bounds() for f in self.factors],
                   "dists": [f.distribution for f in self.factors]}
        if groups:
            problem["groups"] = list(self.groups)
        return problem

    def masks(self, model: PathModel) -> tuple[np.ndarray, ...]:
        """Per factor, a 0/1 mask of the entries of its parameter it scales; raises if a code is unknown."""
        s = model.economy.benchmark.sets
        out = []
        for f in self.factors:
            if f.parameter in SECTOR_PARAMETERS:
                labels, what = s.sectors, "sector"
            elif f.parameter in DYNAMIC_BY_EDUCATION:
                labels, what = s.education, "education group"
            else:
                labels, what = (), None
            if f.applies_to == ("ALL",):
                out.append(np.ones(len(labels)) if labels else np.ones(()))
                continue
            if not labels:
                raise UncertaintyError(f"{self.path}: field 'applies_to' of {f.name!r} must be ALL for the scalar "
                                       f"{f.parameter!r} (value {'+'.join(f.applies_to)!r})")
            mask = np.zeros(len(labels))
            for code in f.applies_to:
                if code not in labels:
                    raise UncertaintyError(f"{self.path}: field 'applies_to' of {f.name!r} names an unknown {what} "
                                           f"{code!r}; known: {', '.join(labels)}")
                mask[labels.index(code)] = 1.0
            out.append(mask)
        return tuple(out)

    def apply(self, model: PathModel, factors, masks=None) -> PathModel:
        """The model with every factor applied: entry ← central × factor where the mask is 1 (pure JAX).

        ``factors``: array (d,) in the order of :attr:`names`. Factors on the same parameter multiply.
        """
        masks = self.masks(model) if masks is None else masks
        factors = jnp.asarray(factors)
        scale: dict[str, jnp.ndarray] = {}
        for k, (f, mask) in enumerate(zip(self.factors, masks)):
            m = jnp.asarray(mask, dtype=factors.dtype)
            term = 1.0 + m * (factors[k] - 1.0)
            scale[f.parameter] = scale[f.parameter] * term if f.parameter in scale else term
        for parameter, term in scale.items():
            if parameter in SECTOR_PARAMETERS:
                where = lambda mdl, p=parameter: getattr(mdl.economy.params, p)
            else:
                where = lambda mdl, p=parameter: getattr(mdl.dynamics, p)
            model = eqx.tree_at(where, model, where(model) * term)
        return model

    def central(self) -> np.ndarray:
        """The draw that leaves the model as shipped (every factor 1)."""
        return np.ones(len(self.factors))

    def table(self, model: PathModel | None = None, interval=0.9) -> pd.DataFrame:
        """One row per factor: distribution, central interval of the factor and (with ``model``) of the
        parameter values it scales (min–max over the entries at the central value)."""
        lo_q, hi_q = (1 - interval) / 2, (1 + interval) / 2
        rows = []
        masks = self.masks(model) if model is not None else [None] * len(self.factors)
        for f, mask in zip(self.factors, masks):
            lo, hi = (float(v) for v in f.ppf([lo_q, hi_q]))
            row = {"factor": f.name, "group": f.group, "parameter": f.parameter,
                   "applies_to": "+".join(f.applies_to), "distribution": f.distribution
                   + (f"(sd {f.sd:g})" if f.sd else ""), "bounds": f"[{f.lower:g}, {f.upper:g}]",
                   f"factor {int(interval * 100)} %": f"{lo:.2f}–{hi:.2f}"}
            if model is not None:
                src = model.economy.params if f.parameter in SECTOR_PARAMETERS else model.dynamics
                values = np.asarray(getattr(src, f.parameter))
                values = values[np.asarray(mask) > 0] if values.ndim else values[None]
                row["central"] = (f"{values.min():.3g}" if np.ptp(values) == 0
                                  else f"{values.min():.3g}–{values.max():.3g}")
            rows.append(row)
        return pd.DataFrame(rows)


def _float(df, path, field, k, allow_empty=False):
    raw = df[field].iloc[k]
    if raw.strip() == "" and allow_empty:
        return None
    try:
        v = float(raw)
    except ValueError:
        raise UncertaintyError(f"{path}: field '{field}' has a non-numeric value {raw!r} (row {k + 2})") from None
    if not np.isfinite(v):
        raise UncertaintyError(f"{path}: field '{field}' must be finite, found {raw!r} (row {k + 2})")
    return v


def load_uncertainty(path: Path | str = DEFAULT_UNCERTAINTY) -> Uncertainty:
    """Read and validate an uncertainty file (see the module docstring); a run manifest being recorded
    fingerprints it."""
    from noreg_jax.manifest import note_input

    path = Path(path)
    df = _read_csv(path, COLUMNS)
    note_input(path)
    if df.empty:
        raise UncertaintyError(f"{path}: no factors (the file has a header only)")
    factors = []
    for k in range(len(df)):
        r = df.iloc[k]
        name = r["name"].strip()
        if not name or not name.replace("_", "").isalnum():
            raise UncertaintyError(f"{path}: field 'name' must be letters, digits or '_', found {name!r} (row {k + 2})")
        if r["parameter"] not in PARAMETERS:
            raise UncertaintyError(f"{path}: field 'parameter' has an unknown parameter {r['parameter']!r} "
                                   f"(row {k + 2}); known: {', '.join(PARAMETERS)}")
        dist = r["distribution"]
        if dist not in DISTRIBUTIONS:
            raise UncertaintyError(f"{path}: field 'distribution' must be one of {DISTRIBUTIONS}, found {dist!r} "
                                   f"(row {k + 2})")
        lower, upper = _float(df, path, "lower", k), _float(df, path, "upper", k)
        if lower < 0:
            raise UncertaintyError(f"{path}: field 'lower' must be >= 0 (an elasticity stays >= 0), found {lower!r} "
                                   f"(row {k + 2})")
        if not upper > lower:
            raise UncertaintyError(f"{path}: field 'upper' must exceed 'lower', found {upper!r} (row {k + 2})")
        sd = _float(df, path, "sd", k, allow_empty=True)
        if dist == "truncnorm":
            if sd is None or sd <= 0:
                raise UncertaintyError(f"{path}: field 'sd' must be > 0 for truncnorm, found {r['sd']!r} (row {k + 2})")
            if not lower <= 1.0 <= upper:
                raise UncertaintyError(f"{path}: the bounds [{lower}, {upper}] must contain the mean 1 (row {k + 2})")
        applies = tuple(c.strip() for c in r["applies_to"].split("+"))
        if not all(applies):
            raise UncertaintyError(f"{path}: field 'applies_to' is empty or malformed: {r['applies_to']!r} "
                                   f"(row {k + 2})")
        group = r["group"].strip() or name
        factors.append(Factor(name, group, r["parameter"], applies, dist, lower, upper, sd, r["source"]))
    names = [f.name for f in factors]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise UncertaintyError(f"{path}: field 'name' has duplicates {dup}")
    return Uncertainty(tuple(factors), str(path))
