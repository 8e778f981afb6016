"""The Python API: one function per command, returning result objects. The CLI is a thin layer over it.

This module turns user paths into stage calls. It never prints and never exits; errors are LabelspecError
subclasses carrying located diagnostics.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from labelspec.check.context import Context, load_context
from labelspec.check.report import Report
from labelspec.check.runner import CheckOptions, run_check
from labelspec.errors import Diagnostic, InputError, OutputError, SourceLocation, SpecError, UsageError
from labelspec.source_date import source_date
from labelspec.spec.load import find_repo_root, find_specs, load_spec, load_spec_with_warnings, spec_file
from labelspec.spec.model import Spec

if TYPE_CHECKING:
    from labelspec.emit.artifact import WriteResult
    from labelspec.spec.diff import SpecDiff

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
            loaded = load_spec_with_warnings(path, display_path=display(path))
            results.append(ValidationResult(display(path), loaded.spec, loaded.warnings))
        except SpecError as exc:
            results.append(ValidationResult(display(path), None, exc.diagnostics))
    return results


def _label_files(files: Sequence[str | Path]) -> list[Path]:
    out: list[Path] = []
    for f in files:
        p = Path(f)
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith("."))
            if not found:  # only subfolders, or nothing: say so rather than "no label files given"
                inner = sorted(q.name for q in p.iterdir() if q.is_dir() and not q.name.startswith("."))
                more = f"; its subfolders are not read ({', '.join(inner[:5])})" if inner else ""
                raise UsageError(Diagnostic("LS501", f"folder {display(p)} holds no label files{more}",
                                            SourceLocation("<command line>"),
                                            hint="name the files, or the folders that hold them" if inner else None))
            out.extend(found)
        else:
            out.append(p)
    if not out:
        raise UsageError(Diagnostic("LS501", "no label files given", SourceLocation("<command line>")))
    seen: dict[str, Path] = {}
    for p in out:  # read twice, every judgment would be its own duplicate
        first = seen.setdefault(os.path.realpath(p), p)
        if first is not p:
            same = "" if display(first) == display(p) else f" (as {display(first)})"
            raise UsageError(Diagnostic("LS501", f"label file {display(p)} is given twice{same}",
                                        SourceLocation("<command line>"), hint="name each file once"))
    return out


def project_context(spec: Spec, gold: str | Path | None = None) -> Context:
    """The spec's items, roster, gold and calibration sets; a ``--gold`` override gets the spec's own gold checks."""
    if gold is not None:
        from labelspec.spec.datafiles import check_gold

        path = Path(gold)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(Diagnostic("LS401", f"cannot read gold file: {exc.strerror}",
                                        SourceLocation(display(path)))) from exc
        problems = check_gold(data, display(path), spec, calibration=False)
        if problems:
            raise InputError(problems)
    return load_context(spec, spec_dir(spec), gold_override=Path(gold) if gold else None)


def check_labels(spec: Spec | str | Path, files: Sequence[str | Path], *, gold: str | Path | None = None,
                 strict: bool = False, bootstrap: int | None = None,
                 progress: Callable[[str], None] | None = None) -> Report:
    """Run every gate of ``spec`` over the label files (folders are expanded, sorted); returns the report."""
    if not isinstance(spec, Spec):
        spec = load_spec(Path(spec), display_path=display(spec))
    paths = _label_files(files)
    ctx = project_context(spec, gold)
    options = CheckOptions(strict=strict, bootstrap=bootstrap, progress=progress)
    return run_check(spec, ctx, paths, [display(p) for p in paths], options)


def write_text_atomic(path: Path, text: str) -> None:
    """Reports are written like artefacts: strict UTF-8, a temporary file beside the target, then a rename.

    A symlink is followed: its target is replaced and the link stays. A path that is a device or a pipe
    (``/dev/null``, ``/dev/stdout``, a FIFO) is written to directly: there is no file to replace, and a rename
    would put a regular file where the device was."""
    data = _utf8({path.name: text}, path.parent)[path.name]
    if path.exists() and not path.is_file() and not path.is_dir():
        try:
            with open(path, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise OutputError(Diagnostic("LS601", f"cannot write {display(path)}: {exc.strerror}",
                                         SourceLocation(display(path)))) from exc
        return
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    write_files_atomic(target.parent, {target.name: data})


def init_project(directory: Path, *, kind: str, project_id: str | None = None) -> list[str]:
    """Scaffold a starter project; refuses to overwrite existing files (nothing is written then)."""
    from labelspec.spec.scaffold import scaffold

    pid = project_id or directory.resolve().name.lower().replace("_", "-").replace(" ", "-")
    files = scaffold(kind, pid)
    existing = [name for name in files if (directory / name).exists()]
    if existing:
        raise UsageError(Diagnostic("LS501", f"{display(directory / existing[0])} already exists; not overwriting",
                                    SourceLocation(display(directory / existing[0]))))
    for name, text in sorted(files.items()):
        write_text_atomic(directory / name, text)
    return [display(directory / name) for name in sorted(files)]


def diff_specs(old: str | Path, new: str | Path) -> SpecDiff:
    """What changed from the spec ``old`` to ``new`` (files or folders), and whether ``project.version`` was
    bumped enough (``labelspec.spec.diff``)."""
    from labelspec.spec.diff import data_files
    from labelspec.spec.diff import diff_specs as compare

    before, after = load_spec(Path(old), display_path=display(old)), load_spec(Path(new), display_path=display(new))

    def contents(spec: Spec) -> dict[str, bytes | None]:
        return {key: _bytes_or_none(spec_dir(spec) / rel) for key, rel in data_files(spec).items()}

    return compare(before, after, contents=(contents(before), contents(after)))


def _bytes_or_none(path: Path) -> bytes | None:
    from labelspec.regular_file import FileProblem, read_regular

    try:
        return read_regular(path)  # the one reader of user files (no FIFOs or devices)
    except FileProblem:  # the loader has read it a moment ago: only a race makes this None, which then differs
        return None


def compile_paths(paths: Sequence[str | Path], *, out: Path, check: bool = False, diff: bool = False) -> WriteResult:
    """Load every spec under ``paths``, render all artefacts in memory, then write (or compare) them at once.

    Every spec must load before anything is written: one invalid spec, or two specs sharing a ``project.id``
    (LS302: both would write ``out/<id>/``), leaves ``out`` untouched. So does an ``out`` whose project folder
    would be, contain or be inside a spec folder being compiled (LS601, ``write_artifacts``).
    """
    from labelspec.emit import compile_spec
    from labelspec.emit.artifact import write_artifacts

    found = find_specs([Path(p) for p in paths])
    if not found:
        raise UsageError(Diagnostic("LS501", "no labelspec.yaml found", SourceLocation(", ".join(map(str, paths)))))
    problems: list[Diagnostic] = []
    projects: dict[str, tuple[Any, ...]] = {}
    sources: dict[str, Path] = {}  # project id → the spec file that claimed it first
    for path in found:
        file, _ = spec_file(path)
        try:  # artefacts name the spec relative to its repository, so output does not depend on the cwd
            spec = load_spec(file, display_path=repo_display(file))
        except SpecError as exc:
            problems.extend(exc.diagnostics)
            continue
        pid, first = spec.project.id, sources.setdefault(spec.project.id, file)
        if first.resolve() != file.resolve():
            problems.append(Diagnostic("LS302", f"project id {pid!r} is also the id of {display(first)}; both "
                                                f"would compile into {display(out / pid)}/",
                                       SourceLocation(display(file)), "project.id", "give each spec its own id"))
        elif pid not in projects:  # the same spec named twice is compiled once
            projects[pid] = compile_spec(spec, teaching=teaching_examples(spec, file.parent))
    if problems:
        raise SpecError(problems)
    return write_artifacts(out, projects, check=check, diff=diff, protect=[f.parent for f in sources.values()])


def repo_display(file: Path) -> str:
    """A spec file's path relative to its repository root (the folder holding ``.git``), POSIX style."""
    real = file.resolve()
    return real.relative_to(find_repo_root(real.parent)).as_posix()


