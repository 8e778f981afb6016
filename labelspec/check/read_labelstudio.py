"""Label Studio JSON exports (a JSON array of tasks) → one judgment per (annotation, task); the rest is excluded
with a reason and counted, never dropped silently (G10).

Rules (Label Studio's own export shape: labelstud.io/guide/export, tags/*):

* item = ``data[input.columns.item]`` when the task data has it, else the task ``id`` as text; unit =
  ``data[input.columns.unit]`` or "". task = the result's ``from_name`` (it must be a spec task name).
* Annotations come from ``annotations`` and the legacy ``completions``. ``predictions`` and ``drafts`` are never
  judgments: only their number is reported (``info``).
* annotator = ``completed_by`` as text when it is a number, or the object's ``email`` (else its ``id``).
  timestamp = ``created_at``; lead_time = ``lead_time`` as written; ground_truth = "true" or "".
* ``was_cancelled`` → excluded "cancelled_annotation"; no result → "empty_annotation"; a ``from_name`` that is
  no spec task → "unknown_task"; a result whose value has no field for the task's kind → "result_kind_mismatch".
  Each exclusion counts one record, like each judgment, so rows_read = rows + exclusions.
* Values by kind: single_choice → the one choice (several or none → canonical JSON list, which the content
  check rejects); multi_choice → JSON list; rating (``rating`` or ``number``) → the number as written; spans →
  JSON list of [start, end, label] over every ``labels`` result, sorted; pairwise ``selected`` left/right →
  "A"/"B" (Label Studio removes the result when nothing is selected, so it has no tie); ranking ``ranker`` →
  JSON list of ids: the list itself, the only bucket, or the buckets concatenated in export order without the
  unranked "_" bucket; text ``text`` → the one string (several → JSON list). Results of one ``from_name`` in an
  annotation are merged.
* Step tasks and attribution labelled with ``ParagraphLabels`` (the compiled config): paragraph *i* (``start`` /
  ``end``, counted from 0) is the step numbered *i* + 1, so one annotation gives one judgment per labelled step,
  with that step as its unit; a region over paragraphs *a*..*b* labels each of them (at most
  :data:`MAX_REGION_STEPS`). Attribution → ``{"agent": label, "step": i + 1}`` under the task's own unit.
* ``line`` is the physical line where the annotation object starts (exports written on one line give 1:
  exclusions name the task and annotation ids).

Must not touch the filesystem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from labelspec.check.read_common import (
    FIELDS,
    ColumnMap,
    Exclusion,
    Parsed,
    TaskShape,
    canonical_json,
    finish_columns,
    input_error,
)
from labelspec.check.read_csv import check_bytes
from labelspec.errors import InputError
from labelspec.strictjson import JsonNumber, JsonStrictError, plain, strict_decoder

_WS = re.compile(r"[ \t\n\r]*")
_ANNOTATION_KEYS = frozenset({"annotations", "completions"})
MAX_REGION_STEPS = 10_000  # a ParagraphLabels region over more paragraphs than this is not a step selection
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
                                        f"{type(value).__name__}")
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
            if key in _ANNOTATION_KEYS and self.text[i:i + 1] == "[":
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
        self.exclusions: list[Exclusion] = []
        self.info = {"tasks": 0, "predictions": 0, "drafts": 0}

    def row(self, line: int, **values: str) -> None:
        for f, v in values.items():
            self.out[f].append(v)
        self.lines.append(line)

    def exclude(self, line: int, reason: str, detail: str) -> None:
        self.exclusions.append(Exclusion(line, reason, detail))


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
        for key in ("predictions", "drafts"):
            acc.info[key] += len(task[key]) if isinstance(task.get(key), list) else 0
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
    found = {f: acc.out[f] for f in acc.out}
    cols = finish_columns(found, len(acc.lines), tasks)
    return Parsed(cols, np.array(acc.lines, dtype=np.int64), tuple(acc.exclusions), acc.info, format="labelstudio")


def _text(value: Any, what: str, path: str, line: int) -> str:
    if value is None:
        return ""
    if isinstance(value, str):  # JsonNumber too: its exact text
        return str(value)
    raise input_error("LS404", path, line, f"{what} must be a string or a number; found {canonical_json(value)[:60]}")


def _annotator(value: Any, path: str, line: int) -> str:
    if isinstance(value, dict):
        email = value.get("email")
        return email if isinstance(email, str) and email else _text(value.get("id"), "completed_by.id", path, line)
    return _text(value, "completed_by", path, line)


def _annotation(acc: _Collector, line: int, ann: Any, task: tuple[str, str, Any], shapes: dict[str, TaskShape],
                path: str) -> None:
    if not isinstance(ann, dict):
        raise input_error("LS406", path, line, "an annotation must be a JSON object")
    item, unit, task_id = task
    where = f"task {task_id}, annotation {ann.get('id')}"
    result = ann.get("result")
    if ann.get("was_cancelled") is True:
        acc.exclude(line, "cancelled_annotation", where)
        return
    if result is None or result == []:
        acc.exclude(line, "empty_annotation", where)
        return
    if not isinstance(result, list):
        raise input_error("LS406", path, line, f"annotation 'result' must be a JSON array ({where})")
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in result:
        if not (isinstance(r, dict) and isinstance(r.get("from_name"), str) and isinstance(r.get("value"), dict)):
            raise input_error("LS406", path, line, f"each result needs a string 'from_name' and an object 'value' "
                                                   f"({where})")
        groups.setdefault(r["from_name"], []).append(r)
    common = {
        "item": item, "unit": unit, "annotator": _annotator(ann.get("completed_by"), path, line),
        "timestamp": _text(ann.get("created_at"), "created_at", path, line),
        "lead_time": _text(ann.get("lead_time"), "lead_time", path, line),
        "ground_truth": "true" if ann.get("ground_truth") is True else "",
    }
    for name, results in groups.items():
        shape = shapes.get(name)
        if shape is None:
            acc.exclude(line, "unknown_task", f"from_name {name!r} ({where})")
            continue
        paragraphs = (shape.per_step or shape.kind == "attribution") and all(
            "paragraphlabels" in r["value"] for r in results)
        values = _paragraph_values(shape, results, unit) if paragraphs else _unit_value(shape, results, unit)
        if values is None:
            kinds = sorted({str(r.get("type")) for r in results})
            acc.exclude(line, "result_kind_mismatch",
                        f"{name!r} is {shape.kind}, result type {', '.join(kinds)} ({where})")
            continue
        for step, value in values:
            acc.row(line, task=name, value=value, **{**common, "unit": step})


# --- values by task kind -----------------------------------------------------------------------------------


def _choices(v: dict[str, Any]) -> list[Any] | None:
    return v["choices"] if isinstance(v.get("choices"), list) else None


def _rating(v: dict[str, Any]) -> list[Any] | None:
    got = v.get("rating", v.get("number"))
    return [got] if isinstance(got, str) else None  # JsonNumber is a str


def _spans(v: dict[str, Any]) -> list[Any] | None:
    start, end, labels = v.get("start"), v.get("end"), v.get("labels")
    if not (isinstance(start, JsonNumber) and isinstance(end, JsonNumber) and isinstance(labels, list)):
        return None
    return [[start, end, label] for label in labels]


def _pairwise(v: dict[str, Any]) -> list[Any] | None:
    side = {"left": "A", "right": "B"}.get(v.get("selected"))  # type: ignore[arg-type]
    return [side] if side else None


def _ranking(v: dict[str, Any]) -> list[Any] | None:
    ranker = v.get("ranker")
    if isinstance(ranker, dict):
        buckets = list(ranker.values()) if len(ranker) == 1 else [b for k, b in ranker.items() if k != "_"]
        if all(isinstance(b, list) for b in buckets):
            return [i for b in buckets for i in b]
        return None
    return ranker if isinstance(ranker, list) else None


def _textarea(v: dict[str, Any]) -> list[Any] | None:
    got = v.get("text")
    return [got] if isinstance(got, str) else (got if isinstance(got, list) else None)


_EXTRACT: dict[str, Callable[[dict[str, Any]], list[Any] | None]] = {
    "single_choice": _choices, "multi_choice": _choices, "rating": _rating, "spans": _spans,
    "pairwise": _pairwise, "ranking": _ranking, "text": _textarea,
}


def _unit_value(shape: TaskShape, results: list[dict[str, Any]], unit: str) -> list[tuple[str, str]] | None:
    value = _value(shape, results)
    return None if value is None else [(unit, value)]


def _paragraph(index: Any) -> int | None:
    """A ParagraphLabels ``start``/``end``: a paragraph index, written as a string (or a number)."""
    text = str(index) if isinstance(index, str) else ""  # JsonNumber is a str
    return int(text) if text.isascii() and text.isdigit() else None


def _paragraph_values(shape: TaskShape, results: list[dict[str, Any]], unit: str) -> list[tuple[str, str]] | None:
    """ParagraphLabels regions → (unit, value) per step: paragraph *i* is step ``str(i + 1)``.

    A region over paragraphs *a*..*b* labels each of those steps. For a step task, the labels a step received form
    its value (one label → the id; several → a JSON list, which the content check judges). For attribution, the
    value is ``{"agent": label, "step": i + 1}`` under the task's own unit; several make a JSON list (rejected).
    """
    by_step: dict[int, list[str]] = {}
    for r in results:
        start, end = _paragraph(r["value"].get("start")), _paragraph(r["value"].get("end"))
        labels = r["value"].get("paragraphlabels")
        if start is None or end is None or not 0 <= end - start < MAX_REGION_STEPS:
            return None
        if not isinstance(labels, list) or not all(isinstance(lab, str) for lab in labels):
            return None
        for index in range(start, end + 1):
            by_step.setdefault(index, []).extend(labels)
    if shape.kind == "attribution":
        found = [{"agent": lab, "step": i + 1} for i in sorted(by_step) for lab in by_step[i]]
        return [(unit, canonical_json(found[0] if len(found) == 1 else found))]
    return [(str(i + 1), labels[0] if len(labels) == 1 and not shape.list_valued else canonical_json(labels))
            for i, labels in sorted(by_step.items())]


def _span_key(span: list[Any]) -> tuple[float, float, str]:
    start, end, label = plain(span)
    return (float(start), float(end), str(label))


def _value(shape: TaskShape, results: list[dict[str, Any]]) -> str | None:
    """The canonical value of one task in one annotation, or None when a result has no field for its kind."""
    extract = _EXTRACT.get(shape.kind)
    parts: list[Any] = []
    for r in results:
        got = extract(r["value"]) if extract else None
        if got is None:
            return None
        parts.extend(got)
    if shape.kind == "spans":
        parts.sort(key=_span_key)
    if not shape.list_valued and len(parts) == 1 and isinstance(parts[0], str):
        return str(parts[0])
    return canonical_json(parts)
