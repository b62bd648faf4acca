"""The sandbox as a pool: warm workers, isolation between programs, replacement, ordering."""

from __future__ import annotations

import os
import signal

import pytest

from codewm.trace.sandbox import Program, Sandbox, SandboxError, SandboxLimits, probe_bwrap
from codewm.trace.tracer import trace_function
from codewm.types import RunResult

LIMITS = SandboxLimits(cpu_seconds=2, wall_seconds=3, memory_bytes=512 << 20, max_steps=2000)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(limits=LIMITS, workers=2) as box:
        yield box


def test_bubblewrap_is_available_and_used_by_default(sandbox):
    # CI installs bubblewrap (scripts/install-system-packages): the strong mode must be in force.
    usable, why = probe_bwrap()
    assert usable, why
    assert sandbox.isolation == "bwrap" and sandbox.isolation_notes == []


def test_sandboxed_trace_equals_the_in_process_trace(sandbox):
    source = "def f(xs):\n    ys = [x * 2 for x in xs]\n    xs.sort()\n    return ys, xs\n"
    result = sandbox.run_function(source, "f([3, 1])")
    assert isinstance(result, RunResult) and result.ok
    assert result.trace == trace_function(source, "f([3, 1])").trace
    assert result.trace.output == "([6, 2], [1, 3])"


def test_map_keeps_input_order_across_workers(sandbox):
    programs = [Program.function("def f(n):\n    return n * n\n", f"f({n})") for n in range(40)]
    outputs = [result.trace.output for result in sandbox.map(programs)]
    assert outputs == [str(n * n) for n in range(40)]


def test_workers_stay_warm(sandbox):
    before = sandbox.workers_started
    for n in range(20):
        assert sandbox.run_function("def f():\n    return 1\n", "f()").ok
    assert sandbox.workers_started == before


def test_no_program_sees_what_another_left_behind(sandbox):
    writer = (
        "import os, sys, json, tempfile\n"
        "def f():\n"
        "    open('left.txt', 'w').write('secret')\n"
        "    tempfile.NamedTemporaryFile(delete=False).write(b'secret')\n"
        "    json.LEFT = 'secret'\n"
        "    sys.modules['leftover'] = json\n"
        "    return os.getcwd()\n"
    )
    reader = (
        "import os, sys, json\n"
        "def f():\n"
        "    seen = []\n"
        "    for path in ('left.txt', os.environ['TMPDIR']):\n"
        "        seen.append(os.path.exists(path) and bool(os.listdir(path)) if path != 'left.txt' else os.path.exists(path))\n"
        "    seen.append(hasattr(json, 'LEFT'))\n"
        "    seen.append('leftover' in sys.modules)\n"
        "    seen.append(sorted(os.listdir('.')))\n"
        "    return seen\n"
    )
    with Sandbox(limits=LIMITS, workers=1) as box:  # one worker: the reader runs where the writer ran
        first = box.run_function(writer, "f()")
        assert first.ok, first.error
        second = box.run_function(reader, "f()")
        assert second.ok, second.error
        assert second.trace.output == "[False, False, False, False, []]"
        assert first.trace.output != second.trace.output


def test_a_dead_worker_is_replaced():
    with Sandbox(limits=LIMITS, workers=1) as box:
        assert box.run_function("def f():\n    return 1\n", "f()").ok
        worker = box._idle[0]
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.wait()
        result = box.run_function("def f():\n    return 2\n", "f()")
        assert result.ok and result.trace.output == "2"
        assert box.workers_started == 2


def test_partial_trace_on_timeout(sandbox):
    source = "import time\ndef f():\n    x = 1\n    y = 2\n    time.sleep(60)\n"
    result = sandbox.run_function(source, "f()")
    assert result.status == "timeout"
    assert [frame.source.strip() for frame in result.trace.frames][-3:] == ["x = 1", "y = 2", "time.sleep(60)"]
    assert not result.trace.complete


def test_program_output_is_captured(sandbox):
    result = sandbox.run_function("def f():\n    print('hello')\n    return 0\n", "f()")
    assert result.ok and result.stdout == "hello\n" and not result.output_truncated


def test_scripts_run_whole(sandbox):
    result = sandbox.run_script("total = 0\nfor i in range(3):\n    total += i\nprint(total)\n")
    assert result.ok and result.stdout == "3\n"
    assert result.trace.frames[0].event == "call" and result.trace.complete


