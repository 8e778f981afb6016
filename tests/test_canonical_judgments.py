"""Judgments in the review queue and the release are in their task's canonical text, as the consensus value is:
a consumer comparing a judgment with its row's value must not see a disagreement that is only key order, spacing
or set order. Kinds with one text per meaning are untouched, and canonical input gives today's bytes."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from test_decide import Row, accounting, lab, make_spec, votes

from labelspec.check import release_table as release_module
from labelspec.check.adjudicate import build_queue, queue_csv, queue_jsonl, queue_labelstudio
from labelspec.check.context import Context, Items
from labelspec.check.decide import decide_all
from labelspec.check.decide_kinds import canonical
from labelspec.check.records import Accounting
from labelspec.check.release import DATASET_JSONL, DATASET_PARQUET, build_release, resolve_gates
from labelspec.check.release_judgments import Coded, canonical_values, order_judgments
from labelspec.emit.labelstudio import labelstudio_xml
from labelspec.spec.model import Spec, Task

INTENT = Task(name="intent", kind="single_choice", question="q", labels=(lab("a"), lab("b")))
TAGS = Task(name="tags", kind="multi_choice", question="q", labels=(lab("x"), lab("y"), lab("z")))
#: The same labels in another order: ``["x","y"]`` is canonical for TAGS, ``["y","x"]`` for this one.
SGAT = Task(name="sgat", kind="multi_choice", question="q", labels=(lab("y"), lab("x"), lab("z")))
NER = Task(name="ner", kind="spans", question="q", labels=(lab("PER"), lab("ORG")), field="body")
BLAME = Task(name="blame", kind="attribution", question="q", labels=(lab("coder"), lab("planner")))
RANK = Task(name="rank", kind="ranking", question="q", options=("o1", "o2"))
TASKS = (INTENT, TAGS, SGAT, NER, BLAME, RANK)

#: Per task: each judgment as a label file may write it (two meanings), and the canonical text of each.
RAW: dict[str, list[str]] = {
    "intent": ["a", "a", "b"],
    "tags": ['["y", "x"]', '["x","y"]', '["x"]'],
    "sgat": ['["x","y"]', '["y", "x"]', '["y"]'],
    "ner": ['[[5, 9, "ORG"], [0, 4, "PER"]]', '[[0,4,"PER"],[5,9,"ORG"]]', '[[0,4,"PER"]]'],
    "blame": ['{"step": 2, "agent": "coder"}', '{"agent":"coder","step":2}', '{"agent":"planner","step":1}'],
    "rank": ['["o1", "o2"]', '["o1","o2"]', '["o2","o1"]'],
}
CANON: dict[str, list[str]] = {
    "intent": ["a", "a", "b"],
    "tags": ['["x","y"]', '["x","y"]', '["x"]'],
    "sgat": ['["y","x"]', '["y","x"]', '["y"]'],
    "ner": ['[[0,4,"PER"],[5,9,"ORG"]]', '[[0,4,"PER"],[5,9,"ORG"]]', '[[0,4,"PER"]]'],
    "blame": ['{"agent":"coder","step":2}', '{"agent":"coder","step":2}', '{"agent":"planner","step":1}'],
    "rank": ['["o1","o2"]', '["o1","o2"]', '["o2","o1"]'],
}
ITEMS = Items(ids=np.array(["i1", "i2"], dtype=object), fields={"body": {"i1": "Anna Acme", "i2": "Anna Acme"}})


def _rows(values: dict[str, list[str]]) -> list[Row]:
    """Item i1: each task's three judgments; item i2: the first two only (a unanimous unit)."""
    return [row for task, vals in values.items() for row in votes(task, {"i1": vals, "i2": vals[:2]})]


def _categorical(acc: Accounting) -> Accounting:
    """The id and value columns as the readers give them (categorical)."""
    cols = ["item", "unit", "task", "annotator", "value", "file"]
    return Accounting(used=acc.used.astype(dict.fromkeys(cols, "category")), expert=acc.expert,
                      exclusions=acc.exclusions, rows_read=acc.rows_read)


def _queue(values: dict[str, list[str]], *, with_spec: bool = True) -> pd.DataFrame:
    spec, acc = make_spec(*TASKS, min_support=0.9), _categorical(accounting(_rows(values)))
    return build_queue(decide_all(spec, acc, Context(items=ITEMS)), acc, spec if with_spec else None)


def _release(spec: Spec, acc: Accounting) -> dict[str, bytes]:
    ctx = Context(items=ITEMS)
    files, _ = build_release(spec, decide_all(spec, acc, ctx), acc, ctx, gates=(), verdict=resolve_gates((), []),
                             inputs=[], released_at=None, tool_version="0")
    return files


def _dataset(files: dict[str, bytes]) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in files[DATASET_JSONL].decode().splitlines()]
    table = pq.read_table(io.BytesIO(files[DATASET_PARQUET])).to_pylist()
    assert [{**r, "detail": json.loads(r["detail"]) if r["detail"] else None} for r in table] == rows
    return rows


