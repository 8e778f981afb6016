"""Label Studio JSON exports (a JSON array of tasks) → one judgment per (annotation, task); the rest is excluded
with a reason and counted, never dropped silently (G10).

Rules (Label Studio's own export shape: labelstud.io/guide/export, tags/*):

* item = ``data[input.columns.item]`` when the task data has it, else the task ``id`` as text; unit =
  ``data[input.columns.unit]`` or "". task = the result's ``from_name`` (a JSON string; it must be a spec task
  name, or ``<task>-no-step``, the second control the compiled config gives an attribution task).
* Annotations come from ``annotations`` and the legacy ``completions`` (each a JSON array, else LS406).
  ``predictions`` and ``drafts`` are never judgments: only their number is counted (``info``).
* annotator = ``completed_by`` as text when it is a number, or the object's ``email`` (a string; else its ``id``).
  timestamp = ``created_at``; lead_time = ``lead_time`` as written; ground_truth = "true" or "".
  ``was_cancelled`` and ``ground_truth`` are ``true``/``false`` (absent or null: false); anything else is LS404.
* ``was_cancelled`` → excluded "cancelled_annotation"; no result → "empty_annotation"; a ``from_name`` that is
  no spec task → "unknown_task"; a result whose value does not give the task's kind of value →
  "result_kind_mismatch", whose detail says what was expected. Each exclusion counts one record, like each
  judgment, so rows_read = rows + exclusions.
* Values by kind (``read_labelstudio_values``), for every control ``emit.labelstudio`` compiles, giving the value
  a CSV file holds: single_choice → the one choice (several or none → canonical JSON list, which the content
  check rejects); multi_choice → JSON list; a ``Taxonomy`` (labels with parents) selects paths from the root, and
  each path gives its last id; rating (``rating`` or ``number``) → the number as written, or the one choice of the
  ``Choices`` of a scale not starting at 1; spans → JSON list of [start, end, label] over every ``labels`` result,
  sorted; pairwise ``selected`` left/right → "A"/"B" (``Pairwise``, no ties), or the one choice A / B / tie
  (``Choices``, ties allowed); ranking ``ranker`` → JSON list of ids: the list itself, or the buckets
  concatenated in export order. The "_" bucket holds the items nobody placed (Label Studio's Ranker keeps the
  original List there when no Bucket is the default) and is never ranked: a result with only "_" is an empty
  ranking, which the content check rejects like any incomplete one. text ``text`` → the one string (several →
  JSON list). Results of one task in an annotation are merged.
* Step tasks labelled with ``ParagraphLabels`` (the compiled config): paragraph *i* (``start`` / ``end``,
  counted from 0) is the step numbered *i* + 1, so one annotation gives one judgment per labelled step, with that
  step as its unit; a region over paragraphs *a*..*b* labels each of them (at most ``MAX_REGION_STEPS``).
  Attribution → one judgment under the task's own unit: ``{"agent": label, "step": i + 1}`` per region label,
  ``{"agent": label, "step": null}`` per choice of ``<task>-no-step``; one answer is the value, several a list.
* ``line`` is the physical line where the annotation object starts (exports written on one line give 1:
  exclusions name the task and annotation ids, those the later content checks make too, through each row's
  ``origins``). A JSON string with an unpaired surrogate escape (``"\\ud800"``)
  in a field that is read is LS401 at that line.

Must not touch the filesystem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from labelspec.check.read_common import (
    FIELDS,
    ColumnMap,
    Exclusion,
    Parsed,
    TaskShape,
    UnwritableValue,
    Where,
    clip,
    finish_columns,
    input_error,
    json_shown,
    json_type,
    printable,
)
from labelspec.check.read_csv import check_bytes
from labelspec.check.read_labelstudio_values import (
    RESULT_TYPES,
    Mismatch,
    judgment_values,
    task_of,
)
from labelspec.errors import InputError
from labelspec.strictjson import JsonStrictError, strict_decoder

_WS = re.compile(r"[ \t\n\r]*")
_ANNOTATION_KEYS = frozenset({"annotations", "completions"})
_Located = tuple[int, Any]  # (character offset, decoded value)


class _Walker:
    """Walks the export's top two levels by hand so each annotation keeps its offset (json gives none)."""

    def __init__(self, text: str, path: str) -> None:
        self.text, self.path = text, path
        self.decoder = strict_decoder()
        self._pos, self._line = 0, 1

    def line(self, offset: int) -> int:
        """Line of ``offset``; offsets arrive in increasing order, so counting is incremental."""
        if offset < self._pos:
            self._pos, self._line = 0, 1
        self._line += self.text.count("\n", self._pos, offset)
        self._pos = offset
        return self._line

    def fail(self, code: str, offset: int, message: str) -> InputError:
        line = self.text.count("\n", 0, offset) + 1
        return input_error(code, self.path, line, message, column=offset - self.text.rfind("\n", 0, offset))

    def _ws(self, i: int) -> int:
        m = _WS.match(self.text, i)
        return m.end() if m else i

    def _value(self, i: int) -> tuple[Any, int]:
        try:
            return self.decoder.raw_decode(self.text, i)
        except json.JSONDecodeError as exc:
            raise input_error("LS402", self.path, exc.lineno, f"invalid JSON: {exc.msg}", column=exc.colno) from None
        except (JsonStrictError, RecursionError) as exc:
            raise self.fail("LS402", i, f"invalid JSON: {exc}") from None

    def _next(self, i: int, closer: str) -> tuple[bool, int]:
        """After a member: skip ``,`` (True) or the closing bracket (False)."""
        i = self._ws(i)
        c = self.text[i:i + 1]
        if c not in (",", closer):
            raise self.fail("LS402", i, f"invalid JSON: expecting ',' or '{closer}'")
        return c == ",", self._ws(i + 1)

    def tasks(self) -> Iterator[tuple[int, dict[str, Any], list[_Located]]]:
        """Yield (offset, task fields without annotation lists, located annotations) per task."""
        i = self._ws(0)
        if self.text[i:i + 1] != "[":
            value, _ = self._value(i)
            raise self.fail("LS406", i, f"expected a JSON array of tasks (Label Studio JSON export), found "
                                        f"{json_type(value)}")
        i = self._ws(i + 1)
        more = self.text[i:i + 1] != "]"
        i = i if more else self._ws(i + 1)
        while more:
            if self.text[i:i + 1] != "{":
                self._value(i)
                raise self.fail("LS406", i, "a task must be a JSON object")
            start = i
            task, anns, i = self._task(i)
            yield start, task, anns
            more, i = self._next(i, "]")
        if i != len(self.text):
            raise self.fail("LS402", i, "invalid JSON: extra data after the array")

    def _task(self, i: int) -> tuple[dict[str, Any], list[_Located], int]:
        fields: dict[str, Any] = {}
        anns: list[_Located] = []
        i = self._ws(i + 1)
        more = self.text[i:i + 1] != "}"
        i = i if more else i + 1
        while more:
            if self.text[i:i + 1] != '"':
                raise self.fail("LS402", i, "invalid JSON: expecting a property name in double quotes")
            key_at = i
            key, i = self._value(i)
            if key in fields:
                raise self.fail("LS402", key_at, f"invalid JSON: duplicate key {key!r}")
            i = self._ws(i)
            if self.text[i:i + 1] != ":":
                raise self.fail("LS402", i, "invalid JSON: expecting ':'")
            i = self._ws(i + 1)
            if key in _ANNOTATION_KEYS:
                if self.text[i:i + 1] != "[":
                    value, _ = self._value(i)
                    raise self.fail("LS406", i, f"task {key!r} must be a JSON array of annotations; found "
                                                f"{json_shown(value)}")
                fields[key], i = self._array(i, anns)
            else:
                fields[key], i = self._value(i)
            more, i = self._next(i, "}")
        return fields, anns, i

    def _array(self, i: int, located: list[_Located]) -> tuple[list[Any], int]:
        out: list[Any] = []
        i = self._ws(i + 1)
        more = self.text[i:i + 1] != "]"
        i = i if more else i + 1
        while more:
            value, end = self._value(i)
            out.append(value)
            located.append((i, value))
            more, i = self._next(end, "]")
        return out, i


