"""Label Studio JSON exports: documented normalisation rules, exclusions counted (G10), annotation lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from labelspec.check.readers import ColumnMap, Judgments, TaskShape, read_label_files
from labelspec.errors import Diagnostic, InputError

EXPORT = Path(__file__).parent / "data" / "readers" / "labelstudio_export.json"
KINDS = {"intent": "single_choice", "tags": "multi_choice", "tone": "rating", "ents": "spans", "pref": "pairwise",
         "order": "ranking", "note": "text"}
TASKS = [TaskShape(n, k, k in ("multi_choice", "spans", "ranking")) for n, k in KINDS.items()]


def read(path: Path) -> Judgments:
    return read_label_files([path], columns=ColumnMap(), tasks=TASKS, display_paths=[path.name])


def rows(j: Judgments) -> list[tuple[str, ...]]:
    cols = ["item", "task", "annotator", "value", "timestamp", "lead_time", "ground_truth", "line"]
    return [tuple(str(v) for v in r) for r in j.frame[cols].itertuples(index=False)]


def test_fixture_export_normalises_every_kind() -> None:
    j = read(EXPORT)
    t1 = ("2024-05-01T10:00:00Z", "4.167", "")  # the annotation's 12.50 s shared by its three judgments
    assert rows(j) == [
        ("t-1", "intent", "7", "refund", *t1, "9"),
        ("t-1", "tone", "7", "4", *t1, "9"),
        ("t-1", "tags", "7", '["a","b"]', *t1, "9"),
        # two choices in a single-choice task: kept as a JSON list so the content check rejects it
        ("t-1", "intent", "ann@example.com", '["status","refund"]', "2024-05-01T10:01:00Z", "", "true", "48"),
        ("202", "ents", "11", '[[0,3,"PER"],[15,20,"LOC"]]', "", "", "", "138"),  # no data.item_id: the task id
        ("202", "pref", "11", "B", "", "", "", "138"),
        ("202", "order", "11", '["mdn","wiki","blog"]', "", "", "", "138"),
        ("202", "note", "11", "free text", "", "", "", "138"),
        ("202", "order", "12", '["wiki","mdn","blog"]', "", "", "", "212"),
        ("202", "pref", "12", "A", "", "", "", "212"),
        ("202", "tone", "12", "4.0", "", "", "", "212"),
        ("202", "order", "13", '["blog","mdn"]', "", "", "", "248"),
        ("9", "intent", "14", "other", "", "", "", "280"),  # legacy "completions"
    ]
    assert j.frame["unit"].tolist() == [""] * 13 and set(j.frame["file"]) == {"labelstudio_export.json"}


def test_fixture_export_accounting() -> None:
    j = read(EXPORT)
    assert j.exclusions[["line", "reason"]].values.tolist() == [
        [70, "cancelled_annotation"], [87, "empty_annotation"], [138, "unknown_task"]]
    assert j.exclusions["detail"].tolist() == ["task 101, annotation 3", "task 101, annotation 4",
                                               "from_name 'sentiment' (task 202, annotation 5)"]
    assert j.excluded == {"cancelled_annotation": 1, "empty_annotation": 1, "unknown_task": 1}
    assert j.rows_read == 16 == len(j.frame) + sum(j.excluded.values())
    assert j.info == {"drafts": 1, "predictions": 3, "relations": 0, "empty_rankings": 0, "tasks": 4}  # counted only
    assert j.files[0].format == "labelstudio" and j.files[0].rows == 16


def export(tmp_path: Path, tasks: list[dict[str, Any]], *, indent: int | None = None) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, indent=indent), encoding="utf-8")
    return path


def choice(name: str, *choices: str) -> dict[str, Any]:
    return {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": list(choices)}}


@pytest.mark.parametrize(("completed_by", "annotator"), [
    (5, "5"), ({"id": 5, "email": "a@b.org", "first_name": "A"}, "a@b.org"), ({"id": 5, "email": ""}, "5"),
    ("someone", "someone"), (None, ""),
])
def test_completed_by_shapes(tmp_path: Path, completed_by: Any, annotator: str) -> None:
    ann = {"id": 1, "result": [choice("intent", "x")]}
    if completed_by is not None:
        ann["completed_by"] = completed_by
    j = read(export(tmp_path, [{"id": 1, "data": {}, "annotations": [ann]}]))
    assert j.frame["annotator"].tolist() == [annotator]


def ranker(value: Any) -> dict[str, Any]:
    return {"from_name": "order", "to_name": "list", "type": "ranker", "value": {"ranker": value}}


@pytest.mark.parametrize(("value", "expected"), [
    (["b", "a", "c"], '["b","a","c"]'),
    ({"order": ["c", "a"]}, '["c","a"]'),
    ({"top": ["x"], "_": ["unranked"], "rest": ["y", "z"]}, '["x","y","z"]'),
])
def test_ranker_shapes(tmp_path: Path, value: Any, expected: str) -> None:
    j = read(export(tmp_path, [{"id": 1, "data": {}, "annotations": [{"completed_by": 1, "result": [ranker(value)]}]}]))
    assert j.frame["value"].tolist() == [expected]


@pytest.mark.parametrize("empty", [[], {}, {"_": []}, {"_": [], "top": []}])
def test_a_ranker_over_an_empty_list_is_counted_not_read(tmp_path: Path, empty: Any) -> None:
    """The review queue leaves a ranking's list empty on another task's unit; Label Studio still submits the
    Ranker with the expert's form. It ranks nothing: counted (``empty_rankings``), no judgment, no exclusion."""
    anns = [{"id": 1, "completed_by": 1, "result": [choice("pref", "A"), ranker(empty)]},
            {"id": 2, "completed_by": 2, "result": [ranker(empty)]}]
    j = read(export(tmp_path, [{"id": 1, "data": {"item_id": "p1"}, "annotations": anns}]))
    assert j.frame[["task", "annotator", "value"]].values.tolist() == [["pref", "1", "A"]]
    assert j.info["empty_rankings"] == 2 and j.excluded == {"empty_annotation": 1}
    assert j.rows_read == 2 == len(j.frame) + sum(j.excluded.values())


