"""The spec's machine-checkable rules over item fields, applied to every judgment of the task, vectorised.

A rule is evaluated once per distinct item (the regex runs over the items file, not per judgment); the judgments
are then joined to the matching items and their values tested against the expected label set.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelspec.check.context import Context
from labelspec.spec.model import Rule, Spec


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
        hit = text.str.contains(re.compile(str(rule.operand)), regex=True)
    elif rule.op == "equals":
        hit = text == rule.operand
    else:
        hit = text.isin(list(rule.operand))
    out: np.ndarray = hit.to_numpy(dtype=bool)
    return out


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
            field = pd.Series(ctx.items.fields.get(rule.field, {}), dtype=object)
            matching = set(field.index[rule_applies(rule, field)]) if len(field) else set()
            rows = frame[frame["item"].isin(matching)]
            bad = rows[~rule_satisfied(rule, rows["value"], task.kind)]
            examples = tuple((str(a), str(i), str(f), int(ln)) for a, i, f, ln in
                             bad[["annotator", "item", "file", "line"]].head(5).itertuples(index=False))
            results[rule.id] = RuleResult(rule=rule, checked=len(rows), violations=len(bad), examples=examples,
                                          by_annotator={str(k): int(v) for k, v in  # annotators who broke it
                                                        sorted(bad["annotator"].value_counts().items()) if v})
    return results
