"""The items-file check's pyarrow shortcut: it may only skip the stdlib pass when that pass finds nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.spec import datafiles
from labelspec.spec.model import ItemsSource

ITEMS = ItemsSource(file="items.csv", id="item_id")


def slow(data: bytes) -> list[tuple[str, str]]:
    saved = datafiles._clean_csv_ids
    datafiles._clean_csv_ids = lambda data, column: None  # type: ignore[assignment]
    try:
        return [(str(d.loc), d.message) for d in datafiles.check_items(data, "items.csv", ITEMS)]
    finally:
        datafiles._clean_csv_ids = saved


def fast(data: bytes) -> list[tuple[str, str]]:
    return [(str(d.loc), d.message) for d in datafiles.check_items(data, "items.csv", ITEMS)]


CASES = [
    b"item_id,text\na,x\nb,y\n",
    b"\xef\xbb\xbfitem_id,text\r\na,x\r\nb,y",
    b"item_id\na\n\nb\n",  # a blank line in a one-column file
    b"item_id,text\na,x\n\nb,y\n",
    b"item_id,text\na,\"multi\nline\"\nb,y\n",
    b"item_id,text\na,x\na,y\n",  # duplicate id
    b"item_id,text\n,x\n",  # empty id
    b"item_id,text\na,5\" screen\n",  # a literal quote in an unquoted field
    b"item_id,text\na,\"x\"y\n",  # text after a closing quote
    b"item_id,text\na,x,z\n",  # ragged
    b"item_id,item_id\na,b\n",  # duplicate header
    b"text\nx\n",  # no id column
    b"\"item_id\",text\na,x\n",  # quoted header
    b"item_id,text\ra,x\rb,y\r",  # lone CR line ends
    b"",
    b"item_id,text\n",
]


@pytest.mark.parametrize("data", CASES)
def test_shortcut_reports_what_the_stdlib_pass_reports(data: bytes) -> None:
    assert fast(data) == slow(data)


def test_the_shortcut_is_taken_for_a_clean_file_and_refused_otherwise() -> None:
    assert datafiles._clean_csv_ids(b'item_id,text\na,"x, y"\nb,y\n', "item_id")
    assert not datafiles._clean_csv_ids(b"item_id,text\na,x\na,y\n", "item_id")
    assert not datafiles._clean_csv_ids(b"item_id,text\na,\"x\ny\"\n", "item_id")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["a", "b", "", "\"", "\"q\"", "x,y", "\r", "\n"]), min_size=0, max_size=3),
                max_size=6),
       st.sampled_from(["\n", "\r\n", "\r"]))
def test_shortcut_agrees_on_random_files(rows: list[list[str]], newline: str) -> None:
    data = ("item_id,text" + newline + "".join(",".join(r) + newline for r in rows)).encode()
    assert fast(data) == slow(data)
