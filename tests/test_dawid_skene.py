"""Dawid–Skene EM against an independent dense implementation, the 1979 anaesthetist data and synthetic truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from labelspec.check import dawid_skene as ds
from labelspec.check.consensus import majority_vote
from labelspec.check.dawid_skene import DawidSkeneResult, dawid_skene

DATA = Path(__file__).resolve().parents[2] / "shared/data/classic/dawid_skene_1979_anaesthetists_long.csv"

#: Dawid & Skene (1979) Table 1, one string per patient: observer 1's three ratings, then observers 2–5.
TABLE_1 = " ".join(
    [
        "1111111 3334334 1122122 2223121 2223222 2223322 1222111 3333433 2222223",
        "2322223 4444444 2223343 1111111 2223212 1211111 1112111 1111111 1111111",
        "2222221 2221322 2222222 2222221 2223222 2212222 1111111 1111111 2322222",
        "1111111 1111111 1121121 1111111 3333233 1111111 2222222 2223232 4334343",
        "2212232 2323233 3333432 1111111 1111111 1212111 2322222 1211111 2222222",
    ]
)

Arr = npt.NDArray[Any]  # integer codes and floats alike


def reference_em(u: Arr, a: Arr, lab: Arr, shape: tuple[int, int, int], n_iter: int) -> tuple[Arr, Arr, Arr]:
    """Dawid & Skene's equations (2.3)–(2.5) on a dense (patients, observers, classes) count tensor.

    Written independently of the library: no sparse matrices, no log space, plain probabilities; starts from
    the vote shares of eq. (3.1).
    """
    n = np.zeros(shape)
    np.add.at(n, (u, a, lab), 1.0)
    t = n.sum(axis=1)
    t /= t.sum(axis=1, keepdims=True)
    for _ in range(n_iter):
        p = t.mean(axis=0)  # (2.4)
        pi = np.einsum("ik,ijl->jkl", t, n)  # (2.3): expected counts, normalised per true class
        pi /= pi.sum(axis=2, keepdims=True)
        like = p[None, :] * np.prod(np.power(pi[None], n[:, :, None, :]), axis=(1, 3))  # (2.5)
        t = like / like.sum(axis=1, keepdims=True)
    return p, pi, t


def anaesthetists_frame() -> pd.DataFrame:
    rows = [
        (patient, [1, 1, 1, 2, 3, 4, 5][pos], [1, 2, 3, 1, 1, 1, 1][pos], int(rating))
        for patient, ratings in enumerate(TABLE_1.split(), start=1)
        for pos, rating in enumerate(ratings)
    ]
    return pd.DataFrame(rows, columns=["patient", "observer", "replicate", "rating"])


def anaesthetists() -> tuple[Arr, Arr, Arr]:
    df = anaesthetists_frame()
    return df.patient.to_numpy() - 1, df.observer.to_numpy() - 1, df.rating.to_numpy() - 1


@pytest.mark.skipif(not DATA.is_file(), reason="shared/data not beside this checkout")
def test_embedded_table_is_the_shared_file() -> None:
    shared = pd.read_csv(DATA).sort_values(["patient", "observer", "replicate"], ignore_index=True)
    pd.testing.assert_frame_equal(anaesthetists_frame(), shared, check_dtype=False)


def fit(u: Arr, a: Arr, lab: Arr, **kw: object) -> DawidSkeneResult:
    return dawid_skene(u, a, lab, n_units=45, n_annotators=5, n_classes=4, **kw)  # type: ignore[arg-type]


def test_anaesthetists_match_independent_implementation() -> None:
    u, a, lab = anaesthetists()
    assert np.bincount(a).tolist() == [135, 45, 45, 45, 45]  # observer 1 rated every patient 3 times
    r = fit(u, a, lab, smoothing=0.0, tol=1e-12, max_iter=500)
    assert r.converged and r.n_iter < 500
    p, pi, t = reference_em(u, a, lab, (45, 5, 4), r.n_iter)
    np.testing.assert_allclose(r.priors, p, atol=1e-10)
    np.testing.assert_allclose(r.confusion, pi, atol=1e-10)
    np.testing.assert_allclose(r.posterior, t, atol=1e-10)
    # EM never decreases the likelihood (smoothing 0: the plain likelihood is the objective)
    assert np.all(np.diff(r.log_likelihood) > -1e-9)


def test_anaesthetists_estimates() -> None:
    """The fitted values on this transcription of the paper's Table 1.

    They reproduce with ``reference_em`` above; the printed tables of Dawid & Skene (1979) could not be
    consulted here, so these anchors are computed values, rounded as the paper rounds (2 decimals).
    """
    u, a, lab = anaesthetists()
    r = fit(u, a, lab, smoothing=0.0, tol=1e-12, max_iter=500)
    np.testing.assert_allclose(r.priors, [0.40, 0.42, 0.11, 0.07], atol=0.005)
    # observer 1 (three ratings per patient): rows = true class
    np.testing.assert_allclose(
        r.confusion[0],
        [
            [0.89, 0.11, 0.00, 0.00],
            [0.07, 0.88, 0.05, 0.00],
            [0.00, 0.34, 0.66, 0.00],
            [0.00, 0.00, 0.56, 0.44],
        ],
        atol=0.006,
    )
    np.testing.assert_allclose(r.confusion[1, 2], [0.0, 0.0, 1.0, 0.0], atol=1e-6)
    # the consensus: patients 2, 11 and 36 are class 4; the least certain patients are 35, 38 and 7
    assert (np.nonzero(r.winner == 3)[0] + 1).tolist() == [2, 11, 36]
    assert (np.argsort(r.posterior_max)[:3] + 1).tolist() == [35, 38, 7]
    assert not r.tie.any() and (r.winner >= 0).all()


def test_patient_7_transcription_ambiguity_is_immaterial() -> None:
    """Two public transcriptions differ in patient 7, observer 1: 1,2,2 (the file) or 1,1,2.

    Both give the same consensus for every patient and nearly the same parameters; only patient 7's
    certainty changes.
    """
    u, a, lab = anaesthetists()
    cell = np.nonzero((u == 6) & (a == 0))[0]
    assert (lab[cell] + 1).tolist() == [1, 2, 2]
    other = lab.copy()
    other[cell] = [0, 0, 1]
    r1 = fit(u, a, lab, smoothing=0.0, tol=1e-12, max_iter=500)
    r2 = fit(u, a, other, smoothing=0.0, tol=1e-12, max_iter=500)
    np.testing.assert_array_equal(r1.winner, r2.winner)
    np.testing.assert_allclose(r1.priors, r2.priors, atol=0.001)
    np.testing.assert_allclose(r1.confusion, r2.confusion, atol=0.02)
    assert r1.posterior[6, 0] == pytest.approx(0.981, abs=0.001)
    assert r2.posterior[6, 0] > 0.999


def test_replicates_count_as_separate_draws() -> None:
    u, a, lab = anaesthetists()
    once = (anaesthetists_frame().replicate == 1).to_numpy()
    full = fit(u, a, lab, smoothing=0.0, tol=1e-12, max_iter=500)
    first_only = fit(u[once], a[once], lab[once], smoothing=0.0, tol=1e-12, max_iter=500)
    p, pi, _ = reference_em(u[once], a[once], lab[once], (45, 5, 4), first_only.n_iter)
    np.testing.assert_allclose(first_only.confusion, pi, atol=1e-10)
    assert np.abs(full.confusion[0] - first_only.confusion[0]).max() > 0.01


def synthetic(seed: int = 20240601) -> tuple[Arr, Arr, Arr, Arr, Arr]:
    """2000 items, 5 of 10 annotators each: nine honest (accuracy 0.55–0.95), one adversarial (k → k+1)."""
    k, n_units, n_ann, per = 4, 2000, 10, 5
    rng = np.random.default_rng(seed)
    z = rng.choice(k, size=n_units, p=[0.4, 0.3, 0.2, 0.1])
    conf = np.empty((n_ann, k, k))
    for i, acc in enumerate(np.linspace(0.55, 0.95, n_ann - 1)):
        conf[i] = np.full((k, k), (1 - acc) / (k - 1))
        np.fill_diagonal(conf[i], acc)
    adversary = np.full((k, k), 0.05)
    np.fill_diagonal(adversary, 0.0)
    adversary[np.arange(k), (np.arange(k) + 1) % k] = 0.9
    conf[-1] = adversary
    chosen = np.argsort(rng.random((n_units, n_ann)), axis=1)[:, :per]
    u, a = np.repeat(np.arange(n_units), per), chosen.ravel()
    lab = (rng.random(u.size)[:, None] > conf[a, z[u]].cumsum(axis=1)).sum(axis=1)
    return u, a, lab, z, conf


def test_synthetic_recovers_confusions_and_beats_majority() -> None:
    u, a, lab, z, conf = synthetic()
    r = dawid_skene(u, a, lab, n_units=2000, n_annotators=10, n_classes=4, max_iter=200)
    assert r.converged
    err = np.abs(r.confusion - conf)
    assert err.max() < 0.12 and err.mean() < 0.03
    np.testing.assert_allclose(r.priors, [0.4, 0.3, 0.2, 0.1], atol=0.03)
    assert np.all(np.argmax(r.confusion[-1], axis=1) == (np.arange(4) + 1) % 4)  # the adversary is found out
    counts = np.zeros((2000, 4), dtype=np.int64)
    np.add.at(counts, (u, lab), 1)
    mv = majority_vote(counts)
    # majority vote with ties counted as half right: still far behind
    mv_acc = (
        np.sum(mv.winner == z) + 0.5 * np.sum(mv.tie & (counts[np.arange(2000), z] == counts.max(1)))
    ) / 2000
    ds_acc = float(np.mean(r.winner == z))
    assert ds_acc > 0.96 and ds_acc > mv_acc + 0.05


def test_pieces_of_units_give_the_one_piece_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """EM over pieces of units (each piece's slices stay in cache) fits what whole size groups do, to rounding:
    each unit's posterior is the same product, the M-step adds the pieces' partial sums."""
    from labelspec.check import dawid_skene as ds

    u, a, lab, *_ = synthetic()
    kw = dict(n_units=2000, n_annotators=10, n_classes=4, gold_units=[5, 1999], gold_labels=[1, 3])
    whole = dawid_skene(u, a, lab, **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(ds, "PIECE_UNITS", 97)  # pieces of at most 97 units, some short
    blocked = dawid_skene(u, a, lab, **kw)  # type: ignore[arg-type]
    assert blocked.n_iter == whole.n_iter and np.array_equal(blocked.winner, whole.winner)
    for field in ("priors", "confusion", "posterior", "log_likelihood"):
        np.testing.assert_allclose(getattr(blocked, field), getattr(whole, field), rtol=1e-12, atol=1e-14)


def crowded(seed: int = 11) -> tuple[Arr, Arr, Arr, int]:
    """Units judged by 1–5 of 60 annotators, every tenth unit by 40 of them (more than ``DENSE_MAX``: a sparse
    row piece), some units without judgments; the rows shuffled."""
    rng = np.random.default_rng(seed)
    n_units, n_ann = 300, 60
    per = np.where(np.arange(n_units) % 10 == 0, 40, rng.integers(0, 6, n_units))
    u = np.repeat(np.arange(n_units), per)
    a = np.concatenate([rng.choice(n_ann, size=m, replace=False) for m in per])
    z = rng.integers(0, 3, n_units)
    lab = np.where(rng.random(u.size) < 0.7, z[u], rng.integers(0, 3, u.size))
    shuffle = rng.permutation(u.size)
    return u[shuffle], a[shuffle], lab[shuffle], n_ann


def test_units_beyond_the_dense_layout_match_the_independent_implementation() -> None:
    """Units with 40 judgments (a sparse piece, in log space) beside units with 0–5 (dense, in probability
    space) fit what the plain-probability reference does."""
    u, a, lab, n_ann = crowded()
    judged = np.bincount(u, minlength=300) > 0
    u = (np.cumsum(judged) - 1)[u]  # the reference has no place for a unit without judgments
    n_units = int(judged.sum())
    assert np.bincount(u).max() > ds.DENSE_MAX and np.bincount(u).min() < 5
    r = dawid_skene(u, a, lab, n_units=n_units, n_annotators=n_ann, n_classes=3, smoothing=0.0, tol=1e-12,
                    max_iter=40)
    p, pi, t = reference_em(u, a, lab, (n_units, n_ann, 3), r.n_iter)
    seen = np.bincount(a, minlength=n_ann) > 0  # the reference leaves an unseen annotator's rows undefined
    np.testing.assert_allclose(r.priors, p, atol=1e-9)
    np.testing.assert_allclose(r.confusion[seen], pi[seen], atol=1e-9)
    np.testing.assert_allclose(r.posterior, t, atol=1e-9)


@pytest.mark.parametrize("smoothing", [0.0, 0.01])
@pytest.mark.parametrize("layout", ["log space everywhere", "sparse rows from 2 judgments"])
def test_every_layout_gives_the_same_fit(monkeypatch: pytest.MonkeyPatch, layout: str, smoothing: float) -> None:
    """Probability-space products and log-sum-exp, dense columns and sparse rows: the same posteriors, priors,
    confusions and log-likelihood to rounding, with gold units, units without judgments and 40-judgment units."""
    u, a, lab, n_ann = crowded()
    kw: dict[str, Any] = dict(n_units=305, n_annotators=n_ann, n_classes=3, smoothing=smoothing, tol=1e-15,
                              max_iter=15, gold_units=[0, 7, 304], gold_labels=[2, 0, 1])
    with np.errstate(all="ignore"):
        default = dawid_skene(u, a, lab, **kw)
        if layout == "log space everywhere":
            monkeypatch.setattr(ds, "FLOOR_LOG2", 1.0)  # no product is trusted in probability space
        else:
            monkeypatch.setattr(ds, "DENSE_MAX", 1)
        other = dawid_skene(u, a, lab, **kw)
    assert other.n_iter == default.n_iter == 15
    np.testing.assert_array_equal(other.winner, default.winner)
    for field in ("priors", "confusion", "posterior", "log_likelihood"):
        np.testing.assert_allclose(getattr(other, field), getattr(default, field), rtol=1e-11, atol=1e-12)


def test_m_step_blocks_across_groups_fit_alike_on_any_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The M-step's blocks are runs of consecutive pieces across the groups of units with equal numbers of
    judgments (and the sparse pieces of crowded units): any block size gives the one-block fit to rounding, and
    a block size gives the same floats on one thread or three."""
    u, a, lab, n_ann = crowded()
    kw: dict[str, Any] = dict(n_units=305, n_annotators=n_ann, n_classes=3, tol=1e-15, max_iter=15,
                              gold_units=[0, 7, 304], gold_labels=[2, 0, 1])
    whole = dawid_skene(u, a, lab, **kw)
    monkeypatch.setattr(ds, "PIECE_UNITS", 20)
    monkeypatch.setattr(ds, "BLOCK_UNITS", 50)
    p = ds._problem(u, a, lab, (305, n_ann, 3), None, None)
    assert len(p.blocks) > 3 and any(len({piece.m for piece in block}) > 1 for block in p.blocks)
    assert [piece for block in p.blocks for piece in block] == p.pieces
    assert all(sum(pc.stop - pc.start for pc in block) <= 50 for block in p.blocks)
    one, many = dawid_skene(u, a, lab, threads=1, **kw), dawid_skene(u, a, lab, threads=3, **kw)
    for field in ("priors", "confusion", "posterior", "winner", "tie", "posterior_max", "log_likelihood"):
        np.testing.assert_array_equal(getattr(many, field), getattr(one, field), err_msg=field)
    for field in ("priors", "confusion", "posterior", "log_likelihood"):
        np.testing.assert_allclose(getattr(one, field), getattr(whole, field), rtol=1e-11, atol=1e-12)


def test_block_count_rows_made_once_are_the_pieces_rows_stacked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The M-step's count rows, made once per fit (dense blocks assembled directly, their counts a view of one
    shared array of ones), are each block's pieces' rows stacked: the same matrix, entry for entry and in the
    same order, so the products give the same floats; and a fit that makes them once equals one that makes them
    in every M-step."""
    u, a, lab, n_ann = crowded()
    monkeypatch.setattr(ds, "PIECE_UNITS", 20)
    monkeypatch.setattr(ds, "BLOCK_UNITS", 50)
    p = ds._problem(u, a, lab, (305, n_ann, 3), None, None)
    kinds = {"dense" if all(q.rows is None for q in block) else "sparse" for block in p.blocks}
    assert kinds == {"dense", "sparse"}
    made = ds._block_matrices(p)
    assert len(made) == len(p.blocks)
    for block, matrix in zip(p.blocks, made, strict=True):
        pieces = [ds._count_rows(piece, n_ann * 3) for piece in block]
        stacked = pieces[0] if len(pieces) == 1 else sp.vstack(pieces, format="csr")
        assert matrix.shape == stacked.shape
        for part in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(matrix, part), getattr(stacked, part), err_msg=part)
    post = ds._initial_posterior(p)
    for got, want in zip(ds._m_step(post, p, 0.01, matrices=made), ds._m_step(post, p, 0.01), strict=True):
        np.testing.assert_array_equal(got, want)


def test_the_rows_order_does_not_change_a_bit() -> None:
    """A unit's factors are multiplied in one order (its columns sorted) and sums run over units in the fitting
    order: shuffled rows give the same floats."""
    u, a, lab, n_ann = crowded()
    kw: dict[str, Any] = dict(n_units=300, n_annotators=n_ann, n_classes=3, gold_units=[3], gold_labels=[1])
    base = dawid_skene(u, a, lab, **kw)
    again = np.random.default_rng(5).permutation(u.size)
    moved = dawid_skene(u[again], a[again], lab[again], **kw)
    for field in ("priors", "confusion", "posterior", "winner", "tie", "log_likelihood"):
        np.testing.assert_array_equal(getattr(moved, field), getattr(base, field), err_msg=field)


def test_products_that_would_underflow_are_taken_in_log_space() -> None:
    """30 judgments whose confusion entries are 1e-40 and 1e-30: both classes' products are below the smallest
    float64 (1e-1200, 1e-900), which in probability space would read as "every class impossible" and fall back
    on the prior. In log space class 1 is certain and the log-likelihood is its joint's logarithm."""
    zeros = np.zeros(30, dtype=np.int64)
    p = ds._problem(zeros, zeros, zeros, (1, 1, 2), None, None)
    conf = np.array([[[1e-40, 1 - 1e-40], [1e-30, 1 - 1e-30]]])
    priors = np.array([0.5, 0.5])
    assert ds._linear_max(conf.transpose(1, 0, 2).reshape(2, -1), priors) < 30
    out = np.empty((2, 1))
    ll = ds._e_step(p, priors, conf, out)
    np.testing.assert_allclose(out[:, 0], [0.0, 1.0], atol=1e-200)
    assert ll == pytest.approx(np.log(0.5) + 30 * np.log(1e-30), rel=1e-12)


