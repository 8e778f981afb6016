"""Terminal rendering shared by commands: located diagnostics and progress messages. No click here.

The diagnostic format is the same everywhere, location first so editors can jump to it::

    specs/x/labelspec.yaml:41:12: LS301 tasks.intent.rules[0].expect.label_in[0]: unknown label 'dispte'
       41 |         expect: {label_in: [dispte]}
          |                             ^
      hint: did you mean 'dispute'?
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable

from labelspec.check.render import safe
from labelspec.errors import Diagnostic


def render_diagnostic(d: Diagnostic) -> str:
    where = f"{d.loc}: " if d.loc else ""
    level = "" if d.severity == "error" else f"{d.severity}: "
    pointer = f" {d.pointer}:" if d.pointer else ""
    lines = [safe(f"{where}{level}{d.code}{pointer} {d.message}")]
    if d.excerpt:
        lines.extend(safe(line) for line in d.excerpt.rstrip("\n").split("\n"))  # not at U+2028: data
    if d.hint:
        lines.append(safe(f"  hint: {d.hint}"))
    return "\n".join(lines)


def render_diagnostics(diagnostics: Iterable[Diagnostic]) -> str:
    items = list(diagnostics)
    errors = sum(d.severity == "error" for d in items)
    body = "\n".join(render_diagnostic(d) for d in items)
    return f"{body}\n{errors} error(s)" if errors else body


def stderr_progress(quiet: bool) -> Callable[[str], None] | None:
    """Progress on stderr for long work: plain lines (never animated), silent when quiet or in CI."""
    if quiet or os.environ.get("CI") == "true":
        return None
    start = time.monotonic()

    def report(message: str) -> None:
        print(f"[{time.monotonic() - start:6.1f}s] {message}", file=sys.stderr, flush=True)

    return report
