"""Scenario sets (several scenarios in one file, ``[[scenario]]``) and the article's closing claim
(``noreg compare every-region``): "if all regions have their own offers it is as if none has an advantage".

The shipped set parses on the 11 counties (one scenario per county alone and one for all at once); malformed
sets name the file and the field. The claim is run on ``trondelag_rest.csv`` (OSVI, TRO, REST) through the CLI:
one batch of four scenario paths. The assertion is economic and could fail: with the programme everywhere, each
region's migration of low-educated and vocational workers is a small fraction of what it is with the programme
in that region alone (measured: at most 13 % of the alone figure; the test allows 25 %).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import noreg_jax  # noqa: F401  (float64)
from noreg_jax.article import EVERY_REGION_SET, regions_shocked, split_alone_and_together
from noreg_jax.cli import main
from noreg_jax.data import DataError
from noreg_jax.drivers import reference_model
from noreg_jax.scenarios import ScenarioError, parse_scenario, parse_scenarios

AGGREGATION = "trondelag_rest.csv"
SHOCK = """[[scenario.shocks]]
driver = "workers"
{region}education = "voc"
years = [2025, 2035]
mode = "growth"
value = 1.0
transfer_from = "low"
"""


def _set(regions_alone, together=True) -> str:
    parts = ['name = "test_set"\n']
    for r in regions_alone:
        parts.append(f'\n[[scenario]]\nname = "voc_{r}"\n' + SHOCK.format(region=f'region = "{r}"\n'))
    if together:
        parts.append('\n[[scenario]]\nname = "voc_all"\n' + SHOCK.format(region=""))
    return "".join(parts)


@pytest.fixture(scope="module")
def counties():
    return reference_model()


@pytest.fixture(scope="module")
def small():
    return reference_model(regions=AGGREGATION)


def test_the_shipped_set_has_every_county_alone_and_all_at_once(counties):
    scenarios = parse_scenarios(EVERY_REGION_SET, counties)
    regions = counties.economy.benchmark.sets.regions
    assert len(scenarios) == len(regions) + 1
    alone, together = split_alone_and_together(scenarios, regions)
    assert set(alone) == set(regions)
    assert regions_shocked(scenarios[together], regions) == list(regions)
    for r, k in alone.items():
        assert regions_shocked(scenarios[k], regions) == [r]
        assert scenarios[k].shocks[0].transfer_from == list(counties.economy.benchmark.sets.education).index("low")


def test_a_scenario_file_is_a_set_of_one(counties):
    file = "scenarios/trondelag_vocational.toml"
    [one] = parse_scenarios(file, counties)
    assert one.name == parse_scenario(file, counties).name == "trondelag_vocational"


@pytest.mark.parametrize("text, field", [
    (_set(["OSL", "OSL"], together=False), "scenario[1].name"),
    (_set(["OSL"]).replace('driver = "workers"', 'driver = "workers"\nsizes = 2', 1), "scenario[0].shocks[0].sizes"),
    (_set(["OSL"]).replace('region = "OSL"', 'region = "OLS"'), "scenario[0].shocks[0].region"),
    ('name = "x"\nscenario = []\n', "scenario"),
    ('name = "x"\nshocks = []\n[[scenario]]\nname = "a"\n', "shocks"),
    (_set(["OSL"]).replace('name = "voc_OSL"\n', ""), "scenario[0].name"),
])
def test_malformed_sets_name_the_file_and_field(counties, tmp_path, text, field):
    path = tmp_path / "bad_set.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=rf"bad_set.toml: field '{field.replace('[', r'\[').replace(']', r'\]')}'"):
        parse_scenarios(path, counties)


def test_a_set_is_not_read_as_one_scenario(counties):
    with pytest.raises(ScenarioError, match="scenario set: read it with parse_scenarios"):
        parse_scenario(EVERY_REGION_SET, counties)


def test_the_comparison_needs_every_region_alone_and_one_together(small, tmp_path):
    regions = small.economy.benchmark.sets.regions
    for text, why in [(_set(regions[:2]), "missing: " + regions[2]), (_set(regions, together=False), "found 0")]:
        path = tmp_path / "partial.toml"
        path.write_text(text)
        with pytest.raises(DataError, match=why):
            split_alone_and_together(parse_scenarios(path, small), regions)


def test_with_the_programme_everywhere_no_region_has_an_advantage(small, tmp_path, capsys):
    regions = small.economy.benchmark.sets.regions
    path = tmp_path / "every.toml"
    path.write_text(_set(regions))
    out = tmp_path / "every"
    assert main(["--regions", AGGREGATION, "compare", "every-region", "--set", str(path), "--out", str(out),
                 "--no-cache"]) == 0
    assert "sum of the regions alone" in capsys.readouterr().out
    table = pd.read_csv(out / "every_region.csv").set_index("region")
    assert list(table.index) == list(regions)
    for group in ("low", "voc"):
        alone = table[f"migrating_workers_{group}_alone"]
        together = table[f"migrating_workers_{group}_together"]
        assert (np.abs(alone) > 100).all()  # workers: each region alone draws low-educated and loses vocational
        assert (np.abs(together) < 0.25 * np.abs(alone)).all()
    assert (table["migrating_workers_low_alone"] > 0).all() and (table["migrating_workers_voc_alone"] < 0).all()
