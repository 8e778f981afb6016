"""Consensus per unit for every task: the proposed value, how it was reached, and why it needs an expert.

One job: run each task's consensus method (a registry, :data:`DECIDERS`, keyed by method name; the per-method
code lives in ``decide_kinds`` and ``decide_structured``), then attach the review reasons, route units to
expert review, and apply expert decisions. It reads no files and writes nothing; ``adjudicate`` and ``release``
turn its result into files, the runner into a report section.

Methods: single_choice → ``majority`` or ``dawid_skene`` (``adjudication.method``), taxonomies →
``deepest_level``, rating → ``median``, multi_choice → ``per_label_majority``, pairwise → ``pairwise``, spans →
``span_majority``, ranking → ``borda``, anything else with a value (attribution) → ``exact_majority``; text
tasks have no consensus. ``decided_by`` is the method, ``unanimous`` when every judgment (two or more) gave the
value, ``expert`` when an expert decided, and ``None`` when there is no value.

Review reasons (:data:`REASONS`), each a boolean column ``reason_<name>``:

* ``tie`` — the method could not separate the top candidates;
* ``low_support`` — the winner's support (or posterior) is below ``adjudication.min_support``;
* ``always_review_labels`` — the proposed value is (or contains) a label with ``review: always``, or a
  descendant of one; the compiled guidelines promise annotators exactly this;
* ``gold_conflict`` — on a gold unit, the annotators' vote differs from the gold label (for Dawid–Skene the
  plain vote, computed for gold units only, since EM holds gold units at their gold label);
* ``rule_violation`` — a judgment on the unit breaks one of the task's rules (any severity);
* ``span_conflict`` — consensus spans of the unit overlap (or cross, when nesting is allowed).

Only reasons listed in ``adjudication.expert_review`` route a unit to the queue; when that list is empty,
:data:`review_routing.DEFAULT_REVIEW` (tie, low_support, always_review_labels) applies. A gold unit (its answer
is known) is routed only for ``gold_conflict``; a unit no release publishes (another task's unit on a gold item,
a calibration item's) is never routed (``review_routing``). Expert decisions: the judgments of roster annotators
with role ``expert`` (``Accounting.expert``) override the consensus of their unit; with
several, the latest (by timestamp, then annotator id) wins, and a unit whose experts gave different values is
marked ``expert_conflict`` (counted in the report). An expert-decided unit is never routed again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import compress
from typing import Any

import numpy as np
import pandas as pd

from labelspec.check import decide_kinds as kinds
from labelspec.check import decide_structured as structured
from labelspec.check.analyze import TaskAnalysis
from labelspec.check.coded import repeated, task_rows
from labelspec.check.context import Context
from labelspec.check.records import Accounting
from labelspec.check.review_routing import (
    REASONS,
    always_review,
    review_mask,
    review_reasons,
    route,
    rule_units,
    unreleased_units,
)
from labelspec.check.tables import UNIT_SEP, Codes, cell_keys, dense_units, row_totals
from labelspec.check.task_parse import TaskParses, task_codes
from labelspec.spec.model import Adjudication, Spec, Task

DECIDERS: dict[str, kinds.Decider] = {
    "majority": kinds.majority, "dawid_skene": kinds.dawid_skene_consensus, "median": kinds.median,
    "per_label_majority": kinds.per_label, "pairwise": kinds.pairwise, "deepest_level": kinds.taxonomy,
    "exact_majority": kinds.exact, "span_majority": structured.spans, "borda": structured.ranking,
}
_BY_KIND = {"multi_choice": "per_label_majority", "rating": "median", "pairwise": "pairwise",
            "spans": "span_majority", "ranking": "borda"}


def consensus_method(task: Task, policy: Adjudication) -> str | None:
    """The :data:`DECIDERS` key for a task, ``None`` for free text (no consensus)."""
    if task.kind == "text":
        return None
    if task.kind == "single_choice":
        return "deepest_level" if task.is_taxonomy else ("dawid_skene" if policy.method == "dawid_skene"
                                                         else "majority")
    return _BY_KIND.get(task.kind, "exact_majority")


@dataclass(frozen=True)
class UnitCounts:
    """What the report's consensus section says of one task's units: how many, decided by what, flagged for
    which reason, routed to review, and what experts changed."""

    units: int
    decided: int
    decided_by: dict[str, int]  # method, "unanimous", "expert"; "undecided" for units without a value
    reasons: dict[str, int]  # units per review reason (:data:`REASONS`), before experts
    routed: int
    experts: int = 0  # units an expert decided
    expert_changed: int = 0  # of those, units whose consensus value the expert changed
    expert_conflicts: int = 0  # units whose experts gave different values


@dataclass(frozen=True)
class Decisions:
    """One row per (task, item, unit) across tasks, plus each task's method and model details."""

    units: pd.DataFrame
    methods: dict[str, str]
    models: dict[str, dict[str, Any]]
    routing: tuple[str, ...]
    routing_is_default: bool
    details: dict[str, Callable[[np.ndarray], list[dict[str, Any]]] | None] = field(default_factory=dict)
    #: Per task, when ``decide_task`` counted them from its masks (no expert decisions); else counted from the rows.
    counts: dict[str, UnitCounts | None] = field(default_factory=dict)
    #: Per task, the unit (``pos``) of each of its used judgments in row order, when known (:class:`TaskDecision`).
    judgment_units: dict[str, np.ndarray | None] = field(default_factory=dict)

    def detail(self, rows: pd.DataFrame) -> list[dict[str, Any] | None]:
        """Method details (posterior, Borda scores …) of the given unit rows, built now (a loop over tasks)."""
        out: list[dict[str, Any] | None] = [None] * len(rows)
        pos = rows["pos"].to_numpy(dtype=np.int64)
        tasks = rows["task"].to_numpy(dtype=object)
        for name, build in self.details.items():
            where = np.flatnonzero((tasks == name) & (pos >= 0))
            if build is not None and where.size:
                for i, d in zip(where.tolist(), build(pos[where]), strict=True):
                    out[i] = d
        return out

    @property
    def routed(self) -> pd.DataFrame:
        return self.units[self.units["review"].to_numpy(dtype=bool)]

    def section(self) -> dict[str, Any]:
        """The ``consensus`` section of the check report: per task counts and model, plus a text summary."""
        counted: list[tuple[str, str, dict[str, Any], UnitCounts]] = []
        # only the columns the counts read (3.3M units at 10M judgments: a filtered copy of every column
        # was the check's high-water mark); with one task every unit row is its own (``combine``): no copy and
        # no 3.3M text comparisons
        one = len(self.methods) == 1
        used: pd.DataFrame | None = None
        for name, method in self.methods.items():  # a loop over tasks
            counts = self.counts.get(name)
            if counts is None:
                if used is None:
                    used = self.units if one else self.units[["task", "decided_by", "value", "proposed", "review",
                                                              "expert_conflict", *(f"reason_{r}" for r in REASONS)]]
                mine = None if one else (used["task"] == name).to_numpy(dtype=bool)
                counts = count_rows(used if mine is None or mine.all() else used[mine])
            counted.append((name, method, self.models[name], counts))
        return consensus_section(self.routing, self.routing_is_default, counted)