def test_process_mode_is_reported_as_weaker():
    with Sandbox(limits=LIMITS, isolation="process") as box:
        assert box.isolation == "process"
        result = box.run_function("def f():\n    return 5\n", "f()")
        assert result.ok and result.trace.output == "5"


def test_bad_arguments():
    with pytest.raises(ValueError, match="isolation must be one of"):
        Sandbox(isolation="docker")
    with pytest.raises(ValueError, match="workers must be at least 1"):
        Sandbox(workers=0)
    box = Sandbox(limits=LIMITS)
    box.close()
    result = box.run_function("def f():\n    return 1\n", "f()")
    assert result.status == "sandbox_error" and "closed" in result.error


def test_bwrap_mode_fails_loudly_where_bubblewrap_is_missing(monkeypatch):
    monkeypatch.setattr("codewm.trace.sandbox.bwrap_path", lambda: None)
    with pytest.raises(SandboxError, match="bubblewrap"):
        Sandbox(isolation="bwrap")
    with Sandbox(limits=LIMITS) as box:  # auto: the weaker mode, said out loud
        assert box.isolation == "process"
        assert any("weaker sandbox" in note for note in box.isolation_notes)
        assert box.run_function("def f():\n    return 3\n", "f()").trace.output == "3"


def test_a_worker_outside_bubblewrap_refuses_sandboxed_mode(tmp_path):
    # A sandboxed worker wipes /tmp after each program: never on the host.
    from codewm.trace.worker import Worker

    with pytest.raises(RuntimeError, match="not inside bubblewrap"):
        Worker(str(tmp_path / "base"), sandboxed=True, uid=None)


@pytest.mark.parametrize(
    "body,expected",
    [
        ("return open('/etc/hostname').read()[:0]", "open:/etc/hostname:r"),
        ("open('x.txt', 'w').write('a')", "open:x.txt:w"),
        ("import os\n    return len(os.listdir('.'))", "os.listdir:."),
        ("import socket\n    socket.socket()", "socket.__new__"),
        ("import subprocess\n    subprocess.run(['true'])", "subprocess.Popen"),
    ],
)
def test_audit_records_what_a_program_touches(sandbox, body, expected):
    result = sandbox.run(Program.function(f"def f():\n    {body}\n", "f()", audit=True))
    assert expected in result.touched, result.touched


def test_audit_ignores_imports_and_pure_code(sandbox):
    source = "import json\ndef f():\n    import colorsys, fractions\n    return json.dumps([colorsys.rgb_to_hsv(1, 0, 0)[2], str(fractions.Fraction(1, 3))])\n"
    result = sandbox.run(Program.function(source, "f()", audit=True))
    assert result.ok and result.touched == []
    assert sandbox.run(Program.function("def f():\n    return open('/etc/hostname').read()[:0]\n", "f()")).touched == []


def test_multiprocessing_shared_memory_and_locks_work():
    # Legitimate programs use /dev/shm (multiprocessing's Lock, Pool, shared_memory): the
    # sandbox gives each worker a small private, writable one.
    source = (
        "from multiprocessing import Lock, Pool, shared_memory\n"
        "def f():\n"
        "    with Lock():\n"
        "        block = shared_memory.SharedMemory(create=True, size=1024)\n"
        "        block.buf[0] = 7\n"
        "        value = block.buf[0]\n"
        "        block.close()\n"
        "        block.unlink()\n"
        "    with Pool(2) as pool:\n"
        "        sizes = pool.map(abs, [-1, -2, 3])  # a built-in: __main__ is not importable\n"
        "    print(value, sizes)\n"
        "    return value, sizes\n"
    )
    # Starting a pool takes a while on a loaded machine: more wall time than the other tests.
    # Pool(2): the program, 2 workers, the resource tracker and the pool's 3 threads (each
    # thread reserves 8 MiB of its process's address space for its stack).
    with Sandbox(limits=SandboxLimits(cpu_seconds=10, wall_seconds=60, memory_bytes=1 << 30, processes=8), workers=1) as box:
        result = box.run_function(source, "f()")
    assert result.status == "ok", result.error
    # pool.terminate() sends SIGTERM to the pool's processes: they must not close the
    # program's output (what it printed afterwards was lost).
    assert result.trace.output == "(7, [1, 2, 3])" and result.stdout == "7 [1, 2, 3]\n"