def test_a_ranker_that_places_nothing_is_still_an_incomplete_ranking(tmp_path: Path) -> None:
    """Items left in the "_" column were shown and not ranked: that is an answer (incomplete), not an empty list."""
    anns = [{"completed_by": 1, "result": [ranker({"_": ["r1", "r2"]})]}]
    j = read(export(tmp_path, [{"id": 1, "data": {}, "annotations": anns}]))
    assert j.frame["value"].tolist() == ["[]"] and j.info["empty_rankings"] == 0


def test_results_that_do_not_fit_the_task_kind_are_excluded(tmp_path: Path) -> None:
    results = [
        {"from_name": "pref", "type": "pairwise", "value": {"selected": "none"}},
        {"from_name": "tone", "type": "taxonomy", "value": {"taxonomy": [["4"]]}},
        ranker("not a list"),
        {"from_name": "intent", "type": "choices", "value": {"choices": "refund"}},
    ]
    j = read(export(tmp_path, [{"id": 1, "data": {}, "annotations": [{"id": 9, "completed_by": 1, "result": results}]}]))
    assert len(j.frame) == 0 and j.excluded == {"result_kind_mismatch": 4}
    assert j.exclusions["detail"].tolist()[1:] == [
        "'tone' is rating, result type taxonomy (task 1, annotation 9)",  # no rating control writes a taxonomy
        "'order' is ranking, result type ranker: value.ranker must be an array of ids or an object of arrays "
        "(buckets); found string \"not a list\" (task 1, annotation 9)",
        "'intent' is single_choice, result type choices: value.choices must be an array of strings; found string "
        "\"refund\" (task 1, annotation 9)"]
    assert j.rows_read == 4


def test_spans_from_several_results_are_merged_and_sorted(tmp_path: Path) -> None:
    def span(start: int, end: int, *labels: str) -> dict[str, Any]:
        return {"from_name": "ents", "type": "labels", "value": {"start": start, "end": end, "labels": list(labels)}}

    ann = {"completed_by": 1, "result": [span(5, 9, "PER"), span(0, 4, "ORG", "LOC"), span(0, 2, "PER")]}
    j = read(export(tmp_path, [{"id": 1, "data": {"item_id": "d1"}, "annotations": [ann]}]))
    assert j.frame["value"].tolist() == ['[[0,2,"PER"],[0,4,"LOC"],[0,4,"ORG"],[5,9,"PER"]]']


