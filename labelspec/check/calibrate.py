"""Calibration scoring: each annotator's calibration-round judgments against the spec's calibration set.

One job: from accounted judgments and the calibration reference, compute per annotator a score (accuracy
with a Wilson interval), the reference × given confusion, the edge cases answered wrongly and the pass
decision; and rewrite the text of an annotator roster with the results. Pure: it opens no file
(``api.calibrate`` reads and writes), never prints, and decides no exit code beyond
:meth:`CalibrationResult.exit_code`.

Scoring
-------
A *calibration row* is one (item, unit, task) of the calibration set. A judgment answering one is scored;
every other judgment is ignored and counted (``not_in_calibration_set``; free-text tasks:
``text_not_scored``).

- single_choice, pairwise, rating, multi_choice (as a set), ranking: 1 when the answer equals the reference
  exactly, else 0; attribution: 1 when it names the reference's agent (the step is not scored: the release
  gate measures agreement on the agent too). The score is accuracy k / n with a Wilson score interval (95 %).
- spans: exact-match span F1 per row, 2·|A ∩ R| / (|A| + |R|) over (start, end, label) triples, 1 when both
  are empty; the score is the mean over rows. A Wilson interval needs 0/1 outcomes, so an annotator with any
  span row gets no interval (``ci_reason`` says why).

Confusion (every kind but ranking): elements are matched exactly first; the rest are paired by extent (spans:
same start and end; choice kinds and attribution: the one answer; multi_choice: never), and an element without
a partner is paired with ``(none)``. Counted per (task, reference label, given label).

Edge cases: a row tagged ``edge_case`` counts against that edge case when its score is below 1 and the edge
case's label is among the labels that did not match on that row (any error counts for ranking rows and for
edge cases the spec does not define).

Passing: at least ``min_items`` = min(MIN_ITEMS, rows of the calibration set) rows answered, and a score ≥
``quality.calibration.min_accuracy`` (without a threshold, answering enough rows passes). Failing calibration
is information, not a tool failure: :meth:`CalibrationResult.exit_code` is 0 unless ``require_all`` is set.

Roster: :func:`update_roster` sets calibration_score (4 decimals), calibration_n, calibration_passed and
calibrated_at (the latest timestamp among the annotator's scored judgments, UTC, so re-runs are
byte-identical) of every scored annotator. Other rows and columns keep their order; new ids are appended
sorted, as annotators.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labelspec.check import stats
from labelspec.check.context import iso_utc
from labelspec.check.csv_text import csv_text
from labelspec.check.estimate import Estimate
from labelspec.check.records import Accounting
from labelspec.check.render import fmt, safe
from labelspec.errors import Diagnostic, InputError, SourceLocation, UsageError
from labelspec.spec.model import Spec

#: An annotator must answer this many calibration rows (or the whole set, when it is smaller) to pass.
MIN_ITEMS = 10
#: The partner of an element the other side does not have, in confusion counts.
NONE = "(none)"
ROSTER_COLUMNS = ("id", "role", "name", "calibration_score", "calibration_n", "calibration_passed",
                  "calibrated_at")
GRADED_KINDS = frozenset({"spans"})
CONFUSION_KINDS = frozenset({"single_choice", "pairwise", "rating", "multi_choice", "spans", "attribution"})
GRADED_CI = "no Wilson interval: span rows are scored by F1, not 0/1"
KEYS = ["item", "unit", "task"]


@dataclass(frozen=True)
class AnnotatorScore:
    """One annotator's calibration outcome (score None: no calibration row answered)."""

    annotator: str
    n: int
    score: Estimate
    passed: bool
    fail_reason: str
    missing: int
    wrong_edge_cases: tuple[tuple[str, int], ...]
    confusion: tuple[tuple[str, str, str, int], ...]  # task, reference label, given label, count
    calibrated_at: str

    def to_dict(self) -> dict[str, Any]:
        est = self.score
        return {"annotator": self.annotator, "n": self.n, "score": est.value, "ci_low": est.ci_low,
                "ci_high": est.ci_high, "ci_reason": est.ci_reason or est.reason, "passed": self.passed,
                "fail_reason": self.fail_reason or None, "missing": self.missing,
                "wrong_edge_cases": dict(self.wrong_edge_cases), "calibrated_at": self.calibrated_at or None,
                "confusion": [{"task": t, "reference": g, "given": a, "count": c}
                              for t, g, a, c in self.confusion]}


