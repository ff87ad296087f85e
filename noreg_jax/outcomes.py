"""Named outcomes of one year's equilibrium (employment in persons, real gross product, real wages, …).

Pure functions of a solved :class:`noreg_jax.equilibrium.State`; used by the dynamics, the results
and the sensitivity tools alike, so every outcome has one definition.
"""

from noreg_jax.blocks.households import residence_wage
from noreg_jax.equilibrium import State
from noreg_jax.parameters import Economy, benchmark_tax_rates


def wage_per_person(economy: Economy):
    """Benchmark wage bill per employed resident [r, e] (NOK million per thousand persons = NOK 1000)."""
    b = economy.benchmark
    return b.wage_income / b.labour_force


def workplace_wage_per_person(economy: Economy):
    """Benchmark wage bill per job [w, e], by workplace (NOK 1000; commuters counted where they work)."""
    b = economy.benchmark
    return b.commuting.sum(axis=0) / b.commuting_persons.sum(axis=0)


def employment(state: State, economy: Economy):
    """Employed persons by workplace [r, j, e], thousand (labour in benchmark wage-bill units / pay per job)."""
    return state.labour_demand / workplace_wage_per_person(economy)[:, None, :]


def real_gross_product(state: State, economy: Economy):
    """Gross product at 2018 basic prices [r, j] (double deflation), NOK million.

    Net output at benchmark prices minus intermediate inputs at benchmark purchase prices.
    """
    b = economy.benchmark
    _, t_int0, _ = benchmark_tax_rates(b)
    net_output = (b.trade.sum(axis=1) + b.exports) * state.activity
    return net_output - (1.0 + t_int0) * state.intermediate.sum(axis=1)


def real_wage(state: State, economy: Economy):
    """Real wage per employed resident [r, e]: the pay of the residents' workplaces (commuting-weighted) per person,
    deflated by the residence's CPI (2018 = benchmark)."""
    b = economy.benchmark
    return residence_wage(b, state.wage) * wage_per_person(economy) / state.regional_cpi[:, None]


def year_outcomes(state: State, economy: Economy) -> dict:
    """The outcomes the path records every year (the labelled results are built from these)."""
    p = economy.params
    emp = employment(state, economy)
    return {
        "population": p.population,  # [r, e] thousand
        "labour_force": p.labour_supply,  # [r, e] thousand
        "employment": emp,  # [r, j, e] thousand
        "wage": state.wage,  # [r, e] nominal, 2018 = 1, at the workplace
        "residence_wage": residence_wage(economy.benchmark, state.wage),  # [r, e] of the residents, 2018 = 1
        "real_wage": real_wage(state, economy),  # [r, e] NOK 1000 per person at 2018 prices
        "gross_product": real_gross_product(state, economy),  # [r, j] NOK million 2018 prices
        "gross_product_nominal": state.value_added,  # [r, j] NOK million current prices
        "output_price": state.p_domestic,  # [r, j]
        "armington_price": state.armington_price,  # [r, j]
        "capital": p.capital_stock,  # [r, j]
        "rental_rate": state.rental,  # [r, j]
        "regional_cpi": state.regional_cpi,  # [r]
        "exports": state.exports,  # [r, j] volume
        "imports": state.imports,  # [r, j] volume
        "consumption": state.households.consumption.sum(axis=2),  # [r, e] volume
        "shelf_gross_product": state.shelf.real_gross_product,  # NOK million 2018 prices
        "shelf_gross_product_nominal": state.shelf.value_added,  # NOK million current prices
        "shelf_workers": state.shelf.labour / workplace_wage_per_person(economy),  # [r, e] thousand, host county
    }
