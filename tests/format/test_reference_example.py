"""The reference example: the trace real CWM produced for `f('UppEr', 0)`, token for token.

`../shared/reference/cwm-trace-format.md` shows CWM's greedy output on this CRUXEval-style
function; codewm's tracer and formatter must reproduce it exactly, both in this process and
through the sandbox.
"""

from __future__ import annotations

import re

import pytest

from codewm.format.cwm import format_frames, format_prompt, format_trace, parse_trace
from codewm.trace.sandbox import Sandbox
from codewm.trace.tracer import trace_function
from codewm.types import START_MARKER, build_context

SOURCE = """\
def f(string, encryption):
    if encryption == 0:
        return string
    else:
        return string.upper().encode('rot13')
"""
CALL = "f('UppEr', 0)"

EXPECTED_CONTEXT = """\
def f(string, encryption):
    if encryption == 0:
        return string
    else:
        return string.upper().encode('rot13')
def main():  # << START_OF_TRACE
    return f('UppEr', 0)
"""

# The reference's generated trace (the prompt's closing <|frame_sep|> first), with the
# reference's `\n` written as real newlines inside the actions.
EXPECTED_TRACE = (
    "<|frame_sep|><|call_sep|>{}<|action_sep|>def main():\n<|frame_sep|>"
    "<|line_sep|>{}<|action_sep|>    return f('UppEr', 0)\n<|frame_sep|>"
    '<|call_sep|>{"string": "\'UppEr\'", "encryption": "0"}<|action_sep|>def f(string, encryption):\n<|frame_sep|>'
    '<|line_sep|>{"string": "..", "encryption": ".."}<|action_sep|>    if encryption == 0:\n<|frame_sep|>'
    '<|line_sep|>{"string": "..", "encryption": ".."}<|action_sep|>        return string\n<|frame_sep|>'
    "<|return_sep|><|action_sep|>        return string\n<|arg_sep|>\"'UppEr'\"<|frame_sep|>"
    "<|return_sep|><|action_sep|>    return f('UppEr', 0)\n<|arg_sep|>\"'UppEr'\"<|frame_sep|><|end_of_text|>"
)


def test_expected_literal_is_the_reference_text():
    # The literal above, with newlines shown as the reference shows them (`\n`), line breaks
    # added after each <|frame_sep|>: guards against a typo in the literal itself.
    shown = re.sub(r"(<\|frame_sep\|>)(?=<\|(call|line|return|exception)_sep)", "\\1\n", EXPECTED_TRACE.replace("\n", "\\n"))
    assert shown.splitlines()[1:] == [
        "<|call_sep|>{}<|action_sep|>def main():\\n<|frame_sep|>",
        "<|line_sep|>{}<|action_sep|>    return f('UppEr', 0)\\n<|frame_sep|>",
        '<|call_sep|>{"string": "\'UppEr\'", "encryption": "0"}<|action_sep|>def f(string, encryption):\\n<|frame_sep|>',
        '<|line_sep|>{"string": "..", "encryption": ".."}<|action_sep|>    if encryption == 0:\\n<|frame_sep|>',
        '<|line_sep|>{"string": "..", "encryption": ".."}<|action_sep|>        return string\\n<|frame_sep|>',
        "<|return_sep|><|action_sep|>        return string\\n<|arg_sep|>\"'UppEr'\"<|frame_sep|>",
        "<|return_sep|><|action_sep|>    return f('UppEr', 0)\\n<|arg_sep|>\"'UppEr'\"<|frame_sep|><|end_of_text|>",
    ]
    assert EXPECTED_TRACE.count("<|frame_sep|>") == 8  # the prompt's closing one and 7 frames


def test_context_marks_main():
    context = build_context(SOURCE, CALL)
    assert context == EXPECTED_CONTEXT
    main_line = [line for line in context.splitlines() if line.startswith("def main")]
    assert main_line == [f"def main():  {START_MARKER}"]
    assert main_line[0].endswith("# << START_OF_TRACE")


def test_in_process_trace_matches_reference_exactly():
    result = trace_function(SOURCE, CALL)
    assert result.status == "ok"
    trace = result.trace
    assert trace.context == EXPECTED_CONTEXT
    assert len(trace.frames) == 7
    assert trace.complete and trace.output == "'UppEr'"
    assert "<|frame_sep|>" + format_frames(trace.frames, trace.complete) == EXPECTED_TRACE


def test_prompt_and_whole_sequence():
    trace = trace_function(SOURCE, CALL).trace
    prompt = format_prompt(trace.context)
    assert prompt == "<|begin_of_text|><|trace_context_start|>" + EXPECTED_CONTEXT + "<|frame_sep|>"
    # The whole sequence is the prompt followed by the reference trace, sharing the prompt's
    # closing <|frame_sep|>.
    assert format_trace(trace) == prompt + EXPECTED_TRACE[len("<|frame_sep|>") :]


def test_reference_text_parses_to_the_traced_trace():
    trace = trace_function(SOURCE, CALL).trace
    parsed = parse_trace(EXPECTED_TRACE, context=EXPECTED_CONTEXT)
    assert parsed.error is None and parsed.position is None
    assert parsed.trace == trace
    assert [f.lineno for f in parsed.trace.frames] == [f.lineno for f in trace.frames] == [6, 7, 1, 2, 3, 3, 7]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as box:
        yield box


def test_sandboxed_trace_matches_reference_exactly(sandbox):
    result = sandbox.run_function(SOURCE, CALL)
    assert result.status == "ok", result.error
    trace = result.trace
    assert trace.context == EXPECTED_CONTEXT
    assert "<|frame_sep|>" + format_frames(trace.frames, trace.complete) == EXPECTED_TRACE
    assert format_prompt(trace.context) == "<|begin_of_text|><|trace_context_start|>" + EXPECTED_CONTEXT + "<|frame_sep|>"
    assert trace == trace_function(SOURCE, CALL).trace
