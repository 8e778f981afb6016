"""The review queue's building blocks that replaced per-unit pandas work (a groupby per routed unit, an ``isin``
that hashed every item category, json's Python encoder for an indented import): the same answers as the pandas
expressions they replaced, on frames with coded and plain columns, missing keys and repeated annotators."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from test_adjudicate import INTENT, _queue
from test_decide import votes

from labelspec.check.adjudicate import _judgments_by_unit, _rows_of_items, queue_labelstudio
from labelspec.emit.labelstudio import labelstudio_xml

KEYS = ["task", "item", "unit"]
TEXT = st.sampled_from(["t1", "t2"])
ITEM = st.sampled_from(["i1", "i2", "i3", None])
UNIT = st.sampled_from(["", "1", "2"])
ROW = st.tuples(TEXT, ITEM, UNIT, st.sampled_from(["a1", "a2", "a3"]), st.sampled_from(["x", "y", "z"]))


def _by_groupby(judged: pd.DataFrame) -> dict[tuple[object, ...], dict[str, str]]:
    """The expression the queue used before (per routed unit, a frame of its own)."""
    return {k: dict(zip(g["annotator"].astype(str), g["value"].astype(str), strict=True))
            for k, g in judged.groupby(KEYS, sort=False)}


@settings(max_examples=200, deadline=None)
@given(st.lists(ROW, max_size=30), st.booleans())
def test_judgments_by_unit_equal_the_groupby_they_replaced(rows: list[tuple[object, ...]], coded: bool) -> None:
    frame = pd.DataFrame(rows, columns=[*KEYS, "annotator", "value"], dtype=object)
    if coded:  # as the accounting holds them
        frame = frame.astype("category")
    expected = _by_groupby(frame)
    got = _judgments_by_unit(frame)
    assert got == expected
    assert [list(d) for d in got.values()] == [list(d) for d in expected.values()]  # annotators in row order


@settings(max_examples=200, deadline=None)
@given(st.lists(ITEM, max_size=30), st.lists(ITEM, max_size=5), st.sampled_from(["object", "category", "arrow"]))
def test_rows_of_items_equal_isin(items: list[str | None], wanted: list[str | None], kind: str) -> None:
    """Plain text, coded text, and coded Arrow-backed text (as the accounting codes item ids)."""
    column = (pd.Series(items, dtype="string[pyarrow]").astype("category") if kind == "arrow"
              else pd.Series(items, dtype=kind))
    want = pd.Series(wanted, dtype=object).dropna().unique()
    expected = pd.Series(items, dtype=object).isin(want).to_numpy(dtype=bool)
    np.testing.assert_array_equal(_rows_of_items(column, want), expected)


def test_the_label_studio_import_is_one_task_per_line_and_the_same_document() -> None:
    spec, q = _queue((INTENT,), votes("intent", {"i2": "ab", "i1": "aab", "i3": "abc"}), min_support=0.67)
    text = queue_labelstudio(q, spec, None, labelstudio_xml(spec))
    lines = text.splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 2 + len(q) == 5
    tasks = json.loads(text)
    assert [json.loads(line.rstrip(",")) for line in lines[1:-1]] == tasks  # each line one task, as compact JSON
    assert [t["data"]["item_id"] for t in tasks] == q["item"].tolist()
    empty = queue_labelstudio(q.iloc[:0], spec, None, labelstudio_xml(spec))
    assert empty == "[]\n" and json.loads(empty) == []
