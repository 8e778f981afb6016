"""The whole check pipeline: the support-intent example end to end, and small projects through every stage.

The example's planted annotators (scripts/examples_support.py) must be found: ``13`` over-uses ``other`` (biased)
and ``14`` answers in under three seconds and disagrees with the consensus (speeder).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import AGREEING, DISAGREEING

from labelspec import api
from labelspec.check.render import render_json, render_text
from labelspec.check.report import Report

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "specs" / "support-intent"
LEAD_TIME = "  lead_time: {min_seconds: 3, max_fast_share: 0.2}\n"


@pytest.fixture(scope="module")
def example() -> Report:
    return api.check_labels(EXAMPLE, [EXAMPLE / "labels"])


def test_the_example_may_be_released(example: Report) -> None:
    d = example.to_dict()
    assert d["exit_code"] == 0 and d["summary"]["blocking"] == []
    assert [Path(f).name for f in d["files"]] == ["batch-01.csv", "batch-02.jsonl", "labelstudio-export.json"]
    assert {g["id"] for g in d["gates"]} >= {"records.valid", "gold.accuracy", "agreement.intent", "agreement.tone",
                                             "annotators.lead_time", "annotators.divergence", "calibration.passed"}


def test_the_report_keeps_estimates_not_the_tables_behind_them(example: Report) -> None:
    """Codes, gold masks, pair tables and patterns are ~300 MiB at 10M judgments; a release would carry them."""
    assert example.analyses and all(a.codes is None and a.gold_mask is None and a.pairs is None
                                    and a.patterns is None for a in example.analyses.values())
    assert example.analyses["intent"].agreement["krippendorff_alpha"].value is not None


def test_the_example_finds_the_speeder_and_the_biased_annotator(example: Report) -> None:
    flagged = {(f.kind, f.annotator, f.task) for f in example.findings}
    assert {k for k in flagged if k[0] == "lead_time"} == {("lead_time", "14", None)}
    assert {k for k in flagged if k[0] == "distribution_divergence"} == {("distribution_divergence", "13", "intent")}
    assert {a for k, a, _ in flagged if k == "consensus_agreement"} == {"14"}
    (bias,) = [f for f in example.findings if f.kind == "distribution_divergence"]
    assert bias.evidence["label"] == "other" and bias.evidence["share"] > bias.evidence["others_share"]
    (speed,) = [f for f in example.findings if f.kind == "lead_time"]
    assert speed.evidence["fast_share"] > 0.2
    gates = {g.gate.id: g for g in example.gates}
    assert (gates["annotators.lead_time"].status, gates["annotators.lead_time"].measure.detail) == ("fail", "14")
    assert (gates["annotators.divergence"].status, gates["annotators.divergence"].measure.detail) == ("fail", "13")


def test_annotator_gates_count_annotators_not_findings() -> None:
    """In agent-trajectories, a3 and a4 diverge on two tasks each: four findings, two annotators of eight."""
    project = REPO / "specs" / "agent-trajectories"
    report = api.check_labels(project, [project / "labels"])
    divergent = [f for f in report.findings if f.kind == "distribution_divergence"]
    assert len(divergent) == 4 and {f.annotator for f in divergent} == {"a3", "a4"}
    (gate,) = [g for g in report.gates if g.gate.id == "annotators.divergence"]
    assert (gate.measure.value, gate.measure.n, gate.measure.detail) == (2.0, 8, "a3, a4")


def test_the_gold_gate_names_the_annotators_it_could_not_score(example: Report) -> None:
    """Annotators below min_judgments are not scored: the gate named only the lowest scored one, and the worst
    annotator (14, one gold judgment, the speeder) went unseen (demo audit)."""
    (gate,) = [g for g in example.gates if g.gate.id == "gold.accuracy"]
    assert gate.measure.detail == ("lowest: 13 (19/24); not scored, fewer than 15 gold judgments: 14 (1), "
                                   "sofia.rossi@ledgerly.example (3)")


def test_the_uncalibrated_annotator_is_a_warning_the_spec_chose(example: Report) -> None:
    (cal,) = [g for g in example.gates if g.gate.id == "calibration.passed"]
    assert (cal.status, cal.gate.severity, cal.blocking()) == ("fail", "warn", False)
    assert cal.measure.detail == "not calibrated: sofia.rossi@ledgerly.example"


def test_the_example_accounts_for_every_row(example: Report) -> None:
    acc = example.accounting_dict()
    assert acc["balanced"] is True
    assert acc["rows_read"] == acc["rows_used"] + acc["rows_excluded"]
    assert all(e["file"] and e["line"] > 0 for e in acc["exclusions"])
    assert set(acc["excluded_by_reason"]) <= {"cancelled_annotation", "empty_annotation"}  # Label Studio only


def test_strict_turns_the_warnings_into_blockers(example: Report) -> None:
    import dataclasses

    strict = dataclasses.replace(example, strict=True)
    warned = {g.gate.id for g in example.gates if g.status != "pass"}
    assert strict.exit_code == 1 and {g.gate.id for g in strict.blocking} == warned
    assert "annotators.lead_time" in warned


def test_the_report_is_reproducible(example: Report) -> None:
    """Seeded bootstrap, sorted keys: the same inputs give the same JSON bytes."""
    again = api.check_labels(EXAMPLE, [EXAMPLE / "labels"])
    assert render_json(again.to_dict()) == render_json(example.to_dict())


def test_the_cli_on_the_example_exits_0(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("CI", "true")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    r = run_cli("check", "--quiet", "specs/support-intent", "specs/support-intent/labels/")
    assert r.code == 0 and r.out.endswith("release may go\n")


# --- small projects through every stage ---------------------------------------------------------------------------

def test_csv_and_jsonl_of_the_same_judgments_give_the_same_report(tiny_project, tmp_path: Path) -> None:
    p = tiny_project(DISAGREEING)
    jsonl = tmp_path / "same.jsonl"
    jsonl.write_text("".join(json.dumps({"item_id": i, "annotator_id": a, "label": lab}) + "\n"
                             for i, a, lab in DISAGREEING), "utf-8")
    a = api.check_labels(p.root, [p.labels]).to_dict()
    b = api.check_labels(p.root, [jsonl]).to_dict()
    assert a["gates"] == b["gates"] and a["tasks"] == b["tasks"]
    assert a["gates"][-1]["value"] == pytest.approx(-0.41666666666666674)


def test_a_folder_of_label_files_is_read_sorted_and_hidden_files_skipped(tiny_project, tmp_path: Path) -> None:
    p = tiny_project()
    folder = tmp_path / "batches"
    folder.mkdir()
    (folder / "b.csv").write_text("item_id,annotator_id,label\n" + "".join(
        f"{i},{a},{lab}\n" for i, a, lab in AGREEING[9:]), "utf-8")
    (folder / "a.csv").write_text("item_id,annotator_id,label\n" + "".join(
        f"{i},{a},{lab}\n" for i, a, lab in AGREEING[:9]), "utf-8")
    (folder / ".hidden.csv").write_text("not,a,label file\n", "utf-8")
    report = api.check_labels(p.root, [folder])
    assert [Path(f).name for f in report.files] == ["a.csv", "b.csv"]
    assert report.accounting.rows_read == 18 and report.exit_code == 0


def test_lead_times_written_with_other_digits_do_not_crash(tiny_project) -> None:
    """'٣' is a number to Python's float() and to the record check; the lead-time finding must agree."""
    text = "item_id,annotator_id,label,lead_time_s\n" + "".join(
        f"{i},{a},{lab},{chr(0x663) if a == 'a1' else 10}\n" for i, a, lab in AGREEING)
    p = tiny_project(labels_text=text, extra=LEAD_TIME)
    report = api.check_labels(p.root, [p.labels])
    (gate,) = [g for g in report.gates if g.gate.id == "annotators.lead_time"]
    assert (gate.status, gate.measure.value) == ("pass", 0.0)  # 3 s is not under the 3 s minimum


