"""Read a regular file safely: ``stat`` before opening, a non-blocking open, ``fstat`` after, an optional size limit.

One job, shared by the spec reader and the label-file readers: a FIFO would block the open or the read forever, a
device such as /dev/zero never ends, a file swapped between the checks is refused. The callers turn a
:class:`FileProblem` into their own diagnostic (LS100 for specs, LS401 for label files).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class FileProblem(Exception):
    """Why the file was not read; ``io`` is True when the system refused (a missing file, a permission),
    ``too_large`` when the file is over the size limit."""

    def __init__(self, message: str, *, io: bool = False, too_large: bool = False) -> None:
        super().__init__(message)
        self.message, self.io, self.too_large = message, io, too_large


def _problem(st: os.stat_result, max_bytes: int | None) -> str | None:
    if not stat.S_ISREG(st.st_mode):
        return "not a regular file: " + next((name for is_kind, name in _FILE_KINDS if is_kind(st.st_mode)),
                                              "a special file")
    if max_bytes is not None and st.st_size > max_bytes:
        return f"file is {st.st_size} bytes; the limit is {max_bytes}"
    return None


def read_regular(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed), at most ``max_bytes``; else FileProblem."""

    def fail(message: str | None, too_large: bool = False) -> None:
        if message:
            raise FileProblem(message, too_large=too_large)

    try:
        before = os.stat(path)
        fail(_problem(before, max_bytes), stat.S_ISREG(before.st_mode))  # a regular file fails on size only
        with open(os.open(path, _FLAGS), "rb") as handle:  # O_NONBLOCK: a FIFO swapped in cannot block the open
            after = os.fstat(handle.fileno())
            fail(_problem(after, max_bytes), stat.S_ISREG(after.st_mode))
            same = (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
            fail(None if same else "the file was replaced while it was being opened")
            data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
    except OSError as exc:
        raise FileProblem(f"cannot read the file: {exc.strerror or exc}", io=True) from None
    fail(f"file is larger than the limit of {max_bytes} bytes" if max_bytes is not None and len(data) > max_bytes
         else None, too_large=True)
    return data
