"""Majority vote, per-label majority and median consensus, against hand-worked cases and pandas groupby."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check.consensus import majority_vote, median_consensus, per_label_majority

# --- majority vote -------------------------------------------------------------------------------------------


def test_majority_clear_winner_tie_and_empty_unit() -> None:
    counts = np.array([[3, 1, 0], [2, 2, 0], [0, 0, 0], [0, 1, 1], [0, 0, 5]])
    r = majority_vote(counts, min_support=0.5)
    assert r.winner.tolist() == [0, -1, -1, -1, 2]
    assert r.tie.tolist() == [False, True, False, True, False]
    assert r.n_judgments.tolist() == [4, 4, 0, 2, 5]
    np.testing.assert_allclose(r.support[[0, 1, 3, 4]], [0.75, 0.5, 0.5, 1.0])
    assert np.isnan(r.support[2])
    # an empty unit has no consensus and must fail closed
    assert r.low_support.tolist() == [False, False, True, False, False]


def test_tie_is_not_broken_by_argmax_order() -> None:
    # argmax would silently pick category 0 for both rows
    r = majority_vote(np.array([[2, 2], [1, 1]]))
    assert r.winner.tolist() == [-1, -1]
    assert r.tie.all()


def test_prefer_fills_the_winner_but_keeps_the_tie_flag() -> None:
    counts = np.array([[2, 2, 1], [0, 3, 3], [1, 4, 0], [2, 0, 2]])
    r = majority_vote(counts, prefer=[2, 1, 0])  # category 2 most preferred, then 1, then 0
    assert r.winner.tolist() == [1, 2, 1, 2]
    assert r.tie.tolist() == [True, True, False, True]
    with pytest.raises(ValueError, match="permutation"):
        majority_vote(counts, prefer=[0, 0, 1])


@pytest.mark.parametrize(
    ("votes", "n", "min_support", "low"),
    [
        (2, 3, 0.67, True),  # 0.6666… < 0.67: two of three does not meet a 0.67 gate
        (2, 3, 2 / 3, False),  # exactly at the threshold passes
        (7, 10, 0.7, False),  # 7/10 is the same double as the literal 0.7
        (3, 5, 0.6, False),
        (1, 2, 0.5, False),
        (1, 2, 0.5000001, True),
        (5, 5, 1.0, False),
        (4, 5, 1.0, True),
    ],
)
def test_min_support_boundaries(votes: int, n: int, min_support: float, low: bool) -> None:
    counts = np.array([[votes, n - votes]])
    r = majority_vote(counts, min_support=min_support)
    assert bool(r.low_support[0]) is low
    assert r.support[0] == votes / n


def test_majority_rejects_bad_tables() -> None:
    with pytest.raises(ValueError, match="negative"):
        majority_vote(np.array([[1, -1]]))
    with pytest.raises(ValueError, match="integer"):
        majority_vote(np.array([[1.0, 2.0]]))
    with pytest.raises(ValueError, match="table"):
        majority_vote(np.array([1, 2]))


def _pandas_majority(df: pd.DataFrame, n_units: int, n_cat: int) -> pd.DataFrame:
    """Independent majority: value_counts per unit, tie when the top count repeats."""
    rows = []
    for unit in range(n_units):
        vc = df.loc[df.unit == unit, "label"].value_counts()
        if vc.empty:
            rows.append((unit, -1, False, np.nan))
            continue
        top = vc.max()
        winners = vc[vc == top].index.tolist()
        rows.append((unit, winners[0] if len(winners) == 1 else -1, len(winners) > 1, top / vc.sum()))
    return pd.DataFrame(rows, columns=["unit", "winner", "tie", "support"])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 12).flatmap(
        lambda n_units: st.tuples(
            st.just(n_units),
            st.lists(st.tuples(st.integers(0, n_units - 1), st.integers(0, 3)), max_size=60),
        )
    )
)
def test_majority_matches_pandas(data: tuple[int, list[tuple[int, int]]]) -> None:
    n_units, judgments = data
    df = pd.DataFrame(judgments, columns=["unit", "label"], dtype=np.int64)
    counts = np.zeros((n_units, 4), dtype=np.int64)
    np.add.at(counts, (df.unit.to_numpy(), df.label.to_numpy()), 1)
    r = majority_vote(counts)
    ref = _pandas_majority(df, n_units, 4)
    assert r.winner.tolist() == ref.winner.tolist()
    assert r.tie.tolist() == ref.tie.tolist()
    np.testing.assert_allclose(r.support, ref.support.to_numpy(), equal_nan=True)


# --- per-label majority (multi_choice) -----------------------------------------------------------------------


def test_per_label_majority_half_is_in_and_flagged() -> None:
    counts = np.array([[3, 2, 0], [1, 0, 2], [0, 0, 0], [2, 1, 1]])
    n = np.array([4, 3, 0, 2])
    r = per_label_majority(counts, n, min_support=0.7)
    assert r.selected.tolist() == [
        [True, True, False],  # 2 of 4: exactly half is in (and flagged below)
        [False, False, True],
        [False, False, False],
        [True, True, True],
    ]
    assert r.tie.tolist() == [
        [False, True, False],
        [False, False, False],
        [False, False, False],
        [False, True, True],
    ]
    np.testing.assert_allclose(r.support[0], [0.75, 0.5, 1.0])
    np.testing.assert_allclose(r.support[1], [2 / 3, 1.0, 2 / 3])
    assert r.low_support[0].tolist() == [False, True, False]
    assert r.low_support[1].tolist() == [True, False, True]
    assert r.low_support[2].all() and np.isnan(r.share[2]).all()
    assert r.unit_review.tolist() == [True, True, True, True]
    with pytest.raises(ValueError, match="exceeds"):
        per_label_majority(np.array([[3]]), np.array([2]))


def test_per_label_support_is_one_division_of_whole_counts() -> None:
    """2 of 11 judgments chose the label: it is out with support 9/11, which meets min_support = 9/11 (1 − 2/11
    in floating point is below 9/11 and would flag it as low support)."""
    assert 1 - 2 / 11 < 9 / 11
    r = per_label_majority(np.array([[2]]), np.array([11]), min_support=9 / 11)
    assert r.support.tolist() == [[9 / 11]] and not r.low_support[0, 0]


# --- median consensus (rating) -------------------------------------------------------------------------------


def test_median_hand_cases() -> None:
    units = [0, 0, 0, 1, 1, 2, 2, 2, 2, 4]
    values = [3, 1, 2, 4, 3, 5, 5, 1, 5, 2]
    r = median_consensus(units, values, 5)
    np.testing.assert_allclose(r.median, [2.0, 3.5, 5.0, np.nan, 2.0])
    np.testing.assert_allclose(r.iqr, [1.0, 0.5, 1.0, np.nan, 0.0])
    # support: judgments equal to the median; 3.5 is nobody's judgment
    np.testing.assert_allclose(r.support, [1 / 3, 0.0, 0.75, np.nan, 1.0])
    assert r.n_judgments.tolist() == [3, 2, 4, 0, 1]
    np.testing.assert_allclose(median_consensus(units, values, 5, tolerance=0.5).support[1], 1.0)


def test_median_rejects_non_finite_values() -> None:
    with pytest.raises(ValueError, match="finite"):
        median_consensus([0, 0], [1.0, np.nan], 1)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 10).flatmap(
        lambda n_units: st.tuples(
            st.just(n_units),
            st.lists(st.tuples(st.integers(0, n_units - 1), st.integers(1, 7)), max_size=50),
        )
    )
)
def test_median_matches_pandas_groupby(data: tuple[int, list[tuple[int, int]]]) -> None:
    n_units, judgments = data
    df = pd.DataFrame(judgments, columns=["unit", "value"]).astype({"unit": np.int64, "value": np.float64})
    r = median_consensus(df.unit.to_numpy(), df.value.to_numpy(), n_units)
    grouped = df.groupby("unit")["value"]
    index = pd.RangeIndex(n_units)
    median = grouped.median().reindex(index)
    iqr = (grouped.quantile(0.75) - grouped.quantile(0.25)).reindex(index)
    share = df.assign(eq=df.value == df.unit.map(median)).groupby("unit")["eq"].mean().reindex(index)
    np.testing.assert_allclose(r.median, median.to_numpy(), equal_nan=True)
    np.testing.assert_allclose(r.iqr, iqr.to_numpy(), equal_nan=True, atol=1e-12)
    np.testing.assert_allclose(r.support, share.to_numpy(dtype=float), equal_nan=True)


def test_as_codes_keeps_int32_codes_only_when_asked() -> None:
    """``widen=False`` (Dawid–Skene's per-judgment codes) keeps int32 and int64 arrays themselves, no copy; any
    other integer type, and every call by default, gives int64. Out-of-range codes fail either way."""
    from labelspec.check.consensus import as_codes

    codes = np.array([0, 2, 1], dtype=np.int32)
    assert as_codes(codes, 3, "u", widen=False) is codes
    assert as_codes(codes, 3, "u").dtype == np.int64
    assert as_codes(codes.astype(np.uint8), 3, "u", widen=False).dtype == np.int64
    with pytest.raises(ValueError, match="outside"):
        as_codes(codes, 2, "u", widen=False)
