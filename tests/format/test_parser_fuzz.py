"""The CWM parser never raises, and reads exactly the frames that are intact.

Mutations of the golden CWM texts (truncation at every position, deleted, duplicated and
swapped spans, inserted special tokens, damaged JSON characters) and random text must give a
`ParseResult` whose frames are a consistent reading: every frame whose text lies before the
first changed character is read exactly as in the original trace, and whatever the parser
returns is itself a trace that formats and parses back to the same thing. Malformed inputs
get an error that says what and where (`position`).

Truncation convention: cutting the text at a frame boundary (the end of the prompt, of a frame,
or position 0, the empty text) is a clean, incomplete trace with no error; cutting anywhere
else is an error whose position lies inside the cut frame.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codewm.format.cwm import (
    ACTION_SEP,
    ARG_SEP,
    CALL_SEP,
    END,
    FRAME_SEP,
    LINE_SEP,
    RETURN_SEP,
    SPECIAL_TOKENS,
    ParseResult,
    format_frame,
    format_frames,
    format_prompt,
    format_trace,
    parse_trace,
    reference_index,
)
from codewm.format.json_trace import trace_from_json
from codewm.types import Trace

EXPECTED = Path(__file__).parent.parent / "golden" / "expected"
GOLDEN_NAMES = sorted(path.stem for path in EXPECTED.glob("*.json"))
GOLDEN = {name: trace_from_json((EXPECTED / f"{name}.json").read_text(encoding="utf-8")) for name in GOLDEN_NAMES}
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def frame_ends(trace: Trace, start: int) -> list[int]:
    """The offset just after each frame of `format_frames(trace.frames)` placed at `start`."""
    ends, offset = [], start
    for index, frame in enumerate(trace.frames):
        ref = reference_index(trace.frames, index)
        offset += len(format_frame(frame, trace.frames[ref] if ref is not None else None))
        ends.append(offset)
    return ends


def check_result(result: object, text: object) -> ParseResult:
    """What holds for every parse, whatever the input."""
    assert isinstance(result, ParseResult)
    assert isinstance(result.trace, Trace)
    if result.error is None:
        assert result.position is None
        assert isinstance(text, str)
        assert result.trace.complete == text.endswith(END)
    else:
        assert isinstance(result.error, str) and result.error
        assert isinstance(result.position, int)
        assert 0 <= result.position <= (len(text) if isinstance(text, str) else 0)
        assert not result.trace.complete
    # Whatever was read is a well-formed trace: it formats and parses back to itself.
    again = parse_trace(format_trace(result.trace))
    assert again.error is None, again.error
    assert again.trace == result.trace
    return result


def check_prefix_consistent(original: Trace, text: str, mutated: str, result: ParseResult) -> None:
    """Frames whose text precedes the first changed character are read as in the original."""
    changed = next((i for i, (a, b) in enumerate(zip(text, mutated)) if a != b), min(len(text), len(mutated)))
    ends = frame_ends(original, len(format_prompt(original.context)))
    intact = sum(1 for end in ends if end <= changed)
    assert result.trace.frames[:intact] == original.frames[:intact]
    assert len(result.trace.frames) >= intact


# -- truncation ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", GOLDEN_NAMES)
def test_truncation_at_every_position(name):
    trace = GOLDEN[name]
    text = format_trace(trace)
    prompt_end = len(format_prompt(trace.context))
    ends = frame_ends(trace, prompt_end)
    assert ends[-1] + len(END) == len(text)
    boundaries = {0, prompt_end, *ends}
    for p in range(len(text)):
        result = parse_trace(text[:p])
        assert isinstance(result, ParseResult)
        read = sum(1 for end in ends if end <= p)
        assert result.trace.frames == trace.frames[:read], p
        assert not result.trace.complete, p
        if p in boundaries:
            assert result.error is None and result.position is None, (p, result.error)
        else:
            assert result.error is not None, p
            # The error points into the part that was cut: after the last complete frame.
            last_end = max((b for b in boundaries if b <= p), default=0)
            assert last_end <= result.position <= p, (p, result.position, result.error)
        if p >= prompt_end:
            assert result.trace.context == trace.context
    full = parse_trace(text)
    assert full.error is None and full.trace.complete and full.trace == trace


@pytest.mark.parametrize("name", ["recursion_fib", "exception_uncaught", "unicode_strings"])
def test_truncation_of_frames_only_text(name):
    # What a model returns after the prompt: frames only, parsed with the prompt's context.
    trace = GOLDEN[name]
    text = FRAME_SEP + format_frames(trace.frames, trace.complete)
    ends = frame_ends(trace, len(FRAME_SEP))
    boundaries = {0, len(FRAME_SEP), *ends}
    for p in range(len(text)):
        result = parse_trace(text[:p], context=trace.context)
        read = sum(1 for end in ends if end <= p)
        assert result.trace.frames == trace.frames[:read], p
        assert (result.error is None) == (p in boundaries), (p, result.error)
        assert result.trace.context == trace.context
    assert parse_trace(text, context=trace.context).trace == trace


# -- random mutations -------------------------------------------------------------------------------------
@st.composite
def golden_texts(draw) -> tuple[Trace, str]:
    trace = GOLDEN[draw(st.sampled_from(GOLDEN_NAMES))]
    return trace, format_trace(trace)


@st.composite
def mutations(draw) -> tuple[Trace, str, str]:
    trace, text = draw(golden_texts())
    n = len(text)
    i, j = sorted(draw(st.tuples(st.integers(0, n), st.integers(0, n))))
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "token", "json", "truncate_token"]))
    if kind == "delete":
        mutated = text[:i] + text[j:]
    elif kind == "duplicate":
        mutated = text[:j] + text[i:j] + text[j:]
    elif kind == "swap":
        k, m = sorted(draw(st.tuples(st.integers(j, n), st.integers(j, n))))
        mutated = text[:i] + text[k:m] + text[j:k] + text[i:j] + text[m:]
    elif kind == "token":
        tokens = draw(st.lists(st.sampled_from(SPECIAL_TOKENS), min_size=1, max_size=3))
        mutated = text[:i] + "".join(tokens) + text[i:]
    elif kind == "truncate_token":  # a special token cut short, then the rest
        token = draw(st.sampled_from(SPECIAL_TOKENS))
        mutated = text[:i] + token[: draw(st.integers(1, len(token) - 1))] + text[i:]
    else:  # replace JSON syntax characters
        spots = [index for index, char in enumerate(text) if char in '{}":,\\[]']
        mutated = list(text)
        for spot in draw(st.lists(st.sampled_from(spots), min_size=1, max_size=4)):
            mutated[spot] = draw(st.sampled_from(list('{}":,\\[]. x0') + ["", '""', "\\u", "\\ud800"]))
        mutated = "".join(mutated)
    return trace, text, mutated


@FUZZ
@given(mutations())
def test_mutated_golden_texts(case):
    trace, text, mutated = case
    result = check_result(parse_trace(mutated), mutated)
    check_prefix_consistent(trace, text, mutated, result)


@FUZZ
@given(golden_texts(), st.data())
def test_truncated_at_random_positions_then_mutated(golden, data):
    # A truncated text with garbage appended: the intact frames are still read exactly.
    trace, text = golden
    p = data.draw(st.integers(0, len(text)))
    tail = data.draw(st.one_of(st.text(max_size=20), st.sampled_from(SPECIAL_TOKENS)))
    mutated = text[:p] + tail
    result = check_result(parse_trace(mutated), mutated)
    check_prefix_consistent(trace, text, mutated, result)


TOKENISH = st.one_of(
    st.sampled_from(SPECIAL_TOKENS),
    st.sampled_from(["{}", '{"a": "1"}', '{"a": ".."}', '"1"', "x\n", "def main():\n", "<|", "|>", "..", '"..'])
)


@FUZZ
@given(st.lists(TOKENISH, max_size=25).map("".join))
def test_random_token_soup(text):
    check_result(parse_trace(text), text)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["utf-8", "latin-1", "utf-16-le"]))
def test_random_bytes_decoded_as_text(raw, encoding):
    text = raw.decode(encoding, errors="surrogateescape" if encoding == "utf-8" else "replace")
    check_result(parse_trace(text), text)
    check_result(parse_trace(text, context="def main():\n"), text)


@FUZZ
@given(st.text(max_size=200))
def test_random_unicode_text(text):
    check_result(parse_trace(text), text)
    check_result(parse_trace(FRAME_SEP + CALL_SEP + text), FRAME_SEP + CALL_SEP + text)


# -- specific malformed inputs -------------------------------------------------------------------------
OPEN = f"{CALL_SEP}{{}}{ACTION_SEP}def main():\n{FRAME_SEP}"  # main's call frame
RETURN = f"{RETURN_SEP}{ACTION_SEP}    return 1\n{ARG_SEP}\"1\"{FRAME_SEP}"  # main's return frame


def parse_error(text: object) -> ParseResult:
    result = check_result(parse_trace(text), text)
    assert result.error is not None
    return result


def test_missing_action_sep():
    text = f"{CALL_SEP}{{}}def main():\n{FRAME_SEP}"
    result = parse_error(text)
    assert "call frame: no <|action_sep|> between the locals and the frame" in result.error
    assert result.position == len(CALL_SEP)
    text = OPEN + f"{RETURN_SEP}    return 1\n{ARG_SEP}\"1\"{FRAME_SEP}"
    result = parse_error(text)
    assert "return frame: expected <|action_sep|> right after the step token" in result.error
    assert result.position == len(OPEN) + len(RETURN_SEP)
    assert len(result.trace.frames) == 1


def test_missing_action_sep_before_a_later_frame():
    # The locals run into the next frame's text: still an error at this frame's locals.
    text = f"{CALL_SEP}{{}}def main():\n{FRAME_SEP}{LINE_SEP}{{}}{ACTION_SEP}    return 1\n{FRAME_SEP}"
    result = parse_error(text)
    assert result.error.startswith("call frame:")
    assert result.position == len(CALL_SEP)
    assert result.trace.frames == []


def test_bad_json_locals():
    text = f'{CALL_SEP}{{"a": 1{ACTION_SEP}def main():\n{FRAME_SEP}'
    result = parse_error(text)
    assert "call frame: the locals are not valid JSON" in result.error
    assert result.position == len(CALL_SEP)
    text = OPEN + f"{LINE_SEP}[]{ACTION_SEP}    return 1\n{FRAME_SEP}"
    result = parse_error(text)
    assert "line frame: the locals must be a JSON object, got list" in result.error
    assert result.position == len(OPEN) + len(LINE_SEP)


def test_non_string_local_value():
    text = f'{CALL_SEP}{{"a": 1}}{ACTION_SEP}def main():\n{FRAME_SEP}'
    result = parse_error(text)
    assert "call frame: the value of 'a' must be a JSON string, got int" in result.error
    assert result.position == len(CALL_SEP)
    text = OPEN + f"{LINE_SEP}{{\"a\": null}}{ACTION_SEP}    return 1\n{FRAME_SEP}"
    result = parse_error(text)
    assert "the value of 'a' must be a JSON string, got NoneType" in result.error
    assert result.position == len(OPEN) + len(LINE_SEP)


def test_unchanged_marker_without_reference():
    # In a call frame (a new scope never refers back).
    text = f'{CALL_SEP}{{"a": ".."}}{ACTION_SEP}def main():\n{FRAME_SEP}'
    result = parse_error(text)
    assert "call frame: 'a' is '..' but there is no earlier observation in this scope to refer to" in result.error
    assert result.position == len(CALL_SEP)
    # In a line frame right after a nested call returned (a change of scope).
    inner = f'{CALL_SEP}{{"x": "1"}}{ACTION_SEP}def f(x):\n{FRAME_SEP}{RETURN_SEP}{ACTION_SEP}def f(x):\n{ARG_SEP}"None"{FRAME_SEP}'
    head = f'{CALL_SEP}{{"a": "1"}}{ACTION_SEP}def main():\n{FRAME_SEP}' + inner
    text = head + f'{LINE_SEP}{{"a": ".."}}{ACTION_SEP}    return 1\n{FRAME_SEP}'
    result = parse_error(text)
    assert "line frame: 'a' is '..' but there is no earlier observation in this scope to refer to" in result.error
    assert result.position == len(head) + len(LINE_SEP)
    assert len(result.trace.frames) == 3


def test_unchanged_marker_for_unknown_key():
    head = f'{CALL_SEP}{{"a": "1"}}{ACTION_SEP}def main():\n{FRAME_SEP}'
    text = head + f'{LINE_SEP}{{"a": "..", "b": ".."}}{ACTION_SEP}    return 1\n{FRAME_SEP}'
    result = parse_error(text)
    assert "line frame: 'b' is '..' but the earlier observation has no 'b'" in result.error
    assert result.position == len(head) + len(LINE_SEP)
    assert len(result.trace.frames) == 1


def test_return_frame_at_depth_zero():
    result = parse_error(RETURN)
    assert "a return frame outside any scope (no call frame opened one)" in result.error
    assert result.position == 0
    result = parse_error(f"{LINE_SEP}{{}}{ACTION_SEP}x\n{FRAME_SEP}")
    assert "a line frame outside any scope" in result.error
    assert result.position == 0
    # One return too many: the entry point's scope is already closed.
    result = parse_error(OPEN + RETURN + RETURN)
    assert "a return frame outside any scope" in result.error
    assert result.position == len(OPEN + RETURN)
    assert len(result.trace.frames) == 2


def test_frame_after_the_entry_point_returned():
    # After the entry point's scope closes, the only thing CWM writes is <|end_of_text|>
    # (reference: "and finally <|end_of_text|> once execution leaves the entry point's
    # scope"); a second top-level scope is not a trace of one execution.
    second = f"{CALL_SEP}{{}}{ACTION_SEP}def main():\n{FRAME_SEP}"
    text = OPEN + RETURN + second + RETURN + END
    result = parse_error(text)
    assert len(result.trace.frames) == 2 and not result.trace.complete
    assert len(OPEN + RETURN) <= result.position <= len(OPEN + RETURN) + len(CALL_SEP)


def test_end_of_text_while_scopes_are_open():
    text = OPEN + END
    result = parse_error(text)
    assert "<|end_of_text|> while 1 scope(s) are still open" in result.error
    assert result.position == len(OPEN)
    assert len(result.trace.frames) == 1
    result = parse_error(END)
    assert "<|end_of_text|> before any frame" in result.error and result.position == 0


def test_text_after_end_of_text():
    for tail in ("x", END, OPEN, "\n"):
        text = OPEN + RETURN + END + tail
        result = parse_error(text)
        assert "text after <|end_of_text|>" in result.error
        assert result.position == len(OPEN + RETURN + END)
        assert len(result.trace.frames) == 2


def test_bad_return_values():
    result = parse_error(OPEN + f"{RETURN_SEP}{ACTION_SEP}    return 1\n{ARG_SEP}1x{FRAME_SEP}")
    assert "return frame: the value is not valid JSON" in result.error
    assert result.position == len(OPEN + RETURN_SEP + ACTION_SEP + "    return 1\n" + ARG_SEP)
    result = parse_error(OPEN + f"{RETURN_SEP}{ACTION_SEP}    return 1\n{ARG_SEP}1{FRAME_SEP}")
    assert "return frame: the value must be a JSON string, got int" in result.error
    result = parse_error(OPEN + f"{RETURN_SEP}{ACTION_SEP}    return 1\n{FRAME_SEP}")
    assert "return frame: no <|arg_sep|> before the frame ends" in result.error
    assert result.position == len(OPEN + RETURN_SEP + ACTION_SEP)


def test_unexpected_tokens():
    text = f"{CALL_SEP}{{}}{ACTION_SEP}def main(){LINE_SEP}\n{FRAME_SEP}"
    result = parse_error(text)
    assert "call frame: unexpected <|line_sep|> inside the frame" in result.error
    assert result.position == text.index(LINE_SEP)
    result = parse_error(OPEN + "hello")
    assert "expected a step token" in result.error and result.position == len(OPEN)
    result = parse_error(OPEN + CALL_SEP[:5])
    assert "the text ends inside a frame's step token" in result.error and result.position == len(OPEN)


def test_malformed_prompt():
    result = parse_error("<|begin_of_text|>def main():\n<|frame_sep|>")
    assert "<|begin_of_text|> is not followed by <|trace_context_start|>" in result.error
    assert result.position == len("<|begin_of_text|>")
    result = parse_error("<|begin_of_text|><|trace_context_start|>def main():\n")
    assert "the context is not closed by <|frame_sep|>" in result.error
    assert result.position == len("<|begin_of_text|><|trace_context_start|>")
    assert result.trace.frames == []


@pytest.mark.parametrize("value", [None, b"<|frame_sep|>", 3, ["<|frame_sep|>"], {"text": ""}, bytearray(b"x")])
def test_non_str_input_never_raises(value):
    result = parse_error(value)
    assert result.error == f"expected a str, got {type(value).__name__}"
    assert result.position == 0
    assert result.trace.frames == [] and not result.trace.complete
