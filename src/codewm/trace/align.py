"""Which real frame each predicted frame stands for.

A predicted trace is compared with the real one position by position (as CWM's trace
metrics do), with one exception: a *skipped body*. When the debugger steps over a call
(`next`), it appends `<|return_sep|>` right after the call frame, and the model predicts the
call's return without simulating the body; the predicted trace then holds a call frame
directly followed by its own return frame. A real trace never does (a Python function runs
at least one line), so the pattern is unambiguous: that return stands for the real return
that ends the same call, and alignment jumps over the body's real frames to it.
"""

from __future__ import annotations

from codewm.types import Frame


def skips_body(frames: list[Frame], index: int) -> bool:
    """Whether `frames[index]` is a return predicted straight after its own call frame."""
    if index == 0:
        return False
    frame, before = frames[index], frames[index - 1]
    return frame.event == "return" and before.event == "call" and before.depth == frame.depth


def align_frames(predicted: list[Frame], real: list[Frame]) -> list[int | None]:
    """For each predicted frame, the index of the real frame it stands for (None past the
    end of the real trace)."""
    out: list[int | None] = []
    cursor = 0  # the real index the next predicted frame stands for
    for index in range(len(predicted)):
        if skips_body(predicted, index):
            call = out[-1]
            if call is not None and real[call].event == "call":
                end = matching_return(real, call)
                if end is not None:
                    cursor = end
        out.append(cursor if cursor < len(real) else None)
        cursor += 1
    return out


def matching_return(frames: list[Frame], call: int) -> int | None:
    """The index of the return frame that ends the call opened at `frames[call]`."""
    depth = frames[call].depth
    for index in range(call + 1, len(frames)):
        frame = frames[index]
        if frame.depth == depth and frame.event == "return":
            return index
        if frame.depth < depth:
            return None
    return None
