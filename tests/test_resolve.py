"""Meaning (LS3xx), the model's defaults, paths that must stay inside, extends, digests and spec discovery."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from labelspec.errors import Diagnostic, SpecError
from labelspec.spec import resolve
from labelspec.spec.datafiles import MAX_PROBLEMS
from labelspec.spec.extends import merge_layers
from labelspec.spec.load import find_repo_root, find_specs, load_spec, load_spec_with_warnings
from labelspec.spec.paths import file_problem, text_problem
from labelspec.spec.plan import plan_gates
from labelspec.spec.resolve import build_spec
from labelspec.spec.source import read_yaml_text

VALID = Path(__file__).parent / "cases" / "valid"
HEAD = "labelspec: 1\nproject: {id: demo, title: Demo, version: 1.0.0}\n"
INTENT = (
    "  intent:\n"
    "    kind: single_choice\n"
    "    question: What is the intent?\n"
    "    labels:\n"
    "      refund: {title: Refund, definition: Money back.}\n"
    "      status: {title: Status, definition: Where things stand.}\n"
)
GOLD = "item,unit,task,label\nt1,,intent,refund\n"


def project(folder: Path, spec: str, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "labelspec.yaml").write_text(spec, encoding="utf-8")
    for name, text in files.items():
        path = folder / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder / "labelspec.yaml"


def errors(path: Path | str, display: str = "labelspec.yaml") -> list[Diagnostic]:
    with pytest.raises(SpecError) as info:
        load_spec(path, display_path=display)
    return list(info.value.diagnostics)


def codes(path: Path | str) -> list[tuple[str, int, int]]:
    return [d.check_tuple() for d in errors(path)]


# --- the model and its defaults ------------------------------------------------------------------------------


def test_valid_cases_load() -> None:
    for case in sorted(VALID.iterdir()):
        assert load_spec(case).project.id


def test_support_intent_model_values_and_defaults() -> None:
    spec = load_spec(VALID / "support-intent")
    assert spec.path == f"{VALID / 'support-intent'}/labelspec.yaml" and spec.root == str(VALID / "support-intent")
    intent, tone = spec.tasks
    assert [lab.id for lab in intent.labels] == ["refund", "status", "dispute", "other"]
    assert intent.label("dispute") is not None and intent.label("dispute").review == "always"  # type: ignore[union-attr]
    assert intent.level == "nominal" and tone.level == "ordinal"
    assert intent.unit == "item" and intent.required is True
    # the task's own agreement keys win over quality.agreement; missing ones are inherited
    assert (intent.agreement.min, intent.agreement.min_per_label, intent.agreement.on) == (0.8, 0.6, "ci_low")
    assert (tone.agreement.min, tone.agreement.on, tone.agreement.severity) == (0.67, "estimate", "error")
    assert tone.scale is not None and tone.scale.anchors == ((1, "Very angry"), (3, "Neutral"), (5, "Very happy"))
    assert tone.label_ids == ("1", "2", "3", "4", "5")
    (rule,) = intent.rules
    assert (rule.id, rule.field, rule.op, rule.operand, rule.expect, rule.labels, rule.severity) == (
        "chargeback-is-dispute", "body", "matches", "(?i)charge ?back", "label_in", ("dispute",), "error")
    assert intent.expected_distribution == (("refund", 0.25), ("status", 0.45), ("dispute", 0.1), ("other", 0.2))
    assert spec.items is not None and (spec.items.file, spec.items.id) == ("items.jsonl", "ticket_id")
    assert [f.name for f in spec.items.fields] == ["body", "channel"]
    assert spec.columns.annotator == "annotator_id" and spec.quality.bootstrap.replicates == 1000
    assert spec.quality.calibration is not None and spec.quality.calibration.window == 50
    assert spec.adjudication.expert_review == ("tie", "low_support", "always_review_labels", "gold_conflict")
    assert [(g, s) for g, s, _ in spec.gate_overrides] == [("distribution.intent.max_deviation", "warn")]
    assert spec.digest.startswith("sha256:") and len(spec.digest) == 71
    gates = {g.id: g for g in plan_gates(spec)}
    assert gates["distribution.intent.max_deviation"].severity == "warn"
    assert str(gates["agreement.intent"].loc).endswith("labelspec.yaml:55:17")  # where `min` was written


def test_agent_trajectories_inherits_its_policy_and_defaults() -> None:
    spec = load_spec(VALID / "agent-trajectories", display_path="t/labelspec.yaml")
    step, blame, tools = spec.tasks
    assert (step.unit, step.error_labels, step.is_taxonomy) == ("step", ("error", "reasoning_error", "tool_error"), True)
    assert step.label("tool_error").parent == "error"  # type: ignore[union-attr]
    # own metric and min; severity inherited from the policy's quality.agreement
    assert (step.agreement.metric, step.agreement.min, step.agreement.severity) == ("first_error_within_one", 0.6, "warn")
    assert (blame.agreement.metric, blame.agreement.min) == ("attribution_agent_alpha", 0.5)
    assert (tools.agreement.metric, tools.allow_nesting, tools.field) == ("span_f1_overlap", True, "transcript")
    assert (spec.quality.annotations_per_item, spec.quality.bootstrap.replicates) == (2, 200)
    assert spec.quality.calibration is not None and spec.quality.calibration.teaching_examples is True
    assert (spec.adjudication.method, spec.adjudication.max_iterations, spec.adjudication.min_support) == (
        "dawid_skene", 100, 0.5)
    assert (spec.columns.annotator, spec.columns.value, spec.columns.item) == ("rater", "answer", "item_id")
    assert [(g, s, str(loc)) for g, s, loc in spec.gate_overrides] == [
        ("records.valid", "warn", "t/team-policy.yaml:10:3")]
    assert spec.extends == ("tests/cases/valid/agent-trajectories/team-policy.yaml",)
    assert spec.items is not None and spec.items.id == "run_id"


def test_metric_defaults_follow_the_kind_and_text_tasks_are_not_scored(tmp_path: Path) -> None:
    spec = HEAD + "tasks:\n" + INTENT + (
        "  topics:\n    kind: multi_choice\n    question: Topics?\n    labels: {a: {title: A, definition: A.}}\n"
        "  best:\n    kind: ranking\n    question: Order them.\n    options: [x, y]\n"
        "  why:\n    kind: text\n    question: Why?\n"
        "quality: {agreement: {min: 0.7}}\n")
    loaded = load_spec(project(tmp_path / "p", spec))
    metrics = {t.name: (t.agreement.metric, t.agreement.min) for t in loaded.tasks}
    assert metrics == {"intent": ("krippendorff_alpha", 0.7), "topics": ("masi_alpha", 0.7),
                       "best": ("kendall_w", 0.7), "why": ("krippendorff_alpha", None)}
    assert "agreement.why" not in {g.id for g in plan_gates(loaded)}


def test_shape_errors_stop_before_meaning_is_checked(tmp_path: Path) -> None:
    spec = HEAD + "tasks:\n" + INTENT + "    expected_distribution: {refnd: 1.0}\n    lables: {}\n"
    assert codes(project(tmp_path / "p", spec)) == [("LS201", 11, 5)]


def test_data_file_content_is_judged_only_once_the_spec_is_sound(tmp_path: Path) -> None:
    spec = HEAD + "tasks:\n" + INTENT + "    expected_distribution: {refnd: 1.0}\nquality: {gold: {file: gold.csv}}\n"
    path = project(tmp_path / "p", spec, **{"gold.csv": "item,unit,task,label\nt1,,intent,nope\n"})
    assert [d.code for d in errors(path)] == ["LS301"]
    path.write_text(spec.replace("refnd", "refund"), encoding="utf-8")
    assert [(d.code, str(d.loc)) for d in errors(path)] == [("LS312", "gold.csv:2")]


# --- meaning checks not covered by a case file -----------------------------------------------------------------


def test_rule_ids_are_unique_across_tasks_and_rubric_ids_within_a_task(tmp_path: Path) -> None:
    rule = "    rules: [{id: same, when: {field: body, equals: x}, expect: {label_in: [refund]}}]\n"
    spec = HEAD + "tasks:\n" + INTENT + rule + INTENT.replace("intent", "second") + rule + (
        "  pick:\n    kind: pairwise\n    question: Better?\n"
        "    rubric: [{id: clear, criterion: Clear.}, {id: clear, criterion: Also clear.}]\n")
    diags = errors(project(tmp_path / "p", spec))
    assert [(d.code, d.pointer) for d in diags] == [("LS302", "tasks.second.rules[0].id"),
                                                     ("LS302", "tasks.pick.rubric[1].id")]
    assert "first defined at labelspec.yaml:10:18" in diags[0].message


def test_invisible_characters_in_column_names_and_item_id(tmp_path: Path) -> None:
    spec = HEAD + "items: {file: items.csv, id: \"item\\u00a0id \"}\ntasks:\n" + INTENT + \
        "input: {columns: {annotator: \"who\\u200d\"}}\n"
    diags = errors(project(tmp_path / "p", spec, **{"items.csv": "item id\nt1\n"}))
    assert [(d.code, d.pointer) for d in diags] == [("LS304", "items.id"), ("LS304", "input.columns.annotator")]
    assert "leading or trailing whitespace" in diags[0].message and "ZERO WIDTH JOINER" in diags[1].message


@pytest.mark.parametrize(("char", "why"), [
    ("\\u3164", "HANGUL FILLER"), ("\\u2800", "BRAILLE PATTERN BLANK"), ("\\ufdd0", "a noncharacter"),
    ("\\U0010ffff", "a noncharacter"), ("\\ue000", "a private-use character"),
])
def test_blank_letters_noncharacters_and_private_use_in_ids(tmp_path: Path, char: str, why: str) -> None:
    """Ids that render as nothing, or should not be exchanged at all, were accepted (audit)."""
    spec = HEAD + "tasks:\n" + INTENT + f'      "x{char}": {{title: X, definition: x.}}\n'
    (d,) = errors(project(tmp_path / "p", spec))
    assert d.code == "LS304" and why in d.message


def test_a_lone_combining_mark_is_no_id(tmp_path: Path) -> None:
    spec = HEAD + "tasks:\n" + INTENT + '      "\\ufe0f": {title: X, definition: x.}\n'
    (d,) = errors(project(tmp_path / "p", spec))
    assert d.code == "LS304" and "with nothing before it to combine with" in d.message


def test_bidirectional_controls_in_spec_text_are_ls304(tmp_path: Path) -> None:
    """A right-to-left override displays a definition in another order than it is stored (guidelines, reports,
    the labeling tool): the audit rendered a title as reversed text. Each text is reported once."""
    spec = HEAD + "tasks:\n" + INTENT.replace("definition: Money back.", 'definition: "Money \\u202eback"') + \
        '    instructions: "Read \\u2067twice\\u2069."\n'
    diags = errors(project(tmp_path / "p", spec))
    assert [(d.code, d.pointer) for d in diags] == [("LS304", "tasks.intent.labels.refund.definition"),
                                                     ("LS304", "tasks.intent.instructions")]
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in diags[0].message and "U+2067" in diags[1].message
    option = HEAD + "tasks:\n  rank:\n    kind: ranking\n    question: Order?\n" + \
        '    options: [a, "b\\u202e"]\n'
    (d,) = errors(project(tmp_path / "q", option))  # the id check says it; the text check does not repeat it
    assert d.pointer == "tasks.rank.options[1]" and "option id" in d.message


def test_regex_longer_than_the_limit_is_ls313_even_without_the_schema(tmp_path: Path) -> None:
    text = HEAD + "tasks:\n" + INTENT + f"    rules: [{{id: r, when: {{field: b, matches: '{'a' * 1001}'}}, " \
        "expect: {label_in: [refund]}}]\n"
    with pytest.raises(SpecError) as info:
        build_spec(read_yaml_text(text, "s.yaml"), spec_path_display="s.yaml", spec_dir=tmp_path, repo_root=tmp_path)
    assert [(d.code, d.message) for d in info.value.diagnostics] == [
        ("LS313", "pattern is 1001 characters; the limit is 1000")]


@pytest.mark.parametrize(("version", "entries", "expected"), [
    ("1.0.0", "[{version: 1.0.0, changes: [a]}, {version: 0.9.0, changes: [b]}]", []),
    ("1.0.0", "[{version: 1.0.0-rc.2, changes: [a]}]", []),  # a pre-release comes before its release
    ("1.0.0-rc.1", "[{version: 1.0.0, changes: [a]}]", []),  # the release's entry, written at its pre-release
    ("1.0.0", "[{version: 1.1.0, changes: [a]}, {version: 1.0.0, changes: [b]}]",
     [(0, "changelog entry for 1.1.0, after project.version 1.0.0")]),
    ("1.0.0", "[{version: 1.0.0, changes: [a]}, {version: 1.0.0, changes: [b]}]",
     [(1, "version 1.0.0 has two changelog entries")]),
])
def test_the_changelog_cannot_run_ahead_of_the_version_or_repeat_one(tmp_path: Path, version: str, entries: str,
                                                                      expected: list[tuple[int, str]]) -> None:
    """An entry for 1.1.0 in a spec still at 1.0.0: the version was not bumped, and released labels would be
    stamped 1.0.0 while the guidelines list 1.1.0's changes."""
    spec = HEAD.replace("version: 1.0.0}", f"version: {version}, changelog: {entries}}}") + "tasks:\n" + INTENT
    path = project(tmp_path / "p", spec)
    if not expected:
        assert load_spec(path).project.version == version
        return
    diags = errors(path)
    assert [(d.code, d.pointer, d.message) for d in diags] == [
        ("LS314", f"project.changelog[{i}].version", m) for i, m in expected]


