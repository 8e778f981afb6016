"""The id codes made at read time (``check/coded.py``): sorted, aligned with their rows, never stale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check.coded import (
    CODED,
    codes_of,
    compact,
    equals,
    replace_category,
    sorted_categorical,
)
from labelspec.check.ordering import group_order
from labelspec.check.tables import encode, find_sorted

IDS = st.lists(st.sampled_from(["", "a", "b", "B", "é", "a\x1fb", "10", "9", "ä"]), max_size=30)


def _frame(items: list[str], annotators: list[str]) -> pd.DataFrame:
    n = min(len(items), len(annotators))
    table = pa.table({"item": pa.array(items[:n], pa.large_string()), "unit": pa.array([""] * n, pa.large_string()),
                      "task": pa.array(["t"] * n, pa.large_string()),
                      "annotator": pa.array(annotators[:n], pa.large_string()),
                      "value": pa.array(["x"] * n, pa.large_string())})
    return pd.DataFrame({f: pd.Series(sorted_categorical(table.column(f))) for f in CODED})


@settings(max_examples=100, deadline=None)
@given(IDS, IDS)
def test_read_time_codes_equal_a_sorted_factorisation_of_the_text(items: list[str], annotators: list[str]) -> None:
    frame = _frame(items, annotators)
    for field in ("item", "annotator"):
        codes, cats = codes_of(frame, field)
        want_codes, want_cats = pd.factorize(frame[field].to_numpy(dtype=object), sort=True)
        assert list(cats) == list(want_cats) and codes.tolist() == want_codes.tolist()
        plain = codes_of(frame.assign(**{field: frame[field].astype(object)}), field)  # text: encoded on the spot
        assert plain[0].tolist() == codes.tolist() and list(plain[1]) == list(cats)


@settings(max_examples=50, deadline=None)
@given(IDS, IDS)
def test_a_filtered_frame_keeps_row_aligned_codes(items: list[str], annotators: list[str]) -> None:
    frame = _frame(items, annotators)
    keep = np.arange(len(frame)) % 2 == 0
    sub = frame[keep]
    codes, cats = codes_of(sub, "item")
    assert [cats[c] for c in codes] == sub["item"].tolist()
    present, rank = compact(codes, len(cats))
    assert [cats[p] for p in present] == sorted(set(sub["item"]))
    assert [cats[present[r]] for r in rank] == sub["item"].tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=200), st.integers(0, 10), st.integers(1, 9))
def test_categories_that_occur_by_pieces_of_rows(codes: list[int], extra: int, piece: int) -> None:
    """Few categories are found by pieces of rows (each piece's int64 copy is memory used again): the same as one
    count over all rows; a grouping's non-empty groups give compact's answer without counting."""
    from labelspec.check import coded

    arr = np.array(codes, dtype=np.int16)
    n = 41 + extra
    whole = np.bincount(arr, minlength=n) > 0
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coded, "_OCCURS_ROWS", piece)  # several pieces, the last one short
        got = coded.occurs(arr, n)
        mp.setattr(coded, "_OCCURS_FEW", n - 1)  # too many categories for pieces: one count
        assert coded.occurs(arr, n).tolist() == whole.tolist()
    assert got.tolist() == whole.tolist()
    offsets = group_order(arr.astype(np.int32), n)[1]
    by_groups = compact(arr, n, np.diff(offsets) > 0)
    counted = compact(arr, n)
    assert by_groups[0].tolist() == counted[0].tolist() and by_groups[1].tolist() == counted[1].tolist()


def test_replaced_text_gets_new_codes_and_selection_keeps_them() -> None:
    frame = _frame(["b", "a", "b"], ["x", "y", "x"])
    changed = frame.assign(item=pd.Series(["c", "c", "d"], index=frame.index))
    assert not isinstance(changed["item"].dtype, pd.CategoricalDtype)
    assert isinstance(changed["annotator"].dtype, pd.CategoricalDtype)
    assert codes_of(changed, "item")[0].tolist() == [0, 0, 1]
    picked = frame.loc[np.array([True, False, True]), ["item", "annotator"]]
    assert list(picked.columns) == ["item", "annotator"]
    assert isinstance(picked["item"].dtype, pd.CategoricalDtype)
    assert equals(picked, "item", "b").tolist() == [True, True]


def test_renaming_the_empty_task_keeps_codes_sorted_and_merged() -> None:
    s = pd.Series(sorted_categorical(pa.array(["", "zeta", "", "alpha"])))
    renamed = replace_category(s, "", "zeta")
    assert list(renamed.cat.categories) == ["alpha", "zeta"]
    assert renamed.astype(str).tolist() == ["zeta", "zeta", "zeta", "alpha"]


def test_unit_keys_are_sorted_so_binary_search_finds_gold_units() -> None:
    frame = _frame(["i10", "i2", "i1", "i2"], ["a", "b", "a", "a"])
    codes = encode(frame, ("x",))
    assert codes.unit_keys.tolist() == ["i1", "i10", "i2"]
    assert find_sorted(codes.unit_keys, ["i2", "i3", "i1"]).tolist() == [2, -1, 0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=10), unique=True, max_size=40), st.booleans(), st.integers(0, 3))
def test_dictionary_order_is_the_strings_sorted_order(texts: list[str], large: bool, skip: int) -> None:
    """Packed short ids (≤ 8 bytes, no NUL) and the Arrow fallback both order like Python's sorted()."""
    from labelspec.check.coded import _dictionary_order

    arr = pa.array(["pad"] * skip + texts, pa.large_string() if large else pa.string()).slice(skip)
    order = _dictionary_order(arr)
    assert [texts[i] for i in order] == sorted(texts)


def test_short_ids_take_the_packed_path() -> None:
    from labelspec.check.coded import _packed_short

    assert _packed_short(pa.array(["i0000002", "i0000001", "a", ""])) is not None
    assert _packed_short(pa.array(["a\x00", "a"])) is None  # a NUL byte: the padding would be ambiguous
    assert _packed_short(pa.array(["123456789"])) is None


def test_sorted_categorical_keeps_no_python_copy_of_its_categories() -> None:
    """The distinct ids live once, in Arrow: no hashed object copy for a uniqueness check (G13's memory)."""
    import tracemalloc

    ids = pa.array([f"i{i:07d}" for i in range(200_000)][::-1])
    tracemalloc.start()
    try:
        cat = sorted_categorical(ids)
        kept = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # the int32 codes (0.8 MB) and the sorted ids' bytes and offsets, moved by numpy (2.4 MB); 200k Python
    # strings would be ~12 MB
    assert kept < 4_000_000
    assert cat.categories.is_unique and cat.categories[0] == "i0000000" and cat.codes[0] == 199_999
    assert pd.Categorical(np.asarray(ids), categories=cat.categories).codes.tolist() == cat.codes.tolist()


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12), st.lists(st.integers(0, 5), min_size=1, max_size=40), st.booleans(), st.integers(0, 3),
       st.sampled_from(["ascii", "utf8", "nul"]))
