"""CSV text labelspec writes (review queues, rosters) reads back cell for cell, whatever the cells hold."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check.csv_text import csv_text

cells = st.text(st.sampled_from(['a', ',', '"', "\r", "\n", " ", "=", "é"]), max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(cells, min_size=3, max_size=3), min_size=1, max_size=6))
def test_rows_read_back_as_written(rows: list[list[str]]) -> None:
    text = csv_text(rows)
    assert list(csv.reader(io.StringIO(text, newline=""))) == rows


def test_a_bare_carriage_return_is_quoted_and_other_rows_are_not() -> None:
    assert csv_text([["id", "x"], ["ev\r1", "b"], ["a", "b"]]) == 'id,x\n"ev\r1","b"\na,b\n'
