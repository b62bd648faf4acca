"""Program text that contains CWM special tokens (`<|frame_sep|>` in a string literal, say)
is escaped in the context and in actions, so the trace still reads back exactly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from codewm.format.cwm import (
    FRAME_SEP,
    SPECIAL_TOKENS,
    escape_special_tokens,
    format_steps,
    format_prompt,
    format_trace,
    parse_trace,
    unescape_special_tokens,
)
from codewm.types import START_MARKER, Frame, Trace

# Texts built from pieces that matter for the escape: the tokens themselves, their parts,
# backslashes and ordinary characters.
PIECES = st.sampled_from([*SPECIAL_TOKENS, "<", "|", "\\", "<\\|", "<\\\\|", "a", " ", "\n", '"'])
TOKEN_TEXT = st.lists(st.one_of(PIECES, st.text(max_size=3)), max_size=12).map("".join)


@given(TOKEN_TEXT)
def test_escaping_is_reversible_and_leaves_no_special_token(text):
    escaped = escape_special_tokens(text)
    assert "<|" not in escaped
    assert unescape_special_tokens(escaped) == text


def _program(literal: str) -> tuple[str, list[Frame]]:
    line = f"    s = {literal!r}\n"
    context = f"def main():\n{line}    return s\n"
    frames = [
        Frame("call", "def main():\n", 0, {}, None),
        Frame("line", line, 0, {}, None),
        Frame("line", "    return s\n", 0, {"s": repr(literal)}, None),
        Frame("return", "    return s\n", 0, None, repr(literal)),
    ]
    return context, frames


@settings(max_examples=60, deadline=None)
@given(TOKEN_TEXT)
def test_a_trace_whose_source_holds_special_tokens_reads_back(literal):
    context, frames = _program(literal)
    text = format_trace(Trace(context, frames, complete=True))
    parsed = parse_trace(text)
    assert parsed.ok, parsed.error
    assert parsed.trace.context == context
    assert [(f.event, f.source, f.locals, f.value) for f in parsed.trace.frames] == [
        (f.event, f.source, f.locals, f.value) for f in frames
    ]


def test_frame_sep_in_the_program_does_not_end_the_prompt():
    context, frames = _program(FRAME_SEP)
    steps = [(f.event, lineno, 0, f.locals, f.value) for f, lineno in zip(frames, [1, 2, 3, 3])]
    text = format_prompt(context) + format_steps(steps, context, complete=True)
    assert text.count(FRAME_SEP) == 1 + len(frames)
    parsed = parse_trace(text)
    assert parsed.ok, parsed.error
    assert parsed.trace.context == context
    assert [f.source for f in parsed.trace.frames] == [f.source for f in frames]
    assert [f.lineno for f in parsed.trace.frames] == [1, 2, 3, 3]


def test_a_traced_program_with_special_tokens_in_its_source_reads_back():
    from codewm.format.cwm import DESCRIBE_STEPS
    from codewm.trace.sandbox import Program, Sandbox

    source = "def f(x):\n    s = x + '<|frame_sep|><|end_of_text|><\\\\|'\n    return s\n"
    with Sandbox() as sandbox:
        trace = sandbox.run_function(source, "f('<|call_sep|>')").trace
        described = sandbox.run_batch([Program(trace.context)], formatter=DESCRIBE_STEPS)[0].formatted
    assert trace.complete and len(trace.frames) > 3
    for text in (format_trace(trace), described["text"]):
        parsed = parse_trace(text)
        assert parsed.ok, parsed.error
        assert parsed.trace.complete
        assert parsed.trace.context == trace.context
        assert [(f.event, f.source, f.locals, f.value) for f in parsed.trace.frames] == [
            (f.event, f.source, f.locals, f.value) for f in trace.frames
        ]


@settings(max_examples=40, deadline=None)
@given(TOKEN_TEXT)
def test_the_compiled_and_python_formatters_escape_alike(literal):
    import codewm.format.cwm as cwm

    context, frames = _program(literal)
    steps = [(f.event, lineno, 0, f.locals, f.value) for f, lineno in zip(frames, [1, 2, 3, 3])]
    compiled = format_steps(steps, context, complete=True)
    saved, cwm._cformat = cwm._cformat, None  # the fallback a build without a C compiler takes
    try:
        assert format_steps(steps, context, complete=True) == compiled
    finally:
        cwm._cformat = saved


# Rendered values are repr texts, but a program's own __repr__ may return any text: control
# characters, quotes, backslashes, Latin-1 and wider characters, "<|". The compiled formatter
# writes most values between quotes without encoding them; every other value must still be
# encoded exactly as the Python formatter does.
RAW_VALUE = st.lists(st.one_of(PIECES, st.text(max_size=4), st.sampled_from(["\x00", "\x1f", "\x7f", "\xe9", "\u20ac", "\U0001f600", "<|x"])), max_size=8).map("".join).filter(lambda text: text != "..")


@settings(max_examples=150, deadline=None)
@given(st.lists(RAW_VALUE, min_size=1, max_size=4), st.lists(st.tuples(st.permutations(["x", "y", "z"]), st.integers(1, 3)).map(lambda chosen: chosen[0][: chosen[1]]), min_size=4, max_size=4))
def test_the_compiled_and_python_formatters_write_any_value_alike(values, orders):
    # Locals in changing orders and numbers too: ".." compares each name with the frame before.
    import codewm.format.cwm as cwm

    context = "def main():\n    x = 1\n    return x\n"
    steps = [("call", 1, 0, {}, None)]
    steps += [("line", 2 + (i % 2), 0, {name: (value if name == "x" else values[0]) for name in orders[i % 4]}, None) for i, value in enumerate(values)]
    steps += [("return", 3, 0, None, values[-1])]
    compiled = format_steps(steps, context, complete=True)
    saved, cwm._cformat = cwm._cformat, None
    try:
        assert format_steps(steps, context, complete=True) == compiled
    finally:
        cwm._cformat = saved


# The compiled formatter reads an ASCII context's actions itself, as action_lines makes them:
# lines end at "\n" only (not at a form feed, "\x0b", "\x1c" or "\r"), each action ends in
# "\n", a line with the start marker loses its first marker and the blanks before it, and a
# line number out of range has no action.
CONTEXT_PIECES = st.sampled_from(["\n", "\x0c", "\x0b", "\x1c", "\r", " ", "\t", "x = 1", "def main():", START_MARKER, "#", "# <<", "\xe9", "<|"])


@settings(max_examples=300, deadline=None)
@given(st.lists(CONTEXT_PIECES, max_size=14).map("".join), st.lists(st.integers(-1, 12), min_size=1, max_size=8), st.booleans())
def test_the_compiled_formatter_reads_actions_off_the_context_as_action_lines_does(context, linenos, complete):
    import codewm.format.cwm as cwm

    steps = [("line" if i % 3 else "return", lineno, 0, {"x": "1"} if i % 3 else None, None if i % 3 else "2") for i, lineno in enumerate(linenos)]
    compiled = format_steps(steps, context, complete=complete)
    saved, cwm._cformat = cwm._cformat, None
    try:
        assert format_steps(steps, context, complete=complete) == compiled
    finally:
        cwm._cformat = saved
