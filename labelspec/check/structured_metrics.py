"""Point metrics and bootstrap intervals of span and ranking tasks, from one parse and one matching.

One job: for a task's scored judgments, parse the values once (``span_table``), build the span set and both
matchings (or the rank block) once, and derive from them the point coefficients, the extra span details and
their intervals. It never recomputes a coefficient on resampled rows and decides no gate.

Intervals. Every coefficient here is a function of per-unit sums: a pair's span F1 is 2·TP / (|a| + |b|)
summed over the units both judged (matching is per unit), character α and the preference α pool per-unit
coincidences, the mean τ-b is Σ τ / Σ pairs over units, Kendall's W a mean of per-unit values. So the units'
sums are added up once per resampled *block* of items (:class:`Blocks`), and a replicate is evaluated from its
blocks' weights: up to :data:`ITEM_BOOTSTRAP_ROWS` judgments each item is a block (the item bootstrap itself),
above it items are hashed into :data:`N_BLOCKS` blocks. Both α's and τ-b are re-evaluated exactly from the drawn
blocks' sums (the same values as recomputing them on the drawn items, ``tests/test_structured_intervals.py``),
and so is Kendall's W over items. The mean F1 over annotator pairs is not: pairs often share few units, and
per-pair ratios re-evaluated on resampled items are biased (measured: intervals that excluded their own
estimate, at 50k judgments with items as blocks as at 100k with hashed blocks), so it is linearised at every
size as Cohen's κ is: block b contributes Σ_p (2 TP_pb − F1_p D_pb) / D_p / P, and a replicate is the estimate
plus Σ_b (w_b − 1) times that (centred on the estimate by construction). Above the limit W is linearised the
same way (:func:`_w_replicates`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
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

#: (replicates, blocks) weights → (replicates,) values of one coefficient, NaN where undefined.
Replicates = Callable[[np.ndarray], np.ndarray]
#: Up to this many judgments every item is its own block: the exact item bootstrap (module docstring).
ITEM_BOOTSTRAP_ROWS = 50_000
#: Item blocks above :data:`ITEM_BOOTSTRAP_ROWS` (items are hashed into blocks; steps and spans stay together).
N_BLOCKS = 200
#: Replicates × items per chunk of the item bootstrap: 1 MiB of weights, cache-sized (measured with the replicates
#: of 30k span judgments: 0.31 s; 256k–1M cells 0.37–0.40 s; 4M 0.83 s and 130 MiB more at the peak).
_DRAW_CELLS = 1 << 17


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
class Blocks:
    """What a replicate resamples: each unit's block (an item's units share one), how many blocks there are,
    and whether each block is one item (the item bootstrap itself) or a hashed bucket of items."""

    unit: np.ndarray
    n: int
    items: bool


def resampled_blocks(codes: Codes, n_rows: int) -> Blocks:
    """Every item its own block up to :data:`ITEM_BOOTSTRAP_ROWS` judgments, numbered in id order (any row order
    draws the same items), else :data:`N_BLOCKS` blocks by a hash of the item id."""
    texts = codes.unit_item_texts()
    if n_rows > ITEM_BOOTSTRAP_ROWS:
        return Blocks(item_block(texts, N_BLOCKS), N_BLOCKS, False)
    item, names = pd.factorize(texts.to_numpy(zero_copy_only=False), sort=True)
    return Blocks(item.astype(np.int64), len(names), True)


def draws(boot: BootstrapPolicy, blocks: Blocks) -> Iterator[np.ndarray]:
    """Each replicate's weight per block, some replicates at a time: how often each item is picked when as many
    items are drawn with replacement (items), or a multinomial over the hashed blocks."""
    if not blocks.items:
        yield _draws(boot, blocks.n)
        return
    rng = np.random.default_rng(boot.seed)
    n = blocks.n
    step = max(1, _DRAW_CELLS // max(n, 1))
    for start in range(0, boot.replicates, step):  # a loop over chunks of replicates
        picks = rng.integers(0, max(n, 1), size=(min(step, boot.replicates - start), n), dtype=np.int32)
        weights = np.empty(picks.shape)
        for r, row in enumerate(picks):  # a loop over replicates: one count per item (cache-sized)
            weights[r] = np.bincount(row, minlength=n)
        yield weights


def replicate(boot: BootstrapPolicy, blocks: Blocks, fns: dict[str, Replicates]) -> dict[str, np.ndarray]:
    """Every coefficient of ``fns`` evaluated on the same replicates (one pass over the draws)."""
    if not fns:  # no coefficient defined: nothing to draw for
        return {}
    parts: dict[str, list[np.ndarray]] = {name: [] for name in fns}
    for weights in draws(boot, blocks):
        for name, fn in fns.items():
            parts[name].append(np.asarray(fn(weights), dtype=np.float64))
    return {name: np.concatenate(p) if p else np.zeros(0) for name, p in parts.items()}


def _ratio(num: np.ndarray, den: np.ndarray) -> Replicates:
    """A ratio of per-block sums re-evaluated per replicate; NaN (undefined) when no block with a denominator is
    drawn, even where the numerator's sum is a rounding residue (τ-b's of a unit with one ranking: not 0/0)."""
    def fn(weights: np.ndarray) -> np.ndarray:
        drawn = weights @ den
        with np.errstate(invalid="ignore", divide="ignore"):
            values: np.ndarray = np.where(drawn > 0, (weights @ num) / drawn, np.nan)
        return values
    return fn


def _coincidence_alpha(per_block: np.ndarray) -> Replicates:
    """α re-evaluated per replicate from the blocks' (n, K, K) coincidence matrices (one matrix product)."""
    flat = per_block.reshape(per_block.shape[0], -1)
    return lambda weights: alpha_of_coincidences((weights @ flat).reshape(-1, *per_block.shape[1:]))


