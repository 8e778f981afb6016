"""Ranking agreement: Kendall's W with ties, mean pairwise τ-b, α over implied preferences, row validation.

Published values: GNU PSPP's test suite (tests/language/stats/npar.at, "NPAR TESTS Kendall": 30 judges × 3
variables with tied scores, one case with a missing value dropped listwise; PSPP prints Kendall's W = .233 and
χ² = 13.960 = k(n − 1)W, so W = 0.232667 ± 1e-5; "NPAR TESTS Friedman": 10 cases × 3, χ² = 10.4737, and
W = χ² / (n(k − 1))). Independent implementations: scipy.stats.kendalltau (τ-b), scipy.stats.friedmanchisquare
(tie-corrected, W = χ² / (n(m − 1))), the ``krippendorff`` package (α). Hand cases carry their arithmetic.
"""

from __future__ import annotations

import itertools
import random
from unittest import mock

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import friedmanchisquare, kendalltau, rankdata

from labelspec.check.ranking import (
    RankProblem,
    rank_block,
    ranking_agreement,
    ranks_from_order,
    validate_orders,
)

PSPP_KENDALL = """
7 7 2|5 6 5|8 6 4|5 7 4|5 4 4|8 6 5|6 3 5|7 6 5|8 5 5|5 4 5|3 4 4|5 1 2|5 2 1|7 6 5|6 3 4|6 6 6|5 4 5|4 3 4
9 1 1|6 2 1|3 7 8|6 3 4|4 4 4|5 4 3|6 5 2|4 4 8|4 6 4|6 5 5|7 8 6|5 3 5"""  # the case ". 2 2" is dropped
PSPP_FRIEDMAN = [[9.5, 6.5, 8.1], [8.0, 6.0, 6.0], [7.0, 6.5, 4.2], [9.5, 5.0, 7.3], [9.0, 7.0, 6.2],
                 [8.5, 6.9, 6.5], [7.5, 8.0, 6.5], [6.0, 8.0, 3.1], [5.0, 6.0, 4.9], [7.5, 7.5, 6.2]]


def _one_unit(scores: np.ndarray) -> float | None:
    block = rank_block(np.zeros(len(scores), dtype=int), np.arange(len(scores)), rankdata(scores, axis=1))
    return ranking_agreement(block).w_mean.value


def test_pspp_kendall_w_with_ties() -> None:
    scores = np.array([[float(v) for v in row.split()] for row in PSPP_KENDALL.replace("\n", "|").split("|")
                       if row.strip()])
    assert scores.shape == (30, 3)
    w = _one_unit(scores)
    assert w is not None and round(w, 3) == 0.233
    assert 30 * 2 * w == pytest.approx(13.960, abs=5e-4)


def test_pspp_friedman_data_and_scipy() -> None:
    scores = np.array(PSPP_FRIEDMAN)
    w = _one_unit(scores)
    assert w == pytest.approx(10.4737 / (10 * 2), abs=5e-6)
    assert w == pytest.approx(friedmanchisquare(*scores.T).statistic / (10 * 2), rel=1e-12)


def test_kendall_w_by_hand() -> None:
    # no ties: R = (4, 6, 8, 12), mean 7.5, S = 12.25 + 2.25 + 0.25 + 20.25 = 35; W = 12·35 / (9·60) = 7/9
    ranks = [[1, 2, 3, 4], [2, 1, 3, 4], [1, 3, 2, 4]]
    got = ranking_agreement(rank_block([0, 0, 0], [0, 1, 2], ranks))
    assert got.w_mean.value == pytest.approx(7 / 9)
    # ties: (1, 2.5, 2.5) and (1, 2, 3): R = (2, 4.5, 5.5), mean 4, S = 4 + .25 + 2.25 = 6.5;
    # T = 2³ − 2 = 6 for the first ranking; W = 12·6.5 / (4·24 − 2·6) = 78/84
    tied = ranking_agreement(rank_block([0, 0], [0, 1], [[1, 2.5, 2.5], [1, 2, 3]]))
    assert tied.w_mean.value == pytest.approx(78 / 84)
    # τ-b: pair signs (−1,−1) (−1,−1) (0,−1) → Σ = 2; untied pairs 2 and 3 → 2 / √6
    assert tied.tau_b_mean.value == pytest.approx(2 / np.sqrt(6))
    # preference α, each sub-unit in both orientations with weight ½:
    # o_ff = o_ss = 2, o_ft = o_tf = o_st = o_ts = ½; n_f = n_s = 2.5, n_t = 1, n = 6;
    # α = 1 − 5 · 2 / (36 − 13.5) = 1 − 10 / 22.5
    assert tied.pair_alpha.value == pytest.approx(1 - 10 / 22.5)


