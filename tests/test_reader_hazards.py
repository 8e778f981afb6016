"""Hostile label files: every one is an InputError located at FILE:LINE (exit 2), never a crash or a silent drop.

Lone surrogate escapes, invalid UTF-8 in Parquet, paths that are not regular files, Label Studio structures of the
wrong shape or type, the Ranker's "_" bucket, a CSV that is only a header, and what result exclusions say.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelspec.check.read_common import UnwritableValue, canonical_json
from labelspec.check.readers import ColumnMap, Judgments, TaskShape, read_label_files
from labelspec.errors import Diagnostic, InputError

ONE = [TaskShape("intent", "single_choice", False)]
TAGS = [TaskShape("tags", "multi_choice", True)]
LS_KINDS = {"intent": "single_choice", "tone": "rating", "pref": "pairwise", "order": "ranking"}
LS_TASKS = [TaskShape(n, k, k == "ranking") for n, k in LS_KINDS.items()]
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev are POSIX")


def read(path: Path, tasks: list[TaskShape] = ONE, columns: ColumnMap | None = None) -> Judgments:
    return read_label_files([path], columns=columns or ColumnMap(), tasks=tasks, display_paths=[path.name])


def diagnostic(path: Path, tasks: list[TaskShape] = ONE, columns: ColumnMap | None = None) -> Diagnostic:
    with pytest.raises(InputError) as info:
        read(path, tasks, columns)
    assert len(info.value.diagnostics) == 1
    diag = info.value.diagnostics[0]
    diag.message.encode("utf-8")  # printable: a surrogate in a message would crash the renderer
    return diag


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


# --- 1. lone surrogate escapes -------------------------------------------------------------------------------

JSONL_OK = '{"item_id": "i1", "annotator_id": "a", "label": "x"}\n'


@pytest.mark.parametrize(("line", "field"), [
    ('{"item_id": "i2", "annotator_id": "1", "label": "\\ud800"}', "'label'"),
    ('{"item_id": "i2", "annotator_id": "b\\udfff", "label": "x"}', "'annotator_id'"),
    ('{"item_id": "i2", "task": "\\uDC80", "annotator_id": "1", "label": "x"}', "'task'"),
])
def test_jsonl_lone_surrogate_is_located(tmp_path: Path, line: str, field: str) -> None:
    diag = diagnostic(write(tmp_path, "s.jsonl", JSONL_OK * 2 + line + "\n" + JSONL_OK))
    assert diag.check_tuple() == ("LS401", 3, 0)
    assert "unpaired surrogate" in diag.message and field in diag.message
    assert "\\ud" in diag.message.lower()


def test_jsonl_surrogate_pair_is_one_character(tmp_path: Path) -> None:
    j = read(write(tmp_path, "p.jsonl", '{"item_id": "i", "annotator_id": "a", "label": "\\ud83d\\ude00"}\n'))
    assert j.frame["value"].tolist() == ["\U0001F600"]


def test_jsonl_surrogate_inside_a_list_value(tmp_path: Path) -> None:
    text = JSONL_OK.replace('"x"', '["y"]') + '{"item_id": "i2", "annotator_id": "a", "label": ["\\ud800"]}\n'
    diag = diagnostic(write(tmp_path, "l.jsonl", text), TAGS)
    assert diag.check_tuple()[:2] == ("LS401", 2) and "'label'" in diag.message


def test_csv_list_cell_with_a_surrogate_escape(tmp_path: Path) -> None:
    """The cell is valid UTF-8; its JSON decodes to a lone surrogate only when list values are canonicalised."""
    text = 'item_id,annotator_id,label\ni1,a,"[""y""]"\ni2,a,"[""\\ud800""]"\n'
    diag = diagnostic(write(tmp_path, "l.csv", text), TAGS)
    assert diag.check_tuple()[:2] == ("LS401", 3) and "'label'" in diag.message
    assert "unpaired surrogate" in diag.message


def test_error_messages_never_carry_a_surrogate(tmp_path: Path) -> None:
    diag = diagnostic(write(tmp_path, "o.jsonl", '{"item_id": "i", "annotator_id": "a", "label": {"\\ud800": 1}}\n'))
    assert diag.check_tuple() == ("LS404", 1, 0) and "\\ud800" in diag.message


# --- 2. invalid UTF-8 in Parquet string columns --------------------------------------------------------------


def bad_utf8(values: list[bytes]) -> pa.Array:
    return pa.array(values, pa.binary()).view(pa.string())


def parquet(tmp_path: Path, label: pa.Array, *, row_group_size: int | None = None) -> Path:
    n = len(label)
    table = pa.table({"item_id": [f"i{i}" for i in range(n)], "annotator_id": ["a"] * n, "label": label})
    path = tmp_path / "bad.parquet"
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def test_parquet_invalid_utf8_names_column_and_row(tmp_path: Path) -> None:
    diag = diagnostic(parquet(tmp_path, bad_utf8([b"ok", b"fine", b"\xff\xfe", b"x"])))
    assert diag.check_tuple() == ("LS401", 3, 0)
    assert "'label'" in diag.message and "UTF-8" in diag.message


def test_parquet_invalid_utf8_in_two_columns_names_the_first_mapped(tmp_path: Path) -> None:
    """The columns are checked side by side: the error is still the first column's, in the mapping's order."""
    table = pa.table({"item_id": bad_utf8([b"i1", b"i\xff"]), "annotator_id": ["a", "b"],
                      "label": bad_utf8([b"\xfe", b"x"])})
    pq.write_table(table, tmp_path / "two.parquet")
    diag = diagnostic(tmp_path / "two.parquet")
    assert diag.check_tuple() == ("LS401", 2, 0) and "'item_id'" in diag.message


def test_parquet_invalid_utf8_in_a_later_row_group(tmp_path: Path) -> None:
    values = [b"ok"] * 9 + [b"x\xc3("] + [b"ok"] * 5
    diag = diagnostic(parquet(tmp_path, bad_utf8(values), row_group_size=4))
    assert diag.check_tuple() == ("LS401", 10, 0)


def test_parquet_invalid_utf8_inside_list_values(tmp_path: Path) -> None:
    lists = pa.ListArray.from_arrays(pa.array([0, 1, 3, 4], pa.int32()), bad_utf8([b"a", b"b", b"\xff", b"c"]))
    diag = diagnostic(parquet(tmp_path, lists), TAGS)
    assert diag.check_tuple() == ("LS401", 2, 0) and "'label'" in diag.message


# --- 3. paths that are not regular files ---------------------------------------------------------------------


@posix_only
def test_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "f.csv"
    os.mkfifo(fifo)
    unblock = threading.Timer(10, lambda: os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)))  # if it blocks
    unblock.start()
    try:
        diag = diagnostic(fifo)
    finally:
        unblock.cancel()
    assert diag.check_tuple() == ("LS401", 0, 0) and "not a regular file" in diag.message and "FIFO" in diag.message


@posix_only
@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero"])
def test_symlink_to_a_device_is_not_read(tmp_path: Path, device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device}")
    link = tmp_path / "labels.csv"
    link.symlink_to(device)
    diag = diagnostic(link)
    assert diag.check_tuple() == ("LS401", 0, 0) and "not a regular file" in diag.message


@posix_only
def test_directory_is_not_a_label_file(tmp_path: Path) -> None:
    folder = tmp_path / "d.csv"
    folder.mkdir()
    diag = diagnostic(folder)
    assert diag.code == "LS401" and "not a regular file" in diag.message


def test_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    target = write(tmp_path, "real.csv", "item_id,annotator_id,label\ni1,a,x\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert read(link).frame["value"].tolist() == ["x"]


# --- Label Studio exports ------------------------------------------------------------------------------------


def export(tmp_path: Path, tasks: list[Any]) -> Path:
    return write(tmp_path, "export.json", json.dumps(tasks, indent=1))


def choice(name: str = "intent", **value: Any) -> dict[str, Any]:
    return {"from_name": name, "to_name": "text", "type": "choices", "value": value or {"choices": ["x"]}}


def one(tmp_path: Path, ann: dict[str, Any], **task: Any) -> Path:
    return export(tmp_path, [{"id": 1, "data": {"item_id": "d1"}, "annotations": [{"id": 9, **ann}], **task}])


#: The line where :func:`one`'s annotation object starts ("[", " {", "id", "data" {, item_id, }, "annotations" [).
ANN_LINE = 8


def ls_error(tmp_path: Path, path: Path) -> Diagnostic:
    return diagnostic(path, LS_TASKS)


@pytest.mark.parametrize(("ann", "field"), [
    ({"completed_by": 1, "result": [choice(choices=["\ud800"])]}, "value"),
    ({"completed_by": {"id": 1, "email": "\udc80"}, "result": [choice()]}, "completed_by"),
])
def test_labelstudio_lone_surrogate_in_annotation(tmp_path: Path, ann: dict[str, Any], field: str) -> None:
    diag = ls_error(tmp_path, one(tmp_path, ann))
    assert diag.check_tuple()[:2] == ("LS401", ANN_LINE) and "unpaired surrogate" in diag.message and field in diag.message


def test_labelstudio_lone_surrogate_in_task_data(tmp_path: Path) -> None:
    path = export(tmp_path, [{"id": 1, "data": {"item_id": "d\ud800"},
                              "annotations": [{"completed_by": 1, "result": [choice()]}]}])
    diag = ls_error(tmp_path, path)
    assert diag.code == "LS401" and "data.item_id" in diag.message and "\\ud800" in diag.message


def test_labelstudio_surrogate_in_ids_does_not_break_exclusions(tmp_path: Path) -> None:
    path = export(tmp_path, [{"id": "t\ud800", "data": {"item_id": "d1"},
                              "annotations": [{"id": 3, "was_cancelled": True, "result": []}]}])
    j = read(path, LS_TASKS)
    assert j.exclusions["detail"].tolist() == ["task t\\ud800, annotation 3"]


# --- 4. annotation lists of the wrong shape ------------------------------------------------------------------


@pytest.mark.parametrize("key", ["annotations", "completions"])
@pytest.mark.parametrize("value", [{"a": 1}, "x", 3, True])
def test_annotation_list_must_be_an_array(tmp_path: Path, key: str, value: Any) -> None:
    text = '[\n {"id": 1, "data": {},\n  "%s": %s}\n]\n' % (key, json.dumps(value))
    diag = ls_error(tmp_path, write(tmp_path, "e.json", text))
    assert diag.check_tuple() == ("LS406", 3, len(key) + 7)
    assert f"'{key}' must be a JSON array" in diag.message


# --- 5. booleans -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["was_cancelled", "ground_truth"])
@pytest.mark.parametrize("value", ["true", 1, "false", 0, [], {}])
def test_annotation_flags_must_be_booleans(tmp_path: Path, key: str, value: Any) -> None:
    diag = ls_error(tmp_path, one(tmp_path, {"completed_by": 1, key: value, "result": [choice()]}))
    assert diag.check_tuple()[:2] == ("LS404", ANN_LINE)
    assert f"'{key}' must be true or false" in diag.message


@pytest.mark.parametrize(("flags", "rows", "excluded"), [
    ({"was_cancelled": False, "ground_truth": True}, [("x", "true")], {}),
    ({"was_cancelled": None, "ground_truth": None}, [("x", "")], {}),
    ({"was_cancelled": True}, [], {"cancelled_annotation": 1}),
])
def test_annotation_flags_as_booleans(tmp_path: Path, flags: dict[str, Any], rows: list[tuple[str, str]],
                                      excluded: dict[str, int]) -> None:
    j = read(one(tmp_path, {"completed_by": 1, **flags, "result": [choice()]}), LS_TASKS)
    assert list(zip(j.frame["value"], j.frame["ground_truth"], strict=True)) == rows and j.excluded == excluded


# --- 6. the Ranker's "_" bucket ----------------------------------------------------------------------------


def ranker(value: Any) -> dict[str, Any]:
    return {"from_name": "order", "to_name": "list", "type": "ranker", "value": {"ranker": value}}


@pytest.mark.parametrize(("value", "expected"), [
    ({"_": ["r1", "r2", "r3", "r4"]}, "[]"),  # nothing placed: no ranking, the same as an empty ranker
    ({"top": ["r2"], "_": ["r1", "r3"]}, '["r2"]'),  # ({} holds no id at all: test_readers_labelstudio)  # a partial ranking: the content check rejects it
    ({"results": ["r2", "r1"]}, '["r2","r1"]'),  # List + Ranker without buckets: the list's own name
])
def test_unranked_bucket_is_not_a_ranking(tmp_path: Path, value: Any, expected: str) -> None:
    j = read(one(tmp_path, {"completed_by": 1, "result": [ranker(value)]}), LS_TASKS)
    assert j.frame["value"].tolist() == [expected]


# --- 7. a CSV that is only a header ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["h.csv", "h.tsv"])
@pytest.mark.parametrize("ending", ["", "\n", "\r\n", "\r"])
def test_header_only_csv_has_no_rows(tmp_path: Path, name: str, ending: str) -> None:
    sep = "\t" if name.endswith(".tsv") else ","
    header = sep.join(["item_id", "annotator_id", "label"])
    j = read(write(tmp_path, name, "\ufeff" + header + ending))
    assert (len(j.frame), j.rows_read, j.excluded) == (0, 0, {})
    assert list(j.frame.columns[:3]) == ["item", "unit", "task"]


@pytest.mark.parametrize(("between", "hinted"), [("\r", True), ("\r \r", True), (" ", False)])
def test_jsonl_records_separated_by_a_bare_cr_get_a_hint(tmp_path: Path, between: str, hinted: bool) -> None:
    row = '{"item_id": "i1", "annotator_id": "a1", "label": "x"}'
    diag = diagnostic(write(tmp_path, "cr.jsonl", row + between + row.replace("i1", "i2") + "\r"))
    assert diag.check_tuple() == ("LS402", 1, len(row) + len(between) + 1)  # where the second record starts
    assert diag.message == "invalid JSON: Extra data"
    assert (diag.hint is not None and "bare carriage return" in diag.hint) is hinted


def test_header_only_csv_still_checks_columns(tmp_path: Path) -> None:
    diag = diagnostic(write(tmp_path, "h.csv", "item_id,annotator"))
    assert diag.check_tuple() == ("LS403", 1, 0)


# --- 8. what exclusions and type errors say ------------------------------------------------------------------


def detail(tmp_path: Path, result: dict[str, Any]) -> str:
    j = read(one(tmp_path, {"completed_by": 1, "result": [result]}), LS_TASKS)
    assert len(j.frame) == 0 and j.excluded == {"result_kind_mismatch": 1}
    text: str = j.exclusions["detail"].iloc[0]
    return text


@pytest.mark.parametrize(("value", "found"), [
    ({"selected": "tie"}, 'found string "tie"'), ({"selected": None}, "found null"), ({"selected": 1}, "found number 1"),
])
def test_pairwise_selection_says_what_was_expected(tmp_path: Path, value: dict[str, Any], found: str) -> None:
    text = detail(tmp_path, {"from_name": "pref", "type": "pairwise", "value": value})
    assert text == f"'pref' is pairwise, result type pairwise: value.selected must be \"left\" or \"right\"; {found} " \
                   "(task 1, annotation 9)"


def test_missing_keys_are_named(tmp_path: Path) -> None:
    assert detail(tmp_path, choice(labels=["x"])) == \
        "'intent' is single_choice, result type choices: the value has no 'choices' key (task 1, annotation 9)"
    assert detail(tmp_path, {"from_name": "pref", "type": "pairwise", "value": {}}) == \
        "'pref' is pairwise, result type pairwise: the value has no 'selected' key (task 1, annotation 9)"
    assert detail(tmp_path, ranker("r1")).startswith("'order' is ranking, result type ranker: value.ranker must be")


def test_a_result_of_another_type_keeps_the_short_detail(tmp_path: Path) -> None:
    # (a rating read from Choices is no longer a mismatch: the compiled config writes scales not from 1 so)
    assert detail(tmp_path, choice("order")) == "'order' is ranking, result type choices (task 1, annotation 9)"


@pytest.mark.parametrize(("ann", "message"), [
    ({"completed_by": {"id": 1, "email": 5}, "result": [choice()]}, "completed_by.email must be a string; found number 5"),
    ({"completed_by": {"id": 1, "email": ["a"]}, "result": [choice()]}, "completed_by.email must be a string"),
    ({"completed_by": 1, "result": [{**choice(), "from_name": 5}]}, "'from_name' must be a string; found number 5"),
    ({"completed_by": 1, "result": [{**choice(), "from_name": True}]}, "'from_name' must be a string; found boolean"),
])
def test_numbers_where_labelstudio_writes_strings(tmp_path: Path, ann: dict[str, Any], message: str) -> None:
    diag = ls_error(tmp_path, one(tmp_path, ann))
    assert diag.check_tuple()[:2] == ("LS404", ANN_LINE) and message in diag.message


def test_numeric_user_ids_stay_accepted(tmp_path: Path) -> None:
    j = read(one(tmp_path, {"completed_by": {"id": 5}, "result": [choice()]}), LS_TASKS)
    assert j.frame["annotator"].tolist() == ["5"]


# --- end to end: exit code 2 with FILE:LINE ------------------------------------------------------------------


def test_cli_reports_hazards_as_input_errors(tiny_project: Callable[..., Any], run_cli: Callable[..., Any],
                                            tmp_path: Path) -> None:
    tiny = tiny_project(labels_text='{"item_id": "i1", "annotator_id": "a1", "label": "\\ud800"}\n',
                        name="labels.jsonl")
    r = run_cli("check", str(tiny.root / "labelspec.yaml"), str(tiny.labels))
    assert r.code == 2 and "labels.jsonl:1" in r.out + r.err and "unpaired surrogate" in r.out + r.err
    bad = parquet(tmp_path, bad_utf8([b"pos", b"\xff"]))
    r = run_cli("check", str(tiny.root / "labelspec.yaml"), str(bad))
    assert r.code == 2 and "bad.parquet:2" in r.out + r.err


@pytest.mark.parametrize(("result", "said"), [
    (choice(choices=[5]), "value.choices must be an array of strings; found array [5]"),
    (choice(choices=[None]), "value.choices must be an array of strings; found array [null]"),
    ({"from_name": "note", "type": "textarea", "value": {"text": 5}},
     "value.text must be a string or an array of strings; found number 5"),
])
def test_numbers_in_result_values_are_not_text(tmp_path: Path, result: dict[str, Any], said: str) -> None:
    tasks = [*LS_TASKS, TaskShape("note", "text", False)]
    j = read(one(tmp_path, {"completed_by": 1, "result": [result]}), tasks)
    assert len(j.frame) == 0 and j.excluded == {"result_kind_mismatch": 1}
    assert said in j.exclusions["detail"].iloc[0]


# --- numbers a list value cannot carry -----------------------------------------------------------------------

RANKING = [TaskShape("order", "ranking", True)]
HUGE = "1" * 5000  # over Python's 4300-digit conversion limit


@pytest.mark.parametrize("number", ["1e999", "-1e999", HUGE])
def test_jsonl_list_value_with_an_unwritable_number_is_located(tmp_path: Path, number: str) -> None:
    ok = '{"item_id": "i1", "task": "order", "annotator_id": "a", "label": ["r1", "r2"]}\n'
    bad = f'{{"item_id": "i1", "task": "order", "annotator_id": "b", "label": [{number}, "r2"]}}\n'
    diag = diagnostic(write(tmp_path, "x.jsonl", ok + bad), RANKING)
    assert diag.check_tuple()[:3] == ("LS404", 2, 0)
    assert diag.message == "'label' holds a number JSON cannot carry (NaN, infinity or over 4300 digits)"


def test_csv_list_cell_with_an_unwritable_number_is_located(tmp_path: Path) -> None:
    text = 'item_id,task,annotator_id,label\ni1,order,a,"[""r1"",""r2""]"\ni1,order,b,"[1e999,""r2""]"\n'
    diag = diagnostic(write(tmp_path, "x.csv", text), RANKING)
    assert diag.check_tuple()[:2] == ("LS404", 3) and "cannot carry" in diag.message


def ranking_parquet(tmp_path: Path, label: pa.Array) -> Path:
    table = pa.table({"item_id": ["i1", "i2"], "task": ["order", "order"], "annotator_id": ["a", "b"], "label": label})
    pq.write_table(table, tmp_path / "x.parquet")
    return tmp_path / "x.parquet"


@pytest.mark.parametrize(("values", "element"), [
    ([[b"r1"], [b"r2"]], pa.binary()), ([[b"r1"], [b"r2"]], pa.large_binary()),
    ([[dt.datetime(2026, 1, 1)], []], pa.timestamp("ms", "UTC")), ([[dt.date(2026, 1, 1)], []], pa.date32()),
    ([[decimal.Decimal("1.5")], []], pa.decimal128(5, 1)), ([[dt.timedelta(seconds=1)], []], pa.duration("s")),
    ([[True, False], []], pa.bool_()), ([[{"id": "r1"}], []], pa.struct([("id", pa.string())])),
    ([[1, 2], [2, 1]], pa.int64()), ([[1.0, 2.0], [float("nan"), 2.0]], pa.float64()),
    ([[["r1"]], []], pa.list_(pa.string())),
], ids=lambda v: str(v) if isinstance(v, pa.DataType) else "")
def test_parquet_list_of_anything_but_strings_is_a_type_error(tmp_path: Path, values: list[Any],
                                                               element: pa.DataType) -> None:
    """Label and option ids are strings: any other element type is LS404 at the file, naming the column, the type
    and what is accepted (binary, dates and decimals crashed canonical JSON; booleans and structs were excluded
    row by row; numbers went on as values no task can hold)."""
    path = ranking_parquet(tmp_path, pa.array(values, pa.list_(element)))
    diag = diagnostic(path, RANKING)
    found = pq.read_schema(path).field("label").type
    assert diag.check_tuple() == ("LS404", 0, 0) and found.value_type == element
    assert diag.message == (f"column 'label' (input.columns.value) has Parquet type {found}; "
                            "expected string, or list<string> (for list-valued tasks)")
    assert diag.hint is not None and diag.hint.startswith("label and option ids are strings")


@pytest.mark.parametrize("label", [
    pa.array([["r1", "r2"], ["r2", None]], pa.list_(pa.string())),
    pa.array([["r1", "r2"], ["r2", None]], pa.large_list(pa.large_string())),
    pa.array([["r1", "r2"], ["r2", None]], pa.list_(pa.string_view())),
    pa.array([["r1", "r2"], ["r2", None]], pa.list_(pa.string())).cast(
        pa.list_(pa.dictionary(pa.int32(), pa.string()))),
], ids=["string", "large", "view", "dictionary"])
def test_parquet_list_of_strings_is_canonical_json(tmp_path: Path, label: pa.Array) -> None:
    j = read(ranking_parquet(tmp_path, label), RANKING)
    assert j.frame["value"].astype(str).tolist() == ['["r1","r2"]', '["r2",null]']


def test_parquet_list_of_arrow_null_type_is_empty_lists(tmp_path: Path) -> None:
    j = read(ranking_parquet(tmp_path, pa.array([[], None])), RANKING)  # list<null>: what [[], None] infers
    assert j.frame["value"].astype(str).tolist() == ["[]", ""]


def test_canonical_json_refuses_values_of_no_json_type() -> None:
    with pytest.raises(UnwritableValue, match="no JSON type"):
        canonical_json(["r1", b"r2"])


def test_labelstudio_span_with_an_unwritable_offset_is_excluded(tmp_path: Path) -> None:
    result = {"from_name": "ents", "to_name": "text", "type": "labels",
              "value": {"start": 123456789, "end": 5, "labels": ["X"]}}
    path = one(tmp_path, {"completed_by": 1, "result": [result]})
    path.write_text(path.read_text("utf-8").replace("123456789", "1e999"), "utf-8")
    j = read(path, [TaskShape("ents", "spans", True)])
    assert len(j.frame) == 0 and j.excluded == {"result_kind_mismatch": 1}
    assert "cannot carry" in j.exclusions["detail"].iloc[0]


def test_parquet_string_view_columns_are_text(tmp_path: Path) -> None:
    """Arrow's string_view layout (polars writes it) is text like string and large_string."""
    table = pa.table({"item_id": pa.array(["i1", "i2"], pa.string_view()), "annotator_id": ["a", "b"],
                      "label": pa.array(["x", "y"], pa.string_view())})
    pq.write_table(table, tmp_path / "v.parquet")
    j = read(tmp_path / "v.parquet")
    assert j.frame["item"].astype(str).tolist() == ["i1", "i2"] and j.frame["value"].astype(str).tolist() == ["x", "y"]


def test_an_unknown_from_name_close_to_a_task_suggests_it(tmp_path: Path) -> None:
    """The audit's case: a control renamed in the tool (``topic`` for ``topics``) is named with the near task."""
    j = read(one(tmp_path, {"completed_by": 1, "result": [
        {"from_name": "prefs", "type": "choices", "value": {"choices": ["A"]}}]}), LS_TASKS)
    (detail,) = j.exclusions["detail"].tolist()
    assert j.excluded == {"unknown_task": 1} and detail.endswith("; did you mean 'pref'?")
    far = read(one(tmp_path, {"completed_by": 1, "result": [
        {"from_name": "zzz", "type": "choices", "value": {"choices": ["A"]}}]}), LS_TASKS)
    assert "did you mean" not in far.exclusions["detail"].iloc[0]
