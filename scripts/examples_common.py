"""Shared machinery of the example-data generator: annotator simulation, timelines and deterministic writers.

One job: turn a project's simulated truth (a per-unit "soft truth" over labels) into judgments by a roster of
simulated annotators, stamp them with realistic times, and write every data file byte-for-byte reproducibly.
It knows no project's texts or labels (those live in ``examples_<project>.py``) and never reads the spec YAML.

The annotator model: each unit has a soft truth s (a distribution over the K labels: one-hot for clear units,
split for genuinely ambiguous ones) and each annotator a row-stochastic confusion matrix C (true → chosen).
A judgment's label is drawn from s·C, vectorised over all judgments with one uniform draw each.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Seconds since the epoch of 2026-03-02T00:00:00Z, a Monday; every project's calendar is relative to it.
EPOCH_2026_03_02 = 1772409600
DAY = 86_400


@dataclass(frozen=True)
class Annotator:
    """One simulated person. ``share`` is a relative workload weight; ``batches`` the batches they work on."""

    id: str
    name: str
    role: str = "annotator"
    accuracy: float = 0.9
    profile: str = "normal"  # normal | biased | speeder | uncalibrated | late
    speed: float = 1.0  # multiplies the task's typical lead time
    share: float = 1.0
    batches: tuple[int, ...] = (1, 2, 3)


@dataclass
class Judgments:
    """Judgments as columns; ``value`` holds native values (str, int, list, dict), encoded only when written."""

    item: list[str] = field(default_factory=list)
    unit: list[str] = field(default_factory=list)
    task: list[str] = field(default_factory=list)
    annotator: list[str] = field(default_factory=list)
    value: list[Any] = field(default_factory=list)
    time: list[int] = field(default_factory=list)
    lead: list[float] = field(default_factory=list)
    batch: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.item)


@dataclass
class Project:
    """Everything the writers need for one example project."""

    name: str
    id_field: str
    items: list[dict[str, Any]]
    kinds: dict[str, str]
    annotators: tuple[Annotator, ...]
    production: Judgments
    calibration_round: Judgments
    gold: list[dict[str, str]]
    calibration: list[dict[str, str]]
    item_column: str = "item_id"
    #: An expert's decisions on units of the review queue (``review/expert-round-1.csv``), when the project has one.
    expert_round: Judgments | None = None


# --- randomness ------------------------------------------------------------------------------------------


def project_rng(seed: int, project_index: int) -> np.random.Generator:
    """An independent stream per project, so editing one project never changes another's bytes."""
    return np.random.default_rng(np.random.SeedSequence([seed, project_index]))


def pick(rng: np.random.Generator, options: list[Any] | tuple[Any, ...], n: int) -> list[Any]:
    """n independent uniform picks from a list (kept as Python objects)."""
    idx = rng.integers(0, len(options), size=n)
    return [options[i] for i in idx]


