"""Taxonomy agreement: depths, ancestor mapping, α per depth, deepest consensus, hotspots, shared helpers.

Hand-computed cases carry their arithmetic; α is also checked against the independent ``krippendorff``
package on the coarsened reliability data; hypothesis checks relabelling invariance and monotonicity.
"""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check import stats
from labelspec.check.taxonomy import (
    ancestors_at,
    deepest_consensus,
    depth_agreement,
    distinct,
    label_depths,
    pairs_within_groups,
    runs,
    set_depth_agreement,
    sparse_patterns,
    subtree_hotspots,
)

# 0 "error" → {2 "math", 3 "logic"}; 1 "ok" has no children; 4 "algebra" is a child of 2.
PARENT = np.array([-1, -1, 0, 0, 2])
# four units, two judgments each: siblings, identical leaves, identical root, different roots
UNIT = np.array([0, 0, 1, 1, 2, 2, 3, 3])
LABEL = np.array([2, 3, 2, 2, 1, 1, 3, 1])


def test_depths_and_ancestors() -> None:
    assert label_depths(PARENT).tolist() == [0, 0, 1, 1, 2]
    assert ancestors_at(PARENT, 0).tolist() == [0, 1, 0, 0, 0]
    # labels shallower than d map to themselves
    assert ancestors_at(PARENT, 1).tolist() == [0, 1, 2, 3, 2]
    assert ancestors_at(PARENT, 2).tolist() == [0, 1, 2, 3, 4]


def test_cycle_and_bad_parent_are_errors() -> None:
    with pytest.raises(ValueError, match="cycle"):
        label_depths(np.array([1, 0]))
    with pytest.raises(ValueError, match="parent"):
        label_depths(np.array([-1, 7]))


def test_alpha_per_depth_by_hand() -> None:
    by_depth = depth_agreement(UNIT, LABEL, PARENT)
    assert [d.depth for d in by_depth] == [0, 1, 2]
    # depth 0: units (0,0) (0,0) (1,1) (0,1). Coincidences o00 = 4, o11 = 2, o01 = o10 = 1;
    # n0 = 5, n1 = 3, n = 8.
    # α = 1 − (n − 1) Σ_{c≠k} o / Σ_{c≠k} n_c n_k = 1 − 7 · 2 / (2 · 5 · 3) = 16/30
    assert by_depth[0].alpha.value == pytest.approx(16 / 30)
    assert by_depth[0].percent.value == pytest.approx(3 / 4)  # siblings agree at their parent's depth
    # depth 1: (2,3) (2,2) (1,1) (3,1): Σ_{c≠k} o = 4; n1 = 3, n2 = 3, n3 = 2; Σ_{c≠k} n_c n_k = 64 − 22 = 42
    # α = 1 − 7 · 4 / 42 = 1/3
    assert by_depth[1].alpha.value == pytest.approx(1 / 3)
    assert by_depth[1].percent.value == pytest.approx(2 / 4)
    assert by_depth[1].n_categories == 3


def test_alpha_per_depth_matches_krippendorff_package() -> None:
    rng = np.random.default_rng(7)
    parent = np.array([-1, -1, 0, 0, 1, 2, 2, 3])
    unit = np.repeat(np.arange(40), 3)
    label = rng.integers(0, parent.size, unit.size)
    for d in depth_agreement(unit, label, parent):
        coarse = ancestors_at(parent, d.depth)[label].reshape(40, 3).T.astype(float)
        expected = krippendorff.alpha(reliability_data=coarse, level_of_measurement="nominal")
        assert d.alpha.value == pytest.approx(expected, abs=1e-12)


def test_deepest_consensus() -> None:
    got = deepest_consensus(UNIT, LABEL, PARENT, min_support=1.0, n_units=5)
    # unit 0: siblings agree only at depth 0 (label 0); unit 1: leaf 2 at depth 2 (2 maps to itself);
    # unit 2: root 1 maps to itself down to depth 2; unit 3: never; unit 4: no judgments
    assert got.label.tolist() == [0, 2, 1, -1, -1]
    assert got.depth.tolist() == [0, 2, 2, -1, -1]
    assert got.support[:3].tolist() == [1.0, 1.0, 1.0]
    assert np.isnan(got.support[3:]).all()


def test_deepest_consensus_compares_shares_exactly() -> None:
    """2 of 3 meets 2/3 and misses 0.6666666667, as the majority vote decides (it had a 1e-9 slack)."""
    unit, label = [0, 0, 0], [2, 2, 3]  # two leaves under 0: 2 of 3 at the leaves, 3 of 3 at their parent
    assert deepest_consensus(unit, label, PARENT, min_support=2 / 3, n_units=1).depth.tolist() == [2]
    assert deepest_consensus(unit, label, PARENT, min_support=0.6666666667, n_units=1).depth.tolist() == [0]


def test_tie_at_top_is_no_consensus() -> None:
    got = deepest_consensus([0, 0], [2, 3], PARENT, min_support=0.5, n_units=1)
    # at depths 1 and 2 the two leaves tie 1–1 (share 0.5 each): no winner; at depth 0 both are "0"
    assert (got.label[0], got.depth[0]) == (0, 0)


def test_hotspots_by_hand() -> None:
    spots = subtree_hotspots(UNIT, LABEL, PARENT)
    # under 0 (depth 0): unit 0 has 1 pair (2 vs 3, confused), unit 1 has 1 pair (2, 2); unit 3's pair
    # is 3 vs 1, not under 0. Under 2 (depth 1): unit 1's pair of "2" judgments (2 maps to itself) agrees.
    assert [(h.parent, h.depth, h.n_pairs, h.n_confused) for h in spots] == [(0, 0, 2, 1), (2, 1, 1, 0)]
    assert spots[0].rate == 0.5
    assert (spots[0].top_pair, spots[0].top_pair_count) == ((2, 3), 1)
    assert spots[1].top_pair is None


