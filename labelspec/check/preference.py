"""Consensus for preference tasks: pairwise choice and Borda counts (Bradley–Terry is re-exported from
:mod:`labelspec.check.bradley_terry`).

One job: aggregate integer-coded pairwise and ranking judgments into per-unit or per-option consensus, solving
many small independent problems (the options of each item) at once with array operations. Ties in the data
and ties in the consensus are always explicit; nothing here breaks a tie by array order. It never reads files
or strings. Misuse by calling code raises ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from labelspec.check.bradley_terry import BradleyTerryResult, bradley_terry
from labelspec.check.consensus import BoolArray, FloatArray, IntArray, as_codes
from labelspec.check.taxonomy import distinct

__all__ = [
    "PREFER_A",
    "PREFER_B",
    "TIE",
    "BordaResult",
    "BradleyTerryResult",
    "PairwiseResult",
    "borda",
    "bradley_terry",
    "pairwise_choice",
]

#: Codes of a pairwise judgment.
PREFER_A, PREFER_B, TIE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class PairwiseResult:
    """Plurality of the three answers (A, B, tie) over the judgments of each pair (unit); arrays are (U,).

    ``tie`` is an answer like A and B: when most judgments say the responses are equally good, the consensus
    is that they are (``equal``), not the side a minority preferred. ``chosen`` is ``PREFER_A`` (0) or
    ``PREFER_B`` (1) when that side has more votes than each other answer, else ``-1``; ``rejected`` is the
    other side. ``tie`` (the flag, not the answer) marks units whose most frequent answer is shared (2 A and 2
    B; 2 A and 2 "tie"): they have no consensus. ``support`` is the plurality answer's share of *all* the unit's
    judgments (for a flagged unit, the shared top share); ``low_support`` is ``support < min_support`` or no
    judgments.
    """

    chosen: IntArray
    rejected: IntArray
    support: FloatArray
    n_a: IntArray
    n_b: IntArray
    n_tie: IntArray
    tie: BoolArray
    low_support: BoolArray
    equal: BoolArray


def pairwise_choice(
    unit_idx: npt.ArrayLike, choice: npt.ArrayLike, n_units: int, *, min_support: float = 0.0
) -> PairwiseResult:
    """Chosen and rejected side of each pair from judgments coded ``PREFER_A``/``PREFER_B``/``TIE``."""
    units = as_codes(unit_idx, n_units, "unit_idx")
    codes = as_codes(choice, 3, "choice")
    if codes.shape != units.shape:
        raise ValueError("choice must have one entry per judgment")
    counts = np.bincount(units * 3 + codes, minlength=3 * n_units).reshape(n_units, 3)
    n_a, n_b, n_tie = counts[:, PREFER_A], counts[:, PREFER_B], counts[:, TIE]
    n = counts.sum(axis=1)
    has = n > 0
    top = counts.max(axis=1)
    alone = (counts == top[:, None]).sum(axis=1) == 1  # one answer has the most votes
    tie = has & ~alone
    chosen = np.where(has & alone & (n_a == top), PREFER_A,
                      np.where(has & alone & (n_b == top), PREFER_B, -1)).astype(np.int64)
    rejected = np.where(chosen < 0, -1, 1 - chosen).astype(np.int64)
    equal = has & alone & (n_tie == top)
    with np.errstate(invalid="ignore", divide="ignore"):
        support = np.where(has, top / np.maximum(n, 1), np.nan)
    return PairwiseResult(chosen, rejected, support, n_a, n_b, n_tie, tie, ~has | (support < min_support), equal)


@dataclass(frozen=True, slots=True)
class BordaResult:
    """Borda scores and the consensus order of each group's options; arrays are (n_options,).

    ``score`` is the total of Borda points; ``n_rankings`` counts the rankings that listed the option.
    ``rank`` is the competition rank within the option's group (1 = best; equal scores share a rank and the
    next rank is skipped, "1224"), ``tied`` is ``True`` when another option of the group has the same score.
    Options that no ranking listed and that have no ``option_group`` get group ``-1`` and rank ``0``.
    """

    score: FloatArray
    n_rankings: IntArray
    group: IntArray
    rank: IntArray
    tied: BoolArray


def _option_groups(ranked: IntArray, row_group: IntArray, n_options: int) -> IntArray:
    grp = np.full(n_options, -1, dtype=np.int64)
    grp[ranked] = row_group
    if np.any(grp[ranked] != row_group):
        raise ValueError("an option appears in rankings of different groups")
    return grp


def _competition_rank(score: FloatArray, grp: IntArray) -> tuple[IntArray, BoolArray]:
    order = np.lexsort((-score, grp))
    s, g = score[order], grp[order]
    pos = np.arange(order.size)
    new_group = np.r_[True, g[1:] != g[:-1]] if order.size else np.zeros(0, dtype=bool)
    new_score = new_group | np.r_[True, s[1:] != s[:-1]] if order.size else new_group
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0)) if order.size else pos
    run_start = np.maximum.accumulate(np.where(new_score, pos, 0)) if order.size else pos
    run_id = np.cumsum(new_score) - 1
    run_len = np.bincount(run_id, minlength=int(run_id.max(initial=-1)) + 1)
    rank = np.empty(order.size, dtype=np.int64)
    tied = np.empty(order.size, dtype=bool)
    rank[order] = run_start - group_start + 1
    tied[order] = run_len[run_id] > 1
    return rank, tied


def borda(
    rankings: npt.ArrayLike,
    ranking_group: npt.ArrayLike,
    n_options: int,
    *,
    option_group: npt.ArrayLike | None = None,
) -> BordaResult:
    """Borda count per option and each group's consensus order, with equal scores reported as ties.

    ``rankings`` is (R, m): row ``r`` lists option indices best first, padded with ``-1`` when its group has
    fewer than ``m`` options; ``ranking_group[r]`` is the group (item) the ranking belongs to. A ranking of
    ``n`` listed options gives ``n - 1 - position`` points (best ``n - 1``, last 0). ``option_group`` assigns
    groups to options no ranking listed; by default groups are read from the rankings.
    """
    table = np.asarray(rankings)
    if table.ndim != 2 or (table.size and not np.issubdtype(table.dtype, np.integer)):
        raise ValueError("rankings must be a (rankings, positions) integer array")
    table = table.astype(np.int64, copy=False)
    listed = table >= 0
    if np.any(listed[:, 1:] & ~listed[:, :-1]):
        raise ValueError("padding (-1) must come after the listed options")
    row_group = as_codes(ranking_group, np.iinfo(np.int64).max, "ranking_group")
    if row_group.shape != (table.shape[0],):
        raise ValueError("ranking_group must have one entry per ranking")
    opts = as_codes(table[listed], n_options, "rankings")
    row = np.nonzero(listed)[0]
    if distinct(row * n_options + opts).size != opts.size:
        raise ValueError("an option is listed twice in one ranking")
    n_listed = listed.sum(axis=1)
    points = (n_listed[row] - 1 - np.nonzero(listed)[1]).astype(np.float64)
    score = np.bincount(opts, weights=points, minlength=n_options).astype(np.float64, copy=False)
    n_rankings = np.bincount(opts, minlength=n_options).astype(np.int64)
    grp = _option_groups(opts, row_group[row], n_options)
    if option_group is not None:
        given = as_codes(option_group, np.iinfo(np.int64).max, "option_group")
        if given.shape != (n_options,) or np.any((grp >= 0) & (grp != given)):
            raise ValueError("option_group disagrees with the groups of the rankings")
        grp = given
    rank, tied = _competition_rank(score, grp)
    rank[grp < 0] = 0
    tied[grp < 0] = False
    return BordaResult(score, n_rankings, grp, rank, tied)
