"""Whole traces, frame by frame: the loop every trace prediction runs.

    traces = predict_traces(predictor, contexts, DecodeLimits(max_frames=256))
    traces[0].trace.output      # the predicted return value (the scratchpad's answer)
    traces[0].stop              # why decoding stopped (STOPS)

Each round asks the predictor for the next frame of every unfinished program at once (one
batched model call), appends it, and reads it (only the new frame: `FrameReader`). A
program stops when the entry point returns (depth 0; `<|end_of_text|>` is then appended, as
the grammar says, without asking the model for it), when the model ends the trace itself,
when a limit is reached, or as soon as its text stops parsing, with the parser's reason.
Programs that finish make room for waiting ones, so the batch stays full.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from codewm.format.cwm import END, FrameReader, parse_trace
from codewm.predict.base import STEP_END, STEP_LENGTH, FrameRequest, FrameStep, Predictor
from codewm.trace.types import Trace

# PredictedTrace.stop values
STOP_COMPLETE = "complete"  # the entry point returned: a whole trace
STOP_END = "end"  # the model wrote <|end_of_text|> (a whole trace only if it parses as one)
STOP_UNPARSEABLE = "unparseable"  # the text stopped parsing (see PredictedTrace.error)
STOP_MAX_FRAMES = "max_frames"
STOP_MAX_TOKENS = "max_tokens"  # the trace's token budget ran out
STOP_FRAME_TOO_LONG = "frame_too_long"  # one frame ran past max_frame_tokens (or the context)
STOPS = (STOP_COMPLETE, STOP_END, STOP_UNPARSEABLE, STOP_MAX_FRAMES, STOP_MAX_TOKENS, STOP_FRAME_TOO_LONG)


@dataclass(frozen=True)
class DecodeLimits:
    max_frames: int = 2048  # frames per trace (the sandbox records up to 10,000 steps by default)
    max_frame_tokens: int = 512  # tokens per frame
    max_tokens: int = 16384  # tokens per trace, all frames together
    batch_size: int = 16  # programs decoded together

    def __post_init__(self) -> None:
        for name in ("max_frames", "max_frame_tokens", "max_tokens", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"DecodeLimits.{name} must be a positive int, got {value!r}")


@dataclass
class PredictedTrace:
    """A predicted trace: the model's text, what parsed of it, and why decoding stopped."""

    context: str
    text: str = ""  # the frames text (what follows the prompt), END appended when complete
    trace: Trace | None = None
    stop: str = ""
    error: str | None = None  # the parser's reason, for STOP_UNPARSEABLE (and a bad END)
    tokens: int = 0  # generated tokens, all frames
    steps: list[FrameStep] = field(default_factory=list, repr=False)
    _reader: FrameReader | None = field(default=None, repr=False, compare=False)  # frames read so far

    @property
    def output(self) -> str | None:
        """The predicted return value of the entry point (None unless the trace is whole)."""
        return self.trace.output if self.trace is not None else None


def predict_traces(
    predictor: Predictor,
    contexts: Sequence[str],
    limits: DecodeLimits = DecodeLimits(),
    *,
    logprobs: bool = False,
    progress: Callable[[int], None] | None = None,
    on_finish: Callable[[int, PredictedTrace], None] | None = None,
) -> list[PredictedTrace]:
    """Predict the trace of each context (made by `build_context`), in order.

    `progress(1)` is called as each program finishes, and `on_finish(index, predicted)` with
    the finished prediction (to save it at once, say)."""
    results = [PredictedTrace(context) for context in contexts]
    waiting = list(range(len(contexts)))[::-1]  # pop() takes the next in order
    active: list[int] = []
    while waiting or active:
        while waiting and len(active) < limits.batch_size:
            active.append(waiting.pop())
        requests = []
        for i in active:
            item = results[i]
            budget = min(limits.max_frame_tokens, limits.max_tokens - item.tokens)
            requests.append(FrameRequest(item.context, item.text, budget, logprobs))
        steps = predictor.next_frames(requests)
        if len(steps) != len(requests):
            raise RuntimeError(f"{getattr(predictor, 'name', predictor)!r} answered {len(steps)} frame requests out of {len(requests)}")
        still = []
        for i, step in zip(active, steps):
            if _advance(results[i], step, limits):
                still.append(i)
                continue
            if on_finish is not None:
                on_finish(i, results[i])
            if progress is not None:
                progress(1)
        active = still
    return results


def _advance(item: PredictedTrace, step: FrameStep, limits: DecodeLimits) -> bool:
    """Add one step to `item`; False once it is finished (its `stop` then says why)."""
    item.steps.append(step)
    item.tokens += step.tokens
    if step.finish == STEP_LENGTH:
        item.text += step.text
        _finish(item, STOP_MAX_TOKENS if item.tokens >= limits.max_tokens else STOP_FRAME_TOO_LONG)
        return False
    if step.finish == STEP_END:
        item.text += step.text + END
        _finish(item, STOP_END)
        return False
    item.text += step.text
    if item._reader is None:
        item._reader = FrameReader(item.context)
    error = item._reader.feed(step.text)  # only the new frame is read, not the whole text again
    item.trace = item._reader.trace
    if error is not None:
        item.stop, item.error = STOP_UNPARSEABLE, error
        return False
    frames = item.trace.frames
    if frames and frames[-1].event == "return" and frames[-1].depth == 0:
        item.text += END
        item.trace.complete = True  # every frame read and the entry point returned: END is valid
        item.stop = STOP_COMPLETE
        return False
    if len(frames) >= limits.max_frames:
        item.stop = STOP_MAX_FRAMES
        return False
    if item.tokens >= limits.max_tokens:
        item.stop = STOP_MAX_TOKENS
        return False
    return True


def _finish(item: PredictedTrace, stop: str) -> None:
    parsed = parse_trace(item.text, item.context)
    item.trace, item.stop = parsed.trace, stop
    if not parsed.ok:
        item.error = parsed.error
