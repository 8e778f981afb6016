"""Percent agreement, Fleiss' κ, Scott's π and Gwet's AC1 from a (U, K) table of judgments per unit and category.

One job: the multi-rater coefficients of the form (p_a − p_e) / (1 − p_e) that need no annotator identities.
It never sees judgment rows or DataFrames and knows nothing of gates.

Shared parts (Gwet 2014, *Handbook of Inter-Rater Reliability*, ch. 2 and 5; with r_u judgments on unit u):

- p_a = mean over units with r_u ≥ 2 of Σ_k r_uk (r_uk − 1) / (r_u (r_u − 1))  (percent agreement);
- π_k = mean over units with r_u ≥ 1 of r_uk / r_u  (units with a single judgment count here, as in Gwet's
  formulation; this reproduces the published 0.76117 on Krippendorff's 2011 data).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from labelspec.check.estimate import (
    FEWER_THAN_TWO_UNITS,
    NO_PAIRABLE_UNITS,
    ONE_CATEGORY,
    CountTable,
    Estimate,
    FloatArray,
    count_table,
    make_estimate,
)


def _agreement_parts(table: CountTable) -> tuple[float, FloatArray]:
    """(p_a over pairable units, π_k over rated units) for a validated table with ≥ 1 pairable unit."""
    pair = table.pairable
    w_pair = np.where(pair, table.weights, 0.0)
    denom = np.where(pair, table.m * (table.m - 1.0), 1.0)
    per_unit = (table.counts * (table.counts - 1.0)).sum(axis=1) / denom
    p_a = float(w_pair @ per_unit) / float(w_pair.sum())
    rated = table.m >= 1
    w_rated = np.where(rated, table.weights, 0.0)
    shares = table.counts / np.where(rated, table.m, 1.0)[:, None]
    pi = (w_rated @ shares) / float(w_rated.sum())
    return p_a, pi


def _chance_corrected(table: CountTable, p_a: float, p_e: float) -> Estimate:
    n_units, n_excluded = table.n_pairable(), table.n_excluded()
    return make_estimate((p_a - p_e) / (1.0 - p_e), n_units, n_excluded)


def _undefined(table: CountTable, *, min_units: int) -> Estimate | None:
    """The Estimate to return when the table has too few pairable units, else ``None``."""
    n_units, n_excluded = table.n_pairable(), table.n_excluded()
    if n_units == 0:
        return make_estimate(None, n_units, n_excluded, NO_PAIRABLE_UNITS)
    if n_units < min_units:
        return make_estimate(None, n_units, n_excluded, FEWER_THAN_TWO_UNITS)
    return None


def percent_agreement(counts: npt.ArrayLike, *, weights: npt.ArrayLike | None = None) -> Estimate:
    """Share of agreeing judgment pairs within a unit, averaged over pairable units (each unit counts once).

    This unit-mean gives the published 0.8181818 on Krippendorff's 2011 data; weighting units by their
    judgments (α's observed agreement, trace(o) / n) would give 0.8 there. Defined whenever one unit is
    pairable, even if only one category was ever used.
    """
    table = count_table(counts, weights)
    undefined = _undefined(table, min_units=1)
    if undefined is not None:
        return undefined
    p_a, _ = _agreement_parts(table)
    return make_estimate(p_a, table.n_pairable(), table.n_excluded())


def fleiss_kappa(counts: npt.ArrayLike, *, weights: npt.ArrayLike | None = None) -> Estimate:
    """Fleiss' κ (Fleiss 1971), generalised to unequal numbers of judgments per unit as in Gwet (2014).

    p_e = Σ_k π_k². With equal numbers of raters per unit this is Fleiss' original κ.
    """
    table = count_table(counts, weights)
    undefined = _undefined(table, min_units=2)
    if undefined is not None:
        return undefined
    p_a, pi = _agreement_parts(table)
    if np.count_nonzero(pi > 0) < 2:
        return make_estimate(None, table.n_pairable(), table.n_excluded(), ONE_CATEGORY)
    return _chance_corrected(table, p_a, float(pi @ pi))


def scott_pi(counts: npt.ArrayLike, *, weights: npt.ArrayLike | None = None) -> Estimate:
    """Scott's π (Scott 1955), multi-rater: p_a as above, p_e = Σ_k p_k² with p_k the pooled share of category k
    among all judgments on pairable units.

    For two raters this is Scott's π; for equal numbers of raters per unit it equals Fleiss' κ (Fleiss 1971 is
    this generalisation) and NLTK's multi-π. With unequal numbers it weights each judgment, not each unit,
    in the chance term — the one place it differs from :func:`fleiss_kappa`.
    """
    table = count_table(counts, weights)
    undefined = _undefined(table, min_units=2)
    if undefined is not None:
        return undefined
    p_a, _ = _agreement_parts(table)
    w_pair = np.where(table.pairable, table.weights, 0.0)
    pooled = w_pair @ table.counts
    shares = pooled / pooled.sum()
    if np.count_nonzero(shares > 0) < 2:
        return make_estimate(None, table.n_pairable(), table.n_excluded(), ONE_CATEGORY)
    return _chance_corrected(table, p_a, float(shares @ shares))


def gwet_ac1(counts: npt.ArrayLike, *, weights: npt.ArrayLike | None = None,
             n_categories: float | None = None) -> Estimate:
    """Gwet's AC1 (Gwet 2008; multi-rater with missing ratings as in Gwet 2014).

    p_e = Σ_k π_k (1 − π_k) / (K − 1), where K is the number of categories the annotators could choose, used or
    not (declare every category, as Gwet advises): the columns, unless ``n_categories`` says more (a
    multi_choice task's admissible label sets, which no table lists). Unlike κ and α it stays defined when a
    single category was observed (p_e = 0, AC1 = p_a); it needs K ≥ 2.
    """
    table = count_table(counts, weights)
    undefined = _undefined(table, min_units=2)
    if undefined is not None:
        return undefined
    n_categories = table.counts.shape[1] if n_categories is None else n_categories
    if n_categories < 2:
        return make_estimate(None, table.n_pairable(), table.n_excluded(), "fewer than 2 categories")
    p_a, pi = _agreement_parts(table)
    p_e = float(pi @ (1.0 - pi)) / (n_categories - 1)
    return _chance_corrected(table, p_a, p_e)