class _Collector:
    """Accumulates rows (one list per field), their lines, exclusions and info counts."""

    def __init__(self) -> None:
        self.out: dict[str, list[str]] = {f: [] for f in (*FIELDS, "ground_truth")}
        self.lines: list[int] = []
        self.origins: list[str] = []
        self.exclusions: list[Exclusion] = []
        self.info = {"tasks": 0, "predictions": 0, "drafts": 0}

    def row(self, line: int, origin: str, **values: str) -> None:
        for f, v in values.items():
            self.out[f].append(v)
        self.lines.append(line)
        self.origins.append(origin)

    def exclude(self, line: int, reason: str, detail: str) -> None:
        self.exclusions.append(Exclusion(line, reason, printable(clip(detail))))  # ids may hold lone surrogates


def parse_labelstudio(data: bytes, path: str, columns: ColumnMap, tasks: Sequence[TaskShape]) -> Parsed:
    """Read one Label Studio JSON export; structural problems raise InputError LS401/LS402/LS404/LS406."""
    check_bytes(data, path)
    walker = _Walker(data.decode("utf-8-sig"), path)
    shapes = {t.name: t for t in tasks}
    acc = _Collector()
    annotated = False
    for offset, task, anns in walker.tasks():
        line = walker.line(offset)
        acc.info["tasks"] += 1
        annotated = annotated or bool(_ANNOTATION_KEYS.intersection(task))
        for key in ("predictions", "drafts"):  # counted, never read; a shape that cannot be counted is an error
            found = task.get(key)
            if found is not None and not isinstance(found, list):
                raise input_error("LS406", path, line, f"task '{key}' must be a JSON array; found "
                                                       f"{json_shown(found)}")
            acc.info[key] += len(found or ())
        data_obj = task.get("data", {})
        if not isinstance(data_obj, dict):
            raise input_error("LS406", path, line, "task 'data' must be a JSON object")
        if columns.item not in data_obj and task.get("id") is None:
            raise input_error("LS406", path, line, f"task has neither data.{columns.item} nor an id")
        item = _text(data_obj.get(columns.item, task.get("id")), f"data.{columns.item} or id", path, line)
        unit = _text(data_obj.get(columns.unit), f"data.{columns.unit}", path, line)
        for ann_offset, ann in anns:
            _annotation(acc, walker.line(ann_offset), ann, (item, unit, task.get("id")), shapes, path)
    if acc.info["tasks"] and not annotated:
        raise input_error("LS406", path, 0, "no task has 'annotations': not a Label Studio JSON export "
                                            "(JSON-MIN and CSV exports are not supported; export as JSON)")
    names = {"item": f"data.{columns.item} (or the task id)", "unit": f"data.{columns.unit}", "task": "from_name",
             "annotator": "completed_by", "value": "the result value", "timestamp": "created_at"}
    where = Where(path, np.array(acc.lines, dtype=np.int64), names)
    cols = finish_columns(acc.out, tasks, where)
    origins = np.array([printable(o) for o in acc.origins], dtype=object)
    return Parsed(cols, where.lines, tuple(acc.exclusions), acc.info, format="labelstudio", origins=origins)


