"""Stable orderings of non-negative integer keys, in time linear in the number of keys.

One job: the argsorts of the check's big key columns (unit × annotator keys, judgment keys). A comparison
argsort of 10M int64 keys takes ~2 s on the benchmark machine, and numpy's own radix sort only serves 16-bit
keys. A counting sort orders keys below a bucket count B in O(n + B): scipy's COO → CSR conversion is one, in C
(rows = the keys, columns = the positions 0..n−1, so each CSR row lists its positions; a CSR matrix in canonical
format has each row's columns ascending, which is exactly stability). Wider keys are sorted digit by digit from
the least significant one (a least-significant-digit radix sort: each pass stable), with digits of at most
``max(16, log2 n)`` bits so that the bucket array never outgrows the keys. Beyond :data:`_MAX_PASSES` digits the
gathers between passes cost what the comparison sort does, and ``numpy.argsort(kind="stable")`` is used: the
result is the same permutation either way.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

_MAX_PASSES = 3
_MIN_SIZE = 1 << 16  # below this the comparison sort is as fast
_MIN_DIGIT_BITS = 16


def stable_order(keys: np.ndarray, space: int | None = None) -> np.ndarray:
    """``numpy.argsort(keys, kind="stable")`` for non-negative integer ``keys`` below ``space``."""
    keys = np.asarray(keys)
    n = keys.size
    if space is None:
        space = int(keys.max()) + 1 if n else 1
    bits = max(space - 1, 1).bit_length()
    passes = -(-bits // max(_MIN_DIGIT_BITS, n.bit_length()))
    if n < max(_MIN_SIZE, 1) or passes > _MAX_PASSES or n >= 1 << 31:
        return np.argsort(keys, kind="stable")
    digit_bits = -(-bits // passes)  # balanced digits: 32-bit keys are two 16-bit passes, not 24 + 8
    keys = np.asarray(keys, dtype=np.int64)
    order: np.ndarray | None = None
    for p in range(passes):
        digit = keys >> (p * digit_bits) if p else keys
        if p < passes - 1:
            digit = digit & ((1 << digit_bits) - 1)
        digit = digit.astype(np.int32) if order is None else digit.take(order).astype(np.int32)
        step, _ = _counting_order(digit, 1 << digit_bits if p < passes - 1 else int(digit.max()) + 1)
        order = step if order is None else order.take(step)
    assert order is not None
    return order.astype(np.intp, copy=False)


def group_order(keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows grouped by ``keys`` (integers below ``n_groups``), in row order within each group, and the
    (n_groups + 1,) offsets of the groups in that order: group g is ``order[offsets[g]:offsets[g + 1]]``."""
    if keys.size == 0:
        return np.zeros(0, np.intp), np.zeros(n_groups + 1, np.intp)
    if keys.size >= 1 << 31:
        order = np.argsort(keys, kind="stable")
        return order, np.searchsorted(keys[order], np.arange(n_groups + 1))
    return _counting_order(np.asarray(keys, dtype=np.int32), n_groups)


def _counting_order(digit: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """The stable order of int32 ``digit`` values below ``buckets`` and the buckets' offsets in it (a counting
    sort, through scipy's CSR)."""
    n = digit.size
    positions = np.arange(n, dtype=np.int32)
    ones = np.ones(n, dtype=np.int8)
    grouped = sp.csr_array((ones, (digit, positions)), shape=(buckets, n))
    grouped.sort_indices()  # a no-op check in practice: the conversion already keeps positions ascending
    return grouped.indices, grouped.indptr
