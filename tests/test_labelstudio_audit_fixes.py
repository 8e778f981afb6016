"""Label Studio round trip: an annotation's lead time shared among its judgments, a ``completed_by`` object matched
to the roster by its id, and the hotkeys of step-task labels in the compiled config."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from label_studio_sdk.label_interface import LabelInterface

from labelspec import api
from labelspec.check.context import load_context
from labelspec.check.readers import ColumnMap, Judgments, TaskShape, read_label_files
from labelspec.check.runner import read_and_account
from labelspec.emit.labelstudio import NO_STEP_SUFFIX, labelstudio_view
from labelspec.spec.load import load_spec

ROOT = Path(__file__).resolve().parents[1]
TRAJECTORIES = ROOT / "specs" / "agent-trajectories"
SUPPORT = ROOT / "specs" / "support-intent"
TASKS = [TaskShape("intent", "single_choice", False), TaskShape("ents", "spans", True),
         TaskShape("tool_call", "single_choice", False, per_step=True)]


def read(path: Path, roster: set[str] | None = None) -> Judgments:
    return read_label_files([path], columns=ColumnMap(), tasks=TASKS, display_paths=[path.name], roster=roster)


def export(tmp_path: Path, tasks: list[dict[str, Any]], name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(tasks), encoding="utf-8")
    return path


def choice(name: str, *choices: str) -> dict[str, Any]:
    return {"from_name": name, "to_name": "text", "type": "choices", "value": {"choices": list(choices)}}


def region(name: str, index: int, label: str) -> dict[str, Any]:
    """A ParagraphLabels region on paragraph ``index`` (the step numbered ``index + 1``)."""
    return {"from_name": name, "to_name": "steps", "type": "paragraphlabels",
            "value": {"start": str(index), "end": str(index), "paragraphlabels": [label]}}


def steps_export(tmp_path: Path, steps: int, lead_time: Any) -> Path:
    """One annotation labelling ``steps`` steps of one trajectory, in ``lead_time`` seconds."""
    ann = {"id": 1, "completed_by": 1, "lead_time": lead_time,
           "result": [region("tool_call", i, "correct") for i in range(steps)]}
    return export(tmp_path, [{"id": 1, "data": {"item_id": "run-1"}, "annotations": [ann]}])


# --- 1. lead_time: the annotation's seconds, shared among the records it yields ---------------------------------

def test_an_annotations_lead_time_is_shared_among_its_step_judgments(tmp_path: Path) -> None:
    """~14 step judgments in ~21 s: each took ~1.5 s, not 21 s (which hid a speeder from annotators.lead_time)."""
    j = read(steps_export(tmp_path, 14, 21.337))
    assert j.frame["unit"].tolist() == [str(i) for i in range(1, 15)]
    assert j.frame["lead_time"].tolist() == ["1.524"] * 14  # 21.337 / 14 = 1.52407…, to the millisecond


@pytest.mark.parametrize(("lead_time", "records", "share"), [
    (0.3, 3, "0.1"),  # float division gives 0.09999999999999999
    (4.5, 3, "1.5"),
    ("12.50", 3, "4.167"),  # a string lead time is shared as well
    (20, 2, "10"),
    (10, 4, "2.5"),
    (0.001, 2, "0"),  # 0.0005: ties go to the even millisecond
    (0.003, 2, "0.002"),  # 0.0015
    (0.005, 2, "0.002"),  # 0.0025
    (int("9" * 30), 2, "4" + "9" * 29 + ".5"),  # exact at any size
])
def test_the_share_is_exact_decimal_rounded_to_the_millisecond(tmp_path: Path, lead_time: Any, records: int,
                                                                share: str) -> None:
    j = read(steps_export(tmp_path, records, lead_time))
    assert j.frame["lead_time"].tolist() == [share] * records


@pytest.mark.parametrize("lead_time", [12.50, "12.50", 24.8, 3, "0007.10", 1e20, -4, "soon"])
def test_one_judgment_keeps_its_lead_time_as_written(tmp_path: Path, lead_time: Any) -> None:
    path = export(tmp_path, [{"id": 1, "data": {}, "annotations": [
        {"completed_by": 1, "lead_time": lead_time, "result": [choice("intent", "x")]}]}])
    written = json.dumps(lead_time)
    assert read(path).frame["lead_time"].tolist() == [written.strip('"')]
    assert written.strip('"') in path.read_text(encoding="utf-8")  # the text of the file, byte for byte


def test_results_excluded_by_the_reader_take_their_share(tmp_path: Path) -> None:
    """Three records (one judgment, an unknown control, a value of the wrong kind) in 9 s: 3 s each."""
    ann = {"id": 4, "completed_by": 1, "lead_time": 9,
           "result": [choice("intent", "x"), choice("sentiment", "pos"), choice("ents", "PER")]}
    j = read(export(tmp_path, [{"id": 1, "data": {}, "annotations": [ann]}]))
    assert j.excluded == {"result_kind_mismatch": 1, "unknown_task": 1}
    assert j.frame["lead_time"].tolist() == ["3"]


@pytest.mark.parametrize("lead_time", [-6, 1e20, "soon", "1.5 "])
def test_a_lead_time_that_is_no_plain_decimal_is_kept_for_the_record_check(tmp_path: Path, lead_time: Any) -> None:
    j = read(steps_export(tmp_path, 2, lead_time))
    assert j.frame["lead_time"].tolist() == [json.dumps(lead_time).strip('"')] * 2


def _as_labelstudio(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Step judgments as Label Studio exports them: one annotation per (trajectory, annotator), whose lead time is
    the sum of its judgments' (what the annotator spent on the whole trajectory)."""
    tasks = []
    for n, (item, by_item) in enumerate(rows.groupby("item_id", sort=True)):
        anns = [{"id": 1000 * n + k, "completed_by": who, "created_at": group["created_at"].max(),
                 "lead_time": round(float(group["lead_time_s"].sum()), 3),
                 "result": [region(t, int(s) - 1, lab) for t, s, lab in group[["task", "step", "label"]].itertuples(
                     index=False)]}
                for k, (who, group) in enumerate(by_item.groupby("annotator_id", sort=True))]
        tasks.append({"id": n + 1, "data": {"run_id": item}, "annotations": anns})
    return tasks


