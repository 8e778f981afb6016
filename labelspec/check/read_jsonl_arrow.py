"""JSON Lines read by Arrow's JSON reader, for the files it reads exactly as the strict per-line reader would.

Why: the strict reader (``read_jsonl``) decodes line by line in Python, ~3 µs a line (a million lines: ~3 s);
Arrow's multithreaded reader takes ~0.4 s. But Arrow differs from the strict rules on some inputs. It accepts
``NaN`` and ``Infinity``, nesting of any depth, two objects on one line or one object over two lines, and a
bare CR as a line break. It turns numbers into binary (``-0`` becomes ``0``) and infers timestamps from strings.
And it crashes the process (SIGSEGV, pyarrow 26) on a block of lines that opens with ``null``. So Arrow is used
only when byte checks rule all of that out: no ``NaN``/``Infinity`` bytes, no lone CR, each non-blank line
holding exactly one ``{`` and then one ``}`` with only blanks around them (flat objects, one per line), at most
:data:`MAX_DEPTH` ``[`` per line, no line over the length limit; and records short enough on average that
Arrow, which keeps every field, is the faster (:data:`_WIDEST`). The needed fields are declared as text, or as
numbers where the strict reader keeps a number's text (integer ids; lead times and ratings of any kind). An
integer column without a zero (which may have been ``-0``) is Arrow's text of its values; any other number
column is its numbers' text as the file writes them, found by one regular-expression search of the file when
the key occurs nowhere else, and checked against Arrow's values. A ``value`` of lists of strings (multi-choice
sets, rankings) is declared as such, and Arrow's string kernels write their canonical JSON text. For flat
objects Arrow itself refuses what the strict rules refuse: duplicate keys, control characters in strings, bad
escapes, lone surrogates, booleans and other types in a declared field.

Everything else returns None, errors included: the strict reader then reads or reports the file exactly as it
always has. So this module never raises an input error of its own, and its result equals the strict reader's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from labelspec.check.read_common import MAX_LINE_BYTES, TaskShape, required_fields
from labelspec.strictjson import MAX_DEPTH, JsonNumber, JsonStrictError, strict_decoder

#: Every byte but the line break and the braces; but the line break and the opening bracket (for ``translate``).
_NOT_MARKS = bytes(b for b in range(256) if b not in b"\n{}")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"\n[")
_EVERY_LINE = b"{}\n"
#: Blanks, then an opening brace; a line whose first byte that is not blank is not one; a closing brace followed
#: by more than blanks on its line (two searches, not one: a pattern that opens with one byte is searched fast).
_OPENS = re.compile(rb"[ \t\r\n]*\{")
_NOT_OPENING = re.compile(rb"\n[ \t\r]*[^{ \t\r\n]")
_AFTER_CLOSING = re.compile(rb"}[ \t\r]*[^ \t\r\n]")
_BOM = "\ufeff".encode()
#: Arrow's block: several times the longest line, so that a line never spans more than one block boundary.
_BLOCK = 4 * MAX_LINE_BYTES
#: Fields whose integers the strict reader keeps as their text (``value``: for rating tasks only).
_INTEGER_FIELDS = frozenset({"item", "unit", "annotator", "lead_time", "value"})
#: Fields whose numbers of any kind the strict reader keeps as their text (``value``: for rating tasks only).
_ANY_NUMBER_FIELDS = frozenset({"lead_time", "value"})
#: Keys whose numbers are found in the file's text by a regular expression (no escape spells them).
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]+")
#: After a key: the colon, then a JSON number, captured.
_NUMBER = rb"[ \t]*:[ \t]*(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
_TEXT = (pa.string(), pa.large_string())
_LIST = pa.list_(pa.string())
#: The longest mean record (bytes a line) read by Arrow. Arrow parses and keeps every field, the strict reader
#: only the mapped ones: with prompts and responses in each record, Arrow is the slower and needs ~2x the memory
#: (measured: 313 bytes a line, Arrow 0.98 s against 1.72 s; 608 bytes, 1.60 s against 1.82 s and 850 MiB
#: against 397 MiB; 3.4 kB, 3.99 s against 1.71 s and 2,152 MiB against 790 MiB).
_WIDEST = 512
#: Bytes of lines searched at once for numbers as written.
_FIND_PIECE = 1 << 25


def read_flat(data: bytes, keys: Mapping[str, str], tasks: Sequence[TaskShape]
              ) -> tuple[dict[str, pa.ChunkedArray], np.ndarray] | None:
    """The fields found in the file (canonical field → its column) and each row's line; None when the strict
    reader must read the file (see the module docstring). ``data`` is valid UTF-8 without NUL (``check_bytes``)."""
    if len(data) > _WIDEST * max(1, data.count(b"\n")):  # wide records: Arrow, keeping every field, is the slower
        return None
    located = _record_lines(data)
    if located is None:
        return None
    lines, first = located
    end = data.find(b"\n", first)
    try:
        record = strict_decoder().decode(data[first:len(data) if end < 0 else end].decode())
    except (ValueError, JsonStrictError, RecursionError):  # the strict reader says what is wrong, and where
        return None
    if not isinstance(record, dict):
        return None
    schema = pa.schema([(key, _declared(record[key], [f for f, k in keys.items() if k == key]))
                        for key in dict.fromkeys(keys.values()) if record.get(key) is not None])
    options = pj.ParseOptions(explicit_schema=schema, newlines_in_values=False, unexpected_field_behavior="infer")
    try:
        table = pj.read_json(pa.BufferReader(data), read_options=pj.ReadOptions(block_size=_BLOCK),
                             parse_options=options)
    except pa.ArrowException:
        return None
    if table.num_rows != len(lines) or any(keys[f] not in table.column_names for f in required_fields(tasks)):
        return None
    found: dict[str, pa.ChunkedArray] = {}
    for f, key in keys.items():
        if key in table.column_names:
            column = _text(table.column(key), f)
            if column is None and _numbers_as_written(table.column(key), f):
                column = _as_written(data, key, table.column(key))
            if column is None:
                return None
            found[f] = column
    value_type = table.column(keys["value"]).type
    if (pa.types.is_integer(value_type) or pa.types.is_floating(value_type)) and not _ratings(found, tasks):
        return None
    if value_type == _LIST and not _allowed(found, [t.name for t in tasks if not t.list_valued], tasks):
        return None
    return found, lines


def _record_lines(data: bytes) -> tuple[np.ndarray, int] | None:
    """(the 1-based line of each record, the byte offset of the first), when every non-blank line holds one flat
    object and nothing the strict rules refuse can hide from Arrow; None otherwise.

    The file's braces and line breaks in order (``bytes.translate``: ~40 ms for 70 MB, where comparing every byte
    in numpy took ~0.3 s) must read ``{}`` once per line at most, with nothing between the two."""
    if _has(data, b"NaN") or _has(data, b"Infinity") or b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        return None
    if _long_line(data):
        return None
    marks = data.translate(None, _NOT_MARKS)
    # the usual file, one record on every line and no blank line, is ``{}`` and a break per line: one comparison
    n = (len(marks) + 1) // 3
    every_line = n > 0 and marks == (_EVERY_LINE * n if marks.endswith(b"\n") else _EVERY_LINE * (n - 1) + b"{}")
    if not every_line:
        braces = marks.replace(b"\n", b"")
        if not braces or braces != b"{}" * (len(braces) // 2) or b"{\n" in marks or b"}{" in marks:
            return None
    # and nothing but blanks around them: Arrow crashes (SIGSEGV, pyarrow 26) on a block that opens with null
    start = len(_BOM) if data.startswith(_BOM) else 0
    if not _OPENS.match(data, start) or _NOT_OPENING.search(data) or _AFTER_CLOSING.search(data):
        return None
    if (b"[" in data and data.count(b"[") > MAX_DEPTH  # (``in`` is memchr: 6x faster than counting none)
            and b"[" * (MAX_DEPTH + 1) in data.translate(None, _NOT_BRACKETS)):
        return None
    if every_line:
        return np.arange(1, n + 1, dtype=np.int64), data.index(b"{")
    lines = np.flatnonzero(np.frombuffer(marks, np.uint8) == ord("{")).astype(np.int64, copy=False)
    # the breaks before each brace, plus one, in place: 10M lines' temporaries were 4 more arrays of 80 MB
    lines -= np.arange(0, 2 * len(lines), 2, dtype=np.int64)
    lines += 1
    return lines, data.index(b"{")


def _has(data: bytes, text: bytes) -> bool:
    """``text in data``, looking for its first byte alone first (``memchr``: ~10x faster than the search)."""
    return text[:1] in data and text in data


def _long_line(data: bytes) -> bool:
    """Whether a line (its break included) is longer than :data:`MAX_LINE_BYTES`. If every aligned piece of half
    that length has a line break, no line can be; only otherwise are the breaks located."""
    half = MAX_LINE_BYTES // 2
    if all(data.find(b"\n", a, a + half) >= 0 for a in range(0, len(data) - half + 1, half)):  # no copies
        return False
    breaks = np.flatnonzero(np.frombuffer(data, np.uint8) == ord("\n"))
    return bool((np.diff(np.concatenate(([0], breaks + 1, [len(data)]))) > MAX_LINE_BYTES).any())


def _declared(value: object, fields: Sequence[str]) -> pa.DataType:
    """How Arrow reads a key, by its value in the first record: numbers where every field read from that key
    keeps them (lead times of any kind as doubles, so that 12 then 12.5 still read), else text (so that Arrow
    never infers a timestamp from a string or turns a number into text of its own)."""
    if isinstance(value, list) and set(fields) == {"value"} and not any(isinstance(v, JsonNumber) for v in value):
        return _LIST  # a multi-choice set or a ranking; anything but strings in it is Arrow's error
    if not isinstance(value, JsonNumber):
        return pa.string()
    if set(fields) <= _ANY_NUMBER_FIELDS and (not value.is_integer or "lead_time" in fields):
        return pa.float64()
    return pa.int64() if value.is_integer and set(fields) <= _INTEGER_FIELDS else pa.string()


def _text(column: pa.ChunkedArray, fld: str) -> pa.ChunkedArray | None:
    """The column as text, when its type says all; None otherwise (numbers whose text Arrow does not keep, or a
    type the strict reader refuses)."""
    if column.type == pa.null():  # every value null: text, so that compute functions take it
        return column.cast(pa.string())
    if column.type in _TEXT:
        return column
    if column.type == pa.int64() and fld in _INTEGER_FIELDS and not pc.any(pc.equal(column, 0)).as_py():
        return column.cast(pa.string())  # the text Arrow writes is the JSON integer's (a zero may have been "-0")
    if column.type == _LIST and fld == "value":
        return _list_texts(column)
    return None


def _list_texts(column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """Lists of strings as the strict reader's canonical JSON text (``canonical_json``: compact, UTF-8 kept,
    order kept), built by Arrow: each string quoted with ``"`` and ``\\`` escaped, joined by commas, bracketed.
    None when a string holds a control character (json escapes those its own way) or a list holds a null."""
    lists = column.combine_chunks()
    strings = lists.values  # what lists.offsets index (flattening would drop a slice's offset)
    if strings.null_count or pc.any(pc.match_substring_regex(strings, r"[\x00-\x1f]")).as_py():
        return None
    escaped = pc.replace_substring(pc.replace_substring(strings, "\\", "\\\\"), '"', '\\"')
    quote = pa.scalar('"', strings.type)
    quoted = pa.ListArray.from_arrays(lists.offsets, pc.binary_join_element_wise(quote, escaped, quote, ""),
                                      mask=lists.is_null())
    joined = pc.binary_join(quoted, ",")
    return pa.chunked_array([pc.binary_join_element_wise(pa.scalar("[", joined.type), joined,
                                                         pa.scalar("]", joined.type), "")])


def _numbers_as_written(column: pa.ChunkedArray, fld: str) -> bool:
    """Whether the strict reader keeps this column's numbers as their text: integers of the integer fields,
    any number of a lead time or a rating (whose exact text Arrow's binary value does not keep)."""
    return (column.type == pa.int64() and fld in _INTEGER_FIELDS
            or column.type == pa.float64() and fld in _ANY_NUMBER_FIELDS)


def _as_written(data: bytes, key: str, column: pa.ChunkedArray) -> pa.ChunkedArray | None:
    """``column``'s numbers as the file writes them (Arrow keeps only their binary value), found after their key
    by one search of the whole file; None unless the key is spelled plainly, occurs in no other place than before
    these numbers or a ``null``, and each text found is its row's number."""
    if not _PLAIN_KEY.fullmatch(key):
        return None
    quoted = re.escape(f'"{key}"'.encode())
    valid = pc.is_valid(column)
    n_valid = len(column) - column.null_count
    found = _found(re.compile(quoted + _NUMBER), data)  # in file order: the valid rows' numbers, one each
    if len(found) != n_valid:
        return None
    occurs = data.count(f'"{key}"'.encode())
    if occurs != n_valid and occurs != n_valid + len(re.findall(quoted + rb"[ \t]*:[ \t]*null", data)):
        return None  # the key elsewhere too: in a string, or as a value
    numbers = found.cast(pa.large_string())
    if not pc.all(pc.equal(numbers.cast(column.type), column.filter(valid))).as_py():  # int64 or float64, exact
        return None
    return pa.chunked_array([pc.replace_with_mask(pa.nulls(len(column), pa.large_string()),
                                                  valid.combine_chunks(), numbers)])


def _found(pattern: re.Pattern[bytes], data: bytes) -> pa.Array:
    """Every match of ``pattern``'s group in ``data``, in order, as binary: searched a piece of lines at a time,
    so that at most one piece's matches are Python objects at once (10M of them: ~450 MB)."""
    pieces, start = [], 0
    while start < len(data):
        end = data.find(b"\n", start + _FIND_PIECE)
        end = len(data) if end < 0 else end + 1
        pieces.append(pa.array(pattern.findall(data, start, end), pa.large_binary()))
        start = end
    return pa.concat_arrays(pieces) if pieces else pa.array([], pa.large_binary())


def _ratings(found: Mapping[str, pa.ChunkedArray], tasks: Sequence[TaskShape]) -> bool:
    """Whether every number in ``value`` belongs to a rating task or to a task the spec does not know, as the
    strict reader requires."""
    return _allowed(found, [t.name for t in tasks if t.kind != "rating"], tasks)


def _allowed(found: Mapping[str, pa.ChunkedArray], refused: list[str], tasks: Sequence[TaskShape]) -> bool:
    """Whether no value (not null) belongs to one of the ``refused`` tasks (a record without a task is the only
    task's)."""
    only = tasks[0] if len(tasks) == 1 else None
    if only is not None and only.name in refused:
        refused = [*refused, ""]
    valid = pc.is_valid(found["value"])
    if "task" not in found:
        return "" not in refused or not pc.any(valid).as_py()
    wrong = pc.and_(valid, pc.is_in(pc.fill_null(found["task"], ""), value_set=pa.array(refused, pa.string())))
    return not pc.any(wrong).as_py()