def test_thresholds_that_contradict_agreement_gates(tmp_path: Path) -> None:
    spec = HEAD + "tasks:\n" + INTENT + "    agreement: {min: 0.8, on: ci_low}\n" + \
        "quality: {annotations_per_item: 1, bootstrap: {replicates: 0}}\n"
    diags = errors(project(tmp_path / "p", spec))
    assert [(d.code, d.pointer) for d in diags if d.code != "LS107"] == [
        ("LS306", "quality.annotations_per_item"), ("LS306", "quality.bootstrap.replicates")]


def test_a_huge_scale_is_refused_without_listing_its_points(tmp_path: Path) -> None:
    spec = HEAD + "tasks:\n  r:\n    kind: rating\n    question: How?\n    scale: {min: 0, max: 1000000000000}\n" \
        "    expected_distribution: {'0': 1.0}\n"
    start = time.monotonic()
    assert [d.code for d in errors(project(tmp_path / "p", spec))] == ["LS306"]
    assert time.monotonic() - start < 5


def test_settings_kinds_need_and_ignore(tmp_path: Path) -> None:
    spec = HEAD + "tasks:\n  best:\n    kind: ranking\n    question: Order.\n" \
        "  pick:\n    kind: pairwise\n    question: Better?\n    labels: {a: {title: A, definition: A.}}\n" \
        "  why:\n    kind: text\n    question: Why?\n    agreement: {min: 0.5}\n"
    diags = errors(project(tmp_path / "p", spec))
    assert [(d.code, d.pointer, d.message) for d in diags] == [
        ("LS311", "tasks.best", "a ranking task needs `options`: the option ids every item offers, in display order"),
        ("LS311", "tasks.pick.labels", "`labels` does not apply to a pairwise task"),
        ("LS311", "tasks.why.agreement", "`agreement` does not apply to a text task"),
    ]


