"""The fast ranking and helper paths equal the ones they replaced.

* Bradley–Terry with stacked dense block solves (and pairs counted into a dense table) against the sparse
  factorisation over sorted pair keys, on hypothesis-generated comparisons.
* The ranking consensus with either solver (tied options keep spec order, whatever the rounding).
* The mid-rank check of ``rank_block`` against ``scipy.stats.rankdata``; distinct ranking rows and the
  sort-based ``unique_inverse`` against ``np.unique``; ``encode_task`` (Arrow) against ``np.unique``.
"""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata

from labelspec.check import bradley_terry as bt
from labelspec.check.decide_kinds import KindInput, encode_task
from labelspec.check.decide_structured import _distinct_rows, ranking
from labelspec.check.ranking import RankProblem, _are_midranks, rank_block, validate_orders
from labelspec.check.taxonomy import distinct_rows, unique_inverse
from labelspec.spec.model import Adjudication, Task

comparisons = st.integers(1, 6).flatmap(lambda g: st.tuples(
    st.just(g), st.lists(st.integers(2, 5), min_size=g, max_size=g),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6), st.booleans()),
             min_size=1, max_size=40)))


def _comparisons(data: tuple[int, list[int], list[tuple[int, int, int, bool]]]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, np.ndarray] | None:
    """Winners, losers, ties, the number of options and each option's group of the drawn comparisons (each
    drawn pair folded into its group's options); None when every drawn pair compared an option with itself."""
    n_groups, sizes, rows = data
    offset = np.r_[0, np.cumsum(sizes)]
    group = np.repeat(np.arange(n_groups), sizes)
    win, lose, tie = [], [], []
    for g, x, y, t in rows:
        g %= n_groups
        i, j = x % sizes[g], y % sizes[g]
        if i != j:
            win.append(offset[g] + i)
            lose.append(offset[g] + j)
            tie.append(t)
    return (np.array(win), np.array(lose), np.array(tie), int(offset[-1]), group) if win else None


@settings(max_examples=80, deadline=None)
@given(comparisons, st.sampled_from([0.0, 0.01, 0.5, 2.0]))
def test_dense_block_solver_equals_sparse(data: tuple[int, list[int], list[tuple[int, int, int, bool]]],
                                          prior: float) -> None:
    drawn = _comparisons(data)
    if drawn is None:
        return
    win, lose, tie, n_items, group = drawn
    dense = bt.bradley_terry(win, lose, n_items, ties=tie, group=group, prior=prior)
    with mock.patch.object(bt, "DENSE_MAX", 0):  # every group "too large": the sparse path
        sparse = bt.bradley_terry(win, lose, n_items, ties=tie, group=group, prior=prior)
    assert dense.converged == sparse.converged
    if dense.converged:
        assert abs(dense.n_iter - sparse.n_iter) <= 1
        # both stop within Newton's tolerance of the same optimum: ~1e-8 apart where the likelihood is flat
        # (prior 0 and an option never compared: only the ridge pins it), so compare at 1e-6
        assert dense.log_strength == pytest.approx(sparse.log_strength, abs=1e-6)


def _fit_always_evaluating(pairs: bt._Pairs, grp: np.ndarray, prior: float, max_iter: int, tol: float
                           ) -> tuple[np.ndarray, int, bool]:
    """Newton's method as it was before the slope test: the objective evaluated after every step."""
    theta = np.zeros(pairs.n_items)
    value = bt._objective(theta, pairs, prior)
    converged, n_iter = False, 0
    while not converged and n_iter < max_iter:
        n_iter += 1
        step = pairs.solve(*(lambda g, h, d: (h, d, g))(*bt._derivatives(theta, pairs, prior)))
        for _ in range(40):
            trial = theta + step
            trial_value = bt._objective(trial, pairs, prior)
            if trial_value >= value - 1e-12 * abs(value):
                break
            step = step / 2.0
        theta, value = trial, trial_value
        converged = float(np.abs(bt._centre(step, grp)).max(initial=0.0)) < tol
    return bt._centre(theta, grp), n_iter, converged