def consensus_section(routing: tuple[str, ...], routing_is_default: bool,
                      tasks: Sequence[tuple[str, str, dict[str, Any], UnitCounts]]) -> dict[str, Any]:
    """The report's ``consensus`` section from each task's name, method, model and counts (in spec order)."""
    out: dict[str, Any] = {}
    lines: list[str] = []
    for name, method, model, counts in tasks:
        out[name], line = _task_section(name, counts, method, model, routing)
        lines.append(line)
    note = " (default)" if routing_is_default else ""
    lines.append(f"expert review on: {', '.join(routing)}{note}")
    return {"review_reasons": list(routing), "review_reasons_default": routing_is_default, "tasks": out,
            "summary": lines}


def count_rows(g: pd.DataFrame) -> UnitCounts:
    """:class:`UnitCounts` of one task's unit rows (with expert decisions: ``decide_task`` counts the others)."""
    reasons = {r: int(g[f"reason_{r}"].sum()) for r in REASONS}
    # the few distinct texts of 3.3M units (10M judgments) coded once, then counted and compared as integers
    kind, names = pd.factorize(g["decided_by"].to_numpy(dtype=object), use_na_sentinel=True)
    counted = np.bincount(kind + 1, minlength=len(names) + 1)  # slot 0: no value (undecided)
    by = {str(n): int(c) for n, c in zip(names, counted[1:], strict=True)} | (
        {"undecided": int(counted[0])} if counted[0] else {})
    by_expert = np.isin(kind, np.flatnonzero(np.asarray(names, dtype=object) == "expert"))
    experts, changed = int(by_expert.sum()), 0
    # an expert who changed a consensus value (not one who settled a tie or decided a unit nobody else
    # judged), compared on the experts' units only (3.3M object comparisons at 10M judgments otherwise)
    if experts:
        proposed = g["proposed"].to_numpy(dtype=object)[by_expert]
        changed = int((pd.notna(proposed) & (proposed != g["value"].to_numpy(dtype=object)[by_expert])).sum())
    return UnitCounts(units=len(g), decided=int(g["value"].notna().sum()), decided_by=by, reasons=reasons,
                      routed=int(g["review"].sum()), experts=experts, expert_changed=changed,
                      expert_conflicts=int(g["expert_conflict"].sum()))


