"""The Python API: one function per command, returning result objects. The CLI is a thin layer over it.

This module turns user paths into stage calls. It never prints and never exits; errors are LabelspecError
subclasses carrying located diagnostics.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from labelspec.atomic_write import (
    display,
    utf8,
    write_files_atomic,
    write_streams_atomic,
    write_texts_atomic,
)
from labelspec.errors import Diagnostic, InputError, SourceLocation, SpecError, UsageError
from labelspec.source_date import source_date
from labelspec.spec.load import find_repo_root, find_specs, load_spec, load_spec_with_warnings, spec_file
from labelspec.spec.model import Spec

if TYPE_CHECKING:
    from labelspec.check.context import Context
    from labelspec.check.readers import FileInfo
    from labelspec.check.report import Report
    from labelspec.emit.artifact import WriteResult
    from labelspec.spec.diff import SpecDiff

def __getattr__(name: str) -> Any:
    """``api.Report``, imported on first use: the check stack (numpy, pandas, scipy: ~1 s) is not loaded by the
    commands that only read specs (validate, compile, diff, schema, init)."""
    if name == "Report":
        from labelspec.check.report import Report

        return Report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AdjudicationResult", "ReleaseResult", "Report", "Spec", "ValidationResult", "adjudicate", "calibrate",
           "check_labels", "compile_paths", "diff_specs", "init_project", "load_spec", "release", "validate_paths"]


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


def _as_list(paths: Sequence[str | Path] | str | Path) -> list[str | Path]:
    """One path where a list is expected is that one path: a string is not a sequence of file names."""
    return [paths] if isinstance(paths, (str, Path)) else list(paths)


def _check_replicates(bootstrap: int | None) -> None:
    if bootstrap is not None and (isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 0):
        raise _usage(f"bootstrap must be a whole number of replicates ≥ 0, got {bootstrap!r}",
                     "0 turns intervals off; None uses the spec's bootstrap.replicates")


def validate_paths(paths: Sequence[str | Path] | str | Path) -> list[ValidationResult]:
    """Validate every spec found under ``paths`` (files or folders); all problems of all specs are collected."""
    paths = _as_list(paths)
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
            # every visible entry but subfolders: a FIFO or a dangling link is an error, never skipped in silence
            found = sorted(q for q in p.iterdir() if not q.name.startswith(".") and not q.is_dir())
            if not found:  # only subfolders, or nothing: say so rather than "no label files given"
                inner = sorted(q.name for q in p.iterdir() if q.is_dir() and not q.name.startswith("."))
                more = f"; its subfolders are not read ({', '.join(inner[:5])})" if inner else ""
                raise _usage(f"folder {display(p)} holds no label files{more}",
                             "name the files, or the folders that hold them" if inner else None)
            out.extend(found)
        else:
            out.append(p)
    if not out:
        raise _usage("no label files given")
    seen: dict[object, Path] = {}
    for p in out:  # read twice, every judgment would be its own duplicate
        real, inode = _identity(p)  # a hard link is the same file by another name
        first = seen.setdefault(inode or real, p)
        if first is not p:
            same = "" if display(first) == display(p) else f" (as {display(first)})"
            raise _usage(f"label file {display(p)} is given twice{same}", "name each file once")
    return out


def project_context(spec: Spec, gold: str | Path | None = None) -> Context:
    """The spec's items, roster, gold and calibration sets; a ``--gold`` override gets the spec's own gold checks."""
    data: bytes | None = None
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
    from labelspec.check.context import load_context

    # the override's bytes as checked above (no second read the file could answer differently)
    return load_context(spec, spec_dir(spec), gold_override=Path(gold) if gold else None, gold_data=data)


def check_labels(spec: Spec | str | Path, files: Sequence[str | Path] | str | Path, *, gold: str | Path | None = None,
                 strict: bool = False, bootstrap: int | None = None,
                 progress: Callable[[str], None] | None = None, reports: Outputs | None = None,
                 refuse_bootstrap_off: bool = False) -> Report:
    """Run every gate of ``spec`` over the label files (folders are expanded, sorted); returns the report.

    Usage errors found before any label is read: ``reports``, the files the caller will write the report to, when
    one would overwrite an input (:func:`refuse_overwriting_inputs`); with ``refuse_bootstrap_off`` (the command
    line), ``bootstrap=0`` while a gate compares on an interval bound."""
    files = _as_list(files)
    _check_replicates(bootstrap)
    given = None if isinstance(spec, Spec) else spec
    if not isinstance(spec, Spec):
        spec = load_spec(Path(spec), display_path=display(spec))
    if refuse_bootstrap_off:
        _refuse_bootstrap_off(spec, bootstrap)
    if reports is not None:
        refuse_overwriting_inputs(spec, files, reports, spec_arg=given,
                                  extra=[(Path(gold), "the gold file")] if gold else [])
    paths = _label_files(files)
    from labelspec.check.runner import CheckOptions, run_check  # numpy, pandas and scipy: not for validate

    options = CheckOptions(strict=strict, bootstrap=bootstrap, progress=progress)
    with _loading_context(spec, gold) as ctx:
        return run_check(spec, ctx, paths, [display(p) for p in paths], options)


@contextmanager
def _loading_context(spec: Spec, gold: str | Path | None) -> Iterator[Future[Context]]:
    """:func:`project_context` on a thread of its own, read while the label files are (``run_check`` waits for
    it after them, and reports its problems first)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="labelspec-context") as pool:
        yield pool.submit(project_context, spec, gold)


