"""Project data read for a check: the items file keeps every value exactly as written."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check.context import Items, TextLengths, lengths_of, read_items


def test_items_csv_values_are_kept_exactly(tmp_path: Path) -> None:
    """pandas' C parser with every conversion off reads what ``csv.DictReader`` reads (strings, no NA)."""
    path = tmp_path / "items.csv"
    rows = [["id", "text", "lang"], ["007", "NA", "en"], ["1.0", 'a "quoted", comma', ""],
            ["null", "two\nlines", "fr"], ["é", "  spaced  ", "None"]]
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)
    items = read_items(path, "id")
    with path.open(encoding="utf-8-sig", newline="") as fh:
        want = list(csv.DictReader(fh))
    assert items.ids.tolist() == ["007", "1.0", "null", "é"] == [r["id"] for r in want]
    assert set(items.fields) == {"text", "lang"}
    for name in ("text", "lang"):
        assert items.fields[name] == {r["id"]: r[name] for r in want}
    assert items.text_lengths("text")["null"] == len("two\nlines")


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=6), st.integers(0, 10**6), max_size=12),
       st.lists(st.text(max_size=6), max_size=20), st.sampled_from(["object", "arrow", "index"]))
def test_text_lengths_in_bulk_equal_one_lookup_per_id(lengths: dict[str, int], keys: list[str], given_as: str) -> None:
    """Item lengths looked up in bulk (Arrow's hash lookup) are the dict's, and ``missing`` for unknown ids,
    whether the ids come as Python strings, Arrow strings or the readers' Arrow-backed categories."""
    table = TextLengths(lengths)
    want = [lengths.get(k, -7) for k in keys]
    ids = {"object": np.array(keys, dtype=object), "arrow": pa.array(keys, pa.string()),
           "index": pd.Index(keys, dtype=pd.StringDtype("pyarrow"))}[given_as]
    assert table.of(ids, -7).tolist() == want
    assert table.of(ids, -7).dtype == np.int64
    assert lengths_of(table, np.array(keys, dtype=object), -7).tolist() == want
    assert lengths_of(dict(lengths), np.array(keys, dtype=object), -7).tolist() == want  # a plain dict: one by one


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=5), unique=True, max_size=12), st.data(), st.lists(st.text(max_size=5), max_size=20))
def test_items_positions_and_lengths_through_the_rows(ids: list[str], data: st.DataObject, keys: list[str]) -> None:
    """``Items.positions`` finds each key's row (-1: none), and a field's lengths looked up through the rows (the
    readers' categories) are the dict's, whether every row has the field (a CSV) or only some (JSON Lines), and
    whatever the dict's order; the last answer is kept for the same keys object."""
    has = data.draw(st.lists(st.booleans(), min_size=len(ids), max_size=len(ids)))
    texts = data.draw(st.lists(st.text(max_size=4), min_size=len(ids), max_size=len(ids)))
    fields = {"all": dict(zip(ids, texts, strict=True)),
              "some": {i: t for i, t, h in zip(ids, texts, has, strict=True) if h},
              "reversed": dict(reversed(list(zip(ids, texts, strict=True))))}  # built in code, not in row order
    items = Items(ids=np.array(ids, dtype=object), fields=fields)
    asked = pd.Index(keys, dtype=pd.StringDtype("pyarrow"))
    rows = items.positions(asked)
    assert rows is not None and rows.tolist() == [ids.index(k) if k in ids else -1 for k in keys]
    assert items.positions(asked) is rows
    for name in ("all", "some", "reversed"):
        want = [len(fields[name][k]) if k in fields[name] else -7 for k in keys]
        assert items.text_lengths(name).of(asked, -7).tolist() == want, name
        assert items.text_lengths(name).of(np.array(keys, dtype=object), -7).tolist() == want, name


def test_items_text_lengths_are_bulk_lookups(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text("id,text\ni1,héllo\ni2,\n", encoding="utf-8")
    lengths = read_items(path, "id").text_lengths("text")
    assert isinstance(lengths, TextLengths) and dict(lengths) == {"i1": 5, "i2": 0}
    assert lengths.of(np.array(["i2", "i3", "i1"], dtype=object)).tolist() == [0, -1, 5]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["i1", "i2", "i10", "é", "", "NA"]), min_size=1, max_size=25),
       st.dictionaries(st.sampled_from(["i1", "i2", "é", "x", ""]), st.text(max_size=5), max_size=5),
       st.booleans())
def test_unit_lengths_by_item_category_equal_those_by_unit_text(items: list[str], texts: dict[str, str],
                                                              bulk: bool) -> None:
    """A spans task's unit lengths are looked up per read-time item category (units are items, and their
    Python texts need not be made): the same as looking each unit's text up, 0 for an item without the field,
    for the items file's bulk lengths and for a plain dict."""
    from labelspec.check.decide_structured import _unit_lengths
    from labelspec.check.tables import encode

    arrow = pd.StringDtype("pyarrow", na_value=np.nan)
    cats = pd.Index(sorted({*items, "unused"}), dtype=arrow)  # the readers' categories: more than the task uses
    frame = pd.DataFrame({"item": pd.Categorical(items, categories=cats), "unit": "", "annotator": "a",
                          "value": "[]"})
    codes = encode(frame, ("[]",))
    lengths: dict[str, int] = (Items(ids=np.array(sorted(texts), dtype=object), fields={"body": texts})
                               .text_lengths("body") if bulk else {k: len(v) for k, v in texts.items()})
    assert codes.unit_texts is not None and not codes.unit_texts_made
    by_category = _unit_lengths(lengths, codes)
    assert not codes.unit_texts_made  # no unit's text made
    assert by_category.tolist() == lengths_of(lengths, codes.unit_items, 0).tolist()
    assert by_category.tolist() == [len(texts.get(i, "")) for i in sorted(set(items))]
