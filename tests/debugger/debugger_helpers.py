"""What the debugger tests share (a module of its own: conftest files are not imported)."""

from __future__ import annotations

import copy

from codewm.format.cwm import format_frames, format_prompt
from codewm.types import build_context

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


def reciting_model(frames, context):
    """A continuation function (for ScriptedLanguageModel) that recites `frames`, one per
    prompt, then ends the trace: a model wrong exactly where the frames are."""
    whole = format_frames(frames, complete=False)
    prompt_start = format_prompt(context)

    def continuation(prompt: str) -> str:
        written = prompt[len(prompt_start) :]
        assert whole.startswith(written), "the session sent frames the model never wrote"
        k = written.count("<|frame_sep|>")
        return format_frames(frames[: k + 1], complete=False)[len(written) :] if k < len(frames) else "<|end_of_text|>"

    return continuation
