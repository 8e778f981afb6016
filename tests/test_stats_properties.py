"""Properties of the agreement statistics on random count tables (hypothesis).

Equality with the ``krippendorff`` package, statsmodels, scikit-learn and NLTK on random data; invariance
under relabelling categories and reordering units; 1 under perfect agreement; bounds; weights = repeated rows;
never NaN (undefined is ``None`` with a reason).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import krippendorff
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from labelspec.check import stats
from labelspec.check.pairwise import _margins

settings.register_profile(
    "labelspec-stats", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("labelspec-stats")

CountArray = npt.NDArray[np.int64]
Stat = Callable[..., stats.Estimate]

NOMINAL_STATS: dict[str, Stat] = {
    "alpha": stats.krippendorff_alpha,
    "fleiss": stats.fleiss_kappa,
    "scott": stats.scott_pi,
    "ac1": stats.gwet_ac1,
    "percent": stats.percent_agreement,
}


@st.composite
def count_tables(draw: st.DrawFn, min_k: int = 2, max_k: int = 5, max_u: int = 25) -> CountArray:
    k = draw(st.integers(min_k, max_k))
    u = draw(st.integers(1, max_u))
    return draw(hnp.arrays(np.int64, (u, k), elements=st.integers(0, 4)))


@st.composite
def scale_values(draw: st.DrawFn, k: int) -> npt.NDArray[np.float64]:
    vals = draw(st.lists(st.integers(0, 50), min_size=k, max_size=k, unique=True))
    return np.array(sorted(vals), dtype=np.float64)


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


# ---- independent implementations ---------------------------------------------------------------------------


@given(data=st.data(), counts=count_tables())
@pytest.mark.parametrize("level", stats.LEVELS)
def test_alpha_matches_krippendorff_package(
    level: stats.Level, data: st.DataObject, counts: CountArray
) -> None:
    values = data.draw(scale_values(counts.shape[1]))
    ours = stats.krippendorff_alpha(counts, level=level, values=values)
    assume(ours.value is not None)
    theirs = krippendorff.alpha(value_counts=counts, value_domain=values, level_of_measurement=level)
    assert ours.value == pytest.approx(theirs, rel=1e-9, abs=1e-9)


@given(counts=count_tables(max_u=15))
def test_masi_alpha_matches_nltk_on_singleton_sets(counts: CountArray) -> None:
    """With one label per set MASI is the nominal metric, so MASI α equals nominal α (and NLTK's)."""
    from nltk.metrics.agreement import AnnotationTask
    from nltk.metrics.distance import masi_distance

    sets = [frozenset({f"l{k}"}) for k in range(counts.shape[1])]
    ours = stats.masi_alpha(counts, sets)
    assume(ours.value is not None)
    assert ours.value == pytest.approx(stats.krippendorff_alpha(counts).value, abs=1e-12)
    records = [
        (f"c{j}", f"i{u}", sets[k])
        for u in range(counts.shape[0])
        for j, k in enumerate(np.repeat(np.arange(counts.shape[1]), counts[u]))
    ]
    task = AnnotationTask(data=records, distance=masi_distance)
    assert ours.value == pytest.approx(task.alpha(), abs=1e-9)


@given(
    k=st.integers(2, 5),
    raters=st.integers(2, 7),
    probs=st.lists(st.floats(0.05, 1.0), min_size=5, max_size=5),
    seed=st.integers(0, 2**32 - 1),
)
def test_fleiss_matches_statsmodels(k: int, raters: int, probs: list[float], seed: int) -> None:
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    p = np.array(probs[:k]) / sum(probs[:k])
    counts = np.random.default_rng(seed).multinomial(raters, p, size=20)
    ours = stats.fleiss_kappa(counts)
    assume(ours.value is not None)
    assert ours.value == pytest.approx(sm_fleiss(counts, method="fleiss"), abs=1e-9)
    assert ours.value == pytest.approx(stats.scott_pi(counts).value, abs=1e-12)  # equal raters: π = κ


@given(
    labels=hnp.arrays(np.int64, st.tuples(st.just(2), st.integers(2, 40)), elements=st.integers(0, 4)),
    weights=st.sampled_from(["none", "linear", "quadratic"]),
)
def test_cohen_matches_sklearn(labels: CountArray, weights: stats.KappaWeights) -> None:
    from sklearn.metrics import cohen_kappa_score

    confusion = np.zeros((5, 5), dtype=np.int64)
    np.add.at(confusion, (labels[0], labels[1]), 1)
    ours = stats.cohen_kappa(confusion, weights=weights)
    assume(ours.value is not None)
    assert ours.value is not None
    want = cohen_kappa_score(
        labels[0], labels[1], labels=list(range(5)), weights=None if weights == "none" else weights
    )
    assert ours.value == pytest.approx(want, abs=1e-9)
    assert -1.0 - 1e-12 <= ours.value <= 1.0 + 1e-12


@given(k=st.integers(0, 2000), extra=st.integers(0, 2000), level=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_matches_statsmodels(k: int, extra: int, level: float) -> None:
    from statsmodels.stats.proportion import proportion_confint

    n = k + extra
    assume(n > 0)
    est = stats.wilson_interval(k, n, level)
    low, high = proportion_confint(k, n, alpha=1 - level, method="wilson")
    assert est.ci_low == pytest.approx(low, abs=1e-12) and est.ci_high == pytest.approx(high, abs=1e-12)
    assert (
        est.ci_low is not None
        and est.ci_high is not None
        and 0.0 <= est.ci_low <= k / n <= est.ci_high <= 1.0
    )


@settings(max_examples=15)  # statsmodels' multipletests costs ~0.1 s a call
@given(p=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30))
def test_holm_matches_statsmodels(p: list[float]) -> None:
    from statsmodels.stats.multitest import multipletests

    np.testing.assert_allclose(stats.holm(p), multipletests(p, method="holm")[1], atol=1e-12)


# ---- invariances -------------------------------------------------------------------------------------------


@given(data=st.data(), counts=count_tables())
def test_relabelling_categories_changes_nothing(data: st.DataObject, counts: CountArray) -> None:
    perm = np.array(data.draw(st.permutations(range(counts.shape[1]))))
    for name, fn in NOMINAL_STATS.items():
        assert close(fn(counts).value, fn(counts[:, perm]).value), name
    per_label = stats.per_label_alpha(counts)
    permuted = stats.per_label_alpha(counts[:, perm])
    assert all(close(per_label[p].value, permuted[i].value) for i, p in enumerate(perm))


@given(data=st.data(), counts=count_tables())
def test_reordering_units_changes_nothing(data: st.DataObject, counts: CountArray) -> None:
    perm = np.array(data.draw(st.permutations(range(counts.shape[0]))))
    for name, fn in {**NOMINAL_STATS, "ordinal": _ordinal}.items():
        a, b = fn(counts), fn(counts[perm])
        assert close(a.value, b.value) and (a.n_units, a.n_excluded) == (b.n_units, b.n_excluded), name
    first = stats.bootstrap(counts, stats.percent_agreement, n_boot=30)
    assert first == stats.bootstrap(counts[perm], stats.percent_agreement, n_boot=30)


def _ordinal(counts: CountArray, *, weights: npt.ArrayLike | None = None) -> stats.Estimate:
    return stats.krippendorff_alpha(counts, weights=weights, level="ordinal")


@given(data=st.data(), counts=count_tables(max_u=12), weights=st.data())
def test_weights_equal_repeated_rows(data: st.DataObject, counts: CountArray, weights: st.DataObject) -> None:
    w = np.array(weights.draw(st.lists(st.integers(0, 3), min_size=len(counts), max_size=len(counts))))
    repeated = np.repeat(counts, w, axis=0)
    for name, fn in {**NOMINAL_STATS, "ordinal": _ordinal}.items():
        a, b = fn(counts, weights=w), fn(repeated)
        assert close(a.value, b.value) and (a.n_units, a.n_excluded) == (b.n_units, b.n_excluded), name
    pa, pb = stats.collapse_patterns(counts, w), stats.collapse_patterns(repeated)
    np.testing.assert_array_equal(pa.rows, pb.rows)
    np.testing.assert_array_equal(pa.multiplicity, pb.multiplicity)
    boot = stats.bootstrap(counts, stats.fleiss_kappa, weights=w, n_boot=30)
    assert boot == stats.bootstrap(repeated, stats.fleiss_kappa, n_boot=30)


@given(counts=count_tables(max_u=15))
def test_estimate_with_ci_point_equals_direct_call(counts: CountArray) -> None:
    for name, fn in NOMINAL_STATS.items():
        direct, combined = fn(counts), stats.estimate_with_ci(counts, fn, n_boot=20)
        assert close(direct.value, combined.value), name
        assert (direct.n_units, direct.n_excluded, direct.reason) == (
            combined.n_units,
            combined.n_excluded,
            combined.reason,
        )


# ---- perfect agreement, bounds, fail-closed ------------------------------------------------------------------


@given(
    data=st.data(),
    cats=st.lists(st.integers(0, 4), min_size=2, max_size=20).filter(lambda c: len(set(c)) >= 2),
)
def test_perfect_agreement_is_one(data: st.DataObject, cats: list[int]) -> None:
    m = data.draw(st.lists(st.integers(2, 6), min_size=len(cats), max_size=len(cats)))
    counts = np.zeros((len(cats), 5), dtype=np.int64)
    counts[np.arange(len(cats)), cats] = m
    values = data.draw(scale_values(5))
    for level in stats.LEVELS:
        assert stats.krippendorff_alpha(counts, level=level, values=values).value == pytest.approx(1.0)
    for name, fn in NOMINAL_STATS.items():
        assert fn(counts).value == pytest.approx(1.0), name
    for est in stats.per_label_alpha(counts):
        assert est.value is None or est.value == pytest.approx(1.0)
    confusion = np.diag(np.bincount(cats, minlength=5))
    for weights in ("none", "linear", "quadratic"):
        assert stats.cohen_kappa(confusion, weights=weights).value == pytest.approx(1.0)


@given(data=st.data(), counts=count_tables())
def test_bounds(data: st.DataObject, counts: CountArray) -> None:
    values = data.draw(scale_values(counts.shape[1]))
    for level in stats.LEVELS:
        value = stats.krippendorff_alpha(counts, level=level, values=values).value
        assert value is None or value <= 1.0 + 1e-12
    percent = stats.percent_agreement(counts).value
    assert percent is None or 0.0 <= percent <= 1.0
    for fn in (stats.fleiss_kappa, stats.scott_pi, stats.gwet_ac1):
        value = fn(counts).value
        assert value is None or value <= 1.0 + 1e-12
    assert all(e.value is None or e.value <= 1.0 + 1e-12 for e in stats.per_label_alpha(counts))


@given(counts=count_tables(min_k=1, max_k=3, max_u=4))
def test_never_nan_and_reason_when_undefined(counts: CountArray) -> None:
    results = [fn(counts) for fn in NOMINAL_STATS.values()]
    results += list(stats.per_label_alpha(counts))
    results += [stats.krippendorff_alpha(counts, level="ordinal")]
    for est in results:
        assert (est.value is None) == (est.reason is not None)
        assert est.value is None or math.isfinite(est.value)
        assert isinstance(est.n_units, int) and est.n_units + est.n_excluded == len(counts)


@given(
    confusions=hnp.arrays(
        np.int64, st.tuples(st.integers(1, 6), st.just(3), st.just(3)), elements=st.integers(0, 3)
    )
)
def test_pairwise_kappa_fails_closed(confusions: CountArray) -> None:
    for weights in ("none", "linear", "quadratic"):
        for est in stats.pairwise_cohen_kappa(confusions, weights=weights):
            assert (est.value is None) == (est.reason is not None)
            assert est.value is None or -1.0 - 1e-12 <= est.value <= 1.0 + 1e-12
        mean = stats.mean_cohen_kappa(confusions, weights=weights)
        assert mean.n_units + mean.n_excluded == len(confusions)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), shape=st.sampled_from([(0, 3), (5, 0), (12, 1), (20, 4), (20, 4), (15, 12)]),
       high=st.sampled_from([0, 2, 60, 70]))
