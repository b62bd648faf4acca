"""The request bodies `codewm serve` takes, parsed and checked: `/v1/completions` and
`/v1/chat/completions`. Every field of the wrong type or out of range is an `ApiError`
(a 4xx naming the field), so nothing a client sends reaches the model unchecked: what the
model would fail on (an empty prompt, a lone surrogate, a seed past 64 bits, a temperature
so small that dividing by it overflows) is refused or normalized here.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable

from codewm.predict.base import Sampling

MAX_N = 8  # completions per prompt at most
MAX_STOP = 16  # stop strings at most
MAX_LOGPROBS = 5  # as OpenAI's completions API
# Below this a temperature is greedy decoding, as in vLLM (_SAMPLING_EPS): dividing logits by
# 1e-320 overflows to inf and the sampler fails.
GREEDY_BELOW = 1e-5
SEED_RANGE = (-(2**63), 2**63 - 1)  # what torch.manual_seed takes (vLLM's bounds too)


class ApiError(Exception):
    """A request the server answers with an error (OpenAI's error body)."""

    def __init__(self, status: int, message: str, param: str | None = None, type_: str | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.type = type_ or ("invalid_request_error" if status < 500 else "server_error")
        self.headers = headers

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": None}}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _bad_type(key: str, expected: str, value: Any) -> ApiError:
    return ApiError(400, f"'{key}' must be {expected}, got {_json_type(value)} {_show(value)}", key)


def _get_int(body: dict, key: str, default: int | None, lo: int | None = None, hi: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad_type(key, "an integer", value)
    if lo is not None and value < lo:
        raise ApiError(400, f"'{key}' must be >= {lo}, got {value}", key)
    if hi is not None and value > hi:
        raise ApiError(400, f"'{key}' must be <= {hi}, got {value}", key)
    return value


def _get_float(body: dict, key: str, default: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad_type(key, "a finite number", value)
    return float(value)


def _get_bool(body: dict, key: str, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _bad_type(key, "a boolean", value)
    return value


def check_text(text: str, param: str) -> str:
    """`text`, if it can be encoded (a JSON string may hold a lone surrogate, which no
    tokenizer takes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ApiError(400, f"'{param}' is not valid Unicode: a lone surrogate {text[e.start]!r} at character {e.start}", param) from None
    return text


def _get_prompts(body: dict) -> list[str]:
    if "prompt" not in body or body["prompt"] is None:
        raise ApiError(400, "'prompt' is required", "prompt")
    prompt = body["prompt"]
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, list):
        if not prompt:
            raise ApiError(400, "'prompt' must not be an empty list", "prompt")
        if all((isinstance(p, int) and not isinstance(p, bool)) or isinstance(p, list) for p in prompt):
            raise ApiError(400, "token-id prompts are not supported; send the prompt as text", "prompt")
        if not all(isinstance(p, str) for p in prompt):
            raise ApiError(400, "'prompt' must be a string or a list of strings", "prompt")
        prompts = list(prompt)
    else:
        raise _bad_type("prompt", "a string or a list of strings", prompt)
    for i, p in enumerate(prompts):
        which = f" (prompt {i})" if len(prompts) > 1 else ""
        if not p:
            # a model has nothing to attend to: Hugging Face models fail on zero tokens
            raise ApiError(400, f"'prompt' must not be empty{which}", "prompt")
        check_text(p, "prompt")
    return prompts


def _get_stop(body: dict) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise _bad_type("stop", "a string or a list of strings", stop)
    if len(stop) > MAX_STOP:
        raise ApiError(400, f"'stop' has {len(stop)} strings; at most {MAX_STOP} are allowed", "stop")
    if any(s == "" for s in stop):
        raise ApiError(400, "'stop' strings must not be empty", "stop")
    return tuple(check_text(s, "stop") for s in stop)


def _get_messages(body: dict) -> list[dict]:
    """Chat messages as `{"role": str, "content": str}` (a list of text parts is joined)."""
    messages = body.get("messages")
    if messages is None:
        raise ApiError(400, "'messages' is required", "messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty list of {role, content} objects", "messages")
    out = []
    for i, message in enumerate(messages):
        where = f"messages.{i}"
        if not isinstance(message, dict):
            raise _bad_type(where, "an object", message)
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not role:
            raise ApiError(400, f"'{where}.role' must be a non-empty string", f"{where}.role")
        if isinstance(content, list):  # OpenAI's content parts: text only
            texts = []
            for part in content:
                if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                    raise ApiError(400, f"'{where}.content' parts must be {{\"type\": \"text\", \"text\": ...}}; only text is supported", f"{where}.content")
                texts.append(part["text"])
            content = "".join(texts)
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise _bad_type(f"{where}.content", "a string or a list of text parts", content)
        out.append({"role": check_text(role, f"{where}.role"), "content": check_text(content, f"{where}.content")})
    return out


def _refuse_unsupported(body: dict, n: int) -> None:
    """OpenAI fields that would change the output and that this server cannot honour:
    refused rather than silently ignored."""
    if _get_bool(body, "echo", False):
        raise ApiError(400, "'echo' is not supported; send echo=false", "echo")
    best_of = _get_int(body, "best_of", None, lo=1)
    if best_of is not None and best_of != n:
        raise ApiError(400, "'best_of' is not supported (only best_of == n)", "best_of")
    suffix = body.get("suffix")
    if suffix is not None and not isinstance(suffix, str):
        raise _bad_type("suffix", "a string", suffix)
    if suffix:
        raise ApiError(400, "'suffix' is not supported", "suffix")
    for key in ("frequency_penalty", "presence_penalty"):
        if _get_float(body, key, 0.0) != 0.0:
            raise ApiError(400, f"'{key}' is not supported (only 0)", key)
    logit_bias = body.get("logit_bias")
    if logit_bias is not None and not isinstance(logit_bias, dict):
        raise _bad_type("logit_bias", "an object", logit_bias)
    if logit_bias:
        raise ApiError(400, "'logit_bias' is not supported", "logit_bias")


class CompletionRequest:
    """A parsed, checked `/v1/completions` body, or (with `chat`, the model's chat
    template) a `/v1/chat/completions` body rendered into one prompt.

    `max_tokens` is at most `max_tokens_limit` (the server's ceiling); a request over it is
    refused rather than cut, so a client never gets less than it asked for unawares.
    """

    def __init__(self, body: Any, served: str, max_batch: int, max_tokens_limit: int, chat: Callable[[list[dict]], str] | None = None, is_chat: bool = False) -> None:
        if not isinstance(body, dict):
            raise ApiError(400, f"the request body must be a JSON object, got {_json_type(body)}")
        model = body.get("model")
        if model is not None and not isinstance(model, str):
            raise _bad_type("model", "a string", model)
        if model is not None and model != served:
            raise ApiError(404, f"The model `{model}` does not exist; this server serves `{served}`", "model")
        self.is_chat = is_chat
        if is_chat:
            if chat is None:
                raise ApiError(
                    400,
                    f"`{served}` has no chat template, so /v1/chat/completions cannot render messages; "
                    "send the prompt text to /v1/completions, or start the server with --chat-template FILE",
                    "messages",
                )
            messages = _get_messages(body)
            try:
                rendered = chat(messages)
            except Exception as e:  # a template's own error (a role it does not know, ...)
                raise ApiError(400, f"the chat template cannot render these messages: {type(e).__name__}: {e}", "messages") from None
            if not rendered:
                raise ApiError(400, "the chat template rendered these messages as an empty prompt", "messages")
            self.prompts = [rendered]
            key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
            default_tokens = max_tokens_limit  # OpenAI's chat default: as much as fits
        else:
            self.prompts = _get_prompts(body)
            key, default_tokens = "max_tokens", min(16, max_tokens_limit)
        self.max_tokens = _get_int(body, key, default_tokens, lo=1)
        if self.max_tokens > max_tokens_limit:
            raise ApiError(400, f"'{key}' must be <= {max_tokens_limit} (this server's --max-tokens-limit), got {self.max_tokens}", key)
        self.temperature = _get_float(body, "temperature", 1.0)
        if self.temperature < 0:
            raise ApiError(400, f"'temperature' must be >= 0, got {self.temperature}", "temperature")
        if self.temperature < GREEDY_BELOW:
            self.temperature = 0.0
        self.top_p = _get_float(body, "top_p", 1.0)
        if not 0 < self.top_p <= 1:
            raise ApiError(400, f"'top_p' must be in (0, 1], got {self.top_p}", "top_p")
        self.n = _get_int(body, "n", 1, lo=1, hi=MAX_N)
        self.stop = _get_stop(body)
        self.seed = _get_int(body, "seed", None, lo=SEED_RANGE[0], hi=SEED_RANGE[1])
        if is_chat:  # chat's logprobs is a boolean (top alternatives are not given)
            self.logprobs = 0 if _get_bool(body, "logprobs", False) else None
            if _get_int(body, "top_logprobs", 0, lo=0, hi=0):
                raise ApiError(400, "'top_logprobs' is not supported (only 0)", "top_logprobs")
        else:
            self.logprobs = _get_int(body, "logprobs", None, lo=0, hi=MAX_LOGPROBS)
        self.stream = _get_bool(body, "stream", False)
        options = body.get("stream_options")
        if options is not None and not isinstance(options, dict):
            raise _bad_type("stream_options", "an object", options)
        self.include_usage = _get_bool(options or {}, "include_usage", False)
        _refuse_unsupported(body, self.n)
        # vLLM's extras.
        self.skip_special_tokens = _get_bool(body, "skip_special_tokens", True)
        self.include_stop_str_in_output = _get_bool(body, "include_stop_str_in_output", False)

        total = len(self.prompts) * self.n
        if total > max_batch:
            raise ApiError(
                400,
                f"too many completions in one request: {len(self.prompts)} prompts x n={self.n} = {total}; "
                f"this server takes at most {max_batch}",
                "prompt",
            )
        try:
            self.sampling = Sampling(
                max_tokens=self.max_tokens,
                stop=self.stop,
                temperature=self.temperature,
                top_p=self.top_p,
                seed=self.seed,
                logprobs=self.logprobs is not None,
            )
        except ValueError as e:
            raise ApiError(400, str(e)) from None
