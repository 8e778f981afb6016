"""First-error agreement and failure attribution on step-judged trajectories.

Hand-computed cases carry their arithmetic; α is checked against the independent ``krippendorff`` package on
the equivalent reliability data; hypothesis checks annotator-relabelling invariance, bounds and unanimity.
"""

from __future__ import annotations

import json
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec import api
from labelspec.check import stats
from labelspec.check.trajectory import (
    attribution_agreement,
    first_error_agreement,
    first_error_steps,
    pairwise_rates,
)

NAN = np.nan
# (item, annotator, step, correct)
STEPS = [
    # item 0, 4 steps: a0 first error at 2, a1 at 1, a2 none
    *[(0, 0, s, c) for s, c in enumerate([1, 1, 0, 1])],
    *[(0, 1, s, c) for s, c in enumerate([1, 0, 1, 1])],
    *[(0, 2, s, c) for s, c in enumerate([1, 1, 1, 1])],
    # item 1, 3 steps: a0 none, a1 at 2, a2 skipped step 1 before its error at 2 → undetermined
    *[(1, 0, s, c) for s, c in enumerate([1, 1, 1])],
    *[(1, 1, s, c) for s, c in enumerate([1, 1, 0])],
    (1, 2, 0, 1), (1, 2, 2, 0),
    # item 2: a0 never judged step 0 → undetermined;
    # a1 judged step 0 twice (correct, then incorrect) → error at 0
    (2, 0, 1, 0), (2, 1, 0, 1), (2, 1, 0, 0),
    # item 3, 2 steps: a0 none, a1 none, a2 at 0
    *[(3, 0, s, 1) for s in range(2)], *[(3, 1, s, 1) for s in range(2)], (3, 2, 0, 0), (3, 2, 1, 1),
]
N_STEPS = [4, 3, 2, 2]


def _errors():  # type: ignore[no-untyped-def]
    item, ann, step, ok = (np.array(col) for col in zip(*STEPS, strict=True))
    return first_error_steps(item, ann, step, ok.astype(bool), n_steps=N_STEPS)


def test_first_error_steps_by_hand() -> None:
    fe = _errors()
    got = list(zip(fe.item.tolist(), fe.annotator.tolist(), fe.first_error.tolist(), fe.has_error.tolist(),
                   fe.complete.tolist(), strict=True))
    assert got == [
        (0, 0, 2, True, True), (0, 1, 1, True, True), (0, 2, 4, False, True),
        (1, 0, 3, False, True), (1, 1, 2, True, True), (1, 2, 2, True, False),
        (2, 0, 1, True, False), (2, 1, 0, True, True),
        (3, 0, 2, False, True), (3, 1, 2, False, True), (3, 2, 0, True, True),
    ]


def test_default_length_is_last_judged_step_plus_one() -> None:
    fe = first_error_steps([0, 0, 1], [0, 1, 0], [0, 5, 2], np.array([1, 1, 1], dtype=bool))
    assert fe.n_steps.tolist() == [6, 3]
    assert fe.complete.tolist() == [False, False, False]  # nobody judged every step


def test_first_error_agreement_by_hand_and_against_krippendorff() -> None:
    agree = first_error_agreement(_errors())
    assert agree.n_undetermined == 2
    # pairs: item 0 (2,1) (2,none) (1,none); item 1 (none,2); item 2 has one determined answer; item 3
    # (none,none) (none,0) (none,0) → 7 pairs, 1 exact; within one adds (2,1) → 2
    assert agree.exact.value == pytest.approx(1 / 7)
    assert agree.within_one.value == pytest.approx(2 / 7)
    assert (agree.exact.n_units, agree.exact.n_excluded) == (3, 1)
    interval = [[2, 3, NAN, 2], [1, 2, 0, 2], [4, NAN, NAN, 0]]  # "none" = n_steps of the item
    nominal = [[2, 99, NAN, 99], [1, 2, 0, 99], [99, NAN, NAN, 0]]  # "none" = one shared category
    assert agree.alpha_interval.value == pytest.approx(
        krippendorff.alpha(reliability_data=np.array(interval), level_of_measurement="interval"))
    assert agree.alpha_nominal.value == pytest.approx(
        krippendorff.alpha(reliability_data=np.array(nominal), level_of_measurement="nominal"))


