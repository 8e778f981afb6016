"""The fast span paths equal the simple ones they replaced.

* ``span_table`` (byte-level parsing, Arrow serialisation, bulk canonical form) against ``json.loads`` /
  ``json.dumps`` and ``decide_kinds.canonical``, on canonical and deliberately awkward texts.
* The round-based greedy matching against a loop over candidate pairs in the documented priority order.
* Consensus clusters and type findings against the previous ``np.unique(axis=0)`` implementations (kept here).
* The one-pass item-block interval for span F1 against the per-block recomputation it replaced.
* The bulk record checks (``span_records``) against ``spec.records.value_problems`` and ``json.loads``.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from labelspec import api
from labelspec.check import structured_metrics
from labelspec.check.decide_kinds import canonical
from labelspec.check.decide_structured import span_set_of
from labelspec.check.span_match import span_matches
from labelspec.check.span_records import span_max_ends, span_value_checks, span_value_problems
from labelspec.check.span_table import (
    CategoryParse,
    canonical_spans,
    parse_canonical,
    parse_spans,
    row_spans,
    spans_text,
)
from labelspec.check.span_validate import crossing_flags, overlap_flags
from labelspec.check.spans import SpanSet, span_consensus, span_f1, span_findings, span_set
from labelspec.check.structured_metrics import (
    N_BLOCKS,
    _draws,
    percentile,
    span_intervals,
    span_work,
    task_input,
)
from labelspec.check.tables import item_block
from labelspec.check.taxonomy import runs
from labelspec.spec.model import BootstrapPolicy, Label, Task
from labelspec.spec.records import value_problems

ROOT = Path(__file__).resolve().parent.parent
LABELS = ("per", "org", 'q"uote', "x],[1,2,\"y", "ünï", "[3", "back\\slash")
label_st = st.sampled_from([*LABELS, "unknown"])
span_st = st.tuples(st.integers(0, 10**12), st.integers(0, 10**12), label_st)
text_st = st.lists(span_st, max_size=5)


def _reference(texts: list[str]) -> list[list[tuple[int, int, int]]]:
    code = {lab: k for k, lab in enumerate(LABELS)}
    return [[(int(s[0]), int(s[1]), code.get(s[2], -1)) for s in json.loads(t)] for t in texts]


def _flat(parsed_count: np.ndarray, s: np.ndarray, e: np.ndarray, lab: np.ndarray) -> list[list[tuple[int, ...]]]:
    first = np.cumsum(parsed_count) - parsed_count
    return [list(zip(s[f:f + n].tolist(), e[f:f + n].tolist(), lab[f:f + n].tolist(), strict=True))
            for f, n in zip(first.tolist(), parsed_count.tolist(), strict=True)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(text_st, st.sampled_from(["compact", "spaced", "ascii", "raw"])), max_size=8))
def test_parse_spans_equals_json_loads(values: list[tuple[list[tuple[int, int, str]], str]]) -> None:
    texts = []
    for spans, style in values:
        data = [list(s) for s in spans]
        if style == "compact":
            texts.append(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        elif style == "spaced":
            texts.append(json.dumps(data))
        elif style == "ascii":
            texts.append(json.dumps(data, separators=(",", ":")))
        else:  # a leading zero or a sign is not canonical: the slow path must still read it like json.loads
            texts.append(json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("[1", "[-1"))
    got = parse_spans(texts, LABELS)
    assert _flat(got.count, got.start, got.end, got.label) == [[tuple(x) for x in r] for r in _reference(texts)]


def test_parse_spans_edge_texts() -> None:
    texts = ["[]", "[ ]", '[[0,5,"per"]]', '[[0,5,"per"],[5,9,"org"]]', '[[5,9,"org"],[0,5,"per"]]',
             '[[1,2,"x],[1,2,\\"y"],[4,5,"per"]]', '[[1,2,"[3"]]', '[[7,8,"nope"]]', '[[1,2,"per"]] ']
    got = parse_spans(texts, LABELS)
    assert _flat(got.count, got.start, got.end, got.label) == [[tuple(x) for x in r] for r in _reference(texts)]
    for bad in ('[[01,5,"per"]]', '[[1,2,"per"]][]', "{}", '[[1,2]]'):
        with pytest.raises(ValueError):
            parse_spans([bad], LABELS)
    row, s, e, lab = row_spans(np.array([3, 0, 3]), got)
    assert (row.tolist(), s.tolist(), e.tolist(), lab.tolist()) == ([0, 0, 2, 2], [0, 5, 0, 5], [5, 9, 5, 9],
                                                                    [0, 1, 0, 1])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 6)),
                         max_size=4), max_size=6))
def test_spans_text_equals_json_dumps(groups: list[list[tuple[int, int, int]]]) -> None:
    flat = [s for g in groups for s in g]
    s, e, lab = (np.array([x[i] for x in flat], dtype=np.int64) for i in range(3))
    got = spans_text([len(g) for g in groups], s, e, lab, LABELS)
    expected = [json.dumps([[a, b, LABELS[k]] for a, b, k in g], ensure_ascii=False, separators=(",", ":"))
                for g in groups]
    assert got.tolist() == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30),
                                             st.sampled_from([*LABELS, "zz"])), max_size=4),
                          st.booleans()), max_size=8))
def test_canonical_spans_equals_canonical(values: list[tuple[list[tuple[int, int, str]], bool]]) -> None:
    texts = pd.Series([json.dumps([list(s) for s in spans], ensure_ascii=False, separators=(",", ":") if c else None)
                       for spans, c in values], dtype=object, index=np.arange(len(values)) * 3)

    class _Task:
        kind, label_ids = "spans", LABELS

    expected = canonical(_Task(), texts)  # type: ignore[arg-type]
    got = canonical_spans(texts, LABELS)
    assert got.index.equals(expected.index) and got.tolist() == expected.tolist()


Span = tuple[int, int, int, int, int]
spans_st = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 3), st.integers(0, 14), st.integers(1, 7),
                              st.integers(0, 1)), min_size=1, max_size=24).map(
    lambda rows: [(u, a, s, min(s + n, 16), lab) for u, a, s, n, lab in rows])


def _make(spans: list[Span]) -> SpanSet:
    cols = [np.array(c, dtype=np.int64) for c in zip(*spans, strict=True)]
    return span_set(*cols, text_len=[16, 16], n_labels=2)


def _loop_matching(sp: SpanSet, exact: bool) -> set[tuple[int, int]]:
    """Greedy matching as documented: candidates in priority order, a span matched once per partner."""
    cands = []
    for i, j in itertools.combinations(range(sp.unit.size), 2):
        if sp.unit[i] != sp.unit[j] or sp.annotator[i] == sp.annotator[j] or sp.label[i] != sp.label[j]:
            continue
        ov = min(sp.end[i], sp.end[j]) - max(sp.start[i], sp.start[j])
        if ov > 0 and (not exact or (sp.start[i], sp.end[i]) == (sp.start[j], sp.end[j])):
            cands.append((-ov, min(sp.start[i], sp.start[j]), max(sp.start[i], sp.start[j]),
                          min(sp.end[i], sp.end[j]), -max(sp.end[i], sp.end[j]), i, j))
    used: set[tuple[int, int]] = set()
    out = set()
    for *_, i, j in sorted(cands):
        if (i, sp.annotator[j]) not in used and (j, sp.annotator[i]) not in used:
            used |= {(i, sp.annotator[j]), (j, sp.annotator[i])}
            out.add((i, j))
    return out


@settings(max_examples=150, deadline=None)
@given(spans_st, st.booleans())
def test_round_matching_equals_loop_greedy(spans: list[Span], exact: bool) -> None:
    sp = _make(spans)
    m = span_matches(sp, "exact" if exact else "overlap")
    got = {(min(p, q), max(p, q)) for p, q in zip(m.p.tolist(), m.q.tolist(), strict=True)}
    assert got == _loop_matching(sp, exact)


def _old_consensus(sp: SpanSet, min_support: float, allow_nesting: bool) -> tuple[np.ndarray, ...]:
    """The previous implementation (np.unique over stacked rows), kept as the reference."""
    judges = np.bincount(sp.judged_unit, minlength=sp.text_len.size)
    marks = np.unique(np.stack([sp.unit, sp.label, sp.start, sp.end, sp.annotator], axis=1), axis=0)
    ext, ext_of, n_ext = np.unique(marks[:, :4], axis=0, return_inverse=True, return_counts=True)
    width = int(sp.text_len.max(initial=0)) + 1
    grp = ext[:, 0] * max(sp.n_labels, 1) + ext[:, 1]
    run_max = np.maximum.accumulate(grp * width + ext[:, 3])
    new = np.ones(grp.size, dtype=bool)
    new[1:] = (grp[1:] != grp[:-1]) | (grp[1:] * width + ext[1:, 2] >= run_max[:-1])
    cluster = np.cumsum(new) - 1
    voters = np.unique(np.stack([cluster[ext_of.reshape(-1)], marks[:, 4]], axis=1), axis=0)[:, 0]
    support = np.bincount(voters, minlength=int(cluster.max(initial=-1)) + 1)
    best = np.lexsort((ext[:, 3], ext[:, 2], -n_ext, cluster))
    head, _ = runs(cluster[best])
    rep = best[head]
    rep = rep[support >= min_support * judges[ext[rep, 0]] - 1e-9]
    rep = rep[np.lexsort((ext[rep, 1], ext[rep, 3], ext[rep, 2], ext[rep, 0]))]
    u, lab, s, e = ext[rep, 0], ext[rep, 1], ext[rep, 2], ext[rep, 3]
    if allow_nesting:
        same = np.r_[(u[1:] == u[:-1]) & (s[1:] == s[:-1]) & (e[1:] == e[:-1]), False]
        conflict = crossing_flags(u, s, e) | same | np.r_[False, same[:-1]]
    else:
        conflict = overlap_flags(u, s, e)
    n_u = judges[u].astype(np.float64)
    return (u, s, e, lab, support[cluster[rep]] / n_u, n_ext[rep] / n_u,
            n_ext[rep] >= min_support * judges[u] - 1e-9, conflict)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(spans_st, st.sampled_from([0.0, 0.5, 2 / 3, 0.67, 1.0]), st.booleans())
def test_consensus_equals_previous_implementation(spans: list[Span], share: float, nesting: bool) -> None:
    """Equal wherever the previous implementation was right: it merged a span nested in another of the same
    label by the same annotator into one cluster (see the nested test in test_spans.py)."""
    by_hand: dict[tuple[int, int, int], list[tuple[int, int]]] = {(u, a, lab): [] for u, a, _, _, lab in spans}
    for u, a, s, e, lab in spans:
        by_hand[(u, a, lab)].append((s, e))
    assume(not nesting or not any(s1 < e2 and s2 < e1 for marks in by_hand.values()
                                  for (s1, e1), (s2, e2) in itertools.combinations(set(marks), 2)))
    sp = _make(spans)
    got = span_consensus(sp, min_support=share, allow_nesting=nesting)
    fields = (got.unit, got.start, got.end, got.label, got.support, got.exact_support, got.exact, got.conflict)
    for new, old in zip(fields, _old_consensus(sp, share, nesting), strict=True):
        assert new.tolist() == old.tolist()


@settings(max_examples=100, deadline=None)
@given(spans_st)
def test_type_findings_equal_a_loop(spans: list[Span]) -> None:
    sp = _make(spans)
    found = span_findings(sp)
    pairs: dict[tuple[int, int], int] = {}
    for i, j in itertools.combinations(range(sp.unit.size), 2):
        same = (sp.unit[i], sp.start[i], sp.end[i]) == (sp.unit[j], sp.start[j], sp.end[j])
        if same and sp.annotator[i] != sp.annotator[j] and sp.label[i] != sp.label[j]:
            key = (int(min(sp.label[i], sp.label[j])), int(max(sp.label[i], sp.label[j])))
            pairs[key] = pairs.get(key, 0) + 1
    assert found.type_count == sum(pairs.values())
    assert dict(zip(map(tuple, found.type_pairs.tolist()), found.type_pair_counts.tolist(), strict=True)) == pairs


def test_one_pass_block_interval_equals_per_block_recomputation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the item bootstrap's limit (hashed item blocks), one matching summed per block is the per-block
    span F1 of the previous algorithm."""
    monkeypatch.setattr(structured_metrics, "ITEM_BOOTSTRAP_ROWS", 0)
    spec = api.load_spec(ROOT / "specs" / "clinical-ner")
    ctx = api.project_context(spec)
    from labelspec.check.runner import read_and_account

    files = sorted((ROOT / "specs" / "clinical-ner" / "labels").iterdir())
    acc = read_and_account(spec, ctx, files, [f.name for f in files])
    task = spec.task("entities")
    assert task is not None
    frame = acc.used[acc.used["task"] == "entities"]
    frame = frame.assign(value=canonical(task, frame["value"]))
    lengths = ctx.items.text_lengths("note") if ctx.items else {}
    boot = BootstrapPolicy(replicates=200, seed=3)
    whole = span_set_of(task_input(task, frame, lengths))
    point = {f"span_f1_{m}": span_f1(whole, mode=m).mean for m in ("exact", "overlap")}  # type: ignore[arg-type]
    got = span_intervals(span_work(task, frame, lengths), point, boot)
    # the previous algorithm: one span set and F1 per item block, sums keyed by annotator names
    block = item_block(frame["item"].to_numpy(dtype=object), N_BLOCKS)
    for mode in ("exact", "overlap"):
        rows = []
        for b in np.unique(block):
            inp = task_input(task, frame[block == b], lengths)
            f1 = span_f1(span_set_of(inp), mode=mode)  # type: ignore[arg-type]
            names = inp.codes.annotators
            rows += [(b, f"{x}\x1f{y}", t, d) for x, y, t, d in zip(names[f1.pair_a], names[f1.pair_b], f1.pair_tp,
                                                                     f1.pair_spans, strict=True)]
        pair = pd.factorize(np.array([r[1] for r in rows], dtype=object))[0]
        table = np.zeros((N_BLOCKS, int(pair.max()) + 1, 2))
        np.add.at(table, ([r[0] for r in rows], pair, 0), [r[2] for r in rows])
        np.add.at(table, ([r[0] for r in rows], pair, 1), [r[3] for r in rows])
        tp, den = table[:, :, 0].sum(axis=0), table[:, :, 1].sum(axis=0)
        per_block = ((2 * table[:, :, 0] - 2 * tp / den * table[:, :, 1]) / den).sum(axis=1) / den.size
        est = point[f"span_f1_{mode}"]
        assert est.value is not None
        old = percentile(est, est.value + (_draws(boot, N_BLOCKS) - 1.0) @ per_block, boot)
        new = got[f"span_f1_{mode}"]
        assert new.value == old.value
        assert new.ci_low == pytest.approx(old.ci_low, abs=1e-12) and new.ci_high == pytest.approx(old.ci_high,
                                                                                                  abs=1e-12)


