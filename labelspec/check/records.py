"""Row accounting: which judgments are used and why every other one is excluded.

Applies the per-record contract of ``spec/records.py`` to every row, vectorised (choice values by set membership,
structured values once per distinct value), then the dataset-level checks a single record cannot know: unknown item,
duplicate judgment, annotator not in the roster, judged before passing calibration, span offsets beyond the item
text, a step the item's trajectory does not have. Nothing is dropped silently: each excluded row keeps its file,
line, reason and detail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from labelspec.check.coded import (
    CODED,
    arrow_take,
    category_mask,
    codes_of,
    compact,
    equals,
    per_row,
    repeated,
    replace_category,
    string_offsets,
    take_rows,
    text_of,
)
from labelspec.check.context import Context, lengths_of
from labelspec.check.ordering import group_order, stable_order
from labelspec.check.read_common import clip, clip_texts
from labelspec.check.readers import FileInfo
from labelspec.check.span_records import span_value_checks
from labelspec.check.span_table import CategoryParse
from labelspec.check.step_records import step_out_of_range
from labelspec.spec.model import Spec, Task
from labelspec.spec.records import (
    LEAD_TIME_RE,
    TIMESTAMP_RE,
    required_fields,
    valid_timestamp,
    value_problems,
)

#: Exclusion reasons, in report order. Stable strings: reports and tests use them.
REASONS: tuple[str, ...] = (
    "missing_field", "unknown_task", "unit_mismatch", "invalid_value", "bad_timestamp", "bad_lead_time",
    "unknown_item", "annotator_not_in_roster", "not_calibrated", "before_calibration", "span_out_of_bounds",
    "step_out_of_range", "duplicate_judgment",
)
EXCLUSION_COLUMNS = ["file", "line", "reason", "detail"]


@dataclass(frozen=True)
class Accounting:
    """Used rows (annotator and expert judgments apart) plus every exclusion with its reason."""

    used: pd.DataFrame
    expert: pd.DataFrame
    exclusions: pd.DataFrame
    rows_read: int
    #: Records the readers saw and never read as judgments, by kind (Label Studio predictions and drafts).
    not_judgments: dict[str, int] = field(default_factory=dict)
    #: ``used`` grouped by its item codes (``ordering.group_order``: the order and the offsets of every item
    #: category), when the duplicate check grouped exactly these rows; ``None`` otherwise. The analysis takes
    #: its units' grouping from it instead of sorting the judgments again (10M rows: ~0.7 s).
    by_item: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False, compare=False)
    #: Per spans task, the parse of the value categories the record checks read (``span_table.CategoryParse``),
    #: for the task's parse (``task_parse.TaskParses``), which then parses only what it lacks.
    span_parses: dict[str, CategoryParse] = field(default_factory=dict, repr=False, compare=False)
    #: The label files read, with the sha256 and size of the bytes parsed (``readers.FileInfo``), in order.
    files: tuple[FileInfo, ...] = ()

    @property
    def excluded_by_reason(self) -> dict[str, int]:
        counts = self.exclusions["reason"].value_counts()
        return {str(k): int(v) for k, v in sorted(counts.items())}


class _Marker:
    """Collects the first exclusion reason of each row (later checks never overwrite an earlier reason).

    One int8 per row (0: used) and, per mark, only the rows it excluded with their details: no per-row text."""

    def __init__(self, n: int) -> None:
        self.code = np.zeros(n, dtype=np.int8)
        self.reasons: list[str] = [""]
        self.rows: list[np.ndarray] = []
        self.details: list[np.ndarray] = []

    def mark(self, mask: np.ndarray, reason: str, detail: np.ndarray | str | Callable[[np.ndarray], np.ndarray]
             ) -> None:
        """Exclude the rows of ``mask`` not excluded yet; ``detail`` is one text, one per row, or a function
        giving the texts of the excluded rows (so that nothing per row is built for the valid ones)."""
        if not mask.any():  # the usual answer of a check: no pass over the rows' codes
            return
        rows = np.flatnonzero(mask & (self.code == 0))
        if rows.size == 0:
            return
        if reason not in self.reasons:
            self.reasons.append(reason)
        self.code[rows] = self.reasons.index(reason)
        self.rows.append(rows)
        if isinstance(detail, str):
            self.details.append(repeated(rows.size, detail))
        else:
            self.details.append(detail(rows) if callable(detail) else detail[rows])

    @property
    def ok(self) -> np.ndarray:
        return np.asarray(self.code == 0, dtype=bool)

    def excluded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, reasons, details) of the excluded rows, in row order."""
        if not self.rows:
            return np.zeros(0, np.int64), np.zeros(0, dtype=object), np.zeros(0, dtype=object)
        rows = np.concatenate(self.rows)
        order = np.argsort(rows, kind="stable")
        names = np.array(self.reasons, dtype=object)
        return rows[order], names[self.code[rows[order]]], np.concatenate(self.details)[order]


