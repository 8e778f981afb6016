"""Every review-queue task carries every task-data key the compiled Label Studio config reads (``value="$key"``).

Label Studio checks each imported task against the project's config and refuses the whole file when one key is
missing: an audit found the rlhf-preference queue refused (its preference units had no ``ranking_options``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from labelspec import api

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = sorted(p.name for p in (ROOT / "specs").iterdir() if (p / "labelspec.yaml").is_file())


@pytest.mark.parametrize("project", PROJECTS)
def test_each_queued_task_has_every_key_the_config_reads(project: str, tmp_path: Path) -> None:
    folder = ROOT / "specs" / project
    api.adjudicate(folder, [folder / "labels"], out=tmp_path)
    config = (ROOT / "generated" / project / "labelstudio.xml").read_text("utf-8")
    keys = set(re.findall(r'value="\$([A-Za-z0-9_]+)"', config))
    tasks = json.loads((tmp_path / "review-queue.labelstudio.json").read_text("utf-8"))
    assert tasks and keys
    missing = {(t["data"]["labelspec_task"], k) for t in tasks for k in keys if k not in t["data"]}
    assert missing == set()


def test_a_ranking_lists_its_options_only_on_its_own_units(tmp_path: Path) -> None:
    """An expert reviewing a preference pair finds nothing to rank (Label Studio submits a Ranker's untouched
    order with the form, which would read back as an expert ranking of that item)."""
    folder = ROOT / "specs" / "rlhf-preference"
    api.adjudicate(folder, [folder / "labels"], out=tmp_path)
    tasks = json.loads((tmp_path / "review-queue.labelstudio.json").read_text("utf-8"))
    by_task = {(t["data"]["labelspec_task"], len(t["data"]["ranking_options"])) for t in tasks}
    assert by_task == {("ranking", 4), ("preference", 0)}
