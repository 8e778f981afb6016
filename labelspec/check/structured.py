"""Agreement for structured task kinds (spans, ranking, attribution), taxonomies and step chains.

Wires the coefficient modules (``spans``, ``ranking``, ``taxonomy``, ``trajectory``) into a :class:`TaskAnalysis`,
so gates, reports, adjudication and release treat them like any other task. Values are parsed once per distinct
canonical value (``decide_kinds.encode_task``), never once per judgment.

Intervals. Up to :data:`MAX_BOOTSTRAP_ROWS` judgments the bootstrap resamples *items* (all steps and spans of
an item together) and recomputes every coefficient per replicate (at most :data:`MAX_REPLICATES`). Above that,
span F1 (exact and overlap) and Kendall's W, which are built from sums that add up over items, get linearised
item-block intervals (:func:`span_f1_intervals`, :func:`kendall_w_interval`): centred on the estimate, any size,
the spec's full replicate count. The other coefficients then have no interval (``ci_reason`` says why; gate on
the estimate, or sample). The seed and level come from ``quality.bootstrap``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import numpy as np
import pandas as pd

from labelspec.check import stats
from labelspec.check.analyze import TaskAnalysis, analyze_choice
from labelspec.check.coded import with_text
from labelspec.check.context import Context
from labelspec.check.decide_kinds import KindInput, canonical, encode_task
from labelspec.check.decide_structured import orders_of, span_set_of
from labelspec.check.estimate import Estimate
from labelspec.check.ranking import rank_block, ranking_agreement, ranks_from_order
from labelspec.check.spans import char_alpha, span_f1, span_findings
from labelspec.check.tables import item_block
from labelspec.check.taxonomy import depth_agreement
from labelspec.check.trajectory import attribution_agreement, first_error_agreement, first_error_steps
from labelspec.spec.model import Adjudication, BootstrapPolicy, Spec, Task

STRUCTURED_KINDS = frozenset({"spans", "ranking", "attribution"})
MAX_REPLICATES = 100
MAX_BOOTSTRAP_ROWS = 50_000
ITEM_SEP = "\x1e"  # suffix marking a resampled copy of an item

Metrics = Callable[[pd.DataFrame], dict[str, Estimate]]


def _input(task: Task, frame: pd.DataFrame, lengths: dict[str, int]) -> KindInput:
    """``frame`` values are already canonical (done once, before any bootstrap replicate)."""
    return KindInput(task=task, frame=frame, codes=encode_task(task, frame), gold={}, policy=Adjudication(),
                     text_length=lengths)


def _span_metrics(task: Task, lengths: dict[str, int]) -> Metrics:
    def compute(frame: pd.DataFrame) -> dict[str, Estimate]:
        sset = span_set_of(_input(task, frame, lengths))
        return {"span_f1_exact": span_f1(sset, mode="exact").mean, "span_f1_overlap": span_f1(sset).mean,
                "span_alpha": char_alpha(sset).nominal}
    return compute


#: Item blocks for the additive intervals below (items are hashed into blocks; steps and spans stay together).
N_BLOCKS = 200


def _percentile(point: Estimate, replicates: np.ndarray, boot: BootstrapPolicy) -> Estimate:
    if point.value is None:
        return point
    iv = stats.percentile_interval(replicates, level=boot.level)
    return dataclasses.replace(point, ci_low=iv.low, ci_high=iv.high, ci_reason=iv.reason)


def _draws(boot: BootstrapPolicy, n_blocks: int) -> np.ndarray:
    rng = np.random.default_rng(boot.seed)
    return rng.multinomial(n_blocks, np.full(n_blocks, 1.0 / n_blocks), size=boot.replicates).astype(np.float64)


def span_f1_intervals(task: Task, frame: pd.DataFrame, lengths: dict[str, int], point: dict[str, Estimate],
                      boot: BootstrapPolicy) -> dict[str, Estimate]:
    """Intervals for span F1 (mean over annotator pairs) from additive per-block sums, not recomputation.

    A pair's F1 is 2·TP / (|a| + |b|) summed over the units both judged, and matching is per unit, so TP and the
    denominator of every pair add up over any partition of the items. Each item block is matched once (the
    blocks together cost one computation). Pairs often share few units, and a ratio recomputed on a resampled
    small table is biased (measured: an interval that excluded the estimate), so the mean is linearised as for
    Cohen's κ: block b contributes Σ_p (2 TP_pb − F1_p D_pb) / D_p / P, and a replicate is the estimate plus
    Σ_b (w_b − 1) times that; it is centred on the estimate by construction.
    """
    block = item_block(frame["item"].to_numpy(dtype=object), N_BLOCKS)
    parts: dict[str, list[pd.DataFrame]] = {"exact": [], "overlap": []}
    for b in np.unique(block):  # a loop over item blocks, each one a vectorised computation
        inp = _input(task, frame[block == b], lengths)
        sset = span_set_of(inp)
        names = inp.codes.annotators
        for mode, acc in parts.items():
            f1 = span_f1(sset, mode=mode)  # type: ignore[arg-type]
            acc.append(pd.DataFrame({"a": names[f1.pair_a], "b": names[f1.pair_b], "block": b,
                                     "tp": f1.pair_tp, "den": f1.pair_spans}))
    draws = _draws(boot, N_BLOCKS)
    out = {}
    for mode, acc in parts.items():
        name = f"span_f1_{mode}"
        sums = pd.concat(acc, ignore_index=True) if acc else pd.DataFrame()
        if sums.empty:
            out[name] = point[name]
            continue
        pair = pd.factorize(sums["a"].astype(str) + "\x1f" + sums["b"].astype(str))[0]
        table = np.zeros((N_BLOCKS, int(pair.max()) + 1, 2))  # (B, P, 2): TP and |a| + |b| per block and pair
        np.add.at(table, (sums["block"].to_numpy(), pair, 0), sums["tp"].to_numpy())
        np.add.at(table, (sums["block"].to_numpy(), pair, 1), sums["den"].to_numpy())
        tp, den = table[:, :, 0].sum(axis=0), table[:, :, 1].sum(axis=0)
        used = den > 0
        pair_f1 = 2 * tp[used] / den[used]
        # linearised: δF1_p ≈ (2 δTP_p − F1_p δD_p) / D_p, averaged over pairs; Σ_b of it is 0 (centred)
        per_block = ((2 * table[:, used, 0] - pair_f1 * table[:, used, 1]) / den[used]).sum(axis=1) / used.sum()
        est = point[name]
        replicates = (est.value if est.value is not None else np.nan) + (draws - 1.0) @ per_block
        out[name] = _percentile(est, replicates, boot)
    return out


def kendall_w_interval(task: Task, frame: pd.DataFrame, point: Estimate, boot: BootstrapPolicy) -> Estimate:
    """Interval for the mean of per-unit Kendall's W from item blocks of the per-unit values (no refit)."""
    c = encode_task(task, frame)
    r = ranking_agreement(rank_block(c.unit, c.annotator, ranks_from_order(orders_of(c, task.options))))
    ok = ~np.isnan(r.w)
    if point.value is None or not ok.any():
        return point
    block = item_block(c.unit_items[r.unit[ok]], N_BLOCKS)
    # linearised mean over units: block b contributes Σ_u∈b (W_u − W̄) / n; centred on the estimate
    per_block = np.bincount(block, weights=r.w[ok] - point.value, minlength=N_BLOCKS) / ok.sum()
    replicates = point.value + (_draws(boot, N_BLOCKS) - 1.0) @ per_block
    return _percentile(point, replicates, boot)