def _text(value: Any, what: str, path: str, line: int) -> str:
    if value is None:
        return ""
    if isinstance(value, str):  # JsonNumber too: its exact text
        return str(value)
    raise input_error("LS404", path, line, f"{what} must be a string or a number; found {json_shown(value)}")


def _id_text(value: Any) -> str:
    """A task or annotation id for an exclusion's detail: as written, or (not a string or number) shown briefly,
    so that an id of any size or depth costs no more than its first characters."""
    return str(value) if value is None or isinstance(value, str) else json_shown(value)


def _annotator(value: Any, path: str, line: int) -> str:
    if isinstance(value, dict):
        email = value.get("email")
        if email is not None and type(email) is not str:  # a JsonNumber is a str subclass: "5" is no address
            raise input_error("LS404", path, line, f"completed_by.email must be a string; found {json_shown(email)}")
        return email if email else _text(value.get("id"), "completed_by.id", path, line)
    return _text(value, "completed_by", path, line)


def _flag(ann: dict[str, Any], key: str, path: str, line: int) -> bool:
    """A boolean annotation field; absent or null is false. ``"true"`` is not guessed at: it is an error."""
    value = ann.get(key)
    if value is None or isinstance(value, bool):
        return value is True
    raise input_error("LS404", path, line, f"{key!r} must be true or false; found {json_shown(value)}")


