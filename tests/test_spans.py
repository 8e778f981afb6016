"""Span agreement: validation, pairwise F1 (exact / overlap), character α, findings, consensus, scale.

Hand-computed cases carry their arithmetic. Character α is checked against the independent ``krippendorff``
package on the per-character reliability data (innermost-label rule applied by a plain loop); span F1 against
a loop-based reference of the documented greedy matching; hypothesis checks symmetry, relabelling invariance
and bounds. The scale test runs 1M spans through every function without timing anything.
"""

from __future__ import annotations

import itertools
from unittest import mock

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check import char_alpha as char_alpha_mod
from labelspec.check.spans import (
    SpanProblem,
    SpanSet,
    char_alpha,
    span_consensus,
    span_f1,
    span_findings,
    span_set,
    validate_spans,
)

PER, ORG, LOC = 0, 1, 2
Span = tuple[int, int, int, int, int]  # unit, annotator, start, end, label


def make(spans: list[Span], text_len: list[int], judged: list[tuple[int, int]] = (), k: int = 3) -> SpanSet:
    cols = [np.array(c, dtype=np.int64) for c in zip(*spans, strict=True)] if spans else [np.zeros(0)] * 5
    ju = [u for u, _ in judged]
    ja = [a for _, a in judged]
    return span_set(*cols, text_len=text_len, n_labels=k, judged_unit=ju, judged_annotator=ja)


def test_validate_spans_flags() -> None:
    spans = [
        (0, 0, 0, 5, PER), (0, 0, 3, 8, ORG),  # overlap (crossing)
        (0, 0, 10, 20, ORG), (0, 0, 12, 15, LOC),  # nested
        (0, 0, 22, 24, PER), (0, 0, 22, 24, PER),  # duplicate
        (0, 1, 6, 6, PER), (0, 1, 25, 31, PER), (3, 1, 0, 1, PER), (0, 1, 0, 1, 7),
    ]
    cols = [np.array(c) for c in zip(*spans, strict=True)]
    flat = validate_spans(*cols, text_len=[30, 10], n_labels=3)
    assert flat.tolist() == [SpanProblem.OVERLAP] * 4 + [0, SpanProblem.DUPLICATE, SpanProblem.EMPTY,
                                                         SpanProblem.OUT_OF_TEXT, SpanProblem.BAD_UNIT,
                                                         SpanProblem.BAD_LABEL]
    nested = validate_spans(*cols, text_len=[30, 10], n_labels=3, allow_nesting=True)
    assert nested[:4].tolist() == [SpanProblem.CROSSING, SpanProblem.CROSSING, 0, 0]
    with pytest.raises(ValueError, match="validate_spans"):
        make([(0, 0, 5, 3, PER)], [10])


def test_crossing_detection_catches_every_crossing_family() -> None:
    # A=[0,10) B=[5,15) E=[1,12): E crosses both, but only the interleaving pair is guaranteed to be flagged
    cols = [np.array(c) for c in zip((0, 0, 0, 10, 0), (0, 0, 5, 15, 0), (0, 0, 1, 12, 0), strict=True)]
    flags = validate_spans(*cols, text_len=[20], n_labels=1, allow_nesting=True)
    assert np.count_nonzero(flags) >= 2
    ok = [np.array(c) for c in zip((0, 0, 0, 10, 0), (0, 0, 2, 8, 0), (0, 0, 3, 4, 0), (0, 0, 10, 12, 0),
                                   strict=True)]
    assert not validate_spans(*ok, text_len=[20], n_labels=1, allow_nesting=True).any()


# unit 0: both annotators mark spans; unit 1: annotator 1 marked nothing; unit 2: annotators 0 and 2, nothing
F1_SPANS: list[Span] = [
    (0, 0, 0, 5, PER), (0, 0, 10, 15, ORG), (0, 1, 0, 5, PER), (0, 1, 11, 15, ORG), (0, 1, 16, 18, PER),
    (1, 0, 2, 4, LOC),
]
F1_JUDGED = [(1, 1), (2, 0), (2, 2)]


