"""Label Studio JSON exports (a JSON array of tasks) → one judgment per (annotation, task); the rest is excluded
with a reason and counted, never dropped silently (G10).

Rules (Label Studio's own export shape: labelstud.io/guide/export, tags/*):

* item = the first the task data has of ``data[input.columns.item]`` and ``data[items.id]`` (a project that
  imports its items file), else the task ``id`` as text: then, when the spec has an items file, each row's origin
  says so (an ``unknown_item`` detail shows why). unit = ``data[input.columns.unit]`` or "". task = the result's
  ``from_name`` (a JSON string; it must be a spec task name, or ``<task>-no-step``, the second control the
  compiled config gives an attribution task). Relation results (``"type": "relation"``, no ``from_name``) are no
  judgment: only their number is counted (``info["relations"]``), and so is a Ranker result over an empty list
  (``info["empty_rankings"]``); an annotation holding nothing else is empty.
* Annotations come from ``annotations`` and the legacy ``completions`` (each a JSON array, else LS406).
  ``predictions`` and ``drafts`` are never judgments: only their number is counted (``info``).
* annotator = ``completed_by`` as text when it is a number, or the object's ``email`` (a string; else its ``id``).
  With a roster (``roster``: its ids), an object whose email the roster lacks but whose ``id`` it has gives the
  id: the standard JSON export writes the bare id, so one user is one annotator in both shapes.
  timestamp = ``created_at``; ground_truth = "true" or "". lead_time = ``lead_time`` (the whole annotation's
  seconds) shared equally among the records the annotation yields (its judgments and its results excluded here,
  as ``rows_read`` counts them: all took the time), rounded to the millisecond, ties to even, without trailing
  zeros (``21.337`` over 14 → ``1.524``). One record, or a lead time that is no plain decimal (the record check
  excludes it as ``bad_lead_time``), keeps the text as written.
  ``was_cancelled`` and ``ground_truth`` are ``true``/``false`` (absent or null: false); anything else is LS404.
* ``was_cancelled`` → excluded "cancelled_annotation"; no result → "empty_annotation"; a ``from_name`` that is
  no spec task → "unknown_task"; a result whose value does not give the task's kind of value →
  "result_kind_mismatch", whose detail says what was expected. Each exclusion counts one record, like each
  judgment, so rows_read = rows + exclusions.
* Values by kind: see ``read_labelstudio_values``. Results of one task in an annotation are merged.
* Step tasks labelled with ``ParagraphLabels`` (the compiled config): paragraph *i* (``start`` / ``end``,
  counted from 0) is the step numbered *i* + 1, so one annotation gives one judgment per labelled step, with that
  step as its unit; a region over paragraphs *a*..*b* labels each of them (at most ``MAX_REGION_STEPS``).
  Attribution → one judgment under the task's own unit: ``{"agent": label, "step": i + 1}`` per region label,
  ``{"agent": label, "step": null}`` per choice of ``<task>-no-step``; one answer is the value, several a list.
* ``line`` is the physical line where the annotation object starts (exports written on one line give 1:
  exclusions name the task and annotation ids, those the later content checks make too, through each row's
  ``origins``). A field of the wrong shape is LS404/LS406 at the line:column where its task or annotation starts,
  naming the task and annotation ids; a duplicate key or NaN is LS402 at its own line:column. A JSON string with
  an unpaired surrogate escape (``"\\ud800"``) in a field that is read is LS401 at that line.

Must not touch the filesystem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
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
from labelspec.check.read_labelstudio_values import Mismatch, judgment_values, mismatch_detail, task_of
from labelspec.errors import InputError
from labelspec.spec.locate import did_you_mean
from labelspec.spec.records import LEAD_TIME_RE
from labelspec.strictjson import JsonStrictError, strict_decoder

__all__ = ["NOT_JUDGMENTS", "parse_labelstudio"]

#: What ``info`` counts that is never a judgment, for the report's ``not_judgments``.
NOT_JUDGMENTS: tuple[str, ...] = ("predictions", "drafts", "relations", "empty_rankings")
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

    def fail(self, code: str, offset: int, message: str, hint: str | None = None) -> InputError:
        line = self.text.count("\n", 0, offset) + 1
        return input_error(code, self.path, line, message, column=offset - self.text.rfind("\n", 0, offset),
                           hint=hint)

    def _ws(self, i: int) -> int:
        m = _WS.match(self.text, i)
        return m.end() if m else i

    def _value(self, i: int) -> tuple[Any, int]:
        try:
            return self.decoder.raw_decode(self.text, i)
        except json.JSONDecodeError as exc:
            said = exc.msg + (f" line {exc.lineno} column {exc.colno}" if exc.msg.endswith(" at") else "")  # completed
            raise input_error("LS402", self.path, exc.lineno, f"invalid JSON: {said}", column=exc.colno) from None
        except JsonStrictError as exc:
            at, why = self._strict_at(i) or (i, str(exc))
            raise self.fail("LS402", at, f"invalid JSON: {why}") from None
        except RecursionError as exc:
            raise self.fail("LS402", i, f"invalid JSON: {exc}") from None

    def _strict_at(self, i: int) -> tuple[int, str] | None:
        """Only when decoding failed: walk the value at ``i`` by hand, in text order and without recursion, to the
        offset of its first duplicate key or NaN/Infinity (json's hooks are not told where they are)."""
        text = self.text
        stack: list[set[str] | None] = []  # per open container: the keys seen, or None (an array)
        try:
            while True:
                i = self._ws(i)
                if stack and stack[-1] is not None:  # an object member: its key, then ':'
                    key, end = self.decoder.raw_decode(text, i)
                    if key in stack[-1]:
                        return i, f"duplicate key {key!r}"
                    stack[-1].add(key)
                    i = self._ws(self._ws(end) + 1)
                opener = text[i:i + 1]
                if opener in ("{", "["):
                    j = self._ws(i + 1)
                    if text[j:j + 1] not in ("}", "]"):
                        stack.append(set() if opener == "{" else None)
                        i = j
                        continue
                    i = j + 1
                else:
                    _, i = self.decoder.raw_decode(text, i)  # NaN and Infinity fail here, where they are
                while stack:  # after a value: the next member, or the end of its container
                    i = self._ws(i)
                    i, sep = i + 1, text[i]
                    if sep == ",":
                        break
                    stack.pop()
                else:
                    return None
        except JsonStrictError as exc:
            return i, str(exc)
        except (ValueError, IndexError):  # damage after the violation json found: not reached when it is first
            return None

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
            lines = isinstance(value, dict) and "\n" in self.text.strip()  # JSON Lines named .json, most likely
            raise self.fail("LS406", i, f"expected a JSON array of tasks (Label Studio JSON export), found "
                                        f"{json_type(value)}",
                            hint="a file of one JSON object per line is JSON Lines: name it .jsonl (or .ndjson)"
                            if lines else None)
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
        self.info = {"tasks": 0, **dict.fromkeys(NOT_JUDGMENTS, 0)}

    def row(self, line: int, origin: str, **values: str) -> None:
        for f, v in values.items():
            self.out[f].append(v)
        self.lines.append(line)
        self.origins.append(origin)

    def exclude(self, line: int, reason: str, detail: str) -> None:
        self.exclusions.append(Exclusion(line, reason, printable(clip(detail))))  # ids may hold lone surrogates


@dataclass(frozen=True, slots=True)
class _Record:
    """A task or an annotation: where it starts and its ids. A field of the wrong shape is reported there (the
    line where the record starts, G2) with the column (a one-line export has every record on line 1)."""

    walker: _Walker
    offset: int
    line: int
    ids: str  # "task 9" or "task 9, annotation 909"

    def error(self, code: str, message: str) -> InputError:
        return self.walker.fail(code, self.offset, f"{message} ({self.ids})")


def parse_labelstudio(data: bytes, path: str, columns: ColumnMap, tasks: Sequence[TaskShape], *,
                      items_id: str | None = None, roster: Collection[str] | None = None) -> Parsed:
    """Read one Label Studio JSON export; structural problems raise InputError LS401/LS402/LS404/LS406.
    ``items_id`` is the spec's ``items.id`` (None: no items file), the second task data key naming the item;
    ``roster`` the roster's annotator ids (None: no roster), which a ``completed_by`` object is matched by."""
    check_bytes(data, path)
    walker = _Walker(data.decode("utf-8-sig"), path)
    shapes = {t.name: t for t in tasks}
    keys = tuple(dict.fromkeys((columns.item, items_id or columns.item)))
    acc = _Collector()
    annotated = False
    for offset, task, anns in walker.tasks():
        at = _Record(walker, offset, walker.line(offset), f"task {_id_text(task.get('id'))}")
        acc.info["tasks"] += 1
        annotated = annotated or bool(_ANNOTATION_KEYS.intersection(task))
        for key in ("predictions", "drafts"):  # counted, never read; a shape that cannot be counted is an error
            found = task.get(key)
            if found is not None and not isinstance(found, list):
                raise walker.fail("LS406", offset, f"task '{key}' must be a JSON array; found {json_shown(found)}")
            acc.info[key] += len(found or ())
        data_obj = task.get("data", {})
        if not isinstance(data_obj, dict):
            raise at.error("LS406", "task 'data' must be a JSON object")
        item, note = _item(task, data_obj, keys, at, items_id is not None)
        unit = _text(data_obj.get(columns.unit), f"data.{columns.unit}", at)
        for ann_offset, ann in anns:
            if not isinstance(ann, dict):
                raise walker.fail("LS406", ann_offset, f"an annotation must be a JSON object ({at.ids})")
            ann_at = _Record(walker, ann_offset, walker.line(ann_offset), f"{at.ids}, annotation "
                                                                          f"{_id_text(ann.get('id'))}")
            _annotation(acc, ann_at, ann, (item, unit, note), shapes, roster)
    if acc.info["tasks"] and not annotated:
        raise input_error("LS406", path, 0, "no task has 'annotations': not a Label Studio JSON export "
                                            "(JSON-MIN and CSV exports are not supported; export as JSON)")
    names = {"item": f"{' or '.join(f'data.{k}' for k in keys)} (or the task id)", "unit": f"data.{columns.unit}",
             "task": "from_name", "annotator": "completed_by", "value": "the result value", "timestamp": "created_at"}
    where = Where(path, np.array(acc.lines, dtype=np.int64), names)
    cols = finish_columns(acc.out, tasks, where)
    origins = np.array([printable(o) for o in acc.origins], dtype=object)
    return Parsed(cols, where.lines, tuple(acc.exclusions), acc.info, format="labelstudio", origins=origins)


def _item(task: dict[str, Any], data_obj: dict[str, Any], keys: tuple[str, ...], at: _Record,
          has_items: bool) -> tuple[str, str]:
    """The task's item: the first of ``keys`` its data has, else its id; and the note a row's origin then carries
    when the spec has an items file (where an id Label Studio gave is an ``unknown_item``)."""
    for key in keys:
        if key in data_obj:
            return _text(data_obj[key], f"data.{key}", at), ""
    if task.get("id") is None:
        raise at.error("LS406", f"task has neither {' nor '.join(f'data.{k}' for k in keys)} nor an id")
    shown = " or ".join(repr(k) for k in keys)
    note = f"; the item is the task id: its data has no {shown}" if has_items else ""
    return _text(task["id"], "the task id", at), note


def _text(value: Any, what: str, at: _Record) -> str:
    if value is None:
        return ""
    if isinstance(value, str):  # JsonNumber too: its exact text
        return str(value)
    raise at.error("LS404", f"{what} must be a string or a number; found {json_shown(value)}")


def _id_text(value: Any) -> str:
    """A task or annotation id for an exclusion's detail: as written, or (not a string or number) shown briefly,
    so that an id of any size or depth costs no more than its first characters."""
    return str(value) if value is None or isinstance(value, str) else json_shown(value)


def _annotator(value: Any, at: _Record, roster: Collection[str] | None) -> str:
    """The bare id, or the object's email; its id instead when only that is in the roster (the standard JSON
    export writes the id, exports with annotator details the object: one user must be one annotator)."""
    if not isinstance(value, dict):
        return _text(value, "completed_by", at)
    email = value.get("email")
    if email is not None and type(email) is not str:  # a JsonNumber is a str subclass: "5" is no address
        raise at.error("LS404", f"completed_by.email must be a string; found {json_shown(email)}")
    if not email:
        return _text(value.get("id"), "completed_by.id", at)
    ident = value.get("id")
    if roster is None or email in roster or not isinstance(ident, str):  # JsonNumber: the id as written
        return str(email)
    return str(ident) if ident in roster else str(email)


def _lead_share(text: str, records: int) -> str:
    """The annotation's lead time over its ``records``: exact decimal arithmetic (no float noise such as
    1.5000000000000002, no limit on digits), rounded to the millisecond, ties to even, trailing zeros dropped.
    One record, or a text that is no plain decimal, is kept as written (the record check judges it)."""
    if records <= 1 or not LEAD_TIME_RE.fullmatch(text):
        return text
    num, den = Decimal(text).as_integer_ratio()
    whole, rest = divmod(num * 1000, den * records)
    millis = whole + (2 * rest > den * records or (2 * rest == den * records and whole % 2 == 1))
    digits = format(Decimal(millis), "f").rjust(4, "0")  # Decimal: str(int) refuses 4300 digits
    seconds, fraction = digits[:-3], digits[-3:].rstrip("0")
    return f"{seconds}.{fraction}" if fraction else seconds


def _flag(ann: dict[str, Any], key: str, at: _Record) -> bool:
    """A boolean annotation field; absent or null is false. ``"true"`` is not guessed at: it is an error."""
    value = ann.get(key)
    if value is None or isinstance(value, bool):
        return value is True
    raise at.error("LS404", f"{key!r} must be true or false; found {json_shown(value)}")


def _annotation(acc: _Collector, at: _Record, ann: dict[str, Any], task: tuple[str, str, str],
                shapes: dict[str, TaskShape], roster: Collection[str] | None) -> None:
    item, unit, note = task
    line, where = at.line, at.ids
    result = ann.get("result")
    cancelled, ground_truth = _flag(ann, "was_cancelled", at), _flag(ann, "ground_truth", at)
    if cancelled:
        acc.exclude(line, "cancelled_annotation", where)
        return
    groups = _groups(acc, result, at, shapes) if result is not None else {}
    if not groups:
        acc.exclude(line, "empty_annotation", where if not result else f"{where}: relations or empty rankings only")
        return
    common = {
        "item": item, "unit": unit, "annotator": _annotator(ann.get("completed_by"), at, roster),
        "timestamp": _text(ann.get("created_at"), "created_at", at),
        "lead_time": _text(ann.get("lead_time"), "lead_time", at),
        "ground_truth": "true" if ground_truth else "",
    }
    rows: list[tuple[str, str, str]] = []  # (task, unit, value): written once the lead time's share is known
    excluded = len(acc.exclusions)
    for name, results in groups.items():
        shape = shapes.get(name)
        if shape is None:
            guess = did_you_mean(name, shapes)
            acc.exclude(line, "unknown_task", f"from_name {name!r} ({where})" + (f"; {guess}" if guess else ""))
            continue
        try:
            values = judgment_values(shape, results, unit)
        except Mismatch as why:
            acc.exclude(line, "result_kind_mismatch", mismatch_detail(name, shape, results, why, where))
            continue
        except UnwritableValue as exc:  # e.g. choices [1e999]: a value no label file could hold
            acc.exclude(line, "result_kind_mismatch", f"{name!r}: the value {exc} ({where})")
            continue
        rows.extend((name, step, value) for step, value in values)
    common["lead_time"] = _lead_share(common["lead_time"], len(rows) + len(acc.exclusions) - excluded)
    for name, step, value in rows:
        acc.row(line, where + note, task=name, value=value, **{**common, "unit": step})


def _groups(acc: _Collector, result: Any, at: _Record, shapes: dict[str, TaskShape]
            ) -> dict[str, list[dict[str, Any]]]:
    """The annotation's results by task (``from_name``, or the attribution task of a ``<task>-no-step``
    control): results of one task in one annotation are merged. Relations are counted, never read."""
    if not isinstance(result, list):
        raise at.error("LS406", "annotation 'result' must be a JSON array")
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in result:
        if isinstance(r, dict) and r.get("type") == "relation" and "from_name" not in r:
            acc.info["relations"] += 1
            continue
        if not (isinstance(r, dict) and r.get("from_name") is not None and isinstance(r.get("value"), dict)):
            raise at.error("LS406", "each result needs a string 'from_name' and an object 'value' (or is a "
                                    "relation: 'type' \"relation\")")
        if type(r["from_name"]) is not str:  # a JsonNumber is a str subclass: 5 is not the name "5"
            raise at.error("LS404", f"result 'from_name' must be a string; found {json_shown(r['from_name'])}")
        if _ranks_nothing(r["value"]):
            acc.info["empty_rankings"] += 1
            continue
        groups.setdefault(task_of(r["from_name"], shapes), []).append(r)
    return groups


def _ranks_nothing(value: dict[str, Any]) -> bool:
    """A Ranker result over an empty list (no ids, or only the "_" column of unplaced items, empty): Label Studio
    submits it with the form when the task's list is empty, as the review queue leaves another task's ranking on
    an expert's unit. It orders nothing, so it is no judgment (an incomplete ranking, ids left out, still is)."""
    ranker = value.get("ranker")
    if isinstance(ranker, list):
        return not ranker
    return isinstance(ranker, dict) and all(isinstance(b, list) and not b for b in ranker.values())
