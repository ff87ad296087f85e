"""The JSON-stat 2.0 reader: cube order, labels, sparse values, status symbols, named errors."""

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration.jsonstat import read_jsonstat2

SAMPLE = Path(__file__).parents[1] / "data" / "ssb_07459_sample.json"


def _sample() -> dict:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def test_sample_values_codes_and_order():
    df = read_jsonstat2(SAMPLE)
    assert list(df.columns) == [
        "Region", "Region_label", "ContentsCode", "ContentsCode_label", "Tid", "Tid_label", "value", "status",
    ]
    # row-major, last dimension (Tid) fastest; codes stay strings ("03", not 3)
    assert df["Region"].tolist() == ["03", "03", "50", "50"]
    assert df["Tid"].tolist() == ["2018", "2019", "2018", "2019"]
    assert (df["ContentsCode"] == "Personer1").all()
    np.testing.assert_array_equal(df["value"].to_numpy(), [673469, 681071, 462354, 465634])
    assert df["value"].dtype == np.float64
    assert df["status"].isna().all()
    table = df.set_index(["Region", "Tid"])["value"]
    assert table[("50", "2019")] == 465634  # Trøndelag 1 Jan 2019 (FACTS.md §1)


def test_sample_labels_and_metadata():
    df = read_jsonstat2(str(SAMPLE))
    assert df["Region_label"].tolist() == ["Oslo", "Oslo", "Trøndelag", "Trøndelag"]
    assert (df["ContentsCode_label"] == "Persons").all()
    assert df.attrs["label"].startswith("07459")
    assert "FACTS.md" in df.attrs["source"]
    assert df.attrs["role"]["time"] == ["Tid"]


def test_dict_input_equals_file_input():
    pd.testing.assert_frame_equal(read_jsonstat2(_sample()), read_jsonstat2(SAMPLE))


def test_index_as_list_and_as_object_agree_and_object_order_is_by_position():
    d = _sample()
    # object index written out of order: positions, not key order, decide
    d["dimension"]["Region"]["category"]["index"] = {"50": 1, "03": 0}
    as_object = read_jsonstat2(d)
    d["dimension"]["Region"]["category"]["index"] = ["03", "50"]
    d["dimension"]["Tid"]["category"]["index"] = ["2018", "2019"]
    pd.testing.assert_frame_equal(as_object, read_jsonstat2(SAMPLE))
    pd.testing.assert_frame_equal(read_jsonstat2(d), read_jsonstat2(SAMPLE))


def test_single_category_without_index_and_label_defaults_to_code():
    d = _sample()
    del d["dimension"]["ContentsCode"]["category"]["index"]
    del d["dimension"]["Tid"]["category"]["label"]
    df = read_jsonstat2(d)
    assert (df["ContentsCode"] == "Personer1").all()
    assert df["Tid_label"].tolist() == ["2018", "2019", "2018", "2019"]


def test_three_dimensions_row_major():
    d = {
        "version": "2.0", "class": "dataset", "id": ["a", "b", "c"], "size": [2, 3, 2],
        "dimension": {k: {"category": {"index": [f"{k}{i}" for i in range(n)]}} for k, n in zip("abc", [2, 3, 2])},
        "value": list(range(12)),
    }
    df = read_jsonstat2(d)
    for _, row in df.iterrows():
        i, j, k = int(row["a"][1:]), int(row["b"][1:]), int(row["c"][1:])
        assert row["value"] == (i * 3 + j) * 2 + k


def test_sparse_value_object_and_null():
    d = _sample()
    d["value"] = {"0": 673469, "3": 465634, "1": None}
    df = read_jsonstat2(d)
    np.testing.assert_array_equal(df["value"].to_numpy(), [673469, np.nan, np.nan, 465634])


def test_status_symbols_for_missing_give_nan():
    d = _sample()
    d["value"] = [673469, None, 462354, 465634]
    d["status"] = {"1": "..", "2": ":", "3": "*"}
    df = read_jsonstat2(d)
    assert df["status"].isna().tolist() == [True, False, False, False]
    assert df["status"].tolist()[1:] == ["..", ":", "*"]
    # ".." (not available) and ":" (confidential) -> NaN even where a number is given; "*" keeps it
    np.testing.assert_array_equal(df["value"].to_numpy(), [673469, np.nan, np.nan, 465634])


def test_status_as_array_and_as_string():
    d = _sample()
    d["status"] = ["", "..", "", ""]
    df = read_jsonstat2(d)
    assert np.isnan(df["value"].to_numpy()).tolist() == [False, True, False, False]
    assert df["status"].isna().tolist() == [True, False, True, True]  # "" is no symbol
    d["status"] = "..."
    assert read_jsonstat2(d)["value"].isna().all()


def _error(d, *fragments):
    with pytest.raises(ValueError) as err:
        read_jsonstat2(d)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_error_wrong_class_names_field_and_value():
    d = _sample()
    d["class"] = "collection"
    _error(d, "<in-memory", "'class'", "'collection'", "dataset")


def test_error_names_the_file(tmp_path):
    d = _sample()
    d["size"] = [2, 1, 3]
    path = tmp_path / "bad_07459.json"
    path.write_text(json.dumps(d), encoding="utf-8")
    _error(path, str(path), "size[Tid]", "3", "2 categories")


def test_error_size_does_not_match_values():
    d = _sample()
    d["value"] = d["value"][:3]
    _error(d, "'value'", "3 entries", "expected 4")


def test_error_missing_dimension_object_and_missing_dimension():
    d = _sample()
    del d["dimension"]
    _error(d, "'dimension'", "None")
    d = _sample()
    del d["dimension"]["Tid"]
    _error(d, "'dimension.Tid'", "missing")


def test_error_id_and_size_lengths_differ():
    d = _sample()
    d["size"] = [2, 1]
    _error(d, "'size'", "[2, 1]", "3 dimensions")


def test_error_bad_index_positions_and_sparse_key_and_value_type():
    d = _sample()
    d["dimension"]["Region"]["category"]["index"] = {"03": 0, "50": 2}
    _error(d, "dimension.Region.category.index", "'50': 2")
    d = _sample()
    d["value"] = {"0": 1, "7": 2}
    _error(d, "value['7']", "0..3")
    d = _sample()
    d["value"] = [1, 2, "3", 4]
    _error(d, "value[2]", "'3'", "numbers or null")


def test_error_version_1_layout():
    d = copy.deepcopy(_sample())
    d["version"] = "1.0"
    _error(d, "'version'", "'1.0'")


def test_error_invalid_json_names_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    _error(path, str(path), "not valid JSON")
