"""Hostile programs through the sandbox: each one must end with the exact status expected,
leave nothing running, touch nothing outside its work directory and leave codewm working.

All runs share one module-scoped `Sandbox` with tight limits, so the module stays fast. After
every program the test checks on the host (through /proc) that no process the program
started is still alive; the follow-up `f(1) == 2` run is done after the programs that attack
the sandbox itself, and once more at the end of the module.
"""

from __future__ import annotations

import os
import random
import socket
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import pytest

import codewm
from patience import patience
from codewm.trace.sandbox import Program, Sandbox, SandboxLimits
from codewm.types import STATUSES, RunResult

LIMITS = SandboxLimits(
    cpu_seconds=2,
    wall_seconds=3,
    memory_bytes=256 << 20,
    max_steps=2000,
    output_bytes=64 << 10,
    file_size_bytes=1 << 20,
    processes=4,  # the fork cases below need a few; each then gets a quarter of the memory
    repr_timeout=0.25,
)
# The same limits with time to spare, for cases whose point is not the clock: the memory
# bomb must hit the memory limit (on a loaded machine, 3 s of wall time could run out
# first), and a program that returns while a thread or child lingers must be answered at
# once (were the sandbox to wait for them, it would now wait for minutes and say timeout).
UNHURRIED = replace(LIMITS, cpu_seconds=60, wall_seconds=120)
TRIVIAL_SOURCE = "def f(x):\n    return x + 1\n"
REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_INIT = Path(codewm.__file__).resolve()
WORKER_MARKER = b"from codewm.trace.worker import main"
# A `sleep` command line that no other process on this machine has: `sleep` adds its
# arguments up, so this sleeps 1000 s and a bit.
SLEEP_ARGS = ["sleep", "1000", f"0.000{random.randrange(10**9):09d}"]


