"""The warm sandbox worker: a long-lived process that forks one child per batch of programs.

The host (`codewm.trace.sandbox`) starts this module inside bubblewrap (or, in the weaker
mode, as a plain process) and talks to it over stdin/stdout (`codewm.trace.protocol`). The
worker has already imported the tracer, so each program costs a `fork`, not an interpreter
start. What a child does is in `codewm.trace.child`; the worker:

- forks the child with a fresh, private working directory, a per-run secret for the result
  channel, and pipes it reads and bounds;
- keeps each program's wall clock and trace size, stops the child (SIGTERM, so that it hands
  over its partial trace, then SIGKILL) when one runs out, and classifies how each program
  ended;
- after each child kills every process the program left behind (the worker is a child
  subreaper, so even a daemonized one is its descendant) and wipes every writable place in
  the sandbox, so no program sees another's state;
- when the host names a formatter (`formatter` in the request: "module:name"), resolves it
  once, before forking, so that children format their runs where the steps are.
"""

from __future__ import annotations

import fcntl
import importlib
import os
import selectors
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field

from codewm.trace import seccomp
from codewm.trace.cgroup import oom_kills
from codewm.trace.child import run_child
from codewm.trace.protocol import (
    OUTPUT_MARK,
    TEXTS,
    ChannelReader,
    OutputSplitter,
    SignedChannel,
    put_formatted,
    read_message,
    steps_digest,
    take_formatted,
    write_message,
)
from codewm.trace.system import PR_SET_CHILD_SUBREAPER, inside_bubblewrap, prctl, python_dirs, signal_group, signal_process, unshare_network
from codewm.trace.tracer import runtime_info
from codewm.load import load_object
from codewm.types import STATUSES, steps_complete

try:  # a child whose tracer is the C hook signs its steps (see _ctracer.c); the worker checks
    from codewm.trace import _ctracer
except ImportError:  # pragma: no cover - a build without a C compiler
    _ctracer = None
# (as codewm.trace.tracer decides which hook records: the pure-Python one signs nothing)
STEPS_SIGNED = _ctracer is not None and hasattr(_ctracer, "take_digest") and os.environ.get("CODEWM_PURE_PYTHON_TRACER", "") in ("", "0")

_F_SETPIPE_SZ = 1031  # fcntl: a pipe's capacity (Linux)
_PIPE_BYTES = 1 << 20
_BUNCH_SECONDS = 0.003
_KILL_GRACE = 0.25  # seconds between SIGTERM (hand over the partial trace) and SIGKILL
CPU_ACCOUNTING_SLACK = 0.75  # share of a CPU limit that counts as reaching it (see _classify)
_DRAIN_SECONDS = 0.05  # reading what is in the pipes after the child exited

# Imported once in the worker so that children inherit them instead of importing each time
# (and can use them even where the program's uid could not read the standard library).
PRELOADED_MODULES = (
    "bisect", "collections", "copy", "dataclasses", "decimal", "fractions", "functools", "heapq",
    "itertools", "json", "math", "operator", "random", "re", "statistics", "string", "typing",
    "ctypes", "socket", "subprocess", "threading", "time",
)


def resolve_formatter(spec: str):
    """The object an import string ("package.module:name", `codewm.load`) names. A formatter has
    `format(steps, context, status) -> dict` and `well_formed(formatted) -> bool`."""
    formatter = load_object(spec)
    if not (callable(getattr(formatter, "format", None)) and callable(getattr(formatter, "well_formed", None))):
        raise TypeError(f"{spec} is not a formatter (it needs format() and well_formed())")
    return formatter


