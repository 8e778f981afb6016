"""Per-task agreement assembled from count tables: every coefficient present, and equal to independent libraries."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
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
