"""The sandbox's memory limit holds for everything a program does together, and the kernel
surface it may reach is narrowed by a seccomp filter (codewm.trace.budget, codewm.trace.seccomp).

Each test reproduces an attack that got through before: files written into the working
directory (a tmpfs that no process limit counts), forked children each under the
per-process limit, a new user namespace with every capability inside it, mounts, netlink and
vsock sockets. The kernel-surface tests run in both isolation modes (the filter is the
child's own); the tmpfs ones need bubblewrap's private, capped mounts.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from codewm.trace import seccomp
from codewm.trace.budget import storage_bytes
from codewm.trace.cgroup import CgroupError, DelegatedCgroup, ProgramCgroup
from codewm.trace.sandbox import Program, Sandbox, SandboxLimits, probe_bwrap

MiB = 1 << 20
SMALL = SandboxLimits(cpu_seconds=10, wall_seconds=30, memory_bytes=256 * MiB, max_steps=100_000)
BWRAP_USABLE, BWRAP_WHY = probe_bwrap()
needs_bwrap = pytest.mark.skipif(not BWRAP_USABLE, reason=f"needs bubblewrap: {BWRAP_WHY}")
ISOLATIONS = [pytest.param("bwrap", marks=needs_bwrap), "process"]


def _run(source: str, limits: SandboxLimits = SMALL, isolation: str = "bwrap"):
    with Sandbox(limits=limits, isolation=isolation) as box:
        return box.run(Program.function(source, "f()"))


def _host_shmem_bytes() -> int:
    """The host's shared memory (tmpfs and shm pages of every mount namespace)."""
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("Shmem:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no Shmem line in /proc/meminfo")


class _PeakSampler:
    """The largest growth of the host's shared memory while a run goes on."""

    def __init__(self) -> None:
        self.base = _host_shmem_bytes()
        self.peak = self.base
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, _host_shmem_bytes())
            time.sleep(0.02)

    def __enter__(self) -> "_PeakSampler":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.base


# -- memory ---------------------------------------------------------------------------------------
FILL_WORKING_DIRECTORY = """
import os, time
def f():
    written, error = 0, None
    try:
        for i in range(96):  # 96 files of 16 MiB (each just under file_size_bytes)
            with open(f"big{i}", "wb") as handle:
                handle.write(b"x" * ((16 << 20) - 1))
            written += (16 << 20) - 1
    except OSError as exc:
        error = exc.errno
    time.sleep(1)  # hold what was written while the host's memory is sampled
    return written, error
"""


@needs_bwrap
def test_files_in_the_working_directory_count_against_the_memory_limit():
    with _PeakSampler() as sampler:
        result = _run(FILL_WORKING_DIRECTORY)
    assert result.status == "ok", result.error
    written, error = eval(result.trace.output)
    assert error == errno.ENOSPC, f"no 'No space left on device' after {written >> 20} MiB"
    assert written <= storage_bytes(SMALL.memory_bytes) < SMALL.memory_bytes
    # Before: +1,536 MiB of host shared memory under a 256 MiB limit.
    assert sampler.growth < SMALL.memory_bytes, f"host shared memory grew by {sampler.growth >> 20} MiB"


@needs_bwrap
def test_dev_shm_and_working_directory_together_stay_within_the_limit():
    source = """
import os
def f():
    total = 0
    for place in (".", "/dev/shm", "/tmp", "/var/tmp"):
        for i in range(64):
            try:
                with open(os.path.join(place, f"fill{i}"), "wb") as handle:
                    handle.write(b"x" * (8 << 20))
                total += 8 << 20
            except OSError:
                break
    return total
"""
    result = _run(source)
    assert result.status == "ok", result.error
    assert int(result.trace.output) <= storage_bytes(SMALL.memory_bytes)


