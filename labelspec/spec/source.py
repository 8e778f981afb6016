"""Read a spec file as restricted, data-only YAML: ``RawSpec(data, SourceMap, warnings)`` or a ``SpecError``.

The only module of ``spec/`` that touches the filesystem: it refuses anything but a regular file within
the size cap, decodes strict UTF-8 (a BOM is allowed), composes the text once with ``StrictLoader`` and walks
it under labelspec's YAML rules (``strict_yaml`` documents them, scalars included). Every problem found in
that pass is raised together, as LS1xx diagnostics at ``FILE:LINE:COL``; loader failures (syntax, control
characters, recursion, oversized ints) become located diagnostics, never tracebacks. It must not check the
spec's shape (``validate``) or judge where paths in the spec lead (``resolve``).
"""

from __future__ import annotations

import codecs
import pathlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import yaml
from yaml.error import Mark
from yaml.nodes import Node

from labelspec.errors import Diagnostic, SourceLocation, SpecError, sorted_unique
from labelspec.regular_file import FileProblem, read_regular
from labelspec.spec.strict_yaml import MAX_DEPTH, MAX_NODES, PathParts, StrictLoader, loc, walk

__all__ = [
    "LINE_BREAK",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "RawSpec",
    "SourceMap",
    "excerpt",
    "offset_location",
    "read_spec_bytes",
    "read_yaml_file",
    "read_yaml_text",
]

MAX_BYTES = 1 << 20
LINE_BREAK = re.compile("\r\n|[\r\n]")  # lines as editors count them (``strict_yaml.loc`` maps PyYAML's marks)
_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class SourceMap:
    """Maps a spec path (tuple of str keys / int indexes) to where its node and its key were written."""

    path: str  # the file path as given (never absolutised)
    where: Mapping[PathParts, tuple[int, int, int, int]] = field(
        default_factory=dict, repr=False, compare=False
    )
    lines: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def _find(self, parts: Sequence[str | int], first: int) -> SourceLocation:
        key = tuple(parts)
        while key and key not in self.where:
            key = key[:-1]
        pos = self.where.get(key, (1, 1, 1, 1))
        return SourceLocation(self.path, pos[first], pos[first + 1])

    def locate(self, parts: Sequence[str | int]) -> SourceLocation:
        """Start of the node at ``parts`` (an alias's own position); else the nearest recorded ancestor."""
        return self._find(parts, 0)

    def locate_key(self, parts: Sequence[str | int]) -> SourceLocation:
        """Where a mapping entry's key was written (the node itself for sequence items and the root)."""
        return self._find(parts, 2)

    def line_text(self, line: int) -> str | None:
        """Text of a 1-based line without its line break; None outside the file."""
        return self.lines[line - 1] if 1 <= line <= len(self.lines) else None


@dataclass(frozen=True)
class RawSpec:
    """A spec file's data (dict/list/str/int/float/bool/None only), its source map and its LS107 warnings."""

    data: dict[str, Any]
    source: SourceMap
    warnings: tuple[Diagnostic, ...] = ()


