"""Intervals of the structured kinds against the item bootstrap done the slow, obvious way: draw items with
replacement, give every copy of an item its own name, and recompute the coefficient on those rows.

Up to ``ITEM_BOOTSTRAP_ROWS`` judgments each item is a block: character and preference α, τ-b and Kendall's W
are re-evaluated from per-item sums, the same values as that recomputation, replicate by replicate; span F1 is
linearised (its value and slope at the observed items those of the re-evaluation). Above it, hashed item blocks
are close to it. First-error and attribution agreement are drawn from their count rows, which is the item
bootstrap in another parametrisation: the same distribution."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec import api
from labelspec.check import structured, structured_metrics
from labelspec.check.decide_kinds import canonical
from labelspec.check.estimate import Estimate
from labelspec.check.structured_metrics import (
    Blocks,
    draws,
    rank_work,
    ranking_intervals,
    ranking_point,
    ranking_replicates,
    span_intervals,
    span_point,
    span_replicates,
    span_work,
)
from labelspec.spec.model import BootstrapPolicy, Task

ROOT = Path(__file__).resolve().parent.parent
BOOT = BootstrapPolicy(replicates=1000, seed=5)
COPY = "\x1e"  # joins an item's id and its copy number in a recomputed replicate


def _scored(project: str, task_name: str):  # type: ignore[no-untyped-def]
    spec = api.load_spec(ROOT / "specs" / project)
    ctx = api.project_context(spec)
    from labelspec.check.runner import read_and_account

    files = sorted((ROOT / "specs" / project / "labels").iterdir())
    acc = read_and_account(spec, ctx, files, [f.name for f in files])
    task = spec.task(task_name)
    assert task is not None
    frame = acc.used[acc.used["task"] == task_name]
    return spec, ctx, task, frame.assign(value=canonical(task, frame["value"]))


def span_metrics(task: Task, lengths: dict[str, int]) -> Callable[[pd.DataFrame], dict[str, Estimate]]:
    """Span F1 and character α of some rows, computed from scratch."""
    return lambda frame: span_point(span_work(task, frame, lengths))


def ranking_metrics(task: Task) -> Callable[[pd.DataFrame], dict[str, Estimate]]:
    """Kendall's W, τ-b and the preference α of some rows, computed from scratch."""
    return lambda frame: ranking_point(rank_work(task, frame))


def _items(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["item"].astype(str).unique())


def _copies(frame: pd.DataFrame, weights: np.ndarray) -> tuple[pd.DataFrame, dict[str, str]]:
    """The rows of one replicate: item i (in id order) ``weights[i]`` times, each copy a distinct item; and each
    copy's item, so that a copy keeps its item's text length or steps list."""
    names = np.array(_items(frame), dtype=object)
    code = pd.Index(names).get_indexer(frame["item"].astype(str))
    order, size = np.argsort(code, kind="stable"), np.bincount(code, minlength=names.size)
    start = np.cumsum(size) - size
    counts = np.asarray(weights, dtype=np.int64)
    copy_item = np.repeat(np.arange(names.size), counts)  # one entry per copy
    copy_no = np.arange(copy_item.size) - np.repeat(np.cumsum(counts) - counts, counts)
    copy_name = np.array([f"{names[i]}{COPY}{c}" for i, c in zip(copy_item, copy_no, strict=True)], dtype=object)
    n_rows = size[copy_item]
    first = np.repeat(np.cumsum(n_rows) - n_rows, n_rows)
    rows = order[np.repeat(start[copy_item], n_rows) + np.arange(n_rows.sum()) - first]
    out = frame.iloc[rows].assign(item=np.repeat(copy_name, n_rows))
    return out, dict(zip(copy_name.tolist(), names[copy_item].tolist(), strict=True))


def _with_copies(per_item: dict[str, int], source: dict[str, str]) -> dict[str, int]:
    return {**per_item, **{c: per_item[s] for c, s in source.items() if s in per_item}}


def _value(est: Estimate) -> float:
    return np.nan if est.value is None else float(est.value)


def _assert_replicates_equal(fns: dict[str, Callable[[np.ndarray], np.ndarray]], weights: np.ndarray,
                             recompute: Callable[[np.ndarray], dict[str, Estimate]], names: set[str]) -> None:
    assert set(fns) == names
    fast = {name: fn(weights) for name, fn in fns.items()}
    for r, row in enumerate(weights):
        slow = recompute(row)
        for name in names:
            assert fast[name][r] == pytest.approx(_value(slow[name]), abs=1e-12, nan_ok=True), (name, r)


