"""``labelspec release`` says a blocking gate that could not be measured "is undefined" (with its reason), and
"failed" only for one that was measured and missed its threshold (audit fix 53)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from conftest import DISAGREEING, Run, Tiny

from labelspec import api

GOLD = "item,unit,task,label,why\ni1,,sentiment,pos,\ni2,,sentiment,neg,\n"
EXTRA = "  gold: {file: gold.csv, min_accuracy: 0.9, min_judgments: 20}\n"  # 2 gold judgments each: undefined


def test_an_undefined_gate_is_not_said_to_have_failed(tiny_project: Callable[..., Tiny], tmp_path: Path,
                                                       run_cli: Callable[..., Run]) -> None:
    p = tiny_project(rows=DISAGREEING, extra=EXTRA, files={"gold.csv": GOLD})
    r = run_cli("release", str(p.root), str(p.labels), "--out", str(tmp_path / "release"), "--quiet")
    refusals = [line for line in r.err.splitlines() if line.startswith("release refused")]
    assert r.code == 1 and refusals == [
        "release refused: blocking gate gold.accuracy is undefined: no annotator has ≥ 20 gold judgments "
        "(nothing written)",
        "release refused: blocking gate agreement.sentiment failed (nothing written)"]
    assert not (tmp_path / "release").exists()


def test_the_api_result_says_why_each_gate_refused(tiny_project: Callable[..., Tiny], tmp_path: Path) -> None:
    p = tiny_project(rows=DISAGREEING, extra=EXTRA, files={"gold.csv": GOLD})
    result = api.release(p.root, [p.labels], out=tmp_path / "release")
    assert result.refused == ("gold.accuracy", "agreement.sentiment")
    assert result.refusals() == ("gold.accuracy is undefined: no annotator has ≥ 20 gold judgments",
                                 "agreement.sentiment failed")
