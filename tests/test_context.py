"""Project data read for a check: the items file keeps every value exactly as written."""

from __future__ import annotations

import csv
from pathlib import Path

from labelspec.check.context import read_items


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
