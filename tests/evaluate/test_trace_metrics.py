"""CWM's trace metrics on hand-built traces, with the expected numbers worked out by hand.

The main real trace is `f(1)` below (11 frames, 8 of them with locals: 0-6 and 8):

     0 call   main {}                      5 call   g {y: 2}
     1 line   main {}                      6 line   g {y: 2}
     2 call   f {x: 1}                     7 return g "4"
     3 line   f {x: 1}                     8 line   f {x: 1, a: 2, b: 4}
     4 line   f {x: 1, a: 2}               9 return f "6"
                                          10 return main "6"
"""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codewm.format.cwm import ACTION_SEP, CALL_SEP, END, FRAME_SEP, LINE_SEP, SPECIAL_TOKENS, format_frames, parse_trace
from codewm.evaluate.trace_metrics import (
    METRIC_NAMES,
    TraceScore,
    aggregate,
    bucket_start,
    by_group,
    length_bucket,
    score_trace,
)
from codewm.types import Frame, Trace, build_context

SOURCE = "def g(y):\n    return y * 2\ndef f(x):\n    a = x + 1\n    b = g(a)\n    return a + b\n"
CONTEXT = build_context(SOURCE, "f(1)")


def real_trace() -> Trace:
    frames = [
        Frame("call", "def main():\n", 0, {}),
        Frame("line", "    return f(1)\n", 0, {}),
        Frame("call", "def f(x):\n", 1, {"x": "1"}),
        Frame("line", "    a = x + 1\n", 1, {"x": "1"}),
        Frame("line", "    b = g(a)\n", 1, {"x": "1", "a": "2"}),
        Frame("call", "def g(y):\n", 2, {"y": "2"}),
        Frame("line", "    return y * 2\n", 2, {"y": "2"}),
        Frame("return", "    return y * 2\n", 2, value="4"),
        Frame("line", "    return a + b\n", 1, {"x": "1", "a": "2", "b": "4"}),
        Frame("return", "    return a + b\n", 1, value="6"),
        Frame("return", "    return f(1)\n", 0, value="6"),
    ]
    return Trace(CONTEXT, frames, complete=True)


def raising_trace() -> Trace:
    """h(0) raises ZeroDivisionError out of the entry point (rendered as the tracer does)."""
    error = "ZeroDivisionError('integer division or modulo by zero')"
    frames = [
        Frame("call", "def main():\n", 0, {}),
        Frame("line", "    return h(0)\n", 0, {}),
        Frame("call", "def h(x):\n", 1, {"x": "0"}),
        Frame("line", "    return 1 // x\n", 1, {"x": "0"}),
        Frame("exception", "    return 1 // x\n", 1, value=error),
        Frame("return", "    return 1 // x\n", 1, value="None"),
        Frame("exception", "    return h(0)\n", 0, value=error),
        Frame("return", "    return h(0)\n", 0, value="None"),
    ]
    return Trace(build_context("def h(x):\n    return 1 // x\n", "h(0)"), frames, complete=True)


def frames_copy(trace: Trace) -> list[Frame]:
    return copy.deepcopy(trace.frames)


def test_the_hand_built_trace_is_well_formed():
    real = real_trace()
    parsed = parse_trace(format_frames(real.frames), context=real.context)
    assert parsed.error is None and parsed.trace == real
    assert real.output == "6"
    assert raising_trace().raised and raising_trace().output == "None"


def test_exact_copy_scores_one_everywhere():
    real = real_trace()
    score = score_trace(format_frames(real.frames), real)
    assert score.metrics() == {name: 1.0 for name in METRIC_NAMES}
    assert score.first_divergence is None
    assert score.parse_error is None
    assert (score.n_real_frames, score.n_predicted_frames) == (11, 11)


def test_the_prompt_closing_frame_sep_is_accepted():
    real = real_trace()
    score = score_trace(FRAME_SEP + format_frames(real.frames), real)
    assert score.metrics() == {name: 1.0 for name in METRIC_NAMES}


def test_one_wrong_local_value():
    real = real_trace()
    frames = frames_copy(real)
    frames[8].locals["b"] = "5"  # f's state after g returned
    score = score_trace(format_frames(frames), real)
    assert score.state_exact_match == pytest.approx(10 / 11, rel=1e-12)
    assert score.key_match == 1.0
    # position 8: pairs {x1, a2, b4} vs {x1, a2, b5}: 2 shared of 4 -> 0.5; 7 others are 1
    assert score.key_value_match == pytest.approx((7 + 0.5) / 8, rel=1e-12)
    assert score.action_exact_match == 1.0
    assert score.valid_format == score.valid_json == score.output_pass_at_1 == 1.0
    assert score.first_divergence == 8