@dataclass
class _Heard:
    """What the worker heard from one child: streamed steps and final reports per program."""

    first: int
    started: float
    steps: dict[int, list] = field(default_factory=dict)
    finals: dict[int, dict] = field(default_factory=dict)
    begun: dict[int, float] = field(default_factory=dict)  # program -> when its wall clock started
    current: int = 0  # the program the child runs now
    killed_for: str | None = None  # "timeout" or "trace_size" when the worker stopped the child
    wait_status: int | None = None
    cpu_seconds: float = 0.0  # the child's CPU time, user and system, when it was reaped
    malformed: set[int] = field(default_factory=set)  # programs that sent an authentic message that did not read
    periods: dict[int, int] = field(default_factory=dict)  # program -> the MAC period of its final
    step_key: bytes = b""

    def __post_init__(self) -> None:
        self.current = self.first
        self.begun[self.first] = self.started

    def reap(self, pid: int) -> None:
        """Wait for the child; keep its exit status and CPU time."""
        _, self.wait_status, usage = os.wait4(pid, 0)
        self.cpu_seconds = usage.ru_utime + usage.ru_stime


def _is_step(step) -> bool:
    """Whether `step` has the shape of the tracer's raw steps (see `codewm.types.RawStep`)."""
    return (
        type(step) is list and len(step) == 6 and type(step[0]) is str and type(step[1]) is int and type(step[2]) is int
        and (step[3] is None or (type(step[3]) is dict and all(type(v) is str for v in step[3].values())))
        and (step[4] is None or type(step[4]) is str) and type(step[5]) is str
    )


