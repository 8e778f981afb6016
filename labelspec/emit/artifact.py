"""Put compiled artefacts on disk all or nothing, or compare them with what is there (``compile --check``).

``write_artifacts`` owns ``<out>/<project>/`` for every project it is given, and nothing else under ``<out>``:
files it did not produce are removed, other folders are never touched. A project whose files already match is left
alone. Otherwise the new folder is written in a temporary directory beside it (same filesystem), every file and
directory is fsynced, and the folders are swapped in with ``rename``; if anything fails before the last swap, the
swaps already made are rolled back, so ``<out>`` is as it was. This is the only module of ``emit`` that touches the
filesystem.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from labelspec.errors import Diagnostic, OutputError

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_PROJECT = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


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
        return "".join(line + "\n" for line in lines) + self.diff + last + "\n"


@dataclass(slots=True)
class _Survey:
    stale: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
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


def _survey(out_dir: Path, projects: dict[str, tuple[Artifact, ...]]) -> _Survey:
    survey = _Survey()
    for project in sorted(projects):
        existing = _existing(out_dir / project, project)  # first: refuses a symlinked or non-folder project path
        produced = {a.path: a.content for a in projects[project]}
        for path in sorted(produced):
            old = _read_regular(out_dir / path) if existing else None
            survey.old[path] = old
            if old == produced[path]:
                survey.unchanged.append(path)
            else:
                (survey.stale if path in existing or path + "/" in existing else survey.missing).append(path)
        survey.extra.extend(p for p in existing if p not in produced)
    return survey


def _text(data: bytes | None) -> list[str]:
    return [] if data is None else data.decode("utf-8", errors="replace").splitlines(keepends=True)


def _diff(out_dir: Path, projects: dict[str, tuple[Artifact, ...]], survey: _Survey) -> str:
    """A unified diff from what is on disk to what compile produces (black's ``--diff``)."""
    new = {a.path: a.content for arts in projects.values() for a in arts}
    chunks = []
    for path in sorted([*survey.stale, *survey.missing, *survey.extra]):
        if path.endswith("/"):
            chunks.append(f"Only in {path}: directory would be removed\n")
            continue
        before = _text(survey.old.get(path) if path in new else _read_regular(out_dir / path))
        after = _text(new.get(path))
        a = f"a/{path}" if path not in survey.missing else "/dev/null"
        b = f"b/{path}" if path in new else "/dev/null"
        chunks.append("".join(difflib.unified_diff(before, after, a, b)))
    return "".join(chunks)


class _RollbackFailed(Exception):
    """A swap failed and so did putting the previous folders back; they are still in the temporary folder."""


def _fsync_dir(path: Path) -> None:
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
    _fsync_dir(staging)


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
        _fsync_dir(out_dir)
    except BaseException as exc:
        try:
            for src, dst in reversed(moves):
                os.rename(dst, src)
        except OSError as undo:
            raise _RollbackFailed(undo) from exc
        raise


def _replace(out_dir: Path, projects: dict[str, tuple[Artifact, ...]], swap: list[str]) -> None:
    """Stage the changed projects beside ``out_dir``'s folders and swap them in; all or nothing."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".labelspec-", dir=out_dir))
    except OSError as err:
        raise _error(f"cannot create {out_dir}: {err.strerror or err}") from err
    keep = False
    try:
        for project in swap:
            _stage(tmp / project, projects[project])
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


def write_artifacts(out_dir: Path, projects: dict[str, tuple[Artifact, ...]], *, check: bool,
                    diff: bool) -> WriteResult:
    """Make ``out_dir/<project>/`` hold exactly each project's artifacts, or (``check``) report how it differs.

    With ``check`` nothing is written. ``diff`` adds a unified diff of every difference. Raises ``OutputError``
    (LS601) when the folders cannot be written; the output folder is then unchanged.
    """
    _validate(projects)
    try:
        survey = _survey(out_dir, projects)
    except OSError as err:
        raise _error(f"cannot read {out_dir}: {err.strerror or err}") from err
    result = WriteResult(unchanged=tuple(survey.unchanged), stale=tuple(survey.stale),
                         missing=tuple(survey.missing), extra=tuple(survey.extra),
                         diff=_diff(out_dir, projects, survey) if diff else "", checked=check)
    swap = sorted({p.partition("/")[0] for p in [*survey.stale, *survey.missing, *survey.extra]})
    if check or not swap:
        return result
    _replace(out_dir, projects, swap)
    return dataclasses.replace(result, written=tuple(sorted([*survey.stale, *survey.missing])),
                               removed=result.extra)
