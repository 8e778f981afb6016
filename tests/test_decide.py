"""Consensus per unit (decide): every method, every review reason, routing, expert decisions, report section.

Expected values are worked by hand in the comments; Dawid–Skene is checked against the plain vote it must
overrule and against its own clamping contract. The small builders here are shared by the hotspot, queue and
release tests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from labelspec.check.consensus import majority_vote
from labelspec.check.context import Context, Items, RosterEntry
from labelspec.check.decide import Decisions, consensus_method, decide_all, reason_lists
from labelspec.check.records import EXCLUSION_COLUMNS, Accounting
from labelspec.check.review_routing import DEFAULT_REVIEW, REASONS
from labelspec.spec.model import (
    Adjudication,
    Label,
    Project,
    Rule,
    Scale,
    Spec,
    Task,
)

Row = tuple[str, str, str, str, str]  # item, unit, task, annotator, value


def lab(label_id: str, **kw: object) -> Label:
    return Label(id=label_id, title=label_id.title(), definition="d", **kw)  # type: ignore[arg-type]


def make_spec(*tasks: Task, **adjudication: object) -> Spec:
    policy = Adjudication(**adjudication)  # type: ignore[arg-type]
    return Spec(path="specs/t/labelspec.yaml", root="specs/t", project=Project(id="t", title="T", version="1.0.0"),
                tasks=tasks, adjudication=policy, digest="sha256:" + "0" * 64)


def frame(rows: Sequence[Row]) -> pd.DataFrame:
    out = [{"item": item, "unit": unit, "task": task, "annotator": ann, "value": value,
            "timestamp": f"2026-03-02T10:{i // 60:02d}:{i % 60:02d}Z", "lead_time": "5", "file": "l.csv",
            "line": i + 2} for i, (item, unit, task, ann, value) in enumerate(rows)]
    df = pd.DataFrame(out, columns=["item", "unit", "task", "annotator", "value", "timestamp", "lead_time", "file",
                                    "line"])
    return df.assign(when=pd.to_datetime(df["timestamp"], utc=True))


def accounting(rows: Sequence[Row], expert: Sequence[Row] = ()) -> Accounting:
    used, exp = frame(rows), frame(expert)
    return Accounting(used=used, expert=exp, exclusions=pd.DataFrame(columns=EXCLUSION_COLUMNS),
                      rows_read=len(used) + len(exp))


def votes(task: str, table: dict[str, str | list[str]], unit: str = "") -> list[Row]:
    """``{"i1": "aab"}`` → three judgments a, a, b by annotators n0, n1, n2."""
    return [(item, unit, task, f"n{j}", v) for item, vals in table.items() for j, v in enumerate(vals)]


def gold(rows: Sequence[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"item": i, "unit": "", "task": t, "label": g, "why": ""} for i, t, g in rows],
                        columns=["item", "unit", "task", "label", "why"])


INTENT = Task(name="intent", kind="single_choice", question="q",
              labels=(lab("a"), lab("b"), lab("c", review="always")))


def unit(decisions: pd.DataFrame | Decisions, item: str, task: str = "intent", step: str = "") -> dict[str, Any]:
    """One unit's row; from a :class:`Decisions`, with its lazily built ``detail``."""
    frame = decisions.units if isinstance(decisions, Decisions) else decisions
    rows = frame[(frame["item"] == item) & (frame["task"] == task) & (frame["unit"] == step)]
    assert len(rows) == 1
    row: dict[str, Any] = rows.iloc[0].to_dict()
    if isinstance(decisions, Decisions):
        row["detail"] = decisions.detail(rows)[0]
    return row


# --- majority ------------------------------------------------------------------------------------------------


def test_majority_winner_tie_unanimous_and_min_support_boundary() -> None:
    acc = accounting(votes("intent", {"i1": "aab", "i2": "ab", "i3": "bbb", "i4": "aaab"}))
    d = decide_all(make_spec(INTENT, min_support=0.67), acc, Context()).units
    i1 = unit(d, "i1")
    assert (i1["value"], i1["decided_by"], i1["support"]) == ("a", "majority", 2 / 3)
    assert i1["reason_low_support"] and not i1["reason_tie"]  # 0.666… < 0.67
    i2 = unit(d, "i2")
    assert i2["value"] is None and i2["decided_by"] is None and i2["reason_tie"] and i2["support"] == 0.5
    assert unit(d, "i3")["decided_by"] == "unanimous"
    assert unit(d, "i4")["value"] == "a" and not unit(d, "i4")["reason_low_support"]  # 3/4 ≥ 0.67
    d2 = decide_all(make_spec(INTENT, min_support=2 / 3), acc, Context()).units
    assert not unit(d2, "i1")["reason_low_support"]  # exactly at the threshold passes


def test_methods_by_kind() -> None:
    pol = Adjudication(method="dawid_skene")
    assert consensus_method(INTENT, pol) == "dawid_skene"
    assert consensus_method(INTENT, Adjudication()) == "majority"
    tax = Task(name="t", kind="single_choice", question="q", labels=(lab("p"), lab("c", parent="p")))
    assert consensus_method(tax, pol) == "deepest_level"
    kinds = {"multi_choice": "per_label_majority", "rating": "median", "pairwise": "pairwise",
             "spans": "span_majority", "ranking": "borda", "attribution": "exact_majority", "text": None}
    for kind, method in kinds.items():
        assert consensus_method(Task(name="t", kind=kind, question="q"), pol) == method  # type: ignore[arg-type]


