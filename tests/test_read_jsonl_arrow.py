"""JSON Lines read by Arrow (``read_jsonl_arrow``) equal the strict per-line reader's reading, byte for byte.

The oracle is ``read_jsonl.parse_jsonl_lines`` (the reader every JSONL file went through before): on every file,
``parse_jsonl`` must give the same columns and lines, or raise the same error at the same place. Plain files must
take Arrow's path (else the speed-up silently disappears), and every input where Arrow's reading differs from the
strict rules (NaN, deep nesting, two objects on a line, a bare CR, integers that were ``-0`` …) must not.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelspec.check import read_jsonl, read_jsonl_arrow
from labelspec.check.read_common import MAX_LINE_BYTES, ColumnMap, TaskShape, column_mapping
from labelspec.check.read_jsonl import parse_jsonl, parse_jsonl_lines
from labelspec.check.read_jsonl_arrow import read_flat
from labelspec.errors import InputError

CHOICE = TaskShape("intent", "single_choice", False)
RATING = TaskShape("score", "rating", False)
TAGS = TaskShape("tags", "multi_choice", True)
COLUMNS = ColumnMap()
KEYS = column_mapping(COLUMNS)


def outcome(parse: Any, data: bytes, tasks: list[TaskShape]) -> tuple[Any, ...]:
    """What a reader makes of ``data``: its columns as Python values and its lines, or its error."""
    try:
        p = parse(data, "labels.jsonl", COLUMNS, tasks)
    except InputError as exc:
        return ("error", [(*d.check_tuple(), d.message, d.hint) for d in exc.diagnostics])
    return ("read", {f: c.to_pylist() for f, c in p.columns.items()}, p.lines.tolist(), p.exclusions, p.format)


def same(data: bytes, tasks: list[TaskShape]) -> tuple[Any, ...]:
    """The reading, after checking that it is the strict reader's."""
    got = outcome(parse_jsonl, data, tasks)
    assert got == outcome(parse_jsonl_lines, data, tasks)
    return got


def lines(*records: dict[str, Any] | str, end: str = "\n") -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + end for r in records).encode()


REC = {"item_id": "i1", "annotator_id": "a1", "label": "yes"}

ARROW_READS = {
    "plain": lines(REC, {**REC, "item_id": "i2"}),
    "integer ids and lead times": lines({**REC, "item_id": 12, "annotator_id": -7, "lead_time_s": 31},
                                        {**REC, "item_id": 9223372036854775807, "annotator_id": 3, "lead_time_s": None}),
    "timestamps stay text": lines({**REC, "created_at": "2026-01-05T10:00:00Z"}, {**REC, "created_at": "2026-01-05"}),
    "a key first seen later": lines(REC, {**REC, "created_at": "yesterday"}),
    "nulls and absent keys": lines({**REC, "step": None}, {"item_id": "i3", "annotator_id": "a", "label": None}),
    "blank lines, spaces, CRLF, no final break": b"\r\n  \t\r\n" + lines(REC, end="\r\n") + b"\n" + lines(REC)[:-1],
    "a BOM": b"\xef\xbb\xbf" + lines(REC, REC),
    "other fields of any JSON": lines({**REC, "meta": [[1, 2], [3]], "flag": True, "n": 1e300, "s": "\u00e9\\"}),
    "escaped text and keys": b'{"item\\u005fid": "\\u00e9\\n\\"", "annotator_id": "a\\/b", "label": "\\ud83d\\ude00"}\n',
    "labels that look like other things": lines({**REC, "label": "NA"}, {**REC, "label": "null"},
                                               {**REC, "label": "01"}, {**REC, "label": "1.0"}),
    "lead times as written": lines({**REC, "lead_time_s": 12.5}, {**REC, "lead_time_s": 3}, {**REC},
                                   {**REC, "lead_time_s": None}, {**REC, "lead_time_s": 1e-07}).replace(b"12.5", b"12.50"),
    "ids written 0 and -0": lines({**REC, "item_id": 0}, {**REC, "item_id": 5}, {**REC, "item_id": 0}
                                  ).replace(b'"item_id": 0', b'"item_id": -0', 1),
    "integers past 2**53 beside a zero": lines({**REC, "annotator_id": 2**63 - 1}, {**REC, "annotator_id": 0}),
    "a lead time first missing": lines({**REC, "lead_time_s": None}, {**REC, "lead_time_s": 2.0}),
}


