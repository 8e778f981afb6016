"""Annotator findings: who to recalibrate, and the evidence. Plus the measures of annotator and distribution gates.

Each finding names the annotator (or task), what was measured, the threshold it crossed and where that threshold
came from (the spec, or a documented default below). Findings are computed from the count tables and the gold
scores, never by re-reading rows per annotator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from labelspec.check import stats
from labelspec.check.analyze import TaskAnalysis
from labelspec.check.bootstrap import UnitPatterns, unit_table_patterns
from labelspec.check.coded import codes_of, compact, text_of
from labelspec.check.context import Context
from labelspec.check.distributions import norm_sf
from labelspec.check.gates import Measure
from labelspec.check.gold import GoldScores, rolling_breach
from labelspec.check.preference import bradley_terry
from labelspec.check.records import Accounting
from labelspec.check.tables import cell_keys, count_cells
from labelspec.spec.model import Quality, Spec
from labelspec.spec.plan import Gate

#: Documented default: an annotator whose agreement with the leave-one-out consensus is this far below the
#: median annotator's is flagged (when the spec sets no threshold of its own).
LOO_MARGIN = 0.15
#: Units need at least this many other judgments for a leave-one-out consensus.
LOO_MIN_OTHERS = 2
#: Documented default: Holm-adjusted p below which an annotator's A-over-B asymmetry is reported as position bias.
POSITION_BIAS_P = 0.05


@dataclass(frozen=True)
class Finding:
    kind: str  # gold_accuracy | gold_drift | consensus_agreement | distribution_divergence | lead_time | rule_violations
    message: str
    annotator: str | None = None
    task: str | None = None
    gate: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "annotator": self.annotator, "task": self.task,
                "gate": self.gate, "evidence": self.evidence}


def _gold_findings(spec: Spec, gold: GoldScores | None) -> list[Finding]:
    q, out = spec.quality, list[Finding]()
    if gold is None or q.gold is None:
        return out
    for i, ann in enumerate(gold.annotators):
        est, n = gold.accuracy[i], int(gold.n[i])
        if q.gold.min_accuracy is not None and n >= q.gold.min_judgments and est.value is not None \
                and est.value < q.gold.min_accuracy:
            out.append(Finding("gold_accuracy", f"gold accuracy {est.value:.3f} (95% CI {est.ci_low:.3f}–"
                               f"{est.ci_high:.3f}, n={n}) is below {q.gold.min_accuracy:g}", annotator=ann,
                               gate="gold.accuracy", evidence={"accuracy": est.value, "n": n,
                                                               "ci_low": est.ci_low, "ci_high": est.ci_high}))
    cal = q.calibration
    if cal is not None and cal.recalibrate_below is not None:
        for ann in gold.annotators:
            breach = rolling_breach(gold.scored, ann, cal.window, cal.recalibrate_below)
            if breach:
                acc, when, k = breach
                out.append(Finding("gold_drift", f"rolling gold accuracy over the last {cal.window} gold judgments "
                                   f"fell to {acc:.3f} (< {cal.recalibrate_below:g}) at {when}: recalibrate from here",
                                   annotator=ann, gate="calibration.drift",
                                   evidence={"rolling_accuracy": acc, "at": when, "gold_judgment": k}))
    return out


#: Judgments per piece of :func:`loo_agreement`'s tally: whole-column keys were 160 MB of fresh memory at 10M.
_LOO_ROWS = 1 << 20


def loo_agreement(unit: np.ndarray, annotator: np.ndarray, category: np.ndarray, shape: tuple[int, int, int],
                  mask: np.ndarray | None = None, collapsed: UnitPatterns | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per annotator: judgments scored and how many equal the unit's plurality without that judgment (over the
    rows in ``mask``, all by default; the others are neither counted nor scored).

    A judgment is scored when the unit's other judgments are at least :data:`LOO_MIN_OTHERS` and their plurality
    is not tied. Whether a judgment agrees depends only on its unit's count row and its own category, so the
    units are collapsed to their distinct count rows (a few hundred at 10M judgments) and the vote is decided
    once per (row pattern, category) by :func:`_loo_state`; each judgment then looks its state up.
    ``collapsed`` (the analysis's, of the same rows in ``mask``) saves counting them again.
    """
    n_units, n_ann, k = shape
    if k == 0 or unit.size == 0:
        return np.zeros(n_ann, np.int64), np.zeros(n_ann, np.int64)
    if collapsed is None:
        collapsed = unit_table_patterns(count_cells(unit, category, (n_units, k), mask))
    n_rows = collapsed.patterns.rows.shape[0]
    rows = np.vstack([collapsed.patterns.rows, np.zeros((1, k), dtype=np.int64)])  # units without judgments
    pattern_of = np.where(collapsed.of_unit < 0, n_rows, collapsed.of_unit)  # get that never-scored last row
    state = _loo_state(rows).reshape(-1)  # (P·K): 0 not scored, 1 disagrees, 2 agrees
    counted = np.zeros(n_ann * 3 + 1, dtype=np.int64)
    for a in range(0, unit.size, _LOO_ROWS):  # by pieces of judgments: their keys stay in cache
        b = a + _LOO_ROWS
        per_judgment = np.take(state, cell_keys(np.take(pattern_of, unit[a:b]), category[a:b], k))
        tally = cell_keys(annotator[a:b], per_judgment, 3, None if mask is None else mask[a:b], left_out=n_ann * 3)
        counted += np.bincount(tally, minlength=n_ann * 3 + 1)
    table = counted[:n_ann * 3].reshape(n_ann, 3)
    return table[:, 1] + table[:, 2], table[:, 2].copy()


