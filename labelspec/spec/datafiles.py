"""Check the content of the small data files a spec references: gold, calibration, items, roster (LS312).

Each is decoded as strict UTF-8 (a BOM is allowed) and read with the stdlib ``csv``/``json`` as strings only, so
``NA`` or ``01`` stay what they are; items, gold and calibration CSVs are first checked over pyarrow's read, and
read by the stdlib only when pyarrow cannot vouch that they have no problem. Problems point at ``FILE:LINE``
(the physical line a record starts on). At most :data:`MAX_PROBLEMS` are listed per file, then one line says how
many more there were. Pure: bytes in, diagnostics out; it never opens files (``resolve_files`` does, after the
path checks).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from labelspec.csvscan import plain_columns
from labelspec.errors import Diagnostic, SourceLocation
from labelspec.spec.locate import did_you_mean
from labelspec.spec.model import ItemsSource, Spec, Task
from labelspec.spec.records import value_problems
from labelspec.strictjson import MAX_DEPTH, JsonNumber, plain, strict_line_decoder

MAX_PROBLEMS = 20
GOLD_COLUMNS = ("item", "unit", "task", "label")
GOLD_OPTIONAL = ("why",)
CALIBRATION_OPTIONAL = ("why", "edge_case", "teaching")
ROSTER_COLUMNS = ("id", "role")
ROLES = ("annotator", "expert")


class Problems:
    """Located LS312 diagnostics for one file, capped at :data:`MAX_PROBLEMS`."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.diags: list[Diagnostic] = []
        self.extra = 0

    def add(self, line: int, message: str, hint: str | None = None) -> None:
        if len(self.diags) < MAX_PROBLEMS:
            self.diags.append(Diagnostic("LS312", message, SourceLocation(self.display, line), hint=hint))
        else:
            self.extra += 1

    def result(self) -> list[Diagnostic]:
        if self.extra:
            return [*self.diags, Diagnostic("LS312", f"… and {self.extra} more problems in this file",
                                            SourceLocation(self.display))]
        return self.diags


def decode(data: bytes, problems: Problems) -> str | None:
    """Strict UTF-8 text without a BOM, or None after reporting the line of the first bad byte."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        binary = data.startswith((b"PAR1", b"PK\x03\x04", b"\xd0\xcf\x11\xe0"))  # Parquet, xlsx/zip, xls
        problems.add(data[: exc.start].count(b"\n") + 1, f"not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                     hint="this is a binary file (Parquet or a spreadsheet?): these files are CSV text"
                     if binary else "save the file as UTF-8")
        return None


def csv_rows(text: str, problems: Problems) -> Iterator[tuple[int, list[str]]]:
    """``(first physical line, fields)`` per record; stops at structural damage (bad quote, NUL), reported."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    try:
        for row in reader:
            yield line, row
            line = reader.line_num + 1
    except csv.Error as exc:
        problems.add(reader.line_num or line, f"malformed CSV: {exc}", hint="check quoting on this line")


