"""The Python API: one function per command, returning result objects. The CLI is a thin layer over it.

This module turns user paths into stage calls. It never prints and never exits; errors are LabelspecError
subclasses carrying located diagnostics.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from labelspec.check.context import load_context
from labelspec.check.report import Report
from labelspec.check.runner import CheckOptions, run_check
from labelspec.errors import Diagnostic, LabelspecError, SourceLocation, SpecError, UsageError
from labelspec.spec.load import find_specs, load_spec
from labelspec.spec.model import Spec

__all__ = ["ValidationResult", "check_labels", "load_spec", "spec_dir", "validate_paths", "display"]


def display(path: Path | str) -> str:
    """A path as users should see it: relative to the working directory when inside it, never absolutised."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return p.as_posix()


def spec_dir(spec: Spec) -> Path:
    return Path(spec.root)


@dataclass(frozen=True)
class ValidationResult:
    path: str
    spec: Spec | None
    diagnostics: tuple[Diagnostic, ...]

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


def validate_paths(paths: Sequence[str | Path]) -> list[ValidationResult]:
    """Validate every spec found under ``paths`` (files or folders); all problems of all specs are collected."""
    found = find_specs([Path(p) for p in paths])
    if not found:
        raise UsageError(Diagnostic("LS501", "no labelspec.yaml found", SourceLocation(", ".join(map(str, paths)))))
    results = []
    for path in found:
        try:
            spec = load_spec(path, display_path=display(path))
            results.append(ValidationResult(display(path), spec, ()))
        except SpecError as exc:
            results.append(ValidationResult(display(path), None, exc.diagnostics))
    return results


def _label_files(files: Sequence[str | Path]) -> list[Path]:
    out: list[Path] = []
    for f in files:
        p = Path(f)
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith(".")))
        else:
            out.append(p)
    if not out:
        raise UsageError(Diagnostic("LS501", "no label files given", SourceLocation("<command line>")))
    return out


def check_labels(spec: Spec | str | Path, files: Sequence[str | Path], *, gold: str | Path | None = None,
                 strict: bool = False, bootstrap: int | None = None,
                 progress: Callable[[str], None] | None = None) -> Report:
    """Run every gate of ``spec`` over the label files (folders are expanded, sorted); returns the report."""
    if not isinstance(spec, Spec):
        spec = load_spec(Path(spec), display_path=display(spec))
    paths = _label_files(files)
    ctx = load_context(spec, spec_dir(spec), gold_override=Path(gold) if gold else None)
    options = CheckOptions(strict=strict, bootstrap=bootstrap, progress=progress)
    return run_check(spec, ctx, paths, [display(p) for p in paths], options)


def write_text_atomic(path: Path, text: str) -> None:
    """Reports are written like artefacts: a temporary file beside the target, then an atomic rename."""
    data = text.encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LabelspecError(Diagnostic("LS601", f"cannot write {display(path)}: {exc.strerror}",
                                        SourceLocation(display(path)))) from exc