def _task_section(name: str, counts: UnitCounts, method: str, model: dict[str, Any], routing: tuple[str, ...]
                  ) -> tuple[dict[str, Any], str]:
    reasons, routed, experts = counts.reasons, counts.routed, counts.experts
    changed, conflicts, n = counts.expert_changed, counts.expert_conflicts, counts.units
    d = {"method": method, "units": n, "decided": counts.decided,
         "decided_by": dict(sorted(counts.decided_by.items())), "reasons": dict(reasons),
         "routed_to_review": routed, "expert_changed": changed, "expert_conflicts": conflicts, "model": model}
    fit = ""
    if "converged" in model:
        state = "converged" if model["converged"] else "did not converge"
        fit = f" ({state} after {model['iterations']} iterations)"
    why = ", ".join(f"{r} {reasons[r]}" for r in routing if reasons[r])
    units = f"{n} unit{'' if n == 1 else 's'}"
    notes = [f"{changed} changed the consensus"] if changed else []
    notes += [f"{conflicts} where experts disagree: the latest decision stands"] if conflicts else []
    # flagged counts every unit a routing reason holds for, before experts and gold items included; the units
    # still waiting are those the experts have not decided (the line read "2 to expert review (… 88 …)")
    line = (f"{name}: {units} by {method}{fit}; " + (f"flagged {why}; " if why else "")
            + (f"{experts} decided by experts" + (f" ({'; '.join(notes)})" if notes else "") + "; " if experts else "")
            + f"{routed} {'still ' if experts else ''}to expert review")
    return d, line


def reason_lists(frame: pd.DataFrame) -> list[list[str]]:
    """The reasons of each row, in :data:`REASONS` order (built row by row for output only)."""
    flags = frame[[f"reason_{r}" for r in REASONS]].to_numpy(dtype=bool).tolist()
    return [list(compress(REASONS, row)) for row in flags]


def _gold_for(spec: Spec, task: Task, ctx: Context) -> dict[str, str]:
    g = ctx.gold
    name = g["task"].where(g["task"] != "", spec.tasks[0].name) if len(spec.tasks) == 1 else g["task"]
    g = g[name == task.name]
    key = g["item"] + (UNIT_SEP + g["unit"] if task.unit == "step" else "")
    # as lists: iterating Arrow strings one by one took ~0.1 s for the 66k gold units of the benchmark
    return dict(zip(key.tolist(), kinds.canonical(task, g["label"].astype(str)).tolist(), strict=True))


