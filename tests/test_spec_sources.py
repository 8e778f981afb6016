"""The spec's data files are read once, by the loader's checked read (G5): check, calibrate and release use those
bytes, so what the digest covers is what the check used and what the release manifest hashes, however the files
change on disk after the spec was loaded."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from labelspec import api
from labelspec.spec.load import load_spec


def excluded(report: api.Report) -> dict[str, int]:
    return {reason: n for reason, n in report.accounting.excluded_by_reason.items() if n}


@pytest.fixture
def loaded(tiny_project):  # type: ignore[no-untyped-def]
    tiny = tiny_project()
    return tiny, load_spec(tiny.root)


def test_the_loader_keeps_the_bytes_it_checked(loaded) -> None:  # type: ignore[no-untyped-def]
    tiny, spec = loaded
    assert dict(spec.sources) == {"items.jsonl": (tiny.root / "items.jsonl").read_bytes(),
                                  "annotators.csv": (tiny.root / "annotators.csv").read_bytes()}
    assert spec == replace(spec, sources={})  # bytes are not part of the model's equality (the digest is)
    assert "sources" not in repr(spec)


def test_check_uses_the_items_the_spec_was_loaded_with(loaded) -> None:  # type: ignore[no-untyped-def]
    """Items removed from the file after loading: the check still knows them (a second read would exclude the
    judgments on i6 as unknown items while the digest names the file that has them)."""
    tiny, spec = loaded
    items = tiny.root / "items.jsonl"
    items.write_text("".join(line + "\n" for line in items.read_text("utf-8").splitlines()[:5]), "utf-8")
    assert excluded(api.check_labels(spec, [tiny.labels])) == {}
    # a spec built in code has no bytes of its own: it reads the files as they are now
    assert excluded(api.check_labels(replace(spec, sources={}), [tiny.labels])) == {"unknown_item": 3}


def test_a_file_swapped_for_a_symlink_out_of_the_folder_is_not_followed(loaded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """G5 is checked when a file is read: after loading, the roster becomes a symlink to a roster outside the
    spec's folder that knows only a1. The check reads nothing through it."""
    tiny, spec = loaded
    outside = tmp_path / "outside.csv"
    outside.write_text("id,role\na1,annotator\n", "utf-8")
    roster = tiny.root / "annotators.csv"
    roster.unlink()
    os.symlink(outside, roster)
    assert excluded(api.check_labels(spec, [tiny.labels])) == {}
    assert excluded(api.check_labels(replace(spec, sources={}), [tiny.labels])) == {"annotator_not_in_roster": 12}


