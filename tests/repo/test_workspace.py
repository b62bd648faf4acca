"""The workspace's sandbox: a hostile test suite reaches nothing of the host's (canary files
in the host's tmp folder and $HOME, a TCP port on the host's loopback and an abstract Unix
socket, processes that would outlive the run), the original project is never written, the
wall clock, CPU, memory and process limits stop a suite, and where bubblewrap cannot run
nothing runs."""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import tempfile
from pathlib import Path

import pytest
from repo_helpers import DATA, host_processes_with, needs_bwrap, tree_snapshot, write_suite

import codewm.repo.workspace as workspace_module
from codewm.repo.project import local_project
from codewm.repo.suite import run_tests
from codewm.repo.workspace import Workspace, WorkspaceError, WorkspaceLimits

@pytest.fixture
def canaries(tmp_path):
    """A canary file in the host's tmp folder and one in $HOME, with a secret each; a TCP
    port listening on the host's 127.0.0.1; a sleep argument no other process has."""
    tag = secrets.token_hex(6)
    paths = {"tmp_canary": Path(tempfile.gettempdir()) / f"codewm-canary-{tag}", "home_canary": Path.home() / f".codewm-canary-{tag}"}
    for key, path in paths.items():
        path.write_text(f"secret {key} {tag}")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.setblocking(False)
    unix_listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix_listener.bind(f"\0codewm-canary-{tag}")
    unix_listener.listen(4)
    unix_listener.setblocking(False)
    sleep_args = ["1000", f"0.000{random.randrange(10**9):09d}"]  # sleep adds them up
    config = {**{k: str(p) for k, p in paths.items()}, "port": listener.getsockname()[1], "abstract_socket": f"codewm-canary-{tag}", "sleep_args": sleep_args, "tag": tag}
    yield config, (listener, unix_listener)
    listener.close()
    unix_listener.close()
    for path in paths.values():
        for leftover in (path, Path(str(path) + ".new")):
            leftover.unlink(missing_ok=True)
    for pid in host_processes_with(sleep_args[1]):  # never expected: the test below fails first
        os.kill(pid, 9)


@needs_bwrap
def test_hostile_suite_reaches_nothing_of_the_host(project_copy, canaries):
    canaries, (listener, unix_listener) = canaries
    root = project_copy("hostile")
    (root / "canaries.json").write_text(json.dumps(canaries))
    before = tree_snapshot(root)
    with Workspace(local_project(root)) as workspace:
        report = run_tests(workspace, timeout=120)
        attempts = [json.loads(line) for line in (workspace.path / "attempts.jsonl").read_text().splitlines()]
    # The run ended when pytest did: the processes it left behind (one holding its stdout)
    # did not keep it going until the wall clock.
    assert not report.timed_out and report.exit_code == 0, report.output[-3000:]
    # Every attempt ran (the test is not vacuous) ...
    assert report.outcomes["tests/test_hostile.py::test_background_processes"] == "passed", report.output[-3000:]
    assert report.outcomes["tests/test_hostile.py::test_module_is_fine"] == "passed"
    kinds = sorted({a["attempt"] for a in attempts})
    assert kinds == ["background", "connect", "connect_unix", "create", "read", "write"], attempts
    # ... and each one failed inside the sandbox, but the writes to the canary's path in /tmp:
    # they landed in the sandbox's own /tmp, which is writable (pytest's tmp_path is there).
    for attempt in attempts:
        if attempt["attempt"] in ("write", "create") and attempt["path"].startswith(canaries["tmp_canary"]):
            assert attempt.get("ok") is True, attempt
        elif attempt["attempt"] != "background":
            assert "error" in attempt and "ok" not in attempt and "content" not in attempt, attempt
    # On the host: the canaries are as they were, nothing was created beside them,
    for key in ("tmp_canary", "home_canary"):
        assert Path(canaries[key]).read_text() == f"secret {key} {canaries['tag']}"
        assert not Path(canaries[key] + ".new").exists()
    # no connection arrived (while one from the host itself would have),
    for server in (listener, unix_listener):
        with pytest.raises(BlockingIOError):
            server.accept()
    with socket.create_connection(("127.0.0.1", canaries["port"]), timeout=5):
        listener.settimeout(5)
        listener.accept()[0].close()
    # nothing is left running,
    assert host_processes_with(canaries["sleep_args"][1]) == []
    # and the original project was not written (the tests wrote attempts.jsonl in the copy).
    assert tree_snapshot(root) == before