def _refuse_bootstrap_off(spec: Spec, bootstrap: int | None) -> None:
    """``--bootstrap 0`` with a gate compared on an interval bound: the gate could only come out undefined (and
    block), the same contradiction the spec itself gets LS306 for. A usage error before any label is read. (Only
    on request: API callers may turn the bootstrap off for speed and accept those gates as undefined.)"""
    if bootstrap != 0:
        return
    from labelspec.spec.plan import plan_gates

    on_ci = [g.id for g in plan_gates(spec) if g.on != "estimate"]
    if on_ci:
        raise _usage(f"--bootstrap 0 turns confidence intervals off, but gate(s) {', '.join(on_ci)} compare on an "
                     "interval bound", "drop --bootstrap 0, or give replicates (e.g. --bootstrap 1000)")


#: What :func:`_spec_inputs` calls the spec's gold file (a ``--gold`` file replaces it).
_GOLD_FILE = "the gold file"


def _spec_inputs(spec: Spec) -> list[tuple[Path, str, bytes | None]]:
    """The spec file, the policy files it extends and the data files it references, each with what it is and
    the bytes the spec loader read of it (None for a spec built in code: the file is as it is now)."""
    root = spec_dir(spec)
    refs = [(spec.items.file if spec.items else None, "the items file"),
            (spec.annotators.file if spec.annotators else None, "the roster"),
            (spec.quality.calibration.file if spec.quality.calibration else None, "the calibration set"),
            (spec.quality.gold.file if spec.quality.gold else None, _GOLD_FILE)]
    repo = find_repo_root(root.resolve()) if spec.extends else root
    return [(root / Path(spec.path).name, "the spec", spec.file_bytes or None),
            *((repo / e, "a policy file of the spec", spec.policy_bytes.get(e)) for e in spec.extends),
            *((root / ref, what, spec.sources.get(ref)) for ref, what in refs if ref)]


def _identity(path: Path) -> tuple[str, tuple[int, int] | None]:
    """A path's real path, and its (device, inode) when it exists: a hard link is the same file by another name."""
    try:
        st = os.stat(path)
    except OSError:
        return os.path.realpath(path), None
    return os.path.realpath(path), (st.st_dev, st.st_ino)


@dataclass(frozen=True)
class Outputs:
    """What a command will write, for :func:`refuse_overwriting_inputs`. ``files``: option → file (``-`` and None
    skipped); ``folder``: (option, the folder written into); ``updates``: option → the kind of input it rewrites
    by design (calibrate's ``--roster``: the roster, which may sit in the spec folder)."""

    files: Mapping[str, Path | None] = field(default_factory=dict)
    folder: tuple[str, Path] | None = None
    updates: Mapping[str, str] = field(default_factory=dict)

    def targets(self) -> list[tuple[str, Path]]:
        return [(o, Path(p)) for o, p in self.files.items() if p is not None and str(p) != "-"]


