"""A hostile test suite: it tries to leave the workspace's sandbox. The host test writes
`canaries.json` into the workspace's copy (paths of canary files, a TCP port it listens on,
a unique sleep argument) and checks afterwards that nothing here reached the host.

Each attempt records what happened in attempts.jsonl (in the project's copy), so that the
host can tell an attempt that was stopped from one that never ran."""

import json
import os
import socket
import subprocess
import time

import pytest

from hostile import identity

CONFIG = json.load(open("canaries.json"))


def record(name, **details):
    with open("attempts.jsonl", "a") as handle:
        handle.write(json.dumps({"attempt": name, **details}) + "\n")


@pytest.mark.parametrize("key", ["tmp_canary", "home_canary"])
def test_read_canary(key):
    path = CONFIG[key]
    try:
        with open(path) as handle:
            record("read", path=path, content=handle.read())
    except OSError as exc:
        record("read", path=path, error=exc.strerror)


@pytest.mark.parametrize("key", ["tmp_canary", "home_canary"])
def test_write_canary(key):
    path = CONFIG[key]
    try:
        with open(path, "w") as handle:
            handle.write("overwritten by a hostile test")
        record("write", path=path, ok=True)
    except OSError as exc:
        record("write", path=path, error=exc.strerror)
    try:
        with open(path + ".new", "w") as handle:
            handle.write("created by a hostile test")
        record("create", path=path + ".new", ok=True)
    except OSError as exc:
        record("create", path=path + ".new", error=exc.strerror)


def test_connect_to_host():
    try:
        with socket.create_connection(("127.0.0.1", CONFIG["port"]), timeout=3) as conn:
            conn.sendall(b"hello from the sandbox")
        record("connect", ok=True)
    except OSError as exc:
        record("connect", error=str(exc))


def test_connect_to_host_abstract_socket():
    # Abstract Unix sockets (D-Bus, X11, ...) belong to a network namespace, not to a file.
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(3)
            conn.connect("\0" + CONFIG["abstract_socket"])
            conn.sendall(b"hello from the sandbox")
        record("connect_unix", ok=True)
    except OSError as exc:
        record("connect_unix", error=str(exc))


def test_background_processes():
    sleep = ["sleep", *CONFIG["sleep_args"]]
    subprocess.run(["sh", "-c", "nohup " + " ".join(sleep) + " >/dev/null 2>&1 &"], check=True)
    pid = os.fork()
    if pid == 0:  # a double fork: the grandchild is orphaned, outlives pytest and keeps
        os.setsid()  # pytest's stdout open (the nohup one above lets go of it)
        os.dup2(os.open("/dev/null", os.O_RDONLY), 0)
        if os.fork() == 0:
            os.execvp("sleep", sleep)
        os._exit(0)
    os.waitpid(pid, 0)
    time.sleep(0.2)
    record("background", started=True)


def test_module_is_fine():
    assert identity(3) == 3