# -- host-side process inspection ---------------------------------------------------------------
def _process_table() -> dict[int, tuple[int, bytes]]:
    """pid -> (parent pid, command line) for every process visible on the host."""
    table: dict[int, tuple[int, bytes]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue  # exited meanwhile
        fields = stat[stat.rfind(b")") + 2 :].split()
        table[int(entry)] = (int(fields[1]), cmdline)
    return table


def _descendants(table: dict[int, tuple[int, bytes]], root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _worker_pids(table: dict[int, tuple[int, bytes]]) -> list[int]:
    """The sandbox workers of this test process (bwrap or not): the topmost processes below
    us that run the worker bootstrap (a program's forked processes share that command line)."""
    def runs_worker(pid: int) -> bool:
        argv = table.get(pid, (0, b""))[1].split(b"\0")
        return len(argv) > 4 and argv[3] == b"-c" and WORKER_MARKER in argv[4]  # not bwrap's argv

    ours = _descendants(table, os.getpid())
    return [pid for pid in ours if runs_worker(pid) and not runs_worker(table[pid][0])]


def _leftover_processes() -> list[str]:
    """Processes that a program started and that are still alive: any descendant of a worker
    (between runs a worker has no children at all)."""
    table = _process_table()
    leftovers = []
    for worker in _worker_pids(table):
        for pid in _descendants(table, worker):
            command = table[pid][1].replace(b"\0", b" ").decode(errors="replace")
            leftovers.append(f"{pid}: {command}")
    return leftovers


def _host_pids_in_sandbox(inner_pid: int) -> list[int]:
    """Host pids of the processes that have pid `inner_pid` inside a worker's PID namespace."""
    table = _process_table()
    namespaces = set()
    for worker in _worker_pids(table):
        try:
            namespaces.add(os.readlink(f"/proc/{worker}/ns/pid"))
        except OSError:
            pass
    namespaces.discard(os.readlink("/proc/self/ns/pid"))
    found = []
    for pid in table:
        try:
            if os.readlink(f"/proc/{pid}/ns/pid") not in namespaces:
                continue
            with open(f"/proc/{pid}/status") as handle:
                nspid = next(line for line in handle if line.startswith("NSpid:")).split()[1:]
        except (OSError, StopIteration):
            continue
        if nspid and int(nspid[-1]) == inner_pid:
            found.append(pid)
    return found


def _processes_with_cmdline(argv: list[str]) -> list[int]:
    wanted = b"\0".join(arg.encode() for arg in argv) + b"\0"
    return [pid for pid, (_, cmdline) in _process_table().items() if cmdline == wanted]


def _assert_healthy(sandbox: Sandbox) -> None:
    os.kill(os.getpid(), 0)  # this (the codewm) process is alive
    follow_up = sandbox.run_function(TRIVIAL_SOURCE, "f(1)")
    assert follow_up.status == "ok", (follow_up.status, follow_up.error)
    assert follow_up.trace.output == "2"


def _locals_seen(result: RunResult, name: str) -> list[str]:
    return [frame.locals[name] for frame in result.trace.frames if frame.locals and name in frame.locals]


# -- the programs -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    id: str
    source: str
    status: str
    call: str | None = "f()"  # None: run `source` as a whole script
    error: str | None = None  # a substring the error must contain
    check: Callable[[RunResult, Sandbox], None] | None = None  # further assertions
    after: Callable[[RunResult], None] | None = None  # host-side checks, before the status
    limits: SandboxLimits | None = None  # instead of LIMITS (see UNHURRIED)


def _partial_trace_has(name: str, value: str):
    def check(result: RunResult, _sandbox: Sandbox) -> None:
        assert not result.trace.complete
        assert result.trace.frames, "the partial trace was lost"
        assert value in _locals_seen(result, name), result.trace.frames

    return check


def _local_was(name: str, value: str):
    def check(result: RunResult, _sandbox: Sandbox) -> None:
        assert value in _locals_seen(result, name), result.trace.frames

    return check


def _check_step_limit(result: RunResult, _sandbox: Sandbox) -> None:
    assert len(result.trace.frames) == LIMITS.max_steps
    assert not result.trace.complete


def _check_sleep_partial_trace(result: RunResult, _sandbox: Sandbox) -> None:
    assert "wall-clock" in result.error
    assert not result.trace.complete
    sleeping = [f for f in result.trace.frames if f.event == "line" and "time.sleep" in f.source]
    assert sleeping and sleeping[-1].locals == {"x": "42"}, result.trace.frames


def _check_huge_stdout(result: RunResult, _sandbox: Sandbox) -> None:
    assert result.output_truncated
    assert result.stdout == "z" * LIMITS.output_bytes
    assert result.trace.output == "1"


def _check_exit_code(code: int):
    def check(result: RunResult, _sandbox: Sandbox) -> None:
        assert result.error == f"the program called os._exit({code})"
        _partial_trace_has("x", "7")(result, _sandbox)

    return check


def _check_sys_exit(result: RunResult, _sandbox: Sandbox) -> None:
    assert result.trace.raised  # f did not return: SystemExit went through main
    assert result.trace.output == "None"


def _check_output(expected: str):
    def check(result: RunResult, _sandbox: Sandbox) -> None:
        assert result.trace.output == expected, (result.trace.output, result.error)

    return check


def _check_healthy_and_output(expected: str):
    def check(result: RunResult, sandbox: Sandbox) -> None:
        assert result.trace.output == expected
        _assert_healthy(sandbox)

    return check


def _check_rendered_local(predicate: Callable[[str], bool]):
    def check(result: RunResult, _sandbox: Sandbox) -> None:
        seen = _locals_seen(result, "x")
        assert seen, result.trace.frames
        assert all(predicate(text) for text in seen), seen
        assert result.trace.output == "1"

    return check


def _is_cut(text: str) -> bool:
    return text.endswith("...") and len(text) == LIMITS.max_value_chars + 3 and text[:-3] == "m" * LIMITS.max_value_chars


def _check_monitoring(result: RunResult, _sandbox: Sandbox) -> None:
    if hasattr(sys, "monitoring"):  # 3.12+: the sandbox's guard refuses
        assert result.error.startswith("RuntimeError(") and "codewm sandbox" in result.error
    else:  # 3.11: there is no sys.monitoring to misuse
        assert result.error.startswith("AttributeError(") and "monitoring" in result.error


def _check_prompt(seconds: float, expected_output: str):
    def check(result: RunResult, _sandbox: Sandbox) -> None:
        assert result.trace.output == expected_output
        assert result.wall_seconds < seconds, f"the run took {result.wall_seconds:.2f} s after the program returned"

    return check


def _check_stopped_in_time(result: RunResult, _sandbox: Sandbox) -> None:
    # the wall limit was enforced (the program alone would run for days); the margin is
    # generous because a loaded machine is slow to kill and reap
    assert result.wall_seconds < LIMITS.wall_seconds + patience(10), result.wall_seconds


def _check_single_trace(expected_output: str):
    def check(result: RunResult, _sandbox: Sandbox) -> None:
        returns = [f.value for f in result.trace.frames if f.event == "return" and f.depth == 0]
        assert returns == [expected_output], f"depth-0 returns {returns}: frames of several processes"
        assert result.trace.output == expected_output

    return check


def _no_sleep_left(result: RunResult) -> None:
    assert not _processes_with_cmdline(SLEEP_ARGS), "the background `sleep 1000` survived the run"


def _daemon_gone(result: RunResult) -> None:
    lines = [line for line in result.stdout.splitlines() if line.startswith("daemon ")]
    assert lines, f"the daemon did not report its pid: {result.stdout!r}"
    inner_pid = int(lines[0].split()[1])
    assert not _host_pids_in_sandbox(inner_pid), f"the double-forked daemon (pid {inner_pid} in the sandbox) survived"


UNICODE_TEXT = "h\u00e9llo \u2713 \u65e5\u672c\u8a9e \U0001f389 \u03a9\u03bc\u03ad\u03b3\u03b1 \u202eevil\u202c \u0000 end"

CASES = [
    # -- runaway computation ----------------------------------------------------------------
    Case("infinite_loop_python", "def f():\n    n = 0\n    while True:\n        n += 1\n", "step_limit",
         error="more than 2000 steps", check=_check_step_limit),
    Case("infinite_loop_c_level", "import itertools\ndef f():\n    return sum(itertools.count())\n", "timeout",
         check=_check_stopped_in_time),
    Case("sleep_forever", "import time\ndef f():\n    x = 41\n    x += 1\n    time.sleep(10**6)\n", "timeout",
         check=_check_sleep_partial_trace),
    Case("sigterm_ignored_then_sleep",
         "import signal, time\ndef f():\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n    time.sleep(10**6)\n",
         "timeout"),
    # Unbounded recursion under the default recursion limit: ~1000 levels of call+line frames,
    # then the unwinding (exception+return per level), is more than max_steps=2000 frames.
    Case("deep_recursion", "def f(n):\n    return f(n + 1)\n", "step_limit", call="f(0)", check=_check_step_limit),
    # Under a low recursion limit the RecursionError comes first and ends the run.
    Case("deep_recursion_low_limit", "import sys\nsys.setrecursionlimit(150)\ndef f(n):\n    return f(n + 1)\n",
         "exception", call="f(0)", error="RecursionError"),
    # Recursion in code the tracer does not record (built by eval): no frames, just the error.
    Case("deep_recursion_untraced",
         'def f():\n    ns = {}\n    ns["g"] = eval("lambda n: g(n + 1)", ns)\n    return ns["g"](0)\n', "exception",
         error="RecursionError"),
    # -- memory ----------------------------------------------------------------------------------
    Case("memory_bomb_growing_list", "def f():\n    a = []\n    while True:\n        a.append([0] * (1 << 20))\n",
         "memory_limit"),
    Case("memory_bomb_one_allocation", "def f():\n    return bytearray(1 << 30)\n", "memory_limit"),
    Case("memory_bomb_string_doubling", 'def f():\n    s = "x"\n    while True:\n        s = s + s\n', "memory_limit",
         limits=UNHURRIED),
    Case("memory_bomb_bytearray_chunks",
         "def f():\n    a = []\n    while True:\n        a.append(bytearray(8 << 20))\n", "memory_limit"),
    # /dev/shm is writable (multiprocessing needs it) but a capped private tmpfs: filling it
    # fails instead of taking host memory (40 MiB against a 16 MiB cap; each file under
    # file_size_bytes).
    Case("dev_shm_filled_past_its_cap",
         "def f():\n    for i in range(40):\n        with open(f'/dev/shm/fill{i}', 'wb') as h:\n"
         "            h.write(b'x' * ((1 << 20) - 1))\n", "exception", error="No space left on device"),
    # -- processes --------------------------------------------------------------------------------
    Case("fork_bomb", "import os\ndef f():\n    while True:\n        os.fork()\n", "exception", error="BlockingIOError"),
    Case("kill_parent", "import os\ndef f():\n    os.kill(os.getppid(), 9)\n", "exception", error="PermissionError"),
    Case("kill_everything", "import os\ndef f():\n    os.kill(-1, 9)\n    return 1\n", "ok",
         check=_check_healthy_and_output("1")),
    Case("subprocess_run_true", 'import subprocess\ndef f():\n    return subprocess.run(["true"]).returncode\n', "ok",
         check=_check_output("0")),
    Case("background_subprocess",
         f"import subprocess\ndef f():\n    p = subprocess.Popen({SLEEP_ARGS!r})\n    return 1\n", "ok",
         after=_no_sleep_left, check=_check_prompt(patience(30), "1"), limits=UNHURRIED),
    Case("double_forked_daemon",
         "import os, time\n"
         "def f():\n"
         "    r, w = os.pipe()\n"
         "    if os.fork() == 0:\n"
         "        os.setsid()\n"
         "        if os.fork() == 0:\n"
         '            os.write(1, b"daemon %d\\n" % os.getpid())\n'
         '            os.write(w, b"x")\n'
         "            time.sleep(1000)\n"
         "        os._exit(0)\n"
         "    os.read(r, 1)\n"
         "    return 1\n",
         "ok", after=_daemon_gone, check=_check_output("1")),
    Case("forked_child_calls_os_exit",
         "import os\ndef f():\n    if os.fork() == 0:\n        os._exit(0)\n    os.wait()\n    return 5\n", "ok",
         check=_check_output("5")),
    # A forked child that returns normally: the trace is the traced process's own, not a
    # mix of both processes' frames (the child's `return 2` is not the program's result).
    Case("forked_child_returns",
         "import os\ndef f():\n    pid = os.fork()\n    if pid == 0:\n        return 2\n    os.waitpid(pid, 0)\n    return 1\n",
         "ok", check=_check_single_trace("1")),
    Case("thread_that_finishes",
         "import threading\ndef f():\n    out = []\n    t = threading.Thread(target=lambda: out.append(1))\n"
         "    t.start()\n    t.join()\n    return out\n",
         "ok", check=_check_output("[1]")),
    Case("thread_that_never_finishes",
         "import threading, time\ndef f():\n    threading.Thread(target=time.sleep, args=(1000,)).start()\n    return 1\n",
         "ok", check=_check_prompt(patience(30), "1"), limits=UNHURRIED),
    Case("segfault", "import ctypes\ndef f():\n    return ctypes.string_at(0)\n", "crashed", error="SIGSEGV"),
    # -- exits --------------------------------------------------------------------------------------
    Case("os_exit_0", "import os\ndef f():\n    x = 7\n    os._exit(0)\n", "crashed", check=_check_exit_code(0)),
    Case("os_exit_3", "import os\ndef f():\n    x = 7\n    os._exit(3)\n", "crashed", check=_check_exit_code(3)),
    Case("sys_exit_0", "import sys\ndef f():\n    sys.exit(0)\n", "exception", error="SystemExit(0)", check=_check_sys_exit),
    Case("sys_exit_2", "import sys\ndef f():\n    sys.exit(2)\n", "exception", error="SystemExit(2)", check=_check_sys_exit),
    Case("script_raise_systemexit", "x = 1\nraise SystemExit\n", "ok", call=None),
    Case("script_sys_exit_0", "import sys\nx = 1\nsys.exit(0)\n", "ok", call=None),
    Case("script_raise_systemexit_3", "x = 1\nraise SystemExit(3)\n", "exception", call=None, error="SystemExit(3)"),
    Case("keyboard_interrupt", "def f():\n    raise KeyboardInterrupt\n", "exception", error="KeyboardInterrupt"),
    # -- files ----------------------------------------------------------------------------------------
    Case("writes_in_own_cwd",
         'import os\ndef f():\n    with open("mine.txt", "w") as h:\n        h.write("hello")\n    os.mkdir("sub")\n'
         '    with open("sub/x", "w") as h:\n        h.write("y")\n'
         '    return open("mine.txt").read(), sorted(os.listdir("."))\n',
         "ok", check=_check_output("('hello', ['mine.txt', 'sub'])")),
    Case("big_file", 'def f():\n    with open("big", "wb") as h:\n        h.write(b"x" * (2 << 20))\n    return 1\n',
         "exception", error="File too large"),
    Case("delete_cwd_files_then_chdir_root_and_write",
         'import os\ndef f():\n    open("a", "w").close()\n    os.remove("a")\n    gone = not os.path.exists("a")\n'
         '    os.chdir("/")\n    with open("escaped.txt", "w") as h:\n        h.write("x")\n    return 1\n',
         "exception", error="PermissionError", check=_local_was("gone", "True")),
    Case("remove_own_work_directory", "import os\ndef f():\n    os.rmdir(os.getcwd())\n    return 1\n", "exception",
         error="Error("),
    Case("read_etc_shadow", 'def f():\n    return open("/etc/shadow").read()\n', "exception", error="PermissionError"),
    # -- network --------------------------------------------------------------------------------------
    Case("connect_internet",
         'import socket\ndef f():\n    socket.create_connection(("1.1.1.1", 80), timeout=1)\n    return 1\n',
         "exception", error="OSError(101"),
    Case("udp_to_internet",
         'import socket\ndef f():\n    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n'
         '    s.sendto(b"x", ("8.8.8.8", 53))\n    return 1\n',
         "exception", error="OSError(101"),
    Case("dns_lookup", 'import socket\ndef f():\n    return socket.gethostbyname("example.com")\n', "exception",
         error="gaierror"),
    # -- the tracer -----------------------------------------------------------------------------------
    Case("settrace_none", "import sys\ndef f():\n    sys.settrace(None)\n    return 1\n", "exception",
         error="RuntimeError('codewm sandbox"),
    Case("setprofile", "import sys\ndef f():\n    sys.setprofile(lambda *a: None)\n    return 1\n", "exception",
         error="RuntimeError('codewm sandbox"),
    Case("threading_settrace", "import threading\ndef f():\n    threading.settrace(lambda *a: None)\n    return 1\n",
         "exception", error="RuntimeError('codewm sandbox"),
    Case("sys_monitoring", 'import sys\ndef f():\n    sys.monitoring.use_tool_id(3, "x")\n    return 1\n', "exception",
         check=_check_monitoring),
    Case("repr_raises", 'class X:\n    def __repr__(self):\n        raise ValueError("no")\ndef f():\n    x = X()\n    return 1\n',
         "ok", check=_check_rendered_local(lambda text: text.startswith("<unrepresentable X"))),
    Case("repr_loops_forever", "class X:\n    def __repr__(self):\n        while True:\n            pass\n"
         "def f():\n    x = X()\n    return 1\n",
         "ok", check=_check_rendered_local(lambda text: text == "<unrepresentable X: repr timed out>")),
    Case("repr_returns_megabytes", 'class X:\n    def __repr__(self):\n        return "m" * (5 << 20)\n'
         "def f():\n    x = X()\n    return 1\n",
         "ok", check=_check_rendered_local(_is_cut)),
    Case("repr_returns_lone_surrogate", 'class X:\n    def __repr__(self):\n        return "\\ud800"\n'
         "def f():\n    x = X()\n    return 1\n",
         "ok", check=_check_rendered_local(lambda text: text != "")),
    Case("recursive_list", "def f():\n    a = [1]\n    a.append(a)\n    return a\n", "ok", check=_check_output("[1, [...]]")),
    # -- output and file descriptors ---------------------------------------------------------------------
    Case("huge_stdout", 'import sys\ndef f():\n    sys.stdout.write("z" * (8 << 20))\n    sys.stdout.flush()\n    return 1\n',
         "ok", check=_check_huge_stdout),
    Case("print_is_kept", 'def f():\n    print("hello")\n    return 1\n', "ok",
         check=lambda result, _sandbox: (_check_output("1")(result, _sandbox), _assert_equal(result.stdout, "hello\n"))),
    Case("unicode_output",
         f"import os, sys\ndef f():\n    sys.stdout.write({UNICODE_TEXT + chr(10)!r})\n    sys.stdout.flush()\n"
         '    os.write(1, b"\\xff\\xfe")\n'
         f"    return {UNICODE_TEXT!r}\n",
         "ok", check=lambda result, _sandbox: (
             _assert_equal(result.stdout, UNICODE_TEXT + "\n\ufffd\ufffd"),
             _check_output(repr(UNICODE_TEXT))(result, _sandbox))),
    Case("close_stdout_and_stderr", 'import os\ndef f():\n    os.close(1)\n    os.close(2)\n    print("lost")\n    return 1\n',
         "ok", check=_check_output("1")),
    Case("setrlimit_raise_cpu",
         "import resource\ndef f():\n    resource.setrlimit(resource.RLIMIT_CPU, (100, 100))\n    return 1\n",
         "exception", error="ValueError"),
    Case("setrlimit_unlimited_memory",
         "import resource\ndef f():\n    inf = resource.RLIM_INFINITY\n    resource.setrlimit(resource.RLIMIT_AS, (inf, inf))\n    return 1\n",
         "exception", error="ValueError"),
    Case("setuid_root", "import os\ndef f():\n    os.setuid(0)\n    return 1\n", "exception", error="PermissionError"),
    # Line breaks that str.splitlines honours but Python source does not (issue 15, finding 7).
    Case("form_feed_between_functions", "def g(y):\n    return y + 1\n\f\ndef f():\n    z = g(1)\n    return z\n",
         "ok", check=lambda result, _sandbox: _check_source_lines(result)),
    Case("line_separator_in_string", 'def f():\n    s = "a\u2028b\x85c\x0bd\x1ce"\n    n = len(s)\n    return n\n',
         "ok", check=lambda result, _sandbox: _check_source_lines(result)),
    # The program's own `main` and the entry wrapper (issue 15, finding 9).
    Case("user_function_named_main", "def main(x):\n    return x + 1\ndef f():\n    return main(41)\n", "ok",
         check=_check_output("42")),
    Case("call_of_main_itself", "def main():\n    return 42\n", "ok", call="main()", check=_check_output("42")),
]
CASES_BY_ID = {case.id: case for case in CASES}
assert len(CASES_BY_ID) == len(CASES)


def _check_source_lines(result: RunResult) -> None:
    """Every frame shows the context's real line at its line number (lines end at "\\n" only)."""
    real_lines = result.trace.context.split("\n")
    assert result.trace.frames
    for frame in result.trace.frames:
        expected = real_lines[frame.lineno - 1].replace("  # << START_OF_TRACE", "") + "\n"
        assert frame.source == expected, (frame.lineno, frame.source, expected)


def _assert_equal(actual, expected) -> None:
    assert actual == expected, (actual, expected)


def _run(sandbox: Sandbox, case: Case) -> RunResult:
    program = Program.whole_script(case.source) if case.call is None else Program.function(case.source, case.call)
    return sandbox.run_batch([program], limits=case.limits)[0]


def _check_case(sandbox: Sandbox, case: Case, result: RunResult) -> None:
    leftovers = _leftover_processes()
    assert not leftovers, f"processes survived the run: {leftovers}"
    if case.after is not None:
        case.after(result)
    assert result.status == case.status, (result.status, result.error, result.stdout[:500])
    if case.error is not None:
        assert result.error is not None and case.error in result.error, result.error
    if case.check is not None:
        case.check(result, sandbox)


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(limits=LIMITS, workers=1, isolation="bwrap") as box:
        _assert_healthy(box)  # warm: the first hostile program does not pay the start
        yield box


# -- the tests ----------------------------------------------------------------------------------
def test_the_suite_is_large_enough():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in CASES])
def test_hostile_program(sandbox, case):
    result = _run(sandbox, case)
    assert result.status in STATUSES
    _check_case(sandbox, case, result)


