"""Agreement on trajectories judged step by step: the first erroneous step, and failure attribution.

One job: reduce per-step correctness labels (chain-of-thought steps, agent turns) to one first-error step per
(item, annotator), reduce attribution judgments to (agent, step) codes, and measure how often annotators agree
on them. Inputs are integer-coded numpy arrays; α itself comes from :mod:`labelspec.check.stats`. It never
reads files, never sees DataFrames, and decides no gate.

Definitions
-----------
First error. For one (item, annotator), the smallest step index labelled incorrect; "none" when every step the
annotator judged is correct. ``n_steps[item]`` is the trajectory length (default: 1 + the largest step any
annotator judged on the item). "none" is coded as the value ``n_steps[item]`` (one past the last step).

Missing judgments. A first error at step s is *determined* only if the annotator judged every step before s;
"none" only if the annotator judged every step of the item. Undetermined (item, annotator) results are
reported (``complete`` is False) and left out of the agreement statistics. Several judgments of one step by
one annotator count as incorrect if any of them is.

Pairwise rates. Over every unordered pair of annotators of the same item (pooled over items, so an item with
more annotators has more pairs): *exact* = both name the same step, or both "none"; *within one* = exact, or
both name a step and the steps differ by 1 ("none" is never within one of a step).

α. *Interval* α on the step index with "none" = ``n_steps[item]`` (a late error and no error are close);
*nominal* α with "none" as one extra category shared by all items (any two different answers disagree
equally).

Attribution. Per (item, annotator): the agent held responsible (an int ≥ 0; −1 = "no failure") and the step
(−1 when none). Agreement on the agent: nominal α and pairwise percent; on (agent, step): exact pairwise
percent and nominal α over the combined code. Duplicate (item, annotator) rows are a programming error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from labelspec.check import stats
from labelspec.check.estimate import NO_PAIRABLE_UNITS, IntArray, make_estimate
from labelspec.check.taxonomy import distinct, sparse_patterns

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class FirstErrors:
    """One row per (item, annotator) that judged any step; ``first_error == n_steps[item]`` means none."""

    item: IntArray
    annotator: IntArray
    first_error: IntArray
    has_error: BoolArray
    complete: BoolArray
    n_steps: IntArray


def _ints(name: str, arr: npt.ArrayLike) -> IntArray:
    out = np.asarray(arr)
    if out.ndim != 1 or (out.size and not np.issubdtype(out.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-D integer array")
    return out.astype(np.int64, copy=False)


def first_error_steps(
    item: npt.ArrayLike,
    annotator: npt.ArrayLike,
    step: npt.ArrayLike,
    correct: npt.ArrayLike,
    *,
    n_steps: npt.ArrayLike | None = None,
) -> FirstErrors:
    """The first step each annotator marked incorrect, per item (see Definitions for "none" and gaps)."""
    it, ann, st = _ints("item", item), _ints("annotator", annotator), _ints("step", step)
    ok = np.asarray(correct, dtype=bool)
    if not (it.shape == ann.shape == st.shape == ok.shape):
        raise ValueError("item, annotator, step and correct must have one length")
    if st.size and (st.min() < 0 or it.min() < 0 or ann.min() < 0):
        raise ValueError("item, annotator and step must be non-negative")
    n_items = int(it.max(initial=-1)) + 1
    if n_steps is None:
        length = np.zeros(n_items, dtype=np.int64)
        np.maximum.at(length, it, st + 1)
    else:
        length = _ints("n_steps", n_steps)
        if length.size < n_items or np.any(st >= length[it]):
            raise ValueError("every step must be smaller than its item's n_steps")
    n_ann = max(int(ann.max(initial=-1)) + 1, 1)
    keys, group = np.unique(it * n_ann + ann, return_inverse=True)
    first = np.full(keys.size, np.iinfo(np.int64).max)
    np.minimum.at(first, group[~ok], st[~ok])
    g_item = keys // n_ann
    has_error = first < np.iinfo(np.int64).max
    first = np.where(has_error, first, length[g_item])
    # the answer is determined when the distinct steps judged before it number exactly `first`
    span = int(length.max(initial=0)) + 1
    pair_step = distinct(group * span + st)
    before = pair_step % span < first[pair_step // span]
    seen = np.bincount(pair_step[before] // span, minlength=keys.size)
    return FirstErrors(g_item, keys % n_ann, first, has_error, seen == first, length)


def pairwise_rates(group: IntArray, value: IntArray, *, within: int = 0, per_unit: bool = False) -> stats.Estimate:
    """Share of annotator pairs of the same group whose values differ by at most ``within`` (0 or 1): pooled
    over groups (Σ agreeing pairs / Σ pairs), or with ``per_unit`` the mean of each pairable group's share, every
    group counting once (percent agreement, docs/statistics.md).

    Counted from (group, value) tallies: Σ c(c − 1)/2 equal pairs plus Σ c_v · c_{v+1} adjacent ones, over
    Σ n_g(n_g − 1)/2 pairs, so no pair of judgments is ever materialised.
    """
    width = int(value.max(initial=0)) + 2  # value + 1 stays inside its group's codes
    code, cnt = np.unique(group * width + value, return_counts=True)
    n_g = np.bincount(group, minlength=int(group.max(initial=-1)) + 1)
    pairs = n_g * (n_g - 1) / 2.0
    n_units, n_excl = int((n_g >= 2).sum()), int((n_g == 1).sum())
    if n_units == 0:
        return make_estimate(None, 0, n_excl, NO_PAIRABLE_UNITS)
    agreeing = cnt * (cnt - 1) / 2.0
    if within >= 1:
        nxt = np.searchsorted(code, code + 1).clip(max=max(code.size - 1, 0))
        agreeing = agreeing + cnt * np.where(code[nxt] == code + 1, cnt[nxt], 0)
    if not per_unit:
        return make_estimate(float(agreeing.sum()) / float(pairs.sum()), n_units, n_excl)
    agree = np.bincount(code // width, weights=agreeing, minlength=n_g.size)
    pairable = pairs > 0
    return make_estimate(float((agree[pairable] / pairs[pairable]).mean()), n_units, n_excl)


def _nominal_alpha(group: IntArray, code: IntArray) -> stats.Estimate:
    p = sparse_patterns(group, code, n_cols=int(code.max(initial=0)) + 1)
    return stats.krippendorff_alpha(p.rows, weights=p.multiplicity)


@dataclass(frozen=True, slots=True)
class FirstErrorAgreement:
    """Agreement on the first erroneous step; ``n_undetermined`` results were left out (see Definitions)."""

    exact: stats.Estimate
    within_one: stats.Estimate
    alpha_interval: stats.Estimate
    alpha_nominal: stats.Estimate
    n_undetermined: int


def first_error_agreement(errors: FirstErrors) -> FirstErrorAgreement:
    """Exact and within-one pairwise agreement, interval α ("none" = length) and nominal α ("none" apart)."""
    keep = errors.complete
    item, step, none = errors.item[keep], errors.first_error[keep], ~errors.has_error[keep]
    apart = np.where(none, errors.n_steps[item] + 1, step)  # "none" two past the last step: never within one
    width = int(errors.n_steps.max(initial=0)) + 1
    p = sparse_patterns(item, step, n_cols=width)
    interval = stats.alpha_from_counts(
        p.rows, stats.distance_matrix("interval", values=np.arange(width)), weights=p.multiplicity
    )
    return FirstErrorAgreement(
        exact=pairwise_rates(item, apart),
        within_one=pairwise_rates(item, apart, within=1),
        alpha_interval=interval,
        alpha_nominal=_nominal_alpha(item, np.where(none, width - 1, step)),
        n_undetermined=int((~keep).sum()),
    )


@dataclass(frozen=True, slots=True)
class AttributionAgreement:
    """Agreement on which agent (nominal α, pairwise percent) and which (agent, step) failed."""

    agent_alpha: stats.Estimate
    agent_percent: stats.Estimate
    agent_step_alpha: stats.Estimate
    agent_step_percent: stats.Estimate


def attribution_agreement(
    item: npt.ArrayLike, annotator: npt.ArrayLike, agent: npt.ArrayLike, step: npt.ArrayLike
) -> AttributionAgreement:
    """Agreement on failure attribution, one row per (item, annotator); agent −1 = "no failure"."""
    it, ann, ag, st = (_ints(n, a) for n, a in (("item", item), ("annotator", annotator), ("agent", agent),
                                                ("step", step)))
    if not (it.shape == ann.shape == ag.shape == st.shape):
        raise ValueError("item, annotator, agent and step must have one length")
    if it.size and (it.min() < 0 or ann.min() < 0 or ag.min() < -1 or st.min() < -1):
        raise ValueError("item and annotator must be ≥ 0; agent and step ≥ -1")
    if distinct(it * (int(ann.max(initial=0)) + 1) + ann).size != it.size:
        raise ValueError("one attribution per (item, annotator) expected")
    agent_code = ag + 1
    pair_code = np.unique(np.stack([ag, st], axis=1), axis=0, return_inverse=True)[1].reshape(-1)
    return AttributionAgreement(
        agent_alpha=_nominal_alpha(it, agent_code),
        agent_percent=pairwise_rates(it, agent_code, per_unit=True),
        agent_step_alpha=_nominal_alpha(it, pair_code),
        agent_step_percent=pairwise_rates(it, pair_code, per_unit=True),
    )