def test_unit_table_patterns_equal_collapsing_the_judged_rows(data: st.DataObject, shape: tuple[int, int],
                                                               high: int) -> None:
    """Each unit's pattern, and the patterns themselves, whichever path codes the rows: counted (small codes),
    sorted (codes beyond 2**22: 61**4) or compared as rows (beyond 2**62: 71**12)."""
    from labelspec.check.bootstrap import unit_table_patterns

    table = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, high)))
    table[: shape[0] // 3] = 0  # units without judgments
    got = unit_table_patterns(table)
    judged = table.sum(axis=1) > 0
    want = stats.collapse_patterns(table[judged], keep_empty=True)
    np.testing.assert_array_equal(got.patterns.rows, want.rows)
    np.testing.assert_array_equal(got.patterns.multiplicity, want.multiplicity)
    assert (got.of_unit[~judged] == -1).all()
    np.testing.assert_array_equal(got.patterns.rows[got.of_unit[judged]], table[judged])
    narrow = unit_table_patterns(table.astype(np.int32))  # the check's shared int32 unit table: the same
    np.testing.assert_array_equal(narrow.patterns.rows, got.patterns.rows)
    np.testing.assert_array_equal(narrow.patterns.multiplicity, got.patterns.multiplicity)
    np.testing.assert_array_equal(narrow.of_unit, got.of_unit)
    assert narrow.patterns.rows.dtype == np.int64


@settings(max_examples=150, deadline=None)
@given(data=st.data(), shape=st.sampled_from([(1, 1), (12, 1), (20, 3), (20, 4), (15, 12)]),
       high=st.sampled_from([0, 2, 60, 70]), keep_empty=st.booleans())
def test_unweighted_collapse_counts_like_the_weighted_path(data: st.DataObject, shape: tuple[int, int], high: int,
                                                            keep_empty: bool) -> None:
    """Without weights rows are counted as integers (dense or sorted codes); the result is the weighted path's,
    empty rows and the row-comparing fallback (71**12 > 2**62) included."""
    table = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, high)))
    table[: shape[0] // 3] = 0
    fast = stats.collapse_patterns(table, keep_empty=keep_empty)
    slow = stats.collapse_patterns(table, np.ones(shape[0]), keep_empty=keep_empty)
    np.testing.assert_array_equal(fast.rows, slow.rows)
    np.testing.assert_array_equal(fast.multiplicity, slow.multiplicity)
    assert fast.rows.dtype == slow.rows.dtype == np.int64 and fast.multiplicity.dtype == np.int64


@settings(max_examples=150, deadline=None)
@given(data=st.data(), shape=st.sampled_from([(0, 3), (1, 1), (12, 2), (20, 3), (20, 4), (9, 0)]),
       high=st.sampled_from([0, 1, 5, 1000]), keep_empty=st.booleans())
def test_weighted_collapse_equals_numpy_unique_rows(data: st.DataObject, shape: tuple[int, int], high: int,
                                                    keep_empty: bool) -> None:
    """The weighted path (column maxima and non-empty rows found column by column) against ``np.unique(axis=0)``
    of the rows it keeps, their weights summed: an independent reference for the rows and multiplicities."""
    table = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, high)))
    w = np.array(data.draw(st.lists(st.integers(0, 4), min_size=shape[0], max_size=shape[0])), dtype=np.float64)
    got = stats.collapse_patterns(table, w, keep_empty=keep_empty)
    keep = (w > 0) & (True if keep_empty else table.sum(axis=1) > 0)
    if shape[1] == 0 or not keep.any():
        assert got.rows.shape[1] == shape[1] and got.multiplicity.sum() == (w[keep].sum() if shape[1] == 0 else 0)
        return
    rows, inverse = np.unique(table[keep], axis=0, return_inverse=True)
    want = np.bincount(inverse.reshape(-1), weights=w[keep])
    # the same rows once each, in its own order (by mixed-radix code, the first column the lowest digit)
    assert dict(zip(map(tuple, got.rows.tolist()), got.multiplicity.tolist(), strict=True)) == dict(
        zip(map(tuple, rows.tolist()), want.astype(int).tolist(), strict=True))
    assert got.rows.shape == rows.shape and got.rows.dtype == got.multiplicity.dtype == np.int64


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 30), st.integers(1, 6), st.integers(0, 2**31))
def test_pair_margins_by_one_product_are_the_sums(n_pairs: int, k: int, seed: int) -> None:
    """The row and column sums of a stack of confusion tables, made by one matrix product, are numpy's sums."""
    conf = np.random.default_rng(seed).integers(0, 50, size=(n_pairs, k, k)).astype(np.float64)
    rows, cols = _margins(conf)
    assert rows.shape == cols.shape == (n_pairs, k)
    assert np.array_equal(rows, conf.sum(axis=-1)) and np.array_equal(cols, conf.sum(axis=-2))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(2, 5), st.sampled_from(["none", "linear", "quadratic"]), st.integers(0, 10**6))
