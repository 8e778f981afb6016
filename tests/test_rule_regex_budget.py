"""A rule's ``when.matches`` pattern runs under one time budget over all the items it is searched in.

Python's ``re`` backtracks: ``(\\w+\\s?)+$`` on a long item text takes exponential time and used to stall
``labelspec check`` (and CI) forever. The pattern now runs on the regex package with a timeout, translated from
re's own parse tree so that it finds exactly what ``re.search`` finds; past the budget the check stops with LS313
and exit 2, naming the rule, where the spec wrote it, and the item being searched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from conftest import Run, Tiny
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from labelspec import api
from labelspec.check import rules
from labelspec.errors import SpecError
from labelspec.spec.model import Rule

SLOW = r"(\w+\s?)+$"
#: re tries every way of splitting the 30-letter word (2**29, then the rest each time): it never returned. The
#: package's engine cuts that short but is still polynomial in the 40,000 characters after it (minutes).
LONG = "a" * 30 + " " + "a " * 20_000 + "!"


def _items(texts: dict[str, str]) -> str:
    return "".join(f'{{"item_id": "{i}", "text": "{t}"}}\n' for i, t in texts.items())


def _project(tiny_project: Callable[..., Tiny], pattern: str, long_item: str = "i3") -> Tiny:
    texts = {f"i{k}": f"text {k}" for k in range(1, 7)} | {long_item: LONG}
    rule = f"    rules: [{{id: slow, when: {{field: text, matches: '{pattern}'}}, expect: {{label_in: [neg]}}}}]\n"
    return tiny_project(extra_labels=rule, files={"items.jsonl": _items(texts)})


def _rule_line(p: Tiny) -> int:
    lines = (p.root / "labelspec.yaml").read_text("utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if "id: slow" in line)


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "RULE_REGEX_SECONDS", 0.2)


def _rule(pattern: str) -> Rule:
    return Rule(id="r", field="text", op="matches", operand=pattern, expect="label_in", labels=("x",))


def _applies(pattern: str, texts: list[str]) -> list[bool]:
    field = pd.Series(texts, index=[f"i{k}" for k in range(len(texts))], dtype=object)
    return [bool(b) for b in rules.rule_applies(_rule(pattern), field)]


@pytest.mark.usefixtures("small_budget")
def test_the_command_line_stops_a_catastrophic_pattern_with_exit_2(tiny_project: Callable[..., Tiny],
                                                                    run_cli: Callable[..., Run]) -> None:
    p = _project(tiny_project, SLOW)
    start = time.monotonic()
    r = run_cli("check", str(p.root), str(p.labels))
    assert time.monotonic() - start < 10  # the budget (0.2 s) and the rest of the check, not minutes
    assert r.code == 2, r.err
    assert f"labelspec.yaml:{_rule_line(p)}:" in r.err  # FILE:LINE of the rule in the spec
    assert "LS313 rule slow:" in r.err and "in item 'i3'" in r.err and "0.2 s budget" in r.err
    assert r"\w+(\s\w+)*" in r.err  # the advice to rewrite it
    assert "Traceback" not in r.err


@pytest.mark.usefixtures("small_budget")
def test_the_api_raises_a_located_spec_error(tiny_project: Callable[..., Tiny]) -> None:
    p = _project(tiny_project, SLOW, long_item="i5")
    with pytest.raises(SpecError) as exc:
        api.check_labels(p.root, [p.labels])
    (d,) = exc.value.diagnostics
    assert d.code == "LS313" and d.loc is not None and d.loc.line == _rule_line(p)
    assert Path(d.loc.path).name == "labelspec.yaml"
    assert "rule slow" in d.message and "'i5'" in d.message


def test_the_budget_is_shared_by_all_items_and_each_search_gets_what_is_left(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(0.1 * k for k in range(100))  # every reading of the clock is 0.1 s after the one before
    monkeypatch.setattr(rules, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    monkeypatch.setattr(rules, "RULE_REGEX_SECONDS", 0.35)
    timeouts: list[float] = []

    class Recording:
        def search(self, text: str, *, timeout: float) -> None:
            timeouts.append(timeout)

    monkeypatch.setattr(rules, "_compiled", lambda rule, texts: Recording())
    with pytest.raises(SpecError) as exc:  # each search is quick: only their total runs out
        _applies("x", ["one", "two", "two", "three", "four"])
    assert timeouts == pytest.approx([0.25, 0.15, 0.05])  # the deadline is 0.35 after the first reading
    assert "in item 'i4'" in exc.value.diagnostics[0].message  # 'two' was searched once, for i1 and i2


def test_a_repeat_the_package_would_unroll_into_gigabytes_is_refused() -> None:
    with pytest.raises(SpecError) as exc:  # re compiles it in its stride; regex would write out 10M copies
        _applies("a{10000000}", ["a"])
    assert "20000000 pattern nodes" in exc.value.diagnostics[0].message
    assert _applies(r"(?:\d{4}-){3}\d{4}", ["1234-5678-9012-3456", "1234"]) == [True, False]


def test_normal_rules_give_the_same_results(tiny_project: Callable[..., Tiny]) -> None:
    texts = {"i1": "Chargeback filed", "i2": "charge back", "i3": "no CHARGEBACKS here", "i4": "refund",
             "i5": "ok", "i6": "chargebacks"}
    rule = ("    rules: [{id: cb, when: {field: text, matches: '(?i)\\bcharge ?-?backs?\\b'}, "
            "expect: {label_in: [neg]}, severity: warn}]\n")
    p = tiny_project(extra_labels=rule, files={"items.jsonl": _items(texts)})
    result = api.check_labels(p.root, [p.labels]).rules["cb"]
    # i1, i2, i3 and i6 match; AGREEING labels i2 neg and i1, i3, i6 otherwise, by all three annotators
    assert (result.checked, result.violations) == (12, 9)
    assert result.by_annotator == {"a1": 3, "a2": 3, "a3": 3}


#: Characters on which the package's tables differ from the running Python's: combining marks and ``²``/``½``
#: (word characters in only one of them), U+001C (whitespace to re only), digits newer than Python's Unicode
#: database, the Kelvin sign, long s, final sigma, dotted I, sharp s and their case partners.
TRICKY = ["a", "A", "k", "K", "\u212a", "s", "S", "\u017f", "\u00df", "\u1e9e", "\u03c3", "\u03c2", "\u03a3",
          "i", "I", "\u0130", "\u0131", "\u00e9", "\u0301", "\u00b2", "\u00bd", "\u0663", "\U00010d40", "1", "_",
          " ", "\x1c", "\n", "-", "."]
ATOMS = [r"\w", r"\W", r"\s", r"\S", r"\d", r"\D", r"\b", r"\B", "^", "$", r"\A", r"\Z", ".", "a", "k", "s", "i",
         "\u00df", "\u03c3", "\u0130", r"[a-z]", r"[^k\d]", r"[\w-]", r"[^\W\d]", r"[\u0100-\uffff]", "(?:)",
         r"[^,]", r"[^a-k]", r"(?:.|[^x])"]
FLAGS = ["", "(?i)", "(?m)", "(?s)", "(?a)", "(?ai)", "(?im)"]


@st.composite
def patterns(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.sampled_from(ATOMS), min_size=1, max_size=4))
    quantified = [piece + draw(st.sampled_from(["", "", "+", "*?", "{2}", "?"])) for piece in pieces]
    if draw(st.booleans()):
        quantified = [f"({quantified[0]})", *quantified[1:], draw(st.sampled_from(["", r"\1", "(?(1)a|b)"]))]
    if draw(st.booleans()):
        quantified = ["(?<=" + draw(st.sampled_from([r"\w", r"\s", "k", "."])) + ")", *quantified]
    body = "".join(quantified)
    return draw(st.sampled_from(FLAGS)) + (f"{body}|{draw(st.sampled_from(ATOMS))}" if draw(st.booleans()) else body)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(patterns(), st.lists(st.text(st.sampled_from(TRICKY), max_size=6), min_size=1, max_size=12))
def test_a_pattern_finds_what_re_search_finds(pattern: str, texts: list[str]) -> None:
    try:
        compiled = re.compile(pattern)
    except re.error:
        assume(False)
        raise
    # re compares a case-insensitive backreference by lower(), the package by case folding (s and ſ): not tested
    assume(not (compiled.flags & re.IGNORECASE and "\\1" in pattern))
    assert _applies(pattern, texts) == [compiled.search(t) is not None for t in texts]


@pytest.mark.parametrize("pattern", [r"\w", r"\s", r"\d", r"\b\w", r"(?i)k", r"(?i)\u00df", r"(?i)[^\u03c3]",
                                     r"x?\B", r"(?m)a$", r"a$", r"(?a)\w\b", r"(?i)\u0130"])
def test_where_the_engines_disagree_the_result_is_re_s(pattern: str) -> None:
    texts = ["".join(pair) for pair in zip(TRICKY, reversed(TRICKY), strict=True)] + ["", "a\n", "ka"]
    assert _applies(pattern, texts) == [re.search(pattern, t) is not None for t in texts]


def test_a_pattern_re_refuses_is_ls313_not_a_traceback() -> None:
    with pytest.raises(SpecError) as exc:  # validate refuses it first; a Spec built in code may skip validate
        _applies("(unclosed", ["x"])
    assert exc.value.diagnostics[0].code == "LS313" and "rule r:" in exc.value.diagnostics[0].message


def test_the_documented_limits_are_the_code_s() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "spec-language.md").read_text("utf-8")
    (row,) = [line for line in doc.splitlines() if line.startswith("| `when.matches` |")]
    assert f"{rules.RULE_REGEX_SECONDS:g} seconds" in row and f"{rules.MAX_UNROLLED} pattern nodes" in row
    assert "exit 2" in row


@pytest.mark.parametrize(("pattern", "text"), [
    (r"(?:.|[^x])", "x"), (r"(?:[^,]|[^;])", ";"), (r"[^a]|[^b]", "a"), (r"(?s)(?:.|[^x])", "x"), (r"x|[^\n]", "\n"),
])
def test_alternatives_of_negations_find_what_re_finds(pattern: str, text: str) -> None:
    """The package finds no match in "a" for [^a]|[^b] (a review found it, and a fuzzer 100 such patterns):
    negations are written as the positive set of the texts' characters re matches."""
    assert _applies(pattern, [text, "", "xy"]) == [re.search(pattern, t) is not None for t in (text, "", "xy")]


