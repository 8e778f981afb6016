"""Cohen's κ per annotator pair from confusion tables, its mean over pairs, and a bootstrap for that mean.

One job: two-rater κ (Cohen 1960; weighted, Cohen 1968), vectorised over a (P, K, K) stack of confusion
matrices — one per annotator pair (a < b), rows = a's category, columns = b's. It never sees judgment rows.

κ_w = 1 − Σ w_ij o_ij / Σ w_ij e_ij with e = r cᵀ / N and disagreement weights w: unweighted 1 − I,
linear |i − j| / (K − 1), quadratic ((i − j) / (K − 1))², with categories in column order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from labelspec.check.bootstrap import percentile_interval
from labelspec.check.estimate import Estimate, FloatArray, Interval, as_counts, make_estimate

KappaWeights = Literal["none", "linear", "quadratic"]

EXPECTED_AGREEMENT_ONE = "expected agreement is 1"
FEWER_THAN_TWO_SHARED = "fewer than 2 units judged by both annotators"
NO_DEFINED_PAIR = "no annotator pair with a defined kappa"

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


def _margins(conf: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Row and column sums of a (P, K, K) stack of count tables, by one (P, K²) × (K², 2K) product: sums along
    the short trailing axes took 0.1–0.17 s for the 500k pairs of 10M judgments, the product ~0.01 s. Whole
    counts (``as_counts``), so the sums are exact in any order."""
    p, k = conf.shape[0], conf.shape[-1]
    cell = np.arange(k * k)
    pick = np.zeros((k * k, 2 * k))
    pick[cell, cell // k] = 1.0  # cell (i, j) adds to row i
    pick[cell, k + cell % k] = 1.0  # and to column j
    both = conf.reshape(p, k * k) @ pick
    return both[:, :k], both[:, k:]


def _kappa_arrays(conf: FloatArray, w: FloatArray, margins: tuple[FloatArray, FloatArray] | None = None
                  ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(κ with NaN where undefined, N per pair, expected disagreement) for a (P, K, K) stack (``margins``: its
    row and column sums, when the caller has them)."""
    n = conf.sum(axis=(-2, -1))
    rows, cols = _margins(conf) if margins is None else margins
    observed = np.einsum("...ij,ij->...", conf, w)
    # expected disagreement in counts: Σ r_i c_j w_ij / N (exactly 0 only when both used one same category)
    expected = np.einsum("...i,ij,...j->...", rows, w, cols) / np.where(n > 0, n, 1.0)
    ok = (n >= 2) & (expected > 0)
    kappa = np.full(n.shape, np.nan)
    np.divide(observed, expected, out=kappa, where=ok)
    kappa = np.where(ok, 1.0 - kappa, np.nan)
    return kappa, n, expected


@dataclass(frozen=True)
class PairKappas:
    """Cohen's κ of every pair of one (P, K, K) stack (NaN where undefined) and the units of each: made once for
    the mean, its interval and the per-pair summary, which each made a float copy of the tables and κ again
    (~0.15 s apiece for the 500k pairs of 10M judgments)."""

    kappa: FloatArray
    n: FloatArray
    weights: KappaWeights


def pair_kappas(confusions: npt.ArrayLike, *, weights: KappaWeights = "none") -> PairKappas:
    """:class:`PairKappas` of a (P, K, K) stack."""
    conf = _check_confusions(confusions)
    kappa, n, _ = _kappa_arrays(conf, disagreement_weights(conf.shape[1], weights))
    return PairKappas(kappa, n, weights)


def _kappas(confusions: npt.ArrayLike, weights: KappaWeights, kappas: PairKappas | None) -> PairKappas:
    if kappas is None:
        return pair_kappas(confusions, weights=weights)
    if kappas.weights != weights or kappas.kappa.shape != (np.shape(confusions)[0],):
        raise ValueError("kappas were made for other confusion tables or weights")
    return kappas


def _check_confusions(confusions: npt.ArrayLike) -> FloatArray:
    conf = as_counts(confusions, ndim=3).astype(np.float64, copy=False)
    if conf.shape[1] != conf.shape[2]:
        raise ValueError(f"confusion tables must be square, got shape {conf.shape}")
    return conf


def pairwise_kappa_values(confusions: npt.ArrayLike, *, weights: KappaWeights = "none",
                          kappas: PairKappas | None = None) -> tuple[FloatArray, FloatArray]:
    """(κ per pair, NaN where undefined; units per pair) as arrays: for summaries over ~10⁵ pairs. ``kappas``:
    the stack's :func:`pair_kappas`, when the caller made them."""
    made = _kappas(confusions, weights, kappas)
    return made.kappa, made.n


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


def mean_cohen_kappa(confusions: npt.ArrayLike, *, weights: KappaWeights = "none",
                     kappas: PairKappas | None = None) -> Estimate:
    """Mean of Cohen's κ over the annotator pairs where it is defined.

    ``n_units`` is the number of pairs averaged and ``n_excluded`` the number of pairs with undefined κ.
    ``kappas``: the stack's :func:`pair_kappas`, when the caller made them.
    """
    kappa = _kappas(confusions, weights, kappas).kappa
    defined = ~np.isnan(kappa)
    n_pairs = int(defined.sum())
    if n_pairs == 0:
        return make_estimate(None, 0, int(kappa.size), NO_DEFINED_PAIR)
    return make_estimate(float(kappa[defined].mean()), n_pairs, int(kappa.size) - n_pairs)


def kappa_influence(confusions: npt.ArrayLike, *, weights: KappaWeights = "none",
                    kappas: PairKappas | None = None) -> FloatArray:
    """(P, K, K) derivative of each pair's κ with respect to one more unit in cell (i, j): its influence function.

    With q_o = Σ w_ij C_ij / N and q_e = Σ r_i w_ij c_j / N², κ = 1 − q_o / q_e, so
    ∂κ/∂C_ij = −(∂q_o/∂C_ij) / q_e + q_o (∂q_e/∂C_ij) / q_e², where ∂q_o/∂C_ij = (w_ij − q_o) / N and
    ∂q_e/∂C_ij = (Σ_l w_il c_l + Σ_k r_k w_kj) / N² − 2 q_e / N. κ does not change when every count is scaled, so
    Σ_ij C_ij ∂κ/∂C_ij = 0 (Euler). Pairs with an undefined κ get 0. ``kappas``: the stack's
    :func:`pair_kappas`, when the caller made them.
    """
    return _influence(_check_confusions(confusions), weights, kappas)


#: Pairs per piece of :func:`_influence`'s (P, K, K) result: a piece's four passes stay in cache.
_INFLUENCE_PAIRS = 1 << 14


def _influence(conf: FloatArray, weights: KappaWeights, kappas: PairKappas | None) -> FloatArray:
    """:func:`kappa_influence` of a checked float stack (the bootstrap's: checking it again was a pass over 8M
    cells at 500k pairs)."""
    w = disagreement_weights(conf.shape[1], weights)
    rows, cols = _margins(conf)
    if kappas is None:
        kappa, n, _ = _kappa_arrays(conf, w, (rows, cols))
    else:
        made = _kappas(conf, weights, kappas)
        kappa, n = made.kappa, made.n
    size = np.where(n > 0, n, 1.0)
    k = conf.shape[1]
    q_o = conf.reshape(len(conf), -1) @ w.reshape(-1) / size
    row_w = rows @ w
    q_e = (row_w * cols).sum(axis=1) / size**2
    q_e = np.where(q_e > 0, q_e, 1.0)
    # influence = a·w + b_i + c_j + d per pair (few (P,) and (P, K) arrays, one (P, K, K) result built in place,
    # piece by piece of pairs: the same additions in the same order, each piece's passes in cache)
    a = -1.0 / (size * q_e)
    b_rows = (cols @ w.T) * (q_o / (q_e**2 * size**2))[:, None]
    c_cols = row_w * (q_o / (q_e**2 * size**2))[:, None]
    d = q_o / (size * q_e) - 2.0 * q_o / (q_e * size)
    influence = np.empty((len(conf), k, k))
    for lo in range(0, len(conf), _INFLUENCE_PAIRS):
        hi = lo + _INFLUENCE_PAIRS
        piece = influence[lo:hi]
        np.multiply(a[lo:hi, None, None], w[None], out=piece)
        piece += b_rows[lo:hi, :, None]
        piece += c_cols[lo:hi, None, :]
        piece += d[lo:hi, None, None]
    influence[np.isnan(kappa)] = 0.0
    return influence


_SLICE = 1 << 20  # observations per slice of the bootstrap's influence sums


def bootstrap_mean_cohen_kappa(
    confusions: npt.ArrayLike,
    observation_cell: npt.ArrayLike,
    observation_block: npt.ArrayLike,
    n_blocks: int,
    *,
    weights: KappaWeights = "none",
    n_boot: int = 1000,
    seed: int = 20240101,
    level: float = 0.95,
    kappas: PairKappas | None = None,
) -> Interval:
    """Percentile interval for :func:`mean_cohen_kappa` by a linearised bootstrap over blocks of items.

    Why linearised: a pair shares only a few units, and κ of a resampled small table is biased, so replicates of
    the *recomputed* mean over ~10⁵ pairs drift off the estimate (measured: estimate 0.504, interval
    0.463–0.483). Instead each observation (one unit judged by one pair; ``observation_cell`` indexes the flat
    (P, K, K) table) contributes its pair's influence :func:`kappa_influence` / (defined pairs) to its item
    block; a replicate is the estimate plus Σ_b (w_b − 1) L_b with multinomial block weights w. The replicates
    are centred on the estimate by construction (Σ_b L_b = 0) and cost O(n_boot · n_blocks) after one pass over
    the observations. Items are assigned to blocks by a hash of their id (steps of an item stay together), so
    resampling blocks resamples items; with one item per block it is the linearised item bootstrap. Which pairs
    are defined is held fixed (first order). ``kappas``: the stack's :func:`pair_kappas`, when the caller made
    them.
    """
    conf = _check_confusions(confusions)
    kappas = _kappas(conf, weights, kappas)
    point = mean_cohen_kappa(conf, weights=weights, kappas=kappas)
    if point.value is None:
        return Interval(None, None, n_boot, n_boot, point.reason)
    influence = _influence(conf, weights, kappas).reshape(-1)
    del conf  # the float copy of the tables (64 MB at 500k pairs): this runs at the 10M check's memory peak
    influence /= point.n_units  # in place: a divided copy was another 64 MB there
    cell, block = np.asarray(observation_cell), np.asarray(observation_block)  # integer codes, any width
    per_block = np.zeros(n_blocks)
    for start in range(0, cell.size, _SLICE):  # whole-array gathers: ~300 MB of temporaries at 12M observations
        end = start + _SLICE
        # np.take, not indexing: an int32 index is cast in small buffers by fancy indexing (~2x slower)
        per_block += np.bincount(block[start:end], weights=np.take(influence, cell[start:end]), minlength=n_blocks)
    draws = np.random.default_rng(seed).multinomial(n_blocks, np.full(n_blocks, 1.0 / n_blocks), size=n_boot)
    # a first-order replicate can step outside κ's range on small data (an audit: 1.056 with 10 units); the mean
    # of κ's lies in [−1, 1], so each replicate is clipped there
    replicates = np.clip(point.value + (draws - 1.0) @ per_block, -1.0, 1.0)
    return percentile_interval(replicates, level=level)
