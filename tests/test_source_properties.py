"""Properties of the strict loader: any input gives data or located errors; safe_dump output reads back."""

from __future__ import annotations

import math
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from labelspec.errors import SpecError
from labelspec.spec.source import LINE_BREAK, SourceMap, excerpt, read_yaml_text

PATH = "specs/p/labelspec.yaml"
_CONTROL = set(map(chr, [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]))

scalars = (
    st.text()
    | st.sampled_from(
        [
            "yes",
            "no",
            "on",
            "off",
            "y",
            "n",
            "~",
            "null",
            "NA",
            "010",
            "0o17",
            "1e3",
            "1_000",
            "1:30",
            "2024-01-05",
            "0x1F",
            "-.5",
            ".inf",
            "<<",
            "=",
            "true",
            "True",
            "",
            " ",
            "- a",
            "#x",
            "a: b",
        ]
    )
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.booleans()
    | st.none()
)
documents = st.dictionaries(
    st.text(),
    st.recursive(
        scalars,
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
        max_leaves=12,
    ),
    max_size=6,
)
# fragments that make raw text look like YAML, so the fuzzing reaches the scanner, parser and walk
fragments = st.sampled_from(
    [
        "a",
        "key",
        ": ",
        ":",
        "- ",
        "-",
        "\n",
        "  ",
        "\t",
        "[",
        "]",
        "{",
        "}",
        ", ",
        "'",
        '"',
        "\\",
        "&a ",
        "*a",
        "&b ",
        "*b",
        "!!str ",
        "!!python/object ",
        "!x ",
        "!",
        "<<: ",
        "? ",
        "#",
        "---\n",
        "...\n",
        "%YAML 1.1\n",
        "%TAG ! !\n",
        "|\n",
        ">-\n",
        "yes",
        "010",
        "1e3",
        "~",
        "null",
        "1",
        "1.5",
        ".nan",
        "2024-01-05",
        "\x00",
        "\x1b",
        "\x85",
        "\u2028",
        "\ufeff",
        "é",
        "\U0001f600",
        "\r\n",
        "\r",
    ]
)
yamlish = st.lists(fragments | st.text(max_size=3), max_size=40).map("".join)


def json_compatible(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and json_compatible(v) for k, v in value.items())
    if isinstance(value, list):
        return all(json_compatible(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


def same(a: Any, b: Any) -> bool:
    """Equality that also checks types (True is not 1) and treats -0.0 like 0.0 as YAML does."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))


def check_outcome(text: str | bytes) -> None:
    """Data that is JSON-compatible, or a SpecError whose every diagnostic sits inside the text."""
    try:
        raw = read_yaml_text(text, PATH)
    except SpecError as exc:
        assert exc.diagnostics
        decoded = text.decode("utf-8", "replace").removeprefix("\ufeff") if isinstance(text, bytes) else text
        lines = LINE_BREAK.split(decoded.removeprefix("\ufeff"))
        source = SourceMap(PATH, lines=tuple(lines))
        for diag in exc.diagnostics:
            assert diag.loc is not None and diag.loc.path == PATH
            assert diag.severity in ("error", "warning")
            if diag.code == "LS100" and diag.loc.line == 0:
                continue
            assert 1 <= diag.loc.line <= len(lines), (diag, lines)
            assert 1 <= diag.loc.column <= len(lines[diag.loc.line - 1]) + 1, (diag, lines)
            shown = excerpt(source, diag.loc)
            assert shown and not (set(shown) & _CONTROL - {"\n"}), shown
        return
    assert isinstance(raw.data, dict) and json_compatible(raw.data)
    assert all(d.severity == "warning" and d.code == "LS107" for d in raw.warnings)


@settings(max_examples=300, deadline=None)
@given(documents, st.booleans(), st.sampled_from([None, False, True]))
@example({"": [{" ": None, "\x85": None}]}, True, None)  # found in CI: the emitter's fold makes a duplicate
def test_safe_dump_round_trips(data: dict[str, Any], allow_unicode: bool, flow: bool | None) -> None:
    text = yaml.safe_dump(data, allow_unicode=allow_unicode, default_flow_style=flow)
    try:
        raw = read_yaml_text(text, PATH)
    except SpecError as exc:
        # a raw U+0085 in a quoted key folds to a space on reading (below), which can make two keys one: a
        # duplicate key, which labelspec refuses (LS102) where PyYAML keeps the last value
        assert "\x85" in text and {d.code for d in exc.diagnostics} == {"LS102"}, text
        return
    # PyYAML's own reader is the reference: it reads back what its emitter wrote, except where the emitter is
    # wrong (a raw U+0085 inside a quoted scalar folds to a space), and then both readers must agree.
    assert same(raw.data, yaml.safe_load(text)), text
    assert same(raw.data, data) or "\x85" in text, text
    assert all(d.code == "LS107" for d in raw.warnings)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yamlish)
def test_yaml_like_text_gives_data_or_located_errors(text: str) -> None:
    check_outcome(text)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_gives_data_or_located_errors(text: str) -> None:
    check_outcome(text)


@settings(max_examples=200, deadline=None)
@given(st.binary())
def test_arbitrary_bytes_give_data_or_located_errors(data: bytes) -> None:
    check_outcome(data)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(), st.text(), min_size=1, max_size=5), st.text(min_size=1, max_size=4))
def test_dumped_strings_with_extra_text_never_crash(data: dict[str, str], tail: str) -> None:
    check_outcome(yaml.safe_dump(data) + tail)
