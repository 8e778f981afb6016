"""The strict spec loader (GUARANTEES G3): one test per hazard, asserting (code, line, column) and text."""

from __future__ import annotations

import math
import os
import pathlib
import stat
import time

import pytest
import yaml

from labelspec.errors import SourceLocation, SpecError
from labelspec.spec import strict_yaml
from labelspec.spec.source import RawSpec, SourceMap, excerpt, read_yaml_file, read_yaml_text

PATH = "specs/demo/labelspec.yaml"


def load(text: str | bytes) -> RawSpec:
    return read_yaml_text(text, PATH)


def problems(text: str | bytes) -> list[tuple[str, int, int]]:
    with pytest.raises(SpecError) as info:
        load(text)
    assert all(d.loc is not None and d.loc.path == PATH for d in info.value.diagnostics)
    return [d.check_tuple() for d in info.value.diagnostics]


def messages(text: str | bytes) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(text)
    return [d.message for d in info.value.diagnostics]


# --- duplicate keys (LS102) -------------------------------------------------------------------------------


def test_duplicate_key_names_both_lines() -> None:
    text = "version: 1\nname: a\nlabels: []\nname: b\n"
    assert problems(text) == [("LS102", 4, 1)]
    assert messages(text) == ["duplicate key 'name' (first defined at line 2)"]


@pytest.mark.parametrize(("text", "shown"), [
    ("version: 1\nname: a\nname: b\n", ">   3 | name: b"),  # duplicate key (LS102)
    ("version: 1\nname: [a\n", ">   3 |"),  # syntax (LS101), at the end of the text
    ("version: 1\nname: !!python/name:os.system x\n", ">   2 | name: !!python/name:os.system x"),  # LS103
])
def test_yaml_level_errors_show_their_line_like_the_others(text: str, shown: str) -> None:
    with pytest.raises(SpecError) as info:
        load(text)
    assert [d.excerpt.splitlines()[-2 if d.loc.column else -1] for d in info.value.diagnostics  # type: ignore[union-attr]
            ] == [shown]


@pytest.mark.parametrize("hidden", ["\u2028", "\u2029", "\x85"])
def test_lines_are_counted_as_editors_count_them(hidden: str) -> None:
    """PyYAML also breaks lines at U+2028, U+2029 and U+0085; grep and editors do not, and neither do we."""
    text = f'a: "x{hidden}y{hidden}z"\nb: 1\nb: 2\n'
    assert problems(text)[0] == ("LS102", 3, 1)
    assert messages(text)[0] == "duplicate key 'b' (first defined at line 2)"
    raw = load(f'a: "x{hidden}y"\nb: [1, 2]\n')
    assert raw.source.locate(("b",)).line == 2 and raw.source.line_text(2) == "b: [1, 2]"
    # the text is YAML 1.1's: U+2028 and U+2029 are kept; NEL in a quoted string folds like a line break
    assert raw.data["a"] == (f"x{hidden}y" if hidden != "\x85" else "x y")


def test_duplicate_key_spelled_differently_is_still_duplicate() -> None:
    assert problems("outer:\n  a: 1\n  'a': 2\n") == [("LS102", 3, 3)]


def test_merged_key_overridden_explicitly_is_not_duplicate() -> None:
    raw = load("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  x: 9\n")
    assert raw.data["m"] == {"x": 9, "y": 2}


def test_two_merge_keys_are_a_duplicate() -> None:
    assert problems("a: &a {x: 1}\nm:\n  <<: *a\n  <<: *a\n") == [("LS102", 4, 3)]