def _loo_state(counts: np.ndarray) -> np.ndarray:
    """(P, K) int8 for count rows (P, K): 2 when a judgment of that category agrees with the plurality of the
    row's other judgments, 1 when it is scored but disagrees, 0 when not scored (too few others, or a tie).

    From the top counts: own = count of its category − 1, best = the largest count among the other categories;
    it agrees when own > best, and is tied when own == best or when several other categories share best > own.
    """
    k = counts.shape[1]
    m1 = counts.max(axis=1, keepdims=True)
    on_top = counts == m1
    c1 = on_top.sum(axis=1, keepdims=True)
    m2 = np.where(on_top, -1, counts).max(axis=1, keepdims=True)
    c2 = (counts == m2).sum(axis=1, keepdims=True)
    sole_top = on_top & (c1 == 1)
    best = np.where(sole_top, m2, m1)
    n_best = np.where(sole_top, c2, np.where(on_top, c1 - 1, c1))
    own = counts - 1  # each category's count without one of its own judgments
    usable = (own.sum(axis=1, keepdims=True) + (k - 1)) >= LOO_MIN_OTHERS  # = judgments − 1
    agree = usable & (own > best)
    scored = agree | (usable & (own < best) & (n_best == 1))
    state: np.ndarray = scored.astype(np.int8) + agree.astype(np.int8)
    return state


def _loo_findings(task: str, analysis: TaskAnalysis) -> list[Finding]:
    codes, mask = analysis.codes, analysis.gold_mask
    if codes is None or mask is None:
        return []
    keep = ~mask
    n, hits = loo_agreement(codes.unit, codes.annotator, codes.category, codes.shape, keep, analysis.patterns)
    n_ann = codes.shape[1]
    rate = np.divide(hits, n, out=np.full(n_ann, np.nan), where=n > 0)
    if np.isnan(rate).all():
        return []
    median = float(np.nanmedian(rate))
    out = []
    # "more than 0.15 below": the gap rounded to 12 decimals, so 0.45 − 0.30 (0.15000000000000002) is not flagged
    for i in np.flatnonzero(np.round(median - rate, 12) > LOO_MARGIN):
        out.append(Finding("consensus_agreement", f"agrees with the leave-one-out majority on {rate[i]:.3f} of "
                           f"{int(n[i])} judgments, {median - rate[i]:.3f} below the median annotator ({median:.3f})",
                           annotator=str(codes.annotators[i]), task=task,
                           evidence={"agreement": float(rate[i]), "n": int(n[i]), "median": median,
                                     "margin": LOO_MARGIN}))
    return out