def refuse_overwriting_inputs(spec: Spec, labels: Sequence[str | Path], outputs: Outputs, *,
                              spec_arg: str | Path | None = None, extra: Sequence[tuple[Path, str]] = ()) -> None:
    """Usage error, before any work, when an output would replace an input (the spec, a file it references, a
    label file, ``extra``: gold, roster) or land directly in a folder given as input (``spec_arg`` or a folder
    of ``labels``: the next run would read it as input). Real paths are compared, and device and inode for
    existing files (hard links)."""
    index: dict[object, set[str]] = {}
    spec_files = [(path, what) for path, what, _ in _spec_inputs(spec)]
    for path, what in [*spec_files, *extra, *((p, "a label file") for p in _label_files(labels))]:
        real, inode = _identity(path)
        for key in (real, inode):
            if key is not None:
                index.setdefault(key, set()).add(what)
    folders: dict[str, tuple[Path, bool]] = {}  # real path → (as given, is it the spec's folder)
    for arg, is_spec in [*((a, False) for a in labels), (spec_arg, True)]:
        if arg is not None and Path(arg).is_dir():
            folders.setdefault(os.path.realpath(arg), (Path(arg), is_spec))
    if outputs.folder is not None:
        _refuse_input_folder(outputs.folder[0], outputs.folder[1], spec, [Path(a) for a in labels])
    for option, path in outputs.targets():
        real, inode = _identity(path)
        clash = (index.get(real, set()) | index.get(inode, set())) - {outputs.updates.get(option)}
        if clash:
            raise _usage(f"{option} {display(path)} is {sorted(clash)[0]}, an input of this command; writing it "
                         "would overwrite it", "write outputs to files of their own")
        folder, is_spec = folders.get(os.path.dirname(real), (None, False))
        if folder is not None and not (is_spec and option in outputs.updates):
            raise _usage(f"{option} {display(path)} is inside {display(folder)}, a folder given as input; the next "
                         "run would read it as input", "write it elsewhere, e.g. into reports/")


def _usage(message: str, hint: str | None = None) -> UsageError:
    return UsageError(Diagnostic("LS501", message, SourceLocation("<command line>"), hint=hint))


def init_project(directory: str | Path, *, kind: str, project_id: str | None = None) -> list[str]:
    """Scaffold a starter project; refuses to overwrite existing files (nothing is written then), and a name
    that is a symbolic link, even a dangling one: the write would follow it out of the folder."""
    from labelspec.spec.scaffold import scaffold

    directory = Path(directory)
    pid = project_id or directory.resolve().name.lower().replace("_", "-").replace(" ", "-")
    files = scaffold(kind, pid)
    existing = [name for name in files if os.path.lexists(directory / name)]
    if existing:
        raise UsageError(Diagnostic("LS501", f"{display(directory / existing[0])} already exists; not overwriting",
                                    SourceLocation(display(directory / existing[0]))))
    write_texts_atomic([(directory / name, text) for name, text in sorted(files.items())])  # all or none
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


def compile_paths(paths: Sequence[str | Path] | str | Path, *, out: str | Path, check: bool = False,
                  diff: bool = False) -> WriteResult:
    """Load every spec under ``paths``, render all artefacts in memory, then write (or compare) them at once.

    Every spec must load before anything is written: one invalid spec, or two specs sharing a ``project.id``
    (LS302: both would write ``out/<id>/``), leaves ``out`` untouched. So does an ``out`` whose project folder
    would be, contain or be inside a spec folder being compiled (LS601, ``write_artifacts``).
    """
    from labelspec.emit import compile_spec
    from labelspec.emit.artifact import write_artifacts

    paths, out = _as_list(paths), Path(out)
    if diff and not check:  # a diff is of what would change: writing as well would leave nothing to show
        raise _usage("--diff needs --check (compile --check --diff shows what a compile would change)")
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
    root = folder or spec_dir(spec)
    rows = read_reference(root / cal.file, spec.sources.get(cal.file))
    rows = rows[rows.get("teaching", "").astype(str).str.lower() == "true"] if "teaching" in rows else rows.iloc[:0]
    items = (read_items(root / spec.items.file, spec.items.id, spec.sources.get(spec.items.file))
             if spec.items else None)
    out = []
    for r in rows.to_dict("records"):
        fields = {k: v[r["item"]] for k, v in (items.fields.items() if items else ()) if r["item"] in v}
        out.append(TeachingExample(item=r["item"], unit=r.get("unit", ""), task=r["task"] or spec.tasks[0].name,
                                   label=r["label"], why=r.get("why", ""), edge_case=r.get("edge_case", ""),
                                   fields=tuple(sorted(fields.items()))))
    return tuple(out)


