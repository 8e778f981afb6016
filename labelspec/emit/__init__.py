"""labelspec.emit: compile a Spec into the files a labeling project needs, in memory.

``compile_spec(spec)`` renders every artefact of one project and returns them as bytes; ``artifact.write_artifacts``
puts them on disk (all or nothing) or compares them with what is there (``--check``). Compiling is pure and
deterministic: the same Spec gives the same bytes on any machine. This package never imports ``check``, never
reads spec files itself and never imports or runs the code it generates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labelspec.emit.artifact import Artifact, WriteResult, write_artifacts
from labelspec.emit.gate_plan import gate_plan
from labelspec.emit.guidelines import guidelines_html, guidelines_md
from labelspec.emit.header import OUTPUT_FORMAT
from labelspec.emit.label_schema import label_schema
from labelspec.emit.labelstudio import labelstudio_xml
from labelspec.emit.manifest import manifest
from labelspec.emit.teaching import TeachingExample
from labelspec.emit.validator import module_name, validator_source
from labelspec.errors import Diagnostic, OutputError, SpecError
from labelspec.spec.model import Spec

__all__ = ["EMITTERS", "OUTPUT_FORMAT", "Artifact", "Emitter", "TeachingExample", "WriteResult", "compile_spec",
           "json_text", "write_artifacts"]

_PROJECT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def json_text(data: Any) -> str:
    """The one JSON layout of every artefact: sorted keys, two-space indent, UTF-8 text, no NaN, final newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


@dataclass(frozen=True, slots=True)
class Emitter:
    """One output file of a project: how it is named and how it is rendered (text, before encoding)."""

    filename: Callable[[Spec], str]
    render: Callable[[Spec, tuple[TeachingExample, ...]], str]


#: Every artefact except ``manifest.json``, which is computed from the others.
EMITTERS: tuple[Emitter, ...] = (
    Emitter(lambda s: "guidelines.md", guidelines_md),
    Emitter(lambda s: "guidelines.html", guidelines_html),
    Emitter(lambda s: "label.schema.json", lambda s, t: json_text(label_schema(s))),
    Emitter(lambda s: module_name(s) + ".py", lambda s, t: validator_source(s)),
    Emitter(lambda s: "gates.json", lambda s, t: json_text(gate_plan(s))),
    Emitter(lambda s: "labelstudio.xml", lambda s, t: labelstudio_xml(s)),
)


def _encode(name: str, text: str) -> bytes:
    """Strict UTF-8 with exactly one final LF; a lone surrogate fails here, before anything is written."""
    text = text.rstrip("\n") + "\n"
    if "\r" in text:
        raise OutputError(Diagnostic("LS601", f"{name} would contain a carriage return"))
    try:
        return text.encode("utf-8", errors="strict")
    except UnicodeEncodeError as err:
        raise OutputError(Diagnostic("LS601", f"{name} cannot be written as UTF-8: {err.reason} at character "
                                              f"{err.start} ({text[err.start]!r})",
                                     hint="remove the unpaired surrogate from the spec text")) from err


def compile_spec(spec: Spec, *, teaching: tuple[TeachingExample, ...] = ()) -> tuple[Artifact, ...]:
    """Every artefact of ``spec``'s project, sorted by path (``<project-id>/<file>``), as bytes.

    ``teaching`` holds the calibration items marked as teaching examples (read by the caller); they are shown only
    when ``quality.calibration.teaching_examples`` is true. Raises ``OutputError`` (LS601) when an output cannot be
    represented faithfully; nothing has been written at that point.
    """
    project = spec.project.id
    if not _PROJECT_ID.fullmatch(project):
        raise OutputError(Diagnostic("LS601", f"project id {project!r} cannot name an output folder",
                                     pointer="project.id"))
    unknown = sorted({ex.task for ex in teaching} - set(spec.task_names))
    if unknown:
        cal = spec.quality.calibration
        raise SpecError(Diagnostic("LS312", f"teaching examples name unknown tasks: {', '.join(unknown)}",
                                   loc=cal.loc if cal is not None else None, pointer="quality.calibration.file"))
    files: dict[str, bytes] = {}
    for emitter in EMITTERS:
        name = emitter.filename(spec)
        files[name] = _encode(name, emitter.render(spec, teaching))
    files["manifest.json"] = _encode("manifest.json", json_text(manifest(spec, files)))
    return tuple(Artifact(path=f"{project}/{name}", content=files[name]) for name in sorted(files))
