"""Agreement, findings and consensus for span annotation (NER-style (start, end, label) lists per unit).

One job: from integer-coded flat span arrays, compute pairwise span F1 (exact and overlap), character-level
Krippendorff α, boundary/type disagreement findings and span consensus, fully vectorised. α itself comes from
:mod:`labelspec.check.stats`. It never reads files, never sees text or label names, and decides no gate.

Definitions
-----------
Spans are half-open character intervals [start, end) with 0 ≤ start < end ≤ text length of their unit. Who
judged a unit is given separately (``judged_*``) so that an annotator who marked nothing still counts;
annotators with spans on a unit always count as having judged it. Validation (:func:`validate_spans`) reports
per-span problems; the statistics require spans with no unit/label/offset problem and tolerate overlaps.

Span F1 (per pair of annotators a, b that judged a unit). Exact: a match is the same (start, end, label).
Overlap: same label and intersecting intervals. Matching is one-to-one and greedy: candidate pairs are taken
in order of largest overlap (characters), ties by earliest start, then earliest second start, earliest end,
latest end, span index; a span is matched at most once per partner annotator. F1_ab = 2 TP / (|a| + |b|) with
TP, |a|, |b| summed over the units both judged (micro-averaged), which is symmetric in a and b by
construction. A unit where both marked nothing adds nothing; one side empty adds only misses. Pairs with no
span at all are left out (``n_excluded``). Reported: the mean over pairs, the pooled micro F1 over all pairs,
and per label the mean over pairs with a span of that label.

Character α. Each character of a unit judged by ≥ 2 annotators is a unit of analysis; each judging annotator
gives it the label of the *innermost* span covering it (shortest; ties by lower label index) or "outside".
Nominal α over these K + 1 categories. Per label, binary α on "covered by a span of this label at any nesting
depth" vs not, so nested spans of different labels each count. Characters are grouped into segments between
span boundaries and counted with the segment length as multiplicity, so memory grows with spans, not text.

Findings. Boundary disagreement: an overlap-matched pair with different extents. Type disagreement: two spans
of different annotators with the same extent and different labels (every such pair counts once).

Consensus. Extents (unit, start, end, label) supported by distinct annotators; same-label extents that overlap
(transitively) form a cluster. A cluster whose distinct annotators reach ``min_support`` × (annotators of the
unit) yields one consensus span: its extent with the most exact support (ties: earliest start, then earliest
end). ``exact`` says that extent alone reaches the threshold. Shares are compared as floats, as in
``majority_vote``: 2 of 3 annotators is below 0.67 and meets 2/3. Consensus spans of different labels that
overlap are flagged ``conflict`` (with nesting allowed: only crossing or identical extents conflict).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from labelspec.check import stats
from labelspec.check.estimate import FloatArray, IntArray, make_estimate
from labelspec.check.taxonomy import distinct, pairs_within_groups, runs, sparse_patterns

BoolArray = npt.NDArray[np.bool_]


class SpanProblem(enum.IntFlag):
    """Why a span is invalid (a span may have several)."""

    BAD_UNIT = 1
    BAD_LABEL = 2
    EMPTY = 4
    OUT_OF_TEXT = 8
    OVERLAP = 16
    CROSSING = 32
    DUPLICATE = 64


SPAN_PROBLEM_TEXT: dict[SpanProblem, str] = {
    SpanProblem.BAD_UNIT: "unit index out of range",
    SpanProblem.BAD_LABEL: "label index out of range",
    SpanProblem.EMPTY: "start is not before end",
    SpanProblem.OUT_OF_TEXT: "offsets outside the text",
    SpanProblem.OVERLAP: "overlaps another span of the same annotator",
    SpanProblem.CROSSING: "crosses another span of the same annotator (neither contains the other)",
    SpanProblem.DUPLICATE: "same span and label given twice by one annotator",
}


def _overlap_flags(group: IntArray, start: IntArray, end: IntArray) -> BoolArray:
    """Per interval (sorted by group, start, end): overlaps an earlier or a later one of its group."""
    width = int(end.max(initial=0)) + 1
    same_prev = np.r_[False, group[1:] == group[:-1]]
    run_max = np.maximum.accumulate(group * width + end)
    prev = same_prev & (group * width + start < np.r_[-1, run_max[:-1]])
    nxt = np.r_[same_prev[1:], False] & (end > np.r_[start[1:], 0])
    return np.asarray(prev | nxt, dtype=bool)


def _crossing_flags(group: IntArray, start: IntArray, end: IntArray) -> BoolArray:
    """Intervals that break proper nesting inside their group, found by matching parentheses level by level.

    Opens and closes are ordered by position (closes first; outer opens first; inner closes first); each
    open must be followed, at its own depth, by its own close. Every family with a crossing is caught (at
    least the two intervals interleaving at one depth are flagged).
    """
    n = start.size
    idx = np.arange(n)
    is_open = np.r_[np.ones(n, dtype=bool), np.zeros(n, dtype=bool)]
    both = np.r_[group, group]
    order = np.lexsort((np.r_[idx, -idx], np.r_[-end, -start], is_open, np.r_[start, end], both))
    span, opened = np.r_[idx, idx][order], is_open[order]
    depth = np.cumsum(np.where(opened, 1, -1))
    level = np.where(opened, depth, depth + 1)
    by_level = np.lexsort((np.arange(2 * n), level, both[order]))
    span, opened = span[by_level], opened[by_level]
    good_open = opened & np.r_[~opened[1:], False] & (span == np.r_[span[1:], -1])
    good_close = ~opened & np.r_[False, opened[:-1]] & (span == np.r_[-1, span[:-1]])
    bad = np.zeros(n, dtype=bool)
    bad[span[~(good_open | good_close)]] = True
    return bad


def validate_spans(
    unit: npt.ArrayLike, annotator: npt.ArrayLike, start: npt.ArrayLike, end: npt.ArrayLike,
    label: npt.ArrayLike, *, text_len: npt.ArrayLike, n_labels: int, allow_nesting: bool = False,
) -> IntArray:
    """Per-span :class:`SpanProblem` flags (0 = valid); overlaps are checked within (unit, annotator)."""
    u, a, s, e, lab = (np.asarray(x, dtype=np.int64) for x in (unit, annotator, start, end, label))
    tl = np.asarray(text_len, dtype=np.int64)
    flags = np.zeros(u.size, dtype=np.int64)
    bad_unit = (u < 0) | (u >= tl.size)
    flags[bad_unit] |= SpanProblem.BAD_UNIT
    flags[(lab < 0) | (lab >= n_labels)] |= SpanProblem.BAD_LABEL
    flags[s >= e] |= SpanProblem.EMPTY
    limit = tl[np.where(bad_unit, 0, u)] if tl.size else np.zeros(u.size, dtype=np.int64)
    flags[~bad_unit & ((s < 0) | (e > limit))] |= SpanProblem.OUT_OF_TEXT
    order = np.lexsort((lab, e, s, a, u))
    ua = (u * (int(a.max(initial=0)) + 1) + a)[order]
    grp = np.cumsum(np.r_[True, ua[1:] != ua[:-1]]) - 1 if ua.size else ua
    so, eo, lo = s[order], e[order], lab[order]
    same = (grp[1:] == grp[:-1]) & (so[1:] == so[:-1]) & (eo[1:] == eo[:-1])
    dup = np.zeros(u.size, dtype=bool)
    dup[1:] = same & (lo[1:] == lo[:-1])
    flags[order[dup]] |= SpanProblem.DUPLICATE
    ok = ~dup & (flags[order] == 0)  # a duplicate is reported once; broken spans are not compared
    if allow_nesting:
        flags[order[ok][_crossing_flags(grp[ok], so[ok], eo[ok])]] |= SpanProblem.CROSSING
    else:
        flags[order[ok][_overlap_flags(grp[ok], so[ok], eo[ok])]] |= SpanProblem.OVERLAP
    return flags


@dataclass(frozen=True, slots=True)
class SpanSet:
    """Valid spans (one row each) and the (unit, annotator) pairs that judged a unit, sorted and unique."""

    unit: IntArray
    annotator: IntArray
    start: IntArray
    end: IntArray
    label: IntArray
    text_len: IntArray
    judged_unit: IntArray
    judged_annotator: IntArray
    n_labels: int
    n_annotators: int


def span_set(
    unit: npt.ArrayLike, annotator: npt.ArrayLike, start: npt.ArrayLike, end: npt.ArrayLike,
    label: npt.ArrayLike, *, text_len: npt.ArrayLike, n_labels: int,
    judged_unit: npt.ArrayLike = (), judged_annotator: npt.ArrayLike = (),
) -> SpanSet:
    """Check the spans (overlaps allowed) and add every span's (unit, annotator) to the judged pairs."""
    u, a, s, e, lab = (np.asarray(x, dtype=np.int64).reshape(-1)
                       for x in (unit, annotator, start, end, label))
    tl = np.asarray(text_len, dtype=np.int64)
    if not (u.size == a.size == s.size == e.size == lab.size) or np.any(a < 0):
        raise ValueError("span arrays must have one length and annotators must be non-negative")
    basic = SpanProblem.BAD_UNIT | SpanProblem.BAD_LABEL | SpanProblem.EMPTY | SpanProblem.OUT_OF_TEXT
    if np.any(validate_spans(u, a, s, e, lab, text_len=tl, n_labels=n_labels, allow_nesting=True) & basic):
        raise ValueError("invalid spans (unit, label or offsets); drop what validate_spans flags first")
    ju, ja = (np.r_[np.asarray(j, dtype=np.int64), x] for j, x in ((judged_unit, u), (judged_annotator, a)))
    if ju.size != ja.size or np.any((ju < 0) | (ju >= tl.size) | (ja < 0)):
        raise ValueError("judged_unit and judged_annotator must be matching in-range arrays")
    judged = np.unique(np.stack([ju, ja], axis=1), axis=0)
    n_ann = int(judged[:, 1].max(initial=-1)) + 1
    return SpanSet(u, a, s, e, lab, tl, judged[:, 0], judged[:, 1], n_labels, n_ann)