def test_step_metrics_need_step_units_with_error_labels(tmp_path: Path) -> None:
    spec = HEAD + "tasks:\n" + INTENT + "    unit: step\n    error_labels: [status]\n" + \
        "    agreement: {metric: first_error_exact, min: 0.5}\n"
    loaded = load_spec(project(tmp_path / "p", spec))
    assert loaded.tasks[0].agreement.metric == "first_error_exact"
    path = project(tmp_path / "q", spec.replace("    error_labels: [status]\n", ""))
    assert [d.code for d in errors(path)] == ["LS311"]


def test_problems_in_one_data_file_are_capped(tmp_path: Path) -> None:
    rows = "".join(f"t{i},,intent,nope\n" for i in range(50))
    spec = HEAD + "tasks:\n" + INTENT + "quality: {gold: {file: gold.csv}}\n"
    diags = errors(project(tmp_path / "p", spec, **{"gold.csv": "item,unit,task,label\n" + rows}))
    assert len(diags) == MAX_PROBLEMS + 1
    assert diags[0].message == "… and 30 more problems in this file" and str(diags[0].loc) == "gold.csv"


def test_items_file_must_be_jsonl_or_csv(tmp_path: Path) -> None:
    spec = HEAD + "items: {file: items.parquet}\ntasks:\n" + INTENT
    (d,) = errors(project(tmp_path / "p", spec, **{"items.parquet": "x"}))
    assert d.check_tuple() == ("LS312", 3, 15) and d.pointer == "items.file"


