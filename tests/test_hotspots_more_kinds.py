"""Label-pair hotspots for pairwise, attribution and rating tasks: splits, units, coverage and guideline gaps."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_decide import accounting, gold, lab, make_spec, votes

from labelspec import api
from labelspec.check import hotspots
from labelspec.check.context import Context
from labelspec.check.hotspots import find_hotspots
from labelspec.spec.load import load_spec
from labelspec.spec.model import Counterexample, EdgeCase, Scale, Task

REPO = Path(__file__).resolve().parents[1]

PREF = Task(name="pref", kind="pairwise", question="q", edge_cases=(
    EdgeCase(id="equal-is-tie", when="w", label="tie", why="y", instead_of=("A", "B")),))
PREF_TABLE: dict[str, str | list[str]] = {
    "i1": ["A", "A", "B", "tie"],  # A·B = 2·1, A·tie = 2·1, B·tie = 1·1
    "i2": ["B", "tie"],  # B·tie = 1
    "i3": ["A", "A"],  # unanimous
    "i4": ["A", "B"],  # gold below: left out
}


def _pairs(*tasks: Task, rows: list[tuple[str, str, str, str, str]], ctx: Context | None = None,
           max_pairs: int = 10) -> dict[tuple[str, ...], dict[str, object]]:
    section = find_hotspots(make_spec(*tasks), accounting(rows), ctx or Context(), max_pairs=max_pairs).section()
    return {(p["task"], *p["labels"]): p for p in section["label_pairs"]}


def _brief(pairs: dict[tuple[str, ...], dict[str, object]]) -> dict[tuple[str, ...], tuple[object, ...]]:
    return {k: (p["splits"], p["units"], p["examples"], p["gap"]) for k, p in pairs.items()}


def test_pairwise_splits_are_the_products_of_the_answer_counts() -> None:
    pairs = _pairs(PREF, rows=votes("pref", PREF_TABLE), ctx=Context(gold=gold([("i4", "pref", "A")])))
    assert list(pairs) == [("pref", "A", "B"), ("pref", "A", "tie"), ("pref", "B", "tie")]  # ties: spec order
    assert _brief(pairs) == {("pref", "A", "B"): (2, 1, ["i1"], True),
                             ("pref", "A", "tie"): (2, 1, ["i1"], False),
                             ("pref", "B", "tie"): (2, 2, ["i1", "i2"], False)}
    assert [p["share"] for p in pairs.values()] == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    assert pairs[("pref", "A", "tie")]["covered_by"] == [{"kind": "edge_case", "id": "equal-is-tie",
                                                          "link": "guidelines.html#equal-is-tie"}]


def test_without_gold_the_unit_counts_and_the_gap_is_a_suggested_fix() -> None:
    section = find_hotspots(make_spec(PREF), accounting(votes("pref", PREF_TABLE)), Context()).section()
    ab = next(p for p in section["label_pairs"] if p["labels"] == ["A", "B"])
    assert (ab["splits"], ab["units"], ab["examples"]) == (3, 2, ["i1", "i4"])  # i4 counts once it is not gold
    assert [(f["labels"], f["examples"]) for f in section["suggested_fixes"]] == [(["A", "B"], ["i1", "i4"])]
    assert "pref: A ↔ B split 3× on 2 unit(s) — guideline gap: no edge case or counterexample settles it" \
        in section["summary"]


def test_pairwise_without_ties_has_one_pair() -> None:
    strict = Task(name="pref", kind="pairwise", question="q", allow_ties=False)
    pairs = _pairs(strict, rows=votes("pref", {"i1": ["A", "B", "B"], "i2": ["A", "A"]}))
    assert _brief(pairs) == {("pref", "A", "B"): (2, 1, ["i1"], True)}


def _attr(agent: str | None, step: int | None) -> str:
    return json.dumps({"agent": agent, "step": step})


BLAME = Task(name="blame", kind="attribution", question="q",
             labels=(lab("planner"), lab("coder", counterexamples=(Counterexample(text="t", use="none", why="w"),)),
                     lab("none")),
             edge_cases=(EdgeCase(id="no-failure", when="w", label="none", why="y", instead_of=("planner",)),))
BLAME_TABLE: dict[str, str | list[str]] = {
    "r1": [_attr("coder", 2), _attr("coder", 3), _attr("planner", 1)],  # coder·planner = 2·1; the steps differ
    "r2": [_attr(None, None), _attr("none", None), _attr("planner", 1)],  # a null agent is `none`: none·planner 2
    "r3": [_attr("coder", 1), _attr("coder", 4)],  # one agent, two steps: no split
    "r4": [_attr("coder", 1), _attr("none", None)],  # coder·none = 1
}


def test_attribution_splits_are_between_agents_not_steps() -> None:
    pairs = _pairs(BLAME, rows=votes("blame", BLAME_TABLE))
    assert _brief(pairs) == {("blame", "planner", "coder"): (2, 1, ["r1"], True),
                             ("blame", "planner", "none"): (2, 1, ["r2"], False),
                             ("blame", "coder", "none"): (1, 1, ["r4"], False)}
    assert pairs[("blame", "planner", "none")]["covered_by"] == [
        {"kind": "edge_case", "id": "no-failure", "link": "guidelines.html#no-failure"}]
    assert pairs[("blame", "coder", "none")]["covered_by"] == [
        {"kind": "counterexample", "id": "coder→none", "link": "guidelines.html#_label-blame-1"}]


def test_a_null_agent_without_a_none_label_splits_with_nothing() -> None:
    bare = Task(name="blame", kind="attribution", question="q", labels=(lab("planner"), lab("coder")))
    rows = votes("blame", {"r1": [_attr(None, None), _attr("planner", 1)], "r2": [_attr("coder", 2),
                                                                             _attr("planner", 2)]})
    assert _brief(_pairs(bare, rows=rows)) == {("blame", "planner", "coder"): (1, 1, ["r2"], True)}


def test_attribution_gold_items_are_left_out() -> None:
    pairs = _pairs(BLAME, rows=votes("blame", BLAME_TABLE), ctx=Context(gold=gold([("r1", "blame", _attr("coder", 2))])))
    assert ("blame", "planner", "coder") not in pairs and ("blame", "planner", "none") in pairs


RATING_SPEC = """\
labelspec: 1
project: {id: p, title: P, version: 1.0.0}
tasks:
  tone:
    kind: rating
    question: Tone?
    scale: {min: 1, max: 5}
    edge_cases:
      - {id: polite-complaint, when: w, label: "4", instead_of: ["2"], why: y}
