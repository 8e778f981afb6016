"""Byte-level facts about a CSV file that decide whether the fast parser (pyarrow) reads it as the stdlib would.

Shared by the label-file reader and the items-file check: when every quote follows RFC 4180 and each record
takes one physical line, pyarrow and Python's ``csv`` module see the same records, so the slow, line-numbering
stdlib pass is only needed to locate a problem.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 1 << 24  # bytes per step of the vectorised quote check (bounds its memory)


def physical_lines(data: bytes) -> int:
    """Lines as editors and the csv module count them: ``\n``, ``\r\n`` and a lone ``\r`` each end one."""
    breaks = data.count(b"\n")
    if data.find(b"\r") >= 0:
        breaks += data.count(b"\r") - data.count(b"\r\n")
    return breaks + (0 if data.endswith((b"\n", b"\r")) else 1)


def quotes_well_formed(data: bytes, start: int, delim: int) -> bool:
    """True when every quote follows RFC 4180 (opens a field, closes one, or is doubled) and all are closed.

    Quotes alternate open/close, so a quote's role is the parity of its index; that makes the check
    vectorised. False does not mean broken: a literal quote inside an unquoted field (``5" screen``) is fine,
    and the stdlib scan decides.
    """
    arr = np.frombuffer(data, np.uint8)
    last = len(arr) - 1
    edge = np.zeros(256, bool)
    edge[[delim, 10, 13, 34]] = True  # what may stand before an opening quote or after a closing one
    seen = 0
    for s in range(start, len(arr), _CHUNK):
        qp = np.flatnonzero(arr[s:s + _CHUNK] == 34)
        if not qp.size:
            continue
        qp += s
        opens, closes = qp[seen & 1::2], qp[1 - (seen & 1)::2]
        ok_open = edge[arr[opens - 1]]
        ok_close = edge[arr[np.minimum(closes + 1, last)]]
        if opens.size and opens[0] == start:
            ok_open[0] = True
        if closes.size and closes[-1] == last:
            ok_close[-1] = True
        if not (ok_open.all() and ok_close.all()):
            return False
        seen += qp.size
    return seen % 2 == 0
