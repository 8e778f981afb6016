"""The check's work across threads (labelspec/check/runner.py): the only task's codes made while the rows are
accounted, and the hotspots beside the findings, give the report the plain order gives."""

from __future__ import annotations

import threading

import pytest
from conftest import AGREEING, DISAGREEING

from labelspec import api
from labelspec.check import analyze, runner
from labelspec.check.render import render_json


def _calls(monkeypatch: pytest.MonkeyPatch, module: object) -> list[str]:
    """The threads that call ``module.encode`` from now on."""
    seen: list[str] = []
    encode = module.encode  # type: ignore[attr-defined]

    def spy(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return encode(*args, **kwargs)

    monkeypatch.setattr(module, "encode", spy)
    return seen


def _plain(monkeypatch: pytest.MonkeyPatch, project) -> str:
    """The JSON report without codes made early (the analysis encodes the used rows itself)."""
    with monkeypatch.context() as m:
        m.setattr(runner, "_early_codes", lambda spec, frame, by_item: None)
        return render_json(api.check_labels(project.root, [project.labels]).to_dict())


def test_the_codes_made_while_accounting_serve_when_every_row_is_used(tiny_project, monkeypatch) -> None:
    p = tiny_project(DISAGREEING)
    plain = _plain(monkeypatch, p)
    early, late = _calls(monkeypatch, runner), _calls(monkeypatch, analyze)
    assert render_json(api.check_labels(p.root, [p.labels]).to_dict()) == plain
    assert [name.startswith("labelspec-consensus") for name in early] == [True]  # on the second core
    assert late == []  # the analysis took them: no second encoding


@pytest.mark.parametrize("bad_row", ["i1,a1,pos", "i2,a4,neg", "i3,a2,nonsense"],
                         ids=["duplicate", "not-in-roster", "unknown-label"])
def test_they_are_set_aside_when_the_accounting_excludes_rows(tiny_project, monkeypatch, bad_row: str) -> None:
    p = tiny_project(AGREEING)
    p.labels.write_text(p.labels.read_text("utf-8") + bad_row + "\n", "utf-8")
    plain = _plain(monkeypatch, p)
    early, late = _calls(monkeypatch, runner), _calls(monkeypatch, analyze)
    report = api.check_labels(p.root, [p.labels])
    assert report.accounting.rows_read == len(AGREEING) + 1 and len(report.accounting.exclusions) == 1
    assert render_json(report.to_dict()) == plain
    assert len(early) == 1 and late == ["MainThread"]  # made, then encoded anew from the used rows


def test_an_early_encoding_that_fails_is_done_again(tiny_project, monkeypatch) -> None:
    p = tiny_project(DISAGREEING)
    plain = _plain(monkeypatch, p)

    def broken(*args, **kwargs):
        raise ValueError("rows the accounting would exclude")

    monkeypatch.setattr(runner, "encode", broken)
    late = _calls(monkeypatch, analyze)
    assert render_json(api.check_labels(p.root, [p.labels]).to_dict()) == plain
    assert late == ["MainThread"]


def test_a_spec_of_several_tasks_encodes_nothing_early(monkeypatch) -> None:
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "specs" / "support-intent"
    spec = api.load_spec(example)
    if len(spec.tasks) < 2:
        pytest.skip("the example has one task")
    early = _calls(monkeypatch, runner)
    api.check_labels(example, [example / "labels"])
    assert early == []


def test_the_hotspots_are_found_on_their_own_thread(tiny_project, monkeypatch) -> None:
    from labelspec.check import hotspots

    p = tiny_project(DISAGREEING)
    seen: list[str] = []
    find = hotspots.find_hotspots

    def spy(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return find(*args, **kwargs)

    monkeypatch.setattr(hotspots, "find_hotspots", spy)
    report = api.check_labels(p.root, [p.labels])
    assert [name.startswith("labelspec-hotspots") for name in seen] == [True]
    assert report.sections["hotspots"]["items"]  # disagreeing labels: every item is disputed
