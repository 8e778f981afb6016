"""The example projects under specs/ are exactly what scripts/generate_examples.py writes, and they are sane.

Byte-for-byte reproduction (Parquet: identical tables, since its bytes embed the writer's version), determinism
across two runs, every judgment a declared answer about a known item, the simulated annotator profiles visible in
the data (the speeder is fast, one annotator is uncalibrated, one calibrated late), and the designed outcomes the
demo relies on, measured with the independent ``krippendorff`` package: support-intent agrees well above its gate,
agent-trajectories' failure_mode falls below its gate.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
import pyarrow.parquet as pq
import pytest

from labelspec.spec.load import load_spec_with_warnings
from labelspec.spec.model import Spec

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "generate_examples.py"
SPECS = ROOT / "specs"
PROJECTS = ("support-intent", "clinical-ner", "rlhf-preference", "agent-trajectories")
sys.path.insert(0, str(SCRIPT.parent))
import generate_examples  # noqa: E402


def _generate(out: Path) -> None:
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], check=True, cwd=ROOT, timeout=300)


def _data_files(base: Path) -> list[str]:
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file() and p.name != "labelspec.yaml")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("examples")
    _generate(out)
    return out


@pytest.mark.parametrize("project", PROJECTS)
def test_committed_files_are_what_the_generator_writes(generated: Path, project: str) -> None:
    committed, fresh = SPECS / project, generated / project
    assert _data_files(committed) == _data_files(fresh)
    for rel in _data_files(fresh):
        if rel.endswith(".parquet"):
            assert pq.read_table(committed / rel).equals(pq.read_table(fresh / rel)), rel
        else:
            assert (committed / rel).read_bytes() == (fresh / rel).read_bytes(), f"{rel} differs: regenerate"


def test_two_runs_give_identical_bytes(generated: Path, tmp_path: Path) -> None:
    _generate(tmp_path)
    files = _data_files(generated)
    assert len(files) == 4 * 8 + 1  # support-intent has an expert round (review/expert-round-1.csv)
    for rel in files:
        assert (generated / rel).read_bytes() == (tmp_path / rel).read_bytes(), rel
    assert all(b"\r\n" not in (generated / rel).read_bytes() for rel in files if not rel.endswith(".parquet"))


# --- reading the committed examples back ------------------------------------------------------------------


def _spec(project: str) -> Spec:
    result = load_spec_with_warnings(str(SPECS / project))
    assert result.warnings == ()
    return result.spec


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        assert value.utcoffset() == timedelta(0)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return "" if value is None else str(value)


def _labelstudio(path: Path) -> list[dict[str, str]]:
    rows = []
    for task in json.loads(path.read_text("utf-8")):
        for ann in task["annotations"]:
            who = ann["completed_by"]
            who = who["email"] if isinstance(who, dict) else str(who)
            for r in [] if ann["was_cancelled"] else ann["result"]:
                value = r["value"]["choices"][0] if r["type"] == "choices" else str(r["value"]["rating"])
                rows.append({"item": task["data"]["ticket_id"], "unit": "", "task": r["from_name"],
                             "annotator": who, "value": value, "when": ann["created_at"],
                             "lead": str(ann["lead_time"])})
    return rows


def _judgments(project: str, spec: Spec, folder: str = "labels") -> list[dict[str, str]]:
    """Every judgment of a project's label files as canonical text fields."""
    item_col = spec.columns.item
    rows: list[dict[str, str]] = []
    for path in sorted((SPECS / project / folder).iterdir()):
        if path.suffix == ".csv":
            records: list[dict[str, Any]] = list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
        elif path.suffix == ".jsonl":
            records = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        elif path.suffix == ".parquet":
            records = pq.read_table(path).to_pylist()
        else:
            rows += _labelstudio(path)
            continue
        rows += [{"item": r[item_col], "unit": _text(r["step"]), "task": r["task"], "annotator": r["annotator_id"],
                  "value": _text(r["label"]), "when": _text(r["created_at"]), "lead": _text(r["lead_time_s"])}
                 for r in records]
    return rows


