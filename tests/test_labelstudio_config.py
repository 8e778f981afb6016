"""labelstudio.xml: Label Studio's own parser (label_studio_sdk.LabelInterface) and labelspec's structural checks.

LabelInterface accepts unknown tags and empty choice lists, so the structural checks below also assert what it
lets through: every control is a task, every value is a label id, every toName names an object that exists.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from emit_snapshot import all_kinds_tasks, intent_task, sample_spec
from label_studio_sdk.label_interface import LabelInterface

from labelspec.check.read_labelstudio_values import NO_STEP_SUFFIX as READER_NO_STEP_SUFFIX
from labelspec.emit.labelstudio import NO_STEP_SUFFIX, labelstudio_xml
from labelspec.errors import OutputError
from labelspec.spec.load import load_spec
from labelspec.spec.model import Label, Scale, Spec, Task

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.parent.name for p in (ROOT / "specs").glob("*/labelspec.yaml"))
OBJECT_TAGS = {"Text", "Paragraphs", "List"}
CONTROL_TAGS = {"Choices", "Taxonomy", "Rating", "Labels", "Pairwise", "Ranker", "TextArea", "ParagraphLabels"}
LAYOUT_TAGS = {"View", "Header"}
VALUE_TAGS = {"Choice", "Label"}


def _values(control: ET.Element) -> list[str]:
    """The label ids a control exports: a Choice or Label's ``alias`` when it has one, else its ``value``."""
    return [el.attrib.get("alias", el.attrib["value"]) for el in control.iter() if el.tag in VALUE_TAGS]


def control_names(spec: Spec) -> list[str]:
    """The config's controls: one per task, named for it, and an attribution's ``<task>-no-step`` after it."""
    return [n for t in spec.tasks for n in (t.name, *([t.name + NO_STEP_SUFFIX] if t.kind == "attribution" else []))]


def structure(spec: Spec, xml: str) -> dict[str, ET.Element]:
    """Assert the config's structure against the spec; returns controls by name."""
    root = ET.fromstring(xml)
    tags = {el.tag for el in root.iter()}
    assert tags <= OBJECT_TAGS | CONTROL_TAGS | LAYOUT_TAGS | VALUE_TAGS, tags
    objects = {el.attrib["name"]: el for el in root.iter() if el.tag in OBJECT_TAGS}
    controls = {el.attrib["name"]: el for el in root.iter() if el.tag in CONTROL_TAGS}
    names = [el.attrib["name"] for el in root.iter() if "name" in el.attrib]
    assert len(names) == len(set(names)), "names must be unique"
    assert list(controls) == control_names(spec)
    for task in spec.tasks:
        control = controls[task.name]
        for target in control.attrib["toName"].split(","):
            assert target in objects, (task.name, target)
        if control.tag in ("Choices", "Taxonomy", "Labels", "ParagraphLabels"):
            assert _values(control) == list(task.label_ids), task.name
            assert _values(control), "a control without values"
        elif control.tag == "Rating":
            assert task.scale is not None and control.attrib["maxRating"] == str(task.scale.max)
            assert task.scale.min == 1
        elif control.tag == "Pairwise":
            assert task.kind == "pairwise" and not task.allow_ties
        elif control.tag == "Ranker":
            listed = objects[control.attrib["toName"]]
            assert listed.tag == "List" and listed.attrib["value"] == "$" + listed.attrib["name"]
        if task.kind == "attribution":  # the agent with no step: same labels, same object as the regions
            no_step = controls[task.name + NO_STEP_SUFFIX]
            assert no_step.tag == "Choices" and _values(no_step) == list(task.label_ids)
            assert no_step.attrib["toName"] == control.attrib["toName"] and no_step.attrib["choice"] == "single"
    for obj in objects.values():
        assert obj.attrib["value"].startswith("$")
    return controls


def label_studio(spec: Spec, xml: str) -> None:
    """Label Studio's parser sees the same controls and label values."""
    interface = LabelInterface(xml)
    interface.validate()
    parsed = {c.name: c for c in interface.controls}
    assert sorted(parsed) == sorted(control_names(spec))
    for task in spec.tasks:
        control = parsed[task.name]
        if control.tag in ("Choices", "Labels", "Taxonomy", "ParagraphLabels"):
            assert list(control.labels) == list(task.label_ids), task.name


