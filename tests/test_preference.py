"""Pairwise choice, Bradley–Terry and Borda against hand-worked cases, scipy/statsmodels fits and pandas."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from labelspec.check.preference import PREFER_A, PREFER_B, TIE, borda, bradley_terry, pairwise_choice

Arr = npt.NDArray[Any]  # integer codes and floats alike

# --- pairwise choice -----------------------------------------------------------------------------------------


def test_pairwise_choice_hand_cases() -> None:
    units = [0, 0, 0, 1, 1, 2, 2, 2, 2, 4, 5, 5, 5, 6, 6, 6, 6]
    choice = [PREFER_A, PREFER_A, PREFER_B, TIE, TIE, PREFER_B, PREFER_B, TIE, PREFER_A, PREFER_A,
              PREFER_A, TIE, TIE, PREFER_A, PREFER_A, TIE, TIE]
    r = pairwise_choice(units, choice, 7, min_support=0.6)
    # unit 1: everyone says tie; unit 5: most say tie (the consensus is "equal", not the minority's A);
    # unit 6: as many A as tie (no consensus); unit 3 has no judgments: no tie, no choice
    assert r.chosen.tolist() == [PREFER_A, -1, PREFER_B, -1, PREFER_A, -1, -1]
    assert r.rejected.tolist() == [PREFER_B, -1, PREFER_A, -1, PREFER_B, -1, -1]
    assert r.equal.tolist() == [False, True, False, False, False, True, False]
    assert r.tie.tolist() == [False, False, False, False, False, False, True]
    # support counts every judgment in the denominator: unit 2 is 2 of 4, unit 5's tie 2 of 3
    np.testing.assert_allclose(r.support, [2 / 3, 1.0, 0.5, np.nan, 1.0, 2 / 3, 0.5])
    assert r.low_support.tolist() == [False, False, True, True, False, False, True]
    assert (r.n_a.tolist(), r.n_b.tolist(), r.n_tie.tolist()) == (
        [2, 0, 1, 0, 1, 1, 2],
        [1, 0, 2, 0, 0, 0, 0],
        [0, 2, 1, 0, 0, 2, 2],
    )
    with pytest.raises(ValueError, match="outside"):
        pairwise_choice([0], [3], 1)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from([PREFER_A, PREFER_B, TIE])), max_size=40))
def test_pairwise_choice_matches_pandas(rows: list[tuple[int, int]]) -> None:
    """The plurality answer from pandas' value counts: a unique mode is the consensus, a shared one a tie."""
    df = pd.DataFrame(rows, columns=["unit", "choice"], dtype=np.int64)
    r = pairwise_choice(df.unit.to_numpy(), df.choice.to_numpy(), 6)
    for unit in range(6):
        answers = df.choice[df.unit == unit]
        if answers.empty:
            assert (r.chosen[unit], r.tie[unit], r.equal[unit]) == (-1, False, False)
            assert np.isnan(r.support[unit])
            continue
        modes = answers.mode().tolist()
        assert r.tie[unit] == (len(modes) > 1)
        assert r.chosen[unit] == (modes[0] if len(modes) == 1 and modes[0] != TIE else -1)
        assert r.equal[unit] == (modes == [TIE])
        assert r.support[unit] == pytest.approx(answers.value_counts().max() / len(answers))


# --- Bradley–Terry -------------------------------------------------------------------------------------------


def test_bt_two_options_hand_computed() -> None:
    # 3 wins to 1: the MLE odds are 3, so the strengths are sqrt(3) and 1/sqrt(3)
    r = bradley_terry([0, 0, 0, 1], [1, 1, 1, 0], 2, prior=0.0)
    assert r.converged
    np.testing.assert_allclose(r.strength, [math.sqrt(3), 1 / math.sqrt(3)], rtol=1e-9)
    # with a tie: 2.5 wins to 1.5, odds 5/3
    r = bradley_terry([0, 0, 1, 0], [1, 1, 0, 1], 2, ties=[False, False, False, True], prior=0.0)
    np.testing.assert_allclose(r.log_strength, [math.log(5 / 3) / 2, -math.log(5 / 3) / 2], atol=1e-9)


