"""`codewm trace`: run a program in the sandbox and show its trace."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from codewm.cli.app import app
from codewm.cli.common import (
    FORMATS,
    emit,
    fail,
    open_sandbox,
    read_text,
    rows_from_file,
)


@app.command()
def trace(
    file: Optional[Path] = typer.Argument(None, help="A Python file: its functions (with --call) or a whole script."),
    call: Optional[str] = typer.Option(None, "--call", "-c", help="The call to trace, e.g. \"f(1, [2, 3])\"."),
    input_file: Optional[Path] = typer.Option(
        None, "--input-file", "-i", help="JSONL rows to trace: CRUXEval style (code, input[, id]) or codewm (code, call)."
    ),
    output_format: str = typer.Option("pretty", "--format", "-f", help="pretty | cwm | json"),
    limit: int = typer.Option(0, "--limit", "-n", help="With --input-file: trace at most N rows (0: all)."),
    max_steps: int = typer.Option(10_000, help="Frames recorded before the run stops (status step_limit)."),
    timeout: float = typer.Option(10.0, help="Seconds of wall-clock and CPU time per program."),
    max_value_chars: int = typer.Option(400, help="Longest rendered value; longer ones are cut and end in '...'."),
    isolation: str = typer.Option("auto", help="auto | bwrap | process (weaker, no bubblewrap)."),
    workers: int = typer.Option(1, "--workers", "-w", help="With --input-file: programs traced at once, each in its own sandboxed process (0: one per core). Output keeps the rows' order."),
) -> None:
    """Run a program in the sandbox and show its execution trace.

    With --call the file is imported (no `if __name__ == "__main__":` block), then the call
    traced. Exit status: 0 all ok; 3 a program raised, did not compile or crashed; 4 a limit
    stopped one; 1 sandbox failure; 2 usage error."""
    from codewm.trace.confirm import confirm
    from codewm.trace.outcome import call_error, exit_code, module_name_for
    from codewm.trace.sandbox import Program

    if output_format not in FORMATS:
        fail(f"--format must be one of {', '.join(FORMATS)}, got {output_format!r}")
    if workers < 0:
        fail(f"--workers must be 0 (one per core) or more, got {workers}")
    if input_file is None and file is None:
        fail("give a FILE to trace, or --input-file with JSONL rows")
    if call is not None and (problem := call_error(call)) is not None:
        fail(f"--call must be one Python expression such as \"f(1, [2, 3])\", got {call!r} ({problem})")
    if input_file is not None:
        jobs = rows_from_file(input_file)
        if limit:
            jobs = jobs[:limit]
    else:
        jobs = [(file.name, read_text(file), call)]
    module_name = "__main__" if input_file is not None else module_name_for(file)  # rows run as CRUXEval's did
    programs = [Program.function(source, c, module_name=module_name) if c is not None else Program.whole_script(source) for _, source, c in jobs]
    workers = min(workers or os.cpu_count() or 1, max(1, len(programs)))  # no idle workers to start
    with open_sandbox(isolation, max_steps, timeout, max_value_chars, workers=workers) as sandbox:
        statuses = set()
        # The steps (return value included) are checked against the tracer's MAC; each finished
        # run's status is confirmed by an untraced, sealed re-run (docs/tracer.md, "Trust
        # boundary"). Values are not compared: a program may print the time.
        for (label, _, _), result in zip(jobs, confirm(sandbox, programs, list(sandbox.map(programs)), values=False)):
            emit(result, label, output_format)
            statuses.add(result.status)
    raise typer.Exit(exit_code(statuses))


