"""The terminal output the docs show is what the tool prints: each ``$ labelspec check|validate|diff`` is run.

Each ```console block of README.md and docs/*.md is split into commands (``$ …`` lines) and the output shown
under each. A ``labelspec check``, ``validate`` or ``diff`` that writes no file is run in-process, from
the repository root, and every shown line must appear in the real output (stdout, then stderr) in the order
shown. A line that is only ``…`` stands for lines left out; a line containing ``…`` matches a real line that
starts with the text before it and ends with the text after it. A following ``$ echo $?`` pins the exit code.
Commands that write files (init, compile, calibrate, adjudicate, release, or any report option) are not collected.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Run

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md")))]
RUN = {"check", "validate", "diff"}  # fast, and write nothing unless a report option is given
WRITES = {"--out", "--json", "--junit", "--markdown", "--html", "--roster"}
ELLIPSIS = "…"


@dataclass(frozen=True)
class Example:
    doc: str
    line: int  # of the ``$ labelspec …`` line in the doc
    command: str
    shown: tuple[str, ...]
    exit_code: int | None  # from a following ``$ echo $?``

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.command)[1:]

    def skip_reason(self) -> str | None:
        argv = self.argv
        if not argv or argv[0] not in RUN:
            return f"`labelspec {argv[0] if argv else ''}` is not run: only check, validate and diff are"
        if WRITES & {a.split("=", 1)[0] for a in argv} and "-" not in argv:
            return "writes a report file"
        return None


def _commands(block: str, start: int) -> Iterator[tuple[int, str, list[str]]]:
    """(doc line, command, shown output lines) of each ``$ `` line of a block starting at line start."""
    current: tuple[int, str, list[str]] | None = None
    for offset, line in enumerate(block.splitlines()):
        if line.startswith("$ "):
            if current:
                yield current
            current = (start + offset, line[2:].strip(), [])
        elif current:
            current[2].append(line.rstrip())
    if current:
        yield current


def examples() -> list[Example]:
    found = []
    for doc in DOCS:
        text = (ROOT / doc).read_text(encoding="utf-8")
        for match in re.finditer(r"^```console\n(.*?)^```", text, flags=re.S | re.M):
            start = text.count("\n", 0, match.start(1)) + 1
            commands = list(_commands(match.group(1), start))
            for i, (line, command, shown) in enumerate(commands):
                if not command.startswith("labelspec ") or not shown:
                    continue
                after = commands[i + 1] if i + 1 < len(commands) else None
                code = int(after[2][0]) if after and after[1] == "echo $?" and after[2] else None
                found.append(Example(doc, line, command, tuple(shown), code))
    return found


EXAMPLES = examples()


# --- matching -----------------------------------------------------------------------------------------------


def matches(shown: str, real: str) -> bool:
    """A shown line equals the real one, or, with ``…`` in it, is the real line with parts left out."""
    if shown == real or ELLIPSIS not in shown:
        return shown == real
    parts = shown.split(ELLIPSIS)
    if not (real.startswith(parts[0]) and real.endswith(parts[-1])):
        return False
    at = len(parts[0])
    for part in parts[1:-1]:
        at = real.find(part, at)
        if at < 0:
            return False
        at += len(part)
    return at <= len(real) - len(parts[-1])


def first_missing(shown: tuple[str, ...], real: list[str]) -> str | None:
    """The first shown line (other than a bare ``…``) not found, in order, among the real lines."""
    at = 0
    for line in shown:
        if line.strip() == ELLIPSIS:
            continue
        while at < len(real) and not matches(line, real[at]):
            at += 1
        if at == len(real):
            return line
        at += 1
    return None


# --- scenarios: examples whose prose says the spec was edited first -----------------------------------------


def _misspelt_rule_label(tmp: Path) -> Path:
    """README: "Here a label is misspelt in a rule" (validate reports LS301 with the excerpt)."""
    shutil.copytree(ROOT / "specs", tmp / "specs")
    spec = tmp / "specs" / "support-intent" / "labelspec.yaml"
    text = spec.read_text(encoding="utf-8")
    assert text.count("label_in: [dispute]") == 1
    spec.write_text(text.replace("label_in: [dispute]", "label_in: [dispte]"), encoding="utf-8")
    return tmp


def _stricter_gate_same_version(tmp: Path) -> Path:
    """commands.md § diff: ../base holds the committed spec; the working tree tightened max_excluded_share."""
    shutil.copytree(ROOT / "specs" / "support-intent", tmp / "base" / "specs" / "support-intent")
    shutil.copytree(ROOT / "specs" / "support-intent", tmp / "work" / "specs" / "support-intent")
    spec = tmp / "work" / "specs" / "support-intent" / "labelspec.yaml"
    text = spec.read_text(encoding="utf-8")
    assert text.count("max_excluded_share: 0.01 ") == 1
    spec.write_text(text.replace("max_excluded_share: 0.01 ", "max_excluded_share: 0.005"), encoding="utf-8")
    return tmp / "work"


#: A marker in the command or its shown output → how to prepare the folder it runs in (returned).
SCENARIOS: dict[str, Callable[[Path], Path]] = {
    "unknown label 'dispte'": _misspelt_rule_label,
    "../base/specs/support-intent": _stricter_gate_same_version,
}


def _where(example: Example, tmp_path: Path) -> Path:
    text = "\n".join((example.command, *example.shown))
    prepared = [prepare for marker, prepare in SCENARIOS.items() if marker in text]
    assert len(prepared) <= 1, f"{example.doc}:{example.line}: several scenarios match"
    return prepared[0](tmp_path) if prepared else ROOT


# --- tests --------------------------------------------------------------------------------------------------


def _id(example: Example) -> str:
    return f"{example.doc}:{example.line}:{' '.join(example.argv[:2])}"


#: The examples run here; the others write files (their reasons: ``Example.skip_reason``) and are not collected, so
#: no test case passes without asserting anything.
RUN = [e for e in EXAMPLES if e.skip_reason() is None]


@pytest.mark.parametrize("example", RUN, ids=_id)
def test_shown_output_is_real(example: Example, run_cli: Callable[..., Run], tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_where(example, tmp_path))
    result = run_cli(*example.argv)
    real = [line.rstrip() for line in (result.out + result.err).splitlines()]
    where = f"{example.doc}, console block line {example.line} (`$ {example.command}`)"
    missing = first_missing(example.shown, real)
    assert missing is None, (f"{where}: first shown line not in the real output (in order):\n  {missing}\n"
                             "--- real output ---\n" + "\n".join(real))
    if example.exit_code is not None:
        shown = example.exit_code
        assert result.code == shown, f"{where}: `echo $?` shows {shown}, the exit code is {result.code}"


def test_the_examples_are_found() -> None:
    """The parser sees the examples this file exists for; a renamed fence would otherwise pass silently."""
    run = {(e.doc, " ".join(e.argv)) for e in RUN}
    assert {
        ("README.md", "validate specs"),
        ("README.md", "check specs/agent-trajectories specs/agent-trajectories/labels"),
        ("docs/commands.md", "validate specs"),
        ("docs/commands.md", "check specs/support-intent specs/support-intent/labels"),
        ("docs/commands.md", "diff ../base/specs/support-intent specs/support-intent"),
    } <= run
    readme_check = next(e for e in EXAMPLES if e.doc == "README.md" and e.argv[:1] == ["check"])
    assert readme_check.exit_code == 1


@pytest.mark.parametrize(("shown", "real", "ok"), [
    ("a b", "a b", True),
    ("a b", "a bc", False),
    ("a …", "a b c", True),
    ("… c", "a b c", True),
    ("a … c", "a b c", True),
    ("a … b … c", "a x b y c", True),
    ("a … b … c", "a x c", False),
    ("ab…bc", "abc", False),  # the parts may not overlap
])
def test_matches(shown: str, real: str, ok: bool) -> None:
    assert matches(shown, real) is ok


def test_first_missing_keeps_order() -> None:
    real = ["x", "a", "y", "b"]
    assert first_missing(("a", "…", "b"), real) is None
    assert first_missing(("b", "a"), real) == "a"
    assert first_missing(("a", "z"), real) == "z"
