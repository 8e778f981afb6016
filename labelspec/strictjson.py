"""Strict JSON decoding shared by every reader of JSON text (label files, items files).

Python's ``json`` accepts duplicate keys (the last wins) and ``NaN``/``Infinity``; labelspec rejects both, and keeps
numbers as the exact text they were written with, so ``1.0`` never silently becomes ``1``. json's C parser
nests ~1000 levels deep, but a recursive walk in Python (:func:`plain`) spends two frames per level and hit the
recursion limit near 500: :func:`plain` refuses values deeper than :data:`MAX_DEPTH` instead (checked during the
walk it does anyway, so ordinary values cost nothing more). Pure: no I/O.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Callable
from typing import Any

#: Deepest nesting of arrays and objects :func:`plain` accepts (the spec's own YAML limit): label values need 3.
MAX_DEPTH = 64


class JsonNumber(str):
    """A JSON number kept as the exact text it was written with (``4`` stays "4", ``1.0`` stays "1.0")."""

    __slots__ = ()

    @property
    def is_integer(self) -> bool:
        return "." not in self and "e" not in self and "E" not in self


class JsonStrictError(ValueError):
    """A JSON text that parses in Python's lenient mode but not under labelspec's rules."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonStrictError(f"duplicate key {key!r}")
            seen.add(key)
    return obj


def _no_constant(name: str) -> Any:
    raise JsonStrictError(f"{name} is not valid JSON")


def strict_decoder() -> json.JSONDecoder:
    """Rejects duplicate keys and NaN/Infinity; keeps numbers as :class:`JsonNumber` text."""
    return json.JSONDecoder(object_pairs_hook=_pairs, parse_int=JsonNumber, parse_float=JsonNumber,
                            parse_constant=_no_constant)


class TooDeep(JsonStrictError):
    """A decoded value nesting arrays or objects deeper than :data:`MAX_DEPTH` (see the module docstring)."""


def plain(value: Any, depth: int = 0) -> Any:
    """Turn :class:`JsonNumber` back into int/float (recursively) so the value can be dumped as JSON.

    :class:`TooDeep` past :data:`MAX_DEPTH` levels; ``ValueError`` for an integer of more than 4300 digits.
    The elements of an array are converted in its own loop, and only nested arrays and objects recurse: a span's
    offsets and label cost no call each (a JSON Lines file of 35k span judgments: its read 0.95 → 0.73 s)."""
    kind = type(value)
    if kind is JsonNumber:
        return _number(value)
    if kind is list or kind is dict or isinstance(value, (list, dict)):
        if depth >= MAX_DEPTH:
            raise TooDeep(f"arrays or objects nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, list):
            return [_number(v) if type(v) is JsonNumber else v if type(v) in _SCALARS else plain(v, depth + 1)
                    for v in value]
        return {k: _number(v) if type(v) is JsonNumber else v if type(v) in _SCALARS else plain(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, JsonNumber):
        return _number(value)
    return value


#: Types a decoded JSON value may have that :func:`plain` returns as they are.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _number(text: JsonNumber) -> int | float:
    return int(text) if text.is_integer else float(text)


#: JSON's whitespace (RFC 8259): what ``json``'s decoder skips around a value.
_JSON_SPACE = " \t\n\r"


def strict_line_decoder() -> Callable[[str], Any]:
    """``strict_decoder().decode``, with the same values, errors and messages, by the decoder's C scanner called
    directly: the Python layer around it (two whitespace matches and two calls) was a third of a strict decode of
    a short line (333k items: 0.61 → 0.40 s). Whatever the scanner refuses, or trailing text, is decoded again
    by ``decode`` itself, which raises its own error."""
    decoder = strict_decoder()
    # what ``decode`` calls (json's C scanner when present); typeshed asks for a scanner where any object with a
    # decoder's attributes does (its own TODO)
    scan = json.scanner.make_scanner(decoder)  # type: ignore[arg-type]

    def decode(text: str) -> Any:
        value = text.strip(_JSON_SPACE)
        try:
            obj, end = scan(value, 0)
        except (StopIteration, ValueError, RecursionError):
            return decoder.decode(text)
        return obj if end == len(value) else decoder.decode(text)

    return decode


def decode_checked_lines(lines: list[str]) -> list[Any]:
    """The values of JSON lines that were each checked to hold exactly one valid JSON value (as an items file is
    at spec load), decoded by one call of json's plain decoder: one call per line cost ~2 µs each in Python
    (333k lines: 0.66 s against 0.44 s). Lines that were not checked so must be decoded one by one: joined, a
    value broken across lines could read as one."""
    return json.loads("[" + ",".join(lines) + "]") if lines else []