def test_multi_choice_and_text_areas(tmp_path: Path) -> None:
    ann = {"completed_by": 1, "result": [choice("tags", "b", "a"),
                                         {"from_name": "note", "type": "textarea", "value": {"text": ["one", "two"]}}]}
    j = read(export(tmp_path, [{"id": 1, "data": {}, "annotations": [ann]}]))
    assert j.frame["value"].tolist() == ['["b","a"]', '["one","two"]']


def test_item_and_unit_from_task_data(tmp_path: Path) -> None:
    tasks = [{"id": 1, "data": {"ticket": 12, "turn": "3"}, "annotations": [{"completed_by": 1,
                                                                             "result": [choice("intent", "x")]}]}]
    path = export(tmp_path, tasks)
    j = read_label_files([path], columns=ColumnMap(item="ticket", unit="turn"), tasks=TASKS)
    assert j.frame[["item", "unit"]].values.tolist() == [["12", "3"]]


def test_single_line_export_has_line_one_and_ids_in_details(tmp_path: Path) -> None:
    tasks = [{"id": 7, "data": {}, "annotations": [{"id": 70, "was_cancelled": True, "result": []},
                                                   {"id": 71, "completed_by": 2, "result": [choice("intent", "y")]}]}]
    j = read(export(tmp_path, tasks))
    assert j.frame["line"].tolist() == [1] and j.exclusions["line"].tolist() == [1]
    assert j.exclusions["detail"].tolist() == ["task 7, annotation 70"]


def diagnostic_of(tmp_path: Path, text: str) -> Diagnostic:
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        read(path)
    return info.value.diagnostics[0]


def error_of(tmp_path: Path, text: str) -> tuple[str, int, int]:
    return diagnostic_of(tmp_path, text).check_tuple()


GOOD_TASK = '{"id": 1, "data": {}, "annotations": [{"completed_by": 1, "result": []}]}'


@pytest.mark.parametrize(("text", "expected"), [
    ('{"id": 1}', ("LS406", 1, 1)),  # not an array of tasks
    (f"[\n{GOOD_TASK},\n  [1, 2]\n]", ("LS406", 3, 3)),  # a task that is not an object
    (f"[\n{GOOD_TASK},\n  {{\"id\": 2, \"data\": {{}}, \"annotations\": [\n", ("LS402", 4, 1)),  # truncated
    (f"[\n{GOOD_TASK},\n]", ("LS402", 3, 1)),  # trailing comma
    ('[\n{"id": 1, "id": 2, "annotations": []}\n]', ("LS402", 2, 11)),  # duplicate task key
    ('[\n{"id": 1, "annotations": [\n {"completed_by": 1, "completed_by": 2}]}\n]', ("LS402", 3, 22)),  # the key
    ('[\n{"id": 1, "annotations": [{"lead_time": NaN}]}\n]', ("LS402", 2, 41)),  # the value
    (f"[{GOOD_TASK}] extra", ("LS402", 1, 77)),
    # a field of the wrong shape: at the line and column where its task or annotation starts
    ('[{"id": 1, "data": [], "annotations": []}]', ("LS406", 1, 2)),
    ('[{"id": 1, "annotations": [{"result": [{"value": {}}]}]}]', ("LS406", 1, 28)),  # result without from_name
    ('[{"id": 1, "annotations": [{"result": {"from_name": "intent"}}]}]', ("LS406", 1, 28)),
    ('[{"id": 1, "annotations": ["x"]}]', ("LS406", 1, 28)),
    ('[{"data": {}, "annotations": []}]', ("LS406", 1, 2)),  # no item id at all
    ('[\n{"id": 1, "annotations": [], "predictions": {"result": []}}\n]', ("LS406", 2, 1)),  # not counted: error
    ('[{"id": 1, "annotations": [], "drafts": 3}]', ("LS406", 1, 2)),
    ('[{"id": 1, "annotations": [{"completed_by": true, "result": [{"from_name": "intent", "value": {}}]}]}]',
     ("LS404", 1, 28)),
    ('[{"id": 1, "data": {"item_id": [1]}, "annotations": []}]', ("LS404", 1, 2)),
    ('[{"id": 1, "data": {"text": "JSON-MIN"}, "intent": "x", "annotator": 3}]', ("LS406", 0, 0)),
])
def test_structural_errors_are_located(tmp_path: Path, text: str, expected: tuple[str, int, int]) -> None:
    assert error_of(tmp_path, text) == expected


