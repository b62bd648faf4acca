"""Which part of a frame each character of a CWM sequence is: what the probe scores by.

    layout = TextLayout(text)             # text: a whole CWM sequence
    layout.token_part(start, end)         # the part code of the token text[start:end]
    part_of_characters(text)              # ["event", "action", ..., None in the prompt]

The parts (`PARTS`) are the event (step token, and the final `<|end_of_text|>`), the action,
LOCALS keys, changed and unchanged values, return values and punctuation; `other` is text
out of the frame grammar (a cut or garbled text). The probe (`codewm.model.probe`) says for
each part how often a model's next-token guess is right.

Which part a token belongs to: the part of its first character, with one exception. A
byte-level BPE tokenizer glues JSON punctuation to the quote that follows it (codewm's
tokenizers write `{"`, ` "'` and ` ".."}` as one token each), so under the plain
first-character rule every value's opening quote and every `".."` marker would count as
punctuation and `unchanged_values` would stay empty. So a token that starts with JSON
punctuation belongs to the first key or value it reaches; only a token of punctuation alone
counts as `punctuation`. A token that starts in a key or value and runs on into punctuation
(`'",`) belongs to that key or value. The step tokens and separators are special tokens, so
the parts they delimit (action, return value) never share a token with anything else.
"""

from __future__ import annotations

import ast
import json
import re

from codewm.format.cwm import (
    ACTION_SEP,
    ARG_SEP,
    BEGIN,
    CALL_SEP,
    CONTEXT_START,
    END,
    EXCEPTION_SEP,
    FRAME_SEP,
    LINE_SEP,
    RETURN_SEP,
)

PARTS = ("event", "action", "keys", "changed_values", "unchanged_values", "return_values", "punctuation")
OTHER = "other"  # text that does not follow the frame grammar (a cut or garbled text); reported only when present
ALL_PARTS = PARTS + (OTHER,)  # a part's code is its index here
_EVENT, _ACTION, _KEY, _CHANGED, _UNCHANGED, _RETURN, _PUNCT, _OTHER = range(len(ALL_PARTS))
_NONE = -1  # the prompt: not scored
_KINDS = ((CALL_SEP, "call"), (LINE_SEP, "line"), (RETURN_SEP, "return"), (EXCEPTION_SEP, "exception"))
_JSON_PUNCT = set("{}:, \t\r\n")


