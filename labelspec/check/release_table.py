"""The released dataset as Arrow tables: which units, and the columns of each row, a block of rows at a time.

One job: select the units to release and build their rows columnar — unit columns, review reasons from the flag
matrix, method details as JSON text, the ``judgments`` column as a list of structs from offsets and flat child
arrays (``release_judgments`` joins and sorts them once) — in blocks of at most :data:`BLOCK_ROWS` rows, one
Parquet row group each. Text is ``release_jsonl``'s job, files are ``release``'s.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from labelspec.check.context import Context
from labelspec.check.decide import Decisions
from labelspec.check.float_detail import FloatDetail
from labelspec.check.records import Accounting
from labelspec.check.release_judgments import (
    JUDGMENT,
    Judgments,
    Lookups,
    judgment_structs,
    order_judgments,
    strings,
)
from labelspec.check.release_records import records_json
from labelspec.check.review_routing import REASONS
from labelspec.spec.model import Spec, Task

#: Rows per block: the Parquet writer's default row-group length, so the file is what one ``write_table`` writes.
BLOCK_ROWS = 1024 * 1024
#: Rows whose method details exist as Python dicts at once.
DETAIL_ROWS = 65536
SCHEMA = pa.schema([
    ("task", pa.string()), ("item", pa.string()), ("unit", pa.string()), ("label", pa.string()),
    ("decided_by", pa.string()), ("method", pa.string()), ("support", pa.float64()), ("n_judgments", pa.int64()),
    ("proposed", pa.string()), ("expert", pa.string()), ("reasons", pa.list_(pa.string())),
    ("detail", pa.string()), ("judgments", pa.list_(JUDGMENT)), ("spec_id", pa.string()),
    ("spec_version", pa.string()), ("spec_digest", pa.string()),
])


#: The decisions' columns a release reads (the released rows are a copy: of these only, 3.1M rows at 10M).
RELEASED_COLUMNS = ["task", "item", "unit", "value", "proposed", "decided_by", "method", "support", "n_judgments",
                    "expert", "expert_conflict", "pos", *(f"reason_{r}" for r in REASONS)]


def select_units(decisions: Decisions, ctx: Context) -> tuple[pd.DataFrame, dict[str, int]]:
    """Units to release (:data:`RELEASED_COLUMNS`), and how many were held back per reason (first matching reason
    wins). Gold items are those of the gold file in use and, when ``--gold`` replaced it, of the spec's own:
    neither is ever released."""
    u = decisions.units
    gold_items = ctx.gold["item"] if not ctx.hidden_gold_items else [*ctx.gold["item"].tolist(), *ctx.hidden_gold_items]
    held = np.select(
        [u["item"].isin(gold_items).to_numpy(), u["item"].isin(ctx.calibration["item"]).to_numpy(),
         u["value"].isna().to_numpy(), u["review"].to_numpy(dtype=bool)],
        ["gold_item", "calibration_item", "no_consensus", "needs_review"], "")
    counts = pd.Series(held[held != ""]).value_counts()
    return (u.loc[held == "", RELEASED_COLUMNS].reset_index(drop=True),
            {str(k): int(v) for k, v in sorted(counts.items())})


def free_text_units(spec: Spec, acc: Accounting, ctx: Context) -> dict[str, int]:
    """The units of text tasks, which have no consensus to release, by the reason they are held back: those on
    gold or calibration items as such (as :func:`select_units` counts units), the others as ``free_text``; so
    that no judged unit leaves the manifest unaccounted for. ``{}`` without text tasks."""
    names = [t.name for t in spec.tasks if t.kind == "text"]
    if not names:
        return {}
    units = acc.used.loc[acc.used["task"].isin(names).to_numpy(dtype=bool), ["task", "item", "unit"]]
    units = units.astype(str).drop_duplicates()
    gold_items = {*ctx.gold["item"], *ctx.hidden_gold_items}
    reason = np.select([units["item"].isin(gold_items).to_numpy(), units["item"].isin(ctx.calibration["item"]).to_numpy()],
                       ["gold_item", "calibration_item"], "free_text")
    return {str(k): int(v) for k, v in pd.Series(reason).value_counts().items()}


@dataclass(frozen=True)
class Block:
    """Rows of the dataset in :data:`SCHEMA`; row ``r``'s judgments are ``rows[offsets[r]:offsets[r + 1]]``."""

    table: pa.Table
    rows: np.ndarray  # the judgments' indices into the ``Judgments`` columns
    offsets: np.ndarray