def test_json_lines_named_json_get_a_hint(tmp_path: Path) -> None:
    lines = '{"item_id": "i1", "annotator_id": "a", "label": "x"}\n{"item_id": "i2", "annotator_id": "a", "label": "y"}\n'
    diag = diagnostic_of(tmp_path, lines)
    assert diag.check_tuple() == ("LS406", 1, 1) and diag.hint is not None and ".jsonl" in diag.hint
    assert diagnostic_of(tmp_path, '{"id": 1}').hint is None  # one object: no sign of lines


def test_empty_array_and_bom(tmp_path: Path) -> None:
    path = tmp_path / "e.json"
    path.write_bytes(b"\xef\xbb\xbf [ ] \n")
    j = read(path)
    assert len(j.frame) == 0 and j.rows_read == 0 and j.info == {"drafts": 0, "predictions": 0, "relations": 0,
                                                                 "empty_rankings": 0, "tasks": 0}


STEP_TASKS = [TaskShape("call", "single_choice", False, per_step=True), TaskShape("flags", "multi_choice", True,
                                                                                  per_step=True),
              TaskShape("blame", "attribution", True)]


def region(name: str, start: Any, end: Any, *labels: str) -> dict[str, Any]:
    return {"from_name": name, "to_name": "steps", "type": "paragraphlabels",
            "value": {"start": start, "end": end, "startOffset": 0, "endOffset": 3, "paragraphlabels": list(labels)}}


def read_steps(tmp_path: Path, results: list[dict[str, Any]]) -> Judgments:
    tasks = [{"id": 1, "data": {"item_id": "r1"}, "annotations": [{"id": 7, "completed_by": 3, "result": results}]}]
    return read_label_files([export(tmp_path, tasks)], columns=ColumnMap(), tasks=STEP_TASKS)


def test_paragraph_regions_become_one_judgment_per_step(tmp_path: Path) -> None:
    j = read_steps(tmp_path, [region("call", "0", "0", "ok"), region("call", 2, 3, "bad"),  # indices as numbers too
                              region("flags", "1", "1", "x", "y"), region("flags", "1", "1", "z"),
                              region("blame", "4", "4", "coder")])
    got = j.frame[["unit", "task", "value"]].values.tolist()
    assert got == [["1", "call", "ok"], ["3", "call", "bad"], ["4", "call", "bad"], ["2", "flags", '["x","y","z"]'],
                   ["", "blame", '{"agent":"coder","step":5}']]
    assert j.rows_read == 5 and not j.excluded


def test_paragraph_regions_that_cannot_be_steps_are_excluded(tmp_path: Path) -> None:
    j = read_steps(tmp_path, [region("call", "/p[1]", "/p[1]", "ok"), region("flags", "3", "1", "x"),
                              region("blame", "0", "100000", "coder")])
    assert len(j.frame) == 0 and j.excluded == {"result_kind_mismatch": 3}


def test_ambiguous_paragraph_answers_reach_the_content_check(tmp_path: Path) -> None:
    """Two labels on one step of a single-choice task, or two blamed steps: kept as a list, which is invalid."""
    j = read_steps(tmp_path, [region("call", "0", "0", "ok"), region("call", "0", "0", "bad"),
                              region("blame", "0", "1", "coder")])
    assert j.frame["value"].tolist() == ['["ok","bad"]', '[{"agent":"coder","step":1},{"agent":"coder","step":2}]']


def test_attribution_without_a_step_is_the_no_step_choice(tmp_path: Path) -> None:
    """``blame-no-step`` (the compiled Choices) gives the agent with ``"step": null``; with a region as well, the
    two answers make a JSON list, which the content check rejects like two regions."""
    no_step = {"from_name": "blame-no-step", "to_name": "steps", "type": "choices", "value": {"choices": ["none"]}}
    j = read_steps(tmp_path, [no_step])
    assert j.frame[["unit", "task", "value"]].values.tolist() == [["", "blame", '{"agent":"none","step":null}']]
    j = read_steps(tmp_path, [region("blame", "2", "2", "coder"), no_step])
    assert j.frame["value"].tolist() == ['[{"agent":"coder","step":3},{"agent":"none","step":null}]']
    j = read_steps(tmp_path, [{"from_name": "call-no-step", "type": "choices", "value": {"choices": ["ok"]}},
                              {"from_name": "blame-no-step", "type": "choices", "value": {"text": ["x"]}}])
    assert j.excluded == {"result_kind_mismatch": 1, "unknown_task": 1}  # only attribution tasks have the control
    assert j.exclusions["detail"].tolist() == [
        "from_name 'call-no-step' (task 1, annotation 7)",
        "'blame' is attribution, result type choices: the value has neither 'paragraphlabels' (a step) nor "
        "'choices' (no step) (task 1, annotation 7)"]


