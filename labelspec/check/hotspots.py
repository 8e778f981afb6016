"""Disagreement hotspots: the units annotators disagree on most, and the label pairs they split between.

One job: rank disagreement and point each confused label pair at the part of the guidelines that should have
settled it, or flag it as a guideline gap. It reads no files and decides no gate.

* Units are ranked by the Shannon entropy (bits) of their judgments' values (canonical values, so for list
  kinds two judgments agree only when the whole value is equal); ties by more judgments, then task and id.
* A label pair's ``splits`` counts pairs of judgments on the same unit where one annotator chose one label
  and another annotator the other: Σ_u n_ua · n_ub for single_choice (the off-diagonal of the unit × label
  count table's Gram matrix), Σ_u #(a, not b) · #(b, not a) for multi_choice, and same-extent spans with
  different labels for spans. ``units`` counts the units with at least one such split; the example items are
  the units with the most. Pairs are kept per task, most splits first, at most ``max_pairs``.
* Kinds whose judgment carries one label count like single_choice, Σ_u n_ua · n_ub, over a unit × label count
  table (:func:`judgment_labels`; sparse for a long scale). pairwise: its answers A, B, tie, so a unit with
  n_A, n_B, n_tie judgments gives n_A·n_B splits to A ↔ B, n_A·n_tie to A ↔ tie and n_B·n_tie to B ↔ tie.
  rating: its scale points, whose ids (``"1"`` … ``"5"``) edge cases name, so a split between two points is
  settled or a gap like any other; on an ordered scale (``level`` ordinal, interval or ratio) only points at
  least two apart are paired (neighbours, 3 ↔ 4, differ in degree, as every ordered scale does). attribution: the
  agent, so two judgments naming one agent at different steps do not split. The record contract makes every
  agent a label id; a ``null`` agent, should one get through, is the label ``none`` when the task has one, and
  otherwise no label (it splits with nothing, as the distribution gate counts it as nothing). Ranking and text
  have no label pairs.
* A pair is covered by an edge case whose ``label`` is one of the two and whose ``instead_of`` holds the other
  (linked as ``guidelines.html#<edge-case id>``), or by a counterexample on one label whose ``use`` is the
  other (linked to that label's section). An uncovered pair is a **guideline gap**; the gaps, with example
  items, are the suggested guideline fixes.
* For a single_choice taxonomy (labels with ``parent:``), each label with children is a **subtree**: the pairs
  of judgments on one unit that both lie under it, how many of them split between its children (or the
  label itself and a child), and the most frequent such split with its coverage and example units
  (:func:`labelspec.check.taxonomy.subtree_hotspots`; gold units left out).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from labelspec.check import decide_kinds as kinds
from labelspec.check.analyze import TaskAnalysis
from labelspec.check.coded import task_rows
from labelspec.check.context import Context
from labelspec.check.records import Accounting
from labelspec.check.tables import (
    Codes,
    cell_keys,
    count_cells,
    counting_fits,
    dense_units,
    row_totals,
    unit_counts,
    units_on_items,
)
from labelspec.check.task_parse import ParsedTask, TaskParses, task_codes
from labelspec.check.taxonomy import ancestors_at, distinct, subtree_hotspots
from labelspec.spec.model import Spec, Task

GUIDELINES = "guidelines.html"
#: Kinds whose judgment carries at most one label: splits from a unit × label count table.
ONE_LABEL_KINDS = frozenset({"pairwise", "rating", "attribution"})
PAIR_KINDS = frozenset({"single_choice", "multi_choice", "spans"}) | ONE_LABEL_KINDS
#: The label a ``null`` attribution agent counts as, when the task has it.
NO_AGENT = "none"


@dataclass(frozen=True)
class Hotspots:
    items: pd.DataFrame  # task, item, unit, entropy, n_judgments, values
    pairs: pd.DataFrame  # task, labels, splits, units, share, covered_by, gap, examples
    subtrees: tuple[dict[str, Any], ...] = ()  # taxonomy tasks: task, parent, depth, pairs, splits, share, top_split

    def section(self) -> dict[str, Any]:
        """The ``hotspots`` section of the check report, with a text summary."""
        items = self.items.to_dict("records")
        pairs = self.pairs.to_dict("records")
        fixes = [{"task": p["task"], "labels": p["labels"], "splits": p["splits"], "examples": p["examples"],
                  "suggestion": f"add an edge case to task {p['task']!r} saying when {p['labels'][0]!r} applies "
                                f"instead of {p['labels'][1]!r} (or the reverse)"} for p in pairs if p["gap"]]
        lines = [_pair_line(p) for p in pairs] + [_subtree_line(t) for t in self.subtrees]
        if items:
            top = ", ".join(f"{i['item']}{'/' + i['unit'] if i['unit'] else ''} ({i['task']}, {i['entropy']:.2f} bits)"
                            for i in items[:5])
            lines.append(f"most disputed units: {top}")
        lines += [f"suggested fix: {f['suggestion']}; e.g. {', '.join(f['examples'])}" for f in fixes]
        return {"items": items, "label_pairs": pairs, "subtrees": list(self.subtrees), "suggested_fixes": fixes,
                "summary": lines}


def _pair_line(p: dict[str, Any]) -> str:
    head = f"{p['task']}: {p['labels'][0]} ↔ {p['labels'][1]} split {p['splits']}× on {p['units']} unit(s)"
    if p["gap"]:
        return head + " — guideline gap: no edge case or counterexample settles it"
    return head + " — settled by " + ", ".join(f"{c['kind']} {c['id']} ({c['link']})" for c in p["covered_by"])


def _subtree_line(t: dict[str, Any]) -> str:
    head = (f"{t['task']}: under {t['parent']}, {t['splits']} of {t['pairs']} pairs of judgments split between "
            f"its children ({t['share']:.0%})")
    top = t["top_split"]
    if top is None:
        return head
    how = " — guideline gap" if top["gap"] else " — settled by " + ", ".join(c["id"] for c in top["covered_by"])
    return f"{head}; most often {top['labels'][0]} ↔ {top['labels'][1]} ({top['splits']}×){how}"


#: Units judged at most this many times get their entropy terms from a (count, judgments) table.
_TERMS_UP_TO = 255
#: Units per piece of :func:`_choice_splits`' sums (a piece's float copy stays in cache).
_SPLIT_UNITS = 1 << 15


def _entropy_terms(most: int) -> np.ndarray:
    """``-p·log2(p)`` for p = c / n, at ``c·(most + 1) + n`` (0 where c = 0), computed as the per-unit loop computes
    it (the same operations on the same numbers: the same bits); 3.3M units need only a few dozen of them."""
    c, n = np.divmod(np.arange((most + 1) ** 2), most + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = c / n
        out: np.ndarray = np.where(c > 0, -p * np.log2(p), 0.0)
    return out


def entropy(codes: Codes, table: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(U,) entropy in bits of each unit's judgments, and (U,) judgments per unit (sparse unless the U × K table
    is small; ``table``: that table when the caller has it). Both ways add a unit's terms in category order, so
    they give the same bits."""
    n_units, _, k = codes.shape
    if dense_units(codes):
        table = unit_counts(codes) if table is None else table
        n = row_totals(table)
        total = np.zeros(n_units)
        most = int(n.max()) if n_units else 0
        if most <= _TERMS_UP_TO:  # each term looked up by (count, judgments): the same bits, no log per unit
            terms = _entropy_terms(most)
            for c in range(k):  # a loop over categories: column by column, in the sparse way's order
                total += terms[table[:, c] * (most + 1) + n]
            return total + 0.0, n
        with np.errstate(divide="ignore", invalid="ignore"):
            for c in range(k):
                p = table[:, c] / n
                total += np.where(table[:, c] > 0, -p * np.log2(p), 0.0)
        return total + 0.0, n
    keys, counts = kinds.key_counts(cell_keys(codes.unit, codes.category, max(k, 1)))
    unit = keys // max(k, 1)
    n = np.bincount(codes.unit, minlength=n_units)
    p = counts / n[unit]
    return np.bincount(unit, weights=-p * np.log2(p), minlength=n_units) + 0.0, n


