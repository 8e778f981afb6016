"""Project data read for a check: the items file keeps every value exactly as written."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check.context import TextLengths, lengths_of, read_items


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


def test_items_text_lengths_are_bulk_lookups(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text("id,text\ni1,héllo\ni2,\n", encoding="utf-8")
    lengths = read_items(path, "id").text_lengths("text")
    assert isinstance(lengths, TextLengths) and dict(lengths) == {"i1": 5, "i2": 0}
    assert lengths.of(np.array(["i2", "i3", "i1"], dtype=object)).tolist() == [0, -1, 5]
