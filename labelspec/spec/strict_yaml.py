"""labelspec's restricted YAML: the loader that composes a spec and the walk that turns it into data.

``spec/source.py`` is the public face (I/O, decoding, loader failures). The rules: a private resolver
table (below); only the YAML core tags; anchors and aliases under an expansion budget charged while composing;
merge keys with YAML merge semantics; duplicate and non-string keys are errors. The walk builds JSON-ready
data and the position of every node and key in one pass. No I/O; never constructs objects from tags; never
touches PyYAML's global resolver tables.

Scalars: a plain scalar gets a non-string type only where YAML 1.1 (PyYAML) and YAML 1.2 core agree:
``true/True/TRUE/false/False/FALSE``, ``null/Null/NULL/~``/empty, decimal ints without leading zeros, ``0x``
hex, dotted decimal floats (signed exponent), ``.inf``/``.nan``. Where they disagree (``yes no on off y n``,
dates, ``010``, ``1_000``, ``1e3``, ``0o17``) it stays a string, with an LS107 warning naming the other
reading. So whatever ``yaml.safe_dump`` writes reads back as the data it was dumped from.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.error import Mark
from yaml.events import AliasEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from labelspec.errors import Diagnostic, SourceLocation, SpecError

MAX_NODES = 100_000
MAX_ALIAS_CHARS = 4 << 20  # text that aliases repeat: 400 KB of spec must not become 2 GB of guidelines
MAX_DEPTH = 64  # nested collections, the top-level mapping included

_T = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL, SEQ, MAP, MERGE = (
    _T + t for t in "str int float bool null seq map merge".split()
)
_SCALAR_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL, MERGE})
_SURROGATE = re.compile("[\ud800-\udfff]")
_BOOL = re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")
_NULL = re.compile(r"(?:~|null|Null|NULL|)\Z")
_INF_NAN = r"[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
_INT12 = re.compile(r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")
_FLOAT12 = re.compile(rf"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|{_INF_NAN})\Z")
_FLOAT_BOTH = rf"(?:[-+]?[0-9]+\.[0-9]*(?:[eE][-+][0-9]+)?|\.[0-9]+(?:[eE][-+][0-9]+)?|{_INF_NAN})\Z"
_RESOLVERS = (  # (tag, regexp, first characters): what YAML 1.1 and YAML 1.2 core both read the same way
    (BOOL, _BOOL, "tTfF"),
    (INT, re.compile(r"(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+)\Z"), "-+0123456789"),
    (FLOAT, re.compile(_FLOAT_BOTH), "-+0123456789."),
    (NULL, _NULL, ["~", "n", "N", ""]),
    (MERGE, re.compile(r"<<\Z"), "<"),
)
_YAML11 = yaml.resolver.Resolver()  # read-only use of PyYAML's YAML 1.1 table, to explain LS107
_C11 = yaml.constructor.SafeConstructor()
_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")  # pointer format shared with spec/locate.py
PathParts = tuple[str | int, ...]
Where = dict[PathParts, tuple[int, int, int, int]]  # path -> (line, col, key line, key col), 1-based


@dataclass(frozen=True)
class Walked:
    """What one walk of a document gives: the data, where each path was written, the problems found."""

    data: Any
    where: Where
    diagnostics: tuple[Diagnostic, ...]


class _Alias(Node):  # type: ignore[misc]  # PyYAML ships no type stubs
    """An alias kept in the graph, so its own position survives (PyYAML hands back the anchored node)."""

    def __init__(self, target: Node, mark: Mark) -> None:
        super().__init__(target.tag, target.value, mark, mark)
        self.target = target


class StrictLoader(yaml.SafeLoader):  # type: ignore[misc]
    """SafeLoader with a private resolver table. It records tag positions and charges the node budget while
    composing (an alias costs its target's expanded size), so an alias bomb fails before anything expands."""

    yaml_implicit_resolvers: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}

    def __init__(self, text: str, path: str) -> None:
        super().__init__(text)
        self.path, self.expanded, self.depth, self.repeated = path, 0, 0, 0
        self.tag_marks: list[Mark] = []
        # id(node) -> (expanded node count, collection height, expanded scalar characters)
        self.sizes: dict[int, tuple[int, int, int]] = {}

    def scan_tag(self) -> Any:
        token = super().scan_tag()
        self.tag_marks.append(token.start_mark)
        return token

    def _check(self, failed: bool, message: str, mark: Mark) -> None:
        if failed:
            hint = ("flatten the spec: fewer nested lists and mappings" if "nesting" in message else
                    "reuse less (fewer anchors and aliases) or flatten the spec")
            raise SpecError(Diagnostic("LS104", message, loc(self.path, mark), hint=hint))

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        mark = self.peek_event().start_mark
        if self.check_event(AliasEvent):
            target = super().compose_node(parent, index)
            self._check(id(target) not in self.sizes, "alias refers to a node that contains it", mark)
            node: Node = _Alias(target, mark)
            size, height, chars = self.sizes[id(node)] = self.sizes[id(target)]
            self.expanded, self.repeated = self.expanded + size, self.repeated + chars
            self._check(self.expanded > MAX_NODES, f"aliases expand to over {MAX_NODES} nodes", mark)
            self._check(self.repeated > MAX_ALIAS_CHARS,
                        f"aliases repeat over {MAX_ALIAS_CHARS >> 20} MiB of text", mark)
            self._check(self.depth + height > MAX_DEPTH, f"alias nests deeper than {MAX_DEPTH} levels", mark)
            return node
        nested = not self.check_event(ScalarEvent)
        self.expanded, self.depth = self.expanded + 1, self.depth + nested
        self._check(self.expanded > MAX_NODES, f"the document has over {MAX_NODES} nodes", mark)
        self._check(self.depth > MAX_DEPTH, f"nesting deeper than {MAX_DEPTH} levels", mark)
        node = super().compose_node(parent, index)
        self.depth -= nested
        kids = node.value if isinstance(node, SequenceNode) else []
        kids = [n for kv in node.value for n in kv] if isinstance(node, MappingNode) else kids
        self.sizes[id(node)] = (
            1 + sum(self.sizes[id(k)][0] for k in kids),
            nested + max((self.sizes[id(k)][1] for k in kids), default=0),
            len(node.value) if isinstance(node, ScalarNode) else sum(self.sizes[id(k)][2] for k in kids),
        )
        return node