def test_items_jsonl_with_a_lone_surrogate_escape_is_located(tmp_path: Path) -> None:
    """A lone \\ud800 decodes to text that cannot be written: found at validate time, not as a crash in check
    or a compile error without a location; a proper pair (an emoji) is fine."""
    spec = HEAD + "items: {file: items.jsonl, id: item_id}\ntasks:\n" + INTENT
    items = '{"item_id": "t1", "text": "\\ud83d\\ude00 ok"}\n{"item_id": "t2", "text": "\\ud800 hi"}\n'
    (d,) = errors(project(tmp_path / "p", spec, **{"items.jsonl": items}))
    assert (d.code, str(d.loc)) == ("LS312", "items.jsonl:2") and "unpaired surrogate" in d.message


# --- paths ----------------------------------------------------------------------------------------------------


def test_symlink_pointing_outside_the_spec_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.csv").write_text(GOLD)
    path = project(tmp_path / "p", HEAD + "tasks:\n" + INTENT + "quality: {gold: {file: gold.csv}}\n")
    (tmp_path / "p" / "gold.csv").symlink_to(tmp_path / "secret.csv")
    (d,) = errors(path)
    assert d.check_tuple() == ("LS308", 10, 24)
    assert d.message == "path 'gold.csv' leads outside the spec's folder through a symbolic link"
    assert str(tmp_path) not in d.message


