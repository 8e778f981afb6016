"""Span texts ↔ flat integer arrays: every distinct ``[[start, end, "label"], …]`` text parsed once, vectorised.

One job: turn many span texts into (spans per text, start, end, label code) arrays, and such arrays back into
canonical text, without a Python step per text in the usual case. It never sees rows, units or annotators and
validates nothing beyond the shape (``spec.records`` and ``spans.validate_spans`` do that).

Fast path. The canonical compact form (``[[0,5,"per"],[7,9,"org"]]``: no spaces, integer offsets without sign
or leading zeros, each label written as ``json.dumps(label, ensure_ascii=False)``), which readers and
``canonical`` write, is read by byte arithmetic over all texts at once. A text is accepted only when it is
*exactly* the canonical serialisation of the spans read from it (every byte is accounted for), so the result
equals what ``json.loads`` gives. Every other text (spaces, other escapes, unknown labels, non-JSON) goes
through ``json.loads`` one by one; unknown labels get code −1 either way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from labelspec.check.estimate import IntArray
from labelspec.check.taxonomy import lex_order

BoolArray = npt.NDArray[np.bool_]
Texts: TypeAlias = Sequence[str] | npt.NDArray[Any] | pa.Array | pa.ChunkedArray
_OPEN, _CLOSE, _COMMA, _ZERO = ord("["), ord("]"), ord(","), ord("0")
MAX_DIGITS = 18  # offsets with more digits take the slow path (int64 would overflow)


@dataclass(frozen=True, slots=True)
class ParsedSpans:
    """Spans of V texts, flat in text order: text i owns ``start[first[i]:first[i] + count[i]]``."""

    count: IntArray  # (V,)
    start: IntArray  # (S,)
    end: IntArray  # (S,)
    label: IntArray  # (S,) index into the labels given, −1 for a label not among them

    @property
    def first(self) -> IntArray:
        return np.cumsum(self.count) - self.count


def label_json(labels: Sequence[str]) -> list[str]:
    """Each label as canonical span texts write it (a JSON string, UTF-8 kept)."""
    return [json.dumps(lab, ensure_ascii=False) for lab in labels]


def _buffers(texts: Texts) -> tuple[npt.NDArray[np.uint8], IntArray]:
    """UTF-8 bytes of all texts back to back and the (V + 1,) offsets of each text."""
    arr = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(
        np.asarray(texts, dtype=object), type=pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    arr = pc.fill_null(arr, "") if arr.null_count else arr
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1] if len(arr) else (
        np.zeros(1, dtype=np.int64))
    base = int(offsets[0])
    data = np.frombuffer(data_buf, dtype=np.uint8)[base:int(offsets[-1])] if data_buf is not None else (
        np.zeros(0, dtype=np.uint8))
    return data, offsets - base


def _integers(data: npt.NDArray[np.uint8], isdig: BoolArray, at: IntArray) -> tuple[IntArray, IntArray, BoolArray]:
    """Value and end of the digit run starting at each position, and whether it is a canonical integer
    (1..``MAX_DIGITS`` digits, no leading zero); one digit position per pass over the shrinking live runs."""
    value = np.zeros(at.size, dtype=np.int64)
    stop = at.copy()
    live = np.arange(at.size)
    for _ in range(MAX_DIGITS + 1):  # a loop over digit positions
        live = live[isdig[stop[live]]]
        if not live.size:
            break
        value[live] = value[live] * 10 + (data[stop[live]].astype(np.int64) - _ZERO)
        stop[live] += 1
    length = stop - at
    ok = (length >= 1) & (length <= MAX_DIGITS) & ~isdig[stop] & ((data[at] != _ZERO) | (length == 1))
    return value, stop, ok


def _labels_at(data: npt.NDArray[np.uint8], at: IntArray, encoded: list[bytes]) -> tuple[IntArray, IntArray]:
    """Which label's JSON text starts at each position and is followed by ``]`` (−1: none); end after ``]``."""
    code = np.full(at.size, -1, dtype=np.int64)
    stop = np.full(at.size, -1, dtype=np.int64)
    for k, raw in enumerate(encoded):  # a loop over the task's labels
        pat = np.frombuffer(raw + b"]", dtype=np.uint8)
        live = np.flatnonzero(code < 0)
        for t, byte in enumerate(pat.tolist()):  # a loop over the bytes of one label; survivors shrink fast
            live = live[data[at[live] + t] == byte]
        code[live], stop[live] = k, at[live] + pat.size
    return code, stop


