"""Distribution gates for every kind: the label shares of the consensus against ``expected_distribution``.

Hand-counted consensus labels, the deviation in exact arithmetic and the p-value against scipy's chisquare. An
audit found multi_choice looking up expected shares by label *set* (a crash, exit 3, with min_gof_p; a deviation
of 0.5 where the consensus matched exactly), and spans and attribution always undefined ("no consensus labels").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import chisquare

from labelspec import api

SPEC = """\
labelspec: 1
project: {{id: dist, title: Distribution, version: 1.0.0}}
items:
  file: items.jsonl
  fields:
    note: {{type: text}}
tasks:
  t:
    kind: {kind}
{settings}    question: Which?
    labels:
      x: {{title: X, definition: x.}}
      y: {{title: Y, definition: y.}}
      z: {{title: Z, definition: z.}}
    expected_distribution: {{x: 0.5, y: 0.25, z: 0.25}}
quality:
  distribution: {{max_deviation: 0.05, min_gof_p: 0.01}}
"""


def _check(tmp_path: Path, kind: str, values: dict[str, list[Any]], settings: str = "") -> dict[str, dict[str, Any]]:
    (tmp_path / "labelspec.yaml").write_text(SPEC.format(kind=kind, settings=settings), "utf-8")
    (tmp_path / "items.jsonl").write_text("".join(json.dumps({"item_id": i, "note": "aaaa bbbb cccc dddd"}) + "\n"
                                                  for i in values), "utf-8")
    rows = [{"item_id": i, "annotator_id": f"a{j}", "label": v} for i, vs in values.items() for j, v in enumerate(vs)]
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    report = api.check_labels(tmp_path, [tmp_path / "labels.jsonl"], bootstrap=0).to_dict()
    return {g["id"]: g for g in report["gates"] if g["id"].startswith("distribution.")}


def _expect(gates: dict[str, dict[str, Any]], observed: list[int], deviation: float, detail: str) -> None:
    dev, gof = gates["distribution.t.max_deviation"], gates["distribution.t.goodness_of_fit"]
    assert (dev["value"], dev["n"], dev["detail"]) == (pytest.approx(deviation, abs=1e-15), sum(observed), detail)
    p = chisquare(observed, [sum(observed) * s for s in (0.5, 0.25, 0.25)]).pvalue
    assert gof["value"] == pytest.approx(p, rel=1e-12) and gof["n"] == sum(observed)


def test_single_choice_counts_the_majority_label_of_each_unit(tmp_path: Path) -> None:
    gates = _check(tmp_path, "single_choice", {"i1": ["x", "x", "y"], "i2": ["x", "z"], "i3": ["y", "y"],
                                               "i4": ["z", "z", "x"]})
    _expect(gates, [1, 1, 1], 0.5 - 1 / 3, "x: 33.3% vs expected 50.0%")  # i2 is a tie: it counts nothing


def test_multi_choice_counts_each_label_of_the_per_label_majority(tmp_path: Path) -> None:
    gates = _check(tmp_path, "multi_choice", {
        "i1": [["x", "y"], ["x", "y"], ["x"]],  # x 3/3, y 2/3: {x, y}
        "i2": [["x"], ["x", "z"], ["x"]],  # {x}
        "i3": [["z"], ["z"], ["x"]],  # {z}
        "i4": [["y"], ["x"]],  # x 1/2 and y 1/2: a tie, nothing counted
    })
    _expect(gates, [2, 1, 1], 0.0, "x: 50.0% vs expected 50.0%")


def test_spans_count_each_consensus_span_by_its_label(tmp_path: Path) -> None:
    span = {"x": [0, 4, "x"], "y": [5, 9, "y"], "z": [10, 14, "z"], "x2": [15, 19, "x"]}
    gates = _check(tmp_path, "spans", {
        "i1": [[span["x"], span["y"]], [span["x"], span["y"]]],  # x, y
        "i2": [[span["x"], span["x2"]], [span["x"], span["x2"]], [span["x"], span["x2"], span["z"]]],  # x, x
        "i3": [[span["z"]], [span["z"]]],  # z
    }, settings="    field: note\n")
    _expect(gates, [3, 1, 1], 0.1, "x: 60.0% vs expected 50.0%")  # z on i2: 1 of 3, below min_support


def test_attribution_counts_the_agent_of_the_consensus(tmp_path: Path) -> None:
    def blame(agent: str | None, step: int | None) -> str:
        return json.dumps({"agent": agent, "step": step})

    gates = _check(tmp_path, "attribution", {
        "i1": [blame("x", 1), blame("x", 1)], "i2": [blame("x", 2), blame("x", 2), blame("y", 1)],
        "i3": [blame("y", 1), blame("y", 1)], "i4": [blame("z", 3), blame("z", 3)],
        "i5": [blame(None, None), blame(None, None)],  # no agent: nothing counted
    })
    _expect(gates, [2, 1, 1], 0.0, "x: 50.0% vs expected 50.0%")