def test_taxonomy_paths_must_be_arrays_of_label_ids(tmp_path: Path) -> None:
    bad = [[], [["a", 1]], "refund", [[]]]
    tasks = [{"id": k, "data": {}, "annotations": [{"id": k, "completed_by": 1, "result": [
        {"from_name": "intent", "type": "taxonomy", "value": {"taxonomy": v}}]}]} for k, v in enumerate(bad)]
    j = read(export(tmp_path, tasks))
    # [] is an empty answer (kept as an empty list: the content check rejects it); the others are no paths
    assert j.frame["value"].tolist() == ["[]"] and j.excluded == {"result_kind_mismatch": 3}
    assert j.exclusions["detail"].tolist()[0] == (
        "'intent' is single_choice, result type taxonomy: value.taxonomy must be an array of paths (non-empty "
        'arrays of label ids); found array [["a",1]] (task 1, annotation 1)')


def _every_control_spec() -> Any:
    """A spec with a task for every control the compiler writes (``emit.labelstudio``'s mapping of kinds)."""
    from emit_snapshot import sample_spec

    from labelspec.spec.model import ItemField, ItemsSource, Label, Scale, Task

    def labels(*pairs: tuple[str, str | None]) -> tuple[Label, ...]:
        return tuple(Label(id=i, title=i.title(), definition="d", parent=p) for i, p in pairs)

    tree = labels(("planning", None), ("bad_decomposition", "planning"), ("none", None))
    tasks = (
        Task(name="pref_ties", kind="pairwise", question="q"),  # Choices A / B / tie
        Task(name="pref_strict", kind="pairwise", question="q", allow_ties=False),  # Pairwise
        Task(name="sev", kind="rating", question="q", scale=Scale(min=0, max=3)),  # Choices over 0..3
        Task(name="tone", kind="rating", question="q", scale=Scale(min=1, max=5)),  # Rating
        Task(name="cat", kind="single_choice", question="q", labels=tree),  # Taxonomy
        Task(name="modes", kind="multi_choice", question="q", labels=tree),  # Taxonomy
        Task(name="intent", kind="single_choice", question="q", labels=labels(("refund", None), ("other", None))),
        Task(name="tags", kind="multi_choice", question="q", labels=labels(("a", None), ("b", None))),
        Task(name="ents", kind="spans", question="q", field="body", labels=labels(("PER", None))),
        Task(name="order", kind="ranking", question="q", options=("r1", "r2", "r3")),
        Task(name="note", kind="text", question="q"),
        Task(name="step_ok", kind="single_choice", unit="step", question="q", labels=labels(("ok", None),
                                                                                           ("bad", None))),
        Task(name="blame", kind="attribution", question="q", labels=labels(("coder", None), ("none", None))),
    )
    fields = (ItemField(name="body", type="text"), ItemField(name="response_a", type="text"),
              ItemField(name="response_b", type="text"), ItemField(name="steps", type="json"))
    return sample_spec(tasks=tasks, items=ItemsSource(file="items.jsonl", fields=fields))


def _paragraph(index: int, label: str) -> dict[str, Any]:
    return {"start": str(index), "end": str(index), "startOffset": 0, "endOffset": 2, "paragraphlabels": [label]}