def test_wrong_value_behind_unchanged_marker_is_resolved_before_comparing():
    # Predicting x = 5 at the call of f: the next line frames repeat it as "..", which the
    # parser resolves to 5, so frames 2, 3 and 4 are all wrong.
    real = real_trace()
    frames = frames_copy(real)
    for i in (2, 3, 4):
        frames[i].locals["x"] = "5"
    text = format_frames(frames)
    assert '{"x": ".."}' in text
    score = score_trace(text, real)
    assert score.state_exact_match == pytest.approx(8 / 11, rel=1e-12)
    # positions 2 and 3: {x5} vs {x1} -> 0; position 4: {x5, a2} vs {x1, a2} -> 1/3
    assert score.key_value_match == pytest.approx((5 + 1 / 3) / 8, rel=1e-12)
    assert score.key_match == 1.0
    assert score.first_divergence == 2


def test_wrong_source_line():
    real = real_trace()
    frames = frames_copy(real)
    frames[3].source = "    a = x + 2\n"
    score = score_trace(format_frames(frames), real)
    assert score.action_exact_match == pytest.approx(10 / 11, rel=1e-12)
    assert score.state_exact_match == 1.0  # the state is right, only the action is wrong
    assert score.key_match == score.key_value_match == 1.0
    assert score.valid_format == score.output_pass_at_1 == 1.0
    assert score.first_divergence == 3


@pytest.mark.parametrize("k", [1, 4, 7, 10])
def test_truncated(k):
    real = real_trace()
    text = format_frames(real.frames[:k], complete=False)
    score = score_trace(text, real)
    assert score.valid_format == 0.0
    assert score.output_pass_at_1 == 0.0
    assert score.action_exact_match == pytest.approx(k / 11, rel=1e-12)
    assert score.state_exact_match == pytest.approx(k / 11, rel=1e-12)
    locals_kept = sum(1 for frame in real.frames[:k] if frame.locals is not None)
    assert score.key_match == pytest.approx(locals_kept / 8, rel=1e-12)
    assert score.key_value_match == pytest.approx(locals_kept / 8, rel=1e-12)
    assert score.valid_json == 1.0
    assert score.parse_error is None  # cut cleanly at a frame boundary
    assert score.first_divergence == k
    assert score.n_predicted_frames == k


def test_complete_frames_without_end_of_text_are_not_valid_format():
    real = real_trace()
    score = score_trace(format_frames(real.frames, complete=False), real)
    assert score.valid_format == 0.0 and score.output_pass_at_1 == 0.0
    assert score.state_exact_match == score.action_exact_match == 1.0
    assert score.first_divergence is None  # every frame is right; only the end is missing


def test_extra_frames():
    real = real_trace()
    frames = frames_copy(real)
    # f's last line predicted twice: one extra line frame, everything after it shifted by one
    frames.insert(9, Frame("line", "    return a + b\n", 1, {"x": "1", "a": "2", "b": "4"}))
    score = score_trace(format_frames(frames), real)
    assert score.n_predicted_frames == 12
    # positions 0-8 right; 9: line vs return; 10: return f vs return main (sources differ,
    # values both "6", so the state matches); 11: nothing in the real trace
    assert score.action_exact_match == pytest.approx(9 / 12, rel=1e-12)
    assert score.state_exact_match == pytest.approx(10 / 12, rel=1e-12)
    # locals positions: real {0-6, 8}, predicted {0-6, 8, 9}: 9 in all, 8 right
    assert score.key_match == pytest.approx(8 / 9, rel=1e-12)
    assert score.key_value_match == pytest.approx(8 / 9, rel=1e-12)
    assert score.valid_format == score.valid_json == score.output_pass_at_1 == 1.0
    assert score.first_divergence == 9


@pytest.mark.parametrize("text", ["", "hello world", "def f(x):\n    return x\n", "{}", END, FRAME_SEP + END])
def test_garbage_or_empty_text_scores_zero(text):
    real = real_trace()
    score = score_trace(text, real)
    assert score.metrics() == {name: 0.0 for name in METRIC_NAMES}
    assert score.n_predicted_frames == 0
    assert score.first_divergence == 0


