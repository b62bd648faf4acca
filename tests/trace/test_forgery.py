"""Programs that try to forge their own ground truth (issue 15, item 1).

The program runs in the same process as codewm's recorder and reporting code; each test here
is an attack that once worked, and the guard that now stops it: a sealed, untraced re-run
that confirms what a traced run claims (`codewm.trace.confirm`), sealed benchmark checks
(`codewm.trace._csealed`), and a worker that fails one program, not the batch, for a
message that does not read. docs/tracer.md ("Trust boundary") says what stays open.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from codewm.cli import app
from codewm.dataset.build import build_dataset
from codewm.dataset.config import load_config
from codewm.dataset.read import read_jsonl_gz
from codewm.evaluate.execution import run_checks
from codewm.trace.sandbox import Program, Sandbox

runner = CliRunner(env={"COLUMNS": "160"})

# Sends made-up steps (f(21) "returns" 43) and an ok final over the channel it is given, then
# kills its own process so that nothing honest follows.
SEND_FORGERY = '''
def _send_forgery(channel):
    import os
    steps = [["call", 3, 0, {}, None, "main"], ["return", 4, 0, None, "43", "main"]]
    channel.send({"steps": steps, "index": 0})
    channel.send({"final": {"index": 0, "status": "ok", "error": None, "touched": []}})
    os.kill(os.getpid(), 9)
'''

FRAME_WALK = SEND_FORGERY + '''
def f(x):
    import sys
    frame = sys._getframe()
    while frame is not None and "channel" not in frame.f_locals:
        frame = frame.f_back
    _send_forgery(frame.f_locals["channel"])
    return x * 2
'''

GC_WALK = SEND_FORGERY + '''
def f(x):
    import gc
    gc.unfreeze()
    _send_forgery(next(o for o in gc.get_objects() if type(o).__name__ == "SignedChannel"))
    return x * 2
'''

# Finds the recorder in a frame above and edits a recorded value in place: y=42 reads y=999,
# while the program returns and prints honestly.
EDIT_STEPS = '''
def _tamper():
    import sys
    frame = sys._getframe()
    while "recorder" not in frame.f_locals:
        frame = frame.f_back
    steps = frame.f_locals["recorder"].steps
    for i, step in enumerate(steps):
        if step[3] and step[3].get("y") == "42":
            steps[i] = step[:3] + ({**step[3], "y": "999"},) + step[4:]

def f(x):
    y = x * 2
    _tamper()
    return y
'''

# Sends the steps recorded so far (true ones, under a valid MAC) through the child's own
# reporting, with status ok, before the program has returned.
EARLY_REPORT = '''
def f(x):
    import os, sys
    frame = sys._getframe()
    while type(frame.f_locals.get("self")).__name__ != "ChildRun":
        frame = frame.f_back
    run = frame.f_locals["self"]
    run.hand_over("ok", None)  # stops tracing, sends every step recorded, then the final
    os.kill(os.getpid(), 9)
    return x * 2
'''

# Wraps the dataset's describer (the child formats each run with it) so that every return
# value in the record reads "-1".
WRAP_DESCRIBER = '''
import codewm.format.cwm as _cwm
_real = _cwm.describe_steps
def _fake(steps, context, status):
    return _real([tuple(s[:4]) + ("'-1'" if s[0] == "return" else s[4], s[5]) for s in steps], context, status)
_cwm.describe_steps = _fake

def f(x):
    return x * 2
'''

# An answer to a benchmark check that finds the channel and declares the check passed.
CHECK_FORGERY = '''
import sys, os
frame = sys._getframe()
while frame is not None and "channel" not in frame.f_locals:
    frame = frame.f_back
channel = frame.f_locals["channel"]
channel.send({"final": {"index": 0, "status": "ok", "error": None, "touched": []}})
os.kill(os.getpid(), 9)
'''

# A correctly signed message nested too deeply for the worker's JSON reader.
NESTED_MESSAGE = '''
import sys, os, struct, hmac
frame = sys._getframe()
while frame is not None and "channel" not in frame.f_locals:
    frame = frame.f_back
channel = frame.f_locals["channel"]
body = b'{"final":' + b'[' * 200000 + b']' * 200000 + b'}'
data = struct.pack(">I", len(body)) + body
tag = hmac.digest(bytes(channel.key), channel.counter.to_bytes(8, "big") + data, "sha256")[:16]
os.write(channel.fd, bytes(channel.marker) + struct.pack(">I", len(data)) + tag + data)
os._exit(0)
'''


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as box:
        yield box


def _trace_cli(tmp_path, source):
    path = tmp_path / "prog.py"
    path.write_text(source)
    result = runner.invoke(app, ["trace", str(path), "--call", "f(21)", "--format", "json"])
    return result, json.loads(result.stdout)


@pytest.mark.parametrize("source", [FRAME_WALK, GC_WALK], ids=["frame-walk", "gc-walk"])
def test_a_forged_trace_is_not_reported_ok(tmp_path, source):
    result, document = _trace_cli(tmp_path, source)
    assert document["status"] == "crashed", document
    assert "tampered with its recorded steps" in document["error"]
    assert result.exit_code == 3


@pytest.mark.parametrize("source", [FRAME_WALK, GC_WALK, EDIT_STEPS], ids=["frame-walk", "gc-walk", "edit-steps"])
def test_steps_that_the_tracer_did_not_record_are_refused(sandbox, source):
    result = sandbox.run(Program.function(source, "f(21)"))
    assert result.status == "crashed", result
    assert "tampered with its recorded steps" in result.error
    assert not any(frame.locals and frame.locals.get("y") == "999" for frame in result.trace.frames)


def test_a_true_prefix_under_a_forged_final_is_refused(sandbox):
    result = sandbox.run(Program.function(EARLY_REPORT, "f(21)"))
    assert result.status == "crashed", result
    assert "without returning from its entry point" in result.error


def test_confirmation_catches_a_forged_outcome(sandbox):
    # The MAC does not cover a run the child formats itself; the re-run checks its outcome.
    from codewm.trace.confirm import confirm

    program = Program.function("def f(x):\n    return x * 2\n", "f(21)")
    honest = sandbox.run(program)
    forged = replace(honest, trace=replace(honest.trace, frames=[replace(honest.trace.frames[-1], value="43")]))
    checked = confirm(sandbox, [program, program], [honest, forged])
    assert checked[0].status == "ok"
    assert checked[1].status == "crashed" and "returned 43, an untraced re-run 42" in checked[1].error


def test_an_honest_trace_is_confirmed(tmp_path):
    result, document = _trace_cli(tmp_path, "def f(x):\n    print('hello')\n    return x * 2\n")
    assert (result.exit_code, document["status"]) == (0, "ok"), document


def test_a_dataset_row_that_wraps_the_describer_is_no_training_record(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        json.dumps({"id": "forger", "code": WRAP_DESCRIBER, "call": "f(21)"}) + "\n"
        + json.dumps({"id": "honest", "code": "def g(x):\n    return x + 1\n", "call": "g(1)"}) + "\n"
    )
    config_path = tmp_path / "build.toml"
    config_path.write_text(
        'name = "t"\noutput = "out"\nshard_size = 8\nmax_trace_tokens = 100000\n'
        f'[[sources]]\nkind = "jsonl"\npath = {json.dumps(str(rows))}\n'
    )
    config = load_config(config_path)
    build_dataset(config, workers=1, progress=False)
    manifest = json.loads((config.output / "manifest.json").read_text())
    records = {r["id"]: r for shard in manifest["shards"] for r in read_jsonl_gz(config.output / f"{shard['name']}.jsonl.gz")}
    forger = records["forger"]
    assert forger["status"] == "crashed" and not forger["in_training"], forger
    assert "returned '-1', an untraced re-run 42" in forger["error"]
    assert records["honest"]["status"] == "ok" and records["honest"]["in_training"]


def test_a_check_answer_cannot_declare_itself_passed():
    code = "def f(x):\n    return x * 2\n"
    answer = f"(exec({CHECK_FORGERY!r}) or 999)"
    honest, forged = run_checks([f"{code}\nassert f(21) == 42", f"{code}\nassert f(21) == {answer}"], timeout=5, workers=1)
    assert honest.passed
    assert not forged.passed and forged.status == "crashed", forged


def test_a_nested_message_fails_its_check_not_the_evaluation():
    results = run_checks([f"exec({NESTED_MESSAGE!r})", "assert 1 + 1 == 2"], timeout=5, workers=1)
    assert [r.passed for r in results] == [False, True]


def test_a_nested_message_fails_its_program_not_the_batch(sandbox):
    forger = Program.function("def f(x):\n    exec(NESTED)\n", "f(1)")
    forger = Program(forger.context.replace("exec(NESTED)", f"exec({NESTED_MESSAGE!r})"))
    results = sandbox.run_batch([forger, Program.function("def g(x):\n    return x + 1\n", "g(1)")])
    assert results[0].status == "crashed" and "tampered" in results[0].error, results[0]
    assert (results[1].status, results[1].trace.output) == ("ok", "2")
