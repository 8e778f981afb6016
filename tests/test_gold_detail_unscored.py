"""When no annotator reaches ``quality.gold.min_judgments`` the ``gold.accuracy`` gate is undefined, and its detail
still names the annotators not scored with their counts, as docs/spec-language.md says (audit fix 53)."""

from __future__ import annotations

from collections.abc import Callable

from conftest import Run, Tiny

from labelspec import api

GOLD = "item,unit,task,label,why\ni1,,sentiment,pos,\ni2,,sentiment,neg,\n"


def _tiny(tiny_project: Callable[..., Tiny], least: int) -> Tiny:
    extra = f"  gold: {{file: gold.csv, min_accuracy: 0.9, min_judgments: {least}}}\n"
    return tiny_project(extra=extra, files={"gold.csv": GOLD})


def test_an_undefined_gold_gate_names_the_annotators_it_could_not_score(tiny_project: Callable[..., Tiny]) -> None:
    p = _tiny(tiny_project, 20)  # each annotator has 2 gold judgments
    (g,) = [g for g in api.check_labels(p.root, [p.labels]).gates if g.gate.id == "gold.accuracy"]
    assert (g.status, g.measure.reason) == ("undefined", "no annotator has ≥ 20 gold judgments")
    assert g.measure.detail == "not scored, fewer than 20 gold judgments: a1 (2), a2 (2), a3 (2)"


def test_the_terminal_line_shows_them(tiny_project: Callable[..., Tiny], run_cli: Callable[..., Run]) -> None:
    p = _tiny(tiny_project, 20)
    r = run_cli("check", str(p.root), str(p.labels))
    (line,) = [t for t in r.out.splitlines() if "gold.accuracy" in t]
    assert "UNDEFINED" in line and "(not scored, fewer than 20 gold judgments: a1 (2), a2 (2), a3 (2))" in line


def test_a_defined_gate_keeps_its_lowest_annotator_first(tiny_project: Callable[..., Tiny]) -> None:
    p = _tiny(tiny_project, 2)
    (g,) = [g for g in api.check_labels(p.root, [p.labels]).gates if g.gate.id == "gold.accuracy"]
    assert g.status == "pass" and g.measure.detail == "lowest: a1 (2/2)"
