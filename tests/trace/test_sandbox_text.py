"""The CWM formatter in the sandbox (`run_batch(..., formatter=DESCRIBE_STEPS)`) and
precompiled programs: the dataset builder's fast path must give exactly what the ordinary
path gives."""

from __future__ import annotations

import marshal

import pytest

from codewm.format.cwm import DESCRIBE_STEPS, format_trace
from codewm.programs.synthetic import SyntheticSource
from codewm.trace.sandbox import Program, Sandbox, SandboxLimits
from codewm.trace.tracer import compile_program, shippable_code, trace_in_process
from codewm.types import build_context

LIMITS = SandboxLimits(cpu_seconds=2, wall_seconds=2, memory_bytes=256 << 20, max_steps=600, output_bytes=1000)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(limits=LIMITS, workers=2) as box:
        yield box


def fn(body: str, call: str = "f()") -> Program:
    return Program.function("def f():\n" + "".join(f"    {line}\n" for line in body.splitlines()), call)


def longest(trace) -> int:
    values = [len(v) for frame in trace.frames for v in (frame.locals or {}).values()]
    values += [len(frame.value) for frame in trace.frames if frame.value is not None]
    return max(values, default=0)


PROGRAMS = [
    fn("x = [3, 1, 2]\nx.sort()\nreturn x"),
    fn("raise KeyError('k')"),
    Program.function("def f(:\n", "f()"),
    fn("print('hi')\nreturn sum(range(10))"),
    Program.whole_script("a = 1\nb = a + 1\nprint(b)\n"),
    fn("import time\ntime.sleep(30)"),  # timeout: a partial trace the worker formats
    fn("while True:\n    pass"),  # step limit
    fn("total = 0\nfor i in range(250):\n    total += i\nreturn total"),  # > 256 steps: streamed in chunks first
    fn("s = 'caf\u00e9 <|frame_sep|> \\ud800'\nreturn s"),  # non-ASCII, a special token, a lone surrogate
    fn("import os\nos._exit(3)"),
    fn("x = [0] * (10 ** 10)"),
    fn("import ctypes\nctypes.string_at(0)"),
    fn("return 7"),
]


def test_text_mode_gives_what_the_frames_give(sandbox):
    framed = sandbox.run_batch(PROGRAMS)
    texts = sandbox.run_batch(PROGRAMS, formatter=DESCRIBE_STEPS)
    assert [r.status for r in texts] == [r.status for r in framed]
    assert [r.status for r in texts] == ["ok", "exception", "syntax_error", "ok", "ok", "timeout", "step_limit", "ok", "ok", "crashed", "memory_limit", "crashed", "ok"]
    for with_frames, as_text in zip(framed, texts):
        assert (as_text.error, as_text.stdout, as_text.output_truncated) == (with_frames.error, with_frames.stdout, with_frames.output_truncated)
        assert as_text.formatted["text"] == format_trace(with_frames.trace)
        assert as_text.trace.complete == with_frames.trace.complete
        assert as_text.formatted["complete"] == with_frames.trace.complete
        assert as_text.formatted["n_frames"] == len(with_frames.trace.frames)
        assert as_text.formatted["linenos"] == [frame.lineno for frame in with_frames.trace.frames]
        assert as_text.formatted["max_value_chars"] == longest(with_frames.trace)
        assert as_text.trace.frames == []  # a formatted run builds no frames
        assert with_frames.formatted is None


def compiled(source: str, call: str) -> bytes | None:
    return shippable_code(compile_program(build_context(source, call)))


def test_a_precompiled_program_runs_the_same(sandbox):
    cases = list(SyntheticSource(count=60, seed=11).cases())
    plain = [Program.function(c.source, c.call) for c in cases]
    shipped = [Program.function(c.source, c.call, compiled=compiled(c.source, c.call)) for c in cases]
    assert sum(p.compiled is not None for p in shipped) > 40
    assert [r.formatted for r in sandbox.run_batch(shipped, formatter=DESCRIBE_STEPS)] == [r.formatted for r in sandbox.run_batch(plain, formatter=DESCRIBE_STEPS)]


def test_in_process_tracing_of_a_precompiled_program_equals_compiling_it():
    for case in SyntheticSource(count=200, seed=5).cases():
        context = build_context(case.source, case.call)
        code = compiled(case.source, case.call)
        if code is None:
            continue
        ours, reference = trace_in_process(context, compiled=code), trace_in_process(context)
        assert (ours.status, ours.error, ours.trace) == (reference.status, reference.error, reference.trace)
        assert [f.lineno for f in ours.trace.frames] == [f.lineno for f in reference.trace.frames]


def test_set_constants_are_not_shipped():
    # A frozenset constant can come back from marshal with another iteration order.
    assert compiled("def f():\n    return {3, 9, 11, 12}\n", "f()") is None
    assert compiled("def f(x):\n    return x in {3, 9, 11}\n", "f(1)") is None
    assert compiled("def f(x):\n    return x\n", "f({1, 2, 3})") is None  # in the call
    assert compiled("def f():\n    return ((1, 2 in {3, 4, 5}),)\n", "f()") is None
    assert compiled("def f():\n    return [3, 9, 11]\n", "f()") is not None


def test_a_precompiled_program_must_be_one_of_ours():
    foreign = marshal.dumps(compile("x = 1\n", "elsewhere.py", "exec"))
    result = trace_in_process(build_context("def f():\n    return 1\n", "f()"), compiled=foreign)
    assert result.status == "syntax_error" and "not a code object of this program" in result.error