# --- Dawid–Skene ---------------------------------------------------------------------------------------------


def _ds_rows() -> list[Row]:
    """n0 and n1 are accurate, n2 always swaps a and b; unit x is a 1–2 split where n2's 'b' means 'a'."""
    rows: list[Row] = []
    for i in range(30):
        truth = "ab"[i % 2]
        swapped = "ba"[i % 2]
        rows += [(f"u{i:02d}", "", "intent", "n0", truth), (f"u{i:02d}", "", "intent", "n1", truth),
                 (f"u{i:02d}", "", "intent", "n2", swapped)]
    rows += [("x", "", "intent", "n0", "a"), ("x", "", "intent", "n1", "b"), ("x", "", "intent", "n2", "b")]
    return rows


def test_dawid_skene_overrules_the_vote_of_a_systematically_wrong_annotator() -> None:
    spec = make_spec(INTENT, method="dawid_skene", min_support=0.6)
    dec = decide_all(spec, accounting(_ds_rows()), Context())
    x = unit(dec, "x")
    # the plain vote on x is b (n1, n2); EM trusts n0 and n1 and knows n2 swaps a and b
    assert x["value"] == "a" and x["decided_by"] == "dawid_skene" and "vote" not in dec.units.columns
    posterior = x["detail"]["posterior"]
    assert sum(posterior.values()) == pytest.approx(1.0, abs=1e-5)
    assert x["support"] == pytest.approx(max(posterior.values()), abs=1e-6)
    model = dec.models["intent"]
    assert model["converged"] and model["labels"] == ["a", "b", "c"]
    assert sum(model["priors"].values()) == pytest.approx(1.0)
    swap = np.array(model["confusion"]["n2"])  # rows: true class, columns: given label
    assert swap[0, 1] > 0.9 and swap[1, 0] > 0.9


def test_a_decision_without_details_is_the_same_decision() -> None:
    """A plain check asks for no per-unit details (Dawid–Skene's posteriors are dropped early); its units and
    model are those of the decision with details."""
    from labelspec.check.decide import decide_one

    spec = make_spec(INTENT, method="dawid_skene", min_support=0.6)
    acc = accounting(_ds_rows())
    full = decide_one(spec, spec.tasks[0], acc, Context())
    bare = decide_one(spec, spec.tasks[0], acc, Context(), details=False)
    assert full is not None and bare is not None
    assert full.detail is not None and bare.detail is None
    pd.testing.assert_frame_equal(bare.units, full.units)
    assert bare.model == full.model


def test_dawid_skene_clamps_gold_units_and_reports_the_conflict() -> None:
    rows = votes("intent", {"g1": "aab", **{f"u{i}": "aaa" if i % 2 else "bbb" for i in range(8)}})
    spec = make_spec(INTENT, method="dawid_skene", min_support=0.6, expert_review=("gold_conflict",))
    dec = decide_all(spec, accounting(rows), Context(gold=gold([("g1", "intent", "b")])))
    g1 = unit(dec.units, "g1")
    assert g1["value"] == "b" and g1["gold"] == "b"  # held at gold; the plain vote (a) disagrees:
    assert g1["reason_gold_conflict"] and g1["review"]
    assert dec.models["intent"]["gold_units_clamped"] == 1


def test_dawid_skene_never_settles_a_label_no_judgment_chose() -> None:
    """Every unit judged once: EM cannot tell annotators apart and turned single judgments into labels nobody gave
    (released as decided; found by an audit). Such a winner goes to review as low_support."""
    rows = votes("intent", {"i1": "b"}) + votes("intent", {f"u{i}": "a" for i in range(6)}) + [
        ("i2", "", "intent", "n1", "c"), ("i3", "", "intent", "n2", "b")]
    dec = decide_all(make_spec(INTENT, method="dawid_skene", min_support=0.0), accounting(rows), Context())
    chosen = {u: set(v) for u, v in pd.DataFrame(rows).groupby(0)[4]}
    for _, row in dec.units.iterrows():
        if row["value"] is not None and row["value"] not in chosen[row["item"]]:
            assert row["reason_low_support"] and row["review"], row["item"]
    assert dec.units["reason_low_support"].any()  # the case arises here


def test_dawid_skene_iteration_cap_and_tolerance_come_from_the_spec() -> None:
    spec = make_spec(INTENT, method="dawid_skene", max_iterations=1, tolerance=1e-3)
    model = decide_all(spec, accounting(_ds_rows()), Context()).models["intent"]
    assert (model["iterations"], model["converged"], model["max_iterations"], model["tolerance"]) == (1, False, 1, 1e-3)


# --- rating, multi_choice, pairwise, spans, ranking, taxonomy, attribution -----------------------------------


