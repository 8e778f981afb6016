"""Meaning checks on a schema-valid spec, all at once: references, ids, thresholds, regexes, the changelog
(LS301–LS307, LS310, LS313, LS314).

Each check reads the merged spec data (for locations) and the built model (for derived facts such as a task's
answers) and appends located diagnostics; none raises or stops early. Settings that do not fit a task kind and gate
ids live in ``resolve_kinds``; paths in ``paths``, data files in ``datafiles``. No I/O.
"""

from __future__ import annotations

import math
import re
import re._parser
import unicodedata
from collections.abc import Iterable
from typing import Any

from labelspec.errors import Diagnostic
from labelspec.spec.locate import Locator, Part, did_you_mean
from labelspec.spec.model import Spec, Task
from labelspec.spec.plan import PER_LABEL_KINDS
from labelspec.spec.semver import core
from labelspec.spec.visible_text import check_bidi_text, check_id_text, check_other_ids
from labelspec.spec.visible_text import invisible as invisible  # re-exported: the readers check column names

MAX_REGEX_LENGTH = 1000
#: Pattern nodes the regex package may compile (``check`` runs rule patterns on it, under a time limit): it writes a
#: counted repeat's minimum out in full (``x{1000}`` is 1000 copies), so a count re takes in its stride would
#: exhaust memory before any time limit applies.
MAX_UNROLLED = 20_000
_PARSER: Any = re._parser  # the tree re compiles (private, stable since 3.11)
_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
MAX_SCALE_POINTS = 1001
SUM_TOLERANCE = 1e-6


class Checker:
    """Collects located diagnostics for one spec."""

    def __init__(self, data: dict[str, Any], loc: Locator, spec: Spec) -> None:
        self.data, self.loc, self.spec = data, loc, spec
        self.diags: list[Diagnostic] = []

    def add(self, code: str, parts: Iterable[Part], message: str, *, hint: str | None = None,
            key: bool = False) -> None:
        self.diags.append(self.loc.diag(code, tuple(parts), message, hint=hint, key=key))

    def tasks(self) -> Iterable[tuple[tuple[Part, ...], dict[str, Any], Task]]:
        for task in self.spec.tasks:
            yield ("tasks", task.name), self.data["tasks"][task.name], task


def check_meaning(checker: Checker) -> None:
    """Every meaning check of this module, in a fixed order (the output is sorted by location anyway)."""
    check_unique_ids(checker)
    for base, raw, task in checker.tasks():
        check_unique_keys(checker, base, raw)
        check_label_refs(checker, base, raw, task)
        check_id_text(checker, base, raw)
        check_collisions(checker, base, raw)
        check_parent_cycles(checker, base, raw)
        check_distribution(checker, base, raw, task)
        check_task_thresholds(checker, base, raw, task)
        check_regexes(checker, base, raw)
        check_fields(checker, base, raw)
    check_quality_thresholds(checker)
    check_changelog(checker)
    check_other_ids(checker)
    check_step_keys(checker)
    check_bidi_text(checker)


def answers_of(task: Task) -> tuple[str, ...]:
    """``task.label_ids``, except for a scale too large to list (reported as LS306): then none."""
    scale = task.scale
    if task.kind == "rating" and scale is not None and scale.max - scale.min + 1 > MAX_SCALE_POINTS:
        return ()
    return task.label_ids


def _unknown_label(checker: Checker, parts: tuple[Part, ...], ref: str, task: Task, choices: Iterable[str],
                   *, key: bool = False) -> None:
    pool = list(choices)
    hint = did_you_mean(ref, pool) or ("labels of this task: " + ", ".join(pool[:12]) + (" …" if len(pool) > 12 else ""))
    checker.add("LS301", parts, f"unknown label {ref!r} in task {task.name!r}", hint=hint, key=key)


