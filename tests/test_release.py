"""Release: gate refusal and overrides, held-back units, provenance on every row, preference pairs, Parquet and
JSONL agreeing, byte-identical output, and the ``labelspec release`` command's exit codes and atomic writes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_decide import accounting, gold, lab, make_spec, votes, write_project

from labelspec.check.context import Context, Items, RosterEntry
from labelspec.check.decide import decide_all
from labelspec.check.gates import GateResult, Measure, evaluate
from labelspec.check.release import (
    DATASET_JSONL,
    DATASET_PARQUET,
    MANIFEST,
    PAIRS_JSONL,
    build_release,
    resolve_gates,
)
from labelspec.cli import main
from labelspec.errors import UsageError
from labelspec.spec.model import ItemField, ItemsSource, Task
from labelspec.spec.plan import Gate

INTENT = Task(name="intent", kind="single_choice", question="q", labels=(lab("a"), lab("b"), lab("c")))


def _gate(gid: str, value: float, severity: str = "error") -> GateResult:
    gate = Gate(id=gid, metric="m", comparator=">=", threshold=0.5, severity=severity)  # type: ignore[arg-type]
    return evaluate(gate, Measure(value, n=10))


GATES = (_gate("agreement.intent", 0.2), _gate("gold.accuracy", 0.9), _gate("distribution.x", 0.1, "warn"))


def test_failing_blocking_gate_is_refused_unless_accepted_with_a_reason() -> None:
    assert resolve_gates(GATES, []).refused == ("agreement.intent",)
    v = resolve_gates(GATES, [("agreement.intent", "pilot batch"), ("gold.accuracy", "belt and braces")])
    assert v.refused == ()
    assert [(o["gate"], o["reason"], o["status"], o["applied"]) for o in v.overrides] == [
        ("agreement.intent", "pilot batch", "fail", True), ("gold.accuracy", "belt and braces", "pass", False)]
    assert resolve_gates(GATES, [], strict=True).refused == ("agreement.intent", "distribution.x")


@pytest.mark.parametrize("accept", [[("nope", "x")], [("gold.accuracy", " ")],
                                    [("gold.accuracy", "a"), ("gold.accuracy", "b")]])
def test_bad_overrides_are_usage_errors(accept: list[tuple[str, str]]) -> None:
    with pytest.raises(UsageError):
        resolve_gates(GATES, accept)


ROSTER = {f"n{i}": RosterEntry(id=f"n{i}", role="annotator", calibration_score=0.8 + i / 10, passed=True)
          for i in range(3)}


def _release(method: str = "majority") -> tuple[dict[str, bytes], dict[str, object]]:
    rows = votes("intent", {"i1": "aab", "i2": "ab", "i3": "ccc", "g1": "bbb", "k1": "aaa"})
    spec = make_spec(INTENT, min_support=0.6, method=method)
    acc = accounting(rows, expert=[("i2", "", "intent", "ex", "b")])
    ctx = Context(roster=ROSTER, gold=gold([("g1", "intent", "b")]), calibration=gold([("k1", "intent", "a")]))
    dec = decide_all(spec, acc, ctx)
    return build_release(spec, dec, acc, ctx, gates=GATES, verdict=resolve_gates(GATES, [("agreement.intent", "r")]),
                         inputs=[{"path": "x", "sha256": "0", "bytes": 0}], released_at=None, tool_version="0")


def test_dataset_rows_provenance_and_held_back_units() -> None:
    files, counts = _release()
    rows = [json.loads(line) for line in files[DATASET_JSONL].decode().splitlines()]
    assert [(r["item"], r["label"], r["decided_by"]) for r in rows] == [
        ("i1", "a", "majority"), ("i2", "b", "expert"), ("i3", "c", "unanimous")]
    assert counts == {"released": 3, "expert_conflicts": 0, "preference_pairs": 0,
                      "held_back": {"calibration_item": 1, "gold_item": 1}}
    for r in rows:
        assert (r["spec_id"], r["spec_version"], r["spec_digest"]) == ("t", "1.0.0", "sha256:" + "0" * 64)
        assert r["judgments"] and all(j["timestamp"] and j["source"].startswith("l.csv:") for j in r["judgments"])
    i1 = rows[0]["judgments"]
    assert [(j["annotator"], j["value"], j["calibration_score"], j["lead_time"]) for j in i1] == [
        ("n0", "a", 0.8, 5.0), ("n1", "a", 0.9, 5.0), ("n2", "b", 1.0, 5.0)]
    roles = [(j["annotator"], j["role"]) for j in rows[1]["judgments"]]
    assert roles == [("ex", "expert"), ("n0", "annotator"), ("n1", "annotator")]  # in time order
    assert rows[1]["expert"] == "ex" and rows[1]["proposed"] is None


def test_an_annotator_never_calibrated_has_no_calibration_verdict() -> None:
    """Without a calibration in the roster, "passed: false" would read as a failed calibration (audit)."""
    rows = votes("intent", {"i1": "aab"})
    roster = {**ROSTER, "n2": RosterEntry(id="n2", role="annotator"),
              "n1": RosterEntry(id="n1", role="annotator", calibration_score=0.5, passed=False)}
    spec, acc, ctx = make_spec(INTENT), accounting(rows), Context(roster=roster)
    files, _ = build_release(spec, decide_all(spec, acc, ctx), acc, ctx, gates=(), verdict=resolve_gates((), []),
                             inputs=[], released_at=None, tool_version="0")
    (row,) = [json.loads(line) for line in files[DATASET_JSONL].decode().splitlines()]
    assert [(j["annotator"], j["calibration_passed"]) for j in row["judgments"]] == [
        ("n0", True), ("n1", False), ("n2", None)]


def test_text_task_units_are_counted_as_held_back() -> None:
    """Free text has no consensus to release: its units are counted (they left the manifest unaccounted for)."""
    note = Task(name="note", kind="text", question="q")
    rows = [*votes("intent", {"i1": "aaa"}), *votes("note", {"i1": ["x", "y"], "i2": ["z"], "g1": ["w"]})]
    spec = make_spec(INTENT, note)
    acc = accounting(rows)
    ctx = Context(gold=gold([("g1", "intent", "b")]))
    _, counts = build_release(spec, decide_all(spec, acc, ctx), acc, ctx, gates=(), verdict=resolve_gates((), []),
                              inputs=[], released_at=None, tool_version="0")
    # i1 and i2 are free text; g1 is a gold item (of the intent task: no item of a gold file is released)
    assert counts["released"] == 1 and counts["held_back"] == {"free_text": 2, "gold_item": 1}


def test_parquet_holds_the_same_rows_as_jsonl() -> None:
    files, _ = _release("dawid_skene")
    table = pq.read_table(io.BytesIO(files[DATASET_PARQUET])).to_pylist()
    rows = [json.loads(line) for line in files[DATASET_JSONL].decode().splitlines()]
    assert [{**r, "detail": json.loads(r["detail"])} for r in table] == rows  # Parquet: detail as JSON text
    posterior = rows[0]["detail"]["posterior"]
    assert set(posterior) == {"a", "b", "c"} and rows[0]["support"] == pytest.approx(max(posterior.values()), abs=1e-6)


def test_manifest_hashes_outputs_and_records_overrides() -> None:
    import hashlib

    files, _ = _release()
    m = json.loads(files[MANIFEST])
    assert {o["path"]: o["sha256"] for o in m["outputs"]} == {
        name: hashlib.sha256(files[name]).hexdigest() for name in (DATASET_JSONL, DATASET_PARQUET)}
    assert m["overrides"][0]["gate"] == "agreement.intent" and m["overrides"][0]["reason"] == "r"
    assert [g["id"] for g in m["gates"]] == [g.gate.id for g in GATES] and m["released_at"] is None


def test_release_bytes_are_identical_across_builds() -> None:
    assert _release()[0] == _release()[0]


def test_units_whose_experts_disagree_are_counted_in_the_manifest() -> None:
    rows = votes("intent", {"i1": "aab", "i2": "ab"})
    spec = make_spec(INTENT, min_support=0.6)
    experts = [("i2", "", "intent", "ex", "b"), ("i2", "", "intent", "ey", "c"),  # disagree: the latest stands
               ("i1", "", "intent", "ex", "a"), ("i1", "", "intent", "ey", "a")]  # agree
    acc = accounting(rows, expert=experts)
    ctx = Context(roster=ROSTER)
    files, counts = build_release(spec, decide_all(spec, acc, ctx), acc, ctx, gates=(),
                                  verdict=resolve_gates((), []), inputs=[], released_at=None, tool_version="0")
    assert counts["released"] == 2 and counts["expert_conflicts"] == 1
    assert json.loads(files[MANIFEST])["rows"]["expert_conflicts"] == 1


def test_preference_pairs_with_support_and_texts() -> None:
    pref = Task(name="pref", kind="pairwise", question="q")
    items = Items(ids=None, fields={"response_a": {"p1": "one", "p2": "uno"}, "response_b": {"p1": "two", "p2": "dos"}})
    spec = make_spec(pref, min_support=0.6)
    spec = type(spec)(**{**{f: getattr(spec, f) for f in spec.__slots__},  # type: ignore[attr-defined]
                         "items": ItemsSource(file="i.jsonl", fields=(ItemField(name="response_a", type="text"),
                                                                      ItemField(name="response_b", type="text")))})
    acc = accounting(votes("pref", {"p1": "BBA", "p2": ["tie", "tie", "tie"]}))
    ctx = Context(items=items)
    files, counts = build_release(spec, decide_all(spec, acc, ctx), acc, ctx, gates=(), verdict=resolve_gates((), []),
                                  inputs=[], released_at=None, tool_version="0")
    pairs = [json.loads(line) for line in files[PAIRS_JSONL].decode().splitlines()]
    assert counts["preference_pairs"] == 1  # a unanimous "tie" is released but is no preference pair
    assert pairs == [{"task": "pref", "item": "p1", "unit": "", "chosen": "B", "rejected": "A", "support": 2 / 3,
                      "decided_by": "pairwise", "spec_digest": spec.digest, "chosen_text": "two",
                      "rejected_text": "one"}]


def test_preference_pairs_carry_the_items_prompt_when_there_is_one() -> None:
    pref = Task(name="pref", kind="pairwise", question="q")
    items = Items(ids=None, fields={"prompt": {"p1": "Say \"hi\""}, "response_a": {"p1": "hi", "p2": "1"},
                                    "response_b": {"p1": "hello", "p2": "2"}})
    spec = make_spec(pref, min_support=0.6)
    fields = (ItemField(name="prompt", type="text"), ItemField(name="response_a", type="text"),
              ItemField(name="response_b", type="text"))
    spec = type(spec)(**{**{f: getattr(spec, f) for f in spec.__slots__},  # type: ignore[attr-defined]
                         "items": ItemsSource(file="i.jsonl", fields=fields)})
    acc = accounting(votes("pref", {"p1": "AAB", "p2": "BBB"}))
    ctx = Context(items=items)
    files, _ = build_release(spec, decide_all(spec, acc, ctx), acc, ctx, gates=(), verdict=resolve_gates((), []),
                             inputs=[], released_at=None, tool_version="0")
    pairs = [json.loads(line) for line in files[PAIRS_JSONL].decode().splitlines()]
    # what a DPO trainer reads: the prompt and the two texts (a quote in the prompt survives the JSON); an item
    # without a prompt gives null, not a dropped line
    assert [(p["prompt"], p["chosen_text"], p["rejected_text"]) for p in pairs] == [
        ('Say "hi"', "hi", "hello"), (None, "2", "1")]


# --- the command ---------------------------------------------------------------------------------------------


def _run(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return int(exc.value.code or 0)


def test_release_refused_writes_nothing_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    write_project(tmp_path / "proj", n3_gold="status")  # n3 misses the only gold item: gold.accuracy fails
    monkeypatch.chdir(tmp_path)
    assert _run(["release", "proj/labelspec.yaml", "proj/labels", "--out", "rel", "--bootstrap", "0"]) == 1
    assert not (tmp_path / "rel").exists()
    assert "release refused: blocking gate gold.accuracy failed" in capsys.readouterr().err


def test_release_override_path_records_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(tmp_path / "proj", n3_gold="status")
    monkeypatch.chdir(tmp_path)
    args = ["release", "proj/labelspec.yaml", "proj/labels", "--out", "rel", "--bootstrap", "0",
            "--accept-failing", "gold.accuracy", "--reason", "one gold item; n3 retrained"]
    assert _run(args) == 0
    m = json.loads((tmp_path / "rel" / MANIFEST).read_text())
    assert m["overrides"] == [{"gate": "gold.accuracy", "reason": "one gold item; n3 retrained", "status": "fail",
                               "applied": True, "value": 0.0, "threshold": 0.5}]
    assert [i["path"] for i in m["inputs"]] == ["proj/labelspec.yaml", "proj/items.jsonl", "proj/annotators.csv",
                                                "proj/gold.csv", "proj/labels/batch.csv"]
    assert _run(args[:-2]) == 2  # --accept-failing without its --reason is a usage error


def test_release_is_byte_identical_and_carries_provenance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(tmp_path / "proj", expert=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1772409600")
    trees = []
    for out in ("r1", "r2"):
        assert _run(["release", "proj/labelspec.yaml", "proj/labels", "--out", out, "--bootstrap", "0"]) == 0
        trees.append({p.name: p.read_bytes() for p in sorted((tmp_path / out).iterdir())})
    assert trees[0] == trees[1]
    assert sorted(trees[0]) == [DATASET_JSONL, DATASET_PARQUET, MANIFEST]
    rows = [json.loads(line) for line in trees[0][DATASET_JSONL].decode().splitlines()]
    # a2 (2/3 < 0.7) waits for review; a3 was decided by the expert; g1 is gold
    assert [(r["item"], r["label"], r["decided_by"]) for r in rows] == [("a1", "refund", "unanimous"),
                                                                        ("a3", "refund", "expert")]
    assert all(j["calibration_score"] is not None for r in rows for j in r["judgments"] if j["role"] == "annotator")
    m = json.loads(trees[0][MANIFEST])
    assert m["released_at"] == "2026-03-02T00:00:00Z"
    assert m["rows"] == {"released": 2, "expert_conflicts": 0, "preference_pairs": 0,
                         "held_back": {"gold_item": 1, "needs_review": 1}}


def test_a_release_that_fails_while_streaming_leaves_the_previous_release(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The dataset is streamed into a temporary folder: a disk that fills up half-way leaves the last release
    exactly as it was and exits 2 with the folder named."""
    import labelspec.check.release as rel

    write_project(tmp_path / "proj", expert=True)
    monkeypatch.chdir(tmp_path)
    args = ["release", "proj/labelspec.yaml", "proj/labels", "--out", "rel", "--bootstrap", "0"]
    assert _run(args) == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "rel").iterdir()}

    def half_then_full(*a: object, **k: object) -> None:
        k["jsonl"].write(b'{"half": ')  # type: ignore[union-attr]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rel, "write_dataset", half_then_full)
    assert _run(args) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (tmp_path / "rel").iterdir()} == before  # no temp folder left either


