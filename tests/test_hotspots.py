"""Disagreement hotspots: entropy ranking (against scipy), label-pair splits, edge-case links and guideline gaps."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import entropy as scipy_entropy
from test_decide import accounting, gold, lab, make_spec, votes

from labelspec.check import hotspots
from labelspec.check.context import Context
from labelspec.check.hotspots import coverage, find_hotspots
from labelspec.spec.model import Counterexample, EdgeCase, Task

INTENT = Task(
    name="intent", kind="single_choice", question="q",
    labels=(lab("refund", counterexamples=(Counterexample(text="t", use="status", why="w"),)), lab("status"),
            lab("dispute"), lab("other")),
    edge_cases=(EdgeCase(id="merchant-refused", when="w", label="dispute", why="y", instead_of=("refund",)),),
)
TABLE = {
    "i1": ["refund", "dispute", "dispute"],
    "i2": ["refund", "dispute"],
    "i3": ["refund", "status", "other"],
    "i4": ["other", "status", "status"],
    "i5": ["refund"] * 3,
}


def _pairs() -> dict[tuple[str, str], dict[str, object]]:
    h = find_hotspots(make_spec(INTENT), accounting(votes("intent", TABLE)), Context())
    return {tuple(p["labels"]): p for p in h.section()["label_pairs"]}  # type: ignore[misc]


def test_items_ranked_by_entropy_in_bits() -> None:
    h = find_hotspots(make_spec(INTENT), accounting(votes("intent", TABLE)), Context())
    assert h.items["item"].tolist() == ["i3", "i2", "i1", "i4"]  # i5 is unanimous: no hotspot
    for item, e in zip(h.items["item"], h.items["entropy"], strict=True):
        vals = TABLE[item]
        counts = [vals.count(v) for v in sorted(set(vals))]
        assert e == pytest.approx(scipy_entropy(counts, base=2), abs=1e-6)
    assert h.items["values"].iloc[0] == {"other": 1, "refund": 1, "status": 1}


def test_pair_splits_count_judgment_pairs_on_the_same_unit() -> None:
    pairs = _pairs()
    # refund/dispute: i1 gives 1·2, i2 gives 1·1; status/other: i3 1·1 and i4 2·1
    assert (pairs[("refund", "dispute")]["splits"], pairs[("refund", "dispute")]["units"]) == (3, 2)
    assert (pairs[("status", "other")]["splits"], pairs[("status", "other")]["units"]) == (3, 2)
    assert pairs[("refund", "status")]["splits"] == 1
    assert pairs[("refund", "dispute")]["share"] == pytest.approx(3 / 8)
    assert ("status", "dispute") not in pairs  # never split: not a hotspot
    assert pairs[("status", "other")]["examples"] == ["i4", "i3"]  # most splits first


def test_gold_items_are_not_hotspots() -> None:
    """Gold items are left out as agreement leaves them out: often judged by everyone, their splits (n_a · n_b)
    would outweigh the work itself (an audit found gold items as the top disputed units and the only evidence
    of guideline gaps)."""
    h = find_hotspots(make_spec(INTENT), accounting(votes("intent", TABLE)),
                      Context(gold=gold([("i3", "intent", "status")])))
    assert h.items["item"].tolist() == ["i2", "i1", "i4"]
    pairs = {tuple(p["labels"]): p for p in h.section()["label_pairs"]}
    assert ("refund", "status") not in pairs and pairs[("status", "other")]["splits"] == 2  # i4 only


def test_covered_pair_links_the_edge_case_and_gap_is_flagged() -> None:
    pairs = _pairs()
    covered = pairs[("refund", "dispute")]
    assert covered["gap"] is False
    assert covered["covered_by"] == [{"kind": "edge_case", "id": "merchant-refused",
                                      "link": "guidelines.html#merchant-refused"}]
    by_counter = pairs[("refund", "status")]
    assert by_counter["covered_by"] == [{"kind": "counterexample", "id": "refund→status",
                                         "link": "guidelines.html#_label-intent-0"}]
    assert pairs[("status", "other")]["gap"] is True and pairs[("status", "other")]["covered_by"] == []


def test_suggested_fixes_are_the_gaps_with_examples() -> None:
    section = find_hotspots(make_spec(INTENT), accounting(votes("intent", TABLE)), Context()).section()
    fixes = [(tuple(f["labels"]), f["examples"]) for f in section["suggested_fixes"]]
    assert fixes == [(("status", "other"), ["i4", "i3"]), (("refund", "other"), ["i3"])]
    assert any("guideline gap" in line for line in section["summary"])
    assert any("guidelines.html#merchant-refused" in line for line in section["summary"])


def test_coverage_is_symmetric_and_needs_label_and_instead_of() -> None:
    task = Task(name="t", kind="single_choice", question="q", labels=(lab("a"), lab("b"), lab("c")),
                edge_cases=(EdgeCase(id="e1", when="w", label="a", why="y", instead_of=("b", "c")),))
    assert coverage(task, "a", "b") == coverage(task, "b", "a") != []
    assert coverage(task, "b", "c") == []  # both only in instead_of: the edge case does not choose between them


def test_multi_choice_and_span_pairs() -> None:
    tags = Task(name="tags", kind="multi_choice", question="q", labels=(lab("x"), lab("y")))
    ner = Task(name="ner", kind="spans", question="q", labels=(lab("PER"), lab("ORG")))
    rows = votes("tags", {"i1": ['["x"]', '["y"]', '["x","y"]', '["y"]']})
    rows += votes("ner", {"i1": ['[[0,4,"PER"]]', '[[0,4,"ORG"]]', '[[0,4,"PER"]]']})
    pairs = {p["task"]: p for p in find_hotspots(make_spec(tags, ner), accounting(rows), Context())
             .section()["label_pairs"]}
    assert pairs["tags"]["splits"] == 2  # one judgment with x-not-y × two with y-not-x
    assert pairs["ner"]["splits"] == 2 and pairs["ner"]["labels"] == ["PER", "ORG"]  # same extent, other label


def test_pair_units_and_examples_are_where_the_split_happened() -> None:
    """A unit where both labels occur without a split (spans in different places, both tags from one
    annotator) is neither counted in ``units`` nor an example."""
    tags = Task(name="tags", kind="multi_choice", question="q", labels=(lab("x"), lab("y")))
    ner = Task(name="ner", kind="spans", question="q", labels=(lab("PER"), lab("ORG")))
    rows = votes("tags", {"a": ['["x","y"]', '["x","y"]'], "b": ['["x"]', '["y"]', '["y"]'], "c": ['["x"]', '["y"]']})
    rows += votes("ner", {"a": ['[[0,4,"PER"]]', '[[5,9,"ORG"]]'], "b": ['[[0,4,"PER"]]', '[[0,4,"ORG"]]'],
                          "c": ['[[0,4,"PER"],[5,9,"ORG"]]', '[[0,4,"ORG"],[5,9,"PER"]]']})
    pairs = {p["task"]: p for p in find_hotspots(make_spec(tags, ner), accounting(rows), Context())
             .section()["label_pairs"]}
    assert (pairs["tags"]["splits"], pairs["tags"]["units"], pairs["tags"]["examples"]) == (3, 2, ["b", "c"])
    assert (pairs["ner"]["splits"], pairs["ner"]["units"], pairs["ner"]["examples"]) == (3, 2, ["c", "b"])


def test_max_pairs_and_max_items_bound_the_output() -> None:
    rng = np.random.default_rng(3)
    table = {f"i{i:03d}": list(rng.choice(["refund", "status", "dispute", "other"], size=3)) for i in range(300)}
    h = find_hotspots(make_spec(INTENT), accounting(votes("intent", table)), Context(), max_items=7, max_pairs=2)
    assert len(h.items) == 7 and len(h.pairs) == 2
    assert h.pairs["splits"].tolist() == sorted(h.pairs["splits"].tolist(), reverse=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=40), st.integers(1, 6))
def test_top_units_equal_a_stable_sort_by_weight(weights: list[int], k: int) -> None:
    from labelspec.check.hotspots import top_units

    w = np.array(weights, dtype=np.float64)
    want = np.argsort(-w, kind="stable")[: int((w > 0).sum())][:k]
    assert top_units(w, k).tolist() == want.tolist()


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 8), st.integers(1, 5), st.data())
def test_entropy_and_unanimity_from_the_table_equal_the_sparse_pairs_bit_for_bit(n_units: int, k: int,
                                                                                  data: st.DataObject) -> None:
    """Label tasks count a U × K table; structured ones count the (unit, category) pairs that occur."""
    from labelspec.check import decide, hotspots
    from labelspec.check.tables import Codes

    rows = data.draw(st.lists(st.tuples(st.integers(0, n_units - 1), st.integers(0, k - 1)), max_size=40))
    arr = np.array(rows, dtype=np.int64).reshape(-1, 2)
    keys = np.array([f"i{u}" for u in range(n_units)], dtype=object)
    cats = tuple(f"c{c}" for c in range(k))
    codes = Codes(unit=arr[:, 0], annotator=np.arange(len(arr)), category=arr[:, 1], unit_keys=keys,
                  unit_items=keys, unit_steps=np.full(n_units, "", dtype=object),
                  annotators=np.array([f"a{i}" for i in range(len(arr))], dtype=object), categories=cats)
    value = np.array(data.draw(st.lists(st.sampled_from([*cats, None]), min_size=n_units, max_size=n_units)),
                     dtype=object)
    dense_h, dense_n = hotspots.entropy(codes)
    dense_u = decide._unanimous(codes, value)
    with pytest.MonkeyPatch.context() as mp:  # the per-unit logs, as units judged over 255 times get them
        mp.setattr(hotspots, "_TERMS_UP_TO", -1)
        logged_h, logged_n = hotspots.entropy(codes)
    assert dense_h.tobytes() == logged_h.tobytes() and dense_n.tolist() == logged_n.tolist()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hotspots, "dense_units", lambda c: False)
        mp.setattr(decide, "dense_units", lambda c: False)
        sparse_h, sparse_n = hotspots.entropy(codes)
        sparse_u = decide._unanimous(codes, value)
    assert dense_h.tobytes() == sparse_h.tobytes() and dense_n.tolist() == sparse_n.tolist()
    assert dense_u.tolist() == sparse_u.tolist()
    for u in range(n_units):
        got = arr[arr[:, 0] == u, 1].tolist()
        want = scipy_entropy([got.count(c) for c in set(got)], base=2) if got else 0.0
        assert dense_h[u] == pytest.approx(want, abs=1e-12)
        assert dense_u[u] == (len(got) >= 2 and len(set(got)) == 1 and value[u] == cats[got[0]])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.0, 1e-13, 0.5, 0.918295834, 1.0, 1.584962501]),
                          st.integers(1, 4)), max_size=60), st.integers(0, 8))
def test_top_disputed_equals_the_full_lexsort(units: list[tuple[float, int]], k: int) -> None:
    from labelspec.check.hotspots import top_disputed

    h = np.array([u[0] for u in units], dtype=np.float64)
    n = np.array([u[1] for u in units], dtype=np.int64)
    full = np.lexsort((-n, -h))
    expected = full[h[full] > 1e-12][:k]
    assert top_disputed(h, n, k).tolist() == expected.tolist()


NESTED = Task(
    name="cause", kind="single_choice", question="q",
    labels=(lab("a"), lab("a1", parent="a"), lab("a2", parent="a"), lab("b")),
    edge_cases=(EdgeCase(id="a1-not-a2", when="w", label="a1", why="y", instead_of=("a2",)),),
)
NESTED_TABLE = {
    "i1": ["a1", "a2", "a2"],  # 3 pairs under a, 2 split a1/a2
    "i2": ["a", "a1"],  # 1 pair under a, split parent/child
    "i3": ["a1", "b"],  # one judgment under a: no pair
    "i4": ["a2", "a2"],  # 1 pair under a, not split
}


def test_taxonomy_subtrees_count_the_splits_between_children() -> None:
    sub = find_hotspots(make_spec(NESTED), accounting(votes("cause", NESTED_TABLE)), Context()).section()["subtrees"]
    assert sub == [{"task": "cause", "parent": "a", "depth": 0, "pairs": 5, "splits": 3, "share": 0.6,
                    "top_split": {"labels": ["a1", "a2"], "splits": 2, "gap": False, "examples": ["i1"],
                                  "covered_by": [{"kind": "edge_case", "id": "a1-not-a2",
                                                  "link": "guidelines.html#a1-not-a2"}]}}]
    text = find_hotspots(make_spec(NESTED), accounting(votes("cause", NESTED_TABLE)), Context()).section()["summary"]
    assert ("cause: under a, 3 of 5 pairs of judgments split between its children (60%); most often a1 ↔ a2 (2×) "
            "— settled by a1-not-a2") in text


def test_taxonomy_subtrees_leave_gold_out_and_flag_gaps() -> None:
    spec = make_spec(dataclasses.replace(NESTED, edge_cases=()))
    h = find_hotspots(spec, accounting(votes("cause", NESTED_TABLE)), Context(gold=gold([("i1", "cause", "a1")])))
    (sub,) = h.section()["subtrees"]
    assert (sub["pairs"], sub["splits"]) == (2, 1)  # i2 and i4 only
    assert sub["top_split"]["labels"] == ["a", "a1"] and sub["top_split"]["gap"] is True


def test_subtrees_are_for_single_choice_taxonomies_only() -> None:
    flat = find_hotspots(make_spec(INTENT), accounting(votes("intent", TABLE)), Context()).section()
    assert flat["subtrees"] == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), max_size=4), min_size=1, max_size=12), st.data())
def test_choice_splits_by_pieces_are_the_whole_table_sums(table: list[list[int]], data: st.DataObject) -> None:
    """Splits and units-with-both summed over pieces of units (any piece size), gold units left out, are the
    whole (U, K) table's products, and each unit's weight for a pair is its two counts' product (0 on gold)."""
    counts = np.array([(row + [0] * 4)[:4] for row in table], dtype=np.int32)
    gold_units = np.array(data.draw(st.lists(st.booleans(), min_size=len(table), max_size=len(table))), dtype=bool)
    whole = counts.astype(np.float64)
    whole[gold_units] = 0.0
    present = (whole > 0).astype(np.float64)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hotspots, "_SPLIT_UNITS", data.draw(st.integers(1, 5), label="piece"))
        splits, both, weight = hotspots._choice_splits(None, counts, gold_units)  # type: ignore[arg-type]
    assert splits.tolist() == (whole.T @ whole).tolist() and both.tolist() == (present.T @ present).tolist()
    for a in range(4):
        for b in range(4):
            assert weight(a, b).tolist() == (whole[:, a] * whole[:, b]).tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 3), st.sampled_from(["refund", "status", "other"])),
                max_size=40), st.lists(st.integers(0, 7), max_size=4, unique=True))
def test_a_few_units_rows_from_the_grouping_or_from_a_mask_alike(rows: list[tuple[int, int, str]],
                                                                  wanted: list[int]) -> None:
    """The listed units' judgments are taken from the rows grouped by unit when that grouping is at hand, and
    by a mask over every row otherwise: the same rows, ascending."""
    import pandas as pd

    from labelspec.check.tables import encode

    frame = pd.DataFrame({"item": [f"i{r[0]}" for r in rows], "unit": "", "annotator": [f"a{r[1]}" for r in rows],
                          "value": [r[2] for r in rows]}, dtype=object)
    codes = encode(frame, ("refund", "status", "other"))
    units = np.array([u for u in wanted if u < len(codes.unit_keys)], dtype=np.int64)
    assert not codes.grouped_already
    by_mask = hotspots._rows_of(codes, units)
    _ = codes.by_unit
    assert codes.grouped_already
    by_grouping = hotspots._rows_of(codes, units)
    assert by_grouping.tolist() == by_mask.tolist() == [i for i, u in enumerate(codes.unit) if u in set(units)]
