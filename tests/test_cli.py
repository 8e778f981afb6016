"""The exit-code contract (G1) and the command line's output, command by command.

0 success, 1 a blocking gate failed (or compile drift), 2 usage/spec/input error, 3 internal error, 130 interrupted.
A crash must never exit 1: CI would read it as "data not releasable".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from importlib.resources import files
from pathlib import Path

import pytest
from conftest import DISAGREEING, label_csv

from labelspec import __version__, api
from labelspec.cli import KINDS, cli

COMMANDS = sorted(cli.commands)


def test_the_documented_commands_exist() -> None:
    assert {"check", "compile", "init", "schema", "validate"} <= set(COMMANDS)


@pytest.mark.parametrize("argv", [["--help"], ["-h"], *([c, "--help"] for c in COMMANDS)])
def test_help_exits_0_on_every_command(run_cli, argv: list[str]) -> None:
    r = run_cli(*argv)
    assert r.code == 0
    assert r.out.startswith("Usage: labelspec")
    assert r.err == ""


def test_version(run_cli) -> None:
    r = run_cli("--version")
    assert (r.code, r.out) == (0, f"labelspec, version {__version__}\n")


@pytest.mark.parametrize(("argv", "message"), [
    (["check", "--bogus"], "No such option '--bogus'"),
    (["validate", "--format", "xml", "."], "Invalid value for '--format'"),
    (["nosuch"], "No such command 'nosuch'"),
    (["check"], "Missing argument 'SPEC'"),
    (["check", "."], "Missing argument 'LABEL_FILES...'"),
    (["init"], "Missing argument 'DIRECTORY'"),
    (["validate"], "Missing argument 'PATHS...'"),
    (["init", "--kind", "bogus", "x"], "Invalid value for '--kind'"),
    (["validate", "does/not/exist"], "does not exist"),
])
def test_usage_errors_exit_2_without_traceback(run_cli, argv: list[str], message: str) -> None:
    r = run_cli(*argv)
    assert r.code == 2
    assert message in r.err
    assert "Traceback" not in r.err + r.out


def test_validate_valid_spec_exits_0(run_cli, tiny_project) -> None:
    p = tiny_project()
    r = run_cli("validate", str(p.root))
    assert r.code == 0
    assert r.out == f"{p.root.as_posix()}/labelspec.yaml: ok\n"


def test_validate_invalid_spec_exits_2_with_located_diagnostics(run_cli, tiny_project) -> None:
    p = tiny_project(extra="  qualty_typo: 1\n")
    spec = f"{p.root.as_posix()}/labelspec.yaml"
    r = run_cli("validate", str(p.root))
    assert r.code == 2
    assert f"{spec}:18:3: LS201 quality.qualty_typo: unknown key 'qualty_typo' in quality" in r.err
    assert r.err.rstrip().endswith("1 error(s)")
    assert "Traceback" not in r.err


def test_validate_json_format_lists_the_same_diagnostics(run_cli, tiny_project) -> None:
    p = tiny_project(extra="  qualty_typo: 1\n")
    r = run_cli("validate", "--format", "json", str(p.root))
    assert r.code == 2
    (result,) = json.loads(r.out)
    assert result["ok"] is False
    (d,) = result["diagnostics"]
    assert (d["code"], d["location"]["line"], d["location"]["column"], d["pointer"]) == \
        ("LS201", 18, 3, "quality.qualty_typo")


def test_validate_json_flag_is_the_json_format(run_cli, tiny_project) -> None:
    p = tiny_project(extra="  qualty_typo: 1\n")
    by_format = run_cli("validate", "--format", "json", str(p.root))
    by_flag = run_cli("validate", "--json", str(p.root))
    assert (by_flag.code, by_flag.out) == (by_format.code, by_format.out) == (2, by_format.out)
    assert json.loads(by_flag.out)[0]["ok"] is False
    assert run_cli("validate", "--json", "--format", "json", str(p.root)).out == by_format.out
    clash = run_cli("validate", "--json", "--format", "text", str(p.root))
    assert clash.code == 2 and "--json and --format text" in clash.err
    assert [d["code"] for d in json.loads(clash.out)["diagnostics"]] == ["LS501"]  # --json: an error is JSON too


@pytest.mark.parametrize("asks", [["--json"], ["--format", "json"], ["--format=json"]])
def test_validate_as_json_prints_an_error_that_ends_the_run_as_json(run_cli, tmp_path: Path, asks: list[str]) -> None:
    """No spec under the paths (LS501): a machine reading stdout gets the error as a document, not nothing."""
    r = run_cli("validate", *asks, str(tmp_path))
    assert r.code == 2
    doc = json.loads(r.out)
    assert doc["exit_code"] == 2 and [d["code"] for d in doc["diagnostics"]] == ["LS501"]
    assert "LS501 no labelspec.yaml found" in r.err  # the text for people, on stderr as before


def test_diff_as_json_prints_a_spec_error_as_json(run_cli, tiny_project, tmp_path: Path) -> None:
    p = tiny_project()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "labelspec.yaml").write_text("labelspec: 1\nproject: [oops]\n", "utf-8")
    r = run_cli("diff", "--json", str(p.root), str(bad))
    assert r.code == 2
    doc = json.loads(r.out)
    assert doc["exit_code"] == 2 and doc["diagnostics"] and all(d["code"].startswith("LS") for d in doc["diagnostics"])
    assert run_cli("diff", str(p.root), str(bad)).out == ""  # without --json, stdout stays empty


def test_validate_reports_every_spec_and_fails_if_any_is_invalid(run_cli, tiny_project, tmp_path: Path) -> None:
    p = tiny_project()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "labelspec.yaml").write_text("labelspec: 1\nproject: [oops]\n", "utf-8")
    r = run_cli("validate", str(p.root), str(bad))
    assert r.code == 2
    assert f"{p.root.as_posix()}/labelspec.yaml: ok" in r.out
    assert f"{bad.as_posix()}/labelspec.yaml:2:" in r.err


def test_validate_folder_without_specs_is_a_usage_error(run_cli, tmp_path: Path) -> None:
    r = run_cli("validate", str(tmp_path))
    assert r.code == 2 and "LS501 no labelspec.yaml found" in r.err


def test_schema_prints_the_packaged_schema_as_valid_json(run_cli) -> None:
    packaged = files("labelspec.schemas").joinpath("spec-v1.schema.json").read_text("utf-8")
    r = run_cli("schema")
    assert r.code == 0
    assert r.out == packaged
    assert json.loads(r.out) == json.loads(packaged)
    assert json.loads(r.out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("kind", KINDS)
def test_init_writes_a_project_that_validates(run_cli, tmp_path: Path, kind: str) -> None:
    target = tmp_path / f"new-{kind.replace('_', '-')}"
    r = run_cli("init", "--kind", kind, str(target))
    assert r.code == 0, r.err
    assert f"wrote {target.as_posix()}/labelspec.yaml\n" in r.out
    v = run_cli("validate", str(target))
    assert (v.code, v.err) == (0, "")


def test_init_refuses_to_overwrite(run_cli, tmp_path: Path) -> None:
    assert run_cli("init", str(tmp_path / "p")).code == 0
    before = (tmp_path / "p" / "labelspec.yaml").read_bytes()
    r = run_cli("init", "--kind", "rating", str(tmp_path / "p"))
    assert r.code == 2 and "already exists; not overwriting" in r.err
    assert (tmp_path / "p" / "labelspec.yaml").read_bytes() == before


def test_compile_writes_then_check_finds_fresh_then_drift(run_cli, tiny_project, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    tiny_project()
    monkeypatch.chdir(tmp_path)  # compiled files name the spec by its relative path (G9)
    out = tmp_path / "gen"
    r = run_cli("compile", "tiny", "--out", "gen")
    assert r.code == 0 and (out / "tiny" / "gates.json").is_file()
    assert run_cli("compile", "tiny", "--out", "gen", "--check").code == 0
    (out / "tiny" / "guidelines.md").write_text("edited by hand\n", "utf-8")
    r = run_cli("compile", "tiny", "--out", "gen", "--check")
    assert r.code == 1
    assert "tiny/guidelines.md" in r.out
    assert (out / "tiny" / "guidelines.md").read_text("utf-8") == "edited by hand\n"  # --check writes nothing


def test_compile_invalid_spec_exits_2_and_writes_nothing(run_cli, tiny_project, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    tiny_project(extra="  qualty_typo: 1\n")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "gen"
    r = run_cli("compile", "tiny", "--out", "gen")
    assert r.code == 2 and "LS201" in r.err
    assert not out.exists()


# --- check ----------------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _no_ci_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("CI", "true")  # no progress lines on stderr


def test_check_passing_gates_exit_0(run_cli, tiny_project) -> None:
    p = tiny_project()
    r = run_cli("check", str(p.root), str(p.labels))
    assert r.code == 0
    assert r.out.splitlines()[-1] == "3 passed, 0 failed, 0 undefined, 0 warnings: release may go"
    assert "PASS      agreement.sentiment  krippendorff_alpha = 1.000 >= 0.5, n=6" in r.out


def test_check_failing_agreement_gate_exits_1(run_cli, tiny_project) -> None:
    p = tiny_project(DISAGREEING)
    r = run_cli("check", str(p.root), str(p.labels))
    assert r.code == 1
    assert "FAIL      agreement.sentiment  krippendorff_alpha = -0.417 >= 0.5, n=6" in r.out
    assert r.out.splitlines()[-1] == "2 passed, 1 failed, 0 undefined, 0 warnings: release blocked"


def test_check_warn_gate_does_not_block_unless_strict(run_cli, tiny_project) -> None:
    p = tiny_project(DISAGREEING, extra="gates:\n  agreement.sentiment: warn\n")
    assert run_cli("check", str(p.root), str(p.labels)).code == 0
    assert run_cli("check", "--strict", str(p.root), str(p.labels)).code == 1


def test_check_quiet_prints_only_the_verdict(run_cli, tiny_project) -> None:
    p = tiny_project(DISAGREEING)
    r = run_cli("check", "--quiet", str(p.root), str(p.labels))
    assert (r.code, r.out, r.err) == (1, "2 passed, 1 failed, 0 undefined, 0 warnings: release blocked\n", "")


def test_check_json_to_stdout_is_valid_json(run_cli, tiny_project) -> None:
    p = tiny_project(DISAGREEING)
    r = run_cli("check", "--json", "-", str(p.root), str(p.labels))
    assert r.code == 1
    d = json.loads(r.out)
    assert d["exit_code"] == 1 and d["report_version"] == 1
    s = d["summary"]
    assert (s["gates"], s["passed"], s["failed"], s["undefined"], s["blocking"]) == (3, 2, 1, 0, ["agreement.sentiment"])


def test_check_writes_json_junit_and_markdown_files(run_cli, tiny_project, tmp_path: Path) -> None:
    p = tiny_project(DISAGREEING)
    out = tmp_path / "reports"
    r = run_cli("check", "--json", str(out / "r.json"), "--junit", str(out / "r.xml"), "--markdown",
                str(out / "r.md"), str(p.root), str(p.labels))
    assert r.code == 1
    assert json.loads((out / "r.json").read_text("utf-8"))["summary"]["failed"] == 1
    suite = ET.fromstring((out / "r.xml").read_text("utf-8"))
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    assert "❌ release blocked" in (out / "r.md").read_text("utf-8")
    assert sorted(q.name for q in out.iterdir()) == ["r.json", "r.md", "r.xml"]  # no temporary files left


def test_github_actions_adds_error_annotations_for_failing_gates(run_cli, tiny_project,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    p = tiny_project(DISAGREEING)
    r = run_cli("check", str(p.root), str(p.labels))
    assert r.code == 1
    errors = [line for line in r.out.splitlines() if line.startswith("::error")]
    spec = f"{p.root.as_posix()}/labelspec.yaml"
    assert errors == [f"::error file={spec},line=16,col=15,title=labelspec gate agreement.sentiment::FAIL      "
                      f"agreement.sentiment  krippendorff_alpha = -0.417 >= 0.5, n=6  {spec}:16:15"]


def test_github_actions_adds_nothing_when_every_gate_passes(run_cli, tiny_project,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    p = tiny_project()
    r = run_cli("check", str(p.root), str(p.labels))
    assert r.code == 0 and "::" not in r.out + r.err


def test_github_annotations_do_not_corrupt_json_on_stdout(run_cli, tiny_project,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    p = tiny_project(DISAGREEING)
    r = run_cli("check", "--json", "-", str(p.root), str(p.labels))
    assert r.code == 1
    assert json.loads(r.out)["exit_code"] == 1
    assert "::error file=" in r.err


def test_ragged_csv_exits_2_naming_file_and_line(run_cli, tiny_project) -> None:
    p = tiny_project(labels_text="item_id,annotator_id,label\ni1,a1,pos\ni2,a1\n")
    r = run_cli("check", str(p.root), str(p.labels))
    assert r.code == 2
    assert f"{p.labels.as_posix()}:3: LS402 ragged row: 2 fields, the header has 3" in r.err
    assert "Traceback" not in r.err and r.out == ""


def test_unknown_label_file_extension_exits_2(run_cli, tiny_project) -> None:
    p = tiny_project(name="labels.xlsx")
    r = run_cli("check", str(p.root), str(p.labels))
    assert r.code == 2 and "LS405" in r.err


def test_check_with_invalid_spec_exits_2(run_cli, tiny_project) -> None:
    p = tiny_project(agreement_min=1.5)
    r = run_cli("check", str(p.root), str(p.labels))
    assert r.code == 2
    assert "LS204" in r.err and "labelspec.yaml:16:" in r.err


# --- internal errors and interrupts ---------------------------------------------------------------------------

@pytest.mark.parametrize("exc", [RuntimeError("boom"), MemoryError(), RecursionError("too deep"), KeyError("k")])
def test_unexpected_exception_exits_3_not_1(run_cli, tiny_project, monkeypatch: pytest.MonkeyPatch,
                                            exc: BaseException) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(api, "check_labels", explode)
    p = tiny_project()
    r = run_cli("check", str(p.root), str(p.labels))
    assert r.code == 3
    assert f"labelspec: internal error ({type(exc).__name__}" in r.err
    assert "This is a bug" in r.err and "--debug" in r.err
    assert "Traceback" not in r.err


def test_debug_shows_the_traceback(run_cli, tiny_project, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom \x1b[2J")

    monkeypatch.setattr(api, "validate_paths", explode)
    p = tiny_project()
    r = run_cli("--debug", "validate", str(p.root))
    assert r.code == 3
    assert "Traceback (most recent call last)" in r.err and "RuntimeError: boom \\x1b[2J" in r.err
    assert "\x1b" not in r.err  # the traceback quotes data: escaped like every other line (G12)


@pytest.mark.parametrize("command", ["check", "validate"])
def test_keyboard_interrupt_exits_130(run_cli, tiny_project, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    def interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "check_labels", interrupt)
    monkeypatch.setattr(api, "validate_paths", interrupt)
    p = tiny_project()
    r = run_cli(command, str(p.root), *([str(p.labels)] if command == "check" else []))
    assert r.code == 130
    assert "interrupted" in r.err and "Traceback" not in r.err


def test_real_process_exit_codes(tiny_project) -> None:
    """The installed entry point, in a fresh interpreter: 0, 1, 2 and an injected crash as 3."""
    ok = tiny_project()
    run = [sys.executable, "-m", "labelspec"]
    env = {"CI": "true", "PATH": ""}
    assert subprocess.run([*run, "check", str(ok.root), str(ok.labels)], env=env, capture_output=True).returncode == 0
    ok.labels.write_text(label_csv(DISAGREEING), "utf-8")
    assert subprocess.run([*run, "check", str(ok.root), str(ok.labels)], env=env, capture_output=True).returncode == 1
    assert subprocess.run([*run, "check", "--nope"], env=env, capture_output=True).returncode == 2
    crash = ("import labelspec.api as a\n"
             "def boom(*x, **k): raise ZeroDivisionError('x')\n"
             "a.check_labels = boom\n"
             "from labelspec.cli import main\n"
             f"main(['check', {str(ok.root)!r}, {str(ok.labels)!r}])\n")
    r = subprocess.run([sys.executable, "-c", crash], env=env, capture_output=True, text=True)
    assert r.returncode == 3 and "internal error (ZeroDivisionError" in r.stderr


# --- calibrate, adjudicate, release: the same contract ------------------------------------------------------------

CALIBRATION = "  calibration: {file: calibration.csv, min_accuracy: 0.8}\n"
SUBMISSION = ("item_id,annotator_id,label,created_at\ni1,a1,pos,2026-03-01T10:00:00Z\ni2,a1,neg,2026-03-01T10:00:00Z\n"
              "i1,a2,neg,2026-03-01T10:00:00Z\ni2,a2,neg,2026-03-01T10:00:00Z\n")


def test_calibrate_exits_0_with_failures_and_1_with_require_all(run_cli, tiny_project, tmp_path: Path) -> None:
    p = tiny_project(extra=CALIBRATION, files={"calibration.csv": "item,unit,task,label,why\n"
                                               "i1,,sentiment,pos,\ni2,,sentiment,neg,\n"})
    sub = tmp_path / "round-1.csv"
    sub.write_text(SUBMISSION, "utf-8")
    roster = (p.root / "annotators.csv").read_bytes()
    r = run_cli("calibrate", "--dry-run", str(p.root), str(sub))
    assert r.code == 0 and "1 passed, 1 failed" in r.out
    assert run_cli("calibrate", "--dry-run", "--require-all", str(p.root), str(sub)).code == 1
    assert (p.root / "annotators.csv").read_bytes() == roster  # --dry-run writes nothing
    d = json.loads(run_cli("calibrate", "--dry-run", "--json", "-", str(p.root), str(sub)).out)
    assert isinstance(d, dict)


def test_calibrate_without_a_calibration_set_or_with_a_broken_file_exits_2(run_cli, tiny_project,
                                                                            tmp_path: Path) -> None:
    p = tiny_project()
    sub = tmp_path / "round-1.csv"
    sub.write_text(SUBMISSION, "utf-8")
    r = run_cli("calibrate", str(p.root), str(sub))
    assert r.code == 2 and "quality.calibration" in r.err and "Traceback" not in r.err
    sub.write_text("item_id,annotator_id,label\ni1,a1\n", "utf-8")
    p2 = tiny_project(extra=CALIBRATION, files={"calibration.csv": "item,unit,task,label,why\ni1,,sentiment,pos,\n"})
    r = run_cli("calibrate", str(p2.root), str(sub))
    assert r.code == 2 and f"{sub.as_posix()}:2: LS402" in r.err


def test_adjudicate_exits_0_and_writes_the_queue(run_cli, tiny_project, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    tiny_project(DISAGREEING)
    monkeypatch.chdir(tmp_path)  # the queue names the spec by a relative path
    out = tmp_path / "review"
    r = run_cli("adjudicate", "--out", "review", "tiny", "labels.csv")
    assert r.code == 0 and r.out.startswith("6 of 6 units need expert review")
    assert (out / "review-queue.csv").is_file()


def test_adjudicate_takes_a_spec_outside_the_working_directory(run_cli, tiny_project, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """An absolute spec path elsewhere (the queue's Label Studio config used to refuse it: LS601)."""
    p = tiny_project(DISAGREEING)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    r = run_cli("adjudicate", "--out", str(tmp_path / "review"), str(p.root.resolve()), str(p.labels.resolve()))
    assert r.code == 0 and r.out.startswith("6 of 6 units need expert review"), r.err
    assert (tmp_path / "review" / "review-queue.labelstudio.json").is_file()


def test_adjudicate_bad_input_exits_2_and_writes_nothing(run_cli, tiny_project, tmp_path: Path) -> None:
    p = tiny_project(labels_text="item_id,annotator_id,label\ni1,a1\n")
    r = run_cli("adjudicate", "--out", str(tmp_path / "review"), str(p.root), str(p.labels))
    assert r.code == 2 and "LS402" in r.err
    assert not (tmp_path / "review").exists()


def test_release_exits_0_when_gates_pass_and_1_when_one_blocks(run_cli, tiny_project, tmp_path: Path) -> None:
    good = tiny_project()
    assert run_cli("release", "--out", str(tmp_path / "ok"), str(good.root), str(good.labels)).code == 0
    assert (tmp_path / "ok" / "release-manifest.json").is_file()
    bad = tiny_project(DISAGREEING, name="bad.csv")
    r = run_cli("release", "--out", str(tmp_path / "no"), str(bad.root), str(bad.labels))
    assert r.code == 1 and "release refused: blocking gate agreement.sentiment failed" in r.err
    assert not (tmp_path / "no").exists()
    r = run_cli("release", "--out", str(tmp_path / "acc"), "--accept-failing", "agreement.sentiment", "--reason",
                "pilot batch", str(bad.root), str(bad.labels))
    assert r.code == 0 and (tmp_path / "acc" / "release-manifest.json").is_file()


def test_release_accept_without_reason_is_a_usage_error(run_cli, tiny_project, tmp_path: Path) -> None:
    p = tiny_project(DISAGREEING)
    r = run_cli("release", "--out", str(tmp_path / "x"), "--accept-failing", "agreement.sentiment", str(p.root),
                str(p.labels))
    assert r.code == 2 and "Traceback" not in r.err
    assert not (tmp_path / "x").exists()


def test_report_paths_keep_their_links_and_devices(run_cli, tiny_project, tmp_path: Path) -> None:
    """A report path that is a symlink replaces the link's target (the link stays); one that is a device is
    written to, never replaced by a regular file (as root, `--json /dev/null` would have replaced /dev/null)."""
    p = tiny_project()
    target = tmp_path / "reports" / "report.json"
    target.parent.mkdir()
    target.write_text("old", "utf-8")
    link, null = tmp_path / "latest.json", tmp_path / "null.xml"
    link.symlink_to(target)
    null.symlink_to(os.devnull)
    r = run_cli("check", "-q", str(p.root), str(p.labels), "--json", str(link), "--junit", str(null))
    assert r.code == 0, r.err
    assert link.is_symlink() and json.loads(target.read_text("utf-8"))["spec"]["project"] == "tiny"
    assert null.is_symlink() and not Path(os.devnull).is_file()


def test_two_reports_on_one_path_are_a_usage_error(run_cli, tiny_project, tmp_path: Path) -> None:
    p = tiny_project()
    out = tmp_path / "r.json"
    r = run_cli("check", str(p.root), str(p.labels), "--json", str(out), "--markdown", str(out))
    assert r.code == 2 and "--json and --markdown name the same file" in r.err and not out.exists()


def test_a_label_file_given_twice_is_a_usage_error(run_cli, tiny_project) -> None:
    """Read twice, each of its judgments would be reported as a duplicate of itself."""
    p = tiny_project()
    r = run_cli("check", str(p.root), str(p.labels), str(p.labels.parent / "." / p.labels.name))
    assert r.code == 2 and "LS501" in r.err and "is given twice" in r.err


def test_a_hard_link_to_a_label_file_is_the_file_given_twice(run_cli, tiny_project, tmp_path: Path) -> None:
    p = tiny_project()
    link = tmp_path / "again.csv"
    os.link(p.labels, link)
    r = run_cli("check", str(p.root), str(p.labels), str(link))
    assert r.code == 2 and "is given twice" in r.err


def test_input_errors_are_annotated_on_github(run_cli, tiny_project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 2 problems also become ``::error`` workflow commands at their file and line (gates already did)."""
    p = tiny_project(labels_text="item_id,annotator_id,label\ni1,a1\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    r = run_cli("check", str(p.root), str(p.labels))
    commands = [line for line in r.err.splitlines() if line.startswith("::")]
    assert r.code == 2 and len(commands) == 1
    path = p.labels.as_posix().replace(":", "%3A").replace(",", "%2C")
    assert commands[0].startswith(f"::error file={path},line=2,") and "title=labelspec LS402::LS402 " in commands[0]
    monkeypatch.delenv("GITHUB_ACTIONS")
    assert "::error" not in run_cli("check", str(p.root), str(p.labels)).err


def test_a_folder_with_only_subfolders_says_so(run_cli, tiny_project, tmp_path: Path) -> None:
    """Folders are read one level deep; one holding only subfolders names them instead of "no label files"."""
    p = tiny_project()
    (tmp_path / "batches" / "week-1").mkdir(parents=True)
    r = run_cli("check", str(p.root), str(tmp_path / "batches"))
    assert r.code == 2 and "holds no label files; its subfolders are not read (week-1)" in r.err


@pytest.mark.parametrize("value", ["abc", "", "1.5", "-5", "99999999999999", "١٢"])
def test_a_bad_source_date_epoch_is_a_usage_error_in_every_command(value: str, tiny_project) -> None:
    """In a fresh process: numpy parses SOURCE_DATE_EPOCH as scipy is imported and raised a bare ValueError
    (exit 3) before labelspec looked at it."""
    p = tiny_project()
    env = {**os.environ, "SOURCE_DATE_EPOCH": value}
    r = subprocess.run([sys.executable, "-m", "labelspec", "check", "-q", str(p.root), str(p.labels)],
                       capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 2 and "LS501 SOURCE_DATE_EPOCH=" in r.stderr and "internal error" not in r.stderr


@pytest.mark.parametrize("argv", [["--version"], ["schema"], ["check", "--help"]])
def test_commands_that_import_no_numpy_ignore_a_bad_source_date_epoch(argv: list[str]) -> None:
    """``labelspec --version`` failed with LS501 on a date only a release reads (audit)."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": "abc"}
    r = subprocess.run([sys.executable, "-m", "labelspec", *argv], capture_output=True, text=True, env=env,
                       check=False)
    assert r.returncode == 0 and r.stdout and not r.stderr


def test_calibrate_with_an_unwritable_report_writes_nothing(run_cli, tmp_path: Path) -> None:
    """The report path is checked before the roster is rewritten (QA: exit 2 after the roster had changed)."""
    import shutil

    spec = tmp_path / "si"
    shutil.copytree(Path(__file__).resolve().parent.parent / "specs" / "support-intent", spec)
    roster = spec / "annotators.csv"
    roster.write_text(roster.read_text("utf-8").replace("0.9167", "0.1111"), "utf-8")
    before = roster.read_bytes()
    (tmp_path / "afile").write_text("x", "utf-8")
    r = run_cli("calibrate", str(spec), str(spec / "calibration"), "--json", str(tmp_path / "afile" / "r.json"))
    assert r.code == 2 and "is a file, not a folder" in r.err
    assert roster.read_bytes() == before


def test_calibration_items_are_not_queued_for_review(run_cli, tiny_project, tmp_path: Path) -> None:
    """Calibration items are test material, never released: a disputed one is not an expert's work (QA pass)."""
    from conftest import DISAGREEING

    files = {"calibration.csv": "item,unit,task,label,why\ni1,,sentiment,pos,\n"}
    p = tiny_project(DISAGREEING, extra=CALIBRATION, files=files)
    r = run_cli("adjudicate", "--out", str(tmp_path / "q"), str(p.root), str(p.labels))
    assert r.code == 0, r.err
    queued = (tmp_path / "q" / "review-queue.csv").read_text("utf-8").splitlines()[1:]
    assert queued and not any(line.startswith("i1,") for line in queued)
    assert {line.split(",")[0] for line in queued} == {"i2", "i3", "i4", "i5", "i6"}


def test_a_parquet_gold_file_is_named_as_binary(run_cli, tiny_project, tmp_path: Path) -> None:
    """Gold and calibration files are CSV text; a Parquet one gets a hint that says so, not just 'not UTF-8'."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tiny_project()
    gold = tmp_path / "gold.parquet"
    pq.write_table(pa.table({"item": ["i1"], "unit": [""], "task": ["sentiment"], "label": ["pos"]}), gold)
    r = run_cli("check", str(p.root), str(p.labels), "--gold", str(gold))
    assert r.code == 2 and "LS312 not valid UTF-8" in r.err and "binary file (Parquet or a spreadsheet?)" in r.err


def test_validate_annotates_spec_problems_on_github(run_cli, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """validate prints its problems itself (it goes on to the next spec), so it annotates them itself too."""
    spec = tmp_path / "s" / "labelspec.yaml"
    spec.parent.mkdir()
    spec.write_text("labelspec: 1\nproject: {id: demo, title: Demo, version: 1.0.0}\ntasks: {}\n", "utf-8")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    r = run_cli("validate", str(spec.parent))
    assert r.code == 2 and any(line.startswith("::error file=") and ",line=3," in line for line in r.err.splitlines())


def test_click_usage_errors_are_annotated_on_github_too(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    r = run_cli("check", "--no-such-option")
    assert r.code == 2 and any(line.startswith("::error title=labelspec LS501::") for line in r.err.splitlines())


def test_release_is_quiet_with_q(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)  # CI=true silences progress anyway
    args = ["specs/support-intent", "specs/support-intent/labels", "--out", str(tmp_path / "rel")]
    assert "] reading 3 label file(s)" in run_cli("release", *args).err
    r = run_cli("release", "-q", *args)
    assert r.code == 0 and "released 553 rows" in r.out and "reading" not in r.err


def test_adjudicate_tells_its_progress_unless_quiet(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)  # CI=true silences progress anyway
    args = ["specs/support-intent", "specs/support-intent/labels"]
    r = run_cli("adjudicate", *args, "--out", str(tmp_path / "q1"))
    stages = [line.split("] ", 1)[1] for line in r.err.splitlines() if line.startswith("[")]
    assert stages == ["reading 3 label file(s)", "consensus", "writing the review queue: 97 units"], r.err
    quiet = run_cli("adjudicate", "-q", *args, "--out", str(tmp_path / "q2"))
    assert quiet.code == 0 and quiet.err == "" and quiet.out == r.out.replace("q1", "q2")


def test_json_to_stdout_carries_the_diagnostics_of_a_bad_input(run_cli, tiny_project, tmp_path: Path) -> None:
    """``--json -`` feeds a machine: on exit 2 it printed nothing (an empty document); now the diagnostics as
    records, as ``validate --format json`` prints them (audit, G2)."""
    p = tiny_project()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"item_id,annotator_id,label\ni1,a1,po\x00s\n")
    r = run_cli("check", str(p.root), str(bad), "--json", "-")
    assert r.code == 2 and "LS402" in r.err  # the text still goes to stderr
    d = json.loads(r.out)
    assert d["exit_code"] == 2 and [x["code"] for x in d["diagnostics"]] == ["LS402"]
    assert d["diagnostics"][0]["location"] == {"path": str(bad), "line": 2, "column": 9}
    assert d["diagnostics"][0]["hint"].startswith("a text export holds no NUL")
    usage = run_cli("check", str(p.root), str(tmp_path / "missing.csv"), "--json", "-")  # refused by the parser
    assert usage.code == 2 and json.loads(usage.out)["diagnostics"][0]["code"] == "LS501"


def test_compile_diff_needs_check(run_cli, tmp_path: Path) -> None:
    """--diff without --check printed a diff and wrote the files anyway (docs: "with --check"; audit)."""
    r = run_cli("compile", "specs/support-intent", "--out", str(tmp_path / "gen"), "--diff")
    assert r.code == 2 and "--diff needs --check" in r.err and not (tmp_path / "gen").exists()


def test_release_says_what_it_held_back_and_what_to_do_when_refused(run_cli, tmp_path: Path) -> None:
    """The counts were only in the manifest, and a refusal named no way forward (demo audit)."""
    ok = run_cli("release", "-q", "specs/support-intent", "specs/support-intent/labels", "--out", str(tmp_path / "a"))
    assert ok.out.splitlines()[-1] == "released 553 rows; held back: gold_item 72, needs_review 92, no_consensus 3"
    refused = run_cli("release", "-q", "specs/agent-trajectories", "specs/agent-trajectories/labels",
                      "--out", str(tmp_path / "b"))
    assert refused.code == 1 and "release anyway with --accept-failing GATE_ID --reason TEXT" in refused.err
