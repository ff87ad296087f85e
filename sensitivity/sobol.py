"""Sobol indices of headline outcomes over parameter uncertainty (README "Sensitivity and estimation"), from a config
file.

    noreg sensitivity sobol sensitivity/configs/ci_small.toml --out results/sobol_ci

1. the SALib problem comes from the uncertainty file (:mod:`sensitivity.uncertainty`): one factor per row,
   optionally grouped (``[sobol] groups = true``: indices per group, and N·(G+2) runs instead of N·(d+2));
2. the draws are Saltelli's extension of a scrambled Sobol' sequence (``SALib.sample.sobol``; not the
   deprecated ``saltelli`` module), N = ``base_samples`` (a power of 2) base rows, each the start of a
   *block* of G+2 rows (2G+2 with second-order indices): A, the G rows A_B^(i), [B_A^(i)], B;
3. the draws are evaluated by a checkpointed, resumable sweep (:mod:`sensitivity.sweep`) with a tqdm
   progress bar over chunks; run the same command again to resume a stopped one;
4. first- and total-order (and with ``second_order`` second-order) indices with bootstrap confidence
   intervals (``SALib.analyze.sobol``) are written to ``sobol_indices.csv`` (``sobol_second_order.csv``)
   and drawn to ``sobol_indices.png``; the outcome distributions are summarised with arviz
   (:mod:`sensitivity.summaries`).

Failed draws. Saltelli's estimators combine the rows of a block (A, A_B^(i), B of the same base row), so a
block with a failed row cannot be used. Every block that holds a failed draw is dropped *whole*, from every
outcome, and the analysis runs on the N' complete blocks (SALib's estimators are per-block means, so any
N' ≥ 2 works; the Sobol' sequence loses its balance properties, and the indices describe the parameter
region where the model solves). The number of failed draws and of dropped blocks is written beside the
indices and printed; a failed draw's parameters and status are in ``failures.csv``. Indices are never
computed from non-finite outputs (SALib would silently return zeros); an outcome that does not vary
gets NaN indices and a note.

Configs: ``sensitivity/configs/*.toml``; paths in a config are relative to the config file.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from noreg_jax.config_files import read_toml
from noreg_jax.data import DataError
from noreg_jax.output_files import atomic_output, output_directory, save_figure, write_table
from sensitivity.sweep import (
    DrawOutput,
    Evaluator,
    EvaluatorSpec,
    Headline,
    SweepError,
    SweepResult,
    build_evaluator,
    open_sweep,
    pending_chunks,
    run_sweep,
    sweep_lock,
)

CONFIG_DIR = Path(__file__).parent / "configs"
SWEEP_DIR = "sweep"


class ConfigError(DataError):
    """A malformed sensitivity config; the message names the file, field and value."""


# ---------------------------------------------------------------------------------------------
# configs


@dataclass(frozen=True)
class SobolConfig:
    """A Sobol analysis: model, uncertainty, scenarios, headline outcomes, design and sweep settings."""

    path: str
    name: str
    description: str = ""
    regions: str | None = None
    uncertainty: str | None = None  # None: the shipped sensitivity/data/uncertainty.csv
    scenarios: tuple[str, ...] = ()
    headlines: tuple[Headline, ...] = ()
    base_samples: int = 64
    groups: bool = True
    second_order: bool = False
    seed: int = 2018
    resamples: int = 200
    conf_level: float = 0.95
    chunk_size: int = 8
    vmap_width: int = 1
    solver_tol: float | None = None
    solver_max_iter: int | None = None
    estimated_seconds_per_path: dict = field(default_factory=dict, compare=False)

    def with_overrides(self, **kwargs) -> "SobolConfig":
        return replace(self, **{k: v for k, v in kwargs.items() if v is not None})

    def spec(self) -> EvaluatorSpec:
        return EvaluatorSpec.of("sensitivity.sobol:config_evaluator", config=self.path, regions=self.regions)


def _get(data, path, key, kind, default=None, required=False):
    if key not in data:
        if required:
            raise ConfigError(f"{path}: field '{key}' is missing")
        return default
    value = data[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{path}: field '{key}' must be {kind.__name__}, found {value!r}")
    return value


def _resolve(base: Path, raw: str, path, field_name) -> str:
    p = Path(raw)
    p = p if p.is_absolute() else (base / p)
    if not p.exists():
        raise ConfigError(f"{path}: field '{field_name}' names a file that does not exist: {raw!r} ({p})")
    return str(p.resolve())


SOBOL_KEYS = {"base_samples", "groups", "second_order", "seed", "resamples", "conf_level"}
SWEEP_KEYS = {"chunk_size", "vmap_width", "solver_tol", "solver_max_iter"}


def load_config(path) -> SobolConfig:
    """Read and validate a Sobol config (TOML; see sensitivity/configs/ci_small.toml)."""
    path = Path(path)
    data = read_toml(ConfigError, path)
    known = {"name", "description", "regions", "uncertainty", "scenarios", "outcomes", "sobol", "sweep", "estimate"}
    for key in data:
        if key not in known:
            raise ConfigError(f"{path}: field '{key}' is not a config field; expected one of {sorted(known)}")
    base = path.parent
    scen = _get(data, path, "scenarios", list, [])
    scenarios = tuple(_resolve(base, s, path, "scenarios") for s in scen)
    unc = _get(data, path, "uncertainty", str)
    sobol = _get(data, path, "sobol", dict, {})
    sweep = _get(data, path, "sweep", dict, {})
    for table, raw, allowed in (("sobol", sobol, SOBOL_KEYS), ("sweep", sweep, SWEEP_KEYS)):
        for key in raw:
            if key not in allowed:  # a typo would silently leave the default in place
                raise ConfigError(f"{path}: field '{table}.{key}' is not a {table} setting (value {raw[key]!r}); "
                                  f"expected one of {sorted(allowed)}")
    headlines = []
    for n, raw in enumerate(_get(data, path, "outcomes", list, [], required=True)):
        where = f"{path}[outcomes {n}]"
        allowed = {"name", "spec", "scenario", "measure", "per", "unit", "label"}
        if not isinstance(raw, dict) or set(raw) - allowed:
            raise ConfigError(f"{where}: must be a table with fields among {sorted(allowed)}, found {raw!r}")
        headlines.append(Headline(name=_get(raw, where, "name", str, required=True),
                                  spec=_get(raw, where, "spec", str, required=True),
                                  scenario=_get(raw, where, "scenario", str, "reference"),
                                  measure=_get(raw, where, "measure", str, "level"),
                                  per=_get(raw, where, "per", str), unit=_get(raw, where, "unit", str, ""),
                                  label=_get(raw, where, "label", str, "")))
    names = [h.name for h in headlines]
    if len(set(names)) != len(names) or not names:
        raise ConfigError(f"{path}: field 'outcomes' needs at least one outcome and distinct names, found {names}")
    cfg = SobolConfig(
        path=str(path.resolve()), name=_get(data, path, "name", str, path.stem),
        description=_get(data, path, "description", str, ""), regions=_get(data, path, "regions", str),
        uncertainty=_resolve(base, unc, path, "uncertainty") if unc else None, scenarios=scenarios,
        headlines=tuple(headlines),
        base_samples=_get(sobol, path, "base_samples", int, 64), groups=_get(sobol, path, "groups", bool, True),
        second_order=_get(sobol, path, "second_order", bool, False), seed=_get(sobol, path, "seed", int, 2018),
        resamples=_get(sobol, path, "resamples", int, 200), conf_level=_get(sobol, path, "conf_level", float, 0.95),
        chunk_size=_get(sweep, path, "chunk_size", int, 8), vmap_width=_get(sweep, path, "vmap_width", int, 1),
        solver_tol=_get(sweep, path, "solver_tol", float),
        solver_max_iter=_get(sweep, path, "solver_max_iter", int),
        estimated_seconds_per_path=_get(data, path, "estimate", dict, {}))
    check_design(cfg)
    return cfg


def check_design(cfg: SobolConfig):
    where = cfg.path
    n = cfg.base_samples
    if n < 2 or n & (n - 1):
        raise ConfigError(f"{where}: field 'sobol.base_samples' must be a power of 2 (>= 2), found {n!r}")
    if cfg.chunk_size < 1 or cfg.vmap_width < 1 or cfg.resamples < 10 or not 0 < cfg.conf_level < 1:
        raise ConfigError(f"{where}: chunk_size and vmap_width must be >= 1, resamples >= 10 and conf_level in "
                          f"(0, 1); found {cfg.chunk_size}, {cfg.vmap_width}, {cfg.resamples}, {cfg.conf_level}")


def config_uncertainty(cfg: SobolConfig):
    from sensitivity.uncertainty import DEFAULT_UNCERTAINTY, load_uncertainty

    return load_uncertainty(cfg.uncertainty or DEFAULT_UNCERTAINTY)


FROM_CONFIG = "<config>"


def config_evaluator(config: str, regions: str | None = FROM_CONFIG) -> Evaluator:
    """The model evaluator of a config file (a factory for :class:`~sensitivity.sweep.EvaluatorSpec`).

    ``regions``: a mapping file, None for the 11 counties, or (default) the config's own ``regions``.
    """
    from noreg_jax.drivers import reference_model
    from noreg_jax.scenarios import parse_scenario
    from noreg_jax.solver import SolverOptions
    from sensitivity.sweep import model_evaluator

    cfg = load_config(config)
    model = reference_model(regions=cfg.regions if regions == FROM_CONFIG else regions)
    scenarios = [parse_scenario(p, model) for p in cfg.scenarios]
    options = SolverOptions()._replace(**{k: v for k, v in (("tol", cfg.solver_tol),
                                                             ("max_iter", cfg.solver_max_iter)) if v is not None})
    return model_evaluator(model, config_uncertainty(cfg), scenarios, list(cfg.headlines), options)


# ---------------------------------------------------------------------------------------------
# design and analysis


def n_groups(problem: dict) -> int:
    groups = problem.get("groups") or problem["names"]
    return len(dict.fromkeys(groups))


def factor_names(problem: dict) -> list[str]:
    """The names the indices are reported for: the groups, or the factors when there are none."""
    return list(dict.fromkeys(problem.get("groups") or problem["names"]))


def block_size(problem: dict, second_order: bool) -> int:
    g = n_groups(problem)
    return 2 * g + 2 if second_order else g + 2


def sample(problem: dict, base_samples: int, second_order: bool = False, seed: int = 2018) -> np.ndarray:
    """Saltelli's design on a scrambled Sobol' sequence: base_samples·(G+2) rows (2G+2 with second order)."""
    from SALib.sample import sobol as sobol_sample

    return sobol_sample.sample(problem, base_samples, calc_second_order=second_order, scramble=True, seed=seed)


def complete_blocks(ok: np.ndarray, problem: dict, second_order: bool) -> np.ndarray:
    """(N,) True for each Saltelli block whose rows all solved."""
    step = block_size(problem, second_order)
    if ok.size % step:
        raise ValueError(f"{ok.size} rows are not whole blocks of {step}")
    return ok.reshape(-1, step).all(axis=1)


def design_rows(n_rows: int, problem: dict, second_order: bool, blocks: np.ndarray | None = None) -> np.ndarray:
    """Indices of the A and B rows (independent draws from the joint distribution) of the given blocks."""
    step = block_size(problem, second_order)
    n = n_rows // step
    blocks = np.ones(n, bool) if blocks is None else blocks
    starts = np.flatnonzero(blocks) * step
    return np.sort(np.concatenate([starts, starts + step - 1]))


@dataclass
class SobolIndices:
    """Indices of every outcome: ``first_total`` (outcome, factor, S1, S1_conf, ST, ST_conf), ``second``
    (outcome, factor_i, factor_j, S2, S2_conf) or None, and how many blocks were used."""

    first_total: pd.DataFrame
    second: pd.DataFrame | None
    n_blocks: int
    n_blocks_used: int
    n_failed_draws: int
    notes: list[str]

    def table(self, outcome: str) -> pd.DataFrame:
        return self.first_total[self.first_total.outcome == outcome].set_index("factor").drop(columns="outcome")


def analyze(problem: dict, sweep: SweepResult, second_order: bool = False, resamples: int = 200,
            conf_level: float = 0.95, seed: int = 2018) -> SobolIndices:
    """First/total (and second) order indices of every outcome of a finished sweep of a Saltelli design.

    Blocks with a failed draw are dropped whole (module docstring); raises if fewer than 2 remain.
    """
    from SALib.analyze import sobol as sobol_analyze

    if not sweep.complete:
        raise SweepError(f"{sweep.directory}: the sweep is not finished ({int(sweep.done.sum())} of "
                         f"{sweep.status.size} draws); run it again to resume")
    step = block_size(problem, second_order)
    blocks = complete_blocks(sweep.ok, problem, second_order)
    rows = (np.flatnonzero(blocks)[:, None] * step + np.arange(step)[None, :]).ravel()
    if blocks.sum() < 2:
        raise SweepError(f"{sweep.directory}: only {int(blocks.sum())} of {blocks.size} Saltelli blocks are "
                         f"complete ({sweep.n_failed} failed draws); no indices can be estimated")
    names = factor_names(problem)
    first, second, notes = [], [], []
    for k, outcome in enumerate(sweep.outcome_names):
        y = sweep.outcomes[rows, k]
        if not np.isfinite(y).all():  # cannot happen for ok rows; SALib would return zeros silently
            raise SweepError(f"outcome {outcome!r}: non-finite values in complete blocks")
        if np.ptp(y) <= 1e-12 * max(1.0, float(np.abs(y).max())):
            notes.append(f"{outcome}: constant over the draws ({y[0]:.6g}); indices undefined (NaN)")
            for name in names:
                first.append((outcome, name, np.nan, np.nan, np.nan, np.nan))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sample size not a power of 2" after dropped blocks
            si = sobol_analyze.analyze(problem, y, calc_second_order=second_order, num_resamples=resamples,
                                       conf_level=conf_level, seed=seed or 1)
        for j, name in enumerate(names):
            first.append((outcome, name, si["S1"][j], si["S1_conf"][j], si["ST"][j], si["ST_conf"][j]))
        if second_order:
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    second.append((outcome, names[i], names[j], si["S2"][i, j], si["S2_conf"][i, j]))
    ft = pd.DataFrame(first, columns=["outcome", "factor", "S1", "S1_conf", "ST", "ST_conf"])
    s2 = pd.DataFrame(second, columns=["outcome", "factor_i", "factor_j", "S2", "S2_conf"]) if second_order else None
    if blocks.sum() < blocks.size:
        notes.append(f"{blocks.size - int(blocks.sum())} of {blocks.size} Saltelli blocks dropped: they hold "
                     f"{sweep.n_failed} failed draw(s) (failures.csv)")
    return SobolIndices(ft, s2, int(blocks.size), int(blocks.sum()), sweep.n_failed, notes)


def save_indices(indices: SobolIndices, out) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "sobol_indices.csv"]
    df = indices.first_total.assign(blocks_used=indices.n_blocks_used, blocks=indices.n_blocks,
                                    failed_draws=indices.n_failed_draws)
    write_table(df, paths[0], digits=6)
    if indices.second is not None:
        paths.append(out / "sobol_second_order.csv")
        write_table(indices.second, paths[-1], digits=6)
    return paths


def plot_indices(indices: SobolIndices, path=None, labels: dict | None = None, title: str = "",
                 conf_level: float = 0.95):
    """Bars of S1 and ST (with confidence intervals) per factor, one panel per outcome. Returns the figure."""
    import matplotlib.pyplot as plt

    outcomes = list(dict.fromkeys(indices.first_total.outcome))
    cols = min(3, len(outcomes))
    rows = math.ceil(len(outcomes) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False, layout="constrained")
    for ax, outcome in zip(axes.ravel(), outcomes):
        t = indices.table(outcome)
        x = np.arange(len(t))
        ax.bar(x - 0.2, t.S1, 0.4, yerr=t.S1_conf, label="first order S1", color="#4c72b0", capsize=2)
        ax.bar(x + 0.2, t.ST, 0.4, yerr=t.ST_conf, label="total order ST", color="#dd8452", capsize=2)
        ax.set_xticks(x, t.index, rotation=30, ha="right")
        ax.axhline(0, color="grey", linewidth=0.6)
        low = np.nanmin((t.S1 - t.S1_conf).to_numpy(), initial=0.0)
        high = np.nanmax(np.r_[(t.S1 + t.S1_conf).to_numpy(), (t.ST + t.ST_conf).to_numpy()], initial=1.0)
        ax.set_ylim(min(-0.1, float(low) - 0.05), max(1.1, float(high) + 0.05))
        ax.set_title((labels or {}).get(outcome, outcome), fontsize=9)
    for ax in axes.ravel()[len(outcomes):]:
        ax.set_visible(False)
    axes.ravel()[0].legend(fontsize=8)
    fig.suptitle(title or f"Sobol indices ({indices.n_blocks_used} of {indices.n_blocks} blocks, "
                 f"{round(100 * conf_level)} % bootstrap intervals)", fontsize=10)
    if path is not None:
        save_figure(fig, path, dpi=110)
    return fig


# ---------------------------------------------------------------------------------------------
# the Ishigami function: a check of the whole pipeline against known indices

ISHIGAMI_PROBLEM = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-math.pi, math.pi]] * 3}


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> pd.DataFrame:
    """Analytic first- and total-order indices of f = sin x1 + a sin² x2 + b x3⁴ sin x1 on [-π, π]³."""
    v1 = 0.5 * (1 + b * math.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = 8 * b**2 * math.pi**8 / 225
    var = v1 + v2 + v13
    return pd.DataFrame({"S1": [v1 / var, v2 / var, 0.0], "ST": [(v1 + v13) / var, v2 / var, v13 / var]},
                        index=pd.Index(["x1", "x2", "x3"], name="factor"))


def ishigami_evaluator(a: float = 7.0, b: float = 0.1, fail_above: float | None = None) -> Evaluator:
    """The Ishigami function as a sweep evaluator; draws with x1 > ``fail_above`` report a failed solve."""
    import jax.numpy as jnp

    def evaluate_draw(x):
        y = jnp.sin(x[0]) + a * jnp.sin(x[1]) ** 2 + b * x[2] ** 4 * jnp.sin(x[0])
        ok = jnp.asarray(True) if fail_above is None else x[0] <= fail_above
        return DrawOutput(jnp.where(ok, y, jnp.nan)[None], ok[None], jnp.where(ok, 0.0, jnp.inf)[None])

    return Evaluator(f"ishigami(a={a},b={b},fail_above={fail_above})", ("ishigami",), ("ishigami",), evaluate_draw,
                     units=("",), labels=("Ishigami function",))


# ---------------------------------------------------------------------------------------------
# the whole analysis


def run_design(problem: dict, evaluator: Evaluator, out, *, base_samples: int, second_order: bool = False,
               seed: int = 2018, resamples: int = 200, conf_level: float = 0.95, chunk_size: int = 8,
               vmap_width: int = 1, max_chunks: int | None = None, progress: bool = False, devices=None,
               sweep_runner=None):
    """Sample, sweep (resumable, in ``out/sweep``) and analyse. Returns (sweep, indices or None if unfinished).

    ``sweep_runner(draws, directory, manifest_kwargs)`` may replace the local sweep (e.g. Dask).
    """
    out = output_directory(out)  # a file or an unwritable folder is refused before any draw is solved
    draws = sample(problem, base_samples, second_order, seed)
    directory = out / SWEEP_DIR
    extra = {"problem": problem, "second_order": second_order, "base_samples": base_samples, "seed": seed}
    with sweep_lock(directory):  # one sweep into the folder at a time (sensitivity.sweep)
        manifest = open_sweep(directory, draws, evaluator, chunk_size, problem["names"], extra)
        todo = pending_chunks(directory, manifest)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=manifest["n_chunks"], initial=manifest["n_chunks"] - len(todo), unit="chunk",
                       desc=f"sweep ({manifest['n_draws']} draws x {len(evaluator.path_labels)} paths)")
        try:
            if sweep_runner is not None:
                sweep = sweep_runner(draws, directory, dict(chunk_size=chunk_size, parameter_names=problem["names"],
                                                            extra=extra, max_chunks=max_chunks,
                                                            callback=(lambda i, r: bar.update(1)) if bar else None))
            else:
                sweep = run_sweep(draws, evaluator, directory, chunk_size=chunk_size, vmap_width=vmap_width,
                                  devices=devices, parameter_names=problem["names"], max_chunks=max_chunks,
                                  callback=(lambda i, r: bar.update(1)) if bar else None, extra=extra)
        finally:
            if bar is not None:
                bar.close()
        if not sweep.complete:
            return sweep, None
        indices = analyze(problem, sweep, second_order, resamples, conf_level, seed)
        save_indices(indices, out)
        if sweep.n_failed:
            with atomic_output(out / "failures.csv") as tmp:
                sweep.failures().to_csv(tmp, float_format="%.6g")
        return sweep, indices


def format_indices(indices: SobolIndices, labels: dict | None = None) -> str:
    lines = []
    for outcome in dict.fromkeys(indices.first_total.outcome):
        lines.append(f"{(labels or {}).get(outcome, outcome)}:")
        t = indices.table(outcome)
        for factor, r in t.iterrows():
            lines.append(f"  {factor:16s} S1 {r.S1:6.3f} ± {r.S1_conf:5.3f}   ST {r.ST:6.3f} ± {r.ST_conf:5.3f}")
    lines += [f"note: {n}" for n in indices.notes]
    return "\n".join(lines)


def run_config(cfg: SobolConfig, out, *, max_chunks=None, progress=True, figures=True, distributed=None,
               log=print):
    """The whole analysis of a config: sweep, indices (CSV, PNG) and arviz summaries. Returns a dict."""
    from sensitivity import summaries

    out = output_directory(out)  # refused before anything is compiled or solved
    spec = cfg.spec()
    evaluator = build_evaluator(spec)
    uncertainty = config_uncertainty(cfg)
    problem = uncertainty.problem(groups=cfg.groups)
    n_rows = cfg.base_samples * block_size(problem, cfg.second_order)
    log(f"{cfg.name}: {len(problem['names'])} factors in {n_groups(problem)} "
        f"{'groups' if cfg.groups else 'factors'}, N = {cfg.base_samples} -> {n_rows} draws x "
        f"{len(evaluator.path_labels)} paths ({', '.join(evaluator.path_labels)}), chunks of {cfg.chunk_size}")
    runner = None
    if distributed is not None:
        from sensitivity.distributed import run_sweep_distributed

        runner = lambda draws, directory, kw: run_sweep_distributed(  # noqa: E731
            draws, spec, directory, distributed, vmap_width=cfg.vmap_width, **kw)
    start = time.perf_counter()
    sweep, indices = run_design(problem, evaluator, out, base_samples=cfg.base_samples,
                                second_order=cfg.second_order, seed=cfg.seed, resamples=cfg.resamples,
                                conf_level=cfg.conf_level, chunk_size=cfg.chunk_size, vmap_width=cfg.vmap_width,
                                max_chunks=max_chunks, progress=progress, sweep_runner=runner)
    elapsed = time.perf_counter() - start
    result = {"sweep": sweep, "indices": indices, "problem": problem, "evaluator": evaluator, "files": []}
    done = int(sweep.done.sum())
    log(f"draws solved: {done} of {sweep.status.size}, failed: {sweep.n_failed}; this run {elapsed:.1f} s, "
        f"chunks on disk {sweep.seconds:.1f} s of compute ({done * len(evaluator.path_labels) / max(sweep.seconds, 1e-9):.2f}"
        " paths/s, compilation included)")
    if indices is None:
        log(f"sweep stopped after {max_chunks} chunk(s); run the same command again to resume")
        return result
    labels = dict(zip(evaluator.outcome_names, evaluator.labels))
    units = dict(zip(evaluator.outcome_names, evaluator.units))
    result["files"] += save_indices(indices, out)
    log(format_indices(indices, labels))
    tree = summaries.outcome_tree(sweep, design_rows(sweep.status.size, problem, cfg.second_order,
                                                     complete_blocks(sweep.ok, problem, cfg.second_order)),
                                  units=units, labels=labels)
    table = summaries.summary_table(tree)
    write_table(table, out / "outcomes_summary.csv", index=True, digits=6)
    result["files"].append(out / "outcomes_summary.csv")
    result["summary"] = table
    log("outcomes over the parameter uncertainty (A and B rows of the complete blocks, 90 % HDI):")
    log(table.to_string(float_format=lambda v: f"{v:.4g}"))
    if figures:
        import matplotlib.pyplot as plt

        fig = plot_indices(indices, out / "sobol_indices.png", labels, title=f"{cfg.name}: Sobol indices, "
                           f"{indices.n_blocks_used} of {indices.n_blocks} blocks, "
                           f"{round(100 * cfg.conf_level)} % bootstrap intervals")
        plt.close(fig)
        result["files"] += [out / "sobol_indices.png", *summaries.plot_outcomes(tree, out)]
    with atomic_output(out / "report.json") as tmp:  # written last: its presence marks a finished analysis
        tmp.write_text(json.dumps(
            {"config": cfg.path, "name": cfg.name, "draws": int(sweep.status.size), "failed_draws": sweep.n_failed,
             "blocks": indices.n_blocks, "blocks_used": indices.n_blocks_used, "notes": indices.notes,
             "compute_seconds": sweep.seconds}, indent=1))
    return result


# ---------------------------------------------------------------------------------------------
# command line


def cmd_sobol(args) -> int:
    for option in ("data", "parameters"):
        if getattr(args, option, None) is not None:  # the workers rebuild the model from the config alone
            raise ConfigError(f"--{option} {getattr(args, option)}: noreg sensitivity sobol runs on the shipped "
                              "data and parameters only (not yet supported by this command)")
    import matplotlib

    matplotlib.use("Agg")
    cfg = load_config(args.config).with_overrides(base_samples=args.base_samples, chunk_size=args.chunk_size,
                                                  vmap_width=args.vmap_width,
                                                  regions=getattr(args, "regions", None))
    check_design(cfg)
    client = None
    if args.dask_workers and args.dask_scheduler:
        raise ConfigError("give either --dask-workers (a local cluster) or --dask-scheduler (an existing one)")
    if args.dask_workers:
        from sensitivity.distributed import local_client

        client = local_client(args.dask_workers)
    elif args.dask_scheduler:
        from dask.distributed import Client

        client = Client(args.dask_scheduler)
    try:
        result = run_config(cfg, args.out, max_chunks=args.max_chunks, progress=not args.quiet,
                            figures=not args.no_figures, distributed=client)
    finally:
        if client is not None:
            client.close()
    for f in result["files"]:
        print(f"written: {f}")
    return 0  # a sweep stopped by --max-chunks is not an error: the same command resumes it


def register_cli(sensitivity_subparsers):
    """Add ``sobol CONFIG --out DIR`` to the ``noreg sensitivity`` sub-commands."""
    p = sensitivity_subparsers.add_parser(
        "sobol", help="Sobol indices of headline outcomes over parameter uncertainty (resumable sweep)",
        description=__doc__.split("\n\n")[0])
    p.add_argument("config", help="a sensitivity config (TOML), e.g. sensitivity/configs/ci_small.toml")
    p.add_argument("--out", default="results/sobol", help="output directory (the sweep is checkpointed in OUT/sweep; "
                   "run again to resume)")
    p.add_argument("--base-samples", type=int, default=None, help="override N (a power of 2)")
    p.add_argument("--chunk-size", type=int, default=None, help="override the draws per chunk")
    p.add_argument("--vmap-width", type=int, default=None, help="override the draws solved side by side")
    p.add_argument("--max-chunks", type=int, default=None, help="stop after this many chunks (resume later)")
    p.add_argument("--dask-workers", type=int, default=0, help="run the sweep on a local Dask cluster of this size")
    p.add_argument("--dask-scheduler", default=None,
                   help="run the sweep on an existing Dask cluster, e.g. tcp://10.0.0.5:8786 (its workers must "
                        "import this project and read the config's files)")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sobol)
    return p
