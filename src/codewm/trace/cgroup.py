"""The delegated-cgroup mode: where codewm is given a cgroup v2 subtree of its own, each
worker's programs also run in a cgroup that codewm creates there, whose `memory.max` counts
everything the program's processes hold together (tmpfs pages, kernel memory included) and
whose `pids.max` caps its processes and threads.

codewm uses a cgroup only when told to (`Sandbox(cgroup=...)` or the environment variable
`CODEWM_CGROUP`, a directory such as `/sys/fs/cgroup/system.slice/codewm.service/sandboxes`).
That directory must already have the `memory` and `pids` controllers enabled for its children
(`+memory +pids` in its `cgroup.subtree_control`); codewm never writes to it or to any
cgroup it did not create: it only creates, limits and removes `codewm-<pid>-<n>` children.

The host opens each child cgroup's `cgroup.procs` and `memory.events` and hands the
descriptors to the worker: a program's child process writes itself into the cgroup before
it confines itself (the kernel checks the opener's permissions and cgroup namespace, so
the sandboxed worker needs no view of /sys/fs/cgroup), and the worker reads `oom_kill` from
`memory.events` to tell a kill by the memory limit from other kills.
"""

from __future__ import annotations

import itertools
import os
import time

CGROUP_ENV = "CODEWM_CGROUP"
_REQUIRED_CONTROLLERS = ("memory", "pids")
_names = itertools.count()


class CgroupError(RuntimeError):
    """The cgroup codewm was given cannot be used."""


class DelegatedCgroup:
    """A cgroup v2 directory codewm may create child cgroups in (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        try:
            with open(os.path.join(self.path, "cgroup.subtree_control")) as handle:
                enabled = handle.read().split()
        except OSError as exc:
            raise CgroupError(f"{self.path} is not a cgroup v2 directory codewm can read ({exc.strerror})") from None
        missing = [name for name in _REQUIRED_CONTROLLERS if name not in enabled]
        if missing:
            raise CgroupError(
                f"{self.path}: the {' and '.join(missing)} controller(s) are not enabled for its children; whoever "
                f"delegated it must run: echo '+memory +pids' > {os.path.join(self.path, 'cgroup.subtree_control')}"
            )
        if not os.access(self.path, os.W_OK):
            raise CgroupError(f"{self.path}: codewm may not create cgroups here (no write permission)")

    def create(self) -> ProgramCgroup:
        """A fresh child cgroup for one worker's programs."""
        path = os.path.join(self.path, f"codewm-{os.getpid()}-{next(_names)}")
        try:
            os.mkdir(path)
        except OSError as exc:
            raise CgroupError(f"cannot create the cgroup {path}: {exc.strerror}") from None
        return ProgramCgroup(path)


class ProgramCgroup:
    """One worker's cgroup: its limits, and the descriptors the worker gets."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.applied: tuple[int, int] | None = None
        try:
            self.procs_fd = os.open(os.path.join(path, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
            self.events_fd = os.open(os.path.join(path, "memory.events"), os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            self.remove()
            raise CgroupError(f"cannot open {path}'s files: {exc.strerror}") from None

    def apply(self, memory_bytes: int, tasks: int) -> None:
        """Set the memory limit (no swap beyond it) and the task limit, if they changed."""
        if self.applied == (memory_bytes, tasks):
            return
        self._write("memory.max", str(memory_bytes))
        if os.path.exists(os.path.join(self.path, "memory.swap.max")):
            self._write("memory.swap.max", "0")
        self._write("pids.max", str(tasks))
        self.applied = (memory_bytes, tasks)

    def _write(self, name: str, value: str) -> None:
        try:
            with open(os.path.join(self.path, name), "w") as handle:
                handle.write(value)
        except OSError as exc:
            raise CgroupError(f"cannot set {name} of {self.path}: {exc.strerror}") from None

    def remove(self) -> None:
        """Close the descriptors and remove the cgroup (once its processes are gone)."""
        self.close()
        for _ in range(50):  # the last processes may take a moment to leave
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)

    def close(self) -> None:
        for name in ("procs_fd", "events_fd"):
            fd = getattr(self, name, None)
            if fd is not None:
                setattr(self, name, None)  # never close a number twice: it may be reused
                try:
                    os.close(fd)
                except OSError:
                    pass


def join(procs_fd: int) -> None:
    """Move the calling process into the cgroup whose `cgroup.procs` is `procs_fd`."""
    os.write(procs_fd, b"0")


def oom_kills(events_fd: int) -> int:
    """How many processes of the cgroup the kernel killed for its memory limit so far."""
    for line in os.pread(events_fd, 4096, 0).decode().splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return 0

