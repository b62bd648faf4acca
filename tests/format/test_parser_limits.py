"""The parser's work grows linearly with the text, and no input makes it fail in a way
that loses the frames it had read: deep JSON, huge integers and other hostile values give a
clear error with its position, after every frame read before it."""

from __future__ import annotations

import time

import pytest

from codewm.format.cwm import (
    ACTION_SEP,
    ARG_SEP,
    FRAME_SEP,
    LINE_SEP,
    RETURN_SEP,
    FrameReader,
    format_frames,
    format_prompt,
    parse_trace,
)
from codewm.types import Frame

CONTEXT = "def f():\n    x = 1\n    return x\n"


def _frames(n_lines: int) -> list[Frame]:
    """A call, `n_lines` line frames whose locals are mostly `".."`, and a return."""
    frames = [Frame("call", "def f():\n", 0, {"x": "0", "y": "a"}, None)]
    frames += [Frame("line", "    x = 1\n", 0, {"x": str(i // 3), "y": "a"}, None) for i in range(n_lines)]
    frames.append(Frame("return", "    return x\n", 0, None, "1"))
    return frames


def _best_parse_seconds(text: str, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = parse_trace(text)
        best = min(best, time.perf_counter() - start)
        assert result.ok, result.error
    return best


def test_parsing_time_grows_linearly_with_the_number_of_frames():
    small, large = 5_000, 20_000
    small_text = format_prompt(CONTEXT) + format_frames(_frames(small))
    large_text = format_prompt(CONTEXT) + format_frames(_frames(large))
    assert len(parse_trace(large_text).trace.frames) == large + 2
    ratio = _best_parse_seconds(large_text) / _best_parse_seconds(small_text)
    # 4x the frames: linear work gives about 4x the time, the old quadratic reading 16x.
    assert ratio < 8, f"parsing 4x the frames took {ratio:.1f}x the time"


def test_a_long_trace_with_references_reads_back_exactly():
    frames = _frames(200_000)
    parsed = parse_trace(format_prompt(CONTEXT) + format_frames(frames))
    assert parsed.ok, parsed.error
    assert [f.locals for f in parsed.trace.frames] == [f.locals for f in frames]


def _two_good_frames() -> str:
    frames = _frames(1)
    return format_prompt(CONTEXT) + format_frames(frames[:2], complete=False)


HOSTILE_VALUES = {
    "deeply nested JSON": "[" * 3000 + "]" * 3000,
    "deeply nested object": '{"a": ' * 3000 + "1" + "}" * 3000,
    "an integer of 5000 digits": "1" * 5000,
    "a huge exponent": "1e999999999999",
}


HOSTILE_FRAMES = {  # a frame holding the hostile JSON -> the start of the expected error
    "return value": (f"{RETURN_SEP}{ACTION_SEP}    return x\n{ARG_SEP}{{raw}}{FRAME_SEP}", "return frame: the value"),
    "locals": (f'{LINE_SEP}{{{{"x": {{raw}}}}}}{ACTION_SEP}    x = 1\n{FRAME_SEP}', "line frame: the"),
}


@pytest.mark.parametrize("raw", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
@pytest.mark.parametrize("template, expected", HOSTILE_FRAMES.values(), ids=HOSTILE_FRAMES.keys())
def test_a_hostile_frame_gives_an_error_after_the_frames_read(raw, template, expected):
    prefix = _two_good_frames()
    text = prefix + template.format(raw=raw)
    parsed = parse_trace(text)
    assert not parsed.ok
    assert parsed.error.startswith(expected), parsed.error
    assert len(parsed.trace.frames) == 2
    assert len(prefix) <= parsed.position < len(text)


@pytest.mark.parametrize("raw", HOSTILE_VALUES.values(), ids=HOSTILE_VALUES.keys())
def test_the_frame_reader_reports_hostile_values_and_keeps_its_frames(raw):
    reader = FrameReader(CONTEXT)
    good = format_frames(_frames(1)[:2], complete=False)
    assert reader.feed(good) is None
    reason = reader.feed(f'{LINE_SEP}{{"x": {raw}}}{ACTION_SEP}    x = 1\n{FRAME_SEP}')
    assert reason is not None and "internal" not in reason, reason
    assert len(reader.trace.frames) == 2