def test_fixed_width_ids_encode_like_text(width: int, picks: list[int], large: bool, skip: int, alphabet: str
                                          ) -> None:
    """Ids of one byte width, hashed as integers or fixed-size binary, give Arrow's text encoding exactly: the same
    first-seen dictionary of the same strings and the same indices (sliced, large, multi-byte and NUL included)."""
    import pyarrow.compute as pc

    from labelspec.check.coded import _fixed_width_encode

    chars = {"ascii": "ab", "utf8": "aé", "nul": "a\x00"}[alphabet]
    pool = ["".join(chars[(v >> b) & 1] for b in range(width)) for v in range(6)]
    pool = [t for t in pool if len(t.encode()) == len(pool[0].encode())]  # one byte width ('é' is two bytes)
    texts = [pool[p % len(pool)] for p in picks]
    arr = pa.array(["#" * len(pool[0].encode())] * skip + texts, pa.large_string() if large else pa.string())
    arr = arr.slice(skip)
    got = _fixed_width_encode(arr)
    assert got is not None
    want = pc.dictionary_encode(arr)
    assert got[1].type == arr.type and got[1].to_pylist() == want.dictionary.to_pylist()
    assert got[0].to_pylist() == want.indices.to_pylist()


def test_ids_of_several_widths_keep_the_text_encoding() -> None:
    from labelspec.check.coded import _fixed_width_encode

    assert _fixed_width_encode(pa.array(["i1", "i22"])) is None
    assert _fixed_width_encode(pa.array(["a", "abc"])) is None  # 4 bytes over 2 ids, yet not of width 2
    assert _fixed_width_encode(pa.array(["ab", None])) is None
    assert _fixed_width_encode(pa.array(["", ""])) is None  # width 0: a constant column, handled before
    cat = sorted_categorical(pa.array(["i0000003", "i0000001", "i0000003", "i0000002"]))
    assert list(cat.categories) == ["i0000001", "i0000002", "i0000003"] and cat.codes.tolist() == [2, 0, 2, 1]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 12), st.lists(st.integers(0, 7), max_size=40), st.booleans(), st.integers(0, 3),
       st.sampled_from(["ascii", "utf8", "mixed"]))
