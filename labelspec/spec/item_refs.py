"""Gold and calibration rows name items of the items file (LS312).

One job: once every data file is valid on its own, check that each gold and calibration row is about an item the
items file holds. A row about any other item can never be scored: `check` excludes the judgments on it as
`unknown_item`, so a gold gate would find no evidence and `calibrate` no answer. Ids are compared by hashing in
Arrow (66k gold rows against 3.3M items). It never reads files: the resolver hands it the bytes it approved.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc

from labelspec.csvscan import plain_columns
from labelspec.errors import Diagnostic
from labelspec.spec.datafiles import GOLD_COLUMNS, Problems, items_format, jsonl_ids, read_table
from labelspec.spec.locate import Part
from labelspec.spec.model import ItemsSource, Spec

Files = Mapping[tuple[Part, ...], tuple[str, bytes]]  # spec key → (path as shown, bytes)
_SETS = ((("quality", "gold", "file"), "gold"), (("quality", "calibration", "file"), "calibration"))


def unknown_item_refs(files: Files, spec: Spec) -> list[Diagnostic]:
    """LS312 at each gold or calibration row whose item is not in the items file (none without one)."""
    items = files.get(("items", "file"))
    if items is None or spec.items is None:
        return []
    ids = _item_ids(items[1], spec.items)
    out: list[Diagnostic] = []
    for parts, what in _SETS:
        found = files.get(parts)
        if found is not None:
            out.extend(_unknown(found[0], found[1], ids, what, spec.items.file))
    return out


def _item_ids(data: bytes, items: ItemsSource) -> pa.Array:
    text = data.decode("utf-8-sig")
    if items_format(items.file) == "jsonl":
        return pa.array([ident for _, ident in jsonl_ids(text, items.id, Problems(items.file))], pa.large_string())
    cols = plain_columns(data, [items.id])
    if cols is not None:
        return cols[items.id].cast(pa.large_string())
    _, records = read_table(text, Problems(items.file), (items.id,), None, keep=(items.id,))
    return pa.array([rec[items.id] for _, rec in records], pa.large_string())


def _unknown(shown: str, data: bytes, ids: pa.Array, what: str, items_file: str) -> list[Diagnostic]:
    """The rows of one gold or calibration CSV whose item is not among ``ids``, at their lines."""
    cols = plain_columns(data, ["item"])
    if cols is not None:  # one physical line per record: row i is line i + 2
        missing = pc.invert(pc.is_in(cols["item"].cast(pa.large_string()), value_set=ids))
        rows = [(int(i) + 2, cols["item"][int(i)].as_py()) for i in pc.indices_nonzero(missing).to_pylist()]
    else:
        _, records = read_table(data.decode("utf-8-sig"), Problems(shown), GOLD_COLUMNS, None)
        known = set(ids.to_pylist())
        rows = [(line, rec["item"]) for line, rec in records if rec["item"] not in known]
    problems = Problems(shown)
    for line, item in rows:
        problems.add(line, f"{what} item {item!r} is not in the items file {items_file!r}",
                     hint="add the item to the items file, or fix the id: judgments on it would be excluded "
                          "as unknown_item")
    return problems.result()
