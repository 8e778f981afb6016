"""``step_out_of_range``: a judgment naming a step its item's trajectory does not have is excluded, with a reason.

A small project (items with a JSON steps list, a per-step task and an attribution task) is checked end to end; the
vectorised accounting is compared with a row-by-row reference written from the documented rule (hypothesis), and
the shipped agent-trajectories project is checked to exclude exactly its one stale judgment.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import Run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labelspec import api
from labelspec.check.context import Context, Items
from labelspec.check.records import REASONS, account
from labelspec.check.step_records import LEADING_ZERO, NO_STEP, NOT_A_POSITION, attribution_steps, unit_steps
from labelspec.spec.load import load_spec
from labelspec.spec.model import Spec
from labelspec.spec.records import FIELDS

ROOT = Path(__file__).resolve().parents[1]
SPEC = """\
labelspec: 1
project: {{id: steps, title: Steps, version: 1.0.0}}
{items}annotators: {{file: annotators.csv}}
tasks:
  tool_call:
    kind: single_choice
    unit: step
    question: Was the call right?
    labels:
      ok: {{title: Right, definition: The right call.}}
      bad: {{title: Wrong, definition: A wrong call.}}
  blame:
    kind: attribution
    question: Which agent, at which step?
    labels:
      planner: {{title: Planner, definition: Plans.}}
      coder: {{title: Coder, definition: Codes.}}
quality:
  max_excluded_share: 1
  bootstrap: {{replicates: 0}}
