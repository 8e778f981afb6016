"""Render a check report's dict as terminal text, Markdown, JUnit XML, JSON or GitHub Actions annotations.

Every renderer reads the same ``Report.to_dict()``. Data reaches text formats escaped: control characters are
shown as escapes in the terminal, Markdown cells escape pipes and HTML, JUnit strips XML-illegal characters and is
parsed back before it is returned.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from typing import Any

from labelspec.errors import Diagnostic
from labelspec.spec.plan import level_text

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: Characters that make text lie about itself in a page (bidi overrides, line breaks inside a name): data from
#: label files shows them as U+FFFD in HTML and JUnit, as the terminal shows them escaped.
UNSEEN = re.compile("[\n\r\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def safe(text: Any) -> str:
    """Terminal-safe text: no raw ESC or bidi controls from data."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}",
                        str(text))


def safe_lines(text: str) -> str:
    """:func:`safe` line by line: the line breaks of a summary stay, every other control or bidi character from
    spec text or data is shown escaped (``diff`` and ``compile --diff`` print spec text)."""
    return "\n".join(safe(line) for line in text.split("\n"))


def fmt(x: Any) -> str:
    return "—" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x))


#: What ``n`` counts for the coefficients that do not rest on units (docs/statistics.md: ``n_units``); shown
#: after the number, so that n=26 is not read as 26 units.
N_OF = {"cohen_kappa": " annotator pairs", "span_f1_overlap": " annotator pairs", "span_f1_exact": " annotator pairs",
        "span_alpha": " characters", "preference_alpha": " option pairs"}

#: Gate metrics that count things (shown as integers, not as 3-decimal fractions).
COUNT_METRICS = frozenset({"rule_violations", "rows_missing_provenance", "annotators_below_rolling_gold",
                           "annotators_divergent", "annotators_too_fast"})


def gate_value(g: dict[str, Any]) -> str:
    """The measured value: 3 decimals, or as many significant digits as it takes for the text to stand on the
    same side of the threshold as the value (1 excluded row of 3,493 is 0.000286, not "0.000 <= 0" on a FAIL)."""
    v = g["value"]
    if g["metric"] in COUNT_METRICS and isinstance(v, float):
        return str(int(v))
    text = fmt(v)
    t = g.get("threshold")
    if not isinstance(v, float) or not isinstance(t, (int, float)):
        return text
    side = (v > t) - (v < t)
    digits = 3
    while (float(text) > t) - (float(text) < t) != side and digits <= 17:  # 17 digits always round-trip
        text, digits = f"{v:.{digits}g}", digits + 1
    return text


def ci_label(d: Mapping[str, Any]) -> str:
    """"95% CI", at the report's bootstrap level (``quality.bootstrap.level``)."""
    return f"{level_text(float(d.get('ci_level', 0.95)))} CI"


def _gate_line(g: dict[str, Any], ci: str = "95% CI") -> str:
    status = {"pass": "PASS", "fail": "FAIL", "undefined": "UNDEFINED"}[g["status"]]
    if g["severity"] == "warn" and g["status"] != "pass":
        status = "WARN" if g["status"] == "fail" else "WARN-UNDEFINED"
    ci = f" ({ci} {fmt(g['ci_low'])}–{fmt(g['ci_high'])})" if g["ci_low"] is not None else ""
    basis = "" if g["on"] == "estimate" else f" on {g['on']}"
    why = f"  [{g['reason']}]" if g["reason"] else ""
    loc = g["declared_at"]
    where = f"  {loc['path']}:{loc['line']}:{loc['column']}" if loc["line"] else ""
    detail = f"  ({g['detail']})" if g.get("detail") else ""
    return (f"{status:<9} {g['id']}  {g['metric']} = {gate_value(g)}{ci} {g['comparator']} {g['threshold']:g}"
            f"{basis}, n={g['n']}{N_OF.get(g['metric'], '')}{why}{detail}{where}")


def _finding_line(f: dict[str, Any]) -> str:
    who = f["annotator"] or ""
    where = f" (task {f['task']})" if f["task"] else ""
    return f"{f['kind']}: {who}{where}: {f['message']}"


