"""Block intervals used above the recompute limit (linearised for span F1 and Kendall's W, exact re-evaluation
from block coincidences for character α) are close to the item bootstrap that recomputes each replicate (used
below it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from labelspec import api
from labelspec.check.decide_kinds import canonical
from labelspec.check.estimate import Estimate
from labelspec.check.structured import with_intervals
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
        # first order: symmetric, so it misses some of the small-sample skew the recomputing bootstrap sees
        assert fast.ci_low == pytest.approx(slow.ci_low, abs=0.03) and fast.ci_high == pytest.approx(slow.ci_high, abs=0.03)


def test_kendall_w_block_interval_matches_the_recomputing_bootstrap() -> None:
    _, _, task, frame = _scored("rlhf-preference", "ranking")
    recomputed = with_intervals(frame, ranking_metrics(task), BOOT)["kendall_w"]
    _close(kendall_w_interval(task, frame, recomputed, BOOT), recomputed, 0.02)


def test_char_alpha_block_interval_matches_the_recomputing_bootstrap() -> None:
    _, ctx, task, frame = _scored("clinical-ner", "entities")
    lengths = ctx.items.text_lengths("note") if ctx.items else {}
    recomputed = with_intervals(frame, span_metrics(task, lengths), BOOT)["span_alpha"]
    fast = span_f1_intervals(task, frame, lengths, {**span_metrics(task, lengths)(frame)}, BOOT)["span_alpha"]
    _close(fast, recomputed, 0.03)


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
