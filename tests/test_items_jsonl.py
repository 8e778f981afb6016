"""The items-file check of a JSONL items file: each record's id, and every line without one, located.

``jsonl_ids`` decodes each line once with one decoder and walks a record (``plain``) only where the walk can
refuse something; the cases below pin what it reports, including the two limits that walk enforces and a
nesting deeper than Python's stack (a traceback, exit 3, before: now a located LS312).
"""

from __future__ import annotations

import json

import pytest

from labelspec.spec import datafiles
from labelspec.spec.model import ItemsSource
from labelspec.strictjson import MAX_DEPTH

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
