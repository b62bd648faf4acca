"""An OpenAI-compatible HTTP server for any `LanguageModel` (`codewm serve`).

Other tools (and codewm's own `openai:URL#MODEL` backend) can then use codewm's models
through the completions API:

- `GET /v1/models`, `GET /v1/models/{id}`: the one served model (with vLLM's `max_model_len`).
- `POST /v1/completions`: the OpenAI completions request. `prompt` is a string or a list
  of strings; `n` completions per prompt (choices prompt-major:
  `index = prompt_index * n + j`); `stop`, `max_tokens` (at most `max_tokens_limit`),
  `temperature`, `top_p`, `seed`, `logprobs` (each chosen token and its log-probability; no
  top alternatives), `stream` (server-sent events, ending with `data: [DONE]`); and vLLM's
  `skip_special_tokens` (default true: the model's `special_tokens`, if it names any, are
  removed from the text) and `include_stop_str_in_output`. Unknown fields are ignored;
  known fields of the wrong type or out of range get a 400 naming the field.
- `POST /v1/chat/completions`: the same, with `messages` rendered into one prompt by the
  model's chat template (`chat_template`); a model without one gets a 400 that says so.
- `GET /health`: 200 while the server is up. `GET /metrics`: throughput counters (JSON).

The model runs on one worker thread, one request at a time, in arrival order (torch on a
few CPU cores gains nothing from concurrent calls, and tokenizers are not thread-safe);
the event loop stays free meanwhile, so /health, /v1/models and /metrics answer at once.
At most `max_queue` requests wait behind the running one; more get a 429. A request whose
client disconnects is dropped: skipped if it is still waiting, and stopped at the next
token if the model takes a `cancel` event (the Hugging Face backend does).

Errors use the OpenAI shape, `{"error": {"message", "type", "param", "code"}}`: 400 for a
bad request (malformed JSON, wrong types, a prompt past the context, ...), 401 without the
API key (when one is set), 404 for another model's name, 408 for a body that does not
arrive within `body_timeout` seconds, 413 for a body over `max_body_bytes` (checked from
Content-Length and while reading), 429 when the queue is full, 500 when the model itself
raises (the server goes on serving), 503 while shutting down.

fastapi is imported inside `make_app` only, so importing this module costs nothing; the
HTTP server around the app (uvicorn, its timeouts, `serve`) is `codewm.predict.server_http`.
"""

import asyncio
import contextlib
import hmac
import inspect
import json
import logging
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, AsyncIterator, Callable

from codewm.predict.base import FINISH_STOP, Completion, LanguageModel
from codewm.predict.server_request import ApiError, CompletionRequest

log = logging.getLogger(__name__)


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
        self.cancelled = 0  # requests whose client went away before the answer
        self.rejected = 0  # requests turned away because the queue was full (429)

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
                "cancelled": self.cancelled,
                "rejected": self.rejected,
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
    """One choice of a completions answer (chat answers are reshaped from it)."""
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


def _chat_choice(choice: dict) -> dict:
    """A completions choice in the chat shape (`message`, and chat's logprobs layout)."""
    logprobs = None
    if choice["logprobs"] is not None:
        pairs = zip(choice["logprobs"]["tokens"], choice["logprobs"]["token_logprobs"])
        logprobs = {"content": [{"token": t, "logprob": lp, "bytes": list(t.encode()), "top_logprobs": []} for t, lp in pairs]}
    return {
        "index": choice["index"],
        "message": {"role": "assistant", "content": choice["text"]},
        "logprobs": logprobs,
        "finish_reason": choice["finish_reason"],
        "stop_reason": choice["stop_reason"],
    }


def _stream_chunks(choices: list[dict], is_chat: bool) -> list[dict]:
    """The streamed form of finished choices: each one's text in one chunk, then its
    finish reason (the model runs whole requests, so text is not sent token by token)."""
    chunks = []
    for choice in choices:
        i = choice["index"]
        if is_chat:
            content = choice["message"]["content"]
            chunks.append({"index": i, "delta": {"role": "assistant", "content": content}, "logprobs": choice["logprobs"], "finish_reason": None})
            chunks.append({"index": i, "delta": {}, "logprobs": None, "finish_reason": choice["finish_reason"], "stop_reason": choice["stop_reason"]})
        else:
            chunks.append({"index": i, "text": choice["text"], "logprobs": choice["logprobs"], "finish_reason": None})
            chunks.append({"index": i, "text": "", "logprobs": None, "finish_reason": choice["finish_reason"], "stop_reason": choice["stop_reason"]})
    return chunks


