"""The per-record contract: what one submitted judgment must look like, judged on its own.

This is the single definition of record validity. ``check`` applies it to every row (vectorised, in
``check/records.py``); ``compile`` turns it into ``label.schema.json`` and the standalone ``validate_<project>.py``;
parity tests make all three agree. Checks that need other rows or files (unknown item, duplicate judgment, roster,
calibration, span offsets beyond the item text) are dataset-level and live in ``check`` only.

A record is a mapping of canonical field names (``item``, ``unit``, ``task``, ``annotator``, ``value``,
``timestamp``, ``lead_time``) to strings, as the readers produce them. List-valued kinds hold canonical JSON text.
Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from labelspec.spec.model import Spec, Task

#: ISO 8601 date-time with a timezone (``Z`` or ``±HH:MM``); naive times are rejected because order across
#: annotators in different zones would be ambiguous.
TIMESTAMP_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})")
#: A non-negative decimal number of seconds.
LEAD_TIME_RE = re.compile(r"[0-9]+(\.[0-9]+)?")
#: An integer without sign tricks, leading zeros or decimals (``01`` and ``1.0`` are not ratings).
INT_RE = re.compile(r"-?(0|[1-9][0-9]*)")
MAX_TEXT_LENGTH = 100_000

FIELDS = ("item", "unit", "task", "annotator", "value", "timestamp", "lead_time")


def required_fields(spec: Spec) -> tuple[str, ...]:
    """Fields every record must carry, non-empty. ``unit`` is required per task (see :func:`record_problems`)."""
    fields = ["item", "annotator", "value"]
    if len(spec.tasks) > 1:
        fields.append("task")
    if "timestamp" in spec.quality.provenance:
        fields.append("timestamp")
    if "lead_time" in spec.quality.provenance:
        fields.append("lead_time")
    return tuple(fields)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # nesting deeper than Python's stack is not a value either
        return _INVALID


_INVALID = object()


def _choice_list(task: Task, value: str) -> list[str]:
    data = _json(value)
    if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
        return ["value must be a JSON array of label ids"]
    labels = set(task.label_ids)
    problems = [f"unknown label {v!r}" for v in data if v not in labels]
    if len(set(data)) != len(data):
        problems.append("a label is chosen twice")
    if task.min_choices is not None and len(data) < task.min_choices:
        problems.append(f"at least {task.min_choices} labels must be chosen")
    if task.max_choices is not None and len(data) > task.max_choices:
        problems.append(f"at most {task.max_choices} labels may be chosen")
    return problems


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _spans(task: Task, value: str) -> list[str]:
    data = _json(value)
    if not isinstance(data, list):
        return ["value must be a JSON array of [start, end, label] spans"]
    labels = set(task.label_ids)
    spans: list[tuple[int, int]] = []
    for s in data:
        if not (isinstance(s, list) and len(s) == 3 and _is_int(s[0]) and _is_int(s[1]) and isinstance(s[2], str)):
            return ["each span must be [start, end, label] with integer offsets"]
        if not 0 <= s[0] < s[1]:
            return [f"span [{s[0]}, {s[1]}] must have 0 <= start < end"]
        if s[2] not in labels:
            return [f"unknown label {s[2]!r}"]
        spans.append((s[0], s[1]))
    if not task.allow_nesting:
        spans.sort()
        if any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False)):
            return ["spans overlap (this task does not allow nesting)"]
    return []


def _ranking(task: Task, value: str) -> list[str]:
    data = _json(value)
    if not isinstance(data, list) or not all(isinstance(v, str) for v in data):
        return ["value must be a JSON array of option ids"]
    if sorted(data) != sorted(task.options) or len(set(data)) != len(data):
        missing = [o for o in task.options if o not in data]
        repeated = [v for v in dict.fromkeys(data) if data.count(v) > 1]
        unknown = [v for v in dict.fromkeys(data) if v not in task.options]
        found = [what + " " + ", ".join(ids) for what, ids in
                 (("missing", missing), ("repeated", repeated), ("unknown", unknown)) if ids]
        return [f"a ranking must order every option exactly once ({', '.join(task.options)}): " + "; ".join(found)]
    return []


def _attribution(task: Task, value: str) -> list[str]:
    data = _json(value)
    if not isinstance(data, dict) or set(data) != {"agent", "step"}:
        return ['value must be a JSON object {"agent": <label id>, "step": <step index or null>}']
    if not isinstance(data["agent"], str) or data["agent"] not in set(task.label_ids):
        return [f"unknown label {data['agent']!r}"]
    step = data["step"]
    if step is not None and not (_is_int(step) and step >= 0):
        return ["step must be a non-negative integer or null"]
    return []


def valid_timestamp(text: str) -> bool:
    """ISO 8601 with a timezone, and a real calendar date and time (``2026-02-30`` is not)."""
    if not TIMESTAMP_RE.fullmatch(text):
        return False
    try:  # the date and time decide validity; sub-microsecond digits (allowed up to 9) cannot make it invalid
        datetime.fromisoformat(re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text.replace("Z", "+00:00")))
    except ValueError:
        return False
    return True


def value_problems(task: Task, value: str) -> list[str]:
    """Why ``value`` is not a valid answer to ``task`` (empty list when it is)."""
    if task.kind in ("single_choice", "pairwise"):
        if value in set(task.label_ids):
            return []
        if task.kind == "single_choice" and isinstance(_json(value), list):
            return [f"a single_choice task takes one label; found a list {value}"]
        return [f"unknown label {value!r}"]
    if task.kind == "rating":
        return [] if value in set(task.label_ids) else [f"rating {value!r} is not an integer on the scale"]
    if task.kind == "multi_choice":
        return _choice_list(task, value)
    if task.kind == "spans":
        return _spans(task, value)
    if task.kind == "ranking":
        return _ranking(task, value)
    if task.kind == "attribution":
        return _attribution(task, value)
    limit = task.max_length or MAX_TEXT_LENGTH
    return [] if len(value) <= limit else [f"text longer than {limit} characters"]


def record_problems(spec: Spec, record: Mapping[str, str]) -> list[str]:
    """Every reason the record is invalid, in a fixed order; an empty list means it is valid on its own."""
    problems = [f"missing {name}" for name in required_fields(spec) if not record.get(name, "")]
    task_name = record.get("task", "") or (spec.tasks[0].name if len(spec.tasks) == 1 else "")
    task = spec.task(task_name)
    if task is None:
        if task_name:
            problems.append(f"unknown task {task_name!r}")
        return problems
    unit = record.get("unit", "")
    if task.unit == "step" and not unit:
        problems.append("missing unit (this task is judged per step)")
    if task.unit == "item" and unit:
        problems.append("unit given for a task judged per item")
    value = record.get("value", "")
    if value:
        problems.extend(value_problems(task, value))
    ts = record.get("timestamp", "")
    if ts and not valid_timestamp(ts):
        problems.append(f"timestamp {ts!r} is not ISO 8601 with a timezone")
    lt = record.get("lead_time", "")
    if lt and not LEAD_TIME_RE.fullmatch(lt):
        problems.append(f"lead_time {lt!r} is not a non-negative number of seconds")
    return problems
