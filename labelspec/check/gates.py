"""Gate evaluation: one measured value per planned gate → pass, fail or undefined. Gates fail closed.

A value that could not be computed (None) or is not finite is ``undefined``, and an undefined gate blocks like a
failed one: ``nan < 0.6`` and ``nan >= 0.6`` are both False, so a naive comparison would let it pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from labelspec.spec.plan import Gate

Status = Literal["pass", "fail", "undefined"]


@dataclass(frozen=True)
class Measure:
    """What a gate compares: the estimate, its interval, how many units it rests on, and why it may be missing."""

    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    reason: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    status: Status
    measure: Measure
    compared: float | None  # the number actually compared (the estimate or an interval bound)

    def blocking(self, *, strict: bool = False) -> bool:
        """Does this result stop a release? Errors block when not passing; warnings only under ``--strict``."""
        return self.status != "pass" and (self.gate.severity == "error" or strict)

    def to_dict(self) -> dict[str, Any]:
        g = self.gate
        return {
            "id": g.id, "metric": g.metric, "task": g.task, "comparator": g.comparator, "threshold": g.threshold,
            "on": g.on, "severity": g.severity, "status": self.status, "value": _num(self.measure.value),
            "ci_low": _num(self.measure.ci_low), "ci_high": _num(self.measure.ci_high),
            "compared": _num(self.compared), "n": self.measure.n,
            # why the gate is undefined; a decided gate has none (a missing interval is no reason for a gate on
            # the estimate)
            "reason": self.measure.reason if self.status == "undefined" else None,
            "detail": self.measure.detail, "description": g.description,
            "declared_at": {"path": g.loc.path, "line": g.loc.line, "column": g.loc.column},
        }


def _num(x: float | None) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def evaluate(gate: Gate, measure: Measure) -> GateResult:
    """Compare one measure with its gate; anything not finite is undefined (fail closed)."""
    compared = {"estimate": measure.value, "ci_low": measure.ci_low, "ci_high": measure.ci_high}[gate.on]
    if compared is None or not math.isfinite(compared):
        reason = measure.reason or ("no confidence interval" if gate.on != "estimate" else "no value")
        return GateResult(gate, "undefined", Measure(**{**measure.__dict__, "reason": reason}), None)
    ok = compared >= gate.threshold if gate.comparator == ">=" else compared <= gate.threshold
    return GateResult(gate, "pass" if ok else "fail", measure, float(compared))