if TYPE_CHECKING:
    from labelspec.check.calibrate import CalibrationResult


def calibrate(spec: Spec | str | Path, submissions: Sequence[str | Path] | str | Path, *,
              roster: str | Path | None = None, dry_run: bool = False, report: str | Path | None = None
              ) -> CalibrationResult:
    """Score a calibration round and update the roster (default: the spec's annotators file) atomically.

    Submissions are read like label files, but with no roster in the context: calibration judgments precede
    calibration, so "not calibrated" or "not in the roster" must not exclude them. The roster is checked
    before anything is scored; ``dry_run`` leaves it untouched. ``report``: also write the result as JSON there,
    together with the roster, all or nothing. Returns a CalibrationResult.
    """
    from dataclasses import replace

    from labelspec.check.calibrate import score_calibration, update_roster
    from labelspec.check.render import render_json
    from labelspec.check.runner import read_and_account
    from labelspec.errors import InputError
    from labelspec.spec.datafiles import check_roster

    submissions = _as_list(submissions)
    report_file = None if report is None or str(report) == "-" else Path(report)  # "-": the caller prints it
    given = None if isinstance(spec, Spec) else spec
    if not isinstance(spec, Spec):
        spec = load_spec(Path(spec), display_path=display(spec))
    path = _calibration_roster(spec, roster, submissions, given=given, report=report_file, dry_run=dry_run)
    old = path.read_bytes() if path.exists() else None
    problems = [d for d in check_roster(old, display(path)) if d.severity == "error"] if old else []
    if problems:
        raise InputError(problems)
    files = _label_files(submissions)
    from labelspec.check.context import load_context, read_roster

    ctx = replace(load_context(spec, spec_dir(spec)), roster=None)
    # the roster names a Label Studio user as check does (email, else id), though it excludes nothing here
    known = set(read_roster(path, old)) if old else None
    acc = read_and_account(spec, ctx, files, [display(p) for p in files], reader_roster=known)
    result = score_calibration(spec, acc, ctx.calibration, files=[display(p) for p in files])
    text = update_roster(old.decode("utf-8-sig") if old else None, result.annotators, display=display(path))
    status = ("dry-run" if dry_run else "unchanged" if old == text.encode("utf-8") else
              "written" if old is not None else "created")  # created: a new file with the scored annotators only
    own = spec.annotators is not None and path.resolve() == (spec_dir(spec) / spec.annotators.file).resolve()
    result = replace(result, roster=display(path), roster_status=status,
                     spec_digest_changed=own and status in ("written", "created"))
    targets = [(path, text)] if status in ("written", "created") else []
    if report_file is not None:
        targets.append((report_file, render_json(result.to_dict())))
    write_texts_atomic(targets)
    return result


def _calibration_roster(spec: Spec, roster: str | Path | None, submissions: Sequence[str | Path], *,
                        given: str | Path | None, report: Path | None, dry_run: bool) -> Path:
    """The roster calibrate updates; a usage error when there is none, or when it or the report would overwrite
    another input (the roster itself may be rewritten: that is calibrate's job)."""
    if roster is not None and str(roster) == "-":
        raise _usage("--roster - : the roster is a file calibrate rewrites, not standard output",
                     "name a file, or leave --roster out to update the spec's annotators file")
    path = Path(roster) if roster else (spec_dir(spec) / spec.annotators.file if spec.annotators else None)
    if spec.quality.calibration is None or path is None:
        missing = "quality.calibration" if spec.quality.calibration is None else "annotators.file (--roster)"
        raise UsageError(Diagnostic("LS501", f"the spec has no {missing}", SourceLocation(spec.path)))
    written = {"--json": report, "--roster": None if dry_run else path}
    refuse_overwriting_inputs(spec, submissions, Outputs(files=written, updates={"--roster": "the roster"}),
                              spec_arg=given, extra=[(path, "the roster")])
    return path


