"""Count tables against a plain Python tally of the same judgments (an independent computation)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from itertools import combinations
from random import Random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check import coded, tables
from labelspec.check.coded import category_mask
from labelspec.check.tables import (
    annotator_counts,
    encode,
    find_sorted,
    pair_tables,
    row_totals,
    unit_counts,
    unit_positions,
)

LABELS = ("x", "y", "z")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 4), st.sampled_from(LABELS)), min_size=1, max_size=60,
                unique_by=lambda r: (r[0], r[1])), st.data())
def test_tables_equal_a_plain_tally(rows: list[tuple[int, int, str]], data: st.DataObject) -> None:
    frame = pd.DataFrame({"item": [f"i{r[0]}" for r in rows], "unit": "", "annotator": [f"a{r[1]}" for r in rows],
                          "value": [r[2] for r in rows]})
    narrow = data.draw(st.booleans(), label="narrow")  # int32 codes (the label-coded analysis's) count alike
    codes = encode(frame, LABELS, narrow=narrow)
    assert codes.unit.dtype == codes.annotator.dtype == codes.category.dtype == (np.int32 if narrow else np.int64)
    units, annotators = list(codes.unit_keys), list(codes.annotators)
    counts = unit_counts(codes)
    for (item, label), n in Counter((f"i{r[0]}", r[2]) for r in rows).items():
        assert counts[units.index(item), LABELS.index(label)] == n
    assert annotator_counts(codes).sum() == len(rows)
    if data.draw(st.booleans(), label="whole units"):  # as gold units are left out: the grouping is kept as is
        kept_items = data.draw(st.lists(st.booleans(), min_size=7, max_size=7))
        keep = np.array([kept_items[r[0]] for r in rows], dtype=bool)
    else:  # rows dropped within a unit
        keep = np.array(data.draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows))), dtype=bool)
    expected: Counter[tuple[str, str, str, str]] = Counter()
    by_item: dict[str, list[tuple[str, str]]] = {}
    for i, a, v in (r for r, kept in zip(rows, keep, strict=True) if kept):  # pairs among the kept rows only
        by_item.setdefault(f"i{i}", []).append((f"a{a}", v))
    for judged in by_item.values():
        for (a, va), (b, vb) in combinations(sorted(judged), 2):
            expected[(a, b, va, vb)] += 1
    row_of = {(f"i{i}", f"a{a}"): n for n, (i, a, _) in enumerate(rows)}  # encode may reorder: map masks by id
    mask = np.array([keep[row_of[(codes.unit_keys[u], codes.annotators[a])]]
                     for u, a in zip(codes.unit, codes.annotator, strict=True)], dtype=bool)
    tables = pair_tables(codes, mask, n_blocks=7)
    got: Counter[tuple[str, str, str, str]] = Counter()
    for p, (lo, hi) in enumerate(tables.pairs):
        for i, j in zip(*np.nonzero(tables.confusions[p]), strict=True):
            got[(annotators[lo], annotators[hi], LABELS[i], LABELS[j])] = int(tables.confusions[p, i, j])
    assert got == expected
    assert len(tables.observation_cell) == sum(expected.values()) and tables.observation_block.max(initial=0) < 7


def test_category_mask_is_exact_string_membership() -> None:
    values = pd.Index(["a", "01", "1", "NA", "", "b"], dtype=pd.StringDtype("pyarrow"))
    assert category_mask(values, ["1", "NA", "b", "b"]).tolist() == [False, False, True, True, False, True]
    plain = pd.Index(["a", "01", "1", "NA", "", "b"], dtype=object)  # categories of hand-built frames
    assert category_mask(plain, iter(["1", "NA", "b"])).tolist() == [False, False, True, True, False, True]
    assert category_mask(values, []).tolist() == [False] * 6
    assert category_mask(values, ["b", 1]).tolist() == [False, False, False, False, False, True]  # not all text
    arrow = pd.Series(["NA", "b", "zz", "NA"], dtype=pd.StringDtype("pyarrow"))  # a column: no Python string each
    assert category_mask(values, arrow.unique()).tolist() == [False, False, False, True, False, True]
    assert category_mask(values, arrow).tolist() == category_mask(values, np.array(["NA", "b"], dtype=object)).tolist()
    assert category_mask(values, np.array([1, 0])).tolist() == [False] * 6  # numbers are no ids: 1 is not "1"


def test_pair_tables_with_a_wide_annotator_space_match_the_narrow_one() -> None:
    """50,000 annotators: pair keys no longer fit int32 and pairs are found by sorting; same confusions."""
    from labelspec.check.tables import Codes

    rng = np.random.default_rng(3)
    n_units, n = 40, 150
    unit = rng.integers(0, n_units, n)
    ann = rng.integers(0, 6, n)
    keep = np.unique(unit * 6 + ann, return_index=True)[1]  # one judgment per (unit, annotator)
    unit, ann, cat = unit[keep], ann[keep], rng.integers(0, 3, keep.size)
    spread = np.array([0, 7, 1_000, 20_000, 45_000, 49_999])  # the same six annotators, far apart
    items = np.array([f"i{u}" for u in range(n_units)], dtype=object)

    def codes(annotator: np.ndarray, n_ann: int) -> Codes:
        return Codes(unit=unit, annotator=annotator, category=cat, unit_keys=items, unit_items=items,
                     unit_steps=np.full(n_units, "", dtype=object),
                     annotators=np.array([f"a{i}" for i in range(n_ann)], dtype=object), categories=LABELS)

    mask = rng.random(unit.size) < 0.9
    narrow = pair_tables(codes(ann, 6), mask, n_blocks=5)
    wide = pair_tables(codes(spread[ann], 50_000), mask, n_blocks=5)
    assert np.array_equal(wide.confusions, narrow.confusions) and narrow.confusions.sum() > 0
    assert np.array_equal(wide.pairs, spread[narrow.pairs])
    assert np.array_equal(wide.observation_block, narrow.observation_block)
    pair_of = lambda t: t.observation_cell // 9  # noqa: E731 - the pair index of each observation
    assert np.array_equal(wide.observation_cell % 9, narrow.observation_cell % 9)
    assert np.array_equal(pair_of(wide), pair_of(narrow))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 3), st.booleans()), max_size=50))
def test_count_cells_with_a_mask_count_only_the_kept_rows(rows: list[tuple[int, int, bool]]) -> None:
    from labelspec.check.tables import count_cells

    arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
    keep = arr[:, 2].astype(bool)
    want = np.zeros((7, 4), dtype=np.int64)
    for u, c, kept in rows:
        want[u, c] += kept
    assert np.array_equal(count_cells(arr[:, 0], arr[:, 1], (7, 4), keep), want)
    assert np.array_equal(count_cells(arr[:, 0], arr[:, 1], (7, 4)), want + count_cells(
        arr[~keep, 0], arr[~keep, 1], (7, 4)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["i1", "i2", "i10", "NA", "", "é", "i1 "]), min_size=1, max_size=30),
       st.lists(st.sampled_from(["i1", "i2", "i3", "NA", "", "é", "x"]), unique=True, max_size=6),
       st.booleans())
def test_unit_positions_by_hashing_equal_the_binary_search(items: list[str], keys: list[str], arrow: bool) -> None:
    """The Arrow lookup of unit keys and the binary search over the sorted Python strings give the same
    positions, for read-time (Arrow-backed) and plain text item columns alike."""
    dtype = pd.StringDtype("pyarrow") if arrow else object
    frame = pd.DataFrame({"item": pd.array(items, dtype=dtype), "unit": "", "annotator": "a", "value": "x"})
    codes = encode(frame, ("x",))
    assert codes.unit_lookup is not None
    assert unit_positions(codes, keys).tolist() == find_sorted(codes.unit_keys, keys).tolist()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["i1", "i2", "i10", "NA", "", "é", "i1 "]), min_size=1, max_size=30),
       st.lists(st.sampled_from(["i1", "i2", "i3", "NA", "", "é", "x"]), unique=True, min_size=1, max_size=6),
       st.randoms(use_true_random=False))
def test_unit_positions_are_probed_once_per_key_set(items: list[str], keys: list[str], rnd: Random) -> None:
    """The same keys asked again, in any order (the analysis, the consensus, its routing and the hotspots all
    ask for the gold units), are answered from the codes' memo, as the binary search answers them."""
    frame = pd.DataFrame({"item": pd.array(items, dtype=pd.StringDtype("pyarrow")), "unit": "", "annotator": "a",
                          "value": "x"})
    codes = encode(frame, ("x",))
    probes: list[list[str]] = []
    original = tables._probe

    def counted(lookup: object, q: list[str]) -> object:
        probes.append(q)
        return original(lookup, q)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tables, "_probe", counted)
        for _ in range(3):
            asked = rnd.sample(keys, len(keys))
            assert unit_positions(codes, asked).tolist() == find_sorted(codes.unit_keys, asked).tolist()
    assert probes == [sorted(keys)]
    again = replace(codes, category=codes.category.copy())  # a new instance starts with an empty memo
    assert again.found == {} and len(codes.found) == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["i1", "i2", "i10", "NA", "", "é", "i1 "]), min_size=1, max_size=30), st.booleans(),
       st.data())