def _items(project: str, spec: Spec) -> dict[str, dict[str, Any]]:
    assert spec.items is not None
    lines = (SPECS / project / spec.items.file).read_text("utf-8").splitlines()
    return {r[spec.items.id]: r for r in map(json.loads, lines)}


def _value_ok(kind: str, labels: tuple[str, ...], value: str, item: dict[str, Any], field: str | None) -> bool:
    """Independent of labelspec's validators: the answer is one of the task's declared answers."""
    if kind in ("single_choice", "pairwise", "rating"):
        return value in labels
    data = json.loads(value)
    if kind == "spans":
        text = item[field] if field else ""
        return all(s[2] in labels and 0 <= s[0] < s[1] <= len(text) for s in data) and all(
            a[1] <= b[0] for a, b in zip(data, data[1:], strict=False))
    if kind == "ranking":
        return sorted(data) == sorted(labels)
    steps = len(item["steps"])
    return data["agent"] in labels and ((data["agent"] == "none") == (data["step"] is None)) and (
        data["step"] is None or 1 <= data["step"] <= steps)


@pytest.mark.parametrize("project", PROJECTS)
def test_every_judgment_is_a_declared_answer_about_a_known_unit(project: str) -> None:
    spec = _spec(project)
    items = _items(project, spec)
    rows = _judgments(project, spec) + _judgments(project, spec, "calibration")
    assert 400 <= len(rows) <= 5000
    stale = []
    for r in rows:
        task = spec.task(r["task"])
        assert task is not None and r["item"] in items, r
        item = items[r["item"]]
        if task.unit == "step":
            if not 1 <= int(r["unit"]) <= len(item["steps"]):
                stale.append(int(r["unit"]) - len(item["steps"]))
        else:
            assert r["unit"] == "", r
        assert _value_ok(task.kind, task.label_ids, r["value"], item, task.field), r
        assert r["when"].endswith("Z") and float(r["lead"]) > 0, r
    # by design, one judgment of agent-trajectories names the step after a run's last (``_stale_step``)
    assert stale == ([1] if project == "agent-trajectories" else [])


@pytest.mark.parametrize("project", PROJECTS)
def test_annotator_profiles_show_in_the_data(project: str) -> None:
    spec = _spec(project)
    rows = _judgments(project, spec)
    module = __import__(generate_examples.PROJECTS[project][1])
    profile = {a.id: a.profile for a in module.ANNOTATORS}
    lead = {p: np.array([float(r["lead"]) for r in rows if profile[r["annotator"]] == p]) for p in set(profile.values())}
    assert lead["speeder"].size >= 10 and lead["speeder"].max() < 2.5
    assert np.median(lead["normal"]) > 5.0
    roster = list(csv.DictReader(io.StringIO((SPECS / project / "annotators.csv").read_text("utf-8"))))
    blank = {r["id"] for r in roster if r["role"] == "annotator" and r["calibrated_at"] == ""}
    assert blank == {a for a, p in profile.items() if p == "uncalibrated"}
    assert 0 < sum(profile[r["annotator"]] == "uncalibrated" for r in rows) < len(rows) / 10
    late = next(r for r in roster if profile[r["id"]] == "late")
    assert any(r["when"] < late["calibrated_at"] for r in rows if r["annotator"] == late["id"])
    assert all(r["calibration_passed"] == "true" for r in roster if r["calibrated_at"])


@pytest.mark.parametrize("project", PROJECTS)
def test_generator_pass_mark_matches_the_spec(project: str) -> None:
    calibration = _spec(project).quality.calibration
    assert calibration is not None
    assert generate_examples.PROJECTS[project][2] == calibration.min_accuracy