@dataclass(frozen=True)
class CalibrationResult:
    """Everything ``labelspec calibrate`` reports; the roster fields are filled in by the API."""

    spec: Spec
    reference_rows: int
    min_accuracy: float | None
    min_items: int
    annotators: tuple[AnnotatorScore, ...]
    ignored: tuple[tuple[str, int], ...]
    accounting: Accounting
    files: tuple[str, ...] = ()
    roster: str = ""
    roster_status: str = ""  # written | created (a new file: the scored annotators only) | unchanged | dry-run
    #: the roster written is the spec's own ``annotators.file``: part of the spec digest, so files compiled from
    #: the spec now name an old digest (``compile --check`` reports them stale until the next ``compile``)
    spec_digest_changed: bool = False

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(a.annotator for a in self.annotators if not a.passed)

    def exit_code(self, *, require_all: bool = False) -> int:
        """0: everything was scored (failing is information); 1 with ``require_all`` and a failure."""
        return 1 if require_all and self.failed else 0

    def to_dict(self) -> dict[str, Any]:
        acc, cal = self.accounting, self.spec.quality.calibration
        return {
            "spec": {"path": self.spec.path, "project": self.spec.project.id,
                     "version": self.spec.project.version},
            "calibration": {"file": cal.file if cal else None, "rows": self.reference_rows,
                            "min_accuracy": self.min_accuracy, "min_items": self.min_items},
            "annotators": [a.to_dict() for a in self.annotators],
            "summary": {"scored": len(self.annotators), "passed": len(self.annotators) - len(self.failed),
                        "failed": len(self.failed), "failed_ids": list(self.failed)},
            "judgments": {"rows_read": acc.rows_read, "scored": sum(a.n for a in self.annotators),
                          "ignored": dict(self.ignored), "excluded_by_reason": acc.excluded_by_reason,
                          "exclusions": [{"file": str(e["file"]), "line": int(e["line"]),
                                          "reason": str(e["reason"]), "detail": str(e["detail"])}
                                         for e in acc.exclusions.to_dict("records")]},
            "roster": {"path": self.roster or None, "status": self.roster_status or None,
                       "spec_digest_changed": self.spec_digest_changed},
            "files": list(self.files),
        }


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _parse(kind: str, text: str) -> list[tuple[str, str]]:
    """The (key, label) elements of one answer; keys say what may be paired when labels differ."""
    if kind in ("single_choice", "pairwise", "rating"):
        return [("", text)]
    data = _json(text)
    if kind == "multi_choice" and isinstance(data, list):
        return [(str(v), str(v)) for v in data]
    if kind == "spans" and isinstance(data, list):
        return [(f"{s[0]}:{s[1]}", str(s[2])) for s in data if isinstance(s, list) and len(s) == 3]
    if kind == "attribution" and isinstance(data, dict):
        return [("", str(data.get("agent")))]
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return [("", text if data is None else canonical)]


def _elements(kinds: np.ndarray, texts: np.ndarray, column: str) -> pd.DataFrame:
    """One row per element of every answer: (row, key, <column>); each distinct answer is parsed once."""
    codes, uniques = pd.factorize(pd.Series(kinds, dtype=object) + "\x1f" + pd.Series(texts, dtype=object))
    parsed = [_parse(*str(u).split("\x1f", 1)) for u in uniques]
    sizes = np.array([len(p) for p in parsed], dtype=np.int64)
    keys = np.array([k for p in parsed for k, _ in p], dtype=object)
    labels = np.array([lab for p in parsed for _, lab in p], dtype=object)
    count = sizes[codes] if codes.size else np.zeros(0, dtype=np.int64)
    row = np.repeat(np.arange(codes.size), count)
    start = np.repeat((np.cumsum(sizes) - sizes)[codes] if codes.size else count, count)
    pos = start + np.arange(row.size) - np.repeat(np.cumsum(count) - count, count)
    return pd.DataFrame({"row": row, "key": keys[pos], column: labels[pos]})