@pytest.mark.parametrize("project", EXAMPLES)
def test_example_projects(project: str) -> None:
    spec = load_spec(ROOT / "specs" / project / "labelspec.yaml", display_path=f"specs/{project}/labelspec.yaml")
    xml = labelstudio_xml(spec)
    structure(spec, xml)
    label_studio(spec, xml)


def test_every_kind_maps_to_its_control() -> None:
    spec = sample_spec()
    xml = labelstudio_xml(spec)
    controls = structure(spec, xml)
    label_studio(spec, xml)
    assert {name: c.tag for name, c in controls.items()} == {
        "intent": "Choices", "topics": "Taxonomy", "tone": "Rating", "entities": "Labels", "preference": "Choices",
        "order": "Ranker", "note": "TextArea", "step_ok": "ParagraphLabels", "blame": "ParagraphLabels",
        "blame-no-step": "Choices"}
    assert controls["intent"].attrib["choice"] == "single-radio"
    assert controls["topics"].attrib["maxUsages"] == "2"
    assert controls["entities"].attrib["toName"] == "body"
    intent = {c.attrib["value"]: c.attrib for c in controls["intent"]}
    assert intent["refund"]["hint"] == "Refund request: The customer asks to get money back."
    assert intent["refund"]["hotkey"] == "r"
    headers = [h.attrib["value"] for h in ET.fromstring(xml).iter("Header")]
    assert "What is the customer's primary intent?" in headers
    assert "1: Very angry · 3: Neutral · 5: Very happy" in headers


def test_pairwise_without_ties_uses_pairwise_left_a_right_b() -> None:
    from labelspec.spec.model import ItemField, ItemsSource

    items = ItemsSource(file="items.jsonl", fields=(ItemField(name="prompt", type="text"),
                                                     ItemField(name="response_a", type="text"),
                                                     ItemField(name="response_b", type="text")))
    task = Task(name="better", kind="pairwise", question="Which is better?", allow_ties=False)
    spec = sample_spec(tasks=(task,), items=items)
    xml = labelstudio_xml(spec)
    controls = structure(spec, xml)
    assert controls["better"].tag == "Pairwise" and controls["better"].attrib["toName"] == "response_a,response_b"
    label_studio(spec, xml)


def test_rating_scale_not_starting_at_one_becomes_choices() -> None:
    task = Task(name="severity", kind="rating", question="How bad?", scale=Scale(min=0, max=3))
    spec = sample_spec(tasks=(task,))
    controls = structure(spec, labelstudio_xml(spec))
    assert controls["severity"].tag == "Choices" and _values(controls["severity"]) == ["0", "1", "2", "3"]


def test_object_names_never_collide_with_task_names() -> None:
    from labelspec.spec.model import ItemField, ItemsSource

    items = ItemsSource(file="items.jsonl", fields=(ItemField(name="intent", type="text"),))
    spec = sample_spec(tasks=(intent_task(), all_kinds_tasks()[-1]), items=items)
    xml = labelstudio_xml(spec)
    controls = structure(spec, xml)
    assert controls["intent"].attrib["toName"] == "intent_item"
    label_studio(spec, xml)


@pytest.mark.parametrize("label_id", ['say "hi"', "a<b", "x & y", "it's", "tab\there", "new\nline", "]]>", "<!--"])
def test_label_ids_round_trip_exactly(label_id: str) -> None:
    labels = (Label(id=label_id, title="T <b>", definition="D & \"q\""), Label(id="plain", title="P", definition="p"))
    spec = sample_spec(tasks=(Task(name="t", kind="single_choice", question="Q?", labels=labels),))
    xml = labelstudio_xml(spec)
    controls = structure(spec, xml)
    assert _values(controls["t"]) == [label_id, "plain"]
    assert list(LabelInterface(xml).get_control("t").labels) == [label_id, "plain"]


