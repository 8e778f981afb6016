"""The command line: parse options, call the API, render, exit. The only module that imports click.

Exit codes, the same for every command: 0 success, 1 a blocking gate failed or drift found, 2 bad usage, spec or
input, 3 internal error (a bug), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM). A crash never exits 1.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from labelspec import __version__
from labelspec.check.render import render_json, safe, safe_lines
from labelspec.console import render_diagnostics, stderr_progress
from labelspec.errors import Diagnostic, LabelspecError, SourceLocation

EXIT_OK, EXIT_GATE, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143
KINDS = ["single_choice", "multi_choice", "rating", "spans", "pairwise", "ranking", "text", "attribution"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="labelspec")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """labelspec: label specs under version control, compiled guidelines and validators, release gates."""
    from labelspec.runtime import configure_arrow, configure_huge_pages, configure_malloc, configure_numpy

    configure_numpy()  # the process is ours: numpy's faster sorts on AMD Zen 4, before pyarrow imports numpy
    configure_huge_pages()  # and its arrays in small pages where huge ones come back slowly (a ballooned VM)
    configure_malloc()  # freed arrays reused, not fresh pages each time (glibc)
    configure_arrow()  # and Arrow's faster pool for the readers (see labelspec/runtime.py)
    ctx.obj = {"debug": debug}


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (the same as --format json).")
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...], fmt: str, as_json: bool) -> None:
    """Validate spec files or folders (searched for labelspec.yaml). Exit 0 valid, 2 invalid."""
    from labelspec import api

    if as_json:  # the spelling of diff and check; --format stays for the scripts that use it
        if fmt == "text" and ctx.get_parameter_source("fmt") is not click.core.ParameterSource.DEFAULT:
            raise click.UsageError("--json and --format text ask for two different outputs: give one")
        fmt = "json"
    results = api.validate_paths(paths)
    if fmt == "json":
        click.echo(json.dumps([{"path": r.path, "ok": r.ok, "diagnostics": [d.to_dict() for d in r.diagnostics]}
                               for r in results], indent=2, sort_keys=True))
    else:
        for r in results:
            if r.diagnostics:
                click.echo(render_diagnostics(r.diagnostics), err=True)
            if r.ok:
                click.echo(safe(f"{r.path}: ok"))
    _github_annotations([d for r in results for d in r.diagnostics])
    sys.exit(EXIT_OK if all(r.ok for r in results) else EXIT_INPUT)


def _github_annotations(diagnostics: list[Any]) -> None:
    """Under GitHub Actions, problems are also workflow commands at their file and line (stderr)."""
    if diagnostics and os.environ.get("GITHUB_ACTIONS") == "true":
        from labelspec.check.render import github_diagnostics

        click.echo(github_diagnostics(diagnostics), nl=False, err=True)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the spec language (for editors: `# yaml-language-server: $schema=…`)."""
    from importlib.resources import files

    click.echo(files("labelspec.schemas").joinpath("spec-v1.schema.json").read_text("utf-8"), nl=False)


@cli.command()
@click.option("--kind", type=click.Choice(KINDS), default="single_choice", show_default=True,
              help="The kind of the starter task.")
@click.option("--id", "project_id", default=None, help="Project id (default: the folder name).")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(kind: str, project_id: str | None, directory: Path) -> None:
    """Scaffold a commented, valid spec project in DIRECTORY."""
    from labelspec import api

    written = api.init_project(directory, kind=kind, project_id=project_id)
    for path in written:
        click.echo(safe(f"wrote {path}"))


@cli.command()
@click.argument("old", type=click.Path(exists=True, path_type=Path))
@click.argument("new", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the changes as JSON.")
def diff(old: Path, new: Path, as_json: bool) -> None:
    """What changed from spec OLD to spec NEW (files or folders), and whether NEW's version bump fits the
    changes. Exit 0 when it does, 1 when it does not."""
    from labelspec import api

    result = api.diff_specs(old, new)
    if as_json:
        click.echo(render_json(json.loads(json.dumps(result.to_dict(), default=str))), nl=False)
    else:
        click.echo(safe_lines(result.summary()), nl=False)
    sys.exit(EXIT_OK if result.ok else EXIT_GATE)


@cli.command("compile")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("generated"), show_default=True,
              help="Folder of the generated artefacts (one subfolder per project).")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; exit 1 if generated files are stale.")
