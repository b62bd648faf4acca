"""`codewm serve` against hostile or careless clients (issue 15, item 15): a max_tokens
ceiling, a bounded queue, requests dropped when their client leaves, deadlines for headers
and bodies, an API key, and client errors that are 400s rather than 500s.

No test asserts how fast anything is: where a test waits for the server to drop a client,
it waits up to a bound far above the configured timeout (the timeouts are fractions of a
second, the bounds tens of seconds), so a slow machine only makes it wait longer."""

from __future__ import annotations

import json
import resource
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

try:
    import httpx
except ImportError:  # the openai client's own HTTP library, under its new name
    import httpx2 as httpx

from codewm.predict.fake import ScriptedLanguageModel
from codewm.predict.server_http import exposure_warning, is_loopback
from patience import patience
from server_harness import running

PATIENCE = patience(60)  # seconds: a bound for "eventually", far above every configured timeout


class BlockingLM(ScriptedLanguageModel):
    """complete() waits until the test releases it; records that it started."""

    def __init__(self) -> None:
        super().__init__(lambda p: p.upper())
        self.started = threading.Event()
        self.release = threading.Event()

    def complete(self, prompts, sampling):
        self.started.set()
        assert self.release.wait(PATIENCE), "the test never released the model"
        return super().complete(prompts, sampling)


class CancellableLM(ScriptedLanguageModel):
    """complete() runs until its cancel event is set (as the Hugging Face backend stops at
    the next token), and records whether it was."""

    def __init__(self) -> None:
        super().__init__(lambda p: p.upper())
        self.started = threading.Event()
        self.was_cancelled = threading.Event()

    def complete(self, prompts, sampling, cancel=None):
        self.started.set()
        if cancel is not None and cancel.wait(PATIENCE):
            self.was_cancelled.set()
        return super().complete(prompts, sampling)


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"waited {PATIENCE} s for {what}"
        time.sleep(0.02)


def _raw_request(port: int, body: dict) -> socket.socket:
    """A completions request sent on a raw socket (so the test can walk away from it)."""
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return sock


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# --- max_tokens has a ceiling -------------------------------------------------------------


def test_max_tokens_over_the_ceiling_is_refused():
    lm = ScriptedLanguageModel({"a": "alpha"})
    with running(lm, max_tokens_limit=100) as base, httpx.Client(base_url=base, timeout=PATIENCE) as http:
        r = http.post("/v1/completions", json={"prompt": "a", "max_tokens": 10**9})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["param"] == "max_tokens" and "<= 100" in err["message"] and "--max-tokens-limit" in err["message"]
        r = http.post("/v1/completions", json={"prompt": "a", "max_tokens": 100})
        assert r.status_code == 200 and r.json()["choices"][0]["text"] == "alpha"
    assert [s.max_tokens for _, s in lm.calls] == [100]  # the refused request never reached the model


# --- the queue is bounded -----------------------------------------------------------------


def test_a_full_queue_answers_429_and_the_server_recovers():
    lm = BlockingLM()
    with running(lm, max_queue=2) as base, httpx.Client(base_url=base, timeout=PATIENCE) as http:
        with ThreadPoolExecutor(3) as pool:
            running_one = pool.submit(http.post, "/v1/completions", json={"prompt": "r", "max_tokens": 5})
            assert lm.started.wait(PATIENCE)
            waiting = [pool.submit(http.post, "/v1/completions", json={"prompt": f"w{i}", "max_tokens": 5}) for i in range(2)]
            _wait_for(lambda: http.get("/metrics").json()["pending"] == 3, "two requests to queue")
            r = http.post("/v1/completions", json={"prompt": "over", "max_tokens": 5})
            assert r.status_code == 429, r.text
            assert r.headers["retry-after"] == "1"
            assert r.json()["error"]["type"] == "rate_limit_error" and "busy" in r.json()["error"]["message"]
            lm.release.set()
            assert [f.result(PATIENCE).status_code for f in [running_one, *waiting]] == [200, 200, 200]
        assert http.post("/v1/completions", json={"prompt": "later", "max_tokens": 5}).status_code == 200
        metrics = http.get("/metrics").json()
    assert metrics["rejected"] == 1 and metrics["pending"] == 0
    assert ["over"] not in [p for p, _ in lm.calls]


# --- an abandoned request does not run ----------------------------------------------------


