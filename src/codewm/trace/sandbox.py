"""Run untrusted programs under the tracer, outside the codewm process, with limits.

    with Sandbox() as sandbox:
        result = sandbox.run_function("def f(x):\\n    return x * 2\\n", "f(21)")
        result.status        # 'ok'
        result.trace.output  # '42'

Isolation (`Sandbox.isolation` says which is in force, `Sandbox.isolation_notes` why):

- ``bwrap`` (default where bubblewrap works): the worker runs in new PID, network, IPC and
  UTS namespaces, sees the host's system directories and Python read-only, and has private,
  size-capped tmpfs mounts for /tmp (the programs' working directories), /var/tmp and
  /dev/shm (multiprocessing's locks and shared memory live there); everything else is
  read-only; no network interface but loopback exists. Programs run as an unprivileged
  uid of their worker's own when codewm runs as root (as in CI), else as the calling user.
- ``process`` (the weaker mode, used when bubblewrap is missing or cannot create namespaces):
  the same worker and limits, but no filesystem or PID isolation (files a program writes are
  not counted in its memory); the network is cut only where the process may create a network
  namespace (root). codewm reports this mode loudly.

In both modes a program's memory limit covers everything it does together (see
`codewm.trace.budget`): the writable tmpfs sizes plus `processes` times each process's
address space; a seccomp filter (`codewm.trace.seccomp`) denies new namespaces, mounts,
sockets other than Unix and IP ones, and, unless `processes` > 1, new processes. Where
codewm is given a cgroup v2 subtree (`cgroup=`, `codewm.trace.cgroup`), each worker's
programs also run in a cgroup of their own with memory.max and pids.max.

Every run ends with a `RunResult` (`codewm.types`) whose `status` is one of `STATUSES`, with
the partial trace of a run that was stopped. A worker that dies (a program killed it, or it
broke) is replaced before the next run.

A formatter turns a run's raw steps into what the caller keeps, inside the sandbox, so that
the steps never travel and no frames are built (what a dataset build needs; much cheaper).
The caller names it by an import string, "package.module:name", which the worker resolves
(this package never imports a formatter); the object it names has:

- `format(steps, context, status) -> dict`: JSON-able values; str values travel as raw text;
- `well_formed(formatted) -> bool`: whether a child's output (a program could tamper with
  it) has the shape `format` gives; a run whose output is not is a sandbox_error.

`codewm.format.cwm.DESCRIBE_STEPS` is the dataset builder's.
"""

from __future__ import annotations

import base64
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Iterable, Iterator

import codewm
from codewm.trace import budget, seccomp
from codewm.trace.bwrap import bwrap_path, fresh_uid, readonly_binds, system_binds
from codewm.trace.cgroup import CGROUP_ENV, CgroupError, DelegatedCgroup, ProgramCgroup
from codewm.trace.render import DEFAULT_MAX_CHARS, DEFAULT_REPR_TIMEOUT
from codewm.trace.protocol import TEXTS, read_message, take_formatted, write_message
from codewm.trace.system import python_dirs
from codewm.trace.tracer import DEFAULT_MAX_STEPS, steps_to_frames
from codewm.types import STATUSES, RunResult, Trace, build_context, script_context, steps_complete

ISOLATIONS = ("auto", "bwrap", "process")


# The worker's whole environment (programs see the child's own, set in codewm.trace.child).
# MALLOC_ARENA_MAX=1: glibc would give each new thread its own malloc arena, reserving 64 MiB
# of address space apiece, which counts against the per-process limit (RLIMIT_AS) as if it
# were used: a Pool's three threads could then fail to start on one machine and not another.
WORKER_ENV = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8", "MALLOC_ARENA_MAX": "1"}


