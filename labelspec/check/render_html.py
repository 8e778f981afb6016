"""Render a check report's dict as one self-contained HTML page, with inline SVG plots of agreement and gold.

Like every other format it reads ``Report.to_dict()``. Python turns the dict into a typed context of plain strings:
every number is formatted and every SVG coordinate computed here, so the template only lays out. The HTML
environment escapes each expression and shows control characters as U+FFFD; data never reaches an attribute,
a tag name or a style, and the page has no script and no external resource (G12).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from labelspec.check.render import N_OF, UNSEEN, ci_label, fmt, gate_value
from labelspec.templating import number, pct, render

#: SVG geometry, in viewBox units: label column, plot area, value column, row height, axis band.
WIDTH, LABEL_END, PLOT_X0, PLOT_X1, TEXT_X = 680, 196, 206, 530, 542
ROW_H, TOP, AXIS_H = 22, 6, 30
#: Longest label drawn in a plot (the tables beside the plots carry the full text); rows drawn per plot.
MAX_LABEL, MAX_ROWS = 28, 60
#: How many exclusions and files the page lists one by one (the JSON report has them all).
MAX_EXCLUSIONS, MAX_FILES = 20, 50
#: Agreement metrics bounded by 0 and 1. A plot gets a 0…1 axis when it shows only these, or when none of its
#: numbers is negative; otherwise a −1…1 axis (the range of κ and α), so the axis never zooms to the data.
UNIT_METRICS = frozenset({"percent_agreement", "span_f1_exact", "span_f1_overlap", "kendall_w", "first_error_exact",
                          "first_error_within_one", "attribution_agent_step_percent"})
#: Row classes (CSS) by gate status; never taken from data.
_STATUS = {"pass": ("PASS", "pass"), "fail": ("FAIL", "fail"), "undefined": ("UNDEFINED", "fail")}


class Row(TypedDict):
    cells: list[str]
    cls: str  # one of this module's fixed CSS classes ("", "pass", "fail", "warn")


class Table(TypedDict):
    head: list[str]
    cols: list[str]  # a CSS class per column: "n" number, "t" prose, "p" path or list (may break anywhere), ""
    rows: list[Row]


class Tick(TypedDict):
    x: str
    label: str


#: One row of a dot-and-interval plot (coordinates as text; an empty string means "not drawn").
Mark = TypedDict("Mark", {"label": str, "text": str, "title": str, "y": str, "text_y": str, "cx": str, "x1": str,
                          "x2": str, "tick_x": str, "tick_y1": str, "tick_y2": str, "clamped": bool})
Plot = TypedDict("Plot", {"title": str, "desc": str, "width": int, "height": int, "view_box": str, "x0": str,
                          "x1": str, "label_x": str, "text_x": str, "axis_y": str, "tick_y": str, "zero_x": str,
                          "ticks": list[Tick], "marks": list[Mark], "more": str})
TaskCtx = TypedDict("TaskCtx", {"name": str, "anchor": str, "counts": str, "agreement": Table, "plot": Plot | None,
                                "per_label": Table | None, "per_label_plot": Plot | None, "notes": list[str],
                                "depth": Table | None})
ReportContext = TypedDict("ReportContext", {
    "title": str, "header": list[tuple[str, str]], "files": list[str], "verdict": str, "verdict_cls": str,
    "gates": Table, "tasks": list[TaskCtx], "gold": Plot | None, "findings": Table | None, "rules": Table | None,
    "hotspots": list[tuple[str, Table]], "fixes": list[str], "consensus": Table | None, "review_reasons": str,
    "rows_line": str, "excluded": Table | None, "exclusions": Table | None, "rows_notes": list[str]})


@dataclass(frozen=True)
class Point:
    """An estimate to plot: ``value`` with an optional interval and the gate threshold it is held to."""
    name: str
    value: Any
    low: Any = None
    high: Any = None
    threshold: Any = None
    text: str = ""


def _finite(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def num(x: Any) -> str:
    """``fmt`` (3 decimals), but "—" for anything that is not a finite number: never "None" or "nan"."""
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)
    v = _finite(x)
    return "—" if v is None else fmt(v)


def _pct(x: Any) -> str:
    v = _finite(x)
    return "—" if v is None else pct(v)


def interval(low: Any, high: Any) -> str:
    return "—" if _finite(low) is None or _finite(high) is None else f"{num(low)}–{num(high)}"


def _counts(values: Mapping[str, Any], *, zero: bool = False) -> str:
    return ", ".join(f"{k}: {num(v)}" for k, v in values.items() if zero or v) or "—"


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def _c(x: float) -> str:
    return f"{x:.1f}"


def _x(v: float, lower: float) -> float:
    """Position on the axis ``lower…1``; values beyond it are clamped to its ends."""
    t = (min(max(v, lower), 1.0) - lower) / (1.0 - lower)
    return PLOT_X0 + t * (PLOT_X1 - PLOT_X0)


def _mark(p: Point, i: int, lower: float, ci: str) -> Mark:
    y = TOP + ROW_H * i + ROW_H / 2
    v, lo, hi, t = _finite(p.value), _finite(p.low), _finite(p.high), _finite(p.threshold)
    has_ci = lo is not None and hi is not None
    title = f"{p.name}: {num(p.value)}" + (f" ({ci} {interval(p.low, p.high)})" if has_ci else "")
    return Mark(label=_short(p.name), text=p.text or num(p.value), title=title, y=_c(y), text_y=_c(y + 4),
                cx=_c(_x(v, lower)) if v is not None else "",
                x1=_c(_x(lo, lower)) if has_ci and lo is not None else "",
                x2=_c(_x(hi, lower)) if has_ci and hi is not None else "",
                tick_x=_c(_x(t, lower)) if t is not None else "", tick_y1=_c(y - ROW_H / 2), tick_y2=_c(y + ROW_H / 2),
                clamped=v is not None and not lower <= v <= 1.0)


def _lower(points: list[Point], unit: bool) -> float:
    numbers = (_finite(x) for p in points for x in (p.value, p.low, p.high))
    return 0.0 if unit or all(x is None or x >= 0 for x in numbers) else -1.0


def forest_plot(title: str, points: list[Point], lower: float, ci: str = "95% CI") -> Plot:
    """A dot per estimate and a line for its interval on a fixed ``lower…1`` axis (``lower`` is −1 or 0)."""
    drawn = points[:MAX_ROWS]
    height = TOP + ROW_H * len(drawn) + AXIS_H
    axis_y = TOP + ROW_H * len(drawn)
    steps = [lower + k * (1.0 - lower) / 4 for k in range(5)]
    desc = (f"Axis from {number(lower)} to 1. Dots are estimates, lines their {ci.removesuffix(' CI')} intervals, "
            "red marks the gate "
            "threshold. An estimate beyond the axis is drawn hollow at its end; intervals are cut at its ends.")
    return Plot(title=title, desc=desc, width=WIDTH, height=height, view_box=f"0 0 {WIDTH} {height}",
                x0=_c(PLOT_X0), x1=_c(PLOT_X1), label_x=_c(LABEL_END), text_x=_c(TEXT_X), axis_y=_c(axis_y),
                tick_y=_c(axis_y + 18),
                zero_x=_c(_x(0.0, lower)) if lower < 0 else "",
                ticks=[Tick(x=_c(_x(s, lower)), label=number(s)) for s in steps],
                marks=[_mark(p, i, lower, ci) for i, p in enumerate(drawn)],
                more=f"{len(points) - len(drawn)} more not drawn" if len(points) > len(drawn) else "")


def _table(head: list[str], rows: Iterable[list[str]], kinds: str = "", classes: Iterable[str] | None = None) -> Table:
    """``kinds`` has a letter per column (``n``, ``t``, ``p`` or ``.``; missing letters are ``.``)."""
    rows = list(rows)
    cls = list(classes) if classes is not None else [""] * len(rows)
    return Table(head=head, cols=[k.strip(".") for k in kinds.ljust(len(head), ".")],
                 rows=[Row(cells=r, cls=c) for r, c in zip(rows, cls, strict=True)])


def _gate_status(g: Mapping[str, Any], blocking: set[str]) -> tuple[str, str]:
    word, cls = _STATUS.get(str(g.get("status")), ("UNDEFINED", "fail"))
    if g.get("severity") == "warn" and word != "PASS":
        word, cls = ("WARN" if word == "FAIL" else "WARN-UNDEFINED"), "warn"
    return (word + " (blocks)" if g.get("id") in blocking else word), cls


def _gate_row(g: Mapping[str, Any], spec_dir: str) -> list[str]:
    value = gate_value(dict(g)) if _finite(g.get("value")) is not None else "—"
    basis = "" if g.get("on") == "estimate" else f" on {g.get('on')}"
    loc = g.get("declared_at") or {}
    path = str(loc.get("path") or "")
    path = path[len(spec_dir):] if spec_dir and path.startswith(spec_dir) else path  # relative to the spec's folder
    where = f"{path}:{loc.get('line')}" if loc.get("line") else path
    note = g.get("reason") or g.get("detail") or ""
    threshold = _finite(g.get("threshold"))
    return [str(g.get("id")), f"{g.get('metric')} = {value}", interval(g.get("ci_low"), g.get("ci_high")),
            f"{g.get('comparator')} {'—' if threshold is None else f'{threshold:g}'}{basis}", num(g.get("n")),
            str(g.get("severity")), str(note), where]


def _gates(d: Mapping[str, Any]) -> Table:
    blocking = set(d.get("summary", {}).get("blocking", []))
    statuses = [_gate_status(g, blocking) for g in d["gates"]]
    spec_dir = str(d["spec"].get("path") or "").rpartition("/")[0]
    spec_dir = spec_dir + "/" if spec_dir else ""
    return _table(["status", "gate", "measured", ci_label(d), "threshold", "n", "severity", "note", "declared at"],
                  ([s[0], *_gate_row(g, spec_dir)] for s, g in zip(statuses, d["gates"], strict=True)), "...n.n.tp",
                  (s[1] for s in statuses))


def _thresholds(d: Mapping[str, Any], task: str) -> dict[str, Any]:
    """Gate threshold by metric for one task's agreement gates (``min_per_label_alpha`` for the per-label plot)."""
    return {g["metric"]: g.get("threshold") for g in d["gates"]
            if g.get("task") == task and str(g.get("id", "")).startswith("agreement.")}


