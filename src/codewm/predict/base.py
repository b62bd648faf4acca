"""The two narrow interfaces every world model in codewm sits behind.

- `LanguageModel`: text in, text out. `complete(prompts, sampling)` continues each prompt
  until a stop string, the end of the sequence, or `max_tokens`. The Hugging Face backend
  (`builtin`, `hf:PATH`), the OpenAI-compatible client (`openai:URL#MODEL`), the fakes for
  tests, and `codewm serve` (which serves any LanguageModel) all speak it.
- `Predictor`: what evaluation and the debugger need of a world model: the next frame of a
  partly predicted trace (`next_frames`), and a direct answer to a benchmark prompt
  (`answer`). `ModelPredictor` gives any LanguageModel these; the oracle answers them by
  really running the program in the sandbox.

Both take lists, so that a backend can batch across programs; both return one result per
request, in order, and neither raises on what a model writes (bad text is the evaluation's
business, reported in the result).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable


@dataclass(frozen=True)
class Sampling:
    """How to continue a prompt. The defaults are greedy decoding, as CWM's published
    trace numbers use."""

    max_tokens: int = 256  # generated tokens at most (the prompt not counted)
    stop: tuple[str, ...] = ()  # stop strings; the matched one is not part of the text
    temperature: float = 0.0  # 0: greedy (argmax); above 0: sampling
    top_p: float = 1.0
    seed: int | None = None  # for sampling; greedy ignores it
    logprobs: bool = False  # also return each generated token's log-probability

    def __post_init__(self) -> None:
        if not isinstance(self.max_tokens, int) or self.max_tokens < 1:
            raise ValueError(f"Sampling.max_tokens must be a positive int, got {self.max_tokens!r}")
        if self.temperature < 0:
            raise ValueError(f"Sampling.temperature must be >= 0, got {self.temperature!r}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"Sampling.top_p must be in (0, 1], got {self.top_p!r}")
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))


# Completion.finish_reason values (the OpenAI API's names).
FINISH_STOP = "stop"  # a stop string, or the model's end-of-sequence token
FINISH_LENGTH = "length"  # max_tokens (or the model's context) ran out first


@dataclass
class Completion:
    """One continuation of one prompt."""

    text: str  # what the model wrote, without the stop string that ended it
    finish_reason: str  # FINISH_STOP or FINISH_LENGTH
    stop_reason: str | None = None  # the stop string that matched; None for end-of-sequence or length
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # With Sampling(logprobs=True), where the backend provides them: each generated token's
    # text and log-probability (the stop token excluded).
    tokens: list[str] | None = field(default=None, repr=False)
    token_logprobs: list[float] | None = field(default=None, repr=False)


@runtime_checkable
class LanguageModel(Protocol):
    """A text-completion model. `context_length` is the most tokens (prompt + completion)
    it can attend to; `count_tokens` measures a prompt in its tokens."""

    name: str
    context_length: int

    def complete(self, prompts: Sequence[str], sampling: Sampling) -> list[Completion]: ...

    def count_tokens(self, text: str) -> int: ...


@dataclass(frozen=True)
class FrameRequest:
    """Predict the frame that follows `frames_text` in the trace of `context`.

    `frames_text` is the CWM text of the frames so far (each ending in `<|frame_sep|>`),
    empty for the first frame; the model sees `format_prompt(context) + frames_text`.

    `prefix` is how the frame must start: the model continues from
    `format_prompt(context) + frames_text + prefix`, and `FrameStep.text` includes the
    prefix. The debugger steps over a call with `prefix="<|return_sep|>"` right after the
    call frame, so the model predicts the return without simulating the body (as CWM's demo
    debugger does). A predictor that cannot honour a prefix returns a frame that does not
    start with it; the caller must check.
    """

    context: str
    frames_text: str = ""
    max_tokens: int = 512  # tokens for this one frame
    logprobs: bool = False
    prefix: str = ""


# FrameStep.finish values
STEP_FRAME = "frame"  # a frame, ended by <|frame_sep|>
STEP_END = "end"  # the model ended the trace (<|end_of_text|>) instead of writing a frame
STEP_LENGTH = "length"  # the frame ran past its token budget (or the model's context)


@dataclass
class FrameStep:
    """What a predictor wrote for one frame.

    `text` is the frame's CWM text including its closing `<|frame_sep|>` when `finish` is
    STEP_FRAME; for STEP_END it is empty; for STEP_LENGTH it is what was written before
    the budget ran out (not a whole frame).
    """

    text: str
    finish: str  # STEP_FRAME, STEP_END or STEP_LENGTH
    tokens: int = 0  # generated tokens
    token_texts: list[str] | None = field(default=None, repr=False)
    token_logprobs: list[float] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class AnswerRequest:
    """A direct question about one call, as benchmarks ask it (no trace).

    `mode` "output": what does `call` return (CRUXEval-O, LiveCodeBench execution);
    "input": which call of `function` returns `output` (CRUXEval-I). `prompt` is the
    benchmark's prompt text for a language model; `code`, `call` and `output` are there for
    predictors that do not read prompts (the oracle). `call` is the real call (e.g.
    `f(1, 2)`), `output` the expected value's literal; either may be empty when unknown.
    """

    mode: str
    prompt: str
    code: str
    call: str = ""
    output: str = ""
    function: str = "f"
    stop: tuple[str, ...] = ("[/ANSWER]",)
    max_tokens: int = 256
    temperature: float = 0.0
    samples: int = 1  # generations per request (for pass@k)


@runtime_checkable
class Predictor(Protocol):
    """A world model: predicts trace frames, and answers benchmark prompts directly."""

    name: str

    def next_frames(self, requests: Sequence[FrameRequest]) -> list[FrameStep]: ...

    def answer(self, requests: Sequence[AnswerRequest]) -> list[list[str]]:
        """Each request's `samples` generations (raw text, as a model wrote it)."""
        ...
