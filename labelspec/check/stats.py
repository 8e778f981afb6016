"""Agreement and proportion statistics from count tables: the one import for gates and reports.

One job: re-export the statistics layer. Everything here reads sufficient statistics built elsewhere
(``check/tables.py``) and never rows of judgments: no pandas, no DataFrames, no gates, no I/O.

Inputs
------
- ``counts`` (U, K) int: judgments per unit (item, or item + step) and category. Optional ``weights`` (U,) are
  per-row multiplicities: a row with weight w counts exactly like w copies of it (the bootstrap relies on it).
- ``confusions`` (P, K, K) int: per annotator pair (a < b), units where a said i and b said j.
- ``values`` (K,) float: numeric values of the categories for interval/ratio α; ordinal α uses column order.

Every statistic returns an :class:`Estimate` (``value``, ``ci_low``, ``ci_high``, ``n_units``, ``reason``,
``n_excluded``, ``ci_reason``). A value that cannot be computed is ``None`` with a reason, never NaN or infinity.

Edge cases
----------
Units with one judgment (or none) cannot be paired. α, percent agreement, and the p_a of Fleiss' κ, Scott's π
and AC1 ignore them; they are counted in ``n_excluded``, never in ``n_units``. The chance terms π_k of Fleiss'
κ and AC1 still use units with one judgment (Gwet's formulation, which gives the published 0.76117 on
Krippendorff's 2011 data); Scott's π pools judgments of pairable units only. Cohen's κ for a pair sees only
units both annotators judged. Chance-corrected coefficients need at least 2 pairable units ("fewer than 2
pairable units"); percent agreement needs one ("no pairable units ...").

A single category observed overall: α, Fleiss' κ and Scott's π are undefined (``None``, reason "only one
category observed"); Cohen's κ is undefined when both annotators of a pair used one and the same category
("expected agreement is 1"). Percent agreement is still defined (1.0), and so is AC1 (p_e = 0, AC1 = p_a) as
long as the table declares ≥ 2 categories. Per-label one-vs-rest α is undefined for a label nobody used or
everybody always used.

Missing values are simply not counts: a unit judged by 2 of 4 annotators has m_u = 2. No imputation, and no
coefficient assumes a complete design (α, Fleiss' κ, π, AC1 and percent agreement all allow unequal m_u).

Bootstrap intervals resample units (pattern-collapsed, see ``check/bootstrap.py``); Cohen's mean κ resamples
item blocks (see :func:`bootstrap_mean_cohen_kappa`). Replicates with an undefined statistic are dropped and
counted; above 5 % undefined the interval is ``None`` with a reason.
"""

from __future__ import annotations

from labelspec.check.alpha import (
    LEVELS,
    Level,
    alpha_from_counts,
    coincidence,
    distance_matrix,
    krippendorff_alpha,
    masi_alpha,
    masi_distance_matrix,
    per_label_alpha,
    per_label_binary_alpha,
)
from labelspec.check.bootstrap import (
    DEFAULT_SEED,
    CountStatistic,
    Patterns,
    bootstrap,
    collapse_patterns,
    estimate_with_ci,
    percentile_interval,
)
from labelspec.check.estimate import Estimate, Interval
from labelspec.check.multirater import fleiss_kappa, gwet_ac1, percent_agreement, scott_pi
from labelspec.check.pairwise import (
    KappaWeights,
    PairKappas,
    bootstrap_mean_cohen_kappa,
    cohen_kappa,
    disagreement_weights,
    kappa_influence,
    mean_cohen_kappa,
    pair_kappas,
    pairwise_cohen_kappa,
    pairwise_kappa_values,
)
from labelspec.check.proportions import (
    ChiSquare,
    chi_square_gof,
    chi_square_one_vs_rest,
    holm,
    wilson_bounds,
    wilson_interval,
    wilson_intervals,
)

__all__ = [
    "DEFAULT_SEED",
    "LEVELS",
    "ChiSquare",
    "CountStatistic",
    "Estimate",
    "Interval",
    "KappaWeights",
    "Level",
    "PairKappas",
    "Patterns",
    "alpha_from_counts",
    "bootstrap",
    "bootstrap_mean_cohen_kappa",
    "kappa_influence",
    "chi_square_gof",
    "chi_square_one_vs_rest",
    "coincidence",
    "cohen_kappa",
    "collapse_patterns",
    "disagreement_weights",
    "distance_matrix",
    "estimate_with_ci",
    "fleiss_kappa",
    "gwet_ac1",
    "holm",
    "krippendorff_alpha",
    "masi_alpha",
    "masi_distance_matrix",
    "mean_cohen_kappa",
    "pair_kappas",
    "pairwise_cohen_kappa",
    "pairwise_kappa_values",
    "per_label_alpha",
    "per_label_binary_alpha",
    "percent_agreement",
    "percentile_interval",
    "scott_pi",
    "wilson_bounds",
    "wilson_interval",
    "wilson_intervals",
]
