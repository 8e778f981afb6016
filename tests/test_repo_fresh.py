"""The committed generated/ is exactly what compiling specs/ produces (CI fails on drift, like sqlfluff's _hash)."""

from __future__ import annotations

from pathlib import Path

from labelspec.api import compile_paths

ROOT = Path(__file__).resolve().parent.parent


def test_generated_matches_specs() -> None:
    result = compile_paths([ROOT / "specs"], out=ROOT / "generated", check=True, diff=True)
    assert not result.drift, result.summary() + result.diff
    assert len(result.unchanged) == 4 * 7  # four example projects, seven artefacts each (manifest included)