for _tag, _rx, _first in _RESOLVERS:
    StrictLoader.add_implicit_resolver(_tag, _rx, list(_first))


class _Builder:
    """Walks the composed graph once: builds the data, records positions, collects diagnostics."""

    def __init__(self, path: str, tag_marks: list[Mark]) -> None:
        self.path, self.tag_marks = path, tag_marks
        self.tag_index = [m.index for m in tag_marks]
        self.diags: list[Diagnostic] = []
        self.where: dict[PathParts, tuple[int, int, int, int]] = {}

    def report(
        self, code: str, message: str, mark: Mark, parts: PathParts, hint: str, severity: str = "error"
    ) -> None:
        self.diags.append(Diagnostic(code, message, loc(self.path, mark), _pointer(parts), hint, severity))

    def build(self, node: Node, parts: PathParts, key_mark: Mark | None = None) -> Any:
        start, key = loc(self.path, node.start_mark), loc(self.path, key_mark or node.start_mark)
        self.where[parts] = (start.line, start.column, key.line, key.column)
        node = _unalias(node)
        if not self._tag_ok(node, parts):
            return None
        if isinstance(node, MappingNode):
            return self.mapping(node, parts)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*parts, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, parts)

    def mapping(self, node: MappingNode, parts: PathParts) -> dict[str, Any]:
        """Keys in written order, merged (``<<``) keys at the merge's place; explicit keys win over merged."""
        first: dict[str | None, Node] = {}  # key -> its first key node; None stands for the merge key
        slots: list[tuple[str | None, Node, Node]] = []
        for key_node, value_node in node.value:
            key = None if _unalias(key_node).tag == MERGE else self._key(key_node, parts)
            if key is None and _unalias(key_node).tag != MERGE:
                continue
            if key in first:
                line = loc(self.path, first[key].start_mark).line
                self.report(
                    "LS102",
                    f"duplicate key '{_show(key or '<<')}' (first defined at line {line})",
                    key_node.start_mark,
                    (*parts, key or "<<"),
                    "remove or rename one of the two",
                )
                continue
            first[key] = key_node
            slots.append((key, key_node, value_node))
        merged = self._merged([v for k, _, v in slots if k is None], first, parts)
        out: dict[str, Any] = {}
        for key, key_node, value_node in slots:
            if key is None:
                out.update(merged)
            else:
                out[key] = self.build(value_node, (*parts, key), key_node.start_mark)
        return out

    def _merged(
        self, values: list[Node], explicit: Mapping[str | None, Node], parts: PathParts
    ) -> dict[str, Any]:
        """Keys merged from ``<<`` values (earlier sources win), with their positions, minus explicit keys."""
        merged: dict[str, Any] = {}
        for value in values:
            for source in value.value if isinstance(_unalias(value), SequenceNode) else [value]:
                target = _unalias(source)
                if not isinstance(target, MappingNode):
                    self.report(
                        "LS101",
                        "a merge key '<<' takes a mapping or a list of mappings",
                        source.start_mark,
                        parts,
                        "write `<<: *anchor` where the anchor is a mapping",
                    )
                    continue
                if not self._tag_ok(target, parts):
                    continue
                outer, self.where = self.where, {}
                data = self.mapping(target, parts)
                recorded, self.where = self.where, outer
                fresh = {k: v for k, v in data.items() if k not in explicit and k not in merged}
                merged.update(fresh)
                n = len(parts)
                self.where.update({p: pos for p, pos in recorded.items() if len(p) > n and p[n] in fresh})
        return merged

    def _key(self, key_node: Node, parts: PathParts) -> str | None:
        node = _unalias(key_node)
        if not self._tag_ok(node, parts):
            return None
        if isinstance(node, ScalarNode) and node.tag == STR:
            return str(self._scalar(node, (*parts, node.value), key=True))
        if isinstance(node, ScalarNode):
            kind = {NULL: "null", BOOL: "a boolean", INT: "an integer", FLOAT: "a number"}[node.tag]
            self.report(
                "LS106",
                f"mapping key '{_show(node.value)}' is read as {kind}; keys must be strings",
                key_node.start_mark,
                parts,
                f"quote it: '{_show(node.value)}'",
            )
        else:
            self.report(
                "LS106",
                f"a {node.id} cannot be a mapping key; keys must be strings",
                key_node.start_mark,
                parts,
                "use a plain string key",
            )
        return None

    def _scalar(self, node: ScalarNode, parts: PathParts, *, key: bool = False) -> Any:
        tag, value = node.tag, node.value
        try:
            if tag in (STR, MERGE):
                self._check_string(node, parts, warn=not key)
                return value
            if tag in (INT, FLOAT):
                return _int(value) if tag == INT else _float(value)
            return None if tag == NULL else _bool(value)
        except ValueError as exc:  # an explicit tag on a bad value, or an int past Python's digit limit
            self.report(
                "LS101",
                f"cannot read '{_show(value)}' as {tag.removeprefix(_T)}: {str(exc).split(':')[0]}",
                node.start_mark,
                parts,
                "quote it if it is text",
            )
            return None

    def _check_string(self, node: ScalarNode, parts: PathParts, *, warn: bool = True) -> None:
        """Lone surrogates are errors; a plain value YAML 1.1 would retype gets LS107 (keys are always strings
        in a spec, so a key like ``on:`` or ``no:`` is never retyped by labelspec and is not warned about)."""
        if _SURROGATE.search(node.value):
            self.report(
                "LS101",
                "string contains a lone surrogate escape (\\ud800-\\udfff)",
                node.start_mark,
                parts,
                "write the character itself or use an 8-digit \\U escape",
            )
        if warn and node.style is None and self._tag_mark(node) is None and (message := _retype_message(node.value)):
            hint = f"quote it: '{_show(node.value)}'"
            self.report("LS107", message, node.start_mark, parts, hint, "warning")

    def _tag_ok(self, node: Node, parts: PathParts) -> bool:
        kind = SEQ if isinstance(node, SequenceNode) else MAP
        allowed = _SCALAR_TAGS if isinstance(node, ScalarNode) else {kind}
        if node.tag in allowed:
            return True
        shown = "!!" + node.tag.removeprefix(_T) if node.tag.startswith(_T) else node.tag
        self.report(
            "LS103",
            f"tag '{_show(shown)}' is not allowed on a {node.id}; only the YAML core tags "
            "(str, int, float, bool, null, seq, map) are",
            self._tag_mark(node) or node.start_mark,
            parts,
            "remove the tag: a spec is plain data",
        )
        return False

    def _tag_mark(self, node: Node) -> Mark | None:
        """The node's explicit tag: properties precede content, so it is the first tag from its start on."""
        i = bisect.bisect_left(self.tag_index, node.start_mark.index)
        inside = i < len(self.tag_index) and self.tag_index[i] < node.end_mark.index
        return self.tag_marks[i] if inside else None


