"""Label Studio result values → the canonical value of a judgment, by task kind. A result that does not give its
task's kind of value raises :class:`Mismatch`, whose message says what was expected; the reader excludes that
judgment (:func:`mismatch_detail` words the exclusion). Pure: no I/O, no located errors.

For every control ``emit.labelstudio`` compiles, the value a CSV file holds: single_choice → the one choice
(several or none → canonical JSON list, which the content check rejects); multi_choice → JSON list; a
``Taxonomy`` (labels with parents) selects paths from the root, and each path gives its last id; rating
(``rating`` or ``number``) → the number as written, or the one choice of the ``Choices`` of a scale not starting
at 1; spans → JSON list of [start, end, label] over every ``labels`` result, sorted; pairwise ``selected``
left/right → "A"/"B" (``Pairwise``, no ties), or the one choice A / B / tie (``Choices``, ties allowed); ranking
``ranker`` → JSON list of ids: the list itself, or the buckets concatenated in export order. The "_" bucket holds
the items nobody placed (Label Studio's Ranker keeps the original List there when no Bucket is the default) and is
never ranked: a result with only "_" is an empty ranking, which the content check rejects like any incomplete
one. text ``text`` → the one string (several → JSON list). Results of one task in an annotation are merged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labelspec.check.read_common import TaskShape, canonical_json, json_shown
from labelspec.strictjson import JsonNumber

__all__ = ["MAX_INDEX_DIGITS", "MAX_REGION_STEPS", "NO_STEP_SUFFIX", "RESULT_TYPES", "Mismatch", "judgment_values",
           "mismatch_detail", "task_of"]

MAX_REGION_STEPS = 10_000  # a ParagraphLabels region over more paragraphs than this is not a step selection
MAX_INDEX_DIGITS = 18  # a paragraph index (and its step number, index + 1) fits in an int64
#: The compiled config's second control of an attribution task, ``<task>-no-step``: a ``Choices`` of the agent
#: with no step. "-" is in no task or field name, so the name is never taken (``emit.labelstudio`` has the same).
NO_STEP_SUFFIX = "-no-step"
#: The result types of the controls compiled for each kind (``emit.labelstudio``): others explain themselves.
RESULT_TYPES = {"single_choice": ("choices", "taxonomy"), "multi_choice": ("choices", "taxonomy"),
                "rating": ("rating", "number", "choices"), "spans": ("labels",), "pairwise": ("pairwise", "choices"),
                "ranking": ("ranker",), "text": ("textarea",), "attribution": ("paragraphlabels", "choices")}


class Mismatch(Exception):
    """A result whose value does not give its task's kind of value; the message says what was expected."""


def _key(v: dict[str, Any], key: str) -> Any:
    if key not in v:
        raise Mismatch(f"the value has no {key!r} key")
    return v[key]


def _choices(v: dict[str, Any]) -> list[Any]:
    got = _key(v, "choices")
    if isinstance(got, list) and all(type(c) is str for c in got):  # a JsonNumber is a str subclass: 5 is no id
        return got
    raise Mismatch(f"value.choices must be an array of strings; found {json_shown(got)}")


def _taxonomy(v: dict[str, Any]) -> list[Any]:
    """``Taxonomy``: each selection is its path from the root (``[["planning", "bad_decomposition"]]``); the label
    chosen is the path's last id, the id a CSV file holds."""
    got = _key(v, "taxonomy")
    if isinstance(got, list) and all(isinstance(path, list) and path and all(type(i) is str for i in path)
                                     for path in got):
        return [path[-1] for path in got]
    raise Mismatch(f"value.taxonomy must be an array of paths (non-empty arrays of label ids); "
                   f"found {json_shown(got)}")


def _rating(v: dict[str, Any]) -> list[Any]:
    key = "number" if "number" in v and "rating" not in v else "rating"
    got = _key(v, key)
    if isinstance(got, str):  # JsonNumber is a str (a string rating is kept as written, as in CSV)
        return [got]
    raise Mismatch(f"value.{key} must be a number; found {json_shown(got)}")


