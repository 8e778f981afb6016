"""Follow a spec's ``extends:`` chain of policy files and merge them under the spec (LS308, LS309).

The merge rule (documented for users):

* A policy file is a YAML mapping holding only ``labelspec``, ``extends``, ``quality``, ``adjudication``, ``gates``
  and ``input``. It is read with the same strict loader and checked against the same schema (nothing required).
* ``extends`` is relative to the folder of the file that writes it. It may leave the spec's folder but must stay
  inside the repository (the nearest ancestor of the spec folder holding ``.git``, else the spec folder's parent),
  after following symlinks. Chains are at most 16 files deep; a file that extends itself, directly or through
  others, is an error (LS309) naming the whole chain.
* Mappings merge key by key, recursively; the nearer file wins (the spec over its policy, a policy over the one it
  extends). Lists and scalars are replaced whole, never concatenated. A key that is a mapping in one file and not a
  mapping in another is a conflicting definition (LS309).
* Paths to data files (``quality.gold.file`` …) are always relative to the spec's folder, wherever they are written.

Diagnostics inside a policy file point into that file. It does not check meaning: ``resolve`` does, on the merge.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labelspec.errors import Diagnostic, SpecError
from labelspec.spec.locate import Locator, Part
from labelspec.spec.paths import ApprovedFile, PathProblem, approve, display_join
from labelspec.spec.source import RawSpec, read_spec_bytes, read_yaml_text
from labelspec.spec.validate import validate_policy_shape

MAX_EXTENDS_DEPTH = 16


@dataclass(frozen=True, slots=True)
class Chain:
    """The spec and its policy files (nearest first), their merge, and what went wrong following them."""

    layers: tuple[RawSpec, ...]
    names: tuple[str, ...]  # policy files relative to the repository, nearest first
    merged: dict[str, Any]
    diagnostics: tuple[Diagnostic, ...]  # errors and warnings (LS107 from policy files)
    sources: tuple[bytes, ...] = ()  # each policy file's bytes as parsed, in the order of ``names``


def load_chain(raw: RawSpec, *, spec_file: Path | None, spec_dir: Path, repo_root: Path) -> Chain:
    """Read every policy file the spec extends, validate each one's shape, and merge them under the spec."""
    layers, names, diags, sources = [raw], [], [], []
    visited = [(_real(spec_file), raw.source.path)]
    current, folder = raw, spec_dir
    while isinstance(current.data.get("extends"), str):
        step = _follow(current, folder, repo_root, visited)
        if isinstance(step, Diagnostic):
            diags.append(step)
            break
        approved, display = step
        try:
            data = read_spec_bytes(approved.real, display)
            policy = read_yaml_text(data, display)
        except SpecError as exc:
            diags.extend(exc.diagnostics)
            break
        diags.extend(policy.warnings)
        shape = validate_policy_shape(policy)
        if shape:
            diags.extend(shape)
            break
        layers.append(policy)
        names.append(approved.rel)
        sources.append(data)
        visited.append((approved.real, display))
        current, folder = policy, approved.real.parent
    merged, conflicts = merge_layers(layers)
    return Chain(tuple(layers), tuple(names), merged, (*diags, *conflicts), tuple(sources))


def _follow(current: RawSpec, folder: Path, repo_root: Path,
            visited: list[tuple[Path | None, str]]) -> tuple[ApprovedFile, str] | Diagnostic:
    """Approve the ``extends`` target of ``current``: inside the repository, no cycle, not too deep."""
    here = Locator([current])
    text = current.data["extends"]
    if len(visited) >= MAX_EXTENDS_DEPTH:  # following this ``extends`` would make the chain one file longer
        chain = " → ".join([*(shown for _, shown in visited), str(text)])
        return here.diag("LS309", ["extends"], f"extends chain is deeper than {MAX_EXTENDS_DEPTH} files: {chain}",
                         hint="flatten the policy files")
    found = approve(text, base=folder, root=repo_root, root_name="the repository")
    if isinstance(found, PathProblem):
        return here.diag("LS308", ["extends"], found.message, hint=found.hint)
    display = display_join(current.source.path, text)
    seen = [shown for real, shown in visited if real == found.real]
    if seen:
        chain = " → ".join([*(shown for _, shown in visited), seen[0]])
        return here.diag("LS309", ["extends"], f"extends cycle: {chain}", hint="remove one `extends` of the cycle")
    return found, display


def _real(path: Path | None) -> Path | None:
    if path is None:
        return None
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None


def merge_layers(layers: tuple[RawSpec, ...] | list[RawSpec]) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Deep-merge the layers, nearest (``layers[0]``) winning; conflicts are located in the nearer file."""
    merged: dict[str, Any] = {}
    conflicts: list[Diagnostic] = []
    for depth in range(len(layers) - 1, -1, -1):
        merged = _merge(merged, copy.deepcopy(layers[depth].data), (), layers[depth], conflicts)
    return merged, conflicts


def _merge(base: dict[str, Any], over: dict[str, Any], parts: tuple[Part, ...], near: RawSpec,
           conflicts: list[Diagnostic]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        here = (*parts, key)
        if key in out and isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = _merge(out[key], value, here, near, conflicts)
            continue
        if key in out and isinstance(out[key], dict) != isinstance(value, dict):
            conflicts.append(Locator([near]).diag(
                "LS309", here, "conflicting definition across extends: a mapping in one file and not in the file it "
                "extends", hint="write the same kind of value in both files", key=True))
        out[key] = value
    return out
