"""Agreement for structured task kinds (spans, ranking, attribution), taxonomies and step chains.

Wires the coefficient modules (``spans``, ``ranking``, ``taxonomy``, ``trajectory``) into a :class:`TaskAnalysis`,
so gates, reports, adjudication and release treat them like any other task. Span and ranking values are parsed
once per distinct canonical value, and the span set, matchings and rank block are built once per analysis
(``structured_metrics``), never once per judgment or per interval block.

Intervals, with the spec's seed, level and replicate count (``quality.bootstrap``), at any size; no coefficient
is recomputed on resampled rows. Span F1, character α, Kendall's W, the mean τ-b and the preference α are
evaluated from per-item sums for each resample of items (up to ``structured_metrics.ITEM_BOOTSTRAP_ROWS``
judgments) or of hashed item blocks (``structured_metrics``); first-error and attribution agreement are
resampled exactly as items from their distinct count rows (``trajectory_intervals``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import numpy as np
import pandas as pd

from labelspec.check.analyze import TaskAnalysis, analyze_choice
from labelspec.check.coded import codes_of
from labelspec.check.context import Context
from labelspec.check.decide_kinds import membership
from labelspec.check.estimate import Estimate
from labelspec.check.spans import span_findings, summarize_findings
from labelspec.check.step_records import unit_steps
from labelspec.check.structured_metrics import (
    SpanWork,
    canonical_values,
    rank_work,
    ranking_intervals,
    ranking_point,
    span_intervals,
    span_point,
    span_work,
)
from labelspec.check.tables import units_on_items
from labelspec.check.task_parse import PARSED_KINDS, ParsedTask, TaskParses, restrict
from labelspec.check.taxonomy import depth_agreement, set_depth_agreement
from labelspec.check.trajectory import (
    FirstErrors,
    attribution_agreement,
    first_error_agreement,
    first_error_steps,
)
from labelspec.check.trajectory_intervals import attribution_intervals, first_error_intervals
from labelspec.spec.model import BootstrapPolicy, Spec, Task

STRUCTURED_KINDS = frozenset({"spans", "ranking", "attribution"})

def _attribution_arrays(task: Task, frame: pd.DataFrame) -> tuple[np.ndarray, ...]:
    parsed = {v: json.loads(v) for v in frame["value"].unique()}
    agents = {label: i for i, label in enumerate(task.label_ids)}
    agent = frame["value"].map(lambda v: agents[parsed[v]["agent"]]).to_numpy(dtype=np.int64)
    step = frame["value"].map(lambda v: -1 if parsed[v]["step"] is None else parsed[v]["step"]).to_numpy(np.int64)
    item = pd.factorize(frame["item"])[0]
    annotator = pd.factorize(frame["annotator"])[0]
    return item, annotator, agent, step


def _attribution_point(task: Task, frame: pd.DataFrame, arrays: tuple[np.ndarray, ...] | None = None
                       ) -> dict[str, Estimate]:
    """``arrays``: ``_attribution_arrays(task, frame)`` when the caller has them already."""
    r = attribution_agreement(*(arrays if arrays is not None else _attribution_arrays(task, frame)))
    return {"attribution_agent_alpha": r.agent_alpha, "percent_agreement": r.agent_percent,
            "attribution_agent_step_alpha": r.agent_step_alpha,
            "attribution_agent_step_percent": r.agent_step_percent}


def _first_errors(task: Task, frame: pd.DataFrame, steps: dict[str, int]) -> FirstErrors:
    """Each (item, annotator)'s first error. ``steps`` (item → N, the length of its steps list): on such an item
    a unit that is a plain integer is the step's position 1..N (other units are left out) and "none" needs all N
    steps judged; other items number the steps judged, in the order of their numeric units
    (docs/statistics.md)."""
    item, names = pd.factorize(frame["item"])
    per_item = (pd.Series(np.asarray(names, dtype=object)).map(steps).to_numpy(dtype=np.float64, na_value=np.nan)
                if steps else np.full(len(names), np.nan))
    n_list = per_item[item]
    listed = ~np.isnan(n_list)
    codes, cats = codes_of(frame, "unit")  # each distinct unit read once: as a position, as a number
    texts = np.asarray(cats, dtype=object)
    plain = unit_steps(texts)[0][codes] if len(texts) else np.zeros(0, np.int64)
    numeric = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce").to_numpy(dtype=np.float64)[codes]
    ok = np.where(listed, (plain >= 1) & (plain <= np.nan_to_num(n_list)), ~np.isnan(numeric))
    item, listed, n_list = pd.factorize(item[ok])[0], listed[ok], n_list[ok]
    # unlisted items: 0-based dense positions within the item, whatever the numbering (1-based, gaps)
    dense = pd.Series(numeric[ok]).groupby(item).rank(method="dense").to_numpy(dtype=np.float64) - 1
    position = np.where(listed, plain[ok] - 1, dense).astype(np.int64)
    length = np.zeros(int(item.max(initial=-1)) + 1, dtype=np.int64)
    np.maximum.at(length, item, position + 1)
    length[item[listed]] = n_list[listed].astype(np.int64)
    f = frame[ok]
    return first_error_steps(item, pd.factorize(f["annotator"])[0], position,
                             ~f["value"].isin(sorted(task.with_descendants(task.error_labels))).to_numpy(), n_steps=length)


def _first_error_point(errors: FirstErrors) -> dict[str, Estimate]:
    r = first_error_agreement(errors)
    return {"first_error_exact": r.exact, "first_error_within_one": r.within_one,
            "first_error_alpha": r.alpha_interval}


def _first_error_agreement(task: Task, frame: pd.DataFrame, steps: dict[str, int], boot: BootstrapPolicy
                           ) -> dict[str, Estimate]:
    """First-error agreement of step chains, with intervals from exact item resampling of their count rows."""
    errors = _first_errors(task, frame, steps)
    point = _first_error_point(errors)
    return first_error_intervals(errors, point, boot) if boot.replicates else point


def _extra_spans(task: Task, work: SpanWork, parsed: ParsedTask | None) -> tuple[dict[str, object],
                                                                                dict[str, Estimate]]:
    """Pooled F1, per-label character α and boundary-vs-type findings (with example items)."""
    f1, alpha, codes = work.f1_overlap, work.alpha, work.inp.codes
    if parsed is not None and parsed.spans is not None:
        found = summarize_findings(parsed.findings())
    else:
        found = span_findings(work.sset, matches=work.overlap)
    return {
        "span_f1_overlap_pooled": f1.pooled.value,
        "per_label_char_alpha": {lab: est.value for lab, est in zip(task.label_ids, alpha.per_label, strict=True)},
        "span_findings": {
            "boundary_disagreements": int(found.boundary_count), "type_disagreements": int(found.type_count),
            "boundary_examples": [str(u) for u in codes.units_at(np.asarray(found.boundary_units, dtype=np.int64))[0]],
            "type_examples": [str(u) for u in codes.units_at(np.asarray(found.type_units, dtype=np.int64))[0]],
            "confused_label_pairs": [  # most confused first, then label order
                {"labels": [task.label_ids[a], task.label_ids[b]], "count": int(n)} for n, a, b in sorted(
                    ((int(n), a, b) for (a, b), n in zip(found.type_pairs.tolist(), found.type_pair_counts,
                                                         strict=True)), key=lambda t: (-t[0], t[1], t[2]))],
        },
    }, {lab: est for lab, est in zip(task.label_ids, f1.per_label, strict=True)}


def _taxonomy_extra(task: Task, analysis: TaskAnalysis) -> dict[str, object]:
    c, keep = analysis.codes, ~analysis.gold_mask if analysis.gold_mask is not None else None
    if c is None or keep is None:
        return {}
    parent = np.array(task.parent_codes, dtype=np.int64)
    if task.kind == "multi_choice":  # categories are label sets: each set coarsened label by label
        depths = set_depth_agreement(c.unit[keep], c.category[keep], membership(task, c.categories), parent)
    elif task.kind == "single_choice":  # categories are the labels themselves
        depths = depth_agreement(c.unit[keep], c.category[keep], parent)
    else:  # other kinds' answers are not the labels the tree nests
        return {}
    return {"agreement_by_depth": [{"depth": d.depth, "categories": d.n_categories, "alpha": d.alpha.value,
                                    "percent": d.percent.value} for d in depths]}


def _structured_agreement(task: Task, scored: pd.DataFrame, lengths: dict[str, int], boot: BootstrapPolicy,
                          parsed: ParsedTask | None = None
                          ) -> tuple[dict[str, Estimate], dict[str, Estimate], dict[str, object]]:
    """Agreement (with intervals), per-label estimates and details of a spans, ranking or attribution task.

    Spans and rankings are parsed, matched and measured once (``parsed``: the scored rows, parsed already); their
    intervals come from the same work."""
    per_label: dict[str, Estimate] = {}
    details: dict[str, object] = {}
    intervals: Callable[[dict[str, Estimate]], dict[str, Estimate]]
    if task.kind == "spans":
        work = span_work(task, scored, lengths, parsed)
        point = span_point(work)
        intervals = lambda p: span_intervals(work, p, boot)  # noqa: E731
        details, per_label = _extra_spans(task, work, parsed)
    elif task.kind == "ranking":
        ranked = rank_work(task, scored, parsed)
        point = ranking_point(ranked)
        intervals = lambda p: ranking_intervals(ranked, p, boot)  # noqa: E731
    else:
        arrays = _attribution_arrays(task, scored)  # each distinct value parsed once, for both
        point = _attribution_point(task, scored, arrays)
        intervals = lambda p: attribution_intervals(arrays[0], arrays[2], arrays[3], p, boot)  # noqa: E731
    return (intervals(point) if boot.replicates else point), per_label, details


def _scored(task: Task, frame: pd.DataFrame, gold_units: set[str], lengths: dict[str, int],
            parses: TaskParses | None) -> tuple[pd.DataFrame, ParsedTask | None]:
    """The judgments agreement is measured on (gold items left out), values canonical, and (spans and ranking)
    their parse: the whole task's (shared with the check's other stages through ``parses``), restricted."""
    if task.kind not in PARSED_KINDS:
        scored = frame[~frame["item"].isin(_items(gold_units))]
        return scored.assign(value=canonical_values(task, scored["value"])), None
    parses = parses or TaskParses()
    whole = parses.get(task, frame, lengths)
    if whole.spans is not None:  # matched once over all units: the hotspots use them, agreement restricts them
        if parses.side is not None:
            whole.find_beside(parses.side)  # the disagreements found on the consensus thread meanwhile
        else:
            whole.findings()
    keep = ~units_on_items(whole.codes, _items(gold_units))  # by the item lookup: no unit's text made
    parsed = restrict(whole, keep)
    return parsed.frame, parsed


def analyze_structured(frame: pd.DataFrame, task: Task, spec: Spec, *, ctx: Context, gold_units: set[str],
                       boot: BootstrapPolicy, parses: TaskParses | None = None) -> TaskAnalysis:
    """Agreement for structured kinds, and the extra coefficients of step chains and taxonomies.

    ``parses`` (the check run's) shares the parse of spans and ranking tasks with consensus and hotspots."""
    if task.kind not in STRUCTURED_KINDS:
        base = analyze_choice(frame, task, gold_units=gold_units, min_per_unit=spec.quality.annotations_per_item,
                              boot=boot)
        agreement, extra = dict(base.agreement), dict(base.extra)
        if task.error_labels:
            chains = frame[~frame["item"].isin(_items(gold_units))]
            steps = ctx.items.list_lengths(spec.steps_field.name) if ctx.items is not None else {}
            agreement.update(_first_error_agreement(task, chains, steps, boot))
        if task.is_taxonomy:
            extra.update(_taxonomy_extra(task, base))
        return dataclasses.replace(base, agreement=agreement, extra=extra)
    lengths = ctx.field_lengths(task.field)
    scored, parsed = _scored(task, frame, gold_units, lengths, parses)
    agreement, per_label, details = _structured_agreement(task, scored, lengths, boot, parsed) if len(scored) else (
        {}, {}, {})
    if parsed is not None and task.unit != "step":  # one unit per item: the codes count them already
        per_unit, n_annotators = np.bincount(parsed.codes.unit), len(parsed.codes.annotators)
    else:
        item, step = scored["item"].astype(str), scored["unit"].astype(str)  # coded columns: to text first
        units = item + ("\x1f" + step if task.unit == "step" else "")
        per_unit, n_annotators = units.value_counts().to_numpy(), int(scored["annotator"].nunique())
    below = int((per_unit < (spec.quality.annotations_per_item or 0)).sum())
    return TaskAnalysis(task=task.name, n_judgments=len(scored), n_units=int(per_unit.size),
                        n_annotators=n_annotators, agreement=agreement, per_label=per_label,
                        units_below_coverage=below, extra=details)


def _items(gold_units: set[str]) -> set[str]:
    return {u.split("\x1f", 1)[0] for u in gold_units}
