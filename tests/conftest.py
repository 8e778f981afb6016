"""Shared fixtures: run the CLI in-process, write a tiny valid project to a temporary folder, snapshot a tree,
note something at each call of a function."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from labelspec.cli import main

TINY_SPEC = """\
labelspec: 1
project: {{id: tiny, title: Tiny, version: 1.0.0}}
items: {{file: items.jsonl, id: item_id, fields: {{text: {{type: text}}}}}}
annotators: {{file: annotators.csv}}
tasks:
  sentiment:
    kind: single_choice
    question: What is the sentiment?
    labels:
      pos: {{title: Positive, definition: Satisfied.}}
      neg: {{title: Negative, definition: Dissatisfied.}}
      neu: {{title: Neutral, definition: Neither.}}
{extra_labels}quality:
  annotations_per_item: 3
  max_excluded_share: 1
  agreement: {{min: {agreement_min}}}
  bootstrap: {{replicates: 0}}
{extra}"""

#: Six items, three annotators who always agree: every gate of TINY_SPEC passes.
AGREEING = [(f"i{i}", a, lab) for i, lab in enumerate(["pos", "neg", "neu", "pos", "neg", "neu"], 1)
            for a in ("a1", "a2", "a3")]
#: The same items judged with no consistency at all: Krippendorff's alpha is far below 0.5.
DISAGREEING = [(f"i{i}", a, lab) for i, labs in enumerate(
    [("pos", "neg", "neu"), ("neg", "neu", "pos"), ("neu", "pos", "neg"),
     ("pos", "neu", "neg"), ("neg", "pos", "neu"), ("neu", "neg", "pos")], 1)
    for a, lab in zip(("a1", "a2", "a3"), labs, strict=True)]


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Tiny:
    root: Path
    labels: Path


def label_csv(rows: Sequence[tuple[str, str, str]]) -> str:
    """item, annotator, label triples as a label file in the default column names."""
    return "item_id,annotator_id,label\n" + "".join(f"{i},{a},{v}\n" for i, a, v in rows)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """``labelspec ARGV…`` in-process; returns the exit code and what was printed."""

    def run(*argv: str) -> Run:
        with pytest.raises(SystemExit) as exc:
            main(list(argv))
        captured = capsys.readouterr()
        code = exc.value.code
        return Run(code if isinstance(code, int) else (0 if code is None else 1), captured.out, captured.err)

    return run


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Callable[[object, str, Callable[[], object]], list[object]]:
    """``spy(owner, name, note)``: ``owner.name`` replaced by a wrapper that appends ``note()`` (the thread's
    name, the memory pool, …) to the returned list at each call, then calls the original."""

    def install(owner: object, name: str, note: Callable[[], object]) -> list[object]:
        seen: list[object] = []
        original = getattr(owner, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            seen.append(note())
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)
        return seen

    return install


@pytest.fixture
def tiny_project(tmp_path: Path) -> Callable[..., Tiny]:
    """A factory: ``tiny_project(rows=…, labels_text=…, agreement_min=…, extra=…, extra_labels=…, files=…)``."""

    def make(rows: Sequence[tuple[str, str, str]] = AGREEING, *, labels_text: str | None = None,
             agreement_min: float = 0.5, extra: str = "", extra_labels: str = "",
             files: dict[str, str] | None = None, name: str = "labels.csv") -> Tiny:
        root = tmp_path / "tiny"
        root.mkdir(exist_ok=True)
        (root / "labelspec.yaml").write_text(
            TINY_SPEC.format(agreement_min=agreement_min, extra=extra, extra_labels=extra_labels), "utf-8")
        (root / "items.jsonl").write_text("".join(f'{{"item_id": "i{i}", "text": "text {i}"}}\n'
                                                  for i in range(1, 7)), "utf-8")
        (root / "annotators.csv").write_text("id,role\na1,annotator\na2,annotator\na3,annotator\n", "utf-8")
        for rel, text in (files or {}).items():
            (root / rel).write_text(text, "utf-8")
        labels = tmp_path / name
        labels.write_text(label_csv(rows) if labels_text is None else labels_text, "utf-8")
        return Tiny(root, labels)

    return make


def tree(root: Path) -> dict[str, bytes | str]:
    """Every entry under root: files by content, directories and symlinks by kind."""
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            out[rel] = ("link:" + os.readlink(path) if path.is_symlink() else "dir" if path.is_dir()
                        else path.read_bytes())
    return out
