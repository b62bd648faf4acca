"""An OpenAI-compatible HTTP server for any `LanguageModel` (`codewm serve`).

Other tools (and codewm's own `openai:URL#MODEL` backend) can then use codewm's models
through the completions API:

- `GET /v1/models`, `GET /v1/models/{id}`: the one served model (with vLLM's `max_model_len`).
- `POST /v1/completions`: the OpenAI completions request, non-streaming. `prompt` is a
  string or a list of strings; `n` completions per prompt (choices prompt-major:
  `index = prompt_index * n + j`); `stop`, `max_tokens`, `temperature`, `top_p`, `seed`,
  `logprobs` (each chosen token and its log-probability; no top alternatives); and vLLM's
  `skip_special_tokens` (default true: the model's `special_tokens`, if it names any, are
  removed from the text) and `include_stop_str_in_output`. Unknown fields are ignored;
  known fields of the wrong type or out of range get a 400 naming the field.
- `GET /health`: 200 while the server is up. `GET /metrics`: throughput counters (JSON).

The model runs on one worker thread, one request at a time, in arrival order (torch on a
few CPU cores gains nothing from concurrent calls, and tokenizers are not thread-safe);
the event loop stays free meanwhile, so /health, /v1/models and /metrics answer at once.

Errors use the OpenAI shape, `{"error": {"message", "type", "param", "code"}}`: 400 for a
bad request (malformed JSON, wrong types, a prompt past the context, ...), 404 for another
model's name, 413 for a body over `max_body_bytes` (checked from Content-Length and while
reading), 500 when the model itself raises (the server goes on serving).

fastapi and uvicorn are imported inside `make_app` and `serve` only, so importing this
module costs nothing.
"""

import asyncio
import contextlib
import json
import logging
import math
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from codewm.predict.base import FINISH_STOP, Completion, LanguageModel, Sampling

log = logging.getLogger(__name__)

MAX_N = 8  # completions per prompt at most
MAX_STOP = 16  # stop strings at most
MAX_LOGPROBS = 5  # as OpenAI's completions API


class ApiError(Exception):
    """A request the server answers with an error (OpenAI's error body)."""

    def __init__(self, status: int, message: str, param: str | None = None, type_: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.type = type_ or ("invalid_request_error" if status < 500 else "server_error")

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


def _get_prompts(body: dict) -> list[str]:
    if "prompt" not in body or body["prompt"] is None:
        raise ApiError(400, "'prompt' is required", "prompt")
    prompt = body["prompt"]
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list):
        if not prompt:
            raise ApiError(400, "'prompt' must not be an empty list", "prompt")
        if all(isinstance(p, str) for p in prompt):
            return list(prompt)
        if all((isinstance(p, int) and not isinstance(p, bool)) or isinstance(p, list) for p in prompt):
            raise ApiError(400, "token-id prompts are not supported; send the prompt as text", "prompt")
        raise ApiError(400, "'prompt' must be a string or a list of strings", "prompt")
    raise _bad_type("prompt", "a string or a list of strings", prompt)


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
    return tuple(stop)


class CompletionRequest:
    """A parsed, checked /v1/completions body."""

    def __init__(self, body: Any, served: str, max_batch: int) -> None:
        if not isinstance(body, dict):
            raise ApiError(400, f"the request body must be a JSON object, got {_json_type(body)}")
        model = body.get("model")
        if model is not None and not isinstance(model, str):
            raise _bad_type("model", "a string", model)
        if model is not None and model != served:
            raise ApiError(404, f"The model `{model}` does not exist; this server serves `{served}`", "model")
        self.prompts = _get_prompts(body)
        self.max_tokens = _get_int(body, "max_tokens", 16, lo=1)
        self.temperature = _get_float(body, "temperature", 1.0)
        if self.temperature < 0:
            raise ApiError(400, f"'temperature' must be >= 0, got {self.temperature}", "temperature")
        self.top_p = _get_float(body, "top_p", 1.0)
        if not 0 < self.top_p <= 1:
            raise ApiError(400, f"'top_p' must be in (0, 1], got {self.top_p}", "top_p")
        self.n = _get_int(body, "n", 1, lo=1, hi=MAX_N)
        self.stop = _get_stop(body)
        self.seed = _get_int(body, "seed", None)
        self.logprobs = _get_int(body, "logprobs", None, lo=0, hi=MAX_LOGPROBS)
        if _get_bool(body, "echo", False):
            raise ApiError(400, "'echo' is not supported; send echo=false", "echo")
        if _get_bool(body, "stream", False):
            raise ApiError(400, "'stream' is not supported; send stream=false", "stream")
        # OpenAI fields that would change the output and that this server cannot honour:
        # refused rather than silently ignored.
        best_of = _get_int(body, "best_of", None, lo=1)
        if best_of is not None and best_of != self.n:
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