@pytest.mark.parametrize("m", [1, 2, 3, 5, 8, 9, 12])
def test_columns_are_sorted_by_the_network_and_by_numpy_alike(m: int) -> None:
    cols = np.random.default_rng(m).integers(0, 7, (m, 200)).astype(np.int32)
    expected = np.sort(cols, axis=0)
    ds._sort_columns(cols)
    np.testing.assert_array_equal(cols, expected)


def test_the_callers_vote_table_gives_the_same_fit() -> None:
    """``votes`` (the unit × label counts the consensus has already) starts EM where counting the judgments
    again does: bit for bit the same fit, with units that have no judgment and gold units among them."""
    u, a, lab, *_ = synthetic()
    n_units = 2003  # three units without judgments
    votes = np.zeros((n_units, 4), dtype=np.int64)
    np.add.at(votes, (u, lab), 1)
    kw = dict(n_units=n_units, n_annotators=10, n_classes=4, gold_units=[5, 2001], gold_labels=[1, 3])
    plain, given = dawid_skene(u, a, lab, **kw), dawid_skene(u, a, lab, votes=votes, **kw)  # type: ignore[arg-type]
    for field in ("priors", "confusion", "posterior", "winner", "tie", "log_likelihood"):
        np.testing.assert_array_equal(getattr(given, field), getattr(plain, field))
    with pytest.raises(ValueError, match="votes must be"):
        dawid_skene(u, a, lab, votes=votes[:-1], **kw)  # type: ignore[arg-type]