def test_median_rating() -> None:
    tone = Task(name="tone", kind="rating", question="q", scale=Scale(min=1, max=5), level="ordinal")
    acc = accounting(votes("tone", {"i1": "445", "i2": "34", "i3": "1155"}))
    d = decide_all(make_spec(tone, min_support=0.6), acc, Context())
    i1, i2, i3 = unit(d, "i1", "tone"), unit(d, "i2", "tone"), unit(d, "i3", "tone")
    assert (i1["value"], i1["support"], i1["tie"], i1["decided_by"]) == ("4", 2 / 3, False, "median")
    # 3 and 4: the median 3.5 is no scale point and nobody said it; 1,1,5,5: nobody said 3. Tied: no value
    assert (i2["value"], i2["support"], i2["reason_tie"], i2["reason_low_support"]) == (None, 0.0, True, True)
    assert i3["value"] is None and i3["reason_tie"] and i3["detail"] == {"iqr": 4.0}
    assert i2["decided_by"] is None and i2["proposed"] is None


def test_per_label_majority_multi_choice() -> None:
    tags = Task(name="tags", kind="multi_choice", question="q", labels=(lab("x"), lab("y"), lab("z")))
    acc = accounting(votes("tags", {"i1": ['["y","x"]', '["x"]', '["x","y"]'], "i2": ['["x"]', '["z"]']}))
    d = decide_all(make_spec(tags, min_support=0.6), acc, Context()).units
    i1, i2 = unit(d, "i1", "tags"), unit(d, "i2", "tags")
    assert i1["value"] == '["x","y"]' and i1["support"] == 2 / 3  # y chosen by 2 of 3: its in/out is the weakest
    assert i2["value"] is None and i2["reason_tie"]  # each chosen by exactly half: tied, no value


def test_pairwise_chosen_rejected_and_unanimous_tie() -> None:
    pref = Task(name="pref", kind="pairwise", question="q")
    acc = accounting(votes("pref", {"i1": "ABB", "i2": "AB", "i3": ["tie", "tie"]}))
    d = decide_all(make_spec(pref, min_support=0.6), acc, Context())
    i1, i2, i3 = unit(d, "i1", "pref"), unit(d, "i2", "pref"), unit(d, "i3", "pref")
    assert i1["value"] == "B" and i1["detail"]["chosen"] == "B" and i1["detail"]["rejected"] == "A"
    assert i2["value"] is None and i2["reason_tie"]
    assert i3["value"] == "tie" and i3["decided_by"] == "unanimous" and not i3["review"]


def test_pairwise_tie_is_an_answer_like_a_and_b() -> None:
    """Two raters of three saying "equally good" outvote the one who preferred A; 2 A against 2 tie is no
    consensus (before, both units were A at low support: the minority's preference was proposed)."""
    pref = Task(name="pref", kind="pairwise", question="q")
    acc = accounting(votes("pref", {"i1": ["A", "tie", "tie"], "i2": ["A", "A", "tie", "tie"]}))
    d = decide_all(make_spec(pref, min_support=0.6), acc, Context())
    i1, i2 = unit(d, "i1", "pref"), unit(d, "i2", "pref")
    assert (i1["value"], i1["support"], i1["decided_by"], i1["review"]) == ("tie", 2 / 3, "pairwise", False)
    assert i1["detail"]["chosen"] is None and i1["detail"]["n_tie"] == 2
    assert i2["value"] is None and i2["reason_tie"] and i2["support"] == 0.5


def test_spans_supported_and_conflicting() -> None:
    ner = Task(name="ner", kind="spans", question="q", labels=(lab("PER"), lab("ORG")), field="body")
    acc = accounting(votes("ner", {
        "i1": ['[[0,4,"PER"]]', '[[0,4,"PER"],[6,9,"ORG"]]', '[[0,5,"PER"]]'],
        "i2": ['[[0,4,"PER"]]', '[[0,4,"PER"]]', '[[2,6,"ORG"]]', '[[2,6,"ORG"]]'],
    }))
    spec = make_spec(ner, min_support=0.5, expert_review=("span_conflict",))
    d = decide_all(spec, acc, Context()).units
    i1, i2 = unit(d, "i1", "ner"), unit(d, "i2", "ner")
    # PER is marked by all three (overlap cluster, most common extent 0–4); ORG by one of three: not released
    assert i1["value"] == '[[0,4,"PER"]]' and i1["support"] == 2 / 3 and not i1["span_conflict"]
    assert i2["value"] is None  # each cluster held by exactly half: tied, no value until an expert decides
    assert i2["reason_span_conflict"] and i2["review"] and i2["reason_tie"]


def test_ranking_borda_with_support() -> None:
    rank = Task(name="rank", kind="ranking", question="q", options=("o1", "o2", "o3"))
    acc = accounting(votes("rank", {"i1": ['["o1","o2","o3"]', '["o2","o1","o3"]', '["o1","o3","o2"]'],
                                    "i2": ['["o1","o2","o3"]', '["o2","o1","o3"]']}))
    d = decide_all(make_spec(rank, min_support=0.5), acc, Context())
    i1, i2 = unit(d, "i1", "rank"), unit(d, "i2", "rank")
    # Borda o1 = 2+1+2 = 5, o2 = 1+2+0 = 3, o3 = 0+0+1 = 1; agreeing option pairs 3 + 2 + 2 of 9
    assert i1["value"] == '["o1","o2","o3"]' and i1["support"] == pytest.approx(7 / 9)
    assert i1["detail"]["borda"] == {"o1": 5.0, "o2": 3.0, "o3": 1.0}
    assert i2["reason_tie"] and i2["value"] is None  # o1 and o2 swap places: Borda and Bradley–Terry see them equal


