"""The expert-review queue: the units consensus routed to review, with their judgments, in three formats.

One job: turn :class:`~labelspec.check.decide.Decisions` and the used judgments into the queue and render it as
text: CSV (spreadsheets; cells starting with ``= + - @ \\t \\r`` get a leading ``'``, OWASP's defence against
formula injection), JSONL (one unit per line) and a Label Studio import (one task per unit; the annotators'
judgments are ``predictions`` whose ``model_version`` is the annotator id, in the result shapes of the compiled
``labelstudio.xml``, whose control names are task names, so that an expert's export reads back as the same values;
an attribution with no step is a choice of its ``<task>-no-step`` control, and a ranking task's data carries the
items of its ``List``). Order is fixed: spec task order, then item, then unit; annotators sorted by id. Pure: the
caller (``api``) writes the files.
"""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from labelspec.check.coded import category_mask
from labelspec.check.context import Items
from labelspec.check.csv_text import csv_text
from labelspec.check.decide import Decisions, reason_lists
from labelspec.check.decide_kinds import CANONICALISED, canonical
from labelspec.check.read_labelstudio_values import NO_STEP_SUFFIX
from labelspec.check.records import Accounting
from labelspec.spec.model import Spec, Task

CSV_COLUMNS = ("item", "unit", "task", "proposed", "support", "method", "reasons", "gold", "judgments")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_KEYS = ["task", "item", "unit"]


def canonical_judgments(judged: pd.DataFrame, spec: Spec | None) -> pd.DataFrame:
    """``judged`` with the values of tasks whose kind has several texts per meaning (JSON sets, spans, objects)
    in the canonical text the proposal uses, so an expert sees agreement as equal text (each distinct value of a
    task parsed once, by ``decide_kinds.canonical``); without a spec, as the label files wrote them."""
    tasks = [t for t in spec.tasks if t.kind in CANONICALISED] if spec is not None else []
    if not tasks or judged.empty:
        return judged
    value = judged["value"].astype(object).to_numpy(copy=True)
    names = judged["task"].astype(object).to_numpy()
    for task in tasks:  # a loop over tasks
        rows = np.flatnonzero(names == task.name)
        value[rows] = canonical(task, pd.Series(value[rows], dtype=object)).to_numpy(dtype=object)
    return judged.assign(value=value)


def build_queue(decisions: Decisions, acc: Accounting, spec: Spec | None = None) -> pd.DataFrame:
    """One row per routed unit: its judgments ``{annotator: value}``, proposal, support, method and reasons.
    (Units no release would publish, such as calibration items', are never routed: ``decide``.) With the
    ``spec``, judgments are in their task's canonical text, as the proposal is."""
    routed = decisions.routed.reset_index(drop=True)
    used = acc.used[[*_KEYS, "annotator", "value"]]
    # the rows of the routed units' items first (each item id looked up once, the rows read by code), then the
    # merge on the few left: factorising three text keys of every row (10M at 10M judgments) was most of the queue's time.
    # The rows kept are in the same order, so the inner merge keeps the same rows in the same order.
    used = used[_rows_of_items(used["item"], routed["item"].unique())]
    judged = used.merge(routed[_KEYS], on=_KEYS, how="inner")
    judged = canonical_judgments(judged.sort_values([*_KEYS, "annotator"], kind="stable"), spec)
    by_unit = _judgments_by_unit(judged)
    keys = list(zip(routed["task"], routed["item"], routed["unit"], strict=True))
    support = routed["support"].astype(float)
    return pd.DataFrame({
        "item": routed["item"], "unit": routed["unit"], "task": routed["task"],
        "judgments": [by_unit.get(k, {}) for k in keys], "proposed": routed["proposed"],
        "support": pd.Series([None if math.isnan(s) else round(s, 6) for s in support.tolist()], dtype=object),
        "method": routed["method"], "reasons": reason_lists(routed), "gold": routed["gold"],
    })


def _rows_of_items(item: pd.Series, wanted: np.ndarray) -> np.ndarray:
    """Which rows hold one of the ``wanted`` items. A coded column's categories are looked up among the wanted
    items in Arrow (``coded.category_mask``), then read by code: pandas' ``isin`` on the column hashed every
    category (3.3M at 10M judgments, 1.6 s), on the categories it went through Python lists (0.9 s)."""
    if isinstance(item.dtype, pd.CategoricalDtype):
        # one more entry, False, that a missing item's code (-1) reads
        known = np.append(category_mask(item.cat.categories, wanted), False)
        rows: np.ndarray = known[item.cat.codes.to_numpy()]
        return rows
    return np.asarray(item.isin(wanted).to_numpy(dtype=bool), dtype=bool)