def test_gold_is_clamped_and_corrects_a_swapped_crowd() -> None:
    """Three annotators who answer the opposite class 85% of the time: the votes are wrong, gold fixes it."""
    rng = np.random.default_rng(7)
    n_units = 600
    z = rng.integers(0, 2, n_units)
    u, a = np.repeat(np.arange(n_units), 3), np.tile(np.arange(3), n_units)
    lab = np.where(rng.random(u.size) < 0.85, 1 - z[u], z[u])
    gold = np.arange(120)
    free = np.arange(120, n_units)
    plain = dawid_skene(u, a, lab, n_units=n_units, n_annotators=3, n_classes=2)
    clamped = dawid_skene(
        u, a, lab, n_units=n_units, n_annotators=3, n_classes=2, gold_units=gold, gold_labels=z[gold]
    )
    assert np.mean(plain.winner[free] == z[free]) < 0.1
    assert np.mean(clamped.winner[free] == z[free]) > 0.9
    np.testing.assert_array_equal(clamped.posterior[gold], np.eye(2)[z[gold]])
    assert np.all(clamped.winner[gold] == z[gold])
    assert clamped.confusion[0, 0, 1] > 0.75  # the swap is learned


def test_gold_overrides_unanimous_votes_and_counts_unjudged_units() -> None:
    u, a, lab = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), np.array([0, 0, 1, 1])
    r = dawid_skene(u, a, lab, n_units=4, n_annotators=2, n_classes=2, gold_units=[0, 3], gold_labels=[1, 0])
    assert r.winner.tolist()[0] == 1 and r.posterior[0].tolist() == [0.0, 1.0]
    assert r.winner[3] == 0  # gold without judgments still has a consensus
    assert r.winner[2] == -1  # neither judgments nor gold: no consensus
    unjudged = dawid_skene(u, a, lab, n_units=3, n_annotators=3, n_classes=2)
    assert unjudged.winner[2] == -1
    np.testing.assert_allclose(unjudged.posterior[2], unjudged.priors)
    np.testing.assert_allclose(unjudged.confusion[2], 0.5)  # annotator 3 never judged: uniform rows