def test_empty_text_has_no_parse_error_but_garbage_does():
    real = real_trace()
    assert score_trace("", real).parse_error is None
    assert score_trace("hello world", real).parse_error is not None


def test_invalid_json_in_the_third_frame():
    real = real_trace()
    text = format_frames(real.frames)
    good = CALL_SEP + '{"x": "1"}' + ACTION_SEP + "def f(x):\n"
    assert text.count(good) == 1
    text = text.replace(good, CALL_SEP + "{'x': '1'}" + ACTION_SEP + "def f(x):\n")
    score = score_trace(text, real)
    assert score.parse_error is not None and "JSON" in score.parse_error
    assert score.n_predicted_frames == 2  # the parser stops at the bad frame
    # the raw scan still sees all 8 locals objects; one of them is invalid
    assert score.valid_json == pytest.approx(7 / 8, rel=1e-12)
    assert score.action_exact_match == pytest.approx(2 / 11, rel=1e-12)
    assert score.state_exact_match == pytest.approx(2 / 11, rel=1e-12)
    assert score.key_match == pytest.approx(2 / 8, rel=1e-12)
    assert score.valid_format == score.output_pass_at_1 == 0.0
    assert score.first_divergence == 2


def test_locals_with_non_string_values_are_not_valid_json():
    real = real_trace()
    text = format_frames(real.frames).replace('{"x": "1", "a": "2", "b": "4"}', '{"x": 1, "a": 2, "b": 4}')
    score = score_trace(text, real)
    assert score.valid_json == pytest.approx(7 / 8, rel=1e-12)
    assert score.n_predicted_frames == 8
    assert score.parse_error is not None


def test_locals_cut_off_before_action_sep_are_not_counted():
    real = real_trace()
    text = format_frames(real.frames[:3], complete=False) + LINE_SEP + '{"x": "1'
    score = score_trace(text, real)
    assert score.valid_json == 1.0  # 3 delimited objects, all valid; the cut one is not counted
    assert score.n_predicted_frames == 3
    assert score.parse_error is not None


def test_wrong_output_value_only():
    real = real_trace()
    frames = frames_copy(real)
    frames[10].value = "7"
    score = score_trace(format_frames(frames), real)
    assert score.output_pass_at_1 == 0.0
    assert score.state_exact_match == pytest.approx(10 / 11, rel=1e-12)
    assert score.action_exact_match == 1.0
    assert score.key_match == score.key_value_match == score.valid_json == score.valid_format == 1.0
    assert score.first_divergence == 10


def test_exception_trace_exact_copy():
    real = raising_trace()
    score = score_trace(format_frames(real.frames), real)
    assert score.metrics() == {name: 1.0 for name in METRIC_NAMES}
    assert score.first_divergence is None


def test_exception_trace_wrong_exception_value():
    real = raising_trace()
    frames = frames_copy(real)
    frames[4].value = frames[6].value = "ValueError('bad')"
    score = score_trace(format_frames(frames), real)
    assert score.state_exact_match == pytest.approx(6 / 8, rel=1e-12)
    assert score.action_exact_match == 1.0
    assert score.key_match == score.key_value_match == 1.0
    # the outcome is the exception: a different exception is a different output
    assert score.output_pass_at_1 == 0.0
    assert score.first_divergence == 4


def test_exception_trace_predicted_as_a_normal_return():
    real = raising_trace()
    frames = frames_copy(real)[:4] + [
        Frame("return", "    return 1 // x\n", 1, value="1"),
        Frame("return", "    return h(0)\n", 0, value="1"),
    ]
    score = score_trace(format_frames(frames), real)
    # 4: return vs exception; 5: return main vs return h (source and value differ); 6, 7 missing
    assert score.action_exact_match == pytest.approx(4 / 8, rel=1e-12)
    assert score.state_exact_match == pytest.approx(4 / 8, rel=1e-12)
    assert score.key_match == score.key_value_match == 1.0  # locals positions 0-3 all right
    assert score.valid_format == 1.0
    assert score.output_pass_at_1 == 0.0  # "1" != "None"
    assert score.first_divergence == 4


def test_real_trace_without_frames():
    empty = Trace(CONTEXT, [], complete=True)
    score = score_trace("", empty)
    assert score.action_exact_match == score.state_exact_match == 1.0
    assert score.key_match == score.key_value_match == score.valid_json == 1.0
    assert score.first_divergence is None
    extra = score_trace(format_frames(real_trace().frames), empty)
    assert extra.action_exact_match == extra.state_exact_match == 0.0
    assert extra.key_match == 0.0
    assert extra.output_pass_at_1 == 0.0  # the real trace has no output


