"""Per-task agreement: count tables of one task → every coefficient, with bootstrap intervals.

Choice-like kinds (single_choice, pairwise, rating) report the six classic coefficients and per-label α;
multi_choice adds MASI α and per-label binary α; structured kinds (spans, ranking, attribution, step chains,
taxonomies) are delegated to ``check/structured.py``. Gold units are left out of agreement: they are scored
against the gold label instead, and are often judged by everyone, which would weight them unlike the rest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import pandas as pd

from labelspec.check import stats
from labelspec.check.bootstrap import Patterns, UnitPatterns, unit_table_patterns
from labelspec.check.coded import codes_of, compact, text_of
from labelspec.check.estimate import Estimate
from labelspec.check.replicates import (
    Replicates,
    alpha_replicates,
    fleiss_replicates,
    gwet_replicates,
    percent_replicates,
    scott_replicates,
)
from labelspec.check.tables import (
    Codes,
    PairTables,
    annotator_counts,
    encode,
    gold_unit_mask,
    gold_units_of,
    pair_tables,
    unit_counts,
)
from labelspec.spec.model import BootstrapPolicy, Task

#: The coefficients every choice-like task reports, gated or not (the JSON report always has all of them).
CLASSIC = ("krippendorff_alpha", "fleiss_kappa", "cohen_kappa", "scott_pi", "gwet_ac1", "percent_agreement")


@dataclass(frozen=True)
class TaskAnalysis:
    """What one task's judgments say: agreement, per-label agreement, coverage and the tables behind them."""

    task: str
    n_judgments: int
    n_units: int
    n_annotators: int
    agreement: dict[str, Estimate]
    per_label: dict[str, Estimate] = field(default_factory=dict)
    units_below_coverage: int = 0
    codes: Codes | None = None
    gold_mask: np.ndarray | None = None  # (N,) judgments on gold units
    pairs: PairTables | None = None  # annotator-pair confusions over the scored units
    patterns: UnitPatterns | None = None  # the scored units' count rows, collapsed (label-coded tasks)
    extra: dict[str, object] = field(default_factory=dict)  # kind-specific details for reports


def kappa_weights(task: Task) -> stats.KappaWeights:
    """Cohen's κ weighting follows the level: none (nominal), linear (ordinal), quadratic (interval, ratio)."""
    return {"nominal": "none", "ordinal": "linear"}.get(task.level, "quadratic")  # type: ignore[return-value]


def _with_ci(counts: np.ndarray | Patterns, fn: Callable[..., Estimate], boot: BootstrapPolicy,
             batch: Replicates | None = None) -> Estimate:
    """``fn`` with its interval; ``counts`` may come collapsed into patterns (then the same patterns serve
    every coefficient: collapsing a 3.3M-unit table once instead of five times). ``batch`` evaluates ``fn`` for
    every bootstrap replicate at once (``check.replicates``)."""
    if isinstance(counts, Patterns):
        if boot.replicates == 0:
            return fn(counts.rows, weights=counts.multiplicity)
        return stats.estimate_with_ci(counts.rows, fn, weights=counts.multiplicity, n_boot=boot.replicates,
                                      seed=boot.seed, level=boot.level, replicates=batch)
    if boot.replicates == 0:
        return fn(counts)
    return stats.estimate_with_ci(counts, fn, n_boot=boot.replicates, seed=boot.seed, level=boot.level)


def _cohen(tables: PairTables, task: Task, boot: BootstrapPolicy, kappas: stats.PairKappas | None = None
           ) -> Estimate:
    weights = kappa_weights(task)
    point = stats.mean_cohen_kappa(tables.confusions, weights=weights, kappas=kappas)
    if point.value is None or boot.replicates == 0:
        return point
    interval = stats.bootstrap_mean_cohen_kappa(tables.confusions, tables.observation_cell, tables.observation_block,
                                                tables.n_blocks, weights=weights, n_boot=boot.replicates,
                                                seed=boot.seed, level=boot.level, kappas=kappas)
    return replace(point, ci_low=interval.low, ci_high=interval.high, ci_reason=interval.reason)


def cohen_pairs(codes: Codes, tables: PairTables, task: Task, *, lowest: int = 10,
                kappas: stats.PairKappas | None = None) -> dict[str, object]:
    """Cohen's κ of every annotator pair, summarised (there may be ~10⁵ pairs): count, spread and the lowest."""
    values, sizes = stats.pairwise_kappa_values(tables.confusions, weights=kappa_weights(task), kappas=kappas)
    defined = np.flatnonzero(~np.isnan(values))
    worst = defined[np.lexsort((defined, values[defined]))][:lowest]
    return {
        "weights": kappa_weights(task), "n_pairs": len(values), "n_defined": int(defined.size),
        "min": float(values[defined].min()) if defined.size else None,
        "median": float(np.median(values[defined])) if defined.size else None,
        "max": float(values[defined].max()) if defined.size else None,
        "lowest": [{"annotators": [str(codes.annotators[tables.pairs[p, 0]]), str(codes.annotators[tables.pairs[p, 1]])],
                    "kappa": float(values[p]), "n_units": int(sizes[p])} for p in worst],
    }


