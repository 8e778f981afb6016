"""Gold scoring's row order from integer ranks (``gold._order``) against pandas' own multi-key sort, and the gold
items found before the accounting (``GoldItems``) scoring exactly as the ones it finds itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_decide import gold, lab, make_spec

from labelspec.check.context import Context
from labelspec.check.gold import SCORED_ORDER, GoldItems, _order, score_gold
from labelspec.spec.model import Task

NAMES = ["b", "a", "c", "ab", "é", ""]
#: Around the epoch (−1 ns is a real time, not a missing one), far apart, and missing.
TIMES = [None, -1, 0, 1, 1_700_000_000_000_000_000, -5_000_000_000]


def _frame(rows: list[tuple[int, int, int, int, int]], coded: bool) -> pd.DataFrame:
    frame = pd.DataFrame({
        "annotator": [NAMES[r[0]] if r[0] < len(NAMES) else None for r in rows],
        "when": pd.to_datetime([TIMES[r[1]] for r in rows], utc=True),
        "item": [NAMES[r[2]] if r[2] < len(NAMES) else None for r in rows],
        "unit": [NAMES[r[3]] for r in rows],
        "task": [NAMES[r[4]] for r in rows],
    })
    if coded:  # the readers' Categorical columns (categories in sorted order), missing values included
        for key in ("annotator", "item"):
            frame[key] = frame[key].astype(pd.CategoricalDtype(sorted(set(frame[key].dropna()))))
    return frame


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 5), st.integers(0, 6), st.integers(0, 5),
                          st.integers(0, 5)), max_size=40), st.booleans())
def test_order_is_the_stable_multi_key_sort(rows: list[tuple[int, int, int, int, int]], coded: bool) -> None:
    frame = _frame(rows, coded)
    want = frame.reset_index(drop=True).sort_values(list(SCORED_ORDER), kind="stable").index.to_numpy()
    assert _order(frame, SCORED_ORDER).tolist() == want.tolist()


def test_gold_items_found_beforehand_score_the_same() -> None:
    spec = make_spec(Task(name="ok", kind="single_choice", question="q", labels=(lab("y"), lab("n"))))
    used = pd.DataFrame({"annotator": ["b", "a", "a", "b", "a"], "item": ["g1", "g2", "x", "g1", "g1"],
                         "unit": "", "task": "ok", "value": ["y", "n", "y", "n", "y"],
                         "when": pd.to_datetime(["2026-01-02T00:00:00Z", None, None, None,
                                                 "2026-01-01T00:00:00Z"], utc=True)})
    used = used.assign(item=used["item"].astype("category"), annotator=used["annotator"].astype("category"))
    ctx = Context(gold=gold([("g1", "ok", "y"), ("g2", "ok", "y")]))
    plain = score_gold(spec, used, ctx)
    known = GoldItems.of(used["item"].cat.categories, ctx)
    assert known.mask.tolist() == [True, True, False]
    found = score_gold(spec, used, ctx, known=known)
    assert plain is not None and found is not None
    pd.testing.assert_frame_equal(found.scored, plain.scored)
    assert found.scored[["annotator", "item", "correct"]].astype(str).values.tolist() == [
        ["a", "g1", "True"], ["a", "g2", "False"], ["b", "g1", "True"], ["b", "g1", "False"]]
    # found for other categories: not used (the scoring finds its own)
    other = GoldItems(pd.Index(["g1", "g2", "x"]), np.zeros(3, dtype=bool))
    again = score_gold(spec, used, ctx, known=other)
    assert again is not None
    pd.testing.assert_frame_equal(again.scored, plain.scored)


def test_a_check_hands_the_gold_items_it_found_while_accounting_to_the_scoring(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The gold items found beside the accounting are those of the accounted rows' item categories (the same
    object), so the scoring looks them up instead of finding them again; the report is the same without them."""
    from labelspec import api
    from labelspec.check import runner

    specs = Path(__file__).parents[1] / "specs" / "support-intent"
    paths = sorted((specs / "labels").glob("*.csv"))
    seen: list[bool] = []
    original = runner.score_gold

    def spy(spec: object, used: pd.DataFrame, ctx: Context, *, level: float, known: GoldItems | None) -> object:
        seen.append(known is not None and known.categories is used["item"].cat.categories)
        return original(spec, used, ctx, level=level, known=known)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "score_gold", spy)
    found = api.check_labels(specs, paths).to_dict()
    monkeypatch.setattr(runner, "_gold_items", lambda *args: None)
    assert api.check_labels(specs, paths).to_dict() == found
    assert seen == [True, False]


TEXTS = ["g1", "g2", "x", "é", "", "NA", "g1 "]


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(TEXTS), st.sampled_from(["", "s1"]),
                          st.sampled_from(["ok", "tone"]), st.sampled_from(["y", "n", "", "NA"])), max_size=40),
       st.lists(st.tuples(st.sampled_from(TEXTS), st.sampled_from(["", "s1"]), st.sampled_from(["ok", "tone"]),
                          st.sampled_from(["y", "n", "NA"])), unique_by=lambda g: g[:3], min_size=1, max_size=8))
def test_arrow_keys_and_comparison_score_as_python_strings(rows: list[tuple[int, str, str, str, str]],
                                                           golds: list[tuple[str, str, str, str]]) -> None:
    """The readers' coded columns (Arrow-text categories) against an Arrow-backed gold table are merged and
    compared in Arrow; plain Python strings on either side take pandas' own merge and ``==``: the same rows
    scored, in the same order, with the same verdicts and counts."""
    spec = make_spec(Task(name="ok", kind="single_choice", question="q", labels=(lab("y"), lab("n"))),
                     Task(name="tone", kind="single_choice", question="q", labels=(lab("y"), lab("n"))))
    when = pd.to_datetime([f"2026-01-01T00:00:{i % 60:02d}Z" for i in range(len(rows))], utc=True)
    plain = pd.DataFrame({"annotator": [f"a{r[0]}" for r in rows], "item": [r[1] for r in rows],
                          "unit": [r[2] for r in rows], "task": [r[3] for r in rows],
                          "value": [r[4] for r in rows], "when": when}).astype(
        {k: object for k in ("annotator", "item", "unit", "task", "value")})
    coded = plain.copy()
    for key in ("annotator", "item", "unit", "task", "value"):  # as the readers give them: sorted Arrow categories
        cats = pd.Index(sorted(set(plain[key])), dtype=pd.StringDtype("pyarrow", na_value=np.nan))
        coded[key] = pd.Categorical(plain[key], categories=cats)
    table = pd.DataFrame([{"item": i, "unit": u, "task": t, "label": g, "why": ""} for i, u, t, g in golds],
                         columns=["item", "unit", "task", "label", "why"])
    arrow_gold = Context(gold=table.astype({k: "str" for k in table.columns}))
    python_gold = Context(gold=table.astype(object))
    fast, slow = score_gold(spec, coded, arrow_gold), score_gold(spec, plain, python_gold)
    assert fast is not None and slow is not None
    assert str(fast.scored["item"].dtype) == "str" or fast.scored.empty  # the Arrow path was taken
    columns = ["annotator", "item", "unit", "task", "value", "gold"]
    assert (fast.scored[columns].astype(str).values.tolist() == slow.scored[columns].astype(str).values.tolist())
    assert fast.scored["correct"].tolist() == slow.scored["correct"].tolist()
    assert (fast.annotators, fast.n.tolist(), fast.correct.tolist()) == (slow.annotators, slow.n.tolist(),
                                                                        slow.correct.tolist())
