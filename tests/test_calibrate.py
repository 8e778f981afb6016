"""`labelspec calibrate`: scoring against hand-computed cases, Wilson intervals against statsmodels, the
roster update (preserved rows and columns, byte-identical re-runs, dry runs), edge cases, exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from labelspec import api
from labelspec.check import calibrate as cal
from labelspec.check.calibrate import GRADED_CI, NONE, CalibrationResult, _score_rows, update_roster
from labelspec.check.context import load_context, read_roster
from labelspec.check.runner import read_and_account
from labelspec.cli import main

REPO = Path(__file__).resolve().parents[1]

CHOICE_SPEC = """\
labelspec: 1
project: {id: tiny, title: Tiny, version: 1.0.0}
items: {file: items.jsonl, id: item_id, fields: {text: {type: text}}}
annotators: {file: annotators.csv}
tasks:
  sentiment:
    kind: single_choice
    question: Sentiment?
    labels:
      positive: {title: Positive, definition: Satisfied.}
      negative: {title: Negative, definition: Dissatisfied.}
      neutral: {title: Neutral, definition: Neither.}
    edge_cases:
      - {id: mixed-review, when: Praise and complaint., label: negative, why: Complaints are acted on.}
      - {id: sarcasm, when: Ironic praise., label: negative, why: Meaning wins over words.}
quality:
  calibration: {file: calibration.csv, min_accuracy: 0.75}
  provenance: {require: [annotator, timestamp, calibration]}
"""
CHOICE_CALIBRATION = """\
item,unit,task,label,why,edge_case
c1,,sentiment,positive,,
c2,,sentiment,negative,,mixed-review
c3,,sentiment,neutral,,
c4,,sentiment,negative,,sarcasm
"""
ROSTER = """\
id,role,name,email,calibration_score,calibration_n,calibration_passed,calibrated_at
ann2,annotator,Bo,bo@example.org,,,,
ann1,annotator,Al,al@example.org,0.1000,2,false,2025-12-01T00:00:00Z
lead,expert,Lee,lee@example.org,,,,
zed,annotator,Zed,zed@example.org,0.9000,20,true,2026-01-01T00:00:00Z
"""
# ann1: 3 of 4 right (c2 wrong: edge case mixed-review); one judgment on x1, not a calibration item.
# ann2: 2 of 4 (c3 wrong, no edge case; c4 wrong: sarcasm). new9: 3 of 3 answered, fewer than the 4 required.
ROUND = """\
item_id,task,annotator_id,label,created_at
c1,sentiment,ann1,positive,2026-03-01T10:01:00Z
c2,sentiment,ann1,positive,2026-03-01T10:02:00Z
c3,sentiment,ann1,neutral,2026-03-01T11:05:00+01:00
c4,sentiment,ann1,negative,2026-03-01T10:04:00Z
x1,sentiment,ann1,negative,2026-03-01T12:00:00Z
c1,sentiment,ann2,positive,2026-03-01T09:01:00Z
c2,sentiment,ann2,negative,2026-03-01T09:02:00Z
c3,sentiment,ann2,negative,2026-03-01T09:03:00Z
c4,sentiment,ann2,positive,2026-03-01T09:04:00Z
c1,sentiment,new9,positive,2026-03-01T08:01:00Z
c2,sentiment,new9,negative,2026-03-01T08:02:00Z
c3,sentiment,new9,neutral,2026-03-01T08:03:00Z
"""
SPAN_SPEC = """\
labelspec: 1
project: {id: spans, title: Spans, version: 1.0.0}
items: {file: items.jsonl, id: item_id, fields: {text: {type: text}}}
annotators: {file: annotators.csv}
tasks:
  entities:
    kind: spans
    field: text
    question: Mark products and brands.
    labels:
      PRODUCT: {title: Product, definition: A product.}
      BRAND: {title: Brand, definition: A brand.}
    edge_cases:
      - {id: brand-not-product, when: A brand name., label: BRAND, instead_of: [PRODUCT],
         why: Brands are not products.}
quality:
  calibration: {file: calibration.csv, min_accuracy: 0.6}