def _category_problems(task: Task, value_codes: np.ndarray, categories: pd.Index
                       ) -> tuple[np.ndarray, np.ndarray | None, CategoryParse | None]:
    """Problem text per value category ('' when valid or unused), evaluated once per category in use; for spans
    also how far each valid category's spans reach (for ``span_out_of_bounds``), from the same parse, and that
    parse (the task's parse takes it up)."""
    out = repeated(len(categories), "")
    reach = np.zeros(len(categories), dtype=np.int64) if task.kind == "spans" else None
    if len(value_codes) == 0:
        return out, reach, None
    distinct, _ = compact(value_codes, len(categories))
    parse = None
    if reach is not None:  # the bulk span parser (same messages as value_problems), on the Arrow texts
        out[distinct], reach[distinct], canonical = span_value_checks(task, arrow_take(categories, distinct))
        parse = CategoryParse(categories, distinct, *canonical)
    else:
        out[distinct] = ["; ".join(value_problems(task, str(v))) for v in text_of(categories, distinct)]
    out[distinct] = clip_texts(out[distinct])  # a detail quoting a 200 KB label is cut: counted, not printed
    return out, reach, parse


def _problems_of(per_category: np.ndarray, codes: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The details of excluded rows, looked up by their category only when :meth:`_Marker.mark` needs them."""
    return lambda rows: per_category[codes[rows]]


def _may_equal(df: pd.DataFrame, field: str, text: str) -> bool:
    """False when no row of ``field`` can be ``text`` (a coded field without that category); True otherwise."""
    if field not in CODED:
        return True
    _, cats = codes_of(df, field)
    return bool((cats == text).any())


def _only(df: pd.DataFrame, field: str, text: str) -> bool:
    """True when every row of ``field`` is ``text`` (a coded field whose one category it is, or no row)."""
    if field not in CODED:
        return bool(equals(df, field, text).all())
    _, cats = codes_of(df, field)
    return len(df) == 0 or (len(cats) == 1 and cats[0] == text)


def _record_checks(spec: Spec, df: pd.DataFrame, marker: _Marker
                   ) -> tuple[dict[str, np.ndarray], dict[str, CategoryParse]]:
    """The record contract; returns, per spans task, how far each value category's spans reach, and the parse
    of the value categories that told it."""
    n = len(df)
    reaches: dict[str, np.ndarray] = {}
    parses: dict[str, CategoryParse] = {}
    # each check is decided per category first: rows are only spread and marked where some category fails (at
    # 10M valid judgments, every 10M-row mask of "no row" was fresh memory and a pass, ~0.15 s in all)
    for name in required_fields(spec):
        if _may_equal(df, name, ""):
            marker.mark(equals(df, name, ""), "missing_field", f"missing {name}")
    task_codes, task_cats = codes_of(df, "task")
    known = category_mask(task_cats, spec.task_names)
    if n and not known.all():
        named = np.array([clip(f"unknown task {t!r}") for t in np.asarray(task_cats, dtype=object)], dtype=object)
        marker.mark(~known[task_codes], "unknown_task", named[task_codes])
    value_codes, value_cats = codes_of(df, "value")
    empty_value = np.asarray(value_cats == "", dtype=bool)
    for task in spec.tasks:
        rows = equals(df, "task", task.name)
        step = task.unit == "step"
        if _may_equal(df, "unit", "") if step else not _only(df, "unit", ""):
            no_unit = equals(df, "unit", "")
            marker.mark(rows & (no_unit if step else ~no_unit), "unit_mismatch",
                        "missing unit (this task is judged per step)" if step else
                        "unit given for a task judged per item")
        if empty_value.any():
            rows &= ~per_row(df, "value", empty_value)
        every = bool(rows.all()) if n else False
        problems, reach, parse = _category_problems(task, value_codes if every else value_codes[rows], value_cats)
        failing = problems != ""
        if n and failing.any():
            marker.mark(rows & failing[value_codes], "invalid_value", _problems_of(problems, value_codes))
        if reach is not None:
            reaches[task.name] = reach
        if parse is not None:
            parses[task.name] = parse
    _timestamp_checks(df, marker)
    return reaches, parses


def _timestamp_checks(df: pd.DataFrame, marker: _Marker) -> None:
    if _all_empty(df["timestamp"]) and _all_empty(df["lead_time"]):
        return
    ts = df["timestamp"].astype("string")
    ts_bad = (ts != "") & ~ts.str.fullmatch(TIMESTAMP_RE.pattern).fillna(False)  # `$` alone lets "…Z\n" in
    parsed = pd.to_datetime(ts.where(~ts_bad & (ts != "")), format="ISO8601", utc=True, errors="coerce")
    # pandas' nanosecond range ends in 2262 and it takes year 0: decide those rare rows by the record contract
    unsure = ((ts != "") & ~ts_bad & (parsed.isna() | (parsed.dt.year < 1))).to_numpy(dtype=bool)
    ts_bad = ts_bad.to_numpy(dtype=bool)
    ts_bad[unsure] = [not valid_timestamp(t) for t in ts[unsure].to_numpy(dtype=object)]
    marker.mark(ts_bad, "bad_timestamp", "timestamp is not ISO 8601 with a timezone")
    lt = df["lead_time"].astype("string")
    lt_bad = (lt != "") & ~lt.str.fullmatch(LEAD_TIME_RE.pattern).fillna(False)
    # the value is shown: a Parquet float's text (1e-07, -0) is why such a row is excluded
    marker.mark(lt_bad.to_numpy(dtype=bool), "bad_lead_time",
                _naming(df, "lead_time", "lead_time {} is not a non-negative number of seconds"))


def _all_empty(column: pd.Series) -> bool:
    """No value in the column (absent optional fields), and some row not null: no hashing, no copy. Text with no
    bytes at all (an absent field of 10M rows) is told from its offsets alone, without a pass over the rows."""
    if len(column) == 0:
        return True
    arr = pa.array(column)  # the column's own Arrow buffers (Arrow-backed text: no copy)
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    if all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunks):
        nonempty = [c for c in chunks if len(c)]
        if sum(_text_bytes(c) for c in nonempty) == 0:  # every row: 0 bytes
            return any(c.null_count < len(c) for c in nonempty)  # as the pass below: all null is no answer
    longest = pc.max(pc.binary_length(arr))  # Arrow's kernel on the column's own buffers
    return bool(longest.as_py() == 0)


def _text_bytes(chunk: pa.Array) -> int:
    """Bytes of text spanned by a (large) string array's rows, from its offsets buffer (its slice's ends)."""
    offsets = string_offsets(chunk)
    return int(offsets[-1]) - int(offsets[0])


def _annotator_mask(df: pd.DataFrame, allowed: object) -> np.ndarray:
    _, cats = codes_of(df, "annotator")
    return per_row(df, "annotator", category_mask(cats, allowed))


def _roster_checks(spec: Spec, df: pd.DataFrame, ctx: Context, marker: _Marker, when: pd.Series) -> None:
    if ctx.roster is None:
        return
    known = _annotator_mask(df, ctx.roster)
    marker.mark(~known & ~equals(df, "annotator", ""), "annotator_not_in_roster",
                _naming(df, "annotator", "annotator {} is not in the roster"))
    if "calibration" not in spec.quality.provenance:
        return
    passed = [a for a, r in ctx.roster.items() if r.passed and r.role == "annotator"]
    cal = pd.Series({a: ctx.roster[a].calibrated_at for a in passed}, dtype="datetime64[ns, UTC]")
    experts = _annotator_mask(df, [a for a, r in ctx.roster.items() if r.role == "expert"])
    codes, cats = codes_of(df, "annotator")
    by_category = cal.reindex(np.asarray(cats, dtype=object))  # one lookup per annotator, spread by codes
    passed_at = pd.Series(by_category.to_numpy()[codes], index=when.index, dtype=cal.dtype)
    undated = _annotator_mask(df, [a for a in passed if ctx.roster[a].calibrated_at is None])
    marker.mark(known & ~experts & undated, "not_calibrated",
                "the roster records a pass without calibrated_at: when it happened is unknown")
    marker.mark(known & ~experts & passed_at.isna().to_numpy(), "not_calibrated",
                "annotator has not passed calibration")
    before = (when < passed_at).fillna(False).to_numpy(dtype=bool)
    marker.mark(before & ~experts, "before_calibration", "judged before the annotator passed calibration")
    # a judgment without a time cannot be shown to come after the calibration: not taken on trust
    marker.mark(when.isna().to_numpy() & ~experts, "before_calibration",
                "no timestamp: not shown to be after the annotator's calibration")


def _item_checks(df: pd.DataFrame, ctx: Context, marker: _Marker) -> None:
    """Items that are not in the items file."""
    if ctx.items is None:
        return
    _, item_cats = codes_of(df, "item")
    rows = ctx.items.positions(item_cats)  # kept for the spans' text lengths (``_span_bounds``)
    known = rows >= 0 if rows is not None else category_mask(item_cats, ctx.items.ids)
    marker.mark(~per_row(df, "item", known) & ~equals(df, "item", ""), "unknown_item",
                _naming(df, "item", "item {} is not in the items file"))


def _naming(df: pd.DataFrame, name: str, template: str) -> Callable[[np.ndarray], np.ndarray]:
    """Details naming each excluded row's ``name`` (a roster or items file may miss thousands: text is built once
    per distinct id, and only for the excluded rows)."""

    def detail(rows: np.ndarray) -> np.ndarray:
        codes, cats = codes_of(df, name)
        distinct, back = np.unique(codes[rows], return_inverse=True)
        texts = np.array([clip(template.format(repr(str(v)))) for v in text_of(cats, distinct)], dtype=object)
        out: np.ndarray = texts[back]
        return out

    return detail


def _span_bounds(spec: Spec, df: pd.DataFrame, ctx: Context, marker: _Marker, reaches: dict[str, np.ndarray]
                 ) -> None:
    """Spans reaching beyond their item's text (``reaches``: from :func:`_record_checks`)."""
    if ctx.items is None:
        return
    item_codes, item_cats = codes_of(df, "item")
    value_codes, _ = codes_of(df, "value")
    for task in spec.tasks:
        if task.kind != "spans" or task.field is None:
            continue
        rows = np.flatnonzero(marker.ok & equals(df, "task", task.name))
        if rows.size == 0:
            continue
        length = lengths_of(ctx.items.text_lengths(task.field), item_cats)[item_codes[rows]]
        reach = reaches[task.name][value_codes[rows]]
        bad = np.zeros(len(df), dtype=bool)
        bad[rows] = reach > length
        marker.mark(bad, "span_out_of_bounds", _bounds_detail(rows, reach, length, task.field))


