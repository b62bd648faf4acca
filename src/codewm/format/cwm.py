"""The CWM trace format, both directions: `Trace` <-> CWM token text.

Prompt:  <|begin_of_text|><|trace_context_start|>CONTEXT<|frame_sep|>
Frames:  <|call_sep|>LOCALS<|action_sep|>SOURCE<|frame_sep|>
         <|line_sep|>LOCALS<|action_sep|>SOURCE<|frame_sep|>
         <|return_sep|><|action_sep|>SOURCE<|arg_sep|>VALUE<|frame_sep|>
         <|exception_sep|><|action_sep|>SOURCE<|arg_sep|>VALUE<|frame_sep|>
End:     <|end_of_text|> once execution leaves the entry point (complete traces only).

LOCALS is a JSON object of JSON strings; VALUE is a JSON string. JSON is written with
Python's default separators (`", "`, `": "`) and non-ASCII characters kept as they are
(`ensure_ascii=False`); the parser accepts either spelling.

CONTEXT and SOURCE are written with `escape_special_tokens` (one backslash added to every
`<\\*|`), so that program text holding a special token cannot end the prompt or a frame;
the parser undoes it.

The `".."` rule (CWM left it open; codewm decides, and writer and reader share this code):
the *reference* of a `call` or `line` frame is the nearest earlier frame, skipping
`exception` frames (they carry no locals), provided it is a `call` or `line` frame; a
`return` frame in between (a change of scope) means there is no reference. A `call` frame
never has a reference (a new scope starts; CWM's demo stops its walk at a call). A local is
written as `".."` exactly when the reference has the same name with the same value.
Consequently full values are shown again after every nested call returns and at every
generator resume.

The writer also takes the tracer's raw steps directly (`format_steps`, `describe_steps`: the
dataset builder's path, run inside the sandbox through `DESCRIBE_STEPS`); the compiled
twin of that path is `_cformat.c`, which gives the same text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from codewm.types import Frame, Trace, action_lines, steps_complete

try:  # the compiled formatter (setup.py builds it); the Python code below gives the same text
    from codewm.format import _cformat
except ImportError:  # pragma: no cover - a build without a C compiler
    _cformat = None

BEGIN = "<|begin_of_text|>"
END = "<|end_of_text|>"
FRAME_SEP = "<|frame_sep|>"
ACTION_SEP = "<|action_sep|>"
RETURN_SEP = "<|return_sep|>"
CALL_SEP = "<|call_sep|>"
LINE_SEP = "<|line_sep|>"
EXCEPTION_SEP = "<|exception_sep|>"
ARG_SEP = "<|arg_sep|>"
CONTEXT_START = "<|trace_context_start|>"

# Token ids in the CWM tokenizer (reference: cwm-trace-format.md).
SPECIAL_TOKEN_IDS: dict[str, int] = {
    BEGIN: 128000,
    END: 128001,
    FRAME_SEP: 128100,
    ACTION_SEP: 128101,
    RETURN_SEP: 128102,
    CALL_SEP: 128103,
    LINE_SEP: 128104,
    EXCEPTION_SEP: 128105,
    ARG_SEP: 128106,
    CONTEXT_START: 128107,
}
SPECIAL_TOKENS: tuple[str, ...] = tuple(SPECIAL_TOKEN_IDS)

_KIND_TOKEN = {"call": CALL_SEP, "line": LINE_SEP, "return": RETURN_SEP, "exception": EXCEPTION_SEP}
_TOKEN_KIND = {token: kind for kind, token in _KIND_TOKEN.items()}
UNCHANGED = ".."

# Program text (the context, each action) may itself hold `<|...|>` tokens, e.g. in a string
# literal; a tokenizer would read them as the real tokens. Every `<`, backslashes, `|` run gets
# one more backslash when written and loses one when read, so written text never holds `<|`
# and reading gives back exactly the program text.
_ESCAPABLE = re.compile(r"<(\\*)\|")
_ESCAPED = re.compile(r"<\\(\\*)\|")


def escape_special_tokens(text: str) -> str:
    """`text` with `<` + k backslashes + `|` written as `<` + (k + 1) backslashes + `|`
    (k >= 0): no `<|` remains. `unescape_special_tokens` is its exact inverse."""
    return _ESCAPABLE.sub(r"<\\\1|", text) if "|" in text and "<" in text else text


def unescape_special_tokens(text: str) -> str:
    """The program text `escape_special_tokens` wrote as `text`."""
    return _ESCAPED.sub(r"<\1|", text) if "<\\" in text else text


def reference_index(frames: list[Frame], index: int) -> int | None:
    """The index of the frame whose locals `frames[index]`'s `".."` refer to, or None."""
    if frames[index].event == "call":
        return None
    for j in range(index - 1, -1, -1):
        event = frames[j].event
        if event == "exception":
            continue
        if event == "return":
            return None
        return j
    return None


