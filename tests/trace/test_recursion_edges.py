"""Recursion at the limit and values nested deeper than the stack (docs/tracer.md).

The tracer's own work must not count against the program's recursion limit: with the C hook
a traced program meets RecursionError at the same depth as untraced; a program that meets it
still gets a well-formed trace (no frame above depth 0 left without its call, text that
reads back); and a value nested thousands of levels deep renders as the first characters of
its repr instead of raising inside the program.
"""

from __future__ import annotations

import sys

import pytest

from codewm.format.cwm import format_trace, parse_trace
from codewm.trace.render import DEFAULT_MAX_CHARS, render_value
from codewm.trace.tracer import Recorder, _ctracer, trace_in_process
from codewm.types import build_context

needs_c = pytest.mark.skipif(_ctracer is None, reason="the C hook was not built")
HOOKS = [pytest.param(True, marks=needs_c, id="c"), pytest.param(False, id="python")]

# No comparison in the deepest frame: Python 3.11 runs traced bytecode unspecialized, and a
# generic comparison counts one level against the limit (see the 3.11 test below).
COUNTDOWN = "def f(n, s):\n    return 1 + f(n - 1, s) if n else 0\n"
ISSUE_PROGRAM = "def f(n, s):\n    return 0 if n == 0 else 1 + f(n - 1, s)\n"


def _status(source: str, n: int, arg: str, use_c: bool | None) -> str:
    context = build_context(source, f"f({n}, {arg})")
    if use_c is None:
        return trace_in_process(context, traced=False).status
    return trace_in_process(context, recorder=Recorder(use_c=use_c)).status


def _first_failing(source: str, arg: str) -> int:
    """The smallest n for which the program raises RecursionError untraced, here."""
    limit = sys.getrecursionlimit()
    for n in range(limit - 120, limit + 5):
        if _status(source, n, arg, None) != "ok":
            return n
    raise AssertionError("the program never reached the recursion limit")


@needs_c
@pytest.mark.parametrize("arg", ["{1}", "1", "[[[[[1]]]]]", "object()", "'s' * 1000"])
def test_c_hook_meets_the_recursion_limit_at_the_same_depth_as_untraced(arg):
    first = _first_failing(COUNTDOWN, arg)
    for n in range(first - 3, first + 2):
        assert _status(COUNTDOWN, n, arg, True) == _status(COUNTDOWN, n, arg, None), (arg, n, first)


@needs_c
def test_the_issues_program_runs_traced_wherever_it_runs_untraced_but_the_last_level():
    first = _first_failing(ISSUE_PROGRAM, "{1}")
    assert _status(ISSUE_PROGRAM, first - 2, "{1}", True) == "ok"
    assert _status(ISSUE_PROGRAM, first, "{1}", True) == "exception"
    if sys.version_info >= (3, 12):
        assert _status(ISSUE_PROGRAM, first - 1, "{1}", True) == "ok"
    # On 3.11 the last level may differ: traced bytecode runs unspecialized, and a generic
    # comparison (`n == 0`) in a frame exactly at the limit counts one more level, where the
    # specialized one untraced does not (depending on how warm the code is).


def _depths_are_well_formed(frames) -> None:
    open_ = 0
    for frame in frames:
        assert frame.depth >= 0
        if frame.event == "call":
            assert frame.depth == open_
            open_ += 1
        elif frame.event == "return":
            open_ -= 1
            assert frame.depth == open_
        else:
            assert frame.depth == open_ - 1


@pytest.mark.parametrize("use_c", HOOKS)
def test_a_program_that_meets_the_limit_gets_a_trace_that_reads_back(use_c):
    context = build_context("def f(n, s):\n    return f(n + 1, s)\n", "f(0, {1})")
    result = trace_in_process(context, recorder=Recorder(use_c=use_c))
    assert result.status == "exception" and result.error.startswith("RecursionError(")
    frames = result.trace.frames
    _depths_are_well_formed(frames)
    if use_c:
        # every frame entered is left: the exception reaches main, which returns
        assert result.trace.complete and result.trace.raised
        assert sum(f.event == "call" for f in frames) == sum(f.event == "return" for f in frames)
    parsed = parse_trace(format_trace(result.trace))
    assert parsed.ok, parsed.error
    assert parsed.trace == result.trace


def _nested(kind: str, levels: int):
    value: object = 7
    for _ in range(levels):
        value = [value] if kind == "list" else (value,) if kind == "tuple" else {"k": value}
    return value


def _prefix(kind: str, levels: int) -> str:
    opening = {"list": "[", "tuple": "(", "dict": "{'k': "}[kind]
    text = opening * (DEFAULT_MAX_CHARS // len(opening) + 1)
    return text[:DEFAULT_MAX_CHARS] + "..."


@pytest.mark.parametrize("use_c", HOOKS)
@pytest.mark.parametrize("kind", ["list", "tuple", "dict"])
def test_a_value_nested_deeper_than_the_stack_renders_without_raising(use_c, kind):
    source = "def f():\n    x = VALUE\n    y = [x, 1]\n    return x\n"
    context = build_context(source, "f()")
    result = trace_in_process(context, recorder=Recorder(use_c=use_c), namespace={"VALUE": _nested(kind, 3000)})
    assert result.status == "ok", result.error
    assert result.trace.output == _prefix(kind, 3000)
    line = [frame for frame in result.trace.frames if frame.event == "line"][-1]  # before `return x`
    assert line.locals == {"x": _prefix(kind, 3000), "y": "[" + _prefix(kind, 3000)[: DEFAULT_MAX_CHARS - 1] + "..."}


def test_rendering_a_deep_value_needs_no_stack_even_at_the_limit():
    value = _nested("list", 100_000)

    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + 60)  # room for a few frames, not for 100,000 levels
    try:
        text = render_value(value)
    finally:
        sys.setrecursionlimit(limit)
    assert text == _prefix("list", 100_000)
    small = _nested("tuple", 3)
    assert render_value(small) == repr(small) == "(((7,),),)"
    cyclic: list = [1]
    cyclic.append(_nested("list", 2) + [cyclic])
    assert render_value(cyclic) == repr(cyclic)


@needs_c
def test_in_the_sandbox_the_issues_program_runs_traced_as_deep_as_untraced():
    from codewm.trace.sandbox import Program, Sandbox

    limit = sys.getrecursionlimit()
    depths = range(limit - 80, limit + 5)
    contexts = [build_context(ISSUE_PROGRAM, f"f({n}, {{1}})") for n in depths]
    with Sandbox() as sandbox:
        untraced = [r.status for r in sandbox.run_batch([Program(c, traced=False) for c in contexts])]
        first = depths[untraced.index("exception")]
        assert untraced[: first - depths[0]] == ["ok"] * (first - depths[0])
        chosen = [first - 3, first - 2, first, first + 1]
        traced = sandbox.run_batch([Program(contexts[n - depths[0]]) for n in chosen])
    assert [r.status for r in traced] == ["ok", "ok", "exception", "exception"], first
    for result in traced:
        _depths_are_well_formed(result.trace.frames)
        assert result.trace.complete
        assert parse_trace(format_trace(result.trace)).trace == result.trace
