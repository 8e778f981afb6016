"""Gold accuracy's Wilson intervals are at the report's confidence level (``quality.bootstrap.level``), which every
format prints beside them ("80% CI"); they were computed at 95 % whatever the label said."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from statsmodels.stats.proportion import proportion_confint

from labelspec import api

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("level", [0.8, 0.95])
def test_gold_intervals_follow_the_declared_level(tmp_path: Path, level: float) -> None:
    project = tmp_path / "support-intent"
    shutil.copytree(ROOT / "specs" / "support-intent", project)
    spec = project / "labelspec.yaml"
    text = spec.read_text("utf-8")
    assert "    seed: 20260302\n" in text
    spec.write_text(text.replace("    seed: 20260302\n", f"    seed: 20260302\n    level: {level}\n"), "utf-8")
    report = api.check_labels(project, [project / "labels"]).to_dict()
    assert report["ci_level"] == level
    assert len(report["gold"]) >= 5
    for scored in report["gold"].values():
        low, high = proportion_confint(scored["correct"], scored["n"], alpha=1 - level, method="wilson")
        assert (scored["ci_low"], scored["ci_high"]) == pytest.approx((low, high), abs=1e-12)
