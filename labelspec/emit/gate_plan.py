"""Spec → ``gates.json``: the release gates ``check`` will run, as reviewable data.

The plan is ``spec.plan.plan_gates`` (the same function ``check`` evaluates), so the gates a team reviews in a pull
request are the gates that run. Each gate names where it was declared (repository-relative path, line, column);
absolute paths are refused. Built as a dict and serialised by ``json.dumps``, never templated. Pure: no I/O.
"""

from __future__ import annotations

import math
from typing import Any

from labelspec.emit.header import header_text, relative_path
from labelspec.errors import Diagnostic, OutputError
from labelspec.spec.model import Spec
from labelspec.spec.plan import Gate, plan_gates


def _gate(gate: Gate) -> dict[str, Any]:
    data = gate.to_dict()
    threshold = float(gate.threshold)
    if not math.isfinite(threshold):  # the spec validator forbids this; a plan must never carry it
        raise OutputError(Diagnostic("LS601", f"gate {gate.id} has a non-finite threshold", loc=gate.loc))
    data["threshold"] = threshold
    loc = gate.loc
    data["declared_at"] = (None if loc.line <= 0 else
                           {"path": relative_path(loc.path), "line": loc.line, "column": loc.column})
    return data


def gate_plan(spec: Spec) -> dict[str, Any]:
    """``gates.json`` as a dict: the planned gates in evaluation order, with the spec's severity overrides applied."""
    return {
        "$comment": header_text(spec),
        "project": spec.project.id,
        "version": spec.project.version,
        "spec": relative_path(spec.path),
        "gates": [_gate(g) for g in plan_gates(spec)],
    }
