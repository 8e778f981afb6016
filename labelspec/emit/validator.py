"""Spec → ``validate_<project>.py``: a standalone, standard-library-only validator of judgment records.

The generated module restates how ``check`` reads one JSONL line (which JSON types each field may hold, numbers kept
as written, null as an absent field, blank lines skipped: ``check/read_jsonl.py``) and then ``spec.records`` on the
text it reads: the record form that ``label.schema.json`` describes. It must not import ``check`` (layering), so the
reader's line limit is restated here and a test keeps the two equal.

Spec values reach it only as literals made by ``pyrepr`` inside data structures (``COLUMNS``, ``TASKS``,
``LABELS``): never in comments, docstrings, identifiers or f-strings. The source is parsed and compiled (not run)
before it is returned; it is never imported or executed during compile.
"""

from __future__ import annotations

import ast
from typing import Any, TypedDict

from labelspec.emit.header import hash_comment
from labelspec.emit.label_schema import LEAD_TIME, TIMESTAMP, columns
from labelspec.errors import Diagnostic, OutputError
from labelspec.spec.model import Spec, Task
from labelspec.spec.records import MAX_TEXT_LENGTH, required_fields
from labelspec.templating import PyCode, py_ident, render

_END = r"(?![\s\S])"
#: The longest JSONL line ``check`` reads, in bytes, line end included (``check.read_common.MAX_LINE_BYTES``).
MAX_LINE_BYTES = 1 << 20


class ValidatorContext(TypedDict):
    header: PyCode
    filename: PyCode
    project: str
    version: str
    columns: dict[str, str]
    required: tuple[str, ...]
    default_task: str | None
    tasks: dict[str, dict[str, Any]]
    labels: dict[str, tuple[str, ...]]
    max_line_bytes: int
    timestamp_pattern: str
    lead_time_pattern: str


def module_name(spec: Spec) -> str:
    """``validate_<project id with '-' as '_'>``, checked to be a plain identifier."""
    return str(py_ident("validate_" + spec.project.id.replace("-", "_")))


def _task(task: Task) -> dict[str, Any]:
    return {"kind": task.kind, "unit": task.unit, "min_choices": task.min_choices,
            "max_choices": task.max_choices, "allow_nesting": task.allow_nesting,
            "max_length": task.max_length or MAX_TEXT_LENGTH}


def validator_context(spec: Spec) -> ValidatorContext:
    """The data the generated module embeds, in spec order."""
    name = module_name(spec)
    return ValidatorContext(
        header=PyCode(hash_comment(spec)), filename=PyCode(name + ".py"), project=spec.project.id,
        version=spec.project.version, columns=columns(spec), required=required_fields(spec),
        default_task=spec.tasks[0].name if len(spec.tasks) == 1 else None,
        tasks={t.name: _task(t) for t in spec.tasks}, labels={t.name: t.label_ids for t in spec.tasks},
        max_line_bytes=MAX_LINE_BYTES, timestamp_pattern=f"^(?:{TIMESTAMP}){_END}", lead_time_pattern=f"^(?:{LEAD_TIME}){_END}",
    )


def validator_source(spec: Spec) -> str:
    """The generated module's source, verified with ``ast.parse`` and ``compile`` (never executed here)."""
    source = render("py", "validator.py.j2", validator_context(spec))
    filename = module_name(spec) + ".py"
    try:
        compile(ast.parse(source, filename=filename), filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as err:  # a bug in the template or in pyrepr, never in the spec
        raise OutputError(Diagnostic("LS601", f"generated {filename} does not compile: {err}")) from err
    return source
