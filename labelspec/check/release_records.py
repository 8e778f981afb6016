"""JSON text of many Python dicts of one shape (method details: posteriors, Borda scores …), column by column.

One job: write each dict as ``release_json.dumps`` would, but take the values out key by key and turn each
key's column into text with the vectorised encoders of ``release_json`` — one Python pass per key, not one
encoder walk per dict. Only a set of dicts that all have the same keys (at every level) and, per key, one scalar
type (str, int, float, bool, each possibly None) or nested dicts goes this way; anything else (lists, other types,
NaN or infinity, which ``json.dumps`` refuses) is dumped by the encoder itself, which also raises its errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from labelspec.check import release_json as js

_NONE = type(None)


def records_json(values: Sequence[dict[str, Any] | None]) -> pa.Array:
    """Each dict's JSON text (large strings), None as null; same text as ``release_json.dumps_each``."""
    present = [v for v in values if v is not None]
    text = _objects(present) if present and {type(v) for v in present} == {dict} else None
    if text is None:
        return pa.array(js.dumps_each(values), pa.large_string())
    if len(present) == len(values):
        return text
    missing = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    at = np.cumsum(~missing) - 1
    return text.take(pa.array(at, mask=missing))


def _objects(rows: list[dict[str, Any]]) -> pa.Array | None:
    """``{"key":value,…}`` per dict (keys sorted), or None when the dicts are not of one shape."""
    keys = rows[0].keys()
    if any(type(k) is not str for k in keys) or set(map(len, rows)) != {len(keys)}:
        return None  # same size and every key present (below) is the same keys
    if not keys:
        return pa.array(["{}"] * len(rows), pa.large_string())
    parts: list[js.Fragment] = []
    for i, key in enumerate(sorted(keys)):  # a loop over the keys
        try:
            values = list(map(itemgetter(key), rows))
        except KeyError:
            return None
        text = _column(values)
        if text is None:
            return None
        parts += [("{" if i == 0 else ",") + js.dumps(key) + ":", text]
    return js.join([*parts, "}"])


def _column(values: list[Any]) -> pa.Array | None:
    """One key's values as JSON texts, or None when they are not of one supported kind."""
    kinds = set(map(type, values))
    if kinds == {dict}:
        return _objects(values)
    scalar = kinds - {_NONE}
    if not scalar:
        return pa.array(["null"] * len(values), pa.large_string())
    if len(scalar) > 1:
        return None
    kind = scalar.pop()
    if kind is float:
        return _floats(values, _NONE in kinds)
    return _SCALARS[kind](values) if kind in _SCALARS else None


def _floats(values: list[float | None], nulls: bool) -> pa.Array | None:
    if nulls:
        present = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
        values = [math.nan if v is None else v for v in values]
    array = np.array(values, dtype=np.float64)
    if not np.isfinite(array[present] if nulls else array).all():
        return None  # NaN or infinity: json.dumps refuses them, let it say so
    return js.floats(array)  # None became NaN, which is written null


def _ints(values: list[int | None]) -> pa.Array | None:
    try:
        array = pa.array(values, pa.int64())
    except (OverflowError, pa.ArrowInvalid):
        return None  # beyond int64: the encoder writes it
    return pc.fill_null(pc.cast(array, pa.string()), "null")


def _strings(values: list[str | None]) -> pa.Array | None:
    try:
        return js.strings(pa.array(values, pa.string()))
    except (UnicodeEncodeError, pa.ArrowException):
        return None  # a lone surrogate: the encoder's behaviour, whatever it is


def _booleans(values: list[bool | None]) -> pa.Array:
    return js.booleans(pa.array(values, pa.bool_()))


_SCALARS: dict[type, Any] = {int: _ints, str: _strings, bool: _booleans}
