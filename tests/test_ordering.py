"""The radix ordering equals numpy's stable argsort, on every path (one pass, two passes, the fallback)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check import ordering
from labelspec.check.ordering import stable_order


@pytest.mark.parametrize("space", [1, 2, 1000, 1 << 16, (1 << 16) + 1, 3_332_484 * 1000, 1 << 32, (1 << 32) + 5])
def test_large_arrays_match_argsort(space: int) -> None:
    keys = np.random.default_rng(space % 1000).integers(0, space, 200_000, dtype=np.int64)
    assert np.array_equal(stable_order(keys, space), np.argsort(keys, kind="stable"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, (1 << 33)), max_size=60), st.booleans())
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