def _pair(gold: pd.DataFrame, given: pd.DataFrame, on_gold: list[str], on_given: list[str]) -> pd.DataFrame:
    """One-to-one outer pairing: occurrence numbers pair repeated keys in order instead of multiplying."""
    g = gold.assign(occ=gold.groupby(on_gold, sort=False).cumcount())
    a = given.assign(occ=given.groupby(on_given, sort=False).cumcount())
    return g.merge(a, left_on=[*on_gold, "occ"], right_on=[*on_given, "occ"], how="outer", indicator=True)


@dataclass(frozen=True)
class _Rows:
    score: np.ndarray  # per scored row, in [0, 1]
    mismatched: set[str]  # "row\x1flabel" for every label that did not match on a row
    confusion: pd.DataFrame  # row, gold, given


def _score_rows(kinds: np.ndarray, reference: np.ndarray, given: np.ndarray) -> _Rows:
    n = kinds.size
    exact = _pair(_elements(kinds, reference, "gold"), _elements(kinds, given, "given"),
                  ["row", "key", "gold"], ["row", "key", "given"])
    side = exact["_merge"].to_numpy().astype(str)
    rows = exact["row"].to_numpy(dtype=np.int64)
    m = np.bincount(rows[side == "both"], minlength=n)
    ng = np.bincount(rows[side != "right_only"], minlength=n)
    na = np.bincount(rows[side != "left_only"], minlength=n)
    f1 = np.where(ng + na > 0, 2.0 * m / np.maximum(ng + na, 1), 1.0)
    score = np.where(np.isin(kinds, list(GRADED_KINDS)), f1, ((m == ng) & (m == na)).astype(float))
    left = exact[side == "left_only"][["row", "key", "gold"]]
    right = exact[side == "right_only"][["row", "key", "given"]]
    rest = _pair(left, right, ["row", "key"], ["row", "key"])
    pairs = pd.concat([exact[side == "both"][["row", "gold", "given"]], rest[["row", "gold", "given"]]],
                      ignore_index=True).fillna(NONE)
    pairs = pairs[np.isin(kinds[pairs["row"].to_numpy(dtype=np.int64)], list(CONFUSION_KINDS))]
    off = pd.concat([left["row"].astype(str) + "\x1f" + left["gold"],
                     right["row"].astype(str) + "\x1f" + right["given"]])
    return _Rows(score=score, mismatched=set(off.tolist()), confusion=pairs)


def _reference(spec: Spec, reference: pd.DataFrame) -> pd.DataFrame:
    ref = reference.reindex(columns=[*KEYS, "label", "edge_case"], fill_value="").fillna("").astype(str)
    if len(spec.tasks) == 1:
        ref["task"] = ref["task"].where(ref["task"] != "", spec.tasks[0].name)
    return ref.drop_duplicates(KEYS, keep="first").reset_index(drop=True)


def _edge_wrong(spec: Spec, rows: pd.DataFrame, kinds: np.ndarray, scored: _Rows) -> np.ndarray:
    """Per row: does it count against its edge case (see the module docstring)?"""
    edge_label = {f"{t.name}\x1f{e.id}": e.label for t in spec.tasks for e in t.edge_cases}
    label = (rows["task"] + "\x1f" + rows["edge_case"]).map(edge_label).astype(object).fillna("").astype(str)
    label = label.reset_index(drop=True)
    probe = pd.Series(np.arange(len(rows))).astype(str) + "\x1f" + label
    involved = probe.isin(scored.mismatched).to_numpy() | (label == "").to_numpy() | ~np.isin(
        kinds, list(CONFUSION_KINDS))
    wrong: np.ndarray = (rows["edge_case"].to_numpy() != "") & (scored.score < 1.0) & involved
    return wrong




def _per_annotator(frame: pd.DataFrame, names: list[str], columns: list[str]) -> dict[str, tuple[Any, ...]]:
    """Counts of ``columns`` per annotator, sorted, as tuples (loops over distinct combinations only)."""
    counts = frame.groupby(["annotator", *columns], sort=True).size()
    out: dict[str, list[tuple[Any, ...]]] = {a: [] for a in names}
    for key, c in counts.items():
        out[str(key[0])].append((*map(str, key[1:]), int(c)))
    return {a: tuple(v) for a, v in out.items()}