FORK_CHILDREN = """
import os
def f():
    pids, refused = [], None
    for i in range(5):
        try:
            pid = os.fork()
        except OSError as exc:
            refused = exc.errno
            break
        if pid == 0:
            try:
                block = bytearray(150 << 20)  # zero-filled: every page is touched
                os._exit(0)
            except MemoryError:
                os._exit(7)
        pids.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
    return codes, refused
"""


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_forked_children_together_cannot_exceed_the_limit(isolation):
    # Four processes allowed: each gets a quarter of what the tmpfs leaves, so none can hold
    # 150 MB (before: five children of 150 MB each under a 256 MiB limit, +1,171 MiB).
    limits = SandboxLimits(cpu_seconds=10, wall_seconds=30, memory_bytes=256 * MiB, processes=4)
    result = _run(FORK_CHILDREN, limits, isolation)
    assert result.status == "ok", result.error
    codes, refused = eval(result.trace.output)
    held = 150 * MiB * codes.count(0)
    assert held + 30 * MiB <= limits.memory_bytes, f"{codes.count(0)} children held 150 MB each"
    assert len(codes) <= limits.processes - 1 and refused == errno.EAGAIN, (codes, refused)


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_a_program_starts_no_process_unless_its_limits_allow(isolation):
    source = """
import os, subprocess, threading
def f():
    out = []
    thread = threading.Thread(target=out.append, args=("thread ran",))
    thread.start()
    thread.join()
    for start in (os.fork, lambda: subprocess.run(["true"])):
        try:
            start()
            out.append("started")
            os._exit(0) if os.getpid() != PARENT else None
        except OSError as exc:
            out.append(exc.errno)
    return out
PARENT = os.getpid()
"""
    result = _run(source, SMALL, isolation)
    assert result.status == "ok", result.error
    assert eval(result.trace.output) == ["thread ran", errno.EPERM, errno.EPERM]


def test_limits_that_leave_too_little_per_process_are_refused():
    with pytest.raises(ValueError, match="processes"):
        SandboxLimits(memory_bytes=256 * MiB, processes=16)


# -- kernel surface -------------------------------------------------------------------------------
NAMESPACES_AND_MOUNTS = """
import ctypes
def f():
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
    def call(fn, *args):
        ok = fn(*args) == 0
        return "succeeded" if ok else ctypes.get_errno()
    user = call(libc.unshare, CLONE_NEWUSER | CLONE_NEWNS)
    mount = call(libc.mount, b"none", b"/tmp", b"tmpfs", 0, None)
    setns = call(libc.setns, -1, 0)
    return user, mount, setns
"""


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_new_namespaces_and_mounts_are_refused(isolation):
    # Before: unshare(CLONE_NEWUSER) gave every capability inside the namespace, and a
    # tmpfs could then be mounted.
    result = _run(NAMESPACES_AND_MOUNTS, SMALL, isolation)
    assert result.status == "ok", result.error
    assert eval(result.trace.output) == (errno.EPERM, errno.EPERM, errno.EPERM)


SOCKETS = """
import socket
def f():
    out = {}
    for name, family, kind in (("netlink", 16, socket.SOCK_RAW), ("vsock", 40, socket.SOCK_STREAM),
                               ("packet", 17, socket.SOCK_DGRAM), ("inet", socket.AF_INET, socket.SOCK_STREAM),
                               ("inet6", socket.AF_INET6, socket.SOCK_DGRAM), ("unix", socket.AF_UNIX, socket.SOCK_STREAM)):
        try:
            socket.socket(family, kind).close()
            out[name] = "opened"
        except OSError as exc:
            out[name] = exc.errno
    a, b = socket.socketpair()
    a.sendall(b"hi")
    out["socketpair"] = b.recv(2).decode()
    return out
"""


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_only_unix_and_ip_sockets_open(isolation):
    result = _run(SOCKETS, SMALL, isolation)
    assert result.status == "ok", result.error
    assert eval(result.trace.output) == {
        "netlink": errno.EPERM, "vsock": errno.EPERM, "packet": errno.EPERM,
        "inet": "opened", "inet6": "opened", "unix": "opened", "socketpair": "hi",
    }


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_memory_no_limit_counts_is_refused(isolation):
    source = """
import ctypes, os
def f():
    libc = ctypes.CDLL(None, use_errno=True)
    out = []
    try:
        os.memfd_create("x")
        out.append("memfd")
    except OSError as exc:
        out.append(exc.errno)
    IPC_PRIVATE, IPC_CREAT = 0, 0o1000
    out.append("shmget" if libc.shmget(IPC_PRIVATE, 1 << 20, IPC_CREAT | 0o600) >= 0 else ctypes.get_errno())
    return out
"""
    result = _run(source, SMALL, isolation)
    assert result.status == "ok", result.error
    assert eval(result.trace.output) == [errno.EPERM, errno.EPERM]


