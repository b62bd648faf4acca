"""How sure the model was of what it wrote in one frame, part by part.

A backend that returns token log-probabilities (`FrameRequest(logprobs=True)`) gives one per
generated token. The confidence of a part of the frame (a local's value, the return value,
the source line it says runs next) is the probability the model gave that exact text: the
product of the probabilities of the tokens that overlap it. A token that straddles two
parts (`", "` merged with a quote) counts for both, so a part's figure is, if anything, low.
The quotes around a JSON string value count as part of it: the closing quote is where the
model decides the value ends.

Confidences are None where the backend gives no log-probabilities, where a part was given to
the model rather than written by it (a forced `<|return_sep|>`), or where the tokens' texts
do not add up to the frame's text (a byte-level token that splits a character).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from codewm.format.cwm import ACTION_SEP, ARG_SEP, FRAME_SEP

RETURN_VALUE = "__return__"  # the key of a return or exception frame's value (pdb's name)


@dataclass
class FrameConfidence:
    action: float | None = None  # the source line the frame says runs next
    values: dict[str, float] = field(default_factory=dict)  # local name (or RETURN_VALUE) -> probability

    def of(self, name: str) -> float | None:
        return self.values.get(name)


def value_spans(text: str) -> tuple[tuple[int, int] | None, dict[str, tuple[int, int]]]:
    """Character spans in one frame's CWM text: the action's, and each value's (quotes
    included), by local name or RETURN_VALUE. Empty where the text does not read."""
    spans: dict[str, tuple[int, int]] = {}
    end = text.rfind(FRAME_SEP)
    end = len(text) if end < 0 else end
    action_at = text.find(ACTION_SEP)
    if action_at < 0:
        return None, spans
    arg_at = text.find(ARG_SEP, action_at)
    if arg_at >= 0:  # return / exception: <|..._sep|><|action_sep|>SOURCE<|arg_sep|>VALUE
        spans[RETURN_VALUE] = (arg_at + len(ARG_SEP), end)
        return (action_at + len(ACTION_SEP), arg_at), spans
    start = text.find("{")
    if 0 <= start < action_at:
        _object_spans(text, start, action_at, spans)
    return (action_at + len(ACTION_SEP), end), spans


def _object_spans(text: str, start: int, stop: int, spans: dict[str, tuple[int, int]]) -> None:
    """Walk a JSON object of strings (`{"a": "1", ...}`), recording each value's span."""
    scan = json.decoder.scanstring
    pos = start + 1

    def skip(p: int) -> int:
        while p < stop and text[p] in " \t\n\r":
            p += 1
        return p

    try:
        pos = skip(pos)
        while pos < stop and text[pos] == '"':
            name, pos = scan(text, pos + 1)
            pos = skip(pos)
            if text[pos] != ":":
                return
            pos = skip(pos + 1)
            if text[pos] != '"':
                return
            value_start = pos
            _, pos = scan(text, pos + 1)
            spans[name] = (value_start, pos)
            pos = skip(pos)
            if text[pos] != ",":
                return
            pos = skip(pos + 1)
    except (ValueError, IndexError):
        return


def frame_confidence(text: str, given: int, token_texts: list[str] | None, token_logprobs: list[float] | None) -> FrameConfidence | None:
    """The confidence of each part of a frame's `text`, whose first `given` characters were
    given to the model (a forced prefix) and the rest written by it, token by token."""
    if not token_texts or token_logprobs is None or len(token_texts) != len(token_logprobs):
        return None
    written = "".join(token_texts)
    written_end = len(text) - len(FRAME_SEP) if text.endswith(FRAME_SEP) else len(text)
    # The tokens cover what the model wrote: usually without the stop token that ended the
    # frame; a backend that reports whole frames (the oracle) may include it and the prefix.
    for start, end in ((given, written_end), (given, len(text)), (0, len(text))):
        if written == text[start:end]:
            break
    else:
        return None
    starts, position = [], start
    for token in token_texts:
        starts.append(position)
        position += len(token)

    def probability(span: tuple[int, int] | None) -> float | None:
        if span is None:
            return None
        low, high = span
        if low < start:
            return None
        total, touched = 0.0, False
        for at, token, logprob in zip(starts, token_texts, token_logprobs):
            if at < high and at + len(token) > low:
                total += logprob
                touched = True
        return math.exp(total) if touched else None

    action, spans = value_spans(text)
    values = {name: p for name, span in spans.items() if (p := probability(span)) is not None}
    return FrameConfidence(probability(action), values)
