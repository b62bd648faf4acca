"""Run a project's test suite in its workspace and read, per test, how it ended.

    report = run_tests(workspace, timeout=300)
    report.outcomes   # {"tests/test_a.py::test_x": "passed", ...}, sorted by test id
    report.counts     # {"passed": 109, "failed": 0, "error": 0, "skipped": 0}

pytest runs inside the sandbox with codewm's plugin (`codewm.repo.pytest_report`), which
writes one JSON line per test phase into the workspace's output folder. The host reads that
file as untrusted input: opened without following links, a regular file only, at most
MAX_REPORT_BYTES, every line checked; a malformed report raises ReportError saying where.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from dataclasses import dataclass, field

from codewm.trace.sandbox import package_root

from codewm.repo.pytest_report import REPORT_ENV
from codewm.repo.workspace import OUT_MOUNT, PROJECT_MOUNT, CommandResult, Workspace

OUTCOMES = ("passed", "failed", "error", "skipped")
PHASES = ("setup", "call", "teardown", "collect")
MAX_REPORT_BYTES = 64 << 20
MAX_NODEID_CHARS = 8192
REPORT_NAME = "tests.jsonl"


class ReportError(ValueError):
    """A test report that cannot be read; the message says what and where."""


@dataclass(frozen=True)
class TestReport:
    """How each test of one run ended (`outcomes`: test id -> one of OUTCOMES, sorted), and
    how the run itself ended. A run stopped at its wall clock (`timed_out`) holds the tests
    that finished before it."""

    __test__ = False  # not a pytest test class

    outcomes: dict[str, str]
    wall_seconds: float
    exit_code: int | None  # pytest's exit status (None: killed at the wall clock)
    timed_out: bool
    output: str = field(default="", repr=False)  # pytest's stdout and stderr, capped
    # The collectors (test modules, classes) that failed to collect: a module that does not
    # import. Their ids are in `outcomes` too (as "error"), indistinguishable from a test's.
    collection_errors: tuple[str, ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for outcome in self.outcomes.values():
            counts[outcome] += 1
        return counts

    @property
    def tests_run(self) -> int:
        return len(self.outcomes)

    def with_outcome(self, outcome: str) -> list[str]:
        return [nodeid for nodeid, found in self.outcomes.items() if found == outcome]

    def summary(self) -> dict:
        return {"tests": self.tests_run, **self.counts, "seconds": round(self.wall_seconds, 2), "timed_out": self.timed_out, "exit_code": self.exit_code}


# A test's outcome is the worst of its phases': an error in set-up or tear-down outranks a
# failed call, which outranks a skip.
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


def pytest_argv(workspace: Workspace, tests: list[str] | None = None, keyword: str | None = None, plugins: tuple[str, ...] = ()) -> list[str]:
    """The command that runs the suite (or `tests`, pytest ids or paths) in the workspace,
    with codewm's report plugin and `plugins` (module names) loaded."""
    loaded = [part for plugin in ("codewm.repo.pytest_report", *plugins) for part in ("-p", plugin)]
    argv = ["python", "-m", "pytest", *workspace.project.pytest_options, *loaded, "-q"]
    if keyword:
        argv += ["-k", keyword]
    return argv + ["--", *(tests if tests else workspace.project.test_paths)]


def run_tests(
    workspace: Workspace, tests: list[str] | None = None, timeout: float = 600.0, keyword: str | None = None, memory_bytes: int | None = None,
    plugins: tuple[str, ...] = (), env: dict[str, str] | None = None,
) -> TestReport:
    """Run the project's tests (all, or `tests`; `keyword` is pytest's -k) in `workspace`,
    with more pytest `plugins` (codewm's modules, importable inside) configured by `env`.
    One at a time in a workspace: runs share its report file (give each thread its own
    workspace)."""
    report_path = workspace.out_dir / REPORT_NAME
    _remove(report_path)
    paths = [f"{PROJECT_MOUNT}/{p}" for p in workspace.project.python_path] + [package_root()]
    env = {**(env or {}), REPORT_ENV: f"{OUT_MOUNT}/{REPORT_NAME}", "PYTHONPATH": ":".join(paths)}
    result: CommandResult = workspace.run(pytest_argv(workspace, tests, keyword, plugins), timeout=timeout, memory_bytes=memory_bytes, env=env)
    output = result.stdout + result.stderr
    try:
        data = read_report(str(report_path))
    except FileNotFoundError:
        if result.timed_out:
            data = b""
        else:
            tail = "\n".join(output.strip().splitlines()[-15:])
            raise ReportError(f"pytest wrote no test report (exit code {result.exit_code}); its last output:\n{tail}") from None
    where = f"the test report of {workspace.project.name}"
    outcomes, exit_status = parse_report(data, where=where, partial=result.timed_out)
    _remove(report_path)
    return TestReport(outcomes=outcomes, wall_seconds=result.wall_seconds, exit_code=None if result.timed_out else (exit_status if exit_status is not None else result.exit_code), timed_out=result.timed_out, output=output,
                      collection_errors=collection_failures(data, partial=result.timed_out))


