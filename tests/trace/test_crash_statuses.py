"""A program that kills itself crashed; `timeout` is only ever a limit codewm enforced
(issue 15, item 4). Signals a program sends itself used to read as timeouts."""

from __future__ import annotations

import pytest

from codewm.trace.sandbox import Program, Sandbox, SandboxLimits

SELF_KILLS = {
    "sigkill": "import os\n    os.kill(os.getpid(), 9)",
    "sigterm": "import os, signal\n    os.kill(os.getpid(), signal.SIGTERM)",
    "sigxcpu": "import signal\n    signal.raise_signal(signal.SIGXCPU)",
}


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(SandboxLimits(cpu_seconds=1.0, wall_seconds=20.0), workers=1) as box:
        yield box


def _program(body: str, traced: bool) -> Program:
    program = Program.function(f"def f():\n    {body}\n    return 1\n", "f()")
    return program if traced else Program(program.context, traced=False)


@pytest.mark.parametrize("traced", [True, False], ids=["traced", "untraced"])
@pytest.mark.parametrize("name", sorted(SELF_KILLS))
def test_a_program_that_kills_itself_crashed(sandbox, name, traced):
    result = sandbox.run(_program(SELF_KILLS[name], traced))
    assert result.status == "crashed", result
    assert "SIG" in result.error


@pytest.mark.parametrize("traced", [True, False], ids=["traced", "untraced"])
def test_the_cpu_limit_is_still_a_timeout(sandbox, traced):
    result = sandbox.run(_program("sum(range(10 ** 12))", traced))  # C code: no traced steps
    assert result.status == "timeout", result
    assert "CPU-time limit" in result.error


@pytest.mark.parametrize("traced", [True, False], ids=["traced", "untraced"])
def test_the_wall_clock_is_still_a_timeout(traced):
    with Sandbox(SandboxLimits(cpu_seconds=10.0, wall_seconds=1.0), workers=1) as box:
        result = box.run(_program("import time\n    time.sleep(30)", traced))
    assert result.status == "timeout", result
    assert "wall-clock limit" in result.error


def test_a_self_kill_ends_only_its_program_in_a_batch(sandbox):
    results = sandbox.run_batch([_program(SELF_KILLS["sigterm"], True), _program("pass", True)])
    assert [r.status for r in results] == ["crashed", "ok"]



def test_a_wall_clock_that_strikes_while_steps_stream_is_a_timeout_every_time():
    # A busy traced loop streams its steps in chunks, and the child often waits for the
    # worker to read one; the worker's SIGTERM lands wherever it lands, mid-chunk included.
    # Its handler used to resend the chunk being sent (a MAC mismatch, read as tampering:
    # `crashed`) about one run in four.
    limits = SandboxLimits(wall_seconds=1.0, cpu_seconds=10.0, max_steps=50_000_000, trace_bytes=1 << 40)
    program = Program.function("def f(n):\n    acc = []\n    for i in range(n):\n        acc.append(i % 7)\n    return sum(acc)\n", "f(10 ** 8)")
    with Sandbox(limits, workers=1) as box:
        results = [box.run(program) for _ in range(8)]
    assert [(r.status, r.error) for r in results if r.status != "timeout"] == []
