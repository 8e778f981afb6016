"""Spec → the annotator guidelines, ``guidelines.md`` and ``guidelines.html``, from one typed context.

The context (:class:`GuidelineContext`) carries spec text as plain strings; the templates lay it out and the
environment escapes every expression for its output (see ``render``). Anchors are labelspec's own: edge cases keep
their stable ids (reports link to ``guidelines.html#<edge-case-id>``); sections and labels get ids starting with
``_``, which no spec id can, so they never collide. Pure: no I/O; gold items never reach this module.
"""

from __future__ import annotations

from typing import TypedDict

from markupsafe import Markup

from labelspec.emit.checks import CheckSection, check_sections
from labelspec.emit.explain import applies_to, record_steps
from labelspec.emit.header import html_comment
from labelspec.emit.teaching import TeachingExample
from labelspec.spec.model import EdgeCase, Label, Rule, Spec, Task
from labelspec.spec.review_warnings import routes_always_review
from labelspec.templating import MdText, number, render

KIND_TITLES = {"single_choice": "Single choice", "multi_choice": "Multiple choice", "rating": "Rating",
               "spans": "Spans", "pairwise": "Pairwise comparison", "ranking": "Ranking", "text": "Free text",
               "attribution": "Failure attribution"}
_OP_WORDS = {"matches": "matches the regular expression", "equals": "is exactly", "in": "is one of"}
_EXPECT_WORDS = {"label_in": "the answer must be one of", "label_not_in": "the answer must not be any of"}


class CounterCtx(TypedDict):
    text: str
    use: str
    use_anchor: str
    why: str


class LabelCtx(TypedDict):
    id: str
    title: str
    anchor: str
    definition: str
    parent: str
    examples: list[str]
    counterexamples: list[CounterCtx]
    review_always: bool
    hotkey: str


class TreeNode(TypedDict):
    title: str
    id: str
    anchor: str
    children: list[TreeNode]


class TreeRow(TypedDict):
    depth: int
    title: str
    id: str
    anchor: str


class EdgeCaseCtx(TypedDict):
    id: str
    when: str
    label: str
    instead_of: list[str]
    why: str
    examples: list[str]


class RuleCtx(TypedDict):
    id: str
    field: str
    condition: str
    operands: list[str]
    expectation: str
    labels: list[str]
    blocking: bool
    description: str


class TeachingCtx(TypedDict):
    item: str
    unit: str
    fields: list[tuple[str, str]]
    answer: str
    why: str
    edge_case: str


class TaskCtx(TypedDict):
    name: str
    anchor: str
    kind: str
    kind_title: str
    question: str
    applies_to: str
    instructions: str
    steps: list[str]
    labels: list[LabelCtx]
    tree: list[TreeNode]
    tree_rows: list[TreeRow]
    scale: list[tuple[str, str]]
    options: list[str]
    rubric: list[tuple[str, str, str]]
    edge_cases: list[EdgeCaseCtx]
    rules: list[RuleCtx]
    teaching: list[TeachingCtx]


class TocEntry(TypedDict):
    anchor: str
    title: str
    children: list[TocEntry]


class GuidelineContext(TypedDict):
    header: str
    title: str
    version: str
    domain: str
    summary: str
    owners: list[str]
    fields: list[tuple[str, str, str]]
    toc: list[TocEntry]
    tasks: list[TaskCtx]
    checks: list[CheckSection]
    changelog: list[tuple[str, str, list[str]]]


def _label_anchor(task: Task, label_id: str) -> str:
    ids = [lab.id for lab in task.labels]
    return f"_label-{task.name}-{ids.index(label_id)}" if label_id in ids else ""


def _label_name(task: Task, label_id: str) -> str:
    """``Title (id)`` for a label of the task, the bare id otherwise (pairwise answers, ranking options)."""
    lab = task.label(label_id)
    return f"{lab.title} ({label_id})" if lab is not None else label_id


def _label(task: Task, lab: Label, routed: bool) -> LabelCtx:
    """``routed``: the adjudication sends ``review: always`` labels to an expert (else the guidelines must not say
    so)."""
    counters = [CounterCtx(text=c.text, use=_label_name(task, c.use), use_anchor=_label_anchor(task, c.use),
                           why=c.why) for c in lab.counterexamples]
    parent = _label_name(task, lab.parent) if lab.parent is not None else ""
    return LabelCtx(id=lab.id, title=lab.title, anchor=_label_anchor(task, lab.id), definition=lab.definition,
                    parent=parent, examples=list(lab.examples), counterexamples=counters,
                    review_always=lab.review == "always" and routed,
                    hotkey=lab.hotkey or "")


def _tree(task: Task, parent: str | None) -> list[TreeNode]:
    return [TreeNode(title=lab.title, id=lab.id, anchor=_label_anchor(task, lab.id), children=_tree(task, lab.id))
            for lab in task.labels if lab.parent == parent]


def _rows(nodes: list[TreeNode], depth: int) -> list[TreeRow]:
    """The tree in reading order with depths (Markdown lists are written flat, indented by depth)."""
    rows: list[TreeRow] = []
    for n in nodes:
        rows.append(TreeRow(depth=depth, title=n["title"], id=n["id"], anchor=n["anchor"]))
        rows.extend(_rows(n["children"], depth + 1))
    return rows


