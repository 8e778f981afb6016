"""Row accounting: which judgments are used and why every other one is excluded.

Applies the per-record contract of ``spec/records.py`` to every row, vectorised (choice values by set membership,
structured values once per distinct value), then the dataset-level checks a single record cannot know: unknown item,
duplicate judgment, annotator not in the roster, judged before passing calibration, span offsets beyond the item
text. Nothing is dropped silently: each excluded row keeps its file, line, reason and detail.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelspec.check.context import Context
from labelspec.check.tables import member
from labelspec.spec.model import Spec, Task
from labelspec.spec.records import (
    LEAD_TIME_RE,
    TIMESTAMP_RE,
    required_fields,
    valid_timestamp,
    value_problems,
)

#: Exclusion reasons, in report order. Stable strings: reports and tests use them.
REASONS: tuple[str, ...] = (
    "missing_field", "unknown_task", "unit_mismatch", "invalid_value", "bad_timestamp", "bad_lead_time",
    "unknown_item", "annotator_not_in_roster", "not_calibrated", "before_calibration", "span_out_of_bounds",
    "duplicate_judgment",
)
EXCLUSION_COLUMNS = ["file", "line", "reason", "detail"]


@dataclass(frozen=True)
class Accounting:
    """Used rows (annotator and expert judgments apart) plus every exclusion with its reason."""

    used: pd.DataFrame
    expert: pd.DataFrame
    exclusions: pd.DataFrame
    rows_read: int

    @property
    def excluded_by_reason(self) -> dict[str, int]:
        counts = self.exclusions["reason"].value_counts()
        return {str(k): int(v) for k, v in sorted(counts.items())}


class _Marker:
    """Collects the first exclusion reason of each row (later checks never overwrite an earlier reason)."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, "", dtype=object)
        self.detail = np.full(n, "", dtype=object)

    def mark(self, mask: np.ndarray, reason: str, detail: np.ndarray | str) -> None:
        fresh = mask & (self.reason == "")
        self.reason[fresh] = reason
        self.detail[fresh] = detail[fresh] if isinstance(detail, np.ndarray) else detail

    @property
    def ok(self) -> np.ndarray:
        return np.asarray(self.reason == "", dtype=bool)


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    return np.asarray(df[name].to_numpy(dtype=object, na_value=""), dtype=object)


def _check_values(task: Task, values: np.ndarray) -> np.ndarray:
    """Problem text per value ('' when valid), evaluated once per distinct value (hash-factorised, not sorted)."""
    codes, uniques = pd.factorize(values)
    problems = np.array(["; ".join(value_problems(task, str(u))) for u in uniques], dtype=object)
    return problems[codes] if len(codes) else np.zeros(0, dtype=object)


def _record_checks(spec: Spec, df: pd.DataFrame, marker: _Marker) -> None:
    n = len(df)
    for name in required_fields(spec):
        marker.mark(_col(df, name) == "", "missing_field", f"missing {name}")
    task_col = _col(df, "task")
    if len(spec.tasks) == 1:
        task_col = np.where(task_col == "", spec.tasks[0].name, task_col)
    unknown = ~member(task_col, spec.task_names)
    detail = np.full(n, "", dtype=object)
    detail[unknown] = [f"unknown task {t!r}" for t in task_col[unknown]]
    marker.mark(unknown, "unknown_task", detail)
    unit = _col(df, "unit")
    values = _col(df, "value")
    for task in spec.tasks:
        rows = task_col == task.name
        if task.unit == "step":
            marker.mark(rows & (unit == ""), "unit_mismatch", "missing unit (this task is judged per step)")
        else:
            marker.mark(rows & (unit != ""), "unit_mismatch", "unit given for a task judged per item")
        idx = np.flatnonzero(rows & (values != ""))
        problems = _check_values(task, values[idx])
        bad = np.zeros(n, dtype=bool)
        bad[idx] = problems != ""
        detail = np.full(n, "", dtype=object)
        detail[idx] = problems
        marker.mark(bad, "invalid_value", detail)
    ts = df["timestamp"].astype("string")
    ts_bad = (ts != "") & ~ts.str.fullmatch(TIMESTAMP_RE.pattern).fillna(False)  # `$` alone lets "…Z\n" in
    parsed = pd.to_datetime(ts.where(~ts_bad & (ts != "")), format="ISO8601", utc=True, errors="coerce")
    # pandas' nanosecond range ends in 2262 and it takes year 0: decide those rare rows by the record contract
    unsure = ((ts != "") & ~ts_bad & (parsed.isna() | (parsed.dt.year < 1))).to_numpy(dtype=bool)
    ts_bad = ts_bad.to_numpy(dtype=bool)
    ts_bad[unsure] = [not valid_timestamp(t) for t in ts.to_numpy(dtype=object)[unsure]]
    marker.mark(ts_bad, "bad_timestamp", "timestamp is not ISO 8601 with a timezone")
    lt = df["lead_time"].astype("string")
    lt_bad = (lt != "") & ~lt.str.fullmatch(LEAD_TIME_RE.pattern).fillna(False)
    marker.mark(lt_bad.to_numpy(dtype=bool), "bad_lead_time", "lead_time is not a non-negative number")