def _bounds_detail(rows: np.ndarray, reach: np.ndarray, length: np.ndarray, field: str
                   ) -> Callable[[np.ndarray], np.ndarray]:
    """Where the furthest span of each excluded row ends, and the length of the text it should stay within."""
    def detail(excluded: np.ndarray) -> np.ndarray:
        at = np.searchsorted(rows, excluded)  # the marker passes a sorted subset of ``rows``
        text = ("a span ends at character " + pd.Series(reach[at]).astype(np.int64).astype(str)
                + ", beyond the " + pd.Series(length[at]).astype(np.int64).astype(str)
                + f" characters of item field {field!r}")
        return np.asarray(text.to_numpy(dtype=object), dtype=object)
    return detail


def _step_checks(spec: Spec, df: pd.DataFrame, ctx: Context, marker: _Marker) -> None:
    """Per-step units and attribution steps outside 1..N of the item's steps list (``check.step_records``)."""
    if ctx.items is None:
        return
    for bad, details in step_out_of_range(spec, df, ctx.items, marker.ok):
        marker.mark(bad, "step_out_of_range", details)


#: The fields of a judgment's identity; duplicates share all of them.
JUDGMENT_KEY = ("annotator", "item", "unit", "task")


def _judgment_key(df: pd.DataFrame, rows: np.ndarray | None, fields: tuple[str, ...] = JUDGMENT_KEY
                  ) -> tuple[np.ndarray, int]:
    """One integer per row of ``rows`` (None: every row) that is equal exactly when the rows' ``fields`` are, and
    the key space (all keys are below it).

    Mixed-radix over the fields' codes (int64); when the product of their category counts could overflow, the
    partial key is renumbered (hashing) before the next field is mixed in. A field with one category adds
    nothing; when only one field varies, its codes are the key as they are (no 10M-row int64 copy).
    """
    every = rows is None or len(rows) == len(df)  # rows are all rows (nothing excluded yet): no gathers
    varying = [(codes, len(cats)) for codes, cats in (codes_of(df, name) for name in fields) if len(cats) > 1]
    if len(varying) == 1:
        codes, radix = varying[0]
        return (codes if every else codes[rows]), radix
    key = np.zeros(len(df) if rows is None else len(rows), dtype=np.int64)
    space = 1
    for codes, radix in varying:
        if space * radix >= 1 << 62:
            key = pd.factorize(key)[0].astype(np.int64)
            space = int(key.max()) + 1 if len(key) else 1
        key *= radix  # in place: each new 10M-row array is memory the system must hand out again
        key += codes if every else codes[rows]
        space *= radix
    return key, space


