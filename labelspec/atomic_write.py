"""Files written all or nothing: reports beside their targets, artefacts and releases through a temporary folder.

One job: put bytes on disk so that a failure or an interrupt (Ctrl-C, SIGTERM) leaves every target as it was and
no temporary file behind — strict UTF-8 first, then fsynced temporary files, then renames. It knows nothing of
what the bytes mean; the API decides what to write and where (``api`` re-exports these functions).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from labelspec.errors import Diagnostic, OutputError, SourceLocation


def display(path: Path | str) -> str:
    """A path as users should see it: relative to the working directory when inside it, never absolutised."""
    p = Path(path)
    if not p.is_absolute():
        return p.as_posix()
    try:
        return p.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return p.as_posix()


def write_text_atomic(path: Path, text: str) -> None:
    """One report, written as :func:`write_texts_atomic` writes several."""
    write_texts_atomic([(path, text)])


def write_texts_atomic(targets: Sequence[tuple[Path, str]]) -> None:
    """Reports are written like artefacts, all or nothing: each text is encoded (strict UTF-8), written to a
    temporary file beside its target and fsynced; only when every one is staged are they renamed into place. A
    failure while staging removes the temporary files (and folders made for them): every target stays as it was.

    A symlink is followed: its target is replaced and the link stays. A path that is a device or a pipe
    (``/dev/null``, ``/dev/stdout``, a FIFO) is written to directly: there is no file to replace, and a rename
    would put a regular file where the device was. Devices are written after the files are staged and before
    they are renamed, so a device that fails (``/dev/full``) also leaves every file as it was."""
    encoded = [(path, utf8({path.name: text}, path.parent)[path.name]) for path, text in targets]
    devices = [(p, data) for p, data in encoded if _is_device(p)]
    files = [(Path(os.path.realpath(p)) if p.is_symlink() else p, data) for p, data in encoded if not _is_device(p)]
    staged, created = _stage_files(files)
    target = Path()
    try:
        for target, data in devices:
            with open(target, "wb") as fh:
                fh.write(data)
        for tmp, target in staged:
            os.replace(tmp, target)
    except OSError as exc:
        raise _cannot_write(target, exc) from exc
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        _remove_empty(created)  # only folders left empty: those of files that were not written


def _is_device(path: Path) -> bool:
    return path.exists() and not path.is_file() and not path.is_dir()


def _stage_files(files: Sequence[tuple[Path, bytes]]) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Each file's bytes in a fsynced temporary file beside it: (temporary, target) pairs, and the folders made
    for them. All or nothing: on any failure or interrupt, what was staged and the folders made are removed."""
    import secrets

    staged: list[tuple[Path, Path]] = []
    created: list[Path] = []
    target = Path()
    try:
        for target, data in files:
            created += _make_folder(target.parent)
            tmp = target.parent / f".labelspec-{secrets.token_hex(6)}.tmp"
            staged.append((tmp, target))
            with open(tmp, "xb") as fh:  # the umask applies, as to any file the user writes
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException as exc:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        _remove_empty(created)
        if isinstance(exc, OSError):
            raise _cannot_write(target, exc) from exc
        raise
    return staged, created


def _make_folder(folder: Path) -> list[Path]:
    """``mkdir -p``; returns the folders it created, so a command that ends up writing nothing can remove them."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: Sequence[Path]) -> None:
    """Remove the folders this command created that are still empty, deepest first (others are left alone)."""
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:
            pass


def _cannot_write(path: Path, exc: OSError) -> OutputError:
    return OutputError(Diagnostic("LS601", f"cannot write {display(path)}: {exc.strerror}",
                                  SourceLocation(display(path))))


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
    the opener it is given (a file in the temporary folder, opened once per name), as it goes. On a failure or an
    interrupt (Ctrl-C, SIGTERM), the temporary folder and the folders this call created are removed."""
    import shutil
    import tempfile

    try:
        created = _make_folder(out_dir)
        tmp = Path(tempfile.mkdtemp(prefix=".labelspec-", dir=out_dir))
    except OSError as exc:
        raise _cannot_write(out_dir, exc) from exc
    handles: dict[str, IO[bytes]] = {}

    def open_output(name: str) -> IO[bytes]:
        if name not in handles:
            handles[name] = open(tmp / name, "wb")  # noqa: SIM115 — closed below, after fsync
        return handles[name]

    try:
        try:
            _produce_synced(produce, open_output, handles)
            for name in sorted(handles):
                os.replace(tmp / name, out_dir / name)
            for name in remove:
                if name not in handles:
                    (out_dir / name).unlink(missing_ok=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException as exc:
        _remove_empty(created)  # a folder this run made and wrote nothing into does not stay behind
        if isinstance(exc, OSError):
            raise _cannot_write(out_dir, exc) from exc
        raise
    return tuple(display(out_dir / name) for name in sorted(handles))


def _produce_synced(produce: Callable[[Callable[[str], IO[bytes]]], object], open_output: Callable[[str], IO[bytes]],
                    handles: dict[str, IO[bytes]]) -> None:
    """Run ``produce``, then fsync every file it opened; the files are closed whatever happens."""
    try:
        produce(open_output)
        for fh in handles.values():
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        for fh in handles.values():
            fh.close()


def utf8(texts: dict[str, str], out_dir: Path) -> dict[str, bytes]:
    """Strict UTF-8 before anything is written: a lone surrogate fails here, not half-way through the writes."""

    try:
        return {name: text.encode("utf-8") for name, text in texts.items()}
    except UnicodeEncodeError as exc:
        raise OutputError(Diagnostic("LS601", f"cannot encode output as UTF-8: {exc.reason}",
                                     SourceLocation(display(out_dir)))) from exc
