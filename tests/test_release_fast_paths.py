"""The release's fast paths against plain references: JSON text helpers against ``json.dumps``, judgment runs
against a comma join, and the background hashing writer against ``hashlib`` on the same bytes."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check import release_json as js
from labelspec.check import release_output
from labelspec.check.release_output import Output, Writers

#: Awkward text: quotes, backslashes, every control character, DEL, non-ASCII, U+2028/2029, astral characters.
AWKWARD = ['"', "\\", '\\"', "".join(map(chr, range(32))), "\x7f", "é", "\u2028\u2029", "𝄞", "a\nb", ""]
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)  # Arrow strings hold no lone surrogate


def dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def test_repeated_strings_escape_awkward_text_and_nulls_like_json_dumps() -> None:
    values = [*AWKWARD, None, *AWKWARD, None]
    assert js.repeated_strings(pa.array(values, pa.string())).to_pylist() == [dumps(v) for v in values]
    assert js.repeated_strings(pa.array([], pa.string())).to_pylist() == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(AWKWARD), texts), max_size=30))
def test_repeated_strings_and_string_parts_are_json_dumps(values: list[str | None]) -> None:
    array = pa.array(values, pa.string())
    expected = [dumps(v) for v in values]
    assert js.join([js.repeated_strings(array), js.integers(np.zeros(len(values)))]).to_pylist() == [
        f"{e}0" for e in expected]  # one value: a constant text
    joined = js.join(["<", *js.string_parts(array), ">"]).to_pylist()
    assert joined == [f"<{e}>" for e in expected]


def test_string_parts_make_the_quotes_constants_only_without_nulls() -> None:
    parts = js.string_parts(pa.array(['a"', "b"]))
    assert parts[0] == '"' and parts[2] == '"' and parts[1].to_pylist() == ['a\\"', "b"]
    (whole,) = js.string_parts(pa.array(["a", None]))
    assert whole.to_pylist() == ['"a"', "null"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(AWKWARD), max_size=4), max_size=12))
def test_runs_are_each_rows_texts_back_to_back_without_a_copy(rows: list[list[str]]) -> None:
    flat = [dumps(v) + ("," if k < len(r) - 1 else "") for r in rows for k, v in enumerate(r)]
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    array = pa.array(flat, pa.large_string())
    got = js.runs(array, offsets)
    assert got.to_pylist() == [",".join(dumps(v) for v in r) for r in rows]
    if len(flat):
        assert got.buffers()[2].address == array.buffers()[2].address  # the same bytes, not a copy


def test_runs_of_a_slice_and_of_nothing_and_a_null_is_refused() -> None:
    array = pa.array(["x", "a,", "b", "c"], pa.large_string()).slice(1)
    assert js.runs(array, np.array([0, 2, 2, 3])).to_pylist() == ["a,b", "", "c"]
    assert js.runs(pa.array([], pa.large_string()), np.array([0, 0])).to_pylist() == [""]
    assert js.runs(array, np.array([], dtype=np.int64)).to_pylist() == []
    with pytest.raises(ValueError, match="missing texts"):
        js.runs(pa.array(["a", None], pa.large_string()), np.array([0, 2]))


def _write_all(pieces: list[bytes]) -> tuple[bytes, dict[str, object]]:
    sink = io.BytesIO()
    with Writers() as writers:
        out = Output(sink, writers)
        for p in pieces:
            assert out.write(memoryview(p)) == len(p)
        assert out.tell() == sum(map(len, pieces))
        entry = out.entry("f")
    return sink.getvalue(), entry


def test_output_writes_small_and_large_pieces_in_order_and_hashes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(release_output, "PIECE_BYTES", 8)
    monkeypatch.setattr(release_output, "PENDING", 1)
    pieces = [b"ab", b"cdefghij", b"k" * 20, b"", b"lmn", b"o" * 3, b"pqrstuvwxyz", b"0"]
    data, entry = _write_all(pieces)
    assert data == b"".join(pieces)
    assert entry == {"path": "f", "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def test_output_of_nothing_is_the_empty_file() -> None:
    data, entry = _write_all([])
    assert data == b"" and entry == {"path": "f", "sha256": hashlib.sha256(b"").hexdigest(), "bytes": 0}


class FullDisk(io.BytesIO):
    def write(self, data: object) -> int:
        raise OSError(28, "No space left on device")


def test_a_failed_write_on_the_thread_raises_in_the_producer() -> None:
    with Writers() as writers:
        out = Output(FullDisk(), writers)
        out.write(b"x" * (release_output.PIECE_BYTES + 1))  # handed over at once
        with pytest.raises(OSError, match="No space left"):
            out.drain()


scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), texts, st.sampled_from(AWKWARD),
                    st.floats(allow_nan=False, allow_infinity=False))


def _shaped(draw: st.DrawFn, keys: list[str], depth: int) -> st.SearchStrategy[dict[str, object]]:
    """Dicts with ``keys``; per key one scalar kind (or None) or, above depth 0, nested dicts of one shape."""
    fields: dict[str, st.SearchStrategy[object]] = {}
    for k in keys:
        kind = draw(st.sampled_from(["float", "int", "str", "bool", "dict" if depth else "float", "any"]))
        fields[k] = {"float": st.floats(allow_nan=False, allow_infinity=False), "int": st.integers(-5, 2 ** 40),
                     "str": texts, "bool": st.booleans(), "any": scalars,
                     "dict": _shaped(draw, draw(st.lists(texts, max_size=3, unique=True)), depth - 1)}[kind]
        if kind != "dict" and draw(st.booleans()):
            fields[k] = st.one_of(st.none(), fields[k])
    return st.fixed_dictionaries(fields)


@st.composite
def detail_lists(draw: st.DrawFn) -> list[dict[str, object] | None]:
    shape = _shaped(draw, draw(st.lists(st.one_of(texts, st.sampled_from(AWKWARD)), max_size=4, unique=True)), 2)
    return draw(st.lists(st.one_of(st.none(), shape), max_size=12))


@settings(max_examples=300, deadline=None)
@given(detail_lists())
def test_records_json_is_json_dumps_of_each_dict(values: list[dict[str, object] | None]) -> None:
    from labelspec.check.release_records import records_json

    assert records_json(values).to_pylist() == [None if v is None else dumps(v) for v in values]


def test_records_json_of_ragged_or_odd_dicts_falls_back_to_the_encoder() -> None:
    from labelspec.check.release_records import records_json

    cases: list[list[dict[str, object] | None]] = [
        [{"a": 1}, {"b": 2}], [{"a": 1}, {"a": 1.5}], [{"a": [1, 2]}, {"a": []}], [{"a": {"x": 1}}, {"a": None}],
        [{"a": 2 ** 70}, {"a": None}], [{"p": {"x": 0.5, "y": -0.0}}, None, {"p": {"y": 1e-7, "x": 1e300}}],
        [None, None], [], [{}, None, {}], [{"a": np.float64(0.1)}]]
    for values in cases:
        assert records_json(values).to_pylist() == [None if v is None else dumps(v) for v in values], values
    for bad in ([{"a": float("nan")}], [{"a": None}, {"a": float("inf")}]):
        with pytest.raises(ValueError, match="JSON compliant"):
            records_json(bad)


def test_the_collector_is_paused_while_details_are_built_and_left_as_it_was() -> None:
    import gc

    from labelspec.check.release_table import cycles_uncollected

    assert gc.isenabled()
    with cycles_uncollected():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(RuntimeError), cycles_uncollected():
            raise RuntimeError
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["i1", "i2", "i3", "x9", None]), min_size=1, max_size=12),
       st.lists(st.sampled_from(["", "s1", "s2"]), min_size=1, max_size=12))
def test_judgment_rows_from_categorical_columns_equal_rows_from_text(items: list[str | None], steps: list[str]) -> None:
    """Categorical key columns (the readers') are looked up per category; plain text per row: same rows."""
    import pandas as pd

    from labelspec.check.release_judgments import rows_of

    units = pd.DataFrame({"task": ["t", "t", "t", "u"], "item": ["i1", "i2", "i3", "i1"], "unit": ["", "s1", "", ""]})
    n = min(len(items), len(steps))
    text = pd.DataFrame({"task": ["t"] * n, "item": pd.Series(items[:n], dtype=object), "unit": steps[:n]})
    coded = text.astype({"task": "category", "item": pd.CategoricalDtype(["i1", "i2", "i3", "x9", "zz"]),
                         "unit": "category"})
    expected = rows_of(units, text)
    assert rows_of(units, coded).tolist() == expected.tolist()
    want = {("t", "i1", ""): 0, ("t", "i2", "s1"): 1, ("t", "i3", ""): 2}
    assert expected.tolist() == [want.get(("t", i, s), -1) for i, s in zip(items[:n], steps[:n], strict=True)]


NAT = np.iinfo(np.int64).min


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.one_of(st.just(NAT), st.integers(-5, 5)), st.integers(-1, 3)),
                max_size=60),
       st.booleans())
