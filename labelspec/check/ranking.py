"""Agreement on rankings: Kendall's W per unit, mean pairwise Kendall's τ-b, and α over implied preferences.

One job: measure how far annotators who ranked the same unit's options agree, from integer-coded arrays, and
check ranking rows before that. It never reads files, never sees option names or DataFrames, and picks no
consensus order (Borda / Bradley–Terry live in :mod:`labelspec.check.preference`).

Definitions
-----------
Input. A ranking is one row of ``order`` (R, m): unit-local option indices 0..m−1, best first. Units with
different numbers of options go in different :class:`RankBlock` s (one block per m). ``-1`` pads the row after
the last ranked option: a *top-k* ranking (k listed options, k ≥ ``min_ranked``) leaves the other options tied
at the bottom. ``tier`` (optional, same shape, non-decreasing along the row) ties listed options with equal
tiers.

Ranks. Every option gets a rank 1..m; tied options share the mean of the positions they occupy (mid-ranks),
e.g. a top-1 ranking of 4 options gives ranks (1, 3, 3, 3). Blocks hold these float ranks.

Kendall's W (per unit, n ≥ 2 rankings of m ≥ 2 options), with Kendall's tie correction:
W = 12 S / (n² (m³ − m) − n Σ_i T_i), S = Σ_j (R_j − n (m + 1) / 2)², R_j the rank sum of option j and
T_i = Σ_g (t_g³ − t_g) over the tie groups g of ranking i (Siegel & Castellan 1988, §9.4). Undefined when the
denominator is 0 (every ranking ties everything). Reported as the mean over units with a defined W and as the
pooled ratio Σ_u 12 S_u / Σ_u denominator_u. Units judged once are excluded (``n_excluded``).

Kendall's τ-b for rankings a, b of one unit: Σ_{k<l} s_a s_b / √(n_a n_b), s = sign(r_k − r_l) and n the
number of untied option pairs of a ranking (scipy's default variant). A ranking that ties every option has no
τ-b with anyone; its pairs are left out. The mean is pooled over all pairs of all units, computed without
enumerating pairs: with t_i = s_i / √n_i, Σ_{i<j} τ_ij = (|Σ_i t_i|² − Σ_i |t_i|²) / 2.

α over implied preferences. Each unordered option pair {k, l} of a unit is a sub-unit; a ranking contributes
the value "k before l", "l before k" or "tied"; nominal Krippendorff α over all sub-units (via ``stats``).
Which option of a pair is "first" is arbitrary, so every sub-unit is counted in both orientations with weight
½: the observed disagreement is unchanged, the chance term assumes no preference for lower option numbers, and
α does not depend on how options are numbered.

Missing judgments are absent rows; one ranking per (unit, annotator) is required.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from labelspec.check import stats
from labelspec.check.estimate import FEWER_THAN_TWO_UNITS, FloatArray, IntArray, make_estimate
from labelspec.check.ordering import stable_order
from labelspec.check.replicates import coincidences_by_block
from labelspec.check.taxonomy import CHUNK_CELLS, distinct_rows


class RankProblem(enum.IntFlag):
    """Why a ranking row is invalid (a row may have several)."""

    OUT_OF_RANGE = 1
    DUPLICATE = 2
    GAP = 4
    TOO_FEW = 8
    BAD_TIER = 16


RANK_PROBLEM_TEXT: dict[RankProblem, str] = {
    RankProblem.OUT_OF_RANGE: "option index outside the unit's options",
    RankProblem.DUPLICATE: "an option is ranked twice",
    RankProblem.GAP: "a ranked option follows an unranked (-1) position",
    RankProblem.TOO_FEW: "fewer options ranked than the spec requires",
    RankProblem.BAD_TIER: "tie tiers decrease along the ranking",
}


def _duplicates(o: IntArray, valid: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Rows listing an option twice: with one bit per option, a row's bit sum exceeds its bit union exactly then
    (m ≤ 62); otherwise by sorting (row, option) keys."""
    m = o.shape[1]
    if m <= 62:
        bits = np.where(valid, np.left_shift(1, np.where(valid, o, 0)), 0)
        return np.asarray(bits.sum(axis=1) != np.bitwise_or.reduce(bits, axis=1), dtype=bool)
    rows, cols = np.nonzero(valid)
    keys = np.sort(rows * m + o[rows, cols])
    dup = np.zeros(o.shape[0], dtype=bool)
    dup[keys[1:][np.diff(keys) == 0] // m] = True
    return dup


def validate_orders(
    order: npt.ArrayLike, *, min_ranked: int | None = None, tier: npt.ArrayLike | None = None
) -> IntArray:
    """Per-row :class:`RankProblem` flags (0 = valid); ``min_ranked`` defaults to m (a full permutation)."""
    o = np.asarray(order, dtype=np.int64)
    if o.ndim != 2:
        raise ValueError("order must be a (rankings, options) array")
    m = o.shape[1]
    listed = o >= 0
    flags = np.where(((o < -1) | (o >= m)).any(axis=1), RankProblem.OUT_OF_RANGE, 0)
    flags[_duplicates(o, listed & (o < m))] |= RankProblem.DUPLICATE
    flags |= np.where((listed[:, 1:] & ~listed[:, :-1]).any(axis=1), RankProblem.GAP, 0)
    flags |= np.where(listed.sum(axis=1) < (m if min_ranked is None else min_ranked), RankProblem.TOO_FEW, 0)
    if tier is not None:
        t = np.asarray(tier, dtype=np.int64)
        if t.shape != o.shape:
            raise ValueError("tier must have the shape of order")
        both = listed[:, 1:] & listed[:, :-1]
        flags |= np.where((both & (np.diff(t, axis=1) < 0)).any(axis=1), RankProblem.BAD_TIER, 0)
    return flags.astype(np.int64)


def ranks_from_order(order: npt.ArrayLike, *, tier: npt.ArrayLike | None = None) -> FloatArray:
    """(R, m) mid-ranks per option from best-first rows (top-k and tiers as in Definitions)."""
    o = np.asarray(order, dtype=np.int64)
    if np.any(validate_orders(o, min_ranked=0, tier=tier)):
        raise ValueError("invalid ranking rows; run validate_orders first")
    n, m = o.shape
    listed = o >= 0
    t = np.broadcast_to(np.arange(m), o.shape) if tier is None else np.asarray(tier, dtype=np.int64)
    filled = o.copy()
    present = np.zeros((n, m), dtype=bool)
    present[np.nonzero(listed)[0], o[listed]] = True
    filled[~listed] = np.nonzero(~present)[1]  # both row-major: the missing options fill the -1 slots
    # tie groups: runs of equal tier along a row (all unlisted options form the last run);
    # a group over positions [a, b) gets the mid-rank (a + 1 + b) / 2
    new = np.ones((n, m), dtype=bool)
    new[:, 1:] = (t[:, 1:] != t[:, :-1]) & listed[:, 1:] | (listed[:, :-1] != listed[:, 1:])
    group = np.cumsum(new.ravel()) - 1
    pos = np.tile(np.arange(m), n)
    start = pos[np.flatnonzero(new.ravel())][group]
    size = np.bincount(group)[group]
    ranks = np.empty((n, m))
    ranks[np.repeat(np.arange(n), m), filled.ravel()] = (2 * start + 1 + size) / 2.0
    return ranks


@dataclass(frozen=True, slots=True)
class RankBlock:
    """Rankings of units that all have ``m`` options: (R,) unit and annotator ids, and each row's mid-ranks as
    a row of a (D, m) table of rankings (``code``: (R,) rows of ``table``; rows may repeat). The agreement
    computes each table row's values once."""

    unit: IntArray
    annotator: IntArray
    table: FloatArray
    code: IntArray

    @property
    def ranks(self) -> FloatArray:
        """(R, m) mid-ranks, one row per ranking."""
        return self.table[self.code]


def _are_midranks(r: FloatArray) -> bool:
    """``rankdata(r, axis=1) == r`` without ranking every row: each sorted row must equal its own mid-ranks."""
    n, m = r.shape
    xs = np.sort(r, axis=1)
    new = np.ones((n, m), dtype=bool)
    new[:, 1:] = xs[:, 1:] != xs[:, :-1]  # NaN never equals: it fails the comparison below
    group = np.cumsum(new.ravel()) - 1
    start = np.tile(np.arange(m), n)[np.flatnonzero(new.ravel())][group]
    size = np.bincount(group)[group]
    return bool(np.array_equal((2 * start + 1 + size).reshape(n, m) / 2.0, xs))


def rank_block(unit: npt.ArrayLike, annotator: npt.ArrayLike, ranks: npt.ArrayLike) -> RankBlock:
    """A checked block: one ranking per (unit, annotator), rows are mid-ranks of m options."""
    u = np.asarray(unit, dtype=np.int64)
    a = np.asarray(annotator, dtype=np.int64)
    r = np.asarray(ranks, dtype=np.float64)
    if r.ndim != 2 or u.shape != (r.shape[0],) or a.shape != u.shape:
        raise ValueError("ranks must be (R, m) with one unit and annotator per row")
    if r.size and not _are_midranks(r):
        raise ValueError("each row must hold mid-ranks 1..m (use ranks_from_order)")
    o = np.lexsort((a, u))
    if np.any((u[o][1:] == u[o][:-1]) & (a[o][1:] == a[o][:-1])):
        raise ValueError("one ranking per (unit, annotator) expected")
    first, code = distinct_rows(r)
    return RankBlock(u, a, r[first], code)


def rank_block_of_codes(unit: npt.ArrayLike, annotator: npt.ArrayLike, category: npt.ArrayLike,
                        table: npt.ArrayLike) -> RankBlock:
    """:func:`rank_block` of ``table[category]`` for rows coded by distinct ranking: ``table`` (D, m) holds the
    mid-ranks of each distinct ranking, checked once per distinct ranking instead of once per row."""
    u, a, c = (np.asarray(x, dtype=np.int64) for x in (unit, annotator, category))
    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2 or u.shape != c.shape or a.shape != u.shape or u.ndim != 1:
        raise ValueError("table must be (D, m) with one unit, annotator and category per row")
    if np.any((c < 0) | (c >= t.shape[0])) or np.any((u < 0) | (a < 0)):
        raise ValueError("codes must be non-negative and categories index the table")
    if t.size and not _are_midranks(t):
        raise ValueError("each row must hold mid-ranks 1..m (use ranks_from_order)")
    width = int(a.max(initial=0)) + 1
    if (int(u.max(initial=0)) + 1) * width < 1 << 62:
        key = np.sort(u * width + a)
        twice = bool(np.any(key[1:] == key[:-1]))
    else:
        o = np.lexsort((a, u))
        twice = bool(np.any((u[o][1:] == u[o][:-1]) & (a[o][1:] == a[o][:-1])))
    if twice:
        raise ValueError("one ranking per (unit, annotator) expected")
    return RankBlock(u, a, t, c)


@dataclass(frozen=True, slots=True)
class RankingAgreement:
    """Pooled estimates and per-unit values (``unit`` sorted; NaN where undefined)."""

    w_mean: stats.Estimate
    w_pooled: stats.Estimate
    tau_b_mean: stats.Estimate
    pair_alpha: stats.Estimate
    unit: IntArray
    w: FloatArray
    tau_b: FloatArray
    #: per unit: Σ of τ-b over its pairs of rankings, and the number of those pairs (τ-b's mean is their ratio
    #: of sums, so sums over item blocks re-evaluate it exactly)
    tau_sum: FloatArray | None = None
    tau_pairs: FloatArray | None = None
    #: (n_blocks, 3, 3) coincidences of the preference α per item block, when ``unit_block`` was given
    pair_blocks: FloatArray | None = None


@dataclass(frozen=True, slots=True)
class _Parts:
    """Per-unit sufficient statistics of one chunk of whole units."""

    unit: IntArray
    w_num: FloatArray
    w_den: FloatArray
    n: IntArray
    tau_sum: FloatArray
    tau_pairs: FloatArray
    patterns: stats.Patterns
    block_patterns: stats.Patterns | None = None  # the same rows with their unit's block as a last column


def _tie_sums(x: FloatArray) -> FloatArray:
    """Σ_g (t_g³ − t_g) over the tie groups of every row."""
    n, m = x.shape
    xs = np.sort(x, axis=1)
    new = np.ones((n, m), dtype=bool)
    new[:, 1:] = xs[:, 1:] != xs[:, :-1]
    run = np.cumsum(new.ravel()) - 1
    length = np.bincount(run).astype(np.float64)
    row_of_run = np.flatnonzero(new.ravel()) // max(m, 1)
    return np.bincount(row_of_run, weights=length**3 - length, minlength=n).astype(np.float64)


@dataclass(frozen=True, slots=True)
class _PerRanking:
    """What each distinct ranking (a row of mid-ranks) contributes, computed once per distinct row: its ranks,
    tie sum, τ-b vector t = s / √n, whether it has an untied pair, and its preference votes per option pair
    (columns p · 3 + v for v = "k before l", "l before k", tied)."""

    ranks: FloatArray
    ties: FloatArray
    t: FloatArray
    valid: FloatArray
    votes: FloatArray  # whole numbers

    @classmethod
    def of(cls, ranks: FloatArray) -> _PerRanking:
        d, m = ranks.shape
        k, l_ = np.triu_indices(m, 1)
        sign = np.sign(ranks[:, k] - ranks[:, l_]).astype(np.int8)  # −1: k before l, +1: l before k, 0: tied
        untied = np.count_nonzero(sign, axis=1)
        votes = np.stack([sign == v for v in (-1, 1, 0)], axis=2).astype(np.float64).reshape(d, 3 * k.size)
        return cls(ranks, _tie_sums(ranks), sign / np.sqrt(np.maximum(untied, 1))[:, None],
                   (untied > 0).astype(np.float64), votes)


def _chunk_parts(unit: IntArray, code: IntArray, per: _PerRanking, starts: IntArray,
                 unit_block: IntArray | None = None) -> _Parts:
    """Per-unit sums of one chunk of whole units, each row ``code`` a distinct ranking of ``per``.

    Sums of whole numbers and halves (rank sums, tie sums, untied rankings, votes) are the product of the
    (units, distinct rankings) count matrix with the distinct rankings' values: exact in any order of
    addition. τ-b's vectors are irrational, so theirs are gathered per row and added in row order, as
    computing every row's values would."""
    n_rows, m = code.size, per.ranks.shape[1]
    n = np.diff(np.r_[starts, n_rows])
    counts = sp.csr_array((np.ones(n_rows), (np.repeat(np.arange(starts.size), n), code)),
                          shape=(starts.size, per.ranks.shape[0]))  # duplicates are added: counts
    rank_sum = counts @ per.ranks
    centre = n * ((m + 1) / 2.0)
    s = _square_sums((rank_sum[:, j] - centre for j in range(m)), starts.size)
    den = n.astype(np.float64) ** 2 * (m**3 - m) - n * (counts @ per.ties)
    valid = counts @ per.valid
    t = np.ascontiguousarray(per.t.T)  # (pairs, distinct rankings): one row per option pair
    tau_sum = (_square_sums((np.add.reduceat(t[j][code], starts) for j in range(t.shape[0])), starts.size)
               - valid) / 2.0
    votes = (counts @ per.votes).astype(np.int64).reshape(-1, 3)  # (units · pairs, 3); whole numbers
    patterns = _both_orientations(votes)  # weight ½ each
    blocks = None
    if unit_block is not None:  # rows are unit-major: each unit's option pairs in order
        block = np.repeat(np.asarray(unit_block, dtype=np.int64)[unit[starts]], m * (m - 1) // 2)
        blocks = _both_orientations(np.column_stack([votes, block]))
    return _Parts(unit[starts], 12.0 * s, den, n, tau_sum, valid * (valid - 1) / 2.0, patterns, blocks)


def _square_sums(columns: Iterable[FloatArray], rows: int) -> FloatArray:
    """Σ_j column_j² per row, added column by column (in column order): over (units, m) tables of a few columns
    numpy's ``sum(axis=1)`` reduces each short row on its own, and ``add.reduceat`` along rows of a (rows,
    pairs) gather steps through them likewise (1M rankings of 4 options: 0.09 s against 0.03). ``rows``: the
    length of the result, zeros when there is no column."""
    total = np.zeros(rows)
    for col in columns:  # a loop over columns
        total += col * col
    return total


def _both_orientations(table: IntArray) -> stats.Patterns:
    """The patterns of ``table`` stacked on itself with its first two columns swapped (every option pair counted
    as (k, l) and as (l, k)), merged from the collapsed table: no stacked copy of millions of rows."""
    half = stats.collapse_patterns(table)
    flipped = half.rows.copy()
    flipped[:, [0, 1]] = half.rows[:, [1, 0]]
    return stats.collapse_patterns(np.concatenate([half.rows, flipped]),
                                   np.concatenate([half.multiplicity, half.multiplicity]))


def _block_parts(block: RankBlock, unit_block: IntArray | None = None) -> list[_Parts]:
    order = stable_order(block.unit)
    per = _PerRanking.of(block.table)  # a few dozen rankings, however many rows
    unit, code = block.unit[order], block.code[order]
    starts = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]]) if unit.size else np.zeros(0, dtype=np.int64)
    m = block.table.shape[1]
    step = max(1, CHUNK_CELLS // max(m * (m - 1) // 2, m, 1))
    chunk = starts // step  # whole units per chunk; a chunk exceeds `step` rows by at most one unit
    cuts = np.r_[np.flatnonzero(np.r_[True, chunk[1:] != chunk[:-1]]), starts.size]
    bounds = np.r_[starts, unit.size]
    out: list[_Parts] = []
    for c0, c1 in zip(cuts[:-1], cuts[1:], strict=True):  # a loop over memory-sized blocks
        r0, r1 = bounds[c0], bounds[c1]
        out.append(_chunk_parts(unit[r0:r1], code[r0:r1], per, starts[c0:c1] - r0, unit_block))
    return out


def ranking_agreement(blocks: RankBlock | Sequence[RankBlock], *, unit_block: IntArray | None = None,
                      n_blocks: int = 0) -> RankingAgreement:
    """Kendall's W (mean and pooled), mean pairwise τ-b and preference α over all blocks (see Definitions); with
    ``unit_block`` (unit → item block) also the preference α's coincidences per item block."""
    parts = [p for b in ([blocks] if isinstance(blocks, RankBlock) else blocks) for p in _block_parts(b, unit_block)]
    cat = {f: np.concatenate([getattr(p, f) for p in parts]) if parts else np.zeros(0)
           for f in ("unit", "w_num", "w_den", "n", "tau_sum", "tau_pairs")}
    order = stable_order(cat["unit"].astype(np.int64))
    unit = cat["unit"][order].astype(np.int64)
    if np.any(unit[1:] == unit[:-1]):
        raise ValueError("a unit appears in two blocks (different numbers of options)")
    num, den, n = cat["w_num"][order], cat["w_den"][order], cat["n"][order]
    tau_sum, tau_pairs = cat["tau_sum"][order], cat["tau_pairs"][order]
    ok = (n >= 2) & (den > 0)
    w = np.where(ok, num / np.where(ok, den, 1.0), np.nan)
    tau = np.where(tau_pairs > 0, tau_sum / np.where(tau_pairs > 0, tau_pairs, 1.0), np.nan)
    n_ok, n_bad = int(ok.sum()), int((~ok).sum())
    rows = [p.patterns.rows for p in parts]
    mult = [p.patterns.multiplicity for p in parts]
    pats = stats.collapse_patterns(np.concatenate(rows), np.concatenate(mult)) if parts else None
    alpha = (stats.krippendorff_alpha(pats.rows, weights=pats.multiplicity / 2.0) if pats is not None
             else make_estimate(None, 0, 0, FEWER_THAN_TWO_UNITS))
    reason = None if n_ok else "no unit with 2 rankings and untied options"
    return RankingAgreement(
        w_mean=make_estimate(float(w[ok].mean()) if n_ok else None, n_ok, n_bad, reason),
        w_pooled=make_estimate(float(num[ok].sum() / den[ok].sum()) if n_ok else None, n_ok, n_bad, reason),
        tau_b_mean=_tau_estimate(tau_sum, tau_pairs),
        pair_alpha=alpha,
        unit=unit,
        w=w,
        tau_b=tau,
        tau_sum=tau_sum,
        tau_pairs=tau_pairs,
        pair_blocks=_pair_blocks(parts, n_blocks) if unit_block is not None else None,
    )


def _pair_blocks(parts: list[_Parts], n_blocks: int) -> FloatArray:
    """The preference α's coincidences per item block (each orientation weighs ½, as in the point estimate)."""
    found = [p.block_patterns for p in parts if p.block_patterns is not None]
    if not found:
        return np.zeros((n_blocks, 3, 3))
    rows = np.concatenate([f.rows for f in found])
    mult = np.concatenate([f.multiplicity for f in found])
    return coincidences_by_block(rows[:, :-1], rows[:, -1], mult / 2.0, n_blocks)


def _tau_estimate(tau_sum: FloatArray, tau_pairs: FloatArray) -> stats.Estimate:
    has = tau_pairs > 0
    if not has.any():
        return make_estimate(None, 0, int(tau_pairs.size), "no pair of rankings with untied options")
    return make_estimate(float(tau_sum.sum() / tau_pairs.sum()), int(has.sum()), int((~has).sum()))