def _overlap_edges(sp: SpanSet) -> tuple[IntArray, IntArray]:
    """Every intersecting same-unit, same-label pair of spans by different annotators (output-sensitive)."""
    n = sp.unit.size
    order = np.lexsort((np.arange(n), sp.start, sp.label, sp.unit))
    width = int(sp.end.max(initial=0)) + 1
    gkey = (sp.unit * max(sp.n_labels, 1) + sp.label)[order] * width
    hi = np.searchsorted(gkey + sp.start[order], gkey + sp.end[order], side="left")
    cnt = hi - np.arange(n) - 1  # later spans of the group that start before this one ends
    p = np.repeat(np.arange(n), cnt)
    q = p + 1 + np.arange(p.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    p, q = order[p], order[q]
    keep = sp.annotator[p] != sp.annotator[q]
    return p[keep], q[keep]


def _greedy_match(sp: SpanSet, p: IntArray, q: IntArray) -> tuple[IntArray, IntArray, BoolArray]:
    """One-to-one greedy matching per (span, partner annotator), in the priority order of the Definitions.

    Greedy matching under a strict total order equals repeatedly taking every edge that is the best remaining
    edge of both its endpoints (locally dominant), so each round is vectorised; rounds ≤ longest chain.
    """
    s0, s1, e0, e1 = sp.start[p], sp.start[q], sp.end[p], sp.end[q]
    overlap = np.minimum(e0, e1) - np.maximum(s0, s1)
    pri = np.lexsort((np.maximum(p, q), np.minimum(p, q), -np.maximum(e0, e1), np.minimum(e0, e1),
                      np.maximum(s0, s1), np.minimum(s0, s1), -overlap))
    p, q = p[pri], q[pri]
    vu, vv = p * sp.n_annotators + sp.annotator[q], q * sp.n_annotators + sp.annotator[p]
    alive, matched = np.ones(p.size, dtype=bool), np.zeros(p.size, dtype=bool)
    while alive.any():  # rounds of the matching, not items
        e = np.flatnonzero(alive)
        verts, which = np.r_[vu[e], vv[e]], np.r_[np.arange(e.size), np.arange(e.size)]
        o = np.lexsort((which, verts))
        first, _ = runs(verts[o])
        uniq, best = verts[o][first], which[o][first]
        k = np.arange(e.size)
        sel = (best[np.searchsorted(uniq, vu[e])] == k) & (best[np.searchsorted(uniq, vv[e])] == k)
        matched[e[sel]] = True
        used = np.r_[vu[e][sel], vv[e][sel]]
        alive[e] = ~(np.isin(vu[e], used) | np.isin(vv[e], used))
    return p, q, matched


@dataclass(frozen=True, slots=True)
class SpanF1:
    """Pairwise span F1: mean over annotator pairs, pooled micro F1, per label; per-pair arrays (a < b)."""

    mean: stats.Estimate
    pooled: stats.Estimate
    per_label: tuple[stats.Estimate, ...]
    pair_a: IntArray
    pair_b: IntArray
    pair_f1: FloatArray
    pair_tp: IntArray
    pair_spans: IntArray


def _denominators(sp: SpanSet) -> tuple[IntArray, IntArray, IntArray]:
    """|a| + |b| per (annotator pair, label) over co-judged units; also every co-judging pair key."""
    A, K = max(sp.n_annotators, 1), max(sp.n_labels, 1)
    keys, cnt = np.unique((sp.unit * A + sp.annotator) * K + sp.label, return_counts=True)
    j_first, j_size = runs(sp.judged_unit)
    slot = np.full(sp.text_len.size, -1, dtype=np.int64)
    slot[sp.judged_unit[j_first]] = np.arange(j_first.size)
    c_unit, c_ann, c_lab = keys // (A * K), keys // K % A, keys % K
    rep = j_size[slot[c_unit]]
    row = np.repeat(np.arange(keys.size), rep)
    other = sp.judged_annotator[np.repeat(j_first[slot[c_unit]], rep) + np.arange(row.size)
                                - np.repeat(np.cumsum(rep) - rep, rep)]
    a, keep = c_ann[row], other != c_ann[row]
    pair = np.minimum(a, other)[keep] * A + np.maximum(a, other)[keep]
    pl, inv = np.unique(pair * K + c_lab[row][keep], return_inverse=True)
    i, j = pairs_within_groups(j_size)
    co = distinct(np.minimum(sp.judged_annotator[i], sp.judged_annotator[j]) * A
                   + np.maximum(sp.judged_annotator[i], sp.judged_annotator[j]))
    return pl, np.bincount(inv, weights=cnt[row][keep]).astype(np.int64), co


def span_f1(sp: SpanSet, *, mode: Literal["exact", "overlap"] = "overlap") -> SpanF1:
    """Pairwise span F1 between annotators who judged the same units (see Definitions)."""
    A, K = max(sp.n_annotators, 1), max(sp.n_labels, 1)
    p, q = _overlap_edges(sp)
    if mode == "exact":
        same = (sp.start[p] == sp.start[q]) & (sp.end[p] == sp.end[q])
        p, q = p[same], q[same]
    p, q, matched = _greedy_match(sp, p, q)
    pl, den, co = _denominators(sp)
    a, b = sp.annotator[p[matched]], sp.annotator[q[matched]]
    tp_keys = (np.minimum(a, b) * A + np.maximum(a, b)) * K + sp.label[p[matched]]
    tp = np.bincount(np.searchsorted(pl, tp_keys), minlength=pl.size).astype(np.int64)
    pair, inv = np.unique(pl // K, return_inverse=True)
    p_tp, p_den = np.bincount(inv, weights=tp), np.bincount(inv, weights=den)
    f1 = 2.0 * p_tp / np.maximum(p_den, 1)
    n_excl = int(co.size - pair.size)
    mean = make_estimate(float(f1.mean()) if f1.size else None, int(f1.size), n_excl,
                         None if f1.size else "no span by any pair of annotators of one unit")
    pooled = make_estimate(2.0 * p_tp.sum() / p_den.sum() if f1.size else None, int(f1.size), n_excl,
                           mean.reason)
    by_label = [2.0 * tp[pl % K == k] / den[pl % K == k] for k in range(sp.n_labels)]
    per_label = tuple(make_estimate(float(f.mean()), f.size, co.size - f.size) if f.size
                      else make_estimate(None, 0, co.size, "no span of this label") for f in by_label)
    return SpanF1(mean, pooled, per_label, pair // A, pair % A, f1, p_tp.astype(int), p_den.astype(int))


@dataclass(frozen=True, slots=True)
class CharAlpha:
    """Character-level α: nominal over labels + outside (innermost span wins) and binary per label."""

    nominal: stats.Estimate
    per_label: tuple[stats.Estimate, ...]
    n_positions: int


def char_alpha(sp: SpanSet) -> CharAlpha:
    """α over the characters of units judged by ≥ 2 annotators (see Definitions), segment-weighted."""
    A, K = max(sp.n_annotators, 1), sp.n_labels
    judges = np.bincount(sp.judged_unit, minlength=sp.text_len.size)
    ok_unit = np.flatnonzero((judges >= 2) & (sp.text_len > 0))
    keep = np.isin(sp.unit, ok_unit)
    u, a, s, e, lab = sp.unit[keep], sp.annotator[keep], sp.start[keep], sp.end[keep], sp.label[keep]
    width = int(sp.text_len.max(initial=0)) + 1
    ends = ok_unit * width + sp.text_len[ok_unit]
    bounds = distinct(np.r_[ok_unit * width, ends, u * width + s, u * width + e])
    b_unit = bounds // width
    seg_ok = np.r_[b_unit[1:] == b_unit[:-1], False]  # segment i runs from boundary i to boundary i + 1
    seg_len = np.where(seg_ok, np.diff(np.r_[bounds, 0]), 0)
    segs, seg_judges = np.flatnonzero(seg_ok), judges[b_unit]
    first = np.searchsorted(bounds, u * width + s)
    cnt = np.searchsorted(bounds, u * width + e) - first
    seg = np.repeat(first, cnt) + np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    ann, lab_r, length = np.repeat(a, cnt), np.repeat(lab, cnt), np.repeat(e - s, cnt)
    o = np.lexsort((lab_r, length, seg * A + ann))  # innermost: shortest span, then lower label
    head, _ = runs((seg * A + ann)[o])
    in_seg, in_lab = seg[o][head], lab_r[o][head]
    outside = seg_judges - np.bincount(in_seg, minlength=bounds.size)
    p = sparse_patterns(np.r_[in_seg, segs], np.r_[in_lab, np.full(segs.size, K)], n_cols=K + 1,
                        count=np.r_[np.ones(in_seg.size), outside[segs]], row_weight=seg_len)
    nominal = stats.krippendorff_alpha(p.rows, weights=p.multiplicity)
    covered = distinct((seg * max(K, 1) + lab_r) * A + ann) // A  # (seg, label) once per annotator
    per_label: list[stats.Estimate] = []
    for k in range(K):  # a loop over labels
        c = np.bincount(covered[covered % K == k] // K, minlength=bounds.size)[segs]
        binary = stats.collapse_patterns(np.stack([seg_judges[segs] - c, c], axis=1), seg_len[segs])
        per_label.append(stats.krippendorff_alpha(binary.rows, weights=binary.multiplicity))
    return CharAlpha(nominal, tuple(per_label), int(seg_len.sum()))


@dataclass(frozen=True, slots=True)
class SpanFindings:
    """Boundary and type disagreements: counts, example units (smallest ids), confused label pairs."""

    boundary_count: int
    boundary_units: IntArray
    type_count: int
    type_units: IntArray
    type_pairs: IntArray
    type_pair_counts: IntArray


def span_findings(sp: SpanSet, *, max_examples: int = 5) -> SpanFindings:
    """Where annotators disagree on extent (same label) or on type (same extent), see Definitions."""
    p, q, matched = _greedy_match(sp, *_overlap_edges(sp))
    p, q = p[matched], q[matched]
    boundary = (sp.start[p] != sp.start[q]) | (sp.end[p] != sp.end[q])
    order = np.lexsort((sp.label, sp.end, sp.start, sp.unit))
    ext = np.stack([sp.unit, sp.start, sp.end], axis=1)[order]
    _, size = runs(np.unique(ext, axis=0, return_inverse=True)[1].reshape(-1))
    i, j = pairs_within_groups(size)
    i, j = order[i], order[j]
    typ = (sp.annotator[i] != sp.annotator[j]) & (sp.label[i] != sp.label[j])
    i, j = i[typ], j[typ]
    pairs, counts = np.unique(np.stack([np.minimum(sp.label[i], sp.label[j]),
                                        np.maximum(sp.label[i], sp.label[j])], axis=1), axis=0,
                              return_counts=True)
    return SpanFindings(int(boundary.sum()), distinct(sp.unit[p[boundary]])[:max_examples],
                        int(typ.sum()), distinct(sp.unit[i])[:max_examples], pairs.reshape(-1, 2),
                        counts.astype(np.int64))


@dataclass(frozen=True, slots=True)
class ConsensusSpans:
    """One consensus span per qualifying cluster, sorted by (unit, start, end, label)."""

    unit: IntArray
    start: IntArray
    end: IntArray
    label: IntArray
    support: FloatArray
    exact_support: FloatArray
    exact: BoolArray
    conflict: BoolArray


def span_consensus(sp: SpanSet, *, min_support: float, allow_nesting: bool = False) -> ConsensusSpans:
    """Spans a share ``min_support`` of the unit's annotators agree on (exactly, or by overlap cluster)."""
    judges = np.bincount(sp.judged_unit, minlength=sp.text_len.size)
    marks = np.unique(np.stack([sp.unit, sp.label, sp.start, sp.end, sp.annotator], axis=1), axis=0)
    ext, ext_of, n_ext = np.unique(marks[:, :4], axis=0, return_inverse=True, return_counts=True)
    width = int(sp.text_len.max(initial=0)) + 1
    grp = ext[:, 0] * max(sp.n_labels, 1) + ext[:, 1]  # extents are sorted by (unit, label, start, end)
    run_max = np.maximum.accumulate(grp * width + ext[:, 3])
    new = np.ones(grp.size, dtype=bool)
    new[1:] = (grp[1:] != grp[:-1]) | (grp[1:] * width + ext[1:, 2] >= run_max[:-1])
    cluster = np.cumsum(new) - 1
    voters = np.unique(np.stack([cluster[ext_of.reshape(-1)], marks[:, 4]], axis=1), axis=0)[:, 0]
    support = np.bincount(voters, minlength=int(cluster.max(initial=-1)) + 1)
    best = np.lexsort((ext[:, 3], ext[:, 2], -n_ext, cluster))
    head, _ = runs(cluster[best])
    rep = best[head]  # one extent per cluster
    need = min_support * judges[ext[rep, 0]] - 1e-9
    rep = rep[support >= need]
    rep = rep[np.lexsort((ext[rep, 1], ext[rep, 3], ext[rep, 2], ext[rep, 0]))]
    u, lab, s, e = ext[rep, 0], ext[rep, 1], ext[rep, 2], ext[rep, 3]
    if allow_nesting:
        same = np.r_[(u[1:] == u[:-1]) & (s[1:] == s[:-1]) & (e[1:] == e[:-1]), False]
        conflict = _crossing_flags(u, s, e) | same | np.r_[False, same[:-1]]
    else:
        conflict = _overlap_flags(u, s, e)
    n_u = judges[u].astype(np.float64)
    return ConsensusSpans(u, s, e, lab, support[cluster[rep]] / n_u, n_ext[rep] / n_u,
                          n_ext[rep] >= min_support * judges[u] - 1e-9, conflict)