def test_sparse_patterns_equal_dense_collapse_across_chunks() -> None:
    rng = np.random.default_rng(3)
    row = rng.integers(0, 500, 3000) * 7  # sparse row ids
    col = rng.integers(0, 6, 3000)
    dense = np.zeros((row.max() + 1, 6), dtype=np.int64)
    np.add.at(dense, (row, col), 1)
    expected = stats.collapse_patterns(dense)
    got = sparse_patterns(row, col, n_cols=6, chunk_cells=50)  # 8 rows per chunk: many chunks
    assert np.array_equal(got.rows, expected.rows)
    assert np.array_equal(got.multiplicity, expected.multiplicity)


def test_small_helpers() -> None:
    assert distinct([5, 1, 5, 3]).tolist() == [1, 3, 5]
    first, size = runs(np.array([2, 2, 4, 9, 9, 9]))
    assert (first.tolist(), size.tolist()) == ([0, 2, 3], [2, 1, 3])
    i, j = pairs_within_groups(np.array([3, 1, 2]))
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2), (4, 5)]


judgments = st.lists(st.tuples(st.integers(0, 7), st.integers(0, 4)), min_size=2, max_size=40)


def _same(x: stats.Estimate, y: stats.Estimate) -> bool:
    return x.reason == y.reason and (x.value is None or x.value == pytest.approx(y.value))


@settings(max_examples=60, deadline=None)
@given(judgments, st.permutations(range(8)))
def test_unit_relabelling_invariance_and_monotone_percent(
    rows: list[tuple[int, int]], perm: list[int]
) -> None:
    unit = np.array([r[0] for r in rows])
    label = np.array([r[1] for r in rows])
    a = depth_agreement(unit, label, PARENT)
    b = depth_agreement(np.array(perm)[unit], label, PARENT)
    assert all(_same(x.alpha, y.alpha) and _same(x.percent, y.percent) for x, y in zip(a, b, strict=True))
    pct = [x.percent.value for x in a]
    if pct[0] is not None:  # coarser levels can only merge categories: agreement never drops
        assert all(p <= q + 1e-12 for p, q in zip(pct[1:], pct[:-1], strict=True))
        assert all(0.0 <= p <= 1.0 for p in pct)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=2, max_size=10, unique=True))
def test_all_agree_gives_one(labels: list[int]) -> None:
    unit = np.repeat(np.arange(len(labels)), 3)
    label = np.repeat(labels, 3)
    for d in depth_agreement(unit, label, PARENT):
        assert d.percent.value == 1.0
        if d.n_categories >= 2:
            assert d.alpha.value == pytest.approx(1.0)
        else:
            assert d.alpha.value is None and d.alpha.reason == "only one category observed"


def test_empty_input_fails_closed() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert all(d.alpha.value is None and d.alpha.reason for d in depth_agreement(empty, empty, PARENT))
    assert subtree_hotspots(empty, empty, PARENT) == ()
    assert deepest_consensus(empty, empty, PARENT, min_support=0.5, n_units=2).label.tolist() == [-1, -1]


def test_label_sets_are_coarsened_label_by_label() -> None:
    """multi_choice with ``parent:``: each set's labels become their ancestors, duplicates merge. Values (rows of
    ``member``): 0 {math}, 1 {logic, ok}, 2 {ok}, 3 {error}, 4 {algebra, logic}."""
    member = np.zeros((5, 5), dtype=int)
    for v, labels in enumerate([[2], [3, 1], [1], [0], [4, 3]]):
        member[v, labels] = 1
    unit = np.array([0, 0, 1, 1, 2, 2])
    value = np.array([0, 4, 1, 2, 3, 0])
    d0, d1, d2 = set_depth_agreement(unit, value, member, PARENT)
    # depth 0: {error} {error} | {error, ok} {ok} | {error} {error}: 2 of 3 units agree; 3 distinct sets
    assert (d0.percent.value, d0.n_categories) == (pytest.approx(2 / 3), 3)
    # depth 1: {math} {math, logic} | {logic, ok} {ok} | {error} {math}: none agree
    assert (d1.percent.value, d1.n_categories) == (0.0, 5)
    assert d2.percent.value == 0.0
    # α on the coarsened sets as categories, against the independent package
    for d in (d0, d1, d2):
        anc = ancestors_at(PARENT, d.depth)
        keys = [tuple(sorted({int(anc[k]) for k in np.flatnonzero(member[v])})) for v in value]
        codes = {k: i for i, k in enumerate(sorted(set(keys)))}
        data = np.array([codes[k] for k in keys], dtype=float).reshape(3, 2).T
        expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
        assert d.alpha.value == pytest.approx(expected, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(judgments)
def test_singleton_sets_agree_with_single_labels(rows: list[tuple[int, int]]) -> None:
    """A set of one label is that label: the set version gives what :func:`depth_agreement` gives."""
    unit = np.array([r[0] for r in rows])
    label = np.array([r[1] for r in rows])
    a = depth_agreement(unit, label, PARENT)
    b = set_depth_agreement(unit, label, np.eye(PARENT.size, dtype=int), PARENT)
    assert [x.n_categories for x in a] == [y.n_categories for y in b]
    assert all(_same(x.alpha, y.alpha) and _same(x.percent, y.percent) for x, y in zip(a, b, strict=True))
