"""Round trips: parse(format(t)) == t for CWM text, and JSON keeps every field.

Three sources of traces: the golden traces (`tests/golden/expected/*.json`), traces of random
small programs (a hypothesis grammar of straight-line code, bounded loops, ifs and helper
calls over ints, strings and lists, run by the in-process tracer), and random frame lists
built directly.

What the CWM text cannot carry (checked in `test_unrepresentable_values_are_documented`):

- a local whose value is exactly `..` is written as `".."` and reads back as "unchanged"
  (or fails to resolve): the text cannot tell the two apart. The tracer never produces it
  (the renderer writes `<repr '..'>` instead); values such as `'..'` (with quotes) are fine;
- special tokens (`<|frame_sep|>`, `<|arg_sep|>`, ...) inside a value, a source line or the
  context: the formatter writes them verbatim (JSON does not escape `<` or `|`), so the text
  is ambiguous and the parser stops with an error (or, when a token sits where the parser
  does not look for it, happens to read it back). Random frames below exclude both.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codewm.format.cwm import SPECIAL_TOKENS, format_frames, format_prompt, format_steps, format_trace, parse_trace
from codewm.format.json_trace import trace_from_json, trace_to_json
from codewm.trace.tracer import trace_function
from codewm.types import Frame, Trace, action_text

EXPECTED = Path(__file__).parent.parent / "golden" / "expected"
GOLDEN_NAMES = sorted(path.stem for path in EXPECTED.glob("*.json"))


def load_golden(name: str) -> Trace:
    return trace_from_json((EXPECTED / f"{name}.json").read_text(encoding="utf-8"))


def unique_lines(context: str) -> dict[str, int]:
    """Action text -> how often it occurs among the context's lines."""
    counts: dict[str, int] = {}
    for line in context.splitlines(keepends=True):
        text = action_text(line)
        counts[text] = counts.get(text, 0) + 1
    return counts


def assert_cwm_round_trip(trace: Trace) -> None:
    text = format_trace(trace)
    result = parse_trace(text)
    assert result.error is None, (result.error, result.position)
    assert result.position is None
    assert result.trace == trace
    assert result.trace.complete == trace.complete
    # The frames alone (after a prompt) parse back too, given the context.
    frames_only = parse_trace(format_frames(trace.frames, trace.complete), context=trace.context)
    assert frames_only.error is None
    assert frames_only.trace == trace
    # And formatting the parsed trace gives the very same text.
    assert format_trace(result.trace) == text


def assert_linenos_recovered(original: Trace, parsed: Trace) -> None:
    """Every frame whose source line is unique in the context gets its line number back."""
    counts = unique_lines(original.context)
    for mine, theirs in zip(original.frames, parsed.frames, strict=True):
        if counts.get(mine.source) == 1:
            assert theirs.lineno == mine.lineno, (mine.source, mine.lineno, theirs.lineno)
        else:
            assert theirs.lineno == 0, (mine.source, theirs.lineno)  # ambiguous: not guessed


def assert_json_round_trip(trace: Trace) -> None:
    for indent in (None, 1):
        text = trace_to_json(trace, indent=indent)
        back = trace_from_json(text)
        assert back == trace
        assert back.to_dict() == trace.to_dict()  # lineno and function survive
        assert trace_to_json(back, indent=indent) == text


# -- golden traces -------------------------------------------------------------------------------
def test_golden_traces_exist():
    assert len(GOLDEN_NAMES) >= 18


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_cwm_round_trip(name):
    trace = load_golden(name)
    assert_cwm_round_trip(trace)
    parsed = parse_trace(format_trace(trace)).trace
    assert_linenos_recovered(trace, parsed)
    assert all(frame.function == "" for frame in parsed.frames)  # the text does not carry it
    # The golden .cwm file is the formatted trace, so it parses to the same trace.
    assert parse_trace((EXPECTED / f"{name}.cwm").read_text(encoding="utf-8")).trace == trace


@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_golden_json_round_trip(name):
    trace = load_golden(name)
    assert_json_round_trip(trace)
    assert all(frame.lineno > 0 and frame.function for frame in trace.frames)


