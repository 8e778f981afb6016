"""CSV and TSV label files → string columns with the physical line where each record starts.

pyarrow parses every column as a string with null detection off (G10), which is the fast path (G13). The stdlib
``csv`` module re-reads a file only to locate an error pyarrow reported or found by the cheap byte checks, or to
number lines when some record spans several lines (quoted newlines, blank lines). This module must not infer
types, drop rows or judge content.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from labelspec.check.read_common import (
    ColumnMap,
    Parsed,
    TaskShape,
    Where,
    column_mapping,
    finish_columns,
    input_error,
    line_at,
    missing_column_error,
    required_fields,
)
from labelspec.csvscan import physical_lines, quotes_well_formed

_BOM = b"\xef\xbb\xbf"
_BLANK = re.compile(rb"[ \t\r\n]*\Z")
_MAX_HEADER = 1 << 20


def parse_csv(data: bytes, path: str, columns: ColumnMap, tasks: Sequence[TaskShape], *, delimiter: str) -> Parsed:
    """Read one CSV (``delimiter=","``) or TSV (``"\\t"``) file; raise InputError LS401–LS403 located at FILE:LINE."""
    start = len(_BOM) if data.startswith(_BOM) else 0
    if _BLANK.match(data, start):
        raise input_error("LS401", path, 0, "empty file: no header line")
    check_bytes(data, path)
    names, body = _header(data, start, path, delimiter)
    mapping = {f: c for f, c in column_mapping(columns).items() if c in names}
    for fld in required_fields(tasks):
        if fld not in mapping:
            raise missing_column_error(path, 1, getattr(columns, fld), fld, names)
    if body == len(data) and not data.endswith(b"\n"):
        data += b"\n"  # the header alone, unterminated: pyarrow finds an "Empty CSV file" (the copy is one line)
    quoted = data.find(b'"', start) >= 0
    keep = list(dict.fromkeys(mapping.values()))
    with ThreadPoolExecutor(max_workers=1) as pool:  # pyarrow parses without the GIL while the checks run
        parsing = pool.submit(_pyarrow_read, data, path, delimiter, keep, len(names), quoted=quoted)
        suspicious = quoted and not quotes_well_formed(data, start, ord(delimiter))
        physical = physical_lines(data)
        table = parsing.result()
    n = table.num_rows
    # Each record takes at least one line, so equality means one line per record: line = row + 2. Otherwise
    # (quoted newlines, blank lines) or when quoting looks odd, the stdlib pass numbers lines or raises.
    if suspicious or physical != n + 1:
        starts = _scan(data, path, delimiter, len(names))
    else:
        starts = np.arange(2, n + 2, dtype=np.int64)
    if len(starts) != n:
        raise input_error("LS402", path, 0, f"ambiguous CSV structure: {n} records by one parser, "
                                            f"{len(starts)} by another; check the quoting")
    found = {f: table.column(c) for f, c in mapping.items()}
    where = Where(path, starts, {f: repr(c) for f, c in mapping.items()})
    return Parsed(finish_columns(found, tasks, where), starts, format="tsv" if delimiter == "\t" else "csv")


def check_bytes(data: bytes, path: str) -> None:
    """Strict UTF-8 over the whole file (Arrow's validator; Python only to locate the bad byte) and no NUL."""
    if not data.isascii():
        buf = pa.Array.from_buffers(pa.large_binary(), 1, [None, pa.py_buffer(np.array([0, len(data)], np.int64)),
                                                          pa.py_buffer(data)])
        try:
            buf.view(pa.large_string()).validate(full=True)
        except pa.ArrowInvalid:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = line_at(data, exc.start)
                col = exc.start - data.rfind(b"\n", 0, exc.start)
                raise input_error("LS401", path, line, f"not valid UTF-8: byte 0x{data[exc.start]:02x} cannot be "
                                  "decoded (save the file as UTF-8)", column=col) from None
    nul = data.find(b"\0")
    if nul >= 0:
        col = nul - data.rfind(b"\n", 0, nul)
        raise input_error("LS402", path, line_at(data, nul), "NUL byte in a label file", column=col)


def _header(data: bytes, start: int, path: str, delimiter: str) -> tuple[list[str], int]:
    """Column names from the first record (which may span lines when a quoted name holds a newline), and the
    offset where the records after it begin (``len(data)`` when the header ends the file)."""
    end = data.find(b"\n", start)
    while end >= 0 and data.count(b'"', start, end) % 2 and end - start < _MAX_HEADER:
        end = data.find(b"\n", end + 1)
    prefix = data[start:] if end < 0 else data[start:end + 1]
    try:
        with _no_field_limit(prefix):
            names = next(csv.reader(io.StringIO(prefix.decode("utf-8"), newline=""), delimiter=delimiter,
                                    strict=True))
    except (csv.Error, StopIteration) as exc:
        raise input_error("LS402", path, 1, f"unreadable header line: {exc}") from None
    if not names:
        raise input_error("LS403", path, 1, "the first line is empty; it must be the header")
    seen: dict[str, int] = {}
    for i, name in enumerate(names, 1):
        if name in seen:
            raise input_error("LS403", path, 1, f"duplicate column {name!r} (columns {seen[name]} and {i})")
        seen[name] = i
    return names, start + len(prefix)


@contextmanager
def _no_field_limit(data: bytes) -> Iterator[None]:
    """Lift the ``csv`` module's field length limit (131072 characters) for a file whose fields cannot be longer
    than ``len(data)``: pyarrow, the fast path, has no such limit, and whether a file is read must not depend on
    which path a blank line or a quoted line break sends it down. The limit is process-wide: restored after."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, len(data) + 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _csv_message(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return "unbalanced quote: a quoted field that starts in this record is never closed"
    if "expected after" in text:
        return "unexpected character after a closing quote (quote the whole field and double inner quotes)"
    return f"malformed record: {text}"


def _scan(data: bytes, path: str, delimiter: str, ncols: int) -> np.ndarray:
    """The stdlib pass: raise the first ragged or malformed record at its first line, else return data-record
    start lines (blank lines skipped, as pyarrow skips them)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter, strict=True)
    starts: list[int] = []
    prev = 0
    try:
        with _no_field_limit(data):
            for row in reader:
                start, prev = prev + 1, reader.line_num
                if row and start > 1 and len(row) != ncols:
                    raise input_error("LS402", path, start, f"ragged row: {len(row)} fields, the header has {ncols}")
                if row:
                    starts.append(start)
    except csv.Error as exc:
        raise input_error("LS402", path, prev + 1, _csv_message(exc)) from None
    return np.array(starts[1:], dtype=np.int64)  # the first record is the header


def _pyarrow_read(data: bytes, path: str, delimiter: str, keep: list[str], ncols: int, *, quoted: bool) -> pa.Table:
    """All columns typed string, nulls off, UTF-8 already checked; only the mapped columns are converted."""
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.large_string() for c in keep}, include_columns=keep, strings_can_be_null=False,
                quoted_strings_can_be_null=False, null_values=[], check_utf8=False),
        )
    except pa.ArrowInvalid as exc:
        _scan(data, path, delimiter, ncols)  # locates the problem and raises
        raise input_error("LS402", path, 0, f"cannot parse the file: {exc}") from None
    if table.column_names != keep or any(t != pa.large_string() for t in table.schema.types):
        raise input_error("LS402", path, 1, "the header could not be read consistently; check its quoting")
    return table
