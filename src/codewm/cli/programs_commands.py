"""`codewm programs mine | sample`: where programs come from."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from codewm.cli.app import app
from codewm.cli.common import fail, key_values

programs_app = typer.Typer(no_args_is_help=True, help="Where programs come from: preview sources, mine functions.")
app.add_typer(programs_app, name="programs")


@programs_app.command("mine")
def programs_mine(
    path: Optional[Path] = typer.Argument(None, help="A folder of Python source; default: the standard library."),
    module: list[str] = typer.Option([], "--module", "-m", help="Only these modules (repeatable)."),
    max_functions: int = typer.Option(0, help="Stop after this many functions (0: all)."),
    calls: int = typer.Option(3, help="Calls kept per function, at most."),
    workers: int = typer.Option(2, help="Sandbox workers."),
) -> None:
    """Find top-level functions, synthesize inputs, and report which ones could be traced."""
    from codewm.programs.miner import mine

    report = mine(
        path=str(path) if path else None,
        modules=module or None,
        max_functions=max_functions or None,
        max_calls_per_function=calls,
        workers=workers,
    )
    typer.echo(report.to_table())


@programs_app.command("sample")
def programs_sample(
    kind: str = typer.Argument(..., help="A source name (synthetic, humaneval, cruxeval, livecodebench, jsonl, miner)."),
    option: list[str] = typer.Option([], "--option", "-o", help="KEY=VALUE source options (values are parsed as JSON when they can be)."),
    count: int = typer.Option(3, "--count", "-n", help="How many cases to print."),
) -> None:
    """Print the first cases a program source yields."""
    from codewm.programs.base import SourceConfigError, make_source

    options = key_values(option, "--option")
    try:
        source = make_source(kind, **options)
        for index, case in enumerate(source.cases()):
            if index >= count:
                break
            typer.secho(f"# {case.id}", bold=True)
            typer.echo(case.source.rstrip("\n"))
            typer.echo(f"# call: {case.call}\n")
    except (SourceConfigError, ValueError, OSError) as exc:
        fail(str(exc))


