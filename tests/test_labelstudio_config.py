"""labelstudio.xml: Label Studio's own parser (label_studio_sdk.LabelInterface) and labelspec's structural checks.

LabelInterface accepts unknown tags and empty choice lists, so the structural checks below also assert what it
lets through: every control is a task, every value is a label id, every toName names an object that exists.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from emit_snapshot import all_kinds_tasks, intent_task, sample_spec
from label_studio_sdk.label_interface import LabelInterface

from labelspec.emit.labelstudio import labelstudio_xml
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
    return [el.attrib["value"] for el in control.iter() if el.tag in VALUE_TAGS]


def structure(spec: Spec, xml: str) -> dict[str, ET.Element]:
    """Assert the config's structure against the spec; returns controls by name."""
    root = ET.fromstring(xml)
    tags = {el.tag for el in root.iter()}
    assert tags <= OBJECT_TAGS | CONTROL_TAGS | LAYOUT_TAGS | VALUE_TAGS, tags
    objects = {el.attrib["name"]: el for el in root.iter() if el.tag in OBJECT_TAGS}
    controls = {el.attrib["name"]: el for el in root.iter() if el.tag in CONTROL_TAGS}
    names = [el.attrib["name"] for el in root.iter() if "name" in el.attrib]
    assert len(names) == len(set(names)), "names must be unique"
    assert list(controls) == list(spec.task_names)
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
            assert objects[control.attrib["toName"]].tag == "List"
    for obj in objects.values():
        assert obj.attrib["value"].startswith("$")
    return controls


def label_studio(spec: Spec, xml: str) -> None:
    """Label Studio's parser sees the same controls and label values."""
    interface = LabelInterface(xml)
    interface.validate()
    parsed = {c.name: c for c in interface.controls}
    assert sorted(parsed) == sorted(spec.task_names)
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
        "order": "Ranker", "note": "TextArea", "step_ok": "ParagraphLabels", "blame": "ParagraphLabels"}
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


def test_characters_xml_cannot_carry() -> None:
    bad = (Label(id="a\x01b", title="t", definition="d"), Label(id="ok", title="t", definition="d"))
    with pytest.raises(OutputError):
        labelstudio_xml(sample_spec(tasks=(Task(name="t", kind="single_choice", question="Q", labels=bad),)))
    task = dataclasses.replace(intent_task(), question="nul\x00 and \x1b[31m")
    xml = labelstudio_xml(sample_spec(tasks=(task,)))
    headers = [h.attrib["value"] for h in ET.fromstring(xml).iter("Header")]
    assert "nul\ufffd and \ufffd[31m" in headers
