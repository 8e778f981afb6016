"""Consensus of one task's judgments for structured kinds: spans (supported spans) and ranking (Borda + BT).

One job, the same contract as ``decide_kinds``: codes in, one row per unit out (:data:`UNIT_COLUMNS`). Span and
ranking values are coded by distinct canonical value, parsed once per distinct value and expanded to flat arrays
by index arithmetic; the statistics come from ``spans`` and ``preference``. No file access, no loops over units.

Spans. A consensus span is an overlap cluster (same label) whose share of the unit's annotators reaches
``min_support`` (``spans.span_consensus``). The unit's support is its weakest in/out decision over every
cluster, ``min(max(s, 1 − s))`` (1 for a unit where no one marked anything); a cluster marked by exactly half
of the annotators is a tie; consensus spans that overlap (or cross, when nesting is allowed) are a
``span_conflict``.

Ranking. Options are ordered by Borda score, ties broken by Bradley–Terry strength over the pairwise
comparisons the rankings imply, then by spec order. A tie remains only when both agree two options are equal.
Support is the share of (ranking, option pair) comparisons that agree with the consensus order.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd

from labelspec.check.decide_kinds import KindInput, KindResult, details, unit_frame
from labelspec.check.preference import borda, bradley_terry
from labelspec.check.spans import SpanSet, span_consensus, span_set
from labelspec.check.tables import Codes

#: Bradley–Terry log-strengths closer than this do not break a Borda tie.
BT_TIE = 1e-9


def _flat_spans(codes: Codes, labels: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    """(judgment row, start, end, label code) of every span, from the distinct values parsed once each."""
    parsed = [json.loads(text) for text in codes.categories]  # distinct values, not judgments
    col = {label: j for j, label in enumerate(labels)}
    n_of = np.array([len(p) for p in parsed], dtype=np.int64)
    flat = np.array([[s[0], s[1], col[s[2]]] for p in parsed for s in p], dtype=np.int64).reshape(-1, 3)
    first = np.cumsum(n_of) - n_of
    cnt = n_of[codes.category] if n_of.size else np.zeros(codes.category.size, dtype=np.int64)
    row = np.repeat(np.arange(cnt.size), cnt)
    pos = first[codes.category][row] + np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return row, flat[pos, 0], flat[pos, 1], flat[pos, 2]


def span_set_of(inp: KindInput) -> SpanSet:
    """The task's spans as a ``SpanSet``; a unit's text length is its item field's, or its longest span end."""
    c = inp.codes
    row, start, end, label = _flat_spans(c, inp.task.label_ids)
    n_units = len(c.unit_keys)
    known = pd.Series(c.unit_items).map(inp.text_length).fillna(0).to_numpy(dtype=np.int64)
    longest = np.zeros(n_units, dtype=np.int64)
    np.maximum.at(longest, c.unit[row], end)
    return span_set(c.unit[row], c.annotator[row], start, end, label, text_len=np.maximum(known, longest),
                    n_labels=len(inp.task.label_ids), judged_unit=c.unit, judged_annotator=c.annotator)


def _span_text(u: np.ndarray, s: np.ndarray, e: np.ndarray, lab: np.ndarray, labels: tuple[str, ...],
               n_units: int) -> np.ndarray:
    """Consensus spans of each unit as compact JSON ``[[start, end, label], …]``; ``[]`` for none."""
    out = np.full(n_units, "[]", dtype=object)
    if u.size:
        names = np.array(labels, dtype=object)[lab]
        spans = pd.Series([[a, b, n] for a, b, n in zip(s.tolist(), e.tolist(), names, strict=True)], dtype=object)
        grouped = spans.groupby(u, sort=True).agg(list)
        out[grouped.index.to_numpy()] = [json.dumps(v, ensure_ascii=False, separators=(",", ":"))
                                         for v in grouped.tolist()]
    return out


