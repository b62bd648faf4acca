"""run_checks: untraced benchmark checks, each in a fresh sandboxed process, in order."""

from __future__ import annotations


import pytest

from codewm.evaluate.execution import CheckResult, check_limits, run_checks
from codewm.trace.sandbox import Sandbox, SandboxLimits

LOOP = "while True:\n    pass\n"


@pytest.fixture(scope="module")
def sandbox():
    # Made for tracing, with its own (longer) limits: run_checks still applies its timeout.
    with Sandbox(SandboxLimits(cpu_seconds=20, wall_seconds=20), workers=2) as box:
        yield box


def test_pass_fail_and_statuses(sandbox):
    results = run_checks(
        ["def f(x):\n    return x + 1\nassert 3 == f(2)", "assert 1 == 2", "x = = 1", "1 / 0", "import sys\nsys.exit(0)"],
        sandbox=sandbox,
    )
    assert results[0] == CheckResult(True, "ok", None)
    assert results[1] == CheckResult(False, "exception", "AssertionError()")
    assert (results[2].passed, results[2].status) == (False, "syntax_error")
    assert results[3] == CheckResult(False, "exception", "ZeroDivisionError('division by zero')")
    assert results[4] == CheckResult(False, "exception", "SystemExit(0)")


def test_order_is_kept_across_workers(sandbox):
    programs = [f"assert {n} % 3 != 0" for n in range(30)]
    assert [r.passed for r in run_checks(programs, sandbox=sandbox)] == [n % 3 != 0 for n in range(30)]


def test_a_loop_times_out_in_about_the_timeout(sandbox):
    results = run_checks([LOOP, "assert True", "import time\ntime.sleep(5)"], timeout=1, sandbox=sandbox)
    # the 5 s sleep times out: the check's 1 s applied, not the sandbox's 20 s (told by the
    # status, not by a clock, so that a loaded machine cannot fail it)
    assert [(r.passed, r.status) for r in results] == [(False, "timeout"), (True, "ok"), (False, "timeout")]
    assert sandbox.limits.wall_seconds == 20


def test_own_sandbox_and_default_timeout():
    results = run_checks(["assert sum(range(10)) == 45", LOOP, "import time\ntime.sleep(1.5)"], timeout=0.5, workers=1)
    # the 1.5 s sleep times out: the 0.5 s applied, not the default 3 s
    assert [r.status for r in results] == ["ok", "timeout", "timeout"]


def test_progress_counts_every_check(sandbox):
    seen = []
    run_checks(["assert True"] * 7, sandbox=sandbox, progress=seen.append)
    assert seen == [1] * 7


def test_each_check_gets_a_fresh_process(sandbox):
    programs = ["import json\njson.LEFT = 1\nassert True", "import json\nassert not hasattr(json, 'LEFT')"] * 3
    assert all(r.passed for r in run_checks(programs, sandbox=sandbox))


def test_hostile_checks_are_contained(sandbox, tmp_path):
    outside = tmp_path / "written-by-a-check"
    touched = tmp_path / "touched-by-a-check"
    results = run_checks(
        [
            f"assert 2 == (open({str(outside)!r}, 'w').write('x'), 2)[1]",
            f"assert 0 == __import__('os').system('touch {touched}')",
            "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)",
        ],
        sandbox=sandbox,
    )
    assert not outside.exists() and not touched.exists()
    assert results[0].status == "exception" and results[0].error.split("(")[0] in ("FileNotFoundError", "PermissionError", "OSError")
    assert not results[1].passed  # `touch` could not reach the host's directory
    assert results[2].status == "exception"
    assert run_checks(["assert 1 == 1"], sandbox=sandbox)[0].passed


def test_arguments_are_checked():
    assert run_checks([]) == []
    with pytest.raises(ValueError, match="timeout"):
        run_checks(["assert True"], timeout=0)
    with pytest.raises(ValueError, match="workers"):
        run_checks(["assert True"], workers=0)
    with pytest.raises(TypeError, match="check 1"):
        run_checks(["assert True", None])


def test_check_limits():
    limits = check_limits(2.5, SandboxLimits(memory_bytes=123 << 20))
    assert (limits.wall_seconds, limits.cpu_seconds, limits.memory_bytes) == (2.5, 2.5, 123 << 20)
    assert check_limits().wall_seconds == 3.0