def test_queue_judgments_are_canonical_and_equal_the_proposal_when_they_agree() -> None:
    q = _queue(RAW)
    by_task = {row["task"]: row for row in q.to_dict("records") if row["item"] == "i1"}
    assert set(by_task) == set(RAW)  # every i1 unit is routed (support 2/3 < 0.9)
    for task, row in by_task.items():
        assert list(row["judgments"].values()) == CANON[task], task
        if task in ("tags", "sgat", "blame", "rank"):  # the two who agree read exactly as the proposal
            assert row["proposed"] == CANON[task][0] == row["judgments"]["n0"] == row["judgments"]["n1"]
    assert json.loads(queue_jsonl(q).splitlines()[0])["judgments"] == by_task["intent"]["judgments"]


def test_queue_labelstudio_shows_the_canonical_set_order() -> None:
    q = _queue(RAW)
    spec = make_spec(*TASKS)
    doc = json.loads(queue_labelstudio(q, spec, ITEMS, labelstudio_xml(spec)))
    tags = next(t for t in doc if t["data"]["labelspec_task"] == "tags")
    assert [p["result"][0]["value"]["choices"] for p in tags["predictions"]] == [["x", "y"], ["x", "y"], ["x"]]


def test_queue_of_canonical_judgments_is_unchanged() -> None:
    spec = make_spec(*TASKS)
    config = labelstudio_xml(spec)
    new, old = _queue(CANON), _queue(CANON, with_spec=False)
    assert queue_csv(new) == queue_csv(old) and queue_jsonl(new) == queue_jsonl(old)
    assert queue_labelstudio(new, spec, ITEMS, config) == queue_labelstudio(old, spec, ITEMS, config)


@pytest.mark.parametrize("categorical", [False, True])
def test_release_judgments_are_canonical_with_raw_provenance(categorical: bool) -> None:
    acc = accounting(_rows(RAW), expert=[("i1", "", "blame", "ex", '{"step": 2,  "agent": "coder"}')])
    rows = _dataset(_release(make_spec(*TASKS, min_support=0.6), _categorical(acc) if categorical else acc))
    lines = {(r[0], r[2], r[3]): i + 2 for i, r in enumerate(_rows(RAW))}  # the test frame's line numbers
    seen = set()
    for row in rows:
        task, item = row["task"], row["item"]
        judged = [j for j in row["judgments"] if j["role"] == "annotator"]
        assert [j["value"] for j in judged] == CANON[task][:len(judged)], (task, item)
        assert [j["source"] for j in judged] == [f"l.csv:{lines[item, task, j['annotator']]}" for j in judged]
        assert row["label"] == CANON[task][0] or task == "ner", (task, item)  # the agreeing pair's text
        seen.add(task)
    assert seen == set(RAW)
    (expert,) = [j for r in rows for j in r["judgments"] if j["role"] == "expert"]
    assert expert["value"] == '{"agent":"coder","step":2}' and expert["source"] == "l.csv:2"


def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The release as it was: judgments' values as the label files wrote them."""
    def raw(units: pd.DataFrame, acc: Accounting, tasks: Sequence[Task] = (), judgment_units: Any = None) -> Any:
        return order_judgments(units, acc, (), judgment_units)

    monkeypatch.setattr(release_module, "order_judgments", raw)


def test_release_of_canonical_values_is_byte_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec(*TASKS, min_support=0.6)
    acc = _categorical(accounting(_rows(CANON)))
    new, new_raw_input = _release(spec, acc), _release(spec, _categorical(accounting(_rows(RAW))))
    _today(monkeypatch)
    assert _release(spec, acc) == new
    assert _release(spec, _categorical(accounting(_rows(RAW))))[DATASET_JSONL] != new_raw_input[DATASET_JSONL]


def test_canonical_values_recode_per_task_and_keep_canonical_codes() -> None:
    value = Coded.of(pd.Series(['["x","y"]', '["y", "x"]', "a", '["x","y"]', None], dtype=object))
    task = Coded.of(pd.Series(["tags", "tags", "intent", "sgat", "tags"], dtype=object))
    out = canonical_values(value, task, TASKS)
    texts = [None if c < 0 else out.values.iloc[c] for c in out.codes]
    assert texts == ['["x","y"]', '["x","y"]', "a", '["y","x"]', None]
    assert out.missing and out.codes[0] == value.codes[0] and out.codes[2] == value.codes[2]
    assert out.values.iloc[:len(value.values)].tolist() == value.values.tolist()  # appended, never replaced
    canon = Coded.of(pd.Series(['["x","y"]', "a"], dtype=object))
    assert canonical_values(canon, Coded.of(pd.Series(["tags", "intent"], dtype=object)), TASKS) is canon


def test_canonical_text_is_the_consensus_function() -> None:
    for task in TASKS:
        assert canonical(task, pd.Series(RAW[task.name], dtype=object)).tolist() == CANON[task.name]