def test_symmetric_data_gives_an_explicit_tie() -> None:
    # invariant under swapping the classes and under swapping the annotators: unit 2 cannot be decided
    u = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    a = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    lab = np.array([0, 0, 1, 1, 0, 1, 1, 0])
    r = dawid_skene(u, a, lab, n_units=4, n_annotators=2, n_classes=2)
    assert r.tie.tolist() == [False, False, True, True]
    assert r.winner.tolist() == [0, 1, -1, -1]
    np.testing.assert_allclose(r.posterior[2], [0.5, 0.5])


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="same length"):
        dawid_skene([0, 1], [0], [0, 1], n_units=2, n_annotators=1, n_classes=2)
    with pytest.raises(ValueError, match="outside"):
        dawid_skene([0], [0], [2], n_units=1, n_annotators=1, n_classes=2)
    with pytest.raises(ValueError, match="twice in gold"):
        dawid_skene(
            [0], [0], [0], n_units=1, n_annotators=1, n_classes=2, gold_units=[0, 0], gold_labels=[0, 1]
        )
    with pytest.raises(ValueError, match="go together"):
        dawid_skene([0], [0], [0], n_units=1, n_annotators=1, n_classes=2, gold_units=[0])


@st.composite
def judgments(draw: st.DrawFn) -> tuple[Arr, Arr, Arr, int, int, int]:
    n_units = draw(st.integers(2, 15))
    n_ann = draw(st.integers(1, 4))
    n_cls = draw(st.integers(2, 4))
    rows = draw(
        st.lists(
            st.tuples(st.integers(0, n_units - 1), st.integers(0, n_ann - 1), st.integers(0, n_cls - 1)),
            min_size=1,
            max_size=50,
        )
    )
    arr = np.array(rows, dtype=np.int64)
    return arr[:, 0], arr[:, 1], arr[:, 2], n_units, n_ann, n_cls


