"""The codebase stays lint-clean and type-checks under mypy --strict (STYLE: 100% annotations, strict tooling)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          check=False)


def test_ruff_is_clean() -> None:
    run = _run("ruff", "check", "labelspec", "tests", "benchmarks", "scripts")
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_strict_is_clean(tmp_path: Path) -> None:
    run = _run("mypy", "labelspec", "--cache-dir", str(tmp_path / "mypy"))
    assert run.returncode == 0, run.stdout + run.stderr
