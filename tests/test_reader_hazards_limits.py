"""Hostile label files at the limits of Python itself: numbers no float or int text can hold, nesting near the
recursion limit, fields past the ``csv`` module's length limit, timestamps past year 9999, values too long to show.

Each is an exclusion or an InputError at FILE:LINE (exit 2), never a crash (exit 3), and never depends on which
parsing path a file takes.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelspec.check.read_common import MAX_SHOWN, clip, clip_texts, json_shown
from labelspec.check.readers import ColumnMap, Judgments, TaskShape, read_label_files
from labelspec.errors import Diagnostic, InputError
from labelspec.spec.records import TIMESTAMP_RE
from labelspec.strictjson import MAX_DEPTH, TooDeep, plain, strict_decoder

ONE = [TaskShape("intent", "single_choice", False)]
TWO = [TaskShape("intent", "single_choice", False), TaskShape("tags", "multi_choice", True)]
SPANS = [TaskShape("ents", "spans", True)]
HUGE = "1" + "0" * 5000  # past Python's 4300-digit int conversion limit
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and symlinks are POSIX")


def read(path: Path, tasks: list[TaskShape] = ONE) -> Judgments:
    return read_label_files([path], columns=ColumnMap(), tasks=tasks, display_paths=[path.name])


def diagnostic(path: Path, tasks: list[TaskShape] = ONE) -> Diagnostic:
    with pytest.raises(InputError) as info:
        read(path, tasks)
    assert len(info.value.diagnostics) == 1
    return info.value.diagnostics[0]


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content, "utf-8")
    return path


def nested(depth: int, inner: str = "") -> str:
    return "[" * depth + inner + "]" * depth


# --- Label Studio exports with raw JSON spliced in ----------------------------------------------------------

RAW = "@@RAW@@"  # its JSON text is replaced by text json.dumps cannot write (1e999, 5000 digits, 600 levels)
SPLICE = json.dumps(RAW)


def export(tmp_path: Path, ann: dict[str, Any], raw: str, *, data: dict[str, Any] | None = None) -> Path:
    task = {"id": 1, "data": data or {"item_id": "d1"}, "annotations": [{"id": 9, **ann}]}
    return write(tmp_path, "export.json", json.dumps([task], indent=1).replace(SPLICE, raw))


def choice(name: str = "intent", **value: Any) -> dict[str, Any]:
    return {"from_name": name, "to_name": "text", "type": "choices", "value": value or {"choices": ["x"]}}


# --- 1. numbers JSON cannot write, in a field of the wrong type ----------------------------------------------


@pytest.mark.parametrize(("record", "said"), [
    ('{"item_id": "i1", "task": 1e999, "annotator_id": "a", "label": "x"}',
     "'task' must be a string; found number 1e999"),
    (f'{{"item_id": "i1", "task": {HUGE}, "annotator_id": "a", "label": "x"}}',
     "'task' must be a string; found number 1000"),
    ('{"item_id": "i1", "task": "intent", "annotator_id": "a", "label": {"x": 1e999}}', 'found object {"x":1e999}'),
])
def test_jsonl_unwritable_number_in_a_wrong_field_is_located(tmp_path: Path, record: str, said: str) -> None:
    diag = diagnostic(write(tmp_path, "x.jsonl", record + "\n"), TWO)
    assert diag.check_tuple()[:2] == ("LS404", 1) and said in diag.message and len(diag.message) < 200


@pytest.mark.parametrize(("ann", "raw", "said"), [
    ({"completed_by": 1, "was_cancelled": RAW, "result": [choice()]}, "1e999", "'was_cancelled' must be true or false"),
    ({"completed_by": 1, "result": [{**choice(), "from_name": RAW}]}, "1e999", "'from_name' must be a string"),
    ({"completed_by": {"email": RAW}, "result": [choice()]}, "1e999", "completed_by.email must be a string"),
    ({"completed_by": 1, "ground_truth": RAW, "result": [choice()]}, HUGE, "'ground_truth' must be true or false"),
])
def test_labelstudio_unwritable_number_in_a_wrong_field_is_located(tmp_path: Path, ann: dict[str, Any], raw: str,
                                                                     said: str) -> None:
    diag = diagnostic(export(tmp_path, ann, raw))
    assert diag.code == "LS404" and said in diag.message and "found number 1" in diag.message


def test_labelstudio_unwritable_number_in_task_data_is_located(tmp_path: Path) -> None:
    path = export(tmp_path, {"completed_by": 1, "result": [choice()]}, '{"a": 1e999}', data={"item_id": RAW})
    diag = diagnostic(path)
    assert diag.check_tuple()[:2] == ("LS404", 2) and 'found object {"a":1e999}' in diag.message


def test_json_shown_never_fails_and_stays_short() -> None:
    decode = strict_decoder().decode
    assert json_shown(decode("1e999")) == "number 1e999"
    assert json_shown(decode(HUGE)) == "number " + HUGE[:60] + "…"
    assert json_shown(decode(nested(900))) == "array " + "[" * 60 + "…"
    assert json_shown(decode('{"a": [1, true, null, "b"]}')) == 'object {"a":[1,true,null,"b"]}'
    assert json_shown(None) == "null" and json_shown(False) == "boolean false"


# --- 2. nesting near the recursion limit --------------------------------------------------------------------


def test_plain_refuses_nesting_past_the_limit() -> None:
    decode = strict_decoder().decode
    assert plain(decode(nested(MAX_DEPTH, "1"))) == json.loads(nested(MAX_DEPTH, "1"))
    for depth in (MAX_DEPTH + 1, 500, 900):
        with pytest.raises(TooDeep):
            plain(decode(nested(depth)))


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 400, 500, 900])
def test_deep_csv_list_cell_is_kept_as_written(tmp_path: Path, depth: int) -> None:
    """Kept as written (as an undecodable cell is): the content check excludes it as invalid_value."""
    cell = nested(depth, "1").replace("1", "1, 2")
    path = write(tmp_path, "x.csv", f'item_id,annotator_id,label\ni1,a,"{cell}"\n')
    j = read(path, SPANS)
    assert j.frame["value"].astype(str).tolist() == [cell]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 900])
def test_deep_jsonl_list_value_is_located(tmp_path: Path, depth: int) -> None:
    record = f'{{"item_id": "i1", "task": "tags", "annotator_id": "a", "label": {nested(depth)}}}\n'
    diag = diagnostic(write(tmp_path, "x.jsonl", record), TWO)
    assert diag.check_tuple()[:2] == ("LS404", 1)
    assert diag.message == f"'label' nests arrays or objects deeper than {MAX_DEPTH} levels"


def test_deep_jsonl_value_of_a_single_choice_task_is_located(tmp_path: Path) -> None:
    record = f'{{"item_id": "i1", "task": "intent", "annotator_id": "a", "label": {nested(500)}}}\n'
    diag = diagnostic(write(tmp_path, "x.jsonl", record), TWO)
    assert diag.code == "LS404" and "found array [[[" in diag.message and len(diag.message) < 200


@pytest.mark.parametrize(("tasks", "result"), [
    (ONE, choice(choices=RAW)),
    ([TaskShape("order", "ranking", True)], {"from_name": "order", "type": "ranker", "value": {"ranker": RAW}}),
    (SPANS, {"from_name": "ents", "type": "labels", "value": {"start": 0, "end": 1, "labels": RAW}}),
])
def test_deep_labelstudio_result_is_excluded(tmp_path: Path, tasks: list[TaskShape], result: dict[str, Any]) -> None:
    j = read(export(tmp_path, {"completed_by": 1, "result": [result]}, nested(600)), tasks)
    assert len(j.frame) == 0 and j.excluded == {"result_kind_mismatch": 1}
    assert len(j.exclusions["detail"].iloc[0]) < 300


def test_deep_labelstudio_item_is_located(tmp_path: Path) -> None:
    diag = diagnostic(export(tmp_path, {"completed_by": 1, "result": [choice()]}, nested(600), data={"item_id": RAW}))
    assert diag.check_tuple()[:2] == ("LS404", 2) and "data.item_id" in diag.message


def test_deep_labelstudio_annotation_id_stays_short(tmp_path: Path) -> None:
    ann = {"completed_by": 1, "was_cancelled": True, "result": []}
    path = write(tmp_path, "export.json", json.dumps([{"id": 1, "data": {"item_id": "d1"}, "annotations": [
        {**ann, "id": RAW}]}]).replace(SPLICE, nested(900)))
    j = read(path)
    assert j.excluded == {"cancelled_annotation": 1}
    assert j.exclusions["detail"].iloc[0] == "task 1, annotation array " + "[" * 60 + "…"


# --- 3. a paragraph index past int's text limit --------------------------------------------------------------

STEPS = [TaskShape("tool_call", "single_choice", False, per_step=True)]


@pytest.mark.parametrize("start", ["-1", HUGE, "1" * 19])
def test_paragraph_index_too_long_is_excluded(tmp_path: Path, start: str) -> None:
    result = {"from_name": "tool_call", "type": "paragraphlabels",
              "value": {"start": RAW, "end": RAW, "paragraphlabels": ["ok"]}}
    j = read(export(tmp_path, {"completed_by": 1, "result": [result]}, json.dumps(start)), STEPS)
    assert len(j.frame) == 0 and j.excluded == {"result_kind_mismatch": 1}
    assert "paragraph indices" in j.exclusions["detail"].iloc[0]


def test_paragraph_index_of_eighteen_digits_is_a_step(tmp_path: Path) -> None:
    result = {"from_name": "tool_call", "type": "paragraphlabels",
              "value": {"start": RAW, "end": RAW, "paragraphlabels": ["ok"]}}
    j = read(export(tmp_path, {"completed_by": 1, "result": [result]}, "9" * 17), STEPS)
    assert j.frame["unit"].astype(str).tolist() == ["1" + "0" * 17]


# --- 4. a CSV field past the csv module's 131072 characters --------------------------------------------------

LONG = "x" * 200_000


@pytest.mark.parametrize("tail", ["", "\n", 'i2,a2,"ref\nund"\n'], ids=["fast", "blank line", "quoted newline"])
def test_long_csv_field_is_read_on_every_path(tmp_path: Path, tail: str) -> None:
    j = read(write(tmp_path, "x.csv", f'item_id,annotator_id,label\ni1,a1,"{LONG}"\n{tail}'))
    assert j.frame["value"].astype(str).tolist()[0] == LONG
    assert j.frame["line"].tolist()[0] == 2


def test_long_csv_field_with_an_unbalanced_quote_says_so(tmp_path: Path) -> None:
    diag = diagnostic(write(tmp_path, "x.csv", f'item_id,annotator_id,label\ni1,a1,ok\ni1,a2,"{LONG}\n\n'))
    assert diag.check_tuple()[:2] == ("LS402", 3) and diag.message.startswith("unbalanced quote")


def test_csv_field_limit_is_restored(tmp_path: Path) -> None:
    import csv

    before = csv.field_size_limit()
    read(write(tmp_path, "x.csv", f'item_id,annotator_id,label\ni1,a1,"{LONG}"\n\n'))
    assert csv.field_size_limit() == before


@pytest.mark.parametrize("quote", ['', '"'], ids=["plain", "quoted"])
@pytest.mark.parametrize("sizes", [(500_000, 2_000_000), (1_500_000, 5_000_000)], ids=["2MB", "5MB"])
def test_csv_record_longer_than_pyarrows_block_is_read(tmp_path: Path, quote: str, sizes: tuple[int, int]) -> None:
    """A record must fit in one of pyarrow's blocks (1 MiB): after a long record, a longer one "straddled" them
    and the file failed without a line. It is parsed again with larger blocks."""
    rows = "".join(f"i{i},a{i},{quote}{'y' * n}{quote}\n" for i, n in enumerate(sizes))
    j = read(write(tmp_path, "x.csv", f"item_id,annotator_id,label\n{rows}i9,a9,z\n"))
    assert j.frame["value"].astype(str).str.len().tolist() == [*sizes, 1]
    assert j.frame["line"].tolist() == [2, 3, 4]


def test_csv_record_past_the_limit_is_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The limit is 1 GiB (pyarrow's block size is a 32-bit integer); lowered here to 1 MiB to test it."""
    from labelspec.check import read_csv

    monkeypatch.setattr(read_csv, "MAX_RECORD_BYTES", 1 << 20)
    text = f'item_id,annotator_id,label\ni1,a1,x\n\ni2,a2,"{"y" * 2_500_000}\n"\ni3,a3,z\n'
    diag = diagnostic(write(tmp_path, "x.csv", text))
    assert diag.check_tuple() == ("LS402", 4, 0)
    assert diag.message == f"record of {2_500_010} bytes, longer than the limit of {1 << 20} bytes"


