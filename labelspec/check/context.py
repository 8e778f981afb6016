"""The project data a check needs besides the label files: items, roster, gold and calibration sets.

Read once from the files the spec references (they were validated when the spec was loaded), as strings. This and
the readers are the only check modules that open files.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from labelspec.check.coded import arrow_texts
from labelspec.csvscan import plain_columns
from labelspec.spec.model import Spec
from labelspec.strictjson import decode_checked_lines

GOLD_COLUMNS = ["item", "unit", "task", "label", "why"]
T = TypeVar("T")


class TextLengths(dict[str, int]):
    """Item id → length of one field (a dict, read-only by convention), looked up for many ids at once by
    :meth:`of`: Arrow's hash lookup of the ids in C, instead of a Python lookup per id (pandas' ``map``:
    ~0.4 s for 333k items, twice on the check's critical path for a spans task)."""

    _arrays: tuple[pa.Array, np.ndarray] | None = None
    #: The items file these lengths are of (``Items.text_lengths`` sets it), and the lengths in its row order.
    _items: Items | None = None
    _by_row: np.ndarray | None = None

    def of(self, keys: pd.Index | np.ndarray | pa.Array, missing: int = -1) -> np.ndarray:
        """(N,) int64 length of each key, ``missing`` for a key without one. The lengths of an items file's
        field are found through its rows (``Items.positions``, whose last answer the accounting shares)."""
        if self._items is not None:
            rows = self._items.positions(keys)
            if rows is not None:
                by_row = self._rows(self._items)
                got = by_row[np.maximum(rows, 0)] if by_row.size else np.full(len(rows), -1, dtype=np.int64)
                return np.where((rows >= 0) & (got >= 0), got, missing)
        if self._arrays is None:
            self._arrays = (pa.array(list(self), pa.large_string()),
                            np.fromiter(self.values(), dtype=np.int64, count=len(self)))
        ids, lengths = self._arrays
        if isinstance(keys, pd.Index):
            texts = arrow_texts(keys)
            keys = texts if texts is not None else np.asarray(keys, dtype=object)
        if not isinstance(keys, (pa.Array, pa.ChunkedArray)):
            keys = pa.array(np.asarray(keys, dtype=object), pa.large_string())
        elif keys.type != pa.large_string():
            keys = keys.cast(pa.large_string())
        at = pc.index_in(keys, value_set=ids).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return np.where(at >= 0, lengths[np.maximum(at, 0)], missing) if lengths.size else np.full(len(at), missing)

    def _rows(self, items: Items) -> np.ndarray:
        """(rows,) the length of each items-file row's field, -1 for a row without it: the dict's own values when
        its keys are the ids in row order (as ``read_items`` fills it), else looked up row by row."""
        if self._by_row is None:
            ids = items.ids.tolist()
            if len(self) == len(ids) and list(self) == ids:
                self._by_row = np.fromiter(self.values(), dtype=np.int64, count=len(self))
            else:  # a JSON Lines items file whose records do not all have the field, or fields built in code
                self._by_row = np.fromiter((self.get(i, -1) for i in ids), dtype=np.int64, count=len(ids))
        return self._by_row


def lengths_of(lengths: dict[str, int], keys: pd.Index | np.ndarray, missing: int = -1) -> np.ndarray:
    """(N,) int64: ``lengths[key]`` of each key, ``missing`` for a key without one; in bulk for
    :class:`TextLengths` (the context's), one lookup per key for any other dict."""
    if isinstance(lengths, TextLengths):
        return lengths.of(keys, missing)
    found = pd.Series(np.asarray(keys, dtype=object), dtype=object).map(lengths)
    out: np.ndarray = found.fillna(missing).to_numpy(dtype=np.int64)
    return out


@dataclass(frozen=True)
class RosterEntry:
    id: str
    role: str
    name: str = ""
    calibration_score: float | None = None
    calibration_n: int | None = None
    passed: bool = False
    calibrated_at: pd.Timestamp | None = None

    @property
    def calibration_recorded(self) -> bool:
        """Whether the roster holds a calibration for the annotator at all: without one, ``passed`` is False
        for "never calibrated" as much as for "failed", and provenance says unknown (null) instead."""
        return self.passed or self.calibration_score is not None or self.calibrated_at is not None


