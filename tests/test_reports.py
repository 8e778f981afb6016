"""G12: reports are safe to open anywhere, and every format states the same gates and row accounting.

Hostile data (an annotator id with ESC, \\x01, HTML and a table pipe) goes through the real pipeline into every
renderer: JSON stays strict, JUnit parses, the terminal gets no raw ESC, Markdown gets no raw HTML or broken rows.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import AGREEING, DISAGREEING

from labelspec import api
from labelspec.check.render import render_github, render_json, render_junit, render_markdown, render_text
from labelspec.check.report import REPORT_VERSION, Report, clean

EVIL = "a3\x01\x1b[31m<script>alert(1)</script>|x"
LEAD_TIME = "  lead_time: {min_seconds: 3, max_fast_share: 0.2}\n"


def _no_nan(token: str) -> Any:
    raise AssertionError(f"{token} in JSON")


def strict_json(text: str) -> Any:
    return json.loads(text, parse_constant=_no_nan)


def _keys_sorted(value: Any) -> bool:
    if isinstance(value, dict):
        return list(value) == sorted(value) and all(_keys_sorted(v) for v in value.values())
    if isinstance(value, list):
        return all(_keys_sorted(v) for v in value)
    return True


@pytest.fixture
def hostile(tiny_project) -> Report:
    """The EVIL annotator is on the roster and answers implausibly fast: it shows up in a finding and a gate."""
    rows = [(i, EVIL if a == "a3" else a, lab) for i, a, lab in DISAGREEING]
    quoted = EVIL.replace('"', '""')
    text = "item_id,annotator_id,label,lead_time_s\n" + "".join(
        f'{i},"{a}",{lab},{1 if a == EVIL else 10}\n' for i, a, lab in rows) + "i1,a1,posit,10\n"
    p = tiny_project(labels_text=text, extra=LEAD_TIME,
                     files={"annotators.csv": f'id,role\na1,annotator\na2,annotator\n"{quoted}",annotator\n'})
    return api.check_labels(p.root, [p.labels])


def test_the_hostile_annotator_reaches_the_report(hostile: Report) -> None:
    d = hostile.to_dict()
    assert [(f["kind"], f["annotator"]) for f in d["findings"]] == [("lead_time", EVIL)]
    (lead,) = [g for g in d["gates"] if g["id"] == "annotators.lead_time"]
    assert (lead["status"], lead["value"], EVIL in lead["detail"]) == ("fail", 1.0, True)


# --- JSON -------------------------------------------------------------------------------------------------------

def test_json_is_strict_sorted_and_versioned(hostile: Report) -> None:
    text = render_json(hostile.to_dict())
    d = strict_json(text)
    assert d["report_version"] == REPORT_VERSION == 1
    assert _keys_sorted(d)
    assert d["findings"][0]["annotator"] == EVIL  # JSON keeps data exactly (escaped by the encoder)
    assert "\x1b" not in text or "\\u001b" in text


def test_non_finite_numbers_anywhere_become_null(hostile: Report) -> None:
    report = dataclasses.replace(hostile, sections={"extra": {"nan": math.nan, "inf": np.float64("inf"),
                                                              "arr": np.array([1.0, np.nan]).tolist(),
                                                              "np": np.float32(0.5), "i": np.int64(3)}})
    d = strict_json(render_json(report.to_dict()))
    assert d["extra"] == {"arr": [1.0, None], "i": 3, "inf": None, "nan": None, "np": 0.5}


def test_json_escapes_c1_and_bidi_controls_that_json_leaves_raw() -> None:
    data = {"a": "x\x9b31m\u202eevil\u2028", "b": "Tomás ✓"}
    text = render_json(data)
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u202e]", text.replace("\n", ""))
    assert "Tomás ✓" in text  # readable text stays readable
    assert strict_json(text) == data


def test_render_json_refuses_nan_rather_than_writing_invalid_json() -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        render_json({"x": math.nan})


def test_clean_converts_numpy_scalars_and_nested_containers() -> None:
    assert clean({1: (np.float64(2.5), [np.int32(4), -math.inf]), "s": "NaN"}) == {"1": [2.5, [4, None]],
                                                                                  "s": "NaN"}


# --- JUnit ------------------------------------------------------------------------------------------------------

def test_junit_with_illegal_characters_parses_with_one_testcase_per_gate(hostile: Report) -> None:
    d = hostile.to_dict()
    for g in d["gates"]:  # the worst case: control characters in every free-text field of every gate
        g["reason"], g["detail"] = f"reason {EVIL}\x00\ud800", f"detail {EVIL}\x0c"
    xml = render_junit(d)
    suite = ET.fromstring(xml.split("\n", 1)[1])
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [g["id"] for g in d["gates"]]
    assert suite.get("tests") == str(len(d["gates"]))
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", xml)


def test_junit_failures_are_the_blocking_gates(hostile: Report) -> None:
    d = hostile.to_dict()
    suite = ET.fromstring(render_junit(d).split("\n", 1)[1])
    failed = [c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None]
    assert failed == d["summary"]["blocking"] == ["agreement.sentiment"]
    assert suite.get("failures") == "1"
    strict = ET.fromstring(render_junit(d, strict=True).split("\n", 1)[1])
    assert [c.get("name") for c in strict.findall("testcase") if c.find("failure") is not None] == \
        ["annotators.lead_time", "agreement.sentiment"]


def test_junit_states_every_gate_result_and_the_row_accounting(hostile: Report) -> None:
    d = hostile.to_dict()
    suite = ET.fromstring(render_junit(d).split("\n", 1)[1])
    for case, g in zip(suite.findall("testcase"), d["gates"], strict=True):
        text = "".join(case.itertext()) + "".join(e.get("message", "") for e in case)
        assert f"{g['id']}  {g['metric']} = " in text and f"n={g['n']}" in text, case.get("name")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    acc = d["accounting"]
    assert props["rows_read"] == str(acc["rows_read"]) == "19"
    assert (props["rows_used"], props["rows_excluded"]) == ("18", "1")


# --- terminal text ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("color", [False, True])
def test_text_escapes_control_characters_from_data(hostile: Report, color: bool) -> None:
    text = render_text(hostile.to_dict(), color=color)
    assert "\x01" not in text
    assert "a3\\x01\\x1b[31m<script>" in text
    data_escapes = [m.start() for m in re.finditer("\x1b", text)]
    paint = [m.start() for m in re.finditer(r"\x1b\[(?:3[123]|0)m", text)]
    assert data_escapes == paint  # every raw ESC left is labelspec's own colour code
    assert (len(paint) > 0) is color


def test_text_escapes_bidi_controls() -> None:
    from labelspec.check.render import safe

    assert safe("a\u202eb\u2066c\x9bd\x7f") == "a\\u202eb\\u2066c\\x9bd\\x7f"
    # a newline in data would start a line of its own: a forged report line or a GitHub ``::`` workflow command
    assert safe("tab\tand\nnewline\r") == "tab\tand\\x0anewline\\x0d"


# --- Markdown ---------------------------------------------------------------------------------------------------

def test_markdown_escapes_html_pipes_and_control_characters(hostile: Report) -> None:
    md = render_markdown(hostile.to_dict())
    assert "<script>" not in md and "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "\\|x" in md
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", md)


def test_markdown_table_rows_keep_their_columns_with_hostile_reasons(hostile: Report) -> None:
    d = hostile.to_dict()
    for g in d["gates"]:
        g["reason"], g["value"], g["status"] = "bad | value\nsecond line <b>", None, "undefined"
    md = render_markdown(d)
    rows = [line for line in md.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) == len(d["gates"])
    for row in rows:
        assert len(re.findall(r"(?<!\\)\|", row)) == 8, row
    assert "<b>" not in md


# --- GitHub annotations -----------------------------------------------------------------------------------------

def test_github_annotations_are_one_line_each_and_escape_data(hostile: Report) -> None:
    d = hostile.to_dict()
    d["gates"][-1]["reason"] = "line one\nline two\r%"
    out = render_github(d)
    lines = out.splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["::warning", "::error"]
    assert "\x1b" not in out and "line one\\x0aline two\\x0d%25" in out


def test_github_annotation_properties_escape_separators(hostile: Report) -> None:
    d = hostile.to_dict()
    d["gates"][-1]["declared_at"]["path"] = "specs/a,b:c%/labelspec.yaml"
    last = render_github(d).splitlines()[-1]
    assert last.startswith("::error file=specs/a%2Cb%3Ac%25/labelspec.yaml,line=16,col=15,"
                           "title=labelspec gate agreement.sentiment::FAIL ")


# --- the same accounting in every format ------------------------------------------------------------------------

def test_rows_read_equals_used_plus_excluded_in_every_format(hostile: Report) -> None:
    d = hostile.to_dict()
    acc = d["accounting"]
    assert (acc["rows_read"], acc["rows_used"], acc["rows_excluded"]) == (19, 18, 1)
    assert acc["rows_read"] == acc["rows_used"] + sum(acc["excluded_by_reason"].values()) and acc["balanced"]
    line = "rows_read 19 = rows_used 18 + rows_excluded 1"
    assert line in render_text(d) and line in render_markdown(d)
    j = strict_json(render_json(d))["accounting"]
    assert (j["rows_read"], j["rows_used"], j["rows_excluded"]) == (19, 18, 1)
    assert j["exclusions"] == [{"file": j["exclusions"][0]["file"], "line": 20, "reason": "invalid_value",
                                "detail": "unknown label 'posit'"}]


def test_a_clean_run_renders_the_same_verdict_everywhere(tiny_project) -> None:
    p = tiny_project(AGREEING)
    d = api.check_labels(p.root, [p.labels]).to_dict()
    assert d["exit_code"] == 0
    assert render_text(d).rstrip().endswith("release may go")
    assert "✅ release may go" in render_markdown(d)
    assert ET.fromstring(render_junit(d).split("\n", 1)[1]).get("failures") == "0"
    assert render_github(d) == ""


@pytest.mark.parametrize(("value", "threshold", "shown"), [
    (1 / 3493, 0.0, "0.000286"),  # rounded to 0.000 it would seem to meet "<= 0" on a failing gate
    (0.69996, 0.7, "0.69996"),  # 0.700 would seem to meet ">= 0.7"; 3 or 4 significant digits round up too
    (0.7712, 0.7, "0.771"),
    (0.7, 0.7, "0.700"),
    (0.1 + 2 ** -56, 0.1, "0.10000000000000002"),  # 17 significant digits: 16 would print "0.1" beside a FAIL
])
def test_a_gate_value_never_rounds_onto_the_other_side_of_its_threshold(value: float, threshold: float,
                                                                        shown: str) -> None:
    from labelspec.check.render import gate_value

    text = gate_value({"metric": "krippendorff_alpha", "value": value, "threshold": threshold})
    assert text == shown
    assert (float(text) > threshold) - (float(text) < threshold) == (value > threshold) - (value < threshold)


def test_intervals_are_labelled_at_the_specs_bootstrap_level(tiny_project) -> None:
    """quality.bootstrap.level 0.8 gives 80% intervals: every format said "95% CI" (found by an audit)."""
    from labelspec.check.render import render_markdown, render_text
    from labelspec.check.render_html import render_html

    p = tiny_project()
    d = api.check_labels(p.root, [p.labels]).to_dict()
    assert d["ci_level"] == 0.95 and "| 95% CI |" in render_markdown(d)
    d = {**d, "ci_level": 0.8, "gates": [{**g, "ci_low": 0.5, "ci_high": 0.9} for g in d["gates"]]}
    assert "| 80% CI |" in render_markdown(d) and "95%" not in render_markdown(d)
    assert "(80% CI 0.500–0.900)" in render_text(d) and "95% CI" not in render_text(d)
    html = render_html(d)
    assert re.search(r"<th[^>]*>80% CI</th>", html) and "95% CI" not in html


def test_markdown_and_github_say_undefined_and_strict_blocking_alike() -> None:
    """An undefined gate with a value reads as undefined with its reason, not as a failed comparison; under
    --strict a failing warning blocks, and Markdown and GitHub mark it as an error like JUnit does."""
    from labelspec.check.render import render_github, render_markdown

    gate = {"id": "agreement.t", "metric": "krippendorff_alpha", "task": "t", "comparator": ">=", "threshold": 0.5,
            "on": "ci_low", "severity": "warn", "status": "undefined", "value": 1.0, "ci_low": None, "ci_high": None,
            "compared": None, "n": 10, "reason": "67 of 200 bootstrap replicates undefined", "detail": "",
            "description": "", "declared_at": {"path": "s.yaml", "line": 3, "column": 5}}
    d = {"spec": {"project": "p", "version": "1"}, "exit_code": 1, "ci_level": 0.95, "gates": [gate],
         "summary": {"blocking": ["agreement.t"]}, "findings": [],
         "accounting": {"rows_read": 0, "rows_used": 0, "rows_excluded": 0, "excluded_by_reason": {}}}
    md = render_markdown(d)
    assert "| ❌ | `agreement.t` | 1.000 (undefined: 67 of 200 bootstrap replicates undefined) |" in md
    assert render_github(d).startswith("::error ")
    relaxed = {**d, "exit_code": 0, "summary": {"blocking": []}}
    assert "| ⚠️ |" in render_markdown(relaxed) and render_github(relaxed).startswith("::warning ")


def test_bidi_overrides_and_line_breaks_in_data_do_not_reach_html_or_junit(tiny_project) -> None:
    """An annotator id with U+202E (right-to-left override) or a line break can make a page lie about what it
    shows: HTML and JUnit print U+FFFD for them, as the terminal escapes them (found by an audit)."""
    from labelspec.check.render import render_junit
    from labelspec.check.render_html import render_html

    p = tiny_project(rows=[(i, "a1\u202egnp.exe" if a == "a1" else a, lab) for i, a, lab in AGREEING])
    d = api.check_labels(p.root, [p.labels]).to_dict()
    d["gates"][0]["detail"] = "first line\nsecond \u2066line"
    html, junit = render_html(d), render_junit(d)
    for text in (html, junit):
        assert "\u202e" not in text and "\u2066" not in text
    assert "first line\ufffdsecond \ufffdline" in html and "first line\ufffdsecond \ufffdline" in junit


def test_the_verdict_line_says_how_many_warnings_are_undefined() -> None:
    """"0 undefined" beside a WARN-UNDEFINED gate read as if every gate had been measured (demo audit)."""
    from labelspec import api
    from labelspec.check.render import render_text

    root = Path(__file__).resolve().parents[1] / "specs" / "support-intent"
    d = api.check_labels(root, [root / "labels"]).to_dict()
    assert render_text(d).splitlines()[-1] == (
        "11 passed, 0 failed, 0 undefined, 5 warnings (1 of them undefined): release may go")
