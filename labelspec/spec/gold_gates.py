"""Warnings (LS312) for a gate measured on gold judgments that no row of the spec's gold file can feed.

``check`` scores gold per (item, unit, task) but leaves free text out (``check/gold.py``), so a gold file that is
empty, or holds rows of ``kind: text`` tasks only, gives ``gold.accuracy`` and ``calibration.drift`` nothing to
measure: both are undefined at every check (which blocks when the gate is an error, as gold.accuracy is by
default). ``validate`` says so beforehand, as a warning and not
an error: the gold file may be filled later, or ``check --gold`` may bring another. Pure: bytes in, diagnostics
out; it runs once the gold file has validated clean.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pyarrow.compute as pc

from labelspec.csvscan import plain_columns
from labelspec.errors import Diagnostic
from labelspec.spec.datafiles import GOLD_COLUMNS, Problems, decode, read_table
from labelspec.spec.locate import Locator, Part
from labelspec.spec.model import Spec
from labelspec.spec.plan import plan_gates

#: The gates measured on gold judgments only, and the key that declares each (where the warning points).
GOLD_GATES: dict[str, tuple[Part, ...]] = {
    "gold.accuracy": ("quality", "gold", "min_accuracy"),
    "calibration.drift": ("quality", "calibration", "recalibrate_below"),
}
#: Task kinds whose gold rows ``check`` does not score (free text: "Hello" against "hello" is no error).
UNSCORED_KINDS = frozenset({"text"})


def gold_rows_per_task(data: bytes) -> dict[str, int]:
    """Rows per task of a gold file that validated clean: pyarrow's read when it vouches for it, else the stdlib's."""
    cols = plain_columns(data, ["task"])
    if cols is not None:
        counts = pc.value_counts(cols["task"])
        return dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True))
    problems = Problems("")
    _, records = read_table(decode(data, problems) or "", problems, GOLD_COLUMNS, None, keep=("task",))
    return dict(Counter(rec["task"] for _, rec in records))


def gold_gate_warnings(spec: Spec, loc: Locator, gold: tuple[str, bytes] | None) -> list[Diagnostic]:
    """One warning per planned gold gate when ``gold`` (display path, bytes) holds no scored row, or is None.

    A gate turned ``off`` in ``gates:`` is not planned, so it gets none."""
    gates = [g.id for g in plan_gates(spec) if g.id in GOLD_GATES]
    if not gates:
        return []
    scored = [t.name for t in spec.tasks if t.kind not in UNSCORED_KINDS]
    rows = gold_rows_per_task(gold[1]) if gold is not None else {}
    most = sum(rows.get(name, 0) for name in scored)  # an annotator judges each gold row at most once
    if most:
        return _too_few_rows(spec, loc, gold, most, gates)
    message, hint = _problem(gold, rows), _hint(gold, scored)
    return [replace(loc.diag("LS312", GOLD_GATES[gate], f"gate {gate} can never be measured: {message}", hint=hint,
                             key=True), severity="warning") for gate in gates]


def _too_few_rows(spec: Spec, loc: Locator, gold: tuple[str, bytes] | None, most: int, gates: list[str]
                  ) -> list[Diagnostic]:
    """gold.accuracy scores only annotators with ≥ ``min_judgments`` gold judgments, and calibration.drift needs
    ``window`` of them; with fewer scored gold rows than that, nobody qualifies and the gate is undefined at every
    check. The warning points at the setting when the spec writes it, else at the key that declares the gate."""
    if gold is None:
        return []
    needs = {"gold.accuracy": (spec.quality.gold.min_judgments if spec.quality.gold is not None else 0,
                               ("quality", "gold", "min_judgments")),
             "calibration.drift": (spec.quality.calibration.window if spec.quality.calibration is not None else 0,
                                   ("quality", "calibration", "window"))}
    out: list[Diagnostic] = []
    for gate in gates:
        need, setting = needs[gate]
        if most >= need:
            continue
        name = ".".join(str(p) for p in setting)
        parts = setting if loc.written(setting) else GOLD_GATES[gate]
        out.append(replace(loc.diag(
            "LS312", parts, f"gate {gate} can never be measured: {name} is {need}, but gold file {gold[0]} holds "
            f"{most} scored row{'s' if most > 1 else ''}, so no annotator can have {need} gold judgments",
            hint=f"lower {name} to at most {most}, or add gold rows", key=True), severity="warning"))
    return out


def _problem(gold: tuple[str, bytes] | None, rows: dict[str, int]) -> str:
    """Why no gold row is scored: no gold file, no row, or rows of free-text tasks only (named, with counts)."""
    if gold is None:
        return "the spec names no gold file (quality.gold.file)"
    if not rows:
        return f"gold file {gold[0]} holds no rows"
    covered = ", ".join(f"{name!r} ({n} row{'s' if n > 1 else ''})" for name, n in sorted(rows.items()))
    return f"the rows of gold file {gold[0]} are all for free-text task(s) {covered}, which gold does not score"


def _hint(gold: tuple[str, bytes] | None, scored: list[str]) -> str:
    """What to add: gold rows for a scored task (and the gold file itself when there is none)."""
    tasks = ", ".join(scored)
    if not scored:
        return "no task of this spec is scored against gold (free text is not): remove the gate, or turn it off"
    if gold is None:
        return f"add `gold: {{file: gold.csv}}` to quality, with gold rows for a task gold scores ({tasks})"
    return f"add gold rows (item,unit,task,label) to {gold[0]} for a task gold scores: {tasks}"
