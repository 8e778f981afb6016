"""Turn a schema-valid spec into the frozen model, or raise one SpecError listing every problem of meaning (LS3xx).

Order (each part reports everything it finds; the data files' content is only judged once the spec itself is
sound, so a misspelt label in the spec does not echo through every gold row):

1. ``extends``: follow the policy chain and merge it under the spec (``extends.py``; LS308, LS309).
2. Build the model with its defaults (``resolve_model.py``).
3. Meaning: references, ids, thresholds, regexes, fields (``resolve_checks.py``), kinds and gates
   (``resolve_kinds.py``), and the paths of referenced files (``paths.py``; LS308).
4. Content of gold, calibration, items and roster files (``datafiles.py``; LS312), then a warning for a gold
   gate no gold row can measure (``gold_gates.py``; LS312 as a warning) and for ``review: always`` labels no
   expert will see (``review_warnings.py``; LS311 as a warning).
5. The digest: sha256 over the canonical JSON of the merged data, every referenced file (by its path relative
   to the spec folder) and :data:`OUTPUT_FORMAT`.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from labelspec.errors import Diagnostic, SpecError
from labelspec.spec.datafiles import ItemIds, check_gold, check_roster, checked_item_ids, items_format
from labelspec.spec.extends import load_chain
from labelspec.spec.gold_gates import gold_gate_warnings
from labelspec.spec.item_refs import unknown_item_refs
from labelspec.spec.locate import Locator, Part
from labelspec.spec.model import Spec
from labelspec.spec.paths import ApprovedFile, PathProblem, approve, display_join, read_approved
from labelspec.spec.resolve_checks import Checker, check_meaning
from labelspec.spec.resolve_kinds import check_gate_overrides, check_kinds
from labelspec.spec.resolve_model import build_model
from labelspec.spec.review_warnings import review_always_warnings
from labelspec.spec.source import RawSpec

#: Bumped whenever compiled output changes on purpose; part of every spec digest (emitters import it).
OUTPUT_FORMAT = 1
#: The spec paths of the data files a spec may reference, and who checks their content.
DATA_FILES: tuple[tuple[Part, ...], ...] = (
    ("items", "file"), ("annotators", "file"), ("quality", "gold", "file"), ("quality", "calibration", "file"),
)


@dataclass(frozen=True, slots=True)
class Resolved:
    """The model and the warnings met on the way (LS107 in policy files, LS312 for an unmeasurable gold gate)."""

    spec: Spec
    warnings: tuple[Diagnostic, ...] = ()


def build_spec(raw: RawSpec, *, spec_path_display: str, spec_dir: Path, repo_root: Path) -> Spec:
    """The validated model of ``raw``; raises SpecError with every LS3xx problem, sorted by location."""
    return resolve_spec(raw, spec_path_display=spec_path_display, spec_dir=spec_dir, repo_root=repo_root).spec


def resolve_spec(raw: RawSpec, *, spec_path_display: str, spec_dir: Path, repo_root: Path) -> Resolved:
    """:func:`build_spec`, also returning the warnings of the policy files it read."""
    spec_file = spec_dir / posixpath.basename(spec_path_display)
    chain = load_chain(raw, spec_file=spec_file, spec_dir=spec_dir, repo_root=repo_root)
    warnings = [d for d in chain.diagnostics if d.severity != "error"]
    errors = [d for d in chain.diagnostics if d.severity == "error"]
    if errors:
        raise SpecError([*errors, *warnings])
    loc = Locator(chain.layers)
    spec = build_model(chain.merged, loc, path=spec_path_display, root=posixpath.dirname(spec_path_display) or ".",
                       extends=chain.names)
    checker = Checker(chain.merged, loc, spec)
    check_meaning(checker)
    check_kinds(checker)
    check_gate_overrides(checker)
    files = _read_files(checker, spec_dir)
    item_ids: ItemIds | None = None
    if not checker.diags:
        diags, item_ids = _check_contents(files, spec)
        checker.diags.extend(diags)
    if not checker.diags:  # each file is sound: do the gold and calibration rows name known items?
        shown = {parts: (display_join(spec.path, found.written), data) for parts, (found, data) in files.items()}
        checker.diags.extend(unknown_item_refs(shown, spec, item_ids))
    if checker.diags:
        raise SpecError([*checker.diags, *warnings])
    gold = files.get(("quality", "gold", "file"))
    warnings.extend(gold_gate_warnings(spec, loc, (display_join(spec.path, gold[0].written), gold[1])
                                       if gold is not None else None))
    warnings.extend(review_always_warnings(spec, loc))
    digest = spec_digest(chain.merged, {f.rel: data for f, data in files.values()})
    sources = {found.written: data for found, data in files.values()}
    policies = dict(zip(chain.names, chain.sources, strict=True))
    return Resolved(replace(spec, digest=digest, sources=sources, policy_bytes=policies), tuple(warnings))


def _read_files(checker: Checker, spec_dir: Path) -> dict[tuple[Part, ...], tuple[ApprovedFile, bytes]]:
    """LS308 for every referenced data file whose path is refused; the bytes of the others."""
    out: dict[tuple[Part, ...], tuple[ApprovedFile, bytes]] = {}
    for parts in DATA_FILES:
        text = _get(checker.data, parts)
        if not isinstance(text, str):
            continue
        if parts[0] == "items" and items_format(text) is None:
            checker.add("LS312", parts, f"items file {text!r} must end in .jsonl or .csv")
            continue
        found = approve(text, base=spec_dir, root=spec_dir, root_name="the spec's folder")
        data = read_approved(found) if isinstance(found, ApprovedFile) else found
        if isinstance(data, PathProblem):
            checker.add("LS308", parts, data.message, hint=data.hint)
        elif isinstance(found, ApprovedFile):
            out[parts] = (found, data)
    return out


def _check_contents(files: Mapping[tuple[Part, ...], tuple[ApprovedFile, bytes]], spec: Spec
                    ) -> tuple[list[Diagnostic], ItemIds | None]:
    """Each data file's problems, and a sound items file's ids as its check read them (``checked_item_ids``)."""
    item_ids: ItemIds | None = None

    def items(data: bytes, shown: str) -> list[Diagnostic]:
        nonlocal item_ids
        if spec.items is None:
            return []
        found, item_ids = checked_item_ids(data, shown, spec.items)
        return found

    checks: dict[tuple[Part, ...], Callable[[bytes, str], list[Diagnostic]]] = {
        ("items", "file"): items,
        ("annotators", "file"): check_roster,
        ("quality", "gold", "file"): lambda data, shown: check_gold(data, shown, spec, calibration=False),
        ("quality", "calibration", "file"): lambda data, shown: check_gold(data, shown, spec, calibration=True),
    }
    diags: list[Diagnostic] = []
    for parts, (found, data) in files.items():
        diags.extend(checks[parts](data, display_join(spec.path, found.written)))
    return diags, item_ids


def spec_digest(merged: Mapping[str, Any], files: Mapping[str, bytes]) -> str:
    """``sha256:<hex>`` over OUTPUT_FORMAT, the canonical JSON of the merged spec and each file (sorted by path).

    Every part is length-prefixed, so no two different inputs frame to the same byte stream.
    """
    digest = hashlib.sha256()

    def frame(chunk: bytes) -> None:
        digest.update(len(chunk).to_bytes(8, "big"))
        digest.update(chunk)

    frame(b"labelspec-spec-digest")
    frame(str(OUTPUT_FORMAT).encode("ascii"))
    frame(json.dumps(merged, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
          .encode("utf-8"))
    for rel in sorted(files):
        frame(rel.encode("utf-8"))
        frame(files[rel])
    return "sha256:" + digest.hexdigest()


def _get(data: Any, parts: tuple[Part, ...]) -> Any:
    for part in parts:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data