def coverage(task: Task, a: str, b: str) -> list[dict[str, str]]:
    """The edge cases and counterexamples of ``task`` that settle the pair (a, b), in spec order."""
    out = [{"kind": "edge_case", "id": e.id, "link": f"{GUIDELINES}#{e.id}"} for e in task.edge_cases
           if (e.label == a and b in e.instead_of) or (e.label == b and a in e.instead_of)]
    for lab in task.labels:
        other = b if lab.id == a else a if lab.id == b else None
        if other is not None and any(c.use == other for c in lab.counterexamples):
            out.append({"kind": "counterexample", "id": f"{lab.id}→{other}",
                        "link": f"{GUIDELINES}#{task.label_anchor(lab.id)}"})
    return out


SplitWeight = Callable[[int, int], np.ndarray]  # (a, b) → (U,) splits between labels a and b on each unit


def _choice_splits(codes: Codes, table: np.ndarray | None = None, gold: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, SplitWeight]:
    """(K, K) splits and units-with-both, and each unit's splits for one pair (the examples come from it);
    ``gold`` (U,) units count no split. Summed over pieces of :data:`_SPLIT_UNITS` units: a float copy of the
    whole (U, K) table and of its presence were 2 × 107 MB of fresh memory at 3.3M units. Every term is a
    whole number, so the sums are exact (the same in any order)."""
    counts = unit_counts(codes) if table is None else table
    skip = gold if gold is not None and gold.any() else None
    k = counts.shape[1]
    splits, both = np.zeros((k, k)), np.zeros((k, k))
    for a in range(0, len(counts), _SPLIT_UNITS):
        piece = counts[a:a + _SPLIT_UNITS].astype(np.float64)
        if skip is not None:
            piece[skip[a:a + _SPLIT_UNITS]] = 0.0
        splits += piece.T @ piece
        present = (piece > 0).astype(np.float64)
        both += present.T @ present

    def weight(i: int, j: int) -> np.ndarray:
        w: np.ndarray = np.multiply(counts[:, i], counts[:, j], dtype=np.float64)
        if skip is not None:
            w[skip] = 0.0
        return w

    return splits, both, weight