def read_report(path: str, max_bytes: int = MAX_REPORT_BYTES, what: str = "the test report") -> bytes:
    """The bytes of a file a sandboxed run wrote (`what`: "the test report"): never through
    a link, never a FIFO or device, at most `max_bytes`."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ReportError(f"{path}: {what} cannot be opened safely: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ReportError(f"{path}: {what} is not a regular file")
        if info.st_size > max_bytes:
            raise ReportError(f"{path}: {what} holds {info.st_size} bytes, more than the {max_bytes} allowed")
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > max_bytes:
                raise ReportError(f"{path}: {what} grew past {max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def parse_report(data: bytes, where: str = "the test report", partial: bool = False) -> tuple[dict[str, str], int | None]:
    """(test id -> outcome, sorted by id; pytest's exit status or None) from the plugin's
    lines. `partial`: the run was killed, so a last line cut short is dropped."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines and partial:
        lines.pop()  # cut off mid-write by the kill
    outcomes: dict[str, str] = {}
    exit_status: int | None = None
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ReportError(f"{where}, line {number}: not JSON ({exc})") from None
        if not isinstance(record, dict):
            raise ReportError(f"{where}, line {number}: expected an object, got {type(record).__name__}")
        if exit_status is not None:
            raise ReportError(f"{where}, line {number}: a line after the exit status")
        if "exitstatus" in record:
            if set(record) != {"exitstatus"} or type(record["exitstatus"]) is not int:
                raise ReportError(f"{where}, line {number}: malformed exit status {record!r:.200}")
            exit_status = record["exitstatus"]
            continue
        nodeid, when, outcome = record.get("nodeid"), record.get("when"), record.get("outcome")
        if type(nodeid) is not str or not nodeid or len(nodeid) > MAX_NODEID_CHARS:
            raise ReportError(f"{where}, line {number}: 'nodeid' must be a non-empty string of at most {MAX_NODEID_CHARS} characters")
        if when not in PHASES:
            raise ReportError(f"{where}, line {number}: 'when' must be one of {PHASES}, got {when!r:.100}")
        if outcome not in ("passed", "failed", "skipped"):
            raise ReportError(f"{where}, line {number}: 'outcome' must be passed, failed or skipped, got {outcome!r:.100}")
        if when == "call":
            found = outcome
        elif outcome == "failed":
            found = "error"  # set-up, tear-down or collection
        elif outcome == "skipped":
            found = "skipped"
        else:
            continue  # a set-up or tear-down that passed says nothing of the test
        previous = outcomes.get(nodeid)
        if previous is None or _RANK[found] > _RANK[previous]:
            outcomes[nodeid] = found
    return dict(sorted(outcomes.items())), exit_status


def collection_failures(data: bytes, partial: bool = False) -> tuple[str, ...]:
    """The ids of the collectors that failed to collect, sorted, from a report that
    `parse_report` has accepted (so every line but a cut-off last one is a checked object)."""
    lines = [line for line in data.split(b"\n") if line]
    if partial and data and not data.endswith(b"\n"):
        lines = lines[:-1]
    failed = set()
    for line in lines:
        record = json.loads(line)
        if record.get("when") == "collect" and record.get("outcome") == "failed":
            failed.add(record["nodeid"])
    return tuple(sorted(failed))


def _remove(path) -> None:
    """Remove what a run left at the report's path: a file, a link, a FIFO, or a folder that
    the tests made there (never followed: rmtree does not follow links)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)