def test_interval_alpha_by_hand() -> None:
    # item A: first errors 0 and 1; item B: both at 2 (5 steps). Values 0, 1, 2, 2 (n = 4).
    # Σ o δ² = o01 + o10 = 2; Σ n_c n_k δ² = 2·(1·1·1) + 2·(1·2·4) + 2·(1·2·1) = 22; α = 1 − 3·2/22 = 16/22
    item, ann = [0, 0, 0, 1, 1, 1, 1, 1, 1], [0, 1, 1, 0, 0, 0, 1, 1, 1]
    step, ok = [0, 0, 1, 0, 1, 2, 0, 1, 2], np.array([0, 1, 0, 1, 1, 0, 1, 1, 0], dtype=bool)
    fe = first_error_steps(item, ann, step, ok, n_steps=[5, 5])
    assert fe.first_error.tolist() == [0, 1, 2, 2]
    assert first_error_agreement(fe).alpha_interval.value == pytest.approx(16 / 22)


def test_per_unit_rates_equal_the_choice_percent_agreement() -> None:
    """The same definition under the same name: attribution's percent agreement is what a single_choice task's
    percent agreement gives on the same count table, and the pooled rate is Σ agreeing / Σ pairs."""
    rng = np.random.default_rng(3)
    item = np.repeat(np.arange(40), rng.integers(1, 5, 40))
    value = rng.integers(0, 3, item.size)
    table = np.zeros((40, 3), dtype=np.int64)
    np.add.at(table, (item, value), 1)
    assert pairwise_rates(item, value, per_unit=True).value == pytest.approx(stats.percent_agreement(table).value)
    pairs = (table.sum(1) * (table.sum(1) - 1)).sum()
    assert pairwise_rates(item, value).value == pytest.approx((table * (table - 1)).sum() / pairs)


def test_attribution_by_hand() -> None:
    item = [0, 0, 0, 1, 1, 2, 2]
    ann = [0, 1, 2, 0, 1, 0, 1]
    agent = [1, 1, 2, 0, -1, 1, 1]
    step = [3, 4, 3, 2, -1, 1, 1]
    got = attribution_agreement(item, ann, agent, step)
    # agent: item 0 pairs (1,1) ✓ (1,2) ✗ (1,2) ✗ → 1/3; item 1 (0,−1) ✗ → 0; item 2 (1,1) ✓ → 1. Percent
    # agreement averages the items, each counting once, as for every task: (1/3 + 0 + 1)/3 = 4/9 (pooled: 2/5)
    assert got.agent_percent.value == pytest.approx(4 / 9)
    # (agent, step): only item 2 agrees → (0 + 0 + 1)/3
    assert got.agent_step_percent.value == pytest.approx(1 / 3)
    # coincidences: item 0 (m=3) o11 = 1, o12 = o21 = 1; item 1 o(0,−1) = o(−1,0) = 1; item 2 o11 = 2
    # n1 = 4, n2 = n0 = n−1 = 1, n = 7; α = 1 − 6·4 / (49 − 19) = 0.2
    assert got.agent_alpha.value == pytest.approx(0.2)
    with pytest.raises(ValueError, match="one attribution"):
        attribution_agreement([0, 0], [1, 1], [0, 0], [1, 1])


def test_no_pairs_is_undefined_with_reason() -> None:
    rate = pairwise_rates(np.array([0, 1]), np.array([3, 3]))
    assert rate.value is None and rate.reason is not None and rate.n_excluded == 2


trajectories = st.lists(
    st.lists(st.lists(st.booleans(), min_size=3, max_size=3), min_size=1, max_size=4),  # annotators × steps
    min_size=1, max_size=6,
)


