"""Label-file readers for CSV, TSV, JSONL and Parquet: lossless strings, exact FILE:LINE errors (G10), accounting."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelspec.check.coded import CODED
from labelspec.check.readers import COLUMNS, ColumnMap, Judgments, TaskShape, read_label_files
from labelspec.errors import InputError

DATA = Path(__file__).parent / "data" / "readers"
ONE = [TaskShape("intent", "single_choice", False)]
TWO = [TaskShape("intent", "single_choice", False), TaskShape("tags", "multi_choice", True)]
RATING = [TaskShape("tone", "rating", False)]
HEADER = "item_id,task,annotator_id,label\n"


def read(paths: list[Path], tasks: list[TaskShape] = ONE, **kw: object) -> Judgments:
    return read_label_files(paths, columns=ColumnMap(), tasks=tasks, display_paths=[p.name for p in paths], **kw)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def error_of(paths: list[Path], tasks: list[TaskShape] = ONE, **kw: object) -> tuple[str, int, int]:
    with pytest.raises(InputError) as info:
        read(paths, tasks, **kw)
    assert len(info.value.diagnostics) == 1
    return info.value.diagnostics[0].check_tuple()


# --- losslessness ------------------------------------------------------------------------------------------

EXPECTED_ROWS = [
    # item, annotator, value, timestamp, lead_time
    ("NA", "None", "null", "", ""),
    ("nan", "N/A", "#N/A", "", ""),
    ("01", "1.0", "000123", "2024-05-01T10:00:00Z", "1.50"),
    ("a,b", " x ", '"quoted"', "", "0"),
]


@pytest.mark.parametrize("name", ["lossless.csv", "lossless.tsv", "lossless.jsonl"])
def test_values_are_kept_exactly_as_written(name: str) -> None:
    j = read([DATA / name])
    f = j.frame
    assert list(f.columns) == list(COLUMNS)
    got = list(zip(f["item"], f["annotator"], f["value"], f["timestamp"], f["lead_time"], strict=True))
    assert got == EXPECTED_ROWS
    assert f["unit"].tolist() == [""] * 4 and f["task"].tolist() == ["intent"] * 4
    assert f["line"].tolist() == [2, 3, 4, 5] if name != "lossless.jsonl" else [1, 2, 3, 4]
    assert j.rows_read == 4 and j.excluded == {}


def test_dtypes_are_strings_without_missing_values() -> None:
    """Id columns are Categoricals of strings (codes in sorted order, each text once); the rest are strings."""
    f = read([DATA / "lossless.csv"]).frame
    for col in COLUMNS[:-2]:
        if col in CODED:
            assert isinstance(f[col].dtype, pd.CategoricalDtype), col
            assert f[col].cat.categories.dtype == pd.StringDtype("pyarrow"), col
            assert list(f[col].cat.categories) == sorted(f[col].cat.categories), col
        else:
            assert f[col].dtype == pd.StringDtype("pyarrow"), col
        assert not f[col].isna().any(), col
    assert list(f["file"].cat.categories) == ["lossless.csv"] and not f["file"].isna().any()
    assert f["line"].dtype == "int64"


def test_codes_decode_to_the_text_and_follow_its_sorted_order() -> None:
    """The id codes made at read time: each decodes to its row's text; code order is the strings' order."""
    f = read([DATA / "lossless.csv"]).frame
    raw = pd.read_csv(DATA / "lossless.csv", dtype=str, keep_default_na=False)
    for field, column in (("item", "item_id"), ("annotator", "annotator_id"), ("value", "label")):
        cats = f[field].cat.categories
        assert list(cats) == sorted(set(raw[column])), field
        assert f[field].astype(str).tolist() == raw[column].tolist(), field
        assert [cats[c] for c in f[field].cat.codes] == raw[column].tolist(), field


def test_parquet_is_lossless_and_numbers_rows(tmp_path: Path) -> None:
    table = pa.table({
        "item_id": ["NA", "01", None], "annotator_id": ["None", "000123", "x"], "label": ["null", "1.0", "nan"],
        "created_at": pa.array(["", None, "2024-05-01T10:00:00Z"]).dictionary_encode(),
    })
    path = tmp_path / "labels.parquet"
    pq.write_table(table, path)
    f = read([path]).frame
    assert f["item"].tolist() == ["NA", "01", ""]
    assert f["annotator"].tolist() == ["None", "000123", "x"]
    assert f["value"].tolist() == ["null", "1.0", "nan"]
    assert f["timestamp"].tolist() == ["", "", "2024-05-01T10:00:00Z"]
    assert f["line"].tolist() == [1, 2, 3]


def test_parquet_repeated_values_come_as_dictionaries_and_read_like_the_same_csv(tmp_path: Path) -> None:
    """Annotators, tasks and closed-set values are read from Parquet as dictionaries (one per row group; a
    column written from a Categorical keeps its unused categories) and coded from them: the frame is the one the
    same rows give from CSV, text, categories and codes. Items stay text; so do list values."""
    from labelspec.check.read_common import ColumnMap as Columns
    from labelspec.check.read_parquet import parse_parquet

    rows = [("i3", "intent", "NA", "b"), ("i1", "intent", "a2", "a"), ("i2", "intent", "", "b"),
            ("i1", "intent", "a10", "c"), ("i3", "intent", "a2", "a")]
    columns = dict(zip(["item_id", "task", "annotator_id", "label"], map(list, zip(*rows, strict=True)), strict=True))
    pq.write_table(pa.table(columns), tmp_path / "a.parquet", row_group_size=2)
    spare = pd.Categorical(columns["annotator_id"], categories=["zz", "a2", "NA", "", "a10", "unused"])
    pq.write_table(pa.Table.from_pandas(pd.DataFrame({**columns, "annotator_id": spare})), tmp_path / "b.parquet")
    csv_text = HEADER + "".join(",".join(r) + "\n" for r in rows)
    want = read([write(tmp_path, "c.csv", csv_text)]).frame
    for name in ("a.parquet", "b.parquet"):
        parsed = parse_parquet((tmp_path / name).read_bytes(), name, Columns(), ONE)
        dictionaries = {f for f, c in parsed.columns.items() if pa.types.is_dictionary(c.type)}
        assert dictionaries >= {"task", "annotator", "value"}
        assert not pa.types.is_dictionary(parsed.columns["item"].type)
        got = read([tmp_path / name]).frame
        for field in ("item", "task", "annotator", "value"):
            assert got[field].tolist() == want[field].tolist(), (name, field)
            assert list(got[field].cat.categories) == list(want[field].cat.categories), (name, field)
            assert got[field].cat.codes.tolist() == want[field].cat.codes.tolist(), (name, field)
    both = read([tmp_path / "a.parquet", tmp_path / "b.parquet", tmp_path / "c.csv"]).frame
    assert both["annotator"].tolist() == want["annotator"].tolist() * 3
    assert list(both["annotator"].cat.categories) == ["", "NA", "a10", "a2"]
    lists = parse_parquet((tmp_path / "a.parquet").read_bytes(), "a.parquet", Columns(), TWO)
    assert pa.types.is_dictionary(lists.columns["annotator"].type)
    assert not pa.types.is_dictionary(lists.columns["value"].type)  # multi_choice values are canonicalised text


def test_parquet_columns_of_many_distinct_values_are_read_as_text(tmp_path: Path) -> None:
    """A repeated field written with a large dictionary (here 20,000 distinct annotators), or plain pages, is read
    as text: pyarrow would hash it into dictionaries again, slower than reading the text. The same frame."""
    from labelspec.check.read_common import ColumnMap as Columns
    from labelspec.check.read_parquet import parse_parquet

    n = 20_000
    table = pa.table({"item_id": [f"i{i % 7}" for i in range(n)], "annotator_id": [f"a{i:05d}" for i in range(n)],
                      "label": ["x", "y"] * (n // 2)})
    pq.write_table(table, tmp_path / "many.parquet")
    pq.write_table(table, tmp_path / "plain.parquet", use_dictionary=False)
    rows = zip(*table.to_pydict().values(), strict=True)
    csv_text = "item_id,annotator_id,label\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)
    want = read([write(tmp_path, "many.csv", csv_text)]).frame
    for name in ("many.parquet", "plain.parquet"):
        parsed = parse_parquet((tmp_path / name).read_bytes(), name, Columns(), ONE)
        assert not pa.types.is_dictionary(parsed.columns["annotator"].type)
        assert pa.types.is_dictionary(parsed.columns["value"].type) == (name == "many.parquet")  # two labels
        got = read([tmp_path / name]).frame
        for field in ("item", "annotator", "value"):
            assert got[field].cat.codes.tolist() == want[field].cat.codes.tolist(), (name, field)
            assert list(got[field].cat.categories) == list(want[field].cat.categories), (name, field)


def test_csv_repeated_values_come_as_dictionaries_and_mix_with_text_files(tmp_path: Path) -> None:
    """CSV parses annotators, tasks and closed-set values into dictionaries (no null detection: ``NA`` and the
    empty field are labels); read beside a JSON Lines file, whose columns are text, they concatenate."""
    from labelspec.check.read_common import ColumnMap as Columns
    from labelspec.check.read_csv import parse_csv

    text = HEADER + "i2,intent,NA,\ni1,intent,a1,NA\ni1,intent,,x\n"
    parsed = parse_csv(text.encode(), "a.csv", Columns(), ONE, delimiter=",")
    assert {f for f, c in parsed.columns.items() if pa.types.is_dictionary(c.type)} >= {"task", "annotator", "value"}
    assert not pa.types.is_dictionary(parsed.columns["item"].type)
    lines = write(tmp_path, "b.jsonl", '{"item_id": "i3", "task": "intent", "annotator_id": "a0", "label": "x"}\n')
    f = read([write(tmp_path, "a.csv", text), lines]).frame
    assert f["annotator"].tolist() == ["NA", "a1", "", "a0"] and f["value"].tolist() == ["", "NA", "x", "x"]
    assert list(f["annotator"].cat.categories) == ["", "NA", "a0", "a1"]
    assert f["annotator"].cat.codes.tolist() == [1, 3, 0, 2]


def test_parquet_nulls_in_a_dictionary_read_column_are_empty_text(tmp_path: Path) -> None:
    table = pa.table({"item_id": ["i1", "i2", "i3"], "annotator_id": ["a1", None, "a1"], "label": ["x", "y", None]})
    pq.write_table(table, tmp_path / "n.parquet")
    f = read([tmp_path / "n.parquet"]).frame
    assert f["annotator"].tolist() == ["a1", "", "a1"] and f["value"].tolist() == ["x", "y", ""]


def test_parquet_allowed_non_string_types(tmp_path: Path) -> None:
    table = pa.table({
        "item_id": pa.array([1, 2], pa.int64()), "annotator_id": pa.array([7, 8], pa.int32()),
        "label": pa.array([4, 5], pa.int8()), "lead_time_s": pa.array([1.5, 2.0]),
        "created_at": pa.array([0, 1_500], pa.timestamp("ms", tz="Europe/Paris")),
    })
    pq.write_table(table, tmp_path / "r.parquet")
    f = read([tmp_path / "r.parquet"], RATING).frame
    assert f["item"].tolist() == ["1", "2"] and f["annotator"].tolist() == ["7", "8"]
    assert f["value"].tolist() == ["4", "5"] and f["lead_time"].tolist() == ["1.5", "2"]
    assert f["timestamp"].tolist() == ["1970-01-01T00:00:00.000Z", "1970-01-01T00:00:01.500Z"]
    assert f["task"].tolist() == ["tone", "tone"]


@pytest.mark.parametrize("kind", [pa.float64(), pa.float32(), pa.float16()])
def test_parquet_float_rating_is_a_type_error(tmp_path: Path, kind: pa.DataType) -> None:
    """A rating is an integer written plainly: 4.0 is excluded in CSV, JSONL and Label Studio, so a float column
    is not read as "4" either (Arrow's text of 4.0)."""
    label = pa.array([4.0, 3.0]).cast(kind)
    pq.write_table(pa.table({"item_id": ["1", "2"], "annotator_id": ["a", "b"], "label": label}),
                   tmp_path / "f.parquet")
    with pytest.raises(InputError) as info:
        read([tmp_path / "f.parquet"], RATING)
    d = info.value.diagnostics[0]
    assert d.check_tuple() == ("LS404", 0, 0)
    assert d.message == (f"column 'label' (input.columns.value) has Parquet type {kind}; expected string, or "
                         "integer (every task is a rating)")
    assert d.hint is not None and "4.0 is no rating" in d.hint


def test_parquet_column_of_arrow_null_type_is_all_missing_like_an_all_null_string_column(tmp_path: Path) -> None:
    table = pa.table({"item_id": ["i1", "i2"], "annotator_id": ["a", "b"], "label": ["x", "y"],
                      "created_at": pa.nulls(2)})  # pandas and polars write an all-None column so
    pq.write_table(table, tmp_path / "r.parquet")
    f = read([tmp_path / "r.parquet"]).frame
    assert f["timestamp"].tolist() == ["", ""] and f["line"].tolist() == [1, 2]


def test_parquet_list_values_become_canonical_json(tmp_path: Path) -> None:
    table = pa.table({"item_id": ["1", "2"], "task": ["tags", "tags"], "annotator_id": ["a", "b"],
                      "label": pa.array([["x", "ü"], []], pa.list_(pa.string()))})
    pq.write_table(table, tmp_path / "m.parquet")
    assert read([tmp_path / "m.parquet"], TWO).frame["value"].tolist() == ['["x","ü"]', "[]"]


def test_bom_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + (HEADER + "1,intent,a,x\n").encode())
    j = read([path])
    assert j.frame["item"].tolist() == ["1"] and j.frame["line"].tolist() == [2]
    jl = write(tmp_path, "bom.jsonl", b'\xef\xbb\xbf{"item_id": "1", "annotator_id": "a", "label": "x"}\n')
    assert read([jl]).frame["value"].tolist() == ["x"]


