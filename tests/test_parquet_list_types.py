"""Parquet list flavours: every list type pyarrow writes to Parquet reads as the plain ``list<string>`` column does.

A writer may store a multi-choice set or a ranking as ``large_list``, ``fixed_size_list`` (every ranking has four
options), ``list_view`` or ``large_list_view``; the judgments, and the ``check`` report, must not depend on it.
Element types refused today (structs, nested lists, numbers) stay LS404.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from labelspec import api
from labelspec.check.read_parquet import _as_large_list
from labelspec.check.readers import ColumnMap, Judgments, TaskShape, read_label_files
from labelspec.check.render import render_json
from labelspec.errors import InputError

TAGS = [TaskShape("tags", "multi_choice", True)]
ORDER = [TaskShape("order", "ranking", True)]
STRING = pa.string()
DICT = pa.dictionary(pa.int32(), pa.string())
#: Every variable-length list flavour, with plain and dictionary-encoded elements.
VARIABLE = {
    "large_list": pa.large_list(STRING),
    "list_view": pa.list_view(STRING),
    "large_list_view": pa.large_list_view(pa.large_string()),
    "list<dictionary>": pa.list_(DICT),
    "list_view<dictionary>": pa.list_view(DICT),
}
#: Sets of varying length: empty, a null list, a null element (kept as JSON null), non-ASCII text.
SETS = [["a", "b"], [], None, ["c", None], ["ü", "a", "d"], ["b"]]


def write(path: Path, values: pa.Array, *, row_group_size: int | None = None) -> Path:
    n = len(values)
    table = pa.table({"item_id": [f"i{i // 2}" for i in range(n)], "annotator_id": ["a", "b"] * (n // 2),
                      "label": values})
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def read(path: Path, tasks: list[TaskShape]) -> Judgments:
    return read_label_files([path], columns=ColumnMap(), tasks=tasks, display_paths=[path.name])


def frame_of(path: Path, tasks: list[TaskShape]) -> list[tuple[str, ...]]:
    f = read(path, tasks).frame
    return list(zip(f["item"], f["annotator"], f["value"], f["line"].astype(str), strict=True))


def test_the_flavours_survive_parquet(tmp_path: Path) -> None:
    """The premise: pyarrow writes and reads back each flavour as itself (not as a plain list)."""
    for name, t in {**VARIABLE, "fixed_size_list": pa.list_(STRING, 4)}.items():
        values = pa.array([["a", "b", "c", "d"]] * 2, t)
        assert pq.read_schema(write(tmp_path / f"{name}.parquet", values)).field("label").type == t


@pytest.mark.parametrize("name", list(VARIABLE))
def test_variable_length_flavours_read_as_the_plain_list(tmp_path: Path, name: str) -> None:
    plain = write(tmp_path / "plain.parquet", pa.array(SETS, pa.list_(STRING)))
    other = write(tmp_path / "other.parquet", pa.array(SETS, VARIABLE[name]), row_group_size=4)
    expected = frame_of(plain, TAGS)
    assert [v for _, _, v, _ in expected] == ['["a","b"]', "[]", "", '["c",null]', '["ü","a","d"]', '["b"]']
    assert frame_of(other, TAGS) == expected


@pytest.mark.parametrize("element", [STRING, pa.large_string(), DICT], ids=str)
def test_fixed_size_list_reads_as_the_plain_list(tmp_path: Path, element: pa.DataType) -> None:
    rankings = [["r1", "r2", "r3", "r4"], None, ["r4", "r3", None, "r1"], ["r2", "r1", "r4", "r3"]]
    plain = write(tmp_path / "plain.parquet", pa.array(rankings, pa.list_(STRING)))
    fixed = write(tmp_path / "fixed.parquet", pa.array(rankings, pa.list_(element, 4)), row_group_size=3)
    expected = frame_of(plain, ORDER)
    assert [v for _, _, v, _ in expected] == ['["r1","r2","r3","r4"]', "", '["r4","r3",null,"r1"]',
                                             '["r2","r1","r4","r3"]']
    assert frame_of(fixed, ORDER) == expected


@pytest.mark.parametrize("name", list(VARIABLE))
def test_the_rebuilt_list_is_valid_arrow(tmp_path: Path, name: str) -> None:
    """Not Arrow's cast: from a large_list_view it builds offsets one short (apache/arrow#50994), read past."""
    path = write(tmp_path / "v.parquet", pa.array(SETS, VARIABLE[name]), row_group_size=4)
    column = pq.read_table(path).column("label")
    rebuilt = _as_large_list(column)
    for chunk in rebuilt.chunks:
        chunk.validate(full=True)
    assert pa.types.is_list(rebuilt.type) or pa.types.is_large_list(rebuilt.type)  # offsets, no views
    assert rebuilt.to_pylist() == column.to_pylist() == SETS