def _linearised(value: float | None, per_block: np.ndarray) -> Replicates:
    """The estimate plus Σ_b (w_b − 1) times each block's linearised contribution (module docstring)."""
    return lambda weights: (value if value is not None else np.nan) + (weights - 1.0) @ per_block


def _intervals(point: dict[str, Estimate], boot: BootstrapPolicy, blocks: Blocks,
               fns: dict[str, Replicates]) -> dict[str, Estimate]:
    """``point`` with an interval for each coefficient in ``fns`` (the others as they are), in ``point``'s order."""
    reps = replicate(boot, blocks, fns)
    return {name: percentile(est, reps[name], boot) if name in reps else est for name, est in point.items()}


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
    block_den: Denominators | None = None  # the denominators per resampled block, when already built
    block_sums: tuple[PairSums, PairSums] | None = None  # exact and overlap sums per block, likewise
    blocks: Blocks | None = None  # the blocks they are summed by (``alpha.blocks`` too), likewise


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
    blocks = resampled_blocks(inp.codes, len(inp.frame))
    # character α needs neither matching nor denominators: it is unitised on a second thread meanwhile (numpy
    # releases the GIL; at 1M span judgments each side takes ~1-1.5 s, on the check's critical path)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="labelspec-char-alpha") as pool:
        alpha = pool.submit(char_alpha, sset, blocks.unit, blocks.n)
        block_den = denominators(sset, blocks.unit)
        den = ungrouped(block_den, sset.n_annotators, sset.n_labels)
        summed = pair_sums(sset, exact, block_den), pair_sums(sset, overlap, block_den)
        f1 = f1_of_sums(ungrouped_sums(summed[0], den)), f1_of_sums(ungrouped_sums(summed[1], den))
        return SpanWork(inp, sset, exact, overlap, *f1, alpha.result(), block_den, summed, blocks)


def span_point(work: SpanWork) -> dict[str, Estimate]:
    return {"span_f1_exact": work.f1_exact.mean, "span_f1_overlap": work.f1_overlap.mean,
            "span_alpha": work.alpha.nominal}