def _flatten(data: list[list[list[bool]]], relabel: list[int]) -> tuple[np.ndarray, ...]:
    rows = [(i, relabel[a], s, ok) for i, anns in enumerate(data) for a, steps in enumerate(anns)
            for s, ok in enumerate(steps)]
    item, ann, step, ok = (np.array(c) for c in zip(*rows, strict=True))
    return item, ann, step, ok.astype(bool)


@settings(max_examples=80, deadline=None)
@given(trajectories, st.permutations(range(4)))
def test_annotator_relabelling_invariance_and_bounds(data: list[list[list[bool]]], perm: list[int]) -> None:
    a = first_error_agreement(first_error_steps(*_flatten(data, [0, 1, 2, 3]), n_steps=[3] * len(data)))
    b = first_error_agreement(first_error_steps(*_flatten(data, perm), n_steps=[3] * len(data)))
    for x, y in ((a.exact, b.exact), (a.within_one, b.within_one), (a.alpha_interval, b.alpha_interval),
                 (a.alpha_nominal, b.alpha_nominal)):
        assert x.reason == y.reason
        assert x.value is None or x.value == pytest.approx(y.value)
    if a.exact.value is not None and a.within_one.value is not None:
        assert 0.0 <= a.exact.value <= a.within_one.value <= 1.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=3, max_size=3), min_size=1, max_size=6), st.integers(2, 4))
def test_unanimous_annotators_agree_fully(steps: list[list[bool]], n_ann: int) -> None:
    data = [[s] * n_ann for s in steps]
    agree = first_error_agreement(first_error_steps(*_flatten(data, [0, 1, 2, 3]), n_steps=[3] * len(data)))
    assert agree.exact.value == 1.0 and agree.within_one.value == 1.0
    distinct_answers = {tuple(s).index(False) if False in s else 3 for s in steps}
    if len(steps) >= 2 and len(distinct_answers) >= 2:
        assert agree.alpha_nominal.value == pytest.approx(1.0)
        assert agree.alpha_interval.value == pytest.approx(1.0)
    else:
        assert agree.alpha_nominal.value is None


def test_empty_input_fails_closed() -> None:
    empty = np.zeros(0, dtype=np.int64)
    agree = first_error_agreement(first_error_steps(empty, empty, empty, np.zeros(0, dtype=bool)))
    assert agree.exact.value is None and agree.alpha_interval.value is None and agree.alpha_interval.reason
    assert attribution_agreement(empty, empty, empty, empty).agent_alpha.value is None


def test_gold_attribution_written_with_spaces_is_scored_canonically(tmp_path: Path) -> None:
    """'{"agent": "planner", "step": 1}' is the gold answer written another way: correct, not a crash (the
    canonical text was not a category of the value column, and pandas refused to store it)."""
    (tmp_path / "labelspec.yaml").write_text(
        "labelspec: 1\nproject: {id: t, title: T, version: 0.1.0}\nitems: {file: items.jsonl, id: run_id}\n"
        "tasks:\n  attribution:\n    kind: attribution\n    question: Who?\n    labels:\n"
        "      planner: {title: P, definition: Plans.}\n      coder: {title: C, definition: Codes.}\n"
        "quality:\n  annotations_per_item: 2\n  gold: {file: gold.csv, min_accuracy: 0.5, min_judgments: 1}\n",
        encoding="utf-8")
    (tmp_path / "items.jsonl").write_text('{"run_id": "r1"}\n{"run_id": "r2"}\n', encoding="utf-8")
    (tmp_path / "gold.csv").write_text('item,unit,task,label\nr1,,attribution,"{""agent"":""planner"",""step"":1}"\n',
                                       encoding="utf-8")
    labels = tmp_path / "labels.csv"
    labels.write_text('item_id,annotator_id,label\nr1,a,"{""agent"": ""planner"", ""step"": 1}"\n'
                      'r1,b,"{""agent"":""coder"",""step"":1}"\nr2,a,"{""agent"":""coder"",""step"":1}"\n'
                      'r2,b,"{""agent"":""coder"",""step"":1}"\n', encoding="utf-8")
    gold = api.check_labels(tmp_path, [labels]).gold
    assert gold is not None and gold.of("a")[:2] == (1, 1) and gold.of("b")[:2] == (1, 0)