def _edge_case(task: Task, case: EdgeCase) -> EdgeCaseCtx:
    return EdgeCaseCtx(id=case.id, when=case.when, label=_label_name(task, case.label),
                       instead_of=[_label_name(task, x) for x in case.instead_of], why=case.why,
                       examples=list(case.examples))


def _rule(task: Task, rule: Rule) -> RuleCtx:
    operands = [rule.operand] if isinstance(rule.operand, str) else list(rule.operand)
    return RuleCtx(id=rule.id, field=rule.field, condition=_OP_WORDS[rule.op], operands=operands,
                   expectation=_EXPECT_WORDS[rule.expect], labels=[_label_name(task, x) for x in rule.labels],
                   blocking=rule.severity == "error", description=rule.description or "")


def _teaching(task: Task, ex: TeachingExample) -> TeachingCtx:
    answer = _label_name(task, ex.label) if task.kind in ("single_choice", "pairwise") else ex.label
    cases = {c.id for c in task.edge_cases}
    return TeachingCtx(item=str(ex.item), unit=str(ex.unit), fields=[(str(k), str(v)) for k, v in ex.fields],
                       answer=answer, why=str(ex.why), edge_case=ex.edge_case if ex.edge_case in cases else "")


def _task(task: Task, teaching: tuple[TeachingExample, ...], routed: bool) -> TaskCtx:
    scale = task.scale
    tree = _tree(task, None) if task.is_taxonomy else []
    anchors = dict(scale.anchors) if scale is not None else {}
    return TaskCtx(
        name=task.name, anchor=f"_task-{task.name}", kind=task.kind, kind_title=KIND_TITLES[task.kind],
        question=task.question, applies_to=applies_to(task), instructions=task.instructions or "",
        steps=record_steps(task), labels=[_label(task, lab, routed) for lab in task.labels],
        tree=tree, tree_rows=_rows(tree, 0),
        scale=[(str(p), anchors.get(p, "")) for p in scale.points] if scale is not None else [],
        options=list(task.options) if task.kind == "ranking" else [],
        rubric=[(r.id, r.criterion, number(r.weight)) for r in task.rubric],
        edge_cases=[_edge_case(task, c) for c in task.edge_cases], rules=[_rule(task, r) for r in task.rules],
        teaching=[_teaching(task, ex) for ex in teaching if ex.task == task.name],
    )


def _task_toc(t: TaskCtx) -> list[TocEntry]:
    """Every label, edge case and rule of a task, so a reader reaches each from the contents."""
    return ([TocEntry(anchor=lab["anchor"], title=f"{lab['title']} ({lab['id']})", children=[]) for lab in t["labels"]]
            + [TocEntry(anchor=c["id"], title=f"Edge case {c['id']}", children=[]) for c in t["edge_cases"]]
            + [TocEntry(anchor=f"_rule-{r['id']}", title=f"Rule {r['id']}", children=[]) for r in t["rules"]])


def _toc(tasks: list[TaskCtx], checks: list[CheckSection], changelog: bool) -> list[TocEntry]:
    entries = [TocEntry(anchor="_tasks", title="Tasks", children=[
        TocEntry(anchor=t["anchor"], title=t["name"] + ": " + t["kind_title"], children=_task_toc(t)) for t in tasks])]
    if checks:
        entries.append(TocEntry(anchor="_checks", title="How your work is checked", children=[]))
    if changelog:
        entries.append(TocEntry(anchor="_changelog", title="Changelog", children=[]))
    return entries


def guideline_context(spec: Spec, teaching: tuple[TeachingExample, ...]) -> GuidelineContext:
    """Everything the guideline templates show, in spec order. Teaching examples appear only when the spec allows."""
    cal = spec.quality.calibration
    shown = teaching if cal is not None and cal.teaching_examples else ()
    p = spec.project
    routed = routes_always_review(spec)
    tasks = [_task(t, shown, routed) for t in spec.tasks]
    checks = check_sections(spec, teaching_shown=bool(shown))
    fields = [(f.name, str(f.type), f.description or "") for f in spec.items.fields] if spec.items is not None else []
    return GuidelineContext(
        header=html_comment(spec), title=p.title, version=p.version, domain=p.domain or "", summary=p.summary or "",
        owners=list(p.owners), fields=fields, toc=_toc(tasks, checks, bool(p.changelog)), tasks=tasks,
        checks=checks, changelog=[(c.version, c.date or "", list(c.changes)) for c in p.changelog],
    )


def guidelines_md(spec: Spec, teaching: tuple[TeachingExample, ...] = ()) -> str:
    """``guidelines.md``: Markdown where every spec string is escaped (raw HTML, pipes, emphasis, block markers)."""
    ctx = guideline_context(spec, teaching)
    ctx["header"] = MdText(ctx["header"])
    return render("md", "guidelines/guidelines.md.j2", ctx)


def guidelines_html(spec: Spec, teaching: tuple[TeachingExample, ...] = ()) -> str:
    """``guidelines.html``: one self-contained, autoescaped page (inline CSS, no script, no external resource)."""
    ctx = guideline_context(spec, teaching)
    ctx["header"] = Markup(ctx["header"])  # labelspec's own comment; its path is percent-encoded in header_text
    return render("html", "guidelines/guidelines.html.j2", ctx)