# --- bad bytes: the physical line as the CSV parsers count it, and the column in characters ------------------

CSV_HEAD = "item_id,annotator_id,label\n"


@pytest.mark.parametrize("first", ["i1,a1,x\ri2,a2,y\n", 'i1,a1,"x\ry"\n', "i1,a1,x\r\n"],
                         ids=["lone CR", "CR in quotes", "CRLF"])
@pytest.mark.parametrize(("bad", "code", "column"), [
    (b"\xc3\xa9\xc3\xa9\x00", "LS402", 3), (b"\xc3\xa9\xc3\xa9\xff", "LS401", 3), (b"\xe2\x82", "LS401", 1),
], ids=["NUL after two é", "0xff after two é", "cut 3-byte char"])
def test_csv_bad_byte_is_located_as_the_parser_counts_lines(tmp_path: Path, first: str, bad: bytes, code: str,
                                                           column: int) -> None:
    lines = 2 + first.count("\n") + first.replace("\r\n", "").count("\r")  # the line the bad row starts on
    path = tmp_path / "x.csv"
    path.write_bytes((CSV_HEAD + first).encode() + b"i3,a3," + bad + b"\n")
    assert diagnostic(path).check_tuple() == (code, lines, 6 + column)
    path.write_bytes((CSV_HEAD + first).encode() + b"i3,a3\n")  # the same layout, ragged: the same line
    assert diagnostic(path).check_tuple()[:2] == ("LS402", lines)


