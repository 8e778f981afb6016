"""Build the frozen model (``model.Spec``) from merged, schema-valid spec data, applying the language's defaults.

Defaults live here, once: ``unit: item``, ``required: true``, measurement level ordinal for ratings and nominal
otherwise, a task's agreement policy = its own ``agreement`` keys over ``quality.agreement`` (task keys win; text
tasks are not scored), the metric of the kind (``plan.DEFAULT_METRIC``) when neither names one, severity ``error``.
Every node gets the location it was written at. It must not judge meaning (``resolve_checks``) or do I/O.
"""

from __future__ import annotations

from typing import Any, Literal

from labelspec.errors import SourceLocation
from labelspec.spec.locate import Locator, Part, walk
from labelspec.spec.model import (
    Adjudication,
    AgreementPolicy,
    BootstrapPolicy,
    CalibrationPolicy,
    ChangelogEntry,
    Columns,
    Counterexample,
    DataFile,
    DistributionPolicy,
    EdgeCase,
    GoldPolicy,
    ItemField,
    ItemsSource,
    Label,
    LeadTimePolicy,
    Project,
    Quality,
    RubricItem,
    Rule,
    Scale,
    Spec,
    Task,
)
from labelspec.spec.plan import DEFAULT_METRIC

Data = dict[str, Any]
_OPS: tuple[Literal["matches", "equals", "in"], ...] = ("matches", "equals", "in")


def build_model(data: Data, loc: Locator, *, path: str, root: str, extends: tuple[str, ...]) -> Spec:
    """The model of ``data``; ``digest`` is left empty for ``resolve`` to fill once everything is checked."""
    quality = _quality(data.get("quality", {}), loc, path)
    q_agreement = data.get("quality", {}).get("agreement", {})
    tasks = tuple(_task(name, t, q_agreement, loc) for name, t in data["tasks"].items())
    items = data.get("items")
    annotators = data.get("annotators")
    return Spec(
        path=path, root=root, project=_project(data["project"]), tasks=tasks,
        items=_items(items, loc) if items is not None else None,
        annotators=DataFile(file=annotators["file"], loc=loc.at(["annotators", "file"])) if annotators else None,
        columns=Columns(**data.get("input", {}).get("columns", {})),
        quality=quality, adjudication=_adjudication(data.get("adjudication"), loc),
        gate_overrides=tuple((gid, sev, loc.at(["gates", gid], key=True))
                             for gid, sev in data.get("gates", {}).items()),
        extends=extends,
    )


def _project(p: Data) -> Project:
    changelog = tuple(ChangelogEntry(version=c["version"], changes=tuple(c["changes"]), date=c.get("date"))
                      for c in p.get("changelog", []))
    return Project(id=p["id"], title=p["title"], version=p["version"], domain=p.get("domain"),
                   summary=p.get("summary"), owners=tuple(p.get("owners", [])), changelog=changelog)


def _items(items: Data, loc: Locator) -> ItemsSource:
    fields = tuple(ItemField(name=name, type=f["type"], values=tuple(f.get("values", [])),
                             description=f.get("description"), name_key=f.get("name_key"),
                             text_key=f.get("text_key")) for name, f in items.get("fields", {}).items())
    return ItemsSource(file=items["file"], id=items.get("id", "item_id"), fields=fields, loc=loc.at(["items"], key=True))


def _task(name: str, t: Data, q_agreement: Data, loc: Locator) -> Task:
    base: tuple[Part, ...] = ("tasks", name)
    kind = t["kind"]
    scale = t.get("scale")
    return Task(
        name=name, kind=kind, question=t["question"], unit=t.get("unit", "item"),
        instructions=t.get("instructions"), required=t.get("required", True),
        labels=tuple(_label(lid, lab, (*base, "labels", lid), loc) for lid, lab in t.get("labels", {}).items()),
        min_choices=_opt_int(t.get("min_choices")), max_choices=_opt_int(t.get("max_choices")),
        scale=_scale(scale) if scale is not None else None,
        level=t.get("level", "ordinal" if kind == "rating" else "nominal"),
        field=t.get("field"), allow_nesting=t.get("allow_nesting", False), options=tuple(t.get("options", [])),
        allow_ties=t.get("allow_ties", True),
        rubric=tuple(RubricItem(id=r["id"], criterion=r["criterion"], weight=float(r.get("weight", 1.0)))
                     for r in t.get("rubric", [])),
        error_labels=tuple(t.get("error_labels", [])), max_length=_opt_int(t.get("max_length")),
        expected_distribution=tuple((k, float(v)) for k, v in t.get("expected_distribution", {}).items()),
        edge_cases=tuple(_edge_case(e, (*base, "edge_cases", i), loc) for i, e in enumerate(t.get("edge_cases", []))),
        rules=tuple(_rule(r, (*base, "rules", i), loc) for i, r in enumerate(t.get("rules", []))),
        agreement=_agreement(kind, t.get("agreement"), q_agreement, base, loc),
        loc=loc.at(base, key=True),
    )


def _label(lid: str, lab: Data, parts: tuple[Part, ...], loc: Locator) -> Label:
    counter = tuple(Counterexample(text=c["text"], use=c["use"], why=c["why"], loc=loc.at((*parts, "counterexamples", i)))
                    for i, c in enumerate(lab.get("counterexamples", [])))
    return Label(id=lid, title=lab["title"], definition=lab["definition"], parent=lab.get("parent"),
                 examples=tuple(lab.get("examples", [])), counterexamples=counter, review=lab.get("review", "auto"),
                 hotkey=lab.get("hotkey"), loc=loc.at(parts, key=True))