def test_a_missing_path_outside_the_spec_folder_says_it_leads_outside(tmp_path: Path) -> None:
    """Creating the file would not help: the path itself is refused, and the message says so."""
    path = project(tmp_path / "p", HEAD + "tasks:\n" + INTENT + "quality: {gold: {file: sub/../../gold.csv}}\n")
    (d,) = errors(path)
    assert (d.code, d.message) == ("LS308", "path 'sub/../../gold.csv' leads outside the spec's folder")


def test_symlink_inside_the_spec_folder_is_followed(tmp_path: Path) -> None:
    path = project(tmp_path / "p", HEAD + "tasks:\n" + INTENT + "quality: {gold: {file: gold.csv}}\n",
                   **{"data__gold-v2.csv": GOLD})
    (tmp_path / "p" / "gold.csv").symlink_to(tmp_path / "p" / "data" / "gold-v2.csv")
    assert load_spec(path).quality.gold is not None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_as_gold_file_is_refused_without_blocking(tmp_path: Path) -> None:
    path = project(tmp_path / "p", HEAD + "tasks:\n" + INTENT + "quality: {gold: {file: gold.csv}}\n")
    os.mkfifo(tmp_path / "p" / "gold.csv")
    (d,) = errors(path)
    assert (d.code, d.message) == ("LS308", "'gold.csv' is a FIFO, not a regular file")


