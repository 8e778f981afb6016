"""Consensus of one task's judgments for structured kinds: spans (supported spans) and ranking (Borda + BT).

One job, the same contract as ``decide_kinds``: codes in, one row per unit out (:data:`UNIT_COLUMNS`). Span and
ranking values are coded by distinct canonical value (found in Arrow: ``decide_kinds.encode_task``), parsed once per
distinct value (``span_table``) and expanded to flat arrays by index arithmetic; the statistics come from ``spans``
and ``bradley_terry`` (fed with comparisons counted per option pair; Borda points of full rankings are summed
here). No file access, no loops over units.

Spans. A consensus span is an overlap cluster (same label) whose share of the unit's annotators reaches
``min_support`` (``spans.span_consensus``). The unit's support is its weakest in/out decision over every
cluster, ``min(max(s, 1 − s))`` (1 for a unit where no one marked anything); a cluster marked by exactly half
of the annotators is a tie; consensus spans that overlap (or cross, when nesting is allowed) are a
``span_conflict``.

Ranking. Options are ordered by Borda score, ties broken by Bradley–Terry strength over the pairwise
comparisons the rankings imply (closer than :data:`BT_TIE` counts as equal), then by spec order. A tie remains
only when both agree two options are equal.
Support is the share of (ranking, option pair) comparisons that agree with the consensus order.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from labelspec.check.bradley_terry import bradley_terry_counts
from labelspec.check.context import lengths_of
from labelspec.check.decide_kinds import KindInput, KindResult, unit_columns
from labelspec.check.float_detail import FloatDetail
from labelspec.check.span_table import ParsedSpans, parse_spans, row_spans, spans_text
from labelspec.check.spans import SpanSet, span_clusters, span_consensus, span_set
from labelspec.check.tables import Codes
from labelspec.check.taxonomy import unique_inverse

#: Bradley–Terry log-strengths closer than this do not break a Borda tie.
BT_TIE = 1e-9


def span_set_of(inp: KindInput, parsed: ParsedSpans | None = None) -> SpanSet:
    """The task's spans as a ``SpanSet``; a unit's text length is its item field's, or its longest span end.

    ``parsed`` (the spans of ``inp.codes.categories``, when the caller has them) saves parsing them again."""
    c = inp.codes
    parsed = parse_spans(c.categories, inp.task.label_ids) if parsed is None else parsed
    row, start, end, label = row_spans(c.category, parsed)
    n_units = c.n_units
    known = _unit_lengths(inp.text_length, c)
    longest = np.zeros(n_units, dtype=np.int64)
    np.maximum.at(longest, c.unit[row], end)
    return span_set(c.unit[row], c.annotator[row], start, end, label, text_len=np.maximum(known, longest),
                    n_labels=len(inp.task.label_ids), judged_unit=c.unit, judged_annotator=c.annotator)


def _unit_lengths(lengths: dict[str, int], c: Codes) -> np.ndarray:
    """(U,) each unit's text length, 0 without one: looked up per read-time item category where units are items
    (the categories the accounting looked up already: its answer is kept), else per unit text."""
    if c.unit_texts is not None:
        per_item: np.ndarray = lengths_of(lengths, c.unit_texts.categories, 0)[c.unit_texts.positions]
        return per_item
    return lengths_of(lengths, c.unit_items, 0)


def _support_detail(unit: np.ndarray, support: np.ndarray, n_units: int) -> Callable[[np.ndarray], list[dict[str, Any]]]:
    """Lazy ``{"span_support": [...]}`` per requested unit from consensus spans sorted by unit."""
    rounded = np.round(support, 6)
    lo = np.searchsorted(unit, np.arange(n_units), side="left")
    hi = np.searchsorted(unit, np.arange(n_units), side="right")

    def at(idx: np.ndarray) -> list[dict[str, Any]]:
        return [{"span_support": rounded[lo[u]:hi[u]].tolist()} for u in np.asarray(idx).tolist()]

    return at


def spans(inp: KindInput) -> KindResult:
    c, pol, task = inp.codes, inp.policy, inp.task
    n_units = c.n_units
    sset = span_set_of(inp) if inp.spans is None else inp.spans
    clusters = span_clusters(sset)
    judges, voters = clusters.judges[clusters.unit], clusters.support  # every cluster, decided in integers
    support = np.ones(n_units)
    np.minimum.at(support, clusters.unit, np.maximum(voters, judges - voters) / judges)
    tie = np.zeros(n_units, dtype=bool)
    tie[clusters.unit[2 * voters == judges]] = True
    chosen = span_consensus(sset, min_support=pol.min_support, allow_nesting=task.allow_nesting, clusters=clusters)
    conflict = np.zeros(n_units, dtype=bool)
    conflict[chosen.unit[chosen.conflict]] = True
    value = spans_text(np.bincount(chosen.unit, minlength=n_units), chosen.start, chosen.end, chosen.label,
                       task.label_ids)
    n = np.bincount(c.unit, minlength=n_units)
    return KindResult(unit_columns(c, "span_majority", value, support, n, tie, support < pol.min_support,
                                 span_conflict=conflict),
                      detail=_support_detail(chosen.unit, chosen.support, n_units))


def category_orders(codes: Codes, options: tuple[str, ...]) -> np.ndarray:
    """(D, m) option indices of each distinct ranking (category), best first."""
    col = {o: j for j, o in enumerate(options)}
    table = np.array([[col[o] for o in json.loads(t)] for t in codes.categories], dtype=np.int64)
    return table.reshape(len(codes.categories), len(options))


def per_unit_rankings(codes: Codes, n_units: int) -> sp.csr_array:
    """(U, D) how many of each unit's judgments gave each distinct ranking (category): the sums over a unit's
    rankings below are this matrix times a value per distinct ranking, not a pass over every judgment."""
    n = codes.unit.size
    return sp.csr_array((np.ones(n), (codes.unit, codes.category)),
                        shape=(n_units, len(codes.categories)))  # duplicates are added: counts


def _positions(orders: np.ndarray) -> np.ndarray:
    """(D, m) each option's position in each ranking: the inverse permutation of each row of ``orders``."""
    pos = np.empty_like(orders)
    np.put_along_axis(pos, orders, np.broadcast_to(np.arange(orders.shape[1]), orders.shape), axis=1)
    return pos