def teaching_examples(spec: Spec, folder: Path | None = None) -> tuple[Any, ...]:
    """Calibration items the spec marks as teaching examples (shown in guidelines); gold items never are."""
    from labelspec.check.context import read_items, read_reference
    from labelspec.emit import TeachingExample

    cal = spec.quality.calibration
    if cal is None or not cal.teaching_examples:
        return ()
    rows = read_reference((folder or spec_dir(spec)) / cal.file)
    rows = rows[rows.get("teaching", "").astype(str).str.lower() == "true"] if "teaching" in rows else rows.iloc[:0]
    items = read_items((folder or spec_dir(spec)) / spec.items.file, spec.items.id) if spec.items else None
    out = []
    for r in rows.to_dict("records"):
        fields = {k: v[r["item"]] for k, v in (items.fields.items() if items else ()) if r["item"] in v}
        out.append(TeachingExample(item=r["item"], unit=r.get("unit", ""), task=r["task"] or spec.tasks[0].name,
                                   label=r["label"], why=r.get("why", ""), edge_case=r.get("edge_case", ""),
                                   fields=tuple(sorted(fields.items()))))
    return tuple(out)


if TYPE_CHECKING:
    from labelspec.check.calibrate import CalibrationResult


def calibrate(spec: Spec | str | Path, submissions: Sequence[str | Path], *, roster: str | Path | None = None,
              dry_run: bool = False) -> CalibrationResult:
    """Score a calibration round and update the roster (default: the spec's annotators file) atomically.

    Submissions are read like label files, but with no roster in the context: calibration judgments precede
    calibration, so "not calibrated" or "not in the roster" must not exclude them. The roster is checked
    before anything is scored; ``dry_run`` leaves it untouched. Returns a CalibrationResult.
    """
    from dataclasses import replace

    from labelspec.check.calibrate import score_calibration, update_roster
    from labelspec.check.runner import read_and_account
    from labelspec.errors import InputError
    from labelspec.spec.datafiles import check_roster

    if not isinstance(spec, Spec):
        spec = load_spec(Path(spec), display_path=display(spec))
    path = Path(roster) if roster else (spec_dir(spec) / spec.annotators.file if spec.annotators else None)
    if spec.quality.calibration is None or path is None:
        missing = "quality.calibration" if spec.quality.calibration is None else "annotators.file (--roster)"
        raise UsageError(Diagnostic("LS501", f"the spec has no {missing}", SourceLocation(spec.path)))
    old = path.read_bytes() if path.exists() else None
    problems = [d for d in check_roster(old, display(path)) if d.severity == "error"] if old else []
    if problems:
        raise InputError(problems)
    files = _label_files(submissions)
    ctx = replace(load_context(spec, spec_dir(spec)), roster=None)
    acc = read_and_account(spec, ctx, files, [display(p) for p in files])
    result = score_calibration(spec, acc, ctx.calibration, files=[display(p) for p in files])
    text = update_roster(old.decode("utf-8-sig") if old else None, result.annotators, display=display(path))
    status = "dry-run" if dry_run else "unchanged" if old == text.encode("utf-8") else "written"
    if status == "written":
        write_text_atomic(path, text)
    return replace(result, roster=display(path), roster_status=status)


