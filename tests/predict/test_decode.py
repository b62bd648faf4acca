"""Frame-by-frame decoding: whole traces, limits, and bad model text."""

from __future__ import annotations

import pytest

from codewm.format.cwm import END, FRAME_SEP, format_frames, format_prompt
from codewm.predict.decode import (
    STOP_COMPLETE,
    STOP_END,
    STOP_FRAME_TOO_LONG,
    STOP_MAX_FRAMES,
    STOP_MAX_TOKENS,
    STOP_REPEATED_STATE,
    STOP_UNKNOWN_LINE,
    STOP_UNPARSEABLE,
    STOPS,
    DecodeLimits,
    predict_traces,
)
from codewm.predict.fake import EmptyLanguageModel, ScriptedLanguageModel
from codewm.predict.model_predictor import ModelPredictor
from codewm.types import Frame, build_context


def _frame_model(real_traces, corrupt=None):
    """A model that writes the real trace, frame by frame (`corrupt(k, frame_text)` may
    change frame k): the prompt tells it how many frames were written already."""
    by_prompt = {format_prompt(t.context): t for t in real_traces}

    def continuation(prompt: str) -> str:
        for head, trace in by_prompt.items():
            if prompt.startswith(head):
                done = prompt[len(head):].count(FRAME_SEP)
                pieces = format_frames(trace.frames, complete=True).split(FRAME_SEP)
                if done >= len(trace.frames):
                    return ""  # end of sequence
                text = pieces[done] + FRAME_SEP
                return corrupt(done, text) if corrupt else text
        return ""

    return ScriptedLanguageModel(continuation)


def test_the_oracle_decodes_every_real_trace_exactly(oracle, contexts, real_traces):
    predicted = predict_traces(oracle, contexts, DecodeLimits(batch_size=2))
    for p, real in zip(predicted, real_traces):
        assert p.stop == STOP_COMPLETE and p.error is None
        assert p.trace == real
        assert p.text == format_frames(real.frames, complete=True)
        assert p.output == real.output


def test_a_model_writing_the_real_frames_gives_the_real_traces(contexts, real_traces):
    lm = _frame_model(real_traces)
    predicted = predict_traces(ModelPredictor(lm), contexts, DecodeLimits(batch_size=4))
    assert [p.trace for p in predicted] == real_traces
    assert all(p.stop == STOP_COMPLETE for p in predicted)
    # batched across programs: never more requests in one call than the batch size, and
    # finished programs make room for waiting ones
    assert max(len(prompts) for prompts, _ in lm.calls) == 4
    assert all(s.stop == (FRAME_SEP,) for _, s in lm.calls)
    # no call is made for <|end_of_text|> after the entry point returned
    assert sum(len(prompts) for prompts, _ in lm.calls) == sum(len(t.frames) for t in real_traces)


def test_text_that_stops_parsing_stops_decoding_with_the_reason(contexts, real_traces):
    lm = _frame_model(real_traces, corrupt=lambda k, text: text.replace('": "', '": ', 1) if k == 3 else text)
    predicted = predict_traces(ModelPredictor(lm), contexts[1:2])[0]
    assert predicted.stop == STOP_UNPARSEABLE
    assert predicted.error.startswith("line frame: the locals are not valid JSON")
    assert len(predicted.trace.frames) == 3  # every frame before the bad one
    assert predicted.output is None


def test_an_empty_model_ends_every_trace_at_once(contexts):
    predicted = predict_traces(ModelPredictor(EmptyLanguageModel()), contexts)
    for p in predicted:
        assert p.stop == STOP_END
        assert p.trace.frames == [] and p.output is None
        assert p.text == END


def test_limits_on_frames_and_tokens(contexts, real_traces):
    lm = _frame_model(real_traces)
    capped = predict_traces(ModelPredictor(lm), contexts[1:2], DecodeLimits(max_frames=3))[0]
    assert capped.stop == STOP_MAX_FRAMES and len(capped.trace.frames) == 3 and not capped.trace.complete
    # the scripted model counts characters as tokens: a 10-token frame budget cuts frame 1
    short = predict_traces(ModelPredictor(lm), contexts[:1], DecodeLimits(max_frame_tokens=10))[0]
    assert short.stop == STOP_FRAME_TOO_LONG and short.trace.frames == []
    budget = len(format_frames(real_traces[1].frames[:2], complete=False)) + 5
    total = predict_traces(ModelPredictor(lm), contexts[1:2], DecodeLimits(max_tokens=budget))[0]
    assert total.stop == STOP_MAX_TOKENS and len(total.trace.frames) == 2


