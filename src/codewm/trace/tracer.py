"""The ground-truth tracer: run a program in *this* process and record every step.

This module executes the code it is given. Untrusted code must go through
`codewm.trace.sandbox`, which calls this tracer inside an isolated, limited child process;
the functions here are for the sandbox's children, for benchmarks and for trusted code.

What is recorded (the CWM convention, decided here and tested):

- Every frame whose code was compiled from the traced program's text: the entry point,
  nested calls, recursion, generators (a `call` frame on every resume, a `return` frame on
  every `yield`), lambdas, class bodies and, on Python 3.11, comprehension frames with their
  implicit `.0` iterator. Nothing from the standard library, site-packages or code built by
  `exec`/`eval` is recorded, but traced code called *from* such code (a `key=` lambda passed
  to `sorted`) is.
- `call`/`line` frames hold all locals of the frame, rendered by `codewm.trace.render`.
- An exception produces an `exception` frame in every traced frame it passes through; a frame
  left by an exception then gets a `return` frame whose value is `None` (what `sys.settrace`
  reports and public CWM reproductions write). `Trace.raised` tells the two exits apart.
- Only the main thread is traced.

The tracer uses `sys.settrace` on every version. `sys.monitoring` (3.12+) was considered for
speed: on the traced programs codewm targets, nearly all of the time goes into reading and
rendering locals, which both hooks pay equally; see docs/tracer.md.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable

from codewm.trace.render import IMMUTABLE_TYPES, RenderOptions, Renderer
from codewm.trace.types import ENTRY_FUNCTION, Frame, Trace, action_text, build_context, script_context

PROGRAM_FILENAME = "<codewm-program>"
# Bound at import: the sandbox replaces `sys.settrace` with a guard before the program runs,
# so that the program cannot switch tracing off, while the tracer keeps the real one.
_settrace = sys.settrace
DEFAULT_MAX_STEPS = 10_000

# A raw step, as recorded in the hot path: (event, lineno, depth, locals, value, function).
RawStep = tuple


@dataclass(frozen=True, slots=True)
class TraceOptions:
    """How much a trace may hold. The defaults suit CRUXEval-sized programs."""

    max_steps: int = DEFAULT_MAX_STEPS  # frames recorded before the run stops (status step_limit)
    render: RenderOptions = field(default_factory=RenderOptions)  # value length, repr timeout


class StepLimitReached(BaseException):
    """Raised into the traced program when it has produced `max_steps` frames.

    A BaseException so that ordinary `except Exception` handlers in the program do not
    swallow it; the sandbox does not rely on it and ends the child process instead.
    """


class Recorder:
    """The `sys.settrace` hook. Records raw steps for frames of one compiled program."""

    def __init__(
        self,
        filename: str = PROGRAM_FILENAME,
        options: TraceOptions | None = None,
        on_step_limit: Callable[["Recorder"], None] | None = None,
        sink: Callable[[list[RawStep]], None] | None = None,
        flush_every: int = 0,
    ) -> None:
        self.filename = filename
        self.options = options or TraceOptions()
        self.renderer = Renderer(self.options.render)
        self.steps: list[RawStep] = []
        self.depth = 0
        self.limit_reached = False
        self._on_step_limit = on_step_limit
        self._sink = sink
        self._flush_every = flush_every
        self._flushed = 0  # steps already handed to the sink
        # frame -> {name: (value, text)} of its last observation, to reuse the rendering of
        # immutable values that did not change (the common case in a line-by-line trace).
        self._seen: dict[object, dict[str, tuple[object, str]]] = {}

    # -- the hook --------------------------------------------------------------------------
    def global_hook(self, frame, event, arg):
        if frame.f_code.co_filename != self.filename:
            return None  # not the program's own code: no line events for this frame
        return self.local_hook(frame, event, arg)

    def local_hook(self, frame, event, arg):
        steps = self.steps
        if len(steps) >= self.options.max_steps:
            self._limit()
            return None
        if event == "line":
            steps.append(("line", frame.f_lineno, self.depth - 1, self._locals(frame), None, frame.f_code.co_name))
        elif event == "call":
            self._seen.pop(frame, None)
            # A module starts at line 0; its call frame shows the context's first line.
            steps.append(("call", frame.f_lineno or 1, self.depth, self._locals(frame), None, frame.f_code.co_name))
            self.depth += 1
        elif event == "return":
            self.depth -= 1
            steps.append(("return", frame.f_lineno, self.depth, None, self.renderer.render(arg), frame.f_code.co_name))
            self._seen.pop(frame, None)
        elif event == "exception":
            steps.append(("exception", frame.f_lineno, self.depth - 1, None, self.renderer.render(arg[1]), frame.f_code.co_name))
        if self._flush_every and len(steps) - self._flushed >= self._flush_every:
            self.flush()
        return self.local_hook

    def _locals(self, frame) -> dict[str, str]:
        seen = self._seen.get(frame)
        if seen is None:
            seen = self._seen[frame] = {}
        rendered: dict[str, str] = {}
        render = self.renderer.render
        max_chars = self.renderer.max_chars
        module_level = frame.f_code.co_name == "<module>"
        for name, value in frame.f_locals.items():
            if module_level and name[:2] == "__":
                continue  # __name__, __builtins__, ...: the interpreter's, not the program's
            kind = type(value)
            previous = seen.get(name)
            if previous is not None and previous[0] is value and kind in IMMUTABLE_TYPES:
                rendered[name] = previous[1]
                continue
            # Inline fast paths for the commonest values; everything else via the renderer.
            if kind is str and len(value) <= max_chars // 2:
                text = repr(value)
                if len(text) > max_chars or text == "..":
                    text = render(value)
            elif kind is bool or value is None or (kind is int and -(10**15) < value < 10**15):
                text = repr(value)
            else:
                text = render(value)
            rendered[name] = text
            seen[name] = (value, text)
        return rendered

    def _limit(self) -> None:
        self.limit_reached = True
        _settrace(None)
        if self._on_step_limit is not None:
            self._on_step_limit(self)
        raise StepLimitReached(f"the program produced more than {self.options.max_steps} steps")

    def flush(self) -> None:
        if self._sink is not None and len(self.steps) > self._flushed:
            self._sink(self.steps[self._flushed :])
            self._flushed = len(self.steps)

    # -- running ------------------------------------------------------------------------
    def run(self, function: Callable[[], object]) -> object:
        """Call `function` with this recorder installed; always uninstalls it."""
        previous = sys.gettrace()
        _settrace(self.global_hook)
        try:
            return function()
        finally:
            _settrace(previous)


def steps_to_frames(steps: list[RawStep], context: str) -> list[Frame]:
    """Attach source lines to raw steps, giving the frames of a `Trace`.

    The entry point's marker comment is part of the context but not of the actions: CWM's
    trace shows `def main():`, not `def main():  # << START_OF_TRACE`.
    """
    lines = [action_text(line) for line in context.splitlines(keepends=True)]
    frames = []
    for event, lineno, depth, local_values, value, function in steps:
        source = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
        frames.append(Frame(event, source, depth, local_values, value, lineno, function))
    return frames


@dataclass(slots=True)
class InProcessResult:
    trace: Trace
    status: str  # ok | exception | step_limit | syntax_error
    error: str | None = None  # the exception's repr or the syntax error, when not ok


def compile_program(context: str, filename: str = PROGRAM_FILENAME):
    return compile(context, filename, "exec", dont_inherit=True)


def trace_in_process(
    context: str,
    *,
    script: bool = False,
    options: TraceOptions | None = None,
    recorder: Recorder | None = None,
    namespace: dict | None = None,
) -> InProcessResult:
    """Trace a program in this process (trusted code only; see the module docstring).

    For a function-level `context` (made by `build_context`) the module is executed
    untraced to define its functions, then `main()` is called under the tracer. For a
    script, the whole module runs under the tracer.
    """
    recorder = recorder or Recorder(options=options)
    try:
        code = compile_program(context, recorder.filename)
    except (SyntaxError, ValueError) as exc:
        return InProcessResult(Trace(context, [], complete=False), "syntax_error", _describe_syntax_error(exc))
    globals_ = namespace if namespace is not None else {}
    globals_.setdefault("__name__", "__main__")
    globals_.setdefault("__builtins__", __builtins__)
    status, error = "ok", None
    try:
        if script:
            recorder.run(lambda: exec(code, globals_))
        else:
            exec(code, globals_)
            entry = globals_.get(ENTRY_FUNCTION)
            if not callable(entry):
                raise NameError(f"the program defines no {ENTRY_FUNCTION}() entry point")
            recorder.run(entry)
    except StepLimitReached:
        status = "step_limit"
    except SystemExit as exc:
        # A script may end with sys.exit(0); a function that calls sys.exit did not return.
        if not (script and exc.code in (None, 0)):
            status, error = "exception", f"SystemExit({exc.code!r})"
    except BaseException as exc:
        status = "step_limit" if recorder.limit_reached else "exception"
        error = None if recorder.limit_reached else recorder.renderer.render(exc)
    if recorder.limit_reached:
        status = "step_limit"
    frames = steps_to_frames(recorder.steps, context)
    complete = status in ("ok", "exception") and _balanced(frames)
    return InProcessResult(Trace(context, frames, complete=complete), status, error)


def _balanced(frames: list[Frame]) -> bool:
    return bool(frames) and frames[-1].event == "return" and frames[-1].depth == 0


def _describe_syntax_error(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{type(exc).__name__}: {exc.msg} (line {exc.lineno}, column {exc.offset})"
    return f"{type(exc).__name__}: {exc}"


def trace_function(source: str, call: str, options: TraceOptions | None = None) -> InProcessResult:
    """Trace `call` (text such as `f(1, [2, 3])`) on the functions defined by `source`."""
    return trace_in_process(build_context(source, call), options=options)


def trace_script(source: str, options: TraceOptions | None = None) -> InProcessResult:
    """Trace a whole script, module-level code included."""
    return trace_in_process(script_context(source), script=True, options=options)
