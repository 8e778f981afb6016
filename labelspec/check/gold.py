"""Gold scoring: each annotator's judgments on gold items against the gold label, with Wilson intervals.

Vectorised as one merge of judgments with the gold table on (item, unit, task); accuracy per annotator is then a
pair of bincounts. Rolling accuracy (for "recalibrate from here") is computed per annotator in time order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from labelspec.check import stats
from labelspec.check.coded import arrow_texts, category_mask, codes_of, per_row, text_of
from labelspec.check.context import Context, iso_utc
from labelspec.check.decide_kinds import canonical
from labelspec.check.estimate import Estimate
from labelspec.spec.model import Spec


@dataclass(frozen=True)
class GoldScores:
    """Per annotator: gold judgments, correct ones, and accuracy with a Wilson interval; plus the scored rows."""

    annotators: tuple[str, ...]
    n: np.ndarray
    correct: np.ndarray
    accuracy: tuple[Estimate, ...]
    scored: pd.DataFrame  # annotator, when, item, unit, task, value, gold, correct — in time order

    def of(self, annotator: str) -> tuple[int, int, Estimate] | None:
        if annotator not in self.annotators:
            return None
        i = self.annotators.index(annotator)
        return int(self.n[i]), int(self.correct[i]), self.accuracy[i]


#: The order of the scored rows (time order per annotator; the rest makes it total).
SCORED_ORDER = ("annotator", "when", "item", "unit", "task")


@dataclass(frozen=True)
class GoldItems:
    """Which read-time item categories are gold items, found before the rows are accounted (the check does it
    on its second core meanwhile: hashing 3.3M item ids is ~0.2 s at 10M judgments)."""

    categories: pd.Index
    mask: np.ndarray

    @classmethod
    def of(cls, categories: pd.Index, ctx: Context) -> GoldItems:
        return cls(categories, category_mask(categories, ctx.gold["item"].unique()))


def score_gold(spec: Spec, used: pd.DataFrame, ctx: Context, *, level: float = 0.95,
               known: GoldItems | None = None) -> GoldScores | None:
    """None when the spec has no gold set; otherwise every annotator who judged a gold item is scored.
    ``known``: the read-time items that are gold, when found already (used when they are ``used``'s)."""
    if spec.quality.gold is None and ctx.gold.empty:
        return None
    gold = ctx.gold[["item", "unit", "task", "label"]].rename(columns={"label": "gold"})
    if len(spec.tasks) == 1:
        gold = gold.assign(task=gold["task"].where(gold["task"] != "", spec.tasks[0].name))
    _, items = codes_of(used, "item")
    if known is None or known.categories is not items:  # not found yet, or for other rows' categories
        known = GoldItems.of(items, ctx)
    on_gold = per_row(used, "item", known.mask)  # the merge stays small
    sub = used.iloc[np.flatnonzero(on_gold)][["annotator", "item", "unit", "task", "value", "when"]]
    # in the scored order first (integer keys), kept by the merge: an inner merge keeps the left rows' order
    sub = sub.iloc[_order(sub, SCORED_ORDER)]
    # the keys as text for these rows only (a merge on the coded columns turned all their categories, 3.3M item
    # ids at 10M judgments, into objects first), as Arrow strings of the gold table's type where both are text
    sub = sub.assign(**{key: _keys(sub, key, gold[key]) for key in ("item", "unit", "task")})
    merged = sub.merge(gold, on=["item", "unit", "task"], how="inner")
    free_text = [t.name for t in spec.tasks if t.kind == "text"]
    if free_text:  # free text is not scored (docs): "Hello" against "hello" is no error
        merged = merged[~merged["task"].isin(free_text).to_numpy(dtype=bool)]
    structured = [t for t in spec.tasks if t.is_list or t.kind == "attribution"]
    if structured:  # as text first: a canonical form (compact JSON of '{"agent": "x"}') need not be one of the
        # value column's read-time categories
        merged = merged.assign(value=merged["value"].astype(object), gold=merged["gold"].astype(object))
    for task in structured:  # one meaning, one text: sets, spans and objects compare canonically
        rows = (merged["task"] == task.name).to_numpy()
        if rows.any():
            merged.loc[rows, "value"] = canonical(task, merged.loc[rows, "value"]).to_numpy()
            merged.loc[rows, "gold"] = canonical(task, merged.loc[rows, "gold"]).to_numpy()
    merged["correct"] = _equal(merged["value"], merged["gold"])
    merged = merged.reset_index(drop=True)
    codes, names = pd.factorize(merged["annotator"], sort=True)
    n = np.bincount(codes, minlength=len(names))
    k = np.bincount(codes, weights=merged["correct"].to_numpy(dtype=float), minlength=len(names)).astype(np.int64)
    return GoldScores(annotators=tuple(str(a) for a in names), n=n, correct=k,
                      accuracy=stats.wilson_intervals(k, n, level), scored=merged)


def _order(frame: pd.DataFrame, keys: tuple[str, ...]) -> np.ndarray:
    """``frame.sort_values(list(keys), kind="stable")``'s row order, from one integer rank per key (a category's
    code, a text's rank among the distinct texts, a time's nanoseconds; missing last, as pandas puts them):
    a sort on object columns compared Python strings (~0.2 s for the 200k gold judgments of 10M)."""
    ranks = []
    for key in keys:
        column = frame[key]
        if isinstance(column.dtype, pd.CategoricalDtype):
            rank = np.asarray(column.cat.codes, dtype=np.int64)
        elif pd.api.types.is_datetime64_any_dtype(column.dtype):
            rank = np.asarray(pd.DatetimeIndex(column).asi8, dtype=np.int64)
        else:
            rank = np.asarray(pd.factorize(column.to_numpy(dtype=object), sort=True)[0], dtype=np.int64)
        missing = column.isna().to_numpy(dtype=bool)
        ranks.append(np.where(missing, np.iinfo(np.int64).max, rank) if missing.any() else rank)
    return np.lexsort(ranks[::-1]) if len(frame) else np.zeros(0, dtype=np.int64)


def _keys(frame: pd.DataFrame, field: str, like: pd.Series) -> pd.Series:
    """``frame[field]`` as text to merge with the gold table's column ``like``: in its Arrow-backed string type
    when it has one and the field's categories are text. pandas then matches the keys by one Arrow dictionary
    encoding without the GIL, where Python strings on one side made it hash both sides' strings holding it
    (~0.1 s of the 200k gold judgments of 10M, while Dawid–Skene waited for the GIL on the other core)."""
    texts = _arrow_strings(frame[field]) if _arrow_backed(like.dtype) else None
    if texts is None:
        return _texts(frame, field)
    return pd.Series(pd.array(texts, dtype=like.dtype), index=frame.index, copy=False)  # wraps, no copy


def _equal(values: pd.Series, gold: pd.Series) -> np.ndarray:
    """(N,) ``values == gold``, compared as Arrow strings when both are text (a categorical against Arrow-backed
    strings compared each row's Python string, holding the GIL)."""
    left, right = _arrow_strings(values), _arrow_strings(gold)
    if left is None or right is None:
        return np.asarray((values == gold).to_numpy(), dtype=bool)
    same = pc.equal(left.cast(pa.large_string()), right.cast(pa.large_string()))
    return np.asarray(pc.fill_null(same, False).to_numpy(zero_copy_only=False), dtype=bool)


def _arrow_backed(dtype: object) -> bool:
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _arrow_strings(column: pd.Series) -> pa.Array | None:
    """The column's strings as one Arrow array without a Python string per row (a coded column: its text
    categories taken at its codes; an Arrow-backed one: its array), or None (other columns, missing values)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = np.asarray(column.cat.codes)
        texts = arrow_texts(column.cat.categories)
        if texts is None or (codes < 0).any():
            return None
        return texts.take(pa.array(codes, pa.int64()))
    if not _arrow_backed(column.dtype):
        return None
    array = pa.array(column.array)
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    return None if array.null_count else array


def _texts(frame: pd.DataFrame, field: str) -> pd.Series:
    """``frame[field]`` as an object column of its strings (a coded column: only the categories its rows use)."""
    if not isinstance(frame[field].dtype, pd.CategoricalDtype):
        return frame[field].astype(object)
    codes, categories = codes_of(frame, field)
    if (codes < 0).any():  # missing values: pandas' own conversion
        return frame[field].astype(object)
    return pd.Series(text_of(categories, codes), index=frame.index, dtype=object)


def rolling_breach(scored: pd.DataFrame, annotator: str, window: int, threshold: float
                   ) -> tuple[float, str, int] | None:
    """First point where the accuracy over the last ``window`` gold judgments falls below ``threshold``.

    Returns (rolling accuracy, timestamp as the label files write it, index of the gold judgment among the
    annotator's timed ones) or None. Only full windows count: fewer than ``window`` gold judgments are not
    evidence of drift. A judgment without a timestamp has no place in time and is left out.
    """
    rows = scored[(scored["annotator"] == annotator).to_numpy() & scored["when"].notna().to_numpy()]
    if len(rows) < window:
        return None
    acc = rows["correct"].astype(float).rolling(window).mean().to_numpy()
    below = np.flatnonzero(acc < threshold)
    if below.size == 0:
        return None
    i = int(below[0])
    return float(acc[i]), iso_utc(rows["when"].iloc[i]), i + 1
