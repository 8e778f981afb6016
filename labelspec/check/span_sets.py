"""The checked input of every span statistic: valid spans and the (unit, annotator) pairs that judged a unit.

One job: build a :class:`SpanSet` from flat integer arrays, refusing spans with a unit, label or offset problem
(overlaps are tolerated; see :mod:`labelspec.check.spans`). It computes no statistic and never sees text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from labelspec.check.estimate import IntArray
from labelspec.check.span_validate import basic_flags
from labelspec.check.taxonomy import distinct


@dataclass(frozen=True, slots=True)
class SpanSet:
    """Valid spans (one row each) and the (unit, annotator) pairs that judged a unit, sorted and unique."""

    unit: IntArray
    annotator: IntArray
    start: IntArray
    end: IntArray
    label: IntArray
    text_len: IntArray
    judged_unit: IntArray
    judged_annotator: IntArray
    n_labels: int
    n_annotators: int


def span_set(
    unit: npt.ArrayLike, annotator: npt.ArrayLike, start: npt.ArrayLike, end: npt.ArrayLike,
    label: npt.ArrayLike, *, text_len: npt.ArrayLike, n_labels: int,
    judged_unit: npt.ArrayLike = (), judged_annotator: npt.ArrayLike = (),
) -> SpanSet:
    """Check the spans (overlaps allowed) and add every span's (unit, annotator) to the judged pairs."""
    u, a, s, e, lab = (np.asarray(x, dtype=np.int64).reshape(-1)
                       for x in (unit, annotator, start, end, label))
    tl = np.asarray(text_len, dtype=np.int64)
    if not (u.size == a.size == s.size == e.size == lab.size) or np.any(a < 0):
        raise ValueError("span arrays must have one length and annotators must be non-negative")
    if np.any(basic_flags(u, s, e, lab, text_len=tl, n_labels=n_labels)):
        raise ValueError("invalid spans (unit, label or offsets); drop what validate_spans flags first")
    ju, ja = (np.r_[np.asarray(j, dtype=np.int64), x] for j, x in ((judged_unit, u), (judged_annotator, a)))
    if ju.size != ja.size or np.any((ju < 0) | (ju >= tl.size) | (ja < 0)):
        raise ValueError("judged_unit and judged_annotator must be matching in-range arrays")
    n_ann = int(ja.max(initial=-1)) + 1
    judged = distinct(ju * max(n_ann, 1) + ja)  # sorted by (unit, annotator), as the statistics expect
    return SpanSet(u, a, s, e, lab, tl, judged // max(n_ann, 1), judged % max(n_ann, 1), n_labels, n_ann)