@dataclass(frozen=True)
class Items:
    """Item ids in file order and their fields as strings (JSON text for non-string values)."""

    ids: np.ndarray
    fields: dict[str, dict[str, str]] = field(default_factory=dict)
    _lengths: dict[str, TextLengths] = field(default_factory=dict, init=False, repr=False, compare=False)
    _lists: dict[str, dict[str, int]] = field(default_factory=dict, init=False, repr=False, compare=False)
    #: The ids as Arrow strings (made on first use), and the last answer of :meth:`positions` with its keys.
    _kept: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def text_lengths(self, name: str) -> TextLengths:
        """Item id → length of its ``name`` field; built once per field (accounting, agreement, consensus and
        hotspots all ask; treat the result as read-only)."""
        if name not in self._lengths:
            lengths = TextLengths((k, len(v)) for k, v in self.fields.get(name, {}).items())
            lengths._items = self
            self._lengths[name] = lengths
        return self._lengths[name]

    def positions(self, keys: pd.Index | np.ndarray | pa.Array) -> np.ndarray | None:
        """(N,) each key's row in the items file (-1: not there), by one hash lookup in Arrow; None when the keys
        are not all text. The answer for the last ``keys`` asked (the same object) is kept: the accounting asks
        for the read-time item categories twice, for the unknown items and for the spans' text lengths (333k
        ids: ~0.07 s a lookup, and ~0.05 s more to turn the ids into Arrow strings each time)."""
        last = self._kept.get("asked")
        if last is not None and last[0] is keys:
            found: np.ndarray = last[1]
            return found
        if isinstance(keys, pd.Index):
            texts = arrow_texts(keys)
        elif isinstance(keys, pa.Array):
            texts = keys if pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type) else None
        else:
            try:
                texts = pa.array(np.asarray(keys, dtype=object), pa.large_string())
            except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text
                texts = None
        if texts is None:
            return None
        if "ids" not in self._kept:
            self._kept["ids"] = pa.array(self.ids.tolist(), pa.large_string())
        if texts.type != pa.large_string():
            texts = texts.cast(pa.large_string())
        at = pc.index_in(texts, value_set=self._kept["ids"]).fill_null(-1)
        found = np.asarray(at.to_numpy(zero_copy_only=False), dtype=np.int64)
        self._kept["asked"] = (keys, found)
        return found

    def list_lengths(self, name: str) -> dict[str, int]:
        """Item id → number of elements of its ``name`` field when that holds a JSON array (a trajectory's steps);
        items whose value is not a JSON array are absent. A JSONL items file gives them as it is read (a string
        that looks like an array is a string there); a CSV cell is parsed, once per field (treat as read-only)."""
        if name not in self._lists:
            found = ((k, _json_list(v)) for k, v in self.fields.get(name, {}).items())
            self._lists[name] = {k: len(v) for k, v in found if v is not None}
        return self._lists[name]


def _json_list(text: str) -> list[object] | None:
    """``text`` parsed when it is a JSON array, else None (only texts opening with ``[`` are parsed)."""
    if not text.lstrip().startswith("["):
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # a CSV cell may hold anything, nested past Python's stack
        return None
    return data if isinstance(data, list) else None