# --- adjudicate and release -----------------------------------------------------------------------------------


def write_files_atomic(out_dir: Path, files: dict[str, bytes], *, remove: Sequence[str] = ()) -> tuple[str, ...]:
    """All or nothing: every file is written and fsynced in a temporary folder inside ``out_dir``, then renamed
    into place; names in ``remove`` this run did not produce are deleted. A failure before the renames leaves
    ``out_dir`` as it was (the temporary folder is always removed)."""

    def produce(open_output: Callable[[str], IO[bytes]]) -> None:
        for name, data in sorted(files.items()):
            open_output(name).write(data)

    return write_streams_atomic(out_dir, produce, remove=remove)


def write_streams_atomic(out_dir: Path, produce: Callable[[Callable[[str], IO[bytes]]], object], *,
                         remove: Sequence[str] = ()) -> tuple[str, ...]:
    """:func:`write_files_atomic` for output too large to hold in memory: ``produce`` writes each file through
    the opener it is given (a file in the temporary folder, opened once per name), as it goes."""
    import shutil
    import tempfile

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".labelspec-", dir=out_dir))
    except OSError as exc:
        raise OutputError(Diagnostic("LS601", f"cannot write {display(out_dir)}: {exc.strerror}",
                                     SourceLocation(display(out_dir)))) from exc
    handles: dict[str, IO[bytes]] = {}

    def open_output(name: str) -> IO[bytes]:
        if name not in handles:
            handles[name] = open(tmp / name, "wb")  # noqa: SIM115 — closed below, after fsync
        return handles[name]

    try:
        try:
            produce(open_output)
            for fh in handles.values():
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            for fh in handles.values():
                fh.close()
        for name in sorted(handles):
            os.replace(tmp / name, out_dir / name)
        for name in remove:
            if name not in handles:
                (out_dir / name).unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(Diagnostic("LS601", f"cannot write {display(out_dir)}: {exc.strerror}",
                                     SourceLocation(display(out_dir)))) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return tuple(display(out_dir / name) for name in sorted(handles))