"""
ITEMS = "items: {file: items.jsonl, id: run_id, fields: {steps: {type: json}}}\n"
#: r6 has 6 steps, r2 a steps value that is no list, r3 no steps at all, r1 one step.
ITEM_ROWS = [{"run_id": "r6", "steps": [{"text": f"s{i}"} for i in range(6)]}, {"run_id": "r2", "steps": "six"},
             {"run_id": "r3"}, {"run_id": "r1", "steps": [{"text": "only"}]}]
DETAIL = "step {} is not one of the {} steps of item field 'steps' (numbered from 1)"
HEADER = "item_id,step,task,annotator_id,label\n"


def project(tmp_path: Path, rows: list[str], *, items: bool = True, roster: str = "a1,a2,a3") -> tuple[Path, Path]:
    root = tmp_path / "steps"
    root.mkdir(exist_ok=True)
    (root / "labelspec.yaml").write_text(SPEC.format(items=ITEMS if items else ""), "utf-8")
    (root / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ITEM_ROWS), "utf-8")
    (root / "annotators.csv").write_text("id,role\n" + "".join(f"{a},annotator\n" for a in roster.split(",")),
                                         "utf-8")
    labels = tmp_path / "labels.csv"
    labels.write_text(HEADER + "".join(r + "\n" for r in rows), "utf-8")
    return root, labels


def exclusions(tmp_path: Path, rows: list[str], **kw: object) -> list[list[object]]:
    root, labels = project(tmp_path, rows, **kw)  # type: ignore[arg-type]
    acc = api.check_labels(root, [labels]).accounting
    assert acc.rows_read == len(rows) == len(acc.used) + len(acc.expert) + len(acc.exclusions)
    got: list[list[object]] = acc.exclusions[["line", "reason", "detail"]].values.tolist()
    return got


def blame(step: str) -> str:
    return f'"{{""agent"":""coder"",""step"":{step}}}"'


def test_the_reason_follows_span_out_of_bounds() -> None:
    assert REASONS.index("step_out_of_range") == REASONS.index("span_out_of_bounds") + 1
    assert REASONS[-1] == "duplicate_judgment"


def test_items_list_lengths_only_for_json_arrays() -> None:
    items = Items(ids=np.array(["a", "b", "c", "d", "e"], dtype=object),
                  fields={"steps": {"a": "[1,2,3]", "b": '"[1]"', "c": "{}", "d": " [ ]", "e": "[1,"}})
    lengths = items.list_lengths("steps")
    assert lengths == {"a": 3, "d": 0}
    assert items.list_lengths("steps") is lengths  # built once
    assert items.list_lengths("absent") == {}


def test_unit_steps_reads_plain_integers_only() -> None:
    steps, shown = unit_steps(np.array(["1", "06", "0", "s3", "1.0", "-1", " 2", "٣", "9" * 30], dtype=object))
    assert steps[:7].tolist() == [1, LEADING_ZERO, 0, NOT_A_POSITION, NOT_A_POSITION, NOT_A_POSITION, NOT_A_POSITION]
    assert steps[7] == NOT_A_POSITION  # an Arabic-Indic digit is no plain integer
    assert steps[8] == np.iinfo(np.int64).max  # beyond int64: beyond every list
    assert shown.tolist()[-1] == "9" * 30


def test_attribution_steps_parse_each_value() -> None:
    steps, shown = attribution_steps(np.array(['{"agent":"coder","step":null}', '{"agent":"coder","step":0}',
                                               '{"agent":"coder","step":12}'], dtype=object))
    assert steps.tolist() == [NO_STEP, 0, 12]
    assert shown.tolist() == ["", "0", "12"]


def test_per_step_units_must_be_positions_of_the_list(tmp_path: Path) -> None:
    rows = ["r6,0,tool_call,a1,ok", "r6,1,tool_call,a1,ok", "r6,6,tool_call,a1,ok", "r6,7,tool_call,a1,bad",
            "r6,s3,tool_call,a1,bad", "r6,1.5,tool_call,a1,bad", "r2,9,tool_call,a1,bad", "r3,9,tool_call,a1,bad",
            "r3,s3,tool_call,a2,bad",  # r2, r3: no list, any unit is a step of its own
            "r1,2,tool_call,a2,bad", "r6,0006,tool_call,a2,ok", "r6,99999999999999999999,tool_call,a2,ok"]
    assert exclusions(tmp_path, rows) == [
        [2, "step_out_of_range", DETAIL.format(0, 6)],
        [5, "step_out_of_range", DETAIL.format(7, 6)],
        # a step id names no position of the list: validate refuses it in gold files (LS312), so check does too
        [6, "step_out_of_range", DETAIL.format("s3", 6).replace("from 1)", "from 1, as plain integers)")],
        [7, "step_out_of_range", DETAIL.format("1.5", 6).replace("from 1)", "from 1, as plain integers)")],
        [11, "step_out_of_range", DETAIL.format(2, 1)],
        # 0006 would be a second unit for step 6 (two consensus rows for one step; found by an audit)
        [12, "step_out_of_range", DETAIL.format("0006", 6).replace("from 1)", "from 1, written without leading zeros)")],
        [13, "step_out_of_range", DETAIL.format("99999999999999999999", 6)],
    ]


def test_attribution_step_must_be_a_position_of_the_list(tmp_path: Path) -> None:
    rows = [f"r6,,blame,a1,{blame('null')}", f"r6,,blame,a2,{blame('0')}", f"r6,,blame,a3,{blame('1')}",
            f"r6,,blame,a4,{blame('6')}", f"r6,,blame,a5,{blame('7')}", f"r1,,blame,a1,{blame('2')}",
            f"r2,,blame,a1,{blame('0')}", f"r3,,blame,a1,{blame('7')}"]  # r2, r3: no list, nothing to check
    assert exclusions(tmp_path, rows, roster="a1,a2,a3,a4,a5") == [
        [3, "step_out_of_range", DETAIL.format(0, 6)],
        [6, "step_out_of_range", DETAIL.format(7, 6)],
        [7, "step_out_of_range", DETAIL.format(2, 1)],
    ]


def test_without_an_items_file_nothing_is_checked(tmp_path: Path) -> None:
    rows = ["r6,0,tool_call,a1,ok", "r6,99,tool_call,a1,ok", "r6,s3,tool_call,a1,ok", f"r6,,blame,a1,{blame('0')}",
            f"r6,,blame,a2,{blame('99')}"]
    assert exclusions(tmp_path, rows, items=False) == []


def test_earlier_reasons_win_and_duplicates_of_excluded_rows_are_not_duplicates(tmp_path: Path) -> None:
    rows = ["nope,9,tool_call,a1,ok", "r6,9,tool_call,zz,ok", "r6,9,tool_call,a1,maybe", "r6,9,tool_call,a1,ok",
            "r6,9,tool_call,a1,bad", "r6,2,tool_call,a1,ok", "r6,2,tool_call,a1,bad"]
    assert [r[:2] for r in exclusions(tmp_path, rows)] == [
        [2, "unknown_item"], [3, "annotator_not_in_roster"], [4, "invalid_value"], [5, "step_out_of_range"],
        [6, "step_out_of_range"], [8, "duplicate_judgment"]]


def test_the_cli_report_lists_the_exclusion_with_file_and_line(tmp_path: Path, run_cli: Callable[..., Run]) -> None:
    root, labels = project(tmp_path, ["r6,1,tool_call,a1,ok", "r6,7,tool_call,a2,ok", f"r6,,blame,a1,{blame('0')}"])
    out = tmp_path / "report.json"
    run = run_cli("check", str(root), str(labels), "--json", str(out))
    shown = api.display(labels)
    assert f"{shown}:3: step_out_of_range: {DETAIL.format(7, 6)}" in run.out
    acc = json.loads(out.read_text("utf-8"))["accounting"]
    assert acc["excluded_by_reason"] == {"step_out_of_range": 2}
    assert (acc["rows_read"], acc["rows_used"], acc["rows_excluded"], acc["balanced"]) == (3, 1, 2, True)
    assert acc["exclusions"] == [
        {"file": shown, "line": 3, "reason": "step_out_of_range", "detail": DETAIL.format(7, 6)},
        {"file": shown, "line": 4, "reason": "step_out_of_range", "detail": DETAIL.format(0, 6)},
    ]


def test_the_shipped_trajectories_exclude_their_one_stale_judgment() -> None:
    """The generator adds one judgment of a step past the end of its run (scripts/examples_agents.py,
    ``_stale_step``); it is the only row the check excludes."""
    root = ROOT / "specs" / "agent-trajectories"
    acc = api.check_labels(root, sorted((root / "labels").iterdir())).accounting
    assert acc.rows_read == len(acc.used) + len(acc.expert) + len(acc.exclusions)
    assert acc.exclusions[["reason", "detail"]].values.tolist() == [
        ["step_out_of_range", "step 7 is not one of the 6 steps of item field 'steps' (numbered from 1)"]]


# --- the vectorised accounting against a row-by-row reference ---------------------------------------------------

LENGTHS = {"r0": 0, "r1": 1, "r3": 3}  # r9 holds no list


def reference(rows: list[dict[str, str]]) -> list[bool]:
    """The documented rule, one row at a time (rows are valid records: nothing else excludes them)."""
    out = []
    for r in rows:
        n = LENGTHS.get(r["item"])
        if r["task"] == "tool_call":
            step = int(r["unit"]) if r["unit"].isascii() and r["unit"].isdigit() else -1  # a step id: no position
            if len(r["unit"]) > 1 and r["unit"].startswith("0"):
                step = -1  # a leading zero names no step: out of every list
        else:
            step = json.loads(r["value"])["step"]
        out.append(n is not None and step is not None and not 1 <= step <= n)
    return out


@st.composite
def step_rows(draw: st.DrawFn) -> list[dict[str, str]]:
    units = st.sampled_from(["0", "1", "2", "3", "4", "03", "x", "1.0", "-1"])
    steps = st.sampled_from(["null", "0", "1", "2", "3", "4", "12345678901234567890"])
    rows = []
    for k in range(draw(st.integers(1, 15))):
        item = draw(st.sampled_from(["r0", "r1", "r3", "r9"]))
        base = {"item": item, "annotator": f"a{k}", "timestamp": "", "lead_time": ""}
        if draw(st.booleans()):
            rows.append({**base, "unit": draw(units), "task": "tool_call", "value": "ok"})
        else:
            rows.append({**base, "unit": "", "task": "blame", "value": f'{{"agent":"coder","step":{draw(steps)}}}'})
    return rows


def frame_of(rows: list[dict[str, str]], categorical: bool) -> pd.DataFrame:
    kind = "category" if categorical else pd.StringDtype("pyarrow")
    cols = {f: pd.Series([r[f] for r in rows], dtype=kind if f in ("item", "unit", "task", "value") else
                         pd.StringDtype("pyarrow")) for f in FIELDS}
    return pd.DataFrame({**cols, "ground_truth": [""] * len(rows), "file": ["gen.csv"] * len(rows),
                         "line": np.arange(2, len(rows) + 2)})


SPEC_OBJ: dict[str, Spec] = {}


def the_spec(tmp_path_factory: pytest.TempPathFactory) -> Spec:
    if "spec" not in SPEC_OBJ:
        root, _ = project(tmp_path_factory.mktemp("spec"), [])
        SPEC_OBJ["spec"] = load_spec(root)
    return SPEC_OBJ["spec"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(rows=step_rows(), categorical=st.booleans())
def test_vectorised_step_check_matches_the_row_by_row_rule(tmp_path_factory: pytest.TempPathFactory,
                                                           rows: list[dict[str, str]], categorical: bool) -> None:
    spec = the_spec(tmp_path_factory)
    items = Items(ids=np.array(["r0", "r1", "r3", "r9"], dtype=object),
                  fields={"steps": {k: json.dumps(list(range(n))) for k, n in LENGTHS.items()} | {"r9": '"x"'}})
    empty = pd.DataFrame(columns=["file", "line", "reason", "detail"])
    acc = account(spec, frame_of(rows, categorical), Context(items=items), rows_read=len(rows),
                  reader_exclusions=empty)
    assert set(acc.exclusions["reason"]) <= {"step_out_of_range"}
    bad = set(acc.exclusions["line"].astype(int))
    assert [i + 2 in bad for i in range(len(rows))] == reference(rows)
    assert len(acc.used) + len(acc.exclusions) == len(rows)


def test_a_row_gets_the_first_reason_in_reasons_order() -> None:
    """A span beyond the text by an annotator missing from the roster: the roster reason comes first in
    REASONS (and in docs/diagnostics.md), so it is the one reported."""
    from test_records import RECORDS, frame_of

    from labelspec import api as api_mod
    from labelspec.check.records import REASONS, account
    from labelspec.spec.load import load_spec

    spec = load_spec(RECORDS)
    ctx = api_mod.project_context(spec, None)
    row = {"item": str(ctx.items.ids[0]), "unit": "", "task": "ents", "annotator": "nobody",  # type: ignore[union-attr]
           "value": '[[0,99999,"PER"]]', "timestamp": "2026-03-02T10:00:00Z", "lead_time": "1.5"}
    empty = pd.DataFrame(columns=["file", "line", "reason", "detail"])
    acc = account(spec, frame_of([row]), ctx, rows_read=1, reader_exclusions=empty)
    assert acc.exclusions["reason"].tolist() == ["annotator_not_in_roster"]
    assert REASONS.index("annotator_not_in_roster") < REASONS.index("span_out_of_bounds")


def test_jsonl_items_give_their_arrays_as_read(tmp_path: Path) -> None:
    """A JSONL items file's arrays are counted while it is read; a string that looks like an array stays a
    string, and a CSV cell (always text) is parsed."""
    from labelspec.check.context import read_items

    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text('{"id": "a", "steps": [{"t": 1}, {"t": 2}]}\n{"id": "b", "steps": "[1, 2, 3]"}\n'
                     '{"id": "c", "steps": {"t": 1}}\n{"id": "d"}\n', encoding="utf-8")
    assert read_items(jsonl, "id").list_lengths("steps") == {"a": 2}
    csv_items = tmp_path / "items.csv"
    csv_items.write_text('id,steps\na,"[1, 2]"\nb,x\n', encoding="utf-8")
    assert read_items(csv_items, "id").list_lengths("steps") == {"a": 2}
