"""The release-gate plan: every threshold of a spec as a named gate, resolved once, used by compile and check.

``compile`` writes this plan to ``gates.json`` and ``check`` evaluates the same plan, so the gates a team reviews are
the gates that run. Gate ids are stable strings (``agreement.intent``, ``gold.accuracy`` …) that the spec's ``gates:``
section can override to ``warn`` or ``off``. Pure: no I/O, no statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

from labelspec.errors import SourceLocation
from labelspec.spec.model import NOWHERE, Spec, Task

#: The metric a task kind is gated on when the spec names none.
DEFAULT_METRIC: dict[str, str] = {
    "single_choice": "krippendorff_alpha",
    "multi_choice": "masi_alpha",
    "rating": "krippendorff_alpha",
    "pairwise": "krippendorff_alpha",
    "spans": "span_f1_overlap",
    "ranking": "kendall_w",
    "attribution": "attribution_agent_alpha",
}

#: Agreement metrics each task kind can compute (and so may gate on).
METRICS_BY_KIND: dict[str, tuple[str, ...]] = {
    "single_choice": ("krippendorff_alpha", "fleiss_kappa", "cohen_kappa", "scott_pi", "gwet_ac1", "percent_agreement"),
    "rating": ("krippendorff_alpha", "fleiss_kappa", "cohen_kappa", "scott_pi", "gwet_ac1", "percent_agreement"),
    "pairwise": ("krippendorff_alpha", "fleiss_kappa", "cohen_kappa", "scott_pi", "gwet_ac1", "percent_agreement"),
    "multi_choice": ("masi_alpha", "krippendorff_alpha", "fleiss_kappa", "cohen_kappa", "scott_pi", "gwet_ac1",
                     "percent_agreement"),
    "spans": ("span_f1_exact", "span_f1_overlap", "span_alpha"),
    "ranking": ("kendall_w", "kendall_tau", "preference_alpha"),
    "attribution": ("attribution_agent_alpha", "percent_agreement"),
    "text": (),
}
STEP_METRICS: tuple[str, ...] = ("first_error_exact", "first_error_within_one")
#: Kinds with one-vs-rest agreement per label, so an ``agreement.<task>.per_label`` gate (``min_per_label``).
PER_LABEL_KINDS: frozenset[str] = frozenset({"single_choice", "multi_choice", "spans", "pairwise"})


def level_text(level: float) -> str:
    """A confidence level as people write it: 0.95 → "95%", 0.975 → "97.5%"."""
    return f"{level * 100:g}%"


@dataclass(frozen=True, slots=True, kw_only=True)
class Gate:
    """One release gate. ``value comparator threshold`` must hold for the gate to pass."""

    id: str
    metric: str
    comparator: Literal[">=", "<="]
    threshold: float
    task: str | None = None
    on: Literal["estimate", "ci_low", "ci_high"] = "estimate"
    severity: Literal["error", "warn"] = "error"
    description: str = ""
    loc: SourceLocation = field(default=NOWHERE, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "metric": self.metric,
            "task": self.task,
            "comparator": self.comparator,
            "threshold": self.threshold,
            "on": self.on,
            "severity": self.severity,
            "description": self.description,
            "declared_at": {"path": self.loc.path, "line": self.loc.line, "column": self.loc.column},
        }


def agreement_metrics(task: Task) -> tuple[str, ...]:
    """Every agreement metric reported for a task (gated or not)."""
    metrics = METRICS_BY_KIND[task.kind]
    if task.unit == "step" and task.error_labels:
        metrics = metrics + STEP_METRICS
    return metrics


def _task_gates(spec: Spec, task: Task) -> list[Gate]:
    q = spec.quality
    gates: list[Gate] = []
    if q.annotations_per_item is not None and task.kind != "text" and task.required:
        gates.append(Gate(id=f"coverage.{task.name}", metric="share_units_fully_annotated", comparator=">=",
                          threshold=1.0, task=task.name, loc=q.key_loc("annotations_per_item"),
                          description=f"every {task.unit} has at least {q.annotations_per_item} judgments"))
    pol = task.agreement
    if pol.min is not None:
        gates.append(Gate(id=f"agreement.{task.name}", metric=pol.metric, comparator=">=", threshold=pol.min,
                          task=task.name, on=pol.on, severity=pol.severity, loc=pol.loc,
                          description=f"{pol.metric} on " + (f"the {level_text(q.bootstrap.level)} CI lower bound"
                                                             if pol.on == "ci_low" else "the estimate")))
    if pol.min_per_label is not None and task.kind in PER_LABEL_KINDS:
        spans = task.kind == "spans"  # a spans task's per-label value is its overlap F1, not an α
        gates.append(Gate(id=f"agreement.{task.name}.per_label",
                          metric="min_per_label_span_f1" if spans else "min_per_label_alpha", comparator=">=",
                          threshold=pol.min_per_label, task=task.name, severity=pol.severity, loc=pol.per_label_loc,
                          description="the lowest overlap F1 of any label" if spans else
                          "the lowest one-vs-rest agreement of any label"))
    dist = q.distribution
    if task.expected_distribution and dist.max_deviation is not None:
        gates.append(Gate(id=f"distribution.{task.name}.max_deviation", metric="max_share_deviation", comparator="<=",
                          threshold=dist.max_deviation, task=task.name,
                          loc=q.key_loc("distribution.max_deviation", dist.loc),
                          description="largest |observed − expected| share of any label in the consensus"))
    if task.expected_distribution and dist.min_gof_p is not None:
        gates.append(Gate(id=f"distribution.{task.name}.goodness_of_fit", metric="chi_square_gof_p", comparator=">=",
                          threshold=dist.min_gof_p, task=task.name, loc=q.key_loc("distribution.min_gof_p", dist.loc),
                          description="chi-square goodness of fit of the consensus balance to expected_distribution"))
    for rule in task.rules:
        gates.append(Gate(id=f"rules.{rule.id}", metric="rule_violations", comparator="<=", threshold=0.0,
                          task=task.name, severity=rule.severity, loc=rule.loc,
                          description=rule.description or f"judgments must satisfy rule {rule.id}"))
    return gates


def _dataset_gates(spec: Spec) -> list[Gate]:
    q = spec.quality
    gates = [Gate(id="records.valid", metric="excluded_share", comparator="<=", threshold=q.max_excluded_share,
                  loc=q.key_loc("max_excluded_share"), description="share of judgment rows excluded as invalid")]
    if q.provenance:
        gates.append(Gate(id="provenance.complete", metric="rows_missing_provenance", comparator="<=", threshold=0.0,
                          loc=q.key_loc("provenance.require"), description="judgments lacking " + ", ".join(q.provenance)))
    if q.gold is not None and q.gold.min_accuracy is not None:
        gates.append(Gate(id="gold.accuracy", metric="min_annotator_gold_accuracy", comparator=">=",
                          threshold=q.gold.min_accuracy, loc=q.gold.loc,
                          description=f"every annotator with ≥ {q.gold.min_judgments} gold judgments"))
    cal = q.calibration
    if cal is not None and cal.min_accuracy is not None:
        gates.append(Gate(id="calibration.passed", metric="share_annotators_calibrated", comparator=">=",
                          threshold=1.0, loc=cal.loc, description="every contributing annotator passed calibration"))
    if cal is not None and cal.recalibrate_below is not None:
        gates.append(Gate(id="calibration.drift", metric="annotators_below_rolling_gold", comparator="<=",
                          threshold=0.0, severity="warn", loc=q.key_loc("calibration.recalibrate_below", cal.loc),
                          description=f"rolling gold accuracy over the last {cal.window} gold judgments"))
    if q.distribution.annotator_divergence_p is not None:
        gates.append(Gate(id="annotators.divergence", metric="annotators_divergent", comparator="<=", threshold=0.0,
                          severity="warn", loc=q.key_loc("distribution.annotator_divergence_p", q.distribution.loc),
                          description="annotators whose label distribution differs from the others (Holm-corrected)"))
    lt = q.lead_time
    if lt.min_seconds is not None and lt.max_fast_share is not None:
        gates.append(Gate(id="annotators.lead_time", metric="annotators_too_fast", comparator="<=", threshold=0.0,
                          severity="warn", loc=lt.loc,
                          description=f"annotators with more than {lt.max_fast_share:.0%} of judgments under {lt.min_seconds:g} s"))
    return gates


def candidate_gates(spec: Spec) -> tuple[Gate, ...]:
    """Every gate the spec declares, before the ``gates:`` overrides."""
    gates = _dataset_gates(spec)
    for task in spec.tasks:
        gates.extend(_task_gates(spec, task))
    return tuple(gates)


def plan_gates(spec: Spec) -> tuple[Gate, ...]:
    """The gates that run: declared gates with the spec's severity overrides applied (``off`` removes a gate)."""
    overrides = {gate_id: (sev, loc) for gate_id, sev, loc in spec.gate_overrides}
    planned: list[Gate] = []
    for gate in candidate_gates(spec):
        sev = overrides.get(gate.id)
        if sev is None:
            planned.append(gate)
        elif sev[0] != "off":
            planned.append(replace(gate, severity=sev[0]))
    return tuple(planned)