# -- random programs -------------------------------------------------------------------------------
INT_VARS = ("n", "i0", "i1")
STR_VARS = ("s", "t")
STR_LITERALS = ("''", "'a'", "'Ab'", "'..'", "'\"q\"'", "'é☃'", "'x y'", "'\\\\'")

HELPER = """\
def helper(a, b):
    if a > b:
        return a - b
    return a + b
"""


@st.composite
def int_exprs(draw, ints: tuple[str, ...], depth: int = 0) -> str:
    choices = ["lit", "var", "len_s", "len_xs"] + (["add", "sub", "mul", "mod", "helper"] if depth < 2 else [])
    kind = draw(st.sampled_from(choices))
    if kind == "lit":
        return str(draw(st.integers(-5, 5)))
    if kind == "var":
        return draw(st.sampled_from(ints))
    if kind == "len_s":
        return f"len({draw(st.sampled_from(STR_VARS))})"
    if kind == "len_xs":
        return "len(xs)"
    if kind == "mul":
        return f"{draw(st.sampled_from(ints))} * {draw(st.integers(-2, 3))}"
    if kind == "mod":
        return f"{draw(int_exprs(ints, depth + 1))} % {draw(st.integers(2, 7))}"
    a = draw(int_exprs(ints, depth + 1))
    b = draw(int_exprs(ints, depth + 1))
    if kind == "helper":
        return f"helper({a}, {b})"
    return f"{a} {'+' if kind == 'add' else '-'} {b}"


@st.composite
def str_exprs(draw, ints: tuple[str, ...]) -> str:
    kind = draw(st.sampled_from(["lit", "var", "concat", "upper", "str_int", "reverse"]))
    s = draw(st.sampled_from(STR_VARS))
    if kind == "lit":
        return draw(st.sampled_from(STR_LITERALS))
    if kind == "var":
        return s
    if kind == "concat":
        return f"({s} + {draw(st.sampled_from(STR_LITERALS + STR_VARS))})[:12]"
    if kind == "upper":
        return f"{s}.upper()"
    if kind == "reverse":
        return f"{s}[::-1]"
    return f"str({draw(int_exprs(ints, 1))})"


@st.composite
def conditions(draw, ints: tuple[str, ...]) -> str:
    kind = draw(st.sampled_from(["gt", "eq_s", "len", "even"]))
    if kind == "gt":
        return f"{draw(int_exprs(ints, 1))} > {draw(int_exprs(ints, 1))}"
    if kind == "eq_s":
        return f"{draw(st.sampled_from(STR_VARS))} == {draw(st.sampled_from(STR_LITERALS + STR_VARS))}"
    if kind == "len":
        return f"len(xs) > {draw(st.integers(0, 4))}"
    return f"{draw(st.sampled_from(ints))} % 2 == 0"