def test_a_model_that_never_stops_writing_frames_is_cut_at_max_frames(contexts, real_traces):
    first = format_frames(real_traces[1].frames, complete=False).split(FRAME_SEP)
    line = next(piece for piece in first if piece.startswith("<|line_sep|>")) + FRAME_SEP
    lm = ScriptedLanguageModel(lambda prompt: first[0] + FRAME_SEP if prompt.endswith(format_prompt(real_traces[1].context)) else line)
    # (it writes main's line over and over: without the early stops, only the cap ends it)
    p = predict_traces(ModelPredictor(lm), contexts[1:2], DecodeLimits(max_frames=20, early_stops=False))[0]
    assert p.stop == STOP_MAX_FRAMES and len(p.trace.frames) == 20
    early = predict_traces(ModelPredictor(lm), contexts[1:2], DecodeLimits(max_frames=20))[0]
    assert early.stop == STOP_REPEATED_STATE and len(early.trace.frames) == 3


@pytest.mark.parametrize("field", ["max_frames", "max_frame_tokens", "max_tokens", "batch_size"])
def test_limits_are_checked(field):
    with pytest.raises(ValueError, match=field):
        DecodeLimits(**{field: 0})


def test_logprobs_reach_the_steps(contexts, real_traces):
    lm = _frame_model(real_traces)
    p = predict_traces(ModelPredictor(lm), contexts[:1], logprobs=True)[0]
    assert p.steps and all(step.token_logprobs is not None for step in p.steps)


# -- early stops: a model that has lost the thread ---------------------------------------------
LOOP_SOURCE = "def f(n):\n    i = 0\n    while i < n:\n        i += 1\n    return i\n"


def _reciting(context: str, frame_at):
    """A model that writes `frame_at(k)` as frame k (each with its `".."` against the frames
    before it, as the CWM writer writes them), for ever."""
    head = format_prompt(context)

    def continuation(prompt: str) -> str:
        k = prompt[len(head):].count(FRAME_SEP)
        frames = [frame_at(j) for j in range(k + 1)]
        return format_frames(frames, complete=False).split(FRAME_SEP)[k] + FRAME_SEP

    return ScriptedLanguageModel(continuation)


def _looping_frames(k: int) -> Frame:
    """The trace of f(3) up to its first `i += 1`, then `while` and `i += 1` for ever, with i
    stuck at 0: a model that forgot to add 1."""
    start = [
        Frame("call", "def main():\n", 0, {}),
        Frame("line", "    return f(3)\n", 0, {}),
        Frame("call", "def f(n):\n", 1, {"n": "3"}),
        Frame("line", "    i = 0\n", 1, {"n": "3"}),
        Frame("line", "    while i < n:\n", 1, {"n": "3", "i": "0"}),
        Frame("line", "        i += 1\n", 1, {"n": "3", "i": "0"}),
    ]
    if k < len(start):
        return start[k]
    return start[4] if (k - len(start)) % 2 == 0 else start[5]


def test_a_model_that_loops_for_ever_stops_at_the_first_repeated_state():
    context = build_context(LOOP_SOURCE, "f(3)")
    lm = _reciting(context, _looping_frames)
    p = predict_traces(ModelPredictor(lm), [context], DecodeLimits(max_frames=500))[0]
    assert p.stop == STOP_REPEATED_STATE
    # frame 7 (`while` with i still 0) is where frame 5 was: the frame is kept, nothing after it
    assert len(p.trace.frames) == 7 and p.trace.frames[-1] == _looping_frames(4)
    assert p.error == "frame 7 repeats the whole state of frame 5 (line 'while i < n:')"
    assert '".."' in p.text.split(FRAME_SEP)[6]  # the model wrote i as unchanged: resolved before comparing
    assert sum(len(prompts) for prompts, _ in lm.calls) == 7  # no model call after the repeat
    assert not p.trace.complete and p.output is None
    # without the early stops the same model runs on to the cap
    capped = predict_traces(ModelPredictor(lm), [context], DecodeLimits(max_frames=40, early_stops=False))[0]
    assert capped.stop == STOP_MAX_FRAMES and len(capped.trace.frames) == 40