def _utf8(texts: dict[str, str], out_dir: Path) -> dict[str, bytes]:
    """Strict UTF-8 before anything is written: a lone surrogate fails here, not half-way through the writes."""

    try:
        return {name: text.encode("utf-8") for name, text in texts.items()}
    except UnicodeEncodeError as exc:
        raise OutputError(Diagnostic("LS601", f"cannot encode output as UTF-8: {exc.reason}",
                                     SourceLocation(display(out_dir)))) from exc


@dataclass(frozen=True)
class AdjudicationResult:
    written: tuple[str, ...]
    queued: int  # units routed to expert review
    units: int  # units with a consensus method


def adjudicate(spec: Spec | str | Path, files: Sequence[str | Path], *, out: Path, gold: str | Path | None = None
               ) -> AdjudicationResult:
    """Write the expert-review queue for the label files: review-queue.csv, .jsonl and .labelstudio.json."""
    from labelspec.check.adjudicate import build_queue, queue_csv, queue_jsonl, queue_labelstudio
    from labelspec.check.decide import decide_all
    from labelspec.check.runner import read_and_account
    from labelspec.emit.labelstudio import labelstudio_view

    if not isinstance(spec, Spec):
        spec = load_spec(Path(spec), display_path=display(spec))
    paths = _label_files(files)
    ctx = project_context(spec, gold)
    acc = read_and_account(spec, ctx, paths, [display(p) for p in paths])
    decisions = decide_all(spec, acc, ctx)
    queue = build_queue(decisions, acc, skip_items=ctx.calibration["item"].tolist())
    config = labelstudio_view(spec)  # only its control names are read: no header naming the spec's path
    texts = {"review-queue.csv": queue_csv(queue), "review-queue.jsonl": queue_jsonl(queue),
             "review-queue.labelstudio.json": queue_labelstudio(queue, spec, ctx.items, config)}
    return AdjudicationResult(write_files_atomic(out, _utf8(texts, out)), len(queue), len(decisions.units))


@dataclass(frozen=True)
class ReleaseResult:
    report: Report
    refused: tuple[str, ...]  # blocking gates that failed and were not accepted: nothing was written
    overrides: tuple[dict[str, Any], ...]
    written: tuple[str, ...] = ()
    released: int = 0

    @property
    def exit_code(self) -> int:
        return 1 if self.refused else 0


