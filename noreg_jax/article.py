"""The model against the article's published figures (``noreg compare article``).

``data/article/published.csv`` lists every figure the article reports for its reference path and
its two scenarios (id, description, article_value, unit, check, source: the article's section heading
or figure). :func:`model_figures` computes the same figures from the labelled results of the three
paths, :func:`compare` judges each one by its ``check``:

- ``value``: the article gives a number. The sign must match, and the magnitude must be within a
  factor of 2: ``0.5 <= |model| / |article| <= 2`` (judged on absolute values, so -1000 against
  +1000 fails the sign but not the magnitude).
- ``sign``: the article gives only a direction; ``article_value`` is +1 or -1 and only the sign counts.
- ``near_zero``: the article says "almost unchanged"; passes (as a magnitude) when
  ``|model| <= article_value``, the bound stated in the file. There is no sign to check.
- ``rank_first``: the model value is a rank (1 = largest); the sign check passes when it is 1.
- ``among_top``: the model value is a rank; the sign check passes when it is at most
  ``article_value`` (e.g. among the 4 fastest-growing industries).

``sign_ok`` thus holds the qualitative claim (a direction, or an ordering), ``magnitude_ok`` the
quantitative one; each is None where it does not apply. A figure that needs a region absent from the
model's regional division (Oslo when Oslo and Viken are one region) is n/a: both flags None.

Choices (the article is terse):
- County growth is mainland GDP per capita (Fig. 3 and its national average of 1.1 %/yr are per
  capita), 2018 to the last year, as ``results.headline`` computes it.
- "The other counties grow more slowly" is one sign row per county, of its growth minus the national
  growth, so an exception is named. Viken has no row: the article puts it with Oslo ('Oslo-området').
- The industries "with the largest growth" (Fig. 4) rank sectors by the change in gross product (NOK
  million, 2018 prices) from the first to the last year (``results.industry_growth``, as Fig. 4 of
  ``noreg run reference``): the article's figure shows the four industries' levels in 2018 and 2050 and
  calls them growth engines, construction and real estate among them; a ranking by growth rate is led by
  industries of almost no size in the region (basic metals in Oslo, 0.2 % of its 2018 gross product, grows ×4.2).
  Scenario industries rank by the % change from the reference in the last year (Fig. 8 is relative
  change; ``results.scenario_headline``).
- Cumulative migration is the sum over the path of net endogenous in-migration. Scenario 1's movers are
  counted as workers (persons × participation of their group): the article's "1,000 vocational" are
  people with an education, which the model's all-ages persons (children included) overstate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from noreg_jax.data import DataError
from noreg_jax.results import capital_is_whole, headline, industry_growth, scenario_headline

PUBLISHED = Path(__file__).parent / "data" / "article" / "published.csv"
SCENARIOS_DIR = Path(__file__).resolve().parent.parent / "scenarios"
SCENARIO_FILES = ("trondelag_vocational.toml", "further_education.toml")  # scenario 1, scenario 2
SCENARIO_REGION = "TRO"  # the region of scenario 1's figures
CHECKS = ("value", "sign", "near_zero", "rank_first", "among_top")
COLUMNS = ("id", "description", "article_value", "unit", "check", "source")
NOT_IN_DIVISION = "n/a (region not in this division)"

AVERAGE_COUNTIES = ("ROG", "VES", "TRO")
SLOWER_COUNTIES = ("INN", "VTE", "AGD", "MRO", "NOR", "TFI")  # all but OSL, VIK and the three above
TOP_INDUSTRIES = {"OSL": ("KNOW", "FIN"), "TRO": ("KNOW", "HEALTH")}
SCENARIO1_TOP = ("CHEM", "METAL")


def load_published(path: Path | str = PUBLISHED) -> pd.DataFrame:
    """Read and validate the list of published figures; errors name the file, row and field."""
    path = Path(path)
    try:
        df = pd.read_csv(path, keep_default_na=False)
    except (OSError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing}; expected {list(COLUMNS)}")
    raw = df["article_value"].astype(str)
    df["article_value"] = pd.to_numeric(df["article_value"], errors="coerce")
    for n, row in df.iterrows():
        where = f"{path}: row {n + 2} ({row['id']})"
        value = row["article_value"]
        if row["check"] not in CHECKS:
            raise DataError(f"{where}: check {row['check']!r} is not one of {list(CHECKS)}")
        suits = np.isfinite(value) and {"sign": value in (1, -1), "near_zero": value > 0, "rank_first": value == 1,
                                        "among_top": value >= 1 and value % 1 == 0}.get(row["check"], value != 0)
        if not suits:
            raise DataError(f"{where}: article_value {raw[n]!r} does not suit check {row['check']!r}")
    if df["id"].duplicated().any():
        raise DataError(f"{path}: duplicate id(s) {sorted(set(df['id'][df['id'].duplicated()]))}")
    return df


def _rank(values: pd.Series, key: str) -> float:
    """Rank of ``values[key]`` among the finite values, 1 = largest (ties share the better rank)."""
    finite = values[np.isfinite(values)]
    return float(1 + (finite > values[key]).sum()) if np.isfinite(values[key]) else float("nan")


def _reference_figures(ds: xr.Dataset) -> dict:
    h = headline(ds)
    national = h["mainland_gdp_per_capita_growth"]
    county = h["gdp_per_capita_growth_by_region"]
    migration = h["cumulative_migration"]  # thousand persons, region x education
    ratio = h["voc_bach_real_wage_ratio"]  # by year
    regions = set(map(str, ds.region.values))
    f = {"ref_gdp_per_capita_growth": 100 * national,
         "ref_wage_ratio_change": ratio.iloc[-1] - ratio.iloc[0],
         "ref_wage_ratio_2050": ratio.iloc[-1] - 1.0}
    for r in ("OSL",) + AVERAGE_COUNTIES:
        f[f"ref_growth_{r}"] = 100 * county[r] if r in regions else None
    for r in SLOWER_COUNTIES:
        f[f"ref_below_average_{r}"] = 100 * (county[r] - national) if r in regions else None
    f["ref_fastest_OSL"] = _rank(county, "OSL") if "OSL" in regions else None
    osl = migration.loc["OSL"] if "OSL" in regions else None
    f["ref_migration_OSL_higher"] = None if osl is None else osl["bach"] + osl["mast"]
    for e in ("low", "voc"):
        f[f"ref_migration_OSL_{e}"] = None if osl is None else osl[e]
    for r, sectors in TOP_INDUSTRIES.items():
        growth = industry_growth(ds, r) if r in regions else None
        for i in sectors:
            f[f"ref_industry_rank_{r}_{i}"] = None if growth is None else _rank(growth, i)
    return f


def _scenario1_figures(reference: xr.Dataset, s1: xr.Dataset | None) -> dict:
    keys = ["s1_migration_voc", "s1_migration_low", "s1_migration_bach", "s1_employment", "s1_population",
            "s1_real_wage_voc", "s1_real_wage_low", "s1_gross_product_per_person", "s1_industry_TOUR"]
    keys += [f"s1_industry_rank_{i}" for i in SCENARIO1_TOP]
    if s1 is None or SCENARIO_REGION not in s1.region.values:
        return dict.fromkeys(keys)
    h = scenario_headline(reference, s1, SCENARIO_REGION)
    # the article counts movers with an education (adults), not their children: compare workers
    migration, wage, industries = h["migrating_workers_by_education"], h["real_wage_pct"], h["industries_pct"]
    f = {"s1_migration_voc": migration["voc"], "s1_migration_low": migration["low"],
         "s1_migration_bach": migration["bach"], "s1_employment": h["employment_pct"],
         "s1_population": h["population_pct"], "s1_real_wage_voc": wage["voc"], "s1_real_wage_low": wage["low"],
         "s1_gross_product_per_person": h["gross_product_per_person_pct"], "s1_industry_TOUR": industries["TOUR"]}
    f.update({f"s1_industry_rank_{i}": _rank(industries, i) for i in SCENARIO1_TOP})
    return f


def _scenario2_figures(reference: xr.Dataset, s2: xr.Dataset) -> dict:
    regions = list(map(str, s2.region.values))
    region = SCENARIO_REGION if SCENARIO_REGION in regions else regions[0]  # scenario 2 uses no regional figure
    h = scenario_headline(reference, s2, region)
    whole = capital_is_whole(s2)
    return {"s2_mainland_gdp": h["mainland_gdp_pct"],
            "s2_employment_OSL_VIK": h["capital_region_employment_persons"] if whole else None}


def model_figures(reference: xr.Dataset, s1: xr.Dataset | None, s2: xr.Dataset) -> dict[str, float | None]:
    """Every figure of ``published.csv`` from the reference path and the two scenario paths.

    Units as in the file's ``unit`` column; a rank is 1 for the largest. None: the figure needs a region
    that is not in these results (``s1`` may be None when scenario 1's region is not a region of the model).
    """
    f = _reference_figures(reference) | _scenario1_figures(reference, s1) | _scenario2_figures(reference, s2)
    return {k: None if v is None else float(v) for k, v in f.items()}


def _judge(check: str, article: float, model: float) -> tuple[bool | None, bool | None]:
    """(sign_ok, magnitude_ok) of one figure; None where the check has no such part."""
    if check == "value":
        return bool(np.sign(model) == np.sign(article)), bool(0.5 <= abs(model) / abs(article) <= 2.0)
    if check == "sign":
        return bool(np.sign(model) == article), None
    if check == "near_zero":
        return None, bool(abs(model) <= article)
    if check == "rank_first":
        return bool(model == 1), None
    if check == "among_top":
        return bool(model <= article), None
    raise ValueError(f"unknown check {check!r}; expected one of {list(CHECKS)}")


def compare(published: pd.DataFrame, figures: dict) -> pd.DataFrame:
    """``published`` with columns model_value, sign_ok, magnitude_ok and note (n/a figures: NaN, None, None)."""
    missing = [i for i in published["id"] if i not in figures]
    if missing:
        raise ValueError(f"no model figure for published id(s) {missing}")
    rows = []
    for _, row in published.iterrows():
        model = figures[row["id"]]
        if model is None:
            rows.append((np.nan, None, None, NOT_IN_DIVISION))
        else:
            rows.append((model, *_judge(row["check"], row["article_value"], model), ""))
    added = pd.DataFrame(rows, columns=["model_value", "sign_ok", "magnitude_ok", "note"], index=published.index)
    return pd.concat([published, added.astype({"sign_ok": object, "magnitude_ok": object})], axis=1)


def _article_text(check: str, value: float) -> str:
    if check == "sign":
        return "> 0" if value > 0 else "< 0"
    if check == "near_zero":
        return f"within ±{value:g}"
    if check == "rank_first":
        return "1st"
    if check == "among_top":
        return f"top {value:g}"
    return f"{value:+,g}"


def _model_text(check: str, value: float) -> str:
    if not np.isfinite(value):
        return str(value)
    if check in ("rank_first", "among_top"):
        return f"rank {value:.0f}"
    return f"{value:+,.0f}" if abs(value) >= 100 else f"{value:+.3g}"


def _flag(ok, note: str, bad: str) -> str:
    return "n/a" if note else "" if ok is None else "ok" if ok else bad


def format_table(df: pd.DataFrame, markdown: bool = False) -> str:
    """The comparison as a text table (or a Markdown table), with a summary and the notes below it."""
    header = ("figure", "article", "model", "unit", "sign", "magnitude")
    rows = [(r.description, _article_text(r.check, r.article_value),
             "n/a" if r.note else _model_text(r.check, r.model_value), r.unit,
             _flag(r.sign_ok, r.note, "DIFFERS"), _flag(r.magnitude_ok, r.note, "off"))
            for r in df.itertuples()]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---", "---:", "---:", "---", "---", "---"]) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        widths = [max(len(x) for x in col) for col in zip(header, *rows)]
        right = {1, 2}
        fmt = lambda row: "  ".join(x.rjust(w) if n in right else x.ljust(w) for n, (x, w) in
                                    enumerate(zip(row, widths))).rstrip()
        lines = [fmt(header), fmt(tuple("-" * w for w in widths))] + [fmt(row) for row in rows]
    signs, sizes = df["sign_ok"].dropna(), df["magnitude_ok"].dropna()
    na = df.loc[df["note"] != "", "id"]
    notes = [f"signs (or rankings) match: {int(signs.sum())} of {len(signs)}; "
             f"magnitudes within a factor of 2 (or the bound for 'almost unchanged'): "
             f"{int(sizes.sum())} of {len(sizes)}"]
    if len(na):
        notes.append(f"{len(na)} figure(s) {NOT_IN_DIVISION}, not counted: {', '.join(na)}")
    notes.append("County growth is mainland GDP per capita (Fig. 3). Viken is not among 'the other counties': "
                 "the article counts it with Oslo ('Oslo-området').")
    return "\n".join(lines + [""] + notes)


# ---------------------------------------------------------------------------------------------
# the article's closing claim: "if all regions have their own offers it is as if none has an advantage"

EVERY_REGION_SET = SCENARIOS_DIR / "vocational_every_county.toml"
EVERY_REGION_COLUMNS = ("migrating_workers", "migrating_workers_low", "migrating_workers_voc", "population_pct",
                        "gross_product_per_person_pct")


def regions_shocked(scenario, regions) -> list[str]:
    """The regions any shock of ``scenario`` selects (a :class:`noreg_jax.scenarios.Scenario`)."""
    hit = np.zeros(len(regions), dtype=bool)
    for shock in scenario.shocks:
        hit |= np.asarray(shock.selection).any(axis=1)
    return [r for r, h in zip(regions, hit) if h]


def split_alone_and_together(scenarios, regions) -> tuple[dict, int]:
    """({region: index of the scenario that shocks that region alone}, index of the one that shocks every region).

    Raises DataError unless every region has exactly one scenario of its own and one scenario shocks them all."""
    alone, together = {}, []
    for k, sc in enumerate(scenarios):
        hit = regions_shocked(sc, regions)
        if len(hit) == len(regions):
            together.append(k)
        elif len(hit) == 1:
            if hit[0] in alone:
                raise DataError(f"scenarios {scenarios[alone[hit[0]]].name!r} and {sc.name!r} both shock "
                                f"{hit[0]} alone; the set needs one per region")
            alone[hit[0]] = k
        else:
            raise DataError(f"scenario {sc.name!r} shocks {', '.join(hit) or 'no region'}: a set for this comparison "
                            "has one scenario per region alone and one for every region at once")
    missing = [r for r in regions if r not in alone]
    if missing or len(together) != 1:
        raise DataError(f"the set needs one scenario per region alone (missing: {', '.join(missing) or 'none'}) and "
                        f"exactly one that shocks every region (found {len(together)})")
    return alone, together[0]


def _own_effects(reference: xr.Dataset, scenario: xr.Dataset, region: str) -> dict:
    h = scenario_headline(reference, scenario, region)
    workers = h["migrating_workers_by_education"]
    return {"migrating_workers": float(workers.sum()), "migrating_workers_low": float(workers["low"]),
            "migrating_workers_voc": float(workers["voc"]), "population_pct": h["population_pct"],
            "gross_product_per_person_pct": h["gross_product_per_person_pct"]}


def every_region_table(reference: xr.Dataset, alone: dict, together: xr.Dataset) -> pd.DataFrame:
    """Each region's effects with the programme in that region alone (``alone``: region -> scenario dataset)
    and with it in every region at once: cumulative net in-migration of workers 2018–2050 (all, low, voc),
    population and gross product per person in the last year (% from the reference). One row per region, a
    column pair ``<measure>_alone`` / ``<measure>_together``."""
    rows = []
    for region, ds in alone.items():
        a, t = _own_effects(reference, ds, region), _own_effects(reference, together, region)
        rows.append({"region": region, **{f"{k}_alone": a[k] for k in EVERY_REGION_COLUMNS},
                     **{f"{k}_together": t[k] for k in EVERY_REGION_COLUMNS}})
    return pd.DataFrame(rows)