def _pair_counts(per_unit: sp.csr_array, pos: np.ndarray, n: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bradley–Terry input counted per (unit, option pair j < k) in that order: the pairs, how many rankings
    compared them (every full ranking of the unit: ``n``) and how many put j first — what ``bradley_terry``
    collapses the N · m(m − 1)/2 listed comparisons into, counted without listing them. ``per_unit``: from
    :func:`per_unit_rankings`; ``pos``: each distinct ranking's option positions (:func:`_positions`)."""
    m = pos.shape[1]
    j, k = np.triu_indices(m, 1)
    wins = per_unit @ (pos[:, j] < pos[:, k]).astype(np.float64)  # (U, pairs): sums of whole numbers, exact
    judged = n > 0
    base = (np.flatnonzero(judged) * m)[:, None]
    first, second = (base + j[None, :]).ravel(), (base + k[None, :]).ravel()
    return first, second, np.repeat(n[judged], j.size), wins[judged].ravel()


def _consensus_order(score: np.ndarray, strength: np.ndarray, n_units: int, m: int) -> tuple[np.ndarray, ...]:
    """(U, m) consensus order of option indices and (U,) whether an unbroken tie remains.

    Options whose Borda scores are equal and whose strengths differ by less than :data:`BT_TIE` (adjacent in
    strength order) are tied and keep spec order, so rounding noise in the fit never orders them.
    """
    sc, st = score.reshape(n_units, m), strength.reshape(n_units, m)
    opt = np.broadcast_to(np.arange(m), (n_units, m))
    first = np.lexsort((opt, -st, -sc), axis=-1)  # each unit's row sorted on its own: no sort of all options
    sc, st = np.take_along_axis(sc, first, axis=1), np.take_along_axis(st, first, axis=1)
    same = (np.diff(sc, axis=1) == 0) & (np.abs(np.diff(st, axis=1)) < BT_TIE)
    run = np.cumsum(np.c_[np.ones((n_units, 1), dtype=bool), ~same], axis=1)  # tie runs within the unit
    return np.take_along_axis(first, np.lexsort((first, run), axis=-1), axis=1), same.any(axis=1)


def _agreement(per_unit: sp.csr_array, orders: np.ndarray, order: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Share of each unit's (ranking, option pair) comparisons that agree with the consensus order ``order``
    (U, m), counted once per distinct ranking the unit received (``per_unit``, ``orders``: its option indices,
    best first) and weighted by how often: whole numbers, divided once by the unit's comparisons."""
    n_units, m = order.shape
    pos = _positions(order).reshape(-1)
    cell_unit = np.repeat(np.arange(n_units), np.diff(per_unit.indptr))
    at = pos[cell_unit[:, None] * m + orders[per_unit.indices]]  # consensus position of each ranking's k-th option
    agree = np.zeros(cell_unit.size)
    for p, q in itertools.combinations(range(m), 2):  # pairs of positions: m is the number of options
        agree += at[:, p] < at[:, q]
    pairs = m * (m - 1) // 2
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.bincount(cell_unit, weights=agree * per_unit.data, minlength=n_units) / (n * pairs) if pairs \
            else np.ones(n_units)
    return np.where(n > 0, share, np.nan)


def _distinct_rows(order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(order, axis=0, return_inverse=True)`` for rows of option indices 0..m−1, by one int key each."""
    n, m = order.shape
    if m == 0 or m ** m >= 2 ** 62:
        rows, inverse = np.unique(order, axis=0, return_inverse=True)
        return rows, inverse.reshape(-1)
    keys, inverse = unique_inverse(order @ (m ** np.arange(m - 1, -1, -1, dtype=np.int64)))
    digits = keys[:, None] // (m ** np.arange(m - 1, -1, -1, dtype=np.int64)) % m
    return digits.astype(order.dtype), inverse


def ranking(inp: KindInput) -> KindResult:
    c, options = inp.codes, inp.task.options
    n_units, m = c.n_units, len(options)
    orders = category_orders(c, options)  # (D, m) per distinct ranking: every sum below is per unit × ranking
    per_unit = per_unit_rankings(c, n_units)
    pos = _positions(orders)
    n = np.bincount(c.unit, minlength=n_units)
    groups = np.repeat(np.arange(n_units), m)
    # Borda points of full rankings: an option's points are m − 1 − its position (whole numbers: exact sums)
    borda_score = (per_unit @ (m - 1 - pos).astype(np.float64)).reshape(-1) if n_units else np.zeros(0)
    bt = bradley_terry_counts(*_pair_counts(per_unit, pos, n.astype(np.float64)), n_units * m, group=groups)
    order, tie = _consensus_order(borda_score, bt.log_strength, n_units, m)
    support = _agreement(per_unit, orders, order, n)
    names = np.array(options, dtype=object)
    patterns, inverse = _distinct_rows(order)
    texts = np.array([json.dumps(names[p].tolist(), ensure_ascii=False, separators=(",", ":"))
                      for p in patterns], dtype=object)
    # + 0.0: a strength that rounds to zero from below is 0.0, not -0.0 (the sign of rounding noise, which
    # JSON would print and which changes with the solver's order of operations)
    score, strength = borda_score.reshape(n_units, m), (np.round(bt.log_strength, 6) + 0.0).reshape(n_units, m)
    model = {"bradley_terry_converged": bt.converged, "bradley_terry_iterations": bt.n_iter}
    return KindResult(unit_columns(c, "borda", texts[inverse.reshape(-1)] if n_units else texts, support, n, tie,
                                 ~(support >= inp.policy.min_support)), model,
                      FloatDetail((("borda", tuple(options), score.__getitem__),
                                   ("bradley_terry", tuple(options), strength.__getitem__))))
