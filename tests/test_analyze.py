"""Per-task agreement assembled from count tables: every coefficient present, and equal to independent libraries."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import fleiss_kappa

from labelspec.check.analyze import CLASSIC, analyze_choice
from labelspec.spec.model import BootstrapPolicy, Label, Task

TAGS = Task(name="tags", kind="multi_choice", question="Which apply?",
            labels=tuple(Label(id=i, title=i, definition=i) for i in ("a", "b", "c")))
NO_BOOT = BootstrapPolicy(replicates=0)


def _frame(rows: list[tuple[str, str, list[str]]]) -> pd.DataFrame:
    return pd.DataFrame({"item": [r[0] for r in rows], "unit": "", "task": "tags", "annotator": [r[1] for r in rows],
                         "value": [json.dumps(r[2]) for r in rows]})


def test_multi_choice_reports_every_classic_coefficient_over_whole_sets() -> None:
    rng = np.random.default_rng(7)
    sets = [[], ["a"], ["a", "b"], ["c"]]
    rows = [(f"i{i}", f"r{r}", sets[rng.integers(0, 4)] if rng.random() < 0.4 else sets[i % 4])
            for i in range(60) for r in range(3)]
    result = analyze_choice(_frame(rows), TAGS, gold_units=set(), min_per_unit=3, boot=NO_BOOT)
    assert set(CLASSIC) | {"masi_alpha"} <= set(result.agreement)
    # independent: statsmodels' Fleiss κ on the item × distinct-set count table (order inside a set ignored)
    table = pd.crosstab([r[0] for r in rows], [json.dumps(sorted(r[2])) for r in rows]).to_numpy()
    assert result.agreement["fleiss_kappa"].value is not None
    assert abs(result.agreement["fleiss_kappa"].value - fleiss_kappa(table)) < 1e-12
    pairs = result.extra["cohen_kappa_pairs"]
    assert isinstance(pairs, dict) and pairs["n_pairs"] == 3 and len(pairs["lowest"]) == 3


def test_set_order_does_not_change_agreement() -> None:
    rows = [("i1", "r1", ["a", "b"]), ("i1", "r2", ["b", "a"]), ("i2", "r1", ["c"]), ("i2", "r2", ["c"]),
            ("i3", "r1", ["a"]), ("i3", "r2", ["b"])]
    result = analyze_choice(_frame(rows), TAGS, gold_units=set(), min_per_unit=2, boot=NO_BOOT)
    assert result.agreement["percent_agreement"].value == 2 / 3


def test_multi_choice_ac1_counts_every_admissible_set_and_ignores_gold_units() -> None:
    """K is the label sets a judgment could select (2³ = 8 here, the empty set included), not the sets seen: those
    depended on the data, gold units included (an audit found AC1 going from undefined to 1.0 when a gold item's
    judgment added a set)."""
    rng = np.random.default_rng(11)
    sets = [[], ["a"], ["a", "b"], ["c"]]
    rows = [(f"i{i}", f"r{r}", sets[rng.integers(0, 4)]) for i in range(30) for r in range(3)]
    plain = analyze_choice(_frame(rows), TAGS, gold_units=set(), min_per_unit=3, boot=NO_BOOT)
    with_gold = analyze_choice(_frame([*rows, ("g1", "r1", ["b", "c"]), ("g1", "r2", ["a", "b", "c"])]), TAGS,
                               gold_units={"g1"}, min_per_unit=3, boot=NO_BOOT)
    assert with_gold.agreement["gwet_ac1"] == plain.agreement["gwet_ac1"]
    assert plain.agreement["gwet_ac1"].value == pytest.approx(_ac1_by_hand(rows, 8))
    capped = replace(TAGS, min_choices=1, max_choices=2)  # K = 3 + 3 = 6
    kept = [r for r in rows if 1 <= len(r[2]) <= 2]
    got = analyze_choice(_frame(kept), capped, gold_units=set(), min_per_unit=1, boot=NO_BOOT)
    assert got.agreement["gwet_ac1"].value == pytest.approx(_ac1_by_hand(kept, 6))


def _ac1_by_hand(rows: list[tuple[str, str, list[str]]], k: int) -> float:
    """Gwet (2014) with missing ratings, from the item × set table: p_a over items judged twice or more, π over
    items judged at least once, p_e = Σ π (1 − π) / (K − 1)."""
    table = pd.crosstab([r[0] for r in rows], [json.dumps(sorted(r[2])) for r in rows]).to_numpy(dtype=float)
    n = table.sum(axis=1)
    pairable = n >= 2
    p_a = ((table * (table - 1)).sum(axis=1)[pairable] / (n * (n - 1))[pairable]).mean()
    pi = (table / n[:, None]).mean(axis=0)
    p_e = (pi * (1 - pi)).sum() / (k - 1)
    return float((p_a - p_e) / (1 - p_e))


def test_a_multi_choice_task_without_judgments_reports_undefined_values() -> None:
    """No row for the task (or only experts', which are not crowd rows): no crash, every value undefined."""
    result = analyze_choice(_frame([]), TAGS, gold_units=set(), min_per_unit=2, boot=NO_BOOT)
    assert result.n_judgments == 0 and all(e.value is None for e in result.agreement.values())
    assert all(e.value is None for e in result.per_label.values())


def test_label_coded_analysis_keeps_int32_codes_and_the_int64_results(monkeypatch: pytest.MonkeyPatch) -> None:
    """A single_choice analysis codes its judgments in int32 (G13's memory at 10M judgments); every coefficient,
    interval, pair table and pattern is the one the int64 codes give."""
    from labelspec.check import analyze

    task = replace(TAGS, kind="single_choice", name="one")
    rng = np.random.default_rng(11)
    rows = [(f"i{i}", f"r{r}", [str(rng.choice(["a", "b", "c"]))]) for i in range(80) for r in range(3)
            if rng.random() < 0.9]
    frame = _frame(rows).assign(value=lambda f: [json.loads(v)[0] for v in f["value"]], task="one")
    boot = BootstrapPolicy(replicates=50)
    narrow = analyze_choice(frame, task, gold_units={"i3", "i7"}, min_per_unit=2, boot=boot)
    encode = analyze.encode
    monkeypatch.setattr(analyze, "encode", lambda *a, **k: encode(*a, **{**k, "narrow": False}))
    wide = analyze_choice(frame, task, gold_units={"i3", "i7"}, min_per_unit=2, boot=boot)
    assert narrow.codes is not None and wide.codes is not None
    assert narrow.codes.unit.dtype == np.int32 and wide.codes.unit.dtype == np.int64
    assert narrow.agreement == wide.agreement and narrow.per_label == wide.per_label
    np.testing.assert_array_equal(narrow.pairs.confusions, wide.pairs.confusions)
    assert narrow.extra["cohen_kappa_pairs"] == wide.extra["cohen_kappa_pairs"]
