"""Shared pieces of the label-file readers: the column map, task shapes, the per-file parse result, located
input errors, strict JSON decoding, the canonical text of list values and the Arrow columns built from them.

It must not touch the filesystem (``readers.py`` reads the bytes) and must not judge content: unknown labels,
duplicates and rosters are checked later on the readers' output.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from labelspec.errors import Diagnostic, InputError, SourceLocation
from labelspec.spec.model import Columns
from labelspec.spec.resolve_checks import invisible
from labelspec.strictjson import MAX_DEPTH, JsonNumber, TooDeep, plain, strict_decoder

#: The canonical fields every reader fills, in output order (DESIGN.md §3).
FIELDS: tuple[str, ...] = ("item", "unit", "task", "annotator", "value", "timestamp", "lead_time")
#: Kinds whose value is a list (normalised to canonical JSON text).
LIST_KINDS: frozenset[str] = frozenset({"multi_choice", "spans", "ranking"})
#: Longest accepted JSONL line, in bytes (G13: per-line length limits).
MAX_LINE_BYTES = 1 << 20
#: Longest value text an exclusion detail or a message shows; the rest is counted, not printed.
MAX_SHOWN = 200
#: JSON type names by Python class, in test order (bool before int, JsonNumber before str: they subclass them).
_JSON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"), (JsonNumber, "number"), (str, "string"), ((int, float), "number"), (list, "array"),
    (dict, "object"))
#: What a decoded JSON string holds when its text had a ``\\uD800``-style escape with no partner: json pairs valid
#: surrogate escapes into one character, so any surrogate left is unpaired (and cannot be encoded as UTF-8).
_SURROGATE = re.compile("[\ud800-\udfff]")


#: How a label file names the canonical fields: the spec model's ``input.columns`` (one definition, one set of
#: defaults).
ColumnMap = Columns


def column_mapping(columns: Columns) -> dict[str, str]:
    """Canonical field → column name, in :data:`FIELDS` order."""
    return {f: getattr(columns, f) for f in FIELDS}


@dataclass(frozen=True)
class TaskShape:
    """What a reader must know of one spec task: its name and how its values are shaped."""

    name: str
    kind: str  # single_choice | multi_choice | rating | spans | pairwise | ranking | text | attribution
    list_valued: bool  # multi_choice, spans, ranking, attribution
    per_step: bool = False  # unit: step


@dataclass(frozen=True)
class Exclusion:
    """A record seen but not turned into a judgment, with the reason it was left out (G10 accounting)."""

    line: int
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Parsed:
    """One file's judgments as string columns (:data:`FIELDS` + ``ground_truth``) and their lines."""

    columns: dict[str, pa.Array | pa.ChunkedArray]
    lines: np.ndarray  # int64, one per row
    exclusions: tuple[Exclusion, ...] = ()
    info: Mapping[str, int] = field(default_factory=dict)
    format: str = ""
    #: (rows,) object: where a row came from when its line does not say (Label Studio exports are often one
    #: line: "task 7001, annotation 30001"); ``None`` when the line says it all
    origins: np.ndarray | None = None

    @property
    def rows(self) -> int:
        return len(self.lines)


@dataclass(frozen=True, eq=False)
class Where:
    """Where a file's rows were read: its path, each row's line and each field's name in the file, so that
    problems found after parsing (when the columns are built) are still reported at FILE:LINE."""

    path: str
    lines: np.ndarray  # int64, one per row
    names: Mapping[str, str]  # canonical field → how the file names it (a column, a JSON key, a path)

    def unpaired(self, fld: str, row: int, text: str) -> InputError:
        found = _SURROGATE.search(text)
        code = f"\\u{ord(found.group()):04x}" if found else "\\ud800-\\udfff"
        return input_error("LS401", self.path, int(self.lines[row]),
                           f"{self.names.get(fld, fld)} holds a JSON string with an unpaired surrogate ({code}), "
                           "which is not text", hint="a character outside the BMP is written as a pair of escapes "
                           "(\\ud83d\\ude00) or as itself")