def test_taxonomy_deepest_level_on_steps() -> None:
    fail = Task(name="fail", kind="single_choice", question="q", unit="step",
                labels=(lab("tool"), lab("args", parent="tool"), lab("name", parent="tool"), lab("plan")))
    rows = [("t1", "0", "fail", "n0", "args"), ("t1", "0", "fail", "n1", "name"), ("t1", "0", "fail", "n2", "args"),
            ("t1", "1", "fail", "n0", "args"), ("t1", "1", "fail", "n1", "plan")]
    d = decide_all(make_spec(fail, min_support=0.67), accounting(rows), Context())
    s0, s1 = unit(d, "t1", "fail", "0"), unit(d, "t1", "fail", "1")
    assert (s0["value"], s0["detail"], s0["support"]) == ("tool", {"depth": 0}, 1.0)  # args 2/3 < 0.67
    assert s1["value"] is None and s1["reason_tie"]


def test_attribution_exact_majority() -> None:
    blame = Task(name="blame", kind="attribution", question="q", labels=(lab("planner"), lab("coder")))
    acc = accounting(votes("blame", {"t1": ['{"agent":"planner","step":1}', '{"step":1,"agent":"planner"}',
                                            '{"agent":"coder","step":2}']}))
    t1 = unit(decide_all(make_spec(blame), acc, Context()).units, "t1", "blame")
    assert t1["value"] == '{"agent":"planner","step":1}' and t1["support"] == 2 / 3


# --- reasons, routing, experts -------------------------------------------------------------------------------


def test_always_review_labels_include_descendants() -> None:
    tax = Task(name="risk", kind="single_choice", question="q",
               labels=(lab("harm", review="always"), lab("self_harm", parent="harm"), lab("ok")))
    acc = accounting(votes("risk", {"i1": ["self_harm"] * 3, "i2": ["ok"] * 3}))
    d = decide_all(make_spec(tax), acc, Context()).units
    assert unit(d, "i1", "risk")["reason_always_review_labels"] and unit(d, "i1", "risk")["review"]
    assert not unit(d, "i2", "risk")["review"]


def test_units_no_release_publishes_are_not_routed() -> None:
    """A tie on another task's gold item, or on a calibration item, is never released: no expert's time for it
    (the review queue had such units, and the check counted calibration units that adjudicate skipped)."""
    tone = Task(name="tone", kind="single_choice", question="q", labels=(lab("a"), lab("b")))
    rows = [*votes("intent", {"g1": "aab"}), *votes("tone", {"g1": "ab", "k1": "ab", "u1": "ab"})]
    ctx = Context(gold=gold([("g1", "intent", "b")]), calibration=gold([("k1", "tone", "a")]))
    d = decide_all(make_spec(INTENT, tone, expert_review=("tie", "gold_conflict")), accounting(rows), ctx).units
    assert [unit(d, i, "tone")["reason_tie"] for i in ("g1", "k1", "u1")] == [True, True, True]
    assert [unit(d, i, "tone")["review"] for i in ("g1", "k1", "u1")] == [False, False, True]
    assert unit(d, "g1", "intent")["review"]  # the gold unit itself: routed for its conflict with gold


def test_always_review_applies_to_an_attributions_agent() -> None:
    """The value is {"agent": label, "step": n}: the agent is the label that ``review: always`` names (the whole
    JSON text was compared with the label ids, so it never matched; found by an audit)."""
    blame = Task(name="blame", kind="attribution", question="q",
                 labels=(lab("planner"), lab("coder", review="always")))
    acc = accounting(votes("blame", {"r1": ['{"agent":"coder","step":2}'] * 2,
                                     "r2": ['{"agent":"planner","step":1}'] * 2}))
    d = decide_all(make_spec(blame), acc, Context()).units
    assert unit(d, "r1", "blame")["reason_always_review_labels"] and unit(d, "r1", "blame")["review"]
    assert not unit(d, "r2", "blame")["review"]


def test_rule_violation_routes_only_when_listed() -> None:
    rule = Rule(id="chargeback", field="body", op="matches", operand="(?i)chargeback", expect="label_in",
                labels=("c",))
    task = Task(name="intent", kind="single_choice", question="q", labels=INTENT.labels, rules=(rule,))
    items = Items(ids=np.array(["i1", "i2"], dtype=object),
                  fields={"body": {"i1": "open a Chargeback", "i2": "hello"}})
    acc = accounting(votes("intent", {"i1": "aaa", "i2": "aaa"}))
    listed = decide_all(make_spec(task, expert_review=("rule_violation",)), acc, Context(items=items)).units
    assert unit(listed, "i1")["reason_rule_violation"] and unit(listed, "i1")["review"]
    assert not unit(listed, "i2")["reason_rule_violation"]
    default = decide_all(make_spec(task), acc, Context(items=items))
    assert default.routing == DEFAULT_REVIEW and default.routing_is_default
    assert unit(default.units, "i1")["reason_rule_violation"] and not unit(default.units, "i1")["review"]


def test_gold_units_are_routed_only_for_a_gold_conflict() -> None:
    acc = accounting(votes("intent", {"g1": "ccc", "g2": "aab"}))
    ctx = Context(gold=gold([("g1", "intent", "c"), ("g2", "intent", "b")]))
    d = decide_all(make_spec(INTENT, expert_review=("always_review_labels", "gold_conflict")), acc, ctx).units
    assert unit(d, "g1")["reason_always_review_labels"] and not unit(d, "g1")["review"]  # gold already says c
    assert unit(d, "g2")["reason_gold_conflict"] and unit(d, "g2")["review"]


