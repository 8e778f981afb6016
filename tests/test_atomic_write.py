"""write_artifacts: all-or-nothing writes, ownership of project folders, --check and --diff (G8).

Failures are injected half-way (while staging, and between two folder swaps); the output folder must then be byte
for byte what it was, with no temporary folder left behind.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from conftest import tree
from emit_snapshot import intent_task, sample_spec, two_projects

import labelspec.emit.artifact as artifact
from labelspec.emit import Artifact, compile_spec, write_artifacts
from labelspec.errors import OutputError


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An output folder with a first compile, a foreign project and a file compile does not own."""
    out = tmp_path / "generated"
    write_artifacts(out, two_projects(), check=False, diff=False)
    (out / "gamma").mkdir()
    (out / "gamma" / "keep.txt").write_text("not ours\n")
    (out / "README.md").write_text("hand-written\n")
    return out


def list_in_manifest(project: Path, name: str) -> None:
    """Record ``name`` as written by compile, as an older compile that still produced it would have."""
    doc = json.loads((project / "manifest.json").read_text())
    doc["files"].append({"path": name, "sha256": "0" * 64, "bytes": 4})
    (project / "manifest.json").write_text(json.dumps(doc))


def test_first_write_and_rewrite(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    projects = two_projects()
    first = write_artifacts(out, projects, check=False, diff=False)
    expected = sorted(a.path for arts in projects.values() for a in arts)
    assert list(first.written) == expected and first.missing == first.written and not first.removed
    for arts in projects.values():
        for a in arts:
            assert (out / a.path).read_bytes() == a.content
    stamps = {p: (out / p).stat().st_mtime_ns for p in expected}
    second = write_artifacts(out, projects, check=False, diff=False)
    assert (second.written, second.removed, list(second.unchanged)) == ((), (), expected)
    assert not second.drift and {p: (out / p).stat().st_mtime_ns for p in expected} == stamps
    assert "0 written, 0 removed, 14 unchanged" in second.summary()


def test_check_reports_stale_missing_extra_and_writes_nothing(out: Path) -> None:
    (out / "alpha" / "gates.json").write_text("{}\n")
    (out / "alpha" / "guidelines.md").unlink()
    (out / "alpha" / "notes.txt").write_text("old\n")
    list_in_manifest(out / "alpha", "notes.txt")  # a generated file compile no longer produces
    (out / "beta" / "old-dir").mkdir()  # no compile wrote it: left alone, not drift
    before = tree(out)
    result = write_artifacts(out, two_projects(), check=True, diff=True)
    assert tree(out) == before
    assert result.stale == ("alpha/gates.json", "alpha/manifest.json")
    assert result.missing == ("alpha/guidelines.md",)
    assert result.extra == ("alpha/notes.txt",) and result.kept == ("beta/old-dir/",)
    assert result.drift and result.checked
    assert "--- a/alpha/gates.json\n+++ b/alpha/gates.json\n" in result.diff
    assert "--- /dev/null\n+++ b/alpha/guidelines.md\n" in result.diff
    assert "--- a/alpha/notes.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-old\n" in result.diff
    assert "old-dir" not in result.diff
    summary = result.summary()
    assert "stale   alpha/gates.json\n" in summary
    assert "left alone: beta/old-dir/ (not written by labelspec)\n" in summary
    assert summary.endswith("4 file(s) out of date; run labelspec compile\n")
    clean = write_artifacts(out, two_projects(), check=True, diff=False)
    assert clean.drift  # checking again changes nothing


def test_write_replaces_stale_removes_extra_and_leaves_others_alone(out: Path) -> None:
    (out / "alpha" / "gates.json").write_text("{}\n")
    (out / "alpha" / "notes.txt").write_text("old\n")
    list_in_manifest(out / "alpha", "notes.txt")
    (out / "alpha" / "sub").mkdir()
    (out / "alpha" / "sub" / "x").write_text("x")
    beta_before = {k: v for k, v in tree(out).items() if k.startswith("beta")}
    result = write_artifacts(out, two_projects(), check=False, diff=False)
    assert result.written == ("alpha/gates.json", "alpha/manifest.json")
    assert result.removed == ("alpha/notes.txt",) and result.kept == ("alpha/sub/",)
    assert not (out / "alpha" / "notes.txt").exists() and (out / "alpha" / "sub" / "x").read_text() == "x"
    assert (out / "gamma" / "keep.txt").read_text() == "not ours\n"
    assert (out / "README.md").read_text() == "hand-written\n"
    assert {k: v for k, v in tree(out).items() if k.startswith("beta")} == beta_before
    assert not write_artifacts(out, two_projects(), check=True, diff=False).drift
    assert not [p for p in out.iterdir() if p.name.startswith(".labelspec-")]


def test_failure_while_staging_leaves_everything_as_it_was(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree(out)
    real_stage = artifact._stage
    calls = []

    def stage(staging: Path, artifacts: tuple[Artifact, ...]) -> None:
        calls.append(staging.name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real_stage(staging, artifacts)

    monkeypatch.setattr(artifact, "_stage", stage)
    with pytest.raises(OutputError) as err:
        write_artifacts(out, two_projects("2.0.0"), check=False, diff=False)
    assert err.value.diagnostics[0].code == "LS601" and "No space left" in err.value.diagnostics[0].message
    assert calls == ["alpha", "beta"]
    assert tree(out) == before


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4])
@pytest.mark.parametrize("exc", [OSError(5, "Input/output error"), KeyboardInterrupt()])
def test_failure_between_swaps_is_rolled_back(out: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int,
                                              exc: BaseException) -> None:
    before = tree(out)
    real_rename = os.rename
    count = 0

    def rename(src: str | Path, dst: str | Path) -> None:
        nonlocal count
        count += 1
        if count == fail_at:
            raise exc
        real_rename(src, dst)

    monkeypatch.setattr(artifact.os, "rename", rename)
    with pytest.raises(OutputError if isinstance(exc, OSError) else KeyboardInterrupt):
        write_artifacts(out, two_projects("2.0.0"), check=False, diff=False)
    monkeypatch.setattr(artifact.os, "rename", real_rename)
    assert tree(out) == before


def test_half_written_file_never_reaches_the_folder(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = tree(out)
    real_fsync = os.fsync
    count = 0

    def fsync(fd: int) -> None:
        nonlocal count
        count += 1
        if count == 5:
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(artifact.os, "fsync", fsync)
    with pytest.raises(OutputError):
        write_artifacts(out, two_projects("2.0.0"), check=False, diff=False)
    assert tree(out) == before


def test_symlinked_or_file_project_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "generated"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep\n")
    out.mkdir()
    (out / "alpha").symlink_to(outside, target_is_directory=True)
    with pytest.raises(OutputError):
        write_artifacts(out, two_projects(), check=False, diff=False)
    assert tree(outside) == {"precious.txt": b"keep\n"}
    (out / "alpha").unlink()
    (out / "alpha").write_text("a file\n")
    with pytest.raises(OutputError):
        write_artifacts(out, two_projects(), check=True, diff=False)


@pytest.mark.parametrize("path", ["alpha/../x", "alpha/sub/x.md", "alpha/.hidden", "beta/x.md", "alpha/", "x"])
def test_artifact_paths_must_be_plain_files_of_their_project(tmp_path: Path, path: str) -> None:
    with pytest.raises(OutputError):
        write_artifacts(tmp_path, {"alpha": (Artifact(path=path, content=b"x\n"),)}, check=False, diff=False)
    assert list(tmp_path.iterdir()) == []


def test_unencodable_text_fails_before_anything_is_written(tmp_path: Path) -> None:
    task = dataclasses.replace(intent_task(), question="lone \udc80 surrogate")
    with pytest.raises(OutputError):
        projects = {"sample-project": compile_spec(sample_spec(tasks=(task,)))}
        write_artifacts(tmp_path / "generated", projects, check=False, diff=False)
    assert not (tmp_path / "generated").exists()


def test_failed_rollback_keeps_the_previous_files(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old_gates = (out / "alpha" / "gates.json").read_bytes()
    real_rename = os.rename
    count = 0

    def rename(src: str | Path, dst: str | Path) -> None:
        nonlocal count
        count += 1
        if count >= 2:  # the swap fails, and so does every attempt to undo it
            raise OSError(5, "Input/output error")
        real_rename(src, dst)

    monkeypatch.setattr(artifact.os, "rename", rename)
    with pytest.raises(OutputError) as err:
        write_artifacts(out, two_projects("2.0.0"), check=False, diff=False)
    monkeypatch.setattr(artifact.os, "rename", real_rename)
    kept = [p for p in out.iterdir() if p.name.startswith(".labelspec-")]
    assert len(kept) == 1 and str(kept[0]) in err.value.diagnostics[0].message
    assert (kept[0] / "old-alpha" / "gates.json").read_bytes() == old_gates