@pytest.mark.parametrize("name", list(ARROW_READS))
def test_arrow_reads_plain_files_as_the_strict_reader_does(name: str) -> None:
    data = ARROW_READS[name]
    assert read_flat(data, KEYS, [CHOICE]) is not None
    same(data, [CHOICE])


@pytest.mark.parametrize("name", ["lead times as written", "ids written 0 and -0", "a lead time first missing"])
def test_numbers_as_written_are_found_a_piece_at_a_time(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(read_jsonl_arrow, "_FIND_PIECE", 1)  # a piece per line
    assert read_flat(ARROW_READS[name], KEYS, [CHOICE]) is not None
    same(ARROW_READS[name], [CHOICE])


RANKING = TaskShape("order", "ranking", True)
LISTS = [["a", "b"], [], ['q"uote', "back\\slash", "\u00e9", "\U0001F600", "\u2028", "/"], None, ["x"]]


def test_arrow_reads_lists_of_strings_as_their_canonical_text() -> None:
    data = lines(*[{**REC, "label": v} for v in LISTS])
    assert read_flat(data, KEYS, [TAGS]) is not None
    assert same(data, [TAGS])[1]["value"] == ['["a","b"]', "[]", '["q\\"uote","back\\\\slash","\u00e9",'
                                              '"\U0001F600","\u2028","/"]', "", '["x"]']
    two = lines({**REC, "task": "order", "label": ["b", "a"]}, {**REC, "task": "elsewhere", "label": ["c"]})
    assert read_flat(two, KEYS, [CHOICE, RANKING]) is not None  # a task the spec does not know takes lists too
    same(two, [CHOICE, RANKING])


@pytest.mark.parametrize(("records", "tasks"), [
    ([{**REC, "label": ["a\nb"]}], [TAGS]),  # a control character: json escapes it its own way
    ([{**REC, "label": ["a", None]}], [TAGS]),  # a null in a list
    ([{**REC, "label": [1, 2]}], [TAGS]),  # numbers in a list
    ([{**REC, "label": ["a"]}, {**REC, "label": [2]}], [TAGS]),
    ([{**REC, "label": ["a"]}], [CHOICE]),  # a list for a single-choice task: the strict reader's error
    ([{**REC, "task": "intent", "label": ["a"]}], [CHOICE, RANKING]),
    ([{**REC, "label": ["a"]}, {**REC, "label": "b"}], [TAGS]),  # a list, then a string
])
def test_lists_arrow_may_not_read_go_to_the_strict_reader(records: list[dict[str, Any]], tasks: list[TaskShape]
                                                          ) -> None:
    data = lines(*records)
    assert read_flat(data, KEYS, tasks) is None
    same(data, tasks)


def test_arrow_reads_integer_ratings_only_where_the_strict_reader_takes_numbers() -> None:
    rated = lines({**REC, "task": "score", "label": 4}, {**REC, "task": "unknown", "label": 2})
    assert read_flat(rated, KEYS, [CHOICE, RATING]) is not None
    assert same(rated, [CHOICE, RATING])[1]["value"] == ["4", "2"]
    mixed = lines({**REC, "task": "score", "label": 4}, {**REC, "task": "intent", "label": "yes"})
    assert read_flat(mixed, KEYS, [CHOICE, RATING]) is None  # one column of two types: the strict reader's
    assert same(mixed, [CHOICE, RATING])[1]["value"] == ["4", "yes"]
    no_task = lines({**REC, "task": None, "label": 4}, {**REC, "label": 3})  # a task column of nulls only
    assert read_flat(no_task, KEYS, [RATING]) is not None
    assert same(no_task, [RATING])[1]["value"] == ["4", "3"]
    only_rating = lines({**REC, "label": 5})
    assert read_flat(only_rating, KEYS, [RATING]) is not None
    for data, tasks in [(lines({**REC, "task": "intent", "label": 4}), [CHOICE, RATING]),
                        (lines({**REC, "label": 4}), [CHOICE]),
                        (lines({**REC, "task": "", "label": 4}), [CHOICE])]:
        assert read_flat(data, KEYS, tasks) is None
        assert same(data, tasks)[0] == "error"


HAZARDS = {
    "NaN in another field": lines({**REC, "x": 1}).replace(b"1}", b"NaN}"),
    "-Infinity in another field": lines({**REC, "x": 1}).replace(b"1}", b"-Infinity}"),
    "nesting deeper than the limit": lines({**REC, "x": 1}).replace(b"1}", b"[" * 65 + b"]" * 65 + b"}"),
    "a nested object": lines({**REC, "x": {"y": 1, "y ": 2}}),
    "a nested object with a duplicate key": lines(REC).replace(b"}", b', "x": {"y": 1, "y": 2}}'),
    "two objects on one line": lines(REC).replace(b"\n", b" ") + lines(REC),
    "one object over two lines": lines(REC).replace(b', "label"', b',\n"label"'),
    "a bare CR between records": lines(REC).replace(b"\n", b"\r") + lines(REC),
    "a line over the limit": lines({**REC, "pad": "x" * MAX_LINE_BYTES}),
    "a long blank line": b" " * (MAX_LINE_BYTES + 1) + b"\n" + lines(REC),
    "a float id": lines({**REC, "item_id": 1.0}),
    "a boolean label": lines({**REC, "label": True}),
    "a number then a string": lines({**REC, "item_id": 1}, {**REC, "item_id": "2"}),
    "a timestamp written as a number": lines({**REC, "created_at": 1700000000}),
    "a lead time key inside a string": lines({**REC, "lead_time_s": 1.5, "note": "lead_time_s"}),
    "a lead time key spelled with an escape": lines({**REC, "lead_time_s": 1.5}).replace(b"lead_", b"lead\\u005f"),
    "a key that ends like the lead time's": lines({**REC, "lead_time_s": 1.5}).replace(b"}", b', "\\"lead_time_s": 2}'),
    "a lead time as a number, then as text": lines({**REC, "lead_time_s": 1.5}, {**REC, "lead_time_s": "2"}),
    "a brace in a label": lines({**REC, "label": "{x}"}),
    "a duplicate key": lines(REC).replace(b"}", b', "label": "no"}'),
    "a null line": lines(REC, "null", REC),
    "a number line": lines(REC, "1"),
    "a closing brace alone": lines(REC, "}"),
    "a BOM on line 2": lines(REC) + b"\xef\xbb\xbf" + lines(REC),
    "a missing column": lines({"item_id": "i", "annotator_id": "a"}),
    "only blank lines": b"\n \n",
    "an empty file": b"",
    "broken JSON on the first line": b'{"item_id": "i1",}\n' + lines(REC),
    "broken JSON later": lines(REC) + b'{"item_id": "i1", "label" "x"}\n',
    "a control character in a string": lines(REC).replace(b'"yes"', b'"y\tes"'),
    "a lone surrogate (refused by both)": lines(REC) + b'{"item_id": "i", "annotator_id": "a", "label": "\\ud800"}\n',
    "wide records (a prompt in each)": lines({**REC, "prompt": "p" * 600}, {**REC, "prompt": "q" * 600}),
}


@pytest.mark.parametrize("name", list(HAZARDS))
def test_arrow_leaves_every_hazard_to_the_strict_reader(name: str) -> None:
    data = HAZARDS[name]
    tasks = [CHOICE]
    assert read_flat(data, KEYS, tasks) is None
    same(data, tasks)


# --- any file: the two readers agree --------------------------------------------------------------------------

_TEXT = st.sampled_from(["i1", "i2", "a", "yes", "no", "", "NA", "{", "}", "[x]", "\u00e9", "NaN", "0", "-0",
                         "2026-01-05T10:00:00Z", "a\\b", "\ud83d\ude00", "intent", "score"])
_INTEGER = st.sampled_from([0, -1, 3, 12, 2**63 - 1, 2**63])
_FLOAT = st.sampled_from([0.0, -0.0, 2.5, 1e-07, 12.0, 1e300, 3])
_ODD = st.sampled_from([True, None, 1.5, 1e3, [], ["a"], {"y": 1}])  # what a file of flat text does not hold
_KEYS = ["item_id", "annotator_id", "label", "task", "step", "created_at", "lead_time_s", "meta"]
_RAW = st.sampled_from(["", "  ", "null", "[]", "1", '"x"', "}", "{", '{"item_id": "i"} {"item_id": "j"}',
                        '{"item_id": -0, "annotator_id": "a", "label": "x"}', '{"label": NaN}',
                        '{"item_id": "i", "item_id": "j"}', '{"x": [[[[]]]]}', '{"x": {"y": 1}}'])


@st.composite
def _file(draw: st.DrawFn) -> list[str]:
    """Lines of records whose keys each hold one type in most files (text, integers or floats), as real files do,
    so that many files are Arrow's to read; now and then an odd value or a raw line."""
    kinds = draw(st.fixed_dictionaries({k: st.sampled_from([_TEXT, _TEXT, _INTEGER, _FLOAT]) for k in _KEYS}))
    value = {k: st.one_of(kinds[k], kinds[k], kinds[k], st.none(), _ODD) for k in _KEYS}
    record = st.lists(st.sampled_from(_KEYS), unique=True).flatmap(
        lambda keys: st.fixed_dictionaries({k: value[k] for k in keys})).map(json.dumps)
    return draw(st.lists(st.one_of(record, record, record, _RAW), max_size=6))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_file(), st.sampled_from(["\n", "\r\n", "\r"]), st.booleans(), st.booleans(),
       st.sampled_from([[CHOICE], [RATING], [CHOICE, RATING], [TAGS]]))