def test_quoted_newlines_and_blank_lines_keep_physical_line_numbers() -> None:
    f = read([DATA / "quoted_newlines.csv"]).frame
    assert f["line"].tolist() == [2, 4, 6, 9]
    assert f["value"].tolist() == ["two\nlines", "plain", "x\n\ny", "z"]


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = write(tmp_path, "crlf.csv", HEADER.replace("\n", "\r\n") + '1,intent,a,"p\r\nq"\r\n2,intent,b,y\r\n')
    f = read([path]).frame
    assert f["value"].tolist() == ["p\r\nq", "y"] and f["line"].tolist() == [2, 4]


def test_literal_quote_inside_unquoted_field_is_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "q.csv", HEADER + '1,intent,a,5" screen\n2,intent,b,"ok"\n')
    assert read([path]).frame["value"].tolist() == ['5" screen', "ok"]


alphabet = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.text(alphabet, max_size=8), st.text(alphabet, max_size=8)), min_size=1,
                     max_size=6), tsv=st.booleans())
def test_any_text_written_by_the_csv_module_round_trips_with_its_line(tmp_path: Path, rows: list[tuple[str, str]],
                                                                      tsv: bool) -> None:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter="\t" if tsv else ",")  # "\r\n" ends records; fields with \r or \n are quoted
    writer.writerow(["item_id", "annotator_id", "label"])
    starts, line = [], 2
    for i, (ann, label) in enumerate(rows):
        before = buf.tell()
        writer.writerow([str(i), ann or "a", label])
        starts.append(line)
        written = buf.getvalue()[before:]
        line += written.count("\n") + written.replace("\r\n", "").count("\r")  # universal newlines
    path = write(tmp_path, "h.tsv" if tsv else "h.csv", buf.getvalue())
    f = read([path]).frame
    assert f["value"].tolist() == [label for _, label in rows]
    assert f["annotator"].tolist() == [ann or "a" for ann, _ in rows]
    assert f["line"].tolist() == starts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(labels=st.lists(st.text(alphabet, max_size=8), min_size=1, max_size=6))