def test_span_f1_by_hand() -> None:
    sp = make(F1_SPANS, [20, 20, 20], F1_JUDGED)
    exact = span_f1(sp, mode="exact")
    # pair (0, 1): TP 1 (PER [0,5)); |a| = 2 + 1, |b| = 3 + 0 → 2·1/6
    assert exact.mean.value == pytest.approx(1 / 3)
    # pair (0, 2) judged unit 2 together but neither marked anything: left out
    assert (exact.mean.n_units, exact.mean.n_excluded) == (1, 1)
    over = span_f1(sp, mode="overlap")
    # overlap adds ORG [10,15) ~ [11,15): TP 2 → 4/6
    assert over.mean.value == pytest.approx(2 / 3) and over.pooled.value == pytest.approx(2 / 3)
    # per label: PER 2·1/(1 + 2); ORG 2·1/(1 + 1); LOC 0/(1 + 0)
    assert [e.value for e in over.per_label] == pytest.approx([2 / 3, 1.0, 0.0])
    assert (over.pair_a.tolist(), over.pair_b.tolist(), over.pair_tp.tolist(), over.pair_spans.tolist()) == (
        [0], [1], [2], [6])


def test_greedy_rule_largest_overlap_then_earliest_start() -> None:
    tie = make([(0, 0, 0, 10, PER), (0, 1, 6, 10, PER), (0, 1, 0, 4, PER)], [10])
    # both candidates overlap by 4: the earlier start [0,4) wins; one match of 1 + 2 spans → 2/3
    assert span_f1(tie).mean.value == pytest.approx(2 / 3)
    found = span_findings(tie)
    assert (found.boundary_count, found.boundary_units.tolist()) == (1, [0])
    chain = make([(0, 0, 0, 6, PER), (0, 0, 6, 12, PER), (0, 1, 4, 8, PER)], [12])
    # [4,8) overlaps both by 2: matched once only (one-to-one) → TP 1 of 2 + 1 spans
    assert span_f1(chain).mean.value == pytest.approx(2 / 3)
    dup = make([(0, 0, 0, 3, PER), (0, 1, 0, 3, PER), (0, 1, 0, 3, PER)], [5])
    assert span_f1(dup, mode="exact").pair_tp.tolist() == [1]


def test_char_alpha_by_hand() -> None:
    # chars 0–3; a: [0,2) PER, b: [0,3) PER → a: P P o o, b: P P P o. o_PP = 4, o_Po = o_oP = 1, o_oo = 2;
    # n_P = 5, n_o = 3, n = 8: α = 1 − 7 · 2 / (2 · 5 · 3) = 16/30
    got = char_alpha(make([(0, 0, 0, 2, PER), (0, 1, 0, 3, PER)], [4], k=1))
    assert got.nominal.value == pytest.approx(16 / 30) and got.n_positions == 4
    assert got.per_label[0].value == pytest.approx(16 / 30)
    # nesting: a has PER [0,4) with ORG [1,2) inside, b PER [0,4). Innermost: a P O P P, b P P P P.
    # o_PO = o_OP = 1, o_PP = 6; n_P = 7, n_O = 1: α = 1 − 7 · 2 / (2 · 7) = 0
    nested = char_alpha(make([(0, 0, 0, 4, PER), (0, 0, 1, 2, ORG), (0, 1, 0, 4, PER)], [4], k=2))
    assert nested.nominal.value == pytest.approx(0.0)
    assert nested.per_label[0].value is None  # PER covers every character for both: one category
    assert nested.per_label[1].value == pytest.approx(0.0)


def test_nested_spans_of_one_label_stay_two_mentions_in_the_consensus() -> None:
    """With nesting, a span inside another of the same label, marked by everyone, is kept (overlap clusters held
    the two together and only the outer one was released; found by an audit). A boundary disagreement, where
    nobody marked both extents, stays one span."""
    nested = [(0, a, 0, 10, PER) for a in (0, 1)] + [(0, a, 2, 5, PER) for a in (0, 1)]
    got = span_consensus(make(nested, [30]), min_support=0.5, allow_nesting=True)
    assert list(zip(got.start.tolist(), got.end.tolist(), got.exact.tolist(), got.conflict.tolist(),
                    strict=True)) == [(0, 10, True, False), (2, 5, True, False)]
    assert got.support.tolist() == [1.0, 1.0]
    boundary = [(0, 0, 0, 10, PER), (0, 1, 0, 9, PER)]
    one = span_consensus(make(boundary, [30]), min_support=0.5, allow_nesting=True)
    assert (one.start.tolist(), one.end.tolist(), one.support.tolist()) == ([0], [9], [1.0])
    # one annotator splits a mention in two side by side ([0,1) + [1,2)), the other marks [0,2): one span, not two
    split = [(0, 0, 0, 1, PER), (0, 0, 1, 2, PER), (0, 1, 0, 2, PER)]
    assert span_consensus(make(split, [30]), min_support=0.0, allow_nesting=True).start.size == 1
    # one of three nests: the inner span has 1/3 exact support, below 1/2
    partly = [*nested[:3], (0, 2, 0, 10, PER)]
    assert span_consensus(make(partly, [30]), min_support=0.5, allow_nesting=True).start.tolist() == [0]


