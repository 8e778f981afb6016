"""Consensus of one task's judgments for the label-coded kinds: one function per consensus method.

One job: turn a task's integer-coded judgments into one proposed value per unit, with the evidence behind it
(support or posterior, ties, weak support), by the method the task's kind calls for: majority vote, Dawid–Skene,
median (rating), per-label majority (multi_choice), pairwise choice, deepest taxonomy level, and exact-value
majority for anything else (attribution). Spans and ranking live in ``decide_structured``. It never reads files,
never decides what goes to expert review (``decide`` does) and never loops over units or judgments in Python;
only the distinct values of a task are parsed one by one, and output dicts are built at the end.

Every decider returns a :class:`KindResult` whose ``units`` (:class:`UnitColumns`, arrays in unit order) make
the frame of :data:`UNIT_COLUMNS` on request; ``value`` is the proposed value in the canonical text form of label
files (label id, rating number, compact JSON for lists), or ``None`` when there is no consensus.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from labelspec.check.coded import repeated, sorted_categorical
from labelspec.check.consensus import majority_vote, median_consensus, per_label_majority, sparse_plurality
from labelspec.check.dawid_skene import dawid_skene
from labelspec.check.float_detail import FloatDetail
from labelspec.check.preference import pairwise_choice
from labelspec.check.span_sets import SpanSet
from labelspec.check.tables import (
    Codes,
    cell_keys,
    counting_fits,
    encode,
    row_totals,
    unit_counts,
    unit_positions,
)
from labelspec.check.taxonomy import ancestors_at, deepest_consensus
from labelspec.spec.model import Adjudication, Task

#: Columns of every decider's per-unit frame.
UNIT_COLUMNS = ("item", "unit", "value", "method", "support", "n_judgments", "tie", "low_support", "span_conflict")
#: Kinds whose judgments are coded by label id; the others are coded by distinct canonical value.
LABEL_CODED = frozenset({"single_choice", "pairwise", "rating"})


@dataclass(frozen=True)
class KindInput:
    """One task's judgments (values canonical) with their codes, the task's gold labels and the policy."""

    task: Task
    frame: pd.DataFrame
    codes: Codes
    gold: dict[str, str]  # unit key → canonical gold value
    policy: Adjudication
    text_length: dict[str, int] = field(default_factory=dict)  # item → length of the task's text field
    spans: SpanSet | None = None  # spans tasks: the span set of these rows, when the check has built it already
    #: threads for Dawid–Skene's EM (None: one per CPU); the check gives one fewer, its analysis using the other
    em_threads: int | None = None

    @cached_property
    def gold_positions(self) -> np.ndarray:
        """(G,) position of each key of ``gold`` (in its order) among the sorted unit keys, -1 when not judged:
        looked up once, for the decider (Dawid–Skene clamps gold units) and for ``decide``'s gold column."""
        return unit_positions(self.codes, self.gold)


@dataclass(frozen=True)
class KindResult:
    units: UnitColumns
    model: dict[str, Any] = field(default_factory=dict)  # method details for the report (Dawid–Skene …)
    #: Per-unit details (posterior, Borda scores …) for the units at the given positions, built only on request:
    #: a check needs none of them, a release needs them for its rows only.
    detail: Callable[[np.ndarray], list[dict[str, Any]]] | None = None
    #: The (U, K) unit × category count table, when the decider built one (reused for unanimity).
    counts: np.ndarray | None = None
    #: (U,) category code of each unit's value (-1: none), when the value is a category: unanimity compares
    #: codes instead of 3.3M texts.
    winner: np.ndarray | None = None
    #: The annotators' plain vote at the given unit positions, when the method's value can differ from it by
    #: construction (Dawid–Skene clamps gold units): ``decide`` compares it with gold, on gold units only.
    #: ``None``: the value is the vote.
    vote: Callable[[np.ndarray], np.ndarray] | None = None


