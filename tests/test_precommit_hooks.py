"""The pre-commit hooks the repository ships (``.pre-commit-hooks.yaml``) are well formed, run commands that exist,
and pass on the shipped specs; the README shows how to use them."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from labelspec.cli import cli

ROOT = Path(__file__).resolve().parents[1]
HOOKS: list[dict[str, Any]] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def test_every_hook_has_the_keys_pre_commit_requires() -> None:
    assert [h["id"] for h in HOOKS] == ["labelspec-validate", "labelspec-compile-check"]
    for hook in HOOKS:
        assert {"id", "name", "entry", "language"} <= set(hook)
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        assert shlex.split(hook["entry"])[0] == "labelspec"  # the console script pyproject.toml installs


@pytest.mark.parametrize("hook", HOOKS, ids=[h["id"] for h in HOOKS])
def test_each_hook_passes_on_the_shipped_specs(hook: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # pre-commit runs hooks at the repository root
    result = CliRunner().invoke(cli, [*shlex.split(hook["entry"])[1:], *hook.get("args", [])])
    assert result.exit_code == 0, result.output


def test_a_stale_generated_folder_fails_the_compile_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = next(h for h in HOOKS if h["id"] == "labelspec-compile-check")
    monkeypatch.chdir(tmp_path)  # an empty project: nothing generated yet
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "specs/demo"]).exit_code == 0
    result = runner.invoke(cli, [*shlex.split(hook["entry"])[1:], *hook["args"]])
    assert result.exit_code == 1, result.output


def test_the_readme_shows_the_hooks() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for hook in HOOKS:
        assert f"id: {hook['id']}" in readme