def sample_rows(rng: np.random.Generator, probs: FloatArray) -> IntArray:
    """One categorical draw per row of ``probs`` (rows need not be normalised)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), probs.shape[1] - 1).astype(np.int64)


def assign(rng: np.random.Generator, weights: FloatArray, k: IntArray) -> tuple[IntArray, IntArray]:
    """Distinct annotators per unit: row u of ``weights`` (U, A) weighs who may work on it, k[u] how many.

    Gumbel top-k sampling without replacement; zero weights are never chosen.
    """
    gumbel = -np.log(-np.log(rng.random(weights.shape)))
    logw = np.full(weights.shape, -np.inf)
    np.log(weights, out=logw, where=weights > 0)
    order = np.argsort(-(logw + gumbel), axis=1, kind="stable")
    take = np.arange(weights.shape[1])[None, :] < k[:, None]
    rows = np.broadcast_to(np.arange(weights.shape[0])[:, None], weights.shape)
    return rows[take].astype(np.int64), order[take].astype(np.int64)


# --- confusion models -----------------------------------------------------------------------------------


def confusion(accuracy: float, affinity: FloatArray, *, bias: int | None = None, bias_rate: float = 0.0) -> FloatArray:
    """(K, K) true → chosen: ``accuracy`` on the diagonal, errors spread by ``affinity`` (zero diagonal).

    A biased annotator replaces a share ``bias_rate`` of answers with label ``bias`` whatever the truth.
    """
    k = affinity.shape[0]
    aff = affinity * (1.0 - np.eye(k))
    aff = aff / aff.sum(axis=1, keepdims=True)
    mat = accuracy * np.eye(k) + (1.0 - accuracy) * aff
    if bias is not None:
        mat = (1.0 - bias_rate) * mat + bias_rate * np.eye(k)[bias][None, :]
    return mat


def ordinal_confusion(k: int, sd: float, shift: float = 0.0) -> FloatArray:
    """(K, K) for a rating scale: the chosen point is the true one plus rounded Gaussian noise."""
    pts = np.arange(k, dtype=np.float64)
    z = (pts[None, :] - pts[:, None] - shift) / sd
    mat = np.exp(-0.5 * z**2)
    return mat / mat.sum(axis=1, keepdims=True)


def draw_labels(rng: np.random.Generator, soft_truth: FloatArray, matrices: FloatArray,
                unit_idx: IntArray, annot_idx: IntArray) -> IntArray:
    """Label index per judgment: a draw from soft_truth[unit] · C[annotator]."""
    probs = np.einsum("nk,nkj->nj", soft_truth[unit_idx], matrices[annot_idx])
    return sample_rows(rng, probs)


# --- time -----------------------------------------------------------------------------------------------


def lead_times(rng: np.random.Generator, typical: FloatArray, speeder: npt.NDArray[np.bool_]) -> FloatArray:
    """Seconds per judgment: log-normal around ``typical``; speeders take 0.8–2.2 s whatever the work."""
    normal = typical * np.exp(rng.normal(0.0, 0.35, size=typical.shape))
    fast = rng.uniform(0.8, 2.2, size=typical.shape)
    return np.round(np.where(speeder, fast, np.maximum(normal, 2.5)), 1)


def timeline(rng: np.random.Generator, group: IntArray, order_key: FloatArray, lead: FloatArray,
             start: IntArray) -> IntArray:
    """Wall-clock seconds per judgment: each group (annotator × batch) works through its judgments in
    ``order_key`` order from ``start[group]``, with short gaps, a break every 90 minutes and 6.5-hour days."""
    order = np.lexsort((order_key, group))
    gaps = rng.uniform(2.0, 14.0, size=lead.shape)
    spent = (lead + gaps)[order]
    csum = np.cumsum(spent)
    g = group[order]
    first = np.r_[True, g[1:] != g[:-1]]
    offset = np.maximum.accumulate(np.where(first, csum - spent, 0.0))
    work = csum - offset
    day_len = 6.5 * 3600
    days = np.floor(work / day_len)
    within = work - days * day_len
    wall = start[g] + days * DAY + within + np.floor(within / 5400) * 900
    out = np.empty_like(wall)
    out[order] = wall
    return np.floor(out).astype(np.int64)


def iso(seconds: IntArray | list[int]) -> list[str]:
    """UTC ISO 8601 with a Z suffix, second precision."""
    arr = np.asarray(seconds, dtype="datetime64[s]")
    return [str(s) for s in np.datetime_as_string(arr, unit="s", timezone="UTC")]


# --- value encoding -------------------------------------------------------------------------------------


def canonical(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def value_text(value: Any) -> str:
    """The CSV/Parquet text of a value: label ids as is, ratings as integers, lists and objects as JSON."""
    if isinstance(value, (list, dict)):
        return canonical(value)
    return str(value)


# --- writers --------------------------------------------------------------------------------------------


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def jsonl_text(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def sorted_order(j: Judgments, kinds: dict[str, str]) -> list[int]:
    """Rows in file order: by time, then annotator, item, unit (numerically) and task."""
    unit_num = np.array([int(u) if u else -1 for u in j.unit], dtype=np.int64)
    task_rank = np.array([list(kinds).index(t) for t in j.task], dtype=np.int64)
    keys = (task_rank, unit_num, np.array(j.item), np.array(j.annotator), np.array(j.time, dtype=np.int64))
    return [int(i) for i in np.lexsort(keys)]


def label_rows(j: Judgments, kinds: dict[str, str], rows: list[int]) -> list[list[str]]:
    times = iso([j.time[i] for i in rows])
    return [[j.item[i], j.unit[i], j.task[i], j.annotator[i], value_text(j.value[i]), t,
             f"{j.lead[i]:.1f}"] for i, t in zip(rows, times, strict=True)]


def label_header(item_column: str) -> list[str]:
    return [item_column, "step", "task", "annotator_id", "label", "created_at", "lead_time_s"]


def write_label_csv(path: Path, j: Judgments, kinds: dict[str, str], item_column: str) -> None:
    write_text(path, csv_text(label_header(item_column), label_rows(j, kinds, sorted_order(j, kinds))))


def write_label_jsonl(path: Path, j: Judgments, kinds: dict[str, str], item_column: str) -> None:
    """JSON Lines with native values: arrays stay JSON arrays, ratings are numbers, no unit is null. Attribution
    objects are written as their canonical JSON text, the one form labelspec's readers take for that kind."""
    rows = sorted_order(j, kinds)
    times = iso([j.time[i] for i in rows])
    records = [{item_column: j.item[i], "step": int(j.unit[i]) if j.unit[i] else None, "task": j.task[i],
                "annotator_id": j.annotator[i], "label": canonical(j.value[i]) if isinstance(j.value[i], dict)
                else j.value[i], "created_at": t, "lead_time_s": j.lead[i]} for i, t in zip(rows, times, strict=True)]
    write_text(path, jsonl_text(records))


