"""validate warns (LS312, severity warning) when a gold gate is declared that no gold row can ever measure.

``check`` leaves free-text gold out, so a gold file that is empty or holds only ``kind: text`` rows leaves
``gold.accuracy`` (and ``calibration.drift``, rolling gold accuracy) undefined at every check: it fails closed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_resolve import HEAD, INTENT, project

from labelspec import api
from labelspec.cli import cli
from labelspec.errors import Diagnostic, SpecError
from labelspec.spec.gold_gates import gold_rows_per_task
from labelspec.spec.load import load_spec_with_warnings

ROOT = Path(__file__).resolve().parent.parent
NOTES = "  notes:\n    kind: text\n    question: Anything else?\n"
TASKS = "tasks:\n" + INTENT + NOTES
GOLD_GATE = "quality:\n  gold: {file: gold.csv, min_accuracy: 0.8, min_judgments: 1}\n"
TEXT_GOLD = "item,unit,task,label\nt1,,notes,hello\nt2,,notes,bye\n"
HEADER_ONLY = "item,unit,task,label\n"


def make(folder: Path, spec: str, **csv_files: str) -> Path:
    """A spec folder with ``name.csv`` files (``gold=...`` writes gold.csv)."""
    return project(folder, spec, **{f"{name}.csv": text for name, text in csv_files.items()})


def warnings_of(path: Path) -> list[Diagnostic]:
    return list(load_spec_with_warnings(path, display_path="labelspec.yaml").warnings)


def test_text_only_gold_warns_at_the_gate_naming_gate_file_and_tasks(tmp_path: Path) -> None:
    spec = make(tmp_path, HEAD + TASKS + GOLD_GATE, gold=TEXT_GOLD)
    (w,) = warnings_of(spec)
    assert (w.code, w.severity, w.pointer, w.check_tuple()) == (
        "LS312", "warning", "quality.gold.min_accuracy", ("LS312", 14, 26))
    assert w.message == ("gate gold.accuracy can never be measured: the rows of gold file gold.csv are all for "
                         "free-text task(s) 'notes' (2 rows), which gold does not score")
    assert w.hint == "add gold rows (item,unit,task,label) to gold.csv for a task gold scores: intent"


def test_empty_gold_file_warns(tmp_path: Path) -> None:
    (w,) = warnings_of(make(tmp_path, HEAD + TASKS + GOLD_GATE, gold=HEADER_ONLY))
    assert w.message == "gate gold.accuracy can never be measured: gold file gold.csv holds no rows"
    assert w.severity == "warning" and w.hint is not None and "intent" in w.hint


def test_one_scored_row_is_enough(tmp_path: Path) -> None:
    gold = TEXT_GOLD + "t3,,intent,refund\n"
    assert warnings_of(make(tmp_path, HEAD + TASKS + GOLD_GATE, gold=gold)) == []


def test_no_gate_or_gate_off_no_warning(tmp_path: Path) -> None:
    no_gate = "quality:\n  gold: {file: gold.csv}\n"
    assert warnings_of(make(tmp_path / "a", HEAD + TASKS + no_gate, gold=TEXT_GOLD)) == []
    off = GOLD_GATE + "gates:\n  gold.accuracy: \"off\"\n"
    assert warnings_of(make(tmp_path / "b", HEAD + TASKS + off, gold=TEXT_GOLD)) == []
    warn = GOLD_GATE + "gates:\n  gold.accuracy: warn\n"  # still planned, still never measured
    assert [w.pointer for w in warnings_of(make(tmp_path / "c", HEAD + TASKS + warn, gold=TEXT_GOLD))] == [
        "quality.gold.min_accuracy"]


def test_spec_of_text_tasks_only_says_no_task_is_scored(tmp_path: Path) -> None:
    (w,) = warnings_of(make(tmp_path, HEAD + "tasks:\n" + NOTES + GOLD_GATE, gold=TEXT_GOLD))
    assert w.hint is not None and w.hint.startswith("no task of this spec is scored against gold")


def test_gold_accuracy_without_a_gold_file_is_already_an_error(tmp_path: Path) -> None:
    spec = make(tmp_path, HEAD + TASKS + "quality:\n  gold: {min_accuracy: 0.8}\n")
    with pytest.raises(SpecError) as info:
        load_spec_with_warnings(spec, display_path="labelspec.yaml")
    assert [(d.code, d.severity, d.pointer) for d in info.value.diagnostics] == [("LS202", "error", "quality.gold")]


CALIBRATION = "item,unit,task,label\nc1,,intent,refund\n"
DRIFT = "  calibration: {file: calibration.csv, min_accuracy: 0.8, recalibrate_below: 0.7}\n"


def test_drift_gate_without_any_gold_file_warns(tmp_path: Path) -> None:
    spec = make(tmp_path, HEAD + TASKS + "quality:\n" + DRIFT, calibration=CALIBRATION)
    (w,) = warnings_of(spec)
    assert (w.code, w.severity, w.pointer) == ("LS312", "warning", "quality.calibration.recalibrate_below")
    assert w.message == ("gate calibration.drift can never be measured: the spec names no gold file "
                         "(quality.gold.file)")
    assert w.hint is not None and "gold: {file: gold.csv}" in w.hint and "intent" in w.hint


def test_both_gold_gates_warn_and_both_stop_with_a_scored_row(tmp_path: Path) -> None:
    text = HEAD + TASKS + GOLD_GATE + DRIFT
    both = warnings_of(make(tmp_path / "a", text, gold=TEXT_GOLD, calibration=CALIBRATION))
    assert [w.pointer for w in both] == ["quality.gold.min_accuracy", "quality.calibration.recalibrate_below"]
    scored = TEXT_GOLD + "t3,,intent,refund\n"
    # one scored row: gold.accuracy (min_judgments 1) can be measured; drift needs a window of 50 gold judgments
    (w,) = warnings_of(make(tmp_path / "b", text, gold=scored, calibration=CALIBRATION))
    assert w.pointer == "quality.calibration.recalibrate_below" and "window is 50" in w.message


LABELS = "item_id,task,annotator_id,label\nt1,notes,a,hello\nt1,intent,a,refund\nt2,intent,b,status\n"


@pytest.mark.parametrize(("gold", "status"), [(TEXT_GOLD, "undefined"), (TEXT_GOLD + "t1,,intent,refund\n", "pass")])
def test_check_measures_the_gate_exactly_when_validate_is_silent(tmp_path: Path, gold: str, status: str) -> None:
    """The premise of the warning: check scores no free-text gold, so then the gate is undefined (fails closed)."""
    spec = make(tmp_path, HEAD + TASKS + GOLD_GATE, gold=gold, labels=LABELS)
    report = api.check_labels(spec, [tmp_path / "labels.csv"], bootstrap=0)
    (gate,) = [g for g in report.gates if g.gate.id == "gold.accuracy"]
    assert gate.status == status
    assert bool(warnings_of(spec)) == (status == "undefined")


def test_fast_and_stdlib_reads_count_the_same_rows() -> None:
    quoted = b'item,unit,task,label,why\nt1,,notes,hello,"two\nlines"\nt2,,intent,refund,\nt3,,notes,x,\n'
    plain = b"item,unit,task,label\nt1,,notes,hello\nt2,,intent,refund\nt3,,notes,x\n"
    assert gold_rows_per_task(quoted) == gold_rows_per_task(plain) == {"notes": 2, "intent": 1}
    assert gold_rows_per_task(HEADER_ONLY.encode()) == {}


def test_cli_validate_exits_0_and_prints_the_warning(tmp_path: Path) -> None:
    spec = make(tmp_path, HEAD + TASKS + GOLD_GATE, gold=TEXT_GOLD)
    result = CliRunner().invoke(cli, ["validate", "--format", "json", str(spec)])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert entry["ok"] is True
    assert [(d["code"], d["severity"], d["pointer"]) for d in entry["diagnostics"]] == [
        ("LS312", "warning", "quality.gold.min_accuracy")]


def test_example_specs_get_no_warning() -> None:
    results = api.validate_paths(ROOT / "specs")
    assert len(results) >= 4
    assert [(r.path, d.code, d.message) for r in results for d in r.diagnostics] == []
    assert all(r.ok for r in results)


def test_fewer_scored_gold_rows_than_min_judgments_warns_at_min_judgments(tmp_path: Path) -> None:
    gate = "quality:\n  gold: {file: gold.csv, min_accuracy: 0.8, min_judgments: 3}\n"
    two = TEXT_GOLD + "t3,,intent,refund\nt4,,intent,status\n"  # two scored rows (the text rows do not count)
    (w,) = warnings_of(make(tmp_path / "a", HEAD + TASKS + gate, gold=two))
    assert (w.code, w.severity, w.pointer) == ("LS312", "warning", "quality.gold.min_judgments")
    assert w.message == ("gate gold.accuracy can never be measured: quality.gold.min_judgments is 3, but gold file "
                         "gold.csv holds 2 scored rows, so no annotator can have 3 gold judgments")
    assert w.hint == "lower quality.gold.min_judgments to at most 2, or add gold rows"
    three = two + "t5,,intent,refund\n"
    assert warnings_of(make(tmp_path / "b", HEAD + TASKS + gate, gold=three)) == []
    default = "quality:\n  gold: {file: gold.csv, min_accuracy: 0.8}\n"  # the default 20, written nowhere:
    (w,) = warnings_of(make(tmp_path / "c", HEAD + TASKS + default, gold=three))  # at the gate's own key
    assert (w.pointer, w.check_tuple()[1]) == ("quality.gold.min_accuracy", 14) and "min_judgments is 20" in w.message


def test_fewer_scored_gold_rows_than_the_drift_window_warns(tmp_path: Path) -> None:
    """calibration.drift needs ``window`` gold judgments of one annotator (found by a review)."""
    cal = ("  calibration: {file: cal.csv, min_accuracy: 0.8, recalibrate_below: 0.7, window: 3}\n")
    rows = "item,unit,task,label\nt3,,intent,refund\nt4,,intent,status\n"
    spec = HEAD + TASKS + "quality:\n  gold: {file: gold.csv}\n" + cal
    (w,) = warnings_of(make(tmp_path / "a", spec, gold=rows, cal=rows))
    assert (w.pointer, w.severity) == ("quality.calibration.window", "warning")
    assert w.message.startswith("gate calibration.drift can never be measured: quality.calibration.window is 3")
    assert warnings_of(make(tmp_path / "b", spec.replace("window: 3", "window: 2"), gold=rows, cal=rows)) == []