def render_text(d: dict[str, Any], *, color: bool = False) -> str:
    """Gates first, then findings, then row accounting: the order a reader acts in."""
    paint = {"PASS": "32", "FAIL": "31", "UNDEFINED": "31", "WARN": "33", "WARN-UNDEFINED": "33"}
    lines = [f"labelspec check: {d['spec']['project']} {d['spec']['version']} ({d['spec']['path']})", "", "Gates"]
    for g in d["gates"]:
        line = safe(_gate_line(g, ci_label(d)))
        word = line.split(" ", 1)[0]
        lines.append("  " + (f"\x1b[{paint[word]}m{line}\x1b[0m" if color else line))
    if d["findings"]:
        lines += ["", "Findings"]
        lines += ["  " + safe(_finding_line(f)) for f in d["findings"]]
    for section in ("hotspots", "consensus"):
        if d.get(section, {}).get("summary"):
            lines += ["", section.capitalize()] + ["  " + safe(s) for s in d[section]["summary"]]
    acc = d["accounting"]
    lines += ["", "Rows", f"  rows_read {acc['rows_read']} = rows_used {acc['rows_used']} + rows_excluded "
              f"{acc['rows_excluded']}"]
    lines += [f"    {reason}: {n}" for reason, n in acc["excluded_by_reason"].items()]
    lines += ["    " + safe(f"{e['file']}:{e['line']}: {e['reason']}: {e['detail']}") for e in acc["exclusions"][:10]]
    if len(acc["exclusions"]) > 10 or acc["exclusions_truncated"]:
        lines.append(f"    … {acc['rows_excluded'] - 10} more (see --json)")
    if acc.get("not_judgments"):
        seen = ", ".join(f"{k} {n}" for k, n in acc["not_judgments"].items())
        lines.append(f"  not read as judgments: {seen}")
    s = d["summary"]
    verdict = "release blocked" if d["exit_code"] else "release may go"
    # a warn gate that could not be measured is one of the warnings, not of the undefined (which block): say so
    vague = sum(1 for g in d["gates"] if g["status"] == "undefined" and g["severity"] == "warn")
    of_them = f" ({vague} of them undefined)" if vague else ""
    lines += ["", f"{s['passed']} passed, {s['failed']} failed, {s['undefined']} undefined, {s['warnings']} warnings"
              f"{of_them}: {verdict}"]
    return "\n".join(lines) + "\n"


def md_cell(text: Any) -> str:
    """Data as inert Markdown on one line (a table cell, a list item): control characters and newlines as escapes
    (a .md file is also read with `cat`), raw HTML as entities, and emphasis, link, image, code and table syntax
    and line-start markers backslash-escaped, so a summary shows data and never loads an image or a link."""
    # imported here: it imports Jinja, which the CLI should not load on every start (console imports this module)
    from labelspec.templating import md_inline

    return str(md_inline(safe(fmt(text) if not isinstance(text, str) else text)))


