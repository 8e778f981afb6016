"""Bootstrap intervals of first-error and attribution agreement at any size, without recomputing per replicate.

One job: the percentile intervals of the trajectory coefficients (``trajectory``) when there are too many
judgments for the recomputing item bootstrap of ``structured``. Every one of them is a function of the items'
count rows (how many annotators gave each answer on the item): nominal and interval α, the pooled pairwise
rates Σ agreeing pairs / Σ pairs, and the per-item mean of the items' shares (attribution's percent agreement). Resampling items with replacement is then exactly a multinomial draw of how
often each distinct count row is picked (``bootstrap``'s module docstring), and a replicate is re-evaluated from
those counts: α by ``replicates.alpha_replicates``, a rate as (draws @ agreeing pairs) / (draws @ pairs). This is
the item bootstrap itself, not an approximation of it; each coefficient draws from its own table, with the
spec's seed and replicate count. Point estimates are not touched.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from labelspec.check.bootstrap import pattern_draws
from labelspec.check.estimate import Estimate
from labelspec.check.replicates import alpha_replicates
from labelspec.check.structured_metrics import percentile
from labelspec.check.taxonomy import sparse_patterns
from labelspec.check.trajectory import FirstErrors
from labelspec.spec.model import BootstrapPolicy

FloatArray = npt.NDArray[np.float64]


def pair_rate_replicates(rows: npt.ArrayLike, draws: npt.ArrayLike, *, within: int = 0,
                         per_unit: bool = False) -> FloatArray:
    """``trajectory.pairwise_rates`` of each weighting of the (S, V) count rows over answer values 0..V−1:
    Σ c(c − 1)/2 equal pairs (plus Σ c_v c_{v+1} adjacent ones when ``within`` is 1) over Σ n(n − 1)/2 pairs,
    or with ``per_unit`` the weighted mean of the pairable rows' shares. NaN where a replicate has no pair."""
    r = np.asarray(rows, dtype=np.float64)
    agree = (r * (r - 1.0)).sum(axis=1) / 2.0
    if within >= 1 and r.shape[1] > 1:
        agree += (r[:, :-1] * r[:, 1:]).sum(axis=1)
    n = r.sum(axis=1)
    pairs = n * (n - 1.0) / 2.0
    if per_unit:  # each row's share, and a weight of one per pairable unit
        pairable = pairs > 0
        agree, pairs = np.where(pairable, agree / np.where(pairable, pairs, 1.0), 0.0), pairable.astype(np.float64)
    w = np.asarray(draws, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = (w @ agree) / (w @ pairs)
    out[~np.isfinite(out)] = np.nan
    return out


def _rate(item: npt.NDArray[np.int64], value: npt.NDArray[np.int64], point: Estimate, boot: BootstrapPolicy,
          within: int = 0, per_unit: bool = False) -> Estimate:
    p = sparse_patterns(item, value, n_cols=int(value.max(initial=0)) + 2)  # + 2: ``pairwise_rates``' width
    draws = pattern_draws(p, boot.replicates, boot.seed)
    return percentile(point, pair_rate_replicates(p.rows, draws, within=within, per_unit=per_unit), boot)


def _alpha(item: npt.NDArray[np.int64], value: npt.NDArray[np.int64], point: Estimate, boot: BootstrapPolicy,
           level: str = "nominal") -> Estimate:
    width = int(value.max(initial=0)) + 1
    p = sparse_patterns(item, value, n_cols=width)
    values = np.arange(width, dtype=np.float64) if level == "interval" else None
    fn = alpha_replicates("interval" if level == "interval" else "nominal", values)
    return percentile(point, fn(p.rows, pattern_draws(p, boot.replicates, boot.seed)), boot)


def first_error_intervals(errors: FirstErrors, point: dict[str, Estimate], boot: BootstrapPolicy
                          ) -> dict[str, Estimate]:
    """Intervals for ``first_error_exact``, ``first_error_within_one`` and ``first_error_alpha`` (the names
    ``structured`` reports), coded as ``trajectory.first_error_agreement`` codes them."""
    keep = errors.complete
    item, step, none = errors.item[keep], errors.first_error[keep], ~errors.has_error[keep]
    apart = np.where(none, errors.n_steps[item] + 1, step)
    return {"first_error_exact": _rate(item, apart, point["first_error_exact"], boot),
            "first_error_within_one": _rate(item, apart, point["first_error_within_one"], boot, within=1),
            "first_error_alpha": _alpha(item, step, point["first_error_alpha"], boot, level="interval")}


def attribution_intervals(item: npt.NDArray[np.int64], agent: npt.NDArray[np.int64], step: npt.NDArray[np.int64],
                          point: dict[str, Estimate], boot: BootstrapPolicy) -> dict[str, Estimate]:
    """Intervals for the attribution coefficients, coded as ``trajectory.attribution_agreement`` codes them."""
    agent_code = agent + 1
    pair_code = np.unique(np.stack([agent, step], axis=1), axis=0, return_inverse=True)[1].reshape(-1)
    return {"attribution_agent_alpha": _alpha(item, agent_code, point["attribution_agent_alpha"], boot),
            "percent_agreement": _rate(item, agent_code, point["percent_agreement"], boot, per_unit=True),
            "attribution_agent_step_alpha": _alpha(item, pair_code, point["attribution_agent_step_alpha"], boot),
            "attribution_agent_step_percent": _rate(item, pair_code, point["attribution_agent_step_percent"], boot,
                                                    per_unit=True)}
