"""Government and the savings–investment balance (docs/model.md "One year's equilibrium").

One national government collects production taxes, taxes on intermediate purchases, income taxes and
its share of capital income; it buys an exogenous real basket G[r, i], pays transfers, and saves a
fixed real amount (in units of the investment good). A transfer scale balances its budget.
Investment is savings-driven: household + government + retained + foreign savings (exogenous in
foreign currency, times the exchange rate) buy changes in inventories (fixed real) and gross fixed
capital formation, a Cobb–Douglas basket over (region, good) with benchmark value shares.
"""

from typing import NamedTuple

import jax.numpy as jnp

from noreg_jax.data import Benchmark
from noreg_jax.parameters import Parameters


def investment_shares(b: Benchmark):
    return b.investment / b.investment.sum()


def log_investment_price(b: Benchmark, log_armington_price):
    """Cobb–Douglas price index of the investment basket (1 at the benchmark)."""
    return jnp.sum(investment_shares(b) * log_armington_price)


class PublicAccounts(NamedTuple):
    revenue: jnp.ndarray
    spending: jnp.ndarray
    total_savings: jnp.ndarray
    investment: jnp.ndarray  # [r, i] quantities (gross fixed capital formation)
    investment_value: jnp.ndarray  # scalar, nominal


def public_accounts(b: Benchmark, p: Parameters, *, production_tax, intermediate_tax, income_tax,
                    national_capital_income, transfers, household_savings, armington_price,
                    log_armington_price) -> PublicAccounts:
    from noreg_jax.blocks.households import capital_income_shares

    _, share_g, share_retained = capital_income_shares(b)
    price_investment = jnp.exp(log_investment_price(b, log_armington_price))
    government_savings = p.government_savings * price_investment
    revenue = production_tax + intermediate_tax + income_tax + share_g * national_capital_income
    spending = jnp.sum(armington_price * p.government_demand) + transfers + government_savings
    total_savings = household_savings + government_savings + share_retained * national_capital_income \
        + p.exchange_rate * p.foreign_savings
    fixed_investment_value = total_savings - jnp.sum(armington_price * p.inventories)
    investment = investment_shares(b) * fixed_investment_value / armington_price
    return PublicAccounts(revenue, spending, total_savings, investment, fixed_investment_value)
