"""Layer rules (DESIGN.md §6, STYLE.md §3.2), enforced by reading every module's syntax tree (never by regex).

Imports inside functions and under ``TYPE_CHECKING`` count: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "labelspec"
MODULES = sorted(PACKAGE.rglob("*.py"))

#: Modules allowed to open, read or write files (plus package-data reads through importlib.resources).
FILESYSTEM_MODULES = {
    "labelspec.api", "labelspec.atomic_write",
    "labelspec.spec.source", "labelspec.spec.paths", "labelspec.spec.extends", "labelspec.spec.load",
    "labelspec.spec.datafiles",
    "labelspec.check.readers", "labelspec.check.context",
    "labelspec.emit.artifact", "labelspec.regular_file",
    "labelspec.runtime",  # /proc/cpuinfo: which CPU the process runs on, never data
}
FILESYSTEM_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes"}
#: The statistics layer sees count tables (numpy), never DataFrames.
STATS_MODULES = {"alpha", "estimate", "multirater", "pairwise", "bootstrap", "proportions"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text("utf-8"), filename=str(path))


def imports(path: Path) -> set[str]:
    return imports_of(tree(path), module_name(path), is_package=path.name == "__init__.py")


def imports_of(node: ast.Module, me: str, *, is_package: bool = False) -> set[str]:
    """Every module imported, absolute; ``from a import b`` yields ``a`` and ``a.b`` (b may be a module)."""
    package = me.split(".") if is_package else me.split(".")[:-1]
    out: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Import):
            out |= {alias.name for alias in n.names}
        elif isinstance(n, ast.ImportFrom):
            base = n.module or ""
            if n.level:
                anchor = package[: len(package) - n.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            out.add(base)
            out |= {f"{base}.{alias.name}" for alias in n.names}
    return out


def by_name() -> dict[str, Path]:
    return {module_name(p): p for p in MODULES}


def in_package(names: set[str], prefix: str) -> set[str]:
    return {n for n in names if n == prefix or n.startswith(prefix + ".")}


def call_name(node: ast.Call) -> tuple[str, str]:
    """(receiver source, called name): ``os.replace(a, b)`` → ("os", "replace"); ``open(p)`` → ("", "open")."""
    func = node.func
    if isinstance(func, ast.Name):
        return "", func.id
    if isinstance(func, ast.Attribute):
        return ast.unparse(func.value), func.attr
    return "", ""


def calls_with_scope(path: Path) -> list[tuple[str, str, str, int]]:
    """(receiver, name, enclosing function qualname, line) of every call in the module."""
    found: list[tuple[str, str, str, int]] = []

    def visit(node: ast.AST, scope: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{scope}.{child.name}" if scope else child.name
            if isinstance(child, ast.Call):
                receiver, name = call_name(child)
                found.append((receiver, name, scope, child.lineno))
            visit(child, inner)

    visit(tree(path), "")
    return found


def test_the_scan_sees_the_package() -> None:
    names = set(by_name())
    assert {"labelspec.cli", "labelspec.api", "labelspec.spec.model", "labelspec.check.stats",
            "labelspec.emit.artifact"} <= names
    assert "click" in imports(by_name()["labelspec.cli"])
    assert "labelspec.errors.SourceLocation" in imports(by_name()["labelspec.spec.model"])


def test_relative_imports_are_resolved() -> None:
    source = ast.parse("from . import stats\nfrom ..spec import model\nfrom .gates import evaluate\n"
                       "import numpy as np\n")
    assert imports_of(source, "labelspec.check.probe") == {
        "labelspec.check", "labelspec.check.stats", "labelspec.spec", "labelspec.spec.model",
        "labelspec.check.gates", "labelspec.check.gates.evaluate", "numpy"}
    assert imports_of(ast.parse("from .model import Spec\n"), "labelspec.spec", is_package=True) == {
        "labelspec.spec.model", "labelspec.spec.model.Spec"}


@pytest.mark.parametrize("path", [p for p in MODULES if module_name(p).startswith("labelspec.spec")],
                         ids=module_name)
def test_spec_never_imports_emit_or_check(path: Path) -> None:
    names = imports(path)
    assert not in_package(names, "labelspec.emit") | in_package(names, "labelspec.check")


@pytest.mark.parametrize("path", [p for p in MODULES if module_name(p).startswith("labelspec.emit")],
                         ids=module_name)
def test_emit_never_imports_check(path: Path) -> None:
    assert not in_package(imports(path), "labelspec.check")


@pytest.mark.parametrize("path", [p for p in MODULES if module_name(p).startswith("labelspec.check")],
                         ids=module_name)
def test_check_never_imports_emit_or_the_cli(path: Path) -> None:
    names = imports(path)
    assert not in_package(names, "labelspec.emit")
    assert not in_package(names, "labelspec.cli") | in_package(names, "labelspec.api")


def _stats_closure() -> set[str]:
    modules = by_name()
    todo, seen = ["labelspec.check.stats"], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in modules:
            continue
        seen.add(name)
        todo.extend(in_package(imports(modules[name]), "labelspec"))
    return seen


def test_stats_and_everything_it_imports_never_touch_pandas() -> None:
    closure = _stats_closure()
    assert {f"labelspec.check.{m}" for m in STATS_MODULES} <= closure  # the rule covers what stats re-exports
    offenders = {m for m in closure if in_package(imports(by_name()[m]), "pandas")}
    assert offenders == set()


def test_only_the_cli_imports_click() -> None:
    offenders = {module_name(p) for p in MODULES if in_package(imports(p), "click")}
    assert offenders == {"labelspec.cli"}


def test_the_model_imports_only_the_standard_library_and_errors() -> None:
    names = imports(by_name()["labelspec.spec.model"])
    foreign = {n for n in names if n.split(".")[0] not in sys.stdlib_module_names and n != "__future__"
               and not (n == "labelspec.errors" or n.startswith("labelspec.errors."))}
    assert foreign == set()


def test_the_library_never_prints_or_exits() -> None:
    """Only the CLI exits; only console.py's progress printer prints (to stderr, for long work)."""
    offenders = []
    for path in MODULES:
        mod = module_name(path)
        for receiver, name, scope, line in calls_with_scope(path):
            exits = (receiver, name) in {("sys", "exit"), ("os", "_exit"), ("", "exit"), ("", "quit")}
            prints = (receiver, name) == ("", "print") or (receiver in ("sys.stdout", "sys.stderr")
                                                          and name == "write")
            if exits and mod != "labelspec.cli":
                offenders.append(f"{mod}:{line} {receiver}.{name}")
            if prints and mod not in ("labelspec.cli",) and not (
                    mod == "labelspec.console" and scope.startswith("stderr_progress")):
                offenders.append(f"{mod}:{line} {receiver}.{name} in {scope or '<module>'}")
    assert offenders == []


def _reads_package_data(receiver: str) -> bool:
    return receiver.startswith(("files(", "importlib.resources.files(", "resources.files("))


def test_only_the_io_modules_touch_the_filesystem() -> None:
    offenders = []
    for path in MODULES:
        mod = module_name(path)
        if mod in FILESYSTEM_MODULES or mod.startswith("labelspec.check.read_"):
            continue
        for receiver, name, _, line in calls_with_scope(path):
            fs = name in FILESYSTEM_CALLS or (receiver, name) in {("os", "replace"), ("os", "rename")}
            if fs and not _reads_package_data(receiver):
                offenders.append(f"{mod}:{line} {receiver}.{name}")
    assert offenders == []


def test_the_filesystem_scan_would_catch_a_write() -> None:
    """The scan is not vacuous: the allowed modules really are the ones doing I/O."""
    doing_io = {module_name(p) for p in MODULES
                if any(n in FILESYSTEM_CALLS or (r, n) == ("os", "replace") for r, n, _, _ in calls_with_scope(p))}
    assert {"labelspec.api", "labelspec.regular_file", "labelspec.emit.artifact"} <= doing_io