def _spans(v: dict[str, Any]) -> list[Any]:
    start, end, labels = v.get("start"), v.get("end"), v.get("labels")
    if not (isinstance(start, JsonNumber) and isinstance(end, JsonNumber) and isinstance(labels, list)):
        raise Mismatch("the value needs numbers 'start' and 'end' and an array 'labels'")
    return [[start, end, label] for label in labels]


def _pairwise(v: dict[str, Any]) -> list[Any]:
    got = _key(v, "selected")
    side = {"left": "A", "right": "B"}.get(got) if type(got) is str else None
    if side:
        return [side]
    raise Mismatch(f'value.selected must be "left" or "right"; found {json_shown(got)}')


def _ranking(v: dict[str, Any]) -> list[Any]:
    """The ids in order: the list itself (List + Ranker), else the buckets in export order. "_" is the column of
    the List's items nobody placed in a bucket (ORIGINAL_ITEMS_KEY in Label Studio's Ranker): never ranked."""
    ranker = _key(v, "ranker")
    if isinstance(ranker, list):
        return ranker
    if isinstance(ranker, dict):
        buckets = [b for k, b in ranker.items() if k != "_"]
        if all(isinstance(b, list) for b in buckets):
            return [i for b in buckets for i in b]
    raise Mismatch(f"value.ranker must be an array of ids or an object of arrays (buckets); "
                     f"found {json_shown(ranker)}")


def _textarea(v: dict[str, Any]) -> list[Any]:
    got = _key(v, "text")
    if type(got) is str:
        return [got]
    if isinstance(got, list) and all(type(t) is str for t in got):
        return got
    raise Mismatch(f"value.text must be a string or an array of strings; found {json_shown(got)}")


def _choice_kind(v: dict[str, Any]) -> list[Any]:
    """single_choice / multi_choice: ``Choices``, or ``Taxonomy`` when the labels nest."""
    return _taxonomy(v) if "taxonomy" in v and "choices" not in v else _choices(v)


def _rating_kind(v: dict[str, Any]) -> list[Any]:
    """rating: ``Rating`` (or a ``Number``), or ``Choices`` over the scale points (scales not starting at 1)."""
    return _choices(v) if "choices" in v else _rating(v)


def _pairwise_kind(v: dict[str, Any]) -> list[Any]:
    """pairwise: ``Pairwise`` (no ties), or ``Choices`` A / B / tie (ties allowed: ``Pairwise`` has no tie)."""
    return _choices(v) if "choices" in v else _pairwise(v)


_EXTRACT: dict[str, Callable[[dict[str, Any]], list[Any]]] = {
    "single_choice": _choice_kind, "multi_choice": _choice_kind, "rating": _rating_kind, "spans": _spans,
    "pairwise": _pairwise_kind, "ranking": _ranking, "text": _textarea,
}


def task_of(name: str, shapes: dict[str, TaskShape]) -> str:
    """The task a ``from_name`` answers: itself, or for ``<task>-no-step`` its attribution task."""
    base = name.removesuffix(NO_STEP_SUFFIX)
    shape = shapes.get(base) if name not in shapes and base != name else None
    return base if shape is not None and shape.kind == "attribution" else name


def judgment_values(shape: TaskShape, results: list[dict[str, Any]], unit: str) -> list[tuple[str, str]]:
    """(unit, canonical value) of each judgment one annotation's results of one task give; :class:`Mismatch`
    when a result does not give the task's kind of value."""
    if shape.kind == "attribution":
        return [(unit, _attribution(results))]
    if shape.per_step and all("paragraphlabels" in r["value"] for r in results):
        return _step_values(shape, results)
    return [(unit, _value(shape, results))]


def _paragraph(index: Any) -> int | None:
    """A ParagraphLabels ``start``/``end``: a paragraph index, written as a string (or a number). At most
    :data:`MAX_INDEX_DIGITS` digits: ``int`` refuses text past 4300 digits, and no step number needs more."""
    text = str(index) if isinstance(index, str) else ""  # JsonNumber is a str
    ok = text.isascii() and text.isdigit() and len(text) <= MAX_INDEX_DIGITS
    return int(text) if ok else None


