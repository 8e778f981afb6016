"""One spans or ranking task's judgments canonicalised, coded and (spans) parsed once per check run.

One job: turn a structured task's used rows into canonical values, integer codes and, for spans, the span set
and both matchings, once, and hand the same :class:`ParsedTask` to agreement, consensus and hotspots through
:class:`TaskParses`, which one check run owns and passes along explicitly. Each distinct value is
canonicalised once, starting from the value codes the readers made. The gold-free rows that agreement measures
are a restriction of the whole task (:func:`restrict`), equal array for array to parsing those rows alone.
It computes no statistic and decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from labelspec.check.coded import arrow_take, codes_of, compact, sorted_categorical
from labelspec.check.decide_kinds import LABEL_CODED, KindInput, canonical, canonical_frame, encode_task
from labelspec.check.decide_structured import span_set_of
from labelspec.check.span_match import SpanMatches, both_matches
from labelspec.check.span_sets import SpanSet
from labelspec.check.span_table import CategoryParse, ParsedSpans, canonical_span_array, parse_spans
from labelspec.check.spans import FindingParts, finding_parts
from labelspec.check.tables import Codes, encode
from labelspec.spec.model import Adjudication, Task

#: Kinds whose judgments are parsed once per check through this module.
PARSED_KINDS = frozenset({"spans", "ranking"})
#: The judgment fields the stages read from a parsed task's frame.
FIELDS = ("item", "unit", "annotator", "value")


@dataclass
class ParsedTask:
    """A task's rows with canonical values, their codes and (spans tasks) every valid span of every row."""

    frame: pd.DataFrame  # the task's rows; ``value`` holds the canonical text (no longer the reader's codes)
    codes: Codes
    spans: SpanSet | None = None
    _matches: tuple[SpanMatches, SpanMatches] | None = field(default=None, repr=False)
    _findings: FindingParts | Future[FindingParts] | None = field(default=None, repr=False)
    _source: _Restriction | None = field(default=None, repr=False)

    def matches(self) -> tuple[SpanMatches, SpanMatches]:
        """The exact and the overlap matching of :attr:`spans`, found on first use and kept (a restriction's:
        its source's, found over the source once and restricted)."""
        if self.spans is None:
            raise ValueError("only a spans task has span matchings")
        if self._matches is None:
            if self._source is not None:
                exact, overlap = self._source.task.matches()
                stay = self._source.stay
                self._matches = (_restrict_matches(exact, stay), _restrict_matches(overlap, stay))
            else:
                self._matches = both_matches(self.spans)
        return self._matches

    def findings(self) -> FindingParts:
        """The boundary and type disagreements of :attr:`spans` (overlap matching), found on first use (a
        restriction's: its source's, restricted)."""
        if self.spans is None:
            raise ValueError("only a spans task has span findings")
        if self._findings is None:
            if self._source is not None:
                self._findings = self._source.task.findings().restrict(self._source.unit_new)
            else:
                self._findings = finding_parts(self.spans, matches=self.matches()[1])
        elif isinstance(self._findings, Future):
            self._findings = self._findings.result()
        return self._findings

    def find_beside(self, pool: Executor) -> None:
        """Match now (on this thread) and find the disagreements on ``pool``'s thread meanwhile: at 1M span
        judgments ~0.3 s the check's own thread then spends on the restriction and the F1 denominators instead,
        while the consensus thread, its fit done, is idle. :meth:`findings` waits for them."""
        if self.spans is None:
            raise ValueError("only a spans task has span findings")
        if self._findings is None and self._source is None:
            self._findings = pool.submit(finding_parts, self.spans, matches=self.matches()[1])


@dataclass(frozen=True)
class _Restriction:
    """Where a restricted spans task came from: the whole ``task``, which of its spans stayed (``stay``) and each
    of its units' new number (``unit_new``, -1: gone). A matching never crosses units, so the restriction's
    matchings and findings are the whole's, restricted: found once over every unit (the hotspots read the
    whole's), whenever first asked for."""

    task: ParsedTask
    stay: np.ndarray
    unit_new: np.ndarray


