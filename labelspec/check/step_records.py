"""Judgments that name a step their trajectory does not have: the rows of ``step_out_of_range``.

One job: among the rows still used, find those whose step lies outside 1..N, N the length of the item's steps list
(the JSON array in the item field ``Spec.steps_field``): the unit of a per-step task when it is a plain integer
(with a leading zero, ``02``, it is no step: the same position must not be two units; a unit that is not a plain
integer, ``s3`` or ``1.0``, names no position of the list either), and the ``step`` of an attribution value when it
is not null. The rule is the one ``validate`` applies to gold and calibration rows (LS312). Steps are numbered from
1 in list order, as in the compiled Label Studio config, the review queue and the export reader. Unit texts and
attribution values are read once per distinct category and item lists once per item in use; rows are only indexed.
Items without such a list are left alone. It never opens files and never decides which reason wins:
``check.records`` marks the rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from labelspec.check.coded import category_mask, codes_of, compact, per_row, repeated, text_of
from labelspec.check.context import Items, lengths_of
from labelspec.spec.model import Spec

#: A unit read as a step position: digits only (``-1``, ``1.0``, ``s3`` are no positions).
STEP_UNIT_RE = r"[0-9]+"
NO_STEP = -1  # an attribution without a step (null): nothing to check
#: A per-step unit that is not a plain integer (``s3``, ``1.0``, ``-1``): on an item with a steps list it names no
#: step of the list (``validate`` refuses it in gold and calibration files).
NOT_A_POSITION = -3
#: Digits with a leading zero (``02``): the position 2 written so that its unit differs from ``2``'s, which would
#: make one step two units (two consensus rows for one step); excluded where the item has a steps list.
LEADING_ZERO = -2
_HUGE = int(np.iinfo(np.int64).max)  # a step too large for int64 is beyond every list
_MAX_DIGITS = 18  # every integer of up to 18 digits fits in int64

Details = Callable[[np.ndarray], np.ndarray]
StepReader = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def unit_steps(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per unit text: its step position (int64; :data:`NOT_A_POSITION` unless it is all digits) and the text
    shown in a detail (the unit as written). Vectorised over the distinct texts."""
    s = pd.Series(np.asarray(texts, dtype=object), dtype="string")
    digits = s.str.fullmatch(STEP_UNIT_RE).to_numpy(dtype=bool, na_value=False)
    short = digits & (s.str.len().to_numpy(dtype=np.int64, na_value=0) <= _MAX_DIGITS)
    steps = np.full(len(s), NOT_A_POSITION, dtype=np.int64)
    steps[digits] = _HUGE
    steps[short] = s[short].astype("int64").to_numpy()
    steps[digits & (s.str.len().to_numpy(dtype=np.int64, na_value=0) > 1) & s.str.startswith("0").to_numpy(
        dtype=bool, na_value=False)] = LEADING_ZERO
    return steps, np.asarray(texts, dtype=object)


def attribution_steps(texts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct attribution value (valid by the record contract): its ``step`` (int64; :data:`NO_STEP` when
    null) and that step as text. Each text is parsed once."""
    steps = np.full(len(texts), NO_STEP, dtype=np.int64)
    shown = repeated(len(texts), "")
    for i, text in enumerate(texts):  # distinct values: agents × steps in practice
        step = _attribution_step(str(text))
        if step is not None:
            steps[i], shown[i] = min(step, _HUGE), str(step)
    return steps, shown


def _attribution_step(text: str) -> int | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    step = data.get("step") if isinstance(data, dict) else None
    return step if isinstance(step, int) and not isinstance(step, bool) else None


def step_out_of_range(spec: Spec, df: pd.DataFrame, items: Items, ok: np.ndarray) -> list[tuple[np.ndarray, Details]]:
    """(rows mask, details of excluded rows) of each check that finds some: per-step units first, then attribution
    steps; only rows of ``ok`` are looked at."""
    field = spec.steps_field.name
    checks: list[tuple[Sequence[str], str, StepReader]] = [
        ([t.name for t in spec.tasks if t.unit == "step"], "unit", unit_steps),
        ([t.name for t in spec.tasks if t.kind == "attribution"], "value", attribution_steps),
    ]
    found: list[tuple[np.ndarray, Details]] = []
    for tasks, column, read in checks:
        if not tasks:
            continue
        _, task_cats = codes_of(df, "task")
        rows = np.flatnonzero(ok & per_row(df, "task", category_mask(task_cats, tasks)))
        hit = _out_of_range(df, rows, column, read, items.list_lengths(field), field) if rows.size else None
        if hit is not None:
            found.append(hit)
    return found


def _out_of_range(df: pd.DataFrame, rows: np.ndarray, column: str, read: StepReader, lengths: dict[str, int],
                  field: str) -> tuple[np.ndarray, Details] | None:
    """The rows of ``rows`` whose step (read from ``column``'s distinct texts) is outside 1..N of their item."""
    length = _item_lengths(df, rows, lengths)
    if not (length >= 0).any():  # no item of these rows has a list
        return None
    codes, cats = codes_of(df, column)
    used, rank = compact(codes[rows], len(cats))
    steps, shown = read(text_of(cats, used))
    step = steps[rank]
    bad = (step != NO_STEP) & (length >= 0) & ((step < 1) | (step > length))
    if not bad.any():
        return None
    bad_rows = rows[bad]
    bad_shown, bad_length = shown[rank[bad]], length[bad]
    suffix = np.select([step[bad] == LEADING_ZERO, step[bad] == NOT_A_POSITION],
                       [", written without leading zeros)", ", as plain integers)"], ")")
    mask = np.zeros(len(df), dtype=bool)
    mask[bad_rows] = True

    def details(excluded: np.ndarray) -> np.ndarray:
        at = np.searchsorted(bad_rows, excluded)  # the marker passes a sorted subset of ``bad_rows``
        text = ("step " + pd.Series(bad_shown[at], dtype=object) + " is not one of the "
                + pd.Series(bad_length[at]).astype(str) + f" steps of item field {field!r} (numbered from 1"
                + pd.Series(suffix[at], dtype=object))
        return np.asarray(text.to_numpy(dtype=object), dtype=object)

    return mask, details


def _item_lengths(df: pd.DataFrame, rows: np.ndarray, lengths: dict[str, int]) -> np.ndarray:
    """Per row of ``rows``: the length of its item's steps list, -1 when the item has none (one lookup per item)."""
    if not lengths:
        return np.full(rows.size, -1, dtype=np.int64)
    codes, cats = codes_of(df, "item")
    used, rank = compact(codes[rows], len(cats))
    return np.asarray(lengths_of(lengths, text_of(cats, used), -1)[rank], dtype=np.int64)
