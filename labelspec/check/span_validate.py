"""Validation of flat span arrays: per-span problem flags (offsets, labels, overlaps, nesting), vectorised.

One job: say what is wrong with each span of integer-coded (unit, annotator, start, end, label) arrays, and give
the interval helpers (overlap and crossing flags) that consensus reuses. It computes no statistic; the
definitions of valid spans are in :mod:`labelspec.check.spans`.
"""

from __future__ import annotations

import enum

import numpy as np
import numpy.typing as npt

from labelspec.check.estimate import IntArray

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


def overlap_flags(group: IntArray, start: IntArray, end: IntArray) -> BoolArray:
    """Per interval (sorted by group, start, end): overlaps an earlier or a later one of its group."""
    width = int(end.max(initial=0)) + 1
    same_prev = np.r_[False, group[1:] == group[:-1]]
    run_max = np.maximum.accumulate(group * width + end)
    prev = same_prev & (group * width + start < np.r_[-1, run_max[:-1]])
    nxt = np.r_[same_prev[1:], False] & (end > np.r_[start[1:], 0])
    return np.asarray(prev | nxt, dtype=bool)


def crossing_flags(group: IntArray, start: IntArray, end: IntArray) -> BoolArray:
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


def basic_flags(u: IntArray, s: IntArray, e: IntArray, lab: IntArray, *, text_len: IntArray,
                n_labels: int) -> IntArray:
    """The problems a span has on its own: unit or label out of range, empty, outside its unit's text."""
    flags = np.zeros(u.size, dtype=np.int64)
    bad_unit = (u < 0) | (u >= text_len.size)
    flags[bad_unit] |= SpanProblem.BAD_UNIT
    flags[(lab < 0) | (lab >= n_labels)] |= SpanProblem.BAD_LABEL
    flags[s >= e] |= SpanProblem.EMPTY
    limit = text_len[np.where(bad_unit, 0, u)] if text_len.size else np.zeros(u.size, dtype=np.int64)
    flags[~bad_unit & ((s < 0) | (e > limit))] |= SpanProblem.OUT_OF_TEXT
    return flags


def validate_spans(
    unit: npt.ArrayLike, annotator: npt.ArrayLike, start: npt.ArrayLike, end: npt.ArrayLike,
    label: npt.ArrayLike, *, text_len: npt.ArrayLike, n_labels: int, allow_nesting: bool = False,
) -> IntArray:
    """Per-span :class:`SpanProblem` flags (0 = valid); overlaps are checked within (unit, annotator)."""
    u, a, s, e, lab = (np.asarray(x, dtype=np.int64) for x in (unit, annotator, start, end, label))
    flags = basic_flags(u, s, e, lab, text_len=np.asarray(text_len, dtype=np.int64), n_labels=n_labels)
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
        flags[order[ok][crossing_flags(grp[ok], so[ok], eo[ok])]] |= SpanProblem.CROSSING
    else:
        flags[order[ok][overlap_flags(grp[ok], so[ok], eo[ok])]] |= SpanProblem.OVERLAP
    return flags
