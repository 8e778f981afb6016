"""The release: consensus dataset rows with provenance, preference pairs, gate overrides and the manifest.

One job: from the decisions, the used judgments and the gate results, write every release file — to sinks the
caller opens (:func:`write_release`, a block of rows at a time; ``release_output`` hashes and writes the bytes
on a background thread, a block's Parquet row group is encoded on another while its JSON lines are built) or
into memory (:func:`build_release`). Pure: no clock, no filesystem; ``api.release`` hashes the inputs, reads
``SOURCE_DATE_EPOCH`` and writes. The rows are built columnar (``release_judgments``, ``release_table``) and
turned into text column by column (``release_jsonl``, ``release_json``): no row is a Python dict.

What is released: one row per (task, item, unit) with a final value. Held back, and counted in the manifest:
units of gold or calibration items (any task of such an item: they are test material), units without a value
(``no_consensus``) and units routed to expert review that no expert has decided yet (``needs_review``).
Provenance on every row: each judgment's annotator, role, value, timestamp, lead time, source line and the
annotator's calibration (score, passed, when) from the roster, plus the spec id, version and digest. The
dataset is sorted (spec task order, item, unit; judgments by time, then annotator). JSONL keeps ``detail``
(posterior, Borda scores …) as an object; Parquet, whose columns need one type, as JSON text. JSON is
``json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))`` per line; a lead time is an
integer when every released lead time is one (as pandas parses the column), else a float.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import closing
from dataclasses import dataclass
from typing import IO, Any, TypeVar, cast

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from labelspec.check.context import Context
from labelspec.check.decide import Decisions
from labelspec.check.gates import GateResult
from labelspec.check.records import Accounting
from labelspec.check.release_jsonl import JudgmentJson, dataset_lines, preference_lines
from labelspec.check.release_output import Output, Writers
from labelspec.check.release_table import (
    BLOCK_ROWS,
    SCHEMA,
    blocks,
    free_text_units,
    released_judgments,
    select_units,
)
from labelspec.errors import Diagnostic, SourceLocation, UsageError
from labelspec.runtime import text_building_pool
from labelspec.spec.model import Spec

RELEASE_VERSION = 1
DATASET_JSONL, DATASET_PARQUET = "dataset.jsonl", "dataset.parquet"
PAIRS_JSONL, MANIFEST = "preference-pairs.jsonl", "release-manifest.json"
#: Every file a release may write (a rerun removes the ones it no longer produces).
OUTPUT_NAMES = (DATASET_JSONL, DATASET_PARQUET, PAIRS_JSONL, MANIFEST)
#: Threads building a block's JSON lines, a slice of rows each (the main thread writes them in order).
LINE_THREADS = 2
_T = TypeVar("_T")
#: Fixed Parquet writer options (no pandas metadata, no statistics), so the bytes are stable. zstd level 1: at
#: 10M judgments 1 CPU-s less than level 3 (4.8 s against 5.8 s) and a 2 % smaller file (benchmarks/HISTORY.md).
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 1, "use_dictionary": False,
                                   "write_statistics": False, "version": "2.6", "data_page_version": "1.0"}
#: The Parquet writer's bytes are gathered in Arrow memory up to this size before they reach Python (``Output``).
PARQUET_BUFFER = 8 << 20
#: Opens a release file for writing by name (``api.release``: a file in its temporary folder).
Opener = Callable[[str], IO[bytes]]


@dataclass(frozen=True)
class GateVerdict:
    """Blocking gates nobody accepted (the release is refused when any) and the recorded overrides."""

    refused: tuple[str, ...]
    overrides: tuple[dict[str, Any], ...]


def _usage(message: str) -> UsageError:
    return UsageError(Diagnostic("LS501", message, SourceLocation("<command line>")))


def check_overrides(gate_ids: Sequence[str], accepted: Sequence[tuple[str, str]]) -> None:
    """``--accept-failing GATE --reason TEXT`` pairs against the spec's gate plan: an unknown gate id, an empty
    reason or a gate accepted twice is a usage error (exit 2). An override is a signed decision, so it must be
    exact; ``api.release`` checks this before reading labels, so a typo costs no statistics run."""
    known = set(gate_ids)
    seen: set[str] = set()
    for gate, reason in accepted:
        if gate not in known:
            raise _usage(f"--accept-failing {gate!r}: no such gate (gates: {', '.join(sorted(known))})")
        if not reason.strip():
            raise _usage(f"--accept-failing {gate!r} needs a non-empty --reason")
        if gate in seen:
            raise _usage(f"--accept-failing {gate!r} given twice")
        seen.add(gate)


def resolve_gates(results: Sequence[GateResult], accepted: Sequence[tuple[str, str]], *, strict: bool = False
                  ) -> GateVerdict:
    """Match ``--accept-failing GATE --reason TEXT`` pairs (checked by :func:`check_overrides`) against the
    blocking gates. Accepting a gate that does not block (it passes, or is a warning without ``strict``) is
    recorded as not applied."""
    by_id = {r.gate.id: r for r in results}
    check_overrides(list(by_id), accepted)
    reasons = dict(accepted)
    blocking = [r for r in results if r.blocking(strict=strict)]
    refused = tuple(r.gate.id for r in blocking if r.gate.id not in reasons)
    overrides = tuple({"gate": g, "reason": reasons[g], "status": by_id[g].status,
                       "applied": by_id[g].blocking(strict=strict), "value": by_id[g].to_dict()["value"],
                       "threshold": by_id[g].gate.threshold} for g in sorted(reasons))
    return GateVerdict(refused, overrides)


def manifest(spec: Spec, *, inputs: Sequence[dict[str, Any]], outputs: Sequence[dict[str, Any]],
             gates: Sequence[GateResult], verdict: GateVerdict, counts: dict[str, Any], routing: Sequence[str],
             released_at: str | None, tool_version: str) -> bytes:
    """The manifest: what went in (sha256), what came out (sha256), the gates and the overrides with reasons."""
    doc = {
        "release_version": RELEASE_VERSION, "tool": "labelspec", "tool_version": tool_version,
        "spec": {"path": spec.path, "id": spec.project.id, "version": spec.project.version, "digest": spec.digest},
        "released_at": released_at, "inputs": list(inputs), "outputs": sorted(outputs, key=lambda o: o["path"]),
        "gates": [g.to_dict() for g in gates], "overrides": list(verdict.overrides), "rows": counts,
        "review_reasons": list(routing),
    }
    return (json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=2, allow_nan=False) + "\n").encode("utf-8")


_DONE = object()


def _prefetched(items: Iterator[_T]) -> Generator[_T, None, None]:
    """``items``, the next one made on a thread of its own while the caller works on the current one (close the
    generator to wait for that thread: ``contextlib.closing``)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="labelspec-release-blocks") as pool:
        ahead = pool.submit(next, items, _DONE)
        while (item := ahead.result()) is not _DONE:
            ahead = pool.submit(next, items, _DONE)
            yield cast(_T, item)


