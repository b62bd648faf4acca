"""The debugger's engine: a timeline of predicted frames and a cursor on it.

Nothing here runs the program. The world model predicts one frame at a time (a
`FrameRequest` holding the frames so far), and the session keeps every frame it was given:
moving back and forward again replays the timeline without asking the model twice. A frame
is the state *before* its line runs (the CWM format's observation), so "at line 4" means
"about to run line 4, with these locals".

Motions (each stops early at a breakpoint, and wherever the prediction ends):

    step     the next frame, whatever it is (into calls)
    next     the next frame of this function or its caller. A call on the way is stepped
             over as CWM's demo debugger does: right after the call frame the session gives
             the model `<|return_sep|>`, so it predicts the return value without simulating
             the body. (At a call frame, `next` goes to the function's first line, as pdb.)
    out      on to the return of the current function, simulating its body
    until L  on to a line >= L in this function (or its return)
    cont     on to a breakpoint, or the end of the prediction
    back     the previous frame

`set NAME = VALUE` edits the state at the cursor: the frames after it are dropped and the
model predicts again from the edited state ("what if x were 0?"). `truth()` runs the real
program in the sandbox and compares (see `codewm.debugger.truth`).
"""

from __future__ import annotations

import ast
import keyword
import re
from dataclasses import dataclass
from typing import Callable

from codewm.debugger.breakpoints import Breakpoints
from codewm.debugger.confidence import RETURN_VALUE, FrameConfidence, frame_confidence, value_spans
from codewm.debugger.expressions import Evaluation, ExpressionError, evaluate_expression
from codewm.debugger.scopes import function_name, function_ranges
from codewm.format.cwm import RETURN_SEP, FrameReader, format_frame, reference_index
from codewm.predict.base import STEP_END, STEP_LENGTH, FrameRequest, Predictor
from codewm.predict.decode import DecodeLimits
from codewm.types import ENTRY_FUNCTION, Frame, action_lines, build_context, script_context, source_lines


class DebuggerError(ValueError):
    """A command the session cannot carry out, with the reason (the session goes on)."""


@dataclass(frozen=True)
class SessionLimits(DecodeLimits):
    """A session's limits: `DecodeLimits` (the session uses max_frames and max_frame_tokens)
    with the debugger's own cap on frames, below the evaluation's 2,048."""

    max_frames: int = 2000  # frames predicted at most (a model that never returns stops here)


@dataclass
class Step:
    """One frame of the timeline, as the model wrote it."""

    frame: Frame
    text: str  # the frame's CWM text (a forced `<|return_sep|>` included)
    lineno: int  # the frame's line in the context (0: the model wrote a line that is not there)
    function: str  # the function the frame is in ("main" for the entry point's wrapper)
    confidence: FrameConfidence | None = None
    skipped_body: bool = False  # a return predicted straight after its call (`next` over it)
    edited: tuple[str, ...] = ()  # the names `set` changed here

    @property
    def event(self) -> str:
        return self.frame.event

    @property
    def depth(self) -> int:
        return self.frame.depth


# Why the prediction cannot go further (DebugSession.ended)
ENDED_COMPLETE = "complete"  # the entry point returned: the whole run is predicted


@dataclass
class Motion:
    """What a motion did: how many frames it moved and why it stopped there."""

    moved: int
    reason: str  # "step", "breakpoint", "return", "line", "start", or why the prediction ended
    detail: str = ""


@dataclass
class Program:
    """The program being debugged, and how its lines show to the user."""

    context: str  # the CWM context the model sees
    name: str  # the file's name, for messages
    script: bool = False  # a whole script: the context has the marker line first
    source_lines: int = 0  # lines of the user's file
    definitions: str = ""  # what expressions (`p f(2)`) may call: a function program's own code

    @classmethod
    def function(cls, source: str, call: str, name: str = "<program>") -> "Program":
        return cls(build_context(source, call), name, False, len(source_lines(source)), source)

    @classmethod
    def whole_script(cls, source: str, name: str = "<script>") -> "Program":
        return cls(script_context(source), name, True, len(source_lines(source)))

    @property
    def offset(self) -> int:
        """Context line number minus the user's file line number."""
        return 1 if self.script else 0

    def shown(self, lineno: int) -> int:
        """A context line number as the user's file numbers it (0 stays 0)."""
        return lineno - self.offset if lineno else 0


