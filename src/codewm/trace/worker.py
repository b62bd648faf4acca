"""The warm sandbox worker: a long-lived process that forks one child per traced program.

The host (`codewm.trace.sandbox`) starts this module inside bubblewrap (or, in the weaker
mode, as a plain process) and talks to it over stdin/stdout with length-prefixed JSON. The
worker has already imported the tracer, so each program costs a `fork`, not an interpreter
start. Each child:

- starts a new session (its own process group), with stdin from /dev/null and stdout/stderr
  into a pipe the worker reads and bounds;
- gets a fresh, private working directory (also its HOME and TMPDIR), resource limits (CPU
  time, address space, file size, processes, open files, no core dumps), `no_new_privs`,
  and, when the worker runs as root, an unprivileged uid of the worker's own, so that it
  can neither signal the worker nor share its process limit with other workers' programs;
- cannot change the trace function (`sys.settrace`, `sys.setprofile`, `threading.settrace`
  and `sys.monitoring` raise inside the program);
- streams its trace to the worker in authenticated chunks (`_SignedChannel`), so a killed
  child still leaves a partial trace and a program cannot write a trace of its own choosing;
- makes any process the program forks stop tracing and lose the channel.

After each program the worker kills every process the program left behind and wipes every
writable place in the sandbox, so no program sees another's state.
"""

from __future__ import annotations

import base64
import builtins
import ctypes
import fcntl
import gc
import hmac
import json
import mmap
import os
import resource
import selectors
import shutil
import signal
import struct
import sys
import tempfile
import threading
import time

from codewm.format.cwm import describe_steps
from codewm.trace.render import RenderOptions
from codewm.trace.tracer import PROGRAM_FILENAME, Recorder, TraceOptions, trace_in_process

_HEADER = struct.Struct(">I")
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_NO_NEW_PRIVS = 38
_CLONE_NEWNET = 0x40000000
_FLUSH_EVERY = 256  # steps per chunk streamed to the worker
_F_SETPIPE_SZ = 1031  # fcntl: a pipe's capacity (Linux)
_PIPE_BYTES = 1 << 20
_BUNCH_SECONDS = 0.003


# -- framing (shared with the host) ----------------------------------------------------------
# A message is a JSON object plus, optionally, long texts (traces) carried after it as raw
# UTF-8 instead of inside the JSON, where escaping and unescaping them would cost more than
# everything else in the message. The receiver finds them in message[TEXTS], in order; the
# JSON refers to them by position.
TEXTS = "_texts"


def pack_payload(message: dict, texts: list[str] = ()) -> bytes:
    # ensure_ascii, surrogatepass: values may hold lone surrogates (from a user repr), which
    # plain UTF-8 cannot encode
    data = json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    parts = [_HEADER.pack(len(data)), data]
    for text in texts:
        encoded = text.encode("utf-8", "surrogatepass")
        parts += [_HEADER.pack(len(encoded)), encoded]
    return b"".join(parts)


def unpack_payload(payload: bytes) -> dict:
    """The message `pack_payload` made; raises ValueError if `payload` is not one."""
    (size,) = _HEADER.unpack_from(payload, 0)
    at = _HEADER.size + size
    message = json.loads(payload[_HEADER.size : at])
    if not isinstance(message, dict) or at > len(payload):
        raise ValueError("not a message")
    texts = []
    while at < len(payload):
        (size,) = _HEADER.unpack_from(payload, at)
        at += _HEADER.size
        if at + size > len(payload):
            raise ValueError("a text runs past the end of the message")
        texts.append(payload[at : at + size].decode("utf-8", "surrogatepass"))
        at += size
    if texts:
        message[TEXTS] = texts
    return message


def write_message(fd: int, message: dict, texts: list[str] = ()) -> None:
    payload = pack_payload(message, texts)
    _write_all(fd, _HEADER.pack(len(payload)) + payload)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def read_exact(fd: int, size: int) -> bytes:
    chunks = []
    while size:
        chunk = os.read(fd, size)
        if not chunk:
            raise EOFError("the other end closed the pipe")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_message(fd: int) -> dict:
    (size,) = _HEADER.unpack(read_exact(fd, _HEADER.size))
    try:
        return unpack_payload(read_exact(fd, size))
    except (struct.error, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed message: {exc}") from None


def python_dirs(package_root: str) -> list[str]:
    """The directories a worker needs to see: its Python and the codewm package.

    The host binds them into the sandbox read-only; the worker never wipes them."""
    found = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, package_root)}
    found.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    return sorted(found)


