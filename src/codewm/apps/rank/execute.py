"""Real execution of many tests on a candidate: one sandboxed process per candidate.

Running each test of each candidate in a process of its own would cost a process start per
(candidate, test) pair, 600,000 of them on CodeT's pool. Instead one harness program per
candidate defines the candidate once and runs every test in turn, each within its own CPU
time limit (a repeating SIGPROF timer, `per_test_seconds`; CodeT gives each test 0.1 s), with
every exception caught, and reports each result as it finishes on a line of its own.

What a candidate can do to that harness is contained, never fatal to the run:

- an endless loop or slow test: the timer raises `_Timeout` (a BaseException, so `except
  Exception` in the candidate does not swallow it; the timer repeats, so a bare `except:`
  only delays it); the test reads `timeout`;
- `sys.exit`, `exit()`, `KeyboardInterrupt`: the test reads `exit`;
- a memory bomb: MemoryError at the sandbox's address-space limit (`exception`);
- printing: the candidate's stdout and stderr go to a buffer emptied after each test; the
  harness writes its records on a duplicate of the real stdout, each line prefixed by a
  random nonce, so stray output cannot pass for a record;
- whatever ends the process (`os._exit`, a segfault, a loop that swallows every timer, the
  sandbox's wall-clock limit): the tests with no record are run again in a fresh process,
  all but the first of them, which reads the run's status (so each run makes progress);
- files, network, processes: the sandbox (`codewm.trace.sandbox`) isolates them.

The hidden test (HumanEval's `check(candidate)`), when given, runs last in the same process,
with its own time limit.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Callable, Sequence

from codewm.apps.rank.asserts import VALUE_NAME, TestCase
from codewm.trace.sandbox import Program, Sandbox, SandboxError, SandboxLimits

PER_TEST_SECONDS = 0.1  # CodeT's limit per test (CPU seconds here: fair on a busy machine)
HIDDEN_SECONDS = 1.0  # the hidden test's limit (all its asserts together)
OUTPUT_CHARS = 300  # longest repr of a value kept

# Outcome.status values besides the sandbox's own (timeout, memory_limit, crashed, ...)
PASSED = "passed"
FAILED = "failed"  # the assertion was false
EXCEPTION = "exception"  # the candidate (or the test) raised
TIMEOUT = "timeout"
EXIT = "exit"  # SystemExit, KeyboardInterrupt or another BaseException
DEFINE_ERROR = "define_error"  # the candidate program itself does not run (syntax error, raises at import)


@dataclass(frozen=True)
class Outcome:
    """The real result of one test on one candidate."""

    passed: bool
    status: str
    output: str | None = None  # repr of the call's value (None when it raised or there is no call)
    error: str | None = None

    def to_json(self) -> dict:
        return {"passed": self.passed, "status": self.status, "output": self.output, "error": self.error}

    @classmethod
    def from_json(cls, data: dict) -> "Outcome":
        return cls(bool(data["passed"]), str(data["status"]), data.get("output"), data.get("error"))


# The harness: a fixed program; the candidate and the tests travel in it as a JSON string.
_HARNESS = r'''
def __codewm_harness(spec):
    import io, json, os, signal, sys
    nonce, program, items, chars = spec["nonce"], spec["program"], spec["items"], spec["chars"]
    out = os.dup(1)
    class _Timeout(BaseException):
        pass
    def on_timer(signum, frame):
        raise _Timeout()
    signal.signal(signal.SIGPROF, on_timer)
    sink = io.StringIO()
    def emit(record):
        os.write(out, (nonce + json.dumps(record) + "\n").encode("utf-8", "replace"))
    def limited(seconds, action):
        signal.setitimer(signal.ITIMER_PROF, seconds, seconds / 4)
        try:
            return action()
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
    def describe(exc):
        return (type(exc).__name__ + ": " + str(exc))[:200]
    space = {"__name__": "__main__"}
    sys.stdout = sys.stderr = sink
    try:
        limited(spec["define_seconds"], lambda: exec(compile(program, "<candidate>", "exec"), space))
        define_error = None
    except _Timeout:
        define_error = "timeout while defining the candidate"
    except BaseException as exc:
        define_error = describe(exc)
    for index, call, check, seconds in items:
        record = {"i": index, "passed": False, "output": None, "error": None}
        if define_error is not None:
            record.update(status="define_error", error=define_error)
            emit(record)
            continue
        def run():
            if call is not None:
                value = eval(call, space)
                record["output"] = repr(value)[:chars]
                space[spec["value_name"]] = value
            try:
                exec(check, space)
            except AssertionError:
                return "failed"
            return "passed"
        try:
            status = limited(seconds, run)
        except _Timeout:
            status, record["error"] = "timeout", "past %s CPU seconds" % seconds
        except Exception as exc:
            status, record["error"] = "exception", describe(exc)
        except BaseException as exc:
            status, record["error"] = "exit", describe(exc)
        record["status"], record["passed"] = status, status == "passed"
        sink.seek(0)
        sink.truncate(0)
        emit(record)
__codewm_harness(json.loads(__CODEWM_SPEC))
'''


def harness_program(program: str, items: Sequence[tuple[int, str | None, str, float]], nonce: str, define_seconds: float) -> str:
    """The harness script for one candidate `program` and its test `items` (index, call,
    check, CPU seconds)."""
    spec = {"nonce": nonce, "program": program, "items": [list(item) for item in items], "chars": OUTPUT_CHARS, "value_name": VALUE_NAME, "define_seconds": define_seconds}
    return f"import json\n__CODEWM_SPEC = {json.dumps(json.dumps(spec))}\n{_HARNESS}"


def _records(stdout: str, nonce: str) -> dict[int, dict]:
    found = {}
    for line in stdout.splitlines():
        if not line.startswith(nonce):
            continue
        try:
            record = json.loads(line[len(nonce) :])
            found[int(record["i"])] = record
        except (ValueError, KeyError, TypeError):
            continue
    return found


@dataclass(eq=False)
class _Job:
    index: int
    program: str
    items: list[tuple[int, str | None, str, float]]  # pending, in order
    size: int  # tests in all (the hidden check included)
    outcomes: dict[int, Outcome]


def execute(
    jobs: Sequence[tuple[str, Sequence[TestCase], str | None]],
    sandbox: Sandbox,
    per_test_seconds: float = PER_TEST_SECONDS,
    hidden_seconds: float = HIDDEN_SECONDS,
    on_done: Callable[[int, list[Outcome]], None] | None = None,
) -> list[list[Outcome]]:
    """Run each job (candidate program, its tests, its hidden check or None) in the sandbox.

    Returns, per job, one Outcome per test in order, then the hidden check's Outcome when
    the job has one. `on_done(index, outcomes)` is called as each job finishes (to save it). Raises SandboxError when
    the sandbox itself fails (that is no verdict on a candidate).
    """
    if not per_test_seconds > 0 or not hidden_seconds > 0:
        raise ValueError("per_test_seconds and hidden_seconds must be positive")
    every: list[_Job] = []
    for program, tests, hidden in jobs:
        items = [(i, t.call, t.check, float(per_test_seconds)) for i, t in enumerate(tests)]
        if hidden is not None:
            items.append((len(items), None, hidden, float(hidden_seconds)))
        every.append(_Job(len(every), program, items, len(items), {}))
    pending = [job for job in every if job.items]
    while pending:
        nonce = "@" + secrets.token_hex(8) + "@"
        programs = [Program.check(harness_program(job.program, job.items, nonce, max(per_test_seconds, 1.0))) for job in pending]
        # One limit for the round: what its longest job needs (each test is bounded anyway).
        cpu = max(sum(item[3] for item in job.items) for job in pending) + 2.0
        limits = SandboxLimits(cpu_seconds=cpu, wall_seconds=2 * cpu + 5, output_bytes=4 << 20)
        still = []
        for job, run in zip(pending, sandbox.map(programs, batch_size=1, limits=limits)):
            if run.status == "sandbox_error":
                raise SandboxError(f"the sandbox failed while running a candidate: {run.error}")
            records = _records(run.stdout, nonce)
            rest = []
            for index, call, check, seconds in job.items:
                record = records.get(index)
                if record is not None and not rest:
                    job.outcomes[index] = Outcome(bool(record.get("passed")), str(record.get("status")), record.get("output"), record.get("error"))
                elif not rest:  # the test the process ended in reads the run's status
                    status = run.status if run.status != "ok" else EXIT
                    job.outcomes[index] = Outcome(False, status, None, run.error or "the process ended during this test")
                    rest.append(None)  # marks that the tests after this one run again
                else:
                    rest.append((index, call, check, seconds))
            job.items = [item for item in rest if item is not None]
            if job.items:
                still.append(job)
            elif on_done is not None:
                on_done(job.index, [job.outcomes[i] for i in range(job.size)])
        pending = still
    return [[job.outcomes[i] for i in range(job.size)] for job in every]
