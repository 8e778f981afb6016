"""Agreement statistics against published worked examples and independent implementations.

Published tables are embedded as literals (so the suite stands alone) and checked against
shared/reference/ when that folder is present. Independent implementations: krippendorff, statsmodels,
scikit-learn, nltk, scipy.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from labelspec.check import stats

# fmt: off
# Krippendorff (2011), section C: 4 observers × 12 units, values 1–5, None = missing.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]
# Fleiss (1971), Table 1: 30 patients × 6 psychiatrists, diagnoses 1–5.
FLEISS_1971 = [
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5], [2, 2, 2, 4, 4, 4],
    [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4], [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5],
    [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4], [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5],
    [3, 3, 3, 3, 3, 5], [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4], [1, 4, 4, 4, 4, 5],
    [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4], [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]
# Wikipedia's Fleiss' kappa example: 10 subjects × 5 categories, 14 raters each.
FLEISS_WIKIPEDIA = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]
# fmt: on
# irrCAC vignette (Gwet), cont3x3abstractors: 2 raters, 100 subjects, rows = rater 1.
ABSTRACTORS = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


def unit_counts(ratings: Sequence[Sequence[int | None]], k: int, *, by_rater: bool) -> npt.NDArray[np.int64]:
    """(U, K) counts from raw ratings (values 1..k); rows are raters when ``by_rater`` else units."""
    arr = np.array([[0 if v is None else v for v in row] for row in ratings])
    units = arr.T if by_rater else arr
    return np.stack([(units == c).sum(axis=1) for c in range(1, k + 1)], axis=1)


def pair_units(confusion: list[list[int]]) -> npt.NDArray[np.int64]:
    """(U, K) counts of a two-rater study from its confusion table."""
    conf = np.asarray(confusion)
    k = conf.shape[0]
    rows = [np.bincount([i, j], minlength=k) for i in range(k) for j in range(k) for _ in range(conf[i, j])]
    return np.array(rows)


@pytest.fixture(scope="module")
def kripp() -> npt.NDArray[np.int64]:
    return unit_counts(KRIPPENDORFF_2011, 5, by_rater=True)


# ---- the embedded literals are the shared reference files ----------------------------------------------


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="shared/reference not beside this checkout")
def test_embedded_tables_match_shared_reference() -> None:
    def read(name: str) -> list[list[str]]:
        with (REFERENCE / name).open(newline="") as fh:
            return [row[1:] for row in list(csv.reader(fh))[1:]]

    as_ints = [[int(v) if v else None for v in row] for row in read("krippendorff2011_reliability_data.csv")]
    assert as_ints == KRIPPENDORFF_2011
    assert [[int(v) for v in row] for row in read("fleiss1971_diagnoses_raw.csv")] == FLEISS_1971
    assert [[int(v) for v in row] for row in read("fleiss_wikipedia_counts.csv")] == FLEISS_WIKIPEDIA


# ---- published values -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected"),
    [("nominal", 0.743421), ("ordinal", 0.815388), ("interval", 0.849107), ("ratio", 0.797403)],
)
def test_krippendorff_2011_alpha(kripp: npt.NDArray[np.int64], level: stats.Level, expected: float) -> None:
    est = stats.krippendorff_alpha(kripp, level=level, values=[1, 2, 3, 4, 5])
    assert est.value is not None and round(est.value, 6) == expected
    assert (est.n_units, est.n_excluded, est.reason) == (11, 1, None)


def test_alpha_from_counts_with_explicit_distances(kripp: npt.NDArray[np.int64]) -> None:
    marginals = stats.coincidence(kripp).sum(axis=1)
    np.testing.assert_allclose(marginals, [9, 13, 10, 5, 3])  # Krippendorff 2011's n_c row
    ordinal = stats.distance_matrix("ordinal", marginals=marginals)
    assert ordinal[0, 1] == pytest.approx(11.0**2)  # δ(1,2) = 9/2 + 13/2 in Krippendorff's table
    est = stats.alpha_from_counts(kripp, ordinal)
    assert est.value is not None and round(est.value, 6) == 0.815388


def test_krippendorff_2011_other_coefficients(kripp: npt.NDArray[np.int64]) -> None:
    assert round(stats.fleiss_kappa(kripp).value or 0, 5) == 0.76117
    assert round(stats.percent_agreement(kripp).value or 0, 7) == 0.8181818


def test_fleiss_1971() -> None:
    counts = unit_counts(FLEISS_1971, 5, by_rater=False)
    assert round(stats.fleiss_kappa(counts).value or 0, 6) == 0.430245
    assert round(stats.fleiss_kappa(counts[:15]).value or 0, 7) == 0.4139265
    assert round(stats.krippendorff_alpha(counts[:15]).value or 0, 7) == 0.4204384


def test_fleiss_wikipedia() -> None:
    assert round(stats.fleiss_kappa(FLEISS_WIKIPEDIA).value or 0, 6) == 0.209931
    assert round(stats.krippendorff_alpha(FLEISS_WIKIPEDIA).value or 0, 6) == 0.215574


def test_irrcac_abstractors_two_raters() -> None:
    """Gwet's irrCAC vignette: Scott's π .7962397, AC1 .8493305, α .7972585, percent .89, Cohen .7964094."""
    counts = pair_units(ABSTRACTORS)
    assert round(stats.scott_pi(counts).value or 0, 7) == 0.7962397
    assert round(stats.fleiss_kappa(counts).value or 0, 7) == 0.7962397  # = Scott's π for 2 raters
    assert round(stats.gwet_ac1(counts).value or 0, 7) == 0.8493305
    assert round(stats.krippendorff_alpha(counts).value or 0, 7) == 0.7972585
    assert stats.percent_agreement(counts).value == pytest.approx(0.89)
    assert round(stats.cohen_kappa(ABSTRACTORS).value or 0, 7) == 0.7964094


@pytest.mark.parametrize(
    ("table", "weights", "expected", "digits"),
    [
        ([[20, 5], [10, 15]], "none", 0.40, 2),
        ([[45, 15], [25, 15]], "none", 0.1304, 4),
        ([[25, 35], [5, 35]], "none", 0.2593, 4),
        ([[0, 4, 1], [0, 8, 0], [0, 1, 5]], "none", 0.4842, 4),
        ([[0, 4, 1], [0, 8, 0], [0, 1, 5]], "linear", 0.4701, 4),
    ],
)
def test_cohen_published(
    table: list[list[int]], weights: stats.KappaWeights, expected: float, digits: int
) -> None:
    est = stats.cohen_kappa(table, weights=weights)
    assert est.value is not None and round(est.value, digits) == expected
    assert est.n_units == int(np.sum(table))


# ---- independent implementations --------------------------------------------------------------------------


def test_fleiss_matches_statsmodels_equal_raters() -> None:
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    rng = np.random.default_rng(7)
    for _ in range(20):
        counts = rng.multinomial(5, rng.dirichlet(np.ones(4)), size=40)
        assert stats.fleiss_kappa(counts).value == pytest.approx(
            sm_fleiss(counts, method="fleiss"), abs=1e-12
        )


@pytest.mark.parametrize("weights", ["none", "linear", "quadratic"])
def test_cohen_matches_sklearn(weights: stats.KappaWeights) -> None:
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(11)
    pairs = [rng.integers(0, 4, size=(2, 60)) for _ in range(15)]
    confusions = np.zeros((len(pairs), 4, 4), dtype=np.int64)
    for p, (a, b) in enumerate(pairs):
        np.add.at(confusions[p], (a, b), 1)
    got = stats.pairwise_cohen_kappa(confusions, weights=weights)
    sk_weights = None if weights == "none" else weights
    for est, (a, b) in zip(got, pairs, strict=True):
        want = cohen_kappa_score(a, b, labels=[0, 1, 2, 3], weights=sk_weights)
        assert est.value == pytest.approx(want, abs=1e-12)


def _coder_records(labels: npt.NDArray[np.int64]) -> list[tuple[str, str, int]]:
    """NLTK (coder, item, label) triples from a complete (raters, items) matrix."""
    return [(f"c{r}", f"i{i}", int(v)) for r, row in enumerate(labels) for i, v in enumerate(row)]


def test_scott_pi_and_mean_kappa_match_nltk() -> None:
    from nltk.metrics.agreement import AnnotationTask

    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, size=50)
    labels = np.where(rng.random((4, 50)) < 0.7, truth, rng.integers(0, 3, size=(4, 50)))
    counts = np.stack([(labels == c).sum(axis=0) for c in range(3)], axis=1)
    task = AnnotationTask(data=_coder_records(labels))
    assert stats.scott_pi(counts).value == pytest.approx(task.pi(), abs=1e-12)
    pairs = [(a, b) for a in range(4) for b in range(a + 1, 4)]
    confusions = np.zeros((len(pairs), 3, 3), dtype=np.int64)
    for p, (a, b) in enumerate(pairs):
        np.add.at(confusions[p], (labels[a], labels[b]), 1)
    mean = stats.mean_cohen_kappa(confusions)
    assert mean.value == pytest.approx(task.kappa(), abs=1e-12)
    assert (mean.n_units, mean.n_excluded) == (6, 0)


def test_masi_alpha_matches_nltk() -> None:
    from nltk.metrics.agreement import AnnotationTask
    from nltk.metrics.distance import masi_distance

    sets = [frozenset(), frozenset("a"), frozenset("b"), frozenset("ab"), frozenset("bc"), frozenset("abc")]
    rng = np.random.default_rng(5)
    choice = rng.integers(0, len(sets), size=(3, 25))
    choice[2, :8] = -1  # missing judgments
    records = [(f"c{r}", f"i{i}", sets[v]) for r in range(3) for i, v in enumerate(choice[r]) if v >= 0]
    # NLTK's MASI divides by the union, so it cannot compare two empty sets: keep those out of its data
    records = [rec for rec in records if rec[2]]
    counts = np.zeros((25, len(sets)), dtype=np.int64)
    for _, item, labelset in records:
        counts[int(item[1:]), sets.index(labelset)] += 1
    task = AnnotationTask(data=records, distance=masi_distance)
    assert stats.masi_alpha(counts, sets).value == pytest.approx(task.alpha(), abs=1e-12)


def test_masi_distance_values() -> None:
    sets = [frozenset(), frozenset({"a"}), frozenset({"a", "b"}), frozenset({"b", "c"}), frozenset({"c"})]
    d = stats.masi_distance_matrix(sets)
    assert d[0, 0] == 0.0 and d[0, 1] == 1.0
    assert d[1, 2] == pytest.approx(1 - 0.5 * 2 / 3)  # subset
    assert d[2, 3] == pytest.approx(1 - (1 / 3) * (1 / 3))  # overlap
    assert d[1, 4] == 1.0 and d[2, 2] == 0.0
    np.testing.assert_array_equal(d, d.T)


def test_per_label_alpha_equals_binary_alpha(kripp: npt.NDArray[np.int64]) -> None:
    m = kripp.sum(axis=1)
    tables = [np.stack([kripp[:, k], m - kripp[:, k]], axis=1) for k in range(5)]
    fast = stats.per_label_alpha(kripp)
    slow = stats.per_label_binary_alpha(tables)
    for a, b in zip(fast, slow, strict=True):
        assert a.value == pytest.approx(b.value, abs=1e-12)
        assert (a.n_units, a.n_excluded) == (b.n_units, b.n_excluded)


def test_wilson_matches_statsmodels() -> None:
    from statsmodels.stats.proportion import proportion_confint

    for k, n in [(0, 10), (10, 10), (3, 7), (412, 480), (1, 1)]:
        for level in (0.9, 0.95, 0.99):
            est = stats.wilson_interval(k, n, level)
            low, high = proportion_confint(k, n, alpha=1 - level, method="wilson")
            assert est.value == pytest.approx(k / n)
            assert est.ci_low == pytest.approx(low, abs=1e-12)
            assert est.ci_high == pytest.approx(high, abs=1e-12)
    empty = stats.wilson_interval(0, 0)
    assert (empty.value, empty.ci_low, empty.reason) == (None, None, "no observations")


def test_holm_matches_statsmodels() -> None:
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(2)
    for size in (1, 2, 7, 30):
        p = rng.random(size) ** 3
        p[: size // 3] = p[0]  # ties
        np.testing.assert_allclose(stats.holm(p), multipletests(p, method="holm")[1], atol=1e-15)
    with pytest.raises(ValueError):
        stats.holm([0.1, float("nan")])


def test_chi_square_gof_matches_scipy() -> None:
    from scipy.stats import chisquare

    observed, share = np.array([30, 14, 34, 45, 27]), np.array([0.2, 0.1, 0.25, 0.3, 0.15])
    got = stats.chi_square_gof(observed, share)
    want = chisquare(observed, share * observed.sum())
    assert got.statistic == pytest.approx(want.statistic)
    assert got.p_value == pytest.approx(want.pvalue)
    assert got.dof == 4
    zero_share = stats.chi_square_gof([5, 0, 3], [0.5, 0.0, 0.5])
    assert zero_share.dof == 1 and zero_share.p_value == pytest.approx(chisquare([5, 3]).pvalue)
    impossible = stats.chi_square_gof([5, 1, 3], [0.5, 0.0, 0.5])
    assert (impossible.statistic, impossible.p_value) == (None, 0.0)
    assert stats.chi_square_gof([0, 0], [0.5, 0.5]).reason == "no observations"


def test_chi_square_one_vs_rest_matches_scipy() -> None:
    from scipy.stats import chi2_contingency

    table = np.array([[20, 5, 0, 7], [18, 9, 0, 3], [2, 25, 0, 10], [0, 0, 0, 0]])
    got = stats.chi_square_one_vs_rest(table)
    for a in range(3):
        rest = table.sum(axis=0) - table[a]
        used = table.sum(axis=0) > 0
        want = chi2_contingency(np.stack([table[a], rest])[:, used], correction=False)
        assert got[a].statistic == pytest.approx(want.statistic)
        assert got[a].p_value == pytest.approx(want.pvalue)
        assert got[a].dof == want.dof == 2
    assert (got[3].p_value, got[3].reason) == (None, "annotator has no judgments")
    lone = stats.chi_square_one_vs_rest([[3, 4]])
    assert lone[0].reason == "no other annotator has judgments"


# ---- edge cases: None with a reason, never NaN --------------------------------------------------------------


def test_single_category_overall() -> None:
    counts = np.array([[3, 0], [2, 0], [4, 0]])
    for fn in (stats.krippendorff_alpha, stats.fleiss_kappa, stats.scott_pi):
        est = fn(counts)
        assert (est.value, est.reason) == (None, "only one category observed")
    assert stats.percent_agreement(counts).value == 1.0
    assert stats.gwet_ac1(counts).value == 1.0
    assert stats.gwet_ac1([[2], [3]]).reason == "fewer than 2 categories"
    assert [e.reason for e in stats.per_label_alpha(counts)] == ["only one category observed"] * 2


def test_units_with_one_judgment_are_excluded() -> None:
    counts = np.array([[1, 0], [0, 1], [2, 0], [0, 0]])
    est = stats.krippendorff_alpha(counts)
    assert (est.value, est.n_units, est.n_excluded, est.reason) == (None, 1, 3, "fewer than 2 pairable units")
    assert stats.percent_agreement(counts).value == 1.0
    none_pairable = stats.percent_agreement([[1, 0], [0, 1]])
    assert none_pairable.value is None and none_pairable.reason is not None
    assert none_pairable.n_excluded == 2


def test_cohen_undefined_pairs() -> None:
    same_single = [[7, 0], [0, 0]]
    assert stats.cohen_kappa(same_single).reason == "expected agreement is 1"
    assert stats.cohen_kappa(same_single, weights="quadratic").reason == "expected agreement is 1"
    assert stats.cohen_kappa([[0, 0], [0, 1]]).reason == "fewer than 2 units judged by both annotators"
    assert stats.cohen_kappa([[0, 5], [0, 0]]).value == 0.0  # opposite single categories: p_e = 0
    mean = stats.mean_cohen_kappa([same_single, [[20, 5], [10, 15]]])
    assert mean.value == pytest.approx(0.4)
    assert (mean.n_units, mean.n_excluded) == (1, 1)
    nothing = stats.mean_cohen_kappa([same_single])
    assert (nothing.value, nothing.reason) == (None, "no annotator pair with a defined kappa")


def test_distance_matrix_rejects_misuse() -> None:
    with pytest.raises(ValueError):
        stats.distance_matrix("interval")
    with pytest.raises(ValueError):
        stats.distance_matrix("ratio", values=[-1.0, 2.0])
    with pytest.raises(ValueError):
        stats.krippendorff_alpha([[1, 1]], level="ratio", values=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        stats.krippendorff_alpha([[-1, 2]])
    assert stats.distance_matrix("ratio", values=[0.0, 0.0, 2.0])[0, 1] == 0.0


# ---- bootstrap ---------------------------------------------------------------------------------------------


def test_estimate_with_ci_is_reproducible(kripp: npt.NDArray[np.int64]) -> None:
    first = stats.estimate_with_ci(kripp, stats.krippendorff_alpha, n_boot=500)
    again = stats.estimate_with_ci(kripp, stats.krippendorff_alpha, n_boot=500)
    assert first == again
    assert first.value == pytest.approx(0.743421, abs=1e-6)
    assert first.value is not None and first.ci_low is not None and first.ci_high is not None
    assert first.ci_low < first.value < first.ci_high <= 1.0
    other_seed = stats.estimate_with_ci(kripp, stats.krippendorff_alpha, n_boot=500, seed=1)
    assert other_seed.ci_low != first.ci_low


def test_bootstrap_matches_naive_unit_resampling() -> None:
    """Pattern draws are resampling units: intervals agree with a naive row bootstrap up to Monte Carlo error."""
    rng = np.random.default_rng(9)
    counts = rng.multinomial(3, [0.6, 0.3, 0.1], size=300)
    ours = stats.bootstrap(counts, stats.krippendorff_alpha, n_boot=4000)
    naive_rng = np.random.default_rng(10)
    picks = naive_rng.integers(0, 300, size=(4000, 300))
    naive = np.array([stats.krippendorff_alpha(counts[p]).value for p in picks], dtype=float)
    low, high = np.quantile(naive, [0.025, 0.975])
    assert ours.low == pytest.approx(low, abs=0.02) and ours.high == pytest.approx(high, abs=0.02)


def test_bootstrap_too_many_undefined() -> None:
    counts = np.array([[2, 0]] * 30 + [[1, 1]])  # most resamples see a single category
    interval = stats.bootstrap(counts, stats.krippendorff_alpha, n_boot=200)
    assert (interval.low, interval.high) == (None, None)
    assert interval.n_undefined > 10 and interval.reason is not None
    est = stats.estimate_with_ci(counts, stats.krippendorff_alpha, n_boot=200)
    assert est.value is not None and est.ci_low is None and est.ci_reason == interval.reason


@pytest.mark.parametrize("weights", ["none", "linear", "quadratic"])
def test_kappa_influence_is_the_derivative(weights: str) -> None:
    """Checked against finite differences of κ itself, and Euler's identity (κ is scale-free)."""
    rng = np.random.default_rng(11)
    conf = rng.integers(1, 30, size=(4, 3, 3))
    influence = stats.kappa_influence(conf, weights=weights)  # type: ignore[arg-type]
    scale = 10**7  # κ is scale-free: one more unit at scale s moves κ by (∂κ/∂C) / s
    for i, j in [(0, 0), (0, 2), (2, 1)]:
        bumped = conf * scale
        bumped[:, i, j] += 1
        before = [stats.cohen_kappa(c, weights=weights).value for c in conf]  # type: ignore[arg-type]
        after = [stats.cohen_kappa(c, weights=weights).value for c in bumped]  # type: ignore[arg-type]
        numeric = (np.array(after) - np.array(before)) * scale
        np.testing.assert_allclose(influence[:, i, j], numeric, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose((conf * influence).sum(axis=(1, 2)), 0.0, atol=1e-12)
    assert np.abs(influence).max() > 1e-3  # not trivially zero


def _pair_observations(labels: np.ndarray, item_block: np.ndarray) -> tuple[np.ndarray, ...]:
    pairs = [(0, 1), (0, 2), (1, 2)]
    cells = np.concatenate([p * 9 + labels[a] * 3 + labels[b] for p, (a, b) in enumerate(pairs)])
    blocks = np.tile(item_block, len(pairs))
    return np.bincount(cells, minlength=27).reshape(3, 3, 3), cells, blocks


def test_linearised_bootstrap_of_mean_kappa_matches_the_exact_item_bootstrap() -> None:
    rng = np.random.default_rng(4)
    n = 400
    truth = rng.integers(0, 3, size=n)
    labels = np.where(rng.random((3, n)) < 0.75, truth, rng.integers(0, 3, size=(3, n)))
    conf, cells, _ = _pair_observations(labels, np.arange(n))
    point = stats.mean_cohen_kappa(conf)
    interval = stats.bootstrap_mean_cohen_kappa(conf, cells, np.tile(np.arange(n), 3), n, n_boot=2000)
    assert interval == stats.bootstrap_mean_cohen_kappa(conf, cells, np.tile(np.arange(n), 3), n, n_boot=2000)
    # independent: resample items and recompute the mean κ from scratch
    exact = []
    for _ in range(400):
        pick = rng.integers(0, n, size=n)
        c, _, _ = _pair_observations(labels[:, pick], np.arange(n))
        exact.append(stats.mean_cohen_kappa(c).value)
    low, high = np.percentile(exact, [2.5, 97.5])
    assert interval.low is not None and interval.high is not None and point.value is not None
    assert interval.low < point.value < interval.high
    assert interval.low == pytest.approx(low, abs=0.015) and interval.high == pytest.approx(high, abs=0.015)
    # items grouped into random blocks give nearly the same interval
    blocked = stats.bootstrap_mean_cohen_kappa(conf, cells, np.tile(rng.integers(0, 100, n), 3), 100, n_boot=2000)
    assert blocked.low == pytest.approx(interval.low, abs=0.02) and blocked.high == pytest.approx(interval.high, abs=0.02)


def test_kappa_bootstrap_sums_its_observations_in_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """The influence sums run over slices of the observations (bounded temporaries at 12M observations): any
    slice size gives the interval of one whole-array pass, up to rounding."""
    from labelspec.check import pairwise

    rng = np.random.default_rng(9)
    n = 300
    labels = np.where(rng.random((3, n)) < 0.7, rng.integers(0, 3, size=n), rng.integers(0, 3, size=(3, n)))
    conf, cells, _ = _pair_observations(labels, np.arange(n))
    blocks = np.tile(rng.integers(0, 50, n), 3)
    whole = stats.bootstrap_mean_cohen_kappa(conf, cells, blocks, 50, n_boot=500)
    for size in (1, 7, 256, 899):
        monkeypatch.setattr(pairwise, "_SLICE", size)
        sliced = stats.bootstrap_mean_cohen_kappa(conf, cells, blocks, 50, n_boot=500)
        assert sliced.low == pytest.approx(whole.low, rel=1e-12) and sliced.high == pytest.approx(whole.high, rel=1e-12)
        assert sliced.low != pytest.approx(whole.high)  # a real interval, not a point


def test_the_mean_kappa_interval_stays_within_kappas_range() -> None:
    """Two annotators agreeing on 9 of 10 items: the first-order replicates reached 1.056 (an audit's case)."""
    a = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    b = a.copy()
    b[0] = 1
    cells = a * 2 + b
    conf = np.bincount(cells, minlength=4).reshape(1, 2, 2)
    interval = stats.bootstrap_mean_cohen_kappa(conf, cells, np.arange(10), 10, n_boot=2000, seed=7)
    point = stats.mean_cohen_kappa(conf).value
    assert interval.low is not None and interval.high is not None and point is not None
    assert -1.0 <= interval.low < point < interval.high == 1.0


def test_speed_sanity_large_table_collapses() -> None:
    """Not timed: a 500k-unit table collapses to few patterns and every coefficient gets an interval."""
    rng = np.random.default_rng(1)
    counts = rng.multinomial(3, [0.5, 0.2, 0.15, 0.1, 0.05], size=500_000)
    patterns = stats.collapse_patterns(counts)
    assert patterns.rows.shape == (35, 5) and int(patterns.multiplicity.sum()) == 500_000
    for fn in (stats.krippendorff_alpha, stats.fleiss_kappa, stats.gwet_ac1, stats.percent_agreement):
        est = stats.estimate_with_ci(counts, fn, n_boot=200)
        assert est.ci_low is not None and est.ci_high is not None and est.ci_low <= est.ci_high
