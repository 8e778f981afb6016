"""JSON Lines of a release: the dataset rows of each block and the preference pairs, assembled column by column.

One job: write each row as ``json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))`` would,
plus a newline, but from whole columns: every field becomes an array of JSON texts (``release_json``) — taken
by code from the JSON of each distinct value where the column is coded — a row's judgments are joined from
their texts by offsets, and a line is the element-wise join of its fields in sorted key order. It builds no row
as a dict.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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


@dataclass(frozen=True)
class JudgmentJson:
    """JSON text per distinct value of each coded judgment column (escaped once, taken per judgment)."""

    annotator: pa.Array
    value: pa.Array
    timestamp: pa.Array
    file: pa.Array  # escaped, unquoted: the source is "file:line"
    lead_time: pa.Array
    calibration: tuple[pa.Array, pa.Array, pa.Array]
    role: pa.Array

    @classmethod
    def of(cls, look: Lookups) -> JudgmentJson:
        score, passed, at = look.calibration
        return cls(js.strings(look.annotator), js.strings(look.value), js.strings(look.timestamp),
                   js.escaped(look.file), look.lead_json,
                   (js.floats(score.to_numpy(zero_copy_only=False)), js.booleans(passed), js.strings(at)),
                   js.strings(ROLES))


def judgment_texts(j: Judgments, text: JudgmentJson, rows: np.ndarray) -> pa.Array:
    """One JSON object per judgment at ``rows`` (indices into the judgment columns); a missing value is null."""
    score, passed, at = text.calibration

    def json(coded: Coded, table: pa.Array) -> pa.Array:
        return pc.fill_null(coded.take(table, rows), "null")

    return objects({
        "annotator": json(j.annotator, text.annotator), "calibrated_at": json(j.annotator, at),
        "calibration_passed": json(j.annotator, passed), "calibration_score": json(j.annotator, score),
        "lead_time": json(j.lead_time, text.lead_time), "role": text.role.take(pa.array(j.expert[rows])),
        "source": ['"', j.file.take(text.file, rows), ":", line_text(j, rows), '"'],
        "timestamp": json(j.timestamp, text.timestamp), "value": json(j.value, text.value)})


def _offsets(lists: pa.Array) -> np.ndarray:
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
    return np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def unit_fields(table: pa.Table) -> dict[str, Field]:
    """JSON text of every field of the rows but their judgments."""
    col = {name: js.single(table.column(name)) for name in table.column_names if name != "judgments"}
    fields: dict[str, Field] = {name: js.strings(col[name]) for name in (
        "task", "item", "unit", "label", "decided_by", "method", "proposed", "expert")}
    for name in ("spec_id", "spec_version", "spec_digest"):  # one value per release
        fields[name] = js.dumps(col[name][0].as_py()) if len(col[name]) else "null"
    fields["support"] = js.floats(col["support"].to_numpy(zero_copy_only=False))
    fields["n_judgments"] = js.integers(col["n_judgments"])
    reasons = col["reasons"]
    fields["reasons"] = js.lists(_offsets(reasons), js.strings(pc.list_flatten(reasons)))
    fields["detail"] = pc.fill_null(col["detail"], "null")
    return fields


def dataset_lines(block: Block, j: Judgments, text: JudgmentJson, *, rows: int = SLICE_ROWS
                  ) -> Iterator[memoryview]:
    """The block's JSON lines, ``rows`` rows at a time (views into Arrow buffers: write them before the next)."""
    for start in range(0, block.table.num_rows, rows):
        stop = min(start + rows, block.table.num_rows)
        lo, hi = int(block.offsets[start]), int(block.offsets[stop])
        fields = unit_fields(block.table.slice(start, stop - start))
        texts = judgment_texts(j, text, block.rows[lo:hi])
        fields["judgments"] = ["[", js.items(block.offsets[start:stop + 1], texts), "]"]  # no copy for brackets
        yield js.text_bytes(objects(fields, end="}\n"))


def _pair_fields(spec: Spec) -> tuple[str, str] | None:
    """The item's two response fields: text fields ending in ``_a`` and ``_b`` (as the compiled config pairs them)."""
    ends = {f.name.rsplit("_", 1)[-1]: f.name for f in (spec.items.fields if spec.items else ()) if f.type == "text"}
    return (ends["a"], ends["b"]) if "a" in ends and "b" in ends else None


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
    return fields