def _multi_splits(task: Task, codes: Codes, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray, SplitWeight]:
    member = kinds.membership(task, codes.categories)[codes.category].astype(bool)  # (N, L)
    member[gold[codes.unit]] = False  # judgments on gold units choose nothing here
    n_units, n_lab = codes.n_units, len(task.label_ids)
    splits, both = np.zeros((n_lab, n_lab)), np.zeros((n_lab, n_lab))

    def per_unit(i: int, j: int) -> np.ndarray:
        a = np.bincount(codes.unit, weights=member[:, i] & ~member[:, j], minlength=n_units)
        b = np.bincount(codes.unit, weights=member[:, j] & ~member[:, i], minlength=n_units)
        return a * b

    for i, j in itertools.combinations(range(n_lab), 2):  # label pairs: a handful
        w = per_unit(i, j)
        splits[i, j] = splits[j, i] = float(w.sum())
        both[i, j] = both[j, i] = float((w > 0).sum())
    return splits, both, per_unit


def _span_splits(task: Task, parsed: ParsedTask, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray, SplitWeight]:
    """Type disagreements (same extent, different labels) per label pair, and the units they occur on (gold
    units left out)."""
    n_lab, n_units = len(task.label_ids), parsed.codes.n_units
    parts = parsed.findings()  # matched and found once per check
    assert parts.n_labels == n_lab
    kept = ~gold[parts.type_unit]
    key, type_unit = parts.type_key[kept], parts.type_unit[kept]  # label_lo * K + label_hi per disagreement
    splits = np.bincount(key, minlength=n_lab * n_lab).reshape(n_lab, n_lab).astype(np.float64)
    on_units = np.bincount(distinct(key * max(n_units, 1) + type_unit) // max(n_units, 1),
                           minlength=n_lab * n_lab).reshape(n_lab, n_lab).astype(np.float64)

    def per_unit(a: int, b: int) -> np.ndarray:
        return np.bincount(type_unit[key == min(a, b) * n_lab + max(a, b)], minlength=n_units)

    return splits + splits.T, on_units + on_units.T, per_unit