def test_bad_byte_column_counts_characters_and_skips_the_bom(tmp_path: Path) -> None:
    before = "item_id,annotator_id,läbel"
    path = tmp_path / "x.csv"
    path.write_bytes(b"\xef\xbb\xbf" + before.encode() + b"\x00\n")
    assert diagnostic(path).check_tuple() == ("LS402", 1, len(before) + 1)


def test_jsonl_lone_cr_is_not_a_line_break_for_bad_bytes(tmp_path: Path) -> None:
    """JSON takes a lone CR as whitespace and JSONL lines end at LF: a bad byte's line is the reader's line."""
    before = '{"item_id": "i1",\r "annotator_id": "a", "label": "é'
    path = tmp_path / "x.jsonl"
    path.write_bytes(before.encode() + b'\x00"}\n')
    assert diagnostic(path).check_tuple() == ("LS402", 1, len(before) + 1)


# --- 5. entries of a folder that are not regular files -------------------------------------------------------


@posix_only
def test_dangling_symlink_named_directly_says_so(tmp_path: Path) -> None:
    link = tmp_path / "c.csv"
    link.symlink_to(tmp_path / "missing.csv")
    diag = diagnostic(link)
    assert diag.check_tuple()[:2] == ("LS401", 0) and "target does not exist" in diag.message