def printable(text: str) -> str:
    """``text`` with lone surrogates (from JSON escapes) written as ``\\udXXX``: messages must encode as UTF-8."""
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


def input_error(code: str, path: str, line: int, message: str, *, column: int = 0, hint: str | None = None) -> InputError:
    """An :class:`InputError` located at ``path:line[:column]`` (line 0 = the whole file)."""
    return InputError(Diagnostic(code, printable(message), SourceLocation(path, line, column), hint=hint))


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "a value of no JSON type")


def json_shown(value: Any, limit: int = 60) -> str:
    """A decoded value as JSON text, for messages: its type and at most ``limit`` characters.

    Never fails, however odd the value: messages are built for values that broke a rule, such as ``1e999`` (no
    float can hold it) or a 5000-digit integer (past ``int``'s text limit), so numbers are shown as written and
    only the first ``limit`` characters are produced (iteratively: depth costs no recursion)."""
    if value is None:
        return "null"
    text, size = [], 0
    for piece in _json_pieces(value):
        text.append(piece[:limit - size + 1])
        size += len(text[-1])
        if size > limit:
            break
    shown = "".join(text)
    return f"{json_type(value)} {shown if size <= limit else shown[:limit] + '…'}"


def _json_pieces(value: Any) -> Iterator[str]:
    """The compact JSON text of a decoded value, piece by piece (an explicit stack instead of recursion)."""
    stack: list[Iterator[Any]] = [iter((value,))]
    while stack:
        v = next(stack[-1], _END)
        if v is _END:
            stack.pop()
        elif isinstance(v, _Raw):
            yield v.text
        elif isinstance(v, list):
            yield "["
            stack.append(_items(v))
        elif isinstance(v, dict):
            yield "{"
            stack.append(_members(v))
        else:
            yield _scalar_text(v)


