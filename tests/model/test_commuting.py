"""Commuting (docs/model.md, Commuting): residents supply labour to workplaces in the benchmark's shares (SSB 03321),
wages are paid at the workplace, incomes and migration are at the residence.

On the 11 counties: the residents' wage is the commuting-weighted workplace wage, and more employed residents
of Viken fill jobs in Oslo in the benchmark's proportion and lower Oslo's wage. In persons the identity "jobs =
employed residents commuting in" is exact on the counties (every group of a county's jobs is held by each county's
residents in one proportion); on merged counties it holds in wage-bill units (tests/data/test_divisions.py).
"""

from __future__ import annotations

import equinox as eqx
import jax
import numpy as np
import pytest

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.blocks.households import commuting_shares, labour_at_workplace, residence_wage
from noreg_jax.equilibrium import benchmark_point, evaluate, require_converged, residual, solve_equilibrium
from noreg_jax.outcomes import employment
from noreg_jax.parameters import load_economy


@pytest.fixture(scope="module")
def economy():
    return load_economy()


def test_the_benchmark_has_commuting_and_replicates(economy):
    b, s = economy.benchmark, economy.benchmark.sets
    theta = np.asarray(commuting_shares(b))
    np.testing.assert_allclose(theta.sum(axis=1), 1.0, rtol=1e-14)
    osl, vik = s.region("OSL"), s.region("VIK")
    assert (theta[vik, osl] > 0.15).all()  # more than 15 % of Viken's residents' pay is earned in Oslo
    np.testing.assert_allclose(np.asarray(labour_at_workplace(b, economy.params)),
                               np.asarray(b.commuting).sum(axis=0), rtol=1e-14)
    assert float(np.abs(np.asarray(residual(benchmark_point(b), economy))).max()) < 1e-10


def test_the_residents_wage_is_the_commuting_weighted_workplace_wage(economy):
    b = economy.benchmark
    wage = np.ones((b.sets.n_regions, b.sets.n_education))
    jac = jax.jacfwd(lambda w: residence_wage(b, w))(wage)  # [r, e, w, e']
    theta = np.asarray(commuting_shares(b))
    for e in range(b.sets.n_education):
        np.testing.assert_allclose(np.asarray(jac)[:, e, :, e], theta[:, :, e], rtol=1e-14)


def test_more_employed_residents_of_viken_fill_jobs_in_oslo(economy):
    b, s = economy.benchmark, economy.benchmark.sets
    osl, vik, inn = s.region("OSL"), s.region("VIK"), s.region("INN")
    supply = economy.params.labour_supply.at[vik].multiply(1.05)
    shocked = eqx.tree_at(lambda e: e.params.labour_supply, economy, supply)
    x, status = jax.jit(solve_equilibrium)(shocked, benchmark_point(b))  # the program of tests/model/test_invariants.py
    require_converged(x, status, shocked)
    state = evaluate(x, shocked)
    jobs = np.asarray(employment(state, shocked)).sum(axis=1) + np.asarray(state.shelf.labour) \
        / np.asarray(b.commuting.sum(axis=0) / b.commuting_persons.sum(axis=0))
    base_jobs = np.asarray(b.commuting_persons).sum(axis=0)
    # the added Viken residents (5 %) work where Viken's residents work: Oslo gains 5 % of its Viken commuters
    np.testing.assert_allclose(jobs[osl] - base_jobs[osl], 0.05 * np.asarray(b.commuting_persons)[vik, osl],
                               rtol=1e-8)
    np.testing.assert_allclose(jobs[inn], base_jobs[inn] + 0.05 * np.asarray(b.commuting_persons)[vik, inn],
                               rtol=1e-8)
    np.testing.assert_allclose(jobs.sum(), base_jobs.sum() + 0.05 * float(b.labour_force[vik].sum()), rtol=1e-9)
    wage = np.asarray(state.wage)
    assert (wage[osl] < 1.0).all() and (wage[vik] < 1.0).all()  # more labour lowers the wages where it works
    # Oslo's residents did not grow in number, yet their wage falls: Viken's added commuters compete for Oslo's jobs
    assert (np.asarray(residence_wage(b, state.wage))[osl] < 1.0).all()
