"""Any `LanguageModel` as a `Predictor`: one frame is one completion stopped at `<|frame_sep|>`.

The prompt for frame k is CWM's: `<|begin_of_text|><|trace_context_start|>CONTEXT<|frame_sep|>`
followed by the k frames so far. A completion that ends with `<|frame_sep|>` is a frame; one
that ends at the model's end-of-sequence (`<|end_of_text|>`) with nothing written ends the
trace. Requests are sent to the model in one list, so a backend batches across programs.

With `structured=True` (a local Hugging Face model only) frames are written by
`codewm.predict.structured.StructuredDecoder` instead: the event, the keys and the source line
chosen by the model among what the program allows, the values written freely. Requests it
cannot write (a context that does not compile, an unusual prefix) are decoded freely.
"""

from __future__ import annotations

from typing import Sequence

from codewm.format.cwm import END, FRAME_SEP, format_prompt
from codewm.predict.base import (
    FINISH_LENGTH,
    STEP_END,
    STEP_FRAME,
    STEP_LENGTH,
    AnswerRequest,
    Completion,
    FrameRequest,
    FrameStep,
    LanguageModel,
    Sampling,
)


class ModelPredictor:
    def __init__(self, lm: LanguageModel, name: str | None = None, structured: bool = False) -> None:
        self.lm = lm
        self.name = name or lm.name
        self.decoder = None  # the structure-aware decoder, when on
        if structured:
            from codewm.predict.structured import StructuredDecoder

            self.decoder = StructuredDecoder(lm)

    @property
    def structured(self) -> bool:
        """Whether frames are decoded structure-aware (see the module docstring)."""
        return self.decoder is not None

    @property
    def fingerprint(self) -> str:
        """What identifies the model behind the name (its weights, where the backend knows),
        and how frames are decoded from it."""
        return str(getattr(self.lm, "fingerprint", self.lm.name)) + ("+structured" if self.decoder is not None else "")

    def next_frames(self, requests: Sequence[FrameRequest]) -> list[FrameStep]:
        steps: list[FrameStep | None] = [None] * len(requests)
        if self.decoder is not None:
            steps = self.decoder.next_frames(requests)
        # One model call per distinct budget (normally one for the whole list).
        groups: dict[tuple[int, bool], list[int]] = {}
        for i, request in enumerate(requests):
            if steps[i] is None:
                groups.setdefault((request.max_tokens, request.logprobs), []).append(i)
        for (max_tokens, logprobs), indices in groups.items():
            prompts = [format_prompt(requests[i].context) + requests[i].frames_text + requests[i].prefix for i in indices]
            completions = self.lm.complete(prompts, Sampling(max_tokens=max_tokens, stop=(FRAME_SEP,), logprobs=logprobs))
            for i, completion in zip(indices, completions):
                steps[i] = frame_step(completion, requests[i].prefix)
        return steps  # type: ignore[return-value]

    def answer(self, requests: Sequence[AnswerRequest]) -> list[list[str]]:
        out: list[list[str]] = [[] for _ in requests]
        groups: dict[tuple, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault((request.max_tokens, request.stop, request.temperature), []).append(i)
        for (max_tokens, stop, temperature), indices in groups.items():
            prompts, owners = [], []
            for i in indices:
                for sample in range(requests[i].samples):
                    prompts.append(requests[i].prompt)
                    owners.append(i)
            sampling = Sampling(max_tokens=max_tokens, stop=tuple(stop), temperature=temperature, seed=0 if temperature > 0 else None)
            for owner, completion in zip(owners, self.lm.complete(prompts, sampling)):
                out[owner].append(completion.text)
        return out


def frame_step(completion: Completion, prefix: str = "") -> FrameStep:
    """Read one completion stopped at `<|frame_sep|>` as a frame step (`prefix`: the start
    of the frame that was given to the model, put back in front of what it wrote).

    Servers differ in what they say about why they stopped (vLLM and codewm serve report the
    matched stop string; others only "stop"): a non-empty text that stopped is a frame, an
    empty one the end of the trace, and text up to an `<|end_of_text|>` written out ends it.
    """
    text = completion.text
    tokens = completion.completion_tokens
    if prefix:
        # A frame was begun for the model: whatever it wrote finishes that frame (an empty
        # text or an <|end_of_text|> in it makes a frame that does not parse, which says so).
        text = prefix + text
        if completion.finish_reason == FINISH_LENGTH and END not in text:
            return FrameStep(text, STEP_LENGTH, tokens, completion.tokens, completion.token_logprobs)
        return FrameStep(text + FRAME_SEP, STEP_FRAME, tokens, completion.tokens, completion.token_logprobs)
    if END in text:
        return FrameStep(text[: text.index(END)], STEP_END, tokens, completion.tokens, completion.token_logprobs)
    if completion.finish_reason == FINISH_LENGTH:
        return FrameStep(text, STEP_LENGTH, tokens, completion.tokens, completion.token_logprobs)
    if completion.stop_reason == FRAME_SEP or text:
        return FrameStep(text + FRAME_SEP, STEP_FRAME, tokens, completion.tokens, completion.token_logprobs)
    return FrameStep("", STEP_END, tokens, completion.tokens, completion.token_logprobs)