def _unalias(node: Node) -> Node:
    return node.target if isinstance(node, _Alias) else node


def _bool(value: str) -> bool:
    if not _BOOL.match(value):
        raise ValueError("use true or false")
    return value.lower() == "true"


def _int(value: str) -> int:
    if not _INT12.match(value):
        raise ValueError("not an integer")
    return int(value[2:], 16 if value[1] == "x" else 8) if value[:2] in ("0x", "0o") else int(value, 10)


def _float(value: str) -> float:
    if not _FLOAT12.match(value):
        raise ValueError("not a number")
    special = {".inf": float("inf"), ".nan": float("nan")}.get(value.lstrip("+-").lower())
    return float(value) if special is None else -special if value[0] == "-" else special


def _retype_message(value: str) -> str | None:
    """How YAML 1.1 or YAML 1.2 core tools would read a plain scalar that labelspec keeps as a string."""
    tag = _YAML11.resolve(ScalarNode, value, (True, False))
    if value in ("y", "Y", "n", "N"):  # YAML 1.1 booleans that PyYAML itself misses
        reading = f"boolean {str(value in 'yY').lower()}"
    elif tag not in (STR, MERGE, _T + "value"):
        reading = "a date" if tag.endswith("timestamp") else _describe11(tag, value)
    elif _INT12.match(value) or _FLOAT12.match(value):
        return f"'{_show(value)}' would be read as a number by YAML 1.2 tools; quote it"
    else:
        return None
    return f"'{_show(value)}' would be read as {reading} by YAML 1.1 tools; quote it"