#: Items judged at most this many times are searched for duplicates by comparing neighbours within the item.
_SMALL_ITEM = 8


def _surely_unique(key: np.ndarray, by_item: tuple[np.ndarray, np.ndarray]) -> bool:
    """True when no two rows are the same judgment, proved without sorting keys (the usual case).

    Duplicates share an item, so with the rows grouped by item (``by_item``) and every item having at most
    :data:`_SMALL_ITEM` rows, each row's ``key`` (its identity within the item: annotator, unit, task) is
    compared with the few before it in its item. False means "maybe": the full sort decides (and also says
    which rows are the duplicates)."""
    order, offsets = by_item
    sizes = np.diff(offsets)
    largest = int(sizes.max()) if len(order) else 0
    if len(order) == 0 or largest > _SMALL_ITEM:
        return False
    grouped = take_rows(key, order)
    for j in range(1, largest):  # rows j apart with equal keys, then whether the two share an item (the key
        # leaves the item out): the few candidates are placed among the items' offsets, with no per-row item
        # number (a 10M-row array of them cost ~0.2 s, most of it fresh memory)
        first = np.flatnonzero(grouped[j:] == grouped[:-j])
        if first.size and bool((np.searchsorted(offsets, first, side="right")
                                == np.searchsorted(offsets, first + j, side="right")).any()):
            return False
    return True


