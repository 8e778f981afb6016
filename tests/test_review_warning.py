"""A ``review: always`` label whose units the adjudication never routes to an expert: validate warns (LS311) and
the guidelines do not promise expert review (an audit found both silent)."""

from __future__ import annotations

from pathlib import Path

from test_resolve import HEAD, project

from labelspec.emit import compile_spec
from labelspec.spec.load import load_spec, load_spec_with_warnings

TASK = ("tasks:\n  intent:\n    kind: single_choice\n    question: What is the intent?\n    labels:\n"
        "      refund: {title: Refund, definition: Money back., review: always}\n"
        "      status: {title: Status, definition: Where things stand.}\n")
PROMISE = "always reviewed by an expert"


def guidelines(path: Path) -> str:
    files = {a.path: a.content for a in compile_spec(load_spec(path, display_path="labelspec.yaml"))}
    return next(text for name, text in files.items() if name.endswith("guidelines.md")).decode("utf-8")


def test_routing_without_always_review_labels_warns_at_the_label(tmp_path: Path) -> None:
    spec = project(tmp_path, HEAD + TASK + "adjudication:\n  expert_review: [tie, low_support]\n")
    (w,) = load_spec_with_warnings(spec, display_path="labelspec.yaml").warnings
    assert (w.code, w.severity, w.pointer) == ("LS311", "warning", "tasks.intent.labels.refund.review")
    assert w.message == ("label 'refund' of task 'intent' has review: always, but adjudication.expert_review "
                         "[tie, low_support] does not route always_review_labels: its units are flagged, never sent "
                         "to an expert")
    assert PROMISE not in guidelines(spec)


def test_default_or_listed_routing_is_silent_and_promised(tmp_path: Path) -> None:
    default = project(tmp_path / "a", HEAD + TASK)
    listed = project(tmp_path / "b", HEAD + TASK + "adjudication:\n  expert_review: [always_review_labels]\n")
    for spec in (default, listed):
        assert load_spec_with_warnings(spec, display_path="labelspec.yaml").warnings == ()
        assert PROMISE in guidelines(spec)
