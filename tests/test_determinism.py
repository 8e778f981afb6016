"""Compiles are byte-identical across processes (G9): PYTHONHASHSEED, TZ, locale, working directory, absolute
project path and file mtimes must not reach the output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _compile(cwd: Path, out: Path, **env: str) -> dict[str, bytes]:
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONHASHSEED", "TZ", "LC_ALL", "LANG")}
    environ.update(env)
    environ["PYTHONPATH"] = str(ROOT)  # the checkout's labelspec, wherever the command runs
    run = subprocess.run([sys.executable, "-m", "labelspec", "compile", "specs", "--out", str(out)], cwd=cwd,
                         env=environ, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    return _tree(out)


@pytest.mark.skipif(not any((ROOT / "specs").glob("*/labelspec.yaml")), reason="no example projects yet")
def test_compile_is_byte_identical_across_processes_and_machines(tmp_path: Path) -> None:
    first = _compile(ROOT, tmp_path / "a", PYTHONHASHSEED="1", TZ="UTC", LC_ALL="C.UTF-8")
    elsewhere = tmp_path / "some" / "other checkout"
    shutil.copytree(ROOT / "specs", elsewhere / "specs")
    (elsewhere / ".git").mkdir()  # another clone: artefacts name the spec relative to its repository
    for path in (elsewhere / "specs").rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    second = _compile(elsewhere, tmp_path / "b", PYTHONHASHSEED="2", TZ="Asia/Kathmandu", LC_ALL="C", LANG="C")
    assert sorted(first) == sorted(second) and len(first) >= 7
    assert first == second
    for name, content in first.items():
        text = content.decode("utf-8")
        assert str(tmp_path) not in text and str(ROOT) not in text and "\r" not in text, name
