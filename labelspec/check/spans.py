"""Agreement, findings and consensus for span annotation (NER-style (start, end, label) lists per unit).

One job: from integer-coded flat span arrays, compute pairwise span F1 (exact and overlap), character-level
Krippendorff α, boundary/type disagreement findings and span consensus, fully vectorised. α itself comes from
:mod:`labelspec.check.stats`; validation lives in ``span_validate``, the checked input in ``span_sets`` and the
matching in ``span_match`` (all re-exported here). It never reads files, never sees text or label names, and
decides no gate.

Definitions
-----------
Spans are half-open character intervals [start, end) with 0 ≤ start < end ≤ text length of their unit. Who
judged a unit is given separately (``judged_*``) so that an annotator who marked nothing still counts;
annotators with spans on a unit always count as having judged it. Validation (:func:`validate_spans`) reports
per-span problems; the statistics require spans with no unit/label/offset problem and tolerate overlaps.

Span F1 (per pair of annotators a, b that judged a unit). Exact: a match is the same (start, end, label).
Overlap: same label and intersecting intervals. Matching is one-to-one and greedy: candidate pairs are taken
in order of largest overlap (characters), ties by earliest start, then earliest second start, earliest end,
latest end, span index; a span is matched at most once per partner annotator. F1_ab = 2 TP / (|a| + |b|) with
TP, |a|, |b| summed over the units both judged (micro-averaged), which is symmetric in a and b by
construction. A unit where both marked nothing adds nothing; one side empty adds only misses. Pairs with no
span at all are left out (``n_excluded``). Reported: the mean over pairs, the pooled micro F1 over all pairs,
and per label the mean over pairs with a span of that label.

Character α. Each character of a unit judged by ≥ 2 annotators is a unit of analysis; each judging annotator
gives it the label of the *innermost* span covering it (shortest; ties by lower label index) or "outside".
Nominal α over these K + 1 categories. Per label, binary α on "covered by a span of this label at any nesting
depth" vs not, so nested spans of different labels each count. Characters are grouped into segments between
span boundaries and counted with the segment length as multiplicity, so memory grows with spans, not text.

Findings. Boundary disagreement: an overlap-matched pair with different extents. Type disagreement: two spans
of different annotators with the same extent and different labels (every such pair counts once).

Consensus. Extents (unit, start, end, label) supported by distinct annotators; same-label extents that overlap
(transitively) form a cluster. A cluster whose distinct annotators reach ``min_support`` × (annotators of the
unit) yields one consensus span: its extent with the most exact support (ties: earliest start, then earliest
end). ``exact`` says that extent alone reaches the threshold. Shares are compared as floats, as in
``majority_vote``: 2 of 3 annotators is below 0.67 and meets 2/3. Consensus spans of different labels that
overlap are flagged ``conflict`` (with nesting allowed: only crossing or identical extents conflict).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from labelspec.check import stats
from labelspec.check.char_alpha import CharAlpha, char_alpha
from labelspec.check.estimate import FloatArray, IntArray, make_estimate
from labelspec.check.ordering import sorted_and_order
from labelspec.check.span_match import PairSums, SpanMatches, both_matches, pair_sums, span_matches
from labelspec.check.span_sets import SpanSet, span_set
from labelspec.check.span_validate import (
    SPAN_PROBLEM_TEXT,
    SpanProblem,
    crossing_flags,
    overlap_flags,
    validate_spans,
)
from labelspec.check.taxonomy import (
    distinct,
    lex_order,
    pairs_within_groups,
    runs,
    unique_inverse,
)

BoolArray = npt.NDArray[np.bool_]

__all__ = ["SPAN_PROBLEM_TEXT", "CharAlpha", "ConsensusSpans", "SpanClusters", "SpanF1", "SpanFindings", "SpanMatches",
           "SpanProblem", "SpanSet", "both_matches", "char_alpha", "f1_of_sums", "span_clusters", "span_consensus", "span_f1",
           "span_findings", "span_matches", "span_set", "validate_spans"]


@dataclass(frozen=True, slots=True)
class SpanF1:
    """Pairwise span F1: mean over annotator pairs, pooled micro F1, per label; per-pair arrays (a < b)."""

    mean: stats.Estimate
    pooled: stats.Estimate
    per_label: tuple[stats.Estimate, ...]
    pair_a: IntArray
    pair_b: IntArray
    pair_f1: FloatArray
    pair_tp: IntArray
    pair_spans: IntArray


def f1_of_sums(sums: PairSums) -> SpanF1:
    """Span F1 from (pair, label) sums of one group (see Definitions); pairs without spans are excluded."""
    A, K = max(sums.n_annotators, 1), max(sums.n_labels, 1)
    pl, tp, den, co = sums.key, sums.tp, sums.den, sums.co_pairs
    pair, inv = unique_inverse(pl // K)
    p_tp, p_den = np.bincount(inv, weights=tp, minlength=pair.size), np.bincount(inv, weights=den, minlength=pair.size)
    f1 = 2.0 * p_tp / np.maximum(p_den, 1)
    n_excl = int(co.size - pair.size)
    mean = make_estimate(float(f1.mean()) if f1.size else None, int(f1.size), n_excl,
                         None if f1.size else "no span by any pair of annotators of one unit")
    pooled = make_estimate(2.0 * p_tp.sum() / p_den.sum() if f1.size else None, int(f1.size), n_excl,
                           mean.reason)
    by_label = [2.0 * tp[pl % K == k] / den[pl % K == k] for k in range(sums.n_labels)]
    per_label = tuple(make_estimate(float(f.mean()), f.size, co.size - f.size) if f.size
                      else make_estimate(None, 0, co.size, "no span of this label") for f in by_label)
    return SpanF1(mean, pooled, per_label, pair // A, pair % A, f1, p_tp.astype(int), p_den.astype(int))


def span_f1(sp: SpanSet, *, mode: Literal["exact", "overlap"] = "overlap",
            matches: SpanMatches | None = None) -> SpanF1:
    """Pairwise span F1 between annotators who judged the same units (see Definitions).

    ``matches`` (from :func:`span_matches` with the same ``mode``) saves matching again.
    """
    m = matches if matches is not None else span_matches(sp, mode)
    if m.mode != mode:
        raise ValueError(f"matches are for mode {m.mode!r}, not {mode!r}")
    return f1_of_sums(pair_sums(sp, m))


@dataclass(frozen=True, slots=True)
class SpanFindings:
    """Boundary and type disagreements: counts, example units (smallest ids), confused label pairs."""

    boundary_count: int
    boundary_units: IntArray
    type_count: int
    type_units: IntArray
    type_pairs: IntArray
    type_pair_counts: IntArray


@dataclass(frozen=True, slots=True)
class FindingParts:
    """The disagreements behind :class:`SpanFindings`, one entry each, with the unit they are on."""

    boundary_unit: IntArray  # per overlap-matched pair with different extents
    type_unit: IntArray  # per same-extent pair of different annotators and labels
    type_key: IntArray  # its label pair, lo · K + hi
    n_labels: int

    def restrict(self, unit_new: IntArray) -> FindingParts:
        """The parts on kept units, renumbered by ``unit_new`` (old unit → new unit, −1 for dropped)."""
        b, t = unit_new[self.boundary_unit], unit_new[self.type_unit]
        return FindingParts(b[b >= 0], t[t >= 0], self.type_key[t >= 0], self.n_labels)


def finding_parts(sp: SpanSet, *, matches: SpanMatches | None = None) -> FindingParts:
    """Every boundary and type disagreement (see Definitions); ``matches`` (overlap mode) saves matching again."""
    m = matches if matches is not None else span_matches(sp, "overlap")
    if m.mode != "overlap":
        raise ValueError("span findings use the overlap matching")
    p, q = m.p, m.q
    boundary = (sp.start[p] != sp.start[q]) | (sp.end[p] != sp.end[q])
    width = int(sp.text_len.max(initial=0)) + 1
    space = sp.text_len.size * width * width
    if space < 1 << 62:  # one int per (unit, start, end): texts are short
        extent, order = sorted_and_order((sp.unit * width + sp.start) * width + sp.end, space)
        new = np.r_[True, extent[1:] != extent[:-1]] if order.size else np.zeros(0, dtype=bool)
    else:
        order = np.lexsort((sp.end, sp.start, sp.unit))
        ext = np.stack([sp.unit, sp.start, sp.end])[:, order]
        new = np.r_[True, (np.diff(ext, axis=1) != 0).any(axis=0)] if order.size else np.zeros(0, dtype=bool)
    i, j = pairs_within_groups(np.diff(np.r_[np.flatnonzero(new), order.size]))  # pairs with the same extent
    i, j = order[i], order[j]
    typ = (sp.annotator[i] != sp.annotator[j]) & (sp.label[i] != sp.label[j])
    i, j = i[typ], j[typ]
    K = max(sp.n_labels, 1)
    key = np.minimum(sp.label[i], sp.label[j]) * K + np.maximum(sp.label[i], sp.label[j])
    return FindingParts(sp.unit[p[boundary]], sp.unit[i], key, sp.n_labels)


def summarize_findings(parts: FindingParts, *, max_examples: int = 5) -> SpanFindings:
    """Counts, example units (smallest ids) and confused label pairs of the disagreements."""
    K = max(parts.n_labels, 1)
    keys = np.sort(parts.type_key)
    first, counts = runs(keys)
    pairs = np.stack([keys[first] // K, keys[first] % K], axis=1)
    return SpanFindings(int(parts.boundary_unit.size), distinct(parts.boundary_unit)[:max_examples],
                        int(parts.type_unit.size), distinct(parts.type_unit)[:max_examples], pairs.reshape(-1, 2),
                        counts.astype(np.int64))


def span_findings(sp: SpanSet, *, max_examples: int = 5, matches: SpanMatches | None = None) -> SpanFindings:
    """Where annotators disagree on extent (same label) or on type (same extent), see Definitions.

    ``matches`` (overlap mode, from :func:`span_matches`) saves matching again.
    """
    return summarize_findings(finding_parts(sp, matches=matches), max_examples=max_examples)


@dataclass(frozen=True, slots=True)
class ConsensusSpans:
    """One consensus span per qualifying cluster, sorted by (unit, start, end, label)."""

    unit: IntArray
    start: IntArray
    end: IntArray
    label: IntArray
    support: FloatArray
    exact_support: FloatArray
    exact: BoolArray
    conflict: BoolArray


@dataclass(frozen=True, slots=True)
class SpanClusters:
    """Every overlap cluster before any threshold: its representative extent and its support (counts)."""

    unit: IntArray
    label: IntArray
    start: IntArray
    end: IntArray
    support: IntArray  # distinct annotators with a span in the cluster
    exact: IntArray  # distinct annotators with the representative extent
    judges: IntArray  # (units,) annotators who judged each unit
    #: every distinct extent that some annotator marked beside their cluster's representative (a span nested in
    #: or around another of the same label, by the same hand): unit, label, start, end, annotators who marked it
    nested: tuple[IntArray, IntArray, IntArray, IntArray, IntArray] | None = None


def span_clusters(sp: SpanSet) -> SpanClusters:
    """Same-label extents that overlap (transitively), each with the extent of most exact support."""
    judges = np.bincount(sp.judged_unit, minlength=sp.text_len.size)
    order = lex_order(sp.unit, sp.label, sp.start, sp.end, sp.annotator)
    u, lab, s, e, a = (x[order] for x in (sp.unit, sp.label, sp.start, sp.end, sp.annotator))
    other = (u[1:] != u[:-1]) | (lab[1:] != lab[:-1]) | (s[1:] != s[:-1]) | (e[1:] != e[:-1])
    keep = np.r_[True, other | (a[1:] != a[:-1])] if u.size else np.zeros(0, dtype=bool)  # one mark each
    new_ext = np.r_[True, other][keep] if u.size else keep
    u, lab, s, e, a = (x[keep] for x in (u, lab, s, e, a))
    ext_of = np.cumsum(new_ext) - 1
    heads, n_ext = runs(ext_of)
    eu, el, es, ee = u[heads], lab[heads], s[heads], e[heads]  # extents, sorted by (unit, label, start, end)
    width = int(sp.text_len.max(initial=0)) + 1
    grp = eu * max(sp.n_labels, 1) + el
    run_max = np.maximum.accumulate(grp * width + ee)
    new = np.ones(grp.size, dtype=bool)
    new[1:] = (grp[1:] != grp[:-1]) | (grp[1:] * width + es[1:] >= run_max[:-1])
    cluster = np.cumsum(new) - 1
    n_ann = max(sp.n_annotators, 1)
    support = np.bincount(distinct(cluster[ext_of] * n_ann + a) // n_ann, minlength=int(new.sum()))
    best = lex_order(cluster, int(n_ext.max(initial=0)) - n_ext, es, ee)
    head, _ = runs(cluster[best])
    rep = best[head]  # one extent per cluster, in cluster order
    # extents nested in (or around) their cluster's representative that an annotator marked together with it:
    # two mentions to that annotator (two spans side by side are one mention split differently: not these)
    on_rep = np.zeros(eu.size, dtype=bool)
    on_rep[rep] = True
    rs, re = es[rep][cluster], ee[rep][cluster]  # each extent's cluster representative
    nests = ~on_rep & (((es >= rs) & (ee <= re)) | ((es <= rs) & (ee >= re)))
    other = np.flatnonzero(nests[ext_of])
    # did the mark's annotator also mark its cluster's representative? The marks are sorted by extent, then
    # annotator, and unique, so (extent, annotator) keys ascend strictly and a binary search answers it
    # (``numpy.isin`` against every representative mark took 1.4 s at 1M judgments)
    marks = ext_of * n_ann + a
    asked = rep[cluster[ext_of[other]]] * n_ann + a[other]
    at = np.minimum(np.searchsorted(marks, asked), max(marks.size - 1, 0))
    beside = other[marks[at] == asked] if marks.size else other
    ext = np.unique(ext_of[beside])
    return SpanClusters(eu[rep], el[rep], es[rep], ee[rep], support, n_ext[rep], judges,
                        (eu[ext], el[ext], es[ext], ee[ext], n_ext[ext]))


def _with_nested_extents(c: SpanClusters, min_support: float) -> SpanClusters:
    """The clusters plus the nested extents (:attr:`SpanClusters.nested`) marked exactly by ``min_support`` of
    their unit's annotators: overlap clusters hold a span and the same-label span nested in it together, though
    the annotators who marked both meant two mentions. Such an extent's support is its exact share; clusters
    keep theirs. Two annotators who disagree on one mention's boundary mark one extent each, neither beside the
    other: their cluster stays one span."""
    assert c.nested is not None
    eu, el, es, ee, n = c.nested
    strong = n / c.judges[eu] >= min_support
    if not strong.any():
        return c
    return SpanClusters(unit=np.r_[c.unit, eu[strong]], label=np.r_[c.label, el[strong]],
                        start=np.r_[c.start, es[strong]], end=np.r_[c.end, ee[strong]],
                        support=np.r_[c.support, n[strong]], exact=np.r_[c.exact, n[strong]], judges=c.judges,
                        nested=c.nested)


def span_consensus(sp: SpanSet, *, min_support: float, allow_nesting: bool = False,
                   clusters: SpanClusters | None = None) -> ConsensusSpans:
    """Spans a share ``min_support`` of the unit's annotators agree on (exactly, or by overlap cluster).

    ``clusters`` (from :func:`span_clusters` of the same span set) saves clustering again.
    """
    c = clusters if clusters is not None else span_clusters(sp)
    if allow_nesting and c.nested is not None:
        c = _with_nested_extents(c, min_support)
    # shares against min_support as the majority vote compares them (2 of 3 meets 2/3, not 0.67)
    idx = np.flatnonzero(c.support / c.judges[c.unit] >= min_support)
    idx = idx[np.lexsort((c.label[idx], c.end[idx], c.start[idx], c.unit[idx]))]
    u, lab, s, e = c.unit[idx], c.label[idx], c.start[idx], c.end[idx]
    if allow_nesting:
        same = np.r_[(u[1:] == u[:-1]) & (s[1:] == s[:-1]) & (e[1:] == e[:-1]), False]
        conflict = crossing_flags(u, s, e) | same | np.r_[False, same[:-1]]
    else:
        conflict = overlap_flags(u, s, e)
    n_u = c.judges[u].astype(np.float64)
    return ConsensusSpans(u, s, e, lab, c.support[idx] / n_u, c.exact[idx] / n_u,
                          c.exact[idx] / n_u >= min_support, conflict)