def _estimate_note(e: Mapping[str, Any]) -> str:
    notes = [str(e[k]) for k in ("reason", "ci_reason") if e.get(k)]
    if e.get("n_excluded"):
        notes.append(f"{num(e['n_excluded'])} excluded")
    return "; ".join(notes)


def _task_notes(t: Mapping[str, Any]) -> list[str]:
    notes = []
    if (k := t.get("cohen_kappa_pairs")) and k.get("n_pairs"):
        low = ", ".join(f"{'–'.join(map(str, p['annotators']))} {num(p['kappa'])} ({num(p['n_units'])} units)"
                        for p in k.get("lowest", [])[:5])
        weights = "unweighted" if k.get("weights") in (None, "none") else f"{k.get('weights')} weights"
        notes.append(f"Cohen's κ ({weights}) over {num(k['n_pairs'])} annotator pairs "
                     f"({num(k.get('n_defined'))} defined): min {num(k.get('min'))}, median {num(k.get('median'))}, "
                     f"max {num(k.get('max'))}; lowest: {low or '—'}")
    if "span_f1_overlap_pooled" in t:
        notes.append(f"Pooled overlap span F1: {num(t['span_f1_overlap_pooled'])}")
    if s := t.get("span_findings"):
        pairs = sorted(s.get("confused_label_pairs", []), key=lambda p: -int(p.get("count", 0)))[:5]
        notes.append(f"Span disagreements: {num(s.get('boundary_disagreements'))} on boundaries, "
                     f"{num(s.get('type_disagreements'))} on type; most confused: "
                     + (", ".join(f"{' ↔ '.join(map(str, p['labels']))} {num(p['count'])}" for p in pairs) or "—"))
    return notes


