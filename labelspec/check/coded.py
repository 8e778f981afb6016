"""Dictionary codes of the judgment table's id columns, made once when the files are read (G13).

One job: give every later stage integer codes for ``item``, ``unit``, ``task``, ``annotator`` and ``value``
without hashing or sorting text again. Each column is encoded once over all files (pyarrow's
``dictionary_encode``, the benchmark floor; fixed-width ids by sorting packed keys; the repeated values that
the CSV and Parquet readers give as dictionaries, from those dictionaries), then the codes are renumbered so
that they follow the sorted order of the text. A subset's ``numpy.unique`` over codes therefore orders exactly
like ``pd.factorize(sort=True)`` over its strings, so reports do not depend on the order of the input rows.

These columns *are* pandas Categoricals (codes plus sorted categories): each distinct text is held once, the
rows hold only codes (at 10M judgments ~650 MB less than Arrow strings per row), and codes stay aligned with
their rows under any filter. Pandas treats them as text for ``==``, ``isin``, ``.str``, ``astype(str)``, merges
and sorting (category order is the text's order); ``+`` needs ``astype(str)`` first. Frames built elsewhere
(tests, calibration files, replaced columns) hold plain text: :func:`codes_of` then encodes on the spot, with
the same result.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from functools import partial
from typing import Any, TypeAlias, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from labelspec.runtime import usable_cpus

_T = TypeVar("_T")

#: The judgment table's fields read as sorted-code Categoricals.
CODED: tuple[str, ...] = ("item", "unit", "task", "annotator", "value")


#: Rows grouped by their code and the groups' offsets, as ``ordering.group_order`` returns them.
Grouping: TypeAlias = tuple[np.ndarray, np.ndarray]


def sorted_categorical(column: pa.Array | pa.ChunkedArray) -> pd.Categorical:
    """One dictionary encoding of ``column``, its categories in sorted (code point) order."""
    return grouped_categorical(column, group=False)[0]


def grouped_categorical(column: pa.Array | pa.ChunkedArray, *, group: bool = True
                        ) -> tuple[pd.Categorical, Grouping | None]:
    """:func:`sorted_categorical`, and (``group``) the rows grouped by code when the sort that coded them grouped
    them too (``ordering.group_order(codes, len(categories))``, exactly; None otherwise): the item ids' sort is
    the accounting's grouping by item, which cost it a second sort of 10M rows (~0.7 s)."""
    constant = _one_entry(column)
    if constant is not None:  # the only task, as the readers code it: nothing to hash, nothing to read
        return pd.Categorical.from_codes(np.zeros(len(column), np.int32), validate=False,
                                         categories=pd.Index([constant], dtype=pd.StringDtype("pyarrow"))), None
    if pa.types.is_dictionary(column.type):
        from_dictionaries = _dictionary_codes(column)
        if from_dictionaries is not None:
            return from_dictionaries, None
        column = column.cast(column.type.value_type)
    if _maybe_constant(column):
        low, high = pc.min_max(column).values()
        if len(column) and low == high:  # a constant column (an absent field, the only task): nothing to hash
            return pd.Categorical.from_codes(np.zeros(len(column), np.int32), validate=False,
                                             categories=pd.Index([low.as_py()], dtype=pd.StringDtype("pyarrow"))), None
    by_sorting = _sorted_codes(column, group=group)  # chunk by chunk: no combined copy of the strings
    if by_sorting is not None:
        codes, texts, grouping = by_sorting
        return distinct_categorical(codes, pd.Index(texts.to_pandas(types_mapper=_string_type))), grouping
    arr = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    indices, dictionary = _fixed_width_encode(arr) or _text_encode(arr)
    order = _dictionary_order(dictionary)
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    codes = rank[indices.to_numpy(zero_copy_only=False)] if len(arr) else np.zeros(0, np.int32)
    categories = pd.Index(_taken(dictionary, order).to_pandas(types_mapper=_string_type))
    return distinct_categorical(codes, categories), None


#: Ids are coded from packed keys when there are at least this many rows (fewer: Arrow's hash table is as fast).
_SORT_ROWS = 1 << 16
#: Keys of at most this many bits are coded through a table of every possible key (a mark per key: 2**20 bytes at
#: most), wider ones by one sort of the keys with the row numbers beside them.
_TABLE_BITS = 20
#: Rows per piece when packing keys: a piece's keys stay in cache through the per-byte passes.
_PACK_ROWS = 1 << 16
#: From this many rows on, the packed-key passes run in two halves side by side (:func:`_sort_codes`).
_HALVES_ROWS = 1 << 20