def check_label_refs(checker: Checker, base: tuple[Part, ...], raw: dict[str, Any], task: Task) -> None:
    """LS301: every label a task mentions is one of its answers (``parent`` must name one of its labels)."""
    answers = list(answers_of(task))
    label_ids = [lab.id for lab in task.labels]
    for lid, lab in raw.get("labels", {}).items():
        parent = lab.get("parent")
        if parent is not None and parent not in label_ids:
            _unknown_label(checker, (*base, "labels", lid, "parent"), parent, task, label_ids)
    if not answers:
        return  # the missing answers are reported by resolve_kinds; every reference would be noise
    refs: list[tuple[tuple[Part, ...], str]] = []
    for lid, lab in raw.get("labels", {}).items():
        refs += [((*base, "labels", lid, "counterexamples", i, "use"), c["use"])
                 for i, c in enumerate(lab.get("counterexamples", []))]
    for i, case in enumerate(raw.get("edge_cases", [])):
        refs.append(((*base, "edge_cases", i, "label"), case["label"]))
        refs += [((*base, "edge_cases", i, "instead_of", j), ref) for j, ref in enumerate(case.get("instead_of", []))]
    for i, rule in enumerate(raw.get("rules", [])):
        for key, labels in rule["expect"].items():
            refs += [((*base, "rules", i, "expect", key, j), ref) for j, ref in enumerate(labels)]
    refs += [((*base, "error_labels", j), ref) for j, ref in enumerate(raw.get("error_labels", []))]
    for parts, ref in refs:
        if ref not in answers:
            _unknown_label(checker, parts, ref, task, answers)
    for ref in raw.get("expected_distribution", {}):
        if ref not in answers:
            _unknown_label(checker, (*base, "expected_distribution", ref), ref, task, answers, key=True)


def check_unique_ids(checker: Checker) -> None:
    """LS302: edge-case ids and rule ids are anchors, unique across the whole spec; rubric ids within a task."""
    for section, what in (("edge_cases", "edge case"), ("rules", "rule")):
        first: dict[str, tuple[Part, ...]] = {}
        for base, raw, _ in checker.tasks():
            for i, entry in enumerate(raw.get(section, [])):
                _once(checker, first, entry["id"], (*base, section, i, "id"), what)
    for base, raw, _ in checker.tasks():
        rubric: dict[str, tuple[Part, ...]] = {}
        for i, entry in enumerate(raw.get("rubric", [])):
            _once(checker, rubric, entry["id"], (*base, "rubric", i, "id"), "rubric criterion")
        options: dict[str, tuple[Part, ...]] = {}
        for i, option in enumerate(raw.get("options", [])):
            _once(checker, options, option, (*base, "options", i), "option")


def check_unique_keys(checker: Checker, base: tuple[Part, ...], raw: dict[str, Any]) -> None:
    """LS302: one hotkey per label of a task (Label Studio would bind one key twice), and one anchor per scale
    point (``"-0"`` and ``"0"``, ``"01"`` and ``"1"`` are one point: the guidelines would keep only one)."""
    hotkeys: dict[str, tuple[Part, ...]] = {}
    for lid, lab in raw.get("labels", {}).items():
        if "hotkey" in lab:
            _once(checker, hotkeys, lab["hotkey"], (*base, "labels", lid, "hotkey"), "hotkey",
                  hint="give each label of the task its own hotkey, or none")
    points: dict[int, str] = {}
    for point in (raw.get("scale") or {}).get("anchors", {}):
        first = points.setdefault(int(point), point)
        if first != point:
            where = checker.loc.at((*base, "scale", "anchors", first), key=True)
            checker.add("LS302", (*base, "scale", "anchors", point), f"anchor {point!r} is scale point {int(point)}, "
                        f"like anchor {first!r} at {where}", hint="write each point of the scale once, as a plain "
                        "integer", key=True)


def _once(checker: Checker, first: dict[str, tuple[Part, ...]], ident: str, parts: tuple[Part, ...], what: str,
          *, hint: str | None = None) -> None:
    if ident in first:
        noun = what if hint else f"{what} id"
        checker.add("LS302", parts, f"duplicate {noun} {ident!r}; first defined at {checker.loc.at(first[ident])}",
                    hint=hint or f"give each {what} its own id")
    else:
        first[ident] = parts


