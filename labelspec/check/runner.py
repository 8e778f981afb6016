"""The check pipeline: label files → row accounting → per-task tables and statistics → gate results → Report.

Each stage is a function of the previous one's output. The runner measures what every planned gate compares;
the statistics themselves live in ``stats``/``analyze``/``structured``, the findings in ``findings``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labelspec.check import decide, distribution, hotspots
from labelspec.check import findings as findings_mod
from labelspec.check.analyze import TaskAnalysis, analyze_choice
from labelspec.check.coded import task_rows
from labelspec.check.context import Context
from labelspec.check.gates import Measure, evaluate
from labelspec.check.gold import GoldItems, GoldScores, score_gold
from labelspec.check.read_labelstudio import NOT_JUDGMENTS
from labelspec.check.readers import Judgments as ReadJudgments
from labelspec.check.readers import TaskShape, read_label_files
from labelspec.check.records import Accounting, account
from labelspec.check.report import Report
from labelspec.check.rules import RuleResult, evaluate_rules
from labelspec.check.structured import STRUCTURED_KINDS, analyze_structured
from labelspec.check.tables import Codes
from labelspec.check.task_parse import FIELDS as PARSE_FIELDS
from labelspec.check.task_parse import PARSED_KINDS, TaskParses
from labelspec.errors import InputError
from labelspec.runtime import single_threaded_blas, usable_cpus
from labelspec.spec.model import Spec, Task
from labelspec.spec.plan import Gate, plan_gates

Progress = Callable[[str], None]
PROVENANCE_REASONS = {"annotator_not_in_roster", "not_calibrated", "before_calibration", "bad_timestamp"}


@dataclass(frozen=True)
class CheckOptions:
    strict: bool = False
    bootstrap: int | None = None  # overrides quality.bootstrap.replicates (0 turns intervals off)
    progress: Progress | None = None
    keep_decisions: bool = False  # release needs the per-unit decisions; a plain check frees them early


@dataclass
class _State:
    spec: Spec
    ctx: Context
    acc: Accounting
    analyses: dict[str, TaskAnalysis] = field(default_factory=dict)
    gold: GoldScores | None = None
    rules: dict[str, RuleResult] = field(default_factory=dict)
    findings: list[findings_mod.Finding] = field(default_factory=list)
    parses: TaskParses = field(default_factory=TaskParses)  # spans/ranking parsed once for every stage
    #: The used rows grouped by item (``Accounting.by_item``), for a choice task that has every row; taken by
    #: the analysis, so that it lives no longer than the codes holding it.
    by_item: tuple[np.ndarray, np.ndarray] | None = None


def task_shapes(spec: Spec) -> list[TaskShape]:
    return [TaskShape(name=t.name, kind=t.kind, list_valued=t.is_list or t.kind == "attribution",
                      per_step=t.unit == "step") for t in spec.tasks]


def read_labels(spec: Spec, ctx: Context | Future[Context], files: Sequence[Path], display: Sequence[str], *,
                reader_roster: Collection[str] | None = None) -> ReadJudgments:
    """The label files read. ``reader_roster`` names Label Studio users for the readers when the context has no
    roster (``calibrate``: its roster must exclude nothing), else ``ctx.roster``. ``ctx`` may still be loading
    (a Future): only a Label Studio export waits for it."""

    def roster() -> Collection[str] | None:
        known = ready(ctx).roster
        return known if known is not None else reader_roster

    return read_label_files(list(files), columns=spec.columns, tasks=task_shapes(spec),
                            display_paths=list(display), items_id=spec.items.id if spec.items else None,
                            roster=roster)


def ready(ctx: Context | Future[Context]) -> Context:
    """The context, once loaded."""
    return ctx.result() if isinstance(ctx, Future) else ctx


def account_labels(spec: Spec, ctx: Context, judgments: ReadJudgments) -> Accounting:
    """Every row read accounted for."""
    not_judgments = {k: n for k, n in judgments.info.items() if k in NOT_JUDGMENTS and n}
    acc = account(spec, judgments.frame, ctx, rows_read=judgments.rows_read,
                  reader_exclusions=judgments.exclusions, not_judgments=not_judgments, origins=judgments.origins,
                  by_item=judgments.by_item)
    return replace(acc, files=judgments.files)


def read_and_account(spec: Spec, ctx: Context, files: Sequence[Path], display: Sequence[str], *,
                     reader_roster: Collection[str] | None = None) -> Accounting:
    """The label files read and every row accounted for (see :func:`read_labels`)."""
    return account_labels(spec, ctx, read_labels(spec, ctx, files, display, reader_roster=reader_roster))


def _gold_items(frame: pd.DataFrame, ctx: Context) -> GoldItems | None:
    """Which read-time items are gold, when there are gold items (None: the gold scoring finds its own)."""
    if ctx.gold.empty or not isinstance(frame["item"].dtype, pd.CategoricalDtype):
        return None
    return GoldItems.of(frame["item"].cat.categories, ctx)


def _analyze(state: _State, options: CheckOptions, consensus: Callable[[Task, Codes | None], None]) -> None:
    """Every task's agreement; ``consensus`` is handed each task as soon as its codes (and parses) exist."""
    spec, used = state.spec, state.acc.used
    by_item, state.by_item = state.by_item, None
    gold_keys = state.ctx.gold
    boot = spec.quality.bootstrap
    if options.bootstrap is not None:
        boot = type(boot)(replicates=options.bootstrap, seed=boot.seed, level=boot.level)
    for task in spec.tasks:
        if task.kind == "text":
            continue
        if options.progress:
            options.progress(f"agreement for task {task.name}")
        frame = task_rows(used, task.name)
        g = gold_keys[gold_keys["task"] == task.name]
        gold_units = set((g["item"] + ("\x1f" + g["unit"] if task.unit == "step" else "")).tolist())  # not per value
        if task.kind in PARSED_KINDS:
            # parsed first, so that the consensus (Bradley–Terry, span support) runs beside the agreement
            state.parses.get(task, frame[list(PARSE_FIELDS)], state.ctx.field_lengths(task.field))
            consensus(task, None)
            analysis = analyze_structured(frame, task, spec, ctx=state.ctx, gold_units=gold_units, boot=boot,
                                          parses=state.parses)
        elif task.kind in STRUCTURED_KINDS or task.is_taxonomy or task.error_labels:
            analysis = analyze_structured(frame, task, spec, ctx=state.ctx, gold_units=gold_units, boot=boot,
                                          parses=state.parses)
            consensus(task, analysis.codes)  # its codes exist now
        else:
            # task_rows gives every used row (in order) or strictly fewer: the same length means the same rows
            whole = by_item if len(frame) == len(used) else None
            by_item = None  # the codes hold it from here: nothing else keeps it alive
            analysis = analyze_choice(frame, task, gold_units=gold_units, boot=boot,
                                      min_per_unit=spec.quality.annotations_per_item,
                                      coded=partial(consensus, task), by_item=whole)
        state.analyses[task.name] = analysis


