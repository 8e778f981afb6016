"""JSON Lines of a release: the dataset rows of each block and the preference pairs, assembled column by column.

One job: write each row as ``json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))`` would,
plus a newline, but from whole columns: every field becomes an array of JSON texts (``release_json``) — taken
by code from the JSON of each distinct value where the column is coded — a judgment is five such texts (keys
and punctuation included) and its line number, a row's judgments are a view of their texts' bytes (each but the
last ends in a comma), and a line is the element-wise join of its fields in sorted key order. It builds no row
as a dict.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from labelspec.check import release_json as js
from labelspec.check.context import Context
from labelspec.check.release_judgments import ROLES, Coded, Judgments, Lookups, line_text, strings
from labelspec.check.release_table import Block
from labelspec.spec.model import Spec

#: Rows of a block turned into text at once (bounds the memory of the text being built).
SLICE_ROWS = 16384
Field: TypeAlias = js.Fragment | list[js.Fragment]


def objects(fields: Mapping[str, Field], end: str = "}") -> pa.Array:
    """``{"key":value,…}`` per row, keys sorted; a field is JSON text (arrays or constants) or a list of them.

    A null text would drop the whole row from the joined text, so it is an error, never silent.
    """
    parts: list[js.Fragment] = []
    for i, key in enumerate(sorted(fields)):
        value = fields[key]
        parts += [("{" if i == 0 else ",") + js.dumps(key) + ":", *(value if isinstance(value, list) else [value])]
    rows = js.join([*parts, end])
    if rows.null_count:
        raise ValueError(f"{rows.null_count} JSON objects with a missing field text")
    return rows


def _or_null(texts: pa.Array) -> pa.Array:
    """``texts`` and ``null`` after them: the text of a missing value (code -1, taken as code ``len(texts)``)."""
    return pa.concat_arrays([js.as_large(texts), pa.array(["null"], pa.large_string())])


def _code(coded: Coded, rows: np.ndarray, missing: int) -> np.ndarray:
    """The codes of the judgments at ``rows``, a missing value's as ``missing``."""
    codes = coded.codes[rows]
    return np.where(codes < 0, missing, codes) if coded.missing else codes


@dataclass(frozen=True)
class JudgmentJson:
    """A judgment's JSON object as five texts taken by code — each the JSON of a coded column's distinct value
    with the keys and punctuation around it — and its line number: few, long pieces joined per judgment.

    ``head``: ``{"annotator":…,"calibrated_at":…,"calibration_passed":…,"calibration_score":…,"lead_time":``
    per annotator; ``lead``: the lead time; ``source``: ``,"role":…,"source":"FILE:`` per (file, role) at
    ``2 * file + expert``; ``stamp``: ``","timestamp":…,"value":`` per timestamp; ``value``: ``VALUE}`` and
    ``VALUE},`` at ``2 * value + comma`` (a comma after all but a row's last judgment, so a row's judgments are
    its slice of the texts' data). The last entries are a missing value's (``null``; a missing file is a null
    text, which ``release_json.runs`` refuses).
    """

    head: pa.Array
    lead: pa.Array
    source: pa.Array
    stamp: pa.Array
    value: pa.Array

    @classmethod
    def of(cls, look: Lookups) -> JudgmentJson:
        score, passed, at = look.calibration
        null = pa.scalar(None, pa.large_string())
        head = js.join(['{"annotator":', _or_null(js.strings(look.annotator)), ',"calibrated_at":',
                        _or_null(js.strings(at)), ',"calibration_passed":', _or_null(js.booleans(passed)),
                        ',"calibration_score":', _or_null(js.floats(score.to_numpy(zero_copy_only=False))),
                        ',"lead_time":'])
        files = js.as_large(js.escaped(look.file))
        n_files = len(files)
        source = js.join([',"role":', js.strings(ROLES).take(pa.array(np.tile([0, 1], n_files + 1))),
                          ',"source":"', pa.concat_arrays([files.take(pa.array(np.repeat(np.arange(n_files), 2))),
                                                           pa.array([null, null], pa.large_string())]), ":"])
        return cls(head, _or_null(pc.fill_null(look.lead_json, "null")), source,
                   js.join(['","timestamp":', _or_null(js.strings(look.timestamp)), ',"value":']),
                   _twice(_or_null(js.strings(look.value)), "}", "},"))


