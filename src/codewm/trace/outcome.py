"""What `codewm trace` makes of a run for its user: the exit status, the check of a call, and
line numbers as the traced file has them."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

from codewm.types import START_MARKER, RunResult

LIMIT_STATUSES = frozenset({"timeout", "memory_limit", "step_limit"})
FAILED_STATUSES = frozenset({"exception", "syntax_error", "crashed"})


def exit_code(statuses: set[str]) -> int:
    """The exit status for the statuses of the programs traced: 1 when the sandbox failed,
    else 4 when a limit stopped one, else 3 when one raised, did not compile or crashed,
    else 0 (all ok). 2 is left to usage errors."""
    if "sandbox_error" in statuses:
        return 1
    if statuses & LIMIT_STATUSES:
        return 4
    if statuses & FAILED_STATUSES:
        return 3
    return 0


def module_name_for(path: Path) -> str:
    """The `__name__` a file's functions run under when it is imported for `--call`: its stem,
    as `import` would name it ("program" where the stem is no module name)."""
    return path.stem if path.stem.isidentifier() and path.stem != "__main__" else "program"


def call_error(call: str) -> str | None:
    """Why `call` is not one Python expression (it is traced as `return CALL`), or None."""
    try:
        ast.parse(call.strip(), mode="eval")
    except (SyntaxError, ValueError) as exc:
        return str(getattr(exc, "msg", exc))
    return None


def with_file_line_numbers(result: RunResult) -> RunResult:
    """`result` with its frames numbered as the traced file's lines. A whole script's context
    opens with the marker on a line of its own (`script_context`), one line above the file's
    first; the marker line itself gets no number (0). A syntax error's line is the file's too."""
    if not result.trace.context.startswith(START_MARKER + "\n"):
        return result
    frames = [replace(frame, lineno=max(frame.lineno - 1, 0)) for frame in result.trace.frames]
    error = result.error
    if result.status == "syntax_error" and error is not None:  # as the tracer describes it: "(line N, column M)"
        error = re.sub(r"\(line (\d+), column", lambda found: f"(line {max(int(found.group(1)) - 1, 0)}, column", error)
    return replace(result, trace=replace(result.trace, frames=frames), error=error)