def _sorted_codes(column: pa.Array | pa.ChunkedArray, *, group: bool = True
                  ) -> tuple[np.ndarray, pa.Array, Grouping | None] | None:
    """(sorted-rank code per row, sorted distinct texts, the rows grouped by code, if ``group`` and made) of
    fixed-width ids, without a hash table; None when the ids do not pack (other widths, nulls, keys too wide).

    Each byte position contributes the bits that vary in it across the rows, up to the highest one (``i0001234``:
    the constant ``i`` none, each digit 4; the bits above are the same in every row, so the kept low bits order
    the bytes as the whole bytes do), most significant byte first: the packed key orders exactly as the bytes
    do, and a distinct id's text is its key's bits put back over the constant ones (no gather from the
    strings). Keys of up to :data:`_TABLE_BITS` bits (``a0042``: 16) are coded through a table of every key:
    mark, count, look up. Wider ones (10M ids of 8 bytes, 3.3M distinct) go with the row number beside them in
    one int64, whose value sort groups equal ids and orders them at once (``ordering``'s packed sort): ~0.6 s,
    against ~1.8 s for hashing them (Arrow), ordering the dictionary and remapping the codes; the grouping by
    code is the sort's row order (``ordering.group_order``'s answer, exactly), made only by this path. The
    column is read chunk by chunk as Arrow holds it: combining 10M strings first was a 160 MB copy (~0.25 s)."""
    chunks = [c for c in (column.chunks if isinstance(column, pa.ChunkedArray) else [column]) if len(c)]
    n = sum(len(c) for c in chunks)
    if n == 0 or n < _SORT_ROWS:
        return None
    spans = [_fixed_width(c) for c in chunks]
    width = spans[0][0] if spans[0] is not None else 0
    if width == 0 or any(sp_ is None or sp_[0] != width for sp_ in spans):
        return None
    cells = [np.frombuffer(c.buffers()[2], dtype=np.uint8, count=len(c) * width, offset=sp_[1]).reshape(len(c), width)
             for c, sp_ in zip(chunks, spans, strict=True) if sp_ is not None]
    high = np.bitwise_or.reduce([_across_rows(np.bitwise_or, c) for c in cells], axis=0)
    low = np.bitwise_and.reduce([_across_rows(np.bitwise_and, c) for c in cells], axis=0)
    bits = [int(v).bit_length() for v in (high ^ low).tolist()]
    fields = [(j, bits[j], (1 << bits[j]) - 1) for j in np.flatnonzero(bits).tolist()]
    key_bits = sum(bits)
    if key_bits == 0:  # one id (a constant column the end check let through)
        return None
    texts = partial(_key_texts, column.type, low, fields)
    if key_bits <= _TABLE_BITS:
        return (*_table_codes(cells, fields, key_bits, texts), None)
    position_bits = (n - 1).bit_length()
    if key_bits + position_bits > 63:
        return None
    return _sort_codes(cells, fields, position_bits, texts, group)


def _pack(cells: list[np.ndarray], fields: list[tuple[int, int, int]], out: np.ndarray, position_bits: int = 0,
          row: int = 0) -> None:
    """Each row's key (its bytes' varying bits, most significant byte first) into ``out``, with the row number in
    the low ``position_bits`` when asked (``row``: the number of the first row of ``cells``, which ``out``
    holds from its start); by pieces of rows, a pass per varying byte (a few) in cache."""
    end = 0
    for rows_of in cells:
        for a in range(0, len(rows_of), _PACK_ROWS):
            rows = rows_of[a:a + _PACK_ROWS]
            piece = out[end:end + len(rows)]
            piece[:] = 0
            for j, b, mask in fields:
                piece <<= b
                piece |= rows[:, j] & mask
            if position_bits:
                piece <<= position_bits
                piece |= np.arange(row + end, row + end + len(rows), dtype=out.dtype)
            end += len(rows)


def _key_texts(kind: pa.DataType, constant: np.ndarray, fields: list[tuple[int, int, int]], keys: np.ndarray
               ) -> pa.Array:
    """The fixed-width texts (Arrow ``kind``) of packed ``keys``: each varying byte's bits put back over the bits
    every row shares (``constant``: the bytes AND-ed over all rows; a varying byte's kept bits are 0 there)."""
    cells = np.repeat(constant[None, :], len(keys), axis=0)
    shift = sum(b for _, b, _ in fields)
    for j, b, mask in fields:
        shift -= b
        cells[:, j] |= ((keys >> shift) & mask).astype(np.uint8)
    return _cells_array(kind, cells, cells.shape[1])


