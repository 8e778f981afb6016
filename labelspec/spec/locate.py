"""Turn a path into the spec data into a located diagnostic: ``FILE:LINE:COL``, a dotted pointer and a hint.

Shared by the shape (``validate``) and meaning (``resolve``) stages so both point at places the same way. A
:class:`Locator` holds one or more parsed YAML layers (the spec first, then the policy files it extends, nearest
first) and finds the layer that actually wrote a value, so a problem inherited from a policy file is reported in that
file. No I/O; never parses messages.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from labelspec.errors import Diagnostic, SourceLocation
from labelspec.spec.source import RawSpec, excerpt

Part = str | int
_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")  # \Z: `$` would let "a\n" pass as plain


def pointer(parts: Sequence[Part]) -> str:
    """``tasks.intent.rules[0].expect.label_in[0]``; keys that are not plain names are bracketed and JSON-quoted."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A difflib suggestion, or None when nothing is close (choices are sorted so the hint is deterministic)."""
    pool = sorted({c for c in choices if isinstance(c, str)})
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not matches:
        folded = [c for c in pool if c.casefold() == word.casefold()]
        matches = folded[:1]
    return f"did you mean {matches[0]!r}?" if matches else None


def walk(data: Any, parts: Sequence[Part]) -> tuple[bool, Any]:
    """``(found, value)`` for a path into plain YAML data."""
    node = data
    for part in parts:
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(part, str) and isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return False, None
    return True, node


class Locator:
    """Locations for paths into the merged spec data. ``layers[0]`` is the spec; later layers are policy files."""

    def __init__(self, layers: Sequence[RawSpec]) -> None:
        self.layers = tuple(layers)

    def _layer(self, parts: Sequence[Part]) -> RawSpec:
        for layer in self.layers:
            if walk(layer.data, parts)[0]:
                return layer
        return self.layers[0]

    def _find(self, parts: Sequence[Part], *, key: bool) -> tuple[RawSpec, SourceLocation]:
        layer = self._layer(parts)
        if key and parts and isinstance(parts[-1], str):
            return layer, layer.source.locate_key(tuple(parts))
        return layer, layer.source.locate(tuple(parts))

    def written(self, parts: Sequence[Part]) -> bool:
        """Whether some layer of the spec writes ``parts`` (a default leaves it unwritten)."""
        return any(walk(layer.data, parts)[0] for layer in self.layers)

    def at(self, parts: Sequence[Part], *, key: bool = False) -> SourceLocation:
        """The value written at ``parts`` (or its key, with ``key=True``); the nearest existing ancestor otherwise."""
        return self._find(parts, key=key)[1]

    def layer_of(self, parts: Sequence[Part]) -> RawSpec:
        return self._layer(parts)

    def diag(self, code: str, parts: Sequence[Part], message: str, *, hint: str | None = None,
             key: bool = False) -> Diagnostic:
        """A diagnostic at ``parts``, with the excerpt of the line it points at."""
        layer, loc = self._find(parts, key=key)
        return Diagnostic(code, message, loc, pointer(parts), hint, excerpt=_excerpt(layer, loc))


def _excerpt(layer: RawSpec, loc: SourceLocation) -> str | None:
    return excerpt(layer.source, loc) or None
