"""One-to-one greedy matching of spans between annotators, and the per-pair sums span F1 is built from.

One job: find the matched span pairs of a :class:`SpanSet` (exact or overlap mode, matching rules in
:mod:`labelspec.check.spans`) once, and add up true positives and |a| + |b| per (group of units, annotator pair,
label), so that the point F1, the findings and the item-block intervals all reuse one matching. Fully
vectorised; it decides nothing and reads no text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from labelspec.check.estimate import FloatArray, IntArray
from labelspec.check.span_sets import SpanSet
from labelspec.check.taxonomy import distinct, lex_order, pairs_within_groups, runs, unique_inverse

BoolArray = npt.NDArray[np.bool_]
Mode = Literal["exact", "overlap"]


def overlap_edges(sp: SpanSet) -> tuple[IntArray, IntArray]:
    """Every intersecting same-unit, same-label pair of spans by different annotators (output-sensitive)."""
    n = sp.unit.size
    order = lex_order(sp.unit, sp.label, sp.start)  # stable: ties keep span order
    width = int(sp.end.max(initial=0)) + 1
    gkey = (sp.unit * max(sp.n_labels, 1) + sp.label)[order] * width
    hi = np.searchsorted(gkey + sp.start[order], gkey + sp.end[order], side="left")
    cnt = hi - np.arange(n) - 1  # later spans of the group that start before this one ends
    p = np.repeat(np.arange(n), cnt)
    q = p + 1 + np.arange(p.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    p, q = order[p], order[q]
    keep = sp.annotator[p] != sp.annotator[q]
    return p[keep], q[keep]


def greedy_match(sp: SpanSet, p: IntArray, q: IntArray) -> tuple[IntArray, IntArray, BoolArray]:
    """Edges (in no particular order) and which of them the one-to-one greedy matching takes.

    A vertex is (span, partner annotator). An edge that is the only edge of both its vertices is always taken
    (found cheaply first for spans with a single edge); the rest are put in priority order, and greedy matching under a strict total order equals repeatedly
    taking every edge that is the best remaining edge of both its endpoints (locally dominant), so each round
    is a few O(edges) array passes over the live edges; rounds ≤ longest chain of competing edges.
    """
    touching = np.bincount(np.r_[p, q], minlength=sp.unit.size)  # edges per span, any partner
    matched = (touching[p] == 1) & (touching[q] == 1)
    contested = np.flatnonzero(~matched)
    cp, cq = p[contested], q[contested]
    n_edges = cp.size
    _, vert = unique_inverse(np.r_[cp * sp.n_annotators + sp.annotator[cq], cq * sp.n_annotators + sp.annotator[cp]])
    vu, vv = vert[:n_edges], vert[n_edges:]
    degree = np.bincount(vert)
    alone = (degree[vu] == 1) & (degree[vv] == 1)  # the only edge of both its vertices: always taken
    matched[contested[alone]] = True
    contested, cp, cq, vu, vv = (x[~alone] for x in (contested, cp, cq, vu, vv))
    s0, s1, e0, e1 = sp.start[cp], sp.start[cq], sp.end[cp], sp.end[cq]
    overlap = np.minimum(e0, e1) - np.maximum(s0, s1)
    pri = np.lexsort((np.maximum(cp, cq), np.minimum(cp, cq), -np.maximum(e0, e1), np.minimum(e0, e1),
                      np.maximum(s0, s1), np.minimum(s0, s1), -overlap))
    vu, vv = vu[pri], vv[pri]
    best = np.full(int(vert.max(initial=-1)) + 1, pri.size, dtype=np.int64)
    used = np.zeros(best.size, dtype=bool)
    live = np.arange(pri.size)  # positions in priority order: lower is better
    while live.size:  # rounds of the matching, not items
        lu, lv = vu[live], vv[live]
        best[lu], best[lv] = pri.size, pri.size
        np.minimum.at(best, lu, live)
        np.minimum.at(best, lv, live)
        take = (best[lu] == live) & (best[lv] == live)
        matched[contested[pri[live[take]]]] = True
        used[lu[take]], used[lv[take]] = True, True
        live = live[~(used[lu] | used[lv])]
    return p, q, matched


@dataclass(frozen=True, slots=True)
class SpanMatches:
    """The matched span pairs of one mode (indices into the span set; annotators differ)."""

    mode: Mode
    p: IntArray
    q: IntArray


def _matches(sp: SpanSet, mode: Mode, p: IntArray, q: IntArray) -> SpanMatches:
    if mode == "exact":
        same = (sp.start[p] == sp.start[q]) & (sp.end[p] == sp.end[q])
        p, q = p[same], q[same]
    p, q, matched = greedy_match(sp, p, q)
    return SpanMatches(mode, p[matched], q[matched])


def span_matches(sp: SpanSet, mode: Mode = "overlap") -> SpanMatches:
    """Exact: same (start, end, label); overlap: same label, intersecting; one-to-one greedy either way."""
    return _matches(sp, mode, *overlap_edges(sp))


def both_matches(sp: SpanSet) -> tuple[SpanMatches, SpanMatches]:
    """The exact and the overlap matching, from one search for candidate pairs."""
    p, q = overlap_edges(sp)
    return _matches(sp, "exact", p, q), _matches(sp, "overlap", p, q)


@dataclass(frozen=True, slots=True)
class PairSums:
    """TP and |a| + |b| per key ((group · A² + a · A + b) · K + label, a < b, sorted), over co-judged units.

    ``co_pairs`` holds a · A + b of every pair that judged some unit together (in any group).
    """

    key: IntArray
    tp: IntArray
    den: IntArray
    co_pairs: IntArray
    n_annotators: int
    n_labels: int


@dataclass(frozen=True, slots=True)
class Denominators:
    """The mode-independent half of :class:`PairSums`, for units grouped by ``group`` (unit → group id)."""

    key: IntArray
    den: IntArray
    co_pairs: IntArray
    group: IntArray


#: Expanded (span mark, co-judge) rows per piece of :func:`denominators`: each piece's temporaries are a few MB,
#: reused, instead of ~10 arrays of 9M rows at 1M span judgments (~350 MB of fresh memory, the spans check's
#: largest transient).
_EXPAND_ROWS = 1 << 20


def denominators(sp: SpanSet, unit_group: IntArray | None = None) -> Denominators:
    """|a| + |b| per key over co-judged units (one expansion per span count and co-judge), and co-judging pairs.

    The expansion runs over pieces of at most :data:`_EXPAND_ROWS` rows of the span marks, sorted by group
    first: each piece's keys (group first) then follow the previous piece's, and the pieces' sums, whole numbers,
    are joined by one pass (exactly the sums of one expansion)."""
    A, K = max(sp.n_annotators, 1), max(sp.n_labels, 1)
    n_units = max(sp.text_len.size, 1)
    group = np.zeros(sp.text_len.size, dtype=np.int64) if unit_group is None else np.asarray(unit_group, np.int64)
    by_group = (int(group.max(initial=0)) + 1) * n_units * A * K < 1 << 62  # else by unit: pieces overlap
    lead = group[sp.unit] * n_units if by_group else 0
    marks = np.sort(((lead + sp.unit) * A + sp.annotator) * K + sp.label)
    first, cnt = runs(marks)
    keys = marks[first]
    j_first, j_size = runs(sp.judged_unit)
    slot = np.full(sp.text_len.size, -1, dtype=np.int64)
    slot[sp.judged_unit[j_first]] = np.arange(j_first.size)
    c_unit = keys // (A * K) % n_units
    start = j_first[slot[c_unit]]  # each mark's unit's first judging annotator, and how many judged it
    rep = j_size[slot[c_unit]]
    reach = np.cumsum(rep)
    cuts = np.unique(np.r_[0, np.searchsorted(reach, np.arange(_EXPAND_ROWS, int(reach[-1]) if reach.size else 0,
                                                               _EXPAND_ROWS)), keys.size])
    del marks, first, reach
    pieces = [_expanded(sp, c_unit[a:b], keys[a:b] % (A * K), cnt[a:b], start[a:b], rep[a:b], group)
              for a, b in zip(cuts[:-1], cuts[1:], strict=True)]  # a loop over pieces of marks
    del keys, cnt, c_unit, start, rep  # ~15 MB each at 1M span judgments, gone before the pieces are joined
    pl, den = _joined(pieces)
    del pieces
    i, j = pairs_within_groups(j_size)
    co = distinct(np.minimum(sp.judged_annotator[i], sp.judged_annotator[j]) * A
                  + np.maximum(sp.judged_annotator[i], sp.judged_annotator[j]))
    return Denominators(pl, den.astype(np.int64), co, group)


def _expanded(sp: SpanSet, unit: IntArray, mark: IntArray, cnt: IntArray, start: IntArray, rep: IntArray,
              group: IntArray) -> tuple[IntArray, FloatArray]:
    """Distinct (group, pair, label) keys of some span marks (``unit``; ``mark``: annotator · K + label, with
    ``cnt`` spans each) expanded against their unit's other judging annotators, and each key's span count."""
    A, K = max(sp.n_annotators, 1), max(sp.n_labels, 1)
    c_ann, c_lab = mark // K, mark % K
    row = np.repeat(np.arange(mark.size), rep)
    other = sp.judged_annotator[np.repeat(start - (np.cumsum(rep) - rep), rep) + np.arange(row.size)]
    a, keep = c_ann[row], other != c_ann[row]
    row, a, other = row[keep], a[keep], other[keep]
    full = ((group[unit[row]] * A + np.minimum(a, other)) * A + np.maximum(a, other)) * K + c_lab[row]
    pl, inv = unique_inverse(full)
    return pl, np.bincount(inv, weights=cnt[row], minlength=pl.size).astype(np.float64, copy=False)


def _joined(pieces: list[tuple[IntArray, FloatArray]]) -> tuple[IntArray, FloatArray]:
    """The pieces' distinct keys and sums as one: by one pass when their keys ascend across pieces (marks
    sorted by group), else by sorting them together."""
    if len(pieces) <= 1:  # none: no span mark at all
        return pieces[0] if pieces else (np.zeros(0, dtype=np.int64), np.zeros(0))
    keys, sums = np.concatenate([k for k, _ in pieces]), np.concatenate([s for _, s in pieces])
    if keys.size and bool(np.all(keys[1:] >= keys[:-1])):
        first, _ = runs(keys)
        return keys[first], np.add.reduceat(sums, first)
    pl, inv = unique_inverse(keys)
    return pl, np.bincount(inv, weights=sums, minlength=pl.size).astype(np.float64, copy=False)


def ungrouped(d: Denominators, n_annotators: int, n_labels: int) -> Denominators:
    """``denominators(sp)`` (every unit in group 0) from ``denominators(sp, unit_group)``: the groups' sums of
    each (pair, label) added up (whole numbers, so exactly), without expanding the spans again."""
    A, K = max(n_annotators, 1), max(n_labels, 1)
    key, inv = unique_inverse(d.key % (A * A * K))
    den = np.bincount(inv, weights=d.den, minlength=key.size).astype(np.int64)
    return Denominators(key, den, d.co_pairs, np.zeros(d.group.size, dtype=np.int64))


def ungrouped_sums(sums: PairSums, den: Denominators) -> PairSums:
    """``pair_sums`` over ``den`` (from :func:`ungrouped`) out of the per-group sums: TP added up over groups."""
    A, K = max(sums.n_annotators, 1), max(sums.n_labels, 1)
    at = np.searchsorted(den.key, sums.key % (A * A * K))
    tp = np.bincount(at, weights=sums.tp, minlength=den.key.size).astype(np.int64)
    return PairSums(den.key, tp, den.den, den.co_pairs, sums.n_annotators, sums.n_labels)


def pair_sums(sp: SpanSet, matches: SpanMatches, den: Denominators | None = None) -> PairSums:
    """TP and denominators per (group of the unit, pair, label); ``den`` defaults to all units in group 0."""
    A, K = max(sp.n_annotators, 1), max(sp.n_labels, 1)
    d = denominators(sp) if den is None else den
    a, b = sp.annotator[matches.p], sp.annotator[matches.q]
    tp_keys = ((d.group[sp.unit[matches.p]] * A + np.minimum(a, b)) * A + np.maximum(a, b)) * K + sp.label[matches.p]
    tp_keys.sort()  # sorted queries search 5× faster (the counts do not depend on their order)
    tp = np.bincount(np.searchsorted(d.key, tp_keys), minlength=d.key.size).astype(np.int64)
    return PairSums(d.key, tp, d.den, d.co_pairs, sp.n_annotators, sp.n_labels)