@posix_only
def test_folder_does_not_skip_fifos_and_dangling_symlinks(tmp_path: Path) -> None:
    from labelspec.api import _label_files

    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "a.csv").write_text("item_id,annotator_id,label\ni1,a1,x\n", "utf-8")
    os.mkfifo(folder / "b.csv")
    (folder / "c.csv").symlink_to(tmp_path / "missing.csv")
    (folder / "sub").mkdir()
    paths = _label_files([folder])
    assert [p.name for p in paths] == ["a.csv", "b.csv", "c.csv"]
    with pytest.raises(InputError) as info:
        read_label_files(paths, columns=ColumnMap(), tasks=ONE, display_paths=[p.name for p in paths])
    assert [(d.code, d.loc.path if d.loc else "") for d in info.value.diagnostics] == [
        ("LS401", "b.csv"), ("LS401", "c.csv")]


# --- 6. Parquet timestamps outside years 1-9999 --------------------------------------------------------------


@pytest.mark.parametrize(("unit", "tz"), [("ms", "UTC"), ("ms", "Europe/Paris"), ("us", None), ("us", "UTC")])
def test_parquet_timestamp_out_of_range_is_not_a_date(tmp_path: Path, unit: str, tz: str | None) -> None:
    """Parquet has no second unit (pyarrow writes seconds as milliseconds); nanoseconds cannot leave 1677-2262."""
    per_second = {"ms": 10**3, "us": 10**6}[unit]
    first, end = -62_135_596_800 * per_second, 253_402_300_800 * per_second
    far = -6 * 10**16 if unit == "ms" else 10**18  # strftime wrapped them into years 1189 and 33658
    raw = [first, end - per_second, first - 1, end, far, -2**63, 2**63 - 1, None]
    table = pa.table({"item_id": [f"i{i}" for i in range(len(raw))], "annotator_id": ["a"] * len(raw),
                      "label": ["x"] * len(raw), "created_at": pa.array(raw, pa.int64()).cast(pa.timestamp(unit, tz))})
    pq.write_table(table, tmp_path / "t.parquet")
    got = read(tmp_path / "t.parquet").frame["timestamp"].astype(str).tolist()
    fraction, suffix = ".000" if unit == "ms" else ".000000", "Z" if tz else ""
    assert got[:2] == [f"0001-01-01T00:00:00{fraction}{suffix}", f"9999-12-31T23:59:59{fraction}{suffix}"]
    assert got[-1] == ""
    for text in got[2:-1]:  # what the record check would also refuse, written as text
        assert "outside years 1-9999" in text and TIMESTAMP_RE.fullmatch(text) is None


