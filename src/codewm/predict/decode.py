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

A model that has lost the thread is stopped early instead of running on to the frame or
token cap (`DecodeLimits.early_stops`; the frame that shows it is kept):

- `repeated_state`: a call or line frame puts the whole program in a state it was in before:
  the same call stack (each open function, the line it is at and its locals, `".."`
  resolved; the parser resolves them) as an earlier frame of the same trace. A
  deterministic program in a state it was in before runs the same way again, forever, so a
  trace that repeats a whole state is not a finite trace. Only an exact repeat counts: the
  same line with the same locals in another call (recursion), or with any local changed (a
  loop counter), is a new state. A trace shows less than the whole state (a `for` loop's
  place in its iterable, module state, objects shown by type, two lines with the same
  text), so a repeat counts only where what it hides cannot differ: `StateTracker` lists
  the conditions, each from a real trace that passes one visible state twice.
- `unknown_line`: a frame whose action is not a line of the program (a real trace only
  ever shows the program's own lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

from codewm.format.cwm import END, FrameReader, parse_trace
from codewm.predict.base import STEP_END, STEP_LENGTH, FrameRequest, FrameStep, Predictor
from codewm.types import Frame, Trace, action_lines

# PredictedTrace.stop values
STOP_COMPLETE = "complete"  # the entry point returned: a whole trace
STOP_END = "end"  # the model wrote <|end_of_text|> (a whole trace only if it parses as one)
STOP_UNPARSEABLE = "unparseable"  # the text stopped parsing (see PredictedTrace.error)
STOP_MAX_FRAMES = "max_frames"
STOP_MAX_TOKENS = "max_tokens"  # the trace's token budget ran out
STOP_FRAME_TOO_LONG = "frame_too_long"  # one frame ran past max_frame_tokens (or the context)
STOP_REPEATED_STATE = "repeated_state"  # a frame repeats an earlier whole program state: an endless loop
STOP_UNKNOWN_LINE = "unknown_line"  # a frame whose action is not a line of the program
STOPS = (
    STOP_COMPLETE,
    STOP_END,
    STOP_UNPARSEABLE,
    STOP_MAX_FRAMES,
    STOP_MAX_TOKENS,
    STOP_FRAME_TOO_LONG,
    STOP_REPEATED_STATE,
    STOP_UNKNOWN_LINE,
)
# Changes whenever the rules above change what a decoding writes: saved predictions
# (`codewm.evaluate.cache`) made under other rules are then not reused.
DECODE_RULES = "early-stops-1"


@dataclass(frozen=True)
class DecodeLimits:
    max_frames: int = 2048  # frames per trace (the sandbox records up to 10,000 steps by default)
    max_frame_tokens: int = 512  # tokens per frame
    max_tokens: int = 16384  # tokens per trace, all frames together
    batch_size: int = 16  # programs decoded together
    early_stops: bool = True  # stop at a repeated whole state or a line not in the program

    def __post_init__(self) -> None:
        for name in ("max_frames", "max_frame_tokens", "max_tokens", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{type(self).__name__}.{name} must be a positive int, got {value!r}")
        if not isinstance(self.early_stops, bool):
            raise ValueError(f"{type(self).__name__}.early_stops must be a bool, got {self.early_stops!r}")

    @property
    def rules(self) -> str:
        """What a saved prediction depends on besides the limits: the decoding rules."""
        return DECODE_RULES if self.early_stops else "no-early-stops"


@dataclass
class PredictedTrace:
    """A predicted trace: the model's text, what parsed of it, and why decoding stopped."""

    context: str
    text: str = ""  # the frames text (what follows the prompt), END appended when complete
    trace: Trace | None = None
    stop: str = ""
    error: str | None = None  # the parser's reason (STOP_UNPARSEABLE, a bad END), or where an early stop saw it
    tokens: int = 0  # generated tokens, all frames
    steps: list[FrameStep] = field(default_factory=list, repr=False)
    _reader: FrameReader | None = field(default=None, repr=False, compare=False)  # frames read so far
    _states: "StateTracker | None" = field(default=None, repr=False, compare=False)  # states seen so far

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
    before = len(item._reader.trace.frames)
    error = item._reader.feed(step.text)  # only the new frame is read, not the whole text again
    item.trace = item._reader.trace
    if error is not None:
        item.stop, item.error = STOP_UNPARSEABLE, error
        return False
    frames = item.trace.frames
    if limits.early_stops:
        if item._states is None:
            item._states = StateTracker(item.context)
        for frame in frames[before:]:
            reason = item._states.add(frame)
            if reason is not None:
                item.stop, item.error = reason, item._states.detail
                return False
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


# Programs whose loops may turn on state a trace does not show: module state (`global`),
# random numbers, iterators driven by hand. Their states are not compared.
_HIDDEN_STATE = re.compile(r"^[ \t]*global[ \t]+\w|\brandom\b|\bnext[ \t]*\(|\biter[ \t]*\(|\.send[ \t]*\(", re.M)
_FOR_HEADER = re.compile(r"^[ \t]*(?:async[ \t]+)?for\b")


def _opaque(value: str) -> bool:
    """Whether a rendered value may hide state: an object shown by its type only
    (`<Node object>`, `<list_iterator object>`, ...) or a value cut short (`...`)."""
    return "<" in value or value.endswith("...")


class StateTracker:
    """The early stops of a decoding, frame by frame (see the module docstring).

    `add(frame)` takes each frame as it is read (`".."` already resolved) and returns None,
    or the stop it shows (STOP_REPEATED_STATE, STOP_UNKNOWN_LINE), with `detail` saying
    where.

    A state is the whole call stack: for each open function, its `def` line and its latest
    frame (event, line, locals). A trace does not show all of a program's state, so a
    repeat counts only where what it hides cannot differ:

    - every line on the stack is unambiguous (its text appears once in the program: a
      trace names a line by its text, so two lines `x = not x` are one to it);
    - no value is an opaque object (`<Node object>`, `<list_iterator object>`) or cut short
      (`...`), and the program has no `global` statement, `random`, `next(`, `iter(` or
      `.send(` (state kept outside the locals);
    - no `for` line ran between the two frames: a `for` loop's place in its iterable is not
      a local, so `for c in "aaa"` legitimately passes the same state three times;
    - the outermost function active between the two frames ran a line of its own in
      between: where it did not, both frames are inside one run of one of its lines, which
      may call the same function with the same arguments twice (`f(x - 1) + f(x - 1)`).
    """

    def __init__(self, context: str) -> None:
        self.lines = set(action_lines(context))
        self.compare_states = not _HIDDEN_STATE.search(context)
        self.stack: list[tuple[str, tuple, bool]] = []  # per open function: (def line, latest frame's key, line known)
        self.last_seen: dict[tuple, int] = {}  # state -> index of the latest frame in it
        self.loops: list[int] = []  # loops[i]: `for` lines among frames 0..i
        self.active: list[int] = []  # active[i]: the depth of the function running after frame i
        self.line_frames: list[bool] = []  # line_frames[i]: frame i is a line frame
        self.detail: str | None = None

    def add(self, frame: Frame) -> str | None:
        index = len(self.loops)
        depth = frame.depth
        self.loops.append((self.loops[-1] if self.loops else 0) + bool(_FOR_HEADER.match(frame.source)))
        self.active.append(depth - 1 if frame.event == "return" else depth)
        self.line_frames.append(frame.event == "line")
        if frame.lineno == 0 and frame.source not in self.lines:  # lineno 0: absent, or ambiguous
            self.detail = f"frame {index + 1}: its line {frame.source.strip()!r} is not a line of the program"
            return STOP_UNKNOWN_LINE
        if frame.event in ("call", "line"):
            opened = frame.source if frame.event == "call" else (self.stack[depth][0] if depth < len(self.stack) else "")
            key = (frame.event, frame.source, tuple(frame.locals.items()))
            self.stack = self.stack[:depth] + [(opened, key, frame.lineno != 0)]
        else:
            # a return closes the function; an exception leaves it open (it may be caught)
            self.stack = self.stack[: depth if frame.event == "return" else depth + 1]
            return None
        if not self.compare_states or not all(known for _, _, known in self.stack):
            return None
        if any(_opaque(value) for _, (_, _, items), _ in self.stack for _, value in items):
            return None
        state = tuple((opened, key) for opened, key, _ in self.stack)
        before = self.last_seen.get(state)
        self.last_seen[state] = index
        if before is None or not self._loops_back(before, index):
            return None
        self.detail = f"frame {index + 1} repeats the whole state of frame {before + 1} (line {frame.source.strip()!r})"
        return STOP_REPEATED_STATE

    def _loops_back(self, before: int, index: int) -> bool:
        """Whether frames before+1..index are a loop that leaves no hidden state: no `for`
        line ran, and the outermost function active in them ran a line of its own."""
        loops_before = self.loops[before - 1] if before else 0
        if self.loops[index] - loops_before:
            return False
        outer = min(self.active[before + 1 : index + 1])
        return any(self.line_frames[k] and self.active[k] == outer for k in range(before + 1, index + 1))
