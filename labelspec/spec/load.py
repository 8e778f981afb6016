"""Load a spec from disk through its three stages — source (LS1xx) → shape (LS2xx) → meaning (LS3xx) — and find specs.

Each stage runs only when the one before it was clean, so a user sees the first layer of problems all at once and
never noise caused by an earlier one. Paths are shown as the user gave them: relative, never absolutised.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from labelspec.errors import Diagnostic, SourceLocation, SpecError
from labelspec.spec.model import Spec
from labelspec.spec.resolve import resolve_spec
from labelspec.spec.source import read_spec_bytes, read_yaml_text
from labelspec.spec.validate import validate_shape

SPEC_FILE = "labelspec.yaml"


@dataclass(frozen=True, slots=True)
class LoadResult:
    """A loaded spec and its warnings (LS107: scalars other YAML tools would read differently)."""

    spec: Spec
    warnings: tuple[Diagnostic, ...] = ()


def load_spec(path: str | Path, *, display_path: str | None = None) -> Spec:
    """The validated spec at ``path`` (a spec file, or a folder holding ``labelspec.yaml``); raises SpecError."""
    return load_spec_with_warnings(path, display_path=display_path).spec


def load_spec_with_warnings(path: str | Path, *, display_path: str | None = None) -> LoadResult:
    """:func:`load_spec`, also returning the warnings of the spec and of the policy files it extends."""
    file, shown = spec_file(path, display_path)
    data = read_spec_bytes(file, shown)
    raw = read_yaml_text(data, shown)
    shape = validate_shape(raw)
    if shape:
        raise SpecError([*shape, *_unanswered(raw.warnings, shape)])
    spec_dir = file.parent
    try:
        resolved = resolve_spec(raw, spec_path_display=shown, spec_dir=spec_dir, repo_root=find_repo_root(spec_dir))
    except SpecError as exc:
        raise SpecError([*exc.diagnostics, *raw.warnings]) from None
    return LoadResult(replace(resolved.spec, file_bytes=data), (*raw.warnings, *resolved.warnings))


def _unanswered(warnings: tuple[Diagnostic, ...], errors: list[Diagnostic]) -> list[Diagnostic]:
    """The warnings not at the place of an error: an LS107 "quote it" beside an LS203 "expected a number" for
    the same ``1e-1`` would give two contradicting hints; the error's hint says what to write."""
    taken = {(e.loc.path, e.loc.line, e.loc.column) for e in errors if e.loc is not None}
    return [w for w in warnings if w.loc is None or (w.loc.path, w.loc.line, w.loc.column) not in taken]


def spec_file(path: str | Path, display_path: str | None = None) -> tuple[Path, str]:
    """The spec file for ``path`` (a folder means its ``labelspec.yaml``) and the path to show for it."""
    given = Path(path)
    shown = display_path if display_path is not None else (path if isinstance(path, str) else given.as_posix())
    if given.is_dir():
        named = shown.rstrip("/")  # the display path may name the folder or already the file in it
        return given / SPEC_FILE, named if named.endswith(f"/{SPEC_FILE}") or named == SPEC_FILE else f"{named}/{SPEC_FILE}"
    return given, shown


def find_repo_root(spec_dir: Path) -> Path:
    """The nearest ancestor of ``spec_dir`` (itself included) holding ``.git``; else the spec folder's parent."""
    real = spec_dir.resolve()
    for folder in (real, *real.parents):
        if (folder / ".git").exists():
            return folder
    return real.parent


def find_specs(paths: Iterable[str | Path]) -> list[Path]:
    """Spec files named directly, plus every ``labelspec.yaml`` under the folders given (sorted, no duplicates).

    Hidden folders (``.git``, ``.venv`` …) are not searched and symlinked folders are not followed.
    """
    found: set[Path] = set()
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                if SPEC_FILE in files:
                    found.add(Path(folder) / SPEC_FILE)
        elif path.exists():
            found.add(path)
        else:
            raise SpecError(Diagnostic("LS100", "no such file or folder", SourceLocation(str(entry)),
                                       hint="name a spec file or a folder holding labelspec.yaml"))
    return sorted(found)
