"""Work counted once and shared: the accounting's grouping of rows by item, reused as the analysis's grouping
by unit (one sort less), and one unit × category table for the analysis, the consensus and the hotspots."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec import api
from labelspec.check import records, runner
from labelspec.check.analyze import unit_patterns
from labelspec.check.coded import codes_of
from labelspec.check.context import Context
from labelspec.check.ordering import group_order
from labelspec.check.records import account
from labelspec.check.tables import encode, gold_units_of, unit_counts
from labelspec.spec.load import load_spec

LABELS = ("x", "y", "z")
SPECS = Path(__file__).parents[1] / "specs"
EMPTY = pd.DataFrame(columns=["file", "line", "reason", "detail"])


def _frame(rows: list[tuple[int, int, str]], unused: list[str]) -> pd.DataFrame:
    """Judgments whose item column is a sorted-code Categorical, as the readers make it, with ``unused`` item
    categories that no row has (rows another check excluded, another task's items)."""
    items = [f"i{r[0]:02d}" for r in rows]
    cats = sorted(set(items) | set(unused))
    return pd.DataFrame({"item": pd.Categorical(items, categories=cats), "unit": "",
                         "annotator": [f"a{r[1]}" for r in rows], "value": [r[2] for r in rows]})


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 4), st.sampled_from(LABELS)), min_size=1, max_size=80),
       st.lists(st.sampled_from([f"i{n:02d}" for n in range(25)] + ["a", "zz"]), max_size=6))
def test_the_item_grouping_is_the_unit_grouping(rows: list[tuple[int, int, str]], unused: list[str]) -> None:
    frame = _frame(rows, unused)
    item, cats = codes_of(frame, "item")
    shared = encode(frame, LABELS, by_item=group_order(item, len(cats)))
    fresh = encode(frame, LABELS)
    assert shared.grouped is not None and fresh.grouped is None
    order, offsets = shared.by_unit
    expected_order, expected_offsets = group_order(fresh.unit, len(fresh.unit_keys))
    assert order.tolist() == expected_order.tolist()
    assert offsets.tolist() == expected_offsets.tolist()
    assert len(offsets) == len(fresh.unit_keys) + 1
    for u in range(len(fresh.unit_keys)):  # each unit's rows, in row order
        assert order[offsets[u]:offsets[u + 1]].tolist() == np.flatnonzero(fresh.unit == u).tolist()


def test_a_grouping_of_other_rows_is_refused() -> None:
    frame = _frame([(1, 1, "x"), (2, 1, "y"), (1, 2, "y")], [])
    item, cats = codes_of(frame, "item")
    order, offsets = group_order(item[:2], len(cats))
    with pytest.raises(ValueError, match="does not group these rows"):
        encode(frame, LABELS, by_item=(order, offsets))


def _accounted(name: str) -> tuple[api.Spec, records.Accounting]:
    spec = load_spec(SPECS / name)
    ctx = api.project_context(spec)
    files = sorted((SPECS / name / "labels").glob("*.csv"))
    return spec, runner.read_and_account(spec, ctx, files, [f.name for f in files])


def test_account_keeps_the_grouping_only_when_every_row_is_used() -> None:
    spec, acc = _accounted("support-intent")
    clean = acc.used.drop(columns=["when"])
    again = account(spec, clean, Context(), rows_read=len(clean), reader_exclusions=EMPTY)
    assert len(again.exclusions) == 0 and len(again.used) == len(clean)
    assert again.by_item is not None
    order, offsets = again.by_item
    item, cats = codes_of(again.used, "item")
    expected = group_order(item, len(cats))
    assert order.tolist() == expected[0].tolist() and offsets.tolist() == expected[1].tolist()
    duplicated = pd.concat([clean, clean.iloc[:1]], ignore_index=True)
    unknown = clean.assign(value=clean["value"].astype(str).where(clean.index != 3, "no-such-label"))
    for frame in (duplicated, unknown):  # one excluded row: the used rows are not the rows grouped
        got = account(spec, frame, Context(), rows_read=len(frame), reader_exclusions=EMPTY)
        assert len(got.exclusions) == 1 and got.by_item is None