"""


def test_rating_edge_cases_name_scale_points_and_settle_their_splits(tmp_path: Path) -> None:
    """A rating's answers are its scale points as text, which an edge case may name (LS301 accepts them): a
    split between two points is settled by such an edge case, or it is a gap; neighbouring points (3 ↔ 4)
    differ in degree and are not paired."""
    (tmp_path / "labelspec.yaml").write_text(RATING_SPEC, "utf-8")
    spec = load_spec(tmp_path)
    rows = votes("tone", {"i1": ["2", "4", "4"], "i2": ["1", "5"], "i3": ["3", "4"], "i4": ["2", "4"]})
    section = find_hotspots(spec, accounting(rows), Context(gold=gold([("i4", "tone", "3")]))).section()
    pairs = {tuple(p["labels"]): p for p in section["label_pairs"]}
    assert {k: (p["splits"], p["units"], p["examples"], p["gap"]) for k, p in pairs.items()} == {
        ("2", "4"): (2, 1, ["i1"], False), ("1", "5"): (1, 1, ["i2"], True)}
    assert pairs[("2", "4")]["covered_by"] == [{"kind": "edge_case", "id": "polite-complaint",
                                               "link": "guidelines.html#polite-complaint"}]
    assert "tone: 2 ↔ 4 split 2× on 1 unit(s) — settled by edge_case polite-complaint " \
           "(guidelines.html#polite-complaint)" in section["summary"]


def test_a_wide_scale_pairs_the_points_judged() -> None:
    """1001 points (the most a scale may have): pairs are named by the points' text, whatever their position."""
    wide = Task(name="score", kind="rating", question="q", scale=Scale(min=0, max=1000), level="ordinal")
    rows = votes("score", {"i1": ["0", "1000", "1000"], "i2": ["500", "502"], "i3": ["7", "8"]})
    assert _brief(_pairs(wide, rows=rows)) == {("score", "0", "1000"): (2, 1, ["i1"], True),
                                               ("score", "500", "502"): (1, 1, ["i2"], True)}