#: (from_name, result value as Label Studio writes it for the compiled control, the CSV cell, the CSV unit)
EVERY_CONTROL = [
    ("pref_ties", {"choices": ["tie"]}, "tie", ""),
    ("pref_ties", {"choices": ["A"]}, "A", ""),
    ("pref_ties", {"choices": ["B"]}, "B", ""),  # as `labelspec adjudicate` writes it, and an expert exports it
    ("pref_strict", {"selected": "right"}, "B", ""),
    ("sev", {"choices": ["0"]}, "0", ""),
    ("sev", {"choices": ["3"]}, "3", ""),
    ("tone", {"rating": 4}, "4", ""),
    ("cat", {"taxonomy": [["planning", "bad_decomposition"]]}, "bad_decomposition", ""),
    ("cat", {"taxonomy": [["planning"]]}, "planning", ""),  # a parent label is an answer too
    ("modes", {"taxonomy": [["planning", "bad_decomposition"], ["none"]]}, '["bad_decomposition","none"]', ""),
    ("intent", {"choices": ["refund"]}, "refund", ""),
    ("tags", {"choices": ["b", "a"]}, '["b","a"]', ""),
    ("ents", {"start": 0, "end": 4, "text": "Anna", "labels": ["PER"]}, '[[0,4,"PER"]]', ""),
    ("order", {"ranker": {"order": ["r2", "r1", "r3"]}}, '["r2","r1","r3"]', ""),
    ("note", {"text": ["free text"]}, "free text", ""),
    ("step_ok", _paragraph(1, "bad"), "bad", "2"),
    ("blame", _paragraph(2, "coder"), '{"agent":"coder","step":3}', ""),
    ("blame-no-step", {"choices": ["none"]}, '{"agent":"none","step":null}', ""),
]


def test_every_compiled_control_round_trips_to_the_csv_value(tmp_path: Path) -> None:
    """A result of each compiled control (valid for the config by Label Studio's own SDK) reads as the value the
    same judgment has in a CSV label file."""
    import csv

    from label_studio_sdk.label_interface import LabelInterface

    from labelspec.check.adjudicate import controls
    from labelspec.check.runner import task_shapes
    from labelspec.emit.labelstudio import labelstudio_xml

    spec = _every_control_spec()
    config = labelstudio_xml(spec)
    ctl, interface = controls(config), LabelInterface(config)
    assert {name for name, _, _, _ in EVERY_CONTROL} == set(ctl)  # every control of the config is exercised
    tasks, lines = [], []
    for k, (name, value, cell, unit) in enumerate(EVERY_CONTROL):
        result = {"from_name": name, "to_name": ctl[name][1].split(",")[0], "type": ctl[name][0], "value": value}
        assert interface.validate_prediction({"result": [result]}, return_errors=True) == [], name
        tasks.append({"id": k, "data": {"item_id": f"i{k}"}, "annotations": [{"completed_by": 1, "result": [result]}]})
        lines.append([f"i{k}", unit, name.removesuffix("-no-step"), "1", cell])
    csv_path = tmp_path / "labels.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["item_id", "step", "task", "annotator_id", "label"], *lines])
    shapes = task_shapes(spec)
    cols = ["item", "unit", "task", "value"]
    from_ls = read_label_files([export(tmp_path, tasks)], columns=spec.columns, tasks=shapes)
    from_csv = read_label_files([csv_path], columns=spec.columns, tasks=shapes)
    assert not from_ls.excluded and len(from_ls.frame) == len(EVERY_CONTROL)
    assert from_ls.frame[cols].values.tolist() == from_csv.frame[cols].values.tolist()


# --- relations, the item from the spec's items.id, located errors ------------------------------------------


def test_relations_are_counted_never_read(tmp_path: Path) -> None:
    """Label Studio's relation results (no from_name, no value) join two regions: no judgment of any task."""
    def span(rid: str, start: int, end: int, label: str) -> dict[str, Any]:
        return {"id": rid, "from_name": "ents", "to_name": "text", "type": "labels",
                "value": {"start": start, "end": end, "labels": [label]}}

    relation = {"from_id": "s1", "to_id": "s2", "type": "relation", "direction": "right", "labels": ["treats"]}
    tasks = [{"id": 1, "data": {"item_id": "n1"}, "annotations": [
        {"id": 11, "completed_by": 1, "result": [span("s1", 0, 4, "PER"), span("s2", 5, 9, "PER"), relation,
                                                 {**relation, "labels": []}]},
        {"id": 12, "completed_by": 2, "result": [relation]}]}]
    j = read(export(tmp_path, tasks, indent=1))
    assert j.frame[["annotator", "value"]].values.tolist() == [["1", '[[0,4,"PER"],[5,9,"PER"]]']]
    assert j.info["relations"] == 3 and j.excluded == {"empty_annotation": 1}
    assert j.exclusions["detail"].tolist() == ["task 1, annotation 12: relations or empty rankings only"]
    assert j.rows_read == 2 == len(j.frame) + sum(j.excluded.values())


