"""G14 (a secure codebase by construction) and the code-level half of G6: scanned from syntax trees and with ruff.

No unsafe YAML loading, no eval/exec/pickle/shell=True, no templates compiled from strings, Jinja only with
autoescaping, no ``|safe`` in packaged templates, no network or dynamic imports at run time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import jinja2
import jinja2.nodes
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "labelspec"
MODULES = sorted(PACKAGE.rglob("*.py"))
TEMPLATES = sorted(PACKAGE.joinpath("templates").rglob("*.j2"))
RUFF_RULES = "S506,S701,S102,S307,S602,S301"

UNSAFE_YAML = {"unsafe_load", "unsafe_load_all", "full_load", "full_load_all", "FullLoader", "UnsafeLoader",
               "Loader", "CLoader", "CFullLoader", "CUnsafeLoader", "UnsafeConstructor", "FullConstructor"}
FORBIDDEN_IMPORTS = {"pickle", "cPickle", "_pickle", "dill", "shelve", "marshal", "cloudpickle",  # code as data
                     "socket", "urllib.request", "http.client", "requests", "httpx", "ftplib", "smtplib",  # network
                     "runpy", "subprocess"}
#: Markup() marks a string as safe HTML; each use is reviewed and listed here (module, enclosing function).
REVIEWED_MARKUP = {("labelspec/emit/guidelines.py", "guidelines_html")}


def rel(path: Path) -> str:
    return path.relative_to(PACKAGE.parent).as_posix()


@cache
def parsed() -> list[tuple[str, ast.Module]]:
    return [(rel(p), ast.parse(p.read_text("utf-8"), filename=str(p))) for p in MODULES]


def calls(node: ast.AST) -> list[ast.Call]:
    return [n for n in ast.walk(node) if isinstance(n, ast.Call)]


def called(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def test_the_scan_covers_the_package() -> None:
    names = {r for r, _ in parsed()}
    assert {"labelspec/spec/source.py", "labelspec/templating.py", "labelspec/cli.py"} <= names
    assert len(TEMPLATES) >= 3


def test_no_unsafe_yaml_loader_is_named_anywhere() -> None:
    hits = [f"{r}:{n.lineno} {ast.unparse(n)}" for r, t in parsed() for n in ast.walk(t)
            if (isinstance(n, ast.Attribute) and n.attr in UNSAFE_YAML and ast.unparse(n.value) == "yaml")
            or (isinstance(n, ast.Name) and n.id in UNSAFE_YAML - {"Loader"})
            or (isinstance(n, ast.alias) and n.name in UNSAFE_YAML)]
    assert hits == []


def test_yaml_load_is_never_called_without_a_safe_loader() -> None:
    """labelspec composes with its SafeLoader subclass; a bare yaml.load/load_all call is never acceptable."""
    bad = []
    for r, t in parsed():
        for c in calls(t):
            if called(c) in ("load", "load_all") and isinstance(c.func, ast.Attribute) \
                    and ast.unparse(c.func.value) == "yaml":
                loader = keyword(c, "Loader")
                if loader is None or ast.unparse(loader) not in ("yaml.SafeLoader", "yaml.CSafeLoader",
                                                                 "StrictLoader"):
                    bad.append(f"{r}:{c.lineno}")
    assert bad == []


def test_the_strict_loader_derives_from_safe_loader() -> None:
    import yaml

    from labelspec.spec.strict_yaml import StrictLoader

    assert issubclass(StrictLoader, yaml.SafeLoader)
    assert not issubclass(StrictLoader, (yaml.FullLoader, yaml.UnsafeLoader))


def test_no_eval_exec_or_dynamic_import() -> None:
    bad = [f"{r}:{c.lineno} {called(c)}" for r, t in parsed() for c in calls(t)
           if called(c) in ("eval", "exec", "__import__", "import_module", "spec_from_file_location",
                            "execfile", "run_path", "run_module")]
    assert bad == []


def test_compile_is_used_only_to_check_generated_source() -> None:
    """G7 asks generated code to pass compile(); it is never executed (no exec/eval above) in-process."""
    sites = sorted({r for r, t in parsed() for c in calls(t)
                    if called(c) == "compile" and isinstance(c.func, ast.Name)})
    assert set(sites) <= {"labelspec/emit/validator.py", "labelspec/emit/artifact.py"}


def test_no_pickle_network_or_subprocess_imports() -> None:
    found = []
    for r, t in parsed():
        for n in ast.walk(t):
            names = [a.name for a in n.names] if isinstance(n, ast.Import) else \
                [n.module or ""] if isinstance(n, ast.ImportFrom) else []
            found += [f"{r}:{n.lineno} {m}" for m in names
                      if m in FORBIDDEN_IMPORTS or m.split(".")[0] in FORBIDDEN_IMPORTS]
    assert found == []


def test_no_shell_true_and_no_os_system() -> None:
    bad = [f"{r}:{c.lineno}" for r, t in parsed() for c in calls(t)
           if (isinstance(keyword(c, "shell"), ast.Constant) and keyword(c, "shell").value is True)  # type: ignore[union-attr]
           or called(c) in ("system", "popen", "spawnl", "spawnv", "execv", "execvp")]
    assert bad == []


def test_templates_are_never_compiled_from_strings() -> None:
    """Spec text reaches only packaged templates, as variables (G6): no from_string, no Template(...)."""
    bad = []
    for r, t in parsed():
        jinja_names = {a.asname or a.name for n in ast.walk(t) if isinstance(n, ast.ImportFrom)
                       and (n.module or "").startswith("jinja2") for a in n.names}
        for c in calls(t):
            name = called(c)
            if name == "from_string" or (name == "Template" and (
                    isinstance(c.func, ast.Name) and "Template" in jinja_names
                    or isinstance(c.func, ast.Attribute) and ast.unparse(c.func.value) == "jinja2")):
                bad.append(f"{r}:{c.lineno} {ast.unparse(c.func)}")
    assert bad == []


def test_every_jinja_environment_sets_autoescape_and_html_sets_it_true() -> None:
    envs = [(r, c) for r, t in parsed() for c in calls(t) if called(c) in ("Environment", "SandboxedEnvironment")]
    assert envs, "the scan found no Jinja environment at all"
    for r, c in envs:
        value = keyword(c, "autoescape")
        assert value is not None, f"{r}:{c.lineno}: Environment without autoescape"
        assert not (isinstance(value, ast.Constant) and value.value in (False, None)), f"{r}:{c.lineno}"
        assert keyword(c, "undefined") is not None or any(k.arg is None for k in c.keywords), f"{r}:{c.lineno}"
    assert any(isinstance(keyword(c, "autoescape"), ast.Constant) and keyword(c, "autoescape").value is True  # type: ignore[union-attr]
               for _, c in envs)


def test_the_html_environment_escapes_and_is_strict() -> None:
    from labelspec.templating import environment

    env = environment("html")
    assert env.autoescape is True and env.undefined is jinja2.StrictUndefined and env.keep_trailing_newline
    assert env.from_string("{{ x }}").render(x="<script>&") == "&lt;script&gt;&amp;"  # the test, not the code


def test_markup_is_only_used_at_reviewed_sites() -> None:
    sites = set()
    for path in MODULES:
        t = ast.parse(path.read_text("utf-8"))
        for fn in [n for n in ast.walk(t) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            sites |= {(rel(path), fn.name) for c in calls(fn) if called(c) == "Markup"}
        top_level = [c for stmt in t.body if not isinstance(stmt, (ast.FunctionDef, ast.ClassDef))
                     for c in calls(stmt) if called(c) == "Markup"]
        sites |= {(rel(path), "<module>") for _ in top_level}
    assert sites <= REVIEWED_MARKUP


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_packaged_templates_never_mark_data_safe(template: Path) -> None:
    """Parsed with Jinja's own parser: no ``|safe`` filter and no autoescape-off block in any template."""
    env = jinja2.Environment(autoescape=True)
    ast_ = env.parse(template.read_text("utf-8"))
    filters = {f.name for f in ast_.find_all(jinja2.nodes.Filter)}
    assert "safe" not in filters
    for scope in ast_.find_all(jinja2.nodes.ScopedEvalContextModifier):
        for opt in scope.options:
            assert not (opt.key == "autoescape" and isinstance(opt.value, jinja2.nodes.Const)
                        and opt.value.value is False)


def _ruff(*paths: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--ignore-noqa",
                           "--select", RUFF_RULES, "--output-format", "concise", *paths],
                          capture_output=True, text=True, cwd=PACKAGE.parent)


def test_ruff_security_rules_are_clean() -> None:
    r = _ruff("labelspec")
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_security_rules_would_catch_violations(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import pickle, subprocess, yaml\nfrom jinja2 import Environment\n"
                   "yaml.load(open('x'))\neval('1')\nexec('1')\npickle.loads(b'')\n"
                   "subprocess.run('ls', shell=True)\nEnvironment(autoescape=False)\n", "utf-8")
    r = _ruff(str(bad))
    assert r.returncode == 1
    codes = {line.split(" ")[1] for line in r.stdout.splitlines() if line.startswith(str(bad))}
    assert codes == {"S506", "S307", "S102", "S301", "S602", "S701"}
