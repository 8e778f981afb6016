"""The item-id hash behind bootstrap blocks, against a per-string Python reference of its definition."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check import tables, text_hash
from labelspec.check.tables import encode

MASK = (1 << 64) - 1


def _mix(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def reference(text: str) -> int:
    """The module docstring's definition, one string at a time in Python integers."""
    data = text.encode("utf-8")
    h = _mix(len(data))
    for a in range(0, len(data), 8):
        h = _mix(h ^ int.from_bytes(data[a:a + 8].ljust(8, b"\0"), "little"))
    return h


def test_splitmix64_is_the_published_generator() -> None:
    """mix(0), mix(golden), … are splitmix64's outputs from seed 0 (the values Java's SplittableRandom and the
    reference C code of Vigna give): the constants and shifts are the published ones."""
    outputs, state = [], 0
    for _ in range(3):
        outputs.append(_mix(state))
        state = (state + 0x9E3779B97F4A7C15) & MASK
    assert outputs == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=30), st.booleans(), st.integers(0, 3))
def test_equals_the_reference_for_any_strings(items: list[str], large: bool, cut: int) -> None:
    """Any lengths (the padded and ragged paths), any UTF-8, string or large_string, sliced or chunked."""
    arr = pa.array(["x"] * cut + items, pa.large_string() if large else pa.string()).slice(cut)
    want = [reference(t) for t in items]
    assert text_hash.hash_strings(arr).tolist() == want
    chunked = pa.chunked_array([arr.slice(0, len(items) // 2), arr.slice(len(items) // 2)], arr.type)
    assert text_hash.hash_strings(chunked).tolist() == want


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 20), st.integers(1, 60), st.integers(1, 5))
def test_ids_of_one_width_across_pieces(width: int, n: int, piece: int) -> None:
    """The common case (ids such as i0001234) hashes as one block of bytes per piece; pieces change nothing."""
    items = [f"{i:0{width}d}"[-width:] if width else "" for i in range(n)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(text_hash, "_PIECE", piece)
        got = text_hash.hash_strings(pa.array(items)).tolist()
    assert got == [reference(t) for t in items]


def test_one_long_id_among_short_ones() -> None:
    """Each word step takes only the strings that have that word (the longest first), so one long id costs its
    own words, not a pass over every id per word."""
    items = ["a", "ü" * 3000, "", "i0001234", "x" * 17]
    assert text_hash.hash_strings(pa.array(items)).tolist() == [reference(t) for t in items]


def test_refuses_nulls_and_non_strings() -> None:
    with pytest.raises(ValueError, match="1 null"):
        text_hash.hash_strings(pa.array(["a", None]))
    with pytest.raises(TypeError, match="int64"):
        text_hash.hash_strings(pa.array([1, 2]))
    assert text_hash.hash_strings(pa.array([], pa.string())).tolist() == []


def test_item_blocks_are_pinned_and_even() -> None:
    """Pinned: a change of hash moves every published bootstrap interval. Blocks of 100k sequential ids are
    even (a chi-square far below its 999 degrees of freedom's 99.9th percentile, ~1143)."""
    ids = [f"i{i:07d}" for i in range(6)] + ["doc-17"]
    want = [reference(t) % 1000 for t in ids]
    assert tables.item_block(pa.array(ids), 1000).tolist() == want == [249, 572, 97, 503, 686, 627, 205]
    assert tables.item_block(np.array(ids, dtype=object), 1000).tolist() == want  # Python strings too
    counts = np.bincount(tables.item_block(pa.array([f"i{i:07d}" for i in range(100_000)]), 1000), minlength=1000)
    chi2 = float(((counts - 100) ** 2 / 100).sum())
    assert chi2 < 1143


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["i1", "i22", "ü", "i0001234", ""]), st.sampled_from(["a", "b"])),
                min_size=1, max_size=20))
def test_unit_item_texts_are_the_unit_items(rows: list[tuple[str, str]]) -> None:
    """Taken from the read-time Arrow categories when units are items, converted otherwise: the same strings."""
    import pandas as pd

    frame = pd.DataFrame({"item": pd.Categorical([r[0] for r in rows]), "unit": "", "annotator": [r[1] for r in rows],
                          "value": "x"})
    frame["item"] = frame["item"].cat.set_categories(pd.Index(sorted(set(frame["item"])), dtype="str"))
    codes = encode(frame, ("x",))
    assert codes.unit_item_texts().to_pylist() == codes.unit_items.tolist()