def _per_label(name: str, t: Mapping[str, Any], threshold: Any, ci: str) -> tuple[Table | None, Plot | None]:
    labels = t.get("per_label") or {}
    if not labels:
        return None, None
    spans = "span_f1_overlap_pooled" in t
    char = t.get("per_label_char_alpha") or {}
    head = ["label", "overlap F1" if spans else "α (one-vs-rest)", "n units"] + (["character α"] if char else [])
    rows = [[str(k), num(e.get("value")), num(e.get("n_units"))] + ([num(char.get(k))] if char else [])
            for k, e in labels.items()]
    order = sorted(labels.items(), key=lambda kv: (_finite(kv[1].get("value")) is None,
                                                   _finite(kv[1].get("value")) or 0.0, kv[0]))
    points = [Point(str(k), e.get("value"), threshold=threshold) for k, e in order]
    title = f"Per-label agreement of task {name}, lowest first"
    return _table(head, rows, ".nnn"), forest_plot(title, points, _lower(points, spans), ci)


def _task(i: int, d: Mapping[str, Any], name: str, t: Mapping[str, Any]) -> TaskCtx:
    agreement = t.get("agreement") or {}
    limits = _thresholds(d, name)
    table = _table(["coefficient", "value", ci_label(d), "n (units unless named)", "note"],
                   ([str(k), num(e.get("value")), interval(e.get("ci_low"), e.get("ci_high")),
                     num(e.get("n_units")) + N_OF.get(str(k), ""), _estimate_note(e)] for k, e in agreement.items()),
                   ".nnnt")
    points = [Point(str(k), e.get("value"), e.get("ci_low"), e.get("ci_high"), limits.get(k))
              for k, e in agreement.items()]
    lower = _lower(points, all(k in UNIT_METRICS for k in agreement))
    ci = ci_label(d)
    plot = (forest_plot(f"Agreement of task {name} with {ci.removesuffix(' CI')} intervals", points, lower, ci)
            if points else None)
    per_label, per_label_plot = _per_label(name, t, limits.get("min_per_label_alpha",
                                                               limits.get("min_per_label_span_f1")), ci)
    depth = t.get("agreement_by_depth") or []
    counts = (f"{num(t.get('n_judgments'))} judgments on {num(t.get('n_units'))} units by "
              f"{num(t.get('n_annotators'))} annotators; {num(t.get('units_below_coverage'))} units below coverage")
    return TaskCtx(name=str(name), anchor=f"task-{i}", counts=counts, agreement=table, plot=plot, per_label=per_label,
                   per_label_plot=per_label_plot, notes=_task_notes(t),
                   depth=_table(["depth", "categories", "α", "percent agreement"],
                                ([num(r.get("depth")), num(r.get("categories")), num(r.get("alpha")),
                                  num(r.get("percent"))] for r in depth), "nnnn") if depth else None)


