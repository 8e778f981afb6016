"""Command-line hazards found by adversarial testing: outputs that would overwrite inputs, reports that were not all
or nothing, ``-`` as a file name, SIGTERM, ``--bootstrap 0`` against interval gates, data rendered as live Markdown
or raw terminal text, late ``--accept-failing`` checks, and GitHub annotation paths (G1, G8, G12)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import AGREEING, DISAGREEING, Tiny, tree

from labelspec import api
from labelspec.check import release as rel
from labelspec.check.render import github_diagnostics, render_github, render_markdown
from labelspec.errors import Diagnostic, SourceLocation

REPO = Path(__file__).resolve().parent.parent
CALIBRATION = "  calibration: {file: calibration.csv, min_accuracy: 0.8}\n"
CAL_SET = {"calibration.csv": "item,unit,task,label,why\ni1,,sentiment,pos,\ni2,,sentiment,neg,\n"}
SUBMISSION = ("item_id,annotator_id,label,created_at\ni1,a1,pos,2026-03-01T10:00:00Z\ni2,a1,neg,2026-03-01T10:00:00Z\n")


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("CI", "true")


@pytest.fixture
def folder_project(tiny_project: Callable[..., Tiny], tmp_path: Path) -> Tiny:
    """The tiny project with its labels in a folder, ``tmp_path/labels/batch.csv``."""
    (tmp_path / "labels").mkdir()
    return tiny_project(name="labels/batch.csv")


@pytest.fixture
def support_intent(tmp_path: Path) -> Path:
    dst = tmp_path / "si"
    shutil.copytree(REPO / "specs" / "support-intent", dst)
    return dst


def _no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading labels or computing statistics fails the test (exit 3): the refusal must come first."""
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("labels were read")

    monkeypatch.setattr("labelspec.check.runner.run_check", boom)  # api imports it when a check runs
    monkeypatch.setattr("labelspec.check.runner.read_and_account", boom)


# --- 1. outputs that would overwrite inputs -----------------------------------------------------------------------

@pytest.mark.parametrize(("option", "target", "message"), [
    ("--json", "labels/batch.csv", "is a label file, an input"),
    ("--junit", "tiny/labelspec.yaml", "is the spec, an input"),
    ("--markdown", "tiny/items.jsonl", "is the items file, an input"),
    ("--html", "tiny/annotators.csv", "is the roster, an input"),
    ("--json", "labels/report.json", "is inside"),
])
def test_check_refuses_a_report_over_an_input(run_cli, folder_project: Tiny, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch, option: str, target: str,
                                              message: str) -> None:
    _no_work(monkeypatch)
    before = tree(tmp_path)
    r = run_cli("check", str(folder_project.root), str(tmp_path / "labels"), option, str(tmp_path / target))
    assert r.code == 2 and "LS501" in r.err and message in r.err and option in r.err, r.err
    assert tree(tmp_path) == before


def test_a_report_through_a_hard_link_or_symlink_to_an_input_is_refused(run_cli, tiny_project, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    p = tiny_project()
    os.link(p.labels, tmp_path / "hard.json")
    (tmp_path / "soft.json").symlink_to(p.root / "labelspec.yaml")
    _no_work(monkeypatch)
    for name in ("hard.json", "soft.json"):
        r = run_cli("check", str(p.root), str(p.labels), "--json", str(tmp_path / name))
        assert r.code == 2 and "an input of this command" in r.err, r.err
    assert p.labels.read_text("utf-8").startswith("item_id,")


def test_a_report_beside_a_label_file_named_directly_is_allowed(run_cli, tiny_project, tmp_path: Path) -> None:
    """Only folders given as input are read whole: a report next to a file named on its own is no hazard."""
    p = tiny_project()
    r = run_cli("check", "-q", str(p.root), str(p.labels), "--json", str(tmp_path / "report.json"))
    assert r.code == 0, r.err


def test_check_refuses_a_report_over_a_gold_override(run_cli, tiny_project, tmp_path: Path) -> None:
    p = tiny_project()
    gold = tmp_path / "gold.csv"
    gold.write_text("item,unit,task,label\ni1,,sentiment,pos\n", "utf-8")
    r = run_cli("check", str(p.root), str(p.labels), "--gold", str(gold), "--markdown", str(gold))
    assert r.code == 2 and "is the gold file" in r.err and gold.read_text("utf-8").startswith("item,")


def test_calibrate_refuses_a_report_over_its_roster_but_updates_the_roster(run_cli, tiny_project, tmp_path: Path
                                                                           ) -> None:
    p = tiny_project(extra=CALIBRATION, files=CAL_SET)
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "round1.csv").write_text(SUBMISSION, "utf-8")
    roster = p.root / "annotators.csv"
    before = roster.read_bytes()
    for spec in (p.root, p.root / "labelspec.yaml"):
        r = run_cli("calibrate", str(spec), str(subs), "--json", str(roster))
        assert r.code == 2 and "--json" in r.err and "is the roster" in r.err, r.err
        assert roster.read_bytes() == before
    r = run_cli("calibrate", str(p.root), str(subs), "--roster", str(subs / "roster.csv"))
    assert r.code == 2 and "--roster" in r.err and "inside" in r.err and not (subs / "roster.csv").exists()
    r = run_cli("calibrate", str(p.root), str(subs), "--json", str(tmp_path / "cal.json"))  # the roster in the
    assert r.code == 0, r.err  # spec folder given as input is the one file calibrate is meant to rewrite there
    assert roster.read_bytes() != before and (tmp_path / "cal.json").is_file()