def test_a_speeder_is_flagged_with_its_share(tiny_project) -> None:
    text = "item_id,annotator_id,label,lead_time_s\n" + "".join(
        f"{i},{a},{lab},{1.5 if a == 'a2' else 10}\n" for i, a, lab in AGREEING)
    p = tiny_project(labels_text=text, extra=LEAD_TIME)
    report = api.check_labels(p.root, [p.labels])
    assert [(f.kind, f.annotator, f.evidence) for f in report.findings] == [
        ("lead_time", "a2", {"fast_share": 1.0, "n": 6})]
    assert report.exit_code == 0  # the lead-time gate is a warning by design


def test_gold_override_scores_against_the_given_file(tiny_project, tmp_path: Path) -> None:
    gold = "item,unit,task,label,why\ni1,,sentiment,neg,planted disagreement\ni2,,sentiment,neg,\n"
    extra = "  gold: {file: gold.csv, min_accuracy: 0.9, min_judgments: 2}\n"
    p = tiny_project(extra=extra, files={"gold.csv": gold})
    report = api.check_labels(p.root, [p.labels])
    (g,) = [g for g in report.gates if g.gate.id == "gold.accuracy"]
    assert (g.status, g.measure.value, g.measure.n) == ("fail", 0.5, 2)  # i1 says pos, gold says neg
    better = tmp_path / "better-gold.csv"
    better.write_text("item,unit,task,label,why\ni1,,sentiment,pos,\ni2,,sentiment,neg,\n", "utf-8")
    report = api.check_labels(p.root, [p.labels], gold=better)
    (g,) = [g for g in report.gates if g.gate.id == "gold.accuracy"]
    assert (g.status, g.measure.value) == ("pass", 1.0)