def _agent_codes(task: Task, categories: tuple[str, ...]) -> np.ndarray:
    """(D,) position in ``task.label_ids`` of each distinct attribution value's agent (−1: no label; see the
    module docstring for a ``null`` agent). Each distinct value is parsed once; the judgments only index."""
    col = {label: j for j, label in enumerate(task.label_ids)}

    def code(agent: object) -> int:
        agent = NO_AGENT if agent is None else agent
        return col.get(agent, -1) if isinstance(agent, str) else -1

    return np.array([code(json.loads(text).get("agent")) for text in categories],  # distinct values: agents × steps
                    dtype=np.int64)


def judgment_labels(task: Task, codes: Codes) -> np.ndarray:
    """(N,) position in ``task.label_ids`` of each judgment's one label, −1 for none: pairwise and rating are
    coded by their answers (looked up by name, not assumed equal), an attribution by its agent."""
    if task.kind == "attribution":
        per_category = _agent_codes(task, codes.categories)
    else:
        per_category = pd.Index(list(task.label_ids), dtype=object).get_indexer(list(codes.categories))
    lookup = np.append(np.asarray(per_category, dtype=np.int64), -1)  # a category code −1 (no category) → −1
    out: np.ndarray = lookup[codes.category]
    return out


def _one_label_splits(codes: Codes, label: np.ndarray, n_lab: int, gold: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, SplitWeight]:
    """Σ_u n_ua · n_ub as the Gram matrix of the unit × label count table, units with both labels likewise;
    gold units and judgments without a label count nothing. The table is dense when it is at most a few times
    the judgments (pairwise, a short scale), else sparse (a 1001-point scale times millions of units)."""
    n_units = codes.n_units
    keep = (label >= 0) & ~gold[codes.unit]
    if counting_fits(n_units * n_lab, len(label)):
        return _choice_splits(codes, count_cells(codes.unit, label, (n_units, n_lab), keep))
    table = sp.csr_matrix((np.ones(int(keep.sum())), (codes.unit[keep], label[keep])), shape=(n_units, n_lab))
    table.sum_duplicates()  # one cell per (unit, label): its count
    present = table.copy()
    present.data[:] = 1.0
    columns = table.tocsc()

    def per_unit(a: int, b: int) -> np.ndarray:
        return np.asarray(columns[:, a].toarray().ravel() * columns[:, b].toarray().ravel())

    return np.asarray((table.T @ table).toarray()), np.asarray((present.T @ present).toarray()), per_unit


def _apart(splits: np.ndarray, both: np.ndarray, weight: SplitWeight) -> tuple[np.ndarray, np.ndarray, SplitWeight]:
    """A scale's splits between points at least two apart: neighbouring points are a difference of degree,
    which every ordered scale has and the weighted coefficients already discount, not a missing rule."""
    idx = np.arange(splits.shape[0])
    near = np.abs(idx[:, None] - idx[None, :]) <= 1
    return np.where(near, 0, splits), np.where(near, 0, both), weight