def test_characters_of_a_unit_judged_once_are_counted_as_excluded() -> None:
    """As units with one judgment are for choice tasks (docs/statistics.md, Edge cases): unit 1 (30 characters)
    judged by annotator 0 alone adds 30 to ``n_excluded`` and nothing to the value or ``n_units``."""
    pair = [(0, 0, 0, 2, PER), (0, 1, 0, 3, PER)]
    alone = char_alpha(make([*pair, (1, 0, 5, 9, PER)], [4, 30], k=1))
    assert alone.nominal.value == pytest.approx(16 / 30) and alone.nominal.n_excluded == 30
    assert alone.nominal.n_units == char_alpha(make(pair, [4], k=1)).nominal.n_units
    assert alone.per_label[0].n_excluded == 30
    assert char_alpha(make(pair, [4], k=1)).nominal.n_excluded == 0


def _reference_char_data(spans: list[Span], text_len: list[int], judged: set[tuple[int, int]], k: int,
                         label: int | None) -> np.ndarray:
    anns = sorted({a for _, a in judged})
    cols = [(u, c) for u in range(len(text_len)) for c in range(text_len[u])]
    data = np.full((len(anns), len(cols)), np.nan)
    for row, a in enumerate(anns):
        for col, (u, c) in enumerate(cols):
            if (u, a) not in judged or sum((uu, aa) in judged for uu, aa in judged if uu == u) < 2:
                continue
            cover = [(e - s, lab) for uu, aa, s, e, lab in spans if (uu, aa) == (u, a) and s <= c < e]
            if label is None:
                data[row, col] = min(cover)[1] if cover else k
            else:
                data[row, col] = float(any(lab == label for _, lab in cover))
    return data


span_lists = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 11), st.integers(1, 6), st.integers(0, 1)),
    min_size=1, max_size=16,
).map(lambda rows: [(u, a, s, min(s + n, 12), lab) for u, a, s, n, lab in rows])


@settings(max_examples=60, deadline=None)
@given(span_lists, st.sampled_from([1, 3, 1 << 18]))
def test_char_alpha_matches_krippendorff_package(spans: list[Span], piece_spans: int) -> None:
    """Also when the units are unitised a few spans at a time (one or three: several pieces, a unit's spans kept
    together), with the item-block coincidences equal to those of one piece."""
    judged = {(u, a) for u in range(3) for a in range(3)}
    sset = make(spans, [12, 12, 12], sorted(judged), k=2)
    blocks = np.array([0, 1, 0])
    with mock.patch.object(char_alpha_mod, "PIECE_SPANS", piece_spans):
        got = char_alpha(sset, blocks, 2)
        per_block = char_alpha_mod.block_coincidences(sset, blocks, 2)
    whole = char_alpha(sset, blocks, 2)
    assert (got.nominal, got.per_label, got.n_positions) == (whole.nominal, whole.per_label, whole.n_positions)
    assert got.blocks is not None and whole.blocks is not None
    np.testing.assert_array_equal(got.blocks, whole.blocks)
    np.testing.assert_array_equal(per_block, whole.blocks)
    for label, est in [(None, got.nominal), (0, got.per_label[0]), (1, got.per_label[1])]:
        data = _reference_char_data(spans, [12, 12, 12], judged, 2, label)
        if len(np.unique(data[~np.isnan(data)])) < 2:
            assert est.value is None
        else:
            expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
            assert est.value == pytest.approx(expected, abs=1e-9)


def _reference_f1(
    spans: list[Span], judged: set[tuple[int, int]], exact: bool
) -> dict[tuple[int, int], float]:
    """Loop-based greedy matching exactly as documented, for comparison."""
    tp: dict[tuple[int, int], int] = {}
    den: dict[tuple[int, int], int] = {}
    for u in sorted({uu for uu, _ in judged}):
        anns = sorted(a for uu, a in judged if uu == u)
        for a, b in itertools.combinations(anns, 2):
            mine = [(i, s) for i, s in enumerate(spans) if s[0] == u and s[1] == a]
            theirs = [(j, s) for j, s in enumerate(spans) if s[0] == u and s[1] == b]
            den[a, b] = den.get((a, b), 0) + len(mine) + len(theirs)
            cands = []
            for (i, x), (j, y) in itertools.product(mine, theirs):
                ov = min(x[3], y[3]) - max(x[2], y[2])
                if x[4] == y[4] and ov > 0 and (not exact or (x[2], x[3]) == (y[2], y[3])):
                    cands.append((-ov, min(x[2], y[2]), max(x[2], y[2]), min(x[3], y[3]), -max(x[3], y[3]),
                                  min(i, j), max(i, j), i, j))
            used: set[int] = set()
            for *_, i, j in sorted(cands):
                if i not in used and j not in used:
                    used |= {i, j}
                    tp[a, b] = tp.get((a, b), 0) + 1
    return {pair: 2 * tp.get(pair, 0) / d for pair, d in den.items() if d > 0}


