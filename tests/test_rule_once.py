"""A rule's item selection is evaluated once per run, and its pattern's size is refused when the spec is validated.

``check`` used to evaluate every rule twice: for the rule report (main thread) and for the consensus's review
routing (a worker thread), so a slow ``matches`` pattern spent two budgets at once. Now the first caller computes
it and the second waits for that result or its error. A pattern whose repeat counts would compile to more than
``MAX_UNROLLED`` nodes used to pass ``validate`` and fail only at ``check``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import Run, Tiny

from labelspec import api
from labelspec.check import rules
from labelspec.check.context import Context
from labelspec.errors import SpecError

TEXTS = {"i1": "Chargeback filed", "i2": "charge back", "i3": "no CHARGEBACKS here", "i4": "refund",
         "i5": "ok", "i6": "chargeback"}


def _items(texts: dict[str, str]) -> str:
    return "".join(f'{{"item_id": "{i}", "text": "{t}"}}\n' for i, t in texts.items())


def _project(tiny_project: Callable[..., Tiny], pattern: str, texts: dict[str, str] = TEXTS) -> Tiny:
    rule = (f"    rules: [{{id: cb, when: {{field: text, matches: '{pattern}'}}, expect: {{label_in: [neg]}}, "
            "severity: warn}]\n")
    return tiny_project(extra_labels=rule, files={"items.jsonl": _items(texts)})


def _rule_line(p: Tiny) -> int:
    lines = (p.root / "labelspec.yaml").read_text("utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if "id: cb" in line)


@pytest.fixture
def searched(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every text a rule pattern is searched in, counted (the real pattern still answers)."""
    seen: Counter[str] = Counter()
    compiled = rules._compiled

    class Counting:
        def __init__(self, pattern: Any) -> None:
            self._pattern = pattern

        def search(self, text: str, *, timeout: float) -> Any:
            seen[text] += 1
            return self._pattern.search(text, timeout=timeout)

    monkeypatch.setattr(rules, "_compiled", lambda rule, texts: Counting(compiled(rule, texts)))
    return seen


def test_check_searches_each_distinct_text_once(tiny_project: Callable[..., Tiny], searched: Counter[str]) -> None:
    p = _project(tiny_project, "(?i)charge ?back")
    report = api.check_labels(p.root, [p.labels])
    assert searched == Counter(TEXTS.values())  # the rule report and the review routing share one evaluation
    result = report.rules["cb"]  # i1, i2, i3, i6 match; AGREEING labels only i2 neg
    assert (result.checked, result.violations) == (12, 9)


def test_release_searches_each_distinct_text_once(tiny_project: Callable[..., Tiny], searched: Counter[str],
                                                   tmp_path: Path) -> None:
    p = _project(tiny_project, "(?i)charge ?back")
    result = api.release(p.root, [p.labels], out=tmp_path / "release")
    assert searched == Counter(TEXTS.values())
    assert result.report.rules["cb"].violations == 9


def test_each_check_evaluates_its_rules_afresh(tiny_project: Callable[..., Tiny], searched: Counter[str]) -> None:
    p = _project(tiny_project, "(?i)charge ?back")
    api.check_labels(p.root, [p.labels])
    api.check_labels(p.root, [p.labels])  # nothing is kept between calls: the items file could have changed
    assert searched == Counter({text: 2 for text in TEXTS.values()})


def test_a_second_caller_waits_for_the_first_and_gets_its_error() -> None:
    ctx, started, release = Context(), threading.Event(), threading.Event()
    calls: list[str] = []
    error = SpecError([])

    def compute() -> int:
        calls.append(threading.current_thread().name)
        started.set()
        release.wait(5)
        raise error

    caught: dict[str, BaseException] = {}

    def ask(name: str) -> None:
        try:
            ctx.once(("rule", "r"), compute)
        except SpecError as exc:
            caught[name] = exc

    first = threading.Thread(target=ask, args=("first",), name="first")
    first.start()
    assert started.wait(5)
    second = threading.Thread(target=ask, args=("second",), name="second")
    second.start()
    second.join(0.2)
    assert second.is_alive()  # waiting for the first, not computing again
    release.set()
    first.join(5)
    second.join(5)
    assert calls == ["first"] and caught == {"first": error, "second": error}
    assert ctx.once(("rule", "other"), lambda: 7) == 7 and ctx.once(("rule", "other"), lambda: 8) == 7
    assert Context().once(("rule", "other"), lambda: 8) == 8  # each context (each check) has its own


def test_a_failing_rule_is_evaluated_and_reported_once_with_exit_2(
        tiny_project: Callable[..., Tiny], run_cli: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rules, "RULE_REGEX_SECONDS", 0.2)
    compiled = rules._compiled
    budgets: list[str] = []

    def counting(rule: Any, texts: Any) -> Any:
        budgets.append(str(rule.id))
        return compiled(rule, texts)

    monkeypatch.setattr(rules, "_compiled", counting)
    long_text = "a" * 30 + " " + "a " * 20_000 + "!"
    p = _project(tiny_project, r"(\w+\s?)+$", {f"i{k}": f"text {k}" for k in range(1, 6)} | {"i6": long_text})
    r = run_cli("check", str(p.root), str(p.labels))
    assert r.code == 2, r.err
    assert budgets == ["cb"]  # one budget spent: the other caller got the first's error
    assert r.err.count("LS313") == 1 and "rule cb:" in r.err and "in item 'i6'" in r.err
    assert f"labelspec.yaml:{_rule_line(p)}:" in r.err
    assert "Traceback" not in r.err


def test_validate_refuses_repeat_counts_over_the_limit_at_the_pattern(
        tiny_project: Callable[..., Tiny], run_cli: Callable[..., Run]) -> None:
    p = _project(tiny_project, "(?:ab){100000}")  # re compiles it in its stride; 300000 nodes for regex
    r = run_cli("validate", str(p.root))
    assert r.code == 2, r.err
    assert f"labelspec.yaml:{_rule_line(p)}:" in r.err and "LS313" in r.err
    assert "300000 pattern nodes" in r.err and f"{rules.MAX_UNROLLED}" in r.err
    assert run_cli("check", str(p.root), str(p.labels)).code == 2  # check loads the spec the same way
    within = _project(tiny_project, "(?:ab){6666}")  # 3 * 6666 = 19998 nodes: accepted
    assert run_cli("validate", str(within.root)).code == 0
