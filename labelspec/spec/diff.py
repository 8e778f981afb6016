"""What changed between two versions of a spec, and whether its version number says so.

One job: compare two loaded specs field by field (tasks by name, labels, edge cases and rules by id, sets of
options as sets), classify each change by what it means for labels made under the old version, and check the
semantic-version bump of ``project.version`` against the strongest change:

* **breaking** (needs a major bump): judgments made under the old spec may no longer be valid or readable — a
  task, label or ranking option removed; a task's kind, unit, scale or annotated field changed; a label moved to
  another parent; the label-file columns or the item id column renamed;
* **additive** (needs a minor bump): something new to learn — a task, label, option, edge case or rule added;
* **revision** (needs a patch bump): anything else — definitions, examples, edge-case and rule text, thresholds,
  consensus policy, and the content of the items, gold and calibration files.

Free text (project title, summary, owners), the changelog and the roster file are not compared: they document or
operate the spec rather than define it. When the spec keeps a changelog, the new version must have an entry.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, Literal

from labelspec.spec.model import Spec
from labelspec.spec.semver import core, precedence

Impact = Literal["breaking", "additive", "revision"]
Bump = Literal["major", "minor", "patch", "prerelease", "none"]

#: A step within one version's pre-releases (1.5.0-rc.1 → rc.2, or → 1.5.0) fits any change: a pre-release
#: promises no compatibility, and the step from the last release is judged by a diff against that release.
_ORDER: dict[str, int] = {"none": 0, "patch": 1, "minor": 2, "major": 3, "prerelease": 4}
_NEEDS: dict[Impact, Bump] = {"breaking": "major", "additive": "minor", "revision": "patch"}
#: The path suffix of a data file's content change (``items.file:content``).
_CONTENT = ":content"
#: Tuples of dataclasses compared as mappings, by this field.
_KEYS = {"tasks": "name", "labels": "id", "edge_cases": "id", "rules": "id", "rubric": "id", "fields": "name"}
#: Fields that locate the spec rather than define it (gate overrides are compared by gate, without locations).
_SKIP = {"loc", "key_locs", "per_label_loc", "path", "root", "digest", "extends", "annotators", "gate_overrides",
         "sources", "file_bytes", "policy_bytes"}
#: The project's fields that document it (a label's title, by contrast, is what annotators see).
_PROJECT_TEXT = {"version", "changelog", "title", "summary", "owners", "domain"}
#: Changes that invalidate judgments made under the old spec (besides removals of tasks, labels and options).
_BREAKING = re.compile(r"^(tasks\.[^.]+\.(kind|unit|field|scale)(\.|\Z)|tasks\.[^.]+\.labels\..+\.parent\Z"
                       r"|columns\.|items\.id\Z|project\.id\Z)")


@dataclass(frozen=True)
class Change:
    path: str  # dotted: tasks.intent.labels.refund.definition
    what: Literal["added", "removed", "changed"]
    impact: Impact
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "what": self.what, "impact": self.impact, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class SpecDiff:
    old_version: str
    new_version: str
    changes: tuple[Change, ...]
    needed: Bump  # the bump the strongest change needs
    bumped: Bump  # the bump the version number shows ("none": not increased)
    problems: tuple[str, ...]  # why the version number does not fit the changes; empty when it does

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """The terminal text: one line per change (in spec order), then the verdict on the version number."""
        width = max((len(c.path) for c in self.changes), default=0)
        lines = [f"version {self.old_version} → {self.new_version}: {len(self.changes)} change"
                 f"{'' if len(self.changes) == 1 else 's'}"]
        for c in self.changes:
            detail = c.what if c.what != "changed" else (
                _content_text(c.old, c.new) if c.path.endswith(_CONTENT) else _change_text(c.old, c.new))
            lines.append(f"  {c.impact:<9} {c.path:<{width}}  {detail}")
        if self.ok:
            lines.append(f"ok: the changes need {_a(self.needed)} bump; this is {_a(self.bumped)} bump"
                         if self.needed != "none" else "ok: no change that needs a new version")
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {"old_version": self.old_version, "new_version": self.new_version, "needed": self.needed,
                "bumped": self.bumped, "ok": self.ok, "problems": list(self.problems),
                "changes": [c.to_dict() for c in self.changes]}


def data_files(spec: Spec) -> dict[str, str]:
    """The data files a diff compares by content, by spec key: items, gold, calibration (not the roster, which
    ``calibrate`` rewrites as annotators qualify). Paths relative to the spec's folder."""
    named = {"items.file": spec.items, "quality.gold.file": spec.quality.gold,
             "quality.calibration.file": spec.quality.calibration}
    return {key: f.file for key, f in named.items() if f is not None}


