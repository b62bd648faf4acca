"""`codewm demo` and `codewm debug`: a world model predicts, the sandbox tells the truth."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from codewm.cli.app import app
from codewm.cli.common import (
    MODEL_HELP,
    STRUCTURED_HELP,
    fail,
    load_model,
    open_sandbox,
    read_text,
)


@app.command()
def demo(
    model: str = typer.Option("builtin", "--model", "-m", help=MODEL_HELP),
    structured: Optional[bool] = typer.Option(None, "--structured/--free", help=STRUCTURED_HELP),
    count: int = typer.Option(3, "--count", help="How many of the bundled CRUXEval-style functions to add to the hand-written examples."),
    report: Path = typer.Option(Path("codewm-demo.html"), "--report", help="Where to write the HTML report."),
    max_frames: int = typer.Option(2000, help="Frames predicted per program at most."),
    isolation: str = typer.Option("auto", help="auto | bwrap | process: the sandbox of the real runs."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar on stderr (it is drawn on a terminal only)."),
) -> None:
    """A world model predicts the traces of the bundled examples; see them against the real runs."""
    from codewm.debugger.demo import run_demo, summary_lines, write_demo_report
    from codewm.examples import bundled_examples
    from codewm.format.pretty import terminal_safe

    if count < 0 or max_frames < 1:
        fail("--count must be 0 or more and --max-frames at least 1")
    examples = bundled_examples(count)
    predictor = loading(model, structured, quiet)
    with open_sandbox(isolation, 10_000, 10.0, 400) as sandbox:
        typer.secho(
            f"codewm demo: {getattr(predictor, 'name', model)} predicts the traces of {len(examples)} bundled programs; "
            f"the sandbox ({sandbox.isolation}) runs them for the truth",
            bold=True,
        )
        results = run_demo(examples, predictor, sandbox=sandbox, max_frames=max_frames, progress=not quiet)
    typer.echo("")
    for line in summary_lines(results):
        typer.echo(terminal_safe(line))
    path = write_demo_report(results, report)
    typer.secho(f"report: {path}", bold=True)


@app.command()
def debug(
    file: Path = typer.Argument(..., help="The Python file to debug: its functions (with --call) or a whole script."),
    call: Optional[str] = typer.Option(None, "--call", "-c", help="The call to debug, e.g. \"f(1, [2, 3])\"; without it, the whole script."),
    model: str = typer.Option("builtin", "--model", "-m", help=MODEL_HELP),
    structured: Optional[bool] = typer.Option(None, "--structured/--free", help=STRUCTURED_HELP),
    command: Optional[list[str]] = typer.Option(None, "--command", "-e", help="A debugger command to run first (repeatable); the session ends after them unless the terminal is interactive."),
    commands: Optional[Path] = typer.Option(None, "--commands", help="A file of debugger commands, one per line ('#' starts a comment)."),
    report: Optional[Path] = typer.Option(None, "--report", help="At the end, write an HTML report: the code, predicted and real traces side by side."),
    max_frames: int = typer.Option(2000, help="Frames predicted at most."),
    max_frame_tokens: int = typer.Option(512, help="Tokens the model may write for one frame."),
    isolation: str = typer.Option("auto", help="auto | bwrap | process: the sandbox `truth` runs the program in."),
    timeout: float = typer.Option(10.0, help="Seconds the real run (`truth`) may take."),
    json_transcript: bool = typer.Option(False, "--json", help="A machine-readable transcript: one JSON object per command on stdout."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress line on stderr while the model works."),
) -> None:
    """Step through a program while a world model predicts each step (pdb-like prompt).

    Exits with status 1 when a command from -c or --commands is unknown or fails."""
    import ast

    from codewm.debugger.session import DebugSession, Program, SessionLimits
    from codewm.debugger.shell import HISTORY_FILE, DebuggerShell

    source = read_text(file)
    try:
        ast.parse(source, filename=str(file))
    except SyntaxError as exc:
        fail(f"{file}:{exc.lineno}: {exc.msg} (the file must be valid Python)")
    if call is not None:
        try:
            ast.parse(call.strip(), mode="eval")
        except SyntaxError as exc:
            fail(f"--call {call!r} is not a Python expression ({exc.msg}); write it as you would call it, e.g. --call \"f(1, 'a')\"")
    script: list[str] = list(command or [])
    if commands is not None:
        lines = read_text(commands, f"--commands {commands}").splitlines()
        script = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")] + script
    try:
        limits = SessionLimits(max_frames=max_frames, max_frame_tokens=max_frame_tokens)
    except ValueError as exc:
        fail(str(exc))
    program = Program.function(source, call, file.name) if call is not None else Program.whole_script(source, file.name)
    predictor = loading(model, structured, quiet)
    with open_sandbox(isolation, 10_000, timeout, 400) as sandbox:
        session = DebugSession(program, predictor, limits, sandbox=sandbox)
        shell = DebuggerShell(session, history_file=HISTORY_FILE, json_transcript=json_transcript, quiet=quiet)
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        try:
            shell.run(script, interactive=interactive)
        finally:
            if report is not None and session.steps:
                from codewm.debugger.report import ReportSection, write_report

                label = f"{file.name}: {call}" if call is not None else file.name
                path = write_report(report, [ReportSection.from_session(session, session.truth(), label=label)])
                typer.echo(f"report: {path}", err=json_transcript)  # stdout holds JSON only
    if shell.failures:
        count = len(shell.failures)
        listed = ", ".join(repr(command) for command in shell.failures)
        typer.secho(f"error: {count} scripted command{'s' if count != 1 else ''} failed: {listed}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


def loading(model: str, structured: bool | None, quiet: bool):
    """`load_model`, saying on a terminal what it loads while it takes more than a second
    (a checkpoint and torch take a few)."""
    from codewm.debugger.spinner import Spinner

    with Spinner(lambda: f"loading the model {model}", enabled=not quiet):
        return load_model(model, structured)


