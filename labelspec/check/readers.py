"""Label files → the canonical judgment table (DESIGN.md §3), read losslessly (G10) and fast (G13).

The entry point of the readers and the only one of them that touches the filesystem: it reads each file's
bytes once (regular files only; hashing them for provenance; decompressing a ``.gz``, ``.zst``, ``.bz2`` or
``.xz`` file within a budget), picks the format, hands the bytes to ``read_csv`` / ``read_jsonl`` /
``read_parquet`` / ``read_labelstudio`` and stacks what they return. It checks structure only: unknown labels,
duplicates, rosters and the like are checked later on its output.

Row accounting: ``rows_read`` counts every data record seen (CSV/TSV data rows, non-blank JSONL lines, Parquet
rows, Label Studio (annotation, task) judgments plus cancelled/empty annotations), so that
``rows_read == len(frame) + sum(excluded.values())``. Only the Label Studio reader excludes records here.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import lzma
import os
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from labelspec.check.coded import CODED, add_codes
from labelspec.check.read_common import (
    FIELDS,
    ColumnMap,
    Exclusion,
    Parsed,
    TaskShape,
    input_error,
)
from labelspec.check.read_csv import parse_csv
from labelspec.check.read_jsonl import parse_jsonl
from labelspec.check.read_labelstudio import parse_labelstudio
from labelspec.check.read_parquet import parse_parquet
from labelspec.errors import Diagnostic, InputError
from labelspec.regular_file import FileProblem, read_regular

__all__ = ["COLUMNS", "FORMATS", "ColumnMap", "FileInfo", "Judgments", "TaskShape", "read_label_files"]

#: File extension → format name. ``.json`` is a Label Studio JSON export. Any of them may be compressed:
#: ``labels.jsonl.gz`` is JSONL (:data:`COMPRESSED`).
FORMATS: dict[str, str] = {
    ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
    ".json": "labelstudio",
}
#: The extension of a compressed label file, after its format's → its codec (gzip and xz by the standard library,
#: the others by Arrow's codecs, which pyarrow's wheels carry).
COMPRESSED: dict[str, str] = {".gz": "gzip", ".zst": "zstd", ".bz2": "bz2", ".xz": "xz"}
#: A compressed file may expand to at most this many times its size (but always to 256 MiB) and to a quarter of
#: the machine's memory: past that, a likely decompression bomb (gzip reaches ~1,000x; label files ~5-20x).
MAX_EXPANSION = 200
_MIN_EXPANDED = 256 << 20
#: The judgment table's text columns, in order. All are strings ("" when absent) except ``file`` (a Categorical:
#: one entry per file) and ``line`` (int64):
#: the physical line where the record starts (CSV/TSV/JSONL), the 1-based row (Parquet), or the line where the
#: annotation object starts (Label Studio). ``ground_truth`` is "true" for Label Studio ground-truth annotations.
#: The id columns (``coded.CODED``: item, unit, task, annotator, value) hold their strings as sorted-code
#: Categoricals (each distinct text once).
COLUMNS: tuple[str, ...] = (*FIELDS, "ground_truth", "file", "line")
EXCLUSION_COLUMNS: tuple[str, ...] = ("file", "line", "reason", "detail")

_Parser = Callable[[bytes, str, ColumnMap, Sequence[TaskShape]], Parsed]
_PARSERS: dict[str, _Parser] = {
    "csv": lambda d, p, c, t: parse_csv(d, p, c, t, delimiter=","),
    "tsv": lambda d, p, c, t: parse_csv(d, p, c, t, delimiter="\t"),
    "jsonl": parse_jsonl,
    "parquet": parse_parquet,
    "labelstudio": parse_labelstudio,
}
_STRING = pd.StringDtype("pyarrow")


@dataclass(frozen=True)
class FileInfo:
    """Provenance of one label file: the path as given, its format, records read, and the sha256 and size of the
    bytes that were parsed (what a release manifest records: the file is not read again to hash it)."""

    path: str
    format: str
    rows: int
    sha256: str
    size: int


@dataclass(frozen=True, eq=False)
class Judgments:
    """The canonical judgment table with its row accounting.

    ``frame`` has exactly :data:`COLUMNS`; ``exclusions`` lists the records read but not used
    (:data:`EXCLUSION_COLUMNS`); ``info`` counts things seen that are never judgments (Label Studio tasks,
    predictions, drafts); ``origins`` (one text per row of ``frame``, "" where the line says it all) names
    where a Label Studio row came from, and is ``None`` when no file needs it.
    """

    frame: pd.DataFrame
    rows_read: int
    files: tuple[FileInfo, ...]
    exclusions: pd.DataFrame
    info: Mapping[str, int] = field(default_factory=dict)
    origins: np.ndarray | None = None
    #: ``frame``'s rows grouped by item code (``ordering.group_order``'s answer), when coding the item ids grouped
    #: them (``coded.grouped_categorical``); the accounting's duplicate check then need not sort them again.
    by_item: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def excluded(self) -> dict[str, int]:
        """Excluded records per reason, sorted by reason."""
        return dict(sorted(Counter(self.exclusions["reason"].tolist()).items()))


#: A roster's annotator ids, none, or a function that gives them (:func:`read_label_files`).
Roster = Collection[str] | Callable[[], Collection[str] | None] | None


def read_label_files(paths: Sequence[Path], *, columns: ColumnMap, tasks: Sequence[TaskShape],
                     display_paths: Sequence[str] | None = None, fmt: str | None = None,
                     items_id: str | None = None, roster: Roster = None) -> Judgments:
    """Read label files into one :class:`Judgments`.

    ``display_paths`` are what messages and the ``file`` column show (default: the paths as given).
    ``items_id``: the spec's ``items.id``, which a Label Studio task's data may name the item by; ``roster``:
    the roster's annotator ids, which a Label Studio ``completed_by`` object may name its user by (or a function
    that gives them, asked only when a Label Studio export is read: the check loads its context meanwhile).
    ``fmt`` overrides the extension (one of :data:`FORMATS`' values). Every file is read before failing, and
    one InputError carries the first structural problem of each broken file (LS401–LS406, at FILE:LINE).
    """
    shown = [str(p) for p in paths] if display_paths is None else list(display_paths)
    if len(shown) != len(paths):
        raise ValueError("display_paths must have one entry per path")
    done: list[tuple[Parsed, FileInfo]] = []
    problems: list[Diagnostic] = []
    for path, name in zip(paths, shown, strict=True):
        try:
            done.append(_read_one(Path(path), name, fmt, columns, tasks, items_id, roster))
        except InputError as exc:
            problems.extend(exc.diagnostics)
    if problems:
        raise InputError(problems)
    judgments = _assemble(done)
    done.clear()  # the parsed Arrow columns: what the frame does not share goes back to the system now
    pa.default_memory_pool().release_unused()
    return judgments


def _format_of(path: Path, name: str, fmt: str | None) -> str:
    suffix = _suffix(path)
    kind = fmt if fmt is not None else FORMATS.get(suffix)
    if kind not in _PARSERS:
        known = ", ".join(sorted(FORMATS))
        outer = path.suffix.lower()
        what = (f"format {fmt!r}" if fmt is not None else f"extension {suffix or '(none)'!r}"
                + (f" before {outer}" if fmt is None and outer in COMPRESSED else ""))
        raise input_error("LS405", name, 0, f"unknown label-file {what}; known extensions: {known}, each "
                                            f"also compressed ({', '.join(COMPRESSED)})",
                          hint=f"formats: {', '.join(sorted(_PARSERS))}")
    return kind


def _suffix(path: Path) -> str:
    """The extension that names the format: the one before a compressed file's ``.gz``, ``.zst``, ``.bz2`` or
    ``.xz``."""
    suffix = path.suffix.lower()
    return Path(path.stem).suffix.lower() if suffix in COMPRESSED else suffix


def _decompress(raw: bytes, name: str, codec: str) -> bytes:
    """The bytes a compressed file holds, within :data:`MAX_EXPANSION`; else a located error (LS401)."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # no sysconf (Windows): the ratio alone
        memory = 1 << 62
    limit = min(max(_MIN_EXPANDED, MAX_EXPANSION * len(raw)), memory // 4)
    try:
        if codec == "gzip":  # the standard library's: it reads every member of a concatenated file
            with gzip.GzipFile(fileobj=io.BytesIO(raw)) as fh:
                data = fh.read(limit + 1)
        elif codec == "xz":  # likewise every stream (Arrow's wheels have no lzma codec)
            with lzma.LZMAFile(io.BytesIO(raw)) as xz:
                data = xz.read(limit + 1)
        else:
            with pa.CompressedInputStream(pa.BufferReader(raw), codec) as stream:
                data = stream.read(limit + 1)
    # BadGzipFile is an OSError; a truncated gzip or xz file, an EOFError
    except (OSError, EOFError, zlib.error, lzma.LZMAError, pa.ArrowException) as exc:
        raise input_error("LS401", name, 0, f"not a readable {codec} file: {exc}") from None
    if len(data) > limit:
        raise input_error("LS401", name, 0, f"decompresses to more than {limit:,} bytes ({len(raw):,} compressed): "
                                            "refused as a likely decompression bomb",
                          hint="if the file is genuine, decompress it and check the uncompressed file")
    return data


def _read_one(path: Path, name: str, fmt: str | None, columns: ColumnMap,
              tasks: Sequence[TaskShape], items_id: str | None = None,
              roster: Roster = None) -> tuple[Parsed, FileInfo]:
    kind = _format_of(path, name, fmt)
    raw = _read_bytes(path, name)
    codec = COMPRESSED.get(path.suffix.lower())
    data = raw if codec is None else _decompress(raw, name, codec)
    with ThreadPoolExecutor(max_workers=1) as pool:  # hash while parsing: hashlib releases the GIL
        digest = pool.submit(lambda: hashlib.sha256(raw).hexdigest())  # the file's bytes, as sha256sum says
        parsed = (parse_labelstudio(data, name, columns, tasks, items_id=items_id,
                                    roster=roster() if callable(roster) else roster)
                  if kind == "labelstudio"
                  else _PARSERS[kind](data, name, columns, tasks))
        sha256 = digest.result()
    if kind == "jsonl" and parsed.rows == 0:  # blank lines only, or 0 bytes: empty, as a CSV file without header
        raise input_error("LS401", name, 0, "empty file: no JSON lines")
    seen = parsed.rows + len(parsed.exclusions)
    return parsed, FileInfo(name, kind, seen, sha256, len(raw))


def _read_bytes(path: Path, name: str) -> bytes:
    """The bytes of a regular file (symlinks followed; a FIFO or a device such as /dev/zero is refused, never
    read: ``regular_file``)."""
    try:
        return read_regular(path)
    except FileProblem as exc:
        extra = "" if exc.io else "; a label file must be a regular file (or a symlink to one)"
        if exc.io and path.is_symlink() and not path.exists():
            extra = " (a symbolic link whose target does not exist)"
        raise input_error("LS401", name, 0, exc.message + extra) from None


def _table(parsed: Parsed, name: str) -> pa.Table:
    cols = {c: parsed.columns[c] for c in (*FIELDS, "ground_truth")}
    # one dictionary entry per file (a Categorical in pandas): n copies of the path would cost n × its length
    cols["file"] = pa.DictionaryArray.from_arrays(pa.array(np.zeros(parsed.rows, np.int32)),
                                                  pa.array([name], pa.large_string()))
    cols["line"] = pa.array(parsed.lines, pa.int64())
    return pa.table(cols)


def _same_column_types(tables: list[pa.Table]) -> list[pa.Table]:
    """The only task's name and an absent unit are one-entry dictionaries (``read_common.constant_dictionary``),
    and the CSV and Parquet readers give repeated values as dictionaries (``read_common.repeated_fields``); where
    other files hold such a column as text (JSON Lines, Label Studio), those dictionaries are decoded so that the
    tables concatenate (mixed formats)."""
    out = tables
    for name in CODED:
        if len({t.schema.field(name).type for t in out}) <= 1:
            continue
        fixed = []
        for t in out:
            col = t.column(name)
            if pa.types.is_dictionary(col.type):
                t = t.set_column(t.schema.get_field_index(name), name, col.cast(pa.large_string()))
            fixed.append(t)
        out = fixed
    return out


def _exclusions(done: list[tuple[Parsed, FileInfo]]) -> pd.DataFrame:
    rows: list[tuple[str, Exclusion]] = [(info.path, e) for parsed, info in done for e in parsed.exclusions]
    frame = pd.DataFrame({
        "file": pd.array([f for f, _ in rows], dtype=_STRING),
        "line": pd.array([e.line for _, e in rows], dtype="int64"),
        "reason": pd.array([e.reason for _, e in rows], dtype=_STRING),
        "detail": pd.array([e.detail for _, e in rows], dtype=_STRING),
    })
    return frame


def _assemble(done: list[tuple[Parsed, FileInfo]]) -> Judgments:
    empty = pa.schema([*((c, pa.large_string()) for c in COLUMNS[:-2]),
                       ("file", pa.dictionary(pa.int32(), pa.large_string())), ("line", pa.int64())])
    tables = _same_column_types([_table(parsed, info.path) for parsed, info in done])
    # files may differ in string offset width: "permissive" widens string to large_string where they do
    table = pa.concat_tables(tables, promote_options="permissive") if tables else empty.empty_table()
    text = {pa.large_string(): _STRING, pa.string(): _STRING}
    rest = table.drop_columns([f for f in CODED if f in table.column_names])  # their text lives in categories
    # split_blocks: each column its own block, so the line numbers (int64, no nulls) are wrapped, not copied into
    # a consolidated block (80 MB of fresh memory at 10M rows, ~0.16 s on the benchmark machine)
    frame, by_item = add_codes(rest.to_pandas(types_mapper=text.get, split_blocks=True), table)
    frame = frame[list(COLUMNS)]
    info: Counter[str] = Counter()
    for parsed, _ in done:
        info.update(parsed.info)
    return Judgments(
        frame=frame,
        rows_read=sum(f.rows for _, f in done),
        files=tuple(f for _, f in done),
        exclusions=_exclusions(done),
        info=dict(sorted(info.items())),
        origins=_origins([parsed for parsed, _ in done]),
        by_item=by_item,
    )


def _origins(parts: list[Parsed]) -> np.ndarray | None:
    if all(p.origins is None for p in parts):
        return None
    return np.concatenate([p.origins if p.origins is not None else np.full(p.rows, "", dtype=object)
                           for p in parts])