@needs_bwrap
def test_wall_clock_kills_a_hanging_suite(tmp_path):
    tag = f"0.000{random.randrange(10**9):09d}"
    root = write_suite(tmp_path / "hang", f"""
import subprocess, time

def test_quick():
    assert True

def test_hang():
    subprocess.Popen(["sleep", "1000", "{tag}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(1000)
""")
    with Workspace(local_project(root)) as workspace:
        report = run_tests(workspace, timeout=8)
    assert report.timed_out and report.exit_code is None
    assert report.outcomes == {"tests/test_it.py::test_quick": "passed"}  # what finished before the kill
    assert host_processes_with(tag) == []


@needs_bwrap
def test_memory_hog_is_stopped(tmp_path):
    root = write_suite(tmp_path / "hog", """
def test_hog():
    hoard = []
    while True:
        hoard.append(bytearray(1 << 20))

def test_after():
    assert True
""")
    with Workspace(local_project(root), WorkspaceLimits(memory_bytes=512 << 20)) as workspace:
        report = run_tests(workspace, timeout=300)
    assert not report.timed_out
    assert report.outcomes == {"tests/test_it.py::test_after": "passed", "tests/test_it.py::test_hog": "failed"}
    assert "MemoryError" in report.output


@needs_bwrap
def test_shell_runs_in_the_copy_with_a_private_home_and_capped_output(tmp_path):
    root = write_suite(tmp_path / "p", "def test_x():\n    pass\n")
    with Workspace(local_project(root), WorkspaceLimits(output_bytes=1000)) as workspace:
        result = workspace.shell("echo made > made.txt; echo $HOME; pwd; cat /etc/hostname 2>/dev/null || hostname")
        assert result.ok and result.stdout.split()[:2] == ["/tmp", "/project"]
        assert (workspace.path / "made.txt").read_text() == "made\n"
        assert not (root / "made.txt").exists()
        flood = workspace.shell("head -c 5000000 /dev/zero | tr '\\0' x")
        assert flood.ok and flood.output_truncated and len(flood.stdout) == 1000
        failed = workspace.shell("exit 3")
        assert failed.exit_code == 3 and not failed.ok
        base = workspace.base
    assert not base.exists()  # closing deletes the copy


def test_no_bubblewrap_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(workspace_module, "probe_bwrap", lambda: (False, "bubblewrap (bwrap) is not installed"))
    with pytest.raises(WorkspaceError, match="bubblewrap \\(bwrap\\) is not installed.*does not run a project's code unsandboxed"):
        Workspace(local_project(DATA / "tinypkg"))


@needs_bwrap
def test_cpu_time_and_process_limits_hold(tmp_path):
    root = write_suite(tmp_path / "p", "def test_x():\n    pass\n")
    spawn = (
        "import subprocess\n"
        "children = []\n"
        "try:\n"
        "    for _ in range(100):\n"
        "        children.append(subprocess.Popen(['sleep', '30']))\n"
        "except OSError as exc:\n"
        "    print('refused after', len(children), exc.errno)\n"
    )
    with Workspace(local_project(root), WorkspaceLimits(cpu_seconds=2, processes=12)) as workspace:
        spin = workspace.run(["python", "-c", "while True: pass"], timeout=300)
        assert not spin.timed_out and spin.exit_code != 0  # SIGXCPU long before the wall clock
        many = workspace.run(["python", "-c", spawn], timeout=300)
    words = many.stdout.split()
    assert many.exit_code == 0 and words[:2] == ["refused", "after"], many.stdout + many.stderr
    assert int(words[2]) < 12 and words[3] == "11"  # EAGAIN from RLIMIT_NPROC
