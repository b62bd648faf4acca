"""What the commands share: failing with a usage error, the sandbox, output, model loading."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

FORMATS = ("pretty", "cwm", "json")


def fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def open_sandbox(isolation: str, max_steps: int, timeout: float, max_value_chars: int, workers: int = 1):
    from codewm.trace.sandbox import Sandbox, SandboxError, SandboxLimits

    limits = SandboxLimits(
        wall_seconds=timeout,
        cpu_seconds=timeout,
        max_steps=max_steps,
        max_value_chars=max_value_chars,
    )
    try:
        sandbox = Sandbox(limits=limits, isolation=isolation, workers=workers)
    except (SandboxError, ValueError) as exc:
        fail(str(exc))
    for note in sandbox.isolation_notes:
        typer.secho(f"warning: {note}", fg=typer.colors.YELLOW, err=True)
    return sandbox


def emit(result, label: str, output_format: str) -> None:
    from codewm.format.cwm import format_trace
    from codewm.format.json_trace import trace_to_dict

    if output_format == "cwm":
        sys.stdout.write(format_trace(result.trace) + "\n")
    elif output_format == "json":
        document = trace_to_dict(result.trace)
        document.update({"id": label, "status": result.status, "error": result.error, "stdout": result.stdout})
        sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
    else:
        from codewm.format.pretty import print_result
        from codewm.trace.outcome import with_file_line_numbers

        print_result(with_file_line_numbers(result), label)


def print_json(document) -> None:
    """One JSON document on stdout, for commands' `--json` (tables and notes go elsewhere)."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")


def progress_wanted(quiet: bool, stream=None) -> bool:
    """Whether to draw progress bars: not with --quiet, and only on a terminal (a log file
    or a pipe would get every redraw)."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return not quiet and callable(isatty) and bool(isatty())


def read_text(path: Path, name: str | None = None) -> str:
    """The text of `path`, or the command fails saying which file (`name`, default the path)
    it cannot read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {name or path}: {exc}")
    return ""


def rows_from_file(path: Path) -> list[tuple[str, str, str]]:
    """(label, source, call) for every row of a CRUXEval-style or codewm JSONL file."""
    from codewm.programs.files import read_call_rows

    try:
        return read_call_rows(path)
    except (OSError, ValueError) as exc:
        fail(str(exc))
    return []


MODEL_HELP = "The world model: builtin | builtin:DIR | hf:PATH | openai:URL#MODEL | oracle."
STRUCTURED_HELP = (
    "Structure-aware decoding (--structured) or free text (--free): each frame's event, keys and source line "
    "chosen by the model among what the program allows, only values written freely. Default: on for builtin "
    "and builtin:DIR, off for hf:PATH; not available for openai: or oracle."
)


def load_model(spec: str, structured: Optional[bool] = None):
    from codewm.predict.registry import ModelSpecError, load_predictor

    try:
        return load_predictor(spec, structured=structured)
    except ImportError as exc:
        fail(f"model {spec!r} needs a package that is not installed ({exc}); `pip install 'codewm[model]'` installs torch and transformers")
    except (ModelSpecError, ValueError, OSError) as exc:
        fail(str(exc))


def key_values(items: list[str], flag: str) -> dict:
    """KEY=VALUE options; values are parsed as JSON when they can be (numbers, lists, ...)."""
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"{flag} needs KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


