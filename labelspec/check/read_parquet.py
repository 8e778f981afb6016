"""Parquet label files → string columns; ``line`` is the 1-based row number.

Types are checked, never guessed: mapped columns must hold strings (plain, large, view or dictionary-encoded).
Exceptions, each exact: integer ids (item, unit, annotator); integer or float ``lead_time`` (written as Arrow
formats it: shortest round-trip text, ``1.0`` → "1", ``1e-07``); integer ``value`` when every task is a rating
(a float is LS404: ``4.0`` is no rating, as the text "4.0" is none in CSV or JSONL); a timestamp column for
``timestamp`` (ISO 8601 text, in UTC with ``Z`` when the column has a time zone, without offset otherwise; a time
outside years 1–9999 gives text saying so); a list of strings (``list<string>``, ``large_list``,
``fixed_size_list``, ``list_view`` or ``large_list_view``, elements plain, large, view or dictionary-encoded)
``value`` when some task is list-valued (canonical JSON text, nulls inside kept as ``null``; every flavour gives the
text ``list<string>`` gives): label and option ids are strings, so lists of numbers, booleans, bytes, dates or
structs are LS404. Anything else is LS404, naming the column, its type and what is accepted. Nulls become "".
Arrow does not check that Parquet strings are UTF-8, so text columns are validated here (LS401 at the first bad
row). Text columns of repeated values (``read_common.repeated_fields``) are read as dictionaries, and stay so when
their dictionaries are valid and the column has no null. Must not touch the filesystem.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from labelspec.check.read_common import (
    ColumnMap,
    Parsed,
    TaskShape,
    UnwritableValue,
    Where,
    canonical_json,
    column_mapping,
    dictionary_columns,
    finish_columns,
    first_unwritable,
    input_error,
    missing_column_error,
    required_fields,
)
from labelspec.runtime import usable_cpus

#: Seconds from 1970-01-01 to 0001-01-01 and to 10000-01-01 (UTC): the years ISO 8601 text can be read in.
_YEAR_1, _YEAR_10000 = -62_135_596_800, 253_402_300_800


def parse_parquet(data: bytes, path: str, columns: ColumnMap, tasks: Sequence[TaskShape]) -> Parsed:
    """Read one Parquet file; raise InputError LS401 (corrupt), LS403 (columns), LS404 (types)."""
    try:
        meta = pq.ParquetFile(pa.BufferReader(data))
        schema = meta.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise input_error("LS401", path, 0, f"not a readable Parquet file: {exc}") from None
    names = schema.names
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise input_error("LS403", path, 0, f"duplicate column {dups[0]!r}")
    mapping = {f: c for f, c in column_mapping(columns).items() if c in names}
    for fld in required_fields(tasks):
        if fld not in mapping:
            raise missing_column_error(path, 0, getattr(columns, fld), fld, names)
    for fld, col in mapping.items():
        _check_type(path, fld, col, schema.field(col).type, tasks)
    # repeated values come as dictionaries (no text per row; coded from the dictionaries, ``coded``)
    repeated = dictionary_columns(mapping, tasks)
    as_dictionary = sorted(c for c in repeated if _is_plain_text(schema.field(c).type) and _small_dictionaries(meta, c))
    try:
        table = pq.read_table(pa.BufferReader(data), columns=list(dict.fromkeys(mapping.values())),
                              read_dictionary=as_dictionary)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise input_error("LS401", path, 0, f"corrupt Parquet data: {exc}") from None
    # the columns side by side (Arrow's casts and UTF-8 validation release the GIL: 10M rows of three columns,
    # 0.17 s in turn, 0.11 s so); an error is raised for the first bad column in order, as one by one
    with ThreadPoolExecutor(max_workers=min(len(mapping), usable_cpus()) or 1) as pool:
        jobs = [pool.submit(_to_text, table.column(c), path, c, c in repeated) for c in mapping.values()]
        # meanwhile the line numbers: 80 MB of fresh memory at 10M rows, whose pages cost more than the counting
        lines = np.arange(1, table.num_rows + 1, dtype=np.int64)
        texts = [job.result() for job in jobs]
    found = dict(zip(mapping, texts, strict=True))
    where = Where(path, lines, {f: repr(c) for f, c in mapping.items()})
    return Parsed(finish_columns(found, tasks, where), where.lines, format="parquet")


#: A column is read as a dictionary when each row group's dictionary page takes at most this share of the column's
#: data there (compressed), or at most :data:`_SMALL_PAGE` bytes (a few hundred short values: small files).
_DICTIONARY_SHARE = 1 / 32
_SMALL_PAGE = 4096


def _small_dictionaries(meta: pq.ParquetFile, column: str) -> bool:
    """Whether ``column`` was written with a small dictionary in every row group: few distinct values, whose
    dictionaries are cheap to read and unify. Many distinct values (100k annotators, globally unique step ids) make
    large dictionaries, or plain pages once a dictionary outgrows the writer's limit (1 MiB in Arrow and
    parquet-mr), which pyarrow would hash into dictionaries again: those are read as text (measured: 2M rows of
    100k annotators, 0.25 s as text against 0.29 s as dictionaries)."""
    md = meta.metadata
    if md.num_row_groups == 0:
        return False
    names = [md.row_group(0).column(i).path_in_schema for i in range(md.num_columns)]
    if names.count(column) != 1:
        return False
    index = names.index(column)
    for rg in range(md.num_row_groups):
        chunk = md.row_group(rg).column(index)
        start = chunk.dictionary_page_offset
        if not chunk.has_dictionary_page or not start or chunk.data_page_offset <= start:
            return False
        if chunk.data_page_offset - start > max(_SMALL_PAGE, _DICTIONARY_SHARE * chunk.total_compressed_size):
            return False
    return True


def _is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _is_plain_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _is_list(t: pa.DataType) -> bool:
    """Every Arrow list flavour pyarrow writes to Parquet and reads back as itself."""
    return bool(pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
                or pa.types.is_list_view(t) or pa.types.is_large_list_view(t))


def _as_large_list(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """A list column of any flavour as ``large_list`` with contiguous offsets, rebuilt from each chunk's lengths
    and flattened values. Not ``cast``: Arrow's list_view → list cast ignores the sizes buffer and builds an invalid
    array (apache/arrow#50994), and a cast fixed_size_list keeps the slots of null lists, which ``flatten`` skips."""
    t = arr.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return arr
    chunks = []
    for chunk in arr.chunks:
        lengths = pc.fill_null(pc.list_value_length(chunk), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]), pa.int64())
        chunks.append(pa.LargeListArray.from_arrays(offsets, pc.list_flatten(chunk), mask=chunk.is_null()))
    return pa.chunked_array(chunks, pa.large_list(t.value_type))


