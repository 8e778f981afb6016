"""Block intervals used above the recompute limit (linearised for span F1 and Kendall's W, exact re-evaluation
from block coincidences for character α) are close to the item bootstrap that recomputes each replicate (used
below it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelspec import api
from labelspec.check.decide_kinds import canonical
from labelspec.check.estimate import Estimate
from labelspec.check.structured import ITEM_SEP, SOURCE_ITEM, copies_keep_lengths, with_intervals
from labelspec.check.structured_metrics import (
    kendall_w_interval,
    preference_alpha_interval,
    rank_work,
    ranking_metrics,
    span_f1_intervals,
    span_metrics,
    tau_interval,
)
from labelspec.spec.model import BootstrapPolicy

ROOT = Path(__file__).resolve().parent.parent
BOOT = BootstrapPolicy(replicates=100, seed=5)


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


def _close(fast: Estimate, slow: Estimate, tol: float) -> None:
    """A block interval around the same estimate, near the recomputing bootstrap's."""
    assert fast.value == pytest.approx(slow.value, abs=1e-12)
    assert fast.ci_low is not None and fast.ci_high is not None and fast.value is not None
    assert fast.ci_low < fast.value < fast.ci_high
    assert fast.ci_low == pytest.approx(slow.ci_low, abs=tol) and fast.ci_high == pytest.approx(slow.ci_high, abs=tol)


def test_span_f1_block_interval_matches_the_recomputing_bootstrap() -> None:
    _, ctx, task, frame = _scored("clinical-ner", "entities")
    lengths = ctx.items.text_lengths("note") if ctx.items else {}
    recomputed = with_intervals(frame, span_metrics(task, lengths), BOOT)
    additive = span_f1_intervals(task, frame, lengths, recomputed, BOOT)
    for name in ("span_f1_exact", "span_f1_overlap"):
        slow, fast = recomputed[name], additive[name]
        assert fast.value == slow.value and fast.ci_low is not None and fast.ci_high is not None
        assert fast.ci_low < fast.value < fast.ci_high  # type: ignore[operator]
        # first order: symmetric, so it misses some of the small-sample skew the recomputing bootstrap sees (its
        # upper bound is 0.015–0.035 higher here over seeds and item orders)
        assert fast.ci_low == pytest.approx(slow.ci_low, abs=0.03) and fast.ci_high == pytest.approx(slow.ci_high, abs=0.04)


def test_kendall_w_block_interval_matches_the_recomputing_bootstrap() -> None:
    _, _, task, frame = _scored("rlhf-preference", "ranking")
    recomputed = with_intervals(frame, ranking_metrics(task), BOOT)["kendall_w"]
    _close(kendall_w_interval(task, frame, recomputed, BOOT), recomputed, 0.02)


def test_char_alpha_block_interval_matches_the_recomputing_bootstrap() -> None:
    _, ctx, task, frame = _scored("clinical-ner", "entities")
    lengths = ctx.items.text_lengths("note") if ctx.items else {}
    recomputed = with_intervals(frame, copies_keep_lengths(task, lengths), BOOT)["span_alpha"]
    fast = span_f1_intervals(task, frame, lengths, {**span_metrics(task, lengths)(frame)}, BOOT)["span_alpha"]
    _close(fast, recomputed, 0.03)


def test_a_resampled_copy_of_an_item_keeps_its_text_length() -> None:
    """The recomputing bootstrap renames each copy of an item; measured under the new name, its text must keep
    its length, or character α would lose the "outside" characters after the last span (found by an audit:
    an interval that did not contain its own estimate)."""
    _, ctx, task, frame = _scored("clinical-ner", "entities")
    lengths = ctx.items.text_lengths("note") if ctx.items else {}
    point = span_metrics(task, lengths)(frame)["span_alpha"]
    renamed = frame.assign(item=frame["item"].astype(str) + ITEM_SEP + "0", **{SOURCE_ITEM: frame["item"]})
    assert copies_keep_lengths(task, lengths)(renamed)["span_alpha"] == point
    assert span_metrics(task, lengths)(renamed)["span_alpha"].n_units < point.n_units  # what went wrong


def test_block_coincidences_add_up_to_the_character_alpha() -> None:
    """Summed over blocks, the coincidences give char_alpha's nominal α (any blocking, one block per unit too)."""
    import numpy as np

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


def test_kendall_tau_block_interval_matches_the_recomputing_bootstrap() -> None:
    """Mean τ-b is a ratio of sums over units: each resample of item blocks re-evaluates it exactly."""
    _, _, task, frame = _scored("rlhf-preference", "ranking")
    recomputed = with_intervals(frame, ranking_metrics(task), BOOT)["kendall_tau"]
    work = rank_work(task, frame)
    assert work.agreement.tau_sum is not None and work.agreement.tau_pairs is not None
    assert work.agreement.tau_sum.sum() / work.agreement.tau_pairs.sum() == pytest.approx(recomputed.value, abs=1e-12)
    _close(tau_interval(work, recomputed, BOOT), recomputed, 0.03)


def test_preference_alpha_block_interval_matches_the_recomputing_bootstrap() -> None:
    """The blocks' coincidences add up to the point α; each resample of blocks re-evaluates it exactly."""
    import numpy as np

    from labelspec.check.replicates import alpha_of_coincidences

    _, _, task, frame = _scored("rlhf-preference", "ranking")
    recomputed = with_intervals(frame, ranking_metrics(task), BOOT)["preference_alpha"]
    work = rank_work(task, frame)
    assert work.agreement.pair_blocks is not None
    total = alpha_of_coincidences(work.agreement.pair_blocks.sum(axis=0)[None])[0]
    assert total == pytest.approx(recomputed.value, abs=1e-12)
    _close(preference_alpha_interval(work, recomputed, BOOT), recomputed, 0.03)
    assert np.all(work.agreement.pair_blocks >= 0)


