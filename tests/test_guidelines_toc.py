"""A reader of guidelines.html finds every label, edge case and rule, linked from the table of contents."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from labelspec.spec.load import load_spec

ROOT = Path(__file__).resolve().parent.parent


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.in_nav = False
        self.nav_links: set[str] = set()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "nav":
            self.in_nav = True
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "a" and self.in_nav and (a.get("href") or "").startswith("#"):
            self.nav_links.add(str(a["href"])[1:])

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav":
            self.in_nav = False


@pytest.mark.parametrize("project", ["support-intent", "agent-trajectories"])
def test_contents_link_every_label_edge_case_and_rule(project: str) -> None:
    spec = load_spec(ROOT / "specs" / project)
    parser = _Links()
    parser.feed((ROOT / "generated" / project / "guidelines.html").read_text("utf-8"))
    wanted = {t.label_anchor(lab.id) for t in spec.tasks for lab in t.labels}
    wanted |= {e.id for t in spec.tasks for e in t.edge_cases}
    wanted |= {f"_rule-{r.id}" for t in spec.tasks for r in t.rules}
    assert wanted and wanted <= parser.nav_links  # linked from the contents …
    assert parser.nav_links <= parser.ids  # … and every contents link lands on an element
