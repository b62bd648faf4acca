"""`codewm`: one command, a sub-command per job. Each is a thin call into the library; each
group of commands is a module of this package (registered on `app` when imported here)."""

from __future__ import annotations

from codewm.cli import (  # noqa: F401  (registers the commands)
    dataset_commands,
    debug_commands,
    eval_commands,
    programs_commands,
    rank_command,
    repo_commands,
    repo_mutate_command,
    repo_trace_command,
    trace_command,
    train_commands,
)
from codewm.cli.app import app


def main() -> None:  # pragma: no cover - console entry point
    app(prog_name="codewm")  # not "__main__.py" under `python -m codewm`