def test_the_release_manifest_hashes_the_bytes_the_check_used(loaded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tiny, spec = loaded
    items = tiny.root / "items.jsonl"
    checked = items.read_bytes()
    items.write_bytes(checked + b'{"item_id": "i7", "text": "added later"}\n')
    result = api.release(spec, [tiny.labels], out=tmp_path / "release")
    assert result.exit_code == 0
    manifest = json.loads((tmp_path / "release" / "release-manifest.json").read_text("utf-8"))
    entry = next(i for i in manifest["inputs"] if i["path"].endswith("items.jsonl"))
    assert (entry["sha256"], entry["bytes"]) == (hashlib.sha256(checked).hexdigest(), len(checked))


def test_label_files_are_hashed_as_the_readers_parsed_them(loaded, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A label file rewritten after the check read it (before the manifest is written): the manifest records the
    bytes the released labels came from, which the readers hashed while parsing them."""
    from labelspec.check import runner

    tiny, spec = loaded
    parsed = tiny.labels.read_bytes()
    run_check = runner.run_check

    def then_rewrite(*args, **kwargs):  # type: ignore[no-untyped-def]
        report = run_check(*args, **kwargs)
        tiny.labels.write_bytes(parsed + b"i1,a9,pos\n")
        return report

    monkeypatch.setattr(runner, "run_check", then_rewrite)
    assert api.release(spec, [tiny.labels], out=tmp_path / "release").exit_code == 0
    manifest = json.loads((tmp_path / "release" / "release-manifest.json").read_text("utf-8"))
    entry = next(i for i in manifest["inputs"] if i["path"].endswith(tiny.labels.name))
    assert (entry["sha256"], entry["bytes"]) == (hashlib.sha256(parsed).hexdigest(), len(parsed))


def test_a_gold_override_is_hashed_as_the_check_read_it(loaded, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``release --gold FILE``: the file rewritten after the check read it; the manifest records the bytes the
    gold set came from (the check's read of it, not a second one)."""
    from labelspec.check import runner

    tiny, spec = loaded
    gold = tmp_path / "gold.csv"
    gold.write_text("item,unit,task,label\ni1,,sentiment,pos\ni2,,sentiment,neg\n", "utf-8")
    used = gold.read_bytes()
    run_check = runner.run_check

    def then_rewrite(*args, **kwargs):  # type: ignore[no-untyped-def]
        report = run_check(*args, **kwargs)
        gold.write_bytes(used + b"i3,,sentiment,neu\n")
        return report

    monkeypatch.setattr(runner, "run_check", then_rewrite)
    result = api.release(spec, [tiny.labels], out=tmp_path / "release", gold=gold)
    assert result.exit_code == 0, result.report.gates
    manifest = json.loads((tmp_path / "release" / "release-manifest.json").read_text("utf-8"))
    entry = next(i for i in manifest["inputs"] if i["path"].endswith("gold.csv"))
    assert (entry["sha256"], entry["bytes"]) == (hashlib.sha256(used).hexdigest(), len(used))


def test_the_spec_file_is_hashed_as_the_loader_read_it(loaded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The spec edited after it was loaded (while the check runs): the manifest records the spec the release was
    made by. A spec built in code has no bytes of its own: its file is read when the manifest is written."""
    tiny, spec = loaded
    file = tiny.root / "labelspec.yaml"
    used = file.read_bytes()
    assert spec.file_bytes == used and "file_bytes" not in repr(spec)
    file.write_bytes(used + b"# edited later\n")
    manifests = {}
    for name, given in (("loaded", spec), ("in code", replace(spec, file_bytes=b""))):
        result = api.release(given, [tiny.labels], out=tmp_path / name)
        assert result.exit_code == 0, result.report.gates
        manifest = json.loads((tmp_path / name / "release-manifest.json").read_text("utf-8"))
        manifests[name] = next(i for i in manifest["inputs"] if i["path"].endswith("labelspec.yaml"))
    assert (manifests["loaded"]["sha256"], manifests["loaded"]["bytes"]) == (hashlib.sha256(used).hexdigest(),
                                                                            len(used))
    edited = file.read_bytes()
    assert (manifests["in code"]["sha256"], manifests["in code"]["bytes"]) == (hashlib.sha256(edited).hexdigest(),
                                                                              len(edited))


def test_a_policy_file_is_an_input_hashed_as_the_loader_read_it(tiny_project, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``extends``: the policy file is listed among the manifest's inputs, with the bytes the spec was loaded
    with, though it was edited before the release wrote its manifest."""
    tiny = tiny_project()
    spec_file = tiny.root / "labelspec.yaml"
    spec_file.write_text("extends: policy.yaml\n" + spec_file.read_text("utf-8"), "utf-8")
    policy = tiny.root / "policy.yaml"
    policy.write_text("labelspec: 1\nquality:\n  max_excluded_share: 0.2\n", "utf-8")
    used = policy.read_bytes()
    spec = load_spec(tiny.root)
    assert spec.extends == ("tiny/policy.yaml",) and dict(spec.policy_bytes) == {"tiny/policy.yaml": used}
    policy.write_bytes(used + b"# edited later\n")
    entries = {}
    for name, given in (("loaded", spec), ("in code", replace(spec, policy_bytes={}))):
        result = api.release(given, [tiny.labels], out=tmp_path / name)
        assert result.exit_code == 0, result.report.gates
        manifest = json.loads((tmp_path / name / "release-manifest.json").read_text("utf-8"))
        (entries[name],) = [i for i in manifest["inputs"] if i["path"].endswith("policy.yaml")]
    assert (entries["loaded"]["sha256"], entries["loaded"]["bytes"]) == (hashlib.sha256(used).hexdigest(), len(used))
    edited = policy.read_bytes()
    assert entries["in code"]["sha256"] == hashlib.sha256(edited).hexdigest()