def test_any_text_in_jsonl_round_trips(tmp_path: Path, labels: list[str]) -> None:
    records = [json.dumps({"item_id": str(i), "annotator_id": "a", "label": x}, ensure_ascii=False)
               for i, x in enumerate(labels)]
    f = read([write(tmp_path, "h.jsonl", "\n".join(records) + "\n")]).frame
    assert f["value"].tolist() == labels and f["line"].tolist() == list(range(1, len(labels) + 1))


# --- list values -------------------------------------------------------------------------------------------


def test_csv_list_cells_are_canonicalised_only_for_list_valued_tasks(tmp_path: Path) -> None:
    content = HEADER + '1,tags,a,"[ ""x"",  ""y"" ]"\n2,tags,b,[not json\n3,intent,c,"[ ""x"" ]"\n4,tags,d,x\n'
    f = read([write(tmp_path, "l.csv", content)], TWO).frame
    assert f["value"].tolist() == ['["x","y"]', "[not json", '[ "x" ]', "x"]


@pytest.mark.parametrize("only_lists", [True, False])
def test_canonical_list_cells_are_kept_without_a_pass_over_distinct_cells(tmp_path: Path, monkeypatch,
                                                                        only_lists: bool) -> None:
    """When every list-valued task's cell is canonical already (as tools write them), one pattern pass decides
    it: the distinct cells are never looked for, whatever the other tasks' values look like."""
    import pyarrow.compute as pc

    from labelspec.check import read_common

    def no_unique(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the distinct cells were looked for")

    monkeypatch.setattr(read_common, "pc", type("pc", (), {**{k: getattr(pc, k) for k in dir(pc)
                                                               if not k.startswith("_")}, "unique": no_unique}))
    rows = '1,tags,a,"[""x"",""y""]"\n2,tags,b,[]\n' + ("" if only_lists else '3,intent,c,"[ ""x"" ]"\n4,intent,d,x\n')
    f = read([write(tmp_path, "l.csv", HEADER + rows)], TWO).frame
    assert f["value"].tolist() == ['["x","y"]', "[]"] + ([] if only_lists else ['[ "x" ]', "x"])


def test_jsonl_list_values(tmp_path: Path) -> None:
    lines = [
        {"item_id": "1", "task": "tags", "annotator_id": "a", "label": ["x", "é"]},
        {"item_id": "2", "task": "tags", "annotator_id": "b", "label": '[ "y" ]'},
        {"item_id": "3", "task": "tags", "annotator_id": "c", "label": "[1, 2.50]"},
    ]
    path = write(tmp_path, "l.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    assert read([path], TWO).frame["value"].tolist() == ['["x","é"]', '["y"]', "[1,2.5]"]


def test_jsonl_attribution_objects_become_canonical_json_and_other_objects_are_errors(tmp_path: Path) -> None:
    tasks = [TaskShape("blame", "attribution", True), TaskShape("intent", "single_choice", False)]
    good = {"item_id": "1", "task": "blame", "annotator_id": "a", "label": {"agent": "coder", "step": 4}}
    path = write(tmp_path, "a.jsonl", json.dumps(good) + "\n")
    assert read([path], tasks).frame["value"].tolist() == ['{"agent":"coder","step":4}']
    bad = {"item_id": "1", "task": "intent", "annotator_id": "a", "label": {"agent": "coder"}}
    path = write(tmp_path, "b.jsonl", json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    assert error_of([path], tasks) == ("LS404", 2, 0)


def test_jsonl_numbers_keep_their_text(tmp_path: Path) -> None:
    path = write(tmp_path, "n.jsonl", '{"item_id": 10, "annotator_id": 12, "label": 4.0, "lead_time_s": 1.50}\n'
                                      '\n   \n{"item_id": "x", "annotator_id": "b", "label": 4, "lead_time_s": 3}\n')
    j = read([path], RATING)
    assert j.frame["item"].tolist() == ["10", "x"] and j.frame["annotator"].tolist() == ["12", "b"]
    assert j.frame["value"].tolist() == ["4.0", "4"] and j.frame["lead_time"].tolist() == ["1.50", "3"]
    assert j.frame["line"].tolist() == [1, 4] and j.rows_read == 2  # blank lines are not records


# --- structural errors: (code, line, column) ---------------------------------------------------------------


@pytest.mark.parametrize(("content", "expected"), [
    (HEADER + "1,intent,a,x\n2,intent,b,y,extra\n", ("LS402", 3, 0)),
    (HEADER + "1,intent,a\n", ("LS402", 2, 0)),
    (HEADER + '1,intent,a,"x\ny"\n2,intent,b\n', ("LS402", 4, 0)),  # ragged row after a quoted newline
    (HEADER + '1,intent,a,x\n2,intent,b,"open\n3,intent,c,z\n', ("LS402", 3, 0)),  # unbalanced quote
    (HEADER + '1,intent,a,x\n2,intent,b,"open', ("LS402", 3, 0)),  # unbalanced on the last line, no newline
    (HEADER + '1,intent,a,"x"y\n', ("LS402", 2, 0)),  # junk after a closing quote
    (HEADER + "1,intent,a,x\n2,intent,b,y\x00z\n", ("LS402", 3, 13)),
    ("item_id,task,label,label\n1,intent,x,y\n", ("LS403", 1, 0)),
    ("item_id,task,annotator,label\n1,intent,a,x\n", ("LS403", 1, 0)),
    ("", ("LS401", 0, 0)),
    ("\ufeff \n", ("LS401", 0, 0)),
    ("\n" + HEADER + "1,intent,a,x\n", ("LS403", 1, 0)),
])
def test_csv_structural_errors_are_located(tmp_path: Path, content: str, expected: tuple[str, int, int]) -> None:
    assert error_of([write(tmp_path, "bad.csv", content)]) == expected


def test_invalid_utf8_names_its_line_and_column(tmp_path: Path) -> None:
    content = (HEADER + "1,intent,a,x\n2,intent,b,y\n").encode() + b"3,intent,c,caf\xe9\n"
    assert error_of([write(tmp_path, "latin1.csv", content)]) == ("LS401", 4, 15)
    jl = b'{"item_id": "1", "annotator_id": "a", "label": "x"}\n' * 3 + b'{"label": "\xff"}\n'
    assert error_of([write(tmp_path, "latin1.jsonl", jl)]) == ("LS401", 4, 12)


def test_missing_column_message_and_hint(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read([write(tmp_path, "m.csv", "item_id,task,annotator,label\n1,intent,a,x\n")])
    d = info.value.diagnostics[0]
    assert "'annotator_id'" in d.message and d.hint is not None and "'annotator'" in d.hint


@pytest.mark.parametrize(("header", "said"), [
    ("item_id,task,annotator_id,label \n", "'label ', with leading or trailing whitespace"),
    ("item_id,task,annotator_id,\u200blabel\n", "'\\u200blabel', with U+200B ZERO WIDTH SPACE"),
])
def test_missing_column_hint_for_a_name_input_columns_cannot_map(tmp_path: Path, header: str, said: str) -> None:
    """input.columns refuses such a name (LS304): the hint says to fix the file, not to map it."""
    with pytest.raises(InputError) as info:
        read([write(tmp_path, "s.csv", header + "1,intent,a,x\n")])
    d = info.value.diagnostics[0]
    assert d.check_tuple() == ("LS403", 1, 0)
    assert d.hint == f"the file names a column {said}: rename it 'label' in the file"


def test_task_column_is_required_only_with_several_tasks(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "item_id,annotator_id,label\n1,a,x\n")
    assert read([path]).frame["task"].tolist() == ["intent"]
    assert error_of([path], TWO) == ("LS403", 1, 0)


def test_ragged_row_is_found_even_in_a_large_file(tmp_path: Path) -> None:
    body = "".join(f"{i},intent,a{i % 7},x\n" for i in range(200_000))
    path = write(tmp_path, "big.csv", HEADER + body + "oops\n" + body)
    assert error_of([path]) == ("LS402", 200_002, 0)


@pytest.mark.parametrize(("line", "expected"), [
    ('{"item_id": "9", "annotator_id": "a", "lab', ("LS402", 3, 39)),  # truncated: the unterminated string starts at column 39
    ('["item_id", "9"]', ("LS402", 3, 0)),  # not an object
    ('{"item_id": "9", "annotator_id": "a", "label": NaN}', ("LS402", 3, 0)),
    ('{"item_id": "9", "annotator_id": "a", "label": "x", "label": "y"}', ("LS402", 3, 0)),
    ('{"item_id": "9", "annotator_id": "a", "label": true}', ("LS404", 3, 0)),
    ('{"item_id": "9", "annotator_id": "a", "label": 5}', ("LS404", 3, 0)),  # a number is no choice label
    ('{"item_id": "9", "annotator_id": "a", "label": {"x": 1}}', ("LS404", 3, 0)),
    ('{"item_id": "9", "annotator_id": 1.5, "label": "x"}', ("LS404", 3, 0)),
    ('{"item_id": "9", "annotator_id": "a", "label": "x", "created_at": 17}', ("LS404", 3, 0)),
])
def test_jsonl_structural_errors_are_located(tmp_path: Path, line: str, expected: tuple[str, int, int]) -> None:
    good = '{"item_id": "1", "annotator_id": "a", "label": "x"}\n'
    assert error_of([write(tmp_path, "bad.jsonl", good + "\n" + line + "\n" + good)]) == expected


@pytest.mark.parametrize(("line", "message", "column"), [
    ('{"item_id": "9", "annotator_id": "a", "lab', "Unterminated string starting at line 3 column 39", 39),
    ('   {"item_id": "9", "annotator_id": "a", "lab', "Unterminated string starting at line 3 column 42", 42),
    ('\t{"item_id": "9", "label": "a\u0001"}', "Invalid control character at line 3 column 30", 30),
    ('  {"item_id": "9", "annotator_id": }', "Expecting value", 36),
])
def test_jsonl_syntax_errors_say_where(tmp_path: Path, line: str, message: str, column: int) -> None:
    """json's messages that end in "at" are completed, and columns count the line's leading whitespace."""
    good = '{"item_id": "1", "annotator_id": "a", "label": "x"}\n'
    with pytest.raises(InputError) as info:
        read([write(tmp_path, "bad.jsonl", good + "\n" + line + "\n" + good)])
    d = info.value.diagnostics[0]
    assert d.check_tuple() == ("LS402", 3, column) and d.message == f"invalid JSON: {message}"


@pytest.mark.parametrize("content", [b"", b"\n\n", b" \r\n\t\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n  \n"])
def test_empty_jsonl_is_an_error_like_empty_csv_and_parquet(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(InputError) as info:
        read([write(tmp_path, "e.jsonl", content)])
    d = info.value.diagnostics[0]
    assert d.check_tuple() == ("LS401", 0, 0) and d.message == "empty file: no JSON lines"
    assert error_of([write(tmp_path, "e.csv", content)]) == ("LS401", 0, 0)


def test_jsonl_line_length_limit(tmp_path: Path) -> None:
    long = json.dumps({"item_id": "1", "annotator_id": "a", "label": "x" * (1 << 20)})
    assert error_of([write(tmp_path, "long.jsonl", '{"item_id": "1", "annotator_id": "a", "label": "x"}\n'
                                                   + long + "\n")]) == ("LS402", 2, 0)


def test_jsonl_key_absent_from_every_record_is_a_missing_column(tmp_path: Path) -> None:
    path = write(tmp_path, "k.jsonl", '{"item_id": "1", "annotator_id": "a", "lable": "x"}\n')
    assert error_of([path]) == ("LS403", 0, 0)
    some = write(tmp_path, "s.jsonl", '{"item_id": "1", "annotator_id": "a", "label": "x"}\n{"item_id": "2"}\n')
    assert read([some]).frame["value"].tolist() == ["x", ""]


def test_parquet_wrong_type_names_the_column(tmp_path: Path) -> None:
    pq.write_table(pa.table({"item_id": ["1"], "annotator_id": ["a"], "label": pa.array([3], pa.int64())}),
                   tmp_path / "w.parquet")
    with pytest.raises(InputError) as info:
        read([tmp_path / "w.parquet"])
    d = info.value.diagnostics[0]
    assert d.code == "LS404" and "'label'" in d.message and "int64" in d.message
    pq.write_table(pa.table({"item_id": [1.5], "annotator_id": ["a"], "label": ["x"]}), tmp_path / "f.parquet")
    assert error_of([tmp_path / "f.parquet"]) == ("LS404", 0, 0)
    pq.write_table(pa.table({"item_id": ["1"], "annotator_id": [True], "label": ["x"]}), tmp_path / "b.parquet")
    assert error_of([tmp_path / "b.parquet"]) == ("LS404", 0, 0)


def test_corrupt_parquet(tmp_path: Path) -> None:
    pq.write_table(pa.table({"item_id": ["1"] * 100, "annotator_id": ["a"] * 100, "label": ["x"] * 100}),
                   tmp_path / "ok.parquet")
    raw = (tmp_path / "ok.parquet").read_bytes()
    assert error_of([write(tmp_path, "cut.parquet", raw[: len(raw) // 2])]) == ("LS401", 0, 0)
    assert error_of([write(tmp_path, "junk.parquet", b"not parquet at all")]) == ("LS401", 0, 0)
    assert error_of([write(tmp_path, "missing.parquet", b"")]) == ("LS401", 0, 0)


# --- files, formats, accounting ----------------------------------------------------------------------------


def test_several_files_stack_with_provenance(tmp_path: Path) -> None:
    a = write(tmp_path, "a.csv", HEADER + "1,intent,a,x\n2,intent,b,y\n")
    b = write(tmp_path, "b.jsonl", '{"item_id": "3", "annotator_id": "c", "label": "z"}\n')
    j = read([a, b])
    assert j.frame["file"].tolist() == ["a.csv", "a.csv", "b.jsonl"]
    assert j.frame["line"].tolist() == [2, 3, 1]
    assert [(f.path, f.format, f.rows) for f in j.files] == [("a.csv", "csv", 2), ("b.jsonl", "jsonl", 1)]
    assert j.files[0].sha256 == hashlib.sha256(a.read_bytes()).hexdigest()
    assert j.rows_read == len(j.frame) + sum(j.excluded.values()) == 3


def test_every_broken_file_is_reported_at_once(tmp_path: Path) -> None:
    a = write(tmp_path, "a.csv", HEADER + "1,intent\n")
    b = write(tmp_path, "b.jsonl", "{oops\n")
    with pytest.raises(InputError) as info:
        read([a, b])
    assert [(d.loc.path if d.loc else "", d.code) for d in info.value.diagnostics] == [("a.csv", "LS402"),
                                                                                        ("b.jsonl", "LS402")]


def test_format_by_extension_or_override(tmp_path: Path) -> None:
    txt = write(tmp_path, "labels.txt", HEADER + "1,intent,a,x\n")
    assert error_of([txt]) == ("LS405", 0, 0)
    assert read([txt], fmt="csv").frame["value"].tolist() == ["x"]
    assert error_of([txt], fmt="xlsx") == ("LS405", 0, 0)
    nd = write(tmp_path, "labels.NDJSON", '{"item_id": "1", "annotator_id": "a", "label": "x"}\n')
    assert read([nd]).files[0].format == "jsonl"


def test_unreadable_path(tmp_path: Path) -> None:
    assert error_of([tmp_path / "nope.csv"]) == ("LS401", 0, 0)
    (tmp_path / "dir.csv").mkdir()
    assert error_of([tmp_path / "dir.csv"]) == ("LS401", 0, 0)


def test_no_files_and_header_only_files(tmp_path: Path) -> None:
    empty = read([])
    assert list(empty.frame.columns) == list(COLUMNS) and len(empty.frame) == 0 and empty.rows_read == 0
    j = read([write(tmp_path, "h.csv", HEADER)])
    assert len(j.frame) == 0 and j.rows_read == 0 and j.files[0].rows == 0


def test_column_map_is_honoured(tmp_path: Path) -> None:
    cols = ColumnMap(item="ticket", annotator="who", value="answer", unit="turn", timestamp="at")
    path = write(tmp_path, "c.csv", "ticket,turn,who,answer,at\nT1,3,ann,yes,2024-01-01T00:00:00Z\n")
    f = read_label_files([path], columns=cols, tasks=ONE).frame
    assert f.loc[0, ["item", "unit", "annotator", "value", "timestamp"]].tolist() == [
        "T1", "3", "ann", "yes", "2024-01-01T00:00:00Z"]
    assert f.loc[0, "file"] == str(path)


def test_files_with_32_and_64_bit_string_offsets_stack_into_one_table(tmp_path: Path) -> None:
    """Parquet keeps its 32-bit strings, CSV reads 64-bit ones: read together, the widths are unified."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"item_id": pa.array(["i1", "i2"], pa.string()),
                             "annotator_id": pa.array(["a1", "a1"], pa.string()),
                             "label": pa.array(["x", "y"], pa.string())}), tmp_path / "a.parquet")
    csv = write(tmp_path, "b.csv", "item_id,annotator_id,label\ni1,a2,y\n")
    j = read([tmp_path / "a.parquet", csv])
    f = j.frame
    assert f["item"].tolist() == ["i1", "i2", "i1"] and f["value"].tolist() == ["x", "y", "y"]
    assert f["file"].astype(str).tolist() == ["a.parquet", "a.parquet", "b.csv"]
    assert f["item"].cat.codes.tolist() == [0, 1, 0] and j.rows_read == 3


_SCALARS = st.one_of(st.integers(-10**6, 10**6), st.text(max_size=6), st.floats(allow_nan=False, allow_infinity=False, width=16),
                     st.booleans(), st.none())
_LISTS = st.lists(st.one_of(_SCALARS, st.lists(_SCALARS, max_size=3)), max_size=4)


@settings(max_examples=300, deadline=None)
@given(_LISTS, st.sampled_from([(",", ":"), (", ", ": ")]), st.booleans())
def test_cells_taken_as_canonical_without_parsing_are_canonical(value: list[object], seps: tuple[str, str],
                                                               ascii_only: bool) -> None:
    """The regex fast path of list-cell canonicalisation agrees with parsing: a cell it lets through unparsed
    is exactly its canonical text, and every canonical cell of ints and plain strings is let through."""
    import pyarrow.compute as pc

    from labelspec.check.read_common import CANONICAL_CELL, canonical_json, canonical_list_text
    from labelspec.strictjson import strict_decoder

    cell = json.dumps(value, separators=seps, ensure_ascii=ascii_only)
    matched = pc.match_substring_regex(pa.array([cell]), CANONICAL_CELL)[0].as_py()
    if matched:
        assert canonical_list_text(cell, strict_decoder()) == cell
    text = canonical_json(value)
    plain = all(isinstance(v, (int, str)) and not isinstance(v, bool) and not any(ord(c) < 32 or c in '"\\' for c in
                str(v)) for item in value for v in (item if isinstance(item, list) else [item]))
    assert pc.match_substring_regex(pa.array([text]), CANONICAL_CELL)[0].as_py() == plain


# --- the only task's name --------------------------------------------------------------------------------


def test_files_without_a_task_column_name_the_only_task_at_no_cost_per_row(tmp_path: Path) -> None:
    """Without a task column every row names the only task: a one-entry dictionary (zero codes), not 10M
    copies of its name; mixed with files that hold the column as text, the two concatenate."""
    bare = write(tmp_path, "bare.csv", "item_id,annotator_id,label\ni1,a1,yes\ni2,a1,no\n")
    jsonl = write(tmp_path, "bare.jsonl", '{"item_id":"i3","annotator_id":"a2","label":"yes"}\n')
    full = write(tmp_path, "full.csv", HEADER + "i4,intent,a3,no\ni5,,a3,yes\n")
    alone = read([bare, jsonl]).frame["task"]
    assert alone.tolist() == ["intent"] * 3
    assert list(alone.cat.categories) == ["intent"] and set(alone.cat.codes) == {0}
    mixed = read([bare, full, jsonl]).frame["task"]
    assert mixed.tolist() == ["intent", "intent", "intent", "", "intent"]
    assert list(mixed.cat.categories) == ["", "intent"]


def test_files_without_a_unit_column_cost_nothing_per_row_and_mix_with_files_that_have_one(tmp_path: Path) -> None:
    """An absent unit is a one-entry dictionary of "" as the only task's name is (no 10M empty strings to scan
    when coding); mixed with files that hold the column, as text or as numbers, the tables still concatenate."""
    from labelspec.check.read_csv import parse_csv

    bare = write(tmp_path, "bare.csv", "item_id,annotator_id,label\ni1,a1,yes\ni2,a1,no\n")
    parsed = parse_csv(bare.read_bytes(), "bare.csv", ColumnMap(), ONE, delimiter=",")
    unit = parsed.columns["unit"]
    assert pa.types.is_dictionary(unit.type) and unit.dictionary.to_pylist() == [""]  # not two "" texts
    stepped = write(tmp_path, "steps.csv", "item_id,step,annotator_id,label\ni3,s2,a2,yes\ni3,s1,a2,no\n")
    jsonl = write(tmp_path, "steps.jsonl", '{"item_id":"i4","step":3,"annotator_id":"a3","label":"yes"}\n')
    alone = read([bare]).frame["unit"]
    assert alone.tolist() == ["", ""] and list(alone.cat.categories) == [""] and set(alone.cat.codes) == {0}
    mixed = read([bare, stepped, jsonl]).frame["unit"]
    assert mixed.tolist() == ["", "", "s2", "s1", "3"]
    assert list(mixed.cat.categories) == ["", "3", "s1", "s2"]


def test_one_entry_dictionaries_of_different_texts_are_encoded_as_text() -> None:
    from labelspec.check.coded import sorted_categorical
    from labelspec.check.read_common import constant_dictionary

    column = pa.chunked_array([constant_dictionary("b", 2), constant_dictionary("a", 1)])
    cat = sorted_categorical(column)
    assert list(cat.categories) == ["a", "b"] and cat.codes.tolist() == [1, 1, 0]


def test_absent_fields_share_one_buffer_of_zeros(tmp_path: Path) -> None:
    """The absent fields' empty texts and one-entry dictionaries are views of one zero buffer (each had its own:
    80 or 40 MB to clear at 10M rows), and read as they did."""
    from labelspec.check.read_common import constant_column, constant_dictionary, zero_buffer
    from labelspec.check.read_csv import parse_csv

    bare = write(tmp_path, "bare.csv", "item_id,annotator_id,label\ni1,a1,yes\ni2,a1,no\ni3,a2,no\n")
    cols = parse_csv(bare.read_bytes(), "bare.csv", ColumnMap(), ONE, delimiter=",").columns
    absent = [cols[f] for f in ("unit", "task", "timestamp", "lead_time", "ground_truth")]
    buffers = {(c.indices if pa.types.is_dictionary(c.type) else c).buffers()[1].address for c in absent}
    assert len(buffers) == 1
    assert cols["timestamp"].to_pylist() == cols["ground_truth"].to_pylist() == ["", "", ""]
    assert cols["task"].to_pylist() == [ONE[0].name] * 3 and cols["unit"].to_pylist() == [""] * 3
    zeros = zero_buffer(4)
    for column in (constant_column("", 4, zeros), constant_dictionary("x", 4, zeros), constant_column("ab", 4),
                   constant_dictionary("", 4)):
        column.validate(full=True)
    assert constant_column("ab", 4).to_pylist() == ["ab"] * 4
    assert constant_dictionary("x", 4, zeros).to_pylist() == ["x"] * 4
    assert constant_column("", 0).to_pylist() == [] and constant_dictionary("", 0).to_pylist() == []


def test_the_only_task_list_valued_without_a_task_column_is_canonicalised(tmp_path: Path) -> None:
    """The one-entry dictionary of a list-valued only task still selects its cells for canonical JSON."""
    bare = write(tmp_path, "bare.csv", 'item_id,annotator_id,label\ni1,a1,"[ ""b"",  ""a"" ]"\n')
    frame = read([bare], [TaskShape("tags", "multi_choice", True)]).frame
    assert frame["value"].tolist() == ['["b","a"]'] and frame["task"].tolist() == ["tags"]