class Worker:
    """Runs the host's batches: one child after another, each running as many programs of
    the batch in a row as it can."""

    def __init__(self, base_dir: str, sandboxed: bool, uid: int | None, cgroup_fds: tuple[int, int] | None = None) -> None:
        if sandboxed and not inside_bubblewrap():
            # The sandboxed worker wipes /tmp, /dev/shm and /var/tmp after every program:
            # only ever do that in the private ones bubblewrap made.
            raise RuntimeError("the worker was told it is sandboxed, but it is not inside bubblewrap")
        self.base_dir = base_dir
        self.sandboxed = sandboxed  # inside bubblewrap: its own PID namespace and /tmp
        # As root, programs run as an unprivileged uid of this worker's own, so that the
        # process limit counts only this worker's programs.
        self.uid = uid if os.geteuid() == 0 else None
        self.counter = 0
        self.protected = python_dirs(sys.path[0])  # read-only binds inside /tmp, if any
        self.formatters: dict[str, object] = {}
        # The programs' cgroup (codewm.trace.cgroup): its cgroup.procs and memory.events.
        self.cgroup_fds = cgroup_fds
        os.makedirs(base_dir, exist_ok=True)
        os.chmod(base_dir, 0o711)  # the program's uid must reach its own directory inside
        prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of a program become ours to reap and kill

    @property
    def drop_uid(self) -> bool:
        return self.uid is not None

    def run(self, batch: dict) -> dict:
        """Run every program of a batch; a child process runs as many as it can in a row."""
        programs = batch["programs"]
        results: list[dict | None] = [None] * len(programs)
        spec = batch.get("formatter")
        formatter = None
        if spec is not None:
            if spec not in self.formatters:
                self.formatters[spec] = resolve_formatter(spec)
            formatter = self.formatters[spec]
        first = 0
        while first < len(programs):
            first = self._run_from(batch, first, results, formatter)
        return {"results": results}

    def _run_from(self, batch: dict, first: int, results: list, formatter) -> int:
        """Start a child at program `first`; fill in what it reports; return the next to run."""
        self.counter += 1
        workdir = os.path.join(self.base_dir, f"p{self.counter}")
        os.mkdir(workdir, 0o700)
        if self.uid is not None:
            os.chown(workdir, self.uid, self.uid)
        # A bytearray: a sealed run zeroes the child's copy before its program runs.
        key = bytearray(os.urandom(32))
        step_key = bytearray(os.urandom(32))  # the steps' MAC key: the child zeroes its copy
        result_r, result_w = os.pipe()
        output_r, output_w = os.pipe()
        for fd in (result_w, output_w):
            # Room for many programs' results, so that the child rarely waits for us and we
            # can read them in bunches (see _supervise).
            try:
                fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)
            except OSError:
                pass  # a smaller pipe only means more wake-ups
        cgroup_fd = self.cgroup_fds[0] if self.cgroup_fds else None
        ooms_before = oom_kills(self.cgroup_fds[1]) if self.cgroup_fds else 0
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(result_r)
            os.close(output_r)
            run_child(batch, first, SignedChannel(result_w, key), output_w, workdir, self.uid, not self.sandboxed, formatter, cgroup_fd, step_key)
        os.close(result_w)
        os.close(output_w)
        try:
            reader = ChannelReader(bytes(key))
            splitter = OutputSplitter(OUTPUT_MARK + reader.marker, batch["limits"]["output_bytes"])
            heard = self._supervise(pid, batch, first, reader, splitter, result_r, output_r)
            if self.cgroup_fds and heard.killed_for is None and oom_kills(self.cgroup_fds[1]) > ooms_before:
                heard.killed_for = "memory"  # the kernel killed a process for the cgroup's memory.max
            heard.step_key = bytes(step_key)
            return self._collect(batch, heard, reader, splitter, results, formatter)
        finally:
            os.close(result_r)
            os.close(output_r)
            self._clean_up(pid)

    def _supervise(self, pid: int, batch: dict, first: int, reader: ChannelReader, splitter: OutputSplitter, result_r: int, output_r: int) -> _Heard:
        """Read the child's pipes until it is done, enforcing each program's wall clock and
        the trace size; reap the child."""
        limits = batch["limits"]
        count = len(batch["programs"])
        heard = _Heard(first, time.monotonic())
        deadline = heard.started + limits["wall_seconds"]
        max_trace = limits["trace_bytes"]
        trace_total = 0
        selector = selectors.DefaultSelector()
        selector.register(result_r, selectors.EVENT_READ, "result")
        selector.register(output_r, selectors.EVENT_READ, "output")
        # The child's exit ends the wait even if a process it started still holds the pipes.
        try:
            exit_fd = os.pidfd_open(pid)
            selector.register(exit_fd, selectors.EVENT_READ, "exit")
        except (AttributeError, OSError):  # pragma: no cover - kernels before 5.3
            exit_fd = None
        terminated_at: float | None = None
        drain_until: float | None = None
        open_pipes = 2
        while open_pipes:
            now = time.monotonic()
            if drain_until is not None and now >= drain_until:
                break
            if now >= deadline and terminated_at is None and heard.wait_status is None:
                heard.killed_for = heard.killed_for or "timeout"
                terminated_at = now
                signal_process(pid, signal.SIGTERM)  # let the child hand over its partial trace
            if terminated_at is not None and now >= terminated_at + _KILL_GRACE and heard.wait_status is None:
                signal_group(pid, signal.SIGKILL)
                break
            limits_at = [deadline if terminated_at is None else terminated_at + _KILL_GRACE]
            if drain_until is not None:
                limits_at.append(drain_until)
            events = selector.select(max(min(limits_at) - now, 0.001))
            if events and drain_until is None and terminated_at is None and heard.current + 1 < count:
                # A batch streams one result per program: while more are to come, let a few
                # accumulate and read them in one wake-up instead of one each (the pipes hold
                # _PIPE_BYTES; the limits are checked again right after). The last program
                # of a batch, and a program run alone, are read at once.
                time.sleep(min(_BUNCH_SECONDS, max(min(limits_at) - time.monotonic(), 0)))
            for key, _ in events:
                if key.data == "exit":
                    selector.unregister(key.fd)
                    heard.reap(pid)
                    # Read what is already in the pipes, then stop even if another process
                    # still holds them open.
                    drain_until = time.monotonic() + _DRAIN_SECONDS
                    continue
                data = os.read(key.fd, _PIPE_BYTES)
                if not data:
                    selector.unregister(key.fd)
                    open_pipes -= 1
                    continue
                if key.data == "output":
                    splitter.feed(data)
                    continue
                trace_total += len(data)
                if trace_total > max_trace:
                    heard.killed_for = heard.killed_for or "trace_size"
                    signal_group(pid, signal.SIGKILL)
                    selector.unregister(key.fd)
                    open_pipes -= 1
                    continue
                malformed = reader.malformed
                for message in reader.feed(data):
                    if self._take(message, heard, count):
                        deadline = heard.begun[heard.current] + limits["wall_seconds"]  # a wall clock per program
                if reader.malformed != malformed:
                    heard.malformed.add(heard.current)
        selector.close()
        if exit_fd is not None:
            os.close(exit_fd)
        signal_group(pid, signal.SIGKILL)
        if heard.wait_status is None:
            heard.reap(pid)
        return heard

    @staticmethod
    def _take(message: dict, heard: _Heard, count: int) -> bool:
        """File one message from the child; whether it started the next program. A message
        that does not have the shape the child sends (only a program that reached the
        child's key can make one) fails the program it came with, not the batch."""
        current = heard.current
        steps = message.get("steps")
        if steps is not None:
            if type(steps) is list and all(map(_is_step, steps)):
                heard.steps.setdefault(current, []).extend(steps)
            else:
                heard.malformed.add(current)
        elif isinstance(message.get("final"), dict) and current not in heard.finals:
            heard.periods[current] = len(heard.finals)  # the child ends one MAC period per final
            heard.finals[current] = final = message["final"]
            if "formatted" in final:
                final["formatted"] = take_formatted(final, message.get(TEXTS, []))
            if message.get("next") == current + 1 and current + 1 < count:
                heard.current = current + 1
                heard.begun[current + 1] = time.monotonic()
                return True
        return False

    def _collect(self, batch: dict, heard: _Heard, reader: ChannelReader, splitter: OutputSplitter, results: list, formatter) -> int:
        """Fill in the result of every program the child started; return the next to run."""
        limits = batch["limits"]
        outputs = splitter.segments()
        last = max(sorted(heard.finals) + [heard.current])
        for position, index in enumerate(range(heard.first, last + 1)):
            final = heard.finals.get(index)
            status, error = self._classify(final, heard.killed_for if index == heard.current else None, heard.wait_status, limits, heard.cpu_seconds)
            if index in heard.malformed:
                status, error = "crashed", "the program tampered with codewm's result channel (a message that does not read)"
            steps = heard.steps.get(index, [])
            sealed = isinstance(final, dict) and final.get("sealed") is True  # an untraced run: no steps
            if not self._steps_signed(heard, index, final, formatter, steps):
                steps = []  # none of them can be trusted
                if status != "memory_limit":  # where reporting may have had to drop steps
                    status, error = "crashed", "the program tampered with its recorded steps (they do not match the tracer's MAC)"
            elif status == "ok" and STEPS_SIGNED and formatter is None and not sealed and not steps_complete(steps, status):
                # A program that returns is seen returning from its entry point: an ok without
                # that return is a true prefix of the steps under a forged final. (An exception
                # may leave none: a RecursionError can stop the hook itself.)
                status, error = "crashed", "the program tampered with its report (it ended without returning from its entry point)"
            if reader.rejected:
                note = f"{reader.rejected} bytes that the program wrote into codewm's result channel were ignored"
                error = f"{error}; {note}" if error else note
            touched = final.get("touched") if isinstance(final, dict) else None
            stdout, truncated = outputs[position] if position < len(outputs) else (b"", False)
            elapsed = (heard.begun.get(index + 1, time.monotonic()) - heard.begun[index]) if index in heard.begun else 0.0
            result = {
                "status": status,
                "error": error,
                "touched": [str(t) for t in touched[:64]] if isinstance(touched, list) else [],
                "stdout": stdout.decode("utf-8", "replace"),
                "output_truncated": truncated,
                "wall_seconds": round(elapsed, 6),
            }
            returned = final.get("returned") if isinstance(final, dict) and final.get("sealed") is True else None
            if type(returned) is str:
                result["returned"] = returned
            if formatter is not None:
                self._format(result, final, steps, batch["programs"][index]["context"], formatter)
            else:
                result["steps"] = steps
            results[index] = result
        return last + 1

    @staticmethod
    def _steps_signed(heard: _Heard, index: int, final, formatter, steps: list) -> bool:
        """Whether the steps heard for program `index` are those the child's C tracer
        recorded (its MAC matches). Not checkable, hence passed: a run without a final (the
        child died: its status is never ok), a sealed run (no steps) and a run the child
        formatted itself (its steps did not travel; `codewm.trace.confirm` checks its outcome)."""
        if not STEPS_SIGNED or not isinstance(final, dict) or final.get("sealed") is True:
            return True
        if formatter is not None and "formatted" in final:
            return True
        digest = final.get("digest")
        return type(digest) is str and digest == steps_digest(heard.step_key, heard.periods[index], steps)

    @staticmethod
    def _format(result: dict, final, steps: list, context: str, formatter) -> None:
        """Put the formatted run and its completeness into `result`: the child's, where it
        formatted the run itself, else the worker formats the steps that were streamed."""
        status = result["status"]
        formatted, complete = None, None
        if isinstance(final, dict) and status == final.get("status") and "formatted" in final:
            formatted, complete = final["formatted"], final.get("complete")
        else:  # a partial run: the worker formats what was streamed
            try:
                steps = [tuple(step) for step in steps]
                formatted, complete = formatter.format(steps, context, status), steps_complete(steps, status)
            except (TypeError, ValueError, IndexError, AttributeError):
                pass  # not steps the tracer could have made
        if type(complete) is not bool or not formatter.well_formed(formatted):
            result.update(status="sandbox_error", error="malformed trace from the sandbox child")
            formatted, complete = formatter.format([], context, "sandbox_error"), False
        result["formatted"] = formatted
        result["complete"] = complete

    @staticmethod
    def _classify(final, killed_for, wait_status, limits, cpu_used: float = 0.0) -> tuple[str, str | None]:
        """How a program ended: its status and error.

        `timeout` is only ever a limit codewm enforced: the worker's own SIGTERM at the wall
        clock, or a CPU-time signal when the child had used the program's CPU time. A
        program that sends itself SIGKILL, SIGTERM or SIGXCPU crashed (`cpu_used` is the
        child's CPU time, which covers every program the child ran: a lower bound test)."""
        if killed_for == "trace_size":
            return "step_limit", f"the trace exceeded {limits['trace_bytes']} bytes"
        # The kernel signals at its own count, which rusage can put lower on a loaded machine
        # (a test saw it under 90 % of the limit).
        cpu_spent = cpu_used >= CPU_ACCOUNTING_SLACK * limits["cpu_seconds"]
        if final is not None:
            status = final.get("status")
            error = final.get("error")
            error = error if error is None or type(error) is str else repr(error)
            if killed_for == "timeout" and status == "timeout":
                return "timeout", f"wall-clock limit of {limits['wall_seconds']} s"
            if status == "timeout":
                if error == "SIGXCPU" and cpu_spent:
                    return "timeout", f"CPU-time limit of {limits['cpu_seconds']} s"
                return "crashed", f"the program was sent {error} (not by codewm's limits)"
            if status not in STATUSES:
                return "crashed", f"the program tampered with codewm's result channel (status {status!r})"
            return status, error
        if killed_for == "memory":
            return "memory_limit", f"the program's processes together exceeded {limits['memory_bytes']} bytes (killed by the kernel)"
        if killed_for == "timeout":
            return "timeout", f"wall-clock limit of {limits['wall_seconds']} s (killed)"
        if os.WIFSIGNALED(wait_status):
            sig = os.WTERMSIG(wait_status)
            if sig in (signal.SIGXCPU, signal.SIGKILL) and cpu_spent:
                return "timeout", f"CPU-time limit of {limits['cpu_seconds']} s (killed by {signal.Signals(sig).name})"
            # no CPU seconds in the text: an error is part of a record and must repeat run to run
            reason = " before its CPU time was used (not by codewm's limits)" if sig in (signal.SIGXCPU, signal.SIGKILL) else ""
            return "crashed", f"killed by signal {signal.Signals(sig).name}{reason}"
        code = os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else None
        return "crashed", f"the process exited (code {code}) before the program finished"

    def _clean_up(self, pid: int) -> None:
        """Kill whatever the program left running and wipe what it wrote."""
        signal_group(pid, signal.SIGKILL)
        for _ in range(2000):
            try:
                reaped, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break  # no child left, hence no descendant: nothing of the program's runs
            if reaped == 0:
                self._kill_descendants()
                time.sleep(0.0005)
        writable = ["/tmp", "/dev/shm", "/var/tmp"] if self.sandboxed else [self.base_dir]
        for place in writable:
            wipe(place, keep=self.base_dir, protected=self.protected)
        os.makedirs(self.base_dir, exist_ok=True)

    def _kill_descendants(self) -> None:
        """SIGKILL every descendant of this worker.

        The worker is a child subreaper, so a process that a program daemonized (double fork,
        setsid) is re-parented to the worker rather than escaping: every process the program
        started is a descendant.
        """
        me = os.getpid()
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as handle:
                        stat = handle.read()
                except OSError:
                    continue
                # The command name may hold spaces and parentheses: read after the last ')'.
                fields = stat[stat.rfind(b")") + 2 :].split()
                parents[int(entry)] = int(fields[1])
        for other, _ in parents.items():
            ancestor, hops = parents.get(other), 0
            while ancestor is not None and ancestor != me and hops < 64:
                ancestor, hops = parents.get(ancestor), hops + 1
            if ancestor == me and other != me:
                signal_process(other, signal.SIGKILL)


