"""The value types every stage of codewm shares: `Trace`, `Frame`, raw steps and `RunResult`.

They sit at the package root, below every stage: the tracer makes them, the formatter writes
and reads them, and everything above passes them on.

The `Trace` is the one value type that travels through codewm. A real run produces one (the
tracer), a world model predicts one (the predictors), and evaluation compares two. It holds exactly what the CWM trace format can express, so that
formatting a trace as CWM text and parsing it back gives an equal trace:

- `context`: the program text the model is shown, with the entry point's `def` line marked
  `# << START_OF_TRACE` (see `build_context`);
- `frames`: one `Frame` per step, in execution order;
- `complete`: whether execution left the entry point's scope (CWM writes `<|end_of_text|>`),
  False for a trace cut short by a step limit, a timeout or a kill.

Each `Frame` stores its locals in full (name -> rendered value). The `".."` shorthand of the
CWM format is a property of the text, applied by the writer and resolved by the reader
(`codewm.format.cwm`), never stored here.

Two fields are metadata that the CWM text does not carry and that therefore do not take part
in equality: `lineno` (recovered by the CWM parser only when the source line is unambiguous)
and `function` (the code object's name). The JSON form keeps them losslessly.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field
from typing import Any, Literal

Event = Literal["call", "line", "return", "exception"]
EVENTS: tuple[str, ...] = ("call", "line", "return", "exception")

# A raw step, as the tracer records it in its hot path, before it becomes a `Frame`:
# (event, lineno, depth, locals or None, value or None, function name). The formatter writes
# CWM text straight from raw steps (`codewm.format.cwm.format_steps`).
RawStep = tuple

# How a sandboxed run ends (`RunResult.status`).
STATUSES = ("ok", "exception", "timeout", "memory_limit", "crashed", "step_limit", "syntax_error", "sandbox_error")

# The comment CWM puts on the entry point's `def` line.
START_MARKER = "# << START_OF_TRACE"
# The name of the wrapper function codewm (like the public CWM reproductions) appends to a
# function-level program, so that every trace starts with the same `main` call frame. A
# program (or call) that uses the name itself gets the first of `main_`, `main__`, ... it does
# not use instead (`entry_function_name`).
ENTRY_FUNCTION = "main"


@dataclass(slots=True)
class Frame:
    """One step of an execution.

    `call` and `line` frames carry `locals` (the state *before* `source` runs) and no value;
    `return` and `exception` frames carry `value` (the rendered return value or exception)
    and no locals, exactly as in the CWM format.
    """

    event: str  # one of EVENTS
    source: str  # the whole source line, indentation and trailing newline included
    depth: int  # 0 for the entry point, +1 per nested traced call
    locals: dict[str, str] | None = None  # name -> rendered value (call/line frames)
    value: str | None = None  # rendered return value / exception (return/exception frames)
    lineno: int = field(default=0, compare=False)  # 1-based line in `Trace.context`; 0 unknown
    function: str = field(default="", compare=False)  # code object name, "" when unknown

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValueError(f"Frame.event must be one of {EVENTS}, got {self.event!r}")
        if self.event in ("call", "line"):
            if self.locals is None or self.value is not None:
                raise ValueError(f"a {self.event} frame has locals and no value")
        elif self.locals is not None or self.value is None:
            raise ValueError(f"a {self.event} frame has a value and no locals")

    def to_dict(self) -> dict:
        out: dict = {"event": self.event, "source": self.source, "depth": self.depth}
        if self.locals is not None:
            out["locals"] = dict(self.locals)
        if self.value is not None:
            out["value"] = self.value
        out["lineno"] = self.lineno
        out["function"] = self.function
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Frame":
        return cls(
            event=data["event"],
            source=data["source"],
            depth=int(data["depth"]),
            locals=None if data.get("locals") is None else dict(data["locals"]),
            value=data.get("value"),
            lineno=int(data.get("lineno", 0)),
            function=data.get("function", ""),
        )


@dataclass(slots=True)
class Trace:
    """A program context and the frames of one execution of it."""

    context: str
    frames: list[Frame] = field(default_factory=list)
    complete: bool = True
    # Where the trace was recorded, {"python": "3.11.7", "hook": "c" or "python"}; None when
    # unknown (a parsed CWM text, a prediction). Metadata: the CWM text does not carry it and
    # it takes no part in equality; the JSON form keeps it.
    runtime: dict[str, str] | None = field(default=None, compare=False)

    @property
    def output(self) -> str | None:
        """The rendered return value of the entry point, if the trace reached it.

        This is the value CWM's "output pass@1 via the predicted trace" compares: the value
        of the final return frame at depth 0 of a complete trace.
        """
        if not self.complete:
            return None
        for frame in reversed(self.frames):
            if frame.depth == 0 and frame.event == "return":
                return frame.value
        return None

    @property
    def raised(self) -> bool:
        """Whether the entry point was left by an exception rather than a return."""
        frames = self.frames
        return (
            len(frames) >= 2
            and frames[-1].event == "return"
            and frames[-1].depth == 0
            and frames[-2].event == "exception"
            and frames[-2].depth == 0
        )

    def to_dict(self) -> dict:
        out: dict = {"context": self.context, "complete": self.complete}
        if self.runtime is not None:
            out["runtime"] = dict(self.runtime)
        out["frames"] = [frame.to_dict() for frame in self.frames]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "Trace":
        runtime = data.get("runtime")
        return cls(
            context=data["context"],
            complete=bool(data.get("complete", True)),
            frames=[Frame.from_dict(f) for f in data.get("frames", [])],
            runtime=dict(runtime) if runtime is not None else None,
        )


def steps_complete(steps: list, status: str) -> bool:
    """Whether a run's raw steps are a whole execution: it ended by itself (ok, or an
    exception out of the entry point) and the last step returns from the entry point.
    The same as `Trace.complete` for the trace built from these steps."""
    return status in ("ok", "exception") and bool(steps) and steps[-1][0] == "return" and steps[-1][2] == 0


@dataclass
class RunResult:
    """The outcome of one sandboxed run (`codewm.trace.sandbox`).

    `trace` always holds the program's context and whether the run was complete. Its frames
    (and `steps`, the raw steps behind them) are there unless the caller handed the sandbox
    a formatter (`Sandbox.run_batch(..., formatter=...)`): then the formatter ran where the
    steps were recorded, `formatted` holds what it made of them, and no frames were built.
    """

    status: str  # one of STATUSES
    trace: Trace  # complete for ok/exception; what was recorded before the stop otherwise
    error: str | None = None  # the exception, limit or failure, when status is not ok
    stdout: str = ""  # the program's stdout and stderr, interleaved, bounded
    output_truncated: bool = False
    wall_seconds: float = 0.0
    touched: list[str] = field(default_factory=list)  # with audit=True: files, network, processes used
    steps: list = field(default_factory=list, repr=False, compare=False)  # the raw steps behind `trace`
    formatted: Any = field(default=None, repr=False)  # the formatter's output, when one was given
    # An untraced (sealed) run's return value: its repr where it is a plain value (int, str,
    # float, bool, None, small built-in containers of them), else None
    returned: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "error": self.error,
            "stdout": self.stdout,
            "output_truncated": self.output_truncated,
            "wall_seconds": self.wall_seconds,
            "touched": list(self.touched),
            "trace": self.trace.to_dict(),
        }


def action_text(line: str) -> str:
    """A context line as it appears as a frame's action: newline-terminated, marker removed."""
    if START_MARKER in line:
        head, _, tail = line.partition(START_MARKER)
        line = head.rstrip() + tail
    return line if line.endswith("\n") else line + "\n"


