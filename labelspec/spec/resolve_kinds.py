"""Settings that must fit a task's kind (LS311), and ``gates:`` overrides that must name a declared gate (LS310).

The table :data:`APPLIES_TO` is the single statement of which task setting means something for which kind; the
guidelines and the docs can read it. The agreement metric a task is gated on must be one its kind can compute
(``plan.METRICS_BY_KIND``, plus ``plan.STEP_METRICS`` for step tasks with error labels). A few settings apply to a
kind only with some values (``unit: step``) or only where the task writes them (its own ``min_per_label``, never an
inherited project-wide default); they are checked here too. No I/O.
"""

from __future__ import annotations

from typing import Any

from labelspec.spec.locate import Part, did_you_mean
from labelspec.spec.plan import METRICS_BY_KIND, PER_LABEL_KINDS, STEP_METRICS, candidate_gates
from labelspec.spec.resolve_checks import Checker

_CHOICE = frozenset({"single_choice", "multi_choice", "spans", "attribution"})
_SCORED = frozenset(METRICS_BY_KIND) - {"text"}
#: Which task kinds each optional task setting applies to.
APPLIES_TO: dict[str, frozenset[str]] = {
    "labels": _CHOICE,
    "min_choices": frozenset({"multi_choice"}),
    "max_choices": frozenset({"multi_choice"}),
    "scale": frozenset({"rating"}),
    "field": frozenset({"spans"}),
    "allow_nesting": frozenset({"spans"}),
    "options": frozenset({"ranking"}),
    "allow_ties": frozenset({"pairwise"}),
    "max_length": frozenset({"text"}),
    "error_labels": frozenset({"single_choice"}),
    "expected_distribution": _SCORED - {"ranking"},
    "edge_cases": _SCORED,
    "rules": _SCORED - {"ranking"},
    "agreement": _SCORED,
}
#: Kinds that cannot be answered without labels.
NEEDS_LABELS = _CHOICE
#: Kinds judged once per item: the judgment names the step itself (an attribution's ``step``).
ITEM_ONLY = frozenset({"attribution"})


def check_kinds(checker: Checker) -> None:
    """LS311 for every task setting its kind ignores, every missing setting its kind needs, every bad metric."""
    for base, raw, task in checker.tasks():
        kind = raw["kind"]
        for key, kinds in APPLIES_TO.items():
            if key in raw and kind not in kinds:
                checker.add("LS311", (*base, key), f"`{key}` does not apply to {_a(kind)} task",
                            hint=f"`{key}` applies to: {', '.join(sorted(kinds))}", key=True)
        for message in _missing(raw):
            checker.add("LS311", base, message, key=True)
        _check_values(checker, base, raw)
        if kind != "text":
            _check_metric(checker, base, raw, task.agreement.metric)


def _check_values(checker: Checker, base: tuple[Part, ...], raw: dict[str, Any]) -> None:
    """LS311 for settings that fit the kind only with some values, or only where the task itself writes them."""
    kind = raw["kind"]
    if "error_labels" in raw and kind == "single_choice" and raw.get("unit", "item") != "step":
        checker.add("LS311", (*base, "error_labels"), "`error_labels` needs `unit: step`",
                    hint="error labels mark erroneous steps of a trajectory", key=True)
    if kind in ITEM_ONLY and raw.get("unit") == "step":
        checker.add("LS311", (*base, "unit"), f"`unit: step` does not apply to {_a(kind)} task",
                    hint="an attribution names the failing step in its value: one judgment per item, "
                         "so leave `unit` out or write `unit: item`")
    own = raw.get("agreement", {})
    if "min_per_label" in own and kind in APPLIES_TO["agreement"] and kind not in PER_LABEL_KINDS:
        checker.add("LS311", (*base, "agreement", "min_per_label"),
                    f"`min_per_label` does not apply to {_a(kind)} task: it has no per-label agreement",
                    hint=f"`min_per_label` applies to: {', '.join(sorted(PER_LABEL_KINDS))}; "
                         "gate this task with `agreement.min`", key=True)


def _a(kind: str) -> str:
    """The kind with its article: "a rating", "an attribution"."""
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _missing(raw: dict[str, Any]) -> list[str]:
    kind = raw["kind"]
    needs = []
    if kind in NEEDS_LABELS and not raw.get("labels"):
        needs.append(f"{_a(kind)} task needs `labels`")
    if kind == "spans" and "field" not in raw:
        needs.append("a spans task needs `field`: the item field the offsets point into")
    if kind == "rating" and "scale" not in raw:
        needs.append("a rating task needs a `scale` with min and max")
    if kind == "ranking" and "options" not in raw:
        needs.append("a ranking task needs `options`: the option ids every item offers, in display order")
    return needs


def _check_metric(checker: Checker, base: tuple[Part, ...], raw: dict[str, Any], metric: str) -> None:
    kind = raw["kind"]
    allowed = METRICS_BY_KIND[kind]
    if raw.get("unit") == "step" and raw.get("error_labels"):
        allowed = allowed + STEP_METRICS
    if metric in allowed:
        return
    own = "metric" in raw.get("agreement", {})
    parts: tuple[Part, ...] = (*base, "agreement", "metric") if own else ("quality", "agreement", "metric")
    hint = f"use one of: {', '.join(allowed)}"
    if not own:
        hint = f"set {'.'.join(map(str, base))}.agreement.metric to one of: {', '.join(allowed)}"
    checker.add("LS311", parts, f"agreement metric {metric!r} cannot be computed for {kind} task {base[-1]!r}",
                hint=hint)


def check_gate_overrides(checker: Checker) -> None:
    """LS310: each key of ``gates:`` is the id of a gate this spec declares (see ``labelspec compile`` → gates.json)."""
    overrides = checker.data.get("gates", {})
    if not overrides:
        return
    declared = sorted({gate.id for gate in candidate_gates(checker.spec)})
    for gate_id in overrides:
        if gate_id not in declared:
            hint = did_you_mean(gate_id, declared) or ("gates of this spec: " + ", ".join(declared[:12])
                                                       + (" …" if len(declared) > 12 else ""))
            checker.add("LS310", ("gates", gate_id), f"unknown gate {gate_id!r}", hint=hint, key=True)
