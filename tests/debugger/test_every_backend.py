"""The debugger with every kind of world model: the same checkpoint, wrong on purpose,
loaded as `builtin:DIR`, as `hf:PATH`, and served by `codewm serve` on loopback behind
`openai:URL#MODEL` (as CWM is behind vLLM). Each finds the same first divergence, with the
same confidences: the token probabilities travel through the server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from patience import patience
from debugger_helpers import WRONG_CALL, WRONG_INDEX, WRONG_SOURCE

from codewm.debugger.session import ENDED_COMPLETE, DebugSession, Program
from codewm.predict.registry import load_predictor


@pytest.fixture(scope="module")
def served_wrong_checkpoint(wrong_checkpoint):
    import openai

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "codewm.cli", "serve", "--model", f"builtin:{wrong_checkpoint}", "--port", str(port), "--name", "wrong", "--device", "cpu", "--no-access-log"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}/v1"
    client = openai.OpenAI(base_url=url, api_key="x", max_retries=0, timeout=5)
    deadline = time.monotonic() + patience(300)
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"codewm serve exited with {process.returncode}:\n{process.stdout.read()}")
            try:
                client.models.list()
                break
            except openai.APIConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail("codewm serve did not start in 120 s")
                time.sleep(0.3)
        yield f"openai:{url}#wrong"
    finally:
        process.terminate()
        try:
            process.wait(timeout=patience(60))
        except subprocess.TimeoutExpired:
            process.kill()


def _debug(spec: str, sandbox) -> DebugSession:
    session = DebugSession(Program.function(WRONG_SOURCE, WRONG_CALL, "double.py"), load_predictor(spec), sandbox=sandbox)
    session.start()
    session.cont()
    return session


def test_every_backend_finds_the_same_divergence_with_the_same_confidence(wrong_checkpoint, served_wrong_checkpoint, sandbox):
    sessions = {spec: _debug(spec, sandbox) for spec in (f"builtin:{wrong_checkpoint}", f"hf:{wrong_checkpoint}", served_wrong_checkpoint)}
    reference = sessions[f"builtin:{wrong_checkpoint}"]
    for spec, session in sessions.items():
        assert session.ended == ENDED_COMPLETE, spec
        truth = session.truth()
        assert truth.first_divergence == WRONG_INDEX, spec
        assert truth.rows[WRONG_INDEX].differences == ["y: predicted 7, real 6"], spec
        assert [s.text for s in session.steps] == [s.text for s in reference.steps], spec
        for step, expected in zip(session.steps, reference.steps):
            assert step.confidence is not None, spec
            assert step.confidence.values.keys() == expected.confidence.values.keys(), spec
            for name, probability in step.confidence.values.items():
                assert probability == pytest.approx(expected.confidence.values[name], rel=1e-3, abs=1e-6), (spec, name)
