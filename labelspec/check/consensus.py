"""Consensus by counting: majority vote, per-label majority (multi_choice) and median consensus (rating).

One job: turn integer-coded count tables or judgment arrays into one consensus value per unit, with the evidence
behind it (support, spread) and explicit flags for what needs expert review (ties, low support). It never reads
files, never sees strings or DataFrames, and never breaks a tie silently: a tie is a flag, and a winner is only
filled in for a tie when the caller passed an explicit preference order.

Model-based consensus lives beside it: :mod:`labelspec.check.dawid_skene` (latent-class EM) and
:mod:`labelspec.check.preference` (Bradley–Terry, Borda, pairwise choice).

Units with no judgments have no consensus: winner ``-1``, support ``NaN``, ``low_support`` ``True`` (fail closed,
GUARANTEES G11). Misuse by calling code (wrong shapes, negative counts, out-of-range codes) raises ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "MajorityResult",
    "MedianResult",
    "MultiLabelResult",
    "as_codes",
    "majority_vote",
    "median_consensus",
    "per_label_majority",
]


def as_codes(values: npt.ArrayLike, upper: int, name: str, *, widen: bool = True) -> IntArray:
    """``values`` as a 1-D int64 array of codes in ``[0, upper)``; ``ValueError`` otherwise. ``widen=False``
    keeps int32 codes as they are (no 40 MB copy per 10M codes), for callers that never multiply them."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer codes, got dtype {arr.dtype}")
    out = arr if not widen and arr.dtype in (np.int32, np.int64) else arr.astype(np.int64, copy=False)
    if out.size and (out.min() < 0 or out.max() >= upper):
        raise ValueError(f"{name} holds codes outside [0, {upper})")
    return out


def _count_table(counts: npt.ArrayLike, name: str = "counts") -> IntArray:
    table = np.asarray(counts)
    if table.ndim != 2:
        raise ValueError(f"{name} must be a (units, categories) table, got shape {table.shape}")
    if table.size and not np.issubdtype(table.dtype, np.integer):
        raise ValueError(f"{name} must hold integer counts, got dtype {table.dtype}")
    out = table.astype(np.int64, copy=False)
    if out.size and out.min() < 0:
        raise ValueError(f"{name} holds negative counts")
    return out


@dataclass(frozen=True, slots=True)
class MajorityResult:
    """Plurality vote per unit.

    ``winner`` is the category with the most votes, ``-1`` when the top count is shared (``tie``) and no
    preference order was given, or when the unit has no judgments. ``support`` is the winner's votes over the
    unit's judgments (for a tie: the shared top count over judgments). ``low_support`` is ``support <
    min_support`` and is also ``True`` for units without judgments.
    """

    winner: IntArray
    support: FloatArray
    n_judgments: IntArray
    tie: BoolArray
    low_support: BoolArray


def majority_vote(
    counts: npt.ArrayLike, *, min_support: float = 0.0, prefer: npt.ArrayLike | None = None
) -> MajorityResult:
    """Plurality winner of each row of a (U, K) count table, with ties and weak majorities flagged.

    ``support < min_support`` is a strict float comparison of ``votes / judgments`` with ``min_support``:
    2 of 3 votes (0.666…) is *below* 0.67 and *meets* 2/3. ``prefer`` is an optional preference order over the
    K categories (a permutation, most preferred first) used to fill ``winner`` for tied units — for example
    the safer of two labels. The ``tie`` flag stays set either way, so tied units still go to review.
    """
    table = _count_table(counts)
    n_units, n_cat = table.shape
    n = table.sum(axis=1)
    if n_cat == 0:
        top = np.zeros(n_units, dtype=np.int64)
        at_top = np.zeros((n_units, 0), dtype=bool)
    else:
        top = table.max(axis=1)
        at_top = table == top[:, None]
    has = n > 0
    tie = has & (at_top.sum(axis=1) > 1)
    winner = np.where(has & ~tie, np.argmax(at_top, axis=1) if n_cat else 0, -1).astype(np.int64)
    if prefer is not None:
        order = as_codes(prefer, n_cat, "prefer")
        if order.size != n_cat or np.unique(order).size != n_cat:
            raise ValueError("prefer must be a permutation of the category codes")
        rank = np.empty(n_cat, dtype=np.int64)
        rank[order] = np.arange(n_cat)
        # among the tied top categories, the one with the smallest preference rank
        masked_rank = np.where(at_top, rank[None, :], n_cat)
        winner = np.where(tie, order[np.minimum(masked_rank.min(axis=1), n_cat - 1)], winner)
    with np.errstate(invalid="ignore", divide="ignore"):
        support = np.where(has, top / np.maximum(n, 1), np.nan)
    low = ~has | (support < min_support)
    return MajorityResult(winner, support, n, tie, low)


def sparse_plurality(unit: IntArray, category: IntArray, count: IntArray, n_units: int
                     ) -> tuple[IntArray, IntArray, IntArray]:
    """Plurality from distinct (unit, category) pairs and their counts, without a (U, K) table.

    Returns per unit the top count, how many categories reach it, and one category that does (``-1`` for a
    unit without judgments); what a shared top means (a tie, or the next level up) is the caller's decision.
    """
    top = np.zeros(n_units, dtype=np.int64)
    np.maximum.at(top, unit, count)
    at_top = count == top[unit]
    n_top = np.bincount(unit[at_top], minlength=n_units)
    winner = np.full(n_units, -1, dtype=np.int64)
    winner[unit[at_top]] = category[at_top]
    return top, n_top, winner


