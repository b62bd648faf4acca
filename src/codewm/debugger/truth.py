"""Predicted against real: each predicted step beside the real frame it stands for.

Steps are matched by position (`codewm.trace.align`), except that a return predicted by
`next` over a call stands for the real return of that call. Two frames agree when they are
the same event, on the same line, at the same depth, with the same locals (names and
values) or the same return value: exactly the CWM state and action match, frame by frame.

The *first divergence* is the first step where they do not. Steps from the first `set` on
are a "what if": the real run never had the edited value, so they are shown against the
real run but never counted as the model's divergence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codewm.debugger.confidence import RETURN_VALUE
from codewm.trace.align import align_frames
from codewm.types import Frame


@dataclass
class StepComparison:
    index: int  # the predicted step (0-based)
    real_index: int | None  # the real frame it stands for; None past the real run's end
    real: Frame | None
    agree: bool
    differences: list[str] = field(default_factory=list)  # readable, e.g. "b: predicted 2, real 1"
    what_if: bool = False  # at or after an edit: not the model's error
    skipped_real: int = 0  # real frames of a body the model skipped (`next`) just before this step


@dataclass
class Truth:
    """The real run and its comparison with the steps predicted so far."""

    status: str  # the real run's status (ok, exception, timeout, ...)
    error: str | None
    real_frames: list[Frame]
    real_output: str | None  # the real return value (None if the run did not return)
    rows: list[StepComparison]
    first_divergence: int | None  # index into rows / the session's steps
    isolation: str = ""

    @property
    def agreeing(self) -> int:
        return sum(1 for row in self.rows if row.agree and not row.what_if)

    @property
    def compared(self) -> int:
        return sum(1 for row in self.rows if not row.what_if)


def frame_differences(predicted: Frame, real: Frame | None, predicted_line: int = 0, real_line: int = 0) -> list[str]:
    """What differs between a predicted and a real frame, in words (empty: they agree)."""
    if real is None:
        return ["the real run has no such step (it ended before)"]
    out: list[str] = []
    if predicted.event != real.event:
        out.append(f"event: predicted {predicted.event}, real {real.event}")
    if predicted.source != real.source:
        where_p = f"line {predicted_line}" if predicted_line else repr(predicted.source.strip())
        where_r = f"line {real_line}" if real_line else repr(real.source.strip())
        out.append(f"line: predicted {where_p}, real {where_r}")
    if predicted.depth != real.depth:
        out.append(f"depth: predicted {predicted.depth}, real {real.depth}")
    if predicted.locals is not None or real.locals is not None:
        mine, theirs = predicted.locals or {}, real.locals or {}
        for name in list(mine) + [n for n in theirs if n not in mine]:
            if name not in theirs:
                out.append(f"{name}: predicted {mine[name]}, real (not a local)")
            elif name not in mine:
                out.append(f"{name}: predicted (not a local), real {theirs[name]}")
            elif mine[name] != theirs[name]:
                out.append(f"{name}: predicted {mine[name]}, real {theirs[name]}")
        if predicted.locals is not None and real.locals is not None and not out and list(mine) != list(theirs):
            out.append("locals: same values, different order")
    if (predicted.value is not None or real.value is not None) and predicted.value != real.value:
        label = RETURN_VALUE if predicted.event == "return" else "raised"
        out.append(f"{label}: predicted {predicted.value}, real {real.value}")
    return out


def compare(session, run) -> Truth:
    """Compare `session`'s steps with the real run `run` (a sandbox RunResult)."""
    real = run.trace.frames
    predicted = session.frames
    aligned = align_frames(predicted, real)
    first_edit = session.first_edit
    real_lines = [frame.lineno for frame in real]
    rows: list[StepComparison] = []
    first: int | None = None
    previous: int | None = -1
    for index, (step, real_index) in enumerate(zip(session.steps, aligned)):
        frame = real[real_index] if real_index is not None else None
        differences = frame_differences(step.frame, frame, session.program.shown(step.lineno), session.program.shown(real_lines[real_index]) if real_index is not None else 0)
        what_if = first_edit is not None and index >= first_edit
        skipped = real_index - previous - 1 if real_index is not None and previous is not None and step.skipped_body else 0
        rows.append(StepComparison(index, real_index, frame, not differences, differences, what_if, max(skipped, 0)))
        if differences and not what_if and first is None:
            first = index
        previous = real_index
    output = run.trace.output if run.trace.complete else None
    return Truth(run.status, run.error, real, output, rows, first, getattr(session.sandbox, "isolation", ""))