def _describe11(tag: str, value: str) -> str:
    kind = {BOOL: "boolean", INT: "the integer", FLOAT: "the float"}[tag]
    try:
        read = getattr(_C11, "construct_yaml_" + tag.removeprefix(_T))(ScalarNode(tag, value))
        shown = str(read).lower() if tag == BOOL else repr(read)
        return f"{kind} {shown}" if len(value) <= 40 else "a number"
    except (ValueError, ArithmeticError):
        return "a number"


def _show(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pointer(parts: PathParts) -> str:
    out = ""
    for part in parts:
        plain = isinstance(part, str) and _PLAIN_KEY.match(part)
        out += f"[{json.dumps(part, ensure_ascii=False)}]" if not plain else f".{part}" if out else str(part)
    return out


_HIDDEN_BREAK = re.compile("[\x85\u2028\u2029]")
_hidden: list[Any] = [None, []]  # the last buffer seen and where its hidden breaks are (one spec at a time)


def loc(path: str, mark: Mark) -> SourceLocation:
    """1-based line:column as editors and grep count them. PyYAML also breaks lines at U+0085, U+2028 and U+2029;
    after one of those its mark is counted again from the physical line (rare: only then is the text searched)."""
    buffer = mark.buffer
    if isinstance(buffer, str):
        if _hidden[0] is not buffer:
            _hidden[:] = [buffer, [m.start() for m in _HIDDEN_BREAK.finditer(buffer)]]
        before = bisect.bisect_left(_hidden[1], mark.index)
        if before:
            start = max(buffer.rfind("\n", 0, mark.index), buffer.rfind("\r", 0, mark.index)) + 1
            column = mark.index - start - buffer.count("\ufeff", start, mark.index) + 1
            return SourceLocation(path, mark.line + 1 - before, column)
    return SourceLocation(path, mark.line + 1, mark.column + 1)


def walk(root: Node | None, tag_marks: list[Mark], path: str) -> Walked:
    """Walk a document composed by :class:`StrictLoader` once; every problem found is listed, none raised."""
    builder, data = _Builder(path, tag_marks), None
    hint = "a spec is one YAML mapping, starting with `labelspec: 1`"
    if root is None:
        builder.report("LS105", "the file holds no YAML document", Mark(path, 0, 0, 0, None, None), (), hint)
    elif not isinstance(root, MappingNode):
        message = f"the top level is a {root.id}; a spec is a mapping"
        builder.report("LS105", message, root.start_mark, (), hint)
    else:
        data = builder.build(root, ())
    unique = {(d.code, d.loc, d.message): d for d in reversed(builder.diags)}  # alias expansions repeat them
    return Walked(data, builder.where, tuple(unique.values()))
