"""Spec → ``labelstudio.xml``: a Label Studio labeling configuration whose controls are the spec's tasks.

Control names are task names and choice/label values are label ids, so a Label Studio export maps back to the spec
without a lookup table. Mapping of kinds:

* single_choice / multi_choice → ``Choices`` (``single-radio`` / ``multiple``), or ``Taxonomy`` when labels nest;
* rating → ``Rating`` for scales starting at 1, otherwise ``Choices`` over the scale points;
* spans → ``Labels`` on the ``Text`` of the task's field;
* pairwise → ``Pairwise`` (left = A, right = B) when ties are not allowed, otherwise ``Choices`` A / B / tie,
  since ``Pairwise`` cannot record a tie;
* ranking → ``Ranker`` over a ``List`` named ``<task>_options`` that reads the task data's ``<task>_options``
  (Label Studio's List items, ``[{"id", "title", "body"}]``; the spec names no item field for them); text →
  ``TextArea``;
* step tasks and attribution → ``ParagraphLabels`` on the item's steps (the region is the step; paragraph *i*,
  counted from 0, is the step numbered *i* + 1; ``name_key``/``text_key`` of the steps field become the
  ``Paragraphs``' ``nameKey``/``textKey``). An attribution also gets ``Choices`` named ``<task>-no-step`` over
  the same labels: the agent with no step (``"step": null``), which a region cannot express.

Built with ElementTree, which escapes every attribute, and re-parsed before it is returned. An id that XML 1.0
cannot carry is refused (it would come back different); free text shows such characters as U+FFFD. Pure: no I/O.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from labelspec.emit.header import html_comment
from labelspec.errors import Diagnostic, OutputError
from labelspec.spec.model import Label, Spec, Task
from labelspec.templating import visible

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: A ``$`` Label Studio would read as the start of a data reference (``$text``, ``$a.b``, ``$x[0]``).
_TEMPLATE = re.compile(r"\$(?=[\w\[\].{}])")
_PAIRWISE_HINTS = {"A": "Response A is better", "B": "Response B is better", "tie": "Neither response is better"}
#: ``<task>-no-step``: an attribution's step-less answers. "-" is in no task or field name, so no name collides;
#: the Label Studio reader (``check.read_labelstudio_values.NO_STEP_SUFFIX``) maps it back to the task.
NO_STEP_SUFFIX = "-no-step"
_NO_STEP_HEADER = "Without a step: choose here instead of marking a step (for example, when no step failed)."


def _id(value: str, task: Task) -> dict[str, str]:
    """A label id as the attributes of its Choice or Label: ``value`` verbatim, or an error when XML 1.0 cannot
    represent it. Label Studio reads ``$name`` in a ``value`` as the task's data field ``name``: an id holding one
    is shown with a zero-width space after the ``$`` and exported through ``alias``, which Label Studio writes
    into results as it is."""
    if _XML_ILLEGAL.search(value):
        raise OutputError(Diagnostic("LS601", f"label id {value!r} of task {task.name!r} contains a character "
                                              "XML 1.0 cannot represent", loc=task.loc, pointer=f"tasks.{task.name}"))
    shown = _TEMPLATE.sub("$\u200b", value)
    return {"value": value} if shown == value else {"value": shown, "alias": value}


def _text(value: str) -> str:
    """Spec text shown in Label Studio: visible, XML-safe, and never a ``$field`` reference."""
    return _TEMPLATE.sub("$\u200b", _XML_ILLEGAL.sub("\ufffd", visible(value)))


def _hint(label: Label) -> str:
    return _text(label.title + ": " + label.definition)


def _unique(name: str, taken: set[str]) -> str:
    while name in taken:
        name += "_item"
    taken.add(name)
    return name


def _objects(spec: Spec) -> tuple[dict[str, str], str | None, dict[str, str]]:
    """Text field → object tag name (a ``text`` field when the spec names none and a control needs one), the steps
    object's name, and ranking task → the name of its options ``List`` (also the data key it reads).

    Every name in a config must be unique, and control (task) names are fixed; so each object name (the
    generated ``<task>_options`` too) gets ``_item`` appended while it collides with a name already taken. A
    ``List``'s name is not an item field's either, so the data key it reads is not an item's field.
    """
    fields = spec.items.fields if spec.items is not None else ()
    taken = set(spec.task_names)
    needs_steps = any(t.unit == "step" or t.kind == "attribution" for t in spec.tasks)
    texts = {f.name: _unique(f.name, taken) for f in fields if f.type == "text"}
    if not texts and any(_needs_text(t, needs_steps) for t in spec.tasks):
        # no text field to show: a ``text`` data key the imported tasks must then carry (Label Studio refuses an
        # import that lacks a key the config reads, so it is only named when a control has nothing else to use)
        texts = {"text": _unique("text", taken)}
    steps = _unique("steps", taken) if needs_steps else None
    taken.update(f.name for f in fields)
    lists = {t.name: _unique(t.name + "_options", taken) for t in spec.tasks
             if t.kind == "ranking" and not (steps is not None and t.unit == "step")}
    return texts, steps, lists


def _needs_text(task: Task, has_steps: bool) -> bool:
    """Whether the task's control needs a ``Text`` object: not when it marks steps or orders a ``List``, nor when
    a choice-like control can attach to the steps' ``Paragraphs`` instead."""
    if (has_steps and (task.unit == "step" or task.kind == "attribution")) or task.kind == "ranking":
        return False
    return not (has_steps and task.kind in ("single_choice", "multi_choice", "rating", "text"))