@settings(max_examples=150, deadline=None)
@given(comparisons, st.sampled_from([0.0, 0.01, 0.5, 2.0]))
@example(data=(1, [4], [(1, 3, 0, False), (1, 2, 0, False), (0, 2, 0, False), (0, 3, 0, False),
                        (0, 2, 0, False), (0, 2, 0, False), (3, 2, 0, False)]), prior=0.01)  # the objective
@example(data=(1, [2], [(0, 0, 1, False)] * 12), prior=0.001)  # a step is halved
@example(data=(1, [3], [(0, 1, 2, False), (0, 1, 0, False), (0, 1, 2, False), (0, 1, 2, False)]),
         prior=0.0)  # no maximum (option 1 never lost): steps are halved, 100 iterations
def test_slope_test_takes_the_steps_of_evaluating_the_objective(
        data: tuple[int, list[int], list[tuple[int, int, int, bool]]], prior: float) -> None:
    """Skipping the objective when the slope at a step's end is non-negative changes no step: the strengths are
    those of evaluating it after every step, bit for bit, as is the number of iterations. Without a prior and a
    maximum (an option that never lost) neither converges: strengths drift apart, and the objective test decides
    on rounding noise there, so only that is compared."""
    drawn = _comparisons(data)
    if drawn is None:
        return
    win, lose, tie, n_items, group = drawn
    pairs, grp = bt._inputs(win, lose, n_items, tie, group)
    got = bt._fit(pairs, grp, prior, 100, 1e-10)
    want, n_iter, converged = _fit_always_evaluating(pairs, grp, prior, 100, 1e-10)
    assert got.converged == converged
    if prior > 0:
        assert got.n_iter == n_iter
        assert got.log_strength.tobytes() == want.tobytes()
    elif converged:
        assert got.log_strength == pytest.approx(want, abs=1e-6)


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 5).flatmap(lambda m: st.tuples(
    st.just(m), st.lists(st.lists(st.integers(0, 6), min_size=m * (m - 1) // 2, max_size=m * (m - 1) // 2),
                         min_size=1, max_size=8))), st.sampled_from([0.0, 0.01, 0.5]))
def test_grid_path_equals_the_scattered_one(data: tuple[int, list[list[int]]], prior: float) -> None:
    """Every group's every option pair, as full rankings give them: column sums and column-filled systems give
    the strengths that scatter-adds and scattered systems give, bit for bit (and the grid is recognised)."""
    m, wins_per_group = data
    j, k = np.triu_indices(m, 1)
    groups = len(wins_per_group)
    first = (np.arange(groups)[:, None] * m + j).ravel()
    second = (np.arange(groups)[:, None] * m + k).ravel()
    wins = np.array(wins_per_group, dtype=np.float64).ravel()
    n = wins + 3.0  # every pair compared, won some of the times
    group = np.repeat(np.arange(groups), m)
    assert bt._grid(first, second, groups * m, group) is not None
    got = bt.bradley_terry_counts(first, second, n, wins, groups * m, group=group, prior=prior)
    with mock.patch.object(bt, "_grid", lambda *a: None):
        want = bt.bradley_terry_counts(first, second, n, wins, groups * m, group=group, prior=prior)
    assert (got.n_iter, got.converged) == (want.n_iter, want.converged)
    assert got.log_strength.tobytes() == want.log_strength.tobytes()


def test_grid_is_only_the_complete_layout() -> None:
    first, second = np.array([0, 0, 1, 3, 3, 4]), np.array([1, 2, 2, 4, 5, 5])
    group = np.repeat([0, 1], 3)
    assert bt._grid(first, second, 6, group) is not None
    assert bt._grid(first[1:], second[1:], 6, group) is None  # a pair missing
    assert bt._grid(first, second[[1, 0, 2, 3, 4, 5]], 6, group) is None  # pairs out of order
    assert bt._grid(np.array([0, 2, 2]), np.array([1, 3, 4]), 5, np.array([0, 0, 1, 1, 1])) is None  # sizes differ
    assert bt._grid(np.zeros(0, np.int64), np.zeros(0, np.int64), 2, np.array([0, 1])) is None  # one option each