def _judgments_by_unit(judged: pd.DataFrame) -> dict[tuple[Any, ...], dict[str, str]]:
    """``{(task, item, unit): {annotator: value}}`` in the rows' order, a later row of an annotator winning (as
    ``dict(zip(...))`` per unit); rows with a missing key are left out, as a groupby leaves them. One pass over
    the routed units' judgments: a pandas groupby made a frame per unit (84 s for the 162k routed units of 10M
    judgments, against ~0.3 s)."""
    cols = [judged[k] for k in _KEYS]
    known = ~np.logical_or.reduce([c.isna().to_numpy(dtype=bool) for c in cols]) if len(judged) else np.zeros(0, bool)
    keep = np.flatnonzero(known)
    keys = zip(*(c.to_numpy(dtype=object)[keep].tolist() for c in cols), strict=True)
    annotators = judged["annotator"].astype(str).to_numpy(dtype=object)[keep].tolist()
    values = judged["value"].astype(str).to_numpy(dtype=object)[keep].tolist()
    by_unit: dict[tuple[Any, ...], dict[str, str]] = {}
    for key, annotator, value in zip(keys, annotators, values, strict=True):  # output building: routed units only
        unit = by_unit.get(key)
        if unit is None:
            by_unit[key] = unit = {}
        unit[annotator] = value
    return by_unit