@dataclass(frozen=True)
class SandboxLimits:
    """Limits on one traced program. The defaults suit CRUXEval- and HumanEval-sized code."""

    cpu_seconds: float = 5.0  # CPU time (RLIMIT_CPU); past it: status timeout
    wall_seconds: float = 10.0  # wall-clock time; past it: status timeout
    # All the program holds at once: its writable tmpfs (sizes fixed from this value) plus
    # `processes` times each process's address space (RLIMIT_AS); see codewm.trace.budget.
    # Past it: status memory_limit, or "No space left on device" for a file.
    memory_bytes: int = 1 << 30
    file_size_bytes: int = 16 << 20  # largest file the program may write (RLIMIT_FSIZE)
    # Processes the program may run at once, itself included; each gets an equal share of
    # memory_bytes. 1: it may start none (fork, vfork and clone fail with EPERM). Above 1,
    # the kernel's count (RLIMIT_NPROC) includes threads too.
    processes: int = 1
    threads: int = 32  # threads of a one-process program (RLIMIT_NPROC)
    open_files: int = 256  # open file descriptors (RLIMIT_NOFILE)
    output_bytes: int = 1 << 20  # stdout+stderr kept; the rest is discarded (output_truncated)
    trace_bytes: int = 256 << 20  # encoded trace size; past it: status step_limit
    max_steps: int = DEFAULT_MAX_STEPS  # frames recorded; past it: status step_limit
    max_value_chars: int = DEFAULT_MAX_CHARS  # longest rendered value (see codewm.trace.render)
    repr_timeout: float = DEFAULT_REPR_TIMEOUT  # seconds a user __repr__ may run

    def __post_init__(self) -> None:
        if self.processes < 1 or self.threads < 1:
            raise ValueError(f"processes and threads must be at least 1, got {self.processes} and {self.threads}")
        self.process_memory_bytes(budget.storage_bytes(self.memory_bytes))  # raises if too small

    def process_memory_bytes(self, storage: int) -> int:
        """The address space each process gets when `storage` bytes go to writable tmpfs."""
        return budget.process_memory_bytes(self.memory_bytes, self.processes, storage)


@dataclass(frozen=True)
class Program:
    """What to run: a CWM context, whether it is a whole script, and whether to audit it
    (record in `RunResult.touched` the files, network and processes the program uses).

    `compiled` optionally carries the context already compiled by codewm
    (`codewm.trace.tracer.shippable_code`), which the sandbox then runs instead of compiling
    it again: the dataset planner compiles every program anyway to hash it.

    `traced=False` runs the program without the tracer, at full speed, with the same
    isolation and limits (see `check`): the result has status ok, exception, syntax_error
    or a limit's, and a trace without frames.
    """

    context: str
    script: bool = False
    audit: bool = False
    compiled: bytes | None = field(default=None, repr=False)
    traced: bool = True
    # The program's `__name__`. "__main__" (the default, as CRUXEval's programs ran) runs an
    # `if __name__ == "__main__":` block; another name runs the file as an imported module.
    module_name: str = "__main__"

    @classmethod
    def function(
        cls, source: str, call: str, audit: bool = False, compiled: bytes | None = None, module_name: str = "__main__"
    ) -> "Program":
        return cls(build_context(source, call), audit=audit, compiled=compiled, module_name=module_name)

    @classmethod
    def whole_script(cls, source: str) -> "Program":
        return cls(script_context(source), script=True)

    @classmethod
    def check(cls, source: str) -> "Program":
        """An untraced whole script, run as it is written: how execution benchmarks score an
        answer (`{code}\\nassert {output} == {answer}`). Status ok means it ran to its end;
        any exception, SystemExit included, gives status exception."""
        return cls(source, script=True, traced=False)


class SandboxError(RuntimeError):
    """The sandbox itself could not be started (not a problem of a traced program)."""


def _program_request(program: Program) -> dict:
    request = {"context": program.context, "script": program.script, "audit": program.audit}
    if not program.traced:
        request["traced"] = False
    if program.module_name != "__main__":
        request["module_name"] = program.module_name
    if program.compiled is not None:
        request["compiled"] = base64.b64encode(program.compiled).decode("ascii")
    return request


def package_root() -> str:
    """The folder to put on sys.path so that a fresh interpreter imports this codewm."""
    return os.path.dirname(os.path.dirname(os.path.abspath(codewm.__file__)))


