"""Simulates the agent-trajectories example: per-step tool-call and reasoning judgments, a nested failure taxonomy
and failure attribution on multi-agent coding runs.

One job: sample runs (``examples_trajectories``) with a known failure mode, simulate evaluators labelling every
step and every run, and return a :class:`Project`. It writes nothing.

Designed outcome (the demo's exit 1): ``failure_mode`` agreement falls below its gate because runs where the
executor ignores a failing test and the verifier then reports success are split between ``ignored_error`` and
``false_success`` — no edge case says which to pick (a guideline gap) — and an uncalibrated evaluator (a8)
contributed judgments. Covered confusions (bad_decomposition/missed_constraint, tool_misuse/ignored_error,
false_success/skipped_check) stay low. a3 is lenient (over-uses ``none`` and ``correct``), a4 speeds. One
judgment in batch 3 is stale (:func:`_stale_step`): it names a step the run no longer has, and ``check``
excludes it as ``step_out_of_range``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from examples_common import (
    DAY,
    EPOCH_2026_03_02,
    Annotator,
    Judgments,
    Pending,
    Project,
    assign,
    canonical,
    confusion,
    draw_labels,
    sample_rows,
    workload,
)
from examples_trajectories import MODES, SCENARIOS, Run, trajectory

FAILURE = ("planning", "bad_decomposition", "missed_constraint", "execution", "tool_misuse", "ignored_error",
           "verification", "false_success", "skipped_check", "none")
PARENT = {"bad_decomposition": "planning", "missed_constraint": "planning", "tool_misuse": "execution",
          "ignored_error": "execution", "false_success": "verification", "skipped_check": "verification"}
TOOL = ("correct", "wrong_tool", "wrong_arguments", "unnecessary", "hallucinated_result")
REASON = ("correct", "incorrect", "unverifiable")
AGENT_OF = {"planning": "planner", "bad_decomposition": "planner", "missed_constraint": "planner",
            "tool_misuse": "coder", "execution": "executor", "ignored_error": "executor", "verification": "verifier",
            "false_success": "verifier", "skipped_check": "verifier", "none": "none"}
# What evaluators perceive for a run of each true mode (the ignored_error split is the guideline gap).
PERCEIVED = {
    "none": {"none": 0.95, "skipped_check": 0.03, "false_success": 0.02},
    "bad_decomposition": {"bad_decomposition": 0.88, "missed_constraint": 0.1, "tool_misuse": 0.02},
    "missed_constraint": {"missed_constraint": 0.9, "bad_decomposition": 0.08, "none": 0.02},
    "tool_misuse": {"tool_misuse": 0.92, "ignored_error": 0.06, "bad_decomposition": 0.02},
    "ignored_error": {"ignored_error": 0.5, "false_success": 0.44, "skipped_check": 0.06},
    "false_success": {"false_success": 0.9, "skipped_check": 0.08, "ignored_error": 0.02},
    "skipped_check": {"skipped_check": 0.88, "false_success": 0.1, "none": 0.02},
}
TOOL_PERCEIVED = {"correct": {"correct": 0.97, "unnecessary": 0.03},
                  "wrong_tool": {"wrong_tool": 0.8, "wrong_arguments": 0.2},
                  "wrong_arguments": {"wrong_arguments": 0.85, "wrong_tool": 0.15},
                  "unnecessary": {"unnecessary": 0.75, "correct": 0.25},
                  "hallucinated_result": {"hallucinated_result": 0.85, "correct": 0.15}}
REASON_PERCEIVED = {"correct": {"correct": 0.95, "unverifiable": 0.05},
                    "incorrect": {"incorrect": 0.85, "unverifiable": 0.1, "correct": 0.05},
                    "unverifiable": {"unverifiable": 0.6, "correct": 0.4}}
MODE_SHARE = np.array([0.3, 0.08, 0.1, 0.14, 0.18, 0.1, 0.1])
N_RUNS, N_GOLD = 72, 8
CAL_MODES = ("none", "bad_decomposition", "missed_constraint", "tool_misuse", "ignored_error", "false_success",
             "skipped_check", "none")
START = np.array([21.375, 21.5, 22.375, 23.375]) * DAY + EPOCH_2026_03_02  # Mon 23 - Wed 25 March
PEOPLE = (("a1", "Priyanka Rao", 0.95, "normal"), ("a2", "Diego Fernández", 0.94, "normal"),
          ("a3", "Sven Olsen", 0.95, "biased"), ("a4", "Mei Tanaka", 0.3, "speeder"),
          ("a5", "Omar Haddad", 0.96, "normal"), ("a6", "Laura Becker", 0.93, "late"),
          ("a7", "Ibrahim Musa", 0.95, "normal"), ("a8", "Elena Popescu", 0.93, "uncalibrated"))
ANNOTATORS = tuple(Annotator(p[0], p[1], accuracy=p[2], profile=p[3], speed=0.85 + 0.1 * (i % 4),
                             share={"speeder": 0.5, "uncalibrated": 0.6, "biased": 1.3}.get(p[3], 1.0),
                             batches={"speeder": (2,), "uncalibrated": (3,)}.get(p[3], (1, 2, 3)))
                   for i, p in enumerate(PEOPLE)) + (Annotator("x1", "Dr. Ada Lindqvist", role="expert"),)


def _soft(table: dict[str, dict[str, float]], truths: list[str], labels: tuple[str, ...]) -> np.ndarray:
    rows = {t: np.array([table[t].get(lab, 0.0) for lab in labels]) for t in table}
    return np.stack([rows[t] for t in truths])


def _affinity(labels: tuple[str, ...], close: dict[tuple[str, str], float]) -> np.ndarray:
    aff = np.full((len(labels), len(labels)), 0.3)
    for (a, b), w in close.items():
        aff[labels.index(a), labels.index(b)] = aff[labels.index(b), labels.index(a)] = w
    return aff


def _matrices(careful: bool) -> dict[str, np.ndarray]:
    """Per-evaluator confusion for failure_mode, tool_call and reasoning_step."""
    fm_aff = _affinity(FAILURE, {(c, p): 0.8 for c, p in PARENT.items()} | {("none", "skipped_check"): 1.5})
    tc_aff = _affinity(TOOL, {("wrong_tool", "wrong_arguments"): 3.0, ("correct", "unnecessary"): 2.0})
    rs_aff = _affinity(REASON, {("correct", "unverifiable"): 2.0, ("incorrect", "unverifiable"): 2.0})
    out: dict[str, list[np.ndarray]] = {"fm": [], "tc": [], "rs": []}
    for p in (*PEOPLE, ("x1", "", 0.97, "expert")):
        acc = max(p[2], 0.9) if careful else p[2]
        lenient = p[3] == "biased" and not careful
        out["fm"].append(confusion(acc, fm_aff, bias=FAILURE.index("none") if lenient else None, bias_rate=0.12))
        step_acc = min(acc + 0.03, 0.985) if p[3] != "speeder" or careful else 0.3
        out["tc"].append(confusion(step_acc, tc_aff, bias=0 if lenient else None, bias_rate=0.8))
        out["rs"].append(confusion(step_acc, rs_aff, bias=0 if lenient else None, bias_rate=0.7))
    return {k: np.stack(v) for k, v in out.items()}


def _runs(rng: np.random.Generator, modes: list[str], first: int) -> tuple[list[Run], list[dict[str, Any]]]:
    scenario = rng.integers(0, len(SCENARIOS), size=len(modes))
    constrained = rng.random(len(modes)) < 0.4
    runs = [trajectory(rng, int(s), m, bool(c)) for s, m, c in zip(scenario, modes, constrained, strict=True)]
    items = [{"run_id": f"run-{first + k:04d}", "task": r.task, "repo": r.repo, "outcome": r.outcome,
              "steps": r.steps} for k, r in enumerate(runs)]
    return runs, items


def _attribution(rng: np.random.Generator, runs: list[Run], unit_idx: np.ndarray, chosen: np.ndarray,
                 speeder: np.ndarray) -> list[dict[str, Any]]:
    """Evaluators pin the failure on the agent their failure mode implies, at that agent's step (±1 sometimes)."""
    agents = ("planner", "coder", "executor", "verifier")
    random_agent = rng.integers(0, 4, size=len(unit_idx))
    jitter = np.where(rng.random(len(unit_idx)) < 0.1, rng.choice([-1, 1], size=len(unit_idx)), 0)
    out = []
    for n, (u, c) in enumerate(zip(unit_idx, chosen, strict=True)):
        agent = agents[random_agent[n]] if speeder[n] else AGENT_OF[FAILURE[c]]
        if agent == "none":
            out.append({"agent": "none", "step": None})
            continue
        step = min(max(runs[u].culprit[agent] + int(jitter[n]), 1), len(runs[u].steps))
        out.append({"agent": agent, "step": step})
    return out


