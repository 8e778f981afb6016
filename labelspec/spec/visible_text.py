"""LS304: ids that must be visible and unambiguous, and spec text that must display as it is stored.

One job: find the characters that make an id look like another (controls, format and bidi characters,
zero-width and blank letters, noncharacters, end whitespace) and the bidirectional controls that reorder free
text. It reads the spec's data only; the :class:`~labelspec.spec.resolve_checks.Checker` collects the findings.
"""

from __future__ import annotations

import re
import unicodedata
from typing import TYPE_CHECKING, Any

from labelspec.spec.locate import Part

if TYPE_CHECKING:
    from labelspec.spec.resolve_checks import Checker

_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
#: Letters and symbols that render as blank space (Hangul fillers, the blank Braille pattern).
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def invisible(text: str) -> str | None:
    """Why an id would look the same as another (control, format, bidi, zero-width, blank letters such as the
    Hangul fillers, a combining mark with nothing to combine with, separator, end whitespace), or should not be
    exchanged at all (noncharacters: U+FDD0–U+FDEF and every U+xFFFE, U+xFFFF, which XML 1.0 cannot carry)."""
    for i, ch in enumerate(text):
        code, category = ord(ch), unicodedata.category(ch)
        if 0xFDD0 <= code <= 0xFDEF or code & 0xFFFE == 0xFFFE:
            return f"U+{code:04X} a noncharacter"
        if category == "Co":
            return f"U+{code:04X} a private-use character"
        if category in _INVISIBLE_CATEGORIES or ch in _BLANK_LETTERS:
            return f"U+{code:04X} {unicodedata.name(ch, 'control character')}"
        if i == 0 and category in ("Mn", "Me"):
            return f"U+{code:04X} {unicodedata.name(ch, 'mark')} with nothing before it to combine with"
    if text != text.strip():
        return "leading or trailing whitespace"
    return None


def check_bidi_text(checker: Checker) -> None:
    """LS304 on any text of the spec holding a bidirectional control (U+202A–U+202E, U+2066–U+2069): it makes
    the text display in another order than it is stored (guidelines, reports, the labeling tool), which can hide
    what a definition says. Right-to-left text needs none of them. Ids flagged already are not flagged twice."""
    flagged = {d.pointer for d in checker.diags if d.code == "LS304"}

    def walk(data: Any, parts: tuple[Part, ...]) -> None:
        if isinstance(data, dict):
            for key, value in data.items():
                walk(value, (*parts, key))
        elif isinstance(data, list):
            for i, value in enumerate(data):
                walk(value, (*parts, i))
        elif isinstance(data, str) and (found := _BIDI.search(data)):
            ch = found.group()
            diag = checker.loc.diag("LS304", parts, f"text contains U+{ord(ch):04X} {unicodedata.name(ch)}: "
                                    "bidirectional controls make text display in another order than it is stored",
                                    hint="remove it: right-to-left text displays correctly without controls")
            if diag.pointer not in flagged:
                checker.diags.append(diag)

    walk(checker.data, ())


def _check_text(checker: Checker, parts: tuple[Part, ...], text: str, what: str, *, key: bool = False) -> None:
    problem = invisible(text)
    if problem:
        checker.add("LS304", parts, f"{what} {text!r} contains {problem}", key=key,
                    hint="ids must be visible and unambiguous: remove the character")


def check_id_text(checker: Checker, base: tuple[Part, ...], raw: dict[str, Any]) -> None:
    """LS304 on the ids of a task: label ids and option ids."""
    for lid in raw.get("labels", {}):
        _check_text(checker, (*base, "labels", lid), lid, "label id", key=True)
    for i, option in enumerate(raw.get("options", [])):
        _check_text(checker, (*base, "options", i), option, "option id")


def check_other_ids(checker: Checker) -> None:
    """LS304 on the names a spec matches data against: the item id column, column names, category values."""
    items = checker.data.get("items", {})
    if "id" in items:
        _check_text(checker, ("items", "id"), items["id"], "item id column")
    for name, f in items.get("fields", {}).items():
        for i, value in enumerate(f.get("values", [])):
            _check_text(checker, ("items", "fields", name, "values", i), value, "category value")
        for key in ("name_key", "text_key"):  # Label Studio XML attributes, and the keys steps are read by
            if key in f:
                _check_text(checker, ("items", "fields", name, key), f[key], f"step key `{key}`")
    for key, column in checker.data.get("input", {}).get("columns", {}).items():
        _check_text(checker, ("input", "columns", key), column, "column name")