def inside_bubblewrap() -> bool:
    """Whether this process runs in a PID namespace whose init is bubblewrap."""
    try:
        with open("/proc/1/comm") as handle:
            return handle.read().strip() == "bwrap"
    except OSError:
        return False


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover
        return None


_LIBC = _libc()


def _prctl(option: int, arg: int) -> bool:
    return _LIBC is not None and _LIBC.prctl(option, arg, 0, 0, 0) == 0


# -- the child: runs one program -------------------------------------------------------------
def _refuse(*_args, **_kwargs):
    raise RuntimeError("codewm sandbox: a traced program may not change the trace or profile function")


class _MonitoringGuard:
    def __getattr__(self, name):
        _refuse()


def _guard_tracing_hooks() -> None:
    import threading

    sys.settrace = _refuse
    sys.setprofile = _refuse
    threading.settrace = _refuse
    threading.setprofile = _refuse
    if hasattr(sys, "monitoring"):
        sys.monitoring = _MonitoringGuard()


def _flush_program_output() -> None:
    """Flush what the program printed (the child ends with os._exit, which does not)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # closed or replaced by the program: nothing to save
            pass


class _SignedChannel:
    """The child's result channel to the worker, authenticated with a per-run secret.

    The program runs in the child's own process and can write to any of its descriptors,
    the result pipe included. Every message therefore carries a secret marker (to find
    message boundaries again after garbage) and an HMAC; the worker ignores anything else,
    so a program cannot decide its own status or trace by writing into the pipe. (A program
    that reads the secret out of codewm's memory could still forge; that needs deliberate
    introspection of codewm's internals.)
    """

    def __init__(self, fd: int, key: bytes) -> None:
        self.fd = fd
        self.key = key
        self.marker = key[:8]
        self.counter = 0

    def send(self, message: dict, texts: list[str] = ()) -> None:
        data = pack_payload(message, texts)
        tag = hmac.digest(self.key, self.counter.to_bytes(8, "big") + data, "sha256")[:16]
        self.counter += 1
        _write_all(self.fd, self.marker + _HEADER.pack(len(data)) + tag + data)


class _ChannelReader:
    """The worker's side of `_SignedChannel`: yields authentic messages, skips the rest."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.marker = key[:8]
        self.counter = 0
        self.buffer = bytearray()
        self.rejected = 0  # bytes that were not an authentic message

    def feed(self, data: bytes) -> list[dict]:
        buffer = self.buffer
        buffer += data
        messages = []
        head = len(self.marker) + _HEADER.size + 16
        while True:
            at = buffer.find(self.marker)
            if at < 0:
                keep = len(self.marker) - 1  # a marker may be split across reads
                self.rejected += max(len(buffer) - keep, 0)
                del buffer[: max(len(buffer) - keep, 0)]
                return messages
            if at:
                self.rejected += at
                del buffer[:at]
            if len(buffer) < head:
                return messages
            (size,) = _HEADER.unpack_from(buffer, len(self.marker))
            if len(buffer) < head + size:
                return messages
            tag = bytes(buffer[head - 16 : head])
            data = bytes(buffer[head : head + size])
            expected = hmac.digest(self.key, self.counter.to_bytes(8, "big") + data, "sha256")[:16]
            if not hmac.compare_digest(tag, expected):
                self.rejected += len(self.marker)
                del buffer[: len(self.marker)]  # not ours: look for the next marker
                continue
            del buffer[: head + size]
            self.counter += 1
            try:
                messages.append(unpack_payload(data))
            except (ValueError, struct.error, UnicodeDecodeError):
                pass  # authentic but unreadable: the child's memory was tampered with


OUTPUT_MARK = b"\x00codewm-output-end\x00"  # + the run's 8-byte marker: ends one program's output


def _run_child(batch: dict, first: int, channel: _SignedChannel, output_fd: int, workdir: str, uid: int | None, isolate_net: bool) -> None:
    """In the forked child: apply every limit, then run programs `first`.. of the batch, one
    after the other, reporting each; `_exit` after the last one, or as soon as a program
    ends in a way that leaves the process unfit for the next (a limit, a crash, a thread or
    process it started). Never returns."""
    _exit = os._exit  # the program sees a wrapped os._exit (below); the child keeps the real one
    me = os.getpid()
    result_fd = channel.fd
    programs = batch["programs"]
    limits = batch["limits"]
    cpu = max(1, int(limits["cpu_seconds"] + 0.999))
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        keep = sorted({0, 1, 2, result_fd})
        for low, high in zip(keep, keep[1:] + [1 << 16]):
            os.closerange(low + 1, high)
        os.set_inheritable(result_fd, False)  # not into programs the child may exec
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if isolate_net and _LIBC is not None:
            _LIBC.unshare(_CLONE_NEWNET)  # best effort in the weaker mode; bwrap already did it
        os.chdir(workdir)
        # The hard CPU limit covers the whole batch; the soft one is moved before each program.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu * (len(programs) - first) + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_size_bytes"],) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"],) * 2)
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"],) * 2)
        _prctl(_PR_SET_NO_NEW_PRIVS, 1)
        os.environ.clear()
        os.environ.update({"PATH": "/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8", "PYTHONHASHSEED": "0"})
        tempfile.tempdir = workdir  # the worker may have computed it before; the program's is private
    except BaseException as exc:  # the sandbox could not be set up: never run the program
        channel.send({"final": {"index": first, "status": "sandbox_error", "error": f"child setup failed: {exc!r}"}})
        _exit(0)

    options = TraceOptions(
        max_steps=batch["trace"]["max_steps"],
        render=RenderOptions(max_chars=batch["trace"]["max_value_chars"], repr_timeout=batch["trace"]["repr_timeout"]),
    )
    state = {"index": first, "recorder": None, "touched": [], "tainted": None}
    mark = OUTPUT_MARK + channel.marker

    def end_output() -> None:
        # Close this program's share of the output stream (the worker splits it here).
        _flush_program_output()
        try:
            os.write(1, mark)
        except OSError:
            state["tainted"] = "the program closed its standard output"

    def report(status: str, error: str | None, described: dict | None = None, going_on: bool = False) -> None:
        # The last message about a program; `next` says the child goes on with the next one
        # (the worker starts that program's wall clock on it).
        if os.getpid() == me:
            final = {"index": state["index"], "status": status, "error": error, "touched": state["touched"]}
            texts = []
            if described is not None:
                texts.append(described["text"])
                final["described"] = dict(described, text=0)  # the text goes after the JSON
            message = {"final": final}
            if going_on:
                message["next"] = state["index"] + 1
            channel.send(message, texts)

    def sink(steps):
        if os.getpid() == me:  # a process the program forked does not report
            channel.send({"steps": steps, "index": state["index"]})

    def on_step_limit(recorder):
        recorder.flush()
        end_output()
        report("step_limit", f"more than {options.max_steps} steps")
        _exit(0)

    def on_signal(signum, _frame):
        # Wall-clock or CPU limit: hand over what was recorded, then stop at once.
        try:
            _stop_tracing()
            if state["recorder"] is not None:
                state["recorder"].flush()
            end_output()
            report("timeout", signal.Signals(signum).name)
        finally:
            _exit(0)

    def in_forked_process() -> None:
        # A process the program forks inherits the tracer and the channel: silence both.
        _stop_tracing()
        try:
            os.close(result_fd)
        except OSError:
            pass

    def program_exit(code):  # os._exit from the program: keep the trace so far
        if os.getpid() == me:
            _stop_tracing()
            if state["recorder"] is not None:
                state["recorder"].flush()
            end_output()
            report("crashed", f"the program called os._exit({code!r})")
        _exit(code)

    def taint(event: str, args: tuple) -> None:
        # Threads and processes may outlive their program: the child then stops after it.
        if event in ("_thread.start_new_thread", "os.fork", "os.forkpty", "subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.spawn", "ctypes.dlopen", "signal.pthread_kill"):
            state["tainted"] = state["tainted"] or event

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the file-size limit fail instead
    os.register_at_fork(after_in_child=in_forked_process)
    # Address space reserved for reporting, released when the program runs out of memory so
    # that the report fits under the limit (an anonymous map: no page is touched).
    reserve = mmap.mmap(-1, 4 << 20)
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"],) * 2)
    _guard_tracing_hooks()
    allowed_roots = tuple(p + os.sep for p in python_dirs(sys.path[0]))
    sys.addaudithook(taint)
    if any(programs[i].get("audit") for i in range(first, len(programs))):
        _install_audit(state["touched"], allowed_roots)
    # What a program may change and the next must not see.
    saved_modules = set(sys.modules)
    saved_builtins = dict(builtins.__dict__)
    saved_environ = dict(os.environ)
    saved_path = list(sys.path)
    saved_recursion = sys.getrecursionlimit()
    saved_streams = (sys.stdout, sys.stderr)

    def restore() -> bool:
        # Put back what the program may have changed, for the next one; False if impossible.
        for name in set(sys.modules) - saved_modules:
            del sys.modules[name]
        builtins.__dict__.clear()
        builtins.__dict__.update(saved_builtins)
        if dict(os.environ) != saved_environ:
            os.environ.clear()
            os.environ.update(saved_environ)
        sys.path[:] = saved_path
        sys.setrecursionlimit(saved_recursion)
        sys.stdout, sys.stderr = saved_streams
        try:
            os.chdir(workdir)
            for entry in os.listdir(workdir):
                target = os.path.join(workdir, entry)
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target)
                else:
                    os.unlink(target)
        except OSError:
            return False  # the directory cannot be made clean again: a fresh child takes over
        return True

    # Objects inherited from the worker are never garbage of this child: keeping the
    # collector off them spares the copy-on-write of every page they live on.
    gc.freeze()
    want_text = bool(batch.get("text"))
    for index in range(first, len(programs)):
        program = programs[index]
        state["index"] = index
        state["touched"].clear()
        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(used.ru_utime + used.ru_stime) + cpu
        resource.setrlimit(resource.RLIMIT_CPU, (soft, max(soft, resource.getrlimit(resource.RLIMIT_CPU)[1])))
        for signum in (signal.SIGXCPU, signal.SIGTERM):  # a program may have replaced them
            if signal.getsignal(signum) is not on_signal:
                signal.signal(signum, on_signal)
        os._exit = program_exit
        recorder = Recorder(PROGRAM_FILENAME, options, on_step_limit=on_step_limit, sink=sink, flush_every=_FLUSH_EVERY)
        state["recorder"] = recorder
        try:
            compiled = program.get("compiled")
            if isinstance(compiled, str):  # compiled by codewm's host (see Program.compiled)
                compiled = base64.b64decode(compiled)
            result = trace_in_process(
                program["context"], script=program.get("script", False), recorder=recorder, frames=False,
                compiled=compiled, traced=program.get("traced", True) is not False,
            )
            status, error = result.status, result.error
            if status == "exception" and error is not None and error.startswith("MemoryError("):
                status = "memory_limit"
        except MemoryError:
            status, error = "memory_limit", "MemoryError"
        if os.getpid() != me:
            _exit(0)  # the program forked and this copy returned from it: say nothing
        described = None
        try:
            if status == "memory_limit":
                reserve.close()
            if want_text and status in ("ok", "exception", "syntax_error"):
                # The host wants text: format it here, once, instead of sending the steps.
                described = describe_steps(recorder.steps, program["context"], status)
            else:
                recorder.flush()
            end_output()
        except MemoryError:
            recorder.steps.clear()
            report("memory_limit", "MemoryError while reporting")
            _exit(0)
        # A program that ended by a limit, a crash, or left a thread or a process behind is
        # the last this child runs.
        going_on = (
            index + 1 < len(programs)
            and status in ("ok", "exception", "syntax_error")
            and not state["tainted"]
            and threading.active_count() == 1
            and restore()
        )
        report(status, error, described, going_on)
        if not going_on:
            _exit(0)
    _exit(0)


