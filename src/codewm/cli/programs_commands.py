"""`codewm programs mine | sample`: where programs come from."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from codewm.cli.app import app, group
from codewm.cli.common import fail, key_values, print_json

programs_app = group(no_args_is_help=True, help="Where programs come from: preview sources, mine functions.")
app.add_typer(programs_app, name="programs")


@programs_app.command("mine")
def programs_mine(
    path: Optional[Path] = typer.Argument(None, help="A folder of Python source; default: the standard library."),
    module: list[str] = typer.Option([], "--module", help="Only these modules (repeatable); one that is not there is an error."),
    max_functions: int = typer.Option(0, help="Stop after this many functions (0: all)."),
    calls: int = typer.Option(3, help="Calls kept per function, at most."),
    workers: int = typer.Option(2, help="Sandbox workers."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (totals, per module, per function)."),
) -> None:
    """Find top-level functions, synthesize inputs, and report which ones could be traced."""
    from codewm.programs.base import SourceConfigError
    from codewm.programs.miner import mine

    try:
        report = mine(
            path=str(path) if path else None,
            modules=module or None,
            max_functions=max_functions or None,
            max_calls_per_function=calls,
            workers=workers,
        )
    except SourceConfigError as exc:
        fail(str(exc))
    if as_json:
        print_json(report.to_dict())
    else:
        typer.echo(report.to_table())


@programs_app.command("sample")
def programs_sample(
    kind: str = typer.Argument(..., help="A source name (synthetic, humaneval, cruxeval, livecodebench, jsonl, miner)."),
    option: list[str] = typer.Option([], "--source-option", "-s", help="KEY=VALUE: an option of the source (repeatable; values are parsed as JSON when they can be)."),
    limit: int = typer.Option(3, "--limit", "-n", help="How many cases to print."),
) -> None:
    """Print the first cases a program source yields."""
    from codewm.programs.base import SourceConfigError, make_source

    options = key_values(option, "--source-option")
    try:
        source = make_source(kind, **options)
        for index, case in enumerate(source.cases()):
            if index >= limit:
                break
            typer.secho(f"# {case.id}", bold=True)
            typer.echo(case.source.rstrip("\n"))
            typer.echo(f"# call: {case.call}\n")
    except BrokenPipeError:
        raise  # the reader went away (`| head`): typer ends quietly
    except (SourceConfigError, ValueError, OSError) as exc:
        fail(str(exc))