def _chain_project(tmp_path: Path, n_steps: int) -> Path:
    tmp_path.mkdir()
    steps = json.dumps([{"agent": "x", "text": f"step {i}"} for i in range(1, n_steps + 1)])
    (tmp_path / "labelspec.yaml").write_text(
        "labelspec: 1\nproject: {id: t, title: T, version: 0.1.0}\n"
        "items: {file: items.jsonl, id: run_id, fields: {steps: {type: json}}}\n"
        "tasks:\n  tool_call:\n    kind: single_choice\n    unit: step\n    question: Right call?\n    labels:\n"
        "      correct: {title: C, definition: Right.}\n      wrong: {title: W, definition: Wrong.}\n"
        "    error_labels: [wrong]\nquality:\n  annotations_per_item: 2\n", encoding="utf-8")
    (tmp_path / "items.jsonl").write_text("".join(f'{{"run_id": "r{i}", "steps": {steps}}}\n' for i in (1, 2)),
                                          encoding="utf-8")
    return tmp_path


def _first_error_values(tmp_path: Path, rows: list[tuple[str, int, str, str]]) -> dict[str, float | None]:
    labels = tmp_path / "labels.csv"
    labels.write_text("item_id,step,annotator_id,label\n" + "".join(f"{i},{s},{a},{v}\n" for i, s, a, v in rows),
                      encoding="utf-8")
    got = api.check_labels(tmp_path, [labels]).analyses["tool_call"].agreement
    return {k: got[k].value for k in ("first_error_exact", "first_error_within_one", "first_error_alpha")}


def test_first_errors_are_positions_in_the_items_steps_list(tmp_path: Path) -> None:
    """With the items' steps lists (6 steps), "no error" after judging steps 1–3 only is not determined (it was
    read as "none" before), and a step nobody judged is still a step: an error after it is not determined."""
    prefix = [(i, s, "a", "correct") for i in ("r1", "r2") for s in (1, 2, 3)]
    prefix += [("r1", 1, "b", "correct"), ("r1", 2, "b", "wrong"), ("r1", 3, "b", "correct")]
    prefix += [("r2", 1, "b", "correct"), ("r2", 2, "b", "correct"), ("r2", 3, "b", "wrong")]
    assert _first_error_values(_chain_project(tmp_path / "six", 6), prefix) == {
        "first_error_exact": None, "first_error_within_one": None, "first_error_alpha": None}
    # the same judgments on 3-step items: every answer is determined; a says none, b names a step: no pair agrees
    three = _first_error_values(_chain_project(tmp_path / "three", 3), prefix)
    assert three["first_error_exact"] == 0.0 and three["first_error_within_one"] == 0.0
    # nobody judged step 3: b's error at step 4 is not determined (it was "within one" of a's error at step 2)
    gap = [(i, s, a, "wrong" if s == w else "correct") for i in ("r1", "r2") for a, w in (("a", 2), ("b", 4))
           for s in (1, 2, 4)]
    assert _first_error_values(_chain_project(tmp_path / "gap", 4), gap)["first_error_within_one"] is None


def test_a_label_nested_under_an_error_label_is_an_error(tmp_path: Path) -> None:
    """``fatal`` under ``wrong``: naming ``wrong`` an error label names its subtypes too, as ``review: always``
    does (an audit found fatal steps read as correct)."""
    root = _chain_project(tmp_path / "nested", 3)
    spec = root / "labelspec.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace(
        "      wrong: {title: W, definition: Wrong.}\n",
        "      wrong: {title: W, definition: Wrong.}\n      fatal: {title: F, definition: Fatal., parent: wrong}\n"),
        encoding="utf-8")
    rows = [(i, s, a, {"a": "fatal", "b": "wrong"}[a] if s == 2 else "correct")
            for i in ("r1", "r2") for a in ("a", "b") for s in (1, 2, 3)]
    assert _first_error_values(root, rows)["first_error_exact"] == 1.0  # both at step 2 (a's was "none" before)