def _judge(rng: np.random.Generator, runs: list[Run], items: list[dict[str, Any]], modes: list[str],
           unit_idx: np.ndarray, annot_idx: np.ndarray, batch: np.ndarray, careful: bool, pending: Pending) -> None:
    mats = _matrices(careful)
    n_steps = np.array([len(r.steps) for r in runs])
    offset = np.r_[0, np.cumsum(n_steps)[:-1]]
    per = n_steps[unit_idx]
    judge = np.repeat(np.arange(len(unit_idx)), per)
    step = np.arange(per.sum()) - np.repeat(np.cumsum(per) - per, per) + 1
    flat = offset[unit_idx[judge]] + step - 1
    tool = draw_labels(rng, _soft(TOOL_PERCEIVED, [t for r in runs for t in r.tool_truth], TOOL), mats["tc"],
                       flat, annot_idx[judge])
    reason = draw_labels(rng, _soft(REASON_PERCEIVED, [t for r in runs for t in r.reason_truth], REASON),
                         mats["rs"], flat, annot_idx[judge])
    fm = draw_labels(rng, _soft(PERCEIVED, modes, FAILURE), mats["fm"], unit_idx, annot_idx)
    speeder = np.array([a.profile == "speeder" and not careful for a in ANNOTATORS])[annot_idx]
    key = rng.random(len(unit_idx))
    ids = [items[u]["run_id"] for u in unit_idx]
    step_ids = [ids[j] for j in judge]
    units = [str(s) for s in step]
    step_key = key[judge] + step * 1e-5
    pending.add(step_ids, units, "tool_call", [TOOL[i] for i in tool], annot_idx[judge], batch[judge], step_key,
                np.array(11.0))
    pending.add(step_ids, units, "reasoning_step", [REASON[i] for i in reason], annot_idx[judge], batch[judge],
                step_key + 1e-7, np.array(9.0))
    pending.add(ids, [""] * len(ids), "failure_mode", [FAILURE[i] for i in fm], annot_idx, batch, key + 0.001,
                np.array(48.0))
    pending.add(ids, [""] * len(ids), "attribution", _attribution(rng, runs, unit_idx, fm, speeder), annot_idx, batch,
                key + 0.0011, np.array(21.0))