def _gold(d: Mapping[str, Any]) -> Plot | None:
    gold = d.get("gold") or {}
    if not gold:
        return None
    threshold = next((g.get("threshold") for g in d["gates"] if g.get("id") == "gold.accuracy"), None)
    order = sorted(gold.items(), key=lambda kv: (_finite(kv[1].get("value")) is None,
                                                 _finite(kv[1].get("value")) or 0.0, kv[0]))
    points = [Point(str(a), e.get("value"), e.get("ci_low"), e.get("ci_high"), threshold,
                    f"{num(e.get('value'))} ({num(e.get('correct'))}/{num(e.get('n'))})") for a, e in order]
    return forest_plot("Gold accuracy per annotator with Wilson 95% intervals, lowest first", points, 0.0)


def _findings(d: Mapping[str, Any]) -> Table | None:
    rows = [[str(f.get("kind")), str(f.get("annotator") or "—"), str(f.get("task") or "—"),
             str(f.get("gate") or "—"), str(f.get("message"))] for f in d.get("findings") or []]
    return _table(["kind", "annotator", "task", "gate", "message"], rows, "....t") if rows else None


def _rules(d: Mapping[str, Any]) -> Table | None:
    def examples(r: Mapping[str, Any]) -> str:
        return "; ".join(f"{e.get('file')}:{e.get('line')} {e.get('item')} by {e.get('annotator')}"
                         for e in r.get("examples", [])[:3]) or "—"

    rows = [[str(rid), num(r.get("checked")), num(r.get("violations")), _counts(r.get("by_annotator") or {}),
             examples(r)] for rid, r in (d.get("rules") or {}).items()]
    return _table(["rule", "checked", "violations", "by annotator", "examples"], rows, ".nntp") if rows else None


