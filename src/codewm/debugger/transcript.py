"""`codewm debug --json`: the session as one JSON object per command, for programs to read.

    {"command": "p total", "ok": true, "output": ["total = 3  (100%)"], "errors": [],
     "step": {"step": 7, "steps": 7, "event": "line", "line": 4, "function": "f", ...}}

The first object (`"command": null`) is the session's start. `output` holds the lines the
text transcript would print for the command (`***` lines included); `errors` what failed;
`step` where the cursor is after it (null before the first frame).
"""

from __future__ import annotations

from codewm.debugger.confidence import RETURN_VALUE
from codewm.debugger.session import DebugSession


def step_record(session: DebugSession) -> dict | None:
    """Where the session's cursor is: the step, its place, the predicted locals and the model's
    confidence in each (None where the backend gives none), and why the prediction ended."""
    step = session.current
    if step is None:
        return None
    values, confidences, edited = session.visible_locals(step)
    program = session.program
    return {
        "step": session.position + 1,
        "steps": len(session.steps),
        "event": step.event,
        "line": program.shown(step.lineno) or None,
        "function": step.function,
        "depth": step.depth,
        "source": step.frame.source.strip(),
        "locals": {name: value for name, value in values.items() if name != RETURN_VALUE},
        "value": step.frame.value,
        "confidence": {name: confidences.get(name) for name in values},
        "set_by_you": sorted(edited),
        "ended": session.ended,
    }


__all__ = ["step_record"]
