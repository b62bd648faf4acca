"""What the debugger tests share (a module of its own: conftest files are not imported)."""

from __future__ import annotations

import copy

from codewm.trace.types import build_context

# A program and the step at which the wrong checkpoint lies: at step 5 (index 4, about to
# run `z = y + 1`) it says y is 7 where the real run has 6; every other frame is real.
WRONG_SOURCE = "def double(x):\n    y = x * 2\n    z = y + 1\n    return z\n"
WRONG_CALL = "double(3)"
WRONG_INDEX = 4



def tampered_frames(oracle, source: str, call: str, index: int, name: str, value: str):
    """The real frames of `source`/`call`, with local `name` at frame `index` set to `value`."""
    context = build_context(source, call)
    [real] = oracle.real_traces([context])
    frames = copy.deepcopy(real.frames)
    assert name in frames[index].locals
    frames[index].locals[name] = value
    return context, real, frames
