"""Structure-aware decoding: one trace frame written by a local Hugging Face model, with the
parts the program decides taken from the program and only the values left to the model.

Free decoding lets the model write the whole frame text; a small model then invents source
lines and variables. Here the frame is built part by part, in the order of its text, each part
chosen by the model's own probabilities among what the trace can say
(`codewm.predict.successors` works out what it can say from the program and the frames so far):

- **event**: the most probable, at the frame's start, of the tokens `<|call_sep|>`,
  `<|line_sep|>`, `<|return_sep|>`, `<|exception_sep|>` and `<|end_of_text|>` (the model ends
  the trace) that the trace allows there (`Tracker.events`: the first frame is a call, only
  the end after the entry point returned, a line only where the current line has a
  successor, a call where it can call, a return where it can return).
  `FrameRequest.prefix` (one event token) fixes the event.
- **keys** of a call or line frame: at each position the model chooses, by the total
  log-probability of the text, between closing the object (`}`, with the `<|action_sep|>`
  that follows) and each name that may come next: for a call, the parameters of a function
  of the program (then its free variables), in `frame.f_locals` order (`.0` for a
  comprehension); for a resumed generator, any of its names; for a line, the keys the scope
  showed last, in their order (a deleted name may be left out), then new names in the order
  Python lists locals (`co_varnames`, cells, free variables), any order in a class body or a
  module (see `successors.KeyRule`).
- **values**: written by the model, greedily, from the opening quote to the closing one; a
  token is allowed only if the text stays a JSON string (no raw control character, valid
  escapes, no special token, no `<|`), and `".."` only where the format allows it (a line
  frame whose reference has the name). Where the model's most probable token inside the
  string is one no JSON string holds (a special token such as `<|action_sep|>`, or a raw
  newline: the model means the value to end there) the string is closed instead. A value
  that falls into a loop (one short block of tokens repeated many times) is cut after the
  block's first occurrence and closed as a Python literal (`codewm.predict.runaway`); one
  that still does not close within the frame's token budget ends the frame as free decoding
  does (STEP_LENGTH, the text written so far).
- **action**: the source line (trailing newline included, as the trace writes it), with the
  `<|frame_sep|>` (or `<|arg_sep|>`) that follows, chosen by total log-probability among:
  for a line frame, the control-flow successors of the scope's current line; for a call, the
  call lines (`def`, first decorator, lambda, comprehension, class, `yield` lines for a
  resumed generator) of the functions whose parameters are the keys written; for a return or
  an exception, the scope's current line (every line of the function right after its call
  frame, as when the debugger steps over a call).
- **return / exception value**: like a value, after `<|arg_sep|>`.

Every choice compares whole texts, each tokenized as the model's tokenizer would tokenize
the frame (so that a merged token such as `'",` or `"}` is scored as the model saw it in
training): the frame's text with each candidate is re-tokenized, the longest token prefix
shared with what is already in the KV cache is kept, and the rest of all candidates is scored
in one forward pass over a token tree (the shared part once, then each candidate's tokens,
with a 4-D attention mask; `scoring="tree"`), after which the cache keeps the winner only.
`scoring="sequential"` scores one candidate at a time and `"batch"` expands the cache to one
row per candidate (both for models whose attention takes no 4-D mask, and for comparison;
on 2 CPU cores the tree was the fastest, see bench/predict.py). Closing the LOCALS object and
the action are scored in the same pass and decided in text order: the object closes when
`}<|action_sep|>` is more probable than each next key, and the action is then the most
probable of its candidates.
The KV cache of each program is kept between its frames (one per program, up to the model's
`batch_size` programs), so a frame costs a forward pass per choice and per value token.

Per-token log-probabilities (`FrameRequest.logprobs`) are those of the tokens that make up the
frame's final text, each under the model given everything before it: the debugger's
confidence reads them as it reads free decoding's.

Requests this decoder cannot serve (a context that does not compile, a prefix other than one
event token) are answered by free decoding (`ModelPredictor` does it).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Sequence

from codewm.format.cwm import (
    ACTION_SEP,
    ARG_SEP,
    CALL_SEP,
    END,
    EXCEPTION_SEP,
    FRAME_SEP,
    LINE_SEP,
    RETURN_SEP,
    FrameReader,
    escape_special_tokens,
    format_prompt,
    json_string,
)
from codewm.predict.base import STEP_END, STEP_FRAME, STEP_LENGTH, FrameRequest, FrameStep
from codewm.predict.kv_cache import CachedScorer, Slot, common_prefix
from codewm.predict.runaway import cut_runaway, repeating_tail
from codewm.predict.successors import ProgramInfo, Tracker

EVENT_TOKENS = {"call": CALL_SEP, "line": LINE_SEP, "return": RETURN_SEP, "exception": EXCEPTION_SEP, "end": END}
_PREFIX_EVENTS = {CALL_SEP: "call", LINE_SEP: "line", RETURN_SEP: "return", EXCEPTION_SEP: "exception"}
SCORING = ("tree", "sequential", "batch")

# The states of a JSON string being written (lead: the text before the opening quote).
LEAD_SPACE, LEAD_QUOTE, STR, STR_LT, ESC, U4, U3, U2, U1, CLOSED, INVALID = range(11)
_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPES = frozenset('"\\/bfnrt')


def advance(state: int, text: str) -> tuple[int, int]:
    """The state of a JSON string after `text`, and the index just past its closing quote
    (-1 while it is open). INVALID: the text cannot be part of such a string."""
    for i, ch in enumerate(text):
        if state == STR or state == STR_LT:
            if ch == '"':
                return CLOSED, i + 1
            if ch == "\\":
                state = ESC
            elif ch < " ":
                return INVALID, -1
            elif ch == "|" and state == STR_LT:  # `<|` would read as a special token
                return INVALID, -1
            else:
                state = STR_LT if ch == "<" else STR
        elif state == LEAD_SPACE:
            if ch != " ":
                return INVALID, -1
            state = LEAD_QUOTE
        elif state == LEAD_QUOTE:
            if ch != '"':
                return INVALID, -1
            state = STR
        elif state == ESC:
            if ch in _ESCAPES:
                state = STR
            elif ch == "u":
                state = U4
            else:
                return INVALID, -1
        elif U4 <= state <= U1:
            if ch not in _HEX:
                return INVALID, -1
            state = STR if state == U1 else state + 1
        else:
            return state, -1
    return state, -1


class StructuredUnavailable(ValueError):
    """The model cannot be decoded structure-aware (its tokenizer lacks the trace tokens)."""


@dataclass
class _Frame:
    """The frame being written: its text so far, where its tokens start, their logprobs."""

    base: int  # tokens of the prompt (context and earlier frames)
    given: int  # tokens of the request's prefix
    text: str = ""
    logprobs: list[float] = field(default_factory=list)  # one per token after `base`


class _OutOfRoom(Exception):
    """The frame's token budget or the model's context ran out."""


class StructuredDecoder(CachedScorer):
    """Writes one frame at a time for a `TransformersLanguageModel` (see the module docstring;
    the KV caches and the scoring of candidates are `codewm.predict.kv_cache`'s).

    `scoring`: how candidates are scored ("tree", "sequential" or "batch"); `programs`: how
    many programs' KV caches are kept (default: the model's batch_size).
    """

    def __init__(self, lm, scoring: str = "tree", programs: int | None = None) -> None:
        if scoring not in SCORING:
            raise ValueError(f"scoring must be one of {SCORING}, got {scoring!r}")
        if not all(hasattr(lm, attribute) for attribute in ("model", "tokenizer", "context_length")):
            raise StructuredUnavailable(f"{getattr(lm, 'name', lm)!r} is not a local Hugging Face model: structure-aware decoding needs its logits")
        super().__init__(lm, programs)
        attention = getattr(self.model.config, "_attn_implementation", "eager")
        # a token tree needs a 4-D attention mask, which sdpa and eager attention take
        self.scoring = "sequential" if scoring == "tree" and attention not in ("sdpa", "eager") else scoring
        self.event_ids: dict[str, int] = {}
        for event, token in EVENT_TOKENS.items():
            ids = self._encode(token)
            if len(ids) != 1:
                raise StructuredUnavailable(f"{getattr(lm, 'name', lm)!r}: {token} is not one token of its vocabulary")
            self.event_ids[event] = ids[0]
        self.frame_sep_id = self._encode(FRAME_SEP)[0]
        self.vocab_size = int(self.model.get_output_embeddings().weight.shape[0])
        self._texts: list[str] | None = None  # each token's text
        self._masks: dict[int, object] = {}  # JSON-string state -> the tokens allowed in it
        self._special: set[int] | None = None  # special and added tokens
        self._programs: OrderedDict[str, ProgramInfo | None] = OrderedDict()
        self._prompts: OrderedDict[str, list[int]] = OrderedDict()
        self._trackers: OrderedDict[str, tuple[str, FrameReader, Tracker, bool]] = OrderedDict()

    # -- the interface ---------------------------------------------------------------------
    def supports(self, request: FrameRequest) -> bool:
        """Whether this decoder writes the frame (else the caller decodes it freely): the
        context compiles and the prefix is empty or one event token."""
        return (not request.prefix or request.prefix in _PREFIX_EVENTS) and self._program(request.context) is not None

    def next_frames(self, requests: Sequence[FrameRequest]) -> list[FrameStep | None]:
        """One step per request, in order; None where `supports` says no."""
        return [self.next_frame(r) if self.supports(r) else None for r in requests]

    def next_frame(self, request: FrameRequest) -> FrameStep:
        program = self._program(request.context)
        if program is None or (request.prefix and request.prefix not in _PREFIX_EVENTS):
            raise ValueError("structured decoding cannot write this frame (see StructuredDecoder.supports)")
        tracker = self._tracker(request.context, request.frames_text, program)
        slot = self._slot(request.context)
        with self._torch.inference_mode():
            prompt = self._prompt_ids(slot, request.context, request.frames_text)
            self._sync(slot, prompt)
            frame = _Frame(base=len(prompt), given=0)
            try:
                return self._write(slot, frame, tracker, request)
            except _OutOfRoom:
                return self._step(slot, frame, STEP_LENGTH, request)

    # -- one frame ----------------------------------------------------------------------------
    def _write(self, slot: Slot, frame: _Frame, tracker: Tracker, request: FrameRequest) -> FrameStep:
        if request.prefix:
            event = _PREFIX_EVENTS[request.prefix]
            frame.text = request.prefix
            frame.given = len(self._encode(request.prefix))
        else:
            events = tracker.events()
            if events != ["end"]:
                logits = self._logits(slot)
                event = max(events, key=lambda e: float(logits[self.event_ids[e]]))  # ties: the first
            else:
                event = "end"
            if event == "end":
                return FrameStep("", STEP_END, 0, [] if request.logprobs else None, [] if request.logprobs else None)
            frame.text = EVENT_TOKENS[event]
        budget = request.max_tokens
        if event in ("call", "line"):
            rule = tracker.call_key_rule() if event == "call" else tracker.key_rule()
            keys: list[str] = []
            while True:
                names, close = rule.options(keys)
                texts = [("{" if not keys else ", ") + json_string(name) + ":" for name in names]
                if close or not names:
                    # closing the object and the action in one pass, decided in that order
                    actions = tracker.call_actions(keys) if event == "call" else tracker.actions(event)
                    texts += [("{}" if not keys else "}") + ACTION_SEP + escape_special_tokens(action) + FRAME_SEP for action in actions]
                pick = self._choose(slot, frame, texts, budget, split=ACTION_SEP)
                if pick >= len(names):
                    break
                keys.append(names[pick])
                self._value(slot, frame, LEAD_SPACE, tracker.unchanged_allowed(event, names[pick]), budget)
        else:
            actions = tracker.actions(event)
            self._choose(slot, frame, [ACTION_SEP + escape_special_tokens(action) + ARG_SEP for action in actions], budget)
            self._value(slot, frame, LEAD_QUOTE, True, budget)
            self._choose(slot, frame, [FRAME_SEP], budget)
        return self._step(slot, frame, STEP_FRAME, request)

    def _step(self, slot: Slot, frame: _Frame, finish: str, request: FrameRequest) -> FrameStep:
        """The FrameStep of `frame`: its tokens after the prefix, without the closing
        `<|frame_sep|>` (what free decoding reports)."""
        ids = slot.ids[frame.base + frame.given :]
        logprobs = frame.logprobs[frame.given :]
        if finish == STEP_FRAME and ids and ids[-1] == self.frame_sep_id:
            ids, logprobs = ids[:-1], logprobs[:-1]
        if finish == STEP_LENGTH:  # the budget's worth, as free decoding reports a cut frame
            ids, logprobs = ids[: request.max_tokens], logprobs[: request.max_tokens]
        if not request.logprobs:
            return FrameStep(frame.text, finish, len(ids))
        return FrameStep(frame.text, finish, len(ids), [self._token_text(i) for i in ids], list(logprobs))

    # -- choosing among texts ------------------------------------------------------------------
    def _choose(self, slot: Slot, frame: _Frame, texts: list[str], budget: int, split: str | None = None) -> int:
        """Append the most probable of `texts` (by the total log-probability of its tokens) to
        the frame; its index. Afterwards the cache holds exactly the frame's tokens.

        `split`: texts that contain it are decided in two steps, as if chosen one part after
        the other: first the part through `split` (all such texts begin alike) against the
        other texts, by its own log-probability, then, among those texts, the rest."""
        base = frame.base
        candidates = self._encode_all([frame.text + text for text in texts])
        room = self.lm.context_length - base
        fitting = [i for i, c in enumerate(candidates) if len(c) <= room]
        if not fitting:
            raise _OutOfRoom
        have = slot.ids[base:]  # the frame's tokens in the cache (maybe one past its text)
        first = candidates[fitting[0]]
        known = min(common_prefix(candidates[i], have) for i in fitting)  # kept as they are
        shared = min(common_prefix(candidates[i], first) for i in fitting)  # the same in every candidate
        refeed = base + known != len(slot.ids) or slot.next_logits is None
        start = base + known - (1 if refeed else 0)
        head = slot.ids[start : base + known] + first[known:shared]
        tails = [candidates[i][shared:] for i in fitting]
        kept = frame.logprobs[: max(0, start - base)]
        refed = frame.logprobs[start - base] if refeed and start >= base else None
        self._crop(slot, start)
        if self.scoring == "tree" or len(tails) == 1:
            head_lps, tail_lps, finish = self._score_tree(slot, start, head, tails, refeed)
        elif self.scoring == "batch":
            head_lps, tail_lps, finish = self._score_batch(slot, start, head, tails, refeed)
        else:
            head_lps, tail_lps, finish = self._score_sequential(slot, start, head, tails, refeed)
        scores = [sum(lps) for lps in tail_lps]
        decide = scores
        if split is not None:
            marker = self._encode(split)[-1]
            parts = [tail.index(marker) + 1 if split in texts[i] and marker in tail else None for i, tail in zip(fitting, tails)]
            grouped = [k for k, part in enumerate(parts) if part is not None]
            if grouped:
                together = sum(tail_lps[grouped[0]][: parts[grouped[0]]])  # the same in each
                best_within = max(grouped, key=lambda k: scores[k])
                decide = [scores[k] if parts[k] is None else (together if k == best_within else float("-inf")) for k in range(len(tails))]
        best = max(range(len(tails)), key=lambda k: decide[k])  # ties: the first
        slot.next_logits = finish(best)
        slot.ids = slot.ids[:start] + head + tails[best]
        if refeed:  # the re-fed token keeps its log-probability; a prompt token has none here
            head_lps = ([refed] + head_lps[1:]) if start >= base else head_lps[1:]
        frame.logprobs = kept + head_lps + tail_lps[best]
        chosen = fitting[best]
        text = frame.text + texts[chosen]
        if len(slot.ids) - base - frame.given - text.endswith(FRAME_SEP) > budget:
            raise _OutOfRoom  # the frame ends before this part (the cache goes on: no harm)
        frame.text = text
        return chosen

    # -- values -----------------------------------------------------------------------------
    def _value(self, slot: Slot, frame: _Frame, lead: int, unchanged_ok: bool, budget: int) -> None:
        """The model writes one JSON string, greedily, with only the tokens that keep it one.
        The token that closes it is not fed: the next choice tokenizes the text up to the
        quote together with what follows, and feeds that."""
        torch = self._torch
        state = lead
        written: list[int] = []
        while True:
            if len(slot.ids) - frame.base - frame.given >= budget or len(slot.ids) >= self.lm.context_length:
                frame.text += self._decode(written)
                raise _OutOfRoom
            logits = self._logits(slot)
            allowed = self._mask(state)
            if state in (STR, STR_LT) and self._ends(int(torch.argmax(logits))):
                # the model would end the value here with what no JSON string holds (a
                # special token, a newline): the string closes instead
                value = self._decode(written) + '"'
                if unchanged_ok or value.lstrip(" ") != '".."':
                    frame.text += value
                    return
            masked = logits.masked_fill(~allowed, float("-inf"))
            value = None
            for _ in range(64):
                token = int(torch.argmax(masked))
                if masked[token] == float("-inf"):  # nothing is allowed
                    break
                after, closed = advance(state, self._token_text(token))
                if closed < 0:
                    break
                text = self._decode(written + [token])
                end = advance(lead, text)[1]
                value = text[:end] if end >= 0 else self._decode(written) + self._token_text(token)[:closed]
                if unchanged_ok or value.lstrip(" ") != '".."':
                    break
                masked[token] = float("-inf")  # `".."` refers to nothing here: the next best
                value = None
            else:
                token = -1
            if token < 0 or masked[token] == float("-inf"):  # nothing can continue the string
                frame.text += self._decode(written)
                raise _OutOfRoom
            if value is not None:
                frame.text += value
                return
            frame.logprobs.append(float(self._log_softmax(logits)[token]))
            self._feed(slot, [token])
            written.append(token)
            state = after
            if (tail := repeating_tail(written)) is not None:  # a loop: cut it (codewm.predict.runaway)
                cut = cut_runaway(self._decode(written[: sum(tail)]), json_string)
                if cut is not None and (unchanged_ok or cut.lstrip(" ") != '".."'):
                    frame.text += cut
                    return

    # -- tokens ---------------------------------------------------------------------------------
    def _prompt_ids(self, slot: Slot, context: str, frames_text: str) -> list[int]:
        """The tokens of the prompt and `frames_text`: the frames are tokenized apart (they
        start with a special token) and only those not tokenized before."""
        prompt = self._prompts.pop(context, None)
        if prompt is None:
            prompt = self._encode(format_prompt(context))
        self._prompts[context] = prompt
        while len(self._prompts) > 4 * self._capacity + 16:
            self._prompts.popitem(last=False)
        known = slot.frames_text
        if known is not None and frames_text.startswith(known) and known.endswith(FRAME_SEP) and known:
            frames_ids = slot.frames_ids + self._encode(frames_text[len(known) :])
        else:
            frames_ids = self._encode(frames_text)
        slot.frames_text, slot.frames_ids = frames_text, frames_ids
        return prompt + frames_ids

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []

    def _encode_all(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False) if ids else ""

    def _token_text(self, token: int) -> str:
        if self._texts is None:
            everything = [[i] for i in range(len(self.tokenizer))]
            self._texts = self.tokenizer.batch_decode(everything, skip_special_tokens=False, clean_up_tokenization_spaces=False)
        return self._texts[token] if token < len(self._texts) else ""

    def _ends(self, token: int) -> bool:
        """Whether `token` cannot continue a JSON string because it ends the text: a special
        token, or a raw control character (a newline) before any quote."""
        if self._special is None:
            self._special = set(self.tokenizer.all_special_ids) | set(getattr(self.tokenizer, "added_tokens_decoder", None) or ())
        if token in self._special:
            return True
        text = self._token_text(token)
        quote = text.find('"')
        head = text if quote < 0 else text[:quote]
        return any(ch < " " for ch in head)

    def _mask(self, state: int):
        """The tokens a JSON string in `state` may continue with (no special token)."""
        mask = self._masks.get(state)
        if mask is None:
            self._token_text(0)
            self._ends(0)
            special = self._special or set()
            allowed = [False] * self.vocab_size
            for i, text in enumerate((self._texts or [])[: self.vocab_size]):
                allowed[i] = bool(text) and i not in special and advance(state, text)[0] != INVALID
            mask = self._masks[state] = self._torch.tensor(allowed, dtype=self._torch.bool, device=self.device)
        return mask

    # -- programs and frames --------------------------------------------------------------------
    def _program(self, context: str) -> ProgramInfo | None:
        if context in self._programs:
            self._programs.move_to_end(context)
            return self._programs[context]
        try:
            program: ProgramInfo | None = ProgramInfo(context)
        except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
            program = None
        self._programs[context] = program
        while len(self._programs) > 4 * self._capacity + 16:
            self._programs.popitem(last=False)
        return program

    def _tracker(self, context: str, frames_text: str, program: ProgramInfo) -> Tracker:
        """The tracker after `frames_text`, reading only the frames not read before."""
        held = self._trackers.pop(context, None)
        if held is not None and held[3] and frames_text.startswith(held[0]):
            known, reader, tracker, _ = held
        else:
            known, reader, tracker = "", FrameReader(context), Tracker(program)
        readable = True
        if len(frames_text) > len(known):
            count = len(reader.trace.frames)
            readable = reader.feed(frames_text[len(known) :]) is None
            for frame in reader.trace.frames[count:]:
                tracker.feed(frame)
        self._trackers[context] = (frames_text, reader, tracker, readable)
        while len(self._trackers) > 4 * self._capacity + 16:
            self._trackers.popitem(last=False)
        return tracker
