"""Writes a batch of judgments as a Label Studio JSON export (the support-intent example's third batch).

One job: shape judgments the way Label Studio's "JSON" export does — one task per item with its ``data``, one
annotation per annotator holding a ``choices`` result for ``intent`` and a ``rating`` result for ``tone`` —
including what real exports carry besides judgments: model ``predictions``, unsubmitted ``drafts``, a skipped
(cancelled) annotation and a submitted-but-empty one. ``completed_by`` appears both as a bare user id and as the
user object that exports with annotator details carry. It simulates nothing new and writes one file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from examples_common import Judgments, Project, iso, write_text

LS_PROJECT = 42
MODEL_VERSION = "intent-router-2026.02"
#: Users Label Studio exports with annotator details (completed_by is an object). labelspec keys such a user by
#: the object's email when the roster has it, else by its id when the roster has that: this one's roster id is
#: the email.
LS_USER_IDS = {"sofia.rossi@ledgerly.example": 18}


def _stamp(seconds: int, micro: int) -> str:
    return iso([seconds])[0][:-1] + f".{micro:06d}Z"


def _uid(rng: np.random.Generator, n: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), size=n))


def _email(name: str) -> str:
    return name.lower().replace("á", "a").replace(" ", ".") + "@ledgerly.example"


def _user(annotator_id: str, names: dict[str, str]) -> Any:
    if annotator_id not in LS_USER_IDS:
        return int(annotator_id)
    first, last = names[annotator_id].split(" ", 1)
    return {"id": LS_USER_IDS[annotator_id], "email": annotator_id, "first_name": first, "last_name": last}


def _user_id(annotator_id: str) -> int:
    return LS_USER_IDS.get(annotator_id) or int(annotator_id)


def _result(rng: np.random.Generator, intent: str | None, rating: int | None,
            origin: str = "manual") -> list[dict[str, Any]]:
    out = []
    if intent is not None:
        out.append({"value": {"choices": [intent]}, "id": _uid(rng, 10), "from_name": "intent", "to_name": "body",
                    "type": "choices", "origin": origin})
    if rating is not None:
        out.append({"value": {"rating": rating}, "id": _uid(rng, 10), "from_name": "tone", "to_name": "body",
                    "type": "rating", "origin": "manual"})
    return out


def _annotation(rng: np.random.Generator, ann_id: int, task_id: int, who: str, names: dict[str, str],
                result: list[dict[str, Any]], when: int, lead: float, cancelled: bool = False) -> dict[str, Any]:
    stamp = _stamp(when, int(rng.integers(0, 1_000_000)))
    return {"id": ann_id, "completed_by": _user(who, names), "result": result, "was_cancelled": cancelled,
            "ground_truth": False, "created_at": stamp, "updated_at": stamp, "draft_created_at": None,
            "lead_time": round(lead, 3), "prediction": {}, "result_count": 0, "unique_id": _uid(rng, 36),
            "import_id": None, "last_action": None, "bulk_created": False, "task": task_id, "project": LS_PROJECT,
            "updated_by": _user_id(who), "parent_prediction": None, "parent_annotation": None, "last_created_by": None}


def _prediction(rng: np.random.Generator, task_id: int, intent: str, when: int) -> dict[str, Any]:
    return {"id": 90_000 + task_id, "result": _result(rng, intent, None, "prediction"), "model_version": MODEL_VERSION,
            "created_ago": "4 days", "score": round(float(rng.uniform(0.41, 0.99)), 4), "cluster": None,
            "neighbors": None, "mislabeling": 0.0, "created_at": _stamp(when, 0), "updated_at": _stamp(when, 0),
            "model": None, "model_run": None, "task": task_id, "project": LS_PROJECT}


def _by_item(j: Judgments) -> dict[str, dict[str, dict[str, Any]]]:
    """item → annotator → {task: value, time: submission, lead: total seconds}: one annotation per pair."""
    by_item: dict[str, dict[str, dict[str, Any]]] = {}
    for i in range(len(j)):
        slot = by_item.setdefault(j.item[i], {}).setdefault(j.annotator[i], {"time": 0, "lead": 0.0})
        slot[j.task[i]] = j.value[i]
        slot["time"] = max(slot["time"], j.time[i])
        slot["lead"] += j.lead[i]
    return by_item


def _draft(rng: np.random.Generator, who: str, names: dict[str, str], task_id: int, when: int) -> dict[str, Any]:
    email = _email(names[who])
    return {"id": 501, "user": email, "created_username": f"{email}, {who}", "created_ago": "2 days",
            "result": _result(rng, "status", None), "lead_time": 9.812, "was_postponed": False, "import_id": None,
            "created_at": _stamp(when, 0), "updated_at": _stamp(when, 0), "task": task_id, "annotation": None}


def _task(rng: np.random.Generator, n: int, data: dict[str, Any], anns: list[dict[str, Any]],
          drafts: list[dict[str, Any]], first: int, last: int) -> dict[str, Any]:
    predicted = anns[0]["result"][0]["value"]["choices"][0] if rng.random() < 0.85 else "other"
    task_id = 7_001 + n
    return {
        "id": task_id, "annotations": anns, "file_upload": "f3a9c1d2-tickets-batch-03.json", "drafts": drafts,
        "predictions": [_prediction(rng, task_id, predicted, first - 4 * 86_400)] if n % 5 else [],
        "data": data, "meta": {}, "created_at": _stamp(first - 5 * 86_400, 0), "updated_at": _stamp(last, 0),
        "inner_id": n + 1, "total_annotations": sum(not a["was_cancelled"] for a in anns),
        "cancelled_annotations": sum(a["was_cancelled"] for a in anns), "total_predictions": 0 if n % 5 == 0 else 1,
        "comment_count": 0, "unresolved_comment_count": 0, "last_comment_updated_at": None, "project": LS_PROJECT,
        "updated_by": anns[-1]["updated_by"], "comment_authors": []}


def write_labelstudio(folder: Path, j: Judgments, p: Project) -> None:
    """``labelstudio-export.json``: one task per item of the batch, in the order the items were first worked on."""
    rng = np.random.default_rng(20260305)
    names = {a.id: a.name for a in p.annotators}
    by_item = _by_item(j)
    data = {it[p.id_field]: it for it in p.items}
    order = sorted(by_item, key=lambda item: min(s["time"] for s in by_item[item].values()))
    flat = sorted((s["time"], item, who) for item in order for who, s in by_item[item].items())
    ann_ids = {(item, who): 30_001 + n for n, (_, item, who) in enumerate(flat)}
    idle = [a.id for a in p.annotators if a.role == "annotator" and a.profile == "normal"]
    tasks = []
    for n, item in enumerate(order):
        slots = sorted(by_item[item].items(), key=lambda kv: ann_ids[(item, kv[0])])
        anns = [_annotation(rng, ann_ids[(item, who)], 7_001 + n, who, names,
                            _result(rng, s.get("intent"), s.get("tone")), s["time"], s["lead"]) for who, s in slots]
        first, last = min(s["time"] for _, s in slots), max(s["time"] for _, s in slots)
        spare = [a for a in idle if a not in by_item[item]]
        if n in (7, 23):  # one skipped task and one submitted with nothing selected
            anns.append(_annotation(rng, 39_001 + n, 7_001 + n, spare[0], names, [], first + 900, 3.4,
                                    cancelled=n == 7))
        drafts = [_draft(rng, spare[-1], names, 7_001 + n, first + 300)] if n == 11 else []
        tasks.append(_task(rng, n, dict(data[item]), anns, drafts, first, last))
    lines = (json.dumps(t, ensure_ascii=False) for t in tasks)  # one task per line: small, and diffs stay readable
    write_text(folder / "labelstudio-export.json", "[\n" + ",\n".join(lines) + "\n]\n")