def test_categories_moved_as_cells_equal_arrow_take(width: int, picks: list[int], large: bool, skip: int,
                                                    alphabet: str) -> None:
    """The sorted categories built by moving fixed-width cells with numpy are Arrow's ``take`` exactly, for every
    width (0 and odd ones included), sliced and large arrays, multi-byte text and ids of several widths."""
    from labelspec.check.coded import _taken

    chars = {"ascii": "ab", "utf8": "aé", "mixed": "ab"}[alphabet]
    pool = ["".join(chars[(v >> b) & 1] for b in range(width)) for v in range(8)]
    if alphabet == "mixed":
        pool = [t + "x" * (v % 2) for v, t in enumerate(pool)]  # two widths: Arrow's take
    texts = [pool[p] for p in picks]
    arr = pa.array(["#"] * skip + texts, pa.large_string() if large else pa.string()).slice(skip)
    order = np.arange(len(texts))[::-1].copy()
    got = _taken(arr, order)
    assert got.type == arr.type and got.to_pylist() == arr.take(pa.array(order)).to_pylist()


def test_a_column_whose_ends_differ_is_encoded_without_the_constant_check() -> None:
    from labelspec.check.coded import _maybe_constant

    assert not _maybe_constant(pa.array(["i1", "i1", "i2"]))
    assert _maybe_constant(pa.array(["i1", "i2", "i1"]))  # ends equal: min/max decides
    assert _maybe_constant(pa.array([None, "a", "b"])) and _maybe_constant(pa.array(["a"]))
    cat = sorted_categorical(pa.array(["", "", ""]))
    assert list(cat.categories) == [""] and cat.codes.tolist() == [0, 0, 0]
    cat = sorted_categorical(pa.array(["b", "a", "b", "a"]))  # ends differ: encoded, sorted
    assert list(cat.categories) == ["a", "b"] and cat.codes.tolist() == [1, 0, 1, 0]


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 10), st.lists(st.integers(0, 2**20), min_size=1, max_size=60), st.booleans(),
       st.integers(0, 3), st.sampled_from(["digits", "bytes", "utf8", "nul"]), st.lists(st.integers(0, 60), max_size=4),
       st.booleans())
def test_ids_coded_by_sorting_packed_keys_equal_the_hash_path(width: int, picks: list[int], large: bool, skip: int,
                                                              alphabet: str, cuts: list[int], halves: bool) -> None:
    """Fixed-width ids coded by one sort of bit-packed keys give the codes and sorted categories of hashing and
    ordering the dictionary: digits, full bytes, multi-byte text and NUL bytes; sliced and large arrays, one
    array or chunks, with the passes in one thread or in two halves side by side."""
    from labelspec.check import coded

    chars = {"digits": "0123456789", "bytes": "".join(map(chr, range(32, 127))), "utf8": "aéz", "nul": "\x00a"}
    pool = chars[alphabet]
    texts = ["".join(pool[(p >> (3 * b)) % len(pool)] for b in range(width)) for p in picks]
    wide = len(texts[0].encode())
    texts = [t for t in texts if len(t.encode()) == wide]  # one byte width ('é' is two bytes)
    arr = pa.array(["#" * wide] * skip + texts, pa.large_string() if large else pa.string()).slice(skip)
    bounds = sorted({min(c, len(texts)) for c in cuts} | {0, len(texts)})
    column = pa.chunked_array([arr.slice(a, b - a) for a, b in zip(bounds, bounds[1:], strict=False)] or [arr],
                              arr.type) if cuts else arr
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coded, "_SORT_ROWS", 1)
        mp.setattr(coded, "_TABLE_BITS", 0)
        mp.setattr(coded, "_PACK_ROWS", 7)  # several pieces, the last one short
        mp.setattr(coded, "_HALVES_ROWS", 1 if halves else 1 << 40)
        mp.setattr(coded, "usable_cpus", lambda: 2)
        got = coded._sorted_codes(column)
        public = sorted_categorical(column)
    want_codes, want_categories = pd.factorize(pd.Series(texts, dtype=object), sort=True)
    assert list(public.categories) == list(want_categories) and public.codes.tolist() == want_codes.tolist()
    if got is None:  # one id only (no bit varies), or a key too wide for 63 bits beside the row numbers: hashed
        assert len(set(texts)) == 1 or (alphabet in ("utf8", "bytes") and wide > 6)
        return
    codes, categories, grouping = got
    assert grouping is not None
    order, offsets = grouping
    assert categories.type == arr.type and categories.to_pylist() == list(want_categories)
    assert codes.dtype == np.int32 and codes.tolist() == want_codes.tolist()
    # the sort's row order is the rows grouped by id, exactly as the accounting's group_order makes it
    want_order, want_offsets = group_order(want_codes.astype(np.int32), len(want_categories))
    assert order.tolist() == want_order.tolist() and offsets.tolist() == want_offsets.tolist()
    assert order.dtype == offsets.dtype == np.int32
    with pytest.MonkeyPatch.context() as mp:  # not asked for: the same codes, no grouping made
        mp.setattr(coded, "_SORT_ROWS", 1)
        mp.setattr(coded, "_TABLE_BITS", 0)
        plain = coded._sorted_codes(arr, group=False)
    assert plain is not None and plain[2] is None and plain[0].tolist() == codes.tolist()


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3), st.lists(st.integers(0, 2**12), min_size=1, max_size=60), st.booleans(),
       st.integers(0, 3), st.sampled_from(["digits", "bytes", "utf8", "nul"]), st.lists(st.integers(0, 5), max_size=4))
