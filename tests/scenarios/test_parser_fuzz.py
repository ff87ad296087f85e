"""Property-based tests of the input parsers (hypothesis): any mutation of a valid scenario file, scenario set,
Sobol config or region mapping either parses to a valid object or raises the parser's own error naming the file,
never another exception (a traceback for the user) and never a silent default.

Mutations: a line deleted, a value replaced by another TOML value (wrong types, NaN, inf, unicode, empty arrays),
truncation at any character, and random bytes decoded as Latin-1. No path is solved: parsing only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from noreg_jax.data import DataError, load_sets, read_region_mapping  # noqa: E402
from noreg_jax.drivers import reference_model  # noqa: E402
from noreg_jax.scenarios import ScenarioError, parse_scenarios  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_FILES = [ROOT / "scenarios" / "trondelag_vocational.toml", ROOT / "scenarios" / "further_education.toml",
                  ROOT / "scenarios" / "vocational_every_county.toml"]
MAPPING = ROOT / "noreg_jax" / "data" / "mappings" / "trondelag_rest.csv"
SOBOL = ROOT / "sensitivity" / "configs" / "ci_small.toml"
SETTINGS = settings(max_examples=60, deadline=None, database=None,  # no .hypothesis/ folder in the checkout
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

TOML_VALUES = st.sampled_from(['""', '"TRO"', '"tro"', '"ÆØÅ ✓"', "nan", "inf", "-inf", "-1", "0", "1e400", "true",
                               "[]", "[1, 2, 3]", '["TRO", "TRO"]', "{}", "2017", "2051", '"growth"', "1.5",
                               "[2035, 2025]", '{ CHEM = "x" }', "1979-05-27"])


@pytest.fixture(scope="module")
def model():
    return reference_model()


def _mutate(text: str, data) -> str:
    lines = text.splitlines()
    kind = data.draw(st.sampled_from(["delete", "replace", "truncate", "insert"]))
    if kind == "truncate":
        return text[:data.draw(st.integers(0, len(text)))]
    k = data.draw(st.integers(0, len(lines) - 1))
    if kind == "delete":
        return "\n".join(lines[:k] + lines[k + 1:])
    if kind == "insert":
        key = data.draw(st.sampled_from(["typo_key", "regon", "value", "driver", "name", "shocks", "parameters"]))
        return "\n".join(lines[:k] + [f"{key} = {data.draw(TOML_VALUES)}"] + lines[k:])
    if "=" not in lines[k]:
        return text
    key = lines[k].split("=", 1)[0]
    return "\n".join(lines[:k] + [f"{key}= {data.draw(TOML_VALUES)}"] + lines[k + 1:])


@SETTINGS
@given(data=st.data())
def test_a_mutated_scenario_parses_or_is_a_scenario_error(model, data):
    path = data.draw(st.sampled_from(SCENARIO_FILES))
    text = _mutate(path.read_text(encoding="utf-8"), data)
    try:
        scenarios = parse_scenarios(path, model, text=text)
    except ScenarioError as exc:
        assert str(path) in str(exc)
        return
    assert scenarios and all(sc.name for sc in scenarios)
    assert len({sc.name for sc in scenarios}) == len(scenarios)


@SETTINGS
@given(raw=st.binary(min_size=0, max_size=200))
def test_random_bytes_as_a_scenario_are_a_scenario_error(model, raw, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "random.toml"
    path.write_bytes(raw)
    try:
        parse_scenarios(path, model)
    except ScenarioError as exc:
        assert str(path) in str(exc)


@SETTINGS
@given(data=st.data())
def test_a_mutated_sobol_config_loads_or_is_a_config_error(data, tmp_path_factory):
    from sensitivity.sobol import ConfigError, load_config

    path = tmp_path_factory.mktemp("fuzz") / SOBOL.name
    # paths in the config are relative to it: make them absolute so that the copy elsewhere is valid unmutated
    text = SOBOL.read_text(encoding="utf-8").replace('"../../', f'"{ROOT.as_posix()}/')
    assert load_config(_written(path, text)).name == "ci_small"
    try:
        load_config(_written(path, _mutate(text, data)))
    except ConfigError as exc:
        assert str(path) in str(exc)


def _written(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@SETTINGS
@given(data=st.data())
def test_a_mutated_mapping_reads_or_is_a_data_error(data, tmp_path_factory):
    sets = load_sets()
    lines = MAPPING.read_text(encoding="utf-8").splitlines()
    kind = data.draw(st.sampled_from(["delete", "blank", "duplicate", "truncate", "garbage"]))
    k = data.draw(st.integers(0, len(lines) - 1))
    if kind == "delete":
        lines = lines[:k] + lines[k + 1:]
    elif kind == "blank":
        lines[k] = lines[k].split(",")[0] + ","
    elif kind == "duplicate":
        lines = lines + [lines[k]]
    elif kind == "truncate":
        lines = ["\n".join(lines)[:data.draw(st.integers(0, 200))]]
    else:
        lines[k] = data.draw(st.text(max_size=30))
    path = tmp_path_factory.mktemp("fuzz") / MAPPING.name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        mapping = read_region_mapping(path, sets)
    except DataError as exc:
        assert str(path) in str(exc)
        return
    assert set(mapping) == set(sets.regions)
    assert len({g for parts in mapping.values() for g in parts}) >= 2
