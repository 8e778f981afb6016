"""Bradley–Terry strengths from pairwise comparisons, for many independent groups of options at once.

One job: the (penalised) maximum-likelihood Bradley–Terry fit of integer-coded comparisons, with ties and a
shrinkage prior, solving every group's problem (for example the options of each item) in one vectorised pass.
It never reads files or strings and never loops over comparisons, options or groups in Python.

Method: comparisons are first collapsed to distinct pairs (counts and wins), then Newton's method on the
log-strengths with step halving. Options of different groups never meet, so the Hessian is block-diagonal and
one sparse factorisation per iteration serves every group. Hunter's (2004) MM iteration reaches the same
maximum but needed 1,400 (prior 0.5) to 60,000 (prior 0.01) iterations on six options where Newton needs ten.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve
from scipy.special import expit

from labelspec.check.consensus import FloatArray, IntArray, as_codes

__all__ = ["BradleyTerryResult", "bradley_terry"]

#: Added to the Hessian diagonal: with ``prior = 0`` each group's likelihood is flat along a common shift.
_RIDGE = 1e-10


@dataclass(frozen=True, slots=True)
class BradleyTerryResult:
    """Bradley–Terry strengths, one per (globally indexed) option.

    ``log_strength`` sums to 0 within each group (geometric mean strength 1), so P(i beats j) =
    ``strength[i] / (strength[i] + strength[j])`` for two options of the same group.
    """

    strength: FloatArray
    log_strength: FloatArray
    n_iter: int
    converged: bool


@dataclass(frozen=True, slots=True)
class _Pairs:
    """Distinct compared pairs ``first < second``: comparisons ``n`` and wins of ``first`` (ties as halves)."""

    first: IntArray
    second: IntArray
    n: FloatArray
    wins: FloatArray
    n_items: int
    pattern: sp.csc_matrix  # sparsity pattern of the Hessian; its data are positions in _hessian_values()
    order: IntArray


def _pairs(w: IntArray, lo: IntArray, share: FloatArray, n_items: int) -> _Pairs:
    first, second = np.minimum(w, lo), np.maximum(w, lo)
    won_by_first = np.where(w == first, share, 1.0 - share)
    keys, inverse = np.unique(first * n_items + second, return_inverse=True)
    a, b = keys // n_items, keys % n_items
    n = np.bincount(inverse, minlength=keys.size).astype(np.float64)
    wins = np.bincount(inverse, weights=won_by_first, minlength=keys.size).astype(np.float64, copy=False)
    diag = np.arange(n_items)
    rows, cols = np.concatenate([a, b, diag]), np.concatenate([b, a, diag])
    ids = np.arange(1, rows.size + 1, dtype=np.float64)  # entries are distinct, so nothing is summed
    pattern = sp.csc_matrix((ids, (rows, cols)), shape=(n_items, n_items))
    return _Pairs(a, b, n, wins, n_items, pattern, pattern.data.astype(np.int64) - 1)


def _inputs(
    winners: npt.ArrayLike,
    losers: npt.ArrayLike,
    n_items: int,
    ties: npt.ArrayLike | None,
    group: npt.ArrayLike | None,
) -> tuple[_Pairs, IntArray]:
    w = as_codes(winners, n_items, "winners")
    lo = as_codes(losers, n_items, "losers")
    if w.shape != lo.shape:
        raise ValueError("winners and losers must have the same length")
    if np.any(w == lo):
        raise ValueError("an option cannot be compared with itself")
    tie = np.zeros(w.size, dtype=bool) if ties is None else np.asarray(ties, dtype=bool)
    if tie.shape != w.shape:
        raise ValueError("ties must have one entry per comparison")
    grp = np.zeros(n_items, dtype=np.int64) if group is None else as_codes(group, n_items, "group")
    if grp.shape != (n_items,):
        raise ValueError("group must have one entry per option")
    if np.any(grp[w] != grp[lo]):
        raise ValueError("a comparison crosses groups")
    # the share of a comparison won by winners[c]: a decisive comparison is a whole win, a tie half a win each
    return _pairs(w, lo, np.where(tie, 0.5, 1.0), n_items), grp


def _objective(theta: FloatArray, pairs: _Pairs, prior: float) -> float:
    """Penalised log-likelihood in log-strengths (log σ(x) = -log(1 + e^-x), computed without overflow)."""
    d = theta[pairs.first] - theta[pairs.second]
    ll = -np.sum(pairs.wins * np.logaddexp(0.0, -d) + (pairs.n - pairs.wins) * np.logaddexp(0.0, d))
    return float(ll - prior * np.sum(np.logaddexp(0.0, -theta) + np.logaddexp(0.0, theta)))


def _newton_direction(theta: FloatArray, pairs: _Pairs, prior: float) -> FloatArray:
    """Solve (-Hessian) δ = gradient of the penalised log-likelihood."""
    n_items = pairs.n_items
    p_first = expit(theta[pairs.first] - theta[pairs.second])
    own = expit(theta)  # probability of beating the virtual strength-1 option of the prior
    excess = pairs.wins - pairs.n * p_first
    # astype: bincount of an empty array is int64 even with weights
    grad = np.bincount(pairs.first, weights=excess, minlength=n_items).astype(np.float64, copy=False)
    grad -= np.bincount(pairs.second, weights=excess, minlength=n_items)
    grad += prior * (1.0 - 2.0 * own)
    h = pairs.n * p_first * (1.0 - p_first)
    diag = np.bincount(pairs.first, weights=h, minlength=n_items).astype(np.float64, copy=False)
    diag += np.bincount(pairs.second, weights=h, minlength=n_items)
    diag += 2.0 * prior * own * (1.0 - own) + _RIDGE
    values = np.concatenate([-h, -h, diag])[pairs.order]
    pat = pairs.pattern
    neg_hessian = sp.csc_matrix((values, pat.indices, pat.indptr), shape=pat.shape)
    return np.asarray(spsolve(neg_hessian, grad), dtype=np.float64)


def _centre(theta: FloatArray, grp: IntArray) -> FloatArray:
    """Subtract each group's mean log-strength."""
    n_groups = int(grp.max()) + 1 if grp.size else 0
    total = np.bincount(grp, weights=theta, minlength=n_groups)
    count = np.bincount(grp, minlength=n_groups)
    return theta - (total / np.maximum(count, 1))[grp]