record_texts = st.lists(st.tuples(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12),
                                                     st.sampled_from(["per", "org", "zz"])), max_size=4),
                                  st.booleans()), min_size=1, max_size=10)


@settings(max_examples=120, deadline=None)
@given(record_texts, st.booleans())
def test_span_record_checks_equal_value_problems(values: list[tuple[list[tuple[int, int, str]], bool]],
                                                 nesting: bool) -> None:
    task = Task(name="e", kind="spans", question="?", allow_nesting=nesting,
                labels=(Label(id="per", title="P", definition="p"), Label(id="org", title="O", definition="o")))
    texts = [json.dumps([list(s) for s in spans], separators=(",", ":") if compact else None)
             for spans, compact in values] + ["not json", '{"a": 1}', "[[1.5,2,\"per\"]]"]
    got = span_value_problems(task, texts)
    assert got.tolist() == ["; ".join(value_problems(task, t)) for t in texts]
    ok = [t for t in texts if not value_problems(task, t)]
    ends = span_max_ends(ok, task.label_ids)
    assert ends.tolist() == [max((s[1] for s in json.loads(t)), default=0) for t in ok]
    for given_texts in (texts, pa.array(texts, pa.large_string())):  # Python strings, or Arrow as records passes
        problems, reach, canonical = span_value_checks(task, given_texts)  # one parse for both: the same answers
        assert problems.tolist() == got.tolist()
        want, want_ok = parse_canonical(given_texts, task.label_ids)  # and that parse, handed on to the task's
        assert canonical[1].tolist() == want_ok.tolist()
        for name in ("count", "start", "end", "label"):
            assert getattr(canonical[0], name).tolist() == getattr(want, name).tolist()
        assert reach.tolist() == [0 if p else max((s[1] for s in json.loads(t)), default=0)
                                  for t, p in zip(texts, got.tolist(), strict=True)]