def _is_number(t: pa.DataType) -> bool:
    return bool(pa.types.is_integer(t) or pa.types.is_floating(t))


def _allowed(fld: str, t: pa.DataType, tasks: Sequence[TaskShape]) -> bool:
    if _is_text(t) or pa.types.is_null(t):  # Arrow's null type: a column whose every value is missing
        return True
    if fld in ("item", "unit", "annotator"):
        return bool(pa.types.is_integer(t))
    if fld == "lead_time":
        return _is_number(t)
    if fld == "timestamp":
        return bool(pa.types.is_timestamp(t))
    if fld == "value" and pa.types.is_integer(t):
        return _all_ratings(tasks)
    if fld == "value" and _is_list(t) and any(task.list_valued for task in tasks):
        # label and option ids are strings; a list of null (every list empty) is the only other element type
        return _is_text(t.value_type) or bool(pa.types.is_null(t.value_type))
    return False


def _all_ratings(tasks: Sequence[TaskShape]) -> bool:
    return bool(tasks) and all(task.kind == "rating" for task in tasks)


def _check_type(path: str, fld: str, col: str, t: pa.DataType, tasks: Sequence[TaskShape]) -> None:
    if _allowed(fld, t, tasks):
        return
    also = {"item": "integer", "unit": "integer", "annotator": "integer", "lead_time": "integer or float",
            "timestamp": "timestamp"}.get(fld, "")
    if fld == "value":
        also = " or ".join((["integer (every task is a rating)"] if _all_ratings(tasks) else [])
                           + (["list<string> (for list-valued tasks)"] if any(x.list_valued for x in tasks) else []))
    hint = None
    if fld == "value" and pa.types.is_floating(t) and _all_ratings(tasks):
        hint = "a rating is an integer written plainly (4.0 is no rating in any format): write integers"
    elif fld == "value" and pa.types.is_nested(t):
        hint = ("label and option ids are strings: write list<string>, or a string holding the value's JSON "
                "(a span list: [[start, end, label], ...])")
    raise input_error("LS404", path, 0, f"column {col!r} (input.columns.{fld}) has Parquet type {t}; expected "
                      f"string{', or ' + also if also else ''}", hint=hint)