def test_pooled_w_and_blocks_with_different_m() -> None:
    four = rank_block([0, 0, 0], [0, 1, 2], [[1, 2, 3, 4], [2, 1, 3, 4], [1, 3, 2, 4]])
    three = rank_block([1, 1], [0, 1], [[1, 2.5, 2.5], [1, 2, 3]])
    got = ranking_agreement([three, four])
    assert got.unit.tolist() == [0, 1]
    assert got.w.tolist() == pytest.approx([7 / 9, 78 / 84])
    assert got.w_mean.value == pytest.approx((7 / 9 + 78 / 84) / 2)
    assert got.w_pooled.value == pytest.approx((12 * 35 + 78) / (540 + 84))  # Σ 12 S / Σ denominators
    with pytest.raises(ValueError, match="two blocks"):
        ranking_agreement([four, rank_block([0, 0], [0, 1], [[1, 2, 3], [1, 2, 3]])])


def test_tau_b_matches_scipy_per_pair() -> None:
    rng = np.random.default_rng(11)
    unit = np.repeat(np.arange(30), 4)
    ranks = rankdata(rng.integers(0, 3, (120, 5)), axis=1)  # many ties
    got = ranking_agreement(rank_block(unit, np.tile(np.arange(4), 30), ranks))
    taus = []
    for u in range(30):
        rows = ranks[unit == u]
        taus.append([kendalltau(a, b).statistic for a, b in itertools.combinations(rows, 2)])
    flat = np.array(taus).ravel()
    assert got.tau_b_mean.value == pytest.approx(np.nanmean(flat), rel=1e-12)
    assert got.tau_b_mean.n_units == int(np.sum(~np.all(np.isnan(np.array(taus)), axis=1)))
    per_unit = np.array([np.nan if np.all(np.isnan(t)) else np.nanmean(t) for t in taus])
    assert np.allclose(got.tau_b, per_unit, equal_nan=True)


def test_w_matches_scipy_friedman_per_unit() -> None:
    rng = np.random.default_rng(5)
    unit = np.repeat(np.arange(20), 6)
    ranks = rankdata(rng.integers(0, 4, (120, 4)), axis=1)
    got = ranking_agreement(rank_block(unit, np.tile(np.arange(6), 20), ranks))
    for u in range(20):
        rows = ranks[unit == u]
        if np.ptp(rows, axis=1).any():
            expected = friedmanchisquare(*rows.T).statistic / (6 * 3)
            assert got.w[u] == pytest.approx(expected, rel=1e-10)


def test_preference_alpha_matches_krippendorff_on_symmetric_data() -> None:
    # each unit appears twice, once with its options numbered in reverse: the data are then symmetric, our
    # both-orientations weighting changes nothing, and the package's plain nominal α must agree exactly
    rng = np.random.default_rng(9)
    ranks = rankdata(rng.integers(0, 4, (60, 4)), axis=1)
    unit = np.repeat(np.arange(20), 3)
    ann = np.tile(np.arange(3), 20)
    both = rank_block(np.r_[unit, unit + 20], np.r_[ann, ann], np.r_[ranks, ranks[:, ::-1]])
    k, l_ = np.triu_indices(4, 1)
    data = np.full((3, 40 * k.size), np.nan)
    for u, a, r in zip(both.unit, both.annotator, both.ranks, strict=True):
        data[a, u * k.size:(u + 1) * k.size] = np.sign(r[k] - r[l_])
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert ranking_agreement(both).pair_alpha.value == pytest.approx(expected, rel=1e-10)


