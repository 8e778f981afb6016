"""The expert-review queue: the units consensus routed to review, with their judgments, in three formats.

One job: turn :class:`~labelspec.check.decide.Decisions` and the used judgments into the queue and render it as
text: CSV (spreadsheets; cells starting with ``= + - @ \\t \\r`` get a leading ``'``, OWASP's defence against
formula injection), JSONL (one unit per line) and a Label Studio import (one task per unit; the annotators'
judgments are ``predictions`` whose ``model_version`` is the annotator id, in the result shapes of the compiled
``labelstudio.xml``, whose control names are task names). Order is fixed: spec task order, then item, then unit;
annotators sorted by id. Pure: the caller (``api``) writes the files.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

import pandas as pd

from labelspec.check.context import Items
from labelspec.check.csv_text import csv_text
from labelspec.check.decide import Decisions, reason_lists
from labelspec.check.records import Accounting
from labelspec.spec.model import Spec, Task

CSV_COLUMNS = ("item", "unit", "task", "proposed", "support", "method", "reasons", "gold", "judgments")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_KEYS = ["task", "item", "unit"]


def build_queue(decisions: Decisions, acc: Accounting) -> pd.DataFrame:
    """One row per routed unit: its judgments ``{annotator: value}``, proposal, support, method and reasons.
    (Units no release would publish, such as calibration items', are never routed: ``decide``.)"""
    routed = decisions.routed.reset_index(drop=True)
    judged = acc.used[[*_KEYS, "annotator", "value"]].merge(routed[_KEYS], on=_KEYS, how="inner")
    judged = judged.sort_values([*_KEYS, "annotator"], kind="stable")
    by_unit = {k: dict(zip(g["annotator"].astype(str), g["value"].astype(str), strict=True))
               for k, g in judged.groupby(_KEYS, sort=False)}  # routed units only: output building
    keys = list(zip(routed["task"], routed["item"], routed["unit"], strict=True))
    support = routed["support"].astype(float)
    return pd.DataFrame({
        "item": routed["item"], "unit": routed["unit"], "task": routed["task"],
        "judgments": [by_unit.get(k, {}) for k in keys], "proposed": routed["proposed"],
        "support": pd.Series([None if math.isnan(s) else round(s, 6) for s in support.tolist()], dtype=object),
        "method": routed["method"], "reasons": reason_lists(routed), "gold": routed["gold"],
    })


def escape_cell(text: str) -> str:
    """A CSV cell a spreadsheet will not execute: a leading formula character is neutralised with ``'``."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def queue_csv(queue: pd.DataFrame) -> str:
    """The queue as CSV; judgments as a JSON object text, reasons joined by ``;``."""
    rows: list[Sequence[str]] = [CSV_COLUMNS]
    for row in queue.to_dict("records"):  # output rows
        cells = {**row, "support": "" if row["support"] is None else repr(row["support"]),
                 "reasons": ";".join(row["reasons"]), "judgments": _json(row["judgments"]),
                 "proposed": row["proposed"] or "", "gold": row["gold"] or ""}
        rows.append([escape_cell(str(cells[c])) for c in CSV_COLUMNS])
    return csv_text(rows)


def queue_jsonl(queue: pd.DataFrame) -> str:
    """The queue as JSON Lines, one unit per line, keys sorted."""
    return "".join(_json(row) + "\n" for row in queue.to_dict("records"))


def controls(config_xml: str) -> dict[str, tuple[str, str]]:
    """Control name → (result type, toName) from a Label Studio labeling config (our compiled one)."""
    root = ET.fromstring(config_xml[config_xml.index("<View"):] if "<View" in config_xml else config_xml)
    return {el.attrib["name"]: (el.tag.lower(), el.attrib.get("toName", "")) for el in root.iter()
            if "name" in el.attrib and "toName" in el.attrib}


def _path(task: Task, label: str) -> list[str]:
    """A taxonomy label's path from its root (a loop over the depth of the tree)."""
    path, node = [label], task.label(label)
    while node is not None and node.parent is not None:
        path.insert(0, node.parent)
        node = task.label(node.parent)
    return path


def _value(task: Task, tag: str, value: str, text: str) -> list[dict[str, Any]]:
    """The ``value`` objects of one judgment for a control of type ``tag`` (empty when it cannot be shown)."""
    data: Any = json.loads(value) if task.kind in ("multi_choice", "spans", "ranking", "attribution") else value
    if tag == "choices":
        return [{"choices": data if isinstance(data, list) else [data]}]
    if tag == "rating":
        return [{"rating": int(value)}]
    if tag == "labels":
        return [{"start": s, "end": e, "text": text[s:e], "labels": [lab]} for s, e, lab in data]
    if tag == "pairwise":
        side = {"A": "left", "B": "right"}.get(value)
        return [{"selected": side}] if side else []
    if tag == "ranker":
        return [{"ranker": {task.name: data}}]
    if tag == "taxonomy":
        return [{"taxonomy": [_path(task, v) for v in (data if isinstance(data, list) else [data])]}]
    if tag == "textarea":
        return [{"text": [value]}]
    return []


def _step_index(step: Any) -> int | None:
    """The paragraph index of a step: steps are numbered from 1, paragraphs from 0; None when it has no paragraph."""
    text = str(step)
    return int(text) - 1 if text.isascii() and text.isdigit() and int(text) >= 1 else None


def _region(index: int | None, steps: list[Any], text_key: str, labels: list[str]) -> list[dict[str, Any]]:
    """One ParagraphLabels region over the whole of paragraph ``index``, or none when it has no paragraph."""
    if index is None or (steps and index >= len(steps)):
        return []
    step = steps[index] if steps else None
    text = step.get(text_key) if isinstance(step, dict) else None
    text = text if isinstance(text, str) else ""
    return [{"start": str(index), "end": str(index), "startOffset": 0, "endOffset": len(text), "text": text,
             "paragraphlabels": labels}]


def _paragraph(task: Task, unit: str, value: str, steps: list[Any], text_key: str) -> list[dict[str, Any]]:
    """ParagraphLabels: the region is the step (``start``/``end`` are paragraph indices, as strings)."""
    data: Any = json.loads(value) if task.kind in ("multi_choice", "attribution") else value
    if task.kind == "attribution":
        return _region(None if data["step"] is None else _step_index(data["step"]), steps, text_key, [data["agent"]])
    return _region(_step_index(unit), steps, text_key, data if isinstance(data, list) else [data])


def _steps(items: Items | None, field: str, item: str) -> list[Any]:
    """The item's steps as a list (empty when the items file or the field is absent or not a JSON list)."""
    text = items.fields.get(field, {}).get(item) if items is not None else None
    try:
        steps = json.loads(text) if text else []
    except ValueError:
        return []
    return steps if isinstance(steps, list) else []


def _typed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _data(spec: Spec, items: Items | None, row: dict[str, Any]) -> dict[str, Any]:
    """Task data: the item's fields (typed fields parsed back from JSON), the id columns, the queue context."""
    typed = {f.name for f in spec.items.fields if f.type in ("number", "list", "json")} if spec.items else set()
    fields: dict[str, Any] = {}
    for name, values in (items.fields.items() if items is not None else ()):
        if row["item"] in values:
            fields[name] = _typed(values[row["item"]]) if name in typed else values[row["item"]]
    cols = spec.columns
    fields[cols.item] = row["item"]
    if row["unit"]:
        fields[cols.unit] = row["unit"]
    fields.update({"labelspec_task": row["task"], "labelspec_proposed": row["proposed"],
                   "labelspec_support": row["support"], "labelspec_reasons": ";".join(row["reasons"])})
    return fields


def queue_labelstudio(queue: pd.DataFrame, spec: Spec, items: Items | None, config_xml: str) -> str:
    """A Label Studio task import: ``data`` + one prediction per annotator (``model_version`` = annotator)."""
    ctl = controls(config_xml)
    field = spec.steps_field
    text_key = field.text_key or "text"
    tasks = []
    for row in queue.to_dict("records"):  # output rows
        task = spec.task(row["task"])
        assert task is not None
        tag, to_name = ctl.get(task.name, ("choices", "text"))
        text = items.fields.get(task.field or "", {}).get(row["item"], "") if items is not None else ""
        steps = _steps(items, field.name, row["item"]) if tag == "paragraphlabels" else []
        preds = []
        for ann, value in row["judgments"].items():
            values = (_paragraph(task, row["unit"], value, steps, text_key) if tag == "paragraphlabels"
                      else _value(task, tag, value, text))
            result = [{"id": f"r{k}", "from_name": task.name, "to_name": to_name, "type": tag, "value": v}
                      for k, v in enumerate(values)]
            preds.append({"model_version": ann, "result": result})
        tasks.append({"data": _data(spec, items, row), "predictions": preds})
    return json.dumps(tasks, ensure_ascii=False, sort_keys=True, indent=2, allow_nan=False) + "\n"