def test_ids_coded_through_a_key_table_equal_the_hash_path(width: int, picks: list[int], large: bool, skip: int,
                                                          alphabet: str, cuts: list[int]) -> None:
    """Fixed-width ids of few key bits, coded through a table of every key, give the codes and sorted categories
    of hashing and ordering the dictionary, from one array or from chunks (empty ones, slices) as Arrow reads
    them; the texts are rebuilt from the keys."""
    from labelspec.check import coded

    chars = {"digits": "0123456789", "bytes": "".join(map(chr, range(32, 127))), "utf8": "aéz", "nul": "\x00a"}
    pool = chars[alphabet]
    texts = ["".join(pool[(p >> (3 * b)) % len(pool)] for b in range(width)) for p in picks]
    wide = len(texts[0].encode())
    texts = [t for t in texts if len(t.encode()) == wide]
    kind = pa.large_string() if large else pa.string()
    arr = pa.array(["#" * wide] * skip + texts, kind).slice(skip)
    bounds = sorted({min(c, len(texts)) for c in cuts} | {0, len(texts)})
    column = pa.chunked_array([arr.slice(a, b - a) for a, b in zip(bounds, bounds[1:], strict=False)] or [arr], kind)
    want_codes, want_categories = pd.factorize(pd.Series(texts, dtype=object), sort=True)
    for source in (arr, column):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(coded, "_SORT_ROWS", 1)
            mp.setattr(coded, "_TABLE_BITS", 24)  # up to three bytes of 7 or 8 varying bits: through the table
            mp.setattr(coded, "_PACK_ROWS", 5)
            got = coded._sorted_codes(source)
            public = coded.grouped_categorical(source)[0]
        assert list(public.categories) == list(want_categories) and public.codes.tolist() == want_codes.tolist()
        if got is None:  # one id only: no bit varies
            assert len(set(texts)) == 1
            continue
        codes, categories, grouping = got
        raw = np.array([list(t.encode()) for t in texts], dtype=np.uint8)
        key_bits = sum(int(v).bit_length() for v in np.bitwise_or.reduce(raw) ^ np.bitwise_and.reduce(raw))
        assert (grouping is None) == (key_bits <= 24)  # wider keys ('é' is two bytes): the sorting path
        assert codes.dtype == np.int32
        assert categories.type == kind and categories.to_pylist() == list(want_categories)
        assert codes.tolist() == want_codes.tolist()


def test_ids_that_do_not_pack_are_hashed_and_short_keys_go_through_a_table() -> None:
    from labelspec.check import coded

    rng = np.random.default_rng(7)  # nine bytes, each spanning 32..126 (7 bits): 63 bits + 17 for the rows
    many = pa.array(["".join(map(chr, row)) for row in rng.integers(32, 127, size=(70_000, 9)).tolist()])
    assert coded._sorted_codes(many) is None
    assert coded._sorted_codes(pa.array(["a1", "a22"] * 40_000)) is None  # two widths
    assert coded._sorted_codes(pa.array(["i1", "i2"] * 100)) is None  # few rows: hashing is as fast
    small = coded._sorted_codes(pa.array([f"a{i % 1000:04d}" for i in range(70_000)]))  # 16 bits: a key table
    assert small is not None and small[2] is None  # no grouping made that way
    assert small[1].to_pylist() == [f"a{i:04d}" for i in range(1000)] and small[0][:3].tolist() == [0, 1, 2]
    ids = pa.array([f"i{i % 50_000:07d}" for i in range(120_000)][::-1])
    cat = sorted_categorical(ids)  # the sorting path, through the public function
    assert cat.categories[0] == "i0000000" and cat.categories[-1] == "i0049999" and len(cat.categories) == 50_000
    assert cat.codes[:3].tolist() == [19_999, 19_998, 19_997]  # rows 119999.. hold i0019999..


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=30), st.data(), st.integers(1, 5),
       st.sampled_from([np.int32, np.int64, np.intp]))
