"""Put compiled artefacts on disk all or nothing, or compare them with what is there (``compile --check``).

``write_artifacts`` writes ``<out>/<project>/`` for every project it is given, and nothing else under ``<out>``.
It removes only what a previous compile wrote: the names listed in the folder's ``manifest.json`` (and the manifest
itself). Anything else in the folder is left alone and reported. It refuses a project folder that is, contains or
is inside a spec folder being compiled, or that is or contains any folder holding a ``labelspec.yaml``. A project
whose files already match is left alone. Otherwise the new folder is written in a temporary directory beside it (same
filesystem), the entries left alone are hard-linked (copied across filesystems) into it, every file and directory
is fsynced, and the folders are swapped in with ``rename``; if anything fails before the last swap, the swaps
already made are rolled back, so ``<out>`` is as it was. This is the only module of ``emit`` that touches the
filesystem.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from labelspec.errors import Diagnostic, OutputError

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_PROJECT = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_MANIFEST = "manifest.json"  # the record of what a compile wrote (emit.manifest)
_SPEC_FILE = "labelspec.yaml"  # spec.load.SPEC_FILE; emit never reads specs, it only keeps away from them
_AWAY = "choose an --out outside every spec folder"
_DEFAULT_OUT = Path("generated")  # compile's default --out, relative to the working directory


@dataclass(frozen=True, slots=True)
class Artifact:
    """One compiled file: its path relative to the output folder (``<project-id>/<file>``) and its exact bytes."""

    path: str
    content: bytes


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write (or check) found and did. Paths are relative to the output folder, sorted."""

    written: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()  # entries of a project folder that no compile wrote: never removed
    diff: str = ""
    checked: bool = False  # True for --check: nothing was written

    @property
    def drift(self) -> bool:
        """True when the folder did not match the compile (before a write; the outcome of a check)."""
        return bool(self.stale or self.missing or self.extra)

    def summary(self) -> str:
        """The terminal report: one line per difference (check) or change (write), the diff, then a count."""
        if self.checked:
            lines = [f"{word:<8}{p}" for word, paths in (("stale", self.stale), ("missing", self.missing),
                                                          ("extra", self.extra)) for p in paths]
            total = len(self.stale) + len(self.missing) + len(self.extra)
            last = (f"{total} file(s) out of date; run labelspec compile" if total
                    else f"all {len(self.unchanged)} generated files are up to date")
        else:
            lines = [f"{word:<8}{p}" for word, paths in (("wrote", self.written), ("removed", self.removed))
                     for p in paths]
            last = f"{len(self.written)} written, {len(self.removed)} removed, {len(self.unchanged)} unchanged"
            last += f", {len(self.kept)} left alone" if self.kept else ""
        lines += [f"left alone: {p} (not written by labelspec)" for p in self.kept]
        return "".join(line + "\n" for line in lines) + self.diff + last + "\n"


@dataclass(slots=True)
class _Survey:
    stale: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    clash: list[str] = field(default_factory=list)  # produced names taken by a directory compile did not write
    unchanged: list[str] = field(default_factory=list)
    old: dict[str, bytes | None] = field(default_factory=dict)


def _error(message: str, hint: str | None = None) -> OutputError:
    return OutputError(Diagnostic("LS601", message, hint=hint))


def _validate(projects: dict[str, tuple[Artifact, ...]]) -> None:
    """Every path is ``<project>/<plain file name>`` for its own project, and no path repeats."""
    for project, artifacts in projects.items():
        if not _PROJECT.fullmatch(project):
            raise _error(f"{project!r} cannot name an output folder")
        names = [a.path.partition("/")[2] for a in artifacts]
        for art, name in zip(artifacts, names, strict=True):
            if not art.path.startswith(project + "/") or not _NAME.fullmatch(name):
                raise _error(f"artifact path {art.path!r} is not a plain file inside {project}/")
        if len(set(names)) != len(names):
            raise _error(f"two artifacts of {project} have the same path")


