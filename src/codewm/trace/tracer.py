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
- The hooks' own work does not count against the program's recursion limit (the C hook
  raises it while it runs), so a program meets RecursionError where it would untraced.
- Every run starts from `random.seed(program_seed(context))`, traced or not, and every trace
  records where it was made (`Trace.runtime`: the Python version and the hook).

The hook is installed with `sys.settrace` semantics on every version: a compiled C hook
(`_ctracer.c`, installed through `PyEval_SetTrace` like coverage.py's CTracer) where it was
built, else the pure-Python hook below; both record identical steps, and setting
CODEWM_PURE_PYTHON_TRACER=1 forces the Python one. `sys.monitoring` (3.12+) was measured
(bench/experiments/tracer_hooks.py) and not adopted: it was no faster for recording locals at every line
(0.96x on 3.12, 0.88x on 3.13), since its callbacks must fetch the frame themselves and its
advantage, skipping untraced code, matters little here; see docs/tracer.md.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import platform
import random
import sys
import weakref
from dataclasses import dataclass, field
from typing import Callable

from codewm.trace.render import OPAQUE_BUILTIN_TYPES, RenderOptions, Renderer, ReprWatchdog, needs_tidying
from codewm.trace.render import tidy as render_tidy
from codewm.types import Frame, RawStep, Trace, action_lines, build_context, entry_function, script_context

try:  # the compiled hook (setup.py builds it); the pure-Python hook records the same steps
    from codewm.trace import _ctracer
except ImportError:  # pragma: no cover - a build without a C compiler
    _ctracer = None

PROGRAM_FILENAME = "<codewm-program>"
# Bound at import: the sandbox replaces `sys.settrace` with a guard before the program runs,
# so that the program cannot switch tracing off, while the tracer keeps the real one.
_settrace = sys.settrace
DEFAULT_MAX_STEPS = 10_000

# Values whose repr Python computes exactly and quickly, without running user code. Strings are
# never rendered as the bare `..` marker since their repr is quoted.
_PLAIN = frozenset({int, bool, float, str, type(None)})
_CONTAINER_TYPES = frozenset({list, tuple, dict, set, frozenset})
_PLAIN_OR_CONTAINER = _PLAIN | _CONTAINER_TYPES
_FAST_KINDS = _PLAIN_OR_CONTAINER | OPAQUE_BUILTIN_TYPES

@dataclass(frozen=True, slots=True)
class TraceOptions:
    """How much a trace may hold. The defaults suit CRUXEval-sized programs."""

    max_steps: int = DEFAULT_MAX_STEPS  # frames recorded before the run stops (status step_limit)
    render: RenderOptions = field(default_factory=RenderOptions)  # value length, repr timeout


_DEFAULT_OPTIONS = TraceOptions()
_USE_C_DEFAULT = os.environ.get("CODEWM_PURE_PYTHON_TRACER", "") in ("", "0")


def runtime_info(recorder: "Recorder | None" = None) -> dict[str, str]:
    """What a trace records about where it was made: the Python version and the hook
    ("c" or "python") of `recorder`, or the one a new `Recorder` would use."""
    if recorder is not None:
        hook = recorder.implementation
    else:
        hook = "c" if _USE_C_DEFAULT and _ctracer is not None else "python"
    return {"python": platform.python_version(), "hook": hook}


def program_seed(context: str) -> int:
    """The seed of `random` for a program: the first 8 bytes of the SHA-256 of its context
    (UTF-8), as an unsigned big-endian integer. Every run of the program, traced or not, in
    any process, starts from `random.seed(program_seed(context))`, so its random numbers and
    its trace are reproducible, while different programs draw different numbers."""
    return int.from_bytes(hashlib.sha256(context.encode("utf-8", "surrogatepass")).digest()[:8], "big")


def stop_tracing() -> None:
    """Remove this thread's trace hook, whatever the program did to `sys.settrace` (the
    sandbox guards it; the real one was bound at import)."""
    _settrace(None)


class StepLimitReached(BaseException):
    """Raised into the traced program when it has produced `max_steps` frames.

    A BaseException so that ordinary `except Exception` handlers in the program do not
    swallow it; the sandbox does not rely on it and ends the child process instead.
    """


class Recorder:
    """The `sys.settrace` hook. Records raw steps for frames of one compiled program.

    The hook is a closure over local variables rather than a method, because it runs for
    every line of the traced program and attribute lookups would dominate its cost.
    """

    def __init__(
        self,
        filename: str = PROGRAM_FILENAME,
        options: TraceOptions | None = None,
        on_step_limit: Callable[["Recorder"], None] | None = None,
        sink: Callable[[list[RawStep]], None] | None = None,
        flush_every: int = 0,
        use_c: bool | None = None,
    ) -> None:
        if use_c is None:
            use_c = _USE_C_DEFAULT
        self.filename = filename
        self.options = options or _DEFAULT_OPTIONS
        self.watchdog = ReprWatchdog(self.options.render.repr_timeout)
        self.renderer = Renderer(self.options.render, self.watchdog)
        self.steps: list[RawStep] = []
        self.limit_reached = False
        self._on_step_limit = on_step_limit
        self._sink = sink
        self._flush_every = flush_every if sink is not None and flush_every > 0 else 0
        self._flushed = 0  # steps already handed to the sink
        self.flushing = False  # a chunk is being handed to the sink
        self._after_flush: Callable[[], None] | None = None
        self._ctracer = None
        if use_c and _ctracer is not None:
            # The hook calls back through a weak reference: holding the Recorder's own bound
            # methods would make every Recorder a reference cycle, garbage that only the
            # cyclic collector frees (a dataset build makes one per program).
            me = weakref.ref(self)
            self._ctracer = _ctracer.CTracer(
                filename, self.steps, self.renderer.render, lambda: me()._limit(), (lambda: me().flush()) if self._flush_every else None,
                self.options.max_steps, self.renderer.max_chars, self._flush_every, OPAQUE_BUILTIN_TYPES,
            )
        else:
            self.global_hook = self._build_hook()

    def _build_hook(self):
        steps = self.steps
        append = steps.append
        filename = self.filename
        max_steps = self.options.max_steps
        max_chars = self.renderer.max_chars
        render = self.renderer.render
        watchdog = self.watchdog
        enter, leave = watchdog.enter, watchdog.leave
        flush_every = self._flush_every
        fast_kinds = _FAST_KINDS
        tidy = render_tidy
        opaque_types = OPAQUE_BUILTIN_TYPES
        # The traced frames entered and not yet left, innermost last: a frame's depth is the
        # number around it, and a return or exception of a frame the hook never saw enter
        # (its call event failed) is not recorded, so depths never go below 0.
        open_frames: list = []
        push, pop = open_frames.append, open_frames.pop

        def tidied(value, text: str) -> str:
            # Only a default repr loses its address (module file, thread id): a string (or a
            # container of strings) may say "at 0x..." itself, and keeps it, as the careful
            # renderer does.
            if not needs_tidying(text):
                return text
            if type(value) in opaque_types:
                return tidy(text)
            return render(value)

        def snapshot(frame) -> dict[str, str]:
            # Python's own repr of plain values and built-in containers is exact and fast.
            # Containers may hold user objects, so the fast path runs under the watchdog and
            # falls back to the careful renderer on any surprise: an exception, a value over
            # the length limit, or a memory address in the text.
            local_values = frame.f_locals
            if frame.f_code.co_name == "<module>":
                # __name__, __builtins__, ...: the interpreter's, not the program's
                local_values = {k: v for k, v in local_values.items() if k[:2] != "__"}
            values = local_values.values()
            if set(map(type, values)) <= fast_kinds:
                enter()
                try:
                    texts = list(map(repr, values))
                except BaseException:
                    texts = None
                finally:
                    leave()
                if texts is not None:
                    if not texts:
                        return {}
                    if max(map(len, texts)) <= max_chars:
                        joined = "".join(texts)
                        # iterators, functions, modules, threads: drop addresses, files, ids
                        # (render.needs_tidying, inlined: this runs at every line)
                        if " at 0x" in joined or "<module " in joined or ", started " in joined or ", stopped " in joined:
                            texts = list(map(tidied, values, texts))
                        return dict(zip(local_values, texts))
            return {name: render(value) for name, value in local_values.items()}

        def innermost(frame) -> bool:
            # `frame` is open further out when the frames inside it were left without the
            # events Python normally sends: those are dropped.
            if frame in open_frames:
                del open_frames[open_frames.index(frame) + 1 :]
                return True
            return False

        def local_hook(frame, event, arg):
            if len(steps) >= max_steps:
                self._limit()
                return None
            if event == "line":
                append(("line", frame.f_lineno, len(open_frames) - 1, snapshot(frame), None, frame.f_code.co_name))
            elif event == "call":
                # A module starts at line 0; its call frame shows the context's first line.
                append(("call", frame.f_lineno or 1, len(open_frames), snapshot(frame), None, frame.f_code.co_name))
                push(frame)
            elif event == "return":
                if open_frames and open_frames[-1] is frame or innermost(frame):
                    pop()
                    append(("return", frame.f_lineno, len(open_frames), None, render(arg), frame.f_code.co_name))
            elif event == "exception":
                if open_frames and open_frames[-1] is frame or innermost(frame):
                    append(("exception", frame.f_lineno, len(open_frames) - 1, None, render(arg[1]), frame.f_code.co_name))
            if flush_every and len(steps) - self._flushed >= flush_every:
                self.flush()
            return local_hook

        def global_hook(frame, event, arg):
            if frame.f_code.co_filename != filename:
                return None  # not the program's own code: no line events for this frame
            return local_hook(frame, event, arg)

        return global_hook

    def _limit(self) -> None:
        self.limit_reached = True
        _settrace(None)
        if self._on_step_limit is not None:
            self._on_step_limit(self)
        raise StepLimitReached(f"the program produced more than {self.options.max_steps} steps")

    def flush(self) -> None:
        """Hand the steps not yet handed over to the sink."""
        if self._sink is None or len(self.steps) <= self._flushed:
            return
        self.flushing = True
        try:
            self._sink(self.steps[self._flushed :])
            self._flushed = len(self.steps)
            if self._ctracer is not None:
                self._ctracer.mark_flushed(self._flushed)
        finally:
            self.flushing = False
        waiting, self._after_flush = self._after_flush, None
        if waiting is not None:
            waiting()

    def after_flush(self, action: Callable[[], None]) -> bool:
        """For a signal handler that flushes too (the sandbox's limit handlers): whether a flush
        is under way, in which case `action` runs once its chunk is sent and counted. Python
        runs handlers between any two bytecodes, the sink's included, and on the main thread
        whichever thread the signal reached (so masking it is not enough): a handler that
        flushed in the middle would resend the chunk, or leave it half sent."""
        if not self.flushing:
            return False
        self._after_flush = action
        return True

    @property
    def implementation(self) -> str:
        """Which hook records: "c" (the compiled extension) or "python"."""
        return "c" if self._ctracer is not None else "python"

    # -- running ------------------------------------------------------------------------
    def run(self, function: Callable[..., object], *args) -> object:
        """Call `function(*args)` with this recorder installed; always uninstalls it."""
        previous = sys.gettrace()
        self.watchdog.start()
        if self._ctracer is not None:
            self._ctracer.start()
        else:
            _settrace(self.global_hook)
        try:
            return function(*args) if args else function()
        finally:
            if self._ctracer is not None:
                self._ctracer.stop()  # also lets go of the values it kept to reuse their texts
            _settrace(previous)
            self.watchdog.stop()


def steps_to_frames(steps: list[RawStep], context: str) -> list[Frame]:
    """Attach source lines to raw steps, giving the frames of a `Trace`.

    The entry point's marker comment is part of the context but not of the actions: CWM's
    trace shows `def main():`, not `def main():  # << START_OF_TRACE`.
    """
    lines = action_lines(context)
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
    return compile(context, filename, "exec", dont_inherit=True, optimize=0)


def _has_frozenset(value) -> bool:
    if type(value) is frozenset:
        return True
    if type(value) is tuple:
        return any(_has_frozenset(item) for item in value)
    if hasattr(value, "co_consts"):
        return any(_has_frozenset(const) for const in value.co_consts)
    return False


def shippable_code(code) -> bytes | None:
    """A compiled program (from `compile_program`) marshalled for `trace_in_process(...,
    compiled=...)`, so that a caller who compiled it already (the dataset planner hashes
    its bytecode) saves the traced process compiling it again.

    None where the round trip could change what the program does: a frozenset constant
    (`{1, 2, 3}` literals, `x in {...}` tests) comes back from marshal with its elements
    re-inserted in iteration order, which can give another hash-table layout, hence
    another iteration order for the sets built from it.
    """
    if _has_frozenset(code):
        return None
    return marshal.dumps(code)


def _load_compiled(compiled: bytes, filename: str):
    code = marshal.loads(compiled)
    if not isinstance(code, type(_load_compiled.__code__)) or code.co_filename != filename:
        raise ValueError("the precompiled program is not a code object of this program")
    return code


def trace_in_process(
    context: str,
    *,
    script: bool = False,
    options: TraceOptions | None = None,
    recorder: Recorder | None = None,
    namespace: dict | None = None,
    frames: bool = True,
    compiled: bytes | None = None,
    traced: bool = True,
) -> InProcessResult:
    """Trace a program in this process (trusted code only; see the module docstring).

    `frames=False` skips building the `Trace`'s frames (the recorder's raw steps are all a
    caller such as the sandbox child needs); the result's trace then has none.

    For a function-level `context` (made by `build_context`) the module is executed
    untraced to define its functions, then `main()` is called under the tracer. For a
    script, the whole module runs under the tracer.

    `compiled` (`shippable_code(compile_program(context))`) is the context compiled
    beforehand by a trusted caller; the result is the same.

    Either way `random` is seeded with `program_seed(context)` just before the program runs,
    and the caller's own random state is put back afterwards.

    `traced=False` runs the program without the recorder: a check, as the benchmarks' scorers
    run `{code}\\nassert {output} == {answer}`, at full speed. The status is ok, exception
    (the error rendered as in a traced run) or syntax_error, and the trace has no frames.
    Such a run passes only when the code runs to its end: any SystemExit, even
    `sys.exit(0)` from a script, is an exception (the scorers count every BaseException as
    a failure).
    """
    saved_random = random.getstate()  # the caller's: the program gets its own seed (_prepare)
    try:
        if not traced:
            return _run_untraced(context, script, recorder or Recorder(options=options), namespace, compiled)
        recorder = recorder or Recorder(options=options)
        prepared = _prepare(context, recorder, namespace, compiled)
        if isinstance(prepared, InProcessResult):
            return prepared
        code, globals_ = prepared
        status, error = "ok", None
        try:
            if script:
                # No frame of codewm's own between this one and the program's, as untraced
                # (`_run_untraced`): the program meets the recursion limit at the same depth.
                recorder.run(exec, code, globals_)
            else:
                exec(code, globals_)
                recorder.run(_entry_point(globals_, context))
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
        if not frames:
            return InProcessResult(Trace(context, [], complete=False), status, error)
        built = steps_to_frames(recorder.steps, context)
        complete = status in ("ok", "exception") and _balanced(built)
        return InProcessResult(Trace(context, built, complete=complete, runtime=runtime_info(recorder)), status, error)
    finally:
        random.setstate(saved_random)


def _run_untraced(context: str, script: bool, recorder: Recorder, namespace: dict | None, compiled: bytes | None) -> InProcessResult:
    """`trace_in_process(..., traced=False)`: the program runs with no hook installed."""
    prepared = _prepare(context, recorder, namespace, compiled)
    if isinstance(prepared, InProcessResult):
        return prepared
    code, globals_ = prepared
    status, error = "ok", None
    try:
        exec(code, globals_)
        if not script:
            _entry_point(globals_, context)()
    except SystemExit as exc:
        status, error = "exception", f"SystemExit({exc.code!r})"
    except BaseException as exc:
        status, error = "exception", recorder.renderer.render(exc)
    return InProcessResult(Trace(context, [], complete=False), status, error)


def _prepare(context: str, recorder: Recorder, namespace: dict | None, compiled: bytes | None):
    """The program's code object and the globals it runs in, or the syntax_error result when
    it does not compile."""
    try:
        code = _load_compiled(compiled, recorder.filename) if compiled is not None else compile_program(context, recorder.filename)
    except (SyntaxError, ValueError) as exc:
        return InProcessResult(Trace(context, [], complete=False), "syntax_error", _describe_syntax_error(exc))
    globals_ = namespace if namespace is not None else {}
    globals_.setdefault("__name__", "__main__")
    globals_.setdefault("__builtins__", __builtins__)
    random.seed(program_seed(context))  # last: nothing of codewm's draws after it
    return code, globals_


def _entry_point(globals_: dict, context: str):
    """The function-level program's wrapper (`main` unless the program uses that name), which
    the module just defined."""
    name = entry_function(context)
    entry = globals_.get(name)
    if not callable(entry):
        raise NameError(f"the program defines no {name}() entry point")
    return entry


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
