"""The counting and radix orderings equal numpy's stable argsort, on every path (one, two or three passes, the
fallback to the comparison sort)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check import ordering
from labelspec.check.ordering import group_order, stable_order


@pytest.mark.parametrize("space", [1, 2, 1000, 1 << 16, (1 << 16) + 1, 3_332_484 * 1000, 1 << 32, (1 << 32) + 5, 1 << 50, 1 << 62])
def test_large_arrays_match_argsort(space: int) -> None:
    keys = np.random.default_rng(space % 1000).integers(0, space, 200_000, dtype=np.int64)
    assert np.array_equal(stable_order(keys, space), np.argsort(keys, kind="stable"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, (1 << 49)), max_size=60), st.booleans())
def test_small_arrays_on_the_radix_path(values: list[int], pass_space: bool) -> None:
    keys = np.array(values, dtype=np.int64)
    space = (max(values) + 1 if values else 1) if pass_space else None
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ordering, "_MIN_SIZE", 0)
        assert np.array_equal(stable_order(keys, space), np.argsort(keys, kind="stable"))


def test_equal_keys_keep_their_order() -> None:
    keys = np.repeat(np.array([5, 3, 5, 70_000, 3], dtype=np.int64), 20_000)
    order = stable_order(keys, 1 << 20)
    assert np.array_equal(order, np.argsort(keys, kind="stable"))
    assert (np.diff(order[keys[order] == 5]) > 0).all()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=200), st.integers(0, 5))
def test_groups_list_their_rows_in_order(values: list[int], spare: int) -> None:
    keys = np.array(values, dtype=np.int64)
    n_groups = (max(values) + 1 if values else 0) + spare  # groups with no rows are empty slices
    order, offsets = group_order(keys, n_groups)
    assert np.array_equal(order, np.argsort(keys, kind="stable"))
    assert len(offsets) == n_groups + 1 and offsets[0] == 0 and offsets[-1] == len(keys)
    for g in range(n_groups):
        assert np.array_equal(order[offsets[g]:offsets[g + 1]], np.flatnonzero(keys == g))