def _roster_checks(spec: Spec, df: pd.DataFrame, ctx: Context, marker: _Marker, when: pd.Series) -> None:
    if ctx.roster is None:
        return
    ann = _col(df, "annotator")
    known = member(ann, ctx.roster)
    marker.mark(~known & (ann != ""), "annotator_not_in_roster", "annotator is not in the roster")
    if "calibration" not in spec.quality.provenance:
        return
    cal = pd.Series({a: r.calibrated_at for a, r in ctx.roster.items() if r.passed and r.role == "annotator"},
                    dtype="datetime64[ns, UTC]")
    experts = member(ann, [a for a, r in ctx.roster.items() if r.role == "expert"])
    passed_at = pd.Series(ann).map(cal)
    marker.mark(known & ~experts & passed_at.isna().to_numpy(), "not_calibrated",
                "annotator has not passed calibration")
    before = (when < passed_at).fillna(False).to_numpy(dtype=bool)
    marker.mark(before & ~experts, "before_calibration", "judged before the annotator passed calibration")


def _item_checks(spec: Spec, df: pd.DataFrame, ctx: Context, marker: _Marker) -> None:
    if ctx.items is None:
        return
    item = _col(df, "item")
    marker.mark(~member(item, ctx.items.ids) & (item != ""), "unknown_item", "item is not in the items file")
    for task in spec.tasks:
        if task.kind != "spans" or task.field is None:
            continue
        rows = np.flatnonzero(marker.ok & (_col(df, "task") == task.name))
        if rows.size == 0:
            continue
        lengths = pd.Series(item[rows]).map(ctx.items.text_lengths(task.field)).fillna(-1).to_numpy()
        ends = np.array([max((s[1] for s in json.loads(v)), default=0) for v in _col(df, "value")[rows]])
        bad = np.zeros(len(df), dtype=bool)
        bad[rows] = ends > lengths
        marker.mark(bad, "span_out_of_bounds", f"a span ends beyond the length of item field {task.field!r}")


def _duplicates(df: pd.DataFrame, marker: _Marker) -> None:
    keys = df.loc[marker.ok, ["annotator", "item", "unit", "task"]]
    dup = keys.duplicated(keep="first")
    if not dup.any():
        return
    first = keys.drop_duplicates(keep="first").assign(_first=lambda f: df.loc[f.index, "file"].astype(str) + ":"
                                                      + df.loc[f.index, "line"].astype(str))
    where = keys[dup].merge(first, on=["annotator", "item", "unit", "task"], how="left")["_first"].to_numpy()
    mask = np.zeros(len(df), dtype=bool)
    positions = np.flatnonzero(marker.ok)[dup.to_numpy()]
    mask[positions] = True
    detail = np.full(len(df), "", dtype=object)
    detail[positions] = ["same annotator, item, unit and task as " + w for w in where]
    marker.mark(mask, "duplicate_judgment", detail)


def account(spec: Spec, judgments: pd.DataFrame, ctx: Context, *, rows_read: int,
            reader_exclusions: pd.DataFrame) -> Accounting:
    """Split judgments into used rows and located exclusions; ``rows_read`` is what the readers saw."""
    df = judgments.reset_index(drop=True)
    if len(spec.tasks) == 1:
        df["task"] = df["task"].where(df["task"] != "", spec.tasks[0].name)
    marker = _Marker(len(df))
    _record_checks(spec, df, marker)
    when = pd.to_datetime(df["timestamp"].where(marker.ok & (df["timestamp"] != "").to_numpy()),
                          format="ISO8601", utc=True, errors="coerce")
    _item_checks(spec, df, ctx, marker)
    _roster_checks(spec, df, ctx, marker, when)
    _duplicates(df, marker)
    ok = marker.ok
    excluded = pd.DataFrame({"file": df["file"].to_numpy()[~ok], "line": df["line"].to_numpy()[~ok],
                             "reason": marker.reason[~ok], "detail": marker.detail[~ok]})
    exclusions = pd.concat([reader_exclusions[EXCLUSION_COLUMNS], excluded], ignore_index=True)
    used = df[ok].assign(when=when[ok])
    experts = _expert_mask(used, ctx)
    return Accounting(used=used[~experts].reset_index(drop=True), expert=used[experts].reset_index(drop=True),
                      exclusions=exclusions, rows_read=rows_read)


def _expert_mask(used: pd.DataFrame, ctx: Context) -> np.ndarray:
    if ctx.roster is None:
        return np.zeros(len(used), dtype=bool)
    experts = [a for a, r in ctx.roster.items() if r.role == "expert"]
    return member(_col(used, "annotator"), experts)


def count_by(frame: pd.DataFrame, column: str) -> Mapping[str, int]:
    counts = frame[column].value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}