def wipe(place: str, keep: str, protected: list[str] = ()) -> None:
    """Delete everything under `place` except `keep`'s own entry (emptied) and `protected`."""
    try:
        entries = os.listdir(place)
    except OSError:
        return
    for entry in entries:
        path = os.path.join(place, entry)
        if path in protected:
            continue
        if path == keep:
            for inner in os.listdir(path):
                shutil.rmtree(os.path.join(path, inner), ignore_errors=True)
            continue
        if keep.startswith(path + os.sep) or any(p.startswith(path + os.sep) for p in protected):
            wipe(path, keep, protected)
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def preload() -> None:
    """Import `PRELOADED_MODULES` (those this Python has)."""
    for name in PRELOADED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # pragma: no cover - a trimmed Python
            pass


def main() -> None:
    """Serve requests from stdin until it closes. argv: BASE_DIR UID [--sandboxed]
    [--seccomp] [--cgroup-fds=PROCS,EVENTS]."""
    # `python -c` puts the working directory on sys.path: programs must not import from
    # their own (writable) directory.
    sys.path[:] = [entry for entry in sys.path if entry not in ("", ".")]
    preload()
    base_dir = sys.argv[1]
    uid = int(sys.argv[2])
    sandboxed = "--sandboxed" in sys.argv[3:]
    cgroup_fds = next((tuple(int(fd) for fd in a.split("=", 1)[1].split(",")) for a in sys.argv[3:] if a.startswith("--cgroup-fds=")), None)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if "--seccomp" in sys.argv[3:]:
        if not sandboxed:
            unshare_network()  # where allowed (root); the filter then keeps children from it
        seccomp.install(seccomp.native_filter())  # every child and program inherits it
        seccomp.native_no_processes_filter()  # built once; children stack it (child.py)
    worker = Worker(base_dir, sandboxed, uid, cgroup_fds)
    stdin, stdout = 0, os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # stray prints must not corrupt the protocol
    write_message(stdout, {"ready": True, "pid": os.getpid(), "program_uid": worker.uid, "sandboxed": sandboxed, "runtime": runtime_info()})
    while True:
        try:
            request = read_message(stdin)
        except EOFError:
            return
        try:
            reply = worker.run(request)
        except Exception as exc:  # report, never die: the host decides whether to replace us
            failure = {"status": "sandbox_error", "error": f"worker failed: {exc!r}", "steps": [], "stdout": "", "output_truncated": False, "wall_seconds": 0.0}
            reply = {"results": [dict(failure) for _ in request.get("programs", [None])]}
        reply["id"] = request.get("id")
        texts: list[str] = []
        for result in reply["results"]:
            formatted = result.get("formatted") if isinstance(result, dict) else None
            if formatted is not None:
                put_formatted(result, formatted, texts)  # long texts go after the JSON
        write_message(stdout, reply, texts)


if __name__ == "__main__":
    main()