def _hotspots(d: Mapping[str, Any]) -> tuple[list[tuple[str, Table]], list[str]]:
    h = d.get("hotspots") or {}
    out = []
    if items := h.get("items"):
        out.append(("Most disputed units", _table(
            ["task", "item", "unit", "entropy (bits)", "judgments", "values"],
            ([str(u.get("task")), str(u.get("item")), str(u.get("unit") or "—"), num(u.get("entropy")),
              num(u.get("n_judgments")), _counts(u.get("values") or {})] for u in items), "...nnt")))
    def settled(p: Mapping[str, Any]) -> str:
        cover = ", ".join(f"{c.get('id')} ({str(c.get('kind')).replace('_', ' ')})" for c in p.get("covered_by", []))
        return "guideline gap" if p.get("gap") else cover or "—"

    if pairs := h.get("label_pairs"):
        out.append(("Label pairs annotators split between", _table(
            ["task", "labels", "splits", "units", "share", "settled by", "examples"],
            ([str(p.get("task")), " ↔ ".join(map(str, p.get("labels", []))), num(p.get("splits")),
              num(p.get("units")), _pct(p.get("share")), settled(p), ", ".join(map(str, p.get("examples", []))) or "—"]
             for p in pairs),
            "..nnntp", ("warn" if p.get("gap") else "" for p in pairs))))
    if subtrees := h.get("subtrees"):
        def row(t: Mapping[str, Any]) -> list[str]:
            split = t.get("top_split") or {}
            most = f"{' ↔ '.join(map(str, split.get('labels', [])))} ({num(split.get('splits'))}×)" if split else "—"
            return [str(t.get("task")), str(t.get("parent")), num(t.get("pairs")), num(t.get("splits")),
                    _pct(t.get("share")), most, settled(split) if split else "—",
                    ", ".join(map(str, split.get("examples", []))) or "—"]

        out.append(("Splits under each parent label (taxonomies)", _table(
            ["task", "parent", "pairs under it", "split between children", "share", "most often", "settled by",
             "examples"], (row(t) for t in subtrees), "..nnn.tp",
            ("warn" if (t.get("top_split") or {}).get("gap") else "" for t in subtrees))))
    return out, [str(f.get("suggestion")) for f in h.get("suggested_fixes") or []]


def _consensus(d: Mapping[str, Any]) -> tuple[Table | None, str]:
    c = d.get("consensus") or {}
    tasks = c.get("tasks") or {}
    if not tasks:
        return None, ""

    def method(t: Mapping[str, Any]) -> str:
        m = t.get("model") or {}
        it = m.get("iterations", m.get("bradley_terry_iterations"))
        done = m.get("converged", m.get("bradley_terry_converged"))
        return str(t.get("method")) + ("" if it is None else f" ({'converged' if done else 'not converged'}, "
                                                             f"{num(it)} iterations)")

    rows = [[str(name), method(t), num(t.get("units")), num(t.get("decided")), _counts(t.get("decided_by") or {}),
             num(t.get("routed_to_review")), _counts(t.get("reasons") or {}), num(t.get("expert_changed")),
             num(t.get("expert_conflicts"))] for name, t in tasks.items()]
    reasons = ", ".join(map(str, c.get("review_reasons", []))) or "—"
    default = " (the default)" if c.get("review_reasons_default") else ""
    return _table(["task", "method", "units", "decided", "decided by", "to expert review", "flagged by reason",
                   "changed by experts", "expert conflicts"], rows, ".tnntntnn"), reasons + default


