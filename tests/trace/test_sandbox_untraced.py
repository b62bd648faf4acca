"""Untraced runs (`Program(traced=False)`, `Program.check`): how benchmark answers are scored.

The program runs in the same sandbox, under the same limits, but without the recorder: no
frames, full speed, and a pass means the code ran to its end.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import replace
from pathlib import Path

import pytest

from patience import patience

import codewm
from codewm.trace.sandbox import Program, Sandbox, SandboxLimits, _program_request
from codewm.trace.tracer import TraceOptions, trace_in_process
from codewm.types import build_context, script_context

LIMITS = SandboxLimits(cpu_seconds=2, wall_seconds=3, memory_bytes=512 << 20, max_steps=2000)
SOURCE = "def f(x):\n    return x * 2\n"
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(limits=LIMITS, workers=2) as box:
        yield box


def test_check_is_an_untraced_whole_script_sent_only_when_untraced():
    program = Program.check("x = 1\n")
    assert (program.context, program.script, program.traced) == ("x = 1\n", True, False)
    assert _program_request(program)["traced"] is False
    # Traced programs send exactly what they sent before the field existed.
    assert "traced" not in _program_request(Program.function(SOURCE, "f(1)"))
    assert "traced" not in _program_request(Program.whole_script("x = 1\n"))


def test_a_passing_check(sandbox):
    result = sandbox.run(Program.check(SOURCE + "assert 42 == f(21)"))
    assert (result.status, result.error) == ("ok", None)
    assert result.trace.frames == [] and not result.trace.complete
    assert result.steps == []


def test_a_failing_assertion_is_an_exception(sandbox):
    result = sandbox.run(Program.check(SOURCE + "assert 41 == f(21)"))
    assert (result.status, result.error) == ("exception", "AssertionError()")


def test_errors_read_as_in_traced_runs(sandbox):
    for source in ("x = {}['missing']\n", "raise ValueError('bad value')\n", "1 / 0\n"):
        untraced = sandbox.run(Program.check(source))
        traced = sandbox.run_script(source)
        assert untraced.status == traced.status == "exception"
        assert untraced.error == traced.error


def test_syntax_error(sandbox):
    untraced = sandbox.run(Program.check("x = = 1\n"))
    traced = sandbox.run(Program.whole_script("x = = 1\n"))
    assert untraced.status == "syntax_error" and untraced.error.startswith("SyntaxError: invalid syntax")
    # The check runs the text as written: no marker line above it, so line 1 is line 1.
    assert "(line 1," in untraced.error and "(line 2," in traced.error


def test_any_system_exit_fails_a_check(sandbox):
    # A scorer counts every BaseException as a failure: an answer must not pass by exiting.
    for source, code in (("import sys\nsys.exit(0)\n", "0"), ("exit()\n", "None"), ("raise SystemExit(3)\n", "3")):
        result = sandbox.run(Program.check(source + "assert False\n"))
        assert (result.status, result.error) == ("exception", f"SystemExit({code})")
    # Traced scripts keep their rule: sys.exit(0) ends a script normally.
    assert sandbox.run_script("import sys\nsys.exit(0)\n").status == "ok"


def test_os_exit_is_not_a_pass(sandbox):
    result = sandbox.run(Program.check("import os\nos._exit(0)\n"))
    assert result.status == "crashed"


def test_function_programs_run_untraced_too(sandbox):
    result = sandbox.run(Program(build_context(SOURCE, "f(2)"), traced=False))
    assert result.status == "ok" and result.trace.frames == []
    result = sandbox.run(Program(build_context(SOURCE, "f('a' - 1)"), traced=False))
    assert result.status == "exception" and result.error.startswith("TypeError(")


def test_infinite_loop_times_out():
    with Sandbox(SandboxLimits(wall_seconds=1, cpu_seconds=1)) as box:
        box.run(Program.check("pass\n"))  # warm
        started = time.monotonic()
        result = box.run(Program.check("while True:\n    pass\n"))
        elapsed = time.monotonic() - started
        assert result.status == "timeout"
        assert elapsed < patience(15)  # stopped (a hang guard: the loop alone never ends)
        sleeper = box.run(Program.check("import time\ntime.sleep(30)\n"))
        assert sleeper.status == "timeout"
        assert box.run(Program.check("assert 1 == 1\n")).ok


def test_limits_given_per_call_replace_the_sandboxs_own(sandbox):
    # A sandbox made for tracing (3 s here) checks answers under a benchmark's own limit.
    tight = SandboxLimits(wall_seconds=1, cpu_seconds=1)
    programs = [Program.check("while True:\n    pass\n"), Program.check("assert 1 == 1\n"), Program.check("import time\ntime.sleep(2)\n")]
    results = list(sandbox.map(programs, limits=tight))
    # the 2 s sleep times out: the call's 1 s applied, not the sandbox's 3 s (told by the
    # status and the message, not by a clock that a loaded machine slows)
    assert [r.status for r in results] == ["timeout", "ok", "timeout"]
    assert "1 s" in results[0].error
    assert sandbox.limits == LIMITS  # untouched
    assert sandbox.run_batch([Program.check("import time\ntime.sleep(1.5)\n")])[0].ok


def test_the_tracer_is_really_off(sandbox):
    # A million loop iterations: far past the step limit when traced, and quick untraced.
    source = "total = 0\nfor i in range(1_000_000):\n    total += i\nassert total == 499999500000\n"
    traced = sandbox.run(Program.whole_script(source))
    assert traced.status == "step_limit"
    untraced = sandbox.run(Program.check(source))
    assert (untraced.status, untraced.error) == ("ok", None)
    assert untraced.wall_seconds < patience(15)  # the status says the tracer was off; this only bounds it
    # Under a settrace hook a program could see the tracer; untraced, there is none.
    probe = sandbox.run(Program.check("import sys\nassert sys.gettrace() is None\n"))
    assert probe.ok, probe.error


def test_pure_python_work_that_tracing_would_slow_past_the_limit():
    # Pure Python that takes well under 0.5 s, with a 1 s limit: untraced it passes; traced
    # (with room for every step) the same work is many times slower and cannot finish.
    source = (
        "def f(n):\n    acc = []\n    for i in range(n):\n        acc.append(i % 7)\n    return sum(acc)\n"
        "assert f(1_500_000) == 4499995\n"
    )
    limits = SandboxLimits(wall_seconds=1, cpu_seconds=1, max_steps=50_000_000, trace_bytes=1 << 40)
    with Sandbox(limits) as box:
        untraced = box.run(Program.check(source))
        assert (untraced.status, untraced.error) == ("ok", None)
        traced = box.run(Program.whole_script(source))
        assert traced.status == "timeout", traced.error


def test_untraced_and_traced_programs_share_a_batch(sandbox):
    results = sandbox.run_batch([
        Program.check(SOURCE + "assert f(1) == 2"),
        Program.function(SOURCE, "f(3)"),
        Program.check(SOURCE + "assert f(1) == 3"),
        Program.whole_script("x = 5\n"),
    ])
    assert [r.status for r in results] == ["ok", "ok", "exception", "ok"]
    assert results[1].trace.output == "6" and results[1].trace.complete
    assert results[3].trace.frames and results[3].trace.complete
    assert results[0].trace.frames == [] and results[2].trace.frames == []


def test_map_gives_each_check_a_fresh_process(sandbox):
    # One check changes a module; with batch_size=1 the next one cannot see it.
    programs = [Program.check("import json\njson.LEFT = 1\n"), Program.check("import json\nassert not hasattr(json, 'LEFT')\n")] * 3
    assert [r.status for r in sandbox.map(programs, batch_size=1)] == ["ok"] * 6


def test_in_process_untraced_run():
    result = trace_in_process("x = 1\nassert x == 1\n", script=True, traced=False)
    assert (result.status, result.error, result.trace.frames) == ("ok", None, [])
    result = trace_in_process(build_context(SOURCE, "f(None)"), traced=False)
    assert result.status == "exception" and result.error.startswith("TypeError(")
    result = trace_in_process(script_context("for i in range(100):\n    pass\n"), script=True, traced=False, options=TraceOptions(max_steps=5))
    assert result.status == "ok"  # no steps are counted when nothing records them
    result = trace_in_process("def main(:\n", traced=False)
    assert result.status == "syntax_error"


# -- hostile checks: the sandbox still holds without the tracer ---------------------------------
@pytest.mark.parametrize("target", ["/etc/codewm-untraced", "REPO/codewm-untraced", "SENTINEL", "PACKAGE_INIT"])
def test_writes_outside_the_work_directory_fail(sandbox, tmp_path, target):
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("original")
    package_init = Path(codewm.__file__).resolve()
    path = {"SENTINEL": str(sentinel), "PACKAGE_INIT": str(package_init)}.get(target, target.replace("REPO", str(REPO_ROOT)))
    payload = "" if target == "PACKAGE_INIT" else "pwned"
    existed = os.path.lexists(path)
    package_mtime = package_init.stat().st_mtime_ns
    try:
        result = sandbox.run(Program.check(f"with open({path!r}, 'a') as h:\n    h.write({payload!r})\nassert True\n"))
    finally:
        if not existed and os.path.lexists(path):
            os.remove(path)
    assert result.status == "exception", (result.status, result.error)
    assert result.error.split("(")[0] in ("OSError", "PermissionError", "FileNotFoundError"), result.error
    assert sentinel.read_text() == "original"
    assert package_init.stat().st_mtime_ns == package_mtime


def test_the_network_is_unreachable(sandbox):
    result = sandbox.run(Program.check("import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)\n"))
    assert result.status == "exception" and "OSError" in result.error or "gaierror" in result.error, result.error


def test_a_started_process_does_not_outlive_the_check(sandbox):
    argv = ["sleep", "1000", f"0.000{random.randrange(10**9):09d}"]
    source = f"import subprocess\nsubprocess.Popen({argv!r})\nassert 1 == 1\n"
    result = sandbox.run_batch([Program.check(source)], limits=replace(LIMITS, processes=2))[0]
    assert result.status == "ok", result.error
    wanted = b"\0".join(a.encode() for a in argv) + b"\0"
    deadline = time.monotonic() + patience(60)
    while True:
        alive = []
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if handle.read() == wanted:
                        alive.append(entry)
            except OSError:
                continue
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not alive
    assert sandbox.run(Program.check("assert 2 == 2\n")).ok