def test_pair_kappas_made_once_give_what_each_made_alone(n_pairs: int, k: int, weights: stats.KappaWeights,
                                                        seed: int) -> None:
    """The mean, its interval, the influences and the per-pair values from one :func:`stats.pair_kappas` are those
    each function computes by itself, bit for bit; kappas of other tables or weights are refused."""
    rng = np.random.default_rng(seed)
    conf = rng.integers(0, 4, size=(n_pairs, k, k))
    made = stats.pair_kappas(conf, weights=weights)
    assert stats.mean_cohen_kappa(conf, weights=weights, kappas=made) == stats.mean_cohen_kappa(conf, weights=weights)
    for got, want in zip(stats.pairwise_kappa_values(conf, weights=weights, kappas=made),
                         stats.pairwise_kappa_values(conf, weights=weights), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(stats.kappa_influence(conf, weights=weights, kappas=made),
                                  stats.kappa_influence(conf, weights=weights))
    cells = rng.integers(0, n_pairs * k * k, size=50)
    blocks = rng.integers(0, 7, size=50)
    assert (stats.bootstrap_mean_cohen_kappa(conf, cells, blocks, 7, weights=weights, n_boot=50, kappas=made)
            == stats.bootstrap_mean_cohen_kappa(conf, cells, blocks, 7, weights=weights, n_boot=50))
    other = "linear" if weights == "none" else "none"
    with pytest.raises(ValueError, match="other confusion tables or weights"):
        stats.mean_cohen_kappa(conf, weights=other, kappas=made)
    with pytest.raises(ValueError, match="other confusion tables or weights"):
        stats.pairwise_kappa_values(conf[:0], weights=weights, kappas=made)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(2, 5), st.sampled_from(["none", "linear", "quadratic"]), st.integers(0, 10**6),
       st.integers(1, 7))
def test_influences_built_by_pieces_of_pairs_are_the_whole_stacks(n_pairs: int, k: int, weights: stats.KappaWeights,
                                                                  seed: int, piece: int) -> None:
    """The (P, K, K) influences are built piece by piece of pairs (each piece's passes in cache): the same
    additions in the same order, so the same floats as one piece."""
    from labelspec.check import pairwise

    conf = np.random.default_rng(seed).integers(0, 4, size=(n_pairs, k, k))
    whole = stats.kappa_influence(conf, weights=weights)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pairwise, "_INFLUENCE_PAIRS", piece)
        np.testing.assert_array_equal(stats.kappa_influence(conf, weights=weights), whole)