@settings(max_examples=80, deadline=None)
@given(span_lists, st.booleans())
def test_span_f1_matches_loop_reference(spans: list[Span], exact: bool) -> None:
    judged = {(u, a) for u in range(3) for a in range(3) if (u + a) % 4 != 3} | {(s[0], s[1]) for s in spans}
    got = span_f1(make(spans, [12, 12, 12], sorted(judged), k=2), mode="exact" if exact else "overlap")
    expected = _reference_f1(spans, judged, exact)
    assert dict(zip(zip(got.pair_a.tolist(), got.pair_b.tolist(), strict=True), got.pair_f1.tolist(),
                    strict=True)) == pytest.approx(expected)


@settings(max_examples=80, deadline=None)
@given(span_lists, st.permutations(range(3)), st.permutations(range(3)))
def test_span_f1_symmetric_and_relabelling_invariant(spans: list[Span], ann_perm: list[int],
                                                     unit_perm: list[int]) -> None:
    base = span_f1(make(spans, [12] * 3))
    moved = [(unit_perm[u], ann_perm[a], s, e, lab) for u, a, s, e, lab in spans]
    other = span_f1(make(moved, [12] * 3))
    table = {(a, b): f for a, b, f in zip(base.pair_a, base.pair_b, base.pair_f1, strict=True)}
    for a, b, f in zip(other.pair_a, other.pair_b, other.pair_f1, strict=True):
        x, y = ann_perm.index(int(a)), ann_perm.index(int(b))
        assert table[min(x, y), max(x, y)] == pytest.approx(f)  # F1(a, b) = F1(b, a)
    assert all(0.0 <= f <= 1.0 for f in base.pair_f1)
    if base.mean.value is not None:
        assert other.mean.value == pytest.approx(base.mean.value)


@settings(max_examples=40, deadline=None)
@given(span_lists)
def test_identical_annotators_agree_fully(spans: list[Span]) -> None:
    one = sorted({(u, 0, s, e, lab) for u, _, s, e, lab in spans})
    copies = [(u, a, s, e, lab) for a in range(3) for u, _, s, e, lab in one]
    sp = make(copies, [12] * 3)
    assert span_f1(sp, mode="exact").mean.value == 1.0
    assert span_f1(sp).mean.value == 1.0
    got = char_alpha(sp).nominal
    assert got.value is None or got.value == pytest.approx(1.0)


def test_type_disagreement_findings() -> None:
    sp = make([(0, 0, 0, 5, PER), (0, 1, 0, 5, ORG), (1, 0, 0, 3, LOC), (1, 1, 0, 3, PER)], [10, 10])
    found = span_findings(sp)
    assert (found.type_count, found.type_units.tolist()) == (2, [0, 1])
    assert found.type_pairs.tolist() == [[PER, ORG], [PER, LOC]]
    assert found.type_pair_counts.tolist() == [1, 1]
    assert found.boundary_count == 0


def test_consensus_by_hand() -> None:
    spans: list[Span] = [
        (0, 0, 0, 5, PER), (0, 1, 0, 5, PER), (0, 2, 0, 4, PER),  # one PER cluster, [0,5) has 2 of 3 exactly
        (0, 0, 10, 20, ORG), (0, 1, 12, 20, ORG), (0, 2, 12, 20, ORG),  # ORG cluster, [12,20) 2 of 3
        (0, 1, 22, 25, LOC), (0, 2, 3, 8, LOC),  # two separate LOC singletons: no consensus
        (1, 0, 0, 5, PER), (1, 1, 0, 5, PER), (1, 0, 3, 8, ORG), (1, 1, 3, 8, ORG),  # overlapping labels
    ]
    got = span_consensus(make(spans, [30, 30]), min_support=2 / 3)
    rows = list(zip(got.unit.tolist(), got.start.tolist(), got.end.tolist(), got.label.tolist(),
                    got.exact.tolist(), got.conflict.tolist(), strict=True))
    assert rows == [(0, 0, 5, PER, True, False), (0, 12, 20, ORG, True, False),
                    (1, 0, 5, PER, True, True), (1, 3, 8, ORG, True, True)]
    assert got.support.tolist() == pytest.approx([1.0, 1.0, 1.0, 1.0])
    assert got.exact_support.tolist() == pytest.approx([2 / 3, 2 / 3, 1.0, 1.0])
    # 2 of 3 is below 0.67 (same rule as majority_vote): the clusters still qualify, their extents not exactly
    strict = span_consensus(make(spans, [30, 30]), min_support=0.67)
    assert strict.exact.tolist() == [False, False, True, True]
    assert span_consensus(make(spans, [30, 30]), min_support=0.6666666667).exact.tolist() == [False, False, True,
                                                                                                True]
    # overlap-only consensus: three different extents of one PER mention
    three = [(0, 0, 0, 5, PER), (0, 1, 1, 5, PER), (0, 2, 0, 6, PER)]
    fuzzy = span_consensus(make(three, [10]), min_support=1)
    assert (fuzzy.start.tolist(), fuzzy.end.tolist(), fuzzy.exact.tolist()) == ([0], [5], [False])