# -- writing ----------------------------------------------------------------------------------
def format_prompt(context: str) -> str:
    """What a model is given: the context, ending with the start-of-trace `<|frame_sep|>`."""
    return f"{BEGIN}{CONTEXT_START}{escape_special_tokens(context)}{FRAME_SEP}"


# The C encoder behind json.dumps(text, ensure_ascii=False): same output, no per-call setup.
_encode = json.encoder.encode_basestring


def json_string(text: str) -> str:
    """A JSON string, with `<|` written as `<\\u007c` so that no special token can appear
    inside a value (a tokenizer would read it as the token). JSON readers decode it back."""
    out = _encode(text)
    return out.replace("<|", "<\\u007c") if "<|" in out else out


def format_locals(current: dict[str, str], reference: dict[str, str] | None) -> str:
    """One LOCALS object, with `".."` for values equal to the reference's."""
    if UNCHANGED in current.values():
        name = next(name for name, value in current.items() if value == UNCHANGED)
        raise ValueError(f"the value of {name!r} is the reserved text '..'; the renderer writes such a value as \"<repr '..'>\"")
    if not current:
        return "{}"
    if reference is None:
        return "{" + ", ".join([f"{json_string(name)}: {json_string(value)}" for name, value in current.items()]) + "}"
    get = reference.get
    return "{" + ", ".join(
        [f"{json_string(name)}: \"..\"" if get(name) == value else f"{json_string(name)}: {json_string(value)}" for name, value in current.items()]
    ) + "}"


def format_frame(frame: Frame, reference: Frame | None) -> str:
    """One frame, `<|..._sep|>` through its closing `<|frame_sep|>`."""
    token = _KIND_TOKEN[frame.event]
    if frame.locals is not None:
        ref_locals = reference.locals if reference is not None else None
        return f"{token}{format_locals(frame.locals, ref_locals)}{ACTION_SEP}{escape_special_tokens(frame.source)}{FRAME_SEP}"
    return f"{token}{ACTION_SEP}{escape_special_tokens(frame.source)}{ARG_SEP}{json_string(frame.value or '')}{FRAME_SEP}"


def format_frames(frames: list[Frame], complete: bool = True) -> str:
    """The trace text that follows the prompt (the model's part of the sequence)."""
    out = []
    reference: Frame | None = None  # reference_index(), computed in one pass
    for frame in frames:
        event = frame.event
        if event == "call":
            out.append(format_frame(frame, None))
            reference = frame
        elif event == "line":
            out.append(format_frame(frame, reference))
            reference = frame
        else:
            out.append(format_frame(frame, None))
            if event == "return":
                reference = None
    if complete:
        out.append(END)
    return "".join(out)


def format_steps(steps: list, context: str, complete: bool = True) -> str:
    """The trace text of raw tracer steps, without building `Frame` objects first.

    Identical to `format_frames(steps_to_frames(steps, context), complete)`; this is the path
    a dataset writer takes. Uses the compiled formatter where it was built.
    """
    if _cformat is not None:
        # An ASCII context with nothing to escape (nearly all): the compiled formatter reads
        # the actions off it, as action_lines would make them. Else it writes the actions it
        # is given as they are: give it the escaped ones (one search of the whole context: a
        # match never spans lines).
        if context.isascii() and not _ESCAPABLE.search(context):
            return _cformat.format_steps(steps, context, complete, _encode)
        lines = action_lines(context)
        escaped_lines = [escape_special_tokens(line) for line in lines] if _ESCAPABLE.search(context) else lines
        return _cformat.format_steps(steps, escaped_lines, complete, _encode)
    lines = action_lines(context)
    frames = [
        Frame(event, lines[lineno - 1] if 0 < lineno <= len(lines) else "", depth, local_values, value)
        for event, lineno, depth, local_values, value, *_ in steps
    ]
    return format_frames(frames, complete)