def _unanimous(codes: Codes, value: np.ndarray, counts: np.ndarray | None = None,
               winner: np.ndarray | None = None) -> np.ndarray:
    """Every judgment of the unit (two or more) gave the proposed value (``counts``: the decider's unit table;
    ``winner``: the value's category codes, compared instead of the texts)."""
    n_units, _, k = codes.shape
    if dense_units(codes):  # labels: one count table
        table = codes.unit_table if counts is None else counts
        n = row_totals(table)
        if winner is not None and k:  # every judgment gave the winner: its count is the unit's (one gather, not
            # two more reductions along the short axis of 3.3M rows)
            hit = np.take_along_axis(table, np.maximum(winner, 0)[:, None], axis=1)[:, 0]
            unanimous: np.ndarray = (winner >= 0) & (n >= 2) & (hit == n)
            return unanimous
        distinct, only = (table > 0).sum(axis=1), table.argmax(axis=1)
    else:  # a category per distinct value: the (unit, category) pairs that occur
        pairs, _ = kinds.key_counts(cell_keys(codes.unit, codes.category, max(k, 1)))
        distinct = np.bincount(pairs // max(k, 1), minlength=n_units)
        only = np.full(n_units, -1, dtype=np.int64)
        only[pairs // max(k, 1)] = pairs % max(k, 1)
        n = np.bincount(codes.unit, minlength=n_units)
    if winner is not None:
        same = only == winner
    else:
        same = kinds.pick(codes.categories, np.where(distinct == 1, only, -1)) == value
    out: np.ndarray = (distinct == 1) & (n >= 2) & same
    return out


def _expert(task: Task, expert: pd.DataFrame) -> pd.DataFrame:
    """The latest expert judgment per unit: key, value, annotator, and whether the unit's experts disagree
    (``conflict``: two or more distinct canonical values)."""
    rows = expert[expert["task"] == task.name]
    key = rows["item"].astype(str) + (UNIT_SEP + rows["unit"].astype(str) if task.unit == "step" else "")
    rows = rows.assign(value=kinds.canonical(task, rows["value"]), key=key)
    rows = rows.sort_values(["key", "when", "annotator"], kind="stable", na_position="first")
    conflict = rows.groupby("key", sort=False)["value"].nunique() > 1
    latest = rows.drop_duplicates("key", keep="last").set_index("key")[["item", "unit", "value", "annotator"]]
    return latest.assign(conflict=conflict.reindex(latest.index).to_numpy(dtype=bool))


def _apply_experts(units: pd.DataFrame, experts: pd.DataFrame, method: str) -> pd.DataFrame:
    if experts.empty:  # the usual case: no lookups into millions of unit keys
        units["proposed"] = units["value"]
        units["expert"] = pd.Series(np.full(len(units), None, dtype=object), index=units.index, dtype=object,
                                    copy=False)
        units["expert_conflict"] = False
        return units
    missing = experts.index.difference(units.index)
    if len(missing):
        add = experts.loc[missing, ["item", "unit"]].assign(
            value=None, method=method, support=np.nan, n_judgments=0, tie=False, low_support=False,
            span_conflict=False, pos=-1)
        units = pd.concat([units, add[[*kinds.UNIT_COLUMNS, "pos"]]]).sort_index()
        flags = [f"reason_{r}" for r in REASONS if f"reason_{r}" in units.columns]
        units[flags] = units[flags].fillna(False).astype(bool)  # an expert-only unit has no review reason
    units["proposed"] = units["value"]
    units["expert"] = pd.Series(experts["annotator"], dtype=object).reindex(units.index)
    units["expert_conflict"] = experts["conflict"].reindex(units.index, fill_value=False).to_numpy(dtype=bool)
    decided = units["expert"].notna().to_numpy()
    units.loc[decided, "value"] = experts["value"].reindex(units.index)[decided]
    # reindexing and expert-only rows leave NaN in text columns: None, never NaN (the deciders write None)
    for col in ("value", "proposed", "gold", "expert"):
        units[col] = units[col].astype(object).where(units[col].notna(), None)
    return units


def decide_task(spec: Spec, task: Task, frame: pd.DataFrame, expert: pd.DataFrame, ctx: Context, *,
                codes: Codes | None = None, parses: TaskParses | None = None, details: bool = True,
                em_threads: int | None = None, rows: bool = True
                ) -> tuple[pd.DataFrame | None, kinds.KindResult, UnitCounts | None, np.ndarray | None]:
    """One task's units with value, evidence, reasons and routing (see the module docstring), their counts,
    and the unit (its ``pos``) of each row of ``frame`` when known.

    ``codes`` may pass the task's label codes from its analysis (same rows, coded by ``task.label_ids``), so
    the judgments are not encoded twice; ``parses`` (the check run's) does so for spans and ranking tasks.
    ``details=False``: the result has no per-unit details, dropped before the units' columns are built.
    ``em_threads``: threads for Dawid–Skene's EM (``KindInput.em_threads``).
    Without expert decisions the counts come from the per-unit masks (:class:`UnitCounts`), and with
    ``rows=False`` no frame is made at all (None; a plain check reads the counts only); with expert
    decisions the frame is always made and the counts are None (``count_rows`` counts them from it).
    """
    method = consensus_method(task, spec.adjudication)
    assert method is not None
    lengths = ctx.field_lengths(task.field)
    coded = task_codes(task, frame, lengths, parses, codes)
    frame, codes, spans = coded.frame, coded.codes, coded.spans
    gold = _gold_for(spec, task, ctx)
    inp = kinds.KindInput(task, frame, codes, gold, spec.adjudication, lengths, spans, em_threads)
    result = DECIDERS[method](inp)
    if not details:  # what they hold (Dawid–Skene's posteriors: 107 MB at 10M judgments) goes now
        result = replace(result, detail=None)
    cols = result.units
    n = len(cols)
    # a tied unit has no value until an expert decides it, whatever the kind: a median between two scale points,
    # a label or span cluster chosen by exactly half, options nobody ordered would otherwise be released
    tied = cols.tie
    value = cols.value
    if tied.any():
        value = value.copy()
        value[tied] = None
    # a value is a category's name or None: with the winning codes, which units have none is known without a
    # pass over 3.3M objects (pandas' isna on them: ~0.2 s at 10M judgments)
    no_value = tied | (result.winner < 0) if result.winner is not None else np.asarray(pd.isna(value), dtype=bool)
    unanimous = _unanimous(codes, value, result.counts, result.winner)
    gold_col, on_gold = _gold_column(inp)
    vote = value[on_gold] if result.vote is None else result.vote(on_gold)
    result = replace(result, counts=None, winner=None, vote=None)  # not kept past here (G13's memory bound)
    conflict = np.zeros(n, dtype=bool)
    conflict[on_gold] = vote != gold_col[on_gold]
    reasons = {"tie": tied, "low_support": cols.low_support, "always_review_labels": always_review(task, value),
               "gold_conflict": conflict, "rule_violation": np.isin(np.arange(n), rule_units(task, frame, codes, ctx)),
               "span_conflict": cols.span_conflict}
    experts = _expert(task, expert)
    # each row's unit (the ``pos`` of its unit), when the codes are of exactly the rows given and the decider's
    # units are theirs, one per code (a release joins the judgments to their rows by it)
    rows_units = codes.unit if len(codes.unit) == len(frame) and n == codes.n_units else None
    counts, review = None, None
    if experts.empty:  # the usual case: counted from the masks, decided_by being the method, "unanimous" or None
        has_gold = _gold_mask(n, on_gold, gold_col)
        review = review_mask(reasons, spec.adjudication, unreleased_units(codes, ctx) & ~has_gold,
                             on_gold=has_gold, by_expert=np.zeros(n, dtype=bool))
        undecided, agreed = int(no_value.sum()), int((unanimous & ~no_value).sum())
        by = {method: n - undecided - agreed, "unanimous": agreed, "undecided": undecided}
        counts = UnitCounts(units=n, decided=n - undecided, decided_by={k: c for k, c in by.items() if c},
                            reasons={r: int(reasons[r].sum()) for r in REASONS}, routed=int(review.sum()))
        if not rows:
            return None, result, counts, rows_units
    units = cols.frame().assign(pos=np.arange(n))
    if tied.any():
        units["value"] = pd.Series(value, index=units.index, dtype=object, copy=False)
    units["decided_by"] = _texts(units.index, method, unanimous, "unanimous")
    for r in REASONS:
        units[f"reason_{r}"] = reasons[r]
    units["gold"] = pd.Series(gold_col, index=units.index, dtype=object, copy=False)
    units = _apply_experts(units, experts, method)
    has_gold, by_expert, no_value = _unit_masks(units, (on_gold, gold_col, no_value) if experts.empty else None)
    by = units["decided_by"].to_numpy(dtype=object).copy()
    by[by_expert] = "expert"
    by[no_value] = None  # one object column, written once (3.3M rows at 10M judgments)
    units["decided_by"] = pd.Series(by, index=units.index, dtype=object, copy=False)
    named = pd.Series(repeated(len(units), task.name), index=units.index, dtype=object,  # not inferred as str
                      copy=False)
    if review is not None:  # no expert: the units and their masks are the ones counted above
        return units.assign(task=named, review=review), result, counts, rows_units
    unreleased = unreleased_units(codes, ctx, units.index) & ~has_gold
    return route(units.assign(task=named), spec.adjudication, unreleased, on_gold=has_gold,
                 by_expert=by_expert), result, counts, rows_units


def _gold_mask(n: int, on_gold: np.ndarray, gold_col: np.ndarray) -> np.ndarray:
    """(n,) which units have a gold value, from the positions that have one in the gold column."""
    has_gold = np.zeros(n, dtype=bool)
    has_gold[on_gold] = pd.notna(gold_col[on_gold])
    return has_gold


def _unit_masks(units: pd.DataFrame, known: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which units have a gold value, an expert, no value: each found once (a pass over 3.3M objects apiece at
    10M judgments, and routing read two of them again). ``known``: the gold positions, gold column and the
    units without a value before experts, when no expert changed them (no expert at all): the answer without
    a pass."""
    if known is None:
        return (units["gold"].notna().to_numpy(), units["expert"].notna().to_numpy(),
                units["value"].isna().to_numpy())
    on_gold, gold_col, no_value = known
    return _gold_mask(len(units), on_gold, gold_col), np.zeros(len(units), dtype=bool), no_value


def _texts(index: pd.Index, fill: str, mask: np.ndarray, text: str) -> pd.Series:
    """An object column of ``fill`` with ``text`` where ``mask`` (no fixed-width numpy strings in between)."""
    out = repeated(len(index), fill)
    out[mask] = text
    return pd.Series(out, index=index, dtype=object, copy=False)  # its own array: not copied again


def _gold_column(inp: kinds.KindInput) -> tuple[np.ndarray, np.ndarray]:
    """(U,) gold value or None, and the positions that have one: gold keys found in the sorted unit keys."""
    pos = inp.gold_positions
    col = np.full(inp.codes.n_units, None, dtype=object)
    found = pos >= 0
    col[pos[found]] = np.array(list(inp.gold.values()), dtype=object)[found] if found.any() else []
    return col, np.sort(pos[found])


@dataclass(frozen=True)
class TaskDecision:
    """One task's share of :class:`Decisions` (its units numbered from 0), as :func:`decide_one` returns it."""

    task: str
    units: pd.DataFrame | None  # None: decided without rows (``decide_one(rows=False)``), counted only
    method: str
    model: dict[str, Any]
    detail: Callable[[np.ndarray], list[dict[str, Any]]] | None
    counts: UnitCounts | None = None  # decide_task's counts for the report (None: counted from the rows)
    #: The unit (``pos``) of each of the task's used judgments, in row order, when the details were asked for
    #: (a release joins its judgments to its rows by it); None otherwise or when unknown.
    judgment_units: np.ndarray | None = None


def decide_one(spec: Spec, task: Task, acc: Accounting, ctx: Context, *, codes: Codes | None = None,
               parses: TaskParses | None = None, details: bool = True, em_threads: int | None = None,
               rows: bool = True) -> TaskDecision | None:
    """One task's consensus, reasons and routing (``None`` for a task without a consensus method): the runner
    calls it as soon as the task's codes exist, on a second core, while the agreement of the task goes on.
    ``details=False`` drops the per-unit details (a plain check reads none: at 10M judgments Dawid–Skene's
    posteriors alone are 107 MB, held beside the hotspots at the check's memory peak). ``em_threads``: as for
    :func:`decide_task`; ``rows=False``: its counts without the per-unit rows, whenever no expert decided one
    (what a plain check's report needs: :func:`section_of`)."""
    method = consensus_method(task, spec.adjudication)
    if method is None:
        return None
    used = task_rows(acc.used, task.name, ["item", "unit", "annotator", "value"])
    units, result, counts, rows_units = decide_task(spec, task, used, acc.expert, ctx, codes=codes, parses=parses,
                                                    details=details, em_threads=em_threads, rows=rows)
    keyed = None
    if units is not None:
        # the key column as object texts: reset_index would convert the index to pandas' string dtype, 0.3 s for
        # the 3.3M unit keys of 10M judgments, read by nothing that needs it
        keyed = units.reset_index(drop=True)
        keyed.insert(0, "key", pd.Series(units.index.to_numpy(dtype=object), dtype=object, copy=False))
    return TaskDecision(task.name, keyed, method, result.model, result.detail, counts,
                        rows_units if details else None)


def section_of(spec: Spec, parts: Sequence[TaskDecision | None]) -> dict[str, Any]:
    """The report's ``consensus`` section from the tasks' decisions, with or without their rows (the same as
    ``combine(spec, parts).section()``, which needs every task's rows)."""
    routing, default = review_reasons(spec.adjudication)
    counted: list[tuple[str, str, dict[str, Any], UnitCounts]] = []
    for p in parts:
        if p is None:
            continue
        if p.counts is None and p.units is None:
            raise ValueError(f"task {p.task!r} was decided with neither counts nor rows")
        counts = p.counts if p.counts is not None else count_rows(p.units)
        counted.append((p.task, p.method, p.model, counts))
    return consensus_section(routing, default, counted)


def combine(spec: Spec, parts: Sequence[TaskDecision | None]) -> Decisions:
    """The tasks' decisions as one :class:`Decisions`, in the order given (the spec's task order); every task
    decided with its rows (``decide_one(rows=True)``)."""
    done = [p for p in parts if p is not None]
    frames = [p.units for p in done if p.units is not None]
    if len(frames) != len(done):
        raise ValueError("combine needs every task's rows: decide them with rows=True")
    routing, default = review_reasons(spec.adjudication)
    columns = ["task", "item", "unit", "key", "value", "proposed", "decided_by", "method", "support",
               "n_judgments", "tie", "low_support", "gold", "expert", "expert_conflict", "span_conflict", "pos",
               *[f"reason_{r}" for r in REASONS], "review"]
    if len(frames) == 1:  # one task (numbered from 0): no copy of 3.3M unit rows at 10M judgments
        units = frames[0][columns]
    else:
        units = pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)
    # order: spec task order, then unit key (sorted codes), which orders by item, then step
    units["pos"] = units["pos"].astype(np.int64)
    return Decisions(units=units, methods={p.task: p.method for p in done},
                     models={p.task: p.model for p in done}, routing=routing, routing_is_default=default,
                     details={p.task: p.detail for p in done}, counts={p.task: p.counts for p in done},
                     judgment_units={p.task: p.judgment_units for p in done})


def decide_all(spec: Spec, acc: Accounting, ctx: Context, *,
               analyses: Mapping[str, TaskAnalysis] | None = None, parses: TaskParses | None = None) -> Decisions:
    """Consensus, reasons and routing for every task with a consensus method (loops over tasks only).

    ``analyses`` (optional) lends its integer codes to label-coded tasks, ``parses`` its parsed spans and
    ranking tasks (by default the tasks are parsed here, from the accounting's parse of the span texts).
    """
    lent = {name: a.codes for name, a in (analyses or {}).items()}
    parses = parses if parses is not None else TaskParses(acc.span_parses)
    return combine(spec, [decide_one(spec, task, acc, ctx, codes=lent.get(task.name), parses=parses)
                          for task in spec.tasks])
