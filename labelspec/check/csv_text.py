"""CSV text that labelspec writes for people and for itself (review queues, rosters): one dialect, rows that survive.

One job: turn rows of strings into CSV text with ``\\n`` line ends and minimal quoting, as the files have always
been written, except that a row holding a bare carriage return is quoted in full. Python's writer quotes only
the characters of its line terminator, so with ``\\n`` a lone ``\\r`` went out unquoted, and every CSV reader
(labelspec's own included) splits the row there: a roster that could no longer be read, a queue whose formula
guard landed in the wrong cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence


def csv_text(rows: Iterable[Sequence[str]]) -> str:
    """The rows (header first) as CSV text."""
    out = io.StringIO()
    minimal = csv.writer(out, lineterminator="\n")
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in rows:
        (quoted if any("\r" in cell for cell in row) else minimal).writerow(row)
    return out.getvalue()
