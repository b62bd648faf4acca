"""The README's main command (`codewm demo`): a world model predicts the trace of every
bundled example, the real run is put beside it, and one HTML report holds them all.

Each example is a debugger session driven to its end (`continue` with no breakpoints), then
`truth`. A model that never lets the entry point return would run on to the session's frame
limit; the demo knows the real run's length and stops a prediction 16 frames after it.

While an example takes more than a second, a line on stderr (a terminal only, never piped
output; off with `progress=False`, `codewm demo -q`) shows a bar over the programs, names the
one being predicted and counts its frames against the real run's (`progress_text`).
Everything printed from a program or the model goes through `terminal_safe`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TextIO

from codewm.debugger.session import DebugSession, Program, SessionLimits
from codewm.debugger.spinner import Spinner
from codewm.debugger.text import truth_lines
from codewm.debugger.truth import Truth
from codewm.format.pretty import terminal_safe

EXTRA_FRAMES = 16  # predicted frames allowed past the real run's length


@dataclass
class DemoResult:
    name: str
    call: str
    session: DebugSession
    truth: Truth

    @property
    def output_right(self) -> bool:
        predicted = self.session.steps[-1].frame.value if self.session.ended == "complete" else None
        return predicted is not None and predicted == self.truth.real_output


def run_demo(
    examples,
    predictor,
    *,
    sandbox=None,
    max_frames: int = 2000,
    out: TextIO | None = None,
    on_example: Callable[[str], None] | None = None,
    status: TextIO | None = None,
    progress: bool = True,
) -> list[DemoResult]:
    """Predict every example's trace with `predictor`, compare each with its real run, and
    print the comparison to `out`. `status` (default: stderr) shows the progress while an
    example takes more than a second, when it is a terminal and `progress` is on."""
    import sys

    out = out or sys.stdout
    results = []
    name = getattr(predictor, "name", "the model")
    examples = list(examples)
    for number, example in enumerate(examples, start=1):
        if on_example is not None:
            on_example(example.name)
        program = Program.function(example.source, example.call, f"{example.name}.py")
        current: list[DebugSession] = []
        real_frames: list[int] = []

        def text(example=example, number=number, current=current, real_frames=real_frames) -> str:
            frames = len(current[0].steps) if current else 0
            return progress_text(name, f"{example.name}.py", number, len(examples), frames, real_frames[0] if real_frames else None)

        with Spinner(text, status, enabled=progress):
            probe = DebugSession(program, predictor, sandbox=sandbox)
            real = probe.real_run()
            real_frames.append(len(real.trace.frames))
            limit = min(max_frames, len(real.trace.frames) + EXTRA_FRAMES)
            session = DebugSession(program, predictor, SessionLimits(max_frames=limit), sandbox=sandbox)
            session._truth = real  # the same program: run it once
            current.append(session)
            session.start()
            session.cont()
            truth = session.truth()
        results.append(DemoResult(example.name, example.call, session, truth))
        out.write(terminal_safe(f"\n== {example.name}.py: {example.call} ==\n"))
        for line in truth_lines(session, truth, rows_after_divergence=3):
            out.write(terminal_safe(line) + "\n")
        predicted = session.steps[-1].frame.value if session.ended == "complete" else None
        verdict = "right" if predicted is not None and predicted == truth.real_output else "wrong"
        stopped = "" if session.ended == "complete" else f" (prediction stopped: {session.ended})"
        out.write(terminal_safe(f"output: predicted {predicted if predicted is not None else '(none)'}, real {truth.real_output} ({verdict}){stopped}\n"))
    return results


BAR_WIDTH = 12  # the whole line fits 80 columns


def progress_text(model: str, program: str, number: int, total: int, frames: int, real_frames: int | None) -> str:
    """The demo's progress line: a bar over the programs (those done, and how far the current
    one's prediction is against its real run's length), then what is predicted and how far
    (frames predicted / frames of the real run, once it is known):

        ━━━━━━╸····· builtin is predicting fibonacci.py (3/5): 42/57 frames
    """
    within = min(frames / real_frames, 1.0) if real_frames else 0.0
    filled = BAR_WIDTH * ((number - 1) + within) / max(total, 1)
    whole = int(filled)
    bar = ("━" * whole + ("╸" if filled - whole >= 0.5 else "")).ljust(BAR_WIDTH, "·")
    counted = f"{frames}/{real_frames} frames" if real_frames else f"{frames} frame{'s' if frames != 1 else ''} so far"
    return f"{bar} {model} is predicting {program} ({number}/{total}): {counted}"


def summary_lines(results: list[DemoResult]) -> list[str]:
    agree = sum(r.truth.agreeing for r in results)
    compared = sum(r.truth.compared for r in results)
    outputs = sum(r.output_right for r in results)
    lines = [f"{'program':28} {'steps agree':>12} {'first divergence':>20} {'output':>7}"]
    for r in results:
        first = r.truth.first_divergence
        if first is not None:
            where = f"step {first + 1}"
        elif r.session.model_failed:
            where = f"step {len(r.session.steps) + 1} (no frame)"
        else:
            where = "none"
        lines.append(
            f"{(r.name + '.py')[:28]:28} {f'{r.truth.agreeing}/{r.truth.compared}':>12} "
            f"{where:>20} {'right' if r.output_right else 'wrong':>7}"
        )
    lines.append(f"{'all':28} {f'{agree}/{compared}':>12} {'':>20} {f'{outputs}/{len(results)}':>7}")
    return lines


def write_demo_report(results: list[DemoResult], path: Path) -> Path:
    from codewm.debugger.report import ReportSection, write_report

    sections = [ReportSection.from_session(r.session, r.truth, label=f"{r.name}.py: {r.call}") for r in results]
    return write_report(path, sections, title="codewm demo: predicted against real")