def _canonical_codes(task: Task, frame: pd.DataFrame, known: CategoryParse | None = None
                     ) -> tuple[np.ndarray, pa.Array, ParsedSpans | None]:
    """(N,) code of each row's canonical value among the sorted distinct canonical values, those values and
    (spans, when every value was canonical already) their parse. ``known``: the accounting's parse of the value
    categories, used when it holds every category these rows use."""
    value_codes, value_cats = codes_of(frame, "value")
    present, rank = compact(value_codes, len(value_cats))
    raw = arrow_take(value_cats, present)  # the readers' Arrow-backed categories: no Python string per value
    if not isinstance(raw, pa.Array):
        raw = pa.array(np.asarray(raw, dtype=object), type=pa.large_string())
    if task.kind == "spans":
        found = known.of(value_cats, present) if known is not None else None
        canon, parsed = canonical_span_array(raw, task.label_ids, found)
        if parsed is not None:  # the value categories are sorted and distinct: so are these, unchanged
            return rank, canon, parsed
    else:
        obj = raw.to_numpy(zero_copy_only=False)
        canon = pa.array(canonical(task, pd.Series(obj, dtype=object)).to_numpy(dtype=object), pa.large_string())
    cat = sorted_categorical(canon)  # code point order, as ``encode_task`` sorts
    names = pa.array(np.asarray(cat.categories, dtype=object), pa.large_string())
    return np.asarray(cat.codes, dtype=np.int64)[rank], names, None


def parse_task(task: Task, frame: pd.DataFrame, lengths: dict[str, int], known: CategoryParse | None = None
               ) -> ParsedTask:
    """What ``canonical_frame`` + ``encode_task`` (+ ``span_set_of``) give, each distinct value handled once.

    Only the columns the stages read are kept (item, unit, annotator, value: coded as read). ``known``: the
    accounting's parse of the value categories (``records.Accounting.span_parses``), not parsed again."""
    frame = frame[[c for c in FIELDS if c in frame.columns]]
    if frame.empty:
        canon = canonical_frame(task, frame)
        codes = encode_task(task, canon)
        categories, parsed = pa.array(list(codes.categories), type=pa.large_string()), None
    else:
        category, categories, parsed = _canonical_codes(task, frame, known)
        names = categories.to_pylist()
        text = np.asarray(names, dtype=object)[category] if names else np.zeros(0, dtype=object)
        canon = frame.assign(value=pd.Series(text, index=frame.index, dtype=object))
        codes = encode(canon, tuple(names), category_of=category)
    if task.kind != "spans":
        return ParsedTask(canon, codes)
    inp = KindInput(task, canon, codes, {}, Adjudication(), lengths)
    parsed = parse_spans(categories, task.label_ids) if parsed is None else parsed
    return ParsedTask(canon, codes, span_set_of(inp, parsed))