def test_a_request_whose_client_left_while_queued_is_skipped():
    lm = BlockingLM()
    with running(lm) as base, httpx.Client(base_url=base, timeout=PATIENCE) as http:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(http.post, "/v1/completions", json={"prompt": "first", "max_tokens": 5})
            assert lm.started.wait(PATIENCE)
            gone = _raw_request(_port(base), {"prompt": "abandoned", "max_tokens": 5})
            _wait_for(lambda: http.get("/metrics").json()["pending"] == 2, "the second request to queue")
            gone.close()
            _wait_for(lambda: http.get("/metrics").json()["cancelled"] == 1, "the server to notice the client left")
            lm.release.set()
            assert first.result(PATIENCE).status_code == 200
        _wait_for(lambda: http.get("/metrics").json()["pending"] == 0, "the queue to empty")
    assert [p for p, _ in lm.calls] == [["first"]]  # "abandoned" never reached the model


def test_a_running_request_is_cancelled_when_its_client_leaves():
    lm = CancellableLM()
    with running(lm) as base, httpx.Client(base_url=base, timeout=PATIENCE) as http:
        gone = _raw_request(_port(base), {"prompt": "long", "max_tokens": 5})
        assert lm.started.wait(PATIENCE)
        gone.close()
        assert lm.was_cancelled.wait(PATIENCE), "the model was not told to stop"
        _wait_for(lambda: http.get("/metrics").json()["pending"] == 0, "the worker to be free")
        assert http.get("/metrics").json()["cancelled"] == 1


def test_a_streaming_request_is_cancelled_when_its_client_leaves():
    lm = CancellableLM()
    with running(lm) as base, httpx.Client(base_url=base, timeout=PATIENCE) as http:
        gone = _raw_request(_port(base), {"prompt": "long", "max_tokens": 5, "stream": True})
        assert lm.started.wait(PATIENCE)
        gone.close()
        assert lm.was_cancelled.wait(PATIENCE), "the model was not told to stop"
        _wait_for(lambda: http.get("/metrics").json()["cancelled"] == 1, "the server to count it")


# --- deadlines for headers and bodies -----------------------------------------------------


def _closed_by_server(sock: socket.socket, deadline: float) -> bool:
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        while sock.recv(4096):  # an answer (e.g. a 408) may come before the close
            pass
        return True
    except ConnectionResetError:
        return True
    except (socket.timeout, TimeoutError):
        return False


