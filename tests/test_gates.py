"""G11: gates fail closed. Undefined statistics block; comparisons check finiteness first; boundaries are inclusive."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import AGREEING

from labelspec import api
from labelspec.check.gates import GateResult, Measure, evaluate
from labelspec.check.render import render_json
from labelspec.spec.plan import Gate

EXAMPLES = Path(__file__).resolve().parent.parent / "specs"

AT_LEAST = Gate(id="agreement.intent", metric="krippendorff_alpha", comparator=">=", threshold=0.7, task="intent")
AT_MOST = Gate(id="records.valid", metric="excluded_share", comparator="<=", threshold=0.01)
NOT_FINITE = [None, math.nan, math.inf, -math.inf, np.float64("nan"), np.float32("inf")]


def gate(**changes: object) -> Gate:
    fields = {"id": "g", "metric": "m", "comparator": ">=", "threshold": 0.7, **changes}
    return Gate(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", NOT_FINITE, ids=repr)
@pytest.mark.parametrize("g", [AT_LEAST, AT_MOST], ids=["ge", "le"])
def test_non_finite_or_missing_value_is_undefined_and_blocks(g: Gate, value: float | None) -> None:
    r = evaluate(g, Measure(value, n=10))
    assert r.status == "undefined"
    assert r.compared is None
    assert r.blocking() is True and r.blocking(strict=True) is True
    assert r.measure.reason == "no value"
    d = r.to_dict()
    assert (d["status"], d["value"], d["compared"]) == ("undefined", None, None)
    json.dumps(d, allow_nan=False)  # never NaN in a report


def test_the_reason_a_statistic_is_missing_is_kept() -> None:
    r = evaluate(AT_LEAST, Measure(None, n=0, reason="only one category observed"))
    assert (r.status, r.measure.reason, r.measure.n) == ("undefined", "only one category observed", 0)


@pytest.mark.parametrize("value", NOT_FINITE, ids=repr)
def test_undefined_warning_blocks_only_under_strict(value: float | None) -> None:
    r = evaluate(gate(severity="warn"), Measure(value))
    assert r.status == "undefined"
    assert r.blocking() is False
    assert r.blocking(strict=True) is True


@pytest.mark.parametrize(("comparator", "value", "status"), [
    (">=", 0.7, "pass"), (">=", 0.7000001, "pass"), (">=", 0.6999999, "fail"), (">=", -1.0, "fail"),
    ("<=", 0.7, "pass"), ("<=", 0.6999999, "pass"), ("<=", 0.7000001, "fail"), ("<=", -1.0, "pass"),
])
def test_comparators_and_inclusive_boundaries(comparator: str, value: float, status: str) -> None:
    r = evaluate(gate(comparator=comparator), Measure(value, n=5))
    assert (r.status, r.compared) == (status, value)
    assert r.blocking() is (status == "fail")


def test_zero_thresholds_with_count_gates() -> None:
    """Count gates (rule violations, flagged annotators) are ``<= 0``: zero passes, one fails."""
    g = gate(comparator="<=", threshold=0.0)
    assert evaluate(g, Measure(0.0)).status == "pass"
    assert evaluate(g, Measure(-0.0)).status == "pass"
    assert evaluate(g, Measure(1.0)).status == "fail"


def test_ci_low_gates_compare_the_lower_bound_not_the_estimate() -> None:
    g = gate(on="ci_low")
    r = evaluate(g, Measure(0.9, ci_low=0.65, ci_high=0.95, n=100))
    assert (r.status, r.compared) == ("fail", 0.65)
    r = evaluate(g, Measure(0.72, ci_low=0.7, ci_high=0.74, n=100))
    assert (r.status, r.compared) == ("pass", 0.7)
    assert r.to_dict()["value"] == 0.72 and r.to_dict()["on"] == "ci_low"


def test_ci_high_gates_compare_the_upper_bound() -> None:
    g = gate(comparator="<=", threshold=0.1, on="ci_high")
    assert evaluate(g, Measure(0.05, ci_low=0.01, ci_high=0.12)).status == "fail"
    assert evaluate(g, Measure(0.05, ci_low=0.01, ci_high=0.1)).status == "pass"


@pytest.mark.parametrize("bound", [None, math.nan])
def test_ci_gate_without_an_interval_is_undefined_even_with_a_good_estimate(bound: float | None) -> None:
    r = evaluate(gate(on="ci_low"), Measure(0.99, ci_low=bound, ci_high=bound, n=50))
    assert (r.status, r.compared, r.measure.reason) == ("undefined", None, "no confidence interval")
    assert r.blocking() is True


def test_ci_gate_keeps_the_reason_the_interval_is_missing() -> None:
    r = evaluate(gate(on="ci_low"), Measure(0.99, n=50, reason="bootstrap turned off (--bootstrap 0)"))
    assert r.measure.reason == "bootstrap turned off (--bootstrap 0)"


def test_gate_result_dict_carries_everything_a_report_shows() -> None:
    r = evaluate(AT_LEAST, Measure(0.75, ci_low=0.7, ci_high=0.8, n=42, detail="lowest: x"))
    d = r.to_dict()
    assert {k: d[k] for k in ("id", "status", "value", "threshold", "comparator", "n", "severity", "detail")} == {
        "id": "agreement.intent", "status": "pass", "value": 0.75, "threshold": 0.7, "comparator": ">=", "n": 42,
        "severity": "error", "detail": "lowest: x"}
    assert isinstance(r, GateResult)


# --- the pipeline: undefined statistics fail the release ---------------------------------------------------------

def _gates(report: object) -> dict[str, tuple[str, str | None]]:
    d = json.loads(render_json(report.to_dict()))  # type: ignore[attr-defined]
    return {g["id"]: (g["status"], g["reason"]) for g in d["gates"]}


def test_zero_rows_leave_every_gate_undefined_and_block(tiny_project) -> None:
    p = tiny_project(labels_text="item_id,annotator_id,label\n")
    report = api.check_labels(p.root, [p.labels])
    assert _gates(report) == {
        "records.valid": ("undefined", "no judgment rows were read"),
        "coverage.sentiment": ("undefined", "no units"),
        "agreement.sentiment": ("undefined", "fewer than 2 pairable units"),
    }
    assert report.exit_code == 1


def test_a_single_observed_category_makes_alpha_undefined_and_blocks(tiny_project) -> None:
    p = tiny_project([(i, a, "pos") for i, a, _ in AGREEING])
    report = api.check_labels(p.root, [p.labels])
    assert _gates(report)["agreement.sentiment"] == ("undefined", "only one category observed")
    assert report.exit_code == 1


def test_cohen_kappa_with_chance_agreement_one_is_undefined(tiny_project) -> None:
    """pₑ = 1 (both raters always say 'pos'): κ = 0/0 must not pass a gate."""
    p = tiny_project([(i, a, "pos") for i, a, _ in AGREEING if a != "a3"])
    spec = p.root / "labelspec.yaml"
    spec.write_text(spec.read_text("utf-8").replace("agreement: {min: 0.5}",
                                                    "agreement: {min: 0.5, metric: cohen_kappa}")
                    .replace("annotations_per_item: 3", "annotations_per_item: 2"), "utf-8")
    report = api.check_labels(p.root, [p.labels])
    assert _gates(report)["agreement.sentiment"] == ("undefined", "no annotator pair with a defined kappa")
    assert report.exit_code == 1


def test_too_few_annotators_per_item_fails_coverage(tiny_project) -> None:
    p = tiny_project([r for r in AGREEING if not (r[0] == "i1" and r[1] == "a3")])
    report = api.check_labels(p.root, [p.labels])
    (cov,) = [g for g in report.gates if g.gate.id == "coverage.sentiment"]
    assert cov.status == "fail" and cov.measure.value == pytest.approx(5 / 6)
    assert cov.measure.detail == "1 unit has fewer judgments than required"
    assert report.exit_code == 1


def test_the_spec_can_demote_an_undefined_gate_to_a_warning(tiny_project) -> None:
    p = tiny_project([(i, a, "pos") for i, a, _ in AGREEING], extra="gates:\n  agreement.sentiment: warn\n")
    report = api.check_labels(p.root, [p.labels])
    assert _gates(report)["agreement.sentiment"][0] == "undefined"
    assert report.exit_code == 0
    assert api.check_labels(p.root, [p.labels], strict=True).exit_code == 1


def test_a_share_deviation_exactly_at_the_threshold_passes(tiny_project) -> None:
    """3 of 10 against an expected 0.4 deviates by exactly 0.1: "<= 0.1" passes (in floating point the
    difference was 0.10000000000000003, printed as 0.1 beside a FAIL; found by an audit)."""
    labels = ["pos"] * 3 + ["neg"] * 3 + ["neu"] * 4
    rows = [(f"i{i}", a, lab) for i, lab in enumerate(labels, 1) for a in ("a1", "a2", "a3")]
    items = "".join(f'{{"item_id": "i{i}", "text": "text {i}"}}\n' for i in range(1, 11))
    p = tiny_project(rows, files={"items.jsonl": items}, extra="  distribution: {max_deviation: 0.1}\n",
                     extra_labels="    expected_distribution: {pos: 0.4, neg: 0.3, neu: 0.3}\n")
    gate = next(g for g in api.check_labels(p.root, [p.labels]).gates
                if g.gate.id == "distribution.sentiment.max_deviation")
    assert (gate.status, gate.compared) == ("pass", 0.1)


def test_annotator_gates_without_evidence_are_undefined_not_passed(tiny_project) -> None:
    """No lead time in the files, two annotators where the divergence test needs three, no annotator with a full
    window of gold judgments: nothing could be flagged, and "0 flagged" passed (found by an audit)."""
    rows = [(f"i{i}", a, lab) for i, lab in enumerate(["pos", "neg", "neu", "pos", "neg", "neu"], 1) for a in ("a1", "a2")]
    p = tiny_project(rows, extra="  lead_time: {min_seconds: 2, max_fast_share: 0.2}\n"
                                  "  distribution: {annotator_divergence_p: 0.01}\n")
    gates = {g.gate.id: g for g in api.check_labels(p.root, [p.labels]).gates}
    assert (gates["annotators.lead_time"].status, gates["annotators.lead_time"].measure.reason) == (
        "undefined", "no judgment has a lead time")
    assert gates["annotators.divergence"].status == "undefined"
    drift = {g.gate.id: g for g in api.check_labels(EXAMPLES / "support-intent",
                                                    [EXAMPLES / "support-intent" / "labels"]).gates}
    assert (drift["calibration.drift"].status, drift["calibration.drift"].measure.reason) == (
        "undefined", "no annotator has 30 gold judgments with a timestamp (one full window)")  # the most is 24


def test_a_decided_gate_carries_no_reason() -> None:
    """The JSON's ``reason`` says why a gate is undefined: a gate on the estimate that passed had the missing
    interval's reason (found by an audit)."""
    g = Gate(id="agreement.t", metric="krippendorff_alpha", comparator=">=", threshold=0.5)
    passed = evaluate(g, Measure(0.8, reason="67 of 200 bootstrap replicates undefined"))
    assert passed.status == "pass" and passed.to_dict()["reason"] is None
    assert evaluate(g, Measure(None, reason="only one category observed")).to_dict()["reason"] == (
        "only one category observed")