def source_lines(text: str) -> list[str]:
    """The lines of program text, each ending in its "\\n" (the last one may lack it).

    Lines end at "\\n" only, as Python's own line numbers count them: `str.splitlines` would
    also break at a form feed, "\\x0b", "\\x1c"-"\\x1e", "\\x85" and U+2028/U+2029, which may
    stand in a program (between functions, inside a string) and would shift every later line.
    """
    lines = text.splitlines(keepends=True)
    # splitlines also breaks at the other characters; where it found no more pieces than the
    # "\n"s make, it broke nowhere else (but perhaps after the last character, which leaves
    # the same last line), and its lines are the ones wanted, found without a Python loop.
    if len(lines) == text.count("\n") + (text[-1:] not in ("", "\n")):
        return lines
    lines = text.split("\n")
    last = lines.pop()
    lines = [line + "\n" for line in lines]
    if last:
        lines.append(last)
    return lines


def action_lines(context: str) -> list[str]:
    """Every context line as `action_text` gives it (index i holds line i + 1)."""
    lines = source_lines(context)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    # Only a line holding the marker changes: find those lines in the whole text (once per
    # line, as action_text removes one marker) instead of calling action_text on every line;
    # this runs once per trace written.
    at = context.find(START_MARKER)
    while at >= 0:
        index = context.count("\n", 0, at)
        lines[index] = action_text(lines[index])
        end = context.find("\n", at)
        at = context.find(START_MARKER, end + 1) if end >= 0 else -1
    return lines


def build_context(source: str, call: str) -> str:
    """The CWM context for a function-level trace: the program, then a marked `main` wrapper.

    The wrapper is named `main` unless the program or the call uses that name; then it takes
    the first name of `entry_function_name` that neither uses, so that it can neither replace
    the program's own `main` nor be called by it.

    >>> print(build_context("def f(x):\\n    return x\\n", "f(1)"), end="")
    def f(x):
        return x
    def main():  # << START_OF_TRACE
        return f(1)
    """
    body = source.rstrip("\n")
    prefix = body + "\n" if body else ""
    name = entry_function_name(source, call)
    return f"{prefix}def {name}():  {START_MARKER}\n    return {call.strip()}\n"


def entry_function_name(source: str, call: str) -> str:
    """The wrapper's name for this program and call: `main` (ENTRY_FUNCTION), or the first of
    `main_`, `main__`, ... when the program or the call uses `main` as a name."""
    used = _names_used(source) | _names_used(call)
    name = ENTRY_FUNCTION
    while name in used:
        name += "_"
    return name


def _names_used(text: str) -> set[str]:
    """Every identifier `text` uses as a name (attributes, strings and comments excluded);
    every word of it when it does not tokenize, which may rename a wrapper needlessly but
    never lets it collide."""
    names: set[str] = set()
    previous = ""
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.NAME and previous != ".":
                names.add(token.string)
            if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
                previous = token.string
    except (tokenize.TokenError, SyntaxError):
        return set(re.findall(r"\w+", text))
    return names


def entry_function(context: str) -> str:
    """The name of a function-level context's wrapper, read from its marked `def` line
    (ENTRY_FUNCTION when there is none)."""
    found = re.search(r"^def (\w+)\(\):  " + re.escape(START_MARKER) + "$", context, re.MULTILINE)
    return found.group(1) if found else ENTRY_FUNCTION


def script_context(source: str) -> str:
    """The CWM context for a whole-script trace: the marker on a line of its own, first.

    A script has no `def` line to mark, so the marker opens the file; line numbers in the
    trace refer to this text, one more than in the original file.
    """
    return f"{START_MARKER}\n{source}" if source.endswith("\n") or not source else f"{START_MARKER}\n{source}\n"