def build(rng: np.random.Generator) -> Project:
    modes = [MODES[i] for i in sample_rows(rng, np.tile(MODE_SHARE, (N_RUNS, 1)))] + list(CAL_MODES)
    runs, items = _runs(rng, modes, 1)
    batch = np.repeat([1, 2, 3], [30, 24, 18])
    k = np.where(rng.random(N_RUNS) < 0.12, 4, 3)
    unit_idx, annot_idx = assign(rng, workload(ANNOTATORS, batch), k)
    production = Pending()
    _judge(rng, runs, items, modes, unit_idx, annot_idx, batch[unit_idx], False, production)
    cal_units = np.arange(N_RUNS, len(runs))
    cal_annot = np.array([i for i, a in enumerate(ANNOTATORS) if a.role == "annotator" and a.profile != "uncalibrated"])
    cu, ca = (g.reshape(-1) for g in np.meshgrid(cal_units, cal_annot))
    round1 = Pending()
    _judge(rng, runs, items, modes, cu, ca, np.zeros(len(cu), dtype=np.int64), True, round1)
    gold_idx = np.sort(rng.choice(N_RUNS, size=N_GOLD, replace=False))
    return Project(
        name="agent-trajectories", id_field="run_id", items=items,
        kinds={"tool_call": "single_choice", "reasoning_step": "single_choice", "failure_mode": "single_choice",
               "attribution": "attribution"},
        annotators=ANNOTATORS, production=_stale_step(production.finish(rng, ANNOTATORS, START), runs, items),
        calibration_round=round1.finish(rng, ANNOTATORS, START),
        gold=[row for u in gold_idx for row in _reference(items[u]["run_id"], runs[u], modes[u], steps=True)],
        calibration=[row | _teaching(row, modes[u], i) for i, u in enumerate(cal_units)
                     for row in _reference(items[u]["run_id"], runs[u], modes[u], steps=False)])


