"""Annotator findings computed from count tables, on data built so the right answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check.analyze import analyze_choice
from labelspec.check.findings import _position_bias
from labelspec.spec.model import BootstrapPolicy, Task

PAIR = Task(name="pref", kind="pairwise", question="Which is better?")


def _judgments(biased: bool, seed: int = 3) -> pd.DataFrame:
    """200 comparisons, each judged by two of four raters. Everyone is unsure 20% of the time (r4: 50%) and then
    answers the wrong side; when ``biased``, an unsure r4 answers A (the left response) whatever the truth."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(200):
        truth = "A" if i % 2 else "B"
        for rater in (["r1", "r4"] if i % 3 == 0 else ["r2", "r4"]) if i % 4 else ["r1", "r3"]:
            unsure = rng.random() < (0.5 if rater == "r4" else 0.2)
            flip = "B" if truth == "A" else "A"
            value = ("A" if biased and rater == "r4" else flip) if unsure else truth
            rows.append((f"c{i}", rater, value))
    return pd.DataFrame({"item": [r[0] for r in rows], "unit": "", "task": "pref",
                         "annotator": [r[1] for r in rows], "value": [r[2] for r in rows]})


def _flagged(frame: pd.DataFrame) -> list[str]:
    analysis = analyze_choice(frame, PAIR, gold_units=set(), min_per_unit=2, boot=BootstrapPolicy(replicates=0))
    return [f.annotator or "" for f in _position_bias("pref", analysis)]


def test_an_annotator_who_prefers_the_left_response_is_flagged() -> None:
    assert _flagged(_judgments(biased=True)) == ["r4"]


def test_symmetric_noise_is_not_position_bias() -> None:
    assert _flagged(_judgments(biased=False)) == []


def test_rolling_gold_accuracy_reports_the_first_breach_and_when() -> None:
    from labelspec.check.gold import rolling_breach

    correct = [True] * 10 + [False, True, False, False, True, False]  # window 5: 3/5 at the 14th judgment
    scored = pd.DataFrame({"annotator": "a1", "correct": correct,
                           "when": pd.date_range("2026-03-01", periods=len(correct), freq="h", tz="UTC")})
    breach = rolling_breach(scored, "a1", window=5, threshold=0.7)
    assert breach == (0.6, "2026-03-01T12:00:00Z", 13)  # judgments 9–13: T, T, F, T, F
    assert rolling_breach(scored, "a1", window=5, threshold=0.4) is None  # never below 2 of 5
    assert rolling_breach(scored.head(4), "a1", window=5, threshold=0.99) is None  # no full window yet


def test_gold_judgments_without_a_timestamp_are_not_placed_last_in_the_drift_window() -> None:
    """A gold judgment with no time has no place in time: it was sorted last and reported breaches "at NaT"."""
    from labelspec.check.gold import rolling_breach

    when = list(pd.date_range("2026-03-01", periods=6, freq="h", tz="UTC")) + [pd.NaT]
    scored = pd.DataFrame({"annotator": "a1", "correct": [True] * 6 + [False], "when": when})
    assert rolling_breach(scored, "a1", window=3, threshold=0.7) is None


def test_an_annotator_exactly_the_margin_below_the_median_is_not_flagged(monkeypatch: pytest.MonkeyPatch) -> None:
    """"More than 0.15 below": 0.45 − 0.30 is 0.15000000000000002 in floating point and was flagged."""
    from types import SimpleNamespace

    from labelspec.check import findings

    monkeypatch.setattr(findings, "loo_agreement", lambda *a: (np.array([20, 20, 20, 20, 100]),
                                                                np.array([6, 9, 9, 9, 29])))  # median 0.45
    codes = SimpleNamespace(unit=None, annotator=None, category=None, shape=(1, 5, 2),
                            annotators=np.array(["A", "B", "C", "E", "D"], dtype=object))
    analysis = SimpleNamespace(codes=codes, gold_mask=np.zeros(0, dtype=bool), patterns=None)
    assert [f.annotator for f in findings._loo_findings("t", analysis)] == ["D"]  # type: ignore[arg-type]


def test_divergent_annotator_is_named_with_the_label_it_overuses() -> None:
    from labelspec.check.findings import _divergence
    from labelspec.spec.model import DistributionPolicy, Label, Quality, Spec

    task = Task(name="t", kind="single_choice", question="?",
                labels=tuple(Label(id=i, title=i, definition=i) for i in ("x", "y")))
    spec = Spec(path="s.yaml", root=".", project=None, tasks=(task,),  # type: ignore[arg-type]
                quality=Quality(distribution=DistributionPolicy(annotator_divergence_p=0.001)))
    raters = [f"a{k:02d}" for k in range(1, 11)]  # a10 always answers x; the other nine split x / y evenly
    rows = [(f"i{i}", a, "x" if (i % 2 or a == "a10") else "y") for i in range(200) for a in raters]
    frame = pd.DataFrame({"item": [r[0] for r in rows], "unit": "", "task": "t", "annotator": [r[1] for r in rows],
                          "value": [r[2] for r in rows]})
    analysis = analyze_choice(frame, task, gold_units=set(), min_per_unit=2, boot=BootstrapPolicy(replicates=0))
    found = _divergence(spec, "t", analysis)
    assert [(f.annotator, f.evidence["label"]) for f in found] == [("a10", "x")]