def normalize_id(text: str) -> str:
    """The key two ids must not share: NFKC, case-folded (then NFKC again), trimmed."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()).strip()


def check_collisions(checker: Checker, base: tuple[Part, ...], raw: dict[str, Any]) -> None:
    """LS303: label ids, and option ids, that differ only by case, Unicode form or surrounding whitespace."""
    groups: list[list[tuple[str, tuple[Part, ...], bool]]] = [
        [(lid, (*base, "labels", lid), True) for lid in raw.get("labels", {})],
        [(opt, (*base, "options", i), False) for i, opt in enumerate(raw.get("options", []))],
    ]
    for group in groups:
        seen: dict[str, tuple[str, tuple[Part, ...], bool]] = {}
        for ident, parts, key in group:
            norm = normalize_id(ident)
            prior = seen.setdefault(norm, (ident, parts, key))
            if prior[0] != ident:
                where = checker.loc.at(prior[1], key=prior[2])
                checker.add("LS303", parts, f"id {ident!r} collides with {prior[0]!r} (defined at {where}) after "
                            "case folding, Unicode NFKC and trimming", hint="merge the two or rename one", key=key)


#: The deepest label taxonomy accepted (ICD-10 has 7 levels); the guidelines render the tree level by level.
MAX_TAXONOMY_DEPTH = 32


def check_parent_cycles(checker: Checker, base: tuple[Part, ...], raw: dict[str, Any]) -> None:
    """LS307: following ``parent`` from any label must end at a root within :data:`MAX_TAXONOMY_DEPTH` levels;
    each cycle is reported once, a too-deep tree once (at its deepest label)."""
    parents = {lid: lab.get("parent") for lid, lab in raw.get("labels", {}).items()}
    reported: set[str] = set()
    deepest: tuple[int, str] = (0, "")
    for start in parents:
        chain, node = [start], parents[start]
        while node is not None and node in parents and node not in chain:
            chain.append(node)
            node = parents[node]
        if node is None or node not in chain:
            deepest = max(deepest, (len(chain), start))
            continue
        cycle = chain[chain.index(node):]
        if reported.isdisjoint(cycle):
            reported.update(cycle)
            shown = " → ".join([*cycle, node])
            checker.add("LS307", (*base, "labels", cycle[0], "parent"), f"cycle in label parents: {shown}",
                        hint="a taxonomy is a tree: remove one `parent` of the cycle")
    depth, label = deepest
    if depth > MAX_TAXONOMY_DEPTH:
        checker.add("LS307", (*base, "labels", label, "parent"),
                    f"label {label!r} is {depth} levels deep; a taxonomy may have at most {MAX_TAXONOMY_DEPTH}",
                    hint="annotators cannot tell that many nested levels apart: flatten the tree")


def check_distribution(checker: Checker, base: tuple[Part, ...], raw: dict[str, Any], task: Task) -> None:
    """LS305: expected shares sum to 1 (within 1e-6)."""
    shares = raw.get("expected_distribution")
    if not shares:
        return
    total = math.fsum(shares.values())
    if abs(total - 1.0) > SUM_TOLERANCE:
        missing = [a for a in answers_of(task) if a not in shares]
        hint = "shares are fractions of 1" + (f"; labels without a share: {', '.join(missing[:12])}" if missing else "")
        checker.add("LS305", (*base, "expected_distribution"), f"expected_distribution sums to {total:.6g}, not 1",
                    hint=hint, key=True)


def check_task_thresholds(checker: Checker, base: tuple[Part, ...], raw: dict[str, Any], task: Task) -> None:
    """LS306: scale bounds and anchors, choice counts against each other and the number of labels."""
    scale = raw.get("scale")
    if scale is not None:
        lo, hi = scale["min"], scale["max"]
        if lo >= hi:
            checker.add("LS306", (*base, "scale", "max"), f"scale max {hi} must be greater than min {lo}")
        elif hi - lo + 1 > MAX_SCALE_POINTS:
            checker.add("LS306", (*base, "scale", "max"), f"scale has {hi - lo + 1} points; the limit is "
                        f"{MAX_SCALE_POINTS}", hint="use level: interval with a coarser scale")
        for point in scale.get("anchors", {}):
            if not lo <= int(point) <= hi:
                checker.add("LS306", (*base, "scale", "anchors", point), f"anchor {point} is outside the scale "
                            f"{lo}–{hi}", key=True)
        if task.level == "ratio" and lo < 0:  # ratio distances need a true zero: every check would fail
            checker.add("LS306", (*base, "scale", "min"), f"scale min {lo} is negative, but level ratio needs values "
                        "of 0 or more (a true zero)", hint="use level: interval, or a scale that starts at 0")
    lo_c, hi_c, n = raw.get("min_choices"), raw.get("max_choices"), len(raw.get("labels", {}))
    if lo_c is not None and hi_c is not None and lo_c > hi_c:
        checker.add("LS306", (*base, "min_choices"), f"min_choices {lo_c} is greater than max_choices {hi_c}")
    if hi_c is not None and n and hi_c > n:
        checker.add("LS306", (*base, "max_choices"), f"max_choices {hi_c} is more than the {n} labels of the task")
    elif lo_c is not None and n and lo_c > n:
        checker.add("LS306", (*base, "min_choices"), f"min_choices {lo_c} is more than the {n} labels of the task")


def check_quality_thresholds(checker: Checker) -> None:
    """LS306: thresholds that contradict each other across the quality section."""
    q = checker.data.get("quality", {})
    cal = q.get("calibration", {})
    if "recalibrate_below" in cal and "min_accuracy" in cal and cal["recalibrate_below"] > cal["min_accuracy"]:
        checker.add("LS306", ("quality", "calibration", "recalibrate_below"),
                    f"recalibrate_below {cal['recalibrate_below']} is above min_accuracy {cal['min_accuracy']}",
                    hint="annotators who just passed calibration would be flagged at once; lower recalibrate_below")
    gated = [t for t in checker.spec.tasks if t.agreement.min is not None
             or t.agreement.min_per_label is not None and t.kind in PER_LABEL_KINDS]
    if q.get("annotations_per_item") == 1 and gated:
        checker.add("LS306", ("quality", "annotations_per_item"), "annotations_per_item is 1 but agreement is gated "
                    f"for task {gated[0].name!r}", hint="agreement needs at least 2 annotations per item")
    if any(t.agreement.on == "ci_low" for t in gated) and q.get("bootstrap", {}).get("replicates") == 0:
        checker.add("LS306", ("quality", "bootstrap", "replicates"), "bootstrap replicates is 0 but a gate is on "
                    "ci_low", hint="the interval needs replicates; use e.g. 1000")


def check_changelog(checker: Checker) -> None:
    """LS314: no changelog entry for a version after ``project.version`` (the version was not bumped: released
    labels would be stamped with the old one while the guidelines list the new), none listed twice. Versions
    compare by MAJOR.MINOR.PATCH: at 1.5.0-rc.1 the entry for 1.5.0 may be written already."""
    project = checker.data.get("project", {})
    current = core(str(project.get("version", "")))
    seen: set[str] = set()
    for i, entry in enumerate(project.get("changelog", [])):
        version = str(entry.get("version", ""))
        parts = ("project", "changelog", i, "version")
        if version in seen:
            checker.add("LS314", parts, f"version {version} has two changelog entries",
                        hint="list each version's changes in one entry")
        seen.add(version)
        after = core(version)
        if current is not None and after is not None and after > current:
            checker.add("LS314", parts, f"changelog entry for {version}, after project.version "
                        f"{project['version']}", hint=f"bump project.version to {version}, or fix the entry's version")


def check_regexes(checker: Checker, base: tuple[Part, ...], raw: dict[str, Any]) -> None:
    """LS313: every ``matches`` pattern compiles with Python's ``re``, is at most 1000 characters, nests at most
    :data:`MAX_NESTING` levels and its repeat counts at most :data:`MAX_UNROLLED` nodes."""
    for i, rule in enumerate(raw.get("rules", [])):
        pattern = rule["when"].get("matches")
        if pattern is None:
            continue
        parts = (*base, "rules", i, "when", "matches")
        if len(pattern) > MAX_REGEX_LENGTH:
            checker.add("LS313", parts, f"pattern is {len(pattern)} characters; the limit is {MAX_REGEX_LENGTH}")
            continue
        try:
            re.compile(pattern)
            tree = _PARSER.parse(pattern)
            depth = nesting_depth(tree)
            unrolled = unrolled_nodes(tree) if depth <= MAX_NESTING else 0
        except re.error as exc:
            at = f" at position {exc.pos}" if exc.pos is not None else ""
            checker.add("LS313", parts, f"invalid regular expression: {exc.msg}{at}",
                        hint="patterns are Python regular expressions (module re)")
            continue
        except (OverflowError, RecursionError, ValueError) as exc:
            checker.add("LS313", parts, f"invalid regular expression: {exc}")
            continue
        if depth > MAX_NESTING:
            checker.add("LS313", parts, too_nested(depth), hint="remove groups that wrap a single group")
        elif unrolled > MAX_UNROLLED:
            checker.add("LS313", parts, too_unrolled(unrolled), hint="use smaller counts in {m,n}")


def too_unrolled(unrolled: int) -> str:
    """LS313's message for a pattern of ``unrolled`` nodes, more than :data:`MAX_UNROLLED`."""
    return f"repeat counts would compile to {unrolled} pattern nodes, more than the {MAX_UNROLLED} labelspec allows"