@dataclass(frozen=True, slots=True)
class MultiLabelResult:
    """Per-label majority for multi_choice tasks; every array is (U, L).

    ``share`` is the fraction of the unit's judgments that selected the label. ``selected`` is ``share >= 0.5``;
    ``tie`` marks labels chosen by exactly half of the judgments (selected, but the decision is a coin toss and
    goes to review). ``support`` is the agreement on the in/out decision, ``max(share, 1 - share)``, and
    ``low_support`` is ``support < min_support`` (always ``True`` for units without judgments). ``unit_review``
    is (U,): any label of the unit tied or weakly supported.
    """

    selected: BoolArray
    share: FloatArray
    tie: BoolArray
    support: FloatArray
    low_support: BoolArray
    unit_review: BoolArray


def per_label_majority(
    unit_label_counts: npt.ArrayLike, n_judgments: npt.ArrayLike, min_support: float = 0.5
) -> MultiLabelResult:
    """Include each label chosen by at least half of a unit's judgments; flag exact halves as ties.

    ``unit_label_counts[u, l]`` is how many of unit ``u``'s ``n_judgments[u]`` judgments selected label ``l``
    (a judgment may select several labels, so rows need not sum to ``n_judgments``). Ties are decided with
    integer arithmetic (``2 * count == n``), never by float rounding.
    """
    table = _count_table(unit_label_counts, "unit_label_counts")
    n = np.asarray(n_judgments)
    if n.shape != (table.shape[0],) or (n.size and not np.issubdtype(n.dtype, np.integer)):
        raise ValueError("n_judgments must be an integer array with one entry per unit")
    n = n.astype(np.int64, copy=False)
    if np.any(table > n[:, None]):
        raise ValueError("a label count exceeds the unit's number of judgments")
    has = (n > 0)[:, None]
    twice = 2 * table
    selected = has & (twice >= n[:, None])
    tie = has & (twice == n[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(has, table / np.maximum(n, 1)[:, None], np.nan)
        # one division of whole counts (1 − share can round below (n − count) / n: 1 − 2/11 < 9/11)
        support = np.where(has, np.maximum(table, n[:, None] - table) / np.maximum(n, 1)[:, None], np.nan)
    low = ~has | (support < min_support)
    return MultiLabelResult(selected, share, tie, support, low, (tie | low).any(axis=1))


@dataclass(frozen=True, slots=True)
class MedianResult:
    """Median consensus for rating tasks; every array is (U,).

    ``median`` is the usual median: for an even number of judgments the mean of the two middle values, so
    two judgments 3 and 4 give 3.5 (a value between scale points is itself a sign of disagreement).
    ``iqr`` is the interquartile range with linear interpolation (numpy's and pandas' default quantile
    method). ``support`` is the share of judgments within ``tolerance`` of the median (``tolerance=0``:
    exactly equal). Units without judgments get ``NaN`` everywhere and ``n_judgments == 0``.
    """

    median: FloatArray
    iqr: FloatArray
    support: FloatArray
    n_judgments: IntArray


def _sorted_quantile(sorted_values: FloatArray, start: IntArray, n: IntArray, q: float) -> FloatArray:
    """Linear-interpolation quantile of each unit's run ``sorted_values[start:start+n]`` (n > 0)."""
    pos = (n - 1) * q
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    a = sorted_values[start + lo]
    b = sorted_values[start + hi]
    out: FloatArray = a + (b - a) * frac
    return out


def median_consensus(
    unit_idx: npt.ArrayLike, values: npt.ArrayLike, n_units: int, *, tolerance: float = 0.0
) -> MedianResult:
    """Per-unit median, interquartile range and support of numeric judgments, vectorised over units.

    Judgments are sorted once by (unit, value) with :func:`numpy.lexsort`; each unit's run in that order is
    located with its judgment count, and the middle positions come from index arithmetic.
    """
    units = as_codes(unit_idx, n_units, "unit_idx")
    vals = np.asarray(values, dtype=np.float64)
    if vals.shape != units.shape:
        raise ValueError("values must have one entry per judgment")
    if not np.all(np.isfinite(vals)):
        raise ValueError("values must be finite numbers")
    order = np.lexsort((vals, units))
    sv = vals[order]
    n = np.bincount(units, minlength=n_units).astype(np.int64)
    start = np.cumsum(n) - n
    has = n > 0
    med = np.full(n_units, np.nan)
    iqr = np.full(n_units, np.nan)
    s, c = start[has], n[has]
    if c.size:
        med[has] = (sv[s + (c - 1) // 2] + sv[s + c // 2]) / 2.0
        iqr[has] = _sorted_quantile(sv, s, c, 0.75) - _sorted_quantile(sv, s, c, 0.25)
    close = np.abs(vals - med[units]) <= tolerance
    with np.errstate(invalid="ignore", divide="ignore"):
        support = np.where(
            has, np.bincount(units, weights=close, minlength=n_units) / np.maximum(n, 1), np.nan
        )
    return MedianResult(med, iqr, support, n)
