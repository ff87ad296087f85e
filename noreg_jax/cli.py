"""The ``noreg`` command line: check, info (and, as the project grows, run / sensitivity / estimate)."""

from __future__ import annotations

import argparse
import math
import sys


def _economy(args, regions=None):
    """The economy of ``--data``, ``--parameters`` and ``--regions`` (or ``regions`` where a command has its own)."""
    from noreg_jax.parameters import load_economy

    return load_economy(getattr(args, "data", None), getattr(args, "parameters", None),
                        regions if regions is not None else getattr(args, "regions", None))


def model_from_args(args, regions=None):
    """The reference path model on the economy of the command line's ``--data``, ``--parameters``, ``--regions``."""
    from noreg_jax.drivers import reference_model

    return reference_model(_economy(args, regions))


class UsageError(ValueError):
    """Options that cannot be used together; the message names them."""


def draw_count(text: str) -> int:
    """``--uncertainty``: 0 (none) or a number of draws ≥ 2."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n == 1 or n < 0:
        raise argparse.ArgumentTypeError(f"{n}: bands need at least 2 draws (0 for none)")
    return n


def figure_formats(text: str) -> tuple[str, ...]:
    """``--format``: comma-separated figure formats (png, pdf, svg)."""
    from noreg_jax.plotting import KNOWN_FORMATS

    formats = tuple(f.strip().lower() for f in text.split(","))
    unknown = [f for f in formats if f not in KNOWN_FORMATS]
    if unknown or not all(formats):
        raise argparse.ArgumentTypeError(f"{text!r}: formats are a comma-separated list of {', '.join(KNOWN_FORMATS)}")
    return formats


def figure_dpi(text: str) -> int:
    """``--dpi``: a whole number of dots per inch, 50-1200."""
    try:
        dpi = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 50 <= dpi <= 1200:
        raise argparse.ArgumentTypeError(f"{dpi}: the resolution must be 50-1200 dpi")
    return dpi


def _figure_options(parser) -> None:
    parser.add_argument("--format", type=figure_formats, default=("png",), metavar="FORMATS",
                        help="figure formats, comma-separated: png, pdf, svg (default png; e.g. png,pdf)")
    parser.add_argument("--dpi", type=figure_dpi, default=120, help="figure resolution (default 120; 300 for print)")


def _use_figure_options(args) -> None:
    from noreg_jax import plotting

    plotting.output(getattr(args, "format", ("png",)), getattr(args, "dpi", 120))


def shock_scales(text: str) -> tuple[float, ...]:
    """``--scale``: comma-separated finite multipliers, e.g. ``0.5,1,2``."""
    values = []
    for item in text.split(","):
        try:
            value = float(item)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r} in {text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{item!r} in {text!r} is not a finite number")
        values.append(value)
    return tuple(values)


def cmd_check(args) -> int:
    from noreg_jax.checks import run_checks

    economy = _economy(args)
    s = economy.benchmark.sets
    print(f"NOREG-JAX check: {s.n_regions} regions x {s.n_sectors} sectors x {s.n_education} education groups")
    results = run_checks(economy)
    width = max(len(r.name) for r in results)
    print(f"{'check'.ljust(width)}  {'value':>10}  {'tolerance':>9}  result")
    for r in results:
        print(f"{r.name.ljust(width)}  {r.value:10.2e}  {r.tolerance:9.0e}  {'ok' if r.passed else 'FAILED'}")
    failed = [r for r in results if not r.passed]
    print("all checks passed" if not failed else f"{len(failed)} check(s) FAILED")
    return 1 if failed else 0


def cmd_info(args) -> int:
    import numpy as np

    from noreg_jax.data import metadata
    from noreg_jax.equilibrium import n_unknowns

    economy = _economy(args)
    b = economy.benchmark
    s = b.sets
    total = lambda *arrays: float(sum(np.asarray(a).sum() for a in arrays))
    sh = b.shelf
    shelf_value_added = total(sh.compensation, sh.capital, sh.production_tax)
    meta = metadata(args.data) if args.data else metadata()
    print(f"base year {meta.get('base_year', 2018)}, NOK million at basic prices; national totals include the "
          "continental shelf")
    print(f"regions ({s.n_regions}): {', '.join(s.regions)}")
    print(f"sectors ({s.n_sectors}): {', '.join(s.sectors)}")
    print(f"education groups ({s.n_education}): {', '.join(s.education)}")
    print(f"unknowns of one year's equilibrium: {n_unknowns(b)}")
    rows = [("output", total(b.output, sh.output)),
            ("value added", total(b.compensation, b.capital, b.production_tax) + shelf_value_added),
            ("compensation of employees", total(b.compensation, sh.compensation)),
            ("exports", total(b.exports, sh.exports)), ("imports", total(b.imports)),
            ("household consumption", total(b.consumption)),
            ("government consumption", total(b.government)),
            ("gross fixed capital formation", total(b.investment)),
            ("continental shelf: gross product", shelf_value_added),
            ("population (thousand)", total(b.population)),
            ("employed persons (thousand)", total(b.labour_force))]
    for name, value in rows:
        print(f"  {name:32s} {value:14,.1f}")
    return 0


def cmd_run_reference(args) -> int:
    from tqdm import tqdm

    from noreg_jax.output_files import output_directory
    from noreg_jax.results import format_summary, save
    from noreg_jax.runs import run_reference

    model = model_from_args(args)
    output_directory(args.out)  # checked before the path is solved
    bar = tqdm(total=len(model.drivers.years), desc="reference path", unit="year", disable=args.quiet)
    ds = run_reference(model, progress=lambda y: bar.update(1))
    bar.close()
    path = save(ds, args.out)
    if not args.no_figures:
        import matplotlib

        matplotlib.use("Agg")  # files only, no display needed
        _use_figure_options(args)
        from noreg_jax.data import DEFAULT_DATA_DIR, load_sets, municipality_regions
        from noreg_jax.figures import reference_figures

        regions_of = municipality_regions(args.regions, load_sets(args.data or DEFAULT_DATA_DIR)) \
            if args.regions else None
        for f in reference_figures(ds, args.out, regions_of):
            print(f"figure: {f}")
    print(format_summary(ds))
    print(f"results: {path}")
    return 0


def cmd_run_scenario(args) -> int:
    from noreg_jax.output_files import atomic_output, output_directory, write_table
    from noreg_jax.results import compare, format_scenario_summary, save
    from noreg_jax.runs import cached_reference, describe_failures, solve_scenarios
    from noreg_jax.scenarios import ScenarioError, parse_scenarios

    model = model_from_args(args)
    read = [(f, sc) for f in args.files for sc in parse_scenarios(f, model)]
    scenarios = [sc for _, sc in read]
    first_file = {}
    for f, sc in read:
        if sc.name in first_file:  # its results would overwrite the first one's
            raise ScenarioError(f"{f}: field 'name' repeats the name of {first_file[sc.name]} (value {sc.name!r}); "
                                "scenarios run together need distinct names")
        first_file[sc.name] = f
    region = model.economy.benchmark.sets.region_of(args.region)
    if region != args.region:
        print(f"{args.region} is part of region {region} in this aggregation: the scenario figures are for {region}")
    scales = args.scale or (1.0,)
    if args.uncertainty and tuple(scales) != (1.0,):
        raise UsageError("--uncertainty cannot be combined with --scale: run the scales without bands, or the "
                         "bands at scale 1")
    out = output_directory(args.out)  # checked before anything is solved
    reference, reused = cached_reference(model, None if args.no_cache else args.cache)
    print(f"reference path: {'reused from cache' if reused else 'solved'}")
    print(f"solving {len(scenarios) * len(scales)} scenario path(s) as one batch ...", flush=True)
    save(reference, out)
    solved, failures = solve_scenarios(model, scenarios, scales)
    draws = _scenario_draws(args, model, scenarios, scales, solved, out)
    for ds in solved:
        save(ds, out)
        dev = compare(ds, reference)
        dev.attrs["name"] = f"{ds.attrs['name']}_vs_reference"
        with atomic_output(out / f"{dev.attrs['name']}.nc") as tmp:
            dev.to_netcdf(tmp, engine="h5netcdf")
        bands = None
        if draws is not None and ds.attrs["name"] in draws[1]:
            from noreg_jax.figures import scenario_bands
            from noreg_jax.results import headline_intervals

            refs, runs = draws[0], draws[1][ds.attrs["name"]]
            bands = scenario_bands(refs, runs, region)
            table = headline_intervals(reference, ds, refs, runs, region)
            write_table(table, out / f"{ds.attrs['name']}_uncertainty.csv", index=True, digits=6)
        else:  # an interval table from an earlier run into this folder would not describe these results
            (out / f"{ds.attrs['name']}_uncertainty.csv").unlink(missing_ok=True)
        if not args.no_figures:
            from noreg_jax.figures import scenario_figures

            _use_figure_options(args)
            for f in scenario_figures(reference, ds, out, region, bands=bands):
                print(f"figure: {f}")
        print(format_scenario_summary(reference, ds, region))
        if bands is not None:
            print(f"  90 % intervals over {len(draws[0])} parameter draws:")
            for label, row in table.iterrows():
                print(f"    {label}: {row['central']:+,.3f} [{row['low']:+,.3f}, {row['high']:+,.3f}]")
    print(f"results: {out}")
    if failures:  # the converged scenarios are written above; the failed ones are listed, not dropped
        import pandas as pd

        with atomic_output(out / "failures.csv") as tmp:
            pd.DataFrame(failures).to_csv(tmp, index=False)
        print(f"noreg: {describe_failures(failures)}; listed in {out / 'failures.csv'}", file=sys.stderr)
        return 3
    (out / "failures.csv").unlink(missing_ok=True)  # from an earlier run into this folder
    return 0


def _scenario_draws(args, model, scenarios, scales, solved, out):
    """With ``--uncertainty N``: (reference per draw, {scenario: path per draw}) for the converged scenarios,
    else None. Failed draws are listed in uncertainty_failures.csv and on stderr, and left out of the bands."""
    (out / "uncertainty_failures.csv").unlink(missing_ok=True)  # from an earlier run into this folder
    if not args.uncertainty:
        return None
    from noreg_jax.output_files import atomic_output
    from noreg_jax.runs import scenario_draws

    names = {ds.attrs["name"] for ds in solved}
    kept = [sc for sc in scenarios if sc.name in names]
    print(f"solving {args.uncertainty} parameter draws x {len(kept) + 1} paths as one batch (90 % bands) ...",
          flush=True)
    _, references, by_scenario, failures = scenario_draws(model, kept, args.uncertainty, seed=args.seed)
    if failures:
        import pandas as pd

        with atomic_output(out / "uncertainty_failures.csv") as tmp:
            pd.DataFrame(failures).to_csv(tmp, index=False)
        print(f"noreg: {len({f['draw'] for f in failures})} of {args.uncertainty} draws did not converge and are "
              f"left out of the bands; listed in {out / 'uncertainty_failures.csv'}", file=sys.stderr)
    if len(references) < 2:
        from noreg_jax.dynamics import PathNotConverged

        raise PathNotConverged(f"only {len(references)} of {args.uncertainty} parameter draws converged: no bands")
    return references, by_scenario


def _article_paths(args, model):
    """The reference path (cached) and the article's two scenarios: (reference, scenario 1, scenario 2).

    Scenario 1 is None (not run) where its region is not a region of this division.
    """
    from noreg_jax.article import SCENARIO_FILES, SCENARIO_REGION, SCENARIOS_DIR
    from noreg_jax.runs import cached_reference, run_scenarios
    from noreg_jax.scenarios import parse_scenario

    sets = model.economy.benchmark.sets
    run_s1 = SCENARIO_REGION in sets.regions or any(
        sets.counties_of(n) == (SCENARIO_REGION,) for n in range(sets.n_regions))  # the region, or its parts
    if not run_s1:
        print(f"scenario 1 not run: {SCENARIO_REGION} is not a region of this division", file=sys.stderr)
    files = SCENARIO_FILES if run_s1 else SCENARIO_FILES[1:]
    scenarios = [parse_scenario(SCENARIOS_DIR / f, model) for f in files]
    reference, reused = cached_reference(model, None if args.no_cache else args.cache)
    print(f"reference path: {'reused from cache' if reused else 'solved'}; solving {len(scenarios)} scenario "
          "path(s) as one batch ...", file=sys.stderr, flush=True)
    paths = run_scenarios(model, scenarios)
    from noreg_jax.results import merge_parts

    # the article's figures are by county: the parts of a county the division splits are merged back
    reference, paths = merge_parts(reference, sets), [merge_parts(p, sets) for p in paths]
    return (reference, *paths) if run_s1 else (reference, None, *paths)


def cmd_compare_article(args) -> int:
    from noreg_jax.article import compare, format_table, load_published, model_figures
    from noreg_jax.output_files import output_directory, write_table

    published = load_published()
    model = model_from_args(args)  # inputs first, then the output folder, then the solves
    out = output_directory(args.out)
    table = compare(published, model_figures(*_article_paths(args, model)))
    print(format_table(table, markdown=args.markdown))
    write_table(table, out / "article_comparison.csv")
    print(f"comparison: {out / 'article_comparison.csv'}", file=sys.stderr)
    return 1 if table["sign_ok"].eq(False).any() else 0


def cmd_compare_every_region(args) -> int:
    from noreg_jax.article import every_region_table, split_alone_and_together
    from noreg_jax.output_files import output_directory, write_table
    from noreg_jax.results import mainland
    from noreg_jax.runs import cached_reference, run_scenarios
    from noreg_jax.scenarios import parse_scenarios

    model = model_from_args(args)
    from noreg_jax.article import EVERY_REGION_SET

    scenarios = parse_scenarios(args.set or EVERY_REGION_SET, model)
    alone, together = split_alone_and_together(scenarios, model.economy.benchmark.sets.regions)
    out = output_directory(args.out)
    reference, reused = cached_reference(model, None if args.no_cache else args.cache)
    print(f"reference path: {'reused from cache' if reused else 'solved'}; solving {len(scenarios)} scenario "
          "path(s) as one batch ...", file=sys.stderr, flush=True)
    paths = run_scenarios(model, scenarios)
    table = every_region_table(reference, {r: paths[k] for r, k in alone.items()}, paths[together])
    last = int(reference.year[-1])
    gdp = lambda ds: float(mainland(ds).sum("region").sel(year=last))
    national = {"alone_sum": sum(gdp(paths[k]) - gdp(reference) for k in alone.values()),
                "together": gdp(paths[together]) - gdp(reference)}
    write_table(table, out / "every_region.csv", digits=6)
    shown = table.rename(columns=lambda c: c.replace("migrating_workers", "workers").replace("gross_product_per_"
                                                                                           "person", "gp/person"))
    print(f"each region's own effects, programme alone vs in every region at once (workers: cumulative net "
          f"in-migration 2018–{last}; % in {last}):")
    print(shown.to_string(index=False, formatters={c: ("{:+,.0f}" if c.startswith("workers") else "{:+.3f}").format
                                                    for c in shown.columns if c != "region"}))
    print(f"mainland gross product {last}, NOK million at 2018 prices: sum of the regions alone "
          f"{national['alone_sum']:+,.0f}, all at once {national['together']:+,.0f}")
    print(f"table: {out / 'every_region.csv'}", file=sys.stderr)
    return 0


LISTS = ("regions", "sectors", "education", "drivers", "outcomes", "parameters", "divisions")


def cmd_list(args) -> int:
    """Print one of LISTS as an aligned table (codes, names, dimensions, units)."""
    rows: list[tuple]
    if args.what in ("regions", "sectors", "education", "parameters"):
        economy = _economy(args)
        s = economy.benchmark.sets
    if args.what == "regions":
        header = ("code", "name", "counties")
        rows = [(c, n, "+".join(s.counties_of(k))) for k, (c, n) in enumerate(zip(s.regions, s.region_names))]
    elif args.what == "sectors":
        header = ("code", "name", "kind")
        rows = [(c, n, ", ".join(k for k, flag in (("energy", e), ("public", p), ("goods", g)) if flag) or "services")
                for c, n, e, p, g in zip(s.sectors, s.sector_names, s.energy, s.public, s.goods)]
    elif args.what == "education":
        header = ("code", "name")
        rows = list(zip(s.education, s.education_names))
    elif args.what == "drivers":
        from noreg_jax.scenarios import DRIVERS

        header = ("driver", "dimensions")
        rows = [(d, " x ".join(dims)) for d, dims in DRIVERS.items()]
    elif args.what == "outcomes":
        from noreg_jax.results import units
        from sensitivity.outcomes import VARIABLES

        header = ("outcome", "dimensions", "combined by", "units")
        rows = [(name, " x ".join(dims), how, units(key))
                for name, (key, dims, how) in VARIABLES.items()]
    elif args.what == "parameters":
        from noreg_jax.parameters import Parameters

        header = ("parameter", "shape")
        p = economy.params
        rows = [(f, "x".join(str(n) for n in getattr(p, f).shape) or "scalar") for f in Parameters.__dataclass_fields__]
    else:  # divisions
        from noreg_jax.data import MAPPINGS_DIR, load_sets, read_division

        sets = load_sets()
        header = ("division", "regions", "file")
        rows = []
        for f in sorted(MAPPINGS_DIR.glob("*.csv")):
            groups = {g for parts in read_division(f, sets)[0].values() for g in parts}
            rows.append((f.stem, str(len(groups)), f.name))
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    for r in [header, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip())
    return 0


def cmd_verify(args) -> int:
    from noreg_jax.manifest import ManifestError, verify

    try:
        m = verify(args.folder)
    except ManifestError as exc:
        print(f"noreg: {exc}", file=sys.stderr)
        return 1
    print(f"{args.folder}: {len(m['outputs'])} file(s) as written by `{' '.join(m['command'])}` "
          f"(revision {m.get('git_revision')}, {m['wall_time_s']:.1f} s); {len(m['paths'])} path(s), all converged")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from noreg_jax import __version__

    parser = argparse.ArgumentParser(prog="noreg", description=__doc__)
    parser.add_argument("--version", action="version", version=f"noreg-jax {__version__}")
    parser.add_argument("--data", default=None, help="benchmark data directory (default: the shipped 2018 SAM)")
    parser.add_argument("--parameters", default=None, help="parameter directory (default: shipped)")
    parser.add_argument("--regions", default=None,
                        help="another division of the counties: a mapping CSV (region,group[,share]) that aggregates "
                             "them, e.g. landsdeler.csv, or splits them by shares (noreg_jax/data/mappings/README.md)")
    parser.add_argument("--no-compile-cache", action="store_true",
                        help="do not read or write compiled programs in the user cache folder "
                             "(~/.cache/noreg-jax/xla or $NOREG_JAX_CACHE_DIR; also NOREG_JAX_COMPILE_CACHE=0)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="replication, homogeneity and Walras' law on the shipped data").set_defaults(
        func=cmd_check)
    sub.add_parser("info", help="dimensions and key totals of the data set").set_defaults(func=cmd_info)
    run = sub.add_parser("run", help="run a path: the reference path (2018–2050) or a scenario")
    run_sub = run.add_subparsers(dest="what", required=True)
    ref = run_sub.add_parser("reference", help="the reference path 2018–2050 (Perspektivmeldingen 2021)")
    ref.add_argument("--out", default="results/reference", help="output directory")
    ref.add_argument("--no-figures", action="store_true", help="skip the figures")
    _figure_options(ref)
    ref.add_argument("--quiet", action="store_true", help="no progress bar")
    ref.set_defaults(func=cmd_run_reference)
    scn = run_sub.add_parser("scenario", help="scenario file(s) (TOML) vs the reference path, batched")
    scn.add_argument("files", nargs="+", help="scenario TOML files (see scenarios/)")
    scn.add_argument("--out", default="results/scenarios", help="output directory")
    scn.add_argument("--scale", default=None, type=shock_scales,
                     help="comma-separated multipliers of every shock, e.g. 0.5,1,2 (finite numbers)")
    scn.add_argument("--region", default="TRO", help="region of the article's scenario figures")
    scn.add_argument("--uncertainty", type=draw_count, default=0, metavar="N",
                     help="also solve every scenario under N quasi-random draws of the parameter uncertainty "
                          "(sensitivity/data/uncertainty.csv) and draw 90 %% bands (default 0: none)")
    scn.add_argument("--seed", type=int, default=0, help="seed of the scrambled Sobol' draws (default 0)")
    scn.add_argument("--cache", default="results/cache", help="where the reference path is cached")
    scn.add_argument("--no-cache", action="store_true", help="always re-solve the reference path")
    scn.add_argument("--no-figures", action="store_true", help="skip the figures")
    _figure_options(scn)
    scn.set_defaults(func=cmd_run_scenario)
    compare = sub.add_parser("compare", help="compare the model with published figures")
    compare_sub = compare.add_subparsers(dest="what", required=True)
    about = ("the article's figures for the reference path and both scenarios; exit status 1 if a sign differs "
             "(progress on stderr, the table on stdout)")
    art = compare_sub.add_parser("article", help=about, description=about)
    art.add_argument("--out", default="results/compare", help="output directory (article_comparison.csv)")
    art.add_argument("--cache", default="results/cache", help="where the reference path is cached")
    art.add_argument("--no-cache", action="store_true", help="always re-solve the reference path")
    art.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    art.set_defaults(func=cmd_compare_article)
    about = ("the article's closing claim: a programme in each region alone against the same programme in every "
             "region at once (a scenario set; default: scenario 1's vocational programme)")
    every = compare_sub.add_parser("every-region", help=about, description=about)
    every.add_argument("--set", default=None, help="scenario set TOML: one scenario per region alone and one for all at once (default: "
                                                   "scenarios/vocational_every_county.toml, by county)")
    every.add_argument("--out", default="results/every_region", help="output directory (every_region.csv)")
    every.add_argument("--cache", default="results/cache", help="where the reference path is cached")
    every.add_argument("--no-cache", action="store_true", help="always re-solve the reference path")
    every.set_defaults(func=cmd_compare_every_region)
    sens = sub.add_parser("sensitivity", help="gradients and Sobol indices of path outcomes")
    sens_sub = sens.add_subparsers(dest="analysis", required=True)
    from sensitivity import gradients, sobol

    gradients.register_cli(sens_sub)
    sobol.register_cli(sens_sub)
    from calibration import estimate
    from sensitivity import decomposition

    estimate.register_cli(sub)
    decomposition.register_cli(sub)
    from noreg_jax import policy

    policy.register_cli(sub)
    lst = sub.add_parser("list", help="codes and names of regions, sectors, education groups; scenario drivers; "
                                      "outcomes with units; parameters; shipped divisions")
    lst.add_argument("what", choices=LISTS)
    lst.set_defaults(func=cmd_list)
    about = "check a results folder against its run manifest (run.json): every file as written, the run complete"
    ver = sub.add_parser("verify", help=about, description=about)
    ver.add_argument("folder", help="an output folder of a noreg command")
    ver.set_defaults(func=cmd_verify)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if not args.no_compile_cache:
        from noreg_jax.compile_cache import enable

        enable()
    from noreg_jax.data import DataError
    from noreg_jax.dynamics import PathNotConverged
    from noreg_jax.equilibrium import NotConverged
    from noreg_jax.scenarios import ScenarioError
    from calibration.estimate import EstimationError
    from noreg_jax.policy import PolicyError
    from sensitivity.decomposition import DecompositionError
    from sensitivity.outcomes import OutcomeError

    from noreg_jax import manifest

    out = getattr(args, "out", None)
    if out is not None:  # every command that writes a folder gets a run manifest, written last
        manifest.begin(["noreg", *(sys.argv[1:] if argv is None else argv)], manifest.input_paths(args))
    outcome, rc, message = "interrupted", 130, "interrupted (KeyboardInterrupt)"
    try:
        rc = args.func(args)
        # 1: a finding (compare article: a sign differs); 3, 4: some paths or the optimiser did not converge
        outcome, message = ("completed", "") if rc in (0, 1) else ("completed with failures", f"exit status {rc}")
        return rc
    except (DataError, ScenarioError, EstimationError, OutcomeError, DecompositionError,
            PolicyError, UsageError) as exc:
        print(f"noreg: input error: {exc}", file=sys.stderr)
        outcome, rc, message = "failed", 2, f"input error: {exc}"
        return 2
    except (NotConverged, PathNotConverged) as exc:
        print(f"noreg: {exc}", file=sys.stderr)
        outcome, rc, message = "failed", 3, str(exc)
        return 3
    except Exception as exc:
        outcome, rc, message = "failed", 1, f"{type(exc).__name__}: {exc}"
        raise
    finally:
        if out is not None:
            manifest.finish(out, outcome, rc, message)


if __name__ == "__main__":
    sys.exit(main())
