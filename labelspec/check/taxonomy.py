"""Agreement and consensus for labels that nest (a failure taxonomy): per depth, deepest consensus, hotspots.

One job: map integer-coded judgments through the label tree given by parent pointers and hand the resulting
unit × category counts to the α / percent-agreement code in :mod:`labelspec.check.stats`. It never reads
files, never sees label names or DataFrames, and computes no coefficient itself. It also hosts the small
grouping helpers the other structured-task modules (spans, ranking, trajectory) share: :func:`sparse_patterns`
(a memory-bounded builder of collapsed count tables), :func:`runs`, :func:`distinct`, :func:`distinct_rows`,
:func:`lex_order` and :func:`pairs_within_groups`.

Definitions
-----------
Tree. ``parent[k]`` is the parent label of label ``k`` or ``-1`` for a root; depth(root) = 0. A cycle or an
out-of-range parent is a programming error (``ValueError``; the spec resolver reports LS307 before this runs).

Ancestor at depth d. ``anc_d(k)`` is the ancestor of ``k`` at depth ``d`` when depth(k) ≥ d, and ``k`` itself
when depth(k) < d: a judgment that stopped at a shallow label keeps that label at every deeper level, so it
agrees with another judgment of the same shallow label and disagrees with any of its descendants.

Agreement at depth d. Every judgment's label is replaced by anc_d(label); nominal Krippendorff α and pairwise
percent agreement are computed on the resulting unit × category counts. Two sibling leaves therefore agree at
their parent's depth and disagree at their own. Units with fewer than 2 judgments are excluded (counted in
``n_excluded``); missing judgments are simply absent (no imputation).

Deepest consensus. For d from the deepest level up to 0, a unit reaches consensus at d when its most frequent
category at depth d holds at least ``min_support`` of the unit's judgments and no other category has the same
count (a tie at the top is never a consensus; 2 of 3 is below 0.67 and meets 2/3, as in ``majority_vote``).
The unit's consensus is the deepest such d; −1 when none.

Hotspots. For an internal label p at depth d − 1, the pairs of judgments of one unit that both lie in p's
subtree (anc_{d−1} = p) are "pairs under p"; those that differ at depth d (different children of p, or p
itself vs a child) are "confused". Unordered pairs of judgments within a unit are counted (not α-weighted by
1/(m_u − 1)), so a unit with many judgments weighs more. The most confused sibling pair is reported with its
pair count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from labelspec.check import stats
from labelspec.check.consensus import sparse_plurality
from labelspec.check.estimate import IntArray
from labelspec.check.ordering import sorted_and_order, stable_order

#: Dense cells per chunk when collapsing a sparse table (bounds peak memory to ~32 MiB of int64 per chunk).
CHUNK_CELLS = 1 << 22


def sparse_patterns(
    row: npt.ArrayLike,
    col: npt.ArrayLike,
    *,
    n_cols: int,
    count: npt.ArrayLike | None = None,
    row_weight: npt.ArrayLike | None = None,
    chunk_cells: int = CHUNK_CELLS,
) -> stats.Patterns:
    """Collapsed count table of the sparse entries (row, col) += count, built chunk by chunk.

    ``row`` ids may be sparse (any non-negative ints); ``row_weight`` maps a row id to its whole-number
    multiplicity (e.g. the length of a text segment). Only ``chunk_cells`` dense cells exist at a time, so a
    table of millions of units × hundreds of categories never materialises; the result is the (S, n_cols)
    table of distinct rows with multiplicities, which every statistic in ``stats`` accepts as ``weights``.
    """
    r = np.asarray(row, dtype=np.int64)
    c = np.asarray(col, dtype=np.int64)
    cnt = np.ones(r.size, dtype=np.float64) if count is None else np.asarray(count, dtype=np.float64)
    if r.shape != c.shape or r.shape != cnt.shape or r.ndim != 1:
        raise ValueError("row, col and count must be 1-D arrays of one length")
    r, order = sorted_and_order(r, int(r.max(initial=0)) + 1)  # entries grouped by row id, stably
    c, cnt = c[order], cnt[order]
    new = np.r_[True, r[1:] != r[:-1]] if r.size else np.zeros(0, dtype=bool)
    ids, inv = r[new], np.cumsum(new) - 1
    weights = np.ones(ids.size) if row_weight is None else np.asarray(row_weight, dtype=np.float64)[ids]
    if ids.size == 0:
        return stats.Patterns(np.zeros((0, n_cols), dtype=np.int64), np.zeros(0, dtype=np.int64))
    step = max(1, chunk_cells // max(n_cols, 1))
    rows: list[IntArray] = []
    mult: list[IntArray] = []
    for r0 in range(0, ids.size, step):  # a loop over memory-sized blocks, not over units
        r1 = min(ids.size, r0 + step)
        lo, hi = np.searchsorted(inv, [r0, r1])
        flat = (inv[lo:hi] - r0) * n_cols + c[lo:hi]
        dense = np.bincount(flat, weights=cnt[lo:hi], minlength=(r1 - r0) * n_cols)
        table = np.rint(dense).astype(np.int64).reshape(r1 - r0, n_cols)
        part = stats.collapse_patterns(table, weights[r0:r1])
        rows.append(part.rows)
        mult.append(part.multiplicity)
    return stats.collapse_patterns(np.concatenate(rows), np.concatenate(mult))


def distinct(values: npt.ArrayLike) -> IntArray:
    """Sorted distinct values by sorting (numpy 2.4's hash-based ``np.unique`` is far slower on millions)."""
    v = np.sort(np.asarray(values, dtype=np.int64).reshape(-1))
    return v[np.r_[True, v[1:] != v[:-1]]] if v.size else v


def unique_inverse(values: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """Sorted distinct values and each value's index among them, by one stable ordering that also yields the
    sorted values (``ordering.sorted_and_order``)."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if v.size == 0:
        return v.copy(), np.zeros(0, dtype=np.int64)
    lo, hi = int(v.min()), int(v.max())
    if hi - lo < 1 << 62:
        sv, order = sorted_and_order(v - lo if lo else v, hi - lo + 1)
        if lo:
            sv += lo
    else:
        order = np.argsort(v, kind="stable")
        sv = v[order]
    new = np.r_[True, sv[1:] != sv[:-1]]
    inverse = np.empty(v.size, dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return sv[new], inverse


def distinct_rows(rows: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """The first row of each distinct row of a 2-D array of numbers and each row's index among the distinct rows
    (``np.unique(rows, axis=0, return_index=True, return_inverse=True)`` up to the order of the distinct rows,
    which follows their codes). Values compare as numbers (``-0.0`` is ``0.0``); a NaN equals only a NaN of
    the same bits. Each column is coded (:func:`_column_codes`) and the codes are combined column by column
    into one integer per row, re-coded before they could overflow."""
    a = np.asarray(rows)
    if a.ndim != 2 or a.dtype.kind not in "biuf":
        raise ValueError("rows must be a 2-D array of numbers")
    n = a.shape[0]
    code, size = np.zeros(n, dtype=np.int64), 1
    for column in a.T:  # a loop over the columns
        col, radix = _column_codes(column)
        if size * radix >= 1 << 62:
            kept, code = unique_inverse(code)
            size = kept.size
        code = code * radix + col
        size *= radix
    kept, inverse = unique_inverse(code)
    first = np.full(kept.size, n, dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(n, dtype=np.int64))
    return first, inverse


#: Columns whose values span fewer than this many codes are coded by subtraction, without sorting.
_DIRECT_CODES = 1 << 20


def _column_codes(column: npt.NDArray[np.generic]) -> tuple[IntArray, int]:
    """Codes of a column's values (equal values, equal codes) and how many codes there can be. Whole numbers
    and halves in a narrow range (counts, wins with ties as halves) are their own codes (doubled, minus the
    least); other values are coded by sorting their bits (``+ 0.0`` first, which turns ``-0.0`` into ``0.0``)."""
    if column.size == 0:
        return np.zeros(0, dtype=np.int64), 1
    if column.dtype.kind == "f":
        exact = np.ascontiguousarray(column, dtype=np.float64)
        with np.errstate(over="ignore"):
            twice = exact * 2.0  # exact, or ±inf for the largest values (then not narrow: sorted below)
        lo, hi = float(twice.min()), float(twice.max())  # Python floats: inf − inf is NaN, no warning
        if hi - lo < _DIRECT_CODES and np.array_equal(twice, np.floor(twice)):  # NaN or ±inf: False
            return (twice - lo).astype(np.int64), int(hi - lo) + 1
        values, code = unique_inverse((exact + 0.0).view(np.int64))
        return code, values.size
    whole = column.astype(np.int64)
    lo, hi = int(whole.min()), int(whole.max())
    if hi - lo < _DIRECT_CODES:
        return whole - lo, hi - lo + 1
    values, code = unique_inverse(whole)
    return code, values.size


def lex_order(*keys: IntArray) -> IntArray:
    """``np.lexsort(keys[::-1])`` (first key primary) for non-negative integer keys: one stable ordering
    (``ordering.stable_order``) of the keys packed into one int64 when their ranges fit in 62 bits, else the
    lexsort itself."""
    if not keys or keys[0].size == 0:
        return np.zeros(0, dtype=np.int64)
    radix = [int(k.max()) + 1 for k in keys]
    if min(int(k.min()) for k in keys) < 0 or math.prod(radix) >= 1 << 62:
        return np.lexsort(keys[::-1])
    packed = np.zeros(keys[0].size, dtype=np.int64)
    for k, r in zip(keys, radix, strict=True):  # a loop over the few keys
        packed = packed * r + k
    order: IntArray = stable_order(packed, math.prod(radix))
    return order


def runs(keys: IntArray) -> tuple[IntArray, IntArray]:
    """Start index and length of each run of equal values in a sorted array."""
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if keys.size else np.zeros(0, dtype=np.int64)
    return first, np.diff(np.r_[first, keys.size])


def pairs_within_groups(sizes: IntArray) -> tuple[IntArray, IntArray]:
    """Flat indices (i < j) of every pair inside consecutive groups of the given sizes."""
    n = int(sizes.sum())
    grp = np.repeat(np.arange(sizes.size), sizes)
    offset = np.arange(n) - (np.cumsum(sizes) - sizes)[grp]
    cnt = sizes[grp] - 1 - offset
    i = np.repeat(np.arange(n), cnt)
    return i, i + 1 + np.arange(i.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)


def label_depths(parent: npt.ArrayLike) -> IntArray:
    """Depth of every label (0 for roots); ``ValueError`` for a cycle or a parent outside [−1, K)."""
    par = np.asarray(parent, dtype=np.int64)
    k = par.size
    if par.ndim != 1 or np.any((par < -1) | (par >= k)):
        raise ValueError("parent must be a 1-D array of label indices or -1")
    depth = np.zeros(k, dtype=np.int64)
    up = par.copy()
    for _ in range(k):  # one step per tree level
        live = up >= 0
        if not live.any():
            return depth
        depth[live] += 1
        up[live] = par[up[live]]
    raise ValueError("cycle in label parents")


def ancestors_at(parent: npt.ArrayLike, depth: int) -> IntArray:
    """anc_d(k) for every label k: its ancestor at ``depth``, or k itself when k is shallower."""
    par = np.asarray(parent, dtype=np.int64)
    depths = label_depths(par)
    anc = np.arange(par.size, dtype=np.int64)
    for _ in range(int(depths.max(initial=0)) - depth):
        anc = np.where(depths[anc] > depth, par[anc], anc)
    return anc


@dataclass(frozen=True, slots=True)
class DepthAgreement:
    """Agreement once labels are coarsened to their ancestors at ``depth``."""

    depth: int
    alpha: stats.Estimate
    percent: stats.Estimate
    n_categories: int


def _at_depth(label: IntArray, parent: IntArray, depth: int) -> tuple[IntArray, IntArray]:
    """Compact category of every judgment at ``depth`` and the label id of each compact category."""
    mapped = ancestors_at(parent, depth)[label]
    cats, code = np.unique(mapped, return_inverse=True)
    return code.reshape(-1), cats


def _checked(unit: npt.ArrayLike, label: npt.ArrayLike, parent: npt.ArrayLike) -> tuple[IntArray, ...]:
    u = np.asarray(unit, dtype=np.int64)
    lab = np.asarray(label, dtype=np.int64)
    par = np.asarray(parent, dtype=np.int64)
    if u.shape != lab.shape or u.ndim != 1:
        raise ValueError("unit and label must be 1-D arrays of one length")
    if lab.size and (lab.min() < 0 or lab.max() >= par.size):
        raise ValueError("label codes must lie in [0, len(parent))")
    return u, lab, par


def depth_agreement(
    unit: npt.ArrayLike, label: npt.ArrayLike, parent: npt.ArrayLike
) -> tuple[DepthAgreement, ...]:
    """Nominal α and percent agreement at every depth 0..max depth (one judgment per row)."""
    u, lab, par = _checked(unit, label, parent)
    return tuple(_nominal_at(d, u, *_at_depth(lab, par, d)) for d in range(int(label_depths(par).max(initial=0)) + 1))


def set_depth_agreement(
    unit: npt.ArrayLike, value: npt.ArrayLike, member: npt.ArrayLike, parent: npt.ArrayLike
) -> tuple[DepthAgreement, ...]:
    """:func:`depth_agreement` for judgments that choose a set of labels (multi_choice): ``value`` codes rows of
    the (V, K) 0/1 ``member`` matrix (the labels each distinct value selects). At depth d every label of a set
    becomes anc_d(label) and the set the distinct ones among them; two judgments agree when their coarsened
    sets are equal (nominal, as α over label sets is for the task itself). With one label per set this is
    :func:`depth_agreement` of those labels."""
    sel, par = np.asarray(member, dtype=bool), np.asarray(parent, dtype=np.int64)
    if sel.ndim != 2 or sel.shape[1] != par.size:
        raise ValueError("member must be a (values, labels) matrix with one column per label")
    u, val, _ = _checked(unit, value, np.full(sel.shape[0], -1))  # value codes must index member's rows
    out = []
    for d in range(int(label_depths(par).max(initial=0)) + 1):  # a loop over tree levels
        coarse = np.zeros(sel.shape, dtype=bool)
        anc = ancestors_at(par, d)
        for k in range(par.size):  # a loop over labels: OR each label's column into its ancestor's
            coarse[:, anc[k]] |= sel[:, k]
        _, of_value = np.unique(coarse, axis=0, return_inverse=True)
        used, code = np.unique(of_value.reshape(-1)[val], return_inverse=True)
        out.append(_nominal_at(d, u, code.reshape(-1), used))
    return tuple(out)


def _nominal_at(depth: int, u: IntArray, code: IntArray, cats: IntArray) -> DepthAgreement:
    p = sparse_patterns(u, code, n_cols=max(cats.size, 1))
    alpha = stats.krippendorff_alpha(p.rows, weights=p.multiplicity)
    percent = stats.percent_agreement(p.rows, weights=p.multiplicity)
    return DepthAgreement(depth, alpha, percent, cats.size)


@dataclass(frozen=True, slots=True)
class TaxonomyConsensus:
    """Per unit (index = unit id): consensus label (−1 none), depth it was reached at (−1), its support."""

    label: IntArray
    depth: IntArray
    support: npt.NDArray[np.float64]


def deepest_consensus(
    unit: npt.ArrayLike, label: npt.ArrayLike, parent: npt.ArrayLike, *, min_support: float, n_units: int
) -> TaxonomyConsensus:
    """The deepest ancestor level at which each unit's judgments reach ``min_support`` (see Definitions)."""
    u, lab, par = _checked(unit, label, parent)
    k = max(par.size, 1)
    n_u = np.bincount(u, minlength=n_units)
    out_label = np.full(n_units, -1, dtype=np.int64)
    out_depth = np.full(n_units, -1, dtype=np.int64)
    support = np.full(n_units, np.nan)
    for d in range(int(label_depths(par).max(initial=0)), -1, -1):  # deepest level first
        keys, cnt = np.unique(u * k + ancestors_at(par, d)[lab], return_counts=True)
        top, n_top, winner = sparse_plurality(keys // k, keys % k, cnt, n_units)
        # the share itself against min_support, as the majority vote compares it: 2 of 3 meets 2/3, not 0.67
        share = np.divide(top, n_u, out=np.zeros(n_units), where=n_u > 0)
        ok = (n_top == 1) & (share >= min_support) & (n_u > 0) & (out_depth < 0)
        out_label[ok], out_depth[ok] = winner[ok], d
        support[ok] = top[ok] / n_u[ok]
    return TaxonomyConsensus(out_label, out_depth, support)


@dataclass(frozen=True, slots=True)
class Hotspot:
    """Confusion among the children of ``parent`` (label id), summed over units."""

    parent: int
    depth: int
    n_pairs: int
    n_confused: int
    rate: float
    top_pair: tuple[int, int] | None
    top_pair_count: int


def subtree_hotspots(unit: npt.ArrayLike, label: npt.ArrayLike, parent: npt.ArrayLike) -> tuple[Hotspot, ...]:
    """Internal labels ranked by confused pairs of judgments below them (most confused first)."""
    u, lab, par = _checked(unit, label, parent)
    depths = label_depths(par)
    has_child = np.bincount(par[par >= 0], minlength=par.size) > 0
    out: list[Hotspot] = []
    for d in range(1, int(depths.max(initial=0)) + 1):  # a loop over tree levels
        code, cats = _at_depth(lab, par, d)
        p = sparse_patterns(u, code, n_cols=cats.size)
        rows = p.rows.astype(np.float64)
        co = rows.T @ (rows * p.multiplicity[:, None])  # Σ_u n_uc n_uk (K_d × K_d)
        n_c = p.multiplicity @ rows
        up = ancestors_at(par, d - 1)[cats]
        same = up[:, None] == up[None, :]
        off = np.where(same & ~np.eye(cats.size, dtype=bool), co, 0.0)
        confused = off.sum(axis=1) / 2.0
        within = (np.where(same, co, 0.0).sum(axis=1) - n_c) / 2.0
        for par_id in distinct(up[(depths[up] == d - 1) & has_child[up]]):  # loop over parents at this level
            members = up == par_id
            out.append(_hotspot(int(par_id), d - 1, members, off, cats, within, confused))
    return tuple(sorted((h for h in out if h.n_pairs > 0), key=lambda h: (-h.n_confused, h.parent)))


def _hotspot(
    par_id: int,
    depth: int,
    members: npt.NDArray[np.bool_],
    off: npt.NDArray[np.float64],
    cats: IntArray,
    within: npt.NDArray[np.float64],
    confused: npt.NDArray[np.float64],
) -> Hotspot:
    # within[c] / confused[c] hold half of category c's ordered pairs, so their sums are unordered pair counts
    pairs, n_conf = int(round(float(within[members].sum()))), int(round(float(confused[members].sum())))
    block = np.triu(off[np.ix_(members, members)], 1)
    top_pair: tuple[int, int] | None = None
    top_count = 0
    if block.size and block.max() > 0:
        i, j = np.unravel_index(int(np.argmax(block)), block.shape)
        idx = cats[members]
        top_pair, top_count = (int(idx[i]), int(idx[j])), int(round(float(block[i, j])))
    return Hotspot(par_id, depth, pairs, n_conf, n_conf / pairs if pairs else 0.0, top_pair, top_count)
