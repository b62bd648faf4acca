"""`FrameReader` (frame-by-frame reading, what decoders use) agrees with `parse_trace`."""

from __future__ import annotations

import pytest

from codewm.format.cwm import FRAME_SEP, FrameReader, format_frames, parse_trace
from codewm.trace.sandbox import Sandbox

PROGRAMS = [
    ("def f(x):\n    y = x * 2\n    return y + 1\n", "f(20)"),
    ("def h(xs):\n    return [x * x for x in xs]\n\ndef f(xs):\n    ys = h(xs)\n    ys.append(len(ys))\n    return ys\n", "f([1, 2])"),
    ("def fact(n):\n    if n <= 1:\n        return 1\n    return n * fact(n - 1)\n", "fact(3)"),
    ("def f(s):\n    raise ValueError(s)\n", "f('boom')"),
]


@pytest.fixture(scope="module")
def traces():
    with Sandbox() as sandbox:
        return [sandbox.run_function(source, call).trace for source, call in PROGRAMS]


def _pieces(text: str) -> list[str]:
    return [piece + FRAME_SEP for piece in text.split(FRAME_SEP)[:-1]]


def test_reading_frame_by_frame_gives_the_parsed_trace(traces):
    for trace in traces:
        reader = FrameReader(trace.context)
        for piece in _pieces(format_frames(trace.frames, complete=False)):
            assert reader.feed(piece) is None
        assert reader.trace.frames == trace.frames
        assert [f.lineno for f in reader.trace.frames] == [f.lineno for f in parse_trace(format_frames(trace.frames), trace.context).trace.frames]
        assert reader.depth == 0 and not reader.trace.complete


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda piece: piece.replace('": "', '": ', 1),  # bad JSON in the locals
        lambda piece: piece.replace("<|action_sep|>", "", 1),
        lambda piece: "<|line_sep|>{}" + piece,  # two step tokens
        lambda piece: piece[: len(piece) // 2],  # a frame cut off
    ],
)
def test_a_bad_frame_gives_the_parsers_reason_and_keeps_the_frames_before_it(traces, corrupt):
    trace = traces[1]
    pieces = _pieces(format_frames(trace.frames, complete=False))
    failures = 0
    for k in (1, 3, 5):
        bad = pieces[:k] + [corrupt(pieces[k])]
        parsed = parse_trace("".join(bad), trace.context)
        reader = FrameReader(trace.context)
        errors = [reader.feed(piece) for piece in bad]
        if parsed.ok:  # the change happened to keep the frame readable
            assert errors == [None] * len(bad)
            continue
        failures += 1
        assert errors[:k] == [None] * k
        assert errors[k] == parsed.error
        assert reader.trace.frames == parsed.trace.frames
    assert failures >= 2
