"""Semantic-version order (semver 2.0.0) of spec versions, for ``diff`` and the changelog check.

One job: parse ``MAJOR.MINOR.PATCH[-pre]`` and give a sort key. It never judges what a bump should be.
"""

from __future__ import annotations

import re

SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-([0-9A-Za-z.-]+))?\Z")

Precedence = tuple[tuple[int, ...], int, tuple[tuple[int, int, str], ...]]


def core(version: str) -> tuple[int, int, int] | None:
    """(major, minor, patch), or None when ``version`` is not semver."""
    m = SEMVER.match(version)
    return None if m is None else (int(m.group(1)), int(m.group(2)), int(m.group(3)))


def precedence(version: str) -> Precedence | None:
    """A sort key in semver order, or None when ``version`` is not semver: a pre-release sorts before its
    release; its dot-separated identifiers compare numerically when they are digits (and then before text),
    otherwise in ASCII order."""
    m = SEMVER.match(version)
    if m is None:
        return None
    numbers = tuple(int(g) for g in m.groups()[:3])
    pre = m.group(4)
    if pre is None:
        return numbers, 1, ()
    return numbers, 0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