def test_expert_decisions_override_and_are_not_routed() -> None:
    acc = accounting(votes("intent", {"i1": "ab", "i2": "aa"}),
                     expert=[("i1", "", "intent", "e1", "b"), ("i1", "", "intent", "e2", "c"),
                             ("i9", "", "intent", "e1", "a")])
    d = decide_all(make_spec(INTENT), acc, Context()).units
    i1 = unit(d, "i1")
    assert (i1["value"], i1["decided_by"], i1["expert"], i1["proposed"]) == ("c", "expert", "e2", None)  # latest
    assert i1["reason_tie"] and not i1["review"]
    i9 = unit(d, "i9")  # only an expert judged it
    assert (i9["value"], i9["decided_by"], i9["n_judgments"]) == ("a", "expert", 0)
    assert reason_lists(d[d["item"] == "i9"]) == [[]]  # nothing for a reviewer to look at: it was reviewed
    for col in ("value", "proposed", "decided_by", "gold", "expert"):  # None, never NaN, in text columns
        assert all(v is None or isinstance(v, str) for v in d[col]), col
    i2 = unit(d, "i2")  # no expert: the reindexed columns hold None
    assert (i2["expert"], i2["gold"], i2["value"]) == (None, None, "a")
    # e1 said b, e2 said c: the latest stands, and the disagreement is counted, not hidden
    assert (i1["expert_conflict"], i9["expert_conflict"], i2["expert_conflict"]) == (True, False, False)


def test_expert_conflicts_are_counted_in_the_section() -> None:
    rows = votes("intent", {"i1": "ab", "i2": "aa", "i3": "bb"})
    agree = [("i2", "", "intent", "e1", "a"), ("i2", "", "intent", "e2", "a")]  # two experts, one value
    differ = [("i1", "", "intent", "e1", "b"), ("i1", "", "intent", "e2", "c")]
    quiet = decide_all(make_spec(INTENT), accounting(rows, expert=agree), Context()).section()
    assert quiet["tasks"]["intent"]["expert_conflicts"] == 0
    assert "; 1 decided by experts; " in quiet["summary"][0] and quiet["summary"][0].endswith("still to expert review")
    loud = decide_all(make_spec(INTENT), accounting(rows, expert=agree + differ), Context()).section()
    assert loud["tasks"]["intent"]["expert_conflicts"] == 1
    assert "; 2 decided by experts (1 where experts disagree: the latest decision stands); " in loud["summary"][0]
    none = decide_all(make_spec(INTENT), accounting(rows), Context()).section()
    assert none["tasks"]["intent"]["expert_conflicts"] == 0 and "experts" not in none["summary"][0]
    # i2 (consensus a, experts a) and i1 (a tie: no consensus) changed nothing; an expert saying c on i3 (bb) did
    assert (quiet["tasks"]["intent"]["expert_changed"], loud["tasks"]["intent"]["expert_changed"]) == (0, 0)
    changed = decide_all(make_spec(INTENT), accounting(rows, expert=differ + [("i3", "", "intent", "e1", "c")]),
                         Context()).section()
    assert changed["tasks"]["intent"]["expert_changed"] == 1
    assert ("; 2 decided by experts (1 changed the consensus; 1 where experts disagree: the latest decision stands); "
            in changed["summary"][0])


def test_reason_lists_and_section_summary() -> None:
    acc = accounting(votes("intent", {"i1": "ab", "i2": "ccc", "i3": "aaa"}))
    dec = decide_all(make_spec(INTENT), acc, Context())
    assert reason_lists(dec.units) == [["tie"], ["always_review_labels"], []]  # 1/2 meets the default 0.5
    section = dec.section()
    assert section["review_reasons"] == list(DEFAULT_REVIEW) and section["review_reasons_default"]
    assert section["tasks"]["intent"]["reasons"] == {r: n for r, n in zip(REASONS, (1, 0, 1, 0, 0, 0), strict=True)}
    assert section["tasks"]["intent"]["decided_by"] == {"undecided": 1, "unanimous": 2}
    assert section["summary"][0] == "intent: 3 units by majority; flagged tie 1, always_review_labels 1; 2 to expert review"
    json.dumps(section, allow_nan=False)


def test_majority_agrees_with_the_counting_module_on_random_data() -> None:
    rng = np.random.default_rng(7)
    table = {f"i{i:03d}": "".join(rng.choice(list("abc"), size=int(rng.integers(1, 6)))) for i in range(200)}
    d = decide_all(make_spec(INTENT, min_support=0.5), accounting(votes("intent", table)), Context()).units
    counts = np.array([[v.count(c) for c in "abc"] for v in table.values()])
    ref = majority_vote(counts, min_support=0.5)
    expected = [None if w < 0 else "abc"[w] for w in ref.winner]
    assert d["value"].tolist() == expected
    np.testing.assert_allclose(d["support"].to_numpy(dtype=float), ref.support)