def test_item_draws_are_the_item_bootstrap() -> None:
    """Each replicate picks as many items as there are, with replacement: whole counts summing to n, each item
    picked once on average with a binomial spread; drawn a chunk at a time, and the same seed draws the same."""
    blocks = Blocks(np.arange(300) % 150, 150, True)
    chunks = list(draws(BOOT, blocks))
    assert len(chunks) > 1  # chunks of _DRAW_CELLS // 150 replicates
    weights = np.concatenate(chunks)
    assert weights.shape == (1000, 150)
    assert np.all(weights == np.round(weights)) and np.all(weights.sum(axis=1) == 150)
    assert weights.mean() == pytest.approx(1.0)
    assert weights.std() == pytest.approx(np.sqrt(1 - 1 / 150), rel=0.02)  # binomial(n, 1/n)
    assert np.array_equal(np.concatenate(list(draws(BOOT, blocks))), weights)


def _span_f1_reevaluated(task: Task, frame: pd.DataFrame, lengths: dict[str, int], mode: str
                         ) -> Callable[[np.ndarray], float]:
    """The mean pair F1 re-evaluated for any item weights, from each item's own pair sums (its own span set and
    matching, pairs named by their annotators): Σ_i w_i TP_pi and Σ_i w_i D_pi per pair, pairs with spans."""
    from labelspec.check.decide_structured import span_set_of
    from labelspec.check.spans import span_f1
    from labelspec.check.structured_metrics import task_input

    items = frame["item"].astype(str)
    rows = []
    for i, name in enumerate(_items(frame)):
        inp = task_input(task, frame[items == name], lengths)
        f1 = span_f1(span_set_of(inp), mode=mode)  # type: ignore[arg-type]
        who = inp.codes.annotators
        rows += [(i, f"{who[a]}\x1f{who[b]}", t, d) for a, b, t, d in zip(f1.pair_a, f1.pair_b, f1.pair_tp,
                                                                          f1.pair_spans, strict=True)]
    item = np.array([r[0] for r in rows])
    pair = pd.factorize(np.array([r[1] for r in rows], dtype=object))[0]
    tp, den = np.array([r[2] for r in rows], dtype=float), np.array([r[3] for r in rows], dtype=float)

    def f1_of(weights: np.ndarray) -> float:
        p_tp = np.bincount(pair, weights=weights[item] * tp)
        p_den = np.bincount(pair, weights=weights[item] * den)
        has = p_den > 0
        return float(np.mean(2 * p_tp[has] / p_den[has])) if has.any() else np.nan
    return f1_of


def test_span_replicates_equal_recomputation_on_the_drawn_items() -> None:
    """Character α exactly; span F1 as the first-order expansion of its re-evaluation (which itself equals the
    recomputation on the drawn items): the same estimate at weights 1, the same slope in any direction."""
    _, ctx, task, frame = _scored("clinical-ner", "entities")
    lengths = ctx.items.text_lengths("note") if ctx.items else {}
    work = span_work(task, frame, lengths)
    point = span_point(work)
    blocks, fns = span_replicates(work, point)
    assert blocks.items and blocks.n == len(_items(frame))
    weights = next(draws(BOOT, blocks))[:25]

    def recompute(row: np.ndarray) -> dict[str, Estimate]:
        rows, source = _copies(frame, row)
        return span_metrics(task, _with_copies(lengths, source))(rows)
    _assert_replicates_equal({"span_alpha": fns["span_alpha"]}, weights, recompute, {"span_alpha"})
    rng = np.random.default_rng(2)
    for mode in ("exact", "overlap"):
        exact, linear = _span_f1_reevaluated(task, frame, lengths, mode), fns[f"span_f1_{mode}"]
        for row in weights[:3]:  # the reference re-evaluation is the recomputation
            assert exact(row) == pytest.approx(_value(recompute(row)[f"span_f1_{mode}"]), abs=1e-12)
        ones = np.ones(blocks.n)
        assert linear(ones[None])[0] == pytest.approx(point[f"span_f1_{mode}"].value, abs=1e-12)
        for _ in range(3):
            d, t = rng.normal(size=blocks.n), 1e-6
            slope = (exact(ones + t * d) - exact(ones - t * d)) / (2 * t)
            assert linear((ones + d)[None])[0] - linear(ones[None])[0] == pytest.approx(slope, rel=1e-5, abs=1e-9)


