"""The release: consensus dataset rows with provenance, preference pairs, gate overrides and the manifest.

One job: from the decisions, the used judgments and the gate results, build the bytes of every release file.
Pure: no clock, no filesystem; ``api.release`` hashes the inputs, reads ``SOURCE_DATE_EPOCH`` and writes.

What is released: one row per (task, item, unit) with a final value. Held back, and counted in the manifest:
units of gold or calibration items (any task of such an item: they are test material), units without a value
(``no_consensus``) and units routed to expert review that no expert has decided yet (``needs_review``).
Provenance on every row: each judgment's annotator, role, value, timestamp, lead time, source line and the
annotator's calibration (score, passed, when) from the roster, plus the spec id, version and digest. The
dataset is sorted (spec task order, item, unit; judgments by time, then annotator). JSONL keeps ``detail``
(posterior, Borda scores …) as an object; Parquet, whose columns need one type, as JSON text.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from labelspec.check.context import Context
from labelspec.check.decide import Decisions, reason_lists
from labelspec.check.gates import GateResult
from labelspec.check.records import Accounting
from labelspec.errors import Diagnostic, SourceLocation, UsageError
from labelspec.spec.model import Spec

RELEASE_VERSION = 1
DATASET_JSONL, DATASET_PARQUET = "dataset.jsonl", "dataset.parquet"
PAIRS_JSONL, MANIFEST = "preference-pairs.jsonl", "release-manifest.json"
#: Every file a release may write (a rerun removes the ones it no longer produces).
OUTPUT_NAMES = (DATASET_JSONL, DATASET_PARQUET, PAIRS_JSONL, MANIFEST)
_KEYS = ["task", "item", "unit"]
_JUDGMENT = pa.struct([("annotator", pa.string()), ("role", pa.string()), ("value", pa.string()),
                       ("timestamp", pa.string()), ("lead_time", pa.float64()), ("source", pa.string()),
                       ("calibration_score", pa.float64()), ("calibration_passed", pa.bool_()),
                       ("calibrated_at", pa.string())])
SCHEMA = pa.schema([
    ("task", pa.string()), ("item", pa.string()), ("unit", pa.string()), ("label", pa.string()),
    ("decided_by", pa.string()), ("method", pa.string()), ("support", pa.float64()), ("n_judgments", pa.int64()),
    ("proposed", pa.string()), ("expert", pa.string()), ("reasons", pa.list_(pa.string())),
    ("detail", pa.string()), ("judgments", pa.list_(_JUDGMENT)), ("spec_id", pa.string()),
    ("spec_version", pa.string()), ("spec_digest", pa.string()),
])


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


def select_units(decisions: Decisions, ctx: Context) -> tuple[pd.DataFrame, dict[str, int]]:
    """Units to release, and how many were held back per reason (first matching reason wins)."""
    u = decisions.units
    held = np.select(
        [u["item"].isin(ctx.gold["item"]).to_numpy(), u["item"].isin(ctx.calibration["item"]).to_numpy(),
         u["value"].isna().to_numpy(), u["review"].to_numpy(dtype=bool)],
        ["gold_item", "calibration_item", "no_consensus", "needs_review"], "")
    counts = pd.Series(held[held != ""]).value_counts()
    return u[held == ""].reset_index(drop=True), {str(k): int(v) for k, v in sorted(counts.items())}


def provenance(units: pd.DataFrame, acc: Accounting, ctx: Context) -> list[list[dict[str, Any]]]:
    """For each unit (in order), its judgments — annotators' and experts' — with their provenance."""
    cols = [*_KEYS, "annotator", "value", "timestamp", "lead_time", "file", "line", "when"]
    j = pd.concat([acc.used[cols].assign(role="annotator"), acc.expert[cols].assign(role="expert")],
                  ignore_index=True)
    j = j.merge(units[_KEYS].assign(_pos=np.arange(len(units))), on=_KEYS, how="inner")
    j = j.sort_values(["_pos", "when", "annotator"], kind="stable", na_position="first")
    roster = ctx.roster or {}
    score = {a: r.calibration_score for a, r in roster.items()}
    passed = {a: r.passed for a, r in roster.items()}
    at = {a: r.calibrated_at.isoformat() for a, r in roster.items() if r.calibrated_at is not None}
    lead = pd.to_numeric(j["lead_time"].replace("", None), errors="coerce")
    rec = pd.DataFrame({
        "annotator": j["annotator"].astype(str), "role": j["role"], "value": j["value"].astype(str),
        "timestamp": j["timestamp"].where(j["timestamp"] != "", None),
        "lead_time": lead.astype(object).where(lead.notna(), None), "source": j["file"].astype(str) + ":" +
        j["line"].astype(str), "calibration_score": j["annotator"].map(score).astype(object),
        "calibration_passed": j["annotator"].map(passed).astype(object),
        "calibrated_at": j["annotator"].map(at).astype(object)}).astype(object)
    rec = rec.where(rec.notna(), None).to_dict("records")
    bounds = np.searchsorted(j["_pos"].to_numpy(), np.arange(len(units) + 1))
    return [rec[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)]


def dataset_rows(spec: Spec, decisions: Decisions, acc: Accounting, ctx: Context
                 ) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The released rows (dicts, JSONL shape) and the held-back counts."""
    units, held = select_units(decisions, ctx)
    support = units["support"].astype(float)
    frame = pd.DataFrame({
        "task": units["task"], "item": units["item"], "unit": units["unit"], "label": units["value"],
        "decided_by": units["decided_by"], "method": units["method"],
        "support": support.astype(object).where(support.notna(), None), "n_judgments": units["n_judgments"],
        "proposed": units["proposed"], "expert": units["expert"], "reasons": reason_lists(units),
        "detail": decisions.detail(units), "judgments": provenance(units, acc, ctx),
        "spec_id": spec.project.id, "spec_version": spec.project.version, "spec_digest": spec.digest})
    return frame.astype(object).to_dict("records"), held