class _Raw:
    """Punctuation between the values of :func:`_json_pieces`."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


_END = _Raw("")


def _items(values: list[Any]) -> Iterator[Any]:
    for i, v in enumerate(values):
        if i:
            yield _Raw(",")
        yield v
    yield _Raw("]")


def _members(values: dict[str, Any]) -> Iterator[Any]:
    for i, (k, v) in enumerate(values.items()):
        yield _Raw(("," if i else "") + _scalar_text(k) + ":")
        yield v
    yield _Raw("}")


def _scalar_text(value: Any) -> str:
    if isinstance(value, JsonNumber):
        return str.__str__(value)
    if isinstance(value, str):
        return json.dumps(value[:MAX_SHOWN], ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:  # NaN, infinity, an integer past the text conversion limit
        return f"<{type(value).__name__} without JSON text>"


def clip(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was: an exclusion's detail quotes the value, and
    a 200 KB label must not fill the terminal and the report (the row is still excluded and counted)."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def clip_texts(texts: np.ndarray) -> np.ndarray:
    """:func:`clip` over an object array of texts, vectorised (Arrow's string kernels); the array itself when
    nothing is long."""
    try:
        arr = pa.array(texts, pa.large_string())
    except (pa.ArrowException, TypeError, UnicodeEncodeError):  # not all text (or a lone surrogate): one by one
        return np.array([clip(t) if isinstance(t, str) else t for t in texts], dtype=object)
    lengths = pc.utf8_length(arr)
    long = pc.greater(lengths, MAX_SHOWN)
    if not pc.any(long).as_py():
        return texts
    text = pa.large_string()
    said = pc.binary_join_element_wise(pa.scalar("… (", text), lengths.cast(text), pa.scalar(" characters)", text),
                                       pa.scalar("", text))
    cut = pc.binary_join_element_wise(pc.utf8_slice_codeunits(arr, 0, MAX_SHOWN), said, pa.scalar("", text))
    return np.asarray(pc.if_else(long, cut, arr).to_numpy(zero_copy_only=False), dtype=object)


def required_fields(tasks: Sequence[TaskShape]) -> tuple[str, ...]:
    """item, annotator and value always; task only when the spec has several tasks."""
    return ("item", "task", "annotator", "value") if len(tasks) > 1 else ("item", "annotator", "value")


def missing_column_error(path: str, line: int, column: str, fld: str, found: Sequence[str]) -> InputError:
    close = difflib.get_close_matches(column, list(found), n=1)
    shown = ", ".join(repr(f) for f in found[:12]) or "none"
    bad = invisible(close[0]) if close else None  # input.columns cannot name such a column (LS304): fix the file
    hint = (f"did you mean {close[0]!r}? Map it with input.columns.{fld}" if close and not bad else
            f"the file names a column {close[0]!r}, with {bad}: rename it {column!r} in the file" if close else None)
    return input_error("LS403", path, line, f"missing required column {column!r} (input.columns.{fld}); found {shown}",
                       hint=hint)


# --- strict JSON (the decoder lives in labelspec.strictjson) -------------------------------------------


def canonical_json(value: Any) -> str:
    """The one text form of a list value: compact separators, UTF-8 kept, element order kept.

    :class:`UnwritableValue` when a number in it has no JSON text (NaN or infinity, e.g. ``1e999`` or a
    Parquet NaN; an integer of more than 4300 digits, Python's conversion limit), :class:`NestedTooDeep` when it
    nests deeper than ``strictjson.MAX_DEPTH``: callers locate the row."""
    try:
        return json.dumps(plain(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except TooDeep:
        raise NestedTooDeep(f"nests arrays or objects deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise UnwritableValue("holds a number JSON cannot carry (NaN, infinity or over 4300 digits)") from None
    except TypeError as exc:  # a value of no JSON type (bytes, a date): the readers refuse such types before
        raise UnwritableValue(f"holds a value of no JSON type ({exc})") from None


class UnwritableValue(ValueError):
    """A list value without canonical JSON text (see :func:`canonical_json`); the message completes "'key' …"."""


class NestedTooDeep(UnwritableValue):
    """A list value nesting deeper than ``strictjson.MAX_DEPTH``: no label value does, and a recursive walk of
    one ~500 levels deep would exhaust Python's stack."""


def canonical_list_text(cell: str, decoder: json.JSONDecoder) -> str:
    """A cell holding a JSON array → its canonical text; anything else stays exactly as written."""
    if not cell.lstrip(" \t\r\n").startswith("["):
        return cell
    try:
        value = decoder.decode(cell)
    except (ValueError, RecursionError):  # JSONDecodeError and JsonStrictError are ValueErrors
        return cell
    if not isinstance(value, list):
        return cell
    try:
        return canonical_json(value)
    except NestedTooDeep:  # kept as written, as ~1000 levels (undecodable) are: the content check excludes it
        return cell


def first_unwritable(values: Sequence[Any], text: Callable[[Any], object]) -> int:
    """Index of the first value ``text`` refuses with :class:`UnwritableValue`: searched only after converting
    the whole batch failed, so the fast path converts each value once."""
    for i, value in enumerate(values):
        try:
            text(value)
        except UnwritableValue:
            return i
    raise ValueError("no value is unwritable")


# --- columns -----------------------------------------------------------------------------------------------


def string_column(values: Sequence[str] | pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A string Arrow array without nulls. Chunks and the 32/64-bit offset width are kept as read: combining or
    widening 10M strings costs seconds; ``readers`` promotes widths when files differ."""
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values, pa.large_string())
    if _text_dictionary(arr) and not arr.null_count:  # a reader's dictionary of repeated values: kept, as text
        return arr
    if arr.type not in (pa.string(), pa.large_string()):
        arr = arr.cast(pa.large_string())
    return pc.fill_null(arr, "") if arr.null_count else arr


def _text_dictionary(arr: pa.Array | pa.ChunkedArray) -> bool:
    return bool(pa.types.is_dictionary(arr.type) and arr.type.value_type == pa.large_string())


def zero_buffer(n: int) -> pa.Buffer:
    """``8 * (n + 1)`` zero bytes: the offsets of ``n`` empty texts and, read as int32, the codes of ``n`` rows of
    a one-entry dictionary. One buffer serves every absent field of a file (immutable in Arrow): at 10M rows each
    field had its own, 80 or 40 MB for glibc's calloc to clear (~0.1 s in all)."""
    return pa.py_buffer(np.zeros(n + 1, np.int64))


def constant_column(text: str, n: int, zeros: pa.Buffer | None = None) -> pa.Array:
    """``n`` copies of ``text``, built from two numpy buffers (``pa.repeat`` is ~10x slower at 10M rows).

    The empty text (absent optional fields) has zero offsets: ``zeros`` (:func:`zero_buffer`) when given."""
    raw = text.encode("utf-8")
    if raw:
        offsets = pa.py_buffer(np.arange(0, (n + 1) * len(raw), len(raw), dtype=np.int64))
    else:
        offsets = zeros if zeros is not None else zero_buffer(n)
    return pa.Array.from_buffers(pa.large_string(), n, [None, offsets, pa.py_buffer(raw * n)])


def constant_dictionary(text: str, n: int, zeros: pa.Buffer | None = None) -> pa.DictionaryArray:
    """``n`` copies of ``text`` as a one-entry dictionary: its codes are zeros (``zeros``, :func:`zero_buffer`,
    when given), so the only task's name (or an absent unit's "") costs no memory per row (as text: 17 bytes per
    row, 170 MB and ~0.6 s at 10M rows). ``readers`` decodes it when another file has the column as text; the
    sorted encoding of the column takes it as is."""
    codes = pa.Array.from_buffers(pa.int32(), n, [None, zeros if zeros is not None else zero_buffer(n)])
    return pa.DictionaryArray.from_arrays(codes, pa.array([text], pa.large_string()))


_INT = r'(?:0|-?[1-9][0-9]*)'
_STR = r'"[^"\\\x00-\x1f]*"'
_SCALAR = f"(?:{_INT}|{_STR})"
_INNER = rf"\[(?:{_SCALAR}(?:,{_SCALAR})*)?\]"
_ELEMENT = f"(?:{_SCALAR}|{_INNER})"
#: Cells that are already canonical JSON: compact arrays (two levels deep at most) of integers and strings
#: without escapes. ``canonical_json(json.loads(cell)) == cell`` for every match (tested), so they skip parsing.
CANONICAL_CELL = rf"^\[(?:{_ELEMENT}(?:,{_ELEMENT})*)?\]$"


def normalise_list_cells(value: pa.Array | pa.ChunkedArray, task: pa.Array | pa.ChunkedArray,
                         tasks: Sequence[TaskShape], where: Where) -> pa.Array | pa.ChunkedArray:
    """Canonicalise the JSON-array cells of list-valued tasks; each distinct cell is parsed once."""
    names = [t.name for t in tasks if t.list_valued]
    if not names or len(value) == 0:
        return value
    text_type = task.type.value_type if pa.types.is_dictionary(task.type) else task.type  # the only task's name
    mask = pc.is_in(task, value_set=pa.array(names, text_type))
    if not pc.any(mask).as_py():
        return value
    every = bool(pc.all(mask).as_py())
    masked = value if every else pc.if_else(mask, value, "")
    # the usual case, every cell written in canonical form (as tools write them): one pass of the pattern over
    # the cells and none over distinct cells (1M span cells: 0.09 s against 0.27 s to find the distinct ones)
    canonical = pc.match_substring_regex(masked, CANONICAL_CELL)
    if not every:
        canonical = pc.or_(canonical, pc.invert(mask))
    if pc.all(canonical, skip_nulls=False).as_py():
        return value
    uniques = pc.unique(masked)
    already = pc.match_substring_regex(uniques, CANONICAL_CELL).to_numpy(zero_copy_only=False)
    todo = np.flatnonzero(~already)  # parsed: only cells not in canonical form (1M span cells: seconds saved)
    if todo.size == 0:
        return value
    decoder = strict_decoder()
    cells = uniques.take(pa.array(todo)).to_pylist()
    try:
        redone = [canonical_list_text(u, decoder) for u in cells]
    except UnwritableValue as exc:  # found again cell by cell, only now: its first row gets the error
        bad = todo[first_unwritable(cells, lambda u: canonical_list_text(u, decoder))]
        row = pc.index(masked, uniques[int(bad)]).as_py()
        raise input_error("LS404", where.path, int(where.lines[row]), f"{where.names.get('value', 'value')} {exc}"
                          ) from None
    texts = np.asarray(uniques.to_numpy(zero_copy_only=False), dtype=object)
    texts[todo] = redone
    try:
        fixed = pa.array(texts, uniques.type)
    except UnicodeEncodeError:  # a cell's JSON escapes decode to a lone surrogate: find its first row
        bad = next(i for i in todo if _SURROGATE.search(texts[i]))
        row = pc.index(masked, uniques[int(bad)]).as_py()
        raise where.unpaired("value", row, texts[bad]) from None
    if fixed.equals(uniques):
        return value
    return pc.if_else(mask, pc.take(fixed, pc.index_in(masked, value_set=uniques)), value)


def _text_column(values: Sequence[str] | pa.Array | pa.ChunkedArray, fld: str,
                 where: Where) -> pa.Array | pa.ChunkedArray:
    """:func:`string_column`, with strings decoded from JSON: Arrow refuses a lone surrogate once for the whole
    column, and only then are its strings searched for the first bad row (no per-string check on the fast path)."""
    try:
        return string_column(values)
    except UnicodeEncodeError:
        row = next(i for i, v in enumerate(values) if isinstance(v, str) and _SURROGATE.search(v))
        raise where.unpaired(fld, row, str(values[row])) from None


def repeated_fields(tasks: Sequence[TaskShape]) -> set[str]:
    """The fields whose values repeat across rows, which the CSV and Parquet readers read as dictionaries (no
    text per row; ``coded`` codes them from the dictionaries): annotators, tasks, steps, and the values when
    every task labels from a closed set (choices, ratings, pairwise). Not the items (millions of distinct ids:
    per-block dictionaries of them cost more to unify than coding the text once), free text or lists."""
    closed = bool(tasks) and not any(task.list_valued or task.kind == "text" for task in tasks)
    return {"unit", "task", "annotator", *(["value"] if closed else [])}


def dictionary_columns(mapping: Mapping[str, str], tasks: Sequence[TaskShape]) -> set[str]:
    """The file's columns (``mapping``: field → column) to read as dictionaries: those of repeated fields only
    (a column may serve two fields)."""
    repeated = repeated_fields(tasks)
    return {c for f, c in mapping.items() if f in repeated} - {c for f, c in mapping.items() if f not in repeated}


def finish_columns(found: Mapping[str, Any], tasks: Sequence[TaskShape],
                   where: Where) -> dict[str, pa.Array | pa.ChunkedArray]:
    """Fill absent optional fields with "" (task: the only task's name), canonicalise list values.

    Required fields must already be present (each reader reports them missing at its own location). One row per
    line of ``where``; text that cannot be stored (a lone surrogate) is an InputError at its row's line.
    """
    n = len(where.lines)
    cols: dict[str, pa.Array | pa.ChunkedArray] = {}
    absent = [f for f in (*FIELDS, "ground_truth") if f not in found]
    zeros = zero_buffer(n) if absent else None  # shared by the absent fields
    for f in (*FIELDS, "ground_truth"):
        if f in found:
            cols[f] = _text_column(found[f], f, where)
        elif f == "task" and len(tasks) == 1:
            cols[f] = constant_dictionary(tasks[0].name, n, zeros)
        elif f == "unit":  # coded like the task: one entry, nothing to scan (its min/max: ~0.14 s per 10M rows)
            cols[f] = constant_dictionary("", n, zeros)
        else:
            cols[f] = constant_column("", n, zeros)
    cols["value"] = normalise_list_cells(cols["value"], cols["task"], tasks, where)
    return cols
