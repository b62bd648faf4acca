"""The sandbox's child: what runs in the process the worker forks for a batch of programs.

`run_child` is all the worker calls. It confines the process (`confine`), then a
`ChildRun` traces the programs one after another, reporting each over the signed channel
(`codewm.trace.protocol.SignedChannel`), and ends the process with `os._exit`:

- the child has its own session, stdin from /dev/null, stdout and stderr into the output pipe,
  a private working directory (also its HOME and TMPDIR), resource limits, `no_new_privs`
  and, when the worker runs as root, an unprivileged uid;
- the program cannot change the trace function (`guard_tracing_hooks`);
- the trace streams to the worker in chunks, so a child killed by a limit still leaves a
  partial trace; a child that stops by a signal, a step limit or `os._exit` hands over what
  it recorded first;
- a process the program forks stops tracing, loses the channel, cannot end the program's
  share of the output, and dies of SIGTERM and SIGXCPU as usual;
- between programs the child puts back what a program may change (modules, builtins,
  environment, working directory); a program that ends by a limit, a crash, or leaves a
  thread or process behind is the last one the child runs.
"""

from __future__ import annotations

import base64
import builtins
import gc
import mmap
import os
import resource
import shutil
import signal
import sys
import tempfile
import threading

from codewm.trace import budget, cgroup, seccomp
from codewm.trace.protocol import OUTPUT_MARK, SignedChannel, put_formatted
from codewm.trace.render import RenderOptions
from codewm.trace.system import PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, prctl, python_dirs, unshare_network
from codewm.trace.tracer import PROGRAM_FILENAME, Recorder, TraceOptions, compile_program, stop_tracing, trace_in_process
from codewm.types import entry_function, steps_complete

try:  # sealed untraced runs (docs/tracer.md, "Trust boundary"); without it they run as before
    from codewm.trace import _csealed
except ImportError:  # pragma: no cover - a build without a C compiler
    _csealed = None
try:  # the steps' MAC lives in the C tracer
    from codewm.trace import _ctracer
except ImportError:  # pragma: no cover - a build without a C compiler
    _ctracer = None

FLUSH_EVERY = 256  # steps per chunk streamed to the worker
RESERVE_BYTES = 4 << 20  # address space kept back for reporting after a MemoryError
# Audit events after which a program may have left a thread or a process running.
TAINTING_EVENTS = frozenset({
    "_thread.start_new_thread", "os.fork", "os.forkpty", "subprocess.Popen", "os.system", "os.posix_spawn",
    "os.exec", "os.spawn", "ctypes.dlopen", "signal.pthread_kill",
})
# Statuses after which the process is still fit to run the next program.
_CLEAN_ENDS = ("ok", "exception", "syntax_error")


def run_child(batch: dict, first: int, channel: SignedChannel, output_fd: int, workdir: str, uid: int | None, isolate_net: bool, formatter=None, cgroup_fd: int | None = None, step_key: bytearray | None = None) -> None:
    """In the forked child: apply every limit, then run programs `first`.. of the batch, one
    after the other, reporting each; `_exit` after the last one, or as soon as a program
    ends in a way that leaves the process unfit for the next. `formatter` (see
    `codewm.trace.sandbox`) formats each run here instead of sending its steps.
    `cgroup_fd`: the `cgroup.procs` of the cgroup the programs run in (`codewm.trace.cgroup`),
    if any. Never returns."""
    real_exit = os._exit  # the program sees a wrapped os._exit; the child keeps the real one
    try:
        if cgroup_fd is not None:
            cgroup.join(cgroup_fd)  # before anything of the program's: confine closes the descriptor
        confine(batch["limits"], len(batch["programs"]) - first, channel.fd, output_fd, workdir, uid, isolate_net)
    except BaseException as exc:  # the sandbox could not be set up: never run the program
        channel.send({"final": {"index": first, "status": "sandbox_error", "error": f"child setup failed: {exc!r}"}})
        real_exit(0)
    ChildRun(batch, first, channel, workdir, formatter, real_exit).run(step_key)


def cpu_seconds(limits: dict) -> int:
    """The CPU time one program may use, in whole seconds (RLIMIT_CPU counts seconds)."""
    return max(1, int(limits["cpu_seconds"] + 0.999))


