"""The distribution gates: the label shares of the consensus against the spec's ``expected_distribution``.

One job: count the labels of every non-gold unit's consensus and compare their shares with the expected ones
(the largest deviation, in exact arithmetic, and a chi-square goodness of fit). Which consensus, by kind:

* single_choice, rating, pairwise: the plain majority vote of the crowd's judgments, whatever the adjudication
  method, from the analysis's unit patterns; a tie counts nothing.
* multi_choice: the per-label majority (a label chosen by more than half of the unit's judgments), every label of
  the set counting once; a unit with a label chosen by exactly half is a tie and counts nothing.
* spans and attribution: the consensus the adjudication proposes (supported spans; the exact majority), before
  any expert decision: every consensus span counts its label, an attribution its agent (a null agent nothing).

The chi-square test treats every counted label as an independent draw. With several labels per unit (sets,
spans) that is an approximation: labels of one unit that go together make its p-value too small.
It reads no files and decides no gate.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import pandas as pd

from labelspec.check import stats
from labelspec.check.analyze import TaskAnalysis, unit_patterns
from labelspec.check.consensus import majority_vote
from labelspec.check.decide_kinds import membership
from labelspec.check.gates import Measure
from labelspec.check.rules import value_label_list
from labelspec.spec.model import Task
from labelspec.spec.plan import Gate

#: Kinds whose consensus needs the adjudication's own (span support, attribution majority): measured after it.
AFTER_CONSENSUS = frozenset({"spans", "attribution"})


def analysis_measure(gate: Gate, task: Task, analysis: TaskAnalysis) -> Measure:
    """single_choice, rating, pairwise and multi_choice, from the unit patterns of the analysis."""
    codes = analysis.codes
    if codes is None or analysis.gold_mask is None:
        return Measure(None, reason="no consensus labels")
    # units with the same counts vote alike: the vote runs once per distinct count row (a few hundred at 10M
    # judgments), weighted by how many units share it, from a table built without masked copies of the codes
    collapsed = analysis.patterns if analysis.patterns is not None else unit_patterns(codes, ~analysis.gold_mask)
    rows, weight = collapsed.patterns.rows, collapsed.patterns.multiplicity
    if task.kind == "multi_choice":
        per_label = rows @ membership(task, codes.categories)  # (patterns, labels): judgments choosing each
        n = rows.sum(axis=1)[:, None]
        tie = (2 * per_label == n).any(axis=1)
        chosen = (2 * per_label > n) & ~tie[:, None] & (weight > 0)[:, None]
        return compare(gate, task, task.label_ids, weight @ chosen)
    mv = majority_vote(rows, min_support=0.0)
    decided = (mv.winner >= 0) & (weight > 0)  # a tie has no winner
    observed = np.bincount(mv.winner[decided], weights=weight[decided], minlength=codes.shape[2])
    return compare(gate, task, codes.categories, observed)


def consensus_measure(gate: Gate, task: Task, units: pd.DataFrame) -> Measure:
    """spans and attribution, from the task's rows of the decisions (``proposed``: before experts)."""
    own = units[(units["task"] == task.name).to_numpy(dtype=bool) & units["gold"].isna().to_numpy()]
    values = own["proposed"].dropna().astype(str)
    index = {label: i for i, label in enumerate(task.label_ids)}
    codes, distinct = pd.factorize(values, sort=False)
    per_value = np.zeros((len(distinct), len(index)))
    for d, text in enumerate(distinct):  # distinct consensus values, not units
        for label in value_label_list(task.kind, text):
            if label in index:
                per_value[d, index[label]] += 1
    return compare(gate, task, task.label_ids, np.bincount(codes, minlength=len(distinct)) @ per_value)


def compare(gate: Gate, task: Task, names: Sequence[str], observed: np.ndarray) -> Measure:
    """The gate's measure of ``observed`` label counts against the task's expected shares."""
    observed = np.asarray(observed, dtype=np.float64)
    total = float(observed.sum())
    if total == 0:
        return Measure(None, reason="no unit has a consensus label")
    expected = np.array([dict(task.expected_distribution).get(c, 0.0) for c in names])
    if gate.metric == "max_share_deviation":
        j = int(np.argmax(np.abs(observed / total - expected)))
        # the largest deviation once more in exact arithmetic (the count's share against the decimal the spec
        # wrote): 3 of 10 against 0.4 is 0.1, not 0.10000000000000003, so "<= 0.1" passes as written
        exact = abs(Fraction(int(observed[j]), int(total)) - Fraction(repr(float(expected[j]))))
        return Measure(float(exact), n=int(total),
                       detail=f"{names[j]}: {observed[j] / total:.1%} vs expected {expected[j]:.1%}")
    gof = stats.chi_square_gof(observed, expected)
    return Measure(gof.p_value, n=int(total), reason=None if gof.p_value is not None else "test undefined",
                   detail=f"chi-square {gof.statistic:.2f}, df {gof.dof}" if gof.statistic is not None else "")
