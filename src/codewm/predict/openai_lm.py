"""Any OpenAI-compatible completions endpoint as a `LanguageModel`: vLLM serving the real
CWM, `codewm serve`, or a hosted API. Uses the official `openai` client.

Trace prediction is a raw completion (no chat template). CWM's trace tokens are *special*
tokens, which vLLM leaves out of the returned text unless asked: every request therefore
sends vLLM's `skip_special_tokens: false`, so that `<|frame_sep|>` stops generation and the
frame text comes back whole. The API key is read from `OPENAI_API_KEY` (any value works for
local servers).
"""

from __future__ import annotations

import os
from typing import Sequence

from codewm.predict.base import FINISH_LENGTH, FINISH_STOP, Completion, Sampling

# Most OpenAI-compatible servers take up to this many prompts in one request; a larger call
# is split. (OpenAI itself allows 4 stop strings; vLLM and codewm serve take more.)
PROMPTS_PER_REQUEST = 16


class OpenAILanguageModel:
    """`complete()` through `POST {base_url}/completions`.

    base_url: e.g. "http://127.0.0.1:8000/v1"; model: the served model's id (default: the
    first that `GET /models` lists); context_length: the model's context (default: what the
    server reports as `max_model_len`, else 32768).
    """

    def __init__(self, base_url: str, model: str | None = None, *, api_key: str | None = None, timeout: float = 600.0, context_length: int | None = None) -> None:
        import openai

        self.base_url = base_url.rstrip("/")
        self.client = openai.OpenAI(base_url=self.base_url, api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY", timeout=timeout, max_retries=2)
        listed = None
        if model is None or context_length is None:
            try:
                listed = self.client.models.list().data
            except openai.OpenAIError as exc:
                raise ConnectionError(f"{self.base_url}: cannot list the served models: {exc}") from None
        if model is None:
            if not listed:
                raise ValueError(f"{self.base_url}: the server lists no models; name one as openai:URL#MODEL")
            model = listed[0].id
        self.model = model
        self.name = f"openai:{self.base_url}#{model}"
        if context_length is None:
            served = next((m for m in listed or [] if m.id == model), None)
            context_length = (getattr(served, "max_model_len", None) or (served.model_extra or {}).get("max_model_len")) if served is not None else None
        self.context_length = int(context_length or 32768)

    def count_tokens(self, text: str) -> int:
        # The client has no tokenizer; a server-side count would cost a request per prompt.
        # Characters / 3 is a safe over-estimate for code in BPE vocabularies.
        return len(text) // 3 + 1

    def complete(self, prompts: Sequence[str], sampling: Sampling) -> list[Completion]:
        out: list[Completion] = []
        for start in range(0, len(prompts), PROMPTS_PER_REQUEST):
            out.extend(self._request(list(prompts[start : start + PROMPTS_PER_REQUEST]), sampling))
        return out

    def _request(self, prompts: list[str], sampling: Sampling) -> list[Completion]:
        import openai

        try:
            return self._create(prompts, sampling)
        except openai.BadRequestError as exc:
            if "context length" not in str(exc):
                raise
            if len(prompts) > 1:  # find the prompt that does not fit; the others are fine
                return [self._request([prompt], sampling)[0] for prompt in prompts]
            # a prompt that fills the model's context: nothing can be generated (as with a
            # local model), which the caller sees as a completion cut by length
            return [Completion("", FINISH_LENGTH, None, 0, 0, [] if sampling.logprobs else None, [] if sampling.logprobs else None)]

    def _create(self, prompts: list[str], sampling: Sampling) -> list[Completion]:
        response = self.client.completions.create(
            model=self.model,
            prompt=prompts,
            max_tokens=sampling.max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            stop=list(sampling.stop) or None,
            seed=sampling.seed,
            logprobs=1 if sampling.logprobs else None,
            extra_body={"skip_special_tokens": False, "include_stop_str_in_output": False},
        )
        choices = sorted(response.choices, key=lambda choice: choice.index)
        if len(choices) != len(prompts):
            raise ValueError(f"{self.base_url}: asked for {len(prompts)} completions, got {len(choices)}")
        usage = response.usage
        out = []
        for choice in choices:
            extra = choice.model_extra or {}
            stop_reason = extra.get("stop_reason")
            finish = FINISH_LENGTH if choice.finish_reason == "length" else FINISH_STOP
            completion = Completion(
                choice.text,
                finish,
                stop_reason if isinstance(stop_reason, str) else None,
                prompt_tokens=0,
                completion_tokens=0,
            )
            if choice.logprobs is not None and choice.logprobs.tokens is not None:
                completion.tokens = list(choice.logprobs.tokens)
                completion.token_logprobs = [float(x) if x is not None else 0.0 for x in choice.logprobs.token_logprobs or []]
                completion.completion_tokens = len(completion.tokens)
            out.append(completion)
        if usage is not None and out:
            # usage is per request; spread it so that totals add up
            out[0].prompt_tokens = usage.prompt_tokens
            if not any(c.completion_tokens for c in out):
                out[0].completion_tokens = usage.completion_tokens
        return out