# --- adjudicate and release -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdjudicationResult:
    written: tuple[str, ...]
    queued: int  # units routed to expert review
    units: int  # units with a consensus method


def adjudicate(spec: Spec | str | Path, files: Sequence[str | Path] | str | Path, *, out: str | Path,
               gold: str | Path | None = None, progress: Callable[[str], None] | None = None
               ) -> AdjudicationResult:
    """Write the expert-review queue for the label files: review-queue.csv, .jsonl and .labelstudio.json.
    ``progress`` hears of each stage (reading, consensus, writing), as ``check`` and ``release`` tell it theirs."""
    from labelspec.check.adjudicate import build_queue, queue_csv, queue_jsonl, queue_labelstudio
    from labelspec.check.decide import decide_all
    from labelspec.check.runner import read_and_account
    from labelspec.emit.labelstudio import labelstudio_view

    files, out = _as_list(files), Path(out)
    given = None if isinstance(spec, Spec) else spec
    if not isinstance(spec, Spec):
        spec = load_spec(Path(spec), display_path=display(spec))
    refuse_overwriting_inputs(spec, files, Outputs(folder=("--out", out)), spec_arg=given,
                              extra=[(Path(gold), "the gold file")] if gold else [])
    paths = _label_files(files)
    ctx = project_context(spec, gold)
    if progress:
        progress(f"reading {len(paths)} label file(s)")
    acc = read_and_account(spec, ctx, paths, [display(p) for p in paths])
    if progress:
        progress("consensus")
    decisions = decide_all(spec, acc, ctx)
    queue = build_queue(decisions, acc, spec)
    if progress:
        progress(f"writing the review queue: {len(queue):,} units")
    config = labelstudio_view(spec)  # only its control names are read: no header naming the spec's path
    texts = {"review-queue.csv": queue_csv(queue), "review-queue.jsonl": queue_jsonl(queue),
             "review-queue.labelstudio.json": queue_labelstudio(queue, spec, ctx.items, config)}
    return AdjudicationResult(write_files_atomic(out, utf8(texts, out)), len(queue), len(decisions.units))


@dataclass(frozen=True)
class ReleaseResult:
    report: Report
    refused: tuple[str, ...]  # blocking gates that failed or are undefined, not accepted: nothing was written
    overrides: tuple[dict[str, Any], ...]
    written: tuple[str, ...] = ()
    released: int = 0
    held_back: Mapping[str, int] = field(default_factory=dict)  # units not released, by reason (as in the manifest)

    @property
    def exit_code(self) -> int:
        return 1 if self.refused else 0

    def refusals(self) -> tuple[str, ...]:
        """Each refused gate with why it blocks: ``agreement.intent failed``, or ``gold.accuracy is undefined: no
        annotator has ≥ 20 gold judgments``. An undefined gate blocks too, but nothing was measured to fail, and
        the remedy differs (more data, not better data)."""
        by_id = {g.gate.id: g for g in self.report.gates}

        def why(gate: str) -> str:
            result = by_id.get(gate)
            if result is None or result.status != "undefined":
                return f"{gate} failed"
            return f"{gate} is undefined" + (f": {result.measure.reason}" if result.measure.reason else "")
        return tuple(why(g) for g in self.refused)