def test_syntax_error(sandbox):
    for result in (sandbox.run_function("def f(:\n", "f()"), sandbox.run_script("x = = 1\n")):
        assert result.status == "syntax_error"
        assert result.error.startswith("SyntaxError")
        assert result.trace.frames == []


def test_garbage_on_every_descriptor(sandbox):
    # The result channel is one of these: the run must still end with some valid status,
    # and neither the worker nor this process may be harmed.
    source = (
        "import os\ndef f():\n    for fd in range(3, 21):\n        try:\n"
        '            os.write(fd, b"\\xff\\x00\\x00\\x10garbage\\n" * 100)\n'
        "        except OSError:\n            pass\n    return 1\n"
    )
    result = sandbox.run_function(source, "f()")
    assert result.status in STATUSES
    assert result.status != "sandbox_error", result.error
    assert not _leftover_processes()
    _assert_healthy(sandbox)


def test_forged_result_messages_are_not_believed(sandbox):
    # A program that writes a well-formed trace and a final "ok" into the result channel must
    # not be able to decide its own outcome: the real one is an uncaught ValueError.
    source = (
        "import os, json, struct\n"
        "def f():\n"
        '    steps = json.dumps({"steps": [["call", 1, 0, {}, None, "main"], ["return", 1, 0, None, "\'forged\'", "main"]]})\n'
        '    final = json.dumps({"final": {"status": "ok", "error": None}})\n'
        "    data = b''.join(struct.pack('>I', len(m)) + m for m in (steps.encode(), final.encode()))\n"
        "    for fd in range(3, 21):\n"
        "        try:\n"
        "            os.write(fd, data)\n"
        "        except OSError:\n"
        "            pass\n"
        '    raise ValueError("the real outcome")\n'
    )
    result = sandbox.run_function(source, "f()")
    assert result.status == "exception", (result.status, result.error)
    assert "the real outcome" in (result.error or "")
    assert all(frame.value != "'forged'" for frame in result.trace.frames)
    _assert_healthy(sandbox)


