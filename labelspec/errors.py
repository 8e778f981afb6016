"""Exceptions, source locations, diagnostics and the table of diagnostic codes.

Every problem labelspec reports to a user is a :class:`Diagnostic`: a stable code, a location
(``FILE:LINE:COL``), the pointer into the spec or record, a message and an optional hint. Exceptions only
carry diagnostics; they never print. The tree::

    LabelspecError                 base; .diagnostics: tuple[Diagnostic, ...]
    ├── SpecError                  spec unreadable or invalid (LS1xx–LS3xx), all problems at once
    ├── InputError                 label/gold/roster file unreadable or structurally broken (LS4xx)
    └── OutputError                an output cannot be written (nothing partial is left behind)

Gate failures are not exceptions: they are values in a report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Every diagnostic code, once. The README's table is generated from this dict (tests keep them in step).
CODES: dict[str, str] = {
    # LS1xx: the file cannot be read as the restricted YAML labelspec accepts
    "LS100": "file cannot be read (missing, not a regular file, too large, not UTF-8)",
    "LS101": "YAML syntax error",
    "LS102": "duplicate mapping key",
    "LS103": "forbidden YAML tag (only the core tags are allowed)",
    "LS104": "alias expansion budget, node count or nesting depth exceeded",
    "LS105": "empty file, several documents, or a top level that is not a mapping",
    "LS106": "mapping key that is not a string",
    "LS107": "scalar YAML 1.1 would retype (yes/no/on/off, dates, 010); quote it",
    # LS2xx: the document does not have the shape of the spec language (JSON Schema)
    "LS200": "unsupported spec-language version",
    "LS201": "unknown key",
    "LS202": "missing required key",
    "LS203": "value of the wrong type",
    "LS204": "value not allowed (enum, pattern, range, length)",
    "LS205": "value matches none of the allowed shapes",
    "LS206": "non-finite number (NaN or infinity)",
    # LS3xx: the document has the right shape but does not make sense
    "LS301": "unknown label",
    "LS302": "duplicate id",
    "LS303": "ids that collide after case folding, Unicode NFKC or whitespace trimming",
    "LS304": "invisible or control character in an id, or a bidirectional control in spec text",
    "LS305": "expected distribution does not sum to 1",
    "LS306": "threshold out of range or inconsistent with another threshold",
    "LS307": "cycle in label parents, or a taxonomy too deep",
    "LS308": "path is absolute, escapes the spec folder, or is not a regular file",
    "LS309": "extends cycle or conflicting definition across extends",
    "LS310": "unknown task, field or gate",
    "LS311": "setting that does not apply to this task kind or field type",
    "LS312": "referenced data file is invalid (gold, calibration, items, roster)",
    "LS313": "invalid regular expression",
    "LS314": "changelog entry for a version after the project's, or for a version listed twice",
    # LS4xx: label files (input to check, calibrate, adjudicate, release)
    "LS401": "label file cannot be read or decoded",
    "LS402": "structural damage in a label file (ragged row, bad quote, NUL, bad JSON line)",
    "LS403": "missing or duplicate column",
    "LS404": "column of the wrong type (Parquet) or non-string value where a string is required",
    "LS405": "unknown or unsupported label-file format",
    "LS406": "Label Studio export has an unexpected shape",
    # LS5xx: command-line usage beyond what click checks
    "LS501": "bad command-line usage",
    # LS6xx: outputs
    "LS601": "output cannot be written",
}


@dataclass(frozen=True, slots=True, order=True)
class SourceLocation:
    """Where something was written: a path as the user gave it (never absolutised), 1-based line and column."""

    path: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line <= 0:
            return self.path
        if self.column <= 0:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.column}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "column": self.column}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem, located. ``severity`` is ``error`` or ``warning``."""

    code: str
    message: str
    loc: SourceLocation | None = None
    pointer: str = ""
    hint: str | None = None
    severity: str = "error"
    excerpt: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.code not in CODES:  # a typo in a code is a bug, caught by every test that triggers it
            raise ValueError(f"unknown diagnostic code {self.code!r}")

    def check_tuple(self) -> tuple[str, int, int]:
        """``(code, line, column)`` for tests (sqlfluff's habit)."""
        return (self.code, self.loc.line if self.loc else 0, self.loc.column if self.loc else 0)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        loc = self.loc or SourceLocation("")
        return (loc.path, loc.line, loc.column, self.code, self.message)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "pointer": self.pointer,
            "hint": self.hint,
            "location": self.loc.to_dict() if self.loc else None,
        }


def sorted_unique(diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> tuple[Diagnostic, ...]:
    """Deduplicate and sort by location, so output is deterministic and editors can walk it."""
    seen: dict[tuple[Any, ...], Diagnostic] = {}
    for d in diagnostics:
        seen.setdefault((d.sort_key(), d.pointer, d.hint), d)
    return tuple(sorted(seen.values(), key=Diagnostic.sort_key))


class LabelspecError(Exception):
    """Base of every error labelspec raises on purpose. Carries one or more diagnostics; never prints."""

    exit_code = 2

    def __init__(self, diagnostics: list[Diagnostic] | tuple[Diagnostic, ...] | Diagnostic) -> None:
        if isinstance(diagnostics, Diagnostic):
            diagnostics = (diagnostics,)
        self.diagnostics: tuple[Diagnostic, ...] = sorted_unique(diagnostics)
        first = self.diagnostics[0] if self.diagnostics else None
        super().__init__(f"{first.loc}: {first.code} {first.message}" if first else "labelspec error")


class SpecError(LabelspecError):
    """Raised when a spec (or a file it references) cannot be read or is invalid."""


class InputError(LabelspecError):
    """Raised when a label, gold or roster file given to a command is unreadable or structurally broken."""


class OutputError(LabelspecError):
    """Raised when an output cannot be written; whatever existed before is left as it was."""


class UsageError(LabelspecError):
    """Raised for command-line usage the parser cannot check by itself (exit 2)."""