"""
SPAN_CALIBRATION = """\
item,unit,task,label,why,edge_case
c1,,entities,"[[0,5,""PRODUCT""],[10,14,""BRAND""]]",,brand-not-product
c2,,entities,[],,
c3,,entities,"[[2,6,""PRODUCT""]]",,brand-not-product
"""
# c1: BRAND marked as PRODUCT (F1 2·1/4 = 0.5, edge case attributed); c2: both empty (1.0);
# c3: PRODUCT boundary off by one (F1 0; the edge case's label BRAND is not involved, so not attributed).
SPAN_ROUND = """\
item_id,task,annotator_id,label,created_at
c1,entities,ann1,"[[0,5,""PRODUCT""],[10,14,""PRODUCT""]]",2026-03-01T10:01:00Z
c2,entities,ann1,[],2026-03-01T10:02:00Z
c3,entities,ann1,"[[2,7,""PRODUCT""]]",2026-03-01T10:03:00Z
"""


def _project(root: Path, spec: str, calibration: str, submission: str, roster: str = ROSTER) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    items = "".join(json.dumps({"item_id": i, "text": "Acme widget by Zeta, fine."}) + "\n"
                    for i in ("c1", "c2", "c3", "c4", "x1", "p1"))
    files = {"labelspec.yaml": spec, "calibration.csv": calibration, "annotators.csv": roster,
             "items.jsonl": items, "round.csv": submission}
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def choice(tmp_path: Path) -> Path:
    return _project(tmp_path / "tiny", CHOICE_SPEC, CHOICE_CALIBRATION, ROUND)


def _by_id(result: CalibrationResult) -> dict[str, dict[str, Any]]:
    return {a["annotator"]: a for a in result.to_dict()["annotators"]}


def test_scores_match_the_hand_computed_case(choice: Path) -> None:
    result = api.calibrate(choice, [choice / "round.csv"], dry_run=True)
    got = _by_id(result)
    assert sorted(got) == ["ann1", "ann2", "new9"]
    assert (got["ann1"]["n"], got["ann1"]["score"], got["ann1"]["passed"]) == (4, 0.75, True)
    assert (got["ann2"]["n"], got["ann2"]["score"], got["ann2"]["passed"]) == (4, 0.5, False)
    assert got["ann2"]["fail_reason"] == "score 0.500 < min_accuracy 0.75"
    assert (got["new9"]["n"], got["new9"]["score"], got["new9"]["passed"]) == (3, 1.0, False)
    assert got["new9"]["fail_reason"] == "answered 3 of the 4 calibration rows required"
    assert got["new9"]["missing"] == 1
    assert result.min_items == 4 and result.failed == ("ann2", "new9")
    assert result.to_dict()["judgments"]["ignored"] == {"not_in_calibration_set": 1, "text_not_scored": 0}
    assert result.to_dict()["judgments"]["scored"] == 11
    conf = {(c["reference"], c["given"]): c["count"] for c in got["ann1"]["confusion"]}
    assert conf == {("negative", "negative"): 1, ("negative", "positive"): 1, ("neutral", "neutral"): 1,
                    ("positive", "positive"): 1}


def test_wrong_edge_cases_are_attributed_by_id(choice: Path) -> None:
    got = _by_id(api.calibrate(choice, [choice / "round.csv"], dry_run=True))
    assert got["ann1"]["wrong_edge_cases"] == {"mixed-review": 1}
    assert got["ann2"]["wrong_edge_cases"] == {"sarcasm": 1}  # c3 was wrong too, but carries no edge case
    assert got["new9"]["wrong_edge_cases"] == {}


@pytest.mark.parametrize(("annotator", "k", "n"), [("ann1", 3, 4), ("ann2", 2, 4), ("new9", 3, 3)])
def test_wilson_interval_matches_statsmodels(choice: Path, annotator: str, k: int, n: int) -> None:
    a = _by_id(api.calibrate(choice, [choice / "round.csv"], dry_run=True))[annotator]
    low, high = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert a["ci_low"] == pytest.approx(low, abs=1e-12)
    assert a["ci_high"] == pytest.approx(high, abs=1e-12)


def test_roster_update_preserves_rows_columns_and_order(choice: Path) -> None:
    result = api.calibrate(choice, [choice / "round.csv"])
    assert result.roster_status == "written"
    assert (choice / "annotators.csv").read_text(encoding="utf-8") == (
        "id,role,name,email,calibration_score,calibration_n,calibration_passed,calibrated_at\n"
        "ann2,annotator,Bo,bo@example.org,0.5000,4,false,2026-03-01T09:04:00Z\n"
        "ann1,annotator,Al,al@example.org,0.7500,4,true,2026-03-01T10:05:00Z\n"
        "lead,expert,Lee,lee@example.org,,,,\n"
        "zed,annotator,Zed,zed@example.org,0.9000,20,true,2026-01-01T00:00:00Z\n"
        "new9,annotator,,,1.0000,3,false,2026-03-01T08:03:00Z\n")


def test_writing_the_specs_own_roster_says_the_spec_digest_changed(choice: Path, tmp_path: Path) -> None:
    before = api.load_spec(choice).digest
    result = api.calibrate(choice, [choice / "round.csv"])
    assert result.spec_digest_changed and api.load_spec(choice).digest != before  # what the note claims
    assert result.to_dict()["roster"]["spec_digest_changed"] is True
    assert "run `labelspec compile`" in cal.render_text(result.to_dict())
    again = api.calibrate(choice, [choice / "round.csv"])  # unchanged: the digest did not move
    assert not again.spec_digest_changed and "labelspec compile" not in cal.render_text(again.to_dict())
    elsewhere = api.calibrate(choice, [choice / "round.csv"], roster=tmp_path / "other.csv")
    assert elsewhere.roster_status == "created" and not elsewhere.spec_digest_changed


def test_rerun_is_byte_identical(choice: Path) -> None:
    api.calibrate(choice, [choice / "round.csv"])
    first = (choice / "annotators.csv").read_bytes()
    again = api.calibrate(choice, [choice / "round.csv"])
    assert again.roster_status == "unchanged"
    assert (choice / "annotators.csv").read_bytes() == first


def test_dry_run_writes_nothing(choice: Path) -> None:
    before = {p.name: p.read_bytes() for p in sorted(choice.iterdir())}
    result = api.calibrate(choice, [choice / "round.csv"], dry_run=True)
    assert result.roster_status == "dry-run"
    assert {p.name: p.read_bytes() for p in sorted(choice.iterdir())} == before


def test_roster_without_calibration_columns_gets_them_appended(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", CHOICE_SPEC, CHOICE_CALIBRATION, ROUND,
                    roster="id,role\nlead,expert\nann1,annotator\n")
    api.calibrate(root, [root / "round.csv"])
    assert (root / "annotators.csv").read_text(encoding="utf-8").splitlines() == [
        "id,role,name,calibration_score,calibration_n,calibration_passed,calibrated_at",
        "lead,expert,,,,,", "ann1,annotator,,0.7500,4,true,2026-03-01T10:05:00Z",
        "ann2,annotator,,0.5000,4,false,2026-03-01T09:04:00Z",
        "new9,annotator,,1.0000,3,false,2026-03-01T08:03:00Z"]


def test_an_annotator_id_with_a_carriage_return_survives_the_roster(tmp_path: Path) -> None:
    """Quoted when written, so the roster stays readable (unquoted, the row split in two: LS312 on the next run)."""
    round_ = ROUND.replace(",new9,", ',"new\r9",')
    root = _project(tmp_path / "p", CHOICE_SPEC, CHOICE_CALIBRATION, round_)
    api.calibrate(root, [root / "round.csv"])
    assert '"new\r9","annotator"' in (root / "annotators.csv").read_bytes().decode("utf-8")
    assert "new\r9" in read_roster(root / "annotators.csv")
    api.calibrate(root, [root / "round.csv"])  # and reads it back


def test_a_new_roster_is_started_when_none_exists(choice: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "roster.csv"
    api.calibrate(choice, [choice / "round.csv"], roster=target)
    assert target.read_text(encoding="utf-8").splitlines()[:2] == [
        "id,role,name,calibration_score,calibration_n,calibration_passed,calibrated_at",
        "ann1,annotator,,0.7500,4,true,2026-03-01T10:05:00Z"]
    header = "id,role,name,calibration_score,calibration_n,calibration_passed,calibrated_at\n"
    assert update_roster(None, ()) == header


def test_calibration_judgments_are_not_excluded_for_missing_calibration(choice: Path) -> None:
    """The roster says ann1 failed and new9 is unknown; their calibration judgments still count."""
    result = api.calibrate(choice, [choice / "round.csv"], dry_run=True)
    assert result.accounting.excluded_by_reason == {}
    assert result.accounting.rows_read == 12


def test_check_excludes_judgments_made_before_calibrated_at(choice: Path) -> None:
    api.calibrate(choice, [choice / "round.csv"])
    spec = api.load_spec(choice)
    calibrated_at = read_roster(choice / "annotators.csv")["ann1"].calibrated_at
    assert calibrated_at is not None and calibrated_at.isoformat() == "2026-03-01T10:05:00+00:00"
    work = choice / "work.csv"
    work.write_text("item_id,task,annotator_id,label,created_at\n"
                    "p1,sentiment,ann1,positive,2026-03-01T10:04:59Z\n"
                    "p1,sentiment,ann2,positive,2026-03-02T10:00:00Z\n"
                    "x1,sentiment,ann1,positive,2026-03-01T10:05:00Z\n", encoding="utf-8")
    acc = read_and_account(spec, load_context(spec, choice), [work], ["work.csv"])
    assert acc.exclusions[["line", "reason"]].values.tolist() == [
        [2, "before_calibration"], [3, "not_calibrated"]]
    assert acc.used["item"].tolist() == ["x1"]


def test_spans_are_scored_by_exact_f1_with_confusion_and_edge_cases(tmp_path: Path) -> None:
    root = _project(tmp_path / "s", SPAN_SPEC, SPAN_CALIBRATION, SPAN_ROUND)
    a = _by_id(api.calibrate(root, [root / "round.csv"], dry_run=True))["ann1"]
    assert a["score"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert (a["ci_low"], a["ci_high"], a["ci_reason"]) == (None, None, GRADED_CI)
    assert a["wrong_edge_cases"] == {"brand-not-product": 1}
    conf = {(c["reference"], c["given"]): c["count"] for c in a["confusion"]}
    assert conf == {("PRODUCT", "PRODUCT"): 1, ("BRAND", "PRODUCT"): 1, ("PRODUCT", NONE): 1,
                    (NONE, "PRODUCT"): 1}
    assert a["passed"] is False and a["fail_reason"] == "score 0.500 < min_accuracy 0.6"


ROW_CASES = [  # kind, reference, given, hand-computed score
    ("multi_choice", '["a","b"]', '["b","a"]', 1.0),
    ("multi_choice", '["a"]', '["a","b"]', 0.0),
    ("multi_choice", "[]", "[]", 1.0),
    ("ranking", '["x","y","z"]', '["x","y","z"]', 1.0),
    ("ranking", '["x","y","z"]', '["y","x","z"]', 0.0),
    ("attribution", '{"agent":"coder","step":3}', '{"step":4,"agent":"coder"}', 1.0),  # the agent is scored
    ("attribution", '{"agent":"coder","step":3}', '{"agent":"planner","step":3}', 0.0),
    ("rating", "3", "3", 1.0),
    ("rating", "3", "4", 0.0),
    ("spans", '[[0,3,"A"],[4,6,"B"],[7,9,"A"]]', '[[0,3,"A"],[4,6,"A"]]', 2 * 1 / (3 + 2)),
    ("spans", "[]", '[[0,1,"A"]]', 0.0),
    ("spans", '[[0,3,"A"],[4,6,"B"]]', '[[4,6,"B"],[0,3,"A"]]', 1.0),
    ("multi_choice", '["a","b"]', '["b","a"]', 1.0),  # a repeated (kind, value) is parsed once, scored twice
]


def test_row_scores_per_kind_in_one_vectorised_call() -> None:
    kinds, ref, given, expected = (np.array(col, dtype=object) for col in zip(*ROW_CASES, strict=True))
    assert _score_rows(kinds, ref, given).score.tolist() == pytest.approx(expected.astype(float).tolist())


def _run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0)


def test_cli_exit_codes_and_json(choice: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["calibrate", str(choice), str(choice / "round.csv"), "--dry-run"]
    assert _run(args) == 0  # two annotators failed: information, not a tool failure
    out = capsys.readouterr().out
    assert "ann2" in out and "NO" in out and "mixed-review×1" in out
    assert _run([*args, "--require-all"]) == 1
    report = tmp_path / "report.json"
    assert _run([*args, "--json", str(report)]) == 0
    text = report.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    summary = json.loads(text)["summary"]
    assert summary == {"failed": 2, "failed_ids": ["ann2", "new9"], "passed": 1, "scored": 3}
    assert "NaN" not in text and not (tmp_path / "tiny" / ".annotators.csv.tmp").exists()


def test_cli_usage_errors_exit_2(choice: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stray = choice / "stray.csv"
    stray.write_text("item_id,task,annotator_id,label,created_at\n"
                     "x1,sentiment,ann1,positive,2026-03-01T10:00:00Z\n", encoding="utf-8")
    assert _run(["calibrate", str(choice), str(stray)]) == 2
    assert "LS501" in capsys.readouterr().err
    stray.write_text("item_id,task,annotator_id,label,created_at\n"
                     "c1,sentiment,ann1,nonsense,2026-03-01T10:00:00Z\n", encoding="utf-8")
    assert _run(["calibrate", str(choice), str(stray)]) == 2
    assert "(every row was excluded: 1 invalid_value)" in capsys.readouterr().err  # says what excluded them
    stray.write_text("item_id,task,annotator_id,label,created_at\n"
                     "zz,sentiment,ann1,positive,2026-03-01T10:00:00Z\n", encoding="utf-8")
    assert _run(["calibrate", str(choice), str(stray)]) == 2
    err = capsys.readouterr().err  # the submissions' items are unknown, not the calibration set's (LS312 at validate)
    assert "(every row was excluded: 1 unknown_item)" in err and "hint: the submitted items are not in the items" in err
    no_cal = choice.parent / "nocal"
    _project(no_cal, CHOICE_SPEC.replace("  calibration: {file: calibration.csv, min_accuracy: 0.75}\n", ""),
             CHOICE_CALIBRATION, ROUND)
    assert _run(["calibrate", str(no_cal), str(no_cal / "round.csv")]) == 2
    bad_roster = choice / "bad.csv"
    bad_roster.write_text("id,role\nann1,boss\n", encoding="utf-8")
    assert _run(["calibrate", str(choice), str(choice / "round.csv"), "--roster", str(bad_roster)]) == 2
    assert bad_roster.read_text(encoding="utf-8") == "id,role\nann1,boss\n"


EXAMPLES = sorted(p.parent.parent for p in (REPO / "specs").glob("*/calibration/round-1.csv"))


@pytest.mark.parametrize("project", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_projects_reproduce_their_roster_scores(project: Path, tmp_path: Path) -> None:
    work = tmp_path / project.name
    shutil.copytree(project, work)
    spec = api.load_spec(work)
    shipped = read_roster(work / spec.annotators.file)  # type: ignore[union-attr]
    result = api.calibrate(work, [work / "calibration" / "round-1.csv"])
    assert result.annotators and result.exit_code() == 0
    written = read_roster(work / spec.annotators.file)  # type: ignore[union-attr]
    for a in result.annotators:
        old, new = shipped[a.annotator], written[a.annotator]
        assert (new.calibration_score, new.calibration_n, new.passed) == (
            old.calibration_score, old.calibration_n, old.passed), a.annotator
        assert new.calibrated_at is not None and old.calibrated_at is not None
        assert new.calibrated_at <= old.calibrated_at  # the shipped roster may add a margin; never earlier
    untouched = set(shipped) - {a.annotator for a in result.annotators}
    assert all(written[i] == shipped[i] for i in untouched)
    first = (work / spec.annotators.file).read_bytes()  # type: ignore[union-attr]
    assert api.calibrate(work, [work / "calibration" / "round-1.csv"]).roster_status == "unchanged"
    assert (work / spec.annotators.file).read_bytes() == first  # type: ignore[union-attr]