def diff_specs(old: Spec, new: Spec, *, contents: tuple[dict[str, bytes | None], dict[str, bytes | None]] = ({}, {})
               ) -> SpecDiff:
    """Every change from ``old`` to ``new`` and whether ``project.version`` was bumped enough. ``contents``: the
    bytes of each spec's :func:`data_files` (read by the caller; a file left out is not compared)."""
    inherited = _inherited_agreement(old, new)
    changes = [c for c in (*_walk(old, new, ""), *_gate_overrides(old, new), *_contents(*contents))
               if not c.path.startswith(inherited)]
    needed: Bump = max((_NEEDS[c.impact] for c in changes), key=_ORDER.__getitem__, default="none")
    bumped = _bump(old.project.version, new.project.version)
    problems = []
    if bumped is None:
        problems.append(f"version {new.project.version!r} or {old.project.version!r} is not MAJOR.MINOR.PATCH")
    elif _goes_down(old.project.version, new.project.version):
        problems.append(f"version goes down from {old.project.version} to {new.project.version}: a new version "
                        "must be higher than the old one")
    elif _ORDER[bumped] < _ORDER[needed]:
        strongest = next(c for c in changes if _NEEDS[c.impact] == needed)
        got = "is unchanged" if bumped == "none" else f"is {_a(bumped)} bump"
        problems.append(f"{old.project.version} → {new.project.version} {got}, but {strongest.path} "
                        f"({strongest.what}) is {_a(strongest.impact)} change: it needs {_a(needed)} bump")
    # a pre-release may share its release's entry (1.5.0-rc.2 is listed under 1.5.0)
    entries = {new.project.version, ".".join(map(str, core(new.project.version) or ()))}
    if new.project.changelog and bumped not in (None, "none") and not any(
            e.version in entries for e in new.project.changelog):
        problems.append(f"project.changelog has no entry for version {new.project.version}")
    return SpecDiff(old.project.version, new.project.version, tuple(changes), needed, bumped or "none",
                    tuple(problems))


def _inherited_agreement(old: Spec, new: Spec) -> tuple[str, ...]:
    """``tasks.<name>.agreement.`` of every task that takes ``quality.agreement`` as it is in both versions: a
    change there is the quality section's, listed once under ``quality.agreement``."""
    before = {t.name: t.agreement == old.quality.agreement for t in old.tasks}
    return tuple(f"tasks.{t.name}.agreement." for t in new.tasks
                 if before.get(t.name) and t.agreement == new.quality.agreement)


def _bump(old: str, new: str) -> Bump | None:
    x, y = core(old), core(new)
    if x is None or y is None:
        return None
    if y == x and (precedence(new) or ()) > (precedence(old) or ()):
        return "prerelease"
    if y <= x:
        return "none"
    return "major" if y[0] > x[0] else "minor" if y[1] > x[1] else "patch"


def _goes_down(old: str, new: str) -> bool:
    """Whether ``new`` precedes ``old`` in semantic-version order (``1.4.1`` → ``1.4.0``, or → ``1.4.1-rc.1``)."""
    a, b = precedence(old), precedence(new)
    return a is not None and b is not None and b < a


