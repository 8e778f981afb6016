"""Invents multi-agent tool-use trajectories (planner → coder → executor → verifier) with a known failure.

One job: given a coding task and a failure mode, write the steps a run of that mode produces — thoughts, tool
calls, arguments, observations — and return them with the ground truth: per-step tool-call and reasoning labels,
and the (agent, step) that decided the failure. It draws randomness only from the Generator it is given and
simulates no annotators (``examples_agents.py`` does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# repo, request, code file, test file, what the edit does, a constraint the request may carry, how a coder
# who never heard of the constraint breaks it
SCENARIOS = (
    ("acme/billing-sync", "Add a `--dry-run` flag to the `sync` command and cover it with a test.",
     "src/sync/cli.py", "tests/test_cli.py", "add the --dry-run option and skip writes when it is set",
     "Do not add new dependencies.", "Pulling in `rich-click` makes the flag help nicer."),
    ("acme/billing-sync", "Fix the off-by-one error in `paginate()` reported in issue #482.",
     "src/sync/pages.py", "tests/test_pages.py", "use `range(0, total, size)` so the last page is included",
     "Keep Python 3.9 compatibility.", "A `match` statement reads better here."),
    ("acme/invoicing-api", "Reject negative amounts on `POST /invoices` with a 422.",
     "app/routes/invoices.py", "tests/test_invoices.py", "validate `amount > 0` in the request model",
     "Do not change the public response schema.", "Add an `errors` field to the response for clients."),
    ("acme/invoicing-api", "Rename config key `db_url` to `database_url`, keeping `db_url` working with a deprecation warning.",
     "app/config.py", "tests/test_config.py", "read `database_url` and warn when `db_url` is set",
     "Do not break existing deployments that still set db_url.", "Dropping the old key keeps the code simple."),
    ("acme/etl-jobs", "Make `parse_date()` accept ISO week dates like 2026-W10-1.",
     "etl/dates.py", "tests/test_dates.py", "use `date.fromisocalendar` for the week-date pattern",
     "Do not add new dependencies.", "`python-dateutil` parses week dates out of the box."),
    ("acme/etl-jobs", "Speed up `load_events()` by batching the database reads.",
     "etl/events.py", "tests/test_events.py", "fetch events in batches of 500 with one `IN` query each",
     "Keep memory use under the 512 MB job limit.", "Simplest is to load all events in one query."),
    ("acme/web-dashboard", "Show the invoice due date on the overview table, formatted per user locale.",
     "dashboard/tables.py", "tests/test_tables.py", "add a due_date column using the locale formatter",
     "Do not change the CSV export.", "The CSV export reuses this table, so it gets the column too."),
)
MODES = ("none", "bad_decomposition", "missed_constraint", "tool_misuse", "ignored_error", "false_success",
         "skipped_check")


@dataclass
class Run:
    """One trajectory and its truth. ``culprit`` maps an agent to the step a failure would be pinned on."""

    task: str
    repo: str
    outcome: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    tool_truth: list[str] = field(default_factory=list)
    reason_truth: list[str] = field(default_factory=list)
    culprit: dict[str, int] = field(default_factory=dict)
    decisive: tuple[str, int | None] = ("none", None)

    def add(self, agent: str, thought: str, tool: str, args: dict[str, Any], observation: str,
            tool_label: str = "correct", reason_label: str = "correct") -> int:
        # ``text``: the step as one paragraph, for tools that show one text per step (Label Studio's Paragraphs)
        call = json.dumps(args, ensure_ascii=False, separators=(", ", ": "))
        self.steps.append({"step": len(self.steps) + 1, "agent": agent, "thought": thought, "tool": tool,
                           "args": args, "observation": observation,
                           "text": f"{thought}\n→ {tool}({call})\n← {observation}"})
        self.tool_truth.append(tool_label)
        self.reason_truth.append(reason_label)
        return len(self.steps)


def _plan(run: Run, code: str, test: str, mode: str, constraint: str | None) -> None:
    if mode == "bad_decomposition":
        plan = [f"Edit {code}", "Report done"]
        thought = "This is a one-line change; a single edit step is enough, tests can be skipped."
    else:
        plan = [f"Read {code}", f"Change {code}", f"Add a test in {test}", "Run the test suite", "Verify and report"]
        thought = "Split into read, change, test, verify so each agent has one job."
        if constraint and mode != "missed_constraint":
            plan.insert(2, f"Check the constraint: {constraint.rstrip('.').lower()}")
            thought += f" Constraint to respect: {constraint.rstrip('.').lower()}."
    bad = mode in ("bad_decomposition", "missed_constraint")
    run.culprit["planner"] = run.add("planner", thought, "create_plan", {"steps": plan},
                                     f"Plan recorded: {len(plan)} steps.", reason_label="incorrect" if bad else "correct")


def _code(run: Run, rng: np.random.Generator, code: str, test: str, change: str, mode: str, breach: str) -> None:
    run.add("coder", f"Read {code} before changing it.", "read_file", {"path": code},
            f"{code}: {int(rng.integers(60, 400))} lines", reason_label="unverifiable" if rng.random() < 0.1 else "correct")
    if rng.random() < 0.15:  # a harmless detour most annotators call unnecessary
        run.add("coder", "Double-check the file once more.", "read_file", {"path": code},
                f"{code}: unchanged", tool_label="unnecessary")
    if mode == "tool_misuse":
        wrong_tool = rng.random() < 0.5
        tool, args, obs = (("run_shell", {"cmd": f"sed -i 's/TODO/{change[:18]}/' {code}"},
                            "sed: -e expression #1, char 31: unterminated `s' command") if wrong_tool else
                           ("edit_file", {"path": code.replace(".py", "_old.py"), "patch": f"+ # {change}"},
                            f"Created new file {code.replace('.py', '_old.py')}"))
        run.culprit["coder"] = run.add("coder", f"Apply the change: {change}.", tool, args, obs,
                                       tool_label="wrong_tool" if wrong_tool else "wrong_arguments")
    else:
        extra = f" {breach}" if mode == "missed_constraint" else ""
        run.culprit["coder"] = run.add("coder", f"Apply the change: {change}.{extra}", "edit_file",
                                       {"path": code, "patch": f"+ # {change}"}, f"Applied 1 hunk to {code}.",
                                       reason_label="incorrect" if extra else "correct")
    if mode != "bad_decomposition":
        run.add("coder", "Cover the new behaviour with a test.", "edit_file", {"path": test, "patch": "+ def test_new_behaviour(): ..."},
                f"Applied 1 hunk to {test}.")


def _execute(run: Run, rng: np.random.Generator, test: str, mode: str) -> None:
    if mode == "skipped_check":
        return
    total = int(rng.integers(12, 60))
    if mode in ("tool_misuse", "ignored_error"):
        failed = int(rng.integers(1, 4))
        obs = f"{failed} failed, {total - failed} passed\nFAILED {test}::test_new_behaviour - AssertionError"
    elif mode == "false_success":
        obs = "1 passed in 0.4s"
    else:
        obs = f"{total} passed in {rng.uniform(1, 9):.1f}s"
    target = test if mode == "false_success" else "tests/"
    run.culprit["executor"] = run.add("executor", "Run the tests.", "run_tests", {"target": target}, obs)
    if mode == "ignored_error":
        run.culprit["executor"] = run.add(
            "executor", "The failure looks flaky and unrelated to the change; handing over.", "handoff",
            {"to": "verifier"}, "Handed over to verifier.", reason_label="incorrect")


def _verify(run: Run, rng: np.random.Generator, code: str, test: str, mode: str) -> None:
    if rng.random() < 0.6 or mode == "skipped_check":
        run.add("verifier", "Look at the diff before signing off.", "inspect_diff", {"paths": [code, test]},
                f"+{int(rng.integers(4, 40))} -{int(rng.integers(0, 12))} lines in 2 files")
    if mode == "tool_misuse":
        args, thought, tool_label, reason = ({"status": "failed", "summary": "Tests fail after the edit."},
                                             "Tests fail; report the failure.", "correct", "correct")
    elif mode == "skipped_check":
        args, thought, tool_label, reason = ({"status": "success", "summary": "Change applied."},
                                             "The diff is small and obviously right; no need to run the tests.",
                                             "correct", "incorrect")
    elif mode in ("ignored_error", "false_success"):
        args, thought, tool_label, reason = ({"status": "success", "summary": "All tests pass."},
                                             "Executor says the suite is green; report success.",
                                             "hallucinated_result", "incorrect")
    else:
        args, thought, tool_label, reason = ({"status": "success", "summary": "Change applied and tested."},
                                             "Tests pass and the diff matches the plan.", "correct", "correct")
    run.culprit["verifier"] = run.add("verifier", thought, "report_status", args, "Status reported.",
                                      tool_label=tool_label, reason_label=reason)


OUTCOME = {"none": "passed", "missed_constraint": "constraint_violated"}
DECISIVE = {"bad_decomposition": "planner", "missed_constraint": "planner", "tool_misuse": "coder",
            "ignored_error": "executor", "false_success": "verifier", "skipped_check": "verifier"}


def trajectory(rng: np.random.Generator, scenario: int, mode: str, constrained: bool) -> Run:
    """One run of ``mode`` on a scenario; ``constrained`` appends the scenario's constraint to the request."""
    repo, request, code, test, change, constraint, breach = SCENARIOS[scenario]
    constrained = constrained or mode == "missed_constraint"
    run = Run(task=f"{request} {constraint}" if constrained else request, repo=repo,
              outcome=OUTCOME.get(mode, "tests_failed"))
    _plan(run, code, test, mode, constraint if constrained else None)
    _code(run, rng, code, test, change, mode, breach)
    _execute(run, rng, test, mode)
    _verify(run, rng, code, test, mode)
    run.culprit.setdefault("executor", run.culprit["coder"])
    if mode != "none":
        run.decisive = (DECISIVE[mode], run.culprit[DECISIVE[mode]])
    return run