def test_take_rows_by_pieces_is_numpy_take(values: list[int], data: st.DataObject, piece: int, kind: type) -> None:
    """Gathering by pieces of an int32 (or int64) index is ``np.take`` of the whole index, in the values' type."""
    from labelspec.check import coded

    arr = np.array(values, dtype=np.int16)
    index = np.array(data.draw(st.lists(st.integers(0, len(values) - 1), max_size=40)), dtype=kind)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coded, "_TAKE_ROWS", piece)
        got = coded.take_rows(arr, index)
    assert got.dtype == np.int16 and got.tolist() == np.take(arr, index).tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c"]), max_size=30), st.lists(st.booleans(), min_size=3, max_size=3))
def test_per_row_spreads_every_mask_as_the_gather_does(values: list[str], mask: list[bool]) -> None:
    """A per-category mask (all False, all True or mixed) spread to the rows is the gather by the rows' codes,
    as a fresh writable array."""
    from labelspec.check.coded import per_row

    frame = pd.DataFrame({"item": pd.Categorical(values, categories=["a", "b", "c"])})
    per_category = np.array(mask, dtype=bool)
    got = per_row(frame, "item", per_category)
    assert got.dtype == bool and got.flags.writeable
    assert got.tolist() == [mask["abc".index(v)] for v in values]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["", "a", "b", "B", "é", "a\x1fb", "10", "9", "ä"]), max_size=6),
                min_size=1, max_size=4),
       st.data(), st.sampled_from([pa.int8(), pa.int16(), pa.int32()]), st.booleans())
def test_dictionary_columns_are_coded_from_their_dictionaries_like_the_text(
        dictionaries: list[list[str]], data: st.DataObject, index_type: pa.DataType, large: bool) -> None:
    """Chunks with dictionaries of their own (repeated entries, entries no row uses, empty chunks), as Parquet
    gives repeated values, code like the decoded text: sorted categories that all occur, codes per row."""
    from labelspec.check import coded

    kind = pa.large_string() if large else pa.string()
    chunks, texts = [], []
    for entries in dictionaries:
        indices = data.draw(st.lists(st.integers(0, len(entries) - 1), max_size=8)) if entries else []
        chunks.append(pa.DictionaryArray.from_arrays(pa.array(indices, index_type), pa.array(entries, kind)))
        texts += [entries[i] for i in indices]
    column = pa.chunked_array(chunks, pa.dictionary(index_type, kind))
    want_codes, want_categories = pd.factorize(pd.Series(texts, dtype=object), sort=True)
    got = coded._dictionary_codes(column)
    assert got is not None
    assert list(got.categories) == list(want_categories) and got.codes.tolist() == want_codes.tolist()
    public = coded.grouped_categorical(column)[0]
    assert list(public.categories) == list(want_categories) and public.codes.tolist() == want_codes.tolist()


def test_dictionary_columns_with_nulls_or_large_dictionaries_are_decoded_first() -> None:
    """Nulls (there is no code for them here), null entries, and dictionaries larger than a quarter of the
    rows (item ids: unifying them is dearer than coding the text) are left to the text path."""
    from labelspec.check import coded

    with_null = pa.chunked_array([pa.DictionaryArray.from_arrays(pa.array([0, None, 1], pa.int32()),
                                                                 pa.array(["x", "y"]))])
    null_entry = pa.chunked_array([pa.DictionaryArray.from_arrays(pa.array([0, 1], pa.int32()),
                                                                  pa.array(["x", None]))])
    rows = 5_000
    unique = pa.array([f"i{i:05d}" for i in range(rows)]).dictionary_encode()
    for column in (with_null, null_entry, pa.chunked_array([unique])):
        assert coded._dictionary_codes(column) is None
    repeated = pa.array([f"a{i % 50:02d}" for i in range(rows)]).dictionary_encode()
    got = coded._dictionary_codes(pa.chunked_array([repeated]))
    assert got is not None and len(got.categories) == 50 and got.codes[:3].tolist() == [0, 1, 2]
    public = coded.grouped_categorical(pa.chunked_array([unique]))[0]
    assert public.codes.tolist() == list(range(rows))
