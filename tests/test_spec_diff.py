"""``labelspec diff``: the changes between two spec versions, their impact, and the version-bump verdict."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from labelspec import api
from labelspec.spec.diff import diff_specs
from labelspec.spec.model import ChangelogEntry, Spec, Task

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "specs" / "support-intent"


@pytest.fixture(scope="module")
def spec() -> Spec:
    return api.load_spec(EXAMPLE)


def versioned(s: Spec, version: str) -> Spec:
    """``s`` at ``version``, with the changelog entry the version needs."""
    entry = ChangelogEntry(version=version, changes=("test",))
    return replace(s, project=replace(s.project, version=version, changelog=(entry, *s.project.changelog)))


def with_task(s: Spec, name: str, **changes: object) -> Spec:
    return replace(s, tasks=tuple(replace(t, **changes) if t.name == name else t for t in s.tasks))


def intent(s: Spec) -> Task:
    return next(t for t in s.tasks if t.name == "intent")


def test_the_same_spec_has_no_changes(spec: Spec) -> None:
    d = diff_specs(spec, spec)
    assert (d.changes, d.needed, d.bumped, d.ok) == ((), "none", "none", True)
    assert d.summary().endswith("ok: no change that needs a new version\n")


def test_a_definition_change_needs_a_patch_bump(spec: Spec) -> None:
    refund = intent(spec).labels[0]
    edited = with_task(spec, "intent", labels=(replace(refund, definition=refund.definition + " More."),
                                               *intent(spec).labels[1:]))
    same = diff_specs(spec, edited)
    assert [(c.path, c.what, c.impact) for c in same.changes] == [
        (f"tasks.intent.labels.{refund.id}.definition", "changed", "revision")]
    assert not same.ok and same.needed == "patch" and "is unchanged" in same.problems[0]
    assert diff_specs(spec, versioned(edited, "1.4.2")).ok
    assert diff_specs(spec, versioned(edited, "2.0.0")).ok  # more than needed is fine
    text = diff_specs(spec, versioned(edited, "1.4.2")).summary()
    assert "text changed (" in text and text.endswith("ok: the changes need a patch bump; this is a patch bump\n")
    titled = with_task(spec, "intent", labels=(replace(refund, title="Money back"), *intent(spec).labels[1:]))
    assert [c.path for c in diff_specs(spec, titled).changes] == [f"tasks.intent.labels.{refund.id}.title"]
    renamed = replace(spec, project=replace(spec.project, title="Another title", owners=()))
    assert diff_specs(spec, renamed).changes == ()  # the project's own description is not compared


def test_removing_a_label_is_breaking_and_adding_one_is_additive(spec: Spec) -> None:
    labels = intent(spec).labels
    fewer = with_task(spec, "intent", labels=labels[:-1])
    d = diff_specs(spec, versioned(fewer, "1.5.0"))
    assert [(c.path, c.what, c.impact) for c in d.changes][:1] == [
        (f"tasks.intent.labels.{labels[-1].id}", "removed", "breaking")]
    assert d.needed == "major" and d.bumped == "minor" and not d.ok
    assert "is a minor bump" in d.problems[0] and "needs a major bump" in d.problems[0]
    assert diff_specs(spec, versioned(fewer, "2.0.0")).ok
    more = with_task(spec, "intent", labels=(*labels, replace(labels[0], id="refund_partial")))
    added = diff_specs(spec, versioned(more, "1.4.2"))
    assert added.needed == "minor" and not added.ok
    assert [(c.path, c.what) for c in added.changes] == [("tasks.intent.labels.refund_partial", "added")]
    assert diff_specs(spec, versioned(more, "1.5.0")).ok


@pytest.mark.parametrize(("change", "path"), [
    ({"kind": "multi_choice"}, "tasks.intent.kind"),
    ({"unit": "step"}, "tasks.intent.unit"),
])
def test_changing_what_a_judgment_is_is_breaking(spec: Spec, change: dict[str, object], path: str) -> None:
    d = diff_specs(spec, versioned(with_task(spec, "intent", **change), "1.5.0"))
    assert (d.changes[0].path, d.changes[0].impact, d.needed, d.ok) == (path, "breaking", "major", False)


def test_a_new_parent_and_renamed_columns_are_breaking(spec: Spec) -> None:
    labels = intent(spec).labels
    moved = with_task(spec, "intent", labels=(replace(labels[0], parent=labels[1].id), *labels[1:]))
    assert [c.impact for c in diff_specs(spec, moved).changes] == ["breaking"]
    renamed = replace(spec, columns=replace(spec.columns, value="answer"))
    assert [(c.path, c.impact, c.old, c.new) for c in diff_specs(spec, renamed).changes] == [
        ("columns.value", "breaking", "label", "answer")]


def test_a_stricter_gate_and_a_new_edge_case(spec: Spec) -> None:
    stricter = replace(spec, quality=replace(spec.quality, max_excluded_share=0.001))
    case = replace(intent(spec).edge_cases[0], id="brand-new-case")
    both = with_task(stricter, "intent", edge_cases=(*intent(spec).edge_cases, case))
    d = diff_specs(spec, versioned(both, "1.5.0"))
    assert {(c.path, c.impact) for c in d.changes} == {("quality.max_excluded_share", "revision"),
                                                       ("tasks.intent.edge_cases.brand-new-case", "additive")}
    assert d.ok and d.needed == "minor"


def test_the_new_version_needs_a_changelog_entry_when_the_spec_keeps_one(spec: Spec) -> None:
    stricter = replace(spec, quality=replace(spec.quality, max_excluded_share=0.001))
    bare = replace(stricter, project=replace(stricter.project, version="1.4.2"))
    assert diff_specs(spec, bare).problems == ("project.changelog has no entry for version 1.4.2",)


def _project(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("labels", "review", "calibration"))
    return dest


def test_changed_data_files_are_revisions(tmp_path: Path) -> None:
    old, new = _project(tmp_path, "old"), _project(tmp_path, "new")
    gold = (new / "gold.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (new / "gold.csv").write_text("".join(gold[:-1]), encoding="utf-8")  # one gold row fewer
    d = api.diff_specs(old, new)
    assert [(c.path, c.impact) for c in d.changes] == [("quality.gold.file:content", "revision")]


def test_an_inherited_agreement_threshold_is_listed_once_where_it_is_declared(tmp_path: Path) -> None:
    old, new = _project(tmp_path, "old"), _project(tmp_path, "new")
    text = (new / "labelspec.yaml").read_text(encoding="utf-8")
    (new / "labelspec.yaml").write_text(text.replace("    min: 0.70 ", "    min: 0.72 ", 1), encoding="utf-8")
    # intent takes quality.agreement as it is; tone declares its own, unchanged
    assert [(c.path, c.old, c.new) for c in api.diff_specs(old, new).changes] == [
        ("quality.agreement.min", 0.7, 0.72)]


def test_a_task_that_stops_inheriting_its_threshold_is_listed(spec: Spec) -> None:
    own = replace(intent(spec).agreement, min=0.9)
    paths = [c.path for c in diff_specs(spec, with_task(spec, "intent", agreement=own)).changes]
    assert paths == ["tasks.intent.agreement.min"]


def test_cli_exit_codes_and_json(tmp_path: Path, run_cli) -> None:
    old, new = _project(tmp_path, "old"), _project(tmp_path, "new")
    assert run_cli("diff", str(old), str(new)).code == 0
    text = (new / "labelspec.yaml").read_text(encoding="utf-8")
    (new / "labelspec.yaml").write_text(text.replace("max_excluded_share: 0.01", "max_excluded_share: 0.02"),
                                        encoding="utf-8")
    r = run_cli("diff", str(old), str(new))
    assert r.code == 1
    assert "revision  quality.max_excluded_share  0.01 → 0.02" in r.out
    assert "problem: 1.4.1 → 1.4.1 is unchanged, but quality.max_excluded_share (changed)" in r.out
    data = json.loads(run_cli("diff", str(old), str(new), "--json").out)
    assert data["needed"] == "patch" and not data["ok"]
    assert data["changes"] == [{"path": "quality.max_excluded_share", "what": "changed", "impact": "revision",
                                "old": 0.01, "new": 0.02}]
    broken = tmp_path / "broken.yaml"
    broken.write_text("labelspec: 1\n", encoding="utf-8")
    bad = run_cli("diff", str(old), str(broken))
    assert bad.code == 2 and "broken.yaml" in bad.err


def at(s: Spec, version: str) -> Spec:
    """``s`` at ``version``, changelog untouched (a lower version needs no new entry to be wrong)."""
    return replace(s, project=replace(s.project, version=version))


@pytest.mark.parametrize("lower", ["0.0.1", "1.4.0", "1.3.9", "1.4.1-rc.1"])
def test_a_version_that_goes_down_is_a_problem_even_without_changes(spec: Spec, lower: str) -> None:
    d = diff_specs(spec, at(spec, lower))
    assert d.changes == () and not d.ok
    assert d.problems == (f"version goes down from 1.4.1 to {lower}: a new version must be higher than the old "
                          "one",)
    assert "ok:" not in d.summary()


def test_a_lower_version_with_a_change_says_it_goes_down_not_that_it_is_unchanged(spec: Spec) -> None:
    stricter = replace(spec, quality=replace(spec.quality, max_excluded_share=0.001))
    d = diff_specs(spec, at(stricter, "1.4.0"))
    assert len(d.problems) == 1 and "goes down from 1.4.1 to 1.4.0" in d.problems[0]


@pytest.mark.parametrize(("old", "new"), [("1.4.1-rc.1", "1.4.1-rc.2"), ("1.4.1-rc.2", "1.4.1-rc.10"),
                                          ("1.4.1-1", "1.4.1-alpha"), ("1.4.1-alpha", "1.4.1-alpha.1"),
                                          ("1.4.1-rc.1", "1.4.1")])
def test_pre_releases_follow_semver_precedence(spec: Spec, old: str, new: str) -> None:
    assert diff_specs(at(spec, old), versioned(spec, new)).ok
    assert "goes down" in diff_specs(at(spec, new), at(spec, old)).problems[0]


@pytest.mark.parametrize(("old", "new"), [("1.5.0-rc.1", "1.5.0"), ("1.5.0-rc.1", "1.5.0-rc.2")])
def test_a_step_within_pre_releases_fits_any_change(spec: Spec, old: str, new: str) -> None:
    """Not "unchanged": 1.5.0-rc.1 → 1.5.0 is a new version, and a pre-release promises no compatibility."""
    without = replace(spec, tasks=tuple(t for t in spec.tasks if t.name != "intent"))
    d = diff_specs(at(spec, old), versioned(without, new))
    assert (d.needed, d.bumped, d.ok) == ("major", "prerelease", True)
    assert d.summary().endswith("ok: the changes need a major bump; this is a prerelease bump\n")
    assert diff_specs(at(spec, old), at(spec, new)).problems == (f"project.changelog has no entry for version {new}",)
    listed = versioned(spec, "1.5.0")  # a pre-release may be listed under its release
    assert diff_specs(at(spec, old), at(listed, new)).ok


def test_cli_exits_1_when_the_version_goes_down(tmp_path: Path, run_cli) -> None:
    old, new = _project(tmp_path, "old"), _project(tmp_path, "new")
    text = (old / "labelspec.yaml").read_text(encoding="utf-8")
    (old / "labelspec.yaml").write_text(text.replace("  version: 1.4.1", "  version: 2.0.0", 1), encoding="utf-8")
    r = run_cli("diff", str(old), str(new))
    assert r.code == 1 and "problem: version goes down from 2.0.0 to 1.4.1" in r.out


def test_spec_text_is_printed_with_its_controls_escaped(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """C1 controls (CSI U+009B, NEL) from spec text reached the terminal raw (audit, G12). (Bidi controls are
    LS304 in spec text now, so no spec holding one loads.)"""
    old, new = _project(tmp_path, "old"), _project(tmp_path, "new")
    spec = new / "labelspec.yaml"
    text = spec.read_text(encoding="utf-8").replace("question: What is the customer's primary intent?",
                                                    'question: "Q \\x9b31m red \\x85 evil"')
    spec.write_text(text, encoding="utf-8")
    out = run_cli("diff", str(old), str(new)).out
    assert "\\x9b31m red \\x85 evil" in out and not any(c in out for c in "\x9b\x85")
    data = run_cli("diff", "--json", str(old), str(new)).out
    assert "\\u009b" in data and not any(c in data for c in "\x9b\x85")
    assert json.loads(data)["changes"]
