"""The check report: one result object that owns the exit code and renders to a versioned JSON document.

Text, Markdown, JUnit and GitHub annotations are rendered from :meth:`Report.to_dict` (``check/render.py``), so
every format says the same thing. JSON never contains NaN or infinity: undefined values are ``null`` with a reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from labelspec.check.analyze import TaskAnalysis
from labelspec.check.decide import Decisions
from labelspec.check.estimate import Estimate
from labelspec.check.gates import GateResult
from labelspec.check.gold import GoldScores
from labelspec.check.records import Accounting
from labelspec.check.rules import RuleResult
from labelspec.spec.model import Spec

#: Version of the JSON report layout; bumped when a field changes meaning or disappears (additions do not bump it).
REPORT_VERSION = 1
#: How many excluded rows the JSON lists one by one (the counts per reason are always complete).
MAX_LISTED_EXCLUSIONS = 1000


def clean(value: Any) -> Any:
    """Plain JSON values: numpy scalars to Python, NaN/inf to None, containers recursively."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def estimate_dict(est: Estimate) -> dict[str, Any]:
    out: dict[str, Any] = clean({"value": est.value, "ci_low": est.ci_low, "ci_high": est.ci_high, "n_units": est.n_units,
                  "n_excluded": est.n_excluded, "reason": est.reason, "ci_reason": est.ci_reason})
    return out


def _task_dict(a: TaskAnalysis) -> dict[str, Any]:
    return {
        "n_judgments": a.n_judgments, "n_units": a.n_units, "n_annotators": a.n_annotators,
        "units_below_coverage": a.units_below_coverage,
        "agreement": {name: estimate_dict(est) for name, est in sorted(a.agreement.items())},
        "per_label": {label: estimate_dict(est) for label, est in sorted(a.per_label.items())},
        **{k: clean(v) for k, v in sorted(a.extra.items()) if k != "annotator_counts"},
    }


@dataclass(frozen=True)
class Report:
    spec: Spec
    accounting: Accounting
    analyses: dict[str, TaskAnalysis]
    gold: GoldScores | None
    gates: tuple[GateResult, ...]
    findings: tuple[Any, ...] = ()
    rules: dict[str, RuleResult] = field(default_factory=dict)
    strict: bool = False
    files: tuple[str, ...] = ()
    sections: dict[str, Any] = field(default_factory=dict)  # consensus, hotspots … added by later stages
    decisions: Decisions | None = None  # kept for release (CheckOptions.keep_decisions); never serialised

    @property
    def blocking(self) -> tuple[GateResult, ...]:
        return tuple(g for g in self.gates if g.blocking(strict=self.strict))

    @property
    def exit_code(self) -> int:
        """0 when the release may go, 1 when a blocking gate failed or was undefined."""
        return 1 if self.blocking else 0

    def accounting_dict(self) -> dict[str, Any]:
        acc = self.accounting
        excl = acc.exclusions
        listed = excl.head(MAX_LISTED_EXCLUSIONS)
        by_reason = acc.excluded_by_reason
        return {
            "rows_read": acc.rows_read,
            "rows_used": len(acc.used) + len(acc.expert),
            "rows_used_expert": len(acc.expert),
            "rows_excluded": sum(by_reason.values()),
            "excluded_by_reason": by_reason,
            "balanced": acc.rows_read == len(acc.used) + len(acc.expert) + sum(by_reason.values()),
            "exclusions": [{"file": str(f), "line": int(ln), "reason": str(r), "detail": str(d)}
                           for f, ln, r, d in listed[["file", "line", "reason", "detail"]].itertuples(index=False)],
            "exclusions_truncated": max(0, len(excl) - len(listed)),
            "not_judgments": dict(sorted(acc.not_judgments.items())),
        }

    def gold_dict(self) -> dict[str, Any] | None:
        if self.gold is None:
            return None
        return {a: {"n": int(self.gold.n[i]), "correct": int(self.gold.correct[i]),
                    **estimate_dict(self.gold.accuracy[i])} for i, a in enumerate(self.gold.annotators)}

    def to_dict(self) -> dict[str, Any]:
        s = self.spec
        out: dict[str, Any] = clean({
            "report_version": REPORT_VERSION,
            "tool": "labelspec",
            "spec": {"path": s.path, "project": s.project.id, "version": s.project.version, "digest": s.digest},
            "ci_level": s.quality.bootstrap.level,
            "files": list(self.files),
            "exit_code": self.exit_code,
            "strict": self.strict,
            "summary": {
                "gates": len(self.gates),
                "passed": sum(g.status == "pass" for g in self.gates),
                "failed": sum(g.status == "fail" and g.gate.severity == "error" for g in self.gates),
                "undefined": sum(g.status == "undefined" and g.gate.severity == "error" for g in self.gates),
                "warnings": sum(g.status != "pass" and g.gate.severity == "warn" for g in self.gates),
                "blocking": [g.gate.id for g in self.blocking],
            },
            "gates": [g.to_dict() for g in self.gates],
            "accounting": self.accounting_dict(),
            "tasks": {name: _task_dict(a) for name, a in sorted(self.analyses.items())},
            "gold": self.gold_dict(),
            "rules": {rid: {"checked": r.checked, "violations": r.violations, "by_annotator": r.by_annotator,
                            "examples": [{"annotator": a, "item": i, "file": f, "line": ln}
                                         for a, i, f, ln in r.examples]}
                      for rid, r in sorted(self.rules.items())},
            "findings": [f.to_dict() for f in self.findings],
            **{k: v for k, v in sorted(self.sections.items())},
        })
        return out