def unit_patterns(codes: Codes, mask: np.ndarray, dropped_units: np.ndarray | None = None) -> UnitPatterns:
    """The (units × categories) table of ``mask``'s units, collapsed into distinct rows once for every
    coefficient, finding and gate that needs it (3.3M units at 10M judgments collapse to a few hundred).
    ``dropped_units`` (U,): when ``mask`` drops exactly these whole units, the table is ``Codes.unit_table``
    with their rows emptied (no second count of every judgment)."""
    if dropped_units is None:
        return unit_table_patterns(unit_counts(codes, mask))
    table = codes.unit_table.copy()  # int32: half the memory of an int64 copy (53 MB at 3.3M units)
    table[dropped_units] = 0
    return unit_table_patterns(table)


def choosable(task: Task) -> float | None:
    """The categories AC1's chance term counts when the table's columns are not all of them: for multi_choice,
    every label set a judgment may select (sizes ``min_choices``..``max_choices``), used or not; the columns
    are the sets observed, which would make K depend on the data (gold units included). None otherwise."""
    if task.kind != "multi_choice":
        return None
    n = len(task.label_ids)
    lo, hi = task.min_choices or 0, n if task.max_choices is None else min(task.max_choices, n)
    sets = sum(math.comb(n, k) for k in range(lo, hi + 1))
    return float(sets) if sets.bit_length() < 1000 else math.inf  # then p_e = 0: AC1 = p_a


def classic_agreement(codes: Codes, mask: np.ndarray, task: Task, boot: BootstrapPolicy,
                      tables: PairTables, patterns: Patterns | None = None,
                      kappas: stats.PairKappas | None = None) -> dict[str, Estimate]:
    """The six classic coefficients over the units of ``mask``; ``tables`` are its annotator-pair confusions
    (``kappas``: their :func:`stats.pair_kappas`, when the caller made them)."""
    counts = unit_patterns(codes, mask).patterns if patterns is None else patterns
    k = choosable(task)  # AC1's K when the columns are not every category (multi_choice)
    values = np.array([float(c) for c in codes.categories]) if task.kind == "rating" else None

    def alpha(c: np.ndarray, *, weights: np.ndarray | None = None) -> Estimate:
        return stats.krippendorff_alpha(c, weights=weights, level=task.level, values=values)

    return {
        "krippendorff_alpha": _with_ci(counts, alpha, boot, alpha_replicates(task.level, values)),
        "fleiss_kappa": _with_ci(counts, stats.fleiss_kappa, boot, fleiss_replicates),
        "cohen_kappa": _cohen(tables, task, boot, kappas),
        "scott_pi": _with_ci(counts, stats.scott_pi, boot, scott_replicates),
        "gwet_ac1": _with_ci(counts, partial(stats.gwet_ac1, n_categories=k), boot,
                             partial(gwet_replicates, n_categories=k)),
        "percent_agreement": _with_ci(counts, stats.percent_agreement, boot, percent_replicates),
    }


def per_label(codes: Codes, mask: np.ndarray, boot: BootstrapPolicy, patterns: Patterns | None = None
              ) -> dict[str, Estimate]:
    p = unit_patterns(codes, mask).patterns if patterns is None else patterns
    if p.rows.shape[1] < 2:
        return {}
    estimates = stats.per_label_alpha(p.rows, weights=p.multiplicity)
    return {label: est for label, est in zip(codes.categories, estimates, strict=True)}


