"""Gold and calibration rows name items of the items file, and steps those items have (LS312).

One job: once every data file is valid on its own, check that each gold and calibration row is about an item the
items file holds and, for a per-step task (``unit: step``) on an item whose steps field (``Spec.steps_field``)
holds a list of N steps, about one of those steps: a unit written as ``check`` numbers steps, a canonical position
1..N (digits, no leading zero). A row about any other item can never be scored: `check` excludes the judgments on
it as `unknown_item`, so a gold gate would find no evidence and `calibrate` no answer; a row about any other step
(``9`` of 4, ``0``, ``02`` for step 2) matches no judgment of the step. Items without such a list are left alone,
as `check` leaves their steps. Ids are compared by hashing in Arrow (66k gold rows against 3.3M items); only the
items that step rows name have their list read. It never reads files: the resolver hands it the bytes it approved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from labelspec.csvscan import plain_columns
from labelspec.errors import Diagnostic
from labelspec.spec.datafiles import GOLD_COLUMNS, ItemIds, Problems, items_format, read_table
from labelspec.spec.locate import Part
from labelspec.spec.model import ItemsSource, Spec

Files = Mapping[tuple[Part, ...], tuple[str, bytes]]  # spec key → (path as shown, bytes)
Found = list[tuple[int, str, str]]  # (line, message, hint) of each problem of one file
_SETS = ((("quality", "gold", "file"), "gold"), (("quality", "calibration", "file"), "calibration"))
#: A step as ``check`` numbers it: a position from 1, in digits, without a leading zero.
CANONICAL_STEP = r"^[1-9][0-9]*$"
_MAX_DIGITS = 18  # every integer of up to 18 digits fits in int64; a longer one is beyond every list


@dataclass(frozen=True, slots=True)
class _Items:
    """The items file: its ids, and (JSONL) the line each id is on, so a list is parsed only where it is needed."""

    source: ItemsSource
    data: bytes
    ids: pa.Array
    lines: pa.Array | None = None


@dataclass(frozen=True, slots=True)
class _Rows:
    """The rows of one gold or calibration file: physical line, item, unit and task."""

    lines: np.ndarray
    item: pa.Array
    unit: pa.Array
    task: pa.Array


def unknown_item_refs(files: Files, spec: Spec, item_ids: ItemIds | None = None) -> list[Diagnostic]:
    """LS312 at each gold or calibration row whose item is not in the items file, or whose step is not one of the
    item's steps (none without an items file). ``item_ids``: the items file's ids as its check found them
    (``datafiles.checked_item_ids``); without them a CSV file's ids are read here."""
    found_items = files.get(("items", "file"))
    if found_items is None or spec.items is None:
        return []
    items = _read_items(found_items[1], spec.items, item_ids)
    out: list[Diagnostic] = []
    for parts, what in _SETS:
        found = files.get(parts)
        if found is None:
            continue
        rows = _read_rows(found[0], found[1])
        problems = Problems(found[0])
        for line, message, hint in sorted([*_unknown(rows, items, what), *_bad_steps(rows, items, spec, what)]):
            problems.add(line, message, hint=hint)
        out.extend(problems.result())
    return out


def _read_items(data: bytes, items: ItemsSource, item_ids: ItemIds | None = None) -> _Items:
    if item_ids is not None:  # as its check read them: no second read
        return _Items(items, data, item_ids.ids, item_ids.lines)
    if items_format(items.file) == "jsonl":
        raise ValueError("a JSONL items file's ids come from its check (datafiles.checked_item_ids)")
    text = data.decode("utf-8-sig")
    cols = plain_columns(data, [items.id])
    if cols is not None:
        return _Items(items, data, cols[items.id].cast(pa.large_string()))
    _, records = read_table(text, Problems(items.file), (items.id,), None, keep=(items.id,))
    return _Items(items, data, pa.array([rec[items.id] for _, rec in records], pa.large_string()))


def _read_rows(shown: str, data: bytes) -> _Rows:
    cols = plain_columns(data, ["item", "unit", "task"])
    if cols is not None:  # one physical line per record: row i is line i + 2
        return _Rows(np.arange(len(cols["item"]), dtype=np.int64) + 2, cols["item"], cols["unit"], cols["task"])
    _, records = read_table(data.decode("utf-8-sig"), Problems(shown), GOLD_COLUMNS, None)
    col = {name: pa.array([rec[name] for _, rec in records], pa.large_string()) for name in ("item", "unit", "task")}
    return _Rows(np.array([line for line, _ in records], dtype=np.int64), col["item"], col["unit"], col["task"])