def write_label_parquet(path: Path, j: Judgments, kinds: dict[str, str], item_column: str) -> None:
    """Parquet as a warehouse export writes it: string labels, a UTC timestamp type, float seconds."""
    rows = sorted_order(j, kinds)
    table = pa.table({
        item_column: pa.array([j.item[i] for i in rows], pa.string()),
        "step": pa.array([j.unit[i] or None for i in rows], pa.string()),
        "task": pa.array([j.task[i] for i in rows], pa.string()),
        "annotator_id": pa.array([j.annotator[i] for i in rows], pa.string()),
        "label": pa.array([value_text(j.value[i]) for i in rows], pa.string()),
        "created_at": pa.array([j.time[i] for i in rows], pa.timestamp("s", tz="UTC")),
        "lead_time_s": pa.array([j.lead[i] for i in rows], pa.float64()),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd", compression_level=9)


def reference_rows(rows: list[dict[str, str]], columns: list[str]) -> str:
    """gold.csv / calibration.csv text, sorted by item, task and unit for stable diffs."""
    key = [(r["item"], r["task"], int(r["unit"]) if r["unit"] else -1) for r in rows]
    order = sorted(range(len(rows)), key=lambda i: key[i])
    return csv_text(columns, [[rows[i][c] for c in columns] for i in order])


# --- assembling judgments -------------------------------------------------------------------------------


def workload(annotators: tuple[Annotator, ...], batch_of_item: IntArray) -> FloatArray:
    """(U, A) weights: an annotator's share on the items of the batches they work in, zero elsewhere."""
    share = np.array([a.share if a.role == "annotator" else 0.0 for a in annotators])
    member = np.array([[b in a.batches for a in annotators] for b in (0, 1, 2, 3)], dtype=np.float64)
    return member[batch_of_item] * share[None, :]


def schedule(rng: np.random.Generator, annotators: tuple[Annotator, ...], annot_idx: IntArray, batch: IntArray,
             order_key: FloatArray, typical: FloatArray, start: FloatArray) -> tuple[IntArray, FloatArray]:
    """(time, lead) per judgment. ``start[b]`` is the first working second of batch b (0 = calibration round);
    annotators start their session up to 80 minutes apart; a "late" annotator calibrates 1.2 days after the
    calibration round, after some of their production work."""
    speed = np.array([a.speed for a in annotators])[annot_idx]
    speeder = np.array([a.profile == "speeder" for a in annotators])[annot_idx]
    lead = lead_times(rng, typical * speed, speeder)
    n_a = len(annotators)
    late = np.array([a.profile == "late" for a in annotators])
    offsets = rng.uniform(0, 80 * 60, size=(n_a, 4))
    starts = start[None, :] + offsets
    starts[late, 0] += 1.2 * DAY
    group = annot_idx * 4 + batch
    time = timeline(rng, group, order_key, lead, starts.reshape(-1).astype(np.int64))
    return time, lead


class Pending:
    """Judgments of every task of a round, collected before they are scheduled together (an annotator judges
    all tasks of an item in one sitting, so the tasks must share one timeline)."""

    def __init__(self) -> None:
        self.item: list[str] = []
        self.unit: list[str] = []
        self.task: list[str] = []
        self.value: list[Any] = []
        self.arrays: list[tuple[IntArray, IntArray, FloatArray, FloatArray]] = []

    def add(self, item: list[str], unit: list[str], task: str, values: list[Any], annot_idx: IntArray,
            batch: IntArray, order_key: FloatArray, typical: FloatArray) -> None:
        self.item += item
        self.unit += unit
        self.task += [task] * len(item)
        self.value += values
        self.arrays.append((annot_idx, batch, order_key, np.broadcast_to(typical, annot_idx.shape).astype(float)))

    def finish(self, rng: np.random.Generator, annotators: tuple[Annotator, ...], start: FloatArray) -> Judgments:
        annot, batch, key, typical = (np.concatenate(parts) for parts in zip(*self.arrays, strict=True))
        time, lead = schedule(rng, annotators, annot, batch, key, typical, start)
        return Judgments(item=self.item, unit=self.unit, task=self.task,
                         annotator=[annotators[i].id for i in annot], value=self.value,
                         time=[int(t) for t in time], lead=[float(x) for x in lead], batch=[int(b) for b in batch])