def test_unit_texts_made_on_first_use_are_the_distinct_items_in_code_order(items: list[str], arrow: bool,
                                                                          data: st.DataObject) -> None:
    """Where units are items, ``encode`` leaves the units' Python texts to be made on first use (3.3M of them
    at 10M judgments, which a plain check never reads): the number of units is known at once, a few units'
    texts come without making the others, and the texts made are the distinct items in the unit codes' order,
    whichever is asked first."""
    dtype = pd.StringDtype("pyarrow") if arrow else object
    frame = pd.DataFrame({"item": pd.array(items, dtype=dtype), "unit": "", "annotator": "a", "value": "x"})
    codes = encode(frame, ("x",))
    distinct = sorted(set(items))  # UTF-8 byte order is code point order
    some = np.array(data.draw(st.lists(st.integers(0, len(distinct) - 1), max_size=5)), dtype=np.int64)
    assert codes.n_units == len(distinct) and codes.shape[0] == len(distinct)
    first_items, first_steps = codes.units_at(some)
    assert not codes.unit_texts_made  # a few units named: the others are not made
    assert list(first_items) == [distinct[u] for u in some] and list(first_steps) == [""] * len(some)
    assert list(codes.unit_keys) == list(codes.unit_items) == distinct and list(codes.unit_steps) == [""] * len(distinct)
    assert [distinct[u] for u in codes.unit] == items  # the codes index the texts made
    after = codes.units_at(some)
    assert [list(a) for a in after] == [list(first_items), list(first_steps)]
    moved = replace(codes, category=codes.category.copy())  # a copy takes the texts made
    assert list(moved.unit_keys) == distinct