@needs_bwrap  # in the process mode as root, the program's uid may not read a Python under /root
def test_a_multiprocessing_pool_still_works():
    source = """
from multiprocessing import Pool
import ctypes, threading
def f():
    double = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(lambda x: x * 2)  # libffi closures
    with Pool(2) as pool:
        return pool.map(abs, [-1, -2, 3]), double(21)
"""
    # The program, 2 workers and the pool's 3 threads (the kernel counts threads too).
    # Starting a pool is slow on a loaded machine: generous time limits.
    limits = SandboxLimits(cpu_seconds=30, wall_seconds=120, memory_bytes=1 << 30, processes=8)
    result = _run(source, limits)
    assert result.status == "ok", result.error
    assert result.trace.output == "([1, 2, 3], 42)"


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_a_thread_costs_its_stack_not_a_malloc_arena(isolation):
    # Address space is what the per-process limit counts. glibc would map a 64 MiB malloc
    # arena for each thread that mallocs (and unmap it again where the limit leaves no room
    # to align it): with a Pool's threads, such a passing map came within a few MiB of a
    # 118 MiB share here, and past it on another machine ("can't start new thread").
    source = """
import threading
def vm_peak():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmPeak"))
def f():
    before, ready, done, sizes = vm_peak(), threading.Event(), threading.Event(), []
    def work():
        blob = bytes(100_000)  # past pymalloc: glibc's malloc, in this thread's arena
        ready.set()
        done.wait()
    thread = threading.Thread(target=work)
    thread.start()
    ready.wait()
    sizes.append(vm_peak() - before)
    done.set()
    thread.join()
    return sizes[0] // 1024
"""
    limits = SandboxLimits(memory_bytes=1 << 30, processes=8, threads=8)
    result = _run(source, limits, isolation)
    assert result.status == "ok", result.error
    grown_mib = int(result.trace.frames[-1].value)
    assert grown_mib < 32, f"one thread's start took the address space {grown_mib} MiB higher"


# -- the filter itself ---------------------------------------------------------------------------
FILTER_PROBE = """
import ctypes, errno, os, sys, threading
sys.path.insert(0, sys.argv[1])
from codewm.trace import seccomp
seccomp.install(seccomp.native_filter())
if sys.argv[2] == "0":
    seccomp.install(seccomp.native_no_processes_filter())  # stacked, as a child does
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
numbers = seccomp.native_arch().numbers
def call(*args):
    result = libc.syscall(*[ctypes.c_long(a) for a in args])
    if result == 0:
        os._exit(0)  # a process this call created: gone at once
    return "ok" if result > 0 else errno.errorcode[ctypes.get_errno()]
SIGCHLD, CLONE_NEWNET = 17, 0x40000000
out = [call(numbers["clone3"], 0, 0), call(numbers["clone"], CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0),
       call(numbers["clone"], SIGCHLD, 0, 0, 0, 0)]
t = threading.Thread(target=out.append, args=("thread",))
t.start(); t.join()
print(out)
"""


@pytest.mark.skipif(not seccomp.supported(), reason="no seccomp filter for this architecture")
@pytest.mark.parametrize("allow_processes,plain_clone", [(False, "EPERM"), (True, "ok")])
def test_the_filter_reads_clone_flags_and_sends_clone3_to_the_fallback(allow_processes, plain_clone):
    root = os.path.dirname(os.path.dirname(os.path.abspath(seccomp.__file__)))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(FILTER_PROBE), root, str(int(allow_processes))],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(["ENOSYS", "EPERM", plain_clone, "thread"])