def _unknown(rows: _Rows, items: _Items, what: str) -> Found:
    """The rows whose item is not among the items file's ids."""
    missing = pc.invert(pc.is_in(rows.item.cast(pa.large_string()), value_set=items.ids))
    hint = "add the item to the items file, or fix the id: judgments on it would be excluded as unknown_item"
    return [(int(rows.lines[i]), f"{what} item {rows.item[i].as_py()!r} is not in the items file "
             f"{items.source.file!r}", hint) for i in pc.indices_nonzero(missing).to_pylist()]


def _bad_steps(rows: _Rows, items: _Items, spec: Spec, what: str) -> Found:
    """The rows of per-step tasks on items with a steps list whose unit is not a canonical step 1..N."""
    step_tasks = [t.name for t in spec.tasks if t.unit == "step"]
    if not step_tasks:
        return []
    per_step = pc.is_in(rows.task.cast(pa.large_string()), value_set=pa.array(step_tasks, pa.large_string()))
    named = pc.unique(pc.filter(rows.item.cast(pa.large_string()), per_step))
    field = spec.steps_field.name
    lengths = _list_lengths(items, field, named)
    if not lengths:
        return []
    keys = pa.array(list(lengths), pa.large_string())
    length = pc.take(pa.array(list(lengths.values()), pa.int64()), pc.index_in(rows.item.cast(pa.large_string()), value_set=keys))
    unit = rows.unit.cast(pa.large_string())
    canonical = pc.match_substring_regex(unit, CANONICAL_STEP)
    short = pc.and_(canonical, pc.less_equal(pc.utf8_length(unit), _MAX_DIGITS))
    step = pc.cast(pc.if_else(short, unit, pa.scalar("0", pa.large_string())), pa.int64())
    inside = pc.and_(short, pc.less_equal(step, length))
    bad = pc.and_(pc.and_(per_step, pc.is_valid(length)), pc.invert(inside)).fill_null(False)
    out: Found = []
    for i in pc.indices_nonzero(bad).to_pylist():
        text, n = unit[i].as_py(), length[i].as_py()
        out.append((int(rows.lines[i]), f"{what} unit {text!r} for task {rows.task[i].as_py()!r} is not one of the "
                    f"{n} steps of item {rows.item[i].as_py()!r} (item field {field!r}, numbered from 1)",
                    _step_hint(text, n)))
    return out


def _step_hint(unit: str, n: int) -> str:
    if n == 0:
        return "the item's steps list is empty: a per-step task has no step of it to judge"
    if unit.isdecimal() and unit.isascii() and unit != "0" * len(unit) and int(unit) <= n:
        return f"write step {int(unit)} as {str(int(unit))!r}: judgments name a step by its position, without " \
               "leading zeros, so this row would match none"
    return f"name the step by its position in the item's list, 1 to {n}, as `check` numbers steps"


def _list_lengths(items: _Items, field: str, named: pa.Array) -> dict[str, int]:
    """Item id → number of steps, for the ``named`` items whose ``field`` holds a JSON array (read as ``check``
    reads it: an array value in JSONL, a cell holding a JSON array in CSV)."""
    if len(named) == 0:
        return {}
    if items.lines is not None:
        at = pc.index_in(named, value_set=items.ids)
        wanted = [(ident, line) for ident, line in zip(named.to_pylist(), pc.take(items.lines, at).to_pylist(),
                                                       strict=True) if line is not None]
        lines = items.data.decode("utf-8-sig").split("\n")
        found = ((ident, json.loads(lines[line - 1]).get(field)) for ident, line in wanted)
        return {ident: len(value) for ident, value in found if isinstance(value, list)}
    cells = _csv_cells(items, field, named)
    return {ident: len(value) for ident, value in ((k, _json_list(v)) for k, v in cells) if value is not None}


def _csv_cells(items: _Items, field: str, named: pa.Array) -> list[tuple[str, str]]:
    """(id, cell of ``field``) for the ``named`` items of a CSV items file; none when it has no such column."""
    idc = items.source.id
    cols = plain_columns(items.data, [idc, field]) if field != idc else None
    if cols is None and (field == idc or plain_columns(items.data, [idc]) is not None):
        return []  # the id column is no list, and a plain file without the column has no lists
    if cols is not None:
        keep = pc.is_in(cols[idc].cast(pa.large_string()), value_set=named)
        return list(zip(pc.filter(cols[idc], keep).to_pylist(), pc.filter(cols[field], keep).to_pylist(), strict=True))
    header, records = read_table(items.data.decode("utf-8-sig"), Problems(items.source.file), (idc,), None,
                                 keep=(idc, field))
    wanted = set(named.to_pylist())
    return [(rec[idc], rec[field]) for _, rec in records if field in header and rec[idc] in wanted]


def _json_list(text: str) -> list[object] | None:
    """``text`` parsed when it is a JSON array, else None (as ``check`` reads a CSV cell)."""
    if not text.lstrip().startswith("["):
        return None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, list) else None
