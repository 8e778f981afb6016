"""Writes one simulated example project to disk: items, gold, calibration, roster, calibration round, label files.

One job: lay a :class:`Project` out as the files a data team keeps beside its ``labelspec.yaml`` (which is
hand-written and never touched here). The roster's calibration columns are computed from the calibration-round
submissions the way ``labelspec calibrate`` fills them: the share of scored judgments that match calibration.csv.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from examples_common import (
    Judgments,
    Project,
    csv_text,
    iso,
    jsonl_text,
    reference_rows,
    value_text,
    write_label_csv,
    write_label_jsonl,
    write_label_parquet,
    write_text,
)

GOLD_COLUMNS = ["item", "unit", "task", "label", "why"]
CALIBRATION_COLUMNS = [*GOLD_COLUMNS, "edge_case", "teaching"]
ROSTER_COLUMNS = ["id", "role", "name", "calibration_score", "calibration_n", "calibration_passed", "calibrated_at"]


def span_f1(got: list[list[Any]], want: list[list[Any]]) -> float:
    """Exact-match span F1 of one judgment against the reference (1.0 when both are empty)."""
    a = {tuple(s) for s in got}
    b = {tuple(s) for s in want}
    if not a and not b:
        return 1.0
    return 2.0 * len(a & b) / (len(a) + len(b))


def ranking_agreement(got: list[str], want: list[str]) -> float:
    """(1 + Kendall τ) / 2 between two full rankings: 1 identical, 0 reversed."""
    pos = {opt: i for i, opt in enumerate(got)}
    ranks = np.array([pos[o] for o in want])
    n = len(ranks)
    concordant = int(np.triu(np.sign(ranks[None, :] - ranks[:, None]), 1).sum())
    return (1.0 + concordant / (n * (n - 1) / 2)) / 2.0


def score(kind: str, got: Any, want_text: str) -> float:
    """One calibration judgment's credit against the reference label text."""
    if kind == "spans":
        return span_f1(got, json.loads(want_text))
    if kind == "ranking":
        return ranking_agreement(got, json.loads(want_text))
    if kind == "attribution":
        return float(got["agent"] == json.loads(want_text)["agent"])
    return float(value_text(got) == want_text)


def roster_rows(p: Project, min_accuracy: float) -> list[list[str]]:
    """The roster as ``labelspec calibrate`` leaves it after round 1 (annotators without a round stay blank)."""
    ref = {(r["item"], r["unit"], r["task"]): r["label"] for r in p.calibration}
    j = p.calibration_round
    rows = []
    for a in p.annotators:
        mine = [i for i in range(len(j)) if j.annotator[i] == a.id and (j.item[i], j.unit[i], j.task[i]) in ref]
        if not mine:
            rows.append([a.id, a.role, a.name, "", "", "", ""])
            continue
        credit = [score(p.kinds[j.task[i]], j.value[i], ref[(j.item[i], j.unit[i], j.task[i])]) for i in mine]
        mean = float(np.mean(credit))
        when = iso([max(j.time[i] for i in mine)])[0]
        rows.append([a.id, a.role, a.name, f"{mean:.4f}", str(len(mine)), "true" if mean >= min_accuracy else "false",
                     when])
    return rows


def split_batches(j: Judgments) -> list[Judgments]:
    """Production judgments by batch number (1, 2, 3)."""
    out = [Judgments(), Judgments(), Judgments()]
    for i in range(len(j)):
        part = out[j.batch[i] - 1]
        for name in ("item", "unit", "task", "annotator", "value", "time", "lead", "batch"):
            getattr(part, name).append(getattr(j, name)[i])
    return out


def write_project(root: Path, p: Project, min_accuracy: float, third_writer: Any = None) -> None:
    """Every data file of one project under ``root/<name>/``; ``third_writer`` writes batch 3 when not Parquet."""
    base = root / p.name
    write_text(base / "items.jsonl", jsonl_text(p.items))
    write_text(base / "gold.csv", reference_rows(p.gold, GOLD_COLUMNS))
    write_text(base / "calibration.csv", reference_rows(p.calibration, CALIBRATION_COLUMNS))
    write_text(base / "annotators.csv", csv_text(ROSTER_COLUMNS, roster_rows(p, min_accuracy)))
    write_label_csv(base / "calibration" / "round-1.csv", p.calibration_round, p.kinds, p.item_column)
    b1, b2, b3 = split_batches(p.production)
    write_label_csv(base / "labels" / "batch-01.csv", b1, p.kinds, p.item_column)
    write_label_jsonl(base / "labels" / "batch-02.jsonl", b2, p.kinds, p.item_column)
    if third_writer is None:
        write_label_parquet(base / "labels" / "batch-03.parquet", b3, p.kinds, p.item_column)
    else:
        third_writer(base / "labels", b3, p)
    if p.expert_round is not None:
        write_label_csv(base / "review" / "expert-round-1.csv", p.expert_round, p.kinds, p.item_column)
