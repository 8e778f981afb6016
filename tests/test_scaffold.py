"""`labelspec init` scaffolds: every task kind gives a commented project that loads cleanly, with no warnings."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from labelspec.errors import UsageError
from labelspec.spec.load import load_spec_with_warnings
from labelspec.spec.model import Spec
from labelspec.spec.plan import METRICS_BY_KIND
from labelspec.spec.scaffold import KINDS, scaffold
from labelspec.spec.validate import spec_schema


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_every_kind_of_the_schema_has_a_scaffold() -> None:
    task_kinds = spec_schema()["$defs"]["task"]["properties"]["kind"]["enum"]
    assert sorted(KINDS) == sorted(task_kinds)


@pytest.mark.parametrize("kind", KINDS)
def test_scaffold_loads_cleanly(kind: str, tmp_path: Path) -> None:
    files = scaffold(kind, "my-project")
    result = load_spec_with_warnings(write(tmp_path / "p", files))
    assert result.warnings == ()
    spec: Spec = result.spec
    (task,) = spec.tasks
    assert (spec.project.id, spec.project.title, task.kind) == ("my-project", "My project", kind)
    # no invented schema URL: the header says how to get the schema (`labelspec schema`) and point an editor at it
    assert files["labelspec.yaml"].startswith("# Editor completion: `labelspec schema > labelspec.schema.json`")
    assert "https://" not in files["labelspec.yaml"].split("labelspec: 1")[0]
    assert sum(line.lstrip().startswith("#") or " # " in line for line in files["labelspec.yaml"].splitlines()) >= 4
    roster = list(csv.DictReader(io.StringIO(files["annotators.csv"])))
    assert {r["role"] for r in roster} == {"annotator", "expert"}
    if kind == "text":
        assert "gold.csv" not in files and spec.quality.gold is None
    else:
        assert spec.quality.gold is not None and spec.quality.gold.file == "gold.csv"
        assert task.agreement.metric in METRICS_BY_KIND[kind] and task.agreement.min == 0.67
        # defaults a new project can pass (an audit found the starters' own gates blocking every release):
        # 2 of 3 votes meet min_support, review: always labels reach an expert, gold.csv can score an annotator
        assert spec.adjudication.min_support <= 2 / 3
        assert "always_review_labels" in spec.adjudication.expert_review
        assert spec.quality.gold.min_judgments <= len(files["gold.csv"].strip().splitlines()) - 1


def test_project_ids_that_yaml_would_retype_stay_text(tmp_path: Path) -> None:
    for i, pid in enumerate(("true", "2024", "null", "0x1f")):
        spec = load_spec_with_warnings(write(tmp_path / f"p{i}", scaffold("rating", pid))).spec
        assert spec.project.id == pid and isinstance(spec.project.title, str)


def test_bad_kind_or_project_id_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as info:
        scaffold("single-choice", "x")
    assert info.value.diagnostics[0].hint is not None and "single_choice" in info.value.diagnostics[0].hint
    with pytest.raises(UsageError):
        scaffold("rating", "My Project")
