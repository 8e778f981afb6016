"""Warning (LS311) for ``review: always`` labels that no expert will see.

A label marked ``review: always`` flags every unit whose consensus carries it (reason ``always_review_labels``),
but only the reasons listed in ``adjudication.expert_review`` route a unit to an expert. A list without
``always_review_labels`` (the default list has it) leaves the flag without effect: units released unreviewed, while
the author meant every one to be checked. A warning, not an error: flagging without routing may be meant (the
reason still shows in the review queue's columns and the release's ``reasons``). Pure: model in, diagnostics out.
"""

from __future__ import annotations

from dataclasses import replace

from labelspec.errors import Diagnostic
from labelspec.spec.locate import Locator
from labelspec.spec.model import Spec

REASON = "always_review_labels"


def routes_always_review(spec: Spec) -> bool:
    """Whether units flagged by a ``review: always`` label go to an expert (the default reasons include it)."""
    return REASON in spec.adjudication.routing


def review_always_warnings(spec: Spec, loc: Locator) -> list[Diagnostic]:
    """One LS311 warning per ``review: always`` label when ``adjudication.expert_review`` leaves the reason out."""
    if routes_always_review(spec):
        return []
    listed = ", ".join(spec.adjudication.expert_review)
    return [replace(loc.diag(
        "LS311", ("tasks", task.name, "labels", lab.id, "review"),
        f"label {lab.id!r} of task {task.name!r} has review: always, but adjudication.expert_review "
        f"[{listed}] does not route {REASON}: its units are flagged, never sent to an expert",
        hint=f"add {REASON} to adjudication.expert_review, or remove review: always", key=True), severity="warning")
        for task in spec.tasks for lab in task.labels if lab.review == "always"]
