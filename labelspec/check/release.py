"""The release: consensus dataset rows with provenance, preference pairs, gate overrides and the manifest.

One job: from the decisions, the used judgments and the gate results, write every release file — to sinks the
caller opens (:func:`write_release`, a block of rows at a time, hashing as it goes) or into memory
(:func:`build_release`). Pure: no clock, no filesystem; ``api.release`` hashes the inputs, reads
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

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import pandas as pd
import pyarrow.parquet as pq

from labelspec.check.context import Context
from labelspec.check.decide import Decisions
from labelspec.check.gates import GateResult
from labelspec.check.records import Accounting
from labelspec.check.release_jsonl import JudgmentJson, dataset_lines, preference_lines
from labelspec.check.release_table import BLOCK_ROWS, SCHEMA, blocks, released_judgments, select_units
from labelspec.errors import Diagnostic, SourceLocation, UsageError
from labelspec.spec.model import Spec

RELEASE_VERSION = 1
DATASET_JSONL, DATASET_PARQUET = "dataset.jsonl", "dataset.parquet"
PAIRS_JSONL, MANIFEST = "preference-pairs.jsonl", "release-manifest.json"
#: Every file a release may write (a rerun removes the ones it no longer produces).
OUTPUT_NAMES = (DATASET_JSONL, DATASET_PARQUET, PAIRS_JSONL, MANIFEST)
#: Fixed Parquet writer options (no pandas metadata, no statistics), so the bytes are stable.
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 3, "use_dictionary": False,
                                   "write_statistics": False, "version": "2.6", "data_page_version": "1.0"}
#: Opens a release file for writing by name (``api.release``: a file in its temporary folder).
Opener = Callable[[str], IO[bytes]]


@dataclass(frozen=True)
class GateVerdict:
    """Blocking gates nobody accepted (the release is refused when any) and the recorded overrides."""

    refused: tuple[str, ...]
    overrides: tuple[dict[str, Any], ...]


def _usage(message: str) -> UsageError:
    return UsageError(Diagnostic("LS501", message, SourceLocation("<command line>")))


def resolve_gates(results: Sequence[GateResult], accepted: Sequence[tuple[str, str]], *, strict: bool = False
                  ) -> GateVerdict:
    """Match ``--accept-failing GATE --reason TEXT`` pairs against the blocking gates.

    An unknown gate id, an empty reason or a gate accepted twice is a usage error (exit 2): an override is a
    signed decision, so it must be exact. Accepting a gate that passes is recorded as not applied.
    """
    by_id = {r.gate.id: r for r in results}
    seen: set[str] = set()
    for gate, reason in accepted:
        if gate not in by_id:
            raise _usage(f"--accept-failing {gate!r}: no such gate (gates: {', '.join(sorted(by_id))})")
        if not reason.strip():
            raise _usage(f"--accept-failing {gate!r} needs a non-empty --reason")
        if gate in seen:
            raise _usage(f"--accept-failing {gate!r} given twice")
        seen.add(gate)
    reasons = dict(accepted)
    blocking = [r for r in results if r.blocking(strict=strict)]
    refused = tuple(r.gate.id for r in blocking if r.gate.id not in reasons)
    overrides = tuple({"gate": g, "reason": reasons[g], "status": by_id[g].status,
                       "applied": by_id[g].blocking(strict=strict), "value": by_id[g].to_dict()["value"],
                       "threshold": by_id[g].gate.threshold} for g in sorted(reasons))
    return GateVerdict(refused, overrides)


class Output:
    """A release file being written: bytes go on to ``sink``; their sha256 and count are kept for the manifest."""

    closed = False

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink, self.size, self._sha = sink, 0, hashlib.sha256()

    def write(self, data: bytes | memoryview) -> int:
        self._sha.update(data)
        self.size += len(data)
        self.sink.write(data)
        return len(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.sink.flush()

    def entry(self, name: str) -> dict[str, Any]:
        return {"path": name, "sha256": self._sha.hexdigest(), "bytes": self.size}


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


def write_dataset(spec: Spec, decisions: Decisions, units: pd.DataFrame, acc: Accounting, ctx: Context, *,
                  jsonl: Output, parquet: Output, block_rows: int = BLOCK_ROWS) -> None:
    """dataset.jsonl and dataset.parquet, block by block (one Parquet row group per block of ``block_rows``)."""
    judgments, lookups = released_judgments(units, acc, ctx)
    text = JudgmentJson.of(lookups)
    with pq.ParquetWriter(parquet, SCHEMA, **PARQUET_OPTIONS) as writer:
        for block in blocks(spec, decisions, units, judgments, lookups, rows=block_rows):
            writer.write_table(block.table)
            for lines in dataset_lines(block, judgments, text):
                jsonl.write(lines)


def write_release(spec: Spec, decisions: Decisions, acc: Accounting, ctx: Context, open_output: Opener, *,
                  gates: Sequence[GateResult], verdict: GateVerdict, inputs: Sequence[dict[str, Any]],
                  released_at: str | None, tool_version: str, block_rows: int = BLOCK_ROWS) -> dict[str, Any]:
    """Write every release file to ``open_output(name)`` (the caller opens, syncs and closes them), the manifest
    last; returns the row counts. The dataset goes out a block at a time, so memory does not grow with it."""
    units, held = select_units(decisions, ctx)
    outputs = {name: Output(open_output(name)) for name in (DATASET_JSONL, DATASET_PARQUET)}
    write_dataset(spec, decisions, units, acc, ctx, jsonl=outputs[DATASET_JSONL], parquet=outputs[DATASET_PARQUET],
                  block_rows=block_rows)
    n_pairs = 0
    if any(t.kind == "pairwise" for t in spec.tasks):
        outputs[PAIRS_JSONL] = Output(open_output(PAIRS_JSONL))
        for lines, n in preference_lines(spec, units, ctx):
            outputs[PAIRS_JSONL].write(lines)
            n_pairs += n
    counts = {"released": len(units), "preference_pairs": n_pairs, "held_back": held}
    open_output(MANIFEST).write(manifest(
        spec, inputs=inputs, outputs=[o.entry(name) for name, o in outputs.items()], gates=gates, verdict=verdict,
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