def test_roster_is_not_needed_for_consensus() -> None:
    roster = {"n0": RosterEntry(id="n0", role="annotator")}
    d = decide_all(make_spec(INTENT), accounting(votes("intent", {"i1": "aa"})), Context(roster=roster)).units
    assert unit(d, "i1")["value"] == "a"



# --- an on-disk project for command tests (adjudicate, release) ----------------------------------------------

PROJECT_FILES = {
    "labelspec.yaml": """\
labelspec: 1
project: {id: tiny, title: Tiny, version: 0.1.0}
items:
  file: items.jsonl
  id: item_id
  fields:
    body: {type: text}
annotators: {file: annotators.csv}
tasks:
  intent:
    kind: single_choice
    question: Which?
    labels:
      refund: {title: Refund, definition: Money back.}
      status: {title: Status, definition: Where is it.}
      fraud: {title: Fraud, definition: Not me., review: always}
quality:
  annotations_per_item: 3
  agreement: {metric: percent_agreement, min: 0.5}
  gold: {file: gold.csv, min_accuracy: 0.5, min_judgments: 1}
adjudication: {method: majority, min_support: 0.7}
""",
    "items.jsonl": "".join(f'{{"item_id": "{i}", "body": "text of {i}"}}\n' for i in ("a1", "a2", "a3", "g1")),
    "annotators.csv": "id,role,name,calibration_score,calibration_n,calibration_passed,calibrated_at\n"
                      "n1,annotator,N1,0.9,10,true,2026-01-01T00:00:00Z\n"
                      "n2,annotator,N2,0.8,10,true,2026-01-01T00:00:00Z\n"
                      "n3,annotator,N3,1.0,10,true,2026-01-01T00:00:00Z\nex,expert,Ex,,,,\n",
    "gold.csv": "item,unit,task,label,why\ng1,,intent,refund,x\n",
}
#: (item, annotator, label); n3's gold answer decides whether the gold-accuracy gate passes.
PROJECT_LABELS = [("a1", "n1", "refund"), ("a1", "n2", "refund"), ("a1", "n3", "refund"), ("a2", "n1", "status"),
                  ("a2", "n2", "refund"), ("a2", "n3", "status"), ("a3", "n1", "fraud"), ("a3", "n2", "fraud"),
                  ("a3", "n3", "refund"), ("g1", "n1", "refund"), ("g1", "n2", "refund")]


def write_project(root: Path, *, n3_gold: str = "refund", expert: bool = False) -> Path:
    """A tiny valid project: 3 annotators, 3 items + 1 gold item, one label file (and an expert's file)."""
    (root / "labels").mkdir(parents=True)
    for name, text in PROJECT_FILES.items():
        (root / name).write_text(text, encoding="utf-8")
    rows = [*PROJECT_LABELS, ("g1", "n3", n3_gold)]
    lines = [f"{i},{a},{v},2026-02-01T10:{k:02d}:00Z,{5 + k}" for k, (i, a, v) in enumerate(rows)]
    (root / "labels" / "batch.csv").write_text("item_id,annotator_id,label,created_at,lead_time_s\n"
                                               + "\n".join(lines) + "\n", encoding="utf-8")
    if expert:
        (root / "labels" / "expert.csv").write_text(
            "item_id,annotator_id,label,created_at,lead_time_s\na3,ex,refund,2026-02-02T09:00:00Z,30\n",
            encoding="utf-8")
    return root


def test_codes_lent_by_the_analysis_give_the_same_decisions() -> None:
    from labelspec.check.analyze import analyze_choice
    from labelspec.spec.model import BootstrapPolicy

    acc = accounting(votes("intent", {"i2": "abc", "i1": "aab", "i3": "ccc", "i0": "bb"}))
    an = {"intent": analyze_choice(acc.used, INTENT, gold_units=set(), min_per_unit=None,
                                   boot=BootstrapPolicy(replicates=0))}
    spec = make_spec(INTENT, method="dawid_skene")
    pd.testing.assert_frame_equal(decide_all(spec, acc, Context()).units,
                                  decide_all(spec, acc, Context(), analyses=an).units)


def test_sections_render_in_the_check_report(tmp_path: Path) -> None:
    """The runner hook: both sections go into ``Report.sections`` and come out in JSON and text."""
    from dataclasses import replace

    from labelspec import api
    from labelspec.check.context import load_context
    from labelspec.check.hotspots import find_hotspots
    from labelspec.check.render import render_json, render_text

    root = write_project(tmp_path / "proj")
    report = api.check_labels(root / "labelspec.yaml", [root / "labels"], bootstrap=0)
    ctx = load_context(report.spec, root)
    sections = {"consensus": decide_all(report.spec, report.accounting, ctx, analyses=report.analyses).section(),
                "hotspots": find_hotspots(report.spec, report.accounting, ctx, analyses=report.analyses).section()}
    d = replace(report, sections=sections).to_dict()
    assert json.loads(render_json(d))["consensus"]["tasks"]["intent"]["routed_to_review"] == 2
    text = render_text(d)
    assert "\nConsensus\n  intent: 4 units by majority; flagged " in text and "; 2 to expert review\n" in text
    assert "\nHotspots\n  intent: refund ↔ status split 2× on 1 unit(s) — guideline gap" in text


