"""Strict JSON decoding shared by every reader of JSON text (label files, items files).

Python's ``json`` accepts duplicate keys (the last wins) and ``NaN``/``Infinity``; labelspec rejects both, and keeps
numbers as the exact text they were written with, so ``1.0`` never silently becomes ``1``. Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Any


class JsonNumber(str):
    """A JSON number kept as the exact text it was written with (``4`` stays "4", ``1.0`` stays "1.0")."""

    __slots__ = ()

    @property
    def is_integer(self) -> bool:
        return not any(c in self for c in ".eE")


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


def plain(value: Any) -> Any:
    """Turn :class:`JsonNumber` back into int/float (recursively) so the value can be dumped as JSON."""
    if isinstance(value, JsonNumber):
        return int(value) if value.is_integer else float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