def write_dataset(spec: Spec, decisions: Decisions, units: pd.DataFrame, acc: Accounting, ctx: Context, *,
                  jsonl: Output, parquet: Output, block_rows: int = BLOCK_ROWS,
                  progress: Callable[[str], None] | None = None) -> None:
    """dataset.jsonl and dataset.parquet, block by block (one Parquet row group per block of ``block_rows``).

    Arrow work that releases the GIL, in a pipeline: while a block's Parquet row group is encoded and compressed
    on a thread of its own, its JSON lines are built a slice at a time on :data:`LINE_THREADS` threads (written
    here in order) and the next block is made on another (a 10M-judgment release: 31.8–33.4 s → 28.1–29.4 s;
    two blocks are alive at once, ~+200 MiB). ``progress`` hears of each block as it is written.
    """
    judgments, lookups = released_judgments(units, acc, ctx, spec.tasks, decisions.judgment_units)
    text = JudgmentJson.of(lookups)
    buffered = pa.BufferedOutputStream(pa.PythonFile(parquet, mode="w"), PARQUET_BUFFER)
    made = _prefetched(blocks(spec, decisions, units, judgments, lookups, rows=block_rows))
    try:
        with pq.ParquetWriter(buffered, SCHEMA, **PARQUET_OPTIONS) as writer, closing(made), \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="labelspec-release-parquet") as pool, \
                ThreadPoolExecutor(LINE_THREADS, thread_name_prefix="labelspec-release-lines") as line_pool:
            done = 0
            for block in made:
                encoded = pool.submit(writer.write_table, block.table)
                try:
                    for lines in dataset_lines(block, judgments, text, pool=line_pool):
                        jsonl.write(lines)
                except BaseException:
                    wait([encoded])  # the writer is not left working on a block; the first error is raised
                    raise
                encoded.result()
                done += block.table.num_rows
                if progress and len(units) > block_rows:  # one block: the line before said it all
                    progress(f"released rows: {done:,} of {len(units):,}")
    finally:
        buffered.detach()  # the rest of the buffer goes to ``parquet``, which stays open


