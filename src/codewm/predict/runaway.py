"""Runaway values: a small model that falls into a loop inside a value (`{10, 10, 10, 10, ...`)
writes the same few tokens until the frame's token budget runs out, and the whole trace stops
there (`frame_too_long`). Structure-aware decoding watches each value as it is written; once
it ends in one block of tokens repeated many times, the value is cut after the block's first
occurrence and closed as the Python literal it was becoming (open strings and brackets closed
in order), so the trace goes on with a wrong value instead of ending.

The thresholds are set so that values the tracer writes rarely trip them: a block of at most
`MAX_PERIOD` tokens repeated at least `MIN_REPEATS` times and over at least `MIN_TOKENS`
tokens (a list of eight equal numbers is left alone; thirty-two equal characters are not).
"""

from __future__ import annotations

import ast
import json
from typing import Sequence

MAX_PERIOD = 12  # tokens in the repeated block, at most
MIN_REPEATS = 8  # times the block repeats at the end of the value, at least
MIN_TOKENS = 32  # tokens the repetition covers, at least

_CLOSERS = {"(": ")", "[": "]", "{": "}"}


def repeating_tail(tokens: Sequence[int]) -> tuple[int, int] | None:
    """(period, start) when `tokens` ends in a block of `period` tokens repeated at least
    MIN_REPEATS times over at least MIN_TOKENS tokens; `start` is where the repetition begins
    (the first occurrence of the block). None otherwise."""
    n = len(tokens)
    for period in range(1, MAX_PERIOD + 1):
        span = max(MIN_REPEATS * period, MIN_TOKENS)
        if n < span:
            break  # longer periods need at least as many tokens
        if all(tokens[i] == tokens[i - period] for i in range(n - span + period, n)):
            start = n - span
            while start > 0 and tokens[start - 1] == tokens[start - 1 + period]:
                start -= 1
            return period, start
    return None


def close_literal(text: str) -> str:
    """`text`, the beginning of a Python literal, closed: trailing separators dropped, an open
    string closed with its quote, open brackets closed innermost first."""
    stack: list[str] = []
    quote = ""  # the open string's quote character, if any
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1  # the escaped character cannot close the string
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in _CLOSERS:
            stack.append(_CLOSERS[ch])
        elif ch in ")]}" and stack and stack[-1] == ch:
            stack.pop()
        i += 1
    if quote:
        closers = quote + "".join(reversed(stack))
        # the cut may fall inside an escape (`\\`, `\\x1`, `\\u00`): drop the escape's start
        backslash = text.rfind("\\")
        if backslash >= 0 and not _parses(text + closers):
            text = text[:backslash]
        return text + closers
    closers = "".join(reversed(stack))
    text = text.rstrip()
    while text.endswith((",", ":")):
        text = text[:-1].rstrip()
    # a number cut in the middle (`-`, `1e`, `1e+`): drop its last characters
    for _ in range(3):
        if _parses(text + closers) or not text or text[-1] in "([{":
            break
        text = text[:-1].rstrip().rstrip(",:").rstrip()
    return text + closers


def _parses(text: str) -> bool:
    try:
        ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        return False
    return True


def cut_runaway(json_text: str, encode) -> str | None:
    """The value to write instead of `json_text` (the JSON text of the value so far, from its
    lead to where the repetition's first block ends), closed; None if it cannot be read.
    `encode`: the JSON string encoder of the trace format (`codewm.format.cwm.json_string`)."""
    lead_end = json_text.find('"')
    if lead_end < 0:
        return None
    body = json_text[lead_end + 1 :]
    for trim in range(0, 6):  # a cut can fall inside an escape (`\`, `\u00`): drop its start
        try:
            python_text = json.loads('"' + body[: len(body) - trim] + '"')
            break
        except ValueError:
            continue
    else:
        return None
    closed = close_literal(python_text)
    if not closed.strip():
        return None  # nothing of a value before the loop (`"   ...`): no literal to close
    return json_text[:lead_end] + encode(closed)