def _twice(texts: pa.Array, first: str, second: str) -> pa.Array:
    """Each text followed by ``first``, then by ``second`` (entry ``2 * i + k``)."""
    ends = pa.array([first, second] * len(texts), pa.large_string())
    return js.join([texts.take(pa.array(np.repeat(np.arange(len(texts)), 2))), ends])


def judgment_texts(j: Judgments, text: JudgmentJson, rows: np.ndarray, offsets: np.ndarray) -> pa.Array:
    """One JSON object per judgment at ``rows`` (indices into the judgment columns), followed by a comma unless it
    is the last of its row (row ``r`` has ``rows[offsets[r]:offsets[r + 1]]``, ``offsets[0] == 0``)."""
    file = _code(j.file, rows, len(text.source) // 2 - 1)
    comma = np.ones(len(rows), dtype=np.int64)
    comma[offsets[1:][offsets[1:] > offsets[:-1]] - 1] = 0
    return js.join([js.taken(text.head, _code(j.annotator, rows, len(text.head) - 1)),
                    js.taken(text.lead, _code(j.lead_time, rows, len(text.lead) - 1)),
                    js.taken(text.source, 2 * file.astype(np.int64) + j.expert[rows]), line_text(j, rows),
                    js.taken(text.stamp, _code(j.timestamp, rows, len(text.stamp) - 1)),
                    js.taken(text.value, 2 * _code(j.value, rows, len(text.value) // 2 - 1).astype(np.int64) + comma)])


def _offsets(lists: pa.Array) -> np.ndarray:
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def unit_fields(table: pa.Table) -> dict[str, Field]:
    """JSON text of every field of the rows but their judgments."""
    col = {name: js.single(table.column(name)) for name in table.column_names if name != "judgments"}
    fields: dict[str, Field] = {"item": js.string_parts(col["item"])}
    fields.update({name: js.repeated_strings(col[name]) for name in (  # a task's labels, methods, steps …
        "task", "unit", "label", "decided_by", "method", "proposed", "expert")})
    for name in ("spec_id", "spec_version", "spec_digest"):  # one value per release
        fields[name] = js.dumps(col[name][0].as_py()) if len(col[name]) else "null"
    fields["support"] = js.floats(col["support"].to_numpy(zero_copy_only=False))
    fields["n_judgments"] = js.integers(col["n_judgments"])
    reasons = col["reasons"]
    fields["reasons"] = js.lists(_offsets(reasons), js.strings(pc.list_flatten(reasons)))
    fields["detail"] = pc.fill_null(col["detail"], "null")
    return fields


def dataset_lines(block: Block, j: Judgments, text: JudgmentJson, *, rows: int | None = None,
                  pool: Executor | None = None, ahead: int = 4) -> Iterator[memoryview]:
    """The block's JSON lines, ``rows`` rows (:data:`SLICE_ROWS`) at a time, in order (each a view of its own
    Arrow buffer). With a ``pool``, up to ``ahead`` slices are built on its threads at once (Arrow's kernels
    release the GIL): at 10M judgments the JSON lines were half of the main thread's time."""
    rows = SLICE_ROWS if rows is None else rows
    starts = range(0, block.table.num_rows, rows)
    if pool is None:
        for start in starts:
            yield _slice_lines(block, j, text, start, min(start + rows, block.table.num_rows))
        return
    pending: deque[Future[memoryview]] = deque()
    try:
        for start in starts:
            pending.append(pool.submit(_slice_lines, block, j, text, start, min(start + rows, block.table.num_rows)))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:  # an error or an abandoned generator: nothing left running on the pool
            future.cancel()
        wait(pending)


def _slice_lines(block: Block, j: Judgments, text: JudgmentJson, start: int, stop: int) -> memoryview:
    lo, hi = int(block.offsets[start]), int(block.offsets[stop])
    fields = unit_fields(block.table.slice(start, stop - start))
    offsets = block.offsets[start:stop + 1] - lo
    texts = judgment_texts(j, text, block.rows[lo:hi], offsets)
    fields["judgments"] = ["[", js.runs(texts, offsets), "]"]
    return js.text_bytes(objects(fields, end="}\n"))


def _pair_fields(spec: Spec) -> tuple[str, str] | None:
    """The item's two response fields: text fields ending in ``_a`` and ``_b`` (as the compiled config pairs them)."""
    ends = {f.name.rsplit("_", 1)[-1]: f.name for f in (spec.items.fields if spec.items else ()) if f.type == "text"}
    return (ends["a"], ends["b"]) if "a" in ends and "b" in ends else None


def _prompt_field(spec: Spec) -> str | None:
    """The item's text field named ``prompt``, if any: with it each pair is ready for DPO-style trainers, which
    read ``prompt``, ``chosen_text`` and ``rejected_text`` (renamed to their ``chosen``/``rejected``)."""
    fields = spec.items.fields if spec.items else ()
    return next((f.name for f in fields if f.name == "prompt" and f.type == "text"), None)


def _texts(item: pd.Series, side: np.ndarray, ctx: Context, fields: tuple[str, str]) -> pa.Array:
    """Each pair's response text on the given side ("A" → first field), null when the item has none."""
    texts = ctx.items.fields if ctx.items is not None else {}
    a, b = (item.map(texts.get(f, {})).astype(object) for f in fields)  # one lookup per pair, vectorised
    return js.strings(strings(pd.Series(np.where(side == "A", a.to_numpy(), b.to_numpy()), dtype=object)))


def preference_lines(spec: Spec, units: pd.DataFrame, ctx: Context, *, rows: int = SLICE_ROWS
                     ) -> Iterator[tuple[memoryview, int]]:
    """Chosen/rejected pairs of released pairwise units decided for A or B (a "tie" consensus is no pair): JSON
    lines, ``rows`` pairs at a time, with how many pairs each slice holds."""
    pairwise = [t.name for t in spec.tasks if t.kind == "pairwise"]
    pairs = units[(units["task"].isin(pairwise) & units["value"].isin(["A", "B"])).to_numpy(dtype=bool)]
    fields = _pair_fields(spec)
    for start in range(0, len(pairs), rows):
        p = pairs.iloc[start:start + rows]
        yield js.text_bytes(objects(_pair_json(spec, p, ctx, fields), end="}\n")), len(p)


def _pair_json(spec: Spec, p: pd.DataFrame, ctx: Context, pair: tuple[str, str] | None) -> dict[str, Field]:
    chosen = p["value"].to_numpy(dtype=object)
    rejected = np.where(chosen == "A", "B", "A")

    def text(col: str) -> pa.Array:
        return js.strings(strings(p[col]))

    fields: dict[str, Field] = {
        "task": text("task"), "item": text("item"), "unit": text("unit"), "chosen": text("value"),
        "rejected": js.strings(pa.array(rejected, pa.string())), "decided_by": text("decided_by"),
        "support": js.floats(p["support"].astype(float).to_numpy()), "spec_digest": js.dumps(spec.digest)}
    if pair is not None:
        fields["chosen_text"] = _texts(p["item"], chosen, ctx, pair)
        fields["rejected_text"] = _texts(p["item"], rejected, ctx, pair)
    prompt = _prompt_field(spec)
    if prompt is not None:
        texts = ctx.items.fields if ctx.items is not None else {}
        fields["prompt"] = js.strings(strings(p["item"].map(texts.get(prompt, {})).astype(object)))
    return fields
