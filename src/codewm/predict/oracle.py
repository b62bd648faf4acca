"""The oracle: a "world model" that runs the program. The upper bound of every benchmark and
the sanity check of the harness (it must score 100 everywhere).

Frames: each context is run once in the sandbox (a fresh process per program) and its real
trace cached; the k-th frame request of a context gets the real k-th frame, written exactly
as the CWM writer writes it. A request that starts the frame with `<|return_sep|>` right
after a call frame (the debugger stepping over the call) gets the real return of that call;
frames before it are matched to the real ones by `codewm.trace.align` (an edited state does
not change what really happens: the oracle goes on with the real run). Direct answers: output mode runs the call and answers with the
value's repr; input mode answers with the benchmark's own call, after running it to confirm
that it returns the expected output (the scorer then executes it again, as it does every
model's answer).
"""

from __future__ import annotations

from typing import Sequence

from codewm.format.cwm import RETURN_SEP, format_frame, parse_trace, reference_index
from codewm.predict.base import STEP_END, STEP_FRAME, STEP_LENGTH, AnswerRequest, FrameRequest, FrameStep
from codewm.trace.align import align_frames, matching_return
from codewm.types import START_MARKER, Trace, build_context


class OraclePredictor:
    name = "oracle"
    replays_real_run = True  # no what-if: after a `set` it goes on with the real run (the debugger says so)

    def __init__(self, sandbox=None, workers: int = 2) -> None:
        self._sandbox = sandbox
        self._owns_sandbox = sandbox is None
        self._workers = workers
        # context -> (frame texts, complete, whole frames text, length of the first k frames -> k)
        self._frames: dict[str, tuple[list[str], bool, str, dict[int, int]]] = {}
        self._traces: dict[str, Trace] = {}

    @property
    def sandbox(self):
        if self._sandbox is None:
            from codewm.trace.sandbox import Sandbox

            self._sandbox = Sandbox(workers=self._workers)
        return self._sandbox

    def close(self) -> None:
        if self._owns_sandbox and self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def real_traces(self, contexts: Sequence[str]) -> list[Trace]:
        """Run each context once (fresh process each) and return the real traces."""
        from codewm.trace.sandbox import Program

        # a whole script's context opens with the marker line (see script_context)
        programs = [Program(context, script=context.startswith(START_MARKER)) for context in contexts]
        return [result.trace for result in self.sandbox.map(programs, batch_size=1)]

    def _ensure(self, contexts: Sequence[str]) -> None:
        missing = list(dict.fromkeys(c for c in contexts if c not in self._frames))
        for context, trace in zip(missing, self.real_traces(missing)):
            self._traces[context] = trace
            frames = trace.frames
            texts = []
            for i, frame in enumerate(frames):
                ref = reference_index(frames, i)
                texts.append(format_frame(frame, frames[ref] if ref is not None else None))
            ends, length = {0: 0}, 0
            for k, text in enumerate(texts, 1):
                length += len(text)
                ends[length] = k
            self._frames[context] = (texts, trace.complete, "".join(texts), ends)

    def next_frames(self, requests: Sequence[FrameRequest]) -> list[FrameStep]:
        self._ensure([r.context for r in requests])
        steps = []
        for request in requests:
            texts, complete, whole, ends = self._frames[request.context]
            k = ends.get(len(request.frames_text))
            if k is None or not whole.startswith(request.frames_text):  # not the real run's text: align it
                k = self._real_position(request)
            if request.prefix:
                k = self._with_prefix(request, k)
            if k < len(texts):
                steps.append(FrameStep(texts[k], STEP_FRAME, 1, [texts[k]] if request.logprobs else None, [0.0] if request.logprobs else None))
            else:  # past the real trace: its end, or (a run cut short by a limit) nothing known
                steps.append(FrameStep("", STEP_END if complete else STEP_LENGTH, 0))
        return steps

    def _real_position(self, request: FrameRequest) -> int:
        """The index of the real frame that follows the frames of `request.frames_text`."""
        predicted = parse_trace(request.frames_text, request.context).trace.frames
        if not predicted:
            return 0
        aligned = align_frames(predicted, self._traces[request.context].frames)
        return aligned[-1] + 1 if aligned[-1] is not None else len(self._frames[request.context][0])

    def _with_prefix(self, request: FrameRequest, k: int) -> int:
        """Where a frame that must start with `request.prefix` is in the real run: a return
        given right after a call frame is that call's real return; any other prefix must
        start the real next frame (else nothing is known: past the end)."""
        texts = self._frames[request.context][0]
        if request.prefix == RETURN_SEP and k > 0:
            real = self._traces[request.context].frames
            if real[k - 1].event == "call":
                end = matching_return(real, k - 1)
                return end if end is not None else len(texts)
        return k if k < len(texts) and texts[k].startswith(request.prefix) else len(texts)

    def answer(self, requests: Sequence[AnswerRequest]) -> list[list[str]]:
        contexts = [build_context(r.code, r.call) if r.call else "" for r in requests]
        runnable = [c for c in contexts if c]
        traces = dict(zip(runnable, self.real_traces(runnable))) if runnable else {}
        out = []
        for request, context in zip(requests, contexts):
            trace = traces.get(context)
            value = trace.output if trace is not None and not trace.raised else None
            if request.mode == "output":
                answer = value if value is not None else ""
            elif request.mode == "input":
                # the benchmark's own call, if it really returns the expected output
                answer = request.call if value is not None and _same_literal(value, request.output) else ""
            else:
                raise ValueError(f"AnswerRequest.mode must be 'output' or 'input', got {request.mode!r}")
            out.append([answer] * request.samples)
        return out


def _same_literal(rendered: str, literal: str) -> bool:
    import ast

    if rendered == literal:
        return True
    try:
        return ast.literal_eval(rendered) == ast.literal_eval(literal)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
