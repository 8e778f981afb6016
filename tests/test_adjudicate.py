"""The expert-review queue: content, CSV formula-injection escaping, JSONL, the Label Studio import shape, and the
``labelspec adjudicate`` command (atomic writes, deterministic bytes)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace as dataclasses_replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from label_studio_sdk.label_interface import LabelInterface
from test_decide import Row, accounting, lab, make_spec, votes, write_project

from labelspec.check.adjudicate import (
    build_queue,
    controls,
    escape_cell,
    list_keys,
    queue_csv,
    queue_jsonl,
    queue_labelstudio,
)
from labelspec.check.context import Context, Items
from labelspec.check.decide import decide_all
from labelspec.cli import main
from labelspec.emit.labelstudio import labelstudio_xml
from labelspec.spec.model import Scale, Spec, Task

INTENT = Task(name="intent", kind="single_choice", question="q", labels=(lab("a"), lab("b"), lab("c")))


def _queue(tasks: tuple[Task, ...], rows: list[Row], **adj: object) -> tuple[Spec, pd.DataFrame]:
    spec = make_spec(*tasks, **adj)
    acc = accounting(rows)
    return spec, build_queue(decide_all(spec, acc, Context()), acc)


def test_queue_holds_only_routed_units_with_their_judgments() -> None:
    _, q = _queue((INTENT,), votes("intent", {"i2": "ab", "i1": "aab", "i3": "aaa"}), min_support=0.67)
    assert q["item"].tolist() == ["i1", "i2"]  # sorted; i3 is unanimous
    first = q.iloc[0].to_dict()
    assert first["judgments"] == {"n0": "a", "n1": "a", "n2": "b"}
    assert (first["proposed"], first["support"], first["reasons"]) == ("a", round(2 / 3, 6), ["low_support"])
    assert q.iloc[1]["proposed"] is None and q.iloc[1]["reasons"] == ["tie", "low_support"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_start_a_formula_are_neutralised(start: str) -> None:
    assert escape_cell(start + "1+1") == "'" + start + "1+1"


def test_csv_escapes_data_from_every_column_and_parses_back() -> None:
    rows = [("=HYPERLINK(1)", "", "intent", "@evil", "a"), ("=HYPERLINK(1)", "", "intent", "n1", "b")]
    _, q = _queue((INTENT,), rows)
    text = queue_csv(q)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert len(parsed) == 1 and parsed[0]["item"] == "'=HYPERLINK(1)"
    assert json.loads(parsed[0]["judgments"]) == {"@evil": "a", "n1": "b"}  # a JSON object cell starts with {
    assert parsed[0]["reasons"] == "tie" and parsed[0]["proposed"] == ""
    assert text.splitlines()[0] == "item,unit,task,proposed,support,method,reasons,gold,judgments"


def test_jsonl_one_unit_per_line() -> None:
    _, q = _queue((INTENT,), votes("intent", {"i1": "ab", "i2": "abc"}))
    lines = queue_jsonl(q).splitlines()
    assert [json.loads(line)["item"] for line in lines] == ["i1", "i2"]
    first = json.loads(lines[0])
    assert set(first) == {"item", "unit", "task", "judgments", "proposed", "support", "method", "reasons", "gold"}
    assert first["judgments"] == {"n0": "a", "n1": "b"} and first["support"] == 0.5


def test_labelstudio_import_uses_the_compiled_config_shapes() -> None:
    tone = Task(name="tone", kind="rating", question="q", scale=Scale(min=1, max=5))
    ner = Task(name="ner", kind="spans", question="q", labels=(lab("PER"), lab("ORG")), field="body")
    rank = Task(name="rank", kind="ranking", question="q", options=("o1", "o2"))
    pref = Task(name="pref", kind="pairwise", question="q", allow_ties=False)
    tasks = (INTENT, tone, ner, rank, pref)
    rows = votes("intent", {"i1": "ab"}) + votes("tone", {"i1": "24"}) + votes("pref", {"i1": "AB"})
    rows += votes("ner", {"i1": ['[[0,4,"PER"]]', '[[0,4,"ORG"]]']})
    rows += votes("rank", {"i1": ['["o1","o2"]', '["o2","o1"]']})
    spec, q = _queue(tasks, rows)
    items = Items(ids=np.array(["i1"], dtype=object), fields={"body": {"i1": "Anna went home"}})
    config = labelstudio_xml(spec)
    doc = json.loads(queue_labelstudio(q, spec, items, config))
    ctl, interface = controls(config), LabelInterface(config)
    by_task = {t["data"]["labelspec_task"]: t for t in doc}
    assert set(by_task) == {"intent", "tone", "ner", "rank", "pref"}
    for name, task in by_task.items():
        assert task["data"]["item_id"] == "i1" and task["data"]["body"] == "Anna went home"
        assert [p["model_version"] for p in task["predictions"]] == ["n0", "n1"]
        for p in task["predictions"]:
            assert interface.validate_prediction(p, return_errors=True) == []  # Label Studio's SDK accepts it
            for r in p["result"]:
                assert (r["from_name"], r["type"]) == (name, ctl[name][0])
                assert r["to_name"] == ctl[name][1].split(",")[0]  # Pairwise toName="text,text": a result names one
    value = {name: [r["value"] for p in t["predictions"] for r in p["result"]] for name, t in by_task.items()}
    assert value["intent"] == [{"choices": ["a"]}, {"choices": ["b"]}]
    assert value["tone"] == [{"rating": 2}, {"rating": 4}]
    assert value["ner"][0] == {"start": 0, "end": 4, "text": "Anna", "labels": ["PER"]}
    assert value["rank"] == [{"ranker": {"rank": ["o1", "o2"]}}, {"ranker": {"rank": ["o2", "o1"]}}]
    assert value["pref"] == [{"selected": "left"}, {"selected": "right"}]
    assert ctl["pref"][0] == "pairwise" and ctl["rank"][0] == "ranker" and ctl["ner"][0] == "labels"


def test_taxonomy_predictions_carry_the_path() -> None:
    tax = Task(name="fail", kind="single_choice", question="q",
               labels=(lab("tool"), lab("args", parent="tool"), lab("plan", review="always")))
    spec, q = _queue((tax,), votes("fail", {"i1": ["args", "plan"], "i2": ["plan", "plan", "args"]}), min_support=0.6)
    assert q["support"].tolist() == [None, round(2 / 3, 6)]  # no consensus at any depth: no support, never NaN
    assert [json.loads(line)["support"] for line in queue_jsonl(q).splitlines()] == [None, round(2 / 3, 6)]
    assert [row["support"] for row in csv.DictReader(io.StringIO(queue_csv(q)))] == ["", repr(round(2 / 3, 6))]
    doc = json.loads(queue_labelstudio(q, spec, None, labelstudio_xml(spec)))
    results = [p["result"][0] for p in doc[0]["predictions"]]
    assert [r["type"] for r in results] == ["taxonomy", "taxonomy"]
    assert [r["value"] for r in results] == [{"taxonomy": [["tool", "args"]]}, {"taxonomy": [["plan"]]}]


def test_adjudicate_command_writes_three_files_deterministically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    write_project(tmp_path / "proj")
    monkeypatch.chdir(tmp_path)
    outputs = []
    for out in ("q1", "q2"):
        with pytest.raises(SystemExit) as exc:
            main(["adjudicate", "proj/labelspec.yaml", "proj/labels", "--out", out])
        assert exc.value.code == 0
        outputs.append({p.name: p.read_bytes() for p in sorted((tmp_path / out).iterdir())})
    assert outputs[0] == outputs[1]
    assert sorted(outputs[0]) == ["review-queue.csv", "review-queue.jsonl", "review-queue.labelstudio.json"]
    queued = [json.loads(line) for line in outputs[0]["review-queue.jsonl"].decode().splitlines()]
    # a2 and a3 split 2–1 (< 0.7); a3's proposal fraud is always reviewed; gold g1 agrees with its gold label
    assert [(r["item"], r["reasons"]) for r in queued] == [("a2", ["low_support"]),
                                                           ("a3", ["low_support", "always_review_labels"])]
    assert "2 of 4 units need expert review" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "q1").iterdir()) == sorted(outputs[0])  # no temporary leftovers


def test_labelstudio_import_round_trips_through_the_export_reader(tmp_path: Path) -> None:
    """An expert who accepts each prediction in Label Studio exports judgments labelspec reads back unchanged."""

    from labelspec.check.readers import TaskShape, read_label_files

    tone = Task(name="tone", kind="rating", question="q", scale=Scale(min=1, max=5))
    ner = Task(name="ner", kind="spans", question="q", labels=(lab("PER"), lab("ORG")), field="body")
    rank = Task(name="rank", kind="ranking", question="q", options=("o1", "o2"))
    tasks = (INTENT, tone, ner, rank)
    rows = votes("intent", {"i1": "ab"}) + votes("tone", {"i1": "24"})
    rows += votes("ner", {"i1": ['[[0,4,"PER"]]', '[[0,4,"ORG"],[5,9,"PER"]]']})
    rows += votes("rank", {"i1": ['["o1","o2"]', '["o2","o1"]']})
    spec, q = _queue(tasks, rows)
    items = Items(ids=np.array(["i1"], dtype=object), fields={"body": {"i1": "Anna went home"}})
    doc = json.loads(queue_labelstudio(q, spec, items, labelstudio_xml(spec)))
    export = [{"id": k + 1, "data": t["data"], "annotations": [
        {"id": 100 * k + j, "completed_by": p["model_version"], "result": p["result"],
         "created_at": "2026-03-02T10:00:00Z"} for j, p in enumerate(t["predictions"])]} for k, t in enumerate(doc)]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    shapes = [TaskShape(name=t.name, kind=t.kind, list_valued=t.is_list) for t in tasks]
    got = read_label_files([path], columns=spec.columns, tasks=shapes).frame
    read = sorted(zip(got["task"], got["annotator"], got["value"], strict=True))
    assert read == sorted((t, a, v) for _, _, t, a, v in rows)


def test_step_tasks_round_trip_as_paragraph_regions(tmp_path: Path) -> None:
    """Step i of the item (numbered from 1) is paragraph i - 1, spanning its text; the reader maps it back."""
    import dataclasses

    from labelspec.check.readers import read_label_files
    from labelspec.check.runner import task_shapes
    from labelspec.spec.model import ItemField, ItemsSource

    call = Task(name="call", kind="single_choice", question="q", unit="step", labels=(lab("ok"), lab("bad")))
    flags = Task(name="flags", kind="multi_choice", question="q", unit="step", labels=(lab("x"), lab("y")))
    blame = Task(name="blame", kind="attribution", question="q", labels=(lab("coder"), lab("planner")))
    rows = votes("call", {"r1": ["ok", "bad"]}, unit="2") + votes("call", {"r1": ["bad", "ok"]}, unit="3")
    rows += votes("flags", {"r1": ['["x"]', '["x","y"]']}, unit="1")
    rows += votes("blame", {"r1": ['{"agent":"coder","step":2}', '{"agent":"planner","step":1}']})
    spec, q = _queue((call, flags, blame), rows)
    steps_field = ItemField(name="steps", type="json", name_key="agent", text_key="thought")
    spec = dataclasses.replace(spec, items=ItemsSource(file="items.jsonl", fields=(steps_field,)))
    steps = [{"step": 1, "agent": "planner", "thought": "Plan it"}, {"step": 2, "agent": "coder", "thought": "Read"},
             {"step": 3, "agent": "coder", "thought": "Edit the file"}]
    items = Items(ids=np.array(["r1"], dtype=object), fields={"steps": {"r1": json.dumps(steps)}})
    config = labelstudio_xml(spec)
    assert '<Paragraphs name="steps" value="$steps" nameKey="agent" textKey="thought" />' in config
    doc = json.loads(queue_labelstudio(q, spec, items, config))
    regions = {(t["data"]["labelspec_task"], t["data"].get("step", "")): [r["value"] for p in t["predictions"]
                                                                           for r in p["result"]] for t in doc}
    assert regions[("call", "2")][0] == {"start": "1", "end": "1", "startOffset": 0, "endOffset": 4, "text": "Read",
                                         "paragraphlabels": ["ok"]}
    assert regions[("call", "3")][1]["text"] == "Edit the file" and regions[("call", "3")][1]["endOffset"] == 13
    assert [r["start"] for r in regions[("blame", "")]] == ["1", "0"]
    assert [r["paragraphlabels"] for r in regions[("flags", "1")]] == [["x"], ["x", "y"]]
    export = [{"id": k + 1, "data": t["data"], "annotations": [
        {"id": 100 * k + j, "completed_by": p["model_version"], "result": p["result"]}
        for j, p in enumerate(t["predictions"])]} for k, t in enumerate(doc)]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export), encoding="utf-8")
    got = read_label_files([path], columns=spec.columns, tasks=task_shapes(spec)).frame
    assert sorted(zip(got["item"], got["unit"], got["task"], got["annotator"], got["value"], strict=True)) == sorted(
        rows)


def _export(doc: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The queue as an expert would export it after accepting every prediction (one annotation each)."""
    return [{"id": k + 1, "data": t["data"], "annotations": [
        {"id": 100 * k + j, "completed_by": p["model_version"], "result": p["result"]}
        for j, p in enumerate(t["predictions"])]} for k, t in enumerate(doc)]


