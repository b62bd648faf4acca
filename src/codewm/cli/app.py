"""The `codewm` Typer application; each command lives in its own module of this package."""

from __future__ import annotations

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="codewm: ground-truth execution traces and code world models.",
)