def test_a_gold_override_never_releases_the_specs_own_gold_items(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`--gold` replaces the gold file for scoring; the spec's hidden gold items stay hidden (QA: a smaller
    --gold file released them)."""
    write_project(tmp_path / "proj", expert=True)
    (tmp_path / "other-gold.csv").write_text("item,unit,task,label\n", "utf-8")
    monkeypatch.chdir(tmp_path)
    args = ["release", "proj/labelspec.yaml", "proj/labels", "--out", "rel", "--bootstrap", "0", "--gold",
            "other-gold.csv", "--accept-failing", "gold.accuracy", "--reason", "no gold this round"]
    assert _run(args) == 0
    rows = [json.loads(line) for line in (tmp_path / "rel" / DATASET_JSONL).read_text().splitlines()]
    assert "g1" not in {r["item"] for r in rows} and {r["item"] for r in rows} == {"a1", "a3"}
    m = json.loads((tmp_path / "rel" / MANIFEST).read_text())
    assert m["rows"]["held_back"]["gold_item"] == 1


def test_release_removes_only_release_files_it_wrote_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A preference-pairs.jsonl no release wrote stays; one the previous release's manifest lists, and this one
    does not write again, goes (QA: a user's file of that name was deleted)."""
    write_project(tmp_path / "proj", expert=True)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rel").mkdir()
    (tmp_path / "rel" / "preference-pairs.jsonl").write_text("mine\n", "utf-8")
    args = ["release", "proj/labelspec.yaml", "proj/labels", "--out", "rel", "--bootstrap", "0"]
    assert _run(args) == 0
    assert (tmp_path / "rel" / "preference-pairs.jsonl").read_text("utf-8") == "mine\n"
    manifest = json.loads((tmp_path / "rel" / MANIFEST).read_text())
    manifest["outputs"].append({"path": "preference-pairs.jsonl", "sha256": "0" * 64, "bytes": 5})
    (tmp_path / "rel" / MANIFEST).write_text(json.dumps(manifest))
    assert _run(args) == 0 and not (tmp_path / "rel" / "preference-pairs.jsonl").exists()