def _input_hashes(spec: Spec, paths: Sequence[Path], gold: Path | None, shown: Callable[[Path], str] = display
                  ) -> list[dict[str, Any]]:
    """sha256 and size of the spec, every file it references and every label file, by ``shown`` path."""
    import hashlib

    root = spec_dir(spec)
    refs = [spec.items.file if spec.items else None, spec.annotators.file if spec.annotators else None,
            spec.quality.calibration.file if spec.quality.calibration else None,
            None if gold else (spec.quality.gold.file if spec.quality.gold else None)]
    files = [root / Path(spec.path).name, *(root / r for r in refs if r), *([gold] if gold else []), *paths]
    out = []
    for p in files:
        data = p.read_bytes()
        out.append({"path": shown(p), "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
    return out


def release(spec: Spec | str | Path, files: Sequence[str | Path], *, out: Path,
            accept: Sequence[tuple[str, str]] = (), gold: str | Path | None = None, strict: bool = False,
            bootstrap: int | None = None, progress: Callable[[str], None] | None = None) -> ReleaseResult:
    """Run every gate; only when each blocking gate passes or is accepted with a reason, write the release.

    Writes dataset.jsonl, dataset.parquet, preference-pairs.jsonl (specs with a pairwise task) and
    release-manifest.json into ``out``, all or nothing. A refused release writes nothing (exit code 1).
    """
    from labelspec import __version__
    from labelspec.check import release as rel

    shown: Callable[[Path], str] = display
    if not isinstance(spec, Spec):  # named from its repository, so a release is the same from any folder
        given = spec
        try:
            spec, shown = _repository_spec(Path(given))
        except SpecError:  # problems are shown at the path as the user wrote it
            load_spec(Path(given), display_path=display(given))
            raise
    paths = _label_files(files)
    _refuse_release_folder(out, spec, [Path(f) for f in files])
    gold_path = Path(gold) if gold else None
    released_at = source_date()
    ctx = project_context(spec, gold_path)
    report = run_check(spec, ctx, paths, [shown(p) for p in paths],
                       CheckOptions(strict=strict, bootstrap=bootstrap, progress=progress, keep_decisions=True))
    verdict = rel.resolve_gates(report.gates, accept, strict=strict)
    if verdict.refused:
        return ReleaseResult(report, verdict.refused, verdict.overrides)
    decisions = report.decisions
    assert decisions is not None  # keep_decisions=True above
    inputs = _input_hashes(spec, paths, gold_path, shown)
    counts: dict[str, Any] = {}

    def produce(open_output: Callable[[str], IO[bytes]]) -> None:  # streamed: the dataset is never in memory
        counts.update(rel.write_release(spec, decisions, report.accounting, ctx, open_output, gates=report.gates,
                                        verdict=verdict, inputs=inputs, released_at=released_at,
                                        tool_version=__version__))

    written = write_streams_atomic(out, produce, remove=_previous_outputs(out, rel.OUTPUT_NAMES, rel.MANIFEST))
    return ReleaseResult(report, (), verdict.overrides, written, int(counts["released"]))


def _repository_spec(path: Path) -> tuple[Spec, Callable[[Path], str]]:
    """The spec loaded with its path relative to its repository root (the folder holding ``.git``, as compile
    names it), and the function that names every other file the same way: a release then holds no absolute path
    and the same bytes from any working directory. Files outside the repository are named with ``..``."""
    file, _ = spec_file(path)
    folder = file.resolve().parent
    repo = find_repo_root(folder)

    def shown(p: Path) -> str:
        try:
            return Path(os.path.relpath(Path(p).resolve(), repo)).as_posix()
        except ValueError:  # another drive (Windows): no relative path exists
            return Path(p).resolve().as_posix()

    spec = load_spec(file, display_path=shown(file))
    return replace(spec, root=str(folder)), shown  # its files are read from where they are


def _refuse_release_folder(out: Path, spec: Spec, given: Sequence[Path]) -> None:
    """A release is not written into the spec folder or a folder of label files: the next check would read the
    dataset and the manifest as label files."""
    target = out.resolve()
    folders = [Path(spec.root), *(g if g.is_dir() else g.parent for g in given)]
    for folder in folders:
        if target == folder.resolve():
            raise UsageError(Diagnostic("LS501", f"--out {display(out)} is the folder of the spec or of label files",
                                        SourceLocation("<command line>"),
                                        hint="write the release to a folder of its own, e.g. releases/<version>"))


def _previous_outputs(out: Path, names: Sequence[str], manifest: str) -> list[str]:
    """The release files the previous release in ``out`` wrote, from its manifest: only those may be removed
    when this release does not write them again (a file of that name labelspec did not write stays)."""
    try:
        doc = json.loads((out / manifest).read_text("utf-8"))
    except (OSError, ValueError, RecursionError):
        return []
    listed = doc.get("outputs") if isinstance(doc, dict) and doc.get("tool") == "labelspec" else None
    paths = {o.get("path") for o in listed if isinstance(o, dict)} if isinstance(listed, list) else set()
    return [n for n in names if n in paths]