@settings(max_examples=40, deadline=None)
@given(judgments(), st.integers(1, 4), st.integers(2, 4), st.booleans(), st.data())
def test_threads_share_the_pieces_bit_for_bit(data: tuple[Arr, Arr, Arr, int, int, int], block: int, threads: int,
                                              smooth: bool, draw: st.DataObject) -> None:
    """Pieces of units on several threads give exactly one thread's fit: each unit's posterior is computed in its
    piece, the M-step's piece sums and the log-likelihood are added in piece order. Without smoothing, units
    whose every class is impossible take the prior's fallback inside their piece."""
    from labelspec.check import dawid_skene as ds

    u, a, lab, n_units, n_ann, n_cls = data
    gold = draw.draw(st.lists(st.tuples(st.integers(0, n_units - 1), st.integers(0, n_cls - 1)),
                              unique_by=lambda g: g[0], max_size=3))
    kw: dict[str, Any] = dict(n_units=n_units, n_annotators=n_ann, n_classes=n_cls, tol=1e-15, max_iter=12,
                              smoothing=0.01 if smooth else 0.0, gold_units=[g[0] for g in gold],
                              gold_labels=[g[1] for g in gold])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ds, "PIECE_UNITS", block)
        with np.errstate(all="ignore"):
            one = dawid_skene(u, a, lab, threads=1, **kw)
            many = dawid_skene(u, a, lab, threads=threads, **kw)
    for field in ("priors", "confusion", "posterior", "winner", "tie", "posterior_max", "log_likelihood"):
        np.testing.assert_array_equal(getattr(many, field), getattr(one, field))
    assert (many.n_iter, many.converged) == (one.n_iter, one.converged)