@settings(max_examples=80, deadline=None)
@given(record_texts, st.data())
def test_category_parse_of_some_categories_equals_parsing_them(
        values: list[tuple[list[tuple[int, int, str]], bool]], data: st.DataObject) -> None:
    """The accounting's parse of the categories it checked, restricted to those the used rows hold, is what
    parsing those alone gives; categories of another column, or one it did not parse, get None (parse anew)."""
    # mostly canonical texts (the fast parse reads their spans), a spaced one and one that is no JSON
    texts = sorted({json.dumps([list(s) for s in spans], separators=(",", ":") if compact or i % 3 else None)
                    for i, (spans, compact) in enumerate(values)} | {"not json", '[[0,1,"per"]]', '[[2,5,"org"]]'})
    categories = pd.Index(texts, dtype=object)
    labels = ("per", "org")
    checked = np.array(sorted(data.draw(st.sets(st.integers(0, len(texts) - 1), min_size=1))), dtype=np.int64)
    known = CategoryParse(categories, checked, *parse_canonical(pa.array([texts[i] for i in checked]), labels))
    present = np.array(sorted(data.draw(st.sets(st.sampled_from(checked.tolist())))), dtype=np.int64)
    got = known.of(categories, present)
    assert got is not None
    want, want_ok = parse_canonical(pa.array([texts[i] for i in present], pa.large_string()), labels)
    assert got[1].tolist() == want_ok.tolist()
    for name in ("count", "start", "end", "label"):
        assert getattr(got[0], name).tolist() == getattr(want, name).tolist()
    assert known.of(pd.Index(texts, dtype=object), present) is None  # equal texts, but not the same column's
    missing = sorted(set(range(len(texts))) - set(checked.tolist()))
    if missing:
        assert known.of(categories, np.array(sorted({missing[0], *present.tolist()}), dtype=np.int64)) is None
