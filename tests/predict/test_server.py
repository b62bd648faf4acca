"""The OpenAI-compatible server (`codewm.predict.server`), tested over real HTTP: uvicorn on
a free local port in a background thread, the official `openai` client and httpx."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import openai

try:
    import httpx
except ImportError:  # the openai client's own HTTP library, under its new name
    import httpx2 as httpx

from codewm.predict.base import Sampling
from codewm.predict.fake import ScriptedLanguageModel
from patience import patience
from server_harness import running

PATIENCE = patience(60)  # seconds: a hang guard, not a measure of speed

SCRIPT = {
    "def f(x):": " return x + 1\n\nprint(f(1))",
    "a": "alpha STOP beta",
    "b": "bravo END charlie",
    "special": "x<|eot|>y",
}


class SpecialLM(ScriptedLanguageModel):
    special_tokens = ("<|eot|>",)


class SlowLM(ScriptedLanguageModel):
    """Sleeps in complete() (or, with `gated`, waits until the test opens `gate`); records
    the order of the prompts it was given."""

    def __init__(self, delay: float = 0.0, gated: bool = False) -> None:
        super().__init__(lambda p: p.upper())
        self.delay = delay
        self.started = threading.Event()
        self.gate = threading.Event()
        if not gated:
            self.gate.set()

    def complete(self, prompts, sampling):
        self.started.set()
        assert self.gate.wait(PATIENCE), "the test never opened the gate"
        time.sleep(self.delay)
        return super().complete(prompts, sampling)


class BrokenLM(ScriptedLanguageModel):
    def complete(self, prompts, sampling):
        if prompts[0] == "boom":
            raise RuntimeError("the weights are on fire")
        return super().complete(prompts, sampling)


@pytest.fixture(scope="module")
def url():
    with running(SpecialLM(SCRIPT), max_batch=16, max_body_bytes=64 << 10) as base:
        yield base


@pytest.fixture(scope="module")
def client(url):
    return openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)


@pytest.fixture(scope="module")
def http(url):
    with httpx.Client(base_url=url, timeout=PATIENCE) as c:
        yield c


def good(http) -> None:
    r = http.post("/v1/completions", json={"model": "scripted", "prompt": "a", "max_tokens": 50, "temperature": 0})
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["text"] == "alpha STOP beta"


# --- the openai client --------------------------------------------------------------


def test_models_list(client, http):
    models = client.models.list()
    assert [m.id for m in models.data] == ["scripted"]
    body = http.get("/v1/models").json()
    assert body["object"] == "list"
    (card,) = body["data"]
    assert card["object"] == "model" and card["owned_by"] == "codewm" and isinstance(card["created"], int)
    assert card["max_model_len"] == SpecialLM.context_length
    assert client.models.retrieve("scripted").id == "scripted"
    assert http.get("/health").status_code == 200


def test_str_prompt(client):
    out = client.completions.create(model="scripted", prompt="def f(x):", max_tokens=100, temperature=0)
    assert out.object == "text_completion" and out.id.startswith("cmpl-") and out.model == "scripted"
    (choice,) = out.choices
    assert choice.index == 0 and choice.text == SCRIPT["def f(x):"] and choice.finish_reason == "stop"
    assert out.usage.prompt_tokens == len("def f(x):")
    assert out.usage.completion_tokens == len(SCRIPT["def f(x):"])
    assert out.usage.total_tokens == out.usage.prompt_tokens + out.usage.completion_tokens


def test_list_prompt_stop_and_length(client):
    out = client.completions.create(model="scripted", prompt=["a", "b", "unknown"], max_tokens=50, temperature=0,
                                    stop=[" STOP", " END"])
    assert [c.text for c in out.choices] == ["alpha", "bravo", ""]
    assert [c.index for c in out.choices] == [0, 1, 2]
    assert [c.finish_reason for c in out.choices] == ["stop"] * 3
    assert [c.model_extra.get("stop_reason") for c in out.choices] == [" STOP", " END", None]
    short = client.completions.create(model="scripted", prompt="a", max_tokens=3, temperature=0)
    assert short.choices[0].text == "alp" and short.choices[0].finish_reason == "length"


def test_n_is_prompt_major(client):
    out = client.completions.create(model="scripted", prompt=["a", "b"], n=2, max_tokens=5, temperature=0)
    assert [c.index for c in out.choices] == [0, 1, 2, 3]
    assert [c.text for c in out.choices] == ["alpha", "alpha", "bravo", "bravo"]
    assert out.usage.prompt_tokens == 2  # each prompt counted once
    assert out.usage.completion_tokens == 20


def test_logprobs(client):
    out = client.completions.create(model="scripted", prompt="b", max_tokens=50, temperature=0, stop=" END",
                                    logprobs=0)
    lp = out.choices[0].logprobs
    assert lp.tokens == list("bravo") and lp.token_logprobs == [0.0] * 5
    assert lp.text_offset == [0, 1, 2, 3, 4]
    plain = client.completions.create(model="scripted", prompt="b", max_tokens=5, temperature=0)
    assert plain.choices[0].logprobs is None


def test_vllm_extras(client, http):
    # skip_special_tokens defaults to true (as in vLLM); codewm's clients send false
    out = client.completions.create(model="scripted", prompt="special", max_tokens=50, temperature=0)
    assert out.choices[0].text == "xy"
    out = client.completions.create(model="scripted", prompt="special", max_tokens=50, temperature=0,
                                    extra_body={"skip_special_tokens": False})
    assert out.choices[0].text == "x<|eot|>y"
    out = client.completions.create(model="scripted", prompt="a", max_tokens=50, temperature=0, stop=[" STOP"],
                                    extra_body={"include_stop_str_in_output": True})
    assert out.choices[0].text == "alpha STOP"
    # unknown fields are ignored; the model may be left out
    r = http.post("/v1/completions", json={"prompt": "a", "max_tokens": 5, "top_k": 3, "user": "u", "whatever": [1]})
    assert r.status_code == 200 and r.json()["choices"][0]["text"] == "alpha"


def test_sampling_reaches_the_model(url):
    lm = ScriptedLanguageModel(SCRIPT)
    with running(lm) as base:
        oa = openai.OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
        oa.completions.create(model="scripted", prompt="a", max_tokens=7, temperature=0.5, top_p=0.9, seed=3,
                              stop="X", logprobs=1)
    (prompts, sampling), = lm.calls
    assert prompts == ["a"]
    assert sampling == Sampling(max_tokens=7, stop=("X",), temperature=0.5, top_p=0.9, seed=3, logprobs=True)


# --- bad requests -------------------------------------------------------------------

BAD = [
    # (body, status, param, words in the message)
    (b"{not json", 400, None, "not valid JSON"),
    (b'["a", "b"]', 400, None, "JSON object"),
    ({"model": "scripted", "prompt": 7}, 400, "prompt", "prompt"),
    ({"model": "scripted"}, 400, "prompt", "prompt"),
    ({"model": "scripted", "prompt": "a", "max_tokens": "ten"}, 400, "max_tokens", "max_tokens"),
    ({"model": "scripted", "prompt": "a", "max_tokens": 0}, 400, "max_tokens", ">= 1"),
    ({"model": "scripted", "prompt": "a", "temperature": -1}, 400, "temperature", "temperature"),
    ({"model": "scripted", "prompt": "a", "temperature": "hot"}, 400, "temperature", "temperature"),
    ({"model": "scripted", "prompt": "a", "top_p": 0}, 400, "top_p", "top_p"),
    ({"model": "scripted", "prompt": "a", "n": 0}, 400, "n", "'n'"),
    ({"model": "scripted", "prompt": "a", "n": 9}, 400, "n", "'n'"),
    ({"model": "scripted", "prompt": "a", "n": True}, 400, "n", "'n'"),
    ({"model": "scripted", "prompt": "a", "stop": ["x"] * 100}, 400, "stop", "stop"),
    ({"model": "scripted", "prompt": "a", "stop": [""]}, 400, "stop", "stop"),
    ({"model": "scripted", "prompt": "a", "stop": 5}, 400, "stop", "stop"),
    ({"model": "scripted", "prompt": "a", "logprobs": 6}, 400, "logprobs", "logprobs"),
    ({"model": "scripted", "prompt": "a", "seed": "s"}, 400, "seed", "seed"),
    ({"model": "scripted", "prompt": "a", "skip_special_tokens": "no"}, 400, "skip_special_tokens", "skip_special"),
    ({"model": "gpt-4", "prompt": "a"}, 404, "model", "gpt-4"),
    ({"model": 3, "prompt": "a"}, 400, "model", "model"),
    ({"model": "scripted", "prompt": "a", "echo": True}, 400, "echo", "echo"),
    ({"model": "scripted", "prompt": "a", "stream": "yes"}, 400, "stream", "stream"),
    ({"model": "scripted", "prompt": [1, 2, 3]}, 400, "prompt", "token-id prompts are not supported"),
    ({"model": "scripted", "prompt": [[1, 2], [3]]}, 400, "prompt", "token-id prompts are not supported"),
    ({"model": "scripted", "prompt": []}, 400, "prompt", "empty"),
    ({"model": "scripted", "prompt": ["a", 1]}, 400, "prompt", "list of strings"),
    ({"model": "scripted", "prompt": ["a"] * 9, "n": 2}, 400, "prompt", "too many"),
    ({"model": "scripted", "prompt": ["a"] * 17}, 400, "prompt", "too many"),
    ({"model": "scripted", "prompt": "a", "best_of": 3}, 400, "best_of", "best_of"),
    ({"model": "scripted", "prompt": "a", "presence_penalty": 1.0}, 400, "presence_penalty", "presence_penalty"),
]


def _check_error(r, status, param, words):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == "invalid_request_error" and err["code"] is None
    assert err["param"] == param
    assert words.lower() in err["message"].lower(), err["message"]


@pytest.mark.parametrize("body,status,param,words", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_request(http, body, status, param, words):
    if isinstance(body, bytes):
        r = http.post("/v1/completions", content=body, headers={"content-type": "application/json"})
    else:
        r = http.post("/v1/completions", json=body)
    _check_error(r, status, param, words)
    good(http)


def test_unknown_route_has_openai_shape(http):
    r = http.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["type"] == "invalid_request_error"
    assert http.get("/v1/models/gpt-4").status_code == 404
    good(http)


def test_body_too_large(url, http):
    big = {"model": "scripted", "prompt": "a" * (80 << 10)}
    _check_error(http.post("/v1/completions", json=big), 413, None, "bytes")
    good(http)

    # a client that sends no Content-Length (chunked) is cut off while reading
    def chunks():
        data = json.dumps(big).encode()
        for i in range(0, len(data), 8192):
            yield data[i : i + 8192]

    _check_error(http.post("/v1/completions", content=chunks()), 413, None, "bytes")
    good(http)


def test_prompt_longer_than_the_context():
    lm = ScriptedLanguageModel(SCRIPT)
    lm.context_length = 100
    with running(lm) as base, httpx.Client(base_url=base, timeout=PATIENCE) as http:
        r = http.post("/v1/completions", json={"model": "scripted", "prompt": "x" * 100, "max_tokens": 10})
        message = "maximum context length is 100 tokens; the prompt has 100 tokens, which leaves no room"
        _check_error(r, 400, "prompt", message)
        r = http.post("/v1/completions", json={"model": "scripted", "prompt": ["a", "x" * 500], "max_tokens": 1})
        _check_error(r, 400, "prompt", "has 500 tokens")
        assert http.get("/v1/models").json()["data"][0]["max_model_len"] == 100
        good(http)
    assert lm.calls == [(["a"], Sampling(max_tokens=50, temperature=0.0))]  # only the good request reached it


def test_model_failure_is_500_and_the_server_goes_on():
    with running(BrokenLM(SCRIPT)) as base, httpx.Client(base_url=base, timeout=PATIENCE) as http:
        for _ in range(2):
            r = http.post("/v1/completions", json={"model": "scripted", "prompt": "boom", "max_tokens": 5})
            assert r.status_code == 500
            err = r.json()["error"]
            assert "the weights are on fire" in err["message"] and err["type"] == "server_error"
            good(http)
        metrics = http.get("/metrics").json()
        assert metrics["server_errors"] == 2 and metrics["requests"] == 2


# --- concurrency and throughput -----------------------------------------------------


def test_health_answers_while_the_model_works():
    lm = SlowLM(gated=True)  # busy until the test says so: no race with a clock
    with running(lm) as base, httpx.Client(base_url=base, timeout=PATIENCE) as http:
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(http.post, "/v1/completions", json={"prompt": "slow", "max_tokens": 10})
            assert lm.started.wait(PATIENCE)
            assert http.get("/health").status_code == 200
            assert http.get("/v1/models").status_code == 200
            assert http.get("/metrics").json()["pending"] == 1
            assert not slow.done(), "/health waited for the model"
            lm.gate.set()
            r = slow.result(PATIENCE)
        assert r.status_code == 200 and r.json()["choices"][0]["text"] == "SLOW"


def test_requests_run_one_at_a_time_in_arrival_order():
    lm = SlowLM(delay=0.2)
    with running(lm) as base, httpx.Client(base_url=base, timeout=PATIENCE) as http:
        with ThreadPoolExecutor(4) as pool:
            futures = []
            for i, prompt in enumerate(["p0", "p1", "p2", "p3"]):
                futures.append(pool.submit(http.post, "/v1/completions", json={"prompt": prompt, "max_tokens": 5}))
                deadline = time.monotonic() + PATIENCE
                while http.get("/metrics").json()["pending"] < i + 1 and not futures[-1].done():
                    assert time.monotonic() < deadline
                    time.sleep(0.005)
            texts = [f.result(PATIENCE).json()["choices"][0]["text"] for f in futures]
    assert texts == ["P0", "P1", "P2", "P3"]
    assert [prompts for prompts, _ in lm.calls] == [["p0"], ["p1"], ["p2"], ["p3"]]


def test_load(capsys):
    lm = ScriptedLanguageModel(lambda p: p[::-1] + "|" + "z" * 20)
    threads, per_thread = 8, 25
    with running(lm) as base:

        def worker(t: int) -> int:
            tokens = 0
            with httpx.Client(base_url=base, timeout=PATIENCE) as http:
                for i in range(per_thread):
                    prompt = f"prompt-{t}-{i}"
                    r = http.post("/v1/completions", json={"model": "scripted", "prompt": prompt, "max_tokens": 64,
                                                           "temperature": 0, "stop": ["|"]})
                    assert r.status_code == 200, r.text
                    body = r.json()
                    assert body["choices"][0]["text"] == prompt[::-1]
                    tokens += body["usage"]["completion_tokens"]
            return tokens

        t0 = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            tokens = sum(pool.map(worker, range(threads)))
        elapsed = time.perf_counter() - t0
        metrics = httpx.get(f"{base}/metrics").json()
    n = threads * per_thread
    with capsys.disabled():
        print(f"\nload: {n} requests from {threads} threads in {elapsed:.2f} s: {n / elapsed:.0f} requests/s, "
              f"{tokens / elapsed:.0f} completion tokens/s (model busy {metrics['busy_seconds']:.3f} s)")
    assert metrics["requests"] == n and metrics["choices"] == n
    assert metrics["completion_tokens"] == tokens
    assert metrics["client_errors"] == 0 and metrics["server_errors"] == 0 and metrics["pending"] == 0
    assert len(lm.calls) == n