def confine(limits: dict, programs: int, result_fd: int, output_fd: int, workdir: str, uid: int | None, isolate_net: bool) -> None:
    """Make this process the sandbox of `programs` programs: descriptors, session, limits,
    uid, environment. Raises if any step fails (the caller then runs nothing)."""
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    keep = sorted({0, 1, 2, result_fd})
    for low, high in zip(keep, keep[1:] + [1 << 16]):
        os.closerange(low + 1, high)
    os.set_inheritable(result_fd, False)  # not into programs the child may exec
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if isolate_net:
        unshare_network()  # best effort in the weaker mode; bwrap already did it
    os.chdir(workdir)
    # The hard CPU limit covers the whole batch; the soft one is moved before each program.
    cpu = cpu_seconds(limits)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu * programs + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    resource.setrlimit(resource.RLIMIT_NPROC, (task_limit(limits, uid is None and not isolate_net),) * 2)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    if limits.get("seccomp") and limits["processes"] == 1:
        # The worker's filter (inherited) allows new processes; this one, stacked, does not.
        seccomp.install(seccomp.native_no_processes_filter())
    os.environ.clear()
    os.environ.update({"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"})
    tempfile.tempdir = workdir  # the worker may have computed it before; the program's is private


def task_limit(limits: dict, shares_uid: bool) -> int:
    """RLIMIT_NPROC for the program (`codewm.trace.budget.task_limit`). `shares_uid`: the
    program keeps the worker's uid inside bubblewrap's user namespace, where bwrap and the
    worker count too."""
    wanted = budget.task_limit(limits["processes"], limits["threads"])
    return wanted + (other_tasks_of_uid() if shares_uid else 0)


def other_tasks_of_uid() -> int:
    """Processes and threads of this process's real uid other than this one (inside the
    sandbox's PID namespace: bwrap and the worker)."""
    uid, me, count = os.getuid(), os.getpid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            try:
                with open(f"/proc/{entry}/status") as handle:
                    fields = dict(line.split(":", 1) for line in handle if ":" in line)
            except OSError:
                continue
            if int(fields.get("Uid", "-1").split()[0]) == uid:
                count += int(fields.get("Threads", "1"))
    return count



# A traced program is called through three Python frames (trace, trace_in_process,
# Recorder.run) and a sealed one through one (run_sealed, then C): two more frames under the
# sealed run make every program start at the same depth, so it meets RecursionError at the
# same depth traced and untraced (tests/trace/test_recursion_edges.py holds them equal).
SEALED_STACK_PADDING = 2


def _through_frames(levels: int, call, *args):
    """`call(*args)` from `levels` (at least 1) frames of this function."""
    return call(*args) if levels <= 1 else _through_frames(levels - 1, call, *args)