def _measure(gate: Gate, state: _State) -> Measure:
    acc, q = state.acc, state.spec.quality
    if gate.id == "records.valid":
        excluded = len(acc.exclusions)
        if acc.rows_read == 0:
            return Measure(None, n=0, reason="no judgment rows were read")
        return Measure(excluded / acc.rows_read, n=acc.rows_read, detail=f"{excluded} of {acc.rows_read} rows excluded")
    if gate.id == "provenance.complete":
        reasons = PROVENANCE_REASONS | ({"bad_lead_time"} if "lead_time" in q.provenance else set())
        bad = acc.exclusions["reason"].isin(reasons) | acc.exclusions["detail"].isin(
            [f"missing {f}" for f in q.provenance])
        return Measure(float(bad.sum()), n=acc.rows_read)
    if gate.metric in ("min_annotator_gold_accuracy", "share_annotators_calibrated"):
        return findings_mod.annotator_measure(gate, state.gold, state.ctx, acc, q)
    if gate.id.startswith("rules."):
        rule = state.rules.get(gate.id.removeprefix("rules."))
        if rule is None:
            return Measure(None, reason="rule could not be evaluated (no items file)")
        return Measure(float(rule.violations), n=rule.checked, detail=rule.summary())
    if gate.metric in ("annotators_below_rolling_gold", "annotators_divergent", "annotators_too_fast"):
        missing = _no_evidence(gate, state)
        if missing is not None:  # nobody could be flagged: no evidence is not a pass (fail closed)
            return Measure(None, n=0, reason=missing)
        # annotators, not findings: one annotator flagged on two tasks counts once, as ``n`` counts annotators
        flagged = sorted({f.annotator or "" for f in state.findings if f.gate == gate.id})
        return Measure(float(len(flagged)), n=len(acc.used["annotator"].unique()), detail=_names(flagged))
    return _task_measure(gate, state)