def _duplicates(df: pd.DataFrame, marker: _Marker, origins: np.ndarray | None = None,
                grouped: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Marks repeated judgments; returns the rows grouped by item when it grouped every row of ``df`` (one
    counting pass, kept for the analysis), else None. ``grouped``: every row of ``df`` grouped by item, made
    already (the reader's), used when no row is excluded yet."""
    every = bool(marker.ok.all())
    # None: every row (usual before any exclusion), without a 10M-row index array (~0.17 s of fresh memory)
    rows = None if every else np.flatnonzero(marker.ok)
    item, item_cats = codes_of(df, "item")
    if every and grouped is not None and len(grouped[0]) == len(df) and len(grouped[1]) == len(item_cats) + 1:
        by_item = grouped
    else:
        by_item = group_order(item if rows is None else item[rows], len(item_cats))
    del grouped
    kept = by_item if every else None
    # within an item, the other fields tell judgments apart (usually the annotator's codes alone: no key built)
    if _surely_unique(_judgment_key(df, rows, tuple(f for f in JUDGMENT_KEY if f != "item"))[0], by_item):
        return kept
    del by_item
    key, space = _judgment_key(df, rows)
    order = stable_order(key, space)  # equal keys keep row order: the first is the one kept
    sorted_key = key[order]
    starts = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
    if starts.all():  # no duplicate
        return kept
    first_of = order[np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))]
    dup = ~starts
    positions, firsts = order[dup], first_of[dup]
    if rows is not None:
        positions, firsts = rows[positions], rows[firsts]
    files = df["file"].iloc[firsts].to_numpy(dtype=object)
    lines = df["line"].to_numpy()[firsts]
    mask = np.zeros(len(df), dtype=bool)
    mask[positions] = True
    detail = repeated(len(df), "")
    first = [f"{files[f]}:{lines[f]}" for f in range(len(firsts))]
    if origins is not None:
        first = [f"{at}, {o}" if o else at for at, o in zip(first, origins[firsts], strict=True)]
    detail[positions] = [f"same annotator, item, unit and task as {at}" for at in first]
    marker.mark(mask, "duplicate_judgment", detail)
    return None