def _to_text(arr: pa.ChunkedArray, path: str, col: str, repeated: bool = False) -> pa.ChunkedArray | pa.Array:
    """The column as text; a dictionary-encoded text column of a ``repeated`` field stays one (its dictionaries
    validated), unless it has nulls, which become "" as in every other column."""
    t = arr.type
    if pa.types.is_dictionary(t):
        if repeated and _is_text(t) and not arr.null_count and _valid_dictionaries(arr):
            return arr.cast(pa.dictionary(t.index_type, pa.large_string()))
        return _valid_utf8(arr.cast(pa.large_string()), path, col)
    if pa.types.is_timestamp(t):
        return _timestamp_text(arr)
    if _is_list(t):
        arr = _as_large_list(arr)
        _valid_utf8(arr, path, col)
        # One Python call per row, only for list-valued cells (canonical JSON has no vectorised form).
        cells = arr.to_pylist()
        try:
            return pa.array([None if v is None else canonical_json(v) for v in cells], pa.large_string())
        except UnwritableValue as exc:
            row = first_unwritable(cells, lambda v: v is not None and canonical_json(v))
            raise input_error("LS404", path, row + 1, f"column {col!r} {exc}") from None
    if pa.types.is_string_view(t):  # Arrow's newer string layout (polars writes it): the readers' layout
        arr = arr.cast(pa.large_string())
    return _valid_utf8(arr, path, col) if _is_text(t) else arr.cast(pa.large_string())


def _timestamp_text(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """ISO 8601 text of a timestamp column. A time outside years 1–9999, which ``strftime`` would wrap into a
    plausible date (-6e16 ms gave year 1189), becomes text saying so: the record check excludes it as
    ``bad_timestamp``, as it does the same time written as text."""
    t = arr.type
    raw = arr.cast(pa.int64())
    out = _out_of_range(raw, t.unit)
    if out is not None:
        arr = pc.if_else(out, pa.scalar(0, t), arr)  # formatted below, then replaced
    text = pc.strftime(arr if not t.tz else arr.cast(pa.timestamp(t.unit, "UTC")), format="%Y-%m-%dT%H:%M:%S")
    if t.tz:
        text = pc.binary_join_element_wise(text, "Z", "")
    if out is None:
        return text
    said = pc.binary_join_element_wise(raw.cast(pa.string()), f" {t.unit} from 1970-01-01, outside years 1-9999", "")
    return pc.if_else(out, said, text)


def _out_of_range(raw: pa.ChunkedArray, unit: str) -> pa.ChunkedArray | None:
    """Which times (as int64 counts of ``unit``) fall outside years 1–9999; None when none does (nanoseconds in
    an int64 never do: they span 1677–2262)."""
    per_second = {"s": 1, "ms": 10**3, "us": 10**6}.get(unit)
    if per_second is None:
        return None
    out = pc.or_(pc.less(raw, _YEAR_1 * per_second), pc.greater_equal(raw, _YEAR_10000 * per_second))
    return out if pc.any(out).as_py() else None


def _valid_utf8(arr: pa.ChunkedArray, path: str, col: str) -> pa.ChunkedArray:
    """``arr`` when its strings (or list elements) are UTF-8; else LS401 at the first bad row. Arrow's full
    validation runs in C (~50 ms per 10M strings); only a failing chunk is bisected to find the row."""
    offset = 0
    for chunk in arr.chunks:
        strings = chunk.flatten() if _is_list(chunk.type) else chunk
        if _is_text(strings.type):
            try:
                strings.validate(full=True)
            except pa.ArrowInvalid:
                bad = _first_invalid(strings)
                row = pc.list_parent_indices(chunk)[bad].as_py() if strings is not chunk else bad
                raise input_error("LS401", path, offset + row + 1, f"column {col!r} holds text that is not valid "
                                  "UTF-8 (bytes written to a string column without decoding)") from None
        offset += len(chunk)
    return arr


def _valid_dictionaries(arr: pa.ChunkedArray) -> bool:
    """Whether every chunk's dictionary is UTF-8 text without nulls (else the column is decoded and validated
    row by row, which names the first bad row)."""
    for chunk in arr.chunks:
        if chunk.dictionary.null_count:
            return False
        try:
            chunk.dictionary.validate(full=True)
        except pa.ArrowInvalid:
            return False
    return True


def _first_invalid(strings: pa.Array) -> int:
    """Index of the first string that fails validation, in an array known to hold one: bisection over zero-copy
    slices, each validated in C (linear in all)."""
    lo, hi = 0, len(strings)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            strings.slice(lo, mid - lo).validate(full=True)
            lo = mid
        except pa.ArrowInvalid:
            hi = mid
    return lo