def _no_evidence(gate: Gate, state: _State) -> str | None:
    """Why an annotator gate has nothing to test, or None: no lead time at all, no task with the three
    annotators the divergence test needs, no annotator with a full window of gold judgments."""
    if gate.metric == "annotators_too_fast":
        return None if (state.acc.used["lead_time"] != "").any() else "no judgment has a lead time"
    if gate.metric == "annotators_divergent":
        tables = [a.extra.get("annotator_counts") for a in state.analyses.values()]
        tested = [int((t.sum(axis=1) > 0).sum()) for t in tables if isinstance(t, np.ndarray)]
        return None if max(tested, default=0) >= 3 else "no task has 3 annotators to compare (outside gold units)"
    cal = state.spec.quality.calibration
    window = cal.window if cal is not None else 0
    scored = state.gold.scored if state.gold is not None else None
    timed = scored.loc[scored["when"].notna(), "annotator"].value_counts() if scored is not None else None
    if timed is None or timed.empty or int(timed.max()) < window:  # untimed ones have no place in the window
        return f"no annotator has {window} gold judgments with a timestamp (one full window)"
    return None


def _names(names: list[str], most: int = 10) -> str:
    """A gate's detail names at most ``most`` annotators (each one is listed under the findings)."""
    more = f", … (+{len(names) - most} more, listed under findings)" if len(names) > most else ""
    return ", ".join(names[:most]) + more


def _task_measure(gate: Gate, state: _State) -> Measure:
    analysis = state.analyses.get(gate.task or "")
    if analysis is None:
        return Measure(None, reason=f"no judgments for task {gate.task!r}")
    if gate.id.startswith("coverage."):
        if analysis.n_units == 0:
            return Measure(None, reason="no units")
        share = 1 - analysis.units_below_coverage / analysis.n_units
        return Measure(share, n=analysis.n_units,
                       detail=f"{analysis.units_below_coverage} unit{'' if analysis.units_below_coverage == 1 else 's'} "
                              f"{'has' if analysis.units_below_coverage == 1 else 'have'} fewer judgments than required")
    if gate.id.startswith("agreement.") and gate.metric in ("min_per_label_alpha", "min_per_label_span_f1"):
        defined = {k: v.value for k, v in analysis.per_label.items() if v.value is not None}
        if not defined:
            return Measure(None, reason="no label has a defined one-vs-rest agreement")
        worst = min(defined, key=lambda k: (defined[k], k))
        return Measure(defined[worst], n=analysis.n_units, detail=f"lowest: {worst}")
    if gate.id.startswith("agreement."):
        est = analysis.agreement.get(gate.metric)
        if est is None and analysis.n_judgments == 0:
            return Measure(None, n=0, reason=f"no usable judgments for task {gate.task!r}")
        if est is None:
            return Measure(None, reason=f"{gate.metric} is not computed for this task")
        return Measure(est.value, est.ci_low, est.ci_high, est.n_units, est.reason or est.ci_reason)
    task = state.spec.task(gate.task or "")
    if gate.id.startswith("distribution.") and task is not None:
        return distribution.analysis_measure(gate, task, analysis)
    return Measure(None, reason=f"no measurement for gate {gate.id}")


def _after_consensus(gate: Gate, spec: Spec) -> bool:
    task = spec.task(gate.task or "")
    return gate.id.startswith("distribution.") and task is not None and task.kind in distribution.AFTER_CONSENSUS


def _without_pairs(analyses: dict[str, TaskAnalysis]) -> dict[str, TaskAnalysis]:
    """The analyses without their annotator-pair confusions (only the findings read them)."""
    return {name: replace(a, pairs=None) for name, a in analyses.items()}


def _estimates_only(analyses: dict[str, TaskAnalysis]) -> dict[str, TaskAnalysis]:
    """The analyses without their tables, once the hotspots have read them: the report needs the estimates only,
    and the codes alone are ~300 MiB at 10M judgments that a release would otherwise carry along (the
    consensus holds its own reference while it runs)."""
    return {name: replace(a, codes=None, gold_mask=None, pairs=None, patterns=None) for name, a in analyses.items()}


def _hotspots(spec: Spec, acc: Accounting, ctx: Context, analyses: dict[str, TaskAnalysis], parses: TaskParses
              ) -> dict[str, Any]:
    return hotspots.find_hotspots(spec, acc, ctx, analyses=analyses, parses=parses).section()


