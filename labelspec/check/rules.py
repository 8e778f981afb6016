"""The spec's machine-checkable rules over item fields, applied to every judgment of the task, vectorised.

A rule is evaluated once per distinct item (the regex runs over the items file, not per judgment) and once per
check (the rule report and the review routing share the selection, :func:`rule_items`); the judgments
are then joined to the matching items and their values tested against the expected label set. A ``matches``
pattern runs on the regex package, translated from re's parse tree, under one time budget per rule.
"""

from __future__ import annotations

import functools
import json
import re
import re._parser
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import regex

from labelspec.check.context import Context
from labelspec.errors import Diagnostic, SpecError
from labelspec.spec.model import NOWHERE, Rule, Spec
from labelspec.spec.resolve_checks import MAX_NESTING, nesting_depth, too_nested, too_unrolled, unrolled_nodes
from labelspec.spec.resolve_checks import MAX_UNROLLED as MAX_UNROLLED  # re-exported: validate's limit

#: Seconds one rule's ``matches`` pattern may spend over all the distinct item texts it is searched in. Python's
#: engine backtracks, so a repeated group that can match the same text in many ways takes exponential time on one
#: unlucky item; past this budget ``check`` stops with exit 2 instead of stalling CI.
RULE_REGEX_SECONDS = 10.0

_PARSER: Any = re._parser  # the tree re compiles (private, stable since 3.11): translated, it keeps its meaning
_CATEGORY = {"CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
             "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W"}
_REPEAT = {"MAX_REPEAT": "", "MIN_REPEAT": "?", "POSSESSIVE_REPEAT": "+"}
_STRING_ANCHOR = {"AT_BEGINNING_STRING": r"\A", "AT_END_STRING": r"\Z"}
_EMPTY_NON_BOUNDARY = re.search(r"\B", "") is not None  # False before Python 3.14


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    checked: int  # judgments on items the rule applies to
    violations: int
    examples: tuple[tuple[str, str, str, int], ...]  # (annotator, item, file, line) of the first violations
    by_annotator: dict[str, int]

    def summary(self) -> str:
        if not self.violations:
            return f"{self.checked} judgments on matching items, none violates"
        return f"{self.violations} of {self.checked} judgments on matching items violate"


def rule_applies(rule: Rule, field: pd.Series) -> np.ndarray:
    """Which items (the rows of ``field``) the rule's ``when`` selects."""
    text = field.astype(str)
    if rule.op == "matches":
        hit = pd.Series(_matching(rule, text), index=text.index)
    elif rule.op == "equals":
        hit = text == rule.operand
    else:
        hit = text.isin(list(rule.operand))
    out: np.ndarray = hit.to_numpy(dtype=bool)
    return out


def rule_items(rule: Rule, ctx: Context) -> pd.Index:
    """The items the rule's ``when`` selects (none without an items file), evaluated once per context: the rule
    report and the consensus's review routing both ask, on two threads, and a slow pattern must cost one budget
    (the second asker waits for the first's result, or raises its error)."""
    items = ctx.items
    if items is None:
        return pd.Index([], dtype=object)
    return ctx.once(("rule_items", rule, rule.loc), lambda: _selected(rule, items.fields.get(rule.field, {})))


def _selected(rule: Rule, values: dict[str, str]) -> pd.Index:
    field = pd.Series(values, dtype=object)
    return field.index[rule_applies(rule, field)] if len(field) else pd.Index([], dtype=object)


def _matching(rule: Rule, text: pd.Series) -> np.ndarray:
    """Per row: ``re.search`` of the rule's pattern finds a match. Each distinct text is searched once, and all of
    them together within :data:`RULE_REGEX_SECONDS` (the regex package's ``timeout``), so a catastrophic pattern
    fails the check with exit 2 instead of running forever."""
    codes, distinct = pd.factorize(text, sort=False)
    values = [str(v) for v in distinct]
    pattern = _compiled(rule, values)
    found = np.zeros(len(values), dtype=bool)
    deadline = time.monotonic() + RULE_REGEX_SECONDS
    for k, value in enumerate(values):  # distinct texts, not rows: each search needs its share of the budget
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            found[k] = pattern.search(value, timeout=left) is not None
        except TimeoutError:
            raise _out_of_time(rule, str(text.index[int(np.argmax(codes == k))])) from None
    hit: np.ndarray = found[codes]
    return hit


def _rule_error(rule: Rule, message: str, hint: str) -> SpecError:
    """LS313 at the rule in the spec, naming it."""
    loc = None if rule.loc == NOWHERE else rule.loc
    return SpecError(Diagnostic("LS313", f"rule {rule.id}: {message}", loc, hint=hint))


def _out_of_time(rule: Rule, item: str) -> SpecError:
    return _rule_error(rule, f"its matches pattern ran out of its {RULE_REGEX_SECONDS:g} s budget in item {item!r}: "
                       "a repeated group that can match the same text in many ways backtracks exponentially",
                       r"rewrite it so each piece of text can match only one way, e.g. \w+(\s\w+)* for (\w+\s?)+$")