Decider = Callable[[KindInput], KindResult]


def details(build: Callable[..., dict[str, Any]], *columns: Any) -> Callable[[np.ndarray], list[dict[str, Any]]]:
    """A lazy detail function: ``build(*row)`` for each requested unit, from per-unit arrays or lists, or from
    functions of the requested positions (a column worth computing only for the units asked for)."""
    arrays = [col if callable(col) or isinstance(col, np.ndarray) else np.asarray(col, dtype=object)
              for col in columns]

    def at(idx: np.ndarray) -> list[dict[str, Any]]:
        rows = ((a(idx) if callable(a) else a[idx]).tolist() for a in arrays)
        return [build(*row) for row in zip(*rows, strict=True)]

    return at


#: Kinds whose values have several texts per meaning (JSON lists and objects).
CANONICALISED: frozenset[str] = frozenset({"multi_choice", "spans", "ranking", "attribution"})


def canonical_frame(task: Task, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with canonical values; kinds whose text is already canonical keep their column (and codes)."""
    if task.kind not in CANONICALISED:
        return frame
    return frame.assign(value=canonical(task, frame["value"]))


def canonical(task: Task, values: pd.Series) -> pd.Series:
    """One text per meaning: multi_choice sets in spec order, spans sorted, JSON compact; parsed once per value."""
    if task.kind not in CANONICALISED or values.empty:
        return values.astype(object)
    if task.kind == "spans":  # parsed in bulk (span_table), each value once; same text as below
        from labelspec.check.span_table import canonical_spans

        return canonical_spans(values, task.label_ids)
    order = {label: i for i, label in enumerate(task.label_ids)}

    def one(text: str) -> str:
        data = json.loads(text)
        if task.kind == "multi_choice":
            data = sorted(data, key=lambda v: order.get(v, len(order)))
        elif task.kind == "spans":
            data = sorted(data, key=lambda s: (s[0], s[1], order.get(s[2], len(order)), s[2]))
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)

    uniques = values.unique()
    return values.map(dict(zip(uniques, (one(str(u)) for u in uniques), strict=True))).astype(object)


def key_counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct non-negative integer keys in order and how often each occurs: a bincount when the key space is
    at most a few times the number of keys (unit × category for labels), else one sort (not ``np.unique``)."""
    space = int(keys.max()) + 1 if keys.size else 0
    if keys.size and counting_fits(space, keys.size):
        dense = np.bincount(keys, minlength=space)
        present = np.flatnonzero(dense)
        return present, dense[present].astype(np.int64)
    s = np.sort(keys)
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]]) if s.size else np.zeros(0, dtype=np.int64)
    return s[starts], np.diff(np.r_[starts, s.size]).astype(np.int64)