def _fast(texts: Texts, encoded: list[bytes]) -> tuple[BoolArray, IntArray, IntArray, IntArray, IntArray]:
    """(V,) whether each text is canonical, and value index, start, end, label of the spans of those texts."""
    raw, offsets = _buffers(texts)
    n_text = offsets.size - 1
    pad = max((len(e) for e in encoded), default=0) + 4
    data = np.r_[raw, np.zeros(pad, dtype=np.uint8)]  # reads past the end land on zeros (matching nothing)
    isdig = (data >= _ZERO) & (data <= ord("9"))
    at = np.flatnonzero((data[:-1] == _OPEN) & isdig[1:])  # '[' before a digit: a span may start here
    at = at[at < raw.size]
    s, s_stop, s_ok = _integers(data, isdig, at + 1)
    e, e_stop, e_ok = _integers(data, isdig, s_stop + 1)
    label, stop = _labels_at(data, e_stop + 1, encoded)
    good = s_ok & e_ok & (data[s_stop] == _COMMA) & (data[e_stop] == _COMMA) & (label >= 0)
    value = np.searchsorted(offsets, at, side="right") - 1
    same_next = np.r_[value[1:] == value[:-1], False]
    linked = (data[np.maximum(stop, 0)] == _COMMA) & (np.r_[at[1:], -1] == stop + 1)
    first = np.r_[True, ~same_next[:-1]] if at.size else np.zeros(0, dtype=bool)
    bad = ~good | (same_next & ~linked) | (first & (at != offsets[value] + 1)) | (
        ~same_next & (stop != offsets[value + 1] - 1))
    bad_text = np.bincount(value[bad], minlength=n_text) > 0
    count = np.bincount(value, minlength=n_text)
    length = np.diff(offsets)
    head, tail = data[np.minimum(offsets[:-1], raw.size)], data[np.maximum(offsets[1:] - 1, 0)]
    empty = (length == 2) & (head == _OPEN) & (tail == _CLOSE)
    ok = ~bad_text & (length >= 2) & (head == _OPEN) & (tail == _CLOSE) & ((count > 0) | empty)
    keep = ok[value]
    return ok, value[keep], s[keep], e[keep], label[keep]


def _slow(text: str, code: dict[str, int]) -> list[tuple[int, int, int]]:
    """One text through ``json.loads`` (the path for anything not in canonical form)."""
    data = json.loads(text)
    if not isinstance(data, list) or not all(isinstance(s, list) and len(s) == 3 for s in data):
        raise ValueError(f"not a JSON array of [start, end, label] spans: {text[:80]!r}")
    return [(int(s[0]), int(s[1]), code.get(s[2], -1) if isinstance(s[2], str) else -1) for s in data]


def parse_spans(texts: Texts, labels: Sequence[str]) -> ParsedSpans:
    """The spans of every text, in text order; ``ValueError`` for a text that is not a list of 3-lists."""
    return parse_with_form(texts, labels)[0]


def parse_canonical(texts: Texts, labels: Sequence[str]) -> tuple[ParsedSpans, BoolArray]:
    """Only the fast path: (V,) whether each text is in canonical form with known labels, and the spans of
    those texts (a text not in canonical form counts no spans and is not looked at further; nothing raises)."""
    ok, value, s, e, lab = _fast(texts, [e.encode("utf-8") for e in label_json(labels)])
    return ParsedSpans(np.bincount(value, minlength=ok.size).astype(np.int64), s, e, lab), ok


@dataclass(frozen=True, eq=False)
class CategoryParse:
    """:func:`parse_canonical` of the value categories at ``positions`` (sorted, distinct) of ``categories`` (a
    pandas Index, kept as the object itself): the accounting parses them to check the records, and the task's
    parse takes the categories its used rows hold from it instead of parsing them again."""

    categories: pd.Index
    positions: IntArray
    parsed: ParsedSpans
    ok: BoolArray

    def of(self, categories: pd.Index, present: IntArray) -> tuple[ParsedSpans, BoolArray] | None:
        """The parse of the categories at ``present`` (sorted, distinct), or None when they are not all here."""
        if categories is not self.categories:
            return None
        n = self.positions.size
        at = np.searchsorted(self.positions, present)
        if np.any(at >= n) or not np.array_equal(self.positions[np.minimum(at, n - 1)], present):
            return None
        if at.size == n:  # every one of them (at is then 0, 1, …): no copy
            return self.parsed, self.ok
        p, count = self.parsed, self.parsed.count[at]
        rows = np.repeat(p.first[at] - (np.cumsum(count) - count), count) + np.arange(int(count.sum()))
        return ParsedSpans(count, p.start[rows], p.end[rows], p.label[rows]), self.ok[at]


def parse_with_form(texts: Texts, labels: Sequence[str], canonical: tuple[ParsedSpans, BoolArray] | None = None
                    ) -> tuple[ParsedSpans, BoolArray]:
    """Parsed spans and (V,) whether each text is in canonical form (read on the fast path, labels known).
    ``canonical``: :func:`parse_canonical` of these texts, when the caller has it."""
    fast, ok = parse_canonical(texts, labels) if canonical is None else canonical
    odd = np.flatnonzero(~ok)
    if not odd.size:
        return fast, ok
    value = np.repeat(np.arange(ok.size), fast.count)
    code = {lab_: k for k, lab_ in enumerate(labels)}
    strings = np.asarray(pa.array(texts).to_pylist() if isinstance(texts, (pa.Array, pa.ChunkedArray))
                         else texts, dtype=object)[odd]
    slow = [_slow(str(t), code) for t in strings]
    n_slow = np.array([len(x) for x in slow], dtype=np.int64)
    flat = np.array([span for x in slow for span in x], dtype=np.int64).reshape(-1, 3)
    order = np.argsort(np.r_[value, np.repeat(odd, n_slow)], kind="stable")
    value = np.r_[value, np.repeat(odd, n_slow)][order]
    s, e, lab = (np.r_[a, flat[:, j]][order] for j, a in enumerate((fast.start, fast.end, fast.label)))
    return ParsedSpans(np.bincount(value, minlength=ok.size).astype(np.int64), s, e, lab), ok