@pytest.mark.parametrize("out", ["proj", "proj/labels"])
def test_release_is_not_written_among_the_spec_or_label_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              out: str) -> None:
    write_project(tmp_path / "proj", expert=True)
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in (tmp_path / out).iterdir())
    assert _run(["release", "proj/labelspec.yaml", "proj/labels", "--out", out, "--bootstrap", "0"]) == 2
    assert sorted(p.name for p in (tmp_path / out).iterdir()) == before


def test_release_bytes_do_not_depend_on_the_working_directory(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths in the release are named from the spec's repository (as compile names them), never from the working
    directory and never absolute (QA: `../proj/...`, `tmp/...` or `/tmp/...` depending on where it ran)."""
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    write_project(tmp_path / "repo" / "proj", expert=True)
    (tmp_path / "repo" / "sub").mkdir()
    trees = []
    for cwd, prefix in ((tmp_path / "repo", ""), (tmp_path / "repo" / "sub", "../"), (tmp_path, "repo/"),
                        (Path("/"), str(tmp_path / "repo") + "/")):
        monkeypatch.chdir(cwd)
        out = tmp_path / f"rel-{len(trees)}"
        assert _run(["release", prefix + "proj", prefix + "proj/labels", "--out", str(out), "--bootstrap", "0"]) == 0
        trees.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert all(t == trees[0] for t in trees[1:])
    manifest = json.loads(trees[0][MANIFEST])
    assert manifest["spec"]["path"] == "proj/labelspec.yaml"
    assert [i["path"] for i in manifest["inputs"]][-2:] == ["proj/labels/batch.csv", "proj/labels/expert.csv"]
    assert str(tmp_path) not in trees[0][DATASET_JSONL].decode()


def test_an_override_of_a_passing_gate_is_not_printed_as_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    write_project(tmp_path / "proj", expert=True)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    args = ["release", "proj/labelspec.yaml", "proj/labels", "--out", "rel", "--bootstrap", "0",
            "--accept-failing", "gold.accuracy", "--reason", "just in case"]
    assert _run(args) == 0
    err = capsys.readouterr().err
    assert "not needed, the gate did not fail: gold.accuracy (pass): just in case" in err and "accepted" not in err
    assert json.loads((tmp_path / "rel" / MANIFEST).read_text())["overrides"][0]["applied"] is False


def test_release_shows_spec_problems_at_the_path_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    write_project(tmp_path / "repo" / "proj")
    spec = tmp_path / "repo" / "proj" / "labelspec.yaml"
    spec.write_text(spec.read_text("utf-8") + "bogus: 1\n", "utf-8")
    (tmp_path / "repo" / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "repo" / "sub")
    capsys.readouterr()
    assert _run(["release", "../proj", "../proj/labels", "--out", "../rel"]) == 2
    assert "../proj/labelspec.yaml:" in capsys.readouterr().err