def parse(tmp_path: Path, data: dict[str, Any], items_id: str | None) -> tuple[list[str], list[str]]:
    """(items, origins) of one annotation of one task with ``data``, read with the spec's ``items.id``."""
    from labelspec.check.read_labelstudio import parse_labelstudio

    tasks = [{"id": 100, "data": data, "annotations": [{"id": 500, "completed_by": 1,
                                                        "result": [choice("intent", "x")]}]}]
    parsed = parse_labelstudio(json.dumps(tasks).encode(), "e.json", ColumnMap(), TASKS, items_id=items_id)
    assert parsed.origins is not None
    return parsed.columns["item"].to_pylist(), parsed.origins.tolist()


def test_item_is_the_column_then_the_items_id_then_the_task_id(tmp_path: Path) -> None:
    assert parse(tmp_path, {"item_id": "a", "comparison_id": "b"}, "comparison_id") == (
        ["a"], ["task 100, annotation 500"])  # input.columns.item first
    assert parse(tmp_path, {"comparison_id": 7}, "comparison_id") == (["7"], ["task 100, annotation 500"])
    assert parse(tmp_path, {"prompt": "p"}, "comparison_id") == (["100"], [
        "task 100, annotation 500; the item is the task id: its data has no 'item_id' or 'comparison_id'"])
    assert parse(tmp_path, {"prompt": "p"}, "item_id") == (["100"], [
        "task 100, annotation 500; the item is the task id: its data has no 'item_id'"])
    # no items file: the task id is the item (no unknown_item can follow), and no note is needed
    assert parse(tmp_path, {"comparison_id": "b"}, None) == (["100"], ["task 100, annotation 500"])


def test_task_data_under_the_items_id_must_be_text(tmp_path: Path) -> None:
    from labelspec.check.read_labelstudio import parse_labelstudio

    text = '[{"id": 3, "data": {"comparison_id": {"x": 1}}, "annotations": []}]'
    with pytest.raises(InputError) as info:
        parse_labelstudio(text.encode(), "e.json", ColumnMap(), TASKS, items_id="comparison_id")
    diag = info.value.diagnostics[0]
    assert diag.check_tuple() == ("LS404", 1, 2)
    assert diag.message == 'data.comparison_id must be a string or a number; found object {"x":1} (task 3)'


ONE_LINE = {"id": 909, "completed_by": 11, "result": [choice("intent", "x")], "was_cancelled": False,
            "ground_truth": False, "created_at": "2026-03-05T09:08:04Z", "lead_time": 24.8}


@pytest.mark.parametrize(("change", "message"), [
    ({"completed_by": {"email": 7}}, "completed_by.email must be a string; found number 7"),
    ({"completed_by": {"id": [7]}}, "completed_by.id must be a string or a number; found array [7]"),
    ({"completed_by": True}, "completed_by must be a string or a number; found boolean true"),
    ({"was_cancelled": "no"}, "'was_cancelled' must be true or false; found string \"no\""),
    ({"ground_truth": 1}, "'ground_truth' must be true or false; found number 1"),
    ({"created_at": 1741165684}, None),  # a number is kept as written (the content check judges timestamps)
    ({"created_at": {}}, "created_at must be a string or a number; found object {}"),
    ({"lead_time": [24.8]}, "lead_time must be a string or a number; found array [24.8]"),
    ({"result": [{**choice("intent", "x"), "from_name": 5}]}, "result 'from_name' must be a string; found number 5"),
])
def test_one_line_export_errors_name_the_task_annotation_and_column(tmp_path: Path, change: dict[str, Any],
                                                                   message: str | None) -> None:
    good = {"id": 1, "data": {"item_id": "T-1"}, "annotations": [{**ONE_LINE, "id": 101}]}
    bad = {"id": 9, "data": {"item_id": "T-9"}, "annotations": [{**ONE_LINE, **change}]}
    text = json.dumps([good, bad])
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="utf-8")
    if message is None:
        assert read(path).frame["timestamp"].tolist()[1] == "1741165684"
        return
    with pytest.raises(InputError) as info:
        read(path)
    diag = info.value.diagnostics[0]
    column = text.index('{"id": 909') + 1  # where the annotation starts
    assert diag.check_tuple() == ("LS404", 1, column) and diag.message == f"{message} (task 9, annotation 909)"