@click.option("--diff", is_flag=True, help="With --check: show a unified diff of what would change.")
def compile_cmd(paths: tuple[Path, ...], out: Path, check_only: bool, diff: bool) -> None:
    """Compile specs into guidelines, validators, gate plans and tool configs under --out."""
    from labelspec import api

    result = api.compile_paths(paths or (Path("specs"),), out=out, check=check_only, diff=diff)
    click.echo(safe_lines(result.summary()), nl=False)
    sys.exit(EXIT_GATE if check_only and result.drift else EXIT_OK)


def _json_on_stdout(args: list[str]) -> bool:
    """Whether the command line asks for JSON on stdout: ``--json -`` (or ``--json=-``) of check or calibrate,
    ``--json`` of validate or diff, ``--format json`` of validate."""
    command = next((a for a in args if not a.startswith("-")), None)
    if command in ("validate", "diff"):
        return "--json" in args or "--format=json" in args or any(
            a == "--format" and args[i + 1:i + 2] == ["json"] for i, a in enumerate(args))
    return any(a == "--json=-" or (a == "--json" and args[i + 1:i + 2] == ["-"]) for i, a in enumerate(args)) and \
        bool({"check", "calibrate"} & set(args))


def _diagnostics_json(diagnostics: list[Diagnostic]) -> None:
    """With ``--json -`` a machine reads stdout: an error that ends the run (exit 2: usage, spec or input) is
    printed there as JSON (``{"exit_code": 2, "diagnostics": [...]}``, the records of ``validate --format json``)
    besides the text on stderr, so the reader never gets an empty document."""
    click.echo(render_json({"exit_code": EXIT_INPUT, "diagnostics": [d.to_dict() for d in diagnostics]}), nl=False)


def _check_report_paths(**paths: Path | None) -> None:
    """Report paths checked before any work (a command that fails on one must not have written anything else, such
    as calibrate's roster): only ``--json`` writes to stdout as ``-``; two options naming one file would keep only
    the last report; a file where a folder of the path should be cannot be written through (click already refuses
    a folder as the path). Paths that would overwrite an input are refused by the API, which knows the inputs."""
    seen: dict[str, str] = {}
    for option, path in paths.items():
        if path is not None and str(path) == "-" and option != "json":
            raise click.UsageError(f"--{option} cannot write to stdout ('-'): only --json can; name a file")
        if path is None or str(path) == "-":
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise click.UsageError(safe(f"--{seen[key]} and --{option} name the same file {path}"))
        seen[key] = option
        above = next((a for a in path.absolute().parents if a.exists()), None)
        if above is not None and not above.is_dir():
            raise click.UsageError(safe(f"--{option} {path} cannot be written: {above} is a file, not a folder"))


def _write_reports(report: Any, json_path: Path | None, junit: Path | None, markdown: Path | None,
                   html: Path | None) -> None:
    """Every report is rendered first, then all are written at once: all or nothing (``write_texts_atomic``)."""
    from labelspec.atomic_write import write_texts_atomic
    from labelspec.check import render, render_html

    d = report.to_dict()
    renderers: tuple[tuple[Path | None, Callable[[], str]], ...] = (
        (json_path, lambda: render.render_json(d)),
        (junit, lambda: render.render_junit(d, strict=report.strict)),
        (markdown, lambda: render.render_markdown(d)),
        (html, lambda: render_html.render_html(d)),
    )
    write_texts_atomic([(path, text()) for path, text in renderers if path is not None])