def test_directory_as_data_file_and_size_cap(tmp_path: Path) -> None:
    path = project(tmp_path / "p", HEAD + "annotators: {file: roster}\ntasks:\n" + INTENT)
    (tmp_path / "p" / "roster").mkdir()
    (d,) = errors(path)
    assert (d.code, d.message) == ("LS308", "'roster' is a directory, not a regular file")
    assert file_problem(os.stat(path), max_bytes=10) == f"{path.stat().st_size} bytes; the limit is 10"


# --- extends -------------------------------------------------------------------------------------------------


def test_extends_merges_policy_under_the_spec(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "org.yaml").write_text(
        "quality:\n  annotations_per_item: 5\n  agreement: {min: 0.9, min_per_label: 0.5}\n"
        "  provenance: {require: [annotator, timestamp]}\nadjudication: {method: dawid_skene}\n")
    (tmp_path / "policies" / "team.yaml").write_text(
        "extends: org.yaml\nquality:\n  agreement: {min: 0.8}\n  provenance: {require: [annotator]}\n")
    spec = HEAD + "extends: ../../policies/team.yaml\ntasks:\n" + INTENT + "quality: {annotations_per_item: 3}\n"
    loaded = load_spec(project(tmp_path / "specs" / "p", spec))
    q = loaded.quality
    assert (q.annotations_per_item, q.agreement.min, q.agreement.min_per_label) == (3, 0.8, 0.5)
    assert q.provenance == ("annotator",)  # lists are replaced, not concatenated
    assert loaded.adjudication.method == "dawid_skene"
    assert loaded.extends == ("policies/team.yaml", "policies/org.yaml")
    assert loaded.tasks[0].agreement.loc.path.endswith("/policies/team.yaml")  # where `min` was written


def test_extends_may_not_leave_the_repository(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "outside.yaml").write_text("quality: {annotations_per_item: 2}\n")
    path = project(tmp_path / "repo" / "p", HEAD + "extends: ../../outside.yaml\ntasks:\n" + INTENT)
    (d,) = errors(path)
    assert (d.code, d.message) == ("LS308", "path '../../outside.yaml' leads outside the repository")


