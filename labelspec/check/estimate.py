"""Result types of the statistics and the validation of the count tables they read.

One job: define the small frozen values every statistic returns (:class:`Estimate`, :class:`Interval`) and turn
a caller's ``counts`` / ``weights`` arrays into a checked float table. It computes no statistic and never sees
rows of judgments or DataFrames.

A statistic that cannot be computed is ``None`` with a reason, never NaN or infinity (GUARANTEES G11: gates fail
closed on ``None``). Misuse by the calling code (a wrongly shaped or negative table) is a programming error and
raises ``ValueError``; user-facing diagnostics are produced before tables are built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Reasons shared by several statistics, so reports and tests can match them exactly.
FEWER_THAN_TWO_UNITS = "fewer than 2 pairable units"
NO_PAIRABLE_UNITS = "no pairable units (every unit has fewer than 2 judgments)"
ONE_CATEGORY = "only one category observed"


@dataclass(frozen=True, slots=True)
class Estimate:
    """A point estimate with an optional confidence interval.

    ``n_units`` counts the units the value is computed from (pairable units, or annotator pairs for a mean of
    pairwise κ); ``n_excluded`` counts those that were supplied but could not be used (units with fewer than 2
    judgments, pairs with an undefined κ). ``reason`` says why ``value`` is ``None``; ``ci_reason`` says why the
    interval is ``None`` when the value itself is defined.
    """

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n_units: int
    reason: str | None = None
    n_excluded: int = 0
    ci_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Interval:
    """A bootstrap percentile interval: both ends ``None`` (with ``reason``) when it cannot be trusted."""

    low: float | None
    high: float | None
    n_boot: int
    n_undefined: int
    reason: str | None = None


def finite_or_none(value: float) -> float | None:
    """Plain ``float`` for a finite number, ``None`` otherwise (numpy scalars never leak into reports)."""
    out = float(value)
    return out if math.isfinite(out) else None


def make_estimate(value: float | None, n_units: int, n_excluded: int, reason: str | None = None) -> Estimate:
    """An :class:`Estimate` without interval; a non-finite value becomes ``None`` with a reason."""
    if reason is not None or value is None:
        return Estimate(None, None, None, n_units, reason or "undefined", n_excluded)
    checked = finite_or_none(value)
    if checked is None:
        return Estimate(None, None, None, n_units, "statistic is not a finite number", n_excluded)
    return Estimate(checked, None, None, n_units, None, n_excluded)


@dataclass(frozen=True, slots=True)
class CountTable:
    """A validated (U, K) count table as floats, with per-unit multiplicities and judgment totals."""

    counts: FloatArray
    weights: FloatArray
    m: FloatArray

    @property
    def pairable(self) -> npt.NDArray[np.bool_]:
        return self.m >= 2

    def n_pairable(self) -> int:
        return int(round(float(self.weights[self.pairable].sum())))

    def n_excluded(self) -> int:
        return int(round(float(self.weights[~self.pairable].sum())))


def check_weights(weights: npt.ArrayLike | None, n_rows: int) -> FloatArray:
    """Per-row multiplicities: ones by default; must be finite and non-negative, one per row."""
    if weights is None:
        return np.ones(n_rows, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n_rows,):
        raise ValueError(f"weights must have shape ({n_rows},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    return w


def as_counts(counts: npt.ArrayLike, *, ndim: int = 2) -> npt.NDArray[Any]:
    """Check a count array: ``ndim`` dimensions, finite, non-negative whole numbers."""
    arr = np.asarray(counts)
    if arr.ndim != ndim:
        raise ValueError(f"count table must have {ndim} dimensions, got shape {arr.shape}")
    if arr.dtype.kind not in "iuf" and arr.dtype != np.bool_:
        raise ValueError(f"count table must be numeric, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and (not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr))):
        raise ValueError("count table must hold finite whole numbers")
    if arr.size and arr.min() < 0:
        raise ValueError("count table must be non-negative")
    return arr


def count_table(counts: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> CountTable:
    """Validate a (U, K) table of judgments per unit and category, with optional per-unit multiplicities."""
    arr = as_counts(counts).astype(np.float64, copy=False)
    w = check_weights(weights, arr.shape[0])
    return CountTable(counts=arr, weights=w, m=arr.sum(axis=1))
