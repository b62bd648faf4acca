"""What a vLLM user expects of `codewm serve` (issue 16, item 7): streaming (server-sent
events ending in `data: [DONE]`), /v1/chat/completions, a trained model served under its
run's name, a port in use reported before anything claims to be serving, an access log."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import openai
import pytest

try:
    import httpx
except ImportError:  # the openai client's own HTTP library, under its new name
    import httpx2 as httpx

from codewm.predict.fake import ScriptedLanguageModel
from codewm.predict.registry import run_name
from patience import patience
from server_harness import running

PATIENCE = patience(120)  # seconds: a bound for "eventually" (a CLI start loads torch)
SCRIPT = {"a": "alpha STOP beta", "<user>hi</user><bot>": "hello there STOP x"}


def _chat(messages: list[dict]) -> str:
    return "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages) + "<bot>"


@pytest.fixture(scope="module")
def base():
    with running(ScriptedLanguageModel(SCRIPT), chat_template=_chat) as url:
        yield url


def _events(http, path: str, body: dict) -> list:
    with http.stream("POST", path, json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines), lines
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line[6:]) for line in lines[:-1]]


def test_streamed_completions_add_up_to_the_plain_answer(base):
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
    plain = client.completions.create(model="scripted", prompt=["a", "a"], max_tokens=50, stop=[" STOP"])
    stream = client.completions.create(model="scripted", prompt=["a", "a"], max_tokens=50, stop=[" STOP"], stream=True,
                                       stream_options={"include_usage": True})
    texts, finish, usage = {}, {}, None
    for chunk in stream:
        assert chunk.object == "text_completion" and chunk.model == "scripted"
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            texts[choice.index] = texts.get(choice.index, "") + choice.text
            if choice.finish_reason:
                finish[choice.index] = choice.finish_reason
    assert texts == {c.index: c.text for c in plain.choices} == {0: "alpha", 1: "alpha"}
    assert finish == {0: "stop", 1: "stop"}
    assert usage.completion_tokens == plain.usage.completion_tokens and usage.prompt_tokens == plain.usage.prompt_tokens


def test_stream_wire_format(base):
    with httpx.Client(base_url=base, timeout=PATIENCE) as http:
        events = _events(http, "/v1/completions", {"prompt": "a", "max_tokens": 3, "stream": True})
    assert len({e["id"] for e in events}) == 1 and events[0]["id"].startswith("cmpl-")
    assert [c["text"] for e in events for c in e["choices"]] == ["alp", ""]
    assert [c["finish_reason"] for e in events for c in e["choices"]] == [None, "length"]


def test_chat_completions_with_a_template(base):
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="x", max_retries=0)
    out = client.chat.completions.create(model="scripted", messages=[{"role": "user", "content": "hi"}], stop=[" STOP"])
    assert out.object == "chat.completion" and out.id.startswith("chatcmpl-")
    (choice,) = out.choices
    assert choice.message.role == "assistant" and choice.message.content == "hello there" and choice.finish_reason == "stop"
    assert out.usage.prompt_tokens == len("<user>hi</user><bot>")
    # content as a list of text parts, streamed
    parts = [{"type": "text", "text": "h"}, {"type": "text", "text": "i"}]
    stream = client.chat.completions.create(model="scripted", messages=[{"role": "user", "content": parts}], stop=[" STOP"], stream=True)
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "hello there"
    assert chunks[0].choices[0].delta.role == "assistant" and chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize("body, param, words", [
    ({"messages": []}, "messages", "non-empty list"),
    ({"messages": [{"role": "user", "content": 3}]}, "messages.0.content", "string or a list of text parts"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}, "messages.0.content", "only text"),
    ({"messages": [{"content": "x"}]}, "messages.0.role", "role"),
    ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 10**6}, "max_tokens", "--max-tokens-limit"),
])
def test_bad_chat_requests(base, body, param, words):
    r = httpx.post(f"{base}/v1/chat/completions", json=body, timeout=PATIENCE)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param and words in r.json()["error"]["message"]


def test_chat_without_a_template_says_what_to_use():
    with running(ScriptedLanguageModel(SCRIPT)) as url:
        r = httpx.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}, timeout=PATIENCE)
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "has no chat template" in message and "/v1/completions" in message and "--chat-template" in message


def test_a_trained_model_is_served_under_its_run_name(tmp_path):
    assert run_name(Path("out/train/cpu/checkpoint")) == "cpu"
    assert run_name(Path("out/train/cpu/checkpoint/")) == "cpu"
    assert run_name(Path("models/tiny")) == "tiny"


def test_the_real_model_id_and_chat_template(checkpoint, tmp_path):
    import shutil

    from codewm.predict.registry import load_language_model

    run = tmp_path / "my-run" / "checkpoint"
    shutil.copytree(checkpoint, run)
    lm = load_language_model(f"builtin:{run}", device="cpu")
    assert lm.name == "builtin:my-run"
    assert lm.chat_template is None  # codewm's tokenizer has none: chat is refused, not guessed
    lm.chat_template = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}"
    assert lm.chat_prompt([{"role": "user", "content": "hi"}]) == "[user] hi\n[assistant] "


# --- the command --------------------------------------------------------------------------


def _serve(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "codewm.cli", "serve", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_a_port_in_use_is_one_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _serve("--model", "builtin", "--port", str(port), "--device", "cpu")
        out, err = process.communicate(timeout=PATIENCE)
    assert process.returncode == 2
    assert "serving" not in out
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in err


def test_the_command_logs_each_request_and_checks_the_key(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = _serve("--model", "builtin", "--port", str(port), "--device", "cpu", "--api-key", "k", "--max-tokens-limit", "8")
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + PATIENCE
        while True:
            assert process.poll() is None, process.communicate()
            try:
                httpx.get(f"{url}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "codewm serve did not start"
                time.sleep(0.2)
        headers = {"Authorization": "Bearer k"}
        assert httpx.get(f"{url}/v1/models", headers=headers).json()["data"][0]["id"] == "builtin"
        assert httpx.post(f"{url}/v1/completions", json={"prompt": "def f", "max_tokens": 9}, headers=headers).status_code == 400
        assert httpx.post(f"{url}/v1/completions", json={"prompt": "def f", "max_tokens": 4}, headers=headers, timeout=PATIENCE).status_code == 200
        assert httpx.post(f"{url}/v1/completions", json={"prompt": "def f", "max_tokens": 4}).status_code == 401
    finally:
        process.terminate()
        out, err = process.communicate(timeout=PATIENCE)
    assert f"serving builtin at http://127.0.0.1:{port}/v1" in out
    log = out + err
    assert '"POST /v1/completions HTTP/1.1" 200' in log and '"POST /v1/completions HTTP/1.1" 401' in log
    assert '"POST /v1/completions HTTP/1.1" 400' in log