def escape_cell(text: str) -> str:
    """A CSV cell a spreadsheet will not execute: a leading formula character is neutralised with ``'``."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def records(queue: pd.DataFrame) -> list[dict[str, Any]]:
    """``queue.to_dict("records")``, from each column as one Python list zipped row by row: pandas boxes every
    value of every row on its own (~1.2 s for the 81k units queued of 1M rankings). numpy columns (the queue's)
    give the same Python values by ``tolist``; any other column is boxed by pandas, column by column."""
    names = list(queue.columns)
    columns = [col.tolist() if isinstance(col.dtype, np.dtype) else list(col.to_dict().values())
               for col in (queue[n] for n in names)]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def queue_csv(queue: pd.DataFrame) -> str:
    """The queue as CSV; judgments as a JSON object text, reasons joined by ``;``."""
    rows: list[Sequence[str]] = [CSV_COLUMNS]
    for row in records(queue):  # output rows
        cells = {**row, "support": "" if row["support"] is None else repr(row["support"]),
                 "reasons": ";".join(row["reasons"]), "judgments": _json(row["judgments"]),
                 "proposed": row["proposed"] or "", "gold": row["gold"] or ""}
        rows.append([escape_cell(str(cells[c])) for c in CSV_COLUMNS])
    return csv_text(rows)


def queue_jsonl(queue: pd.DataFrame) -> str:
    """The queue as JSON Lines, one unit per line, keys sorted."""
    return "".join(_json(row) + "\n" for row in records(queue))


def controls(config_xml: str) -> dict[str, tuple[str, str]]:
    """Control name → (result type, toName) from a Label Studio labeling config (our compiled one)."""
    root = _root(config_xml)
    return {el.attrib["name"]: (el.tag.lower(), el.attrib.get("toName", "")) for el in root.iter()
            if "name" in el.attrib and "toName" in el.attrib}


def _root(config_xml: str) -> ET.Element:
    return ET.fromstring(config_xml[config_xml.index("<View"):] if "<View" in config_xml else config_xml)


def list_keys(config_xml: str) -> dict[str, str]:
    """Ranker (task) name → the task data key its ``List`` reads (``value="$key"``)."""
    root = _root(config_xml)
    objects = {el.attrib["name"]: el.attrib.get("value", "") for el in root.iter("List") if "name" in el.attrib}
    return {el.attrib["name"]: objects[el.attrib["toName"]].removeprefix("$") for el in root.iter("Ranker")
            if objects.get(el.attrib.get("toName", ""), "").startswith("$")}


def _path(task: Task, label: str) -> list[str]:
    """A taxonomy label's path from its root (a loop over the depth of the tree)."""
    path, node = [label], task.label(label)
    while node is not None and node.parent is not None:
        path.insert(0, node.parent)
        node = task.label(node.parent)
    return path


def _value(task: Task, tag: str, value: str, text: str) -> list[dict[str, Any]]:
    """The ``value`` objects of one judgment for a control of type ``tag`` (empty when it cannot be shown)."""
    data: Any = json.loads(value) if task.kind in ("multi_choice", "spans", "ranking") else value
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
    data: Any = json.loads(value) if task.kind == "multi_choice" else value
    return _region(_step_index(unit), steps, text_key, data if isinstance(data, list) else [data])


def _attribution(task: Task, value: str, ctl: dict[str, tuple[str, str]], steps: list[Any],
                 text_key: str) -> list[dict[str, Any]]:
    """An attribution: a region over its step, or (``"step": null``) the agent chosen in ``<task>-no-step``."""
    data = json.loads(value)
    if data["step"] is not None:
        return [_result(task.name, ctl, v)
                for v in _region(_step_index(data["step"]), steps, text_key, [data["agent"]])]
    name = task.name + NO_STEP_SUFFIX
    return [_result(name, ctl, {"choices": [data["agent"]]})] if name in ctl else []


def _result(name: str, ctl: dict[str, tuple[str, str]], value: dict[str, Any]) -> dict[str, Any]:
    """One result of control ``name``. Its ``to_name`` is one object: the first of a ``Pairwise``'s two, as
    Label Studio's SDK labels (and validates) it."""
    tag, to_name = ctl.get(name, ("choices", "text"))
    return {"from_name": name, "to_name": to_name.split(",")[0], "type": tag, "value": value}


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


def _data(spec: Spec, items: Items | None, row: dict[str, Any], lists: dict[str, str]) -> dict[str, Any]:
    """Task data: the item's fields (typed fields parsed back from JSON), the id columns, every ranking
    control's ``List`` items (empty but for the unit's own ranking task), the queue context."""
    typed = {f.name for f in spec.items.fields if f.type in ("number", "list", "json")} if spec.items else set()
    fields: dict[str, Any] = {}
    for name, values in (items.fields.items() if items is not None else ()):
        if row["item"] in values:
            fields[name] = _typed(values[row["item"]]) if name in typed else values[row["item"]]
    task = spec.task(row["task"])
    for name, key in lists.items():
        # every key the config reads must be in the data, or Label Studio refuses the whole import; only the
        # unit's own ranking lists its options, so an expert reviewing another task has nothing to rank there
        ranked = spec.task(name) if task is not None and name == task.name else None
        fields.setdefault(key, _list_items(ranked.options, fields) if ranked is not None else [])
    cols = spec.columns
    fields[cols.item] = row["item"]
    if row["unit"]:
        fields[cols.unit] = row["unit"]
    fields.update({"labelspec_task": row["task"], "labelspec_proposed": row["proposed"],
                   "labelspec_support": row["support"], "labelspec_reasons": ";".join(row["reasons"])})
    return fields


def _list_items(options: tuple[str, ...], fields: dict[str, Any]) -> list[dict[str, str]]:
    """Label Studio ``List`` items for a ranking's options: ``id`` and ``title`` are the option id; ``body`` is its
    text when an item field is an object holding a text for every option (``responses: {r1: …, r2: …}``)."""
    texts = next((v for v in fields.values() if isinstance(v, dict) and options
                  and all(isinstance(v.get(o), str) for o in options)), {})
    return [{"id": o, "title": o, **({"body": texts[o]} if o in texts else {})} for o in options]


def _results(task: Task, value: str, unit: str, ctl: dict[str, tuple[str, str]], text: str, steps: list[Any],
             text_key: str) -> list[dict[str, Any]]:
    """The results showing one judgment, in the shapes of the compiled config's controls."""
    tag = ctl.get(task.name, ("choices", "text"))[0]
    if task.kind == "attribution":
        return _attribution(task, value, ctl, steps, text_key)
    if tag == "paragraphlabels":
        return [_result(task.name, ctl, v) for v in _paragraph(task, unit, value, steps, text_key)]
    return [_result(task.name, ctl, v) for v in _value(task, tag, value, text)]


def queue_labelstudio(queue: pd.DataFrame, spec: Spec, items: Items | None, config_xml: str) -> str:
    """A Label Studio task import: ``data`` + one prediction per annotator (``model_version`` = annotator)."""
    ctl, lists = controls(config_xml), list_keys(config_xml)
    field = spec.steps_field
    text_key = field.text_key or "text"
    by_name = {t.name: t for t in spec.tasks}
    # a judgment's results, where they depend on its task and value alone (not on the item's text or steps):
    # each distinct value is shown once (a ranking task's queue holds a few dozen distinct rankings)
    shown: dict[tuple[str, str], list[dict[str, Any]]] = {}
    tasks = []
    for row in records(queue):  # output rows
        task = by_name[row["task"]]
        text = items.fields.get(task.field or "", {}).get(row["item"], "") if items is not None else ""
        tag = ctl.get(task.name, ("", ""))[0]
        steps = _steps(items, field.name, row["item"]) if tag == "paragraphlabels" else []
        alone = task.kind != "attribution" and tag not in ("labels", "paragraphlabels")
        preds = []
        for ann, value in row["judgments"].items():
            results = shown.get((task.name, value)) if alone else None
            if results is None:
                results = _results(task, value, row["unit"], ctl, text, steps, text_key)
                if alone:
                    shown[(task.name, value)] = results
            preds.append({"model_version": ann, "result": [{"id": f"r{k}", **r} for k, r in enumerate(results)]})
        tasks.append(_json({"data": _data(spec, items, row, lists), "predictions": preds}))
    # one task per line (json's C encoder): an indented document went through its Python encoder, ~10 s for the
    # 162k queued units of 10M judgments
    return "[\n" + ",\n".join(tasks) + "\n]\n" if tasks else "[]\n"