def test_non_str_input_does_not_raise():
    score = score_trace(None, real_trace())  # type: ignore[arg-type]
    assert score.metrics() == {name: 0.0 for name in METRIC_NAMES}
    assert score.parse_error is not None


_PIECES = st.sampled_from(list(SPECIAL_TOKENS) + ['{"x": "1"}', '{"x": ".."}', "{", '"6"', "def f(x):\n", "[" * 50, "x", ""])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=8)), max_size=30))
def test_never_raises_and_stays_in_range(pieces):
    real = real_trace()
    score = score_trace("".join(pieces), real)
    for name, value in score.metrics().items():
        assert 0.0 <= value <= 1.0, name


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_prefix_of_the_real_text_stays_in_range(data):
    real = real_trace()
    text = format_frames(real.frames)
    cut = data.draw(st.integers(0, len(text)))
    score = score_trace(text[:cut], real)
    assert all(0.0 <= value <= 1.0 for value in score.metrics().values())
    assert score.valid_format == (1.0 if cut == len(text) else 0.0)


# -- aggregation ------------------------------------------------------------------------------
def make_score(value: float, n_frames: int = 5) -> TraceScore:
    return TraceScore(value, value, value, value, value, value, value, n_frames, n_frames, None, None)


def test_aggregate_is_a_macro_average_in_percent():
    real = real_trace()
    scores = [score_trace(format_frames(real.frames), real), score_trace("", real)]
    result = aggregate(scores)
    assert list(result) == list(METRIC_NAMES) + ["n"]
    assert result == {**{name: 50.0 for name in METRIC_NAMES}, "n": 2}
    mixed = aggregate([make_score(1.0), make_score(0.5), make_score(0.0), make_score(0.25)])
    assert mixed["state_exact_match"] == pytest.approx(43.75, rel=1e-12)
    assert mixed["output_pass@1"] == pytest.approx(43.75, rel=1e-12)


def test_aggregate_of_nothing():
    assert aggregate([]) == {**{name: 0.0 for name in METRIC_NAMES}, "n": 0}


def test_metric_names():
    assert METRIC_NAMES == (
        "valid_format",
        "action_exact_match",
        "state_exact_match",
        "key_match",
        "key_value_match",
        "valid_json",
        "output_pass@1",
    )


def test_by_group():
    scores = [make_score(1.0), make_score(0.0), make_score(0.5)]
    groups = by_group(scores, ["easy", "hard", "easy"])
    assert list(groups) == ["easy", "hard"]
    assert groups["easy"]["n"] == 2 and groups["easy"]["key_match"] == pytest.approx(75.0)
    assert groups["hard"] == {**{name: 0.0 for name in METRIC_NAMES}, "n": 1}
    assert by_group([], []) == {}
    with pytest.raises(ValueError, match="2 scores but 1 group"):
        by_group(scores[:2], ["easy"])


@pytest.mark.parametrize(
    "n, label",
    [(0, "1-8"), (1, "1-8"), (8, "1-8"), (9, "9-16"), (16, "9-16"), (17, "17-32"), (32, "17-32"),
     (33, "33-64"), (64, "33-64"), (65, "65-128"), (128, "65-128"), (129, "129+"), (10**6, "129+")],
)
def test_length_bucket(n, label):
    assert length_bucket(n) == label


def test_length_bucket_rejects_negative_and_buckets_sort_by_start():
    with pytest.raises(ValueError):
        length_bucket(-1)
    labels = ["129+", "9-16", "1-8", "65-128", "33-64", "17-32", "other"]
    assert sorted(labels, key=bucket_start) == ["1-8", "9-16", "17-32", "33-64", "65-128", "129+", "other"]


def test_a_normal_return_of_none_is_not_the_outcome_of_a_raising_program():
    real = raising_trace()
    frames = frames_copy(real)[:4] + [
        Frame("return", "    return 1 // x\n", 1, value="None"),
        Frame("return", "    return h(0)\n", 0, value="None"),
    ]
    score = score_trace(format_frames(frames), real)
    assert score.valid_format == 1.0
    assert score.output_pass_at_1 == 0.0  # returned None, but the real program raised
    assert score_trace(format_frames(real.frames), real).output_pass_at_1 == 1.0
