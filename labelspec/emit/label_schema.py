"""Spec → ``label.schema.json``: JSON Schema 2020-12 for one submitted judgment record (one JSONL line).

The record contract is ``spec.records`` (one definition of validity) over the fields as ``check`` reads them from a
JSONL line (``check/read_jsonl.py``); this module states both as JSON Schema over the *submitted* form of a record.
Keys are the spec's column names; null is an absent field; ids may be integers, lead_time a number, a rating an
integer; list values (multi_choice, spans, ranking) are a JSON array or a string holding one, attribution a JSON
object or a string holding one (``contentSchema`` states that string's content). Label ids appear only as exact
``enum``/``const`` values, never inside a regular expression. Patterns use only syntax that means the same in Python
and ECMA-262 (``[0-9]`` not ``\\d``; ``(?![\\s\\S])`` for end of input, since Python's ``$`` also matches before a
final newline).

What JSON Schema cannot state is written in ``description``/``$comment`` and checked by the generated validator and
``check``: span order (start < end) and overlap (it cannot compare two numbers of one instance); numbers as written
(it compares values, so ``2.0`` passes as the integer 2); the content of a JSON string when the validator treats
``contentSchema`` as an annotation (2020-12's default); unpaired surrogate escapes. The schema is built as a dict and
serialised by ``json.dumps``; it is never templated. Pure: no I/O.
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
JSON_TEXT_COMMENT = ("The value's JSON text in a string. contentSchema is an annotation unless a validator asserts "
                     "content; without that only the opening bracket is checked here. validate_<project>.py and "
                     "labelspec check decode the string and check its content.")
DESCRIPTION = (
    "One line of a JSONL label file. Keys are the spec's column names; other keys are allowed and ignored; null is the "
    "same as an absent key. Ids (item, unit, annotator) are strings or integers, lead_time a string or a number, a "
    "rating a string or an integer, a multi_choice, spans or ranking value a JSON array or a string holding one, an "
    "attribution a JSON object or a string holding one, every other field a string. labelspec reads numbers as "
    "written and JSON Schema compares values, so where an integer is expected 2.0 or 2e0 pass here but not "
    "validate_<project>.py or labelspec check, nor do -0 or 1e3 as a lead time. Span order and overlap and unpaired "
    "surrogate escapes (\\ud800) are also left to them."
)
#: Where an id may be written as a JSON integer (``check`` keeps ``12`` as "12"; booleans are never accepted).
_ID_TYPES = ["integer", "string"]


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


def _json_text(schema: JSON, opener: str) -> JSON:
    """A string holding the JSON text of a value of ``schema`` (``check`` decodes it; leading JSON space allowed)."""
    return {"type": "string", "pattern": f"^[ \\t\\n\\r]*\\{opener}", "contentMediaType": "application/json",
            "contentSchema": schema, "$comment": JSON_TEXT_COMMENT}


def structured_schema(task: Task) -> JSON | None:
    """The JSON array or object a list or attribution value holds (None for the other kinds)."""
    ids = task.label_ids
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
    return None


def value_schema(task: Task) -> JSON | bool:
    """The submitted value of one judgment for ``task``; a list or attribution value refers to its
    :func:`structured_schema` in ``$defs`` (named by the task), as itself or as a string holding its JSON text."""
    ids = task.label_ids
    if task.kind in ("single_choice", "pairwise"):
        return _enum(ids)
    if task.kind == "rating":  # "4" or 4 (scale points are integers, so their ids are integer text)
        return {"anyOf": [_enum(ids), {"type": "integer", "enum": [int(i) for i in ids]}]} if ids else False
    if structured_schema(task) is not None:
        ref = {"$ref": f"#/$defs/{task.name}"}  # task names are [a-z][a-z0-9_]*: nothing to escape in a pointer
        return {"anyOf": [ref, _json_text(ref, "{" if task.kind == "attribution" else "[")]}
    return {"type": "string", "minLength": 1, "maxLength": task.max_length or MAX_TEXT_LENGTH}


def _value_types(task: Task) -> set[str]:
    if task.kind == "rating":
        return {"integer", "string"}
    if task.is_list:
        return {"array", "string"}
    return {"object", "string"} if task.kind == "attribution" else {"string"}


def columns(spec: Spec) -> dict[str, str]:
    """Canonical field → the spec's column name; distinct names are required (two fields cannot share a key)."""
    cols = {f: getattr(spec.columns, f) for f in FIELDS}
    if len(set(cols.values())) != len(cols):
        raise OutputError(Diagnostic("LS601", "input.columns maps two fields to the same column name",
                                     loc=spec.quality.loc, pointer="input.columns"))
    return cols


def _task_rules(task: Task, cols: dict[str, str]) -> JSON:
    unit: JSON = {"type": _ID_TYPES, "minLength": 1} if task.unit == "step" else {"enum": ["", None]}
    rules: JSON = {"properties": {cols["value"]: value_schema(task), cols["unit"]: unit}}
    if task.unit == "step":
        rules["required"] = [cols["unit"]]
    return rules


def _properties(spec: Spec, cols: dict[str, str], required: tuple[str, ...]) -> dict[str, JSON | bool]:
    """Each field on its own: a required field is a non-empty string (or number), an optional one may be null."""

    def field(name: str, types: list[str], pattern: str | None = None) -> JSON:
        allowed = types if name in required else [*types, "null"]
        schema: JSON = {"type": allowed[0] if len(allowed) == 1 else allowed}
        if name in required:
            schema["minLength"] = 1  # a string only: an empty string is an absent field
        if pattern is not None:  # an optional field may be empty: it then counts as absent
            schema["pattern"] = f"^(?:{pattern}){'' if name in required else '?'}{_END}"
        return schema

    props: dict[str, JSON | bool] = {cols[f]: field(f, _ID_TYPES) for f in ("item", "unit", "annotator")}
    if len(spec.tasks) > 1:
        props[cols["task"]] = {"type": "string", "enum": list(spec.task_names)}
    else:  # the only task may go unnamed
        props[cols["task"]] = {"enum": ["", None, *spec.task_names]}
    props[cols["timestamp"]] = field("timestamp", ["string"], TIMESTAMP)
    props[cols["lead_time"]] = {**field("lead_time", ["number", "string"], LEAD_TIME), "minimum": 0}
    value_types: set[str] = set().union(*(_value_types(t) for t in spec.tasks))
    props[cols["value"]] = {"type": sorted(value_types), "minLength": 1}
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
    schema: JSON = {
        "$schema": DRAFT,
        "$comment": header_text(spec),
        "title": f"One judgment record of labelspec project {spec.project.id} {spec.project.version}",
        "description": DESCRIPTION,
        "type": "object",
        "required": [cols[f] for f in required],
        "properties": _properties(spec, cols, required),
        "allOf": per_task,
    }
    defs = {t.name: d for t in spec.tasks if (d := structured_schema(t)) is not None}
    if defs:
        schema["$defs"] = defs
    return schema