def test_one_line_task_errors_name_the_task(tmp_path: Path) -> None:
    text = '[{"id": 1, "data": {"item_id": "a"}, "annotations": []}, {"id": 9, "data": {"item_id": true}}]'
    diag = diagnostic_of(tmp_path, text)
    assert diag.check_tuple() == ("LS404", 1, text.index('{"id": 9') + 1)
    assert diag.message == "data.item_id must be a string or a number; found boolean true (task 9)"


@pytest.mark.parametrize(("inner", "token", "message"), [
    ('{"choices": ["a"], "x": {"k": 1, "k": 2}}', '"k": 2', "duplicate key 'k'"),
    ('{"choices": ["a"], "choices": ["b"]}', '"choices": ["b"]', "duplicate key 'choices'"),
    ('{"choices": ["a"], "n": [1, [2, -Infinity]]}', "-Infinity", "-Infinity is not valid JSON"),
    ('{"choices": ["a"], "n": [[], {}, NaN]}', "NaN", "NaN is not valid JSON"),
    ('{"k\\u0061": 1, "ka": 2}', '"ka"', "duplicate key 'ka'"),  # the same key, written two ways
    ('{"a": {"k": 1}, "b": {"k": 2}, "a": 3}', '"a": 3', "duplicate key 'a'"),  # equal keys in other objects: fine
])
def test_duplicate_key_or_nan_is_located_where_it_is(tmp_path: Path, inner: str, token: str, message: str) -> None:
    ann = json.dumps({"id": 5, "completed_by": 1, "result": [choice("intent", "x")]}, indent=2)
    text = '[\n {"id": 1, "data": {}, "annotations": [\n' + ann.replace('{\n        "choices": [\n          "x"\n'
                                                                       '        ]\n      }', inner) + "]}\n]\n"
    assert inner in text
    at = text.index(token, text.index(inner))
    line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
    diag = diagnostic_of(tmp_path, text)
    assert diag.check_tuple() == ("LS402", line, column) and diag.message == f"invalid JSON: {message}"


def test_duplicate_key_in_task_data_is_located_where_it_is(tmp_path: Path) -> None:
    text = '[{"id": 1, "data": {"item_id": "a",\n  "item_id": "b"}, "annotations": []}]'
    assert diagnostic_of(tmp_path, text).check_tuple() == ("LS402", 2, 3)


def test_check_reads_the_item_by_the_specs_items_id_and_counts_relations(tmp_path: Path) -> None:
    """Through ``labelspec check``: an export of tasks imported from the spec's own items file names the item by
    ``items.id`` (every row was unknown_item), and relation results are counted as not judgments (they aborted
    the run with LS406)."""
    from labelspec import api

    spec = Path(__file__).resolve().parents[1] / "specs" / "clinical-ner"
    note = json.loads((spec / "items.jsonl").read_text(encoding="utf-8").splitlines()[0])
    export = [{"id": 1, "data": {k: v for k, v in note.items() if k != "item_id"}, "annotations": [{
        "id": 11, "completed_by": "a01", "created_at": "2026-03-20T10:00:00Z", "lead_time": 30, "result": [
            {"from_name": "entities", "to_name": "note", "type": "labels", "id": "r1",
             "value": {"start": 0, "end": 2, "labels": ["CONDITION"]}},
            {"from_id": "r1", "to_id": "r1", "type": "relation", "direction": "right", "labels": []}]}]}]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    acc = api.check_labels(spec, [path], bootstrap=0).to_dict()["accounting"]
    assert acc["not_judgments"] == {"relations": 1}
    assert acc["rows_read"] == 1 and acc["excluded_by_reason"].get("unknown_item", 0) == 0


def test_a_truncated_export_says_where_its_string_starts(tmp_path: Path) -> None:
    """The message ended mid-sentence: "Unterminated string starting at" (verification audit)."""
    from labelspec import api
    from labelspec.errors import InputError

    spec = Path(__file__).resolve().parents[1] / "specs" / "support-intent"
    path = tmp_path / "cut.json"
    path.write_text('[{"id": 1, "data": {"item_id": "T-1"}, "annotations": [{"id": "ab', encoding="utf-8")
    with pytest.raises(InputError) as info:
        api.check_labels(spec, [path])
    (d,) = info.value.diagnostics
    assert d.message == "invalid JSON: Unterminated string starting at line 1 column 63"  # the quote before ab
