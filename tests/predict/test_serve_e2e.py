"""End to end: `codewm serve` on loopback with a small checkpoint, evaluated through the
`openai:` backend, gives exactly what the builtin backend gives when called directly."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from patience import patience

from codewm.evaluate.run import evaluate, load_benchmark
from codewm.predict.decode import DecodeLimits, predict_traces
from codewm.predict.registry import load_predictor

LIMITS = DecodeLimits(max_frames=40, max_frame_tokens=64, batch_size=4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(trained_checkpoint):
    import openai

    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "codewm.cli", "serve", "--model", f"builtin:{trained_checkpoint}", "--port", str(port), "--name", "tiny", "--batch-size", "4", "--device", "cpu", "--no-access-log"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/v1"
    client = openai.OpenAI(base_url=url, api_key="x", max_retries=0, timeout=5)
    deadline = time.monotonic() + patience(300)
    while True:
        if process.poll() is not None:
            pytest.fail(f"codewm serve exited with {process.returncode}:\n{process.stdout.read()}")
        try:
            client.models.list()
            break
        except openai.APIConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"codewm serve did not start in {patience(300):g} s")
            time.sleep(0.3)
    yield url
    process.terminate()
    try:
        process.wait(timeout=patience(60))
    except subprocess.TimeoutExpired:
        process.kill()


def _builtin(checkpoint):
    # free decoding, as a server's client decodes (structure-aware decoding needs the model's
    # log-probabilities of the program's lines, which the completions API does not give)
    return load_predictor(f"builtin:{checkpoint}", batch_size=4, device="cpu", structured=False)


def test_served_traces_are_the_builtin_traces(served, trained_checkpoint, contexts, real_traces):
    direct = predict_traces(_builtin(trained_checkpoint), contexts, LIMITS)
    remote = predict_traces(load_predictor(f"openai:{served}#tiny"), contexts, LIMITS)
    assert [p.text for p in remote] == [p.text for p in direct]
    assert [p.stop for p in remote] == [p.stop for p in direct]
    assert [p.error for p in remote] == [p.error for p in direct]
    # the model was trained on these programs: it writes real frames, not only garbage
    assert sum(len(p.trace.frames) for p in direct) >= 2 * len(contexts)


def test_served_trace_metrics_equal_the_builtin_ones(served, trained_checkpoint, programs_benchmark):
    benchmark = load_benchmark(programs_benchmark)
    direct = evaluate(_builtin(trained_checkpoint), benchmark, limits=LIMITS)
    remote = evaluate(load_predictor(f"openai:{served}"), benchmark, limits=LIMITS)
    assert remote["n"] == direct["n"] == 6
    assert remote["metrics"] == direct["metrics"]
    assert remote["by_group"] == direct["by_group"]
    assert remote["cases"] == direct["cases"]
    assert 0 < direct["metrics"]["action_exact_match"] < 100  # numbers worth comparing


@pytest.mark.parametrize("bench, overrides", [("cruxeval-style-o", {}), ("cruxeval-style-o", {"via": "direct"}), ("livecodebench-style", {})])
def test_served_benchmark_scores_equal_the_builtin_ones(served, trained_checkpoint, bench, overrides):
    benchmark = load_benchmark(bench, **overrides)
    direct = evaluate(_builtin(trained_checkpoint), benchmark, limit=4, limits=LIMITS)
    remote = evaluate(load_predictor(f"openai:{served}"), benchmark, limit=4, limits=LIMITS)
    assert remote["n"] == direct["n"] == 4
    assert remote["metrics"] == direct["metrics"]
    assert remote["cases"] == direct["cases"]
