"""Rules over item fields: which judgments break them, for every kind whose values carry labels.

A judgment carries its label (single_choice, rating, pairwise), its set (multi_choice), its spans' labels (spans)
or its agent (attribution). An audit found spans and attribution values compared whole with the label list, so
every judgment broke ``label_in`` and none could break ``label_not_in``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_decide import lab, make_spec

from labelspec.check.context import Context, Items
from labelspec.check.rules import evaluate_rules, value_labels
from labelspec.spec.model import Rule, Task

ITEMS = Items(ids=np.array(["i1", "i2", "i3"], dtype=object),
              fields={"body": {"i1": "took aspirin", "i2": "Aspirin 5mg", "i3": "no drugs"}})


def _rule(expect: str, labels: tuple[str, ...]) -> Rule:
    return Rule(id="drug", field="body", op="matches", operand="(?i)aspirin", expect=expect, labels=labels)


def _judgments(values: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(item, f"n{j}", v) for item, vs in values.items() for j, v in enumerate(vs)]
    return pd.DataFrame({"item": [r[0] for r in rows], "annotator": [r[1] for r in rows],
                         "value": [r[2] for r in rows], "task": "t", "file": "labels.csv",
                         "line": range(2, len(rows) + 2)})


@pytest.mark.parametrize(("kind", "yes", "no"), [
    ("single_choice", "DRUG", "OTHER"),
    ("multi_choice", '["DRUG","OTHER"]', '["OTHER"]'),
    ("spans", '[[0,4,"OTHER"],[5,12,"DRUG"]]', '[[0,4,"OTHER"]]'),
    ("attribution", '{"agent":"DRUG","step":2}', '{"agent":"OTHER","step":1}'),
])
@pytest.mark.parametrize("expect", ["label_in", "label_not_in"])
def test_a_judgment_breaks_a_rule_by_the_labels_it_carries(kind: str, yes: str, no: str, expect: str) -> None:
    task = Task(name="t", kind=kind, question="q", labels=(lab("DRUG"), lab("OTHER")),  # type: ignore[arg-type]
                rules=(_rule(expect, ("DRUG",)),), field="body" if kind == "spans" else None)
    used = _judgments({"i1": [yes, no, yes], "i2": [no], "i3": [no, no]})  # i3 does not match the rule
    (result,) = evaluate_rules(make_spec(task), used, Context(items=ITEMS)).values()
    assert result.checked == 4
    broke = {"n1": 1, "n0": 1} if expect == "label_in" else {"n0": 1, "n2": 1}
    assert result.by_annotator == broke and result.violations == 2
    assert [e[1] for e in result.examples] == (["i1", "i2"] if expect == "label_in" else ["i1", "i1"])


def test_value_labels_by_kind() -> None:
    assert value_labels("rating", "3") == {"3"}
    assert value_labels("multi_choice", "[]") == frozenset()
    assert value_labels("spans", '[[0,1,"A"],[2,3,"A"],[4,5,"B"]]') == {"A", "B"}
    assert value_labels("attribution", '{"agent":null,"step":null}') == frozenset()


def test_without_an_items_file_no_rule_is_evaluated() -> None:
    task = Task(name="t", kind="single_choice", question="q", labels=(lab("DRUG"),),
                rules=(_rule("label_in", ("DRUG",)),))
    assert evaluate_rules(make_spec(task), _judgments({"i1": ["DRUG"]}), Context()) == {}