class Once:
    """Results computed once per key however many threads ask: a later caller waits for the first's result, or
    gets the error it raised, instead of spending the work (a rule's regex budget) again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[Hashable, Future[Any]] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            result = self._results.get(key)
            first = result is None
            if result is None:
                result = self._results[key] = Future()
        if first:
            try:
                result.set_result(compute())
            except BaseException as exc:  # every caller raises it, the first one too (below)
                result.set_exception(exc)
        return cast(T, result.result())


@dataclass(frozen=True)
class Context:
    items: Items | None = None
    roster: dict[str, RosterEntry] | None = None
    gold: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=GOLD_COLUMNS, dtype=str))
    calibration: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=GOLD_COLUMNS, dtype=str))
    #: Items of the spec's own gold file when ``--gold`` replaced it for scoring: never released either.
    hidden_gold_items: frozenset[str] = frozenset()
    #: The bytes of the ``--gold`` file the gold set was read from (None without one): a release manifest hashes
    #: these, not a second read of the file.
    gold_override_bytes: bytes | None = field(default=None, repr=False, compare=False)
    #: What the check's stages share within this context only: a new context (each API call) starts empty.
    _once: Once = field(default_factory=Once, init=False, repr=False, compare=False)

    def once(self, key: Hashable, compute: Callable[[], T]) -> T:
        """``compute()``, run once per ``key`` in this context; thread-safe (the consensus runs on a worker)."""
        return self._once.get(key, compute)

    def never_released(self) -> list[str]:
        """Items no release publishes: the gold items (of the gold file in use and, when ``--gold`` replaced it,
        of the spec's own) and the calibration items. ``tolist`` each column: iterating a pandas string column
        yields its values one by one (66k gold items: 50 ms, against 5 ms)."""
        return [*self.gold["item"].tolist(), *self.hidden_gold_items, *self.calibration["item"].tolist()]

    def field_lengths(self, name: str | None) -> dict[str, int]:
        """Item id → length of its ``name`` field (a spans task's text); empty without items or a field."""
        return self.items.text_lengths(name) if self.items is not None and name else {}


def _read_csv(data: bytes) -> list[dict[str, str]]:
    with io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="") as fh:
        return [dict(row) for row in csv.DictReader(fh)]


def _bytes(path: Path, data: bytes | None) -> bytes:
    """``data`` when the spec loader read the file already (``Spec.sources``), else the file's bytes."""
    return path.read_bytes() if data is None else data


def _as_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def read_items(path: Path, id_column: str, data: bytes | None = None) -> Items:
    """The items file at ``path`` (its format by its suffix); ``data``: its bytes, when already read."""
    raw = _bytes(path, data)
    if path.suffix == ".csv":  # validated at spec load (header, ragged rows, unique ids): pandas' C parser
        table = pd.read_csv(io.BytesIO(raw), dtype=object, keep_default_na=False, na_filter=False,
                            encoding="utf-8-sig")
        ids = table[id_column].to_numpy(dtype=object)
        names = sorted(c for c in table.columns if c != id_column)
        return Items(ids=ids, fields={n: dict(zip(ids.tolist(), table[n].tolist(), strict=True)) for n in names})
    # lines as the spec loader checked them (split at "\n" only: a lone "\r" is JSON whitespace inside a record,
    # where a text file's universal newlines would split it), each one value: one decoder call reads them all;
    # a file read here (a spec built in code) was not checked, and is decoded line by line
    lines = [line for line in raw.decode("utf-8-sig").split("\n") if line.strip()]
    rows = decode_checked_lines(lines) if data is not None else [json.loads(line) for line in lines]
    ids = np.array([_as_text(r[id_column]) for r in rows], dtype=object)
    names = sorted({k for r in rows for k in r if k != id_column})
    fields = {n: {_as_text(r[id_column]): _as_text(r[n]) for r in rows if n in r} for n in names}
    items = Items(ids=ids, fields=fields)
    for n in names:  # arrays are known while the records are parsed: list_lengths need not parse their text again
        items._lists[n] = {_as_text(r[id_column]): len(r[n]) for r in rows if isinstance(r.get(n), list)}
    return items


def _timestamp(text: str) -> pd.Timestamp | None:
    if not text:
        return None
    ts = pd.Timestamp(text)
    return ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")


def read_roster(path: Path, data: bytes | None = None) -> dict[str, RosterEntry]:
    """The roster at ``path``; ``data``: its bytes, when already read."""
    roster: dict[str, RosterEntry] = {}
    for row in _read_csv(_bytes(path, data)):
        score = row.get("calibration_score", "") or ""
        n = row.get("calibration_n", "") or ""
        roster[row["id"]] = RosterEntry(
            id=row["id"], role=row.get("role", "annotator") or "annotator", name=row.get("name", "") or "",
            calibration_score=float(score) if score else None, calibration_n=int(n) if n else None,
            passed=(row.get("calibration_passed", "") or "").lower() == "true",
            calibrated_at=_timestamp(row.get("calibrated_at", "") or ""),
        )
    return roster


def read_reference(path: Path, data: bytes | None = None) -> pd.DataFrame:
    """A gold or calibration set: item, unit, task, label (+ why, edge_case, teaching) as strings; ``data``: the
    file's bytes, when already read.

    Read by pyarrow when it reads the file as the stdlib would (``csvscan.plain_columns``; the spec loader has
    checked the file already), else by the stdlib: the same strings either way."""
    raw = _bytes(path, data)
    cols = plain_columns(raw)
    frame = (pd.DataFrame({n: np.asarray(c.to_numpy(zero_copy_only=False), dtype=object) for n, c in cols.items()})
             if cols is not None else pd.DataFrame(_read_csv(raw), dtype=object))
    for col in GOLD_COLUMNS:
        if col not in frame:
            frame[col] = ""
    return frame.fillna("").astype(str)


def load_context(spec: Spec, spec_dir: Path, *, gold_override: Path | None = None,
                 gold_data: bytes | None = None) -> Context:
    """Everything the spec references: the bytes the spec loader read and checked (``Spec.sources``), or, for a
    spec built in code, the files relative to the spec's folder. ``gold_override`` (``--gold``) replaces the
    spec's gold set; ``gold_data``: its bytes, when the caller read them to check them."""
    sources = spec.sources
    items = (read_items(spec_dir / spec.items.file, spec.items.id, sources.get(spec.items.file))
             if spec.items else None)
    roster = (read_roster(spec_dir / spec.annotators.file, sources.get(spec.annotators.file))
              if spec.annotators else None)
    gold_file = spec.quality.gold.file if spec.quality.gold else None
    spec_gold = read_reference(spec_dir / gold_file, sources.get(gold_file)) if gold_file else None
    cal = spec.quality.calibration
    override = _bytes(gold_override, gold_data) if gold_override is not None else None
    if gold_override is not None:
        gold = read_reference(gold_override, override)
        hidden = frozenset(spec_gold["item"].tolist()) if spec_gold is not None else frozenset()
    else:
        gold, hidden = (spec_gold if spec_gold is not None else Context().gold), frozenset()
    return Context(
        items=items,
        roster=roster,
        gold=gold,
        calibration=read_reference(spec_dir / cal.file, sources.get(cal.file)) if cal else Context().calibration,
        hidden_gold_items=hidden,
        gold_override_bytes=override,
    )


def iso_utc(ts: Any) -> str:
    """A timestamp as the roster and label files write it: UTC, ``Z``, fraction only when there is one ("" for
    none)."""
    if ts is None or pd.isna(ts):
        return ""
    t = pd.Timestamp(ts).tz_convert("UTC")
    frac = f".{t.microsecond:06d}".rstrip("0") if t.microsecond else ""
    return str(t.strftime("%Y-%m-%dT%H:%M:%S")) + frac + "Z"