def _stale_step(j: Judgments, runs: list[Run], items: list[dict[str, Any]]) -> Judgments:
    """Add one stale judgment: the evaluator of batch 3's first tool-call judgment also judged a step past the end
    of that run, left over from before the run was re-executed with one step fewer (labelling tools keep such rows
    when an item's text is replaced). Added after scheduling, so every other row stays as simulated."""
    i = next(k for k in range(len(j)) if j.batch[k] == 3 and j.task[k] == "tool_call")
    run = runs[[it["run_id"] for it in items].index(j.item[i])]
    for name, value in (("item", j.item[i]), ("unit", str(len(run.steps) + 1)), ("task", "tool_call"),
                        ("annotator", j.annotator[i]), ("value", "correct"), ("time", j.time[i] + 41),
                        ("lead", 12.5), ("batch", 3)):
        getattr(j, name).append(value)
    return j


WHY_MODE = {
    "none": "The run does what was asked and the evidence (tests, diff) supports the success report.",
    "bad_decomposition": "The plan leaves out testing, so no later agent could catch the regression.",
    "missed_constraint": "The request states a constraint the plan never mentions; the coder then breaks it.",
    "tool_misuse": "The coder's call edits the wrong file / uses a shell hack; everything after inherits the damage.",
    "ignored_error": "The executor saw a failing test and handed over anyway; the verifier's claim follows from that.",
    "false_success": "Only one test file ran, yet the verifier reports the full suite green.",
    "skipped_check": "The verifier signs off without any test run.",
}
EDGE = {"missed_constraint": "dropped-requirement", "tool_misuse": "misuse-then-error", "skipped_check": "no-tests-run"}


def _reference(run_id: str, run: Run, mode: str, *, steps: bool) -> list[dict[str, str]]:
    agent, step = run.decisive
    rows = [{"item": run_id, "unit": "", "task": "failure_mode", "label": mode, "why": WHY_MODE[mode]},
            {"item": run_id, "unit": "", "task": "attribution", "label": canonical({"agent": agent, "step": step}),
             "why": "No agent failed." if agent == "none" else f"The {agent} made the decisive error at step {step}."}]
    for s, (t, r) in enumerate(zip(run.tool_truth, run.reason_truth, strict=True), start=1):
        rows.append({"item": run_id, "unit": str(s), "task": "tool_call", "label": t,
                     "why": "The call fits the step." if t == "correct" else f"Tool call is {t.replace('_', ' ')}."})
        if steps:
            rows.append({"item": run_id, "unit": str(s), "task": "reasoning_step", "label": r,
                         "why": "The thought follows from what the run has shown so far." if r == "correct" else
                         f"The thought is {r}."})
    return rows


def _teaching(row: dict[str, str], mode: str, i: int) -> dict[str, str]:
    edge = EDGE.get(mode, "") if row["task"] == "failure_mode" else ""
    return {"edge_case": edge, "teaching": "true" if i < 4 and row["task"] == "failure_mode" else "false"}