def test_unanimity_by_winner_codes_equals_by_texts() -> None:
    """The deciders' winner codes give the same unanimous units as comparing the value texts (random units with
    1–4 judgments of 3 labels, winners that agree with the unit, differ from it, or are none)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from labelspec.check import decide_kinds as kinds
    from labelspec.check.decide import _unanimous
    from labelspec.check.tables import encode, unit_counts

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2)), min_size=1, max_size=30), st.data())
    def check(rows: list[tuple[int, int]], data: st.DataObject) -> None:
        labels = ("a", "b", "c")
        frame = pd.DataFrame({"item": [f"i{u}" for u, _ in rows], "unit": "",
                              "annotator": [f"x{i}" for i in range(len(rows))],
                              "value": [labels[v] for _, v in rows]})
        codes = encode(frame, labels)
        n_units = len(codes.unit_keys)
        winner = np.array(data.draw(st.lists(st.integers(-1, 2), min_size=n_units, max_size=n_units)))
        value = kinds.pick(codes.categories, winner)
        counts = unit_counts(codes)
        assert _unanimous(codes, value, counts, winner).tolist() == _unanimous(codes, value, counts).tolist()

    check()


EXAMPLE_PROJECTS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*/labelspec.yaml"))


@pytest.mark.parametrize("spec_file", EXAMPLE_PROJECTS, ids=[p.parent.name for p in EXAMPLE_PROJECTS])
def test_the_checks_consensus_task_by_task_equals_deciding_afterwards(spec_file: Path) -> None:
    """``check`` (and ``release``) start each task's consensus on a second core as soon as its codes exist, in
    the middle of the agreement; ``adjudicate`` decides after reading. Both give the same units, methods and
    models on every example project (one task and several; choice, spans, ranking and step tasks)."""
    from labelspec import api
    from labelspec.check.runner import CheckOptions, read_and_account, run_check

    spec = api.load_spec(spec_file)
    ctx = api.project_context(spec, None)
    files = sorted((spec_file.parent / "labels").iterdir())
    shown = [str(f) for f in files]
    during = run_check(spec, ctx, files, shown, CheckOptions(bootstrap=0, keep_decisions=True)).decisions
    after = decide_all(spec, read_and_account(spec, ctx, files, shown), ctx)
    assert during is not None and len(during.methods) >= 1
    pd.testing.assert_frame_equal(during.units, after.units)
    assert (during.methods, during.models) == (after.methods, after.models)


def test_unit_masks_without_experts_are_read_from_what_the_decider_had(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without experts the gold, expert and no-value masks come from the gold positions and the values: the same
    masks the columns give (a tie has no value; a gold unit may conflict)."""
    from labelspec.check import decide

    seen: list[tuple[np.ndarray, ...]] = []
    original = decide._unit_masks

    def both(units: pd.DataFrame, known: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fast, slow = original(units, known), original(units)
        seen.append((known is not None, *fast, *slow))
        return fast

    monkeypatch.setattr(decide, "_unit_masks", both)
    rows = votes("intent", {"g1": "aab", "t": "ab", "n": "", **{f"u{i}": "aaa" if i % 2 else "abb" for i in range(6)}})
    for method in ("majority", "dawid_skene"):
        spec = make_spec(INTENT, method=method, min_support=0.6)
        decide_all(spec, accounting(rows), Context(gold=gold([("g1", "intent", "b"), ("u1", "intent", "a")])))
    assert len(seen) == 2 and all(s[0] for s in seen)  # no experts: the fast way was taken
    for _, *masks in seen:
        fast, slow = masks[:3], masks[3:]
        for f, w in zip(fast, slow, strict=True):
            assert f.tolist() == w.tolist()
        assert fast[0].any()  # gold units were there to find
    assert seen[0][3].any()  # the majority's tie on t: a unit without a value


def test_the_deciders_counts_give_the_section_the_rows_give() -> None:
    """Without expert decisions the decider counts decided_by, the decided units, the reasons and the routed
    units from its masks; the report's consensus section is the one counted from the rows (ties undecided,
    unanimous units, gold units)."""
    from dataclasses import replace as copy_with

    rows = votes("intent", {"g1": "aab", "t": "ab", "one": "c",
                            **{f"u{i}": "aaa" if i % 2 else "abb" for i in range(6)}})
    ctx = Context(gold=gold([("g1", "intent", "b"), ("u1", "intent", "a")]))
    for method in ("majority", "dawid_skene"):
        dec = decide_all(make_spec(INTENT, method=method, min_support=0.6), accounting(rows), ctx)
        assert dec.counts["intent"] is not None
        assert dec.section() == copy_with(dec, counts={}).section()
    expert = votes("intent", {"t": "a"})  # an expert settles the tie: counted from the rows
    experts = [(i, u, t, "e1", v) for i, u, t, _, v in expert]
    dec = decide_all(make_spec(INTENT, min_support=0.6), accounting(rows, experts), ctx)
    assert dec.counts["intent"] is None and dec.section()["tasks"]["intent"]["decided_by"]["expert"] == 1


def _sections(spec: Spec, acc: Accounting, ctx: Context) -> tuple[dict[str, Any], dict[str, Any]]:
    """The consensus section decided without rows (a plain check's), and the one counted from every row."""
    from dataclasses import replace as copy_with

    from labelspec.check.decide import decide_one, section_of

    lean = [decide_one(spec, task, acc, ctx, details=False, rows=False) for task in spec.tasks]
    whole = decide_all(spec, acc, ctx)
    return section_of(spec, lean), copy_with(whole, counts={}).section()


def test_a_section_without_rows_is_the_section_of_the_rows() -> None:
    """A plain check decides without the per-unit rows and counts its section from the masks: every count of
    the section (each review reason, routing, gold and calibration units, unanimity, ties, experts) is the
    one counted from the rows a release writes."""
    tone = Task(name="tone", kind="single_choice", question="q", labels=(lab("a"), lab("b")))
    rule = Rule(id="chargeback", field="body", op="matches", operand="(?i)chargeback", expect="label_in",
                labels=("c",))
    ruled = Task(name="intent", kind="single_choice", question="q", labels=INTENT.labels, rules=(rule,))
    spans = Task(name="ents", kind="spans", question="q", field="body", labels=(lab("per"), lab("org")))
    items = Items(ids=np.array(["g1", "k1", "u1", "i1", "i2", "s1", "s2", "one", "w"], dtype=object),
                  fields={"body": {"g1": "x", "k1": "x", "u1": "x", "i1": "open a Chargeback", "i2": "hello",
                                   "s1": "Ada Lovelace", "s2": "Ada Lovelace", "one": "x", "w": "x"}})
    rows = [*votes("intent", {"g1": "aab", "u1": "cca", "i1": "aaa", "i2": "ab", "one": "c", "w": "aaabbcc"}),
            *votes("tone", {"g1": "ab", "k1": "ab", "u1": "ab", "i1": "aa"}),
            *votes("ents", {"s1": ['[[0,3,"per"]]', '[[0,3,"per"]]', '[[1,6,"org"]]', '[[1,6,"org"]]'],
                            "s2": ['[[0,3,"per"]]', '[[0,4,"per"]]', '[[0,3,"per"]]']})]
    ctx = Context(items=items, gold=gold([("g1", "intent", "b"), ("i2", "intent", "a")]),
                  calibration=gold([("k1", "tone", "a")]))
    seen: set[str] = set()
    for method in ("majority", "dawid_skene"):
        for review in ((), REASONS):
            spec = make_spec(ruled, tone, spans, method=method, min_support=0.5, expert_review=review)
            lean, whole = _sections(spec, accounting(rows), ctx)
            assert lean == whole
            seen |= {r for t in whole["tasks"].values() for r, n in t["reasons"].items() if n}
            if method == "majority":  # ties on g1 (another task's gold item), k1 (calibration), u1: one routed
                tone_section = whole["tasks"]["tone"]
                assert (tone_section["reasons"]["tie"], tone_section["routed_to_review"]) == (3, 1)
    assert seen == set(REASONS)  # every reason was there to count
    expert = accounting(rows, expert=[("i2", "", "intent", "e1", "b"), ("u1", "", "intent", "e2", "a"),
                                      ("u1", "", "intent", "e3", "c"), ("z9", "", "intent", "e1", "a")])
    lean, whole = _sections(make_spec(ruled, tone, spans), expert, ctx)
    assert lean == whole and whole["tasks"]["intent"]["expert_conflicts"] == 1


def test_a_plain_check_never_makes_every_units_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain check of single-choice tasks with gold (the example's Dawid–Skene, hotspots naming units) reads
    no unit's Python text but those it names; deciding with the rows (a release) makes them, once per task."""
    from labelspec import api
    from labelspec.check import tables

    made: list[int] = []
    original = tables.ItemUnitTexts.__call__

    def counted(self: tables.ItemUnitTexts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        made.append(len(self.positions))
        return original(self)

    monkeypatch.setattr(tables.ItemUnitTexts, "__call__", counted)
    spec_file = next(p for p in EXAMPLE_PROJECTS if p.parent.name == "support-intent")
    files = sorted((spec_file.parent / "labels").iterdir())
    report = api.check_labels(spec_file, files, bootstrap=0)
    assert made == [] and report.sections["hotspots"]["items"]  # units were named, without making the others
    spec = api.load_spec(spec_file)
    ctx = api.project_context(spec, None)
    from labelspec.check.runner import read_and_account

    decide_all(spec, read_and_account(spec, ctx, files, [str(f) for f in files]), ctx)
    assert len(made) == len([t for t in spec.tasks if t.kind != "text"]) and all(made)


@pytest.mark.parametrize("method", ["majority", "dawid_skene"])
def test_no_value_from_the_winning_codes_is_exactly_the_units_without_a_value(method: str) -> None:
    """Deciders that give their winning category codes (majority, Dawid–Skene) let ``decide`` tell the units
    without a value from the codes and the ties: decided_by is None exactly where the value is None, ties and a
    unit nobody could decide included, and the section's ``undecided`` count is theirs."""
    rng = np.random.default_rng(11)
    table = {f"i{i}": "".join(rng.choice(list("ab"), size=int(rng.integers(1, 5)))) for i in range(60)}
    d = decide_all(make_spec(INTENT, method=method), accounting(votes("intent", table)), Context())
    none = d.units["value"].isna().to_numpy()
    assert none.any() == (method == "majority") and not none.all()  # EM breaks the vote's ties here
    assert (d.units["decided_by"].isna().to_numpy() == none).all()
    counts = d.counts["intent"]
    assert counts is not None and counts.decided_by.get("undecided", 0) == none.sum()