def _accounting(acc: Mapping[str, Any]) -> tuple[str, Table | None, Table | None, list[str]]:
    line = (f"rows_read {num(acc.get('rows_read'))} = rows_used {num(acc.get('rows_used'))} + rows_excluded "
            f"{num(acc.get('rows_excluded'))}")
    by_reason = acc.get("excluded_by_reason") or {}
    excluded = _table(["reason", "rows"], ([str(r), num(n)] for r, n in by_reason.items()), ".n") if by_reason else None
    listed = acc.get("exclusions") or []
    exclusions = _table(["where", "reason", "detail"], ([f"{e.get('file')}:{e.get('line')}", str(e.get("reason")),
                                                          str(e.get("detail"))] for e in listed[:MAX_EXCLUSIONS]),
                        "p.t")
    experts = acc.get("rows_used_expert")
    notes = [f"{num(experts)} of the used rows are by experts"] if experts else []
    more = len(listed) - min(len(listed), MAX_EXCLUSIONS) + int(acc.get("exclusions_truncated") or 0)
    if more:
        notes.append(f"… {more} more exclusions (see the JSON report)")
    if acc.get("not_judgments"):
        notes.append(f"Not read as judgments: {_counts(acc['not_judgments'], zero=True)}")
    if acc.get("balanced") is False:
        notes.append("The rows do not balance: this is a bug in labelspec; please report it.")
    return line, excluded, exclusions if listed else None, notes


def _header(d: Mapping[str, Any]) -> list[tuple[str, str]]:
    spec, s = d["spec"], d.get("summary", {})
    digest = str(spec.get("digest") or "")
    return [("Spec", f"{spec.get('path')} (version {spec.get('version')})"),
            ("Digest", digest[:19] + ("…" if len(digest) > 19 else "")),
            ("Files checked", num(len(d.get("files") or []))),
            ("Gates", f"{num(s.get('passed'))} passed, {num(s.get('failed'))} failed, {num(s.get('undefined'))} "
                      f"undefined, {num(s.get('warnings'))} warnings"),
            ("Strict mode", "on: warnings block the release" if d.get("strict") else "off: warnings do not block")]


def report_context(d: Mapping[str, Any]) -> ReportContext:
    """Everything the page shows, as plain strings and coordinates; sections without data are ``None`` or empty."""
    blocked = bool(d.get("exit_code"))
    blocking = ", ".join(map(str, d.get("summary", {}).get("blocking", [])))
    hot, fixes = _hotspots(d)
    consensus, reasons = _consensus(d)
    rows_line, excluded, exclusions, rows_notes = _accounting(d["accounting"])
    files = [str(f) for f in d.get("files") or []]
    if len(files) > MAX_FILES:
        files = files[:MAX_FILES] + [f"… {len(files) - MAX_FILES} more"]
    return ReportContext(
        title=f"labelspec check: {d['spec'].get('project')} {d['spec'].get('version')}", header=_header(d),
        files=files, verdict=f"release blocked by {blocking or 'a gate'}" if blocked else "release may go",
        verdict_cls="fail" if blocked else "pass", gates=_gates(d),
        tasks=[_task(i, d, str(n), t) for i, (n, t) in enumerate((d.get("tasks") or {}).items(), 1)],
        gold=_gold(d), findings=_findings(d), rules=_rules(d), hotspots=hot, fixes=fixes, consensus=consensus,
        review_reasons=reasons, rows_line=rows_line, excluded=excluded, exclusions=exclusions, rows_notes=rows_notes)


def render_html(d: dict[str, Any]) -> str:
    """The HTML report (``--html``): one page, no script, no external resource, readable printed and in dark mode."""
    return render("html", "report/report.html.j2", report_context(_seen(d)))


def _seen(value: Any) -> Any:
    """``value`` with every string's bidi overrides and line breaks shown as U+FFFD (:data:`render.UNSEEN`)."""
    if isinstance(value, str):
        return UNSEEN.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {k: _seen(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_seen(v) for v in value]
    return value
