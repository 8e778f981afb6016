"""Settings whose meaning reaches past the loader: optional tasks, ranking options, review policy, gold overrides."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import AGREEING, Run, Tiny

from labelspec import api
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


# --- settings `validate` used to accept and `check` then ignored or crashed on -------------------------------

HEAD = "labelspec: 1\nproject: {id: p, title: P, version: 1.0.0}\n"
ATTRIBUTION = """\
  blame:
    kind: attribution
    question: Which agent failed?
    labels: {planner: {title: Planner, definition: Plans.}, executor: {title: Executor, definition: Acts.}}
"""


def _spec(tmp_path: Path, body: str, files: dict[str, str] | None = None) -> Path:
    (tmp_path / "labelspec.yaml").write_text(HEAD + body, "utf-8")
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text, "utf-8")
    return tmp_path


def _diags(path: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return [(d.code, d.pointer or str(d.loc), d.message) for d in info.value.diagnostics]


@pytest.mark.parametrize("unit", ["", "    unit: item\n"])
def test_attribution_is_judged_per_item(tmp_path: Path, unit: str) -> None:
    spec = load_spec(_spec(tmp_path, "tasks:\n" + ATTRIBUTION + unit))
    assert spec.tasks[0].unit == "item"


def test_attribution_per_step_is_ls311(tmp_path: Path) -> None:
    assert _diags(_spec(tmp_path, "tasks:\n" + ATTRIBUTION + "    unit: step\n")) == [
        ("LS311", "tasks.blame.unit", "`unit: step` does not apply to an attribution task")]


RATING = "  tone:\n    kind: rating\n    question: Tone?\n    scale: {min: 1, max: 5}\n"
CHOICE = "  intent:\n    kind: single_choice\n    question: Intent?\n    labels: {a: {title: A, definition: A.}, " \
         "b: {title: B, definition: B.}}\n"


def test_inherited_min_per_label_gates_only_the_kinds_it_applies_to(tmp_path: Path) -> None:
    spec = load_spec(_spec(tmp_path, "tasks:\n" + CHOICE + RATING + ATTRIBUTION
                           + "quality:\n  agreement: {min: 0.6, min_per_label: 0.4}\n"))
    assert sorted(g.id for g in plan_gates(spec) if g.id.startswith("agreement.")) == [
        "agreement.blame", "agreement.intent", "agreement.intent.per_label", "agreement.tone"]


def test_a_tasks_own_min_per_label_where_no_gate_exists_is_ls311(tmp_path: Path) -> None:
    body = "tasks:\n" + CHOICE + "    agreement: {min_per_label: 0.5}\n" + RATING + "    agreement: {min_per_label: 0.5}\n"
    assert _diags(_spec(tmp_path, body)) == [
        ("LS311", "tasks.tone.agreement.min_per_label",
         "`min_per_label` does not apply to a rating task: it has no per-label agreement")]


def test_single_annotation_is_not_ls306_for_a_per_label_default_nothing_gates(tmp_path: Path) -> None:
    quality = "quality:\n  annotations_per_item: 1\n  agreement: {min_per_label: 0.4}\n"
    assert load_spec(_spec(tmp_path, "tasks:\n" + RATING + quality)).quality.annotations_per_item == 1
    assert [d[0] for d in _diags(_spec(tmp_path, "tasks:\n" + CHOICE + quality))] == ["LS306"]


def test_ranking_field_is_reported_once_even_when_fields_are_declared(tmp_path: Path) -> None:
    body = ("items:\n  file: items.jsonl\n  fields: {text: {type: text}}\ntasks:\n  order:\n    kind: ranking\n"
            "    question: Rank.\n    options: [r1, r2]\n    field: responses\n")
    assert _diags(_spec(tmp_path, body, {"items.jsonl": '{"item_id": "i1", "text": "t"}\n'})) == [
        ("LS311", "tasks.order.field", "`field` does not apply to a ranking task")]


STEP_TASK = """\
items:
  file: {items}
tasks:
  step_ok:
    kind: single_choice
    unit: step
    question: Is this step correct?
    labels: {{ok: {{title: OK, definition: Fine.}}, bad: {{title: Bad, definition: Wrong.}}}}
quality:
  gold: {{file: gold.csv, min_accuracy: 0.5, min_judgments: 1}}
"""
STEPS_CSV = 'item_id,steps\nr1,"[{""text"": ""a""}, {""text"": ""b""}]"\nr2,not a list\nr3,"[1,"\n'


def test_gold_steps_are_checked_against_a_csv_items_files_json_cells(tmp_path: Path) -> None:
    gold = "item,unit,task,label\nr1,2,step_ok,ok\nr1,3,step_ok,bad\nr2,7,step_ok,ok\nr3,05,step_ok,ok\n"
    diags = _diags(_spec(tmp_path, STEP_TASK.format(items="items.csv"), {"items.csv": STEPS_CSV, "gold.csv": gold}))
    assert [(code, where.rsplit("/", 1)[-1], message) for code, where, message in diags] == [
        ("LS312", "gold.csv:3", "gold unit '3' for task 'step_ok' is not one of the 2 steps of item 'r1' "
                                "(item field 'steps', numbered from 1)")]


def test_gold_steps_are_checked_when_the_files_need_the_stdlib_reader(tmp_path: Path) -> None:
    """A quoted line break sends both the items and the gold file past pyarrow: the same rows are found."""
    items = STEPS_CSV.replace("not a list", '"not\na list"')
    gold = 'item,unit,task,label\n"r1",01,step_ok,ok\nr2,7,step_ok,ok\n"r\n1",1,step_ok,ok\n'
    diags = _diags(_spec(tmp_path, STEP_TASK.format(items="items.csv"), {"items.csv": items, "gold.csv": gold}))
    assert [(d[1].rsplit("/", 1)[-1], d[2]) for d in diags] == [
        ("gold.csv:2", "gold unit '01' for task 'step_ok' is not one of the 2 steps of item 'r1' "
                       "(item field 'steps', numbered from 1)"),
        ("gold.csv:4", f"gold item {'r' + chr(10) + '1'!r} is not in the items file 'items.csv'")]


def test_gold_steps_as_check_numbers_them_validate_and_are_scored(tmp_path: Path) -> None:
    """Validation and `check` number the steps alike: every canonical step 1..N validates and meets judgments."""
    items = "".join(f'{{"item_id": "r{i}", "steps": [{{"text": "a"}}, {{"text": "b"}}, {{"text": "c"}}]}}\n'
                    for i in (1, 2))
    gold = "item,unit,task,label\nr1,1,step_ok,ok\nr1,3,step_ok,bad\nr2,2,step_ok,ok\n"
    root = _spec(tmp_path, STEP_TASK.format(items="items.jsonl"), {"items.jsonl": items, "gold.csv": gold})
    labels = tmp_path / "labels.csv"
    labels.write_text("item_id,step,annotator_id,label\n" + "".join(
        f"{item},{step},{a},{'bad' if (item, step, a) == ('r1', 3, 'a2') else 'ok'}\n"
        for item in ("r1", "r2") for step in (1, 2, 3) for a in ("a1", "a2")), "utf-8")
    report = api.check_labels(load_spec(root), [labels], bootstrap=0).to_dict()
    assert {a: (row["n"], row["correct"]) for a, row in report["gold"].items()} == {"a1": (3, 2), "a2": (3, 3)}
    gate = next(g for g in report["gates"] if g["id"] == "gold.accuracy")
    assert (gate["status"], gate["value"]) == ("pass", 2 / 3)