def test_consensus_nesting() -> None:
    spans: list[Span] = [(0, a, 0, 10, ORG) for a in range(2)] + [(0, a, 2, 5, PER) for a in range(2)]
    assert span_consensus(make(spans, [10]), min_support=1.0).conflict.tolist() == [True, True]
    assert span_consensus(make(spans, [10]), min_support=1.0, allow_nesting=True).conflict.tolist() == [
        False, False]


def test_scale_one_million_spans_runs() -> None:
    """Not timed: checks that 1M spans go through with memory linear in the spans (no pair tables)."""
    rng = np.random.default_rng(0)
    units, per_unit = 110_000, 3
    start = np.sort(rng.integers(0, 480, (units, per_unit)), axis=1).ravel() + np.tile([0, 5, 10], units)
    end = start + rng.integers(1, 8, start.size)
    unit = np.repeat(np.arange(units), per_unit)
    label = rng.integers(0, 6, start.size)
    reps = 3  # three annotators, each with jittered copies
    u, a = np.tile(unit, reps), np.repeat(np.arange(reps), start.size)
    s = np.clip(np.tile(start, reps) + rng.integers(-1, 2, u.size), 0, None)
    e = np.clip(np.maximum(np.tile(end, reps) + rng.integers(-1, 2, u.size), s + 1), None, 500)
    lab = np.tile(label, reps)
    assert u.size >= 990_000
    sp = span_set(u, a, s, e, lab, text_len=np.full(units, 500), n_labels=6)
    assert 0.0 < span_f1(sp).mean.value <= 1.0  # type: ignore[operator]
    alpha = char_alpha(sp)
    assert alpha.nominal.value is not None and alpha.n_positions == units * 500
    assert span_consensus(sp, min_support=0.67).unit.size > units
    assert span_findings(sp).boundary_count > 0


intervals = st.lists(st.tuples(st.integers(0, 15), st.integers(1, 8)), min_size=1, max_size=9).map(
    lambda rows: sorted({(s, s + n) for s, n in rows}))


@settings(max_examples=150, deadline=None)
@given(intervals)
def test_crossing_flags_against_brute_force(spans: list[tuple[int, int]]) -> None:
    def crosses(x: tuple[int, int], y: tuple[int, int]) -> bool:
        return x[0] < y[0] < x[1] < y[1] or y[0] < x[0] < y[1] < x[1]

    s, e = (np.array(c) for c in zip(*spans, strict=True))
    n = len(spans)
    flags = validate_spans(np.zeros(n, int), np.zeros(n, int), s, e, np.zeros(n, int), text_len=[30],
                           n_labels=1, allow_nesting=True)
    involved = [any(crosses(x, y) for y in spans) for x in spans]
    assert bool(flags.any()) == any(involved)  # a family with a crossing is always reported
    assert all(inv for f, inv in zip(flags, involved, strict=True) if f)  # and only crossing spans are
    plain = validate_spans(np.zeros(n, int), np.zeros(n, int), s, e, np.zeros(n, int), text_len=[30],
                           n_labels=1)
    overlapping = [any(min(x[1], y[1]) > max(x[0], y[0]) for y in spans if y != x) for x in spans]
    assert [bool(f) for f in plain] == overlapping  # without nesting, overlap flags are exact per span


def test_empty_inputs_fail_closed() -> None:
    nothing = make([], [10, 10], [(0, 0), (0, 1)], k=2)
    f1 = span_f1(nothing)
    assert f1.mean.value is None and f1.mean.reason and f1.mean.n_excluded == 1  # a pair that marked nothing
    assert char_alpha(nothing).nominal.reason == "only one category observed"  # all "outside"
    assert span_findings(nothing).boundary_count == 0
    assert span_consensus(nothing, min_support=0.5).unit.size == 0