class TextLayout:
    """What each character of a CWM sequence is.

    `parts[i]`: the part code of character i (`_NONE` in the prompt); `frames[i]`: the index
    of the frame it is in (-1 in the prompt and for `<|end_of_text|>`); `units[i]`: the index
    of the value or action it is in (-1 elsewhere), with `unit_kinds[u]` one of "call_value",
    "value", "action", "return_value" and `unit_frames[u]` its frame. `unit_literal[u]` says
    whether a call frame's value is a copy of a literal argument of the calling line (the
    action of the line frame before the call: `f('UppEr', 0)` gives `'UppEr'` and `0`; an
    argument the program computes, as in `f(n - 1)`, is not). `unit_decision[u]` says whether
    an action is the outcome of a control-flow decision: a line frame right after a line frame
    of the same call whose line is a `for`, `while`, `if` or `elif` header, so that its line is
    where the loop goes on or exits, or which branch runs; `unit_enters[u]` whether such a
    line is indented deeper than its header (the body runs: the guess "always enter" makes,
    the baseline a model's decisions are read against). `prompt_end` is the
    offset right after the prompt's `<|frame_sep|>`; `frame_kinds` the event of each frame;
    `has_end` whether the text ends with `<|end_of_text|>`.
    """

    def __init__(self, text: str) -> None:
        n = len(text)
        self.text = text
        self.parts = [_NONE] * n
        self.frames = [-1] * n
        self.units = [-1] * n
        self.unit_kinds: list[str] = []
        self.unit_frames: list[int] = []
        self.unit_literal: list[bool] = []
        self.unit_decision: list[bool] = []
        self.unit_enters: list[bool] = []
        self.frame_kinds: list[str] = []
        self._current_lines: list[str] = []  # per active function, its last line frame's action (a call comes from the top one)
        self.has_end = False
        pos = text.startswith(BEGIN) and len(BEGIN) or 0
        if not text.startswith(CONTEXT_START, pos):
            raise ValueError("not a CWM sequence: it does not start with <|begin_of_text|><|trace_context_start|>")
        end = text.find(FRAME_SEP, pos)
        if end < 0:
            raise ValueError("not a CWM sequence: the prompt is not closed by <|frame_sep|>")
        self.prompt_end = pos = end + len(FRAME_SEP)
        while pos < n:
            if text.startswith(END, pos):
                self._mark(pos, pos + len(END), _EVENT)
                pos += len(END)
                self.has_end = pos == n
                if pos < n:
                    self._mark(pos, n, _OTHER)
                break
            pos = self._frame(pos)

    # -- building -----------------------------------------------------------------------------
    def _mark(self, start: int, end: int, part: int, frame: int = -1, unit: int = -1) -> None:
        if end > start:
            self.parts[start:end] = [part] * (end - start)
            if frame >= 0:
                self.frames[start:end] = [frame] * (end - start)
            if unit >= 0:
                self.units[start:end] = [unit] * (end - start)

    def _unit(self, kind: str, frame: int, literal: bool = False, decision: bool = False, enters: bool = False) -> int:
        self.unit_kinds.append(kind)
        self.unit_frames.append(frame)
        self.unit_literal.append(literal)
        self.unit_decision.append(decision)
        self.unit_enters.append(enters)
        return len(self.unit_kinds) - 1

    def _frame(self, pos: int) -> int:
        text, n = self.text, len(self.text)
        frame = len(self.frame_kinds)
        for token, kind in _KINDS:
            if text.startswith(token, pos):
                break
        else:  # not a frame: the rest of the text is out of the grammar
            self.frame_kinds.append("other")
            self._mark(pos, n, _OTHER, frame)
            return n
        self.frame_kinds.append(kind)
        self._mark(pos, pos + len(token), _EVENT, frame)
        pos += len(token)
        stop = text.find(FRAME_SEP, pos)
        stop = n if stop < 0 else stop
        if kind in ("call", "line"):
            action = text.find(ACTION_SEP, pos, stop)
            if action < 0:
                self._mark(pos, stop, _OTHER, frame)
            else:
                literals = frozenset()
                if kind == "call":
                    literals = literal_arguments(self._current_lines[-1]) if self._current_lines else frozenset()
                    self._current_lines.append("")
                self._locals(pos, action, frame, kind, literals)
                self._mark(action, action + len(ACTION_SEP), _PUNCT, frame)
                start = action + len(ACTION_SEP)
                decision = kind == "line" and bool(self._current_lines) and is_decision_line(self._current_lines[-1])
                enters = decision and _indent(text[start:stop]) > _indent(self._current_lines[-1])
                self._mark(start, stop, _ACTION, frame, self._unit("action", frame, decision=decision, enters=enters))
                if kind == "line" and self._current_lines:
                    self._current_lines[-1] = text[start:stop]
        else:
            if kind == "return" and self._current_lines:
                self._current_lines.pop()
            if not text.startswith(ACTION_SEP, pos):
                self._mark(pos, stop, _OTHER, frame)
            else:
                self._mark(pos, pos + len(ACTION_SEP), _PUNCT, frame)
                start = pos + len(ACTION_SEP)
                arg = text.find(ARG_SEP, start, stop)
                source_end = stop if arg < 0 else arg
                self._mark(start, source_end, _ACTION, frame, self._unit("action", frame))
                if arg >= 0:
                    self._mark(arg, arg + len(ARG_SEP), _PUNCT, frame)
                    value = arg + len(ARG_SEP)
                    self._mark(value, stop, _RETURN, frame, self._unit("return_value", frame))
        if stop < n:
            self._mark(stop, stop + len(FRAME_SEP), _PUNCT, frame)
            return stop + len(FRAME_SEP)
        return n

    def _locals(self, start: int, end: int, frame: int, kind: str, literals: frozenset = frozenset()) -> None:
        """LOCALS between `start` and `end`: a JSON object, scanned for its keys and values."""
        text = self.text
        decoder = json.JSONDecoder()
        expect = "open"
        i = start
        try:
            while i < end:
                c = text[i]
                if c in _JSON_PUNCT:
                    if expect == "open" and c == "{":
                        expect = "key"
                    elif c == ":" and expect == "colon":
                        expect = "value"
                    elif c == "," and expect == "comma":
                        expect = "key"
                    elif c == "}" and expect in ("comma", "key"):
                        expect = "done"
                    elif not c.isspace():
                        raise ValueError(f"unexpected {c!r}")
                    self._mark(i, i + 1, _PUNCT, frame)
                    i += 1
                elif expect == "key":
                    _, after = decoder.raw_decode(text, i)
                    after = min(after, end)
                    self._mark(i, after, _KEY, frame)
                    expect, i = "colon", after
                elif expect == "value":
                    value, after = decoder.raw_decode(text, i)
                    after = min(after, end)
                    if text[i:after] == '".."':
                        self._mark(i, after, _UNCHANGED, frame)
                    elif kind == "call":
                        unit = self._unit("call_value", frame, literal=isinstance(value, str) and value in literals)
                        self._mark(i, after, _CHANGED, frame, unit)
                    else:
                        unit = self._unit("value", frame)
                        self._mark(i, after, _CHANGED, frame, unit)
                    expect, i = "comma", after
                else:
                    raise ValueError(f"unexpected {c!r}")
        except ValueError:
            self._mark(i, end, _OTHER, frame)

    # -- reading ------------------------------------------------------------------------------
    def token_part(self, start: int, end: int) -> int:
        """The part of a token covering characters [start, end) (see the module docstring)."""
        parts = self.parts
        first = parts[start]
        if first != _PUNCT or start >= len(self.frames) or self.frames[start] < 0:
            return first
        for i in range(start + 1, min(end, len(parts))):
            part = parts[i]
            if part in (_KEY, _CHANGED, _UNCHANGED):
                return part
            if part != _PUNCT:
                break
        return first


_DECISION = re.compile(r"\s*(?:(?:el)?if|while|(?:async\s+)?for)\b")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def is_decision_line(line: str) -> bool:
    """Whether a source line is a header whose next line depends on a decision: a `for` or
    `while` loop (go on or exit) or an `if`/`elif` (which branch)."""
    return bool(_DECISION.match(line))


def literal_arguments(line: str) -> frozenset[str]:
    """The reprs of the literal arguments of the calls on one source line (`return f('a', 0)`
    gives {"'a'", "0"}; `f(n - 1)` gives none): what a call frame's values copy.

    The line is parsed alone, so a compound statement's header gets a body first (`if f(2):`,
    `elif`, `while`, `for`, `with`); a line that still does not parse has none."""
    source = line.strip()
    if not source:
        return frozenset()
    if source.startswith("elif "):
        source = source[2:]
    if source.endswith(":"):
        source += " pass"
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return frozenset()
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
                try:
                    found.add(repr(ast.literal_eval(argument)))
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    continue
    return frozenset(found)


def part_of_characters(text: str) -> list[str | None]:
    """The part of every character of a CWM sequence (None in the prompt): what the probe's
    token classification starts from."""
    layout = TextLayout(text)
    return [None if code == _NONE else ALL_PARTS[code] for code in layout.parts]
