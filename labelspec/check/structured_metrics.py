"""Point metrics and linearised item-block intervals of span and ranking tasks, from one parse and one matching.

One job: for a task's scored judgments, parse the values once (``span_table``), build the span set and both
matchings (or the rank block) once, and derive from them the point coefficients, the extra span details and
the additive intervals that ``structured`` reports above the recompute limit. It never resamples (the item
bootstrap lives in ``structured``) and decides no gate.

Intervals. A pair's span F1 is 2·TP / (|a| + |b|) summed over the units both judged, and matching is per unit,
so TP and the denominator of every pair add up over any partition of the items: one matching of all units,
summed per (item block, pair), gives every block's contribution (:func:`span_intervals`). Pairs often share few
units, and a ratio recomputed on a resampled small table is biased (measured: an interval that excluded the
estimate), so the mean is linearised as for Cohen's κ: block b contributes Σ_p (2 TP_pb − F1_p D_pb) / D_p / P,
and a replicate is the estimate plus Σ_b (w_b − 1) times that; it is centred on the estimate by construction.
Kendall's W is a mean of per-unit values and is linearised the same way (:func:`w_interval`). Character α
pools its coincidences over all characters, so each resample of blocks re-evaluates it exactly from the
blocks' coincidence matrices (``char_alpha.block_coincidences``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from labelspec.check import stats
from labelspec.check.char_alpha import block_coincidences
from labelspec.check.decide_kinds import KindInput, canonical, encode_task
from labelspec.check.decide_structured import category_orders, span_set_of
from labelspec.check.estimate import Estimate
from labelspec.check.ranking import RankingAgreement, rank_block_of_codes, ranking_agreement, ranks_from_order
from labelspec.check.replicates import alpha_of_coincidences
from labelspec.check.span_match import (
    Denominators,
    PairSums,
    SpanMatches,
    both_matches,
    denominators,
    pair_sums,
    ungrouped,
    ungrouped_sums,
)
from labelspec.check.span_table import canonical_spans
from labelspec.check.spans import CharAlpha, SpanF1, SpanSet, char_alpha, f1_of_sums
from labelspec.check.tables import Codes, item_block
from labelspec.check.task_parse import ParsedTask
from labelspec.check.taxonomy import unique_inverse
from labelspec.spec.model import Adjudication, BootstrapPolicy, Task

Metrics = Callable[[pd.DataFrame], dict[str, Estimate]]
#: Item blocks for the additive intervals (items are hashed into blocks; steps and spans stay together).
N_BLOCKS = 200


def canonical_values(task: Task, values: pd.Series) -> pd.Series:
    """``decide_kinds.canonical``, with span values parsed and rewritten in bulk."""
    return canonical_spans(values, task.label_ids) if task.kind == "spans" else canonical(task, values)


def task_input(task: Task, frame: pd.DataFrame, lengths: dict[str, int]) -> KindInput:
    """``frame`` values are already canonical (done once, before any bootstrap replicate)."""
    return KindInput(task=task, frame=frame, codes=encode_task(task, frame), gold={}, policy=Adjudication(),
                     text_length=lengths)


def percentile(point: Estimate, replicates: np.ndarray, boot: BootstrapPolicy) -> Estimate:
    if point.value is None:
        return point
    iv = stats.percentile_interval(replicates, level=boot.level)
    return dataclasses.replace(point, ci_low=iv.low, ci_high=iv.high, ci_reason=iv.reason)


def _draws(boot: BootstrapPolicy, n_blocks: int) -> np.ndarray:
    rng = np.random.default_rng(boot.seed)
    return rng.multinomial(n_blocks, np.full(n_blocks, 1.0 / n_blocks), size=boot.replicates).astype(np.float64)


@dataclass(frozen=True)
class SpanWork:
    """One parse, one span set, both matchings and the coefficients built from them."""

    inp: KindInput
    sset: SpanSet
    exact: SpanMatches
    overlap: SpanMatches
    f1_exact: SpanF1
    f1_overlap: SpanF1
    alpha: CharAlpha
    block_den: Denominators | None = None  # the denominators per item block (N_BLOCKS), when already built
    block_sums: tuple[PairSums, PairSums] | None = None  # exact and overlap sums per item block, likewise
    unit_block: np.ndarray | None = None  # each unit's item block, likewise


def span_work(task: Task, frame: pd.DataFrame, lengths: dict[str, int], parsed: ParsedTask | None = None
              ) -> SpanWork:
    """``parsed`` (``frame`` parsed once for the whole check) supplies the codes, span set and matchings."""
    if parsed is None or parsed.spans is None:
        inp = task_input(task, frame, lengths)
        sset = span_set_of(inp)
        exact, overlap = both_matches(sset)
    else:
        inp = KindInput(task=task, frame=parsed.frame, codes=parsed.codes, gold={}, policy=Adjudication(),
                        text_length=lengths)
        sset, (exact, overlap) = parsed.spans, parsed.matches()
    if parsed is None:
        den = denominators(sset)
        sums = pair_sums(sset, exact, den), pair_sums(sset, overlap, den)
        return SpanWork(inp, sset, exact, overlap, f1_of_sums(sums[0]), f1_of_sums(sums[1]), char_alpha(sset))
    # the whole check's path builds the interval's per-block sums first and adds them up for the point F1
    unit_block = item_block(inp.codes.unit_item_texts(), N_BLOCKS)
    # character α needs neither matching nor denominators: it is unitised on a second thread meanwhile (numpy
    # releases the GIL; at 1M span judgments each side takes ~1-1.5 s, on the check's critical path)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="labelspec-char-alpha") as pool:
        alpha = pool.submit(char_alpha, sset, unit_block, N_BLOCKS)
        block_den = denominators(sset, unit_block)
        den = ungrouped(block_den, sset.n_annotators, sset.n_labels)
        blocks = pair_sums(sset, exact, block_den), pair_sums(sset, overlap, block_den)
        f1 = f1_of_sums(ungrouped_sums(blocks[0], den)), f1_of_sums(ungrouped_sums(blocks[1], den))
        return SpanWork(inp, sset, exact, overlap, *f1, alpha.result(), block_den, blocks, unit_block)


def span_point(work: SpanWork) -> dict[str, Estimate]:
    return {"span_f1_exact": work.f1_exact.mean, "span_f1_overlap": work.f1_overlap.mean,
            "span_alpha": work.alpha.nominal}


def span_metrics(task: Task, lengths: dict[str, int]) -> Metrics:
    return lambda frame: span_point(span_work(task, frame, lengths))


def _per_block(work: SpanWork, sums: PairSums) -> np.ndarray | None:
    """(N_BLOCKS,) each item block's linearised contribution to the mean pair F1; ``None`` without pairs."""
    a2 = max(work.sset.n_annotators, 1) ** 2
    keys, inv = unique_inverse(sums.key // max(work.sset.n_labels, 1))  # (block, pair), labels summed
    if keys.size == 0:
        return None
    tp = np.bincount(inv, weights=sums.tp, minlength=keys.size)
    spans = np.bincount(inv, weights=sums.den, minlength=keys.size)
    pairs, col = unique_inverse(keys % a2)
    pair_tp, pair_den = np.bincount(col, weights=tp), np.bincount(col, weights=spans)  # every pair has spans
    pair_f1 = 2 * pair_tp / pair_den
    # linearised: δF1_p ≈ (2 δTP_p − F1_p δD_p) / D_p, averaged over pairs; Σ_b of it is 0 (centred)
    contribution = (2 * tp - pair_f1[col] * spans) / pair_den[col]
    return np.bincount(keys // a2, weights=contribution, minlength=N_BLOCKS) / pairs.size


def span_intervals(work: SpanWork, point: dict[str, Estimate], boot: BootstrapPolicy) -> dict[str, Estimate]:
    """Intervals for span F1 (mean over annotator pairs) from additive per-block sums, and for character α from
    per-block coincidences (module docstring)."""
    blocks = work.block_sums
    unit_block = work.unit_block
    if unit_block is None:
        unit_block = item_block(work.inp.codes.unit_item_texts(), N_BLOCKS)
    if blocks is None:
        den = denominators(work.sset, unit_block)
        blocks = pair_sums(work.sset, work.exact, den), pair_sums(work.sset, work.overlap, den)
    draws = _draws(boot, N_BLOCKS)
    out = {} if "span_alpha" not in point else {
        "span_alpha": _alpha_interval(work, point["span_alpha"], unit_block, draws, boot)}
    for mode, sums in zip(("exact", "overlap"), blocks, strict=True):
        name, est = f"span_f1_{mode}", point[f"span_f1_{mode}"]
        per_block = _per_block(work, sums)
        if per_block is None:
            out[name] = est
            continue
        replicates = (est.value if est.value is not None else np.nan) + (draws - 1.0) @ per_block
        out[name] = percentile(est, replicates, boot)
    return out


def _alpha_interval(work: SpanWork, est: Estimate, unit_block: np.ndarray, draws: np.ndarray,
                    boot: BootstrapPolicy) -> Estimate:
    """Character α re-evaluated exactly for each resample of item blocks, from the blocks' coincidences."""
    if est.value is None:
        return est
    per_block = work.alpha.blocks if work.alpha.blocks is not None else block_coincidences(work.sset, unit_block,
                                                                                             N_BLOCKS)
    replicates = alpha_of_coincidences(np.einsum("bn,nij->bij", draws, per_block))
    return percentile(est, replicates, boot)


def span_f1_intervals(task: Task, frame: pd.DataFrame, lengths: dict[str, int], point: dict[str, Estimate],
                      boot: BootstrapPolicy) -> dict[str, Estimate]:
    """:func:`span_intervals` for judgments not yet parsed."""
    return span_intervals(span_work(task, frame, lengths), point, boot)


@dataclass(frozen=True)
class RankWork:
    codes: Codes
    agreement: RankingAgreement
    unit_block: np.ndarray  # each unit's item block (N_BLOCKS), for the intervals


def rank_work(task: Task, frame: pd.DataFrame, parsed: ParsedTask | None = None) -> RankWork:
    c = encode_task(task, frame) if parsed is None else parsed.codes
    table = ranks_from_order(category_orders(c, task.options))  # once per distinct ranking
    block = rank_block_of_codes(c.unit, c.annotator, c.category, table)
    unit_block = item_block(c.unit_item_texts(), N_BLOCKS)
    return RankWork(c, ranking_agreement(block, unit_block=unit_block, n_blocks=N_BLOCKS), unit_block)


def ranking_point(work: RankWork) -> dict[str, Estimate]:
    r = work.agreement
    return {"kendall_w": r.w_mean, "kendall_tau": r.tau_b_mean, "preference_alpha": r.pair_alpha}


def ranking_metrics(task: Task) -> Metrics:
    return lambda frame: ranking_point(rank_work(task, frame))


def w_interval(work: RankWork, point: Estimate, boot: BootstrapPolicy) -> Estimate:
    """Interval for the mean of per-unit Kendall's W from item blocks of the per-unit values (no refit)."""
    r = work.agreement
    ok = ~np.isnan(r.w)
    if point.value is None or not ok.any():
        return point
    block = work.unit_block[r.unit[ok]]
    # linearised mean over units: block b contributes Σ_u∈b (W_u − W̄) / n; centred on the estimate
    per_block = np.bincount(block, weights=r.w[ok] - point.value, minlength=N_BLOCKS) / ok.sum()
    replicates = point.value + (_draws(boot, N_BLOCKS) - 1.0) @ per_block
    return percentile(point, replicates, boot)


def tau_interval(work: RankWork, point: Estimate, boot: BootstrapPolicy) -> Estimate:
    """Interval for the mean pairwise τ-b (Σ τ / Σ pairs over units), re-evaluated exactly for each resample of
    item blocks from the blocks' sums."""
    r = work.agreement
    if point.value is None or r.tau_sum is None or r.tau_pairs is None:
        return point
    block = work.unit_block[r.unit]
    sums = np.bincount(block, weights=r.tau_sum, minlength=N_BLOCKS)
    pairs = np.bincount(block, weights=r.tau_pairs, minlength=N_BLOCKS)
    draws = _draws(boot, N_BLOCKS)
    with np.errstate(invalid="ignore", divide="ignore"):
        replicates = (draws @ sums) / (draws @ pairs)  # no pair drawn: NaN, counted as undefined
    return percentile(point, replicates, boot)


def preference_alpha_interval(work: RankWork, point: Estimate, boot: BootstrapPolicy) -> Estimate:
    """Interval for the preference α, re-evaluated exactly for each resample of item blocks from the blocks'
    coincidences (as for character α)."""
    per_block = work.agreement.pair_blocks
    if point.value is None or per_block is None:
        return point
    return percentile(point, alpha_of_coincidences(np.einsum("bn,nij->bij", _draws(boot, N_BLOCKS), per_block)),
                      boot)


def kendall_w_interval(task: Task, frame: pd.DataFrame, point: Estimate, boot: BootstrapPolicy) -> Estimate:
    """:func:`w_interval` for judgments not yet encoded."""
    return w_interval(rank_work(task, frame), point, boot)
