"""Spec → ``label.schema.json``: JSON Schema 2020-12 for one submitted judgment record (one JSONL line).

The record contract is ``spec.records`` (one definition of validity); this module states it as JSON Schema over the
*submitted* form of a record: keys are the spec's column names, every field is a string except the value of list
kinds (multi_choice, spans, ranking) and attribution, which is the JSON array or object itself. Label ids appear
only as exact ``enum``/``const`` strings, never inside a regular expression. Patterns use only syntax that means the
same in Python and ECMA-262 (``[0-9]`` not ``\\d``; ``(?![\\s\\S])`` for end of input, since Python's ``$`` also
matches before a final newline). JSON Schema cannot compare two numbers of one instance, so span order
(start < end) and overlap are stated in ``$comment`` and checked by the generated validator and ``check``.
The schema is built as a dict and serialised by ``json.dumps``; it is never templated. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from labelspec.emit.header import header_text
from labelspec.errors import Diagnostic, OutputError
from labelspec.spec.model import Spec, Task
from labelspec.spec.records import FIELDS, MAX_TEXT_LENGTH, required_fields

JSON = dict[str, Any]
DRAFT = "https://json-schema.org/draft/2020-12/schema"
_END = r"(?![\s\S])"
_YEAR = "(?!0000)[0-9]{4}"
_LEAP = "(?!0000)(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
_DATE = (f"(?:{_YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
         f"|02-(?:0[1-9]|1[0-9]|2[0-8]))|{_LEAP}-02-29)")
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
# Offsets up to ±23:59 in total (Python accepts minute fields up to 99, carried into hours).
_ZONE = "(?:Z|[+-](?:(?:[01][0-9]|2[0-2]):[0-9]{2}|23:[0-5][0-9]))"
#: ISO 8601 date-time with a timezone and a real calendar date: the strings ``records.valid_timestamp`` accepts.
TIMESTAMP = f"{_DATE}[T ]{_TIME}{_ZONE}"
#: A non-negative decimal number of seconds (ASCII digits only).
LEAD_TIME = r"[0-9]+(?:\.[0-9]+)?"
SPANS_COMMENT = ("Each span is [start, end, label] with 0 <= start < end; unless the task allows nesting, spans must "
                 "not overlap. JSON Schema cannot compare two offsets: validate_<project>.py and labelspec check do.")


def _enum(ids: tuple[str, ...]) -> JSON | bool:
    """Exactly these strings; ``False`` (nothing is valid) when there are none."""
    return {"type": "string", "enum": list(ids)} if ids else False


def _array(items: JSON | bool, *, lo: int | None = None, hi: int | None = None) -> JSON:
    schema: JSON = {"type": "array", "items": items, "uniqueItems": True}
    if lo:
        schema["minItems"] = lo
    if hi is not None:
        schema["maxItems"] = hi
    return schema


def value_schema(task: Task) -> JSON | bool:
    """The submitted value of one judgment for ``task``."""
    ids = task.label_ids
    if task.kind in ("single_choice", "pairwise", "rating"):
        return _enum(ids)
    if task.kind == "multi_choice":
        return _array(_enum(ids), lo=task.min_choices, hi=task.max_choices)
    if task.kind == "ranking":
        return _array(_enum(ids), lo=len(ids), hi=len(ids))
    if task.kind == "spans":
        span = {"type": "array", "prefixItems": [{"type": "integer", "minimum": 0}, {"type": "integer", "minimum": 1},
                                                 _enum(ids)],
                "items": False, "minItems": 3}
        return {"type": "array", "items": span, "$comment": SPANS_COMMENT}
    if task.kind == "attribution":
        step = {"anyOf": [{"type": "null"}, {"type": "integer", "minimum": 0}]}
        return {"type": "object", "required": ["agent", "step"], "additionalProperties": False,
                "properties": {"agent": _enum(ids), "step": step}}
    return {"type": "string", "minLength": 1, "maxLength": task.max_length or MAX_TEXT_LENGTH}


def columns(spec: Spec) -> dict[str, str]:
    """Canonical field → the spec's column name; distinct names are required (two fields cannot share a key)."""
    cols = {f: getattr(spec.columns, f) for f in FIELDS}
    if len(set(cols.values())) != len(cols):
        raise OutputError(Diagnostic("LS601", "input.columns maps two fields to the same column name",
                                     loc=spec.quality.loc, pointer="input.columns"))
    return cols


def _task_rules(task: Task, cols: dict[str, str]) -> JSON:
    unit: JSON = {"minLength": 1} if task.unit == "step" else {"const": ""}
    rules: JSON = {"properties": {cols["value"]: value_schema(task), cols["unit"]: unit}}
    if task.unit == "step":
        rules["required"] = [cols["unit"]]
    return rules


def _properties(spec: Spec, cols: dict[str, str], required: tuple[str, ...]) -> dict[str, JSON | bool]:
    def text(field: str, pattern: str | None = None) -> JSON:
        schema: JSON = {"type": "string"}
        if field in required:
            schema["minLength"] = 1
        if pattern is not None:  # an optional field may be empty: it then counts as absent
            schema["pattern"] = f"^(?:{pattern}){'' if field in required else '?'}{_END}"
        return schema

    task_names = spec.task_names if len(spec.tasks) > 1 else ("", *spec.task_names)
    props: dict[str, JSON | bool] = {cols[f]: text(f) for f in ("item", "unit", "annotator")}
    props[cols["task"]] = {"type": "string", "enum": list(task_names)}
    props[cols["timestamp"]] = text("timestamp", TIMESTAMP)
    props[cols["lead_time"]] = text("lead_time", LEAD_TIME)
    scalar = all(not t.is_list and t.kind != "attribution" for t in spec.tasks)
    props[cols["value"]] = {"type": "string"} if scalar else True
    return props


def label_schema(spec: Spec) -> JSON:
    """The JSON Schema of one submitted judgment record, as a dict (keys are sorted when written)."""
    cols = columns(spec)
    required = required_fields(spec)
    if len(spec.tasks) == 1:
        per_task: list[JSON] = [_task_rules(spec.tasks[0], cols)]
    else:
        per_task = [{"if": {"properties": {cols["task"]: {"const": t.name}}, "required": [cols["task"]]},
                     "then": _task_rules(t, cols)} for t in spec.tasks]
    return {
        "$schema": DRAFT,
        "$comment": header_text(spec),
        "title": f"One judgment record of labelspec project {spec.project.id} {spec.project.version}",
        "description": "One line of a JSONL label file. Keys are the spec's column names; other keys are "
                       "allowed and ignored. Every field is a string, except the value of multi_choice, spans and "
                       "ranking tasks (a JSON array) and of attribution tasks (a JSON object).",
        "type": "object",
        "required": [cols[f] for f in required],
        "properties": _properties(spec, cols, required),
        "allOf": per_task,
    }