def _trajectory_point_and_recomputed(task_name: str):  # type: ignore[no-untyped-def]
    from labelspec.check import structured

    spec, ctx, task, frame = _scored("agent-trajectories", task_name)
    steps = ctx.items.list_lengths(spec.steps_field.name) if ctx.items else {}
    assert steps  # the example's items hold their steps: first errors are positions in those lists
    if task.kind == "attribution":
        compute, frame = structured._attribution_metrics(task), frame
    else:
        compute = structured._first_error_metrics(task, steps)
    return task, frame, compute(frame), with_intervals(frame, compute, BOOTSTRAP_1000), steps


BOOTSTRAP_1000 = BootstrapPolicy(replicates=1000, seed=5)


def test_a_resampled_copy_of_a_chain_keeps_its_steps_list() -> None:
    """Renamed as the recomputing bootstrap renames copies, the chains measure the same: each copy still has its
    item's N steps (without them a prefix judged correct would count as "no error")."""
    from labelspec.check import structured

    spec, ctx, task, frame = _scored("agent-trajectories", "tool_call")
    steps = ctx.items.list_lengths(spec.steps_field.name) if ctx.items else {}
    compute = structured._first_error_metrics(task, steps)
    renamed = frame.assign(item=frame["item"].astype(str) + ITEM_SEP + "0", **{SOURCE_ITEM: frame["item"]})
    assert compute(renamed) == compute(frame)


@pytest.mark.parametrize("task_name", ["tool_call", "reasoning_step"])
def test_first_error_intervals_match_the_recomputing_bootstrap(task_name: str) -> None:
    """Exact item resampling from count rows: the same distribution as recomputing on resampled items (here
    with 1000 replicates each way), at any size."""
    from labelspec.check.structured import _first_errors
    from labelspec.check.trajectory_intervals import first_error_intervals

    task, frame, point, slow, steps = _trajectory_point_and_recomputed(task_name)
    fast = first_error_intervals(_first_errors(task, frame, steps), point, BOOTSTRAP_1000)
    assert set(fast) == set(point)
    for name in fast:
        _close(fast[name], slow[name], 0.03)


def test_attribution_intervals_match_the_recomputing_bootstrap() -> None:
    from labelspec.check.structured import _attribution_arrays
    from labelspec.check.trajectory_intervals import attribution_intervals

    task, frame, point, slow, _ = _trajectory_point_and_recomputed("attribution")
    item, _, agent, step = _attribution_arrays(task, frame)
    fast = attribution_intervals(item, agent, step, point, BOOTSTRAP_1000)
    assert set(fast) == set(point)
    for name in fast:
        _close(fast[name], slow[name], 0.03)


def test_one_replicate_of_the_observed_rows_is_the_estimate() -> None:
    """A replicate that draws every count row as often as observed reproduces the point estimate exactly."""
    import numpy as np

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


def test_above_the_recompute_limit_trajectory_coefficients_keep_an_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a gate ``on: ci_low`` reads on a large trajectory project: an interval, not a reason to fail."""
    from labelspec.check import structured

    monkeypatch.setattr(structured, "MAX_BOOTSTRAP_ROWS", 10)
    spec = api.load_spec(ROOT / "specs" / "agent-trajectories")
    files = sorted((ROOT / "specs" / "agent-trajectories" / "labels").iterdir())
    report = api.check_labels(ROOT / "specs" / "agent-trajectories", files)
    assert spec.task("attribution") is not None
    agreement = {t: report.analyses[t].agreement for t in ("attribution", "tool_call", "reasoning_step")}
    names = {"attribution": ["attribution_agent_alpha", "percent_agreement", "attribution_agent_step_alpha",
                             "attribution_agent_step_percent"],
             "tool_call": ["first_error_exact", "first_error_within_one", "first_error_alpha"],
             "reasoning_step": ["first_error_exact", "first_error_within_one", "first_error_alpha"]}
    for task, metrics in names.items():
        for m in metrics:
            est = agreement[task][m]
            assert est.ci_reason is None and est.ci_low is not None and est.ci_high is not None, (task, m)
            assert est.ci_low <= est.value <= est.ci_high, (task, m)  # type: ignore[operator]


@pytest.mark.parametrize(("project", "task_name", "metrics"), [
    ("rlhf-preference", "ranking", lambda task, ctx: ranking_metrics(task)),
    ("clinical-ner", "entities", lambda task, ctx: span_metrics(task, ctx.items.text_lengths("note"))),
])
def test_recomputing_bootstrap_intervals_ignore_the_row_order(project, task_name, metrics) -> None:  # type: ignore[no-untyped-def]
    """The same judgments in another row order (a Label Studio export lists them by task, a CSV by batch) draw
    the same items: items are numbered by id, not by first appearance (an audit found intervals moving)."""
    _, ctx, task, frame = _scored(project, task_name)
    shuffled = frame.sample(frac=1.0, random_state=3)
    assert shuffled["item"].tolist() != frame["item"].tolist()
    assert with_intervals(shuffled, metrics(task, ctx), BOOT) == with_intervals(frame, metrics(task, ctx), BOOT)
