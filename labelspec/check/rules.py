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


def rule_satisfied(rule: Rule, values: pd.Series, is_list: bool) -> np.ndarray:
    allowed = set(rule.labels)
    if is_list:
        hit = np.array([bool(allowed & set(map(str, json.loads(v)))) for v in values], dtype=bool)
    else:
        hit = values.isin(list(allowed)).to_numpy(dtype=bool)
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
            bad = rows[~rule_satisfied(rule, rows["value"], task.kind == "multi_choice")]
            examples = tuple((str(a), str(i), str(f), int(ln)) for a, i, f, ln in
                             bad[["annotator", "item", "file", "line"]].head(5).itertuples(index=False))
            results[rule.id] = RuleResult(rule=rule, checked=len(rows), violations=len(bad), examples=examples,
                                          by_annotator={str(k): int(v) for k, v in  # annotators who broke it
                                                        sorted(bad["annotator"].value_counts().items()) if v})
    return results
