"""Byte-level facts about CSV files (``labelspec.csvscan``) against Python's own reading of the same bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec import csvscan


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"a", b",", b"\n", b"\r", b"\r\n", b'"', b"\xc3\xa9"]), max_size=40),
       st.sampled_from([1, 2, 3, 1 << 22]))
def test_physical_lines_are_the_lines_bytes_splitlines_finds(parts: list[bytes], chunk: int) -> None:
    """``\\n``, ``\\r\\n`` and a lone ``\\r`` each end a line, as ``bytes.splitlines`` has it; a last line without
    an ending counts, and an empty file is one (empty) line. Counted by pieces of any size, the same."""
    data = b"".join(parts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(csvscan, "_COUNT_CHUNK", chunk)
        got = csvscan.physical_lines(data)
    assert got == (len(data.splitlines()) if data else 1)