def test_judgments_ordered_by_row_time_name_as_lexsort(rows: list[tuple[int, int, int]], far: bool) -> None:
    """The release's judgment order (row, then time with NaT first, then annotator rank, then input order) and
    its row offsets equal ``numpy.lexsort``'s; times centuries apart take lexsort itself (``far``)."""
    from labelspec.check.release_judgments import by_row_time_name

    row, when, name = (np.array(c, dtype=np.int64).reshape(-1) for c in zip(*rows, strict=True)) if rows else (
        np.zeros(0, np.int64),) * 3
    when = np.where((when != NAT) & far, when * (1 << 58), when)
    order, offsets = by_row_time_name(row, when, name, 7)
    expected = np.lexsort((name, when, row))
    assert order.tolist() == expected.tolist()
    assert np.asarray(offsets).tolist() == np.searchsorted(row[expected], np.arange(8)).tolist()


def test_judgment_order_at_the_radix_path_size() -> None:
    """Large enough for the radix passes (not numpy's comparison sort) and with microsecond times."""
    from labelspec.check.release_judgments import by_row_time_name

    rng = np.random.default_rng(7)
    n = 200_000
    row, name = rng.integers(0, 50_000, n), rng.integers(-1, 900, n)
    when = np.where(rng.random(n) < 0.1, NAT, 1_772_400_000_000_000 + rng.integers(0, 86_400_000_000, n))
    order, offsets = by_row_time_name(row, when, name, 50_000)
    expected = np.lexsort((name, when, row))
    assert np.array_equal(order, expected)
    assert np.array_equal(offsets, np.searchsorted(row[expected], np.arange(50_001)))


