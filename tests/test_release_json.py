"""Vectorised JSON text (release_json) against ``json.dumps`` itself: strings, floats, lists, objects, dumps_each."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check import release_json as js
from labelspec.check.release_jsonl import objects

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), texts), max_size=30))
def test_strings_are_what_json_dumps_writes(values: list[str | None]) -> None:
    assert js.strings(pa.array(values, pa.string())).to_pylist() == [dumps(v) for v in values]


def test_strings_escape_every_control_character_quote_and_backslash() -> None:
    values = ["".join(map(chr, range(32))), 'a"b\\c', "é\u2028\x7f", ""]
    assert js.strings(pa.array(values)).to_pylist() == [dumps(v) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_infinity=False), max_size=30))
def test_floats_are_python_repr_and_nan_is_null(values: list[float]) -> None:
    expected = ["null" if math.isnan(v) else repr(v) for v in values]
    assert js.floats(np.array(values, dtype=np.float64)).to_pylist() == expected


def test_floats_at_the_edges_of_the_fast_range() -> None:
    values = [0.0, -0.0, 1e-4, 9.999999999999999e-05, 1e9, 999999999.9999999, 5.0, 1e16, 2.5e-310, -3.0, 0.1 + 0.2]
    assert js.floats(np.array(values)).to_pylist() == [repr(v) for v in values]
    with pytest.raises(ValueError, match="JSON compliant"):
        js.floats(np.array([1.0, math.inf]))


def test_floats_of_six_decimals_every_fraction() -> None:
    """Spelled from integers when every value has at most six decimals (rounded posteriors): every fraction of
    [0, 2) and of (-2, -1], against repr (values under 1e-4 take the slow path, zero included)."""
    values = np.round(np.r_[np.arange(2 * 10**6) / 1e6, -1 - np.arange(10**6) / 1e6], 6)
    assert js._decimal_texts(values, np.abs(values) >= 1e-4) is not None  # the integer path is the one tested
    assert js.floats(values).to_pylist() == [repr(v) for v in values.tolist()]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(-10**9 + 1, 10**9 - 1), st.integers(0, 6), st.booleans()), max_size=30),
       st.lists(st.floats(allow_infinity=False), max_size=3))
def test_floats_with_few_decimals_and_mixed_columns(parts: list[tuple[int, int, bool]], others: list[float]) -> None:
    """Any integer part and up to six decimals (the integer path), alone or beside values with more (the cast)."""
    rng = np.random.default_rng(len(parts))
    values = [float(round(float(w) + (int(rng.integers(0, 10**d)) / 10**d if d else 0.0), d)) * (-1 if neg else 1)
              for w, d, neg in parts]
    for column in (values, values + others):
        expected = ["null" if math.isnan(v) else repr(v) for v in column]
        assert js.floats(np.array(column, dtype=np.float64)).to_pylist() == expected


def test_lists_objects_and_booleans_nest_like_json() -> None:
    offsets = np.array([0, 2, 2, 3])
    items = js.strings(pa.array(["a", "b\n", None]))
    assert js.lists(offsets, items).to_pylist() == ['["a","b\\n"]', "[]", "[null]"]
    rows = objects({"z": js.integers(np.array([1, -2])), "a": js.booleans(pa.array([True, None])), "m": '"k"'})
    assert rows.to_pylist() == [dumps({"z": 1, "a": True, "m": "k"}), dumps({"z": -2, "a": None, "m": "k"})]


def test_dumps_each_splits_one_encoding_and_falls_back_when_a_value_holds_the_marker() -> None:
    values = [{"b": [1.5, None], "a": "x"}, None, {"p": {"z": 1e-7, "y": 0.5}}]
    assert js.dumps_each(values) == [dumps(values[0]), None, dumps(values[2])]
    tricky = [{"a": ["q", "\x00", "r"]}, {"b": 1}]
    assert js.dumps_each(tricky) == [dumps(v) for v in tricky]
    assert js.dumps_each([None, None]) == [None, None]


def test_text_bytes_are_the_concatenated_texts() -> None:
    lines = js.join([js.strings(pa.array(["a", "ü"])), "\n"])
    assert bytes(js.text_bytes(lines)) == '"a"\n"ü"\n'.encode()
    assert bytes(js.text_bytes(lines.slice(1))) == '"ü"\n'.encode()
    assert bytes(js.text_bytes(pa.array([], pa.string()))) == b""


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b\"", "é"])), max_size=20), st.integers(1, 5))
def test_repeated_strings_joined_are_each_rows_json_one_value_or_many(values: list[str | None], n: int) -> None:
    """A column of one value (null included) becomes one constant text, merged by ``join``; either way the
    joined rows are what ``json.dumps`` writes."""
    column = pa.array(values, pa.string())
    fragment = js.repeated_strings(column)
    assert isinstance(fragment, str) == (len(set(values)) == 1)
    rows = js.join(["[", fragment, ",", js.integers(np.arange(len(values))), "]"])
    assert rows.to_pylist() == [dumps([v, i]) for i, v in enumerate(values)]


def test_taken_is_take_a_constant_or_the_null_kept() -> None:
    texts = pa.array(['"x"', None, '"y"'], pa.large_string())
    assert js.taken(texts, np.array([2, 2, 2])) == '"y"'
    assert js.taken(texts, np.array([0, 2, 0])).to_pylist() == ['"x"', '"y"', '"x"']
    same_null = js.taken(texts, np.array([1, 1]))  # a null text stays an array: refused where texts must exist
    assert isinstance(same_null, pa.Array) and same_null.null_count == 2
    assert js.taken(texts, np.array([], dtype=np.int64)).to_pylist() == []


def test_join_of_constants_only_is_an_error_not_a_scalar() -> None:
    with pytest.raises(ValueError, match="no array"):
        js.join(["{", '"a"', "}"])
