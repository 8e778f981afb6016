"""The Jinja environments every templated artefact is rendered with, their filters and output escaping.

One factory, :func:`environment`, builds the only environments labelspec uses; they share the loader, the
``StrictUndefined`` policy, whitespace handling and filters, and differ only in how an ``{{ expression }}`` is written:

* ``html``: ``autoescape=True`` set explicitly (never chosen by file extension), control characters shown as U+FFFD.
* ``md``: escaped by default through ``finalize``, like autoescaping for Markdown: raw HTML (``< > &``), emphasis,
  code, link and table syntax and line-start block markers are neutralised; newlines become ``<br>``.
* ``py``: an expression must be a :class:`PyCode` made by the ``pyrepr`` or ``py_ident`` filter; anything else is
  an error, so spec text can reach generated Python only as a literal.

Spec and label text is always a template *variable*: this module never compiles a template from a string. It does
no I/O beyond the package loader. It sits beside ``emit/`` and ``check/`` (which may not import each other) because
both render with it: the compiled guidelines and the check's HTML report.
"""

from __future__ import annotations

import keyword
import math
import re
from functools import cache
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

EnvKind = Literal["html", "md", "py"]

#: Control characters a reader cannot see or a parser may reject (C0 except tab/newline, DEL, C1). Human-readable
#: outputs show them as U+FFFD; machine-readable outputs (JSON, Python) keep them, escaped.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
#: Markdown punctuation that can start inline syntax anywhere in a line.
_MD_INLINE = re.compile(r"([\\`*_\[\]|~#])")
#: Line starts Markdown would read as a block (heading, list, quote, setext underline, ordered list).
_MD_LINE_START = re.compile(r"^([+=-]|[0-9]+(?=[.)](?:[ \t]|$)))")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


class MdText(str):
    """Markdown that is already escaped (or is labelspec's own markup); ``finalize`` passes it through."""


class PyCode(str):
    """Python source made from a value by ``pyrepr`` or checked by ``py_ident``; the only thing ``py`` templates print."""


def visible(text: str) -> str:
    """Replace control characters by U+FFFD: they cannot be shown and HTML/XML parsers reject some of them."""
    return _CONTROL.sub("\ufffd", text)


def _md_line(line: str) -> str:
    stripped = line.lstrip(" \t")
    lead = line[: len(line) - len(stripped)].replace(" ", "&#32;").replace("\t", "&#9;")
    body = _MD_INLINE.sub(r"\\\1", stripped)
    body = _MD_LINE_START.sub(lambda m: m.group(1) + "\\" if m.group(1)[0].isdigit() else "\\" + m.group(1), body)
    return lead + re.sub(r"[&<>]", lambda m: _MD_ENTITIES[m.group(0)], body)


def md_inline(value: object) -> MdText:
    """Escape text for any Markdown context (paragraph, list item, heading, table cell); newlines become ``<br>``."""
    return MdText("<br>".join(_md_line(line) for line in visible(str(value)).strip("\n").split("\n")))


def md_block(value: object) -> MdText:
    """Escape text that stands as its own block. As in Markdown, a newline is a soft wrap and a blank line starts
    a new paragraph; leading and trailing blank lines are dropped."""
    return MdText("\n".join(_md_line(line) for line in visible(str(value)).strip("\n").split("\n")))


def paragraphs(value: object) -> list[str]:
    """Text split at blank lines (HTML shows each part as a paragraph; single newlines are soft wraps)."""
    return [p for p in _BLANK_LINE.split(str(value).strip("\n")) if p.strip()]


def md_attr(value: object) -> MdText:
    """Escape a value placed inside an HTML attribute of labelspec's own raw HTML in Markdown (anchors)."""
    text = visible(str(value))
    return MdText(text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;"))


def md_indent(depth: int) -> MdText:
    """Indentation for a nested Markdown list item at ``depth`` (0 = top level)."""
    return MdText("  " * int(depth))


def _md_finalize(value: Any) -> str:
    if isinstance(value, MdText):
        return value
    return md_inline(value)


def _html_finalize(value: Any) -> Any:
    if isinstance(value, Markup):
        return value
    return visible(str(value))


def _py_finalize(value: Any) -> str:
    if not isinstance(value, PyCode):
        raise TypeError(f"generated Python may only print pyrepr/py_ident output, got {type(value).__name__}")
    return value


def number(value: float | int) -> str:
    """The one rule for numbers shown to people: integers as integers, other values with up to 4 significant digits."""
    if isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"not a finite number: {value!r}")
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"


def pct(value: float) -> str:
    """A share as a percentage, up to one decimal (``0.9`` → ``90%``, ``0.875`` → ``87.5%``)."""
    if isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"not a finite share: {value!r}")
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def pyrepr(value: object) -> PyCode:
    """A Python literal for a plain value (str, int, float, bool, None, tuple, list, dict); nothing else."""
    return PyCode(python_literal(value, 0))


def python_literal(value: object, indent: int) -> str:
    """PEP 8 layout of a literal: scalars by ``repr``, containers one element per line, in the given order."""
    pad = " " * (indent + 4)
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("non-finite float in generated Python")
        return repr(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{pad}{python_literal(k, indent + 4)}: {python_literal(v, indent + 4)}," for k, v in value.items()]
        return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, (tuple, list)):
        open_, close = ("(", ")") if isinstance(value, tuple) else ("[", "]")
        if not value:
            return open_ + close
        items = [f"{pad}{python_literal(v, indent + 4)}," for v in value]
        return open_ + "\n" + "\n".join(items) + "\n" + " " * indent + close
    raise TypeError(f"cannot write {type(value).__name__} as a Python literal")


def py_ident(value: str) -> PyCode:
    """An identifier for generated Python; rejects anything that is not one (or is a keyword)."""
    if not value.isidentifier() or keyword.iskeyword(value) or not value.isascii():
        raise ValueError(f"not a safe Python identifier: {value!r}")
    return PyCode(value)


_FILTERS = {"md_block": md_block, "md_attr": md_attr, "md": md_inline, "md_indent": md_indent,
            "paragraphs": paragraphs, "number": number, "pct": pct,
            "pyrepr": pyrepr, "py_ident": py_ident}
_FINALIZE = {"html": _html_finalize, "md": _md_finalize, "py": _py_finalize}


@cache
def environment(kind: EnvKind) -> Environment:
    """The environment for one output kind; all share loader, undefined policy, whitespace rules and filters.

    HTML autoescaping is switched on explicitly, never inferred from a file name. Markdown and Python escape through
    ``finalize`` instead (HTML escaping would be the wrong escaping for them); ``select_autoescape`` still turns on
    HTML escaping should an ``.html.j2`` template ever be rendered with them.
    """
    common = {"loader": PackageLoader("labelspec", "templates"), "undefined": StrictUndefined, "trim_blocks": True,
              "lstrip_blocks": True, "keep_trailing_newline": True, "finalize": _FINALIZE[kind]}
    if kind == "html":
        env = Environment(autoescape=True, **common)  # type: ignore[arg-type]
    else:
        env = Environment(autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
                          **common)  # type: ignore[arg-type]
    env.filters.update(_FILTERS)
    return env


def render(kind: EnvKind, template: str, context: object) -> str:
    """Render one packaged template with a context mapping (a TypedDict built by an emitter)."""
    return environment(kind).get_template(template).render(context)
