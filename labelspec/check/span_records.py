"""Bulk versions of the per-record span checks: the record contract and the offsets-beyond-text check.

One job: answer, for many distinct span texts at once, what ``spec.records.value_problems`` answers for one
(the same text for every value: the fast parse accepts the valid canonical ones, every other value is handed
to ``value_problems`` itself) and how far each value's spans reach (for ``span_out_of_bounds``). It never sees
rows, files or items; ``check.records`` applies the results.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from labelspec.check.coded import repeated
from labelspec.check.estimate import IntArray
from labelspec.check.span_table import BoolArray, ParsedSpans, Texts, parse_canonical, parse_with_form
from labelspec.check.taxonomy import lex_order
from labelspec.spec.model import Task
from labelspec.spec.records import value_problems


def _text_of_span(count: IntArray) -> IntArray:
    return np.repeat(np.arange(count.size), count)


def span_value_problems(task: Task, texts: Sequence[str] | npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """``"; ".join(value_problems(task, t))`` for every text ('' when valid), the slow way only for the rest."""
    return span_value_checks(task, texts)[0]


def span_value_checks(task: Task, texts: Sequence[str] | npt.NDArray[np.object_] | pa.Array
                      ) -> tuple[npt.NDArray[np.object_], IntArray, tuple[ParsedSpans, BoolArray]]:
    """:func:`span_value_problems` and, for the valid texts, :func:`span_max_ends` (0 for the invalid ones),
    from one parse, which is returned too (:func:`parse_canonical`'s: the task's parse reuses it): the readers
    hand over canonical list cells, so the fast parse usually covers every text. Arrow texts are parsed from
    their buffers; only the texts that need the slow path become Python strings."""
    arrow = isinstance(texts, pa.Array)
    n = len(texts)
    out = repeated(n, "")
    parsed, fast = parse_canonical(texts if arrow else np.asarray(texts, dtype=object), task.label_ids)
    if n == 0:
        return out, np.zeros(0, dtype=np.int64), (parsed, fast)
    text = _text_of_span(parsed.count)
    ends = np.zeros(n, dtype=np.int64)
    np.maximum.at(ends, text, parsed.end)
    bad_span = (parsed.label < 0) | (parsed.start >= parsed.end)
    if not task.allow_nesting:  # sorted by (start, end) within a text, a span must start at or after the last end
        o = lex_order(text, parsed.start, parsed.end)
        t, s, e = text[o], parsed.start[o], parsed.end[o]
        clash = np.zeros(o.size, dtype=bool)
        clash[1:] = (t[1:] == t[:-1]) & (s[1:] < e[:-1])
        bad_span[o[clash]] = True
    check = np.flatnonzero(~fast | (np.bincount(text[bad_span], minlength=n) > 0))
    if isinstance(texts, pa.Array):
        slow: npt.NDArray[np.object_] = np.empty(check.size, dtype=object)
        slow[:] = texts.take(pa.array(check)).to_pylist()
    else:
        slow = np.asarray(texts, dtype=object)[check]
    out[check] = ["; ".join(value_problems(task, str(v))) for v in slow]
    ends[check] = 0
    odd = out[check] == ""  # valid, not in canonical form: read the slow way
    if odd.any():
        ends[check[odd]] = span_max_ends(slow[odd], task.label_ids)
    return out, ends, (parsed, fast)


def span_max_ends(texts: Texts, labels: Sequence[str]) -> IntArray:
    """The largest span end of every text (0 for a text without spans): ``max((s[1] for s in json.loads(t)),
    default=0)`` for texts whose ends are not negative (every valid one)."""
    parsed = parse_with_form(texts, labels)[0]
    out = np.zeros(parsed.count.size, dtype=np.int64)
    np.maximum.at(out, _text_of_span(parsed.count), parsed.end)
    return out