def test_ranks_from_order() -> None:
    got = ranks_from_order([[2, 0, 1, 3], [1, -1, -1, -1], [3, 2, -1, -1]])
    # row 2: option 1 first, the other three tie for positions 2–4 → 3;
    # row 3: top-2, options 0 and 1 tie at 3.5
    assert got.tolist() == [[2, 3, 1, 4], [3, 1, 3, 3], [3.5, 3.5, 2, 1]]
    tiers = ranks_from_order([[0, 1, 2, 3]], tier=[[0, 0, 1, 1]])
    assert tiers.tolist() == [[1.5, 1.5, 3.5, 3.5]]
    with pytest.raises(ValueError, match="validate_orders"):
        ranks_from_order([[0, 0, 1]])


def test_validate_orders_flags() -> None:
    order = [[0, 1, 2], [0, 0, 1], [0, -1, 2], [1, -1, -1], [0, 3, 1], [0, 1, 2]]
    flags = validate_orders(order, tier=[[0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 0, 0], [0, 1, 2], [1, 0, 2]])
    assert flags.tolist() == [0, RankProblem.DUPLICATE, RankProblem.GAP | RankProblem.TOO_FEW,
                              RankProblem.TOO_FEW, RankProblem.OUT_OF_RANGE, RankProblem.BAD_TIER]
    assert validate_orders(order[3:4], min_ranked=1).tolist() == [0]  # top-1 allowed


def test_rank_block_checks() -> None:
    with pytest.raises(ValueError, match="mid-ranks"):
        rank_block([0], [0], [[1, 1, 3]])
    with pytest.raises(ValueError, match="one ranking per"):
        rank_block([0, 0], [1, 1], [[1, 2], [2, 1]])


def test_single_ranking_units_are_excluded() -> None:
    got = ranking_agreement(rank_block([0, 1, 1], [0, 0, 1], [[1, 2], [1, 2], [2, 1]]))
    assert (got.w_mean.n_units, got.w_mean.n_excluded) == (1, 1)
    assert got.w_mean.value == pytest.approx(0.0)  # two opposite rankings of two options


rankings = st.lists(st.lists(st.integers(0, 2), min_size=4, max_size=4), min_size=2, max_size=24)