# --- tags (LS103) -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "shown"),
    [
        ("a: !!python/object:os.system echo\n", 4, "!!python/object:os.system"),
        ("a: !!python/object/apply:os.system [ls]\n", 4, "!!python/object/apply:os.system"),
        ("a: !custom 1\n", 4, "!custom"),
        ("a: !!binary aGk=\n", 4, "!!binary"),
        ("a: !!set {x: null}\n", 4, "!!set"),
        ("a: !!omap [x: 1]\n", 4, "!!omap"),
        ("a: !!timestamp 2024-01-05\n", 4, "!!timestamp"),
        ("a: &anchor !!python/tuple [1]\n", 12, "!!python/tuple"),
        ("a: !<tag:example.com,2024:thing> 1\n", 4, "tag:example.com,2024:thing"),
    ],
)
def test_forbidden_tag_is_located_at_the_tag(text: str, column: int, shown: str) -> None:
    assert problems(text) == [("LS103", 1, column)]
    assert messages(text)[0].startswith(f"tag '{shown}' is not allowed")


def test_core_tags_are_allowed_and_explicit_str_is_not_warned() -> None:
    raw = load(
        "a: !!str no\nb: !!int '12'\nc: !!float 1\nd: !!bool true\ne: !!null ''\nf: !!seq [1]\ng: !!map {}\n"
    )
    assert raw.data == {"a": "no", "b": 12, "c": 1.0, "d": True, "e": None, "f": [1], "g": {}}
    assert raw.warnings == ()


def test_core_tag_on_a_value_it_cannot_read_is_located() -> None:
    assert problems("a: !!int x\nb: !!bool yes\nc: !!str [1]\n") == [
        ("LS101", 1, 4),
        ("LS101", 2, 4),
        ("LS103", 3, 4),
    ]


def test_tag_handle_redefined_by_directive_is_still_checked() -> None:
    assert problems("%TAG !! tag:example.com,2024:\n---\na: !!str x\n") == [("LS103", 3, 4)]


# --- expansion budget and depth (LS104) -------------------------------------------------------------------


def _laughs(levels: int) -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        prev, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_fails_fast_at_the_crossing_alias() -> None:
    start = time.perf_counter()
    codes = problems(_laughs(9))
    assert time.perf_counter() - start < 0.5
    # sizes 10, 91, 820, 7381, 66430 (+ keys): the first alias of level 6 crosses 100k
    assert codes == [("LS104", 6, 8)]
    assert messages(_laughs(9)) == ["aliases expand to over 100000 nodes"]


def test_aliases_under_the_budget_expand_to_independent_copies() -> None:
    raw = load(_laughs(4))
    assert len(raw.data["d"]) == 9 and len(raw.data["d"][0][0]) == 9 and raw.data["d"][0][0][0][0] == "lol"
    assert raw.data["b"][0] == raw.data["a"] and raw.data["b"][0] is not raw.data["a"]