def _bwrap_command(bwrap: str, base_dir: str, storage: dict[str, int]) -> list[str]:
    """bubblewrap's command line for a worker whose writable tmpfs mounts have the sizes
    `storage` gives (`codewm.trace.budget.storage_sizes`)."""
    binds = system_binds()
    # Private writable places come before the Python binds: a later mount hides an earlier
    # one, and codewm or its Python may live under /tmp (a fresh clone, a venv).
    # Each is capped: a tmpfs's pages are memory that no process's limit counts.
    binds += ["--proc", "/proc", "--dev", "/dev"]
    binds += ["--size", str(storage["/tmp"]), "--tmpfs", "/tmp", "--size", str(storage["/var/tmp"]), "--tmpfs", "/var/tmp"]
    # multiprocessing's semaphores (Lock, Pool) and shared_memory need a writable /dev/shm;
    # bwrap's --dev leaves it root's.
    binds += ["--perms", "1777", "--size", str(storage["/dev/shm"]), "--tmpfs", "/dev/shm"]
    executable = os.path.realpath(sys.executable)
    made: set[str] = {"/tmp", "/var", "/var/tmp"}
    binds += readonly_binds(python_dirs(package_root()), made)
    if os.geteuid() != 0:
        # bwrap's root and /dev are uncapped tmpfs mounts that the program's uid (the calling
        # user's, in a user namespace) owns: make them read-only. As root they are root's.
        binds += ["--remount-ro", "/", "--remount-ro", "/dev"]
    command = [
        bwrap,
        # No --die-with-parent: it fires when the *thread* that started bwrap exits (a pool
        # thread, say), not the codewm process. A worker exits by itself when its stdin closes.
        "--new-session",
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        *binds,
        "--hostname", "codewm-sandbox",
        "--chdir", "/tmp",
        "--clearenv",
        *(part for name, value in WORKER_ENV.items() for part in ("--setenv", name, value)),
    ]
    if os.geteuid() == 0:
        # Root: no user namespace, so the worker may hand programs an unprivileged uid of
        # its own (which the process limit then applies to) and still kill and clean up
        # after them. bwrap drops every other capability.
        for cap in ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER"):
            command += ["--cap-add", cap]
    else:
        # The seccomp filter denies new user namespaces too; this also keeps a process that
        # the filter does not reach (none should exist) from making one.
        command += ["--unshare-user", "--disable-userns"]
    return command + _worker_argv(executable, base_dir, sandboxed=True)


def _worker_argv(executable: str, base_dir: str, sandboxed: bool) -> list[str]:
    bootstrap = f"import sys; sys.path.insert(0, {package_root()!r}); from codewm.trace.worker import main; main()"
    argv = [executable, "-s", "-B", "-c", bootstrap, base_dir, str(fresh_uid())]
    argv += ["--seccomp"] if seccomp.supported() else []  # the worker installs the filter
    return argv + (["--sandboxed"] if sandboxed else [])


def probe_bwrap() -> tuple[bool, str]:
    """Whether bubblewrap can start a sandbox here, and why not if it cannot."""
    bwrap = bwrap_path()
    if bwrap is None:
        return False, "bubblewrap (bwrap) is not installed"
    command = _bwrap_command(bwrap, "/tmp/codewm-probe", budget.storage_sizes(SandboxLimits().memory_bytes))
    command = command[: command.index(os.path.realpath(sys.executable))] + ["/bin/true"]
    try:
        done = subprocess.run(command, capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"bubblewrap failed to start: {exc}"
    if done.returncode != 0:
        return False, f"bubblewrap cannot create a sandbox here: {done.stderr.decode(errors='replace').strip()}"
    return True, "bubblewrap"


class _WorkerProcess:
    """One warm worker and the pipes to it."""

    def __init__(self, argv: list[str], env: dict[str, str], cgroup: ProgramCgroup | None = None) -> None:
        self.cgroup = cgroup  # the cgroup its programs run in (delegated-cgroup mode), removed at close
        if cgroup is not None:
            argv = argv + [f"--cgroup-fds={cgroup.procs_fd},{cgroup.events_fd}"]
        pass_fds = (cgroup.procs_fd, cgroup.events_fd) if cgroup is not None else ()
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, close_fds=True, pass_fds=pass_fds)
        try:
            hello = read_message(self.process.stdout.fileno())
        except (EOFError, ValueError) as exc:
            self.close()
            raise SandboxError(f"the sandbox worker did not start ({' '.join(argv[:3])} ...): {exc}") from None
        if not hello.get("ready"):
            self.close()
            raise SandboxError(f"the sandbox worker sent an unexpected greeting: {hello!r}")
        self.program_uid = hello.get("program_uid")
        runtime = hello.get("runtime")  # the Python and the hook its programs are traced with
        self.runtime = {str(k): str(v) for k, v in runtime.items()} if isinstance(runtime, dict) else None

    def request(self, message: dict) -> dict:
        write_message(self.process.stdin.fileno(), message)
        return read_message(self.process.stdout.fileno())

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.kill()
        except OSError:
            pass
        self.process.wait()
        if self.cgroup is not None:
            self.cgroup.remove()