def _pair_fields(spec: Spec) -> tuple[str, str] | None:
    """The item's two response fields: text fields ending in ``_a`` and ``_b`` (as the compiled config pairs them)."""
    ends = {f.name.rsplit("_", 1)[-1]: f.name for f in (spec.items.fields if spec.items else ()) if f.type == "text"}
    return (ends["a"], ends["b"]) if "a" in ends and "b" in ends else None


def preference_rows(spec: Spec, rows: list[dict[str, Any]], ctx: Context) -> list[dict[str, Any]]:
    """Chosen/rejected pairs of released pairwise units decided for A or B (a "tie" consensus is no pair)."""
    kinds = {t.name: t.kind for t in spec.tasks}
    fields = _pair_fields(spec)
    texts = ctx.items.fields if ctx.items is not None else {}
    out = []
    for r in rows:  # released rows, output building
        if kinds.get(r["task"]) != "pairwise" or r["label"] not in ("A", "B"):
            continue
        chosen, rejected = r["label"], "B" if r["label"] == "A" else "A"
        pair = {"task": r["task"], "item": r["item"], "unit": r["unit"], "chosen": chosen, "rejected": rejected,
                "support": r["support"], "decided_by": r["decided_by"], "spec_digest": r["spec_digest"]}
        if fields is not None:
            side = {"A": fields[0], "B": fields[1]}
            pair["chosen_text"] = texts.get(side[chosen], {}).get(r["item"])
            pair["rejected_text"] = texts.get(side[rejected], {}).get(r["item"])
        out.append(pair)
    return out


def _json_line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"


def to_jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(_json_line(r) for r in rows).encode("utf-8")


def to_parquet(rows: list[dict[str, Any]]) -> bytes:
    """Parquet with a fixed schema and fixed writer options (no pandas metadata), so the bytes are stable."""
    flat = [{**r, "detail": None if r["detail"] is None else json.dumps(
        r["detail"], ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)} for r in rows]
    table = pa.Table.from_pylist(flat, schema=SCHEMA)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", compression_level=3, use_dictionary=False,
                   write_statistics=False, version="2.6", data_page_version="1.0")
    return buf.getvalue()


def manifest(spec: Spec, *, inputs: Sequence[dict[str, Any]], outputs: dict[str, bytes], gates: Sequence[GateResult],
             verdict: GateVerdict, counts: dict[str, Any], routing: Sequence[str], released_at: str | None,
             tool_version: str) -> bytes:
    """The manifest: what went in (sha256), what came out (sha256), the gates and the overrides with reasons."""
    doc = {
        "release_version": RELEASE_VERSION, "tool": "labelspec", "tool_version": tool_version,
        "spec": {"path": spec.path, "id": spec.project.id, "version": spec.project.version, "digest": spec.digest},
        "released_at": released_at, "inputs": list(inputs),
        "outputs": [{"path": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                    for name, data in sorted(outputs.items())],
        "gates": [g.to_dict() for g in gates], "overrides": list(verdict.overrides), "rows": counts,
        "review_reasons": list(routing),
    }
    return (json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=2, allow_nan=False) + "\n").encode("utf-8")


def build_release(spec: Spec, decisions: Decisions, acc: Accounting, ctx: Context, *, gates: Sequence[GateResult],
                  verdict: GateVerdict, inputs: Sequence[dict[str, Any]], released_at: str | None,
                  tool_version: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every release file's bytes (manifest last: it hashes the others) and the row counts."""
    rows, held = dataset_rows(spec, decisions, acc, ctx)
    files = {DATASET_JSONL: to_jsonl(rows), DATASET_PARQUET: to_parquet(rows)}
    pairs = preference_rows(spec, rows, ctx)
    if any(t.kind == "pairwise" for t in spec.tasks):
        files[PAIRS_JSONL] = to_jsonl(pairs)
    counts = {"released": len(rows), "preference_pairs": len(pairs), "held_back": held}
    files[MANIFEST] = manifest(spec, inputs=inputs, outputs=files, gates=gates, verdict=verdict, counts=counts,
                               routing=decisions.routing, released_at=released_at, tool_version=tool_version)
    return files, counts
