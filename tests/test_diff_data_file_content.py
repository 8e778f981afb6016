"""``labelspec diff`` on a changed data file says what changed (its sha256 before and after, not ``null → null``),
and its verdict reads "an additive change" (audit fix 53)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from conftest import Run

from labelspec import api
from labelspec.spec.diff import diff_specs

EXAMPLE = Path(__file__).resolve().parent.parent / "specs" / "support-intent"


def _project(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("labels", "review", "calibration"))
    return dest


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_changed_items_file_carries_its_digests(tmp_path: Path) -> None:
    old, new = _project(tmp_path, "old"), _project(tmp_path, "new")
    text = (new / "items.jsonl").read_text(encoding="utf-8")
    (new / "items.jsonl").write_text(text.replace("Please refund it.", "Please refund it now.", 1), encoding="utf-8")
    d = api.diff_specs(old, new)
    (change,) = d.changes
    before, after = _sha(old / "items.jsonl"), _sha(new / "items.jsonl")
    assert (change.path, change.old, change.new) == ("items.file:content", f"sha256:{before}", f"sha256:{after}")
    line = next(t for t in d.summary().splitlines() if "items.file:content" in t)
    assert line.endswith(f"content changed (sha256 {before[:12]} → {after[:12]})")
    assert "null" not in line


def test_the_json_output_carries_the_digests(tmp_path: Path, run_cli: Callable[..., Run]) -> None:
    old, new = _project(tmp_path, "old"), _project(tmp_path, "new")
    (new / "gold.csv").write_bytes((new / "gold.csv").read_bytes() + b"\n")
    r = run_cli("diff", str(old), str(new), "--json")
    (change,) = json.loads(r.out)["changes"]
    assert change["path"] == "quality.gold.file:content"
    assert change["old"] == "sha256:" + _sha(old / "gold.csv") and change["new"] == "sha256:" + _sha(new / "gold.csv")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", change["new"])


def test_the_verdict_uses_the_right_article_for_every_impact() -> None:
    spec = api.load_spec(EXAMPLE)
    intent = next(t for t in spec.tasks if t.name == "intent")
    case = replace(intent.edge_cases[0], id="brand-new-case")
    added = replace(spec, tasks=tuple(replace(t, edge_cases=(*t.edge_cases, case)) if t.name == "intent" else t
                                      for t in spec.tasks))
    problem = diff_specs(spec, added).problems[0]
    assert "is an additive change: it needs a minor bump" in problem and "a additive" not in problem
    stricter = replace(spec, quality=replace(spec.quality, max_excluded_share=0.001))
    assert "is a revision change: it needs a patch bump" in diff_specs(spec, stricter).problems[0]
    removed = replace(spec, tasks=tuple(t for t in spec.tasks if t.name != "intent"))
    assert "is a breaking change: it needs a major bump" in diff_specs(spec, removed).problems[0]