def _divergence(spec: Spec, task: str, analysis: TaskAnalysis) -> list[Finding]:
    p_max = spec.quality.distribution.annotator_divergence_p
    counts = analysis.extra.get("annotator_counts")
    if p_max is None or not isinstance(counts, np.ndarray) or analysis.codes is None:
        return []
    # the family is the annotators with judgments here: one who judged only gold units has a row of zeros, and
    # counting it (p = 1) in Holm's correction and in the three needed would weaken every other test
    tested = np.flatnonzero(counts.sum(axis=1) > 0)
    if tested.size < 3:
        return []
    table = counts[tested]
    tests = stats.chi_square_one_vs_rest(table)
    adjusted = stats.holm([t.p_value if t.p_value is not None else 1.0 for t in tests])
    out = []
    for i, p in enumerate(adjusted):
        if p < p_max:
            share = table[i] / table[i].sum()
            rest = table.sum(axis=0) - table[i]
            rest_share = rest / max(rest.sum(), 1)
            j = int(np.argmax(share - rest_share))
            label = analysis.codes.categories[j]
            out.append(Finding("distribution_divergence", f"label distribution differs from the other annotators "
                               f"(Holm-adjusted p = {p:.2g} < {p_max:g}); over-uses {label!r}: {share[j]:.1%} vs "
                               f"{rest_share[j]:.1%}", annotator=str(analysis.codes.annotators[tested[i]]), task=task,
                               gate="annotators.divergence",
                               evidence={"p_holm": float(p), "label": label, "share": float(share[j]),
                                         "others_share": float(rest_share[j])}))
    return out


def _position_bias(task: str, analysis: TaskAnalysis) -> list[Finding]:
    """Pairwise tasks: who answers A (the left response) when co-annotators of the same comparison answer B?

    Every A-vs-B disagreement between two annotators is one "win" for the one who said A. A Bradley–Terry fit over
    annotators (``preference.bradley_terry``, prior 0.5) gives each a log-strength θ: the tendency to side with A.
    True quality differences cancel out, because both sides of a disagreement saw the same comparison; and unlike
    a per-annotator sign test, a biased annotator's partners are not blamed for disagreeing with it. θ is measured
    from the median annotator's, with the standard error 1/√(Σ_b n_ab p_ab (1 − p_ab)) (the diagonal of the Fisher
    information), and two-sided p-values are Holm-corrected across annotators. Ties are left out.
    """
    tables, codes = analysis.pairs, analysis.codes
    if tables is None or codes is None or codes.categories[:2] != ("A", "B") or not len(tables.pairs):
        return []
    n_ann = len(codes.annotators)
    lo, hi = tables.pairs[:, 0], tables.pairs[:, 1]
    lo_a, hi_a = tables.confusions[:, 0, 1], tables.confusions[:, 1, 0]  # lo said A / hi said A in a disagreement
    winners = np.r_[np.repeat(lo, lo_a), np.repeat(hi, hi_a)]
    losers = np.r_[np.repeat(hi, lo_a), np.repeat(lo, hi_a)]
    if winners.size == 0:
        return []
    theta = bradley_terry(winners, losers, n_ann, prior=0.5).log_strength
    n_ab = lo_a + hi_a
    p = 1.0 / (1.0 + np.exp(theta[hi] - theta[lo]))
    info = np.bincount(lo, weights=n_ab * p * (1 - p), minlength=n_ann) + \
        np.bincount(hi, weights=n_ab * p * (1 - p), minlength=n_ann)
    said_a = np.bincount(winners, minlength=n_ann)
    n = said_a + np.bincount(losers, minlength=n_ann)
    z = (theta - np.median(theta[n > 0])) * np.sqrt(info)
    adjusted = np.ones(n_ann)  # Holm over the annotators with a disagreement: the others have nothing to test
    adjusted[n > 0] = stats.holm(2 * norm_sf(np.abs(z[n > 0])))
    out = []
    for i in np.flatnonzero(adjusted < POSITION_BIAS_P):
        side = "A" if z[i] > 0 else "B"
        chose = int(said_a[i]) if side == "A" else int(n[i] - said_a[i])
        out.append(Finding("position_bias", f"in {int(n[i])} A-vs-B disagreements with co-annotators, chose {side} "
                           f"{chose} times (Bradley–Terry, Holm-adjusted p = {adjusted[i]:.2g} < {POSITION_BIAS_P:g}): "
                           f"a preference for the {'left' if side == 'A' else 'right'} response",
                           annotator=str(codes.annotators[i]), task=task,
                           evidence={"chose_a": int(said_a[i]), "chose_b": int(n[i] - said_a[i]),
                                     "log_strength": float(theta[i]), "p_holm": float(adjusted[i]),
                                     "threshold": POSITION_BIAS_P}))
    return out