def _children(name: str, av: Any) -> list[Any]:
    """The node lists inside one node of re's parse tree."""
    if name in _REPEATS:
        return [av[2]]
    if name == "BRANCH":
        return list(av[1])
    if name == "SUBPATTERN":
        return [av[3]]
    if name in ("ASSERT", "ASSERT_NOT"):
        return [av[1]]
    if name == "ATOMIC_GROUP":
        return [av]
    if name == "GROUPREF_EXISTS":
        return [branch for branch in av[1:] if branch is not None]
    return []


#: Group nesting a ``matches`` pattern may have: the check rewrites the pattern by walking re's parse tree
#: (``check.rules``), a few Python frames per level; 100 levels is far beyond any rule a person writes.
MAX_NESTING = 100


def nesting_depth(nodes: Any) -> int:
    """How deeply re's parse tree nests (groups, repeats, lookarounds), walked without recursion."""
    deepest, stack = 0, [(nodes, 0)]
    while stack:
        level, depth = stack.pop()
        deepest = max(deepest, depth)
        for op, av in level:
            stack.extend((child, depth + 1) for child in _children(str(op), av))
    return deepest


def too_nested(depth: int) -> str:
    """LS313's message for a pattern nested ``depth`` levels, more than :data:`MAX_NESTING`."""
    return f"groups nest {depth} levels deep, more than the {MAX_NESTING} labelspec allows"


