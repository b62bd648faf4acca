"""`codewm repo trace`: a project's own test suite, run sandboxed with the calls plugin, as
function-level episodes in the CWM format (`codewm.repo.trace_run`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from codewm.cli.common import fail, print_json
from codewm.cli.repo_commands import CACHE_HELP, PROJECT_HELP, open_project, repo_app


@repo_app.command("trace")
def trace_command(
    project: str = typer.Argument(..., help=PROJECT_HELP),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for calls.jsonl, episodes.jsonl, report.json and source.toml (made if missing)."),
    cache: Optional[Path] = typer.Option(None, "--cache", help=CACHE_HELP),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds the whole suite may run; past them the sandbox is killed (and no calls are kept)."),
    max_per_function: int = typer.Option(64, "--max-per-function", help="Distinct calls (argument lists) kept per function; the rest are counted."),
    workers: int = typer.Option(2, "--workers", "-w", help="Sandbox processes tracing the episodes at once."),
    keyword: Optional[str] = typer.Option(None, "--keyword", help="Only the tests whose names match this pytest -k expression."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as one JSON document on stdout (report.json holds it too)."),
) -> None:
    """Run a project's tests sandboxed, record the calls of its own functions, and trace each as an episode."""
    from codewm.repo.trace_run import EPISODES_NAME, SOURCE_NAME, SuiteTimedOut, TraceRunError, trace_project
    from codewm.repo.workspace import WorkspaceError
    from codewm.trace.sandbox import SandboxError

    if not timeout > 0:
        fail("--timeout must be positive")
    if max_per_function < 1:
        fail("--max-per-function must be at least 1")
    if workers < 1:
        fail("--workers must be at least 1")
    if out.exists() and not out.is_dir():
        fail(f"--out {out}: is a file, not a folder")
    found = open_project(project, cache)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"--out {out}: cannot make the folder: {exc.strerror or exc}")

    def note(message: str) -> None:
        typer.secho(message, err=True, dim=True)

    try:
        run = trace_project(found, out, timeout=timeout, max_per_function=max_per_function, workers=workers, keyword=keyword, progress=note)
    except SuiteTimedOut as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    except (TraceRunError, WorkspaceError, SandboxError) as exc:
        fail(str(exc))
    report = run.to_dict()
    if json_out:
        print_json(report)
        return
    tests = report["tests"]
    typer.echo(f"{run.label}: {tests['run']} tests run ({tests['passed']} passed, {tests['failed']} failed, {tests['error']} error{'' if tests['error'] == 1 else 's'}, "
               f"{tests['skipped']} skipped), sandboxed")
    typer.echo(f"functions: {report['functions_seen']} seen, {report['functions_covered']} covered; calls recorded {report['calls_recorded']}; "
               f"episodes kept {report['episodes_kept']}")
    if report["dropped"]:
        typer.echo(f"not kept: {', '.join(f'{reason} {n}' for reason, n in report['dropped'].items())}")
    seconds = report["seconds"]
    typer.echo(f"seconds: {', '.join(f'{phase} {value:g}' for phase, value in seconds.items())}; {report['episodes_per_second']:g} episodes/s end to end, "
               f"{report['tracing_episodes_per_second']:g} while tracing")
    typer.echo(f"episodes: {out / EPISODES_NAME}; to mix them into `codewm dataset build`, add {out / SOURCE_NAME} to its config:")
    typer.echo((out / SOURCE_NAME).read_text().rstrip())
