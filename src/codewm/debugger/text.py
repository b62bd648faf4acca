"""The debugger's words for what it shows: a probability as a percentage, the note after a
value, and the truth table (real run against prediction) as text lines, as `codewm debug`'s
`truth` and the demo print them.
"""

from __future__ import annotations

from codewm.debugger.confidence import RETURN_VALUE
from codewm.debugger.session import DebugSession, Step, changed_names

LOW_CONFIDENCE = 0.5  # values the model gave less than this are marked with "?"


def plural(count: int, word: str) -> str:
    """"1 step", "2 steps", "0 steps"."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def percent(probability: float | None) -> str:
    """`probability` as a whole percentage ("73%"), ">99%" / "<1%" near the ends, "100%"
    only where it rounds to one; "" for None (no confidence reported)."""
    if probability is None:
        return ""
    if probability >= 0.995:
        return "100%" if probability > 0.99995 else ">99%"
    if probability < 0.01:
        return "<1%"
    return f"{probability * 100:.0f}%"


def confidence_note(probability: float | None, edited: bool = False) -> str:
    """What follows a value: "  (73%)", with " ?" below LOW_CONFIDENCE, "  (set by you)"
    for an edited value, "" when no confidence is known."""
    if edited:
        return "  (set by you)"
    if probability is None:
        return ""
    mark = " ?" if probability < LOW_CONFIDENCE else ""
    return f"  ({percent(probability)}{mark})"


def _state_text(frames, index: int, step: Step | None = None) -> str:
    """A frame's state in a few words: what it changed, or what it returns; with `step`
    (a predicted one), each value followed by the model's confidence in it."""
    def conf(name: str) -> str:
        if step is None:
            return ""
        if name in step.edited:
            return " (set)"
        probability = step.confidence.of(name) if step.confidence is not None else None
        return f" ({percent(probability)})" if probability is not None else ""

    frame = frames[index]
    if frame.locals is not None:
        changed = [f"{name}={frame.locals[name]}{conf(name)}" for name in changed_names(frames, index)]
        return " ".join(changed) if changed else "-"
    return ("-> " if frame.event == "return" else "raise ") + (frame.value or "") + conf(RETURN_VALUE)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def truth_lines(session: DebugSession, truth, rows_after_divergence: int | None = None) -> list[str]:
    """The truth table as text lines (what `truth` prints); with `rows_after_divergence`,
    the rows that far past the first divergence and no further."""
    program = session.program
    real = truth.real_frames
    out = [
        f"truth: the real run ({truth.status}{', ' + truth.error if truth.error else ''}; {plural(len(real), 'step')}"
        f"{', returned ' + truth.real_output if truth.real_output is not None else ''}) against the {plural(len(truth.rows), 'step')} predicted so far"
    ]
    out.append(f"{'':2}{'#':>4} {'line':>4}  {'predicted':44} {'real':44}")
    shown_rows = truth.rows
    if rows_after_divergence is not None and truth.first_divergence is not None:
        shown_rows = truth.rows[: truth.first_divergence + 1 + rows_after_divergence]
    for row in shown_rows:
        step = session.steps[row.index]
        predicted = f"{step.event[:6]:6} {_state_text(session.frames, row.index, step)}"
        if row.real is None:
            real_text = "(the real run has ended)"
        elif row.agree:
            real_text = "="
        else:
            real_line = program.shown(real[row.real_index].lineno)
            real_text = f"{row.real.event[:6]:6} {_state_text(real, row.real_index)}" + (f" (line {real_line})" if real_line != program.shown(step.lineno) else "")
        mark = ">>" if row.index == truth.first_divergence else "  "
        verdict = "ok" if row.agree else ("what-if" if row.what_if else "DIFFERS")
        if row.skipped_real:
            out.append(f"{'':2}{'':>4} {'':>4}  ({row.skipped_real} real step{'s' if row.skipped_real != 1 else ''} of the body skipped by next)")
        out.append(f"{mark}{row.index + 1:>4} {program.shown(step.lineno) or '?':>4}  {_cut(predicted, 44):44} {_cut(real_text, 44):44} {verdict}")
    if len(shown_rows) < len(truth.rows):
        out.append(f"{'':2}{'':>4} {'':>4}  ... {len(truth.rows) - len(shown_rows)} more step{'s' if len(truth.rows) - len(shown_rows) != 1 else ''}")
    if truth.first_divergence is not None:
        row = truth.rows[truth.first_divergence]
        step = session.steps[row.index]
        out.append(f"first divergence at step {row.index + 1} ({program.name}:{program.shown(step.lineno) or '?'}): {'; '.join(row.differences)}")
    elif session.model_failed:
        out.append(f"first divergence at step {len(truth.rows) + 1}: the model could not write it ({session.ended})")
    elif truth.rows:
        out.append("no divergence: every step predicted so far is what really happens")
    if session.first_edit is not None:
        out.append(f"steps from {session.first_edit + 1} on follow your `set`: the real run never had that value (what-if)")
    out.append(f"{truth.agreeing} of {plural(truth.compared, 'step')} {'agrees' if truth.compared == 1 else 'agree'}")
    return out


__all__ = ["LOW_CONFIDENCE", "confidence_note", "percent", "plural", "truth_lines"]