class ChildRun:
    """The programs of one confined child, run one after another (see `run_child`)."""

    def __init__(self, batch: dict, first: int, channel: SignedChannel, workdir: str, formatter, real_exit) -> None:
        self.programs = batch["programs"]
        self.first = first
        self.limits = batch["limits"]
        self.channel = channel
        self.workdir = workdir
        self.formatter = formatter
        self.exit = real_exit
        self.pid = os.getpid()  # a process the program forks has another: it must not report
        self.options = TraceOptions(
            max_steps=batch["trace"]["max_steps"],
            render=RenderOptions(max_chars=batch["trace"]["max_value_chars"], repr_timeout=batch["trace"]["repr_timeout"]),
        )
        self.output_mark = bytearray(OUTPUT_MARK + channel.marker)  # zeroed before a sealed run
        self.cpu_limit_at = 0  # the CPU time (s) at which this program's limit signals
        self.index = first  # the program running now
        self.recorder: Recorder | None = None
        self.touched: list[str] = []  # what the program reached outside itself (audit)
        self.tainted: str | None = None  # why this child must not run another program
        # Bound once: a fresh bound method would never be `is` the installed handler.
        self.signal_handler = self.on_signal
        self.handling_limit = False  # a limit's handler is reporting the program
        self.saved: tuple = ()

    # -- the run ----------------------------------------------------------------------------------
    def run(self, step_key: bytearray | None = None) -> None:
        """Install the guards, run the programs, `_exit`. Never returns. `step_key` keys the
        MAC the C tracer keeps over the steps it records (handed to C and zeroed here)."""
        if step_key is not None:
            if _ctracer is not None and hasattr(_ctracer, "set_step_key"):
                _ctracer.set_step_key(step_key)
            step_key[:] = bytes(len(step_key))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the file-size limit fail instead
        os.register_at_fork(after_in_child=self.in_forked_process)
        # Address space reserved for reporting, released when the program runs out of memory so
        # that the report fits under the limit (an anonymous map: no page is touched).
        self.reserve = mmap.mmap(-1, RESERVE_BYTES)
        # The program's share of the memory limit: each of its processes gets as much (see
        # codewm.trace.budget; the tmpfs it may fill is the rest).
        resource.setrlimit(resource.RLIMIT_AS, (self.limits["process_memory_bytes"],) * 2)
        guard_tracing_hooks()
        sys.addaudithook(self.taint)
        if any(self.programs[i].get("audit") for i in range(self.first, len(self.programs))):
            allowed_roots = tuple(p + os.sep for p in python_dirs(sys.path[0]))
            install_audit(self.touched, allowed_roots)
        self.save_state()
        # Objects inherited from the worker are never garbage of this child: keeping the
        # collector off them spares the copy-on-write of every page they live on.
        gc.freeze()
        for index in range(self.first, len(self.programs)):
            if not self.run_program(index):
                self.exit(0)
        self.exit(0)

    def run_program(self, index: int) -> bool:
        """Trace program `index` and report it; whether the child may go on to the next."""
        program = self.programs[index]
        self.index = index
        self.touched.clear()
        self.arm_limits()
        if program.get("traced", True) is False and _csealed is not None:
            return self.run_sealed(program)
        os._exit = self.program_exit
        recorder = Recorder(PROGRAM_FILENAME, self.options, on_step_limit=self.on_step_limit, sink=self.sink, flush_every=FLUSH_EVERY)
        self.recorder = recorder
        status, error = self.trace(program, recorder)
        if os.getpid() != self.pid:
            self.exit(0)  # the program forked and this copy returned from it: say nothing
        formatted = None
        try:
            if status == "memory_limit":
                self.reserve.close()
            if self.formatter is not None and status in _CLEAN_ENDS:
                # The caller wants the run formatted: do it here, once, instead of sending the steps.
                formatted = self.formatter.format(recorder.steps, program["context"], status)
            else:
                recorder.flush()
            self.end_output()
        except MemoryError:
            recorder.steps.clear()
            self.report("memory_limit", "MemoryError while reporting")
            self.exit(0)
        # A program that ended by a limit, a crash, or left a thread or a process behind is
        # the last this child runs.
        going_on = (
            index + 1 < len(self.programs)
            and status in _CLEAN_ENDS
            and not self.tainted
            and threading.active_count() == 1
            and self.restore_state()
        )
        complete = steps_complete(recorder.steps, status) if formatted is not None else None
        self.report(status, error, formatted, complete, going_on)
        return going_on

    def arm_limits(self) -> None:
        """Give the next program its own CPU time and put back the handlers of the limits."""
        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(used.ru_utime + used.ru_stime) + cpu_seconds(self.limits)
        self.cpu_limit_at = soft
        resource.setrlimit(resource.RLIMIT_CPU, (soft, max(soft, resource.getrlimit(resource.RLIMIT_CPU)[1])))
        for signum in (signal.SIGXCPU, signal.SIGTERM):  # a program may have replaced them
            if signal.getsignal(signum) is not self.signal_handler:
                signal.signal(signum, self.signal_handler)

    def run_sealed(self, program: dict) -> bool:
        """Run an untraced program sealed (`codewm.trace._csealed`): its verdict is decided
        and signed in C, after the channel's key and the output marker were taken out of
        every Python object. Ends the process; returns only for a program that does not
        compile (reported as usual: its code never ran)."""
        try:
            code = compile_program(program["context"])
        except (SyntaxError, ValueError) as exc:
            where = f" (line {exc.lineno}, column {exc.offset})" if isinstance(exc, SyntaxError) else ""
            self.end_output()
            self.report("syntax_error", f"{type(exc).__name__}: {getattr(exc, 'msg', exc)}{where}")
            return False
        entry = None if program.get("script") else entry_function(program["context"])
        namespace = {"__name__": str(program.get("module_name", "__main__")), "__builtins__": builtins}
        # Limits end a sealed run by the signal itself (the worker classifies the death):
        # no Python handler could sign a report any more.
        for signum in (signal.SIGXCPU, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        os._exit = self.exit
        self.reserve.close()
        self.output_mark[:] = bytes(len(self.output_mark))
        channel = self.channel
        _through_frames(SEALED_STACK_PADDING, _csealed.run, channel.fd, channel.key, channel.marker, channel.counter, self.index, code, namespace, entry)
        return False  # pragma: no cover - run() ends the process

    def trace(self, program: dict, recorder: Recorder) -> tuple[str, str | None]:
        """Run one program under `recorder`; its status and error."""
        try:
            compiled = program.get("compiled")
            if isinstance(compiled, str):  # compiled by codewm's host (see Program.compiled)
                compiled = base64.b64decode(compiled)
            result = trace_in_process(
                program["context"], script=program.get("script", False), recorder=recorder, frames=False,
                compiled=compiled, traced=program.get("traced", True) is not False,
                namespace={"__name__": str(program.get("module_name", "__main__"))},
            )
        except MemoryError:
            return "memory_limit", "MemoryError"
        if result.status == "exception" and result.error is not None and result.error.startswith("MemoryError("):
            return "memory_limit", result.error
        return result.status, result.error

    # -- reporting ------------------------------------------------------------------------------
    def end_output(self) -> None:
        """Close this program's share of the output stream (the worker splits it here).
        Only the child itself may: a process the program forked (a Pool's worker stopped by
        SIGTERM, say) would otherwise cut the stream early and lose the program's later output."""
        if os.getpid() != self.pid:
            return
        flush_program_output()
        try:
            os.write(1, self.output_mark)
        except OSError:
            self.tainted = "the program closed its standard output"

    def report(self, status: str, error: str | None, formatted: dict | None = None, complete: bool | None = None, going_on: bool = False) -> None:
        """The last message about a program; `next` says the child goes on with the next one
        (the worker starts that program's wall clock on it)."""
        if os.getpid() != self.pid:
            return
        final = {"index": self.index, "status": status, "error": error, "touched": self.touched}
        digest = _ctracer.take_digest() if _ctracer is not None and hasattr(_ctracer, "take_digest") else None
        if digest is not None:
            final["digest"] = digest  # the C tracer's MAC over this program's steps
        texts: list[str] = []
        if formatted is not None:
            put_formatted(final, formatted, texts)  # long texts go after the JSON
            final["complete"] = complete
        message = {"final": final}
        if going_on:
            message["next"] = self.index + 1
        self.channel.send(message, texts)

    def sink(self, steps: list) -> None:
        """Stream a chunk of recorded steps to the worker."""
        if os.getpid() == self.pid:  # a process the program forked does not report
            self.channel.send({"steps": steps, "index": self.index})

    def hand_over(self, status: str, error: str) -> None:
        """Stop tracing, send what was recorded and the final word on this program."""
        stop_tracing()
        if self.recorder is not None:
            self.recorder.flush()
        self.end_output()
        self.report(status, error)

    # -- the ways a program ends early ------------------------------------------------------------
    def on_step_limit(self, recorder: Recorder) -> None:
        recorder.flush()
        self.end_output()
        self.report("step_limit", f"more than {self.options.max_steps} steps")
        self.exit(0)

    def on_signal(self, signum, _frame) -> None:
        """Wall-clock or CPU limit: hand over what was recorded, then stop at once. A SIGXCPU
        before the program used its CPU time came from the program itself: a crash. (Whether
        a SIGTERM came from the worker's wall clock only the worker knows; it decides.)"""
        if self.handling_limit:
            return  # a second limit signal must not cut into the first one's report
        recorder = self.recorder
        if recorder is not None and recorder.after_flush(lambda: self.on_signal(signum, _frame)):
            return  # in the middle of streaming a chunk: handled once it is sent
        self.handling_limit = True
        name = signal.Signals(signum).name
        status = "timeout"
        if signum == signal.SIGXCPU:
            used = resource.getrusage(resource.RUSAGE_SELF)
            # The kernel's tick-sampled count may run a little ahead of rusage's.
            if used.ru_utime + used.ru_stime < self.cpu_limit_at - 0.25 * cpu_seconds(self.limits):
                status, name = "crashed", f"the program raised {name} itself"
        try:
            self.hand_over(status, name)
        finally:
            self.exit(0)

    def program_exit(self, code) -> None:
        """os._exit, as the program sees it: keep the trace so far, then exit."""
        if os.getpid() == self.pid:
            self.hand_over("crashed", f"the program called os._exit({code!r})")
        self.exit(code)

    def in_forked_process(self) -> None:
        """A process the program forks inherits the tracer, the channel and the child's limit
        handlers: silence the first two, and let SIGTERM and SIGXCPU end it as usual."""
        stop_tracing()
        for signum in (signal.SIGTERM, signal.SIGXCPU):
            signal.signal(signum, signal.SIG_DFL)
        try:
            os.close(self.channel.fd)
        except OSError:
            pass

    def taint(self, event: str, _args: tuple) -> None:
        """Audit hook: threads and processes may outlive their program; the child then stops
        after it."""
        if event in TAINTING_EVENTS:
            self.tainted = self.tainted or event

    # -- between programs -----------------------------------------------------------------------
    def save_state(self) -> None:
        """Remember what a program may change and the next must not see."""
        self.saved = (set(sys.modules), dict(builtins.__dict__), dict(os.environ), list(sys.path), sys.getrecursionlimit(), (sys.stdout, sys.stderr))

    def restore_state(self) -> bool:
        """Put back what the program may have changed, for the next one; False if impossible."""
        modules, saved_builtins, environ, path, recursion, streams = self.saved
        for name in set(sys.modules) - modules:
            del sys.modules[name]
        builtins.__dict__.clear()
        builtins.__dict__.update(saved_builtins)
        if dict(os.environ) != environ:
            os.environ.clear()
            os.environ.update(environ)
        sys.path[:] = path
        sys.setrecursionlimit(recursion)
        sys.stdout, sys.stderr = streams
        try:
            os.chdir(self.workdir)
            for entry in os.listdir(self.workdir):
                target = os.path.join(self.workdir, entry)
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target)
                else:
                    os.unlink(target)
        except OSError:
            return False  # the directory cannot be made clean again: a fresh child takes over
        return True