def spans_text(count: npt.ArrayLike, start: npt.ArrayLike, end: npt.ArrayLike, label: npt.ArrayLike,
               labels: Sequence[str]) -> npt.NDArray[np.object_]:
    """Canonical compact text of each group of ``count`` consecutive spans (``[]`` for none), built in Arrow."""
    cnt = np.asarray(count, dtype=np.int64)
    s, e, lab = (np.asarray(x, dtype=np.int64) for x in (start, end, label))
    names = pa.array(label_json(labels), type=pa.large_string())
    piece = pc.binary_join_element_wise(pc.cast(pa.array(s), pa.large_string()),
                                        pc.cast(pa.array(e), pa.large_string()), names.take(pa.array(lab)),
                                        pa.scalar(",", pa.large_string()))
    lists = pa.LargeListArray.from_arrays(pa.array(np.r_[0, np.cumsum(cnt)], type=pa.int64()), piece)
    body = pc.binary_join(lists, pa.scalar("],[", pa.large_string()))
    wrap = [pa.scalar(x, pa.large_string()) for x in ("[[", "]]", "")]
    text = pc.binary_join_element_wise(wrap[0], body, wrap[1], wrap[2])
    out: npt.NDArray[np.object_] = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
    out[cnt == 0] = "[]"
    return out


def row_spans(category: npt.ArrayLike, parsed: ParsedSpans) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """(row, start, end, label) of every span of every row, where row i holds the text ``category[i]``."""
    cat = np.asarray(category, dtype=np.int64)
    cnt = parsed.count[cat] if parsed.count.size else np.zeros(cat.size, dtype=np.int64)
    row = np.repeat(np.arange(cat.size), cnt)
    pos = np.repeat(parsed.first[cat] - (np.cumsum(cnt) - cnt), cnt) + np.arange(row.size)
    return row, parsed.start[pos], parsed.end[pos], parsed.label[pos]


def _canonical_one(text: str, order: dict[str, int]) -> str:
    """``decide_kinds.canonical`` for one span text (the path for texts not in canonical form)."""
    data = sorted(json.loads(text), key=lambda s: (s[0], s[1], order.get(s[2], len(order)), s[2]))
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def canonical_span_array(distinct: pa.Array, labels: Sequence[str],
                         canonical: tuple[ParsedSpans, BoolArray] | None = None) -> tuple[pa.Array, ParsedSpans | None]:
    """``decide_kinds.canonical`` of each of the distinct span texts, parsed once, only unsorted or non-canonical
    ones rewritten; when every text is canonical already the result is ``distinct`` itself (as large strings),
    returned with its parse, else the parse is ``None``. ``canonical``: :func:`parse_canonical` of the texts,
    when the caller has it (:class:`CategoryParse`)."""
    parsed, fast = parse_with_form(distinct, labels, canonical)
    text_of = np.repeat(np.arange(parsed.count.size), parsed.count)
    order = lex_order(text_of, parsed.start, parsed.end, parsed.label)
    moved = np.bincount(text_of[order != np.arange(order.size)], minlength=fast.size) > 0
    rewrite, slow = np.flatnonzero(moved & fast), np.flatnonzero(~fast)
    arr = distinct if distinct.type == pa.large_string() else distinct.cast(pa.large_string())
    if not rewrite.size and not slow.size:
        return arr, parsed
    out = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=object)
    if rewrite.size:
        keep = np.isin(text_of[order], rewrite)
        o = order[keep]
        out[rewrite] = spans_text(parsed.count[rewrite], parsed.start[o], parsed.end[o], parsed.label[o], labels)
    index = {lab: k for k, lab in enumerate(labels)}
    out[slow] = [_canonical_one(str(t), index) for t in out[slow]]
    return pa.array(out, type=pa.large_string()), None


def canonical_span_texts(distinct: pa.Array, labels: Sequence[str]) -> npt.NDArray[np.object_]:
    """:func:`canonical_span_array` as Python strings."""
    return np.asarray(canonical_span_array(distinct, labels)[0].to_numpy(zero_copy_only=False), dtype=object)


def canonical_spans(values: pd.Series, labels: Sequence[str]) -> pd.Series:
    """``decide_kinds.canonical`` for a spans task (spans sorted by start, end, label order; compact JSON), equal
    text for text, each distinct value parsed once and only unsorted or non-canonical ones rewritten."""
    if values.empty:
        return values.astype(object)
    enc = pc.dictionary_encode(pa.array(values.to_numpy(dtype=object), type=pa.large_string()))
    out = canonical_span_texts(enc.dictionary, labels)
    codes = enc.indices.to_numpy(zero_copy_only=False)
    return pd.Series(out[codes], index=values.index, dtype=object)