@pytest.mark.parametrize("kind", ["single_choice", "multi_choice", "spans"])
def test_a_dollar_in_spec_text_is_never_a_data_reference(kind: str) -> None:
    """Label Studio reads ``$word`` in a ``value`` as the task's data field: the label ``$100+`` was exported as
    ``undefined+`` and the question showed "undefined" (audit). Shown text gets a zero-width space after the
    ``$``; a label id is exported exactly through ``alias``."""
    labels = (Label(id="$100+", title="Over $100", definition="More than $limit."),
              Label(id="small", title="Small", definition="Less."))
    task = Task(name="t", kind=kind, question="Above $limit?", labels=labels,  # type: ignore[arg-type]
                field="body" if kind == "spans" else None)
    spec = sample_spec(tasks=(task,))
    xml = labelstudio_xml(spec)
    root = ET.fromstring(xml)
    shown = [v for el in root.iter() for k, v in el.attrib.items() if k in ("value", "hint") and el.tag != "Text"]
    assert not any(re.search(r"\$[\w\[\].{}]", v) for v in shown), shown
    assert "Above $\u200blimit?" in shown
    assert _values(structure(spec, xml)["t"]) == ["$100+", "small"]
    assert list(LabelInterface(xml).get_control("t").labels)  # Label Studio's own parser takes it


def test_characters_xml_cannot_carry() -> None:
    bad = (Label(id="a\x01b", title="t", definition="d"), Label(id="ok", title="t", definition="d"))
    with pytest.raises(OutputError):
        labelstudio_xml(sample_spec(tasks=(Task(name="t", kind="single_choice", question="Q", labels=bad),)))
    task = dataclasses.replace(intent_task(), question="nul\x00 and \x1b[31m")
    xml = labelstudio_xml(sample_spec(tasks=(task,)))
    headers = [h.attrib["value"] for h in ET.fromstring(xml).iter("Header")]
    assert "nul\ufffd and \ufffd[31m" in headers


def test_no_step_control_name_is_the_one_the_reader_maps_back() -> None:
    """``-`` is in no task or field name (``^[a-z][a-z0-9_]*$``), so ``<task>-no-step`` never collides."""
    assert NO_STEP_SUFFIX == READER_NO_STEP_SUFFIX == "-no-step"


def test_ranking_list_reads_its_own_data_key_never_an_item_field() -> None:
    """The spec names no item field for a ranking's options, so the List reads ``<task>_options``; an item field
    of that name (of any type) moves the List's name and key along."""
    from labelspec.spec.model import ItemField, ItemsSource

    rank = Task(name="rank", kind="ranking", question="Rank.", options=("r1", "r2"))
    items = ItemsSource(file="items.jsonl", fields=(ItemField(name="prompt", type="text"),
                                                     ItemField(name="rank_options", type="json")))
    for source, name in ((None, "rank_options"), (items, "rank_options_item")):
        spec = sample_spec(tasks=(rank,), items=source)
        xml = labelstudio_xml(spec)
        structure(spec, xml)
        label_studio(spec, xml)
        (listed,) = ET.fromstring(xml).iter("List")
        assert (listed.attrib["name"], listed.attrib["value"]) == (name, "$" + name)


def _items_without_text() -> object:
    from labelspec.spec.model import ItemField, ItemsSource

    return ItemsSource(file="items.jsonl", fields=(ItemField(name="trajectory", type="json"),))


def test_steps_without_a_text_field_invent_no_text_data_key() -> None:
    """Label Studio refuses an import whose tasks lack a key the config reads: an attribution (or a choice task
    beside it) over items with only a steps field must not read ``$text`` (an audit found ``$text`` there)."""
    blame = next(t for t in all_kinds_tasks() if t.kind == "attribution")
    choice = dataclasses.replace(intent_task(), name="outcome")
    for tasks in ((blame,), (blame, choice)):
        spec = sample_spec(tasks=tasks, items=_items_without_text())
        xml = labelstudio_xml(spec)
        controls = structure(spec, xml)
        label_studio(spec, xml)
        assert "$text" not in xml and [o.attrib["value"] for o in ET.fromstring(xml).iter("Paragraphs")] == [
            "$trajectory"]
        assert {c.attrib["toName"] for c in controls.values()} == {"steps"}  # every control on the steps


def test_a_control_with_nothing_to_show_still_gets_a_text_object() -> None:
    spec = sample_spec(tasks=(intent_task(),), items=_items_without_text())  # no steps task: nothing else to use
    xml = labelstudio_xml(spec)
    structure(spec, xml)
    assert [o.attrib["value"] for o in ET.fromstring(xml).iter("Text")] == ["$text"]
