"""compile never destroys what it did not write (G8): spec folders are off limits, foreign files survive, ids collide.

Regression tests for two QA findings: ``compile base --out .`` deleted the spec and its data files (the project
folder was the spec folder), and two specs with the same ``project.id`` silently overwrote each other's output.
Every refusal must exit 2 and leave the disk byte for byte as it was.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Run, tree
from emit_snapshot import two_projects

import labelspec.emit.artifact as artifact
from labelspec.api import compile_paths
from labelspec.emit import write_artifacts
from labelspec.errors import OutputError, SpecError

CLI = Callable[..., Run]
STARTER = ["annotators.csv", "gold.csv", "items.jsonl", "labelspec.yaml"]


@pytest.fixture
def base(run_cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``labelspec init base`` in tmp_path (the working directory): a valid starter spec whose id is ``base``."""
    monkeypatch.chdir(tmp_path)
    assert run_cli("init", "base").code == 0
    assert sorted(p.name for p in (tmp_path / "base").iterdir()) == STARTER
    return tmp_path / "base"


# --- 1a. an output folder that is, holds or sits in a spec folder is refused -----------------------------------

@pytest.mark.parametrize(("out", "relation"), [(".", "is the spec folder base"),
                                               ("base", "is inside the spec folder base")])
@pytest.mark.parametrize("check", [False, True])
def test_out_on_the_spec_folder_is_refused(run_cli: CLI, base: Path, out: str, relation: str, check: bool) -> None:
    before = tree(base.parent)
    r = run_cli("compile", "base", "--out", out, *(["--check"] if check else []))
    assert r.code == 2 and "LS601" in r.err and f"output folder {Path(out, 'base')} {relation}" in r.err
    assert tree(base.parent) == before  # the QA repro removed labelspec.yaml, gold.csv, items.jsonl, annotators.csv


