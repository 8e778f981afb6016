"""Cohen's κ per annotator pair from confusion tables, its mean over pairs, and a block bootstrap for that mean.

One job: two-rater κ (Cohen 1960; weighted, Cohen 1968), vectorised over a (P, K, K) stack of confusion
matrices — one per annotator pair (a < b), rows = a's category, columns = b's. It never sees judgment rows.

κ_w = 1 − Σ w_ij o_ij / Σ w_ij e_ij with e = r cᵀ / N and disagreement weights w: unweighted 1 − I,
linear |i − j| / (K − 1), quadratic ((i − j) / (K − 1))², with categories in column order.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

from labelspec.check.bootstrap import percentile_interval
from labelspec.check.estimate import Estimate, FloatArray, Interval, as_counts, make_estimate

KappaWeights = Literal["none", "linear", "quadratic"]

EXPECTED_AGREEMENT_ONE = "expected agreement is 1"
FEWER_THAN_TWO_SHARED = "fewer than 2 units judged by both annotators"
NO_DEFINED_PAIR = "no annotator pair with a defined kappa"

#: Cap on floats held at once by the block bootstrap (replicates × pairs × K²), to bound memory.
_CHUNK_FLOATS = 4_000_000


def disagreement_weights(n_categories: int, weights: KappaWeights = "none") -> FloatArray:
    """The (K, K) disagreement weights of weighted κ; 0 on the diagonal."""
    idx = np.arange(n_categories, dtype=np.float64)
    gap = np.abs(np.subtract.outer(idx, idx)) / max(n_categories - 1, 1)
    if weights == "none":
        return 1.0 - np.eye(n_categories)
    if weights == "linear":
        return gap
    if weights == "quadratic":
        return gap**2
    raise ValueError(f"unknown kappa weights {weights!r}; expected 'none', 'linear' or 'quadratic'")


def _kappa_arrays(conf: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(κ with NaN where undefined, N per pair, expected disagreement) for a (..., K, K) stack."""
    n = conf.sum(axis=(-2, -1))
    rows, cols = conf.sum(axis=-1), conf.sum(axis=-2)
    observed = np.einsum("...ij,ij->...", conf, w)
    # expected disagreement in counts: Σ r_i c_j w_ij / N (exactly 0 only when both used one same category)
    expected = np.einsum("...i,ij,...j->...", rows, w, cols) / np.where(n > 0, n, 1.0)
    ok = (n >= 2) & (expected > 0)
    kappa = np.full(n.shape, np.nan)
    np.divide(observed, expected, out=kappa, where=ok)
    kappa = np.where(ok, 1.0 - kappa, np.nan)
    return kappa, n, expected


def _check_confusions(confusions: npt.ArrayLike) -> FloatArray:
    conf = as_counts(confusions, ndim=3).astype(np.float64, copy=False)
    if conf.shape[1] != conf.shape[2]:
        raise ValueError(f"confusion tables must be square, got shape {conf.shape}")
    return conf


def pairwise_cohen_kappa(
    confusions: npt.ArrayLike, *, weights: KappaWeights = "none"
) -> tuple[Estimate, ...]:
    """Cohen's κ for each annotator pair; ``n_units`` is the number of units both annotators judged."""
    conf = _check_confusions(confusions)
    kappa, n, _ = _kappa_arrays(conf, disagreement_weights(conf.shape[1], weights))
    out: list[Estimate] = []
    for value, size in zip(kappa.tolist(), n.tolist(), strict=True):
        reason = None
        if size < 2:
            reason = FEWER_THAN_TWO_SHARED
        elif math.isnan(value):  # the expected disagreement is 0
            reason = EXPECTED_AGREEMENT_ONE
        out.append(make_estimate(None if reason else value, int(size), 0, reason))
    return tuple(out)


def cohen_kappa(confusion: npt.ArrayLike, *, weights: KappaWeights = "none") -> Estimate:
    """Cohen's κ for one (K, K) confusion matrix (rows = first annotator)."""
    return pairwise_cohen_kappa(np.asarray(confusion)[None, ...], weights=weights)[0]


def mean_cohen_kappa(confusions: npt.ArrayLike, *, weights: KappaWeights = "none") -> Estimate:
    """Mean of Cohen's κ over the annotator pairs where it is defined.

    ``n_units`` is the number of pairs averaged and ``n_excluded`` the number of pairs with undefined κ.
    """
    conf = _check_confusions(confusions)
    kappa, _, _ = _kappa_arrays(conf, disagreement_weights(conf.shape[1], weights))
    defined = ~np.isnan(kappa)
    n_pairs = int(defined.sum())
    if n_pairs == 0:
        return make_estimate(None, 0, int(kappa.size), NO_DEFINED_PAIR)
    return make_estimate(float(kappa[defined].mean()), n_pairs, int(kappa.size) - n_pairs)


def bootstrap_mean_cohen_kappa(
    block_confusions: npt.ArrayLike,
    *,
    weights: KappaWeights = "none",
    n_boot: int = 1000,
    seed: int = 20240101,
    level: float = 0.95,
    max_undefined: float = 0.05,
) -> Interval:
    """Percentile interval for :func:`mean_cohen_kappa` by resampling blocks of items.

    Input: (B, P, K, K) confusion tables, one stack per item block, where the table builder assigns every item
    to one of B blocks by a hash of its id. Why blocks: pairs share items, so a valid bootstrap must resample
    items jointly for all pairs, and (P, K, K) totals alone cannot be resampled. Blocks of randomly assigned
    items are i.i.d., so resampling B blocks with replacement is a cluster bootstrap whose replicates are sums
    of block tables — cost O(n_boot · B · P · K²), independent of the number of items. With one item per
    block it is the ordinary item bootstrap; with B ≥ 100 blocks the percentile interval is close to it.
    Each replicate averages the pairs defined in that replicate; replicates with none are undefined.
    """
    blocks = as_counts(block_confusions, ndim=4).astype(np.float64, copy=False)
    n_blocks, n_pairs, k, _ = blocks.shape
    if n_blocks == 0 or n_pairs == 0:
        return Interval(None, None, n_boot, n_boot, "no item blocks or no annotator pairs")
    w = disagreement_weights(k, weights)
    flat = blocks.reshape(n_blocks, -1)
    draws = np.random.default_rng(seed).multinomial(n_blocks, np.full(n_blocks, 1.0 / n_blocks), size=n_boot)
    chunk = max(1, _CHUNK_FLOATS // max(flat.shape[1], 1))
    means: list[FloatArray] = []
    for start in range(0, n_boot, chunk):  # loop over replicate chunks only, to bound memory
        conf = (draws[start : start + chunk].astype(np.float64) @ flat).reshape(-1, n_pairs, k, k)
        kappa, _, _ = _kappa_arrays(conf, w)
        defined = ~np.isnan(kappa)
        total = np.where(defined, kappa, 0.0).sum(axis=1)
        count = defined.sum(axis=1)
        means.append(np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0))
    return percentile_interval(np.concatenate(means), level=level, max_undefined=max_undefined)
