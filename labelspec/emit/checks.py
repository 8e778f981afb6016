"""The "how your work is checked" part of the guidelines, from the gates that actually run.

Thresholds come from ``plan_gates(spec)``, so a gate the spec switched ``off`` is not promised to annotators and a
``warn`` gate is described as reported, not blocking. Sentences are labelspec's own words with numbers and task
names; no free spec text is formatted into them. Pure: no I/O.
"""

from __future__ import annotations

from typing import TypedDict

from labelspec.emit.explain import COMPARED_TITLE, LEVEL_WORDS, METRIC_WORDS, threshold_words
from labelspec.spec.model import Spec, Task
from labelspec.spec.plan import Gate, plan_gates
from labelspec.templating import number, pct

#: Metrics every annotator of a kind should understand, whether or not they are gated.
_KIND_METRICS: dict[str, tuple[str, ...]] = {
    "spans": ("span_f1_exact", "span_f1_overlap"),
    "ranking": ("kendall_w",),
}
_STEP_METRICS = ("first_error_exact", "first_error_within_one")


class CheckSection(TypedDict):
    anchor: str
    title: str
    paragraphs: list[str]


def _severity(gate: Gate) -> str:
    return "" if gate.severity == "error" else " (This is reported to the project lead; it does not block release.)"


def _calibration(spec: Spec, gates: dict[str, Gate], teaching_shown: bool) -> list[str]:
    cal = spec.quality.calibration
    if cal is None:
        return []
    out = ["Before production work you label a calibration set, and you get feedback on it."]
    if "calibration.passed" in gates and cal.min_accuracy is not None:
        out.append(f"You start production work once at least {pct(cal.min_accuracy)} of your calibration answers "
                   "are correct." + _severity(gates["calibration.passed"]))
    if "calibration.drift" in gates and cal.recalibrate_below is not None:
        out.append(f"During production, when your accuracy on your last {cal.window} gold items falls below "
                   f"{pct(cal.recalibrate_below)}, you are asked to calibrate again.")
    if teaching_shown:
        out.append("Some calibration items appear in these guidelines as worked examples, with their answers.")
    return out


def _gold(spec: Spec, gates: dict[str, Gate]) -> list[str]:
    gold = spec.quality.gold
    if gold is None:
        return []
    out = ["Some items have known answers (gold items). They are mixed into your work without being marked, so "
           "give every item the same care. Gold items are never shown in these guidelines."]
    if "gold.accuracy" in gates and gold.min_accuracy is not None:
        out.append(f"Your accuracy on gold items must be at least {pct(gold.min_accuracy)}, measured once you have "
                   f"answered {gold.min_judgments} of them." + _severity(gates["gold.accuracy"]))
    return out


def _task_metrics(task: Task) -> list[str]:
    metrics = [task.agreement.metric, *_KIND_METRICS.get(task.kind, ())]
    if task.unit == "step" and task.error_labels:
        metrics.extend(_STEP_METRICS)
    return [m for i, m in enumerate(metrics) if m in METRIC_WORDS and m not in metrics[:i]]


def _task_section(spec: Spec, task: Task, gates: dict[str, Gate]) -> CheckSection | None:
    if task.kind == "text":
        return None
    paras = [METRIC_WORDS[m] for m in _task_metrics(task)]
    if task.kind == "rating" or task.level != "nominal":
        paras.append(LEVEL_WORDS[task.level])
    level = spec.quality.bootstrap.level
    gate = gates.get(f"agreement.{task.name}")
    if gate is not None:
        paras.append(f"Agreement on {task.name} ({gate.metric}) "
                     f"{threshold_words(gate.comparator, gate.threshold, gate.on, level)}." + _severity(gate))
    per_label = gates.get(f"agreement.{task.name}.per_label")
    if per_label is not None:
        paras.append(f"Agreement on every single label {threshold_words('>=', per_label.threshold, 'estimate', level)}."
                     + _severity(per_label))
    if task.rules:
        paras.append("The rules listed with this task are checked on every judgment.")
    return CheckSection(anchor=f"_checks-{task.name}", title=f"{COMPARED_TITLE[task.kind]}: {task.name}",
                        paragraphs=paras)


def _records(spec: Spec, gates: dict[str, Gate]) -> list[str]:
    q = spec.quality
    out = ["A judgment that does not fit the format (an unknown label, a missing field, a value off the scale) is "
           "rejected."]
    gate = gates.get("records.valid")
    if gate is not None:
        if gate.threshold == 0:
            out.append("A single rejected judgment blocks the release." if gate.severity == "error" else
                       "The check allows no rejected judgment." + _severity(gate))
        else:
            beyond = " Beyond that, the release is blocked." if gate.severity == "error" else _severity(gate)
            out.append(f"The check allows at most {pct(gate.threshold)} of all judgments to be rejected." + beyond)
    if q.provenance and "provenance.complete" in gates:
        out.append("Every judgment must record: " + ", ".join(q.provenance) + ".")
    return out


def _conduct(spec: Spec, gates: dict[str, Gate]) -> list[str]:
    q = spec.quality
    out = []
    if q.annotations_per_item is not None:
        out.append(f"Each item is labelled by {q.annotations_per_item} annotators independently: do not discuss "
                   "items or compare answers while you work.")
    lt = q.lead_time
    if "annotators.lead_time" in gates and lt.min_seconds is not None and lt.max_fast_share is not None:
        out.append(f"When more than {pct(lt.max_fast_share)} of your judgments take under {number(lt.min_seconds)} "
                   "seconds, your work is reviewed.")
    if "annotators.divergence" in gates:
        out.append("Your label distribution is compared with the other annotators'; a clear difference is reviewed.")
    return out


def _adjudication(spec: Spec) -> list[str]:
    adj = spec.adjudication
    if adj.method == "dawid_skene":
        out = ["When annotators disagree, answers are weighted by each annotator's estimated accuracy "
               "(Dawid–Skene), and the most probable label is kept."]
    else:
        out = [f"When annotators disagree, the majority label is kept if at least {pct(adj.min_support)} of the "
               "annotators chose it."]
    if adj.expert_review:
        out.append("Otherwise, and for labels marked for review, an expert decides.")
    return out


def check_sections(spec: Spec, *, teaching_shown: bool) -> list[CheckSection]:
    """The sections of "how your work is checked", in a fixed order; empty parts are left out."""
    gates = {g.id: g for g in plan_gates(spec)}
    sections = [
        CheckSection(anchor="_checks-calibration", title="Calibration",
                     paragraphs=_calibration(spec, gates, teaching_shown)),
        CheckSection(anchor="_checks-gold", title="Gold items", paragraphs=_gold(spec, gates)),
        CheckSection(anchor="_checks-conduct", title="Working independently", paragraphs=_conduct(spec, gates)),
    ]
    sections.extend(s for t in spec.tasks if (s := _task_section(spec, t, gates)) is not None)
    sections.append(CheckSection(anchor="_checks-format", title="The format of your answers",
                                 paragraphs=_records(spec, gates)))
    sections.append(CheckSection(anchor="_checks-disagreement", title="When annotators disagree",
                                 paragraphs=_adjudication(spec)))
    return [s for s in sections if s["paragraphs"]]