def _compiled(rule: Rule, texts: Sequence[str]) -> Any:
    """The rule's pattern for the regex package, meaning on ``texts`` exactly what it means to ``re``."""
    try:
        tree = _PARSER.parse(str(rule.operand))
    except re.error as exc:  # validate refuses it (LS313); a spec built in code may not have been validated
        raise _rule_error(rule, f"invalid regular expression: {exc}",
                          "patterns are Python regular expressions (module re)") from None
    depth = nesting_depth(tree)  # validate refuses these too; a spec built in code may not have been validated
    if depth > MAX_NESTING:
        raise _rule_error(rule, f"its matches pattern's {too_nested(depth)}", "remove groups that wrap a single group")
    unrolled = unrolled_nodes(tree)
    if unrolled > MAX_UNROLLED:
        raise _rule_error(rule, f"its matches pattern's {too_unrolled(unrolled)}", "use smaller counts in {m,n}")
    try:
        return regex.compile(_Writer(texts).sequence(tree, tree.state.flags), regex.V0)
    except _Untranslatable as exc:  # refuse, never guess
        raise _rule_error(rule, f"its matches pattern cannot be evaluated with a time limit: {exc.args[0]}",
                          exc.args[1]) from None
    except regex.error as exc:
        raise _rule_error(rule, f"its matches pattern cannot be evaluated with a time limit ({exc})",
                          "report this to labelspec's maintainers") from None


class _Untranslatable(Exception):
    """A construct this translation cannot give re's meaning: (what, what to do)."""

    def __init__(self, what: str, hint: str = "report this to labelspec's maintainers") -> None:
        super().__init__(what, hint)


def _char(code: int) -> str:
    """One code point as pattern text both engines read alike (and inside a set)."""
    char = chr(code)
    return char if char.isascii() and char.isalnum() else f"\\U{code:08x}"


def _re_set(items: Any) -> str:
    """A set node of re's parse tree written back as re syntax."""
    parts: dict[str, Callable[[Any], str]] = {
        "NEGATE": lambda _: "^", "LITERAL": _char, "RANGE": lambda av: f"{_char(av[0])}-{_char(av[1])}",
        "CATEGORY": lambda av: _CATEGORY[str(av)]}
    try:
        return "[" + "".join(parts[str(op)](av) for op, av in items) + "]"
    except KeyError as exc:
        raise _Untranslatable(str(exc)) from None


