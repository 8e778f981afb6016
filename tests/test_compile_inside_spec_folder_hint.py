"""``labelspec compile .`` run inside ``specs/<project>`` is refused (the default ``generated`` would sit in the
spec folder); the hint says what to do instead, with an ``--out`` computed from the paths (audit fix 53)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Run, tree

CLI = Callable[..., Run]


@pytest.fixture
def project(run_cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository layout: ``specs/demo`` under tmp_path, the working directory."""
    monkeypatch.chdir(tmp_path)
    assert run_cli("init", "--id", "demo", "specs/demo").code == 0
    return tmp_path / "specs" / "demo"


def test_compile_inside_the_spec_folder_says_where_to_run_from(run_cli: CLI, project: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    before = tree(project.parent.parent)
    r = run_cli("compile", ".")
    assert r.code == 2 and "output folder generated/demo is inside the spec folder ." in r.err
    assert ("hint: run compile from ../.. (where generated/ sits beside specs/), or choose an --out outside every "
            "spec folder, e.g. --out ../../generated") in r.err
    assert "(the default is generated)" not in r.err
    assert tree(project.parent.parent) == before
    # the hint works: its --out writes where a compile from the repository root does
    assert run_cli("compile", ".", "--out", "../../generated").code == 0
    assert (project.parent.parent / "generated" / "demo" / "gates.json").is_file()


def test_an_explicit_out_gets_an_example_only(run_cli: CLI, project: Path) -> None:
    r = run_cli("compile", "specs/demo", "--out", "specs/demo")
    assert r.code == 2 and "hint: choose an --out outside every spec folder, e.g. --out generated" in r.err
    assert "run compile from" not in r.err  # the working directory is already the right one


def test_a_spec_outside_a_specs_folder_is_pointed_beside_itself(run_cli: CLI, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run_cli("init", "base").code == 0
    monkeypatch.chdir(tmp_path / "base")
    r = run_cli("compile", ".")
    assert r.code == 2 and ("hint: run compile from .. (where generated/ sits beside base/), or choose an --out "
                            "outside every spec folder, e.g. --out ../generated") in r.err