def test_threads_on_many_pieces_fit_bit_for_bit(monkeypatch: pytest.MonkeyPatch) -> None:
    """2,000 units in 21 pieces on three threads: sums in any other order than the pieces' would differ in
    their last bits here."""
    from labelspec.check import dawid_skene as ds

    u, a, lab, *_ = synthetic()
    kw: dict[str, Any] = dict(n_units=2000, n_annotators=10, n_classes=4, gold_units=[5, 1999], gold_labels=[1, 3])
    monkeypatch.setattr(ds, "PIECE_UNITS", 97)
    one, many = dawid_skene(u, a, lab, threads=1, **kw), dawid_skene(u, a, lab, threads=3, **kw)
    for field in ("priors", "confusion", "posterior", "winner", "tie", "posterior_max", "log_likelihood"):
        np.testing.assert_array_equal(getattr(many, field), getattr(one, field))


def test_the_thread_count_is_checked() -> None:
    with pytest.raises(ValueError, match="threads >= 1"):
        dawid_skene([0], [0], [0], n_units=1, n_annotators=1, n_classes=2, threads=0)


def fixed(u: Arr, a: Arr, lab: Arr, n_units: int, n_ann: int, n_cls: int) -> DawidSkeneResult:
    """A fixed number of iterations, so two runs that differ only in rounding stop at the same point."""
    return dawid_skene(
        u, a, lab, n_units=n_units, n_annotators=n_ann, n_classes=n_cls, tol=1e-15, max_iter=25
    )