def test_adjudicate_refuses_a_folder_of_label_files_as_out(run_cli, folder_project: Tiny, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _no_work(monkeypatch)
    before = tree(tmp_path)
    r = run_cli("adjudicate", str(folder_project.root), str(tmp_path / "labels"), "--out", str(tmp_path / "labels"))
    assert r.code == 2 and "--out" in r.err and "folder of the spec or of label files" in r.err
    assert tree(tmp_path) == before


def test_release_refuses_the_folder_of_a_label_file_named_directly(run_cli, tiny_project, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "old").mkdir()
    p = tiny_project(name="old/dataset.jsonl.csv")
    _no_work(monkeypatch)
    for command in ("adjudicate", "release"):
        r = run_cli(command, str(p.root), str(p.labels), "--out", str(tmp_path / "old"))
        assert r.code == 2 and "--out" in r.err and "folder of the spec or of label files" in r.err, r.err


# --- 2. several reports: all or nothing -------------------------------------------------------------------------

def test_a_failing_device_report_leaves_the_other_reports_as_they_were(run_cli, tiny_project, tmp_path: Path
                                                                       ) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    p = tiny_project()
    out = tmp_path / "rw"
    out.mkdir()
    (out / "r.json").write_text("old", "utf-8")
    r = run_cli("check", str(p.root), str(p.labels), "--json", str(out / "r.json"), "--junit", "/dev/full")
    assert r.code == 2 and "LS601" in r.err
    assert tree(out) == {"r.json": b"old"}


def test_a_report_that_fails_while_staged_leaves_every_target_and_no_folder(run_cli, tiny_project, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    p = tiny_project()
    (tmp_path / "r.json").write_text("old", "utf-8")
    calls: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(api.os, "fsync", fsync)
    before = tree(tmp_path)
    r = run_cli("check", str(p.root), str(p.labels), "--json", str(tmp_path / "r.json"), "--junit",
                str(tmp_path / "new" / "r.xml"), "--markdown", str(tmp_path / "new" / "deeper" / "r.md"))
    assert r.code == 2 and "No space left" in r.err
    assert tree(tmp_path) == before  # r.json still "old", no temporary file, no "new/" folder
    assert len(calls) == 3


def test_reports_rename_together_and_devices_are_written(run_cli, tiny_project, tmp_path: Path) -> None:
    p = tiny_project()
    r = run_cli("check", "-q", str(p.root), str(p.labels), "--json", str(tmp_path / "a" / "r.json"), "--junit",
                str(tmp_path / "r.xml"), "--markdown", os.devnull)
    assert r.code == 0, r.err
    assert json.loads((tmp_path / "a" / "r.json").read_text("utf-8"))["exit_code"] == 0
    assert not [q for q in tmp_path.rglob(".labelspec-*")]


def test_calibrate_writes_its_roster_and_report_together(run_cli, tiny_project, tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    p = tiny_project(extra=CALIBRATION, files=CAL_SET)
    (tmp_path / "round1.csv").write_text(SUBMISSION, "utf-8")
    before = (p.root / "annotators.csv").read_bytes()
    r = run_cli("calibrate", str(p.root), str(tmp_path / "round1.csv"), "--json", "/dev/full")
    assert r.code == 2 and "LS601" in r.err
    assert (p.root / "annotators.csv").read_bytes() == before


# --- 3. "-" only for --json --------------------------------------------------------------------------------------

@pytest.mark.parametrize("option", ["--junit", "--markdown", "--html"])
def test_only_json_writes_to_stdout(run_cli, tiny_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    option: str) -> None:
    p = tiny_project()
    monkeypatch.chdir(tmp_path)
    r = run_cli("check", str(p.root), str(p.labels), option, "-")
    assert r.code == 2 and f"{option} cannot write to stdout" in r.err
    assert not (tmp_path / "-").exists()


# --- 4. SIGTERM and interrupts leave nothing behind --------------------------------------------------------------

def _interrupt_release(monkeypatch: pytest.MonkeyPatch, how: Callable[[], None]) -> None:
    """``write_release`` writes part of the dataset, then ``how`` interrupts it."""
    def write_release(spec: Any, decisions: Any, acc: Any, ctx: Any, open_output: Any, **kw: Any) -> dict[str, Any]:
        open_output(rel.DATASET_JSONL).write(b"{}\n" * 1000)
        how()
        raise AssertionError("not interrupted")

    monkeypatch.setattr(rel, "write_release", write_release)


def _sigterm() -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)  # the handler raises in the main thread before or during this


def _sigint() -> None:
    raise KeyboardInterrupt


@pytest.mark.parametrize(("how", "code", "word"), [(_sigterm, 143, "terminated"), (_sigint, 130, "interrupted")])
def test_an_interrupted_release_leaves_no_temporary_folder_and_no_out_folder(
        run_cli, tiny_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: Callable[[], None], code: int,
        word: str) -> None:
    p = tiny_project()
    _interrupt_release(monkeypatch, how)
    previous = signal.getsignal(signal.SIGTERM)
    r = run_cli("release", str(p.root), str(p.labels), "--out", str(tmp_path / "rel" / "1.0"))
    assert (r.code, r.err.strip()) == (code, word)
    assert not (tmp_path / "rel").exists()  # made by the command, left empty: removed
    assert signal.getsignal(signal.SIGTERM) == previous  # the in-process caller's handler is back


def test_an_interrupted_release_keeps_an_existing_out_folder_and_its_files(run_cli, tiny_project, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    p = tiny_project()
    out = tmp_path / "rel"
    out.mkdir()
    (out / "notes.txt").write_text("mine", "utf-8")
    _interrupt_release(monkeypatch, _sigterm)
    assert run_cli("release", str(p.root), str(p.labels), "--out", str(out)).code == 143
    assert tree(out) == {"notes.txt": b"mine"}


def test_sigterm_exits_143_in_a_real_process(tiny_project, tmp_path: Path) -> None:
    p = tiny_project()
    script = ("import os, signal, time\n"
              "import labelspec.check.release as rel\n"
              "def write_release(*a, **k):\n"
              "    a[4](rel.DATASET_JSONL).write(b'x' * 100000)\n"
              "    os.kill(os.getpid(), signal.SIGTERM)\n"
              "    time.sleep(30)\n"
              "rel.write_release = write_release\n"
              "from labelspec.cli import main\n"
              f"main(['release', {str(p.root)!r}, {str(p.labels)!r}, '--out', {str(tmp_path / 'out')!r}])\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "CI": "true"})
    assert r.returncode == 143 and r.stderr.strip() == "terminated", r.stderr
    assert not (tmp_path / "out").exists()


# --- 5. --bootstrap 0 against interval gates ---------------------------------------------------------------------

@pytest.mark.parametrize("command", ["check", "release"])
def test_bootstrap_0_with_a_ci_gate_is_a_usage_error_before_labels_are_read(run_cli, support_intent: Path,
                                                                             tmp_path: Path, command: str) -> None:
    broken = tmp_path / "broken.csv"
    broken.write_text("item_id,annotator_id\nx\n", "utf-8")  # read, it would be LS40x
    extra = ["--out", str(tmp_path / "rel")] if command == "release" else []
    r = run_cli(command, str(support_intent), str(broken), "--bootstrap", "0", *extra)
    assert r.code == 2 and "--bootstrap 0" in r.err and "agreement.intent, agreement.tone" in r.err, r.err
    assert "LS40" not in r.err and not (tmp_path / "rel").exists()


def test_bootstrap_0_without_ci_gates_still_runs(run_cli, tiny_project) -> None:
    p = tiny_project()
    assert run_cli("check", "-q", str(p.root), str(p.labels), "--bootstrap", "0").code == 0


# --- 6. Markdown renders data inert ------------------------------------------------------------------------------

EVIL = "![t](https://evil.example/x.png)[c](javascript:alert(1))"


def _report(tiny_project: Callable[..., Tiny]) -> dict[str, Any]:
    p = tiny_project(DISAGREEING)
    return api.check_labels(p.root, [p.labels]).to_dict()


def test_markdown_findings_do_not_render_images_or_links(tiny_project) -> None:
    d = _report(tiny_project)
    d["findings"] = [{"annotator": EVIL, "task": "*t*", "kind": "lead_time", "message": "<img src=x> _x_ `y`",
                      "gate": None, "evidence": {}}]
    md = render_markdown(d)
    findings = md.split("### Findings", 1)[1].split("###", 1)[0]
    assert not re.search(r"(?<!\\)\]\(", findings) and not re.search(r"(?<!\\)!\[|(?<!\\)\[", findings), findings
    assert "<img" not in findings and "\\*t\\*" in findings and "\\_x\\_" in findings and "\\`y\\`" in findings


def test_markdown_gate_ids_stay_code_spans(tiny_project) -> None:
    d = _report(tiny_project)
    md = render_markdown(d)
    assert "| `agreement.sentiment` |" in md  # the look is unchanged
    d["gates"][0]["id"] = "a`b|c"
    row = next(line for line in render_markdown(d).splitlines() if "a`b" in line)
    assert "``a`b\\|c``" in row and len(re.findall(r"(?<!\\)\|", row)) == 8


def test_markdown_cells_keep_newlines_out(tiny_project) -> None:
    d = _report(tiny_project)
    d["accounting"]["excluded_by_reason"] = {"a\nb [x](y)": 1}
    md = render_markdown(d)
    assert "- a\\\\x0ab \\[x\\](y): 1" in md


# --- 7. --reason reaches the terminal escaped ---------------------------------------------------------------------

def test_override_reason_is_escaped_on_the_terminal(run_cli, tiny_project, tmp_path: Path) -> None:
    p = tiny_project(DISAGREEING)
    reason = "ok\r\nreleased 999 rows\x1b]8;;https://evil.example\x07"
    r = run_cli("release", str(p.root), str(p.labels), "--out", str(tmp_path / "rel"),
                "--accept-failing", "agreement.sentiment", "--reason", reason)
    assert r.code == 0, r.err
    assert "\x1b" not in r.err and "\r" not in r.err and "\x07" not in r.err
    assert "accepted agreement.sentiment (fail): ok\\x0d\\x0areleased 999 rows\\x1b]8;;" in r.err
    assert not any(line.startswith("released 999") for line in (r.out + r.err).splitlines())


# --- 8. --accept-failing mistakes before the statistics ----------------------------------------------------------

@pytest.mark.parametrize(("accept", "message"), [
    (["--accept-failing", "nope", "--reason", "r"], "--accept-failing 'nope': no such gate (gates: "),
    (["--accept-failing", "agreement.sentiment", "--reason", " "], "needs a non-empty --reason"),
    (["--accept-failing", "agreement.sentiment", "--reason", "a", "--accept-failing", "agreement.sentiment",
      "--reason", "b"], "'agreement.sentiment' given twice"),
])
def test_accept_failing_mistakes_are_found_before_labels_are_read(run_cli, tiny_project, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  accept: list[str], message: str) -> None:
    p = tiny_project()
    _no_work(monkeypatch)
    r = run_cli("release", str(p.root), str(p.labels), "--out", str(tmp_path / "rel"), *accept)
    assert r.code == 2 and message in r.err, r.err
    assert not (tmp_path / "rel").exists()


# --- 9. an override of a warning that does not block -------------------------------------------------------------

def test_override_of_a_failing_warning_says_why_it_was_not_needed(run_cli, tiny_project, tmp_path: Path) -> None:
    p = tiny_project(DISAGREEING, extra="gates:\n  agreement.sentiment: warn\n")
    r = run_cli("release", str(p.root), str(p.labels), "--out", str(tmp_path / "rel"),
                "--accept-failing", "agreement.sentiment", "--reason", "a")
    assert r.code == 0, r.err
    assert "the gate did not fail" not in r.err
    assert "not needed, a warn gate blocks only with --strict: agreement.sentiment (fail): a" in r.err
    good = tiny_project(AGREEING, name="good.csv")
    r = run_cli("release", str(good.root), str(good.labels), "--out", str(tmp_path / "rel2"),
                "--accept-failing", "agreement.sentiment", "--reason", "a")
    assert "not needed, the gate did not fail: agreement.sentiment (pass): a" in r.err


# --- 10. GitHub annotations name files with newlines --------------------------------------------------------------

def test_github_file_property_escapes_newlines_as_github_documents(tiny_project) -> None:
    d = _report(tiny_project)
    d["gates"][-1]["declared_at"]["path"] = "sp,ec:x\n/labelspec.yaml"
    d["gates"][-1]["status"] = "fail"
    line = render_github(d).splitlines()[-1]
    assert line.startswith("::error file=sp%2Cec%3Ax%0A/labelspec.yaml,line=")
    diag = github_diagnostics([Diagnostic("LS402", "bad", SourceLocation("a\r\nb.csv", 3, 1))])
    assert diag.startswith("::error file=a%0D%0Ab.csv,line=3,col=1,") and "\\x0a" not in diag.split("::", 2)[1]