def _table_codes(cells: list[np.ndarray], fields: list[tuple[int, int, int]], key_bits: int,
                 texts: Callable[[np.ndarray], pa.Array]) -> tuple[np.ndarray, pa.Array]:
    """Codes of keys of few bits: the keys that occur marked in a table of every key, their ranks counted, each
    row's looked up (10M ids like ``a0042``: ~0.1 s, against ~0.5 s for Arrow's hash table and the remap)."""
    n = sum(len(c) for c in cells)
    keys = np.empty(n, dtype=np.int32)  # key_bits <= _TABLE_BITS < 31
    _pack(cells, fields, keys)
    seen = np.zeros(1 << key_bits, dtype=bool)
    seen[keys] = True
    rank = np.cumsum(seen, dtype=np.int32)
    rank -= 1
    return rank.take(keys), texts(np.flatnonzero(seen))


def _sort_codes(cells: list[np.ndarray], fields: list[tuple[int, int, int]], position_bits: int,
                texts: Callable[[np.ndarray], pa.Array], group: bool
                ) -> tuple[np.ndarray, pa.Array, Grouping | None]:
    """The packed-key path of :func:`_sorted_codes`: each pass but the sort runs in two halves of the rows side by
    side (numpy releases the GIL) when there are many rows and two CPUs; the other coding thread is idle by
    then (the other columns are few-valued: coded in ~0.1 s, the item ids' passes take ~0.5 s at 10M rows)."""
    n = sum(len(c) for c in cells)
    with ThreadPoolExecutor(max_workers=1) if n >= _HALVES_ROWS and usable_cpus() > 1 else nullcontext() as pool:
        packed = np.empty(n, dtype=np.int64)
        sizes = np.cumsum([len(c) for c in cells])
        cut = int(np.searchsorted(sizes, n // 2))  # the chunks before it, then the others
        done = int(sizes[cut - 1]) if cut else 0
        _halves(pool, partial(_pack, cells[:cut], fields, packed[:done], position_bits),
                partial(_pack, cells[cut:], fields, packed[done:], position_bits, done))
        packed.sort()
        # the row numbers (the rows grouped by id, in row order within each: group_order's answer, in its index
        # type), where each id starts and its key, by pieces: no full-length temporary (40-80 MB of fresh memory)
        index_type = np.int32 if n < 1 << 31 else np.int64
        order = np.empty(n, dtype=index_type)
        first = np.empty(n, dtype=bool)
        first[0] = True
        middle = min(n, _PACK_ROWS * -(-n // (2 * _PACK_ROWS)))  # a piece boundary at the middle or after it
        heads = _halves(pool, partial(_mark_ids, packed, position_bits, order, first, 0, middle),
                        partial(_mark_ids, packed, position_bits, order, first, middle, n))
        del packed
        codes = np.empty(n, dtype=np.int32)
        before = int(np.count_nonzero(first[:middle]))  # the ids that start in the first half
        _halves(pool, partial(_rank_rows, first, order, codes, 0, middle, -1),
                partial(_rank_rows, first, order, codes, middle, n, before - 1))
    distinct = texts(np.concatenate(heads[0] + heads[1]))  # the ids in sorted order, from their keys
    if not group:
        return codes, distinct, None
    offsets = np.empty(len(distinct) + 1, dtype=index_type)
    offsets[:-1] = np.flatnonzero(first)
    offsets[-1] = n
    return codes, distinct, (order, offsets)


def _mark_ids(packed: np.ndarray, position_bits: int, order: np.ndarray, first: np.ndarray, start: int, stop: int
              ) -> list[np.ndarray]:
    """Rows ``[start, stop)`` of the sorted packed keys: each row's number into ``order``, whether it starts an id
    into ``first`` (row 0's is set by the caller), and the keys of the ids that start there, by pieces."""
    heads = []
    for a in range(start, stop, _PACK_ROWS):
        b = min(a + _PACK_ROWS, stop)
        np.bitwise_and(packed[a:b], (1 << position_bits) - 1, out=order[a:b], casting="unsafe")
        keys = packed[max(a - 1, 0):b] >> position_bits
        np.not_equal(keys[1:], keys[:-1], out=first[max(a, 1):b])
        heads.append((keys if a == 0 else keys[1:])[first[a:b]])
    return heads


def _rank_rows(first: np.ndarray, order: np.ndarray, codes: np.ndarray, start: int, stop: int, last: int) -> None:
    """Rows ``[start, stop)`` of the sorted keys: each row's id rank into ``codes`` at its row number; ``last``:
    the rank of the row before ``start``."""
    for a in range(start, stop, _PACK_ROWS):
        ranks = np.cumsum(first[a:min(a + _PACK_ROWS, stop)], dtype=np.int32)
        ranks += last
        codes[order[a:a + len(ranks)]] = ranks
        last = int(ranks[-1])


def _halves(pool: ThreadPoolExecutor | None, first: Callable[[], _T], second: Callable[[], _T]) -> tuple[_T, _T]:
    """``first()`` and ``second()``: side by side on the pool's thread and this one, when there is a pool."""
    if pool is None:
        return first(), second()
    other = pool.submit(first)
    mine = second()
    return other.result(), mine


def _across_rows(op: np.ufunc, cells: np.ndarray) -> np.ndarray:
    """``op.reduce(cells, axis=0)`` of (N, W) bytes: a reduction along rows of W bytes runs its loop W bytes at a
    time (10M rows of 8: ~0.2 s); over lines of many rows first, then those lines' rows, it streams (~5 ms)."""
    n, width = cells.shape
    rows = max(1, 4096 // width)
    whole = n - n % rows
    lines = op.reduce(cells[:whole].reshape(-1, rows * width), axis=0).reshape(rows, width) if whole else cells[:0]
    reduced: np.ndarray = op.reduce(np.concatenate([lines, cells[whole:]]), axis=0)
    return reduced


def _maybe_constant(arr: pa.Array) -> bool:
    """False when ``arr`` surely holds two distinct values: its first and last are both present and differ (an
    id column, almost always). Saves the min/max pass over every string (10M ids: 0.14 s) that tells a constant
    column (an absent field) apart."""
    if len(arr) < 2:
        return True
    first, last = arr[0], arr[-1]
    return not (first.is_valid and last.is_valid and first.as_py() != last.as_py())


def _taken(texts: pa.Array, order: np.ndarray) -> pa.Array:
    """``texts.take(order)``. Texts of one byte width W (the dictionary of fixed-width ids) are moved as W-byte
    cells by numpy: 3.3M 8-byte ids in ~0.03 s, against ~0.3 s for Arrow's take of strings."""
    span = _fixed_width(texts)
    return texts.take(pa.array(order)) if span is None else _taken_cells(texts, *span, order)


def _taken_cells(texts: pa.Array, width: int, start: int, rows: np.ndarray) -> pa.Array:
    """``texts.take(rows)`` for texts of one byte width, each value moved as one ``width``-byte numpy cell (the
    new array's data is that numpy array, kept alive by the Arrow buffer)."""
    cells = np.frombuffer(texts.buffers()[2], dtype=np.dtype(f"V{width}"), count=len(texts), offset=start)
    return _cells_array(texts.type, cells.take(rows), width)


def _cells_array(kind: pa.DataType, cells: np.ndarray, width: int) -> pa.Array:
    """Texts (Arrow ``kind``) of ``width`` bytes each, one per cell of ``cells`` (its data used as it is)."""
    offset_type = np.int64 if pa.types.is_large_string(kind) else np.int32
    offsets = np.arange(len(cells) + 1, dtype=offset_type) * width
    return pa.Array.from_buffers(kind, len(cells), [None, pa.py_buffer(offsets), pa.py_buffer(cells)])


def string_offsets(texts: pa.Array) -> np.ndarray:
    """The ``len(texts) + 1`` byte offsets of a plain (``string`` or ``large_string``) Arrow array, a view of its
    buffer (a slice's own): value i is bytes ``[offsets[i], offsets[i + 1])`` of the data buffer."""
    offset_bytes = 8 if pa.types.is_large_string(texts.type) else 4
    return np.frombuffer(texts.buffers()[1], dtype=f"<i{offset_bytes}", count=len(texts) + 1,
                         offset=texts.offset * offset_bytes)


def _fixed_width(texts: pa.Array) -> tuple[int, int] | None:
    """(W, first byte) when ``texts`` is non-null plain text whose values all take W > 0 bytes, else None."""
    if not len(texts) or texts.null_count or not (pa.types.is_string(texts.type)
                                                    or pa.types.is_large_string(texts.type)):
        return None
    offsets = string_offsets(texts)
    start, end = int(offsets[0]), int(offsets[-1])
    width, rest = divmod(end - start, len(texts))
    if rest or width == 0:
        return None
    for a in range(0, len(texts), _PACK_ROWS):  # by pieces: no 10M-row difference array to allocate
        if not (np.diff(offsets[a:a + _PACK_ROWS + 1]) == width).all():
            return None
    return width, start


def _text_encode(arr: pa.Array) -> tuple[pa.Array, pa.Array]:
    enc = pc.dictionary_encode(arr)
    return enc.indices, enc.dictionary


def _fixed_width_encode(arr: pa.Array) -> tuple[pa.Array, pa.Array] | None:
    """``dictionary_encode`` of ids that all have one byte width W (zero-padded numbers, UUIDs, hashes), hashed
    as W-byte values: unsigned integers for W = 1, 2, 4, 8, fixed-size binary otherwise. Arrow hashes those 2-3x
    faster than strings (3.3M distinct 8-byte ids in 10M rows: ~1.2 s against ~3 s). The values are views of the
    strings' data, and the dictionary is turned back into the same strings, in the same first-seen order.
    None when the ids are not all of one width (or not plain non-null text)."""
    span = _fixed_width(arr)
    if span is None:
        return None
    width, start = span
    offset_bytes = 8 if pa.types.is_large_string(arr.type) else 4
    data = arr.buffers()[2].slice(start, width * len(arr))
    aligned = {1: pa.uint8(), 2: pa.uint16(), 4: pa.uint32(), 8: pa.uint64()}.get(width)
    as_type = aligned if aligned is not None and data.address % width == 0 else pa.binary(width)
    enc = pc.dictionary_encode(pa.Array.from_buffers(as_type, len(arr), [None, data]))
    values = enc.dictionary
    n = len(values)
    text_offsets = np.arange(n + 1, dtype=f"<i{offset_bytes}") * width
    text_data = values.buffers()[1].slice(values.offset * width, n * width)
    texts = pa.Array.from_buffers(arr.type, n, [None, pa.py_buffer(text_offsets), text_data])
    return enc.indices, texts


#: A dictionary column is coded from its chunks' dictionaries when these hold at most one entry per this many rows
#: (and at most :data:`_DICTIONARY_MAX` entries); larger dictionaries are decoded and the text coded once.
_ROWS_PER_ENTRY = 4
_DICTIONARY_MAX = 1 << 22


def _dictionary_codes(column: pa.Array | pa.ChunkedArray) -> pd.Categorical | None:
    """Sorted codes of a dictionary-encoded text column (the CSV and Parquet readers read repeated values so:
    annotators, tasks, steps, labels) from its chunks' small dictionaries: each chunk's entries are looked up among the
    sorted distinct texts once, and its indices mapped through that (a gather of small ints per row; no text
    per row, no hash of 10M strings). Entries no row uses are left out, so that the categories are the values
    that occur, as the other paths give; a dictionary may repeat an entry. None (the caller decodes) when the
    column has nulls or its dictionaries together are large: unifying per-chunk dictionaries of 3.3M item ids
    is slower than coding the text once."""
    chunks = [c for c in (column.chunks if isinstance(column, pa.ChunkedArray) else [column]) if len(c)]
    entries = sum(len(c.dictionary) for c in chunks)
    if (column.null_count or any(c.dictionary.null_count for c in chunks)
            or entries > min(_DICTIONARY_MAX, max(len(column) // _ROWS_PER_ENTRY, 1 << 10))):
        return None
    if not chunks:
        return pd.Categorical.from_codes(np.zeros(0, np.int32), validate=False,
                                         categories=pd.Index([], dtype=pd.StringDtype("pyarrow")))
    every = pc.unique(pa.concat_arrays([c.dictionary for c in chunks]))
    distinct = _taken(every, _dictionary_order(every))
    codes = np.empty(len(column), dtype=np.int32)
    row = 0
    for chunk in chunks:  # (the dictionaries are the readers' own: strings, never null)
        to_code = pc.index_in(chunk.dictionary, value_set=distinct).to_numpy(zero_copy_only=False).astype(np.int32)
        take_rows(to_code, chunk.indices.to_numpy(zero_copy_only=False), out=codes[row:row + len(chunk)])
        row += len(chunk)
    used = occurs(codes, len(distinct))
    if not used.all():  # unused entries (a dictionary written from a Categorical with spare categories)
        rank = np.cumsum(used, dtype=np.int32) - 1
        codes = take_rows(rank, codes)
        distinct = distinct.filter(pa.array(used))
    return distinct_categorical(codes, pd.Index(distinct.to_pandas(types_mapper=_string_type)))


def _one_entry(column: pa.Array | pa.ChunkedArray) -> str | None:
    """The text of a column made of one-entry dictionaries of the same text, without nulls; else None."""
    if not pa.types.is_dictionary(column.type) or column.null_count or not len(column):
        return None
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    texts = {c.dictionary[0].as_py() if len(c.dictionary) == 1 else None for c in chunks if len(c)}
    return texts.pop() if len(texts) == 1 and None not in texts else None


def distinct_categorical(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """``Categorical.from_codes`` for categories known to be distinct (a dictionary's), trusted as such.

    pandas would check uniqueness by hashing every category as a Python string, and its index keeps that object
    copy for as long as the categories live: for 10M judgments' 3.3M item ids, ~200 MB of the check's peak and
    ~1 s. ``CategoricalDtype._from_fastpath`` skips the check (private, so the public constructor is the
    fallback should pandas drop it)."""
    fast = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    dtype = fast(categories, ordered=False) if fast is not None else pd.CategoricalDtype(categories)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def _dictionary_order(dictionary: pa.Array) -> np.ndarray:
    """The positions of ``dictionary``'s distinct strings in sorted (byte) order.

    Short ids (at most 8 bytes, the usual ``i0001234``) are compared as big-endian integers of their zero-padded
    bytes: the same order as the strings' (a pad byte sorts before every byte of a text without NUL), and a
    numeric argsort of 3.3M ids is ~4x faster than Arrow's string sort."""
    packed = _packed_short(dictionary)
    if packed is None:
        return np.asarray(pc.array_sort_indices(dictionary).to_numpy(), dtype=np.int64)
    return np.argsort(packed)


def _packed_short(arr: pa.Array) -> np.ndarray | None:
    """(N,) uint64 of each string's bytes, zero-padded to 8 and read big-endian; None when a value is null,
    longer than 8 bytes or holds a NUL byte (then the padding would be ambiguous)."""
    if not len(arr) or arr.null_count or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    width = 8 if pa.types.is_large_string(arr.type) else 4
    _, offset_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offset_buf, dtype=f"<i{width}", count=len(arr) + 1, offset=arr.offset * width)
    lengths = np.diff(offsets)
    if lengths.max() > 8:
        return None
    data = np.frombuffer(data_buf, dtype=np.uint8)[offsets[0]:offsets[-1]] if data_buf is not None else np.zeros(
        0, np.uint8)
    if not data.all():
        return None
    if (lengths == 8).all():
        cells = data.reshape(len(arr), 8)
    else:
        cells = np.zeros((len(arr), 8), dtype=np.uint8)
        fill = np.arange(8) < lengths[:, None]
        cells[fill] = data[((offsets[:-1] - offsets[0])[:, None] + np.arange(8))[fill]]
    return np.ascontiguousarray(cells).view(">u8").ravel().astype(np.uint64)


def _string_type(t: pa.DataType) -> pd.api.extensions.ExtensionDtype | None:
    return pd.StringDtype("pyarrow") if pa.types.is_string(t) or pa.types.is_large_string(t) else None


def add_codes(frame: pd.DataFrame, table: pa.Table) -> tuple[pd.DataFrame, Grouping | None]:
    """``frame`` (made from ``table`` without :data:`CODED`'s fields) plus each of those fields as a
    sorted-code Categorical: the text lives once, in the categories. With it, the rows grouped by
    item when coding the item ids grouped them (:func:`grouped_categorical`)."""
    # Arrow's kernels release the GIL: the columns are encoded side by side (G13, the read floor is per column)
    with ThreadPoolExecutor(max_workers=min(len(CODED), usable_cpus())) as pool:
        # only the item ids' grouping is used (by the accounting): the others are not made
        done = {f: pool.submit(grouped_categorical, table.column(f), group=f == "item") for f in CODED}
        extra = {f: job.result() for f, job in done.items()}
    pa.default_memory_pool().release_unused()  # the encoders' hash tables: give the memory back
    by_item = extra["item"][1]
    # the Categoricals are this function's own: wrapped, not copied (pandas copies by default: 40 MB of codes per
    # column at 10M rows)
    columns = {col: pd.Series(cat, index=frame.index, copy=False) for col, (cat, _) in extra.items()}
    return frame.assign(**columns), by_item


def codes_of(frame: pd.DataFrame, field: str) -> tuple[np.ndarray, pd.Index]:
    """(codes, categories) of ``field``: codes index the sorted categories; all categories may not occur."""
    if isinstance(frame[field].dtype, pd.CategoricalDtype):
        cat = frame[field].array  # the Categorical itself: its codes without a copy
        return np.asarray(cat.codes), cat.categories
    codes, uniques = pd.factorize(frame[field].to_numpy(dtype=object), sort=True)
    return codes.astype(np.int32), pd.Index(uniques, dtype=object)


#: Rows per piece when finding which of few categories occur: bincount copies its input to int64 first, and a
#: piece's copy is memory used again (a whole 10M-row copy is 80 MB the system must hand out each time).
_OCCURS_ROWS = 1 << 20
#: At most this many categories are "few": a piece's count array stays small beside the piece.
_OCCURS_FEW = 1 << 16


def occurs(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """(C,) whether each category occurs among ``codes``; by pieces of rows when the categories are few."""
    if len(codes) <= _OCCURS_ROWS or n_categories > _OCCURS_FEW:
        return np.bincount(codes, minlength=n_categories) > 0
    seen = np.zeros(n_categories, dtype=bool)
    for a in range(0, len(codes), _OCCURS_ROWS):
        seen |= np.bincount(codes[a:a + _OCCURS_ROWS], minlength=n_categories) > 0
    return seen


#: Rows per piece of :func:`take_rows`: a piece's index copy (numpy's take converts int32 indices to intp) stays
#: in cache and is memory used again.
_TAKE_ROWS = 1 << 16


def take_rows(values: np.ndarray, index: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.take(values, index)`` of a 1-D array, by pieces of the index: numpy converts a whole int32 index to
    intp first, an 80 MB temporary for 10M rows that the system must hand out (and zero) every time. ``out``:
    where to write it (of ``values``' type)."""
    if index.dtype == np.intp:
        return np.take(values, index, out=out)
    if out is None:
        out = np.empty(len(index), dtype=values.dtype)
    for a in range(0, len(index), _TAKE_ROWS):
        np.take(values, index[a:a + _TAKE_ROWS], out=out[a:a + _TAKE_ROWS])
    return out


def take_packed(high: np.ndarray, low: np.ndarray, shift: int, index: np.ndarray,
                dtype: type[np.signedinteger[Any]]) -> np.ndarray:
    """``high[index] << shift | low[index]`` as ``dtype``: packed in row order first (a sequential pass), then
    gathered once by pieces of the index (as :func:`take_rows`). Gathering both columns was two random passes
    over them: 0.2 s against 0.11 s for 10M rows grouped by unit, for a 40 MB packed copy freed at once."""
    packed = np.empty(len(high), dtype=dtype)
    for a in range(0, len(high), _TAKE_ROWS):
        piece = packed[a:a + _TAKE_ROWS]
        np.left_shift(high[a:a + _TAKE_ROWS], shift, out=piece, casting="unsafe")
        piece |= low[a:a + _TAKE_ROWS]
    return take_rows(packed, index)


def present(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """The categories that occur, sorted, as positions (the first half of :func:`compact`, without a per-row
    array)."""
    return np.flatnonzero(occurs(codes, n_categories)) if len(codes) else np.zeros(0, np.int64)


def compact(codes: np.ndarray, n_categories: int, seen: np.ndarray | None = None, *,
            dtype: type[np.signedinteger[Any]] = np.int64) -> tuple[np.ndarray, np.ndarray]:
    """The categories that occur (sorted, as positions) and each row's rank among them (O(rows + categories)),
    as ``dtype``. ``seen``: :func:`occurs`' answer, when the caller knows it (the groups of a grouping by these
    codes)."""
    if len(codes) == 0:
        return np.zeros(0, np.int64), np.zeros(0, dtype)
    present = occurs(codes, n_categories) if seen is None else seen
    if present.all():  # the usual case (no row filtered out): codes are already ranks, no gather needed
        return np.arange(n_categories, dtype=np.int64), codes.astype(dtype, copy=False)
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present), rank.astype(dtype, copy=False)[codes]


def category_mask(categories: pd.Index, allowed: object) -> np.ndarray:
    """(C,) True for the categories in ``allowed`` (any iterable of str), by hashing.

    In Arrow (``is_in``): pandas' ``isin`` on Arrow strings first makes an Arrow scalar of every allowed value,
    4x slower for the 66k gold items against 3.3M item ids of the 10M benchmark."""
    # an array stays one (a pandas column of Arrow strings, such as the gold items: a list of it made a Python
    # string of each of its 66k values, ~0.04 s holding the GIL beside the accounting at 10M judgments)
    arrays = (np.ndarray, pd.Index, pd.Series, pd.api.extensions.ExtensionArray)
    values = allowed if isinstance(allowed, arrays) else list(allowed)  # type: ignore[call-overload]
    texts = arrow_texts(categories)
    if texts is None:  # not all text: pandas compares
        return np.asarray(categories.isin(values), dtype=bool)
    try:
        wanted = pa.array(values)
        wanted = wanted.combine_chunks() if isinstance(wanted, pa.ChunkedArray) else wanted
        if not (pa.types.is_string(wanted.type) or pa.types.is_large_string(wanted.type)
                or pa.types.is_null(wanted.type)):  # numbers are no ids: 1 never matches "1"
            return np.asarray(categories.isin(values), dtype=bool)
        found = pc.is_in(texts, value_set=wanted.cast(texts.type))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # an allowed value is not text
        return np.asarray(categories.isin(values), dtype=bool)
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)


def per_row(frame: pd.DataFrame, field: str, per_category: np.ndarray) -> np.ndarray:
    """Spread a value computed once per category of ``field`` to the frame's rows. A mask that is the same for
    every category (the usual answer: no empty id, the only task) is made without a gather of every row."""
    codes, _ = codes_of(frame, field)
    if not len(codes):
        return per_category[:0]
    if per_category.dtype == bool and len(per_category):
        if not per_category.any():
            return np.zeros(len(codes), dtype=bool)
        if per_category.all():
            return np.ones(len(codes), dtype=bool)
    spread: np.ndarray = per_category[codes]
    return spread


def equals(frame: pd.DataFrame, field: str, text: str) -> np.ndarray:
    """(N,) ``frame[field] == text`` as bools: by category for coded fields, in Arrow otherwise."""
    if field in CODED:
        _, cats = codes_of(frame, field)
        return per_row(frame, field, np.asarray(cats == text, dtype=bool))
    return np.asarray((frame[field] == text).to_numpy(dtype=bool, na_value=False), dtype=bool)


def task_rows(frame: pd.DataFrame, task: str, columns: list[str] | None = None) -> pd.DataFrame:
    """The rows of one task (only ``columns``, if given), with no copy when every row is that task's: a
    filtered copy of 10M judgments is ~500 MiB of every column, for the usual spec with one task (G13)."""
    mine = equals(frame, "task", task)
    picked = frame[list(frame.columns) if columns is None else columns]  # a new frame, its data not copied yet
    return picked if mine.all() else picked[mine]


def replace_category(series: pd.Series, old: str, new: str) -> pd.Series:
    """``series`` (a sorted-code Categorical) with the category ``old`` renamed to ``new``, codes kept sorted."""
    cats = series.cat.categories
    if old not in cats:
        return series
    names = np.asarray(cats, dtype=object)  # few categories: used for the task column only
    names[names == old] = new
    merged, inverse = np.unique(names.astype(str), return_inverse=True)
    codes = inverse.astype(np.int32)[series.cat.codes.to_numpy()]
    cat = pd.Categorical.from_codes(codes, categories=pd.Index(merged, dtype=cats.dtype), validate=False)
    return pd.Series(cat, index=series.index)


def repeated(n: int, text: str | None) -> np.ndarray:
    """An object array of ``n`` references to one text (``np.full`` with a str fill is ~25x slower)."""
    out = np.empty(n, dtype=object)
    out[:] = text
    return out


def arrow_texts(categories: pd.Index) -> pa.Array | None:
    """The categories as Arrow strings (zero-copy for the readers' Arrow-backed ones); None unless all text."""
    try:
        texts = pa.array(categories.array)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)) or texts.null_count:
        return None
    return texts


def arrow_take(categories: pd.Index, positions: np.ndarray) -> pa.Array | np.ndarray:
    """The strings at ``positions`` as Arrow strings when the categories are text (no Python string per value),
    else as :func:`text_of` gives them."""
    texts = arrow_texts(categories)
    return text_of(categories, positions) if texts is None else texts.take(pa.array(positions, pa.int64()))


def text_of(categories: pd.Index, positions: np.ndarray) -> np.ndarray:
    """The strings at ``positions`` as an object array (only ever called on per-unit or per-annotator lists)."""
    return np.asarray(categories.take(positions), dtype=object) if len(positions) else np.zeros(0, dtype=object)


#: Positions per piece of :func:`texts_in_pieces`: ~2 ms of holding the GIL each.
_TEXT_PIECE = 1 << 16


def texts_in_pieces(categories: pd.Index, positions: np.ndarray) -> np.ndarray:
    """:func:`text_of`, a piece of positions at a time: making Python strings holds the GIL throughout (3.3M item
    ids: ~0.16 s), which a numpy-bound thread beside it (the consensus's fit) gets back between pieces."""
    out = np.empty(len(positions), dtype=object)
    for a in range(0, len(positions), _TEXT_PIECE):  # a loop over pieces of positions
        out[a:a + _TEXT_PIECE] = text_of(categories, positions[a:a + _TEXT_PIECE])
    return out