def test_every_queued_shape_reads_back_as_an_expert_export(tmp_path: Path) -> None:
    """Choices for pairwise with ties and for a 0..3 rating, Taxonomy (single and multi), attribution with and
    without a step: predictions Label Studio's SDK accepts, read back as the queued values."""
    import dataclasses

    from labelspec.check.readers import read_label_files
    from labelspec.check.runner import task_shapes
    from labelspec.spec.model import ItemField, ItemsSource

    tree = (lab("planning"), lab("bad_decomposition", parent="planning"), lab("none"))
    tasks = (Task(name="pref", kind="pairwise", question="q"),
             Task(name="sev", kind="rating", question="q", scale=Scale(min=0, max=3)),
             Task(name="cat", kind="single_choice", question="q", labels=tree),
             Task(name="modes", kind="multi_choice", question="q", labels=tree),
             Task(name="blame", kind="attribution", question="q", labels=(lab("coder"), lab("none"))))
    rows = votes("pref", {"i1": ["A", "tie", "B"]}) + votes("sev", {"i1": "013"})
    rows += votes("cat", {"i1": ["bad_decomposition", "planning", "none"]})
    rows += votes("modes", {"i1": ['["bad_decomposition","none"]', '["planning"]', '["none"]']})
    rows += votes("blame", {"i1": ['{"agent":"none","step":null}', '{"agent":"coder","step":2}',
                                   '{"agent":"coder","step":null}']})
    spec, q = _queue(tasks, rows, min_support=0.9)
    spec = dataclasses.replace(spec, items=ItemsSource(file="items.jsonl", fields=(
        ItemField(name="text", type="text"), ItemField(name="steps", type="json"))))
    steps = [{"text": "plan"}, {"text": "edit"}]
    items = Items(ids=np.array(["i1"], dtype=object), fields={"steps": {"i1": json.dumps(steps)}})
    config = labelstudio_xml(spec)
    doc = json.loads(queue_labelstudio(q, spec, items, config))
    assert sorted(t["data"]["labelspec_task"] for t in doc) == sorted(t.name for t in tasks)  # every unit queued
    interface = LabelInterface(config)
    assert all(interface.validate_prediction(p, return_errors=True) == [] for t in doc for p in t["predictions"])
    shown = {t["data"]["labelspec_task"]: [r for p in t["predictions"] for r in p["result"]] for t in doc}
    assert [(r["type"], r["value"]) for r in shown["pref"]] == [("choices", {"choices": [v]}) for v in "A tie B".split()]
    assert [r["value"] for r in shown["sev"]] == [{"choices": ["0"]}, {"choices": ["1"]}, {"choices": ["3"]}]
    assert [r["value"] for r in shown["modes"]] == [{"taxonomy": [["planning", "bad_decomposition"], ["none"]]},
                                                    {"taxonomy": [["planning"]]}, {"taxonomy": [["none"]]}]
    assert [(r["from_name"], r["type"], r["value"].get("choices", r["value"].get("start"))) for r in shown["blame"]
            ] == [("blame-no-step", "choices", ["none"]), ("blame", "paragraphlabels", "1"),
                  ("blame-no-step", "choices", ["coder"])]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(_export(doc)), encoding="utf-8")
    got = read_label_files([path], columns=spec.columns, tasks=task_shapes(spec))
    assert not got.excluded
    read = sorted(zip(got.frame["task"], got.frame["annotator"], got.frame["value"], strict=True))
    assert read == sorted((t, a, v) for _, _, t, a, v in rows)