def test_project_folder_containing_the_spec_folder_is_refused(run_cli: CLI, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli("init", "--id", "base", "o/base/inner").code == 0
    before = tree(tmp_path)
    r = run_cli("compile", "o/base/inner", "--out", "o")
    assert r.code == 2 and "output folder o/base contains the spec folder o/base/inner" in r.err
    assert tree(tmp_path) == before


@pytest.mark.parametrize(("out", "relation"), [("other", "is"), ("up", "contains")])
def test_any_folder_holding_a_spec_is_refused(run_cli: CLI, base: Path, tmp_path: Path, out: str,
                                              relation: str) -> None:
    """Not only the specs being compiled: another project's spec folder is just as precious."""
    assert run_cli("init", "--id", "other", "other/base").code == 0
    assert run_cli("init", "--id", "deep", "up/base/nested/spec").code == 0
    before = tree(tmp_path)
    r = run_cli("compile", "base", "--out", out)
    assert r.code == 2 and f"output folder {Path(out, 'base')} {relation} " in r.err
    assert "a folder holding labelspec.yaml" in r.err
    assert tree(tmp_path) == before


def test_symlinked_out_into_the_spec_folder_is_refused(run_cli: CLI, base: Path, tmp_path: Path) -> None:
    (tmp_path / "alias").symlink_to(tmp_path, target_is_directory=True)
    before = tree(base)
    r = run_cli("compile", "base", "--out", "alias")
    assert r.code == 2 and "output folder alias/base is the spec folder base" in r.err
    assert tree(base) == before


# --- 1b. only files a previous compile wrote (its manifest) are removed ---------------------------------------

def test_foreign_entries_are_left_alone_and_reported(run_cli: CLI, base: Path, tmp_path: Path) -> None:
    project = tmp_path / "gen" / "base"
    (project / "sub").mkdir(parents=True)
    (project / "notes.txt").write_text("mine\n")
    (project / "sub" / "data.csv").write_text("a,b\n")
    (project / "link").symlink_to("notes.txt")
    inode = (project / "notes.txt").stat().st_ino
    r = run_cli("compile", "base", "--out", "gen")
    assert r.code == 0, r.err
    assert "left alone: base/notes.txt (not written by labelspec)\n" in r.out
    assert "left alone: base/sub/ (not written by labelspec)\n" in r.out and "removed base/" not in r.out
    assert r.out.endswith("7 written, 0 removed, 0 unchanged, 3 left alone\n")
    assert (project / "notes.txt").read_text() == "mine\n" and (project / "notes.txt").stat().st_ino == inode
    assert (project / "sub" / "data.csv").read_text() == "a,b\n" and os.readlink(project / "link") == "notes.txt"
    r = run_cli("compile", "base", "--out", "gen", "--check")
    assert r.code == 0 and r.out.endswith("all 7 generated files are up to date\n")
    assert "left alone: base/notes.txt" in r.out


def _list_in_manifest(project: Path, name: str) -> None:
    """What an older compile that also produced ``name`` would have recorded."""
    doc = json.loads((project / "manifest.json").read_text())
    doc["files"].append({"path": name, "sha256": "0" * 64, "bytes": 4})
    (project / "manifest.json").write_text(json.dumps(doc))


def test_files_the_manifest_lists_are_extra_and_removed(run_cli: CLI, base: Path, tmp_path: Path) -> None:
    project = tmp_path / "gen" / "base"
    assert run_cli("compile", "base", "--out", "gen").code == 0
    _list_in_manifest(project, "old.txt")
    (project / "old.txt").write_text("old\n")
    (project / "notes.txt").write_text("mine\n")
    r = run_cli("compile", "base", "--out", "gen", "--check", "--diff")
    assert r.code == 1 and "extra   base/old.txt\n" in r.out and "stale   base/manifest.json\n" in r.out
    assert "--- a/base/old.txt\n+++ /dev/null\n" in r.out and "notes.txt\n+++" not in r.out
    r = run_cli("compile", "base", "--out", "gen")
    assert r.code == 0 and "removed base/old.txt\n" in r.out and "left alone: base/notes.txt" in r.out
    assert not (project / "old.txt").exists() and (project / "notes.txt").read_text() == "mine\n"
    assert run_cli("compile", "base", "--out", "gen", "--check").code == 0


@pytest.mark.parametrize("manifest", [b"not json", b'{"files": [{"path": "old.txt"}]}', b"\xff\xfe"])
def test_without_a_labelspec_manifest_nothing_is_removed(run_cli: CLI, base: Path, tmp_path: Path,
                                                         manifest: bytes) -> None:
    project = tmp_path / "gen" / "base"
    project.mkdir(parents=True)
    (project / "manifest.json").write_bytes(manifest)
    (project / "old.txt").write_text("old\n")
    r = run_cli("compile", "base", "--out", "gen")
    assert r.code == 0 and "left alone: base/old.txt" in r.out and "removed base/" not in r.out
    assert (project / "old.txt").read_text() == "old\n"


def test_hand_edited_and_deleted_generated_files_are_still_drift(run_cli: CLI, base: Path, tmp_path: Path) -> None:
    project = tmp_path / "gen" / "base"
    assert run_cli("compile", "base", "--out", "gen").code == 0
    (project / "gates.json").write_text("{}\n")
    (project / "guidelines.md").unlink()
    r = run_cli("compile", "base", "--out", "gen", "--check")
    assert r.code == 1 and "stale   base/gates.json\n" in r.out and "missing base/guidelines.md\n" in r.out
    assert run_cli("compile", "base", "--out", "gen").code == 0
    assert run_cli("compile", "base", "--out", "gen", "--check").code == 0


# --- carrying foreign entries keeps the write all or nothing --------------------------------------------------

@pytest.fixture
def out(tmp_path: Path) -> Path:
    out = tmp_path / "generated"
    write_artifacts(out, two_projects(), check=False, diff=False)
    (out / "alpha" / "notes.txt").write_text("mine\n")
    (out / "alpha" / "sub").mkdir()
    (out / "alpha" / "sub" / "x.txt").write_text("x\n")
    return out


@pytest.mark.parametrize("fail_at", [1, 2, 3, 4])
def test_failed_swap_with_carried_entries_is_rolled_back(out: Path, monkeypatch: pytest.MonkeyPatch,
                                                         fail_at: int) -> None:
    before = tree(out)
    real_rename, count = os.rename, 0

    def rename(src: str | Path, dst: str | Path) -> None:
        nonlocal count
        count += 1
        if count == fail_at:
            raise OSError(5, "Input/output error")
        real_rename(src, dst)

    monkeypatch.setattr(artifact.os, "rename", rename)
    with pytest.raises(OutputError):
        write_artifacts(out, two_projects("2.0.0"), check=False, diff=False)
    monkeypatch.setattr(artifact.os, "rename", real_rename)
    assert tree(out) == before


def test_foreign_files_are_copied_when_they_cannot_be_linked(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_link(*args: object, **kwargs: object) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(artifact.os, "link", no_link)
    result = write_artifacts(out, two_projects("2.0.0"), check=False, diff=False)
    assert result.kept == ("alpha/notes.txt", "alpha/sub/") and result.removed == ()
    assert (out / "alpha" / "notes.txt").read_text() == "mine\n" and (out / "alpha" / "sub" / "x.txt").is_file()

    def no_copy(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    before = tree(out)
    monkeypatch.setattr(artifact.shutil, "copy2", no_copy)
    with pytest.raises(OutputError, match="No space left"):
        write_artifacts(out, two_projects("3.0.0"), check=False, diff=False)
    assert tree(out) == before


def test_a_folder_where_compile_writes_a_file_is_refused(out: Path) -> None:
    shutil.rmtree(out / "beta")
    (out / "beta" / "gates.json").mkdir(parents=True)
    (out / "beta" / "gates.json" / "precious.txt").write_text("keep\n")
    before = tree(out)
    assert write_artifacts(out, two_projects(), check=True, diff=False).stale == ("beta/gates.json",)
    with pytest.raises(OutputError, match="is a folder compile did not write"):
        write_artifacts(out, two_projects(), check=False, diff=False)
    assert tree(out) == before


# --- 2. two specs with one project.id -------------------------------------------------------------------------

def test_two_specs_with_one_id_are_refused_before_writing(run_cli: CLI, base: Path, tmp_path: Path) -> None:
    shutil.copytree(base, tmp_path / "b2")
    for check in ([], ["--check"]):
        r = run_cli("compile", "base", "b2", "--out", "g", *check)
        assert r.code == 2 and "LS302" in r.err
        assert "base/labelspec.yaml" in r.err and "b2/labelspec.yaml" in r.err and "project id 'base'" in r.err
        assert not (tmp_path / "g").exists()
    with pytest.raises(SpecError) as err:
        compile_paths([base, tmp_path / "b2"], out=tmp_path / "g")
    assert [(d.code, d.pointer) for d in err.value.diagnostics] == [("LS302", "project.id")]


def test_one_spec_named_twice_is_not_a_collision(run_cli: CLI, base: Path, tmp_path: Path) -> None:
    r = run_cli("compile", "base", str(base / "labelspec.yaml"), "--out", "g")
    assert r.code == 0 and r.out.endswith("7 written, 0 removed, 0 unchanged\n")


def test_output_below_another_spec_folder_is_allowed_and_leaves_it_alone(run_cli: CLI, base: Path,
                                                                         tmp_path: Path) -> None:
    """Above the output folder a spec folder is harmless: compile removes only files its manifest lists."""
    assert run_cli("init", "--id", "other", "other").code == 0
    before = tree(tmp_path / "other")
    assert run_cli("compile", "base", "--out", "other/generated").code == 0
    after = tree(tmp_path / "other")
    assert {k: v for k, v in after.items() if not k.startswith("generated")} == before
    assert (tmp_path / "other" / "generated" / "base" / "manifest.json").is_file()