def _regions(results: list[dict[str, Any]]) -> dict[int, list[str]]:
    """ParagraphLabels regions → the labels of each paragraph index; a region over *a*..*b* labels each."""
    by_index: dict[int, list[str]] = {}
    for r in results:
        start, end = _paragraph(r["value"].get("start")), _paragraph(r["value"].get("end"))
        labels = r["value"].get("paragraphlabels")
        if start is None or end is None or not 0 <= end - start < MAX_REGION_STEPS:
            raise Mismatch(f"value.start and value.end must be paragraph indices (at most {MAX_INDEX_DIGITS} "
                           f"digits), start <= end, at most {MAX_REGION_STEPS} apart")
        if not isinstance(labels, list) or not all(type(lab) is str for lab in labels):
            raise Mismatch("value.paragraphlabels must be an array of strings")
        for index in range(start, end + 1):
            by_index.setdefault(index, []).extend(labels)
    return by_index


def _step_values(shape: TaskShape, results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """A step task's regions → (step, value) per labelled step: paragraph *i* is step ``str(i + 1)``. The labels
    a step received form its value (one label → the id; several → a JSON list, which the content check judges)."""
    return [(str(i + 1), labels[0] if len(labels) == 1 and not shape.list_valued else canonical_json(labels))
            for i, labels in sorted(_regions(results).items())]


def _attribution(results: list[dict[str, Any]]) -> str:
    """``{"agent": label, "step": i + 1}`` per label of a region on paragraph *i*, then ``{"agent": label,
    "step": null}`` per choice of the ``<task>-no-step`` control. One answer is the value; several (or none)
    make a JSON list, which the content check rejects."""
    regions = [r for r in results if "paragraphlabels" in r["value"]]
    found: list[Any] = [{"agent": lab, "step": i + 1} for i, labs in sorted(_regions(regions).items())
                        for lab in labs]
    for r in results:
        if "paragraphlabels" in r["value"]:
            continue
        if "choices" not in r["value"]:
            raise Mismatch("the value has neither 'paragraphlabels' (a step) nor 'choices' (no step)")
        found.extend({"agent": agent, "step": None} for agent in _choices(r["value"]))
    return canonical_json(found[0] if len(found) == 1 else found)


def _span_key(span: list[Any]) -> tuple[float, float, str]:
    """Offsets are JSON numbers (``float`` takes any of them: ``int`` refuses 4300 digits); a label that is not
    text sorts first and is never walked (it may nest hundreds deep): the content check rejects it."""
    start, end, label = span
    return (float(start), float(end), str(label) if isinstance(label, str) else "")


def _value(shape: TaskShape, results: list[dict[str, Any]]) -> str:
    """The canonical value of one task in one annotation; :class:`Mismatch` when a result does not give one."""
    extract = _EXTRACT.get(shape.kind)
    if extract is None:
        raise Mismatch(f"no Label Studio result gives a {shape.kind} value")
    parts: list[Any] = []
    for r in results:
        parts.extend(extract(r["value"]))
    if shape.kind == "spans":
        parts.sort(key=_span_key)
    if not shape.list_valued and len(parts) == 1 and isinstance(parts[0], str):
        return str(parts[0])
    return canonical_json(parts)


def mismatch_detail(name: str, shape: TaskShape, results: list[dict[str, Any]], why: Mismatch, where: str) -> str:
    """The exclusion detail of a :class:`Mismatch`. A result of a type that never gives the task's kind (``choices`` for a rating task)
    explains itself; otherwise the detail also says what the value lacked or held instead."""
    fits = {*RESULT_TYPES.get(shape.kind, ())}
    if shape.per_step:
        fits.add("paragraphlabels")
    odd = any(isinstance(r.get("type"), str) and r["type"] not in fits for r in results)
    types = ", ".join(sorted({str(r.get("type")) for r in results}))
    return f"{name!r} is {shape.kind}, result type {types}{'' if odd else f': {why}'} ({where})"