def test_linearised_span_f1_stays_in_its_range() -> None:
    """A first-order step can leave [0, 1] on small data; F1's replicates are clipped to it, as κ's are."""
    _, ctx, task, frame = _scored("clinical-ner", "entities")
    lengths = ctx.items.text_lengths("note") if ctx.items else {}
    work = span_work(task, frame, lengths)
    _, fns = span_replicates(work, span_point(work))
    extreme = np.zeros((2, len(_items(frame))))
    extreme[0, :] = 50.0
    extreme[1, 0] = 500.0
    for name in ("span_f1_exact", "span_f1_overlap"):
        values = fns[name](extreme)
        assert np.all((values >= 0.0) & (values <= 1.0))


def _with_lone_items(frame: pd.DataFrame, n: int) -> pd.DataFrame:
    """``frame`` with its first ``n`` items (by id) judged once: units no pair agreement is defined on."""
    items = frame["item"].astype(str)
    lone = _items(frame)[:n]
    return pd.concat([frame[~items.isin(lone)], frame[items.isin(lone)].groupby(items, observed=True).head(1)])


@pytest.mark.parametrize("lone", [0, 4])
def test_ranking_replicates_equal_recomputation_on_the_drawn_items(lone: int) -> None:
    """With items ranked once, a replicate's mean W is over the drawn units that have one (not over all)."""
    _, _, task, frame = _scored("rlhf-preference", "ranking")
    frame = _with_lone_items(frame, lone)
    work = rank_work(task, frame)
    fns = ranking_replicates(work, ranking_point(work))
    assert work.blocks.items
    weights = next(draws(BOOT, work.blocks))[:25]
    _assert_replicates_equal(fns, weights, lambda row: ranking_metrics(task)(_copies(frame, row)[0]),
                             {"kendall_w", "kendall_tau", "preference_alpha"})


def _close(fast: Estimate, slow: Estimate, tol: float) -> None:
    """An interval around the same estimate, near the item bootstrap's."""
    assert fast.value == pytest.approx(slow.value, abs=1e-12)
    assert fast.ci_low is not None and fast.ci_high is not None and fast.value is not None
    assert fast.ci_low < fast.value < fast.ci_high
    assert fast.ci_low == pytest.approx(slow.ci_low, abs=tol) and fast.ci_high == pytest.approx(slow.ci_high, abs=tol)


@pytest.fixture
def hashed_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every size above the item bootstrap's limit: items hashed into blocks, as at 1M judgments."""
    monkeypatch.setattr(structured_metrics, "ITEM_BOOTSTRAP_ROWS", 0)


def _span_intervals(task, frame, lengths):  # type: ignore[no-untyped-def]
    work = span_work(task, frame, lengths)
    return work, span_intervals(work, span_point(work), BOOT)


def test_block_intervals_of_spans_are_near_the_item_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    _, ctx, task, frame = _scored("clinical-ner", "entities")
    lengths = ctx.items.text_lengths("note") if ctx.items else {}
    _, items = _span_intervals(task, frame, lengths)
    monkeypatch.setattr(structured_metrics, "ITEM_BOOTSTRAP_ROWS", 0)
    work, blocks = _span_intervals(task, frame, lengths)
    assert not span_replicates(work, span_point(work))[0].items
    # linearised F1 is symmetric, so it misses some of the small-sample skew the item bootstrap sees
    _close(blocks["span_f1_exact"], items["span_f1_exact"], 0.04)
    _close(blocks["span_f1_overlap"], items["span_f1_overlap"], 0.04)
    _close(blocks["span_alpha"], items["span_alpha"], 0.03)


def test_block_intervals_of_rankings_are_near_the_item_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, task, frame = _scored("rlhf-preference", "ranking")
    work = rank_work(task, frame)
    items = ranking_intervals(work, ranking_point(work), BOOT)
    monkeypatch.setattr(structured_metrics, "ITEM_BOOTSTRAP_ROWS", 0)
    work = rank_work(task, frame)
    assert not work.blocks.items
    blocks = ranking_intervals(work, ranking_point(work), BOOT)
    _close(blocks["kendall_w"], items["kendall_w"], 0.02)
    _close(blocks["kendall_tau"], items["kendall_tau"], 0.03)
    _close(blocks["preference_alpha"], items["preference_alpha"], 0.03)