def unrolled_nodes(nodes: Any) -> int:
    """How many nodes the regex package compiles for ``nodes`` (re's parse tree): a repeat's body once per
    required iteration. Validate and check refuse the same patterns with it."""
    return sum((max(av[0], 1) if str(op) in _REPEATS else 1) * (1 + sum(map(unrolled_nodes, _children(str(op), av))))
               for op, av in nodes)


def check_fields(checker: Checker, base: tuple[Part, ...], raw: dict[str, Any]) -> None:
    """LS310: item fields named by rules and by a spans task's ``field`` exist, when ``items.fields`` declares them
    (``field`` on any other kind is LS311 in ``resolve_kinds``, and reported once)."""
    items = checker.data.get("items", {})
    if "fields" not in items:
        return
    fields = list(items["fields"])
    named = [((*base, "rules", i, "when", "field"), r["when"]["field"]) for i, r in enumerate(raw.get("rules", []))]
    if "field" in raw and raw["kind"] == "spans":
        named.append(((*base, "field"), raw["field"]))
    for parts, name in named:
        if name not in fields:
            hint = did_you_mean(name, fields) or ("declared fields: " + ", ".join(fields) if fields else None)
            checker.add("LS310", parts, f"unknown item field {name!r}", hint=hint)


def check_step_keys(checker: Checker) -> None:
    """LS311: ``name_key``/``text_key`` say how Label Studio shows a step, so only list and json fields take them."""
    for name, field in checker.data.get("items", {}).get("fields", {}).items():
        for key in ("name_key", "text_key"):
            if key in field and field["type"] not in ("list", "json"):
                checker.add("LS311", ("items", "fields", name, key),
                            f"`{key}` applies to list or json fields (the steps), not to a {field['type']} field",
                            key=True)