def encode_task(task: Task, frame: pd.DataFrame) -> Codes:
    """Codes by label id (label-coded kinds) or by distinct canonical value (sorted, so codes are stable)."""
    if task.kind in LABEL_CODED:
        return encode(frame, task.label_ids)
    # encoded and sorted in Arrow, as the readers encode ids (no fixed-width numpy copy of every value)
    try:
        values = pa.array(frame["value"].to_numpy(dtype=object), pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text (hand-built frames): compare as text
        values = pa.array(frame["value"].astype(str).to_numpy(dtype=object), pa.large_string())
    cat = sorted_categorical(values)
    return encode(frame, tuple(str(c) for c in cat.categories), category_of=np.asarray(cat.codes, dtype=np.int64))


@dataclass(frozen=True)
class UnitColumns:
    """A decider's per-unit results as arrays, one per unit in the codes' unit order. :meth:`frame` makes the
    per-unit frame that a release and an adjudication queue write from; a plain check counts its consensus
    section from the arrays alone (at 10M judgments that frame's object columns, built and freed again, took
    ~0.3 s at the end of the consensus thread, the check's critical path)."""

    codes: Codes
    method: str
    value: np.ndarray  # (U,) object: the proposed value's text, or None
    support: np.ndarray  # (U,) float64
    n_judgments: np.ndarray  # (U,) int64
    tie: np.ndarray  # (U,) bool
    low_support: np.ndarray  # (U,) bool
    span_conflict: np.ndarray  # (U,) bool

    def __len__(self) -> int:
        return len(self.tie)

    def frame(self) -> pd.DataFrame:
        """The :data:`UNIT_COLUMNS` frame, indexed by the unit keys."""
        def text(a: np.ndarray) -> pd.Series:  # object, not pandas' string dtype: None stays None, no conversion
            return pd.Series(a, dtype=object, copy=False)

        c = self.codes
        cols: dict[str, Any] = {
            "item": text(np.asarray(c.unit_items, dtype=object)), "unit": text(np.asarray(c.unit_steps, dtype=object)),
            "value": text(self.value), "method": text(repeated(len(self), self.method)), "support": self.support,
            "n_judgments": self.n_judgments, "tie": self.tie, "low_support": self.low_support,
            "span_conflict": self.span_conflict,
        }
        # not copied again (3.3M units × 9 columns); every column has its own array
        frame = pd.DataFrame(cols, columns=list(UNIT_COLUMNS), copy=False)
        frame.index = pd.Index(c.unit_keys, dtype=object, name="key")
        return frame


def unit_columns(codes: Codes, method: str, value: np.ndarray, support: np.ndarray, n: np.ndarray,
                 tie: np.ndarray, low: np.ndarray, span_conflict: np.ndarray | None = None) -> UnitColumns:
    """The per-unit results every decider returns (a span conflict only spans have)."""
    u = codes.n_units
    return UnitColumns(codes, method, np.asarray(value, dtype=object), np.asarray(support, dtype=np.float64),
                       np.asarray(n, dtype=np.int64), np.asarray(tie, dtype=bool), np.asarray(low, dtype=bool),
                       np.zeros(u, dtype=bool) if span_conflict is None else np.asarray(span_conflict, dtype=bool))


def pick(categories: tuple[str, ...], idx: np.ndarray) -> np.ndarray:
    """Category names for codes, ``None`` for ``-1``."""
    table = np.array([*categories, None], dtype=object)
    return table[np.where(idx < 0, len(categories), idx)]


def number_text(x: np.ndarray) -> np.ndarray:
    """Ratings as label files write them: ``4`` for whole numbers, ``3.5`` otherwise, ``None`` for NaN."""
    s = pd.Series(x, dtype=np.float64)
    uniq = s.dropna().unique()
    texts = {v: (str(int(v)) if float(v).is_integer() else repr(float(v))) for v in uniq}
    out: np.ndarray = s.map(texts).astype(object).where(s.notna(), None).to_numpy(dtype=object)
    return out


def majority(inp: KindInput) -> KindResult:
    """Plurality vote; ties are never broken (winner ``None``), support is the winner's share of the votes."""
    counts = inp.codes.unit_table
    r = majority_vote(counts, min_support=inp.policy.min_support)
    value = pick(inp.codes.categories, r.winner)
    return KindResult(unit_columns(inp.codes, "majority", value, r.support, r.n_judgments, r.tie, r.low_support),
                      counts=counts, winner=r.winner)


def _gold_codes(inp: KindInput) -> tuple[np.ndarray, np.ndarray]:
    """Unit and category codes of the task's gold labels that name a judged unit and a known label."""
    units = inp.gold_positions
    cat_of = {c: i for i, c in enumerate(inp.codes.categories)}
    cats = np.array([cat_of.get(v, -1) for v in inp.gold.values()], dtype=np.int64)  # a loop over gold units
    ok = (units >= 0) & (cats >= 0)
    return units[ok], cats[ok]


def dawid_skene_consensus(inp: KindInput) -> KindResult:
    """Dawid–Skene EM from the majority vote, gold units clamped; support is the winner's posterior."""
    c, pol = inp.codes, inp.policy
    n_units, n_ann, n_cls = c.shape
    if n_units == 0:
        return majority(inp)
    gold_u, gold_l = _gold_codes(inp)
    # the unit table is shared with the analysis and the hotspots (int32: half the width through EM); asked for
    # once the sparse matrix is built, since the analysis may be counting it at that moment
    r = dawid_skene(c.unit, c.annotator, c.category, n_units=n_units, n_annotators=n_ann, n_classes=n_cls,
                    gold_units=gold_u, gold_labels=gold_l, tol=pol.tolerance, max_iter=pol.max_iterations,
                    by_unit=c.by_unit, votes=lambda: c.unit_table, threads=inp.em_threads,
                    cells=(c.grouped_cells, c.cell_shift))
    counts = c.unit_table
    support = np.where(r.winner >= 0, r.posterior_max, np.nan)
    # a label no judgment of the unit chose is the model's guess, never settled by the crowd: it goes to review
    # (with every unit judged once the model cannot be identified, and EM turns single judgments into others)
    unchosen = (r.winner >= 0) & (np.take_along_axis(counts, np.maximum(r.winner, 0)[:, None], 1)[:, 0] == 0)
    low = (r.winner < 0) | ~(r.posterior_max >= pol.min_support) | unchosen
    cats = list(c.categories)
    units = unit_columns(c, "dawid_skene", pick(c.categories, r.winner), support, row_totals(counts), r.tie, low)
    model = {
        "labels": cats,
        "priors": dict(zip(cats, np.round(r.priors, 6).tolist(), strict=True)),
        "confusion": {str(a): np.round(m, 6).tolist() for a, m in zip(c.annotators, r.confusion, strict=True)},
        "iterations": r.n_iter, "converged": r.converged, "max_iterations": pol.max_iterations,
        "tolerance": pol.tolerance, "gold_units_clamped": int(gold_u.size),
        "log_likelihood": float(r.log_likelihood[-1]) if r.log_likelihood.size else None,
    }

    def posterior(idx: np.ndarray) -> np.ndarray:  # rounded for the units asked for only (a check asks for none)
        rounded: np.ndarray = np.round(r.posterior[idx], 6)
        return rounded

    def plain_vote(pos: np.ndarray) -> np.ndarray:  # gold units only (row-wise: a subset votes as the whole)
        return pick(c.categories, majority_vote(counts[pos]).winner)

    return KindResult(units, model, FloatDetail((("posterior", tuple(cats), posterior),)), counts=counts,
                      winner=r.winner, vote=plain_vote)


def median(inp: KindInput) -> KindResult:
    """Median rating; support is the share of judgments equal to it, a median between two scale points is a tie."""
    c = inp.codes
    points = np.array([float(x) for x in c.categories]) if c.categories else np.zeros(0)
    r = median_consensus(c.unit, points[c.category], c.n_units)
    has = r.n_judgments > 0
    tie = has & (r.support == 0)  # the two middle judgments differ: no judgment sits at the median
    low = ~has | ~(r.support >= inp.policy.min_support)
    return KindResult(unit_columns(c, "median", number_text(r.median), r.support, r.n_judgments, tie, low),
                      detail=details(lambda iqr: {"iqr": iqr}, r.iqr))


def membership(task: Task, categories: tuple[str, ...]) -> np.ndarray:
    """(D, L) 0/1: which labels each distinct multi_choice value selects (parsed once per distinct value)."""
    col = {label: j for j, label in enumerate(task.label_ids)}
    member = np.zeros((len(categories), len(col)), dtype=np.int64)
    for d, text in enumerate(categories):  # distinct values, not judgments
        member[d, [col[v] for v in json.loads(text)]] = 1
    return member


def _selected_text(task: Task, selected: np.ndarray) -> np.ndarray:
    """Each row of a (U, L) boolean matrix as the compact JSON list of its labels, formatted once per pattern."""
    if selected.shape[0] == 0:
        return np.zeros(0, dtype=object)
    patterns, inverse = np.unique(selected, axis=0, return_inverse=True)
    labels = np.array(task.label_ids, dtype=object)
    texts = np.array([json.dumps(labels[p].tolist(), ensure_ascii=False, separators=(",", ":"))
                      for p in patterns], dtype=object)
    return texts[inverse.reshape(-1)]


def per_label(inp: KindInput) -> KindResult:
    """Per-label majority; the unit's support is its weakest label decision, a tie on any label is a tie."""
    c, task = inp.codes, inp.task
    n_units = c.n_units
    judged = sp.csr_matrix((np.ones(c.unit.size), (c.unit, c.category)), shape=(n_units, len(c.categories)))
    counts = np.asarray((judged @ membership(task, c.categories)).astype(np.int64))
    n = np.bincount(c.unit, minlength=n_units).astype(np.int64)
    r = per_label_majority(counts, n, inp.policy.min_support)
    support = r.support.min(axis=1) if r.support.shape[1] else np.ones(n_units)
    tie, low = np.asarray(r.tie.any(axis=1)), np.asarray(r.low_support.any(axis=1))
    return KindResult(unit_columns(c, "per_label_majority", _selected_text(task, r.selected), support, n, tie, low))


def pairwise(inp: KindInput) -> KindResult:
    """Chosen and rejected response per pair; most judgments answering "tie" is a consensus that neither is
    better (value ``tie``, released, but no preference pair)."""
    c = inp.codes
    r = pairwise_choice(c.unit, c.category, c.n_units, min_support=inp.policy.min_support)
    sides = np.array(["A", "B", None], dtype=object)
    value = np.where(r.equal, "tie", sides[r.chosen]).astype(object)  # chosen -1 picks None
    n = r.n_a + r.n_b + r.n_tie
    return KindResult(unit_columns(c, "pairwise", value, r.support, n, r.tie, r.low_support),
                      detail=details(lambda ch, rj, a, b, t: {"chosen": ch, "rejected": rj, "n_a": a, "n_b": b,
                                                              "n_tie": t}, sides[r.chosen], sides[r.rejected],
                                     r.n_a, r.n_b, r.n_tie))


def taxonomy(inp: KindInput) -> KindResult:
    """Deepest level of the label tree at which ``min_support`` of the judgments agree; none → no consensus."""
    c, task = inp.codes, inp.task
    parent = np.array(task.parent_codes, dtype=np.int64)
    n_units = c.n_units
    r = deepest_consensus(c.unit, c.category, parent, min_support=inp.policy.min_support, n_units=n_units)
    roots = majority_vote(unit_counts(replace(c, category=ancestors_at(parent, 0)[c.category])))
    none = r.label < 0
    return KindResult(unit_columns(c, "deepest_level", pick(c.categories, r.label), r.support, roots.n_judgments,
                                 none & roots.tie, none), detail=details(lambda d: {"depth": d}, r.depth))


def exact(inp: KindInput) -> KindResult:
    """Majority over whole canonical values (attribution and any kind without a finer method)."""
    c = inp.codes
    n_units, _, k = c.shape
    keys, counts = key_counts(cell_keys(c.unit, c.category, max(k, 1)))
    top, n_top, winner = sparse_plurality(keys // max(k, 1), keys % max(k, 1), counts, n_units)
    n = np.bincount(c.unit, minlength=n_units)
    tie = n_top > 1
    support = np.where(n > 0, top / np.maximum(n, 1), np.nan)
    winner[tie] = -1
    return KindResult(unit_columns(c, "exact_majority", pick(c.categories, winner), support, n, tie,
                                 (n == 0) | (support < inp.policy.min_support)))