def test_bt_cycle_is_balanced_and_sums_to_zero() -> None:
    r = bradley_terry([0, 1, 2], [1, 2, 0], 3, prior=0.0)
    np.testing.assert_allclose(r.strength, [1.0, 1.0, 1.0])
    r = bradley_terry([0, 0, 1, 2, 3], [1, 2, 2, 3, 0], 4, prior=0.0)
    assert abs(r.log_strength.sum()) < 1e-12
    assert r.strength[0] == r.strength.max()


def test_bt_prior_keeps_undefeated_options_finite() -> None:
    plain = bradley_terry([0, 0, 0], [1, 1, 1], 2, prior=0.0, max_iter=50)
    assert not plain.converged  # the MLE does not exist: the strengths drift apart until max_iter
    assert plain.log_strength[0] - plain.log_strength[1] > 20
    shrunk = bradley_terry([0, 0, 0], [1, 1, 1], 2, prior=0.5)
    assert shrunk.converged and np.all(np.isfinite(shrunk.log_strength))
    assert shrunk.strength[0] > 1 > shrunk.strength[1]
    untouched = bradley_terry([0], [1], 3, prior=0.5)
    assert untouched.converged  # option 2 was never compared: strength of the virtual average


def _penalised_nll(theta: Arr, w: Arr, lo: Arr, tie: Arr, prior: float) -> float:
    """Negative log-likelihood written from the model: tie = half a win each, prior = games vs strength 1."""
    dw = theta[w] - theta[lo]
    win = np.where(tie, 0.5, 1.0)
    nll = np.sum(win * np.logaddexp(0, -dw) + (1 - win) * np.logaddexp(0, dw))
    return float(nll + prior * np.sum(np.logaddexp(0, -theta) + np.logaddexp(0, theta)))


def _random_comparisons(seed: int, n_groups: int, size: int) -> tuple[Arr, Arr, Arr, Arr]:
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(n_groups), size)
    truth = rng.normal(0, 1, group.size)
    n_cmp = 60 * n_groups
    g = rng.integers(0, n_groups, n_cmp)
    i = g * size + rng.integers(0, size, n_cmp)
    j = g * size + (i % size + rng.integers(1, size, n_cmp)) % size
    p_i = 1 / (1 + np.exp(truth[j] - truth[i]))
    r = rng.random(n_cmp)
    tie = r < 0.1
    i_wins = r < 0.1 + 0.9 * p_i
    return np.where(i_wins, i, j), np.where(i_wins, j, i), tie, group


@pytest.mark.parametrize("prior", [0.5, 0.1, 2.0])
def test_bt_matches_scipy_penalised_fit(prior: float) -> None:
    w, lo, tie, group = _random_comparisons(3, 1, 6)
    r = bradley_terry(w, lo, 6, ties=tie, prior=prior)
    assert r.converged
    fit = minimize(
        _penalised_nll, np.zeros(6), args=(w, lo, tie, prior), method="BFGS", options={"gtol": 1e-10}
    )
    expected = fit.x - fit.x.mean()
    np.testing.assert_allclose(r.log_strength, expected, atol=1e-4)


def test_bt_matches_statsmodels_logit_on_the_pair_design() -> None:
    w, lo, tie, _ = _random_comparisons(11, 1, 5)
    r = bradley_terry(w, lo, 5, ties=tie, prior=0.0)
    assert r.converged
    # the pair design: +1 for the first option, -1 for the second, option 0 as the reference level
    x = np.zeros((w.size, 5))
    x[np.arange(w.size), w] += 1.0
    x[np.arange(w.size), lo] -= 1.0
    y = np.where(tie, 0.5, 1.0)
    model = sm.GLM(y, x[:, 1:], family=sm.families.Binomial()).fit(tol=1e-12)
    theta = np.r_[0.0, model.params]
    np.testing.assert_allclose(r.log_strength, theta - theta.mean(), atol=1e-4)


