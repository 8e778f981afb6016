"""The items-file check of a JSONL items file: each record's id, and every line without one, located.

``jsonl_ids`` decodes each line once with one decoder and walks a record (``plain``) only where the walk can
refuse something; the cases below pin what it reports, including the two limits that walk enforces and a
nesting deeper than Python's stack (a traceback, exit 3, before: now a located LS312).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.spec import datafiles
from labelspec.spec.model import ItemsSource
from labelspec.strictjson import MAX_DEPTH, decode_checked_lines, strict_decoder, strict_line_decoder

ITEMS = ItemsSource(file="items.jsonl", id="item_id")


def ids(text: str) -> tuple[list[tuple[int, str]], list[tuple[str, str]]]:
    problems = datafiles.Problems("items.jsonl")
    found = list(datafiles.jsonl_ids(text, "item_id", problems))
    return found, [(str(d.loc), d.message) for d in problems.result()]


def test_ids_as_text() -> None:
    text = "\n".join(json.dumps({"item_id": v, "text": "t"}) for v in ["a", 12, -3, "", "12"]) + "\n\n  \n"
    assert ids(text) == ([(1, "a"), (2, "12"), (3, "-3"), (4, ""), (5, "12")], [])
    assert ids('{"item_id": -0}') == ([(1, "0")], [])  # an integer's value, as plain() gave it


@pytest.mark.parametrize(("line", "message"), [
    ('{"item_id": 1.0}', "'item_id' must be a string or an integer"),
    ('{"item_id": 1e2}', "'item_id' must be a string or an integer"),
    ('{"item_id": true}', "'item_id' must be a string or an integer"),
    ('{"item_id": ["a"]}', "'item_id' must be a string or an integer"),
    ('{"item_id": null}', "record has no string 'item_id'"),
    ('{"text": "no id"}', "record has no string 'item_id'"),
    ('["item_id"]', "each line must be a JSON object"),
    ('{"item_id": "a", "item_id": "b"}', "not a JSON object: duplicate key 'item_id'"),
    ('{"item_id": "a", "x": NaN}', "not a JSON object: NaN is not valid JSON"),
    ('{"item_id": "a"', "not a JSON object: Expecting ',' delimiter: line 1 column 16 (char 15)"),
    ('{"item_id": "\\ud800"}', "a JSON string holds an unpaired surrogate escape (\\udXXX), which is not text"),
])
def test_lines_without_an_id_are_located(line: str, message: str) -> None:
    assert ids('{"item_id": "ok"}\n' + line + "\n") == ([(1, "ok")], [("items.jsonl:2", message)])


def test_the_limits_of_plain_still_hold() -> None:
    deep = '{"item_id": "a", "x": ' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}"
    assert ids(deep)[1] == [("items.jsonl:1", f"not a JSON object: arrays or objects nested deeper than "
                                               f"{MAX_DEPTH} levels")]
    assert ids(deep.replace("[", "", 1).replace("]", "", 1)) == ([(1, "a")], [])  # one level less
    huge = '{"item_id": "a", "n": 1' + "0" * 4400 + "}"
    assert ids(huge)[1][0][1].startswith("not a JSON object: Exceeds the limit (4300 digits)")
    assert ids('{"item_id": "a", "n": 1' + "0" * 4200 + "}") == ([(1, "a")], [])


def test_nesting_deeper_than_the_stack_is_a_located_problem() -> None:
    line = '{"item_id": "a", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    found, problems = ids('{"item_id": "ok"}\n' + line)
    assert found == [(1, "ok")]
    assert problems[0][0] == "items.jsonl:2" and problems[0][1].startswith("not a JSON object: maximum recursion")


def test_check_items_reports_duplicates_by_line() -> None:
    data = b'{"item_id": "a"}\n{"item_id": 7}\n{"item_id": "7"}\n'
    assert [(str(d.loc), d.message) for d in datafiles.check_items(data, "items.jsonl", ITEMS)] == [
        ("items.jsonl:3", "duplicate item id '7' (first on line 2)")]


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                           | st.text(max_size=8), lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=8)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=5), json_values, max_size=4), max_size=12),
       st.sampled_from([" ", "\r", "\t"]))
def test_checked_lines_decode_in_one_call_as_one_by_one(records: list[dict[str, object]], space: str) -> None:
    """Lines that each hold one value decode, joined in one call, to what one call per line gives (whitespace,
    a lone carriage return included, around and inside the records)."""
    lines = [space + json.dumps(r, ensure_ascii=False, separators=("," + space, ":" + space)) + space
             for r in records]
    assert decode_checked_lines(lines) == [json.loads(line) for line in lines]


def test_a_carriage_return_inside_a_record_is_whitespace_for_every_reader(tmp_path: Path) -> None:
    """A lone ``\\r`` between a record's tokens is JSON whitespace: the spec's check takes the line, and so must the
    check run's reading of the items (a text file's universal newlines split the record there: JSONDecodeError,
    exit 3, before)."""
    from labelspec import api
    from labelspec.check.context import read_items
    from labelspec.spec.load import load_spec

    api.init_project(tmp_path / "p", kind="single_choice")
    items = tmp_path / "p" / "items.jsonl"
    text = items.read_text(encoding="utf-8")
    items.write_bytes(text.replace('"item_id": ', '"item_id":\r', 1).encode("utf-8"))
    assert b"\r" in items.read_bytes()
    spec = load_spec(tmp_path / "p" / "labelspec.yaml")
    first = json.loads(text.split("\n")[0])
    checked = read_items(items, "item_id", spec.sources["items.jsonl"])  # the loader's checked bytes
    unchecked = read_items(items, "item_id")  # read again, decoded line by line
    for got in (checked, unchecked):
        assert got.ids[0] == first["item_id"] and got.fields["text"][first["item_id"]] == first["text"]
    assert checked.ids.tolist() == unchecked.ids.tolist() and checked.fields == unchecked.fields
    labels = tmp_path / "labels.csv"
    labels.write_text(f"item_id,annotator_id,label\n{first['item_id']},a1,x\n", encoding="utf-8")
    report = api.check_labels(spec, [labels])
    assert report.exit_code in (0, 1)


def _outcome(decode: Callable[[str], Any], text: str) -> tuple[str, object]:
    try:
        return "value", decode(text)
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


lines = st.one_of(
    st.builds(lambda r, a, b: a + json.dumps(r) + b, st.dictionaries(st.text(max_size=4), json_values, max_size=3),
              st.sampled_from(["", " ", "\t", "\r", " \u00a0", "\x85"]),
              st.sampled_from(["", " ", "\r", "x", " 1", ",{}", "}", "\u2028"])),
    st.sampled_from(['{"a": 1, "a": 2}', '{"a": NaN}', '{"a": Infinity}', '[1, 2]', '1.50', '"s"', '{"a": 1e400}',
                     '{"a": [1, 2}', '{', '', '   ', '{"a": "\x01"}', '[' * 3000 + ']' * 3000]),
    st.text(max_size=20))


@settings(max_examples=300, deadline=None)
@given(lines)
def test_the_strict_line_decoder_is_the_strict_decoder(text: str) -> None:
    """The scanner called directly accepts, returns and refuses exactly what ``strict_decoder().decode`` does,
    with the same error type and message (JSON whitespace only around the value; other spaces are refused)."""
    assert _outcome(strict_line_decoder(), text) == _outcome(strict_decoder().decode, text)


def test_the_checks_ids_are_the_lookups_ids() -> None:
    """The gold and calibration lookup takes the (line, id) pairs the items check found instead of decoding the
    file again: each record's id as json reads it (an integer as its value's text) on its physical line."""
    from labelspec.spec import item_refs

    text = "\n".join(json.dumps({"item_id": v, "text": "t"}) for v in ["a", 12, -3, "x y"]) + '\n\n{"item_id": -0}\n'
    data = text.encode("utf-8")
    found, handed = datafiles.checked_item_ids(data, "items.jsonl", ITEMS)
    expected = [(n, str(json.loads(line)["item_id"])) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    assert found == [] and handed is not None and handed.lines is not None
    assert list(zip(handed.lines.to_pylist(), handed.ids.to_pylist(), strict=True)) == expected == [
        (1, "a"), (2, "12"), (3, "-3"), (4, "x y"), (6, "0")]
    given = item_refs._read_items(data, ITEMS, handed)
    assert given.lines is not None
    assert list(zip(given.lines.to_pylist(), given.ids.to_pylist(), strict=True)) == expected
    with pytest.raises(ValueError, match="from its check"):
        item_refs._read_items(data, ITEMS)
    bad = datafiles.checked_item_ids(b'{"item_id": "a"}\n{"item_id": "a"}\n', "items.jsonl", ITEMS)
    assert bad[0] and bad[1] is None  # a file with problems hands nothing over
    # a CSV file's ids as pyarrow read them for the check (its records on lines 2, 3, …), the same as read again
    csv_items = ItemsSource(file="items.csv", id="item_id")
    csv_data = b"item_id,text\na,t\n007,u\n"
    found, handed = datafiles.checked_item_ids(csv_data, "items.csv", csv_items)
    assert found == [] and handed is not None and handed.lines is None and handed.ids.to_pylist() == ["a", "007"]
    assert handed.ids.type == pa.large_string()
    assert item_refs._read_items(csv_data, csv_items).ids.equals(item_refs._read_items(csv_data, csv_items, handed).ids)
    # one the stdlib had to read (a quote pyarrow would read otherwise) hands nothing over
    assert datafiles.checked_item_ids(b'item_id,text\na,5" screen\n', "items.csv", csv_items) == ([], None)


def test_loading_a_spec_decodes_a_jsonl_items_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from labelspec import api
    from labelspec.spec import item_refs
    from labelspec.spec.load import load_spec

    api.init_project(tmp_path / "p", kind="single_choice")
    calls: list[str] = []
    real = json.loads
    monkeypatch.setattr(item_refs.json, "loads",  # json's own, wherever called: a record of items.jsonl?
                        lambda text, **kw: (calls.append(text) if '"item_id"' in str(text) else None) or real(text, **kw))
    spec = load_spec(tmp_path / "p" / "labelspec.yaml")
    assert spec.items is not None and spec.quality.gold is not None  # the gold rows were looked up among the items
    assert calls == []


def _plain_reference(value: Any, depth: int = 0) -> Any:
    """``strictjson.plain`` as first written, one recursive call per element: what the faster walk must equal."""
    from labelspec.strictjson import JsonNumber, TooDeep

    if isinstance(value, JsonNumber):
        return int(value) if not any(c in value for c in ".eE") else float(value)
    if isinstance(value, (list, dict)) and depth >= MAX_DEPTH:
        raise TooDeep(f"arrays or objects nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [_plain_reference(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {k: _plain_reference(v, depth + 1) for k, v in value.items()}
    return value


number_texts = st.sampled_from(["0", "-0", "7", "-12", "1.0", "1.50", "2e3", "2E-3", "-0.0", "1" + "0" * 30])


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.sampled_from(["null", "true", "false"]) | number_texts | st.text(max_size=4).map(json.dumps),
                    lambda inner: st.lists(inner, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]")
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3).map(
                        lambda d: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in d.items()) + "}"),
                    max_leaves=12),
       st.integers(0, MAX_DEPTH))
def test_plain_walks_as_it_did(text: str, depth: int) -> None:
    """The walk that converts a span list's offsets in one loop gives the same values, the same int/float
    types (the JSON text says which) and the same depth error as one call per element, at any starting depth."""
    from labelspec.strictjson import plain

    value = strict_decoder().decode(text)
    want, got = _outcome(lambda _: _plain_reference(value, depth), ""), _outcome(lambda _: plain(value, depth), "")
    assert got == want
    if got[0] == "value":
        assert json.dumps(got[1]) == json.dumps(want[1])  # 1 and 1.0 stay apart