def _ranks(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The codes that occur (sorted) and a (size,) map from old code to new code (−1: gone)."""
    present = np.flatnonzero(np.bincount(values, minlength=size) > 0)
    new = np.full(size, -1, dtype=np.int64)
    new[present] = np.arange(present.size)
    return present, new


def _restrict_codes(codes: Codes, keep_unit: np.ndarray) -> tuple[Codes, np.ndarray, np.ndarray, np.ndarray]:
    """Codes of the rows of the kept units, renumbered among what they use (as encoding them alone would)."""
    rows = keep_unit[codes.unit]
    n_units, n_ann, n_cat = codes.shape
    units, unit_new = _ranks(codes.unit[rows], n_units)
    anns, ann_new = _ranks(codes.annotator[rows], n_ann)
    cats, cat_new = _ranks(codes.category[rows], n_cat)
    names = np.asarray(codes.categories, dtype=object)[cats].tolist() if n_cat else []
    out = Codes(unit=unit_new[codes.unit[rows]], annotator=ann_new[codes.annotator[rows]],
                category=cat_new[codes.category[rows]], annotators=codes.annotators[anns], categories=tuple(names),
                unit_lookup=_restrict_lookup(codes, unit_new), **codes.unit_fields(units))
    return out, rows, unit_new, ann_new


def _restrict_lookup(codes: Codes, unit_new: np.ndarray) -> tuple[pa.Array, np.ndarray] | None:
    """The item lookup of restricted codes: the same categories, each pointing at its renumbered unit."""
    if codes.unit_lookup is None:
        return None
    texts, unit_of = codes.unit_lookup
    if unit_new.size == 0:  # no units (a task without a usable judgment): every category points nowhere
        return texts, np.full(len(unit_of), -1, dtype=unit_of.dtype)
    return texts, np.where(unit_of >= 0, unit_new[np.maximum(unit_of, 0)], -1).astype(unit_of.dtype)


def _restrict_spans(sp: SpanSet, unit_new: np.ndarray, ann_new: np.ndarray) -> tuple[SpanSet, np.ndarray]:
    """The spans of the kept units (unit and annotator renumbered; order kept) and which spans stayed."""
    stay = unit_new[sp.unit] >= 0
    judged = unit_new[sp.judged_unit] >= 0
    n_ann = int(ann_new.max(initial=-1)) + 1
    kept_units = np.flatnonzero(unit_new >= 0)
    out = SpanSet(unit_new[sp.unit[stay]], ann_new[sp.annotator[stay]], sp.start[stay], sp.end[stay],
                  sp.label[stay], sp.text_len[kept_units], unit_new[sp.judged_unit[judged]],
                  ann_new[sp.judged_annotator[judged]], sp.n_labels, n_ann)
    return out, stay


def _restrict_matches(m: SpanMatches, stay: np.ndarray) -> SpanMatches:
    """Matches of kept spans (a matching never crosses units, so it is the kept units' own matching)."""
    new = np.cumsum(stay) - 1
    ok = stay[m.p]
    return SpanMatches(m.mode, new[m.p[ok]], new[m.q[ok]])


def restrict(parsed: ParsedTask, keep_unit: np.ndarray) -> ParsedTask:
    """The task restricted to the units ``keep_unit`` (U,) marks: equal to :func:`parse_task` of their rows.

    Its span matchings and findings are the whole's, restricted on first use (see :class:`_Restriction`): the
    whole's may still be being found (:meth:`ParsedTask.find_beside`)."""
    codes, rows, unit_new, ann_new = _restrict_codes(parsed.codes, np.asarray(keep_unit, dtype=bool))
    frame = parsed.frame[rows]
    if parsed.spans is None:
        return ParsedTask(frame, codes)
    sset, stay = _restrict_spans(parsed.spans, unit_new, ann_new)
    return ParsedTask(frame, codes, sset, _source=_Restriction(parsed, stay, unit_new))


def task_codes(task: Task, frame: pd.DataFrame, lengths: dict[str, int], parses: TaskParses | None = None,
               lent: Codes | None = None) -> ParsedTask:
    """A task's rows with canonical values and their codes, for consensus and hotspots: spans and ranking tasks
    from ``parses`` (parsed once per check run), others canonicalised here and coded by ``lent`` (the task's
    label codes from its analysis, when they fit these rows) or anew."""
    if task.kind in PARSED_KINDS:
        return (parses or TaskParses()).get(task, frame, lengths)
    frame = canonical_frame(task, frame)
    fits = lent is not None and task.kind in LABEL_CODED and len(lent.unit) == len(frame)
    return ParsedTask(frame, lent if fits and lent is not None else encode_task(task, frame))


class TaskParses:
    """The parsed spans and ranking tasks of one check run: created by the run, handed to its stages.

    A task is parsed on first request; a later request with other rows (another length or index) parses anew.
    ``known``: the accounting's parses of spans tasks' value categories (``records.Accounting.span_parses``),
    each taken up by the task's first parse and then let go.
    """

    def __init__(self, known: Mapping[str, CategoryParse] | None = None, *, side: Executor | None = None) -> None:
        self._by_task: dict[str, ParsedTask] = {}
        self._known: dict[str, CategoryParse] = dict(known or {})
        #: A thread for work that may run beside the caller's (a check run's consensus thread), or None.
        self.side = side

    def get(self, task: Task, frame: pd.DataFrame, lengths: dict[str, int]) -> ParsedTask:
        got = self._by_task.get(task.name)
        if got is None or len(got.frame) != len(frame) or not got.frame.index.equals(frame.index):
            got = self._by_task[task.name] = parse_task(task, frame, lengths, self._known.pop(task.name, None))
        return got