def test_an_annotator_who_judged_only_gold_units_is_not_in_the_holm_family() -> None:
    """u4 judged only the gold unit g1: its zero row (p = 1) must not enter Holm's correction. Reference: Pearson
    χ² one-vs-rest (scipy, no continuity correction) and statsmodels' Holm over u1–u3 (found by an audit)."""
    from scipy.stats import chi2_contingency
    from statsmodels.stats.multitest import multipletests

    from labelspec.check.findings import _divergence
    from labelspec.spec.model import DistributionPolicy, Label, Quality, Spec

    task = Task(name="t", kind="single_choice", question="?",
                labels=tuple(Label(id=i, title=i, definition=i) for i in ("a", "b")))
    spec = Spec(path="s.yaml", root=".", project=None, tasks=(task,),  # type: ignore[arg-type]
                quality=Quality(distribution=DistributionPolicy(annotator_divergence_p=0.9)))
    said = {"u1": "aaaa", "u2": "bbab", "u3": "abab"}
    rows = [(f"i{i + 1}", a, v) for a, values in said.items() for i, v in enumerate(values)] + [("g1", "u4", "a")]
    frame = pd.DataFrame({"item": [r[0] for r in rows], "unit": "", "task": "t", "annotator": [r[1] for r in rows],
                          "value": [r[2] for r in rows]})
    analysis = analyze_choice(frame, task, gold_units={"g1"}, min_per_unit=2, boot=BootstrapPolicy(replicates=0))
    found = {f.annotator: f.evidence["p_holm"] for f in _divergence(spec, "t", analysis)}
    table = np.array([[v.count("a"), v.count("b")] for v in said.values()])
    raw = [chi2_contingency(np.stack([table[i], table.sum(axis=0) - table[i]]), correction=False)[1]
           for i in range(3)]
    expected = dict(zip(said, multipletests(raw, method="holm")[1], strict=True))
    assert found.keys() == expected.keys()
    for name, p in expected.items():
        assert found[name] == pytest.approx(p, rel=1e-9)


def _loo_reference(unit: np.ndarray, ann: np.ndarray, cat: np.ndarray, shape: tuple[int, int, int]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The leave-one-out vote spelled out: each judgment's unit counts minus itself, then a plurality vote."""
    from labelspec.check.consensus import majority_vote
    from labelspec.check.findings import LOO_MIN_OTHERS

    n_units, n_ann, k = shape
    counts = np.bincount(unit * k + cat, minlength=n_units * k).reshape(n_units, k)
    others = counts[unit].copy()
    others[np.arange(len(unit)), cat] -= 1
    usable = others.sum(axis=1) >= LOO_MIN_OTHERS
    mv = majority_vote(others[usable], min_support=0.0)
    agree = (mv.winner == cat[usable]) & ~mv.tie
    n = np.bincount(ann[usable][~mv.tie], minlength=n_ann)
    hits = np.bincount(ann[usable], weights=agree.astype(float), minlength=n_ann).astype(np.int64)
    return n, hits


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.integers(1, 6), st.integers(1, 5), st.data(), st.sampled_from([1 << 20, 1, 7]),
       st.sampled_from([np.int64, np.int32]))
def test_loo_agreement_from_top_counts_equals_the_spelled_out_vote(n_units: int, n_ann: int, k: int,
                                                                   data: st.DataObject, piece: int, kind: type
                                                                   ) -> None:
    """Also with a row mask: the rows left out count as if they had been cut out of the arrays; tallied by pieces
    of judgments of any size, from int64 or int32 codes (the label-coded analysis's)."""
    from labelspec.check import findings
    from labelspec.check.findings import loo_agreement

    rows = data.draw(st.lists(st.tuples(st.integers(0, n_units - 1), st.integers(0, n_ann - 1),
                                        st.integers(0, k - 1), st.booleans()), max_size=60))
    arr = np.array(rows, dtype=kind).reshape(-1, 4)
    shape, keep = (n_units, n_ann, k), arr[:, 3].astype(bool)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(findings, "_LOO_ROWS", piece)
        got = loo_agreement(arr[:, 0], arr[:, 1], arr[:, 2], shape)
        got_kept = loo_agreement(arr[:, 0], arr[:, 1], arr[:, 2], shape, keep)
    want = _loo_reference(arr[:, 0], arr[:, 1], arr[:, 2], shape)
    assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()
    got = got_kept
    want = _loo_reference(arr[keep, 0], arr[keep, 1], arr[keep, 2], shape)
    assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()


def test_loo_agreement_with_a_wide_count_space_takes_the_sorting_path() -> None:
    """Units with many judgments per label make the pattern codes exceed the dense range (np.unique path)."""
    from labelspec.check.findings import loo_agreement

    rng = np.random.default_rng(7)
    n_units, n_ann, k = 40, 50, 6
    unit = np.r_[np.zeros(300, np.int64), rng.integers(1, n_units, 400)]
    ann, cat = rng.integers(0, n_ann, unit.size), rng.integers(0, k, unit.size)
    cat[:300] = np.arange(300) % k  # one unit with 50 judgments of every label: base 51**6 > 2**24
    got = loo_agreement(unit, ann, cat, (n_units, n_ann, k))
    want = _loo_reference(unit, ann, cat, (n_units, n_ann, k))
    assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()
    assert got[0].sum() > 0
