"""Dawid–Skene consensus: latent true classes and per-annotator confusion matrices by EM.

One job: fit the Dawid & Skene (1979) latent-class model to integer-coded judgments (unit, annotator, label)
and return class priors, confusion matrices, per-unit posteriors and a consensus winner with explicit ties. It
never reads files or strings and never loops over units or judgments in Python.

Model: unit ``u`` has a true class ``z_u ~ Categorical(priors)``; each judgment of ``u`` by annotator ``a`` is
drawn from row ``z_u`` of ``confusion[a]`` (rows = true class, columns = given label), independently. Replicated
judgments (the same annotator judging a unit several times) are simply several draws, as in the paper's
anaesthetist data. Known (gold) units are clamped to their gold class in every iteration, which is EM for
the likelihood in which those classes are observed.

Cost per iteration: one sparse (U × A·K) product for each of the E and M steps, by blocks of units, and a few
passes over a (K, U) array; the blocks are shared among threads (numpy and scipy release the GIL), with results
independent of the thread count: each unit's posterior is its block's, and sums run in block order. The
posterior is kept class-major, ``(K, U)``, because row-wise reductions over a short K axis are several times
slower than column-wise ones; the public ``posterior`` is its (U, K) transpose view.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from labelspec.check.consensus import BoolArray, FloatArray, IntArray, as_codes
from labelspec.check.ordering import group_order
from labelspec.runtime import usable_cpus

__all__ = ["DawidSkeneResult", "dawid_skene"]

#: Two posteriors closer than this are a tie: EM posteriors are never exactly equal by accident.
TIE_TOLERANCE = 1e-9


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


Blocks: TypeAlias = list[tuple[int, int, sp.csr_matrix]]


@dataclass(frozen=True, slots=True)
class _Problem:
    """The judgments as a sparse (U, A·K) count matrix in row blocks of :data:`BLOCK_UNITS` units (``blocks``:
    ``(a, b, rows a..b-1)``), with the gold clamp; ``judged`` (U,) marks the units with a judgment."""

    blocks: Blocks
    judged: BoolArray
    n_units: int
    n_annotators: int
    n_classes: int
    gold_units: IntArray
    gold_labels: IntArray


#: Units per block of the E- and M-step products: a block's dense operand and result (a few MB) are reused from
#: the cache instead of two (U, K) arrays per iteration (212 MB at 3.3M units, held beside the check's other work).
BLOCK_UNITS = 1 << 18


def _problem(
    unit_idx: npt.ArrayLike,
    annotator_idx: npt.ArrayLike,
    label_idx: npt.ArrayLike,
    sizes: tuple[int, int, int],
    gold_units: npt.ArrayLike | None,
    gold_labels: npt.ArrayLike | None,
    by_unit: tuple[npt.NDArray[np.integer[Any]], npt.NDArray[np.integer[Any]]] | None = None,
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
    order, offsets = by_unit if by_unit is not None else group_order(units, n_units)
    # the column of each judgment, (annotator, label), in the index type scipy keeps (int32 when it fits)
    wide = n_ann * n_cls > np.iinfo(np.int32).max
    flat = np.multiply(anns, n_cls, dtype=np.int64 if wide else np.int32, casting="unsafe")
    flat += labels
    return _Problem(_blocks(flat, order, np.asarray(offsets), n_ann * n_cls), np.diff(offsets) > 0, n_units, n_ann,
                    n_cls, g_units, g_labels)


def _blocks(flat: np.ndarray, order: np.ndarray, offsets: np.ndarray, n_cols: int) -> Blocks:
    """Row blocks ``[a, b)`` of the count matrix, each a canonical CSR matrix (columns ascending within a row,
    duplicates summed: replicated judgments) over arrays of its own. Built block by block from the rows grouped
    by unit (``order``, ``offsets``): slices of one whole matrix would be copied by scipy anyway (it copies a view
    of a much larger array), 80 MB at 10M judgments held twice. Counts are float32 (exact to 2**24; half of
    float64's size): scipy's products with the float64 posterior and weights compute in float64, bit for bit as
    with float64 counts."""
    out = []
    n_units = len(offsets) - 1
    for a in range(0, n_units, BLOCK_UNITS):
        b = min(a + BLOCK_UNITS, n_units)
        lo, hi = int(offsets[a]), int(offsets[b])
        ptr = offsets[a:b + 1] - offsets[a]  # its own array: sum_duplicates rewrites it in place
        block = sp.csr_matrix((np.ones(hi - lo, dtype=np.float32), flat.take(order[lo:hi]), ptr),
                              shape=(b - a, n_cols), copy=False)
        block.sum_duplicates()
        out.append((a, b, block))
    return out


def _initial_posterior(p: _Problem, votes_table: npt.NDArray[np.integer[Any]] | None = None) -> FloatArray:
    """Per-unit vote shares, class-major (K, U): the soft majority vote the paper starts from (its eq. 3.1).
    ``votes_table`` is the (U, K) count of each unit's labels when the caller has it (the same counts)."""
    if votes_table is not None:  # converted straight into the class-major array (no (U, K) float64 copy first)
        votes: FloatArray = np.empty((p.n_classes, p.n_units))
        votes[...] = np.asarray(votes_table).T
    else:
        votes = np.empty((p.n_classes, p.n_units))
        for a, b, block in p.blocks:  # each block's (units, K) label counts (exact in float64)
            coo = block.tocoo()
            cell = np.multiply(coo.row, p.n_classes, dtype=np.int64) + coo.col % p.n_classes
            counted = np.bincount(cell, weights=coo.data, minlength=(b - a) * p.n_classes)
            votes[:, a:b] = counted.reshape(b - a, p.n_classes).T
    total = votes.sum(axis=0)
    votes[:, total == 0] = 1.0
    total[total == 0] = p.n_classes
    votes /= total
    return _clamp(votes, p)


def _clamp(post: FloatArray, p: _Problem) -> FloatArray:
    """Gold units: posterior one-hot on the gold class (in place)."""
    if p.gold_units.size:
        post[:, p.gold_units] = 0.0
        post[p.gold_labels, p.gold_units] = 1.0
    return post


_R = TypeVar("_R")


def _each(pool: ThreadPoolExecutor | None, work: Callable[[tuple[int, int, sp.csr_matrix]], _R], blocks: Blocks
          ) -> list[_R]:
    """``work`` on every block, in order, on the pool's threads when there is one (numpy's and scipy's loops
    release the GIL): a block's units are its own, so the results do not depend on which thread ran it."""
    return list(pool.map(work, blocks) if pool is not None else map(work, blocks))


def _m_step(post: FloatArray, p: _Problem, smoothing: float, blocks: Blocks, pool: ThreadPoolExecutor | None = None
            ) -> tuple[FloatArray, FloatArray]:
    """Priors (K,) and confusion (A, K, K) from the class-major posterior, plus ``smoothing`` pseudo-counts.

    The sparse product needs its dense operand unit-major (U, K): each block's slice of the posterior is
    transposed on its own (:data:`BLOCK_UNITS`), and the blocks' expected counts are summed in block order
    (the same sums whichever threads made them).
    """
    k = p.n_classes
    expected = np.zeros((p.n_annotators * k, k))  # (A·K_label, K_true): expected judgment counts
    for part in _each(pool, lambda blk: blk[2].T @ np.ascontiguousarray(post[:, blk[0]:blk[1]].T), blocks):
        expected += part
    expected = expected.T
    conf = expected.reshape(k, p.n_annotators, k).transpose(1, 0, 2) + smoothing
    rows = conf.sum(axis=2, keepdims=True)
    empty = rows[..., 0] <= 0
    conf = np.divide(conf, rows, out=np.zeros_like(conf), where=rows > 0)
    conf[empty] = 1.0 / k
    priors = post.sum(axis=1) + smoothing
    return priors / priors.sum(), conf


def _e_step(p: _Problem, priors: FloatArray, conf: FloatArray, out: FloatArray, blocks: Blocks,
            work: tuple[FloatArray, FloatArray] | None = None, pool: ThreadPoolExecutor | None = None) -> float:
    """Class-major posterior written into ``out`` (K, U), block by block; returns the observed-data
    log-likelihood.

    Computed in log space with the per-unit maximum subtracted before ``exp`` (log-sum-exp), so hundreds of
    judgments on one unit cannot underflow. ``work``: two (U,) float arrays for the per-unit maximum and
    normaliser, reused across iterations (fresh 26 MB arrays at 3.3M units cost their page faults every time).
    Each unit's posterior is computed within its block, so blocks may run on several threads; the
    log-likelihood is summed over the whole arrays afterwards (the same sum either way).
    """
    top, norm = work if work is not None else (np.empty(p.n_units), np.empty(p.n_units))
    with np.errstate(divide="ignore"):
        log_conf = np.log(conf)  # zero cells (smoothing = 0) are -inf; counts only touch observed cells
        log_prior = np.log(priors)
    weights = np.ascontiguousarray(log_conf.transpose(1, 0, 2).reshape(p.n_classes, -1).T)  # (A·K_label, K_true)
    prior = log_prior[:, None]

    def joint(blk: tuple[int, int, sp.csr_matrix]) -> None:
        # sparse × dense skips absent judgments, so -inf is only ever multiplied by a positive count
        np.add((blk[2] @ weights).T, prior, out=out[:, blk[0]:blk[1]])

    def normalise(blk: tuple[int, int, sp.csr_matrix]) -> None:
        a, b = blk[0], blk[1]
        mine, best, total = out[:, a:b], top[a:b], norm[a:b]
        np.max(mine, axis=0, out=best)
        bad = ~np.isfinite(best)  # every class impossible (only with smoothing = 0): fall back on the prior
        if bad.any():
            mine[:, bad] = prior
            best[bad] = mine[:, bad].max(axis=0)
        mine -= best
        np.exp(mine, out=mine)
        np.sum(mine, axis=0, out=total)
        mine /= total
        np.log(total, out=total)

    _each(pool, joint, blocks)
    gold_ll = float(out[p.gold_labels, p.gold_units].sum())
    out[:, p.gold_units] = 0.0  # replaced by the clamp below; keeps the normaliser finite
    _each(pool, normalise, blocks)
    top[p.gold_units] = 0.0
    norm[p.gold_units] = 0.0
    _clamp(out, p)
    return float(top.sum() + norm.sum()) + gold_ll


def _winners(post: FloatArray, p: _Problem, work: tuple[FloatArray, FloatArray] | None = None
             ) -> tuple[IntArray, BoolArray, FloatArray]:
    """Each unit's top class (the first of equal ones, as ``argmax``), whether another is within the tie
    tolerance, and the top posterior. Class by class over (U,) rows: ``argmax`` along the short K axis and a
    (K, U) difference array took ~0.5 s at 3.3M units, at the end of the check's critical path. ``work``: two
    (U,) float arrays to use (the E-step's, in memory already; the first becomes the top posterior)."""
    k_n, u = post.shape
    best, gap = work if work is not None else (np.empty(u), np.empty(u))
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
) -> DawidSkeneResult:
    """Fit Dawid–Skene by EM from the soft majority vote; deterministic (no random start).

    ``smoothing`` is a pseudo-count added to every confusion cell and class count in the M-step (a Dirichlet
    prior), so an annotator who never used a label is not certain never to use it; ``0`` gives the plain MLE
    of the paper. Converged when, between two iterations, every prior and confusion entry moves by less than
    ``tol`` or the log-likelihood changes by at most ``tol * |log-likelihood|``; otherwise EM stops after
    ``max_iter`` iterations with ``converged = False``. Gold units count towards priors and confusions.
    ``by_unit`` (``Codes.by_unit``: the judgments grouped by unit, and the units' offsets) saves sorting them;
    ``votes``, the (U, K) count of each unit's labels (``tables.unit_counts``), saves counting them again; as a
    function, it is called once the sparse matrix is built (the check counts the table on its other thread
    meanwhile). ``threads``: how many threads share each iteration's blocks of :data:`BLOCK_UNITS` units
    (default: one per CPU this process may use, at most one per block); the results are the same, bit for bit,
    with any number.
    """
    if smoothing < 0 or tol <= 0 or max_iter < 1 or (threads is not None and threads < 1):
        raise ValueError("smoothing must be >= 0, tol > 0, max_iter >= 1 and threads >= 1")
    p = _problem(
        unit_idx, annotator_idx, label_idx, (n_units, n_annotators, n_classes), gold_units, gold_labels, by_unit
    )
    if callable(votes):
        votes = votes()
    if votes is not None and np.shape(votes) != (n_units, n_classes):
        raise ValueError("votes must be (n_units, n_classes)")
    post = _initial_posterior(p, votes)
    trace: list[float] = []
    prev: tuple[FloatArray, FloatArray] | None = None
    converged = False
    blocks = p.blocks
    work = (np.empty(n_units), np.empty(n_units))
    threads = min(len(blocks), threads if threads is not None else usable_cpus())
    with ThreadPoolExecutor(threads, thread_name_prefix="labelspec-em") if threads > 1 else nullcontext() as pool:
        for _ in range(max_iter):
            priors, conf = _m_step(post, p, smoothing, blocks, pool)
            ll = _e_step(p, priors, conf, post, blocks, work, pool)  # overwrites the posterior the M-step used
            trace.append(ll)
            if prev is not None:
                moved = max(float(np.abs(priors - prev[0]).max()), float(np.abs(conf - prev[1]).max()))
                if moved < tol or abs(trace[-1] - trace[-2]) <= tol * abs(trace[-1]):
                    converged = True
                    break
            prev = (priors, conf)
    winner, tie, best = _winners(post, p, work)
    return DawidSkeneResult(priors, conf, post.T, winner, tie, best, len(trace), converged, np.array(trace))