def _ranking_metrics(task: Task) -> Metrics:
    def compute(frame: pd.DataFrame) -> dict[str, Estimate]:
        c = encode_task(task, frame)
        ranks = ranks_from_order(orders_of(c, task.options))
        r = ranking_agreement(rank_block(c.unit, c.annotator, ranks))
        return {"kendall_w": r.w_mean, "kendall_tau": r.tau_b_mean, "preference_alpha": r.pair_alpha}
    return compute


def _attribution_arrays(task: Task, frame: pd.DataFrame) -> tuple[np.ndarray, ...]:
    parsed = {v: json.loads(v) for v in frame["value"].unique()}
    agents = {label: i for i, label in enumerate(task.label_ids)}
    agent = frame["value"].map(lambda v: agents[parsed[v]["agent"]]).to_numpy(dtype=np.int64)
    step = frame["value"].map(lambda v: -1 if parsed[v]["step"] is None else parsed[v]["step"]).to_numpy(np.int64)
    item = pd.factorize(frame["item"])[0]
    annotator = pd.factorize(frame["annotator"])[0]
    return item, annotator, agent, step


def _attribution_metrics(task: Task) -> Metrics:
    def compute(frame: pd.DataFrame) -> dict[str, Estimate]:
        r = attribution_agreement(*_attribution_arrays(task, frame))
        return {"attribution_agent_alpha": r.agent_alpha, "percent_agreement": r.agent_percent,
                "attribution_agent_step_alpha": r.agent_step_alpha,
                "attribution_agent_step_percent": r.agent_step_percent}
    return compute