def test_a_speeder_is_flagged_in_a_labelstudio_export_as_in_the_same_judgments_as_jsonl(tmp_path: Path) -> None:
    """The audit's case: the step judgments of the agent-trajectories batch in which a4 speeds, as JSONL and as a
    Label Studio export. Both flag a4 (before, every LS judgment took its whole annotation's time: none)."""
    rows = pd.read_json(TRAJECTORIES / "labels" / "batch-02.jsonl", lines=True, dtype=False)
    rows = rows[rows["task"].isin(["tool_call", "reasoning_step"])].reset_index(drop=True)
    rows["step"] = rows["step"].astype(int)
    jsonl = tmp_path / "steps.jsonl"
    rows.to_json(jsonl, orient="records", lines=True, force_ascii=False)
    ls = export(tmp_path, _as_labelstudio(rows))

    def speeders(path: Path) -> list[str]:
        report = api.check_labels(TRAJECTORIES / "labelspec.yaml", [path], bootstrap=0)
        return sorted(f.annotator or "" for f in report.findings if f.gate == "annotators.lead_time")

    assert speeders(jsonl) == ["a4"]
    assert speeders(ls) == ["a4"]


# --- 2. completed_by: the same user is the same annotator in both export shapes --------------------------------

@pytest.mark.parametrize(("roster", "annotator"), [
    (None, "user13@x"),  # no roster: the email, as before
    ({"13", "14"}, "13"),  # the roster has the id only: the id, like the bare-number export
    ({"user13@x", "13"}, "user13@x"),  # the roster has the email: the email wins
    ({"14"}, "user13@x"),  # neither: the email (annotator_not_in_roster names it)
])
def test_a_completed_by_object_is_matched_to_the_roster_by_email_then_id(tmp_path: Path, roster: set[str] | None,
                                                                         annotator: str) -> None:
    ann = {"id": 1, "completed_by": {"id": 13, "email": "user13@x"}, "result": [choice("intent", "x")]}
    j = read(export(tmp_path, [{"id": 1, "data": {}, "annotations": [ann]}]), roster)
    assert j.frame["annotator"].tolist() == [annotator]