def test_a_case_insensitive_backreference_is_refused_not_guessed() -> None:
    """The package folds case otherwise than re (σ and ς, s and ſ): such a pattern is LS313 with advice."""
    with pytest.raises(SpecError) as exc:
        _applies(r"(?i)(s)\1", ["ss", "s\u017f"])
    (diag,) = exc.value.diagnostics
    assert diag.code == "LS313" and "case-insensitive backreference" in diag.message and "(?-i:" in (diag.hint or "")
    scoped, texts = r"(?i:(s))(?-i:\1)", ["Ss", "SS", "s\u017f"]
    assert _applies(scoped, texts) == [re.search(scoped, t) is not None for t in texts] == [False, True, False]


def test_deeply_nested_groups_are_ls313_at_validate_and_check(tiny_project: Callable[..., Tiny],
                                                              run_cli: Callable[..., Run]) -> None:
    """260 nested groups crashed the check (RecursionError, exit 3) while validate passed them."""
    deep = "(" * 260 + "text" + ")" * 260
    with pytest.raises(SpecError) as exc:
        _applies(deep, ["text 1"])
    assert "nest 260 levels deep" in exc.value.diagnostics[0].message
    p = _project(tiny_project, deep)
    for command in (("validate", str(p.root)), ("check", str(p.root), str(p.labels))):
        r = run_cli(*command)
        assert r.code == 2 and f"labelspec.yaml:{_rule_line(p)}:" in r.err and "LS313" in r.err, r.err
        assert "nest 260 levels deep" in r.err and "Traceback" not in r.err
    assert _applies("(" * 100 + "text" + ")" * 100, ["a text"]) == [True]


def test_a_class_is_decided_once_however_often_the_pattern_repeats_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building the pattern is outside the search budget: 500 \\w over every character of the items were 500
    scans of the alphabet (32 s in a review); they are one."""
    calls: list[str] = []
    finditer = re.finditer
    monkeypatch.setattr(rules.re, "finditer", lambda p, *a, **k: calls.append(p) or finditer(p, *a, **k))
    assert _applies(r"\w" * 500, ["a" * 500, "b c"]) == [True, False]
    assert len(calls) == 1