def reason_lists(units: pd.DataFrame) -> pa.Array:
    """Each row's review reasons, in :data:`REASONS` order, as a list column built from the flag matrix."""
    flags = units[[f"reason_{r}" for r in REASONS]].to_numpy(dtype=bool)  # as decide.reason_lists reads them
    offsets = np.concatenate([[0], np.cumsum(flags.sum(axis=1))]).astype(np.int32)
    names = np.array(REASONS, dtype=object)[np.nonzero(flags)[1]]
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(names, pa.string()))


@contextmanager
def cycles_uncollected() -> Iterator[None]:
    """Pause Python's cyclic garbage collector (as it was before, after): building a million small dicts and
    lists (no cycles among them) would otherwise set off full collections over every object the check left
    alive — a third of the details' time at 1M judgments."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def detail_texts(decisions: Decisions, units: pd.DataFrame) -> pa.Array:
    """Method details as JSON text (null when none), task by task: column by column when the decider gives them
    so (``FloatDetail``: no dict per unit), else from dicts built on demand, a slice of rows at a time."""
    pos = units["pos"].to_numpy(dtype=np.int64)
    tasks = units["task"].to_numpy(dtype=object)
    parts: list[pa.Array] = []
    at = np.full(len(units), -1, dtype=np.int64)  # each row's text among the parts' (-1: null)
    for name, build in decisions.details.items():  # a loop over tasks
        where = np.flatnonzero((tasks == name) & (pos >= 0))
        if build is None or not where.size:
            continue
        at[where] = sum(map(len, parts)) + np.arange(where.size)
        if isinstance(build, FloatDetail):
            parts.append(build.json(pos[where]).cast(pa.string()))
            continue
        with cycles_uncollected():
            parts += [records_json(build(pos[where[i:i + DETAIL_ROWS]])).cast(pa.string())
                      for i in range(0, where.size, DETAIL_ROWS)]  # slices of rows
    texts = pa.concat_arrays(parts) if parts else pa.array([], pa.string())
    return texts.take(pa.array(at, mask=at < 0))


def block(spec: Spec, decisions: Decisions, units: pd.DataFrame, j: Judgments, look: Lookups, start: int,
          stop: int) -> Block:
    """Released rows ``[start, stop)``: unit columns, reasons, details and judgments."""
    units = units.iloc[start:stop]
    offsets = j.offsets[start:stop + 1]
    rows = j.order[offsets[0]:offsets[-1]]
    offsets = offsets - offsets[0]
    judgments = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), judgment_structs(j, look, rows))
    support = units["support"].astype(float).to_numpy()
    constant = [pa.repeat(pa.scalar(v, pa.string()), len(units))
                for v in (spec.project.id, spec.project.version, spec.digest)]
    columns = [strings(units["task"]), strings(units["item"]), strings(units["unit"]), strings(units["value"]),
               strings(units["decided_by"]), strings(units["method"]),
               pa.array(support, pa.float64(), mask=np.isnan(support)),
               pa.array(units["n_judgments"].to_numpy(), pa.int64()), strings(units["proposed"]),
               strings(units["expert"]), reason_lists(units), detail_texts(decisions, units), judgments, *constant]
    return Block(pa.Table.from_arrays(columns, schema=SCHEMA), rows, offsets)


def blocks(spec: Spec, decisions: Decisions, units: pd.DataFrame, j: Judgments, look: Lookups, *,
           rows: int = BLOCK_ROWS) -> Iterator[Block]:
    """The dataset in blocks of ``rows`` rows (one, empty, when nothing is released)."""
    for start in range(0, max(len(units), 1), rows):
        yield block(spec, decisions, units, j, look, start, min(start + rows, len(units)))


def released_judgments(units: pd.DataFrame, acc: Accounting, ctx: Context, tasks: Sequence[Task] = (),
                       judgment_units: Mapping[str, np.ndarray | None] | None = None) -> tuple[Judgments, Lookups]:
    """The released rows' judgments, ordered, their values as canonical as the rows' values (``tasks``: the
    spec's), and their per-distinct-value tables; ``judgment_units``: ``Decisions.judgment_units``."""
    j = order_judgments(units, acc, tasks, judgment_units)
    return j, Lookups.of(j, ctx)
