"""The judgments of the released rows: joined to their row by integer keys, sorted once, coded by distinct value.

One job: find each used judgment's (annotator's or expert's) released row (by the decisions' unit codes when they
have them, else by the key texts), sort them (row, time, annotator) stably, and keep every provenance column as
integer codes into its distinct values, with the per-distinct-value tables a row needs: the annotator's calibration
from the roster, the lead time (parsed as pandas parses the released judgments' column, so an all-integer column
stays integer), the source file. A value whose kind has several texts per meaning (JSON sets, spans, objects) is
recoded to the canonical text the consensus uses, so a judgment equal to its row's value reads the same. Nothing
here is per judgment in Python; building rows and text is ``release_table``'s and ``release_jsonl``'s job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from labelspec.check.coded import equals, string_offsets
from labelspec.check.context import Context, iso_utc
from labelspec.check.decide_kinds import CANONICALISED, canonical
from labelspec.check.ordering import group_order, stable_order
from labelspec.check.records import Accounting
from labelspec.check.span_table import canonical_span_array
from labelspec.spec.model import Task

KEYS = ["task", "item", "unit"]
JUDGMENT = pa.struct([("annotator", pa.string()), ("role", pa.string()), ("value", pa.string()),
                      ("timestamp", pa.string()), ("lead_time", pa.float64()), ("source", pa.string()),
                      ("calibration_score", pa.float64()), ("calibration_passed", pa.bool_()),
                      ("calibrated_at", pa.string())])
ROLES = pa.array(["annotator", "expert"], pa.string())


def strings(values: pd.Series | pd.Index) -> pa.Array:
    """A pandas column (object or string dtype) as one Arrow string array, NA as null."""
    array = pa.array(values, type=pa.string(), from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _all_empty_text(column: pd.Series) -> bool:
    """Whether an Arrow-backed text column holds "" in every one of its rows (at least one, none null: a null is
    a missing code here, unlike ``records``' test for an absent field), read from each chunk's first and last
    string offsets: no pass over the rows."""
    arrow_backed = isinstance(column.dtype, pd.ArrowDtype) or getattr(column.dtype, "storage", None) == "pyarrow"
    if not arrow_backed or not len(column):  # a categorical would be converted to ask (the file column)
        return False
    data = column.array.__arrow_array__()
    chunks = data.chunks if isinstance(data, pa.ChunkedArray) else [data]
    if data.null_count or not (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
        return False
    for chunk in chunks:
        offsets = string_offsets(chunk)
        if offsets[-1] != offsets[0]:
            return False
    return True


@dataclass(frozen=True)
class Coded:
    """A column as integer codes (-1: missing) into its distinct values."""

    codes: np.ndarray
    values: pd.Series
    missing: bool  # some code is -1

    @classmethod
    def of(cls, column: pd.Series) -> Coded:
        if _all_empty_text(column):  # an absent timestamp or lead time: 10M rows factorised in ~0.18 s each
            return cls(np.zeros(len(column), dtype=np.int32), pd.Series([""], dtype=column.dtype), False)
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        codes = np.asarray(codes, dtype=np.int32 if len(uniques) < 2 ** 31 else np.int64)  # half the memory
        return cls(codes, pd.Series(uniques, dtype=column.dtype), bool(codes.size and codes.min() < 0))

    def take(self, table: pa.Array, rows: np.ndarray) -> pa.Array:
        """``table[code]`` per judgment (``table`` holds one entry per distinct value); a missing value is null."""
        codes = self.codes[rows]
        return table.take(pa.array(codes, mask=codes < 0) if self.missing else codes)


@dataclass(frozen=True)
class Judgments:
    """Annotators' then experts' judgments; released row ``r`` has ``order[offsets[r]:offsets[r + 1]]``."""

    order: np.ndarray
    offsets: np.ndarray
    expert: np.ndarray  # int8 per judgment: 1 when from the expert frame
    annotator: Coded
    value: Coded
    timestamp: Coded
    lead_time: Coded
    file: Coded
    line: pd.Series


def _key_codes(units: pd.Series, judgments: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of the units' values and of the judgments' (-1: not among the units'), and how many there are.

    A Categorical judgment column (the readers' id columns) is looked up once per category, not per row."""
    encoded = pc.dictionary_encode(strings(units))

    def lookup(values: pd.Series | pd.Index) -> np.ndarray:
        found = pc.fill_null(pc.index_in(strings(values), value_set=encoded.dictionary), -1)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)

    if isinstance(judgments.dtype, pd.CategoricalDtype):
        codes = np.asarray(judgments.cat.codes, dtype=np.int64)
        of_category = np.append(lookup(judgments.cat.categories), -1)  # code -1 (missing) → -1
        found = of_category[codes]
    else:
        found = lookup(judgments)
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64), found, len(encoded.dictionary)


