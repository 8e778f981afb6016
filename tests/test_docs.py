"""The documentation says what the code does: tables generated from code constants, names that must appear, links.

Each test reads a constant of the code (diagnostic codes, schema properties, the kind table, gate ids, metrics,
exclusion reasons, CLI commands and options, report keys) and asserts the docs state it, so docs cannot silently
drift. Tables marked ``<!-- name:start -->`` … ``<!-- name:end -->`` are compared exactly; regenerate them from the
functions below when the code changes on purpose.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from labelspec import api
from labelspec.check import records
from labelspec.check.report import REPORT_VERSION
from labelspec.cli import EXIT_GATE, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, cli
from labelspec.errors import CODES
from labelspec.spec.load import load_spec
from labelspec.spec.model import Adjudication, BootstrapPolicy, Columns
from labelspec.spec.plan import DEFAULT_METRIC, METRICS_BY_KIND, STEP_METRICS, candidate_gates, plan_gates
from labelspec.spec.resolve_kinds import APPLIES_TO

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
KINDS = ("single_choice", "multi_choice", "rating", "spans", "pairwise", "ranking", "text", "attribution")
EXAMPLE_SPECS = sorted((ROOT / "specs").glob("*/labelspec.yaml"))


def read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def block(text: str, name: str) -> str:
    """The text between ``<!-- name:start -->`` and ``<!-- name:end -->`` (exactly one such block)."""
    found = re.findall(rf"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, flags=re.S)
    assert len(found) == 1, f"expected one <!-- {name} --> block, found {len(found)}"
    return str(found[0])


def codes_table() -> str:
    return "| code | meaning |\n|---|---|\n" + "".join(f"| {c} | {m} |\n" for c, m in CODES.items())


def applies_table() -> str:
    head = "| setting | " + " | ".join(KINDS) + " |\n|---|" + "---|" * len(KINDS) + "\n"
    rows = ["| `" + key + "` | " + " | ".join("✓" if k in kinds else "" for k in KINDS) + " |\n"
            for key, kinds in APPLIES_TO.items()]
    return head + "".join(rows)


# --- diagnostics ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["docs/diagnostics.md", "README.md"])
def test_codes_table_is_generated_from_codes(name: str) -> None:
    text = read(name)
    assert block(text, "codes") == codes_table()
    missing = [code for code in CODES if code not in text]
    assert not missing


def test_every_code_has_an_explanation() -> None:
    text = read("docs/diagnostics.md")
    prose = text.replace(block(text, "codes"), "")
    assert [c for c in CODES if f"**{c}**" not in prose] == []


def test_exclusion_reasons_in_order() -> None:
    listed = re.findall(r"^\| `([a-z_]+)` \|", block(read("docs/diagnostics.md"), "reasons"), flags=re.M)
    assert tuple(listed) == records.REASONS


def test_label_studio_reader_reasons() -> None:
    source = (ROOT / "labelspec/check/read_labelstudio.py").read_text(encoding="utf-8")
    in_code = sorted(set(re.findall(r'\.exclude\([^,]+,\s*"([a-z_]+)"', source)))
    assert in_code, "the Label Studio reader's exclusion reasons were not found"
    listed = re.findall(r"^\| `([a-z_]+)` \|", block(read("docs/diagnostics.md"), "reader-reasons"), flags=re.M)
    assert sorted(listed) == in_code


# --- spec language -------------------------------------------------------------------------------------------


def _property_names(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from _property_names(value)
    elif isinstance(node, list):
        for value in node:
            yield from _property_names(value)


def test_every_schema_property_is_documented() -> None:
    schema = json.loads(read("labelspec/schemas/spec-v1.schema.json"))
    text = read("docs/spec-language.md")
    names = set(schema["properties"]) | set(schema["$defs"]) | set(_property_names(schema["$defs"]))
    assert names >= {"labelspec", "extends", "min_per_label", "annotator_divergence_p", "teaching_examples"}
    undocumented = sorted(n for n in names if f"`{n}`" not in text and f"`{n}:" not in text and f".{n}`" not in text)
    assert undocumented == []


def test_applies_to_table_is_the_code_table() -> None:
    assert block(read("docs/spec-language.md"), "applies-to") == applies_table()


def _generic(gate_id: str, spec: Any) -> str:
    parts = gate_id.split(".")
    if parts[0] == "rules":
        return "rules.<id>"
    if len(parts) >= 2 and parts[1] in spec.task_names:
        parts[1] = "<task>"
    return ".".join(parts)


@pytest.mark.parametrize("path", EXAMPLE_SPECS, ids=lambda p: p.parent.name)
def test_every_gate_of_the_examples_is_documented(path: Path) -> None:
    spec = load_spec(path)
    text = read("docs/spec-language.md")
    for gate in candidate_gates(spec):
        assert f"`{_generic(gate.id, spec)}`" in text, gate.id
        assert f"`{gate.metric}`" in text or gate.id.startswith("agreement."), gate.metric


def test_gate_table_names_every_gate_family() -> None:
    text = read("docs/spec-language.md")
    for gate in ("records.valid", "provenance.complete", "gold.accuracy", "calibration.passed", "calibration.drift",
                 "annotators.divergence", "annotators.lead_time", "coverage.<task>", "agreement.<task>",
                 "agreement.<task>.per_label", "distribution.<task>.max_deviation",
                 "distribution.<task>.goodness_of_fit", "rules.<id>"):
        assert f"| `{gate}` |" in text, gate


def test_metrics_and_default_metrics() -> None:
    spec_text, stats_text = read("docs/spec-language.md"), read("docs/statistics.md")
    metrics = {m for ms in METRICS_BY_KIND.values() for m in ms} | set(STEP_METRICS) | set(DEFAULT_METRIC.values())
    assert [m for m in sorted(metrics) if f"`{m}`" not in stats_text or f"`{m}`" not in spec_text] == []
    for kind, metric in DEFAULT_METRIC.items():  # "`krippendorff_alpha` (single_choice, rating, pairwise)"
        assert re.search(rf"`{metric}` \([^)]*\b{kind}\b", spec_text), (kind, metric)


def test_defaults_are_the_model_defaults() -> None:
    text = read("docs/spec-language.md")
    for column in (Columns().item, Columns().unit, Columns().task, Columns().annotator, Columns().value,
                   Columns().timestamp, Columns().lead_time):
        assert f"| `{column}` |" in text
    boot, adj = BootstrapPolicy(), Adjudication()
    assert f"`replicates: {boot.replicates}`, `seed: {boot.seed}`, `level: {boot.level}`" in text
    assert f"`method: {adj.method}`, `min_support: {adj.min_support}`" in text
    found = re.search(r"`max_iterations: (\d+)`, `tolerance: ([0-9.e-]+)`", text)
    assert found is not None
    assert (int(found.group(1)), float(found.group(2))) == (adj.max_iterations, adj.tolerance)


def test_first_spec_example_validates(tmp_path: Path) -> None:
    text = read("docs/spec-language.md")
    section = text.split("## A first spec", 1)[1]
    yaml_text = re.search(r"```yaml\n(.*?)```", section, flags=re.S)
    assert yaml_text is not None
    (tmp_path / "labelspec.yaml").write_text(yaml_text.group(1), encoding="utf-8")
    spec = load_spec(tmp_path)
    assert spec.project.id == "toxicity" and spec.tasks[0].agreement.min == 0.70


def test_extends_example_validates(tmp_path: Path) -> None:
    """The two files of the `extends` example, written where their first-line comments say, load as one spec."""
    section = _sections(read("docs/spec-language.md"))["extends"]
    blocks = re.findall(r"```yaml\n# (\S+)\n(.*?)```", section, flags=re.S)
    assert [name for name, _ in blocks] == ["policies/base-quality.yaml", "specs/toxicity/labelspec.yaml"]
    (tmp_path / ".git").mkdir()  # the repository root, which `extends` may not leave
    for name, text in blocks:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    spec = load_spec(tmp_path / "specs" / "toxicity")
    policy = spec.tasks[0].agreement
    assert (policy.min, policy.metric, policy.on) == (0.70, "krippendorff_alpha", "ci_low")
    assert spec.quality.annotations_per_item == 3 and spec.adjudication.min_support == 0.67
    assert [(g.id, g.severity) for g in plan_gates(spec) if g.id == "annotators.lead_time"] == [
        ("annotators.lead_time", "error")]


# --- commands ------------------------------------------------------------------------------------------------


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## ", text, flags=re.M)
    return {p.split("\n", 1)[0].strip(): p for p in parts[1:]}


def test_every_command_and_option_is_documented() -> None:
    sections = _sections(read("docs/commands.md"))
    assert set(cli.commands) <= set(sections), sorted(set(cli.commands) - set(sections))
    for name, command in cli.commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert any(opt in sections[name] for opt in param.opts), (name, param.opts)
    text = read("docs/commands.md")
    assert "--version" in text and "--debug" in text


def test_exit_codes_are_documented() -> None:
    codes = (EXIT_OK, EXIT_GATE, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED)
    assert codes == (0, 1, 2, 3, 130)
    text = read("docs/commands.md")
    for code in codes:
        assert f"| **{code}** |" in text


# --- check report --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[p.parent.name for p in EXAMPLE_SPECS])
def report(request: pytest.FixtureRequest) -> dict[str, Any]:
    spec = ROOT / "specs" / request.param
    return api.check_labels(spec, [spec / "labels"], bootstrap=0).to_dict()


def _keys(rows: Any) -> set[str]:
    """Keys of a dict, or of every dict in a list or dict of dicts."""
    if isinstance(rows, dict) and all(isinstance(v, dict) for v in rows.values()):
        return {k for v in rows.values() for k in v}
    if isinstance(rows, list):
        return {k for v in rows if isinstance(v, dict) for k in v}
    return set(rows) if isinstance(rows, dict) else set()


def test_report_keys_are_documented(report: dict[str, Any]) -> None:
    text = read("docs/check-report.md")
    assert report["report_version"] == REPORT_VERSION
    assert f"`report_version` is **{REPORT_VERSION}**" in text
    keys = set(report) | set(report["summary"]) | set(report["accounting"]) | set(report["spec"])
    keys |= _keys(report["gates"]) | _keys(report["gold"] or {}) | _keys(report["rules"]) | _keys(report["findings"])
    for task in report["tasks"].values():
        keys |= set(task) | _keys(task["agreement"]) | set(task.get("span_findings", {}))
        keys |= _keys(task.get("agreement_by_depth", []))
    consensus, hotspots = report.get("consensus", {}), report.get("hotspots", {})
    keys |= set(consensus) | _keys(consensus.get("tasks", {})) | set(hotspots)
    keys |= _keys(hotspots.get("items", [])) | _keys(hotspots.get("label_pairs", []))
    keys |= _keys(hotspots.get("suggested_fixes", []))
    assert sorted(k for k in keys if f"`{k}`" not in text) == []
    kinds = {f["kind"] for f in report["findings"]}
    assert sorted(k for k in kinds if f"`{k}`" not in text) == []


# --- links ---------------------------------------------------------------------------------------------------

MARKDOWN = ["README.md", *(f"docs/{p.name}" for p in sorted(DOCS.glob("*.md")))]


def slug(heading: str) -> str:
    """GitHub's heading anchor: lowercase, punctuation dropped (``_`` and ``-`` kept), spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("\\", ""))
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    return {slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("name", MARKDOWN)
def test_links_resolve(name: str) -> None:
    text = read(name)
    base = (ROOT / name).parent
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        file = (base / path).resolve() if path else ROOT / name
        assert file.exists(), f"{name}: broken link {target}"
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file.read_text(encoding="utf-8")), f"{name}: no heading for {target}"