def test_the_filter_jumps_fit_and_end_in_a_return():
    for arch in seccomp.ARCHES.values():
        for code in (seccomp.build_filter(arch), seccomp.build_no_processes_filter(arch)):
            assert len(code) % 8 == 0 and len(code) // 8 < 4096
            assert code[-8:-6] == (0x06).to_bytes(2, "little")  # BPF_RET


# -- the delegated-cgroup mode -------------------------------------------------------------------
# The machines the tests run on have no cgroup v2 subtree of codewm's own, so these use a
# stand-in directory with the files the kernel would provide: they check codewm's side (the
# limits written, the child joining through the descriptor handed into the sandbox, a kill
# counted in memory.events read as memory_limit), not the kernel's enforcement.
class _StandInCgroup(ProgramCgroup):
    def remove(self) -> None:
        self.close()
        for name in os.listdir(self.path):  # a real cgroup's files go with it
            os.unlink(os.path.join(self.path, name))
        os.rmdir(self.path)


class _StandInDelegated(DelegatedCgroup):
    def create(self) -> ProgramCgroup:
        path = os.path.join(self.path, f"codewm-test-{len(os.listdir(self.path))}")
        os.mkdir(path)
        for name in ("cgroup.procs", "memory.events", "memory.max", "pids.max"):
            with open(os.path.join(path, name), "w") as handle:
                handle.write("oom_kill 0\n" if name == "memory.events" else "")
        return _StandInCgroup(path)


def _stand_in(tmp_path) -> _StandInDelegated:
    (tmp_path / "cgroup.subtree_control").write_text("cpu memory pids\n")
    return _StandInDelegated(str(tmp_path))


def test_a_delegated_cgroup_needs_memory_and_pids_enabled(tmp_path):
    (tmp_path / "cgroup.subtree_control").write_text("cpu\n")
    with pytest.raises(CgroupError, match="memory and pids"):
        DelegatedCgroup(str(tmp_path))
    with pytest.raises(CgroupError, match="not a cgroup v2 directory"):
        DelegatedCgroup(str(tmp_path / "missing"))


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_programs_join_the_cgroup_with_its_limits(tmp_path, isolation):
    limits = SandboxLimits(cpu_seconds=10, wall_seconds=30, memory_bytes=256 * MiB, processes=4)
    with Sandbox(limits=limits, isolation=isolation, cgroup=_stand_in(tmp_path)) as box:
        results = [box.run(Program.function("def f():\n    return 1\n", "f()")) for _ in range(2)]
        (made,) = [p for p in tmp_path.iterdir() if p.is_dir()]
        assert [r.status for r in results] == ["ok", "ok"], [r.error for r in results]
        assert (made / "memory.max").read_text() == str(256 * MiB) and (made / "pids.max").read_text() == "4"
        assert (made / "cgroup.procs").read_text() == "00"  # each child wrote itself in ("0": the writer)
        # A kill the kernel counts in memory.events is the memory limit; another is not.
        source = "import os, time\ndef f():\n    time.sleep(3)\n    os.kill(os.getpid(), 9)\n"
        (made / "memory.events").write_text("oom_kill 1\n")  # read before the fork: no change
        assert box.run(Program.function(source, "f()")).status == "crashed"  # killed, but not by the kernel for memory
        runner = threading.Thread(target=lambda: results.append(box.run(Program.function(source, "f()"))))
        runner.start()
        while (made / "cgroup.procs").read_text() != "0000":  # the 4th child joined: the count was read
            time.sleep(0.01)
        (made / "memory.events").write_text("oom_kill 2\n")
        runner.join()
        assert results[-1].status == "memory_limit", results[-1].error
    assert not made.exists(), "the sandbox left its cgroup behind"