def _alpha(project: str, task_name: str) -> float:
    """Nominal α over non-gold units, by the independent ``krippendorff`` package."""
    spec = _spec(project)
    gold = {r["item"] for r in csv.DictReader(io.StringIO((SPECS / project / "gold.csv").read_text("utf-8")))}
    rows = [r for r in _judgments(project, spec) if r["task"] == task_name and r["item"] not in gold]
    units = sorted({r["item"] for r in rows})
    annotators = sorted({r["annotator"] for r in rows})
    values = sorted({r["value"] for r in rows})
    data = np.full((len(annotators), len(units)), np.nan)
    for r in rows:
        data[annotators.index(r["annotator"]), units.index(r["item"])] = values.index(r["value"])
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def test_support_intent_agrees_well_above_its_gate() -> None:
    policy = _spec("support-intent").task("intent")
    assert policy is not None and policy.agreement.min == 0.70
    assert _alpha("support-intent", "intent") == pytest.approx(0.771, abs=0.005)


def test_agent_failure_mode_falls_below_its_gate() -> None:
    policy = _spec("agent-trajectories").task("failure_mode")
    assert policy is not None and policy.agreement.min == 0.67
    assert _alpha("agent-trajectories", "failure_mode") == pytest.approx(0.619, abs=0.005)


@pytest.mark.parametrize("project", PROJECTS)
def test_items_carry_the_declared_fields_and_categories(project: str) -> None:
    spec = _spec(project)
    assert spec.items is not None
    for item in _items(project, spec).values():
        assert set(item) == {spec.items.id, *(f.name for f in spec.items.fields)}
        for f in spec.items.fields:
            assert not f.values or item[f.name] in f.values, (f.name, item[f.name])


def _by_unit(project: str, task: str) -> dict[str, dict[str, Any]]:
    """Unit → annotator → decoded value, leaving out the units gold.csv answers for this task."""
    spec = _spec(project)
    gold = {r["item"] for r in csv.DictReader(io.StringIO((SPECS / project / "gold.csv").read_text("utf-8")))
            if r["task"] == task}
    units: dict[str, dict[str, Any]] = {}
    for r in _judgments(project, spec):
        if r["task"] == task and r["item"] not in gold:
            units.setdefault(r["item"], {})[r["annotator"]] = json.loads(r["value"])
    return units


def _overlap_tp(mine: list[list[Any]], theirs: list[list[Any]]) -> int:
    """One-to-one matches of same-label overlapping spans (first free partner)."""
    used: set[int] = set()
    for s in mine:
        k = next((k for k, t in enumerate(theirs) if k not in used and t[2] == s[2] and t[0] < s[1] and s[0] < t[1]),
                 None)
        if k is not None:
            used.add(k)
    return len(used)


def test_structured_kinds_reach_their_designed_agreement() -> None:
    """Independent re-computations for kinds the demo gates on: overlap span F1 (mean over annotator pairs,
    micro within a pair) and Kendall's W (mean over comparisons)."""
    units = _by_unit("clinical-ner", "entities")
    annotators = sorted({a for by in units.values() for a in by})
    f1 = []
    for i, a in enumerate(annotators):
        for b in annotators[i + 1:]:
            shared = [by for by in units.values() if a in by and b in by]
            size = sum(len(by[a]) + len(by[b]) for by in shared)
            if size:
                f1.append(2 * sum(_overlap_tp(by[a], by[b]) for by in shared) / size)
    assert (len(f1), float(np.mean(f1))) == (26, pytest.approx(0.799, abs=0.005))
    w = []
    for by in _by_unit("rlhf-preference", "ranking").values():
        ranks = np.array([[r.index(o) + 1 for o in ("r1", "r2", "r3", "r4")] for r in by.values()])
        m = len(ranks)
        w.append(12 * ((ranks.sum(axis=0) - m * 2.5) ** 2).sum() / (m * m * (4**3 - 4)))
    assert (len(w), float(np.mean(w))) == (140, pytest.approx(0.853, abs=0.005))