def test_ranking_data_carries_its_list_items() -> None:
    """The compiled List reads ``data.<task>_options``: the queue writes the options there, with each option's
    text when an item field holds one per option (``responses: {r1: …}``), else the ids alone."""
    from labelspec.spec.model import ItemField, ItemsSource

    rank = Task(name="rank", kind="ranking", question="q", options=("r1", "r2"))
    spec, q = _queue((rank,), votes("rank", {"i1": ['["r1","r2"]', '["r2","r1"]'],
                                             "i2": ['["r1","r2"]', '["r2","r1"]']}))
    spec = dataclasses_replace(spec, items=ItemsSource(file="items.jsonl", fields=(
        ItemField(name="prompt", type="text"), ItemField(name="responses", type="json"))))
    config = labelstudio_xml(spec)
    assert '<List name="rank_options" value="$rank_options" title="Options" />' in config
    items = Items(ids=np.array(["i1", "i2"], dtype=object), fields={
        "responses": {"i1": json.dumps({"r1": "Yes.", "r2": "No.", "r9": "?"}), "i2": json.dumps({"r1": "Yes."})}})
    doc = json.loads(queue_labelstudio(q, spec, items, config))
    assert [t["data"]["rank_options"] for t in doc] == [
        [{"id": "r1", "title": "r1", "body": "Yes."}, {"id": "r2", "title": "r2", "body": "No."}],
        [{"id": "r1", "title": "r1"}, {"id": "r2", "title": "r2"}]]  # i2's field lacks r2: no texts
    assert list_keys(config) == {"rank": "rank_options"}


