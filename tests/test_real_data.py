"""End to end on judgments real people made (../shared/data): labelspec's numbers equal independent libraries'.

The label files go through the real readers with the spec's column mapping, row accounting and count tables; the
reference values come from `krippendorff`, scikit-learn and statsmodels on the same raw files read by pandas.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from labelspec.api import check_labels

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="shared/data is not beside this checkout")

SPEC = """\
labelspec: 1
project: {{id: real, title: Real data, version: 1.0.0}}
tasks:
  answer:
    kind: single_choice
    question: {question}
    labels:
{labels}
input:
  columns: {{item: {item}, annotator: {annotator}, value: {value}}}
quality:
  bootstrap: {{replicates: 0}}
"""


def _project(tmp_path: Path, source: Path, labels: list[str], **columns: str) -> Path:
    root = tmp_path / "real"
    root.mkdir()
    label_lines = "".join(f"      {lab!r}: {{title: {lab!r}, definition: {lab!r}}}\n" for lab in labels)
    (root / "labelspec.yaml").write_text(SPEC.format(question="As coded?", labels=label_lines, **columns), "utf-8")
    shutil.copy(source, root / source.name)
    return root


def test_crowdtruth_binary_relation_matches_krippendorff_and_statsmodels(tmp_path: Path) -> None:
    source = DATA / "crowdtruth_relex" / "relex-binary-choice.csv"
    root = _project(tmp_path, source, ["TRUE", "FALSE"], item="_unit_id", annotator="_worker_id",
                    value="top_member_employee")
    report = check_labels(root, [root / source.name])
    raw = pd.read_csv(source, dtype=str, keep_default_na=False)
    assert report.accounting.rows_read == len(raw) and len(report.accounting.exclusions) == 0
    matrix = raw.pivot(index="_worker_id", columns="_unit_id", values="top_member_employee")
    coded = matrix.replace({"TRUE": 1.0, "FALSE": 0.0}).astype(float).to_numpy()
    agreement = report.analyses["answer"].agreement
    assert agreement["krippendorff_alpha"].value == pytest.approx(
        krippendorff.alpha(reliability_data=coded, level_of_measurement="nominal"), abs=1e-12)
    counts, _ = aggregate_raters(raw.groupby("_unit_id")["top_member_employee"].apply(list).tolist())
    assert agreement["fleiss_kappa"].value == pytest.approx(fleiss_kappa(counts), abs=1e-12)  # 15 raters per unit


def test_artstein_poesio_two_coders_match_scikit_learn(tmp_path: Path) -> None:
    source = DATA / "classic" / "artstein_poesio_2008_long.csv"
    root = _project(tmp_path, source, ["stat", "ireq", "chck"], item="item", annotator="coder", value="label")
    report = check_labels(root, [root / source.name])
    wide = pd.read_csv(source, dtype=str).pivot(index="item", columns="coder", values="label")
    expected = cohen_kappa_score(wide["a"], wide["b"])
    agreement = report.analyses["answer"].agreement
    assert agreement["cohen_kappa"].value == pytest.approx(expected, abs=1e-12)
    assert agreement["percent_agreement"].value == pytest.approx(float(np.mean(wide["a"] == wide["b"])), abs=1e-12)
