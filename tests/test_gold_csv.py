"""Gold and calibration files read by pyarrow: the spec check's shortcut may only skip the per-record pass when
that pass finds nothing, and the check's reader gives the stdlib's strings.

The spec is ``agent-trajectories``: tasks judged per item and per step, labels, JSON answers and edge cases.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labelspec.check import context
from labelspec.spec import datafiles
from labelspec.spec.load import load_spec

ROOT = Path(__file__).parent.parent
SPEC = load_spec(ROOT / "specs" / "agent-trajectories")
HEADER = "item,unit,task,label,why,edge_case,teaching"


def fast(data: bytes, calibration: bool = True) -> list[tuple[str, str]]:
    return [(str(d.loc), d.message) for d in datafiles.check_gold(data, "gold.csv", SPEC, calibration=calibration)]


def slow(data: bytes, calibration: bool = True) -> list[tuple[str, str]]:
    saved = datafiles._clean_gold
    datafiles._clean_gold = lambda *_, **__: False  # type: ignore[assignment]
    try:
        return fast(data, calibration)
    finally:
        datafiles._clean_gold = saved


CLEAN = (f"{HEADER}\nrun-1,,failure_mode,none,\"ok, fine\",,true\nrun-1,1,tool_call,correct,,,false\n"
         "run-1,2,tool_call,wrong_tool,,environment-failure,\n"
         "run-1,,attribution,\"{\"\"agent\"\":\"\"none\"\",\"\"step\"\":null}\",,,\n").encode()
CASES = [
    CLEAN,
    CLEAN.replace(b"run-1,2", b"run-1,1"),  # a duplicate (item, unit, task)
    CLEAN.replace(b"wrong_tool", b"wrong_tol"),  # an unknown label
    CLEAN.replace(b"environment-failure", b"no-such-case"),  # an unknown edge case
    CLEAN.replace(b",,true", b",,yes"),  # teaching is not true/false
    CLEAN.replace(b"run-1,1,", b"run-1,,"),  # a per-step task without its step
    CLEAN.replace(b"run-1,,failure_mode", b"run-1,3,failure_mode"),  # a per-item task with a unit
    CLEAN.replace(b"failure_mode", b"failure_mod"),  # an unknown task
    CLEAN.replace(b"run-1,2,", b",2,"),  # an empty item
    CLEAN + b"\n",  # a blank line at the end
    CLEAN.replace(b"\n", b"\r\n"),
    b"\xef\xbb\xbf" + CLEAN,
    CLEAN.replace(b"\"ok, fine\"", b"\"ok\nfine\""),  # a line break inside a field
    CLEAN.replace(b"why,", b"why,extra,", 1),  # an unknown column (and ragged rows)
    f"{HEADER}\n".encode(),
    b"",
]


@pytest.mark.parametrize("data", CASES)
@pytest.mark.parametrize("calibration", [True, False])
def test_shortcut_reports_what_the_per_record_pass_reports(data: bytes, calibration: bool) -> None:
    assert fast(data, calibration) == slow(data, calibration)


def test_the_shortcut_is_taken_for_a_clean_file_and_refused_otherwise() -> None:
    assert datafiles._clean_gold(CLEAN, SPEC, calibration=True)
    assert not datafiles._clean_gold(CLEAN, SPEC, calibration=False)  # edge_case, teaching: calibration only
    assert not datafiles._clean_gold(CASES[1], SPEC, calibration=True)


def test_the_shipped_gold_and_calibration_files_take_the_shortcut() -> None:
    folder = ROOT / "specs" / "agent-trajectories"
    assert datafiles._clean_gold((folder / "gold.csv").read_bytes(), SPEC, calibration=False)
    assert datafiles._clean_gold((folder / "calibration.csv").read_bytes(), SPEC, calibration=True)


CELLS = {
    "item": ["run-1", "run-2", "", "NA"],
    "unit": ["", "1", "2", "01"],
    "task": ["tool_call", "failure_mode", "attribution", "bogus"],
    "label": ["correct", "none", "wrong_tool", '"{""agent"":""none"",""step"":null}"', "", "x,y", "\"q\""],
    "why": ["", "because", "\"a, b\"", "5\" screen"],
    "edge_case": ["", "hindsight", "environment-failure", "nope"],
    "teaching": ["", "true", "false", "TRUE"],
}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in CELLS.items()}), max_size=6),
       st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_shortcut_agrees_on_random_files(rows: list[dict[str, str]], newline: str, calibration: bool) -> None:
    data = (HEADER + newline + "".join(",".join(r[c] for c in HEADER.split(",")) + newline for r in rows)).encode()
    assert fast(data, calibration) == slow(data, calibration)


@pytest.mark.parametrize("data", [CLEAN, CASES[1], CASES[12], CLEAN.replace(b"\n", b"\r\n")])
def test_the_checks_reader_gives_the_stdlibs_strings(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "gold.csv"
    path.write_bytes(data)
    got = context.read_reference(path)
    saved = context.plain_columns
    context.plain_columns = lambda *_: None  # type: ignore[assignment]
    try:
        want = context.read_reference(path)
    finally:
        context.plain_columns = saved
    pd.testing.assert_frame_equal(got, want)
    assert list(got["task"])[:2] == ["failure_mode", "tool_call"]
