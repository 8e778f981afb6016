"""Bootstrap replicates evaluated at once (``check.replicates``) equal one call of the single-table coefficient
per weighting: the same value to 1e-12, and undefined (NaN) exactly where the single-table function gives None.

Tables and weightings are random (hypothesis), with the edges that make a coefficient undefined: rows of one
judgment (not pairable), zero weights, a single category, fewer than two pairable units.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check import stats
from labelspec.check.bootstrap import collapse_patterns
from labelspec.check.replicates import (
    alpha_replicates,
    fleiss_replicates,
    gwet_replicates,
    percent_replicates,
    scott_replicates,
)

VALUES = np.array([1.0, 2.0, 4.0, 5.0])


def _single(fn: Callable[..., stats.Estimate], **kw: object) -> Callable[[np.ndarray, np.ndarray], float]:
    def one(rows: np.ndarray, w: np.ndarray) -> float:
        v = fn(rows, weights=w, **kw).value
        return math.nan if v is None else float(v)
    return one


CASES = {
    "percent": (percent_replicates, _single(stats.percent_agreement)),
    "fleiss": (fleiss_replicates, _single(stats.fleiss_kappa)),
    "scott": (scott_replicates, _single(stats.scott_pi)),
    "gwet": (gwet_replicates, _single(stats.gwet_ac1)),
    "alpha_nominal": (alpha_replicates("nominal"), _single(stats.krippendorff_alpha)),
    "alpha_ordinal": (alpha_replicates("ordinal"), _single(stats.krippendorff_alpha, level="ordinal")),
    "alpha_interval": (alpha_replicates("interval", VALUES),
                       _single(stats.krippendorff_alpha, level="interval", values=VALUES)),
    "alpha_ratio": (alpha_replicates("ratio", VALUES), _single(stats.krippendorff_alpha, level="ratio", values=VALUES)),
}

tables = st.integers(1, 6).flatmap(lambda p: st.tuples(
    st.lists(st.lists(st.integers(0, 3), min_size=4, max_size=4), min_size=p, max_size=p),
    st.lists(st.lists(st.integers(0, 3), min_size=p, max_size=p), min_size=1, max_size=8),
    st.booleans()))


@pytest.mark.parametrize("name", sorted(CASES))
@settings(max_examples=200, deadline=None)
@given(data=tables)
def test_replicates_equal_one_call_per_weighting(name: str, data: tuple[list[list[int]], list[list[int]], bool]
                                                 ) -> None:
    rows_list, weights_list, one_column = data
    rows = np.array(rows_list, dtype=np.int64)
    if one_column:  # every judgment in the first category: κ, π and α undefined, AC1 and p_a defined
        rows = np.stack([rows.sum(axis=1), *np.zeros((3, len(rows)), dtype=np.int64)], axis=1)
    weights = np.array(weights_list, dtype=np.float64)
    batch, single = CASES[name]
    got = batch(rows, weights)
    want = np.array([single(rows, w) for w in weights])
    assert np.array_equal(np.isnan(got), np.isnan(want)), (got, want)
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-12, atol=1e-12)


def test_the_interval_is_the_one_the_per_replicate_loop_gives() -> None:
    """On the 1M benchmark's shape of table (3 judgments per unit, 4 labels): the same interval either way."""
    rng = np.random.default_rng(7)
    counts = rng.multinomial(3, [0.4, 0.3, 0.2, 0.1], size=20_000)
    p = collapse_patterns(counts, keep_empty=True)
    for fn, batch in ((stats.krippendorff_alpha, alpha_replicates()), (stats.fleiss_kappa, fleiss_replicates),
                      (stats.gwet_ac1, gwet_replicates)):
        loop = stats.estimate_with_ci(p.rows, fn, weights=p.multiplicity, n_boot=300, seed=3)
        fast = stats.estimate_with_ci(p.rows, fn, weights=p.multiplicity, n_boot=300, seed=3, replicates=batch)
        assert fast.value == loop.value
        assert fast.ci_low == pytest.approx(loop.ci_low, abs=1e-12)
        assert fast.ci_high == pytest.approx(loop.ci_high, abs=1e-12)
