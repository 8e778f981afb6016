"""Intervals and tests on proportions: Wilson intervals, chi-square tests, Holm's correction.

One job: the inference behind gold-accuracy and label-distribution gates, from counts only (the reference
distributions from ``distributions``). No DataFrames, no thresholds: gates decide what a p-value means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from labelspec.check.distributions import chi2_sf, norm_ppf
from labelspec.check.estimate import Estimate, FloatArray, as_counts, finite_or_none, make_estimate

NO_OBSERVATIONS = "no observations"


@dataclass(frozen=True, slots=True)
class ChiSquare:
    """A chi-square test: statistic, degrees of freedom, p-value (``None`` with a reason when undefined)."""

    statistic: float | None
    dof: int
    p_value: float | None
    n: int
    reason: str | None = None


def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    return float(norm_ppf(0.5 + level / 2.0))


def wilson_bounds(k: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95) -> tuple[FloatArray, FloatArray]:
    """Vectorised Wilson score bounds (Wilson 1927); NaN where n = 0. Prefer :func:`wilson_intervals`."""
    k_arr = np.asarray(k, dtype=np.float64)
    n_arr = np.asarray(n, dtype=np.float64)
    if np.any(k_arr < 0) or np.any(k_arr > n_arr):
        raise ValueError("successes must satisfy 0 <= k <= n")
    z = _z(level)
    safe_n = np.where(n_arr > 0, n_arr, np.nan)
    p = k_arr / safe_n
    denom = 1.0 + z * z / safe_n
    center = (p + z * z / (2.0 * safe_n)) / denom
    half = z * np.sqrt(p * (1.0 - p) / safe_n + z * z / (4.0 * safe_n * safe_n)) / denom
    # the interval always contains k/n; clamping keeps rounding (e.g. a low of 7e-18 at k = 0) from breaking that
    return np.clip(np.minimum(center - half, p), 0.0, 1.0), np.clip(np.maximum(center + half, p), 0.0, 1.0)


def wilson_intervals(k: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95) -> tuple[Estimate, ...]:
    """Proportion k/n with its Wilson interval, for each (k, n); ``None`` with a reason when n = 0."""
    k_arr = np.atleast_1d(np.asarray(k, dtype=np.float64))
    n_arr = np.atleast_1d(np.asarray(n, dtype=np.float64))
    low, high = wilson_bounds(k_arr, n_arr, level)
    out: list[Estimate] = []
    for ki, ni, lo, hi in zip(k_arr.tolist(), n_arr.tolist(), low.tolist(), high.tolist(), strict=True):
        if ni <= 0:
            out.append(make_estimate(None, 0, 0, NO_OBSERVATIONS))
            continue
        point = make_estimate(ki / ni, int(ni), 0)
        out.append(Estimate(point.value, finite_or_none(lo), finite_or_none(hi), int(ni)))
    return tuple(out)


def wilson_interval(k: int, n: int, level: float = 0.95) -> Estimate:
    """k/n with its Wilson score interval: good coverage even for small n or k near 0 or n."""
    return wilson_intervals([k], [n], level)[0]


def holm(pvalues: npt.ArrayLike) -> FloatArray:
    """Holm (1979) step-down adjusted p-values, in the input order (family-wise error control)."""
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1 or not np.all(np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must be a 1-D array of numbers in [0, 1]")
    order = np.argsort(p, kind="stable")
    m = p.size
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    adjusted = np.empty_like(p)
    adjusted[order] = stepped
    return adjusted


def chi_square_gof(observed: npt.ArrayLike, expected_p: npt.ArrayLike) -> ChiSquare:
    """Pearson's goodness-of-fit test of observed category counts against expected shares.

    Categories with expected share 0 and no observations are left out. An observation in a category with
    expected share 0 is impossible under the hypothesis: p-value 0, statistic ``None``.
    """
    obs = as_counts(observed, ndim=1).astype(np.float64)
    share = np.asarray(expected_p, dtype=np.float64)
    if share.shape != obs.shape or not np.all(np.isfinite(share)) or np.any(share < 0):
        raise ValueError("expected_p must be non-negative finite shares, one per category")
    if not np.isclose(share.sum(), 1.0, atol=1e-9):
        raise ValueError(f"expected_p must sum to 1, got {share.sum()}")
    n = int(obs.sum())
    if n == 0:
        return ChiSquare(None, 0, None, 0, NO_OBSERVATIONS)
    if np.any((share == 0) & (obs > 0)):
        return ChiSquare(None, 0, 0.0, n, "observed judgments in a category with expected share 0")
    used = share > 0
    dof = int(used.sum()) - 1
    if dof < 1:
        return ChiSquare(None, 0, None, n, "fewer than 2 categories with expected share above 0")
    expected = share[used] * n
    statistic = float(((obs[used] - expected) ** 2 / expected).sum())
    return ChiSquare(statistic, dof, finite_or_none(float(chi2_sf(statistic, dof))), n)


def chi_square_one_vs_rest(annotator_by_category: npt.ArrayLike) -> tuple[ChiSquare, ...]:
    """For each annotator (row), Pearson's chi-square test of independence of the 2 × K table
    (this annotator's category counts vs everyone else's): does this annotator's label distribution differ?

    Categories nobody used are left out (dof = used categories − 1). Combine the p-values with :func:`holm`.
    """
    table = as_counts(annotator_by_category).astype(np.float64)
    col = table.sum(axis=0)
    table = table[:, col > 0]
    col = col[col > 0]
    total = float(col.sum())
    dof = int(col.size) - 1
    own = table.sum(axis=1)
    rest = total - own
    if dof < 1:
        return tuple(ChiSquare(None, 0, None, int(r), "fewer than 2 categories observed") for r in own)
    shares = col / total
    exp_own = own[:, None] * shares[None, :]
    exp_rest = rest[:, None] * shares[None, :]
    ok = (own > 0) & (rest > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = ((table - exp_own) ** 2 / exp_own + ((col - table) - exp_rest) ** 2 / exp_rest).sum(axis=1)
    p = chi2_sf(np.where(ok, stat, 0.0), dof)
    out: list[ChiSquare] = []
    for s, pv, n_own, n_rest in zip(stat.tolist(), p.tolist(), own.tolist(), rest.tolist(), strict=True):
        if n_own <= 0:
            out.append(ChiSquare(None, dof, None, 0, "annotator has no judgments"))
        elif n_rest <= 0:
            out.append(ChiSquare(None, dof, None, int(n_own), "no other annotator has judgments"))
        else:
            out.append(ChiSquare(finite_or_none(s), dof, finite_or_none(pv), int(n_own)))
    return tuple(out)