# --- 7. exclusion details are cut to a bounded length --------------------------------------------------------


def test_clip() -> None:
    assert clip("short") == "short"
    assert clip("é" * 300) == "é" * MAX_SHOWN + "… (300 characters)"
    texts = np.array(["a", "b" * 250, "c"], dtype=object)
    assert clip_texts(texts).tolist() == ["a", "b" * MAX_SHOWN + "… (250 characters)", "c"]
    short = np.array(["a", "b"], dtype=object)
    assert clip_texts(short) is short


def test_labelstudio_exclusion_detail_is_cut(tmp_path: Path) -> None:
    j = read(export(tmp_path, {"completed_by": 1, "result": [choice(name="z" * 300_000)]}, ""))
    assert j.excluded == {"unknown_task": 1}
    detail = j.exclusions["detail"].iloc[0]
    assert len(detail) < MAX_SHOWN + 40 and re.search(r"… \(\d+ characters\)$", detail)


def test_long_label_is_counted_not_printed(tiny_project: Callable[..., Any], run_cli: Callable[..., Any],
                                           tmp_path: Path) -> None:
    rows = [("i1", "a1", "pos"), ("i1", "a2", "x" * 200_000)]
    tiny = tiny_project(rows)
    report = tmp_path / "report.json"
    r = run_cli("check", str(tiny.root / "labelspec.yaml"), str(tiny.labels), "--json", str(report))
    assert r.code == 1 and len(r.out) + len(r.err) < 20_000
    text = report.read_text("utf-8")
    assert len(text) < 50_000 and "… (200016 characters)" in text


# --- 8. message wording: JSON type names -----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "said"), [("5", "found number 5"), ("{}", "found object {}"),
                                             ('"x"', 'found string "x"'), ("true", "found boolean true")])
def test_predictions_of_the_wrong_type_name_json_types(tmp_path: Path, value: str, said: str) -> None:
    task = {"id": 1, "data": {"item_id": "d1"}, "annotations": [], "predictions": RAW}
    path = write(tmp_path, "export.json", json.dumps([task]).replace(SPLICE, value))
    diag = diagnostic(path)
    assert diag.code == "LS406" and diag.message == f"task 'predictions' must be a JSON array; {said}"