@pytest.mark.parametrize(
    "target",
    ["/etc/codewm-hostile", "/usr/codewm-hostile", "/usr/lib/codewm-hostile", "REPO/codewm-hostile",
     "/root/codewm-hostile", "SENTINEL", "PACKAGE_INIT"],
)
def test_writes_outside_the_work_directory_fail(sandbox, tmp_path, target):
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("original")
    before = sentinel.stat()
    path = {"SENTINEL": str(sentinel), "PACKAGE_INIT": str(PACKAGE_INIT)}.get(
        target, target.replace("REPO", str(REPO_ROOT))
    )
    # An existing file of the repository is opened for appending but given nothing, so that
    # even a broken sandbox could not damage it; everywhere else the write itself is the breach.
    payload = "" if target == "PACKAGE_INIT" else "pwned"
    existed = os.path.lexists(path)
    package_before = PACKAGE_INIT.stat()
    source = f"def f():\n    with open({path!r}, 'a') as h:\n        h.write({payload!r})\n    return 1\n"
    try:
        result = sandbox.run_function(source, "f()")
    finally:
        if not existed and os.path.lexists(path):
            os.remove(path)
    assert result.status == "exception", (result.status, result.error)
    assert result.error.split("(")[0] in ("OSError", "PermissionError", "FileNotFoundError"), result.error
    assert sentinel.read_text() == "original"
    after = sentinel.stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)
    assert PACKAGE_INIT.stat().st_mtime_ns == package_before.st_mtime_ns


