"""Why a unit goes to expert review: the reasons, the policy's choice among them, and the routing.

One job: flag each unit of a task's consensus with the reasons it could need an expert (``tie``, ``low_support``,
``always_review_labels``, ``gold_conflict``, ``rule_violation``, ``span_conflict``) and route the units whose
reasons the spec's ``adjudication.expert_review`` lists. It decides no value: ``decide`` does, and calls these.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from labelspec.check.context import Context
from labelspec.check.rules import rule_items, rule_satisfied, value_labels
from labelspec.check.tables import Codes, units_on_items
from labelspec.spec.model import DEFAULT_EXPERT_REVIEW, Adjudication, Task

REASONS: tuple[str, ...] = ("tie", "low_support", "always_review_labels", "gold_conflict", "rule_violation",
                            "span_conflict")
DEFAULT_REVIEW = DEFAULT_EXPERT_REVIEW


def review_reasons(policy: Adjudication) -> tuple[tuple[str, ...], bool]:
    """The reasons that route a unit to expert review, and whether they are the default."""
    return policy.routing, not policy.expert_review


def review_labels(task: Task) -> frozenset[str]:
    """Labels with ``review: always`` and their descendants."""
    return task.with_descendants(lab.id for lab in task.labels if lab.review == "always")


def always_review(task: Task, values: np.ndarray) -> np.ndarray:
    """(U,) True where the consensus value (object texts or None) is, holds or names (an attribution's agent) a
    ``review: always`` label."""
    review = review_labels(task)
    if not review:
        return np.zeros(len(values), dtype=bool)
    texts = pd.Series(values, dtype=object, copy=False)
    flagged = [u for u in texts.dropna().unique() if review & value_labels(task.kind, str(u))]  # distinct values
    out: np.ndarray = texts.isin(flagged).to_numpy(dtype=bool)
    return out


def rule_units(task: Task, frame: pd.DataFrame, codes: Codes, ctx: Context) -> np.ndarray:
    """Unit codes with at least one judgment that breaks a rule of the task (rules need the items file)."""
    if ctx.items is None or not task.rules:
        return np.zeros(0, dtype=np.int64)
    bad = np.zeros(len(frame), dtype=bool)
    for rule in task.rules:  # a handful of rules; each is vectorised over judgments
        on = np.flatnonzero(frame["item"].isin(rule_items(rule, ctx)).to_numpy())  # shared with the rule report
        ok = rule_satisfied(rule, frame["value"].iloc[on], task.kind)
        bad[on[~ok]] = True
    return np.unique(codes.unit[bad])


def unreleased_units(codes: Codes, ctx: Context, index: pd.Index | None = None) -> np.ndarray:
    """(U,) True for units on an item no release publishes (``Context.never_released``); with ``index``, for
    the unit keys it holds (the codes' units and expert-only ones), aligned by key."""
    on = units_on_items(codes, ctx.never_released())
    if index is not None and len(on) != len(index):  # expert-only units were added: align by key
        keyed = pd.Series(on, index=pd.Index(codes.unit_keys, dtype=object))
        on = keyed.reindex(index, fill_value=False).to_numpy(dtype=bool)
    return on


def review_mask(reasons: Mapping[str, np.ndarray], policy: Adjudication, unreleased: np.ndarray, *,
                on_gold: np.ndarray, by_expert: np.ndarray) -> np.ndarray:
    """(U,) which units go to expert review: a reason the policy routes on holds (``reasons``: a mask per
    :data:`REASONS` entry), and the unit is neither settled by an expert nor one no release publishes
    (``unreleased``: another task's unit on a gold item, a calibration item's). A gold unit's answer is known:
    only a conflict with it is worth an expert's time."""
    routing, _ = review_reasons(policy)
    routed = np.zeros(len(unreleased), dtype=bool)
    for r in routing:
        routed |= reasons[r]
    routed = np.where(on_gold, routed & reasons["gold_conflict"] & ("gold_conflict" in routing), routed)
    out: np.ndarray = routed & ~unreleased & ~by_expert
    return out


def route(units: pd.DataFrame, policy: Adjudication, unreleased: np.ndarray, *, on_gold: np.ndarray | None = None,
          by_expert: np.ndarray | None = None) -> pd.DataFrame:
    """``review`` per unit (:func:`review_mask` of the frame's ``reason_*`` columns). ``on_gold``/``by_expert``:
    which units have a gold value / an expert, when the caller knows (else read from the ``gold`` and ``expert``
    columns: a pass over 3.3M objects each at 10M judgments)."""
    flags = units[[f"reason_{r}" for r in REASONS]].fillna(False).to_numpy(dtype=bool)
    on_gold = units["gold"].notna().to_numpy() if on_gold is None else on_gold
    by_expert = units["expert"].notna().to_numpy() if by_expert is None else by_expert
    return units.assign(review=review_mask({r: flags[:, i] for i, r in enumerate(REASONS)}, policy, unreleased,
                                           on_gold=on_gold, by_expert=by_expert))