def _boxed(rows: list[dict[str, Any]]) -> list[dict[str, tuple[str, object]]]:
    """Each value with its type (a NaN as the text "nan": it equals nothing, itself included)."""
    return [{k: (type(v).__name__, "nan" if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in rows]


@pytest.mark.parametrize("project", ["support-intent", "clinical-ner", "rlhf-preference", "agent-trajectories"])
def test_queue_records_are_pandas_records_on_every_example(project: str) -> None:
    """``records`` (columns as lists, zipped) gives what ``DataFrame.to_dict("records")`` gives, value and type,
    on every example project's queue, and on columns of every dtype a queue may hold."""
    from labelspec import api
    from labelspec.check.adjudicate import records
    from labelspec.check.runner import read_and_account
    from labelspec.spec.load import load_spec

    folder = Path(__file__).parents[1] / "specs" / project
    spec = load_spec(folder / "labelspec.yaml")
    ctx = api.project_context(spec)
    files = sorted((folder / "labels").glob("*"))
    acc = read_and_account(spec, ctx, files, [str(f) for f in files])
    queue = build_queue(decide_all(spec, acc, ctx), acc, spec)
    assert len(queue)
    assert _boxed(records(queue)) == _boxed(queue.to_dict("records"))
    odd = pd.DataFrame({"i": np.array([1, 2], dtype=np.int64), "f": [0.5, np.nan], "b": [True, False],
                        "s": pd.array(["x", None], dtype="string"), "o": [None, {"a": "b"}],
                        "c": pd.Categorical(["p", None]), "t": pd.to_datetime(["2026-01-01", None], utc=True),
                        "x": pd.Series(["x", None], dtype="str")})
    assert _boxed(records(odd)) == _boxed(odd.to_dict("records"))
    assert records(odd.iloc[:0]) == odd.iloc[:0].to_dict("records") == []