def _pair(objects: dict[str, str]) -> tuple[str, str]:
    """The two text objects compared by a pairwise task: fields ending in a/b when present, else the last two."""
    fields = list(objects)
    ends = {f.rsplit("_", 1)[-1]: f for f in fields}
    if "a" in ends and "b" in ends:
        return objects[ends["a"]], objects[ends["b"]]
    if len(fields) >= 2:
        return objects[fields[-2]], objects[fields[-1]]
    return objects[fields[0]], objects[fields[0]]


def _choices(parent: ET.Element, task: Task, values: tuple[str, ...], hints: dict[str, str]) -> None:
    for value in values:
        attrs = _id(value, task)
        if value in hints:
            attrs["hint"] = hints[value]
        label = task.label(value)
        if label is not None and label.hotkey:
            attrs["hotkey"] = label.hotkey
        ET.SubElement(parent, "Choice", attrs)


def _taxonomy(parent: ET.Element, task: Task, parent_id: str | None) -> None:
    for label in task.labels:
        if label.parent == parent_id:
            node = ET.SubElement(parent, "Choice", {**_id(label.id, task), "hint": _hint(label)})
            _taxonomy(node, task, label.id)


def _paragraph_labels(view: ET.Element, task: Task, to_name: str, hints: dict[str, str]) -> None:
    """A step task's or an attribution's regions; an attribution's ``<task>-no-step`` choices after them."""
    multiple = "multiple" if task.kind == "multi_choice" else "single"
    el = ET.SubElement(view, "ParagraphLabels", {"name": task.name, "toName": to_name, "choice": multiple})
    for value in task.label_ids:
        attrs = _id(value, task)
        if value in hints:
            attrs["hint"] = hints[value]
        label = task.label(value)
        if label is not None and label.hotkey:  # the regions' keys; the no-step choices get none (one key, one bind)
            attrs["hotkey"] = label.hotkey
        ET.SubElement(el, "Label", attrs)
    if task.kind == "attribution":
        ET.SubElement(view, "Header", {"value": _NO_STEP_HEADER, "size": "6"})
        el = ET.SubElement(view, "Choices", {"name": task.name + NO_STEP_SUFFIX, "toName": to_name,
                                             "choice": "single"})
        for value in task.label_ids:
            ET.SubElement(el, "Choice", {**_id(value, task), "hint": hints[value]})