def md_code(text: Any) -> str:
    """Data as a Markdown code span (gate ids): inside one only a backtick or a table pipe means anything, so the
    fence is longer than any backtick run in the text, and pipes are escaped (GitHub tables split cells first)."""
    s = safe(text).replace("|", "\\|")
    runs = [len(r) for r in re.findall("`+", s)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def render_markdown(d: dict[str, Any]) -> str:
    """For pull-request comments and $GITHUB_STEP_SUMMARY."""
    icon = {"pass": "✅", "fail": "❌", "undefined": "❌"}
    blocking = set(d["summary"].get("blocking", []))  # under --strict a warning blocks: ❌ like an error
    verdict = "❌ release blocked" if d["exit_code"] else "✅ release may go"
    out = [f"## labelspec check: {md_cell(d['spec']['project'])} {md_cell(d['spec']['version'])} — {verdict}", "",
           f"| | gate | value | {ci_label(d)} | threshold | n | severity |", "|---|---|---|---|---|---|---|"]
    for g in d["gates"]:
        warn = g["severity"] == "warn" and g["status"] != "pass" and g["id"] not in blocking
        mark = "⚠️" if warn else icon[g["status"]]
        ci = f"{fmt(g['ci_low'])}–{fmt(g['ci_high'])}" if g["ci_low"] is not None else ""
        value = gate_value(g) if g["value"] is not None else "—"
        if g["status"] == "undefined":  # not a failed comparison: say so, and why (the value may be shown)
            value += f" (undefined: {g['reason']})"
        out.append(f"| {mark} | {md_code(g['id'])} | {md_cell(value)} | {ci} | {g['comparator']} {g['threshold']:g}"
                   f"{' on ' + g['on'] if g['on'] != 'estimate' else ''} | {g['n']}{N_OF.get(g['metric'], '')} | {g['severity']} |")
    if d["findings"]:
        out += ["", "### Findings", ""]
        out += [f"- **{md_cell(f['kind'])}** {md_cell(_finding_line(f).split(': ', 1)[1])}" for f in d["findings"]]
    acc = d["accounting"]
    out += ["", "### Rows", "", f"rows_read {acc['rows_read']} = rows_used {acc['rows_used']} + rows_excluded "
            f"{acc['rows_excluded']}", ""]
    out += [f"- {md_cell(r)}: {n}" for r, n in acc["excluded_by_reason"].items()]
    return "\n".join(out) + "\n"


def _xml_text(text: Any) -> str:
    return UNSEEN.sub("\ufffd", _XML_ILLEGAL.sub("\ufffd", str(text)))


def render_junit(d: dict[str, Any], *, strict: bool = False) -> str:
    """One test case per gate; CI systems show blocking gates as failures and warnings as skipped notes."""
    suite = ET.Element("testsuite", name=_xml_text(f"labelspec.{d['spec']['project']}"), tests=str(len(d["gates"])))
    props = ET.SubElement(suite, "properties")  # the row accounting, as in every other format
    for key in ("rows_read", "rows_used", "rows_excluded"):
        ET.SubElement(props, "property", name=key, value=str(d["accounting"][key]))
    failures = 0
    for g in d["gates"]:
        case = ET.SubElement(suite, "testcase", classname=_xml_text(f"labelspec.{d['spec']['project']}"),
                             name=_xml_text(g["id"]))
        text = _xml_text(_gate_line(g, ci_label(d)))
        if g["status"] != "pass" and (g["severity"] == "error" or strict):
            failures += 1
            ET.SubElement(case, "failure", message=text).text = text
        else:  # passing gates state their value, threshold and n too (G11)
            ET.SubElement(case, "system-out").text = text if g["status"] == "pass" else "warning: " + text
    suite.set("failures", str(failures))
    out = ET.tostring(suite, encoding="unicode", xml_declaration=False)
    ET.fromstring(out)  # the file must parse before anyone is handed it
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + out + "\n"


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def render_json(d: dict[str, Any]) -> str:
    """Strict JSON (no NaN); C1 and bidi controls, which json leaves raw, are written as \\u escapes."""
    text = json.dumps(d, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_property(text: Any) -> str:
    """Values of ``file=…,title=…`` also escape the property separators. Newlines are escaped first, as GitHub
    documents (``%0A``), so a path holding one still names its file; other controls are shown as escapes."""
    return safe(_gh_escape(str(text)).replace(":", "%3A").replace(",", "%2C"))


def github_diagnostics(diagnostics: Iterable[Diagnostic]) -> str:
    """``::error`` / ``::warning`` workflow commands for diagnostics (bad input, spec or usage: exit 2), each
    located at its file, line and column when it has them, so the pull request shows them on the line."""
    out = []
    for d in diagnostics:
        loc = d.loc
        where = ""
        if loc is not None and loc.path and not loc.path.startswith("<"):
            where = f"file={_gh_property(loc.path)}" + (f",line={loc.line}" if loc.line else "") + (
                f",col={loc.column}" if loc.line and loc.column else "") + ","
        level = "warning" if d.severity == "warning" else "error"
        pointer = f" {d.pointer}:" if d.pointer else ""
        out.append(f"::{level} {where}title={_gh_property('labelspec ' + d.code)}::"
                   f"{_gh_escape(safe(d.code + pointer + ' ' + d.message))}")
    return "\n".join(out) + ("\n" if out else "")


def render_github(d: dict[str, Any]) -> str:
    """``::error`` / ``::warning`` workflow commands for gates that did not pass, located at the spec line."""
    out = []
    blocking = set(d["summary"].get("blocking", []))  # under --strict a warning blocks: an error, as in JUnit
    for g in d["gates"]:
        if g["status"] == "pass":
            continue
        level = "error" if g["severity"] == "error" or g["id"] in blocking else "warning"
        loc = g["declared_at"]
        where = f"file={_gh_property(loc['path'])},line={loc['line']},col={loc['column']}," if loc["line"] else ""
        out.append(f"::{level} {where}title={_gh_property('labelspec gate ' + g['id'])}::"
                   f"{_gh_escape(safe(_gate_line(g, ci_label(d))))}")
    return "\n".join(out) + ("\n" if out else "")