@settings(max_examples=80, deadline=None)
@given(rankings, st.permutations(range(4)), st.permutations(range(4)))
def test_invariances_and_bounds(scores: list[list[int]], ann_perm: list[int], opt_perm: list[int]) -> None:
    n = len(scores) // 2 * 2
    ranks = rankdata(np.array(scores[:n]), axis=1)
    unit, ann = np.repeat(np.arange(n // 2), 2), np.tile([0, 1], n // 2)
    base = ranking_agreement(rank_block(unit, ann, ranks))
    relabelled = ranking_agreement(rank_block(unit, np.array(ann_perm)[ann], ranks))
    renumbered = ranking_agreement(rank_block(unit, ann, ranks[:, opt_perm]))
    for other in (relabelled, renumbered):
        for x, y in ((base.w_mean, other.w_mean), (base.tau_b_mean, other.tau_b_mean),
                     (base.pair_alpha, other.pair_alpha)):
            assert x.reason == y.reason
            assert x.value is None or x.value == pytest.approx(y.value)
    assert np.all((base.w[~np.isnan(base.w)] >= -1e-12) & (base.w[~np.isnan(base.w)] <= 1 + 1e-12))
    if base.tau_b_mean.value is not None:
        assert -1 - 1e-12 <= base.tau_b_mean.value <= 1 + 1e-12


@settings(max_examples=60, deadline=None)
@given(st.lists(st.permutations(range(4)), min_size=2, max_size=8), st.integers(2, 4))
def test_identical_rankings_agree_fully(orders: list[list[int]], n_ann: int) -> None:
    ranks = ranks_from_order(np.repeat(np.array(orders), n_ann, axis=0))
    unit = np.repeat(np.arange(len(orders)), n_ann)
    got = ranking_agreement(rank_block(unit, np.tile(np.arange(n_ann), len(orders)), ranks))
    assert got.w_mean.value == pytest.approx(1.0)
    assert got.tau_b_mean.value == pytest.approx(1.0)
    assert got.pair_alpha.value == pytest.approx(1.0)


def test_scale_one_million_rankings_runs() -> None:
    """Not timed: 1M rankings (250k units × 4 annotators, 5 options, some top-3) in chunks of whole units."""
    rng = np.random.default_rng(1)
    n, m = 1_000_000, 5
    order = np.argsort(rng.random((n, m)) + np.arange(m) * 0.3, axis=1)
    order[rng.random(n) < 0.2, 3:] = -1
    assert not validate_orders(order, min_ranked=3).any()
    unit, ann = np.repeat(np.arange(n // 4), 4), np.tile(np.arange(4), n // 4)
    block = rank_block(unit, ann, ranks_from_order(order))
    got = ranking_agreement(block)
    assert got.w.size == n // 4 and 0.0 < got.w_mean.value < 1.0  # type: ignore[operator]
    assert got.tau_b_mean.value is not None and got.pair_alpha.value is not None


def test_empty_input_fails_closed() -> None:
    got = ranking_agreement(rank_block(np.zeros(0, int), np.zeros(0, int), np.zeros((0, 3))))
    assert got.w_mean.value is None and got.w_mean.reason is not None
    assert got.tau_b_mean.value is None and got.pair_alpha.value is None


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 5).flatmap(lambda m: st.lists(st.tuples(st.integers(0, 9), st.lists(
    st.integers(0, 3), min_size=m, max_size=m)), min_size=1, max_size=40)), st.randoms(use_true_random=False))
def test_counted_per_distinct_ranking_equals_row_by_row(rows: list[tuple[int, list[int]]],
                                                        rnd: random.Random) -> None:
    """Each distinct ranking's values are computed once and counted per unit (exact for rank sums, tie sums and
    votes; τ-b's vectors added in row order): the per-unit W and τ-b equal a row-by-row computation of the
    definitions, in any row order and with memory-sized chunks of a few units."""
    seen: dict[tuple[int, int], list[int]] = {}
    for unit, scores in rows:
        seen[(unit, sum(1 for u, _ in seen if u == unit))] = scores
    keys = list(seen)
    rnd.shuffle(keys)
    unit = np.array([u for u, _ in keys])
    ann = np.array([a for _, a in keys])
    ranks = rankdata(np.array([seen[k] for k in keys]), axis=1)
    whole = ranking_agreement(rank_block(unit, ann, ranks), unit_block=np.arange(10) % 3, n_blocks=3)
    with mock.patch("labelspec.check.ranking.CHUNK_CELLS", 7):
        chunked = ranking_agreement(rank_block(unit, ann, ranks), unit_block=np.arange(10) % 3, n_blocks=3)
    for field in ("unit", "w", "tau_b", "tau_sum", "tau_pairs"):
        assert getattr(whole, field).tobytes() == getattr(chunked, field).tobytes(), field
    assert whole.pair_blocks is not None and chunked.pair_blocks is not None  # summed in another order
    np.testing.assert_allclose(whole.pair_blocks, chunked.pair_blocks, rtol=1e-12)
    m = ranks.shape[1]
    for i, u in enumerate(whole.unit.tolist()):
        r = ranks[unit == u]
        n = len(r)
        ties = sum(sum(c**3 - c for c in np.unique(row, return_counts=True)[1]) for row in r)
        den = n * n * (m**3 - m) - n * ties
        s = float(((r.sum(axis=0) - n * (m + 1) / 2) ** 2).sum())
        if n >= 2 and den > 0:
            assert whole.w[i] == pytest.approx(12 * s / den, rel=1e-12)
        else:
            assert np.isnan(whole.w[i])
        taus = [t for a, b in itertools.combinations(r, 2) if not np.isnan(t := kendalltau(a, b).statistic)]
        if taus:
            assert whole.tau_b[i] == pytest.approx(np.mean(taus), rel=1e-9, abs=1e-12)
        else:
            assert np.isnan(whole.tau_b[i])