def _edge_case(e: Data, parts: tuple[Part, ...], loc: Locator) -> EdgeCase:
    return EdgeCase(id=e["id"], when=e["when"], label=e["label"], why=e["why"],
                    instead_of=tuple(e.get("instead_of", [])), examples=tuple(e.get("examples", [])), loc=loc.at(parts))


def _rule(r: Data, parts: tuple[Part, ...], loc: Locator) -> Rule:
    when, expect = r["when"], r["expect"]
    op = next(k for k in _OPS if k in when)
    operand = tuple(when[op]) if op == "in" else when[op]
    (expect_key, labels), = expect.items()
    return Rule(id=r["id"], field=when["field"], op=op, operand=operand, expect=expect_key, labels=tuple(labels),
                severity=r.get("severity", "error"), description=r.get("description"), loc=loc.at(parts))


def _scale(s: Data) -> Scale:
    anchors = sorted((int(k), v) for k, v in s.get("anchors", {}).items())
    return Scale(min=int(s["min"]), max=int(s["max"]), anchors=tuple(anchors))


def _agreement(kind: str, own: Data | None, inherited: Data, base: tuple[Part, ...], loc: Locator) -> AgreementPolicy:
    """The task's keys over ``quality.agreement``; located where ``min`` (else the policy) was written."""
    if kind == "text":  # free text is not scored: nothing is inherited
        return AgreementPolicy(loc=loc.at(base, key=True))
    own = own or {}
    merged = {**inherited, **own}
    own_parts = (*base, "agreement")
    where: tuple[Part, ...] = base
    if "min" in own:
        where = (*own_parts, "min")
    elif "min" in inherited:
        where = ("quality", "agreement", "min")
    elif own:
        where = own_parts
    elif inherited:
        where = ("quality", "agreement")
    per_label = ((*own_parts, "min_per_label") if "min_per_label" in own else ("quality", "agreement", "min_per_label")
                 if "min_per_label" in inherited else where)
    return AgreementPolicy(
        metric=merged.get("metric", DEFAULT_METRIC.get(kind, "krippendorff_alpha")),
        min=_opt_float(merged.get("min")), min_per_label=_opt_float(merged.get("min_per_label")),
        on=merged.get("on", "estimate"), severity=merged.get("severity", "error"), loc=loc.at(where, key=True),
        per_label_loc=loc.at(per_label, key=True))


def _quality(q: Data, loc: Locator, path: str) -> Quality:
    gold, cal, dist, lead = q.get("gold"), q.get("calibration"), q.get("distribution", {}), q.get("lead_time", {})
    boot = q.get("bootstrap", {})
    return Quality(
        annotations_per_item=_opt_int(q.get("annotations_per_item")),
        max_excluded_share=float(q.get("max_excluded_share", 0.0)),
        agreement=_agreement("single_choice", q.get("agreement"), {}, ("quality",), loc),
        gold=GoldPolicy(file=gold["file"], min_accuracy=_opt_float(gold.get("min_accuracy")),
                        min_judgments=int(gold.get("min_judgments", 20)),
                        loc=_key_or(loc, ("quality", "gold"), "min_accuracy", gold)) if gold else None,
        calibration=CalibrationPolicy(
            file=cal["file"], min_accuracy=_opt_float(cal.get("min_accuracy")),
            recalibrate_below=_opt_float(cal.get("recalibrate_below")), window=int(cal.get("window", 50)),
            teaching_examples=cal.get("teaching_examples", False),
            loc=_key_or(loc, ("quality", "calibration"), "min_accuracy", cal)) if cal else None,
        distribution=DistributionPolicy(
            max_deviation=_opt_float(dist.get("max_deviation")), min_gof_p=_opt_float(dist.get("min_gof_p")),
            annotator_divergence_p=_opt_float(dist.get("annotator_divergence_p")),
            loc=loc.at(("quality", "distribution"), key=True) if dist else SourceLocation(path)),
        lead_time=LeadTimePolicy(min_seconds=_opt_float(lead.get("min_seconds")),
                                 max_fast_share=_opt_float(lead.get("max_fast_share")),
                                 loc=loc.at(("quality", "lead_time"), key=True) if lead else SourceLocation(path)),
        provenance=tuple(q.get("provenance", {}).get("require", [])),
        bootstrap=BootstrapPolicy(replicates=int(boot.get("replicates", 1000)), seed=int(boot.get("seed", 20240101)),
                                  level=float(boot.get("level", 0.95))),
        loc=loc.at(("quality",), key=True) if q else SourceLocation(path),
        key_locs=tuple((key, loc.at(("quality", *key.split(".")), key=True)) for key in _GATE_KEYS
                       if walk(q, key.split("."))[0]),
    )


#: Keys under ``quality`` whose line a gate points at (``declared_at``).
_GATE_KEYS = ("annotations_per_item", "max_excluded_share", "provenance.require", "calibration.recalibrate_below",
              "distribution.max_deviation", "distribution.min_gof_p", "distribution.annotator_divergence_p")


def _adjudication(a: Data | None, loc: Locator) -> Adjudication:
    if not a:
        return Adjudication()
    return Adjudication(method=a.get("method", "majority"), min_support=float(a.get("min_support", 0.5)),
                        expert_review=tuple(a.get("expert_review", [])), max_iterations=int(a.get("max_iterations", 50)),
                        tolerance=float(a.get("tolerance", 1e-6)), loc=loc.at(("adjudication",), key=True))


def _key_or(loc: Locator, parts: tuple[Part, ...], key: str, data: Data) -> SourceLocation:
    return loc.at((*parts, key), key=True) if key in data else loc.at(parts, key=True)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)