def test_any_file_reads_as_the_strict_reader_reads_it(records: list[str], end: str, final: bool, bom: bool,
                                                      tasks: list[TaskShape]) -> None:
    text = end.join(records) + (end if final else "")
    same(("\ufeff" if bom else "").encode() + text.encode("utf-8", "surrogatepass"), tasks)


# --- the strict reader's chunks -------------------------------------------------------------------------------

SURROGATE = '{"item_id": "i", "annotator_id": "a", "label": "\\ud800"}'


@pytest.mark.parametrize("name", [*ARROW_READS, *HAZARDS])
def test_the_strict_reader_reads_the_same_in_chunks(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = {**ARROW_READS, **HAZARDS}[name]
    tasks = [CHOICE]
    whole = outcome(parse_jsonl_lines, data, tasks)
    monkeypatch.setattr(read_jsonl, "_CHUNK", 1)
    assert outcome(parse_jsonl_lines, data, tasks) == whole


def test_a_lone_surrogate_is_reported_by_field_then_row_across_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # the label's surrogate is in the first chunk, the item's in the last: the item is reported, as when the
    # columns were built once at the end (fields in order, then rows)
    data = lines(REC, SURROGATE, REC, SURROGATE.replace('"i"', '"\\udfff"').replace('"\\ud800"', '"x"'), REC)
    monkeypatch.setattr(read_jsonl, "_CHUNK", 2)
    got = outcome(parse_jsonl_lines, data, [CHOICE])
    assert got[0] == "error" and got[1][0][:2] == ("LS401", 4) and "'item_id'" in got[1][0][3]
    monkeypatch.setattr(read_jsonl, "_CHUNK", 1 << 16)
    assert outcome(parse_jsonl_lines, data, [CHOICE]) == got


@pytest.mark.parametrize(("text", "lines"), [
    ('{"a": "1"}\n{"a": "2"}\n', [1, 2]),          # a record on every line: found by one comparison
    ('{"a": "1"}\n{"a": "2"}', [1, 2]),            # the last line without its break
    ('{"a": "1"}\r\n{"a": "2"}\r\n', [1, 2]),
    ('\n{"a": "1"}\n\n  \n{"a": "2"}\n\n', [2, 5]),  # blank lines: each record's line found
    ('{"a": "1"}\n{"a": "2"}\n\n', [1, 2]),
])
def test_record_lines_with_and_without_blank_lines(text: str, lines: list[int]) -> None:
    from labelspec.check.read_jsonl_arrow import _record_lines

    found = _record_lines(text.encode())
    assert found is not None and found[0].tolist() == lines and found[0].dtype == np.int64
    assert found[1] == text.index("{")
