"""The `codewm` Typer application; each command lives in its own module of this package.

Command groups are made with `group()` and commands registered on `app` or a group, so that
every command and group renders its help the same way (see `_hide_flag_types`)."""

from __future__ import annotations

from typing import Optional

import typer
from typer.core import TyperCommand, TyperGroup

import codewm


def _hide_flag_types(command, ctx) -> None:
    """Typer's rich help prints a value type beside every option, flags included (`--resume
    <bool>`, as if it took a value). An empty metavar is what it prints instead; flags take
    no value, so nothing is lost. (`get_params` includes --help.)"""
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


class Command(TyperCommand):
    def format_help(self, ctx, formatter) -> None:
        _hide_flag_types(self, ctx)
        return super().format_help(ctx, formatter)


class Group(TyperGroup):
    def format_help(self, ctx, formatter) -> None:
        _hide_flag_types(self, ctx)
        return super().format_help(ctx, formatter)


class CodewmTyper(typer.Typer):
    """A Typer app whose groups and commands use `Group` and `Command`."""

    def __init__(self, **options) -> None:
        options.setdefault("cls", Group)
        super().__init__(**options)

    def command(self, name: Optional[str] = None, *, cls=None, **options):
        return super().command(name, cls=cls or Command, **options)


def group(help: str, **options) -> CodewmTyper:
    """A group of sub-commands (`codewm eval ...`), to add to `app` with `app.add_typer`."""
    return CodewmTyper(help=help, add_completion=False, **options)


app = CodewmTyper(
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    no_args_is_help=True,
    help="codewm: ground-truth execution traces and code world models.",
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"codewm {codewm.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print codewm's version and exit."),
) -> None:
    """codewm: ground-truth execution traces and code world models."""