def test_bt_groups_are_solved_independently_at_once() -> None:
    w, lo, tie, group = _random_comparisons(5, 40, 4)
    together = bradley_terry(w, lo, group.size, ties=tie, group=group)
    assert together.converged
    sums = np.bincount(group, weights=together.log_strength)
    np.testing.assert_allclose(sums, 0.0, atol=1e-9)
    for g in (0, 17, 39):
        sel = group[w] == g
        alone = bradley_terry(w[sel] - 4 * g, lo[sel] - 4 * g, 4, ties=tie[sel])
        np.testing.assert_allclose(together.log_strength[4 * g : 4 * g + 4], alone.log_strength, atol=1e-8)
    with pytest.raises(ValueError, match="crosses groups"):
        bradley_terry([0], [4], 8, group=[0, 0, 0, 0, 1, 1, 1, 1])


# --- Borda ---------------------------------------------------------------------------------------------------


def test_borda_hand_case_with_ties_and_padding() -> None:
    rankings = np.array([[0, 1, 2], [1, 0, 2], [2, 0, 1], [2, 1, 0], [3, 4, -1], [4, 3, -1], [5, -1, -1]])
    r = borda(rankings, [0, 0, 0, 0, 1, 1, 2], 7)
    # item 0: option 0 gets 2+1+1+0, option 1 1+2+0+1, option 2 0+0+2+2: a three-way tie
    assert r.score.tolist() == [4.0, 4.0, 4.0, 1.0, 1.0, 0.0, 0.0]
    assert r.n_rankings.tolist() == [4, 4, 4, 2, 2, 1, 0]
    assert r.group.tolist() == [0, 0, 0, 1, 1, 2, -1]
    assert r.rank.tolist() == [1, 1, 1, 1, 1, 1, 0]
    assert r.tied.tolist() == [True, True, True, True, True, False, False]
    top_two = borda(rankings[[0, 1]], [0, 0], 3)  # options 0 and 1 share first place, option 2 is third
    assert (top_two.score.tolist(), top_two.rank.tolist()) == ([3.0, 3.0, 0.0], [1, 1, 3])
    given_groups = borda(rankings, [0, 0, 0, 0, 1, 1, 2], 7, option_group=[0, 0, 0, 1, 1, 2, 2])
    # option 6 is never ranked: 0 points, level with option 5 (a one-option ranking gives no points either)
    assert given_groups.rank.tolist() == [1, 1, 1, 1, 1, 1, 1]
    assert given_groups.tied[[5, 6]].tolist() == [True, True]


def test_borda_rejects_malformed_rankings() -> None:
    with pytest.raises(ValueError, match="twice"):
        borda([[0, 0]], [0], 2)
    with pytest.raises(ValueError, match="padding"):
        borda([[-1, 0]], [0], 2)
    with pytest.raises(ValueError, match="different groups"):
        borda([[0, 1], [1, 0]], [0, 1], 2)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.permutations(range(4))), min_size=1, max_size=15))
def test_borda_matches_pandas(rows: list[tuple[int, list[int]]]) -> None:
    groups = np.array([g for g, _ in rows])
    rankings = np.array([[g * 4 + o for o in perm] for g, perm in rows])
    r = borda(rankings, groups, 16)
    long = pd.DataFrame(
        [(g, opt, 3 - pos) for g, row in zip(groups, rankings, strict=True) for pos, opt in enumerate(row)],
        columns=["group", "option", "points"],
    )
    score = long.groupby("option")["points"].sum().reindex(range(16), fill_value=0)
    np.testing.assert_array_equal(r.score, score.to_numpy(dtype=float))
    seen = long.drop_duplicates("option").set_index("option")["group"].reindex(range(16))
    frame = pd.DataFrame({"score": score, "group": seen}).dropna()
    rank = frame.groupby("group")["score"].rank(method="min", ascending=False).astype(int)
    np.testing.assert_array_equal(r.rank[rank.index.to_numpy()], rank.to_numpy())
    dup = frame.duplicated(["group", "score"], keep=False)
    np.testing.assert_array_equal(r.tied[dup.index.to_numpy()], dup.to_numpy())


def test_empty_inputs_give_neutral_results() -> None:
    none = np.zeros(0, dtype=np.int64)
    bt = bradley_terry(none, none, 3)
    assert bt.converged and bt.strength.tolist() == [1.0, 1.0, 1.0]
    b = borda(np.zeros((0, 3), dtype=np.int64), none, 2)
    assert b.score.tolist() == [0.0, 0.0] and b.rank.tolist() == [0, 0]
    assert pairwise_choice(none, none, 0).chosen.size == 0
