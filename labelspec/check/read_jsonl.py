"""JSON Lines label files → string columns; ``line`` is the physical line of each record.

One JSON object per line, decoded strictly (no duplicate keys, no NaN/Infinity, at most 1 MiB per line).
Blank and whitespace-only lines are skipped and not counted in ``rows_read``; they still count as lines. A file
of nothing else (0 bytes included) is LS401, as an empty CSV file is: ``readers`` says so, since the file is
empty, not a line (a caller may parse one line, a blank one included).
Field rules (anything else is LS404 at FILE:LINE, naming the key):

* a string is kept exactly; ``null`` or an absent key gives "" (a key absent from every record of the file is
  a missing column, LS403, when it is required);
* ``item``, ``unit``, ``annotator``: a string or an integer (kept as written: ``12`` → "12");
* ``lead_time``: a string or any number, kept as its JSON text (``1.50`` → "1.50");
* ``value``: a string; a number for rating tasks (exact text); a JSON array for list-valued tasks (canonical
  JSON text); a JSON object for attribution tasks (canonical JSON text). For a task the spec does not know,
  any string, number or array is kept (the content check reports the task);
* ``task``, ``timestamp``: strings only. Booleans and objects are never accepted.
* a string with an unpaired surrogate escape (``"\\ud800"``: no Unicode text) is LS401 at its line.

Most files are read by Arrow instead (``read_jsonl_arrow``: only when it reads them exactly as these rules do);
the loop over lines below reads the rest and reports every error. Must not touch the filesystem.
"""

from __future__ import annotations

import io
import json
from array import array
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from labelspec.check.read_common import (
    FIELDS,
    MAX_LINE_BYTES,
    ColumnMap,
    Parsed,
    TaskShape,
    UnwritableValue,
    Where,
    canonical_json,
    column_mapping,
    finish_columns,
    input_error,
    json_shown,
    json_type,
    missing_column_error,
    required_fields,
)
from labelspec.check.read_csv import check_bytes
from labelspec.check.read_jsonl_arrow import read_flat
from labelspec.strictjson import JsonNumber, JsonStrictError, strict_decoder

_EXPECTED = {
    "value": "a string (a number for rating tasks, an array for list-valued tasks)",
    "lead_time": "a string or a number",
    "item": "a string or an integer",
    "unit": "a string or an integer",
    "annotator": "a string or an integer",
}


def parse_jsonl(data: bytes, path: str, columns: ColumnMap, tasks: Sequence[TaskShape]) -> Parsed:
    """Read one JSONL file; raise InputError LS401/LS402/LS403/LS404 located at FILE:LINE."""
    check_bytes(data, path)
    keys = column_mapping(columns)
    flat = read_flat(data, keys, tasks)
    if flat is None:
        return _by_line(data, path, keys, tasks)
    where = Where(path, flat[1], _names(keys))
    return Parsed(finish_columns(flat[0], tasks, where), where.lines, format="jsonl")


def parse_jsonl_lines(data: bytes, path: str, columns: ColumnMap, tasks: Sequence[TaskShape]) -> Parsed:
    """:func:`parse_jsonl` line by line in Python: the reader of every file Arrow may not read, and the
    definition of what Arrow's reading must equal (``tests/test_read_jsonl_arrow.py``)."""
    check_bytes(data, path)
    return _by_line(data, path, column_mapping(columns), tasks)


def _by_line(data: bytes, path: str, keys: dict[str, str], tasks: Sequence[TaskShape]) -> Parsed:
    """:func:`parse_jsonl_lines` on bytes ``check_bytes`` has passed.

    Each line goes to the decoder's C scanner directly (``decode`` adds two regex matches and a call per line);
    a line it does not take whole is decoded again by ``decode``, which raises the error to report. A string
    field is taken as is, inline; anything else goes through :func:`_field`. Every :data:`_CHUNK` lines the
    columns become Arrow text, so that 10M lines are not 70M Python strings at once (4.2 GiB)."""
    shapes = {t.name: t for t in tasks}
    only = tasks[0] if len(tasks) == 1 else None
    decoder = strict_decoder()
    scan: Callable[[str, int], tuple[Any, int]] = vars(decoder)["scan_once"]  # what decode() calls (no stub)
    task_key = keys["task"]
    others = [(f, key) for f, key in keys.items() if f != "task"]
    out: dict[str, list[str]] = {f: [] for f in FIELDS}
    chunks = _Chunks()
    unseen = set(keys.values())
    seen: set[str] = set()
    lines = array("q")  # 8 bytes a line (a list held 10M int objects: ~360 MB)
    for number, raw in enumerate(io.BytesIO(data), 1):
        if len(raw) > MAX_LINE_BYTES:
            raise input_error("LS402", path, number, f"line longer than {MAX_LINE_BYTES} bytes")
        line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        text = line.lstrip(" \t\r\n")
        indent, text = len(line) - len(text), text.rstrip(" \t\r\n")
        if not text:
            continue
        try:
            record, end = scan(text, 0)
        except Exception:  # noqa: BLE001 - any failure: decode() below says exactly what, and where
            record, end = None, -1
        if end != len(text) or type(record) is not dict:
            record = _decode_line(decoder, text, path, number, indent)
        v = record.get(task_key)
        task_text = v if type(v) is str else "" if v is None else _field(record, task_key, "task", None, path, number)
        out["task"].append(task_text)
        shape = shapes.get(task_text) if task_text else only
        for f, key in others:
            v = record.get(key)
            out[f].append(v if type(v) is str else "" if v is None else _field(record, key, f, shape, path, number))
        if unseen:  # the keys some record has (null or not): a missing column is one no record has
            found = unseen.intersection(record)
            if found:
                seen |= found
                unseen -= found
        lines.append(number)
        if len(lines) % _CHUNK == 0:
            chunks.add(out)
    for fld in required_fields(tasks):
        if keys[fld] not in seen and lines:
            raise missing_column_error(path, 0, keys[fld], fld, sorted(seen))
    chunks.add(out)
    where = Where(path, np.frombuffer(lines, dtype=np.int64).copy(), _names(keys))
    return Parsed(finish_columns(chunks.columns([f for f in FIELDS if keys[f] in seen]), tasks, where),
                  where.lines, format="jsonl")


