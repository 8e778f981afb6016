"""Row accounting (G10): every row is used or excluded with a reason and its FILE:LINE; nothing disappears.

``data/check/records`` holds one task of each value shape, a roster with calibration times and a label file with
one row per exclusion reason; ``expected_exclusions.csv`` is the exact accounting. A property test proves that the
per-record contract (``spec.records.record_problems``) and the vectorised ``check.records.account`` agree.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import AGREEING
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelspec import api
from labelspec.check.context import Context
from labelspec.check.records import REASONS, account
from labelspec.check.report import Report
from labelspec.spec.load import load_spec
from labelspec.spec.model import Spec, Task
from labelspec.spec.records import FIELDS, record_problems

DATA = Path(__file__).parent / "data" / "check"
RECORDS = DATA / "records"
#: Reasons a single record can know by itself; the rest need other rows or files.
RECORD_REASONS = {"missing_field", "unknown_task", "unit_mismatch", "invalid_value", "bad_timestamp",
                  "bad_lead_time"}


@pytest.fixture(scope="module")
def report() -> Report:
    return api.check_labels(RECORDS, [RECORDS / "labels.csv"])


def expected_exclusions(shown: str) -> list[tuple[int, str, str]]:
    with (RECORDS / "expected_exclusions.csv").open(encoding="utf-8", newline="") as fh:
        return [(int(r["line"]), r["reason"], r["detail"].replace("{file}", shown)) for r in csv.DictReader(fh)]


def test_every_exclusion_has_its_reason_detail_and_line(report: Report) -> None:
    ex = report.accounting.exclusions
    (shown,) = set(ex["file"])
    assert shown == api.display(RECORDS / "labels.csv")
    got = list(zip(ex["line"].astype(int), ex["reason"].astype(str), ex["detail"].astype(str), strict=True))
    assert got == expected_exclusions(shown)
    assert set(ex["reason"]) <= set(REASONS)


def test_the_remaining_rows_are_used_with_their_values_as_read(report: Report) -> None:
    used = report.accounting.used
    assert list(zip(used["line"], used["task"], used["annotator"], used["value"], strict=True)) == [
        (2, "sentiment", "a1", "pos"),
        (19, "tone", "a1", "1"),
        (20, "topics", "a2", '["price","quality"]'),
        (21, "ents", "a2", '[[0,4,"PER"],[14,18,"ORG"]]'),
        (22, "order", "a2", '["z","x","y"]'),
        (26, "sentiment", "a2", "NA"),  # a declared label, kept as the string it is
        (33, "sentiment", "a2", "pos"),  # an earlier invalid row with the same key is no duplicate
        (35, "topics", "a2", "[]"),
    ]
    assert report.accounting.expert["line"].tolist() == [27]  # experts are used, apart from annotators


def test_rows_read_equals_used_plus_excluded(report: Report) -> None:
    acc = report.accounting
    assert acc.rows_read == 34
    assert acc.rows_read == len(acc.used) + len(acc.expert) + len(acc.exclusions)
    d = report.accounting_dict()
    assert (d["rows_read"], d["rows_used"], d["rows_used_expert"], d["rows_excluded"], d["balanced"]) == \
        (34, 9, 1, 25, True)
    assert d["excluded_by_reason"] == {
        "annotator_not_in_roster": 1, "bad_lead_time": 2, "bad_timestamp": 3, "before_calibration": 1,
        "duplicate_judgment": 2, "invalid_value": 9, "missing_field": 2, "not_calibrated": 1,
        "span_out_of_bounds": 1, "unit_mismatch": 1, "unknown_item": 1, "unknown_task": 1}


def test_the_records_gate_measures_the_excluded_share(report: Report) -> None:
    (g,) = [g for g in report.gates if g.gate.id == "records.valid"]
    assert (g.status, g.measure.value, g.measure.n) == ("pass", 25 / 34, 34)
    (prov,) = [g for g in report.gates if g.gate.id == "provenance.complete"]
    # missing timestamp/annotator, bad timestamps, roster and calibration problems all lack provenance
    assert (prov.status, prov.measure.value) == ("fail", 8.0)


@pytest.mark.parametrize(("label", "declared", "detail"), [
    ("NA", False, "unknown label 'NA'"),
    ("None", False, "unknown label 'None'"),
    ("null", False, "unknown label 'null'"),
    ("01", False, "unknown label '01'"),
    ("NA", True, None),
    ("01", True, None),
    ("None", True, None),
])
def test_na_none_and_01_are_labels_not_missing_values(tiny_project, label: str, declared: bool,
                                                      detail: str | None) -> None:
    extra = f'      "{label}": {{title: Special, definition: A label spelt like a missing value.}}\n'
    rows = [(i, a, label if (i, a) == ("i1", "a1") else lab) for i, a, lab in AGREEING]
    p = tiny_project(rows, extra_labels=extra if declared else "")
    acc = api.check_labels(p.root, [p.labels]).accounting
    if detail is None:
        assert acc.exclusions.empty
        assert acc.used.loc[acc.used["line"] == 2, "value"].tolist() == [label]
    else:
        assert acc.exclusions[["line", "reason", "detail"]].values.tolist() == [[2, "invalid_value", detail]]


def test_a_duplicate_across_files_names_the_first_file_and_line(tiny_project, tmp_path: Path) -> None:
    p = tiny_project()
    second = tmp_path / "later.csv"
    second.write_text("item_id,annotator_id,label\ni6,a3,neg\ni6,a2,neu\n", "utf-8")
    acc = api.check_labels(p.root, [p.labels, second]).accounting
    first = api.display(p.labels)
    assert acc.exclusions[["file", "line", "reason", "detail"]].values.tolist() == [
        [api.display(second), 2, "duplicate_judgment", f"same annotator, item, unit and task as {first}:19"],
        [api.display(second), 3, "duplicate_judgment", f"same annotator, item, unit and task as {first}:18"],
    ]
    assert acc.rows_read == 20 and len(acc.used) == 18


def test_one_line_label_studio_rows_excluded_later_name_their_task_and_annotation(tiny_project) -> None:
    """A Label Studio export is often one line: FILE:1 alone would not locate an unknown label or a duplicate."""
    def ann(ann_id: int, who: str, label: str) -> dict[str, object]:
        return {"id": ann_id, "completed_by": who, "result": [
            {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": [label]}}]}
    tasks = [{"id": 7, "data": {"item_id": "i1"}, "annotations": [ann(70, "a1", "pos"), ann(71, "a2", "bogus")]},
             {"id": 8, "data": {"item_id": "i2"}, "annotations": [ann(80, "a1", "neg"), ann(81, "a1", "neu")]}]
    p = tiny_project(labels_text=json.dumps(tasks), name="export.json")
    acc = api.check_labels(p.root, [p.labels]).accounting
    at = api.display(p.labels)
    assert acc.exclusions[["line", "reason", "detail"]].values.tolist() == [
        [1, "invalid_value", "unknown label 'bogus' (task 7, annotation 71)"],
        [1, "duplicate_judgment", f"same annotator, item, unit and task as {at}:1, task 8, annotation 80 "
                                  "(task 8, annotation 81)"],
    ]
    assert acc.rows_read == 4 and len(acc.used) == 2


def test_lines_are_physical_lines_where_a_record_starts(tiny_project) -> None:
    text = 'item_id,annotator_id,label\ni1,a1,"po\ns"\ni1,a2,pos\n'
    p = tiny_project(labels_text=text)
    acc = api.check_labels(p.root, [p.labels]).accounting
    assert acc.exclusions[["line", "reason"]].values.tolist() == [[2, "invalid_value"]]
    assert acc.used["line"].tolist() == [4]


# --- parity: the per-record contract and the vectorised accounting agree ----------------------------------------

TIMESTAMPS = ["2026-03-02T10:00:00Z", "2026-03-02 10:00:00+01:00", "2026-03-02T10:00:00.123456789Z",
              "2026-03-02T10:00:00.1234567890Z", "2026-03-02T10:00:00", "2026-02-30T10:00:00Z",
              "2026-03-02T24:00:00Z", "2026-03-02T23:59:60Z", "2026-13-01T00:00:00Z", "2026-03-02T10:00:00+25:00",
              "2026-03-02T10:00:00+23:59", "2026-03-02T10:00:00Z\n", "\u0662\u0660\u0662\u0666-03-02T10:00:00Z",
              "0000-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z",
              "2026-03-02T10:00Z", " 2026-03-02T10:00:00Z", "yesterday", ""]
LEAD_TIMES = ["0", "1.5", "12", "-1", "1e3", ".5", "1.", "\u0663", "1\n", " 1", "NaN", "inf", "0x10", ""]
VALUES = ["pos", "neg", "NA", "None", "null", "01", "1", "1.0", "2", "3", "0", " pos", "POS", "x", "",
          '["price"]', '["price","quality"]', '["price","price"]', "[]", '["nope"]', '["price", 1]', "price",
          '[[0,4,"PER"]]', '[[0,4,"PER"],[4,8,"ORG"]]', '[[0,5,"PER"],[3,8,"ORG"]]', '[[4,4,"PER"]]',
          '[[true,4,"PER"]]', '[[0.0,4,"PER"]]', '[[0,4,"XX"]]', '[0,4,"PER"]', '["z","x","y"]', '["x","y"]',
          '["x","x","y"]', "NaN", '{"a": 1}', "[NaN]"]


def valid_values(task: Task) -> list[str]:
    if task.kind == "multi_choice":
        return [json.dumps([task.label_ids[0]]), json.dumps(list(task.label_ids))]
    if task.kind == "spans":
        return [json.dumps([[0, 4, task.label_ids[0]]])]
    if task.kind == "ranking":
        return [json.dumps(list(task.options)), json.dumps(list(reversed(task.options)))]
    return list(task.label_ids)


ALTERNATIVES: dict[str, st.SearchStrategy[str]] = {
    "item": st.sampled_from(["", " ", "i 2", "NA"]),
    "unit": st.sampled_from(["", "1", "0", " "]),
    "task": st.sampled_from(["", "bogus", "SENTIMENT", "quality", "tone", "topics"]),
    "annotator": st.sampled_from(["", "b", " "]),
    "value": st.one_of(st.sampled_from(VALUES), st.text(max_size=8)),
    "timestamp": st.one_of(st.sampled_from(TIMESTAMPS), st.text(max_size=8)),
    "lead_time": st.one_of(st.sampled_from(LEAD_TIMES), st.text(max_size=4)),
}


@st.composite
def record_strategy(draw: st.DrawFn, spec: Spec) -> dict[str, str]:
    """A valid record of a random task with up to two fields replaced by a tricky alternative."""
    task = draw(st.sampled_from(spec.tasks))
    record = {"item": "i1", "unit": "1" if task.unit == "step" else "", "task": task.name, "annotator": "a1",
              "value": draw(st.sampled_from(valid_values(task))), "timestamp": "2026-03-02T10:00:00Z",
              "lead_time": "1.5"}
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=2, unique=True)):
        record[field] = draw(ALTERNATIVES[field])
    return record


def frame_of(records: list[dict[str, str]]) -> pd.DataFrame:
    string = pd.StringDtype("pyarrow")
    cols = {f: pd.array([r[f] for r in records], dtype=string) for f in FIELDS}
    cols["ground_truth"] = pd.array([""] * len(records), dtype=string)
    cols["file"] = pd.array(["gen.csv"] * len(records), dtype=string)
    cols["line"] = pd.array(range(2, len(records) + 2), dtype="int64")
    return pd.DataFrame(cols)


def record_level_invalid(spec: Spec, records: list[dict[str, str]]) -> list[bool]:
    empty = pd.DataFrame(columns=["file", "line", "reason", "detail"])
    acc = account(spec, frame_of(records), Context(), rows_read=len(records), reader_exclusions=empty)
    bad = set(acc.exclusions.loc[acc.exclusions["reason"].isin(RECORD_REASONS), "line"].astype(int))
    return [i + 2 in bad for i in range(len(records))]


SPECS = {name: load_spec(DATA / name) for name in ("records", "single")}


@pytest.mark.parametrize("name", sorted(SPECS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_record_contract_and_vectorised_accounting_agree(name: str, data: st.DataObject) -> None:
    spec = SPECS[name]
    records = data.draw(st.lists(record_strategy(spec), min_size=1, max_size=20))
    vectorised = record_level_invalid(spec, records)
    per_record = [bool(record_problems(spec, r)) for r in records]
    mismatches = [(r, record_problems(spec, r)) for r, v, p in zip(records, vectorised, per_record, strict=True)
                  if v != p]
    assert mismatches == []


@pytest.mark.parametrize("record", [
    {"item": "i1", "task": "sentiment", "annotator": "a1", "value": "pos", "timestamp": "2026-03-02T10:00:00Z\n"},
    {"item": "i1", "task": "sentiment", "annotator": "a1", "value": "pos", "timestamp": "0000-01-01T00:00:00Z"},
    {"item": "i1", "task": "sentiment", "annotator": "a1", "value": "pos",
     "timestamp": "2026-03-02T10:00:00+25:00"},
])
def test_known_parity_edges(record: dict[str, str]) -> None:
    """Edges found by the property test, kept as plain examples."""
    full = {f: record.get(f, "") for f in FIELDS}
    spec = SPECS["records"]
    assert record_level_invalid(spec, [full]) == [bool(record_problems(spec, full))] == [True]


def test_a_value_nested_deeper_than_the_stack_is_invalid_not_a_crash() -> None:
    """json.loads raises RecursionError, not ValueError, on ~5000 nested brackets (found by the validator tests)."""
    from labelspec.spec.load import load_spec
    from labelspec.spec.records import value_problems

    spec = load_spec(Path(__file__).resolve().parent.parent / "specs" / "rlhf-preference")
    ranking = next(t for t in spec.tasks if t.kind == "ranking")
    assert value_problems(ranking, "[" * 5000 + "]" * 5000) != []


def test_calibration_provenance_needs_a_time_on_both_sides(tiny_project) -> None:
    """Under provenance.require: [calibration], a judgment with no timestamp cannot be shown to come after the
    calibration, and a pass with no calibrated_at has no time to compare with: neither is taken on trust, and
    each says why (found by an audit: the first was kept, the second read "has not passed")."""
    roster = ("id,role,calibration_score,calibration_n,calibration_passed,calibrated_at\n"
              "a1,annotator,1.0,10,true,2026-03-01T00:00:00Z\na2,annotator,1.0,10,true,\na3,annotator,0.5,10,false,"
              "2026-03-01T00:00:00Z\n")
    text = "item_id,annotator_id,label,created_at\ni1,a1,pos,2026-03-02T00:00:00Z\ni2,a1,neg,\ni1,a2,pos,2026-03-02T00:00:00Z\n"
    p = tiny_project(labels_text=text, files={"annotators.csv": roster},
                     extra="  provenance: {require: [calibration]}\n")
    acc = api.check_labels(p.root, [p.labels]).accounting
    assert acc.exclusions[["line", "reason", "detail"]].values.tolist() == [
        [3, "before_calibration", "no timestamp: not shown to be after the annotator's calibration"],
        [4, "not_calibrated", "the roster records a pass without calibrated_at: when it happened is unknown"],
    ]
    assert acc.used["line"].tolist() == [2]


@pytest.mark.parametrize(("value", "found"), [
    ('["r1","r1","r3"]', "missing r2; repeated r1"),
    ('["r1","r2","r9","r3"]', "unknown r9"),
    ('["r3","r2"]', "missing r1"),
])
def test_an_invalid_ranking_says_what_is_missing_repeated_or_unknown(value: str, found: str) -> None:
    from labelspec.spec.model import Task
    from labelspec.spec.records import value_problems

    task = Task(name="order", kind="ranking", question="q", options=("r1", "r2", "r3"))
    assert value_problems(task, value) == [f"a ranking must order every option exactly once (r1, r2, r3): {found}"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["", "", "x", "2026-03-01T00:00:00Z"])), max_size=12),
       st.integers(0, 3), st.booleans(), st.integers(1, 3))
def test_an_empty_column_is_told_from_its_offsets_as_a_pass_tells_it(values: list[str | None], skip: int,
                                                                      large: bool, pieces: int) -> None:
    """Absent fields (every row empty) are found without a pass over the rows; sliced, chunked, null and
    non-empty columns get the answer of the pass (all nulls: no answer, so not empty)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from labelspec.check.records import _all_empty

    kind = pa.large_string() if large else pa.string()
    full = pa.array(["zz"] * skip + values, kind).slice(skip)  # a slice whose offsets do not start at 0
    cut = [len(values) * i // pieces for i in range(pieces + 1)]
    chunked = pa.chunked_array([full.slice(a, b - a) for a, b in zip(cut[:-1], cut[1:], strict=True)], kind)
    longest = pc.max(pc.binary_length(full)).as_py() if values else None
    want = True if not values else longest == 0
    columns = [pd.Series(pd.arrays.ArrowStringArray(chunked))]  # as the readers make them
    if None not in values:  # text in an object column (an all-None one has no Arrow text type)
        columns.append(pd.Series(values, dtype=object))
    for column in columns:
        assert _all_empty(column) == want