def test_a_check_reports_the_same_with_and_without_the_shared_grouping(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    spec = load_spec(SPECS / "support-intent")
    batch = pd.read_csv(SPECS / "support-intent" / "labels" / "batch-01.csv", dtype=str, keep_default_na=False)
    path = tmp_path / "intent.csv"
    batch[batch["task"] == "intent"].to_csv(path, index=False)  # one task: its rows are every used row
    shared = api.check_labels(spec, [path]).to_dict()
    taken: list[bool] = []
    original = runner.account_labels

    def without(*args: object, **kwargs: object) -> records.Accounting:
        got = original(*args, **kwargs)  # type: ignore[arg-type]
        taken.append(got.by_item is not None)
        return replace(got, by_item=None)

    monkeypatch.setattr(runner, "account_labels", without)
    assert api.check_labels(spec, [path]).to_dict() == shared
    assert taken == [True]  # the file has no excluded row: the grouping was there to share


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 4), st.sampled_from(LABELS)), min_size=1, max_size=80),
       st.sets(st.integers(0, 20)))
def test_the_shared_unit_table_is_the_count_and_masks_like_it(rows: list[tuple[int, int, str]],
                                                             gold: set[int]) -> None:
    frame = _frame(rows, [])
    codes = encode(frame, LABELS)
    table = codes.unit_table
    assert table.dtype == np.int32 and not table.flags.writeable
    assert table.tolist() == unit_counts(codes).tolist()
    with pytest.raises(ValueError, match="read-only"):
        table[0, 0] = 9  # shared by the analysis, the consensus and the hotspots: nobody may change it
    on_gold = gold_units_of(codes, {f"i{g:02d}" for g in gold})
    mask = ~on_gold[codes.unit]
    by_mask, by_units = unit_patterns(codes, mask), unit_patterns(codes, mask, on_gold)
    assert by_units.patterns.rows.tolist() == by_mask.patterns.rows.tolist()
    assert by_units.patterns.multiplicity.tolist() == by_mask.patterns.multiplicity.tolist()
    assert by_units.of_unit.tolist() == by_mask.of_unit.tolist()


def test_a_replaced_unit_array_does_not_keep_the_shared_grouping() -> None:
    frame = _frame([(1, 1, "x"), (2, 1, "y"), (1, 2, "y"), (3, 3, "z")], [])
    item, cats = codes_of(frame, "item")
    codes = encode(frame, LABELS, by_item=group_order(item, len(cats)))
    moved = replace(codes, unit=codes.unit[::-1].copy())  # another unit array: its own grouping
    assert moved.by_unit[0].tolist() == group_order(moved.unit, len(moved.unit_keys))[0].tolist()
    assert moved.by_unit[0].tolist() != codes.by_unit[0].tolist()


def test_dawid_skene_leaves_the_shared_grouping_as_it_was() -> None:
    """Its sparse matrix sums repeated cells in place; the grouping it was given is the codes' (read by the check's
    other thread at the same time), so it works on a copy of the offsets."""
    from labelspec.check.dawid_skene import dawid_skene

    units, annotators, labels = np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1]), np.array([1, 1, 0, 0])
    order, offsets = group_order(units, 2)
    before = offsets.copy()
    dawid_skene(units, annotators, labels, n_units=2, n_annotators=2, n_classes=2, by_unit=(order, offsets))
    assert offsets.tolist() == before.tolist()  # unit 0's repeated cell made scipy rewrite them: [0, 1, 3]


MINIMAL_SPEC = """\
labelspec: 1
project: {id: grouping, title: Grouping, version: 1.0.0}
tasks:
  intent:
    kind: single_choice
    question: Which intent?
    labels:
      billing: {title: Billing, definition: About a bill.}
      cancel: {title: Cancel, definition: Ends the contract.}
"""


def _many_ids(tmp_path: Path) -> tuple[api.Spec, Path]:
    """A spec and a label file whose item ids are coded by sorting (fixed width, enough rows and bits): its
    coding groups the rows by item; one judgment is repeated (a duplicate the accounting must still find)."""
    rng = np.random.default_rng(5)
    n = 70_000
    items = [f"i{i:06d}" for i in rng.integers(0, 200_000, n)]  # 21 varying bits: sorted, not hashed
    annotators = [f"a{a:02d}" for a in rng.integers(0, 40, n)]
    labels = rng.choice(["billing", "cancel"], n).tolist()
    frame = pd.DataFrame({"item_id": items, "annotator_id": annotators, "label": labels})
    frame = frame.drop_duplicates(["item_id", "annotator_id"])
    frame = pd.concat([frame, frame.iloc[[7]]], ignore_index=True)  # the same judgment twice
    path = tmp_path / "many.csv"
    frame.to_csv(path, index=False)
    (tmp_path / "spec").mkdir()
    (tmp_path / "spec" / "labelspec.yaml").write_text(MINIMAL_SPEC, encoding="utf-8")
    return load_spec(tmp_path / "spec"), path