def test_environment_secrets_do_not_reach_the_program(monkeypatch):
    secret = f"hunter2-{random.randrange(10**9)}"
    monkeypatch.setenv("CODEWM_TEST_SECRET", secret)
    source = (
        "import os\n"
        "def f():\n"
        "    leaked = []\n"
        '    for pid in os.listdir("/proc"):\n'
        "        if pid.isdigit():\n"
        "            try:\n"
        '                with open(f"/proc/{pid}/environ", "rb") as h:\n'
        '                    if b"CODEWM_TEST_SECRET" in h.read():\n'
        "                        leaked.append(pid)\n"
        "            except OSError:\n"
        "                pass\n"
        '    return "CODEWM_TEST_SECRET" in os.environ, leaked, sorted(os.environ)\n'
    )
    with Sandbox(limits=LIMITS, isolation="bwrap") as fresh:
        result = fresh.run_function(source, "f()")
    assert result.status == "ok", (result.status, result.error)
    assert result.trace.output == "(False, [], ['HOME', 'LANG', 'PATH', 'PYTHONHASHSEED', 'TMPDIR'])"
    assert all(secret not in (frame.value or "") + str(frame.locals) for frame in result.trace.frames)
    assert secret not in result.stdout


@pytest.fixture(scope="module")
def host_listeners():
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    tcp.setblocking(False)
    unix = socket.socket(socket.AF_UNIX)
    abstract = f"\0codewm-hostile-{os.getpid()}-{random.randrange(10**9)}"
    unix.bind(abstract)
    unix.listen()
    unix.setblocking(False)
    yield {"tcp_port": tcp.getsockname()[1], "abstract": abstract, "sockets": (tcp, unix)}
    tcp.close()
    unix.close()


