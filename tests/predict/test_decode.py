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
    STOP_UNPARSEABLE,
    DecodeLimits,
    predict_traces,
)
from codewm.predict.fake import EmptyLanguageModel, ScriptedLanguageModel
from codewm.predict.model_predictor import ModelPredictor


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
    p = predict_traces(ModelPredictor(lm), contexts[1:2], DecodeLimits(max_frames=20))[0]
    assert p.stop == STOP_MAX_FRAMES and len(p.trace.frames) == 20


@pytest.mark.parametrize("field", ["max_frames", "max_frame_tokens", "max_tokens", "batch_size"])
def test_limits_are_checked(field):
    with pytest.raises(ValueError, match=field):
        DecodeLimits(**{field: 0})


def test_logprobs_reach_the_steps(contexts, real_traces):
    lm = _frame_model(real_traces)
    p = predict_traces(ModelPredictor(lm), contexts[:1], logprobs=True)[0]
    assert p.steps and all(step.token_logprobs is not None for step in p.steps)