def test_check_matches_completed_by_objects_to_a_roster_of_user_ids(tmp_path: Path) -> None:
    """support-intent's roster holds Label Studio user ids: user 13 is one annotator in either export shape."""
    spec = load_spec(SUPPORT / "labelspec.yaml")
    ctx = load_context(spec, SUPPORT)
    assert ctx.roster is not None and "13" in ctx.roster and "ana.petrova@ledgerly.example" not in ctx.roster

    def ann(k: int, who: Any) -> dict[str, Any]:
        return {"id": k, "completed_by": who, "created_at": "2026-03-05T10:00:00Z", "lead_time": 20,
                "result": [choice("intent", "refund")]}

    tasks = [{"id": 1, "data": {"ticket_id": "T-10401"}, "annotations": [ann(1, 13)]},
             {"id": 2, "data": {"ticket_id": "T-10402"}, "annotations": [
                 ann(2, {"id": 13, "email": "ana.petrova@ledgerly.example", "first_name": "Ana"})]}]
    acc = read_and_account(spec, ctx, [export(tmp_path, tasks)], ["export.json"])
    assert acc.exclusions["reason"].tolist() == []  # before: the object's row was annotator_not_in_roster
    assert acc.used["annotator"].astype(str).tolist() == ["13", "13"]


def test_calibrate_names_a_labelstudio_user_as_check_does(tmp_path: Path) -> None:
    """calibrate reads with no roster in its context (nothing may be excluded there), but a completed_by object is
    still matched to the roster's ids: otherwise it scored user 15 as an email, which check never sees."""
    round_1 = pd.read_csv(SUPPORT / "calibration" / "round-1.csv", dtype=str, keep_default_na=False)
    tasks = []
    for k, ((ticket, who), rows) in enumerate(round_1.groupby(["ticket_id", "annotator_id"], sort=True)):
        results = [{"from_name": t, "to_name": "ticket", "type": "choices", "value": {"choices": [v]}}
                   if t == "intent" else {"from_name": t, "to_name": "ticket", "type": "rating",
                                          "value": {"rating": int(v)}} for t, v in zip(rows["task"], rows["label"], strict=True)]
        user = {"id": int(who), "email": f"user{who}@vendor.example", "first_name": "A"}
        tasks.append({"id": k, "data": {"ticket_id": ticket}, "annotations": [
            {"id": k, "completed_by": user, "created_at": rows["created_at"].iloc[0], "lead_time": 30,
             "result": results}]})
    result = api.calibrate(SUPPORT, [export(tmp_path, tasks)], dry_run=True)
    scored = sorted(a.annotator for a in result.annotators)
    assert scored == sorted(round_1["annotator_id"].unique())  # roster ids, not user15@vendor.example


# --- 3. hotkeys of step-task labels ----------------------------------------------------------------------------

def test_step_task_labels_carry_their_hotkeys() -> None:
    spec = load_spec(TRAJECTORIES / "labelspec.yaml")
    tool_call = spec.task("tool_call")
    assert tool_call is not None and tool_call.unit == "step"
    config = labelstudio_view(spec)
    root = ET.fromstring(config)
    control = root.find(".//ParagraphLabels[@name='tool_call']")
    assert control is not None
    assert {el.get("value"): el.get("hotkey") for el in control.iter("Label")} == {
        lab.id: lab.hotkey for lab in tool_call.labels} == {
        "correct": "c", "wrong_tool": "t", "wrong_arguments": "a", "unnecessary": "u", "hallucinated_result": "h"}
    # labels without a hotkey get none; an attribution's no-step choices get none (one key, one binding)
    reasoning = root.find(".//ParagraphLabels[@name='reasoning_step']")
    assert reasoning is not None and all("hotkey" not in el.attrib for el in reasoning.iter("Label"))
    no_step = root.find(f".//Choices[@name='attribution{NO_STEP_SUFFIX}']")
    assert no_step is not None and all("hotkey" not in el.attrib for el in no_step.iter("Choice"))
    keys = [el.get("hotkey") for el in root.iter() if el.get("hotkey")]
    assert len(keys) == len(set(keys))  # no key bound twice in the config
    LabelInterface(config)  # Label Studio's own parser takes it
