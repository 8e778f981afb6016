"""G12 for the HTML check report: self-contained, escaped, deterministic, "—" for nulls, plots inside their boxes.

Every example project is checked for real and rendered; a hostile copy of a real report puts markup, quotes,
control characters and line separators into every kind of string the page shows.
"""

from __future__ import annotations

import copy
import html
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from emit_snapshot import HtmlSnapshot

from labelspec import api
from labelspec.check.render_html import PLOT_X0, PLOT_X1, Point, forest_plot, render_html, report_context

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = ["support-intent", "clinical-ner", "rlhf-preference", "agent-trajectories"]
EVIL = "<script>alert(1)</script>\"'</style><svg onload=alert(2)>]]>\x00\x1b[31m\u2028&amp;"
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}
COORDS_X = {"x", "x1", "x2", "cx"}
COORDS_Y = {"y", "y1", "y2", "cy"}


class StrictParser(HTMLParser):
    """Records every start tag with its attributes, the text, and fails on an end tag that closes the wrong element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.svgs: list[tuple[tuple[float, float], list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._record(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def _record(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag == "svg":
            _, _, w, h = (float(v) for v in (dict(attrs)["viewbox"] or "").split())
            self.svgs.append(((w, h), []))
        elif "svg" in self.stack:
            self.svgs[-1][1].extend(attrs)


def parse(page: str) -> StrictParser:
    p = StrictParser()
    p.feed(page)
    p.close()
    assert p.stack == [], f"unclosed: {p.stack}"
    return p


def check(project: str, bootstrap: int | None = None) -> dict[str, Any]:
    with pytest.MonkeyPatch.context() as mp:  # paths in the report relative to the repository, as in the docs
        mp.chdir(REPO)
        return api.check_labels(f"specs/{project}", [f"specs/{project}/labels"], bootstrap=bootstrap).to_dict()


@pytest.fixture(scope="module")
def reports() -> dict[str, dict[str, Any]]:
    """The four examples; support-intent with its own bootstrap (snapshotted), the rest with a small one (CPU)."""
    return {p: check(p, None if p == "support-intent" else 50) for p in EXAMPLES}


def assert_self_contained(page: str, parsed: StrictParser) -> None:
    lower = page.lower()
    for needle in ("<script", "<link", "@import", "http://", "https://", "url(", "<iframe", "<object", "<embed"):
        assert needle not in lower, needle
    for tag, attrs in parsed.tags:
        assert tag != "script"
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src", "xlink:href", "action", "srcset"):
                assert name == "href" and (value or "").startswith("#") and "//" not in (value or ""), (tag, value)


@pytest.mark.parametrize("project", EXAMPLES)
def test_every_example_renders_a_self_contained_page(reports: dict[str, dict[str, Any]], project: str) -> None:
    d = reports[project]
    page = render_html(d)
    parsed = parse(page)
    assert_self_contained(page, parsed)
    text = html.unescape("".join(parsed.text))
    assert all(g["id"] in text for g in d["gates"])
    assert all(f"Task {name}" in text for name in d["tasks"])
    assert ("release blocked by " + ", ".join(d["summary"]["blocking"]) in text) == bool(d["exit_code"])
    assert ("release may go" in text) != bool(d["exit_code"])
    assert f"rows_read {d['accounting']['rows_read']} = rows_used {d['accounting']['rows_used']}" in text
    svgs = [a for t, a in parsed.tags if t == "svg"]
    assert len(svgs) >= len(d["tasks"]) + (1 if d["gold"] else 0)
    assert all(("role", "img") in a for a in svgs)
    titles = 1 + sum(1 + len(p["marks"]) for p in plots(report_context(d)))  # the page's, each plot's, each mark's
    assert [t for t, _ in parsed.tags].count("title") == titles
    assert not re.search(r"\bNone\b|(?i:\bnan\b)", text)


def plots(ctx: Any) -> list[Any]:
    out = [t[k] for t in ctx["tasks"] for k in ("plot", "per_label_plot") if t[k]]
    return out + ([ctx["gold"]] if ctx["gold"] else [])


def test_the_example_plots_show_thresholds_intervals_and_fixed_axes(reports: dict[str, dict[str, Any]]) -> None:
    ctx = report_context(reports["support-intent"])
    intent = ctx["tasks"][0]
    assert intent["name"] == "intent" and intent["plot"] and intent["per_label_plot"] and ctx["gold"]
    marks = {m["label"]: m for m in intent["plot"]["marks"]}
    assert marks["krippendorff_alpha"]["tick_x"] and not marks["cohen_kappa"]["tick_x"]  # the gate's metric only
    assert all(m["x1"] and m["x2"] and float(m["x1"]) <= float(m["cx"]) <= float(m["x2"]) for m in marks.values())
    assert [t["label"] for t in intent["plot"]["ticks"]] == ["0", "0.25", "0.5", "0.75", "1"]
    assert all(m["tick_x"] for m in intent["per_label_plot"]["marks"] + ctx["gold"]["marks"])
    gold = [float(m["text"].split()[0]) for m in ctx["gold"]["marks"]]
    assert gold == sorted(gold)  # lowest first
    trajectories = report_context(reports["agent-trajectories"])["tasks"]
    failure_mode = next(t for t in trajectories if t["name"] == "failure_mode")
    assert failure_mode["per_label_plot"] and failure_mode["depth"]  # a negative per-label α: the −1…1 axis
    assert failure_mode["per_label_plot"]["ticks"][0]["label"] == "-1"


def test_the_support_intent_page_is_unchanged(reports: dict[str, dict[str, Any]], snapshot: Any) -> None:
    page = render_html(reports["support-intent"])
    assert page == snapshot(extension_class=HtmlSnapshot)


def test_rendering_is_deterministic(reports: dict[str, dict[str, Any]]) -> None:
    d = reports["agent-trajectories"]
    assert render_html(d) == render_html(copy.deepcopy(d)) == render_html(d)


def test_without_bootstrap_intervals_show_a_dash_never_none_or_nan() -> None:
    d = check("support-intent", 0)
    assert all(e["ci_low"] is None for t in d["tasks"].values() for e in t["agreement"].values())
    page = render_html(d)
    text = html.unescape("".join(parse(page).text))
    assert not re.search(r"\bNone\b|(?i:\bnan\b)", text)
    ctx = report_context(d)
    for task in ctx["tasks"]:
        assert {r["cells"][2] for r in task["agreement"]["rows"]} == {"—"}
        assert task["plot"] and all(m["cx"] and not m["x1"] and not m["x2"] for m in task["plot"]["marks"])
    undefined = [r for r in ctx["gates"]["rows"] if r["cells"][1] == "agreement.intent"]
    assert undefined and undefined[0]["cells"][0].startswith("UNDEFINED") and undefined[0]["cells"][3] == "—"
    assert "release blocked by agreement.intent" in text


def test_a_taxonomy_shows_the_splits_under_each_parent_label(reports: dict[str, dict[str, Any]]) -> None:
    d = reports["agent-trajectories"]
    text = html.unescape("".join(parse(render_html(d)).text))
    assert "Splits under each parent label (taxonomies)" in text
    for t in d["hotspots"]["subtrees"]:
        split = t["top_split"]
        assert f"{split['labels'][0]} ↔ {split['labels'][1]} ({split['splits']}×)" in text
    assert "Splits under each parent label" not in html.unescape("".join(parse(render_html(
        reports["support-intent"])).text))  # no taxonomy, no table


def test_null_values_render_as_a_dash(reports: dict[str, dict[str, Any]]) -> None:
    d = copy.deepcopy(reports["rlhf-preference"])
    g = d["gates"][0]
    g.update(value=None, ci_low=None, ci_high=None, compared=None, status="undefined", reason="no data", n=0)
    est = next(iter(d["tasks"]["preference"]["agreement"].values()))
    est.update(value=None, ci_low=None, ci_high=None, reason="only one category observed")
    next(iter(d["gold"].values())).update(value=None, ci_low=None, ci_high=float("nan"))
    ctx = report_context(d)
    assert ctx["gates"]["rows"][0]["cells"][2:4] == [f"{g['metric']} = —", "—"]
    assert ctx["tasks"][0]["agreement"]["rows"][0]["cells"][1:3] == ["—", "—"]
    text = html.unescape("".join(parse(render_html(d)).text))
    assert "only one category observed" in text and "no data" in text
    assert not re.search(r"\bNone\b|(?i:\bnan\b)", text)


def poison(d: dict[str, Any]) -> dict[str, Any]:
    """A real report with EVIL in task names, label ids, annotator ids, messages, file names and spec fields."""
    d = copy.deepcopy(d)
    names = {name: EVIL + name for name in d["tasks"]}
    d["spec"].update(project=EVIL, version=EVIL, path=EVIL + ".yaml", digest=EVIL)
    d["files"] = [EVIL + ".csv"]
    d["tasks"] = {names[k]: t for k, t in d["tasks"].items()}
    for t in d["tasks"].values():
        t["per_label"] = {EVIL + k: e for k, e in t["per_label"].items()}
        t["agreement"] = {EVIL + k: e for k, e in t["agreement"].items()}
        for p in t.get("cohen_kappa_pairs", {}).get("lowest", []):
            p["annotators"] = [EVIL, EVIL]
    d["gold"] = {EVIL + a: e for a, e in d["gold"].items()}
    for g in d["gates"]:
        g.update(id=EVIL + g["id"], task=names.get(g["task"]), detail=EVIL, reason=EVIL,
                 declared_at={"path": EVIL, "line": 1})
    for f in d["findings"]:
        f.update(annotator=EVIL, message=EVIL, task=names.get(f["task"]), kind=EVIL)
    for r in d["rules"].values():
        r["by_annotator"] = {EVIL: 1}
        for e in r["examples"]:
            e.update(annotator=EVIL, item=EVIL, file=EVIL)
    for item in d["hotspots"]["items"]:
        item.update(task=names[item["task"]], item=EVIL, values={EVIL: 2})
    for pair in d["hotspots"]["label_pairs"]:
        pair.update(task=names[pair["task"]], labels=[EVIL, EVIL], examples=[EVIL],
                    covered_by=[{"id": EVIL, "kind": "edge_case", "link": EVIL}])
    for fix in d["hotspots"]["suggested_fixes"]:
        fix["suggestion"] = EVIL
    d["hotspots"]["subtrees"] = [{"task": EVIL, "parent": EVIL, "depth": 0, "pairs": 3, "splits": 1, "share": 1 / 3,
                                  "top_split": {"labels": [EVIL, EVIL], "splits": 1, "gap": False, "examples": [EVIL],
                                                "covered_by": [{"id": EVIL, "kind": "edge_case", "link": EVIL}]}}]
    d["consensus"]["tasks"] = {names[k]: {**c, "method": EVIL, "decided_by": {EVIL: 1}}
                               for k, c in d["consensus"]["tasks"].items()}
    d["consensus"]["review_reasons"] = [EVIL]
    d["accounting"]["exclusions"] = [{"file": EVIL, "line": 1, "reason": EVIL, "detail": EVIL}]
    d["accounting"]["excluded_by_reason"] = {EVIL: 1}
    d["accounting"]["not_judgments"] = {EVIL: 1}
    return d


def test_hostile_strings_are_shown_as_text_and_never_become_markup(reports: dict[str, dict[str, Any]]) -> None:
    clean = reports["support-intent"]
    hostile = poison(clean)
    page = render_html(hostile)
    parsed, reference = parse(page), parse(render_html(poison_free_shape(clean, hostile)))
    assert_self_contained(page, parsed)
    # the same elements and attribute names as a page whose strings are harmless: data made no element or attribute
    assert [(t, [n for n, _ in a]) for t, a in parsed.tags] == [(t, [n for n, _ in a]) for t, a in reference.tags]
    values = {v for _, a in reference.tags for _, v in a}
    assert all(v in values for _, a in parsed.tags for _, v in a)
    assert "\x00" not in page and "\x1b" not in page
    assert page.count("</style>") == 1 and page.lower().count("<svg") == len(reference.svgs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&lt;/style&gt;&lt;svg onload=alert(2)&gt;]]&gt;" in page
    text = "".join(parsed.text)
    shown = "<script>alert(1)</script>\"'</style><svg onload=alert(2)>]]>\ufffd\ufffd[31m\u2028&amp;"
    assert text.count(shown) >= len(hostile["findings"]) + len(hostile["gates"])  # shown literally, as text
    assert "guidelines.html" not in page  # covered_by links are named, never linked


def poison_free_shape(clean: dict[str, Any], hostile: dict[str, Any]) -> dict[str, Any]:
    """The hostile report with each EVIL replaced by a harmless word: same shape, same element structure."""
    def scrub(x: Any) -> Any:
        if isinstance(x, str):
            return x.replace(EVIL, "word")
        if isinstance(x, dict):
            return {scrub(k): scrub(v) for k, v in x.items()}
        return [scrub(v) for v in x] if isinstance(x, list) else x

    out: dict[str, Any] = scrub(hostile)
    assert out["spec"]["project"] == "word" and clean["spec"]["project"] != "word"
    return out


def inside(parsed: StrictParser) -> None:
    for (w, h), attrs in parsed.svgs:
        for name, value in attrs:
            if name in COORDS_X | COORDS_Y and value is not None:
                limit = w if name in COORDS_X else h
                assert 0 <= float(value) <= limit, (name, value, w, h)


@pytest.mark.parametrize("lower", [-1.0, 0.0])
def test_plot_geometry_stays_inside_the_viewbox_and_clamps(lower: float) -> None:
    points = [Point("at the lower end", lower, lower, lower, lower), Point("at the upper end", 1.0, 1.0, 1.0, 1.0),
              Point("far below", -50.0, -80.0, -20.0, -9.0), Point("far above", 7.5, 2.0, 1e9, 3.0),
              Point("straddling", 0.5, -4.0, 4.0), Point("no value", None, None, None),
              Point("not finite", float("nan"), float("-inf"), float("inf"), float("nan")), Point("x" * 200, 0.25)]
    plot = forest_plot("extremes", points, lower)
    marks = {m["title"].split(":")[0]: m for m in plot["marks"]}
    assert [marks[k]["clamped"] for k in ("at the lower end", "at the upper end", "far below", "far above")] == [
        False, False, True, True]
    assert float(marks["far below"]["cx"]) == PLOT_X0 and float(marks["far above"]["cx"]) == PLOT_X1
    assert float(marks["far above"]["x2"]) == PLOT_X1 and float(marks["straddling"]["x1"]) == PLOT_X0
    assert marks["no value"]["cx"] == "" and marks["not finite"]["cx"] == marks["not finite"]["x1"] == ""
    assert len(plot["marks"][-1]["label"]) <= 28  # long names are shortened in the plot (tables keep them whole)
    d = minimal_report()
    d["tasks"]["t"]["agreement"] = {f"m{i}": {"value": p.value, "ci_low": p.low, "ci_high": p.high, "n_units": 1}
                                    for i, p in enumerate(points)}
    inside(parse(render_html(d)))


def minimal_report() -> dict[str, Any]:
    """The smallest report the page accepts: no gold, consensus, hotspots, rules or findings."""
    return {"spec": {"path": "s.yaml", "project": "p", "version": "1.0.0", "digest": "sha256:00"}, "files": [],
            "exit_code": 0, "strict": False, "summary": {"blocking": []}, "gates": [], "findings": [], "rules": {},
            "gold": None, "tasks": {"t": {"agreement": {}, "per_label": {}}},
            "accounting": {"rows_read": 0, "rows_used": 0, "rows_excluded": 0, "excluded_by_reason": {},
                           "exclusions": [], "exclusions_truncated": 0, "not_judgments": {}, "balanced": True}}


def test_extreme_report_values_stay_inside_every_plot(reports: dict[str, dict[str, Any]]) -> None:
    d = copy.deepcopy(reports["agent-trajectories"])
    for t in d["tasks"].values():
        for k, e in t["agreement"].items():
            e.update(value=-3.0 if len(k) % 2 else 2.5, ci_low=-10.0, ci_high=10.0)
        for e in t["per_label"].values():
            e["value"] = -7.0
    for e in d["gold"].values():
        e.update(value=1.5, ci_low=-0.5, ci_high=2.0)
    for g in d["gates"]:
        g["threshold"] = 40.0
    parsed = parse(render_html(d))
    assert parsed.svgs and any(("class", "dot clamp") in a for _, a in parsed.tags)
    inside(parsed)


def test_a_minimal_report_renders_without_optional_sections() -> None:
    page = render_html(minimal_report())
    parsed = parse(page)
    assert_self_contained(page, parsed)
    text = "".join(parsed.text)
    assert "release may go" in text and "Gold accuracy" not in text and "Consensus" not in text
    assert "<svg" not in page


def test_the_cli_writes_the_page_beside_the_other_reports(run_cli, tmp_path: Path) -> None:
    page, summary = tmp_path / "r.html", tmp_path / "r.md"
    r = run_cli("check", str(REPO / "specs" / "support-intent"), str(REPO / "specs" / "support-intent" / "labels"),
                "--html", str(page), "--markdown", str(summary), "-q")
    assert r.code == 0 and page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "agreement.intent" in page.read_text(encoding="utf-8") and summary.exists()
    assert run_cli("check", str(REPO / "specs" / "support-intent"), str(REPO / "specs" / "support-intent" / "labels"),
                   "--html", str(page), "--markdown", str(page)).code == 2  # one file, two reports
