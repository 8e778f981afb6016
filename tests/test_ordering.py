"""The packed, counting and radix orderings equal numpy's stable argsort, on every path (the packed value sort,
one, two or three counting passes, the fallback to the comparison sort)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check import ordering
from labelspec.check.ordering import group_order, sorted_and_order, stable_order


@pytest.mark.parametrize("space", [1, 2, 1000, 1 << 16, (1 << 16) + 1, 3_332_484 * 1000, 1 << 32, (1 << 32) + 5, 1 << 50, 1 << 62])
def test_large_arrays_match_argsort(space: int) -> None:
    keys = np.random.default_rng(space % 1000).integers(0, space, 200_000, dtype=np.int64)
    assert np.array_equal(stable_order(keys, space), np.argsort(keys, kind="stable"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, (1 << 49)), max_size=60), st.booleans(), st.sampled_from([0, 20, 63]))
def test_small_arrays_on_every_path(values: list[int], pass_space: bool, counting_bits: int) -> None:
    """``counting_bits`` 0: every key width takes the packed sort; 63: none does (the radix passes)."""
    keys = np.array(values, dtype=np.int64)
    space = (max(values) + 1 if values else 1) if pass_space else None
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ordering, "_MIN_SIZE", 0)
        mp.setattr(ordering, "_COUNTING_BITS", counting_bits)
        assert np.array_equal(stable_order(keys, space), np.argsort(keys, kind="stable"))


def test_keys_too_wide_to_pack_with_their_positions() -> None:
    keys = np.random.default_rng(7).integers(0, 1 << 50, 1 << 17, dtype=np.int64)  # 50 + 17 bits > 63
    keys[::3] = keys[1::3][: keys[::3].size]  # equal keys, to see stability
    assert np.array_equal(stable_order(keys, 1 << 50), np.argsort(keys, kind="stable"))


def test_equal_keys_keep_their_order() -> None:
    keys = np.repeat(np.array([5, 3, 5, 70_000, 3], dtype=np.int64), 20_000)
    order = stable_order(keys, 1 << 20)
    assert np.array_equal(order, np.argsort(keys, kind="stable"))
    assert (np.diff(order[keys[order] == 5]) > 0).all()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=200), st.integers(0, 5), st.booleans())
def test_groups_list_their_rows_in_order(values: list[int], spare: int, packed: bool) -> None:
    keys = np.array(values, dtype=np.int64)
    n_groups = (max(values) + 1 if values else 0) + spare  # groups with no rows are empty slices
    with pytest.MonkeyPatch.context() as mp:
        if packed:  # the path of more than 2**20 groups
            mp.setattr(ordering, "_MIN_SIZE", 0)
            mp.setattr(ordering, "_COUNTING_BITS", 0)
        order, offsets = group_order(keys, n_groups)
    assert np.array_equal(order, np.argsort(keys, kind="stable"))
    assert len(offsets) == n_groups + 1 and offsets[0] == 0 and offsets[-1] == len(keys)
    for g in range(n_groups):
        assert np.array_equal(order[offsets[g]:offsets[g + 1]], np.flatnonzero(keys == g))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, (1 << 45)), max_size=60), st.sampled_from([0, 20, 63]))
def test_sorted_and_order_is_the_gather_of_the_stable_order(values: list[int], counting_bits: int) -> None:
    keys = np.array(values, dtype=np.int64)
    space = max(values) + 1 if values else 1
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ordering, "_MIN_SIZE", 0)
        mp.setattr(ordering, "_COUNTING_BITS", counting_bits)
        ordered, order = sorted_and_order(keys, space)
    expected = np.argsort(keys, kind="stable")
    assert np.array_equal(order, expected) and np.array_equal(ordered, keys[expected])


def test_keys_already_in_order_are_recognised() -> None:
    keys = np.repeat(np.arange(50_000, dtype=np.int64), 3)  # grouped already, with ties
    assert np.array_equal(stable_order(keys), np.arange(keys.size))
    ordered, order = sorted_and_order(keys, 50_000)
    assert np.array_equal(order, np.arange(keys.size)) and np.array_equal(ordered, keys)
    ordered[0] = 7  # a copy: the caller may write into it
    assert keys[0] == 0
    keys[-1] = 0  # one key out of place: the real sort, still stable
    assert np.array_equal(stable_order(keys), np.argsort(keys, kind="stable"))


def test_negative_keys_take_the_comparison_sort() -> None:
    """The fast paths order non-negative keys; a library caller's negative ids (``ranking.rank_block`` accepts
    them) must not reach the counting sort, which refused them (found by a review)."""
    keys = np.random.default_rng(3).integers(-20_000, 20_000, 80_000)
    assert np.array_equal(stable_order(keys), np.argsort(keys, kind="stable"))