def _read_regular(path: Path) -> bytes | None:
    """The bytes of a regular file (not following a symlink), or None when it is anything else or absent."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    return path.read_bytes() if stat.S_ISREG(st.st_mode) else None


def _existing(folder: Path, project: str) -> list[str]:
    """Entries under the project folder, as output-relative paths; sub-folders are listed once, with a slash."""
    if not folder.exists() and not folder.is_symlink():
        return []
    if folder.is_symlink() or not folder.is_dir():
        raise _error(f"{folder} exists and is not a plain directory", "move it away; compile owns this folder")
    out = []
    for entry in sorted(folder.iterdir()):
        real_dir = entry.is_dir() and not entry.is_symlink()
        out.append(f"{project}/{entry.name}/" if real_dir else f"{project}/{entry.name}")
    return out


def _owned(folder: Path) -> frozenset[str]:
    """The names the last compile wrote into ``folder``: its manifest's ``files`` and the manifest itself.

    Empty when there is no readable labelspec manifest: then nothing in the folder is known to be ours, and nothing
    is removed. A file compile never wrote is never deleted.
    """
    data = _read_regular(folder / _MANIFEST)
    try:
        doc = json.loads(data) if data is not None else None
    except (ValueError, RecursionError):  # not JSON (or not UTF-8): no record
        return frozenset()
    files = doc.get("files") if isinstance(doc, dict) and doc.get("generator") == "labelspec" else None
    if not isinstance(files, list):
        return frozenset()
    names = {f.get("path") for f in files if isinstance(f, dict)}
    return frozenset({_MANIFEST, *(n for n in names if isinstance(n, str) and _NAME.fullmatch(n))})


def _overlap(target: Path, spec: Path) -> str | None:
    """How the project folder ``target`` overlaps the spec folder ``spec`` (after symlinks), or None."""
    real, folder = target.resolve(), spec.resolve()
    if real == folder:
        return "is"
    return "is inside" if real.is_relative_to(folder) else "contains" if folder.is_relative_to(real) else None


def _guard(out_dir: Path, projects: dict[str, tuple[Artifact, ...]], protect: Sequence[Path]) -> None:
    """Refuse a project folder that is, holds or sits in a spec folder being compiled, or is or holds any other
    spec folder: compile replaces what is in it."""
    for project in sorted(projects):
        target = out_dir / project
        for spec in protect:
            relation = _overlap(target, spec)
            if relation:
                raise _error(f"output folder {target} {relation} the spec folder {spec}",
                             _away(out_dir, project, spec, protect))
        # a spec folder not being compiled may still sit in the output folder; above it is harmless, since
        # compile only ever removes files its own manifest lists
        real = target.resolve()
        holder = next((Path(d) for d, _, names in os.walk(real) if _SPEC_FILE in names), None)
        if holder is not None:
            relation = "is" if holder == real else "contains"
            raise _error(f"output folder {target} {relation} {holder}, a folder holding {_SPEC_FILE}",
                         _away(out_dir, project, protect[0] if protect else holder, (*protect, holder)))


def _away(out_dir: Path, project: str, spec: Path, avoid: Sequence[Path]) -> str:
    """Where to write instead, as an ``--out`` from the working directory: ``generated/`` beside the ``specs/``
    folder holding the spec folder ``spec`` (else beside ``spec``), when that overlaps no folder of ``avoid``. Run
    inside ``specs/<project>``, the default ``generated`` lands in the spec folder, so the hint says to run from
    the repository root first."""
    real = spec.resolve()
    in_specs = next((a for a in real.parents if a.name == "specs"), None)
    root = in_specs.parent if in_specs else real.parent
    suggested = root / _DEFAULT_OUT
    target = suggested / project
    if (any(_overlap(target, p) for p in (*avoid, spec)) or target.resolve() == (out_dir / project).resolve()
            or any(_SPEC_FILE in names for _, _, names in os.walk(target))):
        return _AWAY  # no folder to suggest that would be accepted
    try:
        shown, where = os.path.relpath(suggested), os.path.relpath(root)
    except ValueError:  # another drive (Windows): no relative path
        shown, where = str(suggested), str(root)
    example = f"{_AWAY}, e.g. --out {shown}"
    if out_dir != _DEFAULT_OUT or where == os.curdir:
        return example
    beside = "specs/" if in_specs else f"{real.name}/"
    return f"run compile from {where} (where generated/ sits beside {beside}), or {example}"


def _survey(out_dir: Path, projects: dict[str, tuple[Artifact, ...]]) -> _Survey:
    """Sort each project folder's entries: unchanged, stale, missing, extra (ours, no longer produced), kept."""
    survey = _Survey()
    for project in sorted(projects):
        existing = _existing(out_dir / project, project)  # first: refuses a symlinked or non-folder project path
        owned = _owned(out_dir / project) if existing else frozenset()
        produced = {a.path: a.content for a in projects[project]}
        for path in sorted(produced):
            old = _read_regular(out_dir / path) if existing else None
            survey.old[path] = old
            if old == produced[path]:
                survey.unchanged.append(path)
            else:
                (survey.stale if path in existing or path + "/" in existing else survey.missing).append(path)
            survey.clash.extend([path] if path + "/" in existing else [])
        for path in existing:
            if path not in produced and path.rstrip("/") not in produced:
                ours = not path.endswith("/") and path.partition("/")[2] in owned
                (survey.extra if ours else survey.kept).append(path)
    return survey


def _text(data: bytes | None) -> list[str]:
    return [] if data is None else data.decode("utf-8", errors="replace").splitlines(keepends=True)


def _diff(out_dir: Path, projects: dict[str, tuple[Artifact, ...]], survey: _Survey) -> str:
    """A unified diff from what is on disk to what compile produces (black's ``--diff``)."""
    new = {a.path: a.content for arts in projects.values() for a in arts}
    chunks = []
    for path in sorted([*survey.stale, *survey.missing, *survey.extra]):
        before = _text(survey.old.get(path) if path in new else _read_regular(out_dir / path))
        after = _text(new.get(path))
        a = f"a/{path}" if path not in survey.missing else "/dev/null"
        b = f"b/{path}" if path in new else "/dev/null"
        chunks.append("".join(difflib.unified_diff(before, after, a, b)))
    return "".join(chunks)


