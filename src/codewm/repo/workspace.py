"""A private, sandboxed copy of a project, in which commands (its test suite, an agent's
shell commands) run without reaching anything else on the machine.

    with Workspace(project) as workspace:
        result = workspace.run(["python", "-m", "pytest", "-q"], timeout=120)
        result.exit_code, result.stdout, result.timed_out

What a command inside sees and may do (bubblewrap, as the tracer's workers; see
`codewm.trace.sandbox`):

- the copy of the project, read-write, as its working directory `/project`; the original
  folder is never written;
- the host's system folders and this Python (with its site-packages) read-only; nothing else
  of the host's files (not $HOME, not the host's /tmp): /tmp, /var/tmp and /dev/shm are
  private, size-capped tmpfs mounts;
- no network (a network namespace of its own: only its own loopback), its own PID, IPC and
  UTS namespaces and session, codewm's seccomp filter (no namespaces, mounts, ptrace, ...);
- per-process limits set before the command starts (`WorkspaceLimits`): CPU time, address
  space, file size, open files, processes (of an unprivileged uid of its own when codewm
  runs as root);
- a wall clock: past it the whole sandbox is killed (its PID namespace's init, and with it
  every process inside); every run ends with that namespace gone, so nothing it started
  (a `nohup ... &`, a double fork) outlives it; stdout and stderr are read up to a cap.

Where bubblewrap cannot run, `Workspace` raises WorkspaceError: it never runs unsandboxed.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from codewm.trace import seccomp
from codewm.trace.bwrap import bwrap_path, fresh_uid, readonly_binds, system_binds
from codewm.trace.sandbox import package_root, probe_bwrap
from codewm.trace.system import python_dirs

from codewm.repo.project import SKIPPED_DIRS, Project

PROJECT_MOUNT = "/project"
# A second writable folder beside the project, for what codewm's own tools inside write for
# the host (a test report): the project's copy stays as the command left it.
OUT_MOUNT = "/codewm-out"
# How long to wait, after the sandbox was killed, for its pipes to close and bwrap to exit.
KILL_GRACE_SECONDS = 10.0


class WorkspaceError(RuntimeError):
    """The workspace could not be made or its sandbox could not run (not a failure of the
    command inside)."""


@dataclass(frozen=True)
class WorkspaceLimits:
    """Limits on every command run in a workspace. The defaults suit a project's test suite."""

    memory_bytes: int = 2 << 30  # address space of each process (RLIMIT_AS)
    cpu_seconds: int | None = None  # CPU time of each process (RLIMIT_CPU); None: the run's timeout
    file_size_bytes: int = 256 << 20  # largest file a command may write (RLIMIT_FSIZE)
    processes: int = 256  # processes and threads at once (RLIMIT_NPROC)
    open_files: int = 1024  # open file descriptors per process (RLIMIT_NOFILE)
    output_bytes: int = 4 << 20  # of each of stdout and stderr kept; the rest is discarded
    tmp_bytes: int = 256 << 20  # size of the private /tmp (and /var/tmp)
    shm_bytes: int = 64 << 20  # size of the private /dev/shm