def test_extends_chain_deeper_than_16_is_ls309(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    for i in range(20):
        (tmp_path / f"p{i}.yaml").write_text(f"extends: p{i + 1}.yaml\n" if i < 19 else "quality: {}\n")
    (d,) = errors(project(tmp_path, HEAD + "extends: p0.yaml\ntasks:\n" + INTENT))
    # the spec and p0…p14 are 16 files: p14's extends would make 17 (an audit found 17 accepted)
    assert d.code == "LS309" and d.loc is not None and d.loc.path == "p14.yaml"
    assert d.message.startswith("extends chain is deeper than 16 files: labelspec.yaml → p0.yaml → p1.yaml")
    assert d.message.endswith("p14.yaml → p15.yaml")
    (tmp_path / "p14.yaml").write_text("quality: {}\n")  # 16 files: allowed
    assert load_spec(project(tmp_path, HEAD + "extends: p0.yaml\ntasks:\n" + INTENT)).tasks


def test_problems_in_a_policy_file_are_located_in_it(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("# shared\ngates:\n  agreement.intnet: warn\nquality: {bootstrap: {seed: y}}\n")
    path = project(tmp_path, HEAD + "extends: policy.yaml\ntasks:\n" + INTENT + "    agreement: {min: 0.8}\n")
    with pytest.raises(SpecError) as info:
        load_spec(path, display_path="labelspec.yaml")
    assert [(d.code, str(d.loc)) for d in info.value.diagnostics] == [("LS107", "policy.yaml:4:29"),
                                                                     ("LS203", "policy.yaml:4:29")]
    (tmp_path / "policy.yaml").write_text("# shared\ngates:\n  agreement.intnet: warn\nquality: {bootstrap: {seed: 1}}\n")
    (d,) = errors(path)
    assert (d.code, str(d.loc), d.hint) == ("LS310", "policy.yaml:3:3", "did you mean 'agreement.intent'?")


def test_policy_warnings_are_returned_with_the_spec(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text("gates: {records.valid: off}\n")
    result = load_spec_with_warnings(project(tmp_path, HEAD + "extends: policy.yaml\ntasks:\n" + INTENT),
                                     display_path="labelspec.yaml")
    assert [(w.code, str(w.loc)) for w in result.warnings] == [("LS107", "policy.yaml:1:24")]
    assert [g.id for g in plan_gates(result.spec)] == []


def test_a_mapping_overridden_by_a_scalar_is_a_conflict() -> None:
    near = read_yaml_text("quality: strict\n", "spec.yaml")
    far = read_yaml_text("quality: {annotations_per_item: 3}\n", "policy.yaml")
    merged, conflicts = merge_layers([near, far])
    assert merged == {"quality": "strict"}
    assert [(d.code, str(d.loc)) for d in conflicts] == [("LS309", "spec.yaml:1:1")]


# --- digest, discovery, display paths --------------------------------------------------------------------------


def test_digest_covers_spec_and_files_but_not_where_the_folder_lives(tmp_path: Path, monkeypatch:
                                                                    pytest.MonkeyPatch) -> None:
    first = tmp_path / "a" / "support-intent"
    shutil.copytree(VALID / "support-intent", first)
    digest = load_spec(first).digest
    shutil.copytree(first, tmp_path / "elsewhere" / "deeper" / "x")
    assert load_spec(tmp_path / "elsewhere" / "deeper" / "x").digest == digest
    with (first / "gold.csv").open("a") as f:
        f.write("t3,,intent,refund,\n")
    assert load_spec(first).digest != digest
    monkeypatch.setattr(resolve, "OUTPUT_FORMAT", resolve.OUTPUT_FORMAT + 1)
    assert load_spec(tmp_path / "elsewhere" / "deeper" / "x").digest != digest


def test_digest_ignores_yaml_layout(tmp_path: Path) -> None:
    a = load_spec(project(tmp_path / "a", HEAD + "tasks:\n" + INTENT)).digest
    flipped = "tasks:\n" + INTENT + "# a comment\n" + HEAD.replace("{id: demo, title: Demo", "{title: Demo, id: demo")
    assert load_spec(project(tmp_path / "b", flipped)).digest == a


def test_display_path_is_as_given_and_never_absolutised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path / "specs" / "p", HEAD + "tasks:\n" + INTENT + "    lables: {}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load_spec("specs/p")
    assert str(info.value.diagnostics[0].loc) == "specs/p/labelspec.yaml:10:5"
    project(tmp_path / "specs" / "q", HEAD + "tasks:\n" + INTENT)
    assert load_spec("specs/q").path == "specs/q/labelspec.yaml"
    assert load_spec("specs/q/").root == "specs/q"
    assert load_spec("specs/q/labelspec.yaml", display_path="q.yaml").path == "q.yaml"


def test_find_repo_root_and_find_specs(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    for rel in ("specs/b", "specs/a", "specs/a/nested", ".hidden/c"):
        project(tmp_path / "repo" / rel, HEAD + "tasks:\n" + INTENT)
    assert find_repo_root(tmp_path / "repo" / "specs" / "a") == (tmp_path / "repo").resolve()
    assert find_repo_root(tmp_path / "repo" / "specs" / "a").name == "repo"
    (tmp_path / "lone").mkdir()
    assert find_repo_root(tmp_path / "lone") == tmp_path.resolve()  # no .git above: the spec folder's parent
    found = find_specs([tmp_path / "repo", tmp_path / "repo" / "specs" / "b" / "labelspec.yaml"])
    assert [p.relative_to(tmp_path / "repo").as_posix() for p in found] == [
        "specs/a/labelspec.yaml", "specs/a/nested/labelspec.yaml", "specs/b/labelspec.yaml"]
    with pytest.raises(SpecError) as info:
        find_specs([tmp_path / "missing"])
    assert info.value.diagnostics[0].code == "LS100"


@pytest.mark.parametrize(("text", "problem"), [
    ("gold\x00.csv", "path contains a NUL or control character"),
    ("gold\n.csv", "path contains a NUL or control character"),
    ("data\\gold.csv", "path 'data\\\\gold.csv' contains a backslash"),
    ("c:gold.csv", "path 'c:gold.csv' starts with a drive letter"),
    ("/srv/gold.csv", "path '/srv/gold.csv' is absolute"),
    ("~user/gold.csv", "path '~user/gold.csv' starts with '~', which is not expanded"),
])
def test_path_text_is_refused_before_touching_the_filesystem(text: str, problem: str) -> None:
    found = text_problem(text)
    assert found is not None and found.message == problem
    assert text_problem("data/gold.csv") is None and text_problem("../gold.csv") is None


def test_nul_in_a_spec_path_is_ls308(tmp_path: Path) -> None:
    (d,) = errors(project(tmp_path / "p", HEAD + 'annotators: {file: "a\\0.csv"}\ntasks:\n' + INTENT))
    assert (d.code, d.pointer) == ("LS308", "annotators.file")


def test_step_display_keys_apply_to_list_and_json_fields(tmp_path: Path) -> None:
    items = "items:\n  file: items.jsonl\n  fields:\n    body: {type: text, text_key: body}\n" \
        "    steps: {type: json, name_key: agent, text_key: thought}\n"
    spec = HEAD + items + "tasks:\n" + INTENT
    diags = errors(project(tmp_path / "p", spec, **{"items.jsonl": '{"item_id": "t1", "body": "x", "steps": []}\n'}))
    assert [(d.code, d.pointer, d.message) for d in diags] == [
        ("LS311", "items.fields.body.text_key", "`text_key` applies to list or json fields (the steps), not to a text "
                                                "field")]
    fixed = project(tmp_path / "q", spec.replace(", text_key: body", ""),
                    **{"items.jsonl": '{"item_id": "t1", "body": "x", "steps": []}\n'})
    field = load_spec(fixed).steps_field
    assert (field.name, field.name_key, field.text_key) == ("steps", "agent", "thought")


@pytest.mark.parametrize(("items_file", "items"), [
    ("items.jsonl", '{"item_id": "t1"}\n{"item_id": 2}\n'),
    ("items.csv", "item_id,text\nt1,a\n2,b\n"),
    ("items.csv", 'item_id,text\nt1,"a\nb"\n2,c\n'),  # a line break in a field: the stdlib path
])
def test_gold_and_calibration_rows_must_name_items_of_the_items_file(tmp_path: Path, items_file: str,
                                                                     items: str) -> None:
    """A gold or calibration row about an unknown item can never be scored (check excludes its judgments as
    unknown_item): validate says so at its line (found by an audit: calibrate then failed without saying why)."""
    spec = (HEAD + f"items: {{file: {items_file}, id: item_id}}\ntasks:\n" + INTENT +
            "quality:\n  gold: {file: gold.csv}\n  calibration: {file: calibration.csv, min_accuracy: 0.5}\n")
    gold = GOLD + "t9,,intent,status\n2,,intent,status\n"
    calibration = "item,unit,task,label\nc1,,intent,refund\n"
    diags = errors(project(tmp_path / "p", spec, **{items_file: items, "gold.csv": gold,
                                                     "calibration.csv": calibration}))
    assert [(d.code, str(d.loc), d.message) for d in diags] == [  # sorted by file
        ("LS312", "calibration.csv:2", f"calibration item 'c1' is not in the items file '{items_file}'"),
        ("LS312", "gold.csv:3", f"gold item 't9' is not in the items file '{items_file}'"),
    ]


def test_unknown_gold_items_are_located_when_a_field_spans_lines(tmp_path: Path) -> None:
    spec = HEAD + "items: {file: items.jsonl, id: item_id}\ntasks:\n" + INTENT + "quality:\n  gold: {file: gold.csv}\n"
    gold = 'item,unit,task,label,why\nt1,,intent,refund,"two\nlines"\nt9,,intent,status,x\n'
    (d,) = errors(project(tmp_path / "p", spec, **{"items.jsonl": '{"item_id": "t1"}\n', "gold.csv": gold}))
    assert (str(d.loc), d.message) == ("gold.csv:4", "gold item 't9' is not in the items file 'items.jsonl'")
