"""The release's join of judgments to released rows by each task's unit codes (``rows_by_units``) against the
join by key texts (``rows_of``) on every example project, and its fallback when an expert judged."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from labelspec import api
from labelspec.check.decide import decide_one
from labelspec.check.release_judgments import KEYS, rows_by_units, rows_of
from labelspec.check.release_table import select_units
from labelspec.check.runner import CheckOptions, run_check

SPECS = Path(__file__).parents[1] / "specs"
COLUMNS = [*KEYS, "annotator", "value", "timestamp", "lead_time", "file", "line", "when"]


@pytest.mark.parametrize("project", ["support-intent", "clinical-ner", "rlhf-preference", "agent-trajectories"])
def test_rows_by_unit_codes_are_the_rows_by_key_texts(project: str) -> None:
    """Every kind the examples have (choices, steps, spans, rankings, pairwise, attribution, a taxonomy)."""
    spec = api.load_spec(SPECS / project)
    ctx = api.project_context(spec, None)
    files = sorted(f for f in (SPECS / project / "labels").iterdir() if f.is_file())
    report = run_check(spec, ctx, files, [str(f) for f in files], CheckOptions(keep_decisions=True))
    assert report.decisions is not None
    units, _ = select_units(report.decisions, ctx)
    acc = report.accounting
    fast = rows_by_units(units, acc, report.decisions.judgment_units)
    assert fast is not None
    slow = rows_of(units, acc.used[COLUMNS])
    assert fast.tolist() == slow.tolist() and (fast >= 0).any()
    # a task whose codes are unknown, or an expert's judgment: the key texts decide
    unknown = {**report.decisions.judgment_units, str(units["task"].iloc[0]): None}
    assert rows_by_units(units, acc, unknown) is None
    with_expert = replace(acc, expert=acc.used.iloc[:1])
    assert rows_by_units(units, with_expert, report.decisions.judgment_units) is None


def test_a_plain_check_keeps_no_unit_codes() -> None:
    """Only a release asks for them (``keep_decisions``): a check does not hold 10M codes for nothing."""
    spec = api.load_spec(SPECS / "support-intent")
    ctx = api.project_context(spec, None)
    files = sorted(f for f in (SPECS / "support-intent" / "labels").iterdir() if f.is_file())
    report = run_check(spec, ctx, files, [str(f) for f in files], CheckOptions(keep_decisions=False))
    assert report.decisions is None
    one = decide_one(spec, spec.tasks[0], report.accounting, ctx, details=False)
    assert one is not None and one.judgment_units is None
    kept = decide_one(spec, spec.tasks[0], report.accounting, ctx, details=True)
    assert kept is not None and kept.judgment_units is not None
    assert np.array_equal(np.sort(np.unique(kept.judgment_units)), np.arange(len(kept.units)))