# Audit events that mean a program reached outside itself (files, network, processes).
_AUDIT_PREFIXES = ("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                   "os.remove", "os.unlink", "os.rename", "os.mkdir", "os.rmdir", "os.chmod", "os.chown",
                   "os.truncate", "os.link", "os.symlink", "os.listdir", "os.scandir", "os.walk", "shutil.",
                   "glob.glob", "pty.", "ctypes.dlopen", "webbrowser.", "urllib.Request", "http.client.")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _install_audit(touched: list[str], allowed_roots: tuple[str, ...], limit: int = 32) -> None:
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


def _stop_tracing() -> None:
    from codewm.trace.tracer import _settrace

    _settrace(None)


# -- the worker ---------------------------------------------------------------------------------
class Worker:
    def __init__(self, base_dir: str, sandboxed: bool, uid: int | None) -> None:
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
        os.makedirs(base_dir, exist_ok=True)
        os.chmod(base_dir, 0o711)  # the program's uid must reach its own directory inside
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)  # orphans of a program become ours to reap and kill

    @property
    def drop_uid(self) -> bool:
        return self.uid is not None

    def run(self, batch: dict) -> dict:
        """Run every program of a batch; a child process runs as many as it can in a row."""
        programs = batch["programs"]
        results: list[dict | None] = [None] * len(programs)
        first = 0
        while first < len(programs):
            first = self._run_from(batch, first, results)
        return {"results": results}

    def _run_from(self, batch: dict, first: int, results: list) -> int:
        """Start a child at program `first`; fill in what it reports; return the next to run."""
        self.counter += 1
        workdir = os.path.join(self.base_dir, f"p{self.counter}")
        os.mkdir(workdir, 0o700)
        if self.uid is not None:
            os.chown(workdir, self.uid, self.uid)
        key = os.urandom(32)
        result_r, result_w = os.pipe()
        output_r, output_w = os.pipe()
        for fd in (result_w, output_w):
            # Room for many programs' results, so that the child rarely waits for us and we
            # can read them in bunches (see _supervise).
            try:
                fcntl.fcntl(fd, _F_SETPIPE_SZ, _PIPE_BYTES)
            except OSError:
                pass  # a smaller pipe only means more wake-ups
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            os.close(result_r)
            os.close(output_r)
            _run_child(batch, first, _SignedChannel(result_w, key), output_w, workdir, self.uid, isolate_net=not self.sandboxed)
        os.close(result_w)
        os.close(output_w)
        try:
            return self._supervise(pid, batch, first, _ChannelReader(key), result_r, output_r, results)
        finally:
            os.close(result_r)
            os.close(output_r)
            self._clean_up(pid)

    def _supervise(self, pid: int, batch: dict, first: int, reader: "_ChannelReader", result_r: int, output_r: int, results: list) -> int:
        limits = batch["limits"]
        count = len(batch["programs"])
        want_text = bool(batch.get("text"))
        started = time.monotonic()
        deadline = started + limits["wall_seconds"]
        max_trace = limits["trace_bytes"]
        splitter = _OutputSplitter(OUTPUT_MARK + reader.marker, limits["output_bytes"])
        trace_total = 0
        steps: dict[int, list] = {}
        finals: dict[int, dict] = {}
        begun: dict[int, float] = {first: started}
        current = first
        killed_for: str | None = None
        wait_status: int | None = None
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
            if now >= deadline and terminated_at is None and wait_status is None:
                killed_for = killed_for or "timeout"
                terminated_at = now
                _signal(pid, signal.SIGTERM)  # let the child hand over its partial trace
            if terminated_at is not None and now >= terminated_at + 0.25 and wait_status is None:
                _signal_group(pid, signal.SIGKILL)
                break
            limits_at = [deadline if terminated_at is None else terminated_at + 0.25]
            if drain_until is not None:
                limits_at.append(drain_until)
            events = selector.select(max(min(limits_at) - now, 0.001))
            if events and drain_until is None and terminated_at is None and current + 1 < count:
                # A batch streams one result per program: while more are to come, let a few
                # accumulate and read them in one wake-up instead of one each (the pipes hold
                # _PIPE_BYTES; the limits are checked again right after). The last program
                # of a batch, and a program run alone, are read at once.
                time.sleep(min(_BUNCH_SECONDS, max(min(limits_at) - time.monotonic(), 0)))
            for key, _ in events:
                if key.data == "exit":
                    selector.unregister(key.fd)
                    _, wait_status = os.waitpid(pid, 0)
                    # Read what is already in the pipes, then stop even if another process
                    # still holds them open.
                    drain_until = time.monotonic() + 0.05
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
                    killed_for = killed_for or "trace_size"
                    _signal_group(pid, signal.SIGKILL)
                    selector.unregister(key.fd)
                    open_pipes -= 1
                    continue
                for message in reader.feed(data):
                    if isinstance(message.get("steps"), list):
                        steps.setdefault(current, []).extend(message["steps"])
                    elif isinstance(message.get("final"), dict) and current not in finals:
                        finals[current] = final = message["final"]
                        described = final.get("described")
                        if isinstance(described, dict):
                            described["text"] = _text_at(message, described.get("text"))
                        if message.get("next") == current + 1 and current + 1 < count:
                            current += 1
                            begun[current] = time.monotonic()
                            deadline = begun[current] + limits["wall_seconds"]  # a wall clock per program
        selector.close()
        if exit_fd is not None:
            os.close(exit_fd)
        _signal_group(pid, signal.SIGKILL)
        if wait_status is None:
            _, wait_status = os.waitpid(pid, 0)
        outputs = splitter.segments()
        ended = sorted(finals)
        last = max(ended + [current])
        for position, index in enumerate(range(first, last + 1)):
            final = finals.get(index)
            status, error = self._classify(final, killed_for if index == current else None, wait_status, limits)
            if reader.rejected:
                note = f"{reader.rejected} bytes that the program wrote into codewm's result channel were ignored"
                error = f"{error}; {note}" if error else note
            touched = final.get("touched") if isinstance(final, dict) else None
            stdout, truncated = outputs[position] if position < len(outputs) else (b"", False)
            elapsed = (begun.get(index + 1, time.monotonic()) - begun[index]) if index in begun else 0.0
            result = {
                "status": status,
                "error": error,
                "touched": [str(t) for t in touched[:64]] if isinstance(touched, list) else [],
                "stdout": stdout.decode("utf-8", "replace"),
                "output_truncated": truncated,
                "wall_seconds": round(elapsed, 6),
            }
            if want_text:
                described = final.get("described") if isinstance(final, dict) and status == final.get("status") else None
                if described is None:  # a partial run: the worker formats what was streamed
                    described = _describe_streamed(steps.get(index, []), batch["programs"][index]["context"], status)
                if not _well_formed(described):
                    result.update(status="sandbox_error", error="malformed trace from the sandbox child")
                    described = _describe_streamed([], batch["programs"][index]["context"], "sandbox_error")
                result["described"] = described
            else:
                result["steps"] = steps.get(index, [])
            results[index] = result
        return last + 1

    @staticmethod
    def _classify(final, killed_for, wait_status, limits) -> tuple[str, str | None]:
        if killed_for == "trace_size":
            return "step_limit", f"the trace exceeded {limits['trace_bytes']} bytes"
        if final is not None:
            status = final.get("status")
            if killed_for == "timeout" and status == "timeout":
                return "timeout", f"wall-clock limit of {limits['wall_seconds']} s"
            if status == "timeout":
                return "timeout", f"CPU-time limit of {limits['cpu_seconds']} s"
            return str(status), final.get("error")
        if killed_for == "timeout":
            return "timeout", f"wall-clock limit of {limits['wall_seconds']} s (killed)"
        if os.WIFSIGNALED(wait_status):
            sig = os.WTERMSIG(wait_status)
            if sig in (signal.SIGXCPU, signal.SIGKILL):
                return "timeout", f"CPU-time limit of {limits['cpu_seconds']} s (killed by {signal.Signals(sig).name})"
            return "crashed", f"killed by signal {signal.Signals(sig).name}"
        code = os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else None
        return "crashed", f"the process exited (code {code}) before the program finished"

    def _clean_up(self, pid: int) -> None:
        """Kill whatever the program left running and wipe what it wrote."""
        _signal_group(pid, signal.SIGKILL)
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
            _wipe(place, keep=self.base_dir, protected=self.protected)
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
                _signal(other, signal.SIGKILL)