def test_aliases_repeating_long_text_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Few nodes, much text: 60 copies of a 100 KB string (6 MB from a 100 KB spec) stop at the alias that
    crosses the text budget (QA: 400 KB of spec reached 2 GB of guidelines)."""
    text = f'n: &n "{"x" * 100_000}"\ncopies: [' + ", ".join(["*n"] * 60) + "]\n"
    assert problems(text) == [("LS104", 2, 10 + 4 * 41)]  # the 42nd alias: 4.2 MB > 4 MiB
    assert messages(text) == ["aliases repeat over 4 MiB of text"]
    monkeypatch.setattr(strict_yaml, "MAX_ALIAS_CHARS", 7_000_000)
    assert len(load(text).data["copies"]) == 60


def test_plain_node_count_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    # without aliases, pure-Python PyYAML needs ~5 s to compose 100k nodes, so the cap is lowered here
    monkeypatch.setattr(strict_yaml, "MAX_NODES", 1000)
    # root mapping, key, sequence: 3 nodes, so item 998 (0-based 997, at index 4 + 2 * 997) crosses
    assert problems("a: [" + "1," * 1001 + "]\n") == [("LS104", 1, 4 + 2 * 997 + 1)]
    assert messages("a: [" + "1," * 1001 + "]\n") == ["the document has over 1000 nodes"]


def test_recursive_alias_is_refused() -> None:
    assert problems("a: &a [1, *a]\n") == [("LS104", 1, 11)]


def test_nesting_deeper_than_64_is_refused() -> None:
    assert problems("a: " + "[" * 64 + "]" * 64 + "\n") == [("LS104", 1, 67)]
    node, levels = load("a: " + "[" * 63 + "]" * 63 + "\n").data["a"], 1  # 63 + the root mapping = 64: fine
    while node:
        node, levels = node[0], levels + 1
    assert levels == 63
    assert problems("[" * 1500 + "]" * 1500) == [("LS104", 1, 65)]  # fails before any RecursionError


def test_nesting_via_alias_counts_the_expanded_depth() -> None:
    anchor = "a: &a " + "[" * 40 + "]" * 40 + "\n"
    assert problems(anchor + "b: " + "[" * 24 + "*a" + "]" * 24 + "\n") == [("LS104", 2, 28)]  # 1 + 24 + 40
    assert len(load(anchor + "b: " + "[" * 23 + "*a" + "]" * 23 + "\n").data["b"]) == 1  # 1 + 23 + 40 = 64


# --- key types (LS106) ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("x:\n  1: a\n", 2, 3, "mapping key '1' is read as an integer; keys must be strings"),
        ("null: a\n", 1, 1, "mapping key 'null' is read as null; keys must be strings"),
        ("~: a\n", 1, 1, "mapping key '~' is read as null; keys must be strings"),
        ("true: a\n", 1, 1, "mapping key 'true' is read as a boolean; keys must be strings"),
        ("1.5: a\n", 1, 1, "mapping key '1.5' is read as a number; keys must be strings"),
        ("[a]: b\n", 1, 1, "a sequence cannot be a mapping key; keys must be strings"),
        ("? {a: b}\n: c\n", 1, 3, "a mapping cannot be a mapping key; keys must be strings"),
        ("k: &k 1\nm: {*k : v}\n", 2, 5, "mapping key '1' is read as an integer; keys must be strings"),
    ],
)
def test_non_string_key_is_located_at_the_key(text: str, line: int, column: int, message: str) -> None:
    assert problems(text) == [("LS106", line, column)]
    assert messages(text) == [message]


def test_quoted_keys_are_strings() -> None:
    assert load("'1': a\n'null': b\n'true': c\n").data == {"1": "a", "null": "b", "true": "c"}


# --- document shape (LS105) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("", (1, 1)),
        ("# only a comment\n\n", (1, 1)),
        ("- a\n- b\n", (1, 1)),
        ("just text\n", (1, 1)),
        ("a: 1\n---\nb: 2\n", (2, 1)),
        ("---\na: 1\n...\n---\nb: 2\n", (4, 1)),
    ],
)
def test_document_shape_problems(text: str, where: tuple[int, int]) -> None:
    assert problems(text) == [("LS105", *where)]


# --- bytes, decoding and reader errors (LS100, LS101) -----------------------------------------------------


def test_text_over_the_size_cap_is_refused() -> None:
    assert problems(b"a: " + b"x" * (1 << 20)) == [("LS100", 0, 0)]
    with pytest.raises(SpecError) as info:
        read_yaml_text("a: 12345", PATH, max_bytes=5)
    assert info.value.diagnostics[0].message == "file is 8 bytes; the limit is 5"


def test_invalid_utf8_names_the_line_and_column_of_the_bad_byte() -> None:
    assert problems(b"a: 1\nb: caf\xe9\n") == [("LS100", 2, 7)]
    assert messages(b"a: 1\nb: caf\xe9\n") == ["not valid UTF-8 (byte 0xe9: invalid continuation byte)"]
    assert problems("a: 1\nb: é\xe9".encode("utf-8")[:-2] + b"\xff") == [("LS100", 2, 5)]


def test_utf8_bom_is_accepted_and_stripped() -> None:
    raw = load(b"\xef\xbb\xbfname: x\n")
    assert raw.data == {"name": "x"} and raw.source.locate(("name",)) == SourceLocation(PATH, 1, 7)
    assert load("\ufeffname: x\n").data == {"name": "x"}


@pytest.mark.parametrize(
    ("text", "where", "code_point"),
    [
        ("a: 1\nb: x\x00y\n", (2, 5), "U+0000"),
        ("a: \x1b[31m\n", (1, 4), "U+001B"),
        ("a: \ud800\n", (1, 4), "U+D800"),
        ("a: 1\r\nb: \x07\n", (2, 4), "U+0007"),
    ],
)
def test_control_characters_are_located_from_the_character_offset(
    text: str, where: tuple[int, int], code_point: str
) -> None:
    assert problems(text) == [("LS101", *where)]
    assert messages(text)[0].startswith(f"character {code_point} is not allowed in YAML")


def test_syntax_errors_give_the_problem_and_its_context() -> None:
    assert problems("a: 'unclosed\nb: 2\n") == [("LS101", 3, 1)]
    assert messages("a: 'unclosed\nb: 2\n") == [
        "found unexpected end of stream (while scanning a quoted scalar at line 1)"
    ]
    assert problems("a: 1\nb: [1, 2\nc: 3\n") == [("LS101", 3, 2)]
    assert problems("a:\n\tb: 1\n") == [("LS101", 2, 1)]
    assert problems("a: *nowhere\n") == [("LS101", 1, 4)]
    assert messages("a: *nowhere\n") == ["found undefined alias 'nowhere'"]


def test_huge_integer_is_a_located_error_not_a_traceback() -> None:
    text = "count: " + "1" * 5000 + "\n"
    assert problems(text) == [("LS101", 1, 8)]
    assert "Exceeds the limit (4300 digits)" in messages(text)[0]
    assert load("count: '" + "1" * 5000 + "'\n").data["count"] == "1" * 5000


def test_lone_surrogate_escape_is_refused() -> None:
    assert problems('a: "\\ud800"\n') == [("LS101", 1, 4)]
    assert load('a: "\\U0001F600"\n').data == {"a": "\U0001f600"}


# --- scalars: nothing is silently retyped (LS107 warnings) ------------------------------------------------


def test_yes_no_on_off_stay_strings_with_warnings() -> None:
    raw = load("labels: [yes, no, on, off, y, n, Yes, NO, Off]\n")
    assert raw.data == {"labels": ["yes", "no", "on", "off", "y", "n", "Yes", "NO", "Off"]}
    assert [d.check_tuple() for d in raw.warnings] == [
        ("LS107", 1, c) for c in (10, 15, 19, 23, 28, 31, 34, 39, 43)
    ]
    assert raw.warnings[1].message == "'no' would be read as boolean false by YAML 1.1 tools; quote it"
    assert raw.warnings[1].severity == "warning" and raw.warnings[1].pointer == "labels[1]"
    assert raw.warnings[1].hint == "quote it: 'no'"


@pytest.mark.parametrize(
    ("plain", "value", "message"),
    [
        ("2024-01-05", "2024-01-05", "'2024-01-05' would be read as a date by YAML 1.1 tools; quote it"),
        (
            "2024-01-05 10:00:00",
            "2024-01-05 10:00:00",
            "'2024-01-05 10:00:00' would be read as a date by YAML 1.1 tools; quote it",
        ),
        ("010", "010", "'010' would be read as the integer 8 by YAML 1.1 tools; quote it"),
        ("1_000", "1_000", "'1_000' would be read as the integer 1000 by YAML 1.1 tools; quote it"),
        ("1:30", "1:30", "'1:30' would be read as the integer 90 by YAML 1.1 tools; quote it"),
        ("09", "09", "'09' would be read as a number by YAML 1.2 tools; quote it"),
        ("1e3", "1e3", "'1e3' would be read as a number by YAML 1.2 tools; quote it"),
        ("0o17", "0o17", "'0o17' would be read as a number by YAML 1.2 tools; quote it"),
    ],
)
def test_scalars_other_yamls_retype_stay_strings(plain: str, value: str, message: str) -> None:
    raw = load(f"v: {plain}\n")
    assert raw.data == {"v": value}
    assert [(d.check_tuple(), d.message) for d in raw.warnings] == [(("LS107", 1, 4), message)]


@pytest.mark.parametrize(
    ("plain", "value"),
    [
        ("NA", "NA"),
        ("None", "None"),
        ("null", None),
        ("Null", None),
        ("~", None),
        ("", None),
        ("'null'", "null"),
        ("'no'", "no"),
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("12", 12),
        ("-3", -3),
        ("+12", 12),
        ("0", 0),
        ("0x1F", 31),
        ("0.9", 0.9),
        ("1.", 1.0),
        (".5", 0.5),
        ("1.0e+3", 1000.0),
        ("-1.5e-3", -0.0015),
        ("tRUE", "tRUE"),
        ("=", "="),
        ("<<", "<<"),
    ],
)
def test_scalars_both_yamls_agree_on_keep_their_type(plain: str, value: object) -> None:
    raw = load(f"v: {plain}\n")
    assert raw.data == {"v": value} and type(raw.data["v"]) is type(value)
    assert raw.warnings == ()


def test_nan_and_infinity_stay_floats_for_the_validator() -> None:
    data = load("a: .nan\nb: .inf\nc: -.inf\nd: +.INF\ne: .NaN\n").data
    assert math.isnan(data["a"]) and math.isnan(data["e"])
    assert (data["b"], data["c"], data["d"]) == (math.inf, -math.inf, math.inf)


def test_keys_are_strings_without_warnings_but_values_are_warned() -> None:
    raw = load("on: off\n")  # a key is a string in every spec: `on:` needs no quotes; the value `off` does
    assert raw.data == {"on": "off"} and [d.check_tuple() for d in raw.warnings] == [("LS107", 1, 5)]


def test_global_safe_loader_is_not_modified() -> None:
    load("a: yes\n")
    assert yaml.safe_load("- yes\n- 2024-01-05\n- 010\n") == [
        True,
        __import__("datetime").date(2024, 1, 5),
        8,
    ]


# --- merge keys -------------------------------------------------------------------------------------------


def test_merge_keys_follow_yaml_merge_semantics() -> None:
    text = (
        "defaults: &d {min_annotators: 3, metric: alpha, level: nominal}\n"
        "strict: &s {min_annotators: 5, gold: true}\n"
        "task:\n"
        "  <<: [*s, *d]\n"
        "  metric: kappa\n"
    )
    raw = load(text)
    assert raw.data["task"] == {"min_annotators": 5, "gold": True, "metric": "kappa", "level": "nominal"}
    assert list(raw.data["task"]) == ["min_annotators", "gold", "level", "metric"]
    src = raw.source
    assert src.locate(("task", "min_annotators")) == SourceLocation(PATH, 2, 29)  # the earlier source wins
    assert src.locate_key(("task", "level")) == SourceLocation(PATH, 1, 49)
    assert src.locate(("task", "metric")) == SourceLocation(PATH, 5, 11)  # the explicit key wins


def test_nested_merges_resolve_and_stay_independent() -> None:
    raw = load("a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b, z: 3}\nd: {'<<': 1}\n")
    assert raw.data["c"] == {"x": 1, "y": 2, "z": 3} and raw.data["d"] == {"<<": 1}  # a quoted '<<' is a key
    assert raw.source.locate(("c", "x")) == SourceLocation(PATH, 1, 11)
    raw.data["c"]["x"] = 99
    assert raw.data["a"] == {"x": 1} and raw.data["b"]["x"] == 1


def test_merge_of_a_scalar_is_an_error() -> None:
    assert problems("a: &a 1\nb:\n  <<: *a\n") == [("LS101", 3, 7)]


# --- collecting everything at once ------------------------------------------------------------------------


def test_all_problems_are_reported_in_one_pass() -> None:
    text = "a: 1\nb: !!python/name:os.system x\na: 2\n3: x\nc: [yes]\n"
    assert problems(text) == [("LS103", 2, 4), ("LS102", 3, 1), ("LS106", 4, 1), ("LS107", 5, 5)]
    with pytest.raises(SpecError) as info:
        load(text)
    assert [d.severity for d in info.value.diagnostics] == ["error", "error", "error", "warning"]


def test_problems_inside_an_alias_are_reported_once() -> None:
    assert problems("a: &a {x: 1, x: 2}\nb: *a\nc: *a\n") == [("LS102", 1, 14)]


# --- source map -------------------------------------------------------------------------------------------

DOC = """\
version: 1
project: support-intent
tasks:
  intent:
    kind: single_choice
    labels:
      - id: billing
        description: "Money"
      - id: dispute
    rules:
      - when: {text_contains: refund}
        expect:
          label_in: [billing, dispute]