def test_block_coincidences_add_up_to_the_character_alpha() -> None:
    """Summed over blocks, the coincidences give char_alpha's nominal α (any blocking, one block per unit too)."""
    from labelspec.check.char_alpha import block_coincidences, char_alpha
    from labelspec.check.decide_structured import span_set_of
    from labelspec.check.replicates import alpha_of_coincidences
    from labelspec.check.structured_metrics import task_input

    _, ctx, task, frame = _scored("clinical-ner", "entities")
    lengths = ctx.items.text_lengths("note") if ctx.items else {}
    sset = span_set_of(task_input(task, frame, lengths))
    want = char_alpha(sset).nominal.value
    n_units = sset.text_len.size
    for blocks in (np.zeros(n_units, dtype=np.int64), np.arange(n_units) % 7, np.arange(n_units)):
        per_block = block_coincidences(sset, blocks, int(blocks.max()) + 1)
        got = alpha_of_coincidences(per_block.sum(axis=0)[None])[0]
        assert got == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("hashed", [False, True])
def test_ranking_blocks_add_up_to_the_point_estimates(hashed: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """τ-b's per-unit sums and the preference α's per-block coincidences add up to the point estimates."""
    from labelspec.check.replicates import alpha_of_coincidences

    if hashed:
        monkeypatch.setattr(structured_metrics, "ITEM_BOOTSTRAP_ROWS", 0)
    _, _, task, frame = _scored("rlhf-preference", "ranking")
    work = rank_work(task, frame)
    point = ranking_point(work)
    r = work.agreement
    assert r.tau_sum is not None and r.tau_pairs is not None and r.pair_blocks is not None
    assert r.tau_sum.sum() / r.tau_pairs.sum() == pytest.approx(point["kendall_tau"].value, abs=1e-12)
    total = alpha_of_coincidences(r.pair_blocks.sum(axis=0)[None])[0]
    assert total == pytest.approx(point["preference_alpha"].value, abs=1e-12)
    assert np.all(r.pair_blocks >= 0)


def _recomputed_interval(frame: pd.DataFrame, compute: Callable[[pd.DataFrame, dict[str, str]], dict[str, Estimate]],
                         point: dict[str, Estimate], boot: BootstrapPolicy) -> dict[str, Estimate]:
    """The slow item bootstrap: items drawn uniformly, every replicate recomputed on its copies."""
    from labelspec.check.structured_metrics import percentile

    rng = np.random.default_rng(boot.seed)
    n = len(_items(frame))
    values: dict[str, list[float]] = {name: [] for name in point}
    for _ in range(boot.replicates):
        rows, source = _copies(frame, np.bincount(rng.integers(0, n, n), minlength=n))
        for name, est in compute(rows, source).items():
            values[name].append(_value(est))
    return {name: percentile(est, np.array(values[name]), boot) for name, est in point.items()}


def _trajectory(task_name: str):  # type: ignore[no-untyped-def]
    spec, ctx, task, frame = _scored("agent-trajectories", task_name)
    steps = ctx.items.list_lengths(spec.steps_field.name) if ctx.items else {}
    assert steps  # the example's items hold their steps: first errors are positions in those lists
    return task, frame, steps


@pytest.mark.parametrize("task_name", ["tool_call", "reasoning_step"])
def test_first_error_intervals_match_the_recomputing_bootstrap(task_name: str) -> None:
    """Exact item resampling from count rows: the same distribution as recomputing on resampled items (here
    with 1000 replicates each way); each copy keeps its item's steps list (without it a prefix judged correct
    would count as "no error")."""
    task, frame, steps = _trajectory(task_name)
    fast = structured._first_error_agreement(task, frame, steps, BOOT)
    point = structured._first_error_point(structured._first_errors(task, frame, steps))
    slow = _recomputed_interval(frame, lambda rows, source: structured._first_error_point(
        structured._first_errors(task, rows, _with_copies(steps, source))), point, BOOT)
    assert set(fast) == set(point) == {"first_error_exact", "first_error_within_one", "first_error_alpha"}
    for name in fast:
        _close(fast[name], slow[name], 0.03)


def test_attribution_intervals_match_the_recomputing_bootstrap() -> None:
    task, frame, _ = _trajectory("attribution")
    from labelspec.check.trajectory_intervals import attribution_intervals

    point = structured._attribution_point(task, frame)
    item, _, agent, step = structured._attribution_arrays(task, frame)
    fast = attribution_intervals(item, agent, step, point, BOOT)
    slow = _recomputed_interval(frame, lambda rows, _: structured._attribution_point(task, rows), point, BOOT)
    assert set(fast) == set(point)
    for name in fast:
        _close(fast[name], slow[name], 0.03)


def test_one_replicate_of_the_observed_rows_is_the_estimate() -> None:
    """A replicate that draws every count row as often as observed reproduces the point estimate exactly."""
    from labelspec.check.replicates import alpha_replicates
    from labelspec.check.taxonomy import sparse_patterns
    from labelspec.check.trajectory import pairwise_rates
    from labelspec.check.trajectory_intervals import pair_rate_replicates

    rng = np.random.default_rng(1)
    item, value = rng.integers(0, 40, 300), rng.integers(0, 6, 300)
    p = sparse_patterns(item, value, n_cols=8)
    for within in (0, 1):
        rate = pair_rate_replicates(p.rows, p.multiplicity[None, :], within=within)
        assert rate[0] == pytest.approx(pairwise_rates(item, value, within=within).value, abs=1e-12)
    alpha = alpha_replicates("interval", np.arange(8.0))(p.rows, p.multiplicity[None, :])
    from labelspec.check import stats

    want = stats.alpha_from_counts(p.rows, stats.distance_matrix("interval", values=np.arange(8)),
                                   weights=p.multiplicity)
    assert alpha[0] == pytest.approx(want.value, abs=1e-12)


@pytest.mark.parametrize("limit", [structured_metrics.ITEM_BOOTSTRAP_ROWS, 10])
@pytest.mark.parametrize(("project", "tasks"), [
    ("agent-trajectories", {"attribution": ["attribution_agent_alpha", "percent_agreement",
                                            "attribution_agent_step_alpha", "attribution_agent_step_percent"],
                            "tool_call": ["first_error_exact", "first_error_within_one", "first_error_alpha"],
                            "reasoning_step": ["first_error_exact", "first_error_within_one", "first_error_alpha"]}),
    ("clinical-ner", {"entities": ["span_f1_exact", "span_f1_overlap", "span_alpha"]}),
    ("rlhf-preference", {"ranking": ["kendall_w", "kendall_tau", "preference_alpha"]}),
])
def test_every_structured_coefficient_has_an_interval_at_any_size(project: str, tasks: dict[str, list[str]],
                                                                   limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a gate ``on: ci_low`` reads: an interval containing the estimate, not a reason to fail, with the item
    bootstrap and (a limit of 10 judgments) with hashed item blocks."""
    monkeypatch.setattr(structured_metrics, "ITEM_BOOTSTRAP_ROWS", limit)
    files = sorted((ROOT / "specs" / project / "labels").iterdir())
    report = api.check_labels(ROOT / "specs" / project, files)
    for task, metrics in tasks.items():
        for m in metrics:
            est = report.analyses[task].agreement[m]
            assert est.ci_reason is None and est.ci_low is not None and est.ci_high is not None, (task, m)
            assert est.ci_low <= est.value <= est.ci_high, (task, m)  # type: ignore[operator]


def test_intervals_ignore_the_row_order() -> None:
    """The same judgments in another row order (a Label Studio export lists them by task, a CSV by batch) draw
    the same items: items are numbered by id, not by first appearance (an audit found intervals moving)."""
    _, ctx, task, frame = _scored("clinical-ner", "entities")
    lengths = ctx.items.text_lengths("note") if ctx.items else {}
    shuffled = frame.sample(frac=1.0, random_state=3)
    assert shuffled["item"].tolist() != frame["item"].tolist()
    assert _span_intervals(task, shuffled, lengths)[1] == _span_intervals(task, frame, lengths)[1]
    _, _, task, frame = _scored("rlhf-preference", "ranking")
    shuffled = frame.sample(frac=1.0, random_state=3)
    got = [ranking_intervals(w, ranking_point(w), BOOT) for w in (rank_work(task, shuffled), rank_work(task, frame))]
    assert got[0] == got[1]


_judged = st.lists(st.lists(st.integers(0, 5), min_size=1, max_size=4, unique=True), min_size=2, max_size=7)


@settings(max_examples=40, deadline=None)
@given(_judged, st.randoms(use_true_random=False), st.lists(st.integers(0, 3), min_size=7, max_size=7))
def test_ranking_replicates_equal_recomputation_on_any_rankings(judged: list[list[int]], rnd, counts: list[int]
                                                                ) -> None:  # type: ignore[no-untyped-def]
    """Random rankings of 4 options by 1–4 annotators per item, any item weights (0 included)."""
    task = Task(name="r", kind="ranking", question="?", options=("a", "b", "c", "d"))
    rows = []
    for i, annotators in enumerate(judged):
        for a in annotators:
            order = ["a", "b", "c", "d"]
            rnd.shuffle(order)
            rows.append({"item": f"i{i}", "unit": "", "annotator": f"a{a}", "value": json.dumps(order)})
    frame = pd.DataFrame(rows)
    work = rank_work(task, frame)
    weights = np.array([counts[:len(judged)]], dtype=np.float64)
    fns = ranking_replicates(work, ranking_point(work))
    _assert_replicates_equal(fns, weights, lambda row: ranking_metrics(task)(_copies(frame, row)[0]), set(fns))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.lists(st.integers(0, 19), min_size=0, max_size=6, unique=True), min_size=1, max_size=3),
                min_size=2, max_size=6),
       st.lists(st.integers(0, 3), min_size=6, max_size=6))
def test_span_alpha_replicates_equal_recomputation_on_any_spans(items: list[list[list[int]]], counts: list[int]
                                                               ) -> None:
    """Random non-overlapping spans (cut points of a 20-character text, labels alternating) by 1–3 annotators
    per item, any item weights (0 included)."""
    from labelspec.check.structured_metrics import canonical_values
    from labelspec.spec.model import Label

    task = Task(name="e", kind="spans", question="?", labels=(Label(id="per", title="P", definition="p"),
                                                             Label(id="org", title="O", definition="o")))
    rows = []
    for i, annotators in enumerate(items):
        for a, cuts in enumerate(annotators):
            bounds = sorted(cuts)
            spans = [[s, e, ("per", "org")[(s + a) % 2]] for s, e in zip(bounds[::2], bounds[1::2], strict=False) if s < e]
            rows.append({"item": f"i{i}", "unit": "", "annotator": f"a{a}", "value": json.dumps(spans)})
    frame = pd.DataFrame(rows)
    frame = frame.assign(value=canonical_values(task, frame["value"]))
    lengths = {f"i{i}": 20 for i in range(len(items))}
    work = span_work(task, frame, lengths)
    point = span_point(work)
    _, fns = span_replicates(work, point)
    weights = np.array([counts[:len(items)]], dtype=np.float64)

    def recompute(row: np.ndarray) -> dict[str, Estimate]:
        copies, source = _copies(frame, row)
        return span_metrics(task, _with_copies(lengths, source))(copies)
    alpha = {name: fn for name, fn in fns.items() if name == "span_alpha"}  # F1 is linearised (its own test)
    _assert_replicates_equal(alpha, weights, recompute, set(alpha))


@pytest.mark.parametrize(("project", "name"), [("clinical-ner", "span_work"), ("rlhf-preference", "rank_work"),
                                               ("clinical-ner", "char_alpha"), ("clinical-ner", "both_matches")])
def test_a_check_parses_and_matches_once_whatever_the_replicates(project: str, name: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The intervals come from the one parse, matching and unitisation of the analysis, never from work per
    replicate (which made a check of 30k span judgments take 16 s): as many calls at 2,000 replicates as at 0."""
    from labelspec.check import task_parse

    calls = {"n": 0}
    original = getattr(structured_metrics, name)

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return original(*args, **kwargs)
    for module in (structured, structured_metrics, task_parse):  # wherever the check may call it from
        monkeypatch.setattr(module, name, counted, raising=False)
    files = sorted((ROOT / "specs" / project / "labels").iterdir())
    seen = []
    for replicates in (0, 2000):
        calls["n"] = 0
        api.check_labels(ROOT / "specs" / project, files, bootstrap=replicates)
        seen.append(calls["n"])
    assert seen[0] >= 1 and seen[0] == seen[1], seen