def test_the_context_loads_beside_the_label_files_and_its_problems_come_first(tiny_project, tmp_path: Path) -> None:
    """``check_labels`` reads the items, gold and calibration files on a thread while the label files are read; a
    bad ``--gold`` file is still the error reported when the label file is broken too (as when the context was
    loaded first), and a label file alone is read without waiting for the context."""
    from concurrent.futures import Future

    from labelspec.check.runner import read_labels
    from labelspec.errors import InputError

    p = tiny_project()
    bad_gold = tmp_path / "bad-gold.csv"
    bad_gold.write_text("item,unit,task,label\ni1,,sentiment,maybe\n", "utf-8")
    broken = tmp_path / "broken.csv"
    broken.write_text("item_id,annotator_id,label\ni1,a1\n", "utf-8")  # a ragged row
    with pytest.raises(InputError) as both:
        api.check_labels(p.root, [broken], gold=bad_gold)
    assert [d.loc.path for d in both.value.diagnostics if d.loc] == [str(bad_gold)]
    with pytest.raises(InputError) as labels_only:
        api.check_labels(p.root, [broken])
    assert [d.loc.path for d in labels_only.value.diagnostics if d.loc] == [str(broken)]
    never: Future = Future()  # a context that never loads: a CSV file does not need its roster
    spec = api.load_spec(p.root)
    read = read_labels(spec, never, [p.labels], ["labels.csv"])
    assert read.rows_read == len(AGREEING) and not never.done()


def test_a_gate_detail_names_at_most_ten_annotators() -> None:
    """At scale hundreds of annotators may be flagged: the gate line names ten and points to the findings."""
    from labelspec.check.runner import _names

    names = [f"a{i:02d}" for i in range(12)]
    assert _names(names) == ", ".join(names[:10]) + ", … (+2 more, listed under findings)"
    assert _names(names[:3]) == "a00, a01, a02"