@settings(max_examples=50, deadline=None)
@given(judgments())
def test_unit_permutation_permutes_results(data: tuple[Arr, Arr, Arr, int, int, int]) -> None:
    u, a, lab, n_units, n_ann, n_cls = data
    perm = np.random.default_rng(len(u) + n_units).permutation(n_units)  # new index of each old unit
    base = fixed(u, a, lab, n_units, n_ann, n_cls)
    moved = fixed(perm[u], a, lab, n_units, n_ann, n_cls)
    np.testing.assert_allclose(moved.log_likelihood[-1], base.log_likelihood[-1], rtol=1e-9)
    if moved.n_iter != base.n_iter:
        # the likelihood went flat in one order and not in the other (rounding): e.g. a single annotator leaves
        # a ridge of equally likely parameters, and EM stopped at different points of it; the likelihood above
        # is what both must agree on
        return
    np.testing.assert_allclose(moved.posterior[perm], base.posterior, atol=1e-8)
    np.testing.assert_allclose(moved.confusion, base.confusion, atol=1e-8)
    np.testing.assert_allclose(moved.priors, base.priors, atol=1e-8)


@settings(max_examples=50, deadline=None)
@given(judgments())
@example((np.array([0, 1, 1, 1]), np.array([0, 0, 0, 0]), np.array([0, 0, 1, 1]), 9, 1, 2))
def test_relabelling_classes_relabels_results(data: tuple[Arr, Arr, Arr, int, int, int]) -> None:
    u, a, lab, n_units, n_ann, n_cls = data
    new = np.random.default_rng(len(u) * 7 + n_cls).permutation(n_cls)  # new code of each old class
    base = fixed(u, a, lab, n_units, n_ann, n_cls)
    moved = fixed(u, a, new[lab], n_units, n_ann, n_cls)
    np.testing.assert_allclose(moved.log_likelihood[-1], base.log_likelihood[-1], rtol=1e-9)
    if moved.n_iter != base.n_iter:
        # as under a permutation of units: on a ridge of equally likely parameters (one annotator), EM stopped
        # at different points of it in the two label orders (found by hypothesis: one annotator, two units of
        # judgments a, a, b and b; 24 against 25 iterations); the likelihood is what both must agree on
        return
    np.testing.assert_allclose(moved.priors[new], base.priors, atol=1e-8)
    np.testing.assert_allclose(moved.posterior[:, new], base.posterior, atol=1e-8)
    np.testing.assert_allclose(moved.confusion[:, new][:, :, new], base.confusion, atol=1e-8)
    decided = base.winner >= 0
    np.testing.assert_array_equal(moved.winner[decided], new[base.winner[decided]])


@settings(max_examples=50, deadline=None)
@given(st.integers(2, 4), st.integers(2, 4), st.lists(st.integers(0, 3), min_size=1, max_size=30))
def test_unanimous_units_get_posterior_near_one(n_ann: int, n_cls: int, truth: list[int]) -> None:
    z = np.array(truth) % n_cls
    n_units = z.size
    u, a = np.repeat(np.arange(n_units), n_ann), np.tile(np.arange(n_ann), n_units)
    r = dawid_skene(u, a, z[u], n_units=n_units, n_annotators=n_ann, n_classes=n_cls)
    np.testing.assert_array_equal(r.winner, z)
    assert r.posterior_max.min() > 0.99


def test_rows_grouped_beforehand_give_the_same_fit_bit_for_bit() -> None:
    """``by_unit`` (the check's shared grouping) builds the same canonical matrix: replicated judgments (observer
    1 rated every patient three times) are summed, columns sorted, every float identical."""
    from labelspec.check.ordering import group_order

    u, a, lab = anaesthetists()
    shuffle = np.random.default_rng(3).permutation(len(u))
    u, a, lab = u[shuffle], a[shuffle], lab[shuffle]
    gold = {"gold_units": [4, 9], "gold_labels": [0, 2]}
    plain = fit(u, a, lab, **gold)
    grouped = fit(u, a, lab, by_unit=group_order(u, 45), **gold)
    for field in ("priors", "confusion", "posterior", "winner", "log_likelihood"):
        np.testing.assert_array_equal(getattr(plain, field), getattr(grouped, field), err_msg=field)
    assert plain.n_iter == grouped.n_iter > 1
    # int32 codes (the check's label-coded analysis) are used as they are: the same fit, bit for bit
    narrow = fit(*(x.astype(np.int32) for x in (u, a, lab)), by_unit=group_order(u, 45), **gold)
    plain_narrow = fit(*(x.astype(np.int32) for x in (u, a, lab)), **gold)
    for field in ("priors", "confusion", "posterior", "winner", "log_likelihood"):
        np.testing.assert_array_equal(getattr(narrow, field), getattr(plain, field), err_msg=field)
        np.testing.assert_array_equal(getattr(plain_narrow, field), getattr(plain, field), err_msg=field)


