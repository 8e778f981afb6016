"""JSON text for whole Arrow columns: the exact bytes ``json.dumps`` writes, without a Python call per value.

One job: turn columns (strings, floats, integers, booleans, lists of JSON texts) into arrays of compact JSON
texts, and join such arrays element-wise into lines. Every function reproduces what
``json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)`` writes for one value; only
rare values (control characters, floats outside [1e-4, 1e9)) fall back to Python, once per distinct value.
It knows nothing about releases: which columns, in which order, is ``release_jsonl``'s business.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Floats Arrow's shortest round-trip cast writes as Python's ``repr`` does (up to a missing ``.0``).
_FAST_LOW, _FAST_HIGH = 1e-4, 1e9
Fragment: TypeAlias = pa.Array | pa.ChunkedArray | str


def dumps(value: Any) -> str:
    """The one JSON flavour of a release (compact, sorted keys, UTF-8 text, no NaN); values are trees, so the
    encoder's cycle check (a tenth of its time) is skipped."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False,
                      check_circular=False)


def escaped(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each string escaped as inside a JSON string literal, unquoted; null stays null."""
    values = _as_array(values, pa.string())
    special = pc.fill_null(pc.match_substring_regex(values, r'[\x00-\x1f"\\]'), False)
    if not pc.any(special).as_py():  # the common case: nothing to escape
        return values
    out = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    control = pc.fill_null(pc.match_substring_regex(values, r"[\x00-\x1f]"), False)
    if pc.any(control).as_py():  # rare: \n, \t … and \u00XX, spelled by json itself once per distinct value
        encoded = pc.dictionary_encode(values.filter(control))
        fixed = pa.array([dumps(v)[1:-1] for v in encoded.dictionary.to_pylist()], pa.string())
        out = pc.replace_with_mask(out, control, fixed.take(encoded.indices))
    return out


def strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each string as a JSON string literal; null as ``null``."""
    return pc.fill_null(join(['"', escaped(values), '"']), "null")


def string_parts(values: pa.Array | pa.ChunkedArray) -> list[Fragment]:
    """:func:`strings` as fragments for :func:`join`: without nulls, the quotes are constants (merged with their
    neighbours, so the texts are copied once less)."""
    values = _as_array(values, pa.string())
    return ['"', escaped(values), '"'] if values.null_count == 0 else [strings(values)]


def repeated_strings(values: pa.Array | pa.ChunkedArray) -> Fragment:
    """:func:`strings` for a column of few distinct values: each distinct value escaped once, then taken; one
    text (a constant fragment, which :func:`join` merges with its neighbours) when every row has the same."""
    encoded = pc.dictionary_encode(_as_array(values, pa.string()), null_encoding="encode")
    texts = strings(encoded.dictionary)
    return taken(texts, encoded.indices.to_numpy(zero_copy_only=False))


def taken(texts: pa.Array, codes: np.ndarray) -> Fragment:
    """``texts.take(codes)`` as a fragment for :func:`join`: one constant text when every code is the same one
    (a column with one value, as an absent lead time or a single label file: no text copied per row); a null
    text is taken as it is, so that it is refused where texts must not be null."""
    if len(codes) and len(texts):
        first = int(codes[0])
        if 0 <= first < len(texts) and texts[first].is_valid and bool((codes == first).all()):
            text: str = texts[first].as_py()
            return text
    return as_large(texts).take(pa.array(codes))


def floats(values: np.ndarray) -> pa.Array:
    """Each float as Python's ``repr`` writes it; NaN as ``null``; infinity is an error, as in ``json.dumps``."""
    values = np.asarray(values, dtype=np.float64)
    if np.isinf(values).any():
        raise ValueError("Out of range float values are not JSON compliant")
    size = np.abs(values)
    fast = (size >= _FAST_LOW) & (size < _FAST_HIGH)
    text = _decimal_texts(values, fast)
    if text is None:
        text = pc.cast(pa.array(values), pa.string())
        bare = pc.and_not(pa.array(fast), pc.or_(pc.match_substring(text, "."), pc.match_substring(text, "e")))
        if pc.any(bare).as_py():  # whole numbers: Arrow writes "5", Python "5.0"
            text = pc.replace_with_mask(text, bare, pc.binary_join_element_wise(text.filter(bare), ".0", ""))
    nan = np.isnan(values)
    slow = ~fast & ~nan
    if slow.any():  # zeros, tiny and huge values: Python's repr, once per distinct value
        bits, codes = np.unique(values[slow].view(np.int64), return_inverse=True)  # by bits: -0.0 is not 0.0
        fixed = pa.array([repr(v) for v in bits.view(np.float64).tolist()], pa.string()).take(codes.reshape(-1))
        text = pc.replace_with_mask(text, pa.array(slow), fixed)
    return pc.if_else(pa.array(nan), "null", text) if nan.any() else text


#: Decimals up to which :func:`_decimal_texts` spells floats from integers (rounded posteriors have 6).
_DECIMALS = 6
_fractions: pa.Array | None = None


def _fraction_texts() -> pa.Array:
    """The 10**6 fraction texts after the point: ``0`` for none, else the six digits without trailing zeros
    (``000001``, ``5`` for 500000), made once by Arrow's string kernels."""
    global _fractions
    if _fractions is None:
        digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(10 ** _DECIMALS)), pa.string()), _DECIMALS, "0")
        trimmed = pc.utf8_rtrim(digits, "0")
        _fractions = pc.if_else(pc.equal(trimmed, ""), "0", trimmed)
    return _fractions