@pytest.mark.parametrize("times", ["none", "microseconds apart"])
def test_judgment_order_by_one_packed_key_at_size(times: str) -> None:
    """Row, time and name in one key beside the positions (no timestamps, as most exports; or times a few
    microseconds apart): one packed sort, at a size where it is not numpy's comparison sort, equals lexsort."""
    from labelspec.check.release_judgments import by_row_time_name

    rng = np.random.default_rng(11)
    n = 300_000
    row, name = rng.integers(0, 100_000, n), rng.integers(-1, 1000, n)
    when = (np.full(n, NAT) if times == "none"
            else np.where(rng.random(n) < 0.2, NAT, 1_772_400_000_000_000 + rng.integers(0, 3, n)))
    order, offsets = by_row_time_name(row, when, name, 100_001)
    expected = np.lexsort((name, when, row))
    assert np.array_equal(order, expected)
    assert np.array_equal(offsets, np.searchsorted(row[expected], np.arange(100_002)))


def _arrow_text(*chunks: list[str | None], kind: pa.DataType | None = None, cut: slice | None = None
                ) -> pd.Series:
    kind = pa.large_string() if kind is None else kind
    arrays = [pa.array(c, kind) for c in chunks]
    if cut is not None:  # a chunk that is a slice of a longer array: its offsets start past 0
        arrays = [a.slice(cut.start, cut.stop - cut.start) for a in arrays]
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(arrays, type=kind)))


@pytest.mark.parametrize(("column", "empty"), [
    (_arrow_text([""] * 5, [""] * 3), True),  # an absent timestamp column: every row ""
    (_arrow_text([""] * 4, kind=pa.string()), True),
    (_arrow_text(["x", "", "", "y"], cut=slice(1, 3)), True),
    (_arrow_text(["", ""], ["", "a"]), False),  # one text in the last chunk
    (_arrow_text(["", None]), False),  # a null is missing, not ""
    (_arrow_text([]), False),
    (pd.Series(["", ""], dtype=object), False),  # not Arrow-backed: factorised as before
    (pd.Series(["", ""], dtype="category"), False),
    (pd.Series(["", ""], dtype="string[pyarrow]"), True),
])
def test_a_column_of_empty_texts_is_coded_without_factorising(column: pd.Series, empty: bool) -> None:
    """``Coded.of`` of a text column that is "" in every row (no timestamps, no lead times) is read from the
    chunks' offsets; whichever way, the codes, values and missing flag are pandas' ``factorize``'s."""
    from labelspec.check.release_judgments import Coded, _all_empty_text

    assert _all_empty_text(column) is empty
    coded = Coded.of(column)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    assert coded.codes.tolist() == codes.tolist() and coded.codes.dtype == np.int32
    assert coded.values.tolist() == list(uniques) and coded.values.dtype == column.dtype
    assert coded.missing is bool(codes.size and codes.min() < 0)