class Sandbox:
    """A pool of warm workers that trace programs in isolation. Thread-safe; reusable."""

    def __init__(self, limits: SandboxLimits | None = None, workers: int = 1, isolation: str = "auto", cgroup: str | DelegatedCgroup | None = None) -> None:
        """`cgroup`: a cgroup v2 directory delegated to codewm (default: $CODEWM_CGROUP), in
        which each worker's programs get a cgroup with memory.max and pids.max (see
        `codewm.trace.cgroup`); "" for none."""
        if isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {ISOLATIONS}, got {isolation!r}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.limits = limits or SandboxLimits()
        self.isolation_notes: list[str] = []
        if isolation in ("auto", "bwrap"):
            usable, why = probe_bwrap()
            if not usable and isolation == "bwrap":
                raise SandboxError(why)
            if not usable:
                self.isolation_notes.append(f"weaker sandbox: {why}; no filesystem or PID isolation")
            isolation = "bwrap" if usable else "process"
        self.isolation = isolation
        # The writable tmpfs sizes every worker of this sandbox gets (none in process mode).
        self.storage = budget.storage_sizes(self.limits.memory_bytes) if isolation == "bwrap" else {}
        if not seccomp.supported():
            self.isolation_notes.append("weaker sandbox: no seccomp filter for this architecture (programs may create namespaces and any socket)")
        cgroup = os.environ.get(CGROUP_ENV, "") if cgroup is None else cgroup
        try:
            self.cgroup = DelegatedCgroup(cgroup) if isinstance(cgroup, str) and cgroup else (cgroup or None)
        except CgroupError as exc:
            raise SandboxError(str(exc)) from None
        if isolation == "process" and os.geteuid() != 0:
            self.isolation_notes.append("weaker sandbox: not root, so programs share the caller's uid and network")
        self._tmp = tempfile.mkdtemp(prefix="codewm-sandbox-")
        os.chmod(self._tmp, 0o711)
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._idle: list[_WorkerProcess] = []
        self._size = workers
        self._closed = False
        self._workers_started = 0

    # -- worker pool ------------------------------------------------------------------------
    def _start_worker(self) -> _WorkerProcess:
        base = "/tmp/codewm-work" if self.isolation == "bwrap" else tempfile.mkdtemp(prefix="w", dir=self._tmp)
        if self.isolation == "bwrap":
            argv = _bwrap_command(bwrap_path() or "bwrap", base, self.storage)
        else:
            argv = _worker_argv(os.path.realpath(sys.executable), base, sandboxed=False)
        env = dict(WORKER_ENV)
        cgroup = None
        if self.cgroup is not None:
            try:
                cgroup = self.cgroup.create()
            except CgroupError as exc:
                raise SandboxError(str(exc)) from None
        self._workers_started += 1
        try:
            return _WorkerProcess(argv, env, cgroup)
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise

    def _acquire(self) -> _WorkerProcess:
        with self._lock:
            if self._closed:
                raise SandboxError("the sandbox is closed")
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.close()
        return self._start_worker()

    def _release(self, worker: _WorkerProcess) -> None:
        with self._lock:
            if self._closed or len(self._idle) >= self._size:
                worker.close()
            else:
                self._idle.append(worker)

    @property
    def size(self) -> int:
        """How many workers the pool keeps (programs traced at once)."""
        return self._size

    @property
    def workers_started(self) -> int:
        """How many worker processes were started so far (replacements included)."""
        return self._workers_started

    # -- running ------------------------------------------------------------------------------
    def run(self, program: Program) -> RunResult:
        """Trace one program in a child process of its own."""
        return self.run_batch([program])[0]

    def run_batch(self, programs: list[Program], formatter: str | None = None, limits: SandboxLimits | None = None) -> list[RunResult]:
        """Trace programs one after another in as few child processes as possible.

        Each program gets its own limits, trace, output and a clean working directory, and
        the child puts back the module table, builtins, environment and working directory
        between programs; a program that ends by a limit, a crash, or after starting a thread
        or a process is the last one its child runs. What a batch does not undo is a change
        a program makes to an imported module's attributes: batch only programs you trust
        not to do that (codewm's generated programs); `run` and `map` with batch_size=1
        give every program a fresh process.

        `formatter` (an import string, see the module docstring) formats each run where its
        steps are: `RunResult.formatted` holds the output, `trace` its completeness and no
        frames.

        `limits` replaces the sandbox's own limits for these programs (benchmark checks use
        the benchmark's time limit on a sandbox made for tracing).
        """
        if not programs:
            return []
        limits = limits or self.limits
        child_limits = {k: v for k, v in asdict(limits).items() if k not in ("max_steps", "max_value_chars", "repr_timeout")}
        # Raises ValueError if these limits leave too little beside this sandbox's tmpfs.
        child_limits["process_memory_bytes"] = limits.process_memory_bytes(sum(self.storage.values()))
        child_limits["seccomp"] = seccomp.supported()
        request = {
            "id": next(self._ids),
            "programs": [_program_request(p) for p in programs],
            "formatter": formatter,
            "limits": child_limits,
            "trace": {"max_steps": limits.max_steps, "max_value_chars": limits.max_value_chars, "repr_timeout": limits.repr_timeout},
        }
        try:
            worker = self._acquire()
            if worker.cgroup is not None:
                worker.cgroup.apply(limits.memory_bytes, budget.task_limit(limits.processes, limits.threads))
        except (SandboxError, CgroupError) as exc:
            return [RunResult("sandbox_error", Trace(p.context, [], complete=False), str(exc)) for p in programs]
        try:
            reply = worker.request(request)
        except (EOFError, OSError, ValueError) as exc:
            # The worker died under these programs (it was killed, or broke): replace it.
            worker.close()
            message = f"the sandbox worker died while running this program ({type(exc).__name__}); it was replaced"
            return [RunResult("crashed", Trace(p.context, [], complete=False), message) for p in programs]
        self._release(worker)
        replies = reply.get("results")
        if not isinstance(replies, list) or len(replies) != len(programs):
            return [RunResult("sandbox_error", Trace(p.context, [], complete=False), "malformed reply from the worker") for p in programs]
        texts = reply.get(TEXTS, [])  # the formatted runs' texts travel after the JSON
        results = [self._result(program, item if isinstance(item, dict) else {}, formatter is not None, texts) for program, item in zip(programs, replies)]
        for result in results:
            result.trace.runtime = worker.runtime
        return results

    def _result(self, program: Program, reply: dict, formatted: bool, texts: list[str]) -> RunResult:
        """The `RunResult` of one program from the worker's reply about it."""
        status = reply.get("status")
        if status not in STATUSES:
            return RunResult("sandbox_error", Trace(program.context, [], complete=False), f"unknown status from the worker: {status!r}")
        if formatted:
            output = take_formatted(reply, texts)
            if output is None or type(reply.get("complete")) is not bool:
                return RunResult("sandbox_error", Trace(program.context, [], complete=False), "malformed reply from the worker (no trace text)")
            trace, steps = Trace(program.context, [], complete=reply["complete"]), []
        else:
            output = None
            try:
                steps = [tuple(step) for step in reply.get("steps", [])]
                frames = steps_to_frames(steps, program.context)
            except (TypeError, ValueError) as exc:
                return RunResult("sandbox_error", Trace(program.context, [], complete=False), f"malformed trace from the worker: {exc}")
            trace = Trace(program.context, frames, complete=steps_complete(steps, status))
        return RunResult(
            status=status,
            trace=trace,
            error=reply.get("error"),
            stdout=reply.get("stdout", ""),
            output_truncated=bool(reply.get("output_truncated")),
            wall_seconds=float(reply.get("wall_seconds", 0.0)),
            touched=list(reply.get("touched") or []),
            steps=steps,
            formatted=output,
            returned=reply.get("returned") if type(reply.get("returned")) is str else None,
        )

    def run_function(self, source: str, call: str) -> RunResult:
        """Trace `call` (e.g. `f(1, [2, 3])`) on the functions that `source` defines."""
        return self.run(Program.function(source, call))

    def run_script(self, source: str) -> RunResult:
        """Trace a whole script."""
        return self.run(Program.whole_script(source))

    def map(self, programs: Iterable[Program], batch_size: int = 1, limits: SandboxLimits | None = None) -> Iterator[RunResult]:
        """Run many programs across the pool's workers; results come back in input order.

        With `batch_size` > 1, up to that many programs share a child process (see
        `run_batch` for what that does and does not isolate); the default gives each its own.
        `limits`, when given, replaces the sandbox's own for these programs.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        programs = list(programs)
        yield from self.map_batches([programs[i : i + batch_size] for i in range(0, len(programs), batch_size)], limits=limits)

    def map_batches(self, batches: Iterable[list[Program]], formatter: str | None = None, limits: SandboxLimits | None = None) -> Iterator[RunResult]:
        """Run the given batches across the pool's workers; results in input order, flat."""
        with ThreadPoolExecutor(max_workers=self._size) as pool:
            for results in pool.map(lambda batch: self.run_batch(batch, formatter=formatter, limits=limits), batches):
                yield from results

    # -- lifetime -----------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
