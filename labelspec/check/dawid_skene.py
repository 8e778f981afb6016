"""Dawid–Skene consensus: latent true classes and per-annotator confusion matrices by EM.

One job: fit the Dawid & Skene (1979) latent-class model to integer-coded judgments (unit, annotator, label)
and return class priors, confusion matrices, per-unit posteriors and a consensus winner with explicit ties. It
never reads files or strings and never loops over units or judgments in Python.

Model: unit ``u`` has a true class ``z_u ~ Categorical(priors)``; each judgment of ``u`` by annotator ``a`` is
drawn from row ``z_u`` of ``confusion[a]`` (rows = true class, columns = given label), independently. Replicated
judgments (the same annotator judging a unit several times) are simply several draws, as in the paper's
anaesthetist data. Known (gold) units are clamped to their gold class in every iteration, which is EM for
the likelihood in which those classes are observed.

Layout: EM runs over the units sorted by their number of judgments (the *fitting order*; the results are put
back in unit order at the end). Units with ``m`` ≤ :data:`DENSE_MAX` judgments sit side by side, their
judgments' columns (annotator·K + label) in an (m, units) array, ascending within each unit; the E-step
multiplies each unit's m confusion entries straight in probability space (gathers and products, no
logarithm or ``exp`` per unit and class: the ``exp`` was half the E-step), whenever the product cannot
underflow (:func:`_linear_max`). Otherwise, and for units with more judgments (a sparse row block), it sums
logarithms and normalises by log-sum-exp. The E-step goes by pieces of at most :data:`PIECE_UNITS` units, the
M-step by runs of pieces of up to :data:`BLOCK_UNITS` units (one sparse product each), shared among threads
(numpy and scipy release the GIL), with results independent of the thread count: each unit's posterior is its
piece's, and sums run in piece and block order. The posterior is kept class-major, ``(K, U)``, because reductions
over a short K axis are several times slower than column-wise ones; the public ``posterior`` is its (U, K)
transpose view.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from labelspec.check.consensus import BoolArray, FloatArray, IntArray, as_codes
from labelspec.check.ordering import group_order
from labelspec.runtime import usable_cpus

__all__ = ["DawidSkeneResult", "dawid_skene"]

#: Two posteriors closer than this are a tie: EM posteriors are never exactly equal by accident.
TIE_TOLERANCE = 1e-9

#: Units per piece of the E-step: a piece's (K, units) slice of the posterior and its gathers stay in cache.
PIECE_UNITS = 1 << 16
#: Units per block of the M-step: each block's product gives a dense (A·K, K) table of expected counts, which
#: must stay small beside the block's judgments when annotators and labels are many (100k × 20: 40M cells).
BLOCK_UNITS = 1 << 18

#: Judgments per unit up to which units are laid out by their number of judgments (one Python step per judgment
#: of a piece); units with more are a sparse row block (any number, one product).
DENSE_MAX = 32

#: A product of confusion entries and a prior is kept in probability space when it cannot fall below
#: 2 ** this (far above the smallest normal float64, 2 ** -1022, so it keeps full relative precision).
FLOOR_LOG2 = -1000.0


@dataclass(frozen=True, slots=True)
class DawidSkeneResult:
    """The fitted model and the consensus it implies.

    ``confusion[a, k, l]`` = P(annotator ``a`` says ``l`` | true class ``k``); rows sum to 1 (an annotator with no
    judgments, or no mass on a class, gets a uniform row). ``posterior`` is (U, K); ``winner`` is its argmax, or
    ``-1`` when the top posterior is shared within :data:`TIE_TOLERANCE` (``tie``) or the unit has neither
    judgments nor gold. ``log_likelihood[i]`` is the observed-data log-likelihood (gold classes observed) at the
    parameters of iteration ``i + 1``; with ``smoothing > 0`` EM maximises it plus the Dirichlet log prior.
    """

    priors: FloatArray
    confusion: FloatArray
    posterior: FloatArray
    winner: IntArray
    tie: BoolArray
    posterior_max: FloatArray
    n_iter: int
    converged: bool
    log_likelihood: FloatArray


@dataclass(frozen=True, slots=True)
class _Piece:
    """Units ``[start, stop)`` of the fitting order: each with ``m`` judgments, their columns (annotator·K +
    label) in ``cols`` (m, units), ascending per unit; or, for units with more than :data:`DENSE_MAX`
    judgments, their canonical CSR count rows in ``rows`` (columns ascending, replicates summed; float32 counts,
    exact to 2**24, computed with in float64 by scipy's products). ``gold`` are the piece's gold units (positions
    within the piece) and ``gold_labels`` their classes."""

    start: int
    stop: int
    m: int
    cols: npt.NDArray[np.integer[Any]] | None
    rows: sp.csr_matrix | None
    gold: IntArray
    gold_labels: IntArray


@dataclass(frozen=True, slots=True)
class _Problem:
    """The judgments in pieces of the fitting order, and the M-step's blocks: runs of consecutive pieces of about
    :data:`BLOCK_UNITS` units (across the groups of units with equal numbers of judgments); ``order`` (U,) is
    the unit at each position of it and ``position`` (U,) each unit's position; ``judged`` (U,) marks the units
    with a judgment (unit order)."""

    pieces: list[_Piece]
    blocks: list[list[_Piece]]
    order: IntArray
    position: IntArray
    judged: BoolArray
    n_units: int
    n_annotators: int
    n_classes: int
    gold_units: IntArray
    gold_labels: IntArray


def _problem(
    unit_idx: npt.ArrayLike,
    annotator_idx: npt.ArrayLike,
    label_idx: npt.ArrayLike,
    sizes: tuple[int, int, int],
    gold_units: npt.ArrayLike | None,
    gold_labels: npt.ArrayLike | None,
    by_unit: tuple[npt.NDArray[np.integer[Any]], npt.NDArray[np.integer[Any]]] | None = None,
    cells: tuple[npt.NDArray[np.integer[Any]], int] | None = None,
) -> _Problem:
    n_units, n_ann, n_cls = sizes
    if min(sizes) < 1:
        raise ValueError("n_units, n_annotators and n_classes must be positive")
    # int32 codes stay int32 (the check's): they index and are summed into wider types only
    units = as_codes(unit_idx, n_units, "unit_idx", widen=False)
    anns = as_codes(annotator_idx, n_ann, "annotator_idx", widen=False)
    labels = as_codes(label_idx, n_cls, "label_idx", widen=False)
    if not units.shape == anns.shape == labels.shape:
        raise ValueError("unit_idx, annotator_idx and label_idx must have the same length")
    if (gold_units is None) != (gold_labels is None):
        raise ValueError("gold_units and gold_labels go together")
    g_units = as_codes(gold_units if gold_units is not None else [], n_units, "gold_units")
    g_labels = as_codes(gold_labels if gold_labels is not None else [], n_cls, "gold_labels")
    if g_units.shape != g_labels.shape:
        raise ValueError("gold_units and gold_labels must have the same length")
    if np.unique(g_units).size != g_units.size:
        raise ValueError("a unit appears twice in gold")
    if cells is not None and (by_unit is None or len(cells[0]) != len(units)):
        raise ValueError("cells go with by_unit, one per judgment")
    rows, offsets = by_unit if by_unit is not None else group_order(units, n_units)
    offsets = np.asarray(offsets)
    # the column of each judgment, (annotator, label), in the index type scipy keeps (int32 when it fits), read
    # at positions of the grouped order
    flat_type = np.int64 if n_ann * n_cls > np.iinfo(np.int32).max else np.int32
    if cells is None:
        flat = np.multiply(anns, n_cls, dtype=flat_type, casting="unsafe")
        flat += labels

        def grouped(at: np.ndarray) -> np.ndarray:
            return np.asarray(flat[rows[at]])
    else:
        packed, shift = cells

        def grouped(at: np.ndarray) -> np.ndarray:
            return _unpacked(packed[at], shift, n_cls, flat_type)
    counts = np.diff(offsets)
    # the fitting order: units by their number of judgments (those beyond DENSE_MAX together, last), stably
    order, bounds = group_order(np.minimum(counts, DENSE_MAX + 1).astype(np.int32), DENSE_MAX + 2)
    order = np.asarray(order, dtype=np.int64 if n_units >= 1 << 31 else np.int32)
    position = np.empty(n_units, dtype=order.dtype)
    position[order] = np.arange(n_units, dtype=order.dtype)
    g_pos = position[g_units]
    by_pos = np.argsort(g_pos, kind="stable")
    g_pos, g_lab = g_pos[by_pos].astype(np.int64), g_labels[by_pos]
    pieces: list[_Piece] = []
    for m in range(DENSE_MAX + 2):
        lo, hi = int(bounds[m]), int(bounds[m + 1])
        if lo == hi:
            continue
        cols = None
        if m <= DENSE_MAX:
            starts = offsets[order[lo:hi]]
            cols = np.empty((m, hi - lo), dtype=flat_type)
            for j in range(m):
                cols[j] = grouped(starts + j)
            _sort_columns(cols)  # a unit's factors in one order whatever the rows' order: the same products
        for a in range(lo, hi, PIECE_UNITS):
            b = min(a + PIECE_UNITS, hi)
            i, j = np.searchsorted(g_pos, [a, b])
            sparse = None if cols is not None else _sparse_rows(grouped, offsets, order[a:b], n_ann * n_cls)
            pieces.append(_Piece(a, b, m, None if cols is None else cols[:, a - lo:b - lo], sparse, g_pos[i:j] - a,
                                 g_lab[i:j]))
    return _Problem(pieces, _runs(pieces), order, position, counts > 0, n_units, n_ann, n_cls, g_units, g_labels)


def _runs(pieces: list[_Piece]) -> list[list[_Piece]]:
    """Consecutive pieces in runs of at most :data:`BLOCK_UNITS` units (one piece when it alone is larger)."""
    runs: list[list[_Piece]] = []
    size = 0
    for piece in pieces:
        n = piece.stop - piece.start
        if not runs or size + n > BLOCK_UNITS:
            runs.append([])
            size = 0
        runs[-1].append(piece)
        size += n
    return runs


#: Judgments per unit up to which :func:`_sort_columns` sorts by a network of elementwise min/max (numpy's sort
#: along the short axis works column by column: ~10x slower there).
_NETWORK_MAX = 8


def _sort_columns(cols: np.ndarray) -> None:
    """Each column of the (m, units) array in ascending order, in place."""
    m = len(cols)
    if m > _NETWORK_MAX:
        cols.sort(axis=0)
        return
    for r in range(m):  # odd-even transposition: m rounds of disjoint neighbour exchanges sort m values
        for i in range(r % 2, m - 1, 2):
            low = np.minimum(cols[i], cols[i + 1])
            np.maximum(cols[i], cols[i + 1], out=cols[i + 1])
            cols[i] = low


def _unpacked(packed: np.ndarray, shift: int, k: int, dtype: type[np.signedinteger[Any]]) -> np.ndarray:
    """``annotator·K + label`` from ``annotator << shift | label`` (the same when K is a power of two)."""
    out = packed.astype(dtype)
    if 1 << shift != k:
        label = out & ((1 << shift) - 1)
        out >>= shift
        out *= k
        out += label
    return out


def _sparse_rows(grouped: Callable[[np.ndarray], np.ndarray], offsets: np.ndarray, units: np.ndarray, n_cols: int
                 ) -> sp.csr_matrix:
    """The canonical CSR count rows of ``units`` (columns ascending within a row, replicates summed); ``grouped``
    gives the judgments' columns at positions of the grouped order."""
    starts, counts = offsets[units], offsets[units + 1] - offsets[units]
    ptr = np.zeros(len(units) + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    within = np.arange(int(ptr[-1]), dtype=np.int64) - np.repeat(ptr[:-1], counts)
    block = sp.csr_matrix((np.ones(int(ptr[-1]), dtype=np.float32), grouped(np.repeat(starts, counts) + within),
                           ptr), shape=(len(units), n_cols))
    block.sum_duplicates()
    return block


def _count_rows(piece: _Piece, n_cols: int) -> sp.csr_matrix:
    """The piece's judgments as a (units, A·K) count matrix: its sparse rows, or a dense piece's columns as CSR
    rows of ``m`` entries each (a unit-major copy of the piece's columns). The M-step multiplies a block of these
    by the posterior: scipy adds each judgment's K-wide row, whatever the number of annotators and labels (one
    weighted count per class and judgment slot was ``m·K`` passes over ``A·K`` cells per piece: 34 % slower at
    100k annotators × 20 labels)."""
    if piece.rows is not None:
        return piece.rows
    assert piece.cols is not None
    n, m = piece.stop - piece.start, piece.m
    columns = np.ascontiguousarray(piece.cols.T).reshape(-1)
    ptr = np.arange(n + 1, dtype=columns.dtype) * m
    return sp.csr_matrix((np.ones(n * m, dtype=np.float32), columns, ptr), shape=(n, n_cols), copy=False)


def _block_matrix(block: list[_Piece], n_cols: int, ones: npt.NDArray[np.float32]) -> sp.csr_matrix:
    """A block's (units, A·K) count rows, made once per fit: the pieces' rows stacked. A block of dense pieces
    only is assembled directly, its counts (all 1) a view of ``ones`` (shared by every such block), so the
    fit keeps one unit-major copy of the judgments' columns (~53 MB at 10M judgments) and rebuilds nothing per
    iteration (the rows took ~26 of the M-step's ~70 ms at 10M judgments)."""
    if any(piece.rows is not None for piece in block) or sum((p.stop - p.start) * p.m for p in block) > ones.size:
        rows = [_count_rows(piece, n_cols) for piece in block]
        return rows[0] if len(rows) == 1 else sp.vstack(rows, format="csr")
    columns = np.concatenate([np.ascontiguousarray(p.cols.T).reshape(-1) for p in block if p.cols is not None])
    per_unit = np.concatenate([np.full(p.stop - p.start, p.m, dtype=columns.dtype) for p in block])
    ptr = np.zeros(per_unit.size + 1, dtype=columns.dtype)
    np.cumsum(per_unit, out=ptr[1:])
    return sp.csr_matrix((ones[:columns.size], columns, ptr), shape=(per_unit.size, n_cols), copy=False)


def _block_matrices(p: _Problem, pool: ThreadPoolExecutor | None = None) -> list[sp.csr_matrix]:
    """:func:`_block_matrix` of every block of the M-step (on the pool's threads)."""
    dense = [sum((q.stop - q.start) * q.m for q in block) for block in p.blocks
             if all(q.rows is None for q in block)]
    ones = np.ones(max(dense, default=0), dtype=np.float32)
    cells = p.n_annotators * p.n_classes
    return _each(pool, lambda block: _block_matrix(block, cells, ones), p.blocks)


def _piece_votes(piece: _Piece, k: int) -> FloatArray:
    """(K, units) label counts of a piece's units."""
    n = piece.stop - piece.start
    if piece.rows is not None:
        coo = piece.rows.tocoo()
        cell = np.multiply(coo.col % k, n, dtype=np.int64) + coo.row
        return np.asarray(np.bincount(cell, weights=coo.data, minlength=k * n), dtype=np.float64).reshape(k, n)
    votes = np.zeros((k, n))
    assert piece.cols is not None
    for j in range(piece.m):
        label = piece.cols[j] % k
        for c in range(k):
            votes[c] += label == c
    return votes


def _initial_posterior(p: _Problem, votes_table: npt.NDArray[np.integer[Any]] | None = None) -> FloatArray:
    """Per-unit vote shares, class-major (K, U) in the fitting order: the soft majority vote the paper starts
    from (its eq. 3.1). ``votes_table`` is the (U, K) count of each unit's labels when the caller has it."""
    votes: FloatArray = np.empty((p.n_classes, p.n_units))
    if votes_table is not None:  # gathered straight into the class-major array (no (U, K) float64 copy first)
        table = np.asarray(votes_table)
        for c in range(p.n_classes):
            votes[c] = table[:, c].take(p.order)
    else:
        for piece in p.pieces:
            votes[:, piece.start:piece.stop] = _piece_votes(piece, p.n_classes)
    total = votes.sum(axis=0)
    votes[:, total == 0] = 1.0
    total[total == 0] = p.n_classes
    votes /= total
    return _clamp(votes, p)


def _clamp(post: FloatArray, p: _Problem) -> FloatArray:
    """Gold units: posterior one-hot on the gold class (in place; fitting order)."""
    for piece in p.pieces:
        if piece.gold.size:
            at = piece.start + piece.gold
            post[:, at] = 0.0
            post[piece.gold_labels, at] = 1.0
    return post


_R = TypeVar("_R")
_W = TypeVar("_W")


def _each(pool: ThreadPoolExecutor | None, work: Callable[[_W], _R], pieces: list[_W]) -> list[_R]:
    """``work`` on every piece (or block), in order, on the pool's threads when there is one (numpy's and scipy's
    loops release the GIL): a piece's units are its own, so the results do not depend on which thread ran it."""
    return list(pool.map(work, pieces) if pool is not None else map(work, pieces))


def _m_step(post: FloatArray, p: _Problem, smoothing: float, pool: ThreadPoolExecutor | None = None,
            matrices: list[sp.csr_matrix] | None = None) -> tuple[FloatArray, FloatArray]:
    """Priors (K,) and confusion (A, K, K) from the class-major posterior, plus ``smoothing`` pseudo-counts.

    Expected judgment counts per (true class, annotator·K + label): each block's by one sparse product of its
    count rows (``matrices``, from :func:`_block_matrices`; made here when not given), summed in block order
    (the same sums whichever threads made them).
    """
    k, cells = p.n_classes, p.n_annotators * p.n_classes
    if matrices is None:
        matrices = _block_matrices(p, pool)

    def expected_of(at: int) -> FloatArray:
        block = p.blocks[at]
        return np.asarray(matrices[at].T @ np.ascontiguousarray(post[:, block[0].start:block[-1].stop].T))

    expected = np.zeros((cells, k))  # (A·K_label, K_true): expected judgment counts
    for part in _each(pool, expected_of, list(range(len(p.blocks)))):
        expected += part
    conf = expected.T.reshape(k, p.n_annotators, k).transpose(1, 0, 2) + smoothing
    rows = conf.sum(axis=2, keepdims=True)
    empty = rows[..., 0] <= 0
    conf = np.divide(conf, rows, out=np.zeros_like(conf), where=rows > 0)
    conf[empty] = 1.0 / k
    priors = post.sum(axis=1) + smoothing
    return priors / priors.sum(), conf


def _linear_max(weights: FloatArray, priors: FloatArray) -> int:
    """The most judgments a unit may have for its E-step in probability space: every non-zero product of
    that many confusion entries and a prior stays above 2 ** :data:`FLOOR_LOG2` (full precision, no underflow).
    Zero entries (smoothing 0) give exact zeros either way."""
    low_w, low_p = _lowest_positive(weights), _lowest_positive(priors)
    room = FLOOR_LOG2 - math.log2(low_p)
    if room > 0:  # the prior alone is too small (never, with any real data)
        return -1
    return DENSE_MAX if low_w >= 1.0 else min(DENSE_MAX, int(room / math.log2(low_w)))


def _lowest_positive(values: FloatArray) -> float:
    """The smallest positive value (1.0 when there is none): one pass over the confusion entries unless some
    are 0 (40M entries at 100k annotators × 20 labels)."""
    low = float(values.min(initial=1.0))
    return low if low > 0 else float(values.min(where=values > 0, initial=1.0))


def _e_step(p: _Problem, priors: FloatArray, conf: FloatArray, out: FloatArray,
            pool: ThreadPoolExecutor | None = None) -> float:
    """Class-major posterior written into ``out`` (K, U, fitting order), piece by piece; returns the
    observed-data log-likelihood (the pieces' sums added in piece order).

    A unit's joint probabilities, prior × its judgments' confusion entries, are multiplied in probability space
    when they cannot underflow (:func:`_linear_max`), and summed as logarithms with the unit's maximum subtracted
    before ``exp`` (log-sum-exp) otherwise, so hundreds of judgments on one unit cannot underflow. Both give
    the same posterior to rounding. A unit whose every class is impossible (only with smoothing = 0) falls back
    on the prior. Gold units add their gold class's joint to the log-likelihood and are clamped afterwards.
    """
    k = p.n_classes
    weights = np.ascontiguousarray(conf.transpose(1, 0, 2).reshape(k, -1))  # (K_true, A·K_label)
    linear = _linear_max(weights, priors)
    logs = any(piece.rows is not None or piece.m > linear for piece in p.pieces)  # else: no logarithm at all
    with np.errstate(divide="ignore"):
        # zero cells (smoothing = 0) are -inf; counts only touch observed cells
        log_weights = np.log(weights) if logs else weights
        log_prior = np.log(priors)
    prior, log_p = priors[:, None], log_prior[:, None]

    def joint_log(piece: _Piece, mine: FloatArray) -> None:
        if piece.rows is not None:  # sparse × dense skips absent judgments: -inf only ever times a count
            np.add(np.asarray(piece.rows @ log_weights.T).T, log_p, out=mine)
            return
        assert piece.cols is not None
        mine[...] = log_p
        for j in range(piece.m):
            mine += np.take(log_weights, piece.cols[j], axis=1)

    def fit(piece: _Piece) -> float:
        mine = out[:, piece.start:piece.stop]
        if piece.rows is None and piece.m <= linear:
            assert piece.cols is not None
            if piece.m:
                np.take(weights, piece.cols[0], axis=1, out=mine)
                for j in range(1, piece.m):
                    mine *= np.take(weights, piece.cols[j], axis=1)
                mine *= prior
            else:
                mine[...] = prior
            with np.errstate(divide="ignore"):
                gold_ll = float(np.log(mine[piece.gold_labels, piece.gold]).sum())
            mine[:, piece.gold] = 1.0  # replaced by the clamp; keeps the normaliser finite
            total = mine.sum(axis=0)
            bad = total <= 0  # every class impossible: the prior
            if bad.any():
                mine[:, bad] = prior
                total[bad] = priors.sum()
            mine /= total
            total[piece.gold] = 1.0
            return float(np.log(total).sum()) + gold_ll
        joint_log(piece, mine)
        gold_ll = float(mine[piece.gold_labels, piece.gold].sum())
        mine[:, piece.gold] = 0.0
        best = mine.max(axis=0)
        bad = ~np.isfinite(best)
        if bad.any():
            mine[:, bad] = log_p
            best[bad] = mine[:, bad].max(axis=0)
        mine -= best
        np.exp(mine, out=mine)
        total = mine.sum(axis=0)
        mine /= total
        best[piece.gold] = 0.0
        total[piece.gold] = 1.0
        return float(best.sum() + np.log(total).sum()) + gold_ll

    ll = 0.0
    for part in _each(pool, fit, p.pieces):
        ll += part
    _clamp(out, p)
    return ll


def _winners(post: FloatArray, p: _Problem) -> tuple[IntArray, BoolArray, FloatArray]:
    """Each unit's top class (the first of equal ones, as ``argmax``), whether another is within the tie
    tolerance, and the top posterior (unit order). Class by class over (U,) rows: ``argmax`` along the short K
    axis and a (K, U) difference array took ~0.5 s at 3.3M units, at the end of the check's critical path."""
    k_n, u = post.shape
    best, gap = np.empty(u), np.empty(u)
    np.max(post, axis=0, out=best)
    near: npt.NDArray[np.signedinteger[Any]] = np.zeros(u, dtype=np.int16 if k_n < 1 << 15 else np.int64)
    top = np.full(u, -1, dtype=np.int64)
    close = np.empty(u, dtype=bool)
    for k in range(k_n - 1, -1, -1):  # a loop over classes; the lowest of equal top classes wins
        row = post[k]
        np.subtract(best, row, out=gap)
        np.less_equal(gap, TIE_TOLERANCE, out=close)
        near += close
        np.equal(row, best, out=close)
        np.copyto(top, k, where=close)
    if (top < 0).any():  # NaN posteriors (never made here): argmax's answer
        top = np.argmax(post, axis=0)
    tie = near > 1
    judged = p.judged.copy()
    judged[p.gold_units] = True
    winner = np.where(judged & ~tie, top, -1).astype(np.int64)
    return winner, tie & judged, best


def _unit_order(post: FloatArray, p: _Problem) -> FloatArray:
    """The (K, U) posterior from the fitting order back into unit order, in place, one class row at a time (one
    (U,) temporary instead of a second (K, U) array)."""
    for row in post:
        row[...] = row.take(p.position)
    return post


def dawid_skene(
    unit_idx: npt.ArrayLike,
    annotator_idx: npt.ArrayLike,
    label_idx: npt.ArrayLike,
    *,
    n_units: int,
    n_annotators: int,
    n_classes: int,
    gold_units: npt.ArrayLike | None = None,
    gold_labels: npt.ArrayLike | None = None,
    tol: float = 1e-6,
    max_iter: int = 50,
    smoothing: float = 0.01,
    by_unit: tuple[npt.NDArray[np.integer[Any]], npt.NDArray[np.integer[Any]]] | None = None,
    votes: npt.NDArray[np.integer[Any]] | Callable[[], npt.NDArray[np.integer[Any]]] | None = None,
    threads: int | None = None,
    cells: tuple[npt.NDArray[np.integer[Any]], int] | None = None,
) -> DawidSkeneResult:
    """Fit Dawid–Skene by EM from the soft majority vote; deterministic (no random start).

    ``smoothing`` is a pseudo-count added to every confusion cell and class count in the M-step (a Dirichlet
    prior), so an annotator who never used a label is not certain never to use it; ``0`` gives the plain MLE
    of the paper. Converged when, between two iterations, every prior and confusion entry moves by less than
    ``tol`` or the log-likelihood changes by at most ``tol * |log-likelihood|``; otherwise EM stops after
    ``max_iter`` iterations with ``converged = False``. Gold units count towards priors and confusions.
    ``by_unit`` (``Codes.by_unit``: the judgments grouped by unit, and the units' offsets) saves sorting them;
    ``votes``, the (U, K) count of each unit's labels (``tables.unit_counts``), saves counting them again; as a
    function, it is called once the judgments are laid out (the check counts the table on its other thread
    meanwhile). ``cells`` (``Codes.grouped_cells`` and ``Codes.cell_shift``, with ``by_unit``): each judgment's
    ``annotator << shift | label`` in ``by_unit``'s order, which the layout then reads instead of gathering every
    judgment's annotator and label again (the check's analysis makes them for its annotator pairs).
    ``threads``: how many threads share each iteration's pieces of :data:`PIECE_UNITS` units
    (default: one per CPU this process may use, at most one per piece); the results are the same, bit for bit,
    with any number, and with the rows in any order.
    """
    if smoothing < 0 or tol <= 0 or max_iter < 1 or (threads is not None and threads < 1):
        raise ValueError("smoothing must be >= 0, tol > 0, max_iter >= 1 and threads >= 1")
    p = _problem(
        unit_idx, annotator_idx, label_idx, (n_units, n_annotators, n_classes), gold_units, gold_labels, by_unit,
        cells,
    )
    if callable(votes):
        votes = votes()
    if votes is not None and np.shape(votes) != (n_units, n_classes):
        raise ValueError("votes must be (n_units, n_classes)")
    post = _initial_posterior(p, votes)
    trace: list[float] = []
    prev: tuple[FloatArray, FloatArray] | None = None
    converged = False
    threads = min(len(p.pieces), threads if threads is not None else usable_cpus())
    with ThreadPoolExecutor(threads, thread_name_prefix="labelspec-em") if threads > 1 else nullcontext() as pool:
        matrices = _block_matrices(p, pool)
        for _ in range(max_iter):
            priors, conf = _m_step(post, p, smoothing, pool, matrices)
            ll = _e_step(p, priors, conf, post, pool)  # overwrites the posterior the M-step used
            trace.append(ll)
            if prev is not None:
                moved = max(float(np.abs(priors - prev[0]).max()), float(np.abs(conf - prev[1]).max()))
                if moved < tol or abs(trace[-1] - trace[-2]) <= tol * abs(trace[-1]):
                    converged = True
                    break
            prev = (priors, conf)
        del matrices  # the judgments' unit-major copy: not needed for the winners
    post = _unit_order(post, p)
    winner, tie, best = _winners(post, p)
    return DawidSkeneResult(priors, conf, post.T, winner, tie, best, len(trace), converged, np.array(trace))