def _control(view: ET.Element, task: Task, to_name: str, objects: dict[str, str]) -> None:
    hints = {lab.id: _hint(lab) for lab in task.labels}
    kind, name = task.kind, task.name
    if task.unit == "step" or kind == "attribution":  # the region marks the step
        _paragraph_labels(view, task, to_name, hints)
    elif kind in ("single_choice", "multi_choice") and task.is_taxonomy:
        attrs = {"name": name, "toName": to_name, "showFullPath": "true"}
        limit = 1 if kind == "single_choice" else task.max_choices
        if limit is not None:
            attrs["maxUsages"] = str(limit)
        _taxonomy(ET.SubElement(view, "Taxonomy", attrs), task, None)
    elif kind == "rating" and task.scale is not None and task.scale.min == 1:
        ET.SubElement(view, "Rating", {"name": name, "toName": to_name, "maxRating": str(task.scale.max)})
    elif kind == "pairwise" and not task.allow_ties:
        left, right = _pair(objects)
        ET.SubElement(view, "Pairwise", {"name": name, "toName": f"{left},{right}"})
    elif kind == "spans":
        el = ET.SubElement(view, "Labels", {"name": name, "toName": to_name})
        for lab in task.labels:
            attrs = {**_id(lab.id, task), "hint": hints[lab.id]}
            if lab.hotkey:
                attrs["hotkey"] = lab.hotkey
            ET.SubElement(el, "Label", attrs)
    elif kind == "ranking":
        ET.SubElement(view, "Ranker", {"name": name, "toName": to_name})
    elif kind == "text":
        ET.SubElement(view, "TextArea", {"name": name, "toName": to_name, "maxSubmissions": "1", "rows": "4",
                                         "editable": "true"})
    else:  # single/multi choice, ratings not starting at 1, pairwise with ties
        choice = "multiple" if kind == "multi_choice" else "single-radio"
        el = ET.SubElement(view, "Choices", {"name": name, "toName": to_name, "choice": choice})
        _choices(el, task, task.label_ids, _PAIRWISE_HINTS if kind == "pairwise" else hints)


def _task_view(root: ET.Element, task: Task, objects: dict[str, str], steps: str | None,
               lists: dict[str, str]) -> None:
    view = ET.SubElement(root, "View")
    ET.SubElement(view, "Header", {"value": _text(task.question), "size": "5"})
    if task.scale is not None and task.scale.anchors:
        scale = " · ".join(str(point) + ": " + anchor for point, anchor in task.scale.anchors)
        ET.SubElement(view, "Header", {"value": _text(scale), "size": "6"})
    if steps is not None and (task.unit == "step" or task.kind == "attribution"):
        to_name = steps
    elif task.kind == "ranking":
        to_name = lists[task.name]
        ET.SubElement(view, "List", {"name": to_name, "value": "$" + to_name, "title": "Options"})
    elif task.kind == "spans" and task.field in objects:
        to_name = objects[task.field]
    elif task.kind == "pairwise":
        to_name = _pair(objects)[0]
    else:  # the first text shown, or the steps when the item has no text (``_objects``)
        to_name = next(iter(objects.values()), steps or "")
    _control(view, task, to_name, objects)


def labelstudio_xml(spec: Spec) -> str:
    """The labeling configuration as text: a provenance comment, then one ``<View>``; parsed back before return."""
    return html_comment(spec) + "\n" + labelstudio_view(spec) + "\n"


def labelstudio_view(spec: Spec) -> str:
    """The ``<View>`` alone, for uses that name no spec path (the review queue reads its control names)."""
    objects, steps, lists = _objects(spec)
    root = ET.Element("View")
    item = ET.SubElement(root, "View")
    ET.SubElement(item, "Header", {"value": _text(spec.project.title), "size": "4"})
    for field, name in objects.items():
        ET.SubElement(item, "Text", {"name": name, "value": "$" + field})
    if steps is not None:
        source = spec.steps_field
        attrs = {"name": steps, "value": "$" + source.name}
        if source.name_key is not None:
            attrs["nameKey"] = source.name_key
        if source.text_key is not None:
            attrs["textKey"] = source.text_key
        ET.SubElement(item, "Paragraphs", attrs)
    for task in spec.tasks:
        _task_view(root, task, objects, steps, lists)
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    ET.fromstring(body)  # a config ElementTree cannot read back is a bug here, not in the spec
    return body