def rows_of(units: pd.DataFrame, judgments: pd.DataFrame) -> np.ndarray:
    """Each judgment's released row (-1: its unit is not released), by one int64 key over (task, item, unit)."""
    unit_key = np.zeros(len(units), dtype=np.int64)
    judgment_key = np.zeros(len(judgments), dtype=np.int64)
    span = 1  # keys so far are below this
    for col in KEYS:  # three key columns
        u_code, j_code, n = _key_codes(units[col], judgments[col])
        if span * max(n, 1) >= 2 ** 62:  # keep far inside int64: number the keys the units have
            distinct, unit_key = np.unique(unit_key, return_inverse=True)
            judgment_key, span = np.asarray(pd.Index(distinct).get_indexer(judgment_key)), len(distinct)
        judgment_key = np.where((judgment_key >= 0) & (j_code >= 0), judgment_key * n + j_code, -1)
        unit_key, span = unit_key * n + u_code, span * max(n, 1)
    return np.asarray(pd.Index(unit_key).get_indexer(judgment_key), dtype=np.int64)


def rows_by_units(units: pd.DataFrame, acc: Accounting, judgment_units: Mapping[str, np.ndarray | None]
                  ) -> np.ndarray | None:
    """:func:`rows_of` for the used judgments from each task's unit codes (``Decisions.judgment_units``): a gather
    per task instead of hashing every item id (~5 s at 10M judgments). None when some released task's codes are
    unknown, or with expert judgments (their units are not coded; :func:`rows_of` joins them)."""
    if not acc.expert.empty:
        return None
    names = units["task"].to_numpy(dtype=object)
    pos = units["pos"].to_numpy(dtype=np.int64)
    row = np.full(len(acc.used), -1, dtype=np.int64)
    for name in pd.unique(names):  # a loop over the released tasks
        unit_of = judgment_units.get(name)
        mine = np.flatnonzero(equals(acc.used, "task", name))  # the rows task_rows gave the decider, in order
        if unit_of is None or len(unit_of) != len(mine):
            return None
        released = np.flatnonzero(names == name)
        if (pos[released] < 0).any():  # a unit only an expert judged: no code
            return None
        table = np.full(max(int(pos[released].max()), int(unit_of.max(initial=-1))) + 1, -1, dtype=np.int64)
        table[pos[released]] = released
        row[mine] = table[unit_of]
    return row


def _when(column: pd.Series) -> np.ndarray:
    """Timestamps as int64 microseconds, NaT first (the smallest int64)."""
    stamps = pd.DatetimeIndex(pd.to_datetime(column, utc=True)).as_unit("us")
    return np.asarray(stamps.asi8, dtype=np.int64)


def _name_rank(annotator: Coded) -> np.ndarray:
    """Each judgment's annotator as its rank in sorted order (-1: missing), for sorting by name."""
    names = annotator.values.to_numpy(dtype=object, na_value="")
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(names, kind="stable")] = np.arange(len(names))
    return np.where(annotator.codes >= 0, rank[np.maximum(annotator.codes, 0)] if len(names) else 0, -1)


