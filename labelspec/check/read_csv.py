"""CSV and TSV label files → string columns with the physical line where each record starts.

pyarrow parses every column as a string with null detection off (G10), which is the fast path (G13); the
columns of repeated values (``read_common.repeated_fields``) into dictionaries of those strings. The stdlib
``csv`` module re-reads a file only to locate an error pyarrow reported or found by the cheap byte checks, or to
number lines when some record spans several lines (quoted newlines, blank lines). This module must not infer
types, drop rows or judge content.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterator, Sequence
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
    dictionary_columns,
    finish_columns,
    input_error,
    missing_column_error,
    required_fields,
)
from labelspec.csvscan import physical_lines, quotes_well_formed
from labelspec.errors import InputError

#: The UTF-8 byte order mark, allowed at the start of a text label file.
BOM = b"\xef\xbb\xbf"
_BLANK = re.compile(rb"[ \t\r\n]*\Z")
_MAX_HEADER = 1 << 20
#: Longest CSV/TSV record read, in bytes: pyarrow parses in blocks, a record must fit in one, and a block's
#: size is a 32-bit integer. Documented in docs/diagnostics.md (LS402).
MAX_RECORD_BYTES = 1 << 30
_DEFAULT_BLOCK = 1 << 20  # pyarrow's block size when none is given
_CHUNK = 1 << 24  # bytes per step when finding where lines start (bounds the temporary masks)
_DICTIONARY = pa.dictionary(pa.int32(), pa.large_string())


def parse_csv(data: bytes, path: str, columns: ColumnMap, tasks: Sequence[TaskShape], *, delimiter: str) -> Parsed:
    """Read one CSV (``delimiter=","``) or TSV (``"\\t"``) file; raise InputError LS401–LS403 located at FILE:LINE."""
    start = len(BOM) if data.startswith(BOM) else 0
    if _BLANK.match(data, start):
        raise input_error("LS401", path, 0, "empty file: no header line")
    check_bytes(data, path, cr_breaks=True)
    names, body = _header(data, start, path, delimiter)
    mapping = {f: c for f, c in column_mapping(columns).items() if c in names}
    for fld in required_fields(tasks):
        if fld not in mapping:
            raise missing_column_error(path, 1, getattr(columns, fld), fld, names)
    if body == len(data) and not data.endswith(b"\n"):
        data += b"\n"  # the header alone, unterminated: pyarrow finds an "Empty CSV file" (the copy is one line)
    quoted = data.find(b'"', start) >= 0
    keep = list(dict.fromkeys(mapping.values()))
    repeated = dictionary_columns(mapping, tasks)  # parsed into dictionaries: no text per row
    with ThreadPoolExecutor(max_workers=1) as pool:  # pyarrow parses without the GIL while the checks run
        parsing = pool.submit(_pyarrow_read, data, path, delimiter, keep, len(names), quoted=quoted,
                              repeated=repeated)
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


def check_bytes(data: bytes, path: str, *, cr_breaks: bool = False) -> None:
    """Strict UTF-8 over the whole file (Arrow's validator; Python only to locate the bad byte) and no NUL.

    The error names the physical line and the character column; ``cr_breaks``: a lone ``\\r`` ends a line
    (CSV/TSV, as their parsers count lines; JSON takes it as whitespace)."""
    if not data.isascii():
        buf = pa.Array.from_buffers(pa.large_binary(), 1, [None, pa.py_buffer(np.array([0, len(data)], np.int64)),
                                                          pa.py_buffer(data)])
        try:
            buf.view(pa.large_string()).validate(full=True)
        except pa.ArrowInvalid:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                line, col = line_and_column(data, exc.start, cr_breaks=cr_breaks)
                raise input_error("LS401", path, line, f"not valid UTF-8: byte 0x{data[exc.start]:02x} cannot be "
                                  "decoded (save the file as UTF-8)", column=col) from None
    nul = data.find(b"\0")
    if nul >= 0:
        line, col = line_and_column(data, nul, cr_breaks=cr_breaks)
        raise input_error("LS402", path, line, "NUL byte in a label file", column=col,
                          hint="a text export holds no NUL: the file may be UTF-16 or binary; save it as UTF-8 text")


def line_and_column(data: bytes, offset: int, *, cr_breaks: bool) -> tuple[int, int]:
    """1-based physical line and character column of byte ``offset``, whose line up to it is valid UTF-8.

    Lines end at ``\\n``, and with ``cr_breaks`` at a lone ``\\r`` too. The column counts characters, as
    editors do (``é`` is two bytes and one column); a BOM opening the file is none."""
    breaks = data.count(b"\n", 0, offset)
    start = data.rfind(b"\n", 0, offset) + 1
    if cr_breaks:
        breaks += data.count(b"\r", 0, offset) - data.count(b"\r\n", 0, offset)
        start = max(start, data.rfind(b"\r", 0, offset) + 1)
    if start == 0 and data.startswith(BOM):
        start = len(BOM)
    return breaks + 1, len(data[start:offset].decode("utf-8", "replace")) + 1


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


def _pyarrow_read(data: bytes, path: str, delimiter: str, keep: list[str], ncols: int, *, quoted: bool,
                  repeated: Collection[str] = ()) -> pa.Table:
    """All columns typed string, nulls off, UTF-8 already checked; only the mapped columns are converted, those
    in ``repeated`` into dictionaries of strings (one per block).

    pyarrow parses in blocks (1 MiB by default) and a record must fit in one: on "straddling object" the file is
    parsed again with blocks four times larger, up to the whole file or :data:`MAX_RECORD_BYTES` (a record past
    that is LS402 at its line). Files of short records, the usual case, are parsed once."""
    types = {c: _DICTIONARY if c in repeated else pa.large_string() for c in keep}
    for block in _block_sizes(len(data)):
        try:
            table = pacsv.read_csv(
                pa.BufferReader(data), read_options=pacsv.ReadOptions(block_size=block) if block else None,
                parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=quoted),
                convert_options=pacsv.ConvertOptions(
                    column_types=types, include_columns=keep,
                    strings_can_be_null=False, quoted_strings_can_be_null=False, null_values=[], check_utf8=False),
            )
        except pa.ArrowInvalid as exc:
            if "straddl" in str(exc):  # a record longer than the block (or an unclosed quote: found below)
                continue
            _scan(data, path, delimiter, ncols)  # locates the problem and raises
            raise input_error("LS402", path, 0, f"cannot parse the file: {exc}") from None
        if table.column_names != keep or any(table.schema.field(c).type != types[c] for c in keep):
            raise input_error("LS402", path, 1, "the header could not be read consistently; check its quoting")
        return table
    raise _record_too_long(data, path, delimiter, ncols)


def _block_sizes(size: int) -> list[int | None]:
    """pyarrow's default block, then blocks four times larger up to the one that holds any record the file can
    have (``size`` + 1) or the limit."""
    last = min(size + 1, MAX_RECORD_BYTES)
    sizes: list[int | None] = [None]
    block = _DEFAULT_BLOCK
    while block < last:
        block = min(block * 4, last)
        sizes.append(block)
    return sizes


def _record_too_long(data: bytes, path: str, delimiter: str, ncols: int) -> InputError:
    """LS402 at the first record longer than :data:`MAX_RECORD_BYTES` (the stdlib pass raises first on damage
    such as an unclosed quote, which makes the rest of the file one record)."""
    starts = np.concatenate(([1], _scan(data, path, delimiter, ncols)))  # the header is a record too
    offsets = _line_offsets(data)
    ends = np.append(offsets[starts[1:] - 1], len(data))
    lengths = ends - offsets[starts - 1]
    long = np.flatnonzero(lengths > MAX_RECORD_BYTES)
    if not long.size:  # not expected: every block size was tried up to the whole file
        return input_error("LS402", path, 0, "cannot parse the file: a record does not fit pyarrow's blocks")
    return input_error("LS402", path, int(starts[long[0]]), f"record of {int(lengths[long[0]])} bytes, longer than "
                       f"the limit of {MAX_RECORD_BYTES} bytes", hint="a CSV or TSV record (a row with its quoted "
                       "line breaks) may hold at most 1 GiB: keep long texts out of the label file")


def _line_offsets(data: bytes) -> np.ndarray:
    """Byte offset where each physical line starts (``\\n``, ``\\r\\n`` and a lone ``\\r`` end one), scanned in
    chunks so that the masks stay small."""
    arr = np.frombuffer(data, np.uint8)
    parts = [np.zeros(1, np.int64)]
    for s in range(0, len(arr), _CHUNK):
        chunk, after = arr[s:s + _CHUNK], arr[s + 1:s + _CHUNK + 1]
        if len(after) < len(chunk):
            after = np.append(after, np.uint8(0))
        parts.append(np.flatnonzero((chunk == 10) | ((chunk == 13) & (after != 10))) + s + 1)
    return np.concatenate(parts)