def _lead_time(spec: Spec, acc: Accounting) -> list[Finding]:
    lt = spec.quality.lead_time
    if lt.min_seconds is None or lt.max_fast_share is None:
        return []
    frame = acc.used[acc.used["lead_time"] != ""]
    if frame.empty:
        return []
    # astype(float) parses as Python's float() does, like the record check (pd.to_numeric rejects "٣")
    fast = frame["lead_time"].astype(float).to_numpy() < lt.min_seconds
    grouped = pd.DataFrame({"a": frame["annotator"].to_numpy(), "fast": fast}).groupby("a")["fast"].agg(["mean", "size"])
    out = []
    for ann, row in grouped.sort_index().iterrows():
        if row["mean"] > lt.max_fast_share:
            out.append(Finding("lead_time", f"{row['mean']:.1%} of {int(row['size'])} judgments took under "
                               f"{lt.min_seconds:g} s (limit {lt.max_fast_share:.0%}): implausibly fast",
                               annotator=str(ann), gate="annotators.lead_time",
                               evidence={"fast_share": float(row["mean"]), "n": int(row["size"])}))
    return out


def annotator_findings(spec: Spec, acc: Accounting, analyses: dict[str, TaskAnalysis], gold: GoldScores | None,
                       ctx: Context) -> list[Finding]:
    out = _gold_findings(spec, gold)
    for task, analysis in analyses.items():
        out += _loo_findings(task, analysis) + _divergence(spec, task, analysis)
        if getattr(spec.task(task), "kind", None) == "pairwise":
            out += _position_bias(task, analysis)
    out += _lead_time(spec, acc)
    return sorted(out, key=lambda f: (f.kind, f.annotator or "", f.task or ""))


def judging(acc: Accounting) -> list[str]:
    """The annotators with used judgments, sorted: from the annotator codes (one pass, no 10M-element set)."""
    codes, names = codes_of(acc.used, "annotator")
    used, _ = compact(codes, len(names))
    return sorted(str(a) for a in text_of(names, used))


def _unscored(gold: GoldScores, acc: Accounting, least: int) -> str:
    """The annotators with judgments but too few gold ones to be scored (the gate cannot see them: say so), as
    ``not scored, fewer than 20 gold judgments: a14 (1), …``; empty when every one is scored."""
    n = dict(zip(gold.annotators, gold.n.tolist(), strict=True))
    out = sorted((a, int(n.get(a, 0))) for a in judging(acc) if n.get(a, 0) < least)
    if not out:
        return ""
    shown = ", ".join(f"{a} ({k})" for a, k in out[:10]) + (f" and {len(out) - 10} more" if len(out) > 10 else "")
    return f"not scored, fewer than {least} gold judgments: {shown}"


def annotator_measure(gate: Gate, gold: GoldScores | None, ctx: Context, acc: Accounting, q: Quality) -> Measure:
    if gate.id == "gold.accuracy":
        if gold is None or q.gold is None:
            return Measure(None, reason="no gold judgments")
        enough = [i for i in range(len(gold.annotators)) if gold.n[i] >= q.gold.min_judgments]
        unscored = _unscored(gold, acc, q.gold.min_judgments)
        if not enough:  # the gate is undefined, and every judging annotator is among the unscored: name them
            return Measure(None, reason=f"no annotator has ≥ {q.gold.min_judgments} gold judgments",
                           detail=unscored)
        worst = min(enough, key=lambda i: (gold.accuracy[i].value or 0.0, gold.annotators[i]))
        est = gold.accuracy[worst]
        lowest = f"lowest: {gold.annotators[worst]} ({int(gold.correct[worst])}/{int(gold.n[worst])})"
        return Measure(est.value, est.ci_low, est.ci_high, int(gold.n[worst]),
                       detail="; ".join(filter(None, (lowest, unscored))))
    contributing = judging(acc)
    if ctx.roster is None:
        return Measure(None, reason="the spec has no annotator roster to check calibration against")
    if not contributing:
        return Measure(None, reason="no annotator contributed judgments")
    passed = [a for a in contributing if a in ctx.roster and ctx.roster[a].passed]
    missing = [a for a in contributing if a not in passed]
    return Measure(len(passed) / len(contributing), n=len(contributing),
                   detail="not calibrated: " + ", ".join(missing) if missing else "")