def spans(inp: KindInput) -> KindResult:
    c, pol, task = inp.codes, inp.policy, inp.task
    n_units = len(c.unit_keys)
    sset = span_set_of(inp)
    every = span_consensus(sset, min_support=0.0, allow_nesting=task.allow_nesting)  # every cluster
    judges = np.bincount(sset.judged_unit, minlength=n_units)[every.unit]
    voters = np.rint(every.support * judges)  # back to counts: the in/out split is decided in integers
    support = np.ones(n_units)
    np.minimum.at(support, every.unit, np.maximum(voters, judges - voters) / judges)
    tie = np.zeros(n_units, dtype=bool)
    tie[every.unit[2 * voters == judges]] = True
    chosen = span_consensus(sset, min_support=pol.min_support, allow_nesting=task.allow_nesting)
    conflict = np.zeros(n_units, dtype=bool)
    conflict[chosen.unit[chosen.conflict]] = True
    per_unit = np.empty(n_units, dtype=object)
    per_unit[:] = [()] * n_units
    grouped = pd.Series(np.round(chosen.support, 6).tolist(), dtype=object).groupby(chosen.unit).agg(tuple)
    per_unit[grouped.index.to_numpy()] = grouped.tolist()
    value = _span_text(chosen.unit, chosen.start, chosen.end, chosen.label, task.label_ids, n_units)
    n = np.bincount(c.unit, minlength=n_units)
    return KindResult(unit_frame(c, "span_majority", value, support, n, tie, support < pol.min_support,
                                 span_conflict=conflict),
                      detail=details(lambda s: {"span_support": list(s)}, per_unit))


def orders_of(codes: Codes, options: tuple[str, ...]) -> np.ndarray:
    """(N, m) option indices of each judgment, best first (full rankings, as the record contract requires)."""
    col = {o: j for j, o in enumerate(options)}
    table = np.array([[col[o] for o in json.loads(t)] for t in codes.categories], dtype=np.int64)
    rows: np.ndarray = table.reshape(len(codes.categories), len(options))[codes.category]
    return rows


def _consensus_order(score: np.ndarray, strength: np.ndarray, n_units: int, m: int) -> tuple[np.ndarray, ...]:
    """(U, m) consensus order of option indices and (U,) whether an unbroken tie remains."""
    unit = np.repeat(np.arange(n_units), m)
    opt = np.tile(np.arange(m), n_units)
    order = np.lexsort((opt, -strength, -score, unit)).reshape(n_units, m)
    sc, st = score[order], strength[order]
    same = (np.diff(sc, axis=1) == 0) & (np.abs(np.diff(st, axis=1)) < BT_TIE)
    return order - (np.arange(n_units) * m)[:, None], same.any(axis=1)


def _agreement(rows: np.ndarray, unit: np.ndarray, order: np.ndarray, n_units: int) -> np.ndarray:
    """Share of each unit's (ranking, option pair) comparisons that agree with the consensus order."""
    m = rows.shape[1]
    pos = np.empty_like(order)
    np.put_along_axis(pos, order, np.arange(m)[None, :].repeat(n_units, axis=0), axis=1)
    agree = np.zeros(unit.size)
    for p, q in itertools.combinations(range(m), 2):  # pairs of positions: m is the number of options
        agree += pos[unit, rows[:, p]] < pos[unit, rows[:, q]]
    pairs = m * (m - 1) / 2
    n = np.bincount(unit, minlength=n_units)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.bincount(unit, weights=agree / pairs, minlength=n_units) / n if pairs else np.ones(n_units)
    return np.where(n > 0, share, np.nan)


def ranking(inp: KindInput) -> KindResult:
    c, options = inp.codes, inp.task.options
    n_units, m = len(c.unit_keys), len(options)
    rows = orders_of(c, options)
    glob = c.unit[:, None] * m + rows
    groups = np.repeat(np.arange(n_units), m)
    b = borda(glob, c.unit, n_units * m, option_group=groups)
    pairs = list(itertools.combinations(range(m), 2))
    win = np.concatenate([glob[:, p] for p, _ in pairs]) if pairs else np.zeros(0, dtype=np.int64)
    lose = np.concatenate([glob[:, q] for _, q in pairs]) if pairs else np.zeros(0, dtype=np.int64)
    bt = bradley_terry(win, lose, n_units * m, group=groups)
    order, tie = _consensus_order(b.score, bt.log_strength, n_units, m)
    support = _agreement(rows, c.unit, order, n_units)
    names = np.array(options, dtype=object)
    patterns, inverse = np.unique(order, axis=0, return_inverse=True)
    texts = np.array([json.dumps(names[p].tolist(), ensure_ascii=False, separators=(",", ":"))
                      for p in patterns], dtype=object)
    score, strength = b.score.reshape(n_units, m), np.round(bt.log_strength, 6).reshape(n_units, m)
    n = np.bincount(c.unit, minlength=n_units)
    model = {"bradley_terry_converged": bt.converged, "bradley_terry_iterations": bt.n_iter}
    return KindResult(unit_frame(c, "borda", texts[inverse.reshape(-1)] if n_units else texts, support, n, tie,
                                 ~(support >= inp.policy.min_support)), model,
                      details(lambda s, t: {"borda": dict(zip(options, s, strict=True)),
                                            "bradley_terry": dict(zip(options, t, strict=True))}, score, strength))