def test_the_readers_item_grouping_is_the_accountings(tmp_path: Path) -> None:
    from labelspec.check.readers import read_label_files

    spec, path = _many_ids(tmp_path)
    read = read_label_files([path], columns=spec.columns, tasks=runner.task_shapes(spec))
    assert read.by_item is not None  # the ids were coded by sorting
    item, cats = codes_of(read.frame, "item")
    order, offsets = group_order(item, len(cats))
    assert read.by_item[0].tolist() == order.tolist() and read.by_item[1].tolist() == offsets.tolist()
    assert read.by_item[0].dtype == order.dtype and read.by_item[1].dtype == offsets.dtype


def test_a_check_reports_the_same_with_and_without_the_readers_grouping(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path) -> None:
    spec, path = _many_ids(tmp_path)
    report = api.check_labels(spec, [path]).to_dict()
    assert report["accounting"]["excluded_by_reason"] == {"duplicate_judgment": 1}
    calls: list[bool] = []
    original = records._duplicates

    def without(*args: object, **kwargs: object) -> object:
        calls.append(kwargs.get("grouped", args[3] if len(args) > 3 else None) is not None)
        return original(*args[:3], None)  # type: ignore[arg-type]

    monkeypatch.setattr(records, "_duplicates", without)
    assert api.check_labels(spec, [path]).to_dict() == report
    assert calls == [True]


def test_a_shared_value_is_made_once_when_two_threads_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    """The consensus thread reads the unit table while the analysis counts it: one count, both get it."""
    import threading
    import time

    from labelspec.check import tables

    frame = _frame([(1, 1, "x"), (2, 1, "y"), (1, 2, "y"), (3, 3, "z")], [])
    codes = encode(frame, LABELS)
    counted: list[int] = []
    slow_count = tables.count_cells

    def slow(*args: object, **kwargs: object) -> np.ndarray:
        counted.append(1)
        time.sleep(0.2)  # the other thread asks meanwhile
        return slow_count(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tables, "count_cells", slow)
    got: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: got.append(codes.unit_table)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(counted) == 1 and got[0] is got[1]
    assert got[0].tolist() == unit_counts(encode(frame, LABELS)).tolist()
    assert replace(codes, unit=codes.unit.copy()).unit_table is not got[0]  # a new instance counts its own


def test_dawid_skene_takes_its_votes_from_a_function_after_building_its_matrix() -> None:
    from labelspec.check import dawid_skene as ds

    units, annotators, labels = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 0, 1, 1]), np.array([1, 1, 0, 1, 0])
    votes = np.zeros((3, 2), dtype=np.int32)
    np.add.at(votes, (units, labels), 1)
    asked: list[int] = []

    def later() -> np.ndarray:
        asked.append(1)
        return votes

    lazy = ds.dawid_skene(units, annotators, labels, n_units=3, n_annotators=2, n_classes=2, votes=later)
    eager = ds.dawid_skene(units, annotators, labels, n_units=3, n_annotators=2, n_classes=2, votes=votes)
    plain = ds.dawid_skene(units, annotators, labels, n_units=3, n_annotators=2, n_classes=2)
    assert asked == [1]
    for got in (lazy, eager):
        assert np.array_equal(got.posterior, plain.posterior) and np.array_equal(got.confusion, plain.confusion)
    with pytest.raises(ValueError, match="votes must be"):
        ds.dawid_skene(units, annotators, labels, n_units=3, n_annotators=2, n_classes=2, votes=lambda: votes[:2])


def test_gold_scored_beside_the_analysis_reports_as_before_and_raises_its_errors(monkeypatch: pytest.MonkeyPatch
                                                                                  ) -> None:
    """Gold scoring runs on the consensus thread while the analysis encodes: the same scores, and a failure there
    is the check's failure (never a silent report without gold)."""
    from labelspec.check.gold import score_gold

    spec = load_spec(SPECS / "support-intent")
    files = sorted((SPECS / "support-intent" / "labels").glob("*.csv"))
    report = api.check_labels(spec, files)
    acc = runner.read_and_account(spec, api.project_context(spec), files, [str(f) for f in files])
    alone = score_gold(spec, acc.used, api.project_context(spec), level=spec.quality.bootstrap.level)
    assert report.gold is not None and alone is not None
    assert report.gold.annotators == alone.annotators and report.gold.accuracy == alone.accuracy
    pd.testing.assert_frame_equal(report.gold.scored, alone.scored)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("gold scoring failed")

    monkeypatch.setattr(runner, "score_gold", broken)
    with pytest.raises(RuntimeError, match="gold scoring failed"):
        api.check_labels(spec, files)
