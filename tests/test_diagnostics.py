"""Every broken spec under tests/cases/invalid/ gives exactly the diagnostics its first line declares.

A case is a file, or a folder holding one ``labelspec.yaml`` (plus the files it references). Its first line reads
``# expect: LS301 41:12, LS312 gold.csv:3:0``: ``CODE LINE:COL`` in the spec itself, or ``CODE FILE:LINE:COL`` in
another file of the case. The list is compared exactly and in order (diagnostics are sorted by location).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import pytest

from labelspec.errors import CODES, Diagnostic, SpecError
from labelspec.spec.load import find_specs, load_spec

INVALID = Path(__file__).parent / "cases" / "invalid"
CASES = sorted(p for p in INVALID.iterdir() if not p.name.startswith("."))
_EXPECT = re.compile(r"^(LS\d{3}) (?:(\S+):)?(\d+):(\d+)$")


def _spec_of(case: Path) -> Path:
    if case.is_file():
        return case
    specs = find_specs([case])
    assert len(specs) == 1, f"{case.name}: a case folder holds exactly one labelspec.yaml"
    return specs[0]


def _expected(spec: Path) -> list[tuple[str, str, int, int]]:
    first = spec.read_bytes().split(b"\n", 1)[0].decode("ascii")
    assert first.startswith("# expect: "), f"{spec}: first line must be '# expect: …'"
    out = []
    for item in first.removeprefix("# expect: ").split(", "):
        match = _EXPECT.match(item.strip())
        assert match, f"{spec}: cannot read expectation {item!r}"
        code, file, line, col = match.groups()
        out.append((code, file or "", int(line), int(col)))
    return out


def _diagnostics(case: Path) -> tuple[str, tuple[Diagnostic, ...]]:
    spec = _spec_of(case)
    shown = spec.relative_to(INVALID).as_posix()
    with pytest.raises(SpecError) as info:
        load_spec(spec, display_path=shown)
    return shown, info.value.diagnostics


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_invalid_case(case: Path) -> None:
    expected = _expected(_spec_of(case))
    shown, diags = _diagnostics(case)
    got = []
    for d in diags:
        assert d.loc is not None
        file = "" if d.loc.path == shown else posixpath.relpath(d.loc.path, posixpath.dirname(shown) or ".")
        got.append((d.code, file, d.loc.line, d.loc.column))
    assert got == expected
    assert case.name.split("-")[0] in {d.code for d in diags}, "the case's name states a code it produces"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_invalid_case_messages_are_usable(case: Path) -> None:
    """Every diagnostic has a documented code, a message, and a location that stays relative."""
    _, diags = _diagnostics(case)
    for d in diags:
        assert d.code in CODES
        assert d.message and not d.message.endswith(".")
        assert d.loc is not None and not d.loc.path.startswith("/")
        assert str(INVALID) not in d.message and str(INVALID) not in (d.hint or "")


def test_cases_cover_every_spec_code_the_loader_can_reach() -> None:
    """LS1xx–LS3xx: each code is produced by some case (LS205 has no anyOf in schema v1; see test_validate)."""
    produced = {c.name.split("-")[0] for c in CASES}
    reachable = {c for c in CODES if c[:3] in ("LS1", "LS2", "LS3")} - {"LS107", "LS205"}
    assert reachable - produced == set()


def test_spec_errors_name_file_line_and_column_in_the_first_line() -> None:
    _, diags = _diagnostics(INVALID / "LS301-unknown-rule-label.yaml")
    (d,) = diags
    assert str(d.loc) == "LS301-unknown-rule-label.yaml:14:29"
    assert d.pointer == "tasks.intent.rules[0].expect.label_in[0]"
    assert d.message == "unknown label 'dispte' in task 'intent'"
    assert d.hint == "did you mean 'dispute'?"
    assert d.excerpt is not None and ">  14 |         expect: {label_in: [dispte]}" in d.excerpt