@st.composite
def blocks(draw, indent: int, ints: tuple[str, ...], depth: int) -> list[str]:
    """A non-empty list of statements (source lines) at `indent` levels of nesting."""
    pad = "    " * indent
    lines: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kinds = ["int", "str", "list", "helper"] + (["if", "for", "while"] if depth < 2 else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "int":
            lines.append(f"{pad}{draw(st.sampled_from(INT_VARS))} = {draw(int_exprs(ints))}")
        elif kind == "str":
            lines.append(f"{pad}{draw(st.sampled_from(STR_VARS))} = {draw(str_exprs(ints))}")
        elif kind == "list":
            op = draw(st.sampled_from(["append", "sort", "sorted", "reverse", "trim"]))
            lines.append(
                {
                    "append": f"{pad}xs.append({draw(int_exprs(ints))})",
                    "sort": f"{pad}xs.sort()",
                    "sorted": f"{pad}xs = sorted(xs)",
                    "reverse": f"{pad}xs.reverse()",
                    "trim": f"{pad}xs = xs[-4:]",
                }[op]
            )
        elif kind == "helper":
            lines.append(f"{pad}{draw(st.sampled_from(INT_VARS))} = helper({draw(int_exprs(ints, 1))}, {draw(int_exprs(ints, 1))})")
        elif kind == "if":
            lines.append(f"{pad}if {draw(conditions(ints))}:")
            lines += draw(blocks(indent + 1, ints, depth + 1))
            if draw(st.booleans()):
                lines.append(f"{pad}else:")
                lines += draw(blocks(indent + 1, ints, depth + 1))
        elif kind == "for":
            var = f"k{depth}"
            lines.append(f"{pad}for {var} in range({draw(st.integers(0, 3))}):")
            lines += draw(blocks(indent + 1, ints + (var,), depth + 1))
        else:  # a while loop on its own counter, so it always ends
            var = f"w{depth}"
            lines.append(f"{pad}{var} = 0")
            lines.append(f"{pad}while {var} < {draw(st.integers(0, 3))}:")
            lines += draw(blocks(indent + 1, ints, depth + 1))
            lines.append(f"{pad}    {var} += 1")
    return lines


@st.composite
def programs(draw) -> tuple[str, str]:
    """(source, call) of a random terminating program over ints, strings and lists."""
    body = ["    i0 = 0", "    i1 = 1", "    t = ''"] + draw(blocks(1, INT_VARS, 0))
    body.append("    return n, s, t, xs, i0 + i1")
    source = HELPER + "\ndef f(n, s, xs):\n" + "\n".join(body) + "\n"
    xs = draw(st.lists(st.integers(-9, 9), max_size=4))
    call = f"f({draw(st.integers(-5, 5))}, {draw(st.sampled_from(STR_LITERALS))}, {xs!r})"
    return source, call


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_random_programs_round_trip(program):
    source, call = program
    result = trace_function(source, call)
    assert result.status == "ok", (result.error, source, call)
    trace = result.trace
    assert trace.complete and trace.frames
    assert_cwm_round_trip(trace)
    assert_linenos_recovered(trace, parse_trace(format_trace(trace)).trace)
    assert_json_round_trip(trace)


# -- random frame lists ------------------------------------------------------------------------------
def _clean(text: str) -> bool:
    return not any(token in text for token in SPECIAL_TOKENS)


# Fragments that stress JSON escaping and the ".." rule without being ambiguous.
TRICKY = st.sampled_from(
    ["'..'", '".."', "...", ". .", "..\n", " ..", "\\", '\\"', '"', "'", "{}", '{"a": ".."}', "<|", "|>", "<|frame", "sep|>", "\u2028", "\x00", "\t", "é☃𝄞"]
)
SAFE_TEXT = st.one_of(st.text(max_size=12), TRICKY, st.lists(st.one_of(st.text(max_size=4), TRICKY), max_size=4).map("".join)).filter(_clean)
VALUES = SAFE_TEXT.filter(lambda value: value != "..")
LOCALS = st.dictionaries(st.one_of(SAFE_TEXT, st.sampled_from(["x", "y", ".0", ".."])), st.one_of(VALUES, st.sampled_from(["1", "'a'"])), max_size=4)


@st.composite
def frame_lists(draw) -> Trace:
    """A structurally valid random trace: calls and returns nest, depths follow them."""
    context = draw(SAFE_TEXT)
    frames = [Frame("call", draw(SAFE_TEXT), 0, draw(LOCALS), None)]
    open_scopes = 1
    previous_locals = frames[0].locals
    for _ in range(draw(st.integers(0, 14))):
        if open_scopes == 0:
            break
        kind = draw(st.sampled_from(["call", "line", "line", "same", "return", "exception"]))
        source = draw(SAFE_TEXT)
        if kind == "call":
            frames.append(Frame("call", source, open_scopes, draw(LOCALS), None))
            open_scopes += 1
        elif kind in ("line", "same"):
            # "same": reuse and partly change the previous locals, so ".." is written often.
            local_values = dict(previous_locals or {}) if kind == "same" else draw(LOCALS)
            local_values.update(draw(LOCALS) if kind == "same" and draw(st.booleans()) else {})
            frames.append(Frame("line", source, open_scopes - 1, local_values, None))
        elif kind == "exception":
            frames.append(Frame("exception", source, open_scopes - 1, None, draw(VALUES)))
        else:
            frames.append(Frame("return", source, open_scopes - 1, None, draw(VALUES)))
            open_scopes -= 1
        previous_locals = frames[-1].locals if frames[-1].locals is not None else previous_locals
    complete = open_scopes == 0
    if not complete and draw(st.booleans()):
        while open_scopes:  # close every scope: a complete trace
            frames.append(Frame("return", draw(SAFE_TEXT), open_scopes - 1, None, draw(VALUES)))
            open_scopes -= 1
        complete = True
    return Trace(context, frames, complete=complete)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(frame_lists())
def test_random_frames_round_trip(trace):
    assert_cwm_round_trip(trace)
    assert_json_round_trip(trace)


# -- what the text cannot carry ---------------------------------------------------------------------
def test_a_bare_dotdot_value_is_refused_by_the_writer():
    # A value that is exactly ".." would read back as "unchanged": the writer refuses it
    # with a clear error instead of writing a text that means something else.
    frames = [Frame("call", "a\n", 0, {"v": "1"}, None), Frame("line", "b\n", 0, {"v": ".."}, None), Frame("return", "b\n", 0, None, "1")]
    with pytest.raises(ValueError, match="reserved text '..'"):
        format_trace(Trace("a\nb\n", frames))
    with pytest.raises(ValueError, match="reserved text '..'"):
        format_steps([("call", 1, 0, {"v": ".."}, None, "f")], "a\n")
    # A model's text may still contain one with nothing to refer to: a precise parse error.
    text = '<|call_sep|>{"v": ".."}<|action_sep|>a\n<|frame_sep|>'
    result = parse_trace(text, context="a\n")
    assert "is '..' but there is no earlier observation" in result.error
    # The tracer itself never writes a bare "..": a repr of '..' is rendered otherwise.
    traced = trace_function("class D:\n    def __repr__(self):\n        return '..'\ndef f():\n    d = D()\n    return d\n", "f()")
    assert traced.trace.output == "<repr '..'>"
    assert_cwm_round_trip(traced.trace)


@pytest.mark.parametrize("token", ["<|end_of_text|>", "<|frame_sep|>", "<|action_sep|>", "<|arg_sep|>", "<|call_sep|>"])
def test_special_tokens_inside_values_are_escaped_and_round_trip(token):
    # A program may hold CWM text in its variables; written raw, a tokenizer would read the
    # special token. The writer escapes "<|" inside JSON strings; the reader decodes it.
    frames = [
        Frame("call", "a\n", 0, {"s": f"'x{token}y'"}, None),
        Frame("line", "b\n", 0, {"s": f"'x{token}y'", "t": f"{token}"}, None),
        Frame("return", "b\n", 0, None, f"'{token}'"),
    ]
    trace = Trace("a\nb\n", frames)
    text = format_trace(trace)
    body = text[len(format_prompt(trace.context)) :]
    structural = {"<|end_of_text|>": 1, "<|frame_sep|>": 3, "<|action_sep|>": 3, "<|call_sep|>": 1, "<|arg_sep|>": 1}
    assert body.count(token) == structural[token]  # only the format's own tokens remain
    assert "<\\u007c" in body
    assert parse_trace(text).trace == trace
    steps = [("call", 1, 0, frames[0].locals, None, "f"), ("line", 2, 0, frames[1].locals, None, "f"), ("return", 2, 0, None, frames[2].value, "f")]
    assert format_steps(steps, "a\nb\n") == format_frames(frames)


def test_json_round_trip_keeps_metadata_that_equality_ignores():
    frames = [Frame("call", "def main():\n", 0, {}, None, lineno=3, function="main"), Frame("return", "def main():\n", 0, None, "1", lineno=4, function="main")]
    trace = Trace("x\ndef main():  # << START_OF_TRACE\n", frames)
    back = trace_from_json(trace_to_json(trace))
    assert [(f.lineno, f.function) for f in back.frames] == [(3, "main"), (4, "main")]
    assert json.loads(trace_to_json(trace))["frames"][1]["lineno"] == 4
