"""Settings whose meaning reaches past the loader: optional tasks, ranking options, review policy, gold overrides."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import AGREEING, Run, Tiny

from labelspec.check.context import Context
from labelspec.check.gold import score_gold
from labelspec.errors import SpecError
from labelspec.spec.load import load_spec
from labelspec.spec.plan import plan_gates
from labelspec.spec.source import read_yaml_text
from labelspec.spec.validate import validate_shape

OPTIONAL_TASK = """\
  note:
    kind: single_choice
    question: Is there a second topic?
    required: false
    labels:
      yes_topic: {title: Yes, definition: Two topics.}
      no_topic: {title: No, definition: One topic.}
"""


def test_optional_task_gets_no_coverage_gate(tiny_project: Callable[..., Tiny]) -> None:
    tiny = tiny_project(extra_labels=OPTIONAL_TASK)
    gate_ids = [g.id for g in plan_gates(load_spec(tiny.root))]
    assert "coverage.sentiment" in gate_ids and "coverage.note" not in gate_ids


def test_ranking_needs_options(tiny_project: Callable[..., Tiny]) -> None:
    ranking = "  order:\n    kind: ranking\n    question: Rank them.\n    field: text\n"
    tiny = tiny_project(extra_labels=ranking)
    with pytest.raises(SpecError) as info:
        load_spec(tiny.root)
    codes = sorted(d.code for d in info.value.diagnostics)
    assert codes == ["LS311", "LS311"]  # `field` does not apply to rankings, and `options` is missing
    assert any("needs `options`" in d.message for d in info.value.diagnostics)


def test_review_never_is_not_a_policy() -> None:
    raw = read_yaml_text("labelspec: 1\nproject: {id: p, title: P, version: 1.0.0}\ntasks:\n  t:\n"
                         "    kind: single_choice\n    question: Q?\n    labels:\n"
                         "      a: {title: A, definition: A., review: never}\n", "s.yaml")
    assert [d.check_tuple()[0] for d in validate_shape(raw)] == ["LS204"]


def test_gold_spans_compare_by_meaning_not_by_text(tmp_path: Path) -> None:
    spec = load_spec(Path("specs/clinical-ner"))
    task = spec.tasks[0]
    gold = pd.DataFrame({"item": ["n1"], "unit": [""], "task": [task.name], "why": [""],
                         "label": ['[[0,4,"TEST"],[10,12,"DOSAGE"]]']})
    used = pd.DataFrame({"annotator": ["a", "b"], "item": ["n1", "n1"], "unit": ["", ""], "task": [task.name] * 2,
                         "value": ['[[10,12,"DOSAGE"],[0,4,"TEST"]]', '[[0,4,"TEST"]]'],
                         "when": pd.to_datetime(["2026-01-01T00:00:00Z"] * 2)})
    scores = score_gold(spec, used, Context(gold=gold))
    assert scores is not None
    assert [scores.of("a")[:2], scores.of("b")[:2]] == [(1, 1), (1, 0)]  # type: ignore[index]


def test_gold_override_is_checked_like_the_specs_own(run_cli: Callable[..., Run],
                                                     tiny_project: Callable[..., Tiny], tmp_path: Path) -> None:
    tiny = tiny_project(AGREEING)
    bad = tmp_path / "gold.csv"
    bad.write_text("item,unit,task,label\ni1,,sentiment,nue\n", "utf-8")
    r = run_cli("check", str(tiny.root), str(tiny.labels), "--gold", str(bad))
    assert r.code == 2
    assert f"{bad}:2: LS312" in r.err and "did you mean 'neu'" in r.err