def read_yaml_text(text: str | bytes, path: str, *, max_bytes: int = MAX_BYTES) -> RawSpec:
    """Parse spec text (pure, no I/O). Raise SpecError with every problem found, LS107 warnings included."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise SpecError(
            Diagnostic(
                "LS100",
                f"file is {size} bytes; the limit is {max_bytes}",
                SourceLocation(path),
                hint="split the spec with extends",
            )
        )
    text = (_decode(text, path) if isinstance(text, bytes) else text).removeprefix("\ufeff")
    lines = SourceMap(path, lines=tuple(LINE_BREAK.split(text)))
    try:
        walked = walk(*_compose(text, path), path)
    except SpecError as exc:  # YAML syntax, duplicate keys, tags, aliases …: shown on their line, as the rest
        raise SpecError(_with_excerpts(exc.diagnostics, lines)) from None
    diags = sorted_unique(_with_excerpts(walked.diagnostics, lines))
    if any(d.severity == "error" for d in diags):
        raise SpecError(diags)
    return RawSpec(walked.data, SourceMap(path, walked.where, lines.lines), diags)


def _with_excerpts(diags: Sequence[Diagnostic], source: SourceMap) -> tuple[Diagnostic, ...]:
    """Each diagnostic at a line of ``source`` with the excerpt of that line (unless it has one)."""
    return tuple(d if d.excerpt or d.loc is None or d.loc.path != source.path or d.loc.line < 1
                 else replace(d, excerpt=excerpt(source, d.loc) or None) for d in diags)


def _compose(text: str, path: str) -> tuple[Node | None, list[Mark]]:
    """Compose the single document; a failure of the loader becomes one located diagnostic."""
    loader: StrictLoader | None = None
    try:
        loader = StrictLoader(text, path)
        return loader.get_single_node(), loader.tag_marks
    except yaml.reader.ReaderError as exc:  # raised before any mark exists: only a character offset
        char = exc.character if isinstance(exc.character, int) else 0
        message = f"character U+{char:04X} is not allowed in YAML ({exc.reason})"
        diag = Diagnostic("LS101", message, offset_location(path, text, exc.position), hint="remove it")
    except yaml.MarkedYAMLError as exc:
        where = _mark_location(path, exc.problem_mark or exc.context_mark)
        context = f" ({exc.context} at line {_mark_location(path, exc.context_mark).line})" if exc.context_mark else ""
        if exc.context == "expected a single document in the stream":
            diag = Diagnostic("LS105", "a second YAML document starts here; a spec is one document", where,
                              hint="remove the `---` line and what follows, or move it into its own spec")
        else:
            problem = exc.problem or "invalid YAML"
            hint = ("YAML indents with spaces only: replace the tab" if "'\\t'" in problem else
                    "check the indentation and quoting around here; quote text that holds `: ` or starts with a "
                    "special character")
            diag = Diagnostic("LS101", problem + (context if exc.context else ""), where, hint=hint)
    except (RecursionError, ValueError, UnicodeError, yaml.YAMLError) as exc:
        code = "LS104" if isinstance(exc, RecursionError) else "LS101"
        message = f"the YAML loader failed: {type(exc).__name__}: {str(exc)[:200]}"
        diag = Diagnostic(code, message, _mark_location(path, loader.get_mark() if loader else None))
    finally:
        if loader is not None:
            loader.dispose()
    raise SpecError(diag)


def _mark_location(path: str, mark: Mark | None) -> SourceLocation:
    return loc(path, mark) if mark else SourceLocation(path, 1, 1)


def offset_location(path: str, text: str, offset: int) -> SourceLocation:
    """1-based line:col of a character offset, as editors count lines (BOMs take no column)."""
    line, start = 1, 0
    for match in LINE_BREAK.finditer(text, 0, offset):
        line, start = line + 1, match.end()
    return SourceLocation(path, line, offset - start - text.count("\ufeff", start, offset) + 1)


def _decode(data: bytes, path: str) -> str:
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = data[: exc.start].decode("utf-8")  # everything before the bad byte decoded
        message = f"not valid UTF-8 (byte 0x{data[exc.start]:02x}: {exc.reason})"
        raise SpecError(
            Diagnostic(
                "LS100", message, offset_location(path, prefix, len(prefix)), hint="save the file as UTF-8"
            )
        ) from None


def read_yaml_file(
    path: pathlib.Path, display_path: str | None = None, *, max_bytes: int = MAX_BYTES
) -> RawSpec:
    """Read a spec from a regular file (``stat`` before opening, ``fstat`` after) of at most ``max_bytes``.

    ``display_path`` is what diagnostics name (default: ``path`` as given). Symlinks are followed; whether the
    target may be read at all (path escapes) is ``resolve``'s question.
    """
    shown = str(path) if display_path is None else display_path
    return read_yaml_text(read_spec_bytes(path, shown, max_bytes=max_bytes), shown, max_bytes=max_bytes)


def read_spec_bytes(path: pathlib.Path, shown: str, *, max_bytes: int = MAX_BYTES) -> bytes:
    """A spec file's bytes, read as :func:`read_yaml_file` reads them (a regular file, ``stat`` before opening,
    ``fstat`` after); a problem is LS100 at ``shown``."""
    try:
        return read_regular(path, max_bytes)
    except FileProblem as exc:
        hint = ("check the path and its permissions" if exc.io else "keep items, gold and long examples in the "
                "data files the spec names" if exc.too_large else "name a regular spec file")
        raise SpecError(Diagnostic("LS100", exc.message, SourceLocation(shown), hint=hint)) from None


def excerpt(source: SourceMap, loc: SourceLocation) -> str:
    """dbt-style excerpt for renderers: the line before, the numbered line marked ``>``, a caret below.

    Control and bidi characters show as U+FFFD and tabs as one space, one column each, so no raw escape
    sequence reaches a terminal and the caret stays aligned; lines over 120 characters are clipped around it.
    """
    text = source.line_text(loc.line)
    if text is None:
        return ""
    width = max(3, len(str(loc.line)))
    shown, caret = _clip(text, loc.column)
    previous = source.line_text(loc.line - 1)
    out = [] if previous is None else [f"  {loc.line - 1:>{width}} | {_clip(previous, 1)[0]}".rstrip()]
    out.append(f"> {loc.line:>{width}} | {shown}".rstrip())
    if loc.column > 0:
        out.append(f"  {'':>{width}} | {' ' * caret}^")
    return "\n".join(out)


def _clip(text: str, column: int, span: int = 120) -> tuple[str, int]:
    """The masked text shown for a line, and the caret's offset in it."""
    text = _UNSAFE.sub(
        "\ufffd", text.replace("\t", " ").replace("\ufeff", "")
    )  # PyYAML gives a BOM no column
    start = max(0, column - 1 - span // 2) if len(text) > span else 0
    shown = ("…" if start else "") + text[start : start + span]
    shown += "…" if start + span < len(text) else ""
    return shown, max(column - 1, 0) - start + (1 if start else 0)
