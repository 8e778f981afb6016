"""Shape validation (LS2xx): every JSON Schema error mapped to a stable code at the exact line:col, with a hint."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from labelspec.errors import Diagnostic
from labelspec.spec.locate import Locator, pointer
from labelspec.spec.source import read_yaml_file, read_yaml_text
from labelspec.spec.validate import (
    map_error,
    policy_schema,
    spec_schema,
    validate_policy_shape,
    validate_shape,
)

VALID = Path(__file__).parent / "cases" / "valid"
HEAD = "labelspec: 1\nproject: {id: demo, title: Demo, version: 1.0.0}\n"
TASK = (
    "tasks:\n"
    "  intent:\n"
    "    kind: single_choice\n"
    "    question: What is the intent?\n"
    "    labels:\n"
    "      refund: {title: Refund, definition: Money back.}\n"
)


def shape(text: str) -> list[Diagnostic]:
    return validate_shape(read_yaml_text(text, "spec.yaml"))


def tuples(diags: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [d.check_tuple() for d in diags]


def test_packaged_schemas_are_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(spec_schema())
    Draft202012Validator.check_schema(policy_schema())
    assert sorted(policy_schema()["properties"]) == ["adjudication", "extends", "gates", "input", "labelspec",
                                                     "quality"]
    assert policy_schema()["required"] == [] and spec_schema()["required"] == ["labelspec", "project", "tasks"]


@pytest.mark.parametrize("case", sorted(p.name for p in VALID.iterdir()))
def test_valid_cases_have_the_shape_of_the_language(case: Path) -> None:
    raw = read_yaml_file(VALID / case / "labelspec.yaml", f"{case}/labelspec.yaml")
    assert validate_shape(raw) == []


def test_pointer_is_dotted_and_brackets_keys_that_are_not_plain_names() -> None:
    assert pointer(["tasks", "intent", "rules", 0, "expect", "label_in", 0]) == \
        "tasks.intent.rules[0].expect.label_in[0]"
    assert pointer(["gates", "agreement.intent"]) == 'gates["agreement.intent"]'
    assert pointer(["tasks", "x", "labels", "très bien"]) == 'tasks.x.labels["très bien"]'
    assert pointer([]) == ""


def test_unknown_keys_point_at_each_extra_key_with_a_suggestion() -> None:
    diags = shape(HEAD + TASK + "    lables: {}\n    questoin: Why?\nqualty: {}\n")
    assert tuples(diags) == [("LS201", 9, 5), ("LS201", 10, 5), ("LS201", 11, 1)]
    assert [d.pointer for d in diags] == ["tasks.intent.lables", "tasks.intent.questoin", "qualty"]
    assert [d.hint for d in diags] == ["did you mean 'labels'?", "did you mean 'question'?",
                                       "did you mean 'quality'?"]
    assert diags[0].message == "unknown key 'lables' in tasks.intent"


def test_unknown_key_without_a_close_match_lists_the_allowed_keys() -> None:
    (d,) = shape(HEAD + TASK + "adjudication: {zzz: 1}\n")
    assert d.code == "LS201" and d.hint is not None
    assert d.hint.startswith("allowed here: expert_review, max_iterations, method, min_support, tolerance")


def test_scale_anchor_keys_must_be_integers() -> None:
    text = HEAD + "tasks:\n  tone:\n    kind: rating\n    question: How?\n    scale: {min: 1, max: 5, anchors: {low: Bad}}\n"
    (d,) = shape(text)
    assert d.check_tuple() == ("LS201", 7, 39)
    assert d.hint == "keys here must be integers on the scale, quoted, e.g. '1'"


def test_bad_task_name_is_located_at_the_key_with_a_suggested_name() -> None:
    (d,) = shape(HEAD + "tasks:\n  Customer Intent: {kind: text, question: Why}\n")
    assert d.check_tuple() == ("LS201", 4, 3)
    assert d.pointer == 'tasks["Customer Intent"]'
    assert d.hint is not None and d.hint.endswith("e.g. 'customer_intent'")


def test_every_missing_required_key_is_reported_once_at_the_parent_mapping() -> None:
    diags = shape("labelspec: 1\nproject:\n  id: demo\ntasks:\n  t: {kind: text}\n")
    assert [(d.code, d.loc.line if d.loc else 0, d.message) for d in diags] == [
        ("LS202", 3, "missing required key 'title' in project"),
        ("LS202", 3, "missing required key 'version' in project"),
        ("LS202", 5, "missing required key 'question' in tasks.t"),
    ]
    (top,) = shape("labelspec: 1\ntasks: {t: {kind: text, question: q}}\n")
    assert top.check_tuple() == ("LS202", 1, 1) and top.message == "missing required key 'project' at the top level"


@pytest.mark.parametrize(("value", "hint"), [
    ("false", "'false' was read as boolean false; quote it"),
    ("~", "'~' was read as null; quote it"),
    ("null", "'null' was read as null; quote it"),
    ("", "an empty value was read as null; write a value"),
    ("1.10", "1.10 was read as a number; quote it: '1.10'"),
    ("2024", "2024 was read as a number; quote it: '2024'"),
])
def test_scalars_yaml_typed_where_text_was_expected_say_how_they_were_read(value: str, hint: str) -> None:
    (d,) = shape(HEAD.replace("title: Demo", "title: Demo, summary: " + value) + TASK)
    assert d.code == "LS203" and d.pointer == "project.summary"
    assert d.hint == hint


@pytest.mark.parametrize(("field", "value", "hint"), [
    ("summary", "!!int 5", "the tag !!int makes it a number; remove the tag"),
    ("summary", "!!bool true", "the tag !!bool makes it a boolean; remove the tag"),
])
def test_an_explicit_yaml_tag_is_named_instead_of_asking_to_quote_it(field: str, value: str, hint: str) -> None:
    """Quoting '!!int 5' would make the text "!!int 5": the tag itself is what to remove."""
    (d,) = shape(HEAD.replace("title: Demo", f"title: Demo, {field}: {value}") + TASK)
    assert d.code == "LS203" and d.hint == hint
    (d,) = shape(HEAD + TASK + "    min_choices: !!str 2\n")
    assert d.message == "expected an integer, got '2'" and d.hint == "the tag !!str makes it text; remove the tag"


def test_wrong_type_messages_name_expected_and_found_in_yaml_terms() -> None:
    (d,) = shape(HEAD + TASK + "    min_choices: '2'\n")
    assert d.message == "expected an integer, got '2'" and d.hint == "write the number without quotes"
    (d,) = shape(HEAD + TASK + "    required: 'yes'\n")
    assert d.message == "expected true or false, got 'yes'" and d.hint == "only true and false are booleans"


def test_enum_value_gets_a_did_you_mean() -> None:
    (d,) = shape(HEAD + TASK.replace("single_choice", "single_choise"))
    assert d.check_tuple() == ("LS204", 5, 11)
    assert d.hint == "did you mean 'single_choice'?"
    (d,) = shape(HEAD + TASK.replace("single_choice", "zzz"))
    assert d.hint is not None and d.hint.startswith("allowed: single_choice, multi_choice, rating")


def test_ranges_lengths_and_patterns_are_ls204_with_what_was_expected() -> None:
    diags = shape(HEAD.replace("version: 1.0.0", "version: '1.0'") + TASK + "quality: {agreement: {min: 80}}\n"
                  "adjudication: {tolerance: 0.5}\n")
    assert [(d.code, d.pointer) for d in diags] == [
        ("LS204", "project.version"), ("LS204", "quality.agreement.min"), ("LS204", "adjudication.tolerance")]
    assert diags[0].hint == "did you mean '1.0.0'?"
    assert diags[1].message == "number 80 is not allowed here: must be at most 1"
    assert diags[1].hint == "write a fraction of 1: 80% is 0.8"
    assert diags[2].message == "number 0.5 is not allowed here: must be at most 0.1"


def test_rule_condition_with_two_operators_says_exactly_one() -> None:
    rule = ("    rules:\n      - id: r\n        when: {field: body, matches: x, equals: y}\n"
            "        expect: {label_in: [refund], label_not_in: [refund]}\n")
    diags = shape(HEAD + TASK + rule)
    assert [(d.code, d.pointer, d.message) for d in diags] == [
        ("LS204", "tasks.intent.rules[0].when",
         "a rule condition takes `field` and exactly one of `matches`, `equals`, `in`"),
        ("LS204", "tasks.intent.rules[0].expect", "`expect` takes exactly one of `label_in`, `label_not_in`"),
    ]


def test_json_schema_ranges_let_nan_through_so_it_is_checked_explicitly() -> None:
    assert Draft202012Validator({"type": "number", "minimum": 0, "maximum": 1}).is_valid(math.nan)
    diags = shape(HEAD + TASK + "    agreement: {min: .nan}\nquality:\n  lead_time: {min_seconds: -.inf}\n")
    assert tuples(diags) == [("LS206", 9, 22), ("LS206", 11, 28)]  # -inf is not also reported as below minimum
    assert [d.pointer for d in diags] == ["tasks.intent.agreement.min", "quality.lead_time.min_seconds"]


def test_other_language_versions_are_ls200_and_nothing_else() -> None:
    (d,) = shape("labelspec: 2\nproject: {}\ntasks: {x: 1}\nwhatever: true\n")
    assert d.check_tuple() == ("LS200", 1, 12) and d.hint == "this labelspec reads version 1"
    (d,) = shape(HEAD.replace("labelspec: 1", "labelspec: '1'") + TASK)
    assert d.code == "LS203" and d.pointer == "labelspec"
    (d,) = shape(HEAD.replace("labelspec: 1", "labelspec: true") + TASK)
    assert d.code == "LS203"


def test_any_of_errors_are_ls205_with_the_closest_shape() -> None:
    raw = read_yaml_text("value:\n  a: 1\n", "x.yaml")
    schema = {"type": "object", "properties": {"value": {"anyOf": [{"type": "string"},
                                                                   {"type": "object", "required": ["b"]}]}}}
    errors = list(Draft202012Validator(schema).iter_errors(raw.data))
    (d,) = [d for e in errors for d in map_error(e, Locator([raw]))]
    assert d.code == "LS205" and d.pointer == "value"
    assert d.message.startswith("matches none of the allowed shapes; closest: ")


def test_all_problems_are_reported_at_once_sorted_by_location() -> None:
    text = ("labelspec: 1\nprojct: {}\ntasks:\n  intent:\n    kind: bad\n    question: ~\n"
            "quality: {agreement: {min: 2}, gold: {}}\n")
    diags = shape(text)
    assert tuples(diags) == [("LS202", 1, 1), ("LS201", 2, 1), ("LS204", 5, 11), ("LS203", 6, 15),
                             ("LS204", 7, 28), ("LS202", 7, 38)]
    assert all(d.excerpt for d in diags)


def test_policy_files_allow_only_policy_sections_and_require_nothing() -> None:
    assert validate_policy_shape(read_yaml_text("quality: {annotations_per_item: 3}\n", "p.yaml")) == []
    diags = validate_policy_shape(read_yaml_text("project: {id: x}\nquality: {gold: {}}\n", "p.yaml"))
    assert [(d.code, d.pointer) for d in diags] == [("LS201", "project"), ("LS202", "quality.gold")]
    assert all(d.loc is not None and d.loc.path == "p.yaml" for d in diags)


def test_label_ids_as_keys_obey_the_label_id_limits() -> None:
    (d,) = shape(HEAD + TASK + '      "": {title: Empty, definition: No id.}\n')
    assert (d.code, d.pointer, d.hint) == ("LS201", 'tasks.intent.labels[""]', "must not be empty")
    (d,) = shape(HEAD + TASK + f"    expected_distribution: {{{'x' * 201}: 1.0}}\n")
    assert d.code == "LS201" and d.hint == "must be at most 200 characters long"


@pytest.mark.parametrize(("written", "hint"), [
    ("1e-1", "write it in plain decimal digits: 0.1 (YAML versions disagree on 1e-1)"),
    ("0.5e0", "write it in plain decimal digits: 0.5 (YAML versions disagree on 0.5e0)"),
    ("1e-6", "write it in plain decimal digits: 0.000001 (YAML versions disagree on 1e-6)"),  # not 1e-06 again
    ('"0.5"', "write the number without quotes"),
])
def test_numbers_yaml_versions_read_differently_get_one_hint(tmp_path: Path, written: str, hint: str) -> None:
    """``1e-1`` stays text (YAML 1.1 reads it so); the error says what to write, and no LS107 "quote it" beside
    it contradicts that."""
    from labelspec.errors import SpecError
    from labelspec.spec.load import load_spec

    (tmp_path / "labelspec.yaml").write_text(HEAD + TASK + f"quality: {{agreement: {{min: {written}}}}}\n", "utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(tmp_path)
    (d,) = info.value.diagnostics
    assert d.code == "LS203" and d.hint == hint


def test_a_float_is_never_read_as_an_integer() -> None:
    """JSON Schema's integer accepts 3.0; a spec's 3.0 is not silently retyped (G3e)."""
    (d,) = shape(HEAD + TASK + "quality: {annotations_per_item: 3.0}\n")
    assert d.code == "LS203" and d.message == "expected an integer, got number 3.0" and d.hint == "use a whole number"