def test_units_made_later_need_all_three_texts_their_maker_and_count() -> None:
    with pytest.raises(ValueError, match="made later"):
        tables.Codes(unit=np.zeros(1, np.int64), annotator=np.zeros(1, np.int64), category=np.zeros(1, np.int64),
                     unit_keys=tables.LATER, unit_items=np.array(["i"], dtype=object),
                     unit_steps=np.array([""], dtype=object), annotators=np.array(["a"], dtype=object),
                     categories=("x",))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(["", "s1", "s2"]), st.integers(0, 3),
                          st.sampled_from([*LABELS, "other"])), min_size=1, max_size=40), st.booleans())
def test_narrow_codes_are_the_wide_codes_in_int32(rows: list[tuple[int, str, int, str]], steps: bool) -> None:
    """``encode(narrow=True)`` changes the codes' type only: units (per item or per step), annotators, categories
    (−1 for a value that is no label) and the grouping by unit are those of the int64 codes."""
    frame = pd.DataFrame({"item": [f"i{r[0]}" for r in rows], "unit": [r[1] if steps else "" for r in rows],
                          "annotator": [f"a{r[2]}" for r in rows], "value": [r[3] for r in rows]})
    wide, narrow = encode(frame, LABELS), encode(frame, LABELS, narrow=True)
    for name in ("unit", "annotator", "category"):
        w, n = getattr(wide, name), getattr(narrow, name)
        assert w.dtype == np.int64 and n.dtype == np.int32 and n.tolist() == w.tolist()
    assert list(narrow.unit_keys) == list(wide.unit_keys) and list(narrow.annotators) == list(wide.annotators)
    for got, want in zip(narrow.by_unit, wide.by_unit, strict=True):
        assert got.tolist() == want.tolist()
    if (wide.category >= 0).all():  # the table counts labels (the analysis codes no other value)
        assert narrow.unit_table.tolist() == wide.unit_table.tolist()


def test_cell_keys_of_int32_codes_do_not_wrap() -> None:
    """Products of int32 codes are formed in int64: a unit code near 2**31 times K would wrap in int32."""
    unit = np.array([2**31 - 1, 5], dtype=np.int32)
    category = np.array([3, 1], dtype=np.int32)
    assert tables.cell_keys(unit, category, 4).tolist() == [(2**31 - 1) * 4 + 3, 21]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 5), st.integers(0, 40)), max_size=60), st.integers(1, 4),
       st.integers(1, 6))