class _Writer:
    r"""re's parse tree as a regex-package pattern. The two engines share syntax but not character tables: ``\w``,
    ``\s``, ``\d``, ``\b`` and case-insensitive matching follow the running Python's Unicode database in re and the
    package's own, newer one (and other definitions: ``\w`` takes combining marks there, not ``²``). So every class
    is written out as the characters re itself matches among those the searched texts contain (others never occur),
    and anchors as lookarounds; literals, ranges, groups, repeats and lookarounds mean the same in both."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._texts = texts
        self._classes: dict[tuple[str, int], str] = {}  # a class decided once (500 \\w are one search)

    @functools.cached_property
    def _alphabet(self) -> tuple[np.ndarray, str]:
        """The distinct code points of the texts, sorted, and the same as one string."""
        seen = np.zeros(0x110000, dtype=bool)
        for start in range(0, len(self._texts), 4096):
            joined = "".join(self._texts[start:start + 4096]).encode("utf-32-le", "surrogatepass")
            seen[np.frombuffer(joined, dtype="<u4")] = True
        codes = np.flatnonzero(seen)
        return codes, codes.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    def sequence(self, nodes: Any, flags: int) -> str:
        return "".join(self._node(str(op), av, flags) for op, av in nodes)

    def _node(self, name: str, av: Any, flags: int) -> str:
        if name in ("LITERAL", "NOT_LITERAL", "IN"):
            return self._charset(name, av, flags)
        if name == "ANY":  # decided like a negated set: the package mishandles alternatives of them ([^a]|[^b])
            return "(?s:.)" if flags & re.DOTALL else self._decided(".", 0)
        if name == "AT":
            return self._anchor(str(av), flags)
        if name in _REPEAT:
            low, high, body = av
            count = f"{low},{'' if high == _PARSER.MAXREPEAT else high}"
            return f"(?:{self.sequence(body, flags)}){{{count}}}{_REPEAT[name]}"
        if name == "SUBPATTERN":
            group, add, drop, body = av
            return ("(" if group is not None else "(?:") + self.sequence(body, (flags | add) & ~drop) + ")"
        if name == "BRANCH":
            return "(?:" + "|".join(self.sequence(branch, flags) for branch in av[1]) + ")"
        if name in ("ASSERT", "ASSERT_NOT"):
            behind = "<" if av[0] < 0 else ""
            return f"(?{behind}{'=' if name == 'ASSERT' else '!'}{self.sequence(av[1], flags)})"
        if name == "ATOMIC_GROUP":
            return f"(?>{self.sequence(av, flags)})"
        if name == "GROUPREF":
            if flags & re.IGNORECASE:  # the package folds case otherwise (ς and σ, ſ and s): refuse, never guess
                raise _Untranslatable("a case-insensitive backreference",
                                      "match the repeated text case-sensitively, (?-i:...), or spell out the cases")
            return f"\\g<{av}>"
        if name == "GROUPREF_EXISTS":
            group, yes, no = av
            return f"(?({group}){self.sequence(yes, flags)}{'' if no is None else '|' + self.sequence(no, flags)})"
        raise _Untranslatable(name)

    def _charset(self, name: str, av: Any, flags: int) -> str:
        if name == "LITERAL" and not flags & re.IGNORECASE:
            return _char(av)
        text = {"LITERAL": _char, "NOT_LITERAL": lambda c: f"[^{_char(c)}]", "IN": _re_set}[name](av)
        # code points and ranges mean the same in both engines; a negation is decided like a class, because the
        # package mishandles alternatives of negated sets ((?:[^,]|[^;]) finds no match in ";")
        plain = name == "LITERAL" or (name == "IN" and all(str(op) not in ("CATEGORY", "NEGATE") for op, _ in av))
        if plain and not flags & re.IGNORECASE:
            return text
        return self._decided(text, flags & (re.IGNORECASE | re.ASCII))

    def _anchor(self, code: str, flags: int) -> str:
        if code == "AT_BEGINNING":
            return r"(?:\A|(?<=\n))" if flags & re.MULTILINE else r"\A"
        if code == "AT_END":
            return r"(?=\n|\Z)" if flags & re.MULTILINE else r"(?=\n?\Z)"
        if code in _STRING_ANCHOR:
            return _STRING_ANCHOR[code]
        w = self._decided(r"\w", flags & re.ASCII)  # \b and \B: between re's word characters and others
        if code == "AT_BOUNDARY":
            return f"(?:(?<={w})(?!{w})|(?<!{w})(?={w}))"
        if code == "AT_NON_BOUNDARY":
            return ("" if _EMPTY_NON_BOUNDARY else r"(?!\A\Z)") + f"(?:(?<={w})(?={w})|(?<!{w})(?!{w}))"
        raise _Untranslatable(code)

    def _decided(self, one_character: str, flags: int) -> str:
        """The characters of the texts that re matches with ``one_character``, as a set of ranges; a range may
        span characters the texts do not contain."""
        key = (one_character, flags)
        if key not in self._classes:
            self._classes[key] = self._decide(one_character, flags)
        return self._classes[key]

    def _decide(self, one_character: str, flags: int) -> str:
        codes, alphabet = self._alphabet
        hit = np.zeros(len(codes) + 2, dtype=np.int8)
        hit[[m.start() + 1 for m in re.finditer(one_character, alphabet, flags)]] = 1
        edges = np.flatnonzero(np.diff(hit))  # runs of matched characters: starts and ends alternate
        runs = zip(codes[edges[::2]].tolist(), codes[edges[1::2] - 1].tolist(), strict=True)
        sets = "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in runs)
        return f"[{sets}]" if sets else "(?!)"


def value_label_list(kind: str, text: str) -> tuple[str, ...]:
    """The labels one value carries, each as often as it does: its set (multi_choice), its spans' labels
    (spans), its agent (attribution; none when the agent is null), else the value itself."""
    if kind not in ("multi_choice", "spans", "attribution"):
        return (text,)
    data = json.loads(text)
    if kind == "multi_choice":
        return tuple(map(str, data))
    if kind == "spans":
        return tuple(str(span[2]) for span in data)
    return () if data.get("agent") is None else (str(data["agent"]),)


def value_labels(kind: str, text: str) -> frozenset[str]:
    """The distinct labels one judgment carries (:func:`value_label_list`)."""
    return frozenset(value_label_list(kind, text))


def rule_satisfied(rule: Rule, values: pd.Series, kind: str) -> np.ndarray:
    """Per judgment: ``label_in`` holds when it carries any listed label, ``label_not_in`` when it carries none.
    Values are parsed once per distinct value."""
    allowed = set(rule.labels)
    codes, distinct = pd.factorize(values.astype(str), sort=False)
    hit: np.ndarray = np.array([bool(allowed & value_labels(kind, v)) for v in distinct], dtype=bool)[codes]
    return hit if rule.expect == "label_in" else ~hit


def evaluate_rules(spec: Spec, used: pd.DataFrame, ctx: Context) -> dict[str, RuleResult]:
    """Every rule of every task; rules need the items file (without it they are not evaluated)."""
    results: dict[str, RuleResult] = {}
    if ctx.items is None:
        return results
    for task in spec.tasks:
        frame = used[used["task"] == task.name]
        for rule in task.rules:
            rows = frame[frame["item"].isin(rule_items(rule, ctx))]
            bad = rows[~rule_satisfied(rule, rows["value"], task.kind)]
            examples = tuple((str(a), str(i), str(f), int(ln)) for a, i, f, ln in
                             bad[["annotator", "item", "file", "line"]].head(5).itertuples(index=False))
            results[rule.id] = RuleResult(rule=rule, checked=len(rows), violations=len(bad), examples=examples,
                                          by_annotator={str(k): int(v) for k, v in  # annotators who broke it
                                                        sorted(bad["annotator"].value_counts().items()) if v})
    return results