@pytest.mark.parametrize("n_classes", [3, 4])
def test_grouped_cells_give_the_same_fit_bit_for_bit(n_classes: int) -> None:
    """``cells`` (the check's ``Codes.grouped_cells``: ``annotator << shift | label`` in the grouped order) lay
    the judgments out as gathering them does, for dense and sparse pieces (units of 40 judgments), whether or not
    K is a power of two (3 labels take 2 bits and are unpacked as annotator·3 + label)."""
    from labelspec.check.coded import take_packed
    from labelspec.check.ordering import group_order

    u, a, lab, n_ann = crowded()
    lab = lab % n_classes
    by_unit = group_order(u, 300)
    shift = (n_classes - 1).bit_length()
    packed = take_packed(a, lab, shift, by_unit[0], np.int16)
    kw: dict[str, Any] = {"n_units": 300, "n_annotators": n_ann, "n_classes": n_classes, "by_unit": by_unit,
                          "gold_units": [0, 7], "gold_labels": [1, 2]}
    plain = dawid_skene(u, a, lab, **kw)
    packed_fit = dawid_skene(u, a, lab, cells=(packed, shift), **kw)
    for field in ("priors", "confusion", "posterior", "winner", "log_likelihood"):
        np.testing.assert_array_equal(getattr(packed_fit, field), getattr(plain, field), err_msg=field)
    assert plain.n_iter == packed_fit.n_iter > 1
    assert np.bincount(u).max() > ds.DENSE_MAX
    with pytest.raises(ValueError, match="cells go with by_unit"):
        dawid_skene(u, a, lab, cells=(packed, shift), **{**kw, "by_unit": None})
    with pytest.raises(ValueError, match="cells go with by_unit"):
        dawid_skene(u, a, lab, cells=(packed[1:], shift), **kw)


#: How a cell is set against its unit's current top posterior: above it, equal, within the tie tolerance below
#: it, or just outside that tolerance.
MOVES = {"above": 0.05, "equal": 0.0, "inside": -0.5e-9, "outside": -2e-9}


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5), st.lists(st.tuples(st.integers(0, 5), st.integers(0, 4), st.sampled_from(sorted(MOVES))),
                                   min_size=1, max_size=40), st.booleans())
@example(2, [(1, 0, "above"), (1, 1, "inside")], False)  # unit 1: class 1 within the tolerance of class 0, a tie
@example(2, [(1, 0, "above"), (1, 1, "outside")], False)  # no tie: class 0 wins
def test_winners_class_by_class_equal_argmax_and_the_tie_rule(k: int, cells: list[tuple[int, int, str]],
                                                               with_gold: bool) -> None:
    """The winner, tie and top posterior computed class by class are what argmax and a (K, U) comparison give,
    with exact ties, ties within TIE_TOLERANCE and near misses just outside it."""
    n_units = 6
    post = np.full((k, n_units), 0.1)
    for unit, cls, move in cells:
        post[cls % k, unit] = post[:, unit].max() + MOVES[move]
    gold = np.array([5]) if with_gold else np.zeros(0, dtype=np.int64)
    odd_judged = np.arange(n_units) % 2 == 1  # units 1, 3 and 5 have a judgment
    p = ds._Problem([], [], np.arange(n_units), np.arange(n_units), odd_judged, n_units, 1, k, gold,
                    np.zeros(gold.size, dtype=np.int64))
    winner, tie, best = ds._winners(post, p)
    judged = (np.arange(n_units) % 2 == 1) | np.isin(np.arange(n_units), gold)
    expected_tie = (((post.max(axis=0)[None, :] - post) <= ds.TIE_TOLERANCE).sum(axis=0) > 1)
    assert best.tolist() == post.max(axis=0).tolist()
    assert tie.tolist() == (expected_tie & judged).tolist()
    assert winner.tolist() == np.where(judged & ~expected_tie, np.argmax(post, axis=0), -1).tolist()