def _walk(old: Any, new: Any, path: str) -> Iterator[Change]:
    if is_dataclass(old) and type(old) is type(new):
        for f in fields(old):
            if f.name not in _SKIP and not (path == "project" and f.name in _PROJECT_TEXT):
                yield from _walk(getattr(old, f.name), getattr(new, f.name), _join(path, f.name))
        return
    name = path.rsplit(".", 1)[-1]
    if (name in _KEYS and isinstance(old, tuple) and isinstance(new, tuple)
            and all(hasattr(x, _KEYS[name]) for x in (*old, *new))):  # not a rule's tuple of label ids
        yield from _keyed(old, new, path, _KEYS[name])
        return
    if name == "options" and isinstance(old, tuple) and isinstance(new, tuple):  # ranking options: a set
        for gone in sorted(set(old) - set(new)):
            yield Change(f"{path}.{gone}", "removed", "breaking")
        for added in sorted(set(new) - set(old)):
            yield Change(f"{path}.{added}", "added", "additive")
        return
    if old != new:
        yield Change(path, "changed", "breaking" if _BREAKING.match(path) else "revision", _plain(old), _plain(new))


def _keyed(old: tuple[Any, ...], new: tuple[Any, ...], path: str, key: str) -> Iterator[Change]:
    before, after = {getattr(o, key): o for o in old}, {getattr(n, key): n for n in new}
    # removing an edge case or a rule changes guidance, not what a judgment may be
    removal: Impact = "breaking" if path.rsplit(".", 1)[-1] in ("tasks", "labels", "rubric") else "revision"
    for k in before:
        if k not in after:
            yield Change(f"{path}.{k}", "removed", removal)
    for k in after:
        if k not in before:
            yield Change(f"{path}.{k}", "added", "additive")
        else:
            yield from _walk(before[k], after[k], f"{path}.{k}")


def _gate_overrides(old: Spec, new: Spec) -> Iterator[Change]:
    before = {g: s for g, s, _ in old.gate_overrides}
    after = {g: s for g, s, _ in new.gate_overrides}
    for gate in sorted(before.keys() | after.keys()):
        if before.get(gate) != after.get(gate):
            yield Change(f"gates.{gate}.severity", "changed", "revision", before.get(gate), after.get(gate))


def _contents(old: dict[str, bytes | None], new: dict[str, bytes | None]) -> Iterator[Change]:
    """A data file whose bytes differ, as the sha256 of each version (``None``: unreadable), so a reviewer can
    tell which file went in without the bytes themselves in the diff."""
    for key in sorted(old.keys() & new.keys()):
        if old[key] != new[key]:
            yield Change(f"{key}{_CONTENT}", "changed", "revision", _sha256(old[key]), _sha256(new[key]))


def _sha256(data: bytes | None) -> str | None:
    return None if data is None else "sha256:" + hashlib.sha256(data).hexdigest()


def _content_text(old: str | None, new: str | None) -> str:
    """``content changed (sha256 1a2b3c4d5e6f → 9f8e7d6c5b4a)``: the digests cut to 12 hex digits, enough to
    tell files apart on a terminal (the JSON output has them whole)."""
    def short(digest: str | None) -> str:
        return "unreadable" if digest is None else digest.removeprefix("sha256:")[:12]
    return f"content changed (sha256 {short(old)} → {short(new)})"


def _a(word: str) -> str:
    """``word`` with its indefinite article: "an additive", "a patch"."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def _plain(value: Any) -> Any:
    """A JSON-friendly view of a changed value (dataclasses as their fields, without source locations)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value) if f.name != "loc"}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _change_text(old: Any, new: Any, most: int = 48) -> str:
    """``old → new`` for short values; for long texts (definitions, instructions) only that they changed (the
    JSON output has both texts whole)."""
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > most:
        return f"text changed ({len(old)} → {len(new)} characters)"
    return f"{_short(old, most)} → {_short(new, most)}"


def _short(value: Any, most: int = 48) -> str:
    """One line of a value for the terminal: JSON (so newlines and quotes show as escapes), cut at ``most``."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= most else text[: most - 1] + "…"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
