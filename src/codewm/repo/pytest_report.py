"""A pytest plugin that codewm loads into a project's test run inside the workspace
(`-p codewm.repo.pytest_report`): one JSON line per test phase, written as it ends, to the
file $CODEWM_TEST_REPORT, and a last line with pytest's exit status.

    {"nodeid": "tests/test_a.py::test_x", "when": "call", "outcome": "passed", "duration": 0.01}
    {"nodeid": "tests/test_b.py", "when": "collect", "outcome": "failed", "duration": 0.0}
    {"exitstatus": 1}

Lines are written one `write` each, so a run killed at its wall clock leaves every finished
phase behind. The host reads the file as untrusted input (`codewm.repo.suite`): the tests
may have written anything there.
"""

from __future__ import annotations

import json
import os

REPORT_ENV = "CODEWM_TEST_REPORT"
_fd: int | None = None


def _write(record: dict) -> None:
    if _fd is not None:
        os.write(_fd, (json.dumps(record, sort_keys=True) + "\n").encode())


def pytest_configure(config) -> None:
    global _fd
    path = os.environ.get(REPORT_ENV)
    if path and _fd is None:
        _fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)


def pytest_collectreport(report) -> None:
    if report.failed:
        _write({"nodeid": report.nodeid, "when": "collect", "outcome": "failed", "duration": 0.0})


def pytest_runtest_logreport(report) -> None:
    outcome = report.outcome
    if hasattr(report, "wasxfail"):
        # An expected failure counts as skipped; an unexpected pass as passed (pytest's
        # summary names them xfailed and xpassed).
        outcome = "skipped" if report.skipped else outcome
    _write({"nodeid": report.nodeid, "when": report.when, "outcome": outcome, "duration": round(float(report.duration), 6)})


def pytest_sessionfinish(session, exitstatus) -> None:
    _write({"exitstatus": int(exitstatus)})