@pytest.mark.parametrize(("project", "drop"), [("rlhf-preference", ",ranking,"), ("clinical-ner", ",entities,")])
def test_a_structured_task_without_usable_judgments_is_undefined_not_a_crash(project: str, drop: str,
                                                                            tmp_path: Path) -> None:
    """A batch without the ranking (or spans) task's rows, or with only unusable ones: its gates are undefined
    ("no usable judgments"), every row accounted; the restricted item lookup of zero units used to IndexError."""
    from labelspec import api

    spec = REPO / "specs" / project
    lines = (spec / "labels" / "batch-01.csv").read_text("utf-8").splitlines(keepends=True)
    kept = [lines[0], *(line for line in lines[1:] if drop not in line)]
    garbage = lines[1].split(",")
    if project == "clinical-ner":  # one row left for the task, and its value is not spans
        kept.append(",".join([*garbage[:4], "garbage", *garbage[-2:]]))
    path = tmp_path / "batch.csv"
    path.write_text("".join(kept), "utf-8")
    report = api.check_labels(spec, [path])
    task = "ranking" if project == "rlhf-preference" else "entities"
    gate = next(g for g in report.gates if g.gate.id == f"agreement.{task}")
    assert gate.status == "undefined" and "no usable judgments" in (gate.measure.reason or "")
    assert report.accounting.rows_read == len(kept) - 1


def test_labelstudio_predictions_and_drafts_are_reported_not_read(tiny_project, tmp_path: Path) -> None:
    """They are never judgments, and every report says how many were seen (the reader counted them unseen)."""
    p = tiny_project()
    result = [{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]
    tasks = [{"id": n, "data": {"item_id": f"i{n}"},
              "annotations": [{"id": 10 * n + k, "completed_by": k, "result": result} for k in (1, 2, 3)],
              "predictions": [{"result": result}] * (n % 2), "drafts": [{"result": result}] if n == 1 else []}
             for n in range(1, 7)]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks), "utf-8")
    (p.root / "annotators.csv").write_text("id,role\n1,annotator\n2,annotator\n3,annotator\n", "utf-8")
    report = api.check_labels(p.root, [export])
    acc = report.to_dict()["accounting"]
    assert acc["rows_read"] == 18 and acc["not_judgments"] == {"drafts": 1, "predictions": 3}
    assert "  not read as judgments: drafts 1, predictions 3" in render_text(report.to_dict()).splitlines()
    plain = api.check_labels(p.root, [p.labels]).to_dict()["accounting"]
    assert plain["not_judgments"] == {}


def test_the_experts_review_round_settles_the_queue_it_was_given() -> None:
    """support-intent ships an expert's decisions (review/): with them, her units are decided by her and leave
    the queue; without them, the same units wait for review. Her decisions are not counted as agreement."""
    without = api.check_labels(EXAMPLE, [EXAMPLE / "labels"]).to_dict()
    with_review = api.check_labels(EXAMPLE, [EXAMPLE / "labels", EXAMPLE / "review"]).to_dict()
    before, after = without["consensus"]["tasks"]["intent"], with_review["consensus"]["tasks"]["intent"]
    experts = len((EXAMPLE / "review" / "expert-round-1.csv").read_text(encoding="utf-8").splitlines()) - 1
    assert before["decided_by"].get("expert", 0) == 0 and after["decided_by"]["expert"] == experts > 100
    assert after["routed_to_review"] < before["routed_to_review"] and after["expert_conflicts"] == 0
    assert with_review["accounting"]["rows_used_expert"] == experts
    assert with_review["tasks"]["intent"]["agreement"] == without["tasks"]["intent"]["agreement"]


TAXONOMY_SPEC = """\
labelspec: 1
project:
  id: topics
  title: Nested topics
  version: 1.0.0
tasks:
  topic:
    kind: {kind}
    question: Which topic?
    labels:
      a: {{title: A, definition: a}}
      a1: {{title: A1, definition: a1, parent: a}}
      a2: {{title: A2, definition: a2, parent: a}}
      b: {{title: B, definition: b}}
"""