@pytest.mark.parametrize("kind", ["tcp", "unix_abstract"])
def test_host_listening_sockets_are_unreachable(sandbox, host_listeners, kind):
    if kind == "tcp":
        target = f"socket.create_connection(('127.0.0.1', {host_listeners['tcp_port']}), timeout=1)"
    else:
        target = f"socket.socket(socket.AF_UNIX).connect({host_listeners['abstract']!r})"
    result = sandbox.run_function(f"import socket\ndef f():\n    {target}\n    return 1\n", "f()")
    assert result.status == "exception", (result.status, result.error)
    assert "ConnectionRefusedError" in result.error or "OSError" in result.error, result.error
    for listener in host_listeners["sockets"]:
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing got through


def test_process_limit_of_one_run_does_not_starve_another():
    # Two workers run two programs at once. One takes every process it may have; the other,
    # an ordinary program, must still be able to start a subprocess under its own limit.
    hog = Program.function(
        "import os, time\n"
        "def f():\n"
        "    n = 0\n"
        "    try:\n"
        "        while True:\n"
        "            if os.fork() == 0:\n"
        "                time.sleep(5)\n"
        "                os._exit(0)\n"
        "            n += 1\n"
        "    except OSError:\n"
        "        time.sleep(1.5)\n"
        "        return n\n",
        "f()",
    )
    victim = Program.function(
        "import subprocess, time\ndef f():\n    time.sleep(0.5)\n    return subprocess.run(['true']).returncode\n", "f()"
    )
    with Sandbox(limits=LIMITS, workers=2, isolation="bwrap") as pool:
        list(pool.map([Program.function(TRIVIAL_SOURCE, "f(1)")] * 2))  # both workers warm
        hog_result, victim_result = pool.map([hog, victim])
    assert hog_result.status == "ok", (hog_result.status, hog_result.error)
    assert victim_result.status == "ok", (victim_result.status, victim_result.error)
    assert victim_result.trace.output == "0"
    assert not _leftover_processes()


PROCESS_MODE_SUBSET = ("memory_bomb_growing_list", "memory_bomb_one_allocation", "infinite_loop_python",
                       "sleep_forever", "os_exit_3", "segfault")


def test_process_isolation_keeps_the_key_limits():
    # The weaker mode (no bubblewrap): the same worker, limits and statuses.
    failures = []
    with Sandbox(limits=LIMITS, workers=1, isolation="process") as weak:
        assert weak.isolation == "process"
        for case_id in PROCESS_MODE_SUBSET:
            case = CASES_BY_ID[case_id]
            result = _run(weak, case)
            try:
                _check_case(weak, case, result)
            except AssertionError as exc:
                failures.append(f"{case_id}: {exc}")
        _assert_healthy(weak)
    assert not failures, "\n".join(failures)


def test_zz_sandbox_still_healthy_after_everything(sandbox):
    # Runs last in this module (pytest keeps file order): the codewm process survived every
    # program above and the shared sandbox still traces an ordinary function.
    assert not _leftover_processes()
    _assert_healthy(sandbox)
    assert sandbox.workers_started == 1, "a program killed the shared worker"