def test_half_open_connections_are_dropped():
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    count = max(50, min(1500, (soft - 200) // 2))  # client and server ends share this process's limit
    with running(ScriptedLanguageModel({}), header_timeout=0.5, max_connections=4 * count) as base:
        port = _port(base)
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        # a slow-loris: the head trickles in, a byte at a time, and never ends
        loris = socket.create_connection(("127.0.0.1", port))
        start = time.monotonic()
        dropped_loris = False
        for byte in b"POST /v1/completions HTTP/1.1\r\nHost: x\r\n" * 100:
            try:
                loris.sendall(bytes([byte]))
            except OSError:
                dropped_loris = True
                break
            if time.monotonic() - start > PATIENCE:
                break
            time.sleep(0.05)
        deadline = time.monotonic() + PATIENCE
        open_after = [s for s in silent if not _closed_by_server(s, deadline)]
        for s in silent + [loris]:
            s.close()
        assert not open_after, f"{len(open_after)} of {count} silent connections still open after {PATIENCE} s"
        assert dropped_loris or _closed_by_server(loris, time.monotonic() + PATIENCE), "the slow-loris connection was kept"
        # and the server still serves
        assert httpx.post(f"{base}/v1/completions", json={"prompt": "x", "max_tokens": 1}, timeout=PATIENCE).status_code == 200


def test_a_trickled_body_gets_408():
    lm = ScriptedLanguageModel({"a": "alpha"})
    with running(lm, body_timeout=0.5) as base:
        sock = socket.create_connection(("127.0.0.1", _port(base)))
        body = json.dumps({"prompt": "a", "max_tokens": 5, "pad": "x" * 2000}).encode()
        sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode())
        sock.settimeout(0.05)
        answer = b""
        start = time.monotonic()
        for byte in body:  # one byte every 50 ms: the whole body would take 100 s
            try:
                sock.sendall(bytes([byte]))
                answer += sock.recv(4096)
            except (socket.timeout, TimeoutError):
                pass
            except OSError:
                break
            if answer or time.monotonic() - start > PATIENCE:
                break
            time.sleep(0.05)
        sock.settimeout(PATIENCE)
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except OSError:
            pass
        sock.close()
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"connection: close" in head.lower()
    assert "did not arrive within 0.5 s" in json.loads(payload)["error"]["message"]
    assert lm.calls == []


# --- the API key --------------------------------------------------------------------------


def test_api_key_is_required_on_v1_routes():
    with running(ScriptedLanguageModel({"a": "alpha"}), api_key="s3cret") as base, httpx.Client(base_url=base, timeout=PATIENCE) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            r = http.post("/v1/completions", json={"prompt": "a"}, headers=headers)
            assert r.status_code == 401, r.text
            assert r.json()["error"]["type"] == "authentication_error" and "--api-key" in r.json()["error"]["message"]
            assert http.get("/v1/models", headers=headers).status_code == 401
        assert http.get("/health").status_code == 200  # for load balancers, as in vLLM
        import openai

        client = openai.OpenAI(base_url=f"{base}/v1", api_key="s3cret", max_retries=0)
        assert client.completions.create(model="scripted", prompt="a", max_tokens=5).choices[0].text == "alpha"
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{base}/v1", api_key="nope", max_retries=0).models.list()


def test_binding_beyond_loopback_warns():
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert exposure_warning("127.0.0.1", None) is None
    assert "without --api-key" in exposure_warning("0.0.0.0", None)
    assert "plain HTTP" in exposure_warning("0.0.0.0", "key")


# --- client errors are 400s, on a real model ----------------------------------------------


@pytest.fixture(scope="module")
def real_lm(checkpoint):
    from codewm.predict.registry import load_language_model

    return load_language_model(f"builtin:{checkpoint}", device="cpu")


@pytest.mark.parametrize("body, param, words", [
    ({"prompt": ""}, "prompt", "must not be empty"),
    ({"prompt": ["def f", ""]}, "prompt", "must not be empty (prompt 1)"),
    ({"prompt": "def f", "seed": 2**63}, "seed", "<= 9223372036854775807"),
    ({"prompt": "def f", "seed": 2**64}, "seed", "<= 9223372036854775807"),
    ({"prompt": "def f", "seed": -(2**63) - 1}, "seed", ">= -9223372036854775808"),
    ('{"prompt": "a\\ud800b"}', "prompt", "lone surrogate '\\ud800' at character 1"),
    ('{"prompt": "a", "stop": ["\\udfff"]}', "stop", "lone surrogate"),
], ids=["empty", "empty-in-list", "seed-2^63", "seed-2^64", "seed-below", "surrogate", "surrogate-stop"])
def test_client_errors_are_400s(real_lm, body, param, words):
    with running(real_lm) as base, httpx.Client(base_url=base, timeout=PATIENCE) as http:
        if isinstance(body, str):
            r = http.post("/v1/completions", content=body.encode(), headers={"content-type": "application/json"})
        else:
            r = http.post("/v1/completions", json={"max_tokens": 2, **body})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["param"] == param and words in r.json()["error"]["message"], r.text
        assert http.get("/metrics").json()["server_errors"] == 0


def test_a_tiny_temperature_is_greedy(real_lm):
    with running(real_lm) as base, httpx.Client(base_url=base, timeout=PATIENCE) as http:
        answers = []
        for temperature in (1e-320, 1e-9, 0):
            r = http.post("/v1/completions", json={"prompt": "def f(x):", "max_tokens": 8, "temperature": temperature, "seed": 1})
            assert r.status_code == 200, r.text
            answers.append(r.json()["choices"][0]["text"])
        assert answers[0] == answers[1] == answers[2]


def test_the_real_model_stops_when_cancelled(real_lm):
    from codewm.predict.base import Sampling

    cancel = threading.Event()
    cancel.set()
    (out,) = real_lm.complete(["def f(x):"], Sampling(max_tokens=200), cancel=cancel)
    assert out.completion_tokens <= 1  # stopped at the first token, not after 200
    (full,) = real_lm.complete(["def f(x):"], Sampling(max_tokens=200, stop=("\x00never",)))
    assert full.completion_tokens > 1  # without the event it goes on (the check above means something)
