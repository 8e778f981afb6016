"""Krippendorff's α from count tables: coincidence matrix, distance matrices, per-label and multi-choice α.

One job: α for any level of measurement from a (U, K) table of judgments per unit and category (Krippendorff,
K. 2011, *Computing Krippendorff's Alpha-Reliability*). It never sees judgment rows or DataFrames, and it knows
nothing of gates or thresholds.

α = 1 − (n − 1) · Σ o_ck δ²_ck / Σ n_c n_k δ²_ck, where the coincidence matrix is
o = Σ_u (n_u n_uᵀ − diag n_u) / (m_u − 1) over units with m_u ≥ 2 judgments, n_c its row sums and n = Σ n_c.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from labelspec.check.estimate import (
    FEWER_THAN_TWO_UNITS,
    ONE_CATEGORY,
    CountTable,
    Estimate,
    FloatArray,
    count_table,
    make_estimate,
)

Level = Literal["nominal", "ordinal", "interval", "ratio"]
LEVELS: tuple[Level, ...] = ("nominal", "ordinal", "interval", "ratio")

#: MASI's monotonicity weights (Passonneau 2006: 2/3 and 1/3, as NLTK ≥ 3.9 uses; older NLTK rounded them).
_MASI_SUBSET = 2.0 / 3.0
_MASI_OVERLAP = 1.0 / 3.0


def coincidence(counts: npt.ArrayLike, *, weights: npt.ArrayLike | None = None) -> FloatArray:
    """The (K, K) coincidence matrix; units with fewer than 2 judgments contribute nothing."""
    return _coincidence(count_table(counts, weights))


def _coincidence(table: CountTable) -> FloatArray:
    # per-unit factor w_u / (m_u − 1), zero for units that cannot be paired
    factor = np.divide(table.weights, table.m - 1, out=np.zeros_like(table.m), where=table.pairable)
    scaled = table.counts * factor[:, None]
    o = table.counts.T @ scaled
    o[np.diag_indices_from(o)] -= scaled.sum(axis=0)
    return o


def distance_matrix(
    level: Level,
    values: npt.ArrayLike | None = None,
    marginals: npt.ArrayLike | None = None,
    *,
    k: int | None = None,
) -> FloatArray:
    """Krippendorff's squared difference δ²_ck between categories, by level of measurement.

    ``nominal``: 0 on the diagonal, 1 elsewhere (K from ``values``, ``marginals`` or ``k``).
    ``ordinal``: columns are in rank order; δ_ck = Σ_{g=c..k} n_g − (n_c + n_k)/2 with ``marginals`` n_g the
    coincidence marginals, i.e. the difference of mid-ranks S_c − n_c/2 (S = cumulative sum).
    ``interval``: (v_c − v_k)². ``ratio``: ((v_c − v_k)/(v_c + v_k))², 0 when both are 0; values must be ≥ 0.
    """
    if level == "ordinal":
        if marginals is None:
            raise ValueError("ordinal distances need the coincidence marginals")
        n_g = _vector(marginals, "marginals")
        mid = np.cumsum(n_g) - n_g / 2.0
        return np.subtract.outer(mid, mid) ** 2
    if level in ("interval", "ratio"):
        if values is None:
            raise ValueError(f"{level} distances need the categories' numeric values")
        v = _vector(values, "values")
        diff = np.subtract.outer(v, v)
        if level == "interval":
            return diff**2
        if np.any(v < 0):
            raise ValueError("ratio distances need non-negative values")
        total = np.add.outer(v, v)
        return np.divide(diff, total, out=np.zeros_like(diff), where=total != 0) ** 2
    if level == "nominal":
        size = _size(values, marginals, k)
        return 1.0 - np.eye(size)
    raise ValueError(f"unknown level of measurement {level!r}; expected one of {LEVELS}")


def _vector(arr: npt.ArrayLike, name: str) -> FloatArray:
    v = np.asarray(arr, dtype=np.float64)
    if v.ndim != 1 or not np.all(np.isfinite(v)):
        raise ValueError(f"{name} must be a 1-D array of finite numbers")
    return v


def _size(values: npt.ArrayLike | None, marginals: npt.ArrayLike | None, k: int | None) -> int:
    for given in (values, marginals):
        if given is not None:
            return int(np.asarray(given).shape[0])
    if k is None:
        raise ValueError("nominal distances need the number of categories (values, marginals or k)")
    return k


def alpha_from_counts(
    counts: npt.ArrayLike, delta2: npt.ArrayLike, *, weights: npt.ArrayLike | None = None
) -> Estimate:
    """α for a (U, K) count table and any (K, K) matrix of squared distances (δ² = 0 on the diagonal)."""
    table = count_table(counts, weights)
    d2 = np.asarray(delta2, dtype=np.float64)
    size = table.counts.shape[1]
    if d2.shape != (size, size) or not np.all(np.isfinite(d2)):
        raise ValueError(f"delta2 must be a finite ({size}, {size}) matrix, got shape {d2.shape}")
    return _alpha(table, _coincidence(table), d2)


def krippendorff_alpha(
    counts: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    level: Level = "nominal",
    values: npt.ArrayLike | None = None,
) -> Estimate:
    """Krippendorff's α at a level of measurement; ordinal distances come from this table's own marginals."""
    table = count_table(counts, weights)
    o = _coincidence(table)
    d2 = distance_matrix(level, values, o.sum(axis=1), k=o.shape[0])
    if d2.shape != o.shape:
        raise ValueError(f"values must have one entry per category ({o.shape[0]}), got {d2.shape[0]}")
    return _alpha(table, o, d2)


def _alpha(table: CountTable, o: FloatArray, d2: FloatArray) -> Estimate:
    n_units, n_excluded = table.n_pairable(), table.n_excluded()
    if n_units < 2:
        return make_estimate(None, n_units, n_excluded, FEWER_THAN_TWO_UNITS)
    n_c = o.sum(axis=1)
    if np.count_nonzero(n_c > 0) < 2:
        return make_estimate(None, n_units, n_excluded, ONE_CATEGORY)
    expected = float(n_c @ d2 @ n_c)
    if expected <= 0.0:
        return make_estimate(None, n_units, n_excluded, "expected disagreement is 0")
    observed = float((o * d2).sum())
    return make_estimate(1.0 - (n_c.sum() - 1.0) * observed / expected, n_units, n_excluded)


def per_label_alpha(counts: npt.ArrayLike, *, weights: npt.ArrayLike | None = None) -> tuple[Estimate, ...]:
    """One-vs-rest nominal α for every category (column order), from the multi-class table.

    For label k each unit collapses to (n_uk, m_u − n_uk); binary α then needs only the disagreeing
    coincidences o_k = Σ_u n_uk (m_u − n_uk) / (m_u − 1): α_k = 1 − (n − 1) o_k / (n_k (n − n_k)).
    """
    table = count_table(counts, weights)
    n_units, n_excluded = table.n_pairable(), table.n_excluded()
    factor = np.divide(table.weights, table.m - 1, out=np.zeros_like(table.m), where=table.pairable)
    w_pair = np.where(table.pairable, table.weights, 0.0)
    disagree = factor @ (table.counts * (table.m[:, None] - table.counts))
    n_k = w_pair @ table.counts
    n = float(w_pair @ table.m)
    out: list[Estimate] = []
    for o_k, n1 in zip(disagree.tolist(), n_k.tolist(), strict=True):
        if n_units < 2:
            out.append(make_estimate(None, n_units, n_excluded, FEWER_THAN_TWO_UNITS))
        elif n1 <= 0 or n1 >= n:
            out.append(make_estimate(None, n_units, n_excluded, ONE_CATEGORY))
        else:
            out.append(make_estimate(1.0 - (n - 1.0) * o_k / (n1 * (n - n1)), n_units, n_excluded))
    return tuple(out)


def per_label_binary_alpha(
    tables: Sequence[npt.ArrayLike], *, weights: npt.ArrayLike | None = None
) -> tuple[Estimate, ...]:
    """Multi-choice: nominal α per label, each from its own (U, 2) table (chose the label, did not)."""
    out: list[Estimate] = []
    for table in tables:
        arr = np.asarray(table)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(f"each per-label table must have shape (U, 2), got {arr.shape}")
        out.append(krippendorff_alpha(arr, weights=weights, level="nominal"))
    return tuple(out)


def masi_distance_matrix(sets: Sequence[frozenset[str]]) -> FloatArray:
    """MASI distance (Passonneau 2006) between label sets: 1 − Jaccard · M.

    M is 1 for equal sets, 2/3 when one contains the other, 1/3 for another overlap, 0 for disjoint sets.
    Two empty sets are at distance 0. The result is used as δ² directly (as Passonneau and NLTK do).
    """
    labels = sorted(set().union(*sets)) if sets else []
    index = {label: i for i, label in enumerate(labels)}
    member = np.zeros((len(sets), len(labels)), dtype=np.float64)
    for row, labelset in enumerate(sets):
        member[row, [index[label] for label in labelset]] = 1.0
    inter = member @ member.T
    size = member.sum(axis=1)
    union = np.add.outer(size, size) - inter
    smaller = np.minimum.outer(size, size)
    equal = (inter == size[:, None]) & (inter == size[None, :])
    monotone: FloatArray = np.select(
        [equal, inter == smaller, inter > 0], [1.0, _MASI_SUBSET, _MASI_OVERLAP], default=0.0
    )
    jaccard: FloatArray = np.divide(inter, union, out=np.ones_like(inter), where=union > 0)
    return 1.0 - jaccard * monotone


def masi_alpha(
    counts: npt.ArrayLike, sets: Sequence[frozenset[str]], *, weights: npt.ArrayLike | None = None
) -> Estimate:
    """α over distinct label sets (the columns of ``counts``, in the order of ``sets``) with MASI distance."""
    return alpha_from_counts(counts, masi_distance_matrix(sets), weights=weights)