class _OutputSplitter:
    """Splits a child's output stream into one piece per program, at the marks the child
    writes after each program; keeps at most `limit` bytes of each piece."""

    def __init__(self, mark: bytes, limit: int) -> None:
        self.mark = mark
        self.limit = limit
        self.done: list[tuple[bytes, bool]] = []
        self.current = bytearray()
        self.current_total = 0
        self.tail = b""  # the end of the last read, in case a mark is split across reads

    def _add(self, data: bytes) -> None:
        self.current_total += len(data)
        room = self.limit - len(self.current)
        if room > 0:
            self.current += data[:room]

    def feed(self, data: bytes) -> None:
        data = self.tail + data
        while True:
            at = data.find(self.mark)
            if at < 0:
                break
            self._add(data[:at])
            self.done.append((bytes(self.current), self.current_total > len(self.current)))
            self.current, self.current_total = bytearray(), 0
            data = data[at + len(self.mark) :]
        keep = len(self.mark) - 1
        self._add(data[: max(len(data) - keep, 0)])
        self.tail = data[max(len(data) - keep, 0) :]

    def segments(self) -> list[tuple[bytes, bool]]:
        """The finished pieces, then what followed the last mark (a program cut short)."""
        self._add(self.tail)
        self.tail = b""
        return self.done + [(bytes(self.current), self.current_total > len(self.current))]