def _calibration_rows(spec: Spec, acc: Accounting, ref: pd.DataFrame, files: Sequence[str]
                      ) -> tuple[pd.DataFrame, list[str], tuple[tuple[str, int], ...]]:
    """Judgments answering a calibration row (with its reference), every judging annotator, ignored counts."""
    kind_of = {t.name: t.kind for t in spec.tasks}
    judged = pd.concat([acc.used, acc.expert], ignore_index=True)
    merged = judged[["annotator", *KEYS, "value", "when"]].merge(ref, on=KEYS, how="left", indicator=True)
    in_set = (merged["_merge"] == "both").to_numpy()
    text = (merged["task"].map(kind_of) == "text").to_numpy(dtype=bool)
    ignored = (("not_in_calibration_set", int((~in_set).sum())),
               ("text_not_scored", int((in_set & text).sum())))
    rows = merged[in_set & ~text].reset_index(drop=True)
    if rows.empty:
        excluded = acc.exclusions["reason"].value_counts()
        why = ""
        if len(excluded) and judged.empty:  # every row was excluded: say what excluded them
            top = ", ".join(f"{n} {reason}" for reason, n in excluded.head(3).items())
            why = f" (every row was excluded: {top})"
        # the calibration set's own items are in the items file (validate, LS312): the submissions' are not
        hint = ("the submitted items are not in the items file (unknown_item): pass the calibration round's label "
                "files, or add their items to the items file" if "unknown_item" in excluded.index and judged.empty
                else "pass the calibration round's label files; check item ids and tasks")
        raise UsageError(Diagnostic(
            "LS501", f"no judgment in the submissions answers a row of the calibration set{why}",
            SourceLocation(", ".join(files) or "<submissions>"), hint=hint))
    rows["kind"] = rows["task"].map(kind_of)
    return rows, sorted(judged["annotator"].astype(str).unique().tolist()), ignored


def score_calibration(spec: Spec, acc: Accounting, reference: pd.DataFrame, *, files: Sequence[str] = (),
                      level: float = 0.95) -> CalibrationResult:
    """Score every annotator with a judgment in ``acc`` against the calibration set ``reference``.

    Raises UsageError when no judgment answers a calibration row (wrong files given), so nothing is written.
    """
    ref = _reference(spec, reference)
    rows, names, ignored = _calibration_rows(spec, acc, ref, files)
    kinds = rows["kind"].to_numpy(dtype=object)
    scored = _score_rows(kinds, rows["label"].to_numpy(dtype=object), rows["value"].to_numpy(dtype=object))
    policy = spec.quality.calibration
    threshold = policy.min_accuracy if policy else None
    min_items = min(MIN_ITEMS, len(ref))
    wrong = rows[_edge_wrong(spec, rows, kinds, scored)]
    edges = _per_annotator(wrong.assign(edge=wrong["edge_case"]), names, ["edge"])
    at = scored.confusion["row"].to_numpy(dtype=np.int64)
    conf = scored.confusion.assign(annotator=rows["annotator"].to_numpy()[at],
                                   task=rows["task"].to_numpy()[at])
    confusion = _per_annotator(conf, names, ["task", "gold", "given"])
    codes = pd.Categorical(rows["annotator"], categories=names).codes
    n = np.bincount(codes, minlength=len(names))
    total = np.bincount(codes, weights=scored.score, minlength=len(names))
    graded = np.bincount(codes, weights=np.isin(kinds, list(GRADED_KINDS)), minlength=len(names)) > 0
    wilson = stats.wilson_intervals(np.rint(total).astype(np.int64), n, level)
    latest = rows["when"].groupby(codes).max().reindex(range(len(names)))
    out = []
    for i, a in enumerate(names):  # one entry per annotator
        k = int(n[i])
        est = Estimate(float(total[i] / k), None, None, k, ci_reason=GRADED_CI) if graded[i] else wilson[i]
        why = _fail_reason(k, est.value, min_items, threshold)
        out.append(AnnotatorScore(annotator=a, n=k, score=est, passed=not why, fail_reason=why,
                                  missing=len(ref) - k, wrong_edge_cases=edges[a], confusion=confusion[a],
                                  calibrated_at=iso_utc(latest.iloc[i])))
    return CalibrationResult(spec=spec, reference_rows=len(ref), min_accuracy=threshold, min_items=min_items,
                             annotators=tuple(out), ignored=ignored, accounting=acc, files=tuple(files))