@pytest.mark.parametrize(("kind", "values", "depth0", "depth1"), [
    # single labels: i1 a1/a2 agree at depth 0 only; i2 agree at both; i3 b/a at neither
    ("single_choice", ["a1", "a2", "a1", "a1", "b", "a"], (2 / 3, 2), (1 / 3, 4)),
    # label sets, coarsened label by label: {a} vs {a, b} on i1 disagree at depth 0 ({a}, {a, b}, {b}: 3 sets)
    ("multi_choice", ['["a1"]', '["a2","b"]', '["a1"]', '["a1"]', '["b"]', '["a"]'], (1 / 3, 3), (1 / 3, 4)),
])
def test_agreement_by_depth_reads_the_labels_of_each_kind(tmp_path: Path, kind: str, values: list[str],
                                                          depth0: tuple[float, int], depth1: tuple[float, int]
                                                          ) -> None:
    """A multi_choice task's categories are label *sets*: read as labels of the tree they gave nonsense depths
    (2 categories at depth 0 where there are 3 sets)."""
    (tmp_path / "labelspec.yaml").write_text(TAXONOMY_SPEC.format(kind=kind), "utf-8")
    rows = zip(["i1", "i1", "i2", "i2", "i3", "i3"], ["x", "y"] * 3, values, strict=True)
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps({"item_id": i, "annotator_id": a, "label": v}) + "\n"
                                                   for i, a, v in rows), "utf-8")
    depths = api.check_labels(tmp_path, [tmp_path / "labels.jsonl"]).to_dict()["tasks"]["topic"]["agreement_by_depth"]
    assert [(d["percent"], d["categories"]) for d in depths] == [
        (pytest.approx(depth0[0]), depth0[1]), (pytest.approx(depth1[0]), depth1[1])]


def test_gold_rows_of_a_text_task_are_not_scored() -> None:
    """Free text is not scored (docs): a gold row of a text task compared exactly made "Hello" ≠ "hello" an error
    (audit)."""
    import pandas as pd
    from test_decide import gold, lab, make_spec

    from labelspec.check.context import Context
    from labelspec.check.gold import score_gold
    from labelspec.spec.model import Task

    spec = make_spec(Task(name="note", kind="text", question="q"),
                     Task(name="ok", kind="single_choice", question="q", labels=(lab("y"), lab("n"))))
    used = pd.DataFrame({"annotator": ["a", "a"], "item": ["g1", "g1"], "unit": ["", ""], "task": ["note", "ok"],
                         "value": ["Hello", "y"], "when": pd.to_datetime(["2026-01-01T00:00:00Z"] * 2)})
    scores = score_gold(spec, used, Context(gold=gold([("g1", "note", "hello"), ("g1", "ok", "y")])))
    assert scores is not None and scores.of("a")[:2] == (1, 1)  # the choice only


def test_gold_and_the_hotspots_are_found_on_the_checks_own_thread(tiny_project, spy) -> None:
    """Gold scoring and the hotspots run on the caller's thread after the analysis, leaving the consensus thread
    to Dawid–Skene (labelspec/check/runner.py), with the report the same."""
    import threading

    from labelspec.check import hotspots, runner

    p = tiny_project(DISAGREEING, extra="  gold: {file: gold.csv, min_accuracy: 0.5, min_judgments: 1}\n",
                     files={"gold.csv": "item,unit,task,label,why\ni1,,sentiment,pos,\n"})
    where = spy(hotspots, "find_hotspots", lambda: threading.current_thread())
    scored = spy(runner, "score_gold", lambda: threading.current_thread())
    report = api.check_labels(p.root, [p.labels])
    assert where == scored == [threading.current_thread()]
    assert report.sections["hotspots"]["items"]  # disagreeing labels: every item is disputed
    assert report.gold is not None and report.gold.annotators


@pytest.mark.parametrize("cpus", [1, 2, 8])
def test_the_checks_dawid_skene_leaves_the_analysis_a_cpu(monkeypatch: pytest.MonkeyPatch, cpus: int) -> None:
    """The consensus runs beside the analysis: its EM takes one thread fewer than the CPUs (at least one). (The
    fit does not depend on it: ``test_dawid_skene``.)"""
    from labelspec.check import decide_kinds, runner

    asked: list[int | None] = []
    fit = decide_kinds.dawid_skene

    def spy(*args: object, **kwargs: object) -> object:
        asked.append(kwargs.get("threads"))  # type: ignore[arg-type]
        return fit(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(decide_kinds, "dawid_skene", spy)
    monkeypatch.setattr(runner, "usable_cpus", lambda: cpus)
    api.check_labels(EXAMPLE / "labelspec.yaml", [EXAMPLE / "labels" / "batch-01.csv"])
    assert asked and set(asked) == {max(1, cpus - 1)}