def _wipe(place: str, keep: str, protected: list[str] = ()) -> None:
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
            _wipe(path, keep, protected)
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _text_at(message: dict, position):
    texts = message.get(TEXTS, [])
    return texts[position] if type(position) is int and 0 <= position < len(texts) else None


def _describe_streamed(steps: list, context: str, status: str) -> dict | None:
    try:
        return describe_steps([tuple(step) for step in steps], context, status)
    except (TypeError, ValueError, IndexError, AttributeError):
        return None  # not steps the tracer could have made


_DESCRIBED_TYPES = {"text": str, "complete": bool, "n_frames": int, "linenos": list, "max_value_chars": int}


def _well_formed(described) -> bool:
    """Whether a description from a child (whose program could have tampered with it) has
    the fields and types `describe_steps` gives."""
    return (
        isinstance(described, dict)
        and all(type(described.get(key)) is kind for key, kind in _DESCRIBED_TYPES.items())
        and all(type(n) is int for n in described["linenos"])
        and len(described["linenos"]) == described["n_frames"]
    )


# Imported once in the worker so that children inherit them instead of importing each time
# (and can use them even where the program's uid could not read the standard library).
PRELOADED_MODULES = (
    "bisect", "collections", "copy", "dataclasses", "decimal", "fractions", "functools", "heapq",
    "itertools", "json", "math", "operator", "random", "re", "statistics", "string", "typing",
    "ctypes", "socket", "subprocess", "threading", "time",
)


def _preload() -> None:
    import importlib

    for name in PRELOADED_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # pragma: no cover - a trimmed Python
            pass


def main() -> None:
    """Serve requests from stdin until it closes. argv: BASE_DIR UID [--sandboxed]."""
    # `python -c` puts the working directory on sys.path: programs must not import from
    # their own (writable) directory.
    sys.path[:] = [entry for entry in sys.path if entry not in ("", ".")]
    _preload()
    base_dir = sys.argv[1]
    uid = int(sys.argv[2])
    sandboxed = "--sandboxed" in sys.argv[3:]
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    worker = Worker(base_dir, sandboxed, uid)
    stdin, stdout = 0, os.dup(1)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # stray prints must not corrupt the protocol
    write_message(stdout, {"ready": True, "pid": os.getpid(), "program_uid": worker.uid, "sandboxed": sandboxed})
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
        texts = []
        for result in reply["results"]:
            described = result.get("described") if isinstance(result, dict) else None
            if described is not None:
                texts.append(described["text"])
                described["text"] = len(texts) - 1
        write_message(stdout, reply, texts)


if __name__ == "__main__":
    main()