@cli.command()
@click.argument("spec", type=click.Path(exists=True, path_type=Path))
@click.argument("label_files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--gold", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Gold file (overrides the spec's).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here ('-' for stdout).")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report (one test per gate).")
@click.option("--markdown", type=click.Path(dir_okay=False, path_type=Path), help="Write a Markdown summary.")
@click.option("--html", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML report (tables and plots, no script).")
@click.option("--strict", is_flag=True, help="Warnings block the release too.")
@click.option("--bootstrap", type=click.IntRange(0, 100000), default=None,
              help="Bootstrap replicates (0: no intervals)  [default: the spec's bootstrap.replicates]")
@click.option("--quiet", "-q", is_flag=True, help="Print only the verdict line.")
def check(spec: Path, label_files: tuple[Path, ...], gold: Path | None, json_path: Path | None, junit: Path | None,
          markdown: Path | None, html: Path | None, strict: bool, bootstrap: int | None, quiet: bool) -> None:
    """Check LABEL_FILES against SPEC's release gates. Exit 0 release may go, 1 a blocking gate failed."""
    from labelspec import api
    from labelspec.check import render

    _check_report_paths(json=json_path, junit=junit, markdown=markdown, html=html)
    reports = api.Outputs(files={"--json": json_path, "--junit": junit, "--markdown": markdown, "--html": html})
    to_stdout = json_path is not None and str(json_path) == "-"
    report = api.check_labels(spec, label_files, gold=gold, strict=strict, bootstrap=bootstrap,
                              progress=stderr_progress(quiet), reports=reports, refuse_bootstrap_off=True)
    _write_reports(report, None if to_stdout else json_path, junit, markdown, html)
    d = report.to_dict()
    if to_stdout:
        click.echo(render.render_json(d), nl=False)
    else:
        # no-color.org: NO_COLOR set to a non-empty value turns colour off
        text = render.render_text(d, color=sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
        click.echo(text.splitlines()[-1] if quiet else text, nl=quiet)
    if os.environ.get("GITHUB_ACTIONS") == "true":  # the runner reads workflow commands from stdout and stderr
        click.echo(render.render_github(d), nl=False, err=to_stdout)  # keep `--json -` parseable
    sys.exit(report.exit_code)


@cli.command()
@click.argument("spec", type=click.Path(exists=True, path_type=Path))
@click.argument("submissions", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--roster", type=click.Path(dir_okay=False, path_type=Path), help="Roster to update (default: the spec's annotators file).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report here ('-' for stdout).")
@click.option("--dry-run", is_flag=True, help="Score and report; leave the roster untouched.")
@click.option("--require-all", is_flag=True, help="Exit 1 when any annotator failed calibration.")
def calibrate(spec: Path, submissions: tuple[Path, ...], roster: Path | None, json_path: Path | None, dry_run: bool,
              require_all: bool) -> None:
    """Score calibration-round SUBMISSIONS against SPEC's calibration set and update the roster.

    Exit 0 when everything was scored, even if annotators failed (that is information); 1 with --require-all.
    """
    from labelspec import api
    from labelspec.check import calibrate as cal
    from labelspec.check import render

    _check_report_paths(json=json_path)
    result = api.calibrate(spec, submissions, roster=roster, dry_run=dry_run, report=json_path)  # writes both
    d = result.to_dict()
    click.echo(render.render_json(d) if str(json_path) == "-" else cal.render_text(d), nl=False)
    sys.exit(result.exit_code(require_all=require_all))


_SPEC = click.argument("spec", type=click.Path(exists=True, path_type=Path))
_LABELS = click.argument("label_files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))


@cli.command()
@_SPEC
@_LABELS
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("review"), show_default=True,
              help="Folder for review-queue.csv, .jsonl and .labelstudio.json.")
@click.option("--gold", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Gold file (overrides the spec's).")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def adjudicate(spec: Path, label_files: tuple[Path, ...], out: Path, gold: Path | None, quiet: bool) -> None:
    """Write the expert-review queue: units that consensus routed to an expert, with every judgment."""
    from labelspec import api

    result = api.adjudicate(spec, label_files, out=out, gold=gold, progress=stderr_progress(quiet))
    click.echo(f"{result.queued} of {result.units} units need expert review")
    for path in result.written:
        click.echo(safe(f"wrote {path}"))
    sys.exit(EXIT_OK)


@cli.command()
@_SPEC
@_LABELS
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Release folder.")
@click.option("--accept-failing", "accept", multiple=True, metavar="GATE_ID",
              help="Release although this blocking gate fails; needs a --reason (repeatable, paired in order).")
@click.option("--reason", "reasons", multiple=True, metavar="TEXT", help="Why the gate is accepted (recorded).")
@click.option("--gold", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Gold file (overrides the spec's).")
@click.option("--strict", is_flag=True, help="Warnings block the release too.")
@click.option("--bootstrap", type=click.IntRange(0, 100000), default=None,
              help="Bootstrap replicates (0: no intervals)  [default: the spec's bootstrap.replicates]")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def release(spec: Path, label_files: tuple[Path, ...], out: Path, accept: tuple[str, ...], reasons: tuple[str, ...],
            gold: Path | None, strict: bool, bootstrap: int | None, quiet: bool) -> None:
    """Run the gates; only when every blocking gate passes (or is accepted) write the consensus dataset."""
    from labelspec import api

    if len(accept) != len(reasons):
        raise click.UsageError("give exactly one --reason per --accept-failing")
    result = api.release(spec, label_files, out=out, accept=list(zip(accept, reasons, strict=True)), gold=gold, strict=strict,
                         bootstrap=bootstrap, progress=stderr_progress(quiet), refuse_bootstrap_off=True)
    for refusal in result.refusals():
        click.echo(safe(f"release refused: blocking gate {refusal} (nothing written)"), err=True)
    if result.refused:  # what to do next: fix the data, or accept the failure on the record
        click.echo("  fix what the gate measures (see `labelspec check`), or release anyway with "
                   "--accept-failing GATE_ID --reason TEXT (recorded in the manifest)", err=True)
    for o in result.overrides:  # an override of a gate that does not block is recorded, not applied
        click.echo(safe(f"{_override_said(o, result.report.gates)} {o['gate']} ({o['status']}): {o['reason']}"),
                   err=True)
    for path in result.written:
        click.echo(safe(f"wrote {path}"))
    if not result.refused:
        held = ", ".join(f"{reason} {n}" for reason, n in result.held_back.items())
        click.echo(f"released {result.released} row{'' if result.released == 1 else 's'}"
                   + (f"; held back: {held}" if held else ""))
    sys.exit(result.exit_code)


def _override_said(override: dict[str, Any], gates: Any) -> str:
    """How an ``--accept-failing`` came out: applied, or not needed because the gate passed, or because it is a
    warning (which blocks only under ``--strict``) that failed."""
    if override["applied"]:
        return "accepted"
    if override["status"] == "pass":
        return "not needed, the gate did not fail:"
    severity = next((g.gate.severity for g in gates if g.gate.id == override["gate"]), "warn")
    return f"not needed, a {severity} gate blocks only with --strict:"


class Terminated(BaseException):
    """SIGTERM (``timeout``, a cancelled CI job), raised in the main thread so that ``finally`` blocks remove
    temporary files as on Ctrl-C. A BaseException, like KeyboardInterrupt: ``except Exception`` does not stop it."""


def _on_sigterm(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM does not interrupt the cleanup
    raise Terminated


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps every outcome to the documented exit codes."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    main_thread = threading.current_thread() is threading.main_thread()  # only it may set signal handlers
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main_thread else None
    try:
        _run(argv, debug)
    finally:
        if main_thread:  # in-process callers (tests, embedding) get their handler back
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _run(argv: list[str] | None, debug: bool) -> None:
    """Run the command line and map every outcome to the documented exit codes."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        light = bool({"--version", "--help", "-h"} & set(args)) or [a for a in args if not a.startswith("-")][:1] == [
            "schema"]  # commands that never import numpy need no valid date
        if "SOURCE_DATE_EPOCH" in os.environ and not light:  # before numpy reads it (scipy's import) and fails on it
            from labelspec.source_date import check_source_date_epoch

            check_source_date_epoch(os.environ["SOURCE_DATE_EPOCH"])
        cli.main(args=argv, prog_name="labelspec", standalone_mode=False)
    except LabelspecError as exc:
        if _json_on_stdout(args):
            _diagnostics_json(list(exc.diagnostics))
        click.echo(render_diagnostics(exc.diagnostics), err=True)
        _github_annotations(list(exc.diagnostics))  # the same problems on the lines of the pull request
        sys.exit(EXIT_INPUT)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        if _json_on_stdout(args):
            _diagnostics_json([Diagnostic("LS501", exc.format_message(), SourceLocation("<command line>"))])
        exc.show()
        _github_annotations([Diagnostic("LS501", exc.format_message())])  # a usage problem has no file
        sys.exit(EXIT_INPUT)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Terminated:
        click.echo("terminated", err=True)
        sys.exit(EXIT_TERMINATED)
    except SystemExit:
        raise
    except BaseException as exc:  # noqa: BLE001 — the contract: a bug exits 3, never 1
        click.echo(f"labelspec: internal error ({type(exc).__name__}: {safe(exc)}). This is a bug; please report it "
                   "with the command you ran." + ("" if debug else " Run with --debug for the traceback."), err=True)
        if debug:  # the traceback quotes data (messages, values) too: escaped like every other line
            click.echo(safe_lines("".join(traceback.format_exception(exc))), err=True, nl=False)
        sys.exit(EXIT_INTERNAL)
    sys.exit(EXIT_OK)