class _RollbackFailed(Exception):
    """A swap failed and so did putting the previous folders back; they are still in the temporary folder."""


def _fsync_path(path: Path) -> None:
    """fsync a folder (its entries) or a file (its bytes), by path."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stage(staging: Path, artifacts: tuple[Artifact, ...]) -> None:
    """Write one project's files into ``staging`` (a new folder) and fsync them."""
    staging.mkdir()
    for art in artifacts:
        with open(staging / art.path.partition("/")[2], "xb") as fh:
            fh.write(art.content)
            fh.flush()
            os.fsync(fh.fileno())
    _fsync_path(staging)


def _carry(src: Path, dst: Path) -> None:
    """Recreate ``src`` (an entry compile leaves alone) at ``dst`` without changing it: a hard link to the same
    file (a copy across filesystems), the same symlink, or a folder rebuilt entry by entry."""
    mode = src.lstat().st_mode
    if stat.S_ISLNK(mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISDIR(mode):
        dst.mkdir()
        for child in sorted(src.iterdir()):
            _carry(child, dst / child.name)
        shutil.copystat(src, dst, follow_symlinks=False)
        _fsync_path(dst)
    else:
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError:  # another filesystem, or links not supported: a copy (a FIFO or device fails here)
            shutil.copy2(src, dst, follow_symlinks=False)
            _fsync_path(dst)


def _swap(out_dir: Path, tmp: Path, swap: list[str]) -> None:
    """Move each staged folder into place, keeping the old one in ``tmp``; undo every move on any failure."""
    moves: list[tuple[Path, Path]] = []  # (from, to), in the order made
    try:
        for project in swap:
            target = out_dir / project
            if target.exists():
                os.rename(target, tmp / f"old-{project}")
                moves.append((target, tmp / f"old-{project}"))
            os.rename(tmp / project, target)
            moves.append((tmp / project, target))
        _fsync_path(out_dir)
    except BaseException as exc:
        try:
            for src, dst in reversed(moves):
                os.rename(dst, src)
        except OSError as undo:
            raise _RollbackFailed(undo) from exc
        raise


def _replace(out_dir: Path, projects: dict[str, tuple[Artifact, ...]], swap: list[str], kept: list[str]) -> None:
    """Stage the changed projects beside ``out_dir``'s folders, with the ``kept`` entries (output-relative) carried
    over, and swap them in; all or nothing. The old folders stay untouched until the last swap."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".labelspec-", dir=out_dir))
    except OSError as err:
        raise _error(f"cannot create {out_dir}: {err.strerror or err}") from err
    keep = False
    try:
        for project in swap:
            _stage(tmp / project, projects[project])
            carried = [p.rstrip("/") for p in kept if p.partition("/")[0] == project]
            for path in carried:
                _carry(out_dir / path, tmp / path)
            if carried:
                _fsync_path(tmp / project)
        _swap(out_dir, tmp, swap)
    except _RollbackFailed as err:
        keep = True  # the only copy of the previous files is in tmp: never delete it
        raise _error(f"cannot write {out_dir}, and the previous files could not be put back; they are in {tmp}",
                     "move the old-<project> folders back by hand") from err
    except OSError as err:
        raise _error(f"cannot write {out_dir}: {err.strerror or err}; nothing was changed") from err
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def write_artifacts(out_dir: Path, projects: dict[str, tuple[Artifact, ...]], *, check: bool, diff: bool,
                    protect: Sequence[Path] = ()) -> WriteResult:
    """Make ``out_dir/<project>/`` hold each project's artifacts, or (``check``) report how it differs.

    Files the folder's manifest lists and compile no longer produces are removed; entries no compile wrote are
    left alone (``kept``). With ``check`` nothing is written. ``diff`` adds a unified diff of every difference.
    ``protect`` names the folders of the specs being compiled. Raises ``OutputError`` (LS601), with the output
    folder unchanged, when a project folder is, contains or is inside one of them, is or contains any folder
    holding a ``labelspec.yaml``, or cannot be written.
    """
    _validate(projects)
    try:
        _guard(out_dir, projects, protect)
        survey = _survey(out_dir, projects)
    except (OSError, RuntimeError) as err:  # RuntimeError: a symlink loop, for Path.resolve before Python 3.13
        raise _error(f"cannot read {out_dir}: {getattr(err, 'strerror', None) or err}") from err
    result = WriteResult(unchanged=tuple(survey.unchanged), stale=tuple(survey.stale),
                         missing=tuple(survey.missing), extra=tuple(survey.extra), kept=tuple(survey.kept),
                         diff=_diff(out_dir, projects, survey) if diff else "", checked=check)
    swap = sorted({p.partition("/")[0] for p in [*survey.stale, *survey.missing, *survey.extra]})
    if check or not swap:
        return result
    if survey.clash:
        raise _error(f"{out_dir / survey.clash[0]} is a folder compile did not write; it writes a file there",
                     "move the folder away")
    _replace(out_dir, projects, swap, survey.kept)
    return dataclasses.replace(result, written=tuple(sorted([*survey.stale, *survey.missing])),
                               removed=result.extra)