def _input_hashes(spec: Spec, paths: Sequence[Path], gold: Path | None, shown: Callable[[Path], str] = display,
                  read: Sequence[FileInfo] = (), gold_data: bytes | None = None) -> list[dict[str, Any]]:
    """sha256 and size of the spec, the policy files it extends, every file it references and every label file,
    by ``shown`` path. The spec's files are hashed from the bytes the spec loader read (:func:`_spec_inputs`; a
    spec built in code has none, and its files are read now), a ``--gold`` file from the bytes the check read
    (``gold_data``), the label files as the readers hashed the bytes they parsed (``read``): the manifest names
    what the check used, with no second read that a file changed in the meantime would answer differently."""
    import hashlib

    parsed = {f.path: {"sha256": f.sha256, "bytes": f.size} for f in read}
    own = [(path, data) for path, what, data in _spec_inputs(spec) if not (gold and what == _GOLD_FILE)]
    files = [*own, *([(gold, gold_data)] if gold else []), *((p, None) for p in paths)]
    out = []
    for p, known in files:
        if known is None and shown(p) in parsed:
            out.append({"path": shown(p), **parsed[shown(p)]})
            continue
        data = p.read_bytes() if known is None else known
        out.append({"path": shown(p), "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
    return out


def release(spec: Spec | str | Path, files: Sequence[str | Path] | str | Path, *, out: str | Path,
            accept: Sequence[tuple[str, str]] = (), gold: str | Path | None = None, strict: bool = False,
            bootstrap: int | None = None, progress: Callable[[str], None] | None = None,
            refuse_bootstrap_off: bool = False) -> ReleaseResult:
    """Run every gate; only when each blocking gate passes or is accepted with a reason, write the release.

    Writes dataset.jsonl, dataset.parquet, preference-pairs.jsonl (specs with a pairwise task) and
    release-manifest.json into ``out``, all or nothing. A refused release writes nothing (exit code 1). Before any
    label is read: ``accept`` is checked against the gate plan, ``out`` against the inputs, and ``bootstrap``
    as :func:`check_labels` does with ``refuse_bootstrap_off``.
    """
    from labelspec import __version__
    from labelspec.check import release as rel
    from labelspec.spec.plan import plan_gates

    files, out = _as_list(files), Path(out)
    _check_replicates(bootstrap)
    shown: Callable[[Path], str] = display
    given = None if isinstance(spec, Spec) else spec
    if not isinstance(spec, Spec):  # named from its repository, so a release is the same from any folder
        source = spec
        try:
            spec, shown = _repository_spec(Path(source))
        except SpecError:  # problems are shown at the path as the user wrote it
            load_spec(Path(source), display_path=display(source))
            raise
    if refuse_bootstrap_off:
        _refuse_bootstrap_off(spec, bootstrap)
    rel.check_overrides([g.id for g in plan_gates(spec)], accept)  # before minutes of statistics, not after
    gold_path = Path(gold) if gold else None
    refuse_overwriting_inputs(spec, files, Outputs(folder=("--out", out)), spec_arg=given,
                              extra=[(gold_path, "the gold file")] if gold_path else [])
    paths = _label_files(files)
    released_at = source_date()
    from labelspec.check.runner import CheckOptions, run_check

    with _loading_context(spec, gold_path) as loading:
        report = run_check(spec, loading, paths, [shown(p) for p in paths],
                           CheckOptions(strict=strict, bootstrap=bootstrap, progress=progress, keep_decisions=True))
        ctx = loading.result()
    verdict = rel.resolve_gates(report.gates, accept, strict=strict)
    if verdict.refused:
        return ReleaseResult(report, verdict.refused, verdict.overrides)
    decisions = report.decisions
    assert decisions is not None  # keep_decisions=True above
    inputs = _input_hashes(spec, paths, gold_path, shown, report.accounting.files, ctx.gold_override_bytes)
    counts: dict[str, Any] = {}

    def produce(open_output: Callable[[str], IO[bytes]]) -> None:  # streamed: the dataset is never in memory
        counts.update(rel.write_release(spec, decisions, report.accounting, ctx, open_output, gates=report.gates,
                                        verdict=verdict, inputs=inputs, released_at=released_at,
                                        tool_version=__version__, progress=progress))

    written = write_streams_atomic(out, produce, remove=_previous_outputs(out, rel.OUTPUT_NAMES, rel.MANIFEST))
    return ReleaseResult(report, (), verdict.overrides, written, int(counts["released"]), dict(counts["held_back"]))


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


def _refuse_input_folder(option: str, out: Path, spec: Spec, given: Sequence[Path]) -> None:
    """An output folder is not the spec folder or a folder of label files: the next check would read the files
    written there (a release's dataset and manifest, a review queue) as label files."""
    target = out.resolve()
    folders = [Path(spec.root), *(g if g.is_dir() else g.parent for g in given)]
    for folder in folders:
        if target == folder.resolve():
            raise _usage(f"{option} {display(out)} is the folder of the spec or of label files",
                         "write to a folder of its own, e.g. releases/<version>")


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