def _annotation(acc: _Collector, line: int, ann: Any, task: tuple[str, str, Any], shapes: dict[str, TaskShape],
                path: str) -> None:
    if not isinstance(ann, dict):
        raise input_error("LS406", path, line, "an annotation must be a JSON object")
    item, unit, task_id = task
    where = f"task {_id_text(task_id)}, annotation {_id_text(ann.get('id'))}"
    result = ann.get("result")
    cancelled, ground_truth = _flag(ann, "was_cancelled", path, line), _flag(ann, "ground_truth", path, line)
    if cancelled:
        acc.exclude(line, "cancelled_annotation", where)
        return
    if result is None or result == []:
        acc.exclude(line, "empty_annotation", where)
        return
    groups = _groups(result, where, path, line, shapes)
    common = {
        "item": item, "unit": unit, "annotator": _annotator(ann.get("completed_by"), path, line),
        "timestamp": _text(ann.get("created_at"), "created_at", path, line),
        "lead_time": _text(ann.get("lead_time"), "lead_time", path, line),
        "ground_truth": "true" if ground_truth else "",
    }
    for name, results in groups.items():
        shape = shapes.get(name)
        if shape is None:
            acc.exclude(line, "unknown_task", f"from_name {name!r} ({where})")
            continue
        try:
            values = judgment_values(shape, results, unit)
        except Mismatch as why:
            acc.exclude(line, "result_kind_mismatch", _mismatch(name, shape, results, why, where))
            continue
        except UnwritableValue as exc:  # e.g. choices [1e999]: a value no label file could hold
            acc.exclude(line, "result_kind_mismatch", f"{name!r}: the value {exc} ({where})")
            continue
        for step, value in values:
            acc.row(line, where, task=name, value=value, **{**common, "unit": step})


def _groups(result: Any, where: str, path: str, line: int, shapes: dict[str, TaskShape]
            ) -> dict[str, list[dict[str, Any]]]:
    """The annotation's results by task (``from_name``, or the attribution task of a ``<task>-no-step``
    control): results of one task in one annotation are merged."""
    if not isinstance(result, list):
        raise input_error("LS406", path, line, f"annotation 'result' must be a JSON array ({where})")
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in result:
        if not (isinstance(r, dict) and r.get("from_name") is not None and isinstance(r.get("value"), dict)):
            raise input_error("LS406", path, line, f"each result needs a string 'from_name' and an object 'value' "
                                                   f"({where})")
        if type(r["from_name"]) is not str:  # a JsonNumber is a str subclass: 5 is not the name "5"
            raise input_error("LS404", path, line, f"result 'from_name' must be a string; found "
                                                   f"{json_shown(r['from_name'])} ({where})")
        groups.setdefault(task_of(r["from_name"], shapes), []).append(r)
    return groups


def _mismatch(name: str, shape: TaskShape, results: list[dict[str, Any]], why: Mismatch, where: str) -> str:
    """The exclusion detail. A result of a type that never gives the task's kind (``choices`` for a rating task)
    explains itself; otherwise the detail also says what the value lacked or held instead."""
    fits = {*RESULT_TYPES.get(shape.kind, ())}
    if shape.per_step:
        fits.add("paragraphlabels")
    odd = any(isinstance(r.get("type"), str) and r["type"] not in fits for r in results)
    types = ", ".join(sorted({str(r.get("type")) for r in results}))
    return f"{name!r} is {shape.kind}, result type {types}{'' if odd else f': {why}'} ({where})"