def write_release(spec: Spec, decisions: Decisions, acc: Accounting, ctx: Context, open_output: Opener, *,
                  gates: Sequence[GateResult], verdict: GateVerdict, inputs: Sequence[dict[str, Any]],
                  released_at: str | None, tool_version: str, block_rows: int = BLOCK_ROWS,
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write every release file to ``open_output(name)`` (the caller opens, syncs and closes them), the manifest
    last; returns the row counts. The dataset goes out a block at a time, so memory does not grow with it; the
    bytes are hashed and written on a background thread, all of them before this returns (or raises)."""
    units, held = select_units(decisions, ctx)
    if progress:
        progress(f"writing the release: {len(units):,} rows")
    text = free_text_units(spec, acc, ctx)
    held = dict(sorted({k: held.get(k, 0) + text.get(k, 0) for k in {*held, *text}}.items()))
    with text_building_pool(), Writers() as writers:  # the pool is restored once the writer threads are done
        outputs = {name: Output(open_output(name), writers) for name in (DATASET_JSONL, DATASET_PARQUET)}
        write_dataset(spec, decisions, units, acc, ctx, jsonl=outputs[DATASET_JSONL],
                      parquet=outputs[DATASET_PARQUET], block_rows=block_rows, progress=progress)
        n_pairs = 0
        if any(t.kind == "pairwise" for t in spec.tasks):
            outputs[PAIRS_JSONL] = Output(open_output(PAIRS_JSONL), writers)
            for lines, n in preference_lines(spec, units, ctx):
                outputs[PAIRS_JSONL].write(lines)
                n_pairs += n
        entries = [o.entry(name) for name, o in outputs.items()]
    counts = {"released": len(units), "expert_conflicts": int(units["expert_conflict"].sum()),
              "preference_pairs": n_pairs, "held_back": held}
    open_output(MANIFEST).write(manifest(
        spec, inputs=inputs, outputs=entries, gates=gates, verdict=verdict,
        counts=counts, routing=decisions.routing, released_at=released_at, tool_version=tool_version))
    return counts


def build_release(spec: Spec, decisions: Decisions, acc: Accounting, ctx: Context, *, gates: Sequence[GateResult],
                  verdict: GateVerdict, inputs: Sequence[dict[str, Any]], released_at: str | None,
                  tool_version: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every release file's bytes (manifest last: it hashes the others) and the row counts, in memory."""
    buffers: dict[str, io.BytesIO] = {}

    def open_buffer(name: str) -> io.BytesIO:
        return buffers.setdefault(name, io.BytesIO())

    counts = write_release(spec, decisions, acc, ctx, open_buffer, gates=gates, verdict=verdict, inputs=inputs,
                           released_at=released_at, tool_version=tool_version)
    return {name: buf.getvalue() for name, buf in buffers.items()}, counts