gates:
  - id: kappa
    min: 0.7
"""


def test_locate_and_locate_key_on_a_nested_document() -> None:
    src = load(DOC).source
    assert src.path == PATH

    def at(*parts: str | int) -> tuple[int, int]:
        return src.locate(parts).line, src.locate(parts).column

    def key(*parts: str | int) -> tuple[int, int]:
        return src.locate_key(parts).line, src.locate_key(parts).column

    assert at() == (1, 1)
    assert at("version") == (1, 10) and key("version") == (1, 1)
    assert at("tasks", "intent") == (5, 5) and key("tasks", "intent") == (4, 3)
    assert at("tasks", "intent", "labels", 0) == (7, 9) and key("tasks", "intent", "labels", 0) == (7, 9)
    assert at("tasks", "intent", "labels", 0, "description") == (8, 22)
    assert key("tasks", "intent", "labels", 0, "description") == (8, 9)
    assert at("tasks", "intent", "rules", 0, "when", "text_contains") == (11, 31)
    assert at("tasks", "intent", "rules", 0, "expect", "label_in", 1) == (13, 31)
    assert at("gates", 0, "min") == (16, 10) and key("gates", 0, "min") == (16, 5)
    # a path that does not exist falls back to its nearest ancestor
    assert at("gates", 0, "nope", 3) == (16 - 1, 5) and at("gates", 7) == (15, 3)
    assert (
        src.line_text(2) == "project: support-intent"
        and src.line_text(0) is None
        and src.line_text(18) is None
    )


def test_alias_paths_point_at_the_alias_and_inner_paths_where_written() -> None:
    src = load("base: &b\n  x: 1\nuse: *b\n").source
    assert src.locate(("use",)) == SourceLocation(PATH, 3, 6)
    assert src.locate(("use", "x")) == SourceLocation(PATH, 2, 6)


def test_excerpt_is_numbered_with_a_caret_and_masks_control_characters() -> None:
    src = load(DOC).source
    assert excerpt(src, SourceLocation(PATH, 13, 31)).splitlines() == [
        "   12 |         expect:",
        ">  13 |           label_in: [billing, dispute]",
        "      | " + " " * 30 + "^",
    ]
    assert excerpt(src, SourceLocation(PATH, 1, 1)) == ">   1 | version: 1\n      | ^"
    assert excerpt(src, SourceLocation(PATH, 99, 1)) == ""
    masked = SourceMap(PATH, lines=("a:\t\x1b[31mred\u202e",))
    assert excerpt(masked, SourceLocation(PATH, 1, 4)) == ">   1 | a: \ufffd[31mred\ufffd\n      |    ^"
    wide = SourceMap(PATH, lines=("x" * 500,))
    shown = excerpt(wide, SourceLocation(PATH, 1, 300)).splitlines()
    assert shown[0] == ">   1 | …" + "x" * 120 + "…" and shown[1].index("^") - shown[0].index("…") == 61


# --- files ------------------------------------------------------------------------------------------------


def test_reads_a_regular_file_and_names_it_as_given(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "labelspec.yaml"
    spec.write_bytes(b"version: 1\n")
    assert read_yaml_file(spec).data == {"version": 1}
    assert read_yaml_file(spec, "specs/x/labelspec.yaml").source.path == "specs/x/labelspec.yaml"


def test_symlink_to_a_regular_file_is_read(tmp_path: pathlib.Path) -> None:
    (tmp_path / "real.yaml").write_text("a: 1\n", encoding="utf-8")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "real.yaml")
    assert read_yaml_file(tmp_path / "link.yaml").data == {"a": 1}


def _file_problem(path: pathlib.Path, **kwargs: int) -> tuple[tuple[str, int, int], str, str]:
    with pytest.raises(SpecError) as info:
        read_yaml_file(path, "shown.yaml", **kwargs)
    (diag,) = info.value.diagnostics
    assert diag.loc is not None
    return diag.check_tuple(), diag.loc.path, diag.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path: pathlib.Path) -> None:
    os.mkfifo(tmp_path / "spec.yaml")
    assert _file_problem(tmp_path / "spec.yaml") == (
        ("LS100", 0, 0),
        "shown.yaml",
        "not a regular file: a FIFO",
    )


def test_directory_missing_file_and_device_are_refused(tmp_path: pathlib.Path) -> None:
    assert _file_problem(tmp_path)[2] == "not a regular file: a directory"
    assert _file_problem(tmp_path / "missing.yaml")[2] == "cannot read the file: No such file or directory"
    if pathlib.Path("/dev/null").exists():
        assert _file_problem(pathlib.Path("/dev/null"))[2] == "not a regular file: a character device"


def test_file_over_the_size_cap_is_refused_before_reading(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "big.yaml"
    spec.write_bytes(b"a: " + b"x" * 100)
    assert _file_problem(spec, max_bytes=50) == (
        ("LS100", 0, 0),
        "shown.yaml",
        "file is 103 bytes; the limit is 50",
    )
    with pytest.raises(SpecError) as info:
        read_yaml_file(spec, max_bytes=50)
    assert info.value.diagnostics[0].hint == "keep items, gold and long examples in the data files the spec names"
    with pytest.raises(SpecError) as info:
        read_yaml_file(tmp_path)
    assert info.value.diagnostics[0].hint == "name a regular spec file"


def test_the_open_file_is_checked_again_with_fstat(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(b"a: 1\n")
    real = os.stat(spec)
    fifo = os.stat_result((stat.S_IFIFO | 0o644, *real[1:]))
    monkeypatch.setattr(os, "fstat", lambda fd: fifo)
    assert _file_problem(spec)[2] == "not a regular file: a FIFO"
    other = os.stat_result((real.st_mode, real.st_ino + 1, *real[2:]))
    monkeypatch.setattr(os, "fstat", lambda fd: other)
    assert _file_problem(spec)[2] == "the file was replaced while it was being opened"


def test_decode_error_in_a_file_is_located(tmp_path: pathlib.Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(b"a: 1\nb: \xc3\x28\n")
    assert _file_problem(spec)[0] == ("LS100", 2, 4)


@pytest.mark.parametrize(("text", "code", "hint"), [
    ("a: 1\n\tb: 2\n", "LS101", "YAML indents with spaces only: replace the tab"),
    ("a: 1\n---\nb: 2\n", "LS105", "remove the `---` line and what follows, or move it into its own spec"),
    ("a: " + "[" * 70 + "]" * 70 + "\n", "LS104", "flatten the spec: fewer nested lists and mappings"),
])
def test_yaml_errors_carry_a_hint_that_fits(text: str, code: str, hint: str) -> None:
    """G2: every spec error has a fix hint (an audit found none for a tab or a second document, and "reuse less"
    for deep nesting without a single alias)."""
    with pytest.raises(SpecError) as info:
        read_yaml_text(text, "s.yaml")
    (d,) = info.value.diagnostics
    assert (d.code, d.hint) == (code, hint)
