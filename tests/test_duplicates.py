"""Duplicate judgments: the fast "surely unique" path and the full sort agree with a plain reference.

``records._duplicates`` first tries to prove that no two rows share (annotator, item, unit, task) by comparing
rows within each small item, and sorts every key only when it cannot. Both paths must give exactly what
pandas' ``duplicated(keep="first")`` gives: the later rows excluded, each pointing at the first one's line.
"""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_records import SPECS, frame_of

from labelspec.check import records
from labelspec.check.context import Context
from labelspec.check.records import account

KEY = ["annotator", "item", "unit", "task"]


def _records(items: list[int], annotators: list[int], units: list[int]) -> list[dict[str, str]]:
    return [{"item": f"i{i}", "unit": str(u), "task": "quality", "annotator": f"a{a}", "value": "1",
             "timestamp": "2026-03-02T10:00:00Z", "lead_time": "1.5"}
            for i, a, u in zip(items, annotators, units, strict=True)]


def _duplicates_found(rows: list[dict[str, str]]) -> list[tuple[int, str]]:
    empty = pd.DataFrame(columns=["file", "line", "reason", "detail"])
    acc = account(SPECS["single"], frame_of(rows), Context(), rows_read=len(rows), reader_exclusions=empty)
    ex = acc.exclusions[acc.exclusions["reason"] == "duplicate_judgment"]
    assert len(acc.used) + len(acc.exclusions) == len(rows)
    return list(zip(ex["line"].astype(int), ex["detail"].astype(str), strict=True))


def _reference(rows: list[dict[str, str]]) -> list[tuple[int, str]]:
    frame = pd.DataFrame(rows)
    frame["line"] = range(2, len(rows) + 2)
    first = frame.groupby(KEY, sort=False)["line"].transform("min")
    dup = frame.duplicated(KEY, keep="first")
    return [(int(line), f"same annotator, item, unit and task as gen.csv:{int(f)}")
            for line, f in zip(frame.loc[dup, "line"], first[dup], strict=True)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n_items=st.integers(1, 12), n_annotators=st.integers(1, 6), n_units=st.integers(1, 3))
def test_duplicates_match_pandas_on_both_paths(data: st.DataObject, n_items: int, n_annotators: int,
                                                n_units: int) -> None:
    n = data.draw(st.integers(1, 60))
    draw = lambda k: data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))  # noqa: E731
    rows = _records(draw(n_items), draw(n_annotators), [u + 1 for u in draw(n_units)])
    assert _duplicates_found(rows) == _reference(rows)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n_items=st.integers(1, 8), n_annotators=st.integers(1, 4))
def test_rows_excluded_before_are_no_duplicates_and_no_firsts(data: st.DataObject, n_items: int,
                                                              n_annotators: int) -> None:
    """Rows an earlier check excluded (an unknown label) take no part: the duplicate search runs over the rows
    still in, and names a first row among them (the path with an index of those rows)."""
    n = data.draw(st.integers(1, 40))
    draw = lambda k: data.draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n))  # noqa: E731
    rows = _records(draw(n_items), draw(n_annotators), [1] * n)
    bad = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    for row, is_bad in zip(rows, bad, strict=True):
        if is_bad:
            row["value"] = "not-a-label"
    kept = [(line, r) for line, r in enumerate(rows, 2) if r["value"] != "not-a-label"]
    frame = pd.DataFrame([r for _, r in kept])
    expected = []
    if len(frame):
        frame["line"] = [line for line, _ in kept]
        first = frame.groupby(KEY, sort=False)["line"].transform("min")
        dup = frame.duplicated(KEY, keep="first")
        expected = [(int(line), f"same annotator, item, unit and task as gen.csv:{int(f)}")
                    for line, f in zip(frame.loc[dup, "line"], first[dup], strict=True)]
    assert _duplicates_found(rows) == expected


def test_small_items_without_duplicates_skip_the_sort(monkeypatch: object) -> None:
    """Every item judged at most _SMALL_ITEM times and no key repeated: the sort never runs."""
    def no_sort(*_: object) -> None:
        raise AssertionError("the full sort ran")

    monkeypatch.setattr(records, "stable_order", no_sort)  # type: ignore[attr-defined]
    rows = _records([i // 4 for i in range(40)], [i % 4 for i in range(40)], [1] * 40)
    assert _duplicates_found(rows) == []
    # the same annotators in neighbouring items, a few rows apart: no duplicate either (same annotator, not item)
    shifted = _records([i // 3 for i in range(30)], [(i // 3 + i) % 3 for i in range(30)], [1] * 30)
    assert _duplicates_found(shifted) == []


def test_a_large_item_or_a_repeat_takes_the_sort() -> None:
    """One item judged more than _SMALL_ITEM times (no repeat) and a repeat within a small item."""
    big = _records([0] * (records._SMALL_ITEM + 3), list(range(records._SMALL_ITEM + 3)), [1] * 11)
    assert _duplicates_found(big) == []
    repeat = _records([0, 1, 0, 1], [0, 0, 0, 1], [1, 1, 1, 1])
    assert _duplicates_found(repeat) == [(4, "same annotator, item, unit and task as gen.csv:2")]