def bradley_terry(
    winners: npt.ArrayLike,
    losers: npt.ArrayLike,
    n_items: int,
    *,
    ties: npt.ArrayLike | None = None,
    group: npt.ArrayLike | None = None,
    prior: float = 0.5,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> BradleyTerryResult:
    """Maximum (penalised) likelihood Bradley–Terry strengths of ``n_items`` options, every group at once.

    Comparison ``c`` says option ``winners[c]`` beat ``losers[c]``, or, where ``ties[c]``, that they tied; a tie
    counts as half a win for each. ``prior`` adds, for every option, ``prior`` wins and ``prior`` losses against
    a virtual option of fixed strength 1: a Bradley–Terry-consistent shrinkage towards "average" that keeps
    undefeated and winless options finite. ``prior = 0`` is the plain MLE, which exists only when each group's
    comparison graph is strongly connected (Hunter 2004); where it does not, strengths drift apart and
    ``converged`` is ``False``. ``group[i]`` is option ``i``'s group; comparisons never cross groups. Converged
    when no log-strength moves by ``tol`` or more in a Newton iteration.
    """
    if prior < 0 or tol <= 0 or max_iter < 1:
        raise ValueError("prior must be >= 0, tol > 0 and max_iter >= 1")
    pairs, grp = _inputs(winners, losers, n_items, ties, group)
    theta = np.zeros(n_items)
    value = _objective(theta, pairs, prior)
    converged, n_iter = False, 0
    while not converged and n_iter < max_iter:
        n_iter += 1
        step = _newton_direction(theta, pairs, prior)
        for _ in range(40):  # step halving: every iteration increases the objective
            trial = theta + step
            trial_value = _objective(trial, pairs, prior)
            if trial_value >= value - 1e-12 * abs(value):
                break
            step = step / 2.0
        theta, value = trial, trial_value
        converged = float(np.abs(step).max(initial=0.0)) < tol
    theta = _centre(theta, grp)
    return BradleyTerryResult(np.exp(theta), theta, n_iter, converged)