def test_a_bad_lead_time_is_missing_provenance_when_lead_times_are_required(tiny_project) -> None:
    text = "item_id,annotator_id,label,lead_time_s\n" + "".join(
        f"{i},{a},{lab},{'NaN' if (i, a) == ('i1', 'a1') else '12'}\n" for i, a, lab in AGREEING)
    p = tiny_project(labels_text=text, extra="  provenance: {require: [lead_time]}\n")
    gates = {r.gate.id: r for r in api.check_labels(p.root, [p.labels]).gates}
    assert (gates["provenance.complete"].status, gates["provenance.complete"].compared) == ("fail", 1.0)


def test_each_gate_points_at_the_key_that_declared_it() -> None:
    """declared_at (the GitHub annotation's line) is the threshold's own key, not its section (found by an
    audit: records.valid and coverage pointed at `quality:`, drift at min_accuracy, divergence at
    `distribution:`, per-label agreement at `min`)."""
    from labelspec.spec.plan import plan_gates

    path = EXAMPLES / "support-intent" / "labelspec.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()

    def line_of(key: str, after: str = "quality:") -> int:
        start = lines.index(after)
        return next(i for i, text in enumerate(lines[start:], start + 1) if text.strip().startswith(key + ":"))

    located = {g.id: g.loc.line for g in plan_gates(api.load_spec(path))}
    assert located["records.valid"] == line_of("max_excluded_share")
    assert located["coverage.intent"] == line_of("annotations_per_item")
    assert located["provenance.complete"] == line_of("require")
    assert located["calibration.drift"] == line_of("recalibrate_below")
    assert located["annotators.divergence"] == line_of("annotator_divergence_p")
    assert located["distribution.intent.max_deviation"] == line_of("max_deviation")
    assert located["distribution.intent.goodness_of_fit"] == line_of("min_gof_p")
    assert located["agreement.intent.per_label"] == line_of("min_per_label")


def test_rule_violations_per_annotator_list_only_who_broke_the_rule(tiny_project) -> None:
    rows = [("i1", "a1", "neg"), ("i1", "a2", "pos"), ("i1", "a3", "pos"), *AGREEING[3:]]
    p = tiny_project(rows, extra_labels="    rules: [{id: r, when: {field: text, matches: 'text 1$'}, "
                                        "expect: {label_in: [neg]}, severity: warn}]\n")
    rule = api.check_labels(p.root, [p.labels]).rules["r"]
    assert (rule.checked, rule.violations, rule.by_annotator) == (3, 2, {"a2": 1, "a3": 1})  # a1 listed 0 before