class Metrics:
    """Throughput counters; the worker thread and the event loop both update them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.time()
        self.requests = 0  # completion requests served (200)
        self.choices = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.busy_seconds = 0.0  # time the model worker spent on requests
        self.client_errors = 0
        self.server_errors = 0
        self.pending = 0  # completion requests waiting for or in the worker

    def add(self, **deltas: float) -> None:
        with self._lock:
            for key, delta in deltas.items():
                setattr(self, key, getattr(self, key) + delta)

    def snapshot(self) -> dict:
        with self._lock:
            uptime = time.time() - self.started
            return {
                "requests": self.requests,
                "choices": self.choices,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "busy_seconds": round(self.busy_seconds, 6),
                "uptime_seconds": round(uptime, 3),
                "client_errors": self.client_errors,
                "server_errors": self.server_errors,
                "pending": self.pending,
                "requests_per_busy_second": round(self.requests / self.busy_seconds, 3) if self.busy_seconds else None,
                "completion_tokens_per_busy_second": (
                    round(self.completion_tokens / self.busy_seconds, 3) if self.busy_seconds else None
                ),
            }


def _strip_special(text: str, special: tuple[str, ...]) -> str:
    for token in special:
        if token:
            text = text.replace(token, "")
    return text


def _choice(index: int, c: Completion, req: CompletionRequest, special: tuple[str, ...]) -> dict:
    strip = req.skip_special_tokens and special
    text = _strip_special(c.text, special) if strip else c.text
    if req.include_stop_str_in_output and c.finish_reason == FINISH_STOP and c.stop_reason:
        text += c.stop_reason
    logprobs = None
    if req.logprobs is not None and c.tokens is not None and c.token_logprobs is not None:
        tokens = [_strip_special(t, special) for t in c.tokens] if strip else list(c.tokens)
        offsets, at = [], 0
        for t in tokens:
            offsets.append(at)
            at += len(t)
        logprobs = {
            "tokens": tokens,
            "token_logprobs": [float(x) for x in c.token_logprobs],
            "top_logprobs": None,
            "text_offset": offsets,
        }
    return {
        "index": index,
        "text": text,
        "logprobs": logprobs,
        "finish_reason": c.finish_reason,
        "stop_reason": c.stop_reason,
    }


async def _read_body(request: Any, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, f"bad Content-Length header: {declared!r}") from None
        if size > limit:
            raise ApiError(413, f"the request body has {size} bytes; this server takes at most {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the request body is over {limit} bytes, the most this server takes")
        chunks.append(chunk)
    return b"".join(chunks)


def make_app(
    lm: LanguageModel,
    *,
    model_name: str | None = None,
    max_batch: int = 16,
    max_body_bytes: int = 4 << 20,
):
    """A FastAPI app serving `lm` under `model_name` (default `lm.name`)."""
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    name = model_name or lm.name
    context_length = getattr(lm, "context_length", None)
    special = tuple(getattr(lm, "special_tokens", ()) or ())
    metrics = Metrics()
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="codewm-lm")  # FIFO, one at a time

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        worker.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="codewm", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.lm = lm
    app.state.metrics = metrics
    app.state.worker = worker

    def error_response(err: ApiError) -> JSONResponse:
        if err.status >= 500:
            metrics.add(server_errors=1)
        else:
            metrics.add(client_errors=1)
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, err: ApiError):
        return error_response(err)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, err: RequestValidationError):
        errors = err.errors()
        first = errors[0] if errors else {}
        loc = [str(x) for x in first.get("loc", ()) if x != "body"]
        param = ".".join(loc) or None
        message = f"{param}: {first.get('msg', 'invalid')}" if param else str(first.get("msg", "invalid request"))
        return error_response(ApiError(400, message, param))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, err: StarletteHTTPException):
        return error_response(ApiError(err.status_code, str(err.detail)))

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, err: Exception):
        log.exception("internal error")
        return error_response(ApiError(500, f"internal server error: {type(err).__name__}: {err}"))

    def model_card() -> dict:
        return {
            "id": name,
            "object": "model",
            "created": int(metrics.started),
            "owned_by": "codewm",
            "max_model_len": context_length,
        }

    @app.get("/health")
    async def health():
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models():
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model_id:path}")
    async def model(model_id: str):
        if model_id != name:
            raise ApiError(404, f"The model `{model_id}` does not exist; this server serves `{name}`", "model")
        return model_card()

    @app.get("/metrics")
    async def get_metrics():
        return metrics.snapshot()

    def run(req: CompletionRequest) -> tuple[list[int], list[Completion]]:
        """On the worker thread: measure the prompts, then complete them."""
        t0 = time.perf_counter()
        try:
            counts = [lm.count_tokens(p) for p in req.prompts]
            if context_length:
                for i, count in enumerate(counts):
                    # A prompt that leaves no room is refused; one that leaves some gets at
                    # most what fits (finish_reason "length"), as codewm's backends do when
                    # called directly, so that served and direct results agree.
                    if count >= context_length:
                        which = f" (prompt {i})" if len(counts) > 1 else ""
                        raise ApiError(
                            400,
                            f"This model's maximum context length is {context_length} tokens; the prompt{which} "
                            f"has {count} tokens, which leaves no room for a completion",
                            "prompt",
                        )
            expanded = [p for p in req.prompts for _ in range(req.n)]
            try:
                outs = lm.complete(expanded, req.sampling)
            except Exception as e:
                log.exception("the model failed")
                raise ApiError(500, f"the model failed: {type(e).__name__}: {e}") from None
            if not isinstance(outs, list) or len(outs) != len(expanded):
                got = len(outs) if isinstance(outs, list) else type(outs).__name__
                raise ApiError(500, f"the model returned {got} completions for {len(expanded)} prompts")
            return counts, outs
        finally:
            metrics.add(busy_seconds=time.perf_counter() - t0)

    @app.post("/v1/completions")
    async def completions(request: Request):
        raw = await _read_body(request, max_body_bytes)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise ApiError(400, f"the request body is not valid JSON: {e}") from None
        req = CompletionRequest(body, name, max_batch)
        metrics.add(pending=1)
        try:
            counts, outs = await asyncio.wrap_future(worker.submit(run, req))
        finally:
            metrics.add(pending=-1)
        try:
            choices = [_choice(i, c, req, special) for i, c in enumerate(outs)]
        except Exception as e:
            raise ApiError(500, f"the model returned a malformed completion: {type(e).__name__}: {e}") from None
        prompt_tokens = sum(outs[i * req.n].prompt_tokens or counts[i] for i in range(len(req.prompts)))
        completion_tokens = sum(int(c.completion_tokens) for c in outs)
        metrics.add(
            requests=1, choices=len(choices), prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": name,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    return app


def serve(lm: LanguageModel, host: str = "127.0.0.1", port: int = 8000, **kw: Any) -> None:
    """Serve `lm` over HTTP until interrupted. `kw` goes to `make_app`."""
    import uvicorn

    app = make_app(lm, **kw)
    name = kw.get("model_name") or lm.name
    print(f"serving {name} at http://{host}:{port}/v1", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