def _decimal_texts(values: np.ndarray, fast: np.ndarray) -> pa.Array | None:
    """``repr`` of the values in ``fast`` when each has at most six decimals (as rounded posteriors and shares
    have), from integers: ``n = v·10**6`` exactly, and ``repr(v)`` is ``n // 10**6``, a point, and the fraction's
    digits without trailing zeros. A decimal of at most 15 significant digits (9 before the point, 6 after)
    round-trips through its double, so no shorter text names the same value. None when some value has more
    decimals (Arrow's cast then); the positions outside ``fast`` get placeholders, which the caller replaces."""
    scale = 10.0 ** _DECIMALS
    kept = np.where(fast, values, 0.0)
    n = np.rint(kept * scale)
    if not np.array_equal(n / scale, kept):
        return None
    whole = n.astype(np.int64)
    negative = whole < 0
    np.abs(whole, out=whole)
    units, frac = np.divmod(whole, 10 ** _DECIMALS)
    head = pc.cast(pa.array(units), pa.string())
    if negative.any():
        head = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", head, ""), head)
    return pc.binary_join_element_wise(head, _fraction_texts().take(pa.array(frac)), ".")


def integers(values: np.ndarray | pa.Array) -> pa.Array:
    return pc.cast(pa.array(values, pa.int64()), pa.string())


def booleans(values: pa.Array) -> pa.Array:
    """``true``/``false``; null as ``null``."""
    return pc.fill_null(pc.if_else(values, "true", "false"), "null")


def items(offsets: np.ndarray, texts: pa.Array) -> pa.Array:
    """``a,b,…`` per row: the JSON texts of all rows' items joined by row (``offsets`` into ``texts``)."""
    nested = pa.ListArray.from_arrays(pa.array(offsets - offsets[0] if len(offsets) else [0], pa.int64()),
                                      _as_array(texts, pa.large_string()))
    return pc.binary_join(nested, pa.scalar(",", pa.large_string()))


def runs(texts: pa.Array, offsets: np.ndarray) -> pa.Array:
    """Row ``r``'s texts ``offsets[r]:offsets[r + 1]`` back to back (the caller put any separators in the texts):
    a view of the texts' data, no byte copied. A null text would read as empty, so it is an error."""
    texts = _as_array(texts, pa.large_string())
    if texts.null_count:
        raise ValueError(f"{texts.null_count} missing texts in runs of JSON texts")
    if len(offsets) == 0:
        return pa.array([], pa.large_string())
    ends = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset:texts.offset + len(texts) + 1]
    data = texts.buffers()[2] if texts.buffers()[2] is not None else pa.py_buffer(b"")
    bounds = pa.py_buffer(np.ascontiguousarray(ends[np.asarray(offsets, dtype=np.int64)]))
    return pa.LargeStringArray.from_buffers(len(offsets) - 1, bounds, data)


def lists(offsets: np.ndarray, texts: pa.Array) -> pa.Array:
    """``[a,b,…]`` per row from the JSON texts of all rows' items and the rows' offsets into them."""
    return join(["[", items(offsets, texts), "]"])


def join(fragments: Sequence[Fragment]) -> pa.Array:
    """Element-wise concatenation of equally long text arrays and constant texts (adjacent constants merged);
    at least one fragment is an array (it gives the number of rows)."""
    parts: list[pa.Array | pa.Scalar] = []
    for f in fragments:
        if isinstance(f, str) and parts and isinstance(parts[-1], pa.Scalar):
            parts[-1] = pa.scalar(parts[-1].as_py() + f, pa.large_string())
        else:
            parts.append(pa.scalar(f, pa.large_string()) if isinstance(f, str) else _as_array(f, pa.large_string()))
    if all(isinstance(p, pa.Scalar) for p in parts):
        raise ValueError("joining constant texts only: no array gives the number of rows")
    return pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string()))


def text_bytes(lines: pa.Array) -> memoryview:
    """All texts of a string array, back to back, without copying them (the array's data buffer)."""
    lines = _as_array(lines, pa.large_string())
    if len(lines) == 0 or lines.buffers()[2] is None:
        return memoryview(b"")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[int(offsets[0]):int(offsets[-1])]


def dumps_each(values: Sequence[dict[str, Any] | None]) -> list[str | None]:
    """``dumps`` of each value, in one encoder call over the whole list (split at a marker between values).

    The marker is the JSON list element ``"\\u0000"``; a value holding that very list element would split
    wrongly, which the count check catches: then each value is dumped on its own.
    """
    present = [v for v in values if v is not None]
    if not present:
        return [None] * len(values)
    marked: list[Any] = ["\x00"] * (2 * len(present) - 1)
    marked[::2] = present
    texts = dumps(marked)[1:-1].split(',"\\u0000",')
    if len(texts) != len(present):
        texts = [dumps(v) for v in present]
    it = iter(texts)
    return [None if v is None else next(it) for v in values]


def single(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One array (a one-chunk column's chunk, without a copy)."""
    if isinstance(values, pa.ChunkedArray):
        return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    return values


def as_large(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One large-string array (the type :func:`join` works in)."""
    return _as_array(values, pa.large_string())


def _as_array(values: pa.Array | pa.ChunkedArray, kind: pa.DataType) -> pa.Array:
    values = single(values)
    return values if values.type == kind else values.cast(kind)