def describe_steps(steps: list, context: str, status: str) -> dict:
    """What a dataset record keeps of a run, straight from its raw steps (no `Frame`s):
    the CWM text (prompt and trace), completeness, frame count, each frame's line number
    (which the text does not carry) and the longest rendered value."""
    complete = steps_complete(steps, status)
    return {
        "text": format_prompt(context) + format_steps(steps, context, complete),
        "complete": complete,
        "n_frames": len(steps),
        "linenos": [step[1] for step in steps],
        "max_value_chars": longest_value(steps),
    }


def longest_value(steps: list) -> int:
    """The length of the longest rendered value in raw steps."""
    if _cformat is not None:
        return _cformat.longest_value(steps)
    longest = 0
    for step in steps:
        local_values, value = step[3], step[4]
        if local_values:
            longest = max(longest, max(map(len, local_values.values())))
        if value is not None and len(value) > longest:
            longest = len(value)
    return longest


class StepsDescriber:
    """`describe_steps` as a formatter for the sandbox (`Sandbox.run_batch(...,
    formatter=DESCRIBE_STEPS)`): the child that traced a run describes it where its steps
    are, and only the text and a few numbers travel back, which is what a dataset build needs
    and much cheaper than sending the steps and building frames."""

    _FIELDS = {"text": str, "complete": bool, "n_frames": int, "linenos": list, "max_value_chars": int}
    # Runs whose text may become training text get read back with the parser here, in the
    # sandbox's processes (in parallel, where the text is), not in the build's one driver.
    READ_BACK_STATUSES = ("ok", "exception")

    def format(self, steps: list, context: str, status: str) -> dict:
        described = describe_steps(steps, context, status)
        if status in self.READ_BACK_STATUSES:
            described["unreadable"] = read_back_problem(described["text"], described["n_frames"])
        return described

    def well_formed(self, described) -> bool:
        """Whether a description (from a child whose program could have tampered with it) has
        the fields and types `describe_steps` gives."""
        return (
            isinstance(described, dict)
            and all(type(described.get(key)) is kind for key, kind in self._FIELDS.items())
            and all(type(n) is int for n in described["linenos"])
            and len(described["linenos"]) == described["n_frames"]
            and (described.get("unreadable") is None or type(described["unreadable"]) is str)
        )


STEPS_DESCRIBER = StepsDescriber()
# The import string the sandbox resolves in its worker (the sandbox never imports format/).
DESCRIBE_STEPS = "codewm.format.cwm:STEPS_DESCRIBER"


def read_back_problem(text: str, n_frames: int) -> str | None:
    """Why a trace text does not read back with `parse_trace`, as a short category that a
    dataset build counts, or None when it reads back whole: `parse` (the parser stops before
    the end) or `frames` (it reads another number of frames than were written)."""
    parsed = parse_trace(text)
    if not parsed.ok:
        return "parse"
    if len(parsed.trace.frames) != n_frames:
        return "frames"
    return None


def format_trace(trace: Trace) -> str:
    """The whole sequence: prompt, then frames, then `<|end_of_text|>` if complete."""
    return format_prompt(trace.context) + format_frames(trace.frames, trace.complete)


# -- reading ------------------------------------------------------------------------------------
@dataclass(slots=True)
class ParseResult:
    """What `parse_trace` could read, and why it stopped if it did not read everything.

    `error` is None when the whole text was a well-formed trace (complete or cut off cleanly
    at a frame boundary); otherwise it says what was wrong and `position` is the character
    offset in the text where the first unreadable part starts.
    """

    trace: Trace
    error: str | None = None
    position: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _Stop(Exception):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def parse_trace(text: str, context: str | None = None) -> ParseResult:
    """Parse CWM text into a `Trace`. Never raises, whatever `text` is.

    `text` may be a whole sequence (starting with the prompt) or only the frames that follow
    a prompt, in which case pass the `context` the prompt held. Frames are read until the
    first problem; the result holds every frame read before it and a precise reason.
    """
    try:
        return _parse(text, context)
    except Exception as exc:  # pragma: no cover - a bug in the parser must not reach callers
        return ParseResult(Trace(context or "", [], complete=False), f"internal parser error: {exc!r}", 0)