def test_counting_grouped_cells_equals_counting_cells(rows: list[tuple[int, int, int]], piece: int, k: int) -> None:
    """The unit table counted piece by piece of groups from the packed cells in group order is ``count_cells``'s,
    with groups that have no row, pieces of several groups, a last piece cut short, and K of 1 (no category
    bit) to 6 (K not a power of two)."""
    from labelspec.check.coded import take_packed
    from labelspec.check.ordering import group_order

    unit = np.array([r[0] for r in rows], dtype=np.int32)
    category = np.array([r[1] % k for r in rows], dtype=np.int32)
    annotator = np.array([r[2] for r in rows], dtype=np.int32)
    order, offsets = group_order(unit, 10)
    shift = (k - 1).bit_length()
    cells = take_packed(annotator, category, shift, order, tables.cell_type(41, shift))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tables, "_COUNT_GROUPS", piece)
        got = tables.count_grouped_cells(cells, offsets, shift, k, np.int32)
    assert got.dtype == np.int32
    assert got.tolist() == tables.count_cells(unit, category, (10, k)).tolist()
    assert tables.count_grouped_cells(cells[:0], group_order(unit[:0], 10)[1], 0, 0).shape == (10, 0)  # no category


def test_the_shared_unit_table_is_counted_from_the_reader_grouping() -> None:
    """With the accounting's grouping by item (units are items), ``Codes.unit_table`` counts from it: the same
    table as counting every cell, read-only, int32."""
    from labelspec.check.ordering import group_order

    rng = np.random.default_rng(5)
    items = rng.integers(0, 40, 300)
    frame = pd.DataFrame({"item": pd.Categorical([f"i{i:02d}" for i in items]), "unit": "",
                          "annotator": [f"a{a}" for a in rng.integers(0, 9, 300)],
                          "value": rng.choice(list(LABELS), 300)})
    by_item = group_order(frame["item"].cat.codes.to_numpy().astype(np.int32), len(frame["item"].cat.categories))
    grouped = encode(frame, LABELS, by_item=by_item, narrow=True)
    assert grouped.grouped is not None
    plain = encode(frame, LABELS, narrow=True)
    assert plain.grouped is None
    assert grouped.unit_table.dtype == np.int32 and not grouped.unit_table.flags.writeable
    assert grouped.unit_table.tolist() == plain.unit_table.tolist() == unit_counts(plain).tolist()
    assert "_made_grouped_cells" in grouped.__dict__  # counted from the packed cells, made on the way
    # the judgments' packed cells in the grouped order, made once for the pair tables and Dawid–Skene
    for codes in (grouped, plain):
        cells, (order, _) = codes.grouped_cells, codes.by_unit
        assert codes.cell_shift == 2 and cells is codes.grouped_cells and not cells.flags.writeable
        assert cells.dtype == np.int16
        assert cells.tolist() == [int(codes.annotator[r]) << 2 | int(codes.category[r]) for r in order]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 5), st.sampled_from(LABELS)), min_size=1, max_size=60,
                unique_by=lambda r: (r[0], r[1])), st.sets(st.integers(0, 8)), st.integers(1, 7))
def test_pair_tables_given_the_kept_units_are_those_of_the_row_mask(rows: list[tuple[int, int, str]],
                                                                    gold: set[int], piece: int) -> None:
    """A caller that made the row mask from units (the analysis: every row off gold units) may pass those units;
    the tables are the same as checking the mask row by row, and the packed rows gathered by pieces of any size
    are each row's annotator and category."""
    frame = pd.DataFrame({"item": [f"i{r[0]}" for r in rows], "unit": "", "annotator": [f"a{r[1]}" for r in rows],
                          "value": [r[2] for r in rows]})
    codes = encode(frame, LABELS, narrow=True)
    units = ~np.isin(codes.unit_items, [f"i{g}" for g in gold])
    mask = units[codes.unit]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coded, "_TAKE_ROWS", piece)
        given_units = pair_tables(codes, mask, units=units)
    checked = pair_tables(codes, mask)
    for name in ("pairs", "confusions", "observation_cell", "observation_block"):
        assert getattr(given_units, name).tolist() == getattr(checked, name).tolist()
    order = np.arange(len(rows))[::-1].copy()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(coded, "_TAKE_ROWS", piece)
        packed = coded.take_packed(codes.annotator, codes.category, 2, order, np.int32)
    assert packed.tolist() == [(int(codes.annotator[i]) << 2) | int(codes.category[i]) for i in order]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.integers(0, 6), st.sampled_from(["int32", "int64", "uint8", "bool"]), st.data())
def test_row_totals_are_the_rows_sums_exactly(n: int, k: int, dtype: str, data) -> None:
    high = 1 if dtype == "bool" else 255 if dtype == "uint8" else 2**20
    values = data.draw(st.lists(st.integers(0, high), min_size=n * k, max_size=n * k))
    table = np.array(values, dtype=np.int64).reshape(n, k).astype(dtype)
    totals = row_totals(table)
    assert totals.dtype == np.int64
    assert totals.tolist() == np.asarray(table, dtype=np.int64).sum(axis=1).tolist()  # uint8 rows past 255 too