def test_a_changed_local_or_a_deeper_call_is_a_new_state():
    """The same loop where the model does count (i = 0, 1, 2, ... for ever): never a repeat;
    and a recursion that calls itself with the same argument for ever: deeper each time."""
    context = build_context(LOOP_SOURCE, "f(3)")

    def counting(k: int) -> Frame:
        if k < 4:
            return _looping_frames(k)
        i = (k - 4) // 2
        return Frame("line", "    while i < n:\n" if k % 2 == 0 else "        i += 1\n", 1, {"n": "3", "i": str(i)})

    p = predict_traces(ModelPredictor(_reciting(context, counting)), [context], DecodeLimits(max_frames=60))[0]
    assert p.stop == STOP_MAX_FRAMES and len(p.trace.frames) == 60

    deep = build_context("def r(n):\n    return r(n)\n", "r(1)")

    def recursing(k: int) -> Frame:
        if k < 2:
            return [Frame("call", "def main():\n", 0, {}), Frame("line", "    return r(1)\n", 0, {})][k]
        depth = k // 2
        return Frame("call", "def r(n):\n", depth, {"n": "1"}) if k % 2 == 0 else Frame("line", "    return r(n)\n", depth, {"n": "1"})

    p = predict_traces(ModelPredictor(_reciting(deep, recursing)), [deep], DecodeLimits(max_frames=50))[0]
    assert p.stop == STOP_MAX_FRAMES


def test_a_frame_on_a_line_that_is_not_in_the_program_stops_decoding():
    context = build_context(LOOP_SOURCE, "f(3)")

    def inventing(k: int) -> Frame:
        if k < 4:
            return _looping_frames(k)
        return Frame("line", "    i = i * 7\n", 1, {"n": "3", "i": "0"})

    p = predict_traces(ModelPredictor(_reciting(context, inventing)), [context], DecodeLimits(max_frames=50))[0]
    assert p.stop == STOP_UNKNOWN_LINE and len(p.trace.frames) == 5
    assert p.error == "frame 5: its line 'i = i * 7' is not a line of the program"
    assert STOP_UNKNOWN_LINE in STOPS and STOP_REPEATED_STATE in STOPS


# Real runs that pass through the same *visible* state more than once: the early stops must
# let each of them run to the end. (program, call, whether the trace shows a repeated state)
REPEATING_REAL_RUNS = [
    # one line calls f(0) twice from the same state: same stack, same locals, twice
    ("def f(x):\n    if x > 0:\n        return f(x - 1) + f(x - 1)\n    return 1\n", "f(2)", True),
    # a for loop over equal items: its place in the string is not a local
    ("def f(s):\n    k = 0\n    for c in s:\n        if c == 'b':\n            k += 1\n    return k\n", "f('aaaa')", True),
    # two lines with the same text: a trace cannot tell them apart
    ("def f(ok):\n    ok = not ok\n    ok = not ok\n    ok = not ok\n    return ok\n", "f(False)", True),
    # module state: the loop turns on a global the trace does not show
    ("count = 0\n\ndef tick():\n    global count\n    count += 1\n    return count\n\ndef f():\n    while tick() < 4:\n        pass\n    return count\n", "f()", True),
    # an object whose repr does not show its state
    ("class C:\n    def __init__(self):\n        self.n = 0\n\n    def step(self):\n        self.n += 1\n        return self.n < 4\n\ndef f():\n    c = C()\n    while c.step():\n        pass\n    return c.n\n", "f()", True),
    # a generator resumed from one line (`while True` in it; its caller runs no line of its own)
    ("from itertools import islice\n\ndef ones():\n    while True:\n        yield 1\n\ndef f():\n    return list(islice(ones(), 4))\n", "f()", True),
    # loops whose counters change, recursion: no repeat at all
    (LOOP_SOURCE, "f(5)", False),
    ("def fact(n):\n    if n <= 1:\n        return 1\n    return n * fact(n - 1)\n", "fact(5)", False),
    ("def f(xs):\n    out = []\n    while xs:\n        out.append(xs.pop())\n    return out\n", "f([1, 1, 1])", False),
]


def _visible_repeat(frames) -> bool:
    """Whether a trace passes the same visible state twice: the same call stack (each
    function's latest frame: event, line text, locals) at two call/line frames."""
    stack, seen = [], set()
    for frame in frames:
        if frame.event == "return":
            stack = stack[: frame.depth]
            continue
        if frame.event == "exception":
            continue
        stack = stack[: frame.depth] + [(frame.event, frame.source, tuple(frame.locals.items()))]
        if tuple(stack) in seen:
            return True
        seen.add(tuple(stack))
    return False


@pytest.mark.parametrize("source, call, repeats", REPEATING_REAL_RUNS)
def test_real_traces_are_never_stopped_early(oracle, source, call, repeats):
    context = build_context(source, call)
    [real] = oracle.real_traces([context])
    assert real.complete
    assert _visible_repeat(real.frames) == repeats  # the test covers what it says it covers
    [p] = predict_traces(oracle, [context])
    assert p.stop == STOP_COMPLETE, (p.stop, p.error)
    assert p.trace == real and p.text == format_frames(real.frames, complete=True)