#: Lines whose fields are kept as Python strings before they become Arrow text.
_CHUNK = 1 << 16


class _Chunks:
    """The columns read so far, as Arrow text a chunk at a time. A chunk Arrow cannot store (a lone surrogate)
    is kept as Python strings: ``finish_columns`` then gets every column whole, as lists, and reports the error
    exactly as for a file read in one piece."""

    def __init__(self) -> None:
        self.parts: dict[str, list[pa.Array | list[str]]] = {f: [] for f in FIELDS}
        self.whole = True

    def add(self, out: dict[str, list[str]]) -> None:
        for f, values in out.items():
            if values:
                try:
                    self.parts[f].append(pa.array(values, pa.large_string()))
                except UnicodeEncodeError:
                    self.parts[f].append(list(values))
                    self.whole = False
                values.clear()

    def columns(self, fields: Sequence[str]) -> dict[str, pa.ChunkedArray | list[str]]:
        if self.whole:
            return {f: pa.chunked_array(self.parts[f], pa.large_string()) for f in fields}
        return {f: [v for part in self.parts[f] for v in (part if isinstance(part, list) else part.to_pylist())]
                for f in fields}


def _names(keys: dict[str, str]) -> dict[str, str]:
    """How errors name each field: its key, quoted."""
    return {f: repr(k) for f, k in keys.items()}


def _decode_line(decoder: json.JSONDecoder, text: str, path: str, number: int, indent: int) -> dict[str, Any]:
    """The line's object; ``indent``: characters stripped before ``text``, so that columns are the line's."""
    try:
        record = decoder.decode(text)
    except json.JSONDecodeError as exc:
        col = exc.colno + indent  # some messages end "at" ("Unterminated string starting at"): say where
        said = f"{exc.msg} line {number} column {col}" if exc.msg.endswith(" at") else exc.msg
        # records separated by a bare CR (old Mac line endings) read as one line whose second object is "extra"
        cr = exc.msg == "Extra data" and "\r" in text[:exc.pos]  # a raw CR is only whitespace in JSON
        hint = "the records are separated by a bare carriage return (CR): JSON Lines ends each line with LF (or "\
            "CRLF); convert the line endings, e.g. with `tr '\\r' '\\n'`" if cr else None
        raise input_error("LS402", path, number, f"invalid JSON: {said}", column=col, hint=hint) from None
    except (JsonStrictError, RecursionError) as exc:
        raise input_error("LS402", path, number, f"invalid JSON: {exc}") from None
    if not isinstance(record, dict):
        raise input_error("LS402", path, number, f"expected a JSON object, found {json_type(record)}")
    return record


def _field(record: dict[str, Any], key: str, fld: str, shape: TaskShape | None, path: str, number: int) -> str:
    """The text of one field under the module's rules."""
    v = record.get(key)
    if v is None or type(v) is str:
        return v or ""
    if isinstance(v, JsonNumber) and _number_ok(v, fld, shape):
        return str(v)
    listed = isinstance(v, list) and (shape is None or shape.list_valued)
    if fld == "value" and (listed or isinstance(v, dict) and shape is not None and shape.kind == "attribution"):
        try:
            return canonical_json(v)
        except UnwritableValue as exc:
            raise input_error("LS404", path, number, f"{key!r} {exc}") from None
    raise input_error("LS404", path, number, f"{key!r} must be {_EXPECTED.get(fld, 'a string')}; found {json_shown(v)}")


def _number_ok(v: JsonNumber, fld: str, shape: TaskShape | None) -> bool:
    if fld in ("item", "unit", "annotator"):
        return v.is_integer
    if fld == "lead_time":
        return True
    return fld == "value" and (shape is None or shape.kind == "rating")
