"""The in-process tracer: what it records, and that the C and Python hooks agree exactly."""

from __future__ import annotations

import pytest

from codewm.examples import cruxeval_style
from codewm.trace.render import RenderOptions
from codewm.trace.tracer import Recorder, TraceOptions, trace_function, trace_in_process, trace_script
from codewm.types import build_context

try:
    from codewm.trace import _ctracer
except ImportError:  # pragma: no cover
    _ctracer = None

TRICKY = [
    # iterators of every built-in kind, whose reprs carry addresses
    ("def f(xs):\n    it = iter(xs)\n    e = enumerate(xs)\n    z = zip(xs, xs)\n    r = reversed(xs)\n    return next(it)\n", "f([1, 2])"),
    # nested containers, deep ones, sets and tuples
    ("def f():\n    m = [[1, 2], [3, [4, [5, [6]]]]]\n    s = {3, 1}\n    t = (1,)\n    d = {'a': {'b': [1]}}\n    return m\n", "f()"),
    # values over the length limit, huge ints, huge strings
    ("def f():\n    s = 'x' * 5000\n    n = 10 ** 5000\n    xs = list(range(3000))\n    return len(s)\n", "f()"),
    # user objects with and without reprs, a raising repr, a recursive list
    ("class A:\n    pass\nclass B:\n    def __repr__(self):\n        raise ValueError('no')\ndef f():\n    a = A()\n    b = B()\n    xs = [a, b]\n    xs.append(xs)\n    return 1\n", "f()"),
    # generators, comprehensions, lambdas, exceptions caught and uncaught
    ("def g(n):\n    for i in range(n):\n        yield i\ndef f():\n    ys = [y for y in g(3)]\n    k = sorted(ys, key=lambda v: -v)\n    try:\n        {}['x']\n    except KeyError as e:\n        pass\n    return k\n", "f()"),
    ("def f():\n    raise ValueError('boom')\n", "f()"),
    # floats, bools, None, bytes, complex, unicode
    ("def f():\n    a = 1.5\n    b = True\n    c = None\n    d = b'\\x00ab'\n    e = 2j\n    u = 'h\u00e9llo \u2603'\n    return a\n", "f()"),
]


def _steps(context: str, use_c: bool, **options):
    recorder = Recorder(options=TraceOptions(**options) if options else None, use_c=use_c)
    result = trace_in_process(context, recorder=recorder)
    return result.status, recorder.steps, result.trace


@pytest.mark.skipif(_ctracer is None, reason="the C hook was not built")  # it is built by `pip install -e .`
def test_c_hook_is_built_and_used_by_default():
    assert Recorder().implementation == "c"
    assert Recorder(use_c=False).implementation == "python"


@pytest.mark.parametrize("source,call", TRICKY)
def test_c_and_python_hooks_record_identical_steps(source, call):
    context = build_context(source, call)
    c = _steps(context, use_c=True)
    py = _steps(context, use_c=False)
    assert c[0] == py[0]
    assert [list(step) for step in c[1]] == [list(step) for step in py[1]]


def test_c_and_python_hooks_agree_on_every_bundled_function():
    for example in cruxeval_style():
        context = build_context(example.source, example.call)
        c_status, c_steps, c_trace = _steps(context, use_c=True)
        py_status, py_steps, _ = _steps(context, use_c=False)
        assert (c_status, c_steps) == (py_status, py_steps), example.name


def test_every_bundled_function_returns_its_recorded_output():
    import json

    from codewm.examples import CRUXEVAL_STYLE

    rows = [json.loads(line) for line in CRUXEVAL_STYLE.read_text().splitlines()]
    assert len(rows) >= 300
    for row in rows:
        result = trace_function(row["code"], f"f({row['input']})")
        assert result.status == "ok", row["id"]
        assert result.trace.output == row["output"], row["id"]
        assert result.trace.complete


def test_only_the_programs_own_frames_are_recorded():
    source = "import json\ndef f(xs):\n    text = json.dumps(xs)\n    return sorted(xs, key=lambda x: -x)\n"
    result = trace_function(source, "f([1, 2])")
    functions = {frame.function for frame in result.trace.frames}
    assert functions == {"main", "f", "<lambda>"}  # nothing from json's Python code
    lambdas = [f for f in result.trace.frames if f.function == "<lambda>" and f.event == "call"]
    assert len(lambdas) == 2 and lambdas[0].depth == 2


def test_depth_follows_calls_and_returns():
    result = trace_function("def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)\n", "fact(3)")
    depths = [(f.event, f.depth) for f in result.trace.frames if f.event in ("call", "return")]
    assert depths == [("call", 0), ("call", 1), ("call", 2), ("call", 3), ("return", 3), ("return", 2), ("return", 1), ("return", 0)]
    assert result.trace.output == "6"


def test_uncaught_exception_frames_and_status():
    result = trace_function("def f():\n    x = 1\n    raise ValueError('boom')\n", "f()")
    assert result.status == "exception"
    assert result.error == "ValueError('boom')"
    events = [(f.event, f.depth, f.value) for f in result.trace.frames if f.locals is None]
    assert events == [
        ("exception", 1, "ValueError('boom')"),
        ("return", 1, "None"),
        ("exception", 0, "ValueError('boom')"),
        ("return", 0, "None"),
    ]
    assert result.trace.raised and result.trace.complete


