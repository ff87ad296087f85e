"""Policy optimisation (noreg_jax/policy.py, docs/model.md "Policy optimisation"): the projection onto the capped
simplex, the projected-gradient optimiser on a problem whose optimum is known in closed form, the policy files
(shipped ones parse on the 11 counties; malformed ones name the file and field), the objective's gradient through
the path against central finite differences, and an optimisation on ``trondelag_rest.csv`` (OSVI, TRO, REST) that
must do at least as well as every allocation it is compared with. One compilation (the objective and its gradient).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.cli import main
from noreg_jax.drivers import reference_model
from noreg_jax.policy import (
    SAME_VALUE,
    PolicyError,
    objective_and_gradient,
    optimise,
    parse_policy,
    project_simplex,
    projected_gradient,
)

AGGREGATION = "trondelag_rest.csv"
POLICY = """name = "small"
[instrument]
driver = "workers"
education = "voc"
transfer_from = "low"
years = [2025, 2035]
mode = "growth"
per = ["region"]
upper = 2.0
[budget]
total = 15.0
[[objective]]
outcome = "population:TRO:REST:2050"
[compare]
"all in TRO" = "TRO"
"""


def test_projection_onto_the_capped_simplex():
    rng = np.random.default_rng(0)
    for _ in range(50):
        v = rng.normal(size=7) * 3
        y = project_simplex(v)
        assert y.min() >= 0 and abs(y.sum() - 1) < 1e-12
        # the uncapped projection's closed form: y = max(v - tau, 0) with tau from the sorted values
        u = np.sort(v)[::-1]
        css = np.cumsum(u) - 1
        rho = np.nonzero(u - css / np.arange(1, 8) > 0)[0][-1]
        np.testing.assert_allclose(y, np.maximum(v - css[rho] / (rho + 1), 0), atol=1e-12)
        cap = rng.uniform(0.1, 0.5, size=7)
        yc = project_simplex(v, cap)
        assert (yc <= cap + 1e-12).all() and yc.min() >= 0 and abs(yc.sum() - 1) < 1e-12
    feasible = np.array([0.2, 0.3, 0.5])
    np.testing.assert_allclose(project_simplex(feasible), feasible, atol=1e-12)


def test_the_optimiser_finds_a_known_optimum():
    # max sum a_i log y_i on the simplex: y* = a / sum a; with caps, the capped ones sit at the cap and the rest
    # share the remainder in proportion to a
    a = np.array([1.0, 2.0, 3.0, 4.0])
    f = lambda y: (float(a @ np.log(np.maximum(y, 1e-300))), a / np.maximum(y, 1e-300), True)
    best = projected_gradient(f, np.full(4, 0.25), iterations=200, tolerance=1e-9)
    assert best.converged
    np.testing.assert_allclose(best.shares, a / a.sum(), atol=1e-4)
    cap = np.array([1.0, 1.0, 1.0, 0.25])
    best = projected_gradient(f, np.full(4, 0.25), iterations=200, tolerance=1e-9, cap=cap)
    np.testing.assert_allclose(best.shares, [0.125, 0.25, 0.375, 0.25], atol=1e-4)
    assert [h["objective"] for h in best.history] == sorted(h["objective"] for h in best.history)


@pytest.fixture(scope="module")
def counties():
    return reference_model()


@pytest.mark.parametrize("file, n", [("policies/vocational_places.toml", 11),
                                     ("policies/further_education_gdp.toml", 44)])
def test_shipped_policies_parse(counties, file, n):
    problem = parse_policy(file, counties)
    assert len(problem.labels) == len(problem.costs) == len(problem.scenario.shocks) == n
    assert [label for label, _ in problem.compare][0] == SAME_VALUE and len(problem.compare) == 2
    for _, shares in problem.compare:  # every compared allocation spends the budget within the bounds
        assert abs(shares.sum() - 1) < 1e-12
        assert (problem.values(shares) <= problem.upper + 1e-12).all()


def test_the_article_allocation_is_scenario_1(counties):
    problem = parse_policy("policies/vocational_places.toml", counties)
    article = dict(problem.compare)["the article: all in Trondelag"]
    values = problem.values(article)
    assert values[problem.labels.index("TRO")] == pytest.approx(1.0, rel=1e-3)  # 1 %/yr, as scenario 1
    assert np.count_nonzero(values) == 1


def test_costs_count_residents_for_people_and_jobs_for_productivity(counties):
    # docs/model.md "Commuting": a vocational place reaches a county's residents; a productivity programme the
    # jobs at its workplaces (in-commuters included). Nationally the two counts are the same persons.
    from noreg_jax.scenarios import employed_persons
    b = counties.economy.benchmark
    residents = np.asarray(employed_persons(counties.drivers))[2025 - 2018]  # (R, E) thousand
    jobs = np.einsum("rwe,re->we", np.asarray(b.commuting_persons / b.labour_force[:, None, :]), residents)
    people = parse_policy("policies/vocational_places.toml", counties)
    production = parse_policy("policies/further_education_gdp.toml", counties)
    s = b.sets
    e_voc, e_bach = s.educ("voc"), s.educ("bach")
    for r, name in enumerate(s.regions):
        np.testing.assert_allclose(people.costs[people.labels.index(name)], residents[r, e_voc] * 11 / 100,
                                   rtol=1e-12)
        np.testing.assert_allclose(production.costs[production.labels.index(f"{name} bach")],
                                   jobs[r, e_bach] * 11 / 100, rtol=1e-12)
    osl = s.region("OSL")
    assert jobs[osl, e_bach] > 1.1 * residents[osl, e_bach]  # Oslo's bachelor jobs are filled by in-commuters too
    bachelors = [production.labels.index(f"{name} bach") for name in s.regions]
    np.testing.assert_allclose(production.costs[bachelors].sum(), residents[:, e_bach].sum() * 11 / 100, rtol=1e-9)


@pytest.mark.parametrize("edit, field", [
    (("[budget]", "[budget]\nsize = 3"), "budget.size"),
    (("upper = 2.0", "upper = 0.01"), "instrument.upper"),
    (("upper = 2.0", ""), "instrument.upper"),
    (('outcome = "population:TRO:REST:2050"', 'outcome = "population:XYZ:2050"'), "objective[0].outcome"),
    (('"all in TRO" = "TRO"', '"all in TRO" = "TROO"'), "compare.all in TRO"),
    (('education = "voc"', 'education = "vok"'), "instrument.education"),
    (("total = 15.0", "total = -1"), "budget.total"),
])
def test_malformed_policies_name_the_file_and_field(tmp_path, edit, field):
    model = reference_model(regions=AGGREGATION)
    path = tmp_path / "bad_policy.toml"
    path.write_text(POLICY.replace(*edit))
    with pytest.raises(PolicyError, match=re.escape(f"bad_policy.toml: field '{field}'")):
        parse_policy(path, model)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    model = reference_model(regions=AGGREGATION)
    path = tmp_path_factory.mktemp("policy") / "small.toml"
    path.write_text(POLICY)
    return model, parse_policy(path, model), path


def test_objective_gradient_matches_finite_differences(small):
    model, problem, _ = small
    x = problem.values(np.array([0.5, 0.3, 0.2]))
    run = lambda v: objective_and_gradient(np.asarray(v), model, problem.scenario, problem.outcomes, problem.weights)
    value, grad, ok = run(x)
    assert bool(ok)
    for i in range(len(x)):
        h = 1e-3 * max(x[i], 0.1)
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        fd = (float(run(up)[0]) - float(run(down)[0])) / (2 * h)
        np.testing.assert_allclose(float(grad[i]), fd, rtol=1e-4, atol=1e-9)


def test_the_optimum_beats_every_compared_allocation(small, tmp_path, capsys):
    model, problem, path = small
    best, table, shadow = optimise(model, problem)
    assert best.converged
    effects = table.set_index("allocation")["effect"]
    assert (effects["optimum"] >= effects.drop("optimum") - 1e-9).all()
    assert np.isfinite(shadow)
    out = tmp_path / "opt"
    assert main(["--regions", AGGREGATION, "optimise", str(path), "--out", str(out)]) == 0
    assert "shadow price of the budget" in capsys.readouterr().out
    written = pd.read_csv(out / "allocations.csv").set_index("allocation")
    np.testing.assert_allclose(written.loc["optimum", list(problem.labels)].to_numpy(dtype=float), best.shares,
                               atol=1e-7)
    assert len(pd.read_csv(out / "history.csv")) == len(best.history)


def test_dispersion_and_robust_options_parse_and_are_validated(tmp_path):
    model = reference_model(regions=AGGREGATION)
    path = tmp_path / "robust.toml"
    path.write_text(POLICY + '[[objective]]\noutcome = "gdp_per_capita_dispersion:2050"\nweight = -100.0\n'
                    '[optimiser]\nrobust_draws = 2\nseed = 1\n')
    problem = parse_policy(path, model)
    assert problem.robust_draws == 2 and len(problem.outcomes) == 2 and problem.weights == (1.0, -100.0)
    for bad, field in [("robust_draws = 2", "robust_draws = 1"), ("dispersion:2050", "dispersion:1990")]:
        path.write_text(path.read_text().replace(bad, field))
        with pytest.raises(PolicyError, match="robust_draws|needs a year"):
            parse_policy(path, model)
        path.write_text(path.read_text().replace(field, bad))


def test_the_robust_objective_is_the_mean_over_draws(small):
    from noreg_jax.policy import expected_objective_and_gradient
    from noreg_jax.runs import parameter_draws
    from noreg_jax.scenarios import stack
    from sensitivity.uncertainty import load_uncertainty

    model, problem, _ = small
    u = load_uncertainty()
    draws = [u.apply(model, d) for d in parameter_draws(2, u, seed=1)]
    x = problem.values(np.array([0.5, 0.3, 0.2]))
    mean, grad, ok = expected_objective_and_gradient(x, stack(draws), problem.scenario, problem.outcomes,
                                                     problem.weights)
    singles = [objective_and_gradient(x, m, problem.scenario, problem.outcomes, problem.weights) for m in draws]
    assert bool(ok) and all(bool(s[2]) for s in singles)
    np.testing.assert_allclose(float(mean), np.mean([float(s[0]) for s in singles]), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(grad), np.mean([np.asarray(s[1]) for s in singles], axis=0), rtol=1e-10)
    assert abs(float(singles[0][0]) - float(singles[1][0])) > 1e-6  # the draws differ
    # the robust policy: the optimiser on the mean objective does at least as well as the compared allocations
    robust = dataclasses.replace(problem, robust_draws=2, seed=1)
    best, table, _ = optimise(model, robust)
    effects = table.set_index("allocation")["effect"]
    assert best.converged and (effects["optimum"] >= effects.drop("optimum") - 1e-9).all()