async def _read_body(request: Any, limit: int, timeout: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, f"bad Content-Length header: {declared!r}") from None
        if size > limit:
            raise ApiError(413, f"the request body has {size} bytes; this server takes at most {limit}")
    chunks, size = [], 0
    try:
        # One deadline for the whole body: a client trickling a byte a second never lets a
        # per-read timeout fire, and would hold the connection for as long as it liked.
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, f"the request body is over {limit} bytes, the most this server takes")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(408, f"the request body did not arrive within {timeout:g} s ({size} bytes came)", headers={"Connection": "close"}) from None
    return b"".join(chunks)


async def _disconnected(request: Any) -> None:
    """Returns when the client closes the connection (the body has been read by then, so
    the next ASGI message is the disconnect)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def _takes_cancel(lm: LanguageModel) -> bool:
    try:
        return "cancel" in inspect.signature(lm.complete).parameters
    except (TypeError, ValueError):
        return False


def make_app(
    lm: LanguageModel,
    *,
    model_name: str | None = None,
    max_batch: int = 16,
    max_body_bytes: int = 4 << 20,
    max_tokens_limit: int = 2048,
    max_queue: int = 32,
    body_timeout: float = 30.0,
    api_key: str | None = None,
    chat_template: Callable[[list[dict]], str] | None = None,
):
    """A FastAPI app serving `lm` under `model_name` (default `lm.name`).

    `max_tokens_limit`: the most tokens one completion may ask for; `max_queue`: requests
    waiting behind the running one at most (more get a 429); `body_timeout`: seconds to
    receive a whole request body (then a 408); `api_key`: when set, every /v1 route needs
    `Authorization: Bearer KEY`; `chat_template`: messages -> prompt for
    /v1/chat/completions (default: the model's own `chat_prompt`, where it has a template).
    """
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    name = model_name or lm.name
    context_length = getattr(lm, "context_length", None)
    special = tuple(getattr(lm, "special_tokens", ()) or ())
    if chat_template is None and getattr(lm, "chat_template", None):
        chat_template = lm.chat_prompt
    cancellable = _takes_cancel(lm)
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
        return JSONResponse(err.body(), status_code=err.status, headers=err.headers)

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

    def authorize(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), api_key.encode()):
            raise ApiError(401, "a valid API key is required: send `Authorization: Bearer KEY` (the server's --api-key)",
                           type_="authentication_error", headers={"WWW-Authenticate": "Bearer"})

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
    async def models(request: Request):
        authorize(request)
        return {"object": "list", "data": [model_card()]}

    @app.get("/v1/models/{model_id:path}")
    async def model(request: Request, model_id: str):
        authorize(request)
        if model_id != name:
            raise ApiError(404, f"The model `{model_id}` does not exist; this server serves `{name}`", "model")
        return model_card()

    @app.get("/metrics")
    async def get_metrics():
        return metrics.snapshot()

    def run(req: CompletionRequest, cancel: threading.Event) -> tuple[list[int], list[Completion]] | None:
        """On the worker thread: measure the prompts, then complete them (None: the client
        left before its turn came)."""
        t0 = time.perf_counter()
        try:
            if cancel.is_set():
                return None
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
                extra = {"cancel": cancel} if cancellable else {}
                outs = lm.complete(expanded, req.sampling, **extra)
            except Exception as e:
                log.exception("the model failed")
                raise ApiError(500, f"the model failed: {type(e).__name__}: {e}") from None
            if not isinstance(outs, list) or len(outs) != len(expanded):
                got = len(outs) if isinstance(outs, list) else type(outs).__name__
                raise ApiError(500, f"the model returned {got} completions for {len(expanded)} prompts")
            return counts, outs
        finally:
            metrics.add(busy_seconds=time.perf_counter() - t0, pending=-1)

    def answer(req: CompletionRequest, counts: list[int], outs: list[Completion]) -> tuple[list[dict], dict]:
        try:
            choices = [_choice(i, c, req, special) for i, c in enumerate(outs)]
        except Exception as e:
            raise ApiError(500, f"the model returned a malformed completion: {type(e).__name__}: {e}") from None
        if req.is_chat:
            choices = [_chat_choice(c) for c in choices]
        prompt_tokens = sum(outs[i * req.n].prompt_tokens or counts[i] for i in range(len(req.prompts)))
        completion_tokens = sum(int(c.completion_tokens) for c in outs)
        metrics.add(requests=1, choices=len(choices), prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}
        return choices, usage

    def submit(req: CompletionRequest) -> tuple[Future, threading.Event]:
        # `pending` counts the running request too: at most max_queue wait behind it.
        with metrics._lock:
            if metrics.pending > max_queue:
                metrics.rejected += 1
                busy = True
            else:
                metrics.pending += 1
                busy = False
        if busy:
            raise ApiError(429, f"the server is busy: {max_queue} requests are already waiting for the model; retry later",
                           type_="rate_limit_error", headers={"Retry-After": "1"})
        cancel = threading.Event()
        try:
            return worker.submit(run, req, cancel), cancel
        except RuntimeError:  # the executor is shut down: the server is stopping
            metrics.add(pending=-1)
            raise ApiError(503, "the server is shutting down") from None

    def envelope(req: CompletionRequest, ident: str, created: int) -> dict:
        kind = "chat.completion" if req.is_chat else "text_completion"
        return {"id": ident, "object": kind + (".chunk" if req.is_chat and req.stream else ""), "created": created, "model": name}

    async def events(req: CompletionRequest, future: Future, cancel: threading.Event) -> AsyncIterator[str]:
        ident, created = f"{'chatcmpl' if req.is_chat else 'cmpl'}-{uuid.uuid4().hex}", int(time.time())
        try:
            result = await asyncio.wrap_future(future)
        except asyncio.CancelledError:  # the client went away (starlette cancels the stream)
            cancel.set()
            metrics.add(cancelled=1)
            raise
        except ApiError as err:  # the 200 is sent already: the error travels as an event
            metrics.add(**({"server_errors": 1} if err.status >= 500 else {"client_errors": 1}))
            yield f"data: {json.dumps(err.body())}\n\n"
            yield "data: [DONE]\n\n"
            return
        choices, usage = answer(req, *result)
        for chunk in _stream_chunks(choices, req.is_chat):
            yield f"data: {json.dumps({**envelope(req, ident, created), 'choices': [chunk]})}\n\n"
        if req.include_usage:
            yield f"data: {json.dumps({**envelope(req, ident, created), 'choices': [], 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"

    async def complete(request: Request, is_chat: bool):
        authorize(request)
        raw = await _read_body(request, max_body_bytes, body_timeout)
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise ApiError(400, f"the request body is not valid JSON: {e}") from None
        req = CompletionRequest(body, name, max_batch, max_tokens_limit, chat=chat_template, is_chat=is_chat)
        future, cancel = submit(req)
        if req.stream:
            return StreamingResponse(events(req, future, cancel), media_type="text/event-stream")
        done = asyncio.wrap_future(future)
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            await asyncio.wait({done, gone}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            cancel.set()
            raise
        finally:
            gone.cancel()
        if not done.done():  # the client left: nobody will read an answer, so drop the work
            cancel.set()
            metrics.add(cancelled=1)
            done.add_done_callback(lambda f: f.cancelled() or f.exception())  # its error, if any, is nobody's
            return JSONResponse({"error": "the client disconnected"}, status_code=499)
        result = done.result()
        choices, usage = answer(req, *result)
        return {**envelope(req, f"{'chatcmpl' if is_chat else 'cmpl'}-{uuid.uuid4().hex}", int(time.time())), "choices": choices, "usage": usage}

    @app.post("/v1/completions")
    async def completions(request: Request):
        return await complete(request, is_chat=False)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        return await complete(request, is_chat=True)

    return app