def _f1_linearised(work: SpanWork, sums: PairSums, est: Estimate, n_blocks: int) -> Replicates | None:
    """The mean pair F1 linearised: the estimate plus each drawn block's contribution (module docstring), as
    Cohen's κ; replicates clipped to F1's range [0, 1], which a first-order step can leave on small data.
    ``None`` without pairs."""
    a2 = max(work.sset.n_annotators, 1) ** 2
    keys, inv = unique_inverse(sums.key // max(work.sset.n_labels, 1))  # (block, pair), labels summed
    if keys.size == 0:
        return None
    tp = np.bincount(inv, weights=sums.tp, minlength=keys.size)
    spans = np.bincount(inv, weights=sums.den, minlength=keys.size)
    col = unique_inverse(keys % a2)[1]
    pair_tp, pair_den = np.bincount(col, weights=tp), np.bincount(col, weights=spans)  # every pair has spans
    pair_f1 = 2 * pair_tp / pair_den
    # linearised: δF1_p ≈ (2 δTP_p − F1_p δD_p) / D_p, averaged over pairs; Σ_b of it is 0 (centred)
    contribution = (2 * tp - pair_f1[col] * spans) / pair_den[col]
    linear = _linearised(est.value, np.bincount(keys // a2, weights=contribution, minlength=n_blocks) / pair_den.size)
    return lambda weights: np.clip(linear(weights), 0.0, 1.0)


def span_replicates(work: SpanWork, point: dict[str, Estimate]) -> tuple[Blocks, dict[str, Replicates]]:
    """What a replicate of span F1 (mean over annotator pairs) and character α is evaluated from: the blocks, and
    each defined coefficient's function of the blocks' weights."""
    blocks = work.blocks if work.blocks is not None else resampled_blocks(work.inp.codes, len(work.inp.frame))
    sums = work.block_sums
    if sums is None:
        den = denominators(work.sset, blocks.unit)
        sums = pair_sums(work.sset, work.exact, den), pair_sums(work.sset, work.overlap, den)
    fns: dict[str, Replicates] = {}
    for mode, mode_sums in zip(("exact", "overlap"), sums, strict=True):
        name = f"span_f1_{mode}"
        fn = _f1_linearised(work, mode_sums, point[name], blocks.n)
        if fn is not None:
            fns[name] = fn
    if "span_alpha" in point and point["span_alpha"].value is not None:
        per_block = work.alpha.blocks if work.alpha.blocks is not None else block_coincidences(
            work.sset, blocks.unit, blocks.n)
        fns["span_alpha"] = _coincidence_alpha(per_block)
    return blocks, fns


def span_intervals(work: SpanWork, point: dict[str, Estimate], boot: BootstrapPolicy) -> dict[str, Estimate]:
    """Intervals for span F1 and character α from per-block sums and coincidences (module docstring)."""
    return _intervals(point, boot, *span_replicates(work, point))


@dataclass(frozen=True)
class RankWork:
    codes: Codes
    agreement: RankingAgreement
    blocks: Blocks  # what the intervals resample (the preference α's coincidences are summed by them)


def rank_work(task: Task, frame: pd.DataFrame, parsed: ParsedTask | None = None) -> RankWork:
    c = encode_task(task, frame) if parsed is None else parsed.codes
    table = ranks_from_order(category_orders(c, task.options))  # once per distinct ranking
    block = rank_block_of_codes(c.unit, c.annotator, c.category, table)
    blocks = resampled_blocks(c, len(frame))
    return RankWork(c, ranking_agreement(block, unit_block=blocks.unit, n_blocks=blocks.n), blocks)


def ranking_point(work: RankWork) -> dict[str, Estimate]:
    r = work.agreement
    return {"kendall_w": r.w_mean, "kendall_tau": r.tau_b_mean, "preference_alpha": r.pair_alpha}


def _w_replicates(work: RankWork, point: Estimate) -> Replicates | None:
    """The mean of per-unit Kendall's W: re-evaluated over the drawn items, or linearised over hashed blocks
    (block b contributes Σ_u∈b (W_u − W̄) / n; centred on the estimate)."""
    r = work.agreement
    ok = ~np.isnan(r.w)
    if point.value is None or not ok.any():
        return None
    block, n = work.blocks.unit[r.unit[ok]], work.blocks.n
    if work.blocks.items:
        return _ratio(np.bincount(block, weights=r.w[ok], minlength=n), np.bincount(block, minlength=n) * 1.0)
    return _linearised(point.value, np.bincount(block, weights=r.w[ok] - point.value, minlength=n) / ok.sum())


def ranking_replicates(work: RankWork, point: dict[str, Estimate]) -> dict[str, Replicates]:
    """Each defined coefficient's function of the blocks' weights: Kendall's W (:func:`_w_replicates`), the mean
    pairwise τ-b (Σ τ / Σ pairs over units, re-evaluated exactly from the blocks' sums) and the preference α
    (from the blocks' coincidences, as for character α)."""
    r, blocks = work.agreement, work.blocks
    fns: dict[str, Replicates] = {}
    w = _w_replicates(work, point["kendall_w"])
    if w is not None:
        fns["kendall_w"] = w
    if point["kendall_tau"].value is not None and r.tau_sum is not None and r.tau_pairs is not None:
        block = blocks.unit[r.unit]
        fns["kendall_tau"] = _ratio(np.bincount(block, weights=r.tau_sum, minlength=blocks.n),
                                    np.bincount(block, weights=r.tau_pairs, minlength=blocks.n))
    if point["preference_alpha"].value is not None and r.pair_blocks is not None:
        fns["preference_alpha"] = _coincidence_alpha(r.pair_blocks)
    return fns


def ranking_intervals(work: RankWork, point: dict[str, Estimate], boot: BootstrapPolicy) -> dict[str, Estimate]:
    """Intervals for Kendall's W, the mean τ-b and the preference α (:func:`ranking_replicates`)."""
    return _intervals(point, boot, work.blocks, ranking_replicates(work, point))