RANKING_SPEC = """labelspec: 1
project: {id: demo, title: Demo, version: 1.0.0}
tasks:
  order:
    kind: ranking
    question: Rank the four responses.
    options: [r1, r2, r3, r4]
    agreement: {metric: kendall_w, min: 0.5}
"""
RANKINGS = [["r1", "r2", "r3", "r4"], ["r2", "r1", "r3", "r4"], ["r4", "r3", "r2", "r1"], ["r4", "r3", "r1", "r2"],
            ["r1", "r3", "r2", "r4"], ["r1", "r2", "r4", "r3"], ["r5", "r1", "r2", "r3"], None]


@pytest.mark.parametrize("name", ["list", "fixed_size_list", *VARIABLE])
def test_check_report_is_the_same_for_every_flavour(tmp_path: Path, name: str) -> None:
    """Same accounting (a bad option and a missing value excluded alike), same agreement, same gates."""
    spec = tmp_path / "labelspec.yaml"
    spec.write_text(RANKING_SPEC, encoding="utf-8")
    (tmp_path / "plain").mkdir()
    (tmp_path / "other").mkdir()
    flavour = {**VARIABLE, "list": pa.list_(STRING), "fixed_size_list": pa.list_(STRING, 4)}[name]
    plain = write(tmp_path / "plain" / "labels.parquet", pa.array(RANKINGS, pa.list_(STRING)))
    other = write(tmp_path / "other" / "labels.parquet", pa.array(RANKINGS, flavour))
    reports = [api.check_labels(spec, [path], bootstrap=0).to_dict() for path in (plain, other)]
    assert reports[0]["accounting"]["rows_read"] == 8 and reports[0]["accounting"]["rows_excluded"] == 2
    assert [r["files"] for r in reports] == [[str(plain)], [str(other)]]
    assert render_json(reports[1]).replace(str(other), str(plain)) == render_json(reports[0])


@pytest.mark.parametrize("t", [
    pa.list_(pa.struct([("label", STRING)]), 2),
    pa.list_view(pa.struct([("label", STRING)])),
    pa.large_list_view(pa.list_(STRING)),
    pa.list_(pa.list_(STRING), 2),
    pa.list_(pa.int64(), 2),
], ids=str)
def test_element_types_refused_today_stay_ls404_with_file_and_column(tmp_path: Path, t: pa.DataType) -> None:
    path = write(tmp_path / "nested.parquet", pa.array([None, None], t))
    with pytest.raises(InputError) as info:
        read(path, TAGS)
    (d,) = info.value.diagnostics
    assert d.code == "LS404" and d.loc is not None and d.loc.path == "nested.parquet"
    written = pq.read_schema(path).field("label").type  # as Parquet gives it back: the element field is renamed
    assert d.message == (f"column 'label' (input.columns.value) has Parquet type {written}; expected string, or "
                         "list<string> (for list-valued tasks)")
    assert d.hint is not None and "list<string>" in d.hint


def test_invalid_utf8_in_a_fixed_size_list_after_a_null_list_names_its_row(tmp_path: Path) -> None:
    """A null fixed-size list still has slots in the child array; the row of a bad string must not shift."""
    strings = pa.array([b"r1", b"r2", b"", b"", b"ok", b"\xff"], pa.binary()).view(pa.string())
    lists = pa.FixedSizeListArray.from_arrays(strings, 2, mask=pa.array([False, True, False]))
    with pytest.raises(InputError) as info:
        read(write(tmp_path / "bad.parquet", pa.concat_arrays([lists, lists.slice(0, 1)])), TAGS)
    (d,) = info.value.diagnostics
    assert d.check_tuple() == ("LS401", 3, 0) and "'label'" in d.message