def _parse(text: str, context: str | None) -> ParseResult:
    if not isinstance(text, str):
        return ParseResult(Trace(context or "", [], complete=False), f"expected a str, got {type(text).__name__}", 0)
    pos = 0
    if text.startswith(BEGIN):
        pos = len(BEGIN)
    if text.startswith(CONTEXT_START, pos):
        start = pos + len(CONTEXT_START)
        end = text.find(FRAME_SEP, start)
        if end < 0:
            ctx = context if context is not None else text[start:]
            return ParseResult(Trace(ctx, [], complete=False), "the context is not closed by <|frame_sep|>", start)
        if context is None:
            context = unescape_special_tokens(text[start:end])
        pos = end + len(FRAME_SEP)
    elif pos:
        return ParseResult(Trace(context or "", [], complete=False), "<|begin_of_text|> is not followed by <|trace_context_start|>", pos)
    elif text.startswith(FRAME_SEP):
        pos = len(FRAME_SEP)  # frames given with the prompt's closing separator
    trace = Trace(context or "", [], complete=False)
    line_numbers = _line_numbers(trace.context)
    frames = trace.frames
    depth = 0
    try:
        while pos < len(text):
            if text.startswith(END, pos):
                if depth != 0:
                    raise _Stop(f"<|end_of_text|> while {depth} scope(s) are still open", pos)
                if not frames:
                    raise _Stop("<|end_of_text|> before any frame", pos)
                trace.complete = True
                pos += len(END)
                if pos != len(text):
                    raise _Stop("text after <|end_of_text|>", pos)
                break
            frame, pos, depth = _read_frame(text, pos, frames, depth)
            frame.lineno = line_numbers.get(frame.source, 0)
            frames.append(frame)
    except _Stop as stop:
        trace.complete = False
        return ParseResult(trace, stop.message, stop.position)
    except Exception as exc:  # pragma: no cover - a parser bug still keeps the frames read
        trace.complete = False
        return ParseResult(trace, f"internal parser error: {exc!r}", pos)
    return ParseResult(trace)


class FrameReader:
    """Reads a trace's frames piece by piece, as a decoder appends them, with the same rules
    and messages as `parse_trace`: each `feed` reads only the new text, so reading a trace
    frame by frame costs what one `parse_trace` of the whole text costs.

    `feed(text)` takes whole frames (each through its `<|frame_sep|>`; no `<|end_of_text|>`)
    and returns None, or the reason the text does not read (after which the reader holds the
    frames read before it and must not be fed again).
    """

    def __init__(self, context: str) -> None:
        self.trace = Trace(context, [], complete=False)
        self.depth = 0  # scopes open after the frames read so far
        self._line_numbers = _line_numbers(context)

    def feed(self, text: str) -> str | None:
        frames = self.trace.frames
        pos = 0
        try:
            while pos < len(text):
                frame, pos, self.depth = _read_frame(text, pos, frames, self.depth)
                frame.lineno = self._line_numbers.get(frame.source, 0)
                frames.append(frame)
        except _Stop as stop:
            return stop.message
        except Exception as exc:  # pragma: no cover - a parser bug still keeps the frames read
            return f"internal parser error: {exc!r}"
        return None


def _read_frame(text: str, pos: int, frames: list[Frame], depth: int) -> tuple[Frame, int, int]:
    frame_start = pos
    kind = None
    for token, name in _TOKEN_KIND.items():
        if text.startswith(token, pos):
            kind = name
            pos += len(token)
            break
    if kind is None:
        snippet = text[pos : pos + 30]
        if FRAME_SEP.startswith(snippet) or any(t.startswith(snippet) for t in _TOKEN_KIND):
            raise _Stop("the text ends inside a frame's step token", pos)
        raise _Stop(f"expected a step token (<|call_sep|>, <|line_sep|>, <|return_sep|>, <|exception_sep|>), found {snippet!r}", pos)
    if kind == "call" and depth == 0 and frames:
        raise _Stop("a call frame after the entry point returned (only <|end_of_text|> may follow)", frame_start)
    if kind != "call" and depth == 0:
        raise _Stop(f"a {kind} frame outside any scope (no call frame opened one)", frame_start)
    end = _expect_frame_end(text, pos, kind)
    if kind in ("call", "line"):
        action = text.find(ACTION_SEP, pos, end)
        if action < 0:
            raise _Stop(f"{kind} frame: no <|action_sep|> between the locals and the frame's end", pos)
        local_values = _read_locals(text[pos:action], kind, frames, pos)
        source = unescape_special_tokens(text[action + len(ACTION_SEP) : end])
        frame = Frame(kind, source, depth if kind == "call" else depth - 1, local_values, None)
        return frame, end + len(FRAME_SEP), depth + 1 if kind == "call" else depth
    if not text.startswith(ACTION_SEP, pos):
        raise _Stop(f"{kind} frame: expected <|action_sep|> right after the step token", pos)
    pos += len(ACTION_SEP)
    arg = text.find(ARG_SEP, pos, end)
    if arg < 0:
        raise _Stop(f"{kind} frame: no <|arg_sep|> before the frame ends", pos)
    source = unescape_special_tokens(text[pos:arg])
    raw_value = text[arg + len(ARG_SEP) : end]
    value = _load_json(raw_value, f"{kind} frame: the value is", arg + len(ARG_SEP))
    if not isinstance(value, str):
        raise _Stop(f"{kind} frame: the value must be a JSON string, got {type(value).__name__}", arg + len(ARG_SEP))
    frame = Frame(kind, source, depth - 1, None, value)
    return frame, end + len(FRAME_SEP), depth - 1 if kind == "return" else depth