def _fail_reason(n: int, value: float | None, min_items: int, threshold: float | None) -> str:
    if n < min_items:
        return f"answered {n} of the {min_items} calibration rows required"
    if threshold is not None and (value is None or value < threshold):
        return f"score {fmt(value)} < min_accuracy {threshold:g}"
    return ""


def _roster_cells(s: AnnotatorScore) -> dict[str, str]:
    value = s.score.value
    return {"calibration_score": "" if value is None else f"{value:.4f}", "calibration_n": str(s.n),
            "calibration_passed": "true" if s.passed else "false", "calibrated_at": s.calibrated_at}


def update_roster(text: str | None, scores: Sequence[AnnotatorScore], *, display: str = "roster") -> str:
    """The roster text with every scored annotator's calibration columns set (see the module docstring).

    ``text`` None means no roster exists yet: one is started with the standard columns.
    """
    reader = csv.DictReader(io.StringIO(text or ""))
    header = list(reader.fieldnames or ())
    rows = list(reader)
    if text and "id" not in header:
        raise InputError(Diagnostic("LS312", "the roster has no 'id' column", SourceLocation(display, 1),
                                    hint="columns: " + ",".join(ROSTER_COLUMNS)))
    header += [c for c in ROSTER_COLUMNS if c not in header]
    by_id = {s.annotator: s for s in scores}
    for row in rows:  # roster rows are people, a handful
        if row["id"] in by_id:
            row.update(_roster_cells(by_id[row["id"]]))
    known = {row["id"] for row in rows}
    rows += [{"id": a, "role": "annotator", **_roster_cells(s)}
             for a, s in sorted(by_id.items()) if a not in known]
    return csv_text([header, *([_cell(row.get(c)) for c in header] for row in rows)])


def _cell(value: Any) -> str:
    """As ``csv.writer`` writes a value: ``None`` as an empty cell."""
    return "" if value is None else str(value)


def render_text(d: dict[str, Any]) -> str:
    """The terminal table: one line per annotator, then what was ignored or excluded, then the roster."""
    cal, spec = d["calibration"], d["spec"]
    bar = f"score ≥ {cal['min_accuracy']:g} on " if cal["min_accuracy"] is not None else ""
    head = ["annotator", "n", "score", "95% CI", "passed", "wrong edge cases"]
    table = [head] + [[safe(a["annotator"]), str(a["n"]), fmt(a["score"]),
                       f"{fmt(a['ci_low'])}–{fmt(a['ci_high'])}" if a["ci_low"] is not None else "—",
                       "yes" if a["passed"] else "NO",
                       ", ".join(f"{safe(k)}×{v}" for k, v in sorted(a["wrong_edge_cases"].items())) or "—"]
                      for a in d["annotators"]]
    widths = [max(len(r[c]) for r in table) for c in range(len(head))]
    lines = [safe(f"labelspec calibrate: {spec['project']} {spec['version']} ({spec['path']})"),
             safe(f"calibration set {cal['file']}: {cal['rows']} rows; "
                  f"pass: {bar}≥ {cal['min_items']} rows answered"),
             ""]
    lines += ["  " + "  ".join(r[c].ljust(widths[c]) for c in range(len(head))).rstrip() for r in table]
    lines += [safe(f"  {a['annotator']}: {a['fail_reason']}") for a in d["annotators"] if a["fail_reason"]]
    lines += [f"  note: {GRADED_CI}"] if any(a["ci_reason"] == GRADED_CI for a in d["annotators"]) else []
    j = d["judgments"]
    lines += ["", f"judgments: {j['rows_read']} read, {j['scored']} scored"]
    lines += [f"  ignored {reason}: {n}" for reason, n in j["ignored"].items() if n]
    lines += [f"  excluded {reason}: {n}" for reason, n in j["excluded_by_reason"].items()]
    lines += [safe(f"    {e['file']}:{e['line']}: {e['reason']}: {e['detail']}")
              for e in j["exclusions"][:10]]
    r, s = d["roster"], d["summary"]
    if r["path"]:
        lines.append(safe(f"roster: {r['path']} ({r['status']})"))
        if r["spec_digest_changed"]:
            lines.append("  the roster is part of the spec digest: run `labelspec compile` to refresh the generated "
                         "files (`compile --check` reports them stale until then)")
    lines += ["", f"{s['scored']} annotator(s) scored: {s['passed']} passed, {s['failed']} failed"]
    return "\n".join(lines) + "\n"