def test_dense_solver_handles_padding_and_chunks() -> None:
    rng = np.random.default_rng(1)
    group = np.repeat(np.arange(50), rng.integers(1, 5, 50))  # unequal groups: padded rows
    a = np.flatnonzero(np.r_[group[1:] == group[:-1], False])
    b = a + 1
    lay = bt._layout(group)
    assert lay is not None
    h, d, rhs = rng.random(a.size), 3 + rng.random(group.size), rng.normal(size=group.size)
    with mock.patch.object(bt, "CHUNK_CELLS", 16 * 7):  # several chunks of 7 groups
        dense = bt._dense_solver(a, b, lay)(h, d, rhs)
    sparse = bt._sparse_solver(a, b, group.size)(h, d, rhs)
    assert dense == pytest.approx(sparse, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 8), st.integers(1, 6), st.integers(0, 2**32 - 1), st.booleans(),
       st.sampled_from([1e-10, 0.01, 1.0]))
def test_elimination_equals_lapack_on_diagonally_dominant_stacks(m: int, n_g: int, seed: int, sparse: bool,
                                                                 extra: float) -> None:
    """The stacked elimination without row exchanges solves what ``np.linalg.solve`` (LAPACK, partial pivoting)
    solves, on the systems Newton's method builds: symmetric, non-positive off the diagonal (zero where a pair was
    never compared), the diagonal their sum plus a positive term (the prior's, or only the ridge)."""
    rng = np.random.default_rng(seed)
    off = -rng.random((n_g, m, m)) * (rng.random((n_g, m, m)) < 0.5 if sparse else 1.0)
    off = np.triu(off, 1)
    off = off + off.transpose(0, 2, 1)
    mats = off + np.eye(m) * (extra - off.sum(axis=2))[:, :, None]
    rhs = rng.normal(size=(n_g, m))
    got = bt._eliminate(mats.transpose(1, 2, 0).copy(), rhs.T.copy()).T  # it overwrites what it is given
    # backward stable: the residual is rounding-sized next to |A| |x|, even where only the ridge keeps A regular
    residual = np.abs(np.einsum("gij,gj->gi", mats, got) - rhs).max()
    assert residual <= 1e-12 * (np.abs(mats).max() * np.abs(got).max() + 1.0)
    if extra >= 0.01:  # well conditioned: the same answer as LAPACK's
        expected = np.linalg.solve(mats, rhs[:, :, None])[:, :, 0]
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_strengths_that_round_to_zero_are_not_negative_zero() -> None:
    """Two opposite rankings: every strength is 0 up to rounding noise, and the detail says 0.0, never -0.0."""
    task = Task(name="r", kind="ranking", question="?", options=("a", "b", "c", "d"))
    frame = pd.DataFrame({"item": ["i", "i"], "unit": "", "annotator": ["x", "y"],
                          "value": ['["a","b","c","d"]', '["d","c","b","a"]']})
    got = ranking(KindInput(task, frame, encode_task(task, frame), {}, Adjudication(), {}))
    strengths = got.detail(np.array([0]))[0]["bradley_terry"]
    assert list(strengths.values()) == [0.0] * 4
    assert not any(np.signbit(v) for v in strengths.values())
    assert "-0.0" not in str(got.detail.json(np.array([0])).to_pylist())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from([1.0, 1.5, 2.0, 2.5, 3.0, 4.0, np.nan]), min_size=4, max_size=4),
                min_size=1, max_size=8))
def test_midrank_check_equals_rankdata(rows: list[list[float]]) -> None:
    r = np.array(rows)
    assert _are_midranks(r) == bool(np.array_equal(rankdata(r, axis=1), r))


def test_rank_block_rejects_duplicates_and_bad_ranks() -> None:
    ok = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0]])
    assert rank_block([0, 0], [0, 1], ok).ranks.shape == (2, 3)
    with pytest.raises(ValueError, match="one ranking"):
        rank_block([0, 0], [1, 1], ok)
    with pytest.raises(ValueError, match="mid-ranks"):
        rank_block([0], [0], [[1.0, 1.0, 3.0]])


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 5).flatmap(lambda m: st.lists(st.permutations(range(m)), min_size=1, max_size=12)))
def test_distinct_rows_equal_np_unique(rows: list[list[int]]) -> None:
    order = np.array(rows, dtype=np.int64)
    got, inv = _distinct_rows(order)
    expected, exp_inv = np.unique(order, axis=0, return_inverse=True)
    assert got.tolist() == expected.tolist() and inv.tolist() == exp_inv.reshape(-1).tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-(2**40), 2**40), max_size=30), st.booleans())