def _expect_frame_end(text: str, pos: int, kind: str) -> int:
    end = text.find(FRAME_SEP, pos)
    if end < 0:
        raise _Stop(f"{kind} frame: the text ends before the frame's <|frame_sep|>", pos)
    for token in SPECIAL_TOKENS:
        if token not in (FRAME_SEP, ARG_SEP, ACTION_SEP):
            inner = text.find(token, pos, end)
            if inner >= 0:
                raise _Stop(f"{kind} frame: unexpected {token} inside the frame", inner)
    return end


def _read_locals(raw: str, kind: str, frames: list[Frame], pos: int) -> dict[str, str]:
    data = _load_json(raw, f"{kind} frame: the locals are", pos)
    if not isinstance(data, dict):
        raise _Stop(f"{kind} frame: the locals must be a JSON object, got {type(data).__name__}", pos)
    needs_reference = any(v == UNCHANGED for v in data.values())
    reference: dict[str, str] | None = None
    if needs_reference and kind != "call":
        reference = _reference_locals(frames)
    resolved: dict[str, str] = {}
    for name, value in data.items():
        if not isinstance(value, str):
            raise _Stop(f"{kind} frame: the value of {name!r} must be a JSON string, got {type(value).__name__}", pos)
        if value == UNCHANGED:
            if reference is None:
                raise _Stop(f"{kind} frame: {name!r} is '..' but there is no earlier observation in this scope to refer to", pos)
            if name not in reference:
                raise _Stop(f"{kind} frame: {name!r} is '..' but the earlier observation has no {name!r}", pos)
            value = reference[name]
        resolved[name] = value
    return resolved


def _load_json(raw: str, what: str, pos: int):
    """`json.loads(raw)`, or a `_Stop` at `pos` that starts with `what` (e.g. "the locals
    are") for any text it cannot decode:
    malformed JSON, nesting deeper than the decoder's recursion allows, an integer longer
    than Python converts (`sys.set_int_max_str_digits`)."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _Stop(f"{what} not valid JSON ({exc.msg} at column {exc.colno})", pos) from None
    except RecursionError:
        raise _Stop(f"{what} not readable JSON (nested too deeply)", pos) from None
    except ValueError as exc:  # e.g. an integer literal of more digits than Python converts
        raise _Stop(f"{what} not readable JSON ({exc})", pos) from None


def _reference_locals(frames: list[Frame]) -> dict[str, str] | None:
    """The locals a `line` frame appended after `frames` refers to (`reference_index`'s rule).

    Walks back over trailing `exception` frames only, without copying `frames`: each
    exception frame is passed by at most one later frame's walk, so reading a trace stays
    linear in its length."""
    for j in range(len(frames) - 1, -1, -1):
        event = frames[j].event
        if event == "exception":
            continue
        return None if event == "return" else frames[j].locals
    return None


def _line_numbers(context: str) -> dict[str, int]:
    """Source line text -> its line number in the context, 0 where the text is ambiguous."""
    numbers: dict[str, int] = {}
    for number, line in enumerate(action_lines(context), start=1):
        numbers[line] = 0 if line in numbers else number
    return numbers