@dataclass(frozen=True)
class CommandResult:
    """How a command ended. `exit_code` is None when it was killed at the wall clock
    (`timed_out`); a negative one is the signal that ended it."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    wall_seconds: float
    output_truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


def _ignore(folder: str, names: list[str]) -> set[str]:
    return {name for name in names if name in SKIPPED_DIRS}


class Workspace:
    """A private copy of `project` in a temporary folder, and a sandbox to run commands in it.
    Close it (or use it as a context manager) to delete the copy."""

    def __init__(self, project: Project, limits: WorkspaceLimits | None = None, parent_dir: str | None = None) -> None:
        bwrap = bwrap_path()
        usable, why = probe_bwrap()
        if bwrap is None or not usable:
            raise WorkspaceError(f"cannot sandbox a workspace: {why} (codewm does not run a project's code unsandboxed)")
        self.bwrap = bwrap
        self.project = project
        self.limits = limits or WorkspaceLimits()
        # As root, commands run as a fresh unprivileged uid that owns the copy and nothing else.
        self.uid = fresh_uid() if os.geteuid() == 0 else None
        self.base = Path(tempfile.mkdtemp(prefix="codewm-workspace-", dir=parent_dir))
        try:
            os.chmod(self.base, 0o711)
            self.path = self.base / "project"
            shutil.copytree(project.root, self.path, symlinks=True, ignore=_ignore)
            self.out_dir = self.base / "out"
            self.out_dir.mkdir()
            if self.uid is not None:
                _chown_tree(self.path, self.uid)
                os.chown(self.out_dir, self.uid, self.uid)
        except BaseException:
            shutil.rmtree(self.base, ignore_errors=True)
            raise
        self._closed = False

    # -- running --------------------------------------------------------------------------------
    def run(self, argv: list[str], timeout: float = 600.0, memory_bytes: int | None = None, env: dict[str, str] | None = None) -> CommandResult:
        """Run `argv` in the sandbox, in the project's copy; kill everything at `timeout` s.
        `python` on the PATH is this Python, with its packages (pytest among them)."""
        if self._closed:
            raise WorkspaceError("the workspace is closed")
        if not argv or not all(isinstance(part, str) for part in argv):
            raise ValueError(f"argv must be a non-empty list of strings, got {argv!r}")
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        limits = self.limits if memory_bytes is None else replace(self.limits, memory_bytes=memory_bytes)
        info_r, info_w = os.pipe()
        try:
            command = self._command(argv, limits, timeout, info_w, env or {})
            started = time.monotonic()
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=(info_w,), close_fds=True, env={"PATH": "/usr/bin:/bin"})
        finally:
            os.close(info_w)
        try:
            return self._watch(process, info_r, started, timeout, limits.output_bytes)
        finally:
            os.close(info_r)

    def shell(self, command: str, timeout: float = 600.0, memory_bytes: int | None = None) -> CommandResult:
        """`bash -c command` in the sandbox (what an agent runs)."""
        return self.run(["bash", "-c", command], timeout=timeout, memory_bytes=memory_bytes)

    def _command(self, argv: list[str], limits: WorkspaceLimits, timeout: float, info_fd: int, env: dict[str, str]) -> list[str]:
        binds = system_binds() + ["--proc", "/proc", "--dev", "/dev"]
        # Sticky and world-writable, as on a host: as root, commands run as an unprivileged uid
        # that could not write a root-owned 755 /tmp (pytest's tmp_path, HOME=/tmp).
        binds += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/tmp"]
        binds += ["--perms", "1777", "--size", str(limits.tmp_bytes), "--tmpfs", "/var/tmp"]
        binds += ["--perms", "1777", "--size", str(limits.shm_bytes), "--tmpfs", "/dev/shm"]
        # After the tmpfs mounts: this Python may live under /tmp (a venv) and must show through.
        binds += readonly_binds(python_dirs(package_root()), {"/tmp", "/var", "/var/tmp"})
        binds += ["--bind", str(self.path), PROJECT_MOUNT, "--bind", str(self.out_dir), OUT_MOUNT]
        if os.geteuid() != 0:
            binds += ["--remount-ro", "/", "--remount-ro", "/dev"]
        python_bin = os.path.dirname(sys.executable)
        environment = {
            "PATH": f"{python_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": "/tmp",
            "TMPDIR": "/tmp",
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            # Bytecode caches keyed on a source's mtime could outlive an edit made within
            # the same second (a mutant): never write them.
            "PYTHONDONTWRITEBYTECODE": "1",
            "MALLOC_ARENA_MAX": "1",  # a thread's arena would reserve 64 MiB of the address space
        }
        if self.project.python_path:
            environment["PYTHONPATH"] = ":".join(f"{PROJECT_MOUNT}/{p}" for p in self.project.python_path)
        environment.update(env)
        command = [self.bwrap, "--new-session", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        command += binds + ["--hostname", "codewm-workspace", "--chdir", PROJECT_MOUNT, "--clearenv"]
        command += [part for name, value in environment.items() for part in ("--setenv", name, value)]
        if os.geteuid() == 0:
            command += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]  # for the launcher's drop to self.uid
        else:
            command += ["--unshare-user", "--disable-userns"]
        command += ["--info-fd", str(info_fd)]
        confinement = {
            "cpu_seconds": int(limits.cpu_seconds or (timeout + 1)),
            "memory_bytes": limits.memory_bytes,
            "file_size_bytes": limits.file_size_bytes,
            "open_files": limits.open_files,
            "processes": limits.processes,
            "uid": self.uid,
            "seccomp": seccomp.supported(),
        }
        bootstrap = f"import sys; sys.path.insert(0, {package_root()!r}); from codewm.repo.launch import main; main()"
        return command + [sys.executable, "-s", "-B", "-c", bootstrap, json.dumps(confinement), "--", *argv]

    def _watch(self, process: subprocess.Popen, info_fd: int, started: float, timeout: float, cap: int) -> CommandResult:
        """Read the command's output (up to `cap` bytes a stream) until bubblewrap exits or the
        wall clock runs out; then kill what is left of the sandbox."""
        streams = {process.stdout.fileno(): bytearray(), process.stderr.fileno(): bytearray()}
        truncated = False
        info = bytearray()
        sandbox_init: _SandboxInit | None = None
        open_fds = set(streams) | {info_fd}
        deadline = started + timeout
        timed_out = False
        while process.poll() is None or (open_fds - {info_fd}):
            now = time.monotonic()
            if not timed_out and now >= deadline:
                timed_out = True
                if sandbox_init is None:
                    sandbox_init = _SandboxInit.from_info(bytes(info))
                _kill(process, sandbox_init)
                deadline = now + KILL_GRACE_SECONDS
            elif timed_out and now >= deadline:
                break  # the pipes are still open after the kill: give up on the rest
            if process.poll() is not None and not timed_out:
                # bwrap has exited with the command; processes the command left behind may
                # hold the pipes open: end the sandbox so they close.
                if sandbox_init is None:
                    sandbox_init = _SandboxInit.from_info(bytes(info))
                if sandbox_init is not None:
                    sandbox_init.kill()
            ready, _, _ = select.select(list(open_fds), [], [], max(0.0, min(deadline - now, 0.2)))
            for fd in ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    open_fds.discard(fd)
                elif fd == info_fd:
                    info += chunk[: 65536 - len(info)]
                    if sandbox_init is None:
                        sandbox_init = _SandboxInit.from_info(bytes(info))
                else:
                    kept = streams[fd]
                    room = cap - len(kept)
                    if len(chunk) > room:
                        truncated = True
                    kept += chunk[: max(room, 0)]
        if sandbox_init is None:
            sandbox_init = _SandboxInit.from_info(bytes(info))
        if sandbox_init is not None:
            sandbox_init.kill()
            sandbox_init.close()
        try:
            code = process.wait(timeout=KILL_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        for stream in (process.stdout, process.stderr):
            stream.close()
        wall = time.monotonic() - started
        stdout, stderr = (bytes(kept) for kept in streams.values())
        if not timed_out and sandbox_init is None and code != 0:
            raise WorkspaceError(f"bubblewrap could not start the sandbox (exit {code}): {stderr.decode(errors='replace').strip()[-2000:]}")
        return CommandResult(
            exit_code=None if timed_out else code,
            stdout=stdout.decode(errors="replace"),
            stderr=stderr.decode(errors="replace"),
            timed_out=timed_out,
            wall_seconds=wall,
            output_truncated=truncated,
        )

    # -- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        if not self._closed:
            self._closed = True
            shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _SandboxInit:
    """The sandbox's PID-namespace init (bubblewrap's `child-pid`), held by a pidfd so that a
    recycled pid is never signalled. Killing it makes the kernel kill every process inside."""

    def __init__(self, pidfd: int | None) -> None:
        self.pidfd = pidfd

    @classmethod
    def from_info(cls, info: bytes) -> _SandboxInit | None:
        try:
            parsed = json.loads(info)
        except ValueError:
            return None  # not all of it arrived yet
        pid, namespace = parsed.get("child-pid"), parsed.get("pid-namespace")
        if type(pid) is not int or pid <= 1:
            return None
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return cls(None)  # already gone, and everything inside with it
        try:
            # The pid may have been recycled between bubblewrap's exit and pidfd_open: only
            # the process in the sandbox's own PID namespace is the one to kill.
            same = os.stat(f"/proc/{pid}/ns/pid").st_ino == namespace
        except OSError:
            same = False
        if not same:
            os.close(pidfd)
            return cls(None)
        return cls(pidfd)

    def kill(self) -> None:
        if self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        """Wait (briefly) until the init is gone, then let go of it."""
        if self.pidfd is not None:
            exited, _, _ = select.select([self.pidfd], [], [], KILL_GRACE_SECONDS)
            os.close(self.pidfd)
            self.pidfd = None
            if not exited:
                raise WorkspaceError("the sandbox's processes did not end after they were killed")


def _kill(process: subprocess.Popen, sandbox_init: _SandboxInit | None) -> None:
    if sandbox_init is not None:
        sandbox_init.kill()
    process.kill()  # bwrap itself, outside the namespace


def _chown_tree(root: Path, uid: int) -> None:
    os.lchown(root, uid, uid)
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            os.lchown(os.path.join(folder, name), uid, uid)
