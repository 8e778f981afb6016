"""The columnar release build against a plain row-by-row reference, on examples and generated datasets.

The reference below builds each row as a dict (the documented row shape: judgments in time, then annotator
order, provenance from the roster, lead times parsed as pandas parses the released column) and writes it with
``json.dumps``; the columnar build must produce the same JSONL bytes and the same Parquet rows, block by block
or in one piece. Hypothesis draws ids with quotes, backslashes, control characters and non-ASCII text.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_decide import lab, make_spec

from labelspec.check import release, release_jsonl, release_table
from labelspec.check.context import Context, RosterEntry
from labelspec.check.decide import Decisions, decide_all, reason_lists
from labelspec.check.records import EXCLUSION_COLUMNS, Accounting
from labelspec.check.release import (
    DATASET_JSONL,
    DATASET_PARQUET,
    MANIFEST,
    build_release,
    resolve_gates,
    write_release,
)
from labelspec.check.release_table import select_units
from labelspec.spec.model import Task

TASKS = (Task(name="intent", kind="single_choice", question="q", labels=(lab("a"), lab("b"), lab("c"))),
         Task(name="tone", kind="single_choice", question="q", labels=(lab("a"), lab("b"))))
COLUMNS = ["item", "unit", "task", "annotator", "value", "timestamp", "lead_time", "file", "line"]


def reference_rows(decisions: Decisions, acc: Accounting, ctx: Context, spec: Any) -> list[dict[str, Any]]:
    """Each released row as a dict, built one row and one judgment at a time (small inputs only)."""
    units, _ = select_units(decisions, ctx)
    judged = pd.concat([acc.used.assign(role="annotator"), acc.expert.assign(role="expert")], ignore_index=True)
    mine = [judged[(judged["task"] == u.task) & (judged["item"] == u.item) & (judged["unit"] == u.unit)]
            for u in units.itertuples()]
    released = pd.concat([*mine, judged.iloc[:0]], ignore_index=True)["lead_time"]
    parsed = pd.to_numeric(released.replace("", None), errors="coerce")  # integer column → integers
    lead = dict(zip(released, parsed.astype(object).where(parsed.notna(), None), strict=True))
    roster = ctx.roster or {}
    rows = []
    for u, detail, reasons, js in zip(units.itertuples(), decisions.detail(units), reason_lists(units), mine,
                                      strict=True):
        recs = sorted(js.to_dict("records"), key=lambda r: (pd.notna(r["when"]), r["when"] if pd.notna(r["when"])
                                                            else 0, r["annotator"]))
        judgments = []
        for r in recs:
            e = roster.get(r["annotator"])
            judgments.append({
                "annotator": r["annotator"], "role": r["role"], "value": r["value"],
                "timestamp": r["timestamp"] or None, "lead_time": lead[r["lead_time"]],
                "source": f"{r['file']}:{r['line']}", "calibration_score": e.calibration_score if e else None,
                "calibration_passed": e.passed if e else None,
                "calibrated_at": e.calibrated_at.isoformat().replace("+00:00", "Z")  # as the roster writes it
                if e and e.calibrated_at is not None else None})
        rows.append({"task": u.task, "item": u.item, "unit": u.unit, "label": u.value, "decided_by": u.decided_by,
                     "method": u.method, "support": None if pd.isna(u.support) else float(u.support),
                     "n_judgments": int(u.n_judgments), "proposed": u.proposed, "expert": u.expert,
                     "reasons": reasons, "detail": detail, "judgments": judgments, "spec_id": spec.project.id,
                     "spec_version": spec.project.version, "spec_digest": spec.digest})
    return rows


def reference_jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"
                   for r in rows).encode("utf-8")


def frame(rows: list[tuple[str, str, str, str, str, str, str]]) -> pd.DataFrame:
    """Judgments (item, task, annotator, value, timestamp, lead_time, file) with lines and parsed times."""
    df = pd.DataFrame([{"item": i, "unit": "", "task": t, "annotator": a, "value": v, "timestamp": ts,
                        "lead_time": lt, "file": f, "line": n + 2} for n, (i, t, a, v, ts, lt, f) in enumerate(rows)],
                      columns=COLUMNS)
    return df.assign(when=pd.to_datetime(df["timestamp"].replace("", None), utc=True, format="ISO8601"))


def project(rows: list[tuple[str, str, str, str, str, str, str]], *, n_experts: int = 0, gold_item: str = ""
            ) -> tuple[Any, Decisions, Accounting, Context]:
    """Decide a small project: the first ``n_experts`` rows are expert judgments (annotator ``ex…``)."""
    spec = make_spec(*TASKS, min_support=0.5)
    roster = {f"n{k}": RosterEntry(id=f"n{k}", role="annotator", calibration_score=0.7 + k / 10, passed=k != 2,
                                   calibrated_at=pd.Timestamp("2026-03-01T09:00:00", tz="UTC") if k else None)
              for k in range(4)}
    expert = frame([r[:2] + ("ex" + r[2],) + r[3:] for r in rows[:n_experts]])
    acc = Accounting(used=frame(rows[n_experts:]), expert=expert, exclusions=pd.DataFrame(columns=EXCLUSION_COLUMNS),
                     rows_read=len(rows))
    gold = pd.DataFrame([{"item": gold_item, "unit": "", "task": "intent", "label": "a", "why": ""}] if gold_item
                        else [], columns=["item", "unit", "task", "label", "why"])
    ctx = Context(roster=roster, gold=gold)
    return spec, decide_all(spec, acc, ctx), acc, ctx


def build(spec: Any, dec: Decisions, acc: Accounting, ctx: Context, **kw: Any) -> tuple[dict[str, bytes], dict[str, Any]]:
    buffers: dict[str, io.BytesIO] = {}
    counts = write_release(spec, dec, acc, ctx, lambda name: buffers.setdefault(name, io.BytesIO()), gates=(),
                           verdict=resolve_gates((), []), inputs=[], released_at=None, tool_version="0", **kw)
    return {name: b.getvalue() for name, b in buffers.items()}, counts


def check_against_reference(spec: Any, dec: Decisions, acc: Accounting, ctx: Context) -> list[dict[str, Any]]:
    rows = reference_rows(dec, acc, ctx, spec)
    files, counts = build(spec, dec, acc, ctx)
    assert files[DATASET_JSONL] == reference_jsonl(rows)
    table = pq.read_table(io.BytesIO(files[DATASET_PARQUET])).to_pylist()
    expected = [{**r, "detail": None if r["detail"] is None else json.dumps(
        r["detail"], ensure_ascii=False, sort_keys=True, separators=(",", ":")),
        "judgments": [{**j, "lead_time": None if j["lead_time"] is None else float(j["lead_time"])}
                      for j in r["judgments"]]} for r in rows]
    assert table == expected
    assert counts["released"] == len(rows)
    return rows


EXAMPLE = [
    ("i1", "intent", "n1", "a", "2026-03-02T10:00:05Z", "7", "x.csv"),  # expert (first row)
    ("i1", "intent", "n0", "a", "2026-03-02T10:00:01Z", "5", "l.csv"),
    ("i1", "intent", "n1", "b", "2026-03-02T10:00:01Z", "12", "l.csv"),  # same time: by annotator
    ("i1", "intent", "n3", "a", "", "9", "l.csv"),  # no time: first
    ("i1", "tone", "n0", "b", "2026-03-02T11:00:00+02:00", "1", "l.csv"),
    ('i"2\\', "intent", "n2", "c", "2026-03-02T10:00:00Z", "3", "dir/l\tb.csv"),
    ('i"2\\', "intent", "zed\n", "c", "2026-03-02T10:00:00Z", "4", "dir/l\tb.csv"),  # not in the roster
    ("g1", "intent", "n0", "a", "", "2", "l.csv"),  # gold item: held back
    ("ü3", "intent", "n0", "b", "", "3", "l.csv"),
]


def test_example_matches_the_reference_and_keeps_integer_lead_times() -> None:
    rows = check_against_reference(*project(EXAMPLE, n_experts=1, gold_item="g1"))
    assert [(r["task"], r["item"]) for r in rows] == [("intent", 'i"2\\'), ("intent", "i1"), ("intent", "ü3"),
                                                      ("tone", "i1")]  # '"' sorts before '1'
    i1 = rows[1]["judgments"]
    assert [(j["annotator"], j["role"], j["lead_time"]) for j in i1] == [
        ("n3", "annotator", 9), ("n0", "annotator", 5), ("n1", "annotator", 12), ("exn1", "expert", 7)]
    assert rows[1]["decided_by"] == "expert" and i1[1]["calibration_score"] == 0.7 and i1[0]["calibrated_at"]
    assert rows[0]["judgments"][1]["annotator"] == "zed\n" and rows[0]["judgments"][1]["calibration_score"] is None


def test_a_blank_or_decimal_lead_time_makes_every_lead_time_a_float() -> None:
    blank = [r[:5] + ("" if k == 2 else r[5],) + r[6:] for k, r in enumerate(EXAMPLE)]
    files, _ = build(*project(blank, n_experts=1))
    text = files[DATASET_JSONL].decode()
    assert '"lead_time":5.0,' in text and '"lead_time":null,' in text and '"lead_time":5,' not in text
    check_against_reference(*project(blank, n_experts=1))


def test_blocks_and_slices_change_no_jsonl_byte_and_make_one_row_group_per_block() -> None:
    spec, dec, acc, ctx = project(EXAMPLE, n_experts=1)
    whole, _ = build(spec, dec, acc, ctx)
    pieces, _ = build(spec, dec, acc, ctx, block_rows=2)
    assert pieces[DATASET_JSONL] == whole[DATASET_JSONL]
    parquet = pq.ParquetFile(io.BytesIO(pieces[DATASET_PARQUET]))
    assert parquet.metadata.num_row_groups == 3  # 5 rows in blocks of 2
    assert parquet.read().to_pylist() == pq.read_table(io.BytesIO(whole[DATASET_PARQUET])).to_pylist()


@pytest.mark.parametrize(("slice_rows", "threads"), [(1, 1), (1, 2), (2, 3), (3, 2)])
def test_lines_built_on_threads_and_blocks_made_ahead_change_no_byte(monkeypatch: pytest.MonkeyPatch,
                                                                      slice_rows: int, threads: int) -> None:
    """Slices of JSON lines built on several threads are written in order; the next block is made while the
    current one is written: the same bytes as one slice of one block on one thread."""
    spec, dec, acc, ctx = project(EXAMPLE, n_experts=1)
    whole, _ = build(spec, dec, acc, ctx)
    monkeypatch.setattr(release_jsonl, "SLICE_ROWS", slice_rows)
    monkeypatch.setattr(release, "LINE_THREADS", threads)
    pieces, _ = build(spec, dec, acc, ctx, block_rows=2)
    assert pieces[DATASET_JSONL] == whole[DATASET_JSONL]
    assert pq.read_table(io.BytesIO(pieces[DATASET_PARQUET])).to_pylist() == \
        pq.read_table(io.BytesIO(whole[DATASET_PARQUET])).to_pylist()


@pytest.mark.parametrize("where", ["lines", "block"])
def test_a_failure_on_a_pipeline_thread_is_raised_and_leaves_no_thread_working(
        monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    spec, dec, acc, ctx = project(EXAMPLE, n_experts=1)
    monkeypatch.setattr(release_jsonl, "SLICE_ROWS", 1)
    calls = []
    target, name = (release_jsonl, "_slice_lines") if where == "lines" else (release_table, "block")
    original = getattr(target, name)

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            raise RuntimeError(f"{where} failed")
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, failing)
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(RuntimeError, match=f"{where} failed"):
        build(spec, dec, acc, ctx, block_rows=2)
    assert all(c.startswith(f"labelspec-release-{'lines' if where == 'lines' else 'blocks'}") for c in calls)
    assert {t.name for t in threading.enumerate()} - before == set()


def test_progress_hears_of_the_release_and_of_each_block() -> None:
    spec, dec, acc, ctx = project(EXAMPLE, n_experts=1)
    heard: list[str] = []
    silent, _ = build(spec, dec, acc, ctx, block_rows=2)
    pieces, _ = build(spec, dec, acc, ctx, block_rows=2, progress=heard.append)
    assert pieces == silent  # progress changes no byte
    assert heard == ["writing the release: 5 rows", "released rows: 2 of 5", "released rows: 4 of 5",
                     "released rows: 5 of 5"]
    heard.clear()
    build(spec, dec, acc, ctx, progress=heard.append)
    assert heard == ["writing the release: 5 rows"]  # one block: no count after it


def test_streamed_outputs_are_hashed_in_the_manifest_and_equal_the_in_memory_build() -> None:
    spec, dec, acc, ctx = project(EXAMPLE, n_experts=1)
    files, counts = build(spec, dec, acc, ctx)
    same, _ = build_release(spec, dec, acc, ctx, gates=(), verdict=resolve_gates((), []), inputs=[],
                            released_at=None, tool_version="0")
    assert same == files and counts["released"] == 5
    outputs = json.loads(files[MANIFEST])["outputs"]
    assert outputs == [{"path": n, "sha256": hashlib.sha256(files[n]).hexdigest(), "bytes": len(files[n])}
                       for n in (DATASET_JSONL, DATASET_PARQUET)]


def test_nothing_released_writes_an_empty_jsonl_and_a_parquet_with_the_schema() -> None:
    files, counts = build(*project(EXAMPLE[7:8], gold_item="g1"))
    assert files[DATASET_JSONL] == b"" and counts["released"] == 0
    assert pq.read_table(io.BytesIO(files[DATASET_PARQUET])).num_rows == 0


ids = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6)
judgment = st.tuples(ids, st.sampled_from(["intent", "tone"]), st.sampled_from(["n0", "n1", "n2", "n3", "x\"y"]),
                     st.sampled_from(["a", "b"]),
                     st.sampled_from(["", "2026-03-02T10:00:00Z", "2026-03-02T09:59:59.5Z", "2026-03-01T00:00:00+05:00"]),
                     st.sampled_from(["", "0", "7", "12.5", "0.0001", "3.25"]), st.sampled_from(["l.csv", "é\\b.jsonl"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(judgment, min_size=1, max_size=25, unique_by=lambda r: (r[0], r[1], r[2])),
       n_experts=st.integers(0, 3))
def test_generated_projects_match_the_reference(rows: list[tuple[str, ...]], n_experts: int) -> None:
    check_against_reference(*project(rows, n_experts=min(n_experts, len(rows) - 1)))  # type: ignore[arg-type]


def test_support_is_written_as_python_repr() -> None:
    text = build(*project(EXAMPLE, n_experts=1))[0][DATASET_JSONL].decode()
    assert '"support":0.6666666666666666,' in text and '"support":1.0,' in text