def top_units(weight: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` units of largest positive weight, ties by unit code (the unit keys' sorted order).

    Equal to ``np.argsort(-weight, kind="stable")`` cut to the positive weights and to ``k``, without sorting
    millions of units: a partition finds the k-th weight, and only the units at or above it are sorted."""
    pos = np.flatnonzero(weight > 0)
    if pos.size > k:
        w = weight[pos]
        kth = np.partition(w, w.size - k)[w.size - k]
        above, at = pos[w > kth], pos[w == kth]
        pos = np.r_[above, at[: k - above.size]]
    return pos[np.lexsort((pos, -weight[pos]))][:k]


def _unit_names(codes: Codes, units: np.ndarray) -> list[str]:
    items, steps = codes.units_at(units)
    return [f"{it}/{st}" if st else str(it) for it, st in zip(items, steps, strict=True)]


def _pairs(task: Task, codes: Codes, splits: np.ndarray, both: np.ndarray, weight: SplitWeight, *,
           max_pairs: int, max_examples: int) -> list[dict[str, Any]]:
    labels = task.label_ids
    i, j = np.triu_indices(len(labels), 1)
    keep = splits[i, j] > 0
    i, j = i[keep], j[keep]
    order = np.lexsort((j, i, -splits[i, j]))[:max_pairs]
    total = float(np.triu(splits, 1).sum())
    out = []
    for a, b in zip(i[order].tolist(), j[order].tolist(), strict=True):  # the reported pairs only
        examples = _unit_names(codes, top_units(weight(a, b), max_examples))
        cov = coverage(task, labels[a], labels[b])
        out.append({"task": task.name, "labels": [labels[a], labels[b]], "splits": int(splits[a, b]),
                    "units": int(both[a, b]), "share": float(splits[a, b]) / total, "covered_by": cov,
                    "gap": not cov, "examples": examples})
    return out


def _subtrees(task: Task, codes: Codes, gold: np.ndarray, max_examples: int) -> list[dict[str, Any]]:
    """Each label with children of a single_choice taxonomy, most split first (see the module docstring)."""
    labels, parent = task.label_ids, np.array(task.parent_codes, dtype=np.int64)
    keep = ~gold[codes.unit]
    unit, label = codes.unit[keep], codes.category[keep]
    out = []
    for h in subtree_hotspots(unit, label, parent):  # one per label with children
        top = None
        if h.top_pair is not None:
            a, b = h.top_pair
            under = ancestors_at(parent, h.depth + 1)[label]  # each judgment's label at the children's depth
            n_units = codes.n_units
            weight = (np.bincount(unit[under == a], minlength=n_units)
                      * np.bincount(unit[under == b], minlength=n_units))
            ex = top_units(weight, max_examples)
            cov = coverage(task, labels[a], labels[b])
            top = {"labels": [labels[a], labels[b]], "splits": h.top_pair_count, "covered_by": cov, "gap": not cov,
                   "examples": _unit_names(codes, ex)}
        out.append({"task": task.name, "parent": labels[h.parent], "depth": h.depth, "pairs": h.n_pairs,
                    "splits": h.n_confused, "share": h.rate, "top_split": top})
    return out


def top_disputed(h: np.ndarray, n: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` units of highest entropy ``h`` (above 1e-12), more judgments ``n`` first, then unit code.

    Equal to ``np.lexsort((-n, -h))`` cut to positive entropy and to ``k``, without sorting millions of units:
    a partition finds the k-th entropy, and only the units at or above it are ordered."""
    pos = np.flatnonzero(h > 1e-12)
    if pos.size > k > 0:
        kth = np.partition(h[pos], pos.size - k)[pos.size - k]
        pos = pos[h[pos] >= kth]
    return pos[np.lexsort((pos, -n[pos], -h[pos]))][:k]


def _rows_of(codes: Codes, units: np.ndarray) -> np.ndarray:
    """The judgments of a few ``units``, ascending: from the rows grouped by unit when they are (the analysis's
    and the consensus's grouping; no pass over 10M rows for 20 units), else by a mask over every row."""
    if codes.grouped_already:
        order, offsets = codes.by_unit
        pieces = [order[offsets[u]:offsets[u + 1]] for u in units.tolist()]
        return np.sort(np.concatenate(pieces)) if pieces else np.zeros(0, dtype=np.intp)
    wanted = np.zeros(codes.n_units, dtype=bool)
    wanted[units] = True
    return np.flatnonzero(wanted[codes.unit])


def _task_items(task: Task, codes: Codes, max_items: int, table: np.ndarray | None, gold: np.ndarray
                ) -> pd.DataFrame:
    h, n = entropy(codes, table)
    h = np.round(h, 9)  # equal count patterns in another category order must rank equal, not by rounding noise
    h[gold] = 0.0  # gold units are not disputed work: their answer is known (and everyone may have judged them)
    top = top_disputed(h, n, max_items)
    rows = _rows_of(codes, top)
    counts = pd.DataFrame({"u": codes.unit[rows],
                           "v": np.asarray(codes.categories, dtype=object)[codes.category[rows]]})
    counts = counts.groupby(["u", "v"]).size()
    values = [{str(v): int(c) for v, c in counts.loc[u].items()} for u in top.tolist()]
    items, steps = codes.units_at(top)
    return pd.DataFrame({"task": task.name, "item": items, "unit": steps,
                         "entropy": np.round(h[top], 6), "n_judgments": n[top], "values": values})


def find_hotspots(spec: Spec, acc: Accounting, ctx: Context, *, analyses: Mapping[str, TaskAnalysis] | None = None,
                  max_items: int = 20, max_pairs: int = 10, max_examples: int = 3,
                  parses: TaskParses | None = None) -> Hotspots:
    """Disputed units across tasks (top ``max_items``) and confused label pairs per task, linked or flagged.

    ``analyses`` (the runner's, optional) lends its integer codes to label-coded tasks, ``parses`` its parsed
    spans and ranking tasks.
    """
    item_frames: list[pd.DataFrame] = []
    pairs: list[dict[str, Any]] = []
    subtrees: list[dict[str, Any]] = []
    for task in spec.tasks:  # a loop over tasks
        if task.kind == "text":
            continue
        frame = task_rows(acc.used, task.name, ["item", "unit", "annotator", "value"])
        lengths = ctx.field_lengths(task.field)
        lent = (analyses or {}).get(task.name)
        parsed = task_codes(task, frame, lengths, parses, lent.codes if lent is not None else None)
        frame, codes = parsed.frame, parsed.codes
        # single_choice: one unit × category table serves the entropies and the label pairs
        table = codes.unit_table if task.kind == "single_choice" and dense_units(codes) else None
        # gold items are left out as agreement leaves them out (spans, ranking, attribution: every unit of one)
        gold = units_on_items(codes, ctx.gold.loc[ctx.gold["task"].isin(["", task.name]), "item"])
        item_frames.append(_task_items(task, codes, max_items, table, gold))
        if task.kind == "single_choice" and task.is_taxonomy:  # categories are the labels the tree nests
            subtrees += _subtrees(task, codes, gold, max_examples)
        if task.kind not in PAIR_KINDS or len(task.label_ids) < 2 or frame.empty:
            continue
        if task.kind == "single_choice":
            tables = _choice_splits(codes, table, gold)
        elif task.kind == "multi_choice":
            tables = _multi_splits(task, codes, gold)
        elif task.kind in ONE_LABEL_KINDS:
            tables = _one_label_splits(codes, judgment_labels(task, codes), len(task.label_ids), gold)
            if task.kind == "rating" and task.level != "nominal":  # nominal: neighbours disagree like any two
                tables = _apart(*tables)
        else:
            tables = _span_splits(task, parsed, gold)
        pairs += _pairs(task, codes, *tables, max_pairs=max_pairs, max_examples=max_examples)
    items = pd.concat(item_frames, ignore_index=True) if item_frames else pd.DataFrame(
        columns=["task", "item", "unit", "entropy", "n_judgments", "values"])
    items = items.sort_values(["entropy", "n_judgments", "task", "item", "unit"],
                              ascending=[False, False, True, True, True], kind="stable").head(max_items)
    return Hotspots(items=items.reset_index(drop=True), pairs=pd.DataFrame(pairs, columns=[
        "task", "labels", "splits", "units", "share", "covered_by", "gap", "examples"]), subtrees=tuple(subtrees))