def _first_error_metrics(task: Task) -> Metrics:
    def compute(frame: pd.DataFrame) -> dict[str, Estimate]:
        step = pd.to_numeric(frame["unit"], errors="coerce")
        ok = step.notna().to_numpy()
        f = frame[ok]
        # steps as 0-based dense positions within their item, whatever the numbering (1-based, gaps)
        position = step[ok].groupby(f["item"].to_numpy()).rank(method="dense").to_numpy(dtype=np.int64) - 1
        errors = first_error_steps(pd.factorize(f["item"])[0], pd.factorize(f["annotator"])[0], position,
                                   ~f["value"].isin(task.error_labels).to_numpy())
        r = first_error_agreement(errors)
        return {"first_error_exact": r.exact, "first_error_within_one": r.within_one,
                "first_error_alpha": r.alpha_interval}
    return compute


def _resample(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Items drawn with replacement; each copy of an item becomes a distinct item (all its rows kept)."""
    codes, items = pd.factorize(frame["item"])
    order = np.argsort(codes, kind="stable")
    size = np.bincount(codes, minlength=len(items))
    start = np.cumsum(size) - size
    draw = rng.integers(0, len(items), len(items))
    rows = order[np.repeat(start[draw], size[draw]) + np.arange(size[draw].sum())
                 - np.repeat(np.cumsum(size[draw]) - size[draw], size[draw])]
    copy = np.repeat(np.arange(len(draw)), size[draw])
    out = frame.iloc[rows]
    return with_text(out, item=out["item"].astype(str) + ITEM_SEP + pd.Series(copy, index=out.index).astype(str))


def with_intervals(frame: pd.DataFrame, compute: Metrics, boot: BootstrapPolicy,
                   additive: Callable[[dict[str, Estimate]], dict[str, Estimate]] | None = None
                   ) -> dict[str, Estimate]:
    """Point estimates with percentile intervals: item resampling with recomputation (it keeps the skew of small
    samples) up to :data:`MAX_BOOTSTRAP_ROWS` judgments; above that the linearised additive intervals for the
    metrics that have them, and no interval (with a reason) for the rest."""
    point = compute(frame)
    if boot.replicates == 0:
        return point
    fast = additive(point) if additive is not None and len(frame) > MAX_BOOTSTRAP_ROWS else {}
    point = {k: v for k, v in point.items() if k not in fast}
    if not point:
        return fast
    if len(frame) > MAX_BOOTSTRAP_ROWS:
        why = f"intervals are computed up to {MAX_BOOTSTRAP_ROWS} judgments for this kind"
        return {**{k: dataclasses.replace(v, ci_reason=why) for k, v in point.items()}, **fast}
    rng = np.random.default_rng(boot.seed)
    n = min(boot.replicates, MAX_REPLICATES)
    reps = {k: np.full(n, np.nan) for k in point}
    for r in range(n):  # one full recomputation per replicate (see the module docstring)
        for k, est in compute(_resample(frame, rng)).items():
            if k in reps:  # metrics with additive intervals are not recomputed for their interval
                reps[k][r] = np.nan if est.value is None else est.value
    return {**{k: _percentile(est, reps[k], boot) for k, est in point.items()}, **fast}


def _extra_spans(task: Task, frame: pd.DataFrame, lengths: dict[str, int]
                 ) -> tuple[dict[str, object], dict[str, Estimate]]:
    """Pooled F1, per-label character α and boundary-vs-type findings (with example items)."""
    inp = _input(task, frame, lengths)
    sset = span_set_of(inp)
    f1 = span_f1(sset)
    found = span_findings(sset)
    alpha = char_alpha(sset)
    return {
        "span_f1_overlap_pooled": f1.pooled.value,
        "per_label_char_alpha": {lab: est.value for lab, est in zip(task.label_ids, alpha.per_label, strict=True)},
        "span_findings": {
            "boundary_disagreements": int(found.boundary_count), "type_disagreements": int(found.type_count),
            "boundary_examples": [str(inp.codes.unit_items[u]) for u in found.boundary_units],
            "type_examples": [str(inp.codes.unit_items[u]) for u in found.type_units],
            "confused_label_pairs": [{"labels": [task.label_ids[a], task.label_ids[b]], "count": int(n)}
                                     for (a, b), n in zip(found.type_pairs.tolist(), found.type_pair_counts, strict=True)],
        },
    }, {lab: est for lab, est in zip(task.label_ids, f1.per_label, strict=True)}


def _taxonomy_extra(task: Task, analysis: TaskAnalysis) -> dict[str, object]:
    c, keep = analysis.codes, ~analysis.gold_mask if analysis.gold_mask is not None else None
    if c is None or keep is None:
        return {}
    index = {lab: i for i, lab in enumerate(task.label_ids)}
    parent = np.array([index[lab.parent] if lab.parent else -1 for lab in task.labels], dtype=np.int64)
    depths = depth_agreement(c.unit[keep], c.category[keep], parent)
    return {"agreement_by_depth": [{"depth": d.depth, "categories": d.n_categories, "alpha": d.alpha.value,
                                    "percent": d.percent.value} for d in depths]}


def analyze_structured(frame: pd.DataFrame, task: Task, spec: Spec, *, ctx: Context, gold_units: set[str],
                       boot: BootstrapPolicy) -> TaskAnalysis:
    """Agreement for structured kinds, and the extra coefficients of step chains and taxonomies."""
    if task.kind not in STRUCTURED_KINDS:
        base = analyze_choice(frame, task, gold_units=gold_units, min_per_unit=spec.quality.annotations_per_item,
                              boot=boot)
        agreement, extra = dict(base.agreement), dict(base.extra)
        if task.error_labels:
            agreement.update(with_intervals(frame[~frame["item"].isin(_items(gold_units))],
                                            _first_error_metrics(task), boot))
        if task.is_taxonomy:
            extra.update(_taxonomy_extra(task, base))
        return dataclasses.replace(base, agreement=agreement, extra=extra)
    scored = frame[~frame["item"].isin(_items(gold_units))]
    scored = with_text(scored, value=canonical(task, scored["value"]))
    lengths = ctx.items.text_lengths(task.field) if ctx.items is not None and task.field else {}
    per_label: dict[str, Estimate] = {}
    details: dict[str, object] = {}
    additive: Callable[[dict[str, Estimate]], dict[str, Estimate]] | None = None
    if task.kind == "spans":
        compute = _span_metrics(task, lengths)
        additive = lambda point: span_f1_intervals(task, scored, lengths, point, boot)  # noqa: E731
        if len(scored):
            details, per_label = _extra_spans(task, scored, lengths)
    elif task.kind == "ranking":
        compute = _ranking_metrics(task)
        additive = lambda point: {"kendall_w": kendall_w_interval(task, scored, point["kendall_w"], boot)}  # noqa: E731
    else:
        compute = _attribution_metrics(task)
    agreement = with_intervals(scored, compute, boot, additive) if len(scored) else {}
    units = scored["item"] + ("\x1f" + scored["unit"] if task.unit == "step" else "")
    per_unit = units.value_counts()
    below = int((per_unit < (spec.quality.annotations_per_item or 0)).sum())
    return TaskAnalysis(task=task.name, n_judgments=len(scored), n_units=int(per_unit.size),
                        n_annotators=int(scored["annotator"].nunique()), agreement=agreement, per_label=per_label,
                        units_below_coverage=below, extra=details)


def _items(gold_units: set[str]) -> set[str]:
    return {u.split("\x1f", 1)[0] for u in gold_units}
