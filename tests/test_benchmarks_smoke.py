"""Smoke test of the benchmark tooling at 2k judgments: the generator writes a valid, deterministic project and the
runner measures the floor and the check on it. Untimed: speed is measured by ``make bench``, never by the tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from labelspec import api

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _generate(out: Path, kind: str = "single_choice", n: str = "2k") -> dict:
    proc = subprocess.run([sys.executable, str(BENCH / "generate.py"), "--judgments", n, "--kind", kind,
                           "--out", str(out)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench") / "2k"
    _generate(out)
    return out


def test_generated_project_has_the_promised_shape(project: Path) -> None:
    meta = json.loads((project / "meta.json").read_text(encoding="utf-8"))
    assert meta["judgments"] == 2000
    table = pq.read_table(project / "labels.parquet")
    assert table.column_names == ["item_id", "annotator_id", "label"]
    frame = table.to_pandas()
    per_item = frame.groupby("item_id")["annotator_id"].agg(["size", "nunique"])
    assert per_item["size"].between(1, 5).all()
    assert (per_item["size"] == per_item["nunique"]).all()  # no annotator judges an item twice
    assert len(per_item) == meta["items"] and 600 < meta["items"] < 750  # 3 judgments per item on average
    assert frame["item_id"].str.fullmatch(r"i\d{7}").all() and frame["annotator_id"].str.fullmatch(r"a\d{4}").all()
    assert set(frame["label"]) == {"positive", "negative", "neutral", "mixed"}
    gold = pacsv.read_csv(project / "gold.csv").to_pandas()
    assert len(gold) == meta["gold_items"] == round(0.02 * meta["items"])
    assert set(gold["item"]) <= set(frame["item_id"])
    csv = pacsv.read_csv(project / "labels.csv").to_pandas()
    assert csv.equals(frame)  # the same judgments in both formats, same order
    assert not (project / "labels.csv").read_bytes().startswith(b'"')  # plain header, no quotes


def test_generator_is_deterministic(project: Path, tmp_path: Path) -> None:
    _generate(tmp_path / "again")
    for name in ("labels.csv", "gold.csv", "labelspec.yaml"):
        assert (tmp_path / "again" / name).read_bytes() == (project / name).read_bytes()


@pytest.mark.parametrize("kind", ["single_choice", "spans", "ranking"])
def test_generated_spec_is_valid_and_every_row_is_used(kind: str, tmp_path: Path) -> None:
    _generate(tmp_path, kind)
    report = api.check_labels(tmp_path / "labelspec.yaml", [tmp_path / "labels.parquet"], bootstrap=0)
    acc = report.to_dict()["accounting"]
    assert acc["rows_read"] == 2000 and acc["rows_excluded"] == 0, acc["excluded_by_reason"]


def test_runner_measures_floor_and_check(project: Path) -> None:
    data = project.parent
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--sizes", "2k", "--formats", "parquet,csv",
                           "--what", "floor,check", "--repeat", "1", "--bootstrap", "50", "--data", str(data)],
                          capture_output=True, text=True, check=True)
    assert "| 2k | single_choice | parquet | check |" in proc.stdout
    results = json.loads(next(data.glob("results-*.json")).read_text(encoding="utf-8"))
    rows = {(r["format"], r["what"]): r for r in results["rows"]}
    assert set(rows) == {(f, w) for f in ("parquet", "csv") for w in ("floor", "check")}
    for fmt in ("parquet", "csv"):
        floor, check = rows[fmt, "floor"], rows[fmt, "check"]
        assert floor["rows"] == 2000 and floor["distinct"]["label"] == 4
        assert check["rows_used"] == 2000 and check["exit_code"] in (0, 1)
        assert check["ratio_wall"] == pytest.approx(check["seconds"] / floor["seconds"])
        assert 50 < check["peak_rss_mib"] < 4096


def _run_on_a_copy(project: Path, data: Path, fmt: str, what: str) -> subprocess.CompletedProcess[str]:
    """``run.py`` on a copy of the 2k project under ``data`` (what it writes stays out of the shared one)."""
    (data / "2k").mkdir(parents=True)
    for f in project.iterdir():
        (data / "2k" / f.name).write_bytes(f.read_bytes())
    return subprocess.run([sys.executable, str(BENCH / "run.py"), "--sizes", "2k", "--formats", fmt, "--what", what,
                           "--repeat", "1", "--bootstrap", "50", "--data", str(data)],
                          capture_output=True, text=True, check=True)


def test_runner_writes_the_release_bytes_alone_after_a_release_and_adjudicates(project: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = _run_on_a_copy(project, data, "parquet", "floor,release,adjudicate")
    results = json.loads(next(data.glob("results-*.json")).read_text(encoding="utf-8"))
    rows = {r["what"]: r for r in results["rows"]}
    assert list(rows) == ["floor", "release", "write", "adjudicate"]
    assert 0 <= rows["adjudicate"]["queued"] <= rows["adjudicate"]["units"] and rows["adjudicate"]["units"] > 0
    assert sorted(rows["adjudicate"]["written_bytes"]) == ["review-queue.csv", "review-queue.jsonl",
                                                           "review-queue.labelstudio.json"]
    written = sum(rows["release"]["written_bytes"].values())
    assert written > 0 and rows["write"]["bytes"] == written  # as many bytes as the release wrote
    assert rows["write"]["ratio_wall"] == pytest.approx(rows["write"]["seconds"] / rows["floor"]["seconds"])
    assert "| 2k | single_choice | parquet | write |" in proc.stdout


def test_runner_writes_and_measures_jsonl(project: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    proc = _run_on_a_copy(project, data, "jsonl", "floor,check")
    assert "| 2k | single_choice | jsonl | check |" in proc.stdout
    lines = (data / "2k" / "labels.jsonl").read_text(encoding="utf-8").splitlines()
    frame = pq.read_table(project / "labels.parquet").to_pandas()
    assert [json.loads(x) for x in lines] == frame.to_dict("records")  # the same rows, in order
    rows = {r["what"]: r for r in json.loads(next(data.glob("results-*.json")).read_text(encoding="utf-8"))["rows"]}
    assert rows["floor"]["rows"] == 2000 and rows["check"]["rows_used"] == 2000