@pytest.mark.parametrize(("level", "neighbours"), [("ordinal", False), ("interval", False), ("nominal", True)])
def test_neighbouring_points_are_paired_only_on_an_unordered_scale(level: str, neighbours: bool) -> None:
    """On an ordered scale 3 ↔ 4 differ in degree, which the weighted α discounts; a nominal rating's α counts
    them as full disagreements, and so do its hotspots (a review found them hidden there)."""
    tone = Task(name="tone", kind="rating", question="q", scale=Scale(min=1, max=5), level=level)  # type: ignore[arg-type]
    pairs = _brief(_pairs(tone, rows=votes("tone", {"i1": ["3", "4"], "i2": ["2", "5"]})))
    assert (("tone", "3", "4") in pairs) is neighbours and ("tone", "2", "5") in pairs


KINDS = {
    "pairwise": (Task(name="t", kind="pairwise", question="q"), ["A", "B", "tie"]),
    "rating": (Task(name="t", kind="rating", question="q", scale=Scale(min=1, max=4), level="ordinal"),
               ["1", "2", "3", "4"]),
    "attribution": (Task(name="t", kind="attribution", question="q", labels=(lab("p"), lab("c"), lab("none"))),
                    [_attr(a, s) for a in ("p", "c", "none", None) for s in (None, 1, 2)]),
}


def _label_of(kind: str, value: str) -> str:
    if kind != "attribution":
        return value
    return json.loads(value)["agent"] or "none"


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(sorted(KINDS)), st.data())
def test_splits_are_a_count_of_judgment_pairs_and_ignore_the_row_order(kind: str, data: st.DataObject) -> None:
    """Σ_u n_ua · n_ub equals counting the pairs of judgments on one unit with two different labels, and no
    reordering of the judgments changes a listed pair (splits, units, share, examples); the sparse table (a
    long scale) gives what the dense one gives. A rating's neighbouring points are never paired."""
    task, values = KINDS[kind]
    drawn = data.draw(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(values)), max_size=30))
    rows = [(f"i{u}", "", "t", f"a{n}", v) for n, (u, v) in enumerate(drawn)]
    got = _pairs(task, rows=rows, max_pairs=100)
    perm = data.draw(st.permutations(range(len(rows))))
    assert _pairs(task, rows=[rows[i] for i in perm], max_pairs=100) == got
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hotspots, "counting_fits", lambda space, n: False)
        assert _pairs(task, rows=[rows[i] for i in perm], max_pairs=100) == got
    labels = task.label_ids
    want: Counter[tuple[str, str]] = Counter()
    for (ua, va), (ub, vb) in itertools.combinations(drawn, 2):
        a, b = sorted((_label_of(kind, va), _label_of(kind, vb)), key=labels.index)
        if ua == ub and a != b and not (kind == "rating" and abs(labels.index(a) - labels.index(b)) == 1):
            want[(a, b)] += 1
    assert {k[1:]: p["splits"] for k, p in got.items()} == dict(want)


def test_the_rlhf_example_reports_preference_pairs_settled_by_its_tie_edge_cases() -> None:
    project = REPO / "specs" / "rlhf-preference"
    report = api.check_labels(project, [project / "labels"])
    section = report.sections["hotspots"]
    pref = {tuple(p["labels"]): p for p in section["label_pairs"] if p["task"] == "preference"}
    assert set(pref) == {("A", "B"), ("A", "tie"), ("B", "tie")}
    for pair in (("A", "tie"), ("B", "tie")):
        assert [c["id"] for c in pref[pair]["covered_by"]] == ["equal-quality-is-tie", "both-unacceptable"]
        assert pref[pair]["gap"] is False
    assert pref[("A", "B")]["gap"] is True  # the tie edge cases do not choose between A and B
    assert any(f["task"] == "preference" and f["labels"] == ["A", "B"] for f in section["suggested_fixes"])
    # the splits, counted again from the used judgments with pandas (gold items left out)
    used = report.accounting.used
    gold_items = set(api.project_context(report.spec).gold.query("task in ['', 'preference']")["item"])
    own = used[(used["task"] == "preference") & ~used["item"].isin(gold_items)]
    counts = pd.crosstab(own["item"].astype(str), own["value"].astype(str))
    for (a, b), p in pref.items():
        assert p["splits"] == int((counts[a] * counts[b]).sum())
        assert p["units"] == int(((counts[a] > 0) & (counts[b] > 0)).sum())
