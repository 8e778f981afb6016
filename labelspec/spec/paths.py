"""Where a path written in a spec may lead, and reading the bytes of the files it is allowed to reach (LS308).

A spec path must be POSIX-style and relative; after following every symlink (``Path.resolve(strict=True)``) it must
lie inside its root (the spec's folder for data files, the repository for ``extends``); the target must be a regular
file under a size cap, checked with ``stat`` before opening and again with ``fstat`` after. The resolved path is
checked, never the ``normpath`` of the string. It must not parse what it reads.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
import unicodedata
from dataclasses import dataclass
from pathlib import Path

#: Largest data file (items, gold, calibration, roster) a spec may reference.
MAX_DATA_BYTES = 512 * 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


@dataclass(frozen=True, slots=True)
class PathProblem:
    """Why a spec path was refused, with a hint for the fix."""

    message: str
    hint: str


@dataclass(frozen=True, slots=True)
class ApprovedFile:
    """A referenced file that passed every check: where it really is and its path relative to its root."""

    written: str
    real: Path
    rel: str  # POSIX path from the root to the real file (the digest key; stable across machines)


def text_problem(text: str) -> PathProblem | None:
    """What is wrong with the path as written (before touching the filesystem), or None."""
    if "\x00" in text or any(unicodedata.category(ch) == "Cc" for ch in text):
        return PathProblem("path contains a NUL or control character", "remove the character")
    if "\\" in text:
        return PathProblem(f"path {text!r} contains a backslash", "write POSIX-style paths with '/'")
    if _DRIVE.match(text):
        return PathProblem(f"path {text!r} starts with a drive letter", "write a path relative to the spec's folder")
    if text.startswith("/"):
        return PathProblem(f"path {text!r} is absolute", "write a path relative to the spec's folder")
    if text.startswith("~"):
        return PathProblem(f"path {text!r} starts with '~', which is not expanded",
                           "write a path relative to the spec's folder")
    return None


def approve(text: str, *, base: Path, root: Path, root_name: str,
            max_bytes: int = MAX_DATA_BYTES) -> ApprovedFile | PathProblem:
    """Resolve ``text`` against folder ``base``; approve it only if it is a regular file inside ``root``."""
    problem = text_problem(text)
    if problem is not None:
        return problem
    real_root = root.resolve()
    try:
        real = (base / text).resolve(strict=True)
    except FileNotFoundError:
        if not Path(posixpath.normpath(posixpath.join(base.resolve().as_posix(), text))).is_relative_to(real_root):
            return PathProblem(f"path {text!r} leads outside {root_name}", f"keep referenced files inside {root_name}")
        return PathProblem(f"file {text!r} does not exist", f"paths are relative to {root_name}")
    except (OSError, RuntimeError) as exc:  # symlink loops, permissions, names too long
        return PathProblem(f"cannot resolve {text!r}: {getattr(exc, 'strerror', None) or exc}", "fix the path")
    if not real.is_relative_to(real_root):
        lexical = posixpath.normpath(posixpath.join(base.resolve().as_posix(), text))
        how = " through a symbolic link" if Path(lexical).is_relative_to(real_root) else ""
        return PathProblem(f"path {text!r} leads outside {root_name}{how}", f"keep referenced files inside {root_name}")
    try:
        problem_text = file_problem(os.stat(real), max_bytes)
    except OSError as exc:
        return PathProblem(f"cannot stat {text!r}: {exc.strerror or exc}", "fix the path")
    if problem_text is not None:
        return PathProblem(f"{text!r} is {problem_text}", "point at a regular file")
    return ApprovedFile(text, real, real.relative_to(real_root).as_posix())


def file_problem(st: os.stat_result, max_bytes: int) -> str | None:
    """``"a FIFO, not a regular file"``, a size problem, or None for a regular file within the cap."""
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "a special file")
        return f"{kind}, not a regular file"
    if st.st_size > max_bytes:
        return f"{st.st_size} bytes; the limit is {max_bytes}"
    return None


def read_approved(approved: ApprovedFile, max_bytes: int = MAX_DATA_BYTES) -> bytes | PathProblem:
    """The file's bytes, re-checked with ``fstat`` on the open descriptor (it may have changed since ``stat``)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        before = os.stat(approved.real)
        with open(os.open(approved.real, flags), "rb") as handle:
            after = os.fstat(handle.fileno())
            problem = file_problem(after, max_bytes)
            if problem is None and (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
                problem = "replaced while it was being opened"
            data = b"" if problem else handle.read(max_bytes + 1)
    except OSError as exc:
        return PathProblem(f"cannot read {approved.written!r}: {exc.strerror or exc}", "check the file's permissions")
    if problem is None and len(data) > max_bytes:
        problem = f"larger than the limit of {max_bytes} bytes"
    return PathProblem(f"{approved.written!r} is {problem}", "point at a regular file") if problem else data


def display_join(display_file: str, text: str) -> str:
    """The path to show for ``text`` written in the file shown as ``display_file`` (lexical; never absolutised)."""
    folder = posixpath.dirname(display_file)
    return posixpath.normpath(posixpath.join(folder, text)) if folder else posixpath.normpath(text)