# -- guards ---------------------------------------------------------------------------------------
def _refuse(*_args, **_kwargs):
    raise RuntimeError("codewm sandbox: a traced program may not change the trace or profile function")


class _MonitoringGuard:
    def __getattr__(self, name):
        _refuse()


def guard_tracing_hooks() -> None:
    """Make `sys.settrace` and its relatives raise inside the program (the tracer keeps the
    real one)."""
    sys.settrace = _refuse
    sys.setprofile = _refuse
    threading.settrace = _refuse
    threading.setprofile = _refuse
    if hasattr(sys, "monitoring"):
        sys.monitoring = _MonitoringGuard()


def flush_program_output() -> None:
    """Flush what the program printed (the child ends with os._exit, which does not)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # closed or replaced by the program: nothing to save
            pass


# Audit events that mean a program reached outside itself (files, network, processes).
_AUDIT_PREFIXES = ("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                   "os.remove", "os.unlink", "os.rename", "os.mkdir", "os.rmdir", "os.chmod", "os.chown",
                   "os.truncate", "os.link", "os.symlink", "os.listdir", "os.scandir", "os.walk", "shutil.",
                   "glob.glob", "pty.", "ctypes.dlopen", "webbrowser.", "urllib.Request", "http.client.")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def install_audit(touched: list[str], allowed_roots: tuple[str, ...], limit: int = 32) -> None:
    """Record, in `touched`, what the program does outside itself (read by the miner)."""

    def hook(event: str, args: tuple) -> None:
        if len(touched) >= limit:
            return
        if event == "open":
            path, mode, flags = (list(args) + [None, None, None])[:3]
            if not isinstance(path, str):
                return  # a descriptor or bytes path: covered by the other events
            writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & _WRITE_FLAGS)
            if writes or not path.startswith(allowed_roots):
                touched.append(f"open:{path}:{mode or flags}")
        elif event in ("os.listdir", "os.scandir"):
            path = args[0] if args else None
            # The import system scans the Python directories: not the program's doing.
            if not (isinstance(path, str) and (path + os.sep).startswith(allowed_roots)):
                touched.append(f"{event}:{path}")
        elif event.startswith(_AUDIT_PREFIXES):
            touched.append(event)

    sys.addaudithook(hook)