def by_row_time_name(row: np.ndarray, when: np.ndarray, name: np.ndarray, n_rows: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.lexsort((name, when, row))`` and the (n_rows + 1,) offsets of each row's positions in it.

    ``row``: non-negative, below ``n_rows``; ``when``: int64 with NaT as the smallest int64; ``name``: ranks,
    -1 for none. Time and name make one integer key; when row, time and name fit in one int64 beside the
    positions (files without timestamps, as most exports), one packed sort orders all three
    (``ordering.stable_order``); else the key is ordered stably by radix passes, then the positions
    are grouped by row with a counting sort (each stable, so the result is lexsort's permutation): at 10M
    judgments ~3 s instead of lexsort's ~5.5 s. Keys too wide for one int64 (times centuries apart) take lexsort.
    """
    nat = when == np.iinfo(np.int64).min
    valid = when[~nat]
    lo = int(valid.min()) if valid.size else 0
    n_times = int(valid.max()) - lo + 2 if valid.size else 1  # 0 is NaT, then microseconds from the earliest
    n_names = int(name.max()) + 2 if name.size else 1
    if n_times * n_names >= 1 << 62:
        order = np.lexsort((name, when, row))
        return order, np.searchsorted(row[order], np.arange(n_rows + 1))
    time = when - lo + 1  # wraps around on NaT, which is set to 0 next
    time[nat] = 0
    key = time * n_names + (name + 1)
    span = n_times * n_names
    if (max(n_rows, 1) * span).bit_length() + max(row.size - 1, 1).bit_length() <= 63:
        offsets = np.zeros(n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(row, minlength=n_rows), out=offsets[1:])
        return stable_order(row.astype(np.int64) * span + key, n_rows * span), offsets
    first = stable_order(key, span)
    by_row, offsets = group_order(row[first], n_rows)
    return first[by_row], offsets


def _arrow_texts(values: pd.Series, at: np.ndarray) -> pa.Array:
    """The distinct values at ``at`` as Arrow large strings (a categorical through its categories: no copy of
    every text as a Python object)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        texts = strings(values.cat.categories).take(pa.array(np.asarray(values.cat.codes)[at]))
    else:
        texts = strings(values.iloc[at])
    return texts.cast(pa.large_string())


def _canonical_texts(task: Task, value: Coded, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Of the distinct values at ``present`` (codes a task's judgments use), those whose text is not the
    task's canonical one, and their canonical texts: ``decide_kinds.canonical``, through the bulk span parser for
    spans (as ``task_parse`` canonicalises them for the consensus), each distinct value parsed once."""
    raw = _arrow_texts(value.values, present)
    if task.kind == "spans":
        canon, parsed = canonical_span_array(raw, task.label_ids)
        if parsed is not None:  # every text canonical already
            return present[:0], np.zeros(0, dtype=object)
    else:
        texts = canonical(task, pd.Series(raw.to_numpy(zero_copy_only=False), dtype=object))
        canon = pa.array(texts.to_numpy(dtype=object), pa.large_string())
    changed = np.asarray(pc.not_equal(canon, raw).to_numpy(zero_copy_only=False), dtype=bool)
    return present[changed], np.asarray(canon.filter(pa.array(changed)).to_numpy(zero_copy_only=False), dtype=object)


def canonical_values(value: Coded, task: Coded, tasks: Sequence[Task]) -> Coded:
    """``value`` with each judgment of a :data:`~labelspec.check.decide_kinds.CANONICALISED` task recoded to
    its canonical text, as the consensus writes it (a consumer comparing a judgment with its row's value sees no
    false disagreement). Each task's distinct value codes are canonicalised once, then the codes are remapped;
    a canonical value keeps its code, so canonical input returns ``value`` itself (byte-identical output)."""
    names = task.values.astype(object).tolist()  # distinct task names
    n = len(value.values)
    codes: np.ndarray | None = None  # copied on the first change only
    added: list[np.ndarray] = []
    for t in tasks:  # a loop over the spec's tasks
        if t.kind not in CANONICALISED or t.name not in names:
            continue
        rows = np.flatnonzero(task.codes == names.index(t.name))
        used = value.codes[rows]
        rows, used = rows[used >= 0], used[used >= 0]
        changed, texts = _canonical_texts(t, value, np.flatnonzero(np.bincount(used, minlength=n)))
        if changed.size == 0:
            continue
        recode = np.arange(n, dtype=np.int64)  # this task's code → its canonical text's code
        recode[changed] = n + sum(a.size for a in added) + np.arange(changed.size)
        codes = value.codes.astype(np.int64) if codes is None else codes
        codes[rows] = recode[used]
        added.append(texts)
    if codes is None:
        return value
    values = pd.Series(np.concatenate([value.values.to_numpy(dtype=object, na_value=None), *added]), dtype=object)
    return Coded(np.asarray(codes, dtype=np.int32 if len(values) < 2 ** 31 else np.int64), values, value.missing)


def order_judgments(units: pd.DataFrame, acc: Accounting, tasks: Sequence[Task] = (),
                    judgment_units: Mapping[str, np.ndarray | None] | None = None) -> Judgments:
    """Join the judgments to the released rows and sort them (row, time, annotator) once, stably; values of the
    ``tasks`` whose kind has several texts per meaning are recoded to their canonical text. ``judgment_units``:
    each task's unit codes per used judgment (``Decisions.judgment_units``), which join without the key texts."""
    cols = [*KEYS, "annotator", "value", "timestamp", "lead_time", "file", "line", "when"]
    # without experts (the usual case) the used judgments' columns as they are: no copy of 10M rows
    j = acc.used[cols] if acc.expert.empty else pd.concat([acc.used[cols], acc.expert[cols]], ignore_index=True)
    row = rows_by_units(units, acc, judgment_units) if judgment_units is not None else None
    if row is None:
        row = rows_of(units, j)
    annotator = Coded.of(j["annotator"])
    keep = np.flatnonzero(row >= 0)
    order, offsets = by_row_time_name(row[keep], _when(j["when"])[keep], _name_rank(annotator)[keep], len(units))
    order, offsets = keep[order], np.asarray(offsets, dtype=np.int64)
    return Judgments(order=order, offsets=offsets, expert=(np.arange(len(j)) >= len(acc.used)).astype(np.int8),
                     annotator=annotator, value=_values(j, tasks), timestamp=Coded.of(j["timestamp"]),
                     lead_time=Coded.of(j["lead_time"]), file=Coded.of(j["file"]), line=j["line"])


def _values(j: pd.DataFrame, tasks: Sequence[Task]) -> Coded:
    """The value column coded, canonical for the tasks that need it (the task column is coded only then)."""
    value = Coded.of(j["value"])
    if not any(t.kind in CANONICALISED for t in tasks):
        return value
    return canonical_values(value, Coded.of(j["task"]), tasks)


def lead_times(lead_time: Coded, released: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Lead time per distinct text, as a float (Parquet) and as JSON text, parsed as pandas parses the released
    judgments' column — all integers stay integers (``"5"`` → ``5``), else floats (``5.0``), blank → null.
    """
    codes = lead_time.codes[released]
    present = np.unique(codes[codes >= 0])
    sample = lead_time.values.iloc[present]
    if (codes < 0).any():  # a missing value takes part in the parse, as in the whole column
        sample = pd.concat([sample, pd.Series([None], dtype=sample.dtype)], ignore_index=True)
    lead = pd.to_numeric(sample.replace("", None), errors="coerce")
    values = lead.astype(object).where(lead.notna(), None).tolist()[:len(present)]  # distinct values only
    at = np.full(len(lead_time.values), -1, dtype=np.int64)
    at[present] = np.arange(len(present))
    where = pa.array(at, mask=at < 0)
    return (pa.array([None if v is None else float(v) for v in values], pa.float64()).take(where),
            pa.array([json.dumps(v) for v in values], pa.string()).take(where))


@dataclass(frozen=True)
class Lookups:
    """Per distinct value: the strings of the coded columns, the annotator's calibration, the lead time."""

    annotator: pa.Array
    value: pa.Array
    timestamp: pa.Array  # blank → null
    file: pa.Array
    lead_float: pa.Array
    lead_json: pa.Array
    calibration: tuple[pa.Array, pa.Array, pa.Array]  # score, passed, calibrated_at

    @classmethod
    def of(cls, j: Judgments, ctx: Context) -> Lookups:
        roster = ctx.roster or {}
        entries = [roster.get(a) if isinstance(a, str) else None for a in j.annotator.values.tolist()]  # distinct
        calibration = (pa.array([e.calibration_score if e else None for e in entries], pa.float64()),
                       pa.array([e.passed if e and e.calibration_recorded else None for e in entries], pa.bool_()),
                       pa.array([iso_utc(e.calibrated_at) if e and e.calibrated_at is not None else None
                                 for e in entries], pa.string()))
        timestamp = strings(j.timestamp.values)
        lead_float, lead_json = lead_times(j.lead_time, j.order)
        return cls(strings(j.annotator.values), strings(j.value.values),
                   pc.if_else(pc.equal(timestamp, ""), pa.scalar(None, pa.string()), timestamp),
                   strings(j.file.values), lead_float, lead_json, calibration)


def line_text(j: Judgments, rows: np.ndarray) -> pa.Array:
    """The source line number of each judgment as text."""
    line = j.line.iloc[rows]
    if pd.api.types.is_integer_dtype(line):
        return pc.cast(pa.array(line.to_numpy(), pa.int64()), pa.string())
    return strings(line.astype(str))


def judgment_structs(j: Judgments, look: Lookups, rows: np.ndarray) -> pa.StructArray:
    """The judgments at ``rows`` (indices into the columns) as :data:`JUDGMENT` structs."""
    children = [j.annotator.take(look.annotator, rows), ROLES.take(pa.array(j.expert[rows])),
                j.value.take(look.value, rows), j.timestamp.take(look.timestamp, rows),
                j.lead_time.take(look.lead_float, rows),
                pc.binary_join_element_wise(j.file.take(look.file, rows), line_text(j, rows), ":"),
                *(j.annotator.take(table, rows) for table in look.calibration)]
    return pa.StructArray.from_arrays(children, fields=list(JUDGMENT))
