"""Judgment rows → integer codes → count tables, the sufficient statistics every statistic is computed from.

This is the only check module that aggregates rows. Ids are encoded once over all files together (encoding per
chunk and unifying dictionaries afterwards is slower); every table is then a ``numpy.bincount`` over codes, so
tables are additive: batches, files or partitions combine by summing tables that share the same codes.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from labelspec.check.coded import (
    arrow_texts,
    codes_of,
    compact,
    present,
    repeated,
    take_packed,
    text_of,
    texts_in_pieces,
)
from labelspec.check.ordering import group_order
from labelspec.check.text_hash import hash_strings

#: Above this many possible keys, distinct keys are found by sorting instead of counting into a dense array.
_DENSE_KEYS = 50_000_000
_T = TypeVar("_T")
UNIT_SEP = "\x1f"  # joins item and step into a unit key; cannot appear in ids read from text files unnoticed
#: The per-unit texts of :class:`Codes`, which it may make on first use.
_UNIT_TEXTS = ("unit_keys", "unit_items", "unit_steps")
#: Stands for a unit text :class:`Codes` makes on first use (see ``Codes.unit_texts``).
LATER: Any = np.empty(0, dtype=object)


@dataclass(frozen=True)
class Codes:
    """One judgment per position: integer codes of its unit, annotator and category."""

    #: (N,) codes: int64, or int32 from ``encode(narrow=True)`` (label-coded kinds, whose consumers widen to int64
    #: before any product of codes: ``cell_keys``, the pair keys, ``consensus.as_codes``)
    unit: np.ndarray  # into unit_keys
    annotator: np.ndarray  # into annotators
    category: np.ndarray  # into categories
    #: (U,) object: item, or item + UNIT_SEP + step; with the two below, :data:`LATER` when ``unit_texts`` makes
    #: them on first use
    unit_keys: np.ndarray
    unit_items: np.ndarray  # (U,) object
    unit_steps: np.ndarray  # (U,) object ('' for unit: item)
    annotators: np.ndarray  # (A,) object
    categories: tuple[str, ...]
    #: When units are items: the read-time item categories (Arrow strings, shared with the judgment table) and
    #: each category's unit code (-1: no unit), so that ``unit_positions`` looks keys up by hashing in C, not by
    #: binary search over Python strings. None otherwise.
    unit_lookup: tuple[pa.Array, np.ndarray] | None = None
    #: ``by_unit`` when the caller had it already (the accounting's grouping by item, where units are items), with
    #: the ``unit`` array it groups: ``dataclasses.replace(codes, unit=…)`` keeps this field, and a grouping of
    #: another array is then ignored (compared by identity).
    grouped: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    #: :func:`unit_positions`' answers by the set of keys asked: the gold units are looked up by the analysis,
    #: the consensus, its routing and the hotspots (~0.2 s apiece at 3.3M units), now once. Never copied by
    #: ``dataclasses.replace``: a new instance starts empty.
    found: dict[frozenset[str], tuple[pd.Index, np.ndarray]] = field(
        default_factory=dict, init=False, repr=False, compare=False)
    #: With :data:`LATER` for the unit texts: the number of units, and what makes (unit_keys, unit_items,
    #: unit_steps) on first use. ``encode`` spent most of its time turning 3.3M item ids into Python strings (0.16
    #: of 0.26 s at 10M judgments, on the check's critical path) that only a per-unit frame reads (a release's,
    #: an adjudication queue's): a plain check makes none but the few its hotspots name (:meth:`units_at`).
    units: int = field(default=-1, repr=False, compare=False)
    unit_texts: ItemUnitTexts | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        later = [name for name in _UNIT_TEXTS if self.__dict__[name] is LATER]
        if later and (len(later) < len(_UNIT_TEXTS) or self.unit_texts is None or self.units < 0):
            raise ValueError("unit texts made later need all three, their maker and the number of units")
        for name in later:  # absent: the first read goes to __getattr__, which makes them
            del self.__dict__[name]

    def __getattr__(self, name: str) -> Any:
        """The unit texts, made on first read (once, whichever thread reads first) when given as :data:`LATER`."""
        make = self.__dict__.get("unit_texts")
        if name not in _UNIT_TEXTS or make is None:
            raise AttributeError(name)
        made = self._once("unit_texts", make)
        self.__dict__.update(zip(_UNIT_TEXTS, made, strict=True))
        return self.__dict__[name]

    @property
    def n_units(self) -> int:
        """How many units (``len(unit_keys)``, without making the unit texts)."""
        return self.units if self.units >= 0 else len(self.unit_keys)

    @property
    def unit_texts_made(self) -> bool:
        """Whether the unit texts exist (given, or made on first use by now)."""
        return self.unit_texts is None or "unit_items" in self.__dict__

    def unit_fields(self, units: np.ndarray) -> dict[str, Any]:
        """The unit texts' fields of codes of the given units only (``unit_keys`` … ``unit_texts``): made on first
        use still, when these codes make theirs so and have not yet."""
        if not self.unit_texts_made and self.unit_texts is not None:
            return {"unit_keys": LATER, "unit_items": LATER, "unit_steps": LATER, "units": len(units),
                    "unit_texts": self.unit_texts.of(units)}
        return {"unit_keys": self.unit_keys[units], "unit_items": self.unit_items[units],
                "unit_steps": self.unit_steps[units]}

    def units_at(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(items, steps) of the given units, object arrays: only theirs made when the unit texts are made on
        first use and nothing has made them yet (the hotspots name a few units; a plain check makes no other)."""
        if not self.unit_texts_made and self.unit_texts is not None:
            return self.unit_texts.at(units)
        return self.unit_items[units], self.unit_steps[units]

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.n_units, len(self.annotators), len(self.categories)

    #: A lock per value made on first use (:meth:`by_unit`, :meth:`unit_table`): the check's consensus thread
    #: starts right after encoding and reads both while the analysis makes them, so the second reader waits
    #: for the first one's result instead of counting 10M judgments again. Never copied by ``replace``.
    _locks: dict[str, threading.Lock] = field(
        default_factory=lambda: {name: threading.Lock() for name in ("by_unit", "unit_table", "grouped_cells",
                                                                      "unit_texts")},
        init=False, repr=False, compare=False)

    def _once(self, name: str, make: Callable[[], _T]) -> _T:
        """``make()``, made once per instance even when two threads ask at the same time (kept in ``__dict__``,
        as ``functools.cached_property`` keeps its values, which locks only on Python 3.11)."""
        key = "_made_" + name
        if key not in self.__dict__:
            with self._locks[name]:
                if key not in self.__dict__:
                    self.__dict__[key] = make()
        made: _T = self.__dict__[key]
        return made

    def unit_item_texts(self) -> pa.Array:
        """:attr:`unit_items` as Arrow strings: taken from the read-time categories when units are items (no
        Python string per unit), else converted."""
        if self.unit_lookup is not None:
            texts, unit_of = self.unit_lookup
            positions = np.flatnonzero(unit_of >= 0)  # unit u is the u-th category present (codes follow order)
            if len(positions) == self.n_units:
                return texts.take(pa.array(positions, pa.int64()))
        return pa.array(self.unit_items, pa.string())

    @property
    def by_unit(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows grouped by unit, in row order within each unit, and the (U + 1,) offsets of the units in that
        order (``ordering.group_order``): one counting sort of the judgments, shared by the annotator pairs of
        the analysis and by Dawid–Skene's sparse matrix in the consensus (each was a sort of 10M rows)."""
        if self.grouped is not None and self.grouped[0] is self.unit:
            return self.grouped[1], self.grouped[2]
        return self._once("by_unit", lambda: group_order(self.unit, self.n_units))

    @property
    def grouped_already(self) -> bool:
        """Whether :attr:`by_unit` is at hand (given, or made by an earlier reader), so asking costs no sort."""
        return (self.grouped is not None and self.grouped[0] is self.unit) or "_made_by_unit" in self.__dict__

    @property
    def unit_table(self) -> np.ndarray:
        """(U, K) judgments per unit and category over every row (:func:`unit_counts` without a mask), counted
        once for the analysis, the consensus and the hotspots (each counted its own: 0.4 s and 107 MB apiece at
        10M judgments). int32 whenever it fits (half the memory) and read-only: it is shared."""
        return self._once("unit_table", self._count_units)

    @property
    def cell_shift(self) -> int:
        """The bits of a category in :attr:`grouped_cells` (those of K - 1)."""
        return max(len(self.categories) - 1, 0).bit_length()

    @property
    def grouped_cells(self) -> np.ndarray:
        """(N,) each judgment's ``annotator << cell_shift | category``, in :attr:`by_unit`'s order, made once: the
        analysis's annotator pairs and Dawid–Skene's layout both read the judgments so, unit by unit (a random
        gather of every row apiece: ~0.1 s at 10M judgments). As narrow as :func:`cell_type` allows; read-only:
        it is shared."""
        return self._once("grouped_cells", self._pack_cells)

    def _pack_cells(self) -> np.ndarray:
        shift = self.cell_shift
        cells = take_packed(self.annotator, self.category, shift, self.by_unit[0],
                            cell_type(len(self.annotators), shift))
        cells.flags.writeable = False
        return cells

    def _count_units(self) -> np.ndarray:
        u, _, k = self.shape
        kind = _int_for(len(self.unit) + 1)
        if self.grouped is not None and self.grouped[0] is self.unit and len(self.unit) and self.category.min() >= 0:
            # the grouping is there already: counted from the grouped cells, made now if no one has yet (the pair
            # rows and Dawid–Skene read them too), without gathering every row's category in group order again
            table = count_grouped_cells(self.grouped_cells, self.grouped[2], self.cell_shift, k, kind)
        else:
            table = count_cells(self.unit, self.category, (u, k)).astype(kind, copy=False)
        table.flags.writeable = False
        return table


@dataclass(frozen=True)
class PairTables:
    """Annotator-pair confusion counts: ``confusions[p, i, j]`` = units where ``pairs[p, 0]`` said i and
    ``pairs[p, 1]`` said j. Each unit judged by a pair is one observation: ``observation_cell`` indexes the flat
    (P, K, K) table and ``observation_block`` is the random item block of its unit (for the bootstrap)."""

    pairs: np.ndarray  # (P, 2) annotator codes, lo < hi
    confusions: np.ndarray  # (P, K, K)
    observation_cell: np.ndarray  # (R,)
    observation_block: np.ndarray  # (R,)
    n_blocks: int


def find_sorted(sorted_keys: np.ndarray, queries: Iterable[str]) -> np.ndarray:
    """Position of each query in ``sorted_keys`` (``Codes.unit_keys`` are sorted), ``-1`` when absent.

    Binary search: the few gold or routed keys are looked up without hashing millions of unit keys."""
    q = np.asarray(list(queries), dtype=object)
    if len(sorted_keys) == 0 or len(q) == 0:
        return np.full(len(q), -1, dtype=np.int64)
    pos = np.minimum(np.searchsorted(sorted_keys, q), len(sorted_keys) - 1)
    return np.where(sorted_keys[pos] == q, pos, -1).astype(np.int64)


def unit_positions(codes: Codes, keys: Iterable[str]) -> np.ndarray:
    """Position of each of the distinct ``keys`` among the unit keys, ``-1`` when absent.

    With the units' Arrow texts, the unit keys are probed against a hash table of the few keys (~0.1 s for 3.3M
    units, against ~0.3 s of binary search comparing Python strings); otherwise :func:`find_sorted`."""
    q = list(keys)
    if not q or not codes.n_units:
        return np.full(len(q), -1, dtype=np.int64)
    if codes.unit_lookup is None:
        return find_sorted(codes.unit_keys, q)
    asked = frozenset(q)
    known = codes.found.get(asked)
    if known is None:
        distinct = sorted(asked)
        known = (pd.Index(distinct, dtype=object), _probe(codes.unit_lookup, distinct))
        codes.found[asked] = known  # two threads may both probe: the same answer, stored twice
    index, found = known
    out: np.ndarray = found[index.get_indexer(pd.Index(q, dtype=object))]
    return out


def _probe(lookup: tuple[pa.Array, np.ndarray], q: list[str]) -> np.ndarray:
    texts, unit_of = lookup
    wanted = pa.array(q, texts.type)
    hit = np.flatnonzero(pc.is_in(texts, value_set=wanted).to_numpy(zero_copy_only=False))  # bits, then bools
    which = pc.index_in(texts.take(pa.array(hit)), value_set=wanted).to_numpy(zero_copy_only=False)
    out = np.full(len(q), -1, dtype=np.int64)
    out[np.asarray(which, dtype=np.int64)] = unit_of[hit]
    return out


def units_on_items(codes: Codes, items: Iterable[str]) -> np.ndarray:
    """(U,) True for the units of ``items`` (any step of them). Looked up through the codes where units are the
    items (Arrow hashing): ``isin`` over 3.3M unit items as Python strings took ~1 s at 10M judgments."""
    # a pandas column as one list first: iterating Arrow strings one by one took ~0.1 s for 66k gold items
    wanted = set(items.tolist() if isinstance(items, pd.Series) else items)
    if not wanted:
        return np.zeros(codes.n_units, dtype=bool)
    if codes.unit_lookup is not None:
        pos = unit_positions(codes, wanted)
        on = np.zeros(codes.n_units, dtype=bool)
        on[pos[pos >= 0]] = True
        return on
    return np.asarray(pd.Series(codes.unit_items, dtype=object).isin(wanted).to_numpy(), dtype=bool)


def gold_units_of(codes: Codes, gold_units: set[str]) -> np.ndarray:
    """(U,) True for the gold units among ``codes``' units, looked up once per gold unit."""
    on_gold = np.zeros(codes.n_units, dtype=bool)
    if codes.n_units and gold_units:
        found = unit_positions(codes, sorted(gold_units))
        on_gold[found[found >= 0]] = True
    return on_gold


def gold_unit_mask(codes: Codes, gold_units: set[str]) -> np.ndarray:
    """(N,) True for judgments on gold units: looked up once per gold unit, then spread by the unit codes."""
    if not len(codes.unit):
        return np.zeros(0, dtype=bool)
    mask: np.ndarray = gold_units_of(codes, gold_units)[codes.unit]
    return mask


def encode(frame: pd.DataFrame, categories: tuple[str, ...], category_of: np.ndarray | None = None, *,
           by_item: tuple[np.ndarray, np.ndarray] | None = None, narrow: bool = False) -> Codes:
    """Integer-code a task's used judgments. ``category_of`` gives category codes when values are not labels.

    Works on the codes made when the files were read (``coded``): units, annotators and values are renumbered
    among those present by a bincount over codes, and only per-unit or per-annotator lists are turned into text.
    ``by_item`` is ``frame``'s rows grouped by their item codes (``Accounting.by_item``, ``group_order``'s
    order and offsets): where units are items it is their ``Codes.by_unit`` once the absent items' empty groups
    are dropped, since unit codes are the item codes renumbered in the same order. ``narrow``: the codes are
    int32 when they fit, for consumers that widen before multiplying codes (at 10M judgments, three int64
    columns are 240 MB of fresh memory the check's peak holds).
    """
    code_type = np.int32 if narrow and len(frame) < 1 << 31 else np.int64  # a code is below the row count
    item_code, item_cats = codes_of(frame, "item")
    step_code, step_cats = codes_of(frame, "unit")
    if by_item is not None and (len(by_item[0]) != len(frame) or len(by_item[1]) != len(item_cats) + 1):
        raise ValueError("by_item does not group these rows")
    # the items that occur are the grouping's non-empty groups (no counting pass over the rows)
    item_pos, item_rank = compact(item_code, len(item_cats), None if by_item is None else np.diff(by_item[1]) > 0,
                                  dtype=code_type)
    step_pos = present(step_code, len(step_cats))
    steps = text_of(step_cats, step_pos)
    grouped = None
    if (steps != "").any():  # unit: step — a unit is an (item, step) pair, ordered as its joined text
        _, step_rank = compact(step_code, len(step_cats))
        n_steps = len(step_pos)
        unit_pos, unit_codes = _dense_codes(np.multiply(item_rank, n_steps, dtype=np.int64) + step_rank,
                                            len(item_pos) * n_steps)
        unit_items = text_of(item_cats, item_pos[unit_pos // n_steps])
        unit_steps = steps[unit_pos % n_steps]
        unit_keys = np.array([f"{i}{UNIT_SEP}{s}" for i, s in zip(unit_items, unit_steps, strict=True)],
                             dtype=object)
        order = np.argsort(unit_keys, kind="stable")  # the joined text's order (an id may contain UNIT_SEP)
        unit_codes = np.argsort(order)[unit_codes]
        unit_keys, unit_items, unit_steps = unit_keys[order], unit_items[order], unit_steps[order]
        unit_lookup = None
    else:
        unit_codes = item_rank
        unit_items = unit_keys = unit_steps = LATER  # made on first use (``Codes.unit_texts``)
        unit_lookup = _lookup(item_cats, item_pos)
        if by_item is not None:
            order, offsets = by_item
            if len(item_pos) < len(item_cats):  # an empty group repeats its offset: keep each unit's end once
                offsets = np.concatenate((offsets[:1], offsets[1:][np.diff(offsets) > 0]))
            grouped = (order, offsets)  # of the unit codes made below
    ann_code, ann_cats = codes_of(frame, "annotator")
    ann_pos, ann_rank = compact(ann_code, len(ann_cats), dtype=code_type)
    if category_of is None:
        value_code, value_cats = codes_of(frame, "value")
        value_pos = present(value_code, len(value_cats))  # look up the values present, once each
        lookup = np.full(len(value_cats), -1, dtype=code_type)
        lookup[value_pos] = pd.Index(list(categories), dtype=object).get_indexer(text_of(value_cats, value_pos))
        category_of = lookup[value_code]  # one gather from the read codes (no per-row rank array in between)
    unit = np.asarray(unit_codes, dtype=code_type)
    later = unit_keys is LATER
    return Codes(
        unit=unit, annotator=ann_rank,
        category=np.asarray(category_of, dtype=code_type),
        unit_keys=unit_keys, unit_items=unit_items, unit_steps=unit_steps,
        annotators=text_of(ann_cats, ann_pos), categories=categories, unit_lookup=unit_lookup,
        grouped=None if grouped is None else (unit, *grouped),
        units=len(item_pos) if later else -1, unit_texts=ItemUnitTexts(item_cats, item_pos) if later else None,
    )


@dataclass(frozen=True)
class ItemUnitTexts:
    """What makes ``Codes``' unit texts on first use where units are items: the item ids present (the read-time
    categories at ``positions``), as Python strings made a piece at a time (the conversion holds the GIL; a
    numpy-bound thread beside it, such as the consensus's fit, gets it back between pieces)."""

    categories: pd.Index
    positions: np.ndarray

    def __call__(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unit_keys, unit_items, unit_steps) of every unit."""
        items = texts_in_pieces(self.categories, self.positions)
        return items, items, repeated(len(self.positions), "")

    def at(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(items, steps) of the given units only."""
        return text_of(self.categories, self.positions[units]), repeated(len(units), "")

    def of(self, units: np.ndarray) -> ItemUnitTexts:
        """The maker of the given units' texts."""
        return ItemUnitTexts(self.categories, self.positions[units])


def _lookup(categories: pd.Index, positions: np.ndarray) -> tuple[pa.Array, np.ndarray] | None:
    """``Codes.unit_lookup`` for units that are the categories at ``positions``: the categories as Arrow strings
    (zero-copy for the readers' Arrow-backed ones) and each one's unit code; None when they are not all text."""
    texts = arrow_texts(categories)
    if texts is None:
        return None
    unit_of = np.full(len(texts), -1, dtype=np.int32 if len(positions) < 1 << 31 else np.int64)
    unit_of[positions] = np.arange(len(positions))
    return texts, unit_of


def cell_keys(unit: np.ndarray, category: np.ndarray, k: int, mask: np.ndarray | None = None,
              left_out: int = 0) -> np.ndarray:
    """(N,) ``unit·k + category`` per row, built in one new array (no masked copies of the columns: at 10M
    judgments each is 80 MB of fresh memory); rows outside ``mask`` get ``left_out``."""
    keys: np.ndarray = np.multiply(unit, k, dtype=np.int64)
    keys += category
    if mask is not None:
        keys[~mask] = left_out
    return keys


def count_cells(unit: np.ndarray, category: np.ndarray, shape: tuple[int, int], mask: np.ndarray | None = None
                ) -> np.ndarray:
    """(U, K) rows per unit (or annotator) and category; rows outside ``mask`` are left out."""
    u, k = shape
    if k == 0:
        return np.zeros((u, 0), dtype=np.int64)
    counts = np.bincount(cell_keys(unit, category, k, mask, left_out=u * k), minlength=u * k + 1)
    return counts[:u * k].reshape(u, k)


#: Groups per piece of :func:`count_grouped_cells`: a piece's keys and counts stay in cache.
_COUNT_GROUPS = 1 << 15


def count_grouped_cells(cells: np.ndarray, offsets: np.ndarray, shift: int, k: int,
                        dtype: type[np.signedinteger[Any]] = np.int64) -> np.ndarray:
    """(G, K) rows per group and category from the rows' packed cells in group order (``Codes.grouped_cells``:
    ``annotator << shift | category``, categories below K) and the groups' (G + 1,) offsets in that order:
    :func:`count_cells` of the group codes. Each category is the low bits of the next cell, read in one
    sequential pass (gathering every row's category in group order instead: 0.17 s against 0.06 s for 10M
    judgments, 3.3M units), and counted piece by piece of groups into the table's own type (over all rows at
    once, bincount makes an int64 key per row and a (G·K) int64 table: 186 MB of fresh memory at 10M)."""
    low = (1 << shift) - 1
    return _count_pieces(offsets, k, dtype, lambda a, b: cells[a:b] & low)


def _count_pieces(offsets: np.ndarray, k: int, dtype: type[np.signedinteger[Any]],
                  categories: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """(G, K) counts from ``categories(a, b)``: the categories of the grouped rows ``a`` to ``b``, piece by piece
    of :data:`_COUNT_GROUPS` groups."""
    n = len(offsets) - 1
    table = np.zeros((n, k), dtype=dtype)
    if k == 0:  # no category: nothing to count (and no key stride)
        return table
    for a in range(0, n, _COUNT_GROUPS):  # a loop over pieces of groups
        b = min(a + _COUNT_GROUPS, n)
        keys = np.repeat(np.arange(0, (b - a) * k, k, dtype=np.int64), np.diff(offsets[a:b + 1]))
        keys += categories(int(offsets[a]), int(offsets[b]))
        table[a:b] = np.bincount(keys, minlength=(b - a) * k).reshape(b - a, k)
    return table


def counting_fits(space: int, n: int) -> bool:
    """Whether ``n`` keys below ``space`` are better counted into a dense array than sorted: the array is at
    most a few times the keys (or small anyway)."""
    return space <= max(4 * n, 1 << 20)


def dense_units(codes: Codes) -> bool:
    """Whether the (U, K) unit × category table is worth building (labels: yes; structured values, one category
    per distinct value: no)."""
    n_units, _, k = codes.shape
    return k > 0 and counting_fits(n_units * k, len(codes.unit))


def row_totals(table: np.ndarray) -> np.ndarray:
    """(U,) int64 totals of a (U, K) integer count table (judgments per unit). A product with ones: numpy's
    ``sum(axis=1)`` reduces each short row on its own (3.3M × 4 int32: 72 ms), the product streams (17 ms);
    integer arithmetic, so the totals are the same exactly. int32 tables total in int32: a unit table is int32
    only when all its counts together fit (``Codes.unit_table``)."""
    if table.ndim != 2:
        raise ValueError("row_totals takes a 2-D count table")
    if table.dtype not in (np.int32, np.int64):  # other widths could overflow in their own type: the plain sum
        return np.asarray(table.sum(axis=1), dtype=np.int64)
    return np.asarray(table @ np.ones(table.shape[1], dtype=table.dtype), dtype=np.int64)


def unit_counts(codes: Codes, mask: np.ndarray | None = None) -> np.ndarray:
    """(U, K) judgments per unit and category (rows outside ``mask`` are left out; units keep their index)."""
    u, _, k = codes.shape
    return count_cells(codes.unit, codes.category, (u, k), mask)


def annotator_counts(codes: Codes, mask: np.ndarray | None = None) -> np.ndarray:
    """(A, K) judgments per annotator and category."""
    _, a, k = codes.shape
    return count_cells(codes.annotator, codes.category, (a, k), mask)


def _pair_rows(codes: Codes, mask: np.ndarray, unit_block: np.ndarray, units: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All within-unit annotator pairs among the rows in ``mask``: pair key ``lo·A + hi`` (lo < hi, the
    annotators' codes), category cell ``c_lo·K + c_hi`` and the unit's item block, one group size at a time,
    written into arrays allocated once (12M pairs at 10M judgments: per-combination pieces concatenated
    afterwards would double the peak). Keys and cells are int32 whenever their range allows (half the memory
    traffic of int64).

    The rows are grouped by unit with one counting sort (linear; no sort by annotator within the unit). Each
    row's annotator and category travel as one integer ``annotator << s | category``, so ordering two rows of
    a unit by it orders them by annotator (a unit has each annotator once: duplicates are excluded rows). The
    units of one size m are gathered once into (m, units) arrays, so that each of the m(m-1)/2 combinations
    reads two contiguous rows. A mask that keeps or drops whole units (gold units) keeps the grouping as is;
    ``units``: the (U,) units it keeps, when the caller made ``mask`` from them (``mask == units[codes.unit]``:
    no check over every row)."""
    n_units, n_ann, k = codes.shape
    grouped, unit_offsets = codes.by_unit
    starts, sizes = unit_offsets[:-1], np.diff(unit_offsets)
    kept_units = units & (sizes > 0) if units is not None else _whole_units(codes.unit, mask, grouped, starts, sizes)
    if kept_units is not None:
        order, sizes = grouped, np.where(kept_units, sizes, 0)
    else:  # rows dropped within units: the kept rows, still grouped (no masked copies of three columns)
        kept = mask[grouped]
        order = grouped[kept]
        offsets = np.concatenate(([0], np.cumsum(kept, dtype=np.int64)))[unit_offsets]
        del kept
        starts, sizes = offsets[:-1], np.diff(offsets)
    shift = codes.cell_shift
    key_type, pair_cell_type = _int_for(n_ann * n_ann), _int_for(n_ann * n_ann * k * k)
    # every row, grouped: shared with Dawid–Skene's layout; else only the kept rows
    packed = (codes.grouped_cells if kept_units is not None
              else take_packed(codes.annotator, codes.category, shift, order, cell_type(n_ann, shift)))
    del order
    low = (1 << shift) - 1
    total = int((sizes * (sizes - 1) // 2).sum())
    key, cell, block = (np.empty(total, key_type), np.empty(total, pair_cell_type),
                       np.empty(total, unit_block.dtype))
    pos = 0
    for m in np.unique(sizes[sizes >= 2]):
        of_size = np.flatnonzero(sizes == m)
        rows = packed[starts[of_size] + np.arange(int(m), dtype=starts.dtype)[:, None]]  # (m, units)
        blocks = unit_block[of_size]
        for i, j in itertools.combinations(range(int(m)), 2):  # m is the number of annotators of one unit
            end = pos + len(of_size)
            lo, hi = np.minimum(rows[i], rows[j]), np.maximum(rows[i], rows[j])
            out = key[pos:end]
            np.right_shift(lo, shift, out=out, casting="unsafe")
            out *= n_ann
            out += hi >> shift
            out = cell[pos:end]
            np.bitwise_and(lo, low, out=out, casting="unsafe")
            out *= k
            out += hi & low
            block[pos:end] = blocks
            pos = end
    return key, cell, block


def _whole_units(unit: np.ndarray, mask: np.ndarray, grouped: np.ndarray, starts: np.ndarray,
                 sizes: np.ndarray) -> np.ndarray | None:
    """(U,) whether each unit is kept, when ``mask`` keeps or drops whole units (as the gold-unit masks of the
    analysis do); None when it splits a unit."""
    if len(unit) == 0:
        return None
    first = grouped[np.minimum(starts, len(grouped) - 1)]
    kept_units: np.ndarray = mask[first] & (sizes > 0)
    return kept_units if bool((kept_units[unit] == mask).all()) else None


def cell_type(n_annotators: int, shift: int) -> type[np.signedinteger]:
    """The type of ``annotator << shift | category``: int16 when it fits (1,000 annotators and 4 labels: 12 bits;
    a gather of them misses the cache half as often), else int32 or int64."""
    space = n_annotators << shift
    return np.int16 if space < 1 << 15 else _int_for(space)


def _int_for(space: int) -> type[np.signedinteger]:
    """int32 when every value below ``space`` fits in it, else int64."""
    return np.int32 if space < 1 << 31 else np.int64


#: Observations per piece when adding each pair's offset to its cell.
_OFFSET_ROWS = 1 << 16


def pair_tables(codes: Codes, mask: np.ndarray, *, n_blocks: int = 1000, units: np.ndarray | None = None
                ) -> PairTables:
    """Confusion counts per annotator pair over the units both judged (rows in ``mask``); ``units``: the (U,)
    units ``mask`` keeps, when it was made from them (``mask == units[codes.unit]``)."""
    _, n_ann, k = codes.shape
    # blocks as int16 when they fit (1,000 by default): 24 MB less per 12M pair observations
    unit_block = item_block(codes.unit_item_texts(), n_blocks).astype(np.int16 if n_blocks <= 1 << 15 else np.int32)
    key, cell, block = _pair_rows(codes, mask, unit_block, units)
    if n_ann * n_ann > _DENSE_KEYS:  # very many annotators: the pairs that occur, by sorting
        pair_code, pair_index = np.unique(key, return_inverse=True)
        cell += (pair_index * (k * k)).astype(cell.dtype, copy=False)
    else:  # by marking: each pair's rank among those that occur, looked up per observation
        present = np.zeros(n_ann * n_ann, dtype=bool)
        present[key] = True  # not bincount: it widens 12M int32 keys to a 96 MB intp copy first
        pair_code = np.flatnonzero(present)
        offset = ((np.cumsum(present) - 1) * (k * k)).astype(cell.dtype)
        for a in range(0, len(key), _OFFSET_ROWS):  # by pieces: no 48 MB gathered copy of fresh memory
            cell[a:a + _OFFSET_ROWS] += offset.take(key[a:a + _OFFSET_ROWS])
    del key
    n_pairs = len(pair_code)
    confusions = np.bincount(cell, minlength=n_pairs * k * k).reshape(n_pairs, k, k)
    pairs = np.stack([pair_code // n_ann, pair_code % n_ann], axis=1) if n_pairs else np.zeros((0, 2), np.int64)
    return PairTables(pairs=pairs, confusions=confusions, observation_cell=cell, observation_block=block,
                      n_blocks=n_blocks)


def _dense_codes(keys: np.ndarray, key_space: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys in order and each key's rank among them; a bincount (``coded.compact``) when the key
    space is small, a sort otherwise."""
    if key_space > _DENSE_KEYS:
        return np.unique(keys, return_inverse=True)
    return compact(keys, key_space)


def item_block(items: pa.Array | pa.ChunkedArray | np.ndarray, n_blocks: int) -> np.ndarray:
    """A stable pseudo-random block per unit, from a hash of its item id's bytes (``text_hash``; steps of an item
    stay together). ``items``: Arrow strings (``Codes.unit_item_texts``), or an array of Python strings."""
    if isinstance(items, np.ndarray):
        items = pa.array(items, pa.string())
    hashed = hash_strings(items)
    np.remainder(hashed, np.uint64(n_blocks), out=hashed)
    return hashed.astype(np.int64)