def account(spec: Spec, judgments: pd.DataFrame, ctx: Context, *, rows_read: int,
            reader_exclusions: pd.DataFrame, not_judgments: dict[str, int] | None = None,
            origins: np.ndarray | None = None, by_item: tuple[np.ndarray, np.ndarray] | None = None
            ) -> Accounting:
    """Split judgments into used rows and located exclusions; ``rows_read`` is what the readers saw.
    ``origins`` (one text per row, "" for none) is added to the detail of each row excluded here, and names
    the first of duplicates, where a line alone does not locate a row (a one-line Label Studio export).
    ``by_item``: the rows of ``judgments`` grouped by item code, when the reader has it (``Judgments.by_item``)."""
    df = judgments.reset_index(drop=True)
    if len(spec.tasks) == 1:
        if isinstance(df["task"].dtype, pd.CategoricalDtype):
            df["task"] = replace_category(df["task"], "", spec.tasks[0].name)
        else:
            df["task"] = df["task"].where(df["task"] != "", spec.tasks[0].name)
    marker = _Marker(len(df))
    reaches, parses = _record_checks(spec, df, marker)
    if _all_empty(df["timestamp"]):
        when = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns, UTC]")
    else:
        when = pd.to_datetime(df["timestamp"].where(marker.ok & (df["timestamp"] != "").to_numpy()),
                              format="ISO8601", utc=True, errors="coerce")
    # in the order of REASONS: a row gets the first reason that applies (docs/diagnostics.md)
    _item_checks(df, ctx, marker)
    _roster_checks(spec, df, ctx, marker, when)
    _span_bounds(spec, df, ctx, marker, reaches)
    _step_checks(spec, df, ctx, marker)
    by_item = _duplicates(df, marker, origins, by_item)
    ok = marker.ok
    rows, reasons, details = marker.excluded()
    if origins is not None and rows.size:
        details = np.array([f"{d} ({o})" if o else d for d, o in zip(details, origins[rows], strict=True)],
                           dtype=object)
    excluded = pd.DataFrame({"file": df["file"].iloc[rows].to_numpy(), "line": df["line"].to_numpy()[rows],
                             "reason": reasons, "detail": details})
    exclusions = pd.concat([reader_exclusions[EXCLUSION_COLUMNS], excluded], ignore_index=True)
    every = bool(ok.all())
    # a copy only when some rows go (10M rows: ~1 GiB; the times alone, 80 MB)
    used = _rows(df, ok).assign(when=when.array if every else when.array[ok])
    experts = _expert_mask(used, ctx)
    whole = every and not experts.any()  # used holds every row of df, in order: the grouping holds
    return Accounting(used=_rows(used, ~experts), expert=used[experts].reset_index(drop=True),
                      exclusions=exclusions, rows_read=rows_read, not_judgments=dict(not_judgments or {}),
                      by_item=by_item if whole else None, span_parses=parses)


def _rows(df: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """``df[keep]`` renumbered from 0; the frame itself (no copy under copy-on-write) when every row stays."""
    return df.reset_index(drop=True) if keep.all() else df[keep].reset_index(drop=True)


def _expert_mask(used: pd.DataFrame, ctx: Context) -> np.ndarray:
    if ctx.roster is None:
        return np.zeros(len(used), dtype=bool)
    return _annotator_mask(used, [a for a, r in ctx.roster.items() if r.role == "expert"])


def count_by(frame: pd.DataFrame, column: str) -> Mapping[str, int]:
    counts = frame[column].value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}