def test_unique_inverse_equals_np_unique(values: list[int], wide: bool) -> None:
    v = np.array(values + ([2**62, -(2**62)] if wide else []), dtype=np.int64)  # wide: the argsort branch
    got, inv = unique_inverse(v)
    expected, exp_inv = np.unique(v, return_inverse=True)
    assert got.tolist() == expected.tolist() and inv.tolist() == exp_inv.reshape(-1).tolist()


@pytest.mark.parametrize("high", [1_000, 2**33, 2**61])
def test_unique_inverse_equals_np_unique_on_the_radix_path(high: int) -> None:
    v = np.random.default_rng(high % 97).integers(-high, high, 200_000, dtype=np.int64)  # ≥ 2^16: radix passes
    got, inv = unique_inverse(v)
    expected, exp_inv = np.unique(v, return_inverse=True)
    assert np.array_equal(got, expected) and np.array_equal(inv, exp_inv.reshape(-1))


def test_value_codes_equal_np_unique_of_the_values() -> None:
    """Value-coded kinds are encoded in Arrow: same categories and codes as numpy's sorted unique values."""
    task = Task(name="r", kind="ranking", question="?", options=("a", "b", "ü"))
    values = ['["b","a","ü"]', '["ü","a","b"]', '["a","b","ü"]', '["b","a","ü"]']
    frame = pd.DataFrame({"item": ["i2", "i1", "i1", "i3"], "unit": [""] * 4, "annotator": ["x", "y", "x", "z"],
                          "value": pd.Series(values, dtype=object)})
    got = encode_task(task, frame)
    cats, inverse = np.unique(np.array(values, dtype=str), return_inverse=True)
    assert got.categories == tuple(cats.tolist())
    assert got.category.tolist() == inverse.tolist() and got.unit_keys.tolist() == ["i1", "i2", "i3"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.permutations(range(4))), min_size=1, max_size=30))
def test_ranking_consensus_does_not_depend_on_the_solver(rows: list[tuple[int, list[int]]]) -> None:
    """Tied options keep spec order whatever the rounding of the fit (dense or sparse Newton solves)."""
    task = Task(name="r", kind="ranking", question="?", options=("a", "b", "c", "d"))
    seen: set[tuple[int, int]] = set()
    recs = []
    for k, (item, perm) in enumerate(rows):
        ann = k % 7
        if (item, ann) not in seen:
            seen.add((item, ann))
            recs.append((f"i{item}", f"x{ann}", json.dumps([task.options[p] for p in perm], separators=(",", ":"))))
    frame = pd.DataFrame(recs, columns=["item", "annotator", "value"]).assign(unit="")
    inp = KindInput(task, frame, encode_task(task, frame), {}, Adjudication(), {})
    dense = ranking(inp).units
    with mock.patch.object(bt, "DENSE_MAX", 0):
        sparse = ranking(inp).units
    assert dense.value.tolist() == sparse.value.tolist() and dense.tie.tolist() == sparse.tie.tolist()


def test_exactly_tied_options_keep_spec_order() -> None:
    task = Task(name="r", kind="ranking", question="?", options=("a", "b", "c"))
    frame = pd.DataFrame({"item": ["i", "i"], "unit": "", "annotator": ["x", "y"],
                          "value": ['["c","b","a"]', '["b","c","a"]']})
    got = ranking(KindInput(task, frame, encode_task(task, frame), {}, Adjudication(), {})).units
    assert got.value.tolist() == ['["b","c","a"]'] and got.tie.tolist() == [True]


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 6).flatmap(lambda m: st.lists(st.lists(st.integers(-2, m + 1), min_size=m, max_size=m),
                                                    min_size=1, max_size=10)))
