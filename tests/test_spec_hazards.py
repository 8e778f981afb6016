"""Spec text that validated and then broke an output: each is now refused at validate, located, or kept apart.

Found by adversarial specs: a trailing newline in a pattern-checked value, control characters in the step keys
Label Studio carries as attributes, generated names that clash, repeated hotkeys and scale anchors, a language
version written as ``1.0``, and a changelog date that is no day of the calendar.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest
from conftest import Tiny

from labelspec.emit.labelstudio import labelstudio_view
from labelspec.errors import Diagnostic, SpecError, UsageError
from labelspec.spec.load import load_spec
from labelspec.spec.locate import pointer
from labelspec.spec.scaffold import scaffold
from labelspec.spec.source import read_yaml_text
from labelspec.spec.validate import anchored, validate_shape

HEAD = "labelspec: 1\nproject: {id: demo, title: Demo, version: 1.0.0}\n"
TASK = ("tasks:\n  intent:\n    kind: single_choice\n    question: What is the intent?\n    labels:\n"
        "      refund: {title: Refund, definition: Money back.}\n")


RATING = "tasks:\n  tone:\n    kind: rating\n    question: Tone?\n    scale: {{min: 1, max: 3, anchors: {anchors}}}\n"


def shape(text: str) -> list[Diagnostic]:
    return validate_shape(read_yaml_text(text, "spec.yaml"))


def meaning(tiny: Tiny) -> list[Diagnostic]:
    with pytest.raises(SpecError) as info:
        load_spec(tiny.root)
    return list(info.value.diagnostics)


@pytest.mark.parametrize(("text", "where", "code"), [
    (HEAD.replace("id: demo", 'id: "demo\\n"') + TASK, "project.id", "LS204"),
    (HEAD.replace("1.0.0", '"1.0.0\\n"') + TASK, "project.version", "LS204"),
    (HEAD + TASK.replace("  intent:", '  "intent\\n":'), 'tasks["intent\\n"]', "LS201"),
    (HEAD + TASK.replace("{title: Refund,", '{hotkey: "r\\n", title: Refund,'),
     "tasks.intent.labels.refund.hotkey", "LS204"),
    (HEAD + TASK + '    edge_cases:\n      - {id: "x\\n", when: W, label: refund, why: Y}\n',
     "tasks.intent.edge_cases[0].id", "LS204"),
    (HEAD.replace("version: 1.0.0}", 'version: 1.0.0, changelog: [{version: 1.0.0, date: "2024-01-01\\n", '
                  "changes: [c]}]}") + TASK, "project.changelog[0].date", "LS204"),
    (HEAD + "items: {file: i.jsonl, fields: {\"text\\n\": {type: text}}}\n" + TASK,
     'items.fields["text\\n"]', "LS201"),
    (HEAD + RATING.format(anchors='{"1\\n": Low}'), 'tasks.tone.scale.anchors["1\\n"]', "LS201"),
])
def test_a_trailing_newline_matches_no_pattern(text: str, where: str, code: str) -> None:
    diags = [d for d in shape(text) if d.pointer == where]
    assert [d.code for d in diags] == [code], [(d.code, d.pointer, d.message) for d in shape(text)]
    assert diags[0].loc is not None and diags[0].loc.line > 0


def test_anchoring_reads_a_final_dollar_as_the_end_of_the_text() -> None:
    assert anchored("^[a-z]$").search("a") and not anchored("^[a-z]$").search("a\n")
    assert anchored(r"^a\$").search("a$\n")  # an escaped `$` is a character, left alone
    assert not anchored(r"^a\\$").search("a\\\n")  # an escaped backslash, then the end
    assert pointer(["tasks", "a\n"]) == 'tasks["a\\n"]'
    with pytest.raises(UsageError):
        scaffold("single_choice", "demo\n")


def test_step_keys_label_studio_cannot_carry_are_ls304(tiny_project: Callable[..., Tiny]) -> None:
    tiny = tiny_project(extra_labels="  st:\n    kind: single_choice\n    unit: step\n    question: Q?\n"
                                     "    labels:\n      ok: {title: OK, definition: Fine.}\n")
    spec = tiny.root / "labelspec.yaml"
    spec.write_text(spec.read_text("utf-8").replace(
        "{text: {type: text}}", '{text: {type: text}, steps: {type: list, name_key: "a\\x01b", '
                                'text_key: "t\\uFFFE"}}'), "utf-8")
    diags = meaning(tiny)
    assert [(d.code, d.pointer) for d in diags] == [("LS304", "items.fields.steps.name_key"),
                                                    ("LS304", "items.fields.steps.text_key")]
    assert all(d.loc is not None and d.loc.line == 3 for d in diags)


@pytest.mark.parametrize("field", [False, True])
def test_generated_list_names_never_repeat_a_name(tiny_project: Callable[..., Tiny], field: bool) -> None:
    ranking = "  rk:\n    kind: ranking\n    question: Rank.\n    options: [a, b]\n"
    clash = "" if field else "  rk_options:\n    kind: text\n    question: Why?\n"
    tiny = tiny_project(extra_labels=ranking + clash)
    if field:
        spec = tiny.root / "labelspec.yaml"
        spec.write_text(spec.read_text("utf-8").replace(
            "{text: {type: text}}", "{text: {type: text}, rk_options: {type: text}}"), "utf-8")
    root = ET.fromstring(labelstudio_view(load_spec(tiny.root)))
    names = [el.attrib["name"] for el in root.iter() if "name" in el.attrib]
    assert len(names) == len(set(names)), names
    ranker = next(root.iter("Ranker"))
    assert ranker.attrib["toName"] == "rk_options_item"
    assert next(root.iter("List")).attrib["name"] == "rk_options_item"


def test_two_labels_of_a_task_with_one_hotkey(tiny_project: Callable[..., Tiny]) -> None:
    tiny = tiny_project()
    spec = tiny.root / "labelspec.yaml"
    text = spec.read_text("utf-8")
    spec.write_text(text.replace("{title: Positive,", "{hotkey: p, title: Positive,")
                    .replace("{title: Negative,", "{hotkey: p, title: Negative,"), "utf-8")
    (d,) = meaning(tiny)
    assert (d.code, d.pointer) == ("LS302", "tasks.sentiment.labels.neg.hotkey")
    assert d.loc is not None and (d.loc.line, d.loc.column) == (11, 21) and ":10:21" in d.message


@pytest.mark.parametrize(("anchors", "second"), [('{"-0": Low, "0": Mid}', "0"), ('{"1": A, "01": B}', "01")])
def test_two_anchors_for_one_scale_point(tiny_project: Callable[..., Tiny], anchors: str, second: str) -> None:
    rating = f"  tone:\n    kind: rating\n    question: Tone?\n    scale: {{min: -2, max: 2, anchors: {anchors}}}\n"
    (d,) = meaning(tiny_project(extra_labels=rating))
    assert (d.code, d.pointer) == ("LS302", f"tasks.tone.scale.anchors[{second!r}]".replace("'", '"'))
    assert d.loc is not None and d.loc.line == 16 \
        and rating.splitlines()[-1].index(f'"{second}":') == d.loc.column - 1


def test_a_scale_anchor_too_long_for_an_integer_is_refused() -> None:
    """PyYAML caps a simple key at 1024 characters; an explicit key (``?``) is not capped, and ``int()`` of
    more than 4300 digits raises: the schema takes at most 18 digits."""
    raw = read_yaml_text(HEAD + "tasks:\n  t:\n    kind: rating\n    question: Q?\n    scale:\n      min: 1\n"
                         f'      max: 3\n      anchors:\n        ? "{"1" * 5000}"\n        : far\n', "spec.yaml")
    assert [d.code for d in validate_shape(raw)] == ["LS201"]


@pytest.mark.parametrize("written", ["1.0", "0x1", "!!int 0x1"])
def test_the_language_version_is_the_integer_1_as_written(written: str) -> None:
    (d,) = shape(HEAD.replace("labelspec: 1", f"labelspec: {written}") + TASK)
    assert d.check_tuple() == ("LS203", 1, 12) and d.pointer == "labelspec"
    assert d.hint == "write `labelspec: 1`"


@pytest.mark.parametrize("written", ["1", "1  # the language", "&v 1"])
def test_the_plain_version_still_passes(written: str) -> None:
    assert shape(HEAD.replace("labelspec: 1", f"labelspec: {written}") + TASK) == []


@pytest.mark.parametrize(("date", "ok"), [("2024-02-29", True), ("2024-02-30", False), ("2023-13-01", False)])
def test_a_changelog_date_is_a_day_of_the_calendar(date: str, ok: bool) -> None:
    text = HEAD.replace("version: 1.0.0}", f'version: 1.0.0, changelog: [{{version: 1.0.0, date: "{date}", '
                        "changes: [c]}]}") + TASK
    diags = shape(text)
    assert [(d.code, d.pointer) for d in diags] == ([] if ok else [("LS204", "project.changelog[0].date")])


@pytest.mark.parametrize("blank", ['"   "', '"\\n\\n"', '"\\t"'])
def test_blank_text_is_no_title_or_definition(blank: str) -> None:
    """Text annotators read (titles, definitions, questions) needs a visible character, not only spaces."""
    diags = shape(HEAD.replace("title: Demo", f"title: {blank}") + TASK.replace("Money back.", blank))
    assert {(d.code, d.pointer, d.message.split(": ", 1)[-1]) for d in diags} == {
        ("LS204", "project.title", "must not be blank"),
        ("LS204", "tasks.intent.labels.refund.definition", "must not be blank")}
    assert {d.hint for d in diags} == {"write the text annotators should read"}