class DebugSession:
    def __init__(
        self,
        program: Program,
        predictor: Predictor,
        limits: SessionLimits = SessionLimits(),
        *,
        sandbox=None,
        on_predict: Callable[[int], None] | None = None,
    ) -> None:
        self.program = program
        self.predictor = predictor
        self.limits = limits
        self.sandbox = sandbox  # for truth(); one is started when needed
        self.on_predict = on_predict  # called with the frame count after each prediction
        self.breakpoints = Breakpoints()  # context line numbers (a set), with conditions and temporaries
        self.steps: list[Step] = []
        self.position = -1
        self.ended: str | None = None  # why no further frame can be predicted (None: more can)
        self.notes: list[str] = []  # things the user should know, said once (read by the shell)
        self.step_over_works = True  # False once the backend ignored a forced return
        self.predicted_frames = 0  # frames asked of the model, replays not counted
        self.rejected: str | None = None  # the text of a frame that did not read, if one ended the prediction
        self._lines = action_lines(program.context)
        self._line_index: dict[str, list[int]] = {}
        for number, line in enumerate(self._lines, start=1):
            self._line_index.setdefault(line, []).append(number)
        self._scopes = function_ranges(program.context)
        self._reader = FrameReader(program.context)
        self._truth = None  # the real run, once truth() asked for it

    # -- the timeline -------------------------------------------------------------------
    @property
    def current(self) -> Step | None:
        return self.steps[self.position] if 0 <= self.position < len(self.steps) else None

    @property
    def model_failed(self) -> bool:
        """Whether the prediction ended because the model could not write the next frame
        (not because the run is complete, nor at the frame limit): a divergence of its own,
        at the step after the last one predicted."""
        return self.ended is not None and self.ended != ENDED_COMPLETE and not self.ended.startswith("the prediction limit")

    @property
    def frames(self) -> list[Frame]:
        return [step.frame for step in self.steps]

    def start(self) -> Motion:
        """Predict the first frame (the entry point's call) and stop there."""
        self.steps.clear()
        self.position = -1
        self.ended = None
        self.rejected = None
        self._reader = FrameReader(self.program.context)
        return self.step()

    restart = start

    def _extend(self, force_return: bool = False) -> bool:
        """Ask the model for one more frame; False (and `ended` says why) if there is none."""
        if self.ended is not None:
            return False
        if len(self.steps) >= self.limits.max_frames:
            self.ended = f"the prediction limit of {self.limits.max_frames} frames is reached"
            return False
        prefix = RETURN_SEP if force_return and self.step_over_works else ""
        frames_text = "".join(step.text for step in self.steps)
        request = FrameRequest(self.program.context, frames_text, self.limits.max_frame_tokens, logprobs=True, prefix=prefix)
        [result] = self.predictor.next_frames([request])
        self.predicted_frames += 1
        if prefix and not result.text.startswith(prefix) and result.finish != STEP_END:
            # a backend that ignores FrameRequest.prefix: step through bodies instead
            self.step_over_works = False
            self.notes.append(f"{getattr(self.predictor, 'name', 'this model')} cannot skip a call's body; `next` steps through it")
            prefix = ""
        if result.finish == STEP_END and not result.text:
            self.ended = "the model ended the trace here (it wrote <|end_of_text|> before the entry point returned)"
            return False
        if result.finish == STEP_LENGTH:
            self.ended = f"the model wrote {result.tokens} tokens without finishing a frame (limit {self.limits.max_frame_tokens})"
            return False
        error = self._reader.feed(result.text)
        if error is not None:
            self._reader = self._rebuilt_reader()
            self.rejected = result.text
            shown = result.text if len(result.text) <= 160 else result.text[:157] + "..."
            self.ended = f"the model's next frame does not read as a frame ({error}); it wrote {shown!r}"
            return False
        frame = self._reader.trace.frames[-1]
        lineno, function = self._locate(frame)
        confidence = frame_confidence(result.text, len(prefix), result.token_texts, result.token_logprobs)
        skipped = bool(prefix) and bool(self.steps) and self.steps[-1].event == "call"
        self.steps.append(Step(frame, result.text, lineno, function, confidence, skipped))
        if frame.event == "return" and frame.depth == 0:
            self.ended = ENDED_COMPLETE
        if self.on_predict is not None:
            self.on_predict(len(self.steps))
        return True

    def _rebuilt_reader(self) -> FrameReader:
        reader = FrameReader(self.program.context)
        error = reader.feed("".join(step.text for step in self.steps))
        assert error is None, error  # every kept step read before
        return reader

    def _locate(self, frame: Frame) -> tuple[int, str]:
        """The frame's line number and function. The parser leaves a line number out where the
        text of the line appears more than once; here the function the frame is in decides."""
        candidates = self._line_index.get(frame.source, [])
        if frame.event == "call":  # a def line: the first with this text (all name the same function)
            line = candidates[0] if candidates else 0
            return line, function_name(frame.source)
        scope = self._scope_of_new(frame)
        if scope is None:
            return (candidates[0] if len(candidates) == 1 else 0), "?"
        call_line, function = scope
        low, high = self._scopes.get(call_line, (1, len(self._lines)))
        inside = [c for c in candidates if low <= c <= high]
        if len(inside) <= 1:
            return (inside[0] if inside else (candidates[0] if len(candidates) == 1 else 0)), function
        previous = next((s.lineno for s in reversed(self.steps) if s.depth == frame.depth and s.event != "call" and s.function == function), low)
        after = [c for c in inside if c >= previous]
        return (after or inside)[0], function

    def _scope_of_new(self, frame: Frame) -> tuple[int, str] | None:
        """(def line, function name) of the scope a new non-call frame belongs to."""
        for step in reversed(self.steps):
            if step.event == "call" and step.depth == frame.depth:
                return step.lineno, step.function
            if step.depth < frame.depth:
                return None
        return None

    # -- motions ------------------------------------------------------------------------
    def _forward(self, stop: Callable[[Step], str | None], over_depth: int | None = None, breakpoints: bool = True) -> Motion:
        """Move forward until `stop(step)` names a reason (or a breakpoint, or the end).

        With `over_depth`, a call frame deeper than it that must be predicted gets its return
        forced at once (the body is not simulated)."""
        moved = 0
        while True:
            if self.position + 1 >= len(self.steps):
                last = self.current
                force = over_depth is not None and last is not None and last.event == "call" and last.depth > over_depth
                if not self._extend(force_return=force):
                    if moved == 0 and self.position < 0:
                        return Motion(0, "ended", self.ended or "")
                    return Motion(moved, "end" if self.ended == ENDED_COMPLETE else "ended", self.ended or "")
            self.position += 1
            moved += 1
            step = self.steps[self.position]
            reason = stop(step)
            if reason:
                return Motion(moved, reason)
            if breakpoints and self._at_breakpoint(step):
                return Motion(moved, "breakpoint")

    def _at_breakpoint(self, step: Step) -> bool:
        if step.event not in ("call", "line") or step.lineno not in self.breakpoints:
            return False
        condition = self.breakpoints.conditions.get(step.lineno)
        if condition is not None:
            try:
                held = self.evaluate(condition, step, truth=True)
            except (ExpressionError, DebuggerError) as exc:
                held = Evaluation(None, str(exc))
            if not held.ok:  # as pdb: a condition that cannot be evaluated stops, and says why
                self.notes.append(f"the condition {condition!r} of the breakpoint at line {self.program.shown(step.lineno)} could not be evaluated ({held.error}): stopped there")
            elif held.value != "True":
                return False
        if step.lineno in self.breakpoints.temporary:
            self.breakpoints.discard(step.lineno)
            self.notes.append(f"deleted the temporary breakpoint at {self.program.name}:{self.program.shown(step.lineno)}")
        return True

    def step(self, count: int = 1) -> Motion:
        total = 0
        for _ in range(count):
            motion = self._forward(lambda step: "step")
            total += motion.moved
            if motion.reason != "step":
                return Motion(total, motion.reason, motion.detail)
        return Motion(total, "step")

    def next(self, count: int = 1) -> Motion:
        total = 0
        for _ in range(count):
            motion = self._next_once()
            total += motion.moved
            if motion.reason not in ("step", "return"):
                return Motion(total, motion.reason, motion.detail)
        return Motion(total, "step")

    def _next_once(self) -> Motion:
        here = self._require_current()
        # From a return, the caller's next frame; otherwise this function's (at a call frame,
        # its first line, as in pdb).
        depth = here.depth - 1 if here.event == "return" else here.depth
        return self._forward(lambda s: "step" if s.depth <= depth else None, over_depth=depth)

    def out(self) -> Motion:
        here = self._require_current()
        depth = here.depth - 1 if here.event == "return" else here.depth
        if depth < 0:
            raise DebuggerError("the entry point has returned: there is no caller to step out to")
        return self._forward(lambda s: "return" if s.event == "return" and s.depth == depth else None)

    def until(self, lineno: int | None = None) -> Motion:
        here = self._require_current()
        depth = here.depth
        target = lineno if lineno is not None else here.lineno + 1

        def stop(step: Step) -> str | None:
            if step.depth == depth and step.event == "line" and step.lineno >= target:
                return "line"
            if (step.depth == depth and step.event == "return") or step.depth < depth:
                return "return"
            return None

        return self._forward(stop)

    def cont(self) -> Motion:
        return self._forward(lambda step: None)

    def back(self, count: int = 1) -> Motion:
        if self.position <= 0:
            raise DebuggerError("already at the first step")
        moved = min(count, self.position)
        self.position -= moved
        return Motion(moved, "start" if self.position == 0 else "step")

    def _require_current(self) -> Step:
        step = self.current
        if step is None:
            raise DebuggerError(f"nothing is predicted yet: {self.ended or 'the session has not started'}")
        return step

    # -- inspecting -----------------------------------------------------------------------
    def visible_locals(self, step: Step | None = None) -> tuple[dict[str, str], dict[str, float | None], set[str]]:
        """The locals at a step, each value's confidence, and the names the user set.

        A return or exception frame carries no locals in the CWM format, so its function's
        last line frame's are shown, with the return value as `__return__`. A value the
        model wrote as `".."` (unchanged) has the confidence it had where it was last written
        out: what the model was sure of is the value, not only that it did not change."""
        step = step or self._require_current()
        index = self.steps.index(step)
        source = index
        if step.frame.locals is None:
            source = next((i for i in range(index - 1, -1, -1) if self.steps[i].depth == step.depth and self.steps[i].frame.locals is not None), None)
        values: dict[str, str] = {}
        confidences: dict[str, float | None] = {}
        edited: set[str] = set()
        if source is not None:
            for name, value in self.steps[source].frame.locals.items():
                values[name] = value
                origin = self.value_origin(source, name)
                if origin is not None and name in origin.edited:
                    edited.add(name)
                    confidences[name] = None
                else:
                    confidences[name] = _confidence(origin, name) if origin is not None else None
        if step.frame.value is not None:
            values[RETURN_VALUE] = step.frame.value
            confidences[RETURN_VALUE] = _confidence(step, RETURN_VALUE)
        return values, confidences, edited

    def value_origin(self, index: int, name: str) -> Step | None:
        """The step at which the value of `name` seen at step `index` was last written out
        (by the model, or by `set`), following `".."` back through the frames it refers to."""
        frames = self.frames
        at: int | None = index
        while at is not None:
            step = self.steps[at]
            if name in step.edited:
                return step
            span = value_spans(step.text)[1].get(name)
            if span is None:
                return None
            if step.text[span[0] : span[1]] != '".."':
                return step
            at = reference_index(frames, at)
        return None

    def changed(self, index: int) -> list[str]:
        """The names whose value differs from the function's previous step (every name at a
        call), in order: what the step did."""
        return changed_names(self.frames, index)

    def call_of(self, step: Step) -> Step | None:
        """The call frame that opened the function call `step` is in."""
        index = self.steps.index(step)
        for j in range(index, -1, -1):
            earlier = self.steps[j]
            if earlier.depth < step.depth:
                return None
            if earlier.depth == step.depth and earlier.event == "call":
                return earlier
        return None

    def stack(self) -> list[Step]:
        """The frames on the call stack at the cursor, outermost first: for each open
        function, the latest step in it."""
        self._require_current()
        stack: list[Step] = []
        for step in self.steps[: self.position + 1]:
            stack = stack[: step.depth] + [step]  # a frame at depth d is its function's latest step
        return stack

    # -- breakpoints ----------------------------------------------------------------------
    def breakpoint_line(self, where: str) -> int:
        """The context line a `break` argument names: a line number of the user's file, or a
        function's name (its `def` line, which its call frame shows)."""
        where = where.strip()
        if re.fullmatch(r"\d+", where):
            shown = int(where)
            lineno = shown + self.program.offset
            if not 1 <= shown <= self.program.source_lines:
                raise DebuggerError(f"line {shown} is not in {self.program.name} (it has {self.program.source_lines} lines)")
            text = self._lines[lineno - 1].strip()
            if not text or text.startswith("#"):
                nearest = self._code_line_after(lineno)
                hint = f"; the next line with code is {self.program.shown(nearest)}" if nearest else ""
                raise DebuggerError(f"line {shown} of {self.program.name} has no code (blank or a comment){hint}")
            return lineno
        if where.isidentifier():
            for number, line in enumerate(self._lines, start=1):
                if re.match(rf"\s*(async\s+)?def\s+{re.escape(where)}\s*\(", line) and number - self.program.offset >= 1:
                    return number
            raise DebuggerError(f"no function named {where!r} in {self.program.name}")
        raise DebuggerError(f"a breakpoint is a line number or a function name, got {where!r}")

    def _code_line_after(self, lineno: int) -> int:
        for number in range(lineno + 1, self.program.source_lines + self.program.offset + 1):
            text = self._lines[number - 1].strip()
            if text and not text.startswith("#"):
                return number
        return 0

    # -- editing --------------------------------------------------------------------------
    def set_value(self, name: str, value_text: str) -> str:
        """Give `name` the value of the literal `value_text` at the cursor, drop the frames
        after it, and let the model predict from the edited state. Returns the value as the
        trace writes it (its repr)."""
        here = self._require_current()
        if not name.isidentifier() or keyword.iskeyword(name):
            raise DebuggerError(f"{name!r} is not a variable name")
        if here.frame.locals is None:
            raise DebuggerError(f"a {here.event} frame holds no locals to set (the CWM format gives it only the value); go back to a line")
        rendered = render_literal(value_text)
        index = self.position
        locals_ = dict(here.frame.locals)
        locals_[name] = rendered
        frame = Frame(here.event, here.frame.source, here.frame.depth, locals_, None, here.frame.lineno, here.frame.function)
        frames = self.frames[:index] + [frame]
        ref = reference_index(frames, index)
        text = format_frame(frame, frames[ref] if ref is not None else None)
        confidence = here.confidence
        if confidence is not None:
            confidence = FrameConfidence(confidence.action, {k: v for k, v in confidence.values.items() if k != name})
        edited = tuple(dict.fromkeys(here.edited + (name,)))
        self.steps[index] = Step(frame, text, here.lineno, here.function, confidence, here.skipped_body, edited)
        del self.steps[index + 1 :]
        self.ended = None
        self.rejected = None
        self._reader = self._rebuilt_reader()
        return rendered

    @property
    def first_edit(self) -> int | None:
        return next((i for i, step in enumerate(self.steps) if step.edited), None)

    def evaluate(self, expression: str, step: Step | None = None, *, pretty: bool = False, truth: bool = False) -> Evaluation:
        """`expression` over the predicted locals at `step` (default: the cursor's), run in the
        sandbox (`codewm.debugger.expressions`); ExpressionError when it cannot be."""
        values, _, _ = self.visible_locals(step)
        return evaluate_expression(expression, values, self.run_in_sandbox, self.program.definitions, pretty=pretty, truth=truth)

    # -- the sandbox ----------------------------------------------------------------------
    def run_in_sandbox(self, program):
        """Run a `codewm.trace.sandbox.Program` in the session's sandbox (a fresh one if the
        session was given none)."""
        if self.sandbox is not None:
            return self.sandbox.run(program)
        from codewm.trace.sandbox import Sandbox

        with Sandbox(workers=1) as sandbox:
            return sandbox.run(program)

    def real_run(self):
        """The real run of the program in the sandbox (run once, then kept)."""
        if self._truth is None:
            from codewm.trace.sandbox import Program as SandboxProgram

            self._truth = self.run_in_sandbox(SandboxProgram(self.program.context, script=self.program.script))
        return self._truth

    def truth(self):
        """The real run against the steps predicted so far (`codewm.debugger.truth.Truth`)."""
        from codewm.debugger.truth import compare

        return compare(self, self.real_run())