def read_table(text: str, problems: Problems, required: tuple[str, ...], optional: tuple[str, ...] | None, *,
               keep: tuple[str, ...] | None = None) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and records of a CSV; checks the header (required, unknown when ``optional`` is given, duplicates)
    and ragged rows. Records with the wrong number of fields are reported and left out. ``keep`` limits the
    records to those columns (an items file's text fields are not needed to check it)."""
    rows = csv_rows(text, problems)
    first = next(rows, None)
    if first is None:
        problems.add(1, "file is empty; expected a header row: " + ",".join(required))
        return [], []
    header = first[1]
    for name in sorted({h for h in header if header.count(h) > 1}):
        problems.add(1, f"duplicate column {name!r}")
    missing = [c for c in required if c not in header]
    if missing:
        problems.add(1, "missing column(s): " + ", ".join(missing), hint="expected header: " + ",".join(required))
    if optional is not None:
        allowed = (*required, *optional)
        for name in header:
            if name not in allowed:
                problems.add(1, f"unknown column {name!r}", hint=did_you_mean(name, allowed)
                             or "allowed columns: " + ", ".join(allowed))
    records = []
    picked = [(name, header.index(name)) for name in keep if name in header] if keep is not None else None
    for line, row in rows:
        if row == [] or row == [""] and len(header) > 1:
            continue  # blank line
        if len(row) != len(header):
            problems.add(line, f"record has {len(row)} fields; the header has {len(header)}")
            continue
        records.append((line, dict(zip(header, row, strict=True)) if picked is None
                        else {name: row[i] for name, i in picked}))
    return header, records


def check_gold(data: bytes, display: str, spec: Spec, *, calibration: bool) -> list[Diagnostic]:
    """A gold or calibration file: known tasks, units as the task needs them, valid answers, no duplicate keys."""
    problems = Problems(display)
    text = decode(data, problems)
    if text is None:
        return problems.result()
    if _clean_gold(data, spec, calibration=calibration):
        return []
    header, records = read_table(text, problems, GOLD_COLUMNS, CALIBRATION_OPTIONAL if calibration else GOLD_OPTIONAL)
    if any(c not in header for c in GOLD_COLUMNS):
        return problems.result()
    seen: dict[tuple[str, str, str], int] = {}
    for line, rec in records:
        task = _gold_task(spec, rec, line, problems)
        if task is None:
            continue
        _check_gold_record(task, rec, line, problems)
        key = (rec["item"], rec["unit"], rec["task"])
        if key in seen:
            problems.add(line, f"duplicate gold answer for item {rec['item']!r}, task {rec['task']!r}"
                         f"{', unit ' + repr(rec['unit']) if rec['unit'] else ''} (first on line {seen[key]})")
        else:
            seen[key] = line
        if calibration:
            _check_calibration_record(task, rec, line, problems)
    return problems.result()


def _clean_gold(data: bytes, spec: Spec, *, calibration: bool) -> bool:
    """True when a gold or calibration CSV certainly has no problem to report, decided column by column over
    pyarrow's read (``csvscan.plain_columns``): each distinct (task, label) is validated once, so 66k gold
    answers cost ~0.05 s instead of ~1 s per record. False sends the file to the per-record pass."""
    optional = CALIBRATION_OPTIONAL if calibration else GOLD_OPTIONAL
    cols = plain_columns(data)
    if cols is None or not set(GOLD_COLUMNS) <= cols.keys() <= {*GOLD_COLUMNS, *optional}:
        return False
    task_col = cols["task"]
    if not pc.all(pc.is_in(task_col, value_set=pa.array(spec.task_names, task_col.type))).as_py() or any(
            pc.any(pc.equal(pc.utf8_length(cols[c]), 0)).as_py() for c in ("item", "label")):
        return False
    sep = pa.scalar("\x1f", pa.large_string())  # equal (item, unit, task) triples give equal keys
    keys = pc.binary_join_element_wise(cols["item"], cols["unit"], task_col, sep)
    if pc.count_distinct(keys).as_py() != len(keys):
        return False
    return all(_clean_gold_task(task, {n: c.filter(pc.equal(task_col, task.name)) for n, c in cols.items()})
               for task in spec.tasks)


def _clean_gold_task(task: Task, cols: dict[str, pa.Array]) -> bool:
    """One task's gold rows: units as the task needs them, every distinct answer (and edge case) valid."""
    unit_empty = pc.equal(pc.utf8_length(cols["unit"]), 0)
    wanted = unit_empty if task.unit == "item" else pc.invert(unit_empty)
    if not pc.all(wanted, min_count=0).as_py():  # a task without gold rows passes (``all`` of nothing)
        return False
    if any(value_problems(task, label) for label in pc.unique(cols["label"]).to_pylist()):
        return False
    edges = set(pc.unique(cols["edge_case"]).to_pylist()) if "edge_case" in cols else set()
    teaching = set(pc.unique(cols["teaching"]).to_pylist()) if "teaching" in cols else set()
    return edges <= {"", *(e.id for e in task.edge_cases)} and teaching <= {"", "true", "false"}


def _gold_task(spec: Spec, rec: dict[str, str], line: int, problems: Problems) -> Task | None:
    task = spec.task(rec["task"])
    if task is None:
        names = spec.task_names
        problems.add(line, f"unknown task {rec['task']!r}", hint=did_you_mean(rec["task"], names)
                     or "tasks: " + ", ".join(names))
    return task


def _check_gold_record(task: Task, rec: dict[str, str], line: int, problems: Problems) -> None:
    if not rec["item"]:
        problems.add(line, "empty item id")
    if task.unit == "step" and not rec["unit"]:
        problems.add(line, f"task {task.name!r} is judged per step: the unit column needs the step")
    if task.unit == "item" and rec["unit"]:
        problems.add(line, f"task {task.name!r} is judged per item: leave the unit column empty")
    if not rec["label"]:
        problems.add(line, "empty label")
        return
    for problem in value_problems(task, rec["label"]):
        hint = did_you_mean(rec["label"], task.label_ids) if problem.startswith("unknown label") else None
        problems.add(line, f"label {rec['label']!r} for task {task.name!r}: {problem}", hint=hint)


def _check_calibration_record(task: Task, rec: dict[str, str], line: int, problems: Problems) -> None:
    edge = rec.get("edge_case", "")
    ids = [e.id for e in task.edge_cases]
    if edge and edge not in ids:
        problems.add(line, f"unknown edge case {edge!r} for task {task.name!r}",
                     hint=did_you_mean(edge, ids) or ("edge cases: " + ", ".join(ids) if ids else "the task has none"))
    teaching = rec.get("teaching", "")
    if teaching not in ("", "true", "false"):
        problems.add(line, f"teaching is {teaching!r}; write true, false or leave it empty")


def check_roster(data: bytes, display: str) -> list[Diagnostic]:
    """The annotator roster: ``id`` and ``role`` (annotator|expert), unique non-empty ids; more columns allowed."""
    problems = Problems(display)
    text = decode(data, problems)
    if text is None:
        return problems.result()
    header, records = read_table(text, problems, ROSTER_COLUMNS, None)
    if any(c not in header for c in ROSTER_COLUMNS):
        return problems.result()
    seen: dict[str, int] = {}
    for line, rec in records:
        if rec["role"] not in ROLES:
            problems.add(line, f"role {rec['role']!r} is not annotator or expert",
                         hint=did_you_mean(rec["role"], ROLES))
        _unique_id(rec["id"], line, seen, problems, "annotator")
    return problems.result()


def _unique_id(ident: str, line: int, seen: dict[str, int], problems: Problems, what: str) -> None:
    if not ident:
        problems.add(line, f"empty {what} id")
    elif ident in seen:
        problems.add(line, f"duplicate {what} id {ident!r} (first on line {seen[ident]})")
    else:
        seen[ident] = line


def check_items(data: bytes, display: str, items: ItemsSource) -> list[Diagnostic]:
    """The items file (.jsonl or .csv): every record has the id column, ids are unique."""
    return checked_item_ids(data, display, items)[0]


@dataclass(frozen=True, slots=True)
class ItemIds:
    """The ids of a sound items file as its check read them: each record's id (large strings) and, for JSONL, the
    physical line it is on (a CSV file read by pyarrow has record i on line i + 2)."""

    ids: pa.Array
    lines: pa.Array | None = None


def checked_item_ids(data: bytes, display: str, items: ItemsSource) -> tuple[list[Diagnostic], ItemIds | None]:
    """:func:`check_items`, and the ids the check read anyway, so that the gold and calibration lookup does not
    read them again (a JSONL file decoded twice; a CSV file of 333k items of 200 characters: ~0.1 s); None for a
    file with problems, or a CSV file the stdlib had to read."""
    problems = Problems(display)
    text = decode(data, problems)
    if text is None:
        return problems.result(), None
    jsonl = items_format(items.file) != "csv"
    if not jsonl:
        clean = _clean_csv_ids(data, items.id)
        if clean is not None:
            return [], ItemIds(clean)
        header, records = read_table(text, problems, (items.id,), None, keep=(items.id,))
        ids = [(line, rec[items.id]) for line, rec in records] if items.id in header else []
    else:
        ids = list(jsonl_ids(text, items.id, problems))
    values = {ident for _, ident in ids}
    if len(values) != len(ids) or "" in values:  # rare: find the lines (a loop over ~10⁵ items costs ~0.5 s)
        seen: dict[str, int] = {}
        for line, ident in ids:
            _unique_id(ident, line, seen, problems, "item")
    found = problems.result()
    if found or not jsonl:
        return found, None
    return found, ItemIds(pa.array([i for _, i in ids], pa.large_string()), pa.array([n for n, _ in ids], pa.int64()))


def _clean_csv_ids(data: bytes, id_column: str) -> pa.Array | None:
    """The ids (large strings) when an items CSV certainly has no problem to report, decided by pyarrow at C speed
    (~0.3 s for 333k items against 2.4 s for the stdlib pass): read alike by both (``csvscan.plain_columns``),
    with unique, non-empty ids. None sends it to the stdlib pass, which locates the problems or finds none."""
    cols = plain_columns(data, [id_column])
    if cols is None:
        return None
    ids = cols[id_column]
    if pc.count_distinct(ids).as_py() != len(ids) or pc.any(pc.equal(pc.utf8_length(ids), 0)).as_py():
        return None
    return ids.cast(pa.large_string())


def items_format(path: str) -> str | None:
    """``"jsonl"`` or ``"csv"`` by the file's extension; None for anything else."""
    suffix = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return suffix if suffix in ("jsonl", "csv") else None


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")  # the escape that can decode to a lone surrogate


def _is_text(record: object) -> bool:
    """Whether every string in a decoded record can be written as UTF-8 (json decodes a lone escape to a lone
    surrogate, which later fails wherever the text is encoded)."""
    try:
        json.dumps(record, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


#: Characters a line needs before :func:`plain` could refuse one of its integers (Python's 4,300-digit limit).
_PLAIN_DIGITS = 4300


def jsonl_ids(text: str, id_key: str, problems: Problems) -> Iterator[tuple[int, str]]:
    """Each record's id, as text; the problems of the lines without one.

    One decoder for the file (one per line cost ~2.6 µs a line; its scanner called directly,
    :func:`strict_line_decoder`), and :func:`plain`'s walk of the whole record only where it can refuse
    something: nesting past ``MAX_DEPTH`` needs that many brackets, and an integer past Python's conversion limit
    that many digits. An integer id is its value's text (``-0`` is ``0``)."""
    decode = strict_line_decoder()
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = decode(line)
            if len(line) > _PLAIN_DIGITS or line.count("[") + line.count("{") > MAX_DEPTH:
                record = plain(record)
        except (ValueError, RecursionError) as exc:  # nesting deeper than Python's stack: not a record either
            problems.add(number, f"not a JSON object: {exc}")
            continue
        if not isinstance(record, dict):
            problems.add(number, "each line must be a JSON object")
            continue
        if _SURROGATE.search(line) and not _is_text(record):
            problems.add(number, "a JSON string holds an unpaired surrogate escape (\\udXXX), which is not text",
                         hint="a character outside the BMP is written as a pair of escapes or as itself")
            continue
        value = record.get(id_key)
        ident = _id_text(value)
        if ident is None:
            problems.add(number, f"record has no string {id_key!r}" if value is None
                         else f"{id_key!r} must be a string or an integer")
            continue
        yield number, ident


def _id_text(value: object) -> str | None:
    """An id as text: a string as is, an integer as its value's text (``-0`` is ``0``); None otherwise."""
    if isinstance(value, JsonNumber):  # the decoder's numbers, tested first: they are strings too
        return str(int(value)) if value.is_integer else None
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else None  # after plain()