def test_step_limit_stops_the_run_with_a_partial_trace():
    result = trace_function("def f():\n    i = 0\n    while True:\n        i += 1\n", "f()", TraceOptions(max_steps=50))
    assert result.status == "step_limit"
    assert len(result.trace.frames) == 50
    assert not result.trace.complete


def test_value_length_bound_is_configurable():
    options = TraceOptions(render=RenderOptions(max_chars=20))
    result = trace_function("def f():\n    s = 'abcdefghij' * 10\n    return s\n", "f()", options)
    value = result.trace.frames[-2].value
    assert value == repr("abcdefghij" * 10)[:20] + "..."


def test_scripts_trace_module_level_code_without_interpreter_names():
    result = trace_script("x = 2\ndef h(a):\n    return a * x\ny = h(3)\n")
    assert result.status == "ok"
    module_locals = [f.locals for f in result.trace.frames if f.depth == 0 and f.locals is not None]
    assert all(not name.startswith("__") for state in module_locals for name in state)
    assert module_locals[-1] == {"x": "2", "h": "<function h>"}
    assert result.trace.frames[-1].event == "return" and result.trace.complete


def test_syntax_error_is_reported_not_raised():
    result = trace_function("def f(:\n    pass\n", "f()")
    assert result.status == "syntax_error"
    assert "line 1" in result.error


def test_tracing_leaves_the_callers_trace_function_in_place():
    import sys

    def outer_hook(frame, event, arg):
        return None

    sys.settrace(outer_hook)
    try:
        trace_function("def f():\n    return 1\n", "f()")
        assert sys.gettrace() is outer_hook
    finally:
        sys.settrace(None)


@pytest.mark.parametrize("use_c", [True, False])
def test_a_user_function_named_main_does_not_collide_with_the_wrapper(use_c):
    # Issue 15, finding 9: `def main(x)` called from `f` raised TypeError (the wrapper
    # replaced it), and a call of `main()` recursed into the wrapper forever.
    source = "def main(x):\n    return x + 1\ndef f(x):\n    return main(x) * 2\n"
    status, _, trace = _steps(build_context(source, "f(20)"), use_c)
    assert status == "ok" and trace.complete
    assert trace.frames[-1].value == "42"
    status, _, trace = _steps(build_context("def main():\n    return 7\n", "main()"), use_c)
    assert (status, trace.frames[-1].value, trace.complete) == ("ok", "7", True)
    assert len(trace.frames) == 6  # the wrapper and the user's main: a call, a line and a return each
    status, _, trace = _steps(build_context("def f():\n    return 1\n", "main()"), use_c)
    assert status == "exception" and trace.frames[-2].value.startswith("NameError")


def test_the_wrapper_is_named_main_when_the_program_does_not_use_that_name():
    assert "\ndef main():  # << START_OF_TRACE\n" in build_context("def f(x):\n    return x\n", "f(1)")
    # text that only mentions the word (a string, a comment, an attribute) changes nothing
    source = "def f(o):\n    # main\n    return o.main + len('main')\n"
    assert build_context(source, "f(1)").endswith("def main():  # << START_OF_TRACE\n    return f(1)\n")


@pytest.mark.parametrize("use_c", [True, False])
def test_source_lines_end_at_newline_only_through_the_cwm_text(use_c):
    # Issue 15, finding 7: str.splitlines also breaks at \f, \x0b, \x1c-\x1e, \x85, U+2028/9.
    from codewm.format.cwm import format_trace, parse_trace

    source = 'def g(y):\n    return y + 1\n\f\ndef f():\n    s = "a\u2028b\x85c"\n    return g(len(s))\n'
    _, _, trace = _steps(build_context(source, "f()"), use_c)
    real_lines = trace.context.split("\n")
    assert trace.frames[-1].value == "6"
    for frame in trace.frames:
        assert frame.source == real_lines[frame.lineno - 1].replace("  # << START_OF_TRACE", "") + "\n"
    parsed = parse_trace(format_trace(trace))
    assert parsed.ok and parsed.trace == trace
    assert [f.lineno for f in parsed.trace.frames] == [f.lineno for f in trace.frames]


def test_a_finished_c_recorder_is_freed_with_its_steps():
    """The C hook holds the recorder's bound methods and the recorder holds the hook: the hook
    must take part in garbage collection, or every recorder (and its steps) stays alive."""
    import gc
    import weakref

    recorder = Recorder(use_c=True)
    trace_in_process(build_context("def f(x):\n    return x\n", "f(1)"), recorder=recorder)
    assert recorder.implementation == "c" and recorder.steps
    alive = weakref.ref(recorder)
    del recorder
    gc.collect()
    assert alive() is None


def test_source_lines_break_at_newlines_only_whatever_else_the_text_holds():
    """source_lines takes str.splitlines' lines only when they are the "\\n" lines."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from codewm.types import START_MARKER, action_lines, action_text, source_lines

    def by_newlines(text):
        lines = [line + "\n" for line in text.split("\n")]
        lines[-1] = lines[-1][:-1]
        return lines if lines[-1] else lines[:-1]

    pieces = st.sampled_from(["a", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", " ", START_MARKER])

    @settings(max_examples=500, deadline=None)
    @given(st.lists(pieces, max_size=12).map("".join))
    def check(text):
        assert source_lines(text) == by_newlines(text)
        expected = [action_text(line) for line in by_newlines(text)]
        assert action_lines(text) == expected

    check()