def changed_names(frames: list[Frame], index: int) -> list[str]:
    """The locals of `frames[index]` whose value differs from the previous frame of the same
    function call (all of them at a call frame). Unlike the CWM `".."` rule, a nested call in
    between does not count: after `y = g(x)` returns, only `y` changed."""
    frame = frames[index]
    if frame.locals is None:
        return []
    before: dict[str, str] = {}
    if frame.event != "call":
        for j in range(index - 1, -1, -1):
            earlier = frames[j]
            if earlier.depth < frame.depth:
                break
            if earlier.depth == frame.depth and earlier.locals is not None:
                before = earlier.locals
                break
    return [name for name, value in frame.locals.items() if before.get(name, _MISSING) != value]


_MISSING = object()


def _confidence(step: Step, name: str) -> float | None:
    if step.confidence is None or name in step.edited:
        return None
    return step.confidence.of(name)


def render_literal(text: str) -> str:
    """The trace's text for a Python literal typed by the user (its repr, as the tracer
    renders values), or a DebuggerError that says what is wrong with it."""
    from codewm.trace.render import render_value

    text = text.strip()
    if not text:
        raise DebuggerError("set needs a value: set NAME = VALUE")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, SyntaxError) else "not a literal"
        raise DebuggerError(
            f"{text!r} is not a Python literal ({reason}); use a number, string, bytes, list, tuple, dict, set, True, False or None"
        ) from None
    return render_value(value)


__all__ = [
    "DebugSession",
    "DebuggerError",
    "ENDED_COMPLETE",
    "ENTRY_FUNCTION",
    "Motion",
    "Program",
    "SessionLimits",
    "Step",
    "changed_names",
    "render_literal",
]