def run_check(spec: Spec, ctx: Context | Future[Context], files: Sequence[Path], display: Sequence[str],
              options: CheckOptions = CheckOptions()) -> Report:
    """Everything ``labelspec check`` does, without printing: the report owns the exit code.

    ``ctx`` may be loading still (a Future, as ``api.check_labels`` gives it: the items, gold and calibration
    files are read beside the label files, ~0.35 s for 333k items of 200 characters); its own problems are
    reported before any of the label files'."""
    if options.progress:
        options.progress(f"reading {len(files)} label file(s)")
    try:
        judgments = read_labels(spec, ctx, files, display)
    except InputError:
        ready(ctx)  # a bad context file is reported first, as when the context was loaded before the labels
        raise
    ctx = ready(ctx)
    # Consensus runs on a second core, task by task, as soon as a task's codes exist (choice tasks: right after
    # encoding, with their unit table and grouping; the others: after their analysis, when their parses exist).
    # It reads only codes, parses and the accounting, none of which change afterwards; its heavy parts
    # (Dawid–Skene's sparse products, numpy) release the GIL. At 10M judgments Dawid–Skene overlaps the pair
    # tables, bootstraps, gold, findings and hotspots within G13's 2 GiB (benchmarks/HISTORY.md).
    with single_threaded_blas(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="labelspec-consensus") as pool:
        # the read-time items that are gold are found on the second core while this one accounts the rows
        gold_items = pool.submit(_gold_items, judgments.frame, ctx)
        acc = account_labels(spec, ctx, judgments)
        del judgments
        by_item, known, acc = acc.by_item, acc.span_parses, replace(acc, by_item=None, span_parses={})
        state = _State(spec=spec, ctx=ctx, acc=acc, by_item=by_item, parses=TaskParses(known, side=pool))
        del by_item, known
        jobs: list[Future[decide.TaskDecision | None]] = []

        # Dawid–Skene's EM takes one thread fewer than the CPUs: this one is busy with the analysis meanwhile
        # (at 10M judgments on two cores, one EM thread beside it: median -0.07 to -0.2 s in four sets of 5-7
        # alternating rounds, and less CPU; benchmarks/HISTORY.md)
        em_threads = max(1, usable_cpus() - 1)

        gates = plan_gates(spec)
        later = [g for g in gates if _after_consensus(g, spec)]
        # the per-unit rows only where something reads them: a release, and the gates measured on the consensus
        # (a plain check's section is counted from the masks: building and freeing the rows' object columns was
        # ~0.3 s at the end of the consensus thread, the check's critical path at 10M judgments)
        rows = options.keep_decisions or bool(later)

        def consensus(task: Task, codes: Codes | None) -> None:
            jobs.append(pool.submit(decide.decide_one, spec, task, acc, ctx, codes=codes, parses=state.parses,
                                    details=options.keep_decisions, em_threads=em_threads, rows=rows))

        _analyze(state, options, consensus)
        if options.progress:  # the consensus may still run (Dawid–Skene at 10M judgments: seconds)
            options.progress("gold, findings, hotspots and consensus")
        # Gold, the findings and gates, then the hotspots, one after the other on this thread while the consensus
        # ends on the other core: at 10M judgments Dawid–Skene is the last to finish, and anything else on the
        # consensus thread (gold scoring first, as it was) or on a third thread beside it (the hotspots, as they
        # were) put off its end: 10M CSV, 6 alternating rounds, mean 4.96 -> 4.76 s, ~40 MiB less
        # (benchmarks/HISTORY.md, 1 Dec, 02:20).
        state.gold = score_gold(spec, acc.used, ctx, level=spec.quality.bootstrap.level, known=gold_items.result())
        state.rules = evaluate_rules(spec, acc.used, ctx)
        state.findings = findings_mod.annotator_findings(spec, state.acc, state.analyses, state.gold, ctx)
        results = {g.id: evaluate(g, _measure(g, state)) for g in gates if g not in later}
        spots = _hotspots(spec, acc, ctx, _without_pairs(state.analyses), state.parses)
        state.analyses = _estimates_only(state.analyses)
        parts = [job.result() for job in jobs]
    decisions = decide.combine(spec, parts) if rows else None
    consensus_section = decisions.section() if decisions is not None else decide.section_of(spec, parts)
    del parts
    for g in later:  # spans and attribution: their distribution is their consensus's
        task = spec.task(g.task or "")
        assert task is not None and decisions is not None  # _after_consensus found it; ``later`` asks for rows
        results[g.id] = evaluate(g, distribution.consensus_measure(g, task, decisions.units))
    sections = {"consensus": consensus_section, "hotspots": spots}
    kept = decisions if options.keep_decisions else None
    del decisions  # ~600 MiB of per-unit rows at 10M judgments: freed here unless the release keeps them
    state.parses = TaskParses()  # the parsed tasks are not needed by the report
    return Report(spec=spec, accounting=acc, analyses=state.analyses, gold=state.gold,
                  gates=tuple(results[g.id] for g in gates),
                  findings=tuple(state.findings), rules=state.rules, strict=options.strict,
                  files=tuple(display), sections=sections,
                  decisions=kept)