def _multi_choice(frame: pd.DataFrame, task: Task, gold_units: set[str], boot: BootstrapPolicy,
                  coded: Callable[[Codes], None] | None
                  ) -> tuple[Codes, np.ndarray, PairTables, UnitPatterns, dict[str, Estimate], dict[str, Estimate]]:
    order = {label: i for i, label in enumerate(task.label_ids)}
    value_code, value_cats = codes_of(frame, "value")
    present, rank = compact(value_code, len(value_cats))  # each distinct value is parsed once
    canon = [json.dumps(sorted(json.loads(v), key=order.__getitem__), ensure_ascii=False, separators=(",", ":"))
             for v in text_of(value_cats, present)]
    sets = tuple(sorted(set(canon), key=lambda s: (len(json.loads(s)), s)))
    position = {s: i for i, s in enumerate(sets)}
    category = np.array([position[c] for c in canon], dtype=np.int64)
    codes = encode(frame, sets, category_of=category[rank] if len(rank) else rank)
    mask = ~gold_unit_mask(codes, gold_units)
    counts = unit_counts(codes, mask)
    collapsed = unit_table_patterns(counts)
    counts = counts[counts.sum(axis=1) > 0]
    frozen = [frozenset(json.loads(s)) for s in sets]

    def masi(c: np.ndarray, *, weights: np.ndarray | None = None) -> Estimate:
        return stats.masi_alpha(c, frozen, weights=weights)

    # the classic coefficients treat each distinct label set as one nominal category (exact-set agreement);
    # MASI α credits partial overlap between sets
    tables = pair_tables(codes, mask)
    if coded is not None:
        coded(codes)
    agreement = {**classic_agreement(codes, mask, task, boot, tables, collapsed.patterns),
                 "masi_alpha": _with_ci(counts, masi, boot)}
    labels: dict[str, Estimate] = {}
    member = np.array([[lab in s for lab in task.label_ids] for s in frozen], dtype=np.int64).reshape(
        len(frozen), len(task.label_ids))  # (S, L); S is 0 when the task has no judgment
    for j, lab in enumerate(task.label_ids):  # one binary table per label: a loop over labels, not rows
        has = counts @ member[:, j]
        labels[lab] = stats.krippendorff_alpha(np.stack([counts.sum(axis=1) - has, has], axis=1))
    return codes, mask, tables, collapsed, agreement, labels


def analyze_choice(frame: pd.DataFrame, task: Task, *, gold_units: set[str], min_per_unit: int | None,
                   boot: BootstrapPolicy, coded: Callable[[Codes], None] | None = None,
                   by_item: tuple[np.ndarray, np.ndarray] | None = None) -> TaskAnalysis:
    """Agreement for single_choice, pairwise, rating and multi_choice tasks.

    ``coded`` is called with the task's codes as soon as they exist (multi_choice: after its pair tables, over
    the label sets): work the caller starts on them then (the consensus, on a second core) overlaps the whole
    analysis, at 10M judgments within G13's 2 GiB since Dawid–Skene and the unit tables were slimmed
    (``benchmarks/HISTORY.md``). Their unit table and grouping by unit, which both sides read, are made once by
    whichever side asks first (``Codes._once``). ``by_item``: ``frame``'s rows
    grouped by item (``Accounting.by_item``), when the accounting grouped exactly these rows."""
    kappas: stats.PairKappas | None = None
    if task.kind == "multi_choice":
        codes, mask, tables, collapsed, agreement, labels = _multi_choice(frame, task, gold_units, boot, coded)
    else:
        codes = encode(frame, task.label_ids, by_item=by_item, narrow=True)
        if coded is not None:  # the consensus starts now, on the other core
            coded(codes)
        # counted here while the consensus builds its sparse matrix from the grouping, then reads this table
        # (whichever thread asks first makes each, once: ``Codes._once``)
        _ = codes.unit_table
        on_gold = gold_units_of(codes, gold_units)
        mask = ~on_gold[codes.unit]
        tables = pair_tables(codes, mask, units=~on_gold)
        kappas = stats.pair_kappas(tables.confusions, weights=kappa_weights(task))  # the mean's, its interval's
        collapsed = unit_patterns(codes, mask, on_gold)                              # and the summary's
        agreement = classic_agreement(codes, mask, task, boot, tables, collapsed.patterns, kappas)
        labels = per_label(codes, mask, boot, collapsed.patterns) if task.kind != "rating" else {}
    # the per-observation arrays served the Cohen interval only; the pair tables stay (findings use them)
    empty = np.zeros(0, dtype=np.int64)
    tables = replace(tables, observation_cell=empty, observation_block=empty)
    # coverage from the collapsed rows (a unit's judgments are its row's sum), annotators from their table
    judged, units = collapsed.patterns.rows.sum(axis=1), collapsed.patterns.multiplicity
    by_annotator = annotator_counts(codes, mask)
    return TaskAnalysis(task=task.name, n_judgments=int(mask.sum()), n_units=int(units.sum()),
                        n_annotators=int(np.count_nonzero(by_annotator.sum(axis=1))), agreement=agreement,
                        per_label=labels, units_below_coverage=int(units[judged < (min_per_unit or 0)].sum()),
                        codes=codes, gold_mask=~mask, pairs=tables, patterns=collapsed,
                        extra={"annotator_counts": by_annotator,
                               "cohen_kappa_pairs": cohen_pairs(codes, tables, task, kappas=kappas)})