def test_duplicate_flags_equal_a_loop(rows: list[list[int]]) -> None:
    m = len(rows[0])
    flags = validate_orders(np.array(rows), min_ranked=0)
    expected = [len([v for v in r if 0 <= v < m]) != len({v for v in r if 0 <= v < m}) for r in rows]
    assert [bool(f & RankProblem.DUPLICATE) for f in flags] == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5).flatmap(lambda k: st.lists(st.lists(st.one_of(
    st.integers(-3, 3), st.integers(-2**40, 2**40), st.sampled_from([0.0, -0.0, 0.5, 2.5, 1e300, 1.5e308, 1.7e308, -7.25, float("inf")])),
    min_size=k, max_size=k), min_size=1, max_size=40)), st.sampled_from(["float", "int"]))
def test_distinct_numeric_rows_equal_np_unique(rows: list[list[float]], kind: str) -> None:
    """Narrow whole numbers and halves are coded by subtraction, other values by sorting; wide columns force
    the codes to be re-coded before they overflow; ``-0.0`` is ``0.0``. Rows agree with ``np.unique``."""
    a = np.array(rows, dtype=np.float64) if kind == "float" else np.array(
        [[int(v) if abs(v) < 2**62 else -2**62 for v in r] for r in rows], dtype=np.int64)
    a = np.tile(a, (1, 5))  # 5–25 columns: wide codes overflow 62 bits and are re-coded on the way
    first, inverse = distinct_rows(a)
    uniq, index, want = np.unique(a, axis=0, return_index=True, return_inverse=True)
    assert first.size == uniq.shape[0]
    assert sorted(first.tolist()) == sorted(index.tolist())  # each distinct row's first occurrence
    np.testing.assert_array_equal(a[first][inverse], a)  # every row is its distinct row
    same = inverse[:, None] == inverse[None, :]  # equal rows share an index, and only they
    assert (same == (want.reshape(-1)[:, None] == want.reshape(-1)[None, :])).all()


def test_distinct_rows_refuses_what_is_not_a_table_of_numbers() -> None:
    for bad in (np.zeros(3), np.array([["a"]])):
        with pytest.raises(ValueError, match="2-D array of numbers"):
            distinct_rows(bad)
    first, inverse = distinct_rows(np.zeros((0, 3)))
    assert first.size == 0 and inverse.size == 0


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 4).flatmap(lambda m: st.tuples(st.just(m), st.lists(
    st.lists(st.integers(0, 4), min_size=m * (m - 1) // 2, max_size=m * (m - 1) // 2), min_size=1, max_size=4))),
    st.lists(st.integers(0, 3), min_size=1, max_size=12), st.sampled_from([0.01, 0.5, 2.0]))
@example(data=(2, [[0]]), picks=[0, 0, 0], prior=0.001)  # a step is halved (12 losses, no wins)
def test_repeated_groups_are_fitted_once_with_the_same_result(data: tuple[int, list[list[int]]],
                                                              picks: list[int], prior: float) -> None:
    """Items with the same comparisons are one problem: fitting the distinct ones (weighted) gives every item
    the strengths, iterations and convergence of fitting them all, bit for bit."""
    m, distinct_wins = data
    wins = np.array([distinct_wins[p % len(distinct_wins)] for p in picks], dtype=np.float64)
    n = wins + np.where(prior == 0.001, 12.0, 3.0)
    if prior == 0.001:
        wins[:] = 0.0
    groups = len(picks)
    j, k = np.triu_indices(m, 1)
    first = (np.arange(groups)[:, None] * m + j).ravel()
    second = (np.arange(groups)[:, None] * m + k).ravel()
    group = np.repeat(np.arange(groups), m)
    calls = []
    real = bt._distinct_groups
    with mock.patch.object(bt, "_distinct_groups", lambda p: calls.append(p) or real(p)):
        got = bt.bradley_terry_counts(first, second, n.ravel(), wins.ravel(), groups * m, group=group, prior=prior)
    with mock.patch.object(bt, "_distinct_groups", lambda p: None):
        want = bt.bradley_terry_counts(first, second, n.ravel(), wins.ravel(), groups * m, group=group, prior=prior)
    assert calls and calls[0].grid is not None
    assert (got.n_iter, got.converged) == (want.n_iter, want.converged)
    assert got.log_strength.tobytes() == want.log_strength.tobytes()
    assert got.strength.tobytes() == want.strength.tobytes()
