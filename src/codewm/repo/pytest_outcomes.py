"""A pytest plugin (`-p codewm.repo.pytest_outcomes`) that writes how each test ended, as JSON,
to the file named by $CODEWM_PYTEST_OUTCOMES: {"outcomes": {nodeid: outcome}, "collection_errors":
[...]}. Written once at the end of the session; no file means pytest died before it ended."""

from __future__ import annotations

import json
import os

OUTCOMES: dict[str, str] = {}
COLLECTION_ERRORS: list[str] = []


def pytest_collectreport(report):
    if report.failed:
        COLLECTION_ERRORS.append(f"{report.nodeid}: {str(report.longrepr)[-1500:]}")


def pytest_runtest_logreport(report):
    if report.when == "call":
        if hasattr(report, "wasxfail"):
            OUTCOMES[report.nodeid] = "xfailed" if report.skipped else "xpassed"
        else:
            OUTCOMES[report.nodeid] = report.outcome
    elif report.failed:  # setup or teardown broke: the test errored whatever its call did
        OUTCOMES[report.nodeid] = "error"
    elif report.when == "setup" and report.skipped:
        OUTCOMES[report.nodeid] = "skipped"


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("CODEWM_PYTEST_OUTCOMES")
    if path:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump({"outcomes": OUTCOMES, "collection_errors": COLLECTION_ERRORS,
                       "exitstatus": int(exitstatus)}, handle)
