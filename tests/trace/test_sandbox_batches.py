"""Batches: many programs in one child process, each still with its own result and state."""

from __future__ import annotations

import pytest

from codewm.trace.sandbox import Program, Sandbox, SandboxLimits

LIMITS = SandboxLimits(cpu_seconds=2, wall_seconds=2, memory_bytes=256 << 20, max_steps=500, output_bytes=1000)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(limits=LIMITS, workers=2) as box:
        yield box


def fn(body: str, call: str = "f()") -> Program:
    return Program.function("def f():\n" + "".join(f"    {line}\n" for line in body.splitlines()), call)


def test_a_batch_gives_the_same_results_as_single_runs(sandbox):
    programs = [
        fn("x = [3, 1, 2]\nx.sort()\nreturn x"),
        fn("raise KeyError('k')"),
        Program.function("def f(:\n", "f()"),
        fn("print('hi')\nreturn sum(range(10))"),
        Program.whole_script("a = 1\nb = a + 1\nprint(b)\n"),
    ]
    singles = [sandbox.run(p) for p in programs]
    batched = sandbox.run_batch(programs)
    assert [r.status for r in batched] == ["ok", "exception", "syntax_error", "ok", "ok"]
    for single, batch in zip(singles, batched):
        assert (batch.status, batch.error, batch.trace, batch.stdout) == (single.status, single.error, single.trace, single.stdout)


@pytest.mark.parametrize(
    "bad,status",
    [
        ("import time\ntime.sleep(30)", "timeout"),
        ("import ctypes\nctypes.string_at(0)", "crashed"),
        ("while True:\n    pass", "step_limit"),
        ("x = [0] * (10 ** 10)", "memory_limit"),
        ("import os\nos._exit(4)", "crashed"),
        ("import threading\nthreading.Thread(target=lambda: None).start()\nreturn 1", "ok"),
    ],
)
def test_a_program_that_ends_its_child_leaves_the_others_unharmed(sandbox, bad, status):
    programs = [fn("return 1"), fn(bad), fn("return 3"), fn("print('after')\nreturn 4")]
    results = sandbox.run_batch(programs)
    assert [r.status for r in results] == ["ok", status, "ok", "ok"]
    assert [r.trace.output for r in results[2:]] == ["3", "4"]
    assert results[3].stdout == "after\n"


def test_programs_in_a_batch_do_not_see_each_others_state(sandbox):
    writer = fn(
        "import os, sys, builtins, json\n"
        "open('left.txt', 'w').write('x')\n"
        "os.environ['LEFT'] = '1'\n"
        "builtins.LEFT = 1\n"
        "sys.path.append('/nowhere')\n"
        "import colorsys\n"
        "sys.setrecursionlimit(50)\n"
        "return 0"
    )
    reader = fn(
        "import os, sys, builtins\n"
        "return [os.path.exists('left.txt'), 'LEFT' in os.environ, hasattr(builtins, 'LEFT'),\n"
        "        '/nowhere' in sys.path, 'colorsys' in sys.modules, sys.getrecursionlimit() > 50, os.listdir('.')]"
    )
    first, second = sandbox.run_batch([writer, reader])
    assert first.ok and second.ok, (first.error, second.error)
    assert second.trace.output == "[False, False, False, False, False, True, []]"


def test_output_is_split_per_program_and_bounded(sandbox):
    programs = [fn("print('a' * 5000)"), fn("print('b')"), fn("import sys\nsys.stdout.write('c')")]
    results = sandbox.run_batch(programs)
    assert results[0].stdout == "a" * 1000 and results[0].output_truncated
    assert results[1].stdout == "b\n" and not results[1].output_truncated
    assert results[2].stdout == "c"


def test_map_with_batches_keeps_order(sandbox):
    programs = [Program.function("def f(n):\n    return n * 3\n", f"f({n})") for n in range(50)]
    outputs = [r.trace.output for r in sandbox.map(programs, batch_size=16)]
    assert outputs == [str(3 * n) for n in range(50)]
    with pytest.raises(ValueError, match="batch_size"):
        list(sandbox.map(programs, batch_size=0))


def test_each_program_gets_its_own_wall_clock(sandbox):
    # Three programs of 0.8 s each in one child: over the 2 s limit together, not one by one.
    programs = [fn("import time\ntime.sleep(0.8)\nreturn 1")] * 3
    assert [r.status for r in sandbox.run_batch(programs)] == ["ok", "ok", "ok"]
